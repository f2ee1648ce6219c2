/* The configuration parser's failures: every error message at its line (docs/configuration.md,
 * "Errors"), values too long for their kind, the error buffer, and config_load's file errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

/* The parse fails with exactly want, and leaves *out zeroed. */
static void expect_err(const char *text, const char *want)
{
	struct config c, zero;
	char err[512] = "";

	memset(&c, 0x5a, sizeof(c));
	memset(&zero, 0, sizeof(zero));
	bool ok = config_parse(text, "t.conf", &c, err, sizeof(err));
	if (ok || strcmp(err, want) != 0)
		print_message("  input:\n%s\n  expected: %s\n  got:      %s\n", text, want,
		              ok ? "(success)" : err);
	assert_false(ok);
	assert_string_equal(err, want);
	assert_memory_equal(&c, &zero, sizeof(c));
}

/* Every error message, at its line. */
static const struct {
	const char *text, *err;
} errors[] = {
        /* lines and sections */
        {"", "t.conf: no [listener NAME] section: nothing to listen on"},
        {"# only a comment\nhostname = x\n", "t.conf: no [listener NAME] section: nothing to listen on"},
        {"hostname x\n" LA, "t.conf:1: missing '=' in 'hostname x' (expected 'key = value')"},
        {"\n = x\n" LA, "t.conf:2: missing key before '='"},
        {"foo = 1\n" LA, "t.conf:1: unknown key 'foo'"},
        {"Hostname = x\n" LA, "t.conf:1: unknown key 'Hostname'"},
        {LA "bar baz = 1\n", "t.conf:5: unknown key 'bar baz'"},
        {LA "hostname = x\n",
         "t.conf:5: 'hostname' is a global key: set it before the first [listener] section"},
        {LA "max_line = 2048\n",
         "t.conf:5: 'max_line' is a global key: set it before the first [listener] section"},
        {"proxy = off\n" LA, "t.conf:1: 'proxy' is a listener key: set it inside a [listener NAME] section"},
        {"address = 127.0.0.1:1\n" LA,
         "t.conf:1: 'address' is a listener key: set it inside a [listener NAME] section"},
        {"log = syslog\n# x\nlog = stderr\n" LA, "t.conf:3: duplicate key 'log' (first set on line 1)"},
        {LA "protocol = imap\n", "t.conf:5: duplicate key 'protocol' (first set on line 3)"},
        {"host\x01name = x\n" LA, "t.conf:1: control character 0x01 in the line"},
        {"[listener a\n", "t.conf:1: missing ']' at the end of the section header"},
        {"[global]\n", "t.conf:1: unknown section 'global' (expected [listener NAME])"},
        {"[listeners a]\n", "t.conf:1: unknown section 'listeners' (expected [listener NAME])"},
        {"[listener]\n", "t.conf:1: missing listener name (expected [listener NAME])"},
        {"[listener  ]\n", "t.conf:1: missing listener name (expected [listener NAME])"},
        {"[listener a b]\n", "t.conf:1: bad listener name 'a b' (up to 64 letters, digits, '.', '_', '-')"},
        {"[listener a/b]\n", "t.conf:1: bad listener name 'a/b' (up to 64 letters, digits, '.', '_', '-')"},
        {"[listener a12345678901234567890123456789012345678901234567890123456789012345]\n",
         "t.conf:1: bad listener name 'a12345678901234567890123456789012345678901234567890123456789012345' "
         "(up to "
         "64 letters, digits, '.', '_', '-')"},
        {LA "[listener a]\n", "t.conf:5: duplicate listener 'a' (first on line 1)"},
        /* empty values */
        {"hostname =\n" LA, "t.conf:1: hostname needs a value"},
        {"mail_root =  # none\n" LA, "t.conf:1: mail_root needs a value"},
        {"domains = ,\n" LA, "t.conf:1: domains needs a value"},
        {"[listener a]\naddress = , ,\n", "t.conf:2: address needs a value"},
        {"[listener a]\naddress =\n", "t.conf:2: address needs a value"},
        {LA "proxy_versions = ,\n", "t.conf:5: proxy_versions needs a value"},
        {LA "proxy_timeout =\n", "t.conf:5: proxy_timeout needs a value"},
        /* global values */
        {"hostname = mx_1.example\n" LA, "t.conf:1: bad hostname 'mx_1.example'"},
        {"hostname = -mx.example\n" LA, "t.conf:1: bad hostname '-mx.example'"},
        {"hostname = mx-.example\n" LA, "t.conf:1: bad hostname 'mx-.example'"},
        {"hostname = mx..example\n" LA, "t.conf:1: bad hostname 'mx..example'"},
        {"hostname = mx.example.\n" LA, "t.conf:1: bad hostname 'mx.example.'"},
        {"hostname = .example\n" LA, "t.conf:1: bad hostname '.example'"},
        {"hostname = a b\n" LA, "t.conf:1: bad hostname 'a b'"},
        {"hostname = a1234567890123456789012345678901234567890123456789012345678901234.x\n" LA,
         "t.conf:1: bad hostname 'a1234567890123456789012345678901234567890123456789012345678901234.x'"},
        {"domains = example.test, exa$mple.org\n" LA, "t.conf:1: bad domain 'exa$mple.org' in domains"},
        {"domains = example.test Example.Test\n" LA, "t.conf:1: domain 'Example.Test' is listed twice"},
        {"user = mail user\n" LA, "t.conf:1: bad user name 'mail user'"},
        {"user = -x\n" LA, "t.conf:1: bad user name '-x'"},
        {"user = a23456789012345678901234567890123\n" LA,
         "t.conf:1: bad user name 'a23456789012345678901234567890123'"},
        {"relay_host = relay.example\n" LA,
         "t.conf:1: relay_host must be HOST:PORT or [IPv6]:PORT, not 'relay.example'"},
        {"relay_host = relay:0\n" LA, "t.conf:1: relay_host must be HOST:PORT or [IPv6]:PORT, not 'relay:0'"},
        {"relay_host = relay:65536\n" LA,
         "t.conf:1: relay_host must be HOST:PORT or [IPv6]:PORT, not 'relay:65536'"},
        {"relay_host = 2001:db8::1:25\n" LA,
         "t.conf:1: relay_host must be HOST:PORT or [IPv6]:PORT, not '2001:db8::1:25'"},
        {"relay_host = [relay]:25\n" LA,
         "t.conf:1: relay_host must be HOST:PORT or [IPv6]:PORT, not '[relay]:25'"},
        {"relay_host = re_lay:25\n" LA,
         "t.conf:1: relay_host must be HOST:PORT or [IPv6]:PORT, not 're_lay:25'"},
        {"log = file\n" LA, "t.conf:1: log must be stderr, syslog or both"},
        {"tls_cert = c.pem\n" LA, "t.conf:1: tls_cert is set but tls_key is not"},
        {"\ntls_key = k.pem\n" LA, "t.conf:2: tls_key is set but tls_cert is not"},
        /* numbers: syntax */
        {"max_message_size = 25MB\n" LA,
         "t.conf:1: bad size '25MB' for max_message_size (use bytes or 512K, 25M, 1G)"},
        {"max_line = -1\n" LA, "t.conf:1: bad size '-1' for max_line (use bytes or 512K, 25M, 1G)"},
        {"max_recipients = 1K\n" LA, "t.conf:1: bad number '1K' for max_recipients"},
        {"max_connections = 99999999999999999999999\n" LA,
         "t.conf:1: bad number '99999999999999999999999' for max_connections"},
        {"command_timeout = 5 min\n" LA,
         "t.conf:1: bad duration '5 min' for command_timeout (use seconds or 500ms, 30s, 5m, 1h)"},
        {LA "proxy_timeout = 1d\n",
         "t.conf:5: bad duration '1d' for proxy_timeout (use seconds or 500ms, 30s, 5m, 1h)"},
        {LA "proxy_max_header = 4KB\n",
         "t.conf:5: bad size '4KB' for proxy_max_header (use bytes or 512K, 25M, 1G)"},
        /* numbers: range, one past each end */
        {"max_message_size = 1023\n" LA, "t.conf:1: max_message_size must be between 1K and 2G"},
        {"max_message_size = 2049M\n" LA, "t.conf:1: max_message_size must be between 1K and 2G"},
        {"max_line = 511\n" LA, "t.conf:1: max_line must be between 512 and 1M"},
        {"max_line = 1048577\n" LA, "t.conf:1: max_line must be between 512 and 1M"},
        {"max_recipients = 0\n" LA, "t.conf:1: max_recipients must be between 1 and 100000"},
        {"max_recipients = 100001\n" LA, "t.conf:1: max_recipients must be between 1 and 100000"},
        {"max_connections = 0\n" LA, "t.conf:1: max_connections must be between 1 and 1000000"},
        {"max_connections = 1000001\n" LA, "t.conf:1: max_connections must be between 1 and 1000000"},
        {"command_timeout = 999ms\n" LA, "t.conf:1: command_timeout must be between 1s and 1h"},
        {"command_timeout = 3601s\n" LA, "t.conf:1: command_timeout must be between 1s and 1h"},
        {"data_timeout = 0\n" LA, "t.conf:1: data_timeout must be between 1s and 1h"},
        {"data_timeout = 3600001ms\n" LA, "t.conf:1: data_timeout must be between 1s and 1h"},
        {"shutdown_grace = 61m\n" LA, "t.conf:1: shutdown_grace must be at most 1h"},
        {"tmp_max_age = 59s\n" LA, "t.conf:1: tmp_max_age must be between 1m and 30d"},
        {"tmp_max_age = 31d\n" LA, "t.conf:1: tmp_max_age must be between 1m and 30d"},
        {"output_buffer = 63K\n" LA, "t.conf:1: output_buffer must be between 64K and 64M"},
        {"output_buffer = 65M\n" LA, "t.conf:1: output_buffer must be between 64K and 64M"},
        {"seccomp = strict\n" LA, "t.conf:1: seccomp must be yes or no (or true/false, on/off)"},
        {LA "proxy_timeout = 0\n", "t.conf:5: proxy_timeout must be more than 0 and at most 1h"},
        {LA "proxy_timeout = 0ms\n", "t.conf:5: proxy_timeout must be more than 0 and at most 1h"},
        {LA "proxy_timeout = 2h\n", "t.conf:5: proxy_timeout must be more than 0 and at most 1h"},
        {LA "proxy_max_header = 15\n", "t.conf:5: proxy_max_header must be between 16 and 65551"},
        {LA "proxy_max_header = 65552\n", "t.conf:5: proxy_max_header must be between 16 and 65551"},
        /* listener values */
        {LA "allow_plaintext_auth = maybe\n",
         "t.conf:5: allow_plaintext_auth must be yes or no (or true/false, on/off)"},
        {LA "allow_plaintext_auth = 1\n",
         "t.conf:5: allow_plaintext_auth must be yes or no (or true/false, on/off)"},
        {"[listener a]\nprotocol = pop3s\n",
         "t.conf:2: protocol must be smtp, submission, imap, pop3 or lmtp"},
        {LA "tls = ssl\n", "t.conf:5: tls must be none, starttls or implicit"},
        {LA "proxy = yes\n", "t.conf:5: proxy must be required, optional or off"},
        {LA "proxy = always\n", "t.conf:5: proxy must be required, optional or off"},
        {LA "proxy_versions = v1, v3\n",
         "t.conf:5: unknown PROXY version 'v3' in proxy_versions (use v1, v2 or both)"},
        {LA "proxy_versions = 1\n",
         "t.conf:5: unknown PROXY version '1' in proxy_versions (use v1, v2 or both)"},
        {"[listener a]\nproxy_trusted = 10.0.0.0/8, 10.0.0.0/33 ::1\n",
         "t.conf:2: bad CIDR '10.0.0.0/33' in proxy_trusted"},
        {"[listener a]\nproxy_trusted = ::/129\n", "t.conf:2: bad CIDR '::/129' in proxy_trusted"},
        {"[listener a]\nproxy_trusted = localhost\n", "t.conf:2: bad CIDR 'localhost' in proxy_trusted"},
        {LA "direct_allowed = 192.0.2.0/24,192.0.2.0/-1\n",
         "t.conf:5: bad CIDR '192.0.2.0/-1' in direct_allowed"},
        /* addresses */
        {"[listener a]\naddress = 127.0.0.1\n",
         "t.conf:2: bad address '127.0.0.1' (use IPv4:PORT or [IPv6]:PORT, port 1-65535, or unix:/PATH)"},
        {"[listener a]\naddress = 127.0.0.1:0\n",
         "t.conf:2: bad address '127.0.0.1:0' (use IPv4:PORT or [IPv6]:PORT, port 1-65535, or unix:/PATH)"},
        {"[listener a]\naddress = 127.0.0.1:65536\n",
         "t.conf:2: bad address '127.0.0.1:65536' (use IPv4:PORT or [IPv6]:PORT, port 1-65535, or "
         "unix:/PATH)"},
        {"[listener a]\naddress = 127.0.0.1:smtp\n", "t.conf:2: bad address '127.0.0.1:smtp' (use IPv4:PORT "
                                                     "or [IPv6]:PORT, port 1-65535, or unix:/PATH)"},
        {"[listener a]\naddress = ::1:25\n",
         "t.conf:2: bad address '::1:25' (use IPv4:PORT or [IPv6]:PORT, port 1-65535, or unix:/PATH)"},
        {"[listener a]\naddress = [::1]25\n",
         "t.conf:2: bad address '[::1]25' (use IPv4:PORT or [IPv6]:PORT, port 1-65535, or unix:/PATH)"},
        {"[listener a]\naddress = [::1:25\n",
         "t.conf:2: bad address '[::1:25' (use IPv4:PORT or [IPv6]:PORT, port 1-65535, or unix:/PATH)"},
        {"[listener a]\naddress = [127.0.0.1]:25\n", "t.conf:2: bad address '[127.0.0.1]:25' (use IPv4:PORT "
                                                     "or [IPv6]:PORT, port 1-65535, or unix:/PATH)"},
        {"[listener a]\naddress = 256.0.0.1:25\n",
         "t.conf:2: bad address '256.0.0.1:25' (use IPv4:PORT or [IPv6]:PORT, port 1-65535, or unix:/PATH)"},
        {"[listener a]\naddress = localhost:25\n",
         "t.conf:2: bad address 'localhost:25' (use IPv4:PORT or [IPv6]:PORT, port 1-65535, or unix:/PATH)"},
        {"[listener a]\naddress = [::1]:25, [0:0::1]:25\n",
         "t.conf:2: address '[0:0::1]:25' is listed twice"},
        {LA "[listener b]\naddress = 10.0.0.1:25 127.0.0.1:2525\n",
         "t.conf:6: address '127.0.0.1:2525' is already used by listener 'a' (line 1)"},
        /* listener checks, reported where the listener or the key is */
        {"[listener a]\nprotocol = smtp\nproxy = off\n", "t.conf:1: listener 'a' has no address"},
        {"\n[listener a]\naddress = 127.0.0.1:1\nproxy = off\n[listener b]\n",
         "t.conf:2: listener 'a' has no protocol (smtp, submission, imap, pop3 or lmtp)"},
        {LA "tls_cert = c.pem\n", "t.conf:5: tls_cert is set but tls_key is not"},
        {LA "tls_key = k.pem\n", "t.conf:5: tls_key is set but tls_cert is not"},
        {LA "tls = starttls\n",
         "t.conf:5: tls = starttls needs tls_cert and tls_key (in the listener, or global)"},
        {LA "tls = implicit\n[listener b]\n",
         "t.conf:5: tls = implicit needs tls_cert and tls_key (in the listener, or global)"},
        {"[listener a]\naddress = 127.0.0.1:1\nprotocol = smtp\n",
         "t.conf:1: listener 'a': proxy = required but proxy_trusted and direct_allowed are both empty, so "
         "every "
         "peer would be refused"},
        {"[listener a]\naddress = 127.0.0.1:1\nprotocol = smtp\nproxy = required\nproxy_trusted =\n",
         "t.conf:4: listener 'a': proxy = required but proxy_trusted and direct_allowed are both empty, so "
         "every "
         "peer would be refused"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(errors); i++)
		expect_err(errors[i].text, errors[i].err);
}

