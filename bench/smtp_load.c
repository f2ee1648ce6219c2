/* SMTP load client: N sessions at concurrency C, or K idle sessions held open.
 *
 * Build: make build/smtp_load (cc -std=gnu11 -O2 -Wall -Wextra -Werror bench/smtp_load.c -lm)
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
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INBUF 8192

enum step { S_CONNECT, S_GREET, S_EHLO, S_MAIL, S_RCPT, S_DATA, S_BODY, S_QUIT, S_IDLE, S_FREE };

static const char *const step_name[] = {"connect", "greeting", "EHLO", "MAIL",
                                        "RCPT",    "DATA",     "body", "QUIT"};
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
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *target;
	long sessions, concurrency, idle;
	size_t size;
	int proxy; /* 0 none, 1 v1, 2 v2 */
	bool greet_only;
	double limit_s, hold_s;
	const char *from, *rcpt, *helo;
};

static struct opts o = {.sessions = 1000,
                        .concurrency = 16,
                        .size = 10240,
                        .limit_s = 60,
                        .hold_s = 30,
                        .from = "bench@client.example",
                        .rcpt = "bench@example.test",
                        .helo = "client.example"};
static char *message;
static size_t message_len;
static double *lat;
static long nlat, started, finished, errors, active;
static int epfd;
static char first_error[512];
static volatile sig_atomic_t stop_flag;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static bool parse_target(const char *t)
{
	char host[256];
	const char *colon = strrchr(t, ':');
	struct sockaddr_in *a4 = (struct sockaddr_in *)&o.addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&o.addr;
	size_t hl;
	char *end;
	long port;

	if (!colon)
		return false;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return false;
	hl = (size_t)(colon - t);
	if (hl >= 2 && t[0] == '[' && t[hl - 1] == ']') {
		t++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return false;
	memcpy(host, t, hl);
	host[hl] = '\0';
	memset(&o.addr, 0, sizeof(o.addr));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		o.addrlen = sizeof(*a4);
		return true;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		o.addrlen = sizeof(*a6);
		return true;
	}
	return false;
}

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
	bool v6 = o.addr.ss_family == AF_INET6;
	unsigned sport = 1024 + s->id % 60000, dport = ntohs(((struct sockaddr_in *)&o.addr)->sin_port);
	uint8_t src[16] = {0}, dst[16];
	size_t alen = v6 ? 16 : 4;

	if (v6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&o.addr;
		dport = ntohs(a6->sin6_port);
		memcpy(dst, &a6->sin6_addr, 16);
		src[0] = 0x20, src[1] = 0x01, src[2] = 0x0d, src[3] = 0xb8;
		src[15] = (uint8_t)(1 + s->id % 254);
	} else {
		memcpy(dst, &((const struct sockaddr_in *)&o.addr)->sin_addr, 4);
		src[0] = 203, src[1] = 0, src[2] = 113, src[3] = (uint8_t)(1 + s->id % 254);
	}
	if (o.proxy == 1) {
		char srctext[INET6_ADDRSTRLEN], dsttext[INET6_ADDRSTRLEN];
		inet_ntop(o.addr.ss_family, src, srctext, sizeof(srctext));
		inet_ntop(o.addr.ss_family, dst, dsttext, sizeof(dsttext));
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

static void set_events(struct sess *s, bool want_out)
{
	struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = s};

	epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
}

static void finish(struct sess *s, const char *err)
{
	if (err) {
		errors++;
		if (!first_error[0])
			snprintf(first_error, sizeof(first_error), "session %u: %s", s->id, err);
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->step != S_IDLE)
		active--; /* an idle session stopped counting when it became idle */
	s->step = S_FREE;
	finished++;
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
	while (s->outoff < s->outlen) {
		ssize_t n = send(s->fd, s->out + s->outoff, s->outlen - s->outoff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_events(s, true);
				return true;
			}
			if (errno == EINTR)
				continue;
			fail_errno(s, "send");
			return false;
		}
		s->outoff += (size_t)n;
	}
	set_events(s, false);
	return true;
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
		if (o.idle) {
			s->step = S_IDLE;
			active--;
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
		lat[nlat++] = now_s() - s->t0;
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
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
		errno = err ? err : errno;
		fail_errno(s, "connect");
		return;
	}
	s->step = S_GREET;
	if (o.proxy) {
		size_t n = proxy_header(s, s->cmd, sizeof(s->cmd));
		send_text(s, s->cmd, n);
	} else {
		set_events(s, false);
	}
}

static void open_session(struct sess *s)
{
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = s};

	memset(s, 0, offsetof(struct sess, in));
	s->inlen = 0;
	s->id = (unsigned)started++;
	s->t0 = now_s();
	s->step = S_CONNECT;
	active++;
	s->fd = socket(o.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		fail_errno(s, "socket");
		return;
	}
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s->fd, (struct sockaddr *)&o.addr, o.addrlen) != 0 && errno != EINPROGRESS) {
		fail_errno(s, "connect");
		return;
	}
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0)
		fail_errno(s, "epoll_ctl");
}

