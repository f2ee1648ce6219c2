/* PROXY decoder fed incrementally (every split, byte by byte, with payload behind the header), its
 * sticky and reset behaviour, pp_strerror, and encoder -> decoder round trips. */
#include "test_util.h"

struct sample {
	const char *name;
	uint8_t *buf; /* header followed by payload */
	size_t hlen;  /* header bytes */
	size_t len;   /* header + payload */
};

static const char smtp_payload[] = "EHLO x\r\n";
static const uint8_t tls_payload[] = {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03};

static struct sample make_sample(const char *name, const void *hdr, size_t hlen, const void *pay, size_t plen)
{
	struct sample s = {name, malloc(hlen + plen), hlen, hlen + plen};
	assert_non_null(s.buf);
	memcpy(s.buf, hdr, hlen);
	if (plen)
		memcpy(s.buf + hlen, pay, plen);
	return s;
}

static struct sample v1_sample(const char *name, const char *line)
{
	return make_sample(name, line, strlen(line), smtp_payload, strlen(smtp_payload));
}

static struct sample bb_sample(const char *name, struct bb *b)
{
	struct sample s = make_sample(name, b->p, b->len, tls_payload, sizeof(tls_payload));
	bb_free(b);
	return s;
}

/* The valid headers every incremental test runs over. */
static size_t valid_samples(struct sample *out)
{
	size_t n = 0;
	struct bb b;

	out[n++] = v1_sample("v1 tcp4", "PROXY TCP4 192.0.2.1 198.51.100.22 35646 25\r\n");
	out[n++] = v1_sample("v1 tcp6", "PROXY TCP6 2001:db8::1 ::ffff:192.0.2.9 65535 0\r\n");
	out[n++] = v1_sample("v1 unknown", "PROXY UNKNOWN\r\n");
	out[n++] = v1_sample("v1 unknown 107", "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	                                       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");

	v2_start_inet(&b, CMD_PROXY);
	bb_v2_finish(&b);
	out[n++] = bb_sample("v2 inet", &b);

	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x21);
	bb_inet6(&b, "2001:db8::1", "2001:db8::25", 40000, 465);
	size_t crc = bb_crc_tlv(&b);
	bb_tlv_str(&b, PP2_TYPE_ALPN, "smtp");
	size_t s = bb_tlv_begin(&b, PP2_TYPE_SSL);
	bb_u8(&b, PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS);
	bb_u32(&b, 0);
	bb_tlv_str(&b, PP2_SUBTYPE_SSL_VERSION, "TLSv1.3");
	bb_tlv_str(&b, PP2_SUBTYPE_SSL_CN, "client.example.org");
	bb_tlv_str(&b, PP2_SUBTYPE_SSL_KEY_ALG, "EC256");
	bb_tlv_str(&b, PP2_SUBTYPE_SSL_SIG_ALG, "ECDSA-SHA256");
	bb_tlv_str(&b, PP2_SUBTYPE_SSL_CIPHER, "TLS_AES_128_GCM_SHA256");
	bb_tlv_end(&b, s);
	bb_v2_finish(&b);
	bb_crc_fix(&b, crc);
	out[n++] = bb_sample("v2 inet6 ssl crc", &b);

	/* larger than the 256-byte inline buffer */
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x31);
	bb_unix(&b, "/run/haproxy.sock", "/run/originmail/smtp.sock");
	bb_tlv_str(&b, PP2_TYPE_AUTHORITY, "mx1.example.org");
	bb_tlv(&b, 0xE0, NULL, 0);
	bb_fill(&b, 'u', 60);
	b.p[b.len - 61] = 60;
	bb_v2_finish(&b);
	assert_true(b.len > PP_INLINE_BUF);
	out[n++] = bb_sample("v2 unix > 256", &b);

	bb_init(&b);
	bb_v2_start(&b, CMD_LOCAL, 0x00);
	bb_v2_finish(&b);
	out[n++] = bb_sample("v2 local", &b);
	return n;
}

static void free_samples(struct sample *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i].buf);
}

/* ---- valid headers, any split ---- */

