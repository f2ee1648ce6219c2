/* Log lines on stderr: journald priority prefixes ("<4>warning: ...") when $JOURNAL_STREAM names our
 * stderr, the timestamped line otherwise (also when $JOURNAL_STREAM names some other stream). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log/log.h"

static char path[64];
static int saved_stderr = -1;

/* stderr into a fresh file; journal: $JOURNAL_STREAM names it (else a stream that is not ours). */
static void capture(bool journal)
{
	struct stat st;
	char v[64];

	snprintf(path, sizeof(path), "/tmp/om-log-test-%d", (int)getpid());
	FILE *f = fopen(path, "w+");
	assert_non_null(f);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	fclose(f);
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino + (journal ? 0 : 1));
	setenv("JOURNAL_STREAM", v, 1);
	assert_true(log_open("stderr", "originmaild"));
}

/* What was written, stderr restored. */
static const char *captured(void)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	unlink(path);
	unsetenv("JOURNAL_STREAM");
	log_open("stderr", "originmaild");
	return buf;
}

static void test_journal_prefixes(void **state)
{
	(void)state;
	capture(true);
	log_set_level(LOG_LVL_DEBUG);
	log_err("disk %s", "full");
	log_warn("Refused connection from %s", "192.0.2.66");
	log_info("ready");
	log_debug("detail %d", 7);
	log_set_level(LOG_LVL_INFO);
	log_debug("not shown");
	assert_string_equal(captured(), "<3>error: disk full\n"
	                                "<4>warning: Refused connection from 192.0.2.66\n"
	                                "<6>info: ready\n"
	                                "<7>debug: detail 7\n");
}

static void test_other_stream_keeps_timestamps(void **state)
{
	(void)state;
	char want[64];
	capture(false);
	log_warn("x");
	const char *out = captured();
	snprintf(want, sizeof(want), " originmaild[%d]: warning: x\n", (int)getpid());
	assert_true(out[0] >= '0' && out[0] <= '9'); /* 2026-11-24T21:00:00.000 */
	assert_non_null(strstr(out, want));
	assert_null(strchr(out, '<'));
}

/* The pid is remembered (no getpid() per line), and asked again in a forked child (the relay worker). */
static void test_child_logs_its_own_pid(void **state)
{
	(void)state;
	char want[64];
	capture(false);
	log_warn("parent");
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		log_warn("child");
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(child, &st, 0), child);
	log_warn("parent again");
	const char *out = captured();
	snprintf(want, sizeof(want), "[%d]: warning: parent\n", (int)getpid());
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "[%d]: warning: child\n", (int)child);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "[%d]: warning: parent again\n", (int)getpid());
	assert_non_null(strstr(out, want));
}

/* log_enabled says what log_msg would write, so callers can skip formatting a line nobody reads. */
static void test_enabled_follows_level(void **state)
{
	(void)state;
	capture(false);
	log_set_level(LOG_LVL_INFO);
	assert_true(log_enabled(LOG_LVL_ERR));
	assert_true(log_enabled(LOG_LVL_INFO));
	assert_false(log_enabled(LOG_LVL_DEBUG));
	log_debug("not written");
	log_set_level(LOG_LVL_DEBUG);
	assert_true(log_enabled(LOG_LVL_DEBUG));
	log_debug("written");
	log_set_level(LOG_LVL_INFO);
	const char *out = captured();
	assert_null(strstr(out, "not written"));
	assert_non_null(strstr(out, "written"));
}

static void test_no_journal_stream(void **state)
{
	(void)state;
	capture(false);
	unsetenv("JOURNAL_STREAM");
	assert_true(log_open("stderr", "originmaild"));
	log_err("y");
	assert_null(strstr(captured(), "<3>"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_journal_prefixes),
	        cmocka_unit_test(test_other_stream_keeps_timestamps),
	        cmocka_unit_test(test_child_logs_its_own_pid),
	        cmocka_unit_test(test_no_journal_stream),
	        cmocka_unit_test(test_enabled_follows_level),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
