#!/usr/bin/env python3
"""seccomp = on: the whole SMTP and IMAP flow under the filter (docs/configuration.md, README "Security
model"). Two real originmaild instances with the filter on, dropping to nobody: A takes mail over SMTP with a
PROXY v2 header and STARTTLS, a submission over implicit TLS with AUTH that its relay worker forwards to B
over verified STARTTLS, and IMAP over STARTTLS and implicit TLS (every kind of command, APPEND, COPY, MOVE,
EXPUNGE, IDLE, folders); then SIGHUP reloads and SIGTERM stops it cleanly. Every process of A runs with the
filter (Seccomp: 2 in /proc) and without capabilities, and none is killed by it."""
import imaplib
import os
import signal
import smtplib
import socket
import ssl
import struct
import time

from harness import (Checks, Daemon, TempDir, connect_from, free_port, maildir_files, make_ca_and_cert,
                     set_password)

t = Checks("seccomp")
tmp = TempDir("originmail-seccomp-")
os.chmod(tmp.path, 0o755)  # the daemons run as nobody after binding
ca, cert, key = make_ca_and_cert(tmp)
P = {k: free_port() for k in ("smtp", "smtps", "imap", "imaps", "b_mx")}
for d in ("a", "b"):
    os.mkdir(os.path.join(tmp.path, d), 0o755)
A_MAIL, B_MAIL = (os.path.join(tmp.path, d, "mail") for d in ("a", "b"))


def common(d, host, domains):
    return f"""hostname = {host}
domains = {domains}
mail_root = {tmp.path}/{d}/mail
passwd_file = {tmp.path}/{d}/passwd
user = nobody
tls_cert = {cert}
tls_key = {key}
seccomp = on
command_timeout = 10s
shutdown_grace = 5s
"""


config_a = common("a", "mx-a.example.test", "example.test") + f"""relay_host = 127.0.0.1:{P['b_mx']}
relay_ca = {ca}
relay_retry = 1s

[listener smtp]
address = 127.0.0.1:{P['smtp']}
protocol = smtp
tls = starttls
proxy = required
proxy_trusted = 127.0.0.2

[listener smtps]
address = 127.0.0.1:{P['smtps']}
protocol = submission
tls = implicit
proxy = off

[listener imap]
address = 127.0.0.1:{P['imap']}
protocol = imap
tls = starttls
proxy = off

[listener imaps]
address = 127.0.0.1:{P['imaps']}
protocol = imap
tls = implicit
proxy = off
"""
config_b = common("b", "mx-b.example.test", "elsewhere.example") + f"""
[listener mx]
address = 127.0.0.1:{P['b_mx']}
protocol = smtp
tls = starttls
proxy = off
"""
ctx = ssl.create_default_context(cafile=ca)
MSG = "From: alice@example.test\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nHello under seccomp.\r\n"


def proxy_v2(src, port):
    """A PROXY v2 header for TCP over IPv4 from src to 198.51.100.1:port."""
    addrs = socket.inet_aton(src) + socket.inet_aton("198.51.100.1") + struct.pack("!HH", 40000, port)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(addrs)) + addrs


