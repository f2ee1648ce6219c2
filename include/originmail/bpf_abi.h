/* The pinned-map ABI shared by the BPF programs (bpf/originmail.bpf.c) and userspace (user/bpf/,
 * originctl conns): pin names, key and value layouts, verdicts. Documented in docs/bpf.md.
 *
 * Any change to a struct or a pin name below bumps OM_BPF_ABI_VERSION: the daemon compares it with the
 * version stored in the pinned "abi" map and refuses to reuse maps of another layout with a clear error. */
#ifndef ORIGINMAIL_BPF_ABI_H
#define ORIGINMAIL_BPF_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define OM_BPF_ABI_VERSION 6
#define OM_BPF_PIN_DIR     "/sys/fs/bpf/originmail" /* default of the bpf_pin_dir key */

/* Pinned (shared by every instance on the host), under the pin directory: */
#define OM_PIN_CONNS      "conns"      /* LRU_HASH: socket cookie -> struct om_conn */
#define OM_PIN_TRUSTED_V4 "trusted_v4" /* LPM_TRIE: struct om_lpm_v4 -> __u8 (1) */
#define OM_PIN_TRUSTED_V6 "trusted_v6" /* LPM_TRIE: struct om_lpm_v6 -> __u8 */
#define OM_PIN_DIRECT_V4  "direct_v4"
#define OM_PIN_DIRECT_V6  "direct_v6"
#define OM_PIN_ABI        "abi"       /* ARRAY[1]: struct om_abi */
#define OM_PIN_INSTANCES  "instances" /* HASH: instance id -> struct om_instance */
/* The per-origin abuse limits (docs/bpf.md "Origin limits"): maps no program touches, pinned so that every
 * instance on the host mmaps the same memory and updates it with atomic instructions. */
#define OM_PIN_LIMITS      "limits"      /* ARRAY, BPF_F_MMAPABLE: OM_LIMITS_SLOTS x struct om_limit */
#define OM_PIN_LIMITS_META "limits_meta" /* ARRAY[1], BPF_F_MMAPABLE: struct om_limits_meta */

#define OM_CONNS_MAX     65536 /* LRU: a flood evicts the oldest entries, never fails an insert */
#define OM_LPM_MAX       4096
#define OM_INSTANCES_MAX 256
#define OM_PORTS_MAX     256

#define OM_LIMITS_SLOTS     16384 /* origins tracked at once (a power of two); 80 bytes each */
#define OM_LIMITS_CELLS     8     /* instances that may hold connections from one origin at once */
#define OM_LIMITS_INSTANCES 64    /* instances sharing the table */
#define OM_LIMITS_LAYOUT    1     /* bumped with any change to struct om_limit or om_limits_meta */

/* sk_msg: what a denied peer may be sent in all, the one refusal line. */
#define OM_DENIED_BUDGET 512

/* The verdict, numerically equal to enum peer_verdict (user/policy/policy.h). */
enum om_verdict {
	OM_VERDICT_DENIED = 0,
	OM_VERDICT_DIRECT = 1,
	OM_VERDICT_PROXY_REQUIRED = 2, /* expect a PROXY header */
	OM_VERDICT_PROXY_OPTIONAL = 3,
};

/* The listener's proxy mode, numerically equal to enum proxy_mode (user/conf/config.h). */
enum om_mode {
	OM_MODE_REQUIRED = 0,
	OM_MODE_OPTIONAL = 1,
	OM_MODE_OFF = 2,
};

enum om_state {
	OM_STATE_OPEN = 1,    /* recorded at PASSIVE_ESTABLISHED */
	OM_STATE_ORIGIN = 2,  /* the daemon wrote the PROXY header's tuple */
	OM_STATE_CLOSING = 3, /* FIN seen (the entry goes at TCP_CLOSE) */
};

/* The listener's protocol, written by the daemon when the session starts (0 until then). */
enum om_proto {
	OM_PROTO_UNKNOWN = 0,
	OM_PROTO_SMTP = 1,
	OM_PROTO_SUBMISSION = 2,
	OM_PROTO_IMAP = 3,
	OM_PROTO_POP3 = 4,
	OM_PROTO_LMTP = 5,
};

/* One end of a connection. addr: IPv4 in the first 4 bytes (network order), or the 16 IPv6 bytes;
 * port in host order; family AF_INET (2), AF_INET6 (10), or 0 when unknown. */
