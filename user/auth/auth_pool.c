/* Password checks on worker threads (auth_pool.h): a queue under one mutex, an eventfd back to the loop. */
#include "auth/auth_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "auth/passwd.h"

enum job_state { J_QUEUED, J_RUNNING, J_DONE, J_DELIVERED };

struct auth_job {
	struct auth_pool *pool;
	struct auth_job *prev, *next; /* in the queue or the done list */
	enum job_state state;
	bool abandoned; /* freed by its owner while a worker held it: the worker frees it */
	bool exists, ok;
	char *setting, *password;
	void (*done)(void *arg);
	void *arg;
};

struct list {
	struct auth_job *head, *tail;
};

struct auth_pool {
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct list queue, done;
	bool stop;
	int efd;
	pid_t owner;
	unsigned nthreads;
	pthread_t threads[];
};

static struct auth_pool *current;

static void push(struct list *l, struct auth_job *j)
{
	j->next = NULL;
	j->prev = l->tail;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static void unlink_job(struct list *l, struct auth_job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		l->tail = j->prev;
	j->prev = j->next = NULL;
}

static void destroy(struct auth_job *j)
{
	if (j->password) {
		explicit_bzero(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->setting);
	free(j);
}

/* Free every job on l: no worker runs any more. */
static void drain(struct list *l)
{
	struct auth_job *j = l->head;

	while (j) {
		struct auth_job *next = j->next;
		destroy(j);
		j = next;
	}
	l->head = l->tail = NULL;
}

static void *worker(void *arg)
{
	struct auth_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		struct auth_job *j = p->queue.head;
		if (!j) {
			pthread_cond_wait(&p->work, &p->mu);
			continue;
		}
		unlink_job(&p->queue, j);
		j->state = J_RUNNING;
		pthread_mutex_unlock(&p->mu);

		bool ok = passwd_check(j->setting, j->exists, j->password);

		pthread_mutex_lock(&p->mu);
		if (j->abandoned) {
			destroy(j);
			continue;
		}
		j->ok = ok;
		j->state = J_DONE;
		push(&p->done, j);
		uint64_t one = 1;
		if (write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			abort(); /* the loop would never learn of it: the eventfd is ours and cannot fail */
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct auth_pool *auth_pool_start(unsigned threads, char *err, size_t errlen)
{
	if (threads < 1 || threads > 64) {
		snprintf(err, errlen, "auth workers: %u threads (1 to 64)", threads);
		return NULL;
	}
	struct auth_pool *p = calloc(1, sizeof(*p) + threads * sizeof(pthread_t));
	if (!p) {
		snprintf(err, errlen, "auth workers: out of memory");
		return NULL;
	}
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->owner = getpid();
	if (p->efd < 0) {
		snprintf(err, errlen, "auth workers: eventfd: %s", strerror(errno));
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	/* The workers take no signal: SIGHUP and SIGTERM are the event loop's (its signalfd). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; p->nthreads < threads; p->nthreads++) {
		int e = pthread_create(&p->threads[p->nthreads], NULL, worker, p);
		if (e) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			snprintf(err, errlen, "auth workers: cannot start a thread: %s", strerror(e));
			auth_pool_stop(p);
			return NULL;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p;
}

void auth_pool_stop(struct auth_pool *p)
{
	if (!p)
		return;
	if (current == p)
		current = NULL;
	if (p->owner != getpid())
		return; /* a forked child: the threads and the lock are the parent's */
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	drain(&p->queue);
	drain(&p->done);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	close(p->efd);
	free(p);
}

int auth_pool_fd(const struct auth_pool *p)
{
	return p->efd;
}

void auth_pool_dispatch(struct auth_pool *p)
{
	uint64_t n;

	if (read(p->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	/* One at a time: a callback may free other jobs (it may close connections). */
	for (;;) {
		pthread_mutex_lock(&p->mu);
		struct auth_job *j = p->done.head;
		if (j) {
			unlink_job(&p->done, j);
			j->state = J_DELIVERED;
		}
		pthread_mutex_unlock(&p->mu);
		if (!j)
			return;
		j->done(j->arg);
	}
}

struct auth_job *auth_pool_submit(struct auth_pool *p, const char *setting, bool exists, const char *password,
                                  void (*done)(void *arg), void *arg)
{
	struct auth_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	*j = (struct auth_job){.pool = p, .exists = exists, .done = done, .arg = arg};
	j->setting = setting ? strdup(setting) : NULL;
	j->password = strdup(password);
	if ((setting && !j->setting) || !j->password) {
		destroy(j);
		return NULL;
	}
	pthread_mutex_lock(&p->mu);
	push(&p->queue, j);
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return j;
}

bool auth_job_finished(const struct auth_job *j)
{
	return j->state == J_DELIVERED; /* only the loop's thread sets it */
}

bool auth_job_ok(const struct auth_job *j)
{
	return j->state == J_DELIVERED && j->ok;
}

void auth_job_free(struct auth_job *j)
{
	if (!j)
		return;
	struct auth_pool *p = j->pool;
	pthread_mutex_lock(&p->mu);
	switch (j->state) {
	case J_QUEUED:
		unlink_job(&p->queue, j);
		break;
	case J_RUNNING:
		j->abandoned = true; /* the worker frees it */
		pthread_mutex_unlock(&p->mu);
		return;
	case J_DONE:
		unlink_job(&p->done, j);
		break;
	case J_DELIVERED:
		break;
	}
	pthread_mutex_unlock(&p->mu);
	destroy(j);
}

struct auth_pool *auth_pool_current(void)
{
	return current;
}

void auth_pool_set_current(struct auth_pool *p)
{
	current = p;
}
