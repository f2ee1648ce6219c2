/* LIST and LSUB (RFC 3501 6.3.8, 6.3.9) with CHILDREN attributes (RFC 3348) and SPECIAL-USE
 * (RFC 6154: attributes always, and the SPECIAL-USE selection and return options). Folders whose
 * children exist but which do not themselves are listed \Noselect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_internal.h"
#include "store/folders.h"

bool imap_list_match(const char *pat, const char *name)
{
	bool a[FOLDER_MAX_LEN + 2], b[FOLDER_MAX_LEN + 2], *next = a, *cur = b;
	size_t m = strlen(pat), n = strlen(name);

	if (n > FOLDER_MAX_LEN)
		return false;
	/* INBOX is case-insensitive: so is a pattern's match of it. */
	if (strcmp(name, "INBOX") == 0 && strncasecmp(pat, "INBOX", 5) == 0) {
		pat += 5;
		m -= 5;
		name += 5;
		n = 0;
	}
	for (size_t j = 0; j <= n; j++)
		next[j] = j == n;
	for (size_t i = m; i-- > 0;) {
		char c = pat[i];
		for (size_t j = n + 1; j-- > 0;) {
			if (c == '*')
				cur[j] = next[j] || (j < n && cur[j + 1]);
			else if (c == '%')
				cur[j] = next[j] || (j < n && name[j] != FOLDER_SEP && cur[j + 1]);
			else
				cur[j] = j < n && name[j] == c && next[j + 1];
		}
		bool *t = next;
		next = cur;
		cur = t;
	}
	return next[0];
}

/* A list-mailbox: an atom that may hold % * ], or a string; copied NUL-terminated. */
static bool list_pattern(struct imap_parser *ps, char *out, size_t cap)
{
	struct imap_str s;

	if (ip_peek(ps, '"') || ip_peek(ps, '{')) {
		if (!ip_string(ps, &s))
			return false;
	} else {
		s.p = ps->p;
		while (ps->p < ps->end && (unsigned char)*ps->p > 0x20 && (unsigned char)*ps->p < 0x7f &&
		       !strchr("(){\"\\", *ps->p))
			ps->p++;
		s.len = (size_t)(ps->p - s.p);
		if (!s.len)
			return ip_fail(ps, "Expected a mailbox pattern");
	}
	if (s.len >= cap || memchr(s.p, '\0', s.len))
		return ip_fail(ps, "Invalid mailbox pattern");
	memcpy(out, s.p, s.len);
	out[s.len] = '\0';
	return true;
}

static const char *shown(const char *name)
{
	return name[0] == '\1' ? name + 1 : name;
}

static int cmp_listed(const void *a, const void *b)
{
	const char *x = shown(*(char *const *)a), *y = shown(*(char *const *)b);
	bool xi = strcmp(x, "INBOX") == 0, yi = strcmp(y, "INBOX") == 0;
	return xi || yi ? yi - xi : strcmp(x, y);
}

enum { OPT_SUBSCRIBED = 1, OPT_SPECIAL = 2, RET_SUBSCRIBED = 4 };

/* "(" option *(SP option) ")"; unknown options are ignored (RFC 5258 3). */
static bool options(struct imap_parser *ps, unsigned *opts, bool ret)
{
	struct imap_str a;

	if (!ip_char(ps, '('))
		return ip_fail(ps, "Expected options");
	if (ip_char(ps, ')'))
		return true;
	do {
		if (!ip_atom(ps, &a))
			return false;
		if (istr_is(a, "SUBSCRIBED"))
			*opts |= ret ? RET_SUBSCRIBED : OPT_SUBSCRIBED;
		else if (istr_is(a, "SPECIAL-USE") && !ret)
			*opts |= OPT_SPECIAL;
	} while (ip_char(ps, ' '));
	return ip_char(ps, ')') || ip_fail(ps, "Expected ')'");
}

/* Add the missing parents of every name ("a.b.c" -> "a", "a.b"), marked with a leading '\1' (no
 * folder name has control characters), then sort: INBOX first, parents among their children. */
