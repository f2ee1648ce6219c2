/* SMTP load client: N sessions at concurrency C, or K idle sessions held open.
 *
 * Build: make build/smtp_load (cc -std=gnu11 -O2 -Wall -Wextra -Werror bench/smtp_load.c bench/load_common.c)
 *
 * Load mode (default): N sessions in all, at most C at a time, on one epoll loop with non-blocking sockets.
 * Each session: connect, an optional PROXY header written by us (v1 or v2, naming a documentation address
 * 203.0.113.x as the client: for talking to a server directly; "none" through HAProxy), read 220, EHLO,
 * MAIL, RCPT, DATA with a message of S bytes (headers included, default 10 KiB), QUIT, read 221, close.
 * No pipelining: each command waits for its reply. A session's latency runs from connect() to the 221.
 * The run stops after N sessions or T seconds (unfinished sessions then count as errors).
 *
 * Greeting mode (-g): each session is only connect, 220, QUIT, 221 (a connection rate).
 *
 * Idle mode (-i K): K sessions that stop after the EHLO reply and stay open, at most C connecting at a
 * time. Once all are idle, prints "IDLE ready=R errors=E" and holds them H seconds (or until SIGTERM).
 *
 * Output: a human summary on stderr and one line "RESULT key=value ..." on stdout for scripts. */
#include "load_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define INBUF 8192

enum step { S_CONNECT, S_GREET, S_EHLO, S_MAIL, S_RCPT, S_DATA, S_BODY, S_QUIT, S_IDLE, S_FREE };

static const char *const step_name[] = {
        "connect", "greeting", "EHLO", "MAIL", "RCPT",
        "DATA",    "body",     "QUIT", "idle"}; /* S_IDLE too: an idle session's error names it */
static const int step_code[] = {0, 220, 250, 250, 250, 354, 250, 221};

struct sess {
	int fd;
	enum step step;
	unsigned id;
	double t0;
	const char *out; /* pending output: out[0..outlen), outoff of it written */
	size_t outlen, outoff;
	char cmd[600];
	char in[INBUF];
	size_t inlen;
};

struct opts {
	size_t size;
	int proxy; /* 0 none, 1 v1, 2 v2 */
	bool greet_only;
	const char *from, *rcpt, *helo;
};

static struct opts o = {.size = 10240,
                        .from = "bench@client.example",
                        .rcpt = "bench@example.test",
                        .helo = "client.example"};
static char *message;
static size_t message_len;
/* The message: a few headers, then 76-character lines of 'x' up to S bytes; no line starts with '.',
 * so nothing needs dot-stuffing. The terminating ".\r\n" follows the S bytes. */
static void build_message(void)
{
	char head[1200];
	size_t hlen = (size_t)snprintf(
	        head, sizeof(head), "From: <%s>\r\nTo: <%s>\r\nSubject: smtp_load\r\n\r\n", o.from, o.rcpt);
	size_t s = o.size < hlen + 3 ? hlen + 3 : o.size, n = hlen;

	message = malloc(s + 3);
	if (!message) {
		perror("malloc");
		exit(1);
	}
	memcpy(message, head, hlen);
	while (n < s) {
		size_t rem = s - n, line = rem;
		if (rem > 78)
			line = rem - 78 < 3 ? 72 : 78; /* never leave a remainder too short for "x\r\n" */
		memset(message + n, 'x', line - 2);
		memcpy(message + n + line - 2, "\r\n", 2);
		n += line;
	}
	memcpy(message + n, ".\r\n", 3);
	message_len = n + 3;
}

