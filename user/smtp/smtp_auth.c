/* SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN, checked against the passwd-file. Offered only
 * on submission listeners, and only over TLS unless allow_plaintext_auth. Decoded credentials are
 * wiped before their memory is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "metrics/metrics.h"
#include "smtp/smtp_internal.h"

void smtp_auth_clear(struct smtp_session *s)
{
	if (s->login_user) {
		explicit_bzero(s->login_user, strlen(s->login_user));
		free(s->login_user);
		s->login_user = NULL;
	}
	s->auth_step = AUTH_NONE;
	if (s->mode == MODE_AUTH)
		s->mode = MODE_CMD;
}

/* Decode a client response into a fresh NUL-terminated buffer; *n gets its length. NULL when it is
 * not valid base64 (or memory is short). */
static unsigned char *decode(const char *b64, size_t len, size_t *n)
{
	size_t cap = len / 4 * 3 + 1;
	unsigned char *buf = malloc(cap);

	if (!buf)
		return NULL;
	long r = smtp_b64_decode(b64, len, buf, cap - 1);
	if (r < 0) {
		free(buf);
		return NULL;
	}
	buf[r] = '\0';
	*n = (size_t)r;
	return buf;
}

static void wipe(unsigned char *buf, size_t n)
{
	if (buf) {
		explicit_bzero(buf, n);
		free(buf);
	}
}

static void success(struct smtp_session *s, const char *user, struct obuf *out)
{
	char *u = strdup(user);

	if (!u) {
		smtp_reply(s, out, "454 4.7.0 Temporary authentication failure");
		return;
	}
	s->auth_user = u;
	metrics_inc(M_LOGINS, config_proto_name(s->ctx.lc ? s->ctx.lc->proto : PROTO_SUBMISSION), "ok");
	smtp_event(s, "authenticated as %s", u);
	smtp_reply(s, out, "235 2.7.0 Authentication successful");
}

static void failure(struct smtp_session *s, const char *user, struct obuf *out)
{
	s->auth_failures++;
	metrics_inc(M_LOGINS, config_proto_name(s->ctx.lc ? s->ctx.lc->proto : PROTO_SUBMISSION), "failed");
	smtp_event(s, "authentication failed for %s", user && *user ? user : "(none)");
	smtp_reply(s, out, "535 5.7.8 Authentication credentials invalid");
	if (s->auth_failures >= SMTP_MAX_AUTH_FAILURES)
		smtp_close(s, out, "421 4.7.0", "Error: too many failures");
}

void smtp_auth_finish(struct smtp_session *s, struct obuf *out, bool ok)
{
	if (ok)
		success(s, s->auth.user, out);
	else
		failure(s, s->auth.user, out);
}

static void check(struct smtp_session *s, const char *user, const char *pass, struct obuf *out)
{
	const struct passwd_db *db = s->ctx.users;

	/* On a worker if a pool runs and the connection can be woken (smtp_session_set_waker); else here. */
	if (db && *user && auth_wait_submit(&s->auth, db, user, NULL, pass))
		return;
	/* passwd_db_verify does the same work for unknown users; an empty name is not worth a hash. */
	if (db && *user && passwd_db_verify(db, user, pass))
		success(s, user, out);
	else
		failure(s, user, out);
}

/* PLAIN: authzid NUL authcid NUL passwd. The authorization identity must be empty or the same as the
 * authentication identity: we let nobody act as somebody else. */
static void plain(struct smtp_session *s, const char *b64, size_t len, struct obuf *out)
{
	size_t n = 0;
	unsigned char *buf = len == 1 && b64[0] == '=' ? (unsigned char *)calloc(1, 1) : decode(b64, len, &n);

	if (!buf) {
		smtp_reply(s, out, "501 5.5.2 Cannot decode response");
		return;
	}
	const char *authz = (const char *)buf;
	size_t zlen = strlen(authz);
	const char *authc = zlen < n ? authz + zlen + 1 : NULL;
	size_t clen = authc ? strlen(authc) : 0;
	const char *pass = authc && zlen + 1 + clen < n ? authc + clen + 1 : NULL;
	if (!pass || zlen + 1 + clen + 1 + strlen(pass) != n) {
		smtp_reply(s, out, "501 5.5.2 Malformed PLAIN response");
	} else if (zlen && strcmp(authz, authc) != 0) {
		failure(s, authc, out);
	} else {
		check(s, authc, pass, out);
	}
	wipe(buf, n);
}

