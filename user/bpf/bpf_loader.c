/* Loading and running the BPF side (om_bpf.h; the design is in docs/bpf.md). The skeleton
 * (build/bpf/originmail.skel.h, made by `bpftool gen skeleton`) embeds the object, so nothing is read
 * from disk but the kernel's BTF. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bpf/bpf_keys.h"
#include "bpf/om_bpf.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "util/pidns.h"
#ifdef __clang_analyzer__
/* For the static analyzer only: the generated skeleton frees a half-built skeleton through libbpf, which
 * the analyzer cannot see into (it would report a leak in build/bpf/originmail.skel.h). */
void om_analyzer_destroy_skeleton(struct bpf_object_skeleton *s);
#define bpf_object__destroy_skeleton(s) om_analyzer_destroy_skeleton(s)
#endif
#include "originmail.skel.h"

struct om_bpf {
	struct originmail_bpf *skel;
	struct ring_buffer *rb;
	int cgroup_fd;
	char pin_dir[PATH_MAX];
	char cgroup[PATH_MAX];
	uint16_t ports[OM_PORTS_MAX];
	size_t nports;
	__u32 instance; /* in the instances map and the tries: pid << 8 | a counter (tests run several) */
	__u64 netns;    /* our network namespace's cookie: the ports map's keys */
	pid_t owner;    /* the process that loaded it: a forked child (the relay worker) must not undo it */
	bool msg_all;   /* bpf_sk_msg = all */
	__u64 lost_seen, dropped_seen; /* the programs' counters as far as the metrics have them */
};

static char libbpf_last[512]; /* libbpf's last warning: the detail behind a failed load */

__attribute__((format(printf, 2, 0))) static int on_libbpf_print(enum libbpf_print_level level,
                                                                 const char *fmt, va_list ap)
{
	char line[512];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (line[0]) {
		snprintf(libbpf_last, sizeof(libbpf_last), "%s", line);
		log_debug("libbpf: %s", line);
	}
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* flock() on the pin directory: one instance at a time loads/pins or removes the pins. */
static int lock_pin_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		flock(fd, LOCK_EX);
	return fd;
}

static void unlock_pin_dir(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the lock */
}

/* Refuse maps pinned by another layout before libbpf tries (and fails obscurely) to reuse them. */
static bool check_abi(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	struct om_abi v = {0};
	__u32 zero = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/" OM_PIN_ABI, dir);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		snprintf(path, sizeof(path), "%s/" OM_PIN_CONNS, dir);
		if (access(path, F_OK) != 0)
			return true; /* nothing pinned yet: we are the first */
		snprintf(err, errlen,
		         "pinned maps in %s have no ABI version (this build uses version %d): stop every "
		         "originmaild on this host, then remove %s",
		         dir, OM_BPF_ABI_VERSION, dir);
		return false;
	}
	bool ok = bpf_map_lookup_elem(fd, &zero, &v) == 0 && v.version == OM_BPF_ABI_VERSION &&
	          v.conn_size == sizeof(struct om_conn);
	close(fd);
	if (!ok)
		snprintf(
		        err, errlen,
		        "pinned maps in %s have ABI version %u (%u-byte entries), this build uses version %d "
		        "(%zu-byte entries): stop every originmaild on this host, then remove %s",
		        dir, v.version, v.conn_size, OM_BPF_ABI_VERSION, sizeof(struct om_conn), dir);
	return ok;
}

/* Forget instances that died without saying so; returns how many are left (their ids in live). */
static unsigned prune_instances(int fd, __u32 *live)
{
	__u32 key, next, dead[OM_INSTANCES_MAX], ns = pidns_inode();
	unsigned ndead = 0, nlive = 0;
	struct om_instance inst;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		bool ours =
		        bpf_map_lookup_elem(fd, &key, &inst) != 0 || !inst.pidns || !ns || inst.pidns == ns;
		if (ours && kill((pid_t)(key >> 8), 0) != 0 && errno == ESRCH && ndead < OM_INSTANCES_MAX)
			dead[ndead++] = key;
		else if (nlive < OM_INSTANCES_MAX)
			live[nlive++] = key;
	}
	for (unsigned i = 0; i < ndead; i++)
		bpf_map_delete_elem(fd, &dead[i]);
	return nlive;
}

