/* The SMTP session end to end over bytes, with real parts: a passwd-file with crypt(3) hashes, real
 * Maildirs in a temporary directory, the real config and origin structs filled in by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <crypt.h>
#include <dirent.h>
#include <ftw.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/origin.h"
#include "smtp/smtp.h"
#include "store/maildir.h"

#define HOST     "mx.example.test"
#define MAX_SIZE 10000u

/* ---- the environment: one temporary directory for the whole group ---- */

static char tmpdir[256], mail_root[300], passwd_path[300];
static char *domains[] = {"example.test", "example.org"};
static struct config cfg;
static struct listener_conf lc_smtp, lc_smtp_tls, lc_sub, lc_sub_tls, lc_sub_plain;
static struct passwd_db *users;
static struct origin origin_proxied, origin_direct;

static void write_user(FILE *f, const char *user, const char *password, const char *salt)
{
	const char *h = crypt(password, salt);
	assert_non_null(h);
	assert_true(h[0] == '$');
	fprintf(f, "%s:{SHA512-CRYPT}%s::::::\n", user, h);
}

static void make_origin(struct origin *o, const char *client, uint16_t cport, const char *peer,
                        uint16_t pport, bool via_proxy)
{
	memset(o, 0, sizeof(*o));
	assert_true(pp_sockaddr_parse(&o->client, client, cport));
	assert_true(pp_sockaddr_parse(&o->peer, peer, pport));
	assert_true(pp_sockaddr_parse(&o->local, "192.0.2.25", 25));
	o->via_proxy = via_proxy;
	origin_update_text(o);
}

