#!/usr/bin/env python3
"""Write the PROXY protocol seed corpus (tests/corpus/proxy/) for tests/fuzz/fuzz_proxy.c.

    python3 tests/corpus/make_proxy_corpus.py [OUTDIR]      (default: tests/corpus/proxy next to this script)

Python 3 standard library only. The files are deterministic: running this again rewrites them byte for byte.
Names: v1-*, v2-* for valid headers (a "+ehlo"/"+tls" suffix means payload bytes follow the header),
bad-* for inputs the decoder must reject, partial-* for a header cut short (need-more).
"""
import os
import struct
import sys

SIG = b"\r\n\r\n\x00\r\nQUIT\n"

# v2 command/version byte and family/transport byte
LOCAL, PROXY = 0x20, 0x21
UNSPEC, INET_STREAM, INET_DGRAM, INET6_STREAM, INET6_DGRAM, UNIX_STREAM, UNIX_DGRAM = (
    0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32)

# TLV types
ALPN, AUTHORITY, CRC32C, NOOP, UNIQUE_ID, SSL, NETNS = 0x01, 0x02, 0x03, 0x04, 0x05, 0x20, 0x30
SSL_VERSION, SSL_CN, SSL_CIPHER, SSL_SIG_ALG, SSL_KEY_ALG = 0x21, 0x22, 0x23, 0x24, 0x25
CLIENT_SSL, CLIENT_CERT_CONN, CLIENT_CERT_SESS = 0x01, 0x02, 0x04

EHLO = b"EHLO client.example\r\n"
# The start of a TLS 1.2/1.3 ClientHello record: handshake, TLS 1.0 record version, length 0x0200,
# ClientHello, length 0x0001fc, client version 3.3, then the first bytes of the random.
TLS_HELLO = bytes.fromhex("16030102000100 01fc 0303") + bytes(range(0x40, 0x60))


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC32C (Castagnoli): reflected polynomial 0x82F63B78, init and xorout 0xFFFFFFFF."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the standard check value


def tlv(t, value):
    return struct.pack("!BH", t, len(value)) + value


def ssl_tlv(client, verify, subs=()):
    """SSL TLV: client byte, 32-bit verify, then sub-TLVs given as (type, bytes)."""
    return tlv(SSL, struct.pack("!BI", client, verify) + b"".join(tlv(t, v) for t, v in subs))


def inet(src, dst, sport, dport):
    return bytes(map(int, src.split("."))) + bytes(map(int, dst.split("."))) + struct.pack("!HH", sport, dport)


def inet6(src, dst, sport, dport):
    import ipaddress
    return (ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed +
            struct.pack("!HH", sport, dport))


def unix(src, dst):
    return src.ljust(108, b"\x00") + dst.ljust(108, b"\x00")


def v2(cmd, fam, addr=b"", tlvs=b"", crc=False, length=None):
    """A v2 header. With crc, a CRC32C TLV goes first (as HAProxy writes it), computed over the whole
    header with its value zeroed. length overrides the declared length (for invalid inputs)."""
    body = addr + (tlv(CRC32C, b"\x00" * 4) if crc else b"") + tlvs
    hdr = bytearray(SIG + bytes([cmd, fam]) + struct.pack("!H", len(body) if length is None else length) + body)
    if crc:
        at = 16 + len(addr) + 3
        hdr[at:at + 4] = struct.pack("!I", crc32c(bytes(hdr)))
    return bytes(hdr)


FULL_SSL = ssl_tlv(CLIENT_SSL | CLIENT_CERT_CONN | CLIENT_CERT_SESS, 0, [
    (SSL_VERSION, b"TLSv1.3"),
    (SSL_CN, b"client.example.org"),
    (SSL_CIPHER, b"TLS_AES_256_GCM_SHA384"),
    (SSL_SIG_ALG, b"RSA-SHA256"),
    (SSL_KEY_ALG, b"RSA2048"),
])
A4 = inet("192.0.2.1", "198.51.100.2", 56324, 25)
A6 = inet6("2001:db8::1", "2001:db8::2", 56324, 587)
FFFF6 = ":".join(["ffff"] * 8)

