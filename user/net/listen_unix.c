/* UNIX socket listeners: the file's life from start to stop (listen_unix.h). */
#include "net/listen_unix.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A leftover of a stopped or crashed instance is a socket file nobody accepts on: replace it. Someone
 * listening is another instance, whose socket we must not take away. */
static bool clear_stale(const struct sockaddr_un *a, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(a->sun_path, &st) != 0) {
		if (errno == ENOENT)
			return true;
		snprintf(err, errlen, "unix socket %s: %s", a->sun_path, strerror(errno));
		return false;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "unix socket %s: the path exists and is not a socket", a->sun_path);
		return false;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "unix socket %s: %s", a->sun_path, strerror(errno));
		return false;
	}
	bool live = connect(fd, (const struct sockaddr *)a, sizeof(*a)) == 0;
	close(fd);
	if (live) {
		snprintf(err, errlen, "unix socket %s: another process listens on it", a->sun_path);
		return false;
	}
	if (unlink(a->sun_path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "unix socket %s: cannot remove the stale file: %s", a->sun_path,
		         strerror(errno));
		return false;
	}
	return true;
}

/* socket_owner and socket_group, looked up while we are still root. */
static bool set_owner(const struct listener_conf *lc, const char *path, char *err, size_t errlen)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	if (lc->socket_owner && *lc->socket_owner) {
		const struct passwd *pw = getpwnam(lc->socket_owner);
		if (!pw) {
			snprintf(err, errlen, "unix socket %s: socket_owner '%s' does not exist", path,
			         lc->socket_owner);
			return false;
		}
		uid = pw->pw_uid;
	}
	if (lc->socket_group && *lc->socket_group) {
		const struct group *gr = getgrnam(lc->socket_group);
		if (!gr) {
			snprintf(err, errlen, "unix socket %s: socket_group '%s' does not exist", path,
			         lc->socket_group);
			return false;
		}
		gid = gr->gr_gid;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) != 0) {
		snprintf(err, errlen, "unix socket %s: chown: %s", path, strerror(errno));
		return false;
	}
	return true;
}

int listen_unix(const struct listener_conf *lc, struct unix_socket_id *id, char *err, size_t errlen)
{
	const struct sockaddr_un *a = &lc->addrs[0].un;
	struct stat st;
	int fd = -1;

	if (!clear_stale(a, err, errlen))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (const struct sockaddr *)a, sizeof(*a)) != 0) {
		snprintf(err, errlen, "cannot listen on unix socket %s: %s", a->sun_path, strerror(errno));
		goto fail;
	}
	/* Mode and owner before listen(): nobody can connect while the file still has the umask's bits. */
	if (chmod(a->sun_path, lc->socket_mode) != 0 || lstat(a->sun_path, &st) != 0) {
		snprintf(err, errlen, "unix socket %s: chmod: %s", a->sun_path, strerror(errno));
		goto fail_file;
	}
	if (!set_owner(lc, a->sun_path, err, errlen))
		goto fail_file;
	if (listen(fd, 1024) != 0) {
		snprintf(err, errlen, "cannot listen on unix socket %s: %s", a->sun_path, strerror(errno));
		goto fail_file;
	}
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return fd;
fail_file:
	unlink(a->sun_path);
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

void listen_unix_remove(const char *path, const struct unix_socket_id *id)
{
	struct stat st;

	if (lstat(path, &st) == 0 && st.st_dev == id->dev && st.st_ino == id->ino)
		unlink(path);
}
