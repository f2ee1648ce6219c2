/* The configuration file parser. The format, every key and its default: docs/configuration.md.
 * One pass over the lines; global keys first, then [listener NAME] sections. Each section is checked as
 * a whole when it ends (address, protocol, TLS files, proxy policy). Nothing but the file itself is read:
 * whether the paths it names exist is the daemon's business at startup. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/config.h"
#include "conf/config_internal.h"
#include "store/mailbox.h"

#define DEFAULT_MAIL_ROOT   "/var/lib/originmail/mail"
#define DEFAULT_PASSWD_FILE "/etc/originmail/passwd"
#define LISTENER_NAME_MAX   64

struct parser {
	struct config *c;
	const char *name; /* for messages */
	char *base;       /* the directory relative paths resolve against; NULL: as given */
	char *err;
	size_t errlen;
	unsigned line;    /* the line being parsed; 0 for file-level messages */
	bool in_listener; /* past the first [listener] line */
	unsigned gseen[CONF_KEYS_MAX], lseen[CONF_KEYS_MAX]; /* the line each key was set on, 0 if not */
	unsigned *section_lines;                             /* each listener's "[listener NAME]" line */
};

__attribute__((format(printf, 4, 0))) static void vformat_err(char *err, size_t errlen, const char *prefix,
                                                              const char *fmt, va_list ap)
{
	if (!err || errlen == 0)
		return;
	int n = snprintf(err, errlen, "%s", prefix);
	if (n < 0 || (size_t)n >= errlen)
		return;
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}

/* "NAME:LINE: message" (just "NAME: message" when line is 0). Always returns false. */
__attribute__((format(printf, 3, 4))) static bool fail_at(struct parser *p, unsigned line, const char *fmt,
                                                          ...)
{
	char prefix[300];
	va_list ap;

	if (line)
		snprintf(prefix, sizeof(prefix), "%s:%u: ", p->name, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", p->name);
	va_start(ap, fmt);
	vformat_err(p->err, p->errlen, prefix, fmt, ap);
	va_end(ap);
	return false;
}

#define fail(p, ...) fail_at((p), (p)->line, __VA_ARGS__)
#define oom(p)       fail((p), "out of memory")

static const struct keydef *find_key(const char *name, enum scope scope)
{
	for (size_t i = 0; i < conf_nkeys; i++) {
		if (conf_keys[i].scope == scope && !strcmp(conf_keys[i].name, name))
			return &conf_keys[i];
	}
	return NULL;
}

/* The line a key was set on in the current scope (0 if not). */
static unsigned seen(const struct parser *p, const char *name, enum scope scope)
{
	const struct keydef *k = find_key(name, scope);
	const unsigned *lines = scope == S_GLOBAL ? p->gseen : p->lseen;
	return k ? lines[k - conf_keys] : 0;
}

static struct listener_conf *cur(const struct parser *p)
{
	return &p->c->listeners[p->c->nlisteners - 1];
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static void lowercase(char *s)
{
	for (; *s; s++) {
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
	}
}

/* ---- values ---- */

static char *resolve_path(const struct parser *p, const char *v)
{
	while (v[0] == '.' && v[1] == '/') {
		v += 2;
		while (*v == '/')
			v++;
	}
	if (v[0] == '/' || !p->base)
		return strdup(*v ? v : ".");
	size_t bl = strlen(p->base), vl = strlen(v);
	bool slash = bl > 0 && p->base[bl - 1] != '/';
	char *s = malloc(bl + slash + vl + 1);
	if (!s)
		return NULL;
	memcpy(s, p->base, bl);
	if (slash)
		s[bl] = '/';
	memcpy(s + bl + slash, v, vl + 1);
	return s;
}

static bool set_string(struct parser *p, char **slot, char *v)
{
	if (!v)
		return oom(p);
	free(*slot);
	*slot = v;
	return true;
}

static bool set_domains(struct parser *p, const char *value)
{
	struct config *c = p->c;
	const char *cursor = value, *item;
	size_t len;

	while ((item = conf_next_item(&cursor, &len))) {
		if (!conf_valid_hostname(item, len))
			return fail(p, "bad domain '%.*s' in domains", (int)len, item);
		if (config_is_local_domain(c, item, len))
			return fail(p, "domain '%.*s' is listed twice", (int)len, item);
		char **nd = realloc(c->domains, (c->ndomains + 1) * sizeof(*nd));
		if (!nd)
			return oom(p);
		c->domains = nd;
		if (!(nd[c->ndomains] = strndup(item, len)))
			return oom(p);
		lowercase(nd[c->ndomains++]);
	}
	if (!c->ndomains)
		return fail(p, "domains needs a value");
	return true;
}

static bool same_addr(const union pp_sockaddr *a, const union pp_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_UNIX)
		return !strcmp(a->un.sun_path, b->un.sun_path);
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port && a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return a->in6.sin6_port == b->in6.sin6_port &&
	       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr));
}

