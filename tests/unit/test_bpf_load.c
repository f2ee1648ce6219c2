/* The BPF programs on the running kernel (root only; skipped otherwise). Self-contained, so vmtest can run
 * it in a guest with nothing of the repository: the skeleton embeds the object.
 *   - load + attach to a cgroup of our own, loopback connections (IPv4 and IPv6): the entry keyed by
 *     SO_COOKIE has both tuples, the verdict from the tries, and goes at close;
 *   - sk_msg: a long send passes whole and is counted; a denied peer gets only its first line;
 *   - a second instance reuses the pinned maps; the last one removes them;
 *   - an ABI mismatch is refused with a clear error; bpf = auto degrades, bpf = on refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bpf/bpf_keys.h"
#include "bpf/om_bpf.h"
#include "conf/config.h"

static char cg_dir[2 * PATH_MAX], cg_home[2 * PATH_MAX], pin_dir[PATH_MAX];
static uint16_t port_a, port_b;

static uint16_t free_port(void)
{
	union pp_sockaddr a;
	socklen_t len = sizeof(a.in);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	pp_sockaddr_parse(&a, "127.0.0.1", 0);
	assert_int_equal(bind(fd, &a.sa, len), 0);
	assert_int_equal(getsockname(fd, &a.sa, &len), 0);
	close(fd);
	return pp_sockaddr_port(&a);
}

static void cgroup_move(const char *dir)
{
	char path[2 * PATH_MAX + 16], pid[32];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY), n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (fd >= 0) {
		if (write(fd, pid, (size_t)n) != n)
			perror(path);
		close(fd);
	}
}

static void remove_pins(const char *dir)
{
	const char *names[] = {OM_PIN_CONNS,     OM_PIN_TRUSTED_V4, OM_PIN_TRUSTED_V6,
	                       OM_PIN_DIRECT_V4, OM_PIN_DIRECT_V6,  OM_PIN_ABI,
	                       OM_PIN_INSTANCES, OM_PIN_LIMITS,     OM_PIN_LIMITS_META};
	char p[PATH_MAX + 32];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static int setup(void **state)
{
	char mnt[PATH_MAX / 2], line[PATH_MAX / 2];
	(void)state;
	if (geteuid() != 0 || !om_cgroup2_mount(mnt, sizeof(mnt)))
		return 0;
	FILE *f = fopen("/proc/self/cgroup", "r");
	snprintf(cg_home, sizeof(cg_home), "%s", mnt);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(cg_home, sizeof(cg_home), "%s%s", mnt,
			         strcmp(line + 3, "/") ? line + 3 : "");
		}
	if (f)
		fclose(f);
	snprintf(cg_dir, sizeof(cg_dir), "%s/om-test-load-%d", mnt, (int)getpid());
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/om-test-load-%d", (int)getpid());
	port_a = free_port();
	port_b = free_port();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (!cg_dir[0])
		return 0;
	cgroup_move(cg_home); /* out of our test cgroup, so it can go */
	rmdir(cg_dir);
	remove_pins(pin_dir);
	char other[PATH_MAX + 8];
	snprintf(other, sizeof(other), "%s-abi", pin_dir);
	remove_pins(other);
	return 0;
}

#define NEED_ROOT()                                                                                          \
	do {                                                                                                 \
		if (!cg_dir[0]) {                                                                            \
			fprintf(stderr, "test_bpf_load: not root or no cgroup2: skipped\n");                 \
			skip();                                                                              \
		}                                                                                            \
	} while (0)

static void make_config(struct config *c, uint16_t port, enum bpf_setting mode, const char *cgroup,
                        const char *pins)
{
	char text[1024], err[512];
	snprintf(text, sizeof(text),
	         "bpf = %s\nbpf_cgroup = %s\nbpf_pin_dir = %s\n"
	         "[listener smtp]\naddress = 127.0.0.1:%u, [::1]:%u\nprotocol = smtp\nproxy = required\n"
	         "proxy_trusted = 127.0.0.2, ::1\ndirect_allowed = 127.0.0.3\n",
	         mode == BPF_ON    ? "on"
	         : mode == BPF_OFF ? "off"
	                           : "auto",
	         cgroup, pins, port, port);
	if (!config_parse(text, "test.conf", c, err, sizeof(err)))
		fail_msg("config: %s", err);
}

