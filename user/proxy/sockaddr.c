/* Address helpers: text to sockaddr and back, with IPv4-mapped IPv6 shown as the IPv4 it is. */
#include <arpa/inet.h>
#include <string.h>

#include "originmail/proxy.h"

bool pp_sockaddr_parse(union pp_sockaddr *out, const char *addr, uint16_t port)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, &out->in.sin_addr) == 1) {
		out->in.sin_family = AF_INET;
		out->in.sin_port = htons(port);
		return true;
	}
	if (inet_pton(AF_INET6, addr, &out->in6.sin6_addr) == 1) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(port);
		return true;
	}
	return false;
}

void pp_sockaddr_unmap(union pp_sockaddr *a)
{
	if (a->sa.sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr))
		return;
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = a->in6.sin6_port};
	memcpy(&v4.sin_addr, &a->in6.sin6_addr.s6_addr[12], 4);
	memset(a, 0, sizeof(*a));
	a->in = v4;
}

const char *pp_sockaddr_ntop(const union pp_sockaddr *a, char *buf, size_t cap)
{
	union pp_sockaddr u = *a;

	pp_sockaddr_unmap(&u);
	switch (u.sa.sa_family) {
	case AF_INET:
		if (!inet_ntop(AF_INET, &u.in.sin_addr, buf, (socklen_t)cap))
			break;
		return buf;
	case AF_INET6:
		if (!inet_ntop(AF_INET6, &u.in6.sin6_addr, buf, (socklen_t)cap))
			break;
		return buf;
	case AF_UNIX:
		if (cap > 0) {
			size_t n = strnlen(u.un.sun_path, sizeof(u.un.sun_path));
			n = n < cap - 1 ? n : cap - 1;
			memcpy(buf, u.un.sun_path, n);
			buf[n] = '\0';
		}
		return buf;
	default:
		break;
	}
	if (cap > 0)
		buf[0] = '\0';
	return buf;
}

uint16_t pp_sockaddr_port(const union pp_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET)
		return ntohs(a->in.sin_port);
	if (a->sa.sa_family == AF_INET6)
		return ntohs(a->in6.sin6_port);
	return 0;
}
