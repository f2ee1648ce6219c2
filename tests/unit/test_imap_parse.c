/* The IMAP parsers, pure functions over bytes: arguments (atoms, quoted strings, literals, sequence
 * sets, dates, flags), literal announcements, LIST patterns, the quoting of emitted strings, FETCH
 * attributes and sections, SEARCH keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_fetch.h"
#include "imap/imap_internal.h"
#include "imap/imap_parse.h"
#include "imap/imap_search.h"

/* A parser over a writable copy of text (quoted strings are unescaped in place). */
struct px {
	char *buf;
	struct imap_parser ps;
};

static struct imap_parser *px(struct px *x, const char *text)
{
	x->buf = strdup(text);
	assert_non_null(x->buf);
	ip_init(&x->ps, x->buf, strlen(text));
	return &x->ps;
}

static void px_free(struct px *x)
{
	free(x->buf);
}

static void assert_str(struct imap_str s, const char *want)
{
	assert_non_null(s.p);
	assert_int_equal(s.len, strlen(want));
	assert_memory_equal(s.p, want, s.len);
}

static void test_atoms_and_tags(void **state)
{
	struct px x;
	struct imap_str s;
	(void)state;

	struct imap_parser *ps = px(&x, "a001 FETCH");
	assert_true(ip_tag(ps, &s));
	assert_str(s, "a001");
	assert_true(ip_sp(ps));
	assert_true(ip_atom(ps, &s));
	assert_str(s, "FETCH");
	assert_true(ip_eol(ps));
	px_free(&x);

	/* '+' cannot be in a tag; specials end an atom; an empty atom is an error */
	ps = px(&x, "a+1");
	assert_true(ip_tag(ps, &s));
	assert_str(s, "a");
	px_free(&x);
	ps = px(&x, "(x");
	assert_false(ip_atom(ps, &s));
	assert_non_null(ps->err);
	px_free(&x);
	ps = px(&x, "ab]c d");
	assert_true(ip_atom(ps, &s));
	assert_str(s, "ab");
	px_free(&x);
	ps = px(&x, "ab]c d");
	assert_true(ip_astring(ps, &s)); /* ']' is an ASTRING-CHAR */
	assert_str(s, "ab]c");
	px_free(&x);
}

static void test_quoted_strings(void **state)
{
	struct px x;
	struct imap_str s;
	(void)state;

	struct imap_parser *ps = px(&x, "\"hello world\" rest");
	assert_true(ip_astring(ps, &s));
	assert_str(s, "hello world");
	assert_true(ip_sp(ps));
	px_free(&x);

	ps = px(&x, "\"a \\\"quoted\\\" \\\\ b\"");
	assert_true(ip_string(ps, &s));
	assert_str(s, "a \"quoted\" \\ b");
	assert_true(ip_eol(ps));
	px_free(&x);

	ps = px(&x, "\"\"");
	assert_true(ip_string(ps, &s));
	assert_int_equal(s.len, 0);
	px_free(&x);

	const char *bad[] = {"\"unterminated", "\"bad \\x escape\"", "\"cr\r\"", "\"lf\n\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ps = px(&x, bad[i]);
		assert_false(ip_string(ps, &s));
		assert_non_null(ps->err);
		px_free(&x);
	}
}

static void test_literals(void **state)
{
	struct px x;
	struct imap_str s;
	(void)state;

	struct imap_parser *ps = px(&x, "{5}\r\nab\r\nc {0+}\r\n");
	assert_true(ip_astring(ps, &s));
	assert_str(s, "ab\r\nc");
	assert_true(ip_sp(ps));
	assert_true(ip_string(ps, &s));
	assert_int_equal(s.len, 0);
	assert_true(ip_eol(ps));
	px_free(&x);

	/* a literal may hold NUL and any octet; the parser takes exactly n */
	char lit[] = "{3}\r\na\0b";
	struct imap_parser raw;
	ip_init(&raw, lit, sizeof(lit) - 1);
	assert_true(ip_string(&raw, &s));
	assert_int_equal(s.len, 3);
	assert_int_equal(s.p[1], '\0');

	const char *bad[] = {"{5}\r\nabc", "{x}\r\nabc", "{3}abc", "{}\r\n", "{99999999999999999999999}\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ps = px(&x, bad[i]);
		assert_false(ip_string(ps, &s));
		px_free(&x);
	}
	/* NUL is refused where a name or password is expected */
	char nul[] = "{3}\r\na\0b";
	ip_init(&raw, nul, sizeof(nul) - 1);
	char out[16];
	assert_false(ip_astring_copy(&raw, out, sizeof(out)));
}

