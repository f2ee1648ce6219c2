/* FETCH and UID FETCH: one untagged FETCH per message, the file read once (only its header when that
 * is all the request needs), sizes and dates remembered in the view. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/imap_fetch.h"
#include "imap/imap_internal.h"

/* ",W=<n>" in a base name (written by our APPEND, and by Dovecot) is the size with CRLF line ends. */
static bool size_from_name(const struct mbox_msg *m, uint64_t *size)
{
	const char *w = memmem(m->file, m->namelen, ",W=", 3);

	if (!w)
		return false;
	char *end;
	unsigned long long v = strtoull(w + 3, &end, 10);
	if (end == w + 3)
		return false;
	*size = v;
	return true;
}

struct fetch_state {
	const struct fetch_req *req;
	bool set_seen, locked, lock_failed, missing;
};

static void put_body_item(struct obuf *out, struct imap_msg *msg, const struct fetch_body *b, const char *sep)
{
	const char *p;
	size_t n;
	char *owned;

	fetch_section(msg, b, &p, &n, &owned);
	if (b->label) {
		obuf_printf(out, "%s%s ", sep, b->label);
	} else {
		obuf_printf(out, "%sBODY[%s]", sep, b->spec);
		if (b->partial)
			obuf_printf(out, "<%llu>", (unsigned long long)b->start);
		obuf_puts(out, " ");
	}
	imap_put_literal(out, p, n);
	free(owned);
}

/* Mark the message \Seen (a non-PEEK body fetch in a read-write mailbox); true if its flags changed. */
static bool mark_seen(struct imap_session *s, struct fetch_state *st, struct imap_vmsg *v, struct mbox_msg *m)
{
	char err[256];

	if (!st->set_seen || (v->flags & MBOX_SEEN) || st->lock_failed)
		return false;
	if (!st->locked && !(st->locked = mbox_lock(s->mb, err, sizeof(err)))) {
		st->lock_failed = true;
		return false;
	}
	if (!mbox_set_flags(s->mb, m, MBOX_SEEN, 0))
		return false;
	v->flags = m->flags;
	return true;
}

static void fetch_one(struct imap_session *s, struct obuf *out, size_t i, struct fetch_state *st)
{
	const struct fetch_req *req = st->req;
	struct imap_vmsg *v = &s->view[i];
	struct mbox_msg *m = v->gone ? NULL : mbox_find(s->mb, v->uid);
	struct imap_msg msg = {0};
	bool size_known = v->have_size || (m && size_from_name(m, &v->size));
	bool need_msg = req->nbodies || (req->bits & (F_ENVELOPE | F_BODY | F_BODYSTRUCTURE)) ||
	                (req->bits & F_SIZE && !size_known);
	bool need_file = need_msg || (req->bits & F_INTERNALDATE && !v->idate);
	bool full = fetch_needs_body(req) || (req->bits & F_SIZE && !size_known);

	if (size_known)
		v->have_size = true;
	if (need_file) {
		struct stat sb;
		int fd = m ? mbox_msg_open(s->mb, m) : -1;
		if (fd < 0) {
			st->missing = true;
			return;
		}
		if (fstat(fd, &sb) == 0)
			v->idate = sb.st_mtime;
		bool ok = !need_msg || imap_msg_read(fd, !full, &msg);
		close(fd);
		if (!ok) {
			st->missing = true;
			return;
		}
		if (msg.complete && !v->have_size) {
			v->size = msg.len;
			v->have_size = true;
		}
	}
	bool flags_changed = m && mark_seen(s, st, v, m);
	obuf_printf(out, "* %zu FETCH (", i + 1);
	const char *sep = "";
	if (req->bits & F_UID) {
		obuf_printf(out, "UID %u", v->uid);
		sep = " ";
	}
	if (req->bits & F_FLAGS || flags_changed) {
		obuf_printf(out, "%sFLAGS ", sep);
		imap_put_flags(out, v->flags, v->recent);
		sep = " ";
	}
	if (req->bits & F_INTERNALDATE) {
		obuf_printf(out, "%sINTERNALDATE ", sep);
		imap_put_date(out, v->idate);
		sep = " ";
	}
	if (req->bits & F_SIZE) {
		obuf_printf(out, "%sRFC822.SIZE %llu", sep, (unsigned long long)v->size);
		sep = " ";
	}
	if (req->bits & F_ENVELOPE) {
		obuf_printf(out, "%sENVELOPE ", sep);
		imap_put_envelope(out, msg.data, imap_header_len(msg.data, msg.len));
		sep = " ";
	}
	for (int ext = 0; ext < 2; ext++) {
		if (!(req->bits & (ext ? F_BODYSTRUCTURE : F_BODY)))
			continue;
		const struct mime_part *root = imap_msg_structure(&msg);
		obuf_printf(out, "%s%s ", sep, ext ? "BODYSTRUCTURE" : "BODY");
		if (root)
			imap_put_body(out, msg.data, root, ext);
		else
			obuf_puts(out, "(\"text\" \"plain\" NIL NIL NIL \"7BIT\" 0 0)");
		sep = " ";
	}
	for (size_t k = 0; k < req->nbodies; k++) {
		put_body_item(out, &msg, &req->bodies[k], sep);
		sep = " ";
	}
	obuf_puts(out, ")\r\n");
	imap_msg_free(&msg);
}

void imap_cmd_fetch(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                    bool uid)
{
	struct imap_seqset set = {0};
	struct fetch_req req;
	size_t *idx = NULL, n = 0;

	memset(&req, 0, sizeof(req));
	if (!ip_sp(ps) || !ip_seqset(ps, &set) || !ip_sp(ps) || !fetch_parse(ps, &req)) {
		fetch_req_free(&req);
		seqset_free(&set);
		imap_bad(s, out, tag, ps);
		return;
	}
	if (uid)
		req.bits |= F_UID;
	if (!imap_set_indexes(s, &set, uid, &idx, &n)) {
		fetch_req_free(&req);
		seqset_free(&set);
		s->errors++;
		imap_tagged(s, out, tag, "BAD Invalid message sequence number");
		return;
	}
	imap_gmime_init();
	struct fetch_state st = {.req = &req, .set_seen = fetch_sets_seen(&req) && !s->readonly};
	for (size_t k = 0; k < n; k++)
		fetch_one(s, out, idx[k], &st);
	if (st.locked)
		mbox_unlock(s->mb);
	free(idx);
	fetch_req_free(&req);
	seqset_free(&set);
	if (st.missing)
		imap_tagged(s, out, tag, "NO [EXPUNGEISSUED] Some messages were expunged meanwhile");
	else
		imap_tagged(s, out, tag, "OK Fetch completed");
}
