/* Connection lifecycle: accept -> peer policy -> PROXY header -> TLS -> protocol session -> close, or with
 * proxy_order = inside-tls: accept -> peer policy -> TLS -> PROXY header (read from the TLS session) ->
 * protocol session -> close. advance() picks the next stage. Sessions see bytes only; this file moves them
 * between the socket (or OpenSSL) and the session. */
#include "net/conn.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bpf/bpf_keys.h"
#include "bpf/om_bpf.h"
#include "limits/limits.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "net/tls.h"

#define READ_CHUNK      16384
#define CLOSE_LINGER_MS 5000 /* how long a last reply may take to leave before a hard close */

static char rbuf[READ_CHUNK + 1]; /* one process, one thread: a shared read buffer */

static void start_session(struct conn *c);
static void on_wake(void *arg);
static void advance(struct conn *c);
static bool flush(struct conn *c);
static bool deliver_input(struct conn *c, const char *data, size_t len);

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool on_readable(struct conn *c);

/* Output waiting for a slow reader beyond which we stop reading its commands (output_buffer). */
static size_t out_cap(const struct conn *c)
{
	return c->gen->cfg.output_buffer ? c->gen->cfg.output_buffer : (size_t)1 << 20;
}

/* The session writes a response in pieces (proto.h): read nothing more until it is done. */
static bool busy(const struct conn *c)
{
	return c->state == CONN_ACTIVE && c->proto->busy && c->proto->busy(c->session);
}

static const char *client(const struct conn *c)
{
	return c->origin.client_ip;
}

