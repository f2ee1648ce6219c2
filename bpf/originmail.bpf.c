// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The kernel side of originmail (docs/bpf.md):
 *   sock_ops (attached to the daemon's cgroup v2): on PASSIVE_ESTABLISHED for a watched listener port,
 *     classify the peer with the LPM tries, record the connection in the pinned conns map (keyed by
 *     socket cookie), put the socket in the SOCKHASH and its per-socket state in SK_STORAGE, emit an open
 *     event; at TCP_CLOSE (state callback) emit a close event and delete the entry.
 *   sk_msg (on the SOCKHASH): count what the daemon sends; a denied peer gets at most OM_DENIED_BUDGET
 *     bytes (the one refusal line), anything after is dropped.
 * Map layouts and pin names: include/originmail/bpf_abi.h. */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "originmail/bpf_abi.h"

#define AF_INET  2
#define AF_INET6 10

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load: the instance that owns this copy of the programs. */
const volatile __u32 instance_pid = 0;
const volatile __u32 instance_id = 0; /* its key in the instances map and the tries */
/* bpf_sk_msg: 1 (all) puts every connection in the sockhash, so sk_msg counts the bytes of each as they
 * leave; 0 (denied) only the denied ones, whose refusal it enforces: a socket in a sockhash costs a psock
 * and the sockmap send path, about half of the kernel's work per connection (bench/bpf.sh). */
const volatile __u8 msg_all = 1;

/* ---- pinned, shared by every instance ---- */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, OM_CONNS_MAX);
	__type(key, __u64);
	__type(value, struct om_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} conns SEC(".maps");

#define LPM_MAP(name, keytype)                                                                               \
	struct {                                                                                             \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                                                         \
		__uint(max_entries, OM_LPM_MAX);                                                             \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                                        \
		__type(key, keytype);                                                                        \
		__type(value, __u8);                                                                         \
		__uint(pinning, LIBBPF_PIN_BY_NAME);                                                         \
	} name SEC(".maps")

LPM_MAP(trusted_v4, struct om_lpm_v4);
LPM_MAP(trusted_v6, struct om_lpm_v6);
LPM_MAP(direct_v4, struct om_lpm_v4);
LPM_MAP(direct_v6, struct om_lpm_v6);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct om_abi);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} abi SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OM_INSTANCES_MAX);
	__type(key, __u32);
	__type(value, struct om_instance);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} instances SEC(".maps");

/* The per-origin limits: no program reads them; they are here to be created, pinned (shared by every
 * instance on the host) and described by BTF with the rest. Userspace mmaps them (BPF_F_MMAPABLE). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OM_LIMITS_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct om_limit);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} limits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct om_limits_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} limits_meta SEC(".maps");

/* ---- per instance ---- */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OM_PORTS_MAX);
	__type(key, struct om_port_key);
	__type(value, struct om_listener);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, OM_CONNS_MAX);
	__type(key, __u64);
	__type(value, __u64);
} sock_hash SEC(".maps");

/* What sk_msg needs to know of a socket (it cannot get the cookie itself). */
struct om_sk {
	__u64 cookie;
	__u64 opened_ns;
	__u64 bytes_out;
	__u64 bytes_dropped;
	__u8 verdict;
	__u8 line_sent; /* denied: the refusal line has gone, nothing more may */
	__u8 pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct om_sk);
} sk_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Per instance, read by the daemon from the mmapped .bss for its metrics: events the ring had no room
 * for (their log lines are missing, nothing else), and every byte sk_msg kept from denied peers (counted
 * here, not from the drop events, so that a full ring cannot lose any). */
__u64 events_lost = 0;
__u64 dropped_bytes = 0;

/* Open and close events wake the daemon only once a quarter of the ring waits: it drains the ring on its
 * sweep (every 250 ms) anyway, so a connection costs the event loop no wakeup of its own. */
static __always_inline __u64 lazy_wakeup(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > 64 * 1024 ? BPF_RB_FORCE_WAKEUP
	                                                                 : BPF_RB_NO_WAKEUP;
}

static __always_inline struct om_event *event_reserve(void)
{
	struct om_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		__sync_fetch_and_add(&events_lost, 1);
	return e;
}

static __always_inline void key_head(__u8 *inst, __u8 *p, __u16 port)
{
	__u32 id = bpf_htonl(instance_id);

	__builtin_memcpy(inst, &id, 4);
	p[0] = port >> 8;
	p[1] = port & 0xff;
}

