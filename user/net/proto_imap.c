/* The IMAP session behind the connection layer's protocol interface. */
#include <stdlib.h>

#include "imap/imap.h"
#include "log/log.h"
#include "net/proto.h"
#include "net/server.h"

struct imap_conn {
	struct imap_ctx ctx; /* must outlive the session, which keeps a copy pointing into it */
	struct imap_session *s;
};

static void *create(struct generation *gen, const struct listener_conf *lc, const struct origin *o,
                    const char *tls_info)
{
	struct imap_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ctx = (struct imap_ctx){
	        .cfg = &gen->cfg, .lc = lc, .users = gen->users, .origin = o, .tls_info = tls_info};
	c->s = imap_session_new(&c->ctx);
	if (!c->s) {
		free(c);
		return NULL;
	}
	return c;
}

static void greeting(void *p, struct obuf *out)
{
	imap_session_greeting(((struct imap_conn *)p)->s, out);
}

static size_t input(void *p, const char *data, size_t len, struct obuf *out, enum proto_action *act)
{
	struct imap_conn *c = p;
	enum imap_action a = IMAP_CONTINUE;
	size_t n = imap_session_input(c->s, data, len, out, &a);
	const char *ev = imap_session_last_event(c->s);

	if (*ev)
		log_info("IMAP %s: %s", c->ctx.origin->client_ip, ev);
	*act = a == IMAP_STARTTLS ? PROTO_STARTTLS : a == IMAP_CLOSE ? PROTO_CLOSE : PROTO_CONTINUE;
	return n;
}

static void tls_started(void *p, const char *info)
{
	imap_session_tls_started(((struct imap_conn *)p)->s, info);
}

static void timeout(void *p, struct obuf *out)
{
	imap_session_timeout(((struct imap_conn *)p)->s, out);
}

static void shutdown_(void *p, struct obuf *out)
{
	imap_session_shutdown(((struct imap_conn *)p)->s, out);
}

static bool idle(const void *p)
{
	return imap_session_idle(((const struct imap_conn *)p)->s);
}

static bool in_data(const void *p)
{
	return imap_session_in_data(((const struct imap_conn *)p)->s);
}

static bool poll_(void *p, struct obuf *out)
{
	return imap_session_poll(((struct imap_conn *)p)->s, out);
}

static unsigned auth_failures(const void *p)
{
	return imap_session_auth_failures(((const struct imap_conn *)p)->s);
}

static unsigned long progress(const void *p)
{
	return imap_session_progress(((const struct imap_conn *)p)->s);
}

static bool busy(const void *p)
{
	return imap_session_busy(((const struct imap_conn *)p)->s);
}

static void resume(void *p, struct obuf *out)
{
	imap_session_resume(((struct imap_conn *)p)->s, out);
}

static void set_waker(void *p, void (*wake)(void *ctx), void *ctx)
{
	imap_session_set_waker(((struct imap_conn *)p)->s, wake, ctx);
}

static void destroy(void *p)
{
	struct imap_conn *c = p;

	if (!c)
		return;
	imap_session_free(c->s);
	free(c);
}

const struct proto_ops imap_proto_ops = {
        .name = "imap",
        .create = create,
        .greeting = greeting,
        .input = input,
        .tls_started = tls_started,
        .timeout = timeout,
        .shutdown = shutdown_,
        .idle = idle,
        .in_data = in_data,
        .poll = poll_,
        .auth_failures = auth_failures,
        .progress = progress,
        .busy = busy,
        .resume = resume,
        .set_waker = set_waker,
        .destroy = destroy,
        .refusal_prefix = "* BYE",
};
