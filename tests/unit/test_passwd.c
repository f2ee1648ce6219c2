/* passwd-file: schemes, lookups, load errors, passwd_hash, passwd_file_set. Real files in a temp dir. */
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
#include <time.h>
#include <unistd.h>

#include "auth/passwd.h"

struct fx {
	char dir[64];
	char path[128];
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
	snprintf(f->dir, sizeof(f->dir), "/tmp/om-passwd-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/passwd", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *o = fopen(path, "w");
	assert_non_null(o);
	assert_int_equal(fputs(text, o) >= 0, 1);
	assert_int_equal(fclose(o), 0);
}

static char *read_text(const char *path)
{
	static char buf[65536];
	FILE *i = fopen(path, "r");
	assert_non_null(i);
	size_t n = fread(buf, 1, sizeof(buf) - 1, i);
	fclose(i);
	buf[n] = '\0';
	return buf;
}

/* crypt(3) of pw with a fresh salt for prefix, at a low cost so the test stays fast. */
static void make_hash(const char *prefix, unsigned long count, const char *pw, char *out, size_t cap)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	assert_non_null(crypt_gensalt_rn(prefix, count, NULL, 0, salt, sizeof(salt)));
	const char *h = crypt_rn(pw, salt, &cd, sizeof(cd));
	assert_non_null(h);
	assert_true(strlen(h) < cap);
	snprintf(out, cap, "%s", h);
}

static struct passwd_db *load_ok(const char *path)
{
	char err[256] = "";
	struct passwd_db *db = passwd_db_load(path, false, err, sizeof(err));
	if (!db)
		print_message("load failed: %s\n", err);
	assert_non_null(db);
	return db;
}

/* Loading must fail with "PATH:LINE: ..." */
static void load_err(struct fx *f, const char *text, unsigned line)
{
	char err[256] = "", want[200];
	write_file(f->path, text);
	struct passwd_db *db = passwd_db_load(f->path, false, err, sizeof(err));
	if (db)
		print_message("loaded unexpectedly: %s\n", text);
	assert_null(db);
	snprintf(want, sizeof(want), "%s:%u: ", f->path, line);
	if (strncmp(err, want, strlen(want)))
		print_message("err '%s', want prefix '%s'\n", err, want);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
}

static void test_schemes(void **state)
{
	struct fx *f = *state;
	char sha[256], blf[256], md[256], yes[512], text[2048];

	make_hash("$6$", 1000, "sha-secret", sha, sizeof(sha));
	make_hash("$2b$", 4, "blf-secret", blf, sizeof(blf));
	make_hash("$5$", 1000, "crypt-secret", md, sizeof(md));
	assert_true(passwd_hash("yes-secret", yes, sizeof(yes)));
	assert_int_equal(strncmp(yes, "{CRYPT}$y$", 10), 0);
	snprintf(text, sizeof(text),
	         "sha@example.test:{SHA512-CRYPT}%s\n"
	         "blf@example.test:{BLF-CRYPT}%s:1000:1000::/home/blf::\n"
	         "yes@example.test:%s\n"
	         "crypt@example.test:{CRYPT}%s\n"
	         "bare@example.test:%s\n",
	         sha, blf, yes, md, sha);
	write_file(f->path, text);
	struct passwd_db *db = load_ok(f->path);
	assert_int_equal(passwd_db_count(db), 5);
	assert_true(passwd_db_verify(db, "sha@example.test", "sha-secret"));
	assert_true(passwd_db_verify(db, "blf@example.test", "blf-secret"));
	assert_true(passwd_db_verify(db, "yes@example.test", "yes-secret"));
	assert_true(passwd_db_verify(db, "crypt@example.test", "crypt-secret"));
	assert_true(passwd_db_verify(db, "bare@example.test", "sha-secret"));
	/* wrong passwords, including another user's */
	assert_false(passwd_db_verify(db, "sha@example.test", "sha-secreT"));
	assert_false(passwd_db_verify(db, "blf@example.test", "sha-secret"));
	assert_false(passwd_db_verify(db, "yes@example.test", ""));
	assert_false(passwd_db_verify(db, "crypt@example.test", "crypt-secret "));
	passwd_db_free(db);
}

