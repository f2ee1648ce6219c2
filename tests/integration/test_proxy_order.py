#!/usr/bin/env python3
"""proxy_order on implicit-TLS listeners (SMTP 465-style and IMAP 993-style), behind a real HAProxy.

before-tls (the default): the PROXY header precedes the TLS handshake. Two HAProxy setups do that: TCP
passthrough (`server ... send-proxy-v2`, the client's TLS goes through to the daemon), and HAProxy
terminating the client's TLS and opening its own to the daemon (`bind ... ssl` + `server ... ssl verify none
send-proxy-v2`): HAProxy 2.6 writes the header in clear before its ClientHello even then.
inside-tls: the header is the first bytes inside the TLS session. HAProxy makes that with two hops in one
configuration: the first sends the header (send-proxy-v2) to an internal frontend, whose server line wraps
what it forwards in TLS (`ssl`, no send-proxy). The EHLO reply, the Received line and the log name the
client in every case; a header sent before TLS to an inside-tls listener, and TLS sent where a before-tls
listener waits for the header, are refused with a log line that says so, and no session starts."""
import imaplib
import os
import smtplib
import socket
import ssl

from harness import (Checks, Daemon, HAProxy, TempDir, free_port, haproxy_tcp, maildir_files, make_ca_and_cert,
                     proxy_route, set_password, wait_port)

t = Checks("proxy_order")
tmp = TempDir("originmail-order-")
os.chmod(tmp.path, 0o755)
ca, cert, key = make_ca_and_cert(tmp)
pem = tmp.file("haproxy.pem", open(cert).read() + open(key).read())
P = {k: free_port() for k in ("smtp_b", "smtp_i", "imap_b", "imap_i", "h_sp", "h_sr", "h_si", "w_si", "h_ip", "h_ii",
                              "w_ii", "h_m1", "h_m2", "w_m2", "ready")}
mail = os.path.join(tmp.path, "mail")
passwd = tmp.file("passwd", "")
os.chmod(passwd, 0o644)


def listener(name, port, proto, order):
    return f"""
[listener {name}]
address = 127.0.0.1:{port}
protocol = {proto}
tls = implicit
proxy = required
proxy_trusted = 127.0.0.2
proxy_timeout = 3s
proxy_order = {order}
"""


config = f"""
hostname = mx1.example.test
domains = example.test
mail_root = {mail}
passwd_file = {passwd}
user = nobody
tls_cert = {cert}
tls_key = {key}
command_timeout = 5s
shutdown_grace = 2s
bpf = off
""" + listener("smtps-before", P["smtp_b"], "smtp", "before-tls") + \
    listener("smtps-inside", P["smtp_i"], "smtp", "inside-tls") + \
    listener("imaps-before", P["imap_b"], "imap", "before-tls") + \
    listener("imaps-inside", P["imap_i"], "imap", "inside-tls")


def chain(name, front_bind, wrap_port, target):
    """Header inside TLS: the client's TLS ends at the first frontend, hop 1 sends the header to an internal
    frontend, hop 2 wraps what it forwards (header, then the client's bytes) in TLS to the daemon."""
    return proxy_route(name, [f"127.0.0.1:{front_bind} ssl crt {pem}"], f"127.0.0.1:{wrap_port} send-proxy-v2") + \
        proxy_route(f"{name}_wrap", wrap_port, f"127.0.0.1:{target} ssl verify none source 127.0.0.2")


haproxy_cfg = haproxy_tcp(
    P['ready'],
    proxy_route("smtp_pass", P['h_sp'], f"127.0.0.1:{P['smtp_b']} send-proxy-v2 source 127.0.0.2"),
    proxy_route("smtp_reenc", [f"127.0.0.1:{P['h_sr']} ssl crt {pem}"],
                f"127.0.0.1:{P['smtp_b']} ssl verify none send-proxy-v2 source 127.0.0.2"),
    proxy_route("imap_pass", P['h_ip'], f"127.0.0.1:{P['imap_b']} send-proxy-v2 source 127.0.0.2"),
    proxy_route("mismatch1", [f"127.0.0.1:{P['h_m1']} ssl crt {pem}"],
                f"127.0.0.1:{P['smtp_i']} ssl verify none send-proxy-v2 source 127.0.0.2"),
    chain("smtp_in", P["h_si"], P["w_si"], P["smtp_i"]),
    chain("imap_in", P["h_ii"], P["w_ii"], P["imap_i"]),
    chain("mismatch2", P["h_m2"], P["w_m2"], P["smtp_b"]),
    timeout="10s")

verify = ssl.create_default_context(cafile=ca)  # the daemon's certificate, or HAProxy's (the same one)


