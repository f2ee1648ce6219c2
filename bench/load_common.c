#include "load_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct lc_run lc = {.sessions = 1000, .concurrency = 16, .limit_s = 60, .hold_s = 30};
static volatile sig_atomic_t stop_flag;

double lc_now(void)
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

bool lc_parse_target(const char *t)
{
	char host[256];
	const char *colon = strrchr(t, ':');
	struct sockaddr_in *a4 = (struct sockaddr_in *)&lc.addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&lc.addr;
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
	memset(&lc.addr, 0, sizeof(lc.addr));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		lc.addrlen = sizeof(*a4);
		return true;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		lc.addrlen = sizeof(*a6);
		return true;
	}
	return false;
}

long lc_number(const char *s, long min, long max, void (*usage)(void))
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end || v < min || v > max)
		usage();
	return v;
}

bool lc_option(int opt, const char *arg, void (*usage)(void))
{
	switch (opt) {
	case 't':
		lc.target = arg;
		return true;
	case 'n':
		lc.sessions = lc_number(arg, 1, 100000000, usage);
		return true;
	case 'c':
		lc.concurrency = lc_number(arg, 1, 100000, usage);
		return true;
	case 'T':
		lc.limit_s = (double)lc_number(arg, 1, 86400, usage);
		return true;
	case 'i':
		lc.idle = lc_number(arg, 1, 1000000, usage);
		return true;
	case 'H':
		lc.hold_s = (double)lc_number(arg, 0, 86400, usage);
		return true;
	default:
		return false;
	}
}

void lc_check_target(bool extra, const char *prog, void (*usage)(void))
{
	if (extra || !lc.target || !lc_parse_target(lc.target)) {
		if (lc.target)
			fprintf(stderr, "%s: bad target '%s' (IPv4:PORT or [IPv6]:PORT)\n", prog, lc.target);
		usage();
	}
}

bool lc_setup(struct lc_client *c)
{
	c->total = lc.idle ? lc.idle : lc.sessions;
	c->slots = lc.idle ? lc.idle : (lc.concurrency < c->total ? lc.concurrency : c->total);
	c->sess = calloc((size_t)c->slots, c->size);
	lc.lat = calloc((size_t)c->total, sizeof(*lc.lat));
	lc.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!c->sess || !lc.lat || lc.epfd < 0) {
		fprintf(stderr, "%s: setup: %s\n", c->prog, strerror(errno));
		free(c->sess);
		free(lc.lat);
		return false;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	return true;
}

void lc_error(unsigned id, const char *err)
{
	lc.errors++;
	if (!lc.first_error[0])
		snprintf(lc.first_error, sizeof(lc.first_error), "session %u: %s", id, err);
}

void lc_close(int *fd, bool busy)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	if (busy)
		lc.active--; /* an idle session stopped counting when it became idle */
	lc.finished++;
}

int lc_connect(int *fd, void *ptr, const char **what)
{
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = ptr};
	int one = 1;

	lc.active++;
	*fd = socket(lc.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*fd < 0) {
		*what = "socket";
		return -1;
	}
	setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(*fd, (struct sockaddr *)&lc.addr, lc.addrlen) != 0 && errno != EINPROGRESS) {
		*what = "connect";
		return -1;
	}
	if (epoll_ctl(lc.epfd, EPOLL_CTL_ADD, *fd, &ev) != 0) {
		*what = "epoll_ctl";
		return -1;
	}
	return 0;
}

int lc_connected(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
		errno = err ? err : errno;
		return -1;
	}
	return 0;
}

void lc_want_out(int fd, void *ptr, bool want_out)
{
	struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = ptr};

	epoll_ctl(lc.epfd, EPOLL_CTL_MOD, fd, &ev);
}

bool lc_flush(int fd, void *ptr, const char *buf, size_t len, size_t *off)
{
	while (*off < len) {
		ssize_t n = send(fd, buf + *off, len - *off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				lc_want_out(fd, ptr, true);
				return true;
			}
			if (errno == EINTR)
				continue;
			return false;
		}
		*off += (size_t)n;
	}
	lc_want_out(fd, ptr, false);
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double lc_pct(double p)
{
	if (lc.nlat == 0)
		return 0;
	long i = (long)(p / 100.0 * (double)lc.nlat + 0.5) - 1;
	return lc.lat[i < 0 ? 0 : i >= lc.nlat ? lc.nlat - 1 : i];
}

int lc_run(const struct lc_client *c)
{
	long total = c->total, slots = c->slots;
	double t0 = lc_now(), deadline = t0 + lc.limit_s, t_end;
	long next_free = 0;
	struct epoll_event ev[256];

	/* Load mode: the loop ends when every session has finished; idle mode: when none is connecting. */
	while (!stop_flag && (lc.idle ? lc.started < total || lc.active > 0 : lc.finished < total)) {
		/* Start sessions in free slots up to the concurrency (idle mode: connecting ones count). */
		for (long scan = 0; lc.started < total && lc.active < lc.concurrency && scan < slots;
		     scan++) {
			void *s = c->sess + (size_t)next_free * c->size;
			next_free = (next_free + 1) % slots;
			if (c->is_free(s))
				c->open(s);
		}
		double left = deadline - lc_now();
		if (left <= 0)
			break;
		int n = epoll_wait(lc.epfd, ev, 256, left > 0.1 ? 100 : (int)(left * 1000) + 1);
		for (int i = 0; i < n; i++) {
			if (!c->is_free(ev[i].data.ptr))
				c->on_events(ev[i].data.ptr, ev[i].events);
		}
	}
	t_end = lc_now();
	long unfinished = 0;
	for (long i = 0; i < slots; i++) {
		const void *s = c->sess + (size_t)i * c->size;
		if (!c->is_free(s) && !c->is_idle(s))
			unfinished++;
	}
	if (unfinished && !lc.first_error[0])
		snprintf(lc.first_error, sizeof(lc.first_error), "%ld sessions unfinished after %.0f s",
		         unfinished, lc.limit_s);

	if (lc.idle) {
		long ready = 0;
		for (long i = 0; i < slots; i++)
			ready += c->is_idle(c->sess + (size_t)i * c->size);
		printf("IDLE ready=%ld errors=%ld setup_s=%.3f\n", ready, lc.errors + unfinished, t_end - t0);
		fflush(stdout);
		if (lc.first_error[0])
			fprintf(stderr, "%s: first error: %s\n", c->prog, lc.first_error);
		double until = lc_now() + lc.hold_s;
		while (!stop_flag && lc_now() < until) {
			int n = epoll_wait(lc.epfd, ev, 256, 100);
			for (int i = 0; i < n; i++) {
				if (c->is_idle(ev[i].data.ptr))
					c->on_events(ev[i].data.ptr, ev[i].events);
			}
		}
		return ready == total ? 0 : 1;
	}

	double elapsed = t_end - t0;
	qsort(lc.lat, (size_t)lc.nlat, sizeof(*lc.lat), cmp_double);
	lc.errors += unfinished;
	c->summary(elapsed);
	if (lc.first_error[0])
		fprintf(stderr, "%s: first error: %s\n", c->prog, lc.first_error);
	printf("RESULT ok=%ld errors=%ld elapsed_s=%.3f sessions_per_s=%.1f p50_ms=%.3f p99_ms=%.3f "
	       "max_ms=%.3f\n",
	       lc.nlat, lc.errors, elapsed, (double)lc.nlat / elapsed, lc_pct(50) * 1e3, lc_pct(99) * 1e3,
	       lc.nlat ? lc.lat[lc.nlat - 1] * 1e3 : 0.0);
	return lc.errors ? 1 : 0;
}
