/* The configuration parser: value syntax, every default, every key, relative paths, and
 * examples/originmail.conf (docs/configuration.md). Errors: test_config_errors.c. Run from the repository
 * root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A listener that passes every check: 4 lines. */
#define LA "[listener a]\naddress = 127.0.0.1:2525\nprotocol = smtp\nproxy_trusted = 127.0.0.1\n"

static void parse_ok_named(const char *text, const char *name, struct config *c)
{
	char err[512] = "";
	bool ok = config_parse(text, name, c, err, sizeof(err));
	if (!ok)
		print_message("  unexpected error: %s\n  input:\n%s\n", err, text);
	assert_true(ok);
	assert_string_equal(err, "");
}

static void parse_ok(const char *text, struct config *c)
{
	parse_ok_named(text, "t.conf", c);
}

static uint16_t port_of(const union pp_sockaddr *a)
{
	return ntohs(a->sa.sa_family == AF_INET ? a->in.sin_port : a->in6.sin6_port);
}

static void assert_addr(const union pp_sockaddr *a, int af, const char *ip, uint16_t port)
{
	char buf[INET6_ADDRSTRLEN];
	const void *src = af == AF_INET ? (const void *)&a->in.sin_addr : (const void *)&a->in6.sin6_addr;

	assert_int_equal(a->sa.sa_family, af);
	assert_non_null(inet_ntop(af, src, buf, sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(port_of(a), port);
}

/* ---- value syntax ---- */

static void test_durations(void **state)
{
	static const struct {
		const char *s;
		unsigned ms;
	} good[] = {
	        {"0", 0},
	        {"5", 5000},
	        {"5s", 5000},
	        {"5S", 5000},
	        {"500ms", 500},
	        {"500MS", 500},
	        {"5m", 300000},
	        {"1h", 3600000},
	        {"007s", 7000},
	        {"4294967295ms", UINT_MAX},
	        {"4294967s", 4294967000u},
	        {"71582m", 4294920000u},
	        {"1193h", 4294800000u},
	};
	static const char *const bad[] = {"",         "s",
	                                  "ms",       "-1",
	                                  "+1",       " 5s",
	                                  "5s ",      "5 s",
	                                  "5sec",     "1.5s",
	                                  "5d",       "5hs",
	                                  "0x10",     "4294967296ms",
	                                  "4294968s", "71583m",
	                                  "1194h",    "99999999999999999999"};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		unsigned ms = 12345;
		if (!config_parse_duration(good[i].s, &ms))
			print_message("  rejected '%s'\n", good[i].s);
		assert_true(config_parse_duration(good[i].s, &ms));
		assert_int_equal(ms, good[i].ms);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		unsigned ms = 12345;
		if (config_parse_duration(bad[i], &ms))
			print_message("  accepted '%s'\n", bad[i]);
		assert_false(config_parse_duration(bad[i], &ms));
		assert_int_equal(ms, 12345);
	}
	unsigned ms;
	assert_false(config_parse_duration(NULL, &ms));
	assert_false(config_parse_duration("5s", NULL));
}

static void test_sizes(void **state)
{
	static const struct {
		const char *s;
		size_t bytes;
	} good[] = {
	        {"0", 0},
	        {"512", 512},
	        {"512K", 512 * 1024},
	        {"512k", 512 * 1024},
	        {"25M", 25u << 20},
	        {"25m", 25u << 20},
	        {"1G", 1u << 30},
	        {"1g", 1u << 30},
	        {"18446744073709551615", SIZE_MAX},
	        {"17179869183G", SIZE_MAX - (1024 * 1024 * 1024) + 1},
	};
	static const char *const bad[] = {"",
	                                  "K",
	                                  "-1",
	                                  "+1",
	                                  " 1K",
	                                  "1K ",
	                                  "1 K",
	                                  "1KB",
	                                  "25MB",
	                                  "1T",
	                                  "1.5M",
	                                  "0x10",
	                                  "18446744073709551616",
	                                  "17179869184G",
	                                  "18014398509481984K"};
	(void)state;
	_Static_assert(sizeof(size_t) == 8, "the edge cases assume a 64-bit size_t");
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		size_t b = 12345;
		if (!config_parse_size(good[i].s, &b))
			print_message("  rejected '%s'\n", good[i].s);
		assert_true(config_parse_size(good[i].s, &b));
		assert_true(b == good[i].bytes);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		size_t b = 12345;
		if (config_parse_size(bad[i], &b))
			print_message("  accepted '%s'\n", bad[i]);
		assert_false(config_parse_size(bad[i], &b));
		assert_int_equal(b, 12345);
	}
	size_t b;
	assert_false(config_parse_size(NULL, &b));
	assert_false(config_parse_size("1", NULL));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(config_proto_name(PROTO_SMTP), "smtp");
	assert_string_equal(config_proto_name(PROTO_SUBMISSION), "submission");
	assert_string_equal(config_proto_name(PROTO_IMAP), "imap");
	assert_string_equal(config_proto_name(PROTO_POP3), "pop3");
	assert_string_equal(config_proto_name((enum listener_proto)42), "unknown");
	assert_string_equal(config_tls_name(TLS_NONE), "none");
	assert_string_equal(config_tls_name(TLS_STARTTLS), "starttls");
	assert_string_equal(config_tls_name(TLS_IMPLICIT), "implicit");
	assert_string_equal(config_tls_name((enum tls_mode)42), "unknown");
	assert_string_equal(config_proxy_mode_name(PROXY_REQUIRED), "required");
	assert_string_equal(config_proxy_mode_name(PROXY_OPTIONAL), "optional");
	assert_string_equal(config_proxy_mode_name(PROXY_OFF), "off");
	assert_string_equal(config_proxy_mode_name((enum proxy_mode)42), "unknown");
}