/* Delete the conns entries of one instance (its sockets' close callbacks stop with its link), or all. */
static void forget_conns(int fd, __u32 pid, bool all)
{
	__u64 key, next, *gone = NULL;
	size_t n = 0, cap = 0;
	struct om_conn c;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (!all && (bpf_map_lookup_elem(fd, &key, &c) != 0 || c.pid != pid))
			continue;
		if (n == cap) {
			__u64 *p = realloc(gone, (cap ? cap * 2 : 64) * sizeof(*p));
			if (!p)
				break;
			gone = p;
			cap = cap ? cap * 2 : 64;
		}
		gone[n++] = key;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &gone[i]);
	free(gone);
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct om_event *e = data;
	char peer[64], local[64], out[64];

	(void)ctx;
	if (len < sizeof(*e))
		return 0;
	/* Open and close are debug lines: two of each per connection, not worth formatting unread. */
	if (e->type != OM_EV_DROP && !log_enabled(LOG_LVL_DEBUG))
		return 0;
	om_endpoint_format(&e->peer, peer, sizeof(peer));
	om_endpoint_format(&e->local, local, sizeof(local));
	switch (e->type) {
	case OM_EV_OPEN: /* "Connection established" already says it at info: one line per connection is
	                    enough */
		log_debug("BPF: open cookie %llu from %s to %s, verdict %s", (unsigned long long)e->cookie,
		          peer, local, om_verdict_name(e->verdict));
		break;
	case OM_EV_CLOSE: /* at debug too: the daemon's own close line has the length and the bytes */
		if (e->counted)
			snprintf(out, sizeof(out), "%llu bytes out (sk_msg)",
			         (unsigned long long)e->bytes_out);
		else
			snprintf(out, sizeof(out), "bytes out not counted (bpf_sk_msg = denied)");
		log_debug("BPF: close cookie %llu from %s after %llu ms, %s, %llu in, %llu acked",
		          (unsigned long long)e->cookie, peer, (unsigned long long)(e->duration_ns / 1000000),
		          out, (unsigned long long)e->bytes_received, (unsigned long long)e->bytes_acked);
		break;
	case OM_EV_DROP: /* the bytes go into the metrics from the programs' own count (om_bpf_poll) */
		log_warn("BPF: sk_msg dropped %llu bytes to denied peer (cookie %llu): only the refusal line "
		         "(at most %d bytes) may leave",
		         (unsigned long long)e->bytes_out, (unsigned long long)e->cookie, OM_DENIED_BUDGET);
		break;
	default:
		break;
	}
	return 0;
}

static bool port_known(const struct om_bpf *b, uint16_t port)
{
	for (size_t i = 0; i < b->nports; i++)
		if (b->ports[i] == port)
			return true;
	return false;
}

/* Does the trie key k (of an instance port) appear among the wanted keys? */
static bool wanted(const void *k, const void *keys, size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(k, (const char *)keys + i * size, size))
			return true;
	return false;
}

