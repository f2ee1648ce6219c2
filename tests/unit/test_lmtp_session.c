/* The SMTP session in its LMTP mode (RFC 2033) over bytes, with a real passwd-file and real Maildirs: LHLO
 * instead of HELO/EHLO, and after the data one reply per accepted recipient, each for its own delivery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <crypt.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/origin.h"
#include "smtp/smtp.h"
#include "store/maildir.h"

#define HOST "mx.example.test"

static char tmpdir[256], mail_root[300], passwd_path[300];
static char *domains[] = {"example.test"};
static struct config cfg;
static struct listener_conf lc_lmtp, lc_smtp;
static struct passwd_db *users;
static struct origin origin_unix, origin_proxied;

static int group_setup(void **state)
{
	const char *base = getenv("TMPDIR");
	char err[256];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/lmtp-test-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(mail_root, sizeof(mail_root), "%s/mail", tmpdir);
	snprintf(passwd_path, sizeof(passwd_path), "%s/passwd", tmpdir);
	FILE *f = fopen(passwd_path, "w");
	if (!f)
		return -1;
	const char *h = crypt("x", "$6$saltsaltsalt01$");
	fprintf(f,
	        "alice@example.test:{SHA512-CRYPT}%s::::::\nbob@example.test:{SHA512-CRYPT}%s::::::\n"
	        "carol@example.test:{SHA512-CRYPT}%s::::::\n",
	        h, h, h);
	fclose(f);
	users = passwd_db_load(passwd_path, false, err, sizeof(err));
	if (!users)
		return -1;
	cfg = (struct config){.hostname = HOST,
	                      .domains = domains,
	                      .ndomains = 1,
	                      .mail_root = mail_root,
	                      .passwd_file = passwd_path,
	                      .relay_host = "",
	                      .max_message_size = 10000,
	                      .max_line = 1000,
	                      .max_recipients = 10};
	lc_lmtp = (struct listener_conf){.name = "lmtp", .proto = PROTO_LMTP};
	lc_smtp = (struct listener_conf){.name = "mx", .proto = PROTO_SMTP};
	memset(&origin_unix, 0, sizeof(origin_unix));
	origin_unix.peer.un.sun_family = AF_UNIX;
	origin_unix.client = origin_unix.peer;
	origin_unix.unix_peer = true;
	origin_unix.unix_uid = 108;
	origin_update_text(&origin_unix);
	memset(&origin_proxied, 0, sizeof(origin_proxied));
	pp_sockaddr_parse(&origin_proxied.client, "203.0.113.10", 51234);
	pp_sockaddr_parse(&origin_proxied.peer, "198.51.100.7", 40000);
	origin_proxied.via_proxy = true;
	origin_update_text(&origin_proxied);
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

struct client {
	struct smtp_ctx ctx;
	struct smtp_session *s;
	struct obuf out;
};

static void c_open(struct client *c, const struct listener_conf *lc, const struct origin *o)
{
	memset(c, 0, sizeof(*c));
	c->ctx = (struct smtp_ctx){.cfg = &cfg, .lc = lc, .users = users, .origin = o};
	c->s = smtp_session_new(&c->ctx);
	assert_non_null(c->s);
}

static void c_close(struct client *c)
{
	smtp_session_free(c->s);
	obuf_free(&c->out);
}

/* Send complete lines; the replies, with every "as <id>" masked to "as ID". */
static void say(struct client *c, const char *data, const char *want)
{
	enum smtp_action act;
	size_t n = smtp_session_input(c->s, data, strlen(data), &c->out, &act);
	char *got = strndup(c->out.data ? c->out.data : "", c->out.len);

	assert_int_equal(n, strlen(data));
	c->out.len = 0;
	for (char *p = strstr(got, " as "); p; p = strstr(p + 1, " as ")) {
		size_t id = strcspn(p + 4, "\r");
		memmove(p + 6, p + 4 + id, strlen(p + 4 + id) + 1);
		memcpy(p + 4, "ID", 2);
	}
	if (strcmp(got, want) != 0)
		print_message("got:\n%s\nwant:\n%s\n", got, want);
	assert_string_equal(got, want);
	free(got);
}

