/* Which pid namespace this process is in: a pid read from a map shared with other namespaces (a
 * container using the host's bpffs) only means something in the namespace that wrote it. */
#ifndef ORIGINMAIL_PIDNS_H
#define ORIGINMAIL_PIDNS_H

#include <stdint.h>

/* The inode of /proc/self/ns/pid, or 0 when it cannot be read. */
uint32_t pidns_inode(void);

#endif