static void test_literal_announcements(void **state)
{
	uint64_t n;
	bool plus, bad;
	(void)state;

	assert_true(ip_literal_at_end("A1 LOGIN {5}", 12, &n, &plus, &bad));
	assert_int_equal(n, 5);
	assert_false(plus);
	assert_false(bad);
	assert_true(ip_literal_at_end("A1 APPEND x {123+}", 18, &n, &plus, &bad));
	assert_int_equal(n, 123);
	assert_true(plus);
	assert_false(ip_literal_at_end("A1 NOOP", 7, &n, &plus, &bad));
	assert_false(ip_literal_at_end("A1 X 5}", 7, &n, &plus, &bad));
	assert_true(ip_literal_at_end("A1 X {}", 7, &n, &plus, &bad));
	assert_true(bad);
	assert_true(ip_literal_at_end("A1 X {99999999999999999999}", 27, &n, &plus, &bad));
	assert_true(bad);
}

static void test_mailbox_names(void **state)
{
	struct px x;
	char name[32];
	(void)state;

	struct imap_parser *ps = px(&x, "inbox");
	assert_true(ip_mailbox(ps, name, sizeof(name)));
	assert_string_equal(name, "INBOX");
	px_free(&x);
	ps = px(&x, "\"Sent Items\"");
	assert_true(ip_mailbox(ps, name, sizeof(name)));
	assert_string_equal(name, "Sent Items");
	px_free(&x);
	ps = px(&x, "\"a very long name that does not fit\"");
	assert_false(ip_mailbox(ps, name, sizeof(name)));
	px_free(&x);
}

static void test_sequence_sets(void **state)
{
	struct px x;
	struct imap_seqset set;
	(void)state;

	struct imap_parser *ps = px(&x, "1:3,7,10:*,*");
	assert_true(ip_seqset(ps, &set));
	assert_int_equal(set.n, 4);
	assert_int_equal(set.r[2].lo, 10);
	assert_int_equal(set.r[2].hi, SEQ_STAR);
	for (uint32_t v = 1; v <= 12; v++)
		assert_int_equal(seqset_contains(&set, v, 12), v <= 3 || v == 7 || v >= 10);
	/* "10:*" with "*" = 5 is 5:10 */
	assert_true(seqset_contains(&set, 5, 5));
	assert_false(seqset_contains(&set, 4, 5));
	assert_int_equal(seqset_max(&set, 12), 12);
	seqset_free(&set);
	px_free(&x);

	ps = px(&x, "5:2");
	assert_true(ip_seqset(ps, &set));
	assert_true(seqset_contains(&set, 3, 100));
	seqset_free(&set);
	px_free(&x);

	const char *bad[] = {"0", "1:0", ",1", "1,", "a", "1:", "4294967296"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ps = px(&x, bad[i]);
		bool ok = ip_seqset(ps, &set) && ip_eol(ps);
		assert_false(ok);
		seqset_free(&set);
		px_free(&x);
	}
}

