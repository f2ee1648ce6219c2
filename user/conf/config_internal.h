/* Shared by config.c, config_keys.c, config_values.c and config_file.c; not part of the configuration API. */
#ifndef ORIGINMAIL_CONFIG_INTERNAL_H
#define ORIGINMAIL_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/config.h"
#include "originmail/proxy.h"

/* config_parse's work: name is for messages; source is the file's path, kept in out->path, whose
 * directory relative paths resolve against (NULL, or no '/': paths stay as written). */
bool conf_parse_text(const char *text, const char *name, const char *source, struct config *out, char *err,
                     size_t errlen);

/* Items of a list value are separated by runs of spaces, tabs and commas. Returns the next item and its
 * length, advancing *cursor past it, or NULL when none is left. */
const char *conf_next_item(const char **cursor, size_t *len);
/* yes/no, true/false, on/off, in any case. */
bool conf_parse_bool(const char *s, bool *out);
/* A plain decimal number, at most max. */
bool conf_parse_number(const char *s, unsigned long long max, unsigned long long *out);
/* "IPv4:PORT" or "[IPv6]:PORT", port 1..65535. */
bool conf_parse_listen_addr(const char *item, size_t len, union pp_sockaddr *out);
/* Octal permission bits, "0660" or "660", at most 0777. */
bool conf_parse_mode(const char *s, unsigned *mode);
/* "HOST:PORT" where HOST is a host name, an IPv4 address or a bracketed IPv6 address. */
bool conf_valid_hostport(const char *s);
/* A DNS name: labels of letters, digits and '-' (not at either end), 1..63 each, 253 in all. */
bool conf_valid_hostname(const char *s, size_t len);
/* config_parse_duration, and whole days: "5d". */
bool conf_parse_days(const char *s, unsigned *ms);
/* name in the directory that holds path: "/var/lib/om/mail" -> "/var/lib/om/queue" (malloc'd). */
char *conf_sibling_path(const char *path, const char *name);
/* Is path dir itself or below it (compared as text, trailing slashes ignored)? */
bool conf_path_within(const char *path, const char *dir);
/* A Unix user name: letters, digits, '.', '_', '-' (not leading), at most 32. */
bool conf_valid_username(const char *s);

/* ---- the keys (config_keys.c) ---- */
enum scope { S_GLOBAL = 1, S_LISTENER = 2 };

enum ktype {
	K_HOSTNAME,
	K_DOMAINS,
	K_PATH,
	K_CGROUP, /* a path, or "parent" */
	K_USER,
	K_RELAY,
	K_LOG,
	K_SIZE,     /* size_t, config_parse_size */
	K_NUMBER,   /* unsigned, plain decimal */
	K_DURATION, /* unsigned milliseconds */
	K_DAYS,     /* the same, days ("5d") allowed */
	K_RELAY_TLS,
	K_BOOL,
	K_ADDRESS,
	K_PROTOCOL,
	K_TLS,
	K_PROXY,
	K_VERSIONS,
	K_CIDRS,
	K_BPF,
	K_SK_MSG,
	K_METRICS, /* a loopback address, or empty */
	K_RATE,    /* struct conf_rate: "0" or COUNT/DURATION, COUNT at most max */
	K_PROXY_ORDER,
	K_MODE, /* octal permission bits */
};

struct keydef {
	const char *name;
	enum scope scope;
	enum ktype type;
	size_t off;                  /* into struct config (S_GLOBAL) or struct listener_conf */
	unsigned long long min, max; /* K_SIZE, K_NUMBER, K_DURATION (in ms) */
	const char *range;           /* the same, for "KEY must be RANGE" */
	bool empty_ok;
};

/* Every key, global and per listener: its name, where its value goes and its bounds. */
extern const struct keydef conf_keys[];
extern const size_t conf_nkeys;
#define CONF_KEYS_MAX 128 /* the parser keeps a line number per key */

#endif
