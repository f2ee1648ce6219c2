#!/usr/bin/env python3
"""What a real HAProxy sends, decoded by `originctl proxy-decode`.

HAProxy forwards a client's connection to a capture listener of ours with send-proxy (v1),
send-proxy-v2 with the unique-id and CRC32C options, and over a TLS frontend (the SSL TLV). The
decoded source must be the client's own address and port, the TLVs what HAProxy was told to send."""
import json
import socket
import ssl
import subprocess
import threading

from harness import Checks, HAProxy, TempDir, build_path, free_port, make_cert, wait_port

t = Checks("proxy_haproxy")
tmp = TempDir()
ctl = build_path("originctl")


class Capture:
    """A listener that keeps the first bytes of each connection (the header and what follows)."""

    def __init__(self, family, host):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.got = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.settimeout(3)
            data = b""
            try:
                while len(data) < 600:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                    if b"HELLO\r\n" in data:
                        break
            except OSError:
                pass
            self.got.append(data)
            c.close()


def decode(raw, *args):
    p = subprocess.run([ctl, "proxy-decode", *args], input=raw, capture_output=True)
    return p.returncode, (json.loads(p.stdout) if p.returncode == 0 else None), p.stderr.decode()


cap4 = Capture(socket.AF_INET, "127.0.0.1")
cap6 = Capture(socket.AF_INET6, "::1")
cert, key, pem = make_cert(tmp)
ports = {k: free_port() for k in ("v1", "v2", "tls")}
ready = free_port()
port6 = free_port(socket.AF_INET6, "::1")
cfg = f"""
global
    log stdout format raw local0 warning
defaults
    mode tcp
    timeout connect 3s
    timeout client 5s
    timeout server 5s
frontend f_ready
    bind 127.0.0.1:{ready}
    tcp-request connection reject
frontend f_v1
    bind 127.0.0.1:{ports['v1']}
    default_backend b_v1
frontend f_v2
    bind 127.0.0.1:{ports['v2']}
    unique-id-format %ci:%cp_%fi:%fp_%Ts_%rt
    default_backend b_v2
frontend f_tls
    bind 127.0.0.1:{ports['tls']} ssl crt {pem}
    default_backend b_tls
frontend f_v6
    bind [::1]:{port6}
    default_backend b_v6
backend b_v1
    server s1 127.0.0.1:{cap4.port} send-proxy
backend b_v2
    server s1 127.0.0.1:{cap4.port} send-proxy-v2 proxy-v2-options unique-id,crc32c
backend b_tls
    server s1 127.0.0.1:{cap4.port} send-proxy-v2 proxy-v2-options ssl,ssl-cipher,cert-sig,cert-key,crc32c
backend b_v6
    server s1 [::1]:{cap6.port} send-proxy-v2
"""
hap = None
try:
    hap = HAProxy(tmp, cfg)
    # Readiness through a frontend of its own, so no probe reaches the capture listeners.
    t.check(wait_port("127.0.0.1", ready), "haproxy listens")

    def through(port, family=socket.AF_INET, host="127.0.0.1", wrap=None, cap=cap4):
        before = len(cap.got)
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect((host, port))
        local = s.getsockname()
        if wrap:
            s = wrap(s)
        s.sendall(b"HELLO\r\n")
        for _ in range(100):
            if len(cap.got) > before:
                break
            threading.Event().wait(0.05)
        s.close()
        return local, (cap.got[before] if len(cap.got) > before else b"")

    # v1
    local, raw = through(ports["v1"])
    rc, h, err = decode(raw)
    t.check(rc == 0, "v1 header decodes", err)
    if h:
        t.check(h["version"] == 1 and h["family"] == "INET", "v1 TCP4", str(h))
        t.check(h["src"] == {"address": local[0], "port": local[1]}, "v1 source is the client", str(h))
        t.check(h["dst"]["port"] == ports["v1"], "v1 destination is haproxy's frontend", str(h))
        t.check(raw[h["header_len"]:] == b"HELLO\r\n", "payload after the v1 header intact")
    rc, h, err = decode(raw, "--v2-only")
    t.check(rc == 1 and "not accepted" in err, "a v2-only decoder refuses v1", err)

    # v2 with unique-id and crc32c
    local, raw = through(ports["v2"])
    rc, h, err = decode(raw)
    t.check(rc == 0, "v2 header decodes", err)
    if h:
        t.check(h["version"] == 2 and h["command"] == "PROXY", "v2 PROXY", str(h))
        t.check(h["src"] == {"address": local[0], "port": local[1]}, "v2 source is the client", str(h))
        t.check(h["tlvs"]["crc32c"] == "verified", "haproxy's CRC32C verifies", str(h))
        uid = h["tlvs"].get("unique_id", "")
        t.check(f"{local[0]}:{local[1]}" in uid, "unique-id TLV carries haproxy's id", uid)
        t.check(raw[h["header_len"]:] == b"HELLO\r\n", "payload after the v2 header intact")
    # One flipped byte in the address block must break the CRC.
    if h:
        bad = bytearray(raw)
        bad[17] ^= 1
        rc, _, err = decode(bytes(bad))
        t.check(rc == 1 and "CRC32C" in err, "a corrupted header fails its CRC32C", err)
        rc, _, err = decode(raw[:h["header_len"] - 1])
        t.check(rc == 2 and "truncated" in err, "a header cut short is reported truncated", err)

    # TLS frontend: the SSL TLV
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    local, raw = through(ports["tls"], wrap=lambda s: ctx.wrap_socket(s))
    rc, h, err = decode(raw)
    t.check(rc == 0, "v2 header from a TLS frontend decodes", err)
    if h:
        s = h["tlvs"].get("ssl", {})
        t.check(s.get("client_ssl") is True, "SSL TLV: client used TLS", str(s))
        t.check(s.get("version", "").startswith("TLSv1."), "SSL TLV: version", str(s))
        t.check(bool(s.get("cipher")), "SSL TLV: cipher", str(s))
        t.check(s.get("client_cert_conn") is False, "SSL TLV: no client certificate", str(s))
        t.check(h["src"]["address"] == local[0], "TLS: source is the client", str(h))

    # IPv6
    local, raw = through(port6, socket.AF_INET6, "::1", cap=cap6)
    rc, h, err = decode(raw)
    t.check(rc == 0 and h and h["family"] == "INET6", "v2 over IPv6 decodes as INET6", err + str(h))
    if h:
        t.check(h["src"] == {"address": "::1", "port": local[1]}, "v6 source is the client", str(h))
except Exception as e:  # a broken setup is a failure, never a silent pass
    t.check(False, "test ran to the end", repr(e))
finally:
    if hap:
        hap.stop()
    tmp.cleanup()
t.finish()
