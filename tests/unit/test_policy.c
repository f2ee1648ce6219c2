/* CIDR sets (parse, match, format) and the per-listener peer verdict: every row of policy.h's table for
 * each proxy mode, over IPv4, IPv6 and IPv4-mapped peers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "conf/config.h"
#include "policy/cidr.h"
#include "policy/policy.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A peer address from text (port 4242: ports never matter). */
static union pp_sockaddr peer(const char *ip)
{
	union pp_sockaddr a;
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, ip, &a.in.sin_addr) == 1) {
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons(4242);
	} else {
		if (inet_pton(AF_INET6, ip, &a.in6.sin6_addr) != 1)
			print_message("  bad test address '%s'\n", ip);
		assert_int_equal(inet_pton(AF_INET6, ip, &a.in6.sin6_addr), 1);
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(4242);
	}
	return a;
}

static void set_of(const char *text, struct cidr_set *s)
{
	const char *bad = NULL;
	bool ok = cidr_set_parse(text, s, &bad);
	if (!ok)
		print_message("  cidr_set_parse('%s') failed at '%s'\n", text, bad ? bad : "(null)");
	assert_true(ok);
	assert_null(bad);
}

/* Does the one-entry set "entry" match ip? */
static bool matches(const char *entry, const char *ip)
{
	struct cidr_set s;
	union pp_sockaddr a = peer(ip);
	set_of(entry, &s);
	assert_int_equal(s.n, 1);
	bool m = cidr_set_match(&s, &a.sa);
	cidr_set_free(&s);
	return m;
}

static void expect_match(const char *entry, const char *ip, bool want)
{
	bool got = matches(entry, ip);
	if (got != want)
		print_message("  %s %s: expected %s\n", entry, ip, want ? "a match" : "no match");
	assert_int_equal(got, want);
}

/* ---- cidr_parse ---- */

static void check_parse(const char *text, int family, const char *addr, unsigned prefix)
{
	struct cidr c;
	char buf[INET6_ADDRSTRLEN];

	memset(&c, 0xa5, sizeof(c));
	if (!cidr_parse(text, &c))
		print_message("  rejected '%s'\n", text);
	assert_true(cidr_parse(text, &c));
	assert_int_equal(c.family, family);
	assert_int_equal(c.prefix, prefix);
	assert_non_null(inet_ntop(family, c.addr, buf, sizeof(buf)));
	assert_string_equal(buf, addr);
	if (family == AF_INET) {
		static const uint8_t zero[12];
		assert_memory_equal(c.addr + 4, zero, 12); /* the rest of an IPv4 entry is zero */
	}
}

