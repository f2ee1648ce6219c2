/* The IMAP session over bytes: greeting and capabilities, STARTTLS and LOGINDISABLED, LOGIN and
 * AUTHENTICATE PLAIN (with SASL-IR), literals ({n} with "+", {n+} without, the size limit), bad
 * input (unknown command, missing CRLF, overlong line, too many errors), states, LOGOUT, timeout. */
#include "imap_test.h"

static void test_greeting_and_starttls(void **state)
{
	struct tc c;
	(void)state;

	tc_open(&c, &T.lc_starttls, NULL);
	char *g = tc_take(&c);
	assert_true(strncmp(g, "* OK [CAPABILITY IMAP4rev1 ", 27) == 0);
	t_has(g, " STARTTLS LOGINDISABLED] mx.example.test originmail ready\r\n");
	t_lacks(g, "AUTH=PLAIN");
	free(g);
	tc_expect(&c, "a LOGIN alice@example.test secret", "a NO [PRIVACYREQUIRED]");
	tc_expect(&c, "b AUTHENTICATE PLAIN", "b NO [PRIVACYREQUIRED]");
	tc_expect(&c, "c SELECT INBOX", "c BAD Log in first");
	/* STARTTLS: what follows in the same packet is dropped (no plaintext survives into TLS) */
	tc_send(&c, "d STARTTLS\r\ne LOGIN alice@example.test secret\r\n");
	char *r = tc_take(&c);
	assert_string_equal(r, "d OK Begin TLS negotiation now\r\n");
	free(r);
	assert_int_equal(c.act, IMAP_STARTTLS);
	tc_send(&c, "f NOOP\r\n");
	assert_int_equal(c.out.len, 0);
	assert_int_equal(c.act, IMAP_CONTINUE);
	imap_session_tls_started(c.s, "TLSv1.3 TLS_AES_256_GCM_SHA384");
	r = tc_cmd(&c, "g CAPABILITY");
	t_has(r, "AUTH=PLAIN");
	t_lacks(r, "STARTTLS");
	t_lacks(r, "LOGINDISABLED");
	free(r);
	tc_expect(&c, "h STARTTLS", "h BAD TLS is already active");
	tc_login(&c, "alice@example.test", "secret");
	tc_expect(&c, "i LOGIN alice@example.test secret", "i BAD Already logged in");
	r = tc_cmd(&c, "j LOGOUT");
	assert_string_equal(r, "* BYE Logging out\r\nj OK Logout completed\r\n");
	free(r);
	assert_int_equal(c.act, IMAP_CLOSE);
	tc_close(&c);

	/* implicit TLS: LOGIN at once; a plaintext listener without STARTTLS refuses it */
	tc_open(&c, &T.lc_tls, "TLSv1.3");
	g = tc_take(&c);
	t_has(g, "AUTH=PLAIN");
	t_lacks(g, "STARTTLS");
	free(g);
	tc_expect(&c, "a STARTTLS", "a BAD TLS is already active");
	tc_close(&c);
}