static void test_unknown_user(void **state)
{
	struct fx *f = *state;
	char sha[256], text[512];

	make_hash("$6$", 1000, "pw", sha, sizeof(sha));
	snprintf(text, sizeof(text), "known@example.test:{SHA512-CRYPT}%s\n", sha);
	write_file(f->path, text);
	struct passwd_db *db = load_ok(f->path);
	assert_false(passwd_db_exists(db, "nobody@example.test"));
	assert_false(passwd_db_verify(db, "nobody@example.test", "pw"));
	assert_false(passwd_db_verify(db, "known@example.org", "pw"));
	assert_false(passwd_db_verify(db, "known", "pw"));
	assert_false(passwd_db_verify(db, "", "pw"));
	assert_false(passwd_db_verify(db, NULL, "pw"));
	assert_false(passwd_db_verify(db, "known@example.test", NULL));
	assert_true(passwd_db_verify(db, "known@example.test", "pw"));
	passwd_db_free(db);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* An unknown user costs a real hash computation, not a failed lookup's microseconds. */
static void test_unknown_user_work(void **state)
{
	struct fx *f = *state;
	char yes[512], text[1024];

	assert_true(passwd_hash("pw", yes, sizeof(yes)));
	snprintf(text, sizeof(text), "known@example.test:%s\n", yes);
	write_file(f->path, text);
	struct passwd_db *db = load_ok(f->path);
	double t0 = now_s();
	for (int i = 0; i < 3; i++)
		assert_false(passwd_db_verify(db, "known@example.test", "wrong"));
	double t1 = now_s();
	for (int i = 0; i < 3; i++)
		assert_false(passwd_db_verify(db, "unknown@example.test", "wrong"));
	double t2 = now_s();
	print_message("known %.1f ms, unknown %.1f ms per check\n", (t1 - t0) * 1000 / 3,
	              (t2 - t1) * 1000 / 3);
	assert_true(t2 - t1 > (t1 - t0) / 4);
	passwd_db_free(db);
}

static void test_domain_case(void **state)
{
	struct fx *f = *state;
	char sha[256], text[512];

	make_hash("$6$", 1000, "pw", sha, sizeof(sha));
	snprintf(text, sizeof(text), "alice@Example.Test:{sha512-crypt}%s\n", sha);
	write_file(f->path, text);
	struct passwd_db *db = load_ok(f->path);
	assert_true(passwd_db_exists(db, "alice@example.test"));
	assert_true(passwd_db_exists(db, "alice@EXAMPLE.TEST"));
	assert_true(passwd_db_verify(db, "alice@eXample.tesT", "pw"));
	/* the local part is exact */
	assert_false(passwd_db_exists(db, "Alice@example.test"));
	assert_false(passwd_db_verify(db, "ALICE@example.test", "pw"));
	passwd_db_free(db);
}

static void test_comments_blank(void **state)
{
	struct fx *f = *state;
	char sha[256], text[1024];

	make_hash("$6$", 1000, "pw", sha, sizeof(sha));
	snprintf(text, sizeof(text),
	         "# users of example.test\n\n   \n#no:colon:here:{MD5}x\na@example.test:{SHA512-CRYPT}%s\r\n"
	         "\t# indented comment\nb@example.test:{SHA512-CRYPT}%s",
	         sha, sha);
	write_file(f->path, text);
	struct passwd_db *db = load_ok(f->path);
	assert_int_equal(passwd_db_count(db), 2);
	assert_true(passwd_db_verify(db, "a@example.test", "pw")); /* CRLF line */
	assert_true(passwd_db_verify(db, "b@example.test", "pw")); /* no final newline */
	passwd_db_free(db);
}

static void test_malformed(void **state)
{
	struct fx *f = *state;

	load_err(f, "# ok\nno-colon-here\n", 2);
	load_err(f, "a@example.test:{SHA512-CRYPT}$6$x$y\n\n\nb@example.test:{MD5}$1$abc$def\n", 4);
	load_err(f, "a@example.test:{SHA512-CRYPT\n", 1);
	load_err(f, "a@example.test:\n", 1);
	load_err(f, "a@example.test:{YESCRYPT}\n", 1);
	load_err(f, "a@example.test:{SHA512-CRYPT}$2b$05$abc\n", 1);
	load_err(f, "a@example.test:{BLF-CRYPT}$6$abc$def\n", 1);
	load_err(f, "a@example.test:{YESCRYPT}$6$abc$def\n", 1);
	load_err(f, ":{CRYPT}$6$abc$def\n", 1);
	load_err(f, "nodomain:{CRYPT}$6$abc$def\n", 1);
	load_err(f, "a@:{CRYPT}$6$abc$def\n", 1);
	load_err(f, "@example.test:{CRYPT}$6$abc$def\n", 1);
	load_err(f, "a b@example.test:{CRYPT}$6$abc$def\n", 1);
	load_err(f, "a@example.test:{CRYPT}$6$a c$def\n", 1);
	load_err(f, "a@example.test:{CRYPT}$6$x$y\na@EXAMPLE.test:{CRYPT}$6$x$z\n", 2);
}

static void test_missing_file(void **state)
{
	struct fx *f = *state;
	char err[256] = "";

	assert_null(passwd_db_load(f->path, false, err, sizeof(err)));
	assert_non_null(strstr(err, f->path));
	struct passwd_db *db = passwd_db_load(f->path, true, err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(passwd_db_count(db), 0);
	assert_false(passwd_db_exists(db, "a@example.test"));
	assert_false(passwd_db_verify(db, "a@example.test", "pw"));
	passwd_db_free(db);
}

static void test_many_users(void **state)
{
	struct fx *f = *state;
	enum { N = 50000 };
	FILE *o = fopen(f->path, "w");
	assert_non_null(o);
	for (int i = 0; i < N; i++)
		fprintf(o, "user%d@Domain%d.test:{SHA512-CRYPT}$6$salt%d$hashhashhash%d\n", i, i % 7, i, i);
	assert_int_equal(fclose(o), 0);

	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	struct passwd_db *db = load_ok(f->path);
	char u[64];
	for (int i = 0; i < N; i++) {
		snprintf(u, sizeof(u), "user%d@domain%d.test", i, i % 7);
		assert_true(passwd_db_exists(db, u));
		snprintf(u, sizeof(u), "user%d@domain%d.test", i, (i + 1) % 7);
		assert_false(passwd_db_exists(db, u));
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	assert_int_equal(passwd_db_count(db), N);
	assert_true(s < 5.0); /* linear: well under a second normally, generous for ASan */
	passwd_db_free(db);
}

static void test_hash(void **state)
{
	(void)state;
	char a[512], b[512], tiny[20];

	assert_true(passwd_hash("same", a, sizeof(a)));
	assert_true(passwd_hash("same", b, sizeof(b)));
	assert_int_equal(strncmp(a, "{CRYPT}$y$", 10), 0);
	assert_string_not_equal(a, b); /* fresh salt each time */
	assert_false(passwd_hash("same", tiny, sizeof(tiny)));
	assert_false(passwd_hash(NULL, a, sizeof(a)));
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_file_set(void **state)
{
	struct fx *f = *state;
	char err[256] = "", h1[512], h2[512], h3[512];
	struct stat st0, st1;

	/* created 0640 when missing */
	assert_true(passwd_hash("one", h1, sizeof(h1)));
	assert_true(passwd_file_set(f->path, "new@example.test", h1, err, sizeof(err)));
	assert_int_equal(stat(f->path, &st0), 0);
	assert_int_equal(st0.st_mode & 07777, 0640);
	char line[600];
	snprintf(line, sizeof(line), "new@example.test:%s\n", h1);
	assert_string_equal(read_text(f->path), line);

	/* replace keeps the other lines, comments, and the replaced line's extra fields */
	write_file(f->path, "# header comment\n"
	                    "a@example.test:{SHA512-CRYPT}$6$aa$aaaa:1000:1000::/home/a::\n"
	                    "\n"
	                    "b@Example.Test:{SHA512-CRYPT}$6$bb$bbbb:1001:1001::/home/b::userdb_quota=1G\n"
	                    "c@example.test:{SHA512-CRYPT}$6$cc$cccc\n"
	                    "# trailing comment");
	assert_int_equal(chmod(f->path, 0640), 0);
	assert_int_equal(stat(f->path, &st0), 0);
	assert_true(passwd_hash("two", h2, sizeof(h2)));
	assert_true(passwd_file_set(f->path, "b@EXAMPLE.test", h2, err, sizeof(err)));
	char want[2048];
	snprintf(want, sizeof(want),
	         "# header comment\n"
	         "a@example.test:{SHA512-CRYPT}$6$aa$aaaa:1000:1000::/home/a::\n"
	         "\n"
	         "b@Example.Test:%s:1001:1001::/home/b::userdb_quota=1G\n"
	         "c@example.test:{SHA512-CRYPT}$6$cc$cccc\n"
	         "# trailing comment\n",
	         h2);
	assert_string_equal(read_text(f->path), want);
	/* atomic: a new inode renamed over the old, no temp file left, mode kept */
	assert_int_equal(stat(f->path, &st1), 0);
	assert_true(st0.st_ino != st1.st_ino);
	assert_int_equal(st1.st_mode & 07777, 0640);
	assert_int_equal(count_entries(f->dir), 1);

	/* add appends */
	assert_true(passwd_hash("three", h3, sizeof(h3)));
	assert_true(passwd_file_set(f->path, "d@example.test", h3, err, sizeof(err)));
	snprintf(want + strlen(want), sizeof(want) - strlen(want), "d@example.test:%s\n", h3);
	assert_string_equal(read_text(f->path), want);

	struct passwd_db *db = load_ok(f->path);
	assert_int_equal(passwd_db_count(db), 4);
	assert_true(passwd_db_verify(db, "b@example.test", "two"));
	assert_true(passwd_db_verify(db, "d@example.test", "three"));
	assert_false(passwd_db_verify(db, "b@example.test", "one"));
	passwd_db_free(db);

	/* bad arguments leave the file alone */
	assert_false(passwd_file_set(f->path, "x:y@example.test", h3, err, sizeof(err)));
	assert_false(passwd_file_set(f->path, "nodomain", h3, err, sizeof(err)));
	assert_false(passwd_file_set(f->path, "e@example.test", "{YESCRYPT}$y$a:b", err, sizeof(err)));
	assert_false(passwd_file_set(f->path, "e@example.test", "{MD5}x", err, sizeof(err)));
	assert_false(passwd_file_set(f->path, "e@example.test\nf@example.test", h3, err, sizeof(err)));
	assert_string_equal(read_text(f->path), want);
	assert_int_equal(count_entries(f->dir), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_schemes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_user, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_user_work, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_domain_case, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_comments_blank, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_many_users, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_hash, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_file_set, setup, teardown),
	};
	return cmocka_run_group_tests_name("passwd", tests, NULL, NULL);
}
