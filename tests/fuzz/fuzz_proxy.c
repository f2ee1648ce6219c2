/* libFuzzer target for the PROXY protocol decoder (include/originmail/proxy.h, docs/proxy-codec.md).
 *
 * Build (from the repository root):
 *   mkdir -p build
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude user/proxy/[*].c tests/fuzz/fuzz_proxy.c
 *         -o build/fuzz_proxy
 * Run on a copy of the seed corpus, so that the inputs libFuzzer adds stay out of the repository:
 *   d=$(mktemp -d) && cp tests/corpus/proxy/[*] "$d" && build/fuzz_proxy -max_total_time=60 "$d"
 * ([*] stands for a plain star, which cannot follow a slash inside a C comment.)
 *
 * For every input, under several option sets (default; max_header = PP_V2_MAX_LEN; one accepted version
 * only; a max_header near the 256-byte inline buffer):
 *  - one-shot pp_decode;
 *  - the incremental decoder fed the same bytes all at once, in chunks of 1..17 bytes whose sizes derive
 *    from the first byte, then (after pp_decoder_reset) one byte at a time. Each chunk is a separate heap
 *    copy freed right after the call, so the decoder can neither read past a chunk nor keep pointers into
 *    it. It must reach one-shot's status and error, never consume more than it is given, consume all it
 *    is given while it needs more, stay put after done/error, and on done have header_len == the bytes
 *    it consumed == one-shot's header_len, with the same decoded fields;
 *  - on done: every pp_bytes (and every value pp_tlv_next yields) must lie inside the header's bytes and
 *    is read byte by byte so ASan sees over-reads; decoded INET/INET6 addresses must survive
 *    pp_encode_v2 (and pp_encode_v1 for a v1 header) and decoding again.
 * A broken invariant prints which one and aborts, so libFuzzer keeps the input as a crash. */
#include "originmail/proxy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uint8_t sink; /* keeps the byte reads that exist only for ASan */
static const char *ctx = "";  /* which option set / pass is running, for failure messages */

__attribute__((noreturn)) static void fail(int line, const char *cond, const char *what)
{
	fprintf(stderr, "fuzz_proxy.c:%d: invariant failed [%s]: %s (%s)\n", line, ctx, what, cond);
	abort();
}

#define CHECK(cond, what)                                                                                    \
	do {                                                                                                 \
		if (!(cond))                                                                                 \
			fail(__LINE__, #cond, what);                                                         \
	} while (0)

struct result {
	enum pp_status st;
	enum pp_error err;
	struct pp_header h;
	const uint8_t *base; /* where the header's bytes are: the input, or the decoder's buffer */
};

/* [p, p + n) inside [base, base + len)? Compared as integers: the pointers may be unrelated. */
static int within(const void *p, size_t n, const void *base, size_t len)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;

	return a >= b && a - b <= len && n <= len - (a - b);
}

static void touch_bytes(const struct pp_bytes *v, const uint8_t *base, size_t len, const char *what)
{
	uint8_t sum = 0;

	if (v->data == NULL) {
		CHECK(v->len == 0, what);
		return;
	}
	CHECK(within(v->data, v->len, base, len), what);
	for (size_t i = 0; i < v->len; i++)
		sum += v->data[i];
	sink += sum;
}

static void touch_str(const char *s)
{
	if (s != NULL)
		sink += (uint8_t)strlen(s);
}

static int same_bytes(const struct pp_bytes *a, const struct pp_bytes *b)
{
	if ((a->data == NULL) != (b->data == NULL) || a->len != b->len)
		return 0;
	return a->len == 0 || memcmp(a->data, b->data, a->len) == 0;
}

/* A value pp_tlv_next yielded equals the header's field for that type, which must then be present. */
static int same_value(const struct pp_bytes *walked, const struct pp_bytes *field)
{
	if (field->data == NULL || walked->len != field->len)
		return 0;
	return walked->len == 0 || memcmp(walked->data, field->data, walked->len) == 0;
}

static int same_addr(const union pp_sockaddr *a, const union pp_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return 0;
	switch (a->sa.sa_family) {
	case AF_INET:
		return a->in.sin_port == b->in.sin_port && a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	case AF_INET6:
		return a->in6.sin6_port == b->in6.sin6_port &&
		       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof a->in6.sin6_addr) == 0;
	case AF_UNIX:
		return memcmp(a->un.sun_path, b->un.sun_path, sizeof a->un.sun_path) == 0;
	default:
		return 1;
	}
}

