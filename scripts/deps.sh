#!/bin/sh
# Install the Debian (bookworm) packages originmail needs, idempotently.
#
#   scripts/deps.sh [GROUP...]     GROUP: build test demo bench vmtest package all (default: test demo)
#
# Only packages that are missing are installed, so a second run costs one dpkg query.
# `make test`, `make demo` and `.ci/run` call this; nothing else is ever installed by hand.
set -eu

# What each package is for is in the README ("Dependencies").
build="make gcc clang llvm lld pkg-config libc6-dev linux-libc-dev libbpf-dev bpftool libelf-dev zlib1g-dev
       libssl-dev libcrypt-dev libcmocka-dev libgmime-3.0-dev libclang-rt-14-dev libseccomp-dev openssl
       clang-format cppcheck"
test="$build python3 iproute2 haproxy nginx-light libnginx-mod-stream swaks curl valgrind procps psmisc isync mandoc mount"
demo="$build python3 iproute2 haproxy swaks curl openssl nginx-light libnginx-mod-stream procps psmisc"
vmtest="$build qemu-system-x86 busybox-static cpio kmod"
bench="$test postfix dovecot-imapd gnuplot-nox linux-perf"
package="$build debhelper dpkg-dev fakeroot lintian mmdebstrap systemd-container zstd"

groups=${*:-test demo}
want=""
for g in $groups; do
	case $g in
	build) want="$want $build" ;;
	test) want="$want $test" ;;
	demo) want="$want $demo" ;;
	vmtest) want="$want $vmtest" ;;
	bench) want="$want $bench" ;;
	package) want="$want $package" ;;
	all) want="$want $test $demo $vmtest $bench $package" ;;
	*)
		echo "deps.sh: unknown group '$g' (build test demo bench vmtest package all)" >&2
		exit 2
		;;
	esac
done

missing=""
for p in $(printf '%s\n' $want | sort -u); do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case $st in ii*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how it is used; answer "Local only" so installing it never hangs or opens port 25 to the world.
echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections 2>/dev/null || true
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
