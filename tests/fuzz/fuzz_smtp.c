/* libFuzzer target for the SMTP session and its command parser (user/smtp/): one input is one whole
 * session, driven the way the net layer drives it (user/net/conn.c), over a real Maildir root and relay
 * queue in a scratch directory under /tmp.
 *
 * Input: byte 0 picks the listener (smtp with STARTTLS, submission with STARTTLS, submission with
 * plaintext AUTH allowed, submission over implicit TLS) and how the session ends (input exhausted,
 * timeout, shutdown); byte 1 seeds the chunking (all at once, a line per read, or 1..64-byte pieces,
 * fuzz_env.h); the rest is what the client sends. After STARTTLS the rest of that read is dropped, as the
 * net layer drops it, and the handshake is done before the next read.
 * Seeds: tests/corpus/smtp/ (tests/corpus/make_session_corpus.py).
 *
 * Checked for every input, besides ASan/UBSan:
 *  - the session consumes at most what it is given; what it leaves (an incomplete line) holds no LF and
 *    is shorter than max_line, so the caller's buffer stays bounded and a complete line is never stuck;
 *  - every reply line is "NNN " or "NNN-" + text + CRLF, at most 512 bytes, without CR, LF or NUL inside,
 *    and a continued reply goes on with the same code;
 *  - STARTTLS is signalled only where it is offered, once, and consumes all it is given;
 *  - the log event has no control characters;
 *  - when the session is freed, no tmp/ file is left in any Maildir and every relay queue entry holds its
 *    message: a message is delivered whole or not at all.
 * FUZZ_TRACE=1 in the environment prints the server's replies (to check what a seed reaches). */
#include <crypt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "fuzz_session.h"
#include "smtp/smtp.h"

#define HOST     "mx.example.test"
#define MAX_LINE 1024

static struct config cfg;
static struct listener_conf listeners[4], lmtp; /* lmtp: byte 0 bit 4 (the LMTP mode) */
static struct passwd_db *users;
static struct origin origin;
static char mail_root[256], queue_dir[256];

static void setup(void)
{
	static char *domains[] = {"example.test", "example.org"};
	static char path[300]; /* cfg keeps it */
	const char *dir = fz_scratch("smtp");

	snprintf(mail_root, sizeof(mail_root), "%s/mail", dir);
	snprintf(queue_dir, sizeof(queue_dir), "%s/queue", dir);
	snprintf(path, sizeof(path), "%s/passwd", dir);
	users = fz_users(dir, true);

	cfg = (struct config){.hostname = HOST,
	                      .domains = domains,
	                      .ndomains = 2,
	                      .mail_root = mail_root,
	                      .passwd_file = path,
	                      .relay_host = "relay.example.net:25",
	                      .queue_dir = queue_dir,
	                      .max_message_size = 20000,
	                      .max_line = MAX_LINE,
	                      .max_recipients = 5};
	listeners[0] = (struct listener_conf){.name = "smtp", .proto = PROTO_SMTP, .tls = TLS_STARTTLS};
	listeners[1] = (struct listener_conf){.name = "sub", .proto = PROTO_SUBMISSION, .tls = TLS_STARTTLS};
	listeners[2] = (struct listener_conf){
	        .name = "sub-plain", .proto = PROTO_SUBMISSION, .auth_plaintext = true};
	listeners[3] =
	        (struct listener_conf){.name = "smtps", .proto = PROTO_SUBMISSION, .tls = TLS_IMPLICIT};
	lmtp = (struct listener_conf){.name = "lmtp", .proto = PROTO_LMTP};
	fz_origin(&origin);
}

/* Every reply line well-formed; *cont is the code of a reply that continues ("250-"), or 0. */
static void check_replies(const struct obuf *out, int *cont)
{
	size_t i = 0;

	while (i < out->len) {
		const char *p = out->data + i;
		const char *lf = memchr(p, '\n', out->len - i);
		FZ_CHECK(lf != NULL, "every reply ends with LF");
		size_t n = (size_t)(lf - p) + 1;
		FZ_CHECK(n >= 6 && n <= 512, "a reply line is 6..512 bytes");
		FZ_CHECK(p[n - 2] == '\r', "a reply line ends with CRLF");
		FZ_CHECK(p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
		                 p[2] <= '9',
		         "a reply starts with a 3-digit code");
		FZ_CHECK(p[3] == ' ' || p[3] == '-', "the code is followed by ' ' or '-'");
		for (size_t k = 0; k < n - 2; k++)
			FZ_CHECK(p[k] != '\r' && p[k] != '\n' && p[k] != '\0',
			         "no CR, LF or NUL inside a reply");
		int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		FZ_CHECK(*cont == 0 || *cont == code, "a continued reply keeps its code");
		*cont = p[3] == '-' ? code : 0;
		i += n;
	}
}

static void check_event(const struct smtp_session *s)
{
	for (const char *p = smtp_session_last_event(s); *p; p++)
		FZ_CHECK((unsigned char)*p >= 32 && *p != 127, "no control character in the log event");
}

