/* The maildrop: the INBOX Maildir, read once at login into a numbered list (RFC 1939: messages keep their
 * numbers for the session; mail arriving meanwhile waits for the next one). A flock on POP3_LOCK_NAME keeps
 * a second POP3 session out of TRANSACTION ([IN-USE], RFC 2449 8.1.1), also in another instance sharing
 * the storage; IMAP is not locked out. UIDL is "<UIDVALIDITY>.<UID>" of the same UID list IMAP uses, and
 * QUIT removes DELE'd messages through the store's \Deleted + expunge, as IMAP's EXPUNGE does. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pop3/pop3_internal.h"
#include "store/maildir.h"

static bool lock_maildrop(struct pop3_session *s, const char *root, struct obuf *out)
{
	char p[PATH_MAX];

	if ((size_t)snprintf(p, sizeof(p), "%s/%s", root, POP3_LOCK_NAME) >= sizeof(p)) {
		obuf_puts(out, "-ERR [SYS/PERM] Mailbox path too long\r\n");
		return false;
	}
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		pop3_event(s, "login %s: cannot open %s: %s", s->user, p, strerror(errno));
		obuf_puts(out, "-ERR [SYS/TEMP] Cannot open the mailbox\r\n");
		return false;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK) {
			pop3_event(s, "login %s: mailbox in use by another POP3 session", s->user);
			obuf_puts(out, "-ERR [IN-USE] Mailbox is in use by another POP3 session\r\n");
		} else {
			obuf_puts(out, "-ERR [SYS/TEMP] Cannot lock the mailbox\r\n");
		}
		return false;
	}
	s->lock_fd = fd;
	return true;
}

/* Number the messages and size them (a name's ",W=" when it has one, else the file read through). */
static bool snapshot(struct pop3_session *s)
{
	s->msgs = calloc(s->mb->count ? s->mb->count : 1, sizeof(*s->msgs));
	if (!s->msgs)
		return false;
	for (size_t i = 0; i < s->mb->count; i++) {
		struct mbox_msg *m = &s->mb->msgs[i];
		const char *w = memmem(m->file, m->namelen, ",W=", 3);
		uint64_t size = 0;
		if (w) {
			size = strtoull(w + 3, NULL, 10);
		} else {
			int fd = mbox_msg_open(s->mb, m);
			if (fd < 0)
				continue; /* expunged meanwhile: not part of this maildrop */
			bool ok = pop3_crlf_size(fd, &size);
			close(fd);
			if (!ok)
				return false;
		}
		s->msgs[s->nmsgs++] = (struct pop3_msg){.uid = m->uid, .size = size};
	}
	return true;
}

bool pop3_maildrop_open(struct pop3_session *s, const char *root, struct obuf *out)
{
	char err[256];

	if (!maildir_ensure(root, err, sizeof(err))) {
		pop3_event(s, "login %s: %s", s->user, err);
		obuf_puts(out, "-ERR [SYS/TEMP] Cannot open the mailbox\r\n");
		return false;
	}
	if (!lock_maildrop(s, root, out))
		return false;
	s->mb = mbox_open(root, false, err, sizeof(err));
	if (!s->mb || !mbox_sync(s->mb, 0, NULL, err, sizeof(err)) || !snapshot(s)) {
		pop3_event(s, "login %s: cannot read the mailbox: %s", s->user, s->mb ? err : "open");
		pop3_maildrop_close(s);
		obuf_puts(out, "-ERR [SYS/TEMP] Cannot read the mailbox\r\n");
		return false;
	}
	return true;
}

void pop3_maildrop_close(struct pop3_session *s)
{
	mbox_close(s->mb);
	s->mb = NULL;
	free(s->msgs);
	s->msgs = NULL;
	s->nmsgs = 0;
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	s->lock_fd = -1;
}

