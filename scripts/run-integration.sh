#!/bin/sh
# Run every integration test (tests/integration/test_*.py and test_*.sh) against the programs in $BUILD.
# Each prints "N passed, N failed" and exits with its failure count.
BUILD=${BUILD:-build}
export BUILD
cd "$(dirname "$0")/.." || exit 1
failed=0
count=0
for t in tests/integration/test_*.py tests/integration/test_*.sh; do
	[ -e "$t" ] || continue
	count=$((count + 1))
	echo "== $t (BUILD=$BUILD)"
	case $t in
	*.py) timeout 600 python3 "$t" ;;
	*) timeout 600 sh "$t" ;;
	esac
	rc=$?
	[ $rc -eq 0 ] || { failed=$((failed + 1)); echo "!! $t exited $rc"; }
done
echo "integration: $count scripts, $failed failed"
[ "$failed" -eq 0 ]