static __always_inline bool in_trie4(void *trie, __u16 port, __u32 addr)
{
	struct om_lpm_v4 k = {.prefixlen = OM_LPM_FIXED_BITS + 32};

	key_head(k.inst, k.port, port);
	__builtin_memcpy(k.addr, &addr, 4);
	return bpf_map_lookup_elem(trie, &k) != NULL;
}

static __always_inline bool in_trie6(void *trie, __u16 port, const __u8 *addr)
{
	struct om_lpm_v6 k = {.prefixlen = OM_LPM_FIXED_BITS + 128};

	key_head(k.inst, k.port, port);
	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(trie, &k) != NULL;
}

/* The same table as policy_classify() in user/policy/policy.c. */
static __always_inline __u8 verdict_for(__u8 mode, bool trusted, bool direct)
{
	if (mode == OM_MODE_OFF)
		return OM_VERDICT_DIRECT;
	if (mode == OM_MODE_OPTIONAL)
		return trusted ? OM_VERDICT_PROXY_OPTIONAL : OM_VERDICT_DIRECT;
	if (trusted && direct)
		return OM_VERDICT_PROXY_OPTIONAL;
	if (trusted)
		return OM_VERDICT_PROXY_REQUIRED;
	if (direct)
		return OM_VERDICT_DIRECT;
	return OM_VERDICT_DENIED;
}

static __always_inline bool v4_mapped(const __u8 *a)
{
	for (int i = 0; i < 10; i++)
		if (a[i])
			return false;
	return a[10] == 0xff && a[11] == 0xff;
}

static __always_inline int on_established(struct bpf_sock_ops *skops)
{
	struct om_conn c = {};
	struct om_listener *l;
	struct bpf_sock *sk;
	struct om_sk *st;
	__u32 family = skops->family;
	__u32 lport = skops->local_port;  /* host order */
	__u32 rport = skops->remote_port; /* network order, upper half: read once into a u32 */
	__u16 port = lport;
	bool trusted, direct;

	struct om_port_key pk = {.netns = bpf_get_netns_cookie(skops), .port = port};

	l = bpf_map_lookup_elem(&ports, &pk);
	if (!l)
		return 1;
	c.cookie = bpf_get_socket_cookie(skops);
	c.peer.port = bpf_ntohl(rport) & 0xffff;
	c.local.port = port;
	c.peer.family = c.local.family = family;
	if (family == AF_INET) {
		__u32 r = skops->remote_ip4, lo = skops->local_ip4;
		__builtin_memcpy(c.peer.addr, &r, 4);
		__builtin_memcpy(c.local.addr, &lo, 4);
		trusted = (l->lists & OM_LIST_TRUSTED_V4) && in_trie4(&trusted_v4, port, r);
		direct = (l->lists & OM_LIST_DIRECT_V4) && in_trie4(&direct_v4, port, r);
	} else if (family == AF_INET6) {
		__u32 r[4], lo[4];
		r[0] = skops->remote_ip6[0];
		r[1] = skops->remote_ip6[1];
		r[2] = skops->remote_ip6[2];
		r[3] = skops->remote_ip6[3];
		lo[0] = skops->local_ip6[0];
		lo[1] = skops->local_ip6[1];
		lo[2] = skops->local_ip6[2];
		lo[3] = skops->local_ip6[3];
		__builtin_memcpy(c.peer.addr, r, 16);
		__builtin_memcpy(c.local.addr, lo, 16);
		if (v4_mapped(c.peer.addr)) { /* matched as the IPv4 address it carries, like cidr.c */
			trusted = (l->lists & OM_LIST_TRUSTED_V4) && in_trie4(&trusted_v4, port, r[3]);
			direct = (l->lists & OM_LIST_DIRECT_V4) && in_trie4(&direct_v4, port, r[3]);
		} else {
			trusted = (l->lists & OM_LIST_TRUSTED_V6) && in_trie6(&trusted_v6, port, c.peer.addr);
			direct = (l->lists & OM_LIST_DIRECT_V6) && in_trie6(&direct_v6, port, c.peer.addr);
		}
	} else {
		return 1;
	}
	c.origin = c.peer;
	c.dst = c.local;
	c.opened_ns = bpf_ktime_get_ns();
	c.pid = instance_pid;
	c.mode = l->mode;
	c.verdict = verdict_for(l->mode, trusted, direct);
	c.state = OM_STATE_OPEN;
	c.counted = msg_all || c.verdict == OM_VERDICT_DENIED;
	bpf_map_update_elem(&conns, &c.cookie, &c, BPF_ANY);

	sk = skops->sk;
	if (c.counted && sk) { /* what sk_msg needs, since it cannot get the cookie itself */
		st = bpf_sk_storage_get(&sk_store, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (st) {
			st->cookie = c.cookie;
			st->opened_ns = c.opened_ns;
			st->verdict = c.verdict;
		}
	}
	if (c.counted)
		bpf_sock_hash_update(skops, &sock_hash, &c.cookie, BPF_ANY);
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);

	struct om_event *e = event_reserve();
	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		e->type = OM_EV_OPEN;
		e->verdict = c.verdict;
		e->cookie = c.cookie;
		e->peer = c.peer;
		e->local = c.local;
		bpf_ringbuf_submit(e, lazy_wakeup());
	}
	return 1;
}

