/* FETCH attributes (RFC 3501 6.4.5) and the octets a BODY[section]<partial> names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_fetch.h"

void fetch_req_free(struct fetch_req *req)
{
	for (size_t i = 0; i < req->nbodies; i++)
		for (size_t k = 0; k < req->bodies[i].nfields; k++)
			free(req->bodies[i].fields[k]);
	req->nbodies = 0;
}

static bool word(struct imap_parser *ps, struct imap_str *w)
{
	w->p = ps->p;
	while (ps->p < ps->end && ((*ps->p >= 'A' && *ps->p <= 'Z') || (*ps->p >= 'a' && *ps->p <= 'z') ||
	                           (*ps->p >= '0' && *ps->p <= '9') || *ps->p == '.'))
		ps->p++;
	w->len = (size_t)(ps->p - w->p);
	return w->len > 0;
}

static void spec_append(struct fetch_body *b, const char *text, size_t len)
{
	size_t have = strlen(b->spec);

	if (have + len < sizeof(b->spec)) {
		memcpy(b->spec + have, text, len);
		b->spec[have + len] = '\0';
	}
}

/* "(" header-fld-name *(SP header-fld-name) ")" */
static bool field_list(struct imap_parser *ps, struct fetch_body *b)
{
	struct imap_str f;

	if (!ip_sp(ps) || !ip_char(ps, '('))
		return ip_fail(ps, "Expected a header field list");
	spec_append(b, " (", 2);
	do {
		if (!ip_astring(ps, &f) || !f.len || b->nfields == FETCH_MAX_FIELDS)
			return ip_fail(ps, "Invalid header field list");
		if (memchr(f.p, ':', f.len) || memchr(f.p, '\0', f.len))
			return ip_fail(ps, "Invalid header field name");
		char *name = strndup(f.p, f.len);
		if (!name)
			return ip_fail(ps, "Out of memory");
		for (char *c = name; *c; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		b->fields[b->nfields++] = name;
		if (b->nfields > 1)
			spec_append(b, " ", 1);
		spec_append(b, name, strlen(name));
	} while (ip_char(ps, ' '));
	spec_append(b, ")", 1);
	return ip_char(ps, ')') || ip_fail(ps, "Expected ')'");
}

/* After "[": section-spec "]" ["<" number "." nz-number ">"] */
static bool section(struct imap_parser *ps, struct fetch_body *b)
{
	struct imap_str w;
	char num[16];

	b->kind = SEC_ALL;
	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		uint32_t n;
		if (!ip_number(ps, &n) || n == 0 || b->npath == MIME_MAX_DEPTH)
			return ip_fail(ps, "Invalid section");
		b->path[b->npath++] = n;
		snprintf(num, sizeof(num), "%s%u", b->npath > 1 ? "." : "", n);
		spec_append(b, num, strlen(num));
		if (!ip_char(ps, '.'))
			break;
		if (ps->p < ps->end && (*ps->p < '0' || *ps->p > '9'))
			break;
	}
	if (!ip_peek(ps, ']')) {
		if (!word(ps, &w))
			return ip_fail(ps, "Invalid section");
		if (istr_is(w, "HEADER"))
			b->kind = SEC_HEADER;
		else if (istr_is(w, "HEADER.FIELDS"))
			b->kind = SEC_FIELDS;
		else if (istr_is(w, "HEADER.FIELDS.NOT"))
			b->kind = SEC_FIELDS_NOT;
		else if (istr_is(w, "TEXT"))
			b->kind = SEC_TEXT;
		else if (istr_is(w, "MIME") && b->npath)
			b->kind = SEC_MIME;
		else
			return ip_fail(ps, "Invalid section");
		static const char *const names[] = {"",     "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
		                                    "TEXT", "MIME"};
		if (b->npath)
			spec_append(b, ".", 1);
		spec_append(b, names[b->kind], strlen(names[b->kind]));
		if ((b->kind == SEC_FIELDS || b->kind == SEC_FIELDS_NOT) && !field_list(ps, b))
			return false;
	}
	if (!ip_char(ps, ']'))
		return ip_fail(ps, "Expected ']'");
	if (ip_char(ps, '<')) {
		if (!ip_number64(ps, &b->start) || !ip_char(ps, '.') || !ip_number64(ps, &b->count) ||
		    !b->count || !ip_char(ps, '>'))
			return ip_fail(ps, "Invalid partial range");
		b->partial = true;
	}
	return true;
}

static struct fetch_body *new_body(struct imap_parser *ps, struct fetch_req *req)
{
	if (req->nbodies == FETCH_MAX_BODIES) {
		ip_fail(ps, "Too many body sections");
		return NULL;
	}
	struct fetch_body *b = &req->bodies[req->nbodies++];
	memset(b, 0, sizeof(*b));
	return b;
}