bool pop3_maildrop_update(struct pop3_session *s)
{
	char err[256];
	bool all = true, any = false;

	for (size_t i = 0; i < s->nmsgs; i++)
		any |= s->msgs[i].deleted;
	if (!any)
		return true;
	if (!mbox_lock(s->mb, err, sizeof(err))) {
		pop3_event(s, "quit: %s", err);
		return false;
	}
	for (size_t i = 0; i < s->nmsgs; i++) {
		if (!s->msgs[i].deleted)
			continue;
		struct mbox_msg *m = mbox_find(s->mb, s->msgs[i].uid);
		if (!m)
			continue; /* gone already (IMAP expunged it) */
		if (!mbox_set_flags(s->mb, m, MBOX_DELETED, 0) || !mbox_expunge(s->mb, m))
			all = false;
	}
	mbox_unlock(s->mb);
	return all;
}

struct pop3_msg *pop3_msg_arg(struct pop3_session *s, const char *arg, struct obuf *out)
{
	char *end;

	if (!arg || *arg < '1' || *arg > '9') {
		pop3_err(s, out, "Message number required");
		return NULL;
	}
	errno = 0;
	unsigned long n = strtoul(arg, &end, 10);
	if (errno || *end != '\0') {
		pop3_err(s, out, "Invalid message number");
		return NULL;
	}
	/* A well-formed request for a message that is not there is not a protocol error: not counted. */
	if (n > s->nmsgs) {
		obuf_puts(out, "-ERR No such message\r\n");
		return NULL;
	}
	if (s->msgs[n - 1].deleted) {
		obuf_puts(out, "-ERR Message is deleted\r\n");
		return NULL;
	}
	return &s->msgs[n - 1];
}

static size_t num(const struct pop3_session *s, const struct pop3_msg *m)
{
	return (size_t)(m - s->msgs) + 1;
}

void pop3_cmd_stat(struct pop3_session *s, const char *arg, struct obuf *out)
{
	size_t n = 0;
	uint64_t size = 0;

	if (arg) {
		pop3_err(s, out, "STAT takes no arguments");
		return;
	}
	for (size_t i = 0; i < s->nmsgs; i++) {
		if (!s->msgs[i].deleted) {
			n++;
			size += s->msgs[i].size;
		}
	}
	obuf_printf(out, "+OK %zu %llu\r\n", n, (unsigned long long)size);
}

/* LIST and UIDL: one message's line, or every message not deleted. */
static void listing(struct pop3_session *s, const char *arg, struct obuf *out, bool uidl)
{
	if (arg) {
		struct pop3_msg *m = pop3_msg_arg(s, arg, out);
		if (!m)
			return;
		if (uidl)
			obuf_printf(out, "+OK %zu %u.%u\r\n", num(s, m), s->mb->uidvalidity, m->uid);
		else
			obuf_printf(out, "+OK %zu %llu\r\n", num(s, m), (unsigned long long)m->size);
		return;
	}
	obuf_puts(out, uidl ? "+OK Unique-ID listing follows\r\n" : "+OK Scan listing follows\r\n");
	for (size_t i = 0; i < s->nmsgs; i++) {
		const struct pop3_msg *m = &s->msgs[i];
		if (m->deleted)
			continue;
		if (uidl)
			obuf_printf(out, "%zu %u.%u\r\n", i + 1, s->mb->uidvalidity, m->uid);
		else
			obuf_printf(out, "%zu %llu\r\n", i + 1, (unsigned long long)m->size);
	}
	obuf_puts(out, ".\r\n");
}

void pop3_cmd_list(struct pop3_session *s, const char *arg, struct obuf *out)
{
	listing(s, arg, out, false);
}

void pop3_cmd_uidl(struct pop3_session *s, const char *arg, struct obuf *out)
{
	listing(s, arg, out, true);
}

void pop3_cmd_dele(struct pop3_session *s, const char *arg, struct obuf *out)
{
	struct pop3_msg *m = pop3_msg_arg(s, arg, out);

	if (!m)
		return;
	m->deleted = true;
	obuf_printf(out, "+OK Message %zu deleted\r\n", num(s, m));
}

void pop3_cmd_rset(struct pop3_session *s, const char *arg, struct obuf *out)
{
	if (arg) {
		pop3_err(s, out, "RSET takes no arguments");
		return;
	}
	for (size_t i = 0; i < s->nmsgs; i++)
		s->msgs[i].deleted = false;
	obuf_printf(out, "+OK %zu messages\r\n", s->nmsgs);
}
