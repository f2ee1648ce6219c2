/* The POP3 session behind the connection layer's protocol interface. */
#include <stdlib.h>

#include "log/log.h"
#include "net/proto.h"
#include "net/server.h"
#include "pop3/pop3.h"

struct pop3_conn {
	struct pop3_ctx ctx; /* must outlive the session, which keeps a copy pointing into it */
	struct pop3_session *s;
};

static void *create(struct generation *gen, const struct listener_conf *lc, const struct origin *o,
                    const char *tls_info)
{
	struct pop3_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ctx = (struct pop3_ctx){
	        .cfg = &gen->cfg, .lc = lc, .users = gen->users, .origin = o, .tls_info = tls_info};
	c->s = pop3_session_new(&c->ctx);
	if (!c->s) {
		free(c);
		return NULL;
	}
	return c;
}

static void greeting(void *p, struct obuf *out)
{
	pop3_session_greeting(((struct pop3_conn *)p)->s, out);
}

static size_t input(void *p, const char *data, size_t len, struct obuf *out, enum proto_action *act)
{
	struct pop3_conn *c = p;
	enum pop3_action a = POP3_CONTINUE;
	size_t n = pop3_session_input(c->s, data, len, out, &a);
	const char *ev = pop3_session_last_event(c->s);

	if (*ev)
		log_info("POP3 %s: %s", c->ctx.origin->client_ip, ev);
	*act = a == POP3_STARTTLS ? PROTO_STARTTLS : a == POP3_CLOSE ? PROTO_CLOSE : PROTO_CONTINUE;
	return n;
}

static void tls_started(void *p, const char *info)
{
	pop3_session_tls_started(((struct pop3_conn *)p)->s, info);
}

static void timeout(void *p, struct obuf *out)
{
	pop3_session_timeout(((struct pop3_conn *)p)->s, out);
}

static void shutdown_(void *p, struct obuf *out)
{
	pop3_session_shutdown(((struct pop3_conn *)p)->s, out);
}

static bool idle(const void *p)
{
	return pop3_session_idle(((const struct pop3_conn *)p)->s);
}

static bool in_data(const void *p)
{
	(void)p;
	return false; /* POP3 reads command lines only */
}

static unsigned auth_failures(const void *p)
{
	return pop3_session_auth_failures(((const struct pop3_conn *)p)->s);
}

static unsigned long progress(const void *p)
{
	return pop3_session_progress(((const struct pop3_conn *)p)->s);
}

static bool busy(const void *p)
{
	return pop3_session_busy(((const struct pop3_conn *)p)->s);
}

static void resume(void *p, struct obuf *out)
{
	pop3_session_resume(((struct pop3_conn *)p)->s, out);
}

static void set_waker(void *p, void (*wake)(void *ctx), void *ctx)
{
	pop3_session_set_waker(((struct pop3_conn *)p)->s, wake, ctx);
}

static void destroy(void *p)
{
	struct pop3_conn *c = p;

	if (!c)
		return;
	pop3_session_free(c->s);
	free(c);
}

const struct proto_ops pop3_proto_ops = {
        .name = "pop3",
        .create = create,
        .greeting = greeting,
        .input = input,
        .tls_started = tls_started,
        .timeout = timeout,
        .shutdown = shutdown_,
        .idle = idle,
        .in_data = in_data,
        .auth_failures = auth_failures,
        .progress = progress,
        .busy = busy,
        .resume = resume,
        .set_waker = set_waker,
        .destroy = destroy,
        .refusal_prefix = "-ERR",
};