/* unix:PATH, resolved like the other paths; it must fit sun_path. */
static bool set_unix_address(struct parser *p, const char *path, size_t len, union pp_sockaddr *a)
{
	char *raw = strndup(path, len), *full = raw ? resolve_path(p, raw) : NULL;
	bool ok = full && strlen(full) < sizeof(a->un.sun_path);

	memset(a, 0, sizeof(*a));
	free(raw);
	if (!full)
		return oom(p);
	if (ok) {
		a->un.sun_family = AF_UNIX;
		memcpy(a->un.sun_path, full, strlen(full) + 1);
	} else {
		fail(p, "unix socket path '%s' is too long (at most %zu bytes)", full,
		     sizeof(a->un.sun_path) - 1);
	}
	free(full);
	return ok;
}

static bool set_address(struct parser *p, const char *value)
{
	struct listener_conf *lc = cur(p);
	const char *cursor = value, *item;
	size_t len;

	while ((item = conf_next_item(&cursor, &len))) {
		union pp_sockaddr a;
		if (len > 5 && !strncmp(item, "unix:", 5)) {
			if (!set_unix_address(p, item + 5, len - 5, &a))
				return false;
		} else if (!conf_parse_listen_addr(item, len, &a)) {
			return fail(p,
			            "bad address '%.*s' (use IPv4:PORT or [IPv6]:PORT, port 1-65535, or "
			            "unix:/PATH)",
			            (int)len, item);
		}
		if (lc->naddrs && (a.sa.sa_family == AF_UNIX || lc->addrs[0].sa.sa_family == AF_UNIX))
			return fail(p, "a unix: address must be the listener's only address");
		for (size_t i = 0; i < p->c->nlisteners; i++) {
			const struct listener_conf *o = &p->c->listeners[i];
			for (size_t j = 0; j < o->naddrs; j++) {
				if (!same_addr(&o->addrs[j], &a))
					continue;
				if (o == lc)
					return fail(p, "address '%.*s' is listed twice", (int)len, item);
				return fail(p, "address '%.*s' is already used by listener '%s' (line %u)",
				            (int)len, item, o->name, p->section_lines[i]);
			}
		}
		union pp_sockaddr *na = realloc(lc->addrs, (lc->naddrs + 1) * sizeof(*na));
		if (!na)
			return oom(p);
		lc->addrs = na;
		na[lc->naddrs++] = a;
	}
	if (!lc->naddrs)
		return fail(p, "address needs a value");
	return true;
}

static bool set_versions(struct parser *p, const char *value, unsigned *mask)
{
	const char *cursor = value, *item;
	size_t len;

	*mask = 0;
	while ((item = conf_next_item(&cursor, &len))) {
		if (len == 2 && (item[0] == 'v' || item[0] == 'V') && item[1] == '1')
			*mask |= PP_ACCEPT_V1;
		else if (len == 2 && (item[0] == 'v' || item[0] == 'V') && item[1] == '2')
			*mask |= PP_ACCEPT_V2;
		else
			return fail(p, "unknown PROXY version '%.*s' in proxy_versions (use v1, v2 or both)",
			            (int)len, item);
	}
	if (!*mask)
		return fail(p, "proxy_versions needs a value");
	return true;
}

