/* The POP3 session over bytes, without sockets: CAPA and STLS, plaintext refused, USER/PASS and AUTH
 * PLAIN (initial response, continuation, abort), every TRANSACTION command over a real Maildir, DELE and
 * QUIT seen by an IMAP session, the maildrop lock ([IN-USE]), bad input, RETR written in pieces, the
 * dot-stuffer on its own, timeout and shutdown. */
#include "imap_test.h"
#include "pop3/pop3.h"
#include "pop3/pop3_internal.h"

static struct listener_conf lc_stls = {.name = "pop3", .proto = PROTO_POP3, .tls = TLS_STARTTLS};
static struct listener_conf lc_plain = {.name = "pop3-plain", .proto = PROTO_POP3, .auth_plaintext = true};
static struct listener_conf lc_pop3s = {.name = "pop3s", .proto = PROTO_POP3, .tls = TLS_IMPLICIT};

struct pc {
	struct pop3_ctx ctx;
	struct pop3_session *s;
	struct obuf out;
	enum pop3_action act;
	size_t used; /* what the last pc_send call's first input call took */
};

static void pc_open(struct pc *c, const struct listener_conf *lc, const char *tls)
{
	memset(c, 0, sizeof(*c));
	c->ctx = (struct pop3_ctx){
	        .cfg = &T.cfg, .lc = lc, .users = T.users, .origin = &T.origin, .tls_info = tls};
	c->s = pop3_session_new(&c->ctx);
	assert_non_null(c->s);
	pop3_session_greeting(c->s, &c->out);
}

static void pc_close(struct pc *c)
{
	pop3_session_free(c->s);
	obuf_free(&c->out);
}

/* As the net layer: a response written in pieces is read whole, then the rest is passed again. */
static void pc_send(struct pc *c, const char *data)
{
	size_t len = strlen(data), off = 0;
	bool first = true;

	do {
		size_t n = pop3_session_input(c->s, data + off, len - off, &c->out, &c->act);
		if (first)
			c->used = n;
		first = false;
		off += n;
		while (pop3_session_busy(c->s))
			pop3_session_resume(c->s, &c->out);
	} while (off < len && c->act == POP3_CONTINUE);
}

static char *pc_take(struct pc *c)
{
	char *s = strndup(c->out.data ? c->out.data : "", c->out.len);
	assert_non_null(s);
	c->out.len = 0;
	return s;
}

static char *pc_cmd(struct pc *c, const char *line)
{
	char *buf;
	assert_true(asprintf(&buf, "%s\r\n", line) > 0);
	pc_send(c, buf);
	free(buf);
	return pc_take(c);
}

static void pc_is(struct pc *c, const char *line, const char *want)
{
	char *got = pc_cmd(c, line);
	assert_string_equal(got, want);
	free(got);
}

static void pc_has(struct pc *c, const char *line, const char *want)
{
	char *got = pc_cmd(c, line);
	t_has(got, want);
	free(got);
}

static void pc_login(struct pc *c)
{
	pc_is(c, "USER alice@example.test", "+OK Send the password\r\n");
	pc_has(c, "PASS secret", "+OK Logged in");
}

