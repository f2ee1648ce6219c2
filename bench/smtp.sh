#!/bin/sh
# SMTP benchmark: originmaild against Postfix 3.7, both behind the same HAProxy, in one run.
#
#   bench/smtp.sh [BUILD [PNG]]      (scripts/bench.sh calls it; `make bench` runs that)
#
# Markdown results go to stdout (scripts/bench.sh appends them to bench/results/<date>.md), progress to
# stderr, the plot of throughput vs concurrency to PNG (default bench/results/<date>-smtp.png).
#
# What runs, all on loopback, on ports below the ephemeral range, in a temporary directory:
#   originmaild  one event-loop process (and its relay-queue worker child); one smtp listener, proxy = required, proxy_trusted = 127.0.0.1 (HAProxy's
#                source), Maildirs under the temp dir, one user (bench@example.test) made by originctl passwd;
#                drops to nobody like a real deployment.
#   Postfix      the Debian package's binaries with a private config_directory (main.cf, master.cf),
#                queue_directory and data_directory: one smtpd on a loopback port with
#                smtpd_upstream_proxy_protocol = haproxy, virtual(8) delivery of example.test to
#                Maildir/ under the temp dir (virtual_mailbox_maps, uid nobody), no chroot, log to a file.
#                default_process_limit is raised from 100 to 2000: at 100 Postfix could never run 128
#                sessions at once nor hold 1,000 idle ones. All else is Postfix's defaults (in_flow_delay too).
#   HAProxy      two frontends, one per server, the same timeouts, each backend `send-proxy` (v1).
# Then, per server, with the load client bench/smtp_load (through HAProxy, no PROXY header of its own):
#   memory per idle connection: 1,000 sessions opened to after EHLO and held; the RSS summed over all the
#     server's processes (originmaild: its PID and its child, the relay-queue worker; Postfix: master and every child of it — smtpd, qmgr,
#     pickup, postlogd, and cleanup/trivial-rewrite/virtual when they run), minus the same sum before,
#     divided by the sessions. Measured first, right after start. PSS is shown too (shared pages divided
#     among the processes sharing them), which is the fairer figure for a server made of many processes.
#     HAProxy and kernel socket buffers are in neither figure.
#   sessions/s at concurrency 1, 16, 128: each server warmed up once, then REPEATS rounds, servers and
#     concurrencies interleaved so drift hits both alike; median with min/max, and the ratio of medians.
#     A session: connect, 220, EHLO, MAIL, RCPT, DATA (10 KiB), QUIT, 221. Postfix says 250 once the
#     message is queued (fsync'd) and delivers it to the Maildir afterwards: after each run the script
#     waits until every accepted message is in the Maildir ("drain"), so runs do not overlap with a
#     backlog, and reports the end-to-end rate as well.
# Then the same with a second load client, Postfix's own `smtp-source` (/usr/sbin, in the postfix package), so the
# figures are not an artefact of ours: the same frontends, concurrencies (its -s) and REPEATS, interleaved alike;
# SMTP_SOURCE_MSGS messages per run, one per session (HELO rather than EHLO; a SIZE-byte body plus its headers),
# each run timed by the wall clock, then the same wait for the drain; every run must leave exactly that many
# messages in the Maildir. The results say so when smtp-source is not installed.
# Everything started is stopped by PID at the end, on failure too (trap).
#
# Environment: SMTP_REPEATS (3), SMTP_CONCURRENCY ("1 16 128"), SMTP_IDLE (1000), SMTP_SIZE (10240),
# SMTP_SECONDS (30: bound of one run), SMTP_SOURCE=0 skips the smtp-source runs, SMTP_SOURCE_MSGS (2000: messages
# per smtp-source run, 1-8 s each here), SMTP_KEEP=1 keeps the temp dir, SMTP_PERF=1 adds a
# `perf record -g` of originmaild during an extra run at the highest concurrency and prints its top frames.
set -eu
BUILD=${1:-build}
cd "$(dirname "$0")/.."
PNG=${2:-bench/results/$(date +%Y-%m-%d)-smtp.png}
REPEATS=${SMTP_REPEATS:-3}
CONCURRENCY=${SMTP_CONCURRENCY:-1 16 128}
IDLE=${SMTP_IDLE:-1000}
SIZE=${SMTP_SIZE:-10240}
SECONDS_MAX=${SMTP_SECONDS:-30}
LOAD="$BUILD/smtp_load"
RCPT=bench@example.test
BENCH=smtp BENCH_TITLE=SMTP
# shellcheck source=bench/lib.sh
. bench/lib.sh
sessions_for() { # sessions per run: 1-20 s each here; long enough that one slow fsync streak averages out
	if [ "$1" -le 1 ]; then echo 1000; elif [ "$1" -le 16 ]; then echo 4000; else echo 8000; fi
}

