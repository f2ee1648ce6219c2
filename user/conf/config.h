/* The configuration file, parsed into memory. Format and every key: docs/configuration.md. */
#ifndef ORIGINMAIL_CONFIG_H
#define ORIGINMAIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "originmail/proxy.h"
#include "policy/cidr.h"

enum listener_proto { PROTO_SMTP, PROTO_SUBMISSION, PROTO_IMAP };
enum tls_mode { TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT };
enum proxy_mode { PROXY_REQUIRED, PROXY_OPTIONAL, PROXY_OFF };
enum relay_tls { RELAY_TLS_REQUIRED, RELAY_TLS_OPPORTUNISTIC };
enum bpf_setting { BPF_AUTO, BPF_ON, BPF_OFF }; /* docs/bpf.md */

struct listener_conf {
	char *name;               /* from "[listener NAME]" */
	union pp_sockaddr *addrs; /* address = 127.0.0.1:25, [::1]:25 */
	size_t naddrs;
	enum listener_proto proto; /* protocol = smtp | submission | imap */
	enum tls_mode tls;         /* tls = none | starttls | implicit */
	char *cert, *key;          /* tls_cert, tls_key; default: the global ones */
	enum proxy_mode proxy;     /* proxy = required | optional | off */
	unsigned proxy_versions;   /* proxy_versions = v1, v2 (PP_ACCEPT_* mask; default both) */
	struct cidr_set trusted;   /* proxy_trusted */
	struct cidr_set direct;    /* direct_allowed */
	unsigned proxy_timeout_ms; /* proxy_timeout = 5s */
	size_t proxy_max_header;   /* proxy_max_header = 4096 */
	bool auth_plaintext;       /* allow_plaintext_auth = no: AUTH/LOGIN only over TLS */
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
	unsigned tmp_max_age_ms;     /* tmp_max_age = 36h: older tmp/ files are crash leftovers */
	enum bpf_setting bpf;        /* bpf = auto | on | off (read at start only) */
	bool seccomp;                /* seccomp = off: the system-call filter (read at start only) */
	char *bpf_cgroup;            /* bpf_cgroup = PATH (empty: the daemon's own cgroup) */
	char *bpf_pin_dir;           /* bpf_pin_dir = /sys/fs/bpf/originmail */
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
/* Is domain (case-insensitive) one of ours? */
bool config_is_local_domain(const struct config *c, const char *domain, size_t len);
const char *config_proto_name(enum listener_proto p);
const char *config_tls_name(enum tls_mode t);          /* "none", "starttls", "implicit" */
const char *config_proxy_mode_name(enum proxy_mode m); /* "required", "optional", "off" */

#endif