static void test_capa_stls_and_plaintext(void **state)
{
	struct pc c;
	(void)state;

	pc_open(&c, &lc_stls, NULL);
	char *g = pc_take(&c);
	assert_string_equal(g, "+OK mx.example.test originmail POP3 ready\r\n");
	free(g);
	char *r = pc_cmd(&c, "CAPA");
	t_has(r, "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n");
	t_has(r, "STLS\r\n");
	t_lacks(r, "USER\r\n");
	t_lacks(r, "SASL");
	assert_true(strlen(r) > 5 && strcmp(r + strlen(r) - 5, "\r\n.\r\n") == 0);
	free(r);
	pc_is(&c, "USER alice@example.test", "-ERR [AUTH] Plaintext authentication disallowed; use STLS\r\n");
	pc_is(&c, "PASS secret", "-ERR [AUTH] Plaintext authentication disallowed; use STLS\r\n");
	pc_is(&c, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=",
	      "-ERR [AUTH] Plaintext authentication disallowed; use STLS\r\n");
	assert_int_equal(pop3_session_auth_failures(c.s), 0);
	/* STLS: what follows in the same packet is dropped (no plaintext survives into TLS) */
	pc_send(&c, "STLS\r\nUSER alice@example.test\r\n");
	r = pc_take(&c);
	assert_string_equal(r, "+OK Begin TLS negotiation\r\n");
	free(r);
	assert_int_equal(c.act, POP3_STARTTLS);
	pc_send(&c, "CAPA\r\n");
	assert_int_equal(c.out.len, 0);
	pop3_session_tls_started(c.s, "TLSv1.3");
	r = pc_cmd(&c, "capa"); /* keywords are case-insensitive */
	t_has(r, "USER\r\nSASL PLAIN\r\n");
	t_lacks(r, "STLS");
	free(r);
	pc_is(&c, "STLS", "-ERR TLS is already active\r\n");
	pc_login(&c);
	pc_is(&c, "STLS", "-ERR Already logged in\r\n");
	r = pc_cmd(&c, "CAPA");
	t_lacks(r, "USER\r\n");
	free(r);
	pc_is(&c, "QUIT", "+OK Bye\r\n");
	assert_int_equal(c.act, POP3_CLOSE);
	pc_close(&c);

	/* POP3S: USER at once, no STLS; a plaintext listener without STARTTLS has none either */
	pc_open(&c, &lc_pop3s, "TLSv1.3");
	free(pc_take(&c));
	r = pc_cmd(&c, "CAPA");
	t_has(r, "USER\r\n");
	t_lacks(r, "STLS");
	free(r);
	pc_close(&c);
	pc_open(&c, &lc_plain, NULL);
	free(pc_take(&c));
	pc_is(&c, "STLS", "-ERR STLS is not available here\r\n");
	pc_close(&c);
}

static void test_user_pass(void **state)
{
	struct pc c;
	(void)state;

	pc_open(&c, &lc_plain, NULL);
	free(pc_take(&c));
	pc_is(&c, "PASS secret", "-ERR USER first\r\n");
	pc_is(&c, "USER", "-ERR USER needs one name\r\n");
	pc_is(&c, "STAT", "-ERR Log in first\r\n");
	/* a failed login: the input after it is left for the caller (it may delay the reply) */
	pc_is(&c, "USER alice@example.test", "+OK Send the password\r\n");
	const char *two = "PASS wrong\r\nNOOP\r\n";
	size_t used = pop3_session_input(c.s, two, strlen(two), &c.out, &c.act);
	assert_int_equal(used, strlen("PASS wrong\r\n"));
	char *r = pc_take(&c);
	assert_string_equal(r, "-ERR [AUTH] Authentication failed\r\n");
	free(r);
	assert_string_equal(pop3_session_last_event(c.s), "login failed for alice@example.test");
	assert_int_equal(pop3_session_auth_failures(c.s), 1);
	pc_is(&c, "PASS secret", "-ERR USER first\r\n"); /* a failure forgets USER */
	pc_is(&c, "USER nobody@example.test", "+OK Send the password\r\n");
	pc_is(&c, "PASS secret", "-ERR [AUTH] Authentication failed\r\n");
	/* a password with spaces is the rest of the line: wrong, and the third failure ends the session */
	pc_is(&c, "USER alice@example.test", "+OK Send the password\r\n");
	pc_is(&c, "PASS sec ret", "-ERR [AUTH] Authentication failed; too many failures\r\n");
	assert_int_equal(c.act, POP3_CLOSE);
	pc_close(&c);

	pc_open(&c, &lc_plain, NULL);
	free(pc_take(&c));
	pc_is(&c, "user alice@example.test", "+OK Send the password\r\n");
	pc_is(&c, "pass secret", "+OK Logged in, 0 messages\r\n");
	assert_string_equal(pop3_session_last_event(c.s), "login alice@example.test");
	pc_is(&c, "USER bob@example.test", "-ERR Already logged in\r\n");
	pc_is(&c, "STAT", "+OK 0 0\r\n");
	pc_is(&c, "LIST", "+OK Scan listing follows\r\n.\r\n");
	pc_close(&c);
}

