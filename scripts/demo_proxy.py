#!/usr/bin/env python3
"""The demo's steps, printed as they happen. Everything it starts is stopped by PID at the end."""
import os
import socket
import ssl
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import HAProxy, TempDir, build_path, free_port, make_cert, wait_port  # noqa: E402

tmp = TempDir("originmail-demo-")
captured = []
lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
lsock.listen(8)
backend_port = lsock.getsockname()[1]


def capture():
    while True:
        try:
            c, _ = lsock.accept()
        except OSError:
            return
        c.settimeout(3)
        data = b""
        try:
            while b"HELO" not in data:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        captured.append(data)
        c.close()


threading.Thread(target=capture, daemon=True).start()
_, _, pem = make_cert(tmp)
fronts = {"send-proxy (v1)": (free_port(), "", "send-proxy"),
          "send-proxy-v2 + unique-id + crc32c": (free_port(), "", "send-proxy-v2 proxy-v2-options unique-id,crc32c"),
          "TLS frontend, send-proxy-v2 + ssl": (free_port(), f"ssl crt {pem}",
                                                "send-proxy-v2 proxy-v2-options ssl,ssl-cipher,crc32c")}
ready = free_port()
cfg = """global
    log stdout format raw local0 warning
defaults
    mode tcp
    timeout connect 3s
    timeout client 5s
    timeout server 5s
frontend ready
    bind 127.0.0.1:%d
    tcp-request connection reject
""" % ready
for i, (name, (port, bindopt, srvopt)) in enumerate(fronts.items()):
    cfg += f"""frontend f{i}
    bind 127.0.0.1:{port} {bindopt}
    unique-id-format %ci:%cp_%fi:%fp_%Ts_%rt
    default_backend b{i}
backend b{i}
    server s 127.0.0.1:{backend_port} {srvopt}
"""
hap = None
rc = 0
try:
    print(f"1. starting haproxy ({subprocess.run(['haproxy', '-v'], capture_output=True, text=True).stdout.split(chr(10))[0]})")
    hap = HAProxy(tmp, cfg)
    if not wait_port("127.0.0.1", ready):
        raise RuntimeError("haproxy did not start")
    for name, (port, bindopt, _) in fronts.items():
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        me = s.getsockname()
        if bindopt:
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        n = len(captured)
        s.sendall(b"HELO client.example\r\n")
        for _ in range(100):
            if len(captured) > n:
                break
            threading.Event().wait(0.05)
        s.close()
        raw = captured[n] if len(captured) > n else b""
        print(f"\n2. client {me[0]}:{me[1]} -> haproxy :{port} [{name}] -> backend")
        print(f"   first bytes the backend got: {raw[:60]!r}{'...' if len(raw) > 60 else ''}")
        out = subprocess.run([build_path("originctl"), "proxy-decode"], input=raw, capture_output=True)
        print("   originctl proxy-decode: " + (out.stdout.decode().strip() or out.stderr.decode().strip()))
        rc |= out.returncode
    print("\n3. a header from nowhere is refused with a reason:")
    out = subprocess.run([build_path("originctl"), "proxy-decode"], input=b"PROXY TCP4 203.0.113.10 1.2.3.400 1 25\r\n",
                         capture_output=True)
    print(f"   exit {out.returncode}: {out.stderr.decode().strip()}")
finally:
    if hap:
        hap.stop()
    lsock.close()
    tmp.cleanup()
sys.exit(rc)
