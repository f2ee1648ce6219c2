/* IMAP load client: N sessions at concurrency C, or K idle sessions held open with INBOX selected.
 *
 * Build: make build/imap_load (cc -std=gnu11 -O2 -Wall -Wextra -Werror bench/imap_load.c bench/load_common.c)
 *
 * Load mode (default): N sessions in all, at most C at a time, on one epoll loop with non-blocking sockets,
 * as bench/smtp_load.c does for SMTP. Each session: connect (no PROXY header of our own: HAProxy adds it),
 * read the greeting, LOGIN, SELECT INBOX, FETCH 1:* FLAGS, UID FETCH <u> BODY.PEEK[] of one message
 * (u = 1 + session number mod the EXISTS count), LOGOUT, read its tagged OK, close. No pipelining: each
 * command waits for its tagged reply. Literals ({n} at the end of a line) are skipped by byte count.
 * Checked per session: SELECT says "* M EXISTS" (M = -m if given), FETCH returns M FLAGS lines, the body
 * fetch returns one literal of at least one byte. Latency runs from connect() to the LOGOUT's OK.
 * The run stops after N sessions or T seconds (unfinished sessions then count as errors).
 *
 * Idle mode (-i K): K sessions that stop after SELECT and stay open, at most C connecting at a time.
 * Once all are idle, prints "IDLE ready=R errors=E" and holds them H seconds (or until SIGTERM).
 *
 * Output: a human summary on stderr and one line "RESULT key=value ..." on stdout for scripts. */
#include "load_common.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#define INBUF 16384

enum step { S_CONNECT, S_GREET, S_LOGIN, S_SELECT, S_FETCH, S_BODY, S_LOGOUT, S_IDLE, S_FREE };

static const char *const step_name[] = {"connect", "greeting",   "LOGIN",  "SELECT",
                                        "FETCH",   "body FETCH", "LOGOUT", "idle"};

struct sess {
	int fd;
	enum step step;
	unsigned id;
	double t0;
	long exists, fetched, literal_bytes;
	size_t skip; /* literal bytes still to skip */
	size_t outlen, outoff;
	char cmd[600];
	char in[INBUF];
	size_t inlen;
};

struct opts {
	long messages;
	const char *user, *pass;
};

static struct opts o = {.user = "bench@example.test", .pass = "bench-secret"};
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

static void fail_line(struct sess *s, const char *what, const char *line, size_t len)
{
	char msg[300];

	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	snprintf(msg, sizeof(msg), "%s %s: '%.*s'", what, step_name[s->step], (int)(len > 200 ? 200 : len),
	         line);
	finish(s, msg);
}

/* Write what is pending; false when the session has failed. */
static bool flush_out(struct sess *s)
{
	if (lc_flush(s->fd, s, s->cmd, s->outlen, &s->outoff))
		return true;
	fail_errno(s, "send");
	return false;
}

/* The command of the session's current step, tagged a<step>. */
static bool send_step(struct sess *s)
{
	int n = 0;

	switch (s->step) {
	case S_LOGIN:
		n = snprintf(s->cmd, sizeof(s->cmd), "a%d LOGIN \"%s\" \"%s\"\r\n", s->step, o.user, o.pass);
		break;
	case S_SELECT:
		n = snprintf(s->cmd, sizeof(s->cmd), "a%d SELECT INBOX\r\n", s->step);
		break;
	case S_FETCH:
		n = snprintf(s->cmd, sizeof(s->cmd), "a%d FETCH 1:* FLAGS\r\n", s->step);
		break;
	case S_BODY:
		n = snprintf(s->cmd, sizeof(s->cmd), "a%d UID FETCH %ld BODY.PEEK[]\r\n", s->step,
		             1 + (long)s->id % (s->exists > 0 ? s->exists : 1));
		break;
	case S_LOGOUT:
		n = snprintf(s->cmd, sizeof(s->cmd), "a%d LOGOUT\r\n", s->step);
		break;
	default:
		finish(s, "no command for this state");
		return false;
	}
	s->outlen = (size_t)n;
	s->outoff = 0;
	return flush_out(s);
}

/* The tagged OK of the current step (or the greeting) has arrived: check what came with it, go on. */
static bool advance(struct sess *s)
{
	char msg[160];

	switch (s->step) {
	case S_GREET:
		s->step = S_LOGIN;
		return send_step(s);
	case S_LOGIN:
		s->step = S_SELECT;
		return send_step(s);
	case S_SELECT:
		if (s->exists <= 0 || (o.messages && s->exists != o.messages)) {
			snprintf(msg, sizeof(msg), "SELECT INBOX: %ld messages, expected %ld", s->exists,
			         o.messages);
			finish(s, msg);
			return false;
		}
		if (lc.idle) {
			s->step = S_IDLE;
			lc.active--;
			return true;
		}
		s->step = S_FETCH;
		return send_step(s);
	case S_FETCH:
		if (s->fetched != s->exists) {
			snprintf(msg, sizeof(msg), "FETCH 1:* FLAGS: %ld FETCH lines for %ld messages",
			         s->fetched, s->exists);
			finish(s, msg);
			return false;
		}
		s->step = S_BODY;
		return send_step(s);
	case S_BODY:
		if (s->literal_bytes <= 0) {
			finish(s, "UID FETCH BODY.PEEK[]: no message body returned");
			return false;
		}
		s->step = S_LOGOUT;
		return send_step(s);
	case S_LOGOUT:
		lc.lat[lc.nlat++] = lc_now() - s->t0;
		finish(s, NULL);
		return false;
	default:
		finish(s, "reply in an unexpected state");
		return false;
	}
}

