/* The relay worker's SMTP client connection (see relay_client.h). One process, one connection at a time:
 * each call polls the non-blocking socket until its deadline, so a dead relay host costs a timeout,
 * never a hang. A signal (EINTR) does not cut a step short: SIGTERM lets the message finish. */
#include "relay/relay_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPLY_LINES 200

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rc_init(struct rclient *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void rc_close(struct rclient *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	ERR_clear_error();
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

bool relay_split_hostport(const char *hp, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon, *h = hp;
	size_t hl;

	if (!hp)
		return false;
	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');
		if (!close || close[1] != ':')
			return false;
		h = hp + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(hp, ':');
		if (!colon)
			return false;
		hl = (size_t)(colon - hp);
	}
	if (hl == 0 || hl >= hcap || !colon[1] || strlen(colon + 1) >= pcap)
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, pcap, "%s", colon + 1);
	return true;
}

/* Wait for events on the socket until the deadline; false (c->err set) on a timeout. */
static bool wait_fd(struct rclient *c, short events, long long deadline, const char *what)
{
	for (;;) {
		long long left = deadline - mono_ms();
		if (left <= 0) {
			snprintf(c->err, sizeof(c->err), "timeout %s", what);
			return false;
		}
		struct pollfd p = {.fd = c->fd, .events = events};
		int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR) {
			snprintf(c->err, sizeof(c->err), "poll: %s", strerror(errno));
			return false;
		}
	}
}

static bool connect_one(struct rclient *c, const struct addrinfo *ai, long long deadline)
{
	int e;
	socklen_t el = sizeof(e);

	c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (c->fd < 0) {
		snprintf(c->err, sizeof(c->err), "socket: %s", strerror(errno));
		return false;
	}
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return true;
	if (errno != EINPROGRESS && errno != EINTR) {
		snprintf(c->err, sizeof(c->err), "connect: %s", strerror(errno));
	} else if (wait_fd(c, POLLOUT, deadline, "connecting")) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
			return true;
		snprintf(c->err, sizeof(c->err), "connect: %s", strerror(e));
	}
	close(c->fd);
	c->fd = -1;
	return false;
}

bool rc_connect(struct rclient *c, const char *hostport, unsigned timeout_ms)
{
	char host[256], port[16];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	long long deadline = mono_ms() + timeout_ms;

	if (!relay_split_hostport(hostport, host, sizeof(host), port, sizeof(port))) {
		snprintf(c->err, sizeof(c->err), "bad relay_host '%s'", hostport);
		return false;
	}
	int g = getaddrinfo(host, port, &hints, &res);
	if (g != 0) {
		snprintf(c->err, sizeof(c->err), "cannot resolve %.200s: %s", host, gai_strerror(g));
		return false;
	}
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (connect_one(c, ai, deadline))
			break;
	}
	freeaddrinfo(res);
	return c->fd >= 0;
}

/* What an OpenSSL call's failure means: wait for the socket (true) or give up (false, c->err set). */
static bool ssl_wait(struct rclient *c, int r, long long deadline, const char *what)
{
	char e[200];
	int code = SSL_get_error(c->ssl, r);

	if (code == SSL_ERROR_WANT_READ)
		return wait_fd(c, POLLIN, deadline, what);
	if (code == SSL_ERROR_WANT_WRITE)
		return wait_fd(c, POLLOUT, deadline, what);
	unsigned long le = ERR_get_error();
	if (le)
		ERR_error_string_n(le, e, sizeof(e));
	else
		snprintf(e, sizeof(e), "%s",
		         code == SSL_ERROR_ZERO_RETURN ? "closed by the peer" : strerror(errno));
	snprintf(c->err, sizeof(c->err), "TLS error %s: %s", what, e);
	ERR_clear_error();
	return false;
}

static bool is_ip(const char *host)
{
	unsigned char a[16];
	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

bool rc_starttls(struct rclient *c, SSL_CTX *ctx, const char *hostport, bool verify, unsigned timeout_ms)
{
	char host[256], port[16];
	long long deadline = mono_ms() + timeout_ms;

	if (rc_pending(c)) { /* a reply injected before the handshake (CVE-2011-0411): never trust it */
		snprintf(c->err, sizeof(c->err), "data received after the 220 reply to STARTTLS");
		return false;
	}
	if (!relay_split_hostport(hostport, host, sizeof(host), port, sizeof(port)) ||
	    !(c->ssl = SSL_new(ctx)) || !SSL_set_fd(c->ssl, c->fd)) {
		snprintf(c->err, sizeof(c->err), "cannot start TLS");
		return false;
	}
	if (is_ip(host)) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
	} else {
		SSL_set_tlsext_host_name(c->ssl, host);
		SSL_set1_host(c->ssl, host);
	}
	for (;;) {
		int r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		long v = SSL_get_verify_result(c->ssl);
		if (verify && v != X509_V_OK) {
			snprintf(c->err, sizeof(c->err), "certificate verification failed: %s",
			         X509_verify_cert_error_string(v));
			ERR_clear_error();
			return false;
		}
		if (!ssl_wait(c, r, deadline, "in the handshake"))
			return false;
	}
	c->verified = SSL_get_verify_result(c->ssl) == X509_V_OK && SSL_get0_peer_certificate(c->ssl);
	snprintf(c->tls_info, sizeof(c->tls_info), "%s %s", SSL_get_version(c->ssl),
	         SSL_get_cipher_name(c->ssl));
	return true;
}

