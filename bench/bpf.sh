#!/bin/sh
# The cost of the kernel side (docs/bpf.md): originmaild with `bpf = on` against the same build with
# `bpf = off`, and with `bpf = on` + `bpf_sk_msg = denied` (only refused peers through sk_msg), all three
# behind the same HAProxy, in one run.
#
#   bench/bpf.sh [BUILD]        (scripts/bench.sh calls it; `make bench` runs that)
#
# Markdown results go to stdout, progress to stderr. All on loopback, in a temporary directory:
#   three originmaild, the same configuration but for `bpf` (on, denied = on with bpf_sk_msg = denied,
#     off), one smtp listener each (proxy = required, proxy_trusted = 127.0.0.1, HAProxy's source),
#     dropping to nobody. Each BPF one uses its own pin directory and cgroup (never the host's
#     /sys/fs/bpf/originmail, which live instances may share), so its sock_ops program sees only its own
#     sockets, not the other daemons', HAProxy's or the client's.
#   HAProxy: one frontend per daemon, `send-proxy` (v1), the same timeouts.
# Measured with bench/smtp_load through HAProxy, the three interleaved (the order rotating), REPEATS
# rounds of short runs after a warm-up:
#   SMTP sessions/s at concurrency 16 (connect, 220, EHLO, MAIL, RCPT, DATA 10 KiB, QUIT, 221);
#   connections/s at concurrency 16 (connect, 220, QUIT, 221: where the per-connection work weighs most);
#   and the machine's CPU time per session during each run (/proc/stat, all cores, idle excluded).
# Cost = 1 - on / off within each round, then its median and quartiles over the rounds: on this shared
# 2-core host one run can differ from the next by 10%, and runs seconds apart drift together, so many
# short paired rounds say more than a few long ones; the goal is less than 3%. After them, PROG_RUNS conn runs per BPF
# daemon with kernel.bpf_stats_enabled=1 (restored after) give the programs' own run time per connection
# from bpftool; the counting itself (two clock reads per program run) stays out of the measured runs.
# Then bench/bpf_lookup, as an instance of its own (pins, cgroup, port) holding 200 connections to itself,
# times the daemon's two calls per connection on its entry (the getsockopt at accept that brings the
# entry, the setsockopt that writes the origin) against the bpf() calls on the map they replace.
#
# Last, where the time goes: one connection run per daemon under `perf record -a` (BPF_PROFILE_CONNS
# connections, skipped when perf is missing or with 0), the samples summed by part of the BPF machinery
# (bench/perf_split.awk) in µs of CPU per connection, beside `bpf = off`'s.
#
# Messages are written to a tmpfs (/dev/shm) when there is one, deleted after each run.
# Environment: BPF_REPEATS (30), BPF_PROG_RUNS (3), BPF_SESSIONS (1000), BPF_CONNS (5000),
# BPF_PROFILE_CONNS (100000), BPF_KEEP=1 keeps the temp dir.
set -eu
BUILD=${1:-build}
cd "$(dirname "$0")/.."
REPEATS=${BPF_REPEATS:-30}
PROG_RUNS=${BPF_PROG_RUNS:-3}
PROFILE_CONNS=${BPF_PROFILE_CONNS:-100000}
PERF_HZ=4000
SESSIONS=${BPF_SESSIONS:-1000}
CONNS=${BPF_CONNS:-5000}
C=16
LOAD="$BUILD/smtp_load"
RCPT=bench@example.test

BENCH=bpf BENCH_TITLE=BPF
# shellcheck source=bench/lib.sh
. bench/lib.sh
need_tools haproxy ss awk
need_built "$BUILD" originmaild originctl smtp_load bpf_lookup
[ "$(id -u)" = 0 ] || die "needs root (BPF programs, cgroups)"
cg2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
[ -n "$cg2" ] || die "no cgroup2 mount"