/* The metrics endpoint has no authentication: it may only listen where nobody else can reach it. */
static bool set_metrics(struct parser *p, const char *value)
{
	union pp_sockaddr *a = &p->c->metrics_addr;
	static const unsigned char v6_loopback[16] = {[15] = 1};

	p->c->metrics = false;
	if (!*value)
		return true;
	if (!conf_parse_listen_addr(value, strlen(value), a))
		return fail(p, "bad address '%s' for metrics (use 127.0.0.1:PORT or [::1]:PORT)", value);
	bool loopback = a->sa.sa_family == AF_INET
	                        ? (ntohl(a->in.sin_addr.s_addr) >> 24) == 127
	                        : !memcmp(&a->in6.sin6_addr, v6_loopback, sizeof(v6_loopback));
	if (!loopback)
		return fail(p,
		            "metrics must listen on a loopback address (127.0.0.0/8 or [::1]), not '%s': the "
		            "endpoint has no authentication",
		            value);
	p->c->metrics = true;
	return true;
}

static bool set_cidrs(struct parser *p, const struct keydef *k, const char *value, struct cidr_set *set)
{
	const char *bad = NULL;

	if (cidr_set_parse(value, set, &bad))
		return true;
	if (!bad)
		return oom(p);
	return fail(p, "bad CIDR '%.*s' in %s", (int)strcspn(bad, ", \t"), bad, k->name);
}

/* Which of names[] is v (case-insensitive), or -1. */
static int pick(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++) {
		if (!strcasecmp(v, names[i]))
			return i;
	}
	return -1;
}

static bool set_number(struct parser *p, const struct keydef *k, void *slot, const char *v)
{
	unsigned long long n;
	size_t sz;
	unsigned ms;

	switch (k->type) {
	case K_SIZE:
		if (!config_parse_size(v, &sz))
			return fail(p, "bad size '%s' for %s (use bytes or 512K, 25M, 1G)", v, k->name);
		n = sz;
		break;
	case K_DURATION:
		if (!config_parse_duration(v, &ms))
			return fail(p, "bad duration '%s' for %s (use seconds or 500ms, 30s, 5m, 1h)", v,
			            k->name);
		n = ms;
		break;
	case K_DAYS:
		if (!conf_parse_days(v, &ms))
			return fail(p, "bad duration '%s' for %s (use seconds or 30s, 5m, 1h, 5d)", v,
			            k->name);
		n = ms;
		break;
	default:
		if (!conf_parse_number(v, ~0ull, &n))
			return fail(p, "bad number '%s' for %s", v, k->name);
		break;
	}
	if (n < k->min || n > k->max)
		return fail(p, "%s must be %s", k->name, k->range);
	if (k->type == K_SIZE)
		*(size_t *)slot = (size_t)n;
	else
		*(unsigned *)slot = (unsigned)n;
	return true;
}

