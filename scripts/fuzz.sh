#!/bin/sh
# `make fuzz`: build every libFuzzer target in tests/fuzz/ and run each for SECONDS (default 60) on a
# scratch copy of its seed corpus (tests/corpus/<name>/), so the repository's corpus stays as committed.
# A crash stops the run with libFuzzer's report; the input is saved as build/fuzz/crash-*.
# Long run (nightly): FUZZ_SECONDS=3600 make fuzz
set -eu
secs=${1:-60}
cd "$(dirname "$0")/.."
mkdir -p build/fuzz
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	corpus=tests/corpus/${name#fuzz_}
	bin=build/fuzz/$name
	clang -std=gnu11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-Iinclude -Iuser "$src" user/proxy/*.c -o "$bin"
	work=$(mktemp -d)
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
	echo "fuzz: $name for ${secs}s (seed corpus: $(ls "$work" | wc -l) files)"
	"$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix=build/fuzz/ "$work" 2>&1 |
		grep -E 'stat::number_of_executed_units|stat::new_units_added|ERROR|SUMMARY|Done' || true
	rm -rf "$work"
	if ls build/fuzz/crash-* build/fuzz/leak-* build/fuzz/timeout-* >/dev/null 2>&1; then
		echo "fuzz: $name found a failing input: $(ls build/fuzz/crash-* build/fuzz/leak-* build/fuzz/timeout-* 2>/dev/null)"
		exit 1
	fi
done
echo "fuzz: no crash"
