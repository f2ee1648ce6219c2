/* PROXY protocol v2 decoder: headers built byte by byte (not with the encoder), checked against
 * docs/proxy-codec.md's v2 rules and HAProxy's spec. */
#include "test_util.h"

static const uint8_t allowed_fam[] = {0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32};

static size_t addr_len_of(uint8_t fam)
{
	switch (fam >> 4) {
	case 1:
		return 12;
	case 2:
		return 36;
	case 3:
		return 216;
	default:
		return 0;
	}
}

/* ---- commands and families ---- */

static void test_local_len0(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	bb_init(&b);
	bb_v2_start(&b, CMD_LOCAL, 0x00);
	v2_ok(&b, &h);
	assert_int_equal(h.header_len, 16);
	assert_int_equal(h.command, PP_CMD_LOCAL);
	assert_int_equal(h.family, PP_FAM_UNSPEC);
	assert_int_equal(h.src.sa.sa_family, AF_UNSPEC);
	assert_int_equal(h.dst.sa.sa_family, AF_UNSPEC);
	assert_int_equal(h.tlvs.len, 0);
	assert_no_tlv_values(&h);
	size_t off = 0;
	struct pp_tlv t;
	assert_false(pp_tlv_next(&h, &off, &t));
	bb_free(&b);
}

static void test_local_with_tlvs(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	bb_init(&b);
	bb_v2_start(&b, CMD_LOCAL, 0x00);
	bb_tlv_str(&b, PP2_TYPE_NOOP, "");
	bb_tlv_str(&b, PP2_TYPE_ALPN, "smtp");
	bb_tlv_str(&b, 0xE0, "x");
	v2_ok(&b, &h);
	assert_int_equal(h.command, PP_CMD_LOCAL);
	t_assert_str(h.alpn, "smtp");
	assert_false(h.has_crc32c);
	assert_int_equal(h.tlvs.len, b.len - 16);
	bb_free(&b);

	/* LOCAL with a CRC32C */
	bb_init(&b);
	bb_v2_start(&b, CMD_LOCAL, 0x00);
	size_t crc = bb_crc_tlv(&b);
	bb_tlv_str(&b, PP2_TYPE_AUTHORITY, "mx.example.org");
	bb_v2_finish(&b);
	bb_crc_fix(&b, crc);
	t_expect_ok(b.p, b.len, &h);
	assert_int_equal(h.command, PP_CMD_LOCAL);
	assert_true(h.has_crc32c);
	t_assert_str(h.authority, "mx.example.org");
	/* and with the CRC wrong: TLVs are checked on LOCAL too */
	b.p[crc + 3] ^= 0x01;
	t_expect_err(b.p, b.len, PP_ERR_V2_CRC32C);
	bb_free(&b);
}

/* LOCAL with an address block: the block is skipped, the addresses reported AF_UNSPEC, TLVs still read. */
static void test_local_skips_addresses(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	v2_start_inet(&b, CMD_LOCAL);
	bb_tlv_str(&b, PP2_TYPE_ALPN, "h2");
	v2_ok(&b, &h);
	assert_int_equal(h.command, PP_CMD_LOCAL);
	assert_int_equal(h.src.sa.sa_family, AF_UNSPEC);
	assert_int_equal(h.dst.sa.sa_family, AF_UNSPEC);
	t_assert_str(h.alpn, "h2");
	assert_int_equal(h.tlvs.len, 5);
	bb_free(&b);
}

static void test_local_tlvs_checked(void **state)
{
	(void)state;
	struct bb b;
	bb_init(&b);
	bb_v2_start(&b, CMD_LOCAL, 0x00);
	bb_u8(&b, PP2_TYPE_NOOP);
	v2_err(&b, PP_ERR_V2_TLV_TRUNCATED);
	bb_free(&b);

	bb_init(&b);
	bb_v2_start(&b, CMD_LOCAL, 0x00);
	bb_tlv_str(&b, PP2_TYPE_ALPN, "a");
	bb_tlv_str(&b, PP2_TYPE_ALPN, "b");
	v2_err(&b, PP_ERR_V2_TLV_DUPLICATE);
	bb_free(&b);

	bb_init(&b);
	bb_v2_start(&b, CMD_LOCAL, 0x00);
	bb_tlv(&b, PP2_TYPE_SSL, "\x01\0\0", 3);
	v2_err(&b, PP_ERR_V2_TLV_LENGTH);
	bb_free(&b);
}

