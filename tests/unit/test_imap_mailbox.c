/* Changing mailboxes over IMAP: STORE, COPY, MOVE, EXPUNGE, UID EXPUNGE, APPEND (UIDPLUS codes), CREATE,
 * DELETE, RENAME, SUBSCRIBE, LIST and LSUB with their attributes, STATUS; two sessions on one mailbox
 * seeing each other's changes; IDLE seeing a delivery. */
#include "imap_test.h"

static void open_session(struct tc *c)
{
	tc_open(c, &T.lc_plain, NULL);
	free(tc_take(c));
	tc_login(c, "alice@example.test", "secret");
}

static void test_store_copy_move_expunge(void **state)
{
	struct tc c;
	(void)state;

	for (int i = 0; i < 4; i++)
		deliver(T.inbox, "Subject: m\r\n\r\nbody\r\n");
	open_session(&c);
	free(tc_cmd(&c, "a SELECT INBOX"));
	char *r = tc_cmd(&c, "b STORE 1:2 +FLAGS (\\Seen \\Flagged)");
	assert_string_equal(r, "* 1 FETCH (FLAGS (\\Flagged \\Seen \\Recent))\r\n"
	                       "* 2 FETCH (FLAGS (\\Flagged \\Seen \\Recent))\r\nb OK Store completed\r\n");
	free(r);
	r = tc_cmd(&c, "c UID STORE 2 -FLAGS.SILENT (\\Flagged)");
	assert_string_equal(r, "c OK Store completed\r\n");
	free(r);
	tc_expect(&c, "d STORE 3 FLAGS \\Draft", "* 3 FETCH (FLAGS (\\Draft \\Recent))");
	tc_expect(&c, "e STORE 1 +FLAGS ($Label1)",
	          "* 1 FETCH (FLAGS (\\Flagged \\Seen \\Recent))"); /* not kept */
	tc_expect(&c, "f STORE 1 +FLAGS (\\Bogus)", "f BAD Invalid flag");
	tc_expect(&c, "g STORE 1 +TAGS (\\Seen)", "g BAD Unknown STORE item");
	tc_expect(&c, "h FETCH 1:* FLAGS", "* 2 FETCH (FLAGS (\\Seen \\Recent))");

	/* COPY: UIDs in the destination, COPYUID; to a missing mailbox: TRYCREATE */
	tc_expect(&c, "i COPY 1:2 Nope", "i NO [TRYCREATE]");
	r = tc_cmd(&c, "j COPY 1:2 Trash");
	t_has(r, "j OK [COPYUID ");
	t_has(r, " 1:2 1:2] Copy completed");
	free(r);
	tc_expect(&c, "k STATUS Trash (MESSAGES UNSEEN UIDNEXT)",
	          "* STATUS \"Trash\" (MESSAGES 2 UIDNEXT 3 UNSEEN 0)");

	/* MOVE: the COPYUID comes untagged, then the source's EXPUNGEs */
	r = tc_cmd(&c, "l UID MOVE 3 Junk");
	t_has(r, "* OK [COPYUID ");
	t_has(r, " 3 1] Moved\r\n* 3 EXPUNGE\r\nl OK Move completed\r\n");
	free(r);
	tc_expect(&c, "m FETCH 3 UID", "* 3 FETCH (UID 4)");

	/* EXPUNGE removes only \Deleted; UID EXPUNGE only those in its set */
	free(tc_cmd(&c, "n STORE 1:3 +FLAGS.SILENT (\\Deleted)"));
	r = tc_cmd(&c, "o UID EXPUNGE 4");
	assert_string_equal(r, "* 3 EXPUNGE\r\no OK Expunge completed\r\n");
	free(r);
	r = tc_cmd(&c, "p EXPUNGE");
	assert_string_equal(r, "* 2 EXPUNGE\r\n* 1 EXPUNGE\r\np OK Expunge completed\r\n");
	free(r);
	tc_expect(&c, "q SEARCH ALL", "* SEARCH\r\n");

	/* CLOSE expunges silently */
	deliver(T.inbox, "Subject: n\r\n\r\nbody\r\n");
	tc_expect(&c, "r NOOP", "* 1 EXISTS\r\n* 1 RECENT\r\nr OK");
	free(tc_cmd(&c, "s STORE 1 +FLAGS.SILENT (\\Deleted)"));
	r = tc_cmd(&c, "t CLOSE");
	assert_string_equal(r, "t OK Close completed\r\n");
	free(r);
	tc_expect(&c, "u STATUS INBOX (MESSAGES UIDNEXT)", "(MESSAGES 0 UIDNEXT 6)");
	tc_close(&c);
}