static void watch(struct conn *c, unsigned events)
{
	if (c->events == events)
		return;
	struct epoll_event ev = {.events = events, .data.ptr = c};
	if (epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = events;
}

/* With a polled session (proto.h), deadline_ms is the next poll and expire_ms the real deadline. */
static void set_deadline(struct conn *c, unsigned ms)
{
	c->deadline_ms = c->expire_ms = now_ms() + ms;
	if (c->state == CONN_ACTIVE && c->proto->poll && ms > PROTO_POLL_MS)
		c->deadline_ms = now_ms() + PROTO_POLL_MS;
}

void conn_close(struct conn *c, const char *why)
{
	struct server *s = c->srv;

	/* One line per connection however it ends: the operator's record of its length and traffic. */
	log_msg(c->quiet ? LOG_LVL_DEBUG : LOG_LVL_INFO,
	        "Connection from %s closed after %llu ms, %llu bytes in, %llu out%s%s", client(c),
	        (unsigned long long)(now_ms() - c->started_ms), (unsigned long long)c->bytes_in,
	        (unsigned long long)c->bytes_out, why ? ": " : "", why ? why : "");
	if (c->proto && c->session)
		c->proto->destroy(c->session); /* a message in progress is discarded, never half-delivered */
	limits_release(s->limits, &c->limit);
	if (c->ssl) {
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	if (c->pp) {
		pp_decoder_free(c->pp);
		free(c->pp);
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	obuf_free(&c->out);
	free(c->in);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	generation_unref(c->gen);
	free(c);
}

/* Queue the one-line refusal, flush it, close. The reason is what the peer and the log see; the log
 * names the original client once a PROXY header has named it. */
static void refuse(struct conn *c, const char *reason)
{
	if (c->origin.via_proxy)
		log_warn("Refused connection from %s via %s on %s: %s", c->origin.client_ip,
		         c->origin.peer_ip, c->lc->name, reason);
	else
		log_warn("Refused connection from %s on %s: %s", c->origin.peer_ip, c->lc->name, reason);
	char line[256];
	snprintf(line, sizeof(line), "%s %s", c->gen->cfg.hostname, reason);
	obuf_printf(&c->out, "%s %s\r\n", c->proto->refusal_prefix, line);
	if (c->verdict == VERDICT_DENIED)
		om_bpf_test_oversend(&c->out); /* test-only: sk_msg must stop it */
	c->state = CONN_CLOSING;
	set_deadline(c, CLOSE_LINGER_MS);
	flush(c);
}

void conn_accept(struct server *s, const struct listener *l, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	socklen_t len;

	if (!c) {
		close(fd);
		return;
	}
	c->srv = s;
	c->gen = generation_ref(s->gen);
	c->lc = &c->gen->cfg.listeners[l->conf_index];
	c->proto = proto_for(c->lc->proto);
	c->fd = fd;
	c->id = ++s->conn_seq;
	c->started_ms = now_ms();
	c->accepted_ns = mono_ns();
	/* With BPF, the getsockopt for the cookie brings the kernel's entry too (om_getsockopt), and with it
	 * both addresses: the entry is there only while the connection is, so it was not reset either. */
	struct om_conn entry;
	bool have_entry = om_bpf_accepted(fd, &c->origin.cookie, &entry), gone = false;
	if (!have_entry || !om_conn_sockaddrs(&entry, &c->origin.peer, &c->origin.local)) {
		len = sizeof(c->origin.peer);
		gone = getpeername(fd, &c->origin.peer.sa, &len) != 0; /* reset before we got to it */
		len = sizeof(c->origin.local);
		getsockname(fd, &c->origin.local.sa, &len);
	}
	c->origin.client = c->origin.peer;
	c->origin.dst = c->origin.local;
	if (c->origin.local.sa.sa_family == AF_UNIX) { /* a local process: its uid says who */
		struct ucred cred = {0};
		len = sizeof(cred);
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
		c->origin.unix_peer = true;
		c->origin.unix_uid = cred.uid;
	}
	origin_update_text(&c->origin);

	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		conn_close(c, "epoll registration failed");
		return;
	}
	c->events = EPOLLIN;
	if (gone) { /* a health check that connected and left: nothing to say */
		c->quiet = true;
		conn_close(c, "reset before accepted");
		return;
	}

	/* Behind a proxy the refusal waits for the header, so that the log names the client (admit()). */
	c->over_capacity = s->nconns > c->gen->cfg.max_connections;
	c->verdict = policy_classify(c->lc, &c->origin.peer.sa);
	if (s->bpf) /* the kernel classified it at the handshake */
		c->verdict = om_bpf_verdict(have_entry ? &entry : NULL, c->origin.cookie, c->verdict);
	metrics_inc(M_CONNECTIONS, c->lc->name, config_proto_name(c->lc->proto),
	            policy_verdict_name(c->verdict));
	/* Behind a proxy the line waits for the header: a health check (PROXY LOCAL) is not worth one. */
	if (c->verdict == VERDICT_DENIED || c->verdict == VERDICT_DIRECT)
		log_info("Connection established from %s on %s", c->origin.peer_ip, c->lc->name);
	switch (c->verdict) {
	case VERDICT_DENIED:
		refuse(c, "not a trusted proxy and not allowed to connect directly");
		return;
	case VERDICT_DIRECT:
		advance(c); /* admit() first */
		return;
	case VERDICT_PROXY_REQUIRED:
	case VERDICT_PROXY_OPTIONAL:
		break;
	}
	c->pp = malloc(sizeof(*c->pp));
	if (!c->pp) {
		conn_close(c, "out of memory");
		return;
	}
	struct pp_options o = {.accept = c->lc->proxy_versions, .max_header = c->lc->proxy_max_header};
	pp_decoder_init(c->pp, &o);
	set_deadline(c, c->lc->proxy_timeout_ms); /* with inside-tls, for the handshake and the header */
	advance(c);
}

/* Header bytes from the socket, or from the TLS session with inside-tls: look without taking (peek), then
 * take exactly what the decoder used. peek returns the bytes, 0 at the end, -1 when there is nothing yet
 * (EAGAIN or OpenSSL's WANT_*, epoll already set), -2 on an error. */
static ssize_t header_peek(struct conn *c, char *buf, size_t cap)
{
	if (!c->ssl) {
		ssize_t n = recv(c->fd, buf, cap, MSG_PEEK);
		return n >= 0 ? n : errno == EAGAIN || errno == EINTR ? -1 : -2;
	}
	int r = SSL_peek(c->ssl, buf, (int)cap);
	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		watch(c, EPOLLIN);
		return -1;
	case SSL_ERROR_WANT_WRITE:
		watch(c, EPOLLIN | EPOLLOUT);
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		return -2;
	}
}

static bool header_take(struct conn *c, size_t n)
{
	if (c->ssl)
		return SSL_read(c->ssl, rbuf, (int)n) == (int)n; /* what SSL_peek showed is buffered */
	return recv(c->fd, rbuf, n, 0) == (ssize_t)n;
}

/* The header says who the client is; LOCAL (a health check, the proxy's own connection) and UNKNOWN
 * leave the peer as the origin. */
static void apply_header(struct conn *c, const struct pp_header *h)
{
	struct origin *o = &c->origin;

	metrics_inc(M_PROXY_HEADERS, h->version == 1 ? "1" : "2",
	            h->command == PP_CMD_LOCAL ? "local" : "proxy");
	metrics_observe(M_PROXY_WAIT, (double)(mono_ns() - c->accepted_ns) / 1e9, c->lc->name);
	if (h->command == PP_CMD_PROXY &&
	    (h->src.sa.sa_family == AF_INET || h->src.sa.sa_family == AF_INET6)) {
		o->client = h->src;
		pp_sockaddr_unmap(&o->client);
		o->dst = h->dst;
		o->via_proxy = true;
	}
	if (h->unique_id.data) {
		size_t n = 0;
		for (size_t i = 0; i < h->unique_id.len && n < sizeof(o->unique_id) - 1; i++) {
			uint8_t ch = h->unique_id.data[i];
			o->unique_id[n++] = ch > 0x20 && ch < 0x7f ? (char)ch : '_'; /* log-safe */
		}
		o->unique_id[n] = '\0';
	}
	origin_update_text(o);
	if (c->srv->bpf) {
		c->bpf_proto_set = om_bpf_set_origin(c->fd, o, h->version, c->lc->proto);
	}
	if (o->via_proxy) {
		log_info("Connection established from %s on %s", o->peer_ip, c->lc->name);
		log_info("Connection from %s runs through %s proxy%s%s", o->client_ip, o->peer_ip,
		         o->unique_id[0] ? " unique-id " : "", o->unique_id);
	} else {
		c->quiet = true; /* a health check, or the proxy's own connection: debug lines only */
		log_debug("Connection from %s: PROXY %s, served as the proxy's own", o->peer_ip,
		          h->command == PP_CMD_LOCAL ? "LOCAL" : "UNKNOWN");
	}
}

/* Read the header with a peek and take exactly the bytes the decoder consumed, so whatever follows (a TLS
 * ClientHello, pipelined commands) stays in the kernel, or in OpenSSL, for the next stage. */
static void on_proxy_readable(struct conn *c)
{
	for (;;) {
		ssize_t n = header_peek(c, rbuf, READ_CHUNK);
		if (n == -1)
			return;
		if (n <= 0) {
			/* A TCP health check connects and leaves: not worth an info line. */
			if (c->pp->have == 0)
				log_debug("Connection from %s closed before a PROXY header",
				          c->origin.peer_ip);
			if (c->pp->have)
				metrics_inc(M_PROXY_ERRORS, "closed");
			conn_close(c, c->pp->have ? "closed inside the PROXY header" : NULL);
			return;
		}
		size_t used = 0;
		enum pp_status st = pp_decoder_feed(c->pp, rbuf, (size_t)n, &used);
		if (used && !header_take(c, used)) {
			conn_close(c, "read error in the PROXY header");
			return;
		}
		if (st == PP_NEED_MORE)
			continue;
		if (st == PP_DONE) {
			apply_header(c, pp_decoder_header(c->pp));
		} else if (pp_decoder_error(c->pp) == PP_ERR_NOT_PROXY &&
		           c->verdict == VERDICT_PROXY_OPTIONAL) {
			/* No header: a direct connection. Bytes already taken were a signature's prefix. */
			if (c->pp->have) {
				c->in = malloc(c->pp->have);
				if (!c->in) {
					conn_close(c, "out of memory");
					return;
				}
				memcpy(c->in, c->pp->buf, c->pp->have);
				c->in_len = c->in_cap = c->pp->have;
			}
		} else {
			enum pp_error e = pp_decoder_error(c->pp);
			metrics_inc(M_PROXY_ERRORS, pp_error_name(e));
			if (e == PP_ERR_NOT_PROXY && !c->ssl && c->lc->tls == TLS_IMPLICIT && rbuf[0] == 0x16)
				refuse(c,
				       "PROXY header required before TLS, got a TLS handshake (a proxy that "
				       "sends it inside TLS needs proxy_order = inside-tls)");
			else
				refuse(c, e == PP_ERR_NOT_PROXY ? "PROXY protocol header required"
				                                : pp_strerror(e));
			return;
		}
		pp_decoder_free(c->pp);
		free(c->pp);
		c->pp = NULL;
		advance(c);
		return;
	}
}

/* inside-tls, before the handshake: a proxy that sends its header first (send-proxy without ssl) is told
 * so, rather than failing as a garbled ClientHello. Returns false when the connection was refused. */
static bool header_before_tls(struct conn *c)
{
	static const char v2sig[] = "\r\n\r\n\0\r\nQUIT\n";
	char b[12];
	ssize_t n = recv(c->fd, b, sizeof(b), MSG_PEEK);

	if (n <= 0 ||
	    (memcmp(b, "PROXY ", (size_t)n < 6 ? (size_t)n : 6) != 0 && memcmp(b, v2sig, (size_t)n) != 0))
		return true;
	SSL_free(c->ssl); /* the refusal goes out in plaintext, as the header came */
	c->ssl = NULL;
	metrics_inc(M_PROXY_ERRORS, "before_tls");
	refuse(c, "PROXY header sent before TLS, but proxy_order = inside-tls reads it inside TLS (HAProxy "
	          "sends it before TLS, even with ssl on the server line: use before-tls)");
	return false;
}

/* Returns false when the connection was closed. */
static bool begin_tls(struct conn *c)
{
	SSL_CTX *ctx = c->gen->tls[c->lc - c->gen->cfg.listeners];

	c->ssl = ctx ? SSL_new(ctx) : NULL;
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		conn_close(c, "cannot start TLS");
		return false;
	}
	SSL_set_accept_state(c->ssl);
	c->state = CONN_TLS_HANDSHAKE;
	if (!c->pp) /* else proxy_timeout, set at accept, covers the handshake and the header */
		set_deadline(c, c->gen->cfg.command_timeout_ms);
	watch(c, EPOLLIN);
	return true;
}

