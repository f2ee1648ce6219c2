/* The IMAP session: states (RFC 3501 3), the command table, and the commands valid in any state
 * (CAPABILITY, NOOP, LOGOUT, ID) or before login (STARTTLS), plus ENABLE and NAMESPACE. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

#define ANY (1u << IS_NOAUTH | 1u << IS_AUTH | 1u << IS_SELECTED)
#define NOA (1u << IS_NOAUTH)
#define AUT (1u << IS_AUTH | 1u << IS_SELECTED)
#define SEL (1u << IS_SELECTED)

const char *imap_hostname(const struct imap_session *s)
{
	const char *h = s->ctx.cfg ? s->ctx.cfg->hostname : NULL;
	return h && *h ? h : "localhost";
}

static bool starttls_offered(const struct imap_session *s)
{
	return s->ctx.lc->tls == TLS_STARTTLS && !s->tls;
}

void imap_capabilities(const struct imap_session *s, struct obuf *out)
{
	obuf_puts(out,
	          "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UIDPLUS MOVE SPECIAL-USE UNSELECT "
	          "CHILDREN");
	obuf_printf(out, " APPENDLIMIT=%zu", s->ctx.cfg->max_message_size);
	if (s->state == IS_NOAUTH) {
		if (starttls_offered(s))
			obuf_puts(out, " STARTTLS");
		obuf_puts(out, s->tls || s->ctx.lc->auth_plaintext ? " AUTH=PLAIN" : " LOGINDISABLED");
	}
}

void imap_event(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->event, sizeof(s->event), fmt, ap);
	va_end(ap);
	for (char *p = s->event; *p; p++)
		if ((unsigned char)*p < 32 || *p == 127)
			*p = '?';
}

void imap_tagged(struct imap_session *s, struct obuf *out, const char *tag, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (s->state == IS_SELECTED && !s->syncing && strncmp(text, "BAD", 3) != 0)
		imap_sync(s, out, !s->no_expunge);
	for (char *p = text; *p; p++) /* a reply is one line, whatever went into it */
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	obuf_printf(out, "%s %s\r\n", tag, text);
}

void imap_bad(struct imap_session *s, struct obuf *out, const char *tag, struct imap_parser *ps)
{
	s->errors++;
	imap_tagged(s, out, tag, "BAD %s", ps && ps->err ? ps->err : "Invalid arguments");
}

void imap_bye(struct imap_session *s, struct obuf *out, const char *text)
{
	if (s->mode == M_CLOSED)
		return;
	obuf_printf(out, "* BYE %s\r\n", text);
	imap_deselect(s);
	s->mode = M_CLOSED;
	s->state = IS_LOGOUT;
}

static void cmd_capability(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                           bool uid)
{
	(void)uid;
	if (!ip_eol(ps)) {
		imap_bad(s, out, tag, ps);
		return;
	}
	obuf_puts(out, "* CAPABILITY ");
	imap_capabilities(s, out);
	obuf_puts(out, "\r\n");
	imap_tagged(s, out, tag, "OK Capability completed");
}

static void cmd_noop(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                     bool uid)
{
	(void)uid;
	if (!ip_eol(ps)) {
		imap_bad(s, out, tag, ps);
		return;
	}
	imap_tagged(s, out, tag, "OK NOOP completed"); /* the selected mailbox is synced first */
}

static void cmd_logout(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                       bool uid)
{
	(void)uid;
	if (!ip_eol(ps)) {
		imap_bad(s, out, tag, ps);
		return;
	}
	imap_bye(s, out, "Logging out");
	imap_tagged(s, out, tag, "OK Logout completed");
}

static void cmd_starttls(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                         bool uid)
{
	(void)uid;
	if (!ip_eol(ps)) {
		imap_bad(s, out, tag, ps);
	} else if (s->tls) {
		imap_tagged(s, out, tag, "BAD TLS is already active");
	} else if (!starttls_offered(s)) {
		imap_tagged(s, out, tag, "BAD STARTTLS is not available here");
	} else {
		imap_tagged(s, out, tag, "OK Begin TLS negotiation now");
		s->mode = M_TLS_WAIT;
	}
}

/* RFC 2971: the client's list is read and ignored; ours names the server. */
static void cmd_id(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                   bool uid)
{
	struct imap_str k, v;

	(void)uid;
	if (!ip_sp(ps))
		goto bad;
	if (ip_char(ps, '(')) {
		for (int i = 0; !ip_char(ps, ')'); i++) {
			if ((i && !ip_sp(ps)) || i >= 30 || !ip_string(ps, &k) || !ip_sp(ps) ||
			    !ip_nstring(ps, &v))
				goto bad;
		}
	} else if (!ip_nstring(ps, &v) || v.p) {
		goto bad;
	}
	if (!ip_eol(ps))
		goto bad;
	obuf_puts(out, "* ID (\"name\" \"originmail\" \"vendor\" \"originmail\")\r\n");
	imap_tagged(s, out, tag, "OK ID completed");
	return;
bad:
	imap_bad(s, out, tag, ps);
}

