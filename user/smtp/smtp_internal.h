/* The SMTP session's state, shared by the files of user/smtp/ (not part of the API). */
#ifndef ORIGINMAIL_SMTP_INTERNAL_H
#define ORIGINMAIL_SMTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth_wait.h"
#include "smtp/smtp.h"
#include "smtp/smtp_parse.h"

#define SMTP_MAX_AUTH_FAILURES 3 /* then 421 and close */
#define SMTP_REPLY_FULL        "452 4.3.1 Insufficient system storage, try again later"
#define SMTP_REPLY_FAILED      "451 4.3.0 Local delivery failed"
#define SMTP_MAX_ERRORS        20   /* protocol errors (5.5.x) before 421 and close, like Postfix */
#define SMTP_DEFAULT_LINE      1000 /* when the config says 0 */
#define SMTP_DEFAULT_RCPTS     100
#define SMTP_PROGRESS_BLOCK    8192 /* octets of one long message line that count as progress */
#define SMTP_WBUF_SIZE         8192 /* message output buffer, allocated only during DATA */

enum smtp_mode {
	MODE_CMD,      /* reading command lines */
	MODE_AUTH,     /* reading an AUTH continuation line */
	MODE_DATA,     /* reading message data */
	MODE_DISCARD,  /* dropping the rest of an overlong line through its LF */
	MODE_TLS_WAIT, /* STARTTLS answered: everything is dropped until smtp_session_tls_started */
	MODE_CLOSED,   /* QUIT, 421: everything is dropped */
};

enum smtp_auth_step { AUTH_NONE, AUTH_PLAIN, AUTH_LOGIN_USER, AUTH_LOGIN_PASS };

/* Where the message-data scanner is (see smtp_data.c). */
enum smtp_dstate {
	D_BOL,    /* at the start of a line (after CRLF, or the DATA command's CRLF) */
	D_DOT,    /* a '.' at the start of a line */
	D_DOT_CR, /* ".\r" at the start of a line: one LF from the end of the data */
	D_MID,    /* inside a line */
	D_CR,     /* a CR inside a line, not yet known to be part of a CRLF */
};

struct maildir_tx;
struct relay_spool;

struct smtp_session {
	struct smtp_ctx ctx; /* ctx.tls_info points at tls_info below */
	char *tls_info;
	enum smtp_mode mode;
	bool esmtp;      /* EHLO (not HELO) */
	bool tls;        /* TLS is active */
	char *helo;      /* the HELO/EHLO argument, NULL before */
	char *auth_user; /* the authenticated identity, NULL before AUTH */
	unsigned auth_failures;
	unsigned errors;
	enum smtp_auth_step auth_step;
	char *login_user; /* AUTH LOGIN: the user name between its two steps */

	/* The transaction: from MAIL to the end of DATA or RSET. */
	bool in_tx;
	bool smtputf8;
	char *sender; /* internal form; "" for <> */
	char **rcpts; /* internal form, distinct */
	unsigned nrcpt, rcpt_cap;
	char **relays; /* non-local recipients for the relay queue (internal form, distinct) */
	unsigned nrelay, relay_cap;
	struct relay_spool *spool; /* their queue entry, from DATA on */

	/* The message, during DATA. */
	enum smtp_dstate dstate;
	struct maildir_tx *mtx; /* NULL once the message is rejected (size, bare LF) or failed */
	char *wbuf;             /* SMTP_WBUF_SIZE octets, during DATA only */
	size_t wlen;
	uint64_t msg_bytes; /* octets of message data after dot-unstuffing */
	bool too_big, bare_eol, io_error;
	bool storage_full; /* the write or commit failed for want of space: 452 4.3.1, try later */

	unsigned long progress; /* complete lines (commands, message lines) taken: smtp_session_progress */
	size_t data_run;        /* message octets since progress last grew */

	struct auth_wait auth; /* an AUTH checked on a worker: commands after it wait */

	char id[24];     /* the queue id of the current message */
	char event[160]; /* what the last input call did worth logging, or "" */
};

/* smtp_auth.c: the answer to an AUTH checked on a worker (auth_wait_take). */
void smtp_auth_finish(struct smtp_session *s, struct obuf *out, bool ok);

/* smtp_session.c */
__attribute__((format(printf, 3, 4))) void smtp_reply(struct smtp_session *s, struct obuf *out,
                                                      const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void smtp_event(struct smtp_session *s, const char *fmt, ...);
const char *smtp_hostname(const struct smtp_session *s);
size_t smtp_max_line(const struct smtp_session *s);
unsigned smtp_max_rcpts(const struct smtp_session *s);
bool smtp_auth_offered(const struct smtp_session *s);
/* An LMTP listener's session (RFC 2033): LHLO, and a reply per recipient after the data. */
bool smtp_lmtp(const struct smtp_session *s);
/* Queue "<code> <hostname> <text>", drop the transaction, and drop all further input. */
void smtp_close(struct smtp_session *s, struct obuf *out, const char *code, const char *text);

/* smtp_tx.c */
void smtp_cmd_mail(struct smtp_session *s, const char *arg, size_t len, struct obuf *out);
void smtp_cmd_rcpt(struct smtp_session *s, const char *arg, size_t len, struct obuf *out);
void smtp_cmd_data(struct smtp_session *s, const char *arg, size_t len, struct obuf *out);
/* The message is complete and accepted so far: link it into every recipient's Maildir, and into its
 * relay queue entry when it has relayed recipients (all or nothing). */
bool smtp_tx_commit(struct smtp_session *s);
/* The reply to a delivery that failed: 452 4.3.1 when the storage is full (the sender keeps the message
 * and tries later), else 451 4.3.0. */
void smtp_reply_failed(struct smtp_session *s, struct obuf *out);
/* Forget the transaction (RSET, EHLO, after DATA); aborts a message in progress. */
void smtp_tx_reset(struct smtp_session *s);
/* "Mon, 24 Nov 2025 13:20:00 +0100" */
void smtp_date(char *buf, size_t cap);

/* smtp_data.c */
bool smtp_data_begin(struct smtp_session *s); /* allocate the write buffer */
/* Header text we add: written, not counted against the size limit. */
void smtp_data_put(struct smtp_session *s, const char *data, size_t len);
/* Scan message data; returns the octets consumed. *done: the terminator was consumed. */
size_t smtp_data_input(struct smtp_session *s, const char *p, size_t n, bool *done);
/* After the terminator: deliver or reject, reply, reset the transaction. */
void smtp_data_end(struct smtp_session *s, struct obuf *out);
/* Drop the message in progress (nothing becomes visible) and the write buffer. */
void smtp_data_abort(struct smtp_session *s);

/* smtp_lmtp.c */
/* LMTP after the final dot of an accepted message: deliver to each recipient on its own and queue one
 * reply per recipient, in RCPT order. */
void lmtp_commit(struct smtp_session *s, struct obuf *out);

/* smtp_auth.c */
void smtp_cmd_auth(struct smtp_session *s, const char *arg, size_t len, struct obuf *out);
void smtp_auth_line(struct smtp_session *s, const char *line, size_t len, struct obuf *out);
/* End an exchange in progress (wipes the remembered LOGIN user name). */
void smtp_auth_clear(struct smtp_session *s);

#endif