/* ---- defaults and keys ---- */

static void test_defaults(void **state)
{
	struct config c;
	char host[256] = "";

	(void)state;
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	parse_ok(LA, &c);
	assert_string_equal(c.path, "t.conf");
	assert_string_equal(c.hostname, host);
	assert_int_equal(c.ndomains, 1);
	for (char *p = host; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	assert_string_equal(c.domains[0], host);
	assert_string_equal(c.mail_root, "/var/lib/originmail/mail");
	assert_string_equal(c.passwd_file, "/etc/originmail/passwd");
	assert_string_equal(c.run_as, "");
	assert_null(c.tls_cert);
	assert_null(c.tls_key);
	assert_string_equal(c.relay_host, "");
	assert_string_equal(c.log, "stderr");
	assert_int_equal(c.max_message_size, 25 * 1024 * 1024);
	assert_int_equal(c.max_line, 4096);
	assert_int_equal(c.max_recipients, 100);
	assert_int_equal(c.max_connections, 1024);
	assert_int_equal(c.command_timeout_ms, 5 * 60 * 1000);
	assert_int_equal(c.data_timeout_ms, 10 * 60 * 1000);
	assert_int_equal(c.shutdown_grace_ms, 30 * 1000);
	assert_int_equal(c.tmp_max_age_ms, 36u * 3600 * 1000);
	assert_int_equal(c.output_buffer, 1u << 20);
	assert_false(c.seccomp);

	assert_int_equal(c.nlisteners, 1);
	const struct listener_conf *l = &c.listeners[0];
	assert_string_equal(l->name, "a");
	assert_int_equal(l->naddrs, 1);
	assert_addr(&l->addrs[0], AF_INET, "127.0.0.1", 2525);
	assert_int_equal(l->proto, PROTO_SMTP);
	assert_int_equal(l->tls, TLS_NONE);
	assert_null(l->cert);
	assert_null(l->key);
	assert_int_equal(l->proxy, PROXY_REQUIRED);
	assert_int_equal(l->proxy_versions, PP_ACCEPT_V1 | PP_ACCEPT_V2);
	assert_int_equal(l->trusted.n, 1);
	assert_int_equal(l->direct.n, 0);
	assert_int_equal(l->proxy_timeout_ms, 5000);
	assert_int_equal(l->proxy_max_header, 4096);
	assert_false(l->auth_plaintext);
	config_free(&c);
}

static const char every_key[] = "# every key, none at its default\n"
                                "hostname = mail.Example.ORG\n"
                                "domains = Example.ORG, example.net\texample.com,,\n"
                                "mail_root = /srv/mail\n"
                                "passwd_file = users\n"
                                "user = originmail\n"
                                "tls_cert = /etc/ssl/mail.pem\n"
                                "tls_key = private/mail.key\n"
                                "relay_host = smarthost.example.org:587\n"
                                "log = Both\n"
                                "max_message_size = 50M\n"
                                "max_line = 2K\n"
                                "max_recipients = 500\n"
                                "max_connections = 20000\n"
                                "command_timeout = 2m\n"
                                "data_timeout = 900s\n"
                                "shutdown_grace = 1500ms\n"
                                "tmp_max_age = 2d\n"
                                "output_buffer = 256K\n"
                                "seccomp = on\n"
                                "\n"
                                "[listener mx-1]\n"
                                "address = 192.0.2.1:25 [2001:db8::1]:25,[::ffff:192.0.2.1]:2525\n"
                                "protocol = IMAP\n"
                                "tls = implicit\n"
                                "tls_cert = own.pem\n"
                                "tls_key = /abs/own.key\n"
                                "proxy = optional\n"
                                "proxy_versions = v2\n"
                                "proxy_trusted = 10.0.0.0/8 fd00::/8\n"
                                "direct_allowed = 192.0.2.0/24, 2001:db8::/32\n"
                                "proxy_timeout = 250ms\n"
                                "proxy_max_header = 65551\n"
                                "allow_plaintext_auth = YES\n";

static void test_every_key(void **state)
{
	struct config c;
	char buf[256];

	(void)state;
	parse_ok_named(every_key, "etc/originmail/main.conf", &c);
	assert_string_equal(c.path, "etc/originmail/main.conf");
	assert_string_equal(c.hostname, "mail.Example.ORG");
	assert_int_equal(c.ndomains, 3);
	assert_string_equal(c.domains[0], "example.org");
	assert_string_equal(c.domains[1], "example.net");
	assert_string_equal(c.domains[2], "example.com");
	assert_string_equal(c.mail_root, "/srv/mail");
	assert_string_equal(c.passwd_file, "etc/originmail/users");
	assert_string_equal(c.run_as, "originmail");
	assert_string_equal(c.tls_cert, "/etc/ssl/mail.pem");
	assert_string_equal(c.tls_key, "etc/originmail/private/mail.key");
	assert_string_equal(c.relay_host, "smarthost.example.org:587");
	assert_string_equal(c.log, "both");
	assert_int_equal(c.max_message_size, 50 * 1024 * 1024);
	assert_int_equal(c.max_line, 2048);
	assert_int_equal(c.max_recipients, 500);
	assert_int_equal(c.max_connections, 20000);
	assert_int_equal(c.command_timeout_ms, 120000);
	assert_int_equal(c.data_timeout_ms, 900000);
	assert_int_equal(c.shutdown_grace_ms, 1500);
	assert_int_equal(c.tmp_max_age_ms, 2u * 24 * 3600 * 1000);
	assert_int_equal(c.output_buffer, 256u << 10);
	assert_true(c.seccomp);

	assert_int_equal(c.nlisteners, 1);
	const struct listener_conf *l = &c.listeners[0];
	assert_string_equal(l->name, "mx-1");
	assert_int_equal(l->naddrs, 3);
	assert_addr(&l->addrs[0], AF_INET, "192.0.2.1", 25);
	assert_addr(&l->addrs[1], AF_INET6, "2001:db8::1", 25);
	assert_addr(&l->addrs[2], AF_INET6, "::ffff:192.0.2.1", 2525);
	assert_int_equal(l->proto, PROTO_IMAP);
	assert_int_equal(l->tls, TLS_IMPLICIT);
	assert_string_equal(l->cert, "etc/originmail/own.pem");
	assert_string_equal(l->key, "/abs/own.key");
	assert_int_equal(l->proxy, PROXY_OPTIONAL);
	assert_int_equal(l->proxy_versions, PP_ACCEPT_V2);
	assert_string_equal(cidr_set_format(&l->trusted, buf, sizeof(buf)), "10.0.0.0/8, fd00::/8");
	assert_string_equal(cidr_set_format(&l->direct, buf, sizeof(buf)), "192.0.2.0/24, 2001:db8::/32");
	assert_int_equal(l->proxy_timeout_ms, 250);
	assert_int_equal(l->proxy_max_header, 65551);
	assert_true(l->auth_plaintext);

	assert_true(config_is_local_domain(&c, "EXAMPLE.net", 11));
	assert_true(config_is_local_domain(&c, "example.com>", 11));
	assert_false(config_is_local_domain(&c, "example.co", 10));
	assert_false(config_is_local_domain(&c, "example.netx", 12));
	assert_false(config_is_local_domain(&c, "mail.example.org", 16));
	assert_false(config_is_local_domain(&c, NULL, 0));
	assert_false(config_is_local_domain(NULL, "example.org", 11));
	config_free(&c);
	config_free(&c); /* zeroed: a second free is harmless */
	config_free(NULL);
}

/* Every mode value, each boolean spelling, the v1 mask, listener inheritance and the smaller forms. */
static void test_value_forms(void **state)
{
	static const struct {
		const char *line;
		bool value;
	} bools[] = {{"yes", true},  {"no", false}, {"true", true},   {"false", false}, {"on", true},
	             {"off", false}, {"Yes", true}, {"FALSE", false}, {"On", true}};
	static const struct {
		const char *text;
		unsigned mask;
	} versions[] = {{"v1", PP_ACCEPT_V1},
	                {"V2", PP_ACCEPT_V2},
	                {"v2 v1", PP_ACCEPT_ANY},
	                {"v1,v1", PP_ACCEPT_V1}};
	static const char *const protos[] = {"smtp", "submission", "imap"};
	static const char *const tlss[] = {"none", "starttls", "implicit"};
	static const char *const proxies[] = {"required", "optional", "off"};
	struct config c;
	char text[1024];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bools); i++) {
		snprintf(text, sizeof(text), LA "allow_plaintext_auth = %s\n", bools[i].line);
		parse_ok(text, &c);
		assert_int_equal(c.listeners[0].auth_plaintext, bools[i].value);
		config_free(&c);
	}
	for (size_t i = 0; i < ARRAY_LEN(versions); i++) {
		snprintf(text, sizeof(text), LA "proxy_versions = %s\n", versions[i].text);
		parse_ok(text, &c);
		assert_int_equal(c.listeners[0].proxy_versions, versions[i].mask);
		config_free(&c);
	}
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text),
		         "tls_cert = c.pem\ntls_key = k.pem\n[listener a]\naddress = 127.0.0.1:1\nprotocol = "
		         "%s\n"
		         "tls = %s\nproxy = %s\nproxy_trusted = ::1\n",
		         protos[i], tlss[i], proxies[i]);
		parse_ok(text, &c);
		assert_int_equal(c.listeners[0].proto, (enum listener_proto)i);
		assert_int_equal(c.listeners[0].tls, (enum tls_mode)i);
		assert_int_equal(c.listeners[0].proxy, (enum proxy_mode)i);
		/* the global pair is inherited; no base directory: paths as written */
		assert_string_equal(c.listeners[0].cert, "c.pem");
		assert_string_equal(c.listeners[0].key, "k.pem");
		config_free(&c);
	}
	/* empty values where they mean something */
	parse_ok("user =\nrelay_host =   # nothing\n" LA "direct_allowed =\n", &c);
	assert_string_equal(c.run_as, "");
	assert_string_equal(c.relay_host, "");
	assert_int_equal(c.listeners[0].direct.n, 0);
	config_free(&c);
	/* relay_host forms */
	static const char *const relays[] = {"10.0.0.1:25", "[2001:db8::25]:2525", "relay:25",
	                                     "a-b.c.d:65535"};
	for (size_t i = 0; i < ARRAY_LEN(relays); i++) {
		snprintf(text, sizeof(text), "relay_host = %s\n" LA, relays[i]);
		parse_ok(text, &c);
		assert_string_equal(c.relay_host, relays[i]);
		config_free(&c);
	}
	/* each limit at both ends of its range */
	static const char *const edges[] = {
	        "max_message_size = 1K", "max_message_size = 2G",     "max_line = 512",
	        "max_line = 1M",         "max_recipients = 1",        "max_recipients = 100000",
	        "max_connections = 1",   "max_connections = 1000000", "command_timeout = 1s",
	        "command_timeout = 1h",  "data_timeout = 1000ms",     "data_timeout = 60m",
	        "shutdown_grace = 0",    "shutdown_grace = 3600",     "tmp_max_age = 1m",
	        "tmp_max_age = 30d",     "output_buffer = 64K",       "output_buffer = 64M",
	};
	for (size_t i = 0; i < ARRAY_LEN(edges); i++) {
		snprintf(text, sizeof(text), "%s\n" LA, edges[i]);
		parse_ok(text, &c);
		config_free(&c);
	}
	static const char *const ledges[] = {"proxy_timeout = 1ms", "proxy_timeout = 1h",
	                                     "proxy_max_header = 16", "proxy_max_header = 64K"};
	for (size_t i = 0; i < ARRAY_LEN(ledges); i++) {
		snprintf(text, sizeof(text), LA "%s\n", ledges[i]);
		parse_ok(text, &c);
		config_free(&c);
	}
}

