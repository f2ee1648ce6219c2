/* The per-origin table (include/originmail/bpf_abi.h: struct om_limit, struct om_limits_meta) over memory
 * that several processes may share: the mmap of the pinned BPF maps, or a private allocation when BPF is
 * off. Counters change with atomic instructions and need no lock; giving a slot to an origin, evicting
 * one, and instances coming and going happen under a small lock word in the meta (a pid, so the lock of a
 * process that died is taken over). Every process that counts connections registers as an instance and
 * counts in cells of its own, so the connections of an instance that died can be taken back.
 * Pure logic over memory and a clock passed in: unit-tested with fork() on shared memory. */
#ifndef ORIGINMAIL_LIMIT_TABLE_H
#define ORIGINMAIL_LIMIT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits/bucket.h"
#include "originmail/bpf_abi.h"

#define LIMIT_PROBE 32 /* slots an origin may live in: its home slot and the next 31 */

struct limit_params {
	uint32_t conn_max;       /* open connections per origin, all instances (0: no cap) */
	struct bucket_rate rate; /* new connections per origin */
	struct bucket_rate fail; /* failed logins per origin: at count the origin is locked out */
};

struct limit_table {
	struct om_limit *slots;
	struct om_limits_meta *meta;
	uint32_t nslots; /* a power of two */
	uint16_t tag;    /* this instance's cells: its index in meta->inst + 1 */
	uint32_t pid;
	uint32_t pidns; /* our pid namespace's inode: pids of instances in another one are not judged */
	/* Is instance (pid, start) still running? Tests replace it; default: kill(pid, 0) and /proc. */
	bool (*alive)(uint32_t pid, uint64_t start);
	uint64_t next_reap_ns;
};

enum limit_verdict {
	LIMIT_OK,
	LIMIT_LOCKED, /* too many failed logins */
	LIMIT_RATE,   /* too many new connections */
	LIMIT_CONNS,  /* too many open connections */
};

/* A connection admitted and counted: what limit_release needs. */
struct limit_ref {
	int32_t slot; /* -1: not counted */
	uint32_t state;
};

/* Register as an instance of the table in slots/meta (nslots a power of two, at least LIMIT_PROBE; meta
 * zeroed or set up by another instance of the same layout). Instances that died are forgotten first; when
 * no other instance is left, the table starts empty. false with the reason in err (another layout, every
 * instance entry taken). */
bool limit_table_attach(struct limit_table *t, struct om_limit *slots, uint32_t nslots,
                        struct om_limits_meta *meta, uint32_t pid, char *err, size_t errlen);
/* Give back what this instance still counts and leave the instance list. */
void limit_table_detach(struct limit_table *t);
/* Record the limits an instance runs with (for `originctl limits`). */
void limit_table_publish(struct limit_table *t, const struct limit_params *p);

/* A new connection from addr (16 bytes, as in struct om_limit). LIMIT_OK: admitted, and counted in ref
 * (ref->slot -1 when the table had no room: admitted uncounted). */
enum limit_verdict limit_admit(struct limit_table *t, const uint8_t addr[16], const struct limit_params *p,
                               uint64_t now, struct limit_ref *ref);
/* The connection admitted with ref ended. */
void limit_release(struct limit_table *t, struct limit_ref *ref);
/* A failed login from addr: returns the origin's recent failures including this one (bucket level);
 * *locked when it has reached p->fail.count. 0 when failures are not limited or there is no room. */
uint32_t limit_auth_failed(struct limit_table *t, const uint8_t addr[16], const struct limit_params *p,
                           uint64_t now, bool *locked);

/* Take back the cells and instance entries of instances that died. Runs at most every interval_ns
 * (0: now). Returns the number of instances forgotten. */
unsigned limit_table_reap(struct limit_table *t, uint64_t now, uint64_t interval_ns);

/* Open connections from the origin in slot s, all instances. */
uint32_t limit_slot_conns(const struct om_limit *s);
/* Find addr's slot without changing anything; -1 when it has none. */
int32_t limit_find(const struct limit_table *t, const uint8_t addr[16]);

/* The default liveness test: kill(pid, 0) says ESRCH, or /proc/PID/stat shows another start time. */
bool limit_pid_alive(uint32_t pid, uint64_t start);
/* Field 22 of /proc/PID/stat (clock ticks since boot), 0 when unreadable. */
uint64_t limit_pid_start(uint32_t pid);

#endif
