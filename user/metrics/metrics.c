/* The registry behind metrics.h: per family, a list of series keyed by their label values. Families
 * have a handful of series (listeners x verdicts at most), so a linear search is all it needs. */
#include "metrics/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_internal.h"

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void metrics_clear(struct metrics *r, enum metric m)
{
	if (!r || (unsigned)m >= M__COUNT)
		return;
	free(r->fam[m].series);
	r->fam[m].series = NULL;
	r->fam[m].n = r->fam[m].cap = 0;
}

void metrics_free(struct metrics *r)
{
	if (!r)
		return;
	for (int m = 0; m < M__COUNT; m++)
		metrics_clear(r, (enum metric)m);
	free(r);
}

struct metrics *metrics_default(void)
{
	static struct metrics *def;

	if (!def)
		def = metrics_new();
	return def;
}

static size_t label_count(enum metric m)
{
	size_t n = 0;
	while (n < METRIC_MAX_LABELS && metric_defs[m].labels[n])
		n++;
	return n;
}

/* The series with these label values, created (at zero) when it is new; NULL when out of memory. */
static struct metric_series *series(struct metrics *r, enum metric m, const char *const *labels)
{
	struct metric_family *f;
	size_t nl;
	struct metric_series key = {0};

	if (!r || (unsigned)m >= M__COUNT)
		return NULL;
	f = &r->fam[m];
	nl = label_count(m);
	for (size_t i = 0; i < nl; i++) {
		const char *v = labels && labels[i] ? labels[i] : "";
		size_t len = strnlen(v, METRIC_LABEL_MAX - 1);
		memcpy(key.labels[i], v, len);
	}
	for (size_t i = 0; i < f->n; i++) {
		if (!memcmp(f->series[i].labels, key.labels, sizeof(key.labels)))
			return &f->series[i];
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4;
		struct metric_series *p = realloc(f->series, cap * sizeof(*p));
		if (!p)
			return NULL; /* the event goes uncounted: metrics never stop the mail */
		f->series = p;
		f->cap = cap;
	}
	f->series[f->n] = key;
	return &f->series[f->n++];
}

void metrics_add_to(struct metrics *r, enum metric m, uint64_t n, const char *const *labels)
{
	struct metric_series *s = series(r, m, labels);
	if (s && metric_defs[m].type == METRIC_COUNTER)
		s->count += n;
}

void metrics_set_in(struct metrics *r, enum metric m, double v, const char *const *labels)
{
	struct metric_series *s = series(r, m, labels);
	if (s && metric_defs[m].type == METRIC_GAUGE)
		s->value = v;
}

void metrics_observe_in(struct metrics *r, enum metric m, double v, const char *const *labels)
{
	struct metric_series *s = series(r, m, labels);
	const struct metric_def *d = &metric_defs[m];

	if (!s || d->type != METRIC_HISTOGRAM)
		return;
	for (size_t i = 0; i < d->nbuckets && i < METRIC_MAX_BUCKETS; i++) {
		if (v <= d->buckets[i])
			s->buckets[i]++; /* cumulative: every bucket whose bound v is within */
	}
	s->count++;
	s->value += v;
}
