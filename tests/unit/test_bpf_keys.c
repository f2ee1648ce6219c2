/* The userspace side of the pinned-map ABI without the kernel (no root needed): endpoint conversion and
 * formatting, LPM key building (checked against cidr_set_match with a bitwise longest-prefix matcher),
 * verdict/mode numbering shared with policy.h and config.h, and the bpf* configuration keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/bpf_keys.h"
#include "conf/config.h"
#include "policy/cidr.h"
#include "policy/policy.h"

static union pp_sockaddr sa(const char *ip, uint16_t port)
{
	union pp_sockaddr a;
	assert_true(pp_sockaddr_parse(&a, ip, port));
	return a;
}

static void test_abi_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct om_lpm_v4), 16);
	assert_int_equal(sizeof(struct om_lpm_v6), 28);
	assert_int_equal(offsetof(struct om_lpm_v4, inst), 4);
	assert_int_equal(offsetof(struct om_lpm_v4, port), 8);
	assert_int_equal(offsetof(struct om_lpm_v4, addr), 10); /* contiguous: one prefix */
	assert_int_equal(offsetof(struct om_lpm_v6, addr), 10);
	assert_int_equal(sizeof(struct om_endpoint), 20);
	assert_int_equal(sizeof(struct om_conn) % 8, 0);
	assert_int_equal(OM_VERDICT_DENIED, VERDICT_DENIED);
	assert_int_equal(OM_VERDICT_DIRECT, VERDICT_DIRECT);
	assert_int_equal(OM_VERDICT_PROXY_REQUIRED, VERDICT_PROXY_REQUIRED);
	assert_int_equal(OM_VERDICT_PROXY_OPTIONAL, VERDICT_PROXY_OPTIONAL);
	assert_int_equal(om_mode_from_proxy(PROXY_REQUIRED), OM_MODE_REQUIRED);
	assert_int_equal(om_mode_from_proxy(PROXY_OPTIONAL), OM_MODE_OPTIONAL);
	assert_int_equal(om_mode_from_proxy(PROXY_OFF), OM_MODE_OFF);
}

static void test_endpoint_v4(void **state)
{
	(void)state;
	union pp_sockaddr a = sa("203.0.113.10", 40000), back;
	struct om_endpoint e;
	char buf[64];

	assert_true(om_endpoint_from_sockaddr(&e, &a));
	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.port, 40000); /* host order */
	assert_memory_equal(e.addr, "\xcb\x00\x71\x0a", 4);
	for (int i = 4; i < 16; i++)
		assert_int_equal(e.addr[i], 0);
	assert_string_equal(om_endpoint_format(&e, buf, sizeof(buf)), "203.0.113.10:40000");
	assert_string_equal(om_endpoint_addr(&e, buf, sizeof(buf)), "203.0.113.10");
	assert_true(om_endpoint_to_sockaddr(&e, &back));
	assert_int_equal(back.in.sin_family, AF_INET);
	assert_int_equal(ntohs(back.in.sin_port), 40000);
	assert_memory_equal(&back.in.sin_addr, &a.in.sin_addr, 4);
}

static void test_endpoint_v6(void **state)
{
	(void)state;
	union pp_sockaddr a = sa("2001:db8::1", 25), m = sa("::ffff:192.0.2.7", 587);
	struct om_endpoint e;
	char buf[64];

	assert_true(om_endpoint_from_sockaddr(&e, &a));
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.addr[0], 0x20);
	assert_int_equal(e.addr[15], 1);
	assert_string_equal(om_endpoint_format(&e, buf, sizeof(buf)), "[2001:db8::1]:25");
	assert_true(om_endpoint_from_sockaddr(&e, &m)); /* kept as sent; shown as IPv4 */
	assert_int_equal(e.family, AF_INET6);
	assert_string_equal(om_endpoint_format(&e, buf, sizeof(buf)), "192.0.2.7:587");
}

