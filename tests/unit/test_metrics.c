/* The metrics registry and its Prometheus text exposition (user/metrics/), the reader originctl stats
 * uses, the metrics endpoint's request parser (user/net/metrics_http.c) and the metrics keys of the
 * configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "metrics/metrics.h"
#include "net/metrics_http.h"

#define L(...) METRIC_LABELS(__VA_ARGS__)

/* The exposition of r as a NUL-terminated string (caller frees). */
static char *expose(const struct metrics *r)
{
	struct obuf b = {0};

	metrics_write(r, &b);
	obuf_append(&b, "", 1);
	assert_false(b.oom);
	return b.data;
}

/* The lines of text that start with prefix, joined by newlines. */
static char *lines_with(const char *text, const char *prefix)
{
	size_t cap = strlen(text) + 1, n = 0;
	char *o = calloc(1, cap);

	assert_non_null(o);
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (!strncmp(p, prefix, strlen(prefix))) {
			memcpy(o + n, p, len);
			n += len;
		}
		p += len;
	}
	return o;
}

static void assert_lines(const char *text, const char *prefix, const char *want)
{
	char *got = lines_with(text, prefix);
	if (strcmp(got, want) != 0)
		print_message("lines starting with %s:\n%s\nwanted:\n%s\n", prefix, got, want);
	assert_string_equal(got, want);
	free(got);
}

static void test_empty_registry(void **state)
{
	(void)state;
	struct metrics *r = metrics_new();
	char *t = expose(r);

	/* Every family has HELP and TYPE; the unlabelled ones a sample at 0, the labelled ones none. */
	for (int m = 0; m < M__COUNT; m++) {
		char help[256], type[256];
		static const char *const types[] = {"counter", "gauge", "histogram"};
		snprintf(help, sizeof(help), "# HELP %s ", metric_defs[m].name);
		snprintf(type, sizeof(type), "# TYPE %s %s\n", metric_defs[m].name,
		         types[metric_defs[m].type]);
		assert_non_null(strstr(t, help));
		assert_non_null(strstr(t, type));
		assert_true(strstr(t, help) < strstr(t, type));
	}
	assert_lines(t, "originmail_origin_limit_rejections_total",
	             "originmail_origin_limit_rejections_total 0\n");
	assert_lines(t, "originmail_bpf_attached", "originmail_bpf_attached 0\n");
	assert_lines(t, "originmail_connections_total", "");
	assert_int_equal(t[strlen(t) - 1], '\n');
	free(t);
	metrics_free(r);
}

static void test_counters_and_labels(void **state)
{
	(void)state;
	struct metrics *r = metrics_new();

	metrics_add_to(r, M_CONNECTIONS, 1, L("smtp", "smtp", "proxy-required"));
	metrics_add_to(r, M_CONNECTIONS, 1, L("imap", "imap", "direct"));
	metrics_add_to(r, M_CONNECTIONS, 2, L("smtp", "smtp", "proxy-required"));
	metrics_add_to(r, M_STORED_BYTES, 12345678901ull, L("smtp"));
	metrics_add_to(r, M_ORIGIN_LIMIT_REJECTIONS, 3, L());
	/* a gauge update on a counter, or a count on a gauge, is ignored */
	metrics_set_in(r, M_CONNECTIONS, 99, L("smtp", "smtp", "proxy-required"));
	char *t = expose(r);
	assert_lines(
	        t, "originmail_connections_total",
	        "originmail_connections_total{listener=\"smtp\",protocol=\"smtp\",verdict=\"proxy-required\"}"
	        " 3\n"
	        "originmail_connections_total{listener=\"imap\",protocol=\"imap\",verdict=\"direct\"} 1\n");
	assert_lines(t, "originmail_stored_bytes_total",
	             "originmail_stored_bytes_total{protocol=\"smtp\"} 12345678901\n");
	assert_lines(t, "originmail_origin_limit_rejections_total",
	             "originmail_origin_limit_rejections_total 3\n");
	free(t);
	metrics_free(r);
}

