/* Parsing SEARCH criteria into a tree (imap_search.h). */
#include "imap/imap_search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/mailbox.h"

struct sp {
	struct imap_parser *ps;
	unsigned nodes;
};

void search_free(struct snode *n)
{
	while (n) {
		struct snode *next = n->next;
		search_free(n->kids);
		free(n->field);
		free(n->str);
		seqset_free(&n->set);
		free(n);
		n = next;
	}
}

static struct snode *node(struct sp *sp, enum skey k)
{
	struct snode *n = ++sp->nodes > SEARCH_MAX_NODES ? NULL : calloc(1, sizeof(*n));

	if (!n)
		ip_fail(sp->ps, "Search too complex");
	else
		n->key = k;
	return n;
}

static bool str_arg(struct sp *sp, struct snode *n)
{
	struct imap_str s;

	if (!ip_sp(sp->ps) || !ip_astring(sp->ps, &s))
		return false;
	n->str = strndup(s.p, s.len);
	n->slen = s.len;
	return n->str || ip_fail(sp->ps, "Out of memory");
}

static const struct {
	const char *name;
	enum skey key;
	unsigned flag;
	bool set;
} simple[] = {
        {"ALL", SK_ALL, 0, true},
        {"ANSWERED", SK_FLAG, MBOX_ANSWERED, true},
        {"DELETED", SK_FLAG, MBOX_DELETED, true},
        {"DRAFT", SK_FLAG, MBOX_DRAFT, true},
        {"FLAGGED", SK_FLAG, MBOX_FLAGGED, true},
        {"SEEN", SK_FLAG, MBOX_SEEN, true},
        {"UNANSWERED", SK_FLAG, MBOX_ANSWERED, false},
        {"UNDELETED", SK_FLAG, MBOX_DELETED, false},
        {"UNDRAFT", SK_FLAG, MBOX_DRAFT, false},
        {"UNFLAGGED", SK_FLAG, MBOX_FLAGGED, false},
        {"UNSEEN", SK_FLAG, MBOX_SEEN, false},
        {"NEW", SK_NEW, 0, true},
        {"OLD", SK_RECENT, 0, false},
        {"RECENT", SK_RECENT, 0, true},
};

static const struct {
	const char *name;
	enum skey key;
} dated[] = {{"BEFORE", SK_BEFORE},         {"ON", SK_ON},         {"SINCE", SK_SINCE},
             {"SENTBEFORE", SK_SENTBEFORE}, {"SENTON", SK_SENTON}, {"SENTSINCE", SK_SENTSINCE}};

static const char *const addressed[] = {"BCC", "CC", "FROM", "SUBJECT", "TO"};

static struct snode *key(struct sp *sp, unsigned depth);

/* A negation node around k (UNSEEN and OLD are NOT of SEEN and RECENT). */
static struct snode *negate(struct sp *sp, struct snode *k)
{
	struct snode *n = k ? node(sp, SK_NOT) : NULL;

	if (!n) {
		search_free(k);
		return NULL;
	}
	n->kids = k;
	return n;
}

static struct snode *named(struct sp *sp, struct imap_str w, unsigned depth)
{
	struct imap_parser *ps = sp->ps;
	struct snode *n = NULL;

	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		if (!istr_is(w, simple[i].name))
			continue;
		if ((n = node(sp, simple[i].key)))
			n->flag = simple[i].flag;
		return simple[i].set ? n : negate(sp, n);
	}
	for (size_t i = 0; i < sizeof(dated) / sizeof(dated[0]); i++) {
		if (!istr_is(w, dated[i].name))
			continue;
		if ((n = node(sp, dated[i].key)) && (!ip_sp(ps) || !ip_date(ps, &n->day)))
			goto fail;
		return n;
	}
	for (size_t i = 0; i < sizeof(addressed) / sizeof(addressed[0]); i++) {
		if (!istr_is(w, addressed[i]))
			continue;
		if (!(n = node(sp, SK_HEADER)) || !(n->field = strdup(addressed[i])) || !str_arg(sp, n))
			goto fail;
		return n;
	}
	if (istr_is(w, "HEADER")) {
		struct imap_str f;
		if (!(n = node(sp, SK_HEADER)) || !ip_sp(ps) || !ip_astring(ps, &f) ||
		    !(n->field = strndup(f.p, f.len)) || !str_arg(sp, n))
			goto fail;
		return n;
	}
	if (istr_is(w, "BODY") || istr_is(w, "TEXT")) {
		if (!(n = node(sp, istr_is(w, "BODY") ? SK_BODY : SK_TEXT)) || !str_arg(sp, n))
			goto fail;
		return n;
	}
	if (istr_is(w, "KEYWORD") || istr_is(w, "UNKEYWORD")) {
		struct imap_str f;
		if (!(n = node(sp, SK_NONE)) || !ip_sp(ps) || !ip_flag(ps, &f))
			goto fail;
		return w.len == 7 ? n : negate(sp, n);
	}
	if (istr_is(w, "LARGER") || istr_is(w, "SMALLER")) {
		if (!(n = node(sp, istr_is(w, "LARGER") ? SK_LARGER : SK_SMALLER)) || !ip_sp(ps) ||
		    !ip_number64(ps, &n->n))
			goto fail;
		return n;
	}
	if (istr_is(w, "UID")) {
		if (!(n = node(sp, SK_UID)) || !ip_sp(ps) || !ip_seqset(ps, &n->set))
			goto fail;
		return n;
	}
	if (istr_is(w, "NOT")) {
		if (!ip_sp(ps))
			return NULL;
		return negate(sp, key(sp, depth + 1));
	}
	if (istr_is(w, "OR")) {
		if (!(n = node(sp, SK_OR)) || !ip_sp(ps) || !(n->kids = key(sp, depth + 1)) || !ip_sp(ps) ||
		    !(n->kids->next = key(sp, depth + 1)))
			goto fail;
		return n;
	}
	ip_fail(ps, "Unknown search key");
	return NULL;
