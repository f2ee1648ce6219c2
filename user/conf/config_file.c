/* Reading the configuration file, and freeing what it became. The parsing is in config.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "conf/config_internal.h"

#define CONFIG_MAX_FILE (1024 * 1024)

__attribute__((format(printf, 3, 4))) static void load_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The whole file, NUL-terminated, in *out (*len bytes before the NUL). */
static bool read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t cap = 4096, n = 0, got;
	char *buf;

	if (!f) {
		load_fail(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	if (!(buf = malloc(cap)))
		goto nomem;
	while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (n > CONFIG_MAX_FILE) {
			fclose(f);
			free(buf);
			load_fail(err, errlen, "%s: larger than 1 MiB: not a configuration file", path);
			return false;
		}
		if (n + 1 == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				goto nomem;
			buf = nb;
			cap *= 2;
		}
	}
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		free(buf);
		load_fail(err, errlen, "%s: %s", path, strerror(e));
		return false;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return true;
nomem:
	fclose(f);
	free(buf);
	load_fail(err, errlen, "%s: out of memory", path);
	return false;
}

/* path made absolute against the current directory, so that SIGHUP after a chdir finds the same file. */
static char *absolute(const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	while (path[0] == '.' && path[1] == '/') {
		path += 2;
		while (*path == '/')
			path++;
	}
	char *cwd = getcwd(NULL, 0), *abs = NULL;
	if (cwd && asprintf(&abs, "%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/", path) < 0)
		abs = NULL;
	free(cwd);
	return abs;
}

bool config_load(const char *path, struct config *out, char *err, size_t errlen)
{
	char *text = NULL, *abs;
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	if (!path || !*path) {
		load_fail(err, errlen, "no configuration file given");
		return false;
	}
	if (!read_file(path, &text, &len, err, errlen))
		return false;

	const char *nul = memchr(text, '\0', len);
	if (nul) {
		unsigned line = 1;
		for (const char *q = text; q < nul; q++)
			line += *q == '\n';
		free(text);
		load_fail(err, errlen, "%s:%u: NUL byte in the file", path, line);
		return false;
	}
	if (!(abs = absolute(path))) {
		free(text);
		load_fail(err, errlen, "%s: %s", path, strerror(errno ? errno : ENOMEM));
		return false;
	}
	bool ok = conf_parse_text(text, path, abs, out, err, errlen);
	free(abs);
	free(text);
	return ok;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->hostname);
	for (size_t i = 0; i < c->ndomains; i++)
		free(c->domains[i]);
	free(c->domains);
	free(c->mail_root);
	free(c->passwd_file);
	free(c->run_as);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->relay_host);
	free(c->queue_dir);
	free(c->relay_ca);
	free(c->log);
	free(c->bpf_cgroup);
	free(c->bpf_pin_dir);
	cidr_set_free(&c->origin_exempt);
	for (size_t i = 0; i < c->nlisteners; i++) {
		struct listener_conf *lc = &c->listeners[i];
		free(lc->name);
		free(lc->addrs);
		free(lc->cert);
		free(lc->key);
		free(lc->socket_owner);
		free(lc->socket_group);
		cidr_set_free(&lc->trusted);
		cidr_set_free(&lc->direct);
	}
	free(c->listeners);
	memset(c, 0, sizeof(*c));
}