static int listen_on(const char *ip, uint16_t port)
{
	union pp_sockaddr a;
	int one = 1, fd;
	assert_true(pp_sockaddr_parse(&a, ip, port));
	fd = socket(a.sa.sa_family, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	assert_int_equal(bind(fd, &a.sa, a.sa.sa_family == AF_INET6 ? sizeof(a.in6) : sizeof(a.in)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

/* Connect from src to dst:port; returns the client fd, *srv the accepted one. */
static int connect_pair(int lfd, const char *src, const char *dst, uint16_t port, int *srv)
{
	union pp_sockaddr s, d;
	assert_true(pp_sockaddr_parse(&s, src, 0));
	assert_true(pp_sockaddr_parse(&d, dst, port));
	socklen_t len = d.sa.sa_family == AF_INET6 ? sizeof(d.in6) : sizeof(d.in);
	int fd = socket(d.sa.sa_family, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, &s.sa, len), 0);
	assert_int_equal(connect(fd, &d.sa, len), 0);
	*srv = accept(lfd, NULL, NULL);
	assert_true(*srv >= 0);
	return fd;
}

static uint64_t cookie_of(int fd)
{
	uint64_t c = 0;
	socklen_t len = sizeof(c);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len), 0);
	return c;
}

static bool gone_within(struct om_bpf *b, uint64_t cookie, int ms)
{
	struct om_conn c;
	for (int i = 0; i < ms / 10; i++) {
		if (!om_bpf_lookup(b, cookie, &c))
			return true;
		usleep(10000);
	}
	return false;
}

/* One connection: the entry matches the sockets, gets the origin, and goes at close. */
static void check_conn(struct om_bpf *b, int lfd, const char *src, const char *dst, uint16_t port,
                       unsigned verdict)
{
	int srv, cli = connect_pair(lfd, src, dst, port, &srv);
	uint64_t cookie = cookie_of(srv);
	union pp_sockaddr peer, local, back;
	socklen_t len = sizeof(peer);
	struct om_conn c;

	memset(&peer, 0, sizeof(peer));
	memset(&local, 0, sizeof(local));

	getpeername(srv, &peer.sa, &len);
	len = sizeof(local);
	getsockname(srv, &local.sa, &len);
	assert_true(om_bpf_lookup(b, cookie, &c));
	assert_int_equal(c.cookie, cookie);
	assert_int_equal(c.pid, getpid());
	assert_int_equal(c.verdict, verdict);
	assert_int_equal(c.state, OM_STATE_OPEN);
	assert_int_equal(c.peer.family, peer.sa.sa_family);
	assert_true(om_endpoint_to_sockaddr(&c.peer, &back));
	assert_int_equal(pp_sockaddr_port(&back), pp_sockaddr_port(&peer)); /* remote_port byte order */
	assert_true(om_endpoint_to_sockaddr(&c.local, &back));
	assert_int_equal(pp_sockaddr_port(&back), port); /* local_port byte order */
	/* One getsockopt(SO_COOKIE) gives the cookie and the entry (om_getsockopt) */
	struct om_conn entry;
	uint64_t ck = 0;
	memset(&entry, 0, sizeof(entry));
	assert_true(om_bpf_accepted(srv, &ck, &entry));
	assert_int_equal(ck, cookie);
	assert_memory_equal(&entry, &c, sizeof(c));
	/* its two ends are what getpeername and getsockname say (conn_accept asks them no more) */
	union pp_sockaddr ep, el;
	assert_true(om_conn_sockaddrs(&entry, &ep, &el));
	assert_memory_equal(&ep, &peer, sizeof(ep));
	assert_memory_equal(&el, &local, sizeof(el));
	assert_int_equal(om_bpf_verdict(&entry, cookie, VERDICT_DENIED), verdict);
	assert_int_equal(om_bpf_verdict(NULL, cookie, VERDICT_DENIED), VERDICT_DENIED);
	/* the client's end has no entry: the cookie alone, as without the program */
	assert_false(om_bpf_accepted(cli, &ck, &entry));
	assert_int_equal(ck, cookie_of(cli));
	assert_true(ck != 0 && ck != cookie);

	/* The origin, written in place by om_setsockopt */
	struct origin o = {.cookie = cookie};
	pp_sockaddr_parse(&o.client, "203.0.113.10", 40000);
	pp_sockaddr_parse(&o.dst, "192.0.2.25", 25);
	snprintf(o.unique_id, sizeof(o.unique_id), "HAP-test");
	assert_true(om_bpf_set_origin(srv, &o, 2, PROTO_SUBMISSION));
	assert_true(om_bpf_lookup(b, cookie, &c));
	assert_int_equal(c.state, OM_STATE_ORIGIN);
	assert_int_equal(c.proxy_version, 2);
	assert_int_equal(c.origin.port, 40000);
	assert_memory_equal(c.origin.addr, "\xcb\x00\x71\x0a", 4);
	assert_int_equal(c.dst.port, 25);
	assert_memory_equal(c.dst.addr, "\xc0\x00\x02\x19", 4);
	assert_string_equal(c.unique_id, "HAP-test");
	assert_int_equal(c.proto, OM_PROTO_SUBMISSION); /* in the same write */
	assert_false(c.tls);
	assert_int_equal(c.opened_ns, entry.opened_ns); /* the kernel's fields kept */
	assert_memory_equal(&c.peer, &entry.peer, sizeof(c.peer));
	assert_int_equal(c.verdict, verdict);
	assert_int_equal(c.pid, getpid());

	memset(o.unique_id, 'u', sizeof(o.unique_id) - 1); /* the longest: still NUL-terminated */
	o.unique_id[sizeof(o.unique_id) - 1] = '\0';
	assert_true(om_bpf_set_origin(srv, &o, 1, PROTO_SMTP));
	assert_true(om_bpf_lookup(b, cookie, &c));
	assert_int_equal(strlen(c.unique_id), sizeof(c.unique_id) - 1);
	assert_int_equal(c.proxy_version, 1);
	assert_int_equal(c.proto, OM_PROTO_SMTP);

	assert_true(om_bpf_set_session(srv, cookie, PROTO_IMAP, true));
	assert_true(om_bpf_lookup(b, cookie, &c));
	assert_int_equal(c.proto, OM_PROTO_IMAP);
	assert_true(c.tls);
	assert_int_equal(c.origin.port, 40000);

	/* another socket naming this entry, or a socket without one: nothing written, and the kernel
	 * refuses the level as it does without the program */
	errno = 0;
	assert_false(om_bpf_set_origin(cli, &o, 1, PROTO_LMTP));
	assert_int_equal(errno, ENOPROTOOPT);
	assert_false(om_bpf_set_session(cli, cookie, PROTO_POP3, false));
	assert_true(om_bpf_lookup(b, cookie, &c));
	assert_int_equal(c.proto, OM_PROTO_IMAP);
	o.cookie = cookie_of(cli);
	assert_false(om_bpf_set_origin(cli, &o, 1, PROTO_LMTP));
	o.cookie = cookie;

	close(srv);
	close(cli);
	assert_true(gone_within(b, cookie, 3000));
	om_bpf_poll(b); /* open and close events, logged */
}

/* Send total bytes from srv to cli through sk_msg, the first send starting with first (when given);
 * close srv after the last send when close_after. Returns what cli received (before EOF). */
static size_t pump(int srv, int cli, const char *first, size_t total, bool close_after)
{
	static char buf[65536], in[65536];
	size_t sent = 0, got = 0;
	bool failed = false;
	time_t start = time(NULL);

	memset(buf, 'x', sizeof(buf));
	if (first)
		memcpy(buf, first, strlen(first)); /* the first send: the line and more after it */
	fcntl(srv, F_SETFL, O_NONBLOCK);
	fcntl(cli, F_SETFL, O_NONBLOCK);
	while (time(NULL) - start < 20) {
		if (sent < total && !failed) {
			size_t n = total - sent < sizeof(buf) ? total - sent : sizeof(buf);
			ssize_t w = send(srv, buf, n, MSG_NOSIGNAL);
			if (w > 0) {
				sent += (size_t)w;
				if (first)
					memset(buf, 'x', strlen(first));
			} else if (errno != EAGAIN) {
				failed = true; /* EACCES: sk_msg dropped it */
			}
		}
		if ((sent >= total || failed) && close_after) {
			close(srv);
			close_after = false;
		}
		ssize_t r = recv(cli, in, sizeof(in), 0);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			break;
		if (!first && got >= total)
			break;
		struct pollfd p = {.fd = cli, .events = POLLIN};
		poll(&p, 1, 5);
	}
	if (time(NULL) - start >= 20)
		fprintf(stderr, "test_bpf_load: STALL: %zu of %zu bytes after 20 s\n", got, total);
	return got;
}

/* How many keys of the pinned direct_v4 trie belong to port. */
static int trie_keys(uint16_t port)
{
	char path[PATH_MAX + 32];
	struct om_lpm_v4 key, next;
	void *prev = NULL;
	int n = 0;

	snprintf(path, sizeof(path), "%s/" OM_PIN_DIRECT_V4, pin_dir);
	int fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		n += om_lpm_port(key.port) == port;
	}
	close(fd);
	return n;
}

