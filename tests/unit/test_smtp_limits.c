/* The SMTP session's limits (message size, line length, bare CR/LF, errors), the end of a session
 * (free mid-DATA, timeout, shutdown), delivery failure, progress and memory; the environment is
 * smtp_test.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <malloc.h>

#include "smtp_test.h"

/* ---- limits ---- */

static void test_size_limits(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	say(&c, "EHLO c\r\n", "250-" HOST " Hello c [203.0.113.10]\r\n" EHLO_SMTP);
	say(&c, "MAIL FROM:<s@remote.example> SIZE=10001\r\n",
	    "552 5.3.4 Message size exceeds fixed limit\r\n");
	say(&c, "MAIL FROM:<s@remote.example> SIZE=10000\r\n", "250 2.1.0 Ok\r\n");
	say(&c, "RCPT TO:<alice@example.test>\r\nDATA\r\n",
	    "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");

	/* Exactly the limit, in one line far longer than max_line, in pieces. */
	char *big = malloc(MAX_SIZE + 100);
	assert_non_null(big);
	memset(big, 'a', MAX_SIZE - 2);
	memcpy(big + MAX_SIZE - 2, "\r\n", 2);
	for (size_t off = 0; off < MAX_SIZE; off += 777)
		c_send_n(&c, big + off, off + 777 < MAX_SIZE ? 777 : MAX_SIZE - off);
	c_expect(&c, "");
	c_send(&c, ".\r\n");
	char *got = c_take(&c);
	assert_non_null(strstr(got, "250 2.0.0 Ok: queued as "));
	free(got);
	char *m[2];
	assert_int_equal(take_mail("alice@example.test", m, 2), 1);
	assert_int_equal(strlen(body_of(m[0])), MAX_SIZE);
	assert_memory_equal(body_of(m[0]), big, MAX_SIZE);
	free_mail(m, 2);

	/* One byte more: read to the end, then refused; nothing is left anywhere. */
	say(&c, "MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n", TX_REPLIES(""));
	big[0] = '.';
	c_send_n(&c, big, 1);        /* a stuffing dot, removed... */
	c_send_n(&c, big, MAX_SIZE); /* ...so this is exactly the limit, and the next line takes it over */
	c_send(&c, "more\r\nand more\r\n");
	c_expect(&c, "");
	assert_true(smtp_session_in_data(c.s));
	c_send(&c, ".\r\nNOOP\r\n");
	c_expect(&c, "552 5.3.4 Message size exceeds fixed limit\r\n250 2.0.0 Ok\r\n");
	expect_no_mail("alice@example.test");
	free(big);
	c_close(&c);
}

static void test_line_too_long(void **state)
{
	struct client c;
	char line[2100];
	(void)state;

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	/* 1000 octets with the CRLF is the limit (RFC 5321 4.5.3.1.6). */
	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', 993);
	memcpy(line + 998, "\r\n", 3);
	say(&c, line, "250 2.0.0 Ok\r\n");
	memset(line + 5, 'x', 994);
	memcpy(line + 999, "\r\n", 3);
	say(&c, line, "500 5.5.2 Error: line too long\r\n");
	say(&c, "NOOP\r\n", "250 2.0.0 Ok\r\n");

	/* A long line without its end yet: answered once 1000 octets are there, the rest dropped. */
	memset(line, 'y', 1500);
	c_send_n(&c, line, 999);
	c_expect(&c, "");
	assert_int_equal(c.in.len, 999);
	c_send_n(&c, line, 1);
	c_expect(&c, "500 5.5.2 Error: line too long\r\n");
	assert_int_equal(c.in.len, 0);
	c_send_n(&c, line, 1500);
	c_expect(&c, "");
	say(&c, "yyy\r\nNOOP\r\n", "250 2.0.0 Ok\r\n");

	/* A bare LF ends nothing well: the line is refused. */
	say(&c, "NOOP\nNOOP\r\n", "500 5.5.2 Error: bare <LF> received\r\n250 2.0.0 Ok\r\n");
	say(&c, "NO\rOP\r\n", "500 5.5.2 Error: invalid character in command\r\n");
	c_send_n(&c, "NOOP\0x\r\n", 8);
	c_expect(&c, "500 5.5.2 Error: invalid character in command\r\n");
	c_close(&c);
}

