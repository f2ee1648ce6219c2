/* Abuse limits by the original client's address (the one the PROXY header names): open connections and
 * new connections per origin, failed logins per origin (each failure's reply delayed, growing; refusal at
 * the maximum). The counters are the origin table (limit_table.h): the pinned BPF maps when BPF is on,
 * shared by every instance on the host; a table of this process's own otherwise. docs/bpf.md. */
#ifndef ORIGINMAIL_LIMITS_H
#define ORIGINMAIL_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "limits/limit_table.h"
#include "originmail/proxy.h"

struct limits;
struct om_bpf;

/* A connection's share of the counters. */
struct limits_conn {
	struct limit_ref ref;
	bool admitted; /* limits_admit said yes: limits_release gives it back */
};

/* At start, after the BPF side (bpf may be NULL), before the privilege drop: the shared table when bpf
 * has it, else a table of our own. Logs which one. NULL only when memory is short. */
struct limits *limits_open(const struct config *cfg, struct om_bpf *bpf);
void limits_close(struct limits *l);
/* After SIGHUP: record the limits in force (they apply to each connection from its configuration). */
void limits_configure(struct limits *l, const struct config *cfg);
/* Is the table shared with the other instances on the host? */
bool limits_shared(const struct limits *l);

/* May a connection from origin be served? true, or false with the reason for the refusal line in why.
 * Origins in origin_exempt are never counted. */
bool limits_admit(struct limits *l, const struct config *cfg, const union pp_sockaddr *origin,
                  struct limits_conn *lc, char *why, size_t cap);
void limits_release(struct limits *l, struct limits_conn *lc);
/* A failed login from origin: how long (ms) its reply waits; *locked when the origin has reached
 * origin_auth_failures and the session is to end. */
unsigned limits_auth_failed(struct limits *l, const struct config *cfg, const union pp_sockaddr *origin,
                            bool *locked);

/* Pure helpers, unit-tested. */
/* The table's key for an address: IPv4 as ::ffff:a.b.c.d, IPv6 cut to prefix bits. false for others. */
bool limits_key(const union pp_sockaddr *a, unsigned v6_prefix, uint8_t key[16]);
void limits_params(const struct config *cfg, struct limit_params *p);
/* The delay for the n-th recent failure: origin_auth_delay doubled n - 1 times, at most the max. */
unsigned limits_delay_ms(const struct config *cfg, uint32_t n);

#endif