static sa_family_t expected_af(const struct pp_header *h)
{
	if (h->command == PP_CMD_LOCAL)
		return AF_UNSPEC;
	switch (h->family) {
	case PP_FAM_INET:
		return AF_INET;
	case PP_FAM_INET6:
		return AF_INET6;
	case PP_FAM_UNIX:
		return AF_UNIX;
	default:
		return AF_UNSPEC;
	}
}

static void check_addr_helpers(const union pp_sockaddr *a)
{
	char buf[256];
	union pp_sockaddr u = *a;

	if (a->sa.sa_family != AF_INET && a->sa.sa_family != AF_INET6)
		return;
	CHECK(pp_sockaddr_ntop(a, buf, sizeof buf) == buf, "pp_sockaddr_ntop returns buf");
	CHECK(memchr(buf, 0, sizeof buf) != NULL, "pp_sockaddr_ntop NUL-terminates");
	sink += (uint8_t)pp_sockaddr_port(a);

	pp_sockaddr_unmap(&u);
	if (a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr)) {
		CHECK(u.sa.sa_family == AF_INET, "pp_sockaddr_unmap makes a mapped address IPv4");
		CHECK(u.in.sin_port == a->in6.sin6_port, "pp_sockaddr_unmap keeps the port");
		CHECK(memcmp(&u.in.sin_addr, &a->in6.sin6_addr.s6_addr[12], 4) == 0,
		      "pp_sockaddr_unmap keeps the IPv4 address");
	} else {
		CHECK(same_addr(&u, a), "pp_sockaddr_unmap leaves other addresses alone");
	}
}

/* Everything a caller may read from a done header: inside the header's bytes, and read. */
static void check_header(const struct pp_header *h, const uint8_t *base, size_t given)
{
	const struct pp_bytes *fields[] = {&h->alpn,        &h->authority,   &h->unique_id, &h->netns,
	                                   &h->tlvs,        &h->ssl.version, &h->ssl.cn,    &h->ssl.cipher,
	                                   &h->ssl.sig_alg, &h->ssl.key_alg};
	size_t len = h->header_len;
	size_t off = 0, steps = 0;
	struct pp_tlv t;

	CHECK(len > 0 && len <= given, "0 < header_len <= bytes given");
	CHECK(h->version == 1 || h->version == 2, "version is 1 or 2");
	CHECK(h->command == PP_CMD_LOCAL || h->command == PP_CMD_PROXY, "command is LOCAL or PROXY");
	CHECK((unsigned)h->family <= PP_FAM_UNIX, "family in range");
	CHECK((unsigned)h->transport <= PP_TRANS_DGRAM, "transport in range");
	CHECK(h->src.sa.sa_family == expected_af(h), "src sa_family matches command/family");
	CHECK(h->dst.sa.sa_family == expected_af(h), "dst sa_family matches command/family");
	touch_str(pp_command_name(h->command));
	touch_str(pp_family_name(h->family));
	touch_str(pp_transport_name(h->transport));
	check_addr_helpers(&h->src);
	check_addr_helpers(&h->dst);

	if (h->version == 1) {
		CHECK(len <= PP_V1_MAX_LEN, "v1 header_len <= 107");
		CHECK(len >= 2 && base[len - 2] == '\r' && base[len - 1] == '\n', "v1 header ends with CRLF");
		CHECK(h->command == PP_CMD_PROXY, "v1 command is PROXY");
		CHECK(h->family != PP_FAM_UNIX, "v1 family is not UNIX");
		CHECK(h->transport == (h->family == PP_FAM_UNSPEC ? PP_TRANS_UNSPEC : PP_TRANS_STREAM),
		      "v1 transport");
		for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
			CHECK(fields[i]->data == NULL && fields[i]->len == 0, "v1 header has no v2 fields");
		CHECK(!h->ssl.present && !h->has_crc32c, "v1 header has no SSL/CRC32C");
	} else {
		CHECK(len >= PP_V2_FIXED_LEN && len == PP_V2_FIXED_LEN + ((size_t)base[14] << 8 | base[15]),
		      "v2 header_len == 16 + declared length");
		CHECK(h->unique_id.len <= PP_V2_UNIQUE_ID_MAX, "UNIQUE_ID at most 128 bytes");
	}
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		touch_bytes(fields[i], base, len, "pp_bytes field inside the header");
	if (!h->ssl.present)
		for (size_t i = 5; i < sizeof fields / sizeof fields[0]; i++)
			CHECK(fields[i]->data == NULL, "no SSL strings without an SSL TLV");

	while (pp_tlv_next(h, &off, &t)) {
		CHECK(++steps <= h->tlvs.len / 3, "pp_tlv_next yields at most one TLV per 3 bytes");
		CHECK(h->tlvs.data != NULL, "pp_tlv_next yields nothing without a TLV area");
		CHECK(within(t.value.data, t.value.len, h->tlvs.data, h->tlvs.len) || t.value.len == 0,
		      "TLV value inside the TLV area");
		touch_bytes(&t.value, base, len, "TLV value inside the header");
		touch_str(pp_tlv_name(t.type));
		switch (t.type) {
		case PP2_TYPE_ALPN:
			CHECK(same_value(&t.value, &h->alpn), "walked ALPN == header's alpn");
			break;
		case PP2_TYPE_AUTHORITY:
			CHECK(same_value(&t.value, &h->authority), "walked AUTHORITY == header's authority");
			break;
		case PP2_TYPE_UNIQUE_ID:
			CHECK(same_value(&t.value, &h->unique_id), "walked UNIQUE_ID == header's unique_id");
			break;
		case PP2_TYPE_NETNS:
			CHECK(same_value(&t.value, &h->netns), "walked NETNS == header's netns");
			break;
		case PP2_TYPE_CRC32C:
			CHECK(h->has_crc32c && t.value.len == 4, "walked CRC32C: has_crc32c, 4 bytes");
			break;
		case PP2_TYPE_SSL:
			CHECK(h->ssl.present && t.value.len >= 5, "walked SSL: ssl.present, >= 5 bytes");
			break;
		default:
			break;
		}
	}
	sink += (uint8_t)steps;
}

