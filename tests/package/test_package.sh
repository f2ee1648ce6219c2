#!/bin/bash
# The Debian package end to end: a fresh Debian 12 rootfs (mmdebstrap, cached under BUILD/) booted with
# systemd-nspawn; inside it the .deb is installed offline, started, used (SMTP with a PROXY v2 header,
# IMAP read-back, originctl conns), reloaded with a new trusted-proxy list, run as a second template
# instance, upgraded over an edited conffile, stopped and purged. Prints "N passed, N failed".
#   tests/package/test_package.sh [BUILD]
# The container gets its own network namespace (--private-network: ports 25/143 never clash with the
# host), CAP_BPF/CAP_PERFMON, bpf(2) past nspawn's own seccomp filter, and a bpffs instance of its own
# bind-mounted on /sys/fs/bpf (nspawn mounts /sys read-only and no bpffs), so its pins never meet the
# host's. Everything it creates is removed on exit, failure or not: the container, its cgroups, the bpffs
# mount, the rootfs.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
# Container, cgroup and directory names: unique per run; OM_TEST_PREFIX lets a shared host tell runs apart.
name=${OM_TEST_PREFIX:-om-}pkg-$$
work=$(realpath -m "$BUILD/package-test/$name")
root=$work/root
deb=$(ls "$BUILD"/originmail_*_amd64.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "test-package: no $BUILD/originmail_*_amd64.deb (make deb)"; exit 1; }

passed=0
failed=0
check() { # check DESCRIPTION COMMAND... : the command's status decides
	local what=$1
	shift
	if "$@" >"$work/last.out" 2>&1; then
		echo "ok   package: $what"
		passed=$((passed + 1))
	else
		echo "FAIL package: $what"
		sed 's/^/     | /' "$work/last.out" | tail -20
		failed=$((failed + 1))
	fi
}

nspawn_pid=
leader=
# Where nspawn makes its cgroups: the hybrid layout's unified and name=systemd trees, or one cgroup2 root.
hierarchies=
for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
	[ -e "$h/cgroup.procs" ] && hierarchies="$hierarchies $h"
