/* originctl proxy-encode: write a PROXY v1 or v2 header to stdout from command-line options. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "originctl.h"
#include "originmail/proxy.h"

#define MAX_TLVS 64

/* "192.0.2.1:25" or "[2001:db8::1]:25". */
static bool parse_endpoint(const char *s, union pp_sockaddr *out)
{
	char host[64];
	const char *colon;
	size_t n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return false;
		n = (size_t)(close - s - 1);
		colon = close + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port > 65535)
		return false;
	return pp_sockaddr_parse(out, host, (uint16_t)port);
}

static bool parse_unix(const char *s, union pp_sockaddr *out)
{
	memset(out, 0, sizeof(*out));
	out->un.sun_family = AF_UNIX;
	if (strlen(s) >= sizeof(out->un.sun_path))
		return false;
	memcpy(out->un.sun_path, s, strlen(s));
	return true;
}

/* --tlv TYPE=HEX, TYPE decimal or 0x.. */
static bool parse_raw_tlv(const char *s, struct pp_tlv_spec *t, uint8_t **store)
{
	char *end;
	unsigned long type = strtoul(s, &end, 0);
	if (end == s || *end != '=' || type > 255)
		return false;
	const char *hex = end + 1;
	size_t n = strlen(hex);
	if (n % 2 || n / 2 > 0xffff)
		return false;
	uint8_t *v = malloc(n / 2 + 1);
	if (!v)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned b;
		if (sscanf(hex + 2 * i, "%2x", &b) != 1) {
			free(v);
			return false;
		}
		v[i] = (uint8_t)b;
	}
	*store = v;
	t->type = (uint8_t)type;
	t->len = (uint16_t)(n / 2);
	t->value = v;
	return true;
}

static int usage(FILE *f, int rc)
{
	fprintf(f,
	        "usage: originctl proxy-encode [--v1|--v2] [--local] [--dgram] --src ADDR:PORT --dst "
	        "ADDR:PORT\n"
	        "         [--src-unix PATH --dst-unix PATH] [--unknown] [--crc32c]\n"
	        "         [--alpn S] [--authority S] [--unique-id S] [--netns S] [--noop N] [--tlv "
	        "TYPE=HEX]...\n"
	        "         [--ssl-client N] [--ssl-verify N] [--ssl-version S] [--ssl-cn S] [--ssl-cipher S]\n"
	        "         [--ssl-sig-alg S] [--ssl-key-alg S]\n"
	        "Writes the header (v2 by default) to stdout. IPv6 addresses go in brackets.\n");
	return rc;
}

enum {
	O_ALPN = 256,
	O_AUTH,
	O_UID,
	O_NETNS,
	O_NOOP,
	O_TLV,
	O_SSLC,
	O_SSLV,
	O_SSLVER,
	O_CN,
	O_CIPHER,
	O_SIG,
	O_KEY,
	O_SRCU,
	O_DSTU
};