/* Same outcome from two decodes of the same bytes under the same options. */
static void check_same(const struct result *a, const struct result *b)
{
	const struct pp_header *x = &a->h, *y = &b->h;

	CHECK(a->st == b->st, "incremental status == one-shot status");
	if (a->st == PP_ERROR)
		CHECK(a->err == b->err, "incremental error == one-shot error");
	if (a->st != PP_DONE)
		return;
	CHECK(x->header_len == y->header_len, "incremental header_len == one-shot header_len");
	CHECK(x->version == y->version && x->command == y->command && x->family == y->family &&
	              x->transport == y->transport,
	      "same version/command/family/transport");
	CHECK(same_addr(&x->src, &y->src) && same_addr(&x->dst, &y->dst), "same addresses");
	CHECK(same_bytes(&x->alpn, &y->alpn) && same_bytes(&x->authority, &y->authority) &&
	              same_bytes(&x->unique_id, &y->unique_id) && same_bytes(&x->netns, &y->netns) &&
	              same_bytes(&x->tlvs, &y->tlvs),
	      "same TLV fields");
	CHECK(x->ssl.present == y->ssl.present && x->ssl.client == y->ssl.client &&
	              x->ssl.verify == y->ssl.verify && same_bytes(&x->ssl.version, &y->ssl.version) &&
	              same_bytes(&x->ssl.cn, &y->ssl.cn) && same_bytes(&x->ssl.cipher, &y->ssl.cipher) &&
	              same_bytes(&x->ssl.sig_alg, &y->ssl.sig_alg) &&
	              same_bytes(&x->ssl.key_alg, &y->ssl.key_alg),
	      "same SSL fields");
	CHECK(x->has_crc32c == y->has_crc32c, "same has_crc32c");
}

static void decode_copy(const void *buf, size_t len, struct result *r)
{
	uint8_t *copy = malloc(len ? len : 1); /* exactly sized, so ASan sees reads past the end */
	struct pp_options opt = {0, 0};

	CHECK(copy != NULL, "malloc");
	memcpy(copy, buf, len);
	r->st = pp_decode(copy, len, &opt, &r->h, &r->err);
	if (r->st == PP_DONE)
		check_header(&r->h, copy, len);
	free(copy);
}

