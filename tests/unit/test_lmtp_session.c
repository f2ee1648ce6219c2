/* The SMTP session in its LMTP mode (RFC 2033) over bytes, with a real passwd-file and real Maildirs: LHLO
 * instead of HELO/EHLO, and after the data one reply per accepted recipient, each for its own delivery. The
 * environment is smtp_test.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/un.h>

#include "smtp_test.h"

static struct listener_conf lc_lmtp;
static struct origin origin_unix;

/* smtp_test.h's environment with an LMTP listener, a local client (uid 108) and room for more recipients. */
static int lmtp_group_setup(void **state)
{
	(void)state;
	if (env_setup("lmtp-test") != 0)
		return -1;
	cfg.max_recipients = 10;
	lc_lmtp = (struct listener_conf){.name = "lmtp", .proto = PROTO_LMTP};
	memset(&origin_unix, 0, sizeof(origin_unix));
	origin_unix.peer.un.sun_family = AF_UNIX;
	origin_unix.client = origin_unix.peer;
	origin_unix.unix_peer = true;
	origin_unix.unix_uid = 108;
	origin_update_text(&origin_unix);
	return 0;
}

/* The one message in user's new/, read whole and left there (the caller frees it). */
static char *read_new(const char *user)
{
	char md[500], path[1200];
	struct dirent *e;
	size_t len;

	maildir_of(user, md, sizeof(md));
	snprintf(path, sizeof(path), "%s/new", md);
	DIR *d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) && e->d_name[0] == '.')
		;
	assert_non_null(e);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", e->d_name);
	closedir(d);
	return read_file(path, &len);
}

static void test_greeting_and_lhlo(void **state)
{
	struct client c;

	(void)state;
	c_open(&c, &lc_lmtp, &origin_unix, NULL);
	smtp_session_greeting(c.s, &c.out);
	say_masked(&c, "", "220 " HOST " LMTP originmail\r\n");
	say_masked(&c, "HELO mta\r\nEHLO mta\r\nMAIL FROM:<a@b.example>\r\n",
	           "500 5.5.1 Error: this is LMTP, send LHLO\r\n500 5.5.1 Error: this is LMTP, send LHLO\r\n"
	           "503 5.5.1 Error: send HELO/EHLO first\r\n");
	say_masked(&c, "LHLO\r\n", "501 5.5.4 Syntax: LHLO hostname\r\n");
	say_masked(&c, "LHLO mta.example.test\r\n",
	           "250-" HOST " Hello mta.example.test [unix:uid=108]\r\n"
	           "250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
	           "250 SMTPUTF8\r\n");
	say_masked(&c, "HELP\r\nNOOP\r\nVRFY alice\r\nRSET\r\n",
	           "214 2.0.0 Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\r\n250 2.0.0 Ok\r\n"
	           "252 2.5.2 Cannot VRFY user\r\n250 2.0.0 Ok\r\n");
	/* No recipient accepted: 503 (RFC 2033 4.2), not SMTP's 554. */
	say_masked(&c,
	           "MAIL FROM:<a@b.example>\r\nRCPT TO:<nobody@example.test>\r\nRCPT "
	           "TO:<x@elsewhere.example>\r\nDATA\r\n",
	           "250 2.1.0 Ok\r\n550 5.1.1 <nobody@example.test>: User unknown\r\n"
	           "554 5.7.1 <x@elsewhere.example>: Relay access denied\r\n503 5.5.1 Error: no valid "
	           "recipients\r\n");
	say_masked(&c, "QUIT\r\n", "221 2.0.0 Bye\r\n");
	c_close(&c);

	/* LHLO is LMTP's only. */
	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	say_masked(&c, "LHLO mta\r\n", "500 5.5.2 Error: command not recognized\r\n");
	c_close(&c);
}

/* Three recipients, one whose Maildir cannot take the message (new/ is a file): 250, 451, 250. */
static void test_reply_per_recipient(void **state)
{
	struct client c;
	char md[400], path[420];

	(void)state;
	assert_true(maildir_path(mail_root, "bob@example.test", md, sizeof(md)));
	assert_true(maildir_ensure(md, path, sizeof(path)));
	snprintf(path, sizeof(path), "%s/new", md);
	assert_int_equal(rmdir(path), 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);

	c_open(&c, &lc_lmtp, &origin_unix, NULL);
	say_masked(&c,
	           "LHLO mta\r\nMAIL FROM:<s@remote.example> BODY=8BITMIME\r\n"
	           "RCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
	           "RCPT TO:<nobody@example.test>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\n",
	           "250-" HOST " Hello mta [unix:uid=108]\r\n"
	           "250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
	           "250 SMTPUTF8\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	           "550 5.1.1 <nobody@example.test>: User unknown\r\n250 2.1.5 Ok\r\n"
	           "354 End data with <CR><LF>.<CR><LF>\r\n");
	say_masked(&c, "Subject: hi\r\n\r\nbody\r\n.\r\n",
	           "250 2.0.0 <alice@example.test> Ok: delivered as ID\r\n"
	           "451 4.3.0 <bob@example.test> Local delivery failed\r\n"
	           "250 2.0.0 <carol@example.test> Ok: delivered as ID\r\n");
	assert_non_null(strstr(smtp_session_last_event(c.s), "to 2 of 3 recipients"));
	assert_int_equal(count_dir("alice@example.test", "new"), 1);
	assert_int_equal(count_dir("carol@example.test", "new"), 1);
	char *m = read_new("alice@example.test");
	assert_non_null(
	        strstr(m, "Received: from mta (unix:uid=108)\r\n\tby " HOST " (originmail) with LMTP id "));
	assert_non_null(strstr(m, "\r\nSubject: hi\r\n\r\nbody\r\n"));
	free(m);
	/* A rejected message is answered once per recipient too. */
	say_masked(&c,
	           "MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\n"
	           "RCPT TO:<carol@example.test>\r\nDATA\r\nbare\nLF\r\n.\r\n",
	           "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	           "550 5.6.0 Message rejected: bare CR or LF in message data\r\n"
	           "550 5.6.0 Message rejected: bare CR or LF in message data\r\n");
	assert_true(smtp_session_idle(c.s));
	c_close(&c);
	assert_int_equal(unlink(path), 0);
}

/* Through a proxy the Received line names the original client, as in SMTP. */
static void test_received_via_proxy(void **state)
{
	struct client c;

	(void)state;
	c_open(&c, &lc_lmtp, &origin_proxied, NULL);
	say_masked(&c, "LHLO mta\r\nMAIL FROM:<>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\nx\r\n.\r\n",
	           "250-" HOST " Hello mta [203.0.113.10]\r\n"
	           "250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
	           "250 SMTPUTF8\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	           "250 2.0.0 <carol@example.test> Ok: delivered as ID\r\n");
	c_close(&c);
	assert_int_equal(count_dir("carol@example.test", "new"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_greeting_and_lhlo),
	        cmocka_unit_test(test_reply_per_recipient),
	        cmocka_unit_test(test_received_via_proxy),
	};
	return cmocka_run_group_tests_name("lmtp_session", tests, lmtp_group_setup, group_teardown);
}
