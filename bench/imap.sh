#!/bin/sh
# IMAP benchmark: originmaild against Dovecot 2.3, both behind the same HAProxy, in one run.
#
#   bench/imap.sh [BUILD [PNG]]      (scripts/bench.sh calls it; `make bench` runs that)
#
# Markdown results go to stdout (scripts/bench.sh appends them to bench/results/<date>.md), progress to
# stderr, the plot of throughput vs concurrency to PNG (default bench/results/<date>-imap.png).
#
# What runs, all on loopback, on ports below the ephemeral range, in a temporary directory:
#   originmaild  one event-loop process (and its relay-queue worker child); one imap listener, tls = none,
#                allow_plaintext_auth = yes, proxy = required, proxy_trusted = 127.0.0.1 (HAProxy's source),
#                one user (bench@example.test) made by originctl passwd; drops to nobody.
#   Dovecot      the Debian package's binaries with a config file of its own (dovecot -c FILE), its own
#                base_dir and state_dir: protocols = imap, ssl = no, disable_plaintext_auth = no, one
#                inet_listener with haproxy = yes, haproxy_trusted_networks = 127.0.0.1, passdb and userdb
#                passwd-file (the same file originctl wrote), mail_uid nobody, maildir:DIR/%d/%n/Maildir,
#                log to a file. imap-login keeps its shipped service_count (1) and process_min_avail (0);
#                raised so 64 concurrent and 1,000 idle sessions fit: default_process_limit 100 -> 2048,
#                default_client_limit 1000 -> 4096, imap-login and imap process_limit 2048,
#                mail_max_userip_connections 10 -> 2000 (every session is one user from HAProxy's address).
#   HAProxy      two frontends, one per server, the same timeouts, each backend `send-proxy` (v1).
# Both INBOXes are pre-filled by writing Maildir files directly: the same 1,000 messages of ~4 KB (CRLF line
# ends, in cur/ as seen, `,S=,W=` size hints), owned by nobody.
# Then, per server, with the load client bench/imap_load (through HAProxy, no PROXY header of its own):
#   one warm-up run (first SELECT builds each server's UID list and, for Dovecot, its index), then
#   memory per idle IMAP session: IMAP_IDLE sessions logged in with INBOX selected, held; RSS and PSS summed
#     over all the server's processes (originmaild: its PID and its child; Dovecot: the master and every
#     child of it — imap, imap-login, auth, anvil, log, config, stats), minus the same sum before, / sessions.
#   sessions/s at concurrency 1, 16, 64: REPEATS rounds, servers and concurrencies interleaved; median with
#     min/max, and the ratio of medians. A session: connect, greeting, LOGIN, SELECT INBOX, FETCH 1:* FLAGS,
#     UID FETCH <u> BODY.PEEK[], LOGOUT.
# Everything started is stopped by PID at the end, on failure too (trap).
#
# Environment: IMAP_REPEATS (3), IMAP_CONCURRENCY ("1 16 64"), IMAP_IDLE (1000), IMAP_MESSAGES (1000),
# IMAP_SECONDS (30: bound of one run), IMAP_HASH (yescrypt: originctl's; sha512-crypt, made by doveadm pw, is a
# diagnostic that takes most of LOGIN's cost away), IMAP_KEEP=1 keeps the temp dir, IMAP_PERF=1 adds a
# `perf record -g` of originmaild during an extra run at the highest concurrency and prints its top frames.
set -eu
ulimit -n 65536 2>/dev/null || true # 1,000 idle sessions and more: the load client and HAProxy need the descriptors
BUILD=${1:-build}
cd "$(dirname "$0")/.."
PNG=${2:-bench/results/$(date +%Y-%m-%d)-imap.png}
REPEATS=${IMAP_REPEATS:-3}
CONCURRENCY=${IMAP_CONCURRENCY:-1 16 64}
IDLE=${IMAP_IDLE:-1000}
MSGS=${IMAP_MESSAGES:-1000}
SECONDS_MAX=${IMAP_SECONDS:-30}
HASH=${IMAP_HASH:-yescrypt}
LOAD="$BUILD/imap_load"
USER_NAME=bench@example.test
PASS=bench-secret

BENCH=imap BENCH_TITLE=IMAP
# shellcheck source=bench/lib.sh
. bench/lib.sh
sessions_for() { # sessions per run
	if [ "$1" -le 1 ]; then echo 100; elif [ "$1" -le 16 ]; then echo 300; else echo 500; fi
}

need_tools haproxy dovecot doveadm gnuplot ss awk
need_built "$BUILD" originmaild originctl imap_load
[ "$(id -u)" = 0 ] || die "needs root (Dovecot and originmaild start as root and drop privileges)"

