/* PROXY protocol v1 decoder: every rule of docs/proxy-codec.md's v1 section and HAProxy's spec examples. */
#include "test_util.h"

static void v1_err(const char *line, enum pp_error want)
{
	t_expect_err(line, strlen(line), want);
}

/* For the few inputs where two error codes both describe the fault. */
static void v1_err_either(const char *line, enum pp_error a, enum pp_error b)
{
	struct pp_header h;
	enum pp_error e = t_decode(line, strlen(line), NULL, &h, PP_ERROR);
	if (e != a && e != b) {
		t_show("input", line, strlen(line));
		print_message("  expected %s or %s, got %s\n", t_errname(a), t_errname(b), t_errname(e));
	}
	assert_true(e == a || e == b);
}

static void v1_ok(const char *line, struct pp_header *h)
{
	t_expect_ok(line, strlen(line), h);
	assert_int_equal(h->header_len, strlen(line));
	assert_int_equal(h->version, 1);
}

static void check_tcp(const char *line, enum pp_family fam, int af, const char *src, const char *dst,
                      uint16_t sport, uint16_t dport)
{
	struct pp_header h;
	v1_ok(line, &h);
	assert_int_equal(h.command, PP_CMD_PROXY);
	assert_int_equal(h.family, fam);
	assert_int_equal(h.transport, PP_TRANS_STREAM);
	t_assert_addr(&h.src, af, src, sport);
	t_assert_addr(&h.dst, af, dst, dport);
	/* v1 carries no TLVs */
	assert_null(h.alpn.data);
	assert_null(h.authority.data);
	assert_null(h.unique_id.data);
	assert_null(h.netns.data);
	assert_false(h.ssl.present);
	assert_false(h.has_crc32c);
	assert_int_equal(h.tlvs.len, 0);
}

static void check_unknown(const char *line)
{
	struct pp_header h;
	v1_ok(line, &h);
	assert_int_equal(h.command, PP_CMD_PROXY);
	assert_int_equal(h.family, PP_FAM_UNSPEC);
	assert_int_equal(h.transport, PP_TRANS_UNSPEC);
	assert_int_equal(h.src.sa.sa_family, AF_UNSPEC);
	assert_int_equal(h.dst.sa.sa_family, AF_UNSPEC);
}

/* ---- valid lines ---- */

static void test_tcp4(void **state)
{
	(void)state;
	check_tcp("PROXY TCP4 192.0.2.1 198.51.100.22 35646 25\r\n", PP_FAM_INET, AF_INET, "192.0.2.1",
	          "198.51.100.22", 35646, 25);
	check_tcp("PROXY TCP4 0.0.0.0 10.0.0.1 0 1\r\n", PP_FAM_INET, AF_INET, "0.0.0.0", "10.0.0.1", 0, 1);
	check_tcp("PROXY TCP4 1.2.3.4 100.200.10.0 10 100\r\n", PP_FAM_INET, AF_INET, "1.2.3.4",
	          "100.200.10.0", 10, 100);
}

static void test_tcp4_spec_max(void **state)
{
	(void)state;
	const char *l = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
	assert_int_equal(strlen(l), 56); /* the spec's worst case for TCP4 */
	check_tcp(l, PP_FAM_INET, AF_INET, "255.255.255.255", "255.255.255.255", 65535, 65535);
}

static void test_tcp6(void **state)
{
	(void)state;
	check_tcp("PROXY TCP6 2001:db8::1 2001:db8::25 40000 587\r\n", PP_FAM_INET6, AF_INET6, "2001:db8::1",
	          "2001:db8::25", 40000, 587);
	check_tcp("PROXY TCP6 ::1 :: 1 0\r\n", PP_FAM_INET6, AF_INET6, "::1", "::", 1, 0);
	/* uncompressed input, shown compressed */
	check_tcp("PROXY TCP6 2001:0db8:0000:0000:0000:0000:0000:0001 fe80::1 465 993\r\n", PP_FAM_INET6,
	          AF_INET6, "2001:db8::1", "fe80::1", 465, 993);
}

static void test_tcp6_spec_max(void **state)
{
	(void)state;
	const char *l =
	        "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	        "65535 65535\r\n";
	assert_int_equal(strlen(l), 104); /* the spec's worst case for TCP6 */
	check_tcp(l, PP_FAM_INET6, AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, 65535);
}

