/* IMAP load client: N sessions at concurrency C, or K idle sessions held open with INBOX selected.
 *
 * Build: make build/imap_load (cc -std=gnu11 -O2 -Wall -Wextra -Werror bench/imap_load.c)
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
#include <arpa/inet.h>
#include <errno.h>
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
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *target;
	long sessions, concurrency, idle, messages;
	double limit_s, hold_s;
	const char *user, *pass;
};

static struct opts o = {.sessions = 1000,
                        .concurrency = 16,
                        .limit_s = 60,
                        .hold_s = 30,
                        .user = "bench@example.test",
                        .pass = "bench-secret"};
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

static void set_events(const struct sess *s, bool want_out)
{
	struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = (void *)s};

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
	while (s->outoff < s->outlen) {
		ssize_t n = send(s->fd, s->cmd + s->outoff, s->outlen - s->outoff, MSG_NOSIGNAL);
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
		if (o.idle) {
			s->step = S_IDLE;
			active--;
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
		lat[nlat++] = now_s() - s->t0;
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
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
		errno = err ? err : errno;
		fail_errno(s, "connect");
		return;
	}
	s->step = S_GREET;
	set_events(s, false);
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
	        "usage: imap_load -t HOST:PORT [-n SESSIONS] [-c CONCURRENCY] [-m MESSAGES] [-T SECONDS]\n"
	        "                 [-u USER] [-w PASSWORD] [-i IDLE -H HOLD-SECONDS]\n"
	        "  -n sessions in all (default 1000)   -c at most this many at a time (default 16)\n"
	        "  -m INBOX must hold this many messages (default: any, at least one)\n"
	        "  -T stop after this many seconds (60)\n"
	        "  -i open this many sessions, stop after SELECT and hold them -H seconds (default 30)\n");
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

	while ((c = getopt(argc, argv, "t:n:c:m:T:u:w:i:H:h")) != -1) {
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
		case 'm':
			o.messages = number(optarg, 1, 100000000);
			break;
		case 'T':
			o.limit_s = (double)number(optarg, 1, 86400);
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'w':
			o.pass = optarg;
			break;
		case 'i':
			o.idle = number(optarg, 1, 1000000);
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
			fprintf(stderr, "imap_load: bad target '%s' (IPv4:PORT or [IPv6]:PORT)\n", o.target);
		usage();
	}
	if (strlen(o.user) > 250 || strlen(o.pass) > 250 || strpbrk(o.user, "\"\\\r\n") ||
	    strpbrk(o.pass, "\"\\\r\n"))
		usage();
	long total = o.idle ? o.idle : o.sessions;
	long slots = o.idle ? o.idle : (o.concurrency < total ? o.concurrency : total);
	struct sess *sess = calloc((size_t)slots, sizeof(*sess));
	lat = calloc((size_t)total, sizeof(*lat));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!sess || !lat || epfd < 0) {
		perror("imap_load: setup");
		free(sess);
		free(lat);
		return 1;
	}
	for (long i = 0; i < slots; i++)
		sess[i].step = S_FREE;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	double t0 = now_s(), deadline = t0 + o.limit_s, t_end;
	long next_free = 0;
	struct epoll_event ev[256];
	/* Load mode: the loop ends when every session has finished; idle mode: when none is connecting. */
	while (!stop_flag && (o.idle ? started < total || active > 0 : finished < total)) {
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
			fprintf(stderr, "imap_load: first error: %s\n", first_error);
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
	        "imap_load: %s c=%ld: %ld ok, %ld errors in %.3f s: %.1f sessions/s, p50 %.2f ms, p99 %.2f "
	        "ms\n",
	        o.target, o.concurrency, nlat, errors, elapsed, (double)nlat / elapsed, pct(50) * 1e3,
	        pct(99) * 1e3);
	if (first_error[0])
		fprintf(stderr, "imap_load: first error: %s\n", first_error);
	printf("RESULT ok=%ld errors=%ld elapsed_s=%.3f sessions_per_s=%.1f p50_ms=%.3f p99_ms=%.3f "
	       "max_ms=%.3f\n",
	       nlat, errors, elapsed, (double)nlat / elapsed, pct(50) * 1e3, pct(99) * 1e3,
	       nlat ? lat[nlat - 1] * 1e3 : 0.0);
	return errors ? 1 : 0;
}