tmp=$(mktemp -d /tmp/originmail-bpfbench.XXXXXX)
chmod 755 "$tmp"
# The messages go to a tmpfs when there is one: the disk's fsync times, which vary from run to run by
# more than the cost measured here, then stay out of the SMTP figures (which only makes the kernel's
# share of each session larger). Each run's messages are deleted after it.
mail=$tmp
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
	mail=$(mktemp -d /dev/shm/originmail-bpfbench.XXXXXX)
	chmod 755 "$mail"
fi
PIN=/sys/fs/bpf/originmail-bench-$$
PIN_D=/sys/fs/bpf/originmail-bench-denied-$$
CG=$cg2/originmail-bench-$$
CG_D=$cg2/originmail-bench-denied-$$
CG_O=$cg2/originmail-bench-off-$$
PIN_L=/sys/fs/bpf/originmail-bench-lookup-$$
CG_L=$cg2/originmail-bench-lookup-$$
ON_PID="" DENIED_PID="" OFF_PID="" HAP_PID=""
STATS_WAS=$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || echo 0)
ok=0

cleanup() {
	set +e
	stop_pid "$HAP_PID"
	stop_server "$ON_PID"
	stop_server "$DENIED_PID"
	stop_server "$OFF_PID"
	echo "$STATS_WAS" >/proc/sys/kernel/bpf_stats_enabled 2>/dev/null
	# The daemon ran as nobody at exit and may have had to leave its pins: ours to remove.
	remove_pins "$PIN" "$CG"
	remove_pins "$PIN_L" "$CG_L"
	remove_pins "$PIN_D" "$CG_D"
	[ -d "$CG_O" ] && rmdir "$CG_O" 2>/dev/null
	[ "$mail" != "$tmp" ] && rm -rf "$mail"
	remove_tmp "${BPF_KEEP:-0}"
}
on_exit cleanup

# Ports below 32768 so no ephemeral port of the many short connections can hold one.
base=$((21000 + ($$ % 500) * 20))
ON_PORT=$(free_port $base)
DENIED_PORT=$(free_port $((ON_PORT + 1)))
OFF_PORT=$(free_port $((DENIED_PORT + 1)))
HON_PORT=$(free_port $((OFF_PORT + 1)))
HDENIED_PORT=$(free_port $((HON_PORT + 1)))
HOFF_PORT=$(free_port $((HDENIED_PORT + 1)))

: >"$tmp/passwd"
for mode in on denied off; do
	case $mode in
	on)
		port=$ON_PORT
		bpf=$(printf 'bpf = on\nbpf_pin_dir = %s\nbpf_cgroup = %s' "$PIN" "$CG")
		;;
	denied)
		port=$DENIED_PORT
		bpf=$(printf 'bpf = on\nbpf_sk_msg = denied\nbpf_pin_dir = %s\nbpf_cgroup = %s' "$PIN_D" "$CG_D")
		;;
	off)
		port=$OFF_PORT
		bpf="bpf = off"
		;;
	esac
	mkdir -p "$tmp/$mode"
	{ om_conf "$mail/$mode/mail" "$tmp/passwd" && cat; } >"$tmp/$mode/originmail.conf" <<CONF
$bpf

[listener smtp]
address = 127.0.0.1:$port
protocol = smtp
proxy = required
proxy_trusted = 127.0.0.1
CONF
done
echo "bench-secret" | "$BUILD/originctl" passwd -c "$tmp/on/originmail.conf" $RCPT >/dev/null ||
	die "originctl passwd failed"
chmod 644 "$tmp/passwd"
"$BUILD/originmaild" -c "$tmp/on/originmail.conf" >"$tmp/on/originmaild.log" 2>&1 &
ON_PID=$!
"$BUILD/originmaild" -c "$tmp/denied/originmail.conf" >"$tmp/denied/originmaild.log" 2>&1 &
DENIED_PID=$!
# bpf = off runs in a cgroup of its own too, as each daemon would under systemd (its service's), so the
# comparison is of the BPF programs, not of being in a child cgroup or the root one.
mkdir -p "$CG_O" || die "cannot create $CG_O"
# shellcheck disable=SC2016 # $$ is the inner shell's, which exec makes the daemon's
sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" -c "$3"' sh "$CG_O" "$BUILD/originmaild" "$tmp/off/originmail.conf" \
	>"$tmp/off/originmaild.log" 2>&1 &
