/* The mail transaction: MAIL, RCPT, DATA (RFC 5321 3.3, 4.1.1.2-4), the trace headers we add
 * (4.4), and the commit into the recipients' Maildirs and, for recipients in other domains accepted
 * from authenticated submission when relay_host is set, into the relay queue (docs/relay.md). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "metrics/metrics.h"
#include "relay/relay.h"
#include "smtp/smtp_internal.h"
#include "store/maildir.h"

static bool submission(const struct smtp_session *s)
{
	return s->ctx.lc->proto == PROTO_SUBMISSION;
}

/* The local part of an internal-form address ends at its last '@' (a domain has none). */
static size_t local_len(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? (size_t)(at - addr) : strlen(addr);
}

void smtp_tx_reset(struct smtp_session *s)
{
	smtp_data_abort(s);
	relay_spool_end(s->spool); /* after the abort: removes the entry unless the message is in it */
	s->spool = NULL;
	for (unsigned i = 0; i < s->nrcpt; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpt = s->rcpt_cap = 0;
	for (unsigned i = 0; i < s->nrelay; i++)
		free(s->relays[i]);
	free(s->relays);
	s->relays = NULL;
	s->nrelay = s->relay_cap = 0;
	free(s->sender);
	s->sender = NULL;
	s->in_tx = false;
	s->smtputf8 = false;
	s->msg_bytes = 0;
	s->too_big = s->bare_eol = s->io_error = s->storage_full = false;
	if (s->mode == MODE_DATA)
		s->mode = MODE_CMD;
}

void smtp_cmd_mail(struct smtp_session *s, const char *arg, size_t len, struct obuf *out)
{
	struct smtp_path path;
	struct smtp_params p;

	if (!s->helo) {
		smtp_reply(s, out, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->in_tx) {
		smtp_reply(s, out, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (submission(s) && !s->auth_user) {
		smtp_reply(s, out, "530 5.7.0 Authentication required");
		return;
	}
	switch (smtp_parse_mail(arg, len, s->esmtp, &path, &p)) {
	case SMTP_PARSE_OK:
		break;
	case SMTP_PARSE_SYNTAX:
		smtp_reply(s, out, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	case SMTP_PARSE_ADDRESS:
		smtp_reply(s, out, "501 5.1.7 Bad sender address syntax");
		return;
	case SMTP_PARSE_UTF8:
		smtp_reply(s, out, "553 5.6.7 Must declare SMTPUTF8 to send a UTF-8 address");
		return;
	case SMTP_PARSE_PARAM:
		smtp_reply(s, out, "501 5.5.4 Bad parameter: %.*s", (int)(p.bad_len > 64 ? 64 : p.bad_len),
		           p.bad);
		return;
	case SMTP_PARSE_PARAM_UNKNOWN:
		smtp_reply(s, out, "555 5.5.4 Unsupported option: %.*s",
		           (int)(p.bad_len > 64 ? 64 : p.bad_len), p.bad);
		return;
	}
	size_t max = s->ctx.cfg->max_message_size;
	if (p.has_size && max && p.size > max) {
		smtp_reply(s, out, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	s->sender = strdup(path.addr);
	if (!s->sender) {
		smtp_reply(s, out, "451 4.3.0 Out of memory");
		return;
	}
	s->in_tx = true;
	s->smtputf8 = p.smtputf8;
	smtp_reply(s, out, "250 2.1.0 Ok");
}

/* Append a copy of addr to a recipient list. */
static bool add_addr(char ***list, unsigned *n, unsigned *cap, const char *addr)
{
	if (*n == *cap) {
		unsigned nc = *cap ? *cap * 2 : 4;
		char **v = realloc(*list, nc * sizeof(*v));
		if (!v)
			return false;
		*list = v;
		*cap = nc;
	}
	char *a = strdup(addr);
	if (!a)
		return false;
	(*list)[(*n)++] = a;
	return true;
}

static bool add_rcpt(struct smtp_session *s, const char *addr)
{
	return add_addr(&s->rcpts, &s->nrcpt, &s->rcpt_cap, addr);
}

/* An authenticated submission to another domain, accepted for the relay queue when relay_host is set
 * (and the configuration has a queue_dir, as every loaded one has). */
static void relay_rcpt(struct smtp_session *s, const char *addr, const char *ext, const char *domain,
                       struct obuf *out)
{
	const struct config *cfg = s->ctx.cfg;

	if (!cfg->relay_host || !*cfg->relay_host || !cfg->queue_dir || !*cfg->queue_dir) {
		smtp_reply(s, out, "554 5.7.1 <%s>: Relaying to %s is not configured", ext, domain);
		return;
	}
	for (unsigned i = 0; i < s->nrelay; i++) {
		if (strcmp(s->relays[i], addr) == 0) {
			smtp_reply(s, out, "250 2.1.5 Ok");
			return;
		}
	}
	if (!add_addr(&s->relays, &s->nrelay, &s->relay_cap, addr)) {
		smtp_reply(s, out, "451 4.3.0 Out of memory");
		return;
	}
	smtp_reply(s, out, "250 2.1.5 Ok");
}

/* A local part that cannot name a passwd-file user or a safe Maildir directory. */
static bool local_unsafe(const char *addr, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (addr[i] == '@' || addr[i] == ':' || addr[i] == '/' || addr[i] == '\\')
			return true;
	}
	return false;
}

static void local_rcpt(struct smtp_session *s, const char *addr, const char *ext, struct obuf *out)
{
	char path[PATH_MAX];
	const struct passwd_db *db = s->ctx.users;

	if (local_unsafe(addr, local_len(addr)) || !db || !passwd_db_exists(db, addr) ||
	    !maildir_path(s->ctx.cfg->mail_root, addr, path, sizeof(path))) {
		smtp_reply(s, out, "550 5.1.1 <%s>: User unknown", ext);
		return;
	}
	for (unsigned i = 0; i < s->nrcpt; i++) {
		if (strcmp(s->rcpts[i], addr) == 0) { /* delivered once, however often it is named */
			smtp_reply(s, out, "250 2.1.5 Ok");
			return;
		}
	}
	if (!add_rcpt(s, addr)) {
		smtp_reply(s, out, "451 4.3.0 Out of memory");
		return;
	}
	smtp_reply(s, out, "250 2.1.5 Ok");
}

void smtp_cmd_rcpt(struct smtp_session *s, const char *arg, size_t len, struct obuf *out)
{
	struct smtp_path path;
	struct smtp_params p;
	char ext[2 * SMTP_ADDR_MAX + 4];

	if (!s->in_tx) {
		smtp_reply(s, out, "503 5.5.1 Error: need MAIL command");
		return;
	}
	switch (smtp_parse_rcpt(arg, len, s->esmtp, s->smtputf8, &path, &p)) {
	case SMTP_PARSE_OK:
		break;
	case SMTP_PARSE_SYNTAX:
		smtp_reply(s, out, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	case SMTP_PARSE_ADDRESS:
		smtp_reply(s, out, "501 5.1.3 Bad recipient address syntax");
		return;
	case SMTP_PARSE_UTF8:
		smtp_reply(s, out, "553 5.6.7 Must declare SMTPUTF8 to send a UTF-8 address");
		return;
	case SMTP_PARSE_PARAM:
		smtp_reply(s, out, "501 5.5.4 Bad parameter: %.*s", (int)(p.bad_len > 64 ? 64 : p.bad_len),
		           p.bad);
		return;
	case SMTP_PARSE_PARAM_UNKNOWN:
		smtp_reply(s, out, "555 5.5.4 Unsupported option: %.*s",
		           (int)(p.bad_len > 64 ? 64 : p.bad_len), p.bad);
		return;
	}
	if (s->nrcpt + s->nrelay >= smtp_max_rcpts(s)) {
		smtp_reply(s, out, "452 4.5.3 Error: too many recipients");
		return;
	}
	const struct config *cfg = s->ctx.cfg;
	char *addr = path.addr;
	char pm[SMTP_ADDR_MAX + 1];
	if (!strchr(addr, '@')) {
		/* <postmaster>: ours, in the first local domain (RFC 5321 4.5.1) */
		if (cfg->ndomains == 0 ||
		    (size_t)snprintf(pm, sizeof(pm), "postmaster@%s", cfg->domains[0]) >= sizeof(pm)) {
			smtp_reply(s, out, "550 5.1.1 <postmaster>: User unknown");
			return;
		}
		for (char *c = pm; *c; c++)
			*c = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
		addr = pm;
	}
	if (smtp_addr_external(addr, local_len(addr), ext, sizeof(ext)) == 0)
		snprintf(ext, sizeof(ext), "%s", addr);
	const char *domain = addr + local_len(addr) + 1;
	if (config_is_local_domain(cfg, domain, strlen(domain))) {
		local_rcpt(s, addr, ext, out);
		return;
	}
	if (!submission(s) || !s->auth_user) {
		smtp_reply(s, out, "554 5.7.1 <%s>: Relay access denied", ext);
		return;
	}
	relay_rcpt(s, addr, ext, domain, out);
}

static void new_id(char *id, size_t cap)
{
	struct timespec ts;
	unsigned r = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		static unsigned counter;
		r = ++counter * 2654435761u;
	}
	snprintf(id, cap, "%09llX%05lX%05X", (unsigned long long)ts.tv_sec & 0xFFFFFFFFFull,
	         (unsigned long)(ts.tv_nsec / 1000) & 0xFFFFFul, r & 0xFFFFFu);
}

void smtp_date(char *buf, size_t cap)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t now = time(NULL);
	struct tm tm;

	if (!localtime_r(&now, &tm)) {
		snprintf(buf, cap, "Thu, 01 Jan 1970 00:00:00 +0000");
		return;
	}
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(buf, cap, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday % 7], tm.tm_mday,
	         months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60,
	         off % 60);
}

/* RFC 3848 and RFC 6531 3.7.3 "with" keywords. */
static const char *with_proto(const struct smtp_session *s)
{
	static const char *const names[3][4] = {
	        {"ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA"},
	        {"UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA"},
	        {"LMTP", "LMTPA", "LMTPS", "LMTPSA"},
	};
	if (!s->esmtp)
		return "SMTP";
	return names[smtp_lmtp(s) ? 2 : s->smtputf8][(s->tls ? 2 : 0) + (s->auth_user ? 1 : 0)];
}

/* Return-Path (4.4: added at final delivery) and our Received line. */
static void write_trace(struct smtp_session *s)
{
	const struct origin *o = s->ctx.origin;
	struct obuf h = {0};
	char ext[2 * SMTP_ADDR_MAX + 4], date[64];

	if (!*s->sender || smtp_addr_external(s->sender, local_len(s->sender), ext, sizeof(ext)) == 0)
		ext[0] = '\0'; /* <> */
	smtp_date(date, sizeof(date));
	obuf_printf(&h, "Return-Path: <%s>\r\n", ext);
	if (o->unix_peer) /* a local process: its uid is what there is to say */
		obuf_printf(&h, "Received: from %s (%s)\r\n", s->helo, o->client_ip);
	else
		obuf_printf(&h, "Received: from %s ([%s]:%u)\r\n", s->helo, o->client_ip,
		            (unsigned)o->client_port);
	if (o->via_proxy)
		obuf_printf(&h, "\tvia proxy [%s]:%u\r\n", o->peer_ip, (unsigned)o->peer_port);
	if (s->tls)
		obuf_printf(&h, "\t(using %s)\r\n", s->tls_info ? s->tls_info : "TLS");
	obuf_printf(&h, "\tby %s (originmail) with %s id %s", smtp_hostname(s), with_proto(s), s->id);
	const char *only = s->nrcpt + s->nrelay != 1 ? NULL : s->nrcpt ? s->rcpts[0] : s->relays[0];
	if (only && smtp_addr_external(only, local_len(only), ext, sizeof(ext)))
		obuf_printf(&h, "\r\n\tfor <%s>; %s\r\n", ext, date);
	else
		obuf_printf(&h, ";\r\n\t%s\r\n", date);
	if (h.oom)
		s->io_error = true;
	else
		smtp_data_put(s, h.data, h.len);
	obuf_free(&h);
}

/* The relay queue entry for this message: its envelope (sender, relayed recipients) written durably. */
static bool spool_begin(struct smtp_session *s, char *err, size_t errlen)
{
	struct relay_env env = {.arrival = (long long)time(NULL), .utf8 = s->smtputf8};
	char ext[2 * SMTP_ADDR_MAX + 4];
	bool ok = true;

	snprintf(env.id, sizeof(env.id), "%s", s->id);
	if (!*s->sender || smtp_addr_external(s->sender, local_len(s->sender), ext, sizeof(ext)) == 0)
		ext[0] = '\0';
	ok = (env.from = strdup(ext)) != NULL;
	for (unsigned i = 0; ok && i < s->nrelay; i++)
		ok = smtp_addr_external(s->relays[i], local_len(s->relays[i]), ext, sizeof(ext)) &&
		     relay_env_add_rcpt(&env, ext);
	if (ok)
		s->spool = relay_spool_begin(s->ctx.cfg->queue_dir, &env, err, errlen);
	relay_env_free(&env);
	return s->spool != NULL;
}

void smtp_cmd_data(struct smtp_session *s, const char *arg, size_t len, struct obuf *out)
{
	char path[PATH_MAX], err[256];

	(void)arg;
	if (len) {
		smtp_reply(s, out, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (!s->in_tx) {
		smtp_reply(s, out, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpt + s->nrelay == 0) {
		/* RFC 2033 4.2: 503 in LMTP */
		smtp_reply(s, out, "%s 5.5.1 Error: no valid recipients", smtp_lmtp(s) ? "503" : "554");
		return;
	}
	new_id(s->id, sizeof(s->id));
	err[0] = '\0';
	/* With relayed recipients the message starts in its queue entry, whose envelope is on disk first. */
	errno = 0;
	if (s->nrelay && !spool_begin(s, err, sizeof(err))) {
		bool full = maildir_errno_full(errno);
		smtp_event(s, "queueing failed: %s", err[0] ? err : "cannot start the queue entry");
		smtp_tx_reset(s);
		smtp_reply(s, out, full ? SMTP_REPLY_FULL : "451 4.3.0 Cannot queue the message");
		return;
	}
	if (s->spool)
		snprintf(path, sizeof(path), "%s", relay_spool_dir(s->spool));
	if ((!s->spool && !maildir_path(s->ctx.cfg->mail_root, s->rcpts[0], path, sizeof(path))) ||
	    !(s->mtx = maildir_tx_begin(path, err, sizeof(err))) || !smtp_data_begin(s)) {
		bool full = maildir_errno_full(errno);
		smtp_event(s, "delivery failed: %s", err[0] ? err : "cannot start the message");
		smtp_tx_reset(s);
		smtp_reply(s, out, full ? SMTP_REPLY_FULL : "451 4.3.0 Local delivery failed");
		return;
	}
	write_trace(s);
	s->mode = MODE_DATA;
	s->dstate = D_BOL;
	smtp_reply(s, out, "354 End data with <CR><LF>.<CR><LF>");
}

void smtp_reply_failed(struct smtp_session *s, struct obuf *out)
{
	smtp_reply(s, out, "%s", s->storage_full ? SMTP_REPLY_FULL : SMTP_REPLY_FAILED);
}

bool smtp_tx_commit(struct smtp_session *s)
{
	char err[256] = "";
	unsigned n = s->nrcpt + (s->spool ? 1 : 0), total = s->nrcpt + s->nrelay;
	char **paths = calloc(n ? n : 1, sizeof(*paths));
	bool ok = paths != NULL;

	for (unsigned i = 0; ok && i < n; i++) {
		paths[i] = malloc(PATH_MAX);
		if (paths[i] && i == s->nrcpt) /* the queue entry: queued once the message is there */
			ok = snprintf(paths[i], PATH_MAX, "%s", relay_spool_dir(s->spool)) < PATH_MAX;
		else
			ok = paths[i] && maildir_path(s->ctx.cfg->mail_root, s->rcpts[i], paths[i], PATH_MAX);
	}
	if (ok) {
		ok = maildir_tx_commit(s->mtx, (const char *const *)paths, n, err, sizeof(err));
		s->storage_full = !ok && maildir_errno_full(errno);
		s->mtx = NULL;
	}
	if (ok && s->spool)
		relay_spool_commit(s->spool);
	if (ok) {
		const char *proto = config_proto_name(s->ctx.lc ? s->ctx.lc->proto : PROTO_SMTP);
		metrics_inc(M_MESSAGES, proto);
		metrics_add(M_STORED_BYTES, s->msg_bytes, proto);
	}
	if (ok && s->nrelay)
		smtp_event(s, "queued as %s: %u recipient%s (%u to relay), %llu bytes", s->id, total,
		           total == 1 ? "" : "s", s->nrelay, (unsigned long long)s->msg_bytes);
	else if (ok)
		smtp_event(s, "queued as %s: %u recipient%s, %llu bytes", s->id, s->nrcpt,
		           s->nrcpt == 1 ? "" : "s", (unsigned long long)s->msg_bytes);
	else
		smtp_event(s, "delivery failed: %s", err[0] ? err : "out of memory");
	for (unsigned i = 0; paths && i < n; i++)
		free(paths[i]);
	free(paths);
	return ok;
}
