/* USER/PASS (RFC 1939 7) and AUTH PLAIN (RFC 5034, RFC 4616: an initial response or a "+ " continuation),
 * checked against the passwd-file as IMAP does; only over TLS unless allow_plaintext_auth. Failures say
 * [AUTH] (RFC 3206); passwords are wiped before their memory is freed. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "metrics/metrics.h"
#include "pop3/pop3_internal.h"
#include "smtp/smtp_parse.h"
#include "store/maildir.h"

#define PLAINTEXT_REFUSED "[AUTH] Plaintext authentication disallowed; use STLS"

static void failure(struct pop3_session *s, struct obuf *out, const char *user)
{
	s->auth_failures++;
	metrics_inc(M_LOGINS, "pop3", "failed");
	pop3_event(s, "login failed for %s", user && *user ? user : "(none)");
	if (s->auth_failures >= POP3_MAX_AUTH_FAILURES)
		pop3_close(s, out, "-ERR [AUTH] Authentication failed; too many failures");
	else
		obuf_puts(out, "-ERR [AUTH] Authentication failed\r\n");
}

static void success(struct pop3_session *s, struct obuf *out, const char *user)
{
	char root[PATH_MAX];

	if (!maildir_path(s->ctx.cfg->mail_root, user, root, sizeof(root))) {
		failure(s, out, user);
		return;
	}
	free(s->user);
	if (!(s->user = strdup(user))) {
		pop3_close(s, out, "-ERR [SYS/TEMP] Out of memory");
		return;
	}
	if (!pop3_maildrop_open(s, root, out)) /* the -ERR ([IN-USE], [SYS/TEMP]) is queued */
		return;
	s->state = PS_TRANS;
	metrics_inc(M_LOGINS, "pop3", "ok");
	pop3_event(s, "login %s", user);
	obuf_printf(out, "+OK Logged in, %zu messages\r\n", s->nmsgs);
}

void pop3_auth_finish(struct pop3_session *s, struct obuf *out, bool ok)
{
	if (ok)
		success(s, out, s->auth.user);
	else
		failure(s, out, s->auth.user);
}

static void check(struct pop3_session *s, struct obuf *out, const char *user, const char *pass)
{
	const struct passwd_db *db = s->ctx.users;

	/* On a worker if a pool runs and the connection can be woken (pop3_session_set_waker); else here. */
	if (db && *user && auth_wait_submit(&s->auth, db, user, NULL, pass))
		return;
	if (db && *user && passwd_db_verify(db, user, pass))
		success(s, out, user);
	else
		failure(s, out, user);
}

void pop3_cmd_user(struct pop3_session *s, const char *arg, struct obuf *out)
{
	free(s->user_arg);
	s->user_arg = NULL;
	if (!pop3_auth_allowed(s)) {
		obuf_puts(out, "-ERR " PLAINTEXT_REFUSED "\r\n");
	} else if (!arg || !*arg || strlen(arg) > 255 || strchr(arg, ' ')) {
		pop3_err(s, out, "USER needs one name");
	} else if (!(s->user_arg = strdup(arg))) {
		pop3_close(s, out, "-ERR [SYS/TEMP] Out of memory");
	} else {
		obuf_puts(out, "+OK Send the password\r\n");
	}
}

/* The password is the rest of the line: it may contain spaces (RFC 1939 7). */
void pop3_cmd_pass(struct pop3_session *s, const char *arg, struct obuf *out)
{
	char *user = s->user_arg;

	s->user_arg = NULL;
	if (!pop3_auth_allowed(s))
		obuf_puts(out, "-ERR " PLAINTEXT_REFUSED "\r\n");
	else if (!user)
		pop3_err(s, out, "USER first");
	else if (!arg)
		pop3_err(s, out, "PASS needs the password");
	else
		check(s, out, user, arg);
	free(user);
}

/* authzid NUL authcid NUL passwd: the authorization identity must be empty or the same user. */
static void plain(struct pop3_session *s, struct obuf *out, const char *b64, size_t len)
{
	unsigned char buf[1024];
	long r = len == 1 && b64[0] == '=' ? 0 : smtp_b64_decode(b64, len, buf, sizeof(buf) - 1);

	if (r < 0) {
		pop3_err(s, out, "Invalid base64 data");
		return;
	}
	size_t n = (size_t)r;
	buf[n] = '\0';
	const char *authz = (const char *)buf;
	size_t zlen = strlen(authz);
	const char *authc = zlen < n ? authz + zlen + 1 : NULL;
	size_t clen = authc ? strlen(authc) : 0;
	const char *pass = authc && zlen + 1 + clen < n ? authc + clen + 1 : NULL;
	if (!pass || zlen + 1 + clen + 1 + strlen(pass) != n)
		pop3_err(s, out, "Malformed PLAIN response");
	else if (zlen && strcmp(authz, authc) != 0)
		failure(s, out, authc);
	else
		check(s, out, authc, pass);
	explicit_bzero(buf, sizeof(buf));
}

void pop3_cmd_auth(struct pop3_session *s, const char *arg, struct obuf *out)
{
	if (!arg) { /* the mechanism list some clients ask for, as in CAPA's SASL line */
		obuf_puts(out, "+OK Mechanisms follow\r\nPLAIN\r\n.\r\n");
		return;
	}
	size_t n = strcspn(arg, " ");
	const char *ir = arg[n] ? arg + n + 1 : NULL;
	if (n != 5 || strncasecmp(arg, "PLAIN", 5) != 0) {
		pop3_err(s, out, "Unsupported authentication mechanism");
	} else if (!pop3_auth_allowed(s)) {
		obuf_puts(out, "-ERR " PLAINTEXT_REFUSED "\r\n");
	} else if (ir) {
		plain(s, out, ir, strlen(ir));
	} else {
		s->mode = PM_SASL;
		obuf_puts(out, "+ \r\n");
	}
}

void pop3_sasl_line(struct pop3_session *s, char *line, size_t len, struct obuf *out)
{
	s->mode = PM_CMD;
	if (len == 1 && line[0] == '*')
		pop3_err(s, out, "Authentication aborted");
	else
		plain(s, out, line, len);
}
