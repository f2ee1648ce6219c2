/* Queue entries on disk: made by the SMTP session (relay_spool_*), read, rewritten and removed by the
 * worker (relay_entry_*, relay_queue_*). Every change that matters is fsynced before it counts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "relay/relay.h"
#include "store/maildir.h"

#define ENVELOPE     "envelope"
#define ENVELOPE_TMP "envelope.tmp"
#define ENV_MAX      (64u << 20) /* 100000 recipients of 254 octets fit */

struct relay_spool {
	char dir[PATH_MAX];
	bool committed;
};

static bool path_join(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s/%s", a, b);
	return n >= 0 && (size_t)n < cap;
}

static bool fsync_path(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	(void)remove(p); /* keep going: remove what can be removed */
	return 0;
}

static void remove_tree(const char *dir)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

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

/* dir/ENVELOPE from env: written to ENVELOPE_TMP, fsynced, renamed, the directory fsynced. */
static bool write_envelope(const char *dir, const struct relay_env *env, char *err, size_t errlen)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	char *text = relay_env_format(env);

	if (!text) {
		snprintf(err, errlen, "queue: cannot format the envelope of %s", env->id);
		return false;
	}
	if (!path_join(tmp, sizeof(tmp), dir, ENVELOPE_TMP) || !path_join(dst, sizeof(dst), dir, ENVELOPE)) {
		free(text);
		snprintf(err, errlen, "queue: path too long under %s", dir);
		return false;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	bool ok = fd >= 0 && write_all(fd, text, strlen(text)) && fsync(fd) == 0;
	int e = errno;
	if (fd >= 0 && close(fd) != 0 && ok) {
		ok = false;
		e = errno;
	}
	free(text);
	if (ok && rename(tmp, dst) != 0) {
		ok = false;
		e = errno;
	}
	if (ok && !fsync_path(dir)) {
		ok = false;
		e = errno;
	}
	if (!ok) {
		unlink(tmp);
		snprintf(err, errlen, "queue: writing %s: %s", dst, strerror(e));
	}
	return ok;
}

struct relay_spool *relay_spool_begin(const char *queue_dir, const struct relay_env *e, char *err,
                                      size_t errlen)
{
	struct relay_spool *sp = calloc(1, sizeof(*sp));

	if (!sp) {
		snprintf(err, errlen, "queue: out of memory");
		return NULL;
	}
	if (!queue_dir || !*queue_dir || !relay_valid_id(e->id) ||
	    !path_join(sp->dir, sizeof(sp->dir), queue_dir, e->id)) {
		snprintf(err, errlen, "queue: no queue_dir, a bad id or a path too long");
		free(sp);
		return NULL;
	}
	if (mkdir(queue_dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "queue: mkdir %s: %s", queue_dir, strerror(errno));
		free(sp);
		return NULL;
	}
	if (mkdir(sp->dir, 0700) != 0) {
		snprintf(err, errlen, "queue: mkdir %s: %s", sp->dir, strerror(errno));
		free(sp);
		return NULL;
	}
	if (!fsync_path(queue_dir)) {
		snprintf(err, errlen, "queue: fsync %s: %s", queue_dir, strerror(errno));
		goto fail;
	}
	if (!write_envelope(sp->dir, e, err, errlen) || !maildir_ensure(sp->dir, err, errlen))
		goto fail;
	return sp;
fail:
	remove_tree(sp->dir);
	free(sp);
	return NULL;
}

const char *relay_spool_dir(const struct relay_spool *sp)
{
	return sp->dir;
}

void relay_spool_commit(struct relay_spool *sp)
{
	sp->committed = true;
}

void relay_spool_end(struct relay_spool *sp)
{
	if (!sp)
		return;
	if (!sp->committed)
		remove_tree(sp->dir);
	free(sp);
}

/* The first message file in dir/new into msg (if msg), or false if there is none. */
static bool find_message(const char *dir, char *msg, size_t cap)
{
	char nd[PATH_MAX];
	struct dirent *de;
	bool found = false;

	if (!path_join(nd, sizeof(nd), dir, "new"))
		return false;
	DIR *d = opendir(nd);
	if (!d)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		found = !msg || path_join(msg, cap, nd, de->d_name);
	}
	closedir(d);
	return found;
}

