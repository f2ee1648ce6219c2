#!/usr/bin/env python3
"""The deployment in network namespaces (scripts/topology.sh): a client, an outsider, an admin host, HAProxy
and nginx on the proxy host, two originmaild instances sharing one Maildir root. Checked for IPv4 and IPv6,
PROXY v1 and v2: each instance sees the client's own address; connections spread over both instances;
the policy holds (outsider refused, admin served); killing an instance loses no delivered message and new
sessions go to the other; everything is gone afterwards."""
import json
import os
import subprocess
import time

from harness import ROOT, BUILD, Checks, maildir_files

t = Checks("topology")
TOPO = f"/tmp/originmail-topo-test-{os.getpid()}"
env = dict(os.environ, TOPO_DIR=TOPO)
CLIENT = os.path.join(ROOT, "tests", "integration", "ns_client.py")
topo = os.path.join(ROOT, "scripts", "topology.sh")


def sh(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, env=env, **kw)


def client(ns, *args):
    p = sh("ip", "netns", "exec", ns, "python3", CLIENT, *[str(a) for a in args], timeout=60)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {"error": p.stdout + p.stderr}


def instance_log(i):
    try:
        return open(f"{TOPO}/log/mx{i}.log").read()
    except OSError:
        return ""


def served_by(r):
    """Which instance answered: its hostname is mxN.example.test."""
    for i in (1, 2):
        if f"mx{i}.example.test" in r.get("greeting", "") + r.get("reply", ""):
            return i
    return None


def up():
    sh(topo, "down")
    p = sh(topo, "up", os.path.join(ROOT, BUILD), timeout=120)
    return p.returncode == 0, p.stdout + p.stderr


