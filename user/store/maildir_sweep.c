/* Crash leftovers in every Maildir, removed when the daemon starts: messages that never left tmp/ (a
 * delivery or an APPEND cut by kill -9 or a power loss) and folders caught between the rename and the
 * removal of a DELETE. What a live process is still writing is kept (maildir_clean_tmp's rule). */
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/maildir.h"

#define DELETED_PREFIX "..deleted." /* folders.c: a folder out of sight, being removed */

static bool is_dot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

static bool is_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

/* A half-deleted folder: its name carries the deleting process's unique name. */
static bool stale_deleted(const char *dir, const char *name, unsigned max_age_s)
{
	char p[PATH_MAX];
	struct stat st;

	if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p) || lstat(p, &st) != 0)
		return false;
	return time(NULL) - st.st_mtime > (time_t)max_age_s ||
	       maildir_name_orphaned(name + strlen(DELETED_PREFIX));
}

/* One user's Maildir: INBOX's tmp/, each folder's (".name"), half-deleted folders. */
static int sweep_user(const char *md, unsigned max_age_s, unsigned *maildirs)
{
	DIR *d = opendir(md);
	struct dirent *e;
	char p[PATH_MAX];
	int n = 0, r = maildir_clean_tmp(md, max_age_s);

	if (r >= 0) {
		n += r;
		++*maildirs;
	}
	if (!d)
		return n;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.' || is_dot(e->d_name))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", md, e->d_name) >= (int)sizeof(p) || !is_dir(p))
			continue;
		if (!strncmp(e->d_name, DELETED_PREFIX, strlen(DELETED_PREFIX))) {
			if (stale_deleted(md, e->d_name, max_age_s) &&
			    nftw(p, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0)
				n++;
			continue;
		}
		r = maildir_clean_tmp(p, max_age_s);
		if (r >= 0) {
			n += r;
			++*maildirs;
		}
	}
	closedir(d);
	return n;
}

int maildir_sweep(const char *mail_root, unsigned max_age_s, unsigned *maildirs)
{
	DIR *root = opendir(mail_root);
	struct dirent *dom;
	int n = 0;

	*maildirs = 0;
	if (!root)
		return 0;
	while ((dom = readdir(root)) != NULL) {
		char dpath[PATH_MAX];
		if (dom->d_name[0] == '.' ||
		    snprintf(dpath, sizeof(dpath), "%s/%s", mail_root, dom->d_name) >= (int)sizeof(dpath) ||
		    !is_dir(dpath))
			continue;
		DIR *users = opendir(dpath);
		struct dirent *u;
		if (!users)
			continue;
		while ((u = readdir(users)) != NULL) {
			char md[PATH_MAX];
			if (u->d_name[0] == '.' ||
			    snprintf(md, sizeof(md), "%s/%s/Maildir", dpath, u->d_name) >= (int)sizeof(md) ||
			    !is_dir(md))
				continue;
			n += sweep_user(md, max_age_s, maildirs);
		}
		closedir(users);
	}
	closedir(root);
	return n;
}
