/* Maildir delivery: layout, paths, transactions across recipients, rollback, tmp cleaning, names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/maildir.h"

struct fx {
	char root[64];
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
	snprintf(f->root, sizeof(f->root), "/tmp/om-maildir-XXXXXX");
	assert_non_null(mkdtemp(f->root));
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

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The names in dir (without dot files), sorted, into names (each up to 256 bytes); returns the count. */
static int list_dir(const char *dir, char (*names)[256], int max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		assert_true(n < max || !names);
		if (names)
			snprintf(names[n], 256, "%s", de->d_name);
		n++;
	}
	closedir(d);
	if (names)
		qsort(names, (size_t)n, 256, cmp_name);
	return n;
}

static int count_in(const char *maildir, const char *sub)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s", maildir, sub);
	return list_dir(p, NULL, 0);
}

static void md(const struct fx *f, const char *user, char *out, size_t cap)
{
	assert_true(maildir_path(f->root, user, out, cap));
}

static void assert_dir_0700(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
}

static void test_ensure(void **state)
{
	struct fx *f = *state;
	char m[512], p[1024], err[256] = "";

	md(f, "alice@example.test", m, sizeof(m));
	assert_true(maildir_ensure(m, err, sizeof(err)));
	assert_true(maildir_ensure(m, err, sizeof(err))); /* idempotent */
	assert_dir_0700(m);
	const char *subs[] = {"cur", "new", "tmp"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", m, subs[i]);
		assert_dir_0700(p);
	}
	/* a file where a directory belongs */
	snprintf(p, sizeof(p), "%s/afile", f->root);
	FILE *o = fopen(p, "w");
	assert_non_null(o);
	fclose(o);
	snprintf(m, sizeof(m), "%s/afile/Maildir", f->root);
	assert_false(maildir_ensure(m, err, sizeof(err)));
	assert_non_null(strstr(err, "afile"));
}

static void test_path(void **state)
{
	struct fx *f = *state;
	char out[512], want[512];

	assert_true(maildir_path(f->root, "Bob.Smith+x@Example.TEST", out, sizeof(out)));
	snprintf(want, sizeof(want), "%s/example.test/Bob.Smith+x/Maildir", f->root);
	assert_string_equal(out, want);

	const char *bad[] = {"../x@example.test",
	                     "a/b@example.test",
	                     "@example.test",
	                     "user@",
	                     ".hidden@example.test",
	                     "user@.example.test",
	                     "user@../etc",
	                     "user@a/b",
	                     "a..b@example.test",
	                     "user@example..test",
	                     "tab\there@example.test",
	                     "nl\n@example.test",
	                     "del\x7f@example.test",
	                     "noat",
	                     ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (maildir_path(f->root, bad[i], out, sizeof(out)))
			print_message("accepted '%s' as %s\n", bad[i], out);
		assert_false(maildir_path(f->root, bad[i], out, sizeof(out)));
	}
	/* too small an output */
	assert_false(maildir_path(f->root, "bob@example.test", out, 10));
}

/* Deliver text to the given users; returns the commit's result. */
static bool deliver(const struct fx *f, const char *const *users, size_t n, const char *text, char *err,
                    size_t errlen)
{
	char paths[8][512];
	const char *dirs[8];
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		md(f, users[i], paths[i], sizeof(paths[i]));
		dirs[i] = paths[i];
	}
	struct maildir_tx *tx = maildir_tx_begin(dirs[0], err, errlen);
	assert_non_null(tx);
	assert_true(maildir_tx_write(tx, text, strlen(text)));
	assert_int_equal(maildir_tx_size(tx), strlen(text));
	return maildir_tx_commit(tx, dirs, n, err, errlen);
}

/* The one message in maildir/new: its content must be want. */
static void assert_one_message(const char *maildir, const char *want, size_t len, char *name_out)
{
	char dir[1024], p[1400], names[4][256];
	snprintf(dir, sizeof(dir), "%s/new", maildir);
	assert_int_equal(list_dir(dir, names, 4), 1);
	snprintf(p, sizeof(p), "%s/%s", dir, names[0]);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal((size_t)st.st_size, len);
	char *buf = malloc(len + 1);
	assert_non_null(buf);
	int fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, len + 1), (ssize_t)len);
	close(fd);
	assert_memory_equal(buf, want, len);
	free(buf);
	if (name_out)
		snprintf(name_out, 256, "%s", names[0]);
	assert_int_equal(count_in(maildir, "tmp"), 0);
}