static void test_proxy_inet(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	v2_start_inet(&b, CMD_PROXY);
	v2_ok(&b, &h);
	assert_int_equal(h.header_len, 28);
	assert_int_equal(h.command, PP_CMD_PROXY);
	assert_int_equal(h.family, PP_FAM_INET);
	assert_int_equal(h.transport, PP_TRANS_STREAM);
	t_assert_addr(&h.src, AF_INET, "192.0.2.1", 12345);
	t_assert_addr(&h.dst, AF_INET, "198.51.100.2", 25);
	assert_int_equal(ntohs(h.src.in.sin_port), 12345);
	assert_int_equal(ntohl(h.dst.in.sin_addr.s_addr), 0xC6336402u);
	assert_int_equal(h.tlvs.len, 0);
	assert_no_tlv_values(&h);
	bb_free(&b);
}

static void test_proxy_inet6(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x21);
	bb_inet6(&b, "2001:db8::1", "2001:db8:0:1::25", 65535, 587);
	v2_ok(&b, &h);
	assert_int_equal(h.header_len, 52);
	assert_int_equal(h.family, PP_FAM_INET6);
	assert_int_equal(h.transport, PP_TRANS_STREAM);
	t_assert_addr(&h.src, AF_INET6, "2001:db8::1", 65535);
	t_assert_addr(&h.dst, AF_INET6, "2001:db8:0:1::25", 587);
	assert_memory_equal(h.src.in6.sin6_addr.s6_addr, b.p + 16, 16);
	assert_memory_equal(h.dst.in6.sin6_addr.s6_addr, b.p + 32, 16);
	bb_free(&b);

	/* IPv4-mapped, as a dual-stack HAProxy sends it */
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x21);
	bb_inet6(&b, "::ffff:192.0.2.23", "::ffff:198.51.100.1", 1, 2);
	v2_ok(&b, &h);
	t_assert_addr(&h.src, AF_INET6, "192.0.2.23", 1);
	pp_sockaddr_unmap(&h.src);
	t_assert_addr(&h.src, AF_INET, "192.0.2.23", 1);
	bb_free(&b);
}

static void test_proxy_unix(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x31);
	bb_unix(&b, "/run/haproxy/client.sock", "/run/originmail/smtp.sock");
	v2_ok(&b, &h);
	assert_int_equal(h.header_len, 16 + 216);
	assert_int_equal(h.family, PP_FAM_UNIX);
	assert_int_equal(h.transport, PP_TRANS_STREAM);
	assert_int_equal(h.src.un.sun_family, AF_UNIX);
	assert_int_equal(h.dst.un.sun_family, AF_UNIX);
	assert_string_equal(h.src.un.sun_path, "/run/haproxy/client.sock");
	assert_string_equal(h.dst.un.sun_path, "/run/originmail/smtp.sock");
	bb_free(&b);

	/* UNIX datagram */
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x32);
	bb_unix(&b, "/a", "/b");
	bb_tlv_str(&b, PP2_TYPE_NETNS, "blue");
	v2_ok(&b, &h);
	assert_int_equal(h.transport, PP_TRANS_DGRAM);
	assert_string_equal(h.src.un.sun_path, "/a");
	t_assert_str(h.netns, "blue");
	bb_free(&b);
}

static void test_proxy_unspec(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x00);
	v2_ok(&b, &h);
	assert_int_equal(h.command, PP_CMD_PROXY);
	assert_int_equal(h.family, PP_FAM_UNSPEC);
	assert_int_equal(h.transport, PP_TRANS_UNSPEC);
	assert_int_equal(h.src.sa.sa_family, AF_UNSPEC);
	assert_int_equal(h.dst.sa.sa_family, AF_UNSPEC);
	bb_free(&b);

	/* UNSPEC with TLVs: they start right after the fixed part */
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x00);
	bb_tlv_str(&b, PP2_TYPE_AUTHORITY, "example.org");
	v2_ok(&b, &h);
	t_assert_str(h.authority, "example.org");
	assert_int_equal(h.tlvs.len, 14);
	bb_free(&b);
}

