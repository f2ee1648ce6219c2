/* PROXY protocol decoder cost per header, against the cost of merely copying the header's bytes.
 *
 * Build (from the repository root):
 *   mkdir -p build
 *   gcc -std=gnu11 -O2 -Wall -Wextra -Werror -Iinclude user/proxy/[*].c bench/proxy_bench.c
 *       -o build/proxy_bench
 * ([*] stands for a plain star, which cannot follow a slash inside a C comment.)
 * Run: build/proxy_bench [-n ITERATIONS] [-r REPEATS] [--markdown]
 *
 * Per case, three figures measured in the same run, interleaved so that frequency changes hit all alike:
 *   decode:   pp_decoder_init, pp_decoder_feed of the whole header, pp_decoder_header, pp_decoder_free
 *             (what the daemon does per connection);
 *   one-shot: pp_decode of the header;
 *   copy:     memcpy of the header into a connection buffer, behind a compiler barrier.
 * Each is ITERATIONS calls (default 3,000,000), timed with CLOCK_MONOTONIC, repeated REPEATS times
 * (default 5): the table shows median [min-max] ns per header, and the ratios of the medians.
 * Goal: decoding v1 and v2-without-TLVs costs under 4x the copy. */
#include "originmail/proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GOAL_RATIO  4.0
#define MAX_REPEATS 101

#define barrier() asm volatile("" ::: "memory")

struct bench_case {
	const char *name;
	int version;
	bool goal_applies;
	struct pp_encode_spec spec;
	uint8_t hdr[512];
	size_t len;
};

struct stat3 {
	double med, min, max;
};

static volatile size_t sink;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double time_decode(const struct bench_case *c, long n)
{
	const struct pp_options opt = {0, 0};
	size_t acc = 0;
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		struct pp_decoder d;
		size_t consumed;
		const struct pp_header *h;

		pp_decoder_init(&d, &opt);
		if (pp_decoder_feed(&d, c->hdr, c->len, &consumed) == PP_DONE && (h = pp_decoder_header(&d)))
			acc += h->header_len + consumed;
		pp_decoder_free(&d);
	}
	t0 = now_ns() - t0;
	sink += acc;
	return t0 / (double)n;
}

static double time_oneshot(const struct bench_case *c, long n)
{
	const struct pp_options opt = {0, 0};
	size_t acc = 0;
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		struct pp_header h;
		enum pp_error err;

		if (pp_decode(c->hdr, c->len, &opt, &h, &err) == PP_DONE)
			acc += h.header_len;
	}
	t0 = now_ns() - t0;
	sink += acc;
	return t0 / (double)n;
}

