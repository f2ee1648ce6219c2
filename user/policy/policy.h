/* The per-listener decision about a peer, before any byte is read: the userspace twin of the BPF verdict. */
#ifndef ORIGINMAIL_POLICY_H
#define ORIGINMAIL_POLICY_H

#include <sys/socket.h>

#include "conf/config.h"

enum peer_verdict {
	VERDICT_DENIED,         /* neither a trusted proxy nor allowed direct: refuse with a reason */
	VERDICT_DIRECT,         /* served directly; a PROXY header from it is refused */
	VERDICT_PROXY_REQUIRED, /* a trusted proxy: its header must arrive within proxy_timeout */
	VERDICT_PROXY_OPTIONAL, /* a trusted proxy that may also connect without a header */
};

/* proxy = off: everyone DIRECT, headers refused.
 * proxy = required: trusted and direct_allowed -> OPTIONAL; trusted -> REQUIRED; direct_allowed -> DIRECT;
 *                   others DENIED.
 * proxy = optional: trusted -> OPTIONAL; everyone else -> DIRECT. */
enum peer_verdict policy_classify(const struct listener_conf *lc, const struct sockaddr *peer);
const char *policy_verdict_name(enum peer_verdict v);

#endif
