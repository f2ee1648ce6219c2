#!/bin/sh
# The libFuzzer targets (tests/fuzz/fuzz_NAME.c, built by `make fuzz-bins SAN=fuzz` into BUILDDIR), each
# with its seed corpus tests/corpus/NAME/ and, when there is one, its dictionary tests/fuzz/fuzz_NAME.dict.
#
#   scripts/fuzz.sh run BUILDDIR [SECONDS]   fuzz each target for SECONDS (default 60) on a scratch copy of
#                                            its corpus, so the committed corpus stays as it is. A failing
#                                            input stops the run; it is saved as build/fuzz/crash-* (or
#                                            leak-*, timeout-*, oom-*).
#   scripts/fuzz.sh replay BUILDDIR          run each target once over every file of its corpus, no fuzzing:
#                                            the regression check of `make test` (docs/fuzzing.md).
#
# Long run (nightly): FUZZ_SECONDS=3600 make fuzz
set -eu
mode=${1:-run}
bdir=${2:-build/fuzz}
secs=${3:-60}
cd "$(dirname "$0")/.."
mkdir -p build/fuzz
# The session targets keep a scratch mail root in $TMPDIR: on tmpfs the fsyncs of every delivery cost
# nothing, which makes them several times faster than on disk.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	TMPDIR=/dev/shm
	export TMPDIR
fi
# Per input: a few seconds at most (a session over a whole corpus file is milliseconds), 2 GB of memory.
limits="-timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1024"

targets=0
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	corpus=tests/corpus/${name#fuzz_}
	bin=$bdir/$name
	dict=tests/fuzz/$name.dict
	dictopt=""
	[ -f "$dict" ] && dictopt="-dict=$dict"
	[ -x "$bin" ] || { echo "fuzz: $bin is missing (make BUILD=$bdir SAN=fuzz CC=clang fuzz-bins)"; exit 1; }
	[ -d "$corpus" ] || { echo "fuzz: $name has no seed corpus in $corpus"; exit 1; }
	targets=$((targets + 1))

	if [ "$mode" = replay ]; then
		n=$(find "$corpus" -maxdepth 1 -type f | wc -l)
		log=build/fuzz/replay-$name.log
		# shellcheck disable=SC2086
		if ! find "$corpus" -maxdepth 1 -type f -print0 | sort -z |
			xargs -0 "$bin" $limits >"$log" 2>&1; then
			tail -40 "$log"
			echo "fuzz-replay: $name failed on its corpus (log: $log)"
			exit 1
		fi
		ran=$(grep -c '^Executed ' "$log" || true)
		[ "$ran" -eq "$n" ] || { echo "fuzz-replay: $name ran $ran of $n inputs (log: $log)"; exit 1; }
		echo "fuzz-replay: $name: $n corpus inputs, no failure"
		continue
	fi

	work=$(mktemp -d)
	cp -r "$corpus"/. "$work"/
	echo "fuzz: $name for ${secs}s (seed corpus: $(ls "$work" | wc -l) files)"
	# shellcheck disable=SC2086
	"$bin" $limits $dictopt -max_total_time="$secs" -print_final_stats=1 -artifact_prefix=build/fuzz/ \
		"$work" >build/fuzz/run-$name.log 2>&1 || true
	grep -E 'stat::number_of_executed_units|stat::new_units_added|ERROR|SUMMARY|Done' \
		build/fuzz/run-$name.log || true
	rm -rf "$work"
	if ls build/fuzz/crash-* build/fuzz/leak-* build/fuzz/timeout-* build/fuzz/oom-* >/dev/null 2>&1; then
		echo "fuzz: $name found a failing input: $(ls build/fuzz/crash-* build/fuzz/leak-* \
			build/fuzz/timeout-* build/fuzz/oom-* 2>/dev/null) (log: build/fuzz/run-$name.log)"
		exit 1
	fi
done
if [ "$mode" = replay ]; then
	echo "fuzz-replay: $targets targets clean"
else
	echo "fuzz: $targets targets, no crash"
fi
