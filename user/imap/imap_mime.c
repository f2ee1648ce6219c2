/* The MIME structure of a message: header blocks, multipart boundaries (RFC 2046 5.1.1: a delimiter
 * is CRLF "--" boundary at the start of a line, the CRLF belonging to it), enclosed messages. Depth
 * and part count are bounded; past the bounds a part is a leaf. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_msg.h"

struct scan {
	const char *d;
	size_t parts;
};

static GMimeContentType *content_type(const char *hdr, size_t len, bool digest_child)
{
	char *v = imap_header_get(hdr, len, "Content-Type");
	GMimeContentType *ct = NULL;

	if (v) {
		ct = g_mime_content_type_parse(NULL, v);
		const char *t = ct ? g_mime_content_type_get_media_type(ct) : NULL;
		const char *st = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
		/* GMime reads garbage as application/octet-stream; RFC 2045 5.2 says text/plain. */
		bool garbage = !t || !st || !*t || !*st ||
		               (strcasecmp(t, "application") == 0 && strcasecmp(st, "octet-stream") == 0 &&
		                strncasecmp(v, "application/octet-stream", 24) != 0);
		if (garbage && ct) {
			g_object_unref(ct);
			ct = NULL;
		}
		free(v);
	}
	if (!ct) {
		ct = digest_child ? g_mime_content_type_new("message", "rfc822")
		                  : g_mime_content_type_new("text", "plain");
		if (!digest_child)
			g_mime_content_type_set_parameter(ct, "charset", "us-ascii");
	}
	return ct;
}

/* Lines of a body: its line ends, and a last line without one. */
static size_t count_lines(const char *p, size_t n)
{
	size_t lines = n && p[n - 1] != '\n';

	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
		lines++;
	return lines;
}

static void parse(struct scan *sc, struct mime_part *p, unsigned depth, bool digest_child);

static struct mime_part *new_part(struct scan *sc, size_t start, size_t end, unsigned depth,
                                  bool digest_child)
{
	struct mime_part *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->hdr = start;
	p->body = start + imap_header_len(sc->d + start, end - start);
	p->end = end;
	sc->parts++;
	parse(sc, p, depth, digest_child);
	return p;
}

/* The next delimiter line "--b" or "--b--" (then optional blanks and CRLF) starting at a line start in
 * [pos, end), pos being one: *at is where the part before it ends (the CRLF before the line belongs to
 * the delimiter), *after the start of the line after it, *close whether it closes the multipart. */
static bool delimiter(const struct scan *sc, size_t pos, size_t end, const char *b, size_t blen, size_t *at,
                      size_t *after, bool *close)
{
	const char *d = sc->d;
	size_t line = pos;

	while (line + 2 + blen <= end) {
		if (d[line] == '-' && d[line + 1] == '-' && memcmp(d + line + 2, b, blen) == 0) {
			size_t q = line + 2 + blen;
			*close = q + 1 < end && d[q] == '-' && d[q + 1] == '-';
			if (*close)
				q += 2;
			while (q < end && (d[q] == ' ' || d[q] == '\t'))
				q++;
			if (q == end || (q + 1 < end && d[q] == '\r' && d[q + 1] == '\n')) {
				*after = q == end ? end : q + 2;
				*at = line == pos ? line : line - 2;
				return true;
			}
		}
		const char *m = memmem(d + line, end - line, "\r\n--", 4);
		if (!m)
			return false;
		line = (size_t)(m - d) + 2;
	}
	return false;
}

static void parse_multipart(struct scan *sc, struct mime_part *p, unsigned depth, const char *b)
{
	size_t blen = strlen(b), at, after, pos = p->body;
	bool close = false, digest = strcasecmp(g_mime_content_type_get_media_subtype(p->ct), "digest") == 0;
	struct mime_part **tail = &p->child;

	if (!delimiter(sc, pos, p->end, b, blen, &at, &after, &close))
		return;
	while (!close && sc->parts < MIME_MAX_PARTS) {
		size_t start = after, next_at, next_after;
		bool found = delimiter(sc, start, p->end, b, blen, &next_at, &next_after, &close);
		size_t end = found ? next_at : p->end;
		struct mime_part *c = new_part(sc, start, end, depth + 1, digest);
		if (!c)
			return;
		*tail = c;
		tail = &c->next;
		p->nchild++;
		if (!found)
			break;
		after = next_after;
	}
}

static void parse(struct scan *sc, struct mime_part *p, unsigned depth, bool digest_child)
{
	const char *type, *sub;

	p->ct = content_type(sc->d + p->hdr, p->body - p->hdr, digest_child);
	p->lines = count_lines(sc->d + p->body, p->end - p->body);
	type = g_mime_content_type_get_media_type(p->ct);
	sub = g_mime_content_type_get_media_subtype(p->ct);
	if (depth >= MIME_MAX_DEPTH || sc->parts >= MIME_MAX_PARTS)
		return;
	if (strcasecmp(type, "multipart") == 0) {
		const char *b = g_mime_content_type_get_parameter(p->ct, "boundary");
		if (b && *b && strlen(b) <= 200)
			parse_multipart(sc, p, depth, b);
		if (p->nchild) {
			p->multipart = true;
			return;
		}
		/* No parts found: serve it as the plain text it then is. */
		g_object_unref(p->ct);
		p->ct = g_mime_content_type_new("text", "plain");
		g_mime_content_type_set_parameter(p->ct, "charset", "us-ascii");
	} else if (strcasecmp(type, "message") == 0 && strcasecmp(sub, "rfc822") == 0) {
		p->child = new_part(sc, p->body, p->end, depth + 1, false);
		p->message = p->child != NULL;
		p->nchild = p->message;
	}
}

const struct mime_part *imap_msg_structure(struct imap_msg *m)
{
	struct scan sc = {.d = m->data};

	if (!m->root) {
		imap_gmime_init();
		m->root = new_part(&sc, 0, m->len, 0, false);
	}
	return m->root;
}

void imap_mime_free(struct mime_part *p)
{
	while (p) {
		struct mime_part *next = p->next;
		imap_mime_free(p->child);
		if (p->ct)
			g_object_unref(p->ct);
		free(p);
		p = next;
	}
}

const struct mime_part *imap_mime_find(const struct mime_part *root, const uint32_t *path, size_t n)
{
	const struct mime_part *cur = root;

	for (size_t i = 0; i < n && cur; i++) {
		if (i > 0 && cur->message)
			cur = cur->child;
		if (cur->multipart) {
			const struct mime_part *c = cur->child;
			for (uint32_t k = 1; c && k < path[i]; k++)
				c = c->next;
			cur = path[i] >= 1 ? c : NULL;
		} else if (path[i] != 1) {
			return NULL;
		}
	}
	return cur;
}
