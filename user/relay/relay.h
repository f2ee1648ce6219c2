/* The relay queue: mail for non-local recipients, spooled by the SMTP session and forwarded to relay_host
 * by the relay worker (a child process of originmaild). Layout, guarantees and logs: docs/relay.md.
 *
 * A queue entry is the directory <queue_dir>/<ID>: an "envelope" file (written and fsynced first) and a
 * small Maildir (tmp/, new/, cur/) for the message. The message is written as any Maildir message and
 * linked into the entry's new/ by the same maildir_tx_commit that delivers its local copies, so a message
 * is either queued and delivered locally, or neither. An entry counts as queued only once its new/ holds
 * the message: nothing before that commit is visible to the worker. */
#ifndef ORIGINMAIL_RELAY_H
#define ORIGINMAIL_RELAY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "auth/passwd.h"
#include "conf/config.h"

#define RELAY_ID_MAX 40 /* an entry name: 1..39 letters and digits */

/* What the worker needs besides the message. Addresses are as they go on the wire, without <>. */
struct relay_env {
	char id[RELAY_ID_MAX]; /* the session's queue id: the entry's directory name */
	long long arrival;     /* unix time the message was accepted */
	long long next;        /* unix time of the next attempt; 0: at once */
	unsigned attempts;     /* attempts so far */
	bool utf8;             /* MAIL had SMTPUTF8 */
	char *from;            /* the reverse-path, "" for <> */
	char **rcpts;          /* the recipients still to deliver */
	size_t nrcpt;
	char *error; /* why the last attempt was deferred, or NULL */
};

bool relay_env_add_rcpt(struct relay_env *e, const char *addr);
/* "originmail-queue 1\n" then one "key value\n" line per field; malloc'd and NUL-terminated. NULL on
 * out of memory, a bad id, or a control character in a field. */
char *relay_env_format(const struct relay_env *e);
/* The reverse; e is zeroed first. False with a reason in err (and e freed). */
bool relay_env_parse(const char *text, size_t len, struct relay_env *e, char *err, size_t errlen);
void relay_env_free(struct relay_env *e);
bool relay_valid_id(const char *id);

/* ---- the session's side ---- */

struct relay_spool;

/* Make the entry <queue_dir>/<e->id> (queue_dir too if missing) and write its envelope durably. */
struct relay_spool *relay_spool_begin(const char *queue_dir, const struct relay_env *e, char *err,
                                      size_t errlen);
/* The entry's Maildir: start the message there (maildir_tx_begin) or link it there (maildir_tx_commit). */
const char *relay_spool_dir(const struct relay_spool *sp);
/* maildir_tx_commit succeeded: the entry stays when relay_spool_end frees sp. */
void relay_spool_commit(struct relay_spool *sp);
/* Free sp; an entry never committed is removed. */
void relay_spool_end(struct relay_spool *sp);

/* ---- the worker's side ---- */

struct relay_entry {
	char dir[PATH_MAX]; /* <queue_dir>/<ID> */
	char msg[PATH_MAX]; /* the message in its new/ */
	int lockfd;         /* the entry directory, flock()ed while open */
	struct relay_env env;
};

enum relay_open { RELAY_OPEN_OK, RELAY_OPEN_BUSY, RELAY_OPEN_INCOMPLETE, RELAY_OPEN_ERROR };

/* The ids of the committed entries (a message in new/), malloc'd; *n of them. NULL and *n = 0 on an
 * unreadable queue_dir (errno set) or an empty queue. */
char **relay_queue_list(const char *queue_dir, size_t *n);
void relay_queue_list_free(char **ids, size_t n);
/* Lock the entry (BUSY: another worker has it), read its envelope and find its message (INCOMPLETE:
 * not committed, or being removed). On OK the caller ends with relay_entry_close. */
enum relay_open relay_entry_open(const char *queue_dir, const char *id, struct relay_entry *en, char *err,
                                 size_t errlen);
/* Rewrite the envelope from en->env atomically (tmp, fsync, rename, fsync the directory). */
bool relay_entry_save(struct relay_entry *en, char *err, size_t errlen);
/* Take the message out of new/ first (no longer queued), then remove everything. */
bool relay_entry_remove(struct relay_entry *en);
void relay_entry_close(struct relay_entry *en);
/* Remove entries never committed (a crash mid-DATA) whose directory is older than max_age_s; returns
 * how many. Entries in use by a session are young, and locked entries are skipped. */
int relay_queue_clean(const char *queue_dir, unsigned max_age_s);
/* Rename a broken entry out of the queue's name space ("<ID>.broken"). */
bool relay_entry_set_aside(const char *queue_dir, const char *id);

/* ---- the outbound writer: dot-stuffing (RFC 5321 4.5.2) on buffers ---- */

struct relay_dot {
	bool mid; /* inside a line (false at the start of the message and after LF) */
};

/* Copy n octets from in to out (room for 2 * n), doubling a '.' that starts a line. Returns the length. */
size_t relay_dot_stuff(struct relay_dot *d, const char *in, size_t n, char *out);
/* The end of the data: CRLF if the message did not end with one, then ".\r\n" (out: 5 octets). */
size_t relay_dot_end(const struct relay_dot *d, char *out);

/* ---- the worker process ---- */

/* Serve the queue until SIGTERM/SIGINT (the message in progress is finished first) or until parent is
 * gone. cfg and users are the configuration originmaild started with; the worker re-reads the
 * configuration file and the passwd-file when they change (or on SIGHUP). Returns the exit code. */
int relay_worker_run(const struct config *cfg, const struct passwd_db *users, pid_t parent);

#endif
