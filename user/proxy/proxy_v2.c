/* PROXY v2: the binary header, its address block and its TLVs, every length checked. */
#include <string.h>

#include "proxy_internal.h"

enum pp_error pp_v2_check_fixed(const uint8_t *buf, size_t max_header, size_t *total)
{
	uint8_t fam = buf[13];

	if ((buf[12] >> 4) != 2)
		return PP_ERR_V2_VERSION;
	if ((buf[12] & 0x0f) > PP_CMD_PROXY)
		return PP_ERR_V2_COMMAND;
	/* Only the combinations the spec lists; everything else "must be rejected as invalid". */
	if (fam != 0x00 && ((fam >> 4) < 1 || (fam >> 4) > 3 || (fam & 0x0f) < 1 || (fam & 0x0f) > 2))
		return PP_ERR_V2_FAMILY;
	*total = PP_V2_FIXED_LEN + pp_get16(buf + 14);
	if (*total > max_header)
		return PP_ERR_V2_TOO_LARGE;
	if (*total - PP_V2_FIXED_LEN < pp_v2_addr_len((enum pp_family)(fam >> 4)))
		return PP_ERR_V2_ADDR_LEN;
	return PP_OK;
}

static void decode_addrs(const uint8_t *a, enum pp_family fam, struct pp_header *out)
{
	switch (fam) {
	case PP_FAM_INET:
		out->src.in.sin_family = out->dst.in.sin_family = AF_INET;
		memcpy(&out->src.in.sin_addr, a, 4);
		memcpy(&out->dst.in.sin_addr, a + 4, 4);
		memcpy(&out->src.in.sin_port, a + 8, 2);
		memcpy(&out->dst.in.sin_port, a + 10, 2);
		break;
	case PP_FAM_INET6:
		out->src.in6.sin6_family = out->dst.in6.sin6_family = AF_INET6;
		memcpy(&out->src.in6.sin6_addr, a, 16);
		memcpy(&out->dst.in6.sin6_addr, a + 16, 16);
		memcpy(&out->src.in6.sin6_port, a + 32, 2);
		memcpy(&out->dst.in6.sin6_port, a + 34, 2);
		break;
	case PP_FAM_UNIX:
		out->src.un.sun_family = out->dst.un.sun_family = AF_UNIX;
		memcpy(out->src.un.sun_path, a, 108);
		memcpy(out->dst.un.sun_path, a + 108, 108);
		break;
	case PP_FAM_UNSPEC:
		break;
	}
}

/* Store a once-only value; a second occurrence is an error. */
static enum pp_error set_once(struct pp_bytes *slot, const uint8_t *v, size_t n)
{
	if (slot->data)
		return PP_ERR_V2_TLV_DUPLICATE;
	slot->data = v;
	slot->len = n;
	return PP_OK;
}

static enum pp_error parse_ssl(const uint8_t *v, size_t n, struct pp_ssl *ssl)
{
	if (n < 5)
		return PP_ERR_V2_TLV_LENGTH;
	ssl->present = true;
	ssl->client = v[0];
	ssl->verify = pp_get32(v + 1);
	for (size_t off = 5; off < n;) {
		if (n - off < 3 || n - off - 3 < pp_get16(v + off + 1))
			return PP_ERR_V2_SSL_TRUNCATED;
		uint8_t type = v[off];
		size_t len = pp_get16(v + off + 1);
		const uint8_t *val = v + off + 3;
		struct pp_bytes *slot = NULL;

		switch (type) {
		case PP2_SUBTYPE_SSL_VERSION:
			slot = &ssl->version;
			break;
		case PP2_SUBTYPE_SSL_CN:
			slot = &ssl->cn;
			break;
		case PP2_SUBTYPE_SSL_CIPHER:
			slot = &ssl->cipher;
			break;
		case PP2_SUBTYPE_SSL_SIG_ALG:
			slot = &ssl->sig_alg;
			break;
		case PP2_SUBTYPE_SSL_KEY_ALG:
			slot = &ssl->key_alg;
			break;
		default:
			break; /* a sub-TLV from a newer spec: skipped */
		}
		if (slot && set_once(slot, val, len) != PP_OK)
			return PP_ERR_V2_TLV_DUPLICATE;
		off += 3 + len;
	}
	return PP_OK;
}

