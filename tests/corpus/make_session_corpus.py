#!/usr/bin/env python3
"""Write the seed corpora of the session and configuration fuzz targets: tests/corpus/smtp/
(tests/fuzz/fuzz_smtp.c), tests/corpus/imap/ (tests/fuzz/fuzz_imap.c), tests/corpus/pop3/
(tests/fuzz/fuzz_pop3.c) and tests/corpus/conf/ (tests/fuzz/fuzz_conf.c).

    python3 tests/corpus/make_session_corpus.py [CORPUS_DIR]    (default: tests/corpus next to this script)

Python 3 standard library only; deterministic. Each seed is a real client's side of a whole session, in the
target's input format: byte 0 selects the listener and how the session ends, byte 1 seeds the chunking,
then the bytes the client sends. The transcripts are what smtplib, swaks, Postfix, Thunderbird, mbsync and
imaplib send (commands, pipelining, literals), plus the protocol errors real peers make. The configuration
seeds are the example configuration, the topology's instance configuration, and a small file for each error
docs/configuration.md lists. Files named
crash-* in those directories are inputs that once failed and are kept as regression tests: this script
never writes or removes them.
"""
import base64
import os
import sys

# ---- SMTP: byte 0 = listener (0 smtp+STARTTLS, 1 submission+STARTTLS, 2 submission plaintext AUTH,
# 3 submission implicit TLS; 16 LMTP instead) | end (0 input ends, 4 timeout, 8 shutdown); byte 1 = chunking seed (low 2 bits:
# 0 all at once, 1 a line per read, 2-3 random pieces; STARTTLS seeds use 1, as real clients wait for 220).
SMTP, SUB_TLS, SUB_PLAIN, SUBMISSIONS, LMTP = 0, 1, 2, 3, 16
TIMEOUT, SHUTDOWN = 4, 8

MSG = (b"From: Bob <bob@example.org>\r\nTo: Alice <alice@example.test>\r\nSubject: lunch\r\n"
       b"Date: Tue, 24 Nov 2026 12:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n"
       b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
       b"Shall we meet at noon?\r\n..a line that starts with a dot\r\n.\r\n")
PLAIN_OK = base64.b64encode(b"\0alice@example.test\0secret")
PLAIN_BAD = base64.b64encode(b"\0alice@example.test\0wrong")


def smtp(*lines):
    return b"".join(l if l.endswith(b"\n") else l + b"\r\n" for l in lines)