static void test_label_escaping(void **state)
{
	(void)state;
	struct metrics *r = metrics_new();

	metrics_add_to(r, M_PROXY_ERRORS, 1, L("a\"b\\c\nd"));
	metrics_add_to(r, M_PROXY_ERRORS, 1, L(NULL)); /* a missing value is the empty string */
	char *t = expose(r);
	assert_lines(t, "originmail_proxy_header_errors_total",
	             "originmail_proxy_header_errors_total{reason=\"a\\\"b\\\\c\\nd\"} 1\n"
	             "originmail_proxy_header_errors_total{reason=\"\"} 1\n");
	free(t);
	metrics_free(r);
}

static void test_gauges(void **state)
{
	(void)state;
	struct metrics *r = metrics_new();

	metrics_set_in(r, M_CONNECTIONS_OPEN, 7, L());
	metrics_set_in(r, M_BPF_MAP_ENTRIES, 12, L("conns"));
	metrics_set_in(r, M_BPF_MAP_ENTRIES, 2, L("instances"));
	metrics_set_in(r, M_BPF_MAP_ENTRIES, 13, L("conns"));
	char *t = expose(r);
	assert_lines(t, "originmail_connections_open", "originmail_connections_open 7\n");
	assert_lines(t, "originmail_bpf_map_entries",
	             "originmail_bpf_map_entries{map=\"conns\"} "
	             "13\noriginmail_bpf_map_entries{map=\"instances\"} 2\n");
	free(t);
	metrics_clear(r, M_BPF_MAP_ENTRIES);
	t = expose(r);
	assert_lines(t, "originmail_bpf_map_entries", "");
	free(t);
	metrics_free(r);
}

static void test_histogram(void **state)
{
	(void)state;
	struct metrics *r = metrics_new();
	const struct metric_def *d = &metric_defs[M_PROXY_WAIT];

	assert_int_equal(d->type, METRIC_HISTOGRAM);
	for (size_t i = 1; i < d->nbuckets; i++)
		assert_true(d->buckets[i - 1] < d->buckets[i]);
	metrics_observe_in(r, M_PROXY_WAIT, 0.0002, L("smtp"));
	metrics_observe_in(r, M_PROXY_WAIT, 0.001, L("smtp")); /* on a bound: counted in it (le) */
	metrics_observe_in(r, M_PROXY_WAIT, 0.3, L("smtp"));
	metrics_observe_in(r, M_PROXY_WAIT, 60, L("smtp")); /* above every bound: +Inf only */
	char *t = expose(r);
	assert_lines(t, "originmail_proxy_header_wait_seconds_bucket{listener=\"smtp\",le=\"0.0005\"}",
	             "originmail_proxy_header_wait_seconds_bucket{listener=\"smtp\",le=\"0.0005\"} 1\n");
	assert_lines(t, "originmail_proxy_header_wait_seconds_bucket{listener=\"smtp\",le=\"0.001\"}",
	             "originmail_proxy_header_wait_seconds_bucket{listener=\"smtp\",le=\"0.001\"} 2\n");
	assert_lines(t, "originmail_proxy_header_wait_seconds_bucket{listener=\"smtp\",le=\"0.25\"}",
	             "originmail_proxy_header_wait_seconds_bucket{listener=\"smtp\",le=\"0.25\"} 2\n");
	assert_lines(t, "originmail_proxy_header_wait_seconds_bucket{listener=\"smtp\",le=\"0.5\"}",
	             "originmail_proxy_header_wait_seconds_bucket{listener=\"smtp\",le=\"0.5\"} 3\n");
	assert_lines(t, "originmail_proxy_header_wait_seconds_bucket{listener=\"smtp\",le=\"10\"}",
	             "originmail_proxy_header_wait_seconds_bucket{listener=\"smtp\",le=\"10\"} 3\n");
	assert_lines(t, "originmail_proxy_header_wait_seconds_bucket{listener=\"smtp\",le=\"+Inf\"}",
	             "originmail_proxy_header_wait_seconds_bucket{listener=\"smtp\",le=\"+Inf\"} 4\n");
	assert_lines(t, "originmail_proxy_header_wait_seconds_sum",
	             "originmail_proxy_header_wait_seconds_sum{listener=\"smtp\"} 60.3012\n");
	free(t);
	/* _sum and _count carry the labels too */
	t = expose(r);
	assert_non_null(strstr(t, "originmail_proxy_header_wait_seconds_count{listener=\"smtp\"} 4\n"));
	assert_null(strstr(t, "originmail_proxy_header_wait_seconds_sum 60"));
	free(t);
	metrics_free(r);
}

