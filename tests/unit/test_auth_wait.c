/* A session's wait for a worker's password check (auth_wait.h): when it declines (the caller then checks
 * in place), that the waker is called and the answer taken once, and that a cancelled check is dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth_pool.h"
#include "auth/auth_wait.h"
#include "auth/passwd.h"

static int wakes;

static void on_wake(void *ctx)
{
	assert_ptr_equal(ctx, &wakes);
	wakes++;
}

static struct passwd_db *load_db(void)
{
	char path[] = "/tmp/originmail-auth-wait-XXXXXX", h[256], err[256];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_true(passwd_hash("right", h, sizeof(h)));
	dprintf(fd, "alice@example.test:%s::::::\n", h);
	close(fd);
	struct passwd_db *db = passwd_db_load(path, false, err, sizeof(err));
	assert_non_null(db);
	unlink(path);
	return db;
}

/* Dispatch until the waker is called (or the time is up). */
static void wait_wake(struct auth_pool *p)
{
	for (int round = 0; round < 200 && !wakes; round++) {
		struct pollfd pfd = {.fd = auth_pool_fd(p), .events = POLLIN};
		if (poll(&pfd, 1, 100) > 0)
			auth_pool_dispatch(p);
	}
	assert_int_equal(wakes, 1);
}

static void test_declines(void **state)
{
	(void)state;
	struct passwd_db *db = load_db();
	struct auth_wait w = {0};
	char err[128], long_user[300], long_tag[100];

	assert_false(auth_wait_submit(&w, db, "alice@example.test", NULL, "right")); /* no pool */
	struct auth_pool *p = auth_pool_start(1, err, sizeof(err));
	assert_non_null(p);
	auth_pool_set_current(p);
	assert_false(auth_wait_submit(&w, db, "alice@example.test", NULL, "right")); /* no waker */
	auth_wait_set_waker(&w, on_wake, &wakes);
	memset(long_user, 'a', sizeof(long_user) - 1);
	long_user[sizeof(long_user) - 1] = '\0';
	memset(long_tag, 't', sizeof(long_tag) - 1);
	long_tag[sizeof(long_tag) - 1] = '\0';
	assert_false(auth_wait_submit(&w, db, long_user, NULL, "right"));
	assert_false(auth_wait_submit(&w, db, "alice@example.test", long_tag, "right"));
	assert_false(auth_wait_busy(&w));
	bool ok;
	assert_false(auth_wait_take(&w, &ok));
	auth_wait_cancel(&w); /* none running: nothing to do */
	auth_pool_stop(p);
	passwd_db_free(db);
}

static void test_answers(void **state)
{
	(void)state;
	struct passwd_db *db = load_db();
	struct auth_wait w = {0};
	char err[128];
	bool ok = false;
	struct auth_pool *p = auth_pool_start(1, err, sizeof(err));

	assert_non_null(p);
	auth_pool_set_current(p);
	auth_wait_set_waker(&w, on_wake, &wakes);
	const char *pass[] = {"right", "wrong"};
	for (int i = 0; i < 2; i++) {
		wakes = 0;
		assert_true(auth_wait_submit(&w, db, "alice@example.test", i ? NULL : "a1", pass[i]));
		assert_true(auth_wait_busy(&w));
		wait_wake(p);
		assert_true(auth_wait_busy(&w)); /* until the answer is taken */
		assert_true(auth_wait_take(&w, &ok));
		assert_int_equal(ok, i == 0);
		assert_false(auth_wait_busy(&w));
		assert_false(auth_wait_take(&w, &ok)); /* taken once */
		assert_string_equal(w.user, "alice@example.test");
		assert_string_equal(w.tag, i ? "" : "a1");
	}

	/* Cancelled while it runs: no wake, nothing to take. */
	wakes = 0;
	assert_true(auth_wait_submit(&w, db, "alice@example.test", NULL, "right"));
	auth_wait_cancel(&w);
	assert_false(auth_wait_busy(&w));
	struct pollfd pfd = {.fd = auth_pool_fd(p), .events = POLLIN};
	if (poll(&pfd, 1, 2000) > 0)
		auth_pool_dispatch(p);
	assert_int_equal(wakes, 0);
	assert_false(auth_wait_take(&w, &ok));
	auth_pool_stop(p);
	passwd_db_free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_declines),
	        cmocka_unit_test(test_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
