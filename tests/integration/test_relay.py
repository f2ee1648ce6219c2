#!/usr/bin/env python3
"""Relaying end to end: two real originmaild instances on loopback.

A (example.test) relays authenticated submissions for other domains to B (elsewhere.example) over
STARTTLS, verifying B's certificate against the test CA (relay_ca). B serves A's connection directly
(proxy = off). Clients reach A's listeners through a raw PROXY v2 header from the trusted 127.0.0.2, or
directly from 127.0.0.3 (direct_allowed). Both daemons drop to 'nobody'; A's relay worker too."""
import base64
import json
import os
import pwd
import signal
import smtplib
import ssl
import subprocess
import time

from harness import (TEST_PIN_DIR, Checks, Daemon, TempDir, build_path, connect_from, free_port, maildir_files, make_ca_and_cert,
                     set_password, smtp_lines)

t = Checks("relay")
tmp = TempDir("originmail-relay-")
os.chmod(tmp.path, 0o755)  # the daemons run as nobody after binding
ca, cert, key = make_ca_and_cert(tmp)
P = {k: free_port() for k in ("a_smtp", "a_subm", "b_mx", "c_subm")}
for d in ("a", "b", "c"):
    os.mkdir(os.path.join(tmp.path, d), 0o755)
A_MAIL, B_MAIL, C_MAIL = (os.path.join(tmp.path, d, "mail") for d in ("a", "b", "c"))
A_QUEUE = os.path.join(tmp.path, "a", "queue")  # the default: beside mail_root
RELAY = f"127.0.0.1:{P['b_mx']}"


def listeners(name, port, proto):
    return f"""
[listener {name}]
address = 127.0.0.1:{port}
protocol = {proto}
tls = starttls
proxy = required
proxy_trusted = 127.0.0.2
direct_allowed = 127.0.0.3
"""


def common(d, hostname, domains):
    return f"""hostname = {hostname}
domains = {domains}
mail_root = {tmp.path}/{d}/mail
passwd_file = {tmp.path}/{d}/passwd
user = nobody
tls_cert = {cert}
tls_key = {key}
command_timeout = 10s
shutdown_grace = 5s
"""


config_a = (common("a", "mx-a.example.test", "example.test") +
            f"relay_host = {RELAY}\nrelay_ca = {ca}\nrelay_retry = 1s\n" +
            listeners("smtp", P["a_smtp"], "smtp") + listeners("submission", P["a_subm"], "submission"))
config_b = common("b", "mx-b.example.test", "elsewhere.example") + f"""
[listener mx]
address = {RELAY}
protocol = smtp
tls = starttls
proxy = off
"""
# C relays to B too, but with no relay_ca: B's certificate (from the test CA) cannot be verified.
config_c = (common("c", "mx-c.example.test", "example.org") + f"relay_host = {RELAY}\nrelay_retry = 1s\n" +
            listeners("submission", P["c_subm"], "submission"))

ctx = ssl.create_default_context(cafile=ca)