static double time_copy(const struct bench_case *c, long n)
{
	static uint8_t connbuf[4096];
	const uint8_t *src = c->hdr;
	volatile size_t vlen = c->len; /* a length the compiler cannot fold, as a read's would be */
	size_t len = vlen;
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		asm volatile("" : "+r"(src), "+r"(len)); /* fresh source and length every time */
		memcpy(connbuf, src, len);
		barrier(); /* the copy must have happened: anything may read connbuf */
	}
	t0 = now_ns() - t0;
	sink += connbuf[0];
	return t0 / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct stat3 summarize(double *v, int n)
{
	struct stat3 s;

	qsort(v, (size_t)n, sizeof *v, cmp_double);
	s.min = v[0];
	s.max = v[n - 1];
	s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

static void die(const char *what, const char *name)
{
	fprintf(stderr, "proxy_bench: %s: %s\n", name, what);
	exit(1);
}

static void set_addrs(struct bench_case *c, const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	if (!pp_sockaddr_parse(&c->spec.src, src, sport) || !pp_sockaddr_parse(&c->spec.dst, dst, dport))
		die("pp_sockaddr_parse failed", c->name);
}

/* Encode each case's header and check that both decoders take all of it. */
static void build(struct bench_case *c)
{
	const struct pp_options opt = {0, 0};
	struct pp_decoder d;
	struct pp_header h;
	enum pp_error err = PP_OK;
	size_t consumed = 0;
	long n;

	if (c->version == 1)
		n = pp_encode_v1((char *)c->hdr, sizeof c->hdr, &c->spec);
	else
		n = pp_encode_v2(c->hdr, sizeof c->hdr, &c->spec);
	if (n <= 0)
		die("encoding failed", c->name);
	c->len = (size_t)n;

	if (pp_decode(c->hdr, c->len, &opt, &h, &err) != PP_DONE || h.header_len != c->len) {
		fprintf(stderr, "proxy_bench: %s: pp_decode did not take the header: %s\n", c->name,
		        pp_strerror(err));
		exit(1);
	}
	pp_decoder_init(&d, &opt);
	if (pp_decoder_feed(&d, c->hdr, c->len, &consumed) != PP_DONE || consumed != c->len ||
	    pp_decoder_header(&d) == NULL || pp_decoder_header(&d)->header_len != c->len) {
		fprintf(stderr, "proxy_bench: %s: the decoder did not take the header: %s\n", c->name,
		        pp_strerror(pp_decoder_error(&d)));
		exit(1);
	}
	pp_decoder_free(&d);
}

static void usage(void)
{
	fprintf(stderr, "usage: proxy_bench [-n ITERATIONS] [-r REPEATS (1..%d)] [--markdown]\n",
	        MAX_REPEATS);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct pp_ssl_spec ssl = {
	        .client = PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS,
	        .verify = 0,
	        .version = "TLSv1.3",
	        .cn = "client.example.org",
	        .cipher = "TLS_AES_256_GCM_SHA384",
	        .sig_alg = "RSA-SHA256",
	        .key_alg = "RSA2048",
	};
	struct bench_case cases[] = {
	        {.name = "v1 TCP4", .version = 1, .goal_applies = true},
	        {.name = "v1 TCP6", .version = 1, .goal_applies = true},
	        {.name = "v2 TCP4, no TLVs", .version = 2, .goal_applies = true},
	        {.name = "v2 TCP6, SSL+CRC32C", .version = 2, .goal_applies = false},
	};
	enum { NCASES = sizeof cases / sizeof cases[0] };
	struct stat3 dec[NCASES], one[NCASES], cpy[NCASES];
	long iters = 3000000;
	int repeats = 5;
	bool markdown = false;

	for (int i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--markdown") == 0) {
			markdown = true;
		} else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			iters = strtol(argv[++i], &end, 10);
			if (*end != '\0' || iters <= 0)
				usage();
		} else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
			repeats = (int)strtol(argv[++i], &end, 10);
			if (*end != '\0' || repeats < 1 || repeats > MAX_REPEATS)
				usage();
		} else {
			usage();
		}
	}

	for (int c = 0; c < NCASES; c++) {
		cases[c].spec.command = PP_CMD_PROXY;
		cases[c].spec.transport = PP_TRANS_STREAM;
	}
	cases[0].spec.family = PP_FAM_INET;
	set_addrs(&cases[0], "192.0.2.123", 56324, "198.51.100.25", 25);
	cases[1].spec.family = PP_FAM_INET6;
	set_addrs(&cases[1], "2001:db8:85a3::8a2e:370:7334", 56324, "2001:db8:1::25", 25);
	cases[2].spec.family = PP_FAM_INET;
	set_addrs(&cases[2], "192.0.2.123", 56324, "198.51.100.25", 25);
	cases[3].spec.family = PP_FAM_INET6;
	set_addrs(&cases[3], "2001:db8:85a3::8a2e:370:7334", 56324, "2001:db8:1::25", 465);
	cases[3].spec.ssl = &ssl;
	cases[3].spec.crc32c = true;

	for (int c = 0; c < NCASES; c++)
		build(&cases[c]);

	for (int c = 0; c < NCASES; c++) {
		double d[MAX_REPEATS] = {0}, o[MAX_REPEATS] = {0}, k[MAX_REPEATS] = {0};
		long warm = iters / 10 ? iters / 10 : 1;

		time_decode(&cases[c], warm);
		time_oneshot(&cases[c], warm);
		time_copy(&cases[c], warm);
		for (int r = 0; r < repeats; r++) {
			d[r] = time_decode(&cases[c], iters);
			o[r] = time_oneshot(&cases[c], iters);
			k[r] = time_copy(&cases[c], iters);
		}
		dec[c] = summarize(d, repeats);
		one[c] = summarize(o, repeats);
		cpy[c] = summarize(k, repeats);
	}

	printf("%s%ld iterations x %d repeats; ns per header: median [min-max]\n", markdown ? "" : "# ",
	       iters, repeats);
	if (markdown) {
		printf("\n| case | header bytes | decode ns | one-shot ns | copy ns | decode/copy | "
		       "one-shot/copy |\n");
		printf("|---|---:|---:|---:|---:|---:|---:|\n");
	} else {
		printf("%-20s %6s  %-22s %-22s %-22s %7s %9s\n", "case", "bytes", "decode ns", "one-shot ns",
		       "copy ns", "dec/cp", "1shot/cp");
	}
	for (int c = 0; c < NCASES; c++) {
		char a[64], b[64], k[64];

		snprintf(a, sizeof a, "%.1f [%.1f-%.1f]", dec[c].med, dec[c].min, dec[c].max);
		snprintf(b, sizeof b, "%.1f [%.1f-%.1f]", one[c].med, one[c].min, one[c].max);
		snprintf(k, sizeof k, "%.1f [%.1f-%.1f]", cpy[c].med, cpy[c].min, cpy[c].max);
		if (markdown)
			printf("| %s | %zu | %s | %s | %s | %.1fx | %.1fx |\n", cases[c].name, cases[c].len,
			       a, b, k, dec[c].med / cpy[c].med, one[c].med / cpy[c].med);
		else
			printf("%-20s %6zu  %-22s %-22s %-22s %6.1fx %8.1fx\n", cases[c].name, cases[c].len,
			       a, b, k, dec[c].med / cpy[c].med, one[c].med / cpy[c].med);
	}

	printf("%sgoal (decode under %.0fx copy, for v1 and v2-without-TLVs):", markdown ? "\n" : "",
	       GOAL_RATIO);
	for (int c = 0; c < NCASES; c++) {
		double rd = dec[c].med / cpy[c].med, ro = one[c].med / cpy[c].med;

		if (cases[c].goal_applies)
			printf(" %s %s (%.1fx; one-shot %.1fx)%s", cases[c].name,
			       rd < GOAL_RATIO ? "MET" : "MISSED", rd, ro, c + 1 < NCASES ? ";" : "");
		else
			printf(" %s n/a, the goal does not apply (would be %s: %.1fx; one-shot %.1fx)%s",
			       cases[c].name, rd < GOAL_RATIO ? "met" : "missed", rd, ro,
			       c + 1 < NCASES ? ";" : "");
	}
	printf("\n");
	return 0;
}
