/* TCP's own count of a connection's acknowledged bytes, for connections sk_msg does not count. */
#ifndef ORIGINCTL_TCP_BYTES_H
#define ORIGINCTL_TCP_BYTES_H

#include <stdbool.h>

#include "originmail/bpf_abi.h"

/* tcpi_bytes_acked of c's socket (found by its tuple and cookie, in this network namespace or the
 * instance's); false when it is gone or cannot be seen. */
bool ctl_tcp_bytes_acked(const struct om_conn *c, unsigned long long *acked);

#endif
