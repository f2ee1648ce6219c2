/* The selected mailbox: SELECT, EXAMINE, CLOSE, UNSELECT, CHECK, EXPUNGE, and the view the client has
 * of it (sequence numbers -> UIDs and flags), kept in step with the folder by imap_sync. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"
#include "store/folders.h"

#define PERMANENT "\\Answered \\Flagged \\Deleted \\Seen \\Draft"

void imap_deselect(struct imap_session *s)
{
	mbox_close(s->mb);
	s->mb = NULL;
	free(s->mbname);
	s->mbname = NULL;
	free(s->view);
	s->view = NULL;
	s->nview = s->view_cap = 0;
	s->nrecent = 0;
	if (s->state == IS_SELECTED)
		s->state = IS_AUTH;
}

bool imap_folder_path(struct imap_session *s, struct obuf *out, const char *tag, const char *name, char *path,
                      size_t cap)
{
	if (!folder_path(s->root, name, path, cap)) {
		imap_tagged(s, out, tag, "NO Invalid mailbox name");
		return false;
	}
	return true;
}

static bool view_add(struct imap_session *s, const struct mbox_msg *m)
{
	if (s->nview == s->view_cap) {
		size_t cap = s->view_cap ? s->view_cap * 2 : 64;
		struct imap_vmsg *v = realloc(s->view, cap * sizeof(*v));
		if (!v)
			return false;
		s->view = v;
		s->view_cap = cap;
	}
	s->view[s->nview++] = (struct imap_vmsg){.uid = m->uid, .flags = m->flags, .recent = m->recent};
	return true;
}

static unsigned sync_opts(const struct imap_session *s)
{
	return s->readonly ? 0 : MBOX_SYNC_MOVE_NEW | MBOX_SYNC_RECENT;
}

static uint32_t count_recent(const struct imap_session *s)
{
	uint32_t n = 0;

	for (size_t i = 0; i < s->nview; i++)
		n += s->view[i].recent;
	return n;
}

void imap_view_expunged(struct imap_session *s, struct obuf *out)
{
	for (size_t i = s->nview; i-- > 0;) {
		if (mbox_find(s->mb, s->view[i].uid))
			continue;
		obuf_printf(out, "* %zu EXPUNGE\r\n", i + 1);
		memmove(&s->view[i], &s->view[i + 1], (s->nview - i - 1) * sizeof(*s->view));
		s->nview--;
	}
	s->nrecent = count_recent(s);
}

void imap_sync(struct imap_session *s, struct obuf *out, bool allow_expunge)
{
	char err[256];
	bool changed;

	if (s->state != IS_SELECTED || !s->mb || s->syncing)
		return;
	s->syncing = true;
	if (!mbox_sync(s->mb, sync_opts(s), &changed, err, sizeof(err))) {
		imap_event(s, "sync %s: %s", s->mbname, err);
		if (!folder_exists(s->root, s->mbname))
			imap_bye(s, out, "Selected mailbox was deleted");
		goto out;
	}
	if (!changed)
		goto out;
	if (s->mb->uidvalidity != s->uidvalidity) {
		imap_bye(s, out, "Mailbox UIDVALIDITY changed");
		goto out;
	}
	if (allow_expunge)
		imap_view_expunged(s, out);
	for (size_t i = 0; i < s->nview; i++) {
		struct imap_vmsg *v = &s->view[i];
		const struct mbox_msg *m = mbox_find(s->mb, v->uid);
		if (!m) {
			v->gone = true;
		} else if (m->flags != v->flags) {
			v->flags = m->flags;
			obuf_printf(out, "* %zu FETCH (UID %u FLAGS ", i + 1, v->uid);
			imap_put_flags(out, v->flags, v->recent);
			obuf_puts(out, ")\r\n");
		}
	}
	uint32_t last = s->nview ? s->view[s->nview - 1].uid : 0;
	size_t first = s->mb->count;
	while (first > 0 && s->mb->msgs[first - 1].uid > last)
		first--;
	size_t before = s->nview;
	for (size_t i = first; i < s->mb->count; i++)
		if (!view_add(s, &s->mb->msgs[i]))
			break;
	if (s->nview != before)
		obuf_printf(out, "* %zu EXISTS\r\n", s->nview);
	uint32_t r = count_recent(s);
	if (r != s->nrecent) {
		s->nrecent = r;
		obuf_printf(out, "* %u RECENT\r\n", r);
	}
out:
	s->syncing = false;
}

static void select_common(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                          bool readonly)
{
	char name[IMAP_NAME_MAX], path[PATH_MAX], err[256];

	if (!ip_sp(ps) || !ip_mailbox(ps, name, sizeof(name)) || !ip_eol(ps)) {
		imap_bad(s, out, tag, ps);
		return;
	}
	imap_deselect(s); /* RFC 3501 6.3.1: even when this SELECT fails */
	if (!imap_folder_path(s, out, tag, name, path, sizeof(path)))
		return;
	if (!folder_exists(s->root, name)) {
		imap_tagged(s, out, tag, "NO [NONEXISTENT] Mailbox does not exist");
		return;
	}
	s->mb = mbox_open(path, false, err, sizeof(err));
	s->mbname = strdup(name);
	s->readonly = readonly;
	if (!s->mb || !s->mbname || !mbox_sync(s->mb, sync_opts(s), NULL, err, sizeof(err))) {
		imap_event(s, "select %s: %s", name, err);
		imap_deselect(s);
		imap_tagged(s, out, tag, "NO [SERVERBUG] Cannot open the mailbox");
		return;
	}
	for (size_t i = 0; i < s->mb->count; i++) {
		if (!view_add(s, &s->mb->msgs[i])) {
			imap_deselect(s);
			imap_bye(s, out, "Out of memory");
			return;
		}
	}
	s->uidvalidity = s->mb->uidvalidity;
	s->nrecent = count_recent(s);
	s->state = IS_SELECTED;
	obuf_puts(out, "* FLAGS (" PERMANENT ")\r\n");
	obuf_printf(out, "* OK [PERMANENTFLAGS (%s)] Flags permitted\r\n", readonly ? "" : PERMANENT);
	obuf_printf(out, "* %zu EXISTS\r\n* %u RECENT\r\n", s->nview, s->nrecent);
	for (size_t i = 0; i < s->nview; i++) {
		if (!(s->view[i].flags & MBOX_SEEN)) {
			obuf_printf(out, "* OK [UNSEEN %zu] First unseen\r\n", i + 1);
			break;
		}
	}
	obuf_printf(out, "* OK [UIDVALIDITY %u] UIDs valid\r\n", s->uidvalidity);
	obuf_printf(out, "* OK [UIDNEXT %u] Predicted next UID\r\n", s->mb->uidnext);
	imap_tagged(s, out, tag, "OK [%s] %s completed", readonly ? "READ-ONLY" : "READ-WRITE",
	            readonly ? "Examine" : "Select");
}