static void test_auth_plain(void **state)
{
	struct pc c;
	(void)state;
	const char *good = "AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ="; /* "\0alice@example.test\0secret" */

	pc_open(&c, &lc_plain, NULL);
	free(pc_take(&c));
	pc_is(&c, "AUTH", "+OK Mechanisms follow\r\nPLAIN\r\n.\r\n");
	pc_is(&c, "AUTH CRAM-MD5", "-ERR Unsupported authentication mechanism\r\n");
	pc_is(&c, "AUTH PLAIN", "+ \r\n");
	pc_is(&c, "*", "-ERR Authentication aborted\r\n");
	pc_is(&c, "AUTH PLAIN", "+ \r\n");
	pc_is(&c, "!!notbase64", "-ERR Invalid base64 data\r\n");
	pc_is(&c, "AUTH PLAIN Zm9v", "-ERR Malformed PLAIN response\r\n");
	/* "bob\0alice@example.test\0secret": acting as somebody else is refused */
	pc_is(&c,
	      "AUTH PLAIN Ym9iAGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=", "-ERR [AUTH] Authentication failed\r\n");
	pc_is(&c, "AUTH PLAIN", "+ \r\n");
	pc_has(&c, good, "+OK Logged in");
	pc_close(&c);

	pc_open(&c, &lc_plain, NULL);
	free(pc_take(&c));
	char line[100];
	snprintf(line, sizeof(line), "AUTH plain %s", good); /* the initial response (RFC 5034 4) */
	pc_has(&c, line, "+OK Logged in");
	pc_close(&c);
}

static const char *const MSG1 =
        "From: a@example.test\r\nSubject: one\r\n\r\nline 1\r\n.dot line\r\nline 3\r\n";
static const char *const MSG2 = "From: b@example.test\nSubject: two\n\nbody\n..two dots\nno newline at end";

static void deliver_three(void)
{
	deliver(T.inbox, MSG1);
	deliver(T.inbox, MSG2);
	deliver(T.inbox, "Subject: three\r\n\r\nthird\r\n");
}

/* The UIDVALIDITY and UIDs as an IMAP session reports them. */
static void imap_uids(uint32_t *validity, uint32_t *uids, size_t n)
{
	struct tc ic;
	tc_open(&ic, &T.lc_plain, NULL);
	free(tc_take(&ic));
	tc_login(&ic, "alice@example.test", "secret");
	char *r = tc_cmd(&ic, "s EXAMINE INBOX");
	const char *v = strstr(r, "[UIDVALIDITY ");
	assert_non_null(v);
	*validity = (uint32_t)strtoul(v + 13, NULL, 10);
	free(r);
	r = tc_cmd(&ic, "f FETCH 1:* UID");
	const char *p = r;
	for (size_t i = 0; i < n; i++) {
		p = strstr(p, "(UID ");
		assert_non_null(p);
		uids[i] = (uint32_t)strtoul(p + 5, NULL, 10);
		p++;
	}
	free(r);
	tc_close(&ic);
}

