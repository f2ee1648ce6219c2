/* The last scan of recently opened folders, kept per process (mailbox_internal.h). Opening a folder
 * (SELECT, STATUS, a POP3 login) otherwise reads the whole of cur/ and new/ and parses the UID list every
 * time: for a folder of 1,000 messages that was most of a SELECT's cost. A scan is reused only while
 * nothing it read can have changed: the same mtimes of cur/ and new/, both older than the scan by a
 * second (a change in the same clock tick would not show), and the same UID list file (rewritten by
 * rename under the folder lock, so a new inode, mtime or size). */
#include <stdlib.h>
#include <string.h>

#include "store/mailbox_internal.h"

struct cached_msg {
	uint32_t uid;
	uint8_t flags;
	bool in_new;
	size_t namelen;
	size_t off; /* the file name in names */
};

struct cached_folder {
	char *path;
	struct mbox_stamp stamp;
	time_t scanned_at;
	uint32_t uidvalidity, uidnext, recent_uid;
	bool any_new; /* some file still in new/: a read-write SELECT has to move it */
	struct cached_msg *msgs;
	size_t count;
	char *names; /* NUL-terminated file names, one after another */
	unsigned long long used;
};

#define CACHE_FOLDERS 64

static struct cached_folder folders[CACHE_FOLDERS];
static size_t limit = MBOX_CACHE_DEFAULT; /* messages held across all folders; 0: none */
static size_t held;
static unsigned long long clock_;
static unsigned long long hits, misses;

static void drop(struct cached_folder *f)
{
	held -= f->count;
	free(f->path);
	free(f->msgs);
	free(f->names);
	memset(f, 0, sizeof(*f));
}

/* The least recently used folder held; NULL when none is. */
static struct cached_folder *oldest(void)
{
	struct cached_folder *v = NULL;

	for (size_t i = 0; i < CACHE_FOLDERS; i++)
		if (folders[i].path && (!v || folders[i].used < v->used))
			v = &folders[i];
	return v;
}

void mbox_cache_set_limit(size_t messages)
{
	limit = messages;
	struct cached_folder *v;

	while (held > limit && (v = oldest()) != NULL)
		drop(v);
}

void mbox_cache_stats(struct mbox_cache_stats *out)
{
	*out = (struct mbox_cache_stats){.held = held, .hits = hits, .misses = misses};
}

void mbox_cache_clear(void)
{
	for (size_t i = 0; i < CACHE_FOLDERS; i++)
		if (folders[i].path)
			drop(&folders[i]);
}

static struct cached_folder *find(const char *path)
{
	for (size_t i = 0; i < CACHE_FOLDERS; i++)
		if (folders[i].path && !strcmp(folders[i].path, path))
			return &folders[i];
	return NULL;
}

static bool same_ts(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool same_stamp(const struct mbox_stamp *a, const struct mbox_stamp *b)
{
	return same_ts(&a->cur, &b->cur) && same_ts(&a->new_dir, &b->new_dir) &&
	       same_ts(&a->list_mtime, &b->list_mtime) && a->list_ino == b->list_ino &&
	       a->list_size == b->list_size;
}

static bool load(struct mbox *m, unsigned opts);

bool mbox_cache_load(struct mbox *m, unsigned opts)
{
	bool hit = load(m, opts);

	if (hit)
		hits++;
	else
		misses++;
	return hit;
}

static bool load(struct mbox *m, unsigned opts)
{
	struct cached_folder *f = find(m->path);
	struct mbox_stamp now;

	if (!f || !mbox_stamp_take(m->path, &now) || !same_stamp(&now, &f->stamp) ||
	    now.cur.tv_sec >= f->scanned_at || now.new_dir.tv_sec >= f->scanned_at)
		return false;
	if ((opts & MBOX_SYNC_RECENT) && f->recent_uid != f->uidnext)
		return false; /* someone has messages to claim as \Recent: that takes the lock and a write */
	if ((opts & MBOX_SYNC_MOVE_NEW) && f->any_new)
		return false;
	struct mbox_msg *msgs = calloc(f->count ? f->count : 1, sizeof(*msgs));
	if (!msgs)
		return false;
	for (size_t i = 0; i < f->count; i++) {
		const struct cached_msg *c = &f->msgs[i];
		msgs[i] = (struct mbox_msg){
		        .uid = c->uid, .flags = c->flags, .in_new = c->in_new, .namelen = c->namelen};
		if (!(msgs[i].file = strdup(f->names + c->off))) {
			while (i)
				free(msgs[--i].file);
			free(msgs);
			return false;
		}
	}
	mbox_set_msgs(m, msgs, f->count); /* nothing is \Recent in this view: it claimed nothing */
	m->uidvalidity = f->uidvalidity;
	m->uidnext = f->uidnext;
	m->recent_uid = f->recent_uid;
	m->mt_cur = f->stamp.cur;
	m->mt_new = f->stamp.new_dir;
	m->scanned = true;
	m->scanned_at = f->scanned_at;
	f->used = ++clock_;
	return true;
}

/* A free slot, else the least recently used one, emptied. */
static struct cached_folder *slot(void)
{
	for (size_t i = 0; i < CACHE_FOLDERS; i++)
		if (!folders[i].path)
			return &folders[i];
	struct cached_folder *v = oldest(); /* not NULL: every slot is held */
	drop(v);
	return v;
}

void mbox_cache_store(const struct mbox *m, const struct mbox_stamp *stamp, time_t scanned_at)
{
	struct cached_folder *f = find(m->path);
	size_t bytes = 0;

	if (f)
		drop(f);
	if (!limit || m->count > limit) /* 0: nothing kept, not even an empty folder */
		return;
	while (held + m->count > limit && (f = oldest()) != NULL) /* least recently used first */
		drop(f);
	for (size_t i = 0; i < m->count; i++)
		bytes += strlen(m->msgs[i].file) + 1;
	struct cached_folder n = {.stamp = *stamp,
	                          .scanned_at = scanned_at,
	                          .uidvalidity = m->uidvalidity,
	                          .uidnext = m->uidnext,
	                          .recent_uid = m->recent_uid,
	                          .count = m->count,
	                          .used = ++clock_};
	n.path = strdup(m->path);
	n.msgs = malloc((m->count ? m->count : 1) * sizeof(*n.msgs));
	n.names = malloc(bytes ? bytes : 1);
	if (!n.path || !n.msgs || !n.names) { /* no room: simply not cached */
		free(n.path);
		free(n.msgs);
		free(n.names);
		return;
	}
	size_t off = 0;
	for (size_t i = 0; i < m->count; i++) {
		const struct mbox_msg *x = &m->msgs[i];
		size_t len = strlen(x->file) + 1;
		n.msgs[i] = (struct cached_msg){.uid = x->uid,
		                                .flags = x->flags,
		                                .in_new = x->in_new,
		                                .namelen = x->namelen,
		                                .off = off};
		memcpy(n.names + off, x->file, len);
		off += len;
		n.any_new |= x->in_new;
	}
	*slot() = n;
	held += n.count;
}