/* Once the origin is known (the PROXY header, or a direct peer), before TLS: max_connections and the
 * per-origin limits (user/limits/). A health check or the proxy's own connection (PROXY LOCAL or UNKNOWN)
 * has no origin: it counts against max_connections only. Returns false when the connection was refused. */
static bool admit(struct conn *c)
{
	char why[256];

	if (c->admitted)
		return true;
	c->admitted = true;
	if (c->over_capacity) {
		refuse(c, "too many connections, try again later");
		return false;
	}
	if (c->quiet)
		return true;
	if (limits_admit(c->srv->limits, &c->gen->cfg, &c->origin.client, &c->limit, why, sizeof(why)))
		return true;
	metrics_inc(M_ORIGIN_LIMIT_REJECTIONS);
	refuse(c, why);
	return false;
}

static void start_session(struct conn *c)
{
	c->session = c->proto->create(c->gen, c->lc, &c->origin, c->ssl ? c->tls_info : NULL);
	if (!c->session) {
		conn_close(c, "out of memory");
		return;
	}
	if (c->srv->bpf && (!c->bpf_proto_set || c->ssl)) /* else the origin's write did (one call less) */
		om_bpf_set_session(c->fd, c->origin.cookie, c->lc->proto, c->ssl != NULL);
	if (c->proto->set_waker)
		c->proto->set_waker(c->session, on_wake, c);
	c->state = CONN_ACTIVE;
	set_deadline(c, c->gen->cfg.command_timeout_ms);
	c->proto->greeting(c->session, &c->out);
	flush(c);
}