static bool id_in(__u32 id, const __u32 *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Delete trie keys: with live, those of instances not in it; else those of instance self that are not
 * among the wanted keys. In rounds, since deleting while walking may skip keys. */
static void prune_trie(int fd, const void *keys, size_t n, size_t size, __u32 self, const __u32 *live,
                       size_t nlive)
{
	__u8 key[sizeof(struct om_lpm_v6)], next[sizeof(struct om_lpm_v6)];
	__u8 gone[64][sizeof(struct om_lpm_v6)];
	size_t ngone;

	do {
		void *prev = NULL;
		ngone = 0;
		while (ngone < 64 && bpf_map_get_next_key(fd, prev, next) == 0) {
			memcpy(key, next, size);
			prev = key;
			__u32 inst = om_lpm_inst(key + sizeof(__u32));
			bool doomed = live ? !id_in(inst, live, nlive)
			                   : inst == self && !wanted(key, keys, n, size);
			if (doomed)
				memcpy(gone[ngone++], key, size);
		}
		for (size_t i = 0; i < ngone; i++)
			bpf_map_delete_elem(fd, gone[i]);
	} while (ngone == 64);
}

/* Remove the trie keys of instance self (live NULL), or of every instance not in live. */
static void clear_tries(const struct om_bpf *b, __u32 self, const __u32 *live, size_t nlive)
{
	const struct originmail_bpf *s = b->skel;

	prune_trie(bpf_map__fd(s->maps.trusted_v4), NULL, 0, sizeof(struct om_lpm_v4), self, live, nlive);
	prune_trie(bpf_map__fd(s->maps.direct_v4), NULL, 0, sizeof(struct om_lpm_v4), self, live, nlive);
	prune_trie(bpf_map__fd(s->maps.trusted_v6), NULL, 0, sizeof(struct om_lpm_v6), self, live, nlive);
	prune_trie(bpf_map__fd(s->maps.direct_v6), NULL, 0, sizeof(struct om_lpm_v6), self, live, nlive);
}

/* Put the wanted keys of one trie, then delete our keys that are no longer wanted (in that order, so a
 * reload never leaves a moment where a trusted proxy is unknown). */
static void sync_trie(int fd, const void *keys, size_t n, size_t size, __u32 self)
{
	__u8 one = 1;

	for (size_t i = 0; i < n; i++)
		bpf_map_update_elem(fd, (const char *)keys + i * size, &one, BPF_ANY);
	prune_trie(fd, keys, n, size, self, NULL, 0);
}

/* Two listeners on one port must agree: the kernel classifies by port. */
static bool same_policy(const struct listener_conf *a, const struct listener_conf *b)
{
	char x[2048], y[2048];

	if (a->proxy != b->proxy)
		return false;
	if (strcmp(cidr_set_format(&a->trusted, x, sizeof(x)), cidr_set_format(&b->trusted, y, sizeof(y))))
		return false;
	return !strcmp(cidr_set_format(&a->direct, x, sizeof(x)), cidr_set_format(&b->direct, y, sizeof(y)));
}

/* The trie keys of one listener port appended to k4/k6 ([0] trusted, [1] direct); returns which tries
 * got any (OM_LIST_*), so that sock_ops looks in those only. */
static __u8 add_keys(__u32 instance, uint16_t port, const struct listener_conf *lc, struct om_lpm_v4 **k4,
                     size_t *n4, struct om_lpm_v6 **k6, size_t *n6)
{
	static const __u8 bit4[2] = {OM_LIST_TRUSTED_V4, OM_LIST_DIRECT_V4};
	static const __u8 bit6[2] = {OM_LIST_TRUSTED_V6, OM_LIST_DIRECT_V6};
	__u8 lists = 0;

	for (int t = 0; t < 2; t++) {
		const struct cidr_set *set = t == 0 ? &lc->trusted : &lc->direct;
		for (size_t c = 0; c < set->n; c++) {
			if (om_lpm_v4_key(&k4[t][n4[t]], instance, port, &set->v[c])) {
				n4[t]++;
				lists |= bit4[t];
			} else if (om_lpm_v6_key(&k6[t][n6[t]], instance, port, &set->v[c])) {
				n6[t]++;
				lists |= bit6[t];
			}
		}
	}
	return lists;
}

bool om_bpf_load_policy(struct om_bpf *b, const struct config *cfg, char *err, size_t errlen)
{
	struct om_bpf now = {.nports = 0};
	const struct listener_conf *owner[OM_PORTS_MAX] = {0};
	__u8 lists[OM_PORTS_MAX] = {0};
	struct om_lpm_v4 *k4[2] = {NULL, NULL};
	struct om_lpm_v6 *k6[2] = {NULL, NULL};
	size_t n4[2] = {0, 0}, n6[2] = {0, 0}, total = 0;
	bool ok = false;

	for (size_t i = 0; i < cfg->nlisteners; i++)
		total += cfg->listeners[i].trusted.n + cfg->listeners[i].direct.n;
	for (int t = 0; t < 2; t++) {
		k4[t] = calloc(total + 1, sizeof(*k4[t]));
		k6[t] = calloc(total + 1, sizeof(*k6[t]));
	}
	if (!k4[0] || !k4[1] || !k6[0] || !k6[1]) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct listener_conf *lc = &cfg->listeners[i];
		for (size_t a = 0; a < lc->naddrs; a++) {
			if (lc->addrs[a].sa.sa_family == AF_UNIX)
				continue; /* sock_ops sees TCP only */
			uint16_t port = pp_sockaddr_port(&lc->addrs[a]);
			size_t j = 0;
			while (j < now.nports && now.ports[j] != port)
				j++;
			if (j < now.nports) {
				if (owner[j] != lc && !same_policy(owner[j], lc)) {
					snprintf(err, errlen,
					         "listeners '%s' and '%s' share port %u with different proxy "
					         "policies: the kernel classifies by port",
					         owner[j]->name, lc->name, port);
					goto out;
				}
				continue;
			}
			if (now.nports == OM_PORTS_MAX) {
				snprintf(err, errlen, "more than %d listener ports", OM_PORTS_MAX);
				goto out;
			}
			owner[now.nports] = lc;
			lists[now.nports] = add_keys(b->instance, port, lc, k4, n4, k6, n6);
			now.ports[now.nports++] = port;
		}
	}
	struct originmail_bpf *s = b->skel;
	int ports_fd = bpf_map__fd(s->maps.ports);
	for (size_t j = 0; j < now.nports; j++) {
		struct om_listener l = {.mode = om_mode_from_proxy(owner[j]->proxy), .lists = lists[j]};
		struct om_port_key pk = {.netns = b->netns, .port = now.ports[j]};
		if (bpf_map_update_elem(ports_fd, &pk, &l, BPF_ANY) != 0) {
			snprintf(err, errlen, "cannot fill the ports map: %s", strerror(errno));
			goto out;
		}
	}
	sync_trie(bpf_map__fd(s->maps.trusted_v4), k4[0], n4[0], sizeof(**k4), b->instance);
	sync_trie(bpf_map__fd(s->maps.direct_v4), k4[1], n4[1], sizeof(**k4), b->instance);
	sync_trie(bpf_map__fd(s->maps.trusted_v6), k6[0], n6[0], sizeof(**k6), b->instance);
	sync_trie(bpf_map__fd(s->maps.direct_v6), k6[1], n6[1], sizeof(**k6), b->instance);
	for (size_t j = 0; j < b->nports; j++) /* ports no longer ours */
		if (!port_known(&now, b->ports[j])) {
			struct om_port_key pk = {.netns = b->netns, .port = b->ports[j]};
			bpf_map_delete_elem(ports_fd, &pk);
		}
	memcpy(b->ports, now.ports, sizeof(b->ports));
	b->nports = now.nports;
	ok = true;
out:
	for (int t = 0; t < 2; t++) {
		free(k4[t]);
		free(k6[t]);
	}
	return ok;
}

