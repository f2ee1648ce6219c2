/* APPEND (RFC 3501 6.3.11) with UIDPLUS's APPENDUID (RFC 4315). The literal's size was checked
 * against max_message_size while it arrived (imap_reader.c); bare LFs are stored as CRLF. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "imap/imap_internal.h"
#include "imap/imap_msg.h"
#include "metrics/metrics.h"
#include "store/folders.h"
#include "store/maildir.h"

void imap_cmd_append(struct imap_session *s, const char *tag, struct imap_parser *ps, struct obuf *out,
                     bool uid)
{
	char name[IMAP_NAME_MAX], path[PATH_MAX], err[256];
	unsigned flags = 0;
	time_t date = 0;
	struct imap_str msg;

	(void)uid;
	if (!ip_sp(ps) || !ip_mailbox(ps, name, sizeof(name)) || !ip_sp(ps))
		goto bad;
	if (ip_peek(ps, '(') && (!imap_parse_flags(ps, &flags, true) || !ip_sp(ps)))
		goto bad;
	if (ip_peek(ps, '"') && (!ip_datetime(ps, &date) || !ip_sp(ps)))
		goto bad;
	if (!ip_string(ps, &msg) || !ip_eol(ps))
		goto bad;
	if (!imap_folder_path(s, out, tag, name, path, sizeof(path)))
		return;
	if (!folder_exists(s->root, name)) {
		imap_tagged(s, out, tag, "NO [TRYCREATE] Mailbox does not exist");
		return;
	}
	size_t len;
	char *data = imap_crlf(msg.p, msg.len, &len);
	struct mbox *m = data ? mbox_open(path, false, err, sizeof(err)) : NULL;
	uint32_t new_uid = 0, validity = 0;
	bool ok = m && mbox_append(m, data, len, flags, date, &new_uid, &validity, err, sizeof(err));
	bool full = !ok && m && maildir_errno_full(errno);
	mbox_close(m);
	if (ok) {
		metrics_inc(M_MESSAGES, "imap");
		metrics_add(M_STORED_BYTES, len, "imap");
	}
	if (!ok)
		imap_event(s, "append to %s: %s", name, data ? err : "out of memory");
	free(data);
	if (full) {
		imap_tagged(s, out, tag, "NO [OVERQUOTA] Not enough storage space, try again later");
		return;
	}
	if (!ok) {
		imap_tagged(s, out, tag, "NO [SERVERBUG] Cannot save the message");
		return;
	}
	imap_tagged(s, out, tag, "OK [APPENDUID %u %u] Append completed", validity, new_uid);
	return;
bad:
	imap_bad(s, out, tag, ps);
}
