/* Bounces: a plain-text delivery status notice (in the spirit of RFC 3464, not its MIME format) for the
 * recipients given up on, put straight into the sender's Maildir when the sender is one of our users.
 * Sent from <> (RFC 5321 4.5.5), marked Auto-Submitted (RFC 3834); never a bounce for a bounce. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"
#include "relay/relay_worker.h"
#include "store/maildir.h"
#include "util/obuf.h"

#define HEADERS_MAX (32 * 1024) /* of the original message, quoted in the bounce */

/* The original message's header section, without our Return-Path line, into b. */
static void quote_headers(struct obuf *b, const char *msg)
{
	char *buf = malloc(HEADERS_MAX + 1);
	int fd = open(msg, O_RDONLY | O_CLOEXEC);
	size_t n = 0;

	if (buf && fd >= 0) {
		ssize_t r;
		while (n < HEADERS_MAX && (r = read(fd, buf + n, HEADERS_MAX - n)) > 0)
			n += (size_t)r;
	}
	if (fd >= 0)
		close(fd);
	if (!buf || n == 0) {
		obuf_puts(b, "(the message could not be read)\r\n");
		free(buf);
		return;
	}
	buf[n] = '\0';
	char *p = buf;
	if (!strncasecmp(p, "Return-Path:", 12) && strchr(p, '\n'))
		p = strchr(p, '\n') + 1;
	char *end = strstr(p, "\r\n\r\n");
	if (end)
		obuf_append(b, p, (size_t)(end - p) + 2);
	else
		obuf_printf(b, "%s\r\n[...]\r\n", p);
	free(buf);
}

static void rfc5322_date(char *buf, size_t cap, time_t t)
{
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(buf, cap, "%a, %d %b %Y %H:%M:%S %z", &tm))
		snprintf(buf, cap, "Thu, 01 Jan 1970 00:00:00 +0000");
}

static bool local_sender(const struct relay_worker *w, const char *from, char *path, size_t cap)
{
	const char *at = strrchr(from, '@');

	return at && config_is_local_domain(w->cfg, at + 1, strlen(at + 1)) && w->users &&
	       passwd_db_exists(w->users, from) && maildir_path(w->cfg->mail_root, from, path, cap);
}

void relay_bounce(const struct relay_worker *w, const struct relay_entry *en, char *const *rcpts,
                  char *const *why, size_t n)
{
	const struct relay_env *env = &en->env;
	const char *host = w->cfg->hostname;
	char path[PATH_MAX], date[64], queued[64], err[256] = "";
	unsigned rnd = 0;
	struct obuf b = {0};

	if (!env->from[0]) {
		log_info("relay: %s: no bounce: the sender is <> (%zu recipient%s failed)", env->id, n,
		         n == 1 ? "" : "s");
		return;
	}
	if (!local_sender(w, env->from, path, sizeof(path))) {
		log_info("relay: %s: no bounce: sender <%s> is not a local user", env->id, env->from);
		return;
	}
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd = (unsigned)getpid();
	rfc5322_date(date, sizeof(date), time(NULL));
	rfc5322_date(queued, sizeof(queued), (time_t)env->arrival);
	obuf_printf(&b,
	            "Return-Path: <>\r\n"
	            "Date: %s\r\n"
	            "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	            "To: <%s>\r\n"
	            "Subject: Undelivered Mail Returned to Sender\r\n"
	            "Message-ID: <%s.%08x.bounce@%s>\r\n"
	            "Auto-Submitted: auto-replied\r\n"
	            "MIME-Version: 1.0\r\n"
	            "Content-Type: text/plain; charset=utf-8\r\n"
	            "Content-Transfer-Encoding: 8bit\r\n"
	            "\r\n"
	            "This is the mail system at host %s.\r\n"
	            "\r\n"
	            "Your message could not be delivered to %s:\r\n"
	            "\r\n",
	            date, host, env->from, env->id, rnd, host, host,
	            n == 1 ? "one of its recipients" : "some of its recipients");
	for (size_t i = 0; i < n; i++)
		obuf_printf(&b, "<%s>: %s\r\n", rcpts[i], why[i]);
	obuf_printf(&b,
	            "\r\nThe message was queued as %s on %s, for the relay host %s.\r\n"
	            "\r\n------ The headers of your message ------\r\n\r\n",
	            env->id, queued, w->cfg->relay_host);
	quote_headers(&b, en->msg);

	struct maildir_tx *tx = b.oom ? NULL : maildir_tx_begin(path, err, sizeof(err));
	bool ok = false;
	if (tx && maildir_tx_write(tx, b.data, b.len)) {
		const char *dirs[] = {path};
		ok = maildir_tx_commit(tx, dirs, 1, err, sizeof(err)); /* frees tx */
	} else if (tx) {
		maildir_tx_abort(tx);
		snprintf(err, sizeof(err), "cannot write the bounce");
	}
	if (ok)
		log_info("relay: %s: bounce for %zu recipient%s delivered to <%s>", env->id, n,
		         n == 1 ? "" : "s", env->from);
	else
		log_err("relay: %s: bounce to <%s> failed: %s", env->id, env->from,
		        err[0] ? err : "out of memory");
	obuf_free(&b);
}
