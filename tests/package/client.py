"""Clients for tests/package/test_package.sh, run inside the container (python3 only, no project code).

  client.py send SUBJECT      SMTP on 127.0.0.1:25 with a PROXY v2 header naming 203.0.113.10; while the
                              session is open, print `originctl conns` as "CONNS <json>"; then deliver
  client.py read SUBJECT      IMAP on 127.0.0.1:143 with a PROXY v2 header, STARTTLS, LOGIN; print the
                              message's Received: line as "RECEIVED ..." when it is in INBOX
  client.py probe SRC PORT    connect from SRC with a PROXY v2 header; print the first line
"""
import imaplib
import socket
import ssl
import struct
import subprocess
import sys

USER, PASSWORD = "alice@localhost", "package-test-secret"
ORIGIN = ("203.0.113.10", 51234)


def proxy_v2(src, sport, dst, dport):
    addrs = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(addrs)) + addrs


def expect(f, code):
    line = f.readline().decode()
    while line[3:4] == "-":
        line = f.readline().decode()
    if not line.startswith(code):
        sys.exit(f"expected {code}, got {line!r}")
    return line


def send(subject):
    s = socket.create_connection(("127.0.0.1", 25), timeout=10)
    s.sendall(proxy_v2(ORIGIN[0], ORIGIN[1], "127.0.0.1", 25))
    f = s.makefile("rb")
    expect(f, "220")
    s.sendall(b"EHLO client.example\r\n")
    expect(f, "250")
    conns = subprocess.run(["originctl", "conns", "--json"], capture_output=True, text=True)
    print("CONNS", conns.stdout.strip().replace("\n", " "), conns.stderr.strip(), flush=True)
    for cmd, code in ((b"MAIL FROM:<bob@example.org>", "250"), (f"RCPT TO:<{USER}>".encode(), "250"),
                      (b"DATA", "354")):
        s.sendall(cmd + b"\r\n")
        expect(f, code)
    s.sendall(f"From: bob@example.org\r\nTo: {USER}\r\nSubject: {subject}\r\n\r\nhello\r\n.\r\n".encode())
    expect(f, "250")
    s.sendall(b"QUIT\r\n")
    expect(f, "221")
    print("SENT", subject)


class ProxiedIMAP(imaplib.IMAP4):
    def _create_socket(self, timeout):
        s = socket.create_connection((self.host, self.port), timeout)
        s.sendall(proxy_v2(ORIGIN[0], ORIGIN[1] + 1, "127.0.0.1", self.port))
        return s


def read(subject):
    m = ProxiedIMAP("127.0.0.1", 143, timeout=10)
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the package's self-signed certificate
    m.starttls(ctx)
    m.login(USER, PASSWORD)
    m.select("INBOX")
    typ, data = m.search(None, "SUBJECT", f'"{subject}"')
    for num in data[0].split():
        typ, msg = m.fetch(num, "(BODY.PEEK[HEADER.FIELDS (RECEIVED)])")
        print("RECEIVED", msg[0][1].decode().replace("\r\n", " ").strip())
    m.logout()


def probe(src, port):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", int(port)))
    s.sendall(proxy_v2(ORIGIN[0], ORIGIN[1] + 2, "127.0.0.1", int(port)))
    try:
        print("FIRST", s.makefile("rb").readline().decode().strip())
    except (OSError, socket.timeout) as e:
        print("FIRST error", e)


if __name__ == "__main__":
    {"send": send, "read": read, "probe": probe}[sys.argv[1]](*sys.argv[2:])
