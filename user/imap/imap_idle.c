/* IDLE (RFC 2177): "+ idling", then untagged updates as the folder changes (found by the connection
 * layer's periodic poll), until DONE. After IMAP_IDLE_MAX_S the poll stops keeping the connection
 * alive and the normal inactivity timeout ends it; "* OK Still here" every IMAP_IDLE_ALIVE_S keeps
 * middleboxes from dropping a quiet connection and shows a dead one. */
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "imap/imap_internal.h"

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void imap_cmd_idle(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                   bool uid)
{
	(void)uid;
	if (!ip_eol(ps)) {
		imap_bad(s, out, tag, ps);
		return;
	}
	snprintf(s->tag, sizeof(s->tag), "%s", tag);
	imap_sync(s, out, true);
	if (s->mode == M_CLOSED)
		return;
	s->mode = M_IDLE;
	s->idle_since = s->idle_alive = mono_now();
	obuf_puts(out, "+ idling\r\n");
}

void imap_idle_line(struct imap_session *s, const char *line, size_t len, struct obuf *out)
{
	s->mode = M_CMD;
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0) {
		imap_tagged(s, out, s->tag, "OK Idle completed");
	} else {
		s->errors++;
		imap_tagged(s, out, s->tag, "BAD Expected DONE");
	}
}

bool imap_idle_poll(struct imap_session *s, struct obuf *out)
{
	if (s->mode != M_IDLE)
		return false;
	time_t now = mono_now();
	imap_sync(s, out, true);
	if (s->mode != M_IDLE)
		return false;
	if (now - s->idle_alive >= IMAP_IDLE_ALIVE_S) {
		obuf_puts(out, "* OK Still here\r\n");
		s->idle_alive = now;
	}
	return now - s->idle_since < IMAP_IDLE_MAX_S;
}