static void test_split_two_chunks(void **state)
{
	(void)state;
	struct sample s[16];
	size_t n = valid_samples(s);
	for (size_t i = 0; i < n; i++) {
		struct pp_header ref;
		t_decode(s[i].buf, s[i].len, NULL, &ref, PP_DONE);
		assert_int_equal(ref.header_len, s[i].hlen);
		for (size_t k = 0; k <= s[i].len; k++) {
			struct pp_decoder d;
			size_t used = 777;
			pp_decoder_init(&d, NULL);
			enum pp_status st = pp_decoder_feed(&d, s[i].buf, k, &used);
			if (k < s[i].hlen) {
				if (st != PP_NEED_MORE)
					print_message("  %s split at %zu: first chunk gave %s/%s\n",
					              s[i].name, k, t_statusname(st),
					              t_errname(pp_decoder_error(&d)));
				assert_int_equal(st, PP_NEED_MORE);
				assert_int_equal(used, k);
				assert_null(pp_decoder_header(&d));
				st = pp_decoder_feed(&d, s[i].buf + k, s[i].len - k, &used);
				if (st != PP_DONE)
					print_message("  %s split at %zu: second chunk gave %s/%s\n",
					              s[i].name, k, t_statusname(st),
					              t_errname(pp_decoder_error(&d)));
				assert_int_equal(st, PP_DONE);
				assert_int_equal(used, s[i].hlen - k);
			} else {
				assert_int_equal(st, PP_DONE);
				assert_int_equal(used, s[i].hlen);
				/* the rest is the caller's: a further feed takes none of it */
				assert_int_equal(pp_decoder_feed(&d, s[i].buf + k, s[i].len - k, &used),
				                 PP_DONE);
				assert_int_equal(used, 0);
			}
			assert_int_equal(pp_decoder_error(&d), PP_OK);
			const struct pp_header *h = pp_decoder_header(&d);
			assert_non_null(h);
			same_header(h, &ref);
			pp_decoder_free(&d);
		}
	}
	free_samples(s, n);
}

static void test_byte_at_a_time(void **state)
{
	(void)state;
	struct sample s[16];
	size_t n = valid_samples(s);
	for (size_t i = 0; i < n; i++) {
		struct pp_header ref;
		t_decode(s[i].buf, s[i].hlen, NULL, &ref, PP_DONE);
		struct pp_decoder d;
		pp_decoder_init(&d, NULL);
		size_t total = 0, used;
		for (size_t k = 0; k < s[i].len; k++) {
			enum pp_status st = pp_decoder_feed(&d, s[i].buf + k, 1, &used);
			total += used;
			if (k + 1 < s[i].hlen) {
				if (st != PP_NEED_MORE)
					print_message("  %s byte %zu: %s/%s\n", s[i].name, k,
					              t_statusname(st), t_errname(pp_decoder_error(&d)));
				assert_int_equal(st, PP_NEED_MORE);
				assert_int_equal(used, 1);
			} else if (k + 1 == s[i].hlen) {
				assert_int_equal(st, PP_DONE);
				assert_int_equal(used, 1);
			} else {
				assert_int_equal(st, PP_DONE);
				assert_int_equal(used, 0);
			}
		}
		assert_int_equal(total, s[i].hlen);
		same_header(pp_decoder_header(&d), &ref);
		pp_decoder_free(&d);
	}
	free_samples(s, n);
}

/* Header and payload in one buffer: exactly the header is consumed, the payload is left alone. */
static void test_payload_untouched(void **state)
{
	(void)state;
	struct sample s[16];
	size_t n = valid_samples(s);
	for (size_t i = 0; i < n; i++) {
		uint8_t *copy = malloc(s[i].len);
		assert_non_null(copy);
		memcpy(copy, s[i].buf, s[i].len);

		struct pp_header h;
		t_decode(s[i].buf, s[i].len, NULL, &h, PP_DONE);
		assert_int_equal(h.header_len, s[i].hlen);

		struct pp_decoder d;
		size_t used = 0;
		pp_decoder_init(&d, NULL);
		assert_int_equal(pp_decoder_feed(&d, s[i].buf, s[i].len, &used), PP_DONE);
		assert_int_equal(used, s[i].hlen);
		assert_int_equal(pp_decoder_header(&d)->header_len, s[i].hlen);
		assert_memory_equal(copy, s[i].buf, s[i].len);
		if (s[i].buf[0] == 'P')
			assert_memory_equal(s[i].buf + used, "EHLO x\r\n", 8);
		else
			assert_memory_equal(s[i].buf + used, tls_payload, sizeof(tls_payload));
		pp_decoder_free(&d);
		free(copy);
	}
	free_samples(s, n);
}