static const char *load_reason(int e)
{
	if (e == EPERM || e == EACCES)
		return "not permitted (needs root, or CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON)";
	return strerror(e);
}

/* Open, load (reusing or pinning the shared maps) and register this instance, under the pin lock. */
static bool load(struct om_bpf *b, char *err, size_t errlen)
{
	struct bpf_object_open_opts opts = {.sz = sizeof(opts), .pin_root_path = b->pin_dir};
	struct om_abi v = {.version = OM_BPF_ABI_VERSION, .conn_size = sizeof(struct om_conn)};
	struct om_instance me = {.started_ns = mono_ns(), .pidns = pidns_inode()};
	static __u32 seq;
	__u32 zero = 0, pid = (__u32)getpid(), live[OM_INSTANCES_MAX];
	int lock = lock_pin_dir(b->pin_dir);
	bool ok = false;

	if (!check_abi(b->pin_dir, err, errlen) || !om_bpf_limits_pins_ok(b->pin_dir, err, errlen))
		goto out;
	b->skel = originmail_bpf__open_opts(&opts);
	if (!b->skel) {
		snprintf(err, errlen, "cannot open the BPF object: %s", load_reason(errno));
		goto out;
	}
	b->instance = pid << 8 | (++seq & 0xff);
	b->owner = getpid();
	b->skel->rodata->instance_pid = pid;
	b->skel->rodata->instance_id = b->instance;
	b->skel->rodata->msg_all = b->msg_all;
	libbpf_last[0] = '\0';
	int r = originmail_bpf__load(b->skel);
	if (r != 0) {
		snprintf(err, errlen, "cannot load the BPF programs: %s%s%s", load_reason(-r),
		         libbpf_last[0] ? " (libbpf: " : "", libbpf_last[0] ? libbpf_last : "");
		if (libbpf_last[0])
			strncat(err, ")", errlen - strlen(err) - 1);
		goto out;
	}
	bpf_map_update_elem(bpf_map__fd(b->skel->maps.abi), &zero, &v, BPF_ANY);
	/* What instances that are gone left: their trie keys, and all of conns when no other is alive. */
	size_t nlive = prune_instances(bpf_map__fd(b->skel->maps.instances), live);
	clear_tries(b, 0, live, nlive);
	if (nlive == 0)
		forget_conns(bpf_map__fd(b->skel->maps.conns), 0, true);
	bpf_map_update_elem(bpf_map__fd(b->skel->maps.instances), &b->instance, &me, BPF_ANY);
	ok = true;
out:
	unlock_pin_dir(lock);
	return ok;
}

