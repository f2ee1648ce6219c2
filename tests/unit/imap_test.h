/* Shared by the IMAP session tests: a temporary mail root with users, sessions driven over bytes the
 * way the net layer drives them; deliveries the way SMTP makes them are deliver_test.h's. Header-only
 * (static inline). */
#ifndef ORIGINMAIL_IMAP_TEST_H
#define ORIGINMAIL_IMAP_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <crypt.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/imap.h"
#include "net/origin.h"
#include "store/maildir.h"

#include "deliver_test.h"

#define T_HOST     "mx.example.test"
#define T_MAX_SIZE 20000u

struct t_env {
	char dir[256], mail_root[300], passwd[300], inbox[400];
	struct config cfg;
	struct listener_conf lc_starttls, lc_plain, lc_tls;
	struct passwd_db *users;
	struct origin origin;
};

static struct t_env T;

static inline int t_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static inline void t_user(FILE *f, const char *user, const char *pass, const char *salt)
{
	fprintf(f, "%s:{SHA512-CRYPT}%s::::::\n", user, crypt(pass, salt));
}

static inline int t_setup(void **state)
{
	char err[256];
	static char *domains[] = {"example.test"};
	(void)state;

	snprintf(T.dir, sizeof(T.dir), "/tmp/om-imap-XXXXXX");
	if (!mkdtemp(T.dir))
		return -1;
	snprintf(T.mail_root, sizeof(T.mail_root), "%s/mail", T.dir);
	snprintf(T.passwd, sizeof(T.passwd), "%s/passwd", T.dir);
	snprintf(T.inbox, sizeof(T.inbox), "%s/example.test/alice/Maildir", T.mail_root);
	FILE *f = fopen(T.passwd, "w");
	if (!f)
		return -1;
	t_user(f, "alice@example.test", "secret", "$6$saltsaltsalt01$");
	t_user(f, "bob@example.test", "hunter2", "$6$saltsaltsalt02$");
	fclose(f);
	T.users = passwd_db_load(T.passwd, false, err, sizeof(err));
	if (!T.users)
		return -1;
	T.cfg = (struct config){.hostname = T_HOST,
	                        .domains = domains,
	                        .ndomains = 1,
	                        .mail_root = T.mail_root,
	                        .passwd_file = T.passwd,
	                        .max_message_size = T_MAX_SIZE,
	                        .max_line = 4096};
	T.lc_starttls = (struct listener_conf){.name = "imap", .proto = PROTO_IMAP, .tls = TLS_STARTTLS};
	T.lc_plain =
	        (struct listener_conf){.name = "imap-plain", .proto = PROTO_IMAP, .auth_plaintext = true};
	T.lc_tls = (struct listener_conf){.name = "imaps", .proto = PROTO_IMAP, .tls = TLS_IMPLICIT};
	memset(&T.origin, 0, sizeof(T.origin));
	pp_sockaddr_parse(&T.origin.client, "203.0.113.10", 50000);
	pp_sockaddr_parse(&T.origin.peer, "127.0.0.2", 40000);
	T.origin.via_proxy = true;
	origin_update_text(&T.origin);
	return 0;
}

static inline int t_teardown(void **state)
{
	(void)state;
	passwd_db_free(T.users);
	nftw(T.dir, t_rm, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Each test starts with an empty mail root. */
static inline int t_clean(void **state)
{
	char p[400];
	(void)state;
	snprintf(p, sizeof(p), "%s/example.test", T.mail_root);
	nftw(p, t_rm, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

struct tc {
	struct imap_ctx ctx;
	struct imap_session *s;
	struct obuf out;
	enum imap_action act;
};

static inline void tc_open(struct tc *c, const struct listener_conf *lc, const char *tls)
{
	memset(c, 0, sizeof(*c));
	c->ctx = (struct imap_ctx){
	        .cfg = &T.cfg, .lc = lc, .users = T.users, .origin = &T.origin, .tls_info = tls};
	c->s = imap_session_new(&c->ctx);
	assert_non_null(c->s);
	imap_session_greeting(c->s, &c->out);
}

static inline void tc_close(struct tc *c)
{
	imap_session_free(c->s);
	obuf_free(&c->out);
}

/* Feed bytes as the net layer does: while a response is written in pieces, the client reads them all
 * (resume until the session is no longer busy), then what the session left is passed again. */
static inline void tc_send_n(struct tc *c, const char *data, size_t len)
{
	size_t off = 0;

	do {
		size_t n = imap_session_input(c->s, data + off, len - off, &c->out, &c->act);
		assert_true(n <= len - off);
		assert_true(n > 0 || imap_session_busy(c->s) || len == 0);
		off += n;
		while (imap_session_busy(c->s))
			imap_session_resume(c->s, &c->out);
	} while (off < len);
}

static inline void tc_send(struct tc *c, const char *data)
{
	tc_send_n(c, data, strlen(data));
}

/* What the session queued since the last call (the caller frees it). */
static inline char *tc_take(struct tc *c)
{
	char *s = strndup(c->out.data ? c->out.data : "", c->out.len);
	assert_non_null(s);
	c->out.len = 0;
	return s;
}

/* Send a line (CRLF added) and return every response to it. */
static inline char *tc_cmd(struct tc *c, const char *line)
{
	tc_send(c, line);
	tc_send(c, "\r\n");
	return tc_take(c);
}

static inline void t_has(const char *got, const char *want)
{
	if (!strstr(got, want)) {
		fprintf(stderr, "expected \"%s\" in:\n%s\n", want, got);
		fail();
	}
}

static inline void t_lacks(const char *got, const char *unwanted)
{
	if (strstr(got, unwanted)) {
		fprintf(stderr, "did not expect \"%s\" in:\n%s\n", unwanted, got);
		fail();
	}
}

/* Send, check that every wanted text is in the answer. */
static inline void tc_expect(struct tc *c, const char *line, const char *want)
{
	char *got = tc_cmd(c, line);
	t_has(got, want);
	free(got);
}

static inline void tc_login(struct tc *c, const char *user, const char *pass)
{
	char line[300];
	snprintf(line, sizeof(line), "L1 LOGIN %s %s", user, pass);
	tc_expect(c, line, "L1 OK [CAPABILITY ");
}

#endif
