/* The relay worker's parts: delivery of one queue entry, bounces. Internal to user/relay/. */
#ifndef ORIGINMAIL_RELAY_WORKER_H
#define ORIGINMAIL_RELAY_WORKER_H

#include <openssl/ssl.h>

#include "relay/relay.h"

/* Timeouts of the client side, after RFC 5321 4.5.3.2 (connect is ours). */
#define RELAY_T_CONNECT   30000u
#define RELAY_T_GREETING  300000u
#define RELAY_T_COMMAND   300000u
#define RELAY_T_DATA_INIT 120000u
#define RELAY_T_DATA      180000u
#define RELAY_T_DATA_END  600000u
#define RELAY_T_QUIT      10000u

struct relay_worker {
	const struct config *cfg;
	const struct passwd_db *users;
	SSL_CTX *tls; /* for STARTTLS; NULL if it could not be made (tls_err says why) */
	char tls_err[256];
};

/* Attempt one open entry that is due: send it, then remove it, or save what is left with the next
 * attempt's time. Bounces and log lines included. */
void relay_deliver(const struct relay_worker *w, struct relay_entry *en);
/* The bounce for the n recipients given up on (why[i]: the reason for rcpts[i]), delivered to the
 * sender's Maildir if the sender is a local user; otherwise only logged. */
void relay_bounce(const struct relay_worker *w, const struct relay_entry *en, char *const *rcpts,
                  char *const *why, size_t n);
/* s with control characters and line breaks made spaces, in place. */
void relay_clean_text(char *s);

#endif
