/* The allow-list of system calls (x86-64 and others libseccomp knows; names resolve per architecture). */
#include "sandbox/seccomp.h"

#include <errno.h>
#include <linux/bpf.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>

/* What serving needs, by who needs it, names separated by spaces. No fork, clone, exec, ptrace, mount,
 * module or key calls, no setuid family: none of them is needed once the daemon serves. */
static const char *const allowed[] = {
        /* the event loop and sockets (accepted ones; the relay worker's and syslog's own) */
        "epoll_create1 epoll_ctl epoll_wait epoll_pwait poll ppoll select pselect6 accept accept4 socket "
        "connect getsockname getpeername getsockopt setsockopt sendto recvfrom sendmsg recvmsg sendmmsg "
        "recvmmsg shutdown read write readv writev pread64 pwrite64 close dup dup2 dup3 fcntl pipe2",
        /* files: Maildirs, the relay queue, configuration and certificates on SIGHUP, /etc for names */
        "open openat stat fstat lstat newfstatat statx access faccessat faccessat2 lseek getdents "
        "getdents64 mkdir mkdirat rmdir unlink unlinkat rename renameat renameat2 link linkat fsync "
        "fdatasync flock ftruncate utimensat readlink readlinkat getcwd statfs fstatfs umask fchmod",
        /* memory (glibc, OpenSSL, GMime and GLib, the sanitizers) */
        "brk mmap munmap mremap mprotect madvise mincore",
        /* signals, time, identity, randomness, the relay worker's life */
        "rt_sigaction rt_sigprocmask rt_sigreturn sigaltstack signalfd4 restart_syscall kill tgkill getpid "
        "gettid getppid getuid geteuid getgid getegid getgroups getresuid getresgid wait4 exit exit_group "
        "clock_gettime clock_getres gettimeofday time nanosleep clock_nanosleep getrandom uname sysinfo "
        "getrlimit prlimit64 prctl sched_yield sched_getaffinity futex set_robust_list get_robust_list rseq "
        "set_tid_address getrusage times getpriority membarrier eventfd2",
};

/* bpf(2) only to read and write the pinned maps: never to load or attach a program. */
static const int bpf_cmds[] = {BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM,
                               BPF_MAP_GET_NEXT_KEY, BPF_OBJ_GET_INFO_BY_FD};

/* ioctl(2) only for what stdio and sockets ask: is this a terminal, how much is there to read. */
static const unsigned long ioctl_reqs[] = {TCGETS, FIONREAD, FIONBIO};

/* Allow syscall nr when its argument number arg equals value. (Every field named: the SCMP_A0 macros
 * leave one out, which clang's -Wextra refuses.) */
static int allow_if_arg(scmp_filter_ctx ctx, int nr, unsigned arg, scmp_datum_t value)
{
	struct scmp_arg_cmp cmp = {.arg = arg, .op = SCMP_CMP_EQ, .datum_a = value, .datum_b = 0};

	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
}

bool sandbox_seccomp(char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = ctx ? 0 : -ENOMEM;
	char name[32];
	const char *what = "seccomp_init";

	for (size_t i = 0; !rc && i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		for (const char *p = allowed[i]; !rc && *p;) {
			size_t n = strcspn(p, " ");
			if (n >= sizeof(name)) {
				rc = -ENAMETOOLONG;
				break;
			}
			memcpy(name, p, n);
			name[n] = '\0';
			p += n + (p[n] == ' ');
			int nr = seccomp_syscall_resolve_name(name);
			if (nr == __NR_SCMP_ERROR)
				continue; /* not a system call on this architecture (open, stat... on arm64)
				           */
			what = name;
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		}
	}
	for (size_t i = 0; !rc && i < sizeof(bpf_cmds) / sizeof(bpf_cmds[0]); i++) {
		what = "bpf";
		rc = allow_if_arg(ctx, SCMP_SYS(bpf), 0, (scmp_datum_t)bpf_cmds[i]);
	}
	for (size_t i = 0; !rc && i < sizeof(ioctl_reqs) / sizeof(ioctl_reqs[0]); i++) {
		what = "ioctl";
		rc = allow_if_arg(ctx, SCMP_SYS(ioctl), 1, (scmp_datum_t)ioctl_reqs[i]);
	}
	if (!rc) {
		what = "the thread sync attribute"; /* the password-check threads are filtered too */
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	}
	if (!rc) {
		what = "seccomp_load";
		rc = seccomp_load(ctx); /* sets no_new_privs first (SCMP_FLTATR_CTL_NNP, the default) */
	}
	if (ctx)
		seccomp_release(ctx);
	if (rc) {
		snprintf(err, errlen, "seccomp filter: %s: %s", what, strerror(-rc));
		return false;
	}
	return true;
}