void imap_cmd_select(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                     bool uid)
{
	(void)uid;
	select_common(s, tag, ps, out, false);
}

void imap_cmd_examine(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                      bool uid)
{
	(void)uid;
	select_common(s, tag, ps, out, true);
}

/* Remove the \Deleted messages (those in set, if given); false if the folder could not be locked. */
static bool expunge(struct imap_session *s, const struct imap_seqset *set)
{
	char err[256];
	uint32_t star = s->nview ? s->view[s->nview - 1].uid : 0;

	if (!mbox_lock(s->mb, err, sizeof(err))) {
		imap_event(s, "expunge: %s", err);
		return false;
	}
	for (size_t i = 0; i < s->mb->count; i++) {
		struct mbox_msg *m = &s->mb->msgs[i];
		if (!set || seqset_contains(set, m->uid, star))
			(void)mbox_expunge(s->mb, m);
	}
	mbox_unlock(s->mb);
	s->mb->scanned = false; /* the next sync rescans */
	return true;
}

void imap_cmd_close(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                    bool uid)
{
	(void)uid;
	if (!ip_eol(ps)) {
		imap_bad(s, out, tag, ps);
		return;
	}
	if (!s->readonly)
		(void)expunge(s, NULL); /* silently: no EXPUNGE responses after CLOSE */
	imap_deselect(s);
	imap_tagged(s, out, tag, "OK Close completed");
}

void imap_cmd_unselect(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                       bool uid)
{
	(void)uid;
	if (!ip_eol(ps)) {
		imap_bad(s, out, tag, ps);
		return;
	}
	imap_deselect(s);
	imap_tagged(s, out, tag, "OK Unselect completed");
}

void imap_cmd_check(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                    bool uid)
{
	(void)uid;
	if (!ip_eol(ps)) {
		imap_bad(s, out, tag, ps);
		return;
	}
	s->mb->scanned = false;
	imap_tagged(s, out, tag, "OK Check completed");
}

void imap_cmd_expunge(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                      bool uid)
{
	struct imap_seqset set = {0};

	if ((uid && (!ip_sp(ps) || !ip_seqset(ps, &set))) || !ip_eol(ps)) {
		seqset_free(&set);
		imap_bad(s, out, tag, ps);
		return;
	}
	if (s->readonly)
		imap_tagged(s, out, tag, "NO [READ-ONLY] Mailbox is read-only");
	else if (!expunge(s, uid ? &set : NULL))
		imap_tagged(s, out, tag, "NO [SERVERBUG] Cannot lock the mailbox");
	else
		imap_tagged(s, out, tag, "OK Expunge completed");
	seqset_free(&set);
}

bool imap_set_indexes(const struct imap_session *s, const struct imap_seqset *set, bool uid, size_t **idx,
                      size_t *n)
{
	*idx = NULL;
	*n = 0;
	if (!uid) { /* a sequence number beyond the last message is an error; "n:*" is not */
		for (size_t i = 0; i < set->n; i++) {
			const struct imap_range *r = &set->r[i];
			if (r->lo != SEQ_STAR && r->hi != SEQ_STAR && (r->lo > s->nview || r->hi > s->nview))
				return false;
		}
	}
	if (!s->nview)
		return true;
	*idx = malloc(s->nview * sizeof(**idx));
	if (!*idx)
		return false;
	uint32_t star = uid ? s->view[s->nview - 1].uid : (uint32_t)s->nview;
	for (size_t i = 0; i < s->nview; i++)
		if (seqset_contains(set, uid ? s->view[i].uid : (uint32_t)(i + 1), star))
			(*idx)[(*n)++] = i;
	return true;
}