static bool starts(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && strncasecmp(line, prefix, n) == 0;
}

/* One line (CRLF included) of the server's output; false when the session has ended or failed. */
static bool on_line(struct sess *s, const char *line, size_t len)
{
	char tag[16];
	int tl;

	/* A line ending in {n} announces a literal of n bytes; the line goes on after it. */
	if (len >= 4 && line[len - 2] == '\r' && line[len - 3] == '}') {
		size_t i = len - 3, n = 0, mul = 1;
		while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9' && mul <= 1000000000) {
			n += (size_t)(line[i - 1] - '0') * mul;
			mul *= 10;
			i--;
		}
		if (i > 0 && i < len - 3 && (line[i - 1] == '{' || (line[i - 1] == '+' && i > 1))) {
			s->skip = n;
			if (s->step == S_BODY)
				s->literal_bytes += (long)n;
		}
	}
	if (s->step == S_IDLE) {
		fail_line(s, "unexpected output while", line, len);
		return false;
	}
	if (s->step == S_GREET) {
		if (!starts(line, len, "* OK")) {
			fail_line(s, "bad", line, len);
			return false;
		}
		return advance(s);
	}
	if (line[0] == '*') {
		long n;
		char word[16];
		if (s->step == S_SELECT && sscanf(line, "* %ld %15s", &n, word) == 2 &&
		    !strcasecmp(word, "EXISTS"))
			s->exists = n;
		else if (s->step == S_FETCH && sscanf(line, "* %ld %15s", &n, word) == 2 &&
		         !strcasecmp(word, "FETCH"))
			s->fetched++;
		else if (starts(line, len, "* BYE") && s->step != S_LOGOUT) {
			fail_line(s, "BYE during", line, len);
			return false;
		}
		return true;
	}
	tl = snprintf(tag, sizeof(tag), "a%d ", s->step);
	if (!starts(line, len, tag))
		return true; /* the rest of a line after a literal, or a continuation */
	if (!starts(line + tl, len - (size_t)tl, "OK")) {
		fail_line(s, "no OK for", line, len);
		return false;
	}
	return advance(s);
}

static void on_readable(struct sess *s)
{
	for (;;) {
		if (s->inlen == sizeof(s->in)) {
			finish(s, "line longer than the input buffer");
			return;
		}
		ssize_t n = recv(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen, 0);
		if (n == 0) {
			char msg[64];
			snprintf(msg, sizeof(msg), "connection closed by the server during %s",
			         step_name[s->step]);
			finish(s, msg);
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
		size_t start = 0;
		for (;;) {
			if (s->skip) {
				size_t k = s->inlen - start < s->skip ? s->inlen - start : s->skip;
				start += k;
				s->skip -= k;
				if (s->skip)
					break;
			}
			const char *line = s->in + start;
			const char *nl = memchr(line, '\n', s->inlen - start);
			if (!nl)
				break;
			size_t len = (size_t)(nl - line) + 1;
			start += len;
			if (!on_line(s, line, len))
				return;
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
	lc_want_out(s->fd, s, false);
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
	        "imap_load: %s c=%ld: %ld ok, %ld errors in %.3f s: %.1f sessions/s, p50 %.2f ms, p99 %.2f "
	        "ms\n",
	        lc.target, lc.concurrency, lc.nlat, lc.errors, elapsed, (double)lc.nlat / elapsed,
	        lc_pct(50) * 1e3, lc_pct(99) * 1e3);
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: imap_load -t HOST:PORT [-n SESSIONS] [-c CONCURRENCY] [-m MESSAGES] [-T SECONDS]\n"
	        "                 [-u USER] [-w PASSWORD] [-i IDLE -H HOLD-SECONDS]\n"
	        "  -n sessions in all (default 1000)   -c at most this many at a time (default 16)\n"
	        "  -m INBOX must hold this many messages (default: any, at least one)\n"
	        "  -T stop after this many seconds (60)\n"
	        "  -i open this many sessions, stop after SELECT and hold them -H seconds (default 30)\n");
	exit(64);
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "t:n:c:m:T:u:w:i:H:h")) != -1) {
		switch (c) {
		case 'm':
			o.messages = lc_number(optarg, 1, 100000000, usage);
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'w':
			o.pass = optarg;
			break;
		default:
			if (!lc_option(c, optarg, usage))
				usage();
		}
	}
	lc_check_target(optind != argc, "imap_load", usage);
	if (strlen(o.user) > 250 || strlen(o.pass) > 250 || strpbrk(o.user, "\"\\\r\n") ||
	    strpbrk(o.pass, "\"\\\r\n"))
		usage();
	struct lc_client cl = {.prog = "imap_load",
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
	return lc_run(&cl);
}
