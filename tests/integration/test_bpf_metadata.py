#!/usr/bin/env python3
"""The kernel side (docs/bpf.md) end to end, as root: originmaild with bpf = on on loopback.

Raw PROXY headers come from 127.0.0.2 (the trusted proxy) naming documentation addresses; 127.0.0.3 may
connect directly; 127.0.0.1 is neither. The test uses its own pin directory and cgroup (never the host's
/sys/fs/bpf/originmail, which live instances may share) and removes both, even on failure."""
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time

from harness import (Checks, Daemon, TempDir, bpftool_dump, build_path, cgroup2_mount, free_port, make_ca_and_cert,
                     set_password, smtp_lines)

t = Checks("bpf_metadata")
if os.geteuid() != 0 or not shutil.which("bpftool") or not cgroup2_mount():
    print("bpf_metadata: skipped (needs root, bpftool and a cgroup2 mount)")
    t.finish()

tmp = TempDir()
os.chmod(tmp.path, 0o755)  # daemon A runs as nobody after loading
ca, cert, key = make_ca_and_cert(tmp)
PIN = f"/sys/fs/bpf/originmail-test-{os.getpid()}"
CG = os.path.join(cgroup2_mount(), f"originmail-test-{os.getpid()}")
P = {k: free_port() for k in ("a", "b", "c")}
passwd = tmp.file("passwd", "")
os.chmod(passwd, 0o644)


def config(port, extra="", direct="127.0.0.3", user="nobody", trusted="127.0.0.2"):
    return f"""
hostname = mx1.example.test
domains = example.test
mail_root = {tmp.path}/mail
passwd_file = {passwd}
user = {user}
tls_cert = {cert}
tls_key = {key}
command_timeout = 5s
shutdown_grace = 2s
bpf_pin_dir = {PIN}
bpf_cgroup = {CG}
{extra}
[listener smtp]
address = 127.0.0.1:{port}
protocol = smtp
tls = starttls
proxy = required
proxy_trusted = {trusted}
direct_allowed = {direct}
"""


def via_proxy(port, client="203.0.113.10", cport=40000):
    s = socket.socket()
    s.settimeout(5)
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    s.sendall(f"PROXY TCP4 {client} 192.0.2.25 {cport} 25\r\n".encode())
    return s


def entries():
    return [e["value"] for e in bpftool_dump(PIN + "/conns")]


def ip(a):
    return ".".join(str(int(x, 0) if isinstance(x, str) else x) for x in a["addr"][:4])


def find(port=None, peer_port=None):
    for v in entries():
        if (port is None or v["local"]["port"] == port) and (peer_port is None or v["peer"]["port"] == peer_port):
            return v
    return None


def octl(*args):
    return subprocess.run([build_path("originctl"), *args, "--pin-dir", PIN], capture_output=True, text=True)


def policy_rows():
    """originctl policy's table as (pid, port, list, cidr) tuples; its --json must agree."""
    r, rj = octl("policy"), octl("policy", "--json")
    if r.returncode != 0 or rj.returncode != 0:
        return {("error", r.stderr + rj.stderr)}
    rows = {(int(f[1]), int(f[2]), f[3], f[4]) for f in (ln.split() for ln in r.stdout.splitlines()[1:])}
    rows_json = {(x["pid"], x["port"], x["list"], x["cidr"]) for x in json.loads(rj.stdout)}
    return rows if rows == rows_json else {("table and json differ", r.stdout, rj.stdout)}


def conn_row(proxy_port):
    r = octl("conns", "--json")
    rows = json.loads(r.stdout) if r.returncode == 0 else []
    return next((x for x in rows if x["proxy"]["port"] == proxy_port), None)


def read_all_as_denied(port):
    """Connect from 127.0.0.1 (neither trusted nor direct) and read until the server closes."""
    d = socket.socket()
    d.settimeout(5)
    d.bind(("127.0.0.1", 0))
    d.connect(("127.0.0.1", port))
    got = b""
    try:
        while True:
            c = d.recv(65536)
            if not c:
                break
            got += c
    except OSError:
        pass
    d.close()
    return got