static void test_load_attach(void **state)
{
	(void)state;
	NEED_ROOT();
	struct config cfg, cfg2;
	char err[1024];
	struct om_bpf *b, *b2;

	make_config(&cfg, port_a, BPF_ON, cg_dir, pin_dir);
	b = om_bpf_start(&cfg, err, sizeof(err));
	if (!b)
		fail_msg("om_bpf_start: %s", err);
	/* Sockets made after the move into the cgroup: the program sees their connections. */
	int l4 = listen_on("127.0.0.1", port_a), l6 = listen_on("::1", port_a);
	check_conn(b, l4, "127.0.0.2", "127.0.0.1", port_a, OM_VERDICT_PROXY_REQUIRED);
	check_conn(b, l4, "127.0.0.3", "127.0.0.1", port_a, OM_VERDICT_DIRECT);
	check_conn(b, l4, "127.0.0.1", "127.0.0.1", port_a, OM_VERDICT_DENIED);
	check_conn(b, l6, "::1", "::1", port_a, OM_VERDICT_PROXY_REQUIRED);

	/* sk_msg: 16 MB in one direction passes whole and is counted. */
	int srv, cli = connect_pair(l4, "127.0.0.2", "127.0.0.1", port_a, &srv);
	uint64_t cookie = cookie_of(srv);
	size_t total = 16u << 20;
	assert_int_equal(pump(srv, cli, NULL, total, false), total);
	struct om_conn c;
	assert_true(om_bpf_lookup(b, cookie, &c));
	assert_int_equal(c.bytes_out, total);
	close(srv);
	close(cli);

	/* A denied peer: the first line leaves, the rest of the same send and every later one is dropped. */
	const char *line = "421 4.7.0 test refusal\r\n";
	cli = connect_pair(l4, "127.0.0.1", "127.0.0.1", port_a, &srv);
	size_t got = pump(srv, cli, line, 100000, true);
	assert_int_equal(got, strlen(line));
	close(cli);
	om_bpf_poll(b);
	uint64_t lost, dropped;
	om_bpf_counters(b, &lost, &dropped);
	assert_true(dropped > 0); /* counted by the program, not from the drop events */
	assert_int_equal(lost, 0);

	/* A ring nobody drains: its events are counted as lost, the entries still come and go. */
	for (int i = 0; i < 2000; i++) {
		cli = connect_pair(l4, "127.0.0.2", "127.0.0.1", port_a, &srv);
		close(srv);
		close(cli);
	}
	om_bpf_counters(b, &lost, &dropped);
	assert_true(lost > 0); /* 256 KiB hold about 2,700 events: 2,000 opens and 2,000 closes do not fit */
	om_bpf_poll(b);        /* drains the ring, warns */
	cli = connect_pair(l4, "127.0.0.2", "127.0.0.1", port_a, &srv);
	assert_true(om_bpf_lookup(b, cookie_of(srv), &c)); /* still recorded */
	close(srv);
	close(cli);
	uint64_t lost2;
	om_bpf_counters(b, &lost2, &dropped);
	assert_int_equal(lost2, lost); /* room again */

	/* A second instance on another port reuses the pinned maps: its entries are visible to the first. */
	make_config(&cfg2, port_b, BPF_ON, cg_dir, pin_dir);
	b2 = om_bpf_start(&cfg2, err, sizeof(err));
	if (!b2)
		fail_msg("second om_bpf_start: %s", err);
	int lb = listen_on("127.0.0.1", port_b);
	cli = connect_pair(lb, "127.0.0.3", "127.0.0.1", port_b, &srv);
	assert_true(om_bpf_lookup(b, cookie_of(srv), &c));
	assert_int_equal(c.verdict, OM_VERDICT_DIRECT);
	assert_int_equal(c.local.port, port_b);
	close(srv);
	close(cli);
	close(lb);
	om_bpf_stop(b2);
	assert_int_equal(trie_keys(port_b), 0); /* B's listener keys left with it */
	assert_int_equal(trie_keys(port_a), 1); /* A's stay: direct_allowed = 127.0.0.3 */
	char conns[PATH_MAX + 16];
	snprintf(conns, sizeof(conns), "%s/" OM_PIN_CONNS, pin_dir);
	assert_int_equal(access(conns, F_OK), 0); /* still in use by the first */
	om_bpf_stop(b);
	assert_int_not_equal(access(conns, F_OK), 0); /* the last one removed the pins */
	assert_int_not_equal(access(pin_dir, F_OK), 0);
	close(l4);
	close(l6);
	config_free(&cfg);
	config_free(&cfg2);
}