def send_mail(src, port, subject):
    """smtplib over TLS from a chosen loopback source; returns the EHLO reply."""
    with smtplib.SMTP_SSL("127.0.0.1", port, local_hostname="client.example", timeout=10, context=verify,
                          source_address=(src, 0)) as s:
        _, ehlo = s.ehlo()
        s.sendmail("a@client.example", ["alice@example.test"],
                   f"From: a@client.example\r\nSubject: {subject}\r\n\r\nbody\r\n")
        return ehlo.decode()


def received_of(subject):
    for f in maildir_files(mail, "alice@example.test"):
        m = open(f).read().replace("\r\n", "\n")
        if f"Subject: {subject}" in m:
            return m
    return ""


daemon = hap = None
try:
    cfg_path = tmp.file("originmaild.conf", config)
    set_password(cfg_path, "alice@example.test", "alice-secret")
    os.chmod(passwd, 0o644)
    daemon = Daemon(tmp, config)
    t.check(daemon.wait_ready(), "daemon starts", daemon.log()[-2000:])
    hap = HAProxy(tmp, haproxy_cfg)
    t.check(wait_port("127.0.0.1", P["ready"]), "haproxy starts")

    # SMTP: each setup from its own client address, found again in EHLO, Received and the log.
    cases = [("127.0.0.11", P["h_sp"], "before-tls, passthrough", "smtps-before"),
             ("127.0.0.12", P["h_sr"], "before-tls, haproxy re-encrypts", "smtps-before"),
             ("127.0.0.13", P["h_si"], "inside-tls", "smtps-inside")]
    for src, port, what, name in cases:
        try:
            ehlo = send_mail(src, port, what)
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            ehlo = repr(e)
        t.check(f"Hello client.example [{src}]" in ehlo, f"SMTP {what}: EHLO names the client", ehlo)
        m = received_of(what)
        t.check(f"Received: from client.example ([{src}]:" in m and "via proxy [127.0.0.2]:" in m and
                "(using TLSv1." in m, f"SMTP {what}: Received names the client, the proxy and TLS", m[:500])
        t.check(daemon.wait_log(f"Connection from {src} runs through 127.0.0.2 proxy") and
                daemon.wait_log(f"{src} on {name}: queued as"), f"SMTP {what}: log names the client")

    # IMAP
    for src, port, what in (("127.0.0.14", P["h_ip"], "before-tls"), ("127.0.0.15", P["h_ii"], "inside-tls")):
        try:
            sock = socket.create_connection(("127.0.0.1", port), 10, (src, 0))

            class Pre(imaplib.IMAP4_SSL):
                def _create_socket(self, timeout):
                    return verify.wrap_socket(sock, server_hostname="127.0.0.1")

            im = Pre("127.0.0.1", port, ssl_context=verify, timeout=10)
            ok = im.welcome.startswith(b"* OK") and im.login("alice@example.test", "alice-secret")[0] == "OK"
            im.logout()
        except Exception as e:  # noqa: BLE001
            ok = repr(e)
        t.check(ok is True, f"IMAP {what}: greeting and LOGIN over TLS", ok)
        t.check(daemon.wait_log(f"Connection from {src} runs through 127.0.0.2 proxy"),
                f"IMAP {what}: log names the client")

    # Mismatches: refused with a clear line, no session.
    before = daemon.log().count("TLS established")
    try:
        send_mail("127.0.0.16", P["h_m1"], "mismatch1")
        got = "a session"
    except Exception as e:  # noqa: BLE001
        got = repr(e)
    t.check(got != "a session", "header before TLS to inside-tls: the client gets no session", got)
    t.check(daemon.wait_log("PROXY header sent before TLS, but proxy_order = inside-tls reads it inside TLS"),
            "log: the header came before TLS on an inside-tls listener", daemon.log()[-1000:])
    try:
        send_mail("127.0.0.17", P["h_m2"], "mismatch2")
        got = "a session"
    except Exception as e:  # noqa: BLE001
        got = repr(e)
    t.check(got != "a session", "header inside TLS to before-tls: the client gets no session", got)
    t.check(daemon.wait_log("PROXY header required before TLS, got a TLS handshake"),
            "log: TLS where the header was due on a before-tls listener", daemon.log()[-1000:])
    t.check(daemon.log().count("TLS established") == before and received_of("mismatch1") == "" and
            received_of("mismatch2") == "", "no TLS session and no mail from either mismatch")
    t.check(daemon.stop() == 0, "daemon stops cleanly")
except Exception as e:  # a broken setup is a failure, never a silent pass
    t.check(False, "test ran to the end", repr(e))
finally:
    if hap:
        hap.stop()
    if daemon:
        daemon.stop()
    tmp.cleanup()
t.finish()
