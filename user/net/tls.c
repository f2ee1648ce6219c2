/* OpenSSL server contexts and helpers. */
#include "net/tls.h"

#include <openssl/err.h>
#include <stdio.h>

const char *tls_last_error(char *buf, size_t cap)
{
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, cap);
	else
		snprintf(buf, cap, "no OpenSSL error recorded");
	ERR_clear_error();
	return buf;
}

SSL_CTX *tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
	char e[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		snprintf(err, errlen, "TLS context: %s", tls_last_error(e, sizeof(e)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Kernel TLS stays off: newer kernels refuse it on sockets in a BPF sockmap. */
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	                                 SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                              SSL_MODE_RELEASE_BUFFERS);
	if (!SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!MD5:!DSS")) {
		snprintf(err, errlen, "TLS ciphers: %s", tls_last_error(e, sizeof(e)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "TLS certificate %s: %s", cert, tls_last_error(e, sizeof(e)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "TLS key %s: %s", key, tls_last_error(e, sizeof(e)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

const char *tls_describe(SSL *ssl, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	return buf;
}