/* The next stage once the last is done: the PROXY header (before TLS, or inside it once TLS is up), then
 * the limits (admit), TLS on an implicit-TLS listener if not up yet, then the session. */
static void advance(struct conn *c)
{
	bool inside = c->lc->proxy_order == PROXY_INSIDE_TLS && c->lc->tls == TLS_IMPLICIT;

	if (c->pp && (!inside || c->ssl)) { /* c->ssl here: the handshake is done */
		c->state = CONN_PROXY_WAIT;
		watch(c, EPOLLIN);
		if (c->ssl)
			on_proxy_readable(c); /* OpenSSL may hold it already: epoll would not say */
		return;
	}
	if (!c->pp && !admit(c))
		return;
	if (c->lc->tls == TLS_IMPLICIT && !c->ssl) {
		(void)begin_tls(c);
		return;
	}
	start_session(c);
}

static void on_handshake(struct conn *c)
{
	if (c->pp && !c->session && !c->tls_checked) {
		if (!header_before_tls(c))
			return;
		c->tls_checked = true;
	}
	int r = SSL_do_handshake(c->ssl);

	if (r == 1) {
		tls_describe(c->ssl, c->tls_info, sizeof(c->tls_info));
		log_info("TLS established with %s: %s", client(c), c->tls_info);
		metrics_inc(M_TLS_HANDSHAKES, c->lc->name);
		if (c->session) { /* after STARTTLS */
			if (c->srv->bpf)
				om_bpf_set_session(c->fd, c->origin.cookie, c->lc->proto, true);
			c->state = CONN_ACTIVE;
			c->proto->tls_started(c->session, c->tls_info);
			set_deadline(c, c->gen->cfg.command_timeout_ms);
			watch(c, EPOLLIN);
		} else {
			advance(c);
		}
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		watch(c, EPOLLIN);
		return;
	case SSL_ERROR_WANT_WRITE:
		watch(c, EPOLLOUT);
		return;
	default: {
		char e[256], why[300];
		snprintf(why, sizeof(why), "TLS handshake failed: %s", tls_last_error(e, sizeof(e)));
		metrics_inc(M_TLS_FAILURES, c->lc->name, "error");
		conn_close(c, why);
		return;
	}
	}
}