char **relay_queue_list(const char *queue_dir, size_t *n)
{
	char **ids = NULL, dir[PATH_MAX];
	size_t cap = 0;
	struct dirent *de;
	DIR *d = opendir(queue_dir);

	*n = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (!relay_valid_id(de->d_name) || !path_join(dir, sizeof(dir), queue_dir, de->d_name) ||
		    !find_message(dir, NULL, 0))
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **v = realloc(ids, nc * sizeof(*v));
			if (!v)
				break;
			ids = v;
			cap = nc;
		}
		if (!(ids[*n] = strdup(de->d_name)))
			break;
		(*n)++;
	}
	closedir(d);
	return ids;
}

void relay_queue_list_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

static bool read_envelope(int dirfd, char **text, size_t *len)
{
	struct stat st;
	int fd = openat(dirfd, ENVELOPE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	bool ok = false;

	*text = NULL;
	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= ENV_MAX &&
	    (*text = malloc((size_t)st.st_size + 1)) != NULL) {
		size_t got = 0;
		ssize_t r = 1;
		while (got < (size_t)st.st_size && (r = read(fd, *text + got, (size_t)st.st_size - got)) > 0)
			got += (size_t)r;
		ok = r >= 0 && got == (size_t)st.st_size;
		(*text)[got] = '\0';
		*len = got;
	}
	close(fd);
	if (!ok) {
		free(*text);
		*text = NULL;
	}
	return ok;
}

enum relay_open relay_entry_open(const char *queue_dir, const char *id, struct relay_entry *en, char *err,
                                 size_t errlen)
{
	char *text;
	size_t len = 0;

	memset(en, 0, sizeof(*en));
	en->lockfd = -1;
	if (!relay_valid_id(id) || !path_join(en->dir, sizeof(en->dir), queue_dir, id)) {
		snprintf(err, errlen, "bad queue entry name");
		return RELAY_OPEN_ERROR;
	}
	en->lockfd = open(en->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (en->lockfd < 0)
		return RELAY_OPEN_INCOMPLETE; /* removed since the listing */
	if (flock(en->lockfd, LOCK_EX | LOCK_NB) != 0) {
		relay_entry_close(en);
		return RELAY_OPEN_BUSY;
	}
	if (!find_message(en->dir, en->msg, sizeof(en->msg))) {
		relay_entry_close(en);
		return RELAY_OPEN_INCOMPLETE;
	}
	if (!read_envelope(en->lockfd, &text, &len)) {
		snprintf(err, errlen, "cannot read %s/" ENVELOPE ": %s", en->dir, strerror(errno));
		relay_entry_close(en);
		return RELAY_OPEN_ERROR;
	}
	bool ok = relay_env_parse(text, len, &en->env, err, errlen);
	free(text);
	if (ok && strcmp(en->env.id, id) != 0) {
		snprintf(err, errlen, "the envelope names another id (%s)", en->env.id);
		ok = false;
	}
	if (!ok) {
		relay_entry_close(en);
		return RELAY_OPEN_ERROR;
	}
	return RELAY_OPEN_OK;
}

bool relay_entry_save(struct relay_entry *en, char *err, size_t errlen)
{
	return write_envelope(en->dir, &en->env, err, errlen);
}

bool relay_entry_remove(struct relay_entry *en)
{
	char nd[PATH_MAX];

	/* No longer queued once the message has left new/: a crash during the rest leaves an incomplete
	 * entry, which relay_queue_clean removes later, never a message sent twice. */
	if (unlink(en->msg) != 0 && errno != ENOENT)
		return false;
	if (path_join(nd, sizeof(nd), en->dir, "new"))
		fsync_path(nd);
	remove_tree(en->dir);
	return true;
}

void relay_entry_close(struct relay_entry *en)
{
	if (en->lockfd >= 0)
		close(en->lockfd); /* releases the flock */
	en->lockfd = -1;
	relay_env_free(&en->env);
}

int relay_queue_clean(const char *queue_dir, unsigned max_age_s)
{
	char dir[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int count = 0;
	DIR *d = opendir(queue_dir);

	if (!d)
		return -1;
	time_t now = time(NULL);
	while ((de = readdir(d)) != NULL) {
		if (!relay_valid_id(de->d_name) || !path_join(dir, sizeof(dir), queue_dir, de->d_name) ||
		    lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || now - st.st_mtime <= (time_t)max_age_s)
			continue;
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && !find_message(dir, NULL, 0)) {
			remove_tree(dir);
			count++;
		}
		close(fd);
	}
	closedir(d);
	return count;
}

bool relay_entry_set_aside(const char *queue_dir, const char *id)
{
	char from[PATH_MAX], to[PATH_MAX + 16];

	if (!relay_valid_id(id) || !path_join(from, sizeof(from), queue_dir, id))
		return false;
	snprintf(to, sizeof(to), "%s.broken", from);
	return rename(from, to) == 0;
}
