#!/usr/bin/env python3
"""Slow and hostile peers against a real originmaild (dropping to nobody), with small configured timeouts:

- slowloris on the PROXY header (a byte at a time): refused with 421 4.7.0 at proxy_timeout;
- slowloris on an SMTP command and on DATA: 421 4.4.2 at command_timeout / data_timeout, although bytes
  keep coming (only a complete line restarts the clock), and the cut message is not delivered;
- a peer that asks for a large IMAP FETCH and never reads: the daemon writes the response a piece at a time
  (output_buffer), so its memory (VmRSS from /proc) stays far below the size of the response; an honest
  client is served meanwhile and the reader is dropped at command_timeout;
- 10,000 idle connections held at once (max_connections above that; the daemon raises RLIMIT_NOFILE) while
  an honest client delivers a message.

No timing is asserted: a slow peer only has to be cut before its trickle would have ended."""
import imaplib
import os
import resource
import smtplib
import signal
import socket
import time

import ssl

from harness import Checks, Daemon, TempDir, free_port, maildir_files, make_ca_and_cert, set_password

t = Checks("slow_peers")
tmp = TempDir()
os.chmod(tmp.path, 0o755)  # the daemon runs as nobody after binding
ca, cert, key = make_ca_and_cert(tmp)
P = {k: free_port() for k in ("proxied", "mx", "imap", "imaps")}
USER, PASS = "alice@example.test", "secret"
mail = os.path.join(tmp.path, "mail")
IDLE_CONNS = 10000

