#!/usr/bin/env python3
"""LMTP (RFC 2033) end to end, with seccomp = on: a front MTA's deliveries over a UNIX socket and over TCP
through a real HAProxy (send-proxy-v2), with swaks --protocol LMTP and raw pipelined sockets. After the
final dot each accepted recipient gets its own reply: one whose Maildir cannot take the message (its new/
is not writable for the daemon) gets 451 while the others get 250. The Received line names the client
(the UNIX peer's uid, or the address from the PROXY header). The socket file has socket_mode, a stale one
is replaced at start, a live one is refused, and it is removed at stop. With BPF available, originctl
conns shows the TCP session's protocol as lmtp; the metrics count messages under protocol "lmtp"."""
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
import urllib.request

from harness import (Checks, Daemon, HAProxy, TempDir, build_path, cgroup2_mount, free_port, haproxy_tcp,
                     maildir_files, proxy_route, set_password, smtp_lines, wait_port)

t = Checks("lmtp")
tmp = TempDir("originmail-lmtp-")
os.chmod(tmp.path, 0o755)  # the daemon runs as nobody after binding
nobody = pwd.getpwnam("nobody")
sockdir = os.path.join(tmp.path, "run")
os.mkdir(sockdir, 0o755)
os.chown(sockdir, nobody.pw_uid, -1)  # so that the unprivileged daemon can remove its socket at stop
SOCK = os.path.join(sockdir, "lmtp.sock")
mail = os.path.join(tmp.path, "mail")
passwd = tmp.file("passwd", "")
os.chmod(passwd, 0o644)
P = {k: free_port() for k in ("lmtp", "h_lmtp", "ready", "metrics")}
bpf = os.geteuid() == 0 and shutil.which("bpftool") and cgroup2_mount()
PIN = f"/sys/fs/bpf/originmail-lmtp-{os.getpid()}"
CG = os.path.join(cgroup2_mount() or "/nonexistent", f"originmail-lmtp-{os.getpid()}")
# LeakSanitizer cannot work under the seccomp filter (its tracer thread is not on the allow-list).
SAN_ENV = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"}
bpf_conf = f"bpf_pin_dir = {PIN}\nbpf_cgroup = {CG}\n" if bpf else "bpf = off\n"

config = f"""
hostname = mx1.example.test
domains = example.test
mail_root = {mail}
passwd_file = {passwd}
user = nobody
seccomp = on
command_timeout = 5s
shutdown_grace = 3s
metrics = 127.0.0.1:{P['metrics']}
{bpf_conf}
[listener lmtp-unix]
address = unix:{SOCK}
protocol = lmtp
socket_mode = 0666

[listener lmtp-tcp]
address = 127.0.0.1:{P['lmtp']}
protocol = lmtp
proxy = required
proxy_trusted = 127.0.0.2
"""
haproxy_cfg = haproxy_tcp(
    P['ready'],
    proxy_route("lmtp", P['h_lmtp'], f"127.0.0.1:{P['lmtp']} send-proxy-v2 source 127.0.0.2"),
    timeout="10s")


def unix_conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(SOCK)
    return s


def read_replies(s, n, timeout=5.0):
    """n complete replies (each may have several lines)."""
    s.settimeout(timeout)
    data = b""
    while True:
        lines = data.split(b"\r\n")[:-1]
        if sum(1 for ln in lines if len(ln) >= 4 and ln[3:4] == b" ") >= n:
            return data.decode(errors="replace")
        chunk = s.recv(4096)
        if not chunk:
            return data.decode(errors="replace")
        data += chunk


def swaks(*args):
    return subprocess.run(["swaks", "--protocol", "LMTP", "--helo", "mta.example.net", "--from",
                           "sender@remote.example", "--timeout", "10", *args], capture_output=True, text=True)