OFF_PID=$!
for mode in on denied off; do
	wait_for 10 grep -qs "originmaild ready" "$tmp/$mode/originmaild.log" ||
		die "originmaild ($mode) did not start: $(tail -3 "$tmp/$mode/originmaild.log")"
done
for mode in on denied; do
	grep -q "BPF metadata on" "$tmp/$mode/originmaild.log" ||
		die "the $mode daemon has no BPF: $(grep BPF "$tmp/$mode/originmaild.log")"
done

cat >"$tmp/haproxy.cfg" <<CONF
global
    maxconn 8000
defaults
    mode tcp
    maxconn 4000
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend fe_on
    bind 127.0.0.1:$HON_PORT
    default_backend be_on
frontend fe_denied
    bind 127.0.0.1:$HDENIED_PORT
    default_backend be_denied
frontend fe_off
    bind 127.0.0.1:$HOFF_PORT
    default_backend be_off
backend be_on
    server on 127.0.0.1:$ON_PORT send-proxy
backend be_denied
    server denied 127.0.0.1:$DENIED_PORT send-proxy
backend be_off
    server off 127.0.0.1:$OFF_PORT send-proxy
CONF
start_haproxy "$HOFF_PORT"
log "bpf = on :$ON_PORT (pid $ON_PID, pins $PIN), bpf_sk_msg = denied :$DENIED_PORT (pid $DENIED_PID," \
	"pins $PIN_D), bpf = off :$OFF_PORT (pid $OFF_PID), HAProxy :$HON_PORT/:$HDENIED_PORT/:$HOFF_PORT"

frontend_of() {
	case $1 in
	on) echo "$HON_PORT" ;;
	denied) echo "$HDENIED_PORT" ;;
	*) echo "$HOFF_PORT" ;;
	esac
}
# prog_ns MODE: "sockops_ns skmsg_ns", the run time so far of that daemon's programs: its sock_ops is the
# one attached to its cgroup, its sk_msg the one sharing its maps (each daemon has maps of its own).
prog_ns() {
	if [ "$1" = on ]; then cg=$CG; else cg=$CG_D; fi
	sid=$(bpftool cgroup show "$cg" 2>/dev/null | awk '$NF == "om_sockops" {print $1; exit}')
	[ -n "$sid" ] || {
		echo "0 0"
		return
	}
	bpftool prog show | awk -v sid="$sid" '
		/^[0-9]+:/ { id = $1; sub(":", "", id); name = ""; rt = 0
			for (i = 1; i <= NF; i++) { if ($i == "name") name = $(i + 1); if ($i == "run_time_ns") rt = $(i + 1) } }
		/map_ids/ { for (i = 1; i <= NF; i++) if ($i == "map_ids") maps[id] = $(i + 1)
			nm[id] = name; t[id] = rt }
		END {
			n = split(maps[sid], mine, ",")
			for (m = 1; m <= n; m++) own[mine[m]] = 1
			sk = 0
			for (p in maps) if (nm[p] == "om_skmsg") {
				k = split(maps[p], theirs, ","); shared = 0
				for (j = 1; j <= k; j++) if (theirs[j] in own) shared++
				if (shared > 0) sk = t[p]
			}
			printf "%d %d\n", t[sid] + 0, sk + 0 }'
}
# busy_ticks: the machine's CPU time so far, all cores, in clock ticks (user, nice, system, irq, softirq,
# steal: all but idle and iowait)
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
HZ=$(getconf CLK_TCK)
# run MODE KIND REPEAT: one load run; KIND smtp (full sessions) or conn (connect, 220, QUIT, 221).
run() {
	if [ "$2" = smtp ]; then args="-n $SESSIONS -s 10240"; else args="-n $CONNS -g"; fi
	sync
	b0=$(busy_ticks)
	# shellcheck disable=SC2086 # options, split on purpose
	r=$("$LOAD" -t "127.0.0.1:$(frontend_of "$1")" -c $C $args -T 60 2>>"$tmp/load.log" | grep '^RESULT') ||
		r="RESULT ok=0 errors=1 sessions_per_s=0"
	b1=$(busy_ticks)
	if [ "$3" -gt 0 ]; then
		echo "$1 $2 $3 $(field "$r" ok) $(field "$r" errors) $(field "$r" sessions_per_s) $((b1 - b0))" >>"$tmp/runs"
	fi
	log "$1, $2 #$3: $(echo "$r" | cut -d' ' -f2-)"
	find "$mail/$1" -type f -path '*/new/*' -delete 2>/dev/null || true
}
: >"$tmp/runs"
for k in smtp conn; do for m in on denied off; do run $m $k 0; done; done # warm-up: not recorded
i=1
while [ $i -le "$REPEATS" ]; do
	for k in smtp conn; do
		case $((i % 3)) in # the order rotates, so that drift hits each alike
		1) order="on denied off" ;;
		2) order="denied off on" ;;
		*) order="off on denied" ;;
		esac
		for m in $order; do run "$m" "$k" "$i"; done
	done
	i=$((i + 1))