static void test_commit_one(void **state)
{
	struct fx *f = *state;
	char m[512], err[256] = "", name[256], host[256];
	const char *users[] = {"alice@example.test"};
	const char *text = "From: a@example.test\r\nSubject: hi\r\n\r\nbody\r\n";

	assert_true(deliver(f, users, 1, text, err, sizeof(err)));
	md(f, users[0], m, sizeof(m));
	assert_one_message(m, text, strlen(text), name);
	assert_int_equal(count_in(m, "cur"), 0);

	/* <sec>.M<usec>P<pid>Q<counter>R<hex>.<host> */
	long long sec;
	long usec, pid;
	unsigned long q;
	int used = 0;
	assert_int_equal(sscanf(name, "%lld.M%ldP%ldQ%luR%*[0-9a-f].%n", &sec, &usec, &pid, &q, &used), 4);
	assert_true(used > 0);
	assert_true(llabs(sec - (long long)time(NULL)) < 60);
	assert_true(usec >= 0 && usec < 1000000);
	assert_int_equal(pid, (long)getpid());
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	if (!strchr(host, '/') && !strchr(host, ':'))
		assert_string_equal(name + used, host);
	assert_null(strchr(name, '/'));
	assert_null(strchr(name, ':'));
}

static void test_commit_three(void **state)
{
	struct fx *f = *state;
	char m[3][512], err[256] = "", names[3][256];
	const char *users[] = {"a@example.test", "b@example.test", "c@Example.ORG"};
	const char *text = "Subject: three\r\n\r\nhello all\r\n";

	assert_true(deliver(f, users, 3, text, err, sizeof(err)));
	for (int i = 0; i < 3; i++) {
		md(f, users[i], m[i], sizeof(m[i]));
		assert_one_message(m[i], text, strlen(text), names[i]);
	}
	assert_string_equal(names[0], names[1]);
	assert_string_equal(names[0], names[2]);
	/* one file, three links (the tmp name is gone) */
	char p[1400];
	struct stat st;
	snprintf(p, sizeof(p), "%s/new/%s", m[2], names[2]);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_nlink, 3);
}

static void test_duplicate_recipient(void **state)
{
	struct fx *f = *state;
	char m[512], err[256] = "";
	const char *users[] = {"a@example.test", "a@EXAMPLE.test"};

	assert_true(deliver(f, users, 2, "x\r\n", err, sizeof(err)));
	md(f, users[0], m, sizeof(m));
	assert_one_message(m, "x\r\n", 3, NULL);
}

static void test_large_buffered(void **state)
{
	struct fx *f = *state;
	char m[512], err[256] = "";
	enum { LEN = 300 * 1024 + 17 };
	char *data = malloc(LEN);
	assert_non_null(data);
	for (size_t i = 0; i < LEN; i++)
		data[i] = (char)('a' + (i * 7 + i / 1000) % 26);

	md(f, "big@example.test", m, sizeof(m));
	struct maildir_tx *tx = maildir_tx_begin(m, err, sizeof(err));
	assert_non_null(tx);
	/* odd sizes: lines, nothing, a chunk bigger than the buffer, the rest */
	size_t off = 0, steps[] = {1, 77, 0, 1000, 65536, 70000, 3};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_true(maildir_tx_write(tx, data + off, steps[i]));
		off += steps[i];
	}
	while (off < LEN) {
		size_t k = LEN - off < 999 ? LEN - off : 999;
		assert_true(maildir_tx_write(tx, data + off, k));
		off += k;
	}
	assert_int_equal(maildir_tx_size(tx), LEN);
	const char *dirs[] = {m};
	assert_true(maildir_tx_commit(tx, dirs, 1, err, sizeof(err)));
	assert_one_message(m, data, LEN, NULL);
	free(data);
}

static void test_abort(void **state)
{
	struct fx *f = *state;
	char m[512], err[256] = "";

	md(f, "a@example.test", m, sizeof(m));
	struct maildir_tx *tx = maildir_tx_begin(m, err, sizeof(err));
	assert_non_null(tx);
	assert_true(maildir_tx_write(tx, "partial", 7));
	assert_int_equal(count_in(m, "tmp"), 1);
	maildir_tx_abort(tx);
	assert_int_equal(count_in(m, "tmp"), 0);
	assert_int_equal(count_in(m, "new"), 0);
	assert_int_equal(count_in(m, "cur"), 0);

	/* no recipients: a failed commit, nothing left */
	tx = maildir_tx_begin(m, err, sizeof(err));
	assert_non_null(tx);
	assert_false(maildir_tx_commit(tx, NULL, 0, err, sizeof(err)));
	assert_int_equal(count_in(m, "tmp"), 0);
	assert_int_equal(count_in(m, "new"), 0);
}