need_tools haproxy postfix postconf gnuplot ss awk
need_built "$BUILD" originmaild originctl smtp_load
[ "$(id -u)" = 0 ] || die "needs root (Postfix and originmaild start as root and drop privileges)"

tmp=$(mktemp -d /tmp/originmail-bench.XXXXXX)
# originmaild's maps and cgroup are its own (never the host's /sys/fs/bpf/originmail, which live instances
# may share), removed at the end.
PIN=/sys/fs/bpf/originmail-bench-smtp-$$
CG=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)/originmail-bench-smtp-$$
chmod 755 "$tmp" # both servers run as other users
OM_PID="" PF_MASTER="" PF_CONF="$tmp/pf/etc" HAP_PID="" IDLE_PID="" PERF_PID=""
ok=0

cleanup() {
	set +e
	stop_pid "$PERF_PID"
	stop_pid "$IDLE_PID"
	stop_pid "$HAP_PID"
	stop_server "$OM_PID"
	stop_server "$PF_MASTER" postfix -c "$PF_CONF" stop # SIGTERM to the master's PID (its pid file)
	remove_pins "$PIN" "$CG"
	remove_tmp "${SMTP_KEEP:-0}"
}
on_exit cleanup

# Ports below 32768 so no ephemeral port of the many short connections can hold one.
base=$((20000 + ($$ % 500) * 20))
O_PORT=$(free_port $base)
P_PORT=$(free_port $((O_PORT + 1)))
HO_PORT=$(free_port $((P_PORT + 1)))
HP_PORT=$(free_port $((HO_PORT + 1)))

# ---- originmaild ----
mkdir -p "$tmp/om"
OM_MAILDIR="$tmp/om/mail/example.test/bench/Maildir"
{ om_conf "$tmp/om/mail" "$tmp/om/passwd" && cat; } >"$tmp/om/originmail.conf" <<EOF
bpf_pin_dir = $PIN
bpf_cgroup = $CG

[listener smtp]
address = 127.0.0.1:$O_PORT
protocol = smtp
proxy = required
proxy_trusted = 127.0.0.1
EOF
: >"$tmp/om/passwd"
echo "bench-secret" | "$BUILD/originctl" passwd -c "$tmp/om/originmail.conf" $RCPT >/dev/null ||
	die "originctl passwd failed"
chmod 644 "$tmp/om/passwd"
"$BUILD/originmaild" -c "$tmp/om/originmail.conf" >"$tmp/om/originmaild.log" 2>&1 &
OM_PID=$!
wait_for 10 grep -qs "originmaild ready" "$tmp/om/originmaild.log" || die "originmaild did not start: $(tail -3 "$tmp/om/originmaild.log")"

# ---- Postfix ----
PF="$tmp/pf"
PF_MAILDIR="$PF/vmail/example.test/bench/Maildir"
mkdir -p "$PF_CONF" "$PF/queue" "$PF/data" "$PF/vmail"
chown postfix:postfix "$PF/data"
chown nobody:nogroup "$PF/vmail"
cat >"$PF_CONF/main.cf" <<EOF
# originmail benchmark: a private Postfix instance, not /etc/postfix.
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx2.example.test
mydomain = example.test
mydestination =
relay_domains =
relayhost =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
biff = no
maillog_file = $PF/postfix.log
maillog_file_prefixes = $PF
# Behind HAProxy: every connection starts with a PROXY header.
smtpd_upstream_proxy_protocol = haproxy
# Loopback names only: no reverse DNS of the (documentation or loopback) client addresses.
smtpd_peername_lookup = no
# Raised from 100: otherwise 128 concurrent and 1,000 idle sessions are impossible.
default_process_limit = 2000
# All sessions come from one address (through HAProxy); do not throttle it per client.
smtpd_client_connection_count_limit = 0
# Delivery like originmaild's: example.test users, MAIL_ROOT/<domain>/<user>/Maildir/.
virtual_mailbox_domains = example.test
virtual_mailbox_base = $PF/vmail
virtual_mailbox_maps = texthash:$PF_CONF/vmailbox
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
message_size_limit = 26214400
EOF
echo "$RCPT example.test/bench/Maildir/" >"$PF_CONF/vmailbox"
cat >"$PF_CONF/master.cf" <<EOF
# service type private unpriv chroot wakeup maxproc command
127.0.0.1:$P_PORT inet n - n - - smtpd
pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
virtual   unix  - n n -     - virtual
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
postfix -c "$PF_CONF" start >"$PF/start.log" 2>&1 || die "postfix start failed: $(tail -3 "$PF/start.log")"
PF_MASTER=$(tr -d ' \n' <"$PF/queue/pid/master.pid")
wait_for 10 listening "$P_PORT" || die "Postfix smtpd does not listen on $P_PORT"

