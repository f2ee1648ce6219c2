/* The metrics endpoint: a loopback-only HTTP/1.x listener answering GET /metrics with the registry of
 * user/metrics/ in the Prometheus text format. It runs in the daemon's epoll loop: non-blocking, a bounded
 * request, a deadline, a bounded number of clients; one request per connection (Connection: close). */
#ifndef ORIGINMAIL_METRICS_HTTP_H
#define ORIGINMAIL_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "util/obuf.h"

struct metrics_http;

/* Called before each scrape is written, to bring the gauges up to date. */
typedef void (*metrics_refresh_fn)(void *arg);

/* Bind cfg->metrics_addr (before the privilege drop). NULL with the reason in err. */
struct metrics_http *metrics_http_bind(const struct config *cfg, char *err, size_t errlen);
/* Register the listener with epoll; scrapes call refresh(arg) first. */
bool metrics_http_start(struct metrics_http *m, int epfd, metrics_refresh_fn refresh, void *arg);
/* Does this epoll data pointer belong to the endpoint? Then metrics_http_on_events handles it. */
bool metrics_http_owns(const struct metrics_http *m, const void *ptr);
void metrics_http_on_events(struct metrics_http *m, void *ptr, uint32_t events);
/* Close the clients whose deadline has passed. */
void metrics_http_sweep(struct metrics_http *m, uint64_t now_ms);
void metrics_http_close(struct metrics_http *m);

/* The request parser, pure: the status for a complete request head in buf (GET /metrics: 200; another
 * path 404; another method 405; malformed 400; not HTTP/1.x 505), or 0 while the head is incomplete. */
int metrics_http_status(const char *buf, size_t len);

#endif
