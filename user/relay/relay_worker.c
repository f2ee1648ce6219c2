/* The relay worker: a child of originmaild, unprivileged, one message at a time. Every second it looks
 * for queue entries that are due and delivers them (relay_deliver.c). It stops on SIGTERM or SIGINT
 * after the message in progress, and when originmaild is gone (PR_SET_PDEATHSIG, and getppid). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"
#include "relay/relay_client.h"
#include "relay/relay_worker.h"

#define SCAN_MS        1000         /* how soon a new message leaves */
#define CLEAN_EVERY_S  3600         /* how often entries left by a crash are looked for */
#define INCOMPLETE_AGE (24 * 3600u) /* an entry never committed is removed after this */

static volatile sig_atomic_t stop_req, hup_req;

static void on_stop(int sig)
{
	(void)sig;
	stop_req = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	hup_req = 1;
}

/* Enough of a file's identity to notice that it was replaced or changed. */
struct stamp {
	bool ok;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static struct stamp stamp_of(const char *path)
{
	struct stamp s = {0};
	struct stat st;

	if (path && stat(path, &st) == 0)
		s = (struct stamp){true, st.st_dev, st.st_ino, st.st_size, st.st_mtim};
	return s;
}

static bool same_stamp(const struct stamp *a, const struct stamp *b)
{
	return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

struct wstate {
	struct relay_worker w;
	char path[4096];   /* the configuration file */
	struct config own; /* a configuration the worker loaded itself (have_own) */
	bool have_own;
	struct passwd_db *own_users;
	struct stamp conf_st, users_st;
};

static void make_tls(struct relay_worker *w)
{
	if (w->tls)
		SSL_CTX_free(w->tls);
	w->tls = relay_tls_ctx(w->cfg->relay_ca, w->cfg->relay_tls == RELAY_TLS_REQUIRED, w->tls_err,
	                       sizeof(w->tls_err));
	if (!w->tls)
		log_err("relay: %s", w->tls_err);
}

/* The configuration file and the passwd-file again, when either changed (or on SIGHUP). */
static void maybe_reload(struct wstate *s, bool forced)
{
	struct stamp cs = stamp_of(s->path), us = stamp_of(s->w.cfg->passwd_file);
	struct config nc;
	char err[1024];

	if (!s->path[0] || (!forced && same_stamp(&cs, &s->conf_st) && same_stamp(&us, &s->users_st)))
		return;
	s->conf_st = cs;
	s->users_st = us;
	if (!config_load(s->path, &nc, err, sizeof(err))) {
		log_err("relay: reload failed, keeping the running configuration: %s", err);
		return;
	}
	struct passwd_db *nu = passwd_db_load(nc.passwd_file, true, err, sizeof(err));
	if (!nu) {
		log_err("relay: reload failed, keeping the running configuration: %s", err);
		config_free(&nc);
		return;
	}
	if (s->have_own)
		config_free(&s->own);
	passwd_db_free(s->own_users);
	s->own = nc;
	s->have_own = true;
	s->own_users = nu;
	s->w.cfg = &s->own;
	s->w.users = nu;
	s->users_st = stamp_of(s->own.passwd_file);
	make_tls(&s->w);
	log_info("relay: configuration reloaded (relay_host %s)",
	         *s->own.relay_host ? s->own.relay_host : "none");
}

static void run_queue(struct wstate *s)
{
	const char *qdir = s->w.cfg->queue_dir;
	size_t n = 0;
	char **ids = relay_queue_list(qdir, &n);

	for (size_t i = 0; i < n && !stop_req; i++) {
		struct relay_entry en;
		char err[512] = "";
		switch (relay_entry_open(qdir, ids[i], &en, err, sizeof(err))) {
		case RELAY_OPEN_OK:
			if (en.env.next <= (long long)time(NULL))
				relay_deliver(&s->w, &en);
			relay_entry_close(&en);
			break;
		case RELAY_OPEN_ERROR:
			log_err("relay: %s: %s; %s", ids[i], err,
			        relay_entry_set_aside(qdir, ids[i]) ? "set aside as ID.broken"
			                                            : "cannot set it aside");
			break;
		case RELAY_OPEN_BUSY:
		case RELAY_OPEN_INCOMPLETE:
			break;
		}
	}
	relay_queue_list_free(ids, n);
}

static void signals(void)
{
	struct sigaction sa = {0};
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop; /* no SA_RESTART: the pause between scans ends at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int relay_worker_run(const struct config *cfg, const struct passwd_db *users, pid_t parent)
{
	static struct wstate s; /* large (a path buffer); one per process */
	time_t next_clean = 0;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signals();
	if (getppid() != parent)
		return 0; /* the parent died before the prctl */
	s.w.cfg = cfg;
	s.w.users = users;
	snprintf(s.path, sizeof(s.path), "%s", cfg->path ? cfg->path : "");
	s.conf_st = stamp_of(s.path);
	s.users_st = stamp_of(cfg->passwd_file);
	make_tls(&s.w);
	log_info("relay: worker started (queue %s, relay_host %s, relay_tls %s)", cfg->queue_dir,
	         *cfg->relay_host ? cfg->relay_host : "none",
	         cfg->relay_tls == RELAY_TLS_REQUIRED ? "required" : "opportunistic");
	while (!stop_req && getppid() == parent) {
		bool forced = hup_req;
		hup_req = 0;
		maybe_reload(&s, forced);
		time_t now = time(NULL);
		if (now >= next_clean) {
			int n = relay_queue_clean(s.w.cfg->queue_dir, INCOMPLETE_AGE);
			if (n > 0)
				log_info("relay: removed %d incomplete queue entr%s", n,
				         n == 1 ? "y" : "ies");
			next_clean = now + CLEAN_EVERY_S;
		}
		run_queue(&s);
		struct timespec pause = {SCAN_MS / 1000, (SCAN_MS % 1000) * 1000000L};
		if (!stop_req)
			nanosleep(&pause, NULL); /* a signal ends it early */
	}
	log_info("relay: worker stopped");
	if (s.w.tls)
		SSL_CTX_free(s.w.tls);
	if (s.have_own)
		config_free(&s.own);
	passwd_db_free(s.own_users);
	return 0;
}