/* ---- errors, any split ---- */

static size_t error_samples(struct sample *out)
{
	size_t n = 0;
	struct bb b;
	char longline[201];

	out[n++] = v1_sample("v1 bad port", "PROXY TCP4 192.0.2.1 198.51.100.22 65536 25\r\n");
	out[n++] = v1_sample("v1 bare LF", "PROXY TCP4 192.0.2.1 198.51.100.22 1 25\n");
	out[n++] = v1_sample("v1 CR inside", "PROXY TCP4 192.0.2.1\r198.51.100.22 1 25\r\n");
	out[n++] = v1_sample("v1 proto", "PROXY TCP5 192.0.2.1 198.51.100.22 1 25\r\n");
	out[n++] = v1_sample("v1 src addr", "PROXY TCP4 192.0.2.256 198.51.100.22 1 25\r\n");
	memset(longline, 'x', 200);
	memcpy(longline, "PROXY UNKNOWN ", 14);
	longline[200] = '\0';
	out[n++] = v1_sample("v1 too long", longline);
	out[n++] = v1_sample("not proxy", "EHLO mail.example.org\r\n");
	out[n++] = make_sample("tls", tls_payload, sizeof(tls_payload), NULL, 0);

	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x13);
	bb_inet(&b, "192.0.2.1", "198.51.100.2", 1, 2);
	bb_v2_finish(&b);
	out[n++] = bb_sample("v2 family", &b);

	v2_start_inet(&b, CMD_PROXY);
	bb_tlv_str(&b, PP2_TYPE_ALPN, "smtp");
	bb_u8(&b, 0xE0);
	bb_u16(&b, 9);
	bb_str(&b, "short");
	bb_v2_finish(&b);
	out[n++] = bb_sample("v2 tlv truncated", &b);

	v2_start_inet(&b, CMD_PROXY);
	size_t crc = bb_crc_tlv(&b);
	bb_tlv_str(&b, PP2_TYPE_NOOP, "abc");
	bb_v2_finish(&b);
	bb_crc_fix(&b, crc);
	b.p[b.len - 1] ^= 1;
	out[n++] = bb_sample("v2 crc mismatch", &b);

	v2_start_inet(&b, CMD_PROXY);
	bb_tlv_str(&b, PP2_TYPE_UNIQUE_ID, "a");
	bb_tlv_str(&b, PP2_TYPE_UNIQUE_ID, "b");
	bb_v2_finish(&b);
	out[n++] = bb_sample("v2 duplicate", &b);

	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x11);
	b.p[14] = 0x20;
	bb_fill(&b, 0, 40);
	out[n++] = bb_sample("v2 too large", &b);
	return n;
}

