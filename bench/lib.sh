# shellcheck shell=sh
# Shell helpers shared by bench/smtp.sh, bench/imap.sh and bench/bpf.sh (sourced, not run).
# The scripts set BENCH (smtp, imap, bpf: the log prefix) and BENCH_TITLE (for the failure line) before
# sourcing; the helpers read the script's tmp, ok, CONCURRENCY, IDLE and LOAD, and start_haproxy and
# idle_mem set HAP_PID and IDLE_PID, which the scripts' cleanup stops.

log() { echo "$BENCH bench: $*" >&2; }
die() {
	log "FAILED: $*"
	echo
	echo "**$BENCH_TITLE benchmark failed:** $*"
	exit 1
}
need_tools() { # TOOL...: each on PATH
	for t in "$@"; do
		command -v "$t" >/dev/null || die "$t is not installed (make deps-bench)"
	done
}
need_built() { # BUILD PROGRAM...: each built
	b=$1
	shift
	for f in "$@"; do
		[ -x "$b/$f" ] || die "$b/$f is missing (make $b/$f)"
	done
}

stop_pid() { # PID [TENTHS]: SIGTERM, then SIGKILL if it is still there
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
	kill "$1" 2>/dev/null || true
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt "${2:-50}" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$1" 2>/dev/null || true
}
# stop_server PID [COMMAND...]: a server and its children (originmaild's relay-queue worker, a master's
# processes), after COMMAND, the server's own stop, if given.
stop_server() {
	[ -n "$1" ] || return 0
	children=$(ps -o pid= --ppid "$1" 2>/dev/null || true)
	pid=$1
	shift
	[ $# = 0 ] || "$@" >/dev/null 2>&1
	stop_pid "$pid" 100
	for p in $children; do stop_pid "$p" 10; done
}
on_exit() { # FUNCTION: run at exit, on INT and TERM too
	trap "$1" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
remove_pins() { # PIN_DIR CGROUP: an originmaild's own, left behind when it ran as nobody at exit
	[ -d "$1" ] && rm -rf "$1"
	[ -d "$2" ] && rmdir "$2" 2>/dev/null
}
remove_tmp() { # KEEP: the temp dir goes unless the run failed or KEEP is 1
	if [ "$ok" = 1 ] && [ "${1:-0}" != 1 ]; then
		rm -rf "$tmp"
	else
		log "logs and configuration kept in $tmp"
	fi
}
start_haproxy() { # PORT: HAProxy on $tmp/haproxy.cfg, up once it listens on PORT; sets HAP_PID
	haproxy -c -q -f "$tmp/haproxy.cfg" || die "haproxy configuration invalid"
	haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
	HAP_PID=$!
	wait_for 10 listening "$1" || die "HAProxy did not start: $(tail -3 "$tmp/haproxy.log")"
}
om_conf() { # MAIL_ROOT PASSWD_FILE: the settings every benchmark's originmaild shares
	cat <<CONF
hostname = mx1.example.test
domains = example.test
mail_root = $1
passwd_file = $2
user = nobody
log = stderr
max_connections = 4096
origin_max_connections = 0
origin_rate = 0
shutdown_grace = 2s
CONF
}

listening() { [ -n "$(ss -Hltn "sport = :$1")" ]; }
free_port() {
	p=$1
	while listening "$p"; do p=$((p + 1)); done
	echo "$p"
}
wait_for() { # SECONDS COMMAND...: until the command succeeds
	n=$(($1 * 10))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}
now() { date +%s.%N; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
median_of() { # FORMAT: printf FORMAT with the median, min and max of the numbers on stdin
	sort -g | awk -v f="$1" '{v[NR] = $1} END {
		printf f, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR]}'
}

# ---- two servers compared (smtp.sh, imap.sh): originmaild and OTHER ----
pids_of() { # PID: it and its children
	echo "$1"
	ps -o pid= --ppid "$1"
}
mem_of() { # PID: "RSS_KiB PSS_KiB NPROCS" summed over it and its children
	for p in $(pids_of "$1"); do
		r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
		s=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
		echo "${r:-0} ${s:-0}"
	done | awk '{r += $1; s += $2; n++} END {printf "%d %d %d\n", r, s, n}'
}
procs_of() { # PID: "smtpd x1000, master x1, ..."
	ps -o comm= -p "$(pids_of "$1" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')" | sort | uniq -c | sort -rn |
		awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1} END {print ""}'
}
# idle_mem SERVER PID LOAD_ARGS...: memory before and with IDLE idle sessions of $LOAD, appended to
# $tmp/mem and $tmp/mem-procs.
idle_mem() {
	srv=$1 pid=$2
	shift 2
	sleep 1
	# shellcheck disable=SC2046 # three numbers, split on purpose
	set -- $(mem_of "$pid") "$@"
	base_rss=$1 base_pss=$2 base_n=$3
	shift 3
	"$LOAD" "$@" >"$tmp/idle-$srv.out" 2>>"$tmp/load.log" &
	IDLE_PID=$!
	wait_for 150 grep -qs '^IDLE' "$tmp/idle-$srv.out" || die "$srv: $IDLE idle sessions not set up in time"
	sleep 2 # let the last processes start and settle
	ready=$(field "$(cat "$tmp/idle-$srv.out")" ready)
	# shellcheck disable=SC2046 # three numbers, split on purpose
	set -- $(mem_of "$pid")
	procs=$(procs_of "$pid")
	echo "$srv $base_rss $base_pss $base_n $1 $2 $3 $ready" >>"$tmp/mem"
	echo "$srv|$procs" >>"$tmp/mem-procs"
	log "$srv: $ready idle sessions: RSS $base_rss -> $1 KiB, PSS $base_pss -> $2 KiB, $base_n -> $3 processes"
	stop_pid "$IDLE_PID"
	IDLE_PID=""
}
# stats OTHER COLUMN [FILE]: per (server, c): median min max of that column of FILE ($tmp/runs)
stats() {
	for srv in originmaild "$1"; do
		for c in $CONCURRENCY; do
			printf '%s %s ' "$srv" "$c"
			awk -v s="$srv" -v c="$c" -v f="$2" '$1 == s && $2 == c {print $f}' "${3:-$tmp/runs}" |
				median_of "%.6g %.6g %.6g\n"
		done
	done
}
get() { awk -v s="$2" -v c="$3" -v k="$4" '$1 == s && $2 == c {print $k}' "$tmp/$1"; }
r1() { awk -v x="$1" 'BEGIN {printf "%.1f", x}'; }
r2() { awk -v x="$1" 'BEGIN {printf "%.2f", x}'; }
machine_line() {
	echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
		"$(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1), kernel $(uname -r);" \
		"$(df -PT "$tmp" | awk 'NR == 2 {print $2}') under $(dirname "$tmp")."
}
rate_rows() { # OTHER GOAL: the sessions/s rows, originmaild / OTHER against GOAL
	for c in $CONCURRENCY; do
		om=$(get rate originmaild "$c" 3) ot=$(get rate "$1" "$c" 3)
		ratio=$(awk -v a="$om" -v b="$ot" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
		verdict=$(awk -v r="$ratio" -v g="$2" 'BEGIN {print (r >= g ? "met" : "**missed**")}')
		echo "| $c | $(r1 "$om") [$(r1 "$(get rate originmaild "$c" 4)")-$(r1 "$(get rate originmaild "$c" 5)")]" \
			"| $(r1 "$ot") [$(r1 "$(get rate "$1" "$c" 4)")-$(r1 "$(get rate "$1" "$c" 5)")] | ${ratio}x | $verdict |"
	done
}
latency_rows() { # OTHER
	for c in $CONCURRENCY; do
		line="| $c"
		for f in p50 p99; do
			for srv in originmaild "$1"; do
				line="$line | $(r2 "$(get $f "$srv" "$c" 3)") [$(r2 "$(get $f "$srv" "$c" 4)")-$(r2 "$(get $f "$srv" "$c" 5)")]"
			done
		done
		echo "$line |"
	done
}
mem_rows() { # OTHER GOAL_KIB: the idle-memory table of $tmp/mem
	echo "| server | processes counted (with the sessions open) | RSS before | RSS with sessions | RSS per session | PSS per session | goal < $2 KiB (RSS) |"
	echo "|---|---|---:|---:|---:|---:|:---|"
	while read -r srv brss bpss bn rss pss n ready; do
		per=$(awk -v a="$rss" -v b="$brss" -v k="$ready" 'BEGIN {printf "%.1f", (k > 0 ? (a - b) / k : 0)}')
		perp=$(awk -v a="$pss" -v b="$bpss" -v k="$ready" 'BEGIN {printf "%.1f", (k > 0 ? (a - b) / k : 0)}')
		verdict=$(awk -v p="$per" -v k="$ready" -v want="$IDLE" -v g="$2" 'BEGIN {print (k == want && p < g ? "met" : "**missed**")}')
		[ "$srv" = "$1" ] && verdict="(goal is originmaild's)"
		procs=$(sed -n "s/^$srv|//p" "$tmp/mem-procs")
		echo "| $srv ($ready sessions) | $procs ($bn before) | $brss KiB | $rss KiB | $per KiB | $perp KiB | $verdict |"
	done <"$tmp/mem"
	echo
	echo "RSS counts each process's shared pages (libraries, the executable) in full, so a server of many processes"
	echo "looks bigger by RSS than it costs; PSS divides shared pages among the processes that map them."
}
# plot_rates OTHER PNG TITLE OTHER_TITLE: sessions/s vs concurrency of both servers
plot_rates() {
	for c in $CONCURRENCY; do
		echo "$c $(get rate originmaild "$c" 3) $(get rate originmaild "$c" 4) $(get rate originmaild "$c" 5)" \
			"$(get rate "$1" "$c" 3) $(get rate "$1" "$c" 4) $(get rate "$1" "$c" 5)"
	done >"$tmp/plot.dat"
	mkdir -p "$(dirname "$2")"
	gnuplot <<PLOT 2>>"$tmp/gnuplot.log" || log "gnuplot failed: $(cat "$tmp/gnuplot.log")"
set terminal pngcairo size 800,500 font "sans,10"
set output "$2"
set title "$3"
set xlabel "concurrent sessions"
set ylabel "sessions/s"
set logscale x 2
set xtics ($(echo "$CONCURRENCY" | tr ' ' '\n' | awk '{printf "%s\"%s\" %s", (NR > 1 ? ", " : ""), $1, $1}'))
set xrange [0.7:$(echo "$CONCURRENCY" | tr ' ' '\n' | sort -n | tail -1)*1.5]
set yrange [0:*]
set key top left
set grid
plot "$tmp/plot.dat" using 1:2:3:4 with yerrorlines lw 2 title "originmaild", \
     "$tmp/plot.dat" using 1:5:6:7 with yerrorlines lw 2 title "$4"
PLOT
}
perf_top() { # SORT N: the first N lines of perf report's self time on $tmp/perf.data by SORT, as a code block
	echo '```'
	perf report -i "$tmp/perf.data" --no-children --stdio --sort "$1" -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -"$2" | sed 's/ *- *- *$//'
	echo '```'
}
