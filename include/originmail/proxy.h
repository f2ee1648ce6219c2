/* PROXY protocol v1/v2 codec (HAProxy's doc/proxy-protocol.txt): pure functions over bytes, no I/O.
 *
 * Decoding is incremental: feed bytes as they arrive; the decoder consumes only the header's own bytes,
 * so whatever follows it in the same read (pipelined SMTP, a TLS ClientHello) stays with the caller.
 * Everything the decoder reports (TLV values, SSL strings) points into its own buffer and stays valid
 * until the decoder is reset or freed. */
#ifndef ORIGINMAIL_PROXY_H
#define ORIGINMAIL_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#define PP_V1_MAX_LEN         107u           /* "PROXY UNKNOWN ...\r\n" at its longest */
#define PP_V2_FIXED_LEN       16u            /* signature, ver_cmd, fam, len */
#define PP_V2_MAX_LEN         (16u + 65535u) /* the 16-bit length field's limit */
#define PP_DEFAULT_MAX_HEADER 4096u          /* bounds memory per connection */
#define PP_V2_UNIQUE_ID_MAX   128u           /* spec: "up to 128 bytes" */
#define PP_V2_SIGNATURE       "\r\n\r\n\0\r\nQUIT\n"

enum pp_status {
	PP_NEED_MORE = 0, /* the header is incomplete: feed more bytes */
	PP_DONE = 1,      /* a complete header was decoded */
	PP_ERROR = -1,    /* the bytes are not a valid header: see pp_decoder_error() */
};

enum pp_error {
	PP_OK = 0,
	PP_ERR_NOT_PROXY,        /* the first bytes match neither v1 nor v2 */
	PP_ERR_VERSION_REFUSED,  /* a valid start of a version this decoder was told not to accept */
	PP_ERR_V1_TOO_LONG,      /* no CRLF within 107 bytes */
	PP_ERR_V1_NO_CRLF,       /* LF without CR, or a CR not followed by LF */
	PP_ERR_V1_SYNTAX,        /* fields or spaces not as the spec writes them */
	PP_ERR_V1_PROTO,         /* protocol other than TCP4, TCP6, UNKNOWN */
	PP_ERR_V1_SRC_ADDR,      /* source address invalid for the protocol */
	PP_ERR_V1_DST_ADDR,      /* destination address invalid for the protocol */
	PP_ERR_V1_SRC_PORT,      /* source port not a decimal 0..65535 without leading zeroes */
	PP_ERR_V1_DST_PORT,      /* destination port not a decimal 0..65535 without leading zeroes */
	PP_ERR_V2_VERSION,       /* version nibble is not 2 */
	PP_ERR_V2_COMMAND,       /* command other than LOCAL or PROXY */
	PP_ERR_V2_FAMILY,        /* family/transport byte not one the spec defines */
	PP_ERR_V2_TOO_LARGE,     /* declared length exceeds the configured maximum */
	PP_ERR_V2_ADDR_LEN,      /* declared length shorter than the family's address block */
	PP_ERR_V2_TLV_TRUNCATED, /* a TLV runs past the end of the header */
	PP_ERR_V2_TLV_DUPLICATE, /* a TLV that may appear once appears twice */
	PP_ERR_V2_TLV_LENGTH,    /* a TLV's length is wrong for its type */
	PP_ERR_V2_SSL_TRUNCATED, /* an SSL sub-TLV runs past the end of the SSL TLV */
	PP_ERR_V2_CRC32C,        /* the CRC32C TLV does not match the header */
	PP_ERR_NOMEM,            /* the header buffer could not be allocated */
	PP_ERR__COUNT
};

enum pp_command { PP_CMD_LOCAL = 0, PP_CMD_PROXY = 1 };
enum pp_family { PP_FAM_UNSPEC = 0, PP_FAM_INET = 1, PP_FAM_INET6 = 2, PP_FAM_UNIX = 3 };
enum pp_transport { PP_TRANS_UNSPEC = 0, PP_TRANS_STREAM = 1, PP_TRANS_DGRAM = 2 };

/* Accept masks: which versions a decoder takes. */
enum { PP_ACCEPT_V1 = 1, PP_ACCEPT_V2 = 2, PP_ACCEPT_ANY = 3 };

/* TLV types (spec section 2.2). */
enum pp_tlv_type {
	PP2_TYPE_ALPN = 0x01,
	PP2_TYPE_AUTHORITY = 0x02,
	PP2_TYPE_CRC32C = 0x03,
	PP2_TYPE_NOOP = 0x04,
	PP2_TYPE_UNIQUE_ID = 0x05,
	PP2_TYPE_SSL = 0x20,
	PP2_SUBTYPE_SSL_VERSION = 0x21,
	PP2_SUBTYPE_SSL_CN = 0x22,
	PP2_SUBTYPE_SSL_CIPHER = 0x23,
	PP2_SUBTYPE_SSL_SIG_ALG = 0x24,
	PP2_SUBTYPE_SSL_KEY_ALG = 0x25,
	PP2_TYPE_NETNS = 0x30,
};

/* SSL TLV client bits. */
enum { PP2_CLIENT_SSL = 0x01, PP2_CLIENT_CERT_CONN = 0x02, PP2_CLIENT_CERT_SESS = 0x04 };

/* An address as the header states it; ports are in network byte order inside the sockaddrs. */
union pp_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
};

/* A byte string inside the decoder's buffer (not NUL-terminated). */
struct pp_bytes {
	const uint8_t *data;
	size_t len;
};