# ---- HAProxy ----
cat >"$tmp/haproxy.cfg" <<EOF
global
    maxconn 8000
defaults
    mode tcp
    maxconn 4000
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend fe_originmaild
    bind 127.0.0.1:$HO_PORT
    default_backend be_originmaild
frontend fe_postfix
    bind 127.0.0.1:$HP_PORT
    default_backend be_postfix
backend be_originmaild
    server originmaild 127.0.0.1:$O_PORT send-proxy
backend be_postfix
    server postfix 127.0.0.1:$P_PORT send-proxy
EOF
start_haproxy "$HP_PORT"
log "originmaild :$O_PORT (pid $OM_PID), Postfix :$P_PORT (master $PF_MASTER), HAProxy :$HO_PORT/:$HP_PORT (pid $HAP_PID)"

frontend_of() { if [ "$1" = originmaild ]; then echo "$HO_PORT"; else echo "$HP_PORT"; fi; }
maildir_of() { if [ "$1" = originmaild ]; then echo "$OM_MAILDIR"; else echo "$PF_MAILDIR"; fi; }
pid_of() { if [ "$1" = originmaild ]; then echo "$OM_PID"; else echo "$PF_MASTER"; fi; }
count_mail() { find "$1/new" -type f 2>/dev/null | wc -l; }
delivered() { [ "$(count_mail "$1")" -ge "$2" ]; } # MAILDIR N: at least N messages in new/

# ---- memory per idle connection (first, on fresh servers) ----
: >"$tmp/mem"
for srv in originmaild postfix; do
	idle_mem $srv "$(pid_of $srv)" -t "127.0.0.1:$(frontend_of $srv)" -i "$IDLE" -c 50 -H 600 -T 120
done

# ---- throughput ----
# Moves a run's messages out of the way without deleting them: on this machine's ext4 (no journal) the inode
# allocator skips inodes freed in the last minutes one by one, so deleting thousands of files would slow
# down whichever server ran next. Everything goes when the temp dir is removed at the end.
set_aside() { # MAILDIR NAME
	[ -d "$1/new" ] || return 0
	own=$(stat -c %u:%g "$1/new") mode=$(stat -c %a "$1/new")
	mv "$1/new" "$1/done.$2"
	mkdir -m "$mode" "$1/new"
	chown "$own" "$1/new"
}
# wait_drain SERVER MAILDIR N: waits (120 s at most) until N messages are in the Maildir; prints the seconds it took.
wait_drain() {
	t0=$(now)
	wait_for 120 delivered "$2" "$3" || log "$1: only $(count_mail "$2") of $3 delivered"
	echo "$t0 $(now)" | awk '{printf "%.2f", $2 - $1}'
}
# run SERVER C REPEAT: one load run, then wait until every accepted message is in the Maildir.
run() {
	srv=$1 c=$2 rep=$3
	n=$(sessions_for "$c")
	md=$(maildir_of "$srv")
	sync # start every run with no dirty pages left by the one before (the other server's, often)
	r=$("$LOAD" -t "127.0.0.1:$(frontend_of "$srv")" -n "$n" -c "$c" -s "$SIZE" -T "$SECONDS_MAX" \
		2>>"$tmp/load.log") || true
	r=$(echo "$r" | grep '^RESULT' || echo "RESULT ok=0 errors=$n elapsed_s=0 sessions_per_s=0 p50_ms=0 p99_ms=0")
	okn=$(field "$r" ok)
	drain=$(wait_drain "$srv" "$md" "$okn")
	got=$(count_mail "$md")
	runno=$((runno + 1))
	set_aside "$md" "$runno.$srv.c$c"
	if [ "$rep" -gt 0 ]; then
		echo "$srv $c $rep $okn $(field "$r" errors) $(field "$r" elapsed_s) $(field "$r" sessions_per_s)" \
			"$(field "$r" p50_ms) $(field "$r" p99_ms) $drain $got" >>"$tmp/runs"
	fi
	log "$srv c=$c #$rep: $(echo "$r" | cut -d' ' -f2-) drain=${drain}s delivered=$got"
}
: >"$tmp/runs"
runno=0
for srv in originmaild postfix; do run $srv 128 0; done # warm-up: not recorded
i=1
while [ $i -le "$REPEATS" ]; do
	for c in $CONCURRENCY; do
		for srv in originmaild postfix; do run $srv "$c" $i; done
	done
	i=$((i + 1))
