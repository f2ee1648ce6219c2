/* The SMTP session's AUTH (PLAIN, LOGIN), submission and STARTTLS, end to end over bytes; the environment
 * is smtp_test.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "smtp_test.h"

/* ---- AUTH and submission ---- */

static void test_submission_requires_auth(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_sub_tls, &origin_proxied, "TLSv1.3 TLS_AES_256_GCM_SHA384");
	say(&c, "EHLO c\r\n",
	    "250-" HOST " Hello c [203.0.113.10]\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN\r\n");
	say(&c, "MAIL FROM:<alice@example.test>\r\n", "530 5.7.0 Authentication required\r\n");
	say(&c, "RCPT TO:<bob@example.test>\r\n", "503 5.5.1 Error: need MAIL command\r\n");
	/* "\0alice@example.test\0secret" */
	say(&c, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n",
	    "235 2.7.0 Authentication successful\r\n");
	assert_string_equal(smtp_session_auth_user(c.s), "alice@example.test");
	say(&c, "MAIL FROM:<alice@example.test>\r\n", "250 2.1.0 Ok\r\n");
	c_close(&c);
}

static void test_auth_plain(void **state)
{
	struct client c;
	char id[64];
	(void)state;

	c_open(&c, &lc_sub_tls, &origin_proxied, "TLSv1.3 TLS_AES_256_GCM_SHA384");
	say(&c, "MAIL FROM:<a@b.example>\r\n", "503 5.5.1 Error: send HELO/EHLO first\r\n");
	say(&c, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n",
	    "503 5.5.1 Error: send EHLO first\r\n");
	say(&c, "HELO c\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n",
	    "250 " HOST " Hello c [203.0.113.10]\r\n503 5.5.1 Error: send EHLO first\r\n");
	c_drain(&c, "EHLO c\r\n");
	say(&c, "AUTH\r\n", "501 5.5.4 Syntax: AUTH mechanism\r\n");
	say(&c, "AUTH CRAM-MD5\r\n", "504 5.5.4 Unrecognized authentication type\r\n");
	say(&c, "AUTH PLAIN !!!!\r\n", "501 5.5.2 Cannot decode response\r\n");
	say(&c, "AUTH PLAIN =\r\n", "501 5.5.2 Malformed PLAIN response\r\n");
	/* "\0alice@example.test\0wrong" */
	say(&c, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==\r\n",
	    "535 5.7.8 Authentication credentials invalid\r\n");
	assert_string_equal(smtp_session_last_event(c.s), "authentication failed for alice@example.test");
	/* continuation, cancelled */
	say(&c, "AUTH PLAIN\r\n", "334 \r\n");
	say(&c, "*\r\n", "501 5.7.0 Authentication aborted\r\n");
	/* continuation, good: "\0alice@example.test\0secret" */
	say(&c, "AUTH PLAIN\r\n", "334 \r\n");
	say(&c, "AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n", "235 2.7.0 Authentication successful\r\n");
	assert_string_equal(smtp_session_auth_user(c.s), "alice@example.test");
	assert_string_equal(smtp_session_last_event(c.s), "authenticated as alice@example.test");
	say(&c, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n",
	    "503 5.5.1 Error: already authenticated\r\n");

	/* Authenticated submission: local delivery works; other domains are refused (relay_host is empty). */
	say(&c, "MAIL FROM:<alice@example.test>\r\n", "250 2.1.0 Ok\r\n");
	say(&c, "RCPT TO:<friend@other.example>\r\n",
	    "554 5.7.1 <friend@other.example>: Relaying to other.example is not configured\r\n");
	say(&c, "RCPT TO:<bob@example.test>\r\nDATA\r\n",
	    "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
	c_send(&c, "hi bob\r\n.\r\n");
	char *got = c_take(&c);
	mask_ids(got, id, sizeof(id));
	assert_string_equal(got, "250 2.0.0 Ok: queued as ID\r\n");
	free(got);
	char *m[2];
	assert_int_equal(take_mail("bob@example.test", m, 2), 1);
	char want[512];
	snprintf(want, sizeof(want),
	         "Return-Path: <alice@example.test>\r\nReceived: from c ([203.0.113.10]:51234)\r\n"
	         "\tvia proxy [198.51.100.7]:40000\r\n\t(using TLSv1.3 TLS_AES_256_GCM_SHA384)\r\n"
	         "\tby " HOST " (originmail) with ESMTPSA id %s\r\n\tfor <bob@example.test>; ",
	         id);
	assert_memory_equal(m[0], want, strlen(want));
	assert_null(strstr(m[0], "authenticated")); /* as Postfix: the user is not in the header */
	free_mail(m, 2);
	c_close(&c);

	/* An authorization identity other than the authentication identity is refused. */
	c_open(&c, &lc_sub_plain, &origin_proxied, NULL);
	c_drain(&c, "EHLO c\r\n");
	/* "bob@example.test\0alice@example.test\0secret" */
	say(&c, "AUTH PLAIN Ym9iQGV4YW1wbGUudGVzdABhbGljZUBleGFtcGxlLnRlc3QAc2VjcmV0\r\n",
	    "535 5.7.8 Authentication credentials invalid\r\n");
	/* the same one as both is fine: "alice@example.test\0alice@example.test\0secret" */
	say(&c, "AUTH PLAIN YWxpY2VAZXhhbXBsZS50ZXN0AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n",
	    "235 2.7.0 Authentication successful\r\n");
	c_close(&c);
}

static void test_smtputf8_and_relay_host(void **state)
{
	struct client c;
	struct config relay = cfg;
	(void)state;

	/* relay_host set but no queue_dir (config_load always sets one): still refused. Relaying itself is
	 * tested in test_relay_session.c. */
	relay.relay_host = "smarthost.example:587";
	c_open(&c, &lc_sub_plain, &origin_proxied, NULL);
	c_use_config(&c, &relay);
	c_drain(&c, "EHLO c\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n");
	assert_string_equal(smtp_session_auth_user(c.s), "alice@example.test");
	say(&c, "MAIL FROM:<alice@example.test> SMTPUTF8\r\n", "250 2.1.0 Ok\r\n");
	say(&c, "RCPT TO:<j\xc3\xb6rg@other.example>\r\n",
	    "554 5.7.1 <j\xc3\xb6rg@other.example>: Relaying to other.example is not configured\r\n");
	say(&c, "RCPT TO:<\xc3\xa9lise@example.test>\r\n",
	    "550 5.1.1 <\xc3\xa9lise@example.test>: User unknown\r\n");
	say(&c, "RCPT TO:<bob@example.test>\r\nDATA\r\n",
	    "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
	c_send(&c, "Subject: caf\xc3\xa9\r\n\r\n\xc3\xa4\r\n.\r\n");
	free(c_take(&c));
	char *m[2];
	assert_int_equal(take_mail("bob@example.test", m, 2), 1);
	assert_non_null(strstr(m[0], " with UTF8SMTPA id "));
	assert_string_equal(body_of(m[0]), "Subject: caf\xc3\xa9\r\n\r\n\xc3\xa4\r\n");
	free_mail(m, 2);
	c_close(&c);
}

static void test_auth_login(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_sub_plain, &origin_proxied, NULL);
	c_drain(&c, "EHLO c\r\n");
	/* cancelled at the user name, then at the password */
	say(&c, "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n");
	say(&c, "*\r\n", "501 5.7.0 Authentication aborted\r\n");
	say(&c, "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n");
	say(&c, "Ym9iQGV4YW1wbGUudGVzdA==\r\n", "334 UGFzc3dvcmQ6\r\n");
	say(&c, "*\r\n", "501 5.7.0 Authentication aborted\r\n");
	/* wrong password */
	say(&c, "AUTH LOGIN\r\nYm9iQGV4YW1wbGUudGVzdA==\r\nd3Jvbmc=\r\n",
	    "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n535 5.7.8 Authentication credentials invalid\r\n");
	/* bad base64 ends the exchange */
	say(&c, "AUTH LOGIN\r\n%%%\r\nNOOP\r\n",
	    "334 VXNlcm5hbWU6\r\n501 5.5.2 Cannot decode response\r\n250 2.0.0 Ok\r\n");
	/* the initial-response form, and success: bob@example.test / hunter2 */
	say(&c, "AUTH LOGIN Ym9iQGV4YW1wbGUudGVzdA==\r\n", "334 UGFzc3dvcmQ6\r\n");
	say(&c, "aHVudGVyMg==\r\n", "235 2.7.0 Authentication successful\r\n");
	assert_string_equal(smtp_session_auth_user(c.s), "bob@example.test");
	say(&c, "AUTH LOGIN\r\n", "503 5.5.1 Error: already authenticated\r\n");
	say(&c, "MAIL FROM:<bob@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n", TX_REPLIES(""));
	c_send(&c, "from bob\r\n.\r\n");
	free(c_take(&c));
	char *m[2];
	assert_int_equal(take_mail("alice@example.test", m, 2), 1);
	assert_non_null(strstr(m[0], " with ESMTPA id "));
	free_mail(m, 2);
	c_close(&c);
}

static void test_auth_three_failures_close(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_sub_plain, &origin_proxied, NULL);
	c_drain(&c, "EHLO c\r\n");
	say(&c, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==\r\n",
	    "535 5.7.8 Authentication credentials invalid\r\n");
	say(&c, "AUTH LOGIN bm9ib2R5QGV4YW1wbGUudGVzdA==\r\nd3Jvbmc=\r\n",
	    "334 UGFzc3dvcmQ6\r\n535 5.7.8 Authentication credentials invalid\r\n");
	assert_false(c.closed);
	say(&c, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==\r\nNOOP\r\n",
	    "535 5.7.8 Authentication credentials invalid\r\n421 4.7.0 " HOST
	    " Error: too many failures\r\n");
	assert_true(c.closed);
	assert_int_equal(c.act, SMTP_CLOSE);
	c_close(&c);
}