static void test_policy_combinations(void **state)
{
	struct config c;

	(void)state;
	/* proxy = required is satisfied by direct_allowed alone */
	parse_ok("[listener a]\naddress = 127.0.0.1:1\nprotocol = smtp\ndirect_allowed = 10.0.0.0/8\n", &c);
	assert_int_equal(c.listeners[0].trusted.n, 0);
	assert_int_equal(c.listeners[0].direct.n, 1);
	config_free(&c);
	/* optional and off need neither */
	parse_ok("[listener a]\naddress = 127.0.0.1:1\nprotocol = smtp\nproxy = optional\n"
	         "[listener b]\naddress = 127.0.0.1:2\nprotocol = smtp\nproxy = off\n",
	         &c);
	assert_int_equal(c.nlisteners, 2);
	assert_int_equal(c.listeners[0].proxy, PROXY_OPTIONAL);
	assert_int_equal(c.listeners[1].proxy, PROXY_OFF);
	config_free(&c);
	/* tls = none needs no certificate; a listener pair overrides the global one */
	parse_ok("tls_cert = g.pem\ntls_key = g.key\n" LA "[listener b]\naddress = [::1]:1\nprotocol = smtp\n"
	         "proxy_trusted = ::1\ntls_cert = b.pem\ntls_key = b.key\ntls = starttls\n",
	         &c);
	assert_string_equal(c.listeners[0].cert, "g.pem");
	assert_string_equal(c.listeners[1].cert, "b.pem");
	assert_string_equal(c.listeners[1].key, "b.key");
	config_free(&c);
	parse_ok("[listener a]\naddress = 127.0.0.1:1\nprotocol = smtp\nproxy = off\ntls_cert = x\ntls_key = "
	         "y\n"
	         "tls = starttls\n",
	         &c);
	assert_null(c.tls_cert);
	assert_string_equal(c.listeners[0].cert, "x");
	config_free(&c);
	/* the same address on another port, or in the other family, is another address */
	parse_ok(LA "[listener b]\naddress = 127.0.0.1:2526, [::ffff:127.0.0.1]:2525\nprotocol = smtp\nproxy "
	            "= off\n",
	         &c);
	config_free(&c);
}

