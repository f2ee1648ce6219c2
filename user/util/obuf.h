/* A growable output buffer: protocol sessions queue replies here; the net layer sends them. */
#ifndef ORIGINMAIL_OBUF_H
#define ORIGINMAIL_OBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct obuf {
	char *data;
	size_t len, cap;
	bool oom; /* an append failed: the connection must be closed */
};

void obuf_append(struct obuf *b, const void *data, size_t len);
void obuf_puts(struct obuf *b, const char *s);
__attribute__((format(printf, 2, 3))) void obuf_printf(struct obuf *b, const char *fmt, ...);
/* Drop the first n bytes (they were sent). */
void obuf_consume(struct obuf *b, size_t n);
void obuf_free(struct obuf *b);

#endif