def wait_for(fn, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = fn()
        if r:
            return r
        time.sleep(0.05)
    return fn()


class ProxySMTP(smtplib.SMTP):
    """smtplib over a connection that starts with a PROXY v1 header from 127.0.0.2."""
    def _get_socket(self, host, port, timeout):
        s = socket.create_connection((host, port), timeout, ("127.0.0.2", 0))
        s.sendall(b"PROXY TCP4 203.0.113.11 192.0.2.25 40001 25\r\n")
        return s


made_cg = not os.path.exists(CG)
daemons = []
try:
    cfg_a = config(P["a"])
    set_password(tmp.file("a.conf", cfg_a), "alice@example.test", "alice-secret")
    os.chmod(passwd, 0o644)
    a = Daemon(tmp, cfg_a, name="a", env={"ORIGINMAIL_TEST_DENIED_OVERSEND": "1"})
    daemons.append(a)
    t.check(a.wait_ready(), "daemon A starts with bpf = on", a.log()[-1500:])
    t.check("BPF metadata on: sock_ops on cgroup " + CG in a.log(), "log: BPF metadata on, in the test cgroup",
            a.log()[-800:])
    status = open(f"/proc/{a.proc.pid}/status").read()
    t.check("\nUid:\t65534" in status, "daemon A dropped to nobody after loading")
    t.check(CG[len(cgroup2_mount()):] in open(f"/proc/{a.proc.pid}/cgroup").read(), "daemon A moved into the cgroup")
    pol = policy_rows()
    t.check((a.proc.pid, P["a"], "trusted", "127.0.0.2/32") in pol and
            (a.proc.pid, P["a"], "direct", "127.0.0.3/32") in pol and len(pol) == 2,
            "originctl policy: A's trusted and direct CIDRs on its port", pol)

    # --- a proxied connection: the entry has both tuples while connected, and goes at close
    s = via_proxy(P["a"])
    t.check(smtp_lines(s).startswith("220 "), "proxied client gets the banner")
    e = wait_for(lambda: find(P["a"], s.getsockname()[1]))
    t.check(e is not None, "bpftool map dump pinned conns -j shows the entry", entries())
    if e:
        t.check(ip(e["peer"]) == "127.0.0.2" and e["peer"]["port"] == s.getsockname()[1],
                "entry: proxy 127.0.0.2 and its port (remote_port byte order)", e["peer"])
        t.check(ip(e["origin"]) == "203.0.113.10" and e["origin"]["port"] == 40000,
                "entry: origin 203.0.113.10:40000 from the PROXY header", e["origin"])
        t.check(ip(e["local"]) == "127.0.0.1" and e["local"]["port"] == P["a"], "entry: instance 127.0.0.1:port",
                e["local"])
        t.check(ip(e["dst"]) == "192.0.2.25" and e["dst"]["port"] == 25, "entry: destination from the header")
        t.check(e["verdict"] == 2 and e["proxy_version"] == 1 and e["pid"] == a.proc.pid,
                "entry: verdict proxy-required, PROXY v1, instance pid", e)
        t.check(e["bytes_out"] == len("220 mx1.example.test ESMTP originmail\r\n") and e["counted"] == 1,
                "entry: sk_msg counted the banner", e["bytes_out"])
    ctl = subprocess.run([build_path("originctl"), "conns", "--pin-dir", PIN], capture_output=True, text=True)
    t.check(ctl.returncode == 0 and f"203.0.113.10:40000" in ctl.stdout and
            f"127.0.0.2:{s.getsockname()[1]}" in ctl.stdout and f"127.0.0.1:{P['a']}" in ctl.stdout and
            "proxy-required" in ctl.stdout, "originctl conns: origin, proxy, instance, verdict", ctl.stdout + ctl.stderr)
    ctl = subprocess.run([build_path("originctl"), "conns", "--json", "--pin-dir", PIN], capture_output=True, text=True)
    rows = json.loads(ctl.stdout) if ctl.returncode == 0 else []
    t.check(any(r["origin"] == {"addr": "203.0.113.10", "port": 40000} and r["proxy"]["addr"] == "127.0.0.2"
                and r["pid"] == a.proc.pid for r in rows), "originctl conns --json", ctl.stdout)
    pport = s.getsockname()[1]
    r = conn_row(pport)
    t.check(r is not None and r["protocol"] == "smtp" and r["tls"] is False, "originctl conns: protocol smtp, no TLS", r)
    t.check(any(ln.split()[0] == str(e["cookie"] if e else 0) and " smtp " in ln and " no " in ln
                for ln in octl("conns").stdout.splitlines()[1:]), "originctl conns table: protocol and TLS columns")
    s.sendall(b"QUIT\r\n")
    bye = smtp_lines(s)
    s.close()
    t.check(wait_for(lambda: find(P["a"], pport) is None), "entry gone after close (state callback)", entries())
    sent = len("220 mx1.example.test ESMTP originmail\r\n") + len(bye.encode())
    t.check(a.wait_log(f"BPF: close cookie {e['cookie'] if e else 0} from 127.0.0.2:{pport} after") and
            f" {sent} bytes out (sk_msg)" in a.log(), "log: the close event's sk_msg count is what the client received",
            a.log()[-1500:])
    t.check(re.search(r"Connection from 203\.0\.113\.10 closed after \d+ ms, 6 bytes in, %d out\n" % sent, a.log()),
            "log: the daemon's own close line counts the same bytes (QUIT in, banner and 221 out)", a.log()[-1500:])
    t.check(a.wait_log("BPF: open cookie") and a.wait_log(f"from 127.0.0.2:{pport} after"),
            "log: ring buffer open and close events (read after the privilege drop)", a.log()[-1500:])
    t.check(a.wait_log(f"BPF: close cookie") and "bytes out (sk_msg)" in a.log(), "log: close event has duration and bytes")

    # --- STARTTLS and a long pipelined reply stream through sk_msg
    with ProxySMTP("127.0.0.1", P["a"], local_hostname="client.example", timeout=10) as m:
        m.ehlo()
        r = conn_row(m.sock.getsockname()[1])
        t.check(r is not None and r["protocol"] == "smtp" and r["tls"] is False, "conns: TLS no before STARTTLS", r)
        m.starttls(context=ssl.create_default_context(cafile=ca))
        m.ehlo()
        r = conn_row(m.sock.getsockname()[1])
        t.check(r is not None and r["tls"] is True and r["protocol"] == "smtp", "conns: TLS yes after STARTTLS", r)
        n = 3000
        m.sock.sendall(b"NOOP\r\n" * n)
        data = b""
        m.sock.settimeout(10)
        while data.count(b"\r\n") < n:
            chunk = m.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        t.check(data.count(b"250 ") == n, "TLS: 3000 pipelined replies arrive whole through sk_msg (no stall)",
                data.count(b"\r\n"))
        e = find(P["a"], m.sock.getsockname()[1])
        t.check(e is not None and e["bytes_out"] > len(data) and ip(e["origin"]) == "203.0.113.11",
                "TLS connection: entry counts the encrypted bytes sent", e)
        m.sendmail("s@client.example", ["alice@example.test"], "Subject: t\r\n\r\n" + "x" * 100000)
        t.check(True, "TLS: a 100 KB message accepted")

    # --- a denied peer gets the one refusal line, even though the daemon (test switch) sends more
    got = read_all_as_denied(P["a"])
    t.check(got.startswith(b"421 ") and got.count(b"\r\n") == 1 and got.endswith(b"\r\n"),
            "denied peer receives only the 421 line", got[:300])
    t.check(a.wait_log("BPF: sk_msg dropped"), "log: sk_msg dropped the rest for the denied peer")

    # --- a second instance on another port shares the pinned maps (and the cgroup); it puts only denied
    # peers through sk_msg (bpf_sk_msg = denied)
    b = Daemon(tmp, config(P["b"], user="", extra="bpf_sk_msg = denied"), name="b",
               env={"ORIGINMAIL_TEST_DENIED_OVERSEND": "1"})
    daemons.append(b)
    t.check(b.wait_ready(), "daemon B starts (reusing the pinned maps)", b.log()[-1500:])
    s = via_proxy(P["b"], "198.51.100.20", 41000)
    t.check(smtp_lines(s).startswith("220 "), "B serves its proxied client")
    e = wait_for(lambda: find(P["b"]))
    t.check(e is not None and e["pid"] == b.proc.pid and ip(e["origin"]) == "198.51.100.20",
            "B's connection in the same conns map, with B's pid", e)
    t.check(b.wait_log("BPF: open cookie") and f"to 127.0.0.1:{P['b']}" not in a.log(),
            "each instance's programs see only its own ports")
    t.check(e is not None and e["counted"] == 0 and e["bytes_out"] == 0,
            "bpf_sk_msg = denied: a served connection is not in the sockhash, no bytes counted", e)
    banner = len("220 mx1.example.test ESMTP originmail\r\n")
    r = wait_for(lambda: (lambda x: x if x and x["bytes_out"] == banner else None)(conn_row(s.getsockname()[1])))
    t.check(r is not None and r["bytes_counted"] is False and r["bytes_from"] == "tcp",
            "originctl conns --json: not counted by sk_msg, the banner's bytes from TCP's acked count", r)
    t.check(any(ln.split()[-1] == str(banner) and str(e["cookie"] if e else 0) == ln.split()[0]
                for ln in octl("conns").stdout.splitlines()[1:]), "originctl conns table: the same bytes out")
    bport = s.getsockname()[1]
    s.close()
    t.check(wait_for(lambda: find(P["b"], bport) is None), "B's entry gone after close (state callback)")
    t.check(b.wait_log(f"from 127.0.0.2:{bport} after") and
            re.search(rf"from 127\.0\.0\.2:{bport} after \d+ ms, bytes out not counted \(bpf_sk_msg = denied\)",
                      b.log()), "B's close event says its bytes out were not counted", b.log()[-800:])
    got = read_all_as_denied(P["b"])
    t.check(got.startswith(b"421 ") and got.count(b"\r\n") == 1,
            "bpf_sk_msg = denied: a denied peer still receives only the 421 line", got[:300])
    t.check(b.wait_log("BPF: sk_msg dropped"), "B's log: sk_msg dropped the rest for the denied peer")

    # --- SIGHUP: the tries follow the configuration
    pol_b = {x for x in policy_rows() if x[0] == b.proc.pid}
    t.check(pol_b == {(b.proc.pid, P["b"], "trusted", "127.0.0.2/32"), (b.proc.pid, P["b"], "direct", "127.0.0.3/32")},
            "originctl policy: B's lists, per instance", pol_b)
    open(a.conf, "w").write(config(P["a"], direct="127.0.0.3, 127.0.0.1", trusted="127.0.0.2, 10.9.0.0/16"))
    a.signal(signal.SIGHUP)
    t.check(a.wait_log("Reloaded"), "A reloads")
    pol = {x for x in policy_rows() if x[0] == a.proc.pid}
    t.check(pol == {(a.proc.pid, P["a"], "trusted", "127.0.0.2/32"), (a.proc.pid, P["a"], "trusted", "10.9.0.0/16"),
                    (a.proc.pid, P["a"], "direct", "127.0.0.3/32"), (a.proc.pid, P["a"], "direct", "127.0.0.1/32")},
            "originctl policy after SIGHUP: the new trusted CIDR and direct address", pol)
    tries = [x["key"] for x in bpftool_dump(PIN + "/direct_v4")]
    t.check(any(k["addr"][:4] in ([127, 0, 0, 1], ["0x7f", "0x00", "0x00", "0x01"]) for k in tries),
            "direct_v4 trie has 127.0.0.1 after SIGHUP", tries)
    d = socket.socket()
    d.settimeout(5)
    d.bind(("127.0.0.1", 0))
    d.connect(("127.0.0.1", P["a"]))
    t.check(smtp_lines(d).startswith("220 "), "127.0.0.1 now served directly")
    d.close()
    t.check("kernel verdict" not in a.log(), "kernel and configuration verdicts never disagreed", a.log()[-800:])

    # --- bpf = off works; bpf = on with an impossible cgroup refuses to start
    c = Daemon(tmp, config(P["c"]).replace(f"bpf_pin_dir = {PIN}", "bpf = off"), name="c")
    daemons.append(c)
    t.check(c.wait_ready() and "BPF metadata off: bpf = off" in c.log(), "bpf = off: runs, says so once")
    s = via_proxy(P["c"])
    t.check(smtp_lines(s).startswith("220 "), "bpf = off: proxied client served")
    s.close()
    bad = Daemon(tmp, config(free_port()).replace(f"bpf_cgroup = {CG}", "bpf = on\nbpf_cgroup = /proc/none/x"),
                 name="bad")
    rc = bad.proc.wait(10)
    bad.stop()
    t.check(rc == 71 and "bpf = on, but BPF metadata cannot start: cannot create cgroup /proc/none/x" in bad.log(),
            "bpf = on refuses to start with the reason", (rc, bad.log()[-500:]))

    # --- originctl unpin (the units' ExecStopPost): kept while instances run; never outside a bpffs
    u = octl("unpin")
    t.check(u.returncode == 0 and "kept, 2 instances still running" in u.stdout and os.path.exists(PIN + "/conns"),
            "originctl unpin keeps the pins while A and B run", u.stdout + u.stderr)
    u = subprocess.run([build_path("originctl"), "unpin", "--pin-dir", tmp.path], capture_output=True, text=True)
    t.check(u.returncode == 1 and "not on a bpf file system" in u.stderr and os.path.isdir(tmp.path),
            "originctl unpin refuses a directory outside bpffs", u.stdout + u.stderr)

    # --- stop: A (unprivileged) leaves the pins to B; B, the last, removes them
    t.check(a.stop() == 0, "A stops")
    t.check(os.path.exists(PIN + "/conns") and not any(v["pid"] == a.proc.pid for v in entries()),
            "pins stay for B; A's entries are gone")
    t.check(b.stop() == 0, "B stops")
    t.check(not os.path.exists(PIN), "the last instance removed the pins", b.log()[-500:])
    u = octl("unpin")
    t.check(u.returncode == 0 and "nothing pinned" in u.stdout, "originctl unpin: nothing left to do", u.stdout)
    c.stop()
finally:
    for dmn in daemons:
        dmn.stop()
    if os.path.isdir(PIN):
        for f in os.listdir(PIN):
            os.unlink(os.path.join(PIN, f))
        os.rmdir(PIN)
    if made_cg and os.path.isdir(CG):
        try:
            os.rmdir(CG)
        except OSError as e:
            print(f"bpf_metadata: cannot remove {CG}: {e}")
    tmp.cleanup()
t.check(not os.path.exists(PIN) and not os.path.exists(CG), "test pins and cgroup removed")
t.finish()
