/* LOGIN and AUTHENTICATE PLAIN (RFC 4616, with RFC 4959 SASL-IR), checked against the passwd-file;
 * only over TLS unless allow_plaintext_auth (then LOGINDISABLED is advertised instead). Decoded
 * credentials are wiped before their memory is freed. The first login creates the special-use
 * folders. */
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"
#include "metrics/metrics.h"
#include "store/folders.h"
#include "store/maildir.h"

static bool allowed(const struct imap_session *s)
{
	return s->tls || s->ctx.lc->auth_plaintext;
}

static void failure(struct imap_session *s, struct obuf *out, const char *tag, const char *user)
{
	s->auth_failures++;
	metrics_inc(M_LOGINS, "imap", "failed");
	imap_event(s, "login failed for %s", user && *user ? user : "(none)");
	if (s->auth_failures >= IMAP_MAX_AUTH_FAILURES) /* the untagged BYE first, as for LOGOUT */
		imap_bye(s, out, "Too many authentication failures");
	imap_tagged(s, out, tag, "NO [AUTHENTICATIONFAILED] Authentication failed");
}

static void success(struct imap_session *s, struct obuf *out, const char *tag, const char *user)
{
	char root[PATH_MAX], err[256];

	if (!maildir_path(s->ctx.cfg->mail_root, user, root, sizeof(root))) {
		failure(s, out, tag, user);
		return;
	}
	if (!folder_init_defaults(root, err, sizeof(err))) {
		imap_event(s, "login %s: cannot prepare the mailbox: %s", user, err);
		imap_tagged(s, out, tag, "NO [SERVERBUG] Cannot open the mailbox");
		return;
	}
	free(s->user);
	free(s->root);
	s->user = strdup(user);
	s->root = strdup(root);
	if (!s->user || !s->root) {
		imap_bye(s, out, "Out of memory");
		return;
	}
	s->state = IS_AUTH;
	metrics_inc(M_LOGINS, "imap", "ok");
	imap_event(s, "login %s", user);
	obuf_printf(out, "%s OK [CAPABILITY ", tag);
	imap_capabilities(s, out);
	obuf_puts(out, "] Logged in\r\n");
}

void imap_auth_finish(struct imap_session *s, struct obuf *out, bool ok)
{
	if (ok)
		success(s, out, s->auth.tag, s->auth.user);
	else
		failure(s, out, s->auth.tag, s->auth.user);
}

static void check(struct imap_session *s, struct obuf *out, const char *tag, const char *user,
                  const char *pass)
{
	const struct passwd_db *db = s->ctx.users;

	/* On a worker if a pool runs and the connection can be woken (imap_session_set_waker); else here. */
	if (db && *user && auth_wait_submit(&s->auth, db, user, tag, pass))
		return;
	if (db && *user && passwd_db_verify(db, user, pass))
		success(s, out, tag, user);
	else
		failure(s, out, tag, user);
}

void imap_cmd_login(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                    bool uid)
{
	char user[256], pass[512];

	(void)uid;
	if (!ip_sp(ps) || !ip_astring_copy(ps, user, sizeof(user)) || !ip_sp(ps) ||
	    !ip_astring_copy(ps, pass, sizeof(pass)) || !ip_eol(ps)) {
		imap_bad(s, out, tag, ps);
	} else if (!allowed(s)) {
		imap_tagged(s, out, tag,
		            "NO [PRIVACYREQUIRED] Plaintext authentication disallowed; use STARTTLS");
	} else {
		check(s, out, tag, user, pass);
	}
	explicit_bzero(pass, sizeof(pass));
	s->wipe = true; /* the command buffer held the password */
}

/* base64 into a fresh NUL-terminated buffer; NULL when it is not base64. */
static unsigned char *decode(const char *b64, size_t len, size_t *n)
{
	while (len && (b64[len - 1] == ' ' || b64[len - 1] == '\t'))
		len--;
	if (len % 4 || len > 8192)
		return NULL;
	unsigned char *buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return NULL;
	int r = len ? EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)len) : 0;
	if (r < 0) {
		free(buf);
		return NULL;
	}
	size_t pad = len && b64[len - 1] == '=' ? (len > 1 && b64[len - 2] == '=' ? 2 : 1) : 0;
	*n = (size_t)r - pad;
	buf[*n] = '\0';
	return buf;
}

/* authzid NUL authcid NUL passwd; the authorization identity must be empty or the same user. */
static void plain(struct imap_session *s, struct obuf *out, const char *tag, const char *b64, size_t len)
{
	size_t n = 0;
	unsigned char *buf = len == 1 && b64[0] == '=' ? calloc(1, 1) : decode(b64, len, &n);

	if (!buf) {
		s->errors++;
		imap_tagged(s, out, tag, "BAD Invalid base64 data");
		return;
	}
	const char *authz = (const char *)buf;
	size_t zlen = strlen(authz);
	const char *authc = zlen < n ? authz + zlen + 1 : NULL;
	size_t clen = authc ? strlen(authc) : 0;
	const char *pass = authc && zlen + 1 + clen < n ? authc + clen + 1 : NULL;
	if (!pass || zlen + 1 + clen + 1 + strlen(pass) != n) {
		s->errors++;
		imap_tagged(s, out, tag, "BAD Malformed PLAIN response");
	} else if (zlen && strcmp(authz, authc) != 0) {
		failure(s, out, tag, authc);
	} else {
		check(s, out, tag, authc, pass);
	}
	explicit_bzero(buf, n);
	free(buf);
}

void imap_cmd_authenticate(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                           bool uid)
{
	struct imap_str mech, ir = {0};

	(void)uid;
	s->wipe = true;
	if (!ip_sp(ps) || !ip_atom(ps, &mech) || (ip_char(ps, ' ') && !ip_atom(ps, &ir)) || !ip_eol(ps)) {
		imap_bad(s, out, tag, ps);
		return;
	}
	if (!istr_is(mech, "PLAIN")) {
		imap_tagged(s, out, tag, "NO Unsupported authentication mechanism");
		return;
	}
	if (!allowed(s)) {
		imap_tagged(s, out, tag,
		            "NO [PRIVACYREQUIRED] Plaintext authentication disallowed; use STARTTLS");
		return;
	}
	if (ir.p) {
		plain(s, out, tag, ir.p, ir.len);
		return;
	}
	snprintf(s->tag, sizeof(s->tag), "%s", tag);
	s->mode = M_AUTH;
	obuf_puts(out, "+ \r\n");
}

void imap_auth_line(struct imap_session *s, char *line, size_t len, struct obuf *out)
{
	s->mode = M_CMD;
	if (len == 1 && line[0] == '*')
		imap_tagged(s, out, s->tag, "BAD Authentication aborted");
	else
		plain(s, out, s->tag, line, len);
	explicit_bzero(line, len);
}
