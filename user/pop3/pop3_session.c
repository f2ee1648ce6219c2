/* The POP3 session: lines from bytes, the states of RFC 1939 (AUTHORIZATION, TRANSACTION, UPDATE at
 * QUIT), the command table, and the commands valid in any state (CAPA, QUIT) or before login (STLS). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "pop3/pop3_internal.h"

#define AUT (1u << PS_AUTH)
#define TRA (1u << PS_TRANS)

static const char *hostname(const struct pop3_session *s)
{
	const char *h = s->ctx.cfg ? s->ctx.cfg->hostname : NULL;
	return h && *h ? h : "localhost";
}

static bool stls_offered(const struct pop3_session *s)
{
	return s->ctx.lc->tls == TLS_STARTTLS && !s->tls;
}

bool pop3_auth_allowed(const struct pop3_session *s)
{
	return s->tls || s->ctx.lc->auth_plaintext;
}

void pop3_event(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->event, sizeof(s->event), fmt, ap);
	va_end(ap);
	for (char *p = s->event; *p; p++)
		if ((unsigned char)*p < 32 || *p == 127)
			*p = '?';
}

void pop3_err(struct pop3_session *s, struct obuf *out, const char *text)
{
	s->errors++;
	obuf_printf(out, "-ERR %s\r\n", text);
}

/* The last line; the session ends without UPDATE unless QUIT ran it. */
void pop3_close(struct pop3_session *s, struct obuf *out, const char *line)
{
	if (s->mode == PM_CLOSED)
		return;
	obuf_printf(out, "%s\r\n", line);
	pop3_send_drop(s);
	pop3_maildrop_close(s);
	s->mode = PM_CLOSED;
	s->state = PS_DONE;
}

