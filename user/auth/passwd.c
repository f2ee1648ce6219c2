/* passwd-file users (Dovecot's format) in an open-addressing hash table, checked with libcrypt. */
#include "auth/passwd.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

enum scheme { SCHEME_CRYPT, SCHEME_SHA512, SCHEME_BLF, SCHEME_YESCRYPT };

struct entry {
	char *user; /* "local@domain", domain lower-cased */
	char *hash; /* the crypt(3) string, without "{SCHEME}" */
};

struct passwd_db {
	struct entry *entries;
	size_t n, cap;
	uint32_t *slots; /* index + 1 into entries; 0 is empty */
	size_t nslots;   /* power of two, at least twice n */
	char *dummy;     /* setting checked for unknown users */
};

static const struct {
	const char *name;
	enum scheme scheme;
} schemes[] = {
        {"CRYPT", SCHEME_CRYPT},
        {"SHA512-CRYPT", SCHEME_SHA512},
        {"BLF-CRYPT", SCHEME_BLF},
        {"YESCRYPT", SCHEME_YESCRYPT},
};

/* FNV-1a over the key; the file is the operator's, so no keyed hash is needed. */
static uint32_t hash_key(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* "local@Domain" -> "local@domain" in out (cap bytes); false if it does not fit or has no usable '@'. */
static bool normalize(const char *user, char *out, size_t cap)
{
	size_t len = strlen(user);
	const char *at = strrchr(user, '@');

	if (!at || at == user || !at[1] || len >= cap)
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = user + i > at ? lower(user[i]) : user[i];
	out[len] = '\0';
	return true;
}

static const struct entry *lookup(const struct passwd_db *db, const char *user_at_domain)
{
	char key[512];

	if (!db || !user_at_domain || !db->nslots || !normalize(user_at_domain, key, sizeof(key)))
		return NULL;
	size_t mask = db->nslots - 1;
	for (size_t i = hash_key(key, strlen(key)) & mask;; i = (i + 1) & mask) {
		uint32_t s = db->slots[i];
		if (!s)
			return NULL;
		if (!strcmp(db->entries[s - 1].user, key))
			return &db->entries[s - 1];
	}
}

static bool rehash(struct passwd_db *db, size_t nslots)
{
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return false;
	for (size_t e = 0; e < db->n; e++) {
		const char *u = db->entries[e].user;
		size_t i = hash_key(u, strlen(u)) & (nslots - 1);
		while (slots[i])
			i = (i + 1) & (nslots - 1);
		slots[i] = (uint32_t)(e + 1);
	}
	free(db->slots);
	db->slots = slots;
	db->nslots = nslots;
	return true;
}

/* Takes ownership of user and hash (even on failure). */
static bool add_entry(struct passwd_db *db, char *user, char *hash)
{
	if (db->n == db->cap) {
		size_t cap = db->cap ? db->cap * 2 : 64;
		struct entry *e = cap < UINT32_MAX ? realloc(db->entries, cap * sizeof(*e)) : NULL;
		if (!e)
			goto fail;
		db->entries = e;
		db->cap = cap;
	}
	db->entries[db->n].user = user;
	db->entries[db->n].hash = hash;
	db->n++;
	if (db->n * 2 > db->nslots) {
		if (!rehash(db, db->nslots ? db->nslots * 2 : 128)) {
			db->n--;
			goto fail;
		}
		return true;
	}
	size_t i = hash_key(user, strlen(user)) & (db->nslots - 1);
	while (db->slots[i])
		i = (i + 1) & (db->nslots - 1);
	db->slots[i] = (uint32_t)db->n;
	return true;
fail:
	free(user);
	explicit_bzero(hash, strlen(hash));
	free(hash);
	return false;
}

void passwd_db_free(struct passwd_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n; i++) {
		free(db->entries[i].user);
		explicit_bzero(db->entries[i].hash, strlen(db->entries[i].hash));
		free(db->entries[i].hash);
	}
	free(db->entries);
	free(db->slots);
	free(db->dummy);
	free(db);
}

size_t passwd_db_count(const struct passwd_db *db)
{
	return db ? db->n : 0;
}

static bool valid_user(const char *u, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f)
			return false;
	return true;
}

