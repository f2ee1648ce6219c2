/* SMTP command parser: verbs, MAIL/RCPT paths (RFC 5321 4.1.2), ESMTP parameters, domains, HELO
 * names, UTF-8, the external form of addresses, base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp/smtp_parse.h"

static void verb(const char *line, enum smtp_verb want, const char *arg)
{
	struct smtp_command c;

	smtp_parse_command(line, strlen(line), &c);
	if (c.verb != want)
		print_message("line '%s': verb %s, want %s\n", line, smtp_verb_name(c.verb),
		              smtp_verb_name(want));
	assert_int_equal(c.verb, want);
	assert_int_equal(c.arg_len, strlen(arg));
	assert_memory_equal(c.arg, arg, c.arg_len);
}

static void test_verbs(void **state)
{
	(void)state;
	verb("HELO mx.example", SMTP_VERB_HELO, "mx.example");
	verb("ehlo mx.example", SMTP_VERB_EHLO, "mx.example");
	verb("Mail FROM:<a@b.c>", SMTP_VERB_MAIL, "FROM:<a@b.c>");
	verb("RCPT TO:<a@b.c>  ", SMTP_VERB_RCPT, "TO:<a@b.c>");
	verb("DATA", SMTP_VERB_DATA, "");
	verb("data ", SMTP_VERB_DATA, "");
	verb("BDAT 10 LAST", SMTP_VERB_BDAT, "10 LAST");
	verb("RSET", SMTP_VERB_RSET, "");
	verb("NOOP   hello  there \t", SMTP_VERB_NOOP, "hello  there");
	verb("QUIT", SMTP_VERB_QUIT, "");
	verb("VRFY alice", SMTP_VERB_VRFY, "alice");
	verb("EXPN list", SMTP_VERB_EXPN, "list");
	verb("HELP", SMTP_VERB_HELP, "");
	verb("StartTLS", SMTP_VERB_STARTTLS, "");
	verb("AUTH PLAIN AGFsaWNlAHNlY3JldA==", SMTP_VERB_AUTH, "PLAIN AGFsaWNlAHNlY3JldA==");
	verb("MAILX FROM:<a@b.c>", SMTP_VERB_UNKNOWN, "FROM:<a@b.c>");
	verb("MAI", SMTP_VERB_UNKNOWN, "");
	verb("", SMTP_VERB_UNKNOWN, "");
	verb(" NOOP", SMTP_VERB_UNKNOWN, "NOOP");
	verb("GET / HTTP/1.0", SMTP_VERB_UNKNOWN, "/ HTTP/1.0");
	verb("MAIL\tFROM:<a@b.c>", SMTP_VERB_UNKNOWN, "");
	assert_string_equal(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS");
}

static enum smtp_parse_status mail(const char *arg, bool esmtp, struct smtp_path *p, struct smtp_params *pp)
{
	return smtp_parse_mail(arg, strlen(arg), esmtp, p, pp);
}

static enum smtp_parse_status rcpt(const char *arg, bool smtputf8, struct smtp_path *p)
{
	struct smtp_params pp;
	return smtp_parse_rcpt(arg, strlen(arg), true, smtputf8, p, &pp);
}

static void mail_ok(const char *arg, const char *addr, size_t local_len)
{
	struct smtp_path p;
	struct smtp_params pp;
	enum smtp_parse_status st = mail(arg, true, &p, &pp);

	if (st != SMTP_PARSE_OK)
		print_message("MAIL %s: status %d\n", arg, st);
	assert_int_equal(st, SMTP_PARSE_OK);
	assert_string_equal(p.addr, addr);
	assert_int_equal(p.local_len, local_len);
	assert_int_equal(p.null, addr[0] == '\0');
}

static void mail_err(const char *arg, enum smtp_parse_status want)
{
	struct smtp_path p;
	struct smtp_params pp;
	enum smtp_parse_status st = mail(arg, true, &p, &pp);

	if (st != want)
		print_message("MAIL %s: status %d, want %d\n", arg, st, want);
	assert_int_equal(st, want);
}

static void test_mail_paths(void **state)
{
	(void)state;
	mail_ok("FROM:<alice@example.test>", "alice@example.test", 5);
	mail_ok("from:<Alice@EXAMPLE.Test>", "Alice@example.test", 5); /* local part kept, domain lowered */
	mail_ok("FROM:<>", "", 0);
	mail_ok("FROM: <bob@example.test>", "bob@example.test", 3); /* tolerated space after the colon */
	mail_ok("FROM:<a.b+tag!#$%&'*/=?^_`{|}~-@x.example>", "a.b+tag!#$%&'*/=?^_`{|}~-@x.example", 25);
	mail_ok("FROM:<x@1.2.example>", "x@1.2.example", 1);
	mail_ok("FROM:<x@a-b.example>", "x@a-b.example", 1);
	mail_ok("FROM:<x@[192.0.2.1]>", "x@[192.0.2.1]", 1);
	mail_ok("FROM:<x@[IPv6:2001:db8::1]>", "x@[IPv6:2001:db8::1]", 1);
	/* Source routes are parsed and ignored (4.1.1.3). */
	mail_ok("FROM:<@relay.example:joe@c.example>", "joe@c.example", 3);
	mail_ok("FROM:<@a.example,@b.example:joe@c.example>", "joe@c.example", 3);

	mail_err("FROM:alice@example.test", SMTP_PARSE_SYNTAX);
	mail_err("FROM:<alice@example.test", SMTP_PARSE_SYNTAX);
	mail_err("TO:<alice@example.test>", SMTP_PARSE_SYNTAX);
	mail_err("FROM <alice@example.test>", SMTP_PARSE_SYNTAX);
	mail_err("", SMTP_PARSE_SYNTAX);
	mail_err("FROM:<alice@example.test>x", SMTP_PARSE_SYNTAX);
	mail_err("FROM:<alice>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<postmaster>", SMTP_PARSE_ADDRESS); /* only RCPT may omit the domain */
	mail_err("FROM:<alice@>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<@example.test>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a..b@example.test>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<.a@example.test>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a.@example.test>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a b@example.test>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a(b)@example.test>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a@b@example.test>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a@-x.example>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a@x-.example>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a@x..example>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a@x.example.>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a@.x.example>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a@x_y.example>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a@[300.1.1.1]>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a@[2001:db8::1]>", SMTP_PARSE_ADDRESS); /* the IPv6: tag is required */
	mail_err("FROM:<a@[IPv6:192.0.2.1]>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a@[]>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a@[192.0.2.1>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a\tb@example.test>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<a\x7f@example.test>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<@a.example joe@c.example>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<@a.example,joe@c.example>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<@:joe@c.example>", SMTP_PARSE_ADDRESS);
}

