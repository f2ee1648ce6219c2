#!/bin/sh
# Run each cmocka test binary; cmocka prints its own summary lines. Exit non-zero if any failed.
failed=0
for t in "$@"; do
	echo "== $t"
	"$t" || failed=$((failed + 1))
done
echo "unit: $# binaries, $failed failed"
[ "$failed" -eq 0 ]