static void test_bare_lf_in_data_is_rejected(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	say(&c, "EHLO c\r\n", "250-" HOST " Hello c [203.0.113.10]\r\n" EHLO_SMTP);
	say(&c, "MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n", TX_REPLIES(""));
	c_send(&c, "line1\nline2\r\n.\r\n");
	c_expect(&c, "550 5.6.0 Message rejected: bare CR or LF in message data\r\n");
	expect_no_mail("alice@example.test");

	/* Smuggling: "\n.\n" and "\r\n.\n" end nothing here, so the "commands" after them are message data,
	 * and the whole is refused once: no second message gets in. */
	say(&c, "MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n", TX_REPLIES(""));
	c_send(&c, "Subject: one\r\n\r\nhello\n.\nMAIL FROM:<evil@remote.example>\r\nRCPT "
	           "TO:<bob@example.test>\r\n"
	           "DATA\r\nSubject: smuggled\r\n\r\nhi\r\n.\nMAIL FROM:<e@r.example>\r\n.\r\n");
	c_expect(&c, "550 5.6.0 Message rejected: bare CR or LF in message data\r\n");
	assert_false(smtp_session_in_data(c.s));
	expect_no_mail("alice@example.test");
	expect_no_mail("bob@example.test");

	/* A bare CR too, and at a line start, and split across calls. */
	say(&c, "MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n", TX_REPLIES(""));
	c_send(&c, "a\r");
	c_send(&c, "b\r\n.\r\n");
	c_expect(&c, "550 5.6.0 Message rejected: bare CR or LF in message data\r\n");
	say(&c, "MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n", TX_REPLIES(""));
	c_send(&c, "\rx\r\n.\r\n");
	c_expect(&c, "550 5.6.0 Message rejected: bare CR or LF in message data\r\n");
	expect_no_mail("alice@example.test");
	assert_non_null(strstr(smtp_session_last_event(c.s), "bare CR or LF"));

	/* And a clean message still goes through afterwards. */
	say(&c, "MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n", TX_REPLIES(""));
	c_send(&c, "ok\r\n.\r\n");
	free(c_take(&c));
	expect_one_message("alice@example.test", "ok\r\n");
	c_close(&c);
}

/* ---- the end of a session ---- */

static void test_free_mid_data_leaves_nothing(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	say(&c, "EHLO c\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<dave@example.test>\r\nDATA\r\n",
	    "250-" HOST " Hello c [203.0.113.10]\r\n" EHLO_SMTP TX_REPLIES(""));
	c_send(&c, "Subject: cut\r\n\r\nhalf a mess");
	assert_true(smtp_session_in_data(c.s));
	assert_int_equal(count_dir("dave@example.test", "tmp"), 1);
	c_close(&c);
	expect_no_mail("dave@example.test");
}

static void test_timeout_and_shutdown(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	assert_true(smtp_session_idle(c.s));
	assert_false(smtp_session_in_data(c.s));
	smtp_session_timeout(c.s, &c.out);
	c_expect(&c, "421 4.4.2 " HOST " Error: timeout exceeded\r\n");
	say(&c, "NOOP\r\n", "");
	assert_int_equal(c.act, SMTP_CLOSE);
	c_close(&c);

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	say(&c,
	    "EHLO c\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<dave@example.test>\r\nDATA\r\npartial\r\n",
	    "250-" HOST " Hello c [203.0.113.10]\r\n" EHLO_SMTP TX_REPLIES(""));
	smtp_session_shutdown(c.s, &c.out);
	c_expect(&c, "421 4.3.2 " HOST " Service shutting down\r\n");
	expect_no_mail("dave@example.test");
	c_close(&c);
}

static void test_too_many_errors(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	for (int i = 0; i < 19; i++)
		say(&c, "GET / HTTP/1.0\r\n", "500 5.5.2 Error: command not recognized\r\n");
	say(&c, "GET / HTTP/1.0\r\nNOOP\r\n",
	    "500 5.5.2 Error: command not recognized\r\n421 4.7.0 " HOST " Error: too many errors\r\n");
	assert_true(c.closed);
	c_close(&c);
}