static void test_dates_and_flags(void **state)
{
	struct px x;
	time_t t;
	struct imap_str f;
	(void)state;

	struct imap_parser *ps = px(&x, "1-Feb-1994");
	assert_true(ip_date(ps, &t));
	assert_int_equal(t, 760060800);
	px_free(&x);
	ps = px(&x, "\"01-feb-1994\"");
	assert_true(ip_date(ps, &t));
	assert_int_equal(t, 760060800);
	px_free(&x);
	ps = px(&x, "\"17-Jul-1996 02:44:25 -0700\"");
	assert_true(ip_datetime(ps, &t));
	assert_int_equal(t, 837596665);
	px_free(&x);
	ps = px(&x, "\" 7-Jul-1996 02:44:25 +0000\"");
	assert_true(ip_datetime(ps, &t));
	px_free(&x);
	const char *bad[] = {"\"17-Jul-1996 02:44:25\"", "\"17-Foo-1996 02:44:25 +0000\"",
	                     "17-Jul-1996 02:44:25 +0000", "\"32-Jul-1996 02:44:25 +0000\"",
	                     "\"17-Jul-1996 25:44:25 +0000\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ps = px(&x, bad[i]);
		assert_false(ip_datetime(ps, &t));
		px_free(&x);
	}
	ps = px(&x, "\\Seen $Forwarded");
	assert_true(ip_flag(ps, &f));
	assert_str(f, "\\Seen");
	assert_true(ip_sp(ps));
	assert_true(ip_flag(ps, &f));
	assert_str(f, "$Forwarded");
	px_free(&x);

	unsigned flags;
	ps = px(&x, "(\\Seen \\Deleted $Junk)");
	assert_true(imap_parse_flags(ps, &flags, true));
	assert_int_equal(flags, MBOX_SEEN | MBOX_DELETED);
	px_free(&x);
	ps = px(&x, "(\\Bogus)");
	assert_false(imap_parse_flags(ps, &flags, true));
	px_free(&x);
	ps = px(&x, "()");
	assert_true(imap_parse_flags(ps, &flags, true));
	assert_int_equal(flags, 0);
	px_free(&x);
}