static void test_login(void **state)
{
	struct tc c;
	(void)state;

	tc_open(&c, &T.lc_plain, NULL);
	free(tc_take(&c));
	tc_expect(&c, "a LOGIN alice@example.test wrong",
	          "a NO [AUTHENTICATIONFAILED] Authentication failed");
	tc_expect(&c, "b LOGIN nobody@example.test secret", "b NO [AUTHENTICATIONFAILED]");
	tc_expect(&c, "c LOGIN alice@example.test", "c BAD");
	/* a quoted password with a space and an escaped quote; a literal user name */
	tc_send(&c, "d LOGIN {18}\r\n");
	char *r = tc_take(&c);
	assert_string_equal(r, "+ Ready for literal data\r\n");
	free(r);
	tc_send(&c, "alice@example.test \"secret\"\r\n");
	r = tc_take(&c);
	t_has(r, "d OK [CAPABILITY IMAP4rev1");
	t_has(r, "] Logged in\r\n");
	t_lacks(r, "AUTH=PLAIN");
	free(r);
	assert_string_equal(imap_session_last_event(c.s), "login alice@example.test");
	/* the first login made the special-use folders */
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/.Trash/cur", T.inbox);
	assert_int_equal(stat(p, &st), 0);
	tc_close(&c);

	/* three failures: BYE */
	tc_open(&c, &T.lc_plain, NULL);
	free(tc_take(&c));
	tc_expect(&c, "a LOGIN alice@example.test x", "a NO");
	tc_expect(&c, "b LOGIN alice@example.test y", "b NO");
	r = tc_cmd(&c, "c LOGIN alice@example.test z");
	assert_string_equal(r, "* BYE Too many authentication failures\r\n"
	                       "c NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
	free(r);
	assert_int_equal(c.act, IMAP_CLOSE);
	tc_close(&c);
}

static void test_authenticate_plain(void **state)
{
	struct tc c;
	(void)state;

	tc_open(&c, &T.lc_plain, NULL);
	free(tc_take(&c));
	/* "\0alice@example.test\0secret" */
	const char *good = "AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=";
	char line[200];
	tc_expect(&c, "a AUTHENTICATE CRAM-MD5", "a NO Unsupported authentication mechanism");
	tc_expect(&c, "b AUTHENTICATE PLAIN", "+ \r\n");
	tc_expect(&c, "*", "b BAD Authentication aborted");
	tc_expect(&c, "c AUTHENTICATE PLAIN", "+ ");
	tc_expect(&c, "!!notbase64", "c BAD Invalid base64 data");
	tc_expect(&c, "d AUTHENTICATE PLAIN", "+ ");
	/* "bob\0alice@example.test\0secret": acting as somebody else is refused */
	tc_expect(&c, "Ym9iAGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=", "d NO [AUTHENTICATIONFAILED]");
	tc_expect(&c, "e AUTHENTICATE PLAIN", "+ ");
	tc_expect(&c, good, "e OK [CAPABILITY");
	tc_close(&c);

	tc_open(&c, &T.lc_plain, NULL);
	snprintf(line, sizeof(line), "a AUTHENTICATE PLAIN %s", good); /* SASL-IR */
	tc_expect(&c, line, "a OK [CAPABILITY");
	tc_expect(&c, "b NAMESPACE", "* NAMESPACE ((\"\" \".\")) NIL NIL\r\nb OK");
	tc_expect(&c, "c ID (\"name\" \"test\" \"version\" NIL)", "* ID (\"name\" \"originmail\"");
	tc_expect(&c, "d ID NIL", "d OK");
	tc_expect(&c, "e ID (\"name\")", "e BAD");
	tc_expect(&c, "f ENABLE CONDSTORE", "* ENABLED\r\nf OK");
	tc_close(&c);
}

static void test_literals_and_limits(void **state)
{
	struct tc c;
	char line[200];
	(void)state;

	tc_open(&c, &T.lc_plain, NULL);
	tc_login(&c, "alice@example.test", "secret");
	/* LITERAL+: no continuation */
	tc_send(&c, "a CREATE {4+}\r\nWork\r\n");
	char *r = tc_take(&c);
	assert_string_equal(r, "a OK Create completed\r\n");
	free(r);
	/* a synchronizing literal over the limit: NO, no "+", the client sends nothing more */
	snprintf(line, sizeof(line), "b APPEND INBOX {%u}\r\n", T_MAX_SIZE + 1);
	tc_send(&c, line);
	r = tc_take(&c);
	assert_string_equal(r, "b NO [TOOBIG] Literal larger than 20000 octets\r\n");
	free(r);
	tc_expect(&c, "c NOOP", "c OK NOOP completed");
	/* a non-synchronizing one over the limit: NO, its octets and the rest of the command dropped */
	snprintf(line, sizeof(line), "d APPEND INBOX {%u+}\r\n", T_MAX_SIZE + 10);
	tc_send(&c, line);
	char *big = malloc(T_MAX_SIZE + 10);
	assert_non_null(big);
	memset(big, 'x', T_MAX_SIZE + 10);
	for (size_t off = 0; off < T_MAX_SIZE + 10; off += 4000)
		tc_send_n(&c, big + off, off + 4000 <= T_MAX_SIZE + 10 ? 4000 : T_MAX_SIZE + 10 - off);
	free(big);
	r = tc_cmd(&c, " more args");
	assert_string_equal(r, "d NO [TOOBIG] Literal larger than 20000 octets\r\n");
	free(r);
	tc_expect(&c, "e NOOP", "e OK");
	/* bad input: each gets its answer and the session goes on */
	tc_expect(&c, "f FROBNICATE", "f BAD Unknown command");
	tc_send(&c, "g NOOP\n");
	r = tc_take(&c);
	assert_string_equal(r, "g BAD Line must end with CRLF\r\n");
	free(r);
	tc_expect(&c, "h SELECT", "h BAD");
	tc_expect(&c, "h2 LIST \"\" {x}", "h2 BAD Invalid literal");
	tc_expect(&c, "+ NOOP", "* BAD Missing or invalid tag");
	tc_expect(&c, "i UID NOOP", "i BAD Unknown command");
	tc_expect(&c, "j SELECT ../../etc", "j NO Invalid mailbox name");
	tc_expect(&c, "k CREATE a/b", "k NO Invalid mailbox name");
	/* an overlong line: BAD, dropped through its LF */
	char *longline = malloc(70000);
	assert_non_null(longline);
	memset(longline, 'a', 70000);
	memcpy(longline, "l NOOP ", 7);
	tc_send_n(&c, longline, 70000);
	free(longline);
	r = tc_cmd(&c, "still the long line");
	assert_string_equal(r, "l BAD Command line too long\r\n");
	free(r);
	tc_expect(&c, "m NOOP", "m OK");
	/* byte by byte, the same answers */
	const char *cmd = "n LIST \"\" \"*\"\r\n";
	for (size_t i = 0; cmd[i]; i++)
		tc_send_n(&c, cmd + i, 1);
	r = tc_take(&c);
	t_has(r, "* LIST (\\HasNoChildren) \".\" \"Work\"\r\n");
	t_has(r, "n OK List completed");
	free(r);
	tc_close(&c);
}

static void test_too_many_errors(void **state)
{
	struct tc c;
	(void)state;

	tc_open(&c, &T.lc_plain, NULL);
	free(tc_take(&c));
	for (int i = 0; i < 19; i++)
		free(tc_cmd(&c, "x BOGUS"));
	assert_int_equal(c.act, IMAP_CONTINUE);
	char *r = tc_cmd(&c, "x BOGUS");
	t_has(r, "* BYE Too many invalid commands");
	free(r);
	assert_int_equal(c.act, IMAP_CLOSE);
	tc_send(&c, "y NOOP\r\n");
	assert_int_equal(c.out.len, 0);
	tc_close(&c);
}

static void test_timeout_shutdown_and_idle_state(void **state)
{
	struct tc c;
	(void)state;

	tc_open(&c, &T.lc_plain, NULL);
	free(tc_take(&c));
	assert_true(imap_session_idle(c.s));
	tc_send(&c, "a LOGIN {5}\r\n");
	assert_false(imap_session_idle(c.s));
	assert_true(imap_session_in_data(c.s));
	tc_send(&c, "ali");
	assert_true(imap_session_in_data(c.s));
	imap_session_timeout(c.s, &c.out);
	char *r = tc_take(&c);
	assert_string_equal(r, "+ Ready for literal data\r\n* BYE Autologout; idle for too long\r\n");
	free(r);
	tc_close(&c);

	tc_open(&c, &T.lc_plain, NULL);
	free(tc_take(&c));
	tc_login(&c, "alice@example.test", "secret");
	tc_expect(&c, "a SELECT INBOX", "a OK [READ-WRITE]");
	imap_session_shutdown(c.s, &c.out);
	r = tc_take(&c);
	assert_string_equal(r, "* BYE Server shutting down\r\n");
	free(r);
	/* poll outside IDLE: nothing to say, nothing to keep alive */
	assert_false(imap_session_poll(c.s, &c.out));
	tc_close(&c);
}

/* A FETCH larger than output_buffer is written in pieces, each after the client has read the one
 * before; a command sent behind it waits (its bytes are left to the caller) and is answered after the
 * FETCH's tagged reply; progress counts complete lines only. */
static void test_fetch_in_pieces(void **state)
{
	struct tc c;
	char body[600];
	(void)state;

	for (int i = 0; i < 5; i++) {
		snprintf(body, sizeof(body), "Subject: m%d\r\n\r\n%0500d\r\n", i, i);
		deliver(T.inbox, body);
	}
	T.cfg.output_buffer = 700; /* about one message per piece */
	tc_open(&c, &T.lc_plain, NULL);
	free(tc_take(&c));
	tc_login(&c, "alice@example.test", "secret");
	tc_expect(&c, "s SELECT INBOX", "s OK [READ-WRITE]");

	const char *cmds = "f FETCH 1:* BODY.PEEK[]\r\nn NOOP\r\n";
	unsigned long before = imap_session_progress(c.s);
	size_t used = imap_session_input(c.s, cmds, strlen(cmds), &c.out, &c.act);
	assert_int_equal(used, strlen("f FETCH 1:* BODY.PEEK[]\r\n")); /* NOOP waits */
	assert_int_equal(imap_session_progress(c.s), before + 1);
	assert_true(imap_session_busy(c.s));
	assert_false(imap_session_idle(c.s));
	int pieces = 1;
	char *all = tc_take(&c);
	assert_true(strlen(all) < 700 + 600);
	t_lacks(all, "f OK");
	while (imap_session_busy(c.s)) {
		imap_session_resume(c.s, &c.out);
		char *piece = tc_take(&c);
		assert_true(strlen(piece) > 0 && strlen(piece) < 700 + 600);
		char *more = realloc(all, strlen(all) + strlen(piece) + 1);
		assert_non_null(more);
		all = more;
		strcat(all, piece);
		free(piece);
		pieces++;
	}
	assert_true(pieces >= 3);
	for (int i = 1; i <= 5; i++) {
		char want[32];
		snprintf(want, sizeof(want), "* %d FETCH (BODY[] {", i);
		t_has(all, want);
	}
	t_has(all, "f OK Fetch completed\r\n");
	free(all);
	/* the NOOP left behind is passed again */
	tc_expect(&c, "n NOOP", "n OK");
	T.cfg.output_buffer = 0;
	tc_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_greeting_and_starttls, t_clean),
	        cmocka_unit_test_setup(test_login, t_clean),
	        cmocka_unit_test_setup(test_authenticate_plain, t_clean),
	        cmocka_unit_test_setup(test_literals_and_limits, t_clean),
	        cmocka_unit_test_setup(test_too_many_errors, t_clean),
	        cmocka_unit_test_setup(test_timeout_shutdown_and_idle_state, t_clean),
	        cmocka_unit_test_setup(test_fetch_in_pieces, t_clean),
	};
	return cmocka_run_group_tests_name("imap_session", tests, t_setup, t_teardown);
}