static void test_quoted_local_parts(void **state)
{
	(void)state;
	mail_ok("FROM:<\"john doe\"@example.test>", "john doe@example.test", 8);
	mail_ok("FROM:<\"a\\\"b\"@example.test>", "a\"b@example.test", 3);
	mail_ok("FROM:<\"a\\\\b\"@example.test>", "a\\b@example.test", 3);
	mail_ok("FROM:<\"a@b\"@example.test>", "a@b@example.test", 3);
	mail_ok("FROM:<\"a>b\"@example.test>", "a>b@example.test", 3); /* '>' inside quotes ends nothing */
	mail_ok("FROM:<\"plain\"@example.test>", "plain@example.test", 5);
	mail_err("FROM:<\"\"@example.test>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<\"abc@example.test>", SMTP_PARSE_SYNTAX);
	mail_err("FROM:<\"a\"b@example.test>", SMTP_PARSE_ADDRESS);
	mail_err("FROM:<\"a\\\"@example.test>", SMTP_PARSE_SYNTAX);
}

static void test_lengths(void **state)
{
	char arg[600], local[80], label[80];
	(void)state;

	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(arg, sizeof(arg), "FROM:<%s@example.test>", local);
	mail_ok(arg, strcat(strcpy(label, local), "@example.test"), 64);
	memset(local, 'l', 65);
	local[65] = '\0';
	snprintf(arg, sizeof(arg), "FROM:<%s@example.test>", local);
	mail_err(arg, SMTP_PARSE_ADDRESS);

	memset(label, 'd', 63);
	label[63] = '\0';
	snprintf(arg, sizeof(arg), "FROM:<a@%s.example>", label);
	mail_err(arg, SMTP_PARSE_OK);
	memset(label, 'd', 64);
	label[64] = '\0';
	snprintf(arg, sizeof(arg), "FROM:<a@%s.example>", label);
	mail_err(arg, SMTP_PARSE_ADDRESS);

	/* A path of exactly 256 octets is fine; 257 is not. */
	char dom[300];
	memset(dom, 0, sizeof(dom));
	for (size_t i = 0; i < 252; i++)
		dom[i] = (i % 50 == 49) ? '.' : 'x';
	snprintf(arg, sizeof(arg), "FROM:<a@%s>", dom); /* "<" + "a@" + 252 + ">" = 256 */
	mail_err(arg, SMTP_PARSE_OK);
	snprintf(arg, sizeof(arg), "FROM:<ab@%s>", dom);
	mail_err(arg, SMTP_PARSE_ADDRESS);
}