/* Nothing in any tmp/ below dir, once no session is open. */
static void check_no_tmp(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char p[1024];
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (!strcmp(e->d_name, "tmp")) {
			DIR *t = opendir(p);
			struct dirent *f;
			FZ_CHECK(t != NULL, "open tmp/");
			while ((f = readdir(t)) != NULL)
				FZ_CHECK(f->d_name[0] == '.', "no message left in tmp/ after the session");
			closedir(t);
		} else if (e->d_type == DT_DIR && depth < 6) {
			check_no_tmp(p, depth + 1);
		}
	}
	closedir(d);
}

/* Each relay queue entry that is there holds its message in new/. */
static void check_queue(void)
{
	DIR *d = opendir(queue_dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char p[1024];
		snprintf(p, sizeof(p), "%s/%s/new", queue_dir, e->d_name);
		DIR *n = opendir(p);
		size_t msgs = 0;
		FZ_CHECK(n != NULL, "a queue entry has a new/");
		for (struct dirent *f; (f = readdir(n)) != NULL;)
			msgs += f->d_name[0] != '.';
		closedir(n);
		FZ_CHECK(msgs == 1, "a queue entry left after the session holds its message");
	}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct smtp_ctx ctx;
	struct smtp_session *s;
	struct obuf out = {0};
	struct fz_chunks ch;
	char *pending = NULL;
	size_t plen = 0, off = 2;
	bool closed = false;
	int cont = 0;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size < 2)
		return 0;
	const struct listener_conf *lc = data[0] & 16 ? &lmtp : &listeners[data[0] & 3];
	bool tls = lc->tls == TLS_IMPLICIT;
	ctx = (struct smtp_ctx){.cfg = &cfg,
	                        .lc = lc,
	                        .users = users,
	                        .origin = &origin,
	                        .tls_info =
	                                lc->tls == TLS_IMPLICIT ? "TLSv1.3 TLS_AES_256_GCM_SHA384" : NULL};
	s = smtp_session_new(&ctx);
	FZ_CHECK(s != NULL, "smtp_session_new");
	smtp_session_greeting(s, &out);
	check_replies(&out, &cont);
	fz_trace(&out);
	out.len = 0;
	fz_chunks_init(&ch, data[1]);

	bool again = false; /* a login failed: the connection layer passes the rest again, as is */
	while ((off < size || again) && !closed) {
		size_t n = again ? 0 : fz_chunk_next(&ch, data + off, size - off);
		/* The caller's buffer: what the session left, then the new bytes; exactly sized for ASan. */
		char *buf = malloc(plen + n);
		FZ_CHECK(buf != NULL, "malloc");
		if (plen)
			memcpy(buf, pending, plen);
		memcpy(buf + plen, data + off, n);
		free(pending);
		pending = buf;
		plen += n;
		off += n;

		enum smtp_action act = SMTP_CONTINUE;
		unsigned failures = smtp_session_auth_failures(s);
		size_t used = smtp_session_input(s, pending, plen, &out, &act);
		again = false;
		FZ_CHECK(used <= plen, "consumed <= given");
		check_replies(&out, &cont);
		fz_trace(&out);
		check_event(s);
		out.len = 0;
		if (act == SMTP_CLOSE) {
			FZ_CHECK(used == plen, "CLOSE consumes everything");
			closed = true;
		} else if (act == SMTP_STARTTLS) {
			FZ_CHECK(lc->tls == TLS_STARTTLS && !tls, "STARTTLS only where offered, once");
			FZ_CHECK(used == plen, "STARTTLS consumes everything (no plaintext survives)");
			smtp_session_tls_started(s, "TLSv1.3 TLS_AES_128_GCM_SHA256");
			tls = true;
		} else if (smtp_session_auth_failures(s) != failures) {
			again = used < plen; /* the rest after the failed AUTH */
		} else {
			const char *rest = pending + used;
			size_t left = plen - used;
			FZ_CHECK(left < MAX_LINE, "what is left is shorter than max_line");
			FZ_CHECK(!memchr(rest, '\n', left), "no complete line is left unread");
		}
		memmove(pending, pending + used, plen - used);
		plen -= used;
	}
	(void)smtp_session_idle(s);
	(void)smtp_session_in_data(s);
	(void)smtp_session_auth_user(s);
	if (!closed) {
		switch ((data[0] >> 2) & 3) {
		case 1:
			smtp_session_timeout(s, &out);
			break;
		case 2:
			smtp_session_shutdown(s, &out);
			break;
		default:
			break;
		}
		check_replies(&out, &cont);
		fz_trace(&out);
	}
	smtp_session_free(s);
	obuf_free(&out);
	free(pending);

	check_no_tmp(mail_root, 0);
	check_no_tmp(queue_dir, 0);
	check_queue();
	fz_rmtree(mail_root);
	fz_rmtree(queue_dir);
	return 0;
}