done

# The programs' own time: conn runs with the kernel counting it.
echo 1 >/proc/sys/kernel/bpf_stats_enabled || die "cannot enable kernel.bpf_stats_enabled"
: >"$tmp/prog"
i=1
while [ $i -le "$PROG_RUNS" ]; do
	for m in on denied; do
		before=$(prog_ns $m)
		"$LOAD" -t "127.0.0.1:$(frontend_of $m)" -c $C -n "$CONNS" -g -T 60 >/dev/null 2>>"$tmp/load.log" ||
			die "the bpf_stats run of $m failed"
		echo "$m $before $(prog_ns $m)" >>"$tmp/prog"
	done
	i=$((i + 1))
done
echo "$STATS_WAS" >/proc/sys/kernel/bpf_stats_enabled

# Where the time goes: a profile of the whole machine per daemon, self time by symbol.
profile=""
if [ "$PROFILE_CONNS" -gt 0 ] && command -v perf >/dev/null; then
	: >"$tmp/profile-cpu"
	for m in on denied off; do
		b0=$(busy_ticks)
		perf record -q -a -F $PERF_HZ -o "$tmp/perf-$m.data" -- "$LOAD" -t "127.0.0.1:$(frontend_of $m)" -c $C \
			-n "$PROFILE_CONNS" -g -T 120 >/dev/null 2>>"$tmp/load.log" || die "perf record ($m) failed"
		echo "$m $(($(busy_ticks) - b0))" >>"$tmp/profile-cpu"
	done
	profile=$(for m in on denied off; do
		echo "MODE $m"
		perf report -i "$tmp/perf-$m.data" --no-children --sort sym -n --stdio -q 2>/dev/null
	done | awk -v hz=$PERF_HZ -v conns="$PROFILE_CONNS" -f bench/perf_split.awk)
	rm -f "$tmp"/perf-*.data
else
	log "no perf (or BPF_PROFILE_CONNS=0): no profile"
fi

# The daemon's calls on its entry, timed by bench/bpf_lookup as an instance of its own.
LK_PORT=$(free_port $((HOFF_PORT + 1)))
{ om_conf "$mail/lookup" "$tmp/passwd" && cat; } >"$tmp/lookup.conf" <<CONF
bpf = on
bpf_pin_dir = $PIN_L
bpf_cgroup = $CG_L

