/* CIDR sets (IPv4 and IPv6) and matching; IPv4-mapped IPv6 peers match IPv4 entries. */
#ifndef ORIGINMAIL_CIDR_H
#define ORIGINMAIL_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes; host bits zeroed */
	unsigned prefix;  /* 0..32 or 0..128 */
};

struct cidr_set {
	struct cidr *v;
	size_t n;
};

/* "192.0.2.0/24", "2001:db8::/32", or a bare address (a host route). False on bad syntax or prefix.
 * Host bits are accepted and zeroed; an IPv6 entry inside ::ffff:0:0/96 (prefix 96 or more) is stored as
 * the IPv4 entry it denotes ("::ffff:10.0.0.0/104" is 10.0.0.0/8). */
bool cidr_parse(const char *text, struct cidr *out);
/* A comma- and/or space-separated list; an empty string is an empty set. On error, *bad points at the
 * offending item (a pointer into text). *out is overwritten (not freed first); on error it is empty. */
bool cidr_set_parse(const char *text, struct cidr_set *out, const char **bad);
/* An entry already in the set is not added twice. False only when out of memory. */
bool cidr_set_add(struct cidr_set *s, const struct cidr *c);
/* An IPv4-mapped IPv6 peer is matched as the IPv4 address it carries; IPv4 and IPv6 entries otherwise
 * match only their own family (::/0 matches no IPv4 peer). Families other than AF_INET/6 never match. */
bool cidr_set_match(const struct cidr_set *s, const struct sockaddr *sa);
void cidr_set_free(struct cidr_set *s);
/* "192.0.2.0/24, 2001:db8::/32" into buf (a host is "192.0.2.1/32"; an empty set ""). Entries that do
 * not fit are left out whole. Returns buf. */
const char *cidr_set_format(const struct cidr_set *s, char *buf, size_t cap);

#endif
