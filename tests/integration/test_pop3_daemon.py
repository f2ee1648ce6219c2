#!/usr/bin/env python3
"""POP3 end to end: originmaild with smtp, imaps, pop3 (STLS) and pop3s (implicit TLS) listeners behind a real
HAProxy (send-proxy-v2), python's poplib, smtplib and imaplib as clients, raw PROXY headers from the trusted proxy
127.0.0.2 naming documentation addresses. Mail delivered by SMTP is read over POP3 (every command), UIDL equals
the UIDVALIDITY.UID IMAP reports and is stable across sessions, DELE + QUIT is seen by IMAP, a second session
gets [IN-USE], bad input gets -ERR and the session goes on, a refused peer gets -ERR, failed logins are delayed;
metrics, log lines and `originctl conns`; then a second instance with seccomp = on on the same Maildirs."""
import base64
import json
import os
import poplib
import smtplib
import socket
import ssl
import subprocess
import time
import urllib.request

import imaplib
from harness import (Checks, Daemon, HAProxy, TEST_PIN_DIR, TempDir, build_path, connect_from, free_port,
                     haproxy_tcp, make_ca_and_cert, proxy_route, set_password, wait_port)

t = Checks("pop3_daemon")
tmp = TempDir()
os.chmod(tmp.path, 0o755)  # the daemon runs as nobody after binding
ca, cert, key = make_ca_and_cert(tmp)
P = {k: free_port() for k in ("smtp", "imaps", "pop3", "pop3s", "h_smtp", "h_imaps", "h_pop3", "h_pop3s", "ready",
                              "metrics", "s_pop3", "s_pop3s")}
mail = os.path.join(tmp.path, "mail")
passwd = tmp.file("passwd", "")
MAX_LINE = 1024

common = f"""
hostname = mx1.example.test
domains = example.test
mail_root = {mail}
passwd_file = {passwd}
user = nobody
tls_cert = {cert}
tls_key = {key}
max_line = {MAX_LINE}
"""
config = common + f"""command_timeout = 20s
metrics = 127.0.0.1:{P['metrics']}

[listener smtp]
address = 127.0.0.1:{P['smtp']}
protocol = smtp
proxy = required
proxy_trusted = 127.0.0.2

[listener imaps]
address = 127.0.0.1:{P['imaps']}
protocol = imap
tls = implicit
proxy = required
proxy_trusted = 127.0.0.2

[listener pop3]
address = 127.0.0.1:{P['pop3']}
protocol = pop3
tls = starttls
proxy = required
proxy_trusted = 127.0.0.2

[listener pop3s]
address = 127.0.0.1:{P['pop3s']}
protocol = pop3
tls = implicit
proxy = required
proxy_trusted = 127.0.0.2
"""
# The second instance: the system-call filter on, a short command_timeout.
config_sec = common + f"""seccomp = on
command_timeout = 2s
bpf = off

[listener pop3]
address = 127.0.0.1:{P['s_pop3']}
protocol = pop3
tls = starttls
proxy = required
proxy_trusted = 127.0.0.2

[listener pop3s]
address = 127.0.0.1:{P['s_pop3s']}
protocol = pop3
tls = implicit
proxy = required
proxy_trusted = 127.0.0.2
"""
haproxy_cfg = haproxy_tcp(
    P['ready'],
    *(proxy_route(n, P[f"h_{n}"], f"127.0.0.1:{P[n]} send-proxy-v2 source 127.0.0.2")
      for n in ("smtp", "imaps", "pop3", "pop3s")))
ctx = ssl.create_default_context(cafile=ca)  # the daemon's certificate is verified for real


class ProxiedPOP3(poplib.POP3):
    """poplib on a connection from the trusted proxy address, opened with a PROXY v1 header naming client;
    implicit TLS when tls is set."""

    def __init__(self, port, client="203.0.113.10", tls=True):
        self._client, self._tls = client, tls
        super().__init__("127.0.0.1", port, timeout=10)

    def _create_socket(self, timeout):
        s = connect_from("127.0.0.2", self.host, self.port, timeout)
        s.sendall(f"PROXY TCP4 {self._client} 198.51.100.1 40000 995\r\n".encode())
        return ctx.wrap_socket(s, server_hostname="mx1.example.test") if self._tls else s


def err_of(fn, *args):
    """The -ERR line a poplib call got, or None when it succeeded."""
    try:
        fn(*args)
        return None
    except poplib.error_proto as e:
        return str(e.args[0].decode() if isinstance(e.args[0], bytes) else e.args[0])


MSGS = [("one", "first line\r\n.starts with a dot\r\nlast line\r\n"),
        ("two", "only line\r\n"),
        ("three", "a\r\nb\r\nc\r\nd\r\n")]


