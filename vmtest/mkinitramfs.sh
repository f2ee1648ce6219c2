#!/bin/sh
# Build the guest's whole root filesystem as a gzip'd cpio (newc) archive for `qemu -initrd`.
#
#   vmtest/mkinitramfs.sh [-m MODROOT -M "MODULE..."] OUT TEST...
#
# Contents: busybox-static with its applet links, vmtest/init as /init, every TEST under /vmtest/<TEST>
# (same relative path as on the host, leading '/' dropped), the shared libraries ldd reports for the tests
# (the dynamic loader included), and with -M the named kernel modules plus their dependencies, taken from
# MODROOT (an unpacked kernel package, see fetch-kernel.sh) and listed in load order for /init.
# Libraries a test only dlopen()s are invisible to ldd: link them or add them here.
set -eu
PATH=$PATH:/usr/sbin:/sbin

die() {
	echo "mkinitramfs: $*" >&2
	exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}
modroot=""
mods=""
while getopts m:M: opt; do
	case $opt in
	m) modroot=$OPTARG ;;
	M) mods=$OPTARG ;;
	*) die "usage: mkinitramfs.sh [-m MODROOT -M \"MODULE...\"] OUT TEST..." ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || die "usage: mkinitramfs.sh [-m MODROOT -M \"MODULE...\"] OUT TEST..."
out=$1
shift
[ -x "$busybox" ] || die "$busybox missing (apt-get install busybox-static)"
# A dynamically linked busybox would need its libraries too; the static build keeps the image trivial.
if ldd "$busybox" >/dev/null 2>&1; then die "$busybox is not static (install busybox-static)"; fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
trap 'exit 130' INT TERM # dash runs the EXIT trap on signals only this way
chmod 0755 "$stage" # becomes the guest's /; mktemp made it 0700
for d in bin sbin usr/bin usr/sbin etc/vmtest proc sys dev tmp run root vmtest lib/modules; do
	mkdir -p "$stage/$d"
done
: >"$stage/etc/vmtest/tests"
: >"$stage/etc/vmtest/modules"

cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list-full); do
	case $applet in
	bin/busybox) continue ;; # the list names itself: a self-link would replace the binary
	*/*) [ -d "$stage/${applet%/*}" ] || mkdir -p "$stage/${applet%/*}" ;;
	esac
	ln -s /bin/busybox "$stage/$applet"
done
cp "$here/init" "$stage/init"
chmod 0755 "$stage/init"
# Enough of /etc for getpwnam("nobody") and getaddrinfo("localhost"); glibc >= 2.34 reads these files
# without loading NSS modules.
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$stage/etc/hosts"

# Copy a file to the same absolute path inside the image, following symlinks (sonames are usually links).
put() {
	mkdir -p "$stage$(dirname "$1")"
	[ -e "$stage$1" ] || cp -L "$1" "$stage$1"
}

# Tests run in order; VMTEST_FILES (matrix "files=") are programs the tests use (the daemon, originctl):
# copied the same way, with their libraries, but not run.
for t in "$@" ${VMTEST_FILES:-}; do
	if [ ! -f "$t" ] || [ ! -x "$t" ]; then die "$t: not an executable file (did 'make' build it?)"; fi
	rel=${t#/}
	mkdir -p "$stage/vmtest/$(dirname "$rel")"
	cp -L "$t" "$stage/vmtest/$rel"
	case " ${VMTEST_FILES:-} " in *" $t "*) ;; *) echo "$rel" >>"$stage/etc/vmtest/tests" ;; esac
	# "not a dynamic executable" (static test) makes ldd fail: then there is nothing to copy.
	deps=$(ldd "$t" 2>/dev/null) || continue
	case $deps in *"not found"*) die "$t: $(echo "$deps" | grep 'not found' | head -n 1)" ;; esac
	# Lines are "libx.so.1 => /path/libx.so.1 (0x..)" or "/lib64/ld-linux-x86-64.so.2 (0x..)" (the loader).
	for lib in $(echo "$deps" | sed -n -e 's/.*=> \(\/[^ ]*\).*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p'); do
		put "$lib"
	done
done

if [ -n "$mods" ]; then
	[ -d "$modroot/lib/modules" ] || die "modules requested ($mods) but this kernel has no module tree"
	kver=$(ls "$modroot/lib/modules")
	for m in $mods; do
		deps=$(modprobe -d "$modroot" -S "$kver" --show-depends "$m") || die "$m: no such module in $kver"
		# One "insmod /path/x.ko" per module to load, dependencies first; "builtin x" needs nothing.
		for ko in $(echo "$deps" | sed -n 's/^insmod \([^ ]*\).*/\1/p'); do
			base=$(basename "$ko")
			dest=/lib/modules/${base%%.ko*}.ko
			[ -e "$stage$dest" ] && continue
			# busybox insmod takes plain ELF only: decompress here whatever the kernel package used.
			case $ko in
			*.xz) xz -dc "$ko" >"$stage$dest" ;;
			*.zst) zstd -qdc "$ko" >"$stage$dest" ;;
			*.gz) gzip -dc "$ko" >"$stage$dest" ;;
			*) cp "$ko" "$stage$dest" ;;
			esac
			echo "$dest" >>"$stage/etc/vmtest/modules"
		done
	done
fi

# Sorted names and root ownership keep the archive independent of the build host's order and user.
mkdir -p "$(dirname "$out")"
(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