done
[ -n "$hierarchies" ] || hierarchies=/sys/fs/cgroup
cleanup() {
	set +e
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		kill -TERM "$nspawn_pid" # nspawn asks the container's systemd to power off
		for _ in $(seq 1 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.25; done
		kill -KILL "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null
	fi
	# The container's init, should it outlive nspawn: killing a PID namespace's init ends the namespace.
	[ -n "$leader" ] && kill -0 "$leader" 2>/dev/null && kill -KILL "$leader"
	mountpoint -q "$work/bpffs" && umount "$work/bpffs"
	mountpoint -q "$root" && umount -R "$root"
	# nspawn's payload/supervisor cgroups were made below ours: remove the whole subtree, leaves first.
	for h in $hierarchies; do
		[ -d "$h/$name" ] && find "$h/$name" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	rm -rf "$work"
	rmdir "$BUILD/package-test" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work"

# ---- the rootfs: systemd, python3 for the clients, man-db for verify, and the .deb's Depends ----
depends=$(dpkg-deb --field "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/ //g' | grep .)
include=$(printf '%s\n' systemd systemd-sysv dbus python3 man-db $depends | sort -u | paste -sd, -)
cache=$BUILD/package-rootfs-$(echo "$include" | sha256sum | cut -c1-12).tar.zst
if [ ! -s "$cache" ]; then
	echo "test-package: making the rootfs ($include)"
	nice -n 10 mmdebstrap --quiet --variant=apt --include="$include" bookworm "$cache.tmp.tar.zst" ||
		{ echo "test-package: mmdebstrap failed"; exit 1; }
	mv "$cache.tmp.tar.zst" "$cache"
fi
mkdir -p "$root" "$work/bpffs"
# In memory: extracting is quick, and removing it is one umount (rm -r of the tree took half a minute).
mount -t tmpfs -o size=2g,mode=0755 "$name" "$root" || exit 1
tar -C "$root" --zstd -xf "$cache" || exit 1
cp "$deb" "$root/srv/"
cp tests/package/client.py "$root/srv/client.py"
mount -t bpf bpf "$work/bpffs" || exit 1

# ---- boot it, from a cgroup of our own (the host's PID 1 is not systemd: nspawn makes its cgroups
# below the one it starts in) ----
for h in $hierarchies; do
	mkdir -p "$h/$name"
done
(
	for h in $hierarchies; do
		echo $BASHPID >"$h/$name/cgroup.procs"
	done
	exec systemd-nspawn --quiet --boot --register=no --keep-unit --private-network -M "$name" \
		--capability=CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN --system-call-filter=bpf --bind="$work/bpffs:/sys/fs/bpf" -D "$root"
) >"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!
for _ in $(seq 1 120); do
	leader=$(pgrep -P "$nspawn_pid" | head -1)
	[ -n "$leader" ] && break
	sleep 0.25
done
[ -n "$leader" ] || { echo "test-package: the container did not start"; cat "$work/console.log"; exit 1; }
inside() { nsenter -t "$leader" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
# systemctl reload returns when kill has signalled; the daemon's "Reloaded" line says it is done.
reload() {
	local before
	before=$(inside journalctl -u originmail -b --no-pager | grep -c "Reloaded /etc/originmail/originmail.conf")
	inside systemctl reload originmail || return 1
	for _ in $(seq 1 40); do
		[ "$(inside journalctl -u originmail -b --no-pager | grep -c "Reloaded /etc/originmail/originmail.conf")" -gt "$before" ] &&
			return 0
		sleep 0.25
	done
	return 1
}
# Until its systemd listens on the bus, systemctl fails at once: ask again.
state=
for _ in $(seq 1 120); do
	state=$(inside timeout 60 systemctl is-system-running --wait 2>/dev/null)
	case $state in running | degraded) break ;; esac
	sleep 0.5
done
check "the container boots to multi-user ($state)" test "$state" = running -o "$state" = degraded

# ---- install ----
base=$(basename "$deb")
# --private-network: no way out, so apt can only take the dependencies from the rootfs.
check "apt install ./$base (offline: the dependencies are in the rootfs)" \
	inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/srv/$base"
[ "$failed" -eq 0 ] || { echo "package: $passed passed, $failed failed (stopped: nothing to test)"; exit 1; }
check "postinst made the originmail user and group" inside sh -c 'getent passwd originmail && getent group originmail'
check "mail store and queue belong to originmail, mode 750" inside sh -c \
	'[ "$(stat -c "%U:%G %a" /var/lib/originmail/mail /var/lib/originmail/queue | sort -u)" = "originmail:originmail 750" ]'
check "passwd-file and TLS key: root:originmail 640" inside sh -c \
	'[ "$(stat -c "%U:%G %a" /etc/originmail/passwd /etc/originmail/tls/key.pem | sort -u)" = "root:originmail 640" ]'
check "originmail.conf is a conffile" inside sh -c 'dpkg-query -W -f="\${Conffiles}" originmail | grep -q "/etc/originmail/originmail.conf "'
check "systemd-analyze verify: both units" inside systemd-analyze verify originmail.service originmail@.service
inside systemd-analyze security originmail.service >"$work/security.txt" 2>&1
echo "     | $(tail -1 "$work/security.txt")"
check "man originmaild works" inside sh -c 'man -P cat originmaild | grep -q PROXY'

# ---- start, use ----
check "systemctl start originmail" inside systemctl start originmail
check "active, and BPF attached at originmail.slice" inside sh -c \
	'systemctl is-active originmail && journalctl -u originmail -b --no-pager | grep "BPF metadata on: sock_ops on cgroup .*/originmail.slice"'
check "Type=notify: STATUS= from the daemon" inside sh -c \
	'systemctl show -p StatusText --value originmail | grep -E "^6 listeners, bpf attached, [0-9]+ connections?$"'
check "originctl passwd adds a user" inside sh -c \
	'echo package-test-secret | originctl passwd -c /etc/originmail/originmail.conf alice@localhost'
check "systemctl reload reads it" reload
subject="package-test-$$"
inside python3 /srv/client.py send "$subject" >"$work/send.out" 2>&1
check "a message sent with a PROXY v2 header" grep -q "^SENT $subject" "$work/send.out"
check "originctl conns shows the origin 203.0.113.10 while it is open" grep -q '^CONNS .*203\.0\.113\.10' "$work/send.out"
inside python3 /srv/client.py read "$subject" >"$work/read.out" 2>&1
check "read back over IMAP (PROXY v2, STARTTLS): Received: names the origin" \
	grep -q "^RECEIVED .*203\.0\.113\.10" "$work/read.out"
check "GET /metrics answers, BPF attached (python: no curl in the rootfs)" inside python3 -c \
	'import urllib.request as u; b=u.urlopen("http://127.0.0.1:9154/metrics").read().decode(); assert "originmail_bpf_attached 1" in b, b[:300]'

# ---- reload with a changed trusted-proxy list ----
inside python3 /srv/client.py probe 127.0.0.2 25 >"$work/probe1.out" 2>&1
check "before the reload 127.0.0.2 is refused" grep -q "^FIRST 421" "$work/probe1.out"
check "journalctl -p warning shows the refusal (journald priorities)" inside sh -c \
	'journalctl -u originmail -p warning -b --no-pager | grep "warning: Refused connection from 127.0.0.2" &&
	 ! journalctl -u originmail -p warning -b --no-pager | grep "info: "'
inside sed -i 's/^proxy_trusted = 127.0.0.1, ::1$/proxy_trusted = 127.0.0.1, 127.0.0.2, ::1/' /etc/originmail/originmail.conf
check "systemctl reload originmail" reload
inside python3 /srv/client.py probe 127.0.0.2 25 >"$work/probe2.out" 2>&1
check "after the reload 127.0.0.2 is a trusted proxy" grep -q "^FIRST 220" "$work/probe2.out"

# ---- a second instance from the template, in the same slice, sharing the pins ----
inside sh -c "sed -e 's/:25\\b/:2525/g; s/:587\\b/:2587/g; s/:143\\b/:2143/g; s/:9154/:9155/' \
	/etc/originmail/originmail.conf >/etc/originmail/second.conf"
check "systemctl start originmail@second" inside systemctl start originmail@second
check "both instances below originmail.slice" inside sh -c \
	'systemctl show -p ControlGroup --value originmail@second | grep -q "^/originmail.slice/" &&
	 systemctl show -p ControlGroup --value originmail | grep -q "^/originmail.slice/"'
check "originctl policy lists two instances" inside sh -c \
	'[ "$(originctl policy --json | grep -o "\"pid\": *[0-9]*" | sort -u | wc -l)" -ge 2 ] || originctl policy'
check "stopping the second keeps the pins for the first" inside sh -c \
	'systemctl stop originmail@second && ls /sys/fs/bpf/originmail/conns &&
	 journalctl -u originmail@second -b --no-pager | grep "kept, 1 instance still running"'

# ---- an upgrade keeps the operator's edit ----
check "reinstalling the package keeps the edited conffile" inside sh -c \
	"cd /srv && DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold ./$base &&
	 grep -q '^proxy_trusted = 127.0.0.1, 127.0.0.2, ::1$' /etc/originmail/originmail.conf &&
	 systemctl is-active originmail"

# On failure, what the daemon said (before the purge takes its journal's context away).
if [ "$failed" -gt 0 ]; then
	inside journalctl -b --no-pager -o short-monotonic -u 'originmail*' | tail -40 | sed 's/^/     journal| /'
	tail -n 5 "$work"/*.out | sed 's/^/     client| /'
fi

# OM_TEST_HOLD=SECONDS: time to look inside (nsenter -t LEADER -a) before the stop and purge.
if [ -n "${OM_TEST_HOLD:-}" ]; then
	echo "package: holding $OM_TEST_HOLD s: nsenter -t $leader -a bash"
	sleep "$OM_TEST_HOLD"
fi

# Nothing in the container's bpffs but what the kernel puts in every instance (bpf_preload's *.debug).
no_pins() {
	local left
	left=$(ls -A "$work/bpffs" | grep -v -x -e maps.debug -e progs.debug)
	[ -z "$left" ] || { ls -R "$work/bpffs"; return 1; }
}

# ---- stop, purge ----
check "systemctl stop originmail" inside systemctl stop originmail
check "no originmaild left" inside sh -c '! pgrep -x originmaild'
check "no pinned object left" no_pins
# A template instance still running at removal: prerm stops it (its file goes first: it is the operator's,
# and purge removes only what the package made).
check "originmail@second runs again" inside sh -c 'systemctl start originmail@second && rm /etc/originmail/second.conf'
check "apt purge originmail" inside env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q originmail
check "the purge stopped the instance: no originmaild left" inside sh -c '! pgrep -a originmaild'
check "and its stop removed the pins" no_pins
check "no user or group left" inside sh -c '! getent passwd originmail && ! getent group originmail'
check "no directory left" inside sh -c '! ls -d /etc/originmail /var/lib/originmail 2>/dev/null'
check "no unit left" inside sh -c \
	'! ls /lib/systemd/system/originmail* /etc/systemd/system/*/originmail* 2>/dev/null &&
	 [ -z "$(systemctl list-unit-files --no-legend "originmail*")" ]'

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
