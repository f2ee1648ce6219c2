/* The pinned maps of the origin table (user/limits/, docs/bpf.md "Origin limits"): refuse maps of another
 * layout before libbpf tries to reuse them and fails with a message nobody could act on. */
#include <bpf/bpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "bpf/om_bpf.h"

static bool pin_ok(const char *dir, const char *name, __u32 size, __u32 entries, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return true; /* not pinned yet: we make it */
	bool ok = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.value_size == size &&
	          info.max_entries == entries && (info.map_flags & BPF_F_MMAPABLE);
	close(fd);
	if (!ok)
		snprintf(err, errlen,
		         "pinned map %s has %u entries of %u bytes, this build uses %u of %u (origin table "
		         "layout "
		         "%d): stop every originmaild on this host, then remove %s",
		         path, info.max_entries, info.value_size, entries, size, OM_LIMITS_LAYOUT, dir);
	return ok;
}

bool om_bpf_limits_pins_ok(const char *dir, char *err, size_t errlen)
{
	return pin_ok(dir, OM_PIN_LIMITS, sizeof(struct om_limit), OM_LIMITS_SLOTS, err, errlen) &&
	       pin_ok(dir, OM_PIN_LIMITS_META, sizeof(struct om_limits_meta), 1, err, errlen);
}
