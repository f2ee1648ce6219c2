/* The relay worker's SMTP client connection: blocking in effect (every step has a deadline and polls a
 * non-blocking socket), plain or TLS after STARTTLS. Internal to user/relay/. */
#ifndef ORIGINMAIL_RELAY_CLIENT_H
#define ORIGINMAIL_RELAY_CLIENT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

struct rclient {
	int fd;
	SSL *ssl;
	size_t ipos, ilen, olen;
	char in[4096];
	char out[16384];
	char err[256];      /* what went wrong, after a false or -1 */
	char tls_info[128]; /* "TLSv1.3 TLS_AES_256_GCM_SHA384" once TLS is up */
	bool verified;      /* the peer's certificate was verified */
};

void rc_init(struct rclient *c);
/* hostport: "host:port", "[v6]:port" (relay_host). Tries every address of the host in turn. */
bool rc_connect(struct rclient *c, const char *hostport, unsigned timeout_ms);
/* The TLS handshake after "220" to STARTTLS. With verify, the certificate must chain to ctx's CAs and
 * name host (a DNS name, or an IP address for an IP literal). */
bool rc_starttls(struct rclient *c, SSL_CTX *ctx, const char *hostport, bool verify, unsigned timeout_ms);
/* Buffered output; rc_flush sends it. */
bool rc_write(struct rclient *c, const void *p, size_t n, unsigned timeout_ms);
bool rc_flush(struct rclient *c, unsigned timeout_ms);
/* A command line: fmt, CRLF, flushed. */
__attribute__((format(printf, 3, 4))) bool rc_cmd(struct rclient *c, unsigned timeout_ms, const char *fmt,
                                                  ...);
/* Read one reply: returns its code (100-599) with its lines' texts (after "250-" / "250 ") joined by
 * '\n' in text, or -1 on an I/O error, a timeout or a malformed reply (c->err says which). */
int rc_reply(struct rclient *c, unsigned timeout_ms, char *text, size_t cap);
/* Bytes received but not yet read as a reply (after STARTTLS's 220 there must be none). */
size_t rc_pending(const struct rclient *c);
void rc_close(struct rclient *c);

/* "host:port" or "[v6]:port" into its parts (brackets dropped). */
bool relay_split_hostport(const char *hp, char *host, size_t hcap, char *port, size_t pcap);
/* A client context: TLS 1.2+, peer verification on (verify) against ca, or the system store if ca is
 * NULL or empty. */
SSL_CTX *relay_tls_ctx(const char *ca, bool verify, char *err, size_t errlen);

#endif
