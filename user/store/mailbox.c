/* A folder's messages: sync with the directories under the folder lock, flags, expunge. */
#include "store/mailbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/mailbox_internal.h"
#include "store/maildir.h"

struct mbox *mbox_open(const char *path, bool create, char *err, size_t errlen)
{
	char cur[PATH_MAX];
	struct stat st;

	if (create && !maildir_ensure(path, err, errlen))
		return NULL;
	snprintf(cur, sizeof(cur), "%s/cur", path);
	if (stat(cur, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a Maildir", path);
		return NULL;
	}
	struct mbox *m = calloc(1, sizeof(*m));
	if (!m || !(m->path = strdup(path))) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->lock_fd = -1;
	return m;
}

static void free_msgs(struct mbox_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(msgs[i].file);
	free(msgs);
}

void mbox_set_msgs(struct mbox *m, struct mbox_msg *msgs, size_t count)
{
	free_msgs(m->msgs, m->count);
	m->msgs = msgs;
	m->count = count;
}

void mbox_close(struct mbox *m)
{
	if (!m)
		return;
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	free_msgs(m->msgs, m->count);
	free(m->path);
	free(m);
}

/* The lock is reentrant within one mbox: sync takes it, and may run while a caller holds it. */
bool mbox_lock(struct mbox *m, char *err, size_t errlen)
{
	char p[PATH_MAX];

	if (m->lock_fd >= 0) {
		m->lock_depth++;
		return true;
	}
	snprintf(p, sizeof(p), "%s/" UIDLIST_LOCK, m->path);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "open %s: %s", p, strerror(errno));
		return false;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			snprintf(err, errlen, "flock %s: %s", p, strerror(errno));
			close(fd);
			return false;
		}
	}
	m->lock_fd = fd;
	m->lock_depth = 1;
	return true;
}

void mbox_unlock(struct mbox *m)
{
	if (m->lock_fd < 0)
		return;
	if (--m->lock_depth > 0)
		return;
	close(m->lock_fd); /* releases the flock */
	m->lock_fd = -1;
}

static bool dir_mtime(const char *path, const char *sub, struct timespec *ts)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", path, sub);
	if (stat(p, &st) != 0)
		return false;
	*ts = st.st_mtim;
	return true;
}

static bool same_ts(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

bool mbox_stamp_take(const char *path, struct mbox_stamp *st)
{
	char p[PATH_MAX];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/" UIDLIST_NAME, path);
	if (!dir_mtime(path, "cur", &st->cur) || !dir_mtime(path, "new", &st->new_dir) || stat(p, &sb) != 0)
		return false;
	st->list_mtime = sb.st_mtim;
	st->list_ino = sb.st_ino;
	st->list_size = sb.st_size;
	return true;
}

/* Unchanged directories whose mtimes are older than the last scan by a second or more: a change in
 * the same clock tick as the mtime we saw would not show, hence the margin. */
static bool unchanged(const struct mbox *m)
{
	struct timespec c, n;

	if (!m->scanned || !dir_mtime(m->path, "cur", &c) || !dir_mtime(m->path, "new", &n))
		return false;
	return same_ts(&c, &m->mt_cur) && same_ts(&n, &m->mt_new) && c.tv_sec < m->scanned_at &&
	       n.tv_sec < m->scanned_at;
}

/* A name without a UID, with its delivery time parsed once for sorting. */
struct unlisted {
	unsigned long long sec, usec;
	struct scan_entry *e;
};

/* Delivery time from a Maildir name "<sec>.M<usec>P...": seconds, then microseconds (0 if absent). The
 * microseconds are not zero-padded, so names do not sort by time as strings. */
static void name_time(const char *f, unsigned long long *sec, unsigned long long *usec)
{
	char *end;

	*sec = strtoull(f, &end, 10);
	*usec = end[0] == '.' && end[1] == 'M' ? strtoull(end + 2, NULL, 10) : 0;
}

static int cmp_unlisted(const void *a, const void *b)
{
	const struct unlisted *x = a, *y = b;

	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	return strcmp(x->e->file, y->e->file);
}

static int cmp_msg_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct mbox_msg *)a)->uid, y = ((const struct mbox_msg *)b)->uid;
	return x < y ? -1 : x > y;
}

static void add_msg(struct mbox_msg *msgs, size_t *n, struct scan_entry *e, uint32_t uid)
{
	msgs[(*n)++] = (struct mbox_msg){.uid = uid,
	                                 .flags = (uint8_t)mbox_flags_from_info(e->file + e->namelen),
	                                 .in_new = e->in_new,
	                                 .file = e->file,
	                                 .namelen = e->namelen};
	e->file = NULL; /* the message owns it now */
}

