/* Shared helpers for the PROXY codec unit tests: a byte builder for hand-made v2 headers, an independent
 * bitwise CRC32C, and decode wrappers that say which input failed. Header-only; every function is
 * static inline so that a test file may use any subset of them. */
#ifndef ORIGINMAIL_TEST_UTIL_H
#define ORIGINMAIL_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "originmail/proxy.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- names for messages ---- */

static inline const char *t_errname(enum pp_error e)
{
	static const char *const names[] = {
	        "PP_OK",
	        "PP_ERR_NOT_PROXY",
	        "PP_ERR_VERSION_REFUSED",
	        "PP_ERR_V1_TOO_LONG",
	        "PP_ERR_V1_NO_CRLF",
	        "PP_ERR_V1_SYNTAX",
	        "PP_ERR_V1_PROTO",
	        "PP_ERR_V1_SRC_ADDR",
	        "PP_ERR_V1_DST_ADDR",
	        "PP_ERR_V1_SRC_PORT",
	        "PP_ERR_V1_DST_PORT",
	        "PP_ERR_V2_VERSION",
	        "PP_ERR_V2_COMMAND",
	        "PP_ERR_V2_FAMILY",
	        "PP_ERR_V2_TOO_LARGE",
	        "PP_ERR_V2_ADDR_LEN",
	        "PP_ERR_V2_TLV_TRUNCATED",
	        "PP_ERR_V2_TLV_DUPLICATE",
	        "PP_ERR_V2_TLV_LENGTH",
	        "PP_ERR_V2_SSL_TRUNCATED",
	        "PP_ERR_V2_CRC32C",
	        "PP_ERR_NOMEM",
	};
	if ((unsigned)e < ARRAY_LEN(names))
		return names[e];
	return "(out of range)";
}

static inline const char *t_statusname(enum pp_status s)
{
	switch (s) {
	case PP_NEED_MORE:
		return "PP_NEED_MORE";
	case PP_DONE:
		return "PP_DONE";
	case PP_ERROR:
		return "PP_ERROR";
	}
	return "(bad status)";
}

/* Print up to 120 bytes of an input, C-escaped, so a failure names its input. */
static inline void t_show(const char *what, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	char out[600];
	size_t o = 0;

	for (size_t i = 0; i < len && i < 120 && o + 8 < sizeof(out); i++) {
		if (p[i] == '\r')
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\r");
		else if (p[i] == '\n')
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\n");
		else if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", p[i]);
	}
	out[o] = '\0';
	print_message("  %s (%zu bytes): \"%s%s\"\n", what, len, out, len > 120 ? "..." : "");
}

/* ---- byte builder ---- */

struct bb {
	uint8_t *p;
	size_t len, cap;
};

static inline void bb_init(struct bb *b)
{
	b->cap = 512;
	b->len = 0;
	b->p = malloc(b->cap);
	assert_non_null(b->p);
}

