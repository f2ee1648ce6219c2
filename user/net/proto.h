/* What the connection layer needs from a protocol (SMTP, IMAP): sessions over bytes. */
#ifndef ORIGINMAIL_PROTO_H
#define ORIGINMAIL_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/config.h"
#include "util/obuf.h"

struct generation;
struct origin;

enum proto_action { PROTO_CONTINUE, PROTO_STARTTLS, PROTO_CLOSE };

#define PROTO_POLL_MS 1000

struct proto_ops {
	const char *name;
	void *(*create)(struct generation *gen, const struct listener_conf *lc, const struct origin *o,
	                const char *tls_info);
	void (*greeting)(void *s, struct obuf *out);
	size_t (*input)(void *s, const char *data, size_t len, struct obuf *out, enum proto_action *act);
	void (*tls_started)(void *s, const char *tls_info);
	void (*timeout)(void *s, struct obuf *out);
	void (*shutdown)(void *s, struct obuf *out);
	bool (*idle)(const void *s);
	bool (*in_data)(const void *s);
	/* Optional (NULL: never called). Called about every PROTO_POLL_MS while the session is active, so
	 * that it can notice changes made elsewhere and queue output (IMAP IDLE). Returns true while the
	 * session legitimately waits: its inactivity deadline then starts again. */
	bool (*poll)(void *s, struct obuf *out);
	/* Optional: what the last input call did that an operator wants in the log ("queued as ...",
	 * "authentication failed for ..."), or NULL/"" for nothing. */
	const char *(*last_event)(const void *s);
	/* Failed logins in the session so far; input returns right after the command that failed one, so
	 * that the connection layer can delay the reply (origin limits, docs/bpf.md). */
	unsigned (*auth_failures)(const void *s);
	/* Optional (NULL: any bytes count). A number that grows when the session has taken a complete line
	 * or a block of data: only then does the inactivity deadline start again, so that a peer sending a
	 * byte at a time (slowloris) is cut at command_timeout or data_timeout. */
	unsigned long (*progress)(const void *s);
	/* Optional (NULL: never busy). A response is being written in pieces (a large IMAP FETCH): the
	 * connection reads nothing more, and calls resume each time the queued output has left, until
	 * the session is no longer busy; then it hands over the input it kept. */
	bool (*busy)(const void *s);
	void (*resume)(void *s, struct obuf *out);
	/* Optional. The session may become busy waiting for work done off the event loop (a password
	 * check on a worker thread); it calls wake(ctx) when that is done, and the connection then passes
	 * it the input it kept (possibly none) so that it answers and goes on. */
	void (*set_waker)(void *s, void (*wake)(void *ctx), void *ctx);
	void (*destroy)(void *s);
	/* What starts the one line a refused peer gets, before the reason: "421 4.7.0", "* BYE". */
	const char *refusal_prefix;
};

const struct proto_ops *proto_for(enum listener_proto p);

extern const struct proto_ops imap_proto_ops; /* proto_imap.c */
extern const struct proto_ops pop3_proto_ops; /* proto_pop3.c */

#endif
