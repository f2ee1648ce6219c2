/* The metrics endpoint (metrics_http.h). Clients live in a fixed array sized by metrics_max_clients:
 * epoll data points into it, so the loop tells them from mail connections by address. */
#include "net/metrics_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log/log.h"
#include "metrics/metrics.h"
#include "net/server.h"

struct http_client {
	int fd; /* -1: a free slot */
	uint64_t deadline_ms;
	char *req;
	size_t req_len;
	struct obuf out;
	bool responding;
};

struct metrics_http {
	int fd, epfd;
	char listen_tag; /* the listener's epoll data points here */
	struct http_client *clients;
	size_t nclients;
	size_t max_request;
	unsigned timeout_ms;
	metrics_refresh_fn refresh;
	void *arg;
};

struct metrics_http *metrics_http_bind(const struct config *cfg, char *err, size_t errlen)
{
	const union pp_sockaddr *a = &cfg->metrics_addr;
	socklen_t len = a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in);
	struct metrics_http *m = calloc(1, sizeof(*m));
	int one = 1;

	if (m)
		m->clients = calloc(cfg->metrics_max_clients, sizeof(*m->clients));
	if (!m || !m->clients) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->nclients = cfg->metrics_max_clients;
	m->max_request = cfg->metrics_max_request;
	m->timeout_ms = cfg->metrics_timeout_ms;
	m->epfd = -1;
	for (size_t i = 0; i < m->nclients; i++)
		m->clients[i].fd = -1;
	/* No SO_REUSEPORT: two instances on one port would answer for each other at random. */
	m->fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd >= 0)
		setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (m->fd < 0 || bind(m->fd, &a->sa, len) != 0 || listen(m->fd, 64) != 0) {
		char text[INET6_ADDRSTRLEN];
		snprintf(err, errlen, "cannot listen on %s port %u (metrics): %s",
		         pp_sockaddr_ntop(a, text, sizeof(text)), pp_sockaddr_port(a), strerror(errno));
		metrics_http_close(m);
		return NULL;
	}
	return m;
}

bool metrics_http_start(struct metrics_http *m, int epfd, metrics_refresh_fn refresh, void *arg)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &m->listen_tag};
	union pp_sockaddr a = {0};
	socklen_t len = sizeof(a);

	m->epfd = epfd;
	m->refresh = refresh;
	m->arg = arg;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, m->fd, &ev) != 0)
		return false;
	if (getsockname(m->fd, &a.sa, &len) == 0) {
		char text[INET6_ADDRSTRLEN];
		log_info("Metrics on http://%s%s%s:%u/metrics", a.sa.sa_family == AF_INET6 ? "[" : "",
		         pp_sockaddr_ntop(&a, text, sizeof(text)), a.sa.sa_family == AF_INET6 ? "]" : "",
		         pp_sockaddr_port(&a));
	}
	return true;
}

bool metrics_http_owns(const struct metrics_http *m, const void *ptr)
{
	return m && (ptr == &m->listen_tag ||
	             (ptr >= (const void *)m->clients && ptr < (const void *)(m->clients + m->nclients)));
}

static void drop(struct metrics_http *m, struct http_client *c)
{
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	free(c->req);
	c->req = NULL;
	c->req_len = 0;
	obuf_free(&c->out);
	c->responding = false;
}

static bool token_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && !memcmp(s, word, len);
}