/* When draining, an idle session gets the shutdown reply; the caller flushes it. */
static void close_if_draining(struct conn *c)
{
	if (c->srv->draining && c->state == CONN_ACTIVE && c->proto->idle(c->session)) {
		c->proto->shutdown(c->session, &c->out);
		c->state = CONN_CLOSING;
		set_deadline(c, CLOSE_LINGER_MS);
	}
}

/* The session failed a login: its reply, and everything after it, waits (origin_auth_delay, doubling with
 * each recent failure of the origin on any instance); at origin_auth_failures the session ends after it.
 * Returns true when there was a new failure (the session then left the rest of the input unread). */
static bool on_auth_failure(struct conn *c, enum proto_action *act)
{
	unsigned n = c->proto->auth_failures ? c->proto->auth_failures(c->session) : 0;
	bool locked = false;

	if (n == c->auth_failures)
		return false;
	c->auth_failures = n;
	unsigned ms = limits_auth_failed(c->srv->limits, &c->gen->cfg, &c->origin.client, &locked);
	if (locked) {
		metrics_inc(M_ORIGIN_LIMIT_REJECTIONS);
		log_warn("Closing the session of %s on %s: too many failed logins from %s "
		         "(origin_auth_failures)",
		         client(c), c->lc->name, client(c));
		if (*act != PROTO_CLOSE) /* else the session said goodbye itself */
			obuf_printf(&c->out, "%s %s too many failed logins from %s, try again later\r\n",
			            c->proto->refusal_prefix, c->gen->cfg.hostname, client(c));
		*act = PROTO_CLOSE;
	}
	if (ms) {
		log_info("%s on %s: failed login, reply delayed %u ms", client(c), c->lc->name, ms);
		c->hold_until_ms = now_ms() + ms;
	}
	return true;
}

/* Hand the received bytes to the session; keep what it leaves (an incomplete line). Returns false
 * when the connection was closed. */
