/* The per-process cache of folder scans (user/store/mailbox_cache.c): an unchanged folder is opened
 * from its last scan; any change another process could make (a delivery, a flag, an expunge, the UID
 * list rewritten) is seen; \Recent is still claimed once; the limit holds. To tell a cached open from a
 * scan, a test drops a file into cur/ and puts cur/'s mtime back: only a scan sees that file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/mailbox.h"

#include "mailbox_test.h"

/* Every directory and the UID list ten seconds in the past: scans from now on are a second newer. */
static void age(const char *md)
{
	const char *subs[] = {"cur", "new", "originmail-uidlist"};
	struct timespec t[2];
	char p[PATH_MAX];

	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= 10;
	t[1] = t[0];
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", md, subs[i]);
		utimensat(AT_FDCWD, p, t, 0); /* the UID list may not exist yet */
	}
}

static struct mbox *open_plain(const char *md, unsigned opts)
{
	char err[256];
	struct mbox *m = mbox_open(md, false, err, sizeof(err));
	assert_non_null(m);
	if (!mbox_sync(m, opts, NULL, err, sizeof(err)))
		fail_msg("sync: %s", err);
	return m;
}

/* A message file put into cur/ behind the cache's back: cur/'s mtime is set back as it was. */
static void sneak_in(const char *md, const char *name)
{
	char d[PATH_MAX], p[PATH_MAX];
	struct stat st;

	snprintf(d, sizeof(d), "%s/cur", md);
	assert_int_equal(stat(d, &st), 0);
	snprintf(p, sizeof(p), "%s/cur/%s", md, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("Subject: sneaked\r\n\r\nx\r\n", f);
	fclose(f);
	struct timespec t[2] = {st.st_atim, st.st_mtim};
	assert_int_equal(utimensat(AT_FDCWD, d, t, 0), 0);
}

/* Three messages moved to cur/ and listed, everything aged, then scanned once (and so cached). */
static void prepare(const char *md)
{
	deliver(md, "Subject: 1\r\n\r\none\r\n");
	deliver(md, "Subject: 2\r\n\r\ntwo\r\n");
	deliver(md, "Subject: 3\r\n\r\nthree\r\n");
	mbox_close(open_plain(md, MBOX_SYNC_MOVE_NEW | MBOX_SYNC_RECENT));
	age(md);
	mbox_close(open_plain(md, MBOX_SYNC_FORCE)); /* a scan of the aged folder: cached */
}

static void test_unchanged_folder_opens_from_cache(void **state)
{
	struct fx *f = *state;

	mbox_cache_set_limit(MBOX_CACHE_DEFAULT);
	prepare(f->md);
	sneak_in(f->md, "1795500000.M1P1Q1.host:2,S");
	struct mbox *m = open_plain(f->md, MBOX_SYNC_MOVE_NEW | MBOX_SYNC_RECENT);
	assert_int_equal(m->count, 3); /* from the cache: the sneaked file is not there */
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(m->msgs[i].uid, i + 1);
		assert_false(m->msgs[i].recent); /* claimed by the first open, not again */
		assert_false(m->msgs[i].in_new);
	}
	assert_int_equal(m->uidnext, 4);
	assert_true(m->uidvalidity > 0);
	char first[256];
	snprintf(first, sizeof(first), "%s", m->msgs[0].file);
	mbox_close(m);

	m = open_plain(f->md, MBOX_SYNC_FORCE); /* a scan finds it */
	assert_int_equal(m->count, 4);
	assert_string_equal(m->msgs[0].file, first);
	mbox_close(m);
	mbox_cache_clear();
}

