/* libFuzzer target for the configuration parser (user/conf/): the input is a configuration file.
 * Seeds: tests/corpus/conf/ (the example configuration, the integration tests' and topology's, and one
 * small file per error message of docs/configuration.md).
 *
 * Text without NUL goes through config_parse as if read from /etc/originmail/fuzz.conf (so relative
 * paths are resolved); text with a NUL byte goes through config_load from a file, which must refuse it.
 * Checked for every input, besides ASan/UBSan:
 *  - an error is one non-empty line starting with the file's name;
 *  - an accepted configuration keeps the rules docs/configuration.md states: a hostname, at least one
 *    listener, each with a name, addresses, a known protocol, a certificate and key when it has TLS, not
 *    every peer refused; no address twice; limits inside their documented ranges; absolute paths;
 *    queue_dir outside mail_root;
 *  - parsing the same text twice gives the same answer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/config_internal.h"
#include "fuzz_env.h"

#define NAME "/etc/originmail/fuzz.conf"

static void check_error(const char *err, const char *name)
{
	FZ_CHECK(err[0] != '\0', "a refused configuration has a message");
	FZ_CHECK(strchr(err, '\n') == NULL, "the message is one line");
	FZ_CHECK(strncmp(err, name, strlen(name)) == 0, "the message starts with the file's name");
}

static bool same_addr(const union pp_sockaddr *a, const union pp_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port && a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return a->in6.sin6_port == b->in6.sin6_port &&
	       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr)) == 0;
}

static void check_config(const struct config *c)
{
	FZ_CHECK(c->hostname && conf_valid_hostname(c->hostname, strlen(c->hostname)), "a valid hostname");
	FZ_CHECK(c->ndomains >= 1, "at least one local domain");
	FZ_CHECK(c->mail_root && c->mail_root[0] == '/', "mail_root is absolute");
	FZ_CHECK(c->passwd_file && c->passwd_file[0] == '/', "passwd_file is absolute");
	FZ_CHECK(c->queue_dir && c->queue_dir[0] == '/', "queue_dir is absolute");
	FZ_CHECK(!conf_path_within(c->queue_dir, c->mail_root), "queue_dir is not inside mail_root");
	FZ_CHECK(c->max_line >= 512 && c->max_line <= 1024 * 1024, "max_line in 512..1M");
	FZ_CHECK(c->max_message_size >= 1024, "max_message_size at least 1K");
	FZ_CHECK(c->max_recipients >= 1 && c->max_connections >= 1, "limits at least 1");
	FZ_CHECK(c->command_timeout_ms > 0 && c->data_timeout_ms > 0, "timeouts above 0");
	FZ_CHECK(c->nlisteners >= 1, "at least one listener");
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct listener_conf *l = &c->listeners[i];
		FZ_CHECK(l->name && l->name[0], "a listener has a name");
		FZ_CHECK(l->naddrs >= 1, "a listener has an address");
		FZ_CHECK(l->proto == PROTO_SMTP || l->proto == PROTO_SUBMISSION || l->proto == PROTO_IMAP ||
		                 l->proto == PROTO_POP3 || l->proto == PROTO_LMTP,
		         "a known protocol");
		FZ_CHECK(l->tls == TLS_NONE || (l->cert && l->key), "TLS has a certificate and a key");
		FZ_CHECK(l->proxy != PROXY_REQUIRED || l->trusted.n || l->direct.n,
		         "proxy = required lets someone in");
		FZ_CHECK(l->proxy_timeout_ms > 0, "proxy_timeout above 0");
		FZ_CHECK(l->proxy_max_header >= 16 && l->proxy_max_header <= 65551,
		         "proxy_max_header in range");
		FZ_CHECK(l->proxy_versions != 0, "some PROXY version accepted");
		for (size_t k = 0; k < l->naddrs; k++) {
			FZ_CHECK(l->addrs[k].sa.sa_family == AF_INET || l->addrs[k].sa.sa_family == AF_INET6,
			         "an IP listening address");
			for (size_t j = 0; j <= i; j++)
				for (size_t m = 0; m < (j == i ? k : c->listeners[j].naddrs); m++)
					FZ_CHECK(!same_addr(&l->addrs[k], &c->listeners[j].addrs[m]),
					         "no address listed twice");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512] = "", err2[512] = "";
	struct config c, c2;
	char *text;

	if (memchr(data, '\0', size)) {
		char path[300];
		snprintf(path, sizeof(path), "%s/fuzz.conf", fz_scratch("conf"));
		FILE *f = fopen(path, "w");
		FZ_CHECK(f != NULL, "create the scratch file");
		FZ_CHECK(fwrite(data, 1, size, f) == size && fclose(f) == 0, "write the scratch file");
		FZ_CHECK(!config_load(path, &c, err, sizeof(err)), "a file with a NUL byte is refused");
		check_error(err, path);
		return 0;
	}
	text = malloc(size + 1);
	FZ_CHECK(text != NULL, "malloc");
	memcpy(text, data, size);
	text[size] = '\0';

	bool ok = config_parse(text, NAME, &c, err, sizeof(err));
	bool ok2 = config_parse(text, NAME, &c2, err2, sizeof(err2));
	FZ_CHECK(ok == ok2 && strcmp(err, err2) == 0, "the same text, the same answer");
	if (ok) {
		check_config(&c);
		FZ_CHECK(c.nlisteners == c2.nlisteners && !strcmp(c.hostname, c2.hostname),
		         "the same result");
		config_free(&c);
		config_free(&c2);
	} else {
		check_error(err, NAME);
	}

	/* The value parsers on their own, over the first line. */
	char *nl = strchr(text, '\n');
	if (nl)
		*nl = '\0';
	unsigned ms;
	size_t bytes;
	if (config_parse_duration(text, &ms))
		FZ_CHECK(text[0] >= '0' && text[0] <= '9', "a duration starts with a digit");
	if (config_parse_size(text, &bytes))
		FZ_CHECK(text[0] >= '0' && text[0] <= '9', "a size starts with a digit");
	free(text);
	return 0;
}