def deliver(subject, body, to="alice@example.test"):
    msg = f"From: Sender <sender@client.example>\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}"
    with smtplib.SMTP("127.0.0.1", P["h_smtp"], local_hostname="client.example", timeout=10) as s:
        s.sendmail("sender@client.example", [to], msg)
    return msg


def imap_view():
    """(UIDVALIDITY, [(uid, flags)]) of alice's INBOX as IMAP reports it, through HAProxy."""
    M = imaplib.IMAP4_SSL("127.0.0.1", P["h_imaps"], ssl_context=ctx, timeout=10)
    M.login("alice@example.test", "secret")
    M.select("INBOX", readonly=True)
    validity = int(M.response("UIDVALIDITY")[1][0])
    typ, dat = M.fetch("1:*", "(UID FLAGS)")
    rows = []
    for d in dat:
        if isinstance(d, bytes) and b"UID" in d:
            s = d.decode()
            uid = int(s.split("UID ")[1].split()[0].rstrip(")"))
            rows.append((uid, s.split("FLAGS (")[1].split(")")[0]))
    M.logout()
    return validity, rows


def metric(text, name, **labels):
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


daemon = sec = hap = None
try:
    cfg_path = tmp.file("originmaild.conf", config)
    set_password(cfg_path, "alice@example.test", "secret")
    set_password(cfg_path, "bob@example.test", "bob-secret")
    os.chmod(passwd, 0o644)
    daemon = Daemon(tmp, config)
    t.check(daemon.wait_ready(), "daemon starts with pop3 and pop3s listeners", daemon.log()[-2000:])
    hap = HAProxy(tmp, haproxy_cfg)
    t.check(wait_port("127.0.0.1", P["ready"]), "haproxy starts")
    sent = [deliver(s, b) for s, b in MSGS]

    # --- 110-style: STLS through HAProxy; no password before TLS
    p = poplib.POP3("127.0.0.1", P["h_pop3"], timeout=10)
    t.check(p.getwelcome() == b"+OK mx1.example.test originmail POP3 ready", "greeting", p.getwelcome())
    caps = p.capa()
    t.check("STLS" in caps and "USER" not in caps and "SASL" not in caps and "UIDL" in caps and "TOP" in caps,
            "CAPA before TLS: STLS, no USER or SASL", caps)
    e = err_of(p.user, "alice@example.test")
    t.check(e is not None and e.startswith("-ERR [AUTH] Plaintext authentication disallowed"),
            "USER before STLS: -ERR [AUTH]", e)
    e = err_of(p._shortcmd, "AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0secret").decode())
    t.check(e is not None and "[AUTH]" in e, "AUTH PLAIN before STLS: -ERR [AUTH]", e)
    p.stls(context=ctx)
    caps = p.capa()
    t.check("USER" in caps and caps.get("SASL") == ["PLAIN"] and "STLS" not in caps, "CAPA after STLS", caps)
    t.check(p.user("alice@example.test").startswith(b"+OK") and p.pass_("secret").startswith(b"+OK"),
            "USER/PASS after STLS through haproxy")
    resp, lines, _ = p.list()
    sizes = [int(x.split()[1]) for x in lines]
    t.check([int(x.split()[0]) for x in lines] == [1, 2, 3], "LIST: three messages", lines)
    t.check(p.stat() == (3, sum(sizes)), "STAT: 3 messages, the sum of LIST's sizes", (p.stat(), sizes))
    t.check(p.list(2).decode() == f"+OK 2 {sizes[1]}", "LIST 2", p.list(2))
    resp, lines, octets = p.retr(1)
    t.check(octets == sizes[0] and resp == f"+OK {sizes[0]} octets".encode(), "RETR 1: as many octets as LIST said",
            (resp, octets, sizes))
    t.check((b"\r\n".join(lines) + b"\r\n").endswith(sent[0].encode()) and lines[1].startswith(b"Received: from "
            b"client.example ([127.0.0.1]"), "RETR 1: the message as SMTP stored it (un-stuffed by poplib)", lines)
    t.check(b".starts with a dot" in lines, "... its dot line survived dot-stuffing", lines)
    resp, lines, _ = p.top(3, 2)
    t.check(b"Subject: three" in lines and lines[-3:] == [b"", b"a", b"b"], "TOP 3 2: header, blank line, two "
            "body lines", lines)
    t.check(lines[-2:] == [b"a", b"b"], "TOP stops after two lines", lines)
    resp, uidl1, _ = p.uidl()
    t.check(p.noop().startswith(b"+OK"), "NOOP")
    t.check(p.dele(2).startswith(b"+OK"), "DELE 2")
    t.check(err_of(p.retr, 2) == "-ERR Message is deleted", "RETR of a deleted message: -ERR")
    t.check(p.stat() == (2, sizes[0] + sizes[2]), "STAT leaves out the deleted message", p.stat())
    t.check(p.rset().startswith(b"+OK"), "RSET")
    t.check(p.stat()[0] == 3, "after RSET: three again", p.stat())
    t.check(p.quit().startswith(b"+OK"), "QUIT")

    # --- UIDL: the UIDVALIDITY.UID of IMAP, the same in the next session (over 995-style TLS)
    validity, rows = imap_view()
    want = [f"{i + 1} {validity}.{uid}".encode() for i, (uid, _) in enumerate(rows)]
    t.check(uidl1 == want, "UIDL equals UIDVALIDITY.UID from IMAP", (uidl1, want))
    t.check("\\Seen" in rows[0][1] and "\\Seen" not in rows[2][1], "RETR set \\Seen, TOP did not", rows)
    p = poplib.POP3_SSL("127.0.0.1", P["h_pop3s"], context=ctx, timeout=10)
    caps = p.capa()
    t.check("USER" in caps and "STLS" not in caps, "pop3s: USER at once, no STLS", caps)
    p.user("alice@example.test")
    p.pass_("secret")
    t.check(p.uidl()[1] == uidl1, "UIDL is stable across sessions", p.uidl())
    t.check(p.uidl(3).decode() == f"+OK 3 {validity}.{rows[2][0]}", "UIDL 3", p.uidl(3))

    # --- a second session on the same maildrop: [IN-USE]
    q = ProxiedPOP3(P["pop3s"], "203.0.113.21")
    q.user("alice@example.test")
    e = err_of(q.pass_, "secret")
    t.check(e is not None and e.startswith("-ERR [IN-USE]"), "a second POP3 session: -ERR [IN-USE]", e)
    q.quit()

    # --- bad input: -ERR, and the session goes on
    t.check(err_of(p._shortcmd, "XYZZY") == "-ERR Unknown command", "unknown command: -ERR")
    t.check(err_of(p._shortcmd, "A" * (MAX_LINE + 100)) == "-ERR Line too long", "line over max_line: -ERR")
    t.check(err_of(p.retr, 99) == "-ERR No such message", "RETR of a missing message: -ERR")
    t.check(err_of(p.user, "bob@example.test") == "-ERR Already logged in", "USER in TRANSACTION: -ERR")
    t.check(p.noop().startswith(b"+OK"), "after all that, the session goes on")
    t.check(p.dele(1).startswith(b"+OK"), "DELE 1")
    t.check(p.quit().startswith(b"+OK"), "QUIT enters UPDATE")
    validity2, rows2 = imap_view()
    t.check(validity2 == validity and [u for u, _ in rows2] == [u for u, _ in rows[1:]],
            "IMAP no longer sees the message POP3 deleted", rows2)

    # --- AUTH PLAIN: initial response, and the continuation (raw PROXY header naming the client)
    p = ProxiedPOP3(P["pop3s"], "203.0.113.10")
    r = p._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0secret").decode())
    t.check(r.startswith(b"+OK"), "AUTH PLAIN with an initial response", r)
    t.check(daemon.wait_log("POP3 203.0.113.10: login alice@example.test"), "log: the login names the client")
    t.check(daemon.wait_log("Connection from 203.0.113.10 runs through 127.0.0.2 proxy"), "log: the proxy hop")
    p.quit()
    p = ProxiedPOP3(P["pop3s"], "203.0.113.10")
    p._putcmd("AUTH PLAIN")
    t.check(p._getline()[0] == b"+ ", "AUTH PLAIN: a \"+ \" continuation")
    r = p._shortcmd(base64.b64encode(b"\0bob@example.test\0bob-secret").decode())
    t.check(r.startswith(b"+OK"), "AUTH PLAIN continuation answered: logged in", r)
    p.quit()

    # --- failed logins: -ERR [AUTH], the reply delayed (origin_auth_delay), logged with the client
    # (an origin no other test fails logins from: failures count per origin across every instance on the host)
    p = ProxiedPOP3(P["pop3s"], "203.0.113.166")
    p.user("alice@example.test")
    t0 = time.monotonic()
    e = err_of(p.pass_, "wrong")
    t.check(e == "-ERR [AUTH] Authentication failed", "wrong password: -ERR [AUTH]", e)
    t.check(time.monotonic() - t0 >= 0.8, "... its reply delayed by origin_auth_delay", time.monotonic() - t0)
    t.check(daemon.wait_log("POP3 203.0.113.166: login failed for alice@example.test"), "log: login failed")
    t.check(daemon.wait_log("203.0.113.166 on pop3s: failed login, reply delayed"), "log: the delay")
    p.close()

    # --- a refused peer gets one -ERR line with the reason
    s = connect_from("127.0.0.1", "127.0.0.1", P["pop3"])
    s.settimeout(5)
    resp = s.recv(512).decode()
    t.check(resp.startswith("-ERR mx1.example.test not a trusted proxy"), "direct peer: -ERR with the reason", resp)
    t.check(s.recv(100) == b"", "... and the connection is closed")
    s.close()

    # --- originctl conns names the protocol while a session is open (when BPF is on here)
    p = poplib.POP3_SSL("127.0.0.1", P["h_pop3s"], context=ctx, timeout=10)
    if "BPF metadata on" in daemon.log():
        rows = []
        for _ in range(50):
            r = subprocess.run([build_path("originctl"), "conns", "--json", "--pin-dir", TEST_PIN_DIR],
                               capture_output=True, text=True)
            rows = [x for x in json.loads(r.stdout or "[]") if x.get("pid") == daemon.proc.pid] if r.returncode == 0 else []
            if any(x.get("protocol") == "pop3" for x in rows):
                break
            time.sleep(0.1)
        t.check(any(x.get("protocol") == "pop3" and x.get("tls") is True for x in rows),
                "originctl conns: protocol pop3, TLS yes", rows)
    else:
        print("pop3_daemon: BPF metadata off here, originctl conns not checked")
    p.quit()

    # --- metrics: logins and connections by protocol
    text = urllib.request.urlopen(f"http://127.0.0.1:{P['metrics']}/metrics", timeout=5).read().decode()
    t.check(metric(text, "originmail_logins_total", protocol="pop3", result="ok") >= 4, "metrics: pop3 logins ok")
    t.check(metric(text, "originmail_logins_total", protocol="pop3", result="failed") >= 1,
            "metrics: pop3 logins failed")
    t.check(metric(text, "originmail_connections_total", listener="pop3s", protocol="pop3") >= 5,
            "metrics: connections on pop3s, protocol pop3")

    # --- seccomp = on: a second instance on the same Maildirs serves every command
    env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"}  # as in test_seccomp
    sec = Daemon(tmp, config_sec, name="sec", env=env)
    t.check(sec.wait_ready() and sec.wait_log("seccomp filter on"), "seccomp instance starts", sec.log()[-1500:])
    deliver("four", "under seccomp\r\n")
    p = ProxiedPOP3(P["s_pop3"], "203.0.113.30", tls=False)
    p.stls(context=ctx)
    p.user("alice@example.test")
    p.pass_("secret")
    n, _ = p.stat()
    resp, lines, _ = p.retr(n)
    ok = [b"under seccomp" in lines, p.top(1, 0)[0].startswith(b"+OK"), p.uidl()[0].startswith(b"+OK"),
          p.list()[0].startswith(b"+OK"), p.noop().startswith(b"+OK"), p.dele(n).startswith(b"+OK"),
          p.rset().startswith(b"+OK"), p.dele(n).startswith(b"+OK")]
    q = ProxiedPOP3(P["pop3s"], "203.0.113.31")  # the other instance: the lock holds across processes
    q.user("alice@example.test")
    e = err_of(q.pass_, "secret")
    q.quit()
    ok.append(p.quit().startswith(b"+OK"))
    t.check(all(ok), "seccomp: STLS, USER/PASS, STAT RETR TOP UIDL LIST NOOP DELE RSET QUIT", ok)
    t.check(e is not None and "[IN-USE]" in e, "the maildrop lock holds across instances", e)
    t.check(sec.proc.poll() is None, "the seccomp instance is alive after POP3")
    p = ProxiedPOP3(P["s_pop3s"], "203.0.113.32")
    t.check(p.getwelcome().startswith(b"+OK"), "pop3s under seccomp: greeting")
    time.sleep(2.5)  # command_timeout = 2s
    p.sock.settimeout(5)
    got = p.file.readline()
    t.check(got == b"-ERR Autologout; idle for too long\r\n", "command_timeout: -ERR, then closed", got)
    t.check(p.file.readline() == b"", "... the connection is closed")
    p.close()
    t.check(sec.stop() == 0 and "SIGSYS" not in sec.log(), "the seccomp instance stops cleanly", sec.log()[-800:])
    sec = None
except Exception as e:
    import traceback
    traceback.print_exc()
    t.check(False, "test ran to the end", repr(e))
finally:
    if hap:
        hap.stop()
    for d in (sec, daemon):
        if d:
            d.stop()
    if t.failed:
        for d in (daemon,):
            if d:
                print("---- daemon log (tail)\n" + d.log()[-3000:])
    tmp.cleanup()
t.finish()
