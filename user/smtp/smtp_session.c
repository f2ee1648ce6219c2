/* The SMTP session: command lines in, replies out (RFC 5321 4.1, 4.2, 4.3; RFC 2920 pipelining;
 * RFC 3207 STARTTLS; RFC 2034 enhanced status codes on every reply but 220, 334 and 354). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_internal.h"

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* A copy of the TLS description for the Received header: no control characters, whatever the TLS
 * library says. */
static char *dup_tls_info(const char *info)
{
	char *p = strdup(info && *info ? info : "TLS");

	for (char *c = p; c && *c; c++) {
		if ((unsigned char)*c < 32 || *c == 127)
			*c = '?';
	}
	return p;
}

const char *smtp_hostname(const struct smtp_session *s)
{
	const char *h = s->ctx.cfg ? s->ctx.cfg->hostname : NULL;
	return h && *h ? h : "localhost";
}

size_t smtp_max_line(const struct smtp_session *s)
{
	size_t n = s->ctx.cfg->max_line;
	return n >= 8 ? n : SMTP_DEFAULT_LINE;
}

unsigned smtp_max_rcpts(const struct smtp_session *s)
{
	unsigned n = s->ctx.cfg->max_recipients;
	return n ? n : SMTP_DEFAULT_RCPTS;
}

bool smtp_auth_offered(const struct smtp_session *s)
{
	return s->ctx.lc->proto == PROTO_SUBMISSION && (s->tls || s->ctx.lc->auth_plaintext);
}

bool smtp_lmtp(const struct smtp_session *s)
{
	return s->ctx.lc && s->ctx.lc->proto == PROTO_LMTP;
}

static bool starttls_offered(const struct smtp_session *s)
{
	return s->ctx.lc->tls == TLS_STARTTLS && !s->tls;
}

void smtp_reply(struct smtp_session *s, struct obuf *out, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	obuf_append(out, line, (size_t)n);
	/* Protocol errors count towards the hard limit; policy refusals (550 user unknown) do not. */
	if (line[0] == '5' && (line[1] == '0' || (line[1] == '5' && line[2] == '5')))
		s->errors++;
}

void smtp_event(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->event, sizeof(s->event), fmt, ap);
	va_end(ap);
	/* It goes into a log line: no control characters from the peer. */
	for (char *p = s->event; *p; p++) {
		if ((unsigned char)*p < 32 || *p == 127)
			*p = '?';
	}
}

void smtp_close(struct smtp_session *s, struct obuf *out, const char *code, const char *text)
{
	if (s->mode == MODE_CLOSED)
		return;
	smtp_reply(s, out, "%s %s %s", code, smtp_hostname(s), text);
	smtp_auth_clear(s);
	smtp_tx_reset(s);
	s->mode = MODE_CLOSED;
}

struct smtp_session *smtp_session_new(const struct smtp_ctx *ctx)
{
	struct smtp_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ctx = *ctx;
	if (ctx->tls_info) {
		s->tls_info = dup_tls_info(ctx->tls_info);
		if (!s->tls_info) {
			free(s);
			return NULL;
		}
		s->tls = true;
	}
	s->ctx.tls_info = s->tls_info;
	s->mode = MODE_CMD;
	return s;
}

void smtp_session_free(struct smtp_session *s)
{
	if (!s)
		return;
	smtp_auth_clear(s);
	auth_wait_cancel(&s->auth);
	smtp_tx_reset(s);
	free(s->rcpts);
	free(s->helo);
	free(s->auth_user);
	free(s->tls_info);
	free(s);
}

void smtp_session_greeting(struct smtp_session *s, struct obuf *out)
{
	smtp_reply(s, out, "220 %s %s originmail", smtp_hostname(s), smtp_lmtp(s) ? "LMTP" : "ESMTP");
}

const char *smtp_session_last_event(const struct smtp_session *s)
{
	return s->event;
}

unsigned smtp_session_auth_failures(const struct smtp_session *s)
{
	return s->auth_failures;
}

const char *smtp_session_auth_user(const struct smtp_session *s)
{
	return s->auth_user;
}

/* ---- commands ---- */

static void cmd_helo(struct smtp_session *s, bool esmtp, const char *arg, size_t len, struct obuf *out)
{
	if (!smtp_valid_helo(arg, len)) {
		smtp_reply(s, out, "501 5.5.4 Syntax: %s hostname",
		           smtp_lmtp(s) ? "LHLO"
		           : esmtp      ? "EHLO"
		                        : "HELO");
		return;
	}
	char *h = dup_n(arg, len);
	if (!h) {
		smtp_reply(s, out, "451 4.3.0 Out of memory");
		return;
	}
	smtp_tx_reset(s);
	free(s->helo);
	s->helo = h;
	s->esmtp = esmtp;
	const char *ip = s->ctx.origin->client_ip;
	if (!esmtp) {
		smtp_reply(s, out, "250 %s Hello %s [%s]", smtp_hostname(s), h, ip);
		return;
	}
	const char *ext[8];
	char size[40];
	size_t n = 0;
	snprintf(size, sizeof(size), "SIZE %zu", s->ctx.cfg->max_message_size);
	ext[n++] = "PIPELINING";
	ext[n++] = size;
	ext[n++] = "8BITMIME";
	ext[n++] = "ENHANCEDSTATUSCODES";
	ext[n++] = "SMTPUTF8";
	if (starttls_offered(s))
		ext[n++] = "STARTTLS";
	if (smtp_auth_offered(s))
		ext[n++] = "AUTH PLAIN LOGIN";
	smtp_reply(s, out, "250-%s Hello %s [%s]", smtp_hostname(s), h, ip);
	for (size_t i = 0; i < n; i++)
		smtp_reply(s, out, "250%c%s", i + 1 == n ? ' ' : '-', ext[i]);
}