struct om_endpoint {
	__u8 addr[16];
	__u16 port;
	__u16 family;
};

#define OM_UNIQUE_ID_MAX 64

/* The conns value: one live connection, origin -> proxy -> instance. */
struct om_conn {
	__u64 cookie;                     /* SO_COOKIE of the accepted socket (also the key) */
	struct om_endpoint origin;        /* the original client: from the PROXY header, else == peer */
	struct om_endpoint peer;          /* who connected: the proxy, or the client when direct */
	struct om_endpoint local;         /* the instance's listener address */
	struct om_endpoint dst;           /* the address the client connected to (header), else == local */
	__u64 opened_ns;                  /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) at establishment */
	__u64 bytes_out;                  /* sent by the daemon, counted by sk_msg */
	__u64 bytes_dropped;              /* refused by sk_msg (denied peer over its budget) */
	__u32 pid;                        /* the instance (the process that loaded the program) */
	__u8 verdict;                     /* enum om_verdict */
	__u8 mode;                        /* enum om_mode of the listener */
	__u8 state;                       /* enum om_state */
	__u8 proxy_version;               /* 0: no header (yet), 1 or 2 */
	char unique_id[OM_UNIQUE_ID_MAX]; /* HAProxy's unique-id TLV, truncated, NUL-terminated */
	__u8 proto;                       /* enum om_proto (daemon, at session start) */
	__u8 tls;                         /* 1 once the TLS handshake completed (daemon) */
	__u8 counted;                     /* 1: sk_msg sees it, bytes_out counts; 0: bpf_sk_msg = denied */
	__u8 pad[5];
};

/* LPM keys: the instance id and the listener port (both network order), then the address, so one trie
 * serves every listener of every instance on the host (whatever network namespace it is in) without one
 * instance's policy touching another's; prefixlen = 32 + 16 + the CIDR's prefix. */
struct om_lpm_v4 {
	__u32 prefixlen;
	__u8 inst[4];
	__u8 port[2];
	__u8 addr[4];
	__u8 pad[2];
};

struct om_lpm_v6 {
	__u32 prefixlen;
	__u8 inst[4];
	__u8 port[2];
	__u8 addr[16];
	__u8 pad[2];
};

#define OM_LPM_FIXED_BITS 48 /* inst + port */

/* The daemon's own reads and writes of its entries, answered in the kernel by its cgroup sockopt programs
 * (om_getsockopt, om_setsockopt): a getsockopt or setsockopt it would make anyway or that costs less than
 * the bpf() call it replaces (docs/bpf.md). Both are attached with sock_ops (no attachment, no BPF); a
 * socket without an entry of the instance gets the kernel's own answer.
 *
 * getsockopt(SOL_SOCKET, SO_COOKIE) with room for a struct om_cookie_entry: the kernel writes the cookie,
 * om_getsockopt the entry after it (optlen says which happened: 8, or the whole struct). */
struct om_cookie_entry {
	__u64 cookie;
	struct om_conn conn;
};

/* setsockopt(OM_SOL, ...) on an accepted socket: om_setsockopt writes into the socket's entry and the
 * kernel's own handling is skipped (without the program, the kernel refuses the level: ENOPROTOOPT).
 * Each request names the cookie (the program cannot ask the socket for it); the entry is written only
 * when it is this instance's and its ports are the socket's. */
#define OM_SOL        0x6f6d /* "om": no protocol level of the kernel has this number */
#define OM_SO_ORIGIN  1      /* struct om_set_origin */
#define OM_SO_SESSION 2      /* struct om_set_session */

struct om_set_origin {
	__u64 cookie;
	struct om_endpoint origin;
	struct om_endpoint dst;
	__u8 proxy_version;
	__u8 proto; /* enum om_proto; TLS off */
	__u8 pad[6];
	char unique_id[OM_UNIQUE_ID_MAX]; /* NUL-terminated */
};

struct om_set_session {
	__u64 cookie;
	__u8 proto; /* enum om_proto */
	__u8 tls;
	__u8 pad[6];
};

/* ports (per instance, not pinned): the instance's network namespace and a listener port (host order)
 * -> its policy. Instances in other namespaces may share the cgroup and the port number. */
