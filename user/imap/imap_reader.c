/* Assembling commands from bytes: lines ending in CRLF, literals announced by "{n}" (the server says
 * "+ " first) or "{n+}" (RFC 7888 LITERAL+, sent at once). A literal larger than max_message_size is
 * refused with NO [TOOBIG]: a synchronizing one is then never sent, a non-synchronizing one is read
 * and dropped with the rest of its command. Command text outside literals is limited to
 * IMAP_MAX_LINE; an overlong line is answered BAD and dropped through its LF. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

void imap_cmd_reset(struct imap_session *s)
{
	if (s->wipe && s->cmd)
		explicit_bzero(s->cmd, s->cmd_cap);
	s->wipe = false;
	s->cmd_len = s->text_len = s->line_start = 0;
	s->lit_left = s->lit_total = 0;
	s->discard = false;
	if (s->cmd_cap > 4096) { /* an idle session keeps no large buffer */
		free(s->cmd);
		s->cmd = NULL;
		s->cmd_cap = 0;
	}
}

static bool reserve(struct imap_session *s, size_t more)
{
	if (s->cmd_len + more + 1 <= s->cmd_cap)
		return true;
	size_t cap = s->cmd_cap ? s->cmd_cap : 256;
	while (cap < s->cmd_len + more + 1)
		cap *= 2;
	char *p = realloc(s->cmd, cap);
	if (!p)
		return false;
	s->cmd = p;
	s->cmd_cap = cap;
	return true;
}

static bool put(struct imap_session *s, const char *p, size_t n)
{
	if (!reserve(s, n))
		return false;
	memcpy(s->cmd + s->cmd_len, p, n);
	s->cmd_len += n;
	return true;
}

/* The tag of the command being assembled, for an early answer; "*" when there is none. */
static const char *cmd_tag(const struct imap_session *s, char *buf, size_t cap)
{
	size_t n = 0;

	while (n < s->cmd_len && n + 1 < cap && s->cmd[n] != ' ' && (unsigned char)s->cmd[n] > 0x20 &&
	       (unsigned char)s->cmd[n] < 0x7f && !strchr("(){%*\"\\]+", s->cmd[n])) {
		buf[n] = s->cmd[n];
		n++;
	}
	buf[n] = '\0';
	return n && n < s->cmd_len && s->cmd[n] == ' ' ? buf : "*";
}

static size_t max_literal(const struct imap_session *s)
{
	return s->ctx.cfg->max_message_size;
}

/* The current line ended in a literal announcement. */
static void literal_start(struct imap_session *s, uint64_t size, bool plus, struct obuf *out)
{
	if (s->discard) { /* refused already: drop what a LITERAL+ client sends anyway */
		if (plus && size) {
			s->lit_left = size;
			s->mode = M_SKIP_LITERAL;
		} else if (!plus) {
			imap_cmd_reset(s);
		}
		return;
	}
	if (size > max_literal(s) || s->lit_total + size > max_literal(s)) {
		char tag[72];
		imap_tagged(s, out, cmd_tag(s, tag, sizeof(tag)),
		            "NO [TOOBIG] Literal larger than %zu octets", max_literal(s));
		if (plus) {
			s->discard = true;
			s->lit_left = size;
			s->mode = M_SKIP_LITERAL;
		} else {
			imap_cmd_reset(s);
		}
		return;
	}
	if (!reserve(s, (size_t)size + 2) || !put(s, "\r\n", 2)) {
		imap_bye(s, out, "Out of memory");
		return;
	}
	s->lit_total += size;
	s->lit_left = size;
	if (!plus)
		obuf_puts(out, "+ Ready for literal data\r\n");
	s->mode = size ? M_LITERAL : M_CMD;
	s->line_start = s->cmd_len;
}

/* A complete line is in cmd[line_start..cmd_len), CRLF removed. */
static void line_done(struct imap_session *s, struct obuf *out)
{
	uint64_t size;
	bool plus, bad;

	switch (s->mode) {
	case M_AUTH:
		imap_auth_line(s, s->cmd, s->cmd_len, out);
		imap_cmd_reset(s);
		return;
	case M_IDLE:
		imap_idle_line(s, s->cmd, s->cmd_len, out);
		imap_cmd_reset(s);
		return;
	default:
		break;
	}
	if (ip_literal_at_end(s->cmd + s->line_start, s->cmd_len - s->line_start, &size, &plus, &bad)) {
		if (bad) {
			if (!s->discard) {
				char tag[72];
				imap_tagged(s, out, cmd_tag(s, tag, sizeof(tag)), "BAD Invalid literal");
			}
			s->errors++;
			imap_cmd_reset(s);
			return;
		}
		literal_start(s, size, plus, out);
		return;
	}
	if (s->discard) {
		imap_cmd_reset(s);
		return;
	}
	s->cmd[s->cmd_len] = '\0';
	/* The handler may change the mode (AUTHENTICATE, IDLE, LOGOUT); the buffer is reset after it. */
	imap_command(s, s->cmd, s->cmd_len, out);
	imap_cmd_reset(s);
}

