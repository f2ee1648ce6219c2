/* The SMTP session's side of relaying: which recipients it accepts for the relay queue, the queue entry
 * it makes at DATA (and removes when the message is not accepted), and the commit that stores the message
 * for the local recipients and the queue at once. Real passwd-file, Maildirs and queue in a temp dir; the
 * environment is smtp_test.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>

#include "relay/relay.h"
#include "smtp_test.h"

/* "\0alice@example.test\0secret" */
#define AUTH_ALICE "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n"

static char queue_dir[300];
static struct origin origin;

/* smtp_test.h's environment with a relay host and a queue, and a client that connects directly. */
static int relay_group_setup(void **state)
{
	(void)state;
	if (env_setup("relay-test") != 0)
		return -1;
	snprintf(queue_dir, sizeof(queue_dir), "%s/queue", tmpdir);
	cfg.relay_host = "relay.example:25";
	cfg.queue_dir = queue_dir;
	make_origin(&origin, "203.0.113.10", 51234, "203.0.113.10", 51234, false);
	return 0;
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

	c_open(&c, &lc_sub_plain, &origin, NULL);
	c_ask(&c, "EHLO c\r\n" AUTH_ALICE);
	assert_string_equal(c_ask(&c, "MAIL FROM:<alice@example.test>\r\n"), "250 2.1.0 Ok\r\n");
	assert_string_equal(c_ask(&c, "RCPT TO:<Dave@Elsewhere.Example>\r\n"), "250 2.1.5 Ok\r\n");
	assert_string_equal(c_ask(&c, "RCPT TO:<Dave@elsewhere.example>\r\n"), "250 2.1.5 Ok\r\n"); /* once */
	assert_string_equal(c_ask(&c, "RCPT TO:<bob@example.test>\r\n"), "250 2.1.5 Ok\r\n");
	assert_string_equal(c_ask(&c, "RCPT TO:<eve@elsewhere.example>\r\n"), "250 2.1.5 Ok\r\n");
	/* the limit counts local and relayed recipients together */
	assert_string_equal(c_ask(&c, "RCPT TO:<zed@elsewhere.example>\r\n"),
	                    "452 4.5.3 Error: too many recipients\r\n");
	assert_string_equal(c_ask(&c, "DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
	/* the entry and its envelope exist before the message does, but nothing is queued yet */
	assert_int_equal(queued(NULL), 0);
	const char *r = c_ask(&c, "Subject: out\r\n\r\n..dot\r\n.\r\n");
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
	c_ask(&c, "MAIL FROM:<> SMTPUTF8\r\nRCPT TO:<j\xc3\xb6rg@elsewhere.example>\r\nDATA\r\n");
	assert_memory_equal(c_ask(&c, "hi\r\n.\r\n"), "250 2.0.0 Ok: queued as ", 24);
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

	c_open(&c, &lc_sub_plain, &origin, NULL);
	c_ask(&c, "EHLO c\r\n" AUTH_ALICE);
	/* a bare LF: rejected at the end, the entry goes */
	c_ask(&c, "MAIL FROM:<alice@example.test>\r\nRCPT TO:<dave@elsewhere.example>\r\nDATA\r\n");
	assert_string_equal(c_ask(&c, "bad\nline\r\n.\r\n"),
	                    "550 5.6.0 Message rejected: bare CR or LF in message data\r\n");
	assert_int_equal(entries(), 0);
	/* too big */
	c_ask(&c, "MAIL FROM:<alice@example.test>\r\nRCPT TO:<dave@elsewhere.example>\r\nDATA\r\n");
	static char big[12000];
	memset(big, 'x', sizeof(big) - 10);
	strcpy(big + sizeof(big) - 10, "\r\n.\r\n");
	for (size_t i = 998; i < sizeof(big) - 10; i += 1000)
		memcpy(big + i, "\r\n", 2);
	assert_string_equal(c_ask(&c, big), "552 5.3.4 Message size exceeds fixed limit\r\n");
	assert_int_equal(entries(), 0);
	/* RSET after RCPT, and the client gone mid-DATA */
	c_ask(&c, "MAIL FROM:<alice@example.test>\r\nRCPT TO:<dave@elsewhere.example>\r\nRSET\r\n");
	c_ask(&c,
	      "MAIL FROM:<alice@example.test>\r\nRCPT TO:<dave@elsewhere.example>\r\nDATA\r\npartial\r\n");
	c_close(&c);
	assert_int_equal(entries(), 0);
}

static void test_refused(void **state)
{
	struct client c;
	struct config no_queue = cfg, no_relay = cfg;
	(void)state;

	/* port 25: never a relay, relay_host or not */
	c_open(&c, &lc_smtp, &origin, NULL);
	c_ask(&c, "EHLO c\r\nMAIL FROM:<x@client.example>\r\n");
	assert_string_equal(c_ask(&c, "RCPT TO:<dave@elsewhere.example>\r\n"),
	                    "554 5.7.1 <dave@elsewhere.example>: Relay access denied\r\n");
	c_close(&c);
	/* submission without relay_host, or without a queue */
	no_relay.relay_host = "";
	no_queue.queue_dir = NULL;
	const struct config *confs[] = {&no_relay, &no_queue};
	for (int i = 0; i < 2; i++) {
		c_open_with(&c, confs[i], &lc_sub_plain, &origin, NULL);
		c_ask(&c, "EHLO c\r\n" AUTH_ALICE "MAIL FROM:<alice@example.test>\r\n");
		assert_string_equal(
		        c_ask(&c, "RCPT TO:<dave@elsewhere.example>\r\n"),
		        "554 5.7.1 <dave@elsewhere.example>: Relaying to elsewhere.example is not "
		        "configured\r\n");
		c_close(&c);
	}
	/* a queue that cannot be made: 451 at DATA, nothing accepted */
	struct config bad_queue = cfg;
	char qfile[300];
	snprintf(qfile, sizeof(qfile), "%s/not-a-dir", tmpdir);
	FILE *f = fopen(qfile, "w");
	assert_non_null(f);
	fclose(f);
	bad_queue.queue_dir = qfile;
	c_open_with(&c, &bad_queue, &lc_sub_plain, &origin, NULL);
	c_ask(&c, "EHLO c\r\n" AUTH_ALICE
	          "MAIL FROM:<alice@example.test>\r\nRCPT TO:<dave@elsewhere.example>\r\n");
	assert_string_equal(c_ask(&c, "DATA\r\n"), "451 4.3.0 Cannot queue the message\r\n");
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
	return cmocka_run_group_tests_name("relay_session", tests, relay_group_setup, group_teardown);
}