static void test_errors_split(void **state)
{
	(void)state;
	struct sample s[16];
	size_t n = error_samples(s);
	for (size_t i = 0; i < n; i++) {
		struct pp_header ref;
		enum pp_error want = t_decode(s[i].buf, s[i].len, NULL, &ref, PP_ERROR);
		assert_int_not_equal(want, PP_OK);
		/* two chunks, at every boundary */
		for (size_t k = 0; k <= s[i].len; k++) {
			struct pp_decoder d;
			size_t used;
			pp_decoder_init(&d, NULL);
			enum pp_status st = pp_decoder_feed(&d, s[i].buf, k, &used);
			assert_true(used <= k);
			if (st == PP_NEED_MORE) {
				assert_int_equal(used, k);
				st = pp_decoder_feed(&d, s[i].buf + k, s[i].len - k, &used);
			}
			if (st != PP_ERROR || pp_decoder_error(&d) != want)
				print_message("  %s split at %zu: %s/%s, one-shot said %s\n", s[i].name, k,
				              t_statusname(st), t_errname(pp_decoder_error(&d)),
				              t_errname(want));
			assert_int_equal(st, PP_ERROR);
			assert_int_equal(pp_decoder_error(&d), want);
			assert_null(pp_decoder_header(&d));
			pp_decoder_free(&d);
		}
		/* one byte at a time */
		struct pp_decoder d;
		size_t used;
		enum pp_status st = PP_NEED_MORE;
		pp_decoder_init(&d, NULL);
		for (size_t k = 0; k < s[i].len && st == PP_NEED_MORE; k++)
			st = pp_decoder_feed(&d, s[i].buf + k, 1, &used);
		assert_int_equal(st, PP_ERROR);
		assert_int_equal(pp_decoder_error(&d), want);
		pp_decoder_free(&d);
	}
	free_samples(s, n);
}

/* ---- sticky status, reset ---- */

static void test_sticky(void **state)
{
	(void)state;
	const char *l = "PROXY TCP4 192.0.2.1 198.51.100.22 35646 25\r\n";
	const char *l2 = "PROXY TCP6 ::1 ::2 1 2\r\n";
	struct pp_decoder d;
	size_t used;
	pp_decoder_init(&d, NULL);
	assert_int_equal(pp_decoder_feed(&d, l, strlen(l), &used), PP_DONE);
	for (int i = 0; i < 3; i++) {
		used = 99;
		assert_int_equal(pp_decoder_feed(&d, l2, strlen(l2), &used), PP_DONE);
		assert_int_equal(used, 0);
		assert_int_equal(pp_decoder_error(&d), PP_OK);
		t_assert_addr(&pp_decoder_header(&d)->src, AF_INET, "192.0.2.1", 35646);
	}
	pp_decoder_free(&d);

	pp_decoder_init(&d, NULL);
	assert_int_equal(pp_decoder_feed(&d, "GET / HTTP/1.1\r\n", 16, &used), PP_ERROR);
	assert_int_equal(pp_decoder_error(&d), PP_ERR_NOT_PROXY);
	assert_int_equal(used, 0); /* no header: the request is the caller's */
	for (int i = 0; i < 3; i++) {
		used = 99;
		assert_int_equal(pp_decoder_feed(&d, l, strlen(l), &used), PP_ERROR);
		assert_int_equal(used, 0);
		assert_int_equal(pp_decoder_error(&d), PP_ERR_NOT_PROXY);
		assert_null(pp_decoder_header(&d));
	}
	pp_decoder_free(&d);
}

