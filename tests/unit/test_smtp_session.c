/* The SMTP session end to end over bytes: greeting and EHLO, every command, the envelope and delivery to
 * real Maildirs. AUTH and STARTTLS are in test_smtp_auth.c, limits and the end of a session in
 * test_smtp_limits.c; the environment is smtp_test.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "smtp_test.h"

/* ---- greeting and EHLO: the original client's address ---- */

static void test_greeting_and_ehlo_show_the_origin(void **state)
{
	struct client c;
	(void)state;

	assert_string_equal(origin_proxied.client_ip, "203.0.113.10");
	assert_string_equal(origin_proxied.peer_ip, "198.51.100.7");
	assert_int_equal(origin_proxied.client_port, 51234);
	assert_int_equal(origin_proxied.peer_port, 40000);

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	smtp_session_greeting(c.s, &c.out);
	c_expect(&c, "220 " HOST " ESMTP originmail\r\n");
	say(&c, "EHLO client.example\r\n", "250-" HOST " Hello client.example [203.0.113.10]\r\n" EHLO_SMTP);
	say(&c, "HELO client.example\r\n", "250 " HOST " Hello client.example [203.0.113.10]\r\n");
	say(&c, "ehlo [192.0.2.1]\r\n", "250-" HOST " Hello [192.0.2.1] [203.0.113.10]\r\n" EHLO_SMTP);
	c_close(&c);

	/* STARTTLS only where configured and not yet active; AUTH only on submission, with TLS or
	 * allow_plaintext_auth. */
	c_open(&c, &lc_smtp_tls, &origin_proxied, NULL);
	say(&c, "EHLO c\r\n",
	    "250-" HOST " Hello c [203.0.113.10]\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 STARTTLS\r\n");
	c_close(&c);
	c_open(&c, &lc_sub, &origin_proxied, NULL);
	say(&c, "EHLO c\r\n",
	    "250-" HOST " Hello c [203.0.113.10]\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 STARTTLS\r\n");
	c_close(&c);
	c_open(&c, &lc_sub_tls, &origin_proxied, "TLSv1.3 TLS_AES_256_GCM_SHA384");
	say(&c, "EHLO c\r\n",
	    "250-" HOST " Hello c [203.0.113.10]\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN\r\n");
	c_close(&c);
	c_open(&c, &lc_sub_plain, &origin_proxied, NULL);
	say(&c, "EHLO c\r\n",
	    "250-" HOST " Hello c [203.0.113.10]\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN\r\n");
	c_close(&c);
}

static void test_ipv4_mapped_and_ipv6_origins(void **state)
{
	struct origin o;
	struct client c;
	(void)state;

	make_origin(&o, "::ffff:203.0.113.10", 1025, "::ffff:198.51.100.7", 2049, true);
	assert_string_equal(o.client_ip, "203.0.113.10");
	assert_string_equal(o.peer_ip, "198.51.100.7");
	assert_int_equal(o.client_port, 1025);
	assert_int_equal(o.peer_port, 2049);
	c_open(&c, &lc_smtp, &o, NULL);
	say(&c, "EHLO client.example\r\n", "250-" HOST " Hello client.example [203.0.113.10]\r\n" EHLO_SMTP);
	c_close(&c);

	make_origin(&o, "2001:db8::10", 1, "2001:db8::7", 2, true);
	assert_string_equal(o.client_ip, "2001:db8::10");
	c_open(&c, &lc_smtp, &o, NULL);
	say(&c, "HELO x\r\n", "250 " HOST " Hello x [2001:db8::10]\r\n");
	c_close(&c);

	memset(&o, 0, sizeof(o));
	origin_update_text(&o);
	assert_string_equal(o.client_ip, "unknown");
	assert_int_equal(o.client_port, 0);

	/* A UNIX path from a PROXY v2 header is bytes: nothing in it may break a reply or header line. */
	memset(&o, 0, sizeof(o));
	o.client.un.sun_family = AF_UNIX;
	memcpy(o.client.un.sun_path, "/run/a\r\nRCPT b", 15);
	o.peer = o.client;
	origin_update_text(&o);
	assert_string_equal(o.client_ip, "/run/a??RCPT?b");
	assert_string_equal(o.peer_ip, "/run/a??RCPT?b");
}

/* ---- every command ---- */

