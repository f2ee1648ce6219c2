/* originctl policy: the CIDR lists every originmaild on this host loaded into the pinned LPM tries
 * (trusted_v4/v6, direct_v4/v6 in include/originmail/bpf_abi.h), one line per instance, port, list, CIDR. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/bpf_keys.h"
#include "json.h"
#include "originctl.h"
#include "originmail/bpf_abi.h"

struct row {
	uint32_t inst;
	uint16_t port;
	uint8_t list; /* index in lists[] */
	uint8_t family;
	uint8_t addr[16];
	unsigned prefix;
};

static const struct { /* in pairs, v4 then v6: row_cmp relies on it */
	const char *pin, *name;
	int family;
} lists[] = {
        {OM_PIN_TRUSTED_V4, "trusted", AF_INET},
        {OM_PIN_TRUSTED_V6, "trusted", AF_INET6},
        {OM_PIN_DIRECT_V4, "direct", AF_INET},
        {OM_PIN_DIRECT_V6, "direct", AF_INET6},
};

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: originctl policy [--json] [--pin-dir DIR]\n"
	           "  the CIDR lists loaded into the pinned BPF tries (default DIR " OM_BPF_PIN_DIR ")\n");
	return rc;
}

bool ctl_pin_abi_ok(const char *dir)
{
	char path[PATH_MAX + 16];
	struct om_abi v = {0};
	__u32 zero = 0;

	snprintf(path, sizeof(path), "%s/" OM_PIN_ABI, dir);
	int fd = bpf_obj_get(path);
	if (fd < 0) /* no abi map: the caller's open of the map it wants says why */
		return true;
	bpf_map_lookup_elem(fd, &zero, &v);
	close(fd);
	if (v.version == OM_BPF_ABI_VERSION && v.conn_size == sizeof(struct om_conn))
		return true;
	fprintf(stderr, "originctl: %s holds ABI version %u, this originctl reads version %d\n", dir,
	        v.version, OM_BPF_ABI_VERSION);
	return false;
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->inst != y->inst)
		return x->inst < y->inst ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->list / 2 != y->list / 2) /* trusted before direct */
		return x->list < y->list ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	int c = memcmp(x->addr, y->addr, sizeof(x->addr));
	return c ? c : (x->prefix > y->prefix) - (x->prefix < y->prefix);
}

/* Appends the keys of one trie to *rows; false with errno set when the pin cannot be read. */
static bool read_trie(const char *dir, uint8_t li, struct row **rows, size_t *n, size_t *cap)
{
	char path[PATH_MAX + 16];
	union {
		struct om_lpm_v4 v4;
		struct om_lpm_v6 v6;
	} key, next;
	bool v6 = lists[li].family == AF_INET6;

	snprintf(path, sizeof(path), "%s/%s", dir, lists[li].pin);
	int fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct row *r = realloc(*rows, nc * sizeof(*r));
			if (!r) {
				close(fd);
				errno = ENOMEM;
				return false;
			}
			*rows = r;
			*cap = nc;
		}
		struct row *r = &(*rows)[(*n)++];
		memset(r, 0, sizeof(*r));
		r->list = li;
		r->family = (uint8_t)lists[li].family;
		r->inst = om_lpm_inst(v6 ? key.v6.inst : key.v4.inst);
		r->port = om_lpm_port(v6 ? key.v6.port : key.v4.port);
		uint32_t plen = v6 ? key.v6.prefixlen : key.v4.prefixlen;
		r->prefix = plen > OM_LPM_FIXED_BITS ? plen - OM_LPM_FIXED_BITS : 0;
		memcpy(r->addr, v6 ? key.v6.addr : key.v4.addr, v6 ? 16 : 4);
	}
	close(fd);
	return true;
}

int cmd_policy(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
	                                     {"pin-dir", required_argument, NULL, 'd'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *dir = OM_BPF_PIN_DIR;
	bool as_json = false;
	struct row *rows = NULL;
	size_t n = 0, cap = 0;
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
	if (!ctl_pin_abi_ok(dir))
		return 1;
	for (uint8_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (!read_trie(dir, i, &rows, &n, &cap)) {
			fprintf(stderr, "originctl: %s/%s: %s (is an originmaild with bpf running?)\n", dir,
			        lists[i].pin, strerror(errno));
			free(rows);
			return 1;
		}
	}
	if (n)
		qsort(rows, n, sizeof(*rows), row_cmp);
	struct json j = {.out = stdout};
	if (as_json)
		json_begin_array(&j, NULL);
	else
		printf("%-12s %-7s %-5s %-8s %s\n", "INSTANCE", "PID", "PORT", "LIST", "CIDR");
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		char ip[INET6_ADDRSTRLEN], cidr[INET6_ADDRSTRLEN + 8];
		inet_ntop(r->family, r->addr, ip, sizeof(ip));
		snprintf(cidr, sizeof(cidr), "%s/%u", ip, r->prefix);
		if (as_json) {
			json_begin_object(&j, NULL);
			json_int(&j, "instance", r->inst);
			json_int(&j, "pid", r->inst >> 8);
			json_int(&j, "port", r->port);
			json_cstr(&j, "list", lists[r->list].name);
			json_cstr(&j, "cidr", cidr);
			json_end_object(&j);
		} else {
			printf("%-12u %-7u %-5u %-8s %s\n", r->inst, r->inst >> 8, r->port,
			       lists[r->list].name, cidr);
		}
	}
	if (as_json) {
		json_end_array(&j);
		printf("\n");
	}
	free(rows);
	return 0;
}
