/* libFuzzer target for the POP3 session (user/pop3/): one input is one whole session, driven the way the
 * net layer drives it, over a real Maildir in a scratch directory under /tmp. A template mail root is made
 * once per process (alice: an INBOX of three messages, one with bare LF line ends and lines starting with
 * "."), and each input starts from a fresh copy of it, so that every input replays alone.
 *
 * Input: byte 0 picks the listener (STARTTLS, plaintext passwords allowed, implicit TLS; bits 0-1 mod 3) and
 * how the session ends (input exhausted, timeout, shutdown; bits 2-3); byte 1 seeds the chunking
 * (fuzz_env.h); the rest is what the client sends. Seeds: tests/corpus/pop3/
 * (tests/corpus/make_session_corpus.py).
 *
 * Checked for every input, besides ASan/UBSan:
 *  - the session consumes all it is given, except right after a failed login (the caller may delay the
 *    reply) and while RETR/TOP is written in pieces (output_buffer is 2 KiB here): then each piece stays
 *    near that size, resume takes no input, and what was left is passed again;
 *  - the responses are well-formed: lines end in CRLF with no CR or NUL inside, a line starting with "."
 *    is the terminator "." or dot-stuffed, and no response stops inside a line;
 *  - the log event has no control characters;
 *  - once the session is freed: the maildrop lock is free, and INBOX syncs with UIDs ascending below
 *    UIDNEXT.
 * FUZZ_TRACE=1 in the environment prints the server's responses. */
#include <crypt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "fuzz_env.h"
#include "fuzz_session.h"
#include "pop3/pop3.h"
#include "store/mailbox.h"
#include "store/maildir.h"

#define HOST          "mx.example.test"
#define OUTPUT_BUFFER 2048
#define PIECE_MAX     (3 * 65536) /* what one read of the file can become, on top of a piece */

static struct config cfg;
static struct listener_conf listeners[3];
static struct passwd_db *users;
static struct origin origin;
static char template_root[256], mail_root[256];

static const char *const inbox_msgs[] = {
        ("From: Bob <bob@example.org>\r\nTo: Alice <alice@example.test>\r\nSubject: lunch\r\n\r\n"
         "Shall we meet at noon?\r\n.\r\n..two dots\r\n"),
        "From: x@example.net\nSubject: bare LF\n\n.a line with a dot\nand a last line without an end",
        "Subject: headers only\r\n",
};

static void setup(void)
{
	static char *domains[] = {"example.test"};
	static char path[300]; /* cfg keeps it */
	char err[256], inbox[400];
	const char *dir = fz_scratch("pop3");

	snprintf(template_root, sizeof(template_root), "%s/template", dir);
	snprintf(mail_root, sizeof(mail_root), "%s/mail", dir);
	snprintf(path, sizeof(path), "%s/passwd", dir);
	users = fz_users(dir, false);

	FZ_CHECK(maildir_path(template_root, "alice@example.test", inbox, sizeof(inbox)), "maildir_path");
	for (size_t i = 0; i < sizeof(inbox_msgs) / sizeof(inbox_msgs[0]); i++) {
		struct maildir_tx *tx = maildir_tx_begin(inbox, err, sizeof(err));
		FZ_CHECK(tx != NULL, err);
		FZ_CHECK(maildir_tx_write(tx, inbox_msgs[i], strlen(inbox_msgs[i])), "write a message");
		const char *dirs[] = {inbox};
		FZ_CHECK(maildir_tx_commit(tx, dirs, 1, err, sizeof(err)), err);
	}
	cfg = (struct config){.hostname = HOST,
	                      .domains = domains,
	                      .ndomains = 1,
	                      .mail_root = mail_root,
	                      .passwd_file = path,
	                      .max_message_size = 20000,
	                      .max_line = 512,
	                      .output_buffer = OUTPUT_BUFFER};
	listeners[0] = (struct listener_conf){.name = "pop3", .proto = PROTO_POP3, .tls = TLS_STARTTLS};
	listeners[1] =
	        (struct listener_conf){.name = "pop3-plain", .proto = PROTO_POP3, .auth_plaintext = true};
	listeners[2] = (struct listener_conf){.name = "pop3s", .proto = PROTO_POP3, .tls = TLS_IMPLICIT};
	fz_origin(&origin);
}

static void check_responses(const struct obuf *out)
{
	size_t i = 0;

	while (i < out->len) {
		const char *p = out->data + i;
		const char *lf = memchr(p, '\n', out->len - i);

		FZ_CHECK(lf != NULL, "every response ends with LF");
		size_t n = (size_t)(lf - p) + 1;
		FZ_CHECK(n >= 2 && p[n - 2] == '\r', "a response line ends with CRLF");
		for (size_t k = 0; k < n - 2; k++)
			FZ_CHECK(p[k] != '\r' && p[k] != '\0', "no CR or NUL inside a response line");
		FZ_CHECK(p[0] != '.' || n == 3 || p[1] == '.',
		         "a line starting with '.' is dot-stuffed or the end");
		i += n;
	}
}