static void test_endpoint_other(void **state)
{
	(void)state;
	union pp_sockaddr u;
	struct om_endpoint e;
	char buf[8];

	memset(&u, 0, sizeof(u));
	u.sa.sa_family = AF_UNIX;
	assert_false(om_endpoint_from_sockaddr(&e, &u));
	assert_int_equal(e.family, 0);
	assert_string_equal(om_endpoint_format(&e, buf, sizeof(buf)), "-");
	assert_false(om_endpoint_to_sockaddr(&e, &u));
}

static void test_conn_sockaddrs(void **state)
{
	(void)state;
	union pp_sockaddr p = sa("2001:db8::7", 40000), l = sa("2001:db8::25", 25), gp, gl;
	struct om_conn c;

	memset(&c, 0, sizeof(c));
	assert_false(om_conn_sockaddrs(&c, &gp, &gl)); /* no addresses */
	assert_true(om_endpoint_from_sockaddr(&c.peer, &p));
	assert_true(om_endpoint_from_sockaddr(&c.local, &l));
	assert_true(om_conn_sockaddrs(&c, &gp, &gl));
	assert_memory_equal(&gp, &p, sizeof(p));
	assert_memory_equal(&gl, &l, sizeof(l));
	p = sa("192.0.2.7", 40000);
	l = sa("192.0.2.25", 25);
	assert_true(om_endpoint_from_sockaddr(&c.peer, &p));
	assert_false(om_conn_sockaddrs(&c, &gp, &gl)); /* the two families differ */
	assert_true(om_endpoint_from_sockaddr(&c.local, &l));
	assert_true(om_conn_sockaddrs(&c, &gp, &gl));
	assert_memory_equal(&gp, &p, sizeof(p));
	assert_memory_equal(&gl, &l, sizeof(l));
	/* link-local: getpeername's scope id (the interface) is not in the entry */
	p = sa("fe80::1", 40000);
	l = sa("fe80::2", 25);
	assert_true(om_endpoint_from_sockaddr(&c.peer, &p));
	assert_true(om_endpoint_from_sockaddr(&c.local, &l));
	assert_false(om_conn_sockaddrs(&c, &gp, &gl));
	l = sa("2001:db8::25", 25);
	assert_true(om_endpoint_from_sockaddr(&c.local, &l));
	assert_false(om_conn_sockaddrs(&c, &gp, &gl));
}

static void test_lpm_keys(void **state)
{
	(void)state;
	struct cidr c4, c6;
	struct om_lpm_v4 k4;
	struct om_lpm_v6 k6;

	assert_true(cidr_parse("192.0.2.77/24", &c4)); /* host bits zeroed by the parser */
	assert_true(cidr_parse("2001:db8::/32", &c6));
	assert_true(om_lpm_v4_key(&k4, 0x01020304, 2525, &c4));
	assert_int_equal(k4.prefixlen, 48 + 24);
	assert_memory_equal(k4.inst, "\x01\x02\x03\x04", 4); /* network order */
	assert_int_equal(om_lpm_inst(k4.inst), 0x01020304);
	assert_int_equal(k4.port[0], 2525 >> 8);
	assert_int_equal(k4.port[1], 2525 & 0xff);
	assert_int_equal(om_lpm_port(k4.port), 2525);
	assert_memory_equal(k4.addr, "\xc0\x00\x02\x00", 4);
	assert_int_equal(k4.pad[0] | k4.pad[1], 0);
	assert_false(om_lpm_v6_key(&k6, 7, 25, &c4));
	assert_true(om_lpm_v6_key(&k6, 7, 25, &c6));
	assert_int_equal(k6.prefixlen, 48 + 32);
	assert_int_equal(om_lpm_inst(k6.inst), 7);
	assert_int_equal(om_lpm_port(k6.port), 25);
	assert_memory_equal(k6.addr, "\x20\x01\x0d\xb8", 4);
	assert_false(om_lpm_v4_key(&k4, 7, 25, &c6));
	/* A mapped entry is stored as IPv4 by the parser, so it lands in the v4 trie. */
	assert_true(cidr_parse("::ffff:10.0.0.0/104", &c6));
	assert_true(om_lpm_v4_key(&k4, 7, 25, &c6));
	assert_int_equal(k4.prefixlen, 48 + 8);
}

