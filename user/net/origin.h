/* Who a connection is: the original client, the proxy it came through, and our own end.
 * Every layer that needs "who is this" reads this one struct; log lines format it in one place. */
#ifndef ORIGINMAIL_ORIGIN_H
#define ORIGINMAIL_ORIGIN_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>

#include "originmail/proxy.h"

struct origin {
	union pp_sockaddr peer;           /* who connected to us (the proxy, or the client when direct) */
	union pp_sockaddr local;          /* our end of the connection */
	union pp_sockaddr client;         /* the original client: from the header, else == peer */
	union pp_sockaddr dst;            /* the address the client connected to (the proxy's frontend) */
	bool via_proxy;                   /* a PROXY header named the client */
	uint64_t cookie;                  /* SO_COOKIE, the key of the BPF connection map */
	char client_ip[INET6_ADDRSTRLEN]; /* IPv4-mapped shown as IPv4 */
	char peer_ip[INET6_ADDRSTRLEN];
	uint16_t client_port, peer_port;
	char unique_id[PP_V2_UNIQUE_ID_MAX + 1]; /* HAProxy's unique-id TLV, printable, or "" */
	bool unix_peer;    /* connected to our UNIX socket listener: its text is unix:uid=N */
	unsigned unix_uid; /* its uid (SO_PEERCRED) */
};

/* Fill the text fields from the sockaddrs. */
void origin_update_text(struct origin *o);

#endif
