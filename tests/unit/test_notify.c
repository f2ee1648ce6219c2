/* sd_notify by hand (user/sys/notify.c): messages arrive on a datagram socket the test binds, by path
 * and in the abstract namespace; nothing is sent without $NOTIFY_SOCKET; the status is rate-limited. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sys/notify.h"

/* A receiving socket bound to name ("@..." abstract, else a path); $NOTIFY_SOCKET names it. */
static int receiver(const char *name)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(n < sizeof(a.sun_path));
	memcpy(a.sun_path, name, n);
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	else
		unlink(name), n++;
	assert_int_equal(
	        bind(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	return fd;
}

/* The next datagram, or "" when none is waiting. */
static const char *next_msg(int fd)
{
	static char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void check_states(int fd)
{
	assert_true(notify_open());
	assert_true(notify_ready());
	assert_string_equal(next_msg(fd), "READY=1");
	assert_true(notify_reloading());
	const char *m = next_msg(fd);
	assert_true(strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	assert_true(strtoull(m + 27, NULL, 10) > 0);
	assert_true(notify_stopping());
	assert_string_equal(next_msg(fd), "STOPPING=1");
	assert_string_equal(next_msg(fd), "");
	notify_close();
}

static void test_path_socket(void **state)
{
	(void)state;
	char path[64];
	snprintf(path, sizeof(path), "/tmp/om-notify-test-%d", (int)getpid());
	int fd = receiver(path);
	check_states(fd);
	close(fd);
	unlink(path);
	unsetenv("NOTIFY_SOCKET");
}

static void test_abstract_socket(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof(name), "@om-notify-test-%d", (int)getpid());
	int fd = receiver(name);
	check_states(fd);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void test_no_socket(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_false(notify_open());
	assert_false(notify_ready());
	notify_status(1, false, 0, 1000, 1000, true); /* nothing to do, nothing to crash */
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_false(notify_open());
	unsetenv("NOTIFY_SOCKET");
}

static void test_status_format(void **state)
{
	(void)state;
	char buf[128];
	notify_format_status(buf, sizeof(buf), 3, true, 12);
	assert_string_equal(buf, "STATUS=3 listeners, bpf attached, 12 connections");
	notify_format_status(buf, sizeof(buf), 1, false, 1);
	assert_string_equal(buf, "STATUS=1 listener, bpf off, 1 connection");
	assert_int_equal(notify_format_status(buf, 10, 3, true, 12), 9);
}

static void test_status_rate(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof(name), "@om-notify-rate-%d", (int)getpid());
	int fd = receiver(name);
	assert_true(notify_open());
	notify_status(2, true, 0, 5000, 1000, false);
	assert_string_equal(next_msg(fd), "STATUS=2 listeners, bpf attached, 0 connections");
	notify_status(2, true, 0, 5100, 1000, false); /* unchanged: nothing */
	assert_string_equal(next_msg(fd), "");
	notify_status(2, true, 5, 5200, 1000, false); /* changed, too soon: held back */
	assert_string_equal(next_msg(fd), "");
	notify_status(2, true, 5, 6000, 1000, false); /* the held-back change goes out */
	assert_string_equal(next_msg(fd), "STATUS=2 listeners, bpf attached, 5 connections");
	notify_status(2, true, 7, 6100, 1000, true); /* forced */
	assert_string_equal(next_msg(fd), "STATUS=2 listeners, bpf attached, 7 connections");
	notify_close();
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_path_socket), cmocka_unit_test(test_abstract_socket),
	        cmocka_unit_test(test_no_socket),   cmocka_unit_test(test_status_format),
	        cmocka_unit_test(test_status_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
