/* One client connection: accept -> peer policy -> PROXY header -> TLS -> protocol session. */
#ifndef ORIGINMAIL_CONN_H
#define ORIGINMAIL_CONN_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "limits/limits.h"
#include "net/origin.h"
#include "net/proto.h"
#include "net/server.h"
#include "policy/policy.h"
#include "util/obuf.h"

enum conn_state {
	CONN_PROXY_WAIT,    /* waiting for the PROXY header */
	CONN_TLS_HANDSHAKE, /* implicit TLS, or after STARTTLS */
	CONN_ACTIVE,        /* the protocol session runs */
	CONN_CLOSING,       /* flushing the last reply, then close */
};

struct om_conn;

struct conn {
	struct server *srv;
	struct generation *gen;
	const struct listener_conf *lc;
	const struct proto_ops *proto;
	int fd;
	uint64_t id;
	enum conn_state state;
	enum peer_verdict verdict;
	struct origin origin;
	struct pp_decoder *pp; /* only while the header is awaited */
	SSL *ssl;
	char tls_info[96];
	void *session;
	struct obuf out;
	char *in; /* received bytes the session has not consumed yet */
	size_t in_len, in_cap;
	uint64_t deadline_ms, started_ms;
	uint64_t bytes_in, bytes_out; /* the session's bytes (inside TLS), for the close line */
	uint64_t accepted_ns; /* CLOCK_MONOTONIC: the PROXY header wait histogram needs better than ms */
	/* The inactivity deadline; deadline_ms is earlier for a polled session (proto.h). */
	uint64_t expire_ms;
	unsigned events;    /* what epoll watches now */
	bool seen_input;    /* the session has had bytes from the peer */
	bool held;          /* in holds input the session left while busy (proto.h): give it back after */
	bool quiet;         /* a health check: its lines are debug lines */
	bool bpf_proto_set; /* the BPF entry already names the protocol, TLS off (om_bpf_set_origin) */
	/* inside-tls: the first bytes were checked to be no PROXY header before the handshake */
	bool tls_checked;
	/* Abuse limits (user/limits/): the origin's share of the counters, checked once its address is
	 * known; a failed login's reply is held (nothing sent, nothing read) until hold_until_ms. */
	struct limits_conn limit;
	bool over_capacity;     /* accepted beyond max_connections: refused once the origin is known */
	bool admitted;          /* the limits were checked */
	unsigned auth_failures; /* the session's failed logins already seen */
	uint64_t hold_until_ms; /* 0: not held */
	struct conn *prev, *next;
};

/* Take an accepted socket; the connection registers itself with epoll, or closes fd on failure. */
void conn_accept(struct server *s, const struct listener *l, int fd);
/* epoll reported events for c. */
void conn_on_events(struct conn *c, uint32_t events);
/* The deadline passed: a silent peer, a PROXY header that never came, a stalled handshake. */
void conn_on_timeout(struct conn *c);
/* The server drains: idle sessions get the protocol's shutdown reply and close. */
void conn_on_drain(struct conn *c);
void conn_close(struct conn *c, const char *why);

#endif