def poll(cond, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def queued(root):
    return sorted(e for e in os.listdir(root) if not e.startswith(".")) if os.path.isdir(root) else []


def read(path):
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        return f.read()


def msg(subject, to="dave@elsewhere.example", extra=""):
    return (f"From: alice@example.test\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nHello.\r\n{extra}" +
            "-- \r\nalice\r\n")


def submit(port, frm, rcpts, body, user="alice@example.test", password="alice-secret"):
    """Direct from 127.0.0.3 (direct_allowed), STARTTLS verified, AUTH; returns the queue id."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=("127.0.0.3", 0),
                      local_hostname="client.example") as s:
        s.starttls(context=ctx)
        s.login(user, password)
        code, _ = s.mail(frm)
        assert code == 250, code
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code == 250, (r, code, resp)
        code, resp = s.data(body.encode())
        assert code == 250, (code, resp)
        return resp.decode().rsplit(" ", 1)[-1]


def children(pid):
    try:
        return [int(p) for p in read(f"/proc/{pid}/task/{pid}/children").split()]
    except OSError:
        return []


def policy_pids():
    """PIDs of the instances whose CIDR lists are in the pinned BPF tries (empty when BPF is off)."""
    r = subprocess.run([build_path("originctl"), "policy", "--json", "--pin-dir", TEST_PIN_DIR], capture_output=True,
                       text=True)
    try:
        return {row["pid"] for row in json.loads(r.stdout)} if r.returncode == 0 else set()
    except ValueError:
        return set()


def gone(pid):
    """Exited: no such process, or a zombie nobody has reaped yet."""
    try:
        return read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def uid_of(pid):
    line = [l for l in read(f"/proc/{pid}/status").splitlines() if l.startswith("Uid:")][0]
    return [int(u) for u in line.split()[1:]]


a = b = c = None
try:
    for d, cfg, users in (("a", config_a, [("alice@example.test", "alice-secret"), ("bob@example.test", "bob-secret")]),
                          ("b", config_b, [("dave@elsewhere.example", "dave-secret")]),
                          ("c", config_c, [("carol@example.org", "carol-secret")])):
        path = tmp.file(f"{d}.conf", cfg)
        for u, p in users:
            set_password(path, u, p)
        os.chmod(os.path.join(tmp.path, d, "passwd"), 0o644)
    b = Daemon(tmp, config_b, "b")
    t.check(b.wait_ready(), "B starts", b.log()[-1500:])
    a = Daemon(tmp, config_a, "a")
    t.check(a.wait_ready(), "A starts", a.log()[-1500:])

    # --- the worker: a child of A, unprivileged
    nobody = pwd.getpwnam("nobody").pw_uid
    t.check(a.wait_log("relay: worker started"), "A's relay worker starts", a.log()[-1000:])
    kids = children(a.proc.pid)
    t.check(len(kids) == 1 and all(u == nobody for u in uid_of(kids[0])), "the worker is A's child, running as nobody",
            kids)
    worker = kids[0] if kids else None

    # --- an authenticated submission through a raw PROXY v2 header: one relayed, one local recipient
    hdr = subprocess.run([build_path("originctl"), "proxy-encode", "--src", "203.0.113.20:40000", "--dst",
                          "198.51.100.25:587"], capture_output=True, check=True).stdout
    s = connect_from("127.0.0.2", "127.0.0.1", P["a_subm"])
    s.sendall(hdr)
    smtp_lines(s)
    s.sendall(b"EHLO client.example\r\n")
    smtp_lines(s)
    s.sendall(b"STARTTLS\r\n")
    t.check(smtp_lines(s).startswith("220"), "STARTTLS on A's submission listener")
    s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    s.sendall(b"EHLO client.example\r\n")
    smtp_lines(s)
    s.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0alice-secret") + b"\r\n")
    t.check(smtp_lines(s).startswith("235"), "AUTH as alice")
    replies = []
    for line in (b"MAIL FROM:<alice@example.test>", b"RCPT TO:<dave@elsewhere.example>",
                 b"RCPT TO:<bob@example.test>", b"DATA"):
        s.sendall(line + b"\r\n")
        replies.append(smtp_lines(s))
    t.check(replies[1].startswith("250 2.1.5"), "RCPT for another domain accepted (relay_host set)", replies)
    t.check(replies[2].startswith("250 2.1.5") and replies[3].startswith("354"), "local RCPT and DATA", replies)
    # dot-stuffed by this client as SMTP requires: stored as ".leading dot" and "..two dots"
    s.sendall(msg("relayed", extra="..leading dot\r\n...two dots\r\n").encode() + b".\r\n")
    r = smtp_lines(s)
    t.check(r.startswith("250 2.0.0 Ok: queued as "), "message accepted once queued", r)
    qid = r.strip().rsplit(" ", 1)[-1]
    s.sendall(b"QUIT\r\n")
    s.close()
    t.check(len(maildir_files(A_MAIL, "bob@example.test")) == 1, "the local copy is in bob's Maildir on A")
    t.check(poll(lambda: len(maildir_files(B_MAIL, "dave@elsewhere.example")) == 1),
            "the relayed copy arrives in dave's Maildir on B", a.log()[-1500:])
    t.check(a.wait_log(f"relay: {qid} to <dave@elsewhere.example> via {RELAY}: sent (250 2.0.0 Ok: queued as "),
            "A logs: sent (250 ...)", a.log()[-1500:])
    daves = maildir_files(B_MAIL, "dave@elsewhere.example")
    m = read(daves[0]) if daves else ""
    flat = m.replace("\r\n\t", " ")
    t.check("by mx-b.example.test (originmail) with ESMTPS" in flat and "(using TLSv1." in flat,
            "B's Received header shows the relay's connection used TLS", m[:700])
    t.check("from mx-a.example.test ([127.0.0.1]" in flat, "... and came from A (EHLO mx-a.example.test)", m[:700])
    t.check("[203.0.113.20]" in flat and "by mx-a.example.test (originmail) with ESMTPSA" in flat,
            "A's own Received header (the client behind the proxy) travels with the message", m[:900])
    t.check(m.count("Return-Path:") == 1 and m.startswith("Return-Path: <alice@example.test>\r\n"),
            "one Return-Path, B's (A's is not sent on)", m[:300])
    bobs = maildir_files(A_MAIL, "bob@example.test")
    local = read(bobs[0]) if bobs else ""
    t.check("\r\n.leading dot\r\n..two dots\r\n" in m and m.split("\r\nFrom: ", 1)[-1] ==
            local.split("\r\nFrom: ", 1)[-1], "dot-stuffing: lines with leading dots arrive intact, the whole "
            "message as A stored it", m[-200:])
    t.check(poll(lambda: queued(A_QUEUE) == []), "A's queue is empty after delivery", queued(A_QUEUE))

    # --- a recipient B does not know: 550 there, a bounce in the local sender's Maildir on A
    alice_before = len(maildir_files(A_MAIL, "alice@example.test"))
    qid2 = submit(P["a_subm"], "alice@example.test", ["dave@elsewhere.example", "ghost@elsewhere.example"],
                  msg("partly unknown", "dave@elsewhere.example, ghost@elsewhere.example"))
    t.check(poll(lambda: len(maildir_files(A_MAIL, "alice@example.test")) == alice_before + 1),
            "a bounce arrives in alice's Maildir on A", a.log()[-1500:])
    t.check(len(maildir_files(B_MAIL, "dave@elsewhere.example")) == 2, "the known recipient still got it")
    bounces = maildir_files(A_MAIL, "alice@example.test")
    bm = read(bounces[-1]) if bounces else ""
    t.check("Subject: Undelivered Mail Returned to Sender" in bm and "Return-Path: <>" in bm and
            "<ghost@elsewhere.example>: 127.0.0.1" in bm and " said: 550 5.1.1" in bm, "the bounce names the recipient "
            "and B's 550 reply", bm[:1500])
    t.check("<dave@elsewhere.example>:" not in bm and "Subject: partly unknown" in bm,
            "... not the delivered one; it quotes the original headers", bm[-800:])
    t.check(a.wait_log(f"relay: {qid2} to <ghost@elsewhere.example> via {RELAY}: bounced: {RELAY} said: 550"),
            "A logs: bounced: ...")
    t.check(poll(lambda: queued(A_QUEUE) == []), "nothing left queued after a partial bounce", queued(A_QUEUE))

    # --- port 25 (protocol smtp) never relays, relay_host or not
    s = connect_from("127.0.0.3", "127.0.0.1", P["a_smtp"])
    smtp_lines(s)
    s.sendall(b"EHLO client.example\r\n")
    smtp_lines(s)
    s.sendall(b"MAIL FROM:<alice@example.test>\r\n")
    smtp_lines(s)
    s.sendall(b"RCPT TO:<dave@elsewhere.example>\r\n")
    r = smtp_lines(s)
    t.check(r.startswith("554 5.7.1 <dave@elsewhere.example>: Relay access denied"), "port 25 refuses relaying (554)",
            r)
    s.close()

    # --- unauthenticated submission is refused
    with smtplib.SMTP("127.0.0.1", P["a_subm"], timeout=10, source_address=("127.0.0.3", 0)) as s:
        s.starttls(context=ctx)
        s.ehlo()
        code, resp = s.mail("alice@example.test")
        t.check(code == 530, "unauthenticated submission: MAIL gets 530", (code, resp))
        code, resp = s.rcpt("dave@elsewhere.example")
        t.check(code == 503, "... and no recipient is taken", (code, resp))
    t.check(queued(A_QUEUE) == [], "nothing queued by the refused sessions")

    # --- B down: deferred and kept; delivered once B is back
    b.stop()
    daves_before = len(maildir_files(B_MAIL, "dave@elsewhere.example"))
    qid3 = submit(P["a_subm"], "alice@example.test", ["dave@elsewhere.example"], msg("while B is down"))
    t.check(a.wait_log(f"relay: {qid3} to <dave@elsewhere.example> via {RELAY}: deferred: cannot connect to "
                       f"{RELAY}: connect: Connection refused", 10), "A logs: deferred (B is down)", a.log()[-1500:])
    t.check(queued(A_QUEUE) == [qid3], "the message stays queued", queued(A_QUEUE))
    # The worker logs the deferral, then rewrites the envelope (atomically): give it a moment.
    def envelope():
        try:
            return read(os.path.join(A_QUEUE, qid3, "envelope"))
        except OSError:
            return ""
    poll(lambda: "\nerror cannot connect" in envelope(), 5)
    env = envelope()
    t.check("\nrcpt dave@elsewhere.example\n" in env and "\nerror cannot connect" in env and "\nattempts " in env,
            "its envelope keeps the recipient, the attempts and the last error", env)
    b = Daemon(tmp, config_b, "b2")
    t.check(b.wait_ready(), "B starts again", b.log()[-1000:])
    t.check(poll(lambda: len(maildir_files(B_MAIL, "dave@elsewhere.example")) == daves_before + 1, 30),
            "the deferred message is delivered once B is back", a.log()[-1500:])
    t.check(a.wait_log(f"relay: {qid3} to <dave@elsewhere.example> via {RELAY}: sent (250"), "A logs: sent")
    t.check(poll(lambda: queued(A_QUEUE) == []), "A's queue is empty again", queued(A_QUEUE))

    # --- relay_tls = required verifies the certificate: C has no relay_ca, so B's test CA is unknown
    c = Daemon(tmp, config_c, "c")
    t.check(c.wait_ready(), "C starts", c.log()[-1000:])
    daves_before = len(maildir_files(B_MAIL, "dave@elsewhere.example"))
    qid4 = submit(P["c_subm"], "carol@example.org", ["dave@elsewhere.example"], msg("unverified"),
                  user="carol@example.org", password="carol-secret")
    t.check(c.wait_log(f"relay: {qid4} to <dave@elsewhere.example> via {RELAY}: deferred: TLS with {RELAY} failed: "
                       "certificate verification failed", 10), "an unverifiable relay certificate defers",
            c.log()[-1500:])
    t.check(len(maildir_files(B_MAIL, "dave@elsewhere.example")) == daves_before, "... and nothing is sent")
    c_kids = children(c.proc.pid)
    c.proc.kill()  # SIGKILL: no drain, no SIGTERM to the worker; PR_SET_PDEATHSIG must stop it
    c.proc.wait()
    t.check(len(c_kids) == 1 and poll(lambda: gone(c_kids[0]), 10), "a worker whose parent is killed exits", c_kids)

    # --- the worker exiting (SIGTERM) leaves A's entries in the shared BPF maps alone: they are A's
    if a.proc.pid in policy_pids():
        os.kill(worker, signal.SIGTERM)
        t.check(poll(lambda: gone(worker), 10), "the worker exits on SIGTERM")
        t.check(a.proc.pid in policy_pids(), "A's CIDR lists stay in the pinned tries after its worker exits",
                policy_pids())
    # --- SIGTERM: A drains, the worker stops with it
    t.check(a.stop() == 0, "A exits 0 on SIGTERM")
    t.check(worker is not None and not os.path.exists(f"/proc/{worker}"), "the worker is gone with A")
    t.check("relay: worker stopped" in a.log(), "A's log: relay: worker stopped")
    b.stop()
    c.stop()
    logs = "".join(read(os.path.join(tmp.path, n + ".log")) for n in ("a", "b", "b2", "c"))
    t.check(not any(w in logs for w in ("Sanitizer", "runtime error:", "Segmentation")),
            "no sanitizer report from any daemon or worker", [l for l in logs.splitlines() if "Sanitizer" in l][:5])
except Exception as e:
    import traceback
    traceback.print_exc()
    t.check(False, "test ran to the end", repr(e))
finally:
    for d in (a, b, c):
        if d:
            d.stop()
            if t.failed:
                print(f"---- {d.logpath} (tail)\n" + d.log()[-3000:])
    tmp.cleanup()
t.finish()