SMTP_SEEDS = {
    # Postfix's LMTP client: LHLO, pipelined envelope with an unknown user, one reply per recipient.
    "lmtp-delivery": (LMTP, 0, smtp(b"LHLO mail.example.org", b"MAIL FROM:<bob@example.org> BODY=8BITMIME",
                                    b"RCPT TO:<alice@example.test>", b"RCPT TO:<nobody@example.test>",
                                    b"RCPT TO:<bob@example.org>", b"DATA") + MSG + smtp(b"QUIT")),
    "lmtp-errors": (LMTP, 1, smtp(b"EHLO c.example", b"HELO c.example", b"LHLO", b"MAIL FROM:<>", b"LHLO c.example",
                                  b"MAIL FROM:<>", b"RCPT TO:<x@elsewhere.example>", b"DATA", b"RSET",
                                  b"MAIL FROM:<>", b"RCPT TO:<alice@example.test>", b"DATA",
                                  b"bare\nLF", b".", b"QUIT")),
    # Postfix delivering to an MX: EHLO, pipelined envelope, DATA.
    "mx-delivery": (SMTP, 0, smtp(b"EHLO mail.example.org", b"MAIL FROM:<bob@example.org> SIZE=400 BODY=8BITMIME",
                                  b"RCPT TO:<alice@example.test>", b"DATA", MSG, b"QUIT")),
    "mx-pipelined-chunks": (SMTP, 1, smtp(b"EHLO mail.example.org",
                                          b"MAIL FROM:<bob@example.org>\r\nRCPT TO:<alice@example.test>\r\n"
                                          b"RCPT TO:<nobody@example.test>\r\nRCPT TO:<x@elsewhere.example>\r\nDATA",
                                          MSG, b"QUIT")),
    "mx-helo-rset-noop": (SMTP, 2, smtp(b"HELO mail.example.org", b"NOOP", b"RSET", b"VRFY alice", b"EXPN staff",
                                        b"HELP", b"MAIL FROM:<>", b"RCPT TO:<postmaster>", b"RSET", b"QUIT")),
    "mx-starttls": (SMTP, 1, smtp(b"EHLO mail.example.org", b"STARTTLS", b"EHLO mail.example.org",
                                  b"MAIL FROM:<bob@example.org>", b"RCPT TO:<alice@example.test>", b"DATA", MSG,
                                  b"QUIT")),
    "mx-errors": (SMTP, 0, smtp(b"MAIL FROM:<bob@example.org>", b"EHLO", b"EHLO bad_name!", b"FOO bar",
                                b"RCPT TO:<alice@example.test>", b"DATA", b"MAIL FROM:bob@example.org",
                                b"MAIL FROM:<bob@example.org> SIZE=99999999", b"MAIL FROM:<a@b> X=y",
                                b"BDAT 10 LAST", b"a bare LF\n", b"STARTTLS extra", b"QUIT")),
    "mx-long-line": (SMTP, 1, smtp(b"EHLO " + b"a" * 1100, b"NOOP " + b"x" * 2000, b"QUIT")),
    "mx-bad-data": (SMTP, 0, smtp(b"EHLO c.example", b"MAIL FROM:<bob@example.org>", b"RCPT TO:<alice@example.test>",
                                  b"DATA", b"Subject: x\r\n\r\nbare\rCR and bare\nLF\r\n.\r\n", b"QUIT")),
    "mx-too-big": (SMTP, 2, smtp(b"EHLO c.example", b"MAIL FROM:<bob@example.org>", b"RCPT TO:<alice@example.test>",
                                 b"DATA", b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 22 + b".\r\n",
                                 b"QUIT")),
    "mx-utf8": (SMTP, 0, smtp(b"EHLO c.example", "MAIL FROM:<jos\u00e9@example.org> SMTPUTF8".encode(),
                              "RCPT TO:<\u00e9l\u00e8ve@example.test>".encode(), b"RCPT TO:<alice@EXAMPLE.test>",
                              b'RCPT TO:<"quoted local"@example.test>', b"RCPT TO:<@relay.example:alice@example.test>",
                              b"DATA", MSG, b"QUIT")),
    "mx-rcpt-limit": (SMTP, 3, smtp(b"EHLO c.example", b"MAIL FROM:<bob@example.org>",
                                    *[b"RCPT TO:<alice@example.test>"] * 7, b"DATA", MSG)),
    "mx-timeout-in-data": (SMTP | TIMEOUT, 0, smtp(b"EHLO c.example", b"MAIL FROM:<bob@example.org>",
                                                   b"RCPT TO:<alice@example.test>", b"DATA", b"Subject: cut\r\n\r\nha")),
    "mx-shutdown-idle": (SMTP | SHUTDOWN, 1, smtp(b"EHLO c.example", b"NOOP")),
    # Thunderbird on 587: STARTTLS, then AUTH PLAIN with an initial response, then a relayed message.
    "sub-starttls-auth-plain": (SUB_TLS, 1, smtp(b"EHLO [192.168.1.20]", b"STARTTLS", b"EHLO [192.168.1.20]",
                                                 b"AUTH PLAIN " + PLAIN_OK, b"MAIL FROM:<alice@example.test>",
                                                 b"RCPT TO:<carol@example.net>", b"RCPT TO:<alice@example.test>",
                                                 b"DATA", MSG, b"QUIT")),
    "sub-auth-before-tls": (SUB_TLS, 2, smtp(b"EHLO c.example", b"AUTH PLAIN " + PLAIN_OK, b"AUTH LOGIN",
                                             b"MAIL FROM:<alice@example.test>", b"RCPT TO:<carol@example.net>",
                                             b"QUIT")),
    # swaks --auth LOGIN on a listener with allow_plaintext_auth = yes.
    "sub-auth-login": (SUB_PLAIN, 1, smtp(b"EHLO swaks.example", b"AUTH LOGIN",
                                          base64.b64encode(b"alice@example.test"), base64.b64encode(b"secret"),
                                          b"MAIL FROM:<alice@example.test>", b"RCPT TO:<carol@example.net>",
                                          b"DATA", MSG, b"QUIT")),
    "sub-auth-failures": (SUB_PLAIN, 2, smtp(b"EHLO c.example", b"AUTH PLAIN " + PLAIN_BAD, b"AUTH PLAIN",
                                             PLAIN_BAD, b"AUTH LOGIN", b"*", b"AUTH PLAIN =", b"AUTH CRAM-MD5",
                                             b"AUTH PLAIN !!!!", b"AUTH LOGIN " + base64.b64encode(b"bob@example.org"),
                                             base64.b64encode(b"hunter2"), b"AUTH PLAIN " + PLAIN_OK, b"QUIT")),
    "sub-unauthenticated-relay": (SUB_PLAIN, 0, smtp(b"EHLO c.example", b"MAIL FROM:<alice@example.test>",
                                                     b"RCPT TO:<carol@example.net>", b"QUIT")),
    # Implicit TLS (465): smtplib.SMTP_SSL with login().
    "smtps-auth": (SUBMISSIONS, 3, smtp(b"ehlo [127.0.0.1]", b"AUTH PLAIN " + PLAIN_OK,
                                        b"mail FROM:<alice@example.test> size=300",
                                        b"rcpt TO:<carol@example.net>", b"rcpt TO:<dave@example.net>", b"data", MSG,
                                        b"rset", b"quit")),
}

