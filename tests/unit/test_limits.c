/* The per-origin abuse limits (user/limits/) without the kernel: GCRA buckets, the origin table over
 * plain and shared memory (caps, rates, failed-login lockout, table full, eviction, instances that die,
 * a lock holder that dies), several processes counting at once (fork on MAP_SHARED memory: no count is
 * lost and the cap is never passed), the address key, the delays, and the configuration keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "limits/bucket.h"
#include "limits/limit_table.h"
#include "limits/limits.h"
#include "log/log.h"

#define SEC 1000000000ull

/* ---- buckets ---- */

static void test_bucket_take(void **state)
{
	struct bucket_rate r = {3, 60 * SEC}; /* 3 per minute: one back every 20 s */
	__u64 tat = 0;
	uint64_t now = 1000 * SEC;

	(void)state;
	assert_int_equal(bucket_used(tat, &r, now), 0);
	for (int i = 0; i < 3; i++)
		assert_true(bucket_take(&tat, &r, now));
	assert_int_equal(bucket_used(tat, &r, now), 3);
	assert_false(bucket_take(&tat, &r, now));
	assert_false(bucket_take(&tat, &r, now + 19 * SEC)); /* not back yet */
	assert_int_equal(bucket_next_ns(tat, &r, now), now + 20 * SEC);
	assert_true(bucket_take(&tat, &r, now + 20 * SEC)); /* one back after window / count */
	assert_false(bucket_take(&tat, &r, now + 20 * SEC));
	assert_int_equal(bucket_used(tat, &r, now + 200 * SEC), 0); /* long idle: full again */
	assert_true(bucket_take(&tat, &r, now + 200 * SEC));
	assert_int_equal(bucket_used(tat, &r, now + 200 * SEC), 1);

	struct bucket_rate off = {0, 0};
	__u64 t2 = 0;
	for (int i = 0; i < 1000; i++)
		assert_true(bucket_take(&t2, &off, now));
	assert_int_equal(bucket_used(t2, &off, now), 0);
}

static void test_bucket_force(void **state)
{
	struct bucket_rate r = {4, 40 * SEC};
	__u64 tat = 0;
	uint64_t now = 5 * SEC;

	(void)state;
	assert_int_equal(bucket_force(&tat, &r, now), 1);
	assert_int_equal(bucket_force(&tat, &r, now), 2);
	assert_int_equal(bucket_force(&tat, &r, now), 3);
	assert_int_equal(bucket_force(&tat, &r, now), 4);
	assert_int_equal(bucket_force(&tat, &r, now), 4); /* never past count: the lock lifts in time */
	assert_int_equal(bucket_used(tat, &r, now + 10 * SEC), 3);
	assert_int_equal(bucket_used(tat, &r, now + 40 * SEC), 0);
}

/* ---- the table ---- */

struct mem {
	struct om_limit *slots;
	struct om_limits_meta *meta;
	uint32_t n;
};