tmp=$(mktemp -d /tmp/originmail-imapbench.XXXXXX)
# originmaild's maps and cgroup are its own (never the host's /sys/fs/bpf/originmail, which live instances
# may share), removed at the end.
PIN=/sys/fs/bpf/originmail-bench-imap-$$
CG=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)/originmail-bench-imap-$$
chmod 755 "$tmp" # both servers run as other users
OM_PID="" DC_MASTER="" DC_CONF="$tmp/dc/dovecot.conf" HAP_PID="" IDLE_PID="" PERF_PID=""
ok=0

cleanup() {
	set +e
	stop_pid "$PERF_PID"
	stop_pid "$IDLE_PID"
	stop_pid "$HAP_PID"
	stop_server "$OM_PID"
	stop_server "$DC_MASTER" doveadm -c "$DC_CONF" stop # SIGTERM to the master's PID (its pid file)
	remove_pins "$PIN" "$CG"
	remove_tmp "${IMAP_KEEP:-0}"
}
on_exit cleanup

base=$((20000 + ($$ % 500) * 20 + 10))
O_PORT=$(free_port $base)
D_PORT=$(free_port $((O_PORT + 1)))
HO_PORT=$(free_port $((D_PORT + 1)))
HD_PORT=$(free_port $((HO_PORT + 1)))

