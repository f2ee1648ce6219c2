/* The daemon's counters, gauges and histograms, kept in one place and written in the Prometheus text
 * exposition format (version 0.0.4) for the metrics endpoint (docs/configuration.md, "Metrics").
 *
 * Every family is defined once in metrics_defs.c: its name, type, help text and label names. Callers give
 * label values in that order:
 *
 *     metrics_inc(M_CONNECTIONS, "smtp", "smtp", "proxy-required");
 *     metrics_add(M_STORED_BYTES, 1234, "smtp");
 *     metrics_observe(M_PROXY_WAIT, 0.004, "smtp");
 *
 * One process, one thread: no locking. The relay worker (a forked child) has its own copy, never scraped. */
#ifndef ORIGINMAIL_METRICS_H
#define ORIGINMAIL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/obuf.h"

#define METRIC_MAX_LABELS  3
#define METRIC_LABEL_MAX   72 /* a label value longer than this is cut (listener names are at most 64) */
#define METRIC_MAX_BUCKETS 16

enum metric {
	M_CONNECTIONS,             /* counter {listener, protocol, verdict} */
	M_CONNECTIONS_OPEN,        /* gauge */
	M_PROXY_HEADERS,           /* counter {version, command} */
	M_PROXY_ERRORS,            /* counter {reason} */
	M_PROXY_WAIT,              /* histogram {listener}, seconds from accept to a complete header */
	M_TLS_HANDSHAKES,          /* counter {listener} */
	M_TLS_FAILURES,            /* counter {listener, reason} */
	M_MESSAGES,                /* counter {protocol} */
	M_STORED_BYTES,            /* counter {protocol} */
	M_LOGINS,                  /* counter {protocol, result} */
	M_ORIGIN_LIMIT_REJECTIONS, /* counter {} */
	M_BPF_ATTACHED,            /* gauge */
	M_BPF_MAP_ENTRIES,         /* gauge {map} */
	M_BPF_DROPPED_BYTES,       /* counter */
	M_BPF_EVENTS_LOST,         /* counter */
	M_FOLDER_CACHE_MESSAGES,   /* gauge */
	M_FOLDER_OPENS,            /* counter {result} */
	M__COUNT
};

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metric_def {
	const char *name; /* without _bucket/_sum/_count */
	enum metric_type type;
	const char *help;
	const char *labels[METRIC_MAX_LABELS]; /* NULL-terminated when fewer */
	const double *buckets;                 /* histogram upper bounds, ascending; +Inf is implied */
	size_t nbuckets;
};

extern const struct metric_def metric_defs[M__COUNT];

struct metrics; /* a registry: the daemon uses metrics_default(); tests make their own */

struct metrics *metrics_new(void);
void metrics_free(struct metrics *r);
struct metrics *metrics_default(void);

/* Label values: as many as the family has label names (the rest of the array is ignored). */
void metrics_add_to(struct metrics *r, enum metric m, uint64_t n, const char *const *labels);
void metrics_set_in(struct metrics *r, enum metric m, double v, const char *const *labels);
void metrics_observe_in(struct metrics *r, enum metric m, double v, const char *const *labels);
/* Drop every series of a gauge family (before it is refilled, so that gone series do not linger). */
void metrics_clear(struct metrics *r, enum metric m);

/* Every family: HELP, TYPE, then its series in the order they first appeared. Families without labels
 * always have their one series (0 until something happens); labelled ones appear with their first
 * event. */
void metrics_write(const struct metrics *r, struct obuf *out);
/* A sample value as the format writes it: integers plainly, else the shortest exact text, NaN, +Inf. */
void metrics_format_value(double v, char *buf, size_t cap);

/* Reading an exposition back (originctl stats): families with their HELP, TYPE and samples. Strict:
 * anything not in the 0.0.4 text format is an error naming the line. */
struct metric_label {
	char *name, *value;
};
struct metric_sample {
	char *name; /* with its _bucket/_sum/_count suffix */
	struct metric_label *labels;
	size_t nlabels;
	double value;
};
struct metric_text_family {
	char *name, *help, *type; /* type "untyped" without a TYPE line */
	struct metric_sample *samples;
	size_t n;
};
struct metrics_text {
	struct metric_text_family *fams;
	size_t n;
};
bool metrics_parse(const char *text, size_t len, struct metrics_text *out, char *err, size_t errlen);
void metrics_text_free(struct metrics_text *t);
/* The value of label name in s, or NULL. */
const char *metric_sample_label(const struct metric_sample *s, const char *name);

/* The same on the default registry. */
#define METRIC_LABELS(...)         ((const char *const[METRIC_MAX_LABELS]){__VA_ARGS__})
#define metrics_add(m, n, ...)     metrics_add_to(metrics_default(), (m), (n), METRIC_LABELS(__VA_ARGS__))
#define metrics_inc(m, ...)        metrics_add(m, 1, __VA_ARGS__)
#define metrics_set(m, v, ...)     metrics_set_in(metrics_default(), (m), (v), METRIC_LABELS(__VA_ARGS__))
#define metrics_observe(m, v, ...) metrics_observe_in(metrics_default(), (m), (v), METRIC_LABELS(__VA_ARGS__))

#endif