static struct mem mem_shared(uint32_t n)
{
	struct mem m = {.n = n};
	m.slots = mmap(NULL, n * sizeof(*m.slots), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	m.meta = mmap(NULL, sizeof(*m.meta), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(m.slots != MAP_FAILED && m.meta != MAP_FAILED);
	return m;
}

static void mem_free(struct mem *m)
{
	munmap(m->slots, m->n * sizeof(*m->slots));
	munmap(m->meta, sizeof(*m->meta));
}

static void attach(struct limit_table *t, const struct mem *m, uint32_t pid)
{
	char err[256] = "";
	memset(t, 0, sizeof(*t));
	if (!limit_table_attach(t, m->slots, m->n, m->meta, pid, err, sizeof(err)))
		fail_msg("attach: %s", err);
}

static void key_of(const char *ip, uint8_t key[16])
{
	union pp_sockaddr a;
	assert_true(pp_sockaddr_parse(&a, ip, 0));
	assert_true(limits_key(&a, 64, key));
}

static const struct limit_params only_cap2 = {.conn_max = 2};

static void test_cap_across_instances(void **state)
{
	struct mem m = mem_shared(1024);
	struct limit_table a, b;
	struct limit_ref r[4];
	uint8_t x[16], y[16];
	uint64_t now = 100 * SEC;

	(void)state;
	attach(&a, &m, (uint32_t)getpid());
	attach(&b, &m, (uint32_t)getpid()); /* a second instance: its own tag */
	assert_int_not_equal(a.tag, b.tag);
	assert_int_equal(m.meta->layout, OM_LIMITS_LAYOUT);
	key_of("203.0.113.10", x);
	key_of("203.0.113.11", y);
	assert_int_equal(limit_admit(&a, x, &only_cap2, now, &r[0]), LIMIT_OK);
	assert_int_equal(limit_admit(&b, x, &only_cap2, now, &r[1]), LIMIT_OK);
	assert_int_equal(limit_admit(&a, x, &only_cap2, now, &r[2]), LIMIT_CONNS); /* 2 open in all */
	assert_int_equal(limit_admit(&b, x, &only_cap2, now, &r[2]), LIMIT_CONNS);
	assert_int_equal(limit_admit(&a, y, &only_cap2, now, &r[3]), LIMIT_OK); /* another origin: served */
	int32_t sx = limit_find(&a, x);
	assert_true(sx >= 0);
	assert_int_equal(limit_slot_conns(&m.slots[sx]), 2);
	assert_int_equal(m.slots[sx].refused, 2);
	limit_release(&b, &r[1]);
	assert_int_equal(limit_slot_conns(&m.slots[sx]), 1);
	assert_int_equal(limit_admit(&a, x, &only_cap2, now, &r[1]), LIMIT_OK);
	limit_release(&a, &r[0]);
	limit_release(&a, &r[1]);
	limit_release(&a, &r[3]);
	assert_int_equal(limit_slot_conns(&m.slots[sx]), 0);
	limit_table_detach(&a);
	limit_table_detach(&b);
	assert_int_equal(m.meta->inst[0].pid, 0);
	mem_free(&m);
}

static void test_rate_and_lockout(void **state)
{
	struct mem m = mem_shared(64);
	struct limit_table t;
	struct limit_ref r;
	struct limit_params p = {.rate = {3, 60 * SEC}, .fail = {3, 60 * SEC}};
	uint8_t x[16], y[16];
	uint64_t now = 100 * SEC;
	bool locked;

	(void)state;
	attach(&t, &m, (uint32_t)getpid());
	key_of("198.51.100.7", x);
	key_of("2001:db8::7", y);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(limit_admit(&t, x, &p, now, &r), LIMIT_OK);
		limit_release(&t, &r);
	}
	assert_int_equal(limit_admit(&t, x, &p, now, &r), LIMIT_RATE);
	assert_int_equal(limit_admit(&t, y, &p, now, &r), LIMIT_OK); /* not the same origin */
	limit_release(&t, &r);
	assert_int_equal(limit_admit(&t, x, &p, now + 20 * SEC, &r), LIMIT_OK); /* one token back */
	limit_release(&t, &r);

	now += 100 * SEC;
	assert_int_equal(limit_auth_failed(&t, y, &p, now, &locked), 1);
	assert_false(locked);
	assert_int_equal(limit_auth_failed(&t, y, &p, now, &locked), 2);
	assert_false(locked);
	assert_int_equal(limit_auth_failed(&t, y, &p, now, &locked), 3);
	assert_true(locked);
	assert_int_equal(limit_admit(&t, y, &p, now + SEC, &r), LIMIT_LOCKED);
	assert_int_equal(limit_admit(&t, x, &p, now + SEC, &r), LIMIT_OK); /* the other origin may log in */
	limit_release(&t, &r);
	assert_int_equal(limit_admit(&t, y, &p, now + 20 * SEC, &r), LIMIT_OK); /* one failure forgotten */
	limit_release(&t, &r);

	struct limit_params off = {0};
	assert_int_equal(limit_auth_failed(&t, y, &off, now, &locked), 0);
	assert_false(locked);
	limit_table_detach(&t);
	mem_free(&m);
}

/* 32 slots = one probe window: every origin competes for the same slots. */
static void test_table_full_and_eviction(void **state)
{
	struct mem m = mem_shared(LIMIT_PROBE);
	struct limit_table t;
	struct limit_ref r[LIMIT_PROBE + 1];
	struct limit_params p = {.conn_max = 5, .fail = {5, 600 * SEC}};
	uint8_t k[LIMIT_PROBE + 2][16];
	char ip[32];
	uint64_t now = 1000 * SEC;
	bool locked;

	(void)state;
	attach(&t, &m, (uint32_t)getpid());
	for (int i = 0; i < LIMIT_PROBE + 2; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i + 1);
		key_of(ip, k[i]);
	}
	for (int i = 0; i < LIMIT_PROBE; i++) /* each origin holds a connection */
		assert_int_equal(limit_admit(&t, k[i], &p, now + (uint64_t)i * SEC, &r[i]), LIMIT_OK);
	assert_int_equal(limit_admit(&t, k[LIMIT_PROBE], &p, now + 40 * SEC, &r[LIMIT_PROBE]), LIMIT_OK);
	assert_int_equal(r[LIMIT_PROBE].slot, -1); /* full: admitted, not counted */
	assert_int_equal(m.meta->untracked, 1);
	assert_int_equal(m.meta->evictions, 0);
	for (int i = 0; i < LIMIT_PROBE; i++)
		assert_true(limit_find(&t, k[i]) >= 0); /* nobody with a connection was evicted */

