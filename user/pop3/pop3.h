/* The POP3 session (RFC 1939 with RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 SASL PLAIN, RFC 3206 response
 * codes): a state machine over bytes over the user's Maildir INBOX. It never touches a socket or
 * OpenSSL: the net layer feeds it input and sends what it queues. */
#ifndef ORIGINMAIL_POP3_H
#define ORIGINMAIL_POP3_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/passwd.h"
#include "conf/config.h"
#include "net/origin.h"
#include "util/obuf.h"

struct pop3_ctx {
	const struct config *cfg;
	const struct listener_conf *lc;
	const struct passwd_db *users;
	const struct origin *origin;
	const char *tls_info; /* once TLS is up, else NULL */
};

enum pop3_action {
	POP3_CONTINUE, /* keep reading */
	POP3_STARTTLS, /* "+OK Begin TLS negotiation" is queued: flush it, then run the handshake */
	POP3_CLOSE,    /* flush what is queued, then close */
};

struct pop3_session;

struct pop3_session *pop3_session_new(const struct pop3_ctx *ctx);
/* Ends the session without UPDATE (deletions are kept only after QUIT) and releases the maildrop. */
void pop3_session_free(struct pop3_session *s);
/* "+OK <hostname> originmail POP3 ready" */
void pop3_session_greeting(struct pop3_session *s, struct obuf *out);
/* Consume command lines. Like imap_session_input: after a failed login the bytes after that command are
 * left to the caller (origin limits may delay the reply), and while RETR/TOP is being written
 * (pop3_session_busy) what follows it is left too. After POP3_STARTTLS or POP3_CLOSE the rest is
 * ignored. */
size_t pop3_session_input(struct pop3_session *s, const char *data, size_t len, struct obuf *out,
                          enum pop3_action *act);
/* RETR/TOP is written a piece at a time (output_buffer): the caller calls resume whenever out is empty,
 * until the session is no longer busy. */
bool pop3_session_busy(const struct pop3_session *s);
/* A login makes the session busy too while a worker thread checks the password (auth_pool.h), if a pool
 * runs and the caller gave a way to wake it: wake(ctx) is called once the answer is there; the caller then
 * passes input again (what it kept, or nothing) to have it written. */
void pop3_session_set_waker(struct pop3_session *s, void (*wake)(void *ctx), void *ctx);
void pop3_session_resume(struct pop3_session *s, struct obuf *out);
/* Grows with every complete command line (the slow-peer rule of proto.h). */
unsigned long pop3_session_progress(const struct pop3_session *s);
void pop3_session_tls_started(struct pop3_session *s, const char *tls_info);
/* "-ERR ..." for a silent peer or a stopping server; the caller closes. */
void pop3_session_timeout(struct pop3_session *s, struct obuf *out);
void pop3_session_shutdown(struct pop3_session *s, struct obuf *out);
/* No command half-received and no response being written: safe to close for a drain. */
bool pop3_session_idle(const struct pop3_session *s);
unsigned pop3_session_auth_failures(const struct pop3_session *s);
/* What the last input call did worth a log line ("login alice@example.test"), or "". */
const char *pop3_session_last_event(const struct pop3_session *s);

#endif
