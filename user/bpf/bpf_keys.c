/* Encoding helpers for the pinned-map ABI (bpf_keys.h). */
#include "bpf/bpf_keys.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

bool om_endpoint_from_sockaddr(struct om_endpoint *e, const union pp_sockaddr *a)
{
	memset(e, 0, sizeof(*e));
	if (a->sa.sa_family == AF_INET) {
		memcpy(e->addr, &a->in.sin_addr, 4);
		e->port = ntohs(a->in.sin_port);
	} else if (a->sa.sa_family == AF_INET6) {
		memcpy(e->addr, &a->in6.sin6_addr, 16);
		e->port = ntohs(a->in6.sin6_port);
	} else {
		return false;
	}
	e->family = a->sa.sa_family;
	return true;
}

bool om_endpoint_to_sockaddr(const struct om_endpoint *e, union pp_sockaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (e->family == AF_INET) {
		a->in.sin_family = AF_INET;
		memcpy(&a->in.sin_addr, e->addr, 4);
		a->in.sin_port = htons(e->port);
	} else if (e->family == AF_INET6) {
		a->in6.sin6_family = AF_INET6;
		memcpy(&a->in6.sin6_addr, e->addr, 16);
		a->in6.sin6_port = htons(e->port);
	} else {
		return false;
	}
	return true;
}

static bool link_local(const struct om_endpoint *e)
{
	return e->family == AF_INET6 && e->addr[0] == 0xfe && (e->addr[1] & 0xc0) == 0x80;
}

bool om_conn_sockaddrs(const struct om_conn *c, union pp_sockaddr *peer, union pp_sockaddr *local)
{
	if (link_local(&c->peer) || link_local(&c->local) || c->peer.family != c->local.family)
		return false;
	return om_endpoint_to_sockaddr(&c->peer, peer) && om_endpoint_to_sockaddr(&c->local, local);
}

const char *om_endpoint_addr(const struct om_endpoint *e, char *buf, size_t cap)
{
	union pp_sockaddr a;

	if (cap == 0)
		return buf;
	if (!om_endpoint_to_sockaddr(e, &a)) {
		snprintf(buf, cap, "-");
		return buf;
	}
	pp_sockaddr_unmap(&a);
	if (!inet_ntop(a.sa.sa_family,
	               a.sa.sa_family == AF_INET ? (void *)&a.in.sin_addr : (void *)&a.in6.sin6_addr, buf,
	               (socklen_t)cap))
		snprintf(buf, cap, "?");
	return buf;
}

const char *om_endpoint_format(const struct om_endpoint *e, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	om_endpoint_addr(e, ip, sizeof(ip));
	if (!strcmp(ip, "-"))
		snprintf(buf, cap, "-");
	else if (strchr(ip, ':'))
		snprintf(buf, cap, "[%s]:%u", ip, (unsigned)e->port);
	else
		snprintf(buf, cap, "%s:%u", ip, (unsigned)e->port);
	return buf;
}

static void put_head(uint8_t inst[4], uint8_t port[2], uint32_t id, uint16_t p)
{
	uint32_t be = htonl(id);

	memcpy(inst, &be, 4);
	port[0] = (uint8_t)(p >> 8);
	port[1] = (uint8_t)p;
}

bool om_lpm_v4_key(struct om_lpm_v4 *k, uint32_t inst, uint16_t port, const struct cidr *c)
{
	memset(k, 0, sizeof(*k));
	if (c->family != AF_INET || c->prefix > 32)
		return false;
	k->prefixlen = OM_LPM_FIXED_BITS + c->prefix;
	put_head(k->inst, k->port, inst, port);
	memcpy(k->addr, c->addr, 4);
	return true;
}

bool om_lpm_v6_key(struct om_lpm_v6 *k, uint32_t inst, uint16_t port, const struct cidr *c)
{
	memset(k, 0, sizeof(*k));
	if (c->family != AF_INET6 || c->prefix > 128)
		return false;
	k->prefixlen = OM_LPM_FIXED_BITS + c->prefix;
	put_head(k->inst, k->port, inst, port);
	memcpy(k->addr, c->addr, 16);
	return true;
}

uint16_t om_lpm_port(const uint8_t port[2])
{
	return (uint16_t)(port[0] << 8 | port[1]);
}

uint32_t om_lpm_inst(const uint8_t inst[4])
{
	return (uint32_t)inst[0] << 24 | (uint32_t)inst[1] << 16 | (uint32_t)inst[2] << 8 | inst[3];
}

uint8_t om_mode_from_proxy(enum proxy_mode m)
{
	switch (m) {
	case PROXY_REQUIRED:
		return OM_MODE_REQUIRED;
	case PROXY_OPTIONAL:
		return OM_MODE_OPTIONAL;
	case PROXY_OFF:
		return OM_MODE_OFF;
	}
	return OM_MODE_REQUIRED;
}

const char *om_verdict_name(unsigned v)
{
	return v <= OM_VERDICT_PROXY_OPTIONAL ? policy_verdict_name((enum peer_verdict)v) : "?";
}

uint8_t om_proto_from_listener(enum listener_proto p)
{
	switch (p) {
	case PROTO_SMTP:
		return OM_PROTO_SMTP;
	case PROTO_SUBMISSION:
		return OM_PROTO_SUBMISSION;
	case PROTO_IMAP:
		return OM_PROTO_IMAP;
	case PROTO_POP3:
		return OM_PROTO_POP3;
	case PROTO_LMTP:
		return OM_PROTO_LMTP;
	}
	return OM_PROTO_UNKNOWN;
}

const char *om_proto_name(unsigned p)
{
	switch (p) {
	case OM_PROTO_UNKNOWN:
		return "-";
	case OM_PROTO_SMTP:
		return "smtp";
	case OM_PROTO_SUBMISSION:
		return "submission";
	case OM_PROTO_IMAP:
		return "imap";
	case OM_PROTO_POP3:
		return "pop3";
	case OM_PROTO_LMTP:
		return "lmtp";
	}
	return "?";
}

const char *om_state_name(unsigned s)
{
	switch (s) {
	case OM_STATE_OPEN:
		return "open";
	case OM_STATE_ORIGIN:
		return "origin";
	case OM_STATE_CLOSING:
		return "closing";
	}
	return "?";
}
