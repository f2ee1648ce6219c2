/* A strict reader of the Prometheus text exposition format 0.0.4, for originctl stats: comment lines
 * (# HELP, # TYPE, others ignored), samples "name{label="value",...} value [timestamp]". A sample belongs
 * to the family whose TYPE it follows (a histogram's _bucket, _sum and _count included). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

struct reader {
	struct metrics_text *t;
	unsigned line;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static bool fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(r->err, r->errlen, "line %u: ", r->line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < r->errlen)
		vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

static bool name_start(char c)
{
	return isalpha((unsigned char)c) || c == '_' || c == ':';
}

static bool name_char(char c)
{
	return name_start(c) || isdigit((unsigned char)c);
}

/* A metric or label name at *p (label names may not contain ':'); malloc'd, *p advanced. */
static char *read_name(const char **p, const char *end, bool label)
{
	const char *s = *p;

	if (s >= end || !name_start(*s) || (label && *s == ':'))
		return NULL;
	while (s < end && name_char(*s) && !(label && *s == ':'))
		s++;
	char *n = strndup(*p, (size_t)(s - *p));
	*p = s;
	return n;
}

static struct metric_text_family *family(struct reader *r, const char *name, bool create)
{
	struct metrics_text *t = r->t;

	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->fams[i].name, name))
			return &t->fams[i];
	if (!create)
		return NULL;
	struct metric_text_family *f = realloc(t->fams, (t->n + 1) * sizeof(*f));
	if (!f)
		return NULL;
	t->fams = f;
	f = &f[t->n];
	memset(f, 0, sizeof(*f));
	f->name = strdup(name);
	f->type = strdup("untyped");
	if (!f->name || !f->type) {
		free(f->name);
		free(f->type);
		return NULL;
	}
	t->n++;
	return f;
}

static char *unescape(const char *s, const char *end, bool quote, bool *ok)
{
	char *o = malloc((size_t)(end - s) + 1), *w = o;

	*ok = o != NULL;
	for (; o && s < end; s++) {
		if (*s != '\\') {
			*w++ = *s;
			continue;
		}
		if (++s == end || !(*s == '\\' || *s == 'n' || (quote && *s == '"'))) {
			*ok = false;
			break;
		}
		*w++ = *s == 'n' ? '\n' : *s;
	}
	if (o)
		*w = '\0';
	if (!*ok) {
		free(o);
		return NULL;
	}
	return o;
}

/* "# HELP name text" and "# TYPE name type"; any other comment is skipped. */
static bool comment(struct reader *r, const char *p, const char *end)
{
	bool help;
	bool ok;

	if (end - p >= 7 && !memcmp(p, "# HELP ", 7))
		help = true;
	else if (end - p >= 7 && !memcmp(p, "# TYPE ", 7))
		help = false;
	else
		return true;
	p += 7;
	char *name = read_name(&p, end, false);
	if (!name)
		return fail(r, "bad metric name after # %s", help ? "HELP" : "TYPE");
	struct metric_text_family *f = family(r, name, true);
	free(name);
	if (!f)
		return fail(r, "out of memory");
	if (p < end && *p != ' ')
		return fail(r, "bad metric name in # %s", help ? "HELP" : "TYPE");
	if (p < end)
		p++;
	if (help) {
		if (f->help)
			return fail(r, "second HELP for %s", f->name);
		f->help = unescape(p, end, false, &ok);
		return ok ? true : fail(r, "bad escape in HELP for %s", f->name);
	}
	static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
	size_t len = (size_t)(end - p);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strlen(types[i]) == len && !memcmp(types[i], p, len)) {
			if (f->n)
				return fail(r, "TYPE for %s after its samples", f->name);
			free(f->type);
			f->type = strdup(types[i]);
			return f->type ? true : fail(r, "out of memory");
		}
	}
	return fail(r, "unknown type '%.*s' for %s", (int)len, p, f->name);
}

/* The family a sample name belongs to: itself, or a histogram/summary it is a part of. */
static struct metric_text_family *owner(struct reader *r, const char *name)
{
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
	struct metric_text_family *f = family(r, name, false);
	size_t n = strlen(name);

	if (f)
		return f;
	for (size_t i = 0; i < 3; i++) {
		size_t sl = strlen(suffixes[i]);
		if (n <= sl || strcmp(name + n - sl, suffixes[i]) != 0)
			continue;
		char base[256];
		snprintf(base, sizeof(base), "%.*s", (int)(n - sl), name);
		f = family(r, base, false);
		if (f && (!strcmp(f->type, "histogram") || !strcmp(f->type, "summary")))
			return f;
	}
	return family(r, name, true);
}

static bool parse_value(const char *s, const char *end, double *v)
{
	char buf[64], *e;
	size_t n = (size_t)(end - s);

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!strcmp(buf, "+Inf") || !strcmp(buf, "-Inf") || !strcmp(buf, "NaN")) {
		*v = strtod(buf, NULL);
		return true;
	}
	errno = 0;
	*v = strtod(buf, &e);
	/* strtod also reads hex, "inf" and "nan": the format has none of them */
	return *e == '\0' && errno != ERANGE && !strpbrk(buf, "xXiInN");
}