class ProxiedSMTP(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        s = connect_from("127.0.0.2", host, port, timeout)
        s.sendall(proxy_v2("203.0.113.10", port))
        return s


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def poll(cond, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


a = b = None
try:
    for d, cfg, users in (("a", config_a, [("alice@example.test", "alice-secret")]),
                          ("b", config_b, [("dave@elsewhere.example", "dave-secret")])):
        path = tmp.file(f"{d}.conf", cfg)
        for u, p in users:
            set_password(path, u, p)
        os.chmod(os.path.join(tmp.path, d, "passwd"), 0o644)
    # Under ASan, LeakSanitizer's check at exit stops the process with ptrace, which the filter forbids (it
    # would kill the daemon at its last step): leaks are checked by every other test of the ASan pass.
    env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"}
    b = Daemon(tmp, config_b, name="b", env=env)
    a = Daemon(tmp, config_a, name="a", env=env)
    t.check(b.wait_ready() and a.wait_ready(), "both daemons start with seccomp = on", a.log()[-1500:])
    t.check(a.wait_log("seccomp filter on"), "log: the filter is on", a.log()[-800:])

    # ---- every process of A: the filter, no capabilities, not root
    procs = [a.proc.pid] + children(a.proc.pid)
    t.check(len(procs) == 2, "A runs the daemon and its relay worker", procs)
    for pid in procs:
        poll(lambda: status(pid).get("Seccomp") == "2", 10)  # the worker installs its own after the fork
        st = status(pid)
        t.check(st.get("Seccomp") == "2" and st.get("NoNewPrivs") == "1",
                f"pid {pid}: Seccomp 2 (filter), NoNewPrivs 1", (st.get("Seccomp"), st.get("NoNewPrivs")))
        t.check(st.get("CapEff") == "0000000000000000" and st.get("CapPrm") == "0000000000000000",
                f"pid {pid}: no capabilities", (st.get("CapEff"), st.get("CapPrm")))
        t.check(st.get("Uid", "").split()[:3] == ["65534"] * 3, f"pid {pid}: runs as nobody", st.get("Uid"))

    # ---- SMTP: PROXY v2, STARTTLS, local delivery
    with ProxiedSMTP("127.0.0.1", P["smtp"], local_hostname="client.example", timeout=10) as s:
        s.starttls(context=ctx)
        refused = s.sendmail("sender@client.example", ["alice@example.test"],
                             MSG.format(to="alice@example.test", subject="smtp"))
    t.check(refused == {} and len(maildir_files(A_MAIL, "alice@example.test")) == 1,
            "SMTP with PROXY v2 and STARTTLS delivers")

    # ---- submission over implicit TLS, AUTH, a relayed and a local recipient
    with smtplib.SMTP_SSL("127.0.0.1", P["smtps"], context=ctx, local_hostname="client.example", timeout=10) as s:
        s.login("alice@example.test", "alice-secret")
        refused = s.sendmail("alice@example.test", ["dave@elsewhere.example", "alice@example.test"],
                             MSG.format(to="dave@elsewhere.example", subject="relayed"))
    t.check(refused == {}, "submission with AUTH over implicit TLS accepted")
    t.check(poll(lambda: len(maildir_files(B_MAIL, "dave@elsewhere.example")) == 1),
            "the relay worker forwards it to B over verified STARTTLS", a.log()[-1500:])

    # ---- IMAP: STARTTLS, then implicit TLS, every kind of command
    M = imaplib.IMAP4("127.0.0.1", P["imap"], timeout=10)
    M.starttls(ssl_context=ctx)
    typ, _ = M.login("alice@example.test", "alice-secret")
    t.check(typ == "OK", "IMAP LOGIN after STARTTLS")
    M.logout()
    M = imaplib.IMAP4_SSL("127.0.0.1", P["imaps"], ssl_context=ctx, timeout=10)
    M.login("alice@example.test", "alice-secret")
    results = []
    results.append(M.create("Projects")[0])
    results.append(M.list()[0])
    results.append(M.select("INBOX")[0])
    typ, dat = M.fetch("1:*", "(FLAGS ENVELOPE BODYSTRUCTURE BODY.PEEK[] RFC822.SIZE INTERNALDATE)")
    results.append(typ)
    t.check(typ == "OK" and b"Hello under seccomp." in b"".join(p[1] for p in dat if isinstance(p, tuple)),
            "IMAP FETCH reads the delivered messages")
    results.append(M.search(None, "TEXT", "seccomp")[0])
    results.append(M.store("1", "+FLAGS", "(\\Flagged)")[0])
    results.append(M.copy("1", "Projects")[0])
    results.append(M.append("INBOX", "(\\Seen)", None, MSG.format(to="x", subject="appended").encode())[0])
    results.append(M._simple_command("MOVE", "2", "Projects")[0] if "MOVE" in M.capabilities else "OK")
    results.append(M.store("1", "+FLAGS", "(\\Deleted)")[0])
    results.append(M.expunge()[0])
    results.append(M.status("Projects", "(MESSAGES UIDNEXT)")[0])
    tag = M._new_tag()
    M.send(tag + b" IDLE\r\n")
    idle_ok = M.readline().startswith(b"+")
    M.send(b"DONE\r\n")
    while True:
        line = M.readline()
        if line.startswith(tag) or not line:
            break
    results.append("OK" if idle_ok and b"OK" in line else "NO")
    results.append(M.delete("Projects")[0])
    M.logout()
    t.check(all(r == "OK" for r in results), "IMAP CREATE LIST SELECT FETCH SEARCH STORE COPY APPEND MOVE "
            "EXPUNGE STATUS IDLE DELETE all answered OK", results)

    # ---- SIGHUP reload, then more mail, then a clean stop
    a.signal(signal.SIGHUP)
    t.check(a.wait_log("Reloaded "), "SIGHUP reloads under the filter", a.log()[-800:])
    with smtplib.SMTP_SSL("127.0.0.1", P["smtps"], context=ctx, local_hostname="client.example", timeout=10) as s:
        s.login("alice@example.test", "alice-secret")
        refused = s.sendmail("alice@example.test", ["alice@example.test"], MSG.format(to="a", subject="after"))
    t.check(refused == {}, "a submission after the reload")
    alive = [pid for pid in procs if os.path.exists(f"/proc/{pid}")]
    t.check(alive == procs, "no process of A was killed by the filter", alive)
    rc = a.stop()
    t.check(rc == 0, "SIGTERM: A exits 0 under the filter", rc)
    t.check("relay: worker stopped" in a.log(), "the relay worker stopped cleanly", a.log()[-600:])
    t.check(b.proc.poll() is None, "B (filter on, relay target) still runs")
    rc = b.stop()
    t.check(rc == 0, "SIGTERM: B exits 0", rc)
finally:
    for d in (a, b):
        if d and d.proc.poll() is None:
            d.stop()
    tmp.cleanup()
t.finish()
