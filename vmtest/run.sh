#!/bin/bash
# Boot each kernel of a matrix under QEMU and run the test binaries inside it (`make vmtest`).
#
#   vmtest/run.sh [--kernel PATH] [--matrix FILE] [--timeout SECS]
#
#   --kernel PATH   boot only this bzImage, running the tests of the matrix's first line
#   --matrix FILE   kernels and their tests (default vmtest/matrix; format in vmtest/README.md)
#   --timeout SECS  hard limit per kernel, boot included (default 300)
#
# Environment: VMTEST_APPEND adds to the kernel command line (loglevel=7 shows the whole boot);
# VMTEST_ACCEL=kvm|tcg overrides the accelerator choice; VMTEST_CACHE is the cache and work directory
# (default build/vmtest, relative to the repository).
#
# The guest console streams to stdout (and build/vmtest/run/<name>/console.log); a summary line per kernel
# follows. Exit status: 0 when every test on every kernel exited 0; 1 on a failed test, a missing result,
# a kernel panic, a kernel warning or oops during a test, a timeout, or a kernel that could not be set up;
# 2 on a usage error or an unusable matrix.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

die() {
	echo "vmtest: $*" >&2
	exit 2
}
usage() {
	sed -n '4,8s/^# \{0,1\}//p' "$0" >&2
	exit "${1:-2}"
}

# Paths given on the command line are relative to the caller; resolve them before moving to the repo.
matrix=$here/matrix
kernel=""
timeout_s=300
while [ $# -gt 0 ]; do
	case $1 in
	--kernel | --matrix | --timeout) [ $# -ge 2 ] || usage ;;&
	--kernel) kernel=$(realpath -e -- "$2" 2>/dev/null) || die "$2: no such kernel image" ;;
	--matrix) matrix=$(realpath -e -- "$2" 2>/dev/null) || die "$2: no such matrix file" ;;
	--timeout) timeout_s=$2 ;;
	-h | --help) usage 0 ;;
	*) usage ;;
	esac
	shift 2
done
case $timeout_s in '' | *[!0-9]*) die "--timeout wants whole seconds, not '$timeout_s'" ;; esac
cd "$repo"
cache=${VMTEST_CACHE:-build/vmtest}

for tool in qemu-system-x86_64 cpio gzip timeout; do
	command -v "$tool" >/dev/null || die "$tool not found (make deps-vmtest installs what vmtest needs)"
done

