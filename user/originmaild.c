/* originmaild: read the configuration, bind, drop privileges, start the relay worker, serve until
 * SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/auth_pool.h"
#include "log/log.h"
#include "net/metrics_http.h"
#include "net/server.h"
#include "originmail/version.h"
#include "relay/relay.h"
#include "sandbox/seccomp.h"
#include "store/maildir.h"
#include "sys/notify.h"

#define DEFAULT_CONFIG "/etc/originmail/originmail.conf"
#define NOFILE_SPARE   256 /* descriptors besides the connections' */

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

/* The relay queue must share a file system with the Maildirs when relaying is on: a message with local
 * and relayed recipients is stored once and hard-linked into both. */
static bool same_file_system(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev;
}

/* The relay worker (user/relay/): a child, unprivileged like us, without our listening sockets. */
static pid_t start_relay_worker(struct server *srv)
{
	pid_t parent = getpid(), pid = fork();

	if (pid != 0) {
		if (pid < 0)
			log_err("cannot start the relay worker: %s", strerror(errno));
		return pid;
	}
	for (size_t i = 0; i < srv->nlisteners; i++) {
		if (srv->listeners[i].fd >= 0)
			close(srv->listeners[i].fd);
		srv->listeners[i].fd = -1;
	}
	notify_close();                   /* the parent speaks to systemd */
	metrics_http_close(srv->metrics); /* the parent answers scrapes; the port must go with it */
	srv->metrics = NULL;
	char err[256];
	if (srv->gen->cfg.seccomp && !sandbox_seccomp(err, sizeof(err))) {
		log_err("relay worker: %s", err);
		exit(71);
	}
	int rc = relay_worker_run(&srv->gen->cfg, srv->gen->users, parent);
	server_close(srv);
	exit(rc);
}

/* After the drain: SIGTERM lets the worker finish the message in progress; it gets the grace period,
 * and 5 s more, before SIGKILL (a message cut short stays queued and is sent again later). */
static void stop_relay_worker(pid_t pid, unsigned grace_ms)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (unsigned waited = 0; waited < grace_ms + 5000; waited += 20) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return;
		usleep(20 * 1000);
	}
	log_warn("relay worker did not stop in time: killing it");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

/* max_connections sockets need as many descriptors, and some more for listeners, Maildir files, logs and
 * the BPF maps: raise RLIMIT_NOFILE to that (the hard limit too while we are root, up to the kernel's
 * nr_open), or say what the limit holds. */
static void raise_nofile(unsigned max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections + NOFILE_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	struct rlimit up = {.rlim_cur = want, .rlim_max = rl.rlim_max > want ? rl.rlim_max : want};
	if (setrlimit(RLIMIT_NOFILE, &up) == 0)
		return;
	up.rlim_cur = up.rlim_max = rl.rlim_max; /* not root: as far as the hard limit goes */
	if (setrlimit(RLIMIT_NOFILE, &up) != 0)
		up.rlim_cur = rl.rlim_cur;
	log_warn("max_connections = %u but only %llu file descriptors are allowed (RLIMIT_NOFILE): "
	         "connections "
	         "beyond them wait in the backlog",
	         max_connections, (unsigned long long)up.rlim_cur);
}

/* What a crash left in tmp/ of the Maildirs (docs/configuration.md, tmp_max_age): once, before serving,
 * as the service user. A delivery a sibling instance is writing right now is kept. */
static void sweep_maildirs(const struct config *cfg)
{
	unsigned maildirs = 0;
	int n = maildir_sweep(cfg->mail_root, cfg->tmp_max_age_ms / 1000, &maildirs);

	if (n > 0)
		log_info("Removed %d crash leftover%s from tmp/ (%u Maildirs looked at)", n,
		         n == 1 ? "" : "s", maildirs);
	else
		log_debug("No crash leftovers in tmp/ (%u Maildirs looked at)", maildirs);
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
	notify_open(); /* before any privilege drop or filter: later sends are a sendto() */
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
	if (!prepare_mail_root(srv.gen->cfg.queue_dir, pw)) {
		log_err("queue_dir %s: %s", srv.gen->cfg.queue_dir, strerror(errno));
		return 73;
	}
	if (*srv.gen->cfg.relay_host && !same_file_system(srv.gen->cfg.queue_dir, srv.gen->cfg.mail_root)) {
		log_err("queue_dir %s and mail_root %s must be on the same file system",
		        srv.gen->cfg.queue_dir, srv.gen->cfg.mail_root);
		return 78;
	}
	raise_nofile(srv.gen->cfg.max_connections);
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
	sweep_maildirs(&srv.gen->cfg);
	pid_t worker = start_relay_worker(&srv);
	if (srv.gen->cfg.auth_workers) { /* after the fork: the relay worker needs no threads */
		struct auth_pool *pool = auth_pool_start(srv.gen->cfg.auth_workers, err, sizeof(err));
		if (!pool) {
			log_err("%s", err);
			stop_relay_worker(worker, 0);
			server_close(&srv);
			return 71;
		}
		auth_pool_set_current(pool);
	}
	if (srv.gen->cfg.seccomp) { /* after the fork: neither process may fork or exec from now on */
		if (!sandbox_seccomp(err, sizeof(err))) {
			log_err("%s", err);
			stop_relay_worker(worker, 0);
			server_close(&srv);
			return 71;
		}
		log_info("seccomp filter on: a system call outside the allow-list kills the process");
	}
	int rc = server_run(&srv);
	stop_relay_worker(worker, srv.gen->cfg.shutdown_grace_ms);
	server_close(&srv);
	return rc;
}