/* HAProxy on a dual-stack listener sends IPv4 clients as IPv4-mapped IPv6. */
static void test_tcp6_v4mapped(void **state)
{
	(void)state;
	const char *l = "PROXY TCP6 ::ffff:192.0.2.23 ::ffff:198.51.100.1 50000 25\r\n";
	struct pp_header h;
	v1_ok(l, &h);
	assert_int_equal(h.family, PP_FAM_INET6);
	/* as the header states it: AF_INET6; ntop shows it as IPv4 */
	t_assert_addr(&h.src, AF_INET6, "192.0.2.23", 50000);
	t_assert_addr(&h.dst, AF_INET6, "198.51.100.1", 25);
	static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 23};
	assert_memory_equal(&h.src.in6.sin6_addr, mapped, 16);

	union pp_sockaddr a = h.src;
	pp_sockaddr_unmap(&a);
	t_assert_addr(&a, AF_INET, "192.0.2.23", 50000);
	assert_int_equal(ntohl(a.in.sin_addr.s_addr), 0xC0000217u);

	/* unmap leaves other addresses alone */
	union pp_sockaddr b;
	assert_true(pp_sockaddr_parse(&b, "2001:db8::1", 25));
	pp_sockaddr_unmap(&b);
	t_assert_addr(&b, AF_INET6, "2001:db8::1", 25);
}

static void test_unknown(void **state)
{
	(void)state;
	check_unknown("PROXY UNKNOWN\r\n");
	check_unknown("PROXY UNKNOWN garbage that is ignored\r\n");
	check_unknown("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n");
	check_unknown("PROXY UNKNOWN not even  an\taddress 99999\r\n");
}

/* The spec's 107-byte worst case: "PROXY UNKNOWN" followed by two full IPv6 addresses and ports. */
static void test_unknown_spec_worst_case(void **state)
{
	(void)state;
	const char *l = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	                "65535 65535\r\n";
	assert_int_equal(strlen(l), PP_V1_MAX_LEN);
	check_unknown(l);
}

static void make_unknown(char *out, size_t total)
{
	/* "PROXY UNKNOWN " + 'x' * (total - 16) + "\r\n" */
	strcpy(out, "PROXY UNKNOWN ");
	size_t n = strlen(out);
	while (n < total - 2)
		out[n++] = 'x';
	out[n++] = '\r';
	out[n++] = '\n';
	out[n] = '\0';
}

static void test_max_length(void **state)
{
	(void)state;
	char l[256];

	make_unknown(l, 107);
	assert_int_equal(strlen(l), 107);
	check_unknown(l);

	make_unknown(l, 106);
	check_unknown(l);

	make_unknown(l, 108);
	assert_int_equal(strlen(l), 108);
	v1_err(l, PP_ERR_V1_TOO_LONG);

	make_unknown(l, 200);
	v1_err(l, PP_ERR_V1_TOO_LONG);

	/* a TCP4 line padded past 107 bytes is too long too, even if its fields are fine otherwise */
	make_unknown(l, 108);
	memcpy(l, "PROXY TCP4", 10);
	v1_err(l, PP_ERR_V1_TOO_LONG);
}

/* 107 bytes without an LF are an error as soon as they are in, without waiting for more. */
static void test_too_long_incremental(void **state)
{
	(void)state;
	char l[256];
	make_unknown(l, 200);

	struct pp_decoder d;
	size_t used;
	pp_decoder_init(&d, NULL);
	assert_int_equal(pp_decoder_feed(&d, l, 106, &used), PP_NEED_MORE);
	assert_int_equal(used, 106);
	assert_int_equal(pp_decoder_feed(&d, l + 106, 1, &used), PP_ERROR);
	assert_int_equal(pp_decoder_error(&d), PP_ERR_V1_TOO_LONG);
	pp_decoder_free(&d);

	/* one-shot, exactly 107 bytes, no LF */
	struct pp_header h;
	assert_int_equal(t_decode(l, 107, NULL, &h, PP_ERROR), PP_ERR_V1_TOO_LONG);
	/* 106 bytes without an LF: still a possible header */
	t_decode(l, 106, NULL, &h, PP_NEED_MORE);

	/* the 107th byte is CR and the 108th LF: a 108-byte line */
	make_unknown(l, 108);
	assert_int_equal(l[106], '\r');
	assert_int_equal(t_decode(l, 107, NULL, &h, PP_ERROR), PP_ERR_V1_TOO_LONG);
}

