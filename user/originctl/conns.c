/* originctl conns: the live connections every originmaild on this host recorded in the pinned conns map
 * (include/originmail/bpf_abi.h), one line each: origin -> proxy -> instance. */
#include <bpf/bpf.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf/bpf_keys.h"
#include "json.h"
#include "originctl.h"
#include "originmail/bpf_abi.h"
#include "tcp_bytes.h"

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: originctl conns [--json] [--pin-dir DIR]\n"
	           "  live connections from the pinned BPF maps (default DIR " OM_BPF_PIN_DIR ")\n");
	return rc;
}

static const char *age_text(unsigned long long ms, char *buf, size_t cap)
{
	if (ms < 10000)
		snprintf(buf, cap, "%llu.%llus", ms / 1000, ms % 1000 / 100);
	else if (ms < 3600000)
		snprintf(buf, cap, "%llum%02llus", ms / 60000, ms / 1000 % 60);
	else
		snprintf(buf, cap, "%lluh%02llum", ms / 3600000, ms / 60000 % 60);
	return buf;
}

static void endpoint_json(struct json *j, const char *key, const struct om_endpoint *e)
{
	char ip[64];

	json_begin_object(j, key);
	json_cstr(j, "addr", om_endpoint_addr(e, ip, sizeof(ip)));
	json_int(j, "port", e->port);
	json_end_object(j);
}

static void print_one(struct json *j, const struct om_conn *c, unsigned long long now_ns)
{
	unsigned long long age_ms = now_ns > c->opened_ns ? (now_ns - c->opened_ns) / 1000000 : 0;
	char o[64], p[64], l[64], age[32], bytes[24] = "-";
	/* Bytes out: sk_msg's count, or for a connection it does not see, what TCP says the peer acked. */
	unsigned long long out = c->counted ? c->bytes_out : 0;
	bool known = c->counted || ctl_tcp_bytes_acked(c, &out);
	const char *from = c->counted ? "sk_msg" : known ? "tcp" : "none";

	if (j) {
		json_begin_object(j, NULL);
		json_int(j, "cookie", (long long)c->cookie);
		endpoint_json(j, "origin", &c->origin);
		endpoint_json(j, "proxy", &c->peer);
		endpoint_json(j, "instance", &c->local);
		json_int(j, "pid", c->pid);
		json_cstr(j, "protocol", om_proto_name(c->proto));
		json_bool(j, "tls", c->tls != 0);
		json_cstr(j, "verdict", om_verdict_name(c->verdict));
		json_cstr(j, "state", om_state_name(c->state));
		json_int(j, "proxy_version", c->proxy_version);
		json_cstr(j, "unique_id", c->unique_id);
		json_int(j, "age_ms", (long long)age_ms);
		json_int(j, "bytes_out", (long long)out);
		json_bool(j, "bytes_counted", c->counted != 0); /* false: bpf_sk_msg = denied */
		json_cstr(j, "bytes_from", from);
		json_int(j, "bytes_dropped", (long long)c->bytes_dropped);
		json_end_object(j);
		return;
	}
	if (known)
		snprintf(bytes, sizeof(bytes), "%llu", out);
	bool via = c->proxy_version != 0 && memcmp(&c->origin, &c->peer, sizeof(c->origin)) != 0;
	printf("%-20llu %-40s %-40s %-40s %-7u %-10s %-3s %-14s %-8s %s\n", (unsigned long long)c->cookie,
	       om_endpoint_format(&c->origin, o, sizeof(o)),
	       via ? om_endpoint_format(&c->peer, p, sizeof(p)) : "-",
	       om_endpoint_format(&c->local, l, sizeof(l)), c->pid, om_proto_name(c->proto),
	       c->tls ? "yes" : "no", om_verdict_name(c->verdict), age_text(age_ms, age, sizeof(age)), bytes);
}

int cmd_conns(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
	                                     {"pin-dir", required_argument, NULL, 'd'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *dir = OM_BPF_PIN_DIR;
	char path[PATH_MAX + 16];
	bool as_json = false;
	int c, fd;

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
	if (!ctl_pin_abi_ok(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/" OM_PIN_CONNS, dir);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "originctl: %s: %s (is an originmaild with bpf running?)\n", path,
		        strerror(errno));
		return 1;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long long now =
	        (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
	struct json j = {.out = stdout};
	if (as_json) {
		json_begin_array(&j, NULL);
	} else {
		printf("%-20s %-40s %-40s %-40s %-7s %-10s %-3s %-14s %-8s %s\n", "COOKIE", "ORIGIN", "PROXY",
		       "INSTANCE", "PID", "PROTOCOL", "TLS", "VERDICT", "AGE", "BYTES_OUT");
	}
	__u64 key, next;
	void *prev = NULL;
	struct om_conn conn;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &conn) == 0)
			print_one(as_json ? &j : NULL, &conn, now);
	}
	if (as_json) {
		json_end_array(&j);
		printf("\n");
	}
	close(fd);
	return 0;
}