try:
    env["TOPO_HAPROXY"] = "originmail.cfg"
    ok, out = up()
    t.check(ok, "topology up (HAProxy v2 round robin, nginx v1)", out)

    # The client's own address, through each proxy, IPv4 and IPv6
    for proxy, addr, want in (("haproxy v2", "203.0.113.1", "203.0.113.10"),
                              ("haproxy v2", "2001:db8:1::1", "2001:db8:1::10"),
                              ("nginx v1", "203.0.113.2", "203.0.113.10"),
                              ("nginx v1", "2001:db8:1::2", "2001:db8:1::10")):
        r = client("om-client", "helo", addr, 25)
        t.check(f"Hello client.example [{want}]" in r.get("reply", ""), f"{proxy} via {addr}: HELO names {want}", r)
    t.check(any("Connection from 203.0.113.10 runs through 198.51.100.1 proxy" in instance_log(i) for i in (1, 2)),
            "instance log: Connection from 203.0.113.10 runs through 198.51.100.1 proxy")
    t.check(any("unique-id " in instance_log(i) for i in (1, 2)), "instance log carries HAProxy's unique-id")

    # Spread over both instances (round robin)
    seen = [served_by(client("om-client", "helo", "203.0.113.1", 25)) for _ in range(6)]
    t.check(set(seen) == {1, 2}, "round robin: both instances serve", seen)

    # Implicit TLS through HAProxy (465), the chain verified against the topology's CA
    r = client("om-client", "ehlo-tls", "203.0.113.1", 465, f"{TOPO}/ca.pem")
    t.check("Hello tls.example [203.0.113.10]" in r.get("reply", ""), "implicit TLS via HAProxy names the client", r)

    # The policy
    r = client("om-outsider", "helo", "198.51.100.11", 25)
    t.check(r.get("greeting", "").startswith("421 4.7.0") and "not a trusted proxy" in r["greeting"],
            "outsider straight to an instance: 421", r)
    hdr = "PROXY TCP4 192.0.2.1 198.51.100.11 1234 25\r\n".encode().hex()
    r = client("om-outsider", "raw", "198.51.100.11", 25, hdr)
    t.check(r.get("reply", "").startswith("421 4.7.0"), "outsider's forged PROXY header: 421", r)
    r = client("om-admin", "helo", "198.51.100.12", 25, "admin.example")
    t.check("Hello admin.example [198.51.100.50]" in r.get("reply", ""), "admin straight to an instance is served", r)
    r = client("om-admin", "helo", "2001:db8:2::12", 25, "admin.example")
    t.check("[2001:db8:2::50]" in r.get("reply", ""), "admin over IPv6 is served", r)

    # Delivery through both instances into the shared Maildir root; then kill one instance
    subprocess.run([os.path.join(ROOT, BUILD, "originctl"), "passwd", "-c", f"{TOPO}/mx1.conf", "carol@example.test"],
                   input="carol-pw\n", text=True, capture_output=True)
    os.chmod(f"{TOPO}/passwd", 0o644)
    for i in (1, 2):
        pid = int(open(f"{TOPO}/run/mx{i}.pid").read())
        os.kill(pid, 1)  # SIGHUP: the new user
    time.sleep(0.5)
    sent = 0
    for n in range(4):
        r = client("om-client", "send", "203.0.113.1", 25, "a@client.example", "carol@example.test", f"m{n}")
        sent += r.get("reply") == "sent"
    t.check(sent == 4, "4 messages delivered through HAProxy", sent)
    mail = f"{TOPO}/mail"
    t.check(len(maildir_files(mail, "carol@example.test")) == 4, "all 4 in the shared Maildir")
    # A message delivered through instance A is read over IMAP through instance B (shared Maildir root)
    r = client("om-admin", "send", "198.51.100.11", 25, "a@client.example", "carol@example.test", "via-mx1")
    t.check(r.get("reply") == "sent", "admin delivers straight through mx1", r)
    r = client("om-admin", "imaps", "198.51.100.12", 993, f"{TOPO}/ca.pem", "carol@example.test", "carol-pw")
    t.check(r.get("exists") == 5 and any("via-mx1" in x for x in r.get("subjects", [])),
            "the message delivered through mx1 is read over IMAP through mx2", r)
    r = client("om-client", "imaps", "2001:db8:1::1", 993, f"{TOPO}/ca.pem", "carol@example.test", "carol-pw")
    t.check(r.get("exists") == 5, "IMAP over implicit TLS through HAProxy, from IPv6", r)
    r = client("om-client", "imap", "203.0.113.2", 143)
    t.check(r.get("greeting", "").startswith("* OK"), "IMAP on 143 through nginx", r)
    t.check(any("Connection from 2001:db8:1::10 runs through 198.51.100.1 proxy" in instance_log(i) for i in (1, 2)),
            "instance log names the IPv6 IMAP client")
    t.check(maildir_files(mail, "carol@example.test", "tmp") == [], "no partial message left in tmp/ so far")
    # kill -9 mx1 while a session on it is in the middle of DATA
    before = len(maildir_files(mail, "carol@example.test"))
    mid = subprocess.Popen(["ip", "netns", "exec", "om-admin", "python3", "-c",
                            "import socket,time\n"
                            "s=socket.create_connection(('198.51.100.11',25),timeout=10); s.recv(999)\n"
                            "s.sendall(b'EHLO a\\r\\n'); time.sleep(0.2); s.recv(999)\n"
                            "s.sendall(b'MAIL FROM:<a@b.example>\\r\\nRCPT TO:<carol@example.test>\\r\\nDATA\\r\\n')\n"
                            "time.sleep(0.3); s.recv(999); s.sendall(b'Subject: cut\\r\\n\\r\\npartial\\r\\n')\n"
                            "print('in-data', flush=True); time.sleep(5)\n"], stdout=subprocess.PIPE, text=True)
    t.check(mid.stdout.readline().strip() == "in-data", "a session on mx1 is in the middle of DATA")
    pid1 = int(open(f"{TOPO}/run/mx1.pid").read())
    os.kill(pid1, 9)
    mid.kill()
    mid.wait()
    t.check(len(maildir_files(mail, "carol@example.test")) == before, "kill -9 mid-DATA: delivered mail intact, "
            "the cut message not visible")
    after = [served_by(client("om-client", "helo", "203.0.113.1", 25)) for _ in range(4)]
    t.check(after == [2, 2, 2, 2], "after mx1 is killed, new sessions go to mx2", after)
    r = client("om-client", "send", "203.0.113.1", 25, "a@client.example", "carol@example.test", "after")
    t.check(r.get("reply") == "sent" and len(maildir_files(mail, "carol@example.test")) == 6,
            "delivery goes on through mx2, nothing lost", r)
    # (tmp/ may hold the killed session's partial file: invisible to readers, cleaned later; never in new/ or cur/)
    cut = [f for sub in ("new", "cur") for f in maildir_files(mail, "carol@example.test", sub)
           if "Subject: cut" in open(f, errors="replace").read()]
    t.check(cut == [], "the partial message is in neither new/ nor cur/", cut)

    # PROXY v1 with leastconn
    env["TOPO_HAPROXY"] = "originmail-v1-leastconn.cfg"
    ok, out = up()
    t.check(ok, "topology up again with HAProxy v1 leastconn", out)
    for addr, want in (("203.0.113.1", "203.0.113.10"), ("2001:db8:1::1", "2001:db8:1::10")):
        r = client("om-client", "helo", addr, 25)
        t.check(f"[{want}]" in r.get("reply", ""), f"v1 via {addr}: HELO names {want}", r)
    # balance source: one client sticks to one instance
    env["TOPO_HAPROXY"] = "originmail-source.cfg"
    ok, out = up()
    t.check(ok, "topology up again with HAProxy v2 balance source", out)
    seen = [served_by(client("om-client", "helo", "203.0.113.1", 25)) for _ in range(4)]
    t.check(len(set(seen)) == 1 and seen[0] in (1, 2), "balance source: the client sticks to one instance", seen)
except Exception as e:
    import traceback
    traceback.print_exc()
    t.check(False, "test ran to the end", repr(e))
finally:
    sh(topo, "down")
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    t.check("om-" not in left, "every namespace removed", left)
    procs = subprocess.run(["pgrep", "-f", f"{TOPO}/"], capture_output=True, text=True).stdout
    t.check(procs.strip() == "", "every process stopped", procs)
    t.check(not os.path.exists(TOPO), "state directory removed")
t.finish()
