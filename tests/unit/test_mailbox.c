/* The Maildir++ reading layer: UIDs stable across reopen and across processes, new/ -> cur/, flags in
 * file names, expunge, append and copy, \Recent claimed once, damaged UID lists, folders and their
 * names (no path escape), subscriptions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/folders.h"
#include "store/mailbox.h"
#include "store/maildir.h"

#include "mailbox_test.h"

static struct mbox *open_sync(const char *md, unsigned opts)
{
	char err[256];
	struct mbox *m = mbox_open(md, false, err, sizeof(err));
	assert_non_null(m);
	if (!mbox_sync(m, opts | MBOX_SYNC_FORCE, NULL, err, sizeof(err)))
		fail_msg("sync: %s", err);
	return m;
}

static size_t count_files(const char *md, const char *sub)
{
	char p[PATH_MAX];
	struct dirent *de;
	size_t n = 0;

	snprintf(p, sizeof(p), "%s/%s", md, sub);
	DIR *d = opendir(p);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_uids_stable_across_reopen(void **state)
{
	struct fx *f = *state;
	char err[256];
	bool changed;

	deliver(f->md, "Subject: 1\r\n\r\none\r\n");
	deliver(f->md, "Subject: 2\r\n\r\ntwo\r\n");
	deliver(f->md, "Subject: 3\r\n\r\nthree\r\n");
	struct mbox *m = open_sync(f->md, 0);
	assert_int_equal(m->count, 3);
	uint32_t validity = m->uidvalidity;
	assert_true(validity > 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(m->msgs[i].uid, i + 1);
		assert_true(m->msgs[i].in_new); /* without MOVE_NEW they stay in new/ */
	}
	char first[256];
	snprintf(first, sizeof(first), "%.*s", (int)m->msgs[0].namelen, m->msgs[0].file);
	assert_int_equal(m->uidnext, 4);
	/* nothing changed: a sync is two stats and says so */
	sleep(1);
	assert_true(mbox_sync(m, 0, &changed, err, sizeof(err)));
	assert_true(mbox_sync(m, 0, &changed, err, sizeof(err)));
	assert_false(changed);
	mbox_close(m);

	/* reopened by "another session": the same UIDs, the new message the next one; new/ -> cur/ */
	deliver(f->md, "Subject: 4\r\n\r\nfour\r\n");
	m = open_sync(f->md, MBOX_SYNC_MOVE_NEW);
	assert_int_equal(m->uidvalidity, validity);
	assert_int_equal(m->count, 4);
	assert_int_equal(m->msgs[3].uid, 4);
	assert_int_equal(strncmp(m->msgs[0].file, first, strlen(first)), 0);
	for (size_t i = 0; i < 4; i++)
		assert_false(m->msgs[i].in_new);
	assert_int_equal(count_files(f->md, "new"), 0);
	assert_int_equal(count_files(f->md, "cur"), 4);
	assert_non_null(strstr(m->msgs[0].file, ":2,"));
	mbox_close(m);

	/* the move kept the UIDs */
	m = open_sync(f->md, 0);
	assert_int_equal(m->count, 4);
	assert_int_equal(strncmp(m->msgs[0].file, first, strlen(first)), 0);
	assert_int_equal(m->msgs[0].uid, 1);
	mbox_close(m);
}

/* UIDs follow delivery time: "<sec>.M<usec>" is not zero-padded, so M99 came before M100000 although it
 * sorts after it as a string (a regression: curl saw UID 1 on the second message). */
