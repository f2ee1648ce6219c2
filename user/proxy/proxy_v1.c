/* PROXY v1: the text line, parsed strictly as the spec writes it. */
#include <arpa/inet.h>
#include <string.h>

#include "proxy_internal.h"

/* A field runs to the next space (or to the CR at the end); returns its length. */
static size_t field_len(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *q = p;
	while (q < end && *q != ' ')
		q++;
	return (size_t)(q - p);
}

/* Decimal 0..max without leading zeroes or sign. */
static bool parse_dec(const uint8_t *p, size_t n, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || (n > 1 && p[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Dotted quad by hand: inet_pton() would need a NUL-terminated copy, and this is the hot path. */
static bool parse_ipv4(const uint8_t *p, size_t n, struct in_addr *out)
{
	uint8_t b[4];
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t start = i;
		unsigned v;
		while (i < n && p[i] != '.')
			i++;
		if (!parse_dec(p + start, i - start, 255, &v))
			return false;
		b[part] = (uint8_t)v;
		if (part < 3) {
			if (i >= n)
				return false;
			i++; /* the dot */
		}
	}
	if (i != n)
		return false;
	memcpy(&out->s_addr, b, 4);
	return true;
}

static bool parse_ipv6(const uint8_t *p, size_t n, struct in6_addr *out)
{
	char tmp[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1;
}

static bool parse_addr(enum pp_family fam, const uint8_t *p, size_t n, union pp_sockaddr *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (fam == PP_FAM_INET) {
		sa->in.sin_family = AF_INET;
		return parse_ipv4(p, n, &sa->in.sin_addr);
	}
	sa->in6.sin6_family = AF_INET6;
	return parse_ipv6(p, n, &sa->in6.sin6_addr);
}

static void set_port(union pp_sockaddr *sa, unsigned port)
{
	if (sa->sa.sa_family == AF_INET)
		sa->in.sin_port = htons((uint16_t)port);
	else
		sa->in6.sin6_port = htons((uint16_t)port);
}

enum pp_error pp_parse_v1(const uint8_t *buf, size_t len, struct pp_header *out)
{
	const uint8_t *p = buf + 6;         /* past "PROXY " */
	const uint8_t *end = buf + len - 2; /* the CR */
	unsigned sport, dport;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->version = 1;
	out->command = PP_CMD_PROXY;
	out->header_len = len;
	if (memchr(buf, '\r', len - 2))
		return PP_ERR_V1_NO_CRLF;

	n = field_len(p, end);
	if (n == 7 && memcmp(p, "UNKNOWN", 7) == 0) {
		/* Anything after UNKNOWN up to CRLF is ignored, but it must be separated by a space. */
		if (p + n != end && p[n] != ' ')
			return PP_ERR_V1_PROTO;
		out->family = PP_FAM_UNSPEC;
		out->transport = PP_TRANS_UNSPEC;
		return PP_OK;
	}
	if (n == 4 && memcmp(p, "TCP4", 4) == 0)
		out->family = PP_FAM_INET;
	else if (n == 4 && memcmp(p, "TCP6", 4) == 0)
		out->family = PP_FAM_INET6;
	else
		return n == 0 ? PP_ERR_V1_SYNTAX : PP_ERR_V1_PROTO;
	out->transport = PP_TRANS_STREAM;

	/* Four fields follow, each after exactly one space. */
	const uint8_t *f[4];
	size_t flen[4];
	p += n;
	for (int i = 0; i < 4; i++) {
		if (p >= end || *p != ' ')
			return PP_ERR_V1_SYNTAX;
		p++;
		f[i] = p;
		flen[i] = field_len(p, end);
		if (flen[i] == 0)
			return PP_ERR_V1_SYNTAX;
		p += flen[i];
	}
	if (p != end)
		return PP_ERR_V1_SYNTAX; /* an extra field or a trailing space */

	if (!parse_addr(out->family, f[0], flen[0], &out->src))
		return PP_ERR_V1_SRC_ADDR;
	if (!parse_addr(out->family, f[1], flen[1], &out->dst))
		return PP_ERR_V1_DST_ADDR;
	if (!parse_dec(f[2], flen[2], 65535, &sport))
		return PP_ERR_V1_SRC_PORT;
	if (!parse_dec(f[3], flen[3], 65535, &dport))
		return PP_ERR_V1_DST_PORT;
	set_port(&out->src, sport);
	set_port(&out->dst, dport);
	return PP_OK;
}