done

# ---- throughput with smtp-source, Postfix's own load generator ----
# The same sessions from a second client: one message per connection (smtp-source disconnects after each
# message unless given -d), HELO, MAIL, RCPT, DATA, QUIT. smtp-source stops at the first unexpected reply
# (no -A), so a failed run exits non-zero; it counts nothing itself: the run's wall-clock time and the
# messages in the Maildir after the drain are the figures.
SRC_MSGS=${SMTP_SOURCE_MSGS:-2000}
SRC=""
if [ "${SMTP_SOURCE:-1}" != 0 ]; then
	SRC=$(command -v smtp-source || true)
	[ -n "$SRC" ] || [ ! -x /usr/sbin/smtp-source ] || SRC=/usr/sbin/smtp-source
	[ -n "$SRC" ] || log "smtp-source not found (Debian's postfix package ships it: make deps-bench); its runs are skipped"
fi
queue_idle() { # Postfix has no message left to deliver (deferred ones aside)
	[ -z "$(find "$PF/queue/maildrop" "$PF/queue/incoming" "$PF/queue/active" -type f 2>/dev/null | head -1)" ]
}
# src_run SERVER C REPEAT: one smtp-source run of SRC_MSGS messages, C sessions at a time, then the drain.
src_run() {
	srv=$1 c=$2 rep=$3
	md=$(maildir_of "$srv")
	sync
	t0=$(now)
	rc=0
	timeout -k 5 "$SECONDS_MAX" "$SRC" -s "$c" -m "$SRC_MSGS" -l "$SIZE" -M client.example \
		-f bench@client.example -t $RCPT -S smtp-source "127.0.0.1:$(frontend_of "$srv")" \
		>/dev/null 2>"$tmp/src.err" || rc=$?
	t1=$(now)
	secs=$(echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}')
	if [ $rc = 0 ]; then
		drain=$(wait_drain "$srv" "$md" "$SRC_MSGS")
	else # how many the server accepted is unknown: wait until Postfix has nothing left to deliver
		if [ $rc = 124 ]; then err="timed out after $SECONDS_MAX s"; else err=$(head -1 "$tmp/src.err"); fi
		echo "$srv c=$c #$rep: exit $rc: $err" >>"$tmp/src-errors"
		log "$srv c=$c #$rep: smtp-source exit $rc: $err"
		drain=$(echo "$t1 $(wait_for 120 queue_idle || true; now)" | awk '{printf "%.2f", $2 - $1}')
	fi
	got=$(count_mail "$md")
	runno=$((runno + 1))
	set_aside "$md" "$runno.$srv.src.c$c"
	rate=$(echo "$got $secs" | awk '{printf "%.1f", ($2 > 0 ? $1 / $2 : 0)}')
	echo "$srv $c $rep $rc $secs $rate $drain $got" >>"$tmp/src-runs"
	log "$srv c=$c #$rep smtp-source: exit=$rc seconds=$secs sessions_per_s=$rate drain=${drain}s delivered=$got of $SRC_MSGS"
}
: >"$tmp/src-runs"
: >"$tmp/src-errors"
if [ -n "$SRC" ]; then
	i=1
	while [ $i -le "$REPEATS" ]; do
		for c in $CONCURRENCY; do
			for srv in originmaild postfix; do src_run $srv "$c" $i; done
		done
		i=$((i + 1))
	done