struct pp_ssl {
	bool present;
	uint8_t client;  /* PP2_CLIENT_* bits */
	uint32_t verify; /* 0 when the client certificate verified (only meaningful with the CERT bits) */
	struct pp_bytes version, cn, cipher, sig_alg, key_alg;
};

struct pp_header {
	uint8_t version; /* 1 or 2 */
	enum pp_command command;
	enum pp_family family;
	enum pp_transport transport;
	union pp_sockaddr src, dst; /* sa_family AF_UNSPEC when the header carries no address */
	size_t header_len;          /* exact bytes the header occupied on the wire */

	/* v2 only. Each pp_bytes has data == NULL when absent. */
	struct pp_bytes alpn, authority, unique_id, netns;
	struct pp_ssl ssl;
	bool has_crc32c;      /* when true, the CRC32C was verified (a mismatch is an error) */
	struct pp_bytes tlvs; /* the whole TLV area, for pp_tlv_next() */
};

struct pp_options {
	unsigned accept;   /* PP_ACCEPT_* mask; 0 means PP_ACCEPT_ANY */
	size_t max_header; /* 0 means PP_DEFAULT_MAX_HEADER; capped at PP_V2_MAX_LEN */
};

#define PP_INLINE_BUF 256u

struct pp_decoder {
	struct pp_options opt;
	uint8_t *buf; /* inline_buf, or a heap buffer for a v2 header larger than it */
	size_t have;  /* bytes of the header held in buf */
	size_t need;  /* total header length once known, else 0 */
	enum pp_status status;
	enum pp_error error;
	struct pp_header hdr;
	uint8_t inline_buf[PP_INLINE_BUF];
};

void pp_decoder_init(struct pp_decoder *d, const struct pp_options *opt);
/* Ready the decoder for another header, keeping its options. */
void pp_decoder_reset(struct pp_decoder *d);
void pp_decoder_free(struct pp_decoder *d);

/* Feed up to len bytes. *consumed tells how many belong to the header (never more); the caller keeps
 * the rest. After PP_DONE or PP_ERROR further calls return the same status and consume nothing.
 * On PP_ERR_NOT_PROXY this call's bytes are not consumed, and buf[0..have) holds what earlier calls
 * took (a proper prefix of a signature), so a caller that accepts headerless peers loses nothing. */
enum pp_status pp_decoder_feed(struct pp_decoder *d, const void *data, size_t len, size_t *consumed);
const struct pp_header *pp_decoder_header(const struct pp_decoder *d); /* NULL unless PP_DONE */
enum pp_error pp_decoder_error(const struct pp_decoder *d);

/* One-shot decode of a buffer that starts with a header: the same rules, no copy. On PP_DONE,
 * out->header_len tells where the payload starts; out's pointers point into buf. */
enum pp_status pp_decode(const void *buf, size_t len, const struct pp_options *opt, struct pp_header *out,
                         enum pp_error *err);

const char *pp_strerror(enum pp_error e);
/* A short stable token for e ("not_proxy", "v2_crc32c"...): metric labels, machine-readable output. */
const char *pp_error_name(enum pp_error e);
const char *pp_command_name(enum pp_command c);
const char *pp_family_name(enum pp_family f);
const char *pp_transport_name(enum pp_transport t);
const char *pp_tlv_name(uint8_t type); /* "alpn", "crc32c", ...; NULL for unknown types */

/* Walk the TLVs of a decoded header in wire order: returns false at the end. */
struct pp_tlv {
	uint8_t type;
	struct pp_bytes value;
};
bool pp_tlv_next(const struct pp_header *h, size_t *offset, struct pp_tlv *out);

/* CRC32C (Castagnoli), as the CRC32C TLV uses it. */
uint32_t pp_crc32c(uint32_t crc, const void *data, size_t len);

/* ---- Encoder ---- */

struct pp_tlv_spec {
	uint8_t type;
	uint16_t len;
	const void *value;
};

struct pp_ssl_spec {
	uint8_t client;
	uint32_t verify;
	const char *version, *cn, *cipher, *sig_alg, *key_alg; /* NULL: sub-TLV left out */
};

struct pp_encode_spec {
	enum pp_command command;
	enum pp_family family;
	enum pp_transport transport;
	union pp_sockaddr src, dst;
	const struct pp_tlv_spec *tlvs; /* written in order, after the CRC32C TLV if any */
	size_t ntlvs;
	const struct pp_ssl_spec *ssl; /* written last, when not NULL */
	bool crc32c;                   /* add a CRC32C TLV (first, as HAProxy does) */
};

/* Write a v1 line: "PROXY TCP4|TCP6 ..." for INET/INET6, "PROXY UNKNOWN" otherwise (and for LOCAL).
 * Returns the length written, or -1 when cap is too small or an address does not match the family. */
long pp_encode_v1(char *out, size_t cap, const struct pp_encode_spec *spec);
/* Write a v2 header. Returns the length written, or -1 when it does not fit in cap or 16 + 65535. */
long pp_encode_v2(uint8_t *out, size_t cap, const struct pp_encode_spec *spec);

/* Helpers for building specs and reading results. */
bool pp_sockaddr_parse(union pp_sockaddr *out, const char *addr, uint16_t port); /* IPv4 or IPv6 text */
/* The address as an operator reads it: IPv4-mapped IPv6 shown as IPv4. Returns buf. */
const char *pp_sockaddr_ntop(const union pp_sockaddr *a, char *buf, size_t cap);
uint16_t pp_sockaddr_port(const union pp_sockaddr *a);
/* Convert an IPv4-mapped IPv6 address (::ffff:a.b.c.d) to plain IPv4 in place; other addresses stay. */
void pp_sockaddr_unmap(union pp_sockaddr *a);

#endif
