#!/usr/bin/env python3
"""TLS and password policy against a real originmaild with real OpenSSL clients (python's ssl):

- a TLS 1.1 (or 1.0) client is refused: the daemon answers the handshake with a protocol_version alert;
- TLS 1.2 without ECDHE (RSA or DHE key exchange) is refused; TLS 1.2 with ECDHE and TLS 1.3 are served;
- no password in clear text: SMTP AUTH before STARTTLS gets 538 5.7.11, IMAP LOGIN and AUTHENTICATE get
  NO [PRIVACYREQUIRED], and both work once TLS is up; a listener with allow_plaintext_auth = yes takes
  them in clear text.
The refused clients are set up to offer what they offer (SECLEVEL=0), so the refusal is the daemon's."""
import base64
import imaplib
import os
import smtplib
import socket
import ssl
import warnings

from harness import Checks, Daemon, TempDir, free_port, make_ca_and_cert, set_password

warnings.filterwarnings("ignore", category=DeprecationWarning)  # ssl.TLSVersion.TLSv1_1: on purpose
t = Checks("tls_policy")
tmp = TempDir()
os.chmod(tmp.path, 0o755)  # the daemon runs as nobody after binding
ca, cert, key = make_ca_and_cert(tmp)
P = {k: free_port() for k in ("smtps", "sub", "sub_plain", "imap", "imap_plain")}
USER, PASS = "alice@example.test", "secret"

config = f"""
hostname = mx1.example.test
domains = example.test
mail_root = {tmp.path}/mail
passwd_file = {tmp.path}/passwd
user = nobody
tls_cert = {cert}
tls_key = {key}

[listener smtps]
address = 127.0.0.1:{P['smtps']}
protocol = submission
tls = implicit
proxy = off

[listener sub]
address = 127.0.0.1:{P['sub']}
protocol = submission
tls = starttls
proxy = off

[listener sub-plain]
address = 127.0.0.1:{P['sub_plain']}
protocol = submission
proxy = off
allow_plaintext_auth = yes

[listener imap]
address = 127.0.0.1:{P['imap']}
protocol = imap
tls = starttls
proxy = off

[listener imap-plain]
address = 127.0.0.1:{P['imap_plain']}
protocol = imap
proxy = off
allow_plaintext_auth = yes
"""


def client_ctx(max_version=None, ciphers=None, tls13=True):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(ca)
    c.set_ciphers((ciphers or "DEFAULT") + ":@SECLEVEL=0")  # the client offers what the test says
    c.minimum_version = ssl.TLSVersion.TLSv1
    if max_version:
        c.maximum_version = max_version
    elif not tls13:
        c.maximum_version = ssl.TLSVersion.TLSv1_2
    return c


def handshake(c):
    """Implicit TLS to smtps: (negotiated version, cipher) or the error."""
    s = socket.create_connection(("127.0.0.1", P["smtps"]), timeout=10)
    try:
        with c.wrap_socket(s, server_hostname="mx1.example.test") as tls:
            return tls.version(), tls.cipher()[0]
    except (ssl.SSLError, OSError) as e:
        return None, str(e)


def smtp_cmd(s, f, line):
    s.sendall(line.encode() + b"\r\n")
    out = []
    while True:
        r = f.readline().decode()
        out.append(r)
        if len(r) < 4 or r[3] != "-":
            return "".join(out)


