/* cgroup v2 and bpffs plumbing for the BPF loader: find the cgroup2 mount, pick and join the cgroup the
 * sock_ops program watches, mount bpffs and create the pin directory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "bpf/om_bpf.h"

#define BPF_FS_MAGIC_ 0xcafe4a11
#define BPF_FS_ROOT   "/sys/fs/bpf"

/* /proc/self/mountinfo: "id parent maj:min root mountpoint options... - fstype source superopts". */
bool om_cgroup2_mount(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], *dash = strstr(line, " - ");
		if (!dash || strncmp(dash + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strlen(mnt) < cap) {
			snprintf(buf, cap, "%s", mnt);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* Our cgroup v2 path relative to the mount ("/" for the root), from the "0::" line. */
static bool self_cgroup(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line + 3) < cap) {
			snprintf(buf, cap, "%s", line + 3);
			found = true;
		}
	}
	fclose(f);
	return found;
}

static bool join(const char *dir, char *err, size_t errlen)
{
	char procs[PATH_MAX + 16], pid[32];
	int fd, n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, pid, (size_t)n) != n) {
		snprintf(err, errlen, "cannot move into cgroup %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	return true;
}

bool om_cgroup_prepare(const char *configured, char *path, size_t cap, char *err, size_t errlen)
{
	char mnt[PATH_MAX], self[PATH_MAX], selfabs[2 * PATH_MAX];
	int n;

	if (!om_cgroup2_mount(mnt, sizeof(mnt))) {
		snprintf(err, errlen, "no cgroup2 file system is mounted");
		return false;
	}
	if (!self_cgroup(self, sizeof(self))) {
		snprintf(err, errlen, "cannot read our cgroup v2 from /proc/self/cgroup");
		return false;
	}
	snprintf(selfabs, sizeof(selfabs), "%s%s", mnt, strcmp(self, "/") ? self : "");
	bool parent = configured && !strcmp(configured, "parent");
	if (configured && *configured && !parent)
		n = snprintf(path, cap, "%s", configured);
	else if (!strcmp(self, "/")) /* never watch the whole host: a child of our own */
		n = snprintf(path, cap, "%s/originmail", mnt);
	else
		n = snprintf(path, cap, "%s", selfabs);
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, errlen, "cgroup path too long");
		return false;
	}
	/* "parent": the cgroup above ours, under systemd the unit's slice, so that every instance of a
	 * template unit shares one parent (docs/systemd.md). We are inside it: nothing to create or join. */
	char *slash = strrchr(path, '/');
	if (parent && strcmp(self, "/") && slash && slash > path + strlen(mnt))
		*slash = '\0';
	/* mkdir only when missing: a read-only cgroup file system (ProtectControlGroups) refuses it. */
	struct stat st;
	if ((stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) && mkdir(path, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create cgroup %s: %s", path, strerror(errno));
		return false;
	}
	/* Inside it already (it, or one of its descendants)? */
	size_t pl = strlen(path);
	if (!strncmp(selfabs, path, pl) && (selfabs[pl] == '\0' || selfabs[pl] == '/'))
		return true;
	return join(path, err, errlen);
}

bool om_pin_dir_prepare(const char *dir, char *err, size_t errlen)
{
	struct statfs st;

	if (!strncmp(dir, BPF_FS_ROOT "/", sizeof(BPF_FS_ROOT)) &&
	    (statfs(BPF_FS_ROOT, &st) != 0 || st.f_type != BPF_FS_MAGIC_)) {
		if (mount("bpf", BPF_FS_ROOT, "bpf", 0, "mode=0700") != 0) {
			snprintf(err, errlen, "cannot mount bpffs on %s: %s", BPF_FS_ROOT, strerror(errno));
			return false;
		}
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create the pin directory %s: %s", dir, strerror(errno));
		return false;
	}
	if (statfs(dir, &st) != 0 || st.f_type != BPF_FS_MAGIC_) {
		snprintf(err, errlen, "the pin directory %s is not on a bpf file system", dir);
		return false;
	}
	return true;
}