static void test_auth_where_not_offered(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_sub, &origin_proxied, NULL); /* submission, STARTTLS not yet done */
	c_drain(&c, "EHLO c\r\n");
	say(&c, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
	    "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
	say(&c, "MAIL FROM:<alice@example.test>\r\n", "530 5.7.0 Authentication required\r\n");
	c_close(&c);
	c_open(&c, &lc_smtp_tls, &origin_proxied, "TLSv1.3 X");
	c_drain(&c, "EHLO c\r\n");
	say(&c, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", "503 5.5.1 Error: authentication not enabled\r\n");
	c_close(&c);
}

/* ---- STARTTLS ---- */

static void test_starttls(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_sub, &origin_proxied, NULL);
	say(&c, "STARTTLS now\r\n", "501 5.5.4 Syntax: STARTTLS\r\n");
	/* Whatever is pipelined after STARTTLS is dropped (RFC 3207 5, CVE-2011-0411). */
	say(&c, "EHLO c\r\nSTARTTLS\r\nMAIL FROM:<x@evil.example>\r\nRCPT TO:<alice@example.test>\r\n",
	    "250-" HOST " Hello c [203.0.113.10]\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 STARTTLS\r\n220 2.0.0 Ready to start TLS\r\n");
	assert_true(c.starttls);
	assert_int_equal(c.act, SMTP_STARTTLS);
	assert_int_equal(c.in.len, 0);
	smtp_session_tls_started(c.s, "TLSv1.3 TLS_AES_128_GCM_SHA256");
	/* Everything from before is forgotten: EHLO again. */
	say(&c, "MAIL FROM:<a@b.example>\r\n", "503 5.5.1 Error: send HELO/EHLO first\r\n");
	say(&c, "EHLO c\r\n",
	    "250-" HOST " Hello c [203.0.113.10]\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN\r\n");
	say(&c, "STARTTLS\r\n", "503 5.5.1 Error: TLS already active\r\n");
	say(&c, "AUTH PLAIN AGRhdmVAZXhhbXBsZS50ZXN0AGQ=\r\n", "235 2.7.0 Authentication successful\r\n");
	say(&c, "MAIL FROM:<dave@example.test>\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n", TX_REPLIES(""));
	c_send(&c, "tls\r\n.\r\n");
	free(c_take(&c));
	char *m[2];
	assert_int_equal(take_mail("carol@example.org", m, 2), 1);
	assert_non_null(strstr(m[0], "\t(using TLSv1.3 TLS_AES_128_GCM_SHA256)\r\n\tby " HOST
	                             " (originmail) with ESMTPSA id "));
	free_mail(m, 2);
	c_close(&c);

	/* An authentication before STARTTLS (plaintext allowed) is forgotten too. */
	struct listener_conf lc = lc_sub_plain;
	lc.tls = TLS_STARTTLS;
	c_open(&c, &lc, &origin_proxied, NULL);
	c_drain(&c, "EHLO c\r\nAUTH PLAIN AGRhdmVAZXhhbXBsZS50ZXN0AGQ=\r\n");
	assert_non_null(smtp_session_auth_user(c.s));
	say(&c, "STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n");
	smtp_session_tls_started(c.s, "TLSv1.2 ECDHE");
	assert_null(smtp_session_auth_user(c.s));
	c_close(&c);

	/* Not during a transaction; input between STARTTLS and the handshake is ignored. */
	c_open(&c, &lc_smtp_tls, &origin_proxied, NULL);
	c_drain(&c, "EHLO c\r\n");
	say(&c, "MAIL FROM:<a@b.example>\r\nSTARTTLS\r\n",
	    "250 2.1.0 Ok\r\n503 5.5.1 Error: MAIL transaction in progress\r\n");
	say(&c, "RSET\r\nSTARTTLS\r\n", "250 2.0.0 Ok\r\n220 2.0.0 Ready to start TLS\r\n");
	say(&c, "NOOP\r\n", "");
	smtp_session_tls_started(c.s, "TLSv1.3\r\nInjected: x");
	say(&c, "NOOP\r\n", "250 2.0.0 Ok\r\n");
	say(&c, "EHLO c\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n",
	    "250-" HOST " Hello c [203.0.113.10]\r\n" EHLO_SMTP TX_REPLIES(""));
	c_drain(&c, "x\r\n.\r\n");
	assert_int_equal(take_mail("alice@example.test", m, 2), 1);
	assert_non_null(
	        strstr(m[0], "\t(using TLSv1.3??Injected: x)\r\n\tby " HOST " (originmail) with ESMTPS id "));
	free_mail(m, 2);
	c_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_submission_requires_auth),
	        cmocka_unit_test(test_auth_plain),
	        cmocka_unit_test(test_smtputf8_and_relay_host),
	        cmocka_unit_test(test_auth_login),
	        cmocka_unit_test(test_auth_three_failures_close),
	        cmocka_unit_test(test_auth_where_not_offered),
	        cmocka_unit_test(test_starttls),
	};
	return cmocka_run_group_tests_name("smtp_auth", tests, group_setup, group_teardown);
}
