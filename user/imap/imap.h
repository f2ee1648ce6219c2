/* The IMAP session (RFC 3501 IMAP4rev1 with IDLE, UIDPLUS, MOVE, NAMESPACE, ID, LITERAL+, ENABLE,
 * SPECIAL-USE, UNSELECT, CHILDREN, SASL-IR): a state machine over bytes over the user's Maildir++.
 * It never touches a socket or OpenSSL: the net layer feeds it input and sends what it queues. */
#ifndef ORIGINMAIL_IMAP_H
#define ORIGINMAIL_IMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/passwd.h"
#include "conf/config.h"
#include "net/origin.h"
#include "util/obuf.h"

struct imap_ctx {
	const struct config *cfg;
	const struct listener_conf *lc;
	const struct passwd_db *users;
	const struct origin *origin;
	const char *tls_info; /* once TLS is up, else NULL */
};

enum imap_action {
	IMAP_CONTINUE, /* keep reading */
	IMAP_STARTTLS, /* "OK Begin TLS negotiation now" is queued: flush it, then run the handshake */
	IMAP_CLOSE,    /* flush what is queued, then close */
};

struct imap_session;

struct imap_session *imap_session_new(const struct imap_ctx *ctx);
void imap_session_free(struct imap_session *s);
/* "* OK [CAPABILITY ...] <hostname> originmail ready" */
void imap_session_greeting(struct imap_session *s, struct obuf *out);
/* Consume the bytes (commands, literals, IDLE's DONE): the session keeps an incomplete command itself,
 * so all of them are taken, with two exceptions: right after a failed LOGIN/AUTHENTICATE the bytes after
 * that command are left to the caller, who may delay the reply and pass them again (origin limits,
 * docs/bpf.md); and while a command's response is still being written (imap_session_busy) what follows
 * that command is left to the caller, who passes it again once the session is no longer busy. After
 * IMAP_STARTTLS or IMAP_CLOSE the rest is ignored (nothing sent in plaintext survives into TLS). */
size_t imap_session_input(struct imap_session *s, const char *data, size_t len, struct obuf *out,
                          enum imap_action *act);
/* A response too large to queue at once (a FETCH of many or large messages) is being written a piece at
 * a time: the caller sends what is queued and calls imap_session_resume for the next piece, which it
 * does whenever out is empty, until the session is no longer busy. */
bool imap_session_busy(const struct imap_session *s);
/* A LOGIN or AUTHENTICATE makes the session busy too while a worker thread checks the password
 * (auth_pool.h), if a pool runs and the caller gave a way to wake it: wake(ctx) is called once the answer
 * is there; the caller then passes input again (what it kept, or nothing) to have it written. */
void imap_session_set_waker(struct imap_session *s, void (*wake)(void *ctx), void *ctx);
void imap_session_resume(struct imap_session *s, struct obuf *out);
/* Grows with every complete command line and every few KiB of a literal: the caller restarts its
 * inactivity timer only when it grew, so a peer trickling bytes is not served forever. */
unsigned long imap_session_progress(const struct imap_session *s);
/* TLS is up after STARTTLS. */
void imap_session_tls_started(struct imap_session *s, const char *tls_info);
/* "* BYE ..." for a silent peer or a stopping server; the caller closes. */
void imap_session_timeout(struct imap_session *s, struct obuf *out);
void imap_session_shutdown(struct imap_session *s, struct obuf *out);
/* Called every few seconds while the connection waits: during IDLE, changes made by other sessions or
 * SMTP deliveries are queued as untagged responses. True while IDLE (and within its 30 minutes): the
 * inactivity deadline restarts. */
bool imap_session_poll(struct imap_session *s, struct obuf *out);
/* No command half-received: safe to close for a drain. */
bool imap_session_idle(const struct imap_session *s);
/* A literal is being received (the caller uses the data timeout). */
bool imap_session_in_data(const struct imap_session *s);
/* Failed LOGIN/AUTHENTICATE attempts in this session so far. */
unsigned imap_session_auth_failures(const struct imap_session *s);
/* What the last input call did worth a log line ("login alice@example.test", "login failed for x"), or
 * "". No control characters. */
const char *imap_session_last_event(const struct imap_session *s);

#endif
