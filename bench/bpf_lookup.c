/* The latency of the daemon's per-connection calls on its BPF entries, made as the daemon makes them
 * (user/bpf/bpf_loader.c), against the bpf() calls on the conns map they replace:
 *   at accept: one getsockopt(SO_COOKIE) that the cgroup getsockopt program answers with the cookie and
 *     the entry (om_bpf_accepted), against getsockopt(SO_COOKIE) + bpf_map_lookup_elem by the cookie;
 *   after the PROXY header: one setsockopt that the cgroup setsockopt program writes into the entry in
 *     place (om_bpf_set_origin), against bpf_map_update_elem(BPF_EXIST) of the whole entry.
 *
 *   bpf_lookup CONFIG [N]     (bench/bpf.sh runs it; needs root)
 *
 * CONFIG: an originmaild configuration with bpf = on, its own bpf_pin_dir and bpf_cgroup, and one listener
 * whose first address is IPv4 and which trusts 127.0.0.1. This process loads the programs as that
 * instance (it moves into the cgroup), listens there, holds ENTRIES connections to itself, and times N
 * calls of each kind over them, round robin. Prints
 * "LOOKUP entries=E accept_ns=A lookup_ns=L origin_ns=O update_ns=U cookie_ns=C n=N" (nanoseconds per
 * call, mean; C: getsockopt(SO_COOKIE) for the cookie alone, what the daemon asks without BPF),
 * then lets go of the programs and the pins (the last instance removes them). */
#include <bpf/bpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bpf/om_bpf.h"
#include "conf/config.h"
#include "log/log.h"
#include "originmail/proxy.h"

#define ENTRIES 200

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int die(const char *what, const char *why)
{
	fprintf(stderr, "bpf_lookup: %s: %s\n", what, why);
	return 1;
}

/* ENTRIES connections from 127.0.0.1 to the listener at a; the accepted ends into srv. */
static bool connect_all(const union pp_sockaddr *a, int *cli, int *srv)
{
	socklen_t len = sizeof(a->in);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, &a->sa, len) != 0 || listen(l, ENTRIES) != 0)
		return false;
	for (int i = 0; i < ENTRIES; i++) {
		cli[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (cli[i] < 0 || connect(cli[i], &a->sa, len) != 0 || (srv[i] = accept(l, NULL, NULL)) < 0)
			return false;
	}
	close(l);
	return true;
}

int main(int argc, char **argv)
{
	static int cli[ENTRIES], srv[ENTRIES];
	static uint64_t cookie[ENTRIES];
	static struct om_conn entry[ENTRIES];
	struct config cfg;
	char err[1024], path[PATH_MAX];
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;

	if (argc < 2 || argc > 3 || n < 1) {
		fprintf(stderr, "usage: bpf_lookup CONFIG [N]\n");
		return 64;
	}
	log_open("stderr", "bpf_lookup");
	log_set_level(LOG_LVL_WARN);
	if (!config_load(argv[1], &cfg, err, sizeof(err)))
		return die(argv[1], err);
	if (cfg.nlisteners < 1 || cfg.listeners[0].naddrs < 1 ||
	    cfg.listeners[0].addrs[0].sa.sa_family != AF_INET)
		return die(argv[1], "needs a listener with an IPv4 address first");
	struct om_bpf *b = om_bpf_start(&cfg, err, sizeof(err));
	if (!b)
		return die("om_bpf_start", err);
	int rc = 1;
	snprintf(path, sizeof(path), "%s/" OM_PIN_CONNS, cfg.bpf_pin_dir);
	int map = bpf_obj_get(path);
	if (map < 0) {
		die(path, strerror(errno));
		goto out;
	}
	if (!connect_all(&cfg.listeners[0].addrs[0], cli, srv)) {
		die("connections to the listener", strerror(errno));
		goto out;
	}
	for (int i = 0; i < ENTRIES; i++)
		if (!om_bpf_accepted(srv[i], &cookie[i], &entry[i])) {
			die("getsockopt(SO_COOKIE)", "no entry came with the cookie (is 127.0.0.1 trusted?)");
			goto out;
		}

	struct om_conn e;
	uint64_t ck;
	socklen_t len;
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (!om_bpf_accepted(srv[i % ENTRIES], &ck, &e))
			goto lost;
	double t1 = now_ns();
	for (long i = 0; i < n; i++) {
		len = sizeof(ck);
		if (getsockopt(srv[i % ENTRIES], SOL_SOCKET, SO_COOKIE, &ck, &len) != 0 ||
		    bpf_map_lookup_elem(map, &ck, &e) != 0)
			goto lost;
	}
	double t2 = now_ns();
	struct origin o = {0};
	pp_sockaddr_parse(&o.client, "203.0.113.10", 40000);
	pp_sockaddr_parse(&o.dst, "192.0.2.25", 25);
	snprintf(o.unique_id, sizeof(o.unique_id), "bench");
	for (long i = 0; i < n; i++) {
		o.cookie = cookie[i % ENTRIES];
		if (!om_bpf_set_origin(srv[i % ENTRIES], &o, 2, PROTO_SMTP))
			goto lost;
	}
	double t3 = now_ns();
	for (long i = 0; i < n; i++) /* the entry read at accept, written back whole */
		if (bpf_map_update_elem(map, &cookie[i % ENTRIES], &entry[i % ENTRIES], BPF_EXIST) != 0)
			goto lost;
	double t4 = now_ns();
	for (long i = 0; i < n; i++) { /* the cookie alone, as the daemon asks for it without BPF */
		len = sizeof(ck);
		if (getsockopt(srv[i % ENTRIES], SOL_SOCKET, SO_COOKIE, &ck, &len) != 0)
			goto lost;
	}
	double t5 = now_ns();
	printf("LOOKUP entries=%d accept_ns=%.0f lookup_ns=%.0f origin_ns=%.0f update_ns=%.0f cookie_ns=%.0f "
	       "n=%ld\n",
	       ENTRIES, (t1 - t0) / n, (t2 - t1) / n, (t3 - t2) / n, (t4 - t3) / n, (t5 - t4) / n, n);
	rc = 0;
	goto out;
lost:
	die("a held connection's entry", "gone during the run");
out:
	for (int i = 0; i < ENTRIES; i++) {
		if (srv[i] > 0)
			close(srv[i]);
		if (cli[i] > 0)
			close(cli[i]);
	}
	if (map >= 0)
		close(map);
	om_bpf_stop(b);
	config_free(&cfg);
	return rc;
}