static bool add_label(struct metric_sample *s, char *name, char *value)
{
	struct metric_label *l = realloc(s->labels, (s->nlabels + 1) * sizeof(*l));

	if (!l) {
		free(name);
		free(value);
		return false;
	}
	s->labels = l;
	l[s->nlabels].name = name;
	l[s->nlabels++].value = value;
	return true;
}

static void sample_free(struct metric_sample *s)
{
	for (size_t i = 0; i < s->nlabels; i++) {
		free(s->labels[i].name);
		free(s->labels[i].value);
	}
	free(s->labels);
	free(s->name);
}

static bool labels(struct reader *r, const char **pp, const char *end, struct metric_sample *s)
{
	const char *p = *pp + 1; /* past '{' */
	bool ok;

	while (p < end && *p != '}') {
		char *name = read_name(&p, end, true);
		if (!name)
			return fail(r, "bad label name in %s", s->name);
		for (size_t i = 0; i < s->nlabels; i++) {
			if (!strcmp(s->labels[i].name, name)) {
				free(name);
				return fail(r, "label repeated in %s", s->name);
			}
		}
		if (p + 1 >= end || p[0] != '=' || p[1] != '"') {
			free(name);
			return fail(r, "expected =\" after a label name in %s", s->name);
		}
		const char *v = p + 2, *q = v;
		while (q < end && *q != '"')
			q += *q == '\\' && q + 1 < end ? 2 : 1;
		if (q >= end) {
			free(name);
			return fail(r, "unterminated label value in %s", s->name);
		}
		char *value = unescape(v, q, true, &ok);
		if (!ok) {
			free(name);
			return fail(r, "bad escape in a label value of %s", s->name);
		}
		if (!add_label(s, name, value))
			return fail(r, "out of memory");
		p = q + 1;
		if (p < end && *p == ',')
			p++;
		else if (p < end && *p != '}')
			return fail(r, "expected , or } after a label in %s", s->name);
	}
	if (p >= end)
		return fail(r, "missing } in %s", s->name);
	*pp = p + 1;
	return true;
}

static bool sample(struct reader *r, const char *p, const char *end)
{
	struct metric_sample s = {0};

	if (!(s.name = read_name(&p, end, false)))
		return fail(r, "bad metric name");
	if (p < end && *p == '{' && !labels(r, &p, end, &s))
		goto bad;
	if (p >= end || *p != ' ') {
		fail(r, "expected a space and a value after %s", s.name);
		goto bad;
	}
	const char *v = ++p;
	while (p < end && *p != ' ')
		p++;
	if (!parse_value(v, p, &s.value)) {
		fail(r, "bad value '%.*s' for %s", (int)(p - v), v, s.name);
		goto bad;
	}
	if (p < end) { /* an optional timestamp: integer milliseconds */
		const char *t = ++p;
		if (*t == '-')
			t++;
		for (p = t; p < end && isdigit((unsigned char)*p); p++)
			;
		if (p == t || p != end) {
			fail(r, "bad timestamp after %s", s.name);
			goto bad;
		}
	}
	struct metric_text_family *f = owner(r, s.name);
	struct metric_sample *ns = f ? realloc(f->samples, (f->n + 1) * sizeof(*ns)) : NULL;
	if (!ns) {
		fail(r, "out of memory");
		goto bad;
	}
	f->samples = ns;
	ns[f->n++] = s;
	return true;
bad:
	sample_free(&s);
	return false;
}

bool metrics_parse(const char *text, size_t len, struct metrics_text *out, char *err, size_t errlen)
{
	struct reader r = {.t = out, .err = err, .errlen = errlen};
	const char *p = text, *end = text + len;

	memset(out, 0, sizeof(*out));
	if (len && text[len - 1] != '\n') {
		snprintf(err, errlen, "the text does not end with a newline (cut short?)");
		return false;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		r.line++;
		if (memchr(p, '\0', (size_t)(nl - p)) || (nl > p && nl[-1] == '\r')) {
			fail(&r, "NUL or CR in the line");
			goto bad;
		}
		bool ok = nl == p || (*p == '#' ? comment(&r, p, nl) : sample(&r, p, nl));
		if (!ok)
			goto bad;
		p = nl + 1;
	}
	return true;
bad:
	metrics_text_free(out);
	return false;
}

void metrics_text_free(struct metrics_text *t)
{
	for (size_t i = 0; t && i < t->n; i++) {
		struct metric_text_family *f = &t->fams[i];
		for (size_t k = 0; k < f->n; k++)
			sample_free(&f->samples[k]);
		free(f->samples);
		free(f->name);
		free(f->help);
		free(f->type);
	}
	if (t) {
		free(t->fams);
		t->fams = NULL;
		t->n = 0;
	}
}

const char *metric_sample_label(const struct metric_sample *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}