static void cmd_starttls(struct smtp_session *s, size_t arglen, struct obuf *out)
{
	if (s->tls) {
		smtp_reply(s, out, "503 5.5.1 Error: TLS already active");
	} else if (!starttls_offered(s)) {
		smtp_reply(s, out, "502 5.5.1 Error: command not implemented");
	} else if (arglen) {
		smtp_reply(s, out, "501 5.5.4 Syntax: STARTTLS");
	} else if (s->in_tx) {
		smtp_reply(s, out, "503 5.5.1 Error: MAIL transaction in progress");
	} else {
		smtp_reply(s, out, "220 2.0.0 Ready to start TLS");
		s->mode = MODE_TLS_WAIT;
	}
}

static void cmd_help(struct smtp_session *s, struct obuf *out)
{
	char list[160];

	snprintf(list, sizeof(list), "%s MAIL RCPT DATA RSET NOOP QUIT VRFY HELP",
	         smtp_lmtp(s) ? "LHLO" : "HELO EHLO");

	if (starttls_offered(s))
		strcat(list, " STARTTLS");
	if (smtp_auth_offered(s))
		strcat(list, " AUTH");
	smtp_reply(s, out, "214 2.0.0 Commands: %s", list);
}

static void command(struct smtp_session *s, const char *line, size_t len, struct obuf *out)
{
	struct smtp_command c;

	smtp_parse_command(line, len, &c);
	switch (c.verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		if (smtp_lmtp(s))
			smtp_reply(s, out, "500 5.5.1 Error: this is LMTP, send LHLO");
		else
			cmd_helo(s, c.verb == SMTP_VERB_EHLO, c.arg, c.arg_len, out);
		break;
	case SMTP_VERB_LHLO:
		if (smtp_lmtp(s))
			cmd_helo(s, true, c.arg, c.arg_len, out);
		else
			smtp_reply(s, out, "500 5.5.2 Error: command not recognized");
		break;
	case SMTP_VERB_MAIL:
		smtp_cmd_mail(s, c.arg, c.arg_len, out);
		break;
	case SMTP_VERB_RCPT:
		smtp_cmd_rcpt(s, c.arg, c.arg_len, out);
		break;
	case SMTP_VERB_DATA:
		smtp_cmd_data(s, c.arg, c.arg_len, out);
		break;
	case SMTP_VERB_RSET:
		if (c.arg_len) {
			smtp_reply(s, out, "501 5.5.4 Syntax: RSET");
			break;
		}
		smtp_tx_reset(s);
		smtp_reply(s, out, "250 2.0.0 Ok");
		break;
	case SMTP_VERB_NOOP:
		smtp_reply(s, out, "250 2.0.0 Ok");
		break;
	case SMTP_VERB_QUIT:
		smtp_reply(s, out, "221 2.0.0 Bye");
		smtp_auth_clear(s);
		smtp_tx_reset(s);
		s->mode = MODE_CLOSED;
		break;
	case SMTP_VERB_VRFY:
		if (c.arg_len == 0)
			smtp_reply(s, out, "501 5.5.4 Syntax: VRFY address");
		else
			smtp_reply(s, out, "252 2.5.2 Cannot VRFY user");
		break;
	case SMTP_VERB_EXPN:
		smtp_reply(s, out, "502 5.5.1 EXPN disabled");
		break;
	case SMTP_VERB_HELP:
		cmd_help(s, out);
		break;
	case SMTP_VERB_STARTTLS:
		cmd_starttls(s, c.arg_len, out);
		break;
	case SMTP_VERB_AUTH:
		smtp_cmd_auth(s, c.arg, c.arg_len, out);
		break;
	case SMTP_VERB_BDAT: /* CHUNKING is not offered */
	case SMTP_VERB_UNKNOWN:
		smtp_reply(s, out, "500 5.5.2 Error: command not recognized");
		break;
	}
}

/* One complete line (CRLF stripped) in MODE_CMD or MODE_AUTH. */
static void line_in(struct smtp_session *s, const char *line, size_t len, struct obuf *out)
{
	if (memchr(line, '\r', len) || memchr(line, '\0', len)) {
		if (s->mode == MODE_AUTH)
			smtp_auth_clear(s);
		smtp_reply(s, out, "500 5.5.2 Error: invalid character in command");
		return;
	}
	if (s->mode == MODE_AUTH)
		smtp_auth_line(s, line, len, out);
	else
		command(s, line, len, out);
}