static void test_params(void **state)
{
	struct smtp_path p;
	struct smtp_params pp;
	(void)state;

	assert_int_equal(mail("FROM:<a@b.example> SIZE=1000 BODY=8BITMIME", true, &p, &pp), SMTP_PARSE_OK);
	assert_true(pp.has_size);
	assert_int_equal(pp.size, 1000);
	assert_int_equal(pp.body, SMTP_BODY_8BITMIME);
	assert_false(pp.smtputf8);
	assert_int_equal(mail("FROM:<a@b.example>  body=7bit   size=0  ", true, &p, &pp), SMTP_PARSE_OK);
	assert_int_equal(pp.body, SMTP_BODY_7BIT);
	assert_int_equal(pp.size, 0);
	assert_int_equal(mail("FROM:<> SMTPUTF8 AUTH=<>", true, &p, &pp), SMTP_PARSE_OK);
	assert_true(pp.smtputf8);
	assert_true(pp.has_auth);
	assert_true(p.null);
	assert_int_equal(mail("FROM:<a@b.example> AUTH=joe+40example.test", true, &p, &pp), SMTP_PARSE_OK);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=99999999999999999999", true, &p, &pp), SMTP_PARSE_OK);
	assert_int_equal(pp.size, UINT64_MAX);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=18446744073709551615", true, &p, &pp), SMTP_PARSE_OK);
	assert_int_equal(pp.size, UINT64_MAX);

	assert_int_equal(mail("FROM:<a@b.example> FOO=bar", true, &p, &pp), SMTP_PARSE_PARAM_UNKNOWN);
	assert_int_equal(pp.bad_len, 7);
	assert_memory_equal(pp.bad, "FOO=bar", 7);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=1 BODY=BINARYMIME", true, &p, &pp),
	                 SMTP_PARSE_PARAM_UNKNOWN);
	assert_memory_equal(pp.bad, "BODY=BINARYMIME", pp.bad_len);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=abc", true, &p, &pp), SMTP_PARSE_PARAM);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=", true, &p, &pp), SMTP_PARSE_PARAM);
	assert_int_equal(mail("FROM:<a@b.example> SIZE", true, &p, &pp), SMTP_PARSE_PARAM);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=-1", true, &p, &pp), SMTP_PARSE_PARAM);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=123456789012345678901", true, &p, &pp),
	                 SMTP_PARSE_PARAM);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=1 SIZE=2", true, &p, &pp), SMTP_PARSE_PARAM);
	assert_int_equal(mail("FROM:<a@b.example> SMTPUTF8=yes", true, &p, &pp), SMTP_PARSE_PARAM);
	assert_int_equal(mail("FROM:<a@b.example> BODY", true, &p, &pp), SMTP_PARSE_PARAM);
	assert_int_equal(mail("FROM:<a@b.example> AUTH=a=b", true, &p, &pp), SMTP_PARSE_PARAM);
	assert_int_equal(mail("FROM:<a@b.example> AUTH=a+4", true, &p, &pp), SMTP_PARSE_PARAM);
	assert_int_equal(mail("FROM:<a@b.example> -X=1", true, &p, &pp), SMTP_PARSE_PARAM);
	assert_int_equal(mail("FROM:<a@b.example> =1", true, &p, &pp), SMTP_PARSE_PARAM);
	/* After HELO there are no parameters. */
	assert_int_equal(mail("FROM:<a@b.example> SIZE=1", false, &p, &pp), SMTP_PARSE_PARAM_UNKNOWN);
	assert_int_equal(mail("FROM:<a@b.example>", false, &p, &pp), SMTP_PARSE_OK);
}

