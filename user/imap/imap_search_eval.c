/* SEARCH and UID SEARCH: each message's file is read at most once, and only as far as the criteria
 * need (flags and UIDs need none). Header criteria match the raw value or its RFC 2047 decoding
 * (GMime), case-insensitively; dates are compared by day. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/imap_internal.h"
#include "imap/imap_msg.h"
#include "imap/imap_search.h"

struct sctx {
	struct imap_session *s;
	size_t i;
	struct imap_vmsg *v;
	struct mbox_msg *m;
	struct imap_msg msg;
	bool full, loaded, failed;
};

static bool load(struct sctx *c)
{
	struct stat st;

	if (c->loaded || c->failed)
		return c->loaded;
	int fd = c->m ? mbox_msg_open(c->s->mb, c->m) : -1;
	if (fd < 0) {
		c->failed = true;
		return false;
	}
	if (fstat(fd, &st) == 0)
		c->v->idate = st.st_mtime;
	c->loaded = imap_msg_read(fd, !c->full, &c->msg);
	close(fd);
	c->failed = !c->loaded;
	if (c->loaded && c->msg.complete) {
		c->v->size = c->msg.len;
		c->v->have_size = true;
	}
	return c->loaded;
}

struct hmatch {
	const struct snode *n;
	const char *hdr;
	bool found;
};

static void header_one(const char *name, size_t nlen, size_t start, size_t end, void *arg)
{
	struct hmatch *h = arg;
	const char *field = h->n->field;

	if (h->found || (*field && (strlen(field) != nlen || strncasecmp(name, field, nlen) != 0)))
		return;
	const char *colon = memchr(h->hdr + start, ':', end - start);
	size_t from = colon ? (size_t)(colon - h->hdr) + 1 : end, o = 0;
	char *v = malloc(end - from + 1);
	if (!v)
		return;
	for (size_t i = from; i < end; i++)
		if (h->hdr[i] != '\r' && h->hdr[i] != '\n')
			v[o++] = h->hdr[i];
	v[o] = '\0';
	h->found = search_contains(v, o, h->n->str, h->n->slen);
	if (!h->found) {
		char *d = g_mime_utils_header_decode_text(NULL, v);
		h->found = d && search_contains(d, strlen(d), h->n->str, h->n->slen);
		g_free(d);
	}
	free(v);
}

static bool header_match(struct sctx *c, const struct snode *n)
{
	if (!load(c))
		return false;
	struct hmatch h = {.n = n, .hdr = c->msg.data};
	imap_header_each(c->msg.data, imap_header_len(c->msg.data, c->msg.len), header_one, &h);
	return h.found;
}

static time_t day_of(time_t t)
{
	return t - ((t % 86400) + 86400) % 86400;
}

/* The day the Date: header names (in its own time zone); the internal date's without one. */
static time_t sent_day(struct sctx *c)
{
	if (!load(c))
		return 0;
	char *v = imap_header_get(c->msg.data, imap_header_len(c->msg.data, c->msg.len), "Date");
	GDateTime *d = v ? g_mime_utils_header_decode_date(v) : NULL;
	free(v);
	if (!d)
		return day_of(c->v->idate);
	struct tm tm = {.tm_year = g_date_time_get_year(d) - 1900,
	                .tm_mon = g_date_time_get_month(d) - 1,
	                .tm_mday = g_date_time_get_day_of_month(d)};
	g_date_time_unref(d);
	return timegm(&tm);
}

static bool eval(struct sctx *c, const struct snode *n);

static bool compare_day(time_t day, enum skey k, time_t want)
{
	if (k == SK_BEFORE || k == SK_SENTBEFORE)
		return day < want;
	if (k == SK_ON || k == SK_SENTON)
		return day == want;
	return day >= want;
}

static bool eval_one(struct sctx *c, const struct snode *n)
{
	const struct imap_session *s = c->s;

	switch (n->key) {
	case SK_ALL:
		return true;
	case SK_NONE:
		return false;
	case SK_FLAG:
		return (c->v->flags & n->flag) != 0;
	case SK_NEW:
		return c->v->recent && !(c->v->flags & MBOX_SEEN);
	case SK_RECENT:
		return c->v->recent;
	case SK_HEADER:
		return header_match(c, n);
	case SK_BODY:
	case SK_TEXT:
		if (!load(c))
			return false;
		size_t hlen = n->key == SK_BODY ? imap_header_len(c->msg.data, c->msg.len) : 0;
		return search_contains(c->msg.data + hlen, c->msg.len - hlen, n->str, n->slen);
	case SK_BEFORE:
	case SK_ON:
	case SK_SINCE:
		if (!c->v->idate && !load(c))
			return false;
		return compare_day(day_of(c->v->idate), n->key, n->day);
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		return compare_day(sent_day(c), n->key, n->day);
	case SK_LARGER:
	case SK_SMALLER:
		if (!c->v->have_size && !load(c))
			return false;
		return n->key == SK_LARGER ? c->v->size > n->n : c->v->size < n->n;
	case SK_UID:
		return seqset_contains(&n->set, c->v->uid, s->view[s->nview - 1].uid);
	case SK_SEQ:
		return seqset_contains(&n->set, (uint32_t)(c->i + 1), (uint32_t)s->nview);
	case SK_NOT:
		return !eval(c, n->kids);
	case SK_OR:
		return eval(c, n->kids) || eval(c, n->kids->next);
	case SK_AND:
		for (const struct snode *k = n->kids; k; k = k->next)
			if (!eval(c, k))
				return false;
		return true;
	}
	return false;
}

static bool eval(struct sctx *c, const struct snode *n)
{
	return n && eval_one(c, n);
}

void imap_cmd_search(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                     bool uid)
{
	bool badcharset, header, body;
	struct snode *q = search_parse(ps, &badcharset);

	if (!q) {
		if (badcharset)
			imap_tagged(s, out, tag, "NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
		else
			imap_bad(s, out, tag, ps);
		return;
	}
	imap_gmime_init();
	search_needs(q, &header, &body);
	obuf_puts(out, "* SEARCH");
	for (size_t i = 0; i < s->nview; i++) {
		struct imap_vmsg *v = &s->view[i];
		struct sctx c = {.s = s, .i = i, .v = v, .full = body};
		if (v->gone || !(c.m = mbox_find(s->mb, v->uid)))
			continue;
		if (eval(&c, q))
			obuf_printf(out, " %u", uid ? v->uid : (uint32_t)(i + 1));
		imap_msg_free(&c.msg);
	}
	obuf_puts(out, "\r\n");
	search_free(q);
	imap_tagged(s, out, tag, "OK Search completed");
}