bool rc_flush(struct rclient *c, unsigned timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;
	size_t off = 0;

	while (off < c->olen) {
		if (c->ssl) {
			int r = SSL_write(c->ssl, c->out + off, (int)(c->olen - off));
			if (r > 0)
				off += (size_t)r;
			else if (!ssl_wait(c, r, deadline, "sending"))
				return false;
			continue;
		}
		ssize_t w = send(c->fd, c->out + off, c->olen - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(c->err, sizeof(c->err), "send: %s", strerror(errno));
			return false;
		} else if (!wait_fd(c, POLLOUT, deadline, "sending")) {
			return false;
		}
	}
	c->olen = 0;
	return true;
}

bool rc_write(struct rclient *c, const void *p, size_t n, unsigned timeout_ms)
{
	const char *s = p;

	while (n) {
		size_t room = sizeof(c->out) - c->olen, k = n < room ? n : room;
		memcpy(c->out + c->olen, s, k);
		c->olen += k;
		s += k;
		n -= k;
		if (c->olen == sizeof(c->out) && !rc_flush(c, timeout_ms))
			return false;
	}
	return true;
}

bool rc_cmd(struct rclient *c, unsigned timeout_ms, const char *fmt, ...)
{
	char line[1100];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2) {
		snprintf(c->err, sizeof(c->err), "command too long");
		return false;
	}
	memcpy(line + n, "\r\n", 2);
	return rc_write(c, line, (size_t)n + 2, timeout_ms) && rc_flush(c, timeout_ms);
}

size_t rc_pending(const struct rclient *c)
{
	return c->ilen - c->ipos;
}

/* More input into c->in; false (c->err set) on EOF, an error or the deadline. */
static bool fill(struct rclient *c, long long deadline)
{
	if (c->ipos > 0) {
		memmove(c->in, c->in + c->ipos, c->ilen - c->ipos);
		c->ilen -= c->ipos;
		c->ipos = 0;
	}
	for (;;) {
		size_t room = sizeof(c->in) - c->ilen;
		if (c->ssl) {
			int r = SSL_read(c->ssl, c->in + c->ilen, (int)room);
			if (r > 0) {
				c->ilen += (size_t)r;
				return true;
			}
			if (!ssl_wait(c, r, deadline, "reading a reply"))
				return false;
			continue;
		}
		ssize_t r = recv(c->fd, c->in + c->ilen, room, 0);
		if (r > 0) {
			c->ilen += (size_t)r;
			return true;
		}
		if (r == 0) {
			snprintf(c->err, sizeof(c->err), "connection closed by the relay host");
			return false;
		}
		if (errno != EAGAIN && errno != EINTR) {
			snprintf(c->err, sizeof(c->err), "recv: %s", strerror(errno));
			return false;
		}
		if (!wait_fd(c, POLLIN, deadline, "waiting for a reply"))
			return false;
	}
}

/* One line without its CRLF into line (truncated to cap - 1). */
static bool read_line(struct rclient *c, char *line, size_t cap, long long deadline)
{
	for (;;) {
		char *lf = memchr(c->in + c->ipos, '\n', c->ilen - c->ipos);
		size_t n = lf ? (size_t)(lf - (c->in + c->ipos)) : c->ilen - c->ipos;
		if (lf || c->ilen == sizeof(c->in)) { /* a line, or a buffer full of one: take it */
			size_t k = n && c->in[c->ipos + n - 1] == '\r' ? n - 1 : n;
			if (k >= cap)
				k = cap - 1;
			memcpy(line, c->in + c->ipos, k);
			line[k] = '\0';
			c->ipos += lf ? n + 1 : n;
			return true;
		}
		if (!fill(c, deadline))
			return false;
	}
}

int rc_reply(struct rclient *c, unsigned timeout_ms, char *text, size_t cap)
{
	long long deadline = mono_ms() + timeout_ms;
	char line[1024];
	size_t tl = 0;

	text[0] = '\0';
	for (int i = 0; i < MAX_REPLY_LINES; i++) {
		if (!read_line(c, line, sizeof(line), deadline))
			return -1;
		if (strlen(line) < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9' || (line[3] && line[3] != ' ' && line[3] != '-')) {
			snprintf(c->err, sizeof(c->err), "malformed reply '%.60s'", line);
			return -1;
		}
		const char *t = line[3] ? line + 4 : "";
		int n = snprintf(text + tl, cap - tl, "%s%s", tl ? "\n" : "", t);
		if (n > 0)
			tl = tl + (size_t)n < cap ? tl + (size_t)n : cap - 1;
		if (line[3] != '-')
			return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	}
	snprintf(c->err, sizeof(c->err), "reply longer than %d lines", MAX_REPLY_LINES);
	return -1;
}

SSL_CTX *relay_tls_ctx(const char *ca, bool verify, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		snprintf(err, errlen, "TLS client context: out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	bool ok = ca && *ca ? SSL_CTX_load_verify_locations(ctx, ca, NULL) == 1
	                    : SSL_CTX_set_default_verify_paths(ctx) == 1;
	if (!ok) {
		char e[256];
		unsigned long le = ERR_get_error();
		ERR_error_string_n(le, e, sizeof(e));
		ERR_clear_error();
		snprintf(err, errlen, "relay_ca %s: %s", ca && *ca ? ca : "(system store)", e);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return ctx;
}