static void test_rcpt(void **state)
{
	struct smtp_path p;
	struct smtp_params pp;
	(void)state;

	assert_int_equal(rcpt("TO:<bob@Example.Test>", false, &p), SMTP_PARSE_OK);
	assert_string_equal(p.addr, "bob@example.test");
	assert_int_equal(rcpt("to:<Postmaster>", false, &p), SMTP_PARSE_OK);
	assert_string_equal(p.addr, "postmaster");
	assert_int_equal(p.local_len, 10);
	assert_int_equal(rcpt("TO:<@x.example:bob@example.test>", false, &p), SMTP_PARSE_OK);
	assert_string_equal(p.addr, "bob@example.test");
	assert_int_equal(rcpt("TO:<>", false, &p), SMTP_PARSE_ADDRESS);
	assert_int_equal(rcpt("TO:<bob>", false, &p), SMTP_PARSE_ADDRESS);
	assert_int_equal(rcpt("FROM:<bob@example.test>", false, &p), SMTP_PARSE_SYNTAX);
	assert_int_equal(rcpt("TO:bob@example.test", false, &p), SMTP_PARSE_SYNTAX);
	assert_int_equal(smtp_parse_rcpt("TO:<bob@example.test> NOTIFY=NEVER", 34, true, false, &p, &pp),
	                 SMTP_PARSE_PARAM_UNKNOWN);
	assert_memory_equal(pp.bad, "NOTIFY=NEVER", pp.bad_len);
}