/* The new message array from the scan; names without a UID get one, listed names without a file
 * leave the list. */
static struct mbox_msg *build(const struct mbox *m, struct uidlist *u, struct scan_list *l, bool *dirty,
                              size_t *count)
{
	struct mbox_msg *msgs = calloc(l->n ? l->n : 1, sizeof(*msgs));
	struct unlisted *fresh = NULL;
	size_t n = 0, nfresh = 0;

	if (!msgs)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		struct scan_entry *e = &l->e[i];
		uint32_t uid = uidlist_lookup(u, e->file, e->namelen);
		if (!uid) { /* after the listed ones, in delivery-time order */
			if (!fresh && !(fresh = calloc(l->n, sizeof(*fresh)))) {
				while (n)
					free(msgs[--n].file);
				free(msgs);
				return NULL;
			}
			fresh[nfresh].e = e;
			name_time(e->file, &fresh[nfresh].sec, &fresh[nfresh].usec);
			nfresh++;
			continue;
		}
		add_msg(msgs, &n, e, uid);
	}
	if (nfresh) /* only names without a UID are sorted: a SELECT of a known mailbox sorts nothing */
		qsort(fresh, nfresh, sizeof(*fresh), cmp_unlisted);
	for (size_t i = 0; i < nfresh; i++) {
		struct scan_entry *e = fresh[i].e;
		uint32_t uid = uidlist_lookup(u, e->file, e->namelen); /* the same name in new/ and cur/ */
		if (!uid) {
			uid = uidlist_assign(u, e->file, e->namelen);
			*dirty = true;
		}
		if (uid)
			add_msg(msgs, &n, e, uid);
	}
	free(fresh);
	if (n)
		qsort(msgs, n, sizeof(*msgs), cmp_msg_uid);
	/* The same base name in new/ and cur/ (a move interrupted elsewhere): keep one. */
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (o && msgs[o - 1].uid == msgs[i].uid) {
			free(msgs[i].file);
			continue;
		}
		msgs[o++] = msgs[i];
	}
	n = o;
	if (u->n > n) {
		size_t w = 0;
		for (size_t i = 0; i < u->n; i++) {
			struct mbox_msg key = {.uid = u->e[i].uid};
			if (n && bsearch(&key, msgs, n, sizeof(*msgs), cmp_msg_uid))
				u->e[w++] = u->e[i];
			else
				free(u->e[i].name);
		}
		u->n = w;
		*dirty = true;
	}
	/* \Recent carries over from the previous view of this mbox. */
	for (size_t i = 0; i < n; i++) {
		const struct mbox_msg *old = mbox_find(m, msgs[i].uid);
		msgs[i].recent = old && old->recent;
	}
	*count = n;
	return msgs;
}

bool mbox_sync(struct mbox *m, unsigned opts, bool *changed, char *err, size_t errlen)
{
	struct uidlist u;
	struct scan_list l = {0};
	bool dirty = false, ok = false;

	if (changed)
		*changed = false;
	if (!(opts & MBOX_SYNC_FORCE) && unchanged(m))
		return true;
	if (!(opts & MBOX_SYNC_FORCE) && !m->scanned && mbox_cache_load(m, opts)) {
		if (changed)
			*changed = true;
		return true;
	}
	if (!mbox_lock(m, err, errlen))
		return false;
	if (!uidlist_read(m->path, &u, err, errlen))
		goto out_scan;
	time_t now = time(NULL);
	struct timespec c = {0}, n = {0};
	if (opts & MBOX_SYNC_MOVE_NEW)
		scan_move_new(m->path);
	/* The mtimes before reading: a change during the scan makes the next sync scan again. */
	bool have_times = dir_mtime(m->path, "cur", &c) && dir_mtime(m->path, "new", &n);
	if (!scan_dir(m->path, "cur", false, &l) || !scan_dir(m->path, "new", true, &l)) {
		snprintf(err, errlen, "%s: cannot read the folder: %s", m->path, strerror(errno));
		goto out;
	}
	size_t count = 0;
	struct mbox_msg *msgs = build(m, &u, &l, &dirty, &count);
	if (!msgs) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	mbox_set_msgs(m, msgs, count);
	if (opts & MBOX_SYNC_RECENT) {
		for (size_t i = 0; i < m->count; i++)
			if (m->msgs[i].uid >= u.recent)
				m->msgs[i].recent = true;
		if (u.recent != u.next) {
			u.recent = u.next;
			dirty = true;
		}
	}
	if ((dirty || !u.exists) && !uidlist_write(m->path, &u, err, errlen))
		goto out;
	m->uidvalidity = u.validity;
	m->uidnext = u.next;
	m->recent_uid = u.recent;
	m->mt_cur = c;
	m->mt_new = n;
	m->scanned = have_times;
	m->scanned_at = now;
	struct mbox_stamp stamp; /* the UID list as written, while no one else may change it */
	if (have_times && mbox_stamp_take(m->path, &stamp)) {
		stamp.cur = c; /* what the scan saw: a change since will not match */
		stamp.new_dir = n;
		mbox_cache_store(m, &stamp, now);
	}
	if (changed)
		*changed = true;
	ok = true;
out:
	uidlist_free(&u);
out_scan:
	scan_free(&l);
	mbox_unlock(m);
	return ok;
}