struct om_bpf *om_bpf_start(const struct config *cfg, char *err, size_t errlen)
{
	struct om_bpf *b = calloc(1, sizeof(*b));

	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->cgroup_fd = -1;
	b->msg_all = cfg->bpf_sk_msg == SK_MSG_ALL;
	libbpf_set_print(on_libbpf_print);
	snprintf(b->pin_dir, sizeof(b->pin_dir), "%s", *cfg->bpf_pin_dir ? cfg->bpf_pin_dir : OM_BPF_PIN_DIR);
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(err, errlen,
		         "the kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load");
		goto fail;
	}
	int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(b->netns);
	if (probe < 0 || getsockopt(probe, SOL_SOCKET, SO_NETNS_COOKIE, &b->netns, &len) != 0) {
		snprintf(err, errlen, "no SO_NETNS_COOKIE (kernel older than 5.14?): %s", strerror(errno));
		if (probe >= 0)
			close(probe);
		goto fail;
	}
	close(probe);
	if (!om_pin_dir_prepare(b->pin_dir, err, errlen) || !load(b, err, errlen))
		goto fail;
	if (!om_bpf_load_policy(b, cfg, err, errlen))
		goto fail;
	if (!om_cgroup_prepare(cfg->bpf_cgroup, b->cgroup, sizeof(b->cgroup), err, errlen))
		goto fail;
	b->cgroup_fd = open(b->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->cgroup_fd < 0) {
		snprintf(err, errlen, "cannot open cgroup %s: %s", b->cgroup, strerror(errno));
		goto fail;
	}
	int mapfd = bpf_map__fd(b->skel->maps.sock_hash);
	if (bpf_prog_attach(bpf_program__fd(b->skel->progs.om_skmsg), mapfd, BPF_SK_MSG_VERDICT, 0) != 0) {
		snprintf(err, errlen, "cannot attach sk_msg to the sockhash: %s", load_reason(errno));
		goto fail;
	}
	b->skel->links.om_sockops = bpf_program__attach_cgroup(b->skel->progs.om_sockops, b->cgroup_fd);
	if (!b->skel->links.om_sockops) {
		snprintf(err, errlen, "cannot attach sock_ops to cgroup %s: %s", b->cgroup,
		         load_reason(errno));
		goto fail;
	}
	/* The daemon's reads and writes of its entries go through getsockopt and setsockopt, which these
	 * answer (one system call less per connection than bpf() on the map, and no new LRU element). */
	struct originmail_bpf *k = b->skel;
	k->links.om_getsockopt = bpf_program__attach_cgroup(k->progs.om_getsockopt, b->cgroup_fd);
	if (k->links.om_getsockopt)
		k->links.om_setsockopt = bpf_program__attach_cgroup(k->progs.om_setsockopt, b->cgroup_fd);
	if (!k->links.om_setsockopt) {
		snprintf(err, errlen, "cannot attach the sockopt programs to cgroup %s: %s", b->cgroup,
		         load_reason(errno));
		goto fail;
	}
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), on_event, b, NULL);
	if (!b->rb) {
		snprintf(err, errlen, "cannot open the ring buffer: %s", strerror(errno));
		goto fail;
	}
	log_info("BPF metadata on: sock_ops on cgroup %s, maps pinned in %s (ABI %d), %zu ports watched",
	         b->cgroup, b->pin_dir, OM_BPF_ABI_VERSION, b->nports);
	return b;
fail:
	om_bpf_stop(b);
	return NULL;
}

