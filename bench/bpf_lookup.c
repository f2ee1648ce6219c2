/* The latency of the per-connection lookup by socket cookie: what om_bpf_verdict (user/bpf/bpf_loader.c)
 * does once per accepted connection, bpf_map_lookup_elem on the pinned conns map, timed in a loop.
 *
 *   bpf_lookup PIN_DIR [N]     (bench/bpf.sh runs it while connections are held open)
 *
 * Times N lookups of a live entry (the first key of the map) and N of a cookie that is not there, and one
 * lookup+update with BPF_EXIST (what om_bpf_set_origin/om_bpf_set_session do). Prints
 * "LOOKUP entries=E hit_ns=H miss_ns=M update_ns=U n=N" (nanoseconds per call, mean). Needs root. */
#include <bpf/bpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "originmail/bpf_abi.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;

	if (argc < 2 || argc > 3 || n < 1) {
		fprintf(stderr, "usage: bpf_lookup PIN_DIR [N]\n");
		return 64;
	}
	snprintf(path, sizeof(path), "%s/" OM_PIN_CONNS, argv[1]);
	int fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "bpf_lookup: %s: %s\n", path, strerror(errno));
		return 1;
	}
	__u64 key = 0, cur, next, missing = ~0ull - 1; /* cookies count up from 1: never that one */
	long entries = 0;
	while (bpf_map_get_next_key(fd, entries ? &cur : NULL, &next) == 0) {
		if (!entries)
			key = next;
		cur = next;
		entries++;
	}
	struct om_conn c;
	if (!entries || bpf_map_lookup_elem(fd, &key, &c) != 0) {
		fprintf(stderr, "bpf_lookup: %s has no entry to look up (no live connection?)\n", path);
		return 1;
	}
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (bpf_map_lookup_elem(fd, &key, &c) != 0)
			return 1;
	double t1 = now_ns();
	for (long i = 0; i < n; i++)
		if (bpf_map_lookup_elem(fd, &missing, &c) == 0)
			return 1;
	double t2 = now_ns();
	long m = n / 10 ? n / 10 : 1;
	for (long i = 0; i < m; i++) /* rewrites the entry with what it holds (no field changes) */
		if (bpf_map_lookup_elem(fd, &key, &c) != 0 ||
		    bpf_map_update_elem(fd, &key, &c, BPF_EXIST) != 0)
			break;
	double t3 = now_ns();
	printf("LOOKUP entries=%ld hit_ns=%.0f miss_ns=%.0f update_ns=%.0f n=%ld\n", entries, (t1 - t0) / n,
	       (t2 - t1) / n, (t3 - t2) / m, n);
	close(fd);
	return 0;
}
