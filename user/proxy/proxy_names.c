/* Names and messages for the PROXY codec's enums: what logs and `originctl` print. */
#include "proxy_internal.h"

const char *pp_strerror(enum pp_error e)
{
	static const char *const msg[PP_ERR__COUNT] = {
	        [PP_OK] = "no error",
	        [PP_ERR_NOT_PROXY] = "not a PROXY protocol header",
	        [PP_ERR_VERSION_REFUSED] = "PROXY protocol version not accepted on this listener",
	        [PP_ERR_V1_TOO_LONG] = "PROXY v1 line longer than 107 bytes",
	        [PP_ERR_V1_NO_CRLF] = "PROXY v1 line not terminated by CRLF",
	        [PP_ERR_V1_SYNTAX] = "PROXY v1 line malformed (fields or spaces)",
	        [PP_ERR_V1_PROTO] = "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN",
	        [PP_ERR_V1_SRC_ADDR] = "PROXY v1 source address invalid",
	        [PP_ERR_V1_DST_ADDR] = "PROXY v1 destination address invalid",
	        [PP_ERR_V1_SRC_PORT] = "PROXY v1 source port invalid",
	        [PP_ERR_V1_DST_PORT] = "PROXY v1 destination port invalid",
	        [PP_ERR_V2_VERSION] = "PROXY v2 version is not 2",
	        [PP_ERR_V2_COMMAND] = "PROXY v2 command is not LOCAL or PROXY",
	        [PP_ERR_V2_FAMILY] = "PROXY v2 address family or transport invalid",
	        [PP_ERR_V2_TOO_LARGE] = "PROXY v2 header larger than the configured maximum",
	        [PP_ERR_V2_ADDR_LEN] = "PROXY v2 length too short for the address family",
	        [PP_ERR_V2_TLV_TRUNCATED] = "PROXY v2 TLV truncated",
	        [PP_ERR_V2_TLV_DUPLICATE] = "PROXY v2 TLV repeated",
	        [PP_ERR_V2_TLV_LENGTH] = "PROXY v2 TLV length invalid for its type",
	        [PP_ERR_V2_SSL_TRUNCATED] = "PROXY v2 SSL sub-TLV truncated",
	        [PP_ERR_V2_CRC32C] = "PROXY v2 CRC32C mismatch",
	        [PP_ERR_NOMEM] = "out of memory for PROXY header",
	};
	return (unsigned)e < PP_ERR__COUNT && msg[e] ? msg[e] : "unknown PROXY error";
}

const char *pp_error_name(enum pp_error e)
{
	static const char *const name[PP_ERR__COUNT] = {
	        [PP_OK] = "ok",
	        [PP_ERR_NOT_PROXY] = "not_proxy",
	        [PP_ERR_VERSION_REFUSED] = "version_refused",
	        [PP_ERR_V1_TOO_LONG] = "v1_too_long",
	        [PP_ERR_V1_NO_CRLF] = "v1_no_crlf",
	        [PP_ERR_V1_SYNTAX] = "v1_syntax",
	        [PP_ERR_V1_PROTO] = "v1_proto",
	        [PP_ERR_V1_SRC_ADDR] = "v1_src_addr",
	        [PP_ERR_V1_DST_ADDR] = "v1_dst_addr",
	        [PP_ERR_V1_SRC_PORT] = "v1_src_port",
	        [PP_ERR_V1_DST_PORT] = "v1_dst_port",
	        [PP_ERR_V2_VERSION] = "v2_version",
	        [PP_ERR_V2_COMMAND] = "v2_command",
	        [PP_ERR_V2_FAMILY] = "v2_family",
	        [PP_ERR_V2_TOO_LARGE] = "v2_too_large",
	        [PP_ERR_V2_ADDR_LEN] = "v2_addr_len",
	        [PP_ERR_V2_TLV_TRUNCATED] = "v2_tlv_truncated",
	        [PP_ERR_V2_TLV_DUPLICATE] = "v2_tlv_duplicate",
	        [PP_ERR_V2_TLV_LENGTH] = "v2_tlv_length",
	        [PP_ERR_V2_SSL_TRUNCATED] = "v2_ssl_truncated",
	        [PP_ERR_V2_CRC32C] = "v2_crc32c",
	        [PP_ERR_NOMEM] = "nomem",
	};
	return (unsigned)e < PP_ERR__COUNT && name[e] ? name[e] : "unknown";
}

const char *pp_command_name(enum pp_command c)
{
	return c == PP_CMD_LOCAL ? "LOCAL" : "PROXY";
}

const char *pp_family_name(enum pp_family f)
{
	static const char *const n[] = {"UNSPEC", "INET", "INET6", "UNIX"};
	return (unsigned)f < 4 ? n[f] : "?";
}

const char *pp_transport_name(enum pp_transport t)
{
	static const char *const n[] = {"UNSPEC", "STREAM", "DGRAM"};
	return (unsigned)t < 3 ? n[t] : "?";
}

const char *pp_tlv_name(uint8_t type)
{
	switch (type) {
	case PP2_TYPE_ALPN:
		return "alpn";
	case PP2_TYPE_AUTHORITY:
		return "authority";
	case PP2_TYPE_CRC32C:
		return "crc32c";
	case PP2_TYPE_NOOP:
		return "noop";
	case PP2_TYPE_UNIQUE_ID:
		return "unique_id";
	case PP2_TYPE_SSL:
		return "ssl";
	case PP2_TYPE_NETNS:
		return "netns";
	default:
		return NULL;
	}
}
