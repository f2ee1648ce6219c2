/* Encoding between the daemon's types and the pinned-map ABI (include/originmail/bpf_abi.h): endpoints,
 * LPM keys, verdict and mode numbers. Pure functions: no libbpf, no syscalls, unit-tested as they are. */
#ifndef ORIGINMAIL_BPF_KEYS_H
#define ORIGINMAIL_BPF_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "originmail/bpf_abi.h"
#include "originmail/proxy.h"
#include "policy/cidr.h"

/* AF_INET/AF_INET6 sockaddrs only (false otherwise, *e zeroed). The port is kept in host order. */
bool om_endpoint_from_sockaddr(struct om_endpoint *e, const union pp_sockaddr *a);
bool om_endpoint_to_sockaddr(const struct om_endpoint *e, union pp_sockaddr *a);
/* The two ends of a kernel entry as getpeername/getsockname would give them, so that the daemon need not
 * ask (the entry exists only while the connection does). False when they would not be the same: an IPv6
 * link-local end, whose scope (the interface) the entry does not carry, or an entry without addresses. */
bool om_conn_sockaddrs(const struct om_conn *c, union pp_sockaddr *peer, union pp_sockaddr *local);
/* "192.0.2.1:25", "[2001:db8::1]:25", "-" for an empty endpoint. IPv4-mapped IPv6 shows as IPv4. */
const char *om_endpoint_format(const struct om_endpoint *e, char *buf, size_t cap);
/* The address alone ("192.0.2.1"), "-" when empty. */
const char *om_endpoint_addr(const struct om_endpoint *e, char *buf, size_t cap);

/* The trie key for a CIDR of instance inst's listener on port (host order). Returns false for a CIDR of
 * the other family. prefixlen covers the instance (32 bits), the port (16) and the CIDR's prefix. */
bool om_lpm_v4_key(struct om_lpm_v4 *k, uint32_t inst, uint16_t port, const struct cidr *c);
bool om_lpm_v6_key(struct om_lpm_v6 *k, uint32_t inst, uint16_t port, const struct cidr *c);
/* The listener port and the instance (host order) a trie key belongs to. */
uint16_t om_lpm_port(const uint8_t port[2]);
uint32_t om_lpm_inst(const uint8_t inst[4]);

uint8_t om_mode_from_proxy(enum proxy_mode m);
uint8_t om_proto_from_listener(enum listener_proto p);
/* "smtp", "submission", "imap", "pop3", "lmtp" (as config_proto_name), "-" before the session starts,
 * "?" otherwise. */
const char *om_proto_name(unsigned p);
/* "denied", "direct", "proxy-required", "proxy-optional" (as policy_verdict_name), "?" otherwise. */
const char *om_verdict_name(unsigned v);
const char *om_state_name(unsigned s);

#endif