static bool set_value(struct parser *p, const struct keydef *k, const char *v)
{
	static const char *const logs[] = {"stderr", "syslog", "both"};
	static const char *const protos[] = {"smtp", "submission", "imap", "pop3", "lmtp"};
	static const char *const orders[] = {"before-tls", "inside-tls"};
	static const char *const tlss[] = {"none", "starttls", "implicit"};
	static const char *const proxies[] = {"required", "optional", "off"};
	static const char *const relay_tlss[] = {"required", "opportunistic"};
	static const char *const bpfs[] = {"auto", "on", "off", "required"};
	static const char *const sk_msgs[] = {"all", "denied"};
	char *base = k->scope == S_GLOBAL ? (char *)p->c : (char *)cur(p);
	void *slot = base + k->off;
	int i;
	bool b;

	switch (k->type) {
	case K_HOSTNAME:
		if (!conf_valid_hostname(v, strlen(v)))
			return fail(p, "bad hostname '%s'", v);
		return set_string(p, slot, strdup(v));
	case K_DOMAINS:
		return set_domains(p, v);
	case K_PATH:
		return set_string(p, slot, *v ? resolve_path(p, v) : strdup(""));
	case K_CGROUP: /* "parent" is resolved at start, from /proc/self/cgroup (om_cgroup_prepare) */
		if (!strcmp(v, "parent"))
			return set_string(p, slot, strdup(v));
		return set_string(p, slot, *v ? resolve_path(p, v) : strdup(""));
	case K_USER:
		if (!conf_valid_username(v))
			return fail(p, "bad user name '%s'", v);
		return set_string(p, slot, strdup(v));
	case K_RELAY:
		if (*v && !conf_valid_hostport(v))
			return fail(p, "relay_host must be HOST:PORT or [IPv6]:PORT, not '%s'", v);
		return set_string(p, slot, strdup(v));
	case K_LOG:
		if ((i = pick(v, logs, 3)) < 0)
			return fail(p, "log must be stderr, syslog or both");
		return set_string(p, slot, strdup(logs[i]));
	case K_SIZE:
	case K_NUMBER:
	case K_DURATION:
	case K_DAYS:
		return set_number(p, k, slot, v);
	case K_RELAY_TLS:
		if ((i = pick(v, relay_tlss, 2)) < 0)
			return fail(p, "relay_tls must be required or opportunistic");
		p->c->relay_tls = (enum relay_tls)i;
		return true;
	case K_BOOL:
		if (!conf_parse_bool(v, &b))
			return fail(p, "%s must be yes or no (or true/false, on/off)", k->name);
		*(bool *)slot = b;
		return true;
	case K_ADDRESS:
		return set_address(p, v);
	case K_PROTOCOL:
		if ((i = pick(v, protos, (int)(sizeof(protos) / sizeof(protos[0])))) < 0)
			return fail(p, "protocol must be smtp, submission, imap, pop3 or lmtp");
		cur(p)->proto = (enum listener_proto)i;
		return true;
	case K_TLS:
		if ((i = pick(v, tlss, 3)) < 0)
			return fail(p, "tls must be none, starttls or implicit");
		cur(p)->tls = (enum tls_mode)i;
		return true;
	case K_PROXY:
		if ((i = pick(v, proxies, 3)) < 0)
			return fail(p, "proxy must be required, optional or off");
		cur(p)->proxy = (enum proxy_mode)i;
		return true;
	case K_VERSIONS:
		return set_versions(p, v, slot);
	case K_CIDRS:
		return set_cidrs(p, k, v, slot);
	case K_RATE:
		if (!config_parse_rate(v, (unsigned)k->max, slot))
			return fail(
			        p,
			        "bad rate '%s' for %s (use 0 for none, or COUNT/DURATION with COUNT 1-%llu "
			        "and DURATION 1s-1d: 300/1m, 10/10m)",
			        v, k->name, k->max);
		return true;
	case K_BPF:
		if ((i = pick(v, bpfs, 4)) < 0)
			return fail(p, "bpf must be auto, on or off");
		*(enum bpf_setting *)slot = i == 3 ? BPF_ON : (enum bpf_setting)i; /* "required" is "on" */
		return true;
	case K_SK_MSG:
		if ((i = pick(v, sk_msgs, 2)) < 0)
			return fail(p, "bpf_sk_msg must be all or denied");
		*(enum bpf_sk_msg *)slot = (enum bpf_sk_msg)i;
		return true;
	case K_METRICS:
		return set_metrics(p, v);
	case K_PROXY_ORDER:
		if ((i = pick(v, orders, 2)) < 0)
			return fail(p, "proxy_order must be before-tls or inside-tls");
		cur(p)->proxy_order = (enum proxy_order)i;
		return true;
	case K_MODE:
		if (!conf_parse_mode(v, slot))
			return fail(p, "socket_mode must be octal permission bits such as 0660, not '%s'", v);
		return true;
	}
	return fail(p, "internal error: key '%s' has no type", k->name);
}

/* ---- lines ---- */

static bool handle_key(struct parser *p, char *line)
{
	char *eq = strchr(line, '=');
	enum scope scope = p->in_listener ? S_LISTENER : S_GLOBAL;

	if (!eq)
		return fail(p, "missing '=' in '%s' (expected 'key = value')", line);
	*eq = '\0';
	char *key = trim(line), *value = trim(eq + 1);
	if (!*key)
		return fail(p, "missing key before '='");

	const struct keydef *k = find_key(key, scope);
	if (!k) {
		if (find_key(key, scope == S_GLOBAL ? S_LISTENER : S_GLOBAL) == NULL)
			return fail(p, "unknown key '%s'", key);
		if (scope == S_LISTENER)
			return fail(p, "'%s' is a global key: set it before the first [listener] section",
			            key);
		return fail(p, "'%s' is a listener key: set it inside a [listener NAME] section", key);
	}
	unsigned *lines = scope == S_GLOBAL ? p->gseen : p->lseen;
	if (lines[k - conf_keys])
		return fail(p, "duplicate key '%s' (first set on line %u)", key, lines[k - conf_keys]);
	lines[k - conf_keys] = p->line;
	if (!*value && !k->empty_ok)
		return fail(p, "%s needs a value", key);
	return set_value(p, k, value);
}

