/* STORE (flags in file names), COPY with UIDPLUS's COPYUID (RFC 4315), MOVE (RFC 6851), and their
 * UID forms. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_internal.h"
#include "store/folders.h"
#include "store/maildir.h"

/* A flag name -> MBOX_* bit; 0 for a keyword (accepted, not kept: PERMANENTFLAGS has no \*), -1 for an
 * unknown system flag. \Recent cannot be stored and is ignored. */
static int flag_bit(struct imap_str f)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {{"\\Seen", MBOX_SEEN},       {"\\Answered", MBOX_ANSWERED}, {"\\Flagged", MBOX_FLAGGED},
	             {"\\Deleted", MBOX_DELETED}, {"\\Draft", MBOX_DRAFT},       {"\\Recent", 0}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (istr_is(f, names[i].name))
			return (int)names[i].bit;
	return f.len && f.p[0] == '\\' ? -1 : 0;
}

bool imap_parse_flags(struct imap_parser *ps, unsigned *flags, bool parens_required)
{
	struct imap_str f;
	bool parens = ip_char(ps, '(');

	*flags = 0;
	if (!parens && parens_required)
		return ip_fail(ps, "Expected a flag list");
	if (parens && ip_char(ps, ')'))
		return true;
	do {
		int b;
		if (!ip_flag(ps, &f) || (b = flag_bit(f)) < 0)
			return ip_fail(ps, "Invalid flag");
		*flags |= (unsigned)b;
	} while (ip_char(ps, ' '));
	return !parens || ip_char(ps, ')') || ip_fail(ps, "Expected ')'");
}

void imap_cmd_store(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                    bool uid)
{
	struct imap_seqset set = {0};
	struct imap_str item;
	unsigned flags;
	size_t *idx = NULL, n = 0;
	char err[256];

	if (!ip_sp(ps) || !ip_seqset(ps, &set) || !ip_sp(ps) || !ip_atom(ps, &item) || !ip_sp(ps) ||
	    !imap_parse_flags(ps, &flags, false) || !ip_eol(ps))
		goto bad;
	int mode = item.p[0] == '+' ? 1 : item.p[0] == '-' ? -1 : 0;
	struct imap_str base = {item.p + (mode != 0), item.len - (mode != 0)};
	bool silent = base.len == 12 && strncasecmp(base.p + 5, ".SILENT", 7) == 0;
	if (silent)
		base.len = 5;
	if (!istr_is(base, "FLAGS")) {
		ip_fail(ps, "Unknown STORE item");
		goto bad;
	}
	if (!imap_set_indexes(s, &set, uid, &idx, &n)) {
		ip_fail(ps, "Invalid message sequence number");
		goto bad;
	}
	if (s->readonly) {
		imap_tagged(s, out, tag, "NO [READ-ONLY] Mailbox is read-only");
		goto out;
	}
	if (!mbox_lock(s->mb, err, sizeof(err))) {
		imap_tagged(s, out, tag, "NO [SERVERBUG] Cannot lock the mailbox");
		goto out;
	}
	bool missing = false;
	for (size_t k = 0; k < n; k++) {
		struct imap_vmsg *v = &s->view[idx[k]];
		struct mbox_msg *m = v->gone ? NULL : mbox_find(s->mb, v->uid);
		unsigned set_bits = mode >= 0 ? flags : 0;
		unsigned clear_bits = mode < 0 ? flags : mode == 0 ? MBOX_FLAGS_ALL & ~flags : 0;
		if (!m || !mbox_set_flags(s->mb, m, set_bits, clear_bits)) {
			missing = true;
			continue;
		}
		v->flags = m->flags;
		if (silent)
			continue;
		obuf_printf(out, "* %zu FETCH (", idx[k] + 1);
		if (uid)
			obuf_printf(out, "UID %u ", v->uid);
		obuf_puts(out, "FLAGS ");
		imap_put_flags(out, v->flags, v->recent);
		obuf_puts(out, ")\r\n");
	}
	mbox_unlock(s->mb);
	if (missing)
		imap_tagged(s, out, tag, "NO [EXPUNGEISSUED] Some messages were expunged meanwhile");
	else
		imap_tagged(s, out, tag, "OK Store completed");
	goto out;
bad:
	imap_bad(s, out, tag, ps);
out:
	free(idx);
	seqset_free(&set);
}