static void test_transaction(void **state)
{
	struct pc c;
	char want[200];
	(void)state;

	deliver_three();
	uint32_t validity, uids[3];
	imap_uids(&validity, uids, 3);

	pc_open(&c, &lc_plain, NULL);
	free(pc_take(&c));
	pc_login(&c);
	size_t s1 = strlen(MSG1), s2 = strlen(MSG2) + 5,
	       /* 5 bare LFs */ s3 = strlen("Subject: three\r\n\r\nthird\r\n");
	snprintf(want, sizeof(want), "+OK 3 %zu\r\n", s1 + s2 + s3);
	pc_is(&c, "STAT", want);
	snprintf(want, sizeof(want), "+OK Scan listing follows\r\n1 %zu\r\n2 %zu\r\n3 %zu\r\n.\r\n", s1, s2,
	         s3);
	pc_is(&c, "LIST", want);
	snprintf(want, sizeof(want), "+OK 2 %zu\r\n", s2);
	pc_is(&c, "LIST 2", want);
	snprintf(want, sizeof(want),
	         "+OK Unique-ID listing follows\r\n1 %u.%u\r\n2 %u.%u\r\n3 %u.%u\r\n.\r\n", validity, uids[0],
	         validity, uids[1], validity, uids[2]);
	pc_is(&c, "UIDL", want);
	snprintf(want, sizeof(want), "+OK 3 %u.%u\r\n", validity, uids[2]);
	pc_is(&c, "UIDL 3", want);
	/* RETR: CRLF line ends, dot-stuffed, the final line ended, ".\r\n" */
	assert_int_equal(s1, 65);
	char *r = pc_cmd(&c, "RETR 1");
	assert_string_equal(r, "+OK 65 octets\r\nFrom: a@example.test\r\nSubject: one\r\n\r\nline 1\r\n"
	                       "..dot line\r\nline 3\r\n.\r\n");
	free(r);
	snprintf(want, sizeof(want),
	         "+OK %zu octets\r\nFrom: b@example.test\r\nSubject: two\r\n\r\nbody\r\n...two dots\r\n"
	         "no newline at end\r\n.\r\n",
	         s2);
	pc_is(&c, "RETR 2", want);
	pc_is(&c, "TOP 1 0",
	      "+OK Top of message follows\r\nFrom: a@example.test\r\nSubject: one\r\n\r\n.\r\n");
	pc_is(&c, "TOP 1 2",
	      "+OK Top of message follows\r\nFrom: a@example.test\r\nSubject: one\r\n\r\nline 1\r\n..dot "
	      "line\r\n"
	      ".\r\n");
	pc_is(&c, "TOP 3 99", "+OK Top of message follows\r\nSubject: three\r\n\r\nthird\r\n.\r\n");
	pc_is(&c, "TOP 1", "-ERR TOP needs a message number and a line count\r\n");
	pc_is(&c, "RETR 4", "-ERR No such message\r\n");
	pc_is(&c, "RETR x", "-ERR Message number required\r\n");
	pc_is(&c, "RETR", "-ERR Message number required\r\n");
	pc_is(&c, "DELE 2", "+OK Message 2 deleted\r\n");
	pc_is(&c, "DELE 2", "-ERR Message is deleted\r\n");
	pc_is(&c, "RETR 2", "-ERR Message is deleted\r\n");
	snprintf(want, sizeof(want), "+OK Scan listing follows\r\n1 %zu\r\n3 %zu\r\n.\r\n", s1, s3);
	pc_is(&c, "LIST", want);
	snprintf(want, sizeof(want), "+OK 2 %zu\r\n", s1 + s3);
	pc_is(&c, "STAT", want);
	pc_is(&c, "RSET", "+OK 3 messages\r\n");
	snprintf(want, sizeof(want), "+OK 3 %zu\r\n", s1 + s2 + s3);
	pc_is(&c, "STAT", want);
	pc_is(&c, "NOOP", "+OK\r\n");
	pc_is(&c, "DELE 1", "+OK Message 1 deleted\r\n");
	pc_is(&c, "DELE 3", "+OK Message 3 deleted\r\n");
	pc_close(&c); /* no QUIT: nothing is removed (RFC 1939 6) */

	uint32_t v2, uids2[3];
	imap_uids(&v2, uids2, 3);
	assert_int_equal(v2, validity);
	pc_open(&c, &lc_plain, NULL);
	free(pc_take(&c));
	pc_login(&c);
	snprintf(want, sizeof(want),
	         "+OK Unique-ID listing follows\r\n1 %u.%u\r\n2 %u.%u\r\n3 %u.%u\r\n.\r\n", validity, uids[0],
	         validity, uids[1], validity, uids[2]);
	pc_is(&c, "UIDL", want); /* stable across sessions */
	pc_is(&c, "DELE 1", "+OK Message 1 deleted\r\n");
	pc_is(&c, "QUIT", "+OK Bye\r\n");
	pc_close(&c);

	/* IMAP sees message 1 gone, and 2 (RETR'd) \Seen; 3 (only TOP'd) is not */
	struct tc ic;
	tc_open(&ic, &T.lc_plain, NULL);
	free(tc_take(&ic));
	tc_login(&ic, "alice@example.test", "secret");
	r = tc_cmd(&ic, "s SELECT INBOX");
	t_has(r, "* 2 EXISTS");
	free(r);
	r = tc_cmd(&ic, "f FETCH 1:* (UID FLAGS)");
	snprintf(want, sizeof(want), "* 1 FETCH (UID %u FLAGS (\\Seen \\Recent))", uids[1]);
	t_has(r, want);
	snprintf(want, sizeof(want), "* 2 FETCH (UID %u FLAGS (\\Recent))", uids[2]);
	t_has(r, want);
	free(r);
	tc_close(&ic);
}

