/* Reading a folder's directories: file names, base names, flags in the info part. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/mailbox_internal.h"

/* Maildir flag letters we manage, in the ASCII order the info part keeps them. */
static const struct {
	char letter;
	unsigned flag;
} letters[] = {
        {'D', MBOX_DRAFT}, {'F', MBOX_FLAGGED}, {'R', MBOX_ANSWERED}, {'S', MBOX_SEEN}, {'T', MBOX_DELETED},
};

#define NLETTERS (sizeof(letters) / sizeof(letters[0]))

size_t mbox_base_len(const char *file)
{
	const char *c = strstr(file, ":2,");
	return c ? (size_t)(c - file) : strlen(file);
}

unsigned mbox_flags_from_info(const char *info)
{
	unsigned f = 0;

	if (!info || strncmp(info, ":2,", 3) != 0)
		return 0;
	for (const char *p = info + 3; *p; p++)
		for (size_t i = 0; i < NLETTERS; i++)
			if (*p == letters[i].letter)
				f |= letters[i].flag;
	return f;
}

void mbox_flags_to_info(unsigned flags, char *out, size_t cap)
{
	size_t o = 0;

	if (cap < 4 + NLETTERS)
		return;
	memcpy(out, ":2,", 3);
	o = 3;
	for (size_t i = 0; i < NLETTERS; i++)
		if (flags & letters[i].flag)
			out[o++] = letters[i].letter;
	out[o] = '\0';
}

void scan_free(struct scan_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].file);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

bool scan_dir(const char *path, const char *sub, bool in_new, struct scan_list *l)
{
	char dir[PATH_MAX];
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/%s", path, sub);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 64;
			struct scan_entry *e = realloc(l->e, cap * sizeof(*e));
			if (!e)
				break;
			l->e = e;
			l->cap = cap;
		}
		char *f = strdup(de->d_name);
		if (!f)
			break;
		l->e[l->n++] = (struct scan_entry){.file = f, .namelen = mbox_base_len(f), .in_new = in_new};
	}
	bool ok = de == NULL;
	closedir(d);
	return ok;
}

static bool find_in(const char *path, const char *sub, const char *name, size_t len, char **file)
{
	char dir[PATH_MAX];
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/%s", path, sub);
	DIR *d = opendir(dir);
	if (!d)
		return false;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, name, len) == 0 &&
		    (de->d_name[len] == '\0' || de->d_name[len] == ':')) {
			*file = strdup(de->d_name);
			break;
		}
	}
	closedir(d);
	return de != NULL && *file;
}

bool scan_find(const char *path, const char *name, size_t len, char **file, bool *in_new)
{
	*file = NULL;
	if (find_in(path, "cur", name, len, file)) {
		*in_new = false;
		return true;
	}
	if (find_in(path, "new", name, len, file)) {
		*in_new = true;
		return true;
	}
	return false;
}

void scan_move_new(const char *path)
{
	char dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/new", path);
	DIR *d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		int a = snprintf(from, sizeof(from), "%s/new/%s", path, de->d_name);
		int b = snprintf(to, sizeof(to), "%s/cur/%s%s", path, de->d_name,
		                 strstr(de->d_name, ":2,") ? "" : ":2,");
		if (a > 0 && (size_t)a < sizeof(from) && b > 0 && (size_t)b < sizeof(to))
			(void)rename(from, to); /* a failure leaves it in new/, still listed */
	}
	closedir(d);
}
