# Where the kernel side's time goes (bench/bpf.sh): sums the self samples of `perf report --no-children
# --sort sym -n --stdio -q` into the parts of the BPF machinery, for one profile per daemon.
#
#   { echo "MODE on"; perf report ...; echo "MODE denied"; ...; echo "MODE off"; ...; } |
#       awk -v hz=F -v conns=N -f bench/perf_split.awk
#
# Prints "part on denied off" per line, in µs of CPU per connection (samples / hz / conns): the whole
# machine's samples, so the figures for `off` are the host's own (other programs at the root cgroup).
# The first matching part wins.

# The parts, in the order they are printed and tried, each with the pattern of its functions' names.
BEGIN {
	n = 0
	name[++n] = "sock_ops program"
	pat[n] = "^bpf_prog_[0-9a-f]+_om_sockops$"
	name[++n] = "sk_msg program"
	pat[n] = "^bpf_prog_[0-9a-f]+_om_skmsg$"
	name[++n] = "getsockopt/setsockopt programs"
	pat[n] = "^bpf_prog_[0-9a-f]+_om_(get|set)sockopt$"
	name[++n] = "kernel running the cgroup programs"
	pat[n] = "^__cgroup_bpf_run_filter_(sock_ops|getsockopt|setsockopt)$|^__bpf_prog_(enter|exit)|" \
	         "^bpf_get_socket_cookie|^bpf_sock_ops_cb_flags_set$|^bpf_get_netns_cookie"
	name[++n] = "hash maps (conns, ports)"
	pat[n] = "htab|lookup_nulls_elem_raw|bpf_lru|prealloc_lru"
	name[++n] = "LPM tries"
	pat[n] = "^trie_|longest_prefix_match"
	name[++n] = "ring buffer events"
	pat[n] = "ringbuf"
	name[++n] = "per-socket storage"
	pat[n] = "sk_storage|local_storage|selem"
	name[++n] = "sockmap send/receive path" # before the psock part: sk_psock_msg_verdict is a send
	pat[n] = "^tcp_bpf_(sendmsg|push|recvmsg|send_verdict|msg_wait_data)|^sk_msg_|^skb_splice_from_iter$|" \
	         "^sk_psock_msg_verdict$"
	name[++n] = "psock and sockhash entry (create, free)"
	pat[n] = "psock|^sock_map_|^sock_hash_|^tcp_bpf_update_proto$|^bpf_map_kzalloc$|^bpf_map_get_memcg|" \
	         "^rcu_work_rcufn$"
}
function part(sym, i) {
	for (i = 1; i <= n; i++)
		if (sym ~ pat[i])
			return i
	return 0
}
$1 == "MODE" {
	mode = $2
	next
}
# "    12.34%  1234  [k] symbol"
$2 ~ /^[0-9]+$/ && ($3 == "[k]" || $3 == "[.]") {
	p = part($4)
	if (p)
		t[mode, p] += $2
}
END {
	for (p = 1; p <= n; p++)
		printf "%s|%.2f|%.2f|%.2f\n", name[p], t["on", p] / hz / conns * 1e6, t["denied", p] / hz / conns * 1e6,
		       t["off", p] / hz / conns * 1e6
}