static void test_list_patterns(void **state)
{
	(void)state;
	assert_true(imap_list_match("*", "INBOX"));
	assert_true(imap_list_match("inbox", "INBOX"));
	assert_true(imap_list_match("%", "Sent"));
	assert_false(imap_list_match("%", "Foo.Bar"));
	assert_true(imap_list_match("*", "Foo.Bar"));
	assert_true(imap_list_match("Foo.%", "Foo.Bar"));
	assert_false(imap_list_match("Foo.%", "Foo.Bar.Baz"));
	assert_true(imap_list_match("Foo*", "Foo.Bar.Baz"));
	assert_true(imap_list_match("*a*z", "Foo.Bar.Baz"));
	assert_false(imap_list_match("Fo", "Foo"));
	assert_true(imap_list_match("%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%b",
	                            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
}

static char *written(struct obuf *o)
{
	char *s = strndup(o->data ? o->data : "", o->len);
	assert_non_null(s);
	o->len = 0;
	return s;
}

static void test_quoting(void **state)
{
	struct obuf o = {0};
	char *s;
	(void)state;

	imap_put_string(&o, "plain", 5);
	assert_string_equal(s = written(&o), "\"plain\"");
	free(s);
	imap_put_string(&o, "a\"b\\c", 5);
	assert_string_equal(s = written(&o), "\"a\\\"b\\\\c\"");
	free(s);
	imap_put_string(&o, "two\r\nlines", 10);
	assert_string_equal(s = written(&o), "{10}\r\ntwo\r\nlines");
	free(s);
	imap_put_string(&o, "caf\xc3\xa9", 5);
	assert_string_equal(s = written(&o), "{5}\r\ncaf\xc3\xa9");
	free(s);
	imap_put_cstr(&o, NULL);
	assert_string_equal(s = written(&o), "NIL");
	free(s);
	imap_put_string(&o, "", 0);
	assert_string_equal(s = written(&o), "\"\"");
	free(s);
	imap_put_flags(&o, MBOX_SEEN | MBOX_ANSWERED, true);
	assert_string_equal(s = written(&o), "(\\Answered \\Seen \\Recent)");
	free(s);
	imap_put_date(&o, 837596665);
	assert_string_equal(s = written(&o), "\"17-Jul-1996 09:44:25 +0000\"");
	free(s);
	obuf_free(&o);
}

static void test_fetch_attributes(void **state)
{
	struct px x;
	struct fetch_req r;
	(void)state;

	struct imap_parser *ps =
	        px(&x, "(UID FLAGS BODY.PEEK[1.2.HEADER.FIELDS (from to)]<0.100> BODY[TEXT] RFC822.SIZE)");
	assert_true(fetch_parse(ps, &r));
	assert_int_equal(r.bits, F_UID | F_FLAGS | F_SIZE);
	assert_int_equal(r.nbodies, 2);
	assert_true(r.bodies[0].peek);
	assert_int_equal(r.bodies[0].npath, 2);
	assert_int_equal(r.bodies[0].kind, SEC_FIELDS);
	assert_string_equal(r.bodies[0].spec, "1.2.HEADER.FIELDS (FROM TO)");
	assert_true(r.bodies[0].partial);
	assert_int_equal(r.bodies[0].count, 100);
	assert_false(r.bodies[1].peek);
	assert_string_equal(r.bodies[1].spec, "TEXT");
	assert_true(fetch_sets_seen(&r));
	assert_true(fetch_needs_body(&r));
	fetch_req_free(&r);
	px_free(&x);

	ps = px(&x, "ALL");
	assert_true(fetch_parse(ps, &r));
	assert_int_equal(r.bits, F_FLAGS | F_INTERNALDATE | F_SIZE | F_ENVELOPE);
	assert_false(fetch_needs_body(&r));
	fetch_req_free(&r);
	px_free(&x);

	ps = px(&x, "(RFC822.HEADER BODY[3.MIME] BODY.PEEK[])");
	assert_true(fetch_parse(ps, &r));
	assert_string_equal(r.bodies[0].label, "RFC822.HEADER");
	assert_int_equal(r.bodies[1].kind, SEC_MIME);
	assert_string_equal(r.bodies[1].spec, "3.MIME");
	assert_string_equal(r.bodies[2].spec, "");
	fetch_req_free(&r);
	px_free(&x);

	const char *bad[] = {"(FLAGS",    "BOGUS",       "BODY[MIME]",
	                     "BODY[0]",   "BODY[1.FOO]", "BODY[HEADER.FIELDS ()]",
	                     "BODY[]<1>", "BODY[]<1.0>", "BODY[HEADER.FIELDS (a:b)]",
	                     "(UID) x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ps = px(&x, bad[i]);
		bool ok = fetch_parse(ps, &r);
		if (ok)
			print_message("accepted: %s\n", bad[i]);
		assert_false(ok);
		fetch_req_free(&r);
		px_free(&x);
	}
}

static void test_search_keys(void **state)
{
	struct px x;
	bool badcs, h, b;
	(void)state;

	struct imap_parser *ps =
	        px(&x, " CHARSET UTF-8 OR FROM alice (SUBJECT \"x y\" UNSEEN) NOT 1:3 UID 5:* LARGER 10 "
	               "SINCE 1-Jan-2020 HEADER X-Foo bar BODY zz");
	struct snode *q = search_parse(ps, &badcs);
	assert_non_null(q);
	assert_int_equal(q->key, SK_AND);
	assert_int_equal(q->kids->key, SK_OR);
	assert_int_equal(q->kids->kids->key, SK_HEADER);
	assert_string_equal(q->kids->kids->field, "FROM");
	assert_int_equal(q->kids->kids->next->key, SK_AND);
	assert_int_equal(q->kids->next->key, SK_NOT);
	assert_int_equal(q->kids->next->kids->key, SK_SEQ);
	search_needs(q, &h, &b);
	assert_true(h);
	assert_true(b);
	search_free(q);
	px_free(&x);

	ps = px(&x, " CHARSET KOI8-R ALL");
	assert_null(search_parse(ps, &badcs));
	assert_true(badcs);
	px_free(&x);

	const char *bad[] = {
	        " FOO",
	        " (ALL",
	        " OR ALL",
	        " SINCE yesterday",
	        " LARGER x",
	        " ALL)",
	        "",
	        " NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT "
	        "NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT ALL"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ps = px(&x, bad[i]);
		q = search_parse(ps, &badcs);
		if (q)
			print_message("accepted: %s\n", bad[i]);
		assert_null(q);
		assert_false(badcs);
		px_free(&x);
	}
	assert_true(search_contains("Hello World", 11, "wORLD", 5));
	assert_false(search_contains("Hello", 5, "hello!", 6));
	assert_true(search_contains("x", 1, "", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_atoms_and_tags),  cmocka_unit_test(test_quoted_strings),
	        cmocka_unit_test(test_literals),        cmocka_unit_test(test_literal_announcements),
	        cmocka_unit_test(test_mailbox_names),   cmocka_unit_test(test_sequence_sets),
	        cmocka_unit_test(test_dates_and_flags), cmocka_unit_test(test_list_patterns),
	        cmocka_unit_test(test_quoting),         cmocka_unit_test(test_fetch_attributes),
	        cmocka_unit_test(test_search_keys),
	};
	return cmocka_run_group_tests_name("imap_parse", tests, NULL, NULL);
}
