/* One delivery attempt of a queue entry to relay_host over ESMTP (RFC 5321), with STARTTLS (RFC 3207),
 * and what follows from the replies: sent, deferred (4xx, no connection: retried after relay_retry,
 * doubling up to 16 times), bounced (5xx, or older than relay_max_age). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"
#include "relay/relay_client.h"
#include "relay/relay_worker.h"

#define CHUNK (16 * 1024)

enum rstate { RS_OPEN, RS_ACCEPTED, RS_SENT, RS_DEFER, RS_BOUNCE };

struct rres {
	enum rstate st;
	char why[512];
};

struct attempt {
	const struct relay_worker *w;
	struct relay_entry *en;
	struct rres *res;
	struct rclient c;
	bool starttls, size, smtputf8; /* EHLO extensions */
};

void relay_clean_text(char *s)
{
	for (; s && *s; s++) {
		if ((unsigned char)*s < 32 || *s == 127)
			*s = ' ';
	}
}

/* One recipient's outcome and its reason (a reply's text may be cut short). */
__attribute__((format(printf, 3, 4))) static void outcome(struct rres *r, enum rstate st, const char *fmt,
                                                          ...)
{
	va_list ap;

	r->st = st;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	relay_clean_text(r->why);
}

/* Every recipient still open (or accepted, unless only_open) gets st and the reason. */
__attribute__((format(printf, 4, 5))) static void settle(struct attempt *a, bool only_open, enum rstate st,
                                                         const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	relay_clean_text(why);
	for (size_t i = 0; i < a->en->env.nrcpt; i++) {
		struct rres *r = &a->res[i];
		if (r->st == RS_OPEN || (!only_open && r->st == RS_ACCEPTED)) {
			r->st = st;
			snprintf(r->why, sizeof(r->why), "%s", why);
		}
	}
}

/* A reply's verdict: 4xx and anything unexpected defer, 5xx bounces. */
static enum rstate verdict(int code)
{
	return code >= 500 && code < 600 ? RS_BOUNCE : RS_DEFER;
}

static void lost(struct attempt *a, const char *when)
{
	settle(a, false, RS_DEFER, "lost connection with %s %s: %s", a->w->cfg->relay_host, when, a->c.err);
}

/* A failed reply for everyone still concerned. */
static void refused(struct attempt *a, bool only_open, int code, const char *text, const char *cmd)
{
	settle(a, only_open, verdict(code), "%s said: %d %s (in reply to %s)", a->w->cfg->relay_host, code,
	       text, cmd);
}

static void parse_ehlo(struct attempt *a, const char *text)
{
	const char *line = strchr(text, '\n');

	a->starttls = a->size = a->smtputf8 = false;
	while (line) {
		line++;
		size_t n = strcspn(line, " \n");
		if (n == 8 && !strncasecmp(line, "STARTTLS", 8))
			a->starttls = true;
		else if (n == 4 && !strncasecmp(line, "SIZE", 4))
			a->size = true;
		else if (n == 8 && !strncasecmp(line, "SMTPUTF8", 8))
			a->smtputf8 = true;
		line = strchr(line, '\n');
	}
}

/* EHLO, or HELO if EHLO is not understood. False when the attempt is over. */
static bool hello(struct attempt *a, char *text, size_t cap)
{
	const char *name = a->w->cfg->hostname;

	if (!rc_cmd(&a->c, RELAY_T_COMMAND, "EHLO %s", name)) {
		lost(a, "sending EHLO");
		return false;
	}
	int code = rc_reply(&a->c, RELAY_T_COMMAND, text, cap);
	if (code == 250) {
		parse_ehlo(a, text);
		return true;
	}
	if (code < 0) {
		lost(a, "after EHLO");
		return false;
	}
	a->starttls = a->size = a->smtputf8 = false;
	if (code >= 500 && rc_cmd(&a->c, RELAY_T_COMMAND, "HELO %s", name) &&
	    (code = rc_reply(&a->c, RELAY_T_COMMAND, text, cap)) == 250)
		return true;
	if (code < 0)
		lost(a, "after HELO");
	else
		settle(a, true, RS_DEFER, "%s said: %d %s (in reply to EHLO)", a->w->cfg->relay_host, code,
		       text);
	return false;
}