/* ---- framing ---- */

static void test_crlf(void **state)
{
	(void)state;
	struct pp_header h;
	const char *noend = "PROXY TCP4 192.0.2.1 198.51.100.22 35646 25";

	/* no CRLF yet: the header is incomplete, not wrong */
	t_decode(noend, strlen(noend), NULL, &h, PP_NEED_MORE);
	t_decode("PROXY TCP4 192.0.2.1 198.51.100.22 35646 25\r", strlen(noend) + 1, NULL, &h, PP_NEED_MORE);
	struct pp_decoder d;
	size_t used;
	pp_decoder_init(&d, NULL);
	assert_int_equal(pp_decoder_feed(&d, noend, strlen(noend), &used), PP_NEED_MORE);
	assert_int_equal(used, strlen(noend));
	assert_null(pp_decoder_header(&d));
	pp_decoder_free(&d);

	v1_err("PROXY TCP4 192.0.2.1 198.51.100.22 35646 25\n", PP_ERR_V1_NO_CRLF);
	v1_err("PROXY UNKNOWN\n", PP_ERR_V1_NO_CRLF);
	v1_err("PROXY UNKNOWN garbage\n", PP_ERR_V1_NO_CRLF);
	v1_err("PROXY TCP4 192.0.2.1\r198.51.100.22 35646 25\r\n", PP_ERR_V1_NO_CRLF);
	v1_err("PROXY TCP4 192.0.2.1 198.51.100.22 35646 25\r\r\n", PP_ERR_V1_NO_CRLF);
	v1_err("PROXY UNKNOWN a\rb\r\n", PP_ERR_V1_NO_CRLF);
}

static void test_spaces(void **state)
{
	(void)state;
	v1_err("PROXY  TCP4 192.0.2.1 198.51.100.22 35646 25\r\n", PP_ERR_V1_SYNTAX);
	v1_err("PROXY TCP4  192.0.2.1 198.51.100.22 35646 25\r\n", PP_ERR_V1_SYNTAX);
	v1_err("PROXY TCP4 192.0.2.1  198.51.100.22 35646 25\r\n", PP_ERR_V1_SYNTAX);
	v1_err("PROXY TCP4 192.0.2.1 198.51.100.22  35646 25\r\n", PP_ERR_V1_SYNTAX);
	v1_err("PROXY TCP4 192.0.2.1 198.51.100.22 35646  25\r\n", PP_ERR_V1_SYNTAX);
	v1_err("PROXY TCP6 ::1  ::1 1 2\r\n", PP_ERR_V1_SYNTAX);
	/* a tab is not a space: the protocol field reads "TCP4\t192.0.2.1" (or the separator is wrong) */
	v1_err_either("PROXY TCP4\t192.0.2.1 198.51.100.22 35646 25\r\n", PP_ERR_V1_PROTO, PP_ERR_V1_SYNTAX);
}

/* ---- protocol ---- */

static void test_proto(void **state)
{
	(void)state;
	v1_err("PROXY TCP5 192.0.2.1 198.51.100.22 35646 25\r\n", PP_ERR_V1_PROTO);
	v1_err("PROXY tcp4 192.0.2.1 198.51.100.22 35646 25\r\n", PP_ERR_V1_PROTO);
	v1_err("PROXY tcp6 ::1 ::1 1 2\r\n", PP_ERR_V1_PROTO);
	v1_err("PROXY UDP4 192.0.2.1 198.51.100.22 35646 25\r\n", PP_ERR_V1_PROTO);
	v1_err("PROXY TCP 192.0.2.1 198.51.100.22 35646 25\r\n", PP_ERR_V1_PROTO);
	v1_err("PROXY TCP44 192.0.2.1 198.51.100.22 35646 25\r\n", PP_ERR_V1_PROTO);
	v1_err("PROXY unknown\r\n", PP_ERR_V1_PROTO);
	v1_err("PROXY UNKNOWNX\r\n", PP_ERR_V1_PROTO);
	v1_err("PROXY UNKNOW\r\n", PP_ERR_V1_PROTO);
}

/* ---- addresses ---- */

