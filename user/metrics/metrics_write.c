/* The Prometheus text exposition format, version 0.0.4: per family "# HELP", "# TYPE", then one line per
 * sample, "name{label="value",...} value". Histograms have cumulative _bucket lines (le="+Inf" last),
 * _sum and _count. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "metrics/metrics_internal.h"

static const char *const type_names[] = {"counter", "gauge", "histogram"};

/* HELP text escapes backslash and newline; label values also the double quote. */
static void put_escaped(struct obuf *out, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			obuf_puts(out, "\\\\");
		else if (*s == '\n')
			obuf_puts(out, "\\n");
		else if (*s == '"' && quote)
			obuf_puts(out, "\\\"");
		else
			obuf_append(out, s, 1);
	}
}

/* The shortest text that reads back as the same double; integers without a fraction. */
void metrics_format_value(double v, char *buf, size_t cap)
{
	if (isnan(v)) {
		snprintf(buf, cap, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, cap, "%sInf", v > 0 ? "+" : "-");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* name{l1="v1",l2="v2"[,le="x"]} */
static void put_name(struct obuf *out, const char *name, const char *suffix, const struct metric_def *d,
                     const struct metric_series *s, const char *le)
{
	bool any = false;

	obuf_printf(out, "%s%s", name, suffix);
	for (size_t i = 0; i < METRIC_MAX_LABELS && d->labels[i]; i++) {
		obuf_printf(out, "%s%s=\"", any ? "," : "{", d->labels[i]);
		put_escaped(out, s->labels[i], 1);
		obuf_puts(out, "\"");
		any = true;
	}
	if (le) {
		obuf_printf(out, "%sle=\"%s\"", any ? "," : "{", le);
		any = true;
	}
	if (any)
		obuf_puts(out, "}");
}

static void put_series(struct obuf *out, const struct metric_def *d, const struct metric_series *s)
{
	char v[64], le[64];

	switch (d->type) {
	case METRIC_COUNTER:
		put_name(out, d->name, "", d, s, NULL);
		obuf_printf(out, " %llu\n", (unsigned long long)s->count);
		return;
	case METRIC_GAUGE:
		put_name(out, d->name, "", d, s, NULL);
		metrics_format_value(s->value, v, sizeof(v));
		obuf_printf(out, " %s\n", v);
		return;
	case METRIC_HISTOGRAM:
		for (size_t i = 0; i < d->nbuckets && i < METRIC_MAX_BUCKETS; i++) {
			metrics_format_value(d->buckets[i], le, sizeof(le));
			put_name(out, d->name, "_bucket", d, s, le);
			obuf_printf(out, " %llu\n", (unsigned long long)s->buckets[i]);
		}
		put_name(out, d->name, "_bucket", d, s, "+Inf");
		obuf_printf(out, " %llu\n", (unsigned long long)s->count);
		put_name(out, d->name, "_sum", d, s, NULL);
		metrics_format_value(s->value, v, sizeof(v));
		obuf_printf(out, " %s\n", v);
		put_name(out, d->name, "_count", d, s, NULL);
		obuf_printf(out, " %llu\n", (unsigned long long)s->count);
		return;
	}
}

void metrics_write(const struct metrics *r, struct obuf *out)
{
	static const struct metric_series zero;

	for (int m = 0; m < M__COUNT; m++) {
		const struct metric_def *d = &metric_defs[m];
		const struct metric_family *f = r ? &r->fam[m] : NULL;

		obuf_printf(out, "# HELP %s ", d->name);
		put_escaped(out, d->help, 0);
		obuf_printf(out, "\n# TYPE %s %s\n", d->name, type_names[d->type]);
		if (!d->labels[0] && (!f || !f->n)) /* an unlabelled family always has its series */
			put_series(out, d, &zero);
		for (size_t i = 0; f && i < f->n; i++)
			put_series(out, d, &f->series[i]);
	}
}