static int group_setup(void **state)
{
	(void)state;
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/smtp-test-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(mail_root, sizeof(mail_root), "%s/mail", tmpdir);
	snprintf(passwd_path, sizeof(passwd_path), "%s/passwd", tmpdir);
	FILE *f = fopen(passwd_path, "w");
	if (!f)
		return -1;
	fprintf(f, "# test users\n\n");
	write_user(f, "alice@example.test", "secret", "$6$saltsaltsalt01$");
	write_user(f, "bob@example.test", "hunter2", "$6$saltsaltsalt02$");
	write_user(f, "carol@example.org", "c4r0l", "$6$saltsaltsalt03$");
	write_user(f, "dave@example.test", "d", "$6$saltsaltsalt04$");
	write_user(f, "postmaster@example.test", "pm", "$6$saltsaltsalt05$");
	fclose(f);
	char err[256];
	users = passwd_db_load(passwd_path, false, err, sizeof(err));
	if (!users) {
		fprintf(stderr, "passwd_db_load: %s\n", err);
		return -1;
	}

	cfg = (struct config){
	        .hostname = HOST,
	        .domains = domains,
	        .ndomains = 2,
	        .mail_root = mail_root,
	        .passwd_file = passwd_path,
	        .relay_host = "",
	        .max_message_size = MAX_SIZE,
	        .max_line = 1000,
	        .max_recipients = 3,
	};
	lc_smtp = (struct listener_conf){.name = "mx", .proto = PROTO_SMTP, .tls = TLS_NONE};
	lc_smtp_tls = (struct listener_conf){.name = "mx-tls", .proto = PROTO_SMTP, .tls = TLS_STARTTLS};
	lc_sub = (struct listener_conf){.name = "sub", .proto = PROTO_SUBMISSION, .tls = TLS_STARTTLS};
	lc_sub_tls = (struct listener_conf){.name = "subs", .proto = PROTO_SUBMISSION, .tls = TLS_IMPLICIT};
	lc_sub_plain = (struct listener_conf){
	        .name = "sub-plain", .proto = PROTO_SUBMISSION, .tls = TLS_NONE, .auth_plaintext = true};
	make_origin(&origin_proxied, "203.0.113.10", 51234, "198.51.100.7", 40000, true);
	make_origin(&origin_direct, "192.0.2.99", 40001, "192.0.2.99", 40001, false);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_teardown(void **state)
{
	(void)state;
	passwd_db_free(users);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- a client: buffers what the session leaves unconsumed, as the net layer does ---- */

struct client {
	struct smtp_ctx ctx;
	struct smtp_session *s;
	struct obuf out;
	char *pend;
	size_t plen;
	enum smtp_action act;
	bool starttls, closed;
};

static void c_open(struct client *c, const struct listener_conf *lc, const struct origin *o, const char *tls)
{
	memset(c, 0, sizeof(*c));
	c->ctx = (struct smtp_ctx){.cfg = &cfg, .lc = lc, .users = users, .origin = o, .tls_info = tls};
	c->s = smtp_session_new(&c->ctx);
	assert_non_null(c->s);
}

/* The same session parameters with another configuration. */
static void c_use_config(struct client *c, const struct config *conf)
{
	smtp_session_free(c->s);
	c->ctx.cfg = conf;
	c->s = smtp_session_new(&c->ctx);
	assert_non_null(c->s);
}

static void c_close(struct client *c)
{
	smtp_session_free(c->s);
	obuf_free(&c->out);
	free(c->pend);
	c->s = NULL;
}

static void c_send_n(struct client *c, const char *data, size_t len)
{
	char *p = realloc(c->pend, c->plen + len + 1);
	assert_non_null(p);
	if (!p)
		return;
	c->pend = p;
	memcpy(c->pend + c->plen, data, len);
	c->plen += len;
	size_t n = smtp_session_input(c->s, c->pend, c->plen, &c->out, &c->act);
	assert_true(n <= c->plen);
	if (n > c->plen)
		n = c->plen;
	if (c->act == SMTP_STARTTLS)
		c->starttls = true;
	if (c->act == SMTP_CLOSE)
		c->closed = true;
	if (c->act != SMTP_CONTINUE)
		assert_int_equal(n, c->plen); /* the rest is consumed and ignored */
	else if (n < c->plen && !smtp_session_in_data(c->s))
		assert_true(c->plen - n < cfg.max_line); /* only an incomplete line is left */
	memmove(c->pend, c->pend + n, c->plen - n);
	c->plen -= n;
}

static void c_send(struct client *c, const char *data)
{
	c_send_n(c, data, strlen(data));
}

/* Everything the session queued since the last call, as a string. */
static char *c_take(struct client *c)
{
	char *s = malloc(c->out.len + 1);
	assert_non_null(s);
	memcpy(s, c->out.data ? c->out.data : "", c->out.len);
	s[c->out.len] = '\0';
	c->out.len = 0;
	return s;
}

static void c_expect(struct client *c, const char *want)
{
	char *got = c_take(c);
	if (strcmp(got, want) != 0)
		print_message("got:\n%s\nwant:\n%s\n", got, want);
	assert_string_equal(got, want);
	free(got);
}

/* Send and ignore the replies. */
static void c_drain(struct client *c, const char *data)
{
	c_send(c, data);
	free(c_take(c));
}

/* Send and check the replies. */
static void say(struct client *c, const char *data, const char *want)
{
	c_send(c, data);
	c_expect(c, want);
}

/* Replace every "queued as <id>" id with "ID", so runs compare equal; the id found goes to *id. */
static void mask_ids(char *s, char *id, size_t cap)
{
	for (char *p = strstr(s, "queued as "); p; p = strstr(p, "queued as ")) {
		p += 10;
		size_t n = strcspn(p, "\r");
		if (id && cap) {
			snprintf(id, cap, "%.*s", (int)n, p);
		}
		memmove(p + 2, p + n, strlen(p + n) + 1);
		memcpy(p, "ID", 2);
	}
}

/* ---- Maildirs ---- */

static void maildir_of(const char *user, char *out, size_t cap)
{
	assert_true(maildir_path(mail_root, user, out, cap));
}

static size_t count_dir(const char *user, const char *sub)
{
	char path[600], md[500];
	size_t n = 0;

	maildir_of(user, md, sizeof(md));
	snprintf(path, sizeof(path), "%s/%s", md, sub);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* The messages in user's new/ (removed from it), sorted by name; returns how many. The slots after
 * them get "", so that every one of the max slots is a string to free. */
static size_t take_mail(const char *user, char **msgs, size_t max)
{
	char md[500], path[1200];
	struct dirent **list = NULL;
	size_t n = 0;

	maildir_of(user, md, sizeof(md));
	snprintf(path, sizeof(path), "%s/new", md);
	int k = scandir(path, &list, NULL, alphasort);
	for (int i = 0; i < k; i++) {
		if (list[i]->d_name[0] != '.' && n < max) {
			size_t len;
			snprintf(path, sizeof(path), "%s/new/%s", md, list[i]->d_name);
			msgs[n++] = read_file(path, &len);
			assert_int_equal(unlink(path), 0);
		}
		free(list[i]);
	}
	free(list);
	for (size_t i = n; i < max; i++) {
		msgs[i] = strdup("");
		assert_non_null(msgs[i]);
	}
	return n;
}

static void free_mail(char **msgs, size_t max)
{
	for (size_t i = 0; i < max; i++)
		free(msgs[i]);
}

/* The message as the client sent it: what follows our Return-Path and Received lines. */
static const char *body_of(const char *msg)
{
	const char *p = msg;
	assert_true(strncmp(p, "Return-Path: <", 14) == 0);
	p = strstr(p, "\r\nReceived: from ");
	assert_non_null(p);
	do {
		p = p ? strstr(p + 1, "\r\n") : NULL;
		assert_non_null(p);
		if (!p)
			return "";
		p += 1;
	} while (p[1] == '\t');
	return p + 1;
}

static void expect_one_message(const char *user, const char *body)
{
	char *m[4];
	size_t n = take_mail(user, m, 4);
	assert_int_equal(n, 1);
	assert_string_equal(body_of(m[0]), body);
	free_mail(m, 4);
}

static void expect_no_mail(const char *user)
{
	assert_int_equal(count_dir(user, "new"), 0);
	assert_int_equal(count_dir(user, "tmp"), 0);
}

/* ---- greeting and EHLO: the original client's address ---- */

#define EHLO_SMTP                                                                                            \
	"250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n"

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
	assert_int_equal(c.plen, 0);
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

#define TX_REPLIES(n) "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n" n "354 End data with <CR><LF>.<CR><LF>\r\n"

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
	assert_int_equal(c.plen, 999);
	c_send_n(&c, line, 1);
	c_expect(&c, "500 5.5.2 Error: line too long\r\n");
	assert_int_equal(c.plen, 0);
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
	assert_int_equal(c.plen, 0);
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
	        cmocka_unit_test(test_greeting_and_ehlo_show_the_origin),
	        cmocka_unit_test(test_ipv4_mapped_and_ipv6_origins),
	        cmocka_unit_test(test_commands),
	        cmocka_unit_test(test_mail_rcpt_syntax),
	        cmocka_unit_test(test_pipelined_delivery_to_two_recipients),
	        cmocka_unit_test(test_single_recipient_direct),
	        cmocka_unit_test(test_dot_unstuffing),
	        cmocka_unit_test(test_every_split_gives_the_same_result),
	        cmocka_unit_test(test_size_limits),
	        cmocka_unit_test(test_line_too_long),
	        cmocka_unit_test(test_bare_lf_in_data_is_rejected),
	        cmocka_unit_test(test_recipients),
	        cmocka_unit_test(test_submission_requires_auth),
	        cmocka_unit_test(test_auth_plain),
	        cmocka_unit_test(test_smtputf8_and_relay_host),
	        cmocka_unit_test(test_auth_login),
	        cmocka_unit_test(test_auth_three_failures_close),
	        cmocka_unit_test(test_auth_where_not_offered),
	        cmocka_unit_test(test_starttls),
	        cmocka_unit_test(test_free_mid_data_leaves_nothing),
	        cmocka_unit_test(test_timeout_and_shutdown),
	        cmocka_unit_test(test_too_many_errors),
	        cmocka_unit_test(test_delivery_failure),
	        cmocka_unit_test(test_idle_memory),
	        cmocka_unit_test(test_progress),
	};
	return cmocka_run_group_tests_name("smtp_session", tests, group_setup, group_teardown);
}
