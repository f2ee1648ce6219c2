#!/usr/bin/env python3
"""Two originmaild processes share one port (SO_REUSEPORT): the kernel spreads connections over both, and
each still names the client from the PROXY header."""
import os

from harness import Checks, Daemon, TempDir, connect_from, free_port, smtp_lines

t = Checks("reuseport")
tmp = TempDir()
os.chmod(tmp.path, 0o755)
port = free_port()
config = f"""hostname = mx1.example.test
domains = example.test
mail_root = {os.path.join(tmp.path, 'mail')}
passwd_file = {tmp.file('passwd', '')}
user = nobody

[listener smtp]
address = 127.0.0.1:{port}
protocol = smtp
proxy = required
proxy_trusted = 127.0.0.2
"""
daemons = []
try:
    daemons = [Daemon(tmp, config, name=f"instance{i}") for i in range(2)]
    t.check(all(d.wait_ready() for d in daemons), "two instances bind the same port")
    for i in range(40):
        s = connect_from("127.0.0.2", "127.0.0.1", port)
        s.sendall(f"PROXY TCP4 203.0.113.{i + 1} 198.51.100.1 4{i:04d} 25\r\nHELO c.example\r\n".encode())
        r = smtp_lines(s)
        if "Hello" not in r:
            r += smtp_lines(s)
        s.sendall(b"QUIT\r\n")
        s.close()
        if f"[203.0.113.{i + 1}]" not in r:
            t.check(False, f"connection {i} names its client", r)
    served = [d.log().count("runs through 127.0.0.2 proxy") for d in daemons]
    t.check(sum(served) == 40, "all 40 connections served", served)
    t.check(min(served) > 0, "both instances served some (kernel load-balancing)", served)
finally:
    for d in daemons:
        d.stop()
    tmp.cleanup()
t.finish()
