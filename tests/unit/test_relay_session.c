/* The SMTP session's side of relaying: which recipients it accepts for the relay queue, the queue entry
 * it makes at DATA (and removes when the message is not accepted), and the commit that stores the message
 * for the local recipients and the queue at once. Real passwd-file, Maildirs and queue in a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <crypt.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/origin.h"
#include "relay/relay.h"
#include "smtp/smtp.h"
#include "store/maildir.h"

/* "\0alice@example.test\0secret" */
#define AUTH_ALICE "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n"

static char tmpdir[64], mail_root[128], queue_dir[128], passwd_path[128];
static char *domains[] = {"example.test"};
static struct config cfg;
static struct listener_conf lc_smtp, lc_sub;
static struct passwd_db *users;
static struct origin origin;

static int group_setup(void **state)
{
	char err[256];
	(void)state;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/om-relay-session-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(mail_root, sizeof(mail_root), "%s/mail", tmpdir);
	snprintf(queue_dir, sizeof(queue_dir), "%s/queue", tmpdir);
	snprintf(passwd_path, sizeof(passwd_path), "%s/passwd", tmpdir);
	FILE *f = fopen(passwd_path, "w");
	if (!f)
		return -1;
	fprintf(f, "alice@example.test:{SHA512-CRYPT}%s::::::\n", crypt("secret", "$6$saltsaltsalt01$"));
	fprintf(f, "bob@example.test:{SHA512-CRYPT}%s::::::\n", crypt("x", "$6$saltsaltsalt02$"));
	fclose(f);
	if (!(users = passwd_db_load(passwd_path, false, err, sizeof(err))))
		return -1;
	cfg = (struct config){.hostname = "mx.example.test",
	                      .domains = domains,
	                      .ndomains = 1,
	                      .mail_root = mail_root,
	                      .passwd_file = passwd_path,
	                      .relay_host = "relay.example:25",
	                      .queue_dir = queue_dir,
	                      .max_message_size = 10000,
	                      .max_line = 1000,
	                      .max_recipients = 3};
	lc_smtp = (struct listener_conf){.name = "mx", .proto = PROTO_SMTP};
	lc_sub = (struct listener_conf){.name = "sub", .proto = PROTO_SUBMISSION, .auth_plaintext = true};
	pp_sockaddr_parse(&origin.client, "203.0.113.10", 51234);
	pp_sockaddr_parse(&origin.peer, "203.0.113.10", 51234);
	origin_update_text(&origin);
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
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

static void c_open(struct client *c, const struct listener_conf *lc, const struct config *conf)
{
	memset(c, 0, sizeof(*c));
	c->ctx = (struct smtp_ctx){.cfg = conf, .lc = lc, .users = users, .origin = &origin};
	c->s = smtp_session_new(&c->ctx);
	assert_non_null(c->s);
}

static void c_close(struct client *c)
{
	smtp_session_free(c->s);
	obuf_free(&c->out);
}

/* Send complete lines; return the replies (static, overwritten by the next call). */
static const char *say(struct client *c, const char *data)
{
	static char got[2048];
	enum smtp_action act;

	c->out.len = 0;
	assert_int_equal(smtp_session_input(c->s, data, strlen(data), &c->out, &act), strlen(data));
	snprintf(got, sizeof(got), "%.*s", (int)c->out.len, c->out.data ? c->out.data : "");
	return got;
}

static size_t queued(char ***ids)
{
	size_t n = 0;
	char **v = relay_queue_list(queue_dir, &n);
	if (ids)
		*ids = v;
	else
		relay_queue_list_free(v, n);
	return n;
}

/* Entries in the queue directory, committed or not. */
static int entries(void)
{
	DIR *d = opendir(queue_dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_accepts_and_queues(void **state)
{
	struct client c;
	char **ids = NULL;
	(void)state;

	c_open(&c, &lc_sub, &cfg);
	say(&c, "EHLO c\r\n" AUTH_ALICE);
	assert_string_equal(say(&c, "MAIL FROM:<alice@example.test>\r\n"), "250 2.1.0 Ok\r\n");
	assert_string_equal(say(&c, "RCPT TO:<Dave@Elsewhere.Example>\r\n"), "250 2.1.5 Ok\r\n");
	assert_string_equal(say(&c, "RCPT TO:<Dave@elsewhere.example>\r\n"), "250 2.1.5 Ok\r\n"); /* once */
	assert_string_equal(say(&c, "RCPT TO:<bob@example.test>\r\n"), "250 2.1.5 Ok\r\n");
	assert_string_equal(say(&c, "RCPT TO:<eve@elsewhere.example>\r\n"), "250 2.1.5 Ok\r\n");
	/* the limit counts local and relayed recipients together */
	assert_string_equal(say(&c, "RCPT TO:<zed@elsewhere.example>\r\n"),
	                    "452 4.5.3 Error: too many recipients\r\n");
	assert_string_equal(say(&c, "DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
	/* the entry and its envelope exist before the message does, but nothing is queued yet */
	assert_int_equal(queued(NULL), 0);
	const char *r = say(&c, "Subject: out\r\n\r\n..dot\r\n.\r\n");
	assert_memory_equal(r, "250 2.0.0 Ok: queued as ", 24);
	assert_int_equal(queued(&ids), 1);
	assert_memory_equal(r + 24, ids[0], strlen(ids[0]));

	struct relay_entry en;
	char err[256] = "", msg[1024] = "", bob[512];
	assert_int_equal(relay_entry_open(queue_dir, ids[0], &en, err, sizeof(err)), RELAY_OPEN_OK);
	assert_string_equal(en.env.from, "alice@example.test");
	assert_int_equal(en.env.nrcpt, 2);
	assert_string_equal(en.env.rcpts[0], "Dave@elsewhere.example"); /* local part as given */
	assert_string_equal(en.env.rcpts[1], "eve@elsewhere.example");
	assert_false(en.env.utf8);
	int fd = open(en.msg, O_RDONLY);
	assert_true(fd >= 0 && read(fd, msg, sizeof(msg) - 1) > 0);
	close(fd);
	assert_memory_equal(
	        msg, "Return-Path: <alice@example.test>\r\nReceived: from c ([203.0.113.10]:51234)\r\n", 70);
	assert_non_null(strstr(msg, " with ESMTPA id "));
	assert_non_null(strstr(msg, "\r\n\r\n.dot\r\n"));
	/* bob's copy is the same file */
	struct stat a, b;
	assert_true(maildir_path(mail_root, "bob@example.test", bob, sizeof(bob)));
	strcat(bob, "/new/");
	strcat(bob, strrchr(en.msg, '/') + 1);
	assert_int_equal(stat(bob, &a), 0);
	assert_int_equal(stat(en.msg, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_true(relay_entry_remove(&en));
	relay_entry_close(&en);
	relay_queue_list_free(ids, 1);

	/* only relayed recipients: the message starts in the queue; "for <...>" names the one recipient */
	say(&c, "MAIL FROM:<> SMTPUTF8\r\nRCPT TO:<j\xc3\xb6rg@elsewhere.example>\r\nDATA\r\n");
	assert_memory_equal(say(&c, "hi\r\n.\r\n"), "250 2.0.0 Ok: queued as ", 24);
	assert_int_equal(queued(&ids), 1);
	assert_int_equal(relay_entry_open(queue_dir, ids[0], &en, err, sizeof(err)), RELAY_OPEN_OK);
	assert_string_equal(en.env.from, "");
	assert_true(en.env.utf8);
	assert_string_equal(en.env.rcpts[0], "j\xc3\xb6rg@elsewhere.example");
	fd = open(en.msg, O_RDONLY);
	memset(msg, 0, sizeof(msg));
	assert_true(fd >= 0 && read(fd, msg, sizeof(msg) - 1) > 0);
	close(fd);
	assert_non_null(strstr(msg, "Return-Path: <>\r\n"));
	assert_non_null(strstr(msg, " with UTF8SMTPA id "));
	assert_non_null(strstr(msg, "\tfor <j\xc3\xb6rg@elsewhere.example>; "));
	assert_true(relay_entry_remove(&en));
	relay_entry_close(&en);
	relay_queue_list_free(ids, 1);
	c_close(&c);
}

static void test_not_accepted_leaves_nothing(void **state)
{
	struct client c;
	(void)state;

	c_open(&c, &lc_sub, &cfg);
	say(&c, "EHLO c\r\n" AUTH_ALICE);
	/* a bare LF: rejected at the end, the entry goes */
	say(&c, "MAIL FROM:<alice@example.test>\r\nRCPT TO:<dave@elsewhere.example>\r\nDATA\r\n");
	assert_string_equal(say(&c, "bad\nline\r\n.\r\n"),
	                    "550 5.6.0 Message rejected: bare CR or LF in message data\r\n");
	assert_int_equal(entries(), 0);
	/* too big */
	say(&c, "MAIL FROM:<alice@example.test>\r\nRCPT TO:<dave@elsewhere.example>\r\nDATA\r\n");
	static char big[12000];
	memset(big, 'x', sizeof(big) - 10);
	strcpy(big + sizeof(big) - 10, "\r\n.\r\n");
	for (size_t i = 998; i < sizeof(big) - 10; i += 1000)
		memcpy(big + i, "\r\n", 2);
	assert_string_equal(say(&c, big), "552 5.3.4 Message size exceeds fixed limit\r\n");
	assert_int_equal(entries(), 0);
	/* RSET after RCPT, and the client gone mid-DATA */
	say(&c, "MAIL FROM:<alice@example.test>\r\nRCPT TO:<dave@elsewhere.example>\r\nRSET\r\n");
	say(&c, "MAIL FROM:<alice@example.test>\r\nRCPT TO:<dave@elsewhere.example>\r\nDATA\r\npartial\r\n");
	c_close(&c);
	assert_int_equal(entries(), 0);
}

static void test_refused(void **state)
{
	struct client c;
	struct config no_queue = cfg, no_relay = cfg;
	(void)state;

	/* port 25: never a relay, relay_host or not */
	c_open(&c, &lc_smtp, &cfg);
	say(&c, "EHLO c\r\nMAIL FROM:<x@client.example>\r\n");
	assert_string_equal(say(&c, "RCPT TO:<dave@elsewhere.example>\r\n"),
	                    "554 5.7.1 <dave@elsewhere.example>: Relay access denied\r\n");
	c_close(&c);
	/* submission without relay_host, or without a queue */
	no_relay.relay_host = "";
	no_queue.queue_dir = NULL;
	const struct config *confs[] = {&no_relay, &no_queue};
	for (int i = 0; i < 2; i++) {
		c_open(&c, &lc_sub, confs[i]);
		say(&c, "EHLO c\r\n" AUTH_ALICE "MAIL FROM:<alice@example.test>\r\n");
		assert_string_equal(
		        say(&c, "RCPT TO:<dave@elsewhere.example>\r\n"),
		        "554 5.7.1 <dave@elsewhere.example>: Relaying to elsewhere.example is not "
		        "configured\r\n");
		c_close(&c);
	}
	/* a queue that cannot be made: 451 at DATA, nothing accepted */
	struct config bad_queue = cfg;
	char qfile[200];
	snprintf(qfile, sizeof(qfile), "%s/not-a-dir", tmpdir);
	FILE *f = fopen(qfile, "w");
	assert_non_null(f);
	fclose(f);
	bad_queue.queue_dir = qfile;
	c_open(&c, &lc_sub, &bad_queue);
	say(&c,
	    "EHLO c\r\n" AUTH_ALICE "MAIL FROM:<alice@example.test>\r\nRCPT TO:<dave@elsewhere.example>\r\n");
	assert_string_equal(say(&c, "DATA\r\n"), "451 4.3.0 Cannot queue the message\r\n");
	assert_memory_equal(smtp_session_last_event(c.s), "queueing failed: queue: mkdir ", 30);
	c_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accepts_and_queues),
	        cmocka_unit_test(test_not_accepted_leaves_nothing),
	        cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests_name("relay_session", tests, group_setup, group_teardown);
}
