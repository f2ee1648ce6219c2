/* The event loop: listeners, connections, deadlines, signals (SIGTERM drains, SIGHUP reloads). */
#include "net/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_pool.h"
#include "bpf/om_bpf.h"
#include "limits/limits.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "net/conn.h"
#include "net/metrics_http.h"
#include "net/proto.h"
#include "net/tls.h"
#include "store/mailbox.h"
#include "sys/notify.h"

#define SWEEP_MS        250 /* deadline resolution: timeouts are seconds, so a coarse sweep is enough */
#define ACCEPT_PAUSE_MS 500 /* out of file descriptors: how long the listeners rest */

uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct generation *generation_ref(struct generation *g)
{
	g->refs++;
	return g;
}

void generation_unref(struct generation *g)
{
	if (!g || --g->refs > 0)
		return;
	for (size_t i = 0; g->tls && i < g->cfg.nlisteners; i++)
		SSL_CTX_free(g->tls[i]);
	free(g->tls);
	passwd_db_free(g->users);
	config_free(&g->cfg);
	free(g);
}

struct generation *generation_load(const char *path, char *err, size_t errlen)
{
	struct generation *g = calloc(1, sizeof(*g));

	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->refs = 1;
	if (!config_load(path, &g->cfg, err, errlen))
		goto fail;
	for (size_t i = 0; i < g->cfg.nlisteners; i++) {
		if (!proto_for(g->cfg.listeners[i].proto)) {
			snprintf(err, errlen, "%s: listener '%s': protocol %s is not served by this build",
			         path, g->cfg.listeners[i].name,
			         config_proto_name(g->cfg.listeners[i].proto));
			goto fail;
		}
	}
	g->users = passwd_db_load(g->cfg.passwd_file, true, err, errlen);
	if (!g->users)
		goto fail;
	g->tls = calloc(g->cfg.nlisteners ? g->cfg.nlisteners : 1, sizeof(*g->tls));
	if (!g->tls) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < g->cfg.nlisteners; i++) {
		const struct listener_conf *lc = &g->cfg.listeners[i];
		if (lc->tls == TLS_NONE)
			continue;
		g->tls[i] = tls_server_ctx(lc->cert, lc->key, err, errlen);
		if (!g->tls[i])
			goto fail;
	}
	return g;
fail:
	generation_unref(g);
	return NULL;
}

static int bind_one(const union pp_sockaddr *a, char *err, size_t errlen)
{
	int one = 1;
	socklen_t len = a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in);
	char text[INET6_ADDRSTRLEN];
	int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		goto fail;
	/* SO_REUSEPORT: several originmaild processes may share a port; the kernel spreads connections. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (a->sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* Each reply is written whole: Nagle would only hold a second write (a FETCH's next piece, a reply
	 * after a worker's answer) for the peer's delayed ACK. Accepted sockets inherit it from the listener
	 * (Linux copies the TCP socket), so no setsockopt per connection. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, &a->sa, len) != 0 || listen(fd, 1024) != 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "cannot listen on %s port %u: %s", pp_sockaddr_ntop(a, text, sizeof(text)),
	         pp_sockaddr_port(a), strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

bool server_bind(struct server *s, char *err, size_t errlen)
{
	const struct config *cfg = &s->gen->cfg;
	size_t n = 0;

	/* As root, before the privilege drop, and before the sockets exist: they belong to the cgroup they
	 * are made in, and the sock_ops program sees the connections of its cgroup's sockets only. */
	if (!om_bpf_init(&s->bpf, cfg, err, errlen))
		return false;
	s->limits = limits_open(cfg, s->bpf); /* maps the shared table while we may */
	mbox_cache_set_limit(cfg->folder_cache);
	if (!s->limits) {
		snprintf(err, errlen, "out of memory for the origin limits");
		return false;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++)
		n += cfg->listeners[i].naddrs;
	s->listeners = calloc(n ? n : 1, sizeof(*s->listeners));
	if (!s->listeners) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		for (size_t k = 0; k < cfg->listeners[i].naddrs; k++) {
			struct listener *l = &s->listeners[s->nlisteners];
			l->addr = cfg->listeners[i].addrs[k];
			l->conf_index = i;
			if (l->addr.sa.sa_family == AF_UNIX)
				l->fd = listen_unix(&cfg->listeners[i], &l->unix_id, err, errlen);
			else
				l->fd = bind_one(&l->addr, err, errlen);
			if (l->fd < 0)
				return false;
			s->nlisteners++;
		}
	}
	if (cfg->metrics && !(s->metrics = metrics_http_bind(cfg, err, errlen)))
		return false;
	return true;
}