static void test_dgram(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x12);
	bb_inet(&b, "203.0.113.9", "192.0.2.53", 5353, 53);
	v2_ok(&b, &h);
	assert_int_equal(h.family, PP_FAM_INET);
	assert_int_equal(h.transport, PP_TRANS_DGRAM);
	t_assert_addr(&h.src, AF_INET, "203.0.113.9", 5353);
	t_assert_addr(&h.dst, AF_INET, "192.0.2.53", 53);
	bb_free(&b);

	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x22);
	bb_inet6(&b, "::1", "::2", 1, 2);
	v2_ok(&b, &h);
	assert_int_equal(h.family, PP_FAM_INET6);
	assert_int_equal(h.transport, PP_TRANS_DGRAM);
	bb_free(&b);
}

static void test_bad_version(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 16; v++) {
		if (v == 2)
			continue;
		for (unsigned cmd = 0; cmd < 2; cmd++) {
			struct bb b;
			v2_start_inet(&b, (uint8_t)(v << 4 | cmd));
			v2_err(&b, PP_ERR_V2_VERSION);
			bb_free(&b);
		}
	}
}

static void test_bad_command(void **state)
{
	(void)state;
	for (unsigned cmd = 2; cmd < 16; cmd++) {
		struct bb b;
		v2_start_inet(&b, (uint8_t)(0x20 | cmd));
		v2_err(&b, PP_ERR_V2_COMMAND);
		bb_free(&b);
	}
}

/* All 256 family bytes, for both commands: exactly the 7 the spec defines pass. */
static void test_family_every_byte(void **state)
{
	(void)state;
	static const uint8_t cmds[] = {CMD_PROXY, CMD_LOCAL};
	unsigned passed = 0;
	for (size_t c = 0; c < ARRAY_LEN(cmds); c++) {
		for (unsigned fam = 0; fam < 256; fam++) {
			bool ok = memchr(allowed_fam, (int)fam, sizeof(allowed_fam)) != NULL;
			struct bb b;
			struct pp_header h;
			bb_init(&b);
			bb_v2_start(&b, cmds[c], (uint8_t)fam);
			if (ok) {
				bb_fill(&b, 0, addr_len_of((uint8_t)fam));
				if ((fam >> 4) == 3) {
					b.p[16] = '/';
					b.p[16 + 108] = '/';
				}
				v2_ok(&b, &h);
				if (cmds[c] == CMD_PROXY) {
					assert_int_equal(h.family, fam >> 4);
					assert_int_equal(h.transport, fam & 15);
				}
				passed++;
			} else {
				bb_fill(&b, 0, 216); /* room for any address block: only the byte is wrong */
				bb_v2_finish(&b);
				struct pp_header hh;
				enum pp_error e = t_decode(b.p, b.len, NULL, &hh, PP_ERROR);
				if (e != PP_ERR_V2_FAMILY)
					print_message("  cmd 0x%02x fam 0x%02x: got %s\n", cmds[c], fam,
					              t_errname(e));
				assert_int_equal(e, PP_ERR_V2_FAMILY);
				t_expect_err(b.p, b.len, PP_ERR_V2_FAMILY);
			}
			bb_free(&b);
		}
	}
	assert_int_equal(passed, 14);
}

static void test_addr_len_too_short(void **state)
{
	(void)state;
	static const uint8_t fams[] = {0x11, 0x12, 0x21, 0x22, 0x31, 0x32};
	for (size_t i = 0; i < ARRAY_LEN(fams); i++) {
		size_t need = addr_len_of(fams[i]);
		for (size_t n = 0; n < need; n++) {
			struct bb b;
			bb_init(&b);
			bb_v2_start(&b, CMD_PROXY, fams[i]);
			bb_fill(&b, 0x41, n);
			v2_err(&b, PP_ERR_V2_ADDR_LEN);
			bb_free(&b);
		}
	}
}

/* ---- size limits ---- */