	/* Origins 3, 5 and 7 close; 3 has failed logins still counting: 5 (the older of the stale) goes. */
	limit_auth_failed(&t, k[3], &p, now + 41 * SEC, &locked);
	limit_release(&t, &r[3]);
	limit_release(&t, &r[7]);
	limit_release(&t, &r[5]);
	assert_int_equal(limit_admit(&t, k[LIMIT_PROBE], &p, now + 50 * SEC, &r[LIMIT_PROBE]), LIMIT_OK);
	assert_true(r[LIMIT_PROBE].slot >= 0);
	assert_int_equal(m.meta->evictions, 1);
	assert_int_equal(limit_find(&t, k[5]), -1);
	assert_true(limit_find(&t, k[3]) >= 0);
	assert_true(limit_find(&t, k[7]) >= 0);
	/* The next: 7 (stale) before 3 (failures still counting). */
	assert_int_equal(limit_admit(&t, k[LIMIT_PROBE + 1], &p, now + 51 * SEC, &r[5]), LIMIT_OK);
	assert_int_equal(limit_find(&t, k[7]), -1);
	assert_true(limit_find(&t, k[3]) >= 0);
	limit_table_detach(&t);
	mem_free(&m);
}

/* Liveness as the test says: pid 4242 has died. */
static bool alive_but_4242(uint32_t pid, uint64_t start)
{
	(void)start;
	return pid != 4242;
}

static void test_dead_instance_reaped(void **state)
{
	struct mem m = mem_shared(256);
	struct limit_table a = {.alive = alive_but_4242}, gone = {.alive = alive_but_4242};
	struct limit_ref r[3];
	uint8_t x[16];
	uint64_t now = 10 * SEC;
	char err[128];

	(void)state;
	assert_true(limit_table_attach(&a, m.slots, m.n, m.meta, (uint32_t)getpid(), err, sizeof(err)));
	assert_true(limit_table_attach(&gone, m.slots, m.n, m.meta, 4242, err, sizeof(err)));
	key_of("203.0.113.99", x);
	assert_int_equal(limit_admit(&gone, x, &only_cap2, now, &r[0]), LIMIT_OK);
	assert_int_equal(limit_admit(&gone, x, &only_cap2, now, &r[1]), LIMIT_OK);
	assert_int_equal(limit_admit(&a, x, &only_cap2, now, &r[2]), LIMIT_CONNS);
	/* 4242 "crashes" without releasing: the next reap takes its connections back. */
	assert_int_equal(limit_table_reap(&a, now, 10 * SEC), 1);
	assert_int_equal(limit_table_reap(&a, now + SEC, 10 * SEC), 0); /* not again before the interval */
	assert_int_equal(limit_slot_conns(&m.slots[limit_find(&a, x)]), 0);
	assert_int_equal(m.meta->inst[gone.tag - 1].pid, 0);
	assert_int_equal(limit_admit(&a, x, &only_cap2, now, &r[2]), LIMIT_OK);
	limit_release(&a, &r[2]);
	limit_table_detach(&a);
	mem_free(&m);
}