static void test_reset_reuse(void **state)
{
	(void)state;
	struct sample s[16];
	size_t n = valid_samples(s);
	struct pp_decoder d;
	size_t used;
	pp_decoder_init(&d, NULL);
	/* every sample, then every sample again, on one decoder */
	for (size_t r = 0; r < 2 * n; r++) {
		size_t i = r % n;
		struct pp_header ref;
		t_decode(s[i].buf, s[i].len, NULL, &ref, PP_DONE);
		assert_int_equal(pp_decoder_feed(&d, s[i].buf, s[i].len, &used), PP_DONE);
		assert_int_equal(used, s[i].hlen);
		same_header(pp_decoder_header(&d), &ref);
		pp_decoder_reset(&d);
		assert_null(pp_decoder_header(&d));
		assert_int_equal(pp_decoder_error(&d), PP_OK);
	}
	/* after an error */
	assert_int_equal(pp_decoder_feed(&d, "PROXY TCP9 x\r\n", 14, &used), PP_ERROR);
	pp_decoder_reset(&d);
	assert_int_equal(pp_decoder_feed(&d, s[0].buf, s[0].len, &used), PP_DONE);
	/* in the middle of a (large) header */
	pp_decoder_reset(&d);
	assert_int_equal(pp_decoder_feed(&d, s[6].buf, s[6].hlen - 1, &used), PP_NEED_MORE);
	pp_decoder_reset(&d);
	assert_int_equal(pp_decoder_feed(&d, s[4].buf, s[4].len, &used), PP_DONE);
	assert_int_equal(used, s[4].hlen);
	assert_int_equal(pp_decoder_header(&d)->version, 2);
	pp_decoder_free(&d);

	/* options survive a reset */
	struct pp_options o = {.accept = PP_ACCEPT_V2, .max_header = 64};
	pp_decoder_init(&d, &o);
	assert_int_equal(pp_decoder_feed(&d, s[0].buf, s[0].len, &used), PP_ERROR);
	assert_int_equal(pp_decoder_error(&d), PP_ERR_VERSION_REFUSED);
	pp_decoder_reset(&d);
	assert_int_equal(pp_decoder_feed(&d, s[0].buf, s[0].len, &used), PP_ERROR);
	assert_int_equal(pp_decoder_error(&d), PP_ERR_VERSION_REFUSED);
	pp_decoder_reset(&d);
	assert_int_equal(pp_decoder_feed(&d, s[6].buf, s[6].len, &used), PP_ERROR);
	assert_int_equal(pp_decoder_error(&d), PP_ERR_V2_TOO_LARGE);
	pp_decoder_reset(&d);
	assert_int_equal(pp_decoder_feed(&d, s[4].buf, s[4].len, &used), PP_DONE);
	pp_decoder_free(&d);
	free_samples(s, n);
}

static void test_strerror(void **state)
{
	(void)state;
	for (int a = 0; a < PP_ERR__COUNT; a++) {
		const char *sa = pp_strerror((enum pp_error)a);
		assert_non_null(sa);
		assert_true(strlen(sa) > 0);
		for (int b = 0; b < a; b++) {
			if (strcmp(sa, pp_strerror((enum pp_error)b)) == 0)
				print_message("  %s and %s share \"%s\"\n", t_errname((enum pp_error)a),
				              t_errname((enum pp_error)b), sa);
			assert_string_not_equal(sa, pp_strerror((enum pp_error)b));
		}
	}
}

/* ---- encoder -> decoder ---- */

static struct pp_encode_spec spec_inet(enum pp_command cmd)
{
	struct pp_encode_spec sp;
	memset(&sp, 0, sizeof(sp));
	sp.command = cmd;
	sp.family = PP_FAM_INET;
	sp.transport = PP_TRANS_STREAM;
	assert_true(pp_sockaddr_parse(&sp.src, "192.0.2.1", 12345));
	assert_true(pp_sockaddr_parse(&sp.dst, "198.51.100.2", 25));
	return sp;
}

static struct pp_encode_spec spec_inet6(void)
{
	struct pp_encode_spec sp = spec_inet(PP_CMD_PROXY);
	sp.family = PP_FAM_INET6;
	assert_true(pp_sockaddr_parse(&sp.src, "2001:db8::1", 40000));
	assert_true(pp_sockaddr_parse(&sp.dst, "2001:db8::25", 587));
	return sp;
}

static struct pp_encode_spec spec_unix(void)
{
	struct pp_encode_spec sp;
	memset(&sp, 0, sizeof(sp));
	sp.command = PP_CMD_PROXY;
	sp.family = PP_FAM_UNIX;
	sp.transport = PP_TRANS_STREAM;
	sp.src.un.sun_family = AF_UNIX;
	strcpy(sp.src.un.sun_path, "/run/a.sock");
	sp.dst.un.sun_family = AF_UNIX;
	strcpy(sp.dst.un.sun_path, "/run/b.sock");
	return sp;
}