# ---- the messages: MSGS files of ~4 KB, CRLF line ends, written once and copied to both INBOXes ----
mkdir -p "$tmp/msgs"
awk -v n="$MSGS" -v dir="$tmp/msgs" 'BEGIN {
	line = sprintf("%076d", 0); gsub(/0/, "x", line)
	for (i = 1; i <= n; i++) {
		m = sprintf("Return-Path: <sender@client.example>\r\nFrom: Sender <sender@client.example>\r\n" \
			"To: <bench@example.test>\r\nSubject: imap bench message %d\r\n" \
			"Date: Tue, 24 Nov 2026 12:00:00 +0000\r\nMessage-ID: <bench.%d@client.example>\r\n" \
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", i, i)
		while (length(m) < 4096 - 80) m = m line "\r\n"
		name = sprintf("%d.M%dP1.bench,S=%d,W=%d:2,S", 1795000000 + i, i, length(m), length(m))
		printf "%s", m > (dir "/" name)
		close(dir "/" name)
	}
}'
fill_maildir() { # MAILDIR
	mkdir -p "$1/cur" "$1/new" "$1/tmp"
	cp -p "$tmp"/msgs/* "$1/cur/"
	chown -R nobody:nogroup "$(dirname "$(dirname "$(dirname "$1")")")"
}

# ---- originmaild ----
mkdir -p "$tmp/om"
{ om_conf "$tmp/om/mail" "$tmp/om/passwd" && cat; } >"$tmp/om/originmail.conf" <<EOC
bpf_pin_dir = $PIN
bpf_cgroup = $CG

[listener imap]
address = 127.0.0.1:$O_PORT
protocol = imap
proxy = required
proxy_trusted = 127.0.0.1
allow_plaintext_auth = yes
EOC
: >"$tmp/om/passwd"
echo "$PASS" | "$BUILD/originctl" passwd -c "$tmp/om/originmail.conf" $USER_NAME >/dev/null ||
	die "originctl passwd failed"
if [ "$HASH" = sha512-crypt ]; then # diagnostic: a cheaper hash both servers know, to see the IMAP work alone
	echo "$USER_NAME:$(doveadm pw -s SHA512-CRYPT -p "$PASS")" >"$tmp/om/passwd"
fi
chmod 644 "$tmp/om/passwd"
fill_maildir "$tmp/om/mail/example.test/bench/Maildir"
"$BUILD/originmaild" -c "$tmp/om/originmail.conf" >"$tmp/om/originmaild.log" 2>&1 &
OM_PID=$!
wait_for 10 grep -qs "originmaild ready" "$tmp/om/originmaild.log" || die "originmaild did not start: $(tail -3 "$tmp/om/originmaild.log")"

# ---- Dovecot ----
DC="$tmp/dc"
mkdir -p "$DC/run" "$DC/state"
# The same line as originmaild's (originctl writes user@domain:{CRYPT}$y$..., the scheme name Dovecot 2.3
# knows; older files may say {YESCRYPT}, which Dovecot 2.3 lacks: its {CRYPT} scheme hands the hash to libc's crypt(), which verifies $y$
# hashes; and its passwd-file userdb refuses a line without uid/gid fields ("missing userdb info"), so they
# are added, naming nobody/nogroup (what originmaild runs as).
# shellcheck disable=SC2016 # $y$ is the hash's prefix, not a variable
sed -e 's/:{YESCRYPT}\$y\$/:{CRYPT}$y$/' -e 's/:*$//' -e "s/\$/:$(id -u nobody):$(id -g nobody)::::/" \
	"$tmp/om/passwd" >"$DC/passwd"
chmod 644 "$DC/passwd"
fill_maildir "$DC/mail/example.test/bench/Maildir"
cat >"$DC_CONF" <<EOC
# originmail benchmark: a private Dovecot instance, not /etc/dovecot.
protocols = imap
listen = 127.0.0.1
base_dir = $DC/run
state_dir = $DC/state
instance_name = originmail-bench
log_path = $DC/dovecot.log
ssl = no
disable_plaintext_auth = no
# Behind HAProxy: every connection on the haproxy listener starts with a PROXY header from this address.
haproxy_trusted_networks = 127.0.0.1
mail_location = maildir:$DC/mail/%d/%n/Maildir
mail_uid = nobody
mail_gid = nogroup
passdb {
  driver = passwd-file
  args = $DC/passwd
}
userdb {
  driver = passwd-file
  args = $DC/passwd
}
# Raised so 64 concurrent and 1,000 idle sessions fit (shipped: 100, 1000, 10).
default_process_limit = 2048
default_client_limit = 4096
mail_max_userip_connections = 2000
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 0
  }
  inet_listener imap_haproxy {
    address = 127.0.0.1
    port = $D_PORT
    haproxy = yes
  }
  process_limit = 2048
}
service imap {
  process_limit = 2048
}
EOC
dovecot -c "$DC_CONF" >"$DC/start.log" 2>&1 || die "dovecot start failed: $(tail -3 "$DC/start.log")"
wait_for 10 test -s "$DC/run/master.pid" || die "dovecot wrote no pid file: $(tail -3 "$DC/dovecot.log")"
DC_MASTER=$(tr -d ' \n' <"$DC/run/master.pid")
wait_for 10 listening "$D_PORT" || die "Dovecot does not listen on $D_PORT"

# ---- HAProxy ----
cat >"$tmp/haproxy.cfg" <<EOC
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
frontend fe_dovecot
    bind 127.0.0.1:$HD_PORT
    default_backend be_dovecot
backend be_originmaild
    server originmaild 127.0.0.1:$O_PORT send-proxy
backend be_dovecot
    server dovecot 127.0.0.1:$D_PORT send-proxy
EOC
start_haproxy "$HD_PORT"
log "originmaild :$O_PORT (pid $OM_PID), Dovecot :$D_PORT (master $DC_MASTER), HAProxy :$HO_PORT/:$HD_PORT (pid $HAP_PID)"

frontend_of() { if [ "$1" = originmaild ]; then echo "$HO_PORT"; else echo "$HD_PORT"; fi; }
pid_of() { if [ "$1" = originmaild ]; then echo "$OM_PID"; else echo "$DC_MASTER"; fi; }

# run SERVER C REPEAT: one load run (REPEAT 0: not recorded)
run() {
	srv=$1 c=$2 rep=$3
	n=$(sessions_for "$c")
	r=$("$LOAD" -t "127.0.0.1:$(frontend_of "$srv")" -n "$n" -c "$c" -m "$MSGS" -u $USER_NAME -w $PASS \
		-T "$SECONDS_MAX" 2>>"$tmp/load.log") || true
	r=$(echo "$r" | grep '^RESULT' || echo "RESULT ok=0 errors=$n elapsed_s=0 sessions_per_s=0 p50_ms=0 p99_ms=0")
	if [ "$rep" -gt 0 ]; then
		echo "$srv $c $rep $(field "$r" ok) $(field "$r" errors) $(field "$r" elapsed_s)" \
			"$(field "$r" sessions_per_s) $(field "$r" p50_ms) $(field "$r" p99_ms)" >>"$tmp/runs"
	fi
	log "$srv c=$c #$rep: $(echo "$r" | cut -d' ' -f2-)"
}
: >"$tmp/runs"
# warm-up: the first SELECT builds the UID list (and Dovecot's index); not recorded
for srv in originmaild dovecot; do run $srv 16 0; done

# ---- memory per idle session (after the warm-up, before the timed runs) ----
: >"$tmp/mem"
for srv in originmaild dovecot; do
	idle_mem $srv "$(pid_of $srv)" -t "127.0.0.1:$(frontend_of $srv)" -i "$IDLE" -c 16 -m "$MSGS" \
		-u $USER_NAME -w $PASS -H 600 -T 120
	sleep 1
done

# ---- throughput ----
i=1
while [ $i -le "$REPEATS" ]; do
	for c in $CONCURRENCY; do
		for srv in originmaild dovecot; do run $srv "$c" $i; done
	done
	i=$((i + 1))
done

if [ "${IMAP_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
	cmax=$(echo "$CONCURRENCY" | tr ' ' '\n' | sort -n | tail -1)
	perf record -F 999 -g -o "$tmp/perf.data" -p "$OM_PID" >/dev/null 2>"$tmp/perf.log" &
	PERF_PID=$!
	sleep 1
	run originmaild "$cmax" 0
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=""
fi

# ---- results ----
stats dovecot 7 >"$tmp/rate"
stats dovecot 8 >"$tmp/p50"
stats dovecot 9 >"$tmp/p99"

echo
echo "## IMAP: originmaild vs Dovecot behind the same HAProxy"
echo
machine_line
echo "Servers: originmaild $("$BUILD/originmaild" --version | awk '{print $2}') (one event-loop process and its relay worker;" \
	"imap listener with tls = none, allow_plaintext_auth = yes)," \
	"Dovecot $(dovecot --version | awk '{print $1}') (private instance: ssl = no, disable_plaintext_auth = no, passwd-file passdb/userdb," \
	"imap-login with its shipped service_count = 1 and process_min_avail = 0; raised: default_process_limit 2048," \
	"default_client_limit 4096, imap-login and imap process_limit 2048, mail_max_userip_connections 2000;" \
	"otherwise defaults), HAProxy $(haproxy -v | awk 'NR == 1 {print $3}') (\`send-proxy\` to both, same timeouts)." \
	"LOGIN is in plain text on loopback for both; no TLS anywhere." \
	"Client: bench/imap_load, on the same machine, no pipelining; load client, HAProxy and server share the cores."
echo "Mailbox: INBOX of $MSGS messages of ~4 KB each (the same files for both, written directly into cur/, seen)," \
	"one user whose password hash is $(sed -n 's/^[^:]*:{\([^}]*\)}.*/\1/p' "$tmp/om/passwd")" \
	"$(if [ "$HASH" = sha512-crypt ]; then echo "(IMAP_HASH=sha512-crypt, a diagnostic run: not originctl's yescrypt)"; else
		echo "(originctl's; Dovecot checks the same hash through its {CRYPT} scheme, i.e. libc's crypt())"; fi)," \
	"the same for both servers, so each LOGIN costs both one hash verification."