static __always_inline int on_state(struct bpf_sock_ops *skops)
{
	__u32 newstate = skops->args[1];
	struct om_conn *c;
	__u64 cookie;

	/* Only these matter: the others (FIN_WAIT2, TIME_WAIT, LAST_ACK, ...) leave before any lookup. */
	if (newstate != BPF_TCP_CLOSE && newstate != BPF_TCP_FIN_WAIT1 && newstate != BPF_TCP_CLOSE_WAIT)
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	c = bpf_map_lookup_elem(&conns, &cookie);
	if (!c) /* evicted by a flood (LRU): nothing left to close */
		return 1;
	/* Under a shared parent cgroup every instance's program runs: only the entry's owner answers (the
	 * map is shared, so its pid says whose; cheaper than asking the ports map). */
	if (c->pid != instance_pid)
		return 1;
	if (newstate != BPF_TCP_CLOSE) {
		c->state = OM_STATE_CLOSING;
		return 1;
	}
	struct om_event *e = event_reserve();
	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		e->type = OM_EV_CLOSE;
		e->verdict = c->verdict;
		e->counted = c->counted;
		e->cookie = cookie;
		e->peer = c->peer;
		e->local = c->local;
		e->duration_ns = bpf_ktime_get_ns() - c->opened_ns;
		e->bytes_out = c->bytes_out; /* sk_msg keeps it current */
		e->bytes_received = skops->bytes_received;
		e->bytes_acked = skops->bytes_acked;
		bpf_ringbuf_submit(e, lazy_wakeup());
	}
	bool counted = c->counted;
	struct bpf_sock *sk = skops->sk;
	bpf_map_delete_elem(&conns, &cookie);
	if (counted && sk) /* freed with the socket anyway; now, as nothing reads it any more */
		bpf_sk_storage_delete(&sk_store, sk);
	return 1;
}

SEC("sockops")
int om_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		return on_established(skops);
	case BPF_SOCK_OPS_STATE_CB:
		return on_state(skops);
	}
	return 1;
}

#define SOL_SOCKET 1
#define SO_COOKIE  57

/* The daemon's getsockopt(SO_COOKIE) on an accepted socket: the kernel has written the cookie; when the
 * buffer has room, the entry follows it, so one system call gives the daemon the cookie and the verdict. */
SEC("cgroup/getsockopt")
int om_getsockopt(struct bpf_sockopt *ctx)
{
	struct om_cookie_entry *r = ctx->optval;
	struct om_conn *c;
	__u64 cookie;

	if (ctx->level != SOL_SOCKET || ctx->optname != SO_COOKIE || ctx->retval != 0 || ctx->optlen != 8)
		return 1;
	if ((void *)(r + 1) > ctx->optval_end) /* asked for the cookie alone */
		return 1;
	cookie = r->cookie;
	c = bpf_map_lookup_elem(&conns, &cookie);
	if (!c || c->pid != instance_pid) /* not one of ours (another instance answers for its own) */
		return 1;
	__builtin_memcpy(&r->conn, c, sizeof(*c));
	ctx->optlen = sizeof(*r);
	return 1;
}