static void on_events(struct sess *s, uint32_t events)
{
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(double p)
{
	if (nlat == 0)
		return 0;
	long i = (long)(p / 100.0 * (double)nlat + 0.5) - 1;
	return lat[i < 0 ? 0 : i >= nlat ? nlat - 1 : i];
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

static long number(const char *s, long min, long max)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end || v < min || v > max)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "t:n:c:s:p:T:f:r:e:i:H:gh")) != -1) {
		switch (c) {
		case 't':
			o.target = optarg;
			break;
		case 'n':
			o.sessions = number(optarg, 1, 100000000);
			break;
		case 'c':
			o.concurrency = number(optarg, 1, 100000);
			break;
		case 's':
			o.size = (size_t)number(optarg, 0, 1L << 30);
			break;
		case 'p':
			o.proxy = !strcmp(optarg, "v1")     ? 1
			          : !strcmp(optarg, "v2")   ? 2
			          : !strcmp(optarg, "none") ? 0
			                                    : -1;
			if (o.proxy < 0)
				usage();
			break;
		case 'T':
			o.limit_s = (double)number(optarg, 1, 86400);
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
		case 'i':
			o.idle = number(optarg, 1, 1000000);
			break;
		case 'g':
			o.greet_only = true;
			break;
		case 'H':
			o.hold_s = (double)number(optarg, 0, 86400);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !o.target || !parse_target(o.target)) {
		if (o.target)
			fprintf(stderr, "smtp_load: bad target '%s' (IPv4:PORT or [IPv6]:PORT)\n", o.target);
		usage();
	}
	if (strlen(o.from) > 500 || strlen(o.rcpt) > 500 || strlen(o.helo) > 500)
		usage();
	long total = o.idle ? o.idle : o.sessions;
	long slots = o.idle ? o.idle : (o.concurrency < total ? o.concurrency : total);
	struct sess *sess = calloc((size_t)slots, sizeof(*sess));
	lat = calloc((size_t)total, sizeof(*lat));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!sess || !lat || epfd < 0) {
		perror("smtp_load: setup");
		free(sess);
		free(lat);
		return 1;
	}
	for (long i = 0; i < slots; i++)
		sess[i].step = S_FREE;
	build_message();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	double t0 = now_s(), deadline = t0 + o.limit_s, t_end;
	long next_free = 0;
	struct epoll_event ev[256];
	/* Load mode: the loop ends when every session has finished; idle mode: when none is connecting. */
	while (!stop_flag && (o.idle ? started < total || active > 0 : finished < total)) {
		/* Start sessions in free slots up to the concurrency (idle mode: connecting ones count). */
		for (long scan = 0; started < total && active < o.concurrency && scan < slots; scan++) {
			struct sess *s = &sess[next_free];
			next_free = (next_free + 1) % slots;
			if (s->step == S_FREE)
				open_session(s);
		}
		double left = deadline - now_s();
		if (left <= 0)
			break;
		int n = epoll_wait(epfd, ev, 256, left > 0.1 ? 100 : (int)(left * 1000) + 1);
		for (int i = 0; i < n; i++) {
			struct sess *s = ev[i].data.ptr;
			if (s->step != S_FREE)
				on_events(s, ev[i].events);
		}
	}
	t_end = now_s();
	long unfinished = 0;
	for (long i = 0; i < slots; i++)
		if (sess[i].step != S_FREE && sess[i].step != S_IDLE)
			unfinished++;
	if (unfinished && !first_error[0])
		snprintf(first_error, sizeof(first_error), "%ld sessions unfinished after %.0f s", unfinished,
		         o.limit_s);

	if (o.idle) {
		long ready = 0;
		for (long i = 0; i < slots; i++)
			ready += sess[i].step == S_IDLE;
		printf("IDLE ready=%ld errors=%ld setup_s=%.3f\n", ready, errors + unfinished, t_end - t0);
		fflush(stdout);
		if (first_error[0])
			fprintf(stderr, "smtp_load: first error: %s\n", first_error);
		double until = now_s() + o.hold_s;
		while (!stop_flag && now_s() < until) {
			int n = epoll_wait(epfd, ev, 256, 100);
			for (int i = 0; i < n; i++) {
				struct sess *s = ev[i].data.ptr;
				if (s->step == S_IDLE)
					on_events(s, ev[i].events);
			}
		}
		return ready == total ? 0 : 1;
	}

	double elapsed = t_end - t0;
	qsort(lat, (size_t)nlat, sizeof(*lat), cmp_double);
	errors += unfinished;
	fprintf(stderr,
	        "smtp_load: %s proxy=%s c=%ld size=%zu: %ld ok, %ld errors in %.3f s: %.1f sessions/s, "
	        "p50 %.2f ms, p99 %.2f ms\n",
	        o.target,
	        o.proxy == 1   ? "v1"
	        : o.proxy == 2 ? "v2"
	                       : "none",
	        o.concurrency, message_len - 3, nlat, errors, elapsed, (double)nlat / elapsed, pct(50) * 1e3,
	        pct(99) * 1e3);
	if (first_error[0])
		fprintf(stderr, "smtp_load: first error: %s\n", first_error);
	printf("RESULT ok=%ld errors=%ld elapsed_s=%.3f sessions_per_s=%.1f p50_ms=%.3f p99_ms=%.3f "
	       "max_ms=%.3f\n",
	       nlat, errors, elapsed, (double)nlat / elapsed, pct(50) * 1e3, pct(99) * 1e3,
	       nlat ? lat[nlat - 1] * 1e3 : 0.0);
	return errors ? 1 : 0;
}