static void test_format_value(void **state)
{
	(void)state;
	char b[64];

	metrics_format_value(0, b, sizeof(b));
	assert_string_equal(b, "0");
	metrics_format_value(42, b, sizeof(b));
	assert_string_equal(b, "42");
	metrics_format_value(0.1, b, sizeof(b));
	assert_string_equal(b, "0.1");
	metrics_format_value(1e21, b, sizeof(b));
	assert_string_equal(b, "1e+21");
	metrics_format_value(1.0 / 3, b, sizeof(b));
	assert_true(strtod(b, NULL) == 1.0 / 3);
	metrics_format_value(INFINITY, b, sizeof(b));
	assert_string_equal(b, "+Inf");
	metrics_format_value(-INFINITY, b, sizeof(b));
	assert_string_equal(b, "-Inf");
	metrics_format_value(NAN, b, sizeof(b));
	assert_string_equal(b, "NaN");
}

/* What the writer writes, the reader reads back: every family, sample and label. */
static void test_round_trip(void **state)
{
	(void)state;
	struct metrics *r = metrics_new();
	struct metrics_text t;
	char err[256] = "";

	metrics_add_to(r, M_CONNECTIONS, 5, L("smtp", "smtp", "denied"));
	metrics_add_to(r, M_LOGINS, 2, L("imap", "failed"));
	metrics_add_to(r, M_PROXY_ERRORS, 1, L("q\"uo\\te\nd"));
	metrics_observe_in(r, M_PROXY_WAIT, 0.002, L("imap"));
	char *text = expose(r);
	assert_true(metrics_parse(text, strlen(text), &t, err, sizeof(err)));
	assert_int_equal(t.n, M__COUNT);
	for (int m = 0; m < M__COUNT; m++) {
		assert_string_equal(t.fams[m].name, metric_defs[m].name);
		assert_string_equal(t.fams[m].help, metric_defs[m].help);
	}
	assert_string_equal(t.fams[M_CONNECTIONS].type, "counter");
	assert_int_equal(t.fams[M_CONNECTIONS].n, 1);
	assert_string_equal(metric_sample_label(&t.fams[M_CONNECTIONS].samples[0], "verdict"), "denied");
	assert_true(t.fams[M_CONNECTIONS].samples[0].value == 5);
	assert_string_equal(metric_sample_label(&t.fams[M_PROXY_ERRORS].samples[0], "reason"),
	                    "q\"uo\\te\nd");
	assert_string_equal(t.fams[M_PROXY_WAIT].type, "histogram");
	assert_int_equal(t.fams[M_PROXY_WAIT].n, metric_defs[M_PROXY_WAIT].nbuckets + 3);
	assert_null(metric_sample_label(&t.fams[M_LOGINS].samples[0], "nope"));
	metrics_text_free(&t);
	free(text);
	metrics_free(r);
}

