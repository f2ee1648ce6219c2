/* RETR and TOP: the message file is read and sent a piece at a time while the client reads
 * (output_buffer), so a large message is never held in memory; commands after it wait. RETR marks the
 * message \Seen (new/ -> cur/), as an IMAP FETCH of its body does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pop3/pop3_internal.h"

static size_t output_limit(const struct pop3_session *s)
{
	return s->ctx.cfg->output_buffer ? s->ctx.cfg->output_buffer : POP3_OUTPUT_DEFAULT;
}

void pop3_send_drop(struct pop3_session *s)
{
	if (s->send_fd >= 0)
		close(s->send_fd);
	s->send_fd = -1;
}

void pop3_send_resume(struct pop3_session *s, struct obuf *out)
{
	char buf[POP3_READ_CHUNK];

	while (s->send_fd >= 0 && out->len < output_limit(s) && !out->oom) {
		ssize_t n = s->stuff.done ? 0 : read(s->send_fd, buf, sizeof(buf));
		if (n < 0) {
			/* +OK went out already: the only honest end is to close (RFC 1939 has no abort). */
			pop3_event(s, "read error while sending a message: %s", strerror(errno));
			pop3_send_drop(s);
			s->mode = PM_CLOSED;
			s->state = PS_DONE;
			pop3_maildrop_close(s);
			return;
		}
		if (n == 0) {
			pop3_stuff_end(&s->stuff, out);
			pop3_send_drop(s);
			return;
		}
		pop3_stuff(&s->stuff, buf, (size_t)n, out);
	}
}

/* Open the message (marked \Seen for RETR) and start sending it after "+OK". */
static void start(struct pop3_session *s, struct pop3_msg *pm, bool top, uint64_t lines, struct obuf *out)
{
	char err[256];
	struct mbox_msg *m = mbox_find(s->mb, pm->uid);

	if (m && !top && !(m->flags & MBOX_SEEN) && mbox_lock(s->mb, err, sizeof(err))) {
		(void)mbox_set_flags(s->mb, m, MBOX_SEEN, 0); /* a failure here is the file gone: below */
		mbox_unlock(s->mb);
	}
	int fd = m ? mbox_msg_open(s->mb, m) : -1;
	if (fd < 0) {
		obuf_puts(out, "-ERR Message was removed by another session\r\n");
		return;
	}
	s->send_fd = fd;
	pop3_stuff_init(&s->stuff, top, lines);
	if (top)
		obuf_puts(out, "+OK Top of message follows\r\n");
	else
		obuf_printf(out, "+OK %llu octets\r\n", (unsigned long long)pm->size);
	pop3_send_resume(s, out);
}

void pop3_cmd_retr(struct pop3_session *s, const char *arg, struct obuf *out)
{
	struct pop3_msg *m = pop3_msg_arg(s, arg, out);

	if (m)
		start(s, m, false, 0, out);
}

/* TOP msg n: the header, the blank line, then n lines of the body. */
void pop3_cmd_top(struct pop3_session *s, const char *arg, struct obuf *out)
{
	const char *sp = arg ? strchr(arg, ' ') : NULL;
	char msg[24], *end;

	if (!sp || sp[1] < '0' || sp[1] > '9' || (size_t)(sp - arg) >= sizeof(msg)) {
		pop3_err(s, out, "TOP needs a message number and a line count");
		return;
	}
	memcpy(msg, arg, (size_t)(sp - arg));
	msg[sp - arg] = '\0';
	errno = 0;
	unsigned long long lines = strtoull(sp + 1, &end, 10);
	if (errno || *end) {
		pop3_err(s, out, "Invalid line count");
		return;
	}
	struct pop3_msg *m = pop3_msg_arg(s, msg, out);
	if (m)
		start(s, m, true, lines, out);
}