static void test_append(void **state)
{
	struct tc c;
	(void)state;

	open_session(&c);
	tc_send(&c, "a APPEND Drafts (\\Draft \\Seen) \"05-Jan-2025 10:00:00 +0100\" {21}\r\n");
	char *r = tc_take(&c);
	assert_string_equal(r, "+ Ready for literal data\r\n");
	free(r);
	tc_send(&c, "Subject: draft\n\nbody\n\r\n"); /* bare LFs become CRLF */
	r = tc_take(&c);
	t_has(r, "a OK [APPENDUID ");
	t_has(r, " 1] Append completed\r\n");
	free(r);
	tc_send(&c, "b APPEND Drafts {14+}\r\nSubject: x\r\n\r\n\r\n");
	tc_expect(&c, "", " 2] Append completed");
	tc_expect(&c, "c APPEND Nope {1+}\r\nx", "c NO [TRYCREATE]");
	tc_expect(&c, "d APPEND Drafts (\\Bogus) {1+}\r\nx", "d BAD");
	tc_expect(&c, "e APPEND Drafts \"bad date\" {1+}\r\nx", "e BAD");
	tc_expect(&c, "f EXAMINE Drafts", "* 2 EXISTS");
	r = tc_cmd(&c, "g FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])");
	t_has(r,
	      "* 1 FETCH (FLAGS (\\Seen \\Draft) INTERNALDATE \"05-Jan-2025 09:00:00 +0000\" RFC822.SIZE 24 "
	      "BODY[] {24}\r\nSubject: draft\r\n\r\nbody\r\n)");
	free(r);
	/* appending to the selected mailbox: the new message shows up before the tagged reply */
	tc_send(&c, "h APPEND Drafts {3+}\r\nx\r\n\r\n");
	r = tc_take(&c);
	t_has(r, "* 3 EXISTS\r\nh OK [APPENDUID");
	free(r);
	tc_close(&c);
}

static void test_mailbox_management(void **state)
{
	struct tc c;
	(void)state;

	open_session(&c);
	char *r = tc_cmd(&c, "a LIST \"\" *");
	assert_string_equal(r, "* LIST (\\HasNoChildren) \".\" \"INBOX\"\r\n"
	                       "* LIST (\\HasNoChildren \\Drafts) \".\" \"Drafts\"\r\n"
	                       "* LIST (\\HasNoChildren \\Junk) \".\" \"Junk\"\r\n"
	                       "* LIST (\\HasNoChildren \\Sent) \".\" \"Sent\"\r\n"
	                       "* LIST (\\HasNoChildren \\Trash) \".\" \"Trash\"\r\n"
	                       "a OK List completed\r\n");
	free(r);
	tc_expect(&c, "b LIST \"\" \"\"", "* LIST (\\Noselect) \".\" \"\"\r\nb OK");
	tc_expect(&c, "c CREATE Projects.2025.Q1", "c OK Create completed");
	tc_expect(&c, "d CREATE Projects.2025.Q1", "d NO [ALREADYEXISTS]");
	tc_expect(&c, "e CREATE \"with \\\"quote\\\"\"", "e OK");
	r = tc_cmd(&c, "f LIST \"\" %");
	t_has(r, "* LIST (\\Noselect \\HasChildren) \".\" \"Projects\"\r\n");
	t_has(r, "* LIST (\\HasNoChildren) \".\" \"with \\\"quote\\\"\"\r\n");
	t_lacks(r, "Q1");
	free(r);
	tc_expect(&c, "g LIST Projects. *",
	          "* LIST (\\Noselect \\HasChildren) \".\" \"Projects.2025\"\r\n"
	          "* LIST (\\HasNoChildren) \".\" \"Projects.2025.Q1\"\r\ng OK");
	tc_expect(&c, "h LIST (SPECIAL-USE) \"\" *", "* LIST (\\HasNoChildren \\Drafts) \".\" \"Drafts\"");
	r = tc_cmd(&c, "h2 LIST (SPECIAL-USE) \"\" *");
	t_lacks(r, "INBOX");
	free(r);
	tc_expect(&c, "i RENAME Projects.2025 Archive.2025", "i OK Rename completed");
	tc_expect(&c, "j LIST \"\" Archive*", "\"Archive.2025.Q1\"");
	tc_expect(&c, "k RENAME Nope X", "k NO [NONEXISTENT]");
	tc_expect(&c, "l DELETE Archive.2025.Q1", "l OK Delete completed");
	tc_expect(&c, "m DELETE Archive.2025.Q1", "m NO [NONEXISTENT]");
	tc_expect(&c, "n DELETE INBOX", "n NO INBOX cannot be deleted");
	tc_expect(&c, "o CREATE ../escape", "o NO Invalid mailbox name");
	tc_expect(&c, "p CREATE a..b", "p NO Invalid mailbox name");
	tc_expect(&c, "q RENAME Trash ../../x", "q NO Invalid mailbox name");
	r = tc_cmd(&c, "r LSUB \"\" *");
	t_has(r, "* LSUB () \".\" \"INBOX\"\r\n");
	t_has(r, "* LSUB () \".\" \"Trash\"\r\n");
	free(r);
	tc_expect(&c, "s UNSUBSCRIBE Trash", "s OK");
	tc_expect(&c, "t SUBSCRIBE Archive", "t OK");
	r = tc_cmd(&c, "u LSUB \"\" *");
	t_lacks(r, "Trash");
	t_has(r, "\"Archive\"");
	free(r);
	tc_expect(&c, "v STATUS Nope (MESSAGES)", "v NO [NONEXISTENT]");
	tc_expect(&c, "w STATUS INBOX (BOGUS)", "w BAD");
	tc_expect(&c, "x STATUS INBOX (UIDVALIDITY RECENT)", "* STATUS \"INBOX\" (RECENT 0 UIDVALIDITY ");
	tc_close(&c);
}