static bool finish_globals(struct parser *p)
{
	struct config *c = p->c;
	unsigned cl = seen(p, "tls_cert", S_GLOBAL), kl = seen(p, "tls_key", S_GLOBAL);

	if (cl && !kl)
		return fail_at(p, cl, "tls_cert is set but tls_key is not");
	if (kl && !cl)
		return fail_at(p, kl, "tls_key is set but tls_cert is not");
	if (!c->hostname) {
		char h[256] = "";
		if (gethostname(h, sizeof(h) - 1) != 0 || !h[0])
			return fail_at(p, 0, "no hostname set and gethostname() failed: set hostname");
		if (!(c->hostname = strdup(h)))
			return oom(p);
	}
	if (!c->domains) {
		if (!(c->domains = calloc(1, sizeof(*c->domains))) || !(c->domains[0] = strdup(c->hostname)))
			return oom(p);
		c->ndomains = 1;
		lowercase(c->domains[0]);
	}
	if (!c->queue_dir && !(c->queue_dir = conf_sibling_path(c->mail_root, "queue")))
		return oom(p);
	unsigned dl = seen(p, "origin_auth_delay_max", S_GLOBAL);
	if (c->origin_auth_delay_max_ms < c->origin_auth_delay_ms)
		return fail_at(p, dl ? dl : seen(p, "origin_auth_delay", S_GLOBAL),
		               "origin_auth_delay_max must not be less than origin_auth_delay");
	if (conf_path_within(c->queue_dir, c->mail_root))
		return fail_at(p, seen(p, "queue_dir", S_GLOBAL),
		               "queue_dir must not be mail_root or inside it");
	return true;
}

/* A UNIX socket has no PROXY header to read and no CIDR to match: proxy is off there (the default). The
 * socket_* keys mean something on a UNIX socket only. */
static bool finish_listener_socket(struct parser *p, struct listener_conf *lc)
{
	static const char *const sock_keys[] = {"socket_mode", "socket_owner", "socket_group"};
	unsigned pl = seen(p, "proxy", S_LISTENER);

	if (!config_listener_unix(lc)) {
		for (size_t i = 0; i < sizeof(sock_keys) / sizeof(sock_keys[0]); i++) {
			unsigned l = seen(p, sock_keys[i], S_LISTENER);
			if (l)
				return fail_at(p, l, "%s needs a unix: address", sock_keys[i]);
		}
		return true;
	}
	if (!pl)
		lc->proxy = PROXY_OFF;
	if (lc->proxy != PROXY_OFF)
		return fail_at(p, pl,
		               "listener '%s': proxy = %s on a unix: address (a UNIX socket peer is "
		               "local: use proxy = off)",
		               lc->name, config_proxy_mode_name(lc->proxy));
	if (!seen(p, "socket_mode", S_LISTENER))
		lc->socket_mode = 0660;
	return true;
}

/* inside-tls: the header is read from the TLS session, so there must be both. */
static bool finish_proxy_order(struct parser *p, const struct listener_conf *lc)
{
	unsigned ol = seen(p, "proxy_order", S_LISTENER);

	if (lc->proxy_order != PROXY_INSIDE_TLS)
		return true;
	if (lc->tls != TLS_IMPLICIT)
		return fail_at(p, ol, "listener '%s': proxy_order = inside-tls needs tls = implicit",
		               lc->name);
	if (lc->proxy == PROXY_OFF)
		return fail_at(p, ol,
		               "listener '%s': proxy_order = inside-tls needs proxy = required or optional",
		               lc->name);
	return true;
}

