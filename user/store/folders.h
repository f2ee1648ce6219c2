/* The folders of one user's Maildir++: INBOX is the Maildir itself, folder "a.b" is its directory
 * ".a.b" ('.' separates hierarchy levels). Names are checked before they become paths: no '/', no
 * empty level (so no ".."), no control characters. Subscriptions are kept one name a line in the
 * Maildir's "subscriptions" file. */
#ifndef ORIGINMAIL_FOLDERS_H
#define ORIGINMAIL_FOLDERS_H

#include <stdbool.h>
#include <stddef.h>

#define FOLDER_SEP     '.'
#define FOLDER_MAX_LEN 200

struct folder_list {
	char **names; /* sorted (INBOX first) */
	size_t n, cap;
};

/* A valid name for a folder other than INBOX ("inbox" in any case is INBOX, always valid). */
bool folder_name_valid(const char *name);
bool folder_is_inbox(const char *name);
/* The Maildir of folder name under the user's Maildir root; false if the name is not valid. */
bool folder_path(const char *root, const char *name, char *out, size_t cap);
bool folder_exists(const char *root, const char *name);

/* Every folder that exists, INBOX included. */
bool folder_list_all(const char *root, struct folder_list *out);
void folder_list_free(struct folder_list *l);
bool folder_list_add(struct folder_list *l, const char *name);
bool folder_list_has(const struct folder_list *l, const char *name);

/* 0 on success; otherwise an IMAP response text in err and a code: 1 = NO [ALREADYEXISTS],
 * 2 = NO [NONEXISTENT], 3 = NO (bad name, INBOX, server error). */
int folder_create(const char *root, const char *name, char *err, size_t errlen);
int folder_delete(const char *root, const char *name, char *err, size_t errlen);
int folder_rename(const char *root, const char *from, const char *to, char *err, size_t errlen);

bool folder_subscriptions(const char *root, struct folder_list *out);
bool folder_subscribe(const char *root, const char *name, bool on, char *err, size_t errlen);

/* The RFC 6154 attribute of a folder name ("\\Sent", ...) or NULL. */
const char *folder_special_use(const char *name);
/* At first login (no subscriptions file yet): create Sent, Drafts, Trash, Junk and subscribe them
 * and INBOX. */
bool folder_init_defaults(const char *root, char *err, size_t errlen);

#endif
