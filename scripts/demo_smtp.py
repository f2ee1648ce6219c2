#!/usr/bin/env python3
"""The seed's flow on loopback: a client's HELO through HAProxy is answered with the client's own address,
SMTP over implicit TLS (465-style) through the same proxy, and the daemon's log lines naming origin and proxy.

HAProxy connects to originmaild from 127.0.0.2, the only trusted proxy; the client is 127.0.0.1. Everything
started here is stopped by PID at the end, and the temporary directory removed."""
import os
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import (Daemon, HAProxy, TempDir, connect_from, free_port, maildir_files,  # noqa: E402
                     make_ca_and_cert, set_password, smtp_lines, wait_port)

tmp = TempDir("originmail-demo-")
os.chmod(tmp.path, 0o755)
ca, cert, key = make_ca_and_cert(tmp)
P = {k: free_port() for k in ("smtp", "smtps", "h_smtp", "h_smtps", "ready")}
mail = os.path.join(tmp.path, "mail")
passwd = tmp.file("passwd", "")
config = f"""hostname = mx1.example.test
domains = example.test
mail_root = {mail}
passwd_file = {passwd}
user = nobody
tls_cert = {cert}
tls_key = {key}

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
proxy = required
proxy_trusted = 127.0.0.2
"""
hap_cfg = f"""global
    log stdout format raw local0 warning
defaults
    mode tcp
    timeout connect 3s
    timeout client 10s
    timeout server 10s
frontend ready
    bind 127.0.0.1:{P['ready']}
    tcp-request connection reject
frontend smtp
    bind 127.0.0.1:{P['h_smtp']}
    default_backend originmail_smtp
frontend smtps
    bind 127.0.0.1:{P['h_smtps']}
    unique-id-format %ci:%cp-%Ts
    default_backend originmail_smtps
backend originmail_smtp
    server mx1 127.0.0.1:{P['smtp']} send-proxy source 127.0.0.2
backend originmail_smtps
    server mx1 127.0.0.1:{P['smtps']} send-proxy-v2 proxy-v2-options unique-id source 127.0.0.2
"""
daemon = hap = None
rc = 1
try:
    cfg_path = tmp.file("originmaild.conf", config)
    set_password(cfg_path, "alice@example.test", "demo-password")
    os.chmod(passwd, 0o644)
    print("1. starting originmaild (listeners on 127.0.0.1, proxy = required, trusted proxy 127.0.0.2)")
    daemon = Daemon(tmp, config)
    if not daemon.wait_ready():
        raise RuntimeError("originmaild did not start:\n" + daemon.log())
    print("   ready (readiness from its own log line, not a sleep)")
    print("2. starting haproxy in front of it (send-proxy to :25-style, send-proxy-v2 to :465-style)")
    hap = HAProxy(tmp, hap_cfg)
    if not wait_port("127.0.0.1", P["ready"]):
        raise RuntimeError("haproxy did not start")

    print(f"\n3. client 127.0.0.1 -> haproxy :{P['h_smtp']} -> originmaild: HELO")
    s = connect_from("127.0.0.1", "127.0.0.1", P["h_smtp"])
    print("   S: " + smtp_lines(s).strip())
    s.sendall(b"HELO client.example\r\n")
    print("   C: HELO client.example")
    reply = smtp_lines(s).strip()
    print("   S: " + reply)
    s.sendall(b"QUIT\r\n")
    smtp_lines(s)
    s.close()
    ok = "[127.0.0.1]" in reply

    print("\n4. a client connecting directly (not through the proxy) is refused with a reason:")
    s = connect_from("127.0.0.1", "127.0.0.1", P["smtp"])
    print("   S: " + smtp_lines(s).strip())
    s.close()

    print(f"\n5. SMTP over implicit TLS through haproxy :{P['h_smtps']} (openssl s_client, certificate verified)")
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{P['h_smtps']}", "-CAfile", ca,
                          "-verify_return_error", "-quiet", "-crlf"], input="EHLO tls.example\nQUIT\n",
                         capture_output=True, text=True, timeout=20)
    for line in out.stdout.splitlines():
        print("   S: " + line)
    ok = ok and "Hello tls.example [127.0.0.1]" in out.stdout

    print("\n6. a message submitted over that TLS port, delivered to alice's Maildir")
    with smtplib.SMTP_SSL("127.0.0.1", P["h_smtps"], timeout=10,
                          context=__import__("ssl").create_default_context(cafile=ca)) as c:
        c.login("alice@example.test", "demo-password")
        c.sendmail("alice@example.test", ["alice@example.test"], "Subject: hello from the demo\r\n\r\nhi\r\n")
    files = maildir_files(mail, "alice@example.test")
    if files:
        head = open(files[0]).read().split("\n\n")[0]
        print("   " + files[0].replace(tmp.path, "$TMP"))
        for line in head.splitlines():
            print("   | " + line)
    ok = ok and len(files) == 1

    print("\n7. originmaild's log lines for these connections:")
    for line in daemon.log().splitlines():
        if "runs through" in line or "Refused" in line or "TLS established" in line:
            print("   " + line)
    rc = 0 if ok else 1
    print("\ndemo: " + ("the server saw the client's own address through the proxy" if ok else "FAILED"))
finally:
    if hap:
        hap.stop()
    if daemon:
        daemon.stop()
    tmp.cleanup()
sys.exit(rc)