echo "Session: connect, greeting, LOGIN, SELECT INBOX, FETCH 1:* FLAGS, UID FETCH <u> BODY.PEEK[], LOGOUT," \
	"through HAProxy; sessions per run:" \
	"$(for c in $CONCURRENCY; do printf '%s at c=%s, ' "$(sessions_for "$c")" "$c"; done | sed 's/, $//');" \
	"$REPEATS runs each after one warm-up; median [min-max]."
echo
echo "### Sessions per second"
echo
echo "| concurrency | originmaild | Dovecot | originmaild / Dovecot | goal ≥ 1.5x |"
echo "|---:|---:|---:|---:|:---|"
rate_rows dovecot 1.5
echo
echo "### Session latency (ms, connect to LOGOUT's OK; median of the runs' percentiles [min-max])"
echo
echo "| concurrency | originmaild p50 | Dovecot p50 | originmaild p99 | Dovecot p99 |"
echo "|---:|---:|---:|---:|---:|"
latency_rows dovecot
echo
echo "### Every run"
echo
echo "| server | c | run | ok | errors | seconds | sessions/s | p50 ms | p99 ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
awk '{printf "| %s | %s | %s | %s | %s | %.2f | %.1f | %.2f | %.2f |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9}' "$tmp/runs"
errs=$(awk '{e += $5} END {print e + 0}' "$tmp/runs")
echo
echo "Errors in all runs: $errs."
[ "$errs" = 0 ] || echo "First errors: $(grep 'first error' "$tmp/load.log" | head -3 | sed 's/imap_load: first error: //' | tr '\n' ';')"
echo
echo "### Memory per idle IMAP session ($IDLE sessions logged in, INBOX selected, held open)"
echo
mem_rows dovecot 128
echo "Kernel socket buffers, the page cache holding the messages, and HAProxy's memory are in neither."

# ---- plot ----
plot_rates dovecot "$PNG" "IMAP sessions/s through HAProxy (INBOX of $MSGS messages): median, min-max of $REPEATS runs" \
	"Dovecot $(dovecot --version | awk '{print $1}')"
[ -s "$PNG" ] && echo && echo "Plot: ![IMAP sessions/s vs concurrency]($(basename "$PNG"))"

if [ -s "$tmp/perf.data" ]; then
	echo
	echo "### Where originmaild's time goes (perf record -g of its event loop during one more run at c=$cmax)"
	echo
	echo "By shared object (self time; libcrypt is the password hash of LOGIN, and much of the kernel's share is"
	echo "page faults and munmap on the memory it allocates per hash):"
	echo
	perf_top dso 6
	echo
	echo "Top frames by self time:"
	echo
	perf_top symbol 15
fi
ok=1
