#!/usr/bin/env python3
"""A client action run inside a namespace (`ip netns exec om-client python3 ns_client.py ...`), printing one
JSON line: what the server said. Used by the topology test and by `make demo`.

  ns_client.py helo HOST PORT [NAME]        greeting and HELO reply
  ns_client.py ehlo-tls HOST PORT CAFILE    implicit TLS, EHLO reply
  ns_client.py send HOST PORT FROM TO SUBJ  one message, plain SMTP
  ns_client.py raw HOST PORT HEXBYTES       send bytes, return the first reply
  ns_client.py imaps HOST PORT CAFILE USER PASS   IMAP over implicit TLS: greeting, INBOX subjects
  ns_client.py imap HOST PORT               IMAP on 143: the greeting line"""
import imaplib
import json
import smtplib
import socket
import ssl
import sys


def reply(sock):
    sock.settimeout(10)
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data.decode(errors="replace")
        data += chunk
        for line in data.split(b"\r\n")[:-1]:
            if len(line) >= 4 and line[3:4] == b" ":
                return data.decode(errors="replace")


def main():
    op, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = {}
    try:
        if op == "helo":
            s = socket.create_connection((host, port), timeout=10)
            out["greeting"] = reply(s).strip()
            s.sendall(f"HELO {sys.argv[4] if len(sys.argv) > 4 else 'client.example'}\r\n".encode())
            out["reply"] = reply(s).strip()
            s.sendall(b"QUIT\r\n")
            reply(s)
            s.close()
        elif op == "ehlo-tls":
            ctx = ssl.create_default_context(cafile=sys.argv[4])
            ctx.check_hostname = False  # the instances' names vary; the chain is still verified
            with smtplib.SMTP_SSL(host, port, context=ctx, timeout=10, local_hostname="tls.example") as c:
                code, msg = c.ehlo()
                out["reply"] = msg.decode()
                out["cipher"] = c.sock.cipher()[0]
        elif op == "send":
            with smtplib.SMTP(host, port, timeout=10, local_hostname="client.example") as c:
                c.sendmail(sys.argv[4], [sys.argv[5]], f"Subject: {sys.argv[6]}\r\n\r\nhello\r\n")
                out["reply"] = "sent"
        elif op == "imaps":
            ctx = ssl.create_default_context(cafile=sys.argv[4])
            ctx.check_hostname = False
            with imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=10) as m:
                out["greeting"] = m.welcome.decode()
                m.login(sys.argv[5], sys.argv[6])
                typ, data = m.select("INBOX", readonly=True)
                out["exists"] = int(data[0])
                typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])") if out["exists"] else ("OK", [])
                out["subjects"] = [d[1].decode().strip() for d in data if isinstance(d, tuple)]
        elif op == "imap":
            s = socket.create_connection((host, port), timeout=10)
            s.settimeout(10)
            out["greeting"] = s.recv(4096).decode(errors="replace").strip()
            s.close()
        elif op == "raw":
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(bytes.fromhex(sys.argv[4]))
            out["reply"] = reply(s).strip()
            s.close()
    except Exception as e:
        out["error"] = repr(e)
    print(json.dumps(out))


main()