static void test_abi_mismatch(void **state)
{
	(void)state;
	NEED_ROOT();
	char dir[PATH_MAX + 8], path[PATH_MAX + 32], err[1024];
	struct om_abi v = {.version = 999, .conn_size = 1};
	__u32 zero = 0;
	struct config cfg;

	snprintf(dir, sizeof(dir), "%s-abi", pin_dir);
	assert_true(om_pin_dir_prepare(dir, err, sizeof(err)));
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, OM_PIN_ABI, 4, sizeof(v), 1, NULL);
	assert_true(fd >= 0);
	assert_int_equal(bpf_map_update_elem(fd, &zero, &v, BPF_ANY), 0);
	snprintf(path, sizeof(path), "%s/" OM_PIN_ABI, dir);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);
	make_config(&cfg, port_a, BPF_ON, cg_dir, dir);
	assert_null(om_bpf_start(&cfg, err, sizeof(err)));
	if (!strstr(err, "ABI version 999") || !strstr(err, "remove"))
		fail_msg("unclear error: %s", err);
	config_free(&cfg);
	remove_pins(dir);
}

static void test_degrade(void **state)
{
	(void)state;
	struct config cfg;
	char err[1024];
	struct om_bpf *b = (struct om_bpf *)&err;

	make_config(&cfg, port_a, BPF_OFF, "", "/sys/fs/bpf/om-unused");
	assert_true(om_bpf_init(&b, &cfg, err, sizeof(err)));
	assert_null(b);
	config_free(&cfg);
	/* A cgroup that cannot exist: auto carries on without, on refuses with the reason. */
	make_config(&cfg, port_a, BPF_AUTO, "/proc/no/such/cgroup", pin_dir);
	err[0] = '\0';
	assert_true(om_bpf_init(&b, &cfg, err, sizeof(err)));
	assert_null(b);
	config_free(&cfg);
	make_config(&cfg, port_a, BPF_ON, "/proc/no/such/cgroup", pin_dir);
	assert_false(om_bpf_init(&b, &cfg, err, sizeof(err)));
	assert_null(b);
	if (strncmp(err, "bpf = on, but BPF metadata cannot start: ", 41) != 0)
		fail_msg("unclear error: %s", err);
	config_free(&cfg);
	assert_int_not_equal(access(pin_dir, F_OK), 0); /* a failed start leaves no pins behind */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_load_attach),
	        cmocka_unit_test(test_abi_mismatch),
	        cmocka_unit_test(test_degrade),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