static void test_too_large(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;

	/* default maximum 4096: 16 + 4080 fits, 16 + 4081 does not */
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x00);
	bb_tlv(&b, PP2_TYPE_NOOP, NULL, 0);
	bb_fill(&b, 0, 4077);
	b.p[17] = 4077 >> 8;
	b.p[18] = 4077 & 0xff;
	v2_ok(&b, &h);
	assert_int_equal(h.header_len, PP_DEFAULT_MAX_HEADER);
	bb_u8(&b, 0); /* one more byte: over the maximum (checked before the TLVs) */
	v2_err(&b, PP_ERR_V2_TOO_LARGE);
	bb_free(&b);

	/* a custom maximum of 64 */
	struct pp_options o = {.accept = 0, .max_header = 64};
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x11);
	bb_inet(&b, "192.0.2.1", "198.51.100.2", 1, 2);
	bb_tlv(&b, 0xE0, "0123456789012345678901234567890123", 33);
	bb_v2_finish(&b);
	assert_int_equal(b.len, 64);
	t_expect_ok_opt(b.p, b.len, &o, &h);
	bb_u8(&b, 0);
	bb_v2_finish(&b);
	t_expect_err_opt(b.p, b.len, &o, PP_ERR_V2_TOO_LARGE);
	bb_free(&b);
}

/* TOO_LARGE is known from the fixed part alone: no need to wait for the body. */
static void test_too_large_after_16(void **state)
{
	(void)state;
	static const size_t lens[] = {4081, 0xffff};
	for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
		uint8_t fixed[16];
		memcpy(fixed, PP_V2_SIGNATURE, 12);
		fixed[12] = CMD_PROXY;
		fixed[13] = 0x11;
		fixed[14] = (uint8_t)(lens[i] >> 8);
		fixed[15] = (uint8_t)lens[i];

		struct pp_decoder d;
		size_t used;
		pp_decoder_init(&d, NULL);
		assert_int_equal(pp_decoder_feed(&d, fixed, 15, &used), PP_NEED_MORE);
		assert_int_equal(used, 15);
		assert_int_equal(pp_decoder_feed(&d, fixed + 15, 1, &used), PP_ERROR);
		assert_int_equal(pp_decoder_error(&d), PP_ERR_V2_TOO_LARGE);
		pp_decoder_free(&d);

		struct pp_header h;
		assert_int_equal(t_decode(fixed, 16, NULL, &h, PP_ERROR), PP_ERR_V2_TOO_LARGE);
	}

	/* a custom maximum, 16 bytes fed at once */
	uint8_t fixed[16];
	memcpy(fixed, PP_V2_SIGNATURE, 12);
	fixed[12] = CMD_PROXY;
	fixed[13] = 0x11;
	fixed[14] = 0;
	fixed[15] = 200;
	struct pp_options o = {.accept = 0, .max_header = 100};
	struct pp_decoder d;
	size_t used;
	pp_decoder_init(&d, &o);
	assert_int_equal(pp_decoder_feed(&d, fixed, 16, &used), PP_ERROR);
	assert_int_equal(pp_decoder_error(&d), PP_ERR_V2_TOO_LARGE);
	assert_true(used <= 16);
	pp_decoder_free(&d);
}

/* The largest header the length field allows, through the decoder's heap buffer. */
static void test_max_len_heap(void **state)
{
	(void)state;
	struct bb b;
	bb_init(&b);
	bb_v2_start(&b, CMD_PROXY, 0x11);
	bb_inet(&b, "192.0.2.1", "198.51.100.2", 1, 2);
	size_t vlen = 65535 - 12 - 3;
	bb_u8(&b, PP2_TYPE_NOOP);
	bb_u16(&b, (uint16_t)vlen);
	for (size_t i = 0; i < vlen; i++)
		bb_u8(&b, (uint8_t)(i * 7));
	bb_v2_finish(&b);
	assert_int_equal(b.len, PP_V2_MAX_LEN);

	static const size_t maxes[] = {PP_V2_MAX_LEN, (size_t)-1, PP_V2_MAX_LEN * 4};
	for (size_t m = 0; m < ARRAY_LEN(maxes); m++) {
		struct pp_options o = {.accept = 0, .max_header = maxes[m]};
		struct pp_header h;
		t_expect_ok_opt(b.p, b.len, &o, &h);
		assert_int_equal(h.header_len, PP_V2_MAX_LEN);

		struct pp_decoder d;
		pp_decoder_init(&d, &o);
		size_t off = 0, used;
		enum pp_status st = PP_NEED_MORE;
		while (off < b.len && st == PP_NEED_MORE) {
			size_t n = b.len - off < 1000 ? b.len - off : 1000;
			st = pp_decoder_feed(&d, b.p + off, n, &used);
			assert_int_equal(used, n);
			off += used;
		}
		assert_int_equal(st, PP_DONE);
		assert_int_equal(off, b.len);
		const struct pp_header *dh = pp_decoder_header(&d);
		assert_non_null(dh);
		t_assert_addr(&dh->src, AF_INET, "192.0.2.1", 1);
		size_t toff = 0;
		struct pp_tlv t;
		assert_true(pp_tlv_next(dh, &toff, &t));
		assert_int_equal(t.type, PP2_TYPE_NOOP);
		t_assert_bytes(t.value, b.p + 31, vlen);
		assert_false(pp_tlv_next(dh, &toff, &t));
		pp_decoder_free(&d);
	}

	/* the default maximum refuses it */
	t_expect_err(b.p, b.len, PP_ERR_V2_TOO_LARGE);
	bb_free(&b);
}

