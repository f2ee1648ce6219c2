/* Shared by the files of the mailbox layer (user/store/mailbox*.c); not part of the API. */
#ifndef ORIGINMAIL_MAILBOX_INTERNAL_H
#define ORIGINMAIL_MAILBOX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "store/mailbox.h"

#define UIDLIST_NAME "originmail-uidlist"
#define UIDLIST_LOCK "originmail-uidlist.lock"

struct uidlist_entry {
	uint32_t uid;
	char *name; /* the base name */
};

/* The UID list as read from the folder, entries sorted by name for lookups. */
struct uidlist {
	uint32_t validity, next, recent; /* header: V, N, R */
	struct uidlist_entry *e;
	size_t n, cap;
	bool exists; /* the file was there */
};

/* mailbox_uidlist.c */
/* Read dir's list; a missing file gives a fresh one (UIDVALIDITY from the clock). */
bool uidlist_read(const char *dir, struct uidlist *u, char *err, size_t errlen);
/* Write it (tmp file, fsync, rename), entries in UID order. */
bool uidlist_write(const char *dir, struct uidlist *u, char *err, size_t errlen);
void uidlist_free(struct uidlist *u);
/* 0 when the name has no UID. */
uint32_t uidlist_lookup(const struct uidlist *u, const char *name, size_t len);
/* Give the name the next UID (the list stays sorted); returns it, 0 on failure. */
uint32_t uidlist_assign(struct uidlist *u, const char *name, size_t len);

/* mailbox.c: what a scan of a folder depends on, read with three stats (mailbox_cache.c). */
struct mbox_stamp {
	struct timespec cur, new_dir, list_mtime; /* mtimes of cur/, new/ and the UID list */
	ino_t list_ino;                           /* the UID list is replaced by rename: a new inode */
	off_t list_size;
};
bool mbox_stamp_take(const char *path, struct mbox_stamp *st);
/* Replace m's messages with msgs (taken over), freeing the old ones. */
void mbox_set_msgs(struct mbox *m, struct mbox_msg *msgs, size_t count);

/* mailbox_cache.c: the last scan of recently opened folders (per process). */
/* Fill a folder not scanned yet from its cached scan when nothing has changed since, and opts need no
 * write (no \Recent to claim, no new/ file to move). False: scan it. */
bool mbox_cache_load(struct mbox *m, unsigned opts);
/* After a scan under the lock: remember it; stamp taken with the lock still held, the directory mtimes
 * before the scan, scanned_at the clock before it. */
void mbox_cache_store(const struct mbox *m, const struct mbox_stamp *stamp, time_t scanned_at);

/* mailbox_scan.c */
struct scan_entry {
	char *file;
	size_t namelen;
	bool in_new;
};

struct scan_list {
	struct scan_entry *e;
	size_t n, cap;
};

/* The length of a file name's base name (up to ":2," or the end). */
size_t mbox_base_len(const char *file);
/* Append the regular files of path/sub to l. */
bool scan_dir(const char *path, const char *sub, bool in_new, struct scan_list *l);
void scan_free(struct scan_list *l);
/* Find the file whose base name is name in cur/ or new/; *file is a fresh copy. */
bool scan_find(const char *path, const char *name, size_t len, char **file, bool *in_new);
/* Move every file of new/ into cur/ (":2," added). */
void scan_move_new(const char *path);

/* mailbox.c: the file was renamed elsewhere (flags): find its base name again, update msg. */
bool mbox_refind(struct mbox *m, struct mbox_msg *msg);

/* mailbox_append.c: the ",S=<size>,W=<vsize>" part of names made here, and link-or-copy. */
bool mbox_place_file(const char *src, const char *dst, char *err, size_t errlen);

#endif