/* Splits "{SCHEME}hash" (or a bare crypt string, which is {CRYPT}); NULL with a message if it is bad. */
static const char *parse_password(const char *p, const char **msg)
{
	enum scheme sc = SCHEME_CRYPT;

	if (*p == '{') {
		const char *end = strchr(p, '}');
		size_t k, nlen = end ? (size_t)(end - p - 1) : 0;
		for (k = 0; end && k < sizeof(schemes) / sizeof(schemes[0]); k++)
			if (strlen(schemes[k].name) == nlen && !strncasecmp(p + 1, schemes[k].name, nlen))
				break;
		if (!end || k == sizeof(schemes) / sizeof(schemes[0])) {
			*msg = "unknown password scheme (want SHA512-CRYPT, BLF-CRYPT, YESCRYPT or CRYPT)";
			return NULL;
		}
		sc = schemes[k].scheme;
		p = end + 1;
	}
	if (!*p) {
		*msg = "empty password hash";
		return NULL;
	}
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			*msg = "white space or control character in the password hash";
			return NULL;
		}
	if ((sc == SCHEME_SHA512 && strncmp(p, "$6$", 3)) ||
	    (sc == SCHEME_BLF && strncmp(p, "$2y$", 4) && strncmp(p, "$2b$", 4) && strncmp(p, "$2a$", 4)) ||
	    (sc == SCHEME_YESCRYPT && strncmp(p, "$y$", 3))) {
		*msg = "hash does not match its scheme ($6$, $2y$/$2b$, $y$)";
		return NULL;
	}
	return p;
}

/* One line, without its newline. Returns false with *msg set if it is malformed. */
static bool load_line(struct passwd_db *db, char *line, const char **msg)
{
	size_t len = strlen(line);

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	const char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || *p == '#')
		return true;

	char *colon = strchr(line, ':');
	if (!colon) {
		*msg = "expected user@domain:{SCHEME}hash";
		return false;
	}
	*colon = '\0';
	char *pw = colon + 1, *end = strchr(pw, ':');
	if (end)
		*end = '\0';
	char key[512];
	if (!valid_user(line, strlen(line)) || !normalize(line, key, sizeof(key))) {
		*msg = "user must be local@domain (under 512 bytes, no spaces or control characters)";
		return false;
	}
	if (lookup(db, key)) {
		*msg = "duplicate user";
		return false;
	}
	const char *hash = parse_password(pw, msg);
	if (!hash)
		return false;
	char *u = strdup(key), *h = strdup(hash);
	if (!u || !h) {
		free(u);
		free(h);
		*msg = "out of memory";
		return false;
	}
	if (!add_entry(db, u, h)) {
		*msg = "out of memory";
		return false;
	}
	return true;
}

/* The setting for unknown users: the first user's own hash, so the work matches a real check. */
static bool make_dummy(struct passwd_db *db)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];

	if (db->n)
		db->dummy = strdup(db->entries[0].hash);
	else if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)))
		db->dummy = strdup(salt);
	return db->dummy != NULL;
}

struct passwd_db *passwd_db_load(const char *path, bool missing_ok, char *err, size_t errlen)
{
	struct passwd_db *db = calloc(1, sizeof(*db));
	FILE *f = NULL;
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	const char *msg = NULL;

	if (!db) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && missing_ok) {
			if (make_dummy(db))
				return db;
			snprintf(err, errlen, "%s: cannot make a dummy hash", path);
		} else {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		}
		passwd_db_free(db);
		return NULL;
	}
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (!load_line(db, line, &msg))
			break;
	}
	if (!msg && ferror(f))
		msg = "read error";
	if (!msg && !make_dummy(db))
		msg = "cannot make a dummy hash";
	if (line) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(f);
	if (msg) {
		snprintf(err, errlen, "%s:%lu: %s", path, lineno, msg);
		passwd_db_free(db);
		return NULL;
	}
	return db;
}

bool passwd_db_exists(const struct passwd_db *db, const char *user_at_domain)
{
	return lookup(db, user_at_domain) != NULL;
}

/* Compares every byte of the longer string whatever the contents. */
static bool equal_ct(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
	unsigned char d = la != lb;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(i < la ? a[i] : 0) ^ (unsigned char)(i < lb ? b[i] : 0);
	return d == 0;
}

const char *passwd_db_setting(const struct passwd_db *db, const char *user_at_domain, bool *exists)
{
	const struct entry *e = db ? lookup(db, user_at_domain) : NULL;

	*exists = e != NULL;
	return e ? e->hash : db ? db->dummy : NULL;
}

bool passwd_check(const char *setting, bool exists, const char *password)
{
	struct crypt_data *cd = setting && password ? calloc(1, sizeof(*cd)) : NULL;
	bool ok = false;

	if (!cd)
		return false;
	const char *out = crypt_rn(password, setting, cd, (int)sizeof(*cd));
	ok = out && out[0] != '*' && equal_ct(out, setting);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	/* An empty password never logs in, even if it was hashed. */
	return ok && exists && *password;
}