/* A PROXY header naming a documentation address (203.0.113.x or 2001:db8::x) as the client. */
static size_t proxy_header(struct sess *s, char *buf, size_t cap)
{
	static const uint8_t sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	                                0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
	bool v6 = lc.addr.ss_family == AF_INET6;
	unsigned sport = 1024 + s->id % 60000, dport = ntohs(((struct sockaddr_in *)&lc.addr)->sin_port);
	uint8_t src[16] = {0}, dst[16];
	size_t alen = v6 ? 16 : 4;

	if (v6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&lc.addr;
		dport = ntohs(a6->sin6_port);
		memcpy(dst, &a6->sin6_addr, 16);
		src[0] = 0x20, src[1] = 0x01, src[2] = 0x0d, src[3] = 0xb8;
		src[15] = (uint8_t)(1 + s->id % 254);
	} else {
		memcpy(dst, &((const struct sockaddr_in *)&lc.addr)->sin_addr, 4);
		src[0] = 203, src[1] = 0, src[2] = 113, src[3] = (uint8_t)(1 + s->id % 254);
	}
	if (o.proxy == 1) {
		char srctext[INET6_ADDRSTRLEN], dsttext[INET6_ADDRSTRLEN];
		inet_ntop(lc.addr.ss_family, src, srctext, sizeof(srctext));
		inet_ntop(lc.addr.ss_family, dst, dsttext, sizeof(dsttext));
		return (size_t)snprintf(buf, cap, "PROXY %s %s %s %u %u\r\n", v6 ? "TCP6" : "TCP4", srctext,
		                        dsttext, sport, dport);
	}
	uint8_t *p = (uint8_t *)buf;
	size_t body = 2 * alen + 4;
	memcpy(p, sig, 12);
	p[12] = 0x21;             /* version 2, PROXY */
	p[13] = v6 ? 0x21 : 0x11; /* TCP over IPv6 / IPv4 */
	p[14] = (uint8_t)(body >> 8);
	p[15] = (uint8_t)body;
	memcpy(p + 16, src, alen);
	memcpy(p + 16 + alen, dst, alen);
	p[16 + 2 * alen] = (uint8_t)(sport >> 8);
	p[17 + 2 * alen] = (uint8_t)sport;
	p[18 + 2 * alen] = (uint8_t)(dport >> 8);
	p[19 + 2 * alen] = (uint8_t)dport;
	return 16 + body;
}

static void finish(struct sess *s, const char *err)
{
	if (err)
		lc_error(s->id, err);
	lc_close(&s->fd, s->step != S_IDLE);
	s->step = S_FREE;
}

static void fail_errno(struct sess *s, const char *what)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%s (%s): %s", what, step_name[s->step], strerror(errno));
	finish(s, msg);
}

/* Write what is pending; false when the session has failed. */
static bool flush_out(struct sess *s)
{
	if (lc_flush(s->fd, s, s->out, s->outlen, &s->outoff))
		return true;
	fail_errno(s, "send");
	return false;
}

static bool send_text(struct sess *s, const char *text, size_t len)
{
	s->out = text;
	s->outlen = len;
	s->outoff = 0;
	return flush_out(s);
}

/* A command line: head, arg, tail, CRLF. */
static bool send_cmd(struct sess *s, const char *head, const char *arg, const char *tail)
{
	int n = snprintf(s->cmd, sizeof(s->cmd), "%s%s%s\r\n", head, arg, tail);

	return send_text(s, s->cmd, (size_t)n);
}

/* One complete reply has arrived with this code: check it, send what comes next. */
static bool advance(struct sess *s, int code, const char *line, size_t linelen)
{
	if (code != step_code[s->step]) {
		char msg[256];
		while (linelen && (line[linelen - 1] == '\r' || line[linelen - 1] == '\n'))
			linelen--;
		snprintf(msg, sizeof(msg), "after %s: expected %d, got '%.*s'", step_name[s->step],
		         step_code[s->step], (int)(linelen > 200 ? 200 : linelen), line);
		finish(s, msg);
		return false;
	}
	switch (s->step) {
	case S_GREET:
		s->step = o.greet_only ? S_QUIT : S_EHLO;
		return o.greet_only ? send_cmd(s, "QUIT", "", "") : send_cmd(s, "EHLO ", o.helo, "");
	case S_EHLO:
		if (lc.idle) {
			s->step = S_IDLE;
			lc.active--;
			return true;
		}
		s->step = S_MAIL;
		return send_cmd(s, "MAIL FROM:<", o.from, ">");
	case S_MAIL:
		s->step = S_RCPT;
		return send_cmd(s, "RCPT TO:<", o.rcpt, ">");
	case S_RCPT:
		s->step = S_DATA;
		return send_cmd(s, "DATA", "", "");
	case S_DATA:
		s->step = S_BODY;
		return send_text(s, message, message_len);
	case S_BODY:
		s->step = S_QUIT;
		return send_cmd(s, "QUIT", "", "");
	case S_QUIT:
		lc.lat[lc.nlat++] = lc_now() - s->t0;
		finish(s, NULL);
		return false;
	default:
		finish(s, "reply in an unexpected state");
		return false;
	}
}

