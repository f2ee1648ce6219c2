/* The relay queue: envelopes as text, queue entries on disk (crash safety, locking, updates, cleaning),
 * dot-stuffing of the outbound writer, relay_host parsing, and the relay configuration keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "relay/relay.h"
#include "relay/relay_client.h"
#include "store/maildir.h"

struct fx {
	char root[64], queue[128], mail[128];
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/om-relay-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->queue, sizeof(f->queue), "%s/queue", f->root);
	snprintf(f->mail, sizeof(f->mail), "%s/mail/example.test/bob/Maildir", f->root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void make_env(struct relay_env *e, const char *id)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->arrival = 1700000000;
	e->from = strdup("alice@example.test");
	assert_non_null(e->from);
	assert_true(relay_env_add_rcpt(e, "dave@elsewhere.example"));
	assert_true(relay_env_add_rcpt(e, "\"odd name\"@elsewhere.example"));
}

static void test_env_round_trip(void **state)
{
	struct relay_env e, back;
	char err[256] = "";
	(void)state;

	make_env(&e, "19A2B3C4D5E6F7A8B9C");
	e.next = 1700000300;
	e.attempts = 3;
	e.utf8 = true;
	e.error = strdup("cannot connect to relay.example:25: connect: Connection refused");
	char *text = relay_env_format(&e);
	assert_non_null(text);
	assert_string_equal(text, "originmail-queue 1\nid 19A2B3C4D5E6F7A8B9C\narrival 1700000000\n"
	                          "next 1700000300\nattempts 3\nutf8 1\nfrom alice@example.test\n"
	                          "rcpt dave@elsewhere.example\nrcpt \"odd name\"@elsewhere.example\n"
	                          "error cannot connect to relay.example:25: connect: Connection refused\n");
	assert_true(relay_env_parse(text, strlen(text), &back, err, sizeof(err)));
	assert_string_equal(back.id, e.id);
	assert_int_equal(back.arrival, e.arrival);
	assert_int_equal(back.next, e.next);
	assert_int_equal(back.attempts, 3);
	assert_true(back.utf8);
	assert_string_equal(back.from, "alice@example.test");
	assert_int_equal(back.nrcpt, 2);
	assert_string_equal(back.rcpts[1], "\"odd name\"@elsewhere.example");
	assert_string_equal(back.error, e.error);
	relay_env_free(&back);
	free(text);

	/* the null sender, no error line */
	free(e.from);
	e.from = strdup("");
	free(e.error);
	e.error = NULL;
	text = relay_env_format(&e);
	assert_non_null(strstr(text, "\nfrom \nrcpt "));
	assert_true(relay_env_parse(text, strlen(text), &back, err, sizeof(err)));
	assert_string_equal(back.from, "");
	assert_null(back.error);
	relay_env_free(&back);
	free(text);

	/* what cannot be written: a line break in a field, an unsafe id, an empty recipient */
	free(e.from);
	e.from = strdup("a@b\r\nrcpt evil@x");
	assert_null(relay_env_format(&e));
	free(e.from);
	e.from = strdup("a@b");
	snprintf(e.id, sizeof(e.id), "../etc");
	assert_null(relay_env_format(&e));
	relay_env_free(&e);
}

