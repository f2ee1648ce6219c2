/* The configuration file, parsed into memory. Format and every key: docs/configuration.md. */
#ifndef ORIGINMAIL_CONFIG_H
#define ORIGINMAIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "originmail/proxy.h"
#include "policy/cidr.h"

enum listener_proto { PROTO_SMTP, PROTO_SUBMISSION, PROTO_IMAP, PROTO_POP3, PROTO_LMTP };
enum tls_mode { TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT };
enum proxy_mode { PROXY_REQUIRED, PROXY_OPTIONAL, PROXY_OFF };
enum relay_tls { RELAY_TLS_REQUIRED, RELAY_TLS_OPPORTUNISTIC };
enum bpf_setting { BPF_AUTO, BPF_ON, BPF_OFF }; /* docs/bpf.md */
enum bpf_sk_msg { SK_MSG_ALL, SK_MSG_DENIED };  /* which connections sk_msg sees */
/* Where a trusted proxy's header comes on an implicit-TLS listener: before the handshake, or as the first
 * bytes inside the TLS session (HAProxy `server ... ssl send-proxy-v2`). */
enum proxy_order { PROXY_BEFORE_TLS, PROXY_INSIDE_TLS };

/* "COUNT/DURATION": count events per window (a token bucket refilled over the window); count 0: off. */
struct conf_rate {
	unsigned count;
	unsigned window_ms;
};

struct listener_conf {
	char *name;               /* from "[listener NAME]" */
	union pp_sockaddr *addrs; /* address = 127.0.0.1:25, [::1]:25, or unix:/PATH (alone) */
	size_t naddrs;
	enum listener_proto proto; /* protocol = smtp | submission | imap | pop3 | lmtp */
	enum tls_mode tls;         /* tls = none | starttls | implicit */
	char *cert, *key;          /* tls_cert, tls_key; default: the global ones */
	enum proxy_mode proxy;     /* proxy = required | optional | off */
	unsigned proxy_versions;   /* proxy_versions = v1, v2 (PP_ACCEPT_* mask; default both) */
	struct cidr_set trusted;   /* proxy_trusted */
	struct cidr_set direct;    /* direct_allowed */
	unsigned proxy_timeout_ms; /* proxy_timeout = 5s */
	size_t proxy_max_header;   /* proxy_max_header = 4096 */
	bool auth_plaintext;       /* allow_plaintext_auth = no: AUTH/LOGIN only over TLS */

	enum proxy_order proxy_order; /* proxy_order = before-tls | inside-tls */
	/* A unix: address only: socket_mode = 0660; socket_owner, socket_group: chown at start (NULL or
	 * empty: as made) */
	unsigned socket_mode;
	char *socket_owner, *socket_group;
};

