#!/usr/bin/env python3
"""Real IMAP clients against originmaild through HAProxy (send-proxy-v2, implicit TLS verified against a test
CA): curl's IMAP support (FETCH by UID, LIST, SEARCH, APPEND) and isync's mbsync syncing a mailbox both ways
(new messages, flags, folders and expunges in each direction; mbsync checks UIDVALIDITY and UIDPLUS
strictly, so a sync that completes cleanly four times over says the UIDs held)."""
import glob
import imaplib
import os
import smtplib
import ssl
import subprocess

from harness import (Checks, Daemon, HAProxy, TempDir, free_port, haproxy_tcp, make_ca_and_cert, proxy_route,
                     set_password, wait_port)

t = Checks("imap_clients")
tmp = TempDir()
os.chmod(tmp.path, 0o755)
ca, cert, key = make_ca_and_cert(tmp)
P = {k: free_port() for k in ("smtp", "imaps", "h_smtp", "h_imaps", "ready")}
mail = os.path.join(tmp.path, "mail")
passwd = tmp.file("passwd", "")
local = os.path.join(tmp.path, "local")
USER, PASS = "carol@example.test", "carol-secret"

config = f"""
hostname = mx1.example.test
domains = example.test
mail_root = {mail}
passwd_file = {passwd}
user = nobody
tls_cert = {cert}
tls_key = {key}

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
"""
haproxy_cfg = haproxy_tcp(
    P['ready'],
    proxy_route("smtp", P['h_smtp'], f"127.0.0.1:{P['smtp']} send-proxy source 127.0.0.2"),
    proxy_route("imaps", [f"127.0.0.1:{P['h_imaps']}", f"[::1]:{P['h_imaps']}"],
                f"127.0.0.1:{P['imaps']} send-proxy-v2 source 127.0.0.2"))
mbsyncrc = f"""
IMAPAccount acc
Host 127.0.0.1
Port {P['h_imaps']}
User {USER}
Pass {PASS}
SSLType IMAPS
CertificateFile {ca}

IMAPStore far
Account acc

MaildirStore near
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel ch
Far :far:
Near :near:
Patterns *
Create Both
Expunge Both
SyncState *
"""
ctx = ssl.create_default_context(cafile=ca)


def deliver(subject, body):
    msg = f"From: a@client.example\r\nTo: {USER}\r\nSubject: {subject}\r\n\r\n{body}"
    with smtplib.SMTP("127.0.0.1", P["h_smtp"], timeout=10) as s:
        s.sendmail("a@client.example", [USER], msg)


def curl(url, *extra):
    return subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", ca, "-u", f"{USER}:{PASS}", *extra,
                           f"imaps://127.0.0.1:{P['h_imaps']}/{url}"], capture_output=True)


def mbsync(what):
    p = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    t.check(p.returncode == 0 and "rror" not in out and "UIDVALIDITY of" not in out, f"mbsync {what}: clean", out)


def near(folder, sub="*"):
    return sorted(glob.glob(os.path.join(local, folder, sub, "*")))


def server():
    M = imaplib.IMAP4_SSL("127.0.0.1", P["h_imaps"], ssl_context=ctx, timeout=10)
    M.login(USER, PASS)
    return M


daemon = hap = None
try:
    cfg_path = tmp.file("originmaild.conf", config)
    set_password(cfg_path, USER, PASS)
    os.chmod(passwd, 0o644)
    rc = tmp.file("mbsyncrc", mbsyncrc)
    os.makedirs(local)
    daemon = Daemon(tmp, config)
    t.check(daemon.wait_ready(), "daemon starts", daemon.log()[-2000:])
    hap = HAProxy(tmp, haproxy_cfg)
    t.check(wait_port("127.0.0.1", P["ready"]), "haproxy starts")
    deliver("first", "one\r\n")
    deliver("second", "two\r\n")

    # --- curl
    p = curl("INBOX;UID=1")
    t.check(p.returncode == 0 and p.stdout.endswith(b"Subject: first\r\n\r\none\r\n"), "curl: FETCH by UID", p)
    p = curl("")
    t.check(p.returncode == 0 and b'\\Sent) "." Sent' in p.stdout.replace(b'"Sent"', b"Sent"), "curl: LIST", p)
    p = curl("INBOX?SUBJECT%20second")
    t.check(p.returncode == 0 and b"* SEARCH 2" in p.stdout, "curl: SEARCH", p)
    up = tmp.file("upload.eml", "From: c@example.test\r\nSubject: uploaded\r\n\r\nby curl\r\n")
    p = curl("Drafts", "-T", up)
    t.check(p.returncode == 0, "curl: APPEND (upload)", p)
    p = curl("Drafts;UID=1")
    t.check(p.returncode == 0 and p.stdout.endswith(b"by curl\r\n"), "curl: the upload reads back", p)

    # --- mbsync: the far side comes down
    mbsync("first sync")
    t.check(len(near("INBOX")) == 2, "mbsync: both INBOX messages fetched", near("INBOX"))
    t.check(len(near("Drafts")) == 1, "mbsync: the Drafts message fetched", near("Drafts"))
    t.check(all(os.path.isdir(os.path.join(local, f)) for f in ("Sent", "Trash", "Junk")),
            "mbsync: the special-use folders created near", os.listdir(local))

    # near changes go up: a new message, a flag, a new folder
    with open(os.path.join(local, "Drafts", "new", "100.near"), "w") as f:
        f.write("From: carol@example.test\r\nSubject: written offline\r\n\r\ndraft\r\n")
    first = [f for f in near("INBOX") if open(f, "rb").read().rstrip().endswith(b"one")][0]
    os.rename(first, first[:first.rindex(":2,") + 3] + "S" if ":2," in first else first + ":2,S")
    os.makedirs(os.path.join(local, "Archive", "cur"))
    for sub in ("new", "tmp"):
        os.makedirs(os.path.join(local, "Archive", sub))
    with open(os.path.join(local, "Archive", "new", "200.near"), "w") as f:
        f.write("Subject: archived\r\n\r\nold\r\n")
    mbsync("second sync (near changes up)")
    M = server()
    t.check(M.status("Drafts", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 2)"), "the offline draft reached the server")
    t.check(M.status("Archive", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 1)"), "the new folder and its message too")
    M.select("INBOX")
    t.check(b"\\Seen" in M.fetch("1", "FLAGS")[1][0], "the \\Seen set near is set far", M.fetch("1", "FLAGS"))

    # far changes come down: a flag, an expunge, a delivery
    M.store("2", "+FLAGS", r"(\Flagged)")
    M.store("1", "+FLAGS", r"(\Deleted)")
    M.expunge()
    M.logout()
    deliver("third", "three\r\n")
    mbsync("third sync (far changes down)")
    names = near("INBOX")
    t.check(len(names) == 2, "the expunge removed it near, the delivery arrived", names)
    t.check(any(n.endswith("F") or ":2,F" in n for n in names), "the \\Flagged set far is set near", names)

    mbsync("fourth sync (nothing to do)")
    t.check(len(near("INBOX")) == 2 and len(near("Drafts")) == 2, "a sync with nothing to do changes nothing")
    t.check(daemon.wait_log("Connection from 127.0.0.1 runs through 127.0.0.2 proxy"), "log: clients via the proxy")
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