/* Values too long for their kind. */
static void test_long_values(void **state)
{
	char text[1024], label[64], host[300], want[1200];

	(void)state;
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(host, sizeof(host), "%s.%s.%s.%s", label, label, label, label); /* 255 */
	snprintf(text, sizeof(text), "hostname = %s\n" LA, host);
	snprintf(want, sizeof(want), "t.conf:1: bad hostname '%s'", host);
	expect_err(text, want);

	struct config c;
	host[253] = '\0'; /* 253: the longest name there is */
	host[252] = 'b';
	snprintf(text, sizeof(text), "hostname = %s\n" LA, host);
	parse_ok(text, &c);
	assert_int_equal(strlen(c.hostname), 253);
	config_free(&c);

	memset(host, 'r', 299);
	host[299] = '\0';
	memcpy(host + 290, ".test:25", 9);
	snprintf(text, sizeof(text), "relay_host = %s\n" LA, host);
	snprintf(want, sizeof(want), "t.conf:1: relay_host must be HOST:PORT or [IPv6]:PORT, not '%s'", host);
	expect_err(text, want);

	const char *addr = "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535"; /* the longest there is */
	snprintf(text, sizeof(text), "[listener a]\naddress = %s\nprotocol = smtp\nproxy = off\n", addr);
	parse_ok(text, &c);
	assert_int_equal(c.listeners[0].naddrs, 1);
	config_free(&c);
	addr = "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:000000000000065535";
	snprintf(text, sizeof(text), "[listener a]\naddress = %s\n", addr);
	snprintf(want, sizeof(want),
	         "t.conf:2: bad address '%s' (use IPv4:PORT or [IPv6]:PORT, port 1-65535, or unix:/PATH)",
	         addr);
	expect_err(text, want);
}