/* RFC 2449: CAPA in either state; USER and SASL only where a password may be sent. */
static void cmd_capa(struct pop3_session *s, const char *arg, struct obuf *out)
{
	if (arg) {
		pop3_err(s, out, "CAPA takes no arguments");
		return;
	}
	obuf_puts(out, "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	               "PIPELINING\r\n");
	if (s->state == PS_AUTH) {
		if (pop3_auth_allowed(s))
			obuf_puts(out, "USER\r\nSASL PLAIN\r\n");
		if (stls_offered(s))
			obuf_puts(out, "STLS\r\n");
	}
	obuf_puts(out, "IMPLEMENTATION originmail\r\n.\r\n");
}

static void cmd_stls(struct pop3_session *s, const char *arg, struct obuf *out)
{
	if (arg)
		pop3_err(s, out, "STLS takes no arguments");
	else if (s->tls)
		pop3_err(s, out, "TLS is already active");
	else if (!stls_offered(s))
		pop3_err(s, out, "STLS is not available here");
	else {
		obuf_puts(out, "+OK Begin TLS negotiation\r\n");
		s->mode = PM_TLS_WAIT;
	}
}

static void cmd_noop(struct pop3_session *s, const char *arg, struct obuf *out)
{
	if (arg)
		pop3_err(s, out, "NOOP takes no arguments");
	else
		obuf_puts(out, "+OK\r\n");
}

/* In TRANSACTION, QUIT enters UPDATE: the messages DELE marked are removed. */
static void cmd_quit(struct pop3_session *s, const char *arg, struct obuf *out)
{
	(void)arg;
	if (s->state == PS_TRANS && !pop3_maildrop_update(s)) {
		pop3_close(s, out, "-ERR [SYS/TEMP] Some deleted messages were not removed");
		return;
	}
	pop3_close(s, out, "+OK Bye");
}

struct command {
	const char *name;
	void (*fn)(struct pop3_session *s, const char *arg, struct obuf *out);
	unsigned states;
};

static const struct command commands[] = {
        {"CAPA", cmd_capa, AUT | TRA}, {"QUIT", cmd_quit, AUT | TRA}, {"STLS", cmd_stls, AUT},
        {"USER", pop3_cmd_user, AUT},  {"PASS", pop3_cmd_pass, AUT},  {"AUTH", pop3_cmd_auth, AUT},
        {"NOOP", cmd_noop, TRA},       {"STAT", pop3_cmd_stat, TRA},  {"LIST", pop3_cmd_list, TRA},
        {"UIDL", pop3_cmd_uidl, TRA},  {"RETR", pop3_cmd_retr, TRA},  {"TOP", pop3_cmd_top, TRA},
        {"DELE", pop3_cmd_dele, TRA},  {"RSET", pop3_cmd_rset, TRA},
};

/* "NAME" or "NAME SP args" (RFC 1939 3: keywords are case-insensitive). */
static void command(struct pop3_session *s, char *line, size_t len, struct obuf *out)
{
	size_t n = strcspn(line, " ");
	const char *arg = n < len ? line + n + 1 : NULL;

	if (memchr(line, '\0', len)) {
		pop3_err(s, out, "NUL in command line");
		return;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		if (strlen(c->name) != n || strncasecmp(line, c->name, n) != 0)
			continue;
		if (!(c->states & (1u << s->state))) {
			pop3_err(s, out, s->state == PS_AUTH ? "Log in first" : "Already logged in");
			return;
		}
		c->fn(s, arg, out);
		return;
	}
	pop3_err(s, out, "Unknown command");
}

static size_t max_line(const struct pop3_session *s)
{
	size_t m = s->ctx.cfg->max_line ? s->ctx.cfg->max_line : POP3_LINE_DEFAULT;
	return m > 2 ? m - 2 : 1; /* max_line counts the CRLF */
}

static void line_reset(struct pop3_session *s)
{
	if (s->line)
		explicit_bzero(s->line, s->line_cap); /* it may have held a password */
	s->line_len = 0;
}

static bool put(struct pop3_session *s, const char *p, size_t n)
{
	if (s->line_len + n + 1 > s->line_cap) {
		size_t cap = s->line_cap ? s->line_cap : 256;
		while (cap < s->line_len + n + 1)
			cap *= 2;
		char *b = malloc(cap);
		if (!b)
			return false;
		if (s->line) {
			memcpy(b, s->line, s->line_len);
			explicit_bzero(s->line, s->line_cap);
			free(s->line);
		}
		s->line = b;
		s->line_cap = cap;
	}
	memcpy(s->line + s->line_len, p, n);
	s->line_len += n;
	return true;
}

/* A complete line, CRLF removed. */
static void line_done(struct pop3_session *s, struct obuf *out)
{
	s->line[s->line_len] = '\0';
	if (s->mode == PM_SASL)
		pop3_sasl_line(s, s->line, s->line_len, out);
	else
		command(s, s->line, s->line_len, out);
	line_reset(s);
}

static void too_long(struct pop3_session *s, struct obuf *out)
{
	if (s->mode == PM_SASL)
		s->mode = PM_CMD; /* the exchange ends: RFC 5034 4 */
	pop3_err(s, out, "Line too long");
	line_reset(s);
	s->mode = PM_SKIP_LINE;
}

static size_t read_lines(struct pop3_session *s, const char *data, size_t len, struct obuf *out)
{
	size_t pos = 0;
	unsigned failures = s->auth_failures;

	while (pos < len) {
		const char *p = data + pos;
		size_t avail = len - pos;
		if (s->mode == PM_CLOSED || s->mode == PM_TLS_WAIT)
			return len;
		const char *lf = memchr(p, '\n', avail);
		if (s->mode == PM_SKIP_LINE) {
			if (!lf)
				return len;
			pos += (size_t)(lf - p) + 1;
			s->mode = PM_CMD;
			s->progress++;
			continue;
		}
		size_t n = lf ? (size_t)(lf - p) : avail;
		if (s->line_len + n > max_line(s) + 1) { /* + 1: the CR */
			pos += max_line(s) + 1 - s->line_len;
			too_long(s, out);
			continue;
		}
		if (!put(s, p, n)) {
			pop3_close(s, out, "-ERR [SYS/TEMP] Out of memory");
			return len;
		}
		pos += n;
		if (!lf)
			break;
		pos++;
		s->progress++;
		if (s->line_len && s->line[s->line_len - 1] == '\r')
			s->line_len--;
		else if (s->mode != PM_SASL) { /* RFC 1939 3: lines end in CRLF */
			line_reset(s);
			pop3_err(s, out, "Line must end with CRLF");
			continue;
		}
		line_done(s, out);
		if (s->errors >= POP3_MAX_ERRORS && s->mode != PM_CLOSED)
			pop3_close(s, out, "-ERR Too many invalid commands");
		if (s->auth_failures != failures && s->mode != PM_CLOSED)
			return pos; /* the rest waits: the caller may delay this reply */
		if ((s->send_fd >= 0 || auth_wait_busy(&s->auth)) && s->mode != PM_CLOSED)
			return pos; /* what follows waits until the response is written, or the check is done
			             */
	}
	return len;
}

struct pop3_session *pop3_session_new(const struct pop3_ctx *ctx)
{
	struct pop3_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ctx = *ctx;
	s->lock_fd = s->send_fd = -1;
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

void pop3_session_free(struct pop3_session *s)
{
	if (!s)
		return;
	pop3_send_drop(s);
	auth_wait_cancel(&s->auth);
	pop3_maildrop_close(s);
	line_reset(s);
	free(s->line);
	free(s->user_arg);
	free(s->user);
	free(s->tls_info);
	free(s);
}

void pop3_session_greeting(struct pop3_session *s, struct obuf *out)
{
	obuf_printf(out, "+OK %s originmail POP3 ready\r\n", hostname(s));
}

size_t pop3_session_input(struct pop3_session *s, const char *data, size_t len, struct obuf *out,
                          enum pop3_action *act)
{
	enum pop3_mode entry = s->mode;

	s->event[0] = '\0';
	if (auth_wait_busy(&s->auth)) { /* a password check on a worker: its answer first, then the rest */
		bool ok;
		if (!auth_wait_take(&s->auth, &ok)) {
			*act = POP3_CONTINUE;
			return 0;
		}
		unsigned failures = s->auth_failures;
		pop3_auth_finish(s, out, ok);
		if (s->mode == PM_CLOSED) {
			*act = POP3_CLOSE;
			return len;
		}
		if (s->auth_failures != failures) { /* the caller may delay this reply (pop3.h) */
			*act = POP3_CONTINUE;
			return 0;
		}
	}
	size_t used = s->send_fd >= 0 ? 0 : read_lines(s, data, len, out);
	if (s->mode == PM_CLOSED) {
		*act = POP3_CLOSE;
		return len;
	}
	if (s->mode == PM_TLS_WAIT) {
		*act = entry == PM_TLS_WAIT ? POP3_CONTINUE : POP3_STARTTLS;
		return len;
	}
	*act = POP3_CONTINUE;
	return used;
}

bool pop3_session_busy(const struct pop3_session *s)
{
	return s->send_fd >= 0 || auth_wait_busy(&s->auth);
}

void pop3_session_set_waker(struct pop3_session *s, void (*wake)(void *ctx), void *ctx)
{
	auth_wait_set_waker(&s->auth, wake, ctx);
}

void pop3_session_resume(struct pop3_session *s, struct obuf *out)
{
	pop3_send_resume(s, out);
}

unsigned long pop3_session_progress(const struct pop3_session *s)
{
	return s->progress;
}

unsigned pop3_session_auth_failures(const struct pop3_session *s)
{
	return s->auth_failures;
}

void pop3_session_tls_started(struct pop3_session *s, const char *tls_info)
{
	char *p = strdup(tls_info && *tls_info ? tls_info : "TLS");

	free(s->tls_info);
	s->tls_info = p;
	s->ctx.tls_info = p;
	s->tls = true;
	line_reset(s);
	s->mode = PM_CMD;
}

void pop3_session_timeout(struct pop3_session *s, struct obuf *out)
{
	pop3_close(s, out, "-ERR Autologout; idle for too long");
}

void pop3_session_shutdown(struct pop3_session *s, struct obuf *out)
{
	pop3_close(s, out, "-ERR [SYS/TEMP] Server shutting down");
}

bool pop3_session_idle(const struct pop3_session *s)
{
	return s->send_fd < 0 && s->line_len == 0 && s->mode != PM_SKIP_LINE;
}

const char *pop3_session_last_event(const struct pop3_session *s)
{
	return s->event;
}