static void test_addr_family(void **state)
{
	(void)state;
	v1_err("PROXY TCP4 2001:db8::1 198.51.100.22 35646 25\r\n", PP_ERR_V1_SRC_ADDR);
	v1_err("PROXY TCP4 192.0.2.1 ::1 35646 25\r\n", PP_ERR_V1_DST_ADDR);
	v1_err("PROXY TCP4 ::ffff:192.0.2.1 198.51.100.22 35646 25\r\n", PP_ERR_V1_SRC_ADDR);
	v1_err("PROXY TCP6 192.0.2.1 2001:db8::1 35646 25\r\n", PP_ERR_V1_SRC_ADDR);
	v1_err("PROXY TCP6 2001:db8::1 198.51.100.22 35646 25\r\n", PP_ERR_V1_DST_ADDR);
}

static void test_addr_ipv4_syntax(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "256.0.0.1",  "1.256.0.1", "1.2.300.4", "1.2.3.999", "1.2.3.4294967297",
	        "01.2.3.4",   "1.02.3.4",  "1.2.3.04",  "1.2.3.00",  "00.1.2.3",
	        "1.2.3",      "1.2.3.4.5", "1.2.3.",    ".1.2.3",    "1..2.3",
	        "1.2.3.a",    "0x1.2.3.4", "1.2.3.-4",  "1.2.3.+4",  "a",
	        "1.2.3.4/32",
	};
	char l[160];
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(l, sizeof(l), "PROXY TCP4 %s 198.51.100.22 35646 25\r\n", bad[i]);
		v1_err(l, PP_ERR_V1_SRC_ADDR);
		snprintf(l, sizeof(l), "PROXY TCP4 192.0.2.1 %s 35646 25\r\n", bad[i]);
		v1_err(l, PP_ERR_V1_DST_ADDR);
	}
	/* zero octets are fine, just not zero-prefixed */
	check_tcp("PROXY TCP4 10.0.0.0 0.0.0.0 1 2\r\n", PP_FAM_INET, AF_INET, "10.0.0.0", "0.0.0.0", 1, 2);
}

static void test_addr_ipv6_syntax(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "2001:db8:::1", "2001:db8::1::2", "1:2:3:4:5:6:7:8:9", "12345::1", "g::1", "fe80::1%eth0",
	        ":1",           "[::1]",
	};
	char l[160];
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(l, sizeof(l), "PROXY TCP6 %s 2001:db8::25 35646 25\r\n", bad[i]);
		v1_err(l, PP_ERR_V1_SRC_ADDR);
		snprintf(l, sizeof(l), "PROXY TCP6 2001:db8::25 %s 35646 25\r\n", bad[i]);
		v1_err(l, PP_ERR_V1_DST_ADDR);
	}
}

/* ---- ports ---- */

static void test_ports(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "65536", "99999", "4294967296", "18446744073709551617", "080", "00", "0080", "-1",
	        "+1",    "1a",    "0x10",
	};
	char l[160];
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(l, sizeof(l), "PROXY TCP4 192.0.2.1 198.51.100.22 %s 25\r\n", bad[i]);
		v1_err(l, PP_ERR_V1_SRC_PORT);
		snprintf(l, sizeof(l), "PROXY TCP4 192.0.2.1 198.51.100.22 25 %s\r\n", bad[i]);
		v1_err(l, PP_ERR_V1_DST_PORT);
		snprintf(l, sizeof(l), "PROXY TCP6 ::1 ::2 %s 25\r\n", bad[i]);
		v1_err(l, PP_ERR_V1_SRC_PORT);
		snprintf(l, sizeof(l), "PROXY TCP6 ::1 ::2 25 %s\r\n", bad[i]);
		v1_err(l, PP_ERR_V1_DST_PORT);
	}
	check_tcp("PROXY TCP4 192.0.2.1 198.51.100.22 0 65535\r\n", PP_FAM_INET, AF_INET, "192.0.2.1",
	          "198.51.100.22", 0, 65535);
	check_tcp("PROXY TCP4 192.0.2.1 198.51.100.22 65535 0\r\n", PP_FAM_INET, AF_INET, "192.0.2.1",
	          "198.51.100.22", 65535, 0);
	check_tcp("PROXY TCP4 192.0.2.1 198.51.100.22 10 1000\r\n", PP_FAM_INET, AF_INET, "192.0.2.1",
	          "198.51.100.22", 10, 1000);
}

