#!/bin/sh
# Style and static analysis: clang-format (the repo's .clang-format), cppcheck, clang --analyze.
# Any finding fails the build; the tools' own output says where.
cd "$(dirname "$0")/.." || exit 1
files=$(git ls-files '*.c' '*.h' 2>/dev/null | grep -v '^bpf/vmlinux' || find bpf user include tests bench -name '*.[ch]')
[ -n "$files" ] || { echo "lint: no C files"; exit 1; }
rc=0

echo "lint: clang-format"
for f in $files; do
	clang-format --dry-run -Werror "$f" 2>&1 | head -5 | grep . && rc=1
done

echo "lint: cppcheck"
# unusedFunction needs the whole program; missingIncludeSystem is noise about libc headers.
cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,style,performance,portability \
	--inline-suppr --suppress=missingIncludeSystem --suppress=unusedStructMember \
	-D_GNU_SOURCE -Iinclude -Iuser -Ibuild/bpf $(echo "$files" | grep '\.c$' | grep -v '^bpf/') || rc=1

echo "lint: clang --analyze"
gmime=$(pkg-config --cflags gmime-3.0) # the IMAP files include GMime's headers
for f in $(echo "$files" | grep '\.c$' | grep -v '^bpf/' | grep -v '^tests/fuzz/'); do
	# shellcheck disable=SC2086
	out=$(clang --analyze -Xanalyzer -analyzer-output=text -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -isystem build/bpf \
		-Itests/unit $gmime "$f" -o /dev/null 2>&1)
	[ -n "$out" ] && { echo "$out"; rc=1; }
done

[ $rc -eq 0 ] && echo "lint: clean"
exit $rc
