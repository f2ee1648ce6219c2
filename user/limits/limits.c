/* The daemon's abuse limits (limits.h): which table, the configuration's numbers, log lines. */
#include "limits/limits.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bpf/om_bpf.h"
#include "log/log.h"

#define REAP_INTERVAL_NS (10ull * 1000000000ull) /* look for instances that died this often */
#define FULL_WARN_NS     (60ull * 1000000000ull) /* at most one "table full" warning a minute */

struct limits {
	struct limit_table t;
	bool shared;
	void *map_slots, *map_meta; /* the mmaps of the pinned maps (shared) */
	size_t len_slots, len_meta;
	uint64_t last_untracked, next_full_warn_ns;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return (n + pg - 1) / pg * pg;
}

bool limits_key(const union pp_sockaddr *a, unsigned v6_prefix, uint8_t key[16])
{
	memset(key, 0, 16);
	if (a->sa.sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &a->in.sin_addr, 4);
		return true;
	}
	if (a->sa.sa_family != AF_INET6)
		return false;
	memcpy(key, &a->in6.sin6_addr, 16);
	if (IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr))
		return true; /* an IPv4 client: the whole address */
	for (unsigned bit = v6_prefix; bit < 128; bit++)
		key[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	return true;
}

void limits_params(const struct config *cfg, struct limit_params *p)
{
	p->conn_max = cfg->origin_max_connections;
	p->rate.count = cfg->origin_rate.count;
	p->rate.window_ns = (uint64_t)cfg->origin_rate.window_ms * 1000000ull;
	p->fail.count = cfg->origin_auth_fails.count;
	p->fail.window_ns = (uint64_t)cfg->origin_auth_fails.window_ms * 1000000ull;
}

unsigned limits_delay_ms(const struct config *cfg, uint32_t n)
{
	uint64_t d = cfg->origin_auth_delay_ms;

	for (uint32_t i = 1; i < n && d < cfg->origin_auth_delay_max_ms; i++)
		d *= 2;
	return d > cfg->origin_auth_delay_max_ms ? cfg->origin_auth_delay_max_ms : (unsigned)d;
}

/* The pinned maps, mapped into our memory (they stay mapped after the privilege drop). */
static bool map_shared(struct limits *l, struct om_bpf *bpf, char *err, size_t errlen)
{
	int fd_slots, fd_meta;

	if (!om_bpf_limits_fds(bpf, &fd_slots, &fd_meta)) {
		snprintf(err, errlen, "no limits maps in the BPF object");
		return false;
	}
	l->len_slots = page_round((size_t)OM_LIMITS_SLOTS * sizeof(struct om_limit));
	l->len_meta = page_round(sizeof(struct om_limits_meta));
	l->map_slots = mmap(NULL, l->len_slots, PROT_READ | PROT_WRITE, MAP_SHARED, fd_slots, 0);
	l->map_meta = mmap(NULL, l->len_meta, PROT_READ | PROT_WRITE, MAP_SHARED, fd_meta, 0);
	if (l->map_slots == MAP_FAILED || l->map_meta == MAP_FAILED) {
		snprintf(err, errlen, "cannot mmap the limits maps: %m");
		return false;
	}
	return limit_table_attach(&l->t, l->map_slots, OM_LIMITS_SLOTS, l->map_meta, (uint32_t)getpid(), err,
	                          errlen);
}

static void unmap(struct limits *l)
{
	if (l->map_slots && l->map_slots != MAP_FAILED)
		munmap(l->map_slots, l->len_slots);
	if (l->map_meta && l->map_meta != MAP_FAILED)
		munmap(l->map_meta, l->len_meta);
	l->map_slots = l->map_meta = NULL;
}

struct limits *limits_open(const struct config *cfg, struct om_bpf *bpf)
{
	struct limits *l = calloc(1, sizeof(*l));
	char err[512] = "bpf is off";