/* Decoded INET/INET6 addresses, encoded again and decoded again, are the same addresses. */
static void check_reencode(const struct pp_header *h)
{
	struct pp_encode_spec spec;
	uint8_t out[128];
	struct result back;
	long n;

	if (h->command != PP_CMD_PROXY || (h->family != PP_FAM_INET && h->family != PP_FAM_INET6))
		return;
	memset(&spec, 0, sizeof spec);
	spec.command = PP_CMD_PROXY;
	spec.family = h->family;
	spec.transport = h->transport;
	spec.src = h->src;
	spec.dst = h->dst;

	n = pp_encode_v2(out, sizeof out, &spec);
	CHECK(n == (long)(PP_V2_FIXED_LEN + (h->family == PP_FAM_INET ? 12 : 36)),
	      "pp_encode_v2 of decoded addresses: 16 + address block");
	decode_copy(out, (size_t)n, &back);
	CHECK(back.st == PP_DONE && back.h.header_len == (size_t)n, "re-encoded v2 decodes, whole");
	CHECK(back.h.version == 2 && back.h.command == PP_CMD_PROXY && back.h.family == h->family &&
	              back.h.transport == h->transport,
	      "re-encoded v2: same command/family/transport");
	CHECK(same_addr(&back.h.src, &h->src) && same_addr(&back.h.dst, &h->dst),
	      "re-encoded v2: same addresses");

	if (h->version != 1)
		return;
	n = pp_encode_v1((char *)out, sizeof out, &spec);
	CHECK(n > 0 && (size_t)n <= PP_V1_MAX_LEN, "pp_encode_v1 of decoded v1 addresses");
	decode_copy(out, (size_t)n, &back);
	CHECK(back.st == PP_DONE && back.h.header_len == (size_t)n, "re-encoded v1 decodes, whole");
	CHECK(back.h.version == 1 && back.h.family == h->family, "re-encoded v1: same family");
	CHECK(same_addr(&back.h.src, &h->src) && same_addr(&back.h.dst, &h->dst),
	      "re-encoded v1: same addresses");
}

enum feed_mode { FEED_WHOLE, FEED_CHUNKS, FEED_BYTES };

/* Feed data to d as mode says, then compare with one-shot's result. */
static void feed(struct pp_decoder *d, const uint8_t *data, size_t size, enum feed_mode mode,
                 const struct result *ref)
{
	static const uint8_t dummy[1] = {0};
	uint32_t rng = size ? data[0] : 0;
	size_t off = 0, total = 0, consumed;
	struct result r;
	const struct pp_header *h;

	memset(&r, 0, sizeof r);
	r.st = PP_NEED_MORE;

	consumed = 1;
	CHECK(pp_decoder_feed(d, dummy, 0, &consumed) == PP_NEED_MORE && consumed == 0,
	      "feeding 0 bytes to a fresh decoder");

	for (size_t k = 0; off < size; k++) {
		size_t n = mode == FEED_WHOLE ? size : mode == FEED_BYTES ? 1 : 0;
		uint8_t *chunk;

		if (mode == FEED_CHUNKS) {
			/* first chunk 1 + data[0] % 17, then a sequence seeded by data[0] */
			n = 1 + (k == 0 ? rng : rng >> 16) % 17;
			rng = rng * 1103515245u + 12345u;
		}
		if (n > size - off)
			n = size - off;
		chunk = malloc(n);
		CHECK(chunk != NULL, "malloc");
		memcpy(chunk, data + off, n);
		consumed = SIZE_MAX;
		r.st = pp_decoder_feed(d, chunk, n, &consumed);
		free(chunk); /* the header must live in the decoder's own buffer from now on */
		CHECK(consumed <= n, "consumed <= bytes given");
		total += consumed;
		off += n;
		if (r.st != PP_NEED_MORE)
			break;
		CHECK(consumed == n, "NEED_MORE consumes everything given");
	}
	CHECK(total <= size, "total consumed <= input size");

	h = pp_decoder_header(d);
	if (r.st == PP_DONE) {
		CHECK(h != NULL, "pp_decoder_header non-NULL on DONE");
		CHECK(h->header_len == total, "header_len == bytes consumed");
		r.h = *h;
		r.base = d->buf;
		check_header(h, d->buf, total);
	} else {
		CHECK(h == NULL, "pp_decoder_header NULL unless DONE");
	}
	r.err = pp_decoder_error(d);
	if (r.st == PP_ERROR)
		CHECK(r.err != PP_OK && r.err < PP_ERR__COUNT, "error set on ERROR");
	if (r.st != PP_NEED_MORE) {
		/* sticky: the same answer, nothing consumed, the header unchanged */
		const uint8_t *rest = off < size ? data + off : dummy;
		size_t rest_len = off < size ? size - off : 1;

		consumed = SIZE_MAX;
		CHECK(pp_decoder_feed(d, rest, rest_len, &consumed) == r.st && consumed == 0,
		      "done/error is sticky and consumes nothing");
		CHECK(pp_decoder_error(d) == r.err, "error unchanged after a further feed");
		if (r.st == PP_DONE)
			CHECK(pp_decoder_header(d) == h && h->header_len == total,
			      "header unchanged after a further feed");
	}
	check_same(&r, ref);
	if (r.st == PP_DONE)
		touch_bytes(&h->tlvs, d->buf, total, "TLV area still readable");
}