static void test_env_parse_errors(void **state)
{
	static const char *const bad[] = {
	        "",
	        "originmail-queue 2\nid A\narrival 1\nfrom a@b\nrcpt c@d\n",
	        "originmail-queue 1\nid A\narrival 1\nfrom a@b\n",                          /* no rcpt */
	        "originmail-queue 1\narrival 1\nfrom a@b\nrcpt c@d\n",                      /* no id */
	        "originmail-queue 1\nid A\nfrom a@b\nrcpt c@d\n",                           /* no arrival */
	        "originmail-queue 1\nid A\narrival 1\nrcpt c@d\n",                          /* no from */
	        "originmail-queue 1\nid A\narrival 1\nfrom a@b\nrcpt c@d",                  /* no final LF */
	        "originmail-queue 1\nid A\narrival 1\nfrom a@b\nfrom e@f\nrcpt c@d\n",      /* from twice */
	        "originmail-queue 1\nid A\narrival x\nfrom a@b\nrcpt c@d\n",                /* not a number */
	        "originmail-queue 1\nid A\narrival -5\nfrom a@b\nrcpt c@d\n",               /* negative */
	        "originmail-queue 1\nid A.B\narrival 1\nfrom a@b\nrcpt c@d\n",              /* bad id */
	        "originmail-queue 1\nid A\narrival 1\nfrom a@b\nrcpt c@d\nsize 5\n",        /* unknown key */
	        "originmail-queue 1\nid A\narrival 1\nfrom a@b\nrcpt c@d\r\n",              /* CR */
	        "originmail-queue 1\nid A\narrival 1\nfrom a@b\nrcpt \n",                   /* empty rcpt */
	        "originmail-queue 1\nid A\narrival 1\nfrom a@b\nrcpt c@d\nutf8 2\n",        /* bad flag */
	        "originmail-queue 1\nid A\narrival 1\nfrom a@b\nrcpt c@d\nnoseparator\n",   /* no space */
	        "originmail-queue 1\nid A\narrival 99999999999999999999\nfrom a\nrcpt c\n", /* overflow */
	};
	struct relay_env e;
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (relay_env_parse(bad[i], strlen(bad[i]), &e, err, sizeof(err)))
			fail_msg("accepted bad envelope %zu: %s", i, bad[i]);
		assert_true(err[0] != '\0');
		assert_null(e.rcpts);
	}
	const char *nul = "originmail-queue 1\nid A\narrival 1\nfrom a\0b\nrcpt c@d\n";
	assert_false(relay_env_parse(nul, 50, &e, err, sizeof(err)));
}

/* Dot-stuffing one buffer or the same bytes in every split: the output must be the same. */
static void stuff_check(const char *in, const char *want)
{
	char out[512];
	size_t n = strlen(in);

	for (size_t split = 0; split <= n; split++) {
		struct relay_dot d = {0};
		size_t o = relay_dot_stuff(&d, in, split, out);
		o += relay_dot_stuff(&d, in + split, n - split, out + o);
		o += relay_dot_end(&d, out + o);
		out[o] = '\0';
		if (strcmp(out, want) != 0)
			fail_msg("split %zu of \"%s\": got \"%s\", want \"%s\"", split, in, out, want);
	}
}

static void test_dot_stuffing(void **state)
{
	(void)state;
	stuff_check("", ".\r\n");
	stuff_check("a\r\n", "a\r\n.\r\n");
	stuff_check("no end of line", "no end of line\r\n.\r\n");
	stuff_check(".starts with a dot\r\n", "..starts with a dot\r\n.\r\n");
	stuff_check("a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"); /* a lone dot is not the end */
	stuff_check("a\r\n..two\r\n. x\r\n", "a\r\n...two\r\n.. x\r\n.\r\n");
	stuff_check("mid.dle.\r\n", "mid.dle.\r\n.\r\n");
	stuff_check("x\r\n.", "x\r\n..\r\n.\r\n");
	stuff_check("lf only\n.dot\n", "lf only\n..dot\n.\r\n"); /* any line start, to be safe */
}

static size_t count_entries(const char *queue)
{
	size_t n = 0;
	char **ids = relay_queue_list(queue, &n);
	relay_queue_list_free(ids, n);
	return n;
}

static bool exists(const char *dir, const char *name)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

