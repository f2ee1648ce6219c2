/* Shared between the PROXY codec's files; not part of the public API. */
#ifndef ORIGINMAIL_PROXY_INTERNAL_H
#define ORIGINMAIL_PROXY_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include "originmail/proxy.h"

/* Parse a complete v1 line (buf[0..len) ends with "\r\n"). */
enum pp_error pp_parse_v1(const uint8_t *buf, size_t len, struct pp_header *out);
/* Parse a complete v2 header of len == 16 + declared length bytes. */
enum pp_error pp_parse_v2(const uint8_t *buf, size_t len, struct pp_header *out);
/* Check the v2 fixed part (16 bytes): version, command, family; returns the total header length. */
enum pp_error pp_v2_check_fixed(const uint8_t *buf, size_t max_header, size_t *total);

static inline uint16_t pp_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t pp_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void pp_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void pp_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Reset a header for parsing. The sockaddr unions are mostly sun_path, which only AF_UNIX uses (and
 * then fills whole), so only their inet part is zeroed: this runs once per connection. */
static inline void pp_header_clear(struct pp_header *h)
{
	static const struct pp_bytes none = {NULL, 0};

	/* Field by field: a memset of the whole struct compiles to "rep stos", which alone costs more than
	 * parsing a v2 header. */
	h->version = 0;
	h->command = PP_CMD_LOCAL;
	h->family = PP_FAM_UNSPEC;
	h->transport = PP_TRANS_UNSPEC;
	memset(&h->src, 0, sizeof(struct sockaddr_in6));
	memset(&h->dst, 0, sizeof(struct sockaddr_in6));
	h->header_len = 0;
	/* One store each: a chained assignment reads each field back, a store-forwarding stall. */
	h->alpn = none;
	h->authority = none;
	h->unique_id = none;
	h->netns = none;
	h->tlvs = none;
	h->ssl.present = false;
	h->ssl.client = 0;
	h->ssl.verify = 0;
	h->ssl.version = none;
	h->ssl.cn = none;
	h->ssl.cipher = none;
	h->ssl.sig_alg = none;
	h->ssl.key_alg = none;
	h->has_crc32c = false;
}

/* Address block sizes per v2 family (UNSPEC has none). */
static inline size_t pp_v2_addr_len(enum pp_family f)
{
	static const size_t len[] = {0, 12, 36, 216};
	return len[f & 3];
}

#endif