static void run(const uint8_t *data, size_t size, const struct pp_options *opt, struct result *oneshot)
{
	struct pp_decoder *d = malloc(sizeof *d); /* on the heap: reads past the struct are caught */

	CHECK(d != NULL, "malloc");
	oneshot->err = PP_OK;
	oneshot->st = pp_decode(data, size, opt, &oneshot->h, &oneshot->err);
	oneshot->base = data;
	CHECK(oneshot->st == PP_NEED_MORE || oneshot->st == PP_DONE || oneshot->st == PP_ERROR,
	      "one-shot status valid");
	touch_str(pp_strerror(oneshot->err));
	if (oneshot->st == PP_ERROR)
		CHECK(oneshot->err != PP_OK && oneshot->err < PP_ERR__COUNT &&
		              pp_strerror(oneshot->err) != NULL,
		      "one-shot error set, with a message");
	if (oneshot->st == PP_DONE) {
		check_header(&oneshot->h, data, size);
		check_reencode(&oneshot->h);
	}

	pp_decoder_init(d, opt);
	feed(d, data, size, FEED_WHOLE, oneshot);
	pp_decoder_reset(d);
	feed(d, data, size, FEED_CHUNKS, oneshot);
	if (size <= 8192) {
		pp_decoder_reset(d);
		feed(d, data, size, FEED_BYTES, oneshot);
	}
	pp_decoder_free(d);
	free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t last = size ? data[size - 1] : 0;
	struct pp_options def = {0, 0}, big = {0, PP_V2_MAX_LEN}, huge = {0, SIZE_MAX};
	struct pp_options one = {last & 1 ? PP_ACCEPT_V1 : PP_ACCEPT_V2, 0};
	struct pp_options small = {PP_ACCEPT_ANY, 200 + (size_t)last};
	struct result r_def, r_big, r_huge, r_other;

	ctx = "default options";
	run(data, size, &def, &r_def);
	ctx = "max_header = PP_V2_MAX_LEN";
	run(data, size, &big, &r_big);

	/* a larger maximum only changes the outcome of headers the smaller one found too large */
	if (!(r_def.st == PP_ERROR && r_def.err == PP_ERR_V2_TOO_LARGE)) {
		CHECK(r_big.st == r_def.st && (r_def.st != PP_ERROR || r_big.err == r_def.err) &&
		              (r_def.st != PP_DONE || r_big.h.header_len == r_def.h.header_len),
		      "max_header = PP_V2_MAX_LEN agrees with the default below 4096 bytes");
	}
	ctx = "max_header = SIZE_MAX (capped)";
	r_huge.err = PP_OK;
	r_huge.st = pp_decode(data, size, &huge, &r_huge.h, &r_huge.err);
	CHECK(r_huge.st == r_big.st && (r_big.st != PP_ERROR || r_huge.err == r_big.err),
	      "max_header above PP_V2_MAX_LEN is capped to it");

	ctx = last & 1 ? "accept = PP_ACCEPT_V1" : "accept = PP_ACCEPT_V2";
	run(data, size, &one, &r_other);
	ctx = "max_header = 200 + last byte";
	run(data, size, &small, &r_other);
	ctx = "";
	return 0;
}
