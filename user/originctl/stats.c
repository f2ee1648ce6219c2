/* originctl stats: fetch GET /metrics from one originmaild (its `metrics` key) and print the figures as a
 * table for a terminal, or as JSON. The text is read with the strict parser of user/metrics/. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "json.h"
#include "metrics/metrics.h"
#include "originctl.h"

#define DEFAULT_ADDR    "127.0.0.1:9154"
#define MAX_RESPONSE    (16u << 20)
#define STATS_TIMEOUT_S 5

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: originctl stats [--json] [ADDR]\n"
	           "  the figures of one originmaild's metrics endpoint (its `metrics` key), as a table or "
	           "JSON;\n"
	           "  ADDR is HOST:PORT or [IPv6]:PORT (default " DEFAULT_ADDR ").\n"
	           "Exit: 0 printed, 1 cannot connect or bad response, 64 usage.\n");
	return rc;
}

/* "host:port" or "[v6]:port" into its parts (host without brackets). */
static bool split_addr(const char *addr, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close || close[1] != ':' || (size_t)(close - addr - 1) >= hcap)
			return false;
		snprintf(host, hcap, "%.*s", (int)(close - addr - 1), addr + 1);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || colon == addr || (size_t)(colon - addr) >= hcap ||
		    memchr(addr, ':', (size_t)(colon - addr)))
			return false;
		snprintf(host, hcap, "%.*s", (int)(colon - addr), addr);
	}
	if (!colon[1] || strlen(colon + 1) >= pcap || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return false;
	snprintf(port, pcap, "%s", colon + 1);
	return true;
}

