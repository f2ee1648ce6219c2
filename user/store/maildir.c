/* Maildir delivery: one tmp/ file, hard-linked into every recipient's new/. */
#include "store/maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define TX_BUF (64 * 1024)

struct maildir_tx {
	int fd;
	int error;     /* errno of the first failed write; 0 if none */
	size_t size;   /* bytes accepted by maildir_tx_write */
	size_t buflen; /* bytes waiting in buf */
	char tmp[PATH_MAX];
	char name[256]; /* the unique base name, the same in tmp/ and every new/ */
	char buf[TX_BUF];
};

static unsigned long counter; /* Q<counter>: per process, atomically incremented */

/* out = a b c; false if it does not fit. */
static bool join(char *out, size_t cap, const char *a, const char *b, const char *c)
{
	int n = snprintf(out, cap, "%s%s%s", a, b, c);
	return n >= 0 && (size_t)n < cap;
}

static bool fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0;
	int e = errno;
	close(fd);
	errno = e;
	return ok;
}

/* Make one directory if missing; it must end up a directory. A new one's entry is made durable by
 * fsyncing its parent, so that a message later linked under it survives a crash. */
static bool mkdir_one(char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0) {
		char *slash = strrchr(dir, '/');
		bool ok = true;
		if (slash && slash != dir) {
			*slash = '\0';
			ok = fsync_dir(dir);
			*slash = '/';
		} else {
			ok = fsync_dir(slash ? "/" : ".");
		}
		if (!ok)
			snprintf(err, errlen, "fsync parent of %s: %s", dir, strerror(errno));
		return ok;
	}
	int e = errno;
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return true;
	snprintf(err, errlen, "mkdir %s: %s", dir,
	         e == EEXIST ? "exists and is not a directory" : strerror(e));
	errno = e;
	return false;
}

static bool is_dir(const char *path, const char *sub)
{
	char p[PATH_MAX];
	struct stat st;

	return join(p, sizeof(p), path, "/", sub) && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

bool maildir_ensure(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	static const char *const subs[] = {"cur", "new", "tmp"};

	if (!path || !*path || !join(dir, sizeof(dir), path, "", "")) {
		snprintf(err, errlen, "maildir: bad or too long path");
		return false;
	}
	/* The common case, every delivery: all there. */
	if (is_dir(path, "tmp") && is_dir(path, "new") && is_dir(path, "cur"))
		return true;
	/* The parents, then the path itself. */
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		bool ok = mkdir_one(dir, err, errlen);
		*p = '/';
		if (!ok)
			return false;
	}
	if (!mkdir_one(dir, err, errlen))
		return false;
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (!join(dir, sizeof(dir), path, "/", subs[i])) {
			snprintf(err, errlen, "maildir: path too long");
			return false;
		}
		if (!mkdir_one(dir, err, errlen))
			return false;
	}
	return true;
}

/* A local part or domain that is safe as one path component. */
static bool safe_part(const char *p, size_t len)
{
	if (!len || p[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f || c == '/' || (c == '.' && i + 1 < len && p[i + 1] == '.'))
			return false;
	}
	return true;
}

bool maildir_path(const char *root, const char *user_at_domain, char *out, size_t cap)
{
	char domain[256];

	if (!root || !user_at_domain || !out || !cap)
		return false;
	out[0] = '\0';
	const char *at = strrchr(user_at_domain, '@');
	if (!at)
		return false;
	size_t llen = (size_t)(at - user_at_domain), dlen = strlen(at + 1);
	if (!safe_part(user_at_domain, llen) || !safe_part(at + 1, dlen) || dlen >= sizeof(domain))
		return false;
	for (size_t i = 0; i <= dlen; i++)
		domain[i] = at[1 + i] >= 'A' && at[1 + i] <= 'Z' ? (char)(at[1 + i] - 'A' + 'a') : at[1 + i];
	int n = snprintf(out, cap, "%s/%s/%.*s/Maildir", root, domain, (int)llen, user_at_domain);
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return false;
	}
	return true;
}

/* This host's name as it goes into unique names: '/' and ':' escaped. */
static void host_part(char *esc, size_t cap)
{
	char host[256];
	size_t o = 0;

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (const char *h = host; *h && o + 5 < cap; h++) {
		if (*h == '/' || *h == ':') {
			memcpy(esc + o, *h == '/' ? "\\057" : "\\072", 4);
			o += 4;
		} else {
			esc[o++] = *h;
		}
	}
	esc[o] = '\0';
}

