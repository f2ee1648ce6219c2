/* systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram per state change to the
 * AF_UNIX socket named by $NOTIFY_SOCKET. Without it (not under Type=notify) every call does nothing. */
#ifndef ORIGINMAIL_NOTIFY_H
#define ORIGINMAIL_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Read $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace) and open the socket once, so
 * later sends need only sendto(2). False when unset or unusable. */
bool notify_open(void);
void notify_close(void);

/* One message, e.g. "READY=1" or "STATUS=...": false when not open or the send failed. */
bool notify_send(const char *msg);

/* The states the daemon reports. */
bool notify_ready(void);
bool notify_reloading(void); /* RELOADING=1 with MONOTONIC_USEC=, as systemd asks */
bool notify_stopping(void);

/* "STATUS=3 listeners, bpf attached, 12 connections" into buf; its length. */
size_t notify_format_status(char *buf, size_t cap, size_t listeners, bool bpf, unsigned conns);
/* Send the status when it changed, at most once per interval_ms (now_ms: a monotonic clock); a change
 * held back is sent by a later call. force sends a changed status at once. */
void notify_status(size_t listeners, bool bpf, unsigned conns, uint64_t now_ms, unsigned interval_ms,
                   bool force);

#endif