static void test_utf8(void **state)
{
	struct smtp_path p;
	struct smtp_params pp;
	(void)state;

	assert_int_equal(mail("FROM:<j\xc3\xb6rg@ex\xc3\xa4mple.test> SMTPUTF8", true, &p, &pp),
	                 SMTP_PARSE_OK);
	assert_true(p.utf8);
	assert_string_equal(p.addr, "j\xc3\xb6rg@ex\xc3\xa4mple.test");
	assert_int_equal(mail("FROM:<j\xc3\xb6rg@example.test>", true, &p, &pp), SMTP_PARSE_UTF8);
	assert_int_equal(mail("FROM:<j\xc3(rg@example.test> SMTPUTF8", true, &p, &pp), SMTP_PARSE_ADDRESS);
	assert_int_equal(mail("FROM:<j\xc0\xafrg@example.test> SMTPUTF8", true, &p, &pp), SMTP_PARSE_ADDRESS);
	assert_int_equal(rcpt("TO:<\xe7\x94\xa8\xe6\x88\xb7@example.test>", true, &p), SMTP_PARSE_OK);
	assert_int_equal(rcpt("TO:<\xe7\x94\xa8\xe6\x88\xb7@example.test>", false, &p), SMTP_PARSE_UTF8);

	assert_true(smtp_utf8_valid("", 0));
	assert_true(smtp_utf8_valid("a\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80", 10));
	assert_false(smtp_utf8_valid("\xed\xa0\x80", 3));     /* a surrogate */
	assert_false(smtp_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	assert_false(smtp_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
	assert_false(smtp_utf8_valid("\xc3", 1));             /* truncated */
	assert_false(smtp_utf8_valid("\x80", 1));
	assert_false(smtp_utf8_valid("\xff", 1));
}

static void test_domains_and_helo(void **state)
{
	(void)state;
	assert_true(smtp_valid_domain("example.test", 12, false));
	assert_true(smtp_valid_domain("a", 1, false));
	assert_true(smtp_valid_domain("3com.example", 12, false));
	assert_false(smtp_valid_domain("", 0, false));
	assert_false(smtp_valid_domain("ex\xc3\xa4mple.test", 13, false));
	assert_true(smtp_valid_domain("ex\xc3\xa4mple.test", 13, true));

	assert_true(smtp_valid_helo("client.example", 14));
	assert_true(smtp_valid_helo("DESKTOP_1A2B", 12));
	assert_true(smtp_valid_helo("[192.0.2.1]", 11));
	assert_true(smtp_valid_helo("[IPv6:2001:db8::1]", 18));
	assert_false(smtp_valid_helo("", 0));
	assert_false(smtp_valid_helo("a b", 3));
	assert_false(smtp_valid_helo("a<b", 3));
	assert_false(smtp_valid_helo("a(b)", 4));
	assert_false(smtp_valid_helo("[192.0.2]", 9));
	char longname[300];
	memset(longname, 'h', sizeof(longname));
	assert_true(smtp_valid_helo(longname, 255));
	assert_false(smtp_valid_helo(longname, 256));
}

static void test_external_form(void **state)
{
	char out[600];
	(void)state;

	assert_int_equal(smtp_addr_external("alice@example.test", 5, out, sizeof(out)), 18);
	assert_string_equal(out, "alice@example.test");
	smtp_addr_external("john doe@example.test", 8, out, sizeof(out));
	assert_string_equal(out, "\"john doe\"@example.test");
	smtp_addr_external("a\"b@example.test", 3, out, sizeof(out));
	assert_string_equal(out, "\"a\\\"b\"@example.test");
	smtp_addr_external("a@b@example.test", 3, out, sizeof(out));
	assert_string_equal(out, "\"a@b\"@example.test");
	smtp_addr_external("a..b@example.test", 4, out, sizeof(out));
	assert_string_equal(out, "\"a..b\"@example.test");
	smtp_addr_external("postmaster", 10, out, sizeof(out));
	assert_string_equal(out, "postmaster");
	assert_int_equal(smtp_addr_external("alice@example.test", 5, out, 18), 0);
	assert_int_equal(smtp_addr_external("alice@example.test", 5, out, 19), 18);
	assert_int_equal(smtp_addr_external("john doe@x", 8, out, 12), 0);

	/* What the parser unquotes, the external form quotes back to something that parses the same. */
	struct smtp_path p, q;
	struct smtp_params pp;
	char arg[700];
	assert_int_equal(mail("FROM:<\"a \\\\ \\\" b\"@example.test>", true, &p, &pp), SMTP_PARSE_OK);
	smtp_addr_external(p.addr, p.local_len, out, sizeof(out));
	snprintf(arg, sizeof(arg), "FROM:<%s>", out);
	assert_int_equal(mail(arg, true, &q, &pp), SMTP_PARSE_OK);
	assert_string_equal(p.addr, q.addr);
}

static void b64(const char *in, const char *want)
{
	unsigned char out[64];
	long n = smtp_b64_decode(in, strlen(in), out, sizeof(out));

	if (!want) {
		if (n != -1)
			print_message("'%s' decoded, should not\n", in);
		assert_int_equal(n, -1);
		return;
	}
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, (size_t)n);
	char enc[100];
	assert_int_equal(smtp_b64_encode(out, (size_t)n, enc, sizeof(enc)), strlen(in));
	assert_string_equal(enc, in);
}

static void test_base64(void **state)
{
	unsigned char out[8];
	(void)state;

	/* RFC 4648 section 10 */
	b64("", "");
	b64("Zg==", "f");
	b64("Zm8=", "fo");
	b64("Zm9v", "foo");
	b64("Zm9vYg==", "foob");
	b64("Zm9vYmE=", "fooba");
	b64("Zm9vYmFy", "foobar");
	b64("dXNlcm5hbWU6", "username:");
	b64("+/+/", "\xfb\xff\xbf");
	b64("Zg", NULL);
	b64("Zg=", NULL);
	b64("Z===", NULL);
	b64("====", NULL);
	b64("Zg==Zg==", NULL);
	b64("Zm=v", NULL);
	b64("Zm9v\n", NULL);
	b64("Zm 9", NULL);
	b64("Zm9-", NULL);
	b64("Zm9_", NULL);
	/* With NULs inside, as AUTH PLAIN sends. */
	assert_int_equal(smtp_b64_decode("AGFsaWNlAHNlY3JldA==", 20, out, 8), -1); /* does not fit */
	unsigned char big[32];
	assert_int_equal(smtp_b64_decode("AGFsaWNlAHNlY3JldA==", 20, big, sizeof(big)), 13);
	assert_memory_equal(big, "\0alice\0secret", 13);
	assert_int_equal(smtp_b64_encode(big, 13, (char *)out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_verbs),
	        cmocka_unit_test(test_mail_paths),
	        cmocka_unit_test(test_quoted_local_parts),
	        cmocka_unit_test(test_lengths),
	        cmocka_unit_test(test_params),
	        cmocka_unit_test(test_rcpt),
	        cmocka_unit_test(test_utf8),
	        cmocka_unit_test(test_domains_and_helo),
	        cmocka_unit_test(test_external_form),
	        cmocka_unit_test(test_base64),
	};
	return cmocka_run_group_tests_name("smtp_parse", tests, NULL, NULL);
}
