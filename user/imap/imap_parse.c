/* IMAP argument parsing over an assembled command (see imap_parse.h). */
#include "imap/imap_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ip_init(struct imap_parser *ps, char *buf, size_t len)
{
	ps->p = buf;
	ps->end = buf + len;
	ps->err = NULL;
}

bool ip_eol(const struct imap_parser *ps)
{
	return ps->p >= ps->end;
}

bool ip_peek(const struct imap_parser *ps, char c)
{
	return ps->p < ps->end && *ps->p == c;
}

bool ip_char(struct imap_parser *ps, char c)
{
	if (!ip_peek(ps, c))
		return false;
	ps->p++;
	return true;
}

bool ip_sp(struct imap_parser *ps)
{
	return ip_char(ps, ' ') || ip_fail(ps, "Missing space");
}

static bool atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c);
}

static bool span(struct imap_parser *ps, struct imap_str *out, bool (*ok)(unsigned char), const char *err)
{
	char *s = ps->p;

	while (ps->p < ps->end && ok((unsigned char)*ps->p))
		ps->p++;
	out->p = s;
	out->len = (size_t)(ps->p - s);
	return out->len ? true : ip_fail(ps, err);
}

bool ip_atom(struct imap_parser *ps, struct imap_str *out)
{
	return span(ps, out, atom_char, "Expected an atom");
}

static bool tag_char(unsigned char c)
{
	return atom_char(c) && c != '+';
}

bool ip_tag(struct imap_parser *ps, struct imap_str *out)
{
	return span(ps, out, tag_char, "Invalid tag");
}

static bool quoted(struct imap_parser *ps, struct imap_str *out)
{
	char *w = ++ps->p, *start = w;

	while (ps->p < ps->end) {
		char c = *ps->p++;
		if (c == '"') {
			out->p = start;
			out->len = (size_t)(w - start);
			return true;
		}
		if (c == '\r' || c == '\n' || c == '\0')
			return ip_fail(ps, "Invalid character in a quoted string");
		if (c == '\\') {
			if (ps->p >= ps->end || (*ps->p != '"' && *ps->p != '\\'))
				return ip_fail(ps, "Invalid escape in a quoted string");
			c = *ps->p++;
		}
		*w++ = c;
	}
	return ip_fail(ps, "Unterminated quoted string");
}

static bool literal(struct imap_parser *ps, struct imap_str *out)
{
	uint64_t n = 0;
	char *p = ps->p + 1;

	if (p >= ps->end || *p < '0' || *p > '9')
		return ip_fail(ps, "Invalid literal");
	while (p < ps->end && *p >= '0' && *p <= '9') {
		if (n > (UINT64_MAX - 9) / 10)
			return ip_fail(ps, "Literal too large");
		n = n * 10 + (uint64_t)(*p++ - '0');
	}
	if (p < ps->end && *p == '+')
		p++;
	if (ps->end - p < 3 || p[0] != '}' || p[1] != '\r' || p[2] != '\n')
		return ip_fail(ps, "Invalid literal");
	p += 3;
	if ((uint64_t)(ps->end - p) < n)
		return ip_fail(ps, "Truncated literal");
	out->p = p;
	out->len = (size_t)n;
	ps->p = p + n;
	return true;
}

bool ip_string(struct imap_parser *ps, struct imap_str *out)
{
	if (ip_peek(ps, '"'))
		return quoted(ps, out);
	if (ip_peek(ps, '{'))
		return literal(ps, out);
	return ip_fail(ps, "Expected a string");
}

static bool astring_char(unsigned char c)
{
	return atom_char(c) || c == ']';
}

bool ip_astring(struct imap_parser *ps, struct imap_str *out)
{
	if (ip_peek(ps, '"') || ip_peek(ps, '{'))
		return ip_string(ps, out);
	return span(ps, out, astring_char, "Expected a string");
}