struct config {
	char *path;     /* the file it came from, for SIGHUP */
	char *hostname; /* hostname = mx1.example.test (default: gethostname) */
	char **domains; /* domains = example.test, example.org */
	size_t ndomains;
	char *mail_root;             /* mail_root = DIR: DIR/<domain>/<user>/Maildir */
	char *passwd_file;           /* passwd_file = FILE (Dovecot passwd-file format) */
	char *run_as;                /* user = originmail: drop to it after binding (empty: stay) */
	char *tls_cert, *tls_key;    /* defaults for listeners */
	char *relay_host;            /* relay_host = host:port for non-local recipients (empty: refuse) */
	char *queue_dir;             /* queue_dir = DIR (default: "queue" beside mail_root) */
	enum relay_tls relay_tls;    /* relay_tls = required | opportunistic */
	char *relay_ca;              /* relay_ca = FILE of CAs for relay_host (empty: system store) */
	unsigned relay_retry_ms;     /* relay_retry = 5m: the first retry, then doubling */
	unsigned relay_max_age_ms;   /* relay_max_age = 5d: then deferred mail bounces */
	char *log;                   /* log = stderr | syslog | both */
	size_t max_message_size;     /* max_message_size = 25M */
	size_t max_line;             /* max_line = 4096 with CRLF (not 1000: docs/configuration.md) */
	unsigned max_recipients;     /* max_recipients = 100 */
	unsigned max_connections;    /* max_connections = 1024, per process */
	size_t output_buffer;        /* output_buffer = 1M: replies queued for a client that does not read */
	unsigned command_timeout_ms; /* command_timeout = 5m */
	unsigned data_timeout_ms;    /* data_timeout = 10m */
	unsigned shutdown_grace_ms;  /* shutdown_grace = 30s: SIGTERM drains for this long */
	unsigned auth_workers;       /* auth_workers = 4 threads checking passwords (0: in the loop) */
	unsigned folder_cache;       /* folder_cache = 100000 messages of scans kept (0: none) */
	unsigned tmp_max_age_ms;     /* tmp_max_age = 36h: older tmp/ files are crash leftovers */
	enum bpf_setting bpf;        /* bpf = auto | on | off (read at start only) */
	bool seccomp;                /* seccomp = off: the system-call filter (read at start only) */
	enum bpf_sk_msg bpf_sk_msg;  /* bpf_sk_msg = all | denied (read at start only) */
	char *bpf_cgroup;            /* bpf_cgroup = PATH (empty: the daemon's own cgroup) */
	char *bpf_pin_dir;           /* bpf_pin_dir = /sys/fs/bpf/originmail */
	bool metrics;                /* metrics = 127.0.0.1:9154 (loopback only; empty: off) */
	union pp_sockaddr metrics_addr;
	unsigned metrics_timeout_ms;  /* metrics_timeout = 10s: a scrape's request must arrive by then */
	unsigned metrics_max_clients; /* metrics_max_clients = 16 scrapes at once */
	size_t metrics_max_request;   /* metrics_max_request = 8K: request line and headers */
	/* Abuse limits by the original client's address, shared by the instances on the host (docs/bpf.md) */
	unsigned origin_max_connections;    /* origin_max_connections = 50 open (0: no cap) */
	struct conf_rate origin_rate;       /* origin_rate = 300/1m new connections */
	struct conf_rate origin_auth_fails; /* origin_auth_failures = 10/10m, then refused */
	unsigned origin_auth_delay_ms;      /* origin_auth_delay = 1s, doubling per recent failure */
	unsigned origin_auth_delay_max_ms;  /* origin_auth_delay_max = 15s */
	struct cidr_set origin_exempt;      /* origin_exempt = CIDRs never limited */
	unsigned origin_ipv6_prefix;        /* origin_ipv6_prefix = 64: an IPv6 origin is its /64 */
	struct listener_conf *listeners;
	size_t nlisteners;
};

/* Parse path into *out (zeroed first). On error returns false with "FILE:LINE: message" in err. */
bool config_load(const char *path, struct config *out, char *err, size_t errlen);
/* The same from a string; name is used in messages. */
bool config_parse(const char *text, const char *name, struct config *out, char *err, size_t errlen);
void config_free(struct config *c);

/* "25s", "5m", "1h", "500ms", plain seconds -> milliseconds. "10M", "1G", "512K", plain bytes. */
bool config_parse_duration(const char *s, unsigned *ms);
bool config_parse_size(const char *s, size_t *bytes);
/* "0" (off) or "COUNT/DURATION" ("300/1m", "10/10m"): count 1..max_count, duration 1s..1d. */
bool config_parse_rate(const char *s, unsigned max_count, struct conf_rate *r);
/* Is domain (case-insensitive) one of ours? */
bool config_is_local_domain(const struct config *c, const char *domain, size_t len);
const char *config_proto_name(enum listener_proto p);
const char *config_tls_name(enum tls_mode t);          /* "none", "starttls", "implicit" */
const char *config_proxy_mode_name(enum proxy_mode m); /* "required", "optional", "off" */
/* Is the listener on a UNIX socket (its one address is AF_UNIX)? */
bool config_listener_unix(const struct listener_conf *lc);
/* The keys the parser knows, from its own table (the man page test compares them with originmail.conf(5)):
 * the name of key i, or NULL past the last; *listener tells its scope. */
const char *config_key_name(size_t i, bool *listener);

#endif
