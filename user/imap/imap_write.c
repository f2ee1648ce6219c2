/* Writing IMAP data items: every string the server emits goes through imap_put_string, which picks
 * a quoted string when the octets allow one (7-bit, no CR, LF or NUL, not too long) and a literal
 * otherwise. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "imap/imap_internal.h"

#define QUOTED_MAX 1024

void imap_put_literal(struct obuf *out, const char *s, size_t len)
{
	obuf_printf(out, "{%zu}\r\n", len);
	obuf_append(out, s, len);
}

void imap_put_string(struct obuf *out, const char *s, size_t len)
{
	size_t esc = 0;

	if (len > QUOTED_MAX)
		goto lit;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0 || c == '\r' || c == '\n' || c > 0x7f)
			goto lit;
		if (c == '"' || c == '\\')
			esc++;
	}
	if (!esc) {
		obuf_append(out, "\"", 1);
		obuf_append(out, s, len);
		obuf_append(out, "\"", 1);
		return;
	}
	obuf_append(out, "\"", 1);
	for (size_t i = 0, start = 0; i <= len; i++) {
		if (i == len || s[i] == '"' || s[i] == '\\') {
			obuf_append(out, s + start, i - start);
			if (i < len)
				obuf_append(out, s[i] == '"' ? "\\\"" : "\\\\", 2);
			start = i + 1;
		}
	}
	obuf_append(out, "\"", 1);
	return;
lit:
	imap_put_literal(out, s, len);
}

void imap_put_cstr(struct obuf *out, const char *s)
{
	if (s)
		imap_put_string(out, s, strlen(s));
	else
		obuf_puts(out, "NIL");
}

void imap_put_flags(struct obuf *out, unsigned flags, bool recent)
{
	static const struct {
		unsigned flag;
		const char *name;
	} names[] = {
	        {MBOX_ANSWERED, "\\Answered"}, {MBOX_FLAGGED, "\\Flagged"}, {MBOX_DELETED, "\\Deleted"},
	        {MBOX_SEEN, "\\Seen"},         {MBOX_DRAFT, "\\Draft"},
	};
	bool first = true;

	obuf_puts(out, "(");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (flags & names[i].flag) {
			obuf_printf(out, "%s%s", first ? "" : " ", names[i].name);
			first = false;
		}
	}
	if (recent)
		obuf_printf(out, "%s\\Recent", first ? "" : " ");
	obuf_puts(out, ")");
}

void imap_put_date(struct obuf *out, time_t t)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm;

	gmtime_r(&t, &tm);
	obuf_printf(out, "\"%02d-%.3s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday, months + 3 * tm.tm_mon,
	            tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