/* A real process that counts two connections and exits without a word, holding the structure lock. */
static void test_dead_process(void **state)
{
	struct mem m = mem_shared(256);
	struct limit_table t;
	struct limit_ref r;
	uint8_t x[16];
	int st;

	(void)state;
	key_of("203.0.113.50", x);
	attach(&t, &m, (uint32_t)getpid());
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct limit_table c;
		struct limit_ref cr;
		char err[128];
		memset(&c, 0, sizeof(c));
		if (!limit_table_attach(&c, m.slots, m.n, m.meta, (uint32_t)getpid(), err, sizeof(err)))
			_exit(1);
		limit_admit(&c, x, &only_cap2, SEC, &cr);
		limit_admit(&c, x, &only_cap2, SEC, &cr);
		__atomic_store_n(&m.meta->lock, (uint32_t)getpid(), __ATOMIC_SEQ_CST); /* dies holding it */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	int32_t s = limit_find(&t, x);
	assert_true(s >= 0);
	assert_int_equal(limit_slot_conns(&m.slots[s]), 2); /* left behind */
	assert_int_equal(limit_admit(&t, x, &only_cap2, SEC, &r), LIMIT_CONNS);
	assert_int_equal(limit_table_reap(&t, SEC, 0), 1); /* takes the dead holder's lock, then its counts */
	assert_int_equal(limit_slot_conns(&m.slots[s]), 0);
	assert_int_equal(m.meta->lock, 0);
	assert_int_equal(limit_admit(&t, x, &only_cap2, SEC, &r), LIMIT_OK);
	limit_release(&t, &r);
	limit_table_detach(&t);
	mem_free(&m);
}

/* The first instance to attach finds the table as the last one left it: it starts empty. */
static void test_first_instance_starts_empty(void **state)
{
	struct mem m = mem_shared(64);
	struct limit_table a, b;
	struct limit_ref r;
	struct limit_params p = {.conn_max = 1, .fail = {1, 60 * SEC}};
	uint8_t x[16];
	bool locked;

	(void)state;
	key_of("198.51.100.9", x);
	attach(&a, &m, (uint32_t)getpid());
	assert_int_equal(limit_auth_failed(&a, x, &p, SEC, &locked), 1);
	assert_true(locked);
	attach(&b, &m, (uint32_t)getpid()); /* a is still there: nothing is forgotten */
	assert_int_equal(limit_admit(&b, x, &p, SEC, &r), LIMIT_LOCKED);
	limit_table_detach(&a);
	limit_table_detach(&b);
	attach(&a, &m, (uint32_t)getpid());
	assert_int_equal(limit_find(&a, x), -1);
	assert_int_equal(limit_admit(&a, x, &p, SEC, &r), LIMIT_OK);
	limit_release(&a, &r);
	limit_table_detach(&a);
	mem_free(&m);
}

#define WORKERS 4
#define RUN_NS                                                                                               \
	(300ull * 1000000ull) /* each worker's time: much more than a scheduler slice, so they overlap */

static uint64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* Shared with the workers. */
struct race {
	unsigned inside;    /* admitted and not released yet */
	unsigned ready, go; /* all start together */
	unsigned admitted[WORKERS];
	unsigned failures[WORKERS];
};

/* Several processes on one origin at once for a while: the open-connection cap is never passed, no failed
 * login is lost (each is one compare-and-swap on the shared bucket), and every count is given back. */