/* The entry a request names, when it is this instance's and describes this socket. */
static __always_inline struct om_conn *own_entry(struct bpf_sock *sk, __u64 cookie)
{
	struct om_conn *c = bpf_map_lookup_elem(&conns, &cookie);

	if (!c || c->pid != instance_pid) /* gone already, or another instance's: its program answers */
		return NULL;
	if (c->local.family != sk->family || c->local.port != sk->src_port ||
	    c->peer.port != bpf_ntohs(sk->dst_port))
		return NULL;
	return c;
}

/* The daemon's writes into its entries, in place: no new LRU element, no copy of the rest. */
SEC("cgroup/setsockopt")
int om_setsockopt(struct bpf_sockopt *ctx)
{
	void *v = ctx->optval, *end = ctx->optval_end;
	struct bpf_sock *sk = ctx->sk;
	struct om_conn *c;

	if (ctx->level != OM_SOL || !sk)
		return 1;
	if (ctx->optname == OM_SO_ORIGIN) {
		struct om_set_origin *o = v;
		if ((void *)(o + 1) > end)
			return 1;
		c = own_entry(sk, o->cookie);
		if (!c)
			return 1;
		c->origin = o->origin;
		c->dst = o->dst;
		c->proxy_version = o->proxy_version;
		__builtin_memcpy(c->unique_id, o->unique_id, sizeof(c->unique_id));
		c->unique_id[sizeof(c->unique_id) - 1] = '\0';
		c->proto = o->proto;
		c->tls = 0;
		c->state = OM_STATE_ORIGIN;
	} else if (ctx->optname == OM_SO_SESSION) {
		struct om_set_session *o = v;
		if ((void *)(o + 1) > end)
			return 1;
		c = own_entry(sk, o->cookie);
		if (!c)
			return 1;
		c->proto = o->proto;
		c->tls = o->tls;
	} else {
		return 1;
	}
	ctx->optlen = -1; /* done: the kernel's own setsockopt is skipped, the call returns 0 */
	return 1;
}

static __always_inline void note_drop(struct om_sk *st, __u64 size)
{
	struct om_conn *c;

	st->bytes_dropped += size;
	__sync_fetch_and_add(&dropped_bytes, size);
	c = bpf_map_lookup_elem(&conns, &st->cookie);
	if (c)
		c->bytes_dropped = st->bytes_dropped;
	struct om_event *e = event_reserve();
	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		e->type = OM_EV_DROP;
		e->verdict = st->verdict;
		e->cookie = st->cookie;
		e->bytes_out = size;
		bpf_ringbuf_submit(e, 0);
	}
}

/* A denied peer: how many bytes of this message may pass (0: drop it). The first line (through its
 * '\n') within the budget passes, nothing after it. */
static __always_inline __u64 denied_allowance(struct sk_msg_md *msg, struct om_sk *st, __u64 size)
{
	__u64 left, scan;
	__u8 *data, *end;

	if (st->line_sent || st->bytes_out >= OM_DENIED_BUDGET)
		return 0;
	left = OM_DENIED_BUDGET - st->bytes_out;
	scan = size < left ? size : left;
	if (bpf_msg_pull_data(msg, 0, scan, 0) != 0)
		return 0;
	data = msg->data;
	end = msg->data_end;
	for (__u32 i = 0; i < OM_DENIED_BUDGET; i++) {
		if (i >= scan || data + i + 1 > end)
			break;
		if (data[i] == '\n') {
			st->line_sent = 1;
			return i + 1;
		}
	}
	return scan;
}

SEC("sk_msg")
int om_skmsg(struct sk_msg_md *msg)
{
	struct bpf_sock *sk = msg->sk;
	struct om_conn *c;
	struct om_sk *st;
	__u64 size = msg->size, pass;

	if (!sk)
		return SK_PASS;
	st = bpf_sk_storage_get(&sk_store, sk, 0, 0);
	if (!st)
		return SK_PASS;
	if (st->verdict == OM_VERDICT_DENIED) {
		pass = denied_allowance(msg, st, size);
		if (pass == 0) {
			note_drop(st, size);
			return SK_DROP;
		}
		if (pass < size) /* the verdict covers these bytes; the program runs again for the rest */
			bpf_msg_apply_bytes(msg, pass);
		size = pass;
	}
	st->bytes_out += size;
	c = bpf_map_lookup_elem(&conns, &st->cookie);
	if (c)
		c->bytes_out = st->bytes_out;
	return SK_PASS;
}