daemon = hap = None
made_cg = bpf and not os.path.exists(CG)
try:
    cfg_path = tmp.file("originmaild.conf", config)
    for u in ("alice", "bob", "carol"):
        set_password(cfg_path, f"{u}@example.test", "pw")
    os.chmod(passwd, 0o644)
    # A stale socket file, as a crashed instance leaves it: replaced at start.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(SOCK)
    stale.close()
    daemon = Daemon(tmp, config, env=SAN_ENV)
    t.check(daemon.wait_ready(), "daemon starts over a stale socket file", daemon.log()[-2000:])
    st = os.stat(SOCK)
    t.check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o666, "socket made with socket_mode 0666",
            oct(st.st_mode))
    status = open(f"/proc/{daemon.proc.pid}/status").read()
    t.check("Seccomp:\t2" in status, "the daemon runs under its seccomp filter")
    hap = HAProxy(tmp, haproxy_cfg)
    t.check(wait_port("127.0.0.1", P["ready"]), "haproxy starts")

    # A second instance on the same path is refused: the socket is live.
    other = Daemon(tmp, config.replace(f"127.0.0.1:{P['lmtp']}", f"127.0.0.1:{free_port()}")
                   .replace(f"metrics = 127.0.0.1:{P['metrics']}", "metrics =")
                   .replace(bpf_conf, "bpf = off\n"), name="other", env=SAN_ENV)
    rc = other.stop(timeout=10) if other.proc.wait(10) is not None else None
    t.check(rc == 71 and "another process listens on it" in other.log(), "a live socket is not taken over",
            other.log()[-600:])
    t.check(os.path.exists(SOCK), "the first instance's socket is still there")

    # --- swaks over the UNIX socket
    sw = swaks("--socket", SOCK, "--to", "alice@example.test", "--h-Subject", "over unix")
    t.check(sw.returncode == 0 and "220 mx1.example.test LMTP originmail" in sw.stdout,
            "swaks --protocol LMTP delivers over the UNIX socket", sw.stdout[-1500:] + sw.stderr)
    t.check("250-mx1.example.test Hello mta.example.net [unix:uid=0]" in sw.stdout and
            "PIPELINING" in sw.stdout and "ENHANCEDSTATUSCODES" in sw.stdout and "8BITMIME" in sw.stdout and
            "SIZE" in sw.stdout, "LHLO reply: the peer's uid, PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME, SIZE",
            sw.stdout[-1500:])
    files = maildir_files(mail, "alice@example.test")
    t.check(len(files) == 1, "one message in alice's Maildir", files)
    if files:
        m = open(files[0]).read()
        t.check("Received: from mta.example.net (unix:uid=0)\n\tby mx1.example.test (originmail) with LMTP id "
                in m.replace("\r\n", "\n"), "Received names the UNIX peer, with LMTP", m[:400])
    t.check(daemon.wait_log("unix:uid=0 on lmtp-unix: queued as"), "log: the delivery, by the peer's uid")

    # --- HELO/EHLO are not LMTP
    s = unix_conn()
    greet = smtp_lines(s)
    s.sendall(b"EHLO mta\r\n")
    t.check(greet.startswith("220 ") and smtp_lines(s).startswith("500 5.5.1"), "EHLO refused with 500")
    s.close()

    # --- bob's new/ is not writable for the daemon: per-recipient replies after the dot
    bob_md = os.path.join(mail, "example.test", "bob", "Maildir")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(bob_md, sub), 0o755, exist_ok=True)  # root's: nobody cannot link there
    s = unix_conn()
    smtp_lines(s)
    s.sendall(b"LHLO mta.example.net\r\nMAIL FROM:<sender@remote.example>\r\nRCPT TO:<alice@example.test>\r\n"
              b"RCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nRCPT TO:<carol@example.test>\r\n"
              b"DATA\r\n")
    r = read_replies(s, 7)
    t.check("550 5.1.1 <nobody@example.test>: User unknown" in r and r.rstrip().endswith("354 End data with "
            "<CR><LF>.<CR><LF>"), "pipelined: unknown user 550 5.1.1 at RCPT, then 354", r)
    s.sendall(b"Subject: mixed\r\n\r\nhello\r\n.\r\n")
    r = read_replies(s, 3).splitlines()
    t.check(len(r) == 3 and r[0].startswith("250 2.0.0 <alice@example.test>") and
            r[1].startswith("451 4.3.0 <bob@example.test>") and r[2].startswith("250 2.0.0 <carol@example.test>"),
            "after the dot: 250 alice, 451 bob, 250 carol", r)
    s.sendall(b"QUIT\r\n")
    t.check(smtp_lines(s).startswith("221"), "QUIT")
    s.close()
    t.check(len(maildir_files(mail, "alice@example.test")) == 2 and len(maildir_files(mail, "carol@example.test")) == 1
            and maildir_files(mail, "bob@example.test") == [], "alice and carol have it, bob does not")
    t.check(daemon.wait_log("to 2 of 3 recipients"), "log: the partial delivery and why",
            daemon.log()[-800:])
    shutil.rmtree(os.path.dirname(bob_md))  # the daemon makes it again, its own

    # --- over TCP through HAProxy: the Received line names the client from the PROXY header
    hold = None
    if bpf:  # a session left open, for originctl conns
        hold = socket.create_connection(("127.0.0.1", P["h_lmtp"]), timeout=5)
        smtp_lines(hold)
        hold.sendall(b"LHLO holder\r\n")
        smtp_lines(hold)
    sw = swaks("--server", "127.0.0.1", "--port", str(P["h_lmtp"]), "--to", "bob@example.test,carol@example.test",
               "--h-Subject", "via haproxy")
    t.check(sw.returncode == 0 and "Hello mta.example.net [127.0.0.1]" in sw.stdout,
            "swaks LMTP through haproxy send-proxy-v2: LHLO names the client", sw.stdout[-1500:] + sw.stderr)
    t.check(sw.stdout.count("250 2.0.0 <") == 2, "one reply per recipient", sw.stdout[-800:])
    files = maildir_files(mail, "bob@example.test")
    if files:
        m = open(files[0]).read().replace("\r\n", "\n")
        t.check("Received: from mta.example.net ([127.0.0.1]:" in m and "via proxy [127.0.0.2]:" in m and
                "with LMTP id" in m, "Received: client and proxy hop, with LMTP", m[:400])
    else:
        t.check(False, "bob has the message over TCP")
    if bpf:
        ctl = subprocess.run([build_path("originctl"), "conns", "--json", "--pin-dir", PIN], capture_output=True,
                             text=True)
        rows = json.loads(ctl.stdout) if ctl.returncode == 0 else []
        t.check(any(r["protocol"] == "lmtp" and r["instance"]["port"] == P["lmtp"] for r in rows),
                "originctl conns: protocol lmtp", ctl.stdout + ctl.stderr)
        hold.close()
    else:
        print("lmtp: originctl conns check skipped (needs root, bpftool and cgroup2)")
    with urllib.request.urlopen(f"http://127.0.0.1:{P['metrics']}/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    t.check('originmail_messages_accepted_total{protocol="lmtp"} 3' in metrics, "metrics: 3 messages by lmtp",
            [ln for ln in metrics.splitlines() if "accepted_total" in ln])

    # --- stop: the socket file goes with the daemon
    t.check(daemon.stop() == 0, "daemon stops cleanly (no seccomp kill)", daemon.log()[-800:])
    t.check(not os.path.exists(SOCK), "the socket file is removed at stop")
    t.check("Sanitizer" not in daemon.log(), "no sanitizer report",
            [ln for ln in daemon.log().splitlines() if "Sanitizer" in ln][:5])
except Exception as e:  # a broken setup is a failure, never a silent pass
    t.check(False, "test ran to the end", repr(e))
finally:
    if hap:
        hap.stop()
    if daemon:
        daemon.stop()
    if bpf and os.path.isdir(PIN):
        shutil.rmtree(PIN, ignore_errors=True)
    if made_cg and os.path.isdir(CG):
        try:
            os.rmdir(CG)
        except OSError as e:
            print(f"lmtp: cannot remove {CG}: {e}")
    tmp.cleanup()
t.finish()