# ---- IMAP: byte 0 = listener (0 imap+STARTTLS, 1 plaintext LOGIN allowed, 2 implicit TLS) | end
# (0 input ends, 4 timeout, 8 shutdown) | 16 poll between chunks (IDLE); byte 1 = chunking seed.
IMAP, IMAP_PLAIN, IMAPS = 0, 1, 2
POLL = 16

APPEND_MSG = (b"From: Carol <carol@example.net>\r\nTo: alice@example.test\r\nSubject: appended\r\n"
              b"Date: Tue, 24 Nov 2026 13:00:00 +0100\r\nMessage-ID: <a1@example.net>\r\n\r\nHello.\r\n")


def imap(*lines):
    return b"".join(l if l.endswith(b"\n") else l + b"\r\n" for l in lines)


LOGIN = b"a1 LOGIN alice@example.test secret"
IMAP_SEEDS = {
    # imaplib: LOGIN, SELECT, FETCH, STORE, EXPUNGE, LOGOUT.
    "imaplib-basic": (IMAP_PLAIN, 0, imap(b"a0 CAPABILITY", LOGIN, b"a2 SELECT INBOX", b"a3 FETCH 1:* (FLAGS UID RFC822.SIZE)",
                                          b"a4 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY[TEXT])",
                                          b"a5 STORE 1 +FLAGS (\\Deleted)", b"a6 EXPUNGE", b"a7 LOGOUT")),
    "imaps-fetch-all": (IMAPS, 1, imap(LOGIN, b"a2 EXAMINE INBOX",
                                       b"a3 FETCH 1:* (ENVELOPE BODYSTRUCTURE INTERNALDATE FLAGS)",
                                       b"a4 UID FETCH 1:* (BODY[] BODY[1] BODY[2.MIME] BODY[]<0.10>)",
                                       b"a5 FETCH * BINARY.PEEK[1]", b"a6 LOGOUT")),
    # Thunderbird: ID, capability, LIST with RETURN, STATUS, IDLE.
    "thunderbird-idle": (IMAPS | POLL, 2, imap(b"1 ID (\"name\" \"Thunderbird\" \"version\" \"115\")",
                                               b"2 authenticate PLAIN",
                                               base64.b64encode(b"\0alice@example.test\0secret"),
                                               b"3 namespace", b"4 list (SUBSCRIBED) \"\" \"*\" RETURN (SPECIAL-USE)",
                                               b"5 lsub \"\" \"*\"", b"6 STATUS Archive (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)",
                                               b"7 select \"INBOX\"", b"8 UID fetch 1:* (FLAGS)", b"9 IDLE", b"DONE",
                                               b"10 logout")),
    # mbsync: LOGIN with quoted strings, APPEND with a synchronizing literal, UID SEARCH, UID STORE.
    "mbsync-append": (IMAP_PLAIN, 3, imap(b'a1 LOGIN "alice@example.test" "secret"', b"a2 SELECT INBOX",
                                          b"a3 APPEND INBOX (\\Seen) \"24-Nov-2026 13:00:00 +0100\" {%d}" % len(APPEND_MSG),
                                          APPEND_MSG + b"\r\n", b"a4 UID SEARCH ALL", b"a5 UID STORE 1:* +FLAGS.SILENT (\\Flagged)",
                                          b"a6 UID EXPUNGE 1", b"a7 CLOSE", b"a8 LOGOUT")),
    "literal-plus": (IMAP_PLAIN, 0, imap(b"a1 LOGIN {18+}", b"alice@example.test {6+}", b"secret",
                                         b"a2 APPEND Archive {%d+}" % len(APPEND_MSG), APPEND_MSG + b"\r\n",
                                         b"a3 SELECT Archive", b"a4 FETCH 1:* (UID FLAGS)", b"a5 LOGOUT")),
    "folders": (IMAP_PLAIN, 1, imap(LOGIN, b'a2 CREATE "Projects/2026"', b"a3 CREATE Trash", b"a4 SUBSCRIBE Projects",
                                    b'a5 LIST "" "*"', b'a6 LIST "" "%"', b"a7 RENAME Projects Work",
                                    b"a8 LSUB \"\" \"*\"", b"a9 UNSUBSCRIBE Projects", b"b1 DELETE Work/2026",
                                    b"b2 DELETE INBOX", b"b3 CREATE &AOk-l&AOg-ve", b"b4 LOGOUT")),
    "copy-move-search": (IMAP_PLAIN, 2, imap(LOGIN, b"a2 SELECT INBOX",
                                             b"a3 SEARCH OR FROM bob SUBJECT \"lunch\" NOT SEEN SINCE 1-Jan-2020",
                                             b"a4 SEARCH CHARSET UTF-8 BODY noon LARGER 10 UID 1:* HEADER Message-ID x",
                                             b"a5 COPY 1:2 Archive", b"a6 UID MOVE 2 Archive", b"a7 UID COPY 9 Archive",
                                             b"a8 STORE 1 FLAGS (\\Seen $Junk)", b"a9 UNSELECT", b"b1 SELECT Archive",
                                             b"b2 SEARCH ALL", b"b3 LOGOUT")),
    "starttls": (IMAP, 1, imap(b"a1 CAPABILITY", LOGIN, b"a2 STARTTLS", b"a3 CAPABILITY", LOGIN, b"a4 ENABLE UTF8=ACCEPT",
                               b"a5 SELECT INBOX", b"a6 LOGOUT")),
    "errors": (IMAP_PLAIN, 3, imap(b"", b"*", b"a1", b"a1 NOOP extra", b"a1 FETCH 1 FLAGS", b"a2 LOGIN alice",
                                   b"a3 LOGIN alice@example.test wrong", LOGIN, b"a4 SELECT Nope", b"a5 FETCH 1 FLAGS",
                                   b"a6 SELECT INBOX", b"a7 FETCH 0:* FLAGS", b"a8 FETCH 1 (BODY[HEADER.FIELDS ()])",
                                   b"a9 STORE 1:* FLAGS (\\Recent)", b"b1 APPEND INBOX {99999999}", b"b2 APPEND INBOX {3",
                                   b"b3 SEARCH BEFORE 99-Foo-2020", b"b4 UID FETCH 4294967296 FLAGS", b"b5 LOGOUT")),
    "timeout-in-literal": (IMAP_PLAIN | TIMEOUT, 0, imap(LOGIN, b"a2 APPEND INBOX {200}", b"From: cut")),
    "shutdown-selected": (IMAP_PLAIN | SHUTDOWN, 1, imap(LOGIN, b"a2 SELECT INBOX", b"a3 NOOP", b"a4 CHECK")),
    "idle-poll": (IMAP_PLAIN | POLL, 1, imap(LOGIN, b"a2 SELECT INBOX", b"a3 IDLE", b"DONE", b"a4 IDLE", b"garbage",
                                             b"a5 LOGOUT")),
}


