/* Value syntax of the configuration file: durations, sizes, booleans, lists, addresses, names. */
#include <arpa/inet.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/config.h"
#include "conf/config_internal.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Leading decimal digits of s into *v (at most max); *end is the first non-digit. */
static bool parse_digits(const char *s, unsigned long long max, unsigned long long *v, const char **end)
{
	unsigned long long n = 0;

	if (!is_digit(*s))
		return false;
	for (; is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (d > max || n > (max - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*v = n;
	*end = s;
	return true;
}

bool config_parse_duration(const char *s, unsigned *ms)
{
	unsigned long long v, mult;
	const char *unit;

	if (!s || !ms || !parse_digits(s, UINT_MAX, &v, &unit))
		return false;
	if (*unit == '\0' || !strcasecmp(unit, "s"))
		mult = 1000;
	else if (!strcasecmp(unit, "ms"))
		mult = 1;
	else if (!strcasecmp(unit, "m"))
		mult = 60 * 1000;
	else if (!strcasecmp(unit, "h"))
		mult = 60 * 60 * 1000;
	else
		return false;
	if (v > UINT_MAX / mult)
		return false;
	*ms = (unsigned)(v * mult);
	return true;
}

bool conf_parse_days(const char *s, unsigned *ms)
{
	unsigned long long v;
	const char *unit;

	if (!s || !ms)
		return false;
	if (parse_digits(s, UINT_MAX, &v, &unit) && (!strcmp(unit, "d") || !strcmp(unit, "D"))) {
		if (v > UINT_MAX / (24ull * 3600 * 1000))
			return false;
		*ms = (unsigned)(v * 24 * 3600 * 1000);
		return true;
	}
	return config_parse_duration(s, ms);
}

bool config_parse_rate(const char *s, unsigned max_count, struct conf_rate *r)
{
	unsigned long long n;
	const char *slash;
	unsigned ms;

	if (!s || !r || !parse_digits(s, max_count, &n, &slash))
		return false;
	if (n == 0 && *slash == '\0') {
		r->count = r->window_ms = 0;
		return true;
	}
	if (n == 0 || *slash != '/' || !conf_parse_days(slash + 1, &ms) || ms < 1000 ||
	    ms > 24u * 3600 * 1000)
		return false;
	r->count = (unsigned)n;
	r->window_ms = ms;
	return true;
}

bool config_parse_size(const char *s, size_t *bytes)
{
	unsigned long long v, mult;
	const char *unit;

	if (!s || !bytes || !parse_digits(s, SIZE_MAX, &v, &unit))
		return false;
	if (*unit == '\0')
		mult = 1;
	else if (!strcasecmp(unit, "k"))
		mult = 1024;
	else if (!strcasecmp(unit, "m"))
		mult = 1024 * 1024;
	else if (!strcasecmp(unit, "g"))
		mult = 1024 * 1024 * 1024;
	else
		return false;
	if (v > SIZE_MAX / mult)
		return false;
	*bytes = (size_t)(v * mult);
	return true;
}

bool conf_parse_number(const char *s, unsigned long long max, unsigned long long *out)
{
	const char *end;
	unsigned long long v;

	if (!parse_digits(s, max, &v, &end) || *end != '\0')
		return false;
	*out = v;
	return true;
}

bool conf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on"}, *const no[] = {"no", "false", "off"};

	for (size_t i = 0; i < 3; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return true;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool is_list_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

const char *conf_next_item(const char **cursor, size_t *len)
{
	const char *p = *cursor, *start;

	while (is_list_sep(*p))
		p++;
	if (!*p) {
		*cursor = p;
		return NULL;
	}
	start = p;
	while (*p && !is_list_sep(*p))
		p++;
	*len = (size_t)(p - start);
	*cursor = p;
	return start;
}

/* Decimal 1..65535. */
static bool parse_port(const char *s, uint16_t *port)
{
	unsigned long long v;

	if (!conf_parse_number(s, 65535, &v) || v == 0)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* Split "HOST:PORT" or "[HOST]:PORT" (in place) into host and port text; *bracketed says which. */
static bool split_hostport(char *buf, char **host, char **port, bool *bracketed)
{
	char *colon;

	*bracketed = buf[0] == '[';
	if (*bracketed) {
		char *close = strchr(buf, ']');
		if (!close || close[1] != ':')
			return false;
		*close = '\0';
		*host = buf + 1;
		*port = close + 2;
		return true;
	}
	colon = strrchr(buf, ':');
	if (!colon || strchr(buf, ':') != colon) /* none, or an IPv6 address without brackets */
		return false;
	*colon = '\0';
	*host = buf;
	*port = colon + 1;
	return true;
}

bool conf_parse_listen_addr(const char *item, size_t len, union pp_sockaddr *out)
{
	char buf[INET6_ADDRSTRLEN + 16], *host, *port;
	bool bracketed;
	uint16_t pnum;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, item, len);
	buf[len] = '\0';
	if (!split_hostport(buf, &host, &port, &bracketed) || !parse_port(port, &pnum))
		return false;
	memset(out, 0, sizeof(*out));
	if (bracketed) {
		if (inet_pton(AF_INET6, host, &out->in6.sin6_addr) != 1)
			return false;
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(pnum);
		return true;
	}
	if (inet_pton(AF_INET, host, &out->in.sin_addr) != 1)
		return false;
	out->in.sin_family = AF_INET;
	out->in.sin_port = htons(pnum);
	return true;
}

bool conf_parse_mode(const char *s, unsigned *mode)
{
	unsigned v = 0;

	if (!*s || strlen(s) > 4)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '7')
			return false;
		v = v * 8 + (unsigned)(*s - '0');
	}
	if (v > 0777)
		return false;
	*mode = v;
	return true;
}

bool config_listener_unix(const struct listener_conf *lc)
{
	return lc->naddrs == 1 && lc->addrs[0].sa.sa_family == AF_UNIX;
}

bool conf_valid_hostport(const char *s)
{
	char buf[300], *host, *port;
	bool bracketed;
	uint16_t pnum;
	struct in6_addr a6;

	size_t n = strlen(s);

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n + 1);
	if (!split_hostport(buf, &host, &port, &bracketed) || !parse_port(port, &pnum))
		return false;
	if (bracketed)
		return inet_pton(AF_INET6, host, &a6) == 1;
	return conf_valid_hostname(host, strlen(host));
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool conf_valid_hostname(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

bool conf_valid_username(const char *s)
{
	size_t n = strlen(s);

	if (n > 32 || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	}
	return true;
}

/* The length of path without its trailing slashes (at least 1 for "/"). */
static size_t trimmed_len(const char *path)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	return n;
}

char *conf_sibling_path(const char *path, const char *name)
{
	size_t n = trimmed_len(path), nl = strlen(name);
	char *out;

	while (n > 0 && path[n - 1] != '/')
		n--; /* n: the length of the directory part with its '/' (0: a bare relative name) */
	if (!(out = malloc(n + nl + 1)))
		return NULL;
	memcpy(out, path, n);
	memcpy(out + n, name, nl + 1);
	return out;
}

bool conf_path_within(const char *path, const char *dir)
{
	size_t pl = trimmed_len(path), dl = trimmed_len(dir);

	if (pl < dl || strncmp(path, dir, dl) != 0)
		return false;
	return pl == dl || path[dl] == '/' || (dl == 1 && dir[0] == '/');
}

bool config_is_local_domain(const struct config *c, const char *domain, size_t len)
{
	if (!c || !domain)
		return false;
	for (size_t i = 0; i < c->ndomains; i++) {
		if (strlen(c->domains[i]) == len && !strncasecmp(c->domains[i], domain, len))
			return true;
	}
	return false;
}

const char *config_proto_name(enum listener_proto p)
{
	switch (p) {
	case PROTO_SMTP:
		return "smtp";
	case PROTO_SUBMISSION:
		return "submission";
	case PROTO_IMAP:
		return "imap";
	case PROTO_POP3:
		return "pop3";
	case PROTO_LMTP:
		return "lmtp";
	}
	return "unknown";
}

const char *config_tls_name(enum tls_mode t)
{
	switch (t) {
	case TLS_NONE:
		return "none";
	case TLS_STARTTLS:
		return "starttls";
	case TLS_IMPLICIT:
		return "implicit";
	}
	return "unknown";
}

const char *config_proxy_mode_name(enum proxy_mode m)
{
	switch (m) {
	case PROXY_REQUIRED:
		return "required";
	case PROXY_OPTIONAL:
		return "optional";
	case PROXY_OFF:
		return "off";
	}
	return "unknown";
}