static void test_processes_race(void **state)
{
	struct mem m = mem_shared(1024);
	struct race *rc = mmap(NULL, sizeof(*rc), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct limit_params p = {.conn_max = 2, .fail = {4000000000u, 3600 * SEC}};
	uint8_t x[16];
	pid_t pids[WORKERS];

	(void)state;
	assert_true(rc != MAP_FAILED);
	memset(rc, 0, sizeof(*rc));
	key_of("2001:db8:5::1", x);
	struct limit_table t;
	attach(&t, &m, (uint32_t)getpid()); /* first: the workers join a table in use */
	for (int w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w])
			continue;
		struct limit_table c;
		char err[128];
		int bad = 0;
		memset(&c, 0, sizeof(c));
		if (!limit_table_attach(&c, m.slots, m.n, m.meta, (uint32_t)getpid(), err, sizeof(err)))
			_exit(2);
		__atomic_add_fetch(&rc->ready, 1, __ATOMIC_SEQ_CST);
		while (!__atomic_load_n(&rc->go, __ATOMIC_SEQ_CST))
			;
		uint64_t end = mono() + RUN_NS;
		for (unsigned i = 0; mono() < end; i++) {
			struct limit_ref r;
			bool locked;
			if (limit_admit(&c, x, &p, 50 * SEC, &r) == LIMIT_OK) {
				if (__atomic_add_fetch(&rc->inside, 1, __ATOMIC_SEQ_CST) > p.conn_max)
					bad = 1;
				__atomic_sub_fetch(&rc->inside, 1, __ATOMIC_SEQ_CST);
				limit_release(&c, &r);
				rc->admitted[w]++;
			}
			if (i % 3 == 0) {
				limit_auth_failed(&c, x, &p, 50 * SEC, &locked);
				rc->failures[w]++;
			}
		}
		limit_table_detach(&c);
		_exit(bad);
	}
	while (__atomic_load_n(&rc->ready, __ATOMIC_SEQ_CST) < WORKERS)
		usleep(1000);
	__atomic_store_n(&rc->go, 1, __ATOMIC_SEQ_CST);
	unsigned failures = 0;
	for (int w = 0; w < WORKERS; w++) {
		int st;
		assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0); /* 1: the cap was passed; 2: could not attach */
		assert_true(rc->admitted[w] > 0);
		failures += rc->failures[w];
	}
	int32_t s = limit_find(&t, x);
	assert_true(s >= 0);
	assert_int_equal(limit_slot_conns(&m.slots[s]), 0);
	assert_int_equal(bucket_used(m.slots[s].fail_tat, &p.fail, 50 * SEC), failures);
	limit_table_detach(&t);
	munmap(rc, sizeof(*rc));
	mem_free(&m);
}

static void test_layout_mismatch(void **state)
{
	struct mem m = mem_shared(64);
	struct limit_table t = {0};
	char err[256] = "";

	(void)state;
	m.meta->layout = OM_LIMITS_LAYOUT + 1;
	m.meta->nslots = 64;
	m.meta->slot_size = sizeof(struct om_limit);
	assert_false(limit_table_attach(&t, m.slots, m.n, m.meta, (uint32_t)getpid(), err, sizeof(err)));
	assert_non_null(strstr(err, "layout"));
	m.meta->layout = 0;
	assert_false(limit_table_attach(&t, m.slots, 48, m.meta, (uint32_t)getpid(), err, sizeof(err)));
	assert_non_null(strstr(err, "power of two"));
	mem_free(&m);
}

/* ---- keys, delays, configuration ---- */

