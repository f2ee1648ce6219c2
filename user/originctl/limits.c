/* originctl limits: the per-origin table every originmaild on this host shares (the pinned limits and
 * limits_meta maps, include/originmail/bpf_abi.h; docs/bpf.md "Origin limits"), one line per origin:
 * open connections (per instance), new connections and failed logins in their buckets, refusals. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "limits/bucket.h"
#include "originctl.h"
#include "originmail/bpf_abi.h"

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: originctl limits [--json] [--pin-dir DIR]\n"
	           "  the per-origin abuse-limit table shared by the originmaild instances on this host\n"
	           "  (pinned BPF maps " OM_PIN_LIMITS " and " OM_PIN_LIMITS_META
	           " in DIR, default " OM_BPF_PIN_DIR "): per origin\n"
	           "  the open connections (by instance pid), new connections and failed logins counted in\n"
	           "  their buckets against the limits in force, the state (ok, max-connections, rate, "
	           "locked),\n"
	           "  connections refused, and the time since the origin was last seen. Needs root. With\n"
	           "  bpf = off every instance keeps a table of its own, which this cannot show.\n");
	return rc;
}

static const char *addr_text(const uint8_t a[16], char *buf, size_t cap)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (!memcmp(a, mapped, sizeof(mapped)))
		return inet_ntop(AF_INET, a + 12, buf, (socklen_t)cap);
	return inet_ntop(AF_INET6, a, buf, (socklen_t)cap);
}

static int open_pin(const char *dir, const char *name)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "originctl: %s: %s (is an originmaild with bpf running?)\n", path,
		        strerror(errno));
	return fd;
}

static uint32_t pid_of(const struct om_limits_meta *m, uint32_t tag)
{
	return tag >= 1 && tag <= OM_LIMITS_INSTANCES ? m->inst[tag - 1].pid : 0;
}

static const char *state_of(const struct om_limits_meta *m, uint32_t conns, uint32_t rate, uint32_t fails)
{
	if (m->fail_max && fails >= m->fail_max)
		return "locked";
	if (m->rate_count && rate >= m->rate_count)
		return "rate";
	if (m->conn_max && conns >= m->conn_max)
		return "max-connections";
	return "ok";
}

static void print_slot(struct json *j, const struct om_limits_meta *m, const struct om_limit *s, uint64_t now)
{
	struct bucket_rate rate = {m->rate_count, m->rate_window_ns}, fail = {m->fail_max, m->fail_window_ns};
	uint32_t conns = 0, used = bucket_used(s->rate_tat, &rate, now),
	         fails = bucket_used(s->fail_tat, &fail, now);
	uint64_t idle_ms = now > s->seen_ns ? (now - s->seen_ns) / 1000000 : 0;
	char ip[INET6_ADDRSTRLEN], by[OM_LIMITS_CELLS * 24] = "";
	size_t n = 0;

	for (int c = 0; c < OM_LIMITS_CELLS; c++) {
		uint32_t v = s->cells[c];
		if (!v)
			continue;
		conns += v & 0xffff;
		if (n < sizeof(by))
			n += (size_t)snprintf(by + n, sizeof(by) - n, "%s%u:%u", n ? "," : "",
			                      pid_of(m, v >> 16), v & 0xffff);
	}
	const char *state = state_of(m, conns, used, fails);
	addr_text(s->addr, ip, sizeof(ip));
	if (!j) {
		printf("%-40s %-11u %-24s %-11u %-8u %-15s %-8u %llu.%llus\n", ip, conns, n ? by : "-", used,
		       fails, state, s->refused, (unsigned long long)idle_ms / 1000,
		       (unsigned long long)idle_ms % 1000 / 100);
		return;
	}
	json_begin_object(j, NULL);
	json_cstr(j, "origin", ip);
	json_int(j, "connections", conns);
	json_begin_array(j, "instances");
	for (int c = 0; c < OM_LIMITS_CELLS; c++) {
		if (!s->cells[c])
			continue;
		json_begin_object(j, NULL);
		json_int(j, "pid", pid_of(m, s->cells[c] >> 16));
		json_int(j, "connections", s->cells[c] & 0xffff);
		json_end_object(j);
	}
	json_end_array(j);
	json_int(j, "new_connections", used);
	json_int(j, "failed_logins", fails);
	json_cstr(j, "state", state);
	json_int(j, "refused", s->refused);
	json_int(j, "idle_ms", (long long)idle_ms);
	json_end_object(j);
}

static void print_head(struct json *j, const struct om_limits_meta *m)
{
	if (!j) {
		printf("# limits per origin: %u open connections, %u new per %llu s, %u failed logins per "
		       "%llu s "
		       "(0: none); evicted %llu, admitted uncounted %llu; instances:",
		       m->conn_max, m->rate_count, (unsigned long long)(m->rate_window_ns / 1000000000ull),
		       m->fail_max, (unsigned long long)(m->fail_window_ns / 1000000000ull),
		       (unsigned long long)m->evictions, (unsigned long long)m->untracked);
		for (int i = 0; i < OM_LIMITS_INSTANCES; i++)
			if (m->inst[i].pid)
				printf(" %u", m->inst[i].pid);
		printf("\n%-40s %-11s %-24s %-11s %-8s %-15s %-8s %s\n", "ORIGIN", "CONNECTIONS",
		       "BY_PID:COUNT", "NEW_CONNS", "FAILED", "STATE", "REFUSED", "IDLE");
		return;
	}
	json_begin_object(j, NULL);
	json_begin_object(j, "limits");
	json_int(j, "max_connections", m->conn_max);
	json_int(j, "rate_count", m->rate_count);
	json_int(j, "rate_window_ms", (long long)(m->rate_window_ns / 1000000));
	json_int(j, "auth_failures", m->fail_max);
	json_int(j, "auth_window_ms", (long long)(m->fail_window_ns / 1000000));
	json_end_object(j);
	json_int(j, "evictions", (long long)m->evictions);
	json_int(j, "untracked", (long long)m->untracked);
	json_begin_array(j, "instances");
	for (int i = 0; i < OM_LIMITS_INSTANCES; i++)
		if (m->inst[i].pid)
			json_int(j, NULL, m->inst[i].pid);
	json_end_array(j);
	json_begin_array(j, "origins");
}

int cmd_limits(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
	                                     {"pin-dir", required_argument, NULL, 'd'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *dir = OM_BPF_PIN_DIR;
	bool as_json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jd:h", opts, NULL)) != -1) {
		if (c == 'j')
			as_json = true;
		else if (c == 'd')
			dir = optarg;
		else
			return usage(c == 'h' ? stdout : stderr, c == 'h' ? 0 : 64);
	}
	if (optind != argc)
		return usage(stderr, 64);
	int meta_fd = open_pin(dir, OM_PIN_LIMITS_META);
	if (meta_fd < 0)
		return 1;
	int slots_fd = open_pin(dir, OM_PIN_LIMITS);
	struct om_limits_meta m;
	__u32 key = 0;
	if (slots_fd < 0 || bpf_map_lookup_elem(meta_fd, &key, &m) != 0) {
		close(meta_fd);
		if (slots_fd >= 0)
			close(slots_fd);
		return 1;
	}
	close(meta_fd);
	if (m.layout != OM_LIMITS_LAYOUT || m.slot_size != sizeof(struct om_limit)) {
		fprintf(stderr,
		        "originctl: %s holds origin table layout %u (%u-byte slots), this originctl reads "
		        "layout %d (%zu)\n",
		        dir, m.layout, m.slot_size, OM_LIMITS_LAYOUT, sizeof(struct om_limit));
		close(slots_fd);
		return 1;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	struct json j = {.out = stdout};
	print_head(as_json ? &j : NULL, &m);
	for (key = 0; key < m.nslots; key++) {
		struct om_limit s;
		if (bpf_map_lookup_elem(slots_fd, &key, &s) == 0 && (s.state & 3) == OM_SLOT_LIVE)
			print_slot(as_json ? &j : NULL, &m, &s, now);
	}
	if (as_json) {
		json_end_array(&j);
		json_end_object(&j);
		printf("\n");
	}
	close(slots_fd);
	return 0;
}