fi

if [ "${SMTP_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
	cmax=$(echo "$CONCURRENCY" | tr ' ' '\n' | sort -n | tail -1)
	perf record -F 999 --call-graph dwarf,16384 -o "$tmp/perf.data" -p "$OM_PID" >/dev/null 2>"$tmp/perf.log" &
	PERF_PID=$!
	sleep 1
	run originmaild "$cmax" 0
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=""
fi

# ---- results ----
stats postfix 7 >"$tmp/rate"
stats postfix 8 >"$tmp/p50"
stats postfix 9 >"$tmp/p99"
[ -s "$tmp/src-runs" ] && stats postfix 6 "$tmp/src-runs" >"$tmp/src-rate"

echo
echo "## SMTP: originmaild vs Postfix behind the same HAProxy"
echo
machine_line
echo "Servers: originmaild $("$BUILD/originmaild" --version | awk '{print $2}') (one event-loop process and its relay worker)," \
	"Postfix $(postconf -dh mail_version) (default_process_limit raised to 2000; otherwise defaults)," \
	"HAProxy $(haproxy -v | awk 'NR == 1 {print $3}') (\`send-proxy\` to both, same timeouts)." \
	"Client: bench/smtp_load, on the same machine, no pipelining; load client, HAProxy and server share the cores."
echo "Session: connect, 220, EHLO, MAIL, RCPT, DATA ($SIZE bytes), QUIT, 221, through HAProxy; sessions per run:" \
	"$(for c in $CONCURRENCY; do printf '%s at c=%s, ' "$(sessions_for "$c")" "$c"; done | sed 's/, $//');" \
	"$REPEATS runs each after one warm-up; median [min-max]."
echo
echo "### Sessions per second"
echo
echo "| concurrency | originmaild | Postfix | originmaild / Postfix | goal ≥ 2x |"
echo "|---:|---:|---:|---:|:---|"
rate_rows postfix 2
if [ -s "$tmp/src-rate" ]; then
	echo
	echo "### SMTP sessions/s with smtp-source (Postfix's load generator)"
	echo
	echo "\`smtp-source -s C -m $SRC_MSGS -l $SIZE -M client.example -f bench@client.example -t $RCPT -S smtp-source\`" \
		"($(basename "$SRC") of Postfix $(postconf -dh mail_version)) against each HAProxy frontend: one message per session" \
		"(connect, 220, HELO, MAIL, RCPT, DATA with a $SIZE-byte body plus smtp-source's headers, QUIT), C sessions at a time;" \
		"sessions/s = messages delivered / wall-clock time of the run, then the same wait for the drain as after the smtp_load runs." \
		"$REPEATS runs each, servers and concurrencies interleaved, after the smtp_load runs; median [min-max]."
	echo
	echo "| concurrency | originmaild | Postfix | originmaild / Postfix | smtp_load's ratio |"
	echo "|---:|---:|---:|---:|---:|"
	: >"$tmp/agree"
	for c in $CONCURRENCY; do
		om=$(get src-rate originmaild "$c" 3) pf=$(get src-rate postfix "$c" 3)
		ratio=$(awk -v a="$om" -v b="$pf" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
		lratio=$(awk -v a="$(get rate originmaild "$c" 3)" -v b="$(get rate postfix "$c" 3)" \
			'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
		echo "$c $ratio $lratio" >>"$tmp/agree"
		echo "| $c | $(r1 "$om") [$(r1 "$(get src-rate originmaild "$c" 4)")-$(r1 "$(get src-rate originmaild "$c" 5)")]" \
			"| $(r1 "$pf") [$(r1 "$(get src-rate postfix "$c" 4)")-$(r1 "$(get src-rate postfix "$c" 5)")] | ${ratio}x | ${lratio}x |"
	done
	echo
	# The clients agree at a concurrency when their ratios are within 15% of each other.
	awk '{d = ($3 > 0 ? $2 / $3 - 1 : 1); if (d < 0) d = -d
		s = s sprintf("%sc=%s %.2fx vs %.2fx", (NR > 1 ? ", " : ""), $1, $2, $3)
		if (d > 0.15) bad = bad sprintf("%sc=%s", (bad != "" ? ", " : ""), $1)}
		END {
			if (bad == "") printf "The two clients agree: originmaild / Postfix with smtp-source vs with smtp_load is %s, within 15%% at every concurrency.\n", s
			else printf "The two clients do not agree at %s (more than 15%% apart): originmaild / Postfix with smtp-source vs with smtp_load is %s.\n", bad, s
		}' "$tmp/agree"
	src_fail=$(awk '$4 != 0 {n++} END {print n + 0}' "$tmp/src-runs")
	src_short=$(awk -v m="$SRC_MSGS" '$8 != m {n++} END {print n + 0}' "$tmp/src-runs")
	echo "smtp-source runs that failed: $src_fail; runs with other than $SRC_MSGS messages delivered: $src_short" \
		"(every run is under \"Every run\" below)."
	[ "$src_fail" = 0 ] || echo "First errors: $(head -3 "$tmp/src-errors" | tr '\n' ';')"
elif [ "${SMTP_SOURCE:-1}" != 0 ]; then
	echo
	echo "### SMTP sessions/s with smtp-source (Postfix's load generator)"
	echo
	echo "Not measured: smtp-source was not found (Debian's postfix package ships it as /usr/sbin/smtp-source; \`make deps-bench\`)."
fi
echo
echo "### Session latency (ms, connect to 221; median of the runs' percentiles [min-max])"
echo
echo "| concurrency | originmaild p50 | Postfix p50 | originmaild p99 | Postfix p99 |"
echo "|---:|---:|---:|---:|---:|"
latency_rows postfix
echo
echo "### Every run"
echo
echo "Postfix replies 250 to the message once it is queued, and delivers it to the Maildir afterwards;" \
	"\"drain\" is how long after the run the last message reached the Maildir (originmaild delivers before" \
	"its 250, so its drain is only the check). \"end to end\" = delivered / (run time + drain)."
echo
echo "| server | c | run | ok | errors | seconds | sessions/s | p50 ms | p99 ms | drain s | delivered | end to end /s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
awk '{e = $6 + $10; printf "| %s | %s | %s | %s | %s | %.2f | %.1f | %.2f | %.2f | %s | %s | %.1f |\n",
	$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, (e > 0 ? $11 / e : 0)}' "$tmp/runs"
errs=$(awk '{e += $5} END {print e + 0}' "$tmp/runs")
lost=$(awk '$11 < $4 {n++} END {print n + 0}' "$tmp/runs")
echo
echo "Errors in all runs: $errs; runs with fewer messages delivered than accepted: $lost."
[ "$errs" = 0 ] || echo "First errors: $(grep 'first error' "$tmp/load.log" | head -3 | sed 's/smtp_load: first error: //' | tr '\n' ';')"
if [ -s "$tmp/src-runs" ]; then
	echo
	echo "smtp-source runs ($SRC_MSGS messages each; exit is smtp-source's status, 124 if it ran out of $SECONDS_MAX s):"
	echo
	echo "| server | c | run | exit | seconds | sessions/s | drain s | delivered |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	awk '{printf "| %s | %s | %s | %s | %.2f | %.1f | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8}' "$tmp/src-runs"
fi
echo
echo "### Memory per idle connection ($IDLE sessions held open after EHLO)"
echo
mem_rows postfix 64
echo "Kernel socket buffers and HAProxy's memory are in neither."

# ---- plot ----
plot_rates postfix "$PNG" "SMTP sessions/s through HAProxy (DATA $SIZE bytes): median, min-max of $REPEATS runs" \
	"Postfix 3.7"
[ -s "$PNG" ] && echo && echo "Plot: ![SMTP sessions/s vs concurrency]($(basename "$PNG"))"

if [ -s "$tmp/perf.data" ]; then
	echo
	echo "### Where originmaild's time goes (perf record -g of its event loop during one more run at c=$cmax)"
	echo
	echo "On-CPU samples only: time asleep in fsync shows as finish_task_switch, not as its own share."
	echo "Top frames by self time:"
	echo
	perf_top symbol 15
	echo
	echo "originmaild's own frames, with everything they call (children):"
	echo
	echo '```'
	perf report -i "$tmp/perf.data" --children --stdio --sort symbol -g none 2>/dev/null |
		grep '\[\.\]' | grep -v -e '_start' -e 'libc_start' -e ' main ' | head -15 | sed 's/ *- *- *$//'
	echo '```'
fi
ok=1
