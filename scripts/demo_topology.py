#!/usr/bin/env python3
"""`make demo`: the seed's flow on real hosts (network namespaces), without Docker.

client 203.0.113.10 --> HAProxy 203.0.113.1 (and nginx 203.0.113.2) --> originmaild mx1 198.51.100.11
                                                                    --> originmaild mx2 198.51.100.12
outsider 203.0.113.66 and admin 198.51.100.50 try the instances directly. Everything is torn down at the end."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
TOPO = os.environ.get("TOPO_DIR", "/tmp/originmail-demo")
env = dict(os.environ, TOPO_DIR=TOPO)
CLIENT = os.path.join(ROOT, "tests", "integration", "ns_client.py")
topo = os.path.join(ROOT, "scripts", "topology.sh")


def client(ns, *args):
    p = subprocess.run(["ip", "netns", "exec", ns, "python3", CLIENT, *[str(a) for a in args]],
                       capture_output=True, text=True, timeout=60)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {"error": p.stdout + p.stderr}


def show(label, text):
    for i, line in enumerate(text.strip().splitlines()):
        print(f"   {label if i == 0 else ' ' * len(label)} {line}")


def log_lines(pattern):
    out = []
    for i in (1, 2):
        try:
            out += [line for line in open(f"{TOPO}/log/mx{i}.log") if pattern in line]
        except OSError:
            pass
    return sorted(out)


ok = True
try:
    print("1. starting the hosts (namespaces), two originmaild instances, HAProxy and nginx")
    subprocess.run([topo, "down"], env=env, capture_output=True)
    p = subprocess.run([topo, "up", BUILD], env=env, capture_output=True, text=True)
    print("   " + p.stdout.strip().replace("\n", "\n   "))
    if p.returncode != 0:
        print(p.stderr)
        sys.exit(1)
    print("   (each instance was ready when its log said so; HAProxy when its port answered)")

    print("\n2. from client 203.0.113.10: HELO through HAProxy (PROXY v2)")
    r = client("om-client", "helo", "203.0.113.1", 25)
    show("S:", r.get("greeting", r.get("error", "")))
    print("   C: HELO client.example")
    show("S:", r.get("reply", ""))
    ok &= "[203.0.113.10]" in r.get("reply", "")
    print("   the same over IPv6, and through nginx (PROXY v1):")
    for addr in ("2001:db8:1::1", "203.0.113.2"):
        r = client("om-client", "helo", addr, 25)
        show(f"{addr:>14} ->", r.get("reply", r.get("error", "")))
        ok &= "Hello client.example [" in r.get("reply", "")

    print("\n3. SMTP over implicit TLS (465) through HAProxy, with openssl s_client:")
    s = subprocess.run(["ip", "netns", "exec", "om-client", "openssl", "s_client", "-connect", "203.0.113.1:465",
                        "-CAfile", f"{TOPO}/ca.pem", "-quiet", "-crlf"], input="EHLO tls.example\nQUIT\n",
                       capture_output=True, text=True, timeout=30)
    for line in s.stdout.splitlines()[:2]:
        show("S:", line)
    ok &= "[203.0.113.10]" in s.stdout
    print("\n   IMAP through HAProxy, on 143 and over implicit TLS on 993 (openssl s_client):")
    r = client("om-client", "imap", "203.0.113.1", 143)
    show("143 S:", r.get("greeting", r.get("error", "")))
    s = subprocess.run(["ip", "netns", "exec", "om-client", "openssl", "s_client", "-connect", "203.0.113.1:993",
                        "-CAfile", f"{TOPO}/ca.pem", "-quiet", "-crlf"], input="a1 LOGOUT\n",
                       capture_output=True, text=True, timeout=30)
    for line in s.stdout.splitlines()[:1]:
        show("993 S:", line)
    ok &= s.stdout.startswith("* OK")
    print("   what the instances logged:")
    for line in log_lines("runs through")[-5:]:
        print("   " + line.rstrip())

    print("\n4. load balancing: 8 connections through HAProxy (round robin)")
    served = []
    for _ in range(8):
        r = client("om-client", "helo", "203.0.113.1", 25)
        served.append(next((f"mx{i}" for i in (1, 2) if f"mx{i}.example" in r.get("reply", "")), "?"))
    print("   served by: " + " ".join(served))
    ok &= {"mx1", "mx2"} <= set(served)

    print("\n5. the proxy-only policy, enforced by each instance")
    r = client("om-outsider", "helo", "198.51.100.11", 25)
    show("outsider -> mx1:", r.get("greeting", r.get("error", "")))
    hdr = "PROXY TCP4 192.0.2.1 198.51.100.11 1234 25\r\n".encode().hex()
    r = client("om-outsider", "raw", "198.51.100.11", 25, hdr)
    show("outsider forging a header -> mx1:", r.get("reply", r.get("error", "")))
    r = client("om-admin", "helo", "198.51.100.11", 25, "admin.example")
    show("admin -> mx1:", r.get("reply", r.get("error", "")).splitlines()[0] if r.get("reply") else str(r))
    ok &= "[198.51.100.50]" in r.get("reply", "")

    ctl = os.path.join(BUILD, "originctl")
    if os.path.exists("/sys/fs/bpf/originmail/conns"):
        print("\n6. the kernel's view: originctl conns and bpftool, while a session is open")
        hold = subprocess.Popen(["ip", "netns", "exec", "om-client", "python3", "-c",
                                 "import socket,time; s=socket.create_connection(('203.0.113.1',25)); "
                                 "s.recv(100); time.sleep(3)"])
        subprocess.run(["sleep", "1"])
        print(subprocess.run([ctl, "conns"], capture_output=True, text=True).stdout)
        dump = subprocess.run(["bpftool", "map", "dump", "pinned", "/sys/fs/bpf/originmail/conns"],
                              capture_output=True, text=True).stdout
        print("   " + "\n   ".join(dump.splitlines()[:30]))
        hold.wait()
finally:
    print("\n7. tearing it all down")
    subprocess.run([topo, "down"], env=env, capture_output=True)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    print("   namespaces left: " + (left.strip() or "none"))
print("\ndemo: " + ("every instance saw the client's own address through the proxy" if ok else "FAILED"))
sys.exit(0 if ok else 1)