CORPUS = {
    # ---- v1 ----
    "v1-tcp4": b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n",
    "v1-tcp4+ehlo": b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n" + EHLO,
    "v1-tcp6": b"PROXY TCP6 2001:db8::1 2001:db8::2 56324 587\r\n",
    "v1-tcp6+tls": b"PROXY TCP6 2001:db8::1 2001:db8::2 56324 465\r\n" + TLS_HELLO,
    "v1-tcp6-mapped": b"PROXY TCP6 ::ffff:192.0.2.1 ::ffff:198.51.100.2 56324 25\r\n",
    "v1-unknown": b"PROXY UNKNOWN\r\n",
    "v1-unknown-rest+ehlo": b"PROXY UNKNOWN 192.0.2.1 198.51.100.2 56324 25\r\n" + EHLO,
    "v1-ports-0": b"PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n",
    # the spec's longest lines (56, 104 and 107 bytes)
    "v1-longest-tcp4": b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
    "v1-longest-tcp6": ("PROXY TCP6 %s %s 65535 65535\r\n" % (FFFF6, FFFF6)).encode(),
    "v1-longest-unknown": ("PROXY UNKNOWN %s %s 65535 65535\r\n" % (FFFF6, FFFF6)).encode(),
    # ---- v2 ----
    "v2-local": v2(LOCAL, UNSPEC),
    "v2-local+ehlo": v2(LOCAL, UNSPEC) + EHLO,
    "v2-local-inet-skipped": v2(LOCAL, INET_STREAM, A4),
    "v2-inet+ehlo": v2(PROXY, INET_STREAM, A4) + EHLO,
    "v2-inet-dgram": v2(PROXY, INET_DGRAM, inet("203.0.113.7", "192.0.2.53", 5353, 53)),
    "v2-inet6+tls": v2(PROXY, INET6_STREAM, A6) + TLS_HELLO,
    "v2-inet6-mapped": v2(PROXY, INET6_STREAM, inet6("::ffff:192.0.2.1", "::ffff:198.51.100.2", 56324, 25)),
    "v2-unix": v2(PROXY, UNIX_STREAM, unix(b"/run/haproxy/client.sock", b"/run/originmail/smtp.sock")),
    "v2-unspec-proxy": v2(PROXY, UNSPEC),
    "v2-inet-tlvs": v2(PROXY, INET_STREAM, A4,
                       tlv(ALPN, b"smtp") + tlv(AUTHORITY, b"mx.example.org") +
                       tlv(UNIQUE_ID, bytes(range(32))) + tlv(NOOP, b"") + tlv(NOOP, b"\x00\x00\x00") +
                       tlv(NETNS, b"blue") + tlv(0xE0, b"custom-value") + tlv(0xE0, b"again")),
    "v2-inet6-ssl-crc+tls": v2(PROXY, INET6_STREAM, A6, tlv(ALPN, b"h2") + FULL_SSL, crc=True) + TLS_HELLO,
    "v2-inet-crc32c": v2(PROXY, INET_STREAM, A4, crc=True),
    "v2-unix-authority-heap": v2(PROXY, UNIX_STREAM, unix(b"/a", b"/b"),
                                 tlv(AUTHORITY, b"x" * 60) + tlv(UNIQUE_ID, b"u" * 128), crc=True),
    # What HAProxy 2.6 sends on a health check with send-proxy-v2-ssl + proxy-v2-options crc32c:
    # LOCAL, family 0x00, a CRC32C TLV and an empty SSL TLV (client 0, verify 0).
    "v2-haproxy26-healthcheck": v2(LOCAL, UNSPEC, tlvs=ssl_tlv(0, 0), crc=True),
    "v2-haproxy26-healthcheck+ehlo": v2(LOCAL, UNSPEC, tlvs=ssl_tlv(0, 0), crc=True) + EHLO,
    # 16 + 5000 bytes: above the default 4096 maximum, within PP_V2_MAX_LEN
    "v2-large-noop": v2(PROXY, INET_STREAM, A4, tlv(NOOP, b"\x00" * 4981)),
    # ---- invalid ----
    "bad-not-proxy-smtp": EHLO,
    "bad-not-proxy-http": b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
    "bad-v1-leading-zero-port": b"PROXY TCP4 192.0.2.1 198.51.100.2 056324 25\r\n",
    "bad-v1-lf-without-cr": b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\n",
    "bad-v1-tcp4-with-ipv6": b"PROXY TCP4 2001:db8::1 2001:db8::2 56324 25\r\n",
    "bad-v1-too-long": b"PROXY UNKNOWN " + b"f" * 93,  # 107 bytes, no LF
    "bad-v2-version-1": v2(0x11, INET_STREAM, A4),
    "bad-v2-family-0x13": v2(PROXY, 0x13, A4),
    "bad-v2-addr-len": v2(PROXY, INET6_STREAM, A4),  # 12 bytes where INET6 needs 36
    "bad-v2-crc-mismatch": v2(PROXY, INET_STREAM, A4, crc=True)[:-1] + b"\x00",
    "bad-v2-tlv-truncated": v2(PROXY, INET_STREAM, A4, tlv(ALPN, b"smtp")[:-1]),
    "bad-v2-dup-alpn": v2(PROXY, INET_STREAM, A4, tlv(ALPN, b"smtp") + tlv(ALPN, b"h2")),
    "bad-v2-unique-id-129": v2(PROXY, INET_STREAM, A4, tlv(UNIQUE_ID, b"u" * 129)),
    "bad-v2-ssl-sub-truncated": v2(PROXY, INET_STREAM, A4,
                                   tlv(SSL, struct.pack("!BI", CLIENT_SSL, 0) + tlv(SSL_CN, b"cn")[:-1])),
    # ---- cut short ----
    "partial-v2-inet": v2(PROXY, INET_STREAM, A4)[:20],
    "partial-v1": b"PROXY TCP4 192.0.2.1 19",
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "proxy")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(CORPUS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("%d files in %s" % (len(CORPUS), out))


if __name__ == "__main__":
    main()