/* What the kernel's trie does: the longest stored prefix that covers the lookup key's bits. */
static bool lpm_hit(const uint8_t *keys, size_t n, size_t size, const uint8_t *lookup)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *k = keys + i * size;
		uint32_t plen;
		memcpy(&plen, k, 4);
		bool ok = true;
		for (uint32_t b = 0; b < plen && ok; b++) {
			uint8_t mask = (uint8_t)(0x80u >> (b % 8));
			ok = (k[4 + b / 8] & mask) == (lookup[4 + b / 8] & mask);
		}
		if (ok)
			return true;
	}
	return false;
}

/* The tries keyed by instance and port give the same answers as cidr_set_match on the listener's own
 * set, and never leak one listener's entries into another port or another instance. */
static void test_lpm_matches_cidr(void **state)
{
	(void)state;
	const char *set_text = "192.0.2.0/24, 198.51.100.7, 10.0.0.0/8, 2001:db8::/32, ::1";
	const char *peers[] = {"192.0.2.1",    "192.0.2.255", "192.0.3.1", "198.51.100.7",
	                       "198.51.100.8", "10.200.0.1",  "11.0.0.1",  "0.0.0.0",
	                       "2001:db8::5",  "2001:db9::5", "::1",       "::2"};
	struct cidr_set set;
	const char *bad;
	struct om_lpm_v4 k4[8];
	struct om_lpm_v6 k6[8];
	size_t n4 = 0, n6 = 0;

	assert_true(cidr_set_parse(set_text, &set, &bad));
	for (size_t i = 0; i < set.n; i++) {
		if (om_lpm_v4_key(&k4[n4], 7, 25, &set.v[i]))
			n4++;
		else if (om_lpm_v6_key(&k6[n6], 7, 25, &set.v[i]))
			n6++;
	}
	assert_int_equal(n4 + n6, set.n);
	for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		union pp_sockaddr p = sa(peers[i], 1);
		struct cidr host;
		assert_true(cidr_parse(peers[i], &host));
		for (unsigned kc = 0; kc < 3; kc++) { /* ours; our other port; another instance's port 25 */
			uint16_t port = kc == 1 ? 26 : 25;
			uint32_t inst = kc == 2 ? 8 : 7;
			bool want = kc == 0 && cidr_set_match(&set, &p.sa), got;
			if (host.family == AF_INET) {
				struct om_lpm_v4 q;
				assert_true(om_lpm_v4_key(&q, inst, port, &host));
				got = lpm_hit((const uint8_t *)k4, n4, sizeof(*k4), (const uint8_t *)&q);
			} else {
				struct om_lpm_v6 q;
				assert_true(om_lpm_v6_key(&q, inst, port, &host));
				got = lpm_hit((const uint8_t *)k6, n6, sizeof(*k6), (const uint8_t *)&q);
			}
			if (got != want)
				fail_msg("%s case %u: trie says %d, cidr_set_match %d", peers[i], kc, got,
				         want);
		}
	}
	cidr_set_free(&set);
}

static void test_names(void **state)
{
	(void)state;
	for (unsigned v = 0; v <= OM_VERDICT_PROXY_OPTIONAL; v++)
		assert_string_equal(om_verdict_name(v), policy_verdict_name((enum peer_verdict)v));
	assert_string_equal(om_verdict_name(9), "?");
	assert_string_equal(om_state_name(OM_STATE_OPEN), "open");
	assert_string_equal(om_state_name(OM_STATE_ORIGIN), "origin");
	assert_string_equal(om_state_name(OM_STATE_CLOSING), "closing");
	assert_string_equal(om_state_name(0), "?");
	/* every listener protocol has its own session protocol, named as in the configuration */
	for (enum listener_proto p = PROTO_SMTP; p <= PROTO_POP3; p++)
		assert_string_equal(om_proto_name(om_proto_from_listener(p)), config_proto_name(p));
	assert_int_equal(om_proto_from_listener(PROTO_POP3), OM_PROTO_POP3);
}

