/* A session's wait for a password checked on an auth worker (auth_wait.h). */
#include "auth/auth_wait.h"

#include <stdio.h>
#include <string.h>

#include "auth/auth_pool.h"
#include "auth/passwd.h"

void auth_wait_set_waker(struct auth_wait *w, void (*wake)(void *ctx), void *ctx)
{
	w->wake = wake;
	w->wake_ctx = ctx;
}

static void done(void *arg)
{
	struct auth_wait *w = arg;

	w->wake(w->wake_ctx);
}

bool auth_wait_submit(struct auth_wait *w, const struct passwd_db *db, const char *user, const char *tag,
                      const char *pass)
{
	struct auth_pool *pool = auth_pool_current();
	bool exists;

	if (!pool || !w->wake || strlen(user) >= sizeof(w->user) || (tag && strlen(tag) >= sizeof(w->tag)))
		return false;
	const char *setting = passwd_db_setting(db, user, &exists);
	w->job = auth_pool_submit(pool, setting, exists, pass, done, w);
	if (!w->job)
		return false;
	snprintf(w->tag, sizeof(w->tag), "%s", tag ? tag : "");
	snprintf(w->user, sizeof(w->user), "%s", user);
	return true;
}

bool auth_wait_busy(const struct auth_wait *w)
{
	return w->job != NULL;
}

bool auth_wait_take(struct auth_wait *w, bool *ok)
{
	if (!w->job || !auth_job_finished(w->job))
		return false;
	*ok = auth_job_ok(w->job);
	auth_job_free(w->job);
	w->job = NULL;
	return true;
}

void auth_wait_cancel(struct auth_wait *w)
{
	auth_job_free(w->job);
	w->job = NULL;
}
