/* libFuzzer target for the IMAP session, its command reader (literals, LITERAL+) and argument parser
 * (user/imap/): one input is one whole session, driven the way the net layer drives it, over a real
 * Maildir++ in a scratch directory under /tmp. A template mail root is made once per process (alice:
 * INBOX with three messages, one of them multipart, Archive with one, the default folders; bob: none
 * yet), and each input starts from a fresh copy of it, so that every input replays alone.
 *
 * Input: byte 0 picks the listener (STARTTLS, plaintext LOGIN allowed, implicit TLS; bits 0-1 mod 3), how the
 * session ends (input exhausted, timeout, shutdown; bits 2-3) and whether the session is polled between
 * reads as IDLE is (bit 4); byte 1 seeds the chunking (fuzz_env.h); the rest is what the client sends.
 * Seeds: tests/corpus/imap/ (tests/corpus/make_session_corpus.py).
 *
 * Checked for every input, besides ASan/UBSan:
 *  - the session consumes all it is given (it keeps an incomplete command itself), except while a
 *    response is written in pieces (output_buffer is 2 KiB here): then each piece stays near that size,
 *    resume takes no input, and what was left is passed again once the response is complete;
 *  - the responses are well-formed: every line starts with "*", "+" or a tag and ends with CRLF, no CR,
 *    LF or NUL outside literals, and every literal announced as {n} or ~{n} is followed by n bytes;
 *  - the log event has no control characters;
 *  - once the session is freed: no file left in any tmp/, and every folder of every user still opens and
 *    syncs with UIDs ascending below UIDNEXT.
 * FUZZ_TRACE=1 in the environment prints the server's responses. */
#include <crypt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_env.h"
#include "fuzz_session.h"
#include "imap/imap.h"
#include "store/folders.h"
#include "store/mailbox.h"
#include "store/maildir.h"

#define HOST "mx.example.test"
/* Small, so that a FETCH of the template's few messages is written in several pieces. */
#define OUTPUT_BUFFER 2048
#define PIECE_MAX     (64 * 1024) /* one message's response, at most, on top of a piece */

static struct config cfg;
static struct listener_conf listeners[3];
static struct passwd_db *users;
static struct origin origin;
static char template_root[256], mail_root[256];

static const char *const inbox_msgs[] = {
        "From: Bob <bob@example.org>\r\nTo: Alice <alice@example.test>\r\nSubject: lunch\r\n"
        "Date: Tue, 24 Nov 2026 12:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\n"
        "Shall we meet at noon?\r\n",
        "From: =?utf-8?q?Jos=C3=A9?= <jose@example.org>\r\nTo: alice@example.test, \"Team\" "
        "<team@example.test>\r\n"
        "Cc: undisclosed-recipients:;\r\nSubject: =?utf-8?b?UmVwb3J0IMOpdMOp?=\r\n"
        "Date: Wed, 25 Nov 2026 08:30:00 +0100\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        "R=C3=A9sum=C3=A9 attached.\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: x@example.net\r\nSubject: inner\r\n\r\ninner body\r\n--b1\r\n"
        "Content-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; "
        "filename=\"r.pdf\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--b1--\r\nepilogue\r\n",
        "Subject: no date, no from\r\n\r\nbody without headers to speak of\r\n",
};

static void deliver(const char *md, const char *text, unsigned flags)
{
	char err[256];
	struct mbox *m = mbox_open(md, true, err, sizeof(err));
	uint32_t uid, uidv;

	FZ_CHECK(m != NULL, err);
	FZ_CHECK(mbox_append(m, text, strlen(text), flags, 1764000000, &uid, &uidv, err, sizeof(err)), err);
	mbox_close(m);
}