/* RFC 5161: nothing here changes behaviour when enabled, so nothing is reported enabled. */
static void cmd_enable(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                       bool uid)
{
	struct imap_str a;

	(void)uid;
	if (!ip_sp(ps) || !ip_atom(ps, &a))
		goto bad;
	while (!ip_eol(ps))
		if (!ip_sp(ps) || !ip_atom(ps, &a))
			goto bad;
	obuf_puts(out, "* ENABLED\r\n");
	imap_tagged(s, out, tag, "OK Enabled");
	return;
bad:
	imap_bad(s, out, tag, ps);
}

static void cmd_namespace(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                          bool uid)
{
	(void)uid;
	if (!ip_eol(ps)) {
		imap_bad(s, out, tag, ps);
		return;
	}
	obuf_puts(out, "* NAMESPACE ((\"\" \".\")) NIL NIL\r\n");
	imap_tagged(s, out, tag, "OK Namespace completed");
}

struct command {
	const char *name;
	imap_cmd_fn *fn;
	unsigned states;
	bool uid;        /* valid after "UID" */
	bool no_expunge; /* without UID: no EXPUNGE responses while it runs */
};

static const struct command commands[] = {
        {"CAPABILITY", cmd_capability, ANY, false, false},
        {"NOOP", cmd_noop, ANY, false, false},
        {"LOGOUT", cmd_logout, ANY, false, false},
        {"ID", cmd_id, ANY, false, false},
        {"STARTTLS", cmd_starttls, NOA, false, false},
        {"LOGIN", imap_cmd_login, NOA, false, false},
        {"AUTHENTICATE", imap_cmd_authenticate, NOA, false, false},
        {"ENABLE", cmd_enable, AUT, false, false},
        {"NAMESPACE", cmd_namespace, AUT, false, false},
        {"SELECT", imap_cmd_select, AUT, false, false},
        {"EXAMINE", imap_cmd_examine, AUT, false, false},
        {"CREATE", imap_cmd_create, AUT, false, false},
        {"DELETE", imap_cmd_delete, AUT, false, false},
        {"RENAME", imap_cmd_rename, AUT, false, false},
        {"SUBSCRIBE", imap_cmd_subscribe, AUT, false, false},
        {"UNSUBSCRIBE", imap_cmd_unsubscribe, AUT, false, false},
        {"LIST", imap_cmd_list, AUT, false, false},
        {"LSUB", imap_cmd_lsub, AUT, false, false},
        {"STATUS", imap_cmd_status, AUT, false, false},
        {"APPEND", imap_cmd_append, AUT, false, false},
        {"IDLE", imap_cmd_idle, AUT, false, false},
        {"CHECK", imap_cmd_check, SEL, false, false},
        {"CLOSE", imap_cmd_close, SEL, false, false},
        {"UNSELECT", imap_cmd_unselect, SEL, false, false},
        {"EXPUNGE", imap_cmd_expunge, SEL, true, false},
        {"SEARCH", imap_cmd_search, SEL, true, true},
        {"FETCH", imap_cmd_fetch, SEL, true, true},
        {"STORE", imap_cmd_store, SEL, true, true},
        {"COPY", imap_cmd_copy, SEL, true, false},
        {"MOVE", imap_cmd_move, SEL, true, false},
};

static const struct command *lookup(struct imap_str name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (istr_is(name, commands[i].name))
			return &commands[i];
	return NULL;
}

void imap_command(struct imap_session *s, char *line, size_t len, struct obuf *out)
{
	struct imap_parser ps;
	struct imap_str t, name;
	char tag[72];
	bool uid = false;

	ip_init(&ps, line, len);
	if (!ip_tag(&ps, &t) || t.len >= sizeof(tag) || !ip_char(&ps, ' ')) {
		s->errors++;
		obuf_puts(out, "* BAD Missing or invalid tag\r\n");
		return;
	}
	memcpy(tag, t.p, t.len);
	tag[t.len] = '\0';
	if (!ip_atom(&ps, &name)) {
		imap_bad(s, out, tag, &ps);
		return;
	}
	if (istr_is(name, "UID")) {
		uid = true;
		if (!ip_char(&ps, ' ') || !ip_atom(&ps, &name)) {
			imap_bad(s, out, tag, &ps);
			return;
		}
	}
	const struct command *c = lookup(name);
	if (!c || (uid && !c->uid)) {
		s->errors++;
		imap_tagged(s, out, tag, "BAD Unknown command");
		return;
	}
	if (!(c->states & (1u << s->state))) {
		s->errors++;
		imap_tagged(s, out, tag, "BAD %s",
		            s->state == IS_NOAUTH ? "Log in first"
		            : c->states == NOA    ? "Already logged in"
		                                  : "Select a mailbox first");
		return;
	}
	s->no_expunge = c->no_expunge && !uid;
	c->fn(s, tag, &ps, out, uid);
	s->no_expunge = false;
}