bool ip_nstring(struct imap_parser *ps, struct imap_str *out)
{
	if (ps->end - ps->p >= 3 && strncasecmp(ps->p, "NIL", 3) == 0 &&
	    (ps->end - ps->p == 3 || ps->p[3] == ' ' || ps->p[3] == ')')) {
		ps->p += 3;
		out->p = NULL;
		out->len = 0;
		return true;
	}
	return ip_string(ps, out);
}

bool ip_astring_copy(struct imap_parser *ps, char *out, size_t cap)
{
	struct imap_str s = {0};

	if (!ip_astring(ps, &s) || !s.p)
		return false;
	if (s.len >= cap || memchr(s.p, '\0', s.len))
		return ip_fail(ps, s.len >= cap ? "String too long" : "NUL in a string");
	memcpy(out, s.p, s.len);
	out[s.len] = '\0';
	return true;
}

bool ip_mailbox(struct imap_parser *ps, char *out, size_t cap)
{
	if (!ip_astring_copy(ps, out, cap))
		return false;
	if (strcasecmp(out, "INBOX") == 0)
		memcpy(out, "INBOX", 6);
	return true;
}

bool ip_number64(struct imap_parser *ps, uint64_t *out)
{
	uint64_t n = 0;
	char *s = ps->p;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		if (n > (UINT64_MAX - 9) / 10)
			return ip_fail(ps, "Number too large");
		n = n * 10 + (uint64_t)(*ps->p++ - '0');
	}
	if (ps->p == s)
		return ip_fail(ps, "Expected a number");
	*out = n;
	return true;
}

bool ip_number(struct imap_parser *ps, uint32_t *out)
{
	uint64_t n;

	if (!ip_number64(ps, &n))
		return false;
	if (n > UINT32_MAX - 1)
		return ip_fail(ps, "Number too large");
	*out = (uint32_t)n;
	return true;
}

static bool seq_number(struct imap_parser *ps, uint32_t *out)
{
	if (ip_char(ps, '*')) {
		*out = SEQ_STAR;
		return true;
	}
	if (!ip_number(ps, out) || *out == 0)
		return ip_fail(ps, "Invalid sequence set");
	return true;
}

bool ip_seqset(struct imap_parser *ps, struct imap_seqset *out)
{
	size_t cap = 0;

	out->r = NULL;
	out->n = 0;
	do {
		struct imap_range r;
		if (!seq_number(ps, &r.lo))
			goto bad;
		r.hi = r.lo;
		if (ip_char(ps, ':') && !seq_number(ps, &r.hi))
			goto bad;
		if (out->n == cap) {
			cap = cap ? cap * 2 : 8;
			struct imap_range *n = realloc(out->r, cap * sizeof(*n));
			if (!n) {
				ip_fail(ps, "Out of memory");
				goto bad;
			}
			out->r = n;
		}
		out->r[out->n++] = r;
	} while (ip_char(ps, ','));
	return true;
bad:
	ip_fail(ps, "Invalid sequence set");
	seqset_free(out);
	return false;
}

static uint32_t resolve(uint32_t v, uint32_t star)
{
	return v == SEQ_STAR ? star : v;
}

bool seqset_contains(const struct imap_seqset *s, uint32_t v, uint32_t star)
{
	for (size_t i = 0; i < s->n; i++) {
		uint32_t lo = resolve(s->r[i].lo, star), hi = resolve(s->r[i].hi, star);
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		if (v >= lo && v <= hi)
			return true;
	}
	return false;
}

uint32_t seqset_max(const struct imap_seqset *s, uint32_t star)
{
	uint32_t m = 0;

	for (size_t i = 0; i < s->n; i++) {
		uint32_t lo = resolve(s->r[i].lo, star), hi = resolve(s->r[i].hi, star);
		if (lo > m)
			m = lo;
		if (hi > m)
			m = hi;
	}
	return m;
}