static void test_delivery_failure(void **state)
{
	struct client c;
	struct config bad = cfg;
	char root[400];
	(void)state;

	/* A mail_root under a regular file: Maildirs cannot be made. */
	snprintf(root, sizeof(root), "%s/mailroot-file", tmpdir);
	FILE *f = fopen(root, "w");
	assert_non_null(f);
	fclose(f);
	bad.mail_root = root;
	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	c_use_config(&c, &bad);
	say(&c, "HELO c\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nNOOP\r\n",
	    "250 " HOST " Hello c [203.0.113.10]\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "451 4.3.0 Local delivery failed\r\n250 2.0.0 Ok\r\n");
	assert_true(strncmp(smtp_session_last_event(c.s), "delivery failed: ", 17) == 0);
	assert_true(smtp_session_idle(c.s));
	c_close(&c);
	unlink(root);
}

/* The net layer's clock (smtp_session_progress): a complete line counts, bytes of an unfinished one do
 * not, so a peer trickling bytes never restarts command_timeout; in DATA a line, or 8 KiB of a longer
 * one, counts, so data_timeout bounds each line and a slowloris body is cut. */
static void test_progress(void **state)
{
	struct client c;
	char big[8192]; /* SMTP_PROGRESS_BLOCK (smtp_internal.h) */
	(void)state;

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	unsigned long p = smtp_session_progress(c.s);
	c_drain(&c, "EHL");
	c_drain(&c, "O c.exa");
	assert_int_equal(smtp_session_progress(c.s), p);
	c_drain(&c, "mple\r\n");
	assert_int_equal(smtp_session_progress(c.s), p + 1);
	c_drain(&c, "MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
	assert_int_equal(smtp_session_progress(c.s), p + 4);
	assert_true(smtp_session_in_data(c.s));
	p = smtp_session_progress(c.s);
	for (int i = 0; i < 200; i++)
		c_drain(&c, "x");
	assert_int_equal(smtp_session_progress(c.s), p); /* 200 bytes, no line: no progress */
	c_drain(&c, "\r\n");
	assert_int_equal(smtp_session_progress(c.s), p + 1);
	memset(big, 'y', sizeof(big));
	c_send_n(&c, big, sizeof(big)); /* a long line: its 8 KiB count once */
	free(c_take(&c));
	assert_int_equal(smtp_session_progress(c.s), p + 2);
	c_send(&c, "\r\n.\r\n");
	char *r = c_take(&c);
	assert_true(strncmp(r, "250 2.0.0 Ok: queued as ", 24) == 0);
	free(r);
	assert_true(smtp_session_progress(c.s) > p + 2);
	assert_false(smtp_session_in_data(c.s));
	c_close(&c);
}

static void test_idle_memory(void **state)
{
	struct client c[16];
	(void)state;

	struct mallinfo2 before = mallinfo2();
	for (int i = 0; i < 16; i++) {
		c_open(&c[i], &lc_sub_tls, &origin_proxied, "TLSv1.3 TLS_AES_256_GCM_SHA384");
		c_send(&c[i], "EHLO client.example\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n");
		obuf_free(&c[i].out);
	}
	struct mallinfo2 after = mallinfo2();
	/* The clients' own input buffers are counted too; the sessions are well under 4 KiB each. */
	if (after.uordblks > before.uordblks)
		assert_true((after.uordblks - before.uordblks) / 16 < 4096);
	for (int i = 0; i < 16; i++)
		c_close(&c[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_size_limits),
	        cmocka_unit_test(test_line_too_long),
	        cmocka_unit_test(test_bare_lf_in_data_is_rejected),
	        cmocka_unit_test(test_free_mid_data_leaves_nothing),
	        cmocka_unit_test(test_timeout_and_shutdown),
	        cmocka_unit_test(test_too_many_errors),
	        cmocka_unit_test(test_delivery_failure),
	        cmocka_unit_test(test_idle_memory),
	        cmocka_unit_test(test_progress),
	};
	return cmocka_run_group_tests_name("smtp_limits", tests, group_setup, group_teardown);
}