static void setup(void)
{
	static char *domains[] = {"example.test", "example.org"};
	static char path[300]; /* cfg keeps it */
	char err[256], inbox[400], archive[400];
	const char *dir = fz_scratch("imap");

	snprintf(template_root, sizeof(template_root), "%s/template", dir);
	snprintf(mail_root, sizeof(mail_root), "%s/mail", dir);
	snprintf(path, sizeof(path), "%s/passwd", dir);
	users = fz_users(dir, true);

	FZ_CHECK(maildir_path(template_root, "alice@example.test", inbox, sizeof(inbox)), "maildir_path");
	FZ_CHECK(maildir_ensure(inbox, err, sizeof(err)), err);
	for (size_t i = 0; i < sizeof(inbox_msgs) / sizeof(inbox_msgs[0]); i++)
		deliver(inbox, inbox_msgs[i], i == 0 ? MBOX_SEEN : i == 1 ? MBOX_FLAGGED : 0);
	FZ_CHECK(folder_init_defaults(inbox, err, sizeof(err)), err);
	FZ_CHECK(folder_create(inbox, "Archive", err, sizeof(err)) == 0, err);
	FZ_CHECK(folder_path(inbox, "Archive", archive, sizeof(archive)), "folder_path");
	deliver(archive, inbox_msgs[0], MBOX_SEEN | MBOX_ANSWERED);

	cfg = (struct config){.hostname = HOST,
	                      .domains = domains,
	                      .ndomains = 2,
	                      .mail_root = mail_root,
	                      .passwd_file = path,
	                      .max_message_size = 20000,
	                      .max_line = 4096,
	                      .output_buffer = OUTPUT_BUFFER};
	listeners[0] = (struct listener_conf){.name = "imap", .proto = PROTO_IMAP, .tls = TLS_STARTTLS};
	listeners[1] =
	        (struct listener_conf){.name = "imap-plain", .proto = PROTO_IMAP, .auth_plaintext = true};
	listeners[2] = (struct listener_conf){.name = "imaps", .proto = PROTO_IMAP, .tls = TLS_IMPLICIT};
	fz_origin(&origin);
}

/* A literal announcement "{n}" or "~{n}" ending the line p[0..n) (CRLF excluded): its size. */
static bool literal_at_end(const char *p, size_t n, size_t *size)
{
	size_t i, v = 0, mul = 1;

	if (n < 3 || p[n - 1] != '}')
		return false;
	for (i = n - 1; i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9'; i--) {
		FZ_CHECK(mul < 1000000000000u, "a literal size fits");
		v += (size_t)(p[i - 1] - '0') * mul;
		mul *= 10;
	}
	if (i == n - 1 || i == 0 || p[i - 1] != '{')
		return false;
	*size = v;
	return true;
}

static void check_responses(const struct obuf *out)
{
	size_t i = 0;
	bool line_start = true;

	while (i < out->len) {
		const char *p = out->data + i;
		const char *lf = memchr(p, '\n', out->len - i);
		size_t lit;

		FZ_CHECK(lf != NULL, "every response ends with LF");
		size_t n = (size_t)(lf - p) + 1;
		FZ_CHECK(n >= 2 && p[n - 2] == '\r', "a response line ends with CRLF");
		for (size_t k = 0; k < n - 2; k++)
			FZ_CHECK(p[k] != '\r' && p[k] != '\0', "no CR or NUL inside a response line");
		if (line_start) {
			FZ_CHECK(n > 2 && p[0] > ' ' && (unsigned char)p[0] < 127 &&
			                 !strchr("(){%\"\\", p[0]),
			         "a response starts with *, + or a tag");
			FZ_CHECK(p[0] == '+' || memchr(p, ' ', n) != NULL,
			         "a tagged or untagged response has a space");
		}
		i += n;
		if (literal_at_end(p, n - 2, &lit)) {
			FZ_CHECK(lit <= out->len - i, "a literal's bytes follow its announcement");
			i += lit;
			line_start = false; /* the response goes on after the literal */
		} else {
			line_start = true;
		}
	}
	FZ_CHECK(line_start, "a response does not end inside a literal");
}

/* A piece of a response written in pieces: appended to what the client has read of this response so
 * far, which is checked whole once the response is complete. */
static void check_pieces(const struct obuf *piece, struct obuf *resp)
{
	obuf_append(resp, piece->data ? piece->data : "", piece->len);
	FZ_CHECK(!resp->oom, "memory for the response");
}

static void check_event(const struct imap_session *s)
{
	for (const char *p = imap_session_last_event(s); *p; p++)
		FZ_CHECK((unsigned char)*p >= 32 && *p != 127, "no control character in the log event");
}

static void check_no_tmp(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char p[1024];
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (!strcmp(e->d_name, "tmp")) {
			DIR *t = opendir(p);
			struct dirent *f;
			FZ_CHECK(t != NULL, "open tmp/");
			while ((f = readdir(t)) != NULL)
				FZ_CHECK(f->d_name[0] == '.', "no message left in tmp/ after the session");
			closedir(t);
		} else if (e->d_type == DT_DIR && depth < 8) {
			check_no_tmp(p, depth + 1);
		}
	}
	closedir(d);
}

