#!/usr/bin/env python3
"""Faults: kill -9 of the daemon in the middle of SMTP DATA, IMAP APPEND and IMAP EXPUNGE loses no
acknowledged message and leaves no partial one visible; the restart removes what the crash left in tmp/;
a full disk (a small tmpfs mounted here as the mail root) is answered 452 4.3.1 in SMTP and NO [OVERQUOTA] in
IMAP, without corruption, and the daemon keeps serving.

Real parts: originmaild dropping to nobody, smtplib and imaplib, a real tmpfs. After every crash the
Maildir is checked on disk (new/ and cur/ hold only complete messages, each one that was sent) and over IMAP
(every acknowledged message is there, byte for byte)."""
import imaplib
import os
import random
import re
import smtplib
import socket
import subprocess
import time

from harness import Checks, Daemon, TempDir, free_port, maildir_files, set_password

t = Checks("faults")
tmp = TempDir()
os.chmod(tmp.path, 0o755)  # the daemon runs as nobody after binding
P = {k: free_port() for k in ("smtp", "imap")}
USER, PASS = "alice@example.test", "secret"


def config(mail_root, max_size="10M"):
    return f"""
hostname = mx1.example.test
domains = example.test
mail_root = {mail_root}
passwd_file = {tmp.path}/passwd
user = nobody
max_message_size = {max_size}
command_timeout = 20s

[listener smtp]
address = 127.0.0.1:{P['smtp']}
protocol = smtp
proxy = off

[listener imap]
address = 127.0.0.1:{P['imap']}
protocol = imap
proxy = off
allow_plaintext_auth = yes
"""