struct om_port_key {
	__u64 netns; /* SO_NETNS_COOKIE */
	__u16 port;
	__u16 pad[3];
};

struct om_listener {
	__u8 mode;  /* enum om_mode */
	__u8 lists; /* OM_LIST_*: which tries hold entries for this port (the others are not looked in) */
	__u8 pad[2];
};

#define OM_LIST_TRUSTED_V4 1
#define OM_LIST_DIRECT_V4  2
#define OM_LIST_TRUSTED_V6 4
#define OM_LIST_DIRECT_V6  8

struct om_abi {
	__u32 version;   /* OM_BPF_ABI_VERSION */
	__u32 conn_size; /* sizeof(struct om_conn) */
};

struct om_instance {
	__u64 started_ns; /* CLOCK_MONOTONIC */
	/* The inode of its pid namespace (0: unknown). An instance in another one (a container sharing the
	 * host's bpffs) cannot be judged by its pid: it is never taken for dead. */
	__u32 pidns;
	__u32 reserved;
};

/* The limits maps. Written only by userspace (user/limits/), through the mmap of the maps, with atomic
 * instructions: several processes update one origin at the same time without losing counts.
 *
 * struct om_limit is one slot of an open-addressed hash table keyed by the origin's address. state is
 * generation << 2 | enum om_slot_kind; the generation changes whenever the slot is given to another origin,
 * so that a process holding a slot index notices. */
enum om_slot_kind {
	OM_SLOT_FREE = 0,
	OM_SLOT_LIVE = 1,
	OM_SLOT_EVICTING = 2, /* being given to another origin (under the meta lock) */
};

struct om_limit {
	__u8 addr[16]; /* the origin: IPv6, IPv4 as ::ffff:a.b.c.d; IPv6 cut to origin_ipv6_prefix */
	__u32 state;   /* generation << 2 | enum om_slot_kind */
	__u32 refused; /* connections refused from this origin, all reasons (wraps) */
	__u64 seen_ns; /* CLOCK_MONOTONIC of the last connection or failed login: eviction takes the oldest */
	__u64 rate_tat; /* connection-rate bucket: GCRA theoretical arrival time (CLOCK_MONOTONIC ns) */
	__u64 fail_tat; /* failed-login bucket, the same */
	__u32 cells[OM_LIMITS_CELLS]; /* open connections: instance tag << 16 | count; 0 = free cell */
};

/* One instance using the table: its tag is its index + 1. start is its start time (field 22 of
 * /proc/PID/stat), so a reused pid is not taken for the instance that died. */
struct om_limits_inst {
	__u32 pid;   /* 0: free */
	__u32 pidns; /* the inode of its pid namespace (0: unknown): another namespace's pid says nothing */
	__u64 start;
};

struct om_limits_meta {
	__u32 layout;    /* OM_LIMITS_LAYOUT, set by the first instance */
	__u32 slot_size; /* sizeof(struct om_limit) */
	__u32 nslots;
	__u32 lock;    /* pid holding the structure lock (slot claims, evictions, instances), 0: free */
	__u64 seed[2]; /* the hash key: random, so nobody can aim addresses at one probe window */
	/* The limits of the instance that configured last, for `originctl limits` to read the buckets with.
	 */
	__u32 conn_max;
	__u32 rate_count;
	__u64 rate_window_ns;
	__u32 fail_max;
	__u32 pad;
	__u64 fail_window_ns;
	__u64 evictions; /* origins forgotten to make room */
	__u64 untracked; /* connections admitted without a slot or cell (table full) */
	struct om_limits_inst inst[OM_LIMITS_INSTANCES];
};

/* Ring buffer events (per instance). */
enum om_event_type {
	OM_EV_OPEN = 1,
	OM_EV_CLOSE = 2,
	OM_EV_DROP = 3, /* sk_msg dropped bytes to a denied peer */
};

struct om_event {
	__u32 type;
	__u8 verdict;
	__u8 counted; /* close: bytes_out was counted by sk_msg (struct om_conn's) */
	__u8 pad[2];
	__u64 cookie;
	struct om_endpoint peer;
	struct om_endpoint local;
	__u64 duration_ns;    /* close */
	__u64 bytes_out;      /* close: counted by sk_msg; drop: dropped in this send */
	__u64 bytes_received; /* close: from the TCP socket */
	__u64 bytes_acked;    /* close */
};

#endif