struct imap_session *imap_session_new(const struct imap_ctx *ctx)
{
	struct imap_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ctx = *ctx;
	if (ctx->tls_info) {
		s->tls_info = strdup(ctx->tls_info);
		if (!s->tls_info) {
			free(s);
			return NULL;
		}
		s->tls = true;
	}
	s->ctx.tls_info = s->tls_info;
	return s;
}

void imap_session_free(struct imap_session *s)
{
	if (!s)
		return;
	imap_fetch_drop(s);
	auth_wait_cancel(&s->auth);
	imap_deselect(s);
	free(s->cmd);
	free(s->user);
	free(s->root);
	free(s->tls_info);
	free(s);
}

void imap_session_greeting(struct imap_session *s, struct obuf *out)
{
	obuf_puts(out, "* OK [CAPABILITY ");
	imap_capabilities(s, out);
	obuf_printf(out, "] %s originmail ready\r\n", imap_hostname(s));
}

size_t imap_session_input(struct imap_session *s, const char *data, size_t len, struct obuf *out,
                          enum imap_action *act)
{
	enum imap_mode entry = s->mode;

	s->event[0] = '\0';
	if (auth_wait_busy(&s->auth)) { /* a password check on a worker: its answer first, then the rest */
		bool ok;
		if (!auth_wait_take(&s->auth, &ok)) {
			*act = IMAP_CONTINUE;
			return 0;
		}
		unsigned failures = s->auth_failures;
		imap_auth_finish(s, out, ok);
		if (s->mode == M_CLOSED) {
			*act = IMAP_CLOSE;
			return len;
		}
		if (s->auth_failures != failures) { /* the caller may delay this reply (imap.h) */
			*act = IMAP_CONTINUE;
			return 0;
		}
	}
	size_t used = s->fetch ? 0 : imap_read(s, data, len, out);
	if (s->mode == M_CLOSED) {
		*act = IMAP_CLOSE;
		return len;
	}
	if (s->mode == M_TLS_WAIT) {
		*act = entry == M_TLS_WAIT ? IMAP_CONTINUE : IMAP_STARTTLS;
		return len;
	}
	*act = IMAP_CONTINUE;
	return used;
}

bool imap_session_busy(const struct imap_session *s)
{
	return s->fetch || auth_wait_busy(&s->auth);
}

void imap_session_set_waker(struct imap_session *s, void (*wake)(void *ctx), void *ctx)
{
	auth_wait_set_waker(&s->auth, wake, ctx);
}

void imap_session_resume(struct imap_session *s, struct obuf *out)
{
	imap_fetch_resume(s, out);
}

unsigned long imap_session_progress(const struct imap_session *s)
{
	return s->progress;
}

unsigned imap_session_auth_failures(const struct imap_session *s)
{
	return s->auth_failures;
}

void imap_session_tls_started(struct imap_session *s, const char *tls_info)
{
	char *p = strdup(tls_info && *tls_info ? tls_info : "TLS");

	free(s->tls_info);
	s->tls_info = p;
	s->ctx.tls_info = p;
	s->tls = true;
	imap_cmd_reset(s);
	s->mode = M_CMD;
}

void imap_session_timeout(struct imap_session *s, struct obuf *out)
{
	imap_bye(s, out, "Autologout; idle for too long");
}

void imap_session_shutdown(struct imap_session *s, struct obuf *out)
{
	imap_bye(s, out, "Server shutting down");
}

bool imap_session_poll(struct imap_session *s, struct obuf *out)
{
	return imap_idle_poll(s, out);
}

bool imap_session_idle(const struct imap_session *s)
{
	return !s->fetch && ((s->mode == M_CMD && s->cmd_len == 0) || s->mode == M_IDLE);
}

bool imap_session_in_data(const struct imap_session *s)
{
	return s->mode == M_LITERAL || s->mode == M_SKIP_LITERAL;
}

const char *imap_session_last_event(const struct imap_session *s)
{
	return s->event;
}
