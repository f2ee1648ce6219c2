/* originctl proxy-decode: raw bytes in, the decoded PROXY header out as one JSON object. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "originctl.h"
#include "originmail/proxy.h"

static void print_addr(struct json *j, const char *key, const union pp_sockaddr *a)
{
	char buf[128];

	if (a->sa.sa_family == AF_UNSPEC)
		return;
	json_begin_object(j, key);
	json_cstr(j, "address", pp_sockaddr_ntop(a, buf, sizeof(buf)));
	if (a->sa.sa_family != AF_UNIX)
		json_int(j, "port", pp_sockaddr_port(a));
	json_end_object(j);
}

static void print_bytes(struct json *j, const char *key, struct pp_bytes b)
{
	if (b.data)
		json_str(j, key, b.data, b.len);
}

static void print_ssl(struct json *j, const struct pp_ssl *s)
{
	json_begin_object(j, "ssl");
	json_int(j, "client", s->client);
	json_bool(j, "client_ssl", s->client & PP2_CLIENT_SSL);
	json_bool(j, "client_cert_conn", s->client & PP2_CLIENT_CERT_CONN);
	json_bool(j, "client_cert_sess", s->client & PP2_CLIENT_CERT_SESS);
	json_int(j, "verify", s->verify);
	print_bytes(j, "version", s->version);
	print_bytes(j, "cn", s->cn);
	print_bytes(j, "cipher", s->cipher);
	print_bytes(j, "sig_alg", s->sig_alg);
	print_bytes(j, "key_alg", s->key_alg);
	json_end_object(j);
}

static void print_tlvs(struct json *j, const struct pp_header *h)
{
	struct pp_tlv t;
	size_t off = 0;
	int noops = 0;

	json_begin_object(j, "tlvs");
	print_bytes(j, "alpn", h->alpn);
	print_bytes(j, "authority", h->authority);
	print_bytes(j, "unique_id", h->unique_id);
	print_bytes(j, "netns", h->netns);
	json_cstr(j, "crc32c", h->has_crc32c ? "verified" : "absent");
	if (h->ssl.present)
		print_ssl(j, &h->ssl);
	json_begin_array(j, "unknown");
	while (pp_tlv_next(h, &off, &t)) {
		if (t.type == PP2_TYPE_NOOP)
			noops++;
		if (pp_tlv_name(t.type))
			continue;
		json_begin_object(j, NULL);
		json_int(j, "type", t.type);
		json_hex(j, "hex", t.value.data, t.value.len);
		json_end_object(j);
	}
	json_end_array(j);
	if (noops)
		json_int(j, "noop", noops);
	json_end_object(j);
}

static void print_header(const struct pp_header *h, size_t trailing)
{
	struct json j = {.out = stdout};

	json_begin_object(&j, NULL);
	json_int(&j, "version", h->version);
	json_cstr(&j, "command", pp_command_name(h->command));
	json_cstr(&j, "family", pp_family_name(h->family));
	json_cstr(&j, "transport", pp_transport_name(h->transport));
	print_addr(&j, "src", &h->src);
	print_addr(&j, "dst", &h->dst);
	json_int(&j, "header_len", (long long)h->header_len);
	json_int(&j, "trailing_bytes", (long long)trailing);
	if (h->version == 2)
		print_tlvs(&j, h);
	json_end_object(&j);
	fputc('\n', stdout);
}

/* Read all of f (at most cap bytes); returns the length or -1. */
static long read_all(FILE *f, uint8_t *buf, size_t cap)
{
	size_t n = 0, r;

	while (n < cap && (r = fread(buf + n, 1, cap - n, f)) > 0)
		n += r;
	return ferror(f) ? -1 : (long)n;
}

static int usage(FILE *f, int rc)
{
	fprintf(f,
	        "usage: originctl proxy-decode [--v1-only|--v2-only] [--max-header N] [FILE]\n"
	        "Decodes the PROXY header at the start of FILE (stdin without FILE) and prints it as JSON.\n"
	        "Exit: 0 decoded, 1 invalid header, 2 truncated header, 64 usage.\n");
	return rc;
}

int cmd_proxy_decode(int argc, char **argv)
{
	static const struct option opts[] = {{"v1-only", no_argument, NULL, '1'},
	                                     {"v2-only", no_argument, NULL, '2'},
	                                     {"max-header", required_argument, NULL, 'm'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	struct pp_options o = {0};
	int c;

	while ((c = getopt_long(argc, argv, "12m:h", opts, NULL)) != -1) {
		switch (c) {
		case '1':
			o.accept = PP_ACCEPT_V1;
			break;
		case '2':
			o.accept = PP_ACCEPT_V2;
			break;
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < PP_V2_FIXED_LEN || v > PP_V2_MAX_LEN) {
				fprintf(stderr, "error: --max-header must be %u..%u\n", PP_V2_FIXED_LEN,
				        PP_V2_MAX_LEN);
				return 64;
			}
			o.max_header = v;
			break;
		}
		case 'h':
			return usage(stdout, 0);
		default:
			return usage(stderr, 64);
		}
	}
	if (argc - optind > 1)
		return usage(stderr, 64);

	FILE *f = optind < argc ? fopen(argv[optind], "rb") : stdin;
	if (!f) {
		fprintf(stderr, "error: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	size_t cap = PP_V2_MAX_LEN + 65536;
	uint8_t *buf = malloc(cap);
	long len = buf ? read_all(f, buf, cap) : -1;
	if (f != stdin)
		fclose(f);
	if (len < 0) {
		fprintf(stderr, "error: cannot read input\n");
		free(buf);
		return 1;
	}

	/* Feed in small pieces, as a socket would deliver them. */
	struct pp_decoder d;
	enum pp_status st = PP_NEED_MORE;
	size_t off = 0, used;
	pp_decoder_init(&d, &o);
	while (st == PP_NEED_MORE && off < (size_t)len) {
		size_t chunk = (size_t)len - off < 1460 ? (size_t)len - off : 1460;
		st = pp_decoder_feed(&d, buf + off, chunk, &used);
		off += used;
	}
	int rc = 0;
	if (st == PP_DONE) {
		print_header(pp_decoder_header(&d), (size_t)len - off);
	} else if (st == PP_ERROR) {
		fprintf(stderr, "error: %s\n", pp_strerror(pp_decoder_error(&d)));
		rc = 1;
	} else {
		fprintf(stderr, "error: truncated PROXY header (%ld bytes, header incomplete)\n", len);
		rc = 2;
	}
	pp_decoder_free(&d);
	free(buf);
	return rc;
}