static bool finish_listener(struct parser *p)
{
	struct listener_conf *lc = cur(p);
	unsigned sl = p->section_lines[p->c->nlisteners - 1];
	unsigned cl = seen(p, "tls_cert", S_LISTENER), kl = seen(p, "tls_key", S_LISTENER);
	unsigned tl = seen(p, "tls", S_LISTENER), pl = seen(p, "proxy", S_LISTENER);

	if (!lc->naddrs)
		return fail_at(p, sl, "listener '%s' has no address", lc->name);
	if (!seen(p, "protocol", S_LISTENER))
		return fail_at(p, sl, "listener '%s' has no protocol (smtp, submission, imap, pop3 or lmtp)",
		               lc->name);
	if (cl && !kl)
		return fail_at(p, cl, "tls_cert is set but tls_key is not");
	if (kl && !cl)
		return fail_at(p, kl, "tls_key is set but tls_cert is not");
	if (!lc->cert && p->c->tls_cert) {
		if (!(lc->cert = strdup(p->c->tls_cert)) || !(lc->key = strdup(p->c->tls_key)))
			return oom(p);
	}
	if (lc->tls != TLS_NONE && !lc->cert)
		return fail_at(p, tl, "tls = %s needs tls_cert and tls_key (in the listener, or global)",
		               config_tls_name(lc->tls));
	if (!finish_listener_socket(p, lc) || !finish_proxy_order(p, lc))
		return false;
	if (lc->proxy == PROXY_REQUIRED && !lc->trusted.n && !lc->direct.n)
		return fail_at(p, pl ? pl : sl,
		               "listener '%s': proxy = required but proxy_trusted and direct_allowed are "
		               "both empty, "
		               "so every peer would be refused",
		               lc->name);
	return true;
}

/* The section that ends is checked as a whole; the globals end at the first [listener] line. */
static bool finish_section(struct parser *p)
{
	return p->in_listener ? finish_listener(p) : finish_globals(p);
}

static bool valid_listener_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LISTENER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') && !(ch >= '0' && ch <= '9') &&
		    ch != '.' && ch != '_' && ch != '-')
			return false;
	}
	return true;
}

static bool handle_section(struct parser *p, char *line)
{
	struct config *c = p->c;
	size_t n = strlen(line);

	if (!finish_section(p))
		return false;
	if (line[n - 1] != ']')
		return fail(p, "missing ']' at the end of the section header");
	line[n - 1] = '\0';

	char *kind = trim(line + 1), *name = kind + strcspn(kind, " \t");
	if (*name) {
		*name = '\0';
		name = trim(name + 1);
	}
	if (strcmp(kind, "listener") != 0)
		return fail(p, "unknown section '%s' (expected [listener NAME])", kind);
	if (!*name)
		return fail(p, "missing listener name (expected [listener NAME])");
	if (!valid_listener_name(name))
		return fail(p, "bad listener name '%s' (up to 64 letters, digits, '.', '_', '-')", name);
	for (size_t i = 0; i < c->nlisteners; i++) {
		if (!strcmp(c->listeners[i].name, name))
			return fail(p, "duplicate listener '%s' (first on line %u)", name,
			            p->section_lines[i]);
	}

	struct listener_conf *nl = realloc(c->listeners, (c->nlisteners + 1) * sizeof(*nl));
	if (!nl)
		return oom(p);
	c->listeners = nl;
	unsigned *lines = realloc(p->section_lines, (c->nlisteners + 1) * sizeof(*lines));
	if (!lines)
		return oom(p);
	p->section_lines = lines;
	lines[c->nlisteners] = p->line;

	struct listener_conf *lc = &nl[c->nlisteners++];
	memset(lc, 0, sizeof(*lc));
	lc->proto = PROTO_SMTP;
	lc->tls = TLS_NONE;
	lc->proxy = PROXY_REQUIRED;
	lc->proxy_versions = PP_ACCEPT_ANY;
	lc->proxy_timeout_ms = 5000;
	lc->proxy_max_header = PP_DEFAULT_MAX_HEADER;
	lc->auth_plaintext = false;
	p->in_listener = true;
	memset(p->lseen, 0, sizeof(p->lseen));
	if (!(lc->name = strdup(name)))
		return oom(p);
	return true;
}