# ---- POP3: byte 0 = listener (0 pop3+STLS, 1 plaintext passwords allowed, 2 implicit TLS) | end
# (0 input ends, 4 timeout, 8 shutdown); byte 1 = chunking seed.
POP3, POP3_PLAIN, POP3S = 0, 1, 2


def pop3(*lines):
    return b"".join(l if l.endswith(b"\n") else l + b"\r\n" for l in lines)


P_LOGIN = (b"USER alice@example.test", b"PASS secret")
POP3_SEEDS = {
    # poplib: USER/PASS, then every TRANSACTION command.
    "poplib-basic": (POP3_PLAIN, 0, pop3(*P_LOGIN, b"STAT", b"LIST", b"LIST 2", b"UIDL", b"UIDL 3", b"RETR 1",
                                         b"TOP 2 1", b"DELE 1", b"RSET", b"DELE 2", b"NOOP", b"QUIT")),
    # Thunderbird on 995: CAPA, USER/PASS, UIDL, RETR of each new message, DELE, QUIT (a line per read).
    "thunderbird-pop3s": (POP3S, 1, pop3(b"CAPA", *P_LOGIN, b"STAT", b"UIDL", b"LIST", b"RETR 1", b"RETR 2",
                                         b"RETR 3", b"DELE 1", b"QUIT")),
    # 110: a password before STLS is refused; after it, the session as usual.
    "stls": (POP3, 1, pop3(b"CAPA", b"USER alice@example.test", b"AUTH PLAIN " + PLAIN_OK, b"STLS", b"CAPA",
                           *P_LOGIN, b"UIDL", b"TOP 1 0", b"QUIT")),
    "auth-plain": (POP3_PLAIN, 2, pop3(b"AUTH", b"AUTH CRAM-MD5", b"AUTH PLAIN", b"*", b"AUTH PLAIN", b"!!bad",
                                       b"AUTH PLAIN " + PLAIN_BAD, b"AUTH PLAIN", PLAIN_OK, b"STAT", b"QUIT")),
    "auth-plain-ir": (POP3S, 3, pop3(b"AUTH PLAIN " + PLAIN_OK, b"LIST 1", b"RETR 2", b"TOP 2 99", b"QUIT")),
    # The errors real peers make: unknown commands, wrong states, bad numbers, bare LF, an overlong line.
    "errors": (POP3_PLAIN, 0, pop3(b"", b"XYZZY", b"STAT", b"NOOP", b"PASS x", b"USER", b"USER a b",
                                   b"USER alice@example.test", b"PASS wrong", *P_LOGIN, b"USER x", b"RETR 0",
                                   b"RETR 99", b"RETR x", b"RETR 1 2", b"TOP 1", b"TOP 1 x", b"TOP 1 -1",
                                   b"DELE 1", b"DELE 1", b"RETR 1", b"LIST 1", b"UIDL 1", b"STAT x",
                                   b"NOOP bare LF\n", b"LIST " + b"9" * 600, b"STLS", b"RSET", b"QUIT")),
    "too-many-errors": (POP3_PLAIN, 2, pop3(*[b"BOGUS"] * 21, b"NOOP")),
    "failed-logins": (POP3_PLAIN, 1, pop3(*[b"USER alice@example.test\r\nPASS wrong"] * 3, *P_LOGIN)),
    "timeout-in-transaction": (POP3_PLAIN | TIMEOUT, 0, pop3(*P_LOGIN, b"DELE 1") + b"NO"),
    "shutdown": (POP3S | SHUTDOWN, 1, pop3(*P_LOGIN, b"STAT", b"RETR 1")),
}