static bool deliver_input(struct conn *c, const char *data, size_t len)
{
	enum proto_action act = PROTO_CONTINUE;

	if (c->verdict == VERDICT_DIRECT && c->lc->proxy != PROXY_OFF && !c->seen_input) {
		/* A header from a peer we do not trust is refused, not read as a command: it is a spoofing
		 * try. */
		struct pp_header h;
		enum pp_error e;
		enum pp_status st = pp_decode(data, len, NULL, &h, &e);
		if (st == PP_DONE || (st == PP_ERROR && e != PP_ERR_NOT_PROXY)) {
			c->out.len = 0;
			metrics_inc(M_PROXY_ERRORS, "untrusted_peer");
			refuse(c, "PROXY header from a peer that is not a trusted proxy");
			return false;
		}
	}
	c->seen_input = true;
	unsigned long before = c->proto->progress ? c->proto->progress(c->session) : 0;
	size_t used = c->proto->input(c->session, data, len, &c->out, &act);
	c->held = busy(c); /* what it left waits for the end of the response */
	const char *ev = c->proto->last_event ? c->proto->last_event(c->session) : NULL;
	if (ev && *ev)
		log_info("%s on %s: %s", client(c), c->lc->name, ev);
	bool failed = on_auth_failure(c, &act);

	if (act == PROTO_STARTTLS) {
		c->in_len = 0; /* nothing sent in plaintext survives into TLS (RFC 3207) */
		c->state = CONN_TLS_HANDSHAKE;
		return true;
	}
	if (act == PROTO_CLOSE) {
		c->state = CONN_CLOSING;
		set_deadline(c, CLOSE_LINGER_MS);
		if (c->hold_until_ms)
			c->deadline_ms = c->hold_until_ms;
		return true;
	}
	size_t left = len - used;
	if (left && data != c->in) {
		if (left > c->in_cap) {
			char *p = realloc(c->in, left);
			if (!p) {
				conn_close(c, "out of memory");
				return false;
			}
			c->in = p;
			c->in_cap = left;
		}
		memcpy(c->in, data + used, left);
	} else if (left) {
		memmove(c->in, c->in + used, left);
	}
	c->in_len = left;
	if (!left && c->in_cap > READ_CHUNK) { /* give back a buffer a long line grew */
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	/* Only a complete line (or block of data) restarts the clock: bytes trickled one at a time do not. */
	if (!c->proto->progress || c->proto->progress(c->session) != before) {
		unsigned ms = c->proto->in_data(c->session) ? c->gen->cfg.data_timeout_ms
		                                            : c->gen->cfg.command_timeout_ms;
		set_deadline(c, ms);
	}
	close_if_draining(c);
	if (c->hold_until_ms)
		c->deadline_ms = c->hold_until_ms;
	else if (failed && left && c->state == CONN_ACTIVE) /* no delay (exempt, or 0): go on at once */
		return deliver_input(c, c->in, c->in_len);
	return true;
}

/* A held reply's time has come: send it, then go on with what the peer sent meanwhile. */
static void release_hold(struct conn *c)
{
	c->hold_until_ms = 0;
	if (c->state != CONN_ACTIVE) {
		set_deadline(c, CLOSE_LINGER_MS);
		flush(c);
		return;
	}
	set_deadline(c, c->gen->cfg.command_timeout_ms);
	if (c->in_len && !deliver_input(c, c->in, c->in_len))
		return;
	conn_on_events(c, EPOLLIN);
}

/* Read what is there; returns false when the connection was closed. */
static bool on_readable(struct conn *c)
{
	for (int rounds = 0; rounds < 16 && c->state == CONN_ACTIVE && !c->hold_until_ms && !busy(c);
	     rounds++) {
		ssize_t n;
		if (c->ssl) {
			int r = SSL_read(c->ssl, rbuf, READ_CHUNK);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					return true;
				if (e == SSL_ERROR_WANT_WRITE) {
					watch(c, EPOLLIN | EPOLLOUT);
					return true;
				}
				conn_close(c, e == SSL_ERROR_ZERO_RETURN ? "closed by the client"
				                                         : "connection lost");
				return false;
			}
			n = r;
		} else {
			n = recv(c->fd, rbuf, READ_CHUNK, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return true;
			if (n <= 0) {
				conn_close(c, n == 0 ? "closed by the client" : "connection lost");
				return false;
			}
		}
		c->bytes_in += (size_t)n;
		if (c->in_len) { /* append to the unconsumed rest, then feed it all */
			if (c->in_len + (size_t)n > c->in_cap) {
				char *p = realloc(c->in, c->in_len + (size_t)n);
				if (!p) {
					conn_close(c, "out of memory");
					return false;
				}
				c->in = p;
				c->in_cap = c->in_len + (size_t)n;
			}
			memcpy(c->in + c->in_len, rbuf, (size_t)n);
			c->in_len += (size_t)n;
			if (!deliver_input(c, c->in, c->in_len))
				return false;
		} else if (!deliver_input(c, rbuf, (size_t)n)) {
			return false;
		}
		if (c->out.len > out_cap(c))
			break; /* a peer that does not read its replies gets no more service until it does */
	}
	return true;
}

/* Send what is queued. Returns false when the connection was closed. */
static bool send_out(struct conn *c)
{
	if (c->hold_until_ms) { /* a delayed reply: nothing leaves, nothing is read until then */
		watch(c, 0);
		return true;
	}
	while (c->out.len) {
		ssize_t n;
		if (c->ssl && c->state != CONN_TLS_HANDSHAKE) {
			int r = SSL_write(c->ssl, c->out.data,
			                  (int)(c->out.len > INT32_MAX ? INT32_MAX : c->out.len));
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					watch(c, EPOLLIN | EPOLLOUT);
					return true;
				}
				conn_close(c, "connection lost while writing");
				return false;
			}
			n = r;
		} else {
			n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				bool more = c->state == CONN_ACTIVE && c->out.len <= out_cap(c) && !busy(c);
				watch(c, EPOLLOUT | (more ? EPOLLIN : 0));
				return true;
			}
			if (n < 0) {
				conn_close(c, "connection lost while writing");
				return false;
			}
		}
		c->bytes_out += (size_t)n;
		obuf_consume(&c->out, (size_t)n);
	}
	return true;
}

