#!/usr/bin/env python3
"""The IMAP service end to end: originmaild with smtp, imap (STARTTLS) and imaps (implicit TLS) listeners
behind a real HAProxy, python's imaplib and smtplib as clients, raw PROXY headers from the trusted proxy
address 127.0.0.2 naming 203.0.113.10. Mail delivered by SMTP is read over IMAP; every command is used;
two sessions on one mailbox agree; IDLE sees a delivery; bad input is answered and the session goes on."""
import base64
import imaplib
import os
import re
import smtplib
import socket
import ssl
import time

from harness import (Checks, Daemon, HAProxy, TempDir, connect_from, free_port, haproxy_tcp, make_ca_and_cert,
                     proxy_route, set_password, wait_port)

t = Checks("imap_daemon")
tmp = TempDir()
os.chmod(tmp.path, 0o755)  # the daemon runs as nobody after binding
ca, cert, key = make_ca_and_cert(tmp)
P = {k: free_port() for k in ("smtp", "imap", "imaps", "h_smtp", "h_imap", "h_imaps", "ready")}
mail = os.path.join(tmp.path, "mail")
passwd = tmp.file("passwd", "")
MAX_SIZE = 100000

config = f"""
hostname = mx1.example.test
domains = example.test
mail_root = {mail}
passwd_file = {passwd}
user = nobody
tls_cert = {cert}
tls_key = {key}
max_message_size = {MAX_SIZE}
command_timeout = 20s

[listener smtp]
address = 127.0.0.1:{P['smtp']}
protocol = smtp
proxy = required
proxy_trusted = 127.0.0.2

[listener imap]
address = 127.0.0.1:{P['imap']}
protocol = imap
tls = starttls
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
    proxy_route("imap", P['h_imap'], f"127.0.0.1:{P['imap']} send-proxy-v2 source 127.0.0.2"),
    proxy_route("imaps", P['h_imaps'], f"127.0.0.1:{P['imaps']} send-proxy-v2 source 127.0.0.2"))
ctx = ssl.create_default_context(cafile=ca)  # the daemon's certificate is verified for real
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))  # extensions imaplib has no method for
imaplib.Commands.setdefault("MOVE", ("SELECTED",))


class ProxiedIMAP4(imaplib.IMAP4):
    """imaplib on a connection from the trusted proxy address, opened with a PROXY v1 header naming
    client; TLS (implicit) when tls is set."""

    def __init__(self, port, client="203.0.113.10", tls=True):
        self._client, self._tls = client, tls
        super().__init__("127.0.0.1", port, timeout=10)

    def open(self, host="", port=143, timeout=None):
        self.host, self.port = host, port
        s = connect_from("127.0.0.2", host, port, timeout or 10)
        s.sendall(f"PROXY TCP4 {self._client} 198.51.100.1 40000 {port}\r\n".encode())
        self.sock = ctx.wrap_socket(s, server_hostname="mx1.example.test") if self._tls else s
        self.file = self.sock.makefile("rb")


class Raw:
    """A hand-driven session (PROXY header, implicit TLS) for exact responses."""

    def __init__(self, client="203.0.113.20", tls=True, port=None):
        s = connect_from("127.0.0.2", "127.0.0.1", port or P["imaps"])
        s.sendall(f"PROXY TCP4 {client} 198.51.100.1 40000 993\r\n".encode())
        self.s = ctx.wrap_socket(s, server_hostname="mx1.example.test") if tls else s
        self.f = self.s.makefile("rb")
        self.greeting = self.line()

    def line(self, timeout=10):
        self.s.settimeout(timeout)
        return self.f.readline().decode(errors="replace")

    def send(self, data):
        self.s.sendall(data.encode() if isinstance(data, str) else data)

    def cmd(self, tag, text):
        """Send "tag text" and return every line up to and including the tagged one."""
        self.send(f"{tag} {text}\r\n")
        out = ""
        while True:
            line = self.line()
            out += line
            if not line or line.startswith(tag + " "):
                return out

    def close(self):
        self.s.close()


def deliver(subject, body, to="alice@example.test"):
    msg = f"From: Sender <sender@client.example>\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}"
    with smtplib.SMTP("127.0.0.1", P["h_smtp"], local_hostname="client.example", timeout=10) as s:
        s.sendmail("sender@client.example", [to], msg)
    return msg


def ok(typ_dat, what):
    typ, dat = typ_dat
    t.check(typ == "OK", what, dat)
    return dat


daemon = hap = None
try:
    cfg_path = tmp.file("originmaild.conf", config)
    set_password(cfg_path, "alice@example.test", "secret")
    set_password(cfg_path, "bob@example.test", "bob-secret")
    os.chmod(passwd, 0o644)
    daemon = Daemon(tmp, config)
    t.check(daemon.wait_ready(), "daemon starts with imap listeners", daemon.log()[-2000:])
    hap = HAProxy(tmp, haproxy_cfg)
    t.check(wait_port("127.0.0.1", P["ready"]), "haproxy starts")

    # --- SMTP delivers, IMAP reads it back: through HAProxy, STARTTLS, the body as sent
    body1 = "first line\r\nsecond line\r\n"
    deliver("via smtp", body1)
    M = imaplib.IMAP4("127.0.0.1", P["h_imap"], timeout=10)
    t.check("STARTTLS" in M.capabilities and "LOGINDISABLED" in M.capabilities,
            "imap before TLS: STARTTLS and LOGINDISABLED", M.capabilities)
    try:
        M.login("alice@example.test", "secret")
        t.check(False, "LOGIN before STARTTLS refused")
    except imaplib.IMAP4.error as e:
        t.check("PRIVACYREQUIRED" in str(e), "LOGIN before STARTTLS refused", e)
    M.starttls(ssl_context=ctx)
    t.check("AUTH=PLAIN" in M.capabilities and "STARTTLS" not in M.capabilities, "after STARTTLS: AUTH=PLAIN",
            M.capabilities)
    ok(M.login("alice@example.test", "secret"), "LOGIN over STARTTLS through haproxy")
    dat = ok(M.select("INBOX"), "SELECT INBOX")
    t.check(dat == [b"1"], "one message in INBOX", dat)
    dat = ok(M.fetch("1", "(BODY.PEEK[TEXT])"), "FETCH BODY.PEEK[TEXT]")
    t.check(dat[0][1] == body1.encode(), "the body read over IMAP is what SMTP was given", dat)
    M.logout()
    t.check(daemon.wait_log("Connection from 127.0.0.1 runs through 127.0.0.2 proxy"),
            "log: the client behind haproxy")

    # --- implicit TLS through haproxy (993-style)
    M = imaplib.IMAP4_SSL("127.0.0.1", P["h_imaps"], ssl_context=ctx, timeout=10)
    t.check("AUTH=PLAIN" in M.capabilities and "LOGINDISABLED" not in M.capabilities, "imaps: AUTH=PLAIN at once")
    ok(M.login("alice@example.test", "secret"), "LOGIN over implicit TLS through haproxy")
    M.logout()

    # --- a raw PROXY header from the trusted proxy naming 203.0.113.10
    M = ProxiedIMAP4(P["imaps"])
    ok(M.login("alice@example.test", "secret"), "LOGIN after a raw PROXY header")
    t.check(daemon.wait_log("Connection from 203.0.113.10 runs through 127.0.0.2 proxy"),
            "log: Connection from 203.0.113.10 runs through 127.0.0.2 proxy")
    t.check(daemon.wait_log("IMAP 203.0.113.10: login alice@example.test"), "log: the login names the client")

    # --- every command
    ok(M.capability(), "CAPABILITY")
    ok(M.noop(), "NOOP")
    dat = ok(M.namespace(), "NAMESPACE")
    t.check(dat == [b'(("" ".")) NIL NIL'], "NAMESPACE personal \"\" with \".\"", dat)
    typ, dat = M._simple_command("ID", "NIL")
    t.check(typ == "OK" and b"originmail" in M.untagged_responses.pop("ID", [b""])[0], "ID", dat)
    ok(M.enable("CONDSTORE"), "ENABLE")
    dat = ok(M.list(), "LIST")
    listing = b"\n".join(dat)
    for name, attr in (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"), ("Junk", "\\Junk")):
        t.check(f'{attr}) "." "{name}"'.encode() in listing, f"LIST: {name} exists with {attr}", listing)
    dat = ok(M.lsub(), "LSUB")
    t.check(any(b'"INBOX"' in d for d in dat) and any(b'"Sent"' in d for d in dat), "LSUB: defaults subscribed", dat)
    ok(M.create("Projects.2025"), "CREATE")
    t.check(M.create("Projects.2025")[0] == "NO", "CREATE of an existing mailbox: NO")
    ok(M.rename("Projects.2025", "Projects.Done"), "RENAME")
    ok(M.subscribe("Projects.Done"), "SUBSCRIBE")
    t.check(any(b"Projects.Done" in d for d in M.lsub()[1]), "LSUB shows the subscription")
    ok(M.unsubscribe("Projects.Done"), "UNSUBSCRIBE")
    ok(M.delete("Projects.Done"), "DELETE")
    t.check(not any(b"Projects.Done" in (d or b"") for d in M.list()[1]), "deleted mailbox no longer listed")
    for bad in ("../escape", "a/b", "x..y"):
        t.check(M.create(bad)[0] == "NO", f"CREATE {bad!r}: NO (no path escape)")
    t.check(not os.path.exists(os.path.join(mail, "example.test", "alice", "escape")), "nothing made outside")

    msg2 = b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: appended\r\n" \
           b"Date: Mon, 24 Nov 2025 13:20:00 +0100\r\nX-Color: green\r\n\r\nappended body\r\n"
    typ, dat = M.append("INBOX", r"(\Flagged)", imaplib.Time2Internaldate(1700000000), msg2)
    t.check(typ == "OK" and re.search(rb"\[APPENDUID \d+ 2\]", dat[0]), "APPEND with flags and date: APPENDUID",
            dat)
    dat = ok(M.status("INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)"), "STATUS")
    t.check(b"MESSAGES 2" in dat[0] and b"UIDNEXT 3" in dat[0] and b"UNSEEN 2" in dat[0], "STATUS counts", dat)
    dat = ok(M.select("INBOX", readonly=True), "EXAMINE")
    t.check(M.store("1", "+FLAGS", r"(\Seen)")[0] == "NO", "STORE in an EXAMINEd mailbox: NO")
    dat = ok(M.select("INBOX"), "SELECT")
    uidvalidity = M.untagged_responses.get("UIDVALIDITY", [b"?"])[0]

    dat = ok(M.fetch("2", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"), "FETCH UID FLAGS INTERNALDATE SIZE ENVELOPE")
    d = dat[0]
    t.check(b"UID 2" in d and b"\\Flagged" in d and b'INTERNALDATE "14-Nov-2023 22:13:20 +0000"' in d and
            b"RFC822.SIZE %d" % len(msg2) in d, "FETCH: UID, flags, date and size of the APPENDed message", d)
    t.check(b'ENVELOPE ("Mon, 24 Nov 2025 13:20:00 +0100" "appended" (("Bob" NIL "bob" "example.test"))' in d,
            "FETCH ENVELOPE", d)
    d = ok(M.fetch("2", "(BODYSTRUCTURE BODY)"), "FETCH BODYSTRUCTURE BODY")[0]
    t.check(b'BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 15 1 NIL NIL NIL NIL)' in d and
            b'BODY ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 15 1)' in d, "BODYSTRUCTURE and BODY", d)
    d = ok(M.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT X-COLOR)] BODY.PEEK[HEADER.FIELDS.NOT (FROM TO DATE "
                        "SUBJECT)] BODY.PEEK[1]<0.8> RFC822.HEADER)"), "FETCH header sections, partial")
    label = re.compile(rb"(BODY\[[^\]]*\](?:<\d+>)?|RFC822(?:\.\w+)?) \{\d+\}$")
    got = {label.search(p[0]).group(1): p[1] for p in d if isinstance(p, tuple)}
    t.check(got.get(b"BODY[HEADER.FIELDS (SUBJECT X-COLOR)]") == b"Subject: appended\r\nX-Color: green\r\n\r\n",
            "BODY[HEADER.FIELDS (...)]", got)
    t.check(got.get(b"BODY[HEADER.FIELDS.NOT (FROM TO DATE SUBJECT)]") == b"X-Color: green\r\n\r\n",
            "BODY[HEADER.FIELDS.NOT (...)]", got)
    t.check(got.get(b"BODY[1]<0>") == b"appended", "BODY[1]<0.8>", got)
    t.check(got.get(b"RFC822.HEADER") == msg2.split(b"\r\n\r\n")[0] + b"\r\n\r\n", "RFC822.HEADER", got)
    t.check(b"\\Seen" not in M.fetch("2", "FLAGS")[1][0], "PEEK and RFC822.HEADER leave \\Seen unset")
    d = ok(M.fetch("2", "(RFC822.TEXT)"), "FETCH RFC822.TEXT")
    t.check(d[0][1] == b"appended body\r\n" and b"\\Seen" in M.fetch("2", "FLAGS")[1][0], "RFC822.TEXT sets \\Seen", d)
    d = ok(M.fetch("2", "(RFC822)"), "FETCH RFC822")
    t.check(d[0][1] == msg2, "RFC822 is the whole message", d)
    d = ok(M.fetch("1", "(BODY[])"), "FETCH BODY[]")
    t.check(d[0][1].endswith(body1.encode()) and b"\\Seen" in d[0][0], "BODY[] returns it and sets \\Seen", d)

    ok(M.store("1", "-FLAGS", r"(\Seen)"), "STORE -FLAGS")
    dat = ok(M.store("1:2", "+FLAGS.SILENT", r"(\Answered)"), "STORE +FLAGS.SILENT")
    t.check(dat == [None], "STORE .SILENT: no untagged FETCH", dat)
    dat = ok(M.uid("STORE", "2", "FLAGS", r"(\Seen \Draft)"), "UID STORE")
    t.check(b"UID 2" in dat[0] and b"\\Draft" in dat[0], "UID STORE answers with UID and flags", dat)
    searches = [("ALL", b"1 2"), ("FROM bob", b"2"), ("SUBJECT smtp", b"1"), ("HEADER X-Color green", b"2"),
                ("BODY second", b"1"), ("TEXT appended", b"2"), ("ANSWERED UNSEEN", b"1"), ("DRAFT", b"2"),
                ("NOT DRAFT", b"1"), ("OR FROM bob SUBJECT smtp", b"1 2"), ("LARGER 140", b"1 2"),
                ("SMALLER 140", b""), ("SINCE 1-Jan-2024", b"1"), ("BEFORE 1-Jan-2024", b"2"),
                ("ON 14-Nov-2023", b"2"), ("SENTON 24-Nov-2025", b"2"), ("2", b"2"), ("UID 1", b"1"),
                ("(FROM sender UNDELETED)", b"1")]
    for q, want in searches:
        dat = ok(M.search(None, q), f"SEARCH {q}")
        t.check(dat == [want], f"SEARCH {q} -> {want.decode() or '(none)'}", dat)
    dat = ok(M.uid("SEARCH", "FROM", "bob"), "UID SEARCH")
    t.check(dat == [b"2"], "UID SEARCH FROM bob", dat)

    typ, dat = M.copy("1:2", "Trash")
    t.check(typ == "OK" and re.search(rb"\[COPYUID \d+ 1:2 1:2\]", dat[0]), "COPY: COPYUID", dat)
    typ, dat = M._simple_command("UID", "COPY", "2", "Junk")  # imaplib's uid() drops the tagged text
    t.check(typ == "OK" and b"COPYUID" in dat[0], "UID COPY", dat)
    typ, dat = M.uid("FETCH", "1:*", "(FLAGS)")
    t.check(typ == "OK" and len(dat) == 2 and b"UID 1" in dat[0], "UID FETCH 1:*", dat)
    typ, dat = M._simple_command("MOVE", "2", "Drafts")
    t.check(typ == "OK" and M.untagged_responses.pop("EXPUNGE", None) == [b"2"], "MOVE: the source expunged", dat)
    dat = ok(M.status("Drafts", "(MESSAGES)"), "STATUS Drafts")
    t.check(b"MESSAGES 1" in dat[0], "MOVE: the message is in Drafts", dat)
    ok(M.select("Trash"), "SELECT Trash")
    ok(M.store("1", "+FLAGS", r"(\Deleted)"), "STORE \\Deleted")
    dat = ok(M.expunge(), "EXPUNGE")
    t.check(dat == [b"1"], "EXPUNGE answers * 1 EXPUNGE", dat)
    ok(M.uid("STORE", "2", "+FLAGS", r"(\Deleted)"), "UID STORE \\Deleted")
    typ, dat = M.uid("EXPUNGE", "2")
    t.check(typ == "OK" and M.untagged_responses.pop("EXPUNGE", None) == [b"1"], "UID EXPUNGE", dat)
    ok(M.check(), "CHECK")
    ok(M.select("Junk"), "SELECT Junk")
    ok(M.store("1", "+FLAGS", r"(\Deleted)"), "STORE before CLOSE")
    ok(M.close(), "CLOSE (expunges silently)")
    t.check(b"MESSAGES 0" in M.status("Junk", "(MESSAGES)")[1][0], "CLOSE expunged the \\Deleted message")
    ok(M.select("INBOX"), "SELECT INBOX again")
    t.check(M.untagged_responses.get("UIDVALIDITY", [b"!"])[0] == uidvalidity, "UIDVALIDITY is stable")
    ok(M.unselect(), "UNSELECT")
    t.check(M.logout()[0] == "BYE", "LOGOUT")

    M = ProxiedIMAP4(P["imaps"])
    ok(M.authenticate("PLAIN", lambda _: b"\0alice@example.test\0secret"), "AUTHENTICATE PLAIN")
    M.logout()

    # --- two sessions on one mailbox agree
    A, B = ProxiedIMAP4(P["imaps"], "203.0.113.11"), ProxiedIMAP4(P["imaps"], "203.0.113.12")
    for c in (A, B):
        c.login("alice@example.test", "secret")
        c.select("INBOX")
    ok(A.store("1", "+FLAGS", r"(\Flagged)"), "A: STORE \\Flagged")
    B.noop()
    fetched = B.untagged_responses.pop("FETCH", [])
    t.check(any(b"\\Flagged" in f for f in fetched), "B sees A's flag change at NOOP", fetched)
    A.store("1", "+FLAGS", r"(\Deleted)")
    A.expunge()
    B.noop()
    t.check(B.untagged_responses.pop("EXPUNGE", None) == [b"1"], "B sees * 1 EXPUNGE at NOOP")
    B.untagged_responses.pop("EXISTS", None)  # what SELECT said
    deliver("for both", "x\r\n")
    B.noop()
    t.check(B.untagged_responses.pop("EXISTS", None) == [b"1"], "B sees the delivery as * 1 EXISTS")
    for c in (A, B):
        c.logout()

    # --- IDLE sees an SMTP delivery
    r = Raw()
    r.cmd("a", "LOGIN alice@example.test secret")
    r.cmd("b", "SELECT INBOX")
    r.send("c IDLE\r\n")
    t.check(r.line() == "+ idling\r\n", "IDLE: + idling")
    t0 = time.monotonic()
    deliver("while idling", "y\r\n")
    line = r.line(timeout=10)
    t.check(line == "* 2 EXISTS\r\n", "IDLE: the delivery arrives as * 2 EXISTS", line)
    t.check(time.monotonic() - t0 < 5, "IDLE: within seconds", time.monotonic() - t0)
    r.line()  # * n RECENT
    r.send("DONE\r\n")
    t.check(r.line() == "c OK Idle completed\r\n", "IDLE: DONE ends it")

    # --- bad input: answered, and the session goes on
    resp = r.cmd("d", "FROBNICATE")
    t.check(resp.startswith("d BAD"), "unknown command: BAD", resp)
    r.send(f"e APPEND INBOX {{{MAX_SIZE + 1}}}\r\n")
    resp = r.line()
    t.check(resp.startswith("e NO [TOOBIG]"), "oversized synchronizing literal: NO [TOOBIG], no +", resp)
    r.send(f"f APPEND INBOX {{{MAX_SIZE + 1}+}}\r\n".encode() + b"z" * (MAX_SIZE + 1) + b"\r\n")
    resp = r.line()
    t.check(resp.startswith("f NO [TOOBIG]"), "oversized LITERAL+: NO [TOOBIG], octets dropped", resp)
    resp = r.cmd("g", "LOGIN {}")
    t.check(resp.startswith("g BAD Invalid literal"), "a malformed literal: BAD", resp)
    r.send("h NOOP\n")
    resp = r.line()
    t.check(resp.startswith("h BAD") and "CRLF" in resp, "a line without CRLF: BAD", resp)
    resp = r.cmd("i", "SELECT ../../../etc")
    t.check(resp.startswith("i NO"), "mailbox name with ..: NO", resp)
    resp = r.cmd("j", "FETCH 99 FLAGS")
    t.check(resp.startswith("j BAD"), "FETCH of a message that does not exist: BAD", resp)
    resp = r.cmd("k", "NOOP")
    t.check(resp.endswith("k OK NOOP completed\r\n"), "after all that, the session goes on", resp)
    r.send("l LOGOUT\r\n")
    t.check(r.line() == "* BYE Logging out\r\n", "LOGOUT: * BYE first")
    r.close()

    # --- a login flood: three failures, then BYE; the next connection is served
    r = Raw("203.0.113.66")
    for i in range(3):
        resp = r.cmd(f"x{i}", "LOGIN alice@example.test wrong")
    t.check("* BYE Too many authentication failures" in resp, "three failed logins: BYE", resp)
    t.check(r.line() == "", "... and the connection is closed")
    r.close()
    r = Raw("203.0.113.66")
    t.check(r.cmd("y", "LOGIN alice@example.test secret").startswith("y OK"), "a new connection logs in")
    r.close()

    # --- LOGIN is checked on a worker thread (auth_workers): the commands pipelined behind it wait for
    #     its answer and are answered in order; clients that leave while their check runs harm nobody
    r = Raw("203.0.113.67")
    r.send("p1 LOGIN alice@example.test secret\r\np2 SELECT INBOX\r\np3 NOOP\r\n")
    lines = []
    while not lines or not lines[-1].startswith("p3 ") and lines[-1]:
        lines.append(r.line())
    tags = [l.split(" ", 1)[0] for l in lines if l[:1] == "p"]
    t.check(tags == ["p1", "p2", "p3"] and lines[0].startswith("p1 OK") and lines[-1].startswith("p3 OK"),
            "pipelined LOGIN, SELECT, NOOP: answered in order", lines)
    r.close()
    for i in range(20):
        s = connect_from("127.0.0.2", "127.0.0.1", P["imaps"])
        s.sendall(f"PROXY TCP4 203.0.113.68 198.51.100.1 {41000 + i} 993\r\n".encode())
        w = ctx.wrap_socket(s, server_hostname="mx1.example.test")
        w.recv(512)  # the greeting
        w.sendall(b"q LOGIN alice@example.test secret\r\n" if i % 2 else b"q LOGIN alice@example.test bad\r\n")
        w.close()
    r = Raw("203.0.113.69")
    t.check(r.cmd("z", "LOGIN alice@example.test secret").startswith("z OK"),
            "20 clients gone during their LOGIN's check: the next one is served")
    r.close()

    # --- refused peers get * BYE with the reason
    s = connect_from("127.0.0.1", "127.0.0.1", P["imap"])
    s.settimeout(5)
    resp = s.recv(512).decode()
    t.check(resp.startswith("* BYE mx1.example.test not a trusted proxy"), "direct peer: * BYE with the reason", resp)
    t.check(s.recv(100) == b"", "... and the connection is closed")
    s.close()
    s = connect_from("127.0.0.2", "127.0.0.1", P["imap"])
    s.settimeout(5)
    s.sendall(b"a1 LOGIN x y\r\n")
    resp = s.recv(512).decode()
    t.check(resp.startswith("* BYE mx1.example.test PROXY protocol header required"),
            "trusted proxy without a header: * BYE", resp)
    s.close()
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