[listener smtp]
address = 127.0.0.1:$LK_PORT
protocol = smtp
proxy = required
proxy_trusted = 127.0.0.1
CONF
lk=$("$BUILD/bpf_lookup" "$tmp/lookup.conf" 200000 2>>"$tmp/load.log") || die "bpf_lookup failed: $(tail -2 "$tmp/load.log")"
log "$lk"

median() { # MODE KIND: "median min max" of sessions/s
	awk -v m="$1" -v k="$2" '$1 == m && $2 == k {print $6}' "$tmp/runs" | median_of "%.1f %.1f %.1f\n"
}
cpu_median() { # MODE KIND: the median of the machine's CPU µs per session
	awk -v m="$1" -v k="$2" -v hz="$HZ" '$1 == m && $2 == k && $4 > 0 {print $7 * 1e6 / hz / $4}' "$tmp/runs" |
		median_of "%.1f"
}
# paired MODE KIND: 1 - MODE / off within each round, in percent: "median first-quartile third-quartile"
paired() {
	awk -v m="$1" -v k="$2" '$2 == k && $1 == m {on[$3] = $6} $2 == k && $1 == "off" {off[$3] = $6}
		END {for (r in on) if (off[r] > 0) print (1 - on[r] / off[r]) * 100}' "$tmp/runs" | sort -g |
		awk '{v[NR] = $1} END {
			q1 = v[int((NR + 3) / 4)]; q3 = v[int((3 * NR + 3) / 4)]
			printf "%.1f %.1f %.1f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, q1, q3}'
}
# prog_median MODE: median over the bpf_stats runs of the programs' ns per connection, "sockops skmsg"
prog_median() {
	for col in 1 2; do
		awk -v m="$1" -v c="$col" -v n="$CONNS" '$1 == m {print ($(3 + c) - $(1 + c)) / n}' \
			"$tmp/prog" | median_of "%.0f "
	done
	echo
}
echo
echo "## BPF metadata: bpf = on against bpf = off, behind the same HAProxy"
echo
echo "Machine: $(nproc) cores, $(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1), kernel $(uname -r)." \
	"Three originmaild of this build, the same configuration but for \`bpf\`: on (\`bpf_sk_msg = all\`," \
	"the default), on with \`bpf_sk_msg = denied\` (only refused peers in the sockhash), and off; each in a" \
	"cgroup of its own (as under systemd), each BPF one with its own pin directory. HAProxy $(haproxy -v | awk 'NR == 1 {print $3}') \`send-proxy\`" \
	"to each; client bench/smtp_load at concurrency $C; the three interleaved (order rotating), $REPEATS" \
	"rounds after a warm-up. Rates: median [min-max] over the rounds. Cost: 1 - on / off within each round," \
	"median [first to third quartile] over the rounds. CPU: the whole machine's (client, HAProxy, daemon," \
	"kernel) per session, median."
echo
echo "| load | bpf = on /s | bpf_sk_msg = denied /s | bpf = off /s | cost (on) | cost (denied) | goal < 3% (on) |"
echo "|---|---:|---:|---:|---:|---:|:---|"
for k in smtp conn; do
	# shellcheck disable=SC2046 # three numbers, split on purpose
	set -- $(median on $k)
	on=$1 onr="$2-$3"
	# shellcheck disable=SC2046 # three numbers, split on purpose
	set -- $(median denied $k)
	dn=$1 dnr="$2-$3"
	# shellcheck disable=SC2046 # three numbers, split on purpose
	set -- $(median off $k)
	off=$1 offr="$2-$3"
	if [ $k = smtp ]; then
		what="SMTP sessions ($SESSIONS per run, 10 KiB message)"
	else
		what="connections ($CONNS per run: connect, 220, QUIT, 221)"
	fi
	# shellcheck disable=SC2046 # three numbers, split on purpose
	set -- $(paired on $k)
	c=$1 cr="$2% to $3%"
	# shellcheck disable=SC2046 # three numbers, split on purpose
	set -- $(paired denied $k)
	awk -v w="$what" -v a="$on" -v ar="$onr" -v d="$dn" -v dr="$dnr" -v b="$off" -v br="$offr" -v c="$c" \
		-v cr="$cr" -v cd="$1" -v cdr="$2% to $3%" 'BEGIN {
		printf "| %s | %.1f [%s] | %.1f [%s] | %.1f [%s] | %.1f%% [%s] | %.1f%% [%s] | %s |\n", w, a, ar, d, dr, b,
			br, c, cr, cd, cdr, (c < 3 ? "met" : "**missed**")}'