/* Spool one message for the relay and for bob's Maildir, as the SMTP session does. */
static void spool_one(struct fx *f, const char *id, const char *body, bool commit)
{
	struct relay_env e;
	char err[256] = "";

	make_env(&e, id);
	struct relay_spool *sp = relay_spool_begin(f->queue, &e, err, sizeof(err));
	relay_env_free(&e);
	if (!sp)
		fail_msg("relay_spool_begin: %s", err);
	struct maildir_tx *tx = maildir_tx_begin(relay_spool_dir(sp), err, sizeof(err));
	assert_non_null(tx);
	assert_true(maildir_tx_write(tx, body, strlen(body)));
	/* Written, fsynced envelope and all: still nothing queued. */
	assert_int_equal(count_entries(f->queue), 0);
	struct relay_entry en;
	assert_int_equal(relay_entry_open(f->queue, id, &en, err, sizeof(err)), RELAY_OPEN_INCOMPLETE);
	if (!commit) {
		maildir_tx_abort(tx);
		relay_spool_end(sp);
		return;
	}
	const char *dirs[] = {f->mail, relay_spool_dir(sp)};
	if (!maildir_tx_commit(tx, dirs, 2, err, sizeof(err)))
		fail_msg("maildir_tx_commit: %s", err);
	relay_spool_commit(sp);
	relay_spool_end(sp);
}

static void test_spool_commit_and_read(void **state)
{
	struct fx *f = *state;
	struct relay_entry en;
	char err[256] = "", buf[256] = "", dir[256];
	const char *body = "Return-Path: <alice@example.test>\r\nSubject: hi\r\n\r\nbody\r\n";

	spool_one(f, "ABC123", body, true);
	size_t n = 0;
	char **ids = relay_queue_list(f->queue, &n);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "ABC123");
	relay_queue_list_free(ids, n);

	assert_int_equal(relay_entry_open(f->queue, "ABC123", &en, err, sizeof(err)), RELAY_OPEN_OK);
	assert_string_equal(en.env.from, "alice@example.test");
	assert_int_equal(en.env.nrcpt, 2);
	assert_string_equal(en.env.rcpts[0], "dave@elsewhere.example");
	int fd = open(en.msg, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(body));
	close(fd);
	assert_string_equal(buf, body);
	/* the same file in bob's Maildir: one message, stored once */
	struct stat a, b;
	snprintf(dir, sizeof(dir), "%s/new/%s", f->mail, strrchr(en.msg, '/') + 1);
	assert_int_equal(stat(dir, &a), 0);
	assert_int_equal(stat(en.msg, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);

	/* a second worker finds it locked */
	struct relay_entry other;
	assert_int_equal(relay_entry_open(f->queue, "ABC123", &other, err, sizeof(err)), RELAY_OPEN_BUSY);

	/* an update survives a reopen, and leaves no temporary file */
	free(en.env.rcpts[0]);
	en.env.rcpts[0] = en.env.rcpts[1];
	en.env.nrcpt = 1;
	en.env.attempts = 1;
	en.env.next = 1700000060;
	en.env.error = strdup("greylisted");
	assert_true(relay_entry_save(&en, err, sizeof(err)));
	relay_entry_close(&en);
	assert_false(exists(f->queue, "ABC123/envelope.tmp"));
	assert_int_equal(relay_entry_open(f->queue, "ABC123", &en, err, sizeof(err)), RELAY_OPEN_OK);
	assert_int_equal(en.env.nrcpt, 1);
	assert_string_equal(en.env.rcpts[0], "\"odd name\"@elsewhere.example");
	assert_int_equal(en.env.next, 1700000060);
	assert_string_equal(en.env.error, "greylisted");

	/* removed: gone from the queue, bob's copy stays */
	assert_true(relay_entry_remove(&en));
	relay_entry_close(&en);
	assert_false(exists(f->queue, "ABC123"));
	assert_int_equal(count_entries(f->queue), 0);
	assert_int_equal(stat(dir, &a), 0);
}

static void test_spool_abort(void **state)
{
	struct fx *f = *state;
	struct relay_env e;
	char err[256] = "";

	spool_one(f, "ABORTED1", "x\r\n", false);
	assert_false(exists(f->queue, "ABORTED1"));
	assert_int_equal(count_entries(f->queue), 0);

	/* an entry whose id is taken is refused, not shared */
	make_env(&e, "TAKEN");
	struct relay_spool *sp = relay_spool_begin(f->queue, &e, err, sizeof(err));
	assert_non_null(sp);
	assert_null(relay_spool_begin(f->queue, &e, err, sizeof(err)));
	assert_non_null(strstr(err, "File exists"));
	relay_spool_end(sp); /* never committed: removed */
	assert_false(exists(f->queue, "TAKEN"));
	/* a bad id, no queue_dir */
	snprintf(e.id, sizeof(e.id), "a/b");
	assert_null(relay_spool_begin(f->queue, &e, err, sizeof(err)));
	snprintf(e.id, sizeof(e.id), "OK1");
	assert_null(relay_spool_begin("", &e, err, sizeof(err)));
	relay_env_free(&e);
}