static void v1_round(const struct pp_encode_spec *sp, const char *want)
{
	char out[256];
	long n = pp_encode_v1(out, sizeof(out), sp);
	assert_int_equal(n, (long)strlen(want));
	assert_memory_equal(out, want, strlen(want));
	struct pp_header h;
	t_expect_ok(out, (size_t)n, &h);
	assert_int_equal(h.version, 1);
	if (sp->command == PP_CMD_PROXY && (sp->family == PP_FAM_INET || sp->family == PP_FAM_INET6)) {
		assert_int_equal(h.family, sp->family);
		same_addr(&h.src, &sp->src);
		same_addr(&h.dst, &sp->dst);
	} else {
		assert_int_equal(h.family, PP_FAM_UNSPEC);
	}
	/* too small, down to nothing */
	assert_int_equal(pp_encode_v1(out, (size_t)n - 1, sp), -1);
	assert_int_equal(pp_encode_v1(out, 1, sp), -1);
	assert_int_equal(pp_encode_v1(out, 0, sp), -1);
}

static void test_encode_v1(void **state)
{
	(void)state;
	struct pp_encode_spec sp = spec_inet(PP_CMD_PROXY);
	v1_round(&sp, "PROXY TCP4 192.0.2.1 198.51.100.2 12345 25\r\n");
	sp = spec_inet6();
	v1_round(&sp, "PROXY TCP6 2001:db8::1 2001:db8::25 40000 587\r\n");
	sp = spec_unix();
	v1_round(&sp, "PROXY UNKNOWN\r\n");
	memset(&sp, 0, sizeof(sp));
	sp.command = PP_CMD_PROXY;
	sp.family = PP_FAM_UNSPEC;
	v1_round(&sp, "PROXY UNKNOWN\r\n");
	sp = spec_inet(PP_CMD_LOCAL);
	v1_round(&sp, "PROXY UNKNOWN\r\n");

	/* an address of the wrong family */
	char out[256];
	sp = spec_inet(PP_CMD_PROXY);
	assert_true(pp_sockaddr_parse(&sp.src, "2001:db8::1", 1));
	assert_int_equal(pp_encode_v1(out, sizeof(out), &sp), -1);
	sp = spec_inet(PP_CMD_PROXY);
	assert_true(pp_sockaddr_parse(&sp.dst, "2001:db8::1", 1));
	assert_int_equal(pp_encode_v1(out, sizeof(out), &sp), -1);
	sp = spec_inet6();
	assert_true(pp_sockaddr_parse(&sp.src, "192.0.2.1", 1));
	assert_int_equal(pp_encode_v1(out, sizeof(out), &sp), -1);
}

static void v2_round(const struct pp_encode_spec *sp, const uint8_t *want, size_t wlen, struct pp_header *h,
                     uint8_t *out, size_t cap)
{
	long n = pp_encode_v2(out, cap, sp);
	assert_true(n >= 16);
	if (want) {
		assert_int_equal(n, (long)wlen);
		assert_memory_equal(out, want, wlen);
	}
	t_expect_ok_opt(out, (size_t)n, &(struct pp_options){.accept = 0, .max_header = PP_V2_MAX_LEN}, h);
	assert_int_equal(h->version, 2);
	assert_int_equal(h->header_len, (size_t)n);
	assert_int_equal(h->command, sp->command);
	if (sp->command == PP_CMD_PROXY) {
		assert_int_equal(h->family, sp->family);
		if (sp->family != PP_FAM_UNSPEC) {
			same_addr(&h->src, &sp->src);
			same_addr(&h->dst, &sp->dst);
		}
	} else {
		assert_int_equal(h->src.sa.sa_family, AF_UNSPEC);
	}
	/* exactly enough room is enough; one byte less is not */
	uint8_t *tight = malloc((size_t)n);
	assert_non_null(tight);
	assert_int_equal(pp_encode_v2(tight, (size_t)n, sp), n);
	assert_int_equal(pp_encode_v2(tight, (size_t)n - 1, sp), -1);
	assert_int_equal(pp_encode_v2(tight, 15, sp), -1);
	assert_int_equal(pp_encode_v2(tight, 0, sp), -1);
	free(tight);
}