/* Every folder of user opens and syncs; UIDs ascend below UIDNEXT. */
static void check_store(const char *user)
{
	char root[400], path[600], err[256];
	struct folder_list l = {0};

	FZ_CHECK(maildir_path(mail_root, user, root, sizeof(root)), "maildir_path");
	if (access(root, F_OK) != 0)
		return;
	FZ_CHECK(folder_list_all(root, &l), "list the folders");
	for (size_t i = 0; i < l.n; i++) {
		FZ_CHECK(folder_path(root, l.names[i], path, sizeof(path)),
		         "a listed folder has a valid name");
		struct mbox *m = mbox_open(path, false, err, sizeof(err));
		FZ_CHECK(m != NULL, "a listed folder opens");
		FZ_CHECK(mbox_sync(m, MBOX_SYNC_FORCE, NULL, err, sizeof(err)),
		         "a folder syncs after the session");
		for (size_t k = 0; k < m->count; k++) {
			FZ_CHECK(m->msgs[k].uid > 0 && m->msgs[k].uid < m->uidnext, "0 < UID < UIDNEXT");
			FZ_CHECK(k == 0 || m->msgs[k - 1].uid < m->msgs[k].uid, "UIDs ascend");
		}
		mbox_close(m);
	}
	folder_list_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct imap_ctx ctx;
	struct imap_session *s;
	struct obuf out = {0};
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
	bool tls = lc->tls == TLS_IMPLICIT, poll = data[0] & 16;
	struct obuf pending_resp = {0}; /* the pieces of one input call's responses, checked together */
	ctx = (struct imap_ctx){.cfg = &cfg,
	                        .lc = lc,
	                        .users = users,
	                        .origin = &origin,
	                        .tls_info = tls ? "TLSv1.3 TLS_AES_256_GCM_SHA384" : NULL};
	s = imap_session_new(&ctx);
	FZ_CHECK(s != NULL, "imap_session_new");
	imap_session_greeting(s, &out);
	check_responses(&out);
	fz_trace(&out);
	out.len = 0;
	fz_chunks_init(&ch, data[1]);

	while (off < size && !closed) {
		size_t n = fz_chunk_next(&ch, data + off, size - off);
		char *buf = malloc(n); /* exactly sized: ASan sees a read past the chunk */
		enum imap_action act = IMAP_CONTINUE;

		FZ_CHECK(buf != NULL, "malloc");
		memcpy(buf, data + off, n);
		unsigned failures = imap_session_auth_failures(s);
		size_t used = imap_session_input(s, buf, n, &out, &act);
		free(buf);
		FZ_CHECK(used <= n, "consumed <= given");
		/* The rest is left after a response in pieces, or after a failed login (its reply may be
		 * delayed by the connection layer, which then passes the rest again). */
		FZ_CHECK(used == n || imap_session_busy(s) || imap_session_auth_failures(s) != failures,
		         "all is consumed unless a response is in pieces or a login failed");
		off += used;
		/* The client reads each piece of a long response; the net layer then asks for the next. */
		while (imap_session_busy(s) && act == IMAP_CONTINUE) {
			FZ_CHECK(out.len <= OUTPUT_BUFFER + PIECE_MAX, "a piece stays near output_buffer");
			check_pieces(&out, &pending_resp);
			fz_trace(&out);
			out.len = 0;
			unsigned long before = imap_session_progress(s);
			imap_session_resume(s, &out);
			FZ_CHECK(out.len > 0, "a busy session writes more when asked");
			FZ_CHECK(imap_session_progress(s) == before, "resume takes no input");
		}
		check_pieces(&out, &pending_resp);
		check_responses(&pending_resp);
		pending_resp.len = 0;
		check_event(s);
		fz_trace(&out);
		out.len = 0;
		if (act == IMAP_CLOSE) {
			closed = true;
		} else if (act == IMAP_STARTTLS) {
			FZ_CHECK(lc->tls == TLS_STARTTLS && !tls, "STARTTLS only where offered, once");
			imap_session_tls_started(s, "TLSv1.3 TLS_AES_128_GCM_SHA256");
			tls = true;
		}
		if (poll && !closed) {
			(void)imap_session_poll(s, &out);
			check_responses(&out);
			fz_trace(&out);
			out.len = 0;
		}
	}
	(void)imap_session_idle(s);
	(void)imap_session_in_data(s);
	if (!closed) {
		switch ((data[0] >> 2) & 3) {
		case 1:
			imap_session_timeout(s, &out);
			break;
		case 2:
			imap_session_shutdown(s, &out);
			break;
		default:
			break;
		}
		check_responses(&out);
		fz_trace(&out);
	}
	imap_session_free(s);
	obuf_free(&out);
	obuf_free(&pending_resp);

	check_no_tmp(mail_root, 0);
	check_store("alice@example.test");
	check_store("bob@example.org");
	return 0;
}
