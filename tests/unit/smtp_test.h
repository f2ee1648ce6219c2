/* Shared by the SMTP, LMTP and relay session tests: one temporary directory with a passwd-file (crypt(3)
 * hashes) and real Maildirs, the config and origin structs filled in by hand, and a client that drives a
 * session over bytes the way the net layer does. Header-only (static inline). */
#ifndef ORIGINMAIL_SMTP_TEST_H
#define ORIGINMAIL_SMTP_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <crypt.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/origin.h"
#include "smtp/smtp.h"
#include "store/maildir.h"

#define HOST     "mx.example.test"
#define MAX_SIZE 10000u

/* ---- the environment: one temporary directory for the whole group ---- */

static char tmpdir[256], mail_root[300], passwd_path[300];
static char *domains[] = {"example.test", "example.org"};
static struct config cfg;
static struct listener_conf lc_smtp, lc_smtp_tls, lc_sub, lc_sub_tls, lc_sub_plain;
static struct passwd_db *users;
static struct origin origin_proxied, origin_direct;

static inline void write_user(FILE *f, const char *user, const char *password, const char *salt)
{
	const char *h = crypt(password, salt);
	assert_non_null(h);
	assert_true(h[0] == '$');
	fprintf(f, "%s:{SHA512-CRYPT}%s::::::\n", user, h);
}

static inline void make_origin(struct origin *o, const char *client, uint16_t cport, const char *peer,
                               uint16_t pport, bool via_proxy)
{
	memset(o, 0, sizeof(*o));
	assert_true(pp_sockaddr_parse(&o->client, client, cport));
	assert_true(pp_sockaddr_parse(&o->peer, peer, pport));
	assert_true(pp_sockaddr_parse(&o->local, "192.0.2.25", 25));
	o->via_proxy = via_proxy;
	origin_update_text(o);
}

/* The environment in $TMPDIR/<prefix>-XXXXXX; a test file that wants more (other listeners, a relay
 * config) calls this from its own group setup and adds to what it made. */
static inline int env_setup(const char *prefix)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/%s-XXXXXX", base && *base ? base : "/tmp", prefix);
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(mail_root, sizeof(mail_root), "%s/mail", tmpdir);
	snprintf(passwd_path, sizeof(passwd_path), "%s/passwd", tmpdir);
	FILE *f = fopen(passwd_path, "w");
	if (!f)
		return -1;
	fprintf(f, "# test users\n\n");
	write_user(f, "alice@example.test", "secret", "$6$saltsaltsalt01$");
	write_user(f, "bob@example.test", "hunter2", "$6$saltsaltsalt02$");
	write_user(f, "carol@example.org", "c4r0l", "$6$saltsaltsalt03$");
	write_user(f, "carol@example.test", "x", "$6$saltsaltsalt06$"); /* the LMTP tests' third user */
	write_user(f, "dave@example.test", "d", "$6$saltsaltsalt04$");
	write_user(f, "postmaster@example.test", "pm", "$6$saltsaltsalt05$");
	fclose(f);
	char err[256];
	users = passwd_db_load(passwd_path, false, err, sizeof(err));
	if (!users) {
		fprintf(stderr, "passwd_db_load: %s\n", err);
		return -1;
	}

	cfg = (struct config){
	        .hostname = HOST,
	        .domains = domains,
	        .ndomains = 2,
	        .mail_root = mail_root,
	        .passwd_file = passwd_path,
	        .relay_host = "",
	        .max_message_size = MAX_SIZE,
	        .max_line = 1000,
	        .max_recipients = 3,
	};
	lc_smtp = (struct listener_conf){.name = "mx", .proto = PROTO_SMTP, .tls = TLS_NONE};
	lc_smtp_tls = (struct listener_conf){.name = "mx-tls", .proto = PROTO_SMTP, .tls = TLS_STARTTLS};
	lc_sub = (struct listener_conf){.name = "sub", .proto = PROTO_SUBMISSION, .tls = TLS_STARTTLS};
	lc_sub_tls = (struct listener_conf){.name = "subs", .proto = PROTO_SUBMISSION, .tls = TLS_IMPLICIT};
	lc_sub_plain = (struct listener_conf){
	        .name = "sub-plain", .proto = PROTO_SUBMISSION, .tls = TLS_NONE, .auth_plaintext = true};
	make_origin(&origin_proxied, "203.0.113.10", 51234, "198.51.100.7", 40000, true);
	make_origin(&origin_direct, "192.0.2.99", 40001, "192.0.2.99", 40001, false);
	return 0;
}