/* Cut a comment: '#' starting the line or following a space or tab. */
static void strip_comment(char *s)
{
	for (char *h = s; (h = strchr(h, '#')); h++) {
		if (h == s || h[-1] == ' ' || h[-1] == '\t') {
			*h = '\0';
			return;
		}
	}
}

static bool parse_lines(struct parser *p, char *text)
{
	for (char *line = text; line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		p->line++;

		size_t n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		for (size_t i = 0; i < n; i++) {
			if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
				return fail(p, "control character 0x%02x in the line",
				            (unsigned char)line[i]);
		}
		strip_comment(line);

		char *s = trim(line);
		if (*s == '[' && !handle_section(p, s))
			return false;
		if (*s && *s != '[' && !handle_key(p, s))
			return false;
		line = nl ? nl + 1 : NULL;
	}
	if (!finish_section(p))
		return false;
	if (!p->c->nlisteners)
		return fail_at(p, 0, "no [listener NAME] section: nothing to listen on");
	return true;
}

static bool set_defaults(struct config *c)
{
	c->max_message_size = 25u << 20;
	c->max_line = 4096;
	c->max_recipients = 100;
	c->max_connections = 1024;
	c->output_buffer = 1u << 20;
	c->command_timeout_ms = 5 * 60 * 1000;
	c->data_timeout_ms = 10 * 60 * 1000;
	c->shutdown_grace_ms = 30 * 1000;
	c->auth_workers = 4;
	c->folder_cache = MBOX_CACHE_DEFAULT;
	c->tmp_max_age_ms = 36u * 3600 * 1000;
	c->mail_root = strdup(DEFAULT_MAIL_ROOT);
	c->passwd_file = strdup(DEFAULT_PASSWD_FILE);
	c->run_as = strdup("");
	c->relay_host = strdup("");
	c->relay_tls = RELAY_TLS_REQUIRED;
	c->relay_ca = strdup("");
	c->relay_retry_ms = 5 * 60 * 1000;
	c->relay_max_age_ms = 5u * 24 * 3600 * 1000;
	c->log = strdup("stderr");
	c->bpf = BPF_AUTO;
	c->bpf_cgroup = strdup("");
	c->bpf_pin_dir = strdup("/sys/fs/bpf/originmail");
	c->metrics_timeout_ms = 10 * 1000;
	c->metrics_max_clients = 16;
	c->metrics_max_request = 8192;
	c->origin_max_connections = 50;
	c->origin_rate = (struct conf_rate){300, 60 * 1000};
	c->origin_auth_fails = (struct conf_rate){10, 10 * 60 * 1000};
	c->origin_auth_delay_ms = 1000;
	c->origin_auth_delay_max_ms = 15 * 1000;
	c->origin_ipv6_prefix = 64;
	return c->mail_root && c->passwd_file && c->run_as && c->relay_host && c->relay_ca && c->log &&
	       c->bpf_cgroup && c->bpf_pin_dir;
}

bool conf_parse_text(const char *text, const char *name, const char *source, struct config *out, char *err,
                     size_t errlen)
{
	struct parser p = {.c = out, .name = name, .err = err, .errlen = errlen};
	char *copy = strdup(text);
	const char *slash = source ? strrchr(source, '/') : NULL;
	bool ok = false;

	if (!copy || !set_defaults(out) || (source && !(out->path = strdup(source))))
		goto nomem;
	if (slash && !(p.base = slash == source ? strdup("/") : strndup(source, (size_t)(slash - source))))
		goto nomem;
	ok = parse_lines(&p, copy);
	goto out;
nomem:
	fail_at(&p, 0, "out of memory");
out:
	free(copy);
	free(p.base);
	free(p.section_lines);
	if (!ok)
		config_free(out);
	return ok;
}

const char *config_key_name(size_t i, bool *listener)
{
	if (i >= conf_nkeys)
		return NULL;
	if (listener)
		*listener = conf_keys[i].scope == S_LISTENER;
	return conf_keys[i].name;
}

bool config_parse(const char *text, const char *name, struct config *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return conf_parse_text(text ? text : "", name ? name : "(config)", name, out, err, errlen);
}