int metrics_http_status(const char *buf, size_t len)
{
	const char *eol = memchr(buf, '\n', len);

	/* The head ends with an empty line; the request line is all we read of it. */
	if (!eol || (!memmem(buf, len, "\r\n\r\n", 4) && !memmem(buf, len, "\n\n", 2)))
		return 0;
	/* "METHOD SP TARGET SP HTTP/1.x" */
	size_t n = (size_t)(eol - buf);
	if (n && buf[n - 1] == '\r')
		n--;
	const char *sp1 = memchr(buf, ' ', n);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - buf)) : NULL;
	if (!sp1 || !sp2 || sp1 == buf || sp2 == sp1 + 1 || memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - buf)))
		return 400;
	size_t vlen = n - (size_t)(sp2 + 1 - buf);
	if (vlen != 8 || memcmp(sp2 + 1, "HTTP/", 5) != 0 || sp2[7] != '.')
		return 400;
	if (sp2[6] != '1' || (sp2[8] != '0' && sp2[8] != '1'))
		return 505;
	const char *target = sp1 + 1;
	size_t tlen = (size_t)(sp2 - target), plen = strcspn(target, "? ");
	if (plen > tlen)
		plen = tlen;
	if (!token_is(target, plen, "/metrics"))
		return 404;
	if (!token_is(buf, (size_t)(sp1 - buf), "GET"))
		return 405;
	return 200;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Bad Request";
	}
}

static void respond(struct metrics_http *m, struct http_client *c, int status)
{
	struct obuf body = {0};

	if (status == 200) {
		if (m->refresh)
			m->refresh(m->arg);
		metrics_write(metrics_default(), &body);
	} else {
		obuf_printf(&body, "%d %s\n", status, reason(status));
	}
	obuf_printf(
	        &c->out,
	        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
	        status, reason(status),
	        status == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8",
	        body.len, status == 405 ? "Allow: GET\r\n" : "");
	obuf_append(&c->out, body.data, body.len);
	obuf_free(&body);
	c->responding = true;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	epoll_ctl(m->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void on_accept(struct metrics_http *m)
{
	for (;;) {
		int fd = accept4(m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct http_client *c = NULL;
		for (size_t i = 0; i < m->nclients && !c; i++)
			if (m->clients[i].fd < 0)
				c = &m->clients[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (!c || !(c->req = malloc(m->max_request)) ||
		    epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			/* metrics_max_clients scrapes at once: a further one waits for none of them */
			if (c) {
				free(c->req);
				c->req = NULL;
			}
			log_debug("Metrics: refused a client (%s)", c ? "out of memory" : "too many clients");
			close(fd);
			continue;
		}
		c->fd = fd;
		c->req_len = 0;
		c->deadline_ms = now_ms() + m->timeout_ms;
	}
}

static void on_readable(struct metrics_http *m, struct http_client *c)
{
	for (;;) {
		if (c->req_len == m->max_request) {
			respond(m, c, 431);
			return;
		}
		ssize_t n = recv(c->fd, c->req + c->req_len, m->max_request - c->req_len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			drop(m, c);
			return;
		}
		c->req_len += (size_t)n;
		int status = metrics_http_status(c->req, c->req_len);
		if (status) {
			respond(m, c, status);
			return;
		}
	}
}

static void on_writable(struct metrics_http *m, struct http_client *c)
{
	while (c->out.len) {
		ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			drop(m, c);
			return;
		}
		obuf_consume(&c->out, (size_t)n);
	}
	shutdown(c->fd, SHUT_WR);
	drop(m, c);
}

void metrics_http_on_events(struct metrics_http *m, void *ptr, uint32_t events)
{
	struct http_client *c = ptr;

	if (ptr == &m->listen_tag) {
		on_accept(m);
		return;
	}
	if (c->fd < 0)
		return;
	if (c->out.oom) {
		drop(m, c);
		return;
	}
	if (c->responding) {
		on_writable(m, c);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(m, c);
}

void metrics_http_sweep(struct metrics_http *m, uint64_t now)
{
	for (size_t i = 0; m && i < m->nclients; i++) {
		struct http_client *c = &m->clients[i];
		if (c->fd < 0 || now < c->deadline_ms)
			continue;
		if (c->responding) /* a reader that does not take the response */
			drop(m, c);
		else
			respond(m, c, 408);
		c->deadline_ms = now + m->timeout_ms;
	}
}

void metrics_http_close(struct metrics_http *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nclients; i++)
		if (m->clients[i].fd >= 0)
			drop(m, &m->clients[i]);
	if (m->fd >= 0)
		close(m->fd);
	free(m->clients);
	free(m);
}
