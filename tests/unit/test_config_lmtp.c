/* The listener keys of LMTP and its neighbours: protocol = lmtp, unix: addresses with socket_mode,
 * socket_owner and socket_group, and proxy_order (docs/configuration.md): valid and invalid combinations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "conf/config.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TLS          "tls_cert = /etc/c.pem\ntls_key = /etc/k.pem\n"

static void parse_ok(const char *text, struct config *c)
{
	char err[512] = "";
	bool ok = config_parse(text, "/etc/om/t.conf", c, err, sizeof(err));
	if (!ok)
		print_message("  unexpected error: %s\n  input:\n%s\n", err, text);
	assert_true(ok);
}

static void test_unix_lmtp(void **state)
{
	struct config c;

	(void)state;
	parse_ok("[listener lmtp]\naddress = unix:/run/om/lmtp.sock\nprotocol = lmtp\n", &c);
	const struct listener_conf *l = &c.listeners[0];
	assert_int_equal(l->proto, PROTO_LMTP);
	assert_string_equal(config_proto_name(l->proto), "lmtp");
	assert_true(config_listener_unix(l));
	assert_int_equal(l->addrs[0].sa.sa_family, AF_UNIX);
	assert_string_equal(l->addrs[0].un.sun_path, "/run/om/lmtp.sock");
	assert_int_equal(l->proxy, PROXY_OFF); /* the default on a UNIX socket */
	assert_int_equal(l->socket_mode, 0660);
	assert_null(l->socket_owner);
	assert_int_equal(l->proxy_order, PROXY_BEFORE_TLS);
	config_free(&c);

	/* Every socket key; a relative path resolves against the file's directory, like other paths. */
	parse_ok(
	        "[listener lmtp]\naddress = unix:sock/lmtp\nprotocol = lmtp\nproxy = off\nsocket_mode = 600\n"
	        "socket_owner = postfix\nsocket_group = mail\n",
	        &c);
	l = &c.listeners[0];
	assert_string_equal(l->addrs[0].un.sun_path, "/etc/om/sock/lmtp");
	assert_int_equal(l->socket_mode, 0600);
	assert_string_equal(l->socket_owner, "postfix");
	assert_string_equal(l->socket_group, "mail");
	config_free(&c);

	/* Any protocol may listen on a UNIX socket; LMTP over TCP behind a proxy too. */
	parse_ok("[listener s]\naddress = unix:/run/s.sock\nprotocol = smtp\nsocket_mode = 0777\n"
	         "[listener l]\naddress = 127.0.0.1:24\nprotocol = lmtp\nproxy_trusted = 127.0.0.2\n",
	         &c);
	assert_int_equal(c.listeners[0].socket_mode, 0777);
	assert_false(config_listener_unix(&c.listeners[1]));
	assert_int_equal(c.listeners[1].proxy, PROXY_REQUIRED);
	config_free(&c);
}

static void test_proxy_order(void **state)
{
	struct config c;

	(void)state;
	parse_ok(TLS "[listener a]\naddress = 127.0.0.1:465\nprotocol = submission\ntls = implicit\n"
	             "proxy_trusted = 127.0.0.2\nproxy_order = inside-tls\n"
	             "[listener b]\naddress = 127.0.0.1:993\nprotocol = imap\ntls = implicit\n"
	             "proxy = optional\nproxy_trusted = 127.0.0.2\nproxy_order = INSIDE-TLS\n"
	             "[listener c]\naddress = 127.0.0.1:25\nprotocol = smtp\nproxy_trusted = 127.0.0.2\n"
	             "proxy_order = before-tls\n",
	         &c);
	assert_int_equal(c.listeners[0].proxy_order, PROXY_INSIDE_TLS);
	assert_int_equal(c.listeners[1].proxy_order, PROXY_INSIDE_TLS);
	assert_int_equal(c.listeners[2].proxy_order, PROXY_BEFORE_TLS);
	config_free(&c);
}

