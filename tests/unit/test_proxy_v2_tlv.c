/* PROXY protocol v2 TLVs: framing, once-only types, CRC32C, UNIQUE_ID, SSL and its sub-TLVs, the walk.
 * Headers are built byte by byte (not with the encoder) and checked against docs/proxy-codec.md. */
#include "test_util.h"

/* ---- TLV framing ---- */

static void test_tlv_truncated(void **state)
{
	(void)state;
	struct bb b;

	v2_start_inet(&b, CMD_PROXY); /* one stray byte */
	bb_u8(&b, PP2_TYPE_NOOP);
	v2_err(&b, PP_ERR_V2_TLV_TRUNCATED);
	bb_free(&b);

	v2_start_inet(&b, CMD_PROXY); /* two stray bytes */
	bb_u8(&b, PP2_TYPE_NOOP);
	bb_u8(&b, 0);
	v2_err(&b, PP_ERR_V2_TLV_TRUNCATED);
	bb_free(&b);

	v2_start_inet(&b, CMD_PROXY); /* value past the end */
	bb_u8(&b, PP2_TYPE_ALPN);
	bb_u16(&b, 10);
	bb_str(&b, "smtp");
	v2_err(&b, PP_ERR_V2_TLV_TRUNCATED);
	bb_free(&b);

	v2_start_inet(&b, CMD_PROXY); /* a good TLV, then a head claiming 1 byte with none */
	bb_tlv_str(&b, PP2_TYPE_ALPN, "smtp");
	bb_u8(&b, 0xE0);
	bb_u16(&b, 1);
	v2_err(&b, PP_ERR_V2_TLV_TRUNCATED);
	bb_free(&b);

	v2_start_inet(&b, CMD_PROXY); /* a length of 65535 inside a small header */
	bb_u8(&b, 0xF0);
	bb_u16(&b, 0xffff);
	bb_fill(&b, 0, 20);
	v2_err(&b, PP_ERR_V2_TLV_TRUNCATED);
	bb_free(&b);
}

static void test_tlv_duplicates(void **state)
{
	(void)state;
	static const uint8_t once[] = {PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_UNIQUE_ID, PP2_TYPE_NETNS,
	                               PP2_TYPE_SSL};
	static const uint8_t ssl5[5] = {0x01, 0, 0, 0, 0};
	for (size_t i = 0; i < ARRAY_LEN(once); i++) {
		for (int gap = 0; gap < 2; gap++) {
			struct bb b;
			v2_start_inet(&b, CMD_PROXY);
			bb_tlv(&b, once[i], ssl5, sizeof(ssl5));
			if (gap)
				bb_tlv_str(&b, PP2_TYPE_NOOP, "pad");
			bb_tlv(&b, once[i], ssl5, sizeof(ssl5));
			bb_v2_finish(&b);
			struct pp_header h;
			enum pp_error e = t_decode(b.p, b.len, NULL, &h, PP_ERROR);
			if (e != PP_ERR_V2_TLV_DUPLICATE)
				print_message("  type 0x%02x twice (gap %d): got %s\n", once[i], gap,
				              t_errname(e));
			t_expect_err(b.p, b.len, PP_ERR_V2_TLV_DUPLICATE);
			bb_free(&b);
		}
	}

	/* CRC32C twice; both carry the CRC computed with both fields zeroed */
	struct bb b;
	v2_start_inet(&b, CMD_PROXY);
	size_t c1 = bb_crc_tlv(&b);
	size_t c2 = bb_crc_tlv(&b);
	bb_v2_finish(&b);
	uint32_t crc = t_crc32c(b.p, b.len);
	for (int k = 0; k < 4; k++)
		b.p[c1 + (size_t)k] = b.p[c2 + (size_t)k] = (uint8_t)(crc >> (24 - 8 * k));
	t_expect_err(b.p, b.len, PP_ERR_V2_TLV_DUPLICATE);
	bb_free(&b);
}

static void test_noop_repeat(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	v2_start_inet(&b, CMD_PROXY);
	bb_tlv_str(&b, PP2_TYPE_NOOP, "");
	bb_tlv_str(&b, PP2_TYPE_NOOP, "abcde");
	bb_tlv_str(&b, PP2_TYPE_NOOP, "z");
	v2_ok(&b, &h);
	size_t off = 0;
	struct pp_tlv t;
	assert_true(pp_tlv_next(&h, &off, &t));
	assert_int_equal(t.type, PP2_TYPE_NOOP);
	assert_int_equal(t.value.len, 0);
	assert_true(pp_tlv_next(&h, &off, &t));
	t_assert_str(t.value, "abcde");
	assert_true(pp_tlv_next(&h, &off, &t));
	t_assert_str(t.value, "z");
	assert_false(pp_tlv_next(&h, &off, &t));
	bb_free(&b);
}

