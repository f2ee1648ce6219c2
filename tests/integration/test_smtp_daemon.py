#!/usr/bin/env python3
"""originmaild end to end on loopback, with real clients and a real HAProxy.

Addresses: HAProxy and the test's raw PROXY senders connect from 127.0.0.2 (the only trusted proxy),
direct_allowed is 127.0.0.3, everything else (127.0.0.1) is neither. The daemon drops to 'nobody'."""
import base64
import os
import pwd
import signal
import smtplib
import socket
import ssl
import subprocess
import time

from harness import (Checks, Daemon, HAProxy, TempDir, build_path, connect_from, free_port, haproxy_tcp,
                     maildir_files, make_ca_and_cert, proxy_route, server_sockopt, set_password, smtp_lines,
                     wait_port)

t = Checks("smtp_daemon")
tmp = TempDir()
os.chmod(tmp.path, 0o755)  # the daemon runs as nobody after binding
ca, cert, key = make_ca_and_cert(tmp)
P = {k: free_port() for k in ("smtp", "subm", "smtps", "h_v1", "h_v2", "h_subm", "h_smtps", "ready")}
mail = os.path.join(tmp.path, "mail")
passwd = tmp.file("passwd", "")
os.chmod(passwd, 0o644)
MAX_SIZE = 200000

config = f"""
hostname = mx1.example.test
domains = example.test
mail_root = {mail}
passwd_file = {passwd}
user = nobody
tls_cert = {cert}
tls_key = {key}
max_message_size = {MAX_SIZE}
max_recipients = 3
command_timeout = 3s
shutdown_grace = 10s

[listener smtp]
address = 127.0.0.1:{P['smtp']}, [::1]:{P['smtp']}
protocol = smtp
tls = starttls
proxy = required
proxy_trusted = 127.0.0.2, ::1
direct_allowed = 127.0.0.3
proxy_timeout = 1s

[listener submission]
address = 127.0.0.1:{P['subm']}
protocol = submission
tls = starttls
proxy = required
proxy_trusted = 127.0.0.2

[listener smtps]
address = 127.0.0.1:{P['smtps']}
protocol = submission
tls = implicit
proxy = required
proxy_trusted = 127.0.0.2
"""
haproxy_cfg = haproxy_tcp(
    P['ready'],
    proxy_route("v1", P['h_v1'], f"127.0.0.1:{P['smtp']} send-proxy source 127.0.0.2"),
    proxy_route("v2", P['h_v2'], f"127.0.0.1:{P['smtp']} send-proxy-v2 proxy-v2-options unique-id source 127.0.0.2",
                frontend=["unique-id-format HAP-%ci-%cp"]),
    proxy_route("subm", P['h_subm'], f"127.0.0.1:{P['subm']} send-proxy-v2 source 127.0.0.2"),
    proxy_route("smtps", P['h_smtps'], f"127.0.0.1:{P['smtps']} send-proxy-v2 source 127.0.0.2"),
    timeout="10s")

ctx = ssl.create_default_context(cafile=ca)  # verifies the daemon's certificate for real