/* Send queued output; while the session is busy, ask it for the next piece each time the last one has
 * left, and once it is done give it the input it left. Returns false when the connection was closed. */
static bool flush(struct conn *c)
{
	for (;;) {
		if (!send_out(c))
			return false;
		if (c->out.len)
			return true; /* the rest when the socket takes it */
		if (c->out.oom) {
			conn_close(c, "out of memory for replies");
			return false;
		}
		if (busy(c)) {
			c->proto->resume(c->session, &c->out);
			set_deadline(c, c->gen->cfg.command_timeout_ms); /* the client took the last piece */
			if (c->out.len)
				continue;
		}
		if (c->held && !busy(c)) {
			c->held = false;
			if (c->in_len && !deliver_input(c, c->in, c->in_len))
				return false;
			if (c->out.len || busy(c))
				continue;
		}
		if (c->state == CONN_ACTIVE && !busy(c) && c->ssl && SSL_pending(c->ssl) > 0) {
			/* OpenSSL holds bytes read while the session was busy: epoll cannot see them. */
			if (!on_readable(c))
				return false;
			if (c->out.len || busy(c))
				continue;
		}
		break;
	}
	obuf_free(&c->out); /* an idle connection holds no output buffer */
	switch (c->state) {
	case CONN_CLOSING:
		shutdown(c->fd, SHUT_WR);
		conn_close(c, NULL);
		return false;
	case CONN_TLS_HANDSHAKE:
		/* The STARTTLS go-ahead has left in plaintext: now the handshake. */
		return c->ssl ? true : begin_tls(c);
	default:
		/* Busy with nothing to send (a password check on a worker): the wake-up comes from it. */
		watch(c, busy(c) ? 0 : EPOLLIN);
		return true;
	}
}

/* Work the session waited for off the event loop is done: hand it the input it kept (possibly none),
 * which has it answer, then send. */
