/* The per-listener peer verdict (policy.h has the table; docs/configuration.md explains it). */
#include "policy/policy.h"

enum peer_verdict policy_classify(const struct listener_conf *lc, const struct sockaddr *peer)
{
	if (!lc)
		return VERDICT_DENIED;

	switch (lc->proxy) {
	case PROXY_OFF:
		return VERDICT_DIRECT;
	case PROXY_OPTIONAL:
		return cidr_set_match(&lc->trusted, peer) ? VERDICT_PROXY_OPTIONAL : VERDICT_DIRECT;
	case PROXY_REQUIRED: {
		bool trusted = cidr_set_match(&lc->trusted, peer);
		bool direct = cidr_set_match(&lc->direct, peer);
		if (trusted && direct)
			return VERDICT_PROXY_OPTIONAL;
		if (trusted)
			return VERDICT_PROXY_REQUIRED;
		if (direct)
			return VERDICT_DIRECT;
		return VERDICT_DENIED;
	}
	}
	return VERDICT_DENIED; /* a mode outside the enum: fail closed */
}

const char *policy_verdict_name(enum peer_verdict v)
{
	switch (v) {
	case VERDICT_DENIED:
		return "denied";
	case VERDICT_DIRECT:
		return "direct";
	case VERDICT_PROXY_REQUIRED:
		return "proxy-required";
	case VERDICT_PROXY_OPTIONAL:
		return "proxy-optional";
	}
	return "unknown";
}
