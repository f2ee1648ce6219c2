/* Reading message files with CRLF line ends, and header fields. */
#include "imap/imap_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_STEP    16384
#define HEADER_LIMIT (1u << 20) /* headers_only reads at most this much looking for the end */
#define FILE_LIMIT   ((size_t)1 << 31)

void imap_gmime_init(void)
{
	static bool done;

	if (!done) {
		g_mime_init();
		done = true;
	}
}

char *imap_crlf(const char *data, size_t len, size_t *n)
{
	size_t extra = 0;

	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			extra++;
	char *out = malloc(len + extra + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	if (!extra) {
		memcpy(out, data, len);
		o = len;
	} else {
		for (size_t i = 0; i < len; i++) {
			if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
				out[o++] = '\r';
			out[o++] = data[i];
		}
	}
	out[o] = '\0';
	*n = o;
	return out;
}

bool imap_msg_from(const char *data, size_t len, struct imap_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->data = imap_crlf(data, len, &m->len);
	m->complete = true;
	return m->data != NULL;
}

static bool header_done(const char *buf, size_t len)
{
	return (len >= 1 && buf[0] == '\n') || (len >= 2 && buf[0] == '\r' && buf[1] == '\n') ||
	       memmem(buf, len, "\n\n", 2) || memmem(buf, len, "\n\r\n", 3);
}

bool imap_msg_read(int fd, bool headers_only, struct imap_msg *m)
{
	struct stat st;
	size_t cap, len = 0;
	bool eof = false;

	memset(m, 0, sizeof(*m));
	if (fstat(fd, &st) != 0 || (size_t)st.st_size > FILE_LIMIT)
		return false;
	cap = headers_only && (size_t)st.st_size > READ_STEP ? READ_STEP : (size_t)st.st_size;
	char *buf = malloc(cap + 1);
	if (!buf)
		return false;
	for (;;) {
		if (len == cap) {
			if (!headers_only || header_done(buf, len) || cap >= HEADER_LIMIT)
				break;
			char *p = realloc(buf, cap * 2 + 1);
			if (!p) {
				free(buf);
				return false;
			}
			buf = p;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return false;
		}
		if (r == 0) {
			eof = true;
			break;
		}
		len += (size_t)r;
		if (headers_only && header_done(buf, len))
			break;
	}
	if (!eof && len == (size_t)st.st_size) {
		char c;
		eof = read(fd, &c, 1) == 0;
	}
	m->data = imap_crlf(buf, len, &m->len);
	free(buf);
	m->complete = eof;
	return m->data != NULL;
}

void imap_msg_free(struct imap_msg *m)
{
	imap_mime_free(m->root);
	free(m->data);
	memset(m, 0, sizeof(*m));
}

size_t imap_header_len(const char *data, size_t len)
{
	if (len >= 2 && data[0] == '\r' && data[1] == '\n')
		return 2;
	const char *e = memmem(data, len, "\r\n\r\n", 4);
	return e ? (size_t)(e - data) + 4 : len;
}

void imap_header_each(const char *hdr, size_t len,
                      void (*fn)(const char *name, size_t nlen, size_t start, size_t end, void *arg),
                      void *arg)
{
	size_t pos = 0;

	while (pos < len) {
		if (hdr[pos] == '\r' && pos + 1 < len && hdr[pos + 1] == '\n')
			return; /* the empty line ending the header */
		size_t start = pos, end = pos;
		/* the field runs through every continuation line (starting with SP or TAB) */
		do {
			const char *lf = memchr(hdr + end, '\n', len - end);
			end = lf ? (size_t)(lf - hdr) + 1 : len;
		} while (end < len && (hdr[end] == ' ' || hdr[end] == '\t'));
		const char *colon = memchr(hdr + start, ':', end - start);
		size_t nlen = colon ? (size_t)(colon - (hdr + start)) : 0;
		while (nlen && (hdr[start + nlen - 1] == ' ' || hdr[start + nlen - 1] == '\t'))
			nlen--;
		if (nlen)
			fn(hdr + start, nlen, start, end, arg);
		pos = end;
	}
}

struct get_arg {
	const char *name;
	const char *hdr;
	size_t start, end;
	bool found;
};

static void get_one(const char *name, size_t nlen, size_t start, size_t end, void *arg)
{
	struct get_arg *g = arg;

	if (!g->found && strlen(g->name) == nlen && strncasecmp(name, g->name, nlen) == 0) {
		g->found = true;
		g->start = start + nlen;
		g->end = end;
	}
}

char *imap_header_get(const char *hdr, size_t len, const char *name)
{
	struct get_arg g = {.name = name, .hdr = hdr};

	imap_header_each(hdr, len, get_one, &g);
	if (!g.found)
		return NULL;
	const char *p = memchr(hdr + g.start, ':', g.end - g.start);
	size_t from = p ? (size_t)(p - hdr) + 1 : g.end;
	char *v = malloc(g.end - from + 1);
	if (!v)
		return NULL;
	size_t o = 0;
	for (size_t i = from; i < g.end; i++)
		if (hdr[i] != '\r' && hdr[i] != '\n')
			v[o++] = hdr[i];
	while (o && (v[o - 1] == ' ' || v[o - 1] == '\t'))
		o--;
	v[o] = '\0';
	size_t lead = strspn(v, " \t");
	memmove(v, v + lead, o - lead + 1);
	return v;
}
