/* New messages in a folder: APPEND (written to tmp/, fsynced, renamed into cur/) and COPY (hard links
 * when the folders share a file system), each given the next UID under the folder lock. Names made
 * here carry ",S=<size>" so that readers know the size without opening the file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/mailbox_internal.h"
#include "store/maildir.h"

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void fsync_dir(const char *path, const char *sub)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", path, sub);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Copy src to dst (a new file), keeping the mtime. */
static bool copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
	char buf[65536];
	struct stat st;
	ssize_t n;
	bool ok = false;

	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		snprintf(err, errlen, "open %s: %s", src, strerror(errno));
		return false;
	}
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0) {
		snprintf(err, errlen, "open %s: %s", dst, strerror(errno));
		close(in);
		return false;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (!write_all(out, buf, (size_t)n))
			break;
	if (n == 0 && fstat(in, &st) == 0) {
		struct timespec ts[2] = {st.st_atim, st.st_mtim};
		ok = futimens(out, ts) == 0 && fsync(out) == 0;
	}
	if (close(out) != 0)
		ok = false;
	close(in);
	if (!ok) {
		snprintf(err, errlen, "copy %s: %s", src, strerror(errno));
		unlink(dst);
	}
	return ok;
}

bool mbox_place_file(const char *src, const char *dst, char *err, size_t errlen)
{
	if (link(src, dst) == 0)
		return true;
	if (errno == EXDEV || errno == EPERM || errno == EMLINK)
		return copy_file(src, dst, err, errlen);
	snprintf(err, errlen, "link %s: %s", src, strerror(errno));
	return false;
}

/* Give base the next UID, writing the list; the caller holds the lock. */
static bool assign(struct mbox *m, struct uidlist *u, const char *base, uint32_t *uid, char *err,
                   size_t errlen)
{
	*uid = uidlist_assign(u, base, strlen(base));
	if (!*uid) {
		snprintf(err, errlen, "%s: no UID left", m->path);
		return false;
	}
	return true;
}

bool mbox_append(struct mbox *m, const char *data, size_t len, unsigned flags, time_t internaldate,
                 uint32_t *uid, uint32_t *uidvalidity, char *err, size_t errlen)
{
	char uniq[300], base[340], info[16], tmp[PATH_MAX], dst[PATH_MAX];
	struct uidlist u;

	if (!maildir_unique_name(uniq, sizeof(uniq))) {
		snprintf(err, errlen, "cannot make a unique name");
		return false;
	}
	snprintf(base, sizeof(base), "%s,S=%zu,W=%zu", uniq, len, len); /* CRLF already: both sizes */
	mbox_flags_to_info(flags, info, sizeof(info));
	int a = snprintf(tmp, sizeof(tmp), "%s/tmp/%s", m->path, base);
	int b = snprintf(dst, sizeof(dst), "%s/cur/%s%s", m->path, base, info);
	if (a < 0 || (size_t)a >= sizeof(tmp) || b < 0 || (size_t)b >= sizeof(dst)) {
		snprintf(err, errlen, "%s: path too long", m->path);
		return false;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "open %s: %s", tmp, strerror(errno));
		return false;
	}
	struct timespec ts[2] = {{.tv_nsec = UTIME_NOW}, {.tv_sec = internaldate, .tv_nsec = 0}};
	if (!internaldate)
		ts[1].tv_nsec = UTIME_NOW;
	bool ok = write_all(fd, data, len) && futimens(fd, ts) == 0 && fsync(fd) == 0;
	int e = ok ? 0 : errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		e = errno;
	}
	if (!ok) {
		snprintf(err, errlen, "write %s: %s", tmp, strerror(e));
		unlink(tmp);
		errno = e;
		return false;
	}
	if (!mbox_lock(m, err, errlen)) {
		e = errno;
		unlink(tmp);
		errno = e;
		return false;
	}
	ok = false;
	if (!uidlist_read(m->path, &u, err, errlen))
		goto out;
	if (rename(tmp, dst) != 0) {
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		goto out_list;
	}
	if (!assign(m, &u, base, uid, err, errlen) || !uidlist_write(m->path, &u, err, errlen)) {
		unlink(dst);
		goto out_list;
	}
	fsync_dir(m->path, "cur");
	*uidvalidity = u.validity;
	ok = true;