/* Unknown and custom types are kept: the walk gives every TLV, known or not, in wire order. */
static void test_custom_tlvs_walk(void **state)
{
	(void)state;
	struct {
		uint8_t type;
		const char *value;
	} want[] = {
	        {PP2_TYPE_ALPN, "smtp"}, {0xE0, "abc"},
	        {PP2_TYPE_NOOP, ""},     {0xF0, ""},
	        {0xE0, "second e0"},     {PP2_TYPE_AUTHORITY, "mx.example.org"},
	        {0xEE, "\x01\x02"},      {0x06, "unassigned"},
	};
	struct bb b;
	struct pp_header h;
	v2_start_inet(&b, CMD_PROXY);
	for (size_t i = 0; i < ARRAY_LEN(want); i++)
		bb_tlv_str(&b, want[i].type, want[i].value);
	v2_ok(&b, &h);
	assert_ptr_equal(h.tlvs.data, b.p + 28);
	assert_int_equal(h.tlvs.len, b.len - 28);
	t_assert_str(h.alpn, "smtp");
	t_assert_str(h.authority, "mx.example.org");

	size_t off = 0;
	struct pp_tlv t;
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		assert_true(pp_tlv_next(&h, &off, &t));
		assert_int_equal(t.type, want[i].type);
		t_assert_str(t.value, want[i].value);
	}
	assert_false(pp_tlv_next(&h, &off, &t));
	assert_false(pp_tlv_next(&h, &off, &t));
	bb_free(&b);
}

/* ---- CRC32C ---- */