int cmd_proxy_encode(int argc, char **argv)
{
	static const struct option opts[] = {{"v1", no_argument, NULL, '1'},
	                                     {"v2", no_argument, NULL, '2'},
	                                     {"local", no_argument, NULL, 'l'},
	                                     {"dgram", no_argument, NULL, 'g'},
	                                     {"unknown", no_argument, NULL, 'u'},
	                                     {"crc32c", no_argument, NULL, 'c'},
	                                     {"src", required_argument, NULL, 's'},
	                                     {"dst", required_argument, NULL, 'd'},
	                                     {"src-unix", required_argument, NULL, O_SRCU},
	                                     {"dst-unix", required_argument, NULL, O_DSTU},
	                                     {"alpn", required_argument, NULL, O_ALPN},
	                                     {"authority", required_argument, NULL, O_AUTH},
	                                     {"unique-id", required_argument, NULL, O_UID},
	                                     {"netns", required_argument, NULL, O_NETNS},
	                                     {"noop", required_argument, NULL, O_NOOP},
	                                     {"tlv", required_argument, NULL, O_TLV},
	                                     {"ssl-client", required_argument, NULL, O_SSLC},
	                                     {"ssl-verify", required_argument, NULL, O_SSLV},
	                                     {"ssl-version", required_argument, NULL, O_SSLVER},
	                                     {"ssl-cn", required_argument, NULL, O_CN},
	                                     {"ssl-cipher", required_argument, NULL, O_CIPHER},
	                                     {"ssl-sig-alg", required_argument, NULL, O_SIG},
	                                     {"ssl-key-alg", required_argument, NULL, O_KEY},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	struct pp_encode_spec spec = {.command = PP_CMD_PROXY};
	struct pp_tlv_spec tlvs[MAX_TLVS];
	uint8_t *owned[MAX_TLVS] = {0};
	struct pp_ssl_spec ssl = {0};
	static const uint8_t zeros[65535] = {0};
	bool v1 = false, unknown = false, dgram = false, want_ssl = false, ok = true;
	int c, rc = 0;

	while (ok && (c = getopt_long(argc, argv, "12lgucs:d:h", opts, NULL)) != -1) {
		struct pp_tlv_spec *t = spec.ntlvs < MAX_TLVS ? &tlvs[spec.ntlvs] : NULL;
		const char *s = optarg;
		bool is_tlv =
		        c == O_ALPN || c == O_AUTH || c == O_UID || c == O_NETNS || c == O_NOOP || c == O_TLV;
		if (is_tlv && !t) {
			fprintf(stderr, "error: at most %d TLVs\n", MAX_TLVS);
			ok = false;
			break;
		}
		switch (c) {
		case '1':
			v1 = true;
			break;
		case '2':
			v1 = false;
			break;
		case 'l':
			spec.command = PP_CMD_LOCAL;
			break;
		case 'g':
			dgram = true;
			break;
		case 'u':
			unknown = true;
			break;
		case 'c':
			spec.crc32c = true;
			break;
		case 's':
			ok = parse_endpoint(s, &spec.src);
			break;
		case 'd':
			ok = parse_endpoint(s, &spec.dst);
			break;
		case O_SRCU:
			ok = parse_unix(s, &spec.src);
			break;
		case O_DSTU:
			ok = parse_unix(s, &spec.dst);
			break;
		case O_ALPN:
			*t = (struct pp_tlv_spec){PP2_TYPE_ALPN, (uint16_t)strlen(s), s};
			break;
		case O_AUTH:
			*t = (struct pp_tlv_spec){PP2_TYPE_AUTHORITY, (uint16_t)strlen(s), s};
			break;
		case O_UID:
			*t = (struct pp_tlv_spec){PP2_TYPE_UNIQUE_ID, (uint16_t)strlen(s), s};
			break;
		case O_NETNS:
			*t = (struct pp_tlv_spec){PP2_TYPE_NETNS, (uint16_t)strlen(s), s};
			break;
		case O_NOOP:
			*t = (struct pp_tlv_spec){PP2_TYPE_NOOP, (uint16_t)atoi(s), zeros};
			break;
		case O_TLV:
			ok = parse_raw_tlv(s, t, &owned[spec.ntlvs]);
			break;
		case O_SSLC:
			ssl.client = (uint8_t)strtoul(s, NULL, 0), want_ssl = true;
			break;
		case O_SSLV:
			ssl.verify = (uint32_t)strtoul(s, NULL, 0), want_ssl = true;
			break;
		case O_SSLVER:
			ssl.version = s, want_ssl = true;
			break;
		case O_CN:
			ssl.cn = s, want_ssl = true;
			break;
		case O_CIPHER:
			ssl.cipher = s, want_ssl = true;
			break;
		case O_SIG:
			ssl.sig_alg = s, want_ssl = true;
			break;
		case O_KEY:
			ssl.key_alg = s, want_ssl = true;
			break;
		case 'h':
			rc = usage(stdout, 0);
			goto out;
		default:
			rc = usage(stderr, 64);
			goto out;
		}
		if (!ok)
			fprintf(stderr, "error: bad value: %s\n", s);
		if (is_tlv && ok)
			spec.ntlvs++;
	}
	if (!ok) {
		rc = 64;
		goto out;
	}
	spec.tlvs = tlvs;
	spec.ssl = want_ssl ? &ssl : NULL;
	switch (spec.src.sa.sa_family) {
	case AF_INET:
		spec.family = PP_FAM_INET;
		break;
	case AF_INET6:
		spec.family = PP_FAM_INET6;
		break;
	case AF_UNIX:
		spec.family = PP_FAM_UNIX;
		break;
	default:
		spec.family = PP_FAM_UNSPEC;
		break;
	}
	if (unknown)
		spec.family = PP_FAM_UNSPEC;
	spec.transport = spec.family == PP_FAM_UNSPEC ? PP_TRANS_UNSPEC
	                 : dgram                      ? PP_TRANS_DGRAM
	                                              : PP_TRANS_STREAM;
	if (spec.family != PP_FAM_UNSPEC && spec.dst.sa.sa_family != spec.src.sa.sa_family) {
		fprintf(stderr, "error: --src and --dst must be of one family (or use --unknown)\n");
		rc = 64;
		goto out;
	}

	static uint8_t out[PP_V2_MAX_LEN];
	long n = v1 ? pp_encode_v1((char *)out, sizeof(out), &spec) : pp_encode_v2(out, sizeof(out), &spec);
	if (n < 0) {
		fprintf(stderr, "error: the header does not fit (v2 at most %u bytes)\n", PP_V2_MAX_LEN);
		rc = 1;
	} else if (fwrite(out, 1, (size_t)n, stdout) != (size_t)n || fflush(stdout) != 0) {
		rc = 1;
	}
out:
	for (int i = 0; i < MAX_TLVS; i++)
		free(owned[i]);
	return rc;
}