static void test_reader_strict(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "a 1",                      /* no final newline */
	        "a{b=\"c\" 1\n",            /* no closing brace */
	        "a{b=\"c} 1\n",             /* unterminated value */
	        "a{b=c} 1\n",               /* unquoted value */
	        "a{b=\"c\",b=\"d\"} 1\n",   /* repeated label */
	        "a{b=\"\\x\"} 1\n",         /* bad escape */
	        "a one\n",                  /* bad value */
	        "a 0x10\n",                 /* hex is not a value */
	        "a 1 12.5\n",               /* bad timestamp */
	        "1a 1\n",                   /* bad name */
	        "a\n",                      /* no value */
	        "# TYPE a countr\n",        /* unknown type */
	        "a 1\n# TYPE a counter\n",  /* TYPE after samples */
	        "# HELP a x\n# HELP a y\n", /* two HELP lines */
	        "a 1\r\n",                  /* CRLF */
	        "a{b:c=\"d\"} 1\n",         /* ':' in a label name */
	};
	struct metrics_text t;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		bool ok = metrics_parse(bad[i], strlen(bad[i]), &t, err, sizeof(err));
		if (ok)
			print_message("accepted: %s\n", bad[i]);
		assert_false(ok);
		assert_true(err[0] != '\0');
	}
	const char *good =
	        "# a comment\n\n# HELP x A \\\\ help\\nline\n# TYPE x gauge\nx{l=\"\"} -1.5e3 1700000000000\n"
	        "x NaN\ny +Inf\n";
	assert_true(metrics_parse(good, strlen(good), &t, err, sizeof(err)));
	assert_int_equal(t.n, 2);
	assert_string_equal(t.fams[0].help, "A \\ help\nline");
	assert_true(t.fams[0].samples[0].value == -1500);
	assert_true(isnan(t.fams[0].samples[1].value));
	assert_string_equal(t.fams[1].type, "untyped");
	assert_true(isinf(t.fams[1].samples[0].value));
	metrics_text_free(&t);
}

static void test_http_status(void **state)
{
	(void)state;
	static const struct {
		const char *req;
		int status;
	} cases[] = {
	        {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200},
	        {"GET /metrics HTTP/1.0\r\n\r\n", 200},
	        {"GET /metrics?name[]=x HTTP/1.1\r\n\r\n", 200},
	        {"GET /metrics HTTP/1.1\n\n", 200},
	        {"GET /metrics HTTP/1.1\r\nHost: x\r\n", 0}, /* the head is not over yet */
	        {"GET /metr", 0},
	        {"GET / HTTP/1.1\r\n\r\n", 404},
	        {"GET /metricsx HTTP/1.1\r\n\r\n", 404},
	        {"POST /metrics HTTP/1.1\r\n\r\n", 405},
	        {"HEAD /metrics HTTP/1.1\r\n\r\n", 405},
	        {"get /metrics HTTP/1.1\r\n\r\n", 405},
	        {"GET /metrics HTTP/2.0\r\n\r\n", 505},
	        {"GET /metrics HTTP/1.2\r\n\r\n", 505},
	        {"GET /metrics\r\n\r\n", 400},
	        {"GET  /metrics HTTP/1.1\r\n\r\n", 400},
	        {"GET /metrics HTTP/1.1 x\r\n\r\n", 400},
	        {"GET /metrics FTP/1.1\r\n\r\n", 400},
	        {"\r\n\r\n", 400},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = metrics_http_status(cases[i].req, strlen(cases[i].req));
		if (got != cases[i].status)
			print_message("request %zu: got %d, wanted %d\n", i, got, cases[i].status);
		assert_int_equal(got, cases[i].status);
	}
}

#define LISTENER "[listener a]\naddress = 127.0.0.1:2525\nprotocol = smtp\nproxy_trusted = 127.0.0.1\n"

