/* FETCH and UID FETCH: one untagged FETCH per message, the file read once (only its header when that
 * is all the request needs), sizes and dates remembered in the view. */
#include <stdio.h>
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
	/* The size only when asked for: a FETCH of FLAGS over 1,000 messages need not parse 1,000 names. */
	bool size_known = v->have_size || (req->bits & F_SIZE && m && size_from_name(m, &v->size));
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

/* A FETCH being answered: the messages are written a few at a time, each time the client has read what
 * came before (imap_session_resume), so that one FETCH 1:* BODY[] never holds a mailbox in memory. */
struct fetch_job {
	char tag[72];
	struct fetch_req req;
	size_t *idx, n, next;
	bool no_expunge; /* the command's, for the tagged reply's updates */
	struct fetch_state st;
};

static void job_free(struct imap_session *s, struct fetch_job *j)
{
	if (j->st.locked)
		mbox_unlock(s->mb);
	free(j->idx);
	fetch_req_free(&j->req);
	free(j);
}

void imap_fetch_drop(struct imap_session *s)
{
	if (s->fetch) {
		job_free(s, s->fetch);
		s->fetch = NULL;
	}
}

void imap_fetch_resume(struct imap_session *s, struct obuf *out)
{
	struct fetch_job *j = s->fetch;
	size_t limit = s->ctx.cfg->output_buffer ? s->ctx.cfg->output_buffer : IMAP_OUTPUT_DEFAULT;

	if (!j)
		return;
	while (j->next < j->n && out->len < limit)
		fetch_one(s, out, j->idx[j->next++], &j->st);
	if (j->st.locked) { /* never held while the client reads */
		mbox_unlock(s->mb);
		j->st.locked = false;
	}
	if (j->next < j->n)
		return;
	s->fetch = NULL;
	bool no_expunge = s->no_expunge;
	s->no_expunge = j->no_expunge;
	if (j->st.missing)
		imap_tagged(s, out, j->tag, "NO [EXPUNGEISSUED] Some messages were expunged meanwhile");
	else
		imap_tagged(s, out, j->tag, "OK Fetch completed");
	s->no_expunge = no_expunge;
	job_free(s, j);
}

void imap_cmd_fetch(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                    bool uid)
{
	struct imap_seqset set = {0};
	struct fetch_job *j = calloc(1, sizeof(*j));

	if (!j) {
		imap_tagged(s, out, tag, "NO [SERVERBUG] Out of memory");
		return;
	}
	if (!ip_sp(ps) || !ip_seqset(ps, &set) || !ip_sp(ps) || !fetch_parse(ps, &j->req)) {
		job_free(s, j);
		seqset_free(&set);
		imap_bad(s, out, tag, ps);
		return;
	}
	if (uid)
		j->req.bits |= F_UID;
	if (!imap_set_indexes(s, &set, uid, &j->idx, &j->n)) {
		job_free(s, j);
		seqset_free(&set);
		s->errors++;
		imap_tagged(s, out, tag, "BAD Invalid message sequence number");
		return;
	}
	seqset_free(&set);
	imap_gmime_init();
	snprintf(j->tag, sizeof(j->tag), "%s", tag);
	j->no_expunge = s->no_expunge;
	j->st = (struct fetch_state){.req = &j->req, .set_seen = fetch_sets_seen(&j->req) && !s->readonly};
	s->fetch = j;
	imap_fetch_resume(s, out);
}