/* An empty port only arises from a stray space or a missing field. Both a syntax error and a port error
 * describe it ("fields or spaces not as the spec writes them" / "not a decimal"), so either is accepted;
 * it must be an error. */
static void empty_port(const char *line, enum pp_error port_err)
{
	v1_err_either(line, PP_ERR_V1_SYNTAX, port_err);
}

static void test_empty_port(void **state)
{
	(void)state;
	empty_port("PROXY TCP4 192.0.2.1 198.51.100.22  25\r\n", PP_ERR_V1_SRC_PORT);
	empty_port("PROXY TCP4 192.0.2.1 198.51.100.22 25 \r\n", PP_ERR_V1_DST_PORT);
	empty_port("PROXY TCP6 ::1 ::2 25 \r\n", PP_ERR_V1_DST_PORT);
}

/* ---- fields ---- */

static void test_missing_fields(void **state)
{
	(void)state;
	v1_err("PROXY TCP4 192.0.2.1 198.51.100.22 35646\r\n", PP_ERR_V1_SYNTAX);
	v1_err("PROXY TCP4 192.0.2.1 198.51.100.22\r\n", PP_ERR_V1_SYNTAX);
	v1_err("PROXY TCP4 192.0.2.1\r\n", PP_ERR_V1_SYNTAX);
	v1_err("PROXY TCP4\r\n", PP_ERR_V1_SYNTAX);
	v1_err("PROXY TCP6 ::1 ::2 1\r\n", PP_ERR_V1_SYNTAX);
	v1_err("PROXY TCP6\r\n", PP_ERR_V1_SYNTAX);
}

static void test_extra_field(void **state)
{
	(void)state;
	v1_err("PROXY TCP4 192.0.2.1 198.51.100.22 35646 25 extra\r\n", PP_ERR_V1_SYNTAX);
	v1_err("PROXY TCP4 192.0.2.1 198.51.100.22 35646 25 26\r\n", PP_ERR_V1_SYNTAX);
	v1_err("PROXY TCP6 ::1 ::2 1 2 3\r\n", PP_ERR_V1_SYNTAX);
}

/* ---- detection ---- */

