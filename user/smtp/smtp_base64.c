/* Base64 (RFC 4648 section 4) for SMTP AUTH: a strict decoder, since a client's response is untrusted,
 * and the encoder the tests use. */
#include "smtp/smtp_parse.h"

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long smtp_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
	size_t o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		size_t pad = 0;
		for (size_t k = 0; k < 4; k++) {
			char c = in[i + k];
			if (c == '=' && i + 4 == len && k >= 2) {
				/* '=' only at the end: "xx==" or "xxx=" */
				if (k == 2 && in[i + 3] != '=')
					return -1;
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return -1;
			v[k] = b64val(c);
			if (v[k] < 0)
				return -1;
		}
		unsigned long w = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) |
		                  ((unsigned long)v[2] << 6) | (unsigned long)v[3];
		size_t n = 3 - pad;
		if (o + n > cap)
			return -1;
		out[o++] = (unsigned char)(w >> 16);
		if (n > 1)
			out[o++] = (unsigned char)(w >> 8);
		if (n > 2)
			out[o++] = (unsigned char)w;
	}
	return (long)o;
}

size_t smtp_b64_encode(const unsigned char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	if (cap < 4 * ((len + 2) / 3) + 1)
		return 0;
	for (size_t i = 0; i < len; i += 3) {
		unsigned long w = (unsigned long)in[i] << 16;
		if (i + 1 < len)
			w |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < len)
			w |= in[i + 2];
		out[o++] = b64chars[(w >> 18) & 63];
		out[o++] = b64chars[(w >> 12) & 63];
		out[o++] = i + 1 < len ? b64chars[(w >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64chars[w & 63] : '=';
	}
	out[o] = '\0';
	return o;
}
