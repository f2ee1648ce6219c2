/* originctl passwd: set a user's password (yescrypt) in the passwd-file named by the configuration. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/passwd.h"
#include "conf/config.h"
#include "originctl.h"

#define PW_MAX 1024

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	caught = sig;
}

/* One line from fd into buf (without the newline); -1 on error, a line too long, or no line at all. */
static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	bool any = false;

	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR && !caught)
			continue;
		if (r < 0)
			return -1;
		if (r == 0 && !any) {
			errno = ENODATA;
			return -1;
		}
		if (r == 0 || c == '\n')
			break;
		any = true;
		if (n + 1 >= cap) {
			explicit_bzero(buf, n);
			errno = EMSGSIZE;
			return -1;
		}
		buf[n++] = c;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return (int)n;
}

/* Prompt on the terminal tty with echo off; the terminal is restored, and a signal that arrived
 * meanwhile re-raised, before returning. */
static int prompt(int tty, const char *text, char *buf, size_t cap)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU};
	struct sigaction sa, old[sizeof(sigs) / sizeof(sigs[0])];
	struct termios saved, t;
	int rc;

	if (tcgetattr(tty, &saved) != 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: read() returns EINTR */
	sigemptyset(&sa.sa_mask);
	caught = 0;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, &old[i]);
	t = saved;
	t.c_lflag &= ~(tcflag_t)ECHO;
	t.c_lflag |= ECHONL;
	if (tcsetattr(tty, TCSAFLUSH, &t) != 0 || write(tty, text, strlen(text)) < 0)
		rc = -1;
	else
		rc = read_line(tty, buf, cap);
	tcsetattr(tty, TCSAFLUSH, &saved);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &old[i], NULL);
	if (caught) {
		explicit_bzero(buf, cap);
		raise(caught);
		return -1;
	}
	return rc;
}

static int usage(FILE *f, int rc)
{
	fprintf(f,
	        "usage: originctl passwd [-c CONFIG] USER@DOMAIN\n"
	        "Sets USER@DOMAIN's password (yescrypt) in the configuration's passwd_file, adding the user\n"
	        "if missing. On a terminal the password is asked for twice without echo; otherwise one\n"
	        "line is read from stdin. CONFIG: /etc/originmail/originmail.conf if it exists, else\n"
	        "examples/originmail.conf. Exit: 0 set, 1 error, 64 usage.\n");
	return rc;
}

/* The password into pw: twice on a terminal, else one line of stdin. */
static bool get_password(const char *user, char *pw, size_t cap)
{
	if (!isatty(STDIN_FILENO)) {
		if (read_line(STDIN_FILENO, pw, cap) < 0) {
			fprintf(stderr, "error: cannot read a password from stdin: %s\n", strerror(errno));
			return false;
		}
		return true;
	}
	int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty < 0) {
		fprintf(stderr, "error: /dev/tty: %s\n", strerror(errno));
		return false;
	}
	char again[PW_MAX], text[600];
	snprintf(text, sizeof(text), "New password for %s: ", user);
	bool ok = prompt(tty, text, pw, cap) >= 0 &&
	          prompt(tty, "Retype new password: ", again, sizeof(again)) >= 0;
	if (!ok)
		fprintf(stderr, "error: cannot read the password\n");
	else if (strcmp(pw, again) != 0)
		fprintf(stderr, "error: the passwords do not match\n"), ok = false;
	explicit_bzero(again, sizeof(again));
	close(tty);
	return ok;
}

static const char *default_config(void)
{
	static const char etc[] = "/etc/originmail/originmail.conf";
	return access(etc, F_OK) == 0 ? etc : "examples/originmail.conf";
}

int cmd_passwd(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *conf_path = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf_path = optarg;
			break;
		case 'h':
			return usage(stdout, 0);
		default:
			return usage(stderr, 64);
		}
	}
	if (argc - optind != 1)
		return usage(stderr, 64);
	const char *user = argv[optind];
	const char *at = strrchr(user, '@');
	if (!at || at == user || !at[1] || strpbrk(user, ": \t\r\n")) {
		fprintf(stderr, "error: '%s' is not USER@DOMAIN\n", user);
		return 64;
	}
	if (!conf_path)
		conf_path = default_config();

	struct config cfg;
	char err[512];
	if (!config_load(conf_path, &cfg, err, sizeof(err))) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	int rc = 1;
	if (!cfg.passwd_file || !*cfg.passwd_file) {
		fprintf(stderr, "error: %s sets no passwd_file\n", conf_path);
		goto out;
	}
	if (!config_is_local_domain(&cfg, at + 1, strlen(at + 1)))
		fprintf(stderr, "warning: %s is not one of the configured domains\n", at + 1);

	char pw[PW_MAX], hashed[512];
	bool got = get_password(user, pw, sizeof(pw));
	if (got && !*pw) {
		fprintf(stderr, "error: empty password\n");
		got = false;
	}
	bool hashed_ok = got && passwd_hash(pw, hashed, sizeof(hashed));
	explicit_bzero(pw, sizeof(pw));
	if (!got)
		goto out;
	if (!hashed_ok) {
		fprintf(stderr, "error: cannot hash the password (libcrypt)\n");
		goto out;
	}
	if (!passwd_file_set(cfg.passwd_file, user, hashed, err, sizeof(err))) {
		fprintf(stderr, "error: %s\n", err);
		goto out;
	}
	printf("password set for %s in %s\n", user, cfg.passwd_file);
	rc = 0;
out:
	config_free(&cfg);
	return rc;
}
