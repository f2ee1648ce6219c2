#!/bin/sh
# The daemon's BPF path inside the guest (busybox sh, no python): originmaild with bpf = on on this kernel,
# a PROXY header from a trusted peer recorded in the pinned map with the client it names, a denied peer
# refused with one line, everything unpinned at the end. 127.0.0.1 plays the proxy. Prints "N passed, N failed".
cd /vmtest || exit 1
pass=0 fail=0
check() { # what condition...
	what=$1
	shift
	if "$@"; then pass=$((pass + 1)) && echo "ok   $what"; else fail=$((fail + 1)) && echo "FAIL $what"; fi
}
d=/tmp/om
mkdir -p $d/mail
: >$d/passwd
cat >$d/om.conf <<CONF
hostname = vm.example.test
domains = example.test
mail_root = $d/mail
passwd_file = $d/passwd
bpf = on

[listener smtp]
address = 127.0.0.1:2525, [::1]:2525
protocol = smtp
proxy = required
proxy_trusted = 127.0.0.1
CONF
./build/originmaild -c $d/om.conf >$d/log 2>&1 &
pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	grep -q "originmaild ready" $d/log && break
	sleep 0.5
done
check "originmaild starts with bpf = on on $(uname -r)" grep -q "originmaild ready" $d/log
grep -i "bpf" $d/log | head -5

# A trusted peer's header: the kernel's entry gets the origin it names.
{ printf 'PROXY TCP4 203.0.113.10 198.51.100.1 40000 25\r\n'; sleep 3; } | nc 127.0.0.1 2525 >$d/out1 &
ncpid=$!
sleep 1
./build/originctl conns >$d/conns 2>&1
cat $d/conns
check "originctl conns shows the origin named by the header" grep -q "203.0.113.10:40000" $d/conns
check "... through the trusted peer" grep -q "127.0.0.1:" $d/conns
wait $ncpid
check "the proxied client got the greeting" grep -q "^220 " $d/out1

# A peer that is neither trusted nor direct (::1 here; busybox nc cannot pick a source address) gets the one
# refusal line.
echo "EHLO x" | timeout 5 nc ::1 2525 >$d/out2
check "a denied peer gets 421 4.7.0" grep -q "^421 4.7.0" $d/out2
check "... and nothing else" test "$(wc -l <$d/out2)" -eq 1
sleep 1
./build/originctl conns >$d/conns2 2>&1
check "closed connections leave the map" sh -c "! grep -q 203.0.113.10 $d/conns2"

kill $pid
wait $pid
check "the daemon stops cleanly" grep -q "originmaild stopped" $d/log
rm -rf /sys/fs/bpf/originmail
echo "daemon_bpf: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
