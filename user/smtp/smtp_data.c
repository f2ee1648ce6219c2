/* Message data after DATA's 354 (RFC 5321 4.1.1.4, 4.5.2): the terminator is exactly CRLF "." CRLF,
 * a leading dot is removed, and any LF not preceded by CR or CR not followed by LF makes the whole
 * message rejected at its end (SMTP smuggling defense, like Postfix's smtpd_forbid_bare_newline): a
 * peer and a relay before it can then never disagree about where a message ends without the message
 * being refused. Lines may be of any length: the scanner keeps only its state (smtp_dstate) between
 * calls, never a line. */
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_internal.h"
#include "store/maildir.h"

bool smtp_data_begin(struct smtp_session *s)
{
	s->wbuf = malloc(SMTP_WBUF_SIZE);
	s->wlen = 0;
	s->msg_bytes = 0;
	s->too_big = s->bare_eol = s->io_error = s->storage_full = false;
	return s->wbuf != NULL;
}

void smtp_data_abort(struct smtp_session *s)
{
	if (s->mtx) {
		maildir_tx_abort(s->mtx);
		s->mtx = NULL;
	}
	free(s->wbuf);
	s->wbuf = NULL;
	s->wlen = 0;
}

static void flush(struct smtp_session *s)
{
	if (s->mtx && s->wlen && !maildir_tx_write(s->mtx, s->wbuf, s->wlen)) {
		s->io_error = true;
		s->storage_full = maildir_errno_full(maildir_tx_error(s->mtx));
		smtp_data_abort(s);
	}
	s->wlen = 0;
}

void smtp_data_put(struct smtp_session *s, const char *data, size_t len)
{
	while (s->mtx && len > 0) {
		size_t n = SMTP_WBUF_SIZE - s->wlen;
		if (n > len)
			n = len;
		memcpy(s->wbuf + s->wlen, data, n);
		s->wlen += n;
		data += n;
		len -= n;
		if (s->wlen == SMTP_WBUF_SIZE)
			flush(s);
	}
}

/* Message octets: counted against max_message_size, written while the message is still wanted. */
static void emit(struct smtp_session *s, const char *data, size_t len)
{
	uint64_t max = s->ctx.cfg->max_message_size;

	s->msg_bytes += len;
	if (max && s->msg_bytes > max && !s->too_big) {
		s->too_big = true;
		smtp_data_abort(s); /* stop writing; keep reading to the terminator */
	}
	smtp_data_put(s, data, len);
}

static void bare(struct smtp_session *s)
{
	if (!s->bare_eol) {
		s->bare_eol = true;
		smtp_data_abort(s);
	}
}

size_t smtp_data_input(struct smtp_session *s, const char *p, size_t n, bool *done)
{
	size_t i = 0;

	*done = false;
	while (i < n) {
		char c = p[i];
		switch (s->dstate) {
		case D_MID: {
			size_t j = i;
			while (j < n && p[j] != '\r' && p[j] != '\n')
				j++;
			if (j > i) {
				emit(s, p + i, j - i);
				i = j;
			} else if (c == '\r') {
				s->dstate = D_CR;
				i++;
			} else { /* LF without CR: not a line end, so a "." after it ends nothing */
				bare(s);
				emit(s, "\n", 1);
				i++;
			}
			break;
		}
		case D_BOL:
			if (c == '.') {
				s->dstate = D_DOT;
				i++;
			} else {
				s->dstate = D_MID; /* c again, as inside a line */
			}
			break;
		case D_DOT:
			if (c == '\r') {
				s->dstate = D_DOT_CR;
				i++;
			} else {
				s->dstate = D_MID; /* the stuffed dot is dropped; c again */
			}
			break;
		case D_DOT_CR:
			if (c == '\n') {
				*done = true;
				s->dstate = D_BOL;
				return i + 1;
			}
			bare(s); /* ".\r" then not LF: a CR without LF; c again */
			emit(s, "\r", 1);
			s->dstate = D_MID;
			break;
		case D_CR:
			if (c == '\n') {
				emit(s, "\r\n", 2);
				s->dstate = D_BOL;
				i++;
			} else {
				bare(s); /* a CR without LF; c again */
				emit(s, "\r", 1);
				s->dstate = D_MID;
			}
			break;
		}
	}
	return n;
}

void smtp_data_end(struct smtp_session *s, struct obuf *out)
{
	const char *reject = NULL;

	flush(s);
	if (s->bare_eol) {
		smtp_event(s, "rejected %s: bare CR or LF in message data", s->id);
		reject = "550 5.6.0 Message rejected: bare CR or LF in message data";
	} else if (s->too_big) {
		smtp_event(s, "rejected %s: message size exceeds %zu bytes", s->id,
		           s->ctx.cfg->max_message_size);
		reject = "552 5.3.4 Message size exceeds fixed limit";
	} else if (s->io_error || !s->mtx) {
		smtp_event(s, "delivery failed: cannot write %s%s", s->id,
		           s->storage_full ? ": storage full" : "");
		reject = s->storage_full ? SMTP_REPLY_FULL : SMTP_REPLY_FAILED;
	} else if (smtp_lmtp(s)) {
		lmtp_commit(s, out);
	} else if (smtp_tx_commit(s)) {
		s->errors = 0; /* a client that delivers is not a prober */
		smtp_reply(s, out, "250 2.0.0 Ok: queued as %s", s->id);
	} else {
		smtp_reply_failed(s, out);
	}
	/* LMTP answers the message once per recipient, a rejection too (RFC 2033 4.2). */
	for (unsigned i = 0; reject && i < (smtp_lmtp(s) ? s->nrcpt : 1); i++)
		smtp_reply(s, out, "%s", reject);
	smtp_tx_reset(s);
	s->mode = MODE_CMD;
}