# Matrix lines: name source test... [modules=mod1,mod2] [files=f1,f2]; '#' starts a comment line.
k_names=() k_sources=() k_tests=() k_mods=() k_files=()
while read -r name source rest || [ -n "$name" ]; do
	case $name in '' | '#'*) continue ;; esac
	[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "$matrix: bad kernel name '$name'"
	t="" m="" f=""
	# Unquoted on purpose: a test may be a glob (build/tests/test_*), expanded here in the repository.
	for w in $rest; do
		case $w in modules=*) m="$m,${w#modules=}" ;; files=*) f="$f,${w#files=}" ;; *) t="$t $w" ;; esac
	done
	[ -n "$t" ] || die "$matrix: kernel $name lists no tests"
	k_names+=("$name") k_sources+=("$source") k_tests+=("$t") m=${m#,} && k_mods+=("${m//,/ }")
	f=${f#,} && k_files+=("${f//,/ }")
done <"$matrix"
[ ${#k_names[@]} -gt 0 ] || die "$matrix: no kernels"
if [ -n "$kernel" ]; then
	# A kernel of your own: its modules are unknown to us, so it must have what the tests use built in.
	k_names=(custom) k_sources=("path:$kernel") k_tests=("${k_tests[0]}") k_mods=("") k_files=("${k_files[0]}")
fi

# KVM only when we can really open /dev/kvm (group membership, container device rules) and it is hardware
# KVM: a /dev/kvm from kvm_pvm (software nested virtualization in some cloud sandboxes) opens fine but can
# only run PVM-enabled guests; a stock kernel aborts on -cpu host or hangs entering protected mode.
# Otherwise TCG: the same machine, slower. VMTEST_ACCEL=kvm|tcg overrides the guess.
accel_name=${VMTEST_ACCEL:-}
if [ -z "$accel_name" ]; then
	accel_name=tcg
	if (exec 3<>/dev/kvm) 2>/dev/null && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
		accel_name=kvm
	fi
fi
case $accel_name in
kvm) accel=(-enable-kvm -cpu host) ;;
tcg) accel=(-cpu max) ;;
*) die "VMTEST_ACCEL must be kvm or tcg" ;;
esac

# boot IMAGE INITRD LOG: one qemu run, console to stdout and LOG, exit status (of timeout) in $status.
# --foreground keeps qemu in the terminal's process group, so ^C reaches it. The serial port is the guest's
# only output; CRs are stripped so the log greps cleanly. panic=-1 with -no-reboot turns a panic into a
# prompt qemu exit instead of a wait for the timeout; loglevel=4 keeps the boot quiet but shows oopses.
boot() {
	set +e
	timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 "${accel[@]}" -m 1G -smp 2 \
		-nodefaults -no-user-config -display none -serial stdio -no-reboot \
		-kernel "$1" -initrd "$2" \
		-append "console=ttyS0 panic=-1 loglevel=4 ${VMTEST_APPEND:-}" </dev/null 2>&1 |
		sed -u 's/\r$//' | tee "$3"
	status=${PIPESTATUS[0]}
	set -e
}

# run_kernel NAME SOURCE "TESTS" "MODULES": boot one kernel, print its summary line into $summary.
# Returns non-zero when anything went wrong.
run_kernel() {
	local name=$1 src=$2 tests=$3 mods=$4 files=${5:-}
	local dir=$cache/kernels/$name work=$cache/run/$name
	local img log=$work/console.log initrd=$work/initramfs.cpio.gz
	local status start elapsed kver t rel line rc pass=0 fail=0 notes=""
	# Missing tests are the common mistake (no `make` yet): say so before downloading a kernel for nothing.
	for t in $tests; do
		if [ ! -x "$t" ]; then
			summary="vmtest: $name: $t does not exist (run make first)"
			return 1
		fi
	done
	summary="vmtest: $name: fetching the kernel failed"
	img=$("$here/fetch-kernel.sh" "$src" "$dir") || return 1
	mkdir -p "$work"
	local modopts=()
	[ -n "$mods" ] && modopts=(-m "$dir/root" -M "$mods")
	summary="vmtest: $name: building the initramfs failed"
	# shellcheck disable=SC2086  # $tests is a word list on purpose (paths have no spaces)
	VMTEST_FILES="$files" "$here/mkinitramfs.sh" "${modopts[@]}" "$initrd" $tests || return 1

	echo "vmtest: == $name: $img ($accel_name), tests:$tests"
	start=$SECONDS
	boot "$img" "$initrd" "$log"
	if [ "$accel_name" = kvm ] && [ "$status" != 0 ] && [ "$status" != 124 ] && [ "$status" != 137 ] &&
		! grep -qa VMTEST-KERNEL "$log"; then
		echo "vmtest: qemu failed under KVM before the guest started; using TCG from now on"
		accel=(-cpu max) accel_name=tcg
		boot "$img" "$initrd" "$log"
	fi
	elapsed=$((SECONDS - start))

	kver=$(sed -n 's/.*VMTEST-KERNEL \([^ ]*\).*/\1/p' "$log" | head -n 1)
	for t in $tests; do
		rel=${t#/}
		line=$(grep -aF "VMTEST-RESULT $rel " "$log" | tail -n 1) || true
		line=${line#*"VMTEST-RESULT $rel "}
		rc=${line%% *}
		if [ -z "$rc" ]; then
			fail=$((fail + 1)) notes="$notes; $rel: no result"
		elif [ "$rc" != 0 ]; then
			fail=$((fail + 1)) notes="$notes; $rel: exit $rc"
		elif grep -qaF "VMTEST-TAINT $rel " "$log"; then
			fail=$((fail + 1)) notes="$notes; $rel: kernel warning/oops"
		else
			pass=$((pass + 1))
		fi
	done
	grep -qa 'Kernel panic' "$log" && notes="$notes; kernel panic"
	case $status in
	0) grep -qa 'VMTEST-DONE' "$log" || notes="$notes; guest stopped before the end" ;;
	124 | 137) notes="$notes; timeout after ${timeout_s}s" ;;
	*) notes="$notes; qemu exited with $status" ;;
	esac
	summary="vmtest: $name (${kver:-unknown}): $pass passed, $fail failed$notes [$accel_name, ${elapsed}s]"
	[ "$fail" -eq 0 ] && [ -z "$notes" ]
}

summaries=() failed=0
for i in "${!k_names[@]}"; do
	summary=""
	run_kernel "${k_names[$i]}" "${k_sources[$i]}" "${k_tests[$i]}" "${k_mods[$i]}" "${k_files[$i]}" || failed=$((failed + 1))
	summaries+=("$summary")
done
echo
printf '%s\n' "${summaries[@]}"
if [ "$failed" -eq 0 ]; then
	echo "vmtest: all ${#k_names[@]} kernel(s) passed"
else
	echo "vmtest: FAILED on $failed of ${#k_names[@]} kernel(s)"
	exit 1
fi