# ---- configuration files: a base that loads, and one change per error class of docs/configuration.md.
CONF_BASE = """# a submission and IMAP service behind HAProxy
hostname = mx1.example.test
domains = example.test, example.org
mail_root = /var/lib/originmail/mail
passwd_file = passwd
user = originmail
tls_cert = tls/cert.pem
tls_key = tls/key.pem
relay_host = [2001:db8::25]:25
relay_tls = opportunistic
relay_retry = 30s
relay_max_age = 2d
log = both
max_message_size = 10M
max_line = 2048
max_recipients = 50
max_connections = 20000
command_timeout = 2m
data_timeout = 45s
shutdown_grace = 0
bpf = auto
bpf_pin_dir = /sys/fs/bpf/originmail

[listener smtp]
address = 127.0.0.1:25, [::1]:25
protocol = smtp
tls = starttls
proxy = required
proxy_versions = v2
proxy_trusted = 127.0.0.0/8, ::1/128, ::ffff:10.0.0.0/104
direct_allowed = 192.0.2.77/24
proxy_timeout = 3s
proxy_max_header = 65551

[listener imaps]
address = 0.0.0.0:993
protocol = imap
tls = implicit
tls_cert = /etc/ssl/imap.pem
tls_key = /etc/ssl/imap.key
proxy = optional
proxy_trusted = 198.51.100.0/24
allow_plaintext_auth = yes
"""