static void test_keys(void **state)
{
	uint8_t a[16], b[16];
	union pp_sockaddr s;

	(void)state;
	key_of("192.0.2.1", a);
	key_of("::ffff:192.0.2.1", b); /* an IPv4 client however it came */
	assert_memory_equal(a, b, 16);
	assert_int_equal(a[10], 0xff);
	assert_int_equal(a[12], 192);
	key_of("2001:db8:1:2:aaaa::1", a);
	key_of("2001:db8:1:2:bbbb::2", b); /* the same /64 */
	assert_memory_equal(a, b, 16);
	key_of("2001:db8:1:3::1", b);
	assert_memory_not_equal(a, b, 16);
	assert_true(pp_sockaddr_parse(&s, "2001:db8:1:2:aaaa::1", 0));
	assert_true(limits_key(&s, 128, a));
	assert_true(pp_sockaddr_parse(&s, "2001:db8:1:2:bbbb::2", 0));
	assert_true(limits_key(&s, 128, b));
	assert_memory_not_equal(a, b, 16);
	memset(&s, 0, sizeof(s));
	s.sa.sa_family = AF_UNIX;
	assert_false(limits_key(&s, 64, a));
}

static const char base_conf[] = "hostname = mx.example.test\n";
static const char listener[] = "\n[listener smtp]\naddress = 127.0.0.1:2525\nprotocol = smtp\nproxy = off\n";

static bool parse(const char *globals, struct config *c, char *err, size_t errlen)
{
	char text[2048];
	snprintf(text, sizeof(text), "%s%s%s", base_conf, globals, listener);
	return config_parse(text, "t.conf", c, err, errlen);
}

static void test_config_keys(void **state)
{
	struct config c;
	char err[512];

	(void)state;
	assert_true(parse("", &c, err, sizeof(err)));
	assert_int_equal(c.origin_max_connections, 50);
	assert_int_equal(c.origin_rate.count, 300);
	assert_int_equal(c.origin_rate.window_ms, 60000);
	assert_int_equal(c.origin_auth_fails.count, 10);
	assert_int_equal(c.origin_auth_fails.window_ms, 600000);
	assert_int_equal(c.origin_auth_delay_ms, 1000);
	assert_int_equal(c.origin_auth_delay_max_ms, 15000);
	assert_int_equal(c.origin_ipv6_prefix, 64);
	assert_int_equal(limits_delay_ms(&c, 1), 1000);
	assert_int_equal(limits_delay_ms(&c, 2), 2000);
	assert_int_equal(limits_delay_ms(&c, 3), 4000);
	assert_int_equal(limits_delay_ms(&c, 4), 8000);
	assert_int_equal(limits_delay_ms(&c, 5), 15000);
	assert_int_equal(limits_delay_ms(&c, 40), 15000);
	config_free(&c);

	assert_true(parse("origin_max_connections = 0\norigin_rate = 0\norigin_auth_failures = 3/90s\n"
	                  "origin_auth_delay = 0\norigin_auth_delay_max = 0\norigin_exempt = 192.0.2.0/24\n"
	                  "origin_ipv6_prefix = 128\n",
	                  &c, err, sizeof(err)));
	assert_int_equal(c.origin_max_connections, 0);
	assert_int_equal(c.origin_rate.count, 0);
	assert_int_equal(c.origin_auth_fails.count, 3);
	assert_int_equal(c.origin_auth_fails.window_ms, 90000);
	assert_int_equal(limits_delay_ms(&c, 3), 0);
	assert_int_equal(c.origin_exempt.n, 1);
	config_free(&c);

	static const struct {
		const char *line, *msg;
	} bad[] = {
	        {"origin_rate = 10\n", "bad rate '10' for origin_rate"},
	        {"origin_rate = 10/0s\n", "bad rate"},
	        {"origin_rate = 0/1m\n", "bad rate"},
	        {"origin_rate = 10/2d\n", "bad rate"},
	        {"origin_auth_failures = 10001/1m\n", "COUNT 1-10000"},
	        {"origin_max_connections = 65001\n",
	         "origin_max_connections must be between 0 (no cap) and 65000"},
	        {"origin_auth_delay = 2m\n", "origin_auth_delay must be at most 1m"},
	        {"origin_auth_delay = 5s\norigin_auth_delay_max = 2s\n",
	         "t.conf:3: origin_auth_delay_max must not"},
	        {"origin_ipv6_prefix = 16\n", "between 32 and 128"},
	        {"origin_exempt = 10.0.0.0/33\n", "bad CIDR"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse(bad[i].line, &c, err, sizeof(err)))
			fail_msg("accepted: %s", bad[i].line);
		if (!strstr(err, bad[i].msg))
			fail_msg("'%s': got '%s', wanted '%s'", bad[i].line, err, bad[i].msg);
	}
}

