/* The per-origin table over shared memory (limit_table.h; the design is in docs/bpf.md). */
#include "limits/limit_table.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CELL_TAG(v)   ((v) >> 16)
#define CELL_COUNT(v) ((v)&0xffffu)
#define KIND(st)      ((st)&3u)
#define GEN(st)       ((st) >> 2)

static uint32_t load32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static bool cas32(uint32_t *p, uint32_t *expect, uint32_t want)
{
	return __atomic_compare_exchange_n(p, expect, want, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static bool pid_exists(uint32_t pid)
{
	return !(kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

uint64_t limit_pid_start(uint32_t pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (!(f = fopen(path, "re")))
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (!p)
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++) /* p is before field `field`: 22 is starttime */
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu", &start) != 1)
		return 0;
	return start;
}

bool limit_pid_alive(uint32_t pid, uint64_t start)
{
	if (!pid_exists(pid))
		return false;
	uint64_t now = start ? limit_pid_start(pid) : 0;
	return !now || now == start; /* unreadable: assume alive */
}

/* The structure lock: the holder's pid. A holder that died (or an earlier process that had our pid) is
 * replaced; holds last microseconds, so waiters spin politely. */
static void lock(struct limit_table *t)
{
	uint32_t *w = &t->meta->lock;
	struct timespec pause = {0, 20000};

	for (unsigned spins = 1;; spins++) {
		uint32_t cur = 0;
		if (cas32(w, &cur, t->pid))
			return;
		if (spins % 64 == 0) {
			if ((cur == t->pid || !pid_exists(cur)) && cas32(w, &cur, t->pid))
				return;
			nanosleep(&pause, NULL);
		}
	}
}

static void unlock(struct limit_table *t)
{
	__atomic_store_n(&t->meta->lock, 0, __ATOMIC_SEQ_CST);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint32_t home(const struct limit_table *t, const uint8_t addr[16])
{
	uint64_t a, b;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	return (uint32_t)mix(mix(a ^ t->meta->seed[0]) ^ b ^ t->meta->seed[1]) & (t->nslots - 1);
}

static uint32_t probes(const struct limit_table *t)
{
	return t->nslots < LIMIT_PROBE ? t->nslots : LIMIT_PROBE;
}

static struct om_limit *slot_at(const struct limit_table *t, uint32_t h, uint32_t i)
{
	return &t->slots[(h + i) & (t->nslots - 1)];
}

uint32_t limit_slot_conns(const struct om_limit *s)
{
	uint32_t n = 0;

	for (int c = 0; c < OM_LIMITS_CELLS; c++)
		n += CELL_COUNT(__atomic_load_n(&s->cells[c], __ATOMIC_SEQ_CST));
	return n;
}

/* Lock-free: the slot holding addr, and its state as read (a seqlock read: the address is only taken
 * when the state did not change around reading it). */
static int32_t find(const struct limit_table *t, const uint8_t addr[16], uint32_t *state)
{
	uint32_t h = home(t, addr);

	for (uint32_t i = 0; i < probes(t); i++) {
		struct om_limit *s = slot_at(t, h, i);
		uint8_t a[16];
		uint32_t st;
		do { /* read again when the slot changed while its address was read */
			st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
			memcpy(a, s->addr, sizeof(a));
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
		} while (__atomic_load_n(&s->state, __ATOMIC_RELAXED) != st);
		if (KIND(st) == OM_SLOT_LIVE && !memcmp(a, addr, sizeof(a))) {
			*state = st;
			return (int32_t)(s - t->slots);
		}
	}
	return -1;
}

int32_t limit_find(const struct limit_table *t, const uint8_t addr[16])
{
	uint32_t st;
	return find(t, addr, &st);
}

/* Under the lock: take a LIVE slot with no open connections for another origin. Prefers slots whose
 * buckets are back to full (nothing to forget), then the one seen longest ago. The slot is marked
 * EVICTING before its cells are checked (again): a process that counts in it at that moment sees the
 * mark and backs off, or we see its count and leave the slot alone. */
static int32_t evict(struct limit_table *t, uint32_t h, uint64_t now)
{
	uint32_t skip[LIMIT_PROBE] = {0}, nskip = 0;

	for (;;) {
		int32_t best = -1;
		bool best_stale = false;
		uint64_t best_seen = 0;
		for (uint32_t i = 0; i < probes(t); i++) {
			struct om_limit *s = slot_at(t, h, i);
			uint32_t idx = (uint32_t)(s - t->slots);
			bool skipped = false;
			for (uint32_t k = 0; k < nskip; k++)
				skipped |= skip[k] == idx;
			if (skipped || KIND(load32(&s->state)) != OM_SLOT_LIVE || limit_slot_conns(s))
				continue;
			bool stale = __atomic_load_n(&s->rate_tat, __ATOMIC_RELAXED) <= now &&
			             __atomic_load_n(&s->fail_tat, __ATOMIC_RELAXED) <= now;
			uint64_t seen = __atomic_load_n(&s->seen_ns, __ATOMIC_RELAXED);
			if (best < 0 || (stale && !best_stale) || (stale == best_stale && seen < best_seen)) {
				best = (int32_t)idx;
				best_stale = stale;
				best_seen = seen;
			}
		}
		if (best < 0)
			return -1;
		struct om_limit *s = &t->slots[best];
		uint32_t st = load32(&s->state);
		if (KIND(st) == OM_SLOT_LIVE && cas32(&s->state, &st, (st & ~3u) | OM_SLOT_EVICTING)) {
			if (limit_slot_conns(s) == 0) {
				__atomic_fetch_add(&t->meta->evictions, 1, __ATOMIC_RELAXED);
				return best;
			}
			__atomic_store_n(&s->state, st, __ATOMIC_SEQ_CST); /* someone counts in it: keep it */
		}
		if (nskip == LIMIT_PROBE)
			return -1;
		skip[nskip++] = (uint32_t)best;
	}
}

/* Under the lock: addr's slot, made if needed (in a free slot, else by eviction); -1 when the probe
 * window is full of origins with open connections. */
static int32_t claim(struct limit_table *t, const uint8_t addr[16], uint64_t now, uint32_t *state)
{
	uint32_t h = home(t, addr);
	int32_t idx;

	lock(t);
	idx = find(t, addr, state);
	if (idx >= 0)
		goto out;
	for (uint32_t i = 0; i < probes(t) && idx < 0; i++)
		if (KIND(load32(&slot_at(t, h, i)->state)) != OM_SLOT_LIVE) /* EVICTING: a holder died */
			idx = (int32_t)(slot_at(t, h, i) - t->slots);
	if (idx < 0)
		idx = evict(t, h, now);
	if (idx >= 0) {
		struct om_limit *s = &t->slots[idx];
		uint32_t st = load32(&s->state);
		memcpy(s->addr, addr, sizeof(s->addr));
		__atomic_store_n(&s->rate_tat, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->fail_tat, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->refused, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->seen_ns, now, __ATOMIC_RELAXED);
		*state = ((GEN(st) + 1) << 2) | OM_SLOT_LIVE;
		__atomic_store_n(&s->state, *state, __ATOMIC_SEQ_CST);
	}
out:
	unlock(t);
	return idx;
}

/* One more connection in our cell of s: the cell's index, or -1 (no cell free, or 65535 already). */
static int cell_inc(struct om_limit *s, uint16_t tag)
{
	for (int c = 0; c < OM_LIMITS_CELLS; c++) {
		uint32_t v = load32(&s->cells[c]);
		if (CELL_TAG(v) != tag)
			continue;
		while (CELL_TAG(v) == tag && CELL_COUNT(v) < 0xffffu)
			if (cas32(&s->cells[c], &v, v + 1))
				return c;
		return -1;
	}
	for (int c = 0; c < OM_LIMITS_CELLS; c++) {
		uint32_t v = 0;
		if (cas32(&s->cells[c], &v, (uint32_t)tag << 16 | 1))
			return c;
	}
	return -1;
}

static void cell_dec(struct om_limit *s, int c, uint16_t tag)
{
	uint32_t v = load32(&s->cells[c]);

	while (CELL_TAG(v) == tag && CELL_COUNT(v) > 0) /* else taken back already (not ours any more) */
		if (cas32(&s->cells[c], &v, CELL_COUNT(v) > 1 ? v - 1 : 0))
			return;
}

static int own_cell(const struct om_limit *s, uint16_t tag)
{
	for (int c = 0; c < OM_LIMITS_CELLS; c++)
		if (CELL_TAG(load32(&s->cells[c])) == tag)
			return c;
	return -1;
}

/* addr's slot, with one count of ours in it so that it cannot be evicted while we use it (*cell -1 when
 * no cell was free: then it is used unpinned). -1 when the table has no room. */
static int32_t pin(struct limit_table *t, const uint8_t addr[16], uint64_t now, uint32_t *state, int *cell)
{
	for (int tries = 0; tries < 8; tries++) {
		int32_t idx = find(t, addr, state);
		if (idx < 0)
			idx = claim(t, addr, now, state);
		if (idx < 0)
			return -1;
		struct om_limit *s = &t->slots[idx];
		*cell = cell_inc(s, t->tag);
		if (load32(&s->state) == *state)
			return idx;
		if (*cell >= 0) /* evicted between finding and counting: not this origin's slot any more */
			cell_dec(s, *cell, t->tag);
	}
	return -1;
}

enum limit_verdict limit_admit(struct limit_table *t, const uint8_t addr[16], const struct limit_params *p,
                               uint64_t now, struct limit_ref *ref)
{
	uint32_t st;
	int cell;
	int32_t idx = pin(t, addr, now, &st, &cell);
	enum limit_verdict v = LIMIT_OK;

	ref->slot = -1;
	if (idx < 0) {
		__atomic_fetch_add(&t->meta->untracked, 1, __ATOMIC_RELAXED);
		return LIMIT_OK;
	}
	struct om_limit *s = &t->slots[idx];
	uint32_t conns = limit_slot_conns(s); /* ours included, when we have a cell */
	if (p->fail.count &&
	    bucket_used(__atomic_load_n(&s->fail_tat, __ATOMIC_ACQUIRE), &p->fail, now) >= p->fail.count)
		v = LIMIT_LOCKED;
	else if (!bucket_take(&s->rate_tat, &p->rate, now))
		v = LIMIT_RATE;
	else if (p->conn_max && (cell >= 0 ? conns > p->conn_max : conns >= p->conn_max))
		v = LIMIT_CONNS;
	__atomic_store_n(&s->seen_ns, now, __ATOMIC_RELAXED);
	if (v != LIMIT_OK) {
		__atomic_fetch_add(&s->refused, 1, __ATOMIC_RELAXED);
		if (cell >= 0)
			cell_dec(s, cell, t->tag);
		return v;
	}
	if (cell < 0) {
		__atomic_fetch_add(&t->meta->untracked, 1, __ATOMIC_RELAXED);
		return LIMIT_OK;
	}
	ref->slot = idx;
	ref->state = st;
	return LIMIT_OK;
}

void limit_release(struct limit_table *t, struct limit_ref *ref)
{
	if (ref->slot < 0)
		return;
	struct om_limit *s = &t->slots[ref->slot];
	int c = own_cell(s, t->tag); /* our count pins the slot: it is still this origin's */
	if (c >= 0)
		cell_dec(s, c, t->tag);
	ref->slot = -1;
}

uint32_t limit_auth_failed(struct limit_table *t, const uint8_t addr[16], const struct limit_params *p,
                           uint64_t now, bool *locked)
{
	uint32_t st, n;
	int cell;

	*locked = false;
	if (!p->fail.count)
		return 0;
	int32_t idx = pin(t, addr, now, &st, &cell);
	if (idx < 0)
		return 0;
	struct om_limit *s = &t->slots[idx];
	n = bucket_force(&s->fail_tat, &p->fail, now);
	__atomic_store_n(&s->seen_ns, now, __ATOMIC_RELAXED);
	if (cell >= 0)
		cell_dec(s, cell, t->tag);
	*locked = n >= p->fail.count;
	return n;
}

/* Under the lock: take back everything instance i counted, then free its entry (in that order, so the
 * tag cannot be handed out while cells still carry it). */
static void forget_instance(struct limit_table *t, unsigned i)
{
	uint32_t tag = i + 1;

	for (uint32_t k = 0; k < t->nslots; k++) {
		for (int c = 0; c < OM_LIMITS_CELLS; c++) {
			uint32_t v = load32(&t->slots[k].cells[c]);
			while (v && CELL_TAG(v) == tag && !cas32(&t->slots[k].cells[c], &v, 0))
				;
		}
	}
	__atomic_store_n(&t->meta->inst[i].start, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&t->meta->inst[i].pid, 0, __ATOMIC_SEQ_CST);
}

static bool is_dead(const struct limit_table *t, unsigned i)
{
	uint32_t pid = load32(&t->meta->inst[i].pid);

	if (!pid || i + 1 == t->tag)
		return false;
	return !t->alive(pid, __atomic_load_n(&t->meta->inst[i].start, __ATOMIC_SEQ_CST));
}

/* Under the lock. */
static unsigned reap_locked(struct limit_table *t)
{
	unsigned n = 0;

	for (unsigned i = 0; i < OM_LIMITS_INSTANCES; i++)
		if (is_dead(t, i)) {
			forget_instance(t, i);
			n++;
		}
	return n;
}

unsigned limit_table_reap(struct limit_table *t, uint64_t now, uint64_t interval_ns)
{
	bool any = false;

	if (interval_ns && now < t->next_reap_ns)
		return 0;
	t->next_reap_ns = now + interval_ns;
	for (unsigned i = 0; i < OM_LIMITS_INSTANCES && !any; i++)
		any = is_dead(t, i);
	if (!any)
		return 0;
	lock(t);
	unsigned n = reap_locked(t);
	unlock(t);
	return n;
}

bool limit_table_attach(struct limit_table *t, struct om_limit *slots, uint32_t nslots,
                        struct om_limits_meta *meta, uint32_t pid, char *err, size_t errlen)
{
	bool ok = false;

	if (!t->alive)
		t->alive = limit_pid_alive;
	t->slots = slots;
	t->meta = meta;
	t->nslots = nslots;
	t->pid = pid;
	t->tag = 0;
	t->next_reap_ns = 0;
	if (nslots < LIMIT_PROBE || (nslots & (nslots - 1))) {
		snprintf(err, errlen, "the origin table needs a power of two of at least %d slots, not %u",
		         LIMIT_PROBE, nslots);
		return false;
	}
	lock(t);
	if (!meta->layout) {
		uint64_t seed[2] = {0, 0};
		if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) /* a weak seed beats none */
			seed[0] = mix((uint64_t)pid ^ (uint64_t)time(NULL)), seed[1] = mix(seed[0]);
		meta->seed[0] = seed[0];
		meta->seed[1] = seed[1];
		meta->slot_size = sizeof(struct om_limit);
		meta->nslots = nslots;
		__atomic_store_n(&meta->layout, OM_LIMITS_LAYOUT, __ATOMIC_SEQ_CST);
	} else if (meta->layout != OM_LIMITS_LAYOUT || meta->slot_size != sizeof(struct om_limit) ||
	           meta->nslots != nslots) {
		snprintf(err, errlen,
		         "the origin table has layout %u (%u slots of %u bytes), this build uses layout %d "
		         "(%u "
		         "slots of %zu bytes)",
		         meta->layout, meta->nslots, meta->slot_size, OM_LIMITS_LAYOUT, nslots,
		         sizeof(struct om_limit));
		goto out;
	}
	reap_locked(t);
	bool alone = true;
	for (unsigned i = 0; i < OM_LIMITS_INSTANCES; i++)
		alone &= load32(&meta->inst[i].pid) == 0;
	if (alone) { /* the first instance on the host: what is left is from instances that are gone */
		memset(slots, 0, (size_t)nslots * sizeof(*slots));
		meta->evictions = meta->untracked = 0;
	}
	for (unsigned i = 0; i < OM_LIMITS_INSTANCES; i++) {
		if (load32(&meta->inst[i].pid))
			continue;
		__atomic_store_n(&meta->inst[i].start, limit_pid_start(pid), __ATOMIC_SEQ_CST);
		__atomic_store_n(&meta->inst[i].pid, pid, __ATOMIC_SEQ_CST);
		t->tag = (uint16_t)(i + 1);
		ok = true;
		goto out;
	}
	snprintf(err, errlen, "%d instances use the origin table already", OM_LIMITS_INSTANCES);
out:
	unlock(t);
	return ok;
}

void limit_table_detach(struct limit_table *t)
{
	if (!t->tag)
		return;
	lock(t);
	forget_instance(t, t->tag - 1u);
	unlock(t);
	t->tag = 0;
}

void limit_table_publish(struct limit_table *t, const struct limit_params *p)
{
	struct om_limits_meta *m = t->meta;

	__atomic_store_n(&m->conn_max, p->conn_max, __ATOMIC_RELAXED);
	__atomic_store_n(&m->rate_count, p->rate.count, __ATOMIC_RELAXED);
	__atomic_store_n(&m->rate_window_ns, p->rate.window_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&m->fail_max, p->fail.count, __ATOMIC_RELAXED);
	__atomic_store_n(&m->fail_window_ns, p->fail.window_ns, __ATOMIC_RELAXED);
}
