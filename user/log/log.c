/* Logging: a timestamped line on stderr (what systemd's journal and the tests read), syslog, or both. */
#include "log/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static bool to_stderr = true, to_syslog;
static enum log_level max_level = LOG_LVL_INFO;
static const char *log_ident = "originmaild";
static bool to_journal; /* stderr is systemd's journal stream: "<N>" prefixes, no timestamp */
static pid_t log_pid;   /* getpid() is a system call per line otherwise; a forked child asks again */
static pthread_once_t fork_hook = PTHREAD_ONCE_INIT;

static void forget_pid(void)
{
	log_pid = 0;
}

static void hook_fork(void)
{
	pthread_atfork(NULL, NULL, forget_pid);
}

static pid_t our_pid(void)
{
	if (!log_pid) {
		pthread_once(&fork_hook, hook_fork);
		log_pid = getpid();
	}
	return log_pid;
}

/* $JOURNAL_STREAM is "dev:ino" of the stream systemd connected; it only counts while stderr is still that
 * stream (a redirect in between means someone else reads our lines). */
static bool stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return v && sscanf(v, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool log_open(const char *target, const char *ident)
{
	if (ident)
		log_ident = ident;
	if (!target || !strcmp(target, "stderr")) {
		to_stderr = true, to_syslog = false;
	} else if (!strcmp(target, "syslog")) {
		to_stderr = false, to_syslog = true;
	} else if (!strcmp(target, "both")) {
		to_stderr = true, to_syslog = true;
	} else {
		return false;
	}
	if (to_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	to_journal = to_stderr && stderr_is_journal();
	return true;
}

void log_set_level(enum log_level max)
{
	max_level = max;
}

bool log_enabled(enum log_level lvl)
{
	return lvl <= max_level;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	char line[1024];
	va_list ap;

	if (lvl > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (to_syslog)
		syslog(prio[lvl], "%s", line);
	if (to_stderr && to_journal) {
		/* The journal stamps time and pid itself and takes the priority from the prefix
		 * (journalctl -p warning). */
		char out[1100];
		int n = snprintf(out, sizeof(out), "<%d>%s: %s\n", prio[lvl], names[lvl], line);
		if (n > 0)
			(void)!write(STDERR_FILENO, out,
			             (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1);
	} else if (to_stderr) {
		struct timeval tv;
		struct tm tm;
		char ts[32];
		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		/* One write per line, so lines from several processes never interleave mid-line. */
		char out[1200];
		int n = snprintf(out, sizeof(out), "%s.%03ld %s[%d]: %s: %s\n", ts, (long)tv.tv_usec / 1000,
		                 log_ident, (int)our_pid(), names[lvl], line);
		if (n > 0)
			(void)!write(STDERR_FILENO, out,
			             (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1);
	}
}
