/* The daemon's BPF side (docs/bpf.md): load the programs of bpf/originmail.bpf.c, share the pinned maps
 * with the other instances on the host, attach to the cgroup, keep the policy tries in step with the
 * configuration, log the ring buffer's events, and read/write the connection entries by socket cookie. */
#ifndef ORIGINMAIL_OM_BPF_H
#define ORIGINMAIL_OM_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "net/origin.h"
#include "originmail/bpf_abi.h"
#include "policy/policy.h"
#include "util/obuf.h"

struct om_bpf;

/* At start, as root, before the privilege drop. Follows cfg->bpf: off loads nothing; auto logs one
 * "BPF metadata off: <reason>" line when loading or attaching fails and carries on without; on fails.
 * Returns false only when the daemon must not start (err says why); *out is NULL when BPF is off. */
bool om_bpf_init(struct om_bpf **out, const struct config *cfg, char *err, size_t errlen);
/* Load, pin/reuse, attach and fill the maps; NULL with the reason in err. (om_bpf_init's work.) */
struct om_bpf *om_bpf_start(const struct config *cfg, char *err, size_t errlen);
/* Detach, forget this instance; the last instance on the host removes the pins (when it still may). */
void om_bpf_stop(struct om_bpf *b);

/* Refill the ports map and this instance's trie entries from a (reloaded) configuration. */
bool om_bpf_load_policy(struct om_bpf *b, const struct config *cfg, char *err, size_t errlen);

/* The ring buffer: an fd for epoll, and what to call when it is readable (logs the events) and on every
 * sweep (brings the programs' counters into the metrics, warns of events the ring had no room for). */
int om_bpf_event_fd(const struct om_bpf *b);
void om_bpf_poll(struct om_bpf *b);
/* This instance's programs' counters so far: ring-buffer events lost, bytes sk_msg kept from denied
 * peers. */
void om_bpf_counters(const struct om_bpf *b, uint64_t *events_lost, uint64_t *dropped_bytes);

/* The connection entry of a socket cookie, read from the map (the daemon itself reads its entries with
 * om_bpf_accepted); false when there is none. */
bool om_bpf_lookup(const struct om_bpf *b, uint64_t cookie, struct om_conn *out);
/* At accept: the socket's cookie and, when the kernel recorded the connection, the entry, in one
 * getsockopt(SO_COOKIE) that om_getsockopt answers (bpf_abi.h). false: no entry (so always with BPF off);
 * *cookie is set all the same (0 when the socket has none). */
bool om_bpf_accepted(int fd, uint64_t *cookie, struct om_conn *entry);
/* The verdict for an accepted connection: the kernel's, from its entry (NULL: none), else the
 * configuration's (userspace) verdict. A disagreement is logged. */
enum peer_verdict om_bpf_verdict(const struct om_conn *entry, uint64_t cookie, enum peer_verdict user);
/* After the PROXY header: the original client's tuple (o->cookie names the entry), the header version,
 * the unique-id, and the listener's protocol with TLS off, written into the socket's entry in place by
 * om_setsockopt (one setsockopt; om_bpf_set_session is then needed only once TLS is up). false: no entry
 * of ours (it closed meanwhile, or a flood evicted it). */
bool om_bpf_set_origin(int fd, const struct origin *o, unsigned proxy_version, enum listener_proto proto);
/* When the session starts, and again once TLS is up: the listener's protocol and whether TLS is on. */
bool om_bpf_set_session(int fd, uint64_t cookie, enum listener_proto proto, bool tls);

/* Before a scrape: originmail_bpf_attached, and the entries of each pinned map (b may be NULL: BPF off). */
void om_bpf_report_metrics(const struct om_bpf *b);
/* The pinned maps of the origin table (user/limits/), to mmap; false when there are none. */
bool om_bpf_limits_fds(const struct om_bpf *b, int *slots_fd, int *meta_fd);
/* Before loading: pinned limits maps of another layout are refused with a clear error (bpf_limits.c). */
bool om_bpf_limits_pins_ok(const char *pin_dir, char *err, size_t errlen);

/* Test-only switch (environment ORIGINMAIL_TEST_DENIED_OVERSEND=1): make the daemon queue more than the
 * refusal line for a denied peer, to show that sk_msg stops it. Does nothing otherwise. */
void om_bpf_test_oversend(struct obuf *out);

/* cgroup v2 and bpffs plumbing (bpf_sys.c). */
bool om_cgroup2_mount(char *buf, size_t cap);
/* The cgroup to attach to: bpf_cgroup (created if missing), else our own; from the root cgroup a child
 * "originmail" is made. We move into it when we are not inside it already. */
bool om_cgroup_prepare(const char *configured, char *path, size_t cap, char *err, size_t errlen);
/* Mount bpffs on /sys/fs/bpf when the pin directory is there and it is not mounted; create the directory. */
bool om_pin_dir_prepare(const char *dir, char *err, size_t errlen);

#endif