CONF_CHANGES = {
    "ok-base": [],
    "ok-minimal": None,
    "bad-unknown-key": [("log = both", "foo = bar")],
    "bad-missing-equals": [("hostname = mx1.example.test", "hostname mx1")],
    "bad-duplicate-key": [("proxy_timeout = 3s", "proxy_timeout = 3s\nproxy_timeout = 4s")],
    "bad-global-in-listener": [("proxy_timeout = 3s", "hostname = late.example")],
    "bad-listener-key-global": [("log = both", "proxy = off")],
    "bad-control-char": [("log = both", "log = bo\x01th")],
    "bad-section": [("[listener imaps]", "[global]")],
    "bad-listener-name": [("[listener imaps]", "[listener a b]")],
    "bad-duplicate-listener": [("[listener imaps]", "[listener smtp]")],
    "bad-hostname": [("hostname = mx1.example.test", "hostname = mx_1.example")],
    "bad-domain-twice": [("domains = example.test, example.org", "domains = example.test, Example.Test")],
    "bad-user": [("user = originmail", "user = mail user")],
    "bad-relay-host": [("relay_host = [2001:db8::25]:25", "relay_host = relay.example")],
    "bad-duration": [("relay_max_age = 2d", "relay_max_age = 5 d")],
    "bad-queue-inside": [("log = both", "queue_dir = /var/lib/originmail/mail/q")],
    "bad-tls-half": [("tls_key = tls/key.pem", "")],
    "bad-size": [("max_message_size = 10M", "max_message_size = 25MB")],
    "bad-number": [("max_recipients = 50", "max_recipients = 1K")],
    "bad-max-line": [("max_line = 2048", "max_line = 100")],
    "bad-proxy-timeout": [("proxy_timeout = 3s", "proxy_timeout = 0")],
    "bad-proxy-versions": [("proxy_versions = v2", "proxy_versions = v3")],
    "bad-cidr": [("direct_allowed = 192.0.2.77/24", "direct_allowed = 10.0.0.0/33")],
    "bad-address": [("address = 0.0.0.0:993", "address = ::1:25")],
    "bad-address-twice": [("address = 0.0.0.0:993", "address = 127.0.0.1:25")],
    "bad-no-protocol": [("protocol = imap", "")],
    "bad-refuse-all": [("proxy = optional", "proxy = required"), ("proxy_trusted = 198.51.100.0/24", "")],
    "bad-bool": [("allow_plaintext_auth = yes", "allow_plaintext_auth = maybe")],
    "bad-no-listener": "globals only",
}

CONF_MINIMAL = """[listener smtp]
address = 127.0.0.1:2525
protocol = smtp
proxy = off
"""


def conf_seeds(root):
    seeds = {}
    for name, changes in CONF_CHANGES.items():
        if changes is None:
            text = CONF_MINIMAL
        elif changes == "globals only":
            text = CONF_BASE[:CONF_BASE.index("[listener")]
        else:
            text = CONF_BASE
            for old, new in changes:
                assert old in text, (name, old)
                text = text.replace(old, new, 1)
        seeds[name] = text.encode()
    with open(os.path.join(root, "examples", "originmail.conf"), "rb") as f:
        seeds["example"] = f.read()
    with open(os.path.join(root, "examples", "topology", "instance.conf.in"), "rb") as f:
        text = f.read()
    for k, v in ((b"@NAME@", b"mx1"), (b"@ADDR4@", b"198.51.100.11"), (b"@ADDR6@", b"2001:db8:2::11"),
                 (b"@DIR@", b"/run/originmail-topology")):
        text = text.replace(k, v)
    seeds["topology-instance"] = text
    return seeds


def write(outdir, name, seeds):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if not f.startswith("crash-"):
            os.remove(os.path.join(d, f))
    for seed_name, seed in sorted(seeds.items()):
        with open(os.path.join(d, seed_name), "wb") as f:
            f.write(seed if isinstance(seed, bytes) else bytes(seed[:2]) + seed[2])
    print(f"{d}: {len(seeds)} seeds")


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    write(outdir, "smtp", SMTP_SEEDS)
    write(outdir, "imap", IMAP_SEEDS)
    write(outdir, "pop3", POP3_SEEDS)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    write(outdir, "conf", conf_seeds(root))


if __name__ == "__main__":
    main()