static void test_changes_are_seen(void **state)
{
	struct fx *f = *state;
	char err[256];

	mbox_cache_set_limit(MBOX_CACHE_DEFAULT);
	prepare(f->md);

	/* a delivery: new/ changes */
	deliver(f->md, "Subject: 4\r\n\r\nfour\r\n");
	struct mbox *m = open_plain(f->md, 0);
	assert_int_equal(m->count, 4);
	assert_true(m->msgs[3].in_new);
	mbox_close(m);
	/* EXAMINE took it from the scan; a SELECT must still move it and claim it */
	age(f->md);
	mbox_close(open_plain(f->md, 0));
	m = open_plain(f->md, MBOX_SYNC_MOVE_NEW | MBOX_SYNC_RECENT);
	assert_int_equal(m->count, 4);
	assert_false(m->msgs[3].in_new);
	assert_true(m->msgs[3].recent);
	mbox_close(m);

	/* a flag set by another session: a rename in cur/ */
	age(f->md);
	mbox_close(open_plain(f->md, MBOX_SYNC_FORCE));
	struct mbox *other = open_plain(f->md, MBOX_SYNC_FORCE);
	assert_true(mbox_lock(other, err, sizeof(err)));
	assert_true(mbox_set_flags(other, &other->msgs[1], MBOX_FLAGGED, 0));
	mbox_unlock(other);
	mbox_close(other);
	m = open_plain(f->md, 0);
	assert_true(m->msgs[1].flags & MBOX_FLAGGED);
	mbox_close(m);

	/* an expunge elsewhere */
	age(f->md);
	mbox_close(open_plain(f->md, MBOX_SYNC_FORCE));
	other = open_plain(f->md, MBOX_SYNC_FORCE);
	char p[PATH_MAX];
	assert_true(mbox_msg_path(other, &other->msgs[0], p, sizeof(p)));
	assert_int_equal(unlink(p), 0);
	mbox_close(other);
	m = open_plain(f->md, 0);
	assert_int_equal(m->count, 3);
	assert_int_equal(m->msgs[0].uid, 2);
	mbox_close(m);
	mbox_cache_clear();
}

/* The UID list rewritten without a directory changing (another instance claimed \Recent): the cached
 * recent mark is stale, so the list's own stamp must tell. */
static void test_uidlist_rewrite_is_seen(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX], tmp[PATH_MAX];

	mbox_cache_set_limit(MBOX_CACHE_DEFAULT);
	prepare(f->md);
	sneak_in(f->md, "1795500000.M2P1Q1.host:2,");
	snprintf(p, sizeof(p), "%s/originmail-uidlist", f->md);
	snprintf(tmp, sizeof(tmp), "%s/originmail-uidlist.new", f->md);
	struct stat before;
	assert_int_equal(stat(p, &before), 0);
	FILE *in = fopen(p, "r"), *out = fopen(tmp, "w");
	assert_non_null(in);
	assert_non_null(out);
	char line[512];
	while (fgets(line, sizeof(line), in))
		fputs(line, out);
	fclose(in);
	fclose(out);
	assert_int_equal(rename(tmp, p), 0); /* the same text and size, a new file */
	struct timespec t[2] = {before.st_atim, before.st_mtim};
	assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0); /* and the same mtime: only its inode differs */
	struct mbox *m = open_plain(f->md, 0);
	assert_int_equal(m->count, 4); /* scanned again: the sneaked file is found */
	mbox_close(m);
	mbox_cache_clear();
}

static void test_limit(void **state)
{
	struct fx *f = *state;
	struct mbox_cache_stats before, after;

	/* 0 keeps nothing, an empty folder included */
	mbox_cache_set_limit(0);
	age(f->md);
	mbox_cache_stats(&before);
	mbox_close(open_plain(f->md, MBOX_SYNC_FORCE));
	mbox_close(open_plain(f->md, 0));
	mbox_cache_stats(&after);
	assert_int_equal(after.hits, before.hits);

	prepare(f->md);
	sneak_in(f->md, "1795500000.M3P1Q1.host:2,");
	struct mbox *m = open_plain(f->md, 0);
	assert_int_equal(m->count, 4); /* nothing cached: scanned */
	mbox_close(m);

	/* room for 5 messages: a second folder of 3 pushes the first out */
	char err[256], second[PATH_MAX];
	snprintf(second, sizeof(second), "%s/.Second", f->md);
	assert_true(maildir_ensure(second, err, sizeof(err)));
	mbox_cache_set_limit(5);
	prepare(second);
	age(f->md);
	mbox_close(open_plain(f->md, MBOX_SYNC_FORCE)); /* 4 in the first: the second's 3 go */
	sneak_in(second, "1795500000.M4P1Q1.host:2,");
	m = open_plain(second, 0);
	assert_int_equal(m->count, 4); /* evicted: scanned */
	mbox_close(m);
	sneak_in(f->md, "1795500000.M5P1Q1.host:2,");
	m = open_plain(f->md, 0);
	assert_int_equal(m->count, 5); /* the first was evicted by the second's scan just now */
	mbox_close(m);
	mbox_cache_set_limit(MBOX_CACHE_DEFAULT);
	mbox_cache_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_unchanged_folder_opens_from_cache, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_changes_are_seen, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_uidlist_rewrite_is_seen, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
	};
	return cmocka_run_group_tests_name("mailbox_cache", tests, NULL, NULL);
}