static void test_config_keys(void **state)
{
	(void)state;
	struct config c;
	char err[512] = "";

	assert_true(config_parse(LISTENER, "t.conf", &c, err, sizeof(err)));
	assert_false(c.metrics); /* off by default */
	assert_int_equal(c.metrics_timeout_ms, 10000);
	assert_int_equal(c.metrics_max_clients, 16);
	assert_int_equal(c.metrics_max_request, 8192);
	config_free(&c);

	assert_true(config_parse("metrics = 127.0.0.1:9154\nmetrics_timeout = 2s\nmetrics_max_clients = 4\n"
	                         "metrics_max_request = 1K\n" LISTENER,
	                         "t.conf", &c, err, sizeof(err)));
	assert_true(c.metrics);
	assert_int_equal(c.metrics_addr.sa.sa_family, AF_INET);
	assert_int_equal(pp_sockaddr_port(&c.metrics_addr), 9154);
	assert_int_equal(c.metrics_timeout_ms, 2000);
	assert_int_equal(c.metrics_max_clients, 4);
	assert_int_equal(c.metrics_max_request, 1024);
	config_free(&c);

	assert_true(config_parse("metrics = [::1]:9155\n" LISTENER, "t.conf", &c, err, sizeof(err)));
	assert_true(c.metrics);
	assert_int_equal(c.metrics_addr.sa.sa_family, AF_INET6);
	config_free(&c);
	assert_true(config_parse("metrics = 127.5.6.7:1\n" LISTENER, "t.conf", &c, err, sizeof(err)));
	config_free(&c);
	assert_true(config_parse("metrics =\n" LISTENER, "t.conf", &c, err, sizeof(err)));
	assert_false(c.metrics);
	config_free(&c);

	static const struct {
		const char *line, *msg;
	} bad[] = {
	        {"metrics = 0.0.0.0:9154\n", "t.conf:1: metrics must listen on a loopback address "
	                                     "(127.0.0.0/8 or [::1]), not '0.0.0.0:9154': "
	                                     "the endpoint has no authentication"},
	        {"metrics = 192.0.2.1:9154\n", "t.conf:1: metrics must listen on a loopback address "
	                                       "(127.0.0.0/8 or [::1]), not '192.0.2.1:9154': "
	                                       "the endpoint has no authentication"},
	        {"metrics = [::]:9154\n", "t.conf:1: metrics must listen on a loopback address (127.0.0.0/8 "
	                                  "or [::1]), not '[::]:9154': the "
	                                  "endpoint has no authentication"},
	        {"metrics = [::ffff:127.0.0.1]:9154\n",
	         "t.conf:1: metrics must listen on a loopback address (127.0.0.0/8 or [::1]), not "
	         "'[::ffff:127.0.0.1]:9154': the endpoint has no authentication"},
	        {"metrics = localhost:9154\n",
	         "t.conf:1: bad address 'localhost:9154' for metrics (use 127.0.0.1:PORT or [::1]:PORT)"},
	        {"metrics = 127.0.0.1\n",
	         "t.conf:1: bad address '127.0.0.1' for metrics (use 127.0.0.1:PORT or [::1]:PORT)"},
	        {"metrics_timeout = 10ms\n", "t.conf:1: metrics_timeout must be between 100ms and 1h"},
	        {"metrics_max_clients = 0\n", "t.conf:1: metrics_max_clients must be between 1 and 1024"},
	        {"metrics_max_request = 100\n", "t.conf:1: metrics_max_request must be between 256 and 1M"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "%s%s", bad[i].line, LISTENER);
		err[0] = '\0';
		assert_false(config_parse(text, "t.conf", &c, err, sizeof(err)));
		assert_string_equal(err, bad[i].msg);
	}
	/* a listener key */
	assert_false(config_parse(LISTENER "metrics = 127.0.0.1:9154\n", "t.conf", &c, err, sizeof(err)));
	assert_string_equal(
	        err, "t.conf:5: 'metrics' is a global key: set it before the first [listener] section");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_empty_registry), cmocka_unit_test(test_counters_and_labels),
	        cmocka_unit_test(test_label_escaping), cmocka_unit_test(test_gauges),
	        cmocka_unit_test(test_histogram),      cmocka_unit_test(test_format_value),
	        cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_reader_strict),
	        cmocka_unit_test(test_http_status),    cmocka_unit_test(test_config_keys),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