static void test_cidr_parse(void **state)
{
	(void)state;
	check_parse("192.0.2.0/24", AF_INET, "192.0.2.0", 24);
	check_parse("192.0.2.77/24", AF_INET, "192.0.2.0", 24); /* host bits zeroed */
	check_parse("192.0.2.77/25", AF_INET, "192.0.2.0", 25);
	check_parse("192.0.2.255/25", AF_INET, "192.0.2.128", 25);
	check_parse("10.1.2.3", AF_INET, "10.1.2.3", 32); /* bare: a host */
	check_parse("10.1.2.3/32", AF_INET, "10.1.2.3", 32);
	check_parse("10.1.2.3/08", AF_INET, "10.0.0.0", 8);
	check_parse("255.255.255.255/1", AF_INET, "128.0.0.0", 1);
	check_parse("1.2.3.4/0", AF_INET, "0.0.0.0", 0);
	check_parse("0.0.0.0/0", AF_INET, "0.0.0.0", 0);
	check_parse("::1", AF_INET6, "::1", 128);
	check_parse("::1/128", AF_INET6, "::1", 128);
	check_parse("::/0", AF_INET6, "::", 0);
	check_parse("ffff::1/0", AF_INET6, "::", 0);
	check_parse("2001:db8::/32", AF_INET6, "2001:db8::", 32);
	check_parse("2001:db8:ffff::1/33", AF_INET6, "2001:db8:8000::", 33);
	check_parse("2001:DB8::1/127", AF_INET6, "2001:db8::", 127);
	check_parse("fe80::1:2:3:4/64", AF_INET6, "fe80::", 64);
	/* IPv4-mapped entries with a prefix of 96 or more are IPv4 entries */
	check_parse("::ffff:192.0.2.1", AF_INET, "192.0.2.1", 32);
	check_parse("::ffff:10.9.8.7/104", AF_INET, "10.0.0.0", 8);
	check_parse("::ffff:c000:0201/120", AF_INET, "192.0.2.0", 24);
	check_parse("::ffff:0:0/96", AF_INET, "0.0.0.0", 0);
	check_parse("::ffff:0:0/95", AF_INET6, "::fffe:0:0",
	            95); /* wider than the mapped block: stays IPv6 */
	check_parse("::ffff:1.2.3.4/64", AF_INET6, "::", 64);
	check_parse("::192.0.2.1", AF_INET6, "::192.0.2.1", 128); /* IPv4-compatible is not mapped */

	static const char *const bad[] = {
	        "",
	        "/24",
	        "10.0.0.0/",
	        "10.0.0.0/33",
	        "10.0.0.0/100",
	        "10.0.0.0/0008",
	        "10.0.0.0/-1",
	        "10.0.0.0/+1",
	        "10.0.0.0/1a",
	        "10.0.0.0/ 8",
	        "10.0.0.0 /8",
	        " 10.0.0.0",
	        "10.0.0.0 ",
	        "10.0.0.0/8/8",
	        "10.0.0/8",
	        "10.0.0.0.0",
	        "010.0.0.1",
	        "256.0.0.0/8",
	        "::/129",
	        "::1/1280",
	        "1::2::3",
	        "2001:db8::/",
	        "[::1]",
	        "fe80::1%eth0",
	        "localhost",
	        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:1/128",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct cidr c;
		memset(&c, 0xa5, sizeof(c));
		if (cidr_parse(bad[i], &c))
			print_message("  accepted '%s'\n", bad[i]);
		assert_false(cidr_parse(bad[i], &c));
		assert_int_equal(c.prefix, 0xa5a5a5a5u); /* untouched */
	}
	struct cidr c;
	assert_false(cidr_parse(NULL, &c));
	assert_false(cidr_parse("10.0.0.0/8", NULL));
	/* the longest IPv6 text there is still parses */
	check_parse("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", AF_INET6,
	            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128);
}

/* ---- cidr_set_match ---- */

static void test_match_v4(void **state)
{
	(void)state;
	expect_match("192.0.2.0/24", "192.0.2.0", true);
	expect_match("192.0.2.0/24", "192.0.2.255", true);
	expect_match("192.0.2.0/24", "192.0.3.0", false);
	expect_match("192.0.2.0/24", "192.0.1.255", false);
	expect_match("192.0.2.128/25", "192.0.2.127", false);
	expect_match("192.0.2.128/25", "192.0.2.128", true);
	expect_match("192.0.2.4/31", "192.0.2.5", true);
	expect_match("192.0.2.4/31", "192.0.2.6", false);
	expect_match("192.0.2.4/31", "192.0.2.3", false);
	/* /32 */
	expect_match("203.0.113.9/32", "203.0.113.9", true);
	expect_match("203.0.113.9/32", "203.0.113.8", false);
	expect_match("203.0.113.9/32", "203.0.113.10", false);
	expect_match("203.0.113.9", "203.0.113.9", true);
	/* /1 and /0 */
	expect_match("128.0.0.0/1", "128.0.0.0", true);
	expect_match("128.0.0.0/1", "255.255.255.255", true);
	expect_match("128.0.0.0/1", "127.255.255.255", false);
	expect_match("0.0.0.0/0", "0.0.0.0", true);
	expect_match("0.0.0.0/0", "255.255.255.255", true);
	expect_match("0.0.0.0/0", "10.0.0.1", true);
	/* an IPv4 entry never matches an IPv6 peer, however wide */
	expect_match("0.0.0.0/0", "::1", false);
	expect_match("0.0.0.0/0", "2001:db8::1", false);
	expect_match("0.0.0.0/0", "::", false);
	expect_match("10.0.0.1", "::10.0.0.1", false); /* IPv4-compatible is not mapped */
}