def body(subject, size=200):
    return (f"From: a@client.example\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\r\n" +
            ("x" * 70 + "\r\n") * (size // 72 + 1))


daemon = hap = None
try:
    cfg_path = tmp.file("originmaild.conf", config)
    set_password(cfg_path, "alice@example.test", "alice-secret")
    set_password(cfg_path, "bob@example.test", "bob-secret")
    os.chmod(passwd, 0o644)
    daemon = Daemon(tmp, config)
    t.check(daemon.wait_ready(), "daemon starts", daemon.log()[-2000:])
    hap = HAProxy(tmp, haproxy_cfg)
    t.check(wait_port("127.0.0.1", P["ready"]), "haproxy starts")

    # --- privileges: the listening process runs as nobody
    nobody = pwd.getpwnam("nobody").pw_uid
    status = open(f"/proc/{daemon.proc.pid}/status").read()
    uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0].split()
    t.check(all(int(u) == nobody for u in uid_line[1:]), "runs as nobody after binding", uid_line)
    cap_line = [l for l in status.splitlines() if l.startswith("CapEff:")][0].split()[1]
    t.check(int(cap_line, 16) == 0, "no effective capabilities", cap_line)

    # --- swaks through HAProxy send-proxy (v1): the EHLO reply names the client's own address
    sw = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(P["h_v1"]), "--ehlo", "client.example",
                         "--from", "sender@client.example", "--to", "alice@example.test", "--h-Subject", "via v1",
                         "--timeout", "10"], capture_output=True, text=True)
    t.check(sw.returncode == 0, "swaks delivers through haproxy send-proxy", sw.stdout[-800:] + sw.stderr)
    t.check("Hello client.example [127.0.0.1]" in sw.stdout, "EHLO reply names the client, not the proxy",
            sw.stdout[-1500:])
    t.check(daemon.wait_log("Connection from 127.0.0.1 runs through 127.0.0.2 proxy"),
            "log: connection from the client runs through the proxy")
    files = maildir_files(mail, "alice@example.test")
    t.check(len(files) == 1, "one message in alice's Maildir/new", files)
    if files:
        msg = open(files[0]).read()
        t.check("[127.0.0.1]" in msg and "via proxy [127.0.0.2]" in msg.replace("\r\n", " ").replace("\t", ""),
                "Received header carries client and proxy hop", msg[:400])
        t.check("Subject: via v1" in msg, "message content stored", msg[:400])

    # --- smtplib through send-proxy-v2 with unique-id, STARTTLS verified against the test CA
    with smtplib.SMTP("127.0.0.1", P["h_v2"], local_hostname="client.example", timeout=10) as s:
        code, ehlo = s.ehlo()
        t.check(b"STARTTLS" in ehlo and b"[127.0.0.1]" in ehlo, "v2: EHLO offers STARTTLS, names client", ehlo)
        s.starttls(context=ctx)  # verified: the certificate names 127.0.0.1 too
        code, ehlo2 = s.ehlo()
        t.check(b"STARTTLS" not in ehlo2, "after STARTTLS, STARTTLS no longer offered", ehlo2)
        s.sendmail("sender@client.example", ["alice@example.test", "bob@example.test"], body("v2 tls"))
    t.check(daemon.wait_log("unique-id HAP-127.0.0.1-"), "log: HAProxy's unique-id TLV")
    t.check(daemon.wait_log("127.0.0.1 on smtp: queued as "), "log: each accepted message, with its queue id")
    t.check(len(maildir_files(mail, "bob@example.test")) == 1 and len(maildir_files(mail, "alice@example.test")) == 2,
            "two recipients over STARTTLS delivered")

    # --- raw PROXY headers with documentation addresses, written by the test from the trusted peer
    s = connect_from("127.0.0.2", "127.0.0.1", P["smtp"])
    s.sendall(b"PROXY TCP4 203.0.113.10 198.51.100.1 40000 25\r\n")
    greet = smtp_lines(s)
    s.sendall(b"EHLO client.example\r\n")
    ehlo = smtp_lines(s)
    t.check(greet.startswith("220 ") and "Hello client.example [203.0.113.10]" in ehlo,
            "raw v1 header: EHLO names 203.0.113.10", greet + ehlo)
    nodelay = server_sockopt(daemon.proc.pid, s, socket.IPPROTO_TCP, socket.TCP_NODELAY)
    t.check(nodelay == 1, "the daemon's end has TCP_NODELAY (set on the listener, inherited)", repr(nodelay))
    # pipelining: the whole transaction in one write
    s.sendall(b"MAIL FROM:<p@client.example>\r\nRCPT TO:<bob@example.test>\r\nRCPT TO:<nobody@example.test>\r\n"
              b"DATA\r\n")
    time.sleep(0.3)
    replies = s.recv(4096).decode()
    t.check(replies.count("250") >= 2 and "550" in replies and "354" in replies,
            "pipelined MAIL/RCPT/RCPT/DATA answered in order", replies)
    s.sendall(b"Subject: pipelined\r\n\r\n..dot line\r\n.\r\nQUIT\r\n")
    time.sleep(0.3)
    replies = s.recv(4096).decode()
    t.check("250 2.0.0" in replies and "221" in replies, "message accepted, QUIT answered", replies)
    s.close()
    bobs = maildir_files(mail, "bob@example.test")
    if len(bobs) == 2:
        m = open(bobs[-1]).read()
        t.check("\n.dot line" in m and "[203.0.113.10]" in m, "dot-unstuffed, Received names 203.0.113.10", m[:500])
    else:
        t.check(False, "pipelined message delivered to bob", bobs)

    # A PROXY v2 LOCAL header (HAProxy's health check) is served as the proxy's own connection, quietly
    # (the header is made before connecting: under load, running originctl can outlast proxy_timeout)
    local = subprocess.run([build_path("originctl"), "proxy-encode", "--local"], capture_output=True).stdout
    s = connect_from("127.0.0.2", "127.0.0.1", P["smtp"])
    s.sendall(local)
    greet = smtp_lines(s)
    s.sendall(b"EHLO checker.example\r\n")
    ehlo = smtp_lines(s)
    t.check(greet.startswith("220 ") and "Hello checker.example [127.0.0.2]" in ehlo,
            "PROXY v2 LOCAL: served as the proxy's own connection", greet + ehlo)
    s.close()

    # IPv6: a raw v2 header from ::1 (trusted on that listener) naming 2001:db8::10
    hdr = subprocess.run([build_path("originctl"), "proxy-encode", "--src", "[2001:db8::10]:5555", "--dst",
                          "[2001:db8::25]:25"], capture_output=True).stdout
    s = connect_from(None, "::1", P["smtp"])
    s.sendall(hdr + b"EHLO v6.example\r\n")  # the header and the first command in one segment
    data = smtp_lines(s)
    if "Hello" not in data:
        data += smtp_lines(s)
    t.check("Hello v6.example [2001:db8::10]" in data, "IPv6 v2 header: EHLO names 2001:db8::10", data)
    s.close()

    # --- implicit TLS through haproxy (465-style), AUTH on submission
    with smtplib.SMTP_SSL("127.0.0.1", P["h_smtps"], context=ctx, timeout=10, local_hostname="c.example") as s:
        code, ehlo = s.ehlo()
        t.check(b"AUTH PLAIN LOGIN" in ehlo and b"[127.0.0.1]" in ehlo, "implicit TLS: AUTH offered", ehlo)
        try:
            s.login("alice@example.test", "wrong")
            t.check(False, "wrong password refused")
        except smtplib.SMTPAuthenticationError as e:
            t.check(e.smtp_code == 535, "wrong password refused with 535", e)
        s.login("alice@example.test", "alice-secret")
        s.sendmail("alice@example.test", ["bob@example.test"], body("submitted"))
        try:
            s.sendmail("alice@example.test", ["someone@elsewhere.example"], body("relay"))
            t.check(False, "relay to a foreign domain refused")
        except smtplib.SMTPRecipientsRefused as e:
            code = list(e.recipients.values())[0][0]
            t.check(code == 554, "relay to a foreign domain refused (554)", e.recipients)
    t.check(len(maildir_files(mail, "bob@example.test")) == 3, "authenticated submission delivered")

    # --- AUTH is checked on a worker thread (auth_workers): the commands pipelined behind it wait for its
    #     answer and are answered in order; clients that leave while their check runs harm nobody
    def smtps_raw():
        w = ctx.wrap_socket(socket.create_connection(("127.0.0.1", P["h_smtps"]), timeout=10),
                            server_hostname="mx1.example.test")
        return w, w.makefile("rb")
    w, f = smtps_raw()
    f.readline()
    w.sendall(b"EHLO c.example\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    plain = base64.b64encode(b"\0alice@example.test\0alice-secret")
    w.sendall(b"AUTH PLAIN " + plain + b"\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
              b"DATA\r\n")
    codes = [f.readline()[:3] for _ in range(4)]
    t.check(codes == [b"235", b"250", b"250", b"354"], "pipelined AUTH, MAIL, RCPT, DATA: answered in order", codes)
    w.sendall(body("pipelined after AUTH").encode() + b"\r\n.\r\nQUIT\r\n")
    _r = f.readline()
    t.check(_r.startswith(b"250 "), "... and the message is accepted", (_r, daemon.log()[-1500:]))
    w.close()
    for i in range(10):
        w, f = smtps_raw()
        f.readline()
        w.sendall(b"EHLO c.example\r\nAUTH PLAIN " + plain + b"\r\n")
        w.close()
    with smtplib.SMTP_SSL("127.0.0.1", P["h_smtps"], context=ctx, timeout=10, local_hostname="c.example") as s:
        t.check(s.login("alice@example.test", "alice-secret")[0] == 235,
                "10 clients gone during their AUTH's check: the next one is served")
    t.check(len(maildir_files(mail, "bob@example.test")) == 4, "the pipelined message is in bob's Maildir")

    # submission over STARTTLS: AUTH only after TLS; MAIL needs AUTH
    with smtplib.SMTP("127.0.0.1", P["h_subm"], timeout=10) as s:
        code, ehlo = s.ehlo()
        t.check(b"AUTH" not in ehlo, "submission: no AUTH before TLS", ehlo)
        s.starttls(context=ctx)
        s.ehlo()
        code, msg = s.mail("alice@example.test")
        t.check(code == 530, "submission: MAIL before AUTH gets 530", (code, msg))
        s.login("bob@example.test", "bob-secret")
        s.rset()
        s.sendmail("bob@example.test", ["alice@example.test"], body("from bob"))

    # --- size limit
    with smtplib.SMTP("127.0.0.1", P["h_v2"], timeout=10) as s:
        try:
            s.sendmail("big@client.example", ["alice@example.test"], body("big", MAX_SIZE + 5000))
            t.check(False, "oversized message refused")
        except smtplib.SMTPDataError as e:
            t.check(e.smtp_code == 552, "oversized message refused with 552", e)
        except smtplib.SMTPSenderRefused as e:  # SIZE= announced by smtplib
            t.check(e.smtp_code == 552, "oversized message refused with 552 at MAIL", e)

    # --- the policy
    s = connect_from("127.0.0.1", "127.0.0.1", P["smtp"])
    r = smtp_lines(s)
    t.check(r.startswith("421 4.7.0") and "not a trusted proxy" in r, "direct peer on a proxy=required listener: 421",
            r)
    t.check(s.recv(100) == b"", "... and the connection is closed")
    s.close()
    s = connect_from("127.0.0.3", "127.0.0.1", P["smtp"])
    r = smtp_lines(s)
    s.sendall(b"EHLO admin.example\r\n")
    e = smtp_lines(s)
    t.check(r.startswith("220 ") and "[127.0.0.3]" in e, "direct_allowed peer is served as itself", r + e)
    s.close()
    s = connect_from("127.0.0.3", "127.0.0.1", P["smtp"])
    smtp_lines(s)
    s.sendall(b"PROXY TCP4 192.0.2.66 198.51.100.1 1234 25\r\n")
    r = smtp_lines(s)
    t.check(r.startswith("421 4.7.0") and "not a trusted proxy" in r, "a header from an untrusted peer is refused", r)
    s.close()
    s = connect_from("127.0.0.2", "127.0.0.1", P["smtp"])
    t0 = time.monotonic()
    r = smtp_lines(s, timeout=5)
    t.check(r.startswith("421 4.7.0") and "not received in time" in r, "trusted peer silent: 421 after proxy_timeout",
            r)
    s.close()
    s = connect_from("127.0.0.2", "127.0.0.1", P["smtp"])
    s.sendall(b"PROXY TCP4 203.0.113.10 198.51.100.1 040000 25\r\n")
    r = smtp_lines(s)
    t.check(r.startswith("421 4.7.0") and "source port invalid" in r, "malformed header: 421 naming the reason", r)
    s.close()

    # --- a client that goes silent after the greeting: command timeout
    s = connect_from("127.0.0.2", "127.0.0.1", P["smtp"])
    s.sendall(b"PROXY TCP4 203.0.113.11 198.51.100.1 40001 25\r\n")
    smtp_lines(s)
    r = smtp_lines(s, timeout=8)
    t.check(r.startswith("421 4.4.2"), "silent client gets 421 4.4.2 after command_timeout", r)
    s.close()

    # --- client killed mid-DATA: nothing delivered, nothing left visible
    before = len(maildir_files(mail, "alice@example.test"))
    s = connect_from("127.0.0.2", "127.0.0.1", P["smtp"])
    s.sendall(b"PROXY TCP4 203.0.113.12 198.51.100.1 40002 25\r\n")
    smtp_lines(s)
    s.sendall(b"EHLO x\r\n")
    smtp_lines(s)
    s.sendall(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
    time.sleep(0.3)
    s.recv(4096)
    s.sendall(b"Subject: cut\r\n\r\n" + b"partial line\r\n" * 100)
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()  # RST
    time.sleep(0.5)
    t.check(len(maildir_files(mail, "alice@example.test")) == before, "killed mid-DATA: nothing in new/")
    t.check(maildir_files(mail, "alice@example.test", "tmp") == [], "killed mid-DATA: nothing left in tmp/")

    # --- SIGHUP: a new user appears without a restart; live sessions go on
    live = connect_from("127.0.0.3", "127.0.0.1", P["smtp"])
    smtp_lines(live)
    set_password(cfg_path, "carol@example.test", "carol-secret")
    os.chmod(passwd, 0o644)
    daemon.signal(signal.SIGHUP)
    t.check(daemon.wait_log("Reloaded"), "SIGHUP reloads", daemon.log()[-500:])
    live.sendall(b"HELO still.example\r\n")
    t.check(smtp_lines(live).startswith("250"), "a session from before the reload goes on")
    with smtplib.SMTP("127.0.0.1", P["h_v2"], timeout=10) as s:
        s.sendmail("x@client.example", ["carol@example.test"], body("after reload"))
    t.check(len(maildir_files(mail, "carol@example.test")) == 1, "user added before SIGHUP receives mail")

    # --- SIGTERM drains: a transaction in progress completes, then the server stops
    live.sendall(b"MAIL FROM:<d@client.example>\r\n")
    smtp_lines(live)
    live.sendall(b"RCPT TO:<alice@example.test>\r\n")  # the live session keeps the user list it began with
    t.check(smtp_lines(live).startswith("250"), "RCPT in the live session")
    alice_before = len(maildir_files(mail, "alice@example.test"))
    daemon.signal(signal.SIGTERM)
    t.check(daemon.wait_log("Shutting down"), "SIGTERM starts the drain")
    live.sendall(b"DATA\r\n")
    smtp_lines(live)
    live.sendall(b"Subject: drained\r\n\r\nok\r\n.\r\n")
    r = smtp_lines(live)
    t.check(r.startswith("250 2.0.0"), "the transaction in progress is accepted during the drain", r)
    rest = r if "421 " in r else r + live.recv(4096).decode()  # may arrive in the same segment
    t.check("\r\n421 4.3.2 " in rest, "then the session is told the service is shutting down", rest)
    live.close()
    t.check(daemon.proc.wait(10) == 0, "the daemon exits 0 after the drain")
    t.check(len(maildir_files(mail, "alice@example.test")) == alice_before + 1, "the drained message is on disk")
except Exception as e:
    import traceback
    traceback.print_exc()
    t.check(False, "test ran to the end", repr(e))
finally:
    if hap:
        hap.stop()
    if daemon:
        daemon.stop()
        if t.failed:
            print("---- daemon log (tail)\n" + daemon.log()[-3000:])
    tmp.cleanup()
t.finish()