bool passwd_db_verify(const struct passwd_db *db, const char *user_at_domain, const char *password)
{
	bool exists;
	const char *setting = passwd_db_setting(db, user_at_domain, &exists);

	return passwd_check(setting, exists, password);
}

bool passwd_hash(const char *password, char *out, size_t cap)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	bool ok = false;

	if (!password || !out || !cap || !crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)))
		return false;
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return false;
	const char *h = crypt_rn(password, salt, cd, (int)sizeof(*cd));
	if (h && h[0] == '$') {
		int n = snprintf(out, cap, "{CRYPT}%s", h);
		ok = n > 0 && (size_t)n < cap;
	}
	if (!ok)
		out[0] = '\0';
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

/* ---- passwd_file_set ---- */

/* Does line (a whole line of the file) belong to key (normalized)? */
static bool line_is_user(const char *line, const char *key)
{
	char user[512];
	size_t ulen = strcspn(line, ":\n");

	if (line[ulen] != ':' || ulen >= sizeof(user))
		return false;
	memcpy(user, line, ulen);
	user[ulen] = '\0';
	char norm[512];
	return normalize(user, norm, sizeof(norm)) && !strcmp(norm, key);
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Copy in to fd, replacing the password field of key's line (keeping the fields after it), or append. */
static bool copy_replacing(FILE *in, int fd, const char *user, const char *key, const char *hashed)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	bool done = false, ok = true;

	while (ok && in && (len = getline(&line, &cap, in)) >= 0) {
		if (!line_is_user(line, key)) {
			ok = write_all(fd, line, (size_t)len) &&
			     (line[len - 1] == '\n' || write_all(fd, "\n", 1));
			continue;
		}
		if (done) /* a second line for the user: drop it */
			continue;
		size_t ulen = strcspn(line, ":");
		const char *rest = line + ulen + 1 + strcspn(line + ulen + 1, ":\n");
		ok = write_all(fd, line, ulen + 1) && write_all(fd, hashed, strlen(hashed)) &&
		     write_all(fd, rest, strlen(rest)) && (strchr(rest, '\n') || write_all(fd, "\n", 1));
		done = true;
	}
	if (ok && in && ferror(in))
		ok = false;
	if (ok && !done)
		ok = write_all(fd, user, strlen(user)) && write_all(fd, ":", 1) &&
		     write_all(fd, hashed, strlen(hashed)) && write_all(fd, "\n", 1);
	if (line) {
		explicit_bzero(line, cap);
		free(line);
	}
	return ok;
}

static void fsync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

bool passwd_file_set(const char *path, const char *user_at_domain, const char *hashed, char *err,
                     size_t errlen)
{
	char key[512], tmp[4096];
	unsigned char rnd[6];
	struct stat st;

	if (!path || !user_at_domain || !hashed || !valid_user(user_at_domain, strlen(user_at_domain)) ||
	    strchr(user_at_domain, ':') || !normalize(user_at_domain, key, sizeof(key)) ||
	    user_at_domain[0] == '#') {
		snprintf(err, errlen, "invalid user (want local@domain, no ':' or spaces)");
		return false;
	}
	const char *msg = NULL;
	if (strchr(hashed, ':') || !parse_password(hashed, &msg)) {
		snprintf(err, errlen, "invalid password hash: %s", msg ? msg : "contains ':'");
		return false;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return false;
	}
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%02x%02x%02x%02x%02x%02x", path, (long)getpid(),
	                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return false;
	}
	FILE *in = fopen(path, "re");
	if (!in && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	bool have = in && fstat(fileno(in), &st) == 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (in)
			fclose(in);
		return false;
	}
	/* Keep an existing file's mode and, when allowed, its owner (the daemon's group reads it). */
	const char *what = NULL;
	int e = 0;
	if (fchmod(fd, have ? st.st_mode & 07777 : 0640) != 0)
		what = "chmod";
	else if (have && fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM)
		what = "chown";
	else if (!copy_replacing(in, fd, user_at_domain, key, hashed))
		what = "write";
	else if (fsync(fd) != 0)
		what = "fsync";
	e = errno;
	if (in)
		fclose(in);
	if (close(fd) != 0 && !what)
		what = "close", e = errno;
	if (!what && rename(tmp, path) != 0)
		what = "rename", e = errno;
	if (what) {
		snprintf(err, errlen, "%s: %s: %s", tmp, what, e ? strerror(e) : "failed");
		unlink(tmp);
		return false;
	}
	fsync_parent(path);
	return true;
}