static void test_encode_v2_families(void **state)
{
	(void)state;
	uint8_t out[1024];
	struct pp_header h;
	struct bb b;

	struct pp_encode_spec sp = spec_inet(PP_CMD_PROXY);
	v2_start_inet(&b, CMD_PROXY);
	bb_v2_finish(&b);
	v2_round(&sp, b.p, b.len, &h, out, sizeof(out));
	bb_free(&b);

	sp = spec_inet6();
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x21);
	bb_inet6(&b, "2001:db8::1", "2001:db8::25", 40000, 587);
	bb_v2_finish(&b);
	v2_round(&sp, b.p, b.len, &h, out, sizeof(out));
	bb_free(&b);

	sp = spec_unix();
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x31);
	bb_unix(&b, "/run/a.sock", "/run/b.sock");
	bb_v2_finish(&b);
	v2_round(&sp, b.p, b.len, &h, out, sizeof(out));
	assert_string_equal(h.src.un.sun_path, "/run/a.sock");
	bb_free(&b);

	memset(&sp, 0, sizeof(sp));
	sp.command = PP_CMD_PROXY;
	sp.family = PP_FAM_UNSPEC;
	sp.transport = PP_TRANS_UNSPEC;
	v2_round(&sp, (const uint8_t *)PP_V2_SIGNATURE "\x21\x00\x00\x00", 16, &h, out, sizeof(out));
	sp.command = PP_CMD_LOCAL;
	v2_round(&sp, (const uint8_t *)PP_V2_SIGNATURE "\x20\x00\x00\x00", 16, &h, out, sizeof(out));

	/* datagram transport */
	sp = spec_inet(PP_CMD_PROXY);
	sp.transport = PP_TRANS_DGRAM;
	v2_round(&sp, NULL, 0, &h, out, sizeof(out));
	assert_int_equal(out[13], 0x12);
	assert_int_equal(h.transport, PP_TRANS_DGRAM);

	/* LOCAL with addresses: the decoder reports none */
	sp = spec_inet(PP_CMD_LOCAL);
	v2_round(&sp, NULL, 0, &h, out, sizeof(out));
	assert_int_equal(h.command, PP_CMD_LOCAL);
}

static void test_encode_v2_tlvs(void **state)
{
	(void)state;
	uint8_t out[1024];
	struct pp_header h;
	const struct pp_tlv_spec tlvs[] = {
	        {PP2_TYPE_ALPN, 4, "smtp"},
	        {0xE0, 3, "abc"},
	        {PP2_TYPE_NOOP, 0, ""},
	        {PP2_TYPE_AUTHORITY, 11, "example.org"},
	        {PP2_TYPE_UNIQUE_ID, 2, "\x00\x01"},
	        {PP2_TYPE_NETNS, 3, "red"},
	};
	struct pp_encode_spec sp = spec_inet(PP_CMD_PROXY);
	sp.tlvs = tlvs;
	sp.ntlvs = ARRAY_LEN(tlvs);

	/* TLVs only: the bytes are exactly the hand-built ones */
	struct bb b;
	v2_start_inet(&b, CMD_PROXY);
	for (size_t i = 0; i < ARRAY_LEN(tlvs); i++)
		bb_tlv(&b, tlvs[i].type, tlvs[i].value, tlvs[i].len);
	bb_v2_finish(&b);
	v2_round(&sp, b.p, b.len, &h, out, sizeof(out));
	t_assert_str(h.alpn, "smtp");
	t_assert_str(h.authority, "example.org");
	t_assert_bytes(h.unique_id, "\x00\x01", 2);
	t_assert_str(h.netns, "red");
	assert_false(h.has_crc32c);
	bb_free(&b);

	/* with CRC32C: written first, with the CRC over the whole header */
	sp.crc32c = true;
	v2_start_inet(&b, CMD_PROXY);
	size_t crc = bb_crc_tlv(&b);
	for (size_t i = 0; i < ARRAY_LEN(tlvs); i++)
		bb_tlv(&b, tlvs[i].type, tlvs[i].value, tlvs[i].len);
	bb_v2_finish(&b);
	bb_crc_fix(&b, crc);
	v2_round(&sp, b.p, b.len, &h, out, sizeof(out));
	assert_true(h.has_crc32c);
	bb_free(&b);

	/* and SSL, last; CRC and the other TLVs keep their places */
	const struct pp_ssl_spec ssl = {PP2_CLIENT_SSL | PP2_CLIENT_CERT_SESS,
	                                0x0000000A,
	                                "TLSv1.3",
	                                "cn.example",
	                                "TLS_AES_256_GCM_SHA384",
	                                "SHA384",
	                                "RSA4096"};
	sp.ssl = &ssl;
	v2_round(&sp, NULL, 0, &h, out, sizeof(out));
	assert_true(h.has_crc32c);
	assert_true(h.ssl.present);
	assert_int_equal(h.ssl.client, ssl.client);
	assert_int_equal(h.ssl.verify, 10);
	t_assert_str(h.ssl.version, "TLSv1.3");
	t_assert_str(h.ssl.cn, "cn.example");
	t_assert_str(h.ssl.cipher, "TLS_AES_256_GCM_SHA384");
	t_assert_str(h.ssl.sig_alg, "SHA384");
	t_assert_str(h.ssl.key_alg, "RSA4096");
	size_t off = 0;
	struct pp_tlv t;
	assert_true(pp_tlv_next(&h, &off, &t));
	assert_int_equal(t.type, PP2_TYPE_CRC32C);
	for (size_t i = 0; i < ARRAY_LEN(tlvs); i++) {
		assert_true(pp_tlv_next(&h, &off, &t));
		assert_int_equal(t.type, tlvs[i].type);
		t_assert_bytes(t.value, tlvs[i].len ? tlvs[i].value : "", tlvs[i].len);
	}
	assert_true(pp_tlv_next(&h, &off, &t));
	assert_int_equal(t.type, PP2_TYPE_SSL);
	assert_false(pp_tlv_next(&h, &off, &t));

	/* SSL with sub-TLVs left out */
	const struct pp_ssl_spec bare = {PP2_CLIENT_SSL, 0, NULL, NULL, NULL, NULL, NULL};
	sp.ssl = &bare;
	sp.ntlvs = 0;
	sp.crc32c = false;
	v2_round(&sp, NULL, 0, &h, out, sizeof(out));
	assert_true(h.ssl.present);
	assert_int_equal(h.ssl.client, PP2_CLIENT_SSL);
	assert_null(h.ssl.version.data);
	assert_null(h.ssl.cn.data);
}