static void login_user(struct smtp_session *s, const char *b64, size_t len, struct obuf *out)
{
	size_t n = 0;
	unsigned char *buf = decode(b64, len, &n);

	if (!buf || strlen((char *)buf) != n) {
		wipe(buf, n);
		smtp_auth_clear(s);
		smtp_reply(s, out, "501 5.5.2 Cannot decode response");
		return;
	}
	s->login_user = (char *)buf;
	s->auth_step = AUTH_LOGIN_PASS;
	s->mode = MODE_AUTH;
	smtp_reply(s, out, "334 UGFzc3dvcmQ6"); /* "Password:" */
}

static void login_pass(struct smtp_session *s, const char *b64, size_t len, struct obuf *out)
{
	size_t n = 0;
	unsigned char *buf = decode(b64, len, &n);
	char *user = s->login_user;

	s->login_user = NULL;
	smtp_auth_clear(s);
	if (!buf || strlen((char *)buf) != n)
		smtp_reply(s, out, "501 5.5.2 Cannot decode response");
	else
		check(s, user ? user : "", (const char *)buf, out);
	wipe(buf, n);
	wipe((unsigned char *)user, user ? strlen(user) : 0);
}

void smtp_cmd_auth(struct smtp_session *s, const char *arg, size_t len, struct obuf *out)
{
	if (s->ctx.lc->proto != PROTO_SUBMISSION) {
		smtp_reply(s, out, "503 5.5.1 Error: authentication not enabled");
		return;
	}
	if (!smtp_auth_offered(s)) {
		smtp_reply(s, out, "538 5.7.11 Encryption required for requested authentication mechanism");
		return;
	}
	if (!s->esmtp) {
		smtp_reply(s, out, "503 5.5.1 Error: send EHLO first");
		return;
	}
	if (s->auth_user) {
		smtp_reply(s, out, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->in_tx) {
		smtp_reply(s, out, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	size_t m = 0;
	while (m < len && arg[m] != ' ')
		m++;
	const char *init = arg + m;
	size_t ilen = len - m;
	while (ilen && *init == ' ') {
		init++;
		ilen--;
	}
	if (m == 5 && strncasecmp(arg, "PLAIN", 5) == 0) {
		if (ilen) {
			plain(s, init, ilen, out);
			return;
		}
		s->auth_step = AUTH_PLAIN;
		s->mode = MODE_AUTH;
		smtp_reply(s, out, "334 ");
	} else if (m == 5 && strncasecmp(arg, "LOGIN", 5) == 0) {
		if (ilen) {
			login_user(s, init, ilen, out);
			return;
		}
		s->auth_step = AUTH_LOGIN_USER;
		s->mode = MODE_AUTH;
		smtp_reply(s, out, "334 VXNlcm5hbWU6"); /* "Username:" */
	} else if (m == 0) {
		smtp_reply(s, out, "501 5.5.4 Syntax: AUTH mechanism");
	} else {
		smtp_reply(s, out, "504 5.5.4 Unrecognized authentication type");
	}
}

void smtp_auth_line(struct smtp_session *s, const char *line, size_t len, struct obuf *out)
{
	enum smtp_auth_step step = s->auth_step;

	if (len == 1 && line[0] == '*') {
		smtp_auth_clear(s);
		smtp_reply(s, out, "501 5.7.0 Authentication aborted");
		return;
	}
	switch (step) {
	case AUTH_PLAIN:
		smtp_auth_clear(s);
		plain(s, line, len, out);
		break;
	case AUTH_LOGIN_USER:
		smtp_auth_clear(s);
		login_user(s, line, len, out);
		break;
	case AUTH_LOGIN_PASS:
		login_pass(s, line, len, out);
		break;
	case AUTH_NONE:
		smtp_auth_clear(s);
		break;
	}
}
