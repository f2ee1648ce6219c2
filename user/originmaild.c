/* originmaild: read the configuration, bind, drop privileges, serve until SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log.h"
#include "net/server.h"
#include "originmail/version.h"
#include "store/maildir.h"

#define DEFAULT_CONFIG "/etc/originmail/originmail.conf"

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: originmaild [-c CONFIG] [-t] [-d] [--version]\n"
	           "  -c CONFIG  configuration file (default " DEFAULT_CONFIG ")\n"
	           "  -t         check the configuration and exit\n"
	           "  -d         debug log lines too\n");
	return rc;
}

/* mkdir -p for the mail root, handed to the service user so it can create Maildirs after the drop. */
static bool prepare_mail_root(const char *root, const struct passwd *pw)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s", root);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return false;
		*p = '/';
	}
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		return false;
	if (pw && stat(path, &st) == 0 && st.st_uid == 0 && chown(path, pw->pw_uid, pw->pw_gid) != 0)
		return false;
	return true;
}

static bool drop_privileges(const struct passwd *pw)
{
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
		return false;
	return setuid(0) != 0; /* must not be able to get root back */
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"version", no_argument, NULL, 'V'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *path = DEFAULT_CONFIG;
	bool check_only = false;
	char err[1024];
	int c;

	while ((c = getopt_long(argc, argv, "c:tdh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check_only = true;
			break;
		case 'd':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'V':
			printf("originmaild %s\n", ORIGINMAIL_VERSION);
			return 0;
		case 'h':
			return usage(stdout, 0);
		default:
			return usage(stderr, 64);
		}
	}
	if (optind != argc)
		return usage(stderr, 64);

	struct server srv = {.epfd = -1, .sigfd = -1};
	srv.gen = generation_load(path, err, sizeof(err));
	if (!srv.gen) {
		fprintf(stderr, "originmaild: %s\n", err);
		return 78; /* EX_CONFIG */
	}
	if (check_only) {
		printf("%s: configuration OK (%zu listeners)\n", path, srv.gen->cfg.nlisteners);
		generation_unref(srv.gen);
		return 0;
	}
	if (!log_open(srv.gen->cfg.log, "originmaild")) {
		fprintf(stderr, "originmaild: log must be stderr, syslog or both\n");
		return 78;
	}
	const char *user = srv.gen->cfg.run_as;
	struct passwd *pw = NULL;
	if (user && *user && getuid() == 0) {
		pw = getpwnam(user);
		if (!pw) {
			log_err("user '%s' (the 'user' key) does not exist", user);
			return 78;
		}
	}
	if (!prepare_mail_root(srv.gen->cfg.mail_root, pw)) {
		log_err("mail_root %s: %s", srv.gen->cfg.mail_root, strerror(errno));
		return 73; /* EX_CANTCREAT */
	}
	if (!server_bind(&srv, err, sizeof(err))) {
		log_err("%s", err);
		server_close(&srv);
		return 71; /* EX_OSERR */
	}
	if (pw) {
		if (!drop_privileges(pw)) {
			log_err("cannot drop privileges to %s: %s", user, strerror(errno));
			server_close(&srv);
			return 71;
		}
		log_info("Running as %s (uid %u)", user, (unsigned)pw->pw_uid);
	}
	int rc = server_run(&srv);
	server_close(&srv);
	return rc;
}