static void line_too_long(struct smtp_session *s, struct obuf *out)
{
	if (s->mode == MODE_AUTH) {
		smtp_auth_clear(s);
		smtp_reply(s, out, "500 5.5.6 Authentication exchange line is too long");
	} else {
		smtp_reply(s, out, "500 5.5.2 Error: line too long");
	}
	s->mode = MODE_DISCARD;
}

size_t smtp_session_input(struct smtp_session *s, const char *data, size_t len, struct obuf *out,
                          enum smtp_action *act)
{
	size_t pos = 0, maxl = smtp_max_line(s);
	enum smtp_mode entry = s->mode;
	unsigned failures = s->auth_failures;

	*act = SMTP_CONTINUE;
	s->event[0] = '\0';
	if (auth_wait_busy(&s->auth)) { /* a password check on a worker: its answer first, then the rest */
		bool ok;
		if (!auth_wait_take(&s->auth, &ok))
			return 0;
		smtp_auth_finish(s, out, ok);
		if (s->mode == MODE_CLOSED) {
			*act = SMTP_CLOSE;
			return len;
		}
		if (s->auth_failures != failures)
			return 0; /* the caller may delay this reply */
	}
	while (pos < len) {
		if (s->mode == MODE_CLOSED || s->mode == MODE_TLS_WAIT)
			break;
		if (s->mode == MODE_DATA) {
			bool done = false;
			size_t used = smtp_data_input(s, data + pos, len - pos, &done);
			/* Progress is a line, or a block of a line that long: not a trickle of bytes. */
			s->data_run += used;
			if (done || memchr(data + pos, '\n', used) || s->data_run >= SMTP_PROGRESS_BLOCK) {
				s->progress++;
				s->data_run = 0;
			}
			pos += used;
			if (done)
				smtp_data_end(s, out);
			continue;
		}
		const char *p = data + pos;
		size_t avail = len - pos;
		if (s->mode == MODE_DISCARD) {
			const char *lf = memchr(p, '\n', avail);
			if (!lf)
				return len;
			pos += (size_t)(lf - p) + 1;
			s->mode = MODE_CMD;
			s->progress++;
			continue;
		}
		const char *lf = memchr(p, '\n', avail < maxl ? avail : maxl);
		if (!lf) {
			if (avail < maxl)
				break; /* incomplete: the caller keeps it */
			line_too_long(s, out);
			pos += maxl;
			continue;
		}
		size_t n = (size_t)(lf - p) + 1;
		pos += n;
		s->progress++;
		if (n < 2 || p[n - 2] != '\r') {
			if (s->mode == MODE_AUTH)
				smtp_auth_clear(s);
			smtp_reply(s, out, "500 5.5.2 Error: bare <LF> received");
		} else {
			line_in(s, p, n - 2, out);
		}
		if (s->errors >= SMTP_MAX_ERRORS) {
			smtp_event(s, "too many errors");
			smtp_close(s, out, "421 4.7.0", "Error: too many errors");
		}
		if (s->auth_failures != failures || auth_wait_busy(&s->auth))
			break; /* the rest waits: the caller may delay this reply, or it waits for the check
			        */
	}
	if (s->mode == MODE_CLOSED) {
		*act = SMTP_CLOSE;
		return len;
	}
	if (s->mode == MODE_TLS_WAIT) {
		/* Signalled once, when STARTTLS is answered; later input before the handshake is dropped. */
		*act = entry == MODE_TLS_WAIT ? SMTP_CONTINUE : SMTP_STARTTLS;
		return len;
	}
	return pos;
}

void smtp_session_tls_started(struct smtp_session *s, const char *tls_info)
{
	smtp_auth_clear(s);
	smtp_tx_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = false;
	free(s->auth_user);
	s->auth_user = NULL;
	free(s->tls_info);
	s->tls_info = dup_tls_info(tls_info);
	s->ctx.tls_info = s->tls_info;
	s->tls = true;
	s->mode = MODE_CMD;
}

void smtp_session_timeout(struct smtp_session *s, struct obuf *out)
{
	smtp_close(s, out, "421 4.4.2", "Error: timeout exceeded");
}

void smtp_session_shutdown(struct smtp_session *s, struct obuf *out)
{
	smtp_close(s, out, "421 4.3.2", "Service shutting down");
}

bool smtp_session_in_data(const struct smtp_session *s)
{
	return s->mode == MODE_DATA;
}

bool smtp_session_busy(const struct smtp_session *s)
{
	return auth_wait_busy(&s->auth);
}

void smtp_session_set_waker(struct smtp_session *s, void (*wake)(void *ctx), void *ctx)
{
	auth_wait_set_waker(&s->auth, wake, ctx);
}

unsigned long smtp_session_progress(const struct smtp_session *s)
{
	return s->progress;
}

bool smtp_session_idle(const struct smtp_session *s)
{
	return !s->in_tx && s->mode != MODE_DATA;
}
