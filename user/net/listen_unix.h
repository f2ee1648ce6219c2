/* A listener on a UNIX socket (address = unix:/PATH): made before the privilege drop with its mode and
 * owner, a stale file from a dead instance replaced, and removed at stop if it is still ours. */
#ifndef ORIGINMAIL_LISTEN_UNIX_H
#define ORIGINMAIL_LISTEN_UNIX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf/config.h"

struct unix_socket_id {
	dev_t dev;
	ino_t ino;
};

/* Bind and listen on the listener's path (non-blocking, close-on-exec). A socket file nobody listens on
 * is replaced; a live one, or a file that is no socket, is an error. Returns the fd, or -1 with err. */
int listen_unix(const struct listener_conf *lc, struct unix_socket_id *id, char *err, size_t errlen);
/* Remove path if it is still the socket we made (a newer instance may have replaced it). */
void listen_unix_remove(const char *path, const struct unix_socket_id *id);

#endif
