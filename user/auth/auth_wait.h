/* A session's wait for a password checked on an auth worker (auth_pool.h): the job, the name (and IMAP
 * tag) the answer is for, and how to wake the connection. Embedded in each protocol's session, so that
 * only the success and failure replies stay protocol-specific. */
#ifndef ORIGINMAIL_AUTH_WAIT_H
#define ORIGINMAIL_AUTH_WAIT_H

#include <stdbool.h>

struct auth_job;
struct passwd_db;

struct auth_wait {
	struct auth_job *job;    /* NULL when no check runs */
	char user[256];          /* the name it is for */
	char tag[72];            /* the IMAP command's tag; "" for the others */
	void (*wake)(void *ctx); /* the connection's: called when the check is done */
	void *wake_ctx;
};

void auth_wait_set_waker(struct auth_wait *w, void (*wake)(void *ctx), void *ctx);
/* Check user's pass on a worker (tag may be NULL). False when there is no pool, no waker, user or tag
 * do not fit, or memory is short: then the caller checks in place. */
bool auth_wait_submit(struct auth_wait *w, const struct passwd_db *db, const char *user, const char *tag,
                      const char *pass);
/* A check submitted whose answer has not been taken: commands after it wait. */
bool auth_wait_busy(const struct auth_wait *w);
/* True once the check is done: *ok is its answer and the job is freed (user and tag stay). False while
 * it runs, or when none does. */
bool auth_wait_take(struct auth_wait *w, bool *ok);
/* The connection closes: a check still running is dropped, its answer unused. */
void auth_wait_cancel(struct auth_wait *w);

#endif
