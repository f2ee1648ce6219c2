/* CIDR sets: parsing, matching and formatting. The rules (docs/configuration.md, "Address ranges"):
 *   - "ADDR/PREFIX" or a bare address (a host route: /32 or /128); host bits are accepted and zeroed;
 *   - an IPv6 entry inside ::ffff:0:0/96 (prefix 96 or more) is stored as the IPv4 entry it denotes;
 *   - an IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is matched as the IPv4 address it carries;
 *   - otherwise the families stay apart: ::/0 matches no IPv4 peer, 0.0.0.0/0 no IPv6 peer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"

#define CIDR_TEXT_MAX (INET6_ADDRSTRLEN + 4) /* address, '/', three digits */

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Zero every bit past the prefix. */
static void zero_host_bits(uint8_t *addr, unsigned prefix, unsigned bits)
{
	for (unsigned i = prefix; i < bits; i++)
		addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

bool cidr_parse(const char *text, struct cidr *out)
{
	if (!text || !out)
		return false;

	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	char addr[INET6_ADDRSTRLEN];
	struct cidr c;
	unsigned bits;

	if (alen == 0 || alen >= sizeof(addr))
		return false;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	memset(&c, 0, sizeof(c));
	if (inet_pton(AF_INET, addr, c.addr) == 1) {
		c.family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
		c.family = AF_INET6;
		bits = 128;
	} else {
		return false;
	}

	c.prefix = bits;
	if (slash) {
		const char *p = slash + 1;
		unsigned v = 0;
		size_t ndig = 0;

		for (; *p >= '0' && *p <= '9'; p++, ndig++) {
			if (ndig == 3)
				return false;
			v = v * 10 + (unsigned)(*p - '0');
		}
		if (ndig == 0 || *p != '\0' || v > bits)
			return false;
		c.prefix = v;
	}

	if (c.family == AF_INET6 && c.prefix >= 96 && memcmp(c.addr, v4mapped_prefix, 12) == 0) {
		memmove(c.addr, c.addr + 12, 4);
		memset(c.addr + 4, 0, 12);
		c.family = AF_INET;
		c.prefix -= 96;
		bits = 32;
	}
	zero_host_bits(c.addr, c.prefix, bits);
	*out = c;
	return true;
}

bool cidr_set_add(struct cidr_set *s, const struct cidr *c)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct cidr *e = &s->v[i];
		if (e->family == c->family && e->prefix == c->prefix && !memcmp(e->addr, c->addr, 16))
			return true; /* already there */
	}
	struct cidr *nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (!nv)
		return false;
	s->v = nv;
	s->v[s->n++] = *c;
	return true;
}

static bool is_sep(char ch)
{
	return ch == ',' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

bool cidr_set_parse(const char *text, struct cidr_set *out, const char **bad)
{
	const char *p = text;

	out->v = NULL;
	out->n = 0;
	if (bad)
		*bad = NULL;
	if (!p)
		return true;
	for (;;) {
		while (is_sep(*p))
			p++;
		if (!*p)
			return true;

		const char *start = p;
		while (*p && !is_sep(*p))
			p++;

		size_t len = (size_t)(p - start);
		struct cidr c;
		bool ok = false;

		if (len <= CIDR_TEXT_MAX) {
			char item[CIDR_TEXT_MAX + 1];
			memcpy(item, start, len);
			item[len] = '\0';
			ok = cidr_parse(item, &c) && cidr_set_add(out, &c);
		}
		if (!ok) {
			cidr_set_free(out);
			if (bad)
				*bad = start;
			return false;
		}
	}
}

/* The peer's address in the form entries are stored in: IPv4-mapped IPv6 becomes IPv4. */
static bool peer_key(const struct sockaddr *sa, int *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		memcpy(addr, &in->sin_addr, 4);
		*family = AF_INET;
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			memcpy(addr, &in6->sin6_addr.s6_addr[12], 4);
			*family = AF_INET;
		} else {
			memcpy(addr, &in6->sin6_addr, 16);
			*family = AF_INET6;
		}
		return true;
	}
	return false;
}

bool cidr_set_match(const struct cidr_set *s, const struct sockaddr *sa)
{
	uint8_t addr[16];
	int family;

	if (!s || !sa || !peer_key(sa, &family, addr))
		return false;
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].family == family && prefix_equal(addr, s->v[i].addr, s->v[i].prefix))
			return true;
	}
	return false;
}

void cidr_set_free(struct cidr_set *s)
{
	if (!s)
		return;
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

const char *cidr_set_format(const struct cidr_set *s, char *buf, size_t cap)
{
	size_t len = 0;

	if (cap == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; s && i < s->n; i++) {
		char a[INET6_ADDRSTRLEN];
		if (!inet_ntop(s->v[i].family, s->v[i].addr, a, sizeof(a)))
			continue;
		int w = snprintf(buf + len, cap - len, "%s%s/%u", len ? ", " : "", a, s->v[i].prefix);
		if (w < 0 || (size_t)w >= cap - len) {
			buf[len] = '\0'; /* no half entries */
			break;
		}
		len += (size_t)w;
	}
	return buf;
}