static void test_not_proxy(void **state)
{
	(void)state;
	v1_err("GET / HTTP/1.0\r\n\r\n", PP_ERR_NOT_PROXY);
	v1_err("GET /", PP_ERR_NOT_PROXY);
	v1_err("EHLO mail.example.org\r\n", PP_ERR_NOT_PROXY);
	v1_err("EHLO", PP_ERR_NOT_PROXY);
	static const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
	t_expect_err(tls, sizeof(tls), PP_ERR_NOT_PROXY);
	t_expect_err(tls, 1, PP_ERR_NOT_PROXY);
	/* the first byte that differs from both prefixes decides */
	v1_err("PROXX TCP4", PP_ERR_NOT_PROXY);
	v1_err("PROXY\r\n", PP_ERR_NOT_PROXY);
	v1_err("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PP_ERR_NOT_PROXY);
	v1_err("P\r", PP_ERR_NOT_PROXY);
	v1_err(" PROXY TCP4", PP_ERR_NOT_PROXY);
}

static void test_need_more(void **state)
{
	(void)state;
	static const char *const pre[] = {"P",     "PR",     "PRO",     "PROX",
	                                  "PROXY", "PROXY ", "PROXY T", "PROXY TCP4 1"};
	struct pp_header h;
	for (size_t i = 0; i < ARRAY_LEN(pre); i++) {
		t_decode(pre[i], strlen(pre[i]), NULL, &h, PP_NEED_MORE);
		struct pp_decoder d;
		size_t used = 999;
		pp_decoder_init(&d, NULL);
		assert_int_equal(pp_decoder_feed(&d, pre[i], strlen(pre[i]), &used), PP_NEED_MORE);
		assert_int_equal(used, strlen(pre[i]));
		assert_null(pp_decoder_header(&d));
		pp_decoder_free(&d);
	}
	/* nothing at all is need-more too */
	t_decode("", 0, NULL, &h, PP_NEED_MORE);
}

static void test_version_refused(void **state)
{
	(void)state;
	struct pp_options v2only = {.accept = PP_ACCEPT_V2, .max_header = 0};
	struct pp_header h;

	t_expect_err_opt("PROXY ", 6, &v2only, PP_ERR_VERSION_REFUSED);
	const char *l = "PROXY TCP4 192.0.2.1 198.51.100.22 35646 25\r\n";
	t_expect_err_opt(l, strlen(l), &v2only, PP_ERR_VERSION_REFUSED);
	/* an incomplete prefix is not refused yet */
	t_decode("PROX", 4, &v2only, &h, PP_NEED_MORE);
	t_decode("PROXY", 5, &v2only, &h, PP_NEED_MORE);
	/* something else is still "not proxy" */
	t_expect_err_opt("EHLO x\r\n", 8, &v2only, PP_ERR_NOT_PROXY);

	/* accept V1 only / ANY / 0 take the line */
	struct pp_options v1only = {.accept = PP_ACCEPT_V1, .max_header = 0};
	struct pp_options any = {.accept = PP_ACCEPT_ANY, .max_header = 0};
	struct pp_options zero = {.accept = 0, .max_header = 0};
	t_expect_ok_opt(l, strlen(l), &v1only, &h);
	t_expect_ok_opt(l, strlen(l), &any, &h);
	t_expect_ok_opt(l, strlen(l), &zero, &h);
	assert_int_equal(h.family, PP_FAM_INET);
}

/* ---- helpers ---- */

static void test_sockaddr_helpers(void **state)
{
	(void)state;
	union pp_sockaddr a;
	assert_true(pp_sockaddr_parse(&a, "192.0.2.1", 25));
	t_assert_addr(&a, AF_INET, "192.0.2.1", 25);
	assert_int_equal(ntohs(a.in.sin_port), 25); /* network order inside the sockaddr */
	assert_true(pp_sockaddr_parse(&a, "2001:db8::1", 65535));
	t_assert_addr(&a, AF_INET6, "2001:db8::1", 65535);
	assert_int_equal(ntohs(a.in6.sin6_port), 65535);
	assert_false(pp_sockaddr_parse(&a, "not an address", 1));
	assert_false(pp_sockaddr_parse(&a, "256.1.1.1", 1));
	assert_false(pp_sockaddr_parse(&a, "", 1));
}

/* v1 decoded ports are in network byte order inside the sockaddrs. */
static void test_port_byte_order(void **state)
{
	(void)state;
	struct pp_header h;
	v1_ok("PROXY TCP4 192.0.2.1 198.51.100.22 258 25\r\n", &h);
	assert_int_equal(ntohs(h.src.in.sin_port), 258);
	assert_int_equal(ntohs(h.dst.in.sin_port), 25);
	assert_int_equal(ntohl(h.src.in.sin_addr.s_addr), 0xC0000201u);
	v1_ok("PROXY TCP6 ::1 ::2 258 25\r\n", &h);
	assert_int_equal(ntohs(h.src.in6.sin6_port), 258);
	assert_int_equal(h.src.in6.sin6_addr.s6_addr[15], 1);
	assert_int_equal(h.dst.in6.sin6_addr.s6_addr[15], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tcp4),
	        cmocka_unit_test(test_tcp4_spec_max),
	        cmocka_unit_test(test_tcp6),
	        cmocka_unit_test(test_tcp6_spec_max),
	        cmocka_unit_test(test_tcp6_v4mapped),
	        cmocka_unit_test(test_unknown),
	        cmocka_unit_test(test_unknown_spec_worst_case),
	        cmocka_unit_test(test_max_length),
	        cmocka_unit_test(test_too_long_incremental),
	        cmocka_unit_test(test_crlf),
	        cmocka_unit_test(test_spaces),
	        cmocka_unit_test(test_proto),
	        cmocka_unit_test(test_addr_family),
	        cmocka_unit_test(test_addr_ipv4_syntax),
	        cmocka_unit_test(test_addr_ipv6_syntax),
	        cmocka_unit_test(test_ports),
	        cmocka_unit_test(test_empty_port),
	        cmocka_unit_test(test_missing_fields),
	        cmocka_unit_test(test_extra_field),
	        cmocka_unit_test(test_not_proxy),
	        cmocka_unit_test(test_need_more),
	        cmocka_unit_test(test_version_refused),
	        cmocka_unit_test(test_sockaddr_helpers),
	        cmocka_unit_test(test_port_byte_order),
	};
	return cmocka_run_group_tests_name("proxy_v1", tests, NULL, NULL);
}