/* A UNIX socket's file goes with it: a front MTA then sees "no such file", not a dead socket. */
static void close_listener(struct listener *l)
{
	if (l->fd < 0)
		return;
	close(l->fd);
	l->fd = -1;
	if (l->addr.sa.sa_family == AF_UNIX)
		listen_unix_remove(l->addr.un.sun_path, &l->unix_id);
}

static bool same_listeners(const struct config *a, const struct config *b)
{
	if (a->nlisteners != b->nlisteners)
		return false;
	for (size_t i = 0; i < a->nlisteners; i++) {
		const struct listener_conf *x = &a->listeners[i], *y = &b->listeners[i];
		if (strcmp(x->name, y->name) || x->naddrs != y->naddrs ||
		    memcmp(x->addrs, y->addrs, x->naddrs * sizeof(*x->addrs)))
			return false;
	}
	/* The metrics socket is bound once, like the listeners. */
	return a->metrics == b->metrics &&
	       (!a->metrics || !memcmp(&a->metrics_addr, &b->metrics_addr, sizeof(a->metrics_addr)));
}

/* SIGHUP: a new generation for new connections; live sessions keep theirs until they end. */
static void reload_generation(struct server *s)
{
	char err[512];
	struct generation *g = generation_load(s->gen->cfg.path, err, sizeof(err));

	if (!g) {
		log_err("Reload failed, keeping the running configuration: %s", err);
		return;
	}
	if (!same_listeners(&s->gen->cfg, &g->cfg)) {
		log_err("Reload refused: listeners (names or addresses) or the metrics address changed; "
		        "restart "
		        "to apply");
		generation_unref(g);
		return;
	}
	generation_unref(s->gen);
	s->gen = g;
	if (s->bpf && !om_bpf_load_policy(s->bpf, &g->cfg, err, sizeof(err)))
		log_err("BPF policy maps not reloaded: %s", err);
	limits_configure(s->limits, &g->cfg);
	mbox_cache_set_limit(g->cfg.folder_cache);
	log_info("Reloaded %s: %zu listeners, %zu users, %u connections keep their old settings", g->cfg.path,
	         g->cfg.nlisteners, passwd_db_count(g->users), s->nconns);
}

/* systemd waits for READY=1 after RELOADING=1, also when the reload failed (the old one runs on). */
static void reload(struct server *s)
{
	notify_reloading();
	reload_generation(s);
	notify_ready();
}

/* STATUS= for systemctl status: sent when it changes, at most once a second. */
static void report_status(const struct server *s, bool force)
{
	notify_status(s->nlisteners, s->bpf != NULL, s->nconns, now_ms(), 1000, force);
}

static void start_drain(struct server *s)
{
	if (s->draining)
		return;
	s->draining = true;
	notify_stopping();
	s->drain_deadline_ms = now_ms() + s->gen->cfg.shutdown_grace_ms;
	for (size_t i = 0; i < s->nlisteners; i++) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listeners[i].fd, NULL);
		close_listener(&s->listeners[i]);
	}
	log_info("Shutting down: %u connections draining (at most %u ms)", s->nconns,
	         s->gen->cfg.shutdown_grace_ms);
	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		conn_on_drain(c);
	}
}

/* Only note the signals here: acting on them may close connections that have events waiting later
 * in the same epoll batch. */
static void on_signal(struct server *s, bool *want_reload, bool *want_drain)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			*want_reload = true;
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			*want_drain = true;
	}
}

/* Listeners in epoll or out of it: out while no file descriptor is left, so that a full table does not
 * turn the loop into a busy loop of failed accepts (the pending connections wait in the backlog). */
static void watch_listeners(struct server *s, bool on)
{
	for (size_t i = 0; i < s->nlisteners; i++) {
		struct epoll_event lev = {.events = on ? EPOLLIN : 0, .data.ptr = &s->listeners[i]};
		epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listeners[i].fd, &lev);
	}
}

static void on_accept(struct server *s, struct listener *l)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("accept: %s (%u connections): not accepting for %d ms",
				         strerror(errno), s->nconns, ACCEPT_PAUSE_MS);
				s->accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
				watch_listeners(s, false);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				log_warn("accept: %s", strerror(errno));
			}
			return;
		}
		conn_accept(s, l, fd);
	}
}

static void sweep(struct server *s)
{
	uint64_t now = now_ms();

	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (c->deadline_ms && now >= c->deadline_ms)
			conn_on_timeout(c);
	}
}