static inline void bb_free(struct bb *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static inline void bb_put(struct bb *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		while (b->len + n > b->cap)
			b->cap *= 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

static inline void bb_fill(struct bb *b, uint8_t byte, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bb_put(b, &byte, 1);
}

static inline void bb_u8(struct bb *b, uint8_t v)
{
	bb_put(b, &v, 1);
}

static inline void bb_u16(struct bb *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	bb_put(b, x, 2);
}

static inline void bb_u32(struct bb *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	bb_put(b, x, 4);
}

static inline void bb_str(struct bb *b, const char *s)
{
	bb_put(b, s, strlen(s));
}

/* The 16 fixed bytes with a zero length; bb_v2_finish() writes the length. */
static inline void bb_v2_start(struct bb *b, uint8_t ver_cmd, uint8_t fam)
{
	bb_put(b, PP_V2_SIGNATURE, 12);
	bb_u8(b, ver_cmd);
	bb_u8(b, fam);
	bb_u16(b, 0);
}

/* Set the length field to everything after the 16 fixed bytes. */
static inline void bb_v2_finish(struct bb *b)
{
	size_t n = b->len - 16;
	assert_true(n <= 0xffff);
	b->p[14] = (uint8_t)(n >> 8);
	b->p[15] = (uint8_t)n;
}

static inline void bb_inet(struct bb *b, const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	uint8_t a[4];
	assert_int_equal(inet_pton(AF_INET, src, a), 1);
	bb_put(b, a, 4);
	assert_int_equal(inet_pton(AF_INET, dst, a), 1);
	bb_put(b, a, 4);
	bb_u16(b, sport);
	bb_u16(b, dport);
}

static inline void bb_inet6(struct bb *b, const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	uint8_t a[16];
	assert_int_equal(inet_pton(AF_INET6, src, a), 1);
	bb_put(b, a, 16);
	assert_int_equal(inet_pton(AF_INET6, dst, a), 1);
	bb_put(b, a, 16);
	bb_u16(b, sport);
	bb_u16(b, dport);
}

static inline void bb_unix(struct bb *b, const char *src, const char *dst)
{
	uint8_t path[108];
	memset(path, 0, sizeof(path));
	memcpy(path, src, strlen(src));
	bb_put(b, path, sizeof(path));
	memset(path, 0, sizeof(path));
	memcpy(path, dst, strlen(dst));
	bb_put(b, path, sizeof(path));
}

static inline void bb_tlv(struct bb *b, uint8_t type, const void *v, size_t n)
{
	assert_true(n <= 0xffff);
	bb_u8(b, type);
	bb_u16(b, (uint16_t)n);
	bb_put(b, v, n);
}

static inline void bb_tlv_str(struct bb *b, uint8_t type, const char *s)
{
	bb_tlv(b, type, s, strlen(s));
}

/* Open a TLV whose length is patched by bb_tlv_end() (for the SSL TLV's nested sub-TLVs). */
static inline size_t bb_tlv_begin(struct bb *b, uint8_t type)
{
	size_t off = b->len;
	bb_u8(b, type);
	bb_u16(b, 0);
	return off;
}

static inline void bb_tlv_end(struct bb *b, size_t off)
{
	size_t n = b->len - off - 3;
	assert_true(n <= 0xffff);
	b->p[off + 1] = (uint8_t)(n >> 8);
	b->p[off + 2] = (uint8_t)n;
}

/* ---- CRC32C, bitwise, independent of the implementation's tables ---- */

static inline uint32_t t_crc32c(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

/* Add a CRC32C TLV (zero value) and return the offset of its 4 value bytes. */
static inline size_t bb_crc_tlv(struct bb *b)
{
	bb_u8(b, PP2_TYPE_CRC32C);
	bb_u16(b, 4);
	size_t off = b->len;
	bb_u32(b, 0);
	return off;
}

/* Once the header is complete (bb_v2_finish done): compute its CRC with the field zeroed, store it. */
static inline void bb_crc_fix(struct bb *b, size_t off)
{
	memset(b->p + off, 0, 4);
	uint32_t c = t_crc32c(b->p, b->len);
	b->p[off] = (uint8_t)(c >> 24);
	b->p[off + 1] = (uint8_t)(c >> 16);
	b->p[off + 2] = (uint8_t)(c >> 8);
	b->p[off + 3] = (uint8_t)c;
}

/* ---- decode wrappers ---- */

static inline uint8_t *t_dup(const void *buf, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	if (len)
		memcpy(p, buf, len);
	return p;
}

/* One-shot pp_decode; on an unexpected status prints the input and fails. Returns the error. */
static inline enum pp_error t_decode(const void *buf, size_t len, const struct pp_options *opt,
                                     struct pp_header *h, enum pp_status want)
{
	enum pp_error err = PP_OK;
	memset(h, 0xA5, sizeof(*h));
	enum pp_status st = pp_decode(buf, len, opt, h, &err);
	if (st != want) {
		t_show("pp_decode input", buf, len);
		print_message("  expected %s, got %s (error %s)\n", t_statusname(want), t_statusname(st),
		              t_errname(err));
	}
	assert_int_equal(st, want);
	return err;
}

/* Expect pp_decode and a decoder fed the whole buffer at once to both fail with want. */
static inline void t_expect_err_opt(const void *buf, size_t len, const struct pp_options *opt,
                                    enum pp_error want)
{
	/* an exact-size heap copy, so that a read past the input is caught by ASan */
	uint8_t *copy = t_dup(buf, len);
	struct pp_header h;
	enum pp_error err = t_decode(copy, len, opt, &h, PP_ERROR);
	if (err != want) {
		t_show("pp_decode input", buf, len);
		print_message("  expected %s, got %s\n", t_errname(want), t_errname(err));
	}
	assert_int_equal(err, want);

	struct pp_decoder d;
	size_t used = 12345;
	pp_decoder_init(&d, opt);
	enum pp_status st = pp_decoder_feed(&d, copy, len, &used);
	if (st != PP_ERROR || pp_decoder_error(&d) != want) {
		t_show("pp_decoder_feed input", buf, len);
		print_message("  expected PP_ERROR/%s, got %s/%s\n", t_errname(want), t_statusname(st),
		              t_errname(pp_decoder_error(&d)));
	}
	assert_int_equal(st, PP_ERROR);
	assert_int_equal(pp_decoder_error(&d), want);
	assert_true(used <= len);
	/* "no header": none of the bytes are the decoder's, the caller reads them as the protocol */
	if (want == PP_ERR_NOT_PROXY) {
		if (used != 0)
			t_show("NOT_PROXY consumed bytes of", buf, len);
		assert_int_equal(used, 0);
	}
	assert_null(pp_decoder_header(&d));
	pp_decoder_free(&d);
	free(copy);
}

static inline void t_expect_err(const void *buf, size_t len, enum pp_error want)
{
	t_expect_err_opt(buf, len, NULL, want);
}

/* Decode a complete header both ways; returns pp_decode's result in *h (pointers into buf). The
 * decoder's view is compared field by field. */
static inline void t_expect_ok_opt(const void *buf, size_t len, const struct pp_options *opt,
                                   struct pp_header *h)
{
	enum pp_error err = t_decode(buf, len, opt, h, PP_DONE);
	(void)err;

	uint8_t *copy = t_dup(buf, len);
	struct pp_decoder d;
	size_t used = 0;
	pp_decoder_init(&d, opt);
	enum pp_status st = pp_decoder_feed(&d, copy, len, &used);
	if (st != PP_DONE) {
		t_show("pp_decoder_feed input", buf, len);
		print_message("  expected PP_DONE, got %s/%s\n", t_statusname(st),
		              t_errname(pp_decoder_error(&d)));
	}
	assert_int_equal(st, PP_DONE);
	assert_int_equal(used, h->header_len);
	const struct pp_header *dh = pp_decoder_header(&d);
	assert_non_null(dh);
	assert_int_equal(dh->version, h->version);
	assert_int_equal(dh->command, h->command);
	assert_int_equal(dh->family, h->family);
	assert_int_equal(dh->transport, h->transport);
	assert_int_equal(dh->header_len, h->header_len);
	assert_int_equal(dh->tlvs.len, h->tlvs.len);
	if (h->tlvs.len)
		assert_memory_equal(dh->tlvs.data, h->tlvs.data, h->tlvs.len);
	pp_decoder_free(&d);
	free(copy);
}

static inline void t_expect_ok(const void *buf, size_t len, struct pp_header *h)
{
	t_expect_ok_opt(buf, len, NULL, h);
}

/* Address text and port of a decoded sockaddr. */
static inline void t_assert_addr(const union pp_sockaddr *a, int af, const char *text, uint16_t port)
{
	char buf[INET6_ADDRSTRLEN + 8];
	assert_int_equal(a->sa.sa_family, af);
	memset(buf, 0, sizeof(buf));
	const char *r = pp_sockaddr_ntop(a, buf, sizeof(buf));
	assert_non_null(r);
	assert_string_equal(r, text);
	assert_int_equal(pp_sockaddr_port(a), port);
}

static inline void t_assert_bytes(struct pp_bytes b, const void *want, size_t n)
{
	assert_non_null(b.data);
	assert_int_equal(b.len, n);
	if (n)
		assert_memory_equal(b.data, want, n);
}

static inline void t_assert_str(struct pp_bytes b, const char *want)
{
	t_assert_bytes(b, want, strlen(want));
}

/* ---- comparing decoded headers ---- */

static inline void same_bytes(struct pp_bytes a, struct pp_bytes b)
{
	assert_int_equal(a.data == NULL, b.data == NULL);
	assert_int_equal(a.len, b.len);
	if (a.len)
		assert_memory_equal(a.data, b.data, a.len);
}

static inline void same_addr(const union pp_sockaddr *a, const union pp_sockaddr *b)
{
	assert_int_equal(a->sa.sa_family, b->sa.sa_family);
	if (a->sa.sa_family == AF_INET) {
		assert_int_equal(a->in.sin_addr.s_addr, b->in.sin_addr.s_addr);
		assert_int_equal(a->in.sin_port, b->in.sin_port);
	} else if (a->sa.sa_family == AF_INET6) {
		assert_memory_equal(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
		assert_int_equal(a->in6.sin6_port, b->in6.sin6_port);
	} else if (a->sa.sa_family == AF_UNIX) {
		assert_memory_equal(a->un.sun_path, b->un.sun_path, sizeof(a->un.sun_path));
	}
}

/* Two decoded headers say the same thing (their pointers may differ). */
static inline void same_header(const struct pp_header *a, const struct pp_header *b)
{
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->command, b->command);
	assert_int_equal(a->family, b->family);
	assert_int_equal(a->transport, b->transport);
	assert_int_equal(a->header_len, b->header_len);
	same_addr(&a->src, &b->src);
	same_addr(&a->dst, &b->dst);
	same_bytes(a->alpn, b->alpn);
	same_bytes(a->authority, b->authority);
	same_bytes(a->unique_id, b->unique_id);
	same_bytes(a->netns, b->netns);
	same_bytes(a->tlvs, b->tlvs);
	assert_int_equal(a->has_crc32c, b->has_crc32c);
	assert_int_equal(a->ssl.present, b->ssl.present);
	assert_int_equal(a->ssl.client, b->ssl.client);
	assert_int_equal(a->ssl.verify, b->ssl.verify);
	same_bytes(a->ssl.version, b->ssl.version);
	same_bytes(a->ssl.cn, b->ssl.cn);
	same_bytes(a->ssl.cipher, b->ssl.cipher);
	same_bytes(a->ssl.sig_alg, b->ssl.sig_alg);
	same_bytes(a->ssl.key_alg, b->ssl.key_alg);
}

/* ---- v2 header shortcuts ---- */

#define CMD_LOCAL 0x20
#define CMD_PROXY 0x21

/* PROXY TCP over IPv4 from 192.0.2.1:12345 to 198.51.100.2:25, TLVs to follow. */
static inline void v2_start_inet(struct bb *b, uint8_t cmd)
{
	bb_init(b);
	bb_v2_start(b, cmd, 0x11);
	bb_inet(b, "192.0.2.1", "198.51.100.2", 12345, 25);
}

static inline void v2_ok(struct bb *b, struct pp_header *h)
{
	bb_v2_finish(b);
	t_expect_ok(b->p, b->len, h);
	assert_int_equal(h->version, 2);
	assert_int_equal(h->header_len, b->len);
}

static inline void v2_err(struct bb *b, enum pp_error want)
{
	bb_v2_finish(b);
	t_expect_err(b->p, b->len, want);
}

static inline void assert_no_tlv_values(const struct pp_header *h)
{
	assert_null(h->alpn.data);
	assert_null(h->authority.data);
	assert_null(h->unique_id.data);
	assert_null(h->netns.data);
	assert_false(h->ssl.present);
	assert_false(h->has_crc32c);
}

#endif