static void on_wake(void *arg)
{
	struct conn *c = arg;

	if (c->state != CONN_ACTIVE || c->hold_until_ms)
		return; /* closing, or a delayed reply will pass the input again (release_hold) */
	if (deliver_input(c, c->in, c->in_len))
		flush(c);
}

void conn_on_events(struct conn *c, uint32_t events)
{
	if (c->hold_until_ms) {
		if (events & (EPOLLHUP | EPOLLERR))
			conn_close(c, "connection lost");
		return;
	}
	switch (c->state) {
	case CONN_PROXY_WAIT:
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | (c->ssl ? EPOLLOUT : 0)))
			on_proxy_readable(c);
		return;
	case CONN_TLS_HANDSHAKE:
		if (c->ssl)
			on_handshake(c);
		else
			flush(c);
		return;
	case CONN_ACTIVE:
		if ((events & EPOLLOUT) && c->out.len && !flush(c))
			return;
		/* OpenSSL may hold decrypted bytes epoll cannot see: read until it holds none. */
		while (c->state == CONN_ACTIVE && c->out.len <= out_cap(c) && !c->hold_until_ms && !busy(c)) {
			if (!on_readable(c))
				return;
			if (!c->ssl || SSL_pending(c->ssl) == 0)
				break;
		}
		flush(c);
		return;
	case CONN_CLOSING:
		if (events & (EPOLLHUP | EPOLLERR))
			conn_close(c, NULL);
		else
			flush(c);
		return;
	}
}

/* A polled session's turn: it may queue output; its inactivity deadline restarts while it waits. */
static void poll_session(struct conn *c)
{
	uint64_t now = now_ms();

	if (c->proto->poll(c->session, &c->out))
		c->expire_ms = now + c->gen->cfg.command_timeout_ms;
	c->deadline_ms = now + PROTO_POLL_MS < c->expire_ms ? now + PROTO_POLL_MS : c->expire_ms;
	if (c->out.len)
		flush(c);
}

void conn_on_timeout(struct conn *c)
{
	if (c->hold_until_ms) {
		release_hold(c);
		return;
	}
	switch (c->state) {
	case CONN_PROXY_WAIT:
		if (c->verdict == VERDICT_PROXY_OPTIONAL && c->pp->have == 0) {
			/* A trusted peer that may also connect directly, and said nothing: serve it as
			 * itself. */
			pp_decoder_free(c->pp);
			free(c->pp);
			c->pp = NULL;
			advance(c);
			return;
		}
		metrics_inc(M_PROXY_ERRORS, "timeout");
		refuse(c, "PROXY protocol header not received in time");
		return;
	case CONN_TLS_HANDSHAKE:
		if (c->ssl)
			metrics_inc(M_TLS_FAILURES, c->lc->name, "timeout");
		if (c->pp) /* inside-tls: proxy_timeout covers the handshake and the header */
			metrics_inc(M_PROXY_ERRORS, "timeout");
		conn_close(c, c->pp ? "TLS handshake and PROXY header not done in time (proxy_timeout)"
		                    : "TLS handshake timed out");
		return;
	case CONN_ACTIVE:
		if (c->proto->poll && now_ms() < c->expire_ms) {
			poll_session(c);
			return;
		}
		log_info("Timeout for %s on %s", client(c), c->lc->name);
		c->proto->timeout(c->session, &c->out);
		c->state = CONN_CLOSING;
		set_deadline(c, CLOSE_LINGER_MS);
		flush(c);
		return;
	case CONN_CLOSING:
		conn_close(c, "peer did not take the last reply");
		return;
	}
}

void conn_on_drain(struct conn *c)
{
	switch (c->state) {
	case CONN_ACTIVE:
		if (!c->proto->idle(c->session))
			return; /* a transaction in progress finishes first */
		c->proto->shutdown(c->session, &c->out);
		c->state = CONN_CLOSING;
		set_deadline(c, CLOSE_LINGER_MS);
		flush(c);
		return;
	case CONN_PROXY_WAIT:
	case CONN_TLS_HANDSHAKE:
		conn_close(c, "server shutting down");
		return;
	case CONN_CLOSING:
		return;
	}
}
