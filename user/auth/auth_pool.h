/* Password checks on worker threads. A yescrypt check costs milliseconds of CPU; done in the event loop
 * it stalls every other connection and keeps the daemon on one core. The loop looks up the user's hash
 * (passwd_db_setting), hands it with the password to a worker, and goes on; the worker runs crypt(3) and
 * signals an eventfd the loop watches; the loop then calls the job's callback.
 *
 * Threading: submit, cancel, dispatch and the job accessors are for the event loop's thread only; the
 * workers touch nothing but the jobs they take. */
#ifndef ORIGINMAIL_AUTH_POOL_H
#define ORIGINMAIL_AUTH_POOL_H

#include <stdbool.h>
#include <stddef.h>

struct auth_pool;
struct auth_job;

/* threads workers (1 to 64); NULL with a message in err on failure. */
struct auth_pool *auth_pool_start(unsigned threads, char *err, size_t errlen);
/* Joins the workers and frees every job left. In a forked child (which has no workers) only lets go. */
void auth_pool_stop(struct auth_pool *p);
/* The eventfd to watch for EPOLLIN; then call auth_pool_dispatch. */
int auth_pool_fd(const struct auth_pool *p);
/* Calls the callback of each finished job; the callback owns the job from then on (auth_job_free). */
void auth_pool_dispatch(struct auth_pool *p);

/* Check password against setting (passwd_db_setting) on a worker; done(arg) once it is known. The
 * password is copied and wiped after use. NULL when out of memory: check in place instead. */
struct auth_job *auth_pool_submit(struct auth_pool *p, const char *setting, bool exists, const char *password,
                                  void (*done)(void *arg), void *arg);
/* True once the job's callback has been called; then auth_job_ok is the answer. */
bool auth_job_finished(const struct auth_job *j);
bool auth_job_ok(const struct auth_job *j);
/* Let go of a job, finished or not (a connection that closes while its check runs): done is not
 * called after this, and the memory goes once no worker holds it. NULL does nothing. */
void auth_job_free(struct auth_job *j);

/* The pool the protocols use, set by the daemon at start; NULL (unit tests, fuzzing, auth_workers = 0):
 * check in place. */
struct auth_pool *auth_pool_current(void);
void auth_pool_set_current(struct auth_pool *p);

#endif
