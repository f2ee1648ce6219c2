/* Maildir++ folders: names, listing, create, delete, rename, subscriptions. */
#include "store/folders.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/maildir.h"

bool folder_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

bool folder_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (folder_is_inbox(name))
		return true;
	if (!len || len > FOLDER_MAX_LEN || name[0] == FOLDER_SEP || name[len - 1] == FOLDER_SEP)
		return false;
	if (strncasecmp(name, "INBOX.", 6) == 0) /* INBOX has no children here */
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c > 0x7e || c == '/' || c == '\\' || c == '*' || c == '%')
			return false;
		if (c == FOLDER_SEP && name[i + 1] == FOLDER_SEP)
			return false;
	}
	return true;
}

bool folder_path(const char *root, const char *name, char *out, size_t cap)
{
	int n;

	if (!folder_name_valid(name))
		return false;
	if (folder_is_inbox(name))
		n = snprintf(out, cap, "%s", root);
	else
		n = snprintf(out, cap, "%s/.%s", root, name);
	return n > 0 && (size_t)n < cap;
}

static bool is_maildir(const char *path)
{
	char p[PATH_MAX];
	struct stat st;

	int n = snprintf(p, sizeof(p), "%s/cur", path);
	return n > 0 && (size_t)n < sizeof(p) && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

bool folder_exists(const char *root, const char *name)
{
	char p[PATH_MAX];

	return folder_path(root, name, p, sizeof(p)) && is_maildir(p);
}

bool folder_list_add(struct folder_list *l, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **p = realloc(l->names, cap * sizeof(*p));
		if (!p)
			return false;
		l->names = p;
		l->cap = cap;
	}
	char *s = strdup(name);
	if (!s)
		return false;
	l->names[l->n++] = s;
	return true;
}

bool folder_list_has(const struct folder_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0 || (folder_is_inbox(name) && folder_is_inbox(l->names[i])))
			return true;
	return false;
}

void folder_list_free(struct folder_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	memset(l, 0, sizeof(*l));
}

static int cmp_names(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	if (strcmp(x, "INBOX") == 0 || strcmp(y, "INBOX") == 0)
		return strcmp(y, "INBOX") == 0 ? (strcmp(x, "INBOX") != 0) : -1;
	return strcmp(x, y);
}

bool folder_list_all(const char *root, struct folder_list *out)
{
	char p[PATH_MAX];
	struct dirent *de;

	memset(out, 0, sizeof(*out));
	if (!folder_list_add(out, "INBOX")) {
		folder_list_free(out);
		return false;
	}
	DIR *d = opendir(root);
	if (!d) {
		if (errno == ENOENT)
			return true;
		folder_list_free(out);
		return false;
	}
	bool ok = true;
	while (ok && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (n[0] != '.' || n[1] == '.' || n[1] == '\0' || !folder_name_valid(n + 1) ||
		    folder_is_inbox(n + 1))
			continue;
		snprintf(p, sizeof(p), "%s/%s", root, n);
		if (is_maildir(p))
			ok = folder_list_add(out, n + 1);
	}
	closedir(d);
	if (!ok) {
		folder_list_free(out);
		return false;
	}
	qsort(out->names, out->n, sizeof(*out->names), cmp_names);
	return true;
}