/* ---- the file's shape ---- */

static void test_syntax(void **state)
{
	struct config c;

	(void)state;
	parse_ok("# comment\n   # indented comment\n\t\n\r\n"
	         "  mail_root   =   /a#b   # trailing\r\n"
	         "passwd_file=/p w\t# a space inside a path is kept\n"
	         "hostname = h.example\t#tab\n"
	         "[ listener   x ]  # comment after a section\n"
	         "address=127.0.0.1:1\n"
	         "protocol=smtp\n"
	         "proxy=off",
	         &c);
	assert_string_equal(c.mail_root, "/a#b");
	assert_string_equal(c.passwd_file, "/p w");
	assert_string_equal(c.hostname, "h.example");
	assert_string_equal(c.listeners[0].name, "x");
	config_free(&c);

	/* relative paths: against the directory of name when it has a '/', else as written */
	parse_ok_named("mail_root = m\npasswd_file = ./p\ntls_cert = ././/c\ntls_key = ../k\n" LA,
	               "d/e/f.conf", &c);
	assert_string_equal(c.mail_root, "d/e/m");
	assert_string_equal(c.passwd_file, "d/e/p");
	assert_string_equal(c.tls_cert, "d/e/c");
	assert_string_equal(c.tls_key, "d/e/../k");
	config_free(&c);
	parse_ok_named("mail_root = m\npasswd_file = ./p\n" LA, "f.conf", &c);
	assert_string_equal(c.mail_root, "m");
	assert_string_equal(c.passwd_file, "p");
	config_free(&c);
	parse_ok_named("mail_root = m\n" LA, "/f.conf", &c);
	assert_string_equal(c.mail_root, "/m");
	config_free(&c);
	parse_ok_named("mail_root = m\n" LA, "/etc/x/", &c);
	assert_string_equal(c.mail_root, "/etc/x/m");
	config_free(&c);
	parse_ok_named(LA, NULL, &c);
	assert_null(c.path);
	config_free(&c);
}