static inline int group_setup(void **state)
{
	(void)state;
	return env_setup("smtp-test");
}

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline int group_teardown(void **state)
{
	(void)state;
	passwd_db_free(users);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- a client: buffers what the session leaves unconsumed, as the net layer does ---- */

struct client {
	struct smtp_ctx ctx;
	struct smtp_session *s;
	struct obuf out;
	struct obuf in; /* what the session left unconsumed */
	enum smtp_action act;
	bool starttls, closed;
};

/* A session with the configuration conf (c_open: the group's cfg). */
static inline void c_open_with(struct client *c, const struct config *conf, const struct listener_conf *lc,
                               const struct origin *o, const char *tls)
{
	memset(c, 0, sizeof(*c));
	c->ctx = (struct smtp_ctx){.cfg = conf, .lc = lc, .users = users, .origin = o, .tls_info = tls};
	c->s = smtp_session_new(&c->ctx);
	assert_non_null(c->s);
}

static inline void c_open(struct client *c, const struct listener_conf *lc, const struct origin *o,
                          const char *tls)
{
	c_open_with(c, &cfg, lc, o, tls);
}

/* The same session parameters with another configuration. */
static inline void c_use_config(struct client *c, const struct config *conf)
{
	smtp_session_free(c->s);
	c->ctx.cfg = conf;
	c->s = smtp_session_new(&c->ctx);
	assert_non_null(c->s);
}

static inline void c_close(struct client *c)
{
	smtp_session_free(c->s);
	obuf_free(&c->out);
	obuf_free(&c->in);
	c->s = NULL;
}

static inline void c_send_n(struct client *c, const char *data, size_t len)
{
	obuf_append(&c->in, data, len);
	assert_false(c->in.oom);
	size_t n = smtp_session_input(c->s, c->in.data ? c->in.data : "", c->in.len, &c->out, &c->act);
	assert_true(n <= c->in.len);
	if (c->act == SMTP_STARTTLS)
		c->starttls = true;
	if (c->act == SMTP_CLOSE)
		c->closed = true;
	if (c->act != SMTP_CONTINUE)
		assert_int_equal(n, c->in.len); /* the rest is consumed and ignored */
	else if (n < c->in.len && !smtp_session_in_data(c->s))
		assert_true(c->in.len - n < cfg.max_line); /* only an incomplete line is left */
	obuf_consume(&c->in, n);
}

static inline void c_send(struct client *c, const char *data)
{
	c_send_n(c, data, strlen(data));
}

/* Everything the session queued since the last call, as a string. */
static inline char *c_take(struct client *c)
{
	char *s = malloc(c->out.len + 1);
	assert_non_null(s);
	memcpy(s, c->out.data ? c->out.data : "", c->out.len);
	s[c->out.len] = '\0';
	c->out.len = 0;
	return s;
}

/* got must be want; both are printed when it is not. */
static inline void expect_str(const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		print_message("got:\n%s\nwant:\n%s\n", got, want);
	assert_string_equal(got, want);
}

static inline void c_expect(struct client *c, const char *want)
{
	char *got = c_take(c);
	expect_str(got, want);
	free(got);
}

/* Send and ignore the replies. */
static inline void c_drain(struct client *c, const char *data)
{
	c_send(c, data);
	free(c_take(c));
}

/* Send and check the replies. */
static inline void say(struct client *c, const char *data, const char *want)
{
	c_send(c, data);
	c_expect(c, want);
}

/* Replace the id after every marker (up to the CR) with "ID", so runs compare equal; the id found goes
 * to *id. */
static inline void mask_ids_after(char *s, const char *marker, char *id, size_t cap)
{
	size_t m = strlen(marker);

	for (char *p = strstr(s, marker); p; p = strstr(p, marker)) {
		p += m;
		size_t n = strcspn(p, "\r");
		if (id && cap) {
			snprintf(id, cap, "%.*s", (int)n, p);
		}
		memmove(p + 2, p + n, strlen(p + n) + 1);
		memcpy(p, "ID", 2);
	}
}

/* Every "queued as <id>" id. */
static inline void mask_ids(char *s, char *id, size_t cap)
{
	mask_ids_after(s, "queued as ", id, cap);
}

/* Send complete lines, every byte of them consumed; the replies, in a buffer the next call overwrites. */
static inline char *c_ask(struct client *c, const char *data)
{
	static char got[4096];

	c_send(c, data);
	assert_int_equal(c->in.len, 0);
	assert_true(c->out.len < sizeof(got));
	memcpy(got, c->out.data ? c->out.data : "", c->out.len);
	got[c->out.len] = '\0';
	c->out.len = 0;
	return got;
}

/* c_ask and check the replies, with every " as <id>" id masked ("queued as", LMTP's "delivered as"). */
static inline void say_masked(struct client *c, const char *data, const char *want)
{
	char *got = c_ask(c, data);
	mask_ids_after(got, " as ", NULL, 0);
	expect_str(got, want);
}

/* ---- Maildirs ---- */

static inline void maildir_of(const char *user, char *out, size_t cap)
{
	assert_true(maildir_path(mail_root, user, out, cap));
}

static inline size_t count_dir(const char *user, const char *sub)
{
	char path[600], md[500];
	size_t n = 0;

	maildir_of(user, md, sizeof(md));
	snprintf(path, sizeof(path), "%s/%s", md, sub);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static inline char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* The messages in user's new/ (removed from it), sorted by name; returns how many. The slots after
 * them get "", so that every one of the max slots is a string to free. */
static inline size_t take_mail(const char *user, char **msgs, size_t max)
{
	char md[500], path[1200];
	struct dirent **list = NULL;
	size_t n = 0;

	maildir_of(user, md, sizeof(md));
	snprintf(path, sizeof(path), "%s/new", md);
	int k = scandir(path, &list, NULL, alphasort);
	for (int i = 0; i < k; i++) {
		if (list[i]->d_name[0] != '.' && n < max) {
			size_t len;
			snprintf(path, sizeof(path), "%s/new/%s", md, list[i]->d_name);
			msgs[n++] = read_file(path, &len);
			assert_int_equal(unlink(path), 0);
		}
		free(list[i]);
	}
	free(list);
	for (size_t i = n; i < max; i++) {
		msgs[i] = strdup("");
		assert_non_null(msgs[i]);
	}
	return n;
}

static inline void free_mail(char **msgs, size_t max)
{
	for (size_t i = 0; i < max; i++)
		free(msgs[i]);
}

/* The message as the client sent it: what follows our Return-Path and Received lines. */
static inline const char *body_of(const char *msg)
{
	const char *p = msg;
	assert_true(strncmp(p, "Return-Path: <", 14) == 0);
	p = strstr(p, "\r\nReceived: from ");
	assert_non_null(p);
	do {
		p = p ? strstr(p + 1, "\r\n") : NULL;
		assert_non_null(p);
		if (!p)
			return "";
		p += 1;
	} while (p[1] == '\t');
	return p + 1;
}

static inline void expect_one_message(const char *user, const char *body)
{
	char *m[4];
	size_t n = take_mail(user, m, 4);
	assert_int_equal(n, 1);
	assert_string_equal(body_of(m[0]), body);
	free_mail(m, 4);
}

static inline void expect_no_mail(const char *user)
{
	assert_int_equal(count_dir(user, "new"), 0);
	assert_int_equal(count_dir(user, "tmp"), 0);
}

/* The EHLO keywords after the greeting line on a plain SMTP listener. */
#define EHLO_SMTP                                                                                            \
	"250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n"

/* MAIL, RCPT (n: the replies to further RCPTs) and DATA accepted. */
#define TX_REPLIES(n) "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n" n "354 End data with <CR><LF>.<CR><LF>\r\n"

#endif