/* Check the CRC32C value against the header with the value zeroed, without copying the header. */
static bool crc_matches(const uint8_t *buf, size_t len, const uint8_t *crc_val)
{
	static const uint8_t zero[4];
	size_t before = (size_t)(crc_val - buf);
	uint32_t c = pp_crc32c(0, buf, before);

	c = pp_crc32c(c, zero, 4);
	c = pp_crc32c(c, crc_val + 4, len - before - 4);
	return c == pp_get32(crc_val);
}

static enum pp_error parse_tlv(uint8_t type, const uint8_t *v, size_t n, struct pp_header *out,
                               const uint8_t **crc_val)
{
	switch (type) {
	case PP2_TYPE_ALPN:
		return set_once(&out->alpn, v, n);
	case PP2_TYPE_AUTHORITY:
		return set_once(&out->authority, v, n);
	case PP2_TYPE_NETNS:
		return set_once(&out->netns, v, n);
	case PP2_TYPE_UNIQUE_ID:
		if (n > PP_V2_UNIQUE_ID_MAX)
			return PP_ERR_V2_TLV_LENGTH;
		return set_once(&out->unique_id, v, n);
	case PP2_TYPE_CRC32C:
		if (*crc_val)
			return PP_ERR_V2_TLV_DUPLICATE;
		if (n != 4)
			return PP_ERR_V2_TLV_LENGTH;
		*crc_val = v;
		return PP_OK;
	case PP2_TYPE_SSL:
		if (out->ssl.present)
			return PP_ERR_V2_TLV_DUPLICATE;
		return parse_ssl(v, n, &out->ssl);
	default:
		return PP_OK; /* NOOP and unknown types: kept, reachable through pp_tlv_next() */
	}
}

enum pp_error pp_parse_v2(const uint8_t *buf, size_t len, struct pp_header *out)
{
	enum pp_family fam = (enum pp_family)(buf[13] >> 4);
	size_t alen = pp_v2_addr_len(fam);
	const uint8_t *crc_val = NULL;

	pp_header_clear(out);
	out->version = 2;
	out->command = (enum pp_command)(buf[12] & 0x0f);
	out->family = fam;
	out->transport = (enum pp_transport)(buf[13] & 0x0f);
	out->header_len = len;
	/* LOCAL: the connection's real endpoints apply; the address block is skipped. */
	if (out->command == PP_CMD_PROXY)
		decode_addrs(buf + PP_V2_FIXED_LEN, fam, out);

	out->tlvs.data = buf + PP_V2_FIXED_LEN + alen;
	out->tlvs.len = len - PP_V2_FIXED_LEN - alen;
	for (size_t off = 0; off < out->tlvs.len;) {
		const uint8_t *t = out->tlvs.data + off;
		size_t left = out->tlvs.len - off;
		if (left < 3 || left - 3 < pp_get16(t + 1))
			return PP_ERR_V2_TLV_TRUNCATED;
		size_t n = pp_get16(t + 1);
		enum pp_error err = parse_tlv(t[0], t + 3, n, out, &crc_val);
		if (err != PP_OK)
			return err;
		off += 3 + n;
	}
	if (crc_val) {
		if (!crc_matches(buf, len, crc_val))
			return PP_ERR_V2_CRC32C;
		out->has_crc32c = true;
	}
	return PP_OK;
}

bool pp_tlv_next(const struct pp_header *h, size_t *offset, struct pp_tlv *out)
{
	size_t off = *offset;

	/* The TLV area was validated when decoded; the bounds check keeps a misuse harmless. */
	if (!h->tlvs.data || off + 3 > h->tlvs.len)
		return false;
	size_t n = pp_get16(h->tlvs.data + off + 1);
	if (n > h->tlvs.len - off - 3)
		return false;
	out->type = h->tlvs.data[off];
	out->value.data = h->tlvs.data + off + 3;
	out->value.len = n;
	*offset = off + 3 + n;
	return true;
}