static void test_match_v6(void **state)
{
	(void)state;
	expect_match("2001:db8::/32", "2001:db8::", true);
	expect_match("2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true);
	expect_match("2001:db8::/32", "2001:db9::", false);
	expect_match("2001:db8::/32", "2001:db7:ffff::", false);
	expect_match("2001:db8::/33", "2001:db8:7fff::1", true);
	expect_match("2001:db8::/33", "2001:db8:8000::1", false);
	/* /128 */
	expect_match("::1/128", "::1", true);
	expect_match("::1/128", "::", false);
	expect_match("::1/128", "::2", false);
	expect_match("::1", "::1", true);
	expect_match("2001:db8::ff/128", "2001:db8::fe", false);
	/* /127 */
	expect_match("2001:db8::/127", "2001:db8::1", true);
	expect_match("2001:db8::/127", "2001:db8::2", false);
	/* /1 and /0 */
	expect_match("8000::/1", "8000::", true);
	expect_match("8000::/1", "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false);
	expect_match("::/0", "::", true);
	expect_match("::/0", "::1", true);
	expect_match("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true);
	/* an IPv6 entry never matches an IPv4 peer, mapped or not */
	expect_match("::/0", "127.0.0.1", false);
	expect_match("::/0", "::ffff:127.0.0.1", false);
	expect_match("::ffff:0:0/95", "10.0.0.1", false);
	expect_match("::ffff:0:0/95", "::ffff:10.0.0.1", false);
	expect_match("::/64", "::ffff:10.0.0.1", false);
}

static void test_match_mapped(void **state)
{
	(void)state;
	/* a mapped peer is its IPv4 address */
	expect_match("127.0.0.0/8", "::ffff:127.0.0.1", true);
	expect_match("127.0.0.0/8", "::ffff:128.0.0.1", false);
	expect_match("192.0.2.1", "::ffff:192.0.2.1", true);
	expect_match("192.0.2.1/32", "::ffff:192.0.2.2", false);
	expect_match("0.0.0.0/0", "::ffff:0.0.0.0", true);
	expect_match("0.0.0.0/0", "::ffff:255.255.255.255", true);
	/* a mapped entry is an IPv4 entry: it matches plain and mapped IPv4 peers */
	expect_match("::ffff:127.0.0.0/104", "127.0.0.1", true);
	expect_match("::ffff:127.0.0.0/104", "::ffff:127.255.255.255", true);
	expect_match("::ffff:127.0.0.0/104", "128.0.0.1", false);
	expect_match("::ffff:192.0.2.1", "192.0.2.1", true);
	expect_match("::ffff:192.0.2.1/128", "192.0.2.2", false);
	expect_match("::ffff:0:0/96", "203.0.113.1", true);
	expect_match("::ffff:0:0/96", "::ffff:203.0.113.1", true);
	expect_match("::ffff:0:0/96", "::1", false);
	/* ports never matter */
	struct cidr_set s;
	union pp_sockaddr a = peer("10.0.0.1");
	set_of("10.0.0.1", &s);
	a.in.sin_port = htons(1);
	assert_true(cidr_set_match(&s, &a.sa));
	cidr_set_free(&s);
}

static void test_match_other(void **state)
{
	struct cidr_set s, empty = {NULL, 0};
	union pp_sockaddr a = peer("10.0.0.1");
	struct sockaddr_un un;
	struct sockaddr unspec;

	(void)state;
	set_of("0.0.0.0/0, ::/0", &s);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	strcpy(un.sun_path, "/run/x");
	assert_false(cidr_set_match(&s, (const struct sockaddr *)&un));
	memset(&unspec, 0, sizeof(unspec));
	unspec.sa_family = AF_UNSPEC;
	assert_false(cidr_set_match(&s, &unspec));
	assert_false(cidr_set_match(&s, NULL));
	assert_false(cidr_set_match(NULL, &a.sa));
	assert_false(cidr_set_match(&empty, &a.sa));
	assert_true(cidr_set_match(&s, &a.sa));
	cidr_set_free(&s);
}

/* ---- sets ---- */

static void test_set_parse(void **state)
{
	struct cidr_set s;
	const char *bad;
	char buf[512];

	(void)state;
	static const struct {
		const char *text, *formatted;
		size_t n;
	} good[] = {
	        {"127.0.0.0/8, ::1/128", "127.0.0.0/8, ::1/128", 2},
	        {"127.0.0.0/8,::1/128", "127.0.0.0/8, ::1/128", 2},
	        {"127.0.0.0/8 ::1/128", "127.0.0.0/8, ::1/128", 2},
	        {" \t,127.0.0.0/8 ,, \t::1/128,\r\n", "127.0.0.0/8, ::1/128", 2},
	        {"", "", 0},
	        {" , ,", "", 0},
	        {"10.0.0.1, 10.0.0.1/32, ::ffff:10.0.0.1, 10.0.0.1/31", "10.0.0.1/32, 10.0.0.0/31", 2},
	        {"10.0.0.9/8 10.1.2.3/8", "10.0.0.0/8", 1},
	        {"192.0.2.1", "192.0.2.1/32", 1},
	};
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		bad = "x";
		assert_true(cidr_set_parse(good[i].text, &s, &bad));
		assert_null(bad);
		assert_int_equal(s.n, good[i].n);
		assert_string_equal(cidr_set_format(&s, buf, sizeof(buf)), good[i].formatted);
		cidr_set_free(&s);
		assert_null(s.v);
		assert_int_equal(s.n, 0);
		cidr_set_free(&s); /* twice is fine */
	}
	assert_true(cidr_set_parse(NULL, &s, &bad));
	assert_int_equal(s.n, 0);
	assert_true(cidr_set_parse("10.0.0.0/8", &s, NULL));
	cidr_set_free(&s);
	cidr_set_free(NULL);

	/* errors point at the item, and leave the set empty */
	static const char *const bad_texts[] = {"10.0.0.0/8, 10.0.0.0/33 ::1", "nope", "::1, ::/129",
	                                        "1.2.3.4,,1.2.3.4/x",
	                                        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/1280000000"};
	static const size_t bad_at[] = {12, 0, 5, 9, 0};
	for (size_t i = 0; i < ARRAY_LEN(bad_texts); i++) {
		memset(&s, 0x5a, sizeof(s));
		bad = NULL;
		assert_false(cidr_set_parse(bad_texts[i], &s, &bad));
		assert_ptr_equal(bad, bad_texts[i] + bad_at[i]);
		assert_null(s.v);
		assert_int_equal(s.n, 0);
		assert_false(cidr_set_parse(bad_texts[i], &s, NULL));
	}
}

static void test_set_add_format(void **state)
{
	struct cidr_set s = {NULL, 0};
	struct cidr c;
	char buf[64];

	(void)state;
	assert_true(cidr_parse("2001:db8::/32", &c));
	assert_true(cidr_set_add(&s, &c));
	assert_true(cidr_set_add(&s, &c)); /* already there */
	assert_int_equal(s.n, 1);
	assert_true(cidr_parse("2001:db8::/48", &c));
	assert_true(cidr_set_add(&s, &c));
	assert_int_equal(s.n, 2);
	assert_true(cidr_parse("192.0.2.0/24", &c));
	assert_true(cidr_set_add(&s, &c));
	assert_string_equal(cidr_set_format(&s, buf, sizeof(buf)),
	                    "2001:db8::/32, 2001:db8::/48, 192.0.2.0/24");

	/* whole entries only */
	char small[30];
	memset(small, 'x', sizeof(small));
	assert_ptr_equal(cidr_set_format(&s, small, sizeof(small)), small);
	assert_string_equal(small, "2001:db8::/32, 2001:db8::/48");
	assert_string_equal(cidr_set_format(&s, small, 14), "2001:db8::/32");
	assert_string_equal(cidr_set_format(&s, small, 13), "");
	assert_string_equal(cidr_set_format(&s, small, 1), "");
	small[0] = 'x';
	assert_ptr_equal(cidr_set_format(&s, small, 0), small);
	assert_int_equal(small[0], 'x'); /* nothing written */
	assert_string_equal(cidr_set_format(NULL, buf, sizeof(buf)), "");
	/* an entry of no family (built by hand) is left out */
	memset(&c, 0, sizeof(c));
	assert_true(cidr_set_add(&s, &c));
	assert_int_equal(s.n, 4);
	assert_string_equal(cidr_set_format(&s, small, sizeof(small)), "2001:db8::/32, 2001:db8::/48");
	cidr_set_free(&s);
	assert_string_equal(cidr_set_format(&s, buf, sizeof(buf)), "");
}

/* ---- policy_classify ---- */

/* trusted: 192.0.2.0/24, 2001:db8:1::/48; direct: 198.51.100.0/24, 2001:db8:2::/48; both: 203.0.113.0/24,
 * 2001:db8:3::/48. */
static void make_listener(struct listener_conf *lc, enum proxy_mode mode)
{
	memset(lc, 0, sizeof(*lc));
	lc->proxy = mode;
	set_of("192.0.2.0/24, 2001:db8:1::/48, 203.0.113.0/24, 2001:db8:3::/48", &lc->trusted);
	set_of("198.51.100.0/24 2001:db8:2::/48 203.0.113.0/24 2001:db8:3::/48", &lc->direct);
}

static void free_listener(struct listener_conf *lc)
{
	cidr_set_free(&lc->trusted);
	cidr_set_free(&lc->direct);
}

enum peer_class { TRUSTED, DIRECT, BOTH, NEITHER, NCLASS };

static const char *const class_peers[NCLASS][4] = {
        [TRUSTED] = {"192.0.2.10", "::ffff:192.0.2.10", "2001:db8:1::10", "2001:db8:1:ffff::1"},
        [DIRECT] = {"198.51.100.10", "::ffff:198.51.100.10", "2001:db8:2::10", "2001:db8:2:ffff::1"},
        [BOTH] = {"203.0.113.10", "::ffff:203.0.113.10", "2001:db8:3::10", "2001:db8:3:ffff::1"},
        [NEITHER] = {"10.0.0.1", "::ffff:10.0.0.1", "2001:db8:4::10", "::1"},
};

static const char *const class_names[NCLASS] = {"trusted", "direct", "both", "neither"};

static void check_mode(enum proxy_mode mode, const enum peer_verdict want[NCLASS])
{
	struct listener_conf lc;

	make_listener(&lc, mode);
	for (int k = 0; k < NCLASS; k++) {
		for (size_t i = 0; i < 4; i++) {
			union pp_sockaddr a = peer(class_peers[k][i]);
			enum peer_verdict v = policy_classify(&lc, &a.sa);
			if (v != want[k])
				print_message("  proxy = %s, %s peer %s: expected %s, got %s\n",
				              config_proxy_mode_name(mode), class_names[k], class_peers[k][i],
				              policy_verdict_name(want[k]), policy_verdict_name(v));
			assert_int_equal(v, want[k]);
		}
	}
	free_listener(&lc);
}

static void test_policy_off(void **state)
{
	static const enum peer_verdict want[NCLASS] = {
	        [TRUSTED] = VERDICT_DIRECT,
	        [DIRECT] = VERDICT_DIRECT,
	        [BOTH] = VERDICT_DIRECT,
	        [NEITHER] = VERDICT_DIRECT,
	};
	struct listener_conf lc;
	struct sockaddr_un un;

	(void)state;
	check_mode(PROXY_OFF, want);
	make_listener(&lc, PROXY_OFF);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(policy_classify(&lc, (const struct sockaddr *)&un), VERDICT_DIRECT);
	free_listener(&lc);
	/* with empty sets too */
	struct listener_conf bare = {.proxy = PROXY_OFF};
	union pp_sockaddr a = peer("192.0.2.1");
	assert_int_equal(policy_classify(&bare, &a.sa), VERDICT_DIRECT);
}

static void test_policy_required(void **state)
{
	static const enum peer_verdict want[NCLASS] = {
	        [TRUSTED] = VERDICT_PROXY_REQUIRED,
	        [DIRECT] = VERDICT_DIRECT,
	        [BOTH] = VERDICT_PROXY_OPTIONAL,
	        [NEITHER] = VERDICT_DENIED,
	};
	struct listener_conf lc;
	struct sockaddr_un un;

	(void)state;
	check_mode(PROXY_REQUIRED, want);
	make_listener(&lc, PROXY_REQUIRED);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(policy_classify(&lc, (const struct sockaddr *)&un), VERDICT_DENIED);
	assert_int_equal(policy_classify(&lc, NULL), VERDICT_DENIED);
	free_listener(&lc);
	struct listener_conf bare = {.proxy = PROXY_REQUIRED};
	union pp_sockaddr a = peer("192.0.2.1");
	assert_int_equal(policy_classify(&bare, &a.sa), VERDICT_DENIED);
}

static void test_policy_optional(void **state)
{
	static const enum peer_verdict want[NCLASS] = {
	        [TRUSTED] = VERDICT_PROXY_OPTIONAL,
	        [DIRECT] = VERDICT_DIRECT,
	        [BOTH] = VERDICT_PROXY_OPTIONAL,
	        [NEITHER] = VERDICT_DIRECT,
	};
	struct listener_conf lc;
	struct sockaddr_un un;

	(void)state;
	check_mode(PROXY_OPTIONAL, want);
	make_listener(&lc, PROXY_OPTIONAL);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(policy_classify(&lc, (const struct sockaddr *)&un), VERDICT_DIRECT);
	free_listener(&lc);
}

static void test_policy_edges(void **state)
{
	union pp_sockaddr a = peer("192.0.2.1");
	struct listener_conf lc;

	(void)state;
	assert_int_equal(policy_classify(NULL, &a.sa), VERDICT_DENIED);
	make_listener(&lc, PROXY_REQUIRED);
	lc.proxy = (enum proxy_mode)42; /* fail closed */
	assert_int_equal(policy_classify(&lc, &a.sa), VERDICT_DENIED);
	free_listener(&lc);

	assert_string_equal(policy_verdict_name(VERDICT_DENIED), "denied");
	assert_string_equal(policy_verdict_name(VERDICT_DIRECT), "direct");
	assert_string_equal(policy_verdict_name(VERDICT_PROXY_REQUIRED), "proxy-required");
	assert_string_equal(policy_verdict_name(VERDICT_PROXY_OPTIONAL), "proxy-optional");
	assert_string_equal(policy_verdict_name((enum peer_verdict)42), "unknown");
}

/* The example configuration's listeners: only the local proxy, and it must send a header. */
static void test_policy_example(void **state)
{
	static const struct {
		const char *ip;
		enum peer_verdict v;
	} rows[] = {
	        {"127.0.0.1", VERDICT_PROXY_REQUIRED},
	        {"127.255.0.9", VERDICT_PROXY_REQUIRED},
	        {"::ffff:127.0.0.1", VERDICT_PROXY_REQUIRED},
	        {"::1", VERDICT_PROXY_REQUIRED},
	        {"10.0.0.1", VERDICT_DENIED},
	        {"::2", VERDICT_DENIED},
	        {"2001:db8::1", VERDICT_DENIED},
	};
	struct config c;
	char err[512] = "";

	(void)state;
	if (!config_load("examples/originmail.conf", &c, err, sizeof(err)))
		print_message("  %s (run the tests from the repository root)\n", err);
	assert_int_equal(c.nlisteners, 5); /* smtp, submission, smtps, imap, imaps */
	for (size_t l = 0; l < c.nlisteners; l++) {
		for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
			union pp_sockaddr a = peer(rows[i].ip);
			assert_int_equal(policy_classify(&c.listeners[l], &a.sa), rows[i].v);
		}
	}
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cidr_parse),      cmocka_unit_test(test_match_v4),
	        cmocka_unit_test(test_match_v6),        cmocka_unit_test(test_match_mapped),
	        cmocka_unit_test(test_match_other),     cmocka_unit_test(test_set_parse),
	        cmocka_unit_test(test_set_add_format),  cmocka_unit_test(test_policy_off),
	        cmocka_unit_test(test_policy_required), cmocka_unit_test(test_policy_optional),
	        cmocka_unit_test(test_policy_edges),    cmocka_unit_test(test_policy_example),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