static bool add_parents(struct folder_list *l)
{
	size_t real = l->n;

	for (size_t i = 0; i < real; i++) {
		char buf[FOLDER_MAX_LEN + 2];
		snprintf(buf, sizeof(buf), "\1%s", l->names[i]);
		for (char *p = strchr(buf, FOLDER_SEP); p; p = strchr(p + 1, FOLDER_SEP)) {
			*p = '\0';
			if (!folder_list_has(l, buf + 1) && !folder_list_has(l, buf) &&
			    !folder_list_add(l, buf))
				return false;
			*p = FOLDER_SEP;
		}
	}
	if (l->n)
		qsort(l->names, l->n, sizeof(*l->names), cmp_listed);
	return true;
}

static bool has_children(const struct folder_list *l, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < l->n; i++)
		if (strncmp(shown(l->names[i]), name, n) == 0 && shown(l->names[i])[n] == FOLDER_SEP)
			return true;
	return false;
}

static void list_reply(struct imap_session *s, struct obuf *out, const char *tag, struct imap_parser *ps,
                       bool lsub)
{
	char ref[IMAP_NAME_MAX], pat[IMAP_NAME_MAX], full[2 * IMAP_NAME_MAX];
	struct folder_list l = {0}, subs = {0};
	unsigned opts = 0;

	if (!ip_sp(ps) || (!lsub && ip_peek(ps, '(') && (!options(ps, &opts, false) || !ip_sp(ps))) ||
	    !ip_astring_copy(ps, ref, sizeof(ref)) || !ip_sp(ps) || !list_pattern(ps, pat, sizeof(pat)))
		goto bad;
	if (!lsub && ip_char(ps, ' ')) {
		struct imap_str r;
		if (!ip_atom(ps, &r) || !istr_is(r, "RETURN") || !ip_sp(ps) || !options(ps, &opts, true))
			goto bad;
	}
	if (!ip_eol(ps))
		goto bad;
	if (!*pat && !lsub) { /* the hierarchy delimiter and root */
		obuf_puts(out, "* LIST (\\Noselect) \".\" \"\"\r\n");
		imap_tagged(s, out, tag, "OK List completed");
		return;
	}
	snprintf(full, sizeof(full), "%s%s", ref, pat);
	bool ok = folder_subscriptions(s->root, &subs);
	if (ok && lsub) {
		for (size_t i = 0; ok && i < subs.n; i++)
			ok = folder_list_add(&l, subs.names[i]);
	} else if (ok) {
		ok = folder_list_all(s->root, &l);
	}
	ok = ok && add_parents(&l);
	if (!ok) {
		imap_tagged(s, out, tag, "NO [SERVERBUG] Cannot list mailboxes");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		const char *n = shown(l.names[i]);
		const char *use = folder_special_use(n);
		bool sub = folder_list_has(&subs, n);
		if (!imap_list_match(full, n) || (opts & OPT_SPECIAL && !use) ||
		    (opts & OPT_SUBSCRIBED && !sub))
			continue;
		obuf_printf(out, "* %s (", lsub ? "LSUB" : "LIST");
		const char *sep = "";
		if (l.names[i][0] == '\1') {
			obuf_puts(out, "\\Noselect");
			sep = " ";
		}
		if (!lsub) {
			obuf_printf(out, "%s%s", sep,
			            has_children(&l, n) ? "\\HasChildren" : "\\HasNoChildren");
			if (use)
				obuf_printf(out, " %s", use);
			if (sub && opts & (OPT_SUBSCRIBED | RET_SUBSCRIBED))
				obuf_puts(out, " \\Subscribed");
		}
		obuf_puts(out, ") \".\" ");
		imap_put_cstr(out, n);
		obuf_puts(out, "\r\n");
	}
	imap_tagged(s, out, tag, "OK %s completed", lsub ? "Lsub" : "List");
out:
	folder_list_free(&l);
	folder_list_free(&subs);
	return;
bad:
	imap_bad(s, out, tag, ps);
}

void imap_cmd_list(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                   bool uid)
{
	(void)uid;
	list_reply(s, out, tag, ps, false);
}

void imap_cmd_lsub(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                   bool uid)
{
	(void)uid;
	list_reply(s, out, tag, ps, true);
}