#define BASE "[listener smtp]\naddress = 127.0.0.1:2525\nprotocol = smtp\nproxy_trusted = 127.0.0.2\n"

static void test_config_keys(void **state)
{
	(void)state;
	struct config c;
	char err[512];

	assert_true(config_parse(BASE, "t.conf", &c, err, sizeof(err)));
	assert_int_equal(c.bpf, BPF_AUTO);
	assert_string_equal(c.bpf_cgroup, "");
	assert_string_equal(c.bpf_pin_dir, OM_BPF_PIN_DIR);
	assert_int_equal(c.bpf_sk_msg, SK_MSG_ALL);
	config_free(&c);
	assert_true(config_parse("bpf_sk_msg = denied\n" BASE, "t.conf", &c, err, sizeof(err)));
	assert_int_equal(c.bpf_sk_msg, SK_MSG_DENIED);
	config_free(&c);
	assert_true(config_parse("bpf_sk_msg = All\n" BASE, "t.conf", &c, err, sizeof(err)));
	assert_int_equal(c.bpf_sk_msg, SK_MSG_ALL);
	config_free(&c);
	assert_false(config_parse("bpf_sk_msg = some\n" BASE, "t.conf", &c, err, sizeof(err)));
	assert_string_equal(err, "t.conf:1: bpf_sk_msg must be all or denied");
	const char *on[] = {"bpf = on\n", "bpf = ON\n", "bpf = required\n"};
	for (size_t i = 0; i < 3; i++) {
		char text[256];
		snprintf(text, sizeof(text), "%s" BASE, on[i]);
		assert_true(config_parse(text, "t.conf", &c, err, sizeof(err)));
		assert_int_equal(c.bpf, BPF_ON);
		config_free(&c);
	}
	assert_true(config_parse(
	        "bpf = off\nbpf_cgroup = /sys/fs/cgroup/mail\nbpf_pin_dir = /sys/fs/bpf/om2\n" BASE, "t.conf",
	        &c, err, sizeof(err)));
	assert_int_equal(c.bpf, BPF_OFF);
	assert_string_equal(c.bpf_cgroup, "/sys/fs/cgroup/mail");
	assert_string_equal(c.bpf_pin_dir, "/sys/fs/bpf/om2");
	config_free(&c);
	/* "parent" is a keyword (the unit's slice), not a path relative to the file */
	assert_true(config_parse("bpf_cgroup = parent\n" BASE, "/etc/om/t.conf", &c, err, sizeof(err)));
	assert_string_equal(c.bpf_cgroup, "parent");
	config_free(&c);
	assert_false(config_parse("bpf = maybe\n" BASE, "t.conf", &c, err, sizeof(err)));
	assert_string_equal(err, "t.conf:1: bpf must be auto, on or off");
	assert_false(config_parse("bpf_pin_dir =\n" BASE, "t.conf", &c, err, sizeof(err)));
	assert_false(config_parse(BASE "bpf = on\n", "t.conf", &c, err, sizeof(err))); /* a global key */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_abi_layout),       cmocka_unit_test(test_endpoint_v4),
	        cmocka_unit_test(test_endpoint_v6),      cmocka_unit_test(test_endpoint_other),
	        cmocka_unit_test(test_conn_sockaddrs),   cmocka_unit_test(test_lpm_keys),
	        cmocka_unit_test(test_lpm_matches_cidr), cmocka_unit_test(test_names),
	        cmocka_unit_test(test_config_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