static void test_clean_and_set_aside(void **state)
{
	struct fx *f = *state;
	struct relay_env e;
	struct relay_entry en;
	char err[256] = "", p[256];

	spool_one(f, "OLDDONE", "m\r\n", true); /* committed: never cleaned, however old */
	make_env(&e, "OLDLEFT");                /* a crash mid-DATA two days ago */
	struct relay_spool *sp = relay_spool_begin(f->queue, &e, err, sizeof(err));
	relay_spool_commit(sp); /* pretend: keep the directory, without a message */
	relay_spool_end(sp);
	snprintf(e.id, sizeof(e.id), "YOUNG");
	sp = relay_spool_begin(f->queue, &e, err, sizeof(err));
	relay_env_free(&e);
	struct timespec old[2] = {{time(NULL) - 2 * 86400, 0}, {time(NULL) - 2 * 86400, 0}};
	snprintf(p, sizeof(p), "%s/OLDLEFT", f->queue);
	assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
	snprintf(p, sizeof(p), "%s/OLDDONE", f->queue);
	assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);

	assert_int_equal(relay_queue_clean(f->queue, 86400), 1);
	assert_false(exists(f->queue, "OLDLEFT"));
	assert_true(exists(f->queue, "OLDDONE"));
	assert_true(exists(f->queue, "YOUNG"));
	relay_spool_end(sp);

	/* a committed entry with a damaged envelope is an error, and can be set aside */
	snprintf(p, sizeof(p), "%s/OLDDONE/envelope", f->queue);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("garbage\n", fp);
	fclose(fp);
	assert_int_equal(relay_entry_open(f->queue, "OLDDONE", &en, err, sizeof(err)), RELAY_OPEN_ERROR);
	assert_non_null(strstr(err, "not an originmail queue envelope"));
	assert_true(relay_entry_set_aside(f->queue, "OLDDONE"));
	assert_true(exists(f->queue, "OLDDONE.broken"));
	assert_int_equal(count_entries(f->queue), 0);
	assert_int_equal(relay_queue_clean(f->queue, 0), 0); /* not an entry name any more */
}

static void test_hostport(void **state)
{
	char h[64], p[16];
	(void)state;

	assert_true(relay_split_hostport("relay.example:587", h, sizeof(h), p, sizeof(p)));
	assert_string_equal(h, "relay.example");
	assert_string_equal(p, "587");
	assert_true(relay_split_hostport("127.0.0.1:2525", h, sizeof(h), p, sizeof(p)));
	assert_string_equal(h, "127.0.0.1");
	assert_true(relay_split_hostport("[2001:db8::25]:25", h, sizeof(h), p, sizeof(p)));
	assert_string_equal(h, "2001:db8::25");
	assert_string_equal(p, "25");
	assert_false(relay_split_hostport("relay.example", h, sizeof(h), p, sizeof(p)));
	assert_false(relay_split_hostport("[::1]25", h, sizeof(h), p, sizeof(p)));
	assert_false(relay_split_hostport(":25", h, sizeof(h), p, sizeof(p)));
	assert_false(relay_split_hostport("host:", h, sizeof(h), p, sizeof(p)));
	assert_false(relay_split_hostport("a-very-long-host-name-that-does-not-fit-in-the-buffer.example:25",
	                                  h, 16, p, sizeof(p)));
}

#define LA "[listener a]\naddress = 127.0.0.1:25\nprotocol = smtp\nproxy = off\n"