config = f"""
hostname = mx1.example.test
domains = example.test
mail_root = {mail}
passwd_file = {tmp.path}/passwd
user = nobody
command_timeout = 3s
data_timeout = 2s
output_buffer = 256K
max_connections = {IDLE_CONNS + 500}
tls_cert = {cert}
tls_key = {key}

[listener proxied]
address = 127.0.0.1:{P['proxied']}
protocol = smtp
proxy = required
proxy_trusted = 127.0.0.1
proxy_timeout = 2s

[listener mx]
address = 127.0.0.1:{P['mx']}
protocol = smtp
proxy = off

[listener imap]
address = 127.0.0.1:{P['imap']}
protocol = imap
proxy = off
allow_plaintext_auth = yes

[listener imaps]
address = 127.0.0.1:{P['imaps']}
protocol = imap
tls = implicit
proxy = off
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def trickle(sock, data, pace=0.2):
    """Send data a byte at a time until the server closes; returns (what it said, seconds, bytes sent)."""
    start = time.monotonic()
    sock.setblocking(False)
    got, sent = b"", 0
    for b in data:
        try:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
        except BlockingIOError:
            pass
        except OSError:
            break
        try:
            sock.send(bytes([b]))
            sent += 1
        except OSError:
            break
        time.sleep(pace)
    sock.setblocking(True)
    sock.settimeout(5)
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    return got.decode(errors="replace"), time.monotonic() - start, sent


def read_reply(f):
    lines = []
    while True:
        line = f.readline().decode(errors="replace")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return "".join(lines)


def smtp_to_data(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    read_reply(f)
    for cmd in ("EHLO client.example", "MAIL FROM:<sender@client.example>", f"RCPT TO:<{USER}>", "DATA"):
        s.sendall(cmd.encode() + b"\r\n")
        r = read_reply(f)
    return s, r


daemon = None
held = []
try:
    cfg = tmp.file("originmaild.conf", config)
    set_password(cfg, USER, PASS)
    os.chmod(os.path.join(tmp.path, "passwd"), 0o644)
    daemon = Daemon(tmp, config)
    t.check(daemon.wait_ready(), "daemon starts", daemon.log()[-1500:])
    pid = daemon.proc.pid

    # ---- slowloris on the PROXY header: a byte every 0.2 s, a header that would take 10 s
    s = socket.create_connection(("127.0.0.1", P["proxied"]), timeout=10)
    header = b"PROXY TCP4 203.0.113.10 198.51.100.1 40000 25\r\n"
    said, secs, sent = trickle(s, header)
    s.close()
    t.check("421 4.7.0" in said and "PROXY protocol header not received in time" in said,
            "slowloris PROXY header: 421 4.7.0 ... not received in time", said)
    t.check(sent < len(header), f"slowloris PROXY header: cut at proxy_timeout ({sent} of {len(header)} bytes, "
            f"{secs:.1f} s)")

    # ---- slowloris on an SMTP command: a byte every 0.2 s, never a whole line
    s = socket.create_connection(("127.0.0.1", P["mx"]), timeout=10)
    s.makefile("rb").readline()
    line = b"EHLO " + b"a" * 100 + b"\r\n"
    said, secs, sent = trickle(s, line)
    s.close()
    t.check("421 4.4.2" in said and "timeout" in said, "slowloris SMTP command: 421 4.4.2 timeout", said)
    t.check(sent < len(line), f"slowloris SMTP command: cut at command_timeout although bytes kept coming "
            f"({sent} of {len(line)} bytes, {secs:.1f} s)")

    # ---- slowloris in DATA: a byte every 0.2 s of a message that never ends
    before = len(maildir_files(mail, USER))
    s, r = smtp_to_data(P["mx"])
    t.check(r.startswith("354"), "DATA accepted", r)
    body = b"Subject: slow\r\n\r\n" + b"x" * 200
    said, secs, sent = trickle(s, body)
    s.close()
    t.check("421 4.4.2" in said, "slowloris DATA: 421 4.4.2 timeout", said)
    t.check(sent < len(body), f"slowloris DATA: cut at data_timeout ({sent} of {len(body)} bytes, {secs:.1f} s)")
    t.check(len(maildir_files(mail, USER)) == before and maildir_files(mail, USER, "tmp") == [],
            "slowloris DATA: nothing delivered, nothing left in tmp/")

    # a sender that is slow but completes lines is served: each line restarts the clock
    s, r = smtp_to_data(P["mx"])
    for i in range(4):
        s.sendall(b"Subject: paced\r\n" if i == 0 else b"line %d\r\n" % i)
        time.sleep(1.0)  # each gap is below data_timeout; together they exceed it
    s.sendall(b".\r\n")
    f = s.makefile("rb")
    r = read_reply(f)
    s.close()
    t.check(r.startswith("250"), "a slow sender completing lines within data_timeout is served", r)

    # ---- a peer that asks for a large FETCH and never reads it
    inbox = os.path.join(mail, "example.test", "alice", "Maildir")
    one_mib = ("Subject: big\r\n\r\n" + ("y" * 1022 + "\r\n") * 1024).encode()
    N = 48
    for i in range(N):
        p = os.path.join(inbox, "new", f"1764000000.M{i}P1Q{i}.bulk")
        with open(p, "wb") as f:
            f.write(one_mib)
        os.chown(p, 65534, 65534)
    honest = imaplib.IMAP4("127.0.0.1", P["imap"], timeout=20)
    honest.login(USER, PASS)
    typ, dat = honest.select("INBOX")
    t.check(typ == "OK" and int(dat[0]) >= N, "the big mailbox is there", dat)
    base = rss_kib(pid)

    evil = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    evil.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    evil.connect(("127.0.0.1", P["imap"]))
    ef = evil.makefile("rb")
    ef.readline()
    evil.sendall(f"a LOGIN {USER} {PASS}\r\n".encode())
    ef.readline()
    evil.sendall(b"b SELECT INBOX\r\n")
    while not ef.readline().startswith(b"b "):
        pass
    evil.sendall(b"c FETCH 1:* BODY[]\r\n")  # about 48 MiB of response, never read
    peak = base
    for _ in range(15):
        time.sleep(0.1)
        peak = max(peak, rss_kib(pid))
    typ, dat = honest.noop()
    t.check(typ == "OK", "an honest IMAP client is served while the reader stalls", dat)
    typ, dat = honest.fetch("1", "(RFC822.SIZE)")
    t.check(typ == "OK", "an honest FETCH is answered meanwhile", dat)
    for _ in range(5):
        time.sleep(0.1)
        peak = max(peak, rss_kib(pid))
    grew = peak - base
    t.check(grew < 16 * 1024, f"the daemon's memory stays bounded: VmRSS grew {grew} KiB for a "
            f"{N} MiB response that is not read")
    honest.logout()
    t.check(daemon.wait_log("Timeout for 127.0.0.1 on imap", timeout=20),
            "the reader that does not read is dropped at command_timeout")
    evil.close()

    # a client that reads gets the whole response, piece after piece, over TLS too
    M = imaplib.IMAP4_SSL("127.0.0.1", P["imaps"], ssl_context=ssl.create_default_context(cafile=ca), timeout=60)
    M.login(USER, PASS)
    M.select("INBOX")
    typ, dat = M.fetch("1:*", "(UID BODY.PEEK[])")
    bodies = [p[1] for p in dat if isinstance(p, tuple)]
    typ2, dat2 = M.noop()
    M.logout()
    t.check(typ == "OK" and sum(b == one_mib for b in bodies) == N and typ2 == "OK",
            f"a reading client gets all {N} MiB of the FETCH whole over TLS, then the next command",
            (typ, len(bodies)))

    # ---- 10,000 idle connections and an honest client
    # Opening them takes seconds on a loaded machine: longer than the 3 s command_timeout the slowloris
    # checks above need. A reload gives new connections a minute (each keeps the configuration it was
    # accepted with).
    with open(daemon.conf, "w") as f:
        f.write(config.replace("command_timeout = 3s", "command_timeout = 60s"))
    daemon.signal(signal.SIGHUP)
    t.check(daemon.wait_log("Reloaded"), "SIGHUP: command_timeout 60s for the idle connections")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = IDLE_CONNS + 1000
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(need, soft), max(need, hard)))
    with open(f"/proc/{pid}/limits") as f:
        lim = [line for line in f if line.startswith("Max open files")]
    t.check(lim and int(lim[0].split()[3]) >= IDLE_CONNS + 500, "the daemon raised RLIMIT_NOFILE for "
            "max_connections", lim)
    IP_BIND_ADDRESS_NO_PORT = 24
    start = time.monotonic()
    failed = 0
    for i in range(IDLE_CONNS):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # a spread of source addresses, ports chosen at connect: no ephemeral port range exhausted
        c.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST, no TIME_WAIT
        c.bind((f"127.0.{1 + i % 8}.{10 + i % 200}", 0))
        c.settimeout(10)
        try:
            c.connect(("127.0.0.1", P["mx"]))
            held.append(c)
        except OSError:
            failed += 1
            c.close()
    t.check(failed == 0 and len(held) == IDLE_CONNS, f"{IDLE_CONNS} connections opened "
            f"({time.monotonic() - start:.1f} s, {failed} failed)")

    def daemon_sockets():
        n = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
            except OSError:
                pass
        return n

    end = time.monotonic() + 20
    while daemon_sockets() < IDLE_CONNS and time.monotonic() < end:
        time.sleep(0.1)
    t.check(daemon_sockets() >= IDLE_CONNS, f"the daemon holds them all ({daemon_sockets()} sockets)")
    with smtplib.SMTP("127.0.0.1", P["mx"], local_hostname="client.example", timeout=20) as sm:
        refused = sm.sendmail("sender@client.example", [USER], "Subject: honest\r\n\r\nserved\r\n")
    t.check(refused == {}, "an honest client delivers while 10,000 connections are held")
    # a few of the idle ones still answer: held, not dropped
    sample = held[:: IDLE_CONNS // 5]
    greet = []
    for c in sample:
        c.settimeout(10)
        greet.append(c.recv(100).startswith(b"220 "))
    t.check(all(greet), "idle connections were greeted and are still open", greet)
    t.check("too many connections" not in daemon.log(), "no connection refused")
    for c in held:
        c.close()
    held = []
    end = time.monotonic() + 20
    while daemon_sockets() > 100 and time.monotonic() < end:
        time.sleep(0.1)
    t.check(daemon_sockets() < 100, "the daemon lets them go when they close")
    t.check(daemon.proc.poll() is None, "the daemon kept running")
finally:
    for c in held:
        c.close()
    if daemon:
        daemon.stop()
    tmp.cleanup()
t.finish()
