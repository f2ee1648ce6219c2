/* A token bucket in one 64-bit word, so that processes sharing memory can update it with one
 * compare-and-swap: GCRA (the generic cell rate algorithm). The word holds the bucket's "theoretical
 * arrival time" (TAT, CLOCK_MONOTONIC ns): each token taken pushes it interval = window / count further;
 * the bucket is empty when the TAT runs a whole window ahead of now. That is a bucket of `count` tokens
 * refilled at `count` per `window`, with no timer and no second word. */
#ifndef ORIGINMAIL_BUCKET_H
#define ORIGINMAIL_BUCKET_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>

struct bucket_rate {
	uint32_t count;     /* tokens (0: no limit) */
	uint64_t window_ns; /* the time in which count tokens come back */
};

/* Take one token if there is one (atomic on *tat); false when the bucket is empty. */
bool bucket_take(__u64 *tat, const struct bucket_rate *r, uint64_t now);
/* Take one token whatever the level (a failure that has happened); the level never goes past count.
 * Returns the tokens in use afterwards. */
uint32_t bucket_force(__u64 *tat, const struct bucket_rate *r, uint64_t now);
/* Tokens in use: 0 for a full bucket, count for an empty one (rounded up). */
uint32_t bucket_used(uint64_t tat, const struct bucket_rate *r, uint64_t now);
/* When the next token comes back (now if one is there). */
uint64_t bucket_next_ns(uint64_t tat, const struct bucket_rate *r, uint64_t now);

#endif