/* The daemon's glue with a table of its own (bpf off): reasons name the origin; exempt origins pass. */
static void test_glue_private_table(void **state)
{
	struct config c;
	char err[512], why[256];
	union pp_sockaddr a, ex;
	struct limits_conn lc[3];
	bool locked;

	(void)state;
	log_set_level(LOG_LVL_ERR);
	assert_true(
	        parse("origin_max_connections = 1\norigin_auth_failures = 2/1m\norigin_exempt = 192.0.2.9\n",
	              &c, err, sizeof(err)));
	struct limits *l = limits_open(&c, NULL);
	assert_non_null(l);
	assert_false(limits_shared(l));
	assert_true(pp_sockaddr_parse(&a, "203.0.113.7", 0));
	assert_true(pp_sockaddr_parse(&ex, "192.0.2.9", 0));
	assert_true(limits_admit(l, &c, &a, &lc[0], why, sizeof(why)));
	assert_false(limits_admit(l, &c, &a, &lc[1], why, sizeof(why)));
	assert_non_null(strstr(why, "too many open connections from 203.0.113.7"));
	assert_true(limits_admit(l, &c, &ex, &lc[1], why, sizeof(why)));
	assert_true(limits_admit(l, &c, &ex, &lc[2], why, sizeof(why))); /* exempt: never counted */
	limits_release(l, &lc[0]);
	limits_release(l, &lc[1]);
	limits_release(l, &lc[2]);
	assert_int_equal(limits_auth_failed(l, &c, &a, &locked), 1000);
	assert_false(locked);
	assert_int_equal(limits_auth_failed(l, &c, &a, &locked), 2000);
	assert_true(locked);
	assert_false(limits_admit(l, &c, &a, &lc[0], why, sizeof(why)));
	assert_non_null(strstr(why, "too many failed logins from 203.0.113.7"));
	assert_int_equal(limits_auth_failed(l, &c, &ex, &locked), 0); /* exempt: no delay */
	limits_close(l);
	config_free(&c);
}

/* The start time of a process (field 22 of /proc/PID/stat), which tells a live instance from a dead one
 * whose pid was reused: it must not move while the process runs, whatever its memory does (field 23,
 * vsize, does), and it lies between boot and now. */
static void test_pid_start_is_start_time(void **state)
{
	(void)state;
	uint64_t before = limit_pid_start((uint32_t)getpid());
	size_t len = 64u << 20;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	uint64_t during = limit_pid_start((uint32_t)getpid());
	munmap(p, len);
	assert_true(before > 0);
	assert_int_equal(before, during);
	double uptime = 0;
	FILE *f = fopen("/proc/uptime", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lf", &uptime), 1);
	fclose(f);
	assert_true((double)before / (double)sysconf(_SC_CLK_TCK) <= uptime + 1);
	assert_int_equal(limit_pid_start(0), 0); /* no such process: 0 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bucket_take),
	        cmocka_unit_test(test_bucket_force),
	        cmocka_unit_test(test_cap_across_instances),
	        cmocka_unit_test(test_rate_and_lockout),
	        cmocka_unit_test(test_table_full_and_eviction),
	        cmocka_unit_test(test_dead_instance_reaped),
	        cmocka_unit_test(test_dead_process),
	        cmocka_unit_test(test_pid_start_is_start_time),
	        cmocka_unit_test(test_first_instance_starts_empty),
	        cmocka_unit_test(test_processes_race),
	        cmocka_unit_test(test_layout_mismatch),
	        cmocka_unit_test(test_keys),
	        cmocka_unit_test(test_config_keys),
	        cmocka_unit_test(test_glue_private_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
