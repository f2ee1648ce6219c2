/* Users from a passwd-file in Dovecot's format, passwords checked with libcrypt.
 *
 *   user@domain:{SCHEME}hash:uid:gid:gecos:home:shell:extra     (only the first two fields are used)
 *
 * Schemes: {SHA512-CRYPT} ($6$), {BLF-CRYPT} ($2y$/$2b$), {YESCRYPT} ($y$), {CRYPT} (whatever crypt(3)
 * takes). Blank lines and lines starting with '#' are ignored. */
#ifndef ORIGINMAIL_PASSWD_H
#define ORIGINMAIL_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

struct passwd_db;

/* Load path; on error (unreadable, a malformed line) returns NULL with "FILE:LINE: message" in err.
 * A missing file is an empty database only when missing_ok. */
struct passwd_db *passwd_db_load(const char *path, bool missing_ok, char *err, size_t errlen);
void passwd_db_free(struct passwd_db *db);
size_t passwd_db_count(const struct passwd_db *db);

/* Lookups are case-insensitive in the domain part, exact in the local part. */
bool passwd_db_exists(const struct passwd_db *db, const char *user_at_domain);
/* Constant work whether or not the user exists (a dummy hash is checked for unknown users). */
bool passwd_db_verify(const struct passwd_db *db, const char *user_at_domain, const char *password);
/* passwd_db_verify in two steps, for checking on another thread (auth_pool.h): the crypt(3) setting to
 * check against (the user's hash, or the dummy for an unknown user: the same work either way) and
 * whether the user exists; then the check itself, which touches no database. */
const char *passwd_db_setting(const struct passwd_db *db, const char *user_at_domain, bool *exists);
bool passwd_check(const char *setting, bool exists, const char *password);

/* "{CRYPT}$y$..." (yescrypt) for password, with a fresh salt from crypt_gensalt. {CRYPT}, not {YESCRYPT}:
 * Dovecot 2.3 reads the same file and knows yescrypt only through crypt(3). False on failure. */
bool passwd_hash(const char *password, char *out, size_t cap);
/* Add or replace user's line in the file at path (created 0640 if missing), atomically (write a temp
 * file, fsync, rename). */
bool passwd_file_set(const char *path, const char *user_at_domain, const char *hashed, char *err,
                     size_t errlen);

#endif
