#!/usr/bin/env python3
"""Abuse limits by the original client's address (docs/bpf.md "Origin limits"), through a real HAProxy that
sends PROXY v2 headers: clients connect to HAProxy from different loopback addresses (127.0.0.x), so each is
its own origin, while every connection to originmaild comes from 127.0.0.1 (the proxy).

- per-origin open connections: origin A over the cap gets 421 (SMTP) / BYE (IMAP) while origin B is served;
- per-origin connection rate;
- failed logins (SMTP AUTH, IMAP LOGIN): replies delayed, growing; lockout at the maximum (421 / BYE, new
  connections refused, on either protocol) while a good login from another origin works;
- two instances sharing the pinned map (bpf = on): the cap holds across them, and the connections of an
  instance killed with SIGKILL are taken back when the next instance starts;
- the same pair with bpf = off: each instance counts on its own (documented);
- the global max_connections refusal names the origin.

As root (BPF); the test uses its own pin directory and cgroup and removes them, even on failure."""
import base64
import json
import os
import shutil
import signal
import subprocess
import time

from harness import (Checks, Daemon, HAProxy, TempDir, build_path, cgroup2_mount, connect_from, free_port,
                     haproxy_tcp, proxy_route, set_password, wait_port)

t = Checks("limits")
if os.geteuid() != 0 or not shutil.which("bpftool") or not cgroup2_mount():
    print("limits: skipped (needs root, bpftool and a cgroup2 mount)")
    t.finish()

tmp = TempDir()
os.chmod(tmp.path, 0o755)  # the daemons run as nobody after binding
PIN = f"/sys/fs/bpf/originmail-limits-test-{os.getpid()}"
CG = os.path.join(cgroup2_mount(), f"originmail-limits-test-{os.getpid()}")
passwd = tmp.file("passwd", "")
os.chmod(passwd, 0o644)
ctl = build_path("originctl")

# Daemon ports (backends) and HAProxy ports (frontends).
D = {k: free_port() for k in ("smtp", "sub", "imap", "i1", "i2", "j1", "j2", "g")}
F = {k: free_port() for k in ("smtp", "sub", "imap", "pair", "off", "g", "ready")}


def config(listeners, extra="", bpf=True):
    text = f"""hostname = mx1.example.test
domains = example.test
mail_root = {tmp.path}/mail
passwd_file = {passwd}
user = nobody
shutdown_grace = 1s
"""
    text += f"bpf = on\nbpf_pin_dir = {PIN}\nbpf_cgroup = {CG}\n" if bpf else "bpf = off\n"
    text += extra
    for name, port, proto in listeners:
        text += f"""
[listener {name}]
address = 127.0.0.1:{port}
protocol = {proto}
proxy = required
proxy_trusted = 127.0.0.1
allow_plaintext_auth = yes
"""
    return text


haproxy_cfg = haproxy_tcp(
    F['ready'],
    *(proxy_route(n, F[n], f"127.0.0.1:{D[n]} send-proxy-v2") for n in ("smtp", "sub", "imap", "g")),
    proxy_route("pair", F['pair'], f"127.0.0.1:{D['i1']} send-proxy-v2", f"127.0.0.1:{D['i2']} send-proxy-v2"),
    proxy_route("off", F['off'], f"127.0.0.1:{D['j1']} send-proxy-v2", f"127.0.0.1:{D['j2']} send-proxy-v2"))


class Conn:
    """A client connection from a chosen loopback address, read line by line (pipelined replies kept)."""

    def __init__(self, origin, port):
        self.sock = connect_from(origin, "127.0.0.1", port, timeout=10)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            try:
                c = self.sock.recv(4096)
            except OSError:
                c = b""
            if not c:
                out, self.buf = self.buf, b""
                return out.decode(errors="replace")
            self.buf += c
        out, _, self.buf = self.buf.partition(b"\r\n")
        return out.decode(errors="replace") + "\r\n"

    def reply(self):
        """One SMTP reply, all its lines."""
        out = ""
        while True:
            ln = self.line()
            out += ln
            if not ln or (len(ln) >= 4 and ln[3] == " "):
                return out

    def send(self, data):
        self.sock.send(data if isinstance(data, bytes) else data.encode())

    def closed(self):
        """The server closed (EOF or reset) after what it said."""
        if self.buf:
            return False
        try:
            return self.sock.recv(100) == b""
        except OSError:
            return True

    def close(self):
        self.sock.close()


