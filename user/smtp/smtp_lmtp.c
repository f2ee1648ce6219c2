/* LMTP delivery (RFC 2033 4.2): the message is written once, then each recipient's Maildir gets it or
 * fails on its own, and the client hears one reply per recipient, in RCPT order, so that the front MTA
 * retries or bounces only the recipients that failed. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "smtp/smtp_internal.h"
#include "store/maildir.h"

static void reply_for(struct smtp_session *s, struct obuf *out, const char *rcpt, int err)
{
	char ext[2 * SMTP_ADDR_MAX + 4];
	const char *at = strrchr(rcpt, '@');

	if (!at || smtp_addr_external(rcpt, (size_t)(at - rcpt), ext, sizeof(ext)) == 0)
		snprintf(ext, sizeof(ext), "%s", rcpt);
	if (!err)
		smtp_reply(s, out, "250 2.0.0 <%s> Ok: delivered as %s", ext, s->id);
	else if (maildir_errno_full(err))
		smtp_reply(s, out, "452 4.3.1 <%s> Insufficient system storage, try again later", ext);
	else
		smtp_reply(s, out, "451 4.3.0 <%s> Local delivery failed", ext);
}

void lmtp_commit(struct smtp_session *s, struct obuf *out)
{
	char err[256] = "";
	char **paths = calloc(s->nrcpt ? s->nrcpt : 1, sizeof(*paths));
	int *errs = calloc(s->nrcpt ? s->nrcpt : 1, sizeof(*errs));
	size_t done = 0;

	for (unsigned i = 0; paths && errs && i < s->nrcpt; i++) {
		paths[i] = malloc(PATH_MAX);
		if (!paths[i] || !maildir_path(s->ctx.cfg->mail_root, s->rcpts[i], paths[i], PATH_MAX)) {
			free(paths[i]);
			paths[i] = NULL;
			break;
		}
	}
	bool ready = paths && errs && (s->nrcpt == 0 || paths[s->nrcpt - 1]);
	if (ready) {
		done = maildir_tx_commit_each(s->mtx, (const char *const *)paths, s->nrcpt, errs, err,
		                              sizeof(err));
		s->mtx = NULL;
	}
	for (unsigned i = 0; i < s->nrcpt; i++)
		reply_for(s, out, s->rcpts[i], ready ? errs[i] : ENOMEM);
	if (done) {
		s->errors = 0; /* a client that delivers is not a prober */
		metrics_inc(M_MESSAGES, config_proto_name(PROTO_LMTP));
		metrics_add(M_STORED_BYTES, s->msg_bytes, config_proto_name(PROTO_LMTP));
	}
	if (done == s->nrcpt)
		smtp_event(s, "queued as %s: %u recipient%s, %llu bytes", s->id, s->nrcpt,
		           s->nrcpt == 1 ? "" : "s", (unsigned long long)s->msg_bytes);
	else
		smtp_event(s, "delivered %s to %zu of %u recipients, %llu bytes; failed: %s", s->id, done,
		           s->nrcpt, (unsigned long long)s->msg_bytes, err[0] ? err : "out of memory");
	for (unsigned i = 0; paths && i < s->nrcpt; i++)
		free(paths[i]);
	free(paths);
	free(errs);
}