static void test_new_uids_in_time_order(void **state)
{
	struct fx *f = *state;
	const char *names[] = {"1795528000.M100000P1Q2.host", "1795528000.M99P1Q1.host",
	                       "1795527999.M5P1Q0.host"};
	const char *order[] = {"1795527999.M5P1Q0.host", "1795528000.M99P1Q1.host",
	                       "1795528000.M100000P1Q2.host"};
	char p[PATH_MAX];

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/new/%s", f->md, names[i]);
		FILE *fp = fopen(p, "w");
		assert_non_null(fp);
		fputs("Subject: x\r\n\r\nx\r\n", fp);
		fclose(fp);
	}
	struct mbox *m = open_sync(f->md, 0);
	assert_int_equal(m->count, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(m->msgs[i].uid, i + 1);
		assert_int_equal(strncmp(m->msgs[i].file, order[i], strlen(order[i])), 0);
	}
	mbox_close(m);

	/* Later arrivals come after the listed ones whatever their names say, in time order among
	 * themselves; one base name in both new/ and cur/ (a move cut short elsewhere) gets one UID. */
	const char *later[] = {"new/1795528001.M7P1Q4.host", "new/1795527000.M1P1Q3.host",
	                       "new/1795528002.M1P1Q5.host", "cur/1795528002.M1P1Q5.host:2,S"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", f->md, later[i]);
		FILE *fp = fopen(p, "w");
		assert_non_null(fp);
		fputs("Subject: y\r\n\r\ny\r\n", fp);
		fclose(fp);
	}
	m = open_sync(f->md, 0);
	assert_int_equal(m->count, 6);
	const char *after[] = {"1795527000.M1P1Q3.host", "1795528001.M7P1Q4.host", "1795528002.M1P1Q5.host"};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(m->msgs[i].uid, i + 1);
		assert_int_equal(strncmp(m->msgs[i].file, order[i], strlen(order[i])), 0);
		assert_int_equal(m->msgs[3 + i].uid, 4 + i);
		assert_int_equal(strncmp(m->msgs[3 + i].file, after[i], strlen(after[i])), 0);
	}
	assert_int_equal(m->uidnext, 7);
	mbox_close(m);
	snprintf(p, sizeof(p), "%s/originmail-uidlist", f->md);
	FILE *ul = fopen(p, "r");
	assert_non_null(ul);
	char line[256];
	unsigned lines = 0;
	while (fgets(line, sizeof(line), ul))
		lines++;
	fclose(ul);
	assert_int_equal(lines, 1 + 6); /* the header, one line per name: no second UID for the pair */
}

static void test_flags_round_trip(void **state)
{
	struct fx *f = *state;
	char err[256], p[PATH_MAX];

	deliver(f->md, "Subject: a\r\n\r\na\r\n");
	deliver(f->md, "Subject: b\r\n\r\nb\r\n");
	struct mbox *m = open_sync(f->md, 0);
	assert_true(mbox_lock(m, err, sizeof(err)));
	/* a message still in new/ goes to cur/ with its flags */
	assert_true(mbox_set_flags(m, &m->msgs[0], MBOX_SEEN | MBOX_FLAGGED, 0));
	assert_int_equal(m->msgs[0].flags, MBOX_SEEN | MBOX_FLAGGED);
	assert_false(m->msgs[0].in_new);
	assert_non_null(strstr(m->msgs[0].file, ":2,FS"));
	assert_true(mbox_set_flags(m, &m->msgs[0], MBOX_ANSWERED | MBOX_DRAFT | MBOX_DELETED, MBOX_FLAGGED));
	assert_non_null(strstr(m->msgs[0].file, ":2,DRST"));
	mbox_unlock(m);
	mbox_close(m);

	m = open_sync(f->md, 0);
	assert_int_equal(m->msgs[0].flags, MBOX_SEEN | MBOX_ANSWERED | MBOX_DRAFT | MBOX_DELETED);
	assert_int_equal(m->msgs[1].flags, 0);
	/* letters we do not manage (keywords, P) survive a change */
	char from[PATH_MAX], to[PATH_MAX];
	assert_true(mbox_msg_path(m, &m->msgs[0], from, sizeof(from)));
	snprintf(to, sizeof(to), "%s/cur/%.*s:2,DPRSTab", f->md, (int)m->msgs[0].namelen, m->msgs[0].file);
	assert_int_equal(rename(from, to), 0);
	/* renamed behind our back: the file is found again by its base name */
	assert_true(mbox_lock(m, err, sizeof(err)));
	assert_true(mbox_set_flags(m, &m->msgs[0], 0, MBOX_DRAFT | MBOX_DELETED));
	assert_non_null(strstr(m->msgs[0].file, ":2,PRSab"));
	mbox_unlock(m);
	int fd = mbox_msg_open(m, &m->msgs[0]);
	assert_true(fd >= 0);
	close(fd);
	assert_true(mbox_msg_path(m, &m->msgs[1], p, sizeof(p)));
	mbox_close(m);
	assert_int_equal(mbox_flags_from_info(":2,DFRST"), MBOX_FLAGS_ALL);
	assert_int_equal(mbox_flags_from_info(":1,S"), 0);
}

