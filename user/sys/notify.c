/* sd_notify(3) by hand (notify.h). Only socket(2) and sendto(2) on an AF_UNIX datagram socket, so a
 * seccomp allow-list needs nothing more for it. */
#include "sys/notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;
static char last_status[128];
static uint64_t last_status_ms;
static bool status_pending;

bool notify_open(void)
{
	const char *name = getenv("NOTIFY_SOCKET");
	size_t n;

	notify_close();
	if (!name || (name[0] != '/' && name[0] != '@') || (n = strlen(name)) >= sizeof(notify_addr.sun_path))
		return false;
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, name, n);
	if (name[0] == '@')
		notify_addr.sun_path[0] = '\0'; /* abstract: no trailing NUL, the length delimits the name */
	else
		n++;
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	last_status[0] = '\0';
	status_pending = false;
	return notify_fd >= 0;
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}

bool notify_send(const char *msg)
{
	if (notify_fd < 0)
		return false;
	ssize_t n;
	do
		n = sendto(notify_fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&notify_addr,
		           notify_len);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)strlen(msg);
}

bool notify_ready(void)
{
	return notify_send("READY=1");
}

bool notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
	return notify_send(msg);
}

bool notify_stopping(void)
{
	return notify_send("STOPPING=1");
}

size_t notify_format_status(char *buf, size_t cap, size_t listeners, bool bpf, unsigned conns)
{
	int n = snprintf(buf, cap, "STATUS=%zu listener%s, bpf %s, %u connection%s", listeners,
	                 listeners == 1 ? "" : "s", bpf ? "attached" : "off", conns, conns == 1 ? "" : "s");
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void notify_status(size_t listeners, bool bpf, unsigned conns, uint64_t now_ms, unsigned interval_ms,
                   bool force)
{
	char status[sizeof(last_status)];

	if (notify_fd < 0)
		return;
	notify_format_status(status, sizeof(status), listeners, bpf, conns);
	if (strcmp(status, last_status) != 0)
		status_pending = true;
	/* Connections come and go by the thousand: the status follows at a bounded rate. */
	if (!status_pending || (!force && last_status_ms && now_ms - last_status_ms < interval_ms))
		return;
	if (notify_send(status)) {
		memcpy(last_status, status, sizeof(status));
		last_status_ms = now_ms;
		status_pending = false;
	}
}