struct mbox_msg *mbox_find(const struct mbox *m, uint32_t uid)
{
	struct mbox_msg key = {.uid = uid};

	return m->count ? bsearch(&key, m->msgs, m->count, sizeof(*m->msgs), cmp_msg_uid) : NULL;
}

bool mbox_msg_path(const struct mbox *m, const struct mbox_msg *msg, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s/%s", m->path, msg->in_new ? "new" : "cur", msg->file);
	return n > 0 && (size_t)n < cap;
}

bool mbox_refind(struct mbox *m, struct mbox_msg *msg)
{
	char *file;
	bool in_new;

	if (!scan_find(m->path, msg->file, msg->namelen, &file, &in_new))
		return false;
	free(msg->file);
	msg->file = file;
	msg->in_new = in_new;
	msg->flags = (uint8_t)mbox_flags_from_info(file + msg->namelen);
	return true;
}

int mbox_msg_open(struct mbox *m, struct mbox_msg *msg)
{
	char p[PATH_MAX];

	for (int tries = 0; tries < 2; tries++) {
		if (!mbox_msg_path(m, msg, p, sizeof(p))) {
			errno = ENAMETOOLONG;
			return -1;
		}
		int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0 || errno != ENOENT || tries)
			return fd;
		if (!mbox_refind(m, msg)) {
			errno = ENOENT;
			return -1;
		}
	}
	return -1;
}

/* The info part with our flags replaced, keeping letters we do not manage (keywords, P). */
static void new_info(const char *old_info, unsigned flags, char *out, size_t cap)
{
	char ours[16], merged[64];
	size_t o = 0;

	mbox_flags_to_info(flags, ours, sizeof(ours));
	const char *keep = old_info && strncmp(old_info, ":2,", 3) == 0 ? old_info + 3 : "";
	for (char ch = 0x21; ch < 0x7f && o + 1 < sizeof(merged); ch++) {
		bool mine = strchr("DFRST", ch) != NULL;
		if ((mine && strchr(ours + 3, ch)) || (!mine && strchr(keep, ch)))
			merged[o++] = ch;
	}
	merged[o] = '\0';
	snprintf(out, cap, ":2,%s", merged);
}

bool mbox_set_flags(struct mbox *m, struct mbox_msg *msg, unsigned set, unsigned clear)
{
	char from[PATH_MAX], to[PATH_MAX], info[80];

	for (int tries = 0; tries < 2; tries++) {
		unsigned now = mbox_flags_from_info(msg->file + msg->namelen);
		unsigned want = (now | set) & ~clear & MBOX_FLAGS_ALL;
		if (want == now && !msg->in_new) {
			msg->flags = (uint8_t)now;
			return true;
		}
		new_info(msg->file + msg->namelen, want, info, sizeof(info));
		int n = snprintf(to, sizeof(to), "%s/cur/%.*s%s", m->path, (int)msg->namelen, msg->file,
		                 info);
		if (!mbox_msg_path(m, msg, from, sizeof(from)) || n < 0 || (size_t)n >= sizeof(to))
			return false;
		if (rename(from, to) == 0) {
			char *file = strdup(strrchr(to, '/') + 1);
			if (file) {
				free(msg->file);
				msg->file = file;
			}
			msg->in_new = false;
			msg->flags = (uint8_t)want;
			return file != NULL;
		}
		if (errno != ENOENT || tries || !mbox_refind(m, msg))
			return false;
	}
	return false;
}

bool mbox_expunge(struct mbox *m, struct mbox_msg *msg)
{
	char p[PATH_MAX];

	for (int tries = 0; tries < 2; tries++) {
		if (!(mbox_flags_from_info(msg->file + msg->namelen) & MBOX_DELETED))
			return false;
		if (!mbox_msg_path(m, msg, p, sizeof(p)))
			return false;
		if (unlink(p) == 0)
			return true;
		if (errno != ENOENT || tries || !mbox_refind(m, msg))
			return false;
	}
	return false;
}
