/* OpenSSL glue: server contexts with a modern default, and what a Received header says about TLS. */
#ifndef ORIGINMAIL_TLS_H
#define ORIGINMAIL_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

/* TLS 1.2+, server cipher preference, no compression, no renegotiation, no kernel TLS (sockmap). */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" into buf. */
const char *tls_describe(SSL *ssl, char *buf, size_t cap);
/* The last OpenSSL error as text (and the queue cleared). */
const char *tls_last_error(char *buf, size_t cap);

#endif
