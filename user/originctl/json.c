/* JSON writer: keys and commas in one place so each subcommand only says what it prints. */
#include "json.h"

#include <math.h>
#include <string.h>

static void key(struct json *j, const char *k)
{
	if (j->need_comma)
		fputc(',', j->out);
	j->need_comma = true;
	if (k)
		fprintf(j->out, "\"%s\":", k);
}

void json_begin_object(struct json *j, const char *k)
{
	key(j, k);
	fputc('{', j->out);
	j->need_comma = false;
}

void json_end_object(struct json *j)
{
	fputc('}', j->out);
	j->need_comma = true;
}

void json_begin_array(struct json *j, const char *k)
{
	key(j, k);
	fputc('[', j->out);
	j->need_comma = false;
}

void json_end_array(struct json *j)
{
	fputc(']', j->out);
	j->need_comma = true;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if the bytes there are not one. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	size_t n;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		n = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, out of range or a surrogate */
	return n;
}

void json_str(struct json *j, const char *k, const void *s, size_t len)
{
	const unsigned char *p = s;

	key(j, k);
	fputc('"', j->out);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(p + i, len - i);
		if (n == 0) {
			fputs("\\ufffd", j->out); /* not UTF-8: the replacement character */
			i++;
		} else if (n > 1) {
			fwrite(p + i, 1, n, j->out);
			i += n;
		} else {
			unsigned char c = p[i++];
			if (c == '"' || c == '\\')
				fprintf(j->out, "\\%c", c);
			else if (c < 0x20 || c == 0x7f)
				fprintf(j->out, "\\u%04x", c);
			else
				fputc(c, j->out);
		}
	}
	fputc('"', j->out);
}

void json_cstr(struct json *j, const char *k, const char *s)
{
	json_str(j, k, s, strlen(s));
}

void json_int(struct json *j, const char *k, long long v)
{
	key(j, k);
	fprintf(j->out, "%lld", v);
}

void json_bool(struct json *j, const char *k, bool v)
{
	key(j, k);
	fputs(v ? "true" : "false", j->out);
}

void json_hex(struct json *j, const char *k, const void *s, size_t len)
{
	const unsigned char *p = s;

	key(j, k);
	fputc('"', j->out);
	for (size_t i = 0; i < len; i++)
		fprintf(j->out, "%02x", p[i]);
	fputc('"', j->out);
}

/* A number; JSON has no NaN or infinities: those are written as null. */
void json_double(struct json *j, const char *k, double v)
{
	key(j, k);
	if (isnan(v) || isinf(v))
		fputs("null", j->out);
	else
		fprintf(j->out, "%.17g", v);
}
