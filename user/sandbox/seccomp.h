/* The optional seccomp filter (seccomp = on): once the daemon has bound its ports, loaded BPF, dropped
 * privileges and forked its relay worker, each process allows itself only the system calls that serving
 * mail needs (the event loop, OpenSSL, Maildir writes, the relay worker's outbound SMTP, the BPF map
 * reads and writes). Anything else kills the process (SECCOMP_RET_KILL_PROCESS): a violation is never
 * silently ignored, and mail already acknowledged is on disk. README "Security model". */
#ifndef ORIGINMAIL_SECCOMP_H
#define ORIGINMAIL_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

/* Install the filter in the calling process (and in any thread or child it starts later). Sets
 * no_new_privs. False with a reason in err when the kernel or libseccomp refuses. */
bool sandbox_seccomp(char *err, size_t errlen);

#endif