static bool attribute(struct imap_parser *ps, struct fetch_req *req)
{
	static const struct {
		const char *name;
		unsigned bits;
	} simple[] = {
	        {"UID", F_UID},
	        {"FLAGS", F_FLAGS},
	        {"INTERNALDATE", F_INTERNALDATE},
	        {"RFC822.SIZE", F_SIZE},
	        {"ENVELOPE", F_ENVELOPE},
	        {"BODYSTRUCTURE", F_BODYSTRUCTURE},
	        {"ALL", F_FLAGS | F_INTERNALDATE | F_SIZE | F_ENVELOPE},
	        {"FAST", F_FLAGS | F_INTERNALDATE | F_SIZE},
	        {"FULL", F_FLAGS | F_INTERNALDATE | F_SIZE | F_ENVELOPE | F_BODY},
	};
	struct imap_str w;
	struct fetch_body *b;

	if (!word(ps, &w))
		return ip_fail(ps, "Expected a fetch attribute");
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		if (istr_is(w, simple[i].name)) {
			req->bits |= simple[i].bits;
			return true;
		}
	}
	if (istr_is(w, "BODY") && !ip_peek(ps, '[')) {
		req->bits |= F_BODY;
		return true;
	}
	if (istr_is(w, "RFC822") || istr_is(w, "RFC822.HEADER") || istr_is(w, "RFC822.TEXT")) {
		if (!(b = new_body(ps, req)))
			return false;
		b->label = w.len == 6                       ? "RFC822"
		           : w.p[7] == 'H' || w.p[7] == 'h' ? "RFC822.HEADER"
		                                            : "RFC822.TEXT";
		b->kind = w.len == 6 ? SEC_ALL : b->label[7] == 'H' ? SEC_HEADER : SEC_TEXT;
		b->peek = b->kind == SEC_HEADER;
		return true;
	}
	if ((istr_is(w, "BODY") || istr_is(w, "BODY.PEEK")) && ip_char(ps, '[')) {
		if (!(b = new_body(ps, req)))
			return false;
		b->peek = w.len == 9;
		return section(ps, b);
	}
	return ip_fail(ps, "Unknown fetch attribute");
}

bool fetch_parse(struct imap_parser *ps, struct fetch_req *req)
{
	memset(req, 0, sizeof(*req));
	if (ip_char(ps, '(')) {
		do {
			if (!attribute(ps, req))
				return false;
		} while (ip_char(ps, ' '));
		if (!ip_char(ps, ')'))
			return ip_fail(ps, "Expected ')'");
	} else if (!attribute(ps, req)) {
		return false;
	}
	return ip_eol(ps) || ip_fail(ps, "Unexpected text after the fetch attributes");
}

bool fetch_needs_body(const struct fetch_req *req)
{
	if (req->bits & (F_BODY | F_BODYSTRUCTURE))
		return true;
	for (size_t i = 0; i < req->nbodies; i++) {
		const struct fetch_body *b = &req->bodies[i];
		if (b->npath || (b->kind != SEC_HEADER && b->kind != SEC_FIELDS && b->kind != SEC_FIELDS_NOT))
			return true;
	}
	return false;
}

bool fetch_sets_seen(const struct fetch_req *req)
{
	for (size_t i = 0; i < req->nbodies; i++)
		if (!req->bodies[i].peek)
			return true;
	return false;
}

struct filter {
	const struct fetch_body *b;
	const char *hdr;
	char *out;
	size_t len;
};

static void filter_one(const char *name, size_t nlen, size_t start, size_t end, void *arg)
{
	struct filter *f = arg;
	bool listed = false;

	for (size_t i = 0; i < f->b->nfields && !listed; i++)
		listed = strlen(f->b->fields[i]) == nlen && strncasecmp(name, f->b->fields[i], nlen) == 0;
	if (listed != (f->b->kind == SEC_FIELDS))
		return;
	memcpy(f->out + f->len, f->hdr + start, end - start);
	f->len += end - start;
}

void fetch_section(struct imap_msg *m, const struct fetch_body *b, const char **p, size_t *n, char **owned)
{
	const char *base = m->data;
	size_t from = 0, to = m->len;

	*owned = NULL;
	*p = "";
	*n = 0;
	if (b->npath) {
		const struct mime_part *root = imap_msg_structure(m);
		const struct mime_part *part = root ? imap_mime_find(root, b->path, b->npath) : NULL;
		if (!part)
			return;
		if (b->kind == SEC_ALL || b->kind == SEC_MIME) {
			from = b->kind == SEC_ALL ? part->body : part->hdr;
			to = b->kind == SEC_ALL ? part->end : part->body;
		} else if (part->message) {
			from = part->child->hdr;
			to = part->child->end;
		} else {
			return;
		}
	}
	if (b->kind != SEC_ALL && b->kind != SEC_MIME) {
		size_t hlen = imap_header_len(base + from, to - from);
		if (b->kind == SEC_TEXT)
			from += hlen;
		else
			to = from + hlen;
	}
	if (b->kind == SEC_FIELDS || b->kind == SEC_FIELDS_NOT) {
		struct filter f = {.b = b, .hdr = base + from, .out = malloc(to - from + 3)};
		if (!f.out)
			return;
		imap_header_each(base + from, to - from, filter_one, &f);
		memcpy(f.out + f.len, "\r\n", 2);
		*owned = f.out;
		base = f.out;
		from = 0;
		to = f.len + 2;
	}
	if (b->partial) {
		uint64_t len = to - from;
		uint64_t s = b->start < len ? b->start : len;
		uint64_t c = b->count < len - s ? b->count : len - s;
		from += (size_t)s;
		to = from + (size_t)c;
	}
	*p = base + from;
	*n = to - from;
}