/* Greeting, EHLO, STARTTLS and EHLO again. False when the attempt is over. */
static bool open_session(struct attempt *a, char *text, size_t cap)
{
	const struct config *cfg = a->w->cfg;
	bool required = cfg->relay_tls == RELAY_TLS_REQUIRED;

	int code = rc_reply(&a->c, RELAY_T_GREETING, text, cap);
	if (code != 220) {
		if (code < 0)
			lost(a, "waiting for the greeting");
		else
			settle(a, true, RS_DEFER, "%s greeted with %d %s", cfg->relay_host, code, text);
		return false;
	}
	if (!hello(a, text, cap))
		return false;
	if (!a->starttls) {
		if (!required)
			return true;
		settle(a, true, RS_DEFER, "%s does not offer STARTTLS (relay_tls = required)",
		       cfg->relay_host);
		return false;
	}
	if (!a->w->tls) {
		settle(a, true, RS_DEFER, "cannot use TLS: %s", a->w->tls_err);
		return false;
	}
	if (!rc_cmd(&a->c, RELAY_T_COMMAND, "STARTTLS") ||
	    (code = rc_reply(&a->c, RELAY_T_COMMAND, text, cap)) < 0) {
		lost(a, "after STARTTLS");
		return false;
	}
	if (code != 220) {
		settle(a, true, RS_DEFER, "%s said: %d %s (in reply to STARTTLS)", cfg->relay_host, code,
		       text);
		return false;
	}
	if (!rc_starttls(&a->c, a->w->tls, cfg->relay_host, required, RELAY_T_COMMAND)) {
		settle(a, true, RS_DEFER, "TLS with %s failed: %s", cfg->relay_host, a->c.err);
		return false;
	}
	log_debug("relay: %s: TLS with %s: %s, certificate %s", a->en->env.id, cfg->relay_host, a->c.tls_info,
	          a->c.verified ? "verified" : "not verified");
	return hello(a, text, cap);
}

/* The message file, without our Return-Path line (added at final delivery only: RFC 5321 4.4),
 * dot-stuffed, then the terminator. */
static bool send_data(struct attempt *a)
{
	static char in[CHUNK], out[2 * CHUNK];
	struct relay_dot dot = {0};
	bool first = true, ok = true;
	ssize_t r;
	int fd = open(a->en->msg, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(a->c.err, sizeof(a->c.err), "cannot open the queued message: %s", strerror(errno));
		return false;
	}
	while (ok && (r = read(fd, in, sizeof(in))) > 0) {
		const char *p = in;
		size_t n = (size_t)r;
		if (first && n > 12 && !strncasecmp(p, "Return-Path:", 12)) {
			const char *lf = memchr(p, '\n', n);
			if (lf) {
				n -= (size_t)(lf + 1 - p);
				p = lf + 1;
			}
		}
		first = false;
		size_t o = relay_dot_stuff(&dot, p, n, out);
		ok = rc_write(&a->c, out, o, RELAY_T_DATA);
	}
	if (ok && r < 0) {
		snprintf(a->c.err, sizeof(a->c.err), "cannot read the queued message: %s", strerror(errno));
		ok = false;
	}
	close(fd);
	if (ok) {
		size_t o = relay_dot_end(&dot, out);
		ok = rc_write(&a->c, out, o, RELAY_T_DATA) && rc_flush(&a->c, RELAY_T_DATA);
	}
	return ok;
}

/* MAIL, RCPT for each, DATA. */
static void transaction(struct attempt *a, char *text, size_t cap)
{
	const struct relay_env *env = &a->en->env;
	char size[40] = "";
	struct stat st;
	bool any = false;

	if (env->utf8 && !a->smtputf8) {
		settle(a, true, RS_BOUNCE, "%s does not support SMTPUTF8, which the message needs",
		       a->w->cfg->relay_host);
		return;
	}
	if (a->size && stat(a->en->msg, &st) == 0)
		snprintf(size, sizeof(size), " SIZE=%lld", (long long)st.st_size);
	if (!rc_cmd(&a->c, RELAY_T_COMMAND, "MAIL FROM:<%s>%s%s", env->from, size,
	            env->utf8 ? " SMTPUTF8" : "")) {
		lost(a, "sending MAIL FROM");
		return;
	}
	int code = rc_reply(&a->c, RELAY_T_COMMAND, text, cap);
	if (code / 100 != 2) {
		if (code < 0)
			lost(a, "after MAIL FROM");
		else
			refused(a, true, code, text, "MAIL FROM");
		return;
	}
	for (size_t i = 0; i < env->nrcpt; i++) {
		if (!rc_cmd(&a->c, RELAY_T_COMMAND, "RCPT TO:<%s>", env->rcpts[i]) ||
		    (code = rc_reply(&a->c, RELAY_T_COMMAND, text, cap)) < 0) {
			lost(a, "after RCPT TO");
			return;
		}
		struct rres *r = &a->res[i];
		if (code / 100 == 2) {
			r->st = RS_ACCEPTED;
			any = true;
			continue;
		}
		outcome(r, verdict(code), "%s said: %d %s (in reply to RCPT TO)", a->w->cfg->relay_host, code,
		        text);
	}
	if (!any)
		return;
	if (!rc_cmd(&a->c, RELAY_T_COMMAND, "DATA") ||
	    (code = rc_reply(&a->c, RELAY_T_DATA_INIT, text, cap)) < 0) {
		lost(a, "after DATA");
		return;
	}
	if (code != 354) {
		refused(a, false, code, text, "DATA");
		return;
	}
	if (!send_data(a)) {
		lost(a, "while sending the message");
		return;
	}
	if ((code = rc_reply(&a->c, RELAY_T_DATA_END, text, cap)) < 0) {
		lost(a, "after the end of the message");
		return;
	}
	if (code / 100 != 2) {
		refused(a, false, code, text, "end of DATA");
		return;
	}
	for (size_t i = 0; i < env->nrcpt; i++) {
		if (a->res[i].st == RS_ACCEPTED)
			outcome(&a->res[i], RS_SENT, "%d %s", code, text);
	}
}

