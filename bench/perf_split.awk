# Where the kernel side's time goes (bench/bpf.sh): sums the self samples of `perf report --no-children
# --sort sym -n --stdio -q` into the parts of the BPF machinery, for one profile per daemon.
#
#   { echo "MODE on"; perf report ...; echo "MODE denied"; ...; echo "MODE off"; ...; } |
#       awk -v hz=F -v conns=N -f bench/perf_split.awk
#
# Prints "part on denied off" per line, in µs of CPU per connection (samples / hz / conns): the whole
# machine's samples, so the figures for `off` are the host's own (other programs at the root cgroup).
# The first matching part wins; the order puts the narrower patterns first.
function part(sym) {
	if (sym ~ /^bpf_prog_[0-9a-f]+_om_sockops$/) return "sock_ops program"
	if (sym ~ /^bpf_prog_[0-9a-f]+_om_skmsg$/) return "sk_msg program"
	if (sym ~ /^bpf_prog_[0-9a-f]+_om_(get|set)sockopt$/) return "getsockopt/setsockopt programs"
	if (sym ~ /^__cgroup_bpf_run_filter_(sock_ops|getsockopt|setsockopt)$|^__bpf_prog_(enter|exit)|^bpf_get_socket_cookie|^bpf_sock_ops_cb_flags_set$|^bpf_get_netns_cookie/)
		return "kernel running the cgroup programs"
	if (sym ~ /htab|lookup_nulls_elem_raw|bpf_lru|prealloc_lru/) return "hash maps (conns, ports)"
	if (sym ~ /^trie_|longest_prefix_match/) return "LPM tries"
	if (sym ~ /ringbuf/) return "ring buffer events"
	if (sym ~ /sk_storage|local_storage|selem/) return "per-socket storage"
	if (sym ~ /^tcp_bpf_(sendmsg|push|recvmsg|send_verdict|msg_wait_data)|^sk_msg_|^skb_splice_from_iter$|^sk_psock_msg_verdict$/)
		return "sockmap send/receive path"
	if (sym ~ /psock|^sock_map_|^sock_hash_|^tcp_bpf_update_proto$|^bpf_map_kzalloc$|^bpf_map_get_memcg|^rcu_work_rcufn$/)
		return "psock and sockhash entry (create, free)"
	return ""
}
BEGIN {
	nparts = split("sock_ops program|sk_msg program|getsockopt/setsockopt programs|" \
	               "kernel running the cgroup programs|hash maps (conns, ports)|LPM tries|ring buffer events|" \
	               "per-socket storage|psock and sockhash entry (create, free)|sockmap send/receive path",
	               order, "|")
}
$1 == "MODE" {
	mode = $2
	next
}
# "    12.34%  1234  [k] symbol"
$2 ~ /^[0-9]+$/ && ($3 == "[k]" || $3 == "[.]") {
	p = part($4)
	if (p != "")
		t[mode, p] += $2
}
END {
	for (i = 1; i <= nparts; i++) {
		p = order[i]
		printf "%s|%.2f|%.2f|%.2f\n", p, t["on", p] / hz / conns * 1e6, t["denied", p] / hz / conns * 1e6,
		       t["off", p] / hz / conns * 1e6
	}
}
