#!/usr/bin/env bash
# The deployment, on one machine: hosts as network namespaces joined by veth pairs to a switch namespace
# (never to the root namespace, no default route out), documentation addresses only.
#
#   scripts/topology.sh up [BUILD]     build it all and start the instances, HAProxy and nginx (idempotent)
#   scripts/topology.sh down           stop and remove everything, also after a crash (by name and PID)
#   scripts/topology.sh status         what exists now
#
#   front 203.0.113.0/24, 2001:db8:1::/64     client .10   outsider .66   haproxy .1   nginx .2
#   back  198.51.100.0/24, 2001:db8:2::/64    mx1 .11   mx2 .12   admin .50   proxy side .1
#
# The proxy namespace routes between the two segments, so an outsider can reach an instance directly and be
# refused by the instance's own policy. Environment: TOPO_DIR (state, default /tmp/originmail-topo),
# TOPO_HAPROXY (a config under examples/haproxy/, default originmail.cfg), TOPO_INSTANCES (default 2).
set -u
cd "$(dirname "$0")/.." || exit 1
TOPO_DIR=${TOPO_DIR:-/tmp/originmail-topo}
TOPO_HAPROXY=${TOPO_HAPROXY:-originmail.cfg}
TOPO_INSTANCES=${TOPO_INSTANCES:-2}
HOSTS_FRONT="client:10 outsider:66"
HOSTS_BACK="admin:50"
NS_ALL="om-sw om-proxy om-client om-outsider om-admin om-mx1 om-mx2 om-mx3"

ns() { ip netns exec "$@"; }
log() { printf 'topology: %s\n' "$*"; }

mx_hosts() {
	for i in $(seq 1 "$TOPO_INSTANCES"); do printf 'mx%d:%d ' "$i" $((10 + i)); done
}

