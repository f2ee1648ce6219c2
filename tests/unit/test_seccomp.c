/* The seccomp filter (user/sandbox/seccomp.c) against the real kernel: in a child process that installs
 * it, what the daemon does is allowed, and what it never needs kills the process with SIGSYS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/seccomp.h"

/* Run fn in a child under the filter; returns its wait status. _exit: no atexit handlers (a
 * sanitizer's leak check at exit would need ptrace, which the filter forbids). */
static int under_filter(int (*fn)(void))
{
	pid_t pid = fork();
	int st = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];
		if (!sandbox_seccomp(err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			_exit(99);
		}
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void expect_exit0(int st)
{
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("child: %s %d", WIFSIGNALED(st) ? "killed by signal" : "exit status",
		         WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static void expect_sigsys(int st)
{
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("child: %s %d, not SIGSYS", WIFSIGNALED(st) ? "killed by signal" : "exit status",
		         WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* What serving mail does: files in a Maildir-like tree, a pipe, an outbound socket, time, randomness,
 * memory. */
static int daemon_work(void)
{
	char dir[] = "/tmp/om-seccomp-XXXXXX", p[64], q[64], buf[16];
	int sv[2];

	if (!mkdtemp(dir))
		return 1;
	snprintf(p, sizeof(p), "%s/tmp-file", dir);
	snprintf(q, sizeof(q), "%s/new-file", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, "x", 1) != 1 || fsync(fd) != 0 || close(fd) != 0 || link(p, q) != 0 ||
	    unlink(p) != 0 || rename(q, p) != 0 || unlink(p) != 0 || rmdir(dir) != 0)
		return 2;
	if (pipe2(sv, O_CLOEXEC) != 0 || write(sv[1], "hi", 2) != 2 || read(sv[0], buf, sizeof(buf)) != 2)
		return 3;
	/* the relay worker's outbound connection: socket and connect are allowed (here it is refused) */
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 7;
	(void)connect(s, (struct sockaddr *)&sin, sizeof(sin));
	close(s);
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || getrandom(buf, sizeof(buf), 0) != sizeof(buf))
		return 4;
	void *m = malloc(1 << 20);
	if (!m)
		return 5;
	memset(m, 1, 1 << 20);
	free(m);
	int n = 0;
	(void)ioctl(sv[0], FIONREAD, &n); /* allowed: any answer, the process lives */
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static int do_fork(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	return 0;
}

static int do_exec(void)
{
	char *argv[] = {"/bin/true", NULL};
	execv(argv[0], argv);
	return 0;
}

static int do_ptrace(void)
{
	syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
	return 0;
}

static int do_bpf_prog_load(void)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	return 0;
}

static int do_bpf_map_lookup(void)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)-1;
	/* allowed: fails with EBADF, the process lives */
	return syscall(SYS_bpf, BPF_MAP_LOOKUP_ELEM, &attr, sizeof(attr)) == -1 ? 0 : 1;
}

static int do_setuid(void)
{
	syscall(SYS_setuid, 0);
	return 0;
}

static int do_ioctl_tiocsti(void)
{
	char c = 'x';
	ioctl(0, TIOCSTI, &c);
	return 0;
}

static void test_allowed(void **state)
{
	(void)state;
	expect_exit0(under_filter(daemon_work));
	expect_exit0(under_filter(do_bpf_map_lookup));
}

static void test_forbidden(void **state)
{
	(void)state;
	expect_sigsys(under_filter(do_fork));
	expect_sigsys(under_filter(do_exec));
	expect_sigsys(under_filter(do_ptrace));
	expect_sigsys(under_filter(do_bpf_prog_load));
	expect_sigsys(under_filter(do_setuid));
	expect_sigsys(under_filter(do_ioctl_tiocsti));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_allowed),
	        cmocka_unit_test(test_forbidden),
	};
	return cmocka_run_group_tests_name("seccomp", tests, NULL, NULL);
}
