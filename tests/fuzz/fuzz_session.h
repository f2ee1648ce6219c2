/* What the session fuzz targets (fuzz_smtp, fuzz_imap, fuzz_pop3) set up alike: the users file, the
 * proxied origin every session comes from, and FUZZ_TRACE. Header-only (static functions). */
#ifndef ORIGINMAIL_FUZZ_SESSION_H
#define ORIGINMAIL_FUZZ_SESSION_H

#include <crypt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/passwd.h"
#include "fuzz_env.h"
#include "net/origin.h"
#include "util/obuf.h"

/* dir/passwd with alice@example.test (password "secret") and, with_bob, bob@example.org ("hunter2"),
 * loaded. MD5-crypt: a real hash checked by libcrypt, cheap enough for thousands of logins a second.
 * crypt() returns a static buffer: one call per line. */
static inline struct passwd_db *fz_users(const char *dir, bool with_bob)
{
	char path[300], line[400], err[256];

	snprintf(path, sizeof(path), "%s/passwd", dir);
	snprintf(line, sizeof(line), "alice@example.test:{CRYPT}%s::::::\n", crypt("secret", "$1$fuzzsalt$"));
	if (with_bob)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
		         "bob@example.org:{CRYPT}%s::::::\n", crypt("hunter2", "$1$fuzzsal2$"));
	fz_write_file(path, line);
	struct passwd_db *db = passwd_db_load(path, false, err, sizeof(err));
	FZ_CHECK(db != NULL, err);
	return db;
}

/* A client at 203.0.113.10:50000 behind a proxy at 198.51.100.7:40000. */
static inline void fz_origin(struct origin *o)
{
	pp_sockaddr_parse(&o->client, "203.0.113.10", 50000);
	pp_sockaddr_parse(&o->peer, "198.51.100.7", 40000);
	o->via_proxy = true;
	origin_update_text(o);
}

/* The server's output on stderr when FUZZ_TRACE is set (to read what a crashing input did). */
static inline void fz_trace(const struct obuf *out)
{
	static int on = -1;

	if (on < 0)
		on = getenv("FUZZ_TRACE") != NULL;
	if (on && out->len)
		fwrite(out->data, 1, out->len, stderr);
}

#endif