static void test_config_keys(void **state)
{
	struct config c;
	char err[512] = "";
	(void)state;

	assert_true(config_parse("mail_root = /srv/om/mail\n" LA, "/etc/om/om.conf", &c, err, sizeof(err)));
	assert_string_equal(c.queue_dir, "/srv/om/queue");
	assert_int_equal(c.relay_tls, RELAY_TLS_REQUIRED);
	assert_string_equal(c.relay_ca, "");
	assert_int_equal(c.relay_retry_ms, 5 * 60 * 1000);
	assert_int_equal(c.relay_max_age_ms, 5u * 86400 * 1000);
	config_free(&c);

	assert_true(config_parse("mail_root = mail/\nrelay_host = 127.0.0.1:2525\nrelay_tls = Opportunistic\n"
	                         "relay_ca = ca.pem\nrelay_retry = 1s\nrelay_max_age = 30d\n" LA,
	                         "/etc/om/om.conf", &c, err, sizeof(err)));
	assert_string_equal(c.queue_dir, "/etc/om/queue");
	assert_string_equal(c.relay_ca, "/etc/om/ca.pem");
	assert_int_equal(c.relay_tls, RELAY_TLS_OPPORTUNISTIC);
	assert_int_equal(c.relay_retry_ms, 1000);
	assert_int_equal(c.relay_max_age_ms, 30u * 86400 * 1000);
	config_free(&c);

	assert_true(
	        config_parse("mail_root = /m\nqueue_dir = spool\n" LA, "/etc/om.conf", &c, err, sizeof(err)));
	assert_string_equal(c.queue_dir, "/etc/spool");
	config_free(&c);
	assert_true(config_parse("mail_root = mail\n" LA, "om.conf", &c, err, sizeof(err)));
	assert_string_equal(c.queue_dir, "queue"); /* relative, like mail_root */
	config_free(&c);

	static const struct {
		const char *text, *err;
	} bad[] = {
	        {"relay_tls = maybe\n" LA, "t.conf:1: relay_tls must be required or opportunistic"},
	        {"relay_retry = 0s\n" LA, "t.conf:1: relay_retry must be between 1s and 1d"},
	        {"relay_retry = 2d\n" LA, "t.conf:1: relay_retry must be between 1s and 1d"},
	        {"relay_max_age = 31d\n" LA, "t.conf:1: relay_max_age must be between 1s and 30d"},
	        {"relay_max_age = 5 d\n" LA,
	         "t.conf:1: bad duration '5 d' for relay_max_age (use seconds or 30s, 5m, 1h, 5d)"},
	        {"relay_max_age = 99999999d\n" LA,
	         "t.conf:1: bad duration '99999999d' for relay_max_age (use seconds or 30s, 5m, 1h, 5d)"},
	        {"command_timeout = 1d\n" LA,
	         "t.conf:1: bad duration '1d' for command_timeout (use seconds or 500ms, 30s, 5m, 1h)"},
	        {"mail_root = /srv/mail\nqueue_dir = /srv/mail/queue\n" LA,
	         "t.conf:2: queue_dir must not be mail_root or inside it"},
	        {"mail_root = /srv/mail/\nqueue_dir = /srv/mail\n" LA,
	         "t.conf:2: queue_dir must not be mail_root or inside it"},
	        {"queue_dir =\n" LA, "t.conf:1: queue_dir needs a value"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (config_parse(bad[i].text, "t.conf", &c, err, sizeof(err)))
			fail_msg("accepted: %s", bad[i].text);
		assert_string_equal(err, bad[i].err);
	}
	/* a sibling named like mail_root's prefix is not inside it */
	assert_true(config_parse("mail_root = /srv/mail\nqueue_dir = /srv/mailq\n" LA, "t.conf", &c, err,
	                         sizeof(err)));
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_env_round_trip),
	        cmocka_unit_test(test_env_parse_errors),
	        cmocka_unit_test(test_dot_stuffing),
	        cmocka_unit_test_setup_teardown(test_spool_commit_and_read, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_spool_abort, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_clean_and_set_aside, setup, teardown),
	        cmocka_unit_test(test_hostport),
	        cmocka_unit_test(test_config_keys),
	};
	return cmocka_run_group_tests_name("relay", tests, NULL, NULL);
}