out_list:
	e = errno;
	uidlist_free(&u);
out:
	if (!e)
		e = errno;
	unlink(tmp);
	mbox_unlock(m);
	errno = e; /* the cause, for the caller: a full disk is answered NO [OVERQUOTA] */
	return ok;
}

/* One message into dst/cur under a new name; *uid its UID (0: the source is gone). */
static bool copy_one(struct mbox *src, struct mbox_msg *msg, struct mbox *dst, struct uidlist *u,
                     uint32_t *uid, char *err, size_t errlen)
{
	char uniq[300], base[400], from[PATH_MAX], to[PATH_MAX];

	*uid = 0;
	if (!maildir_unique_name(uniq, sizeof(uniq))) {
		snprintf(err, errlen, "cannot make a unique name");
		return false;
	}
	/* Keep the size hint of the source name (",S=..."). */
	const char *hint = memchr(msg->file, ',', msg->namelen);
	int hl = hint ? (int)(msg->namelen - (size_t)(hint - msg->file)) : 0;
	snprintf(base, sizeof(base), "%s%.*s", uniq, hl, hint ? hint : "");
	for (int tries = 0; tries < 2; tries++) {
		const char *info = msg->in_new ? ":2," : msg->file + msg->namelen;
		int n = snprintf(to, sizeof(to), "%s/cur/%s%s", dst->path, base, info);
		if (n < 0 || (size_t)n >= sizeof(to) || !mbox_msg_path(src, msg, from, sizeof(from))) {
			snprintf(err, errlen, "path too long");
			return false;
		}
		if (mbox_place_file(from, to, err, errlen))
			return assign(dst, u, base, uid, err, errlen);
		if (errno != ENOENT)
			return false;
		if (tries || !mbox_refind(src, msg))
			return true; /* expunged meanwhile: nothing to copy */
	}
	return true;
}

bool mbox_copy(struct mbox *src, struct mbox_msg *const *msgs, size_t n, struct mbox *dst, uint32_t *uids,
               uint32_t *uidvalidity, char *err, size_t errlen)
{
	struct uidlist u;
	bool ok = true;

	if (!mbox_lock(dst, err, errlen))
		return false;
	if (!uidlist_read(dst->path, &u, err, errlen)) {
		mbox_unlock(dst);
		return false;
	}
	for (size_t i = 0; i < n && ok; i++)
		ok = copy_one(src, msgs[i], dst, &u, &uids[i], err, errlen);
	int e = ok ? 0 : errno;
	if (!ok) {
		/* Take back what was placed, so that a failed COPY adds nothing. */
		for (size_t i = 0; i < n; i++) {
			if (!uids[i])
				continue;
			for (size_t k = 0; k < u.n; k++) {
				char *f;
				bool in_new;
				if (u.e[k].uid != uids[i] ||
				    !scan_find(dst->path, u.e[k].name, strlen(u.e[k].name), &f, &in_new))
					continue;
				char p[PATH_MAX];
				snprintf(p, sizeof(p), "%s/%s/%s", dst->path, in_new ? "new" : "cur", f);
				unlink(p);
				free(f);
			}
			uids[i] = 0;
		}
	} else if (n) {
		ok = uidlist_write(dst->path, &u, err, errlen);
		e = ok ? 0 : errno;
		fsync_dir(dst->path, "cur");
	}
	*uidvalidity = u.validity;
	uidlist_free(&u);
	mbox_unlock(dst);
	errno = e; /* on failure, the cause (a full disk: NO [OVERQUOTA]) */
	return ok;
}
