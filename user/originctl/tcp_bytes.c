/* The bytes a connection's peer has acknowledged, from the kernel's TCP counters (tcp_info's
 * tcpi_bytes_acked over NETLINK_SOCK_DIAG). For connections sk_msg does not count (bpf_sk_msg = denied),
 * `originctl conns` shows these instead: the same figure once the peer has the bytes, at no cost per
 * connection. The socket is looked up by its exact tuple and cookie in the instance's network namespace. */
#include "tcp_bytes.h"

#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One exact-match query in the current network namespace. */
static bool query(const struct om_conn *c, unsigned long long *acked)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
	        .nlh = {.nlmsg_len = sizeof(msg),
	                .nlmsg_type = SOCK_DIAG_BY_FAMILY,
	                .nlmsg_flags = NLM_F_REQUEST},
	        .req = {.sdiag_family = (__u8)c->local.family,
	                .sdiag_protocol = IPPROTO_TCP,
	                .idiag_ext = 1 << (INET_DIAG_INFO - 1),
	                .idiag_states = ~0u},
	};
	char buf[8192];
	bool ok = false;

	if (c->local.family != AF_INET && c->local.family != AF_INET6)
		return false;
	msg.req.id.idiag_sport = htons(c->local.port);
	msg.req.id.idiag_dport = htons(c->peer.port);
	size_t alen = c->local.family == AF_INET ? 4 : 16;
	memcpy(msg.req.id.idiag_src, c->local.addr, alen);
	memcpy(msg.req.id.idiag_dst, c->peer.addr, alen);
	msg.req.id.idiag_cookie[0] = (__u32)c->cookie;
	msg.req.id.idiag_cookie[1] = (__u32)(c->cookie >> 32);
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return false;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	ssize_t n = -1;
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) ==
	    (ssize_t)sizeof(msg))
		n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	for (struct nlmsghdr *h = (struct nlmsghdr *)buf; n > 0 && NLMSG_OK(h, (size_t)n);
	     h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
		    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
			break; /* NLMSG_ERROR: no such socket (closed, or another namespace) */
		struct inet_diag_msg *d = NLMSG_DATA(h);
		int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*d)));
		for (struct rtattr *a = (struct rtattr *)(d + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
			struct tcp_info ti;
			size_t have = RTA_PAYLOAD(a);
			if (a->rta_type != INET_DIAG_INFO ||
			    have < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof(ti.tcpi_bytes_acked))
				continue;
			memset(&ti, 0, sizeof(ti));
			memcpy(&ti, RTA_DATA(a), have < sizeof(ti) ? have : sizeof(ti));
			*acked = ti.tcpi_bytes_acked;
			ok = true;
		}
		break;
	}
	return ok;
}

bool ctl_tcp_bytes_acked(const struct om_conn *c, unsigned long long *acked)
{
	char path[64];

	if (query(c, acked))
		return true;
	/* Not here: maybe in the instance's own network namespace. */
	snprintf(path, sizeof(path), "/proc/%u/ns/net", c->pid);
	int ns = open(path, O_RDONLY | O_CLOEXEC), home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	bool ok = false;
	if (ns >= 0 && home >= 0 && setns(ns, CLONE_NEWNET) == 0) {
		ok = query(c, acked); /* the cookie makes sure it is that socket, whoever has this pid */
		if (setns(home, CLONE_NEWNET) != 0)
			ok = false;
	}
	if (ns >= 0)
		close(ns);
	if (home >= 0)
		close(home);
	return ok;
}