static void test_in_use(void **state)
{
	struct pc a, b;
	(void)state;

	deliver(T.inbox, MSG1);
	pc_open(&a, &lc_plain, NULL);
	pc_open(&b, &lc_plain, NULL);
	free(pc_take(&a));
	free(pc_take(&b));
	pc_login(&a);
	pc_is(&b, "USER alice@example.test", "+OK Send the password\r\n");
	pc_is(&b, "PASS secret", "-ERR [IN-USE] Mailbox is in use by another POP3 session\r\n");
	assert_int_equal(pop3_session_auth_failures(b.s), 0); /* not a failed login */
	pc_is(&b, "STAT", "-ERR Log in first\r\n");
	pc_is(&a, "QUIT", "+OK Bye\r\n");
	pc_is(&b, "USER alice@example.test", "+OK Send the password\r\n");
	pc_is(&b, "PASS secret", "+OK Logged in, 1 messages\r\n");
	pc_close(&a);
	pc_close(&b);
}

static void test_bad_input(void **state)
{
	struct pc c;
	char line[5000];
	(void)state;

	pc_open(&c, &lc_plain, NULL);
	free(pc_take(&c));
	pc_is(&c, "XYZZY", "-ERR Unknown command\r\n");
	pc_is(&c, "", "-ERR Unknown command\r\n");
	pc_is(&c, "NOOP", "-ERR Log in first\r\n");
	pc_send(&c, "CAPA\n");
	char *r = pc_take(&c);
	assert_string_equal(r, "-ERR Line must end with CRLF\r\n");
	free(r);
	memset(line, 'A', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0'; /* longer than max_line (4096) */
	pc_is(&c, line, "-ERR Line too long\r\n");
	/* exactly max_line with its CRLF is taken */
	line[4094] = '\0';
	pc_is(&c, line, "-ERR Unknown command\r\n");
	pc_login(&c);
	pc_is(&c, "RETR 99", "-ERR No such message\r\n");
	pc_is(&c, "STAT extra", "-ERR STAT takes no arguments\r\n");
	pc_is(&c, "NOOP", "+OK\r\n"); /* the session goes on */
	for (int i = 0; i < 20; i++)
		r = pc_cmd(&c, "BAD"), free(r);
	assert_int_equal(c.act, POP3_CLOSE);
	pc_close(&c);
}

static void test_retr_in_pieces(void **state)
{
	struct pc c;
	size_t big = 200000;
	(void)state;

	char *msg = malloc(big + 32);
	assert_non_null(msg);
	size_t n = (size_t)sprintf(msg, "Subject: big\r\n\r\n");
	while (n + 11 < big)
		n += (size_t)sprintf(msg + n, ".%08zu\r\n", n);
	deliver(T.inbox, msg);
	T.cfg.output_buffer = 8192;
	pc_open(&c, &lc_plain, NULL);
	free(pc_take(&c));
	pc_login(&c);
	const char *two = "RETR 1\r\nNOOP\r\n";
	size_t used = pop3_session_input(c.s, two, strlen(two), &c.out, &c.act);
	assert_int_equal(used, strlen("RETR 1\r\n")); /* NOOP waits for the message */
	assert_true(pop3_session_busy(c.s));
	assert_false(pop3_session_idle(c.s));
	assert_true(c.out.len < 8192 + 3 * POP3_READ_CHUNK);
	struct obuf all = {0};
	size_t pieces = 0;
	while (pop3_session_busy(c.s)) { /* the client reads what is queued, then the next piece comes */
		obuf_append(&all, c.out.data, c.out.len);
		c.out.len = 0;
		pop3_session_resume(c.s, &c.out);
		pieces++;
	}
	assert_true(pieces > 1);
	obuf_append(&all, c.out.data, c.out.len);
	c.out.len = 0;
	char *r = strndup(all.data, all.len);
	assert_non_null(r);
	obuf_free(&all);
	assert_true(strncmp(r, "+OK ", 4) == 0);
	t_has(r, "\r\n..00000016\r\n");
	assert_true(strcmp(r + strlen(r) - 5, "\r\n.\r\n") == 0);
	free(r);
	pc_is(&c, "NOOP", "+OK\r\n");
	T.cfg.output_buffer = 0;
	pc_close(&c);
	free(msg);
}

static void test_stuffer(void **state)
{
	struct pop3_stuff st;
	struct obuf out = {0};
	(void)state;

	/* CR at the end of one piece, its LF in the next; a dot after a bare LF */
	pop3_stuff_init(&st, false, 0);
	pop3_stuff(&st, "a\r", 2, &out);
	pop3_stuff(&st, "\n.b\n.", 5, &out);
	pop3_stuff_end(&st, &out);
	assert_int_equal(out.len, strlen("a\r\n..b\r\n..\r\n.\r\n"));
	assert_memory_equal(out.data, "a\r\n..b\r\n..\r\n.\r\n", out.len);
	out.len = 0;
	/* TOP 1 stops after one body line and says how much it took */
	pop3_stuff_init(&st, true, 1);
	const char *m = "H: v\n\nb1\nb2\n";
	size_t took = pop3_stuff(&st, m, strlen(m), &out);
	assert_int_equal(took, strlen("H: v\n\nb1\n"));
	assert_true(st.done);
	pop3_stuff_end(&st, &out);
	assert_memory_equal(out.data, "H: v\r\n\r\nb1\r\n.\r\n", out.len);
	obuf_free(&out);
}

static void test_timeout_and_shutdown(void **state)
{
	struct pc c;
	(void)state;

	deliver(T.inbox, MSG1);
	pc_open(&c, &lc_plain, NULL);
	free(pc_take(&c));
	pc_login(&c);
	pc_is(&c, "DELE 1", "+OK Message 1 deleted\r\n");
	pc_send(&c, "NO");
	assert_false(pop3_session_idle(c.s));
	unsigned long p = pop3_session_progress(c.s);
	pc_send(&c, "OP\r\n");
	assert_true(pop3_session_progress(c.s) > p);
	assert_true(pop3_session_idle(c.s));
	free(pc_take(&c));
	pop3_session_timeout(c.s, &c.out);
	char *r = pc_take(&c);
	assert_string_equal(r, "-ERR Autologout; idle for too long\r\n");
	free(r);
	pc_close(&c);
	/* the timed-out session's DELE was not applied; its lock is free */
	pc_open(&c, &lc_plain, NULL);
	free(pc_take(&c));
	pc_login(&c);
	pc_is(&c, "STAT", "+OK 1 65\r\n");
	pop3_session_shutdown(c.s, &c.out);
	r = pc_take(&c);
	assert_string_equal(r, "-ERR [SYS/TEMP] Server shutting down\r\n");
	free(r);
	pc_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_capa_stls_and_plaintext, t_clean),
	        cmocka_unit_test_setup(test_user_pass, t_clean),
	        cmocka_unit_test_setup(test_auth_plain, t_clean),
	        cmocka_unit_test_setup(test_transaction, t_clean),
	        cmocka_unit_test_setup(test_in_use, t_clean),
	        cmocka_unit_test_setup(test_bad_input, t_clean),
	        cmocka_unit_test_setup(test_retr_in_pieces, t_clean),
	        cmocka_unit_test_setup(test_stuffer, t_clean),
	        cmocka_unit_test_setup(test_timeout_and_shutdown, t_clean),
	};
	return cmocka_run_group_tests_name("pop3_session", tests, t_setup, t_teardown);
}
