#!/bin/sh
# Resolve a matrix "source" to a bootable kernel image and print the image's path.
#
#   vmtest/fetch-kernel.sh SOURCE DIR
#
#   SOURCE  debian:PACKAGE  a Debian kernel package, e.g. debian:linux-image-amd64 (the metapackage is
#                           followed to the linux-image-<abi>-amd64 it depends on) or a concrete
#                           debian:linux-image-6.1.0-56-amd64
#           path:FILE       a bzImage you built yourself; used in place, nothing is cached
#   DIR     cache directory for this kernel (build/vmtest/kernels/<name>)
#
# Debian kernels are fetched with `apt-get download` and unpacked with dpkg-deb into DIR/root, never
# installed: the host's /boot and bootloader stay untouched and no root is needed beyond apt's own.
# DIR/package records "package version"; while apt still resolves SOURCE to that, the cached tree is
# reused, so only a newer kernel in the apt lists (after apt-get update) causes a download.
# Modules, if a test needs any, are under DIR/root/lib/modules/<version> with a modules.dep from depmod.
set -eu
# depmod lives in /sbin, which a non-root PATH often lacks.
PATH=$PATH:/usr/sbin:/sbin

die() {
	echo "fetch-kernel: $*" >&2
	exit 2
}

[ $# -eq 2 ] || die "usage: fetch-kernel.sh SOURCE DIR"
src=$1
dir=$2

# "package version" for a Debian package name as apt would install it now; a metapackage (linux-image-amd64,
# linux-image-cloud-amd64) has no kernel of its own and is followed to the linux-image-<abi> it pins with
# "Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)". Empty when apt does not know the name.
resolve() {
	apt-cache show --no-all-versions "$1" 2>/dev/null | awk -v pkg="$1" '
		/^Version: / { ver = $2 }
		/^Depends: / && match($0, /linux-image-[0-9][^ ,|]* \(= [^)]*\)/) {
			split(substr($0, RSTART, RLENGTH), d, /[ ()=]+/); dep = d[1]; depver = d[2]
		}
		END {
			if (dep != "") print dep, depver
			else if (ver != "") print pkg, ver
		}'
}

# The newest vmlinuz under the unpacked tree (a kernel package ships exactly one).
cached_image() {
	find "$dir/root/boot" -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort | tail -n 1
}

case $src in
path:*)
	img=${src#path:}
	[ -f "$img" ] || die "$img: no such kernel image"
	echo "$img"
	exit 0
	;;
debian:*) pkg=${src#debian:} ;;
*) die "unknown source '$src' (want debian:PACKAGE or path:FILE)" ;;
esac

want=$(resolve "$pkg")
if [ -z "$want" ]; then
	# apt knows nothing (no lists, offline container): a cached kernel is still better than failing.
	img=$(cached_image)
	[ -n "$img" ] || die "apt-cache does not know '$pkg' and nothing is cached in $dir (run apt-get update)"
	echo "fetch-kernel: apt-cache does not know '$pkg'; using cached $(cat "$dir/package" 2>/dev/null)" >&2
	echo "$img"
	exit 0
fi

pkg=${want% *}
ver=${want#* }
if [ "$(cat "$dir/package" 2>/dev/null)" = "$want" ] && [ -n "$(cached_image)" ]; then
	cached_image
	exit 0
fi

echo "fetch-kernel: downloading $pkg $ver into $dir" >&2
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM # dash runs the EXIT trap on signals only this way
# As root, apt drops to user _apt to download and warns when _apt cannot write to the target directory;
# downloading as root into our own cache is what we want, so say so instead of printing the warning.
sandbox=""
[ "$(id -u)" = 0 ] && sandbox="-o APT::Sandbox::User=root"
# shellcheck disable=SC2086  # $sandbox is empty or two words on purpose
(cd "$tmp" && apt-get download -q=2 $sandbox "$pkg=$ver") || die "apt-get download $pkg=$ver failed"
dpkg-deb -x "$tmp"/*.deb "$tmp/root"
# Debian generates modules.dep in the package's postinst, which we do not run; the initramfs builder
# needs it to resolve a module's dependencies.
for m in "$tmp"/root/lib/modules/*/; do
	[ -d "$m" ] && depmod -b "$tmp/root" "$(basename "$m")"
done
# Swap the new tree in only once it is complete, so an interrupted download never leaves a broken cache.
rm -rf "$dir/root"
mv "$tmp/root" "$dir/root"
echo "$want" >"$dir/package"
img=$(cached_image)
[ -n "$img" ] || die "$pkg contains no /boot/vmlinuz-*"
echo "$img"
