/* SELECT, FETCH (every item, sections, partials, \Seen), BODYSTRUCTURE and ENVELOPE of a MIME message
 * and of malformed ones, SEARCH. */
#include "imap_test.h"

#define MIME_MSG                                                                                             \
	"From: \"Alice Example\" <alice@example.test>\r\n"                                                   \
	"To: bob@example.test, Group: c@d.e;\r\n"                                                            \
	"Subject: =?utf-8?q?caf=C3=A9?= test\r\n"                                                            \
	"Date: Mon, 24 Nov 2025 13:20:00 +0100\r\n"                                                          \
	"Message-ID: <m1@example.test>\r\n"                                                                  \
	"MIME-Version: 1.0\r\n"                                                                              \
	"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"                                                 \
	"\r\n"                                                                                               \
	"preamble\r\n"                                                                                       \
	"--XX\r\n"                                                                                           \
	"Content-Type: text/plain; charset=utf-8\r\n"                                                        \
	"\r\n"                                                                                               \
	"hello\r\n"                                                                                          \
	"--XX\r\n"                                                                                           \
	"Content-Type: message/rfc822\r\n"                                                                   \
	"\r\n"                                                                                               \
	"Subject: inner\r\n"                                                                                 \
	"From: x@y.z\r\n"                                                                                    \
	"\r\n"                                                                                               \
	"inner body\r\n"                                                                                     \
	"--XX\r\n"                                                                                           \
	"Content-Type: application/octet-stream; name=\"a.bin\"\r\n"                                         \
	"Content-Disposition: attachment; filename=\"a.bin\"\r\n"                                            \
	"Content-Transfer-Encoding: base64\r\n"                                                              \
	"\r\n"                                                                                               \
	"AAEC\r\n"                                                                                           \
	"--XX--\r\n"                                                                                         \
	"epilogue\r\n"

static void open_inbox(struct tc *c)
{
	tc_open(c, &T.lc_plain, NULL);
	free(tc_take(c));
	tc_login(c, "alice@example.test", "secret");
}

static void test_select(void **state)
{
	struct tc c;
	(void)state;

	open_inbox(&c);
	deliver(T.inbox, "Subject: one\r\n\r\n1\r\n");
	deliver(T.inbox, "Subject: two\r\n\r\n2\r\n");
	char *r = tc_cmd(&c, "a SELECT inbox");
	t_has(r, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
	         "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)] Flags permitted\r\n"
	         "* 2 EXISTS\r\n* 2 RECENT\r\n* OK [UNSEEN 1] First unseen\r\n* OK [UIDVALIDITY ");
	t_has(r, "* OK [UIDNEXT 3] Predicted next UID\r\na OK [READ-WRITE] Select completed\r\n");
	free(r);
	r = tc_cmd(&c, "b EXAMINE INBOX");
	t_has(r, "* 2 EXISTS\r\n* 0 RECENT\r\n"); /* this session's first SELECT claimed them */
	t_has(r, "* OK [PERMANENTFLAGS ()]");
	t_has(r, "b OK [READ-ONLY] Examine completed");
	free(r);
	tc_expect(&c, "c STORE 1 +FLAGS (\\Seen)", "c NO [READ-ONLY]");
	tc_expect(&c, "d EXPUNGE", "d NO [READ-ONLY]");
	tc_expect(&c, "e FETCH 1 BODY[]", "e OK"); /* no \Seen in a read-only mailbox */
	tc_expect(&c, "f FETCH 1 FLAGS", "* 1 FETCH (FLAGS ())");
	tc_expect(&c, "g SELECT Nope", "g NO [NONEXISTENT]");
	tc_expect(&c, "h FETCH 1 FLAGS", "h BAD Select a mailbox first"); /* a failed SELECT deselects */
	tc_expect(&c, "i SELECT INBOX", "* 0 RECENT");
	tc_expect(&c, "j FETCH 3 FLAGS", "j BAD Invalid message sequence number");
	tc_expect(&c, "k FETCH 2:* UID", "* 2 FETCH (UID 2)\r\nk OK");
	tc_expect(&c, "l UID FETCH 99:* FLAGS", "* 2 FETCH (UID 2 FLAGS ())"); /* "n:*" names the last */
	tc_expect(&c, "m UNSELECT", "m OK");
	tc_expect(&c, "n CHECK", "n BAD Select a mailbox first");
	tc_close(&c);
}