int folder_create(const char *root, const char *name, char *err, size_t errlen)
{
	char p[PATH_MAX];

	if (folder_is_inbox(name)) {
		snprintf(err, errlen, "INBOX always exists");
		return 1;
	}
	if (!folder_path(root, name, p, sizeof(p))) {
		snprintf(err, errlen, "Invalid mailbox name");
		return 3;
	}
	if (is_maildir(p)) {
		snprintf(err, errlen, "Mailbox already exists");
		return 1;
	}
	if (!maildir_ensure(root, err, errlen) || !maildir_ensure(p, err, errlen))
		return 3;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

int folder_delete(const char *root, const char *name, char *err, size_t errlen)
{
	char p[PATH_MAX], gone[PATH_MAX], uniq[300];

	if (folder_is_inbox(name)) {
		snprintf(err, errlen, "INBOX cannot be deleted");
		return 3;
	}
	if (!folder_path(root, name, p, sizeof(p))) {
		snprintf(err, errlen, "Invalid mailbox name");
		return 3;
	}
	if (!is_maildir(p)) {
		snprintf(err, errlen, "Mailbox does not exist");
		return 2;
	}
	/* Out of sight first (no folder name starts with "."), then removed. */
	if (!maildir_unique_name(uniq, sizeof(uniq)) ||
	    snprintf(gone, sizeof(gone), "%s/..deleted.%s", root, uniq) >= (int)sizeof(gone)) {
		snprintf(err, errlen, "Internal error");
		return 3;
	}
	if (rename(p, gone) != 0) {
		snprintf(err, errlen, "Cannot delete: %s", strerror(errno));
		return 3;
	}
	nftw(gone, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Move INBOX's messages into a new folder (RFC 3501 6.3.5: INBOX stays, empty). */
static int rename_inbox(const char *root, const char *dst, char *err, size_t errlen)
{
	static const char *const subs[] = {"cur", "new"};
	char from[PATH_MAX], to[PATH_MAX];
	struct dirent *de;

	if (!maildir_ensure(dst, err, errlen))
		return 3;
	for (size_t i = 0; i < 2; i++) {
		snprintf(from, sizeof(from), "%s/%s", root, subs[i]);
		DIR *d = opendir(from);
		if (!d)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			int a = snprintf(from, sizeof(from), "%s/%s/%s", root, subs[i], de->d_name);
			int b = snprintf(to, sizeof(to), "%s/%s/%s", dst, subs[i], de->d_name);
			if (a > 0 && (size_t)a < sizeof(from) && b > 0 && (size_t)b < sizeof(to))
				(void)rename(from, to);
		}
		closedir(d);
	}
	return 0;
}

int folder_rename(const char *root, const char *from, const char *to, char *err, size_t errlen)
{
	char a[PATH_MAX], b[PATH_MAX];
	struct folder_list all;

	if (!folder_path(root, from, a, sizeof(a)) || !folder_path(root, to, b, sizeof(b)) ||
	    folder_is_inbox(to)) {
		snprintf(err, errlen, "Invalid mailbox name");
		return 3;
	}
	if (is_maildir(b)) {
		snprintf(err, errlen, "Mailbox already exists");
		return 1;
	}
	if (folder_is_inbox(from))
		return rename_inbox(root, b, err, errlen);
	if (!folder_list_all(root, &all)) {
		snprintf(err, errlen, "Cannot list mailboxes");
		return 3;
	}
	/* A folder that only exists as its children's parent ("a" of "a.b") may be renamed too. */
	size_t fl = strlen(from);
	bool children = false;
	for (size_t i = 0; i < all.n; i++)
		children |= strncmp(all.names[i], from, fl) == 0 && all.names[i][fl] == FOLDER_SEP;
	int rc = 0;
	if (!is_maildir(a) && !children) {
		snprintf(err, errlen, "Mailbox does not exist");
		rc = 2;
	} else if (is_maildir(a) && rename(a, b) != 0) {
		snprintf(err, errlen, "Cannot rename: %s", strerror(errno));
		rc = 3;
	}
	/* The children move with it: "from.x" becomes "to.x". */
	for (size_t i = 0; !rc && i < all.n; i++) {
		const char *n = all.names[i];
		if (strncmp(n, from, fl) != 0 || n[fl] != FOLDER_SEP)
			continue;
		snprintf(a, sizeof(a), "%s/.%s", root, n);
		int len = snprintf(b, sizeof(b), "%s/.%s%s", root, to, n + fl);
		if (len > 0 && (size_t)len < sizeof(b) && strlen(to) + strlen(n + fl) <= FOLDER_MAX_LEN)
			(void)rename(a, b);
	}
	folder_list_free(&all);
	return rc;
}
