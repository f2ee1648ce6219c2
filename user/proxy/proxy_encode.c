/* PROXY v1/v2 writers, for tests, benchmarks and `originctl proxy-encode`. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "proxy_internal.h"

long pp_encode_v1(char *out, size_t cap, const struct pp_encode_spec *spec)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int af, n;

	if (spec->command == PP_CMD_LOCAL || (spec->family != PP_FAM_INET && spec->family != PP_FAM_INET6)) {
		n = snprintf(out, cap, "PROXY UNKNOWN\r\n");
		return n < 0 || (size_t)n >= cap ? -1 : n;
	}
	af = spec->family == PP_FAM_INET ? AF_INET : AF_INET6;
	if (spec->src.sa.sa_family != af || spec->dst.sa.sa_family != af)
		return -1;
	const void *sa = af == AF_INET ? (const void *)&spec->src.in.sin_addr : &spec->src.in6.sin6_addr;
	const void *da = af == AF_INET ? (const void *)&spec->dst.in.sin_addr : &spec->dst.in6.sin6_addr;
	inet_ntop(af, sa, src, sizeof(src));
	inet_ntop(af, da, dst, sizeof(dst));
	n = snprintf(out, cap, "PROXY %s %s %s %u %u\r\n", af == AF_INET ? "TCP4" : "TCP6", src, dst,
	             pp_sockaddr_port(&spec->src), pp_sockaddr_port(&spec->dst));
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* Append one TLV at *off; false when it does not fit. */
static bool put_tlv(uint8_t *out, size_t cap, size_t *off, uint8_t type, const void *v, size_t n)
{
	if (n > 0xffff || cap - *off < 3 + n)
		return false;
	out[*off] = type;
	pp_put16(out + *off + 1, (uint16_t)n);
	if (n)
		memcpy(out + *off + 3, v, n);
	*off += 3 + n;
	return true;
}

static bool put_ssl(uint8_t *out, size_t cap, size_t *off, const struct pp_ssl_spec *ssl)
{
	const struct {
		uint8_t type;
		const char *value;
	} sub[] = {
	        {PP2_SUBTYPE_SSL_VERSION, ssl->version}, {PP2_SUBTYPE_SSL_CN, ssl->cn},
	        {PP2_SUBTYPE_SSL_CIPHER, ssl->cipher},   {PP2_SUBTYPE_SSL_SIG_ALG, ssl->sig_alg},
	        {PP2_SUBTYPE_SSL_KEY_ALG, ssl->key_alg},
	};
	size_t start = *off;

	if (cap - *off < 8)
		return false;
	out[*off] = PP2_TYPE_SSL;
	out[*off + 3] = ssl->client;
	pp_put32(out + *off + 4, ssl->verify);
	*off += 8;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
		if (sub[i].value && !put_tlv(out, cap, off, sub[i].type, sub[i].value, strlen(sub[i].value)))
			return false;
	if (*off - start - 3 > 0xffff)
		return false;
	pp_put16(out + start + 1, (uint16_t)(*off - start - 3));
	return true;
}

static void put_addrs(uint8_t *a, const struct pp_encode_spec *spec)
{
	switch (spec->family) {
	case PP_FAM_INET:
		memcpy(a, &spec->src.in.sin_addr, 4);
		memcpy(a + 4, &spec->dst.in.sin_addr, 4);
		memcpy(a + 8, &spec->src.in.sin_port, 2);
		memcpy(a + 10, &spec->dst.in.sin_port, 2);
		break;
	case PP_FAM_INET6:
		memcpy(a, &spec->src.in6.sin6_addr, 16);
		memcpy(a + 16, &spec->dst.in6.sin6_addr, 16);
		memcpy(a + 32, &spec->src.in6.sin6_port, 2);
		memcpy(a + 34, &spec->dst.in6.sin6_port, 2);
		break;
	case PP_FAM_UNIX:
		memcpy(a, spec->src.un.sun_path, 108);
		memcpy(a + 108, spec->dst.un.sun_path, 108);
		break;
	case PP_FAM_UNSPEC:
		break;
	}
}

long pp_encode_v2(uint8_t *out, size_t cap, const struct pp_encode_spec *spec)
{
	static const int af_of[] = {AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX};
	size_t alen = pp_v2_addr_len(spec->family);
	size_t off = PP_V2_FIXED_LEN + alen, crc_at = 0;

	if ((unsigned)spec->family > PP_FAM_UNIX || (unsigned)spec->transport > PP_TRANS_DGRAM ||
	    (unsigned)spec->command > PP_CMD_PROXY)
		return -1;
	/* UNSPEC goes with UNSPEC only, as the spec's list of valid bytes has it. */
	if ((spec->family == PP_FAM_UNSPEC) != (spec->transport == PP_TRANS_UNSPEC))
		return -1;
	if (spec->family != PP_FAM_UNSPEC &&
	    (spec->src.sa.sa_family != af_of[spec->family] || spec->dst.sa.sa_family != af_of[spec->family]))
		return -1;
	if (cap > PP_V2_MAX_LEN)
		cap = PP_V2_MAX_LEN;
	if (cap < off)
		return -1;
	memcpy(out, PP_V2_SIGNATURE, 12);
	out[12] = (uint8_t)(0x20 | spec->command);
	out[13] = (uint8_t)(spec->family << 4 | spec->transport);
	put_addrs(out + PP_V2_FIXED_LEN, spec);

	if (spec->crc32c) {
		static const uint8_t zero[4];
		crc_at = off + 3;
		if (!put_tlv(out, cap, &off, PP2_TYPE_CRC32C, zero, 4))
			return -1;
	}
	for (size_t i = 0; i < spec->ntlvs; i++)
		if (!put_tlv(out, cap, &off, spec->tlvs[i].type, spec->tlvs[i].value, spec->tlvs[i].len))
			return -1;
	if (spec->ssl && !put_ssl(out, cap, &off, spec->ssl))
		return -1;
	pp_put16(out + 14, (uint16_t)(off - PP_V2_FIXED_LEN));
	if (crc_at)
		pp_put32(out + crc_at, pp_crc32c(0, out, off));
	return (long)off;
}