def message(n, size=0):
    """A message that says where it ends: a complete one has its END line, a cut one has not."""
    filler = "".join(f"line {i:06d} of message {n} ....................................\r\n"
                     for i in range(size // 64))
    return (f"From: sender@client.example\r\nTo: {USER}\r\nSubject: message {n}\r\nX-Test-Id: {n}\r\n\r\n"
            f"body of message {n}\r\n{filler}END-{n}\r\n")


def deliver(n, size=0):
    with smtplib.SMTP("127.0.0.1", P["smtp"], local_hostname="client.example", timeout=20) as s:
        s.sendmail("sender@client.example", [USER], message(n, size))


def body_of(raw):
    """The message as sent: after what SMTP put in front (Return-Path, Received)."""
    i = raw.find(b"From: sender@client.example")
    return raw[i:] if i >= 0 else raw


def on_disk(root):
    """Every message file in new/ and cur/ of alice's INBOX: {name: bytes}."""
    out = {}
    for sub in ("new", "cur"):
        for p in maildir_files(root, USER, sub):
            with open(p, "rb") as f:
                out[p] = f.read()
    return out


def ids_complete(root, what):
    """Every file on disk is a complete message (its END line, exactly as sent); returns their ids."""
    ids, bad = [], []
    for p, raw in on_disk(root).items():
        m = re.search(rb"X-Test-Id: (\d+)", raw)
        n = int(m.group(1)) if m else -1
        if m and body_of(raw) in (message(n).encode(), message(n, SIZES.get(n, 0)).encode()):
            ids.append(n)
        else:
            bad.append(os.path.basename(p))
    t.check(not bad, f"{what}: new/ and cur/ hold only complete messages", bad)
    return sorted(ids)


def tmp_files(root):
    return maildir_files(root, USER, "tmp")


def imap_ids(what):
    """The ids IMAP shows in INBOX, each fetched whole and compared with what was sent."""
    M = imaplib.IMAP4("127.0.0.1", P["imap"], timeout=20)
    M.login(USER, PASS)
    typ, dat = M.select("INBOX")
    ids, bad = [], []
    if typ == "OK" and int(dat[0]) > 0:
        typ, dat = M.fetch("1:*", "(BODY.PEEK[])")
        for part in dat:
            if not isinstance(part, tuple):
                continue
            raw = part[1]
            m = re.search(rb"X-Test-Id: (\d+)", raw)
            n = int(m.group(1)) if m else -1
            if m and body_of(raw) in (message(n).encode(), message(n, SIZES.get(n, 0)).encode()):
                ids.append(n)
            else:
                bad.append(raw[:80])
    M.logout()
    t.check(typ == "OK" and not bad, f"{what}: IMAP reads every message whole", bad)
    return sorted(ids)


SIZES = {}  # id -> filler size of the messages sent big


def start(root, name):
    d = Daemon(tmp, config(root), name=name)
    t.check(d.wait_ready(), f"{name}: daemon starts", d.log()[-1500:])
    return d


def kill9(d):
    d.proc.kill()
    d.proc.wait()
    d.logf.close()


def wait_for(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def smtp_reply(f):
    lines = []
    while True:
        line = f.readline().decode(errors="replace")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return "".join(lines)


daemons = []
mnt = os.path.join(tmp.path, "full")
mounted = False
try:
    root = os.path.join(tmp.path, "mail")
    cfg = tmp.file("originmaild.conf", config(root))
    set_password(cfg, USER, PASS)
    os.chmod(os.path.join(tmp.path, "passwd"), 0o644)

    # ---- kill -9 in the middle of DATA
    d = start(root, "data-1")
    daemons.append(d)
    acked = []
    for n in range(1, 6):
        deliver(n)
        acked.append(n)  # sendmail returned: 250 was received
    s = socket.create_connection(("127.0.0.1", P["smtp"]), timeout=20)
    f = s.makefile("rb")
    smtp_reply(f)
    for cmd in ("EHLO client.example", "MAIL FROM:<sender@client.example>", f"RCPT TO:<{USER}>", "DATA"):
        s.sendall(cmd.encode() + b"\r\n")
        smtp_reply(f)
    cut = message(99, 300000).encode()
    s.sendall(cut[:200000])  # more than the write buffers: the message is on its way into tmp/
    t.check(wait_for(lambda: any(os.path.getsize(p) > 0 for p in tmp_files(root))),
            "DATA: the message being received is in tmp/")
    kill9(d)
    s.close()
    t.check(ids_complete(root, "after kill -9 in DATA") == acked,
            "after kill -9 in DATA: the 5 acknowledged messages are on disk, the cut one is not")
    t.check(len(tmp_files(root)) == 1, "the cut message is left in tmp/ by the crash", tmp_files(root))

    d = start(root, "data-2")
    daemons.append(d)
    t.check(tmp_files(root) == [], "restart: tmp/ leftovers removed", tmp_files(root))
    t.check("Removed 1 crash leftover from tmp/" in d.log(), "restart: the removal is logged", d.log()[-800:])
    t.check(imap_ids("after the restart") == acked, "IMAP sees exactly the acknowledged messages")
    deliver(6)
    acked.append(6)
    t.check(imap_ids("after a new delivery") == acked, "the restarted daemon delivers again")

    # ---- kill -9 during APPEND: a literal cut short, and whole APPENDs killed at random points
    M = imaplib.IMAP4("127.0.0.1", P["imap"], timeout=20)
    M.login(USER, PASS)
    for n in (10, 11):
        typ, dat = M.append("INBOX", None, None, message(n).encode())
        if t.check(typ == "OK", f"APPEND {n} acknowledged", dat):
            acked.append(n)
    M.logout()
    s = socket.create_connection(("127.0.0.1", P["imap"]), timeout=20)
    f = s.makefile("rb")
    f.readline()
    s.sendall(f"a1 LOGIN {USER} {PASS}\r\n".encode())
    f.readline()
    big = message(98, 200000).encode()
    s.sendall(b"a2 APPEND INBOX {%d}\r\n" % len(big))
    t.check(f.readline().startswith(b"+"), "APPEND: go-ahead for the literal")
    s.sendall(big[:100000])
    time.sleep(0.2)
    kill9(d)
    s.close()
    d = start(root, "append-1")
    daemons.append(d)
    t.check(ids_complete(root, "after kill -9 inside an APPEND literal") == sorted(acked),
            "after kill -9 inside an APPEND literal: every acknowledged message, nothing else")

    rng = random.Random(9)
    for attempt in range(4):
        n = 20 + attempt
        SIZES[n] = 150000
        data = message(n, SIZES[n]).encode()
        s = socket.create_connection(("127.0.0.1", P["imap"]), timeout=20)
        f = s.makefile("rb")
        f.readline()
        s.sendall(f"a1 LOGIN {USER} {PASS}\r\n".encode())
        f.readline()
        s.sendall(b"a2 APPEND INBOX {%d+}\r\n" % len(data) + data + b"\r\n")
        time.sleep(rng.uniform(0, 0.03))  # somewhere in the write, the fsync, the rename or the UID list
        kill9(d)
        s.close()
        d = start(root, f"append-{attempt + 2}")
        daemons.append(d)
        got = ids_complete(root, f"after kill -9 during APPEND #{attempt + 1}")
        t.check(set(acked) <= set(got) and set(got) <= set(acked) | {n},
                f"kill -9 during APPEND #{attempt + 1}: the acknowledged messages stay, the new one is whole or absent",
                (got, acked))
        if n in got:
            acked.append(n)  # written whole before the kill: it is a message now
        t.check(tmp_files(root) == [], f"APPEND #{attempt + 1}: nothing left in tmp/ after the restart")
    t.check(imap_ids("after the APPEND crashes") == sorted(acked), "IMAP agrees with the disk after the APPEND crashes")

    # ---- kill -9 during EXPUNGE: what was not \\Deleted stays, UIDs and UIDVALIDITY stay
    for n in range(30, 50):
        deliver(n)
        acked.append(n)
    M = imaplib.IMAP4("127.0.0.1", P["imap"], timeout=20)
    M.login(USER, PASS)
    M.select("INBOX")
    typ, dat = M.fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS (X-TEST-ID)])")
    uid_of = {}
    for part in dat:
        if isinstance(part, tuple):
            uid = int(re.search(rb"UID (\d+)", part[0]).group(1))
            uid_of[int(re.search(rb"X-Test-Id: (\d+)", part[1]).group(1))] = uid
    validity = M.response("UIDVALIDITY")[1][0]
    doomed = [n for n in acked if n % 2 == 0 and n >= 30]
    for n in doomed:
        M.uid("STORE", str(uid_of[n]), "+FLAGS.SILENT", "(\\Deleted)")
    M.sock.sendall(b"x1 EXPUNGE\r\n")
    time.sleep(0.005)
    kill9(d)
    M.shutdown()
    d = start(root, "expunge")
    daemons.append(d)
    kept = sorted(set(acked) - set(doomed))
    got = ids_complete(root, "after kill -9 during EXPUNGE")
    t.check(set(kept) <= set(got) <= set(acked), "kill -9 during EXPUNGE: every message not \\Deleted is there",
            (got, kept))
    M = imaplib.IMAP4("127.0.0.1", P["imap"], timeout=20)
    M.login(USER, PASS)
    M.select("INBOX")
    t.check(M.response("UIDVALIDITY")[1][0] == validity, "UIDVALIDITY unchanged by the crash")
    typ, dat = M.fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS (X-TEST-ID)])")
    seen = {}
    for part in dat:
        if isinstance(part, tuple):
            seen[int(re.search(rb"X-Test-Id: (\d+)", part[1]).group(1))] = int(re.search(rb"UID (\d+)", part[0]).group(1))
    t.check(all(seen.get(n) == uid_of[n] for n in kept if n in uid_of), "the survivors keep their UIDs", seen)
    typ, dat = M.expunge()
    M.logout()
    acked = [n for n in acked if n not in doomed]
    t.check(imap_ids("after EXPUNGE finished") == sorted(acked), "EXPUNGE finishes after the restart")
    d.stop()

    # ---- a full disk: a 1 MiB tmpfs as the mail root
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755,uid=65534,gid=65534",
                        "originmail-test-full", mnt], capture_output=True, text=True)
    mounted = r.returncode == 0
    if t.check(mounted, "mount a 1 MiB tmpfs for the full-disk test", r.stderr):
        froot = os.path.join(mnt, "mail")
        SIZES.clear()
        d = start(froot, "full")
        daemons.append(d)
        deliver(1)
        t.check(ids_complete(froot, "full disk: before") == [1], "full disk: a small message is delivered")
        try:
            deliver(2, 2 * 1024 * 1024)
            t.check(False, "a message larger than the disk is refused")
        except smtplib.SMTPDataError as e:
            t.check(e.smtp_code == 452 and b"4.3.1" in e.smtp_error, "a message larger than the disk: 452 4.3.1",
                    e)
        t.check(ids_complete(froot, "full disk: after a refused message") == [1], "nothing partial in new/")
        t.check(tmp_files(froot) == [], "nothing left in tmp/ by the refused message", tmp_files(froot))

        M = imaplib.IMAP4("127.0.0.1", P["imap"], timeout=20)
        M.login(USER, PASS)
        typ, dat = M.append("INBOX", None, None, message(3, 2 * 1024 * 1024).encode())
        t.check(typ == "NO" and b"[OVERQUOTA]" in dat[0], "APPEND larger than the disk: NO [OVERQUOTA]", dat)
        typ, dat = M.select("INBOX")
        t.check(typ == "OK" and dat == [b"1"], "the mailbox still opens, with its one message", dat)
        M.logout()

        # the disk entirely full: even the first write of a message fails
        filler = os.path.join(mnt, "filler")
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
        try:
            deliver(4)
            t.check(False, "a disk already full: the message is refused")
        except (smtplib.SMTPDataError, smtplib.SMTPRecipientsRefused) as e:
            code = getattr(e, "smtp_code", 0)
            t.check(code == 452, "a disk already full: 452 4.3.1", e)
        M = imaplib.IMAP4("127.0.0.1", P["imap"], timeout=20)
        M.login(USER, PASS)
        typ, dat = M.append("INBOX", None, None, message(5).encode())
        t.check(typ == "NO" and b"[OVERQUOTA]" in dat[0] and b"SERVERBUG" not in dat[0],
                "a disk already full: APPEND NO [OVERQUOTA]", dat)
        M.logout()
        os.unlink(filler)
        deliver(6)
        t.check(ids_complete(froot, "full disk: after space came back") == [1, 6],
                "space back: the daemon delivers again, nothing corrupt")
        t.check(imap_ids("full disk: after space came back") == [1, 6], "IMAP reads the mailbox whole")
        t.check(d.proc.poll() is None, "the daemon kept running through the full disk")
        d.stop()
finally:
    for d in daemons:
        if d.proc.poll() is None:
            d.stop()
    if mounted:
        subprocess.run(["umount", mnt])
    tmp.cleanup()
t.finish()
