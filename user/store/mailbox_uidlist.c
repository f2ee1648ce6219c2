/* The UID list of a folder: "originmail-uidlist", read and written under the folder lock.
 *
 *   3 V<uidvalidity> N<next uid> R<first uid not yet shown as \Recent>
 *   <uid> :<base name>
 *   ...
 *
 * (the layout of Dovecot's dovecot-uidlist version 3, plus the R field). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/mailbox_internal.h"

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct uidlist_entry *)a)->name, ((const struct uidlist_entry *)b)->name);
}

static int cmp_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct uidlist_entry *)a)->uid, y = ((const struct uidlist_entry *)b)->uid;
	return x < y ? -1 : x > y;
}

void uidlist_free(struct uidlist *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->e[i].name);
	free(u->e);
	memset(u, 0, sizeof(*u));
}

static bool add(struct uidlist *u, uint32_t uid, const char *name, size_t len)
{
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 64;
		struct uidlist_entry *e = realloc(u->e, cap * sizeof(*e));
		if (!e)
			return false;
		u->e = e;
		u->cap = cap;
	}
	char *n = strndup(name, len);
	if (!n)
		return false;
	u->e[u->n++] = (struct uidlist_entry){.uid = uid, .name = n};
	return true;
}

static uint32_t field(const char *line, char key)
{
	for (const char *p = strchr(line, ' '); p; p = strchr(p + 1, ' ')) {
		if (p[1] == key) {
			unsigned long v = strtoul(p + 2, NULL, 10);
			return v > UINT32_MAX ? 0 : (uint32_t)v;
		}
	}
	return 0;
}

static void fresh(struct uidlist *u)
{
	u->validity = (uint32_t)time(NULL);
	u->next = 1;
	u->recent = 1;
}

bool uidlist_read(const char *dir, struct uidlist *u, char *err, size_t errlen)
{
	char path[PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	memset(u, 0, sizeof(*u));
	snprintf(path, sizeof(path), "%s/" UIDLIST_NAME, dir);
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "open %s: %s", path, strerror(errno));
			return false;
		}
		fresh(u);
		return true;
	}
	u->exists = true;
	bool ok = true, header = true;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (header) {
			header = false;
			u->validity = field(line, 'V');
			u->next = field(line, 'N');
			u->recent = field(line, 'R');
			if (line[0] != '3' || !u->validity || !u->next) {
				fresh(u); /* unreadable: start over with a new UIDVALIDITY */
				u->exists = false;
				break;
			}
			continue;
		}
		char *end, *colon = strstr(line, " :");
		unsigned long uid = strtoul(line, &end, 10);
		if (!colon || end == line || uid == 0 || uid >= u->next || !colon[2])
			continue; /* a damaged line: that file gets a new UID */
		if (!add(u, (uint32_t)uid, colon + 2, strlen(colon + 2))) {
			snprintf(err, errlen, "out of memory");
			ok = false;
			break;
		}
	}
	free(line);
	fclose(f);
	if (!u->recent)
		u->recent = 1;
	if (u->n)
		qsort(u->e, u->n, sizeof(*u->e), cmp_name);
	/* The same name twice (a damaged file): keep the lower UID. */
	size_t o = 0;
	for (size_t i = 0; i < u->n; i++) {
		if (o && strcmp(u->e[o - 1].name, u->e[i].name) == 0) {
			if (u->e[i].uid < u->e[o - 1].uid)
				u->e[o - 1].uid = u->e[i].uid;
			free(u->e[i].name);
			continue;
		}
		u->e[o++] = u->e[i];
	}
	u->n = o;
	if (!ok)
		uidlist_free(u);
	return ok;
}

bool uidlist_write(const char *dir, struct uidlist *u, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX];

	snprintf(path, sizeof(path), "%s/" UIDLIST_NAME, dir);
	snprintf(tmp, sizeof(tmp), "%s/" UIDLIST_NAME ".tmp", dir);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "open %s: %s", tmp, strerror(errno));
		return false;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		snprintf(err, errlen, "fdopen: %s", strerror(errno));
		return false;
	}
	if (u->n)
		qsort(u->e, u->n, sizeof(*u->e), cmp_uid);
	fprintf(f, "3 V%u N%u R%u\n", u->validity, u->next, u->recent);
	for (size_t i = 0; i < u->n; i++)
		fprintf(f, "%u :%s\n", u->e[i].uid, u->e[i].name);
	if (u->n)
		qsort(u->e, u->n, sizeof(*u->e), cmp_name);
	bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0)
		ok = false;
	if (!ok || rename(tmp, path) != 0) {
		snprintf(err, errlen, "write %s: %s", path, strerror(errno));
		unlink(tmp);
		return false;
	}
	u->exists = true;
	return true;
}

static int cmp_key(const void *key, const void *elem)
{
	const struct uidlist_entry *k = key, *e = elem;
	size_t len = k->uid; /* the key's length travels in its uid field */
	int c = strncmp(k->name, e->name, len);
	return c ? c : e->name[len] ? -1 : 0;
}

uint32_t uidlist_lookup(const struct uidlist *u, const char *name, size_t len)
{
	struct uidlist_entry key = {.uid = (uint32_t)len, .name = (char *)name};
	const struct uidlist_entry *e = u->n ? bsearch(&key, u->e, u->n, sizeof(*u->e), cmp_key) : NULL;

	return e ? e->uid : 0;
}

uint32_t uidlist_assign(struct uidlist *u, const char *name, size_t len)
{
	if (u->next == UINT32_MAX || !add(u, u->next, name, len))
		return 0;
	/* Keep the list sorted: move the new entry down to its place. */
	struct uidlist_entry e = u->e[u->n - 1];
	size_t i = u->n - 1;
	while (i > 0 && strcmp(u->e[i - 1].name, e.name) > 0) {
		u->e[i] = u->e[i - 1];
		i--;
	}
	u->e[i] = e;
	return u->next++;
}