static void test_two_sessions_agree(void **state)
{
	struct tc a, b;
	(void)state;

	for (int i = 0; i < 3; i++)
		deliver(T.inbox, "Subject: shared\r\n\r\nbody\r\n");
	open_session(&a);
	open_session(&b);
	free(tc_cmd(&a, "a SELECT INBOX"));
	free(tc_cmd(&b, "b SELECT INBOX"));
	/* a flag change in one is a FETCH in the other */
	free(tc_cmd(&a, "a STORE 2 +FLAGS (\\Seen)"));
	tc_expect(&b, "b NOOP", "* 2 FETCH (UID 2 FLAGS (\\Seen))\r\nb OK");
	/* an expunge: not announced during FETCH, STORE or SEARCH, then at NOOP */
	free(tc_cmd(&a, "a STORE 1 +FLAGS.SILENT (\\Deleted)"));
	tc_expect(&a, "a EXPUNGE", "* 1 EXPUNGE\r\na OK");
	char *r = tc_cmd(&b, "b FETCH 1:* UID");
	t_lacks(r, "EXPUNGE");
	t_has(r, "* 1 FETCH (UID 1)");
	free(r);
	tc_expect(&b, "b FETCH 1 BODY[]", "b NO [EXPUNGEISSUED]");
	r = tc_cmd(&b, "b SEARCH ALL");
	t_lacks(r, "EXPUNGE");
	t_has(r, "* SEARCH 2 3\r\n");
	free(r);
	r = tc_cmd(&b, "b NOOP");
	assert_string_equal(r, "* 1 EXPUNGE\r\nb OK NOOP completed\r\n");
	free(r);
	/* a delivery: EXISTS in both, \Recent for one of them only */
	deliver(T.inbox, "Subject: new\r\n\r\nbody\r\n");
	tc_expect(&b, "b NOOP", "* 3 EXISTS\r\n* 1 RECENT\r\nb OK");
	r = tc_cmd(&a, "a NOOP");
	assert_string_equal(r, "* 3 EXISTS\r\na OK NOOP completed\r\n");
	free(r);
	tc_expect(&a, "a UID FETCH 4 UID", "* 3 FETCH (UID 4)");
	/* the UID EXPUNGE forms may announce at once */
	free(tc_cmd(&a, "a STORE 3 +FLAGS.SILENT (\\Deleted)"));
	free(tc_cmd(&a, "a EXPUNGE"));
	tc_expect(&b, "b UID FETCH 1:* UID", "* 3 EXPUNGE");
	tc_close(&a);
	tc_close(&b);
}

static void test_idle(void **state)
{
	struct tc c;
	(void)state;

	open_session(&c);
	free(tc_cmd(&c, "a SELECT INBOX"));
	char *r = tc_cmd(&c, "b IDLE");
	assert_string_equal(r, "+ idling\r\n");
	free(r);
	assert_true(imap_session_poll(c.s, &c.out));
	assert_int_equal(c.out.len, 0);
	deliver(T.inbox, "Subject: pushed\r\n\r\nbody\r\n");
	assert_true(imap_session_poll(c.s, &c.out));
	r = tc_take(&c);
	assert_string_equal(r, "* 1 EXISTS\r\n* 1 RECENT\r\n");
	free(r);
	r = tc_cmd(&c, "DONE");
	assert_string_equal(r, "b OK Idle completed\r\n");
	free(r);
	assert_false(imap_session_poll(c.s, &c.out));
	tc_expect(&c, "c IDLE", "+ idling");
	tc_expect(&c, "NOOP", "c BAD Expected DONE");
	tc_expect(&c, "d FETCH 1 UID", "* 1 FETCH (UID 1)");
	tc_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_store_copy_move_expunge, t_clean),
	        cmocka_unit_test_setup(test_append, t_clean),
	        cmocka_unit_test_setup(test_mailbox_management, t_clean),
	        cmocka_unit_test_setup(test_two_sessions_agree, t_clean),
	        cmocka_unit_test_setup(test_idle, t_clean),
	};
	return cmocka_run_group_tests_name("imap_mailbox", tests, t_setup, t_teardown);
}