/* ---- detection ---- */

static void test_v2_detection(void **state)
{
	(void)state;
	struct pp_header h;
	/* every proper prefix of the signature is need-more */
	for (size_t n = 1; n < 12; n++)
		t_decode(PP_V2_SIGNATURE, n, NULL, &h, PP_NEED_MORE);
	/* a complete signature but fewer than 16 bytes: need more */
	t_decode(PP_V2_SIGNATURE "\x21\x11", 14, NULL, &h, PP_NEED_MORE);
	/* one wrong byte in the signature */
	for (size_t i = 1; i < 12; i++) {
		uint8_t sig[16];
		memcpy(sig, PP_V2_SIGNATURE, 12);
		sig[12] = CMD_PROXY;
		sig[13] = 0x11;
		sig[14] = 0;
		sig[15] = 12;
		sig[i] ^= 0x40;
		assert_int_equal(t_decode(sig, 16, NULL, &h, PP_ERROR), PP_ERR_NOT_PROXY);
	}
	t_expect_err("\r\n\r\n\0\r\nQUIX", 12, PP_ERR_NOT_PROXY);
	t_expect_err("\r\n\r\n\0\r\nQUIT\r", 12, PP_ERR_NOT_PROXY);

	/* a v1-only decoder refuses a complete v2 signature, not before */
	struct pp_options v1only = {.accept = PP_ACCEPT_V1, .max_header = 0};
	t_decode(PP_V2_SIGNATURE, 11, &v1only, &h, PP_NEED_MORE);
	t_expect_err_opt(PP_V2_SIGNATURE, 12, &v1only, PP_ERR_VERSION_REFUSED);
	struct bb b;
	v2_start_inet(&b, CMD_PROXY);
	bb_v2_finish(&b);
	t_expect_err_opt(b.p, b.len, &v1only, PP_ERR_VERSION_REFUSED);
	struct pp_options v2only = {.accept = PP_ACCEPT_V2, .max_header = 0};
	t_expect_ok_opt(b.p, b.len, &v2only, &h);

	/* an incomplete header is need-more, at every length */
	bb_tlv_str(&b, PP2_TYPE_ALPN, "smtp");
	bb_v2_finish(&b);
	for (size_t n = 0; n < b.len; n++)
		t_decode(b.p, n, NULL, &h, PP_NEED_MORE);
	bb_free(&b);

	/* pp_tlv_next on a v1 header finds nothing */
	const char *l = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
	t_expect_ok(l, strlen(l), &h);
	size_t off = 0;
	struct pp_tlv t;
	assert_false(pp_tlv_next(&h, &off, &t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_local_len0),
	        cmocka_unit_test(test_local_with_tlvs),
	        cmocka_unit_test(test_local_skips_addresses),
	        cmocka_unit_test(test_local_tlvs_checked),
	        cmocka_unit_test(test_proxy_inet),
	        cmocka_unit_test(test_proxy_inet6),
	        cmocka_unit_test(test_proxy_unix),
	        cmocka_unit_test(test_proxy_unspec),
	        cmocka_unit_test(test_dgram),
	        cmocka_unit_test(test_bad_version),
	        cmocka_unit_test(test_bad_command),
	        cmocka_unit_test(test_family_every_byte),
	        cmocka_unit_test(test_addr_len_too_short),
	        cmocka_unit_test(test_too_large),
	        cmocka_unit_test(test_too_large_after_16),
	        cmocka_unit_test(test_max_len_heap),
	        cmocka_unit_test(test_v2_detection),
	};
	return cmocka_run_group_tests_name("proxy_v2", tests, NULL, NULL);
}