/* Before a scrape: the gauges that are read, not counted. */
static void refresh_gauges(void *arg)
{
	const struct server *s = arg;

	metrics_set(M_CONNECTIONS_OPEN, s->nconns);
	om_bpf_report_metrics(s->bpf);
	/* The store keeps plain totals (it knows nothing of metrics): what is new since the last scrape. */
	static struct mbox_cache_stats last;
	struct mbox_cache_stats now;
	mbox_cache_stats(&now);
	metrics_set(M_FOLDER_CACHE_MESSAGES, (double)now.held);
	metrics_add(M_FOLDER_OPENS, now.hits - last.hits, "cached");
	metrics_add(M_FOLDER_OPENS, now.misses - last.misses, "scanned");
	last = now;
}

/* Tags distinguishing the loop's own fds from connections in epoll data. */
static char signal_tag, bpf_tag, auth_tag;

int server_run(struct server *s)
{
	sigset_t set;
	struct epoll_event ev[64];
	uint64_t next_sweep = now_ms() + SWEEP_MS;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->epfd < 0 || s->sigfd < 0) {
		log_err("event loop: %s", strerror(errno));
		return 1;
	}
	struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &signal_tag};
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sigfd, &sev);
	for (size_t i = 0; i < s->nlisteners; i++) {
		struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &s->listeners[i]};
		epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listeners[i].fd, &lev);
	}
	if (s->metrics && !metrics_http_start(s->metrics, s->epfd, refresh_gauges, s)) {
		log_err("metrics endpoint: %s", strerror(errno));
		return 1;
	}
	if (auth_pool_current()) {
		struct epoll_event aev = {.events = EPOLLIN, .data.ptr = &auth_tag};
		epoll_ctl(s->epfd, EPOLL_CTL_ADD, auth_pool_fd(auth_pool_current()), &aev);
	}
	if (s->bpf) {
		struct epoll_event bev = {.events = EPOLLIN, .data.ptr = &bpf_tag};
		epoll_ctl(s->epfd, EPOLL_CTL_ADD, om_bpf_event_fd(s->bpf), &bev);
	}
	log_info("originmaild ready: %zu listening sockets, %zu users", s->nlisteners,
	         passwd_db_count(s->gen->users));
	/* Listeners bound, BPF attached, privileges dropped, relay worker started. */
	report_status(s, true);
	notify_ready();

	while (!s->draining || (s->nconns > 0 && now_ms() < s->drain_deadline_ms)) {
		int n = epoll_wait(s->epfd, ev, 64, SWEEP_MS);
		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			return 1;
		}
		bool want_reload = false, want_drain = false, auth_done = false;
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;
			if (p == &signal_tag)
				on_signal(s, &want_reload, &want_drain);
			else if (p == &bpf_tag)
				om_bpf_poll(s->bpf);
			else if (p == &auth_tag)
				auth_done = true; /* after this batch: a callback may close a connection with
				                     events in it */
			else if (p >= (void *)s->listeners && p < (void *)(s->listeners + s->nlisteners))
				on_accept(s, p);
			else if (metrics_http_owns(s->metrics, p))
				metrics_http_on_events(s->metrics, p, ev[i].events);
			else
				conn_on_events(p, ev[i].events);
		}
		if (auth_done)
			auth_pool_dispatch(auth_pool_current());
		if (want_reload)
			reload(s);
		if (want_drain)
			start_drain(s);
		if (now_ms() >= next_sweep) {
			if (s->bpf) /* open and close events do not wake us (originmail.bpf.c) */
				om_bpf_poll(s->bpf);
			sweep(s);
			metrics_http_sweep(s->metrics, now_ms());
			next_sweep = now_ms() + SWEEP_MS;
		}
		if (s->accept_paused_until && now_ms() >= s->accept_paused_until && !s->draining) {
			s->accept_paused_until = 0;
			watch_listeners(s, true);
		}
		if (!s->draining)
			report_status(s, false);
	}
	if (s->nconns)
		log_warn("Shutdown grace period over: closing %u connections", s->nconns);
	while (s->conns)
		conn_close(s->conns, "server shutting down");
	if (s->bpf)
		om_bpf_poll(s->bpf);
	log_info("originmaild stopped");
	return 0;
}

void server_close(struct server *s)
{
	for (size_t i = 0; i < s->nlisteners; i++) /* a child (the relay worker) closed its copies first */
		close_listener(&s->listeners[i]);
	free(s->listeners);
	metrics_http_close(s->metrics);
	s->metrics = NULL;
	if (s->epfd > 0)
		close(s->epfd);
	if (s->sigfd > 0)
		close(s->sigfd);
	limits_close(s->limits);
	s->limits = NULL;
	auth_pool_stop(auth_pool_current()); /* after the connections, which may hold jobs */
	om_bpf_stop(s->bpf);
	s->bpf = NULL;
	generation_unref(s->gen);
}