void seqset_free(struct imap_seqset *s)
{
	free(s->r);
	s->r = NULL;
	s->n = 0;
}

bool istr_is(struct imap_str s, const char *word)
{
	return s.p && strlen(word) == s.len && strncasecmp(s.p, word, s.len) == 0;
}

static int month(const char *p)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (strncasecmp(p, names + 3 * i, 3) == 0)
			return i;
	return -1;
}

static bool digits(struct imap_parser *ps, int min, int max, int *out)
{
	int n = 0, v = 0;

	while (n < max && ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		v = v * 10 + (*ps->p++ - '0');
		n++;
	}
	*out = v;
	return n >= min;
}

/* d-Mon-yyyy (day of 1 or 2 digits, or " d" when fixed) into tm. */
static bool date_text(struct imap_parser *ps, bool fixed, struct tm *tm)
{
	int day, year, mon;

	if (fixed && ip_peek(ps, ' '))
		ps->p++;
	if (!digits(ps, 1, 2, &day) || !ip_char(ps, '-') || ps->end - ps->p < 4 || (mon = month(ps->p)) < 0)
		return false;
	ps->p += 3;
	if (!ip_char(ps, '-') || !digits(ps, 4, 4, &year) || day < 1 || day > 31)
		return false;
	memset(tm, 0, sizeof(*tm));
	tm->tm_mday = day;
	tm->tm_mon = mon;
	tm->tm_year = year - 1900;
	return true;
}

bool ip_date(struct imap_parser *ps, time_t *out)
{
	struct tm tm;
	bool q = ip_char(ps, '"');

	if (!date_text(ps, false, &tm) || (q && !ip_char(ps, '"')))
		return ip_fail(ps, "Invalid date");
	*out = timegm(&tm);
	return true;
}

bool ip_datetime(struct imap_parser *ps, time_t *out)
{
	struct tm tm;
	int h, m, s, zh, zm;

	if (!ip_char(ps, '"') || !date_text(ps, true, &tm) || !ip_char(ps, ' ') || !digits(ps, 2, 2, &h) ||
	    !ip_char(ps, ':') || !digits(ps, 2, 2, &m) || !ip_char(ps, ':') || !digits(ps, 2, 2, &s) ||
	    !ip_char(ps, ' ') || ps->p >= ps->end || (*ps->p != '+' && *ps->p != '-'))
		return ip_fail(ps, "Invalid date-time");
	int sign = *ps->p++ == '-' ? -1 : 1;
	if (!digits(ps, 2, 2, &zh) || !digits(ps, 2, 2, &zm) || !ip_char(ps, '"') || h > 23 || m > 59 ||
	    s > 60 || zm > 59)
		return ip_fail(ps, "Invalid date-time");
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = s;
	*out = timegm(&tm) - sign * (zh * 3600 + zm * 60);
	return true;
}

bool ip_flag(struct imap_parser *ps, struct imap_str *out)
{
	char *s = ps->p;

	if (ip_char(ps, '\\')) {
		struct imap_str a;
		if (!ip_atom(ps, &a))
			return ip_fail(ps, "Invalid flag");
		out->p = s;
		out->len = a.len + 1;
		return true;
	}
	return ip_atom(ps, out) || ip_fail(ps, "Invalid flag");
}

bool ip_literal_at_end(const char *line, size_t len, uint64_t *size, bool *plus, bool *bad)
{
	*bad = false;
	*plus = false;
	if (len < 3 || line[len - 1] != '}')
		return false;
	size_t i = len - 1;
	if (line[i - 1] == '+') {
		*plus = true;
		i--;
	}
	size_t end = i;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
		i--;
	if (i == 0 || line[i - 1] != '{')
		return false;
	if (i == end || end - i > 19) {
		*bad = true;
		return true;
	}
	uint64_t n = 0;
	for (size_t k = i; k < end; k++)
		n = n * 10 + (uint64_t)(line[k] - '0');
	*size = n;
	return true;
}