/* An exchange waiting for a line (AUTHENTICATE, IDLE) ends with a tagged BAD. */
static void end_exchange(struct imap_session *s, struct obuf *out, const char *text)
{
	imap_tagged(s, out, s->tag, "BAD %s", text);
	s->mode = M_CMD;
}

static void too_long(struct imap_session *s, struct obuf *out)
{
	char tag[72];

	if (s->mode == M_AUTH || s->mode == M_IDLE)
		end_exchange(s, out, "Line too long");
	else if (!s->discard)
		imap_tagged(s, out, cmd_tag(s, tag, sizeof(tag)), "BAD Command line too long");
	s->errors++;
	imap_cmd_reset(s);
	s->mode = M_SKIP_LINE;
}

/* A line ended in a bare LF: a command gets BAD (an IDLE's DONE is taken as it is). */
static void bare_lf(struct imap_session *s, struct obuf *out)
{
	char tag[72];

	if (s->mode == M_IDLE) {
		line_done(s, out);
		return;
	}
	if (s->mode == M_AUTH)
		end_exchange(s, out, "Line must end with CRLF");
	else if (!s->discard)
		imap_tagged(s, out, cmd_tag(s, tag, sizeof(tag)), "BAD Line must end with CRLF");
	s->errors++;
	imap_cmd_reset(s);
}

size_t imap_read(struct imap_session *s, const char *data, size_t len, struct obuf *out)
{
	size_t pos = 0;
	unsigned failures = s->auth_failures;

	while (pos < len) {
		const char *p = data + pos;
		size_t avail = len - pos;
		if (s->mode == M_CLOSED || s->mode == M_TLS_WAIT)
			return len;
		if (s->mode == M_LITERAL || s->mode == M_SKIP_LITERAL) {
			size_t n = avail < s->lit_left ? avail : (size_t)s->lit_left;
			if (s->mode == M_LITERAL && !put(s, p, n)) {
				imap_bye(s, out, "Out of memory");
				return len;
			}
			pos += n;
			s->lit_left -= n;
			s->lit_run += n;
			if (s->lit_run >= IMAP_PROGRESS_BLOCK || !s->lit_left) {
				s->progress++;
				s->lit_run = 0;
			}
			if (!s->lit_left) {
				s->mode = M_CMD;
				s->line_start = s->cmd_len;
			}
			continue;
		}
		const char *lf = memchr(p, '\n', avail);
		if (s->mode == M_SKIP_LINE) {
			if (!lf)
				return len;
			pos += (size_t)(lf - p) + 1;
			s->mode = M_CMD;
			s->progress++;
			continue;
		}
		size_t n = lf ? (size_t)(lf - p) : avail;
		if (s->text_len + n > IMAP_MAX_LINE) {
			size_t fit = IMAP_MAX_LINE - s->text_len;
			if (s->cmd_len < 64 && !put(s, p, fit < 64 ? fit : 64)) /* enough for the tag */
				s->cmd_len = 0;
			too_long(s, out);
			pos += fit;
			continue;
		}
		if (!put(s, p, n)) {
			imap_bye(s, out, "Out of memory");
			return len;
		}
		s->text_len += n;
		pos += n;
		if (!lf)
			break;
		pos++; /* the LF */
		s->progress++;
		if (s->cmd_len == s->line_start || s->cmd[s->cmd_len - 1] != '\r') {
			bare_lf(s, out);
		} else {
			s->cmd_len--; /* the CR */
			line_done(s, out);
		}
		if (s->errors >= IMAP_MAX_ERRORS && s->mode != M_CLOSED)
			imap_bye(s, out, "Too many invalid commands");
		if (s->auth_failures != failures && s->mode != M_CLOSED)
			return pos; /* the rest waits: the caller may delay this reply */
		if ((s->fetch || auth_wait_busy(&s->auth)) && s->mode != M_CLOSED)
			return pos; /* what follows waits until the response is written */
	}
	return len;
}