static void test_rollback(void **state)
{
	struct fx *f = *state;
	char m[512], p[1024], err[256] = "";

	/* a file where c@example.test's user directory should be */
	snprintf(p, sizeof(p), "%s/example.test", f->root);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/example.test/c", f->root);
	FILE *o = fopen(p, "w");
	assert_non_null(o);
	fclose(o);

	const char *users[] = {"a@example.test", "b@example.test", "c@example.test"};
	assert_false(deliver(f, users, 3, "secret\r\n", err, sizeof(err)));
	assert_true(err[0] != '\0');
	assert_non_null(strstr(err, "example.test/c"));
	for (int i = 0; i < 2; i++) {
		md(f, users[i], m, sizeof(m));
		assert_int_equal(count_in(m, "new"), 0);
		assert_int_equal(count_in(m, "tmp"), 0);
	}
}

static void test_clean_tmp(void **state)
{
	struct fx *f = *state;
	char m[512], p[1024], err[256] = "", names[4][256];

	md(f, "a@example.test", m, sizeof(m));
	assert_true(maildir_ensure(m, err, sizeof(err)));
	const char *files[] = {"old", "fresh"};
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/tmp/%s", m, files[i]);
		FILE *o = fopen(p, "w");
		assert_non_null(o);
		fclose(o);
	}
	struct timespec ts[2] = {{.tv_sec = time(NULL) - 2 * 86400}, {.tv_sec = time(NULL) - 2 * 86400}};
	snprintf(p, sizeof(p), "%s/tmp/old", m);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	/* an old message in new/ is not touched */
	snprintf(p, sizeof(p), "%s/new/delivered", m);
	FILE *o = fopen(p, "w");
	assert_non_null(o);
	fclose(o);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);

	assert_int_equal(maildir_clean_tmp(m, 36 * 3600), 1);
	snprintf(p, sizeof(p), "%s/tmp", m);
	assert_int_equal(list_dir(p, names, 4), 1);
	assert_string_equal(names[0], "fresh");
	assert_int_equal(count_in(m, "new"), 1);
	assert_int_equal(maildir_clean_tmp(m, 36 * 3600), 0);
	snprintf(p, sizeof(p), "%s/nonexistent", f->root);
	assert_int_equal(maildir_clean_tmp(p, 1), -1);
}

/* A pid that ran and is gone: a child that exited and was reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

/* A unique name as maildir_unique_name makes it, with the pid and host replaced. */
static void name_for(char *out, size_t cap, long pid, const char *host)
{
	char mine[300], hostname[256];
	assert_true(maildir_unique_name(mine, sizeof(mine)));
	assert_int_equal(gethostname(hostname, sizeof(hostname)), 0);
	/* "<sec>.M<usec>P<pid>Q<n>R<hex>.<host>": keep up to 'P', then the chosen pid and host */
	char *p = strchr(mine, 'P'), *q = strchr(mine, 'Q'), *r = strchr(mine, 'R');
	assert_non_null(p);
	assert_non_null(q);
	assert_non_null(r);
	snprintf(out, cap, "%.*s%ld%.*s.%s", (int)(p - mine + 1), mine, pid, (int)(r - q + 17), q,
	         host ? host : hostname);
}

static void touch(const char *dir, const char *name)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *o = fopen(p, "w");
	assert_non_null(o);
	fputs("Subject: half\r\n", o);
	fclose(o);
}

/* After kill -9: what a process that is gone left in tmp/ goes at once; what a live process (this one,
 * pid 1) or another host's process is writing stays until it is old. */
