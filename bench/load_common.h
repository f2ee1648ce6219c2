/* What bench/smtp_load.c and bench/imap_load.c share: the target, the epoll run loop over a fixed array of
 * session slots, latency percentiles and the IDLE / RESULT lines the bench scripts parse. */
#ifndef BENCH_LOAD_COMMON_H
#define BENCH_LOAD_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One run's state; the clients' session code updates the counters. */
struct lc_run {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *target;
	long sessions, idle, concurrency;
	double limit_s, hold_s;
	int epfd;
	double *lat;
	long nlat, started, finished, errors, active;
	char first_error[512];
};

extern struct lc_run lc;

/* What the run loop asks of a client's session array. */
struct lc_client {
	const char *prog;
	char *sess; /* slots of size bytes each, from lc_setup */
	size_t size;
	long slots, total;
	bool (*is_free)(const void *s);
	bool (*is_idle)(const void *s);
	void (*open)(void *s);
	void (*on_events)(void *s, uint32_t events);
	void (*summary)(double elapsed); /* the human line on stderr */
};

double lc_now(void);
bool lc_parse_target(const char *t);
long lc_number(const char *s, long min, long max, void (*usage)(void));
/* The options both clients take (-t -n -c -T -i -H); false for any other. */
bool lc_option(int opt, const char *arg, void (*usage)(void));
/* Usage unless the target parses and no argument is left over (extra). */
void lc_check_target(bool extra, const char *prog, void (*usage)(void));
/* Allocates the latency array, the epoll set and the slots; false (after a message) on failure. */
bool lc_setup(struct lc_client *c);
/* Counts an error, keeping the first message. */
void lc_error(unsigned id, const char *err);
/* Closes *fd and counts the session finished; busy says it still counted as active. */
void lc_close(int *fd, bool busy);
/* A non-blocking TCP_NODELAY connect added to the epoll set with ptr; -1 with *what and errno on failure
 * (a socket already made is left in *fd for the caller to close). */
int lc_connect(int *fd, void *ptr, const char **what);
/* 0 once a non-blocking connect has succeeded, else -1 with errno. */
int lc_connected(int fd);
/* The p-th percentile of the sorted latencies, in seconds. */
double lc_pct(double p);
void lc_want_out(int fd, void *ptr, bool want_out);
/* Sends buf[*off..len); waits for EPOLLOUT if the socket is full. false with errno on failure. */
bool lc_flush(int fd, void *ptr, const char *buf, size_t len, size_t *off);
/* Runs the sessions and prints IDLE or RESULT; the exit status. */
int lc_run(const struct lc_client *c);

#endif