void om_bpf_stop(struct om_bpf *b)
{
	if (!b)
		return;
	ring_buffer__free(b->rb);
	if (b->skel && b->owner != getpid()) {
		/* A forked child letting go of what it inherited: the instance, its tries and the pins are
		 * the parent's. Only the file descriptors close: closing a bpf_link's fd detaches nothing
		 * while the parent holds its own. */
		originmail_bpf__destroy(b->skel);
		b->skel = NULL;
	}
	if (b->skel) {
		__u32 pid = (__u32)getpid();
		bpf_link__destroy(b->skel->links.om_sockops); /* no new entries from here on */
		b->skel->links.om_sockops = NULL;
		int lock = lock_pin_dir(b->pin_dir);
		forget_conns(bpf_map__fd(b->skel->maps.conns), pid, false);
		if (b->nports)
			clear_tries(b, b->instance, NULL, 0); /* the tries never fill with dead listeners */
		int inst = bpf_map__fd(b->skel->maps.instances);
		if (inst >= 0)
			bpf_map_delete_elem(inst, &b->instance);
		__u32 live[OM_INSTANCES_MAX];
		if (inst >= 0 && prune_instances(inst, live) == 0 && b->nports) {
			/* The last instance on the host: the pins go (when we still may, see docs/bpf.md). */
			if (bpf_object__unpin_maps(b->skel->obj, NULL) == 0 && rmdir(b->pin_dir) == 0)
				log_info("BPF: last instance, removed the pinned maps in %s", b->pin_dir);
			else
				log_info("BPF: last instance, pinned maps kept in %s (%s)", b->pin_dir,
				         strerror(errno));
		}
		originmail_bpf__destroy(b->skel);
		unlock_pin_dir(lock);
	}
	if (b->cgroup_fd >= 0)
		close(b->cgroup_fd);
	free(b);
}

bool om_bpf_init(struct om_bpf **out, const struct config *cfg, char *err, size_t errlen)
{
	*out = NULL;
	if (cfg->bpf == BPF_OFF) {
		log_info("BPF metadata off: bpf = off in the configuration");
		return true;
	}
	*out = om_bpf_start(cfg, err, errlen);
	if (*out)
		return true;
	if (cfg->bpf == BPF_ON) {
		char why[1024];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "bpf = on, but BPF metadata cannot start: %s", why);
		return false;
	}
	log_warn("BPF metadata off: %s", err);
	return true;
}

int om_bpf_event_fd(const struct om_bpf *b)
{
	return ring_buffer__epoll_fd(b->rb);
}

void om_bpf_counters(const struct om_bpf *b, uint64_t *events_lost, uint64_t *dropped_bytes)
{
	/* libbpf mmaps .bss into this process: plain reads of what the programs add */
	*events_lost = __atomic_load_n(&b->skel->bss->events_lost, __ATOMIC_RELAXED);
	*dropped_bytes = __atomic_load_n(&b->skel->bss->dropped_bytes, __ATOMIC_RELAXED);
}

void om_bpf_poll(struct om_bpf *b)
{
	uint64_t lost, dropped;

	ring_buffer__consume(b->rb);
	om_bpf_counters(b, &lost, &dropped);
	if (dropped > b->dropped_seen)
		metrics_add(M_BPF_DROPPED_BYTES, dropped - b->dropped_seen);
	b->dropped_seen = dropped;
	if (lost > b->lost_seen) {
		metrics_add(M_BPF_EVENTS_LOST, lost - b->lost_seen);
		log_warn("BPF: %llu ring-buffer events lost, the ring was full (%llu in all): "
		         "their log lines are missing, the counts and the map are not",
		         (unsigned long long)(lost - b->lost_seen), (unsigned long long)lost);
	}
	b->lost_seen = lost;
}

bool om_bpf_lookup(const struct om_bpf *b, uint64_t cookie, struct om_conn *out)
{
	__u64 key = cookie;
	return cookie && bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.conns), &key, out) == 0;
}

bool om_bpf_accepted(int fd, uint64_t *cookie, struct om_conn *entry)
{
	struct om_cookie_entry r;
	socklen_t len = sizeof(r);

	*cookie = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &r, &len) != 0 || len < sizeof(r.cookie))
		return false;
	*cookie = r.cookie;
	if (len != sizeof(r) || r.conn.cookie != r.cookie) /* the kernel's cookie alone: no entry */
		return false;
	*entry = r.conn;
	return true;
}

