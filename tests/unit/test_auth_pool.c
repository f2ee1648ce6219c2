/* The password-check pool: answers match passwd_check, callbacks come only from dispatch on the caller's
 * thread, and a job let go of at any stage (queued, running, finished, delivered) is never called back
 * and never leaks (ASan and valgrind runs). Real crypt(3) hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth_pool.h"
#include "auth/passwd.h"

#define NJOBS 12

struct call {
	int calls;
	struct auth_job *job;
};

static void on_done(void *arg)
{
	struct call *c = arg;

	c->calls++;
	assert_true(auth_job_finished(c->job));
}

/* A real setting: passwd_hash gives "{CRYPT}$y$..."; the check takes the crypt string. */
static void make_setting(char *out, size_t cap, const char *password)
{
	char h[256];

	assert_true(passwd_hash(password, h, sizeof(h)));
	assert_int_equal(strncmp(h, "{CRYPT}", 7), 0);
	snprintf(out, cap, "%s", h + 7);
}

/* Dispatch until every job in calls[0..n) has been called back (or the time is up). */
static void wait_all(struct auth_pool *p, struct call *calls, int n)
{
	for (int round = 0; round < 200; round++) {
		int done = 0;
		for (int i = 0; i < n; i++)
			done += calls[i].calls;
		if (done == n)
			return;
		struct pollfd pfd = {.fd = auth_pool_fd(p), .events = POLLIN};
		if (poll(&pfd, 1, 100) > 0)
			auth_pool_dispatch(p);
	}
	fail_msg("the pool did not answer every job");
}

static void test_answers(void **state)
{
	(void)state;
	char setting[256], err[128];
	make_setting(setting, sizeof(setting), "right");
	struct auth_pool *p = auth_pool_start(3, err, sizeof(err));
	assert_non_null(p);

	struct call calls[NJOBS] = {0};
	for (int i = 0; i < NJOBS; i++) {
		const char *pw = i % 3 == 0 ? "right" : i % 3 == 1 ? "wrong" : "";
		calls[i].job = auth_pool_submit(p, setting, true, pw, on_done, &calls[i]);
		assert_non_null(calls[i].job);
		assert_false(auth_job_finished(calls[i].job)); /* only dispatch finishes a job */
	}
	wait_all(p, calls, NJOBS);
	for (int i = 0; i < NJOBS; i++) {
		assert_int_equal(calls[i].calls, 1);
		assert_int_equal(auth_job_ok(calls[i].job), i % 3 == 0); /* right; wrong and empty fail */
		auth_job_free(calls[i].job);
	}
	/* An unknown user is checked against the setting all the same, and fails. */
	struct call unknown = {0};
	unknown.job = auth_pool_submit(p, setting, false, "right", on_done, &unknown);
	wait_all(p, &unknown, 1);
	assert_false(auth_job_ok(unknown.job));
	auth_job_free(unknown.job);
	auth_pool_stop(p);
}

static void test_let_go_at_any_stage(void **state)
{
	(void)state;
	char setting[256], err[128];
	make_setting(setting, sizeof(setting), "pw");
	struct auth_pool *p = auth_pool_start(1, err, sizeof(err));
	assert_non_null(p);

	/* One worker: the first job runs while the others wait in the queue. Let go of a waiting one
	 * and of the running one; the rest are answered. */
	struct call calls[NJOBS] = {0};
	for (int i = 0; i < NJOBS; i++)
		calls[i].job = auth_pool_submit(p, setting, true, "pw", on_done, &calls[i]);
	auth_job_free(calls[0].job); /* running or queued, whichever it is by now */
	auth_job_free(calls[5].job); /* queued */
	const int n = NJOBS - 2;
	for (int round = 0; round < 200; round++) {
		int done = 0;
		for (int i = 0; i < NJOBS; i++)
			done += calls[i].calls;
		if (done == n)
			break;
		struct pollfd pfd = {.fd = auth_pool_fd(p), .events = POLLIN};
		if (poll(&pfd, 1, 100) > 0)
			auth_pool_dispatch(p);
	}
	assert_int_equal(calls[0].calls, 0);
	assert_int_equal(calls[5].calls, 0);
	for (int i = 0; i < NJOBS; i++)
		if (i != 0 && i != 5) {
			assert_int_equal(calls[i].calls, 1);
			assert_true(auth_job_ok(calls[i].job));
			auth_job_free(calls[i].job);
		}

	/* Finished but not yet dispatched: freed, and dispatch then calls nothing. */
	struct call late = {0};
	late.job = auth_pool_submit(p, setting, true, "pw", on_done, &late);
	struct pollfd pfd = {.fd = auth_pool_fd(p), .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	auth_job_free(late.job);
	auth_pool_dispatch(p);
	assert_int_equal(late.calls, 0);

	/* Stopping with jobs still queued frees them without calling back. */
	struct call left[4] = {0};
	for (int i = 0; i < 4; i++)
		left[i].job = auth_pool_submit(p, setting, true, "pw", on_done, &left[i]);
	auth_pool_stop(p);
	for (int i = 0; i < 4; i++)
		assert_int_equal(left[i].calls, 0);
}

static void test_bad_sizes_and_current(void **state)
{
	(void)state;
	char err[128];

	assert_null(auth_pool_start(0, err, sizeof(err)));
	assert_non_null(strstr(err, "1 to 64"));
	assert_null(auth_pool_start(65, err, sizeof(err)));
	assert_null(auth_pool_current());
	struct auth_pool *p = auth_pool_start(2, err, sizeof(err));
	assert_non_null(p);
	auth_pool_set_current(p);
	assert_ptr_equal(auth_pool_current(), p);
	auth_pool_stop(p); /* the current pool stopped: none is current */
	assert_null(auth_pool_current());
	auth_job_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_answers),
	        cmocka_unit_test(test_let_go_at_any_stage),
	        cmocka_unit_test(test_bad_sizes_and_current),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
