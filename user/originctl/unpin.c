/* originctl unpin: remove the pinned BPF maps once no originmaild uses them. The daemon cannot do it
 * itself after its privilege drop (bpffs wants root to unlink), so the systemd units run this as
 * ExecStopPost=+ (docs/systemd.md). An instance still alive keeps the pins. */
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "originctl.h"
#include "originmail/bpf_abi.h"
#include "util/pidns.h"

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: originctl unpin [--pin-dir DIR]\n"
	           "  remove the pinned BPF maps when no originmaild uses them (default DIR " OM_BPF_PIN_DIR
	           ")\n");
	return rc;
}

/* Instances in the pinned map whose process is alive (id = pid << 8 | n), counting those of another pid
 * namespace, whose pids say nothing here, as alive; -1 when it cannot be read. */
static int live_instances(const char *dir)
{
	char path[PATH_MAX + 16];
	__u32 key, next, ns = pidns_inode();
	struct om_instance inst;
	void *prev = NULL;
	int n = 0, guard = 0;

	snprintf(path, sizeof(path), "%s/" OM_PIN_INSTANCES, dir);
	int fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	while (guard++ < 4 * OM_INSTANCES_MAX && bpf_map_get_next_key(fd, prev, &next) == 0) {
		pid_t pid = (pid_t)(next >> 8);
		bool elsewhere =
		        bpf_map_lookup_elem(fd, &next, &inst) == 0 && inst.pidns && ns && inst.pidns != ns;
		if (elsewhere || kill(pid, 0) == 0 || errno == EPERM)
			n++;
		key = next;
		prev = &key;
	}
	close(fd);
	return n;
}

/* Unlink every pin in dir, then dir itself. */
static bool remove_pins(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX + 256];
	bool ok = d != NULL;

	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) != 0) {
			fprintf(stderr, "originctl: cannot remove %s: %s\n", path, strerror(errno));
			ok = false;
		}
	}
	if (d)
		closedir(d);
	if (ok && rmdir(dir) != 0) {
		fprintf(stderr, "originctl: cannot remove %s: %s\n", dir, strerror(errno));
		ok = false;
	}
	return ok;
}

int cmd_unpin(int argc, char **argv)
{
	static const struct option opts[] = {{"pin-dir", required_argument, NULL, 'p'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *dir = OM_BPF_PIN_DIR;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'p')
			dir = optarg;
		else
			return usage(c == 'h' ? stdout : stderr, c == 'h' ? 0 : 64);
	}
	if (optind != argc)
		return usage(stderr, 64);
	/* The daemons flock the directory while they load, pin or remove: so do we. */
	int lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0) {
		if (errno == ENOENT) {
			printf("%s: nothing pinned\n", dir);
			return 0;
		}
		fprintf(stderr, "originctl: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	/* It unlinks everything in dir: never outside a bpf file system (--pin-dir /etc). */
	struct statfs st;
	if (fstatfs(lock, &st) != 0 || st.f_type != 0xcafe4a11 /* BPF_FS_MAGIC */) {
		fprintf(stderr, "originctl: %s is not on a bpf file system\n", dir);
		close(lock);
		return 1;
	}
	flock(lock, LOCK_EX);
	int live = live_instances(dir);
	int rc = 0;
	if (live < 0) {
		fprintf(stderr, "originctl: cannot read %s/" OM_PIN_INSTANCES ": %s\n", dir, strerror(errno));
		rc = 1;
	} else if (live > 0) {
		printf("%s: kept, %d instance%s still running\n", dir, live, live == 1 ? "" : "s");
	} else if (remove_pins(dir)) {
		printf("%s: removed\n", dir);
	} else {
		rc = 1;
	}
	close(lock);
	return rc;
}
