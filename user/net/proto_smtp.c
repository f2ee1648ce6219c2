/* The SMTP session behind the connection layer's protocol interface. */
#include <stdlib.h>

#include "net/proto.h"
#include "net/server.h"
#include "smtp/smtp.h"

struct smtp_conn {
	struct smtp_ctx ctx; /* must outlive the session, which keeps a pointer to it */
	struct smtp_session *s;
};

static void *create(struct generation *gen, const struct listener_conf *lc, const struct origin *o,
                    const char *tls_info)
{
	struct smtp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ctx = (struct smtp_ctx){
	        .cfg = &gen->cfg, .lc = lc, .users = gen->users, .origin = o, .tls_info = tls_info};
	c->s = smtp_session_new(&c->ctx);
	if (!c->s) {
		free(c);
		return NULL;
	}
	return c;
}

static void greeting(void *p, struct obuf *out)
{
	smtp_session_greeting(((struct smtp_conn *)p)->s, out);
}

static size_t input(void *p, const char *data, size_t len, struct obuf *out, enum proto_action *act)
{
	enum smtp_action a = SMTP_CONTINUE;
	size_t n = smtp_session_input(((struct smtp_conn *)p)->s, data, len, out, &a);

	*act = a == SMTP_STARTTLS ? PROTO_STARTTLS : a == SMTP_CLOSE ? PROTO_CLOSE : PROTO_CONTINUE;
	return n;
}

static void tls_started(void *p, const char *info)
{
	smtp_session_tls_started(((struct smtp_conn *)p)->s, info);
}

static void timeout(void *p, struct obuf *out)
{
	smtp_session_timeout(((struct smtp_conn *)p)->s, out);
}

static void shutdown_(void *p, struct obuf *out)
{
	smtp_session_shutdown(((struct smtp_conn *)p)->s, out);
}

static bool idle(const void *p)
{
	return smtp_session_idle(((const struct smtp_conn *)p)->s);
}

static bool in_data(const void *p)
{
	return smtp_session_in_data(((const struct smtp_conn *)p)->s);
}

static const char *last_event(const void *p)
{
	return smtp_session_last_event(((const struct smtp_conn *)p)->s);
}

static unsigned auth_failures(const void *p)
{
	return smtp_session_auth_failures(((const struct smtp_conn *)p)->s);
}

static unsigned long progress(const void *p)
{
	return smtp_session_progress(((const struct smtp_conn *)p)->s);
}

static bool busy(const void *p)
{
	return smtp_session_busy(((const struct smtp_conn *)p)->s);
}

/* Nothing is written in pieces: busy only waits for a password check (set_waker). */
static void resume(void *p, struct obuf *out)
{
	(void)p, (void)out;
}

static void set_waker(void *p, void (*wake)(void *ctx), void *ctx)
{
	smtp_session_set_waker(((struct smtp_conn *)p)->s, wake, ctx);
}

static void destroy(void *p)
{
	struct smtp_conn *c = p;

	if (!c)
		return;
	smtp_session_free(c->s);
	free(c);
}

static const struct proto_ops smtp_ops = {
        .name = "smtp",
        .create = create,
        .greeting = greeting,
        .input = input,
        .tls_started = tls_started,
        .timeout = timeout,
        .shutdown = shutdown_,
        .idle = idle,
        .in_data = in_data,
        .destroy = destroy,
        .last_event = last_event,
        .auth_failures = auth_failures,
        .progress = progress,
        .busy = busy,
        .resume = resume,
        .set_waker = set_waker,
        .refusal_prefix = "421 4.7.0",
};

const struct proto_ops *proto_for(enum listener_proto p)
{
	switch (p) {
	case PROTO_SMTP:
	case PROTO_SUBMISSION:
	case PROTO_LMTP: /* an LMTP mode of the SMTP session (smtp_lmtp.c) */
		return &smtp_ops;
	case PROTO_IMAP:
		return &imap_proto_ops;
	case PROTO_POP3:
		return &pop3_proto_ops;
	}
	return NULL;
}
