#!/bin/sh
# `make bench`: the benchmarks that exist, figures side by side with their baselines in one run.
# Results go to bench/results/<date>.md as well as to the terminal.
set -eu
BUILD=${1:-build}
cd "$(dirname "$0")/.."
mkdir -p bench/results
out=bench/results/$(date +%Y-%m-%d).md
failed=$(mktemp)
{
	echo "# originmail benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
		"$(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
	echo
	echo "## PROXY header decoding vs copying the same bytes"
	echo
	"$BUILD"/proxy_bench --markdown
	# SMTP sessions/s (clients: bench/smtp_load, then smtp-source) and memory per idle connection, originmaild vs Postfix behind one HAProxy.
	sh bench/smtp.sh "$BUILD" "${out%.md}-smtp.png" || echo smtp >>"$failed"
	# The cost of the kernel side: bpf = on vs bpf = off through one HAProxy, and the lookup by cookie.
	sh bench/bpf.sh "$BUILD" || echo bpf >>"$failed"
	# IMAP sessions/s and memory per idle session, originmaild vs Dovecot behind one HAProxy.
	sh bench/imap.sh "$BUILD" "${out%.md}-imap.png" || echo imap >>"$failed"
} | tee "$out"
echo "bench: written to $out"
if [ -s "$failed" ]; then
	echo "bench: failed: $(cat "$failed")" >&2
	rm -f "$failed"
	exit 1
fi
rm -f "$failed"
