/* The text forms of an origin's addresses, for replies, headers and log lines. */
#include "net/origin.h"

#include <stdio.h>

static void fill(const struct origin *o, const union pp_sockaddr *a, char *ip, size_t cap, uint16_t *port)
{
	*port = 0;
	if (o->unix_peer) { /* a local process on our UNIX listener, named by its uid */
		snprintf(ip, cap, "unix:uid=%u", o->unix_uid);
		return;
	}
	pp_sockaddr_ntop(a, ip, cap); /* IPv4-mapped IPv6 comes out as IPv4 */
	if (ip[0] == '\0')
		snprintf(ip, cap, "unknown");
	/* A UNIX socket path (PROXY v2 AF_UNIX) is arbitrary bytes: these strings go into SMTP replies,
	 * Received headers and log lines, so nothing in them may end or break a line. */
	for (char *c = ip; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == 127)
			*c = '?';
	}
	*port = pp_sockaddr_port(a);
}

void origin_update_text(struct origin *o)
{
	fill(o, &o->client, o->client_ip, sizeof(o->client_ip), &o->client_port);
	fill(o, &o->peer, o->peer_ip, sizeof(o->peer_ip), &o->peer_port);
}
