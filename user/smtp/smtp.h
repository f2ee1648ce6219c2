/* The SMTP session (RFC 5321 + ESMTP extensions): a state machine over bytes. It never touches a
 * socket or OpenSSL: the net layer feeds it input and sends what it queues in an obuf. */
#ifndef ORIGINMAIL_SMTP_H
#define ORIGINMAIL_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/passwd.h"
#include "conf/config.h"
#include "net/origin.h"
#include "util/obuf.h"

struct smtp_ctx {
	const struct config *cfg;
	const struct listener_conf *lc;
	const struct passwd_db *users;
	const struct origin *origin;
	const char *tls_info; /* e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384" once TLS is up, else NULL */
};

enum smtp_action {
	SMTP_CONTINUE, /* keep reading */
	SMTP_STARTTLS, /* "220 Ready to start TLS" is queued: flush it, then run the handshake */
	SMTP_CLOSE,    /* flush what is queued, then close */
};

struct smtp_session;

struct smtp_session *smtp_session_new(const struct smtp_ctx *ctx);
void smtp_session_free(struct smtp_session *s);
/* "220 <hostname> ESMTP originmail" (the net layer sends it once the connection is accepted). */
void smtp_session_greeting(struct smtp_session *s, struct obuf *out);
/* Handle the complete lines in data (pipelined commands, message data). Returns the bytes consumed;
 * an incomplete last line stays with the caller, who passes it again with more bytes, unless it is
 * already longer than the line limit (then it is consumed and answered). After SMTP_STARTTLS or
 * SMTP_CLOSE the rest of data is consumed and ignored (RFC 3207: no plaintext command may survive
 * into the TLS session). */
size_t smtp_session_input(struct smtp_session *s, const char *data, size_t len, struct obuf *out,
                          enum smtp_action *act);
/* TLS is up after STARTTLS: forget EHLO and everything learnt before (RFC 3207). */
void smtp_session_tls_started(struct smtp_session *s, const char *tls_info);
/* The peer was silent too long: "421 4.4.2 ... timeout" queued; the caller closes. */
void smtp_session_timeout(struct smtp_session *s, struct obuf *out);
/* The server is stopping: "421 4.3.2 ..." queued; the caller closes. */
void smtp_session_shutdown(struct smtp_session *s, struct obuf *out);
/* True while a message body is being received (the caller uses data_timeout then). */
bool smtp_session_in_data(const struct smtp_session *s);
/* Grows with every complete line taken (a command, a line of message data, or 8 KiB of a longer one):
 * the caller restarts its inactivity timer only when it grew, so command_timeout and data_timeout bound
 * how long one line may take and a peer trickling bytes (slowloris) is cut. */
unsigned long smtp_session_progress(const struct smtp_session *s);
/* True between transactions: safe to close for a drain without losing an accepted message. */
bool smtp_session_idle(const struct smtp_session *s);
/* What the last smtp_session_input call did that is worth a log line ("queued as ID: 2 recipients,
 * 1234 bytes", "delivery failed: ...", "authentication failed for USER", "rejected ID: bare CR or LF
 * in message data"), or "" (cleared at the start of each call; the latest event of a call wins). No
 * control characters. The session itself logs nothing. */
const char *smtp_session_last_event(const struct smtp_session *s);
/* Failed AUTH attempts in this session so far. smtp_session_input returns right after the line that
 * failed one, leaving the rest of the input unconsumed: the caller may delay the reply (docs/bpf.md). */
unsigned smtp_session_auth_failures(const struct smtp_session *s);
/* While a worker thread checks an AUTH password (auth_pool.h, if a pool runs and the caller gave a way
 * to wake it) the session is busy and takes no input; wake(ctx) is called once the answer is there, and
 * the caller then passes input again (what it kept, or nothing) to have it written. */
bool smtp_session_busy(const struct smtp_session *s);
void smtp_session_set_waker(struct smtp_session *s, void (*wake)(void *ctx), void *ctx);
/* The authenticated user, or NULL. */
const char *smtp_session_auth_user(const struct smtp_session *s);

#endif
