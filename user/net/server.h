/* The daemon's runtime: configuration generations, listeners, connections and the event loop. */
#ifndef ORIGINMAIL_SERVER_H
#define ORIGINMAIL_SERVER_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/passwd.h"
#include "conf/config.h"
#include "net/listen_unix.h"

/* Everything a SIGHUP replaces. Connections hold a reference, so a reload never pulls the
 * configuration, the users or a certificate from under a live session. */
struct generation {
	int refs;
	struct config cfg;
	struct passwd_db *users;
	SSL_CTX **tls; /* per listener_conf index; NULL where tls = none */
};

struct listener {
	int fd;
	size_t conf_index; /* into generation.cfg.listeners */
	union pp_sockaddr addr;
	struct unix_socket_id unix_id; /* AF_UNIX: the file we made, removed at stop */
};

struct conn;
struct om_bpf;
struct metrics_http;
struct limits;

struct server {
	int epfd, sigfd;
	struct generation *gen;
	struct listener *listeners;
	size_t nlisteners;
	struct conn *conns; /* doubly linked: the timeout sweep and the drain walk it */
	unsigned nconns;
	uint64_t conn_seq;
	bool draining;
	uint64_t drain_deadline_ms;
	struct om_bpf *bpf;           /* the kernel side (docs/bpf.md); NULL when off */
	struct metrics_http *metrics; /* the metrics endpoint; NULL when off */
	struct limits *limits;        /* per-origin abuse limits (user/limits/) */
	uint64_t accept_paused_until; /* out of file descriptors: listeners rest until then (ms) */
};

struct generation *generation_load(const char *config_path, char *err, size_t errlen);
struct generation *generation_ref(struct generation *g);
void generation_unref(struct generation *g);

/* Bind every listener of the generation's configuration (SO_REUSEPORT, non-blocking). */
bool server_bind(struct server *s, char *err, size_t errlen);
/* Run until SIGTERM/SIGINT and the drain are done. Returns the exit code. */
int server_run(struct server *s);
void server_close(struct server *s);

uint64_t now_ms(void);

#endif