static void test_commands(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	say(&c, "NOOP\r\n", "250 2.0.0 Ok\r\n");
	say(&c, "noop with an argument\r\n", "250 2.0.0 Ok\r\n");
	say(&c, "RSET\r\n", "250 2.0.0 Ok\r\n");
	say(&c, "RSET x\r\n", "501 5.5.4 Syntax: RSET\r\n");
	say(&c, "HELP\r\n", "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\r\n");
	say(&c, "VRFY alice\r\n", "252 2.5.2 Cannot VRFY user\r\n");
	say(&c, "VRFY\r\n", "501 5.5.4 Syntax: VRFY address\r\n");
	say(&c, "EXPN staff\r\n", "502 5.5.1 EXPN disabled\r\n");
	say(&c, "FOO\r\n", "500 5.5.2 Error: command not recognized\r\n");
	say(&c, "BDAT 10 LAST\r\n", "500 5.5.2 Error: command not recognized\r\n");
	say(&c, "STARTTLS\r\n", "502 5.5.1 Error: command not implemented\r\n");
	say(&c, "AUTH PLAIN\r\n", "503 5.5.1 Error: authentication not enabled\r\n");
	say(&c, "MAIL FROM:<a@b.example>\r\n", "503 5.5.1 Error: send HELO/EHLO first\r\n");
	say(&c, "RCPT TO:<alice@example.test>\r\n", "503 5.5.1 Error: need MAIL command\r\n");
	say(&c, "DATA\r\n", "503 5.5.1 Error: need MAIL command\r\n");
	say(&c, "EHLO\r\n", "501 5.5.4 Syntax: EHLO hostname\r\n");
	say(&c, "HELO bad<name>\r\n", "501 5.5.4 Syntax: HELO hostname\r\n");
	say(&c, "EHLO two words\r\n", "501 5.5.4 Syntax: EHLO hostname\r\n");
	say(&c, "Ehlo client.example\r\n", "250-" HOST " Hello client.example [203.0.113.10]\r\n" EHLO_SMTP);
	say(&c, "DATA\r\n", "503 5.5.1 Error: need MAIL command\r\n");
	say(&c, "mail from:<a@b.example>\r\n", "250 2.1.0 Ok\r\n");
	say(&c, "MAIL FROM:<a@b.example>\r\n", "503 5.5.1 Error: nested MAIL command\r\n");
	say(&c, "DATA\r\n", "554 5.5.1 Error: no valid recipients\r\n");
	say(&c, "DATA now\r\n", "501 5.5.4 Syntax: DATA\r\n");
	say(&c, "RSET\r\n", "250 2.0.0 Ok\r\n");
	assert_true(smtp_session_idle(c.s));
	say(&c, "MAIL FROM:<a@b.example>\r\n", "250 2.1.0 Ok\r\n");
	assert_false(smtp_session_idle(c.s));
	/* EHLO resets the transaction too. */
	say(&c, "EHLO again.example\r\n", "250-" HOST " Hello again.example [203.0.113.10]\r\n" EHLO_SMTP);
	say(&c, "RCPT TO:<alice@example.test>\r\n", "503 5.5.1 Error: need MAIL command\r\n");
	assert_null(smtp_session_auth_user(c.s));
	assert_false(c.closed);
	say(&c, "QUIT\r\nNOOP\r\n", "221 2.0.0 Bye\r\n");
	assert_true(c.closed);
	assert_int_equal(c.in.len, 0);
	/* After QUIT everything is ignored. */
	say(&c, "NOOP\r\n", "");
	assert_int_equal(c.act, SMTP_CLOSE);
	c_close(&c);
}