static const struct {
	const char *text, *err;
} errors[] = {
        {"[listener a]\naddress = unix:/run/a.sock\nprotocol = lmtp\nproxy = required\n"
         "proxy_trusted = 127.0.0.1\n",
         "t.conf:4: listener 'a': proxy = required on a unix: address (a UNIX socket peer is local: use "
         "proxy = off)"},
        {"[listener a]\naddress = unix:/run/a.sock\nprotocol = lmtp\nproxy = optional\n",
         "t.conf:4: listener 'a': proxy = optional on a unix: address (a UNIX socket peer is local: use "
         "proxy = off)"},
        {"[listener a]\naddress = unix:/run/a.sock, 127.0.0.1:24\nprotocol = lmtp\n",
         "t.conf:2: a unix: address must be the listener's only address"},
        {"[listener a]\naddress = 127.0.0.1:24, unix:/run/a.sock\nprotocol = lmtp\n",
         "t.conf:2: a unix: address must be the listener's only address"},
        {"[listener a]\naddress = unix:\nprotocol = lmtp\n",
         "t.conf:2: bad address 'unix:' (use IPv4:PORT or [IPv6]:PORT, port 1-65535, or unix:/PATH)"},
        {"[listener a]\naddress = unix:/a\nprotocol = lmtp\n[listener b]\naddress = unix:/a\nprotocol = "
         "lmtp\n",
         "t.conf:5: address 'unix:/a' is already used by listener 'a' (line 1)"},
        {"[listener a]\naddress = 127.0.0.1:24\nprotocol = lmtp\nproxy = off\nsocket_mode = 0660\n",
         "t.conf:5: socket_mode needs a unix: address"},
        {"[listener a]\naddress = 127.0.0.1:24\nprotocol = lmtp\nproxy = off\nsocket_group = mail\n",
         "t.conf:5: socket_group needs a unix: address"},
        {"[listener a]\naddress = unix:/a\nprotocol = lmtp\nsocket_mode = 0880\n",
         "t.conf:4: socket_mode must be octal permission bits such as 0660, not '0880'"},
        {"[listener a]\naddress = unix:/a\nprotocol = lmtp\nsocket_mode = 01777\n",
         "t.conf:4: socket_mode must be octal permission bits such as 0660, not '01777'"},
        {"[listener a]\naddress = unix:/a\nprotocol = lmtp\nsocket_owner = -x\n",
         "t.conf:4: bad user name '-x'"},
        {"[listener a]\naddress = 127.0.0.1:25\nprotocol = smtp\nproxy_order = after-tls\n",
         "t.conf:4: proxy_order must be before-tls or inside-tls"},
        {TLS "[listener a]\naddress = 127.0.0.1:25\nprotocol = smtp\ntls = starttls\n"
             "proxy_trusted = 127.0.0.2\nproxy_order = inside-tls\n",
         "t.conf:8: listener 'a': proxy_order = inside-tls needs tls = implicit"},
        {"[listener a]\naddress = 127.0.0.1:25\nprotocol = smtp\nproxy_trusted = 127.0.0.2\n"
         "proxy_order = inside-tls\n",
         "t.conf:5: listener 'a': proxy_order = inside-tls needs tls = implicit"},
        {TLS "[listener a]\naddress = 127.0.0.1:465\nprotocol = submission\ntls = implicit\nproxy = off\n"
             "proxy_order = inside-tls\n",
         "t.conf:8: listener 'a': proxy_order = inside-tls needs proxy = required or optional"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(errors); i++) {
		struct config c;
		char err[512] = "";
		bool ok = config_parse(errors[i].text, "t.conf", &c, err, sizeof(err));
		if (ok || strcmp(err, errors[i].err) != 0)
			print_message("  input:\n%s\n  expected: %s\n  got:      %s\n", errors[i].text,
			              errors[i].err, ok ? "(success)" : err);
		if (ok)
			config_free(&c);
		assert_false(ok);
		assert_string_equal(err, errors[i].err);
	}
}

static void test_long_path(void **state)
{
	char text[512], path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1], err[512] = "";
	struct config c;

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text), "[listener a]\naddress = unix:%s\nprotocol = lmtp\n", path);
	assert_false(config_parse(text, "t.conf", &c, err, sizeof(err)));
	assert_non_null(strstr(err, "is too long (at most 107 bytes)"));
	path[sizeof(path) - 2] = '\0'; /* 107 bytes: fits with its NUL */
	snprintf(text, sizeof(text), "[listener a]\naddress = unix:%s\nprotocol = lmtp\n", path);
	parse_ok(text, &c);
	assert_string_equal(c.listeners[0].addrs[0].un.sun_path, path);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_unix_lmtp),
	        cmocka_unit_test(test_proxy_order),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_long_path),
	};
	return cmocka_run_group_tests_name("config_lmtp", tests, NULL, NULL);
}
