#!/usr/bin/env python3
"""The metrics endpoint end to end: originmaild (bpf = on, its own pin directory and cgroup) behind a real
HAProxy, scraped with the real curl before and after real SMTP and IMAP traffic, including a bad PROXY header,
a failed login, a failed TLS handshake and a denied peer; every counter must move by exactly what the traffic
did. Each scrape is read with the strict parser of the text exposition format (0.0.4) below. Then the
endpoint's edges (404, 405, 431, 408, too many clients), `originctl stats` against the same figures, a
reload, a second instance on the same port, and a non-loopback address refused."""
import json
import math
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

from harness import (Checks, Daemon, HAProxy, TempDir, build_path, cgroup2_mount, connect_from, free_port,
                     haproxy_tcp, make_ca_and_cert, proxy_route, set_password, smtp_lines, wait_port)

t = Checks("metrics")

# ---- a strict reader of the Prometheus text exposition format, version 0.0.4 ----

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r"[+-]?(?:Inf|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
SAMPLE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? ({VALUE})(?: (-?\d+))?$")
LABEL_PAIR = re.compile(rf'({LABEL})="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


class FormatError(Exception):
    pass


def unescape(s, quote):
    out, i = "", 0
    while i < len(s):
        if s[i] == "\\":
            nxt = s[i + 1:i + 2]
            if nxt == "n":
                out += "\n"
            elif nxt == "\\" or (quote and nxt == '"'):
                out += nxt
            else:
                raise FormatError(f"bad escape in {s!r}")
            i += 2
        else:
            out += s[i]
            i += 1
    return out


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL_PAIR.match(text, pos)
        if not m:
            raise FormatError(f"bad labels {text!r}")
        if m.group(1) in labels:
            raise FormatError(f"label {m.group(1)} repeated")
        labels[m.group(1)] = unescape(m.group(2), True)
        pos = m.end()
    return labels


def parse_exposition(text):
    """{family: {"type", "help", "samples": {(name, sorted label items): value}}}; raises FormatError."""
    if not text.endswith("\n"):
        raise FormatError("does not end with a newline")
    fams, current, seen_series = {}, None, set()
    for n, line in enumerate(text[:-1].split("\n"), 1):
        if line == "":
            continue
        if line.startswith("#"):
            m = re.match(rf"^# (HELP|TYPE) ({NAME}) (.*)$", line)
            if not m:
                if re.match(r"^# (HELP|TYPE)\b", line):
                    raise FormatError(f"line {n}: malformed {line!r}")
                continue
            kind, name, rest = m.groups()
            fam = fams.setdefault(name, {"type": None, "help": None, "samples": {}})
            if kind == "HELP":
                if fam["help"] is not None:
                    raise FormatError(f"line {n}: second HELP for {name}")
                fam["help"] = unescape(rest, False)
            else:
                if fam["type"] is not None or fam["samples"]:
                    raise FormatError(f"line {n}: TYPE for {name} repeated or after its samples")
                if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    raise FormatError(f"line {n}: unknown type {rest!r}")
                fam["type"] = rest
            current = name
            continue
        m = SAMPLE.match(line)
        if not m:
            raise FormatError(f"line {n}: not a sample: {line!r}")
        name, labels, value = m.group(1), parse_labels(m.group(2) or ""), float(m.group(3))
        fam_name = name
        if current and current in fams and fams[current]["type"] == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                if name == current + suffix:
                    fam_name = current
        if fam_name != current:
            raise FormatError(f"line {n}: sample {name} outside its family's block (after {current})")
        fam = fams[fam_name]
        if fam["type"] is None:
            raise FormatError(f"line {n}: {name} has no TYPE line")
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            raise FormatError(f"line {n}: series repeated: {key}")
        seen_series.add(key)
        fam["samples"][key] = value
    for name, fam in fams.items():
        if fam["type"] == "counter" and not name.endswith("_total"):
            raise FormatError(f"counter {name} does not end with _total")
        if fam["help"] is None:
            raise FormatError(f"{name} has no HELP")
        if fam["type"] == "counter" and any(v < 0 or v != int(v) for v in fam["samples"].values()):
            raise FormatError(f"counter {name} has a negative or fractional value")
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return fams


def check_histogram(name, samples):
    series = {}
    for (sname, labels), v in samples.items():
        d = dict(labels)
        le = d.pop("le", None)
        key = tuple(sorted(d.items()))
        s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            if le is None:
                raise FormatError(f"{name}: bucket without le")
            s["buckets"].append((float(le), v))
        elif sname == name + "_sum":
            s["sum"] = v
        elif sname == name + "_count":
            s["count"] = v
    for key, s in series.items():
        b = sorted(s["buckets"])
        if not b or b[-1][0] != math.inf:
            raise FormatError(f"{name}{key}: no +Inf bucket")
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            raise FormatError(f"{name}{key}: buckets not cumulative")
        if s["count"] is None or s["sum"] is None or b[-1][1] != s["count"]:
            raise FormatError(f"{name}{key}: _count missing or not the +Inf bucket")


def value(fams, family, sample=None, **labels):
    """A sample's value, 0 when the series does not exist (yet)."""
    fam = fams.get(family)
    if fam is None:
        return None
    key = (sample or family, tuple(sorted(labels.items())))
    return fam["samples"].get(key, 0)


# The reader must itself refuse what is not the format (a test of the test).
for bad in ["a 1", "# TYPE a counter\na_total 1\n", "# HELP a x\n# TYPE a gauge\na{b=c} 1\n",
            "# HELP a_total x\n# TYPE a_total counter\na_total -1\n",
            "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"]:
    try:
        parse_exposition(bad)
        t.check(False, f"the test's reader refuses {bad!r}")
    except FormatError:
        t.check(True, f"the test's reader refuses {bad.splitlines()[-1]!r}")

# ---- the daemon behind HAProxy ----

if os.geteuid() != 0 or not cgroup2_mount():
    print("metrics: skipped (needs root and a cgroup2 mount for bpf = on)")
    t.finish()

tmp = TempDir()
os.chmod(tmp.path, 0o755)
ca, cert, key = make_ca_and_cert(tmp)
PIN = f"/sys/fs/bpf/originmail-metrics-test-{os.getpid()}"
CG = os.path.join(cgroup2_mount(), f"originmail-metrics-test-{os.getpid()}")
P = {k: free_port() for k in ("smtp", "imaps", "h_smtp", "h_imaps", "metrics", "ready")}
URL = f"http://127.0.0.1:{P['metrics']}/metrics"
passwd = tmp.file("passwd", "")
mail = os.path.join(tmp.path, "mail")
config = f"""
hostname = mx1.example.test
domains = example.test
mail_root = {mail}
passwd_file = {passwd}
tls_cert = {cert}
tls_key = {key}
command_timeout = 10s
shutdown_grace = 2s
bpf = on
bpf_pin_dir = {PIN}
bpf_cgroup = {CG}
metrics = 127.0.0.1:{P['metrics']}
metrics_timeout = 1s
metrics_max_clients = 3
metrics_max_request = 1K

[listener smtp]
address = 127.0.0.1:{P['smtp']}
protocol = smtp
proxy = required
proxy_trusted = 127.0.0.2

[listener imaps]
address = 127.0.0.1:{P['imaps']}
protocol = imap
tls = implicit
proxy = required
proxy_trusted = 127.0.0.2
"""
haproxy_cfg = haproxy_tcp(
    P['ready'],
    proxy_route("smtp", P['h_smtp'], f"127.0.0.1:{P['smtp']} send-proxy-v2 source 127.0.0.2"),
    proxy_route("imaps", P['h_imaps'], f"127.0.0.1:{P['imaps']} send-proxy source 127.0.0.2"))
ctx = ssl.create_default_context(cafile=ca)


def curl(url=URL, *args):
    """The real curl: (status, headers dict, body)."""
    p = subprocess.run(["curl", "-sS", "--max-time", "10", "-D", "-", "-o", tmp.file("body"), *args, url],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, {}, p.stderr
    head = p.stdout.replace("\r\n", "\n").split("\n\n")[0].split("\n")  # text mode may have eaten the CRs
    status = int(head[0].split()[1])
    headers = {h.split(":", 1)[0].lower(): h.split(":", 1)[1].strip() for h in head[1:] if ":" in h}
    return status, headers, open(tmp.file("body")).read()


def scrape(what):
    status, headers, body = curl()
    t.check(status == 200 and headers.get("content-type") == "text/plain; version=0.0.4; charset=utf-8",
            f"{what}: curl gets 200 text/plain; version=0.0.4", (status, headers, body[:300]))
    try:
        fams = parse_exposition(body)
        t.check(True, f"{what}: the scrape is valid exposition format ({len(fams)} families)")
        return fams
    except FormatError as e:
        t.check(False, f"{what}: the scrape is valid exposition format", str(e))
        return {}


def imaps_session():
    s = connect_from(None, "127.0.0.1", P["h_imaps"])
    s = ctx.wrap_socket(s, server_hostname="mx1.example.test")
    f = s.makefile("rb")
    f.readline()
    return s, f


def imap_cmd(s, f, tag, text, literal=None):
    s.sendall(f"{tag} {text}\r\n".encode())
    out = b""
    while True:
        line = f.readline()
        out += line
        if line.startswith(b"+") and literal is not None:
            s.sendall(literal + b"\r\n")
            literal = None
            continue
        if not line or line.startswith(tag.encode() + b" "):
            return out.decode(errors="replace")


daemons, hap = [], None
made_cg = not os.path.isdir(CG)
try:
    set_password(tmp.file("daemon.conf", config), "alice@example.test", "s3cret")
    d = Daemon(tmp, config, env={"ORIGINMAIL_TEST_DENIED_OVERSEND": "1"})
    daemons.append(d)
    t.check(d.wait_ready(), "daemon starts with metrics and bpf = on", d.log()[-1500:])
    t.check(f"Metrics on http://127.0.0.1:{P['metrics']}/metrics" in d.log(), "log names the metrics address")
    hap = HAProxy(tmp, haproxy_cfg)
    t.check(wait_port("127.0.0.1", P["ready"]), "haproxy up")

    before = scrape("first scrape")
    t.check(value(before, "originmail_bpf_attached") == 1, "bpf attached = 1")
    t.check(value(before, "originmail_origin_limit_rejections_total") == 0,
            "originmail_origin_limit_rejections_total exists, at 0")
    t.check(value(before, "originmail_bpf_map_entries", map="instances") == 1,
            "bpf map entries: one instance in the pinned instances map")
    for fam in ("originmail_connections_total", "originmail_proxy_headers_total",
                "originmail_proxy_header_errors_total", "originmail_proxy_header_wait_seconds",
                "originmail_tls_handshakes_total", "originmail_tls_handshake_failures_total",
                "originmail_messages_accepted_total", "originmail_stored_bytes_total", "originmail_logins_total",
                "originmail_bpf_dropped_bytes_total", "originmail_bpf_events_lost_total",
                "originmail_connections_open",
                "originmail_folder_cache_messages", "originmail_folder_opens_total"):
        t.check(fam in before and before[fam]["help"], f"{fam} is exported with HELP and TYPE")

    # --- SMTP through HAProxy (PROXY v2): one message of known size
    body = "From: a@client.example\r\nTo: alice@example.test\r\nSubject: metrics\r\n\r\n" + "line\r\n" * 50
    s = connect_from(None, "127.0.0.1", P["h_smtp"])
    ok = smtp_lines(s).startswith("220")
    for cmd in ("EHLO client.example", "MAIL FROM:<a@client.example>", "RCPT TO:<alice@example.test>", "DATA"):
        s.sendall((cmd + "\r\n").encode())
        ok = ok and smtp_lines(s)[:1] in "23"
    s.sendall(body.encode() + b".\r\n")
    ok = ok and smtp_lines(s).startswith("250")
    s.sendall(b"QUIT\r\n")
    smtp_lines(s)
    s.close()
    t.check(ok, "a message delivered through HAProxy")

    # --- a bad PROXY header from the trusted proxy address, straight to the listener
    s = connect_from("127.0.0.2", "127.0.0.1", P["smtp"])
    s.sendall(b"PROXY TCP4 203.0.113.10 192.0.2.1 040000 25\r\n")
    t.check("PROXY v1 source port invalid" in smtp_lines(s), "bad PROXY header refused")
    s.close()
    # --- a denied peer (127.0.0.1 is not trusted): sk_msg keeps the daemon's extra bytes from it
    s = connect_from("127.0.0.1", "127.0.0.1", P["smtp"])
    t.check("not a trusted proxy" in smtp_lines(s), "untrusted peer refused")
    s.close()

    # --- IMAP over implicit TLS through HAProxy (PROXY v1): a failed login, a login, an APPEND
    s, f = imaps_session()
    r1 = imap_cmd(s, f, "a1", "LOGIN alice@example.test wrong")
    r2 = imap_cmd(s, f, "a2", "LOGIN alice@example.test s3cret")
    msg = b"From: b@client.example\r\nSubject: appended\r\n\r\nhello\r\n"
    r3 = imap_cmd(s, f, "a3", "APPEND INBOX {%d}" % len(msg), literal=msg)
    t.check("a1 NO" in r1 and "a2 OK" in r2 and "a3 OK" in r3, "IMAP: failed login, login, APPEND", r1 + r2 + r3)
    # The SELECT reads the folder (and moves the delivered message into cur/); a second later the first
    # EXAMINE reads it again (the move was in the same second as that scan), the second uses that scan.
    r5 = imap_cmd(s, f, "a5", "SELECT INBOX")
    time.sleep(1.1)
    r6 = imap_cmd(s, f, "a6", "EXAMINE INBOX")
    r7 = imap_cmd(s, f, "a7", "EXAMINE INBOX")
    t.check("a5 OK" in r5 and "a6 OK" in r6 and "a7 OK" in r7, "IMAP: SELECT, then EXAMINE twice", r5 + r6 + r7)
    during = scrape("scrape with an IMAP session open")
    t.check(value(during, "originmail_folder_cache_messages") >= 1, "folder cache: INBOX's scan is kept",
            value(during, "originmail_folder_cache_messages"))
    t.check(value(during, "originmail_folder_opens_total", result="cached") -
            value(before, "originmail_folder_opens_total", result="cached") == 1 and
            value(during, "originmail_folder_opens_total", result="scanned") -
            value(before, "originmail_folder_opens_total", result="scanned") >= 2,
            "folder opens: SELECT and the first EXAMINE scanned, the second came from the kept scan",
            (value(during, "originmail_folder_opens_total", result="cached"),
             value(during, "originmail_folder_opens_total", result="scanned")))
    t.check(value(during, "originmail_connections_open") == 1, "connections open: 1 (the IMAP session)")
    t.check(value(during, "originmail_bpf_map_entries", map="conns") >= 1,
            "bpf map entries: the open connection is in the pinned conns map",
            value(during, "originmail_bpf_map_entries", map="conns"))
    imap_cmd(s, f, "a4", "LOGOUT")
    s.close()

    # --- a failed TLS handshake: not a ClientHello after the header
    s = connect_from(None, "127.0.0.1", P["h_imaps"])
    s.sendall(b"this is not TLS\r\n" * 4)
    s.settimeout(5)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
    t.check(d.wait_log("TLS handshake failed"), "the handshake failed")
    time.sleep(0.3)  # the BPF ring buffer's drop event is read by the loop

    after = scrape("second scrape")

    def delta(family, sample=None, **labels):
        return value(after, family, sample, **labels) - value(before, family, sample, **labels)

    expect = [
        (("originmail_connections_total",), dict(listener="smtp", protocol="smtp", verdict="proxy-required"), 2),
        (("originmail_connections_total",), dict(listener="smtp", protocol="smtp", verdict="denied"), 1),
        (("originmail_connections_total",), dict(listener="imaps", protocol="imap", verdict="proxy-required"), 2),
        (("originmail_proxy_headers_total",), dict(version="2", command="proxy"), 1),
        (("originmail_proxy_headers_total",), dict(version="1", command="proxy"), 2),
        (("originmail_proxy_header_errors_total",), dict(reason="v1_src_port"), 1),
        (("originmail_proxy_header_wait_seconds", "originmail_proxy_header_wait_seconds_count"),
         dict(listener="smtp"), 1),
        (("originmail_proxy_header_wait_seconds", "originmail_proxy_header_wait_seconds_count"),
         dict(listener="imaps"), 2),
        (("originmail_tls_handshakes_total",), dict(listener="imaps"), 1),
        (("originmail_tls_handshake_failures_total",), dict(listener="imaps", reason="error"), 1),
        (("originmail_messages_accepted_total",), dict(protocol="smtp"), 1),
        (("originmail_stored_bytes_total",), dict(protocol="smtp"), len(body)),
        (("originmail_messages_accepted_total",), dict(protocol="imap"), 1),
        (("originmail_stored_bytes_total",), dict(protocol="imap"), len(msg)),
        (("originmail_logins_total",), dict(protocol="imap", result="ok"), 1),
        (("originmail_logins_total",), dict(protocol="imap", result="failed"), 1),
        (("originmail_origin_limit_rejections_total",), {}, 0),
    ]
    for names, labels, want in expect:
        got = delta(*names, **labels)
        t.check(got == want, f"{names[-1]}{labels} moved by {want}", f"moved by {got}")
    wait_sum = value(after, "originmail_proxy_header_wait_seconds", "originmail_proxy_header_wait_seconds_sum",
                     listener="imaps")
    t.check(0 < wait_sum < 10, "header wait: a positive sum of seconds", wait_sum)
    dropped = delta("originmail_bpf_dropped_bytes_total")
    t.check(dropped > 0, "kernel-dropped bytes counted by the BPF program", dropped)
    t.check(delta("originmail_bpf_events_lost_total") == 0, "no ring-buffer event lost")
    t.check(d.wait_log("BPF: sk_msg dropped"), "the daemon logged the drop")
    t.check(value(after, "originmail_connections_open") == 0, "connections open: 0 again")

    # --- originctl stats prints the same figures
    p = subprocess.run([build_path("originctl"), "stats", "--json", f"127.0.0.1:{P['metrics']}"],
                       capture_output=True, text=True)
    ok = p.returncode == 0
    js = json.loads(p.stdout) if ok else {"metrics": []}
    same = ok
    for fam in js["metrics"]:
        if fam["type"] != "counter" and fam["type"] != "histogram":
            continue  # gauges are read anew at each scrape
        for smp in fam["samples"]:
            want = value(after, fam["name"], smp["name"], **smp["labels"])
            if want != smp["value"]:
                same = False
                print(f"  {smp['name']}{smp['labels']}: stats {smp['value']}, curl {want}")
    t.check(same and len(js["metrics"]) == len(after), "originctl stats --json: the same counters as curl",
            p.stderr)
    p = subprocess.run([build_path("originctl"), "stats", f"127.0.0.1:{P['metrics']}"], capture_output=True,
                       text=True)
    line = re.search(r"^  listener=smtp protocol=smtp verdict=proxy-required +(\d+)$", p.stdout, re.M)
    t.check(p.returncode == 0 and line and int(line.group(1)) == value(
        after, "originmail_connections_total", listener="smtp", protocol="smtp", verdict="proxy-required"),
        "originctl stats: a readable table with the same figures", p.stdout[:500])
    t.check("(originmail_logins_total, counter)" in p.stdout and "Logins" in p.stdout,
            "originctl stats: each family under its help text")
    p = subprocess.run([build_path("originctl"), "stats", f"127.0.0.1:{free_port()}"], capture_output=True,
                       text=True)
    t.check(p.returncode == 1 and "cannot connect" in p.stderr, "originctl stats: nothing there: exit 1", p.stderr)

    # --- the endpoint's edges
    status, headers, _ = curl(f"http://127.0.0.1:{P['metrics']}/other")
    t.check(status == 404, "another path: 404", status)
    status, headers, _ = curl(URL, "-X", "POST")
    t.check(status == 405 and headers.get("allow") == "GET", "POST: 405 with Allow: GET", (status, headers))
    status, headers, _ = curl(URL, "-H", "X-Big: " + "x" * 2000)
    t.check(status == 431, "a request head over metrics_max_request: 431", status)
    start = time.monotonic()
    idle = [socket.create_connection(("127.0.0.1", P["metrics"])) for _ in range(3)]
    extra = socket.create_connection(("127.0.0.1", P["metrics"]))
    extra.settimeout(5)
    t.check(extra.recv(100) == b"", "more than metrics_max_clients: the extra connection is closed")
    idle[0].settimeout(5)
    reply = idle[0].recv(200)
    t.check(reply.startswith(b"HTTP/1.1 408"), "a silent client gets 408 after metrics_timeout", reply[:40])
    t.check(time.monotonic() - start < 4, "... within about metrics_timeout (1s)")
    for s in idle + [extra]:
        s.close()
    t.check(curl()[0] == 200, "the endpoint serves again afterwards")
    s = socket.create_connection(("127.0.0.1", P["metrics"]))
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    s.settimeout(5)
    raw = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    s.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    clen = re.search(rb"Content-Length: (\d+)", head)
    t.check(head.startswith(b"HTTP/1.1 200") and clen and int(clen.group(1)) == len(payload),
            "HTTP/1.0 request: Content-Length matches the body, then close")

    # --- SIGHUP keeps the counters; the SMTP listener still counts
    d.signal(signal.SIGHUP)
    t.check(d.wait_log("Reloaded"), "reload")
    reloaded = scrape("scrape after a reload")
    t.check(value(reloaded, "originmail_connections_total", listener="smtp", protocol="smtp",
                  verdict="proxy-required") == value(after, "originmail_connections_total", listener="smtp",
                                                     protocol="smtp", verdict="proxy-required"),
            "counters survive a reload")

    # --- each instance its own port: a second one on the same port refuses to start
    cfg2 = config.replace(f"bpf = on", "bpf = off").replace(f"address = 127.0.0.1:{P['smtp']}",
                                                            f"address = 127.0.0.1:{free_port()}").replace(
        f"address = 127.0.0.1:{P['imaps']}", f"address = 127.0.0.1:{free_port()}")
    d2 = Daemon(tmp, cfg2, name="second")
    daemons.append(d2)
    rc = d2.stop(timeout=10) if d2.proc.wait(10) is not None else None
    t.check(rc == 71 and f"cannot listen on 127.0.0.1 port {P['metrics']} (metrics)" in d2.log(),
            "a second instance on the same metrics port: exit 71 with the reason", (rc, d2.log()[-300:]))

    # --- a non-loopback address is a configuration error
    bad = tmp.file("bad.conf", config.replace(f"metrics = 127.0.0.1:{P['metrics']}", "metrics = 0.0.0.0:9154"))
    p = subprocess.run([build_path("originmaild"), "-t", "-c", bad], capture_output=True, text=True)
    t.check(p.returncode == 78 and "metrics must listen on a loopback address" in p.stderr,
            "metrics = 0.0.0.0:9154 refused: exit 78 with the reason", p.stderr)

    t.check(d.stop() == 0, "daemon stops")
finally:
    if hap:
        hap.stop()
    for dmn in daemons:
        dmn.stop()
    if os.path.isdir(PIN):
        for name in os.listdir(PIN):
            os.unlink(os.path.join(PIN, name))
        os.rmdir(PIN)
    if made_cg and os.path.isdir(CG):
        try:
            os.rmdir(CG)
        except OSError as e:
            print(f"metrics: cannot remove {CG}: {e}")
    tmp.cleanup()
t.check(not os.path.exists(PIN) and not os.path.exists(CG), "test pins and cgroup removed")
t.finish()
