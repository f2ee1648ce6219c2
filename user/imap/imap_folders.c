/* Mailbox management: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS. LIST and LSUB are in
 * imap_list.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"
#include "store/folders.h"

/* "SP mailbox" to the end of the command; trailing separators dropped (CREATE "a." makes "a"). */
static bool one_name(struct imap_parser *ps, char *name, size_t cap)
{
	if (!ip_sp(ps) || !ip_mailbox(ps, name, cap) || !ip_eol(ps))
		return false;
	size_t n = strlen(name);
	while (n > 1 && name[n - 1] == FOLDER_SEP)
		name[--n] = '\0';
	return true;
}

static void result(struct imap_session *s, struct obuf *out, const char *tag, int rc, const char *err,
                   const char *what)
{
	static const char *const codes[] = {"", "[ALREADYEXISTS] ", "[NONEXISTENT] ", ""};

	if (rc == 0)
		imap_tagged(s, out, tag, "OK %s completed", what);
	else
		imap_tagged(s, out, tag, "NO %s%s", codes[rc > 0 && rc < 4 ? rc : 3], err);
}

void imap_cmd_create(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                     bool uid)
{
	char name[IMAP_NAME_MAX], err[256];

	(void)uid;
	if (!one_name(ps, name, sizeof(name))) {
		imap_bad(s, out, tag, ps);
		return;
	}
	int rc = folder_create(s->root, name, err, sizeof(err));
	result(s, out, tag, rc, err, "Create");
}

void imap_cmd_delete(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                     bool uid)
{
	char name[IMAP_NAME_MAX], err[256];

	(void)uid;
	if (!one_name(ps, name, sizeof(name))) {
		imap_bad(s, out, tag, ps);
		return;
	}
	if (s->mbname && strcmp(s->mbname, name) == 0)
		imap_deselect(s);
	int rc = folder_delete(s->root, name, err, sizeof(err));
	result(s, out, tag, rc, err, "Delete");
}

void imap_cmd_rename(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                     bool uid)
{
	char from[IMAP_NAME_MAX], to[IMAP_NAME_MAX], err[256];

	(void)uid;
	if (!ip_sp(ps) || !ip_mailbox(ps, from, sizeof(from)) || !one_name(ps, to, sizeof(to))) {
		imap_bad(s, out, tag, ps);
		return;
	}
	if (s->mbname && strcmp(s->mbname, from) == 0 && strcmp(from, "INBOX") != 0)
		imap_deselect(s);
	int rc = folder_rename(s->root, from, to, err, sizeof(err));
	result(s, out, tag, rc, err, "Rename");
}

static void subscribe(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                      bool on)
{
	char name[IMAP_NAME_MAX], err[256];

	if (!one_name(ps, name, sizeof(name))) {
		imap_bad(s, out, tag, ps);
		return;
	}
	if (!folder_subscribe(s->root, name, on, err, sizeof(err)))
		imap_tagged(s, out, tag, "NO %s", err);
	else
		imap_tagged(s, out, tag, "OK %s completed", on ? "Subscribe" : "Unsubscribe");
}

void imap_cmd_subscribe(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                        bool uid)
{
	(void)uid;
	subscribe(s, tag, ps, out, true);
}

void imap_cmd_unsubscribe(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                          bool uid)
{
	(void)uid;
	subscribe(s, tag, ps, out, false);
}

static const char *const status_names[] = {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN"};

#define NSTATUS (sizeof(status_names) / sizeof(status_names[0]))

static unsigned status_item(struct imap_str a)
{
	for (unsigned i = 0; i < NSTATUS; i++)
		if (istr_is(a, status_names[i]))
			return 1u << i;
	return 0;
}

void imap_cmd_status(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                     bool uid)
{
	char name[IMAP_NAME_MAX], path[PATH_MAX], err[256];
	struct imap_str a;
	unsigned items = 0;

	(void)uid;
	if (!ip_sp(ps) || !ip_mailbox(ps, name, sizeof(name)) || !ip_sp(ps) || !ip_char(ps, '('))
		goto bad;
	do {
		unsigned it;
		if (!ip_atom(ps, &a) || !(it = status_item(a))) {
			ip_fail(ps, "Unknown STATUS item");
			goto bad;
		}
		items |= it;
	} while (ip_char(ps, ' '));
	if (!ip_char(ps, ')') || !ip_eol(ps))
		goto bad;
	if (!imap_folder_path(s, out, tag, name, path, sizeof(path)))
		return;
	if (!folder_exists(s->root, name)) {
		imap_tagged(s, out, tag, "NO [NONEXISTENT] Mailbox does not exist");
		return;
	}
	struct mbox *m = mbox_open(path, false, err, sizeof(err));
	if (!m || !mbox_sync(m, 0, NULL, err, sizeof(err))) {
		mbox_close(m);
		imap_event(s, "status %s: %s", name, err);
		imap_tagged(s, out, tag, "NO [SERVERBUG] Cannot open the mailbox");
		return;
	}
	size_t unseen = 0, recent = 0;
	for (size_t i = 0; i < m->count; i++) {
		unseen += !(m->msgs[i].flags & MBOX_SEEN);
		recent += m->msgs[i].uid >= m->recent_uid;
	}
	unsigned long long vals[NSTATUS] = {m->count, recent, m->uidnext, m->uidvalidity, unseen};
	obuf_puts(out, "* STATUS ");
	imap_put_cstr(out, name);
	obuf_puts(out, " (");
	for (unsigned i = 0, first = 1; i < NSTATUS; i++) {
		if (items & (1u << i)) {
			obuf_printf(out, "%s%s %llu", first ? "" : " ", status_names[i], vals[i]);
			first = 0;
		}
	}
	obuf_puts(out, ")\r\n");
	mbox_close(m);
	imap_tagged(s, out, tag, "OK Status completed");
	return;
bad:
	imap_bad(s, out, tag, ps);
}
