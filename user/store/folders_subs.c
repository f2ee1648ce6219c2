/* Subscriptions ("subscriptions" in the Maildir, one name a line), the special-use folders and the
 * folders a new user starts with. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/folders.h"
#include "store/maildir.h"

static const char *const specials[][2] = {
        {"Sent", "\\Sent"}, {"Drafts", "\\Drafts"}, {"Trash", "\\Trash"}, {"Junk", "\\Junk"}};

#define NSPECIALS (sizeof(specials) / sizeof(specials[0]))

const char *folder_special_use(const char *name)
{
	for (size_t i = 0; i < NSPECIALS; i++)
		if (strcmp(name, specials[i][0]) == 0)
			return specials[i][1];
	return NULL;
}

bool folder_subscriptions(const char *root, struct folder_list *out)
{
	char p[PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	memset(out, 0, sizeof(*out));
	snprintf(p, sizeof(p), "%s/subscriptions", root);
	FILE *f = fopen(p, "re");
	if (!f)
		return errno == ENOENT;
	bool ok = true;
	while (ok && (len = getline(&line, &cap, f)) > 0) {
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len && folder_name_valid(line) && !folder_list_has(out, line))
			ok = folder_list_add(out, folder_is_inbox(line) ? "INBOX" : line);
	}
	free(line);
	fclose(f);
	if (!ok)
		folder_list_free(out);
	return ok;
}

static bool write_list(const char *root, const struct folder_list *l, char *err, size_t errlen)
{
	char p[PATH_MAX], tmp[PATH_MAX];

	snprintf(p, sizeof(p), "%s/subscriptions", root);
	snprintf(tmp, sizeof(tmp), "%s/subscriptions.tmp", root);
	FILE *f = fopen(tmp, "we");
	if (!f) {
		snprintf(err, errlen, "Cannot write subscriptions: %s", strerror(errno));
		return false;
	}
	for (size_t i = 0; i < l->n; i++)
		fprintf(f, "%s\n", l->names[i]);
	bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0)
		ok = false;
	if (!ok || rename(tmp, p) != 0) {
		snprintf(err, errlen, "Cannot write subscriptions: %s", strerror(errno));
		unlink(tmp);
		return false;
	}
	return true;
}

bool folder_subscribe(const char *root, const char *name, bool on, char *err, size_t errlen)
{
	struct folder_list l;

	if (!folder_name_valid(name)) {
		snprintf(err, errlen, "Invalid mailbox name");
		return false;
	}
	if (!folder_subscriptions(root, &l)) {
		snprintf(err, errlen, "Cannot read subscriptions");
		return false;
	}
	bool ok = true;
	if (on && !folder_list_has(&l, name)) {
		ok = folder_list_add(&l, folder_is_inbox(name) ? "INBOX" : name);
	} else if (!on) {
		size_t o = 0;
		for (size_t i = 0; i < l.n; i++) {
			if (strcmp(l.names[i], name) == 0 ||
			    (folder_is_inbox(name) && folder_is_inbox(l.names[i])))
				free(l.names[i]);
			else
				l.names[o++] = l.names[i];
		}
		l.n = o;
	}
	if (ok)
		ok = write_list(root, &l, err, errlen);
	else
		snprintf(err, errlen, "Out of memory");
	folder_list_free(&l);
	return ok;
}

bool folder_init_defaults(const char *root, char *err, size_t errlen)
{
	char p[PATH_MAX];
	struct folder_list l = {0};

	snprintf(p, sizeof(p), "%s/subscriptions", root);
	if (access(p, F_OK) == 0)
		return true;
	if (!maildir_ensure(root, err, errlen))
		return false;
	bool ok = folder_list_add(&l, "INBOX");
	for (size_t i = 0; ok && i < NSPECIALS; i++) {
		char e[256];
		int rc = folder_create(root, specials[i][0], e, sizeof(e));
		if (rc == 3) {
			snprintf(err, errlen, "%s", e);
			ok = false;
			break;
		}
		ok = folder_list_add(&l, specials[i][0]);
	}
	if (ok)
		ok = write_list(root, &l, err, errlen);
	folder_list_free(&l);
	return ok;
}