static int connect_to(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	struct timeval tv = {.tv_sec = STATS_TIMEOUT_S};
	int fd = -1, rc = getaddrinfo(host, port, &hints, &res);

	if (rc != 0) {
		fprintf(stderr, "originctl: %s: %s\n", host, gai_strerror(rc));
		return -1;
	}
	for (const struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* connect() too */
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

/* The whole response (Connection: close) into a malloc'd buffer; NULL with a message on error. */
static char *fetch(const char *addr, size_t *len)
{
	char host[256], port[16], req[512];
	size_t cap = 65536;
	char *buf;
	int fd;

	if (!split_addr(addr, host, sizeof(host), port, sizeof(port))) {
		fprintf(stderr, "originctl: bad address '%s' (use HOST:PORT or [IPv6]:PORT)\n", addr);
		return NULL;
	}
	fd = connect_to(host, port);
	if (fd < 0) {
		fprintf(stderr,
		        "originctl: cannot connect to %s: %s (is `metrics` set in its configuration?)\n",
		        addr, strerror(errno));
		return NULL;
	}
	int n = snprintf(
	        req, sizeof(req),
	        "GET /metrics HTTP/1.1\r\nHost: %s\r\nUser-Agent: originctl\r\nAccept: text/plain\r\n"
	        "Connection: close\r\n\r\n",
	        addr);
	buf = malloc(cap);
	if (!buf || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		fprintf(stderr, "originctl: %s: %s\n", addr, buf ? strerror(errno) : "out of memory");
		goto fail;
	}
	*len = 0;
	for (;;) {
		if (*len + 1 >= cap) {
			char *p = cap < MAX_RESPONSE ? realloc(buf, cap * 2) : NULL;
			if (!p) {
				fprintf(stderr, "originctl: %s: response larger than %u bytes\n", addr,
				        MAX_RESPONSE);
				goto fail;
			}
			buf = p;
			cap *= 2;
		}
		ssize_t r = recv(fd, buf + *len, cap - *len - 1, 0);
		if (r == 0)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "originctl: %s: %s\n", addr,
			        errno == EAGAIN ? "no response in time" : strerror(errno));
			goto fail;
		}
		*len += (size_t)r;
	}
	buf[*len] = '\0';
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/* The body of a 200 response with the exposition's content type; NULL with a message otherwise. */
static const char *body_of(const char *addr, const char *resp, size_t len, size_t *blen)
{
	const char *end = strstr(resp, "\r\n\r\n");
	int status = 0;

	if (sscanf(resp, "HTTP/1.%*[01] %d", &status) != 1 || !end) {
		fprintf(stderr, "originctl: %s: not an HTTP response\n", addr);
		return NULL;
	}
	if (status != 200) {
		fprintf(stderr, "originctl: %s: HTTP status %d\n", addr, status);
		return NULL;
	}
	*blen = len - (size_t)(end + 4 - resp);
	return end + 4;
}

static void print_value(double v)
{
	char buf[64];
	metrics_format_value(v, buf, sizeof(buf));
	printf("%15s", buf);
}

/* "listener=smtp verdict=direct", without the histogram's le. */
static void label_text(const struct metric_sample *s, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->nlabels && n < cap; i++) {
		if (!strcmp(s->labels[i].name, "le"))
			continue;
		int w = snprintf(buf + n, cap - n, "%s%s=%s", n ? " " : "", s->labels[i].name,
		                 s->labels[i].value);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* A histogram in one line per label set: observations, their sum, the mean. */
static void print_histogram(const struct metric_text_family *f)
{
	char labels[512];

	for (size_t i = 0; i < f->n; i++) {
		const struct metric_sample *s = &f->samples[i];
		if (!ends_with(s->name, "_count"))
			continue;
		double sum = NAN;
		for (size_t k = 0; k < f->n; k++) {
			char a[512];
			label_text(&f->samples[k], a, sizeof(a));
			label_text(s, labels, sizeof(labels));
			if (ends_with(f->samples[k].name, "_sum") && !strcmp(a, labels))
				sum = f->samples[k].value;
		}
		label_text(s, labels, sizeof(labels));
		printf("  %-58s%15.0f  (sum %.6g s, mean %.3g ms)\n", labels[0] ? labels : "(all)", s->value,
		       sum, s->value > 0 ? sum / s->value * 1000 : 0.0);
	}
}

static void print_table(const char *addr, const struct metrics_text *t)
{
	char labels[512];

	printf("originmaild metrics at %s\n", addr);
	for (size_t i = 0; i < t->n; i++) {
		const struct metric_text_family *f = &t->fams[i];
		printf("\n%s\n  (%s, %s)\n", f->help ? f->help : f->name, f->name, f->type);
		if (!f->n) {
			printf("  %-58s%15s\n", "(nothing yet)", "0");
			continue;
		}
		if (!strcmp(f->type, "histogram")) {
			print_histogram(f);
			continue;
		}
		for (size_t k = 0; k < f->n; k++) {
			label_text(&f->samples[k], labels, sizeof(labels));
			printf("  %-58s", labels[0] ? labels : "(all)");
			print_value(f->samples[k].value);
			printf("\n");
		}
	}
}

static void print_json(const char *addr, const struct metrics_text *t)
{
	struct json j = {.out = stdout};

	json_begin_object(&j, NULL);
	json_cstr(&j, "source", addr);
	json_begin_array(&j, "metrics");
	for (size_t i = 0; i < t->n; i++) {
		const struct metric_text_family *f = &t->fams[i];
		json_begin_object(&j, NULL);
		json_cstr(&j, "name", f->name);
		json_cstr(&j, "type", f->type);
		json_cstr(&j, "help", f->help ? f->help : "");
		json_begin_array(&j, "samples");
		for (size_t k = 0; k < f->n; k++) {
			const struct metric_sample *s = &f->samples[k];
			json_begin_object(&j, NULL);
			json_cstr(&j, "name", s->name);
			json_begin_object(&j, "labels");
			for (size_t l = 0; l < s->nlabels; l++)
				json_cstr(&j, s->labels[l].name, s->labels[l].value);
			json_end_object(&j);
			json_double(&j, "value", s->value);
			json_end_object(&j);
		}
		json_end_array(&j);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	printf("\n");
}

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	bool as_json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j')
			as_json = true;
		else
			return usage(c == 'h' ? stdout : stderr, c == 'h' ? 0 : 64);
	}
	if (argc - optind > 1)
		return usage(stderr, 64);
	const char *addr = optind < argc ? argv[optind] : DEFAULT_ADDR;
	size_t len = 0, blen = 0;
	char *resp = fetch(addr, &len), err[256];
	const char *body = resp ? body_of(addr, resp, len, &blen) : NULL;
	struct metrics_text t;
	if (!body) {
		free(resp);
		return 1;
	}
	if (!metrics_parse(body, blen, &t, err, sizeof(err))) {
		fprintf(stderr, "originctl: %s: not the Prometheus text format: %s\n", addr, err);
		free(resp);
		return 1;
	}
	if (as_json)
		print_json(addr, &t);
	else
		print_table(addr, &t);
	metrics_text_free(&t);
	free(resp);
	return 0;
}