static void test_fetch_items(void **state)
{
	struct tc c;
	(void)state;

	deliver(T.inbox, MIME_MSG);
	open_inbox(&c);
	free(tc_cmd(&c, "a SELECT INBOX"));
	char *r = tc_cmd(&c, "b FETCH 1 (UID RFC822.SIZE FLAGS INTERNALDATE)");
	char want[100];
	t_has(r, "* 1 FETCH (UID 1 FLAGS (\\Recent) INTERNALDATE \"");
	snprintf(want, sizeof(want), " +0000\" RFC822.SIZE %zu)\r\n", strlen(MIME_MSG));
	t_has(r, want);
	free(r);
	r = tc_cmd(&c, "c FETCH 1 ENVELOPE");
	t_has(r, "ENVELOPE (\"Mon, 24 Nov 2025 13:20:00 +0100\" \"=?utf-8?q?caf=C3=A9?= test\" "
	         "((\"Alice Example\" NIL \"alice\" \"example.test\")) ((\"Alice Example\" NIL \"alice\" "
	         "\"example.test\")) ((\"Alice Example\" NIL \"alice\" \"example.test\")) "
	         "((NIL NIL \"bob\" \"example.test\")(NIL NIL \"Group\" NIL)(NIL NIL \"c\" \"d.e\")(NIL NIL "
	         "NIL NIL)) "
	         "NIL NIL NIL \"<m1@example.test>\")");
	free(r);
	r = tc_cmd(&c, "d FETCH 1 BODYSTRUCTURE");
	t_has(r, "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 5 1 NIL NIL "
	         "NIL NIL)"
	         "(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 41 (NIL \"inner\" ((NIL NIL \"x\" \"y.z\")) "
	         "((NIL NIL \"x\" \"y.z\")) ((NIL NIL \"x\" \"y.z\")) NIL NIL NIL NIL NIL) "
	         "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL) 4 "
	         "NIL NIL NIL "
	         "NIL)(\"application\" \"octet-stream\" (\"name\" \"a.bin\") NIL NIL \"base64\" 4 NIL "
	         "(\"attachment\" (\"filename\" \"a.bin\")) NIL NIL) \"mixed\" (\"boundary\" \"XX\") NIL NIL "
	         "NIL))");
	free(r);
	r = tc_cmd(&c, "e FETCH 1 BODY");
	t_has(r, "BODY ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 5 1)(\"message\"");
	t_has(r, "\"base64\" 4) \"mixed\"))");
	free(r);
	struct {
		const char *item, *want;
	} sections[] = {
	        {"BODY.PEEK[1]", "BODY[1] {5}\r\nhello)"},
	        {"BODY.PEEK[2]", "BODY[2] {41}\r\nSubject: inner\r\nFrom: x@y.z\r\n\r\ninner body)"},
	        {"BODY.PEEK[2.HEADER]", "BODY[2.HEADER] {31}\r\nSubject: inner\r\nFrom: x@y.z\r\n\r\n)"},
	        {"BODY.PEEK[2.TEXT]", "BODY[2.TEXT] {10}\r\ninner body)"},
	        {"BODY.PEEK[2.1]", "BODY[2.1] {10}\r\ninner body)"},
	        {"BODY.PEEK[3.MIME]",
	         "BODY[3.MIME] {142}\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"},
	        {"BODY.PEEK[4]", "BODY[4] {0}\r\n)"},
	        {"BODY.PEEK[HEADER.FIELDS (subject from)]",
	         "BODY[HEADER.FIELDS (SUBJECT FROM)] {83}\r\nFrom: \"Alice Example\" <alice@example.test>\r\n"
	         "Subject: =?utf-8?q?caf=C3=A9?= test\r\n\r\n)"},
	        {"BODY.PEEK[HEADER.FIELDS.NOT (From To Subject Date Message-ID)]",
	         "BODY[HEADER.FIELDS.NOT (FROM TO SUBJECT DATE MESSAGE-ID)] {67}\r\nMIME-Version: 1.0\r\n"
	         "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n)"},
	        {"BODY.PEEK[]<0.4>", "BODY[]<0> {4}\r\nFrom)"},
	        {"BODY.PEEK[1]<3.100>", "BODY[1]<3> {2}\r\nlo)"},
	        {"BODY.PEEK[1]<100.10>", "BODY[1]<100> {0}\r\n)"},
	        {"BODY.PEEK[TEXT]<0.10>", "BODY[TEXT]<0> {10}\r\npreamble\r\n)"},
	        {"RFC822.HEADER", "RFC822.HEADER {255}\r\nFrom:"},
	};
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		char line[200];
		snprintf(line, sizeof(line), "f FETCH 1 %s", sections[i].item);
		r = tc_cmd(&c, line);
		t_has(r, sections[i].want);
		t_lacks(r, "\\Seen"); /* PEEK and RFC822.HEADER do not set it */
		t_has(r, "f OK Fetch completed");
		free(r);
	}
	/* BODY[] sets \Seen and says so */
	r = tc_cmd(&c, "g FETCH 1 BODY[1]");
	t_has(r, "* 1 FETCH (FLAGS (\\Seen \\Recent) BODY[1] {5}\r\nhello)\r\ng OK");
	free(r);
	r = tc_cmd(&c, "h UID FETCH 1 (RFC822.TEXT)");
	t_has(r, "* 1 FETCH (UID 1 RFC822.TEXT {");
	free(r);
	r = tc_cmd(&c, "i FETCH 1 RFC822");
	snprintf(want, sizeof(want), "* 1 FETCH (RFC822 {%zu}\r\nFrom:", strlen(MIME_MSG));
	t_has(r, want);
	free(r);
	tc_expect(&c, "j FETCH 1 FAST", "* 1 FETCH (FLAGS (\\Seen \\Recent) INTERNALDATE");
	tc_expect(&c, "k FETCH 1 (BODY[1.HEADER])", "BODY[1.HEADER] {0}");
	tc_expect(&c, "l FETCH 1 BODY[x]", "l BAD");
	tc_close(&c);
}