static void test_expunge_keeps_uids(void **state)
{
	struct fx *f = *state;
	char err[256];

	for (int i = 0; i < 4; i++)
		deliver(f->md, "Subject: x\r\n\r\nx\r\n");
	struct mbox *m = open_sync(f->md, MBOX_SYNC_MOVE_NEW);
	assert_true(mbox_lock(m, err, sizeof(err)));
	assert_true(mbox_set_flags(m, &m->msgs[1], MBOX_DELETED, 0));
	assert_false(mbox_expunge(m, &m->msgs[0])); /* not \Deleted */
	assert_true(mbox_expunge(m, &m->msgs[1]));
	mbox_unlock(m);
	assert_true(mbox_sync(m, MBOX_SYNC_FORCE, NULL, err, sizeof(err)));
	assert_int_equal(m->count, 3);
	assert_int_equal(m->msgs[0].uid, 1);
	assert_int_equal(m->msgs[1].uid, 3);
	assert_int_equal(m->msgs[2].uid, 4);
	assert_null(mbox_find(m, 2));
	mbox_close(m);
	deliver(f->md, "Subject: y\r\n\r\ny\r\n");
	m = open_sync(f->md, 0);
	assert_int_equal(m->msgs[3].uid, 5); /* UIDs are never reused */
	mbox_close(m);
}

static void test_append_and_copy(void **state)
{
	struct fx *f = *state;
	char err[256], other[PATH_MAX], p[PATH_MAX];
	uint32_t uid, validity, uids[2];
	struct stat st;

	struct mbox *m = open_sync(f->md, 0);
	assert_true(mbox_append(m, "Subject: ap\r\n\r\nhi\r\n", 19, MBOX_SEEN, 1000000000, &uid, &validity,
	                        err, sizeof(err)));
	assert_int_equal(uid, 1);
	assert_int_equal(validity, m->uidvalidity);
	assert_true(
	        mbox_append(m, "Subject: ap2\r\n\r\nhi\r\n", 20, 0, 0, &uid, &validity, err, sizeof(err)));
	assert_int_equal(uid, 2);
	assert_true(mbox_sync(m, MBOX_SYNC_FORCE, NULL, err, sizeof(err)));
	assert_int_equal(m->count, 2);
	assert_int_equal(m->msgs[0].flags, MBOX_SEEN);
	assert_non_null(strstr(m->msgs[0].file, ",S=19,W=19:2,S"));
	assert_true(mbox_msg_path(m, &m->msgs[0], p, sizeof(p)));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mtime, 1000000000);
	assert_int_equal(count_files(f->md, "tmp"), 0);

	snprintf(other, sizeof(other), "%s/.Archive", f->md);
	struct mbox *dst = mbox_open(other, true, err, sizeof(err));
	assert_non_null(dst);
	struct mbox_msg *both[] = {&m->msgs[0], &m->msgs[1]};
	assert_true(mbox_copy(m, both, 2, dst, uids, &validity, err, sizeof(err)));
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 2);
	assert_true(mbox_sync(dst, MBOX_SYNC_FORCE, NULL, err, sizeof(err)));
	assert_int_equal(validity, dst->uidvalidity);
	assert_int_equal(dst->count, 2);
	assert_int_equal(dst->msgs[0].flags, MBOX_SEEN);
	assert_non_null(strstr(dst->msgs[0].file, ",S=19,W=19"));
	assert_true(mbox_msg_path(dst, &dst->msgs[0], other, sizeof(other)));
	struct stat st2;
	assert_int_equal(stat(other, &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino); /* a hard link, not a copy */
	mbox_close(dst);
	mbox_close(m);
}