static void test_mail_rcpt_syntax(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	say(&c, "EHLO c\r\n", "250-" HOST " Hello c [203.0.113.10]\r\n" EHLO_SMTP);
	say(&c, "MAIL FROM:a@b.example\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
	say(&c, "MAIL <a@b.example>\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
	say(&c, "MAIL FROM:<a@b..example>\r\n", "501 5.1.7 Bad sender address syntax\r\n");
	say(&c, "MAIL FROM:<a@b.example> FOO=1\r\n", "555 5.5.4 Unsupported option: FOO=1\r\n");
	say(&c, "MAIL FROM:<a@b.example> SIZE=x\r\n", "501 5.5.4 Bad parameter: SIZE=x\r\n");
	say(&c, "MAIL FROM:<j\xc3\xb6rg@b.example>\r\n",
	    "553 5.6.7 Must declare SMTPUTF8 to send a UTF-8 address\r\n");
	say(&c, "MAIL FROM:<j\xc3\xb6rg@b.example> SMTPUTF8 BODY=8BITMIME\r\n", "250 2.1.0 Ok\r\n");
	say(&c, "RCPT TO:alice@example.test\r\n", "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
	say(&c, "RCPT TO:<alice@@example.test>\r\n", "501 5.1.3 Bad recipient address syntax\r\n");
	say(&c, "RCPT TO:<alice@example.test> NOTIFY=NEVER\r\n",
	    "555 5.5.4 Unsupported option: NOTIFY=NEVER\r\n");
	say(&c, "RCPT TO:<@relay.example:alice@example.test>\r\n", "250 2.1.5 Ok\r\n");
	say(&c, "RCPT TO:<Postmaster>\r\n", "250 2.1.5 Ok\r\n");
	c_close(&c);

	/* HELO, not EHLO: no parameters. */
	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	say(&c, "HELO c\r\n", "250 " HOST " Hello c [203.0.113.10]\r\n");
	say(&c, "MAIL FROM:<a@b.example> SIZE=10\r\n", "555 5.5.4 Unsupported option: SIZE=10\r\n");
	say(&c, "MAIL FROM:<a@b.example>\r\n", "250 2.1.0 Ok\r\n");
	c_close(&c);
}

/* ---- delivery ---- */

static void check_received(const char *msg, const char *id, const char *proto, const char *for_rcpt,
                           bool proxied, const char *tls)
{
	char want[1024];
	int n = snprintf(want, sizeof(want),
	                 "Return-Path: <sender@remote.example>\r\n"
	                 "Received: from client.example (%s)\r\n%s%s%s%s"
	                 "\tby " HOST " (originmail) with %s id %s",
	                 proxied ? "[203.0.113.10]:51234" : "[192.0.2.99]:40001",
	                 proxied ? "\tvia proxy [198.51.100.7]:40000\r\n" : "", tls ? "\t(using " : "",
	                 tls ? tls : "", tls ? ")\r\n" : "", proto, id);
	assert_true(n > 0 && (size_t)n < sizeof(want));
	if (strncmp(msg, want, (size_t)n) != 0)
		print_message("message:\n%s\nwant it to start with:\n%s\n", msg, want);
	assert_memory_equal(msg, want, (size_t)n);
	const char *p = msg + n;
	if (for_rcpt) {
		snprintf(want, sizeof(want), "\r\n\tfor <%s>; ", for_rcpt);
		assert_memory_equal(p, want, strlen(want));
		p += strlen(want);
	} else {
		assert_memory_equal(p, ";\r\n\t", 4);
		p += 4;
	}
	/* An RFC 5322 date: "Mon, 24 Nov 2025 13:20:00 +0000" and the end of the header. */
	assert_int_equal(strlen(p) > 31, 1);
	assert_true(p[3] == ',' && p[4] == ' ' && p[7] == ' ' && p[11] == ' ' && p[16] == ' ');
	assert_true(p[19] == ':' && p[22] == ':' && p[25] == ' ' && (p[26] == '+' || p[26] == '-'));
	assert_memory_equal(p + 31, "\r\n", 2);
}

static void test_pipelined_delivery_to_two_recipients(void **state)
{
	struct client c;
	char id[64] = "";
	(void)state;

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	c_send(&c, "EHLO client.example\r\nMAIL FROM:<sender@remote.example> BODY=8BITMIME SIZE=100\r\n"
	           "RCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\nRCPT "
	           "TO:<bob@EXAMPLE.test>\r\n"
	           "RCPT TO:<alice@example.test>\r\nDATA\r\nSubject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n");
	char *got = c_take(&c);
	mask_ids(got, id, sizeof(id));
	assert_string_equal(
	        got, "250-" HOST " Hello client.example [203.0.113.10]\r\n" EHLO_SMTP
	             "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nobody@example.test>: User unknown\r\n"
	             "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	             "250 2.0.0 Ok: queued as ID\r\n221 2.0.0 Bye\r\n");
	free(got);
	assert_true(c.closed);
	assert_int_equal(strlen(id), 19);
	c_close(&c);

	char *a[2], *b[2];
	assert_int_equal(take_mail("alice@example.test", a, 2), 1);
	assert_int_equal(take_mail("bob@example.test", b, 2), 1);
	assert_string_equal(a[0], b[0]);
	check_received(a[0], id, "ESMTP", NULL, true, NULL);
	assert_string_equal(body_of(a[0]), "Subject: hi\r\n\r\nHello\r\n");
	free_mail(a, 2);
	free_mail(b, 2);
	expect_no_mail("alice@example.test");
	expect_no_mail("bob@example.test");
}

static void test_single_recipient_direct(void **state)
{
	struct client c;
	char id[64] = "";
	(void)state;

	c_open(&c, &lc_smtp, &origin_direct, NULL);
	say(&c, "HELO client.example\r\n", "250 " HOST " Hello client.example [192.0.2.99]\r\n");
	say(&c, "MAIL FROM:<sender@remote.example>\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n",
	    TX_REPLIES(""));
	assert_true(smtp_session_in_data(c.s));
	assert_false(smtp_session_idle(c.s));
	c_send(&c, "x\r\n.\r\n");
	char *got = c_take(&c);
	mask_ids(got, id, sizeof(id));
	assert_string_equal(got, "250 2.0.0 Ok: queued as ID\r\n");
	free(got);
	assert_false(smtp_session_in_data(c.s));
	assert_true(smtp_session_idle(c.s));
	char want_event[100];
	snprintf(want_event, sizeof(want_event), "queued as %s: 1 recipient, 3 bytes", id);
	assert_string_equal(smtp_session_last_event(c.s), want_event);
	c_close(&c);
	char *m[2];
	assert_int_equal(take_mail("carol@example.org", m, 2), 1);
	check_received(m[0], id, "SMTP", "carol@example.org", false, NULL);
	assert_string_equal(body_of(m[0]), "x\r\n");
	free_mail(m, 2);

	/* <postmaster> is ours, in the first domain; <> is a fine sender. */
	c_open(&c, &lc_smtp, &origin_direct, NULL);
	say(&c, "EHLO client.example\r\n", "250-" HOST " Hello client.example [192.0.2.99]\r\n" EHLO_SMTP);
	say(&c, "MAIL FROM:<>\r\nRCPT TO:<POSTMASTER>\r\nDATA\r\n", TX_REPLIES(""));
	c_send(&c, ".\r\n");
	free(c_take(&c));
	c_close(&c);
	assert_int_equal(take_mail("postmaster@example.test", m, 2), 1);
	assert_true(strncmp(m[0], "Return-Path: <>\r\n", 17) == 0);
	assert_non_null(strstr(m[0], "\tfor <postmaster@example.test>; "));
	assert_string_equal(body_of(m[0]), ""); /* an empty message */
	free_mail(m, 2);
}

static void test_dot_unstuffing(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	say(&c, "EHLO c\r\nMAIL FROM:<sender@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n",
	    "250-" HOST " Hello c [203.0.113.10]\r\n" EHLO_SMTP TX_REPLIES(""));
	c_send(&c, "..\r\n...\r\n.leading\r\n. space\r\nmid.dle.\r\n.\r.x\r\n\r\n.\r\n");
	char *got = c_take(&c);
	/* ".\r.x" is a dot-stuffed line with a bare CR: rejected, as any bare CR is */
	assert_string_equal(got, "550 5.6.0 Message rejected: bare CR or LF in message data\r\n");
	free(got);
	expect_no_mail("alice@example.test");

	say(&c, "MAIL FROM:<sender@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n",
	    TX_REPLIES(""));
	c_send(&c, "..\r\n...\r\n.leading\r\n. space\r\nmid.dle.\r\n\r\n..\r\n.\r\nNOOP\r\n");
	got = c_take(&c);
	mask_ids(got, NULL, 0);
	assert_string_equal(got, "250 2.0.0 Ok: queued as ID\r\n250 2.0.0 Ok\r\n");
	free(got);
	expect_one_message("alice@example.test", ".\r\n..\r\nleading\r\n space\r\nmid.dle.\r\n\r\n.\r\n");
	c_close(&c);
}

/* One conversation fed in pieces: every split gives the same replies and the same messages. */
static const char split_conv[] =
        "EHLO client.example\r\nMAIL FROM:<sender@remote.example>\r\nRCPT TO:<alice@example.test>\r\n"
        "RCPT TO:<bob@example.test>\r\nDATA\r\nSubject: split\r\n\r\n..dot\r\nline\r\n.\r\n"
        "MAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n";

static char *run_split(const size_t *cuts, size_t ncuts)
{
	struct client c;
	size_t at = 0, len = strlen(split_conv);

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		c_send_n(&c, split_conv + at, end - at);
		at = end;
	}
	assert_true(c.closed);
	char *got = c_take(&c);
	mask_ids(got, NULL, 0);
	c_close(&c);

	char *a[4], *b[4];
	assert_int_equal(take_mail("alice@example.test", a, 4), 2);
	assert_int_equal(take_mail("bob@example.test", b, 4), 1);
	/* Maildir names sort by time: the first message comes first. */
	const char *first = body_of(a[0]), *second = body_of(a[1]);
	if (strcmp(first, "Subject: split\r\n\r\n.dot\r\nline\r\n") != 0) {
		const char *t = first;
		first = second;
		second = t;
	}
	assert_string_equal(first, "Subject: split\r\n\r\n.dot\r\nline\r\n");
	assert_string_equal(second, "");
	assert_string_equal(body_of(b[0]), "Subject: split\r\n\r\n.dot\r\nline\r\n");
	free_mail(a, 4);
	free_mail(b, 4);
	return got;
}

static void test_every_split_gives_the_same_result(void **state)
{
	const char *want = "250-" HOST " Hello client.example [203.0.113.10]\r\n" EHLO_SMTP
	        TX_REPLIES("250 2.1.5 Ok\r\n") "250 2.0.0 Ok: queued as ID\r\n" TX_REPLIES(
	                "") "250 2.0.0 Ok: queued as ID\r\n"
	                    "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n";
	(void)state;

	size_t none[1] = {0};
	char *whole = run_split(none, 0);
	assert_string_equal(whole, want);

	size_t len = strlen(split_conv);
	for (size_t k = 1; k < len; k++) {
		char *got = run_split(&k, 1);
		if (strcmp(got, whole) != 0)
			print_message("split at %zu differs:\n%s\n", k, got);
		assert_string_equal(got, whole);
		free(got);
	}
	size_t *cuts = malloc(len * sizeof(*cuts));
	assert_non_null(cuts);
	for (size_t k = 0; k + 1 < len; k++)
		cuts[k] = k + 1;
	char *bytewise = run_split(cuts, len - 1);
	assert_string_equal(bytewise, whole);
	free(bytewise);
	free(cuts);
	free(whole);
}

static void test_recipients(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_smtp, &origin_proxied, NULL);
	say(&c, "EHLO c\r\nMAIL FROM:<s@remote.example>\r\n",
	    "250-" HOST " Hello c [203.0.113.10]\r\n" EHLO_SMTP "250 2.1.0 Ok\r\n");
	say(&c, "RCPT TO:<nobody@example.test>\r\n", "550 5.1.1 <nobody@example.test>: User unknown\r\n");
	say(&c, "RCPT TO:<Alice@example.test>\r\n", "550 5.1.1 <Alice@example.test>: User unknown\r\n");
	say(&c, "RCPT TO:<\"a@b\"@example.test>\r\n", "550 5.1.1 <\"a@b\"@example.test>: User unknown\r\n");
	say(&c, "RCPT TO:<\"../x\"@example.test>\r\n", "550 5.1.1 <\"../x\"@example.test>: User unknown\r\n");
	say(&c, "RCPT TO:<someone@other.example>\r\n",
	    "554 5.7.1 <someone@other.example>: Relay access denied\r\n");
	say(&c, "RCPT TO:<someone@[192.0.2.1]>\r\n",
	    "554 5.7.1 <someone@[192.0.2.1]>: Relay access denied\r\n");
	say(&c, "RCPT TO:<alice@EXAMPLE.TEST>\r\n", "250 2.1.5 Ok\r\n");
	say(&c, "RCPT TO:<alice@example.test>\r\n", "250 2.1.5 Ok\r\n"); /* once is enough */
	say(&c, "RCPT TO:<bob@example.test>\r\n", "250 2.1.5 Ok\r\n");
	say(&c, "RCPT TO:<carol@example.org>\r\n", "250 2.1.5 Ok\r\n");
	say(&c, "RCPT TO:<dave@example.test>\r\n", "452 4.5.3 Error: too many recipients\r\n");
	say(&c, "DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n");
	c_send(&c, "three\r\n.\r\n");
	free(c_take(&c));
	assert_non_null(strstr(smtp_session_last_event(c.s), ": 3 recipients, 7 bytes"));
	expect_one_message("alice@example.test", "three\r\n");
	expect_one_message("bob@example.test", "three\r\n");
	expect_one_message("carol@example.org", "three\r\n");
	expect_no_mail("dave@example.test");
	c_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_greeting_and_ehlo_show_the_origin),
	        cmocka_unit_test(test_ipv4_mapped_and_ipv6_origins),
	        cmocka_unit_test(test_commands),
	        cmocka_unit_test(test_mail_rcpt_syntax),
	        cmocka_unit_test(test_pipelined_delivery_to_two_recipients),
	        cmocka_unit_test(test_single_recipient_direct),
	        cmocka_unit_test(test_dot_unstuffing),
	        cmocka_unit_test(test_every_split_gives_the_same_result),
	        cmocka_unit_test(test_recipients),
	};
	return cmocka_run_group_tests_name("smtp_session", tests, group_setup, group_teardown);
}
