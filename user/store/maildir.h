/* Maildir delivery: a message is written once to tmp/, fsynced, then hard-linked into each recipient's
 * new/ and the directories fsynced, so a crash never leaves a partial message visible and an
 * acknowledged message is on disk. Layout: <mail_root>/<domain>/<user>/Maildir/{tmp,new,cur}. */
#ifndef ORIGINMAIL_MAILDIR_H
#define ORIGINMAIL_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>

/* Create path/{cur,new,tmp} (and path itself and its parents) if missing, mode 0700. */
bool maildir_ensure(const char *path, char *err, size_t errlen);
/* <root>/<domain>/<local>/Maildir, domain lower-cased; false if a part is unsafe ("..", "/", empty). */
bool maildir_path(const char *root, const char *user_at_domain, char *out, size_t cap);

/* A fresh unique file name for a Maildir: "<sec>.M<usec>P<pid>Q<n>R<random>.<host>". */
bool maildir_unique_name(char *out, size_t cap);

struct maildir_tx;

/* Start a message in the tmp/ of the Maildir at first (created if missing). NULL on failure, with err
 * set and errno saying why (ENOSPC, EDQUOT: the storage is full, see maildir_errno_full). */
struct maildir_tx *maildir_tx_begin(const char *first, char *err, size_t errlen);
bool maildir_tx_write(struct maildir_tx *tx, const void *data, size_t len);
size_t maildir_tx_size(const struct maildir_tx *tx);
/* The errno of the first failed write (0: none), so that a full disk can be told from other errors. */
int maildir_tx_error(const struct maildir_tx *tx);
/* fsync, link into each maildirs[i]/new (created if missing), fsync those directories, remove the tmp
 * name. On failure nothing is visible in any new/, and errno says why. Frees tx either way. */
bool maildir_tx_commit(struct maildir_tx *tx, const char *const *maildirs, size_t n, char *err,
                       size_t errlen);
/* The same for recipients that succeed or fail on their own (LMTP): errs[i] gets 0 when maildirs[i]/new
 * has the message durably, else the errno of its failure (err says the last one). Returns how many got
 * it. Frees tx. */
size_t maildir_tx_commit_each(struct maildir_tx *tx, const char *const *maildirs, size_t n, int *errs,
                              char *err, size_t errlen);
/* Remove the tmp file; frees tx. */
void maildir_tx_abort(struct maildir_tx *tx);

/* Is e the storage being full (no space, or over a disk quota)? Then the sender should retry later:
 * 452 4.3.1 in SMTP, NO [OVERQUOTA] in IMAP. */
bool maildir_errno_full(int e);

/* Remove the tmp/ files of the Maildir at path that a crash left: those not modified for max_age_s, and
 * those made on this host (the name's host part) by a process that no longer runs (its P<pid>), so a
 * delivery still being written by a live process, ours or a sibling instance's, is never touched. Returns
 * how many were removed, or -1 when path/tmp cannot be read. */
int maildir_clean_tmp(const char *path, unsigned max_age_s);
/* The rule above for one name: was it made on this host by a process that is gone? A name not in our
 * format, from another host, or from a live process (or one we may not signal) is not. */
bool maildir_name_orphaned(const char *name);

/* At start (maildir_sweep.c): maildir_clean_tmp on every Maildir under mail_root
 * (<domain>/<user>/Maildir and each of its folders), and the folders a crash left half-deleted
 * ("..deleted.<unique name>") by the same rule. *maildirs gets how many Maildirs were looked at.
 * Returns how many files and folders were removed. */
int maildir_sweep(const char *mail_root, unsigned max_age_s, unsigned *maildirs);

#endif