/* Two processes append at the same time while a third syncs: every message gets its own UID, the list
 * ends up complete and in order. */
static void test_concurrent_appends(void **state)
{
	struct fx *f = *state;
	enum { PER_CHILD = 40 };
	pid_t pids[3];

	for (int c = 0; c < 3; c++) {
		pids[c] = fork();
		assert_true(pids[c] >= 0);
		if (pids[c] == 0) {
			char err[256], text[64];
			uint32_t uid, v;
			struct mbox *m = mbox_open(f->md, false, err, sizeof(err));
			if (!m)
				_exit(1);
			for (int i = 0; i < PER_CHILD; i++) {
				if (c == 2) {
					if (!mbox_sync(m, MBOX_SYNC_MOVE_NEW | MBOX_SYNC_FORCE, NULL, err,
					               sizeof(err)))
						_exit(2);
					deliver(f->md, "Subject: smtp\r\n\r\nx\r\n");
					continue;
				}
				int n = snprintf(text, sizeof(text), "Subject: %d-%d\r\n\r\nx\r\n", c, i);
				if (!mbox_append(m, text, (size_t)n, 0, 0, &uid, &v, err, sizeof(err)))
					_exit(3);
			}
			mbox_close(m);
			_exit(0);
		}
	}
	for (int c = 0; c < 3; c++) {
		int st;
		assert_int_equal(waitpid(pids[c], &st, 0), pids[c]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	struct mbox *m = open_sync(f->md, 0);
	assert_int_equal(m->count, 3 * PER_CHILD);
	for (size_t i = 0; i < m->count; i++)
		assert_int_equal(m->msgs[i].uid, i + 1);
	assert_int_equal(m->uidnext, 3 * PER_CHILD + 1);
	uint32_t validity = m->uidvalidity;
	mbox_close(m);
	m = open_sync(f->md, 0);
	assert_int_equal(m->uidvalidity, validity);
	assert_int_equal(m->count, 3 * PER_CHILD);
	mbox_close(m);
}

static void test_recent_is_claimed_once(void **state)
{
	struct fx *f = *state;
	char err[256];

	deliver(f->md, "Subject: r\r\n\r\nr\r\n");
	struct mbox *a = open_sync(f->md, MBOX_SYNC_RECENT);
	struct mbox *b = open_sync(f->md, MBOX_SYNC_RECENT);
	assert_true(a->msgs[0].recent);
	assert_false(b->msgs[0].recent);
	deliver(f->md, "Subject: r2\r\n\r\nr\r\n");
	assert_true(mbox_sync(b, MBOX_SYNC_RECENT | MBOX_SYNC_FORCE, NULL, err, sizeof(err)));
	assert_true(mbox_sync(a, MBOX_SYNC_RECENT | MBOX_SYNC_FORCE, NULL, err, sizeof(err)));
	assert_true(b->msgs[1].recent);
	assert_false(a->msgs[1].recent);
	assert_true(a->msgs[0].recent); /* kept for the session that claimed it */
	mbox_close(a);
	mbox_close(b);
}

static void test_damaged_uidlist(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];

	deliver(f->md, "Subject: d\r\n\r\nd\r\n");
	struct mbox *m = open_sync(f->md, 0);
	uint32_t v = m->uidvalidity;
	mbox_close(m);
	snprintf(p, sizeof(p), "%s/originmail-uidlist", f->md);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("garbage\n1 :x\n", fp);
	fclose(fp);
	sleep(1); /* a new UIDVALIDITY is the clock's */
	m = open_sync(f->md, 0);
	assert_int_equal(m->count, 1);
	assert_int_not_equal(m->uidvalidity, v);
	mbox_close(m);
}

static void test_folder_names(void **state)
{
	char p[PATH_MAX];
	(void)state;

	const char *good[] = {"INBOX", "inbox", "Sent", "a.b.c", "Sent Items", "&AOQ-", "x]y"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(folder_name_valid(good[i]));
	const char *bad[] = {"",        "..",      "../x", "a/b", "a..b", ".a",     "a.",
	                     "INBOX.x", "inbox.y", "a\\b", "a*",  "a%",   "tab\tx", "\xc3\xa9t\xc3\xa9"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (folder_name_valid(bad[i]))
			print_message("accepted: %s\n", bad[i]);
		assert_false(folder_name_valid(bad[i]));
		assert_false(folder_path("/m", bad[i], p, sizeof(p)));
	}
	assert_true(folder_path("/m", "inbox", p, sizeof(p)));
	assert_string_equal(p, "/m");
	assert_true(folder_path("/m", "a.b", p, sizeof(p)));
	assert_string_equal(p, "/m/.a.b");
}

static void test_folders(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct folder_list l;

	assert_true(folder_init_defaults(f->md, err, sizeof(err)));
	assert_true(folder_list_all(f->md, &l));
	assert_int_equal(l.n, 5);
	assert_string_equal(l.names[0], "INBOX");
	assert_true(folder_list_has(&l, "Trash"));
	folder_list_free(&l);
	assert_true(folder_subscriptions(f->md, &l));
	assert_int_equal(l.n, 5);
	folder_list_free(&l);
	assert_string_equal(folder_special_use("Junk"), "\\Junk");
	assert_null(folder_special_use("junk"));

	assert_int_equal(folder_create(f->md, "Work.2025", err, sizeof(err)), 0);
	assert_int_equal(folder_create(f->md, "Work.2025", err, sizeof(err)), 1);
	assert_int_equal(folder_create(f->md, "a/../../x", err, sizeof(err)), 3);
	assert_int_equal(folder_create(f->md, "INBOX", err, sizeof(err)), 1);
	assert_int_equal(folder_create(f->md, "Work", err, sizeof(err)), 0);
	assert_int_equal(folder_rename(f->md, "Work", "Job", err, sizeof(err)), 0);
	assert_true(folder_exists(f->md, "Job"));
	assert_true(folder_exists(f->md, "Job.2025")); /* the children move along */
	assert_false(folder_exists(f->md, "Work.2025"));
	assert_int_equal(folder_rename(f->md, "Nope", "X", err, sizeof(err)), 2);
	assert_int_equal(folder_rename(f->md, "Job", "Sent", err, sizeof(err)), 1);
	assert_int_equal(folder_delete(f->md, "Job", err, sizeof(err)), 0);
	assert_false(folder_exists(f->md, "Job"));
	assert_true(folder_exists(f->md, "Job.2025"));
	assert_int_equal(folder_delete(f->md, "Job", err, sizeof(err)), 2);
	assert_int_equal(folder_delete(f->md, "INBOX", err, sizeof(err)), 3);

	assert_true(folder_subscribe(f->md, "Job.2025", true, err, sizeof(err)));
	assert_true(folder_subscribe(f->md, "Trash", false, err, sizeof(err)));
	assert_false(folder_subscribe(f->md, "../x", true, err, sizeof(err)));
	assert_true(folder_subscriptions(f->md, &l));
	assert_true(folder_list_has(&l, "Job.2025"));
	assert_false(folder_list_has(&l, "Trash"));
	folder_list_free(&l);

	/* RENAME INBOX moves its messages into the new folder; INBOX stays, empty */
	deliver(f->md, "Subject: i\r\n\r\ni\r\n");
	assert_int_equal(folder_rename(f->md, "INBOX", "Old", err, sizeof(err)), 0);
	char old[PATH_MAX];
	snprintf(old, sizeof(old), "%s/.Old", f->md);
	assert_int_equal(count_files(old, "new"), 1);
	assert_int_equal(count_files(f->md, "new"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_uids_stable_across_reopen, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_flags_round_trip, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_expunge_keeps_uids, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_append_and_copy, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_recent_is_claimed_once, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_damaged_uidlist, setup, teardown),
	        cmocka_unit_test(test_folder_names),
	        cmocka_unit_test_setup_teardown(test_new_uids_in_time_order, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_folders, setup, teardown),
	};
	return cmocka_run_group_tests_name("mailbox", tests, NULL, NULL);
}