daemon = None
try:
    cfg = tmp.file("originmaild.conf", config)
    set_password(cfg, USER, PASS)
    os.chmod(os.path.join(tmp.path, "passwd"), 0o644)
    daemon = Daemon(tmp, config)
    t.check(daemon.wait_ready(), "daemon starts", daemon.log()[-1500:])

    # ---- protocol versions
    for name, ver in (("TLS 1.1", ssl.TLSVersion.TLSv1_1), ("TLS 1.0", ssl.TLSVersion.TLSv1)):
        got, why = handshake(client_ctx(max_version=ver))
        t.check(got is None and "PROTOCOL_VERSION" in why.upper(),
                f"{name} client refused by the daemon (protocol_version alert)", (got, why))
    t.check(daemon.wait_log("TLS handshake failed") and "unsupported protocol" in daemon.log(),
            "log: the refused handshake and why", daemon.log()[-600:])
    got, why = handshake(client_ctx(tls13=False, ciphers="ECDHE-RSA-AES128-GCM-SHA256"))
    t.check(got == "TLSv1.2" and why == "ECDHE-RSA-AES128-GCM-SHA256", "TLS 1.2 with ECDHE is served",
            (got, why))
    got, why = handshake(client_ctx())
    t.check(got == "TLSv1.3", "TLS 1.3 is served", (got, why))

    # ---- ciphers without ECDHE (no forward secrecy, or finite-field DH)
    for cipher in ("AES256-GCM-SHA384", "AES128-SHA256", "DHE-RSA-AES256-GCM-SHA384"):
        got, why = handshake(client_ctx(tls13=False, ciphers=cipher))
        t.check(got is None and "HANDSHAKE_FAILURE" in why.upper(), f"TLS 1.2 with {cipher} only: refused",
                (got, why))

    # ---- SMTP AUTH: not in clear text, unless allowed
    plain = base64.b64encode(f"\0{USER}\0{PASS}".encode()).decode()
    s = socket.create_connection(("127.0.0.1", P["sub"]), timeout=10)
    f = s.makefile("rb")
    f.readline()
    ehlo = smtp_cmd(s, f, "EHLO client.example")
    t.check("AUTH" not in ehlo, "submission before STARTTLS: AUTH not offered", ehlo)
    r = smtp_cmd(s, f, f"AUTH PLAIN {plain}")
    t.check(r.startswith("538 5.7.11"), "AUTH PLAIN in clear text: 538 5.7.11", r)
    r = smtp_cmd(s, f, "AUTH LOGIN")
    t.check(r.startswith("538 5.7.11"), "AUTH LOGIN in clear text: 538 5.7.11", r)
    s.close()
    with smtplib.SMTP("127.0.0.1", P["sub"], local_hostname="client.example", timeout=10) as sm:
        sm.starttls(context=client_ctx())
        code, _ = sm.login(USER, PASS)
        t.check(code == 235, "AUTH after STARTTLS: 235", code)
    with smtplib.SMTP("127.0.0.1", P["sub_plain"], local_hostname="client.example", timeout=10) as sm:
        sm.ehlo()
        t.check(sm.has_extn("auth"), "allow_plaintext_auth = yes: AUTH offered in clear text")
        code, _ = sm.login(USER, PASS)
        t.check(code == 235, "allow_plaintext_auth = yes: AUTH in clear text accepted", code)

    # ---- IMAP LOGIN / AUTHENTICATE: not in clear text, unless allowed
    M = imaplib.IMAP4("127.0.0.1", P["imap"], timeout=10)
    t.check("LOGINDISABLED" in M.capabilities and "AUTH=PLAIN" not in M.capabilities,
            "IMAP before STARTTLS: LOGINDISABLED", M.capabilities)
    tag = M._new_tag().decode()
    M.send(f"{tag} LOGIN {USER} {PASS}\r\n".encode())
    r = M.readline().decode()
    t.check(r.startswith(f"{tag} NO [PRIVACYREQUIRED]"), "LOGIN in clear text: NO [PRIVACYREQUIRED]", r)
    tag = M._new_tag().decode()
    M.send(f"{tag} AUTHENTICATE PLAIN {plain}\r\n".encode())
    r = M.readline().decode()
    t.check(r.startswith(f"{tag} NO [PRIVACYREQUIRED]"), "AUTHENTICATE PLAIN in clear text: NO [PRIVACYREQUIRED]",
            r)
    M.starttls(ssl_context=client_ctx())
    typ, _ = M.login(USER, PASS)
    t.check(typ == "OK", "LOGIN after STARTTLS: OK")
    M.logout()
    M = imaplib.IMAP4("127.0.0.1", P["imap_plain"], timeout=10)
    t.check("AUTH=PLAIN" in M.capabilities and "LOGINDISABLED" not in M.capabilities,
            "allow_plaintext_auth = yes: IMAP offers AUTH=PLAIN in clear text", M.capabilities)
    typ, _ = M.login(USER, PASS)
    t.check(typ == "OK", "allow_plaintext_auth = yes: LOGIN in clear text accepted")
    M.logout()
finally:
    if daemon:
        daemon.stop()
    tmp.cleanup()
t.finish()
