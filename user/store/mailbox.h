/* One Maildir++ folder as IMAP sees it: messages with stable UIDs, flags kept in the file names.
 *
 * A folder is a Maildir (cur/ new/ tmp/). A message's file is "<name>" in new/ or "<name>:2,<flags>"
 * in cur/, where <name> is the unique base name given at delivery and never changes, and <flags> are
 * the letters D F R S T in ASCII order (Draft, Flagged, Replied=\Answered, Seen, Trashed=\Deleted).
 *
 * UIDs live in "originmail-uidlist" in the folder (format in docs/imap.md): its header holds the
 * UIDVALIDITY, the next UID and the first UID not yet shown as \Recent; each line maps a UID to a base
 * name. Every change to a folder's directories made here (UID assignment, new/ -> cur/, flag renames,
 * expunges, appends) happens under an exclusive flock on "originmail-uidlist.lock", so several
 * processes (daemon instances sharing the storage) agree on UIDs. SMTP delivery only adds names to
 * new/, which needs no lock: the next sync gives them UIDs. */
#ifndef ORIGINMAIL_MAILBOX_H
#define ORIGINMAIL_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MBOX_SEEN      0x01u
#define MBOX_ANSWERED  0x02u
#define MBOX_FLAGGED   0x04u
#define MBOX_DELETED   0x08u
#define MBOX_DRAFT     0x10u
#define MBOX_FLAGS_ALL 0x1fu

struct mbox_msg {
	uint32_t uid;
	uint8_t flags;  /* MBOX_* */
	bool recent;    /* claimed as \Recent by this mbox (see MBOX_SYNC_RECENT) */
	bool in_new;    /* the file is in new/ */
	char *file;     /* the file name in new/ or cur/: the base name, then ":2,..." in cur/ */
	size_t namelen; /* the base name is file[0..namelen) */
};

struct mbox {
	char *path; /* the folder's Maildir */
	uint32_t uidvalidity, uidnext;
	uint32_t recent_uid;   /* the first UID nobody has been shown as \Recent */
	struct mbox_msg *msgs; /* ascending UIDs */
	size_t count;
	int lock_fd;         /* >= 0 while locked */
	unsigned lock_depth; /* mbox_lock calls not yet undone */
	/* Change detection: directory mtimes at the last scan, and when it ran. */
	struct timespec mt_cur, mt_new;
	time_t scanned_at;
	bool scanned;
};

/* Sync options. */
#define MBOX_SYNC_MOVE_NEW 0x1u /* move new/ files into cur/ (a read-write SELECT) */
#define MBOX_SYNC_RECENT   0x2u /* claim the messages nobody has seen as \Recent (read-write SELECT) */
#define MBOX_SYNC_FORCE    0x4u /* rescan even if the directories look unchanged (and skip the cache) */

/* Folders opened recently keep their last scan in memory (per process), so that opening one again while
 * it is unchanged reads no directory: at most this many messages across all of them (0: none). */
#define MBOX_CACHE_DEFAULT 100000
void mbox_cache_set_limit(size_t messages);
void mbox_cache_clear(void);
/* For the metrics: messages held now, and how many folder opens were served from a kept scan or not. */
struct mbox_cache_stats {
	size_t held;
	unsigned long long hits, misses;
};
void mbox_cache_stats(struct mbox_cache_stats *out);

/* Open the folder at path (a Maildir; created if create). Nothing is scanned yet. NULL with err set
 * when it does not exist or cannot be read. */
struct mbox *mbox_open(const char *path, bool create, char *err, size_t errlen);
void mbox_close(struct mbox *m);

/* Bring msgs up to date with the directories: assign UIDs to names not yet listed, drop those whose
 * files are gone, read flags from the file names. Cheap (two stats) when nothing changed. *changed
 * (may be NULL) says whether msgs may differ from before. */
bool mbox_sync(struct mbox *m, unsigned opts, bool *changed, char *err, size_t errlen);

/* The message with this UID, or NULL. */
struct mbox_msg *mbox_find(const struct mbox *m, uint32_t uid);
/* "<path>/cur/<file>" or ".../new/<file>". */
bool mbox_msg_path(const struct mbox *m, const struct mbox_msg *msg, char *out, size_t cap);
/* Open the message's file read-only, finding it again if another process renamed it (flags) since the
 * last sync. -1 (errno ENOENT) when it was expunged. */
int mbox_msg_open(struct mbox *m, struct mbox_msg *msg);

/* The folder lock around a batch of changes; mbox_set_flags and mbox_expunge need it held. */
bool mbox_lock(struct mbox *m, char *err, size_t errlen);
void mbox_unlock(struct mbox *m);

/* Change the message's flags: set, then clear (MBOX_* masks), starting from the flags its file has now
 * (another process may have changed them). Renames the file (into cur/ if in new/). False when the
 * file is gone (expunged elsewhere). */
bool mbox_set_flags(struct mbox *m, struct mbox_msg *msg, unsigned set, unsigned clear);
/* Remove the message's file if it has \Deleted now; true if removed. */
bool mbox_expunge(struct mbox *m, struct mbox_msg *msg);

/* Add a message (data with CRLF line ends: its length goes into the name as ",S=n,W=n"): written to
 * tmp/, fsynced, moved to cur/ with flags, given internaldate (0: now) as mtime and the next UID. *uid
 * and *uidvalidity get its UID and the folder's UIDVALIDITY. Locks. On failure nothing is added and
 * errno says why (maildir_errno_full: the storage is full). */
bool mbox_append(struct mbox *m, const char *data, size_t len, unsigned flags, time_t internaldate,
                 uint32_t *uid, uint32_t *uidvalidity, char *err, size_t errlen);
/* Copy messages of src into dst (hard links when possible), keeping flags and dates; uids[i] gets
 * the new UID of msgs[i] (0 when msgs[i] was expunged meanwhile). Locks dst. On failure nothing is
 * added and errno says why. */
bool mbox_copy(struct mbox *src, struct mbox_msg *const *msgs, size_t n, struct mbox *dst, uint32_t *uids,
               uint32_t *uidvalidity, char *err, size_t errlen);

/* Flag letters of an info part (":2,FRS") and back. */
unsigned mbox_flags_from_info(const char *info);
void mbox_flags_to_info(unsigned flags, char *out, size_t cap); /* ":2,FS" */

#endif
