/* A message as POP3 sends it (RFC 1939 3): CRLF line ends whatever the file has (a bare LF becomes CRLF,
 * as IMAP serves it), a line starting with "." gets another, and ".\r\n" ends it. TOP sends the header
 * block, the blank line and at most n body lines. Works on pieces, so a large message is never held. */
#include <string.h>
#include <unistd.h>

#include "pop3/pop3_internal.h"

void pop3_stuff_init(struct pop3_stuff *st, bool top, uint64_t lines)
{
	*st = (struct pop3_stuff){.bol = true, .header = true, .limit = top, .lines_left = lines};
}

/* A line ended (its LF was written): count it against TOP's limit. */
static void line_end(struct pop3_stuff *st)
{
	bool empty = st->line_octets == 0 || (st->line_octets == 1 && st->cr);

	if (st->header) {
		if (empty) {
			st->header = false;
			if (st->limit && st->lines_left == 0)
				st->done = true;
		}
	} else if (st->limit && --st->lines_left == 0) {
		st->done = true;
	}
	st->bol = true;
	st->line_octets = 0;
}

size_t pop3_stuff(struct pop3_stuff *st, const char *in, size_t len, struct obuf *out)
{
	char buf[8192];
	size_t o = 0, i = 0;

	while (i < len && !st->done) {
		if (o + 3 > sizeof(buf)) { /* room for the most one octet can become */
			obuf_append(out, buf, o);
			o = 0;
		}
		char c = in[i++];
		if (c == '\n') {
			if (!st->cr)
				buf[o++] = '\r';
			buf[o++] = '\n';
			line_end(st);
			st->cr = false;
			continue;
		}
		if (st->bol && c == '.')
			buf[o++] = '.';
		buf[o++] = c;
		st->bol = false;
		st->cr = c == '\r';
		st->line_octets++;
	}
	obuf_append(out, buf, o);
	return i;
}

void pop3_stuff_end(struct pop3_stuff *st, struct obuf *out)
{
	if (!st->bol)
		obuf_puts(out, st->cr ? "\n" : "\r\n");
	obuf_puts(out, ".\r\n");
	st->done = true;
}

bool pop3_crlf_size(int fd, uint64_t *size)
{
	char buf[POP3_READ_CHUNK];
	uint64_t n = 0;
	bool cr = false;

	if (lseek(fd, 0, SEEK_SET) != 0)
		return false;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0)
			return false;
		if (r == 0)
			break;
		n += (uint64_t)r;
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] == '\n' && !cr)
				n++;
			cr = buf[i] == '\r';
		}
	}
	*size = n;
	return true;
}