static void check_event(const struct pop3_session *s)
{
	for (const char *p = pop3_session_last_event(s); *p; p++)
		FZ_CHECK((unsigned char)*p >= 32 && *p != 127, "no control character in the log event");
}

/* The session is gone: nobody holds the maildrop lock, and INBOX syncs with sound UIDs. */
static void check_store(void)
{
	char root[400], lock[500], err[256];

	FZ_CHECK(maildir_path(mail_root, "alice@example.test", root, sizeof(root)), "maildir_path");
	snprintf(lock, sizeof(lock), "%s/originmail-pop3.lock", root);
	int fd = open(lock, O_RDWR);
	if (fd >= 0) {
		FZ_CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0, "the maildrop lock is free after the session");
		close(fd);
	}
	struct mbox *m = mbox_open(root, false, err, sizeof(err));
	FZ_CHECK(m != NULL, "INBOX opens");
	FZ_CHECK(mbox_sync(m, MBOX_SYNC_FORCE, NULL, err, sizeof(err)), "INBOX syncs after the session");
	for (size_t k = 0; k < m->count; k++) {
		FZ_CHECK(m->msgs[k].uid > 0 && m->msgs[k].uid < m->uidnext, "0 < UID < UIDNEXT");
		FZ_CHECK(k == 0 || m->msgs[k - 1].uid < m->msgs[k].uid, "UIDs ascend");
	}
	mbox_close(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct pop3_ctx ctx;
	struct pop3_session *s;
	struct obuf out = {0}, resp = {0};
	struct fz_chunks ch;
	size_t off = 2;
	bool closed = false;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size < 2)
		return 0;
	fz_rmtree(mail_root);
	fz_copytree(template_root, mail_root);

	const struct listener_conf *lc = &listeners[(data[0] & 3) % 3];
	bool tls = lc->tls == TLS_IMPLICIT;
	ctx = (struct pop3_ctx){.cfg = &cfg,
	                        .lc = lc,
	                        .users = users,
	                        .origin = &origin,
	                        .tls_info = tls ? "TLSv1.3 TLS_AES_256_GCM_SHA384" : NULL};
	s = pop3_session_new(&ctx);
	FZ_CHECK(s != NULL, "pop3_session_new");
	pop3_session_greeting(s, &out);
	check_responses(&out);
	fz_trace(&out);
	out.len = 0;
	fz_chunks_init(&ch, data[1]);

	while (off < size && !closed) {
		size_t n = fz_chunk_next(&ch, data + off, size - off);
		char *buf = malloc(n); /* exactly sized: ASan sees a read past the chunk */
		enum pop3_action act = POP3_CONTINUE;
		unsigned failures = pop3_session_auth_failures(s);

		FZ_CHECK(buf != NULL, "malloc");
		memcpy(buf, data + off, n);
		size_t used = pop3_session_input(s, buf, n, &out, &act);
		free(buf);
		FZ_CHECK(used <= n, "consumed <= given");
		FZ_CHECK(used == n || pop3_session_busy(s) || pop3_session_auth_failures(s) != failures,
		         "all is consumed unless a login failed or a response is in pieces");
		off += used;
		while (pop3_session_busy(s) && act == POP3_CONTINUE) {
			FZ_CHECK(out.len <= OUTPUT_BUFFER + PIECE_MAX, "a piece stays near output_buffer");
			obuf_append(&resp, out.data, out.len);
			fz_trace(&out);
			out.len = 0;
			unsigned long before = pop3_session_progress(s);
			pop3_session_resume(s, &out);
			FZ_CHECK(out.len > 0, "a busy session writes more when asked");
			FZ_CHECK(pop3_session_progress(s) == before, "resume takes no input");
		}
		obuf_append(&resp, out.data, out.len);
		FZ_CHECK(!resp.oom, "memory for the responses");
		check_responses(&resp);
		resp.len = 0;
		check_event(s);
		fz_trace(&out);
		out.len = 0;
		if (act == POP3_CLOSE) {
			closed = true;
		} else if (act == POP3_STARTTLS) {
			FZ_CHECK(lc->tls == TLS_STARTTLS && !tls, "STLS only where offered, once");
			pop3_session_tls_started(s, "TLSv1.3 TLS_AES_128_GCM_SHA256");
			tls = true;
		}
	}
	(void)pop3_session_idle(s);
	if (!closed) {
		switch ((data[0] >> 2) & 3) {
		case 1:
			pop3_session_timeout(s, &out);
			break;
		case 2:
			pop3_session_shutdown(s, &out);
			break;
		default:
			break;
		}
		check_responses(&out);
		fz_trace(&out);
	}
	pop3_session_free(s);
	obuf_free(&out);
	obuf_free(&resp);
	check_store();
	return 0;
}