	if (!l)
		return NULL;
	if (bpf && map_shared(l, bpf, err, sizeof(err))) {
		l->shared = true;
		log_info("Origin limits shared by every instance on this host: pinned maps %s and %s in %s",
		         OM_PIN_LIMITS, OM_PIN_LIMITS_META,
		         *cfg->bpf_pin_dir ? cfg->bpf_pin_dir : OM_BPF_PIN_DIR);
	} else {
		unmap(l);
		struct om_limit *slots = calloc(OM_LIMITS_SLOTS, sizeof(*slots));
		struct om_limits_meta *meta = calloc(1, sizeof(*meta));
		char why[512];
		if (!slots || !meta ||
		    !limit_table_attach(&l->t, slots, OM_LIMITS_SLOTS, meta, (uint32_t)getpid(), why,
		                        sizeof(why))) {
			free(slots);
			free(meta);
			free(l);
			return NULL;
		}
		log_warn("Origin limits per process (%s): other instances on this host count on their own",
		         err);
	}
	limits_configure(l, cfg);
	return l;
}

void limits_close(struct limits *l)
{
	if (!l)
		return;
	if (l->t.pid ==
	    (uint32_t)getpid()) /* not in a child (the relay worker): the counts are the parent's */
		limit_table_detach(&l->t);
	if (l->shared) {
		unmap(l);
	} else {
		free(l->t.slots);
		free(l->t.meta);
	}
	free(l);
}

void limits_configure(struct limits *l, const struct config *cfg)
{
	struct limit_params p;

	if (!l)
		return;
	limits_params(cfg, &p);
	limit_table_publish(&l->t, &p);
}

bool limits_shared(const struct limits *l)
{
	return l->shared;
}

/* "table full" once a minute at most, with how many connections went uncounted. */
static void warn_untracked(struct limits *l, uint64_t now)
{
	uint64_t n = __atomic_load_n(&l->t.meta->untracked, __ATOMIC_RELAXED);

	if (n == l->last_untracked || now < l->next_full_warn_ns)
		return;
	log_warn("Origin table full: %llu connections admitted without per-origin counting so far",
	         (unsigned long long)n);
	l->last_untracked = n;
	l->next_full_warn_ns = now + FULL_WARN_NS;
}

bool limits_admit(struct limits *l, const struct config *cfg, const union pp_sockaddr *origin,
                  struct limits_conn *lc, char *why, size_t cap)
{
	struct limit_params p;
	uint8_t key[16];
	char ip[INET6_ADDRSTRLEN];
	uint64_t now = mono_ns();

	lc->ref.slot = -1;
	lc->admitted = false;
	if (!l || cidr_set_match(&cfg->origin_exempt, &origin->sa) ||
	    !limits_key(origin, cfg->origin_ipv6_prefix, key))
		return true;
	limits_params(cfg, &p);
	unsigned dead = limit_table_reap(&l->t, now, REAP_INTERVAL_NS);
	if (dead)
		log_warn("Origin limits: took back the connections of %u instances that died", dead);
	enum limit_verdict v = limit_admit(&l->t, key, &p, now, &lc->ref);
	warn_untracked(l, now);
	pp_sockaddr_ntop(origin, ip, sizeof(ip));
	switch (v) {
	case LIMIT_OK:
		lc->admitted = true;
		return true;
	case LIMIT_LOCKED:
		snprintf(why, cap, "too many failed logins from %s, try again later", ip);
		break;
	case LIMIT_RATE:
		snprintf(why, cap,
		         "too many new connections from %s (origin_rate %u per %u s), try again later", ip,
		         cfg->origin_rate.count, cfg->origin_rate.window_ms / 1000);
		break;
	case LIMIT_CONNS:
		snprintf(why, cap,
		         "too many open connections from %s (origin_max_connections %u), try again later", ip,
		         cfg->origin_max_connections);
		break;
	}
	return false;
}

void limits_release(struct limits *l, struct limits_conn *lc)
{
	if (l && lc->admitted)
		limit_release(&l->t, &lc->ref);
	lc->admitted = false;
}

unsigned limits_auth_failed(struct limits *l, const struct config *cfg, const union pp_sockaddr *origin,
                            bool *locked)
{
	struct limit_params p;
	uint8_t key[16];
	uint32_t n = 0;

	*locked = false;
	if (cidr_set_match(&cfg->origin_exempt, &origin->sa))
		return 0;
	if (l && limits_key(origin, cfg->origin_ipv6_prefix, key)) {
		limits_params(cfg, &p);
		n = limit_auth_failed(&l->t, key, &p, mono_ns(), locked);
	}
	return limits_delay_ms(cfg, n ? n : 1);
}