static void on_readable(struct sess *s)
{
	for (;;) {
		if (s->inlen == sizeof(s->in)) {
			finish(s, "reply longer than the input buffer");
			return;
		}
		ssize_t n = recv(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen, 0);
		if (n == 0) {
			char msg[64];
			snprintf(msg, sizeof(msg), "connection closed by the server during %s",
			         step_name[s->step]);
			finish(s, s->step == S_IDLE ? "idle session closed by the server" : msg);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				fail_errno(s, "recv");
			return;
		}
		s->inlen += (size_t)n;
		/* Complete lines; a reply ends with a line whose fourth character is not '-'. */
		size_t start = 0;
		char *nl;
		while ((nl = memchr(s->in + start, '\n', s->inlen - start))) {
			const char *line = s->in + start;
			size_t len = (size_t)(nl - line) + 1;
			start += len;
			if (len >= 4 && line[3] == '-')
				continue;
			if (s->step == S_IDLE) {
				finish(s, "unexpected reply on an idle session");
				return;
			}
			int code = len >= 3 ? (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0')
			                    : -1;
			if (!advance(s, code, line, len))
				return;
			memmove(s->in, s->in + start, s->inlen - start);
			s->inlen -= start;
			start = 0;
		}
		if (start) {
			memmove(s->in, s->in + start, s->inlen - start);
			s->inlen -= start;
		}
	}
}

static void on_connected(struct sess *s)
{
	if (lc_connected(s->fd) != 0) {
		fail_errno(s, "connect");
		return;
	}
	s->step = S_GREET;
	if (o.proxy) {
		size_t n = proxy_header(s, s->cmd, sizeof(s->cmd));
		send_text(s, s->cmd, n);
	} else {
		lc_want_out(s->fd, s, false);
	}
}

static void open_session(void *p)
{
	struct sess *s = p;
	const char *what;

	memset(s, 0, offsetof(struct sess, in));
	s->inlen = 0;
	s->id = (unsigned)lc.started++;
	s->t0 = lc_now();
	s->step = S_CONNECT;
	if (lc_connect(&s->fd, s, &what) != 0)
		fail_errno(s, what);
}

static bool is_free(const void *s)
{
	return ((const struct sess *)s)->step == S_FREE;
}

static bool is_idle(const void *s)
{
	return ((const struct sess *)s)->step == S_IDLE;
}

static void on_events(void *p, uint32_t events)
{
	struct sess *s = p;

	if (s->step == S_CONNECT) {
		on_connected(s);
		return;
	}
	if (events & EPOLLOUT) {
		if (!flush_out(s))
			return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		on_readable(s);
}

static void summary(double elapsed)
{
	fprintf(stderr,
	        "smtp_load: %s proxy=%s c=%ld size=%zu: %ld ok, %ld errors in %.3f s: %.1f sessions/s, "
	        "p50 %.2f ms, p99 %.2f ms\n",
	        lc.target,
	        o.proxy == 1   ? "v1"
	        : o.proxy == 2 ? "v2"
	                       : "none",
	        lc.concurrency, message_len - 3, lc.nlat, lc.errors, elapsed, (double)lc.nlat / elapsed,
	        lc_pct(50) * 1e3, lc_pct(99) * 1e3);
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: smtp_load -t HOST:PORT [-n SESSIONS] [-c CONCURRENCY] [-s SIZE] [-p none|v1|v2]\n"
	        "                 [-T SECONDS] [-f FROM] [-r RCPT] [-e EHLO-NAME] [-i IDLE -H HOLD-SECONDS] "
	        "[-g]\n"
	        "  -n sessions in all (default 1000)   -c at most this many at a time (default 16)\n"
	        "  -s message size in bytes (10240)    -p PROXY header written by us (default none)\n"
	        "  -T stop after this many seconds (60)  -g only connect, 220, QUIT, 221 (connection rate)\n"
	        "  -i open this many sessions, stop after EHLO and hold them -H seconds (default 30)\n");
	exit(64);
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "t:n:c:s:p:T:f:r:e:i:H:gh")) != -1) {
		switch (c) {
		case 's':
			o.size = (size_t)lc_number(optarg, 0, 1L << 30, usage);
			break;
		case 'p':
			o.proxy = !strcmp(optarg, "v1")     ? 1
			          : !strcmp(optarg, "v2")   ? 2
			          : !strcmp(optarg, "none") ? 0
			                                    : -1;
			if (o.proxy < 0)
				usage();
			break;
		case 'f':
			o.from = optarg;
			break;
		case 'r':
			o.rcpt = optarg;
			break;
		case 'e':
			o.helo = optarg;
			break;
		case 'g':
			o.greet_only = true;
			break;
		default:
			if (!lc_option(c, optarg, usage))
				usage();
		}
	}
	lc_check_target(optind != argc, "smtp_load", usage);
	if (strlen(o.from) > 500 || strlen(o.rcpt) > 500 || strlen(o.helo) > 500)
		usage();
	struct lc_client cl = {.prog = "smtp_load",
	                       .size = sizeof(struct sess),
	                       .is_free = is_free,
	                       .is_idle = is_idle,
	                       .open = open_session,
	                       .on_events = on_events,
	                       .summary = summary};
	if (!lc_setup(&cl))
		return 1;
	for (long i = 0; i < cl.slots; i++)
		((struct sess *)cl.sess)[i].step = S_FREE;
	build_message();
	return lc_run(&cl);
}
