/* PROXY v1: the text line, parsed strictly as the spec writes it. */
#include <arpa/inet.h>
#include <string.h>

#include "proxy_internal.h"

/* Decimal 0..max without leading zeroes or sign, ending at the first byte in stop (" " or "."),
 * or at end. Returns the position after the number, or NULL. */
static const uint8_t *parse_dec(const uint8_t *p, const uint8_t *end, unsigned max, uint8_t stop,
                                unsigned *out)
{
	const uint8_t *start = p;
	unsigned v = 0;

	while (p < end && *p >= '0' && *p <= '9' && p - start < 5)
		v = v * 10 + (unsigned)(*p++ - '0');
	if (p == start || (p - start > 1 && *start == '0') || v > max)
		return NULL;
	if (p < end && *p != stop)
		return NULL;
	*out = v;
	return p;
}

/* Dotted quad by hand, in one pass: this is the hot path, and inet_pton() would need a copy. */
static const uint8_t *parse_ipv4(const uint8_t *p, const uint8_t *end, struct sockaddr_in *sa)
{
	uint8_t b[4];
	unsigned v;

	for (int i = 0; i < 4; i++) {
		p = parse_dec(p, end, 255, i < 3 ? '.' : ' ', &v);
		if (!p || (i < 3 && p == end))
			return NULL;
		b[i] = (uint8_t)v;
		if (i < 3)
			p++;
	}
	sa->sin_family = AF_INET;
	memcpy(&sa->sin_addr, b, 4);
	return p;
}

static const uint8_t *parse_ipv6(const uint8_t *p, const uint8_t *end, struct sockaddr_in6 *sa)
{
	const uint8_t *sp = memchr(p, ' ', (size_t)(end - p));
	size_t n = sp ? (size_t)(sp - p) : (size_t)(end - p);
	char tmp[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(tmp))
		return NULL;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET6, tmp, &sa->sin6_addr) != 1)
		return NULL;
	sa->sin6_family = AF_INET6;
	return p + n;
}

static const uint8_t *parse_addr(enum pp_family fam, const uint8_t *p, const uint8_t *end,
                                 union pp_sockaddr *sa)
{
	return fam == PP_FAM_INET ? parse_ipv4(p, end, &sa->in) : parse_ipv6(p, end, &sa->in6);
}

/* One space, then a field that must not be empty. */
static const uint8_t *space(const uint8_t *p, const uint8_t *end)
{
	return p < end && *p == ' ' && p + 1 < end && p[1] != ' ' ? p + 1 : NULL;
}

enum pp_error pp_parse_v1(const uint8_t *buf, size_t len, struct pp_header *out)
{
	const uint8_t *p = buf + 6;         /* past "PROXY " */
	const uint8_t *end = buf + len - 2; /* the CR */
	unsigned sport, dport;

	pp_header_clear(out);
	out->version = 1;
	out->command = PP_CMD_PROXY;
	out->header_len = len;
	if (memchr(buf, '\r', len - 2))
		return PP_ERR_V1_NO_CRLF;

	if (end - p >= 4 && (memcmp(p, "TCP4", 4) == 0 || memcmp(p, "TCP6", 4) == 0)) {
		out->family = p[3] == '4' ? PP_FAM_INET : PP_FAM_INET6;
		out->transport = PP_TRANS_STREAM;
		p += 4;
	} else if (end - p >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (end - p == 7 || p[7] == ' ')) {
		/* Anything after UNKNOWN up to CRLF is ignored. */
		out->family = PP_FAM_UNSPEC;
		out->transport = PP_TRANS_UNSPEC;
		return PP_OK;
	} else {
		return p == end || *p == ' ' ? PP_ERR_V1_SYNTAX : PP_ERR_V1_PROTO;
	}
	if (p < end && *p != ' ')
		return PP_ERR_V1_PROTO; /* "TCP44" */

	if (!(p = space(p, end)))
		return PP_ERR_V1_SYNTAX;
	if (!(p = parse_addr(out->family, p, end, &out->src)))
		return PP_ERR_V1_SRC_ADDR;
	if (!(p = space(p, end)))
		return PP_ERR_V1_SYNTAX;
	if (!(p = parse_addr(out->family, p, end, &out->dst)))
		return PP_ERR_V1_DST_ADDR;
	if (!(p = space(p, end)))
		return PP_ERR_V1_SYNTAX;
	if (!(p = parse_dec(p, end, 65535, ' ', &sport)))
		return PP_ERR_V1_SRC_PORT;
	if (!(p = space(p, end)))
		return PP_ERR_V1_SYNTAX;
	if (!(p = parse_dec(p, end, 65535, ' ', &dport)))
		return PP_ERR_V1_DST_PORT;
	if (p != end)
		return PP_ERR_V1_SYNTAX; /* an extra field or a trailing space */
	if (out->family == PP_FAM_INET) {
		out->src.in.sin_port = htons((uint16_t)sport);
		out->dst.in.sin_port = htons((uint16_t)dport);
	} else {
		out->src.in6.sin6_port = htons((uint16_t)sport);
		out->dst.in6.sin6_port = htons((uint16_t)dport);
	}
	return PP_OK;
}