static void test_clean_tmp_orphans(void **state)
{
	struct fx *f = *state;
	char m[512], tmp[600], err[256] = "", names[8][256], n_dead[300], n_self[300], n_init[300],
	                       n_other[300], n_dead_sized[400];
	pid_t gone = dead_pid();

	md(f, "a@example.test", m, sizeof(m));
	assert_true(maildir_ensure(m, err, sizeof(err)));
	snprintf(tmp, sizeof(tmp), "%s/tmp", m);
	name_for(n_dead, sizeof(n_dead), gone, NULL);
	name_for(n_self, sizeof(n_self), getpid(), NULL);
	name_for(n_init, sizeof(n_init), 1, NULL);
	name_for(n_other, sizeof(n_other), gone, "other.example");
	snprintf(n_dead_sized, sizeof(n_dead_sized), "%s,S=42,W=43", n_dead);
	n_dead_sized[0] = n_dead_sized[0] == '1' ? '2' : '1'; /* a second name from the dead process */
	const char *all[] = {n_dead, n_self, n_init, n_other, n_dead_sized, "not-our-format"};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		touch(tmp, all[i]);

	assert_true(maildir_name_orphaned(n_dead));
	assert_true(maildir_name_orphaned(n_dead_sized));
	assert_false(maildir_name_orphaned(n_self));
	assert_false(maildir_name_orphaned(n_init));
	assert_false(maildir_name_orphaned(n_other));
	assert_false(maildir_name_orphaned("not-our-format"));
	assert_false(maildir_name_orphaned(""));

	assert_int_equal(maildir_clean_tmp(m, 36 * 3600), 2);
	assert_int_equal(list_dir(tmp, names, 8), 4);
	for (int i = 0; i < 4; i++)
		assert_true(strcmp(names[i], n_dead) != 0 && strcmp(names[i], n_dead_sized) != 0);
}

/* The start-up sweep: every user's INBOX and folders, and a folder a crash left half-deleted. */
static void test_sweep(void **state)
{
	struct fx *f = *state;
	char a[512], b[512], folder[600], p[1200], err[256] = "", dead[300], live[300];
	unsigned maildirs = 0;
	struct stat st;

	name_for(dead, sizeof(dead), dead_pid(), NULL);
	name_for(live, sizeof(live), getpid(), NULL);
	md(f, "a@example.test", a, sizeof(a));
	md(f, "b@example.org", b, sizeof(b));
	snprintf(folder, sizeof(folder), "%s/.Archive", a);
	assert_true(maildir_ensure(a, err, sizeof(err)));
	assert_true(maildir_ensure(b, err, sizeof(err)));
	assert_true(maildir_ensure(folder, err, sizeof(err)));
	snprintf(p, sizeof(p), "%s/tmp", a);
	touch(p, dead);
	touch(p, live);
	snprintf(p, sizeof(p), "%s/tmp", b);
	touch(p, dead);
	snprintf(p, sizeof(p), "%s/tmp", folder);
	touch(p, dead);
	/* DELETE renames a folder to "..deleted.<unique name>", then removes it */
	snprintf(p, sizeof(p), "%s/..deleted.%s", a, dead);
	assert_true(maildir_ensure(p, err, sizeof(err)));
	touch(p, "cur-file-of-the-deleted-folder");
	char kept[1024];
	snprintf(kept, sizeof(kept), "%s/..deleted.%s", a, live);
	assert_true(maildir_ensure(kept, err, sizeof(err)));

	assert_int_equal(maildir_sweep(f->root, 36 * 3600, &maildirs), 4);
	assert_int_equal(maildirs, 3);
	assert_int_equal(count_in(a, "tmp"), 1);
	assert_int_equal(count_in(b, "tmp"), 0);
	assert_int_equal(count_in(folder, "tmp"), 0);
	assert_int_not_equal(stat(p, &st), 0);
	assert_int_equal(stat(kept, &st), 0);
	assert_int_equal(maildir_sweep(f->root, 36 * 3600, &maildirs), 0);
	snprintf(p, sizeof(p), "%s/missing", f->root);
	assert_int_equal(maildir_sweep(p, 36 * 3600, &maildirs), 0);
	assert_int_equal(maildirs, 0);
}

static void test_unique_names(void **state)
{
	struct fx *f = *state;
	char m[512], err[256] = "", dir[1024];
	enum { N = 1000 };

	md(f, "many@example.test", m, sizeof(m));
	const char *dirs[] = {m};
	for (int i = 0; i < N; i++) {
		struct maildir_tx *tx = maildir_tx_begin(m, err, sizeof(err));
		assert_non_null(tx);
		assert_true(maildir_tx_write(tx, "m\r\n", 3));
		if (!maildir_tx_commit(tx, dirs, 1, err, sizeof(err)))
			print_message("commit %d: %s\n", i, err);
		assert_int_equal(err[0], '\0');
	}
	char(*names)[256] = calloc(N, 256);
	assert_non_null(names);
	snprintf(dir, sizeof(dir), "%s/new", m);
	assert_int_equal(list_dir(dir, names, N), N);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(names[i - 1], names[i]);
	assert_int_equal(count_in(m, "tmp"), 0);
	free(names);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_ensure, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_path, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_commit_one, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_commit_three, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_duplicate_recipient, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_large_buffered, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_clean_tmp, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_clean_tmp_orphans, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unique_names, setup, teardown),
	};
	return cmocka_run_group_tests_name("maildir", tests, NULL, NULL);
}
