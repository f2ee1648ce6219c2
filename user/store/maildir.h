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

/* Start a message in the tmp/ of the Maildir at first (created if missing). */
struct maildir_tx *maildir_tx_begin(const char *first, char *err, size_t errlen);
bool maildir_tx_write(struct maildir_tx *tx, const void *data, size_t len);
size_t maildir_tx_size(const struct maildir_tx *tx);
/* fsync, link into each maildirs[i]/new (created if missing), fsync those directories, remove the tmp
 * name. On failure nothing is visible in any new/. Frees tx either way. */
bool maildir_tx_commit(struct maildir_tx *tx, const char *const *maildirs, size_t n, char *err,
                       size_t errlen);
/* Remove the tmp file; frees tx. */
void maildir_tx_abort(struct maildir_tx *tx);

/* Remove tmp/ files older than max_age_s (left by a crash); returns how many. */
int maildir_clean_tmp(const char *path, unsigned max_age_s);

#endif
