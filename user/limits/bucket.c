/* GCRA token buckets in one atomic word (bucket.h). */
#include "limits/bucket.h"

static uint64_t interval(const struct bucket_rate *r)
{
	uint64_t t = r->window_ns / r->count;
	return t ? t : 1;
}

bool bucket_take(__u64 *tat, const struct bucket_rate *r, uint64_t now)
{
	if (!r->count)
		return true;
	uint64_t t = interval(r);
	__u64 old = __atomic_load_n(tat, __ATOMIC_ACQUIRE);
	for (;;) {
		__u64 next = (old > now ? old : now) + t;
		if (next - now > t * r->count)
			return false; /* a whole bucket is already in use */
		if (__atomic_compare_exchange_n(tat, &old, next, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return true;
	}
}

uint32_t bucket_force(__u64 *tat, const struct bucket_rate *r, uint64_t now)
{
	if (!r->count)
		return 0;
	uint64_t t = interval(r), cap = now + t * r->count;
	__u64 old = __atomic_load_n(tat, __ATOMIC_ACQUIRE);
	for (;;) {
		__u64 next = (old > now ? old : now) + t;
		if (next > cap)
			next = cap;
		if (__atomic_compare_exchange_n(tat, &old, next, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return bucket_used(next, r, now);
	}
}

uint32_t bucket_used(uint64_t tat, const struct bucket_rate *r, uint64_t now)
{
	if (!r->count || tat <= now)
		return 0;
	uint64_t t = interval(r), n = (tat - now + t - 1) / t;
	return n > r->count ? r->count : (uint32_t)n;
}

uint64_t bucket_next_ns(uint64_t tat, const struct bucket_rate *r, uint64_t now)
{
	if (!r->count)
		return now;
	uint64_t t = interval(r), full = t * r->count;
	/* a token is there while tat + t - now <= full */
	return tat + t > now + full ? tat + t - full : now;
}