# A veth from host namespace $1 to the switch, enslaved to bridge $2, with addresses $3 (v4) and $4 (v6).
link_host() {
	local host=$1 br=$2 v4=$3 v6=$4 dev=eth-${2#br-}
	ip link add "$dev" netns "om-$host" type veth peer name "${host:0:8}-${br#br-}" netns om-sw || return 1
	ns om-sw ip link set "${host:0:8}-${br#br-}" master "$br" up
	ns "om-$host" ip link set lo up
	ns "om-$host" ip addr add "$v4" dev "$dev"
	ns "om-$host" ip -6 addr add "$v6" dev "$dev" nodad
	ns "om-$host" ip link set "$dev" up
}

make_namespaces() {
	ip netns add om-sw || return 1
	ns om-sw ip link set lo up
	for br in br-front br-back; do
		ns om-sw ip link add "$br" type bridge
		ns om-sw ip link set "$br" up
	done
	ip netns add om-proxy
	link_host proxy br-front 203.0.113.1/24 2001:db8:1::1/64 || return 1
	ns om-proxy ip addr add 203.0.113.2/24 dev eth-front # nginx's own front address
	ns om-proxy ip -6 addr add 2001:db8:1::2/64 dev eth-front nodad
	link_host proxy br-back 198.51.100.1/24 2001:db8:2::1/64 || return 1
	ns om-proxy sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	local h n
	for hn in $HOSTS_FRONT; do
		h=${hn%%:*} n=${hn##*:}
		ip netns add "om-$h"
		link_host "$h" br-front "203.0.113.$n/24" "2001:db8:1::$n/64" || return 1
		ns "om-$h" ip route add 198.51.100.0/24 via 203.0.113.1
		ns "om-$h" ip -6 route add 2001:db8:2::/64 via 2001:db8:1::1
	done
	for hn in $HOSTS_BACK $(mx_hosts); do
		h=${hn%%:*} n=${hn##*:}
		ip netns add "om-$h"
		link_host "$h" br-back "198.51.100.$n/24" "2001:db8:2::$n/64" || return 1
		ns "om-$h" ip route add 203.0.113.0/24 via 198.51.100.1
		ns "om-$h" ip -6 route add 2001:db8:1::/64 via 2001:db8:2::1
	done
}

make_files() {
	mkdir -p "$TOPO_DIR"/{mail,log,run} || return 1
	chmod 0755 "$TOPO_DIR"
	[ -s "$TOPO_DIR/passwd" ] || : >"$TOPO_DIR/passwd"
	chmod 0644 "$TOPO_DIR/passwd"
	if [ ! -s "$TOPO_DIR/server.pem" ]; then
		python3 - "$TOPO_DIR" <<'EOF' || return 1
import sys
sys.path.insert(0, "tests/integration")
from harness import make_ca_and_cert
class T:
    path = sys.argv[1]
    def file(self, name, content=None):
        import os
        p = os.path.join(self.path, name)
        if content is not None:
            open(p, "w").write(content)
        return p
make_ca_and_cert(T())
EOF
	fi
	local i
	for i in $(seq 1 "$TOPO_INSTANCES"); do
		sed -e "s|@NAME@|mx$i|g" -e "s|@ADDR4@|198.51.100.$((10 + i))|g" -e "s|@ADDR6@|2001:db8:2::$((10 + i))|g" \
			-e "s|@DIR@|$TOPO_DIR|g" examples/topology/instance.conf.in >"$TOPO_DIR/mx$i.conf"
	done
}

# Start each instance in its namespace; ready when its log says so (not after a sleep).
start_instances() {
	local build=$1 i t
	for i in $(seq 1 "$TOPO_INSTANCES"); do
		# nsenter, not "ip netns exec": that remounts /sys, hiding the cgroup2 and bpf file systems the
		# instance attaches its BPF programs through.
		nsenter --net="/run/netns/om-mx$i" "$build/originmaild" -c "$TOPO_DIR/mx$i.conf" \
			>"$TOPO_DIR/log/mx$i.log" 2>&1 &
		echo $! >"$TOPO_DIR/run/mx$i.pid"
	done
	for i in $(seq 1 "$TOPO_INSTANCES"); do
		for t in $(seq 1 100); do
			grep -q "originmaild ready" "$TOPO_DIR/log/mx$i.log" 2>/dev/null && break
			kill -0 "$(cat "$TOPO_DIR/run/mx$i.pid")" 2>/dev/null || break
			sleep 0.1
		done
		grep -q "originmaild ready" "$TOPO_DIR/log/mx$i.log" || {
			log "mx$i did not start:"
			tail -5 "$TOPO_DIR/log/mx$i.log"
			return 1
		}
	done
}

wait_port() { # namespace address port
	local t
	for t in $(seq 1 100); do
		ns "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

start_proxies() {
	local cfg=examples/haproxy/$TOPO_HAPROXY
	haproxy -c -q -f "$cfg" || return 1
	ns om-proxy haproxy -db -f "$cfg" >"$TOPO_DIR/log/haproxy.log" 2>&1 &
	echo $! >"$TOPO_DIR/run/haproxy.pid"
	sed "s|@DIR@|$TOPO_DIR|g" examples/nginx/originmail-stream.conf.in >"$TOPO_DIR/nginx.conf"
	ns om-proxy nginx -c "$TOPO_DIR/nginx.conf" -g "daemon off; pid $TOPO_DIR/run/nginx-master.pid;" \
		>"$TOPO_DIR/log/nginx.log" 2>&1 &
	echo $! >"$TOPO_DIR/run/nginx.pid"
	wait_port om-client 203.0.113.1 25 && wait_port om-client 203.0.113.2 25
}

up() {
	local build=${1:-build}
	if ip netns list | grep -q '^om-sw'; then
		log "already up (scripts/topology.sh down first to rebuild)"
		return 0
	fi
	make_namespaces || { log "cannot create the namespaces"; down; return 1; }
	make_files || { log "cannot write $TOPO_DIR"; down; return 1; }
	start_instances "$build" || { down; return 1; }
	start_proxies || { log "proxies did not start"; tail -5 "$TOPO_DIR/log/haproxy.log"; down; return 1; }
	log "up: client 203.0.113.10 -> haproxy 203.0.113.1 / nginx 203.0.113.2 -> mx1..mx$TOPO_INSTANCES (198.51.100.11+)"
}

down() {
	local f n
	for f in "$TOPO_DIR"/run/*.pid; do
		[ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	sleep 0.2
	# Whatever still runs inside our namespaces (after a crash, pidfiles may be gone): by namespace.
	for n in $NS_ALL; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
	for n in $NS_ALL; do
		ip netns del "$n" 2>/dev/null
	done
	rm -rf "$TOPO_DIR"
	# Instances that dropped privileges cannot unpin the shared BPF maps (docs/bpf.md): with no originmaild
	# left on the host, the pins and the empty cgroup are leftovers.
	for n in $(seq 1 30); do
		pgrep -x originmaild >/dev/null || break
		sleep 0.1
	done
	if ! pgrep -x originmaild >/dev/null; then
		rm -rf /sys/fs/bpf/originmail
		local cg
		cg=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
		[ -n "$cg" ] && rmdir "$cg/originmail" 2>/dev/null
	fi
	return 0
}

status() {
	local n
	for n in $NS_ALL; do
		ip netns list | grep -q "^$n\b" || continue
		printf '%-12s %s\n' "$n" "$(ns "$n" ip -brief addr 2>/dev/null |
			awk '$1 != "lo" { for (i = 3; i <= NF; i++) if ($i !~ /^fe80/) printf "%s ", $i }')"
		ip netns pids "$n" | while read -r p; do printf '             pid %s %s\n' "$p" "$(tr '\0' ' ' </proc/"$p"/cmdline | cut -c1-80)"; done
	done
}

case ${1:-} in
up) up "${2:-build}" ;;
down) down ;;
status) status ;;
*)
	echo "usage: scripts/topology.sh up [BUILD] | down | status" >&2
	exit 64
	;;
esac