static size_t count_new(const char *user)
{
	char md[400], path[420];
	size_t n = 0;

	assert_true(maildir_path(mail_root, user, md, sizeof(md)));
	snprintf(path, sizeof(path), "%s/new", md);
	DIR *d = opendir(path);
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* The one message in user's new/, read whole (the caller frees it). */
static char *read_new(const char *user)
{
	char md[400], path[700];
	struct dirent *e;

	assert_true(maildir_path(mail_root, user, md, sizeof(md)));
	snprintf(path, sizeof(path), "%s/new", md);
	DIR *d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) && e->d_name[0] == '.')
		;
	assert_non_null(e);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", e->d_name);
	closedir(d);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *buf = calloc(1, 8192);
	assert_non_null(buf);
	size_t n = fread(buf, 1, 8191, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_greeting_and_lhlo(void **state)
{
	struct client c;

	(void)state;
	c_open(&c, &lc_lmtp, &origin_unix);
	smtp_session_greeting(c.s, &c.out);
	say(&c, "", "220 " HOST " LMTP originmail\r\n");
	say(&c, "HELO mta\r\nEHLO mta\r\nMAIL FROM:<a@b.example>\r\n",
	    "500 5.5.1 Error: this is LMTP, send LHLO\r\n500 5.5.1 Error: this is LMTP, send LHLO\r\n"
	    "503 5.5.1 Error: send HELO/EHLO first\r\n");
	say(&c, "LHLO\r\n", "501 5.5.4 Syntax: LHLO hostname\r\n");
	say(&c, "LHLO mta.example.test\r\n",
	    "250-" HOST " Hello mta.example.test [unix:uid=108]\r\n250-PIPELINING\r\n250-SIZE 10000\r\n"
	    "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n");
	say(&c, "HELP\r\nNOOP\r\nVRFY alice\r\nRSET\r\n",
	    "214 2.0.0 Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\r\n250 2.0.0 Ok\r\n"
	    "252 2.5.2 Cannot VRFY user\r\n250 2.0.0 Ok\r\n");
	/* No recipient accepted: 503 (RFC 2033 4.2), not SMTP's 554. */
	say(&c,
	    "MAIL FROM:<a@b.example>\r\nRCPT TO:<nobody@example.test>\r\nRCPT "
	    "TO:<x@elsewhere.example>\r\nDATA\r\n",
	    "250 2.1.0 Ok\r\n550 5.1.1 <nobody@example.test>: User unknown\r\n"
	    "554 5.7.1 <x@elsewhere.example>: Relay access denied\r\n503 5.5.1 Error: no valid "
	    "recipients\r\n");
	say(&c, "QUIT\r\n", "221 2.0.0 Bye\r\n");
	c_close(&c);

	/* LHLO is LMTP's only. */
	c_open(&c, &lc_smtp, &origin_proxied);
	say(&c, "LHLO mta\r\n", "500 5.5.2 Error: command not recognized\r\n");
	c_close(&c);
}

/* Three recipients, one whose Maildir cannot take the message (new/ is a file): 250, 451, 250. */
static void test_reply_per_recipient(void **state)
{
	struct client c;
	char md[400], path[420];

	(void)state;
	assert_true(maildir_path(mail_root, "bob@example.test", md, sizeof(md)));
	assert_true(maildir_ensure(md, path, sizeof(path)));
	snprintf(path, sizeof(path), "%s/new", md);
	assert_int_equal(rmdir(path), 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);

	c_open(&c, &lc_lmtp, &origin_unix);
	say(&c,
	    "LHLO mta\r\nMAIL FROM:<s@remote.example> BODY=8BITMIME\r\nRCPT TO:<alice@example.test>\r\n"
	    "RCPT TO:<bob@example.test>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<carol@example.test>\r\n"
	    "DATA\r\n",
	    "250-" HOST " Hello mta [unix:uid=108]\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	    "550 5.1.1 <nobody@example.test>: User unknown\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n");
	say(&c, "Subject: hi\r\n\r\nbody\r\n.\r\n",
	    "250 2.0.0 <alice@example.test> Ok: delivered as ID\r\n"
	    "451 4.3.0 <bob@example.test> Local delivery failed\r\n"
	    "250 2.0.0 <carol@example.test> Ok: delivered as ID\r\n");
	assert_non_null(strstr(smtp_session_last_event(c.s), "to 2 of 3 recipients"));
	assert_int_equal(count_new("alice@example.test"), 1);
	assert_int_equal(count_new("carol@example.test"), 1);
	char *m = read_new("alice@example.test");
	assert_non_null(
	        strstr(m, "Received: from mta (unix:uid=108)\r\n\tby " HOST " (originmail) with LMTP id "));
	assert_non_null(strstr(m, "\r\nSubject: hi\r\n\r\nbody\r\n"));
	free(m);
	/* A rejected message is answered once per recipient too. */
	say(&c,
	    "MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<carol@example.test>\r\n"
	    "DATA\r\nbare\nLF\r\n.\r\n",
	    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	    "550 5.6.0 Message rejected: bare CR or LF in message data\r\n"
	    "550 5.6.0 Message rejected: bare CR or LF in message data\r\n");
	assert_true(smtp_session_idle(c.s));
	c_close(&c);
	assert_int_equal(unlink(path), 0);
}

/* Through a proxy the Received line names the original client, as in SMTP. */
static void test_received_via_proxy(void **state)
{
	struct client c;

	(void)state;
	c_open(&c, &lc_lmtp, &origin_proxied);
	say(&c, "LHLO mta\r\nMAIL FROM:<>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\nx\r\n.\r\n",
	    "250-" HOST " Hello mta [203.0.113.10]\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 <carol@example.test> Ok: delivered as ID\r\n");
	c_close(&c);
	assert_int_equal(count_new("carol@example.test"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_greeting_and_lhlo),
	        cmocka_unit_test(test_reply_per_recipient),
	        cmocka_unit_test(test_received_via_proxy),
	};
	return cmocka_run_group_tests_name("lmtp_session", tests, group_setup, group_teardown);
}