fail:
	search_free(n);
	return NULL;
}

/* A list of keys separated by SP, up to end (')' or the end of the command), as an AND node. */
static struct snode *list(struct sp *sp, unsigned depth, bool parens)
{
	struct snode *and = node(sp, SK_AND), **tail;

	if (!and)
		return NULL;
	tail = &and->kids;
	do {
		if (!(*tail = key(sp, depth + 1))) {
			search_free(and);
			return NULL;
		}
		tail = &(*tail)->next;
	} while (ip_char(sp->ps, ' '));
	if (parens ? !ip_char(sp->ps, ')') : !ip_eol(sp->ps)) {
		ip_fail(sp->ps, parens ? "Expected ')'" : "Unexpected text in the search");
		search_free(and);
		return NULL;
	}
	return and;
}

static struct snode *key(struct sp *sp, unsigned depth)
{
	struct imap_parser *ps = sp->ps;
	struct imap_str w;

	if (depth > SEARCH_MAX_DEPTH) {
		ip_fail(ps, "Search too deeply nested");
		return NULL;
	}
	if (ip_char(ps, '('))
		return list(sp, depth, true);
	if (ip_peek(ps, '*') || (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')) {
		struct snode *n = node(sp, SK_SEQ);
		if (n && !ip_seqset(ps, &n->set)) {
			search_free(n);
			return NULL;
		}
		return n;
	}
	if (!ip_atom(ps, &w))
		return NULL;
	return named(sp, w, depth);
}

struct snode *search_parse(struct imap_parser *ps, bool *badcharset)
{
	struct sp sp = {.ps = ps};
	struct imap_str w;

	*badcharset = false;
	if (!ip_sp(ps))
		return NULL;
	if (ps->end - ps->p > 8 && strncasecmp(ps->p, "CHARSET ", 8) == 0) {
		ps->p += 8;
		if (!ip_astring(ps, &w) || !ip_sp(ps))
			return NULL;
		if (!istr_is(w, "US-ASCII") && !istr_is(w, "UTF-8")) {
			*badcharset = true;
			return NULL;
		}
	}
	return list(&sp, 0, false);
}

static void needs(const struct snode *n, bool *header, bool *body)
{
	for (; n; n = n->next) {
		if (n->key == SK_HEADER || n->key == SK_SENTBEFORE || n->key == SK_SENTON ||
		    n->key == SK_SENTSINCE)
			*header = true;
		if (n->key == SK_BODY || n->key == SK_TEXT || n->key == SK_LARGER || n->key == SK_SMALLER)
			*body = true;
		needs(n->kids, header, body);
	}
}

void search_needs(const struct snode *n, bool *header, bool *body)
{
	*header = *body = false;
	needs(n, header, body);
}

static unsigned char fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

bool search_contains(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (!nlen)
		return true;
	unsigned char first = fold((unsigned char)needle[0]);
	for (size_t i = 0; i + nlen <= hlen; i++) {
		if (fold((unsigned char)hay[i]) != first)
			continue;
		size_t k = 1;
		while (k < nlen && fold((unsigned char)hay[i + k]) == fold((unsigned char)needle[k]))
			k++;
		if (k == nlen)
			return true;
	}
	return false;
}