/* A UID list in order, runs of consecutive UIDs as ranges: "4:6,9". */
static void put_uids(struct obuf *out, const uint32_t *u, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && u[j + 1] == u[j] + 1)
			j++;
		obuf_printf(out, "%s%u", i ? "," : "", u[i]);
		if (j > i)
			obuf_printf(out, ":%u", u[j]);
		i = j + 1;
	}
}

static void copy_move(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                      bool uid, bool move)
{
	struct imap_seqset set = {0};
	char name[IMAP_NAME_MAX], path[PATH_MAX], err[256];
	size_t *idx = NULL, n = 0, k = 0;
	struct mbox_msg **msgs = NULL;
	uint32_t *src = NULL, *dst = NULL, validity = 0;
	struct mbox *to = NULL;

	if (!ip_sp(ps) || !ip_seqset(ps, &set) || !ip_sp(ps) || !ip_mailbox(ps, name, sizeof(name)) ||
	    !ip_eol(ps))
		goto bad;
	if (!imap_set_indexes(s, &set, uid, &idx, &n)) {
		ip_fail(ps, "Invalid message sequence number");
		goto bad;
	}
	if (!imap_folder_path(s, out, tag, name, path, sizeof(path)))
		goto out;
	if (!folder_exists(s->root, name)) {
		imap_tagged(s, out, tag, "NO [TRYCREATE] Mailbox does not exist");
		goto out;
	}
	if (move && s->readonly) {
		imap_tagged(s, out, tag, "NO [READ-ONLY] Mailbox is read-only");
		goto out;
	}
	msgs = calloc(n ? n : 1, sizeof(*msgs));
	src = calloc(n ? n : 1, sizeof(*src));
	dst = calloc(n ? n : 1, sizeof(*dst));
	to = mbox_open(path, false, err, sizeof(err));
	if (!msgs || !src || !dst || !to) {
		imap_tagged(s, out, tag, "NO [SERVERBUG] Cannot open the mailbox");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct imap_vmsg *v = &s->view[idx[i]];
		struct mbox_msg *m = v->gone ? NULL : mbox_find(s->mb, v->uid);
		if (m) {
			src[k] = v->uid;
			msgs[k++] = m;
		}
	}
	if (!mbox_copy(s->mb, msgs, k, to, dst, &validity, err, sizeof(err))) {
		bool full = maildir_errno_full(errno);
		imap_event(s, "copy to %s: %s", name, err);
		imap_tagged(s, out, tag,
		            full ? "NO [OVERQUOTA] Not enough storage space, try again later"
		                 : "NO [SERVERBUG] Copy failed");
		goto out;
	}
	size_t done = 0; /* messages expunged meanwhile were not copied */
	for (size_t i = 0; i < k; i++) {
		if (dst[i]) {
			src[done] = src[i];
			msgs[done] = msgs[i];
			dst[done++] = dst[i];
		}
	}
	if (done) {
		if (!move) /* the COPYUID line is the tagged reply: updates go before it */
			imap_sync(s, out, true);
		obuf_printf(out, "%s OK [COPYUID %u ", move ? "*" : tag, validity);
		put_uids(out, src, done);
		obuf_puts(out, " ");
		put_uids(out, dst, done);
		obuf_printf(out, "] %s\r\n", move ? "Moved" : "Copy completed");
	}
	if (move && done && mbox_lock(s->mb, err, sizeof(err))) {
		for (size_t i = 0; i < done; i++)
			if (mbox_set_flags(s->mb, msgs[i], MBOX_DELETED, 0))
				(void)mbox_expunge(s->mb, msgs[i]);
		mbox_unlock(s->mb);
		s->mb->scanned = false;
	}
	if (move)
		imap_tagged(s, out, tag, "OK Move completed");
	else if (!done)
		imap_tagged(s, out, tag, "OK Copy completed");
	goto out;
bad:
	imap_bad(s, out, tag, ps);
out:
	mbox_close(to);
	free(msgs);
	free(src);
	free(dst);
	free(idx);
	seqset_free(&set);
}

void imap_cmd_copy(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                   bool uid)
{
	copy_move(s, tag, ps, out, uid, false);
}

void imap_cmd_move(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                   bool uid)
{
	copy_move(s, tag, ps, out, uid, true);
}