static void test_malformed_mail(void **state)
{
	struct tc c;
	(void)state;

	deliver(T.inbox, "Content-Type: multipart/mixed\r\n\r\nno boundary at all\r\n");
	deliver(T.inbox, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nnever closed\r\n");
	deliver(T.inbox, "Content-Type: !!garbage!!\r\nFrom: <<<@@>>>\r\nTo: ,,,\r\n\r\nx\r\n");
	deliver(T.inbox, "no header separator at all");
	deliver(T.inbox, "Content-Type: message/rfc822\r\n\r\n");
	deliver(T.inbox, "Subject: lf only\nContent-Type: text/plain\n\nline one\nline two\n");
	open_inbox(&c);
	free(tc_cmd(&c, "a SELECT INBOX"));
	char *r = tc_cmd(&c, "b FETCH 1:* (BODYSTRUCTURE ENVELOPE BODY.PEEK[1] RFC822.SIZE)");
	t_has(r, "* 1 FETCH (RFC822.SIZE 53 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE "
	         "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 20 1 NIL NIL NIL NIL)");
	t_has(r, "* 2 FETCH (RFC822.SIZE 66 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE "
	         "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 14 1 NIL NIL NIL NIL) "
	         "\"mixed\" "
	         "(\"boundary\" \"b\") NIL NIL NIL) BODY[1] {14}\r\nnever closed\r\n)");
	t_has(r, "* 3 FETCH (");
	t_has(r, "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 3 1 ");
	t_has(r, "* 4 FETCH (RFC822.SIZE 26 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE "
	         "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)");
	t_has(r, "* 5 FETCH (");
	/* bare LF is served as CRLF: 4 more octets */
	t_has(r, "* 6 FETCH (RFC822.SIZE 66 ");
	t_has(r, "BODY[1] {20}\r\nline one\r\nline two\r\n)");
	t_has(r, "b OK Fetch completed");
	free(r);
	tc_close(&c);
}

static void test_search(void **state)
{
	struct tc c;
	(void)state;

	deliver(T.inbox, MIME_MSG);
	deliver(T.inbox,
	        "From: bob@example.test\r\nSubject: lunch\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\n"
	        "X-Tag: blue\r\n\r\nsee you at noon\r\n");
	deliver(T.inbox, "From: carol@example.org\r\nSubject: big\r\n\r\n"
	                 "0123456789012345678901234567890123456789"
	                 "0123456789012345678901234567890123456789\r\n");
	open_inbox(&c);
	free(tc_cmd(&c, "a SELECT INBOX"));
	free(tc_cmd(&c, "b STORE 2 +FLAGS.SILENT (\\Flagged \\Seen)"));
	struct {
		const char *q, *want;
	} cases[] = {
	        {"ALL", "* SEARCH 1 2 3\r\n"},
	        {"FROM bob", "* SEARCH 2\r\n"},
	        {"FROM ALICE", "* SEARCH 1\r\n"},
	        {"TO bob@example.test", "* SEARCH 1\r\n"},
	        {"SUBJECT \"caf\xc3\xa9\"", "* SEARCH 1\r\n"}, /* matched in the decoded header */
	        {"CHARSET UTF-8 SUBJECT {5}\r\ncaf\xc3\xa9", "* SEARCH 1\r\n"},
	        {"HEADER X-Tag blue", "* SEARCH 2\r\n"},
	        {"HEADER X-Tag \"\"", "* SEARCH 2\r\n"},
	        {"BODY noon", "* SEARCH 2\r\n"},
	        {"BODY lunch", "* SEARCH\r\n"},
	        {"TEXT lunch", "* SEARCH 2\r\n"},
	        {"FLAGGED", "* SEARCH 2\r\n"},
	        {"UNSEEN", "* SEARCH 1 3\r\n"},
	        {"NOT SEEN NOT 1", "* SEARCH 3\r\n"},
	        {"OR FROM bob FROM carol", "* SEARCH 2 3\r\n"},
	        {"(FROM bob SEEN) OR 1 3", "* SEARCH\r\n"},
	        {"LARGER 115", "* SEARCH 1 3\r\n"},
	        {"SMALLER 115", "* SEARCH 2\r\n"},
	        {"SENTBEFORE 1-Jan-2025", "* SEARCH 2\r\n"},
	        {"SENTON 24-Nov-2025", "* SEARCH 1\r\n"},
	        {"SENTSINCE 1-Jan-2025 NOT SENTON 24-Nov-2025", "* SEARCH 3\r\n"},
	        {"SINCE 1-Jan-2000", "* SEARCH 1 2 3\r\n"},
	        {"BEFORE 1-Jan-2000", "* SEARCH\r\n"},
	        {"UID 2:*", "* SEARCH 2 3\r\n"},
	        {"2,3 UNFLAGGED", "* SEARCH 3\r\n"},
	        {"RECENT NEW", "* SEARCH 1 3\r\n"},
	        {"KEYWORD $Junk", "* SEARCH\r\n"},
	        {"UNKEYWORD $Junk DELETED", "* SEARCH\r\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[300];
		snprintf(line, sizeof(line), "s SEARCH %s", cases[i].q);
		char *r = tc_cmd(&c, line);
		if (strcmp(r, "") == 0 || !strstr(r, cases[i].want))
			fail_msg("SEARCH %s: expected %s got %s", cases[i].q, cases[i].want, r);
		free(r);
	}
	tc_expect(&c, "u UID SEARCH FROM bob", "* SEARCH 2\r\nu OK Search completed");
	tc_expect(&c, "v SEARCH CHARSET KOI8-R ALL", "v NO [BADCHARSET (US-ASCII UTF-8)]");
	tc_expect(&c, "w SEARCH FROB", "w BAD Unknown search key");
	tc_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_select, t_clean),
	        cmocka_unit_test_setup(test_fetch_items, t_clean),
	        cmocka_unit_test_setup(test_malformed_mail, t_clean),
	        cmocka_unit_test_setup(test_search, t_clean),
	};
	return cmocka_run_group_tests_name("imap_fetch", tests, t_setup, t_teardown);
}