done
echo
echo "CPU per session (µs, the whole machine): connections $(cpu_median on conn) with \`bpf = on\`," \
	"$(cpu_median denied conn) with \`bpf_sk_msg = denied\`, $(cpu_median off conn) with \`bpf = off\`;" \
	"SMTP sessions $(cpu_median on smtp), $(cpu_median denied smtp), $(cpu_median off smtp)."
# shellcheck disable=SC2046 # two numbers, split on purpose
set -- $(prog_median on)
po_s=$1 po_m=$2
# shellcheck disable=SC2046 # two numbers, split on purpose
set -- $(prog_median denied)
echo
echo "The programs' own run time per connection (\`kernel.bpf_stats_enabled\`, $PROG_RUNS conn runs per daemon" \
	"after the measured ones; median):" \
	"sock_ops **$po_s ns** and sk_msg **$po_m ns** with \`bpf_sk_msg = all\`; sock_ops **$1 ns** and sk_msg" \
	"**$2 ns** with \`bpf_sk_msg = denied\`. The rest of the cost is the kernel's around them (the psock of" \
	"each socket in the sockhash, the sockmap send path, the per-socket storage) and the daemon's two" \
	"calls per connection on its entry (docs/bpf.md, \"Where the cost goes\")."
echo
echo "The daemon's calls on a connection's entry (bench/bpf_lookup, $(field "$lk" n) calls each over" \
	"$(field "$lk" entries) held connections, mean): at accept, the getsockopt(SO_COOKIE) that brings the" \
	"entry with the cookie **$(field "$lk" accept_ns) ns** (the cookie alone: $(field "$lk" cookie_ns) ns;" \
	"getsockopt + \`bpf_map_lookup_elem\` on the pinned \`conns\` LRU hash instead: $(field "$lk" lookup_ns) ns);" \
	"after the PROXY header, the setsockopt that writes the origin into the entry **$(field "$lk" origin_ns)" \
	"ns** (\`bpf_map_update_elem\` of the whole entry instead: $(field "$lk" update_ns) ns)."
if [ -n "$profile" ]; then
	echo
	echo "Where the time goes: one run of $PROFILE_CONNS connections per daemon under \`perf record -a -F $PERF_HZ\`," \
		"the whole machine's samples of each function summed by part (bench/perf_split.awk), in µs of CPU per" \
		"connection. \`bpf = off\` has some too: the host's own programs on its root cgroup."
	echo
	echo "| part | bpf = on | bpf_sk_msg = denied | bpf = off | on - off | denied - off |"
	echo "|---|---:|---:|---:|---:|---:|"
	echo "$profile" | awk -F'|' '{printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", $1, $2, $3, $4, $2 - $4, $3 - $4
		don += $2 - $4; dde += $3 - $4}
		END {printf "| **all parts** | | | | **%.2f** | **%.2f** |\n", don, dde}'
	echo
	echo "CPU per connection in these runs (the whole machine, /proc/stat, perf's own sampling included):" \
		"$(awk -v hz="$HZ" -v n="$PROFILE_CONNS" '{printf "%s%s %.1f µs", s, $1, $2 * 1e6 / hz / n; s = ", "}' \
			"$tmp/profile-cpu")."
fi
echo
echo "Errors in all runs: $(awk '{e += $5} END {print e + 0}' "$tmp/runs")."
ok=1