static void test_crc32c_function(void **state)
{
	(void)state;
	assert_int_equal(pp_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(pp_crc32c(0, "", 0), 0);
	/* chaining like zlib's crc32, split anywhere */
	for (size_t k = 0; k <= 9; k++)
		assert_int_equal(pp_crc32c(pp_crc32c(0, "123456789", k), "123456789" + k, 9 - k),
		                 0xE3069283u);
	/* RFC 3720 (iSCSI) B.4 vectors */
	uint8_t buf[64];
	memset(buf, 0, 32);
	assert_int_equal(pp_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, 32);
	assert_int_equal(pp_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(pp_crc32c(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(pp_crc32c(0, buf, 32), 0x113FDB5Cu);
	/* against the bitwise reference, every length and alignment */
	uint8_t data[300];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 131 + 7);
	for (size_t start = 0; start < 8; start++)
		for (size_t n = 0; start + n <= sizeof(data); n += 1 + n / 16)
			assert_int_equal(pp_crc32c(0, data + start, n), t_crc32c(data + start, n));
}

static void test_crc32c_tlv(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	v2_start_inet(&b, CMD_PROXY);
	size_t crc = bb_crc_tlv(&b);
	bb_tlv_str(&b, PP2_TYPE_ALPN, "smtp");
	bb_v2_finish(&b);
	bb_crc_fix(&b, crc);
	t_expect_ok(b.p, b.len, &h);
	assert_true(h.has_crc32c);
	t_assert_str(h.alpn, "smtp");

	/* any bit flipped anywhere (outside the signature) is a mismatch, not accepted */
	static const size_t spots[] = {17, 20, 26, 27, 31, 33,
	                               34, 35, 38, 41}; /* addresses, ports, CRC value, ALPN type and value */
	for (size_t i = 0; i < ARRAY_LEN(spots); i++) {
		b.p[spots[i]] ^= 0x10;
		t_expect_err(b.p, b.len, PP_ERR_V2_CRC32C);
		b.p[spots[i]] ^= 0x10;
	}
	/* stored little-endian: wrong */
	uint8_t save[4];
	memcpy(save, b.p + crc, 4);
	for (int k = 0; k < 4; k++)
		b.p[crc + (size_t)k] = save[3 - k];
	if (memcmp(save, b.p + crc, 4) != 0)
		t_expect_err(b.p, b.len, PP_ERR_V2_CRC32C);
	bb_free(&b);

	/* CRC32C after other TLVs is fine too */
	v2_start_inet(&b, CMD_PROXY);
	bb_tlv_str(&b, PP2_TYPE_ALPN, "smtp");
	crc = bb_crc_tlv(&b);
	bb_tlv_str(&b, 0xE0, "x");
	bb_v2_finish(&b);
	bb_crc_fix(&b, crc);
	t_expect_ok(b.p, b.len, &h);
	assert_true(h.has_crc32c);
	bb_free(&b);

	/* a CRC of zero where the real one is not zero */
	v2_start_inet(&b, CMD_PROXY);
	bb_crc_tlv(&b);
	v2_err(&b, PP_ERR_V2_CRC32C);
	bb_free(&b);
}

static void test_crc32c_wrong_length(void **state)
{
	(void)state;
	static const size_t lens[] = {0, 1, 3, 5, 8};
	for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
		struct bb b;
		v2_start_inet(&b, CMD_PROXY);
		bb_u8(&b, PP2_TYPE_CRC32C);
		bb_u16(&b, (uint16_t)lens[i]);
		bb_fill(&b, 0, lens[i]);
		v2_err(&b, PP_ERR_V2_TLV_LENGTH);
		bb_free(&b);
	}
}

/* ---- typed TLVs ---- */

static void test_unique_id(void **state)
{
	(void)state;
	uint8_t id[129];
	for (size_t i = 0; i < sizeof(id); i++)
		id[i] = (uint8_t)(0x80 + i);
	struct bb b;
	struct pp_header h;
	v2_start_inet(&b, CMD_PROXY);
	bb_tlv(&b, PP2_TYPE_UNIQUE_ID, id, 128);
	v2_ok(&b, &h);
	t_assert_bytes(h.unique_id, id, 128);
	bb_free(&b);

	v2_start_inet(&b, CMD_PROXY);
	bb_tlv(&b, PP2_TYPE_UNIQUE_ID, id, 1);
	v2_ok(&b, &h);
	t_assert_bytes(h.unique_id, id, 1);
	bb_free(&b);

	v2_start_inet(&b, CMD_PROXY);
	bb_tlv(&b, PP2_TYPE_UNIQUE_ID, id, 129);
	v2_err(&b, PP_ERR_V2_TLV_LENGTH);
	bb_free(&b);
}

static void test_alpn_authority_netns(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	v2_start_inet(&b, CMD_PROXY);
	bb_tlv_str(&b, PP2_TYPE_NETNS, "ns-blue");
	bb_tlv(&b, PP2_TYPE_ALPN, "\x02h2", 3);
	bb_tlv_str(&b, PP2_TYPE_AUTHORITY, "smtp.example.org");
	v2_ok(&b, &h);
	t_assert_bytes(h.alpn, "\x02h2", 3);
	t_assert_str(h.authority, "smtp.example.org");
	t_assert_str(h.netns, "ns-blue");
	assert_null(h.unique_id.data);
	assert_false(h.ssl.present);
	assert_false(h.has_crc32c);
	/* the values point into the caller's buffer (pp_decode copies nothing) */
	assert_true(h.alpn.data > b.p && h.alpn.data < b.p + b.len);
	bb_free(&b);
}

/* SSL TLV: client, verify, then the sub-TLVs in the order HAProxy writes them. */
static void test_ssl_full(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	v2_start_inet(&b, CMD_PROXY);
	size_t s = bb_tlv_begin(&b, PP2_TYPE_SSL);
	bb_u8(&b, PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS);
	bb_u32(&b, 0);
	bb_tlv_str(&b, PP2_SUBTYPE_SSL_VERSION, "TLSv1.3");
	bb_tlv_str(&b, PP2_SUBTYPE_SSL_CN, "client.example.org");
	bb_tlv_str(&b, PP2_SUBTYPE_SSL_KEY_ALG, "RSA2048");
	bb_tlv_str(&b, PP2_SUBTYPE_SSL_SIG_ALG, "SHA256");
	bb_tlv_str(&b, PP2_SUBTYPE_SSL_CIPHER, "TLS_AES_256_GCM_SHA384");
	bb_tlv_end(&b, s);
	v2_ok(&b, &h);
	assert_true(h.ssl.present);
	assert_int_equal(h.ssl.client, 0x07);
	assert_int_equal(h.ssl.verify, 0);
	t_assert_str(h.ssl.version, "TLSv1.3");
	t_assert_str(h.ssl.cn, "client.example.org");
	t_assert_str(h.ssl.key_alg, "RSA2048");
	t_assert_str(h.ssl.sig_alg, "SHA256");
	t_assert_str(h.ssl.cipher, "TLS_AES_256_GCM_SHA384");
	/* the walk shows the SSL TLV as one TLV */
	size_t off = 0;
	struct pp_tlv t;
	assert_true(pp_tlv_next(&h, &off, &t));
	assert_int_equal(t.type, PP2_TYPE_SSL);
	assert_int_equal(t.value.len, b.len - s - 3);
	assert_false(pp_tlv_next(&h, &off, &t));
	bb_free(&b);
}

static void test_ssl_client_verify(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	/* certificate presented on the session, verification failed with code 20 */
	v2_start_inet(&b, CMD_PROXY);
	size_t s = bb_tlv_begin(&b, PP2_TYPE_SSL);
	bb_u8(&b, PP2_CLIENT_SSL | PP2_CLIENT_CERT_SESS);
	bb_u32(&b, 20);
	bb_tlv_str(&b, PP2_SUBTYPE_SSL_VERSION, "TLSv1.2");
	bb_tlv_end(&b, s);
	v2_ok(&b, &h);
	assert_true(h.ssl.present);
	assert_int_equal(h.ssl.client, PP2_CLIENT_SSL | PP2_CLIENT_CERT_SESS);
	assert_int_equal(h.ssl.verify, 20);
	t_assert_str(h.ssl.version, "TLSv1.2");
	assert_null(h.ssl.cn.data);
	assert_null(h.ssl.cipher.data);
	bb_free(&b);

	/* the verify field is big-endian */
	v2_start_inet(&b, CMD_PROXY);
	s = bb_tlv_begin(&b, PP2_TYPE_SSL);
	bb_u8(&b, PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN);
	bb_u32(&b, 0x12345678);
	bb_tlv_end(&b, s);
	v2_ok(&b, &h);
	assert_int_equal(h.ssl.client, PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN);
	assert_int_equal(h.ssl.verify, 0x12345678u);
	bb_free(&b);

	/* exactly 5 bytes, no sub-TLVs */
	v2_start_inet(&b, CMD_PROXY);
	bb_tlv(&b, PP2_TYPE_SSL, "\x01\0\0\0\0", 5);
	v2_ok(&b, &h);
	assert_true(h.ssl.present);
	assert_int_equal(h.ssl.client, PP2_CLIENT_SSL);
	assert_int_equal(h.ssl.verify, 0);
	assert_null(h.ssl.version.data);
	assert_null(h.ssl.cn.data);
	assert_null(h.ssl.cipher.data);
	assert_null(h.ssl.sig_alg.data);
	assert_null(h.ssl.key_alg.data);
	bb_free(&b);
}

static void test_ssl_too_short(void **state)
{
	(void)state;
	for (size_t n = 0; n < 5; n++) {
		struct bb b;
		v2_start_inet(&b, CMD_PROXY);
		bb_tlv(&b, PP2_TYPE_SSL, "\x01\0\0\0\0", n);
		bb_tlv_str(&b, PP2_TYPE_NOOP, "padding"); /* the header itself is long enough */
		v2_err(&b, PP_ERR_V2_TLV_LENGTH);
		bb_free(&b);
	}
}

static void test_ssl_sub_truncated(void **state)
{
	(void)state;
	struct bb b;
	size_t s;

	/* a sub-TLV value past the SSL TLV's end, with more header after it */
	v2_start_inet(&b, CMD_PROXY);
	s = bb_tlv_begin(&b, PP2_TYPE_SSL);
	bb_u8(&b, PP2_CLIENT_SSL);
	bb_u32(&b, 0);
	bb_u8(&b, PP2_SUBTYPE_SSL_VERSION);
	bb_u16(&b, 7);
	bb_str(&b, "TLS");
	bb_tlv_end(&b, s);
	bb_tlv_str(&b, PP2_TYPE_NOOP, "TLSv1.3 and more");
	v2_err(&b, PP_ERR_V2_SSL_TRUNCATED);
	bb_free(&b);

	/* one and two stray bytes after a good sub-TLV */
	for (size_t stray = 1; stray <= 2; stray++) {
		v2_start_inet(&b, CMD_PROXY);
		s = bb_tlv_begin(&b, PP2_TYPE_SSL);
		bb_u8(&b, PP2_CLIENT_SSL);
		bb_u32(&b, 0);
		bb_tlv_str(&b, PP2_SUBTYPE_SSL_VERSION, "TLSv1.3");
		bb_fill(&b, PP2_SUBTYPE_SSL_CN, 1);
		if (stray == 2)
			bb_u8(&b, 0);
		bb_tlv_end(&b, s);
		bb_tlv_str(&b, PP2_TYPE_NOOP, "xyz");
		v2_err(&b, PP_ERR_V2_SSL_TRUNCATED);
		bb_free(&b);
	}
}

static void test_ssl_sub_duplicate(void **state)
{
	(void)state;
	static const uint8_t subs[] = {PP2_SUBTYPE_SSL_VERSION, PP2_SUBTYPE_SSL_CN, PP2_SUBTYPE_SSL_CIPHER,
	                               PP2_SUBTYPE_SSL_SIG_ALG, PP2_SUBTYPE_SSL_KEY_ALG};
	for (size_t i = 0; i < ARRAY_LEN(subs); i++) {
		struct bb b;
		v2_start_inet(&b, CMD_PROXY);
		size_t s = bb_tlv_begin(&b, PP2_TYPE_SSL);
		bb_u8(&b, PP2_CLIENT_SSL);
		bb_u32(&b, 0);
		bb_tlv_str(&b, subs[i], "one");
		bb_tlv_str(&b, subs[i], "two");
		bb_tlv_end(&b, s);
		v2_err(&b, PP_ERR_V2_TLV_DUPLICATE);
		bb_free(&b);
	}
}

static void test_ssl_unknown_sub(void **state)
{
	(void)state;
	struct bb b;
	struct pp_header h;
	v2_start_inet(&b, CMD_PROXY);
	size_t s = bb_tlv_begin(&b, PP2_TYPE_SSL);
	bb_u8(&b, PP2_CLIENT_SSL);
	bb_u32(&b, 0);
	bb_tlv_str(&b, 0x2F, "unknown");
	bb_tlv_str(&b, PP2_SUBTYPE_SSL_CN, "cn");
	bb_tlv_str(&b, 0x2F, "again"); /* unknown sub-TLVs may repeat */
	bb_tlv_end(&b, s);
	v2_ok(&b, &h);
	t_assert_str(h.ssl.cn, "cn");
	assert_null(h.ssl.version.data);
	bb_free(&b);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(pp_tlv_name(PP2_TYPE_ALPN), "alpn");
	assert_string_equal(pp_tlv_name(PP2_TYPE_CRC32C), "crc32c");
	static const uint8_t known[] = {PP2_TYPE_AUTHORITY, PP2_TYPE_NOOP, PP2_TYPE_UNIQUE_ID, PP2_TYPE_SSL,
	                                PP2_TYPE_NETNS};
	for (size_t i = 0; i < ARRAY_LEN(known); i++) {
		assert_non_null(pp_tlv_name(known[i]));
		assert_true(strlen(pp_tlv_name(known[i])) > 0);
	}
	assert_null(pp_tlv_name(0xE0));
	assert_null(pp_tlv_name(0xF0));
	assert_null(pp_tlv_name(0x00));
	assert_non_null(pp_command_name(PP_CMD_LOCAL));
	assert_non_null(pp_command_name(PP_CMD_PROXY));
	assert_string_not_equal(pp_command_name(PP_CMD_LOCAL), pp_command_name(PP_CMD_PROXY));
	for (int f = 0; f < 4; f++)
		assert_non_null(pp_family_name((enum pp_family)f));
	for (int t = 0; t < 3; t++)
		assert_non_null(pp_transport_name((enum pp_transport)t));
}
int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tlv_truncated),        cmocka_unit_test(test_tlv_duplicates),
	        cmocka_unit_test(test_noop_repeat),          cmocka_unit_test(test_custom_tlvs_walk),
	        cmocka_unit_test(test_crc32c_function),      cmocka_unit_test(test_crc32c_tlv),
	        cmocka_unit_test(test_crc32c_wrong_length),  cmocka_unit_test(test_unique_id),
	        cmocka_unit_test(test_alpn_authority_netns), cmocka_unit_test(test_ssl_full),
	        cmocka_unit_test(test_ssl_client_verify),    cmocka_unit_test(test_ssl_too_short),
	        cmocka_unit_test(test_ssl_sub_truncated),    cmocka_unit_test(test_ssl_sub_duplicate),
	        cmocka_unit_test(test_ssl_unknown_sub),      cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests_name("proxy_v2_tlv", tests, NULL, NULL);
}