/* examples/originmail.conf parses, and relative paths land next to it whatever the spelling. */
static void test_example(void **state)
{
	static const char *const spellings[] = {"examples/originmail.conf", "./examples/originmail.conf",
	                                        ".//.//examples/originmail.conf",
	                                        "examples/../examples/originmail.conf"};
	char cwd[PATH_MAX], want[PATH_MAX + 64], buf[256];

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	for (size_t s = 0; s < ARRAY_LEN(spellings); s++) {
		struct config c;
		char err[512] = "";
		bool ok = config_load(spellings[s], &c, err, sizeof(err));
		if (!ok)
			print_message("  %s: %s (run the tests from the repository root)\n", spellings[s],
			              err);
		assert_true(ok);
		const char *dir = s == 3 ? "examples/../examples" : "examples";

		snprintf(want, sizeof(want), "%s/%s/originmail.conf", cwd, dir);
		assert_string_equal(c.path, want);
		assert_string_equal(c.hostname, "mx1.example.test");
		assert_int_equal(c.ndomains, 1);
		assert_string_equal(c.domains[0], "example.test");
		snprintf(want, sizeof(want), "%s/%s/mail", cwd, dir);
		assert_string_equal(c.mail_root, want);
		snprintf(want, sizeof(want), "%s/%s/passwd", cwd, dir);
		assert_string_equal(c.passwd_file, want);
		snprintf(want, sizeof(want), "%s/%s/tls/cert.pem", cwd, dir);
		assert_string_equal(c.tls_cert, want);
		snprintf(want, sizeof(want), "%s/%s/tls/key.pem", cwd, dir);
		assert_string_equal(c.tls_key, want);
		assert_string_equal(c.run_as, "nobody");
		assert_string_equal(c.relay_host, "");
		assert_string_equal(c.log, "stderr");
		assert_int_equal(c.max_message_size, 25 * 1024 * 1024);
		assert_int_equal(c.max_line, 4096);

		static const struct {
			const char *name;
			uint16_t port;
			enum listener_proto proto;
			enum tls_mode tls;
		} want_l[] = {{"smtp", 25, PROTO_SMTP, TLS_STARTTLS},
		              {"submission", 587, PROTO_SUBMISSION, TLS_STARTTLS},
		              {"smtps", 465, PROTO_SUBMISSION, TLS_IMPLICIT},
		              {"imap", 143, PROTO_IMAP, TLS_STARTTLS},
		              {"imaps", 993, PROTO_IMAP, TLS_IMPLICIT}};
		assert_int_equal(c.nlisteners, ARRAY_LEN(want_l));
		for (size_t i = 0; i < ARRAY_LEN(want_l); i++) {
			const struct listener_conf *l = &c.listeners[i];
			assert_string_equal(l->name, want_l[i].name);
			assert_int_equal(l->naddrs, 2);
			assert_addr(&l->addrs[0], AF_INET, "127.0.0.1", want_l[i].port);
			assert_addr(&l->addrs[1], AF_INET6, "::1", want_l[i].port);
			assert_int_equal(l->proto, want_l[i].proto);
			assert_int_equal(l->tls, want_l[i].tls);
			assert_string_equal(l->cert, c.tls_cert);
			assert_string_equal(l->key, c.tls_key);
			assert_int_equal(l->proxy, PROXY_REQUIRED);
			assert_int_equal(l->proxy_versions, PP_ACCEPT_ANY);
			assert_string_equal(cidr_set_format(&l->trusted, buf, sizeof(buf)),
			                    "127.0.0.0/8, ::1/128");
			assert_int_equal(l->direct.n, 0);
			assert_int_equal(l->proxy_timeout_ms, 5000);
			assert_int_equal(l->proxy_max_header, 4096);
			assert_false(l->auth_plaintext);
		}
		config_free(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_durations),
	        cmocka_unit_test(test_sizes),
	        cmocka_unit_test(test_names),
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_every_key),
	        cmocka_unit_test(test_value_forms),
	        cmocka_unit_test(test_policy_combinations),
	        cmocka_unit_test(test_syntax),
	        cmocka_unit_test(test_example),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