def smtp_open(origin, port):
    c = Conn(origin, port)
    return c, c.reply()


def imap_open(origin, port):
    c = Conn(origin, port)
    return c, c.line()


def limits_json(pin=PIN):
    p = subprocess.run([ctl, "limits", "--json", "--pin-dir", pin], capture_output=True, text=True)
    return json.loads(p.stdout) if p.returncode == 0 else {"error": p.stderr}


def origin_row(table, ip):
    for o in table.get("origins", []):
        if o["origin"] == ip:
            return o
    return {}


def plain(user, pw):
    return base64.b64encode(f"\0{user}\0{pw}".encode()).decode()


daemons, hap = [], None
made_cg = not os.path.exists(CG)
try:
    hap = HAProxy(tmp, haproxy_cfg)
    t.check(wait_port("127.0.0.1", F["ready"]), "haproxy listens")

    main_conf = config([("smtp", D["smtp"], "smtp"), ("submission", D["sub"], "submission"),
                        ("imap", D["imap"], "imap")],
                       extra="origin_max_connections = 2\norigin_rate = 6/1m\norigin_auth_failures = 2/1m\n"
                             "origin_auth_delay = 1s\norigin_auth_delay_max = 2s\norigin_exempt = 127.0.0.17\n")
    set_password(tmp.file("users.conf", main_conf), "alice@example.test", "alice-secret")
    m = Daemon(tmp, main_conf, name="main")
    daemons.append(m)
    t.check(m.wait_ready(), "originmaild (bpf = on, user nobody) starts", m.log()[-2000:])
    t.check("Origin limits shared by every instance on this host" in m.log(), "log: the limits table is shared")

    # --- per-origin open connections: A (127.0.0.10) has 2, a third is refused; B (127.0.0.11) is served
    a1, g1 = smtp_open("127.0.0.10", F["smtp"])
    a2, g2 = smtp_open("127.0.0.10", F["smtp"])
    t.check(g1.startswith("220 ") and g2.startswith("220 "), "origin A: two connections served", g1 + g2)
    a3, g3 = smtp_open("127.0.0.10", F["smtp"])
    t.check(g3.startswith("421 4.7.0 mx1.example.test too many open connections from 127.0.0.10"),
            "origin A: the third gets 421 4.7.0", g3)
    t.check(a3.closed(), "origin A: the refused connection is closed")
    a4, g4 = imap_open("127.0.0.10", F["imap"])
    t.check(g4.startswith("* BYE mx1.example.test too many open connections from 127.0.0.10"),
            "origin A: IMAP refused with * BYE (the cap counts every listener)", g4)
    b1, gb = smtp_open("127.0.0.11", F["smtp"])
    t.check(gb.startswith("220 "), "origin B is served meanwhile", gb)
    t.check(m.wait_log("Refused connection from 127.0.0.10 via 127.0.0.1 on smtp: too many open connections "
                       "from 127.0.0.10"), "log: the refusal names the origin and the proxy")
    table = limits_json()
    t.check(origin_row(table, "127.0.0.10").get("connections") == 2 and
            origin_row(table, "127.0.0.10").get("state") == "max-connections" and
            origin_row(table, "127.0.0.10").get("refused") == 2,
            "originctl limits --json: A has 2 open, state max-connections, 2 refused", json.dumps(table)[:600])
    text = subprocess.run([ctl, "limits", "--pin-dir", PIN], capture_output=True, text=True).stdout
    t.check(any(r.split()[:2] == ["127.0.0.10", "2"] for r in text.splitlines()),
            "originctl limits: a line for A with 2 connections", text)
    dump = subprocess.run(["bpftool", "map", "dump", "pinned", PIN + "/limits", "-j"], capture_output=True,
                          text=True)
    rows = [e.get("formatted", e)["value"] for e in json.loads(dump.stdout or "[]")]
    mine = [v for v in rows if [int(str(x), 0) for x in v["addr"]][12:] == [127, 0, 0, 10] and
            int(str(v["state"]), 0) & 3 == 1]
    t.check(len(mine) == 1 and sum(int(str(c), 0) & 0xffff for c in mine[0]["cells"]) == 2,
            "bpftool map dump shows A's slot by field name, 2 connections in its cells", str(mine)[:300])
    for s in (a1, a2):
        s.send(b"QUIT\r\n")
        s.reply()
        s.close()
    for s in (a3, a4, b1):
        s.close()
    time.sleep(0.3)
    a5, g5 = smtp_open("127.0.0.10", F["smtp"])
    t.check(g5.startswith("220 "), "origin A served again once its connections closed", g5)
    a5.close()

    # --- per-origin rate: 6 a minute (A used 5 of its own; C starts afresh)
    got = []
    for i in range(6):
        s, g = smtp_open("127.0.0.12", F["smtp"])
        got.append(g[:3])
        s.close()
    s, g = smtp_open("127.0.0.12", F["smtp"])
    s.close()
    t.check(got == ["220"] * 6 and g.startswith("421 4.7.0 mx1.example.test too many new connections from "
                                                "127.0.0.12"), "origin C: 6 new connections, the 7th refused",
            f"{got} {g}")
    s, g = smtp_open("127.0.0.11", F["smtp"])
    s.close()
    t.check(g.startswith("220 "), "origin B unaffected by C's rate", g)

    # --- failed logins over SMTP: delayed replies, lockout at 2, then refused on every protocol
    d, g = smtp_open("127.0.0.13", F["sub"])
    d.send(b"EHLO d.example\r\n")
    d.reply()
    t0 = time.monotonic()
    d.send(f"AUTH PLAIN {plain('alice@example.test', 'wrong')}\r\nNOOP\r\n".encode())
    r1 = d.reply()
    dt1 = time.monotonic() - t0
    t.check(r1.startswith("535 5.7.8") and dt1 >= 0.95, "SMTP: first failure answered 535 after >= 1 s",
            f"{r1!r} {dt1:.2f}s")
    r1b = d.reply()
    t.check(r1b.startswith("250"), "SMTP: the pipelined NOOP is answered after the delayed 535", r1b)
    t0 = time.monotonic()
    d.send(f"AUTH PLAIN {plain('alice@example.test', 'wrong-again')}\r\n".encode())
    r2 = d.reply()
    r2b = d.reply()
    dt2 = time.monotonic() - t0
    t.check(r2.startswith("535 5.7.8") and dt2 >= 1.95, "SMTP: second failure delayed longer (>= 2 s)",
            f"{r2!r} {dt2:.2f}s")
    t.check(r2b.startswith("421 4.7.0 mx1.example.test too many failed logins from 127.0.0.13"),
            "SMTP: at origin_auth_failures the session ends with 421 4.7.0", r2b)
    t.check(d.closed(), "SMTP: the locked-out session is closed")
    d.close()
    s, g = smtp_open("127.0.0.13", F["sub"])
    s.close()
    t.check(g.startswith("421 4.7.0 mx1.example.test too many failed logins from 127.0.0.13"),
            "locked origin: a new SMTP connection is refused", g)
    s, g = imap_open("127.0.0.13", F["imap"])
    s.close()
    t.check(g.startswith("* BYE mx1.example.test too many failed logins from 127.0.0.13"),
            "locked origin: a new IMAP connection gets * BYE", g)
    t.check(m.wait_log("127.0.0.13 on submission: failed login, reply delayed 2000 ms"),
            "log: the delay of the second failure")
    t.check(origin_row(limits_json(), "127.0.0.13").get("state") == "locked", "originctl limits: D is locked")
    e, g = smtp_open("127.0.0.14", F["sub"])
    e.send(b"EHLO e.example\r\n")
    e.reply()
    e.send(f"AUTH PLAIN {plain('alice@example.test', 'alice-secret')}\r\n".encode())
    r = e.reply()
    t.check(r.startswith("235 "), "another origin logs in meanwhile (SMTP AUTH)", r)
    e.send(b"QUIT\r\n")
    e.close()

    # --- an exempt origin: no delay, no lockout (the session's own limit of 3 failures still applies)
    x, g = smtp_open("127.0.0.17", F["sub"])
    x.send(b"EHLO x.example\r\n")
    x.reply()
    x.send(f"AUTH PLAIN {plain('alice@example.test', 'no')}\r\nNOOP\r\n"
           f"AUTH PLAIN {plain('alice@example.test', 'no')}\r\nNOOP\r\n".encode())
    r = [x.reply()[:3] for _ in range(4)]
    t.check(r == ["535", "250", "535", "250"], "origin_exempt: failed logins answered, pipelined commands too", r)
    x.close()
    s, g = smtp_open("127.0.0.17", F["sub"])
    s.close()
    t.check(g.startswith("220 "), "origin_exempt: not locked out after 2 failures", g)
    t.check("127.0.0.17 on submission: failed login, reply delayed" not in m.log(), "log: no delay for the exempt")

    # --- failed logins over IMAP: F fails twice, gets BYE; G logs in
    f, g = imap_open("127.0.0.15", F["imap"])
    t0 = time.monotonic()
    f.send(b"a1 LOGIN alice@example.test nope\r\n")
    r1 = f.line()
    dt1 = time.monotonic() - t0
    f.send(b"a2 LOGIN alice@example.test nope2\r\n")
    r2 = f.line()
    r3 = f.line()
    t.check(r1.startswith("a1 NO [AUTHENTICATIONFAILED]") and dt1 >= 0.95,
            "IMAP: LOGIN failure answered NO after >= 1 s", f"{r1!r} {dt1:.2f}s")
    t.check(r2.startswith("a2 NO [AUTHENTICATIONFAILED]") and
            r3.startswith("* BYE mx1.example.test too many failed logins from 127.0.0.15"),
            "IMAP: at origin_auth_failures the session ends with * BYE", r2 + r3)
    f.close()
    h, g = imap_open("127.0.0.16", F["imap"])
    h.send(b"b1 LOGIN alice@example.test alice-secret\r\n")
    r = h.line()
    t.check(r.startswith("b1 OK"), "IMAP: another origin logs in meanwhile", r)
    h.send(b"b2 LOGOUT\r\n")
    h.close()

    # --- two instances sharing the pinned map: the cap of 2 holds across them
    pair_conf = lambda port: config([("smtp", port, "smtp")], extra="origin_max_connections = 2\norigin_rate = 0\n")
    i1 = Daemon(tmp, pair_conf(D["i1"]), name="i1")
    daemons.append(i1)
    i2 = Daemon(tmp, pair_conf(D["i2"]), name="i2")
    daemons.append(i2)
    t.check(i1.wait_ready() and i2.wait_ready(), "two more instances share the pin directory")
    p1, q1 = smtp_open("127.0.0.20", F["pair"])
    p2, q2 = smtp_open("127.0.0.20", F["pair"])
    t.check(q1.startswith("220 ") and q2.startswith("220 "), "origin A2: one connection on each instance",
            q1 + q2)
    served = [i1.log().count("Connection from 127.0.0.20 runs through"),
              i2.log().count("Connection from 127.0.0.20 runs through")]
    t.check(served == [1, 1], "HAProxy spread them over both instances", served)
    p3, q3 = smtp_open("127.0.0.20", F["pair"])
    t.check(q3.startswith("421 4.7.0 mx1.example.test too many open connections from 127.0.0.20"),
            "the third is refused: the cap holds across instances", q3)
    p3.close()
    row = origin_row(limits_json(), "127.0.0.20")
    pids = sorted(x["pid"] for x in row.get("instances", []))
    t.check(row.get("connections") == 2 and pids == sorted([i1.proc.pid, i2.proc.pid]),
            "originctl limits: A2 has one connection in each instance", row)

    # i2 dies holding a connection: the next instance to start takes its count back
    i2.proc.send_signal(signal.SIGKILL)
    i2.proc.wait()
    p2.close()
    t.check(origin_row(limits_json(), "127.0.0.20").get("connections") == 2,
            "after SIGKILL the dead instance's connection is still counted")
    i3 = Daemon(tmp, pair_conf(D["i2"]), name="i3")  # in i2's place behind HAProxy
    daemons.append(i3)
    t.check(i3.wait_ready(), "a new instance starts in the dead one's place")
    row = origin_row(limits_json(), "127.0.0.20")
    t.check(row.get("connections") == 1 and [x["pid"] for x in row.get("instances", [])] == [i1.proc.pid],
            "the dead instance's connection was taken back", row)
    p4, q4 = smtp_open("127.0.0.20", F["pair"])
    p5, q5 = smtp_open("127.0.0.20", F["pair"])
    t.check(q4.startswith("220 ") and q5.startswith("421 4.7.0"),
            "A2 may have exactly one more connection (cap 2 across instances)", q4 + q5)
    for s in (p1, p4, p5):
        s.close()

    # --- the same pair with bpf = off: each instance counts alone (docs/bpf.md)
    off_conf = lambda port: config([("smtp", port, "smtp")], bpf=False,
                                   extra="origin_max_connections = 1\norigin_rate = 0\n")
    j1 = Daemon(tmp, off_conf(D["j1"]), name="j1")
    daemons.append(j1)
    j2 = Daemon(tmp, off_conf(D["j2"]), name="j2")
    daemons.append(j2)
    t.check(j1.wait_ready() and j2.wait_ready(), "two instances with bpf = off")
    t.check("Origin limits per process (bpf is off)" in j1.log(), "log: the limits are per process",
            j1.log()[-800:])
    o1, w1 = smtp_open("127.0.0.30", F["off"])
    o2, w2 = smtp_open("127.0.0.30", F["off"])
    o3, w3 = smtp_open("127.0.0.30", F["off"])
    t.check(w1.startswith("220 ") and w2.startswith("220 "),
            "bpf = off: cap 1 per instance, so one connection on each", w1 + w2)
    t.check(w3.startswith("421 4.7.0 mx1.example.test too many open connections from 127.0.0.30"),
            "bpf = off: the instance that has one refuses the next", w3)
    for s in (o1, o2, o3):
        s.close()

    # --- the global cap: max_connections, refused with the origin in the log
    gd = Daemon(tmp, config([("smtp", D["g"], "smtp")], bpf=False,
                            extra="max_connections = 2\norigin_max_connections = 0\norigin_rate = 0\n"), name="g")
    daemons.append(gd)
    t.check(gd.wait_ready(), "an instance with max_connections = 2")
    c1, x1 = smtp_open("127.0.0.40", F["g"])
    c2, x2 = smtp_open("127.0.0.41", F["g"])
    c3, x3 = smtp_open("127.0.0.42", F["g"])
    t.check(x1.startswith("220 ") and x2.startswith("220 ") and
            x3.startswith("421 4.7.0 mx1.example.test too many connections, try again later"),
            "max_connections: the third connection gets 421 4.7.0", x1 + x2 + x3)
    t.check(gd.wait_log("Refused connection from 127.0.0.42 via 127.0.0.1 on smtp: too many connections"),
            "log: the global refusal names the origin")
    for s in (c1, c2, c3):
        s.close()
finally:
    for dmn in daemons:
        dmn.stop()
    if hap:
        hap.stop()
    if os.path.isdir(PIN):
        for name in os.listdir(PIN):
            os.unlink(os.path.join(PIN, name))
        os.rmdir(PIN)
    if made_cg and os.path.isdir(CG):
        try:
            os.rmdir(CG)
        except OSError as e:
            print(f"limits: cannot remove {CG}: {e}")
    tmp.cleanup()
t.check(not os.path.exists(PIN) and not os.path.exists(CG), "test pins and cgroup removed")
t.finish()