static void attempt(struct attempt *a)
{
	char text[2048];
	const struct config *cfg = a->w->cfg;

	rc_init(&a->c);
	if (!cfg->relay_host || !*cfg->relay_host) {
		settle(a, true, RS_DEFER, "relay_host is not set");
		return;
	}
	if (!rc_connect(&a->c, cfg->relay_host, RELAY_T_CONNECT)) {
		settle(a, true, RS_DEFER, "cannot connect to %s: %s", cfg->relay_host, a->c.err);
		return;
	}
	if (open_session(a, text, sizeof(text))) {
		transaction(a, text, sizeof(text));
		if (rc_cmd(&a->c, RELAY_T_QUIT, "QUIT"))
			rc_reply(&a->c, RELAY_T_QUIT, text, sizeof(text));
	} else if (a->c.fd >= 0 && !a->c.err[0] && rc_cmd(&a->c, RELAY_T_QUIT, "QUIT")) {
		rc_reply(&a->c, RELAY_T_QUIT, text, sizeof(text));
	}
	settle(a, false, RS_DEFER, "no verdict from %s", cfg->relay_host); /* cannot happen; be safe */
	rc_close(&a->c);
}

static void fmt_age(char *out, size_t cap, long long s)
{
	if (s >= 86400)
		snprintf(out, cap, "%lldd%lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, cap, "%lldh%lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(out, cap, "%llds", s);
}

/* Log each recipient's outcome, bounce, then remove the entry or keep what is deferred. */
static void conclude(const struct relay_worker *w, struct relay_entry *en, struct rres *res, long long now)
{
	struct relay_env *env = &en->env;
	char **bounced = calloc(env->nrcpt, sizeof(char *)), **why = calloc(env->nrcpt, sizeof(char *));
	size_t nb = 0, nk = 0, first_defer = env->nrcpt;
	char err[256];

	for (size_t i = 0; i < env->nrcpt; i++) {
		const char *what = res[i].st == RS_SENT     ? "sent ("
		                   : res[i].st == RS_BOUNCE ? "bounced: "
		                                            : "deferred: ";
		log_info("relay: %s to <%s> via %s: %s%s%s", env->id, env->rcpts[i],
		         *w->cfg->relay_host ? w->cfg->relay_host : "(none)", what, res[i].why,
		         res[i].st == RS_SENT ? ")" : "");
		if (res[i].st == RS_BOUNCE && bounced && why) {
			bounced[nb] = env->rcpts[i];
			why[nb++] = res[i].why;
		} else if (res[i].st != RS_SENT && res[i].st != RS_BOUNCE && first_defer == env->nrcpt) {
			first_defer = i;
		}
	}
	if (nb)
		relay_bounce(w, en, bounced, why, nb);
	/* Keep the deferred recipients, in order; free the others. */
	for (size_t i = 0; i < env->nrcpt; i++) {
		if (res[i].st == RS_SENT || res[i].st == RS_BOUNCE)
			free(env->rcpts[i]);
		else
			env->rcpts[nk++] = env->rcpts[i];
	}
	if (first_defer < env->nrcpt) {
		free(env->error);
		env->error = strdup(res[first_defer].why);
	}
	env->nrcpt = nk;
	free(bounced);
	free(why);
	if (nk == 0) {
		if (!relay_entry_remove(en))
			log_err("relay: %s: cannot remove the delivered message %s: %s", env->id, en->msg,
			        strerror(errno));
		return;
	}
	unsigned shift = env->attempts < 5 ? env->attempts : 4;
	long long delay = (long long)(w->cfg->relay_retry_ms / 1000 ? w->cfg->relay_retry_ms / 1000 : 1)
	                  << shift;
	env->attempts++;
	env->next = now + delay;
	if (!relay_entry_save(en, err, sizeof(err)))
		log_err("relay: %s: %s", env->id, err);
}

void relay_deliver(const struct relay_worker *w, struct relay_entry *en)
{
	struct relay_env *env = &en->env;
	struct attempt a = {.w = w, .en = en};
	long long now = time(NULL), max_age = w->cfg->relay_max_age_ms / 1000;

	a.res = calloc(env->nrcpt, sizeof(*a.res));
	if (!a.res) {
		log_err("relay: %s: out of memory", env->id);
		return;
	}
	if (max_age > 0 && now - env->arrival >= max_age) {
		char age[32];
		fmt_age(age, sizeof(age), now - env->arrival);
		settle(&a, true, RS_BOUNCE, "gave up after %s in the queue (relay_max_age); last error: %s",
		       age, env->error ? env->error : "none");
	} else {
		attempt(&a);
	}
	conclude(w, en, a.res, time(NULL));
	free(a.res);
}
