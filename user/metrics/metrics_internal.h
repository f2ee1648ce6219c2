/* The registry's layout, shared by metrics.c (updates) and metrics_write.c (the exposition). */
#ifndef ORIGINMAIL_METRICS_INTERNAL_H
#define ORIGINMAIL_METRICS_INTERNAL_H

#include <stdint.h>

#include "metrics/metrics.h"

struct metric_series {
	char labels[METRIC_MAX_LABELS][METRIC_LABEL_MAX];
	uint64_t count;                       /* counter value; histogram observation count */
	double value;                         /* gauge value; histogram sum */
	uint64_t buckets[METRIC_MAX_BUCKETS]; /* histogram: cumulative counts per upper bound */
};

struct metric_family {
	struct metric_series *series;
	size_t n, cap;
};

struct metrics {
	struct metric_family fam[M__COUNT];
};

#endif