/* "<sec>.M<usec>P<pid>Q<counter>R<random hex>.<hostname>", '/' and ':' in the hostname escaped. */
static bool unique_name(char *out, size_t cap)
{
	struct timeval tv;
	unsigned char rnd[8];
	char esc[1024];

	gettimeofday(&tv, NULL);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return false;
	host_part(esc, sizeof(esc));
	unsigned long q = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	int n = snprintf(out, cap, "%lld.M%ldP%ldQ%luR%02x%02x%02x%02x%02x%02x%02x%02x.%s",
	                 (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(), q, rnd[0], rnd[1], rnd[2],
	                 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], esc);
	return n > 0 && (size_t)n < cap;
}

bool maildir_unique_name(char *out, size_t cap)
{
	return unique_name(out, cap);
}

struct maildir_tx *maildir_tx_begin(const char *first, char *err, size_t errlen)
{
	if (!maildir_ensure(first, err, errlen))
		return NULL;
	struct maildir_tx *tx = malloc(sizeof(*tx));
	if (!tx) {
		snprintf(err, errlen, "maildir: out of memory");
		return NULL;
	}
	tx->error = 0;
	tx->size = tx->buflen = 0;
	for (int tries = 0; tries < 10; tries++) {
		if (!unique_name(tx->name, sizeof(tx->name)) ||
		    !join(tx->tmp, sizeof(tx->tmp), first, "/tmp/", tx->name)) {
			snprintf(err, errlen, "maildir: cannot make a file name in %s/tmp", first);
			free(tx);
			return NULL;
		}
		tx->fd = open(tx->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (tx->fd >= 0)
			return tx;
		if (errno != EEXIST)
			break;
	}
	int e = errno;
	snprintf(err, errlen, "open %s: %s", tx->tmp, strerror(e));
	free(tx);
	errno = e;
	return NULL;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return false;
		if (w == 0) {
			errno = EIO;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static bool flush(struct maildir_tx *tx)
{
	if (tx->error)
		return false;
	if (tx->buflen && !write_all(tx->fd, tx->buf, tx->buflen)) {
		tx->error = errno;
		return false;
	}
	tx->buflen = 0;
	return true;
}

bool maildir_tx_write(struct maildir_tx *tx, const void *data, size_t len)
{
	const char *p = data;

	if (!tx || tx->error)
		return false;
	if (tx->buflen + len > TX_BUF) {
		if (!flush(tx))
			return false;
		if (len >= TX_BUF) {
			if (!write_all(tx->fd, p, len)) {
				tx->error = errno;
				return false;
			}
			tx->size += len;
			return true;
		}
	}
	if (len)
		memcpy(tx->buf + tx->buflen, p, len);
	tx->buflen += len;
	tx->size += len;
	return true;
}

size_t maildir_tx_size(const struct maildir_tx *tx)
{
	return tx ? tx->size : 0;
}

int maildir_tx_error(const struct maildir_tx *tx)
{
	return tx ? tx->error : 0;
}

bool maildir_errno_full(int e)
{
	return e == ENOSPC || e == EDQUOT;
}

void maildir_tx_abort(struct maildir_tx *tx)
{
	if (!tx)
		return;
	if (tx->fd >= 0)
		close(tx->fd);
	unlink(tx->tmp);
	free(tx);
}

/* Link tx's file into maildir/new; *made says whether a new name appeared (false for a repeated
 * maildir, whose new/ already has this very file). */
static bool link_one(const struct maildir_tx *tx, const char *maildir, bool *made, char *err, size_t errlen)
{
	char dst[PATH_MAX];
	struct stat a, b;

	*made = false;
	if (!maildir_ensure(maildir, err, errlen))
		return false;
	if (!join(dst, sizeof(dst), maildir, "/new/", tx->name)) {
		snprintf(err, errlen, "maildir: path too long under %s", maildir);
		return false;
	}
	if (link(tx->tmp, dst) == 0) {
		*made = true;
		return true;
	}
	int e = errno;
	if (e == EEXIST && lstat(dst, &a) == 0 && stat(tx->tmp, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return true;
	snprintf(err, errlen, "link %s -> %s: %s%s", tx->tmp, dst, strerror(e),
	         e == EXDEV ? " (every Maildir must be on the first one's file system)" : "");
	errno = e;
	return false;
}

/* The tmp file complete and on disk, closed: ready to be linked. */
static bool tx_finish_file(struct maildir_tx *tx, char *err, size_t errlen)
{
	if (!flush(tx) || fsync(tx->fd) != 0) {
		errno = tx->error ? tx->error : errno;
		snprintf(err, errlen, "write %s: %s", tx->tmp, strerror(errno));
		return false;
	}
	int fd = tx->fd;
	tx->fd = -1;
	if (close(fd) != 0) {
		snprintf(err, errlen, "close %s: %s", tx->tmp, strerror(errno));
		return false;
	}
	return true;
}

bool maildir_tx_commit(struct maildir_tx *tx, const char *const *maildirs, size_t n, char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t *linked = NULL, nlinked = 0, i;
	bool ok = false;

	if (!tx) {
		snprintf(err, errlen, "maildir: no transaction");
		return false;
	}
	if (!n || !maildirs) {
		snprintf(err, errlen, "maildir: no recipients");
		goto out;
	}
	if (!tx_finish_file(tx, err, errlen))
		goto out;
	linked = calloc(n, sizeof(*linked));
	if (!linked) {
		snprintf(err, errlen, "maildir: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		bool made;
		if (!link_one(tx, maildirs[i], &made, err, errlen))
			goto out;
		if (made)
			linked[nlinked++] = i;
	}
	for (i = 0; i < nlinked; i++) {
		if (!join(path, sizeof(path), maildirs[linked[i]], "/new", "") || !fsync_dir(path)) {
			snprintf(err, errlen, "fsync %s/new: %s", maildirs[linked[i]], strerror(errno));
			goto out;
		}
	}
	ok = true;
out:;
	int e = errno; /* the cause, for the caller (a full disk is answered differently) */
	/* Take back every name already made, so that no new/ shows the message. */
	for (i = 0; !ok && i < nlinked; i++)
		if (join(path, sizeof(path), maildirs[linked[i]], "/new/", tx->name))
			unlink(path);
	free(linked);
	maildir_tx_abort(tx); /* closes if still open, removes the tmp name, frees */
	errno = e;
	return ok;
}

size_t maildir_tx_commit_each(struct maildir_tx *tx, const char *const *maildirs, size_t n, int *errs,
                              char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t done = 0;
	int e = 0;

	if (!tx_finish_file(tx, err, errlen))
		e = errno ? errno : EIO;
	for (size_t i = 0; i < n; i++) {
		bool made = false;
		errs[i] = e;
		if (e)
			continue;
		if (!link_one(tx, maildirs[i], &made, err, errlen)) {
			errs[i] = errno ? errno : EIO;
			continue;
		}
		if (made && (!join(path, sizeof(path), maildirs[i], "/new", "") || !fsync_dir(path))) {
			errs[i] = errno ? errno : EIO;
			snprintf(err, errlen, "fsync %s/new: %s", maildirs[i], strerror(errs[i]));
			if (join(path, sizeof(path), maildirs[i], "/new/", tx->name))
				unlink(path); /* not durable: not acknowledged, so not visible either */
			continue;
		}
		done++;
	}
	maildir_tx_abort(tx);
	return done;
}

/* Skip 1+ decimal digits; NULL if there are none. */
static const char *digits(const char *p, long long *v)
{
	const char *start = p;

	*v = 0;
	while (*p >= '0' && *p <= '9' && p - start < 18)
		*v = *v * 10 + (*p++ - '0');
	return p > start ? p : NULL;
}

bool maildir_name_orphaned(const char *name)
{
	char host[1024];
	long long sec, usec, pid, q;
	const char *p = digits(name, &sec);

	/* <sec>.M<usec>P<pid>Q<counter>R<16 hex>.<host>[,S=...][:2,...] */
	if (!p || *p++ != '.' || *p++ != 'M' || !(p = digits(p, &usec)) || *p++ != 'P' ||
	    !(p = digits(p, &pid)) || *p++ != 'Q' || !(p = digits(p, &q)) || *p++ != 'R')
		return false;
	for (int i = 0; i < 16; i++, p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	if (*p++ != '.')
		return false;
	host_part(host, sizeof(host));
	size_t hl = strlen(host);
	if (strncmp(p, host, hl) != 0 || (p[hl] != '\0' && p[hl] != ',' && p[hl] != ':'))
		return false;
	if (pid <= 0 || pid > INT32_MAX || pid == (long long)getpid())
		return false;
	/* ESRCH: no such process. EPERM means it runs (as another user): keep its file. */
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int maildir_clean_tmp(const char *path, unsigned max_age_s)
{
	char dir[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int count = 0;

	if (!path || !join(dir, sizeof(dir), path, "/tmp", ""))
		return -1;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -1;
	}
	time_t now = time(NULL);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode))
			continue;
		bool stale = now - st.st_mtime > (time_t)max_age_s || maildir_name_orphaned(de->d_name);
		if (stale && unlinkat(dfd, de->d_name, 0) == 0)
			count++;
	}
	closedir(d);
	return count;
}