enum peer_verdict om_bpf_verdict(const struct om_conn *entry, uint64_t cookie, enum peer_verdict user)
{
	if (!entry || entry->verdict > OM_VERDICT_PROXY_OPTIONAL) {
		log_debug("BPF: no entry for cookie %llu, the configuration's verdict applies",
		          (unsigned long long)cookie);
		return user;
	}
	if (entry->verdict != (unsigned)user)
		log_warn("BPF: kernel verdict %s differs from the configuration's %s (cookie %llu)",
		         om_verdict_name(entry->verdict), policy_verdict_name(user),
		         (unsigned long long)cookie);
	return (enum peer_verdict)entry->verdict;
}

bool om_bpf_set_origin(int fd, const struct origin *o, unsigned proxy_version, enum listener_proto proto)
{
	struct om_set_origin r;

	memset(&r, 0, sizeof(r));
	r.cookie = o->cookie;
	om_endpoint_from_sockaddr(&r.origin, &o->client);
	om_endpoint_from_sockaddr(&r.dst, &o->dst);
	r.proxy_version = (__u8)proxy_version;
	r.proto = (__u8)om_proto_from_listener(proto);
	size_t n = strnlen(o->unique_id, sizeof(r.unique_id) - 1);
	memcpy(r.unique_id, o->unique_id, n);
	/* ENOPROTOOPT: no entry of ours for this socket (closed meanwhile, or evicted by a flood) */
	return setsockopt(fd, OM_SOL, OM_SO_ORIGIN, &r, sizeof(r)) == 0;
}

bool om_bpf_set_session(int fd, uint64_t cookie, enum listener_proto proto, bool tls)
{
	struct om_set_session r = {
	        .cookie = cookie, .proto = (__u8)om_proto_from_listener(proto), .tls = tls};

	return setsockopt(fd, OM_SOL, OM_SO_SESSION, &r, sizeof(r)) == 0;
}

static unsigned map_entries(int fd, size_t key_size)
{
	unsigned char key[64], next[64];
	unsigned n = 0;
	void *prev = NULL;

	if (fd < 0 || key_size > sizeof(key))
		return 0;
	while (n < 10 * OM_CONNS_MAX && bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

void om_bpf_report_metrics(const struct om_bpf *b)
{
	metrics_set(M_BPF_ATTACHED, b != NULL);
	metrics_clear(metrics_default(), M_BPF_MAP_ENTRIES);
	if (!b)
		return;
	const struct {
		const char *name;
		const struct bpf_map *map;
	} maps[] = {
	        {OM_PIN_CONNS, b->skel->maps.conns},           {OM_PIN_INSTANCES, b->skel->maps.instances},
	        {OM_PIN_TRUSTED_V4, b->skel->maps.trusted_v4}, {OM_PIN_TRUSTED_V6, b->skel->maps.trusted_v6},
	        {OM_PIN_DIRECT_V4, b->skel->maps.direct_v4},   {OM_PIN_DIRECT_V6, b->skel->maps.direct_v6},
	};
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		metrics_set(M_BPF_MAP_ENTRIES,
		            map_entries(bpf_map__fd(maps[i].map), bpf_map__key_size(maps[i].map)),
		            maps[i].name);
}

bool om_bpf_limits_fds(const struct om_bpf *b, int *slots_fd, int *meta_fd)
{
	*slots_fd = b ? bpf_map__fd(b->skel->maps.limits) : -1;
	*meta_fd = b ? bpf_map__fd(b->skel->maps.limits_meta) : -1;
	return *slots_fd >= 0 && *meta_fd >= 0;
}

void om_bpf_test_oversend(struct obuf *out)
{
	const char *v = getenv("ORIGINMAIL_TEST_DENIED_OVERSEND");

	if (!v || strcmp(v, "1") != 0)
		return;
	obuf_puts(out, "220 this banner must never reach a denied peer\r\n");
	for (int i = 0; i < 40; i++)
		obuf_puts(out, "250-filler line that sk_msg must drop, whatever the daemon does .....\r\n");
}