static void test_error_buffer(void **state)
{
	struct config c;
	char small[12];

	(void)state;
	memset(small, 'x', sizeof(small));
	assert_false(config_parse("foo = 1\n", "t.conf", &c, small, sizeof(small)));
	assert_string_equal(small, "t.conf:1: u"); /* truncated, terminated */
	memset(small, 'x', sizeof(small));
	assert_false(config_parse("foo = 1\n", "a-very-long-name.conf", &c, small, sizeof(small)));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_false(config_parse("foo = 1\n", "t.conf", &c, NULL, 0));
	assert_false(config_parse("foo = 1\n", "t.conf", &c, small, 0));
	assert_false(config_parse(NULL, NULL, &c, small, sizeof(small)));
	assert_string_equal(small, "(config): n");
	assert_false(config_load("/nonexistent/originmail.conf", &c, NULL, 0));
}

/* ---- files ---- */

static char *temp_file(const void *data, size_t len)
{
	char *path = strdup("/tmp/test_config_XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void expect_load_err(const char *path, const char *want)
{
	struct config c;
	char err[512] = "";

	memset(&c, 0x5a, sizeof(c));
	bool ok = config_load(path, &c, err, sizeof(err));
	if (ok || strcmp(err, want) != 0)
		print_message("  expected: %s\n  got:      %s\n", want, ok ? "(success)" : err);
	assert_false(ok);
	assert_string_equal(err, want);
	assert_null(c.path);
	assert_int_equal(c.nlisteners, 0);
}

static void test_load_errors(void **state)
{
	char want[600];

	(void)state;
	expect_load_err("/nonexistent/originmail.conf",
	                "/nonexistent/originmail.conf: No such file or directory");
	expect_load_err("/tmp", "/tmp: Is a directory");
	expect_load_err("", "no configuration file given");
	expect_load_err(NULL, "no configuration file given");

	static const char nul[] = "hostname = x\n# a\0b\n" LA;
	char *p = temp_file(nul, sizeof(nul) - 1);
	snprintf(want, sizeof(want), "%s:2: NUL byte in the file", p);
	expect_load_err(p, want);
	unlink(p);
	free(p);

	size_t big = 1024 * 1024 + 1;
	char *text = malloc(big);
	assert_non_null(text);
	memset(text, '#', big);
	p = temp_file(text, big);
	snprintf(want, sizeof(want), "%s: larger than 1 MiB: not a configuration file", p);
	expect_load_err(p, want);
	unlink(p);
	free(p);

	/* exactly 1 MiB is fine: a long comment and a listener */
	memset(text, ' ', big - 1);
	memcpy(text, LA "#", sizeof(LA));
	text[big - 2] = '\n';
	p = temp_file(text, big - 1);
	struct config c;
	char err[512] = "";
	if (!config_load(p, &c, err, sizeof(err)))
		print_message("  %s\n", err);
	assert_true(c.nlisteners == 1);
	assert_string_equal(c.path, p);
	config_free(&c);

	/* errors name the file as given, with the line */
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("hostname = a\nfoo = 1\n", f);
	fclose(f);
	snprintf(want, sizeof(want), "%s:2: unknown key 'foo'", p);
	expect_load_err(p, want);
	unlink(p);
	free(p);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_long_values),
	        cmocka_unit_test(test_error_buffer),
	        cmocka_unit_test(test_load_errors),
	};
	return cmocka_run_group_tests_name("config_errors", tests, NULL, NULL);
}