/* The 16-bit length field bounds a v2 header; the largest one round-trips through the heap buffer. */
static void test_encode_v2_limits(void **state)
{
	(void)state;
	size_t cap = PP_V2_MAX_LEN + 64;
	uint8_t *out = malloc(cap);
	uint8_t *val = calloc(1, 65535);
	assert_non_null(out);
	assert_non_null(val);
	struct pp_tlv_spec big = {0xE0, 65535 - 12 - 3, val};
	struct pp_encode_spec sp = spec_inet(PP_CMD_PROXY);
	sp.tlvs = &big;
	sp.ntlvs = 1;
	struct pp_header h;
	v2_round(&sp, NULL, 0, &h, out, cap);
	assert_int_equal(h.header_len, PP_V2_MAX_LEN);

	/* one byte over, and far over: the length field cannot say it */
	static const uint16_t over[] = {65535 - 12 - 2, 65535};
	for (size_t i = 0; i < ARRAY_LEN(over); i++) {
		const struct pp_tlv_spec huge = {0xE0, over[i], val};
		sp.tlvs = &huge;
		assert_int_equal(pp_encode_v2(out, cap, &sp), -1);
	}
	free(out);
	free(val);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_split_two_chunks),
	        cmocka_unit_test(test_byte_at_a_time),
	        cmocka_unit_test(test_payload_untouched),
	        cmocka_unit_test(test_errors_split),
	        cmocka_unit_test(test_sticky),
	        cmocka_unit_test(test_reset_reuse),
	        cmocka_unit_test(test_strerror),
	        cmocka_unit_test(test_encode_v1),
	        cmocka_unit_test(test_encode_v2_families),
	        cmocka_unit_test(test_encode_v2_tlvs),
	        cmocka_unit_test(test_encode_v2_limits),
	};
	return cmocka_run_group_tests_name("proxy_stream", tests, NULL, NULL);
}
