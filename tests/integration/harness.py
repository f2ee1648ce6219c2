"""Shared pieces of the integration tests: a pass/fail counter, free ports, a real HAProxy, a test CA.

Each test script prints one line per check and ends with "N passed, N failed"; its exit code is the
number of failures (capped), so scripts/run-integration.sh can add them up."""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PIN_DIR = "/sys/fs/bpf/originmail"
# Each test script's daemons share a pin directory of their own (unless its configuration names one): test
# runs side by side on one host (a developer's and a CI's, a fresh-Debian check) then never see each other's
# instances, tries or origin counts.
TEST_PIN_DIR = f"/sys/fs/bpf/originmail-test-{os.getpid()}"


def remove_bpf_leftovers():
    """Daemons that dropped privileges cannot unpin the shared maps when they stop (docs/bpf.md); once no
    originmaild runs on the host the pins and the empty 'originmail' cgroup are only leftovers: remove them."""
    shutil.rmtree(TEST_PIN_DIR, ignore_errors=True)  # ours alone: every daemon of this script has stopped
    if subprocess.run(["pgrep", "-x", "originmaild"], capture_output=True).returncode == 0:
        return
    shutil.rmtree(PIN_DIR, ignore_errors=True)
    cg = cgroup2_mount()
    if cg:
        try:
            os.rmdir(os.path.join(cg, "originmail"))
        except OSError:
            pass


atexit.register(remove_bpf_leftovers)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build")


def build_path(name):
    return os.path.join(ROOT, BUILD, name)


class Checks:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print(f"ok   {self.name}: {what}")
        else:
            self.failed += 1
            print(f"FAIL {self.name}: {what} {detail}")
        sys.stdout.flush()
        return cond

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed")
        sys.exit(min(self.failed, 100))


_ports_given = set()


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A port nothing listens on now, never one this process was given before: the kernel may hand the
    same ephemeral port to two binds in a row once the first socket is closed (a test once got one port
    for two of its listeners)."""
    while True:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def wait_port(host, port, timeout=10.0):
    """Readiness by connecting, not by sleeping a fixed time."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect((host, port))
                return True
        except OSError:
            time.sleep(0.05)
    return False


class TempDir:
    def __init__(self, prefix="originmail-test-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def file(self, name, content=None):
        p = os.path.join(self.path, name)
        if content is not None:
            with open(p, "w") as f:
                f.write(content)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def make_cert(tmp, cn="mx.example.test"):
    """A self-signed certificate and key, made by the real openssl; returns (cert, key, pem with both)."""
    cert, key = tmp.file("cert.pem"), tmp.file("key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                    cert, "-days", "2", "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    both = tmp.file("both.pem", open(cert).read() + open(key).read())
    return cert, key, both


class HAProxy:
    """A real haproxy in the foreground (-db), started from a config text; stopped by PID."""

    def __init__(self, tmp, config):
        self.cfg = tmp.file("haproxy.cfg", config)
        check = subprocess.run(["haproxy", "-c", "-f", self.cfg], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("haproxy config invalid:\n" + check.stdout + check.stderr)
        self.log = open(tmp.file("haproxy.log"), "w")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def proxy_route(name, bind, *servers, frontend=()):
    """One route of haproxy_tcp: a frontend named name bound to bind (a port on 127.0.0.1, or a list of
    "ADDR:PORT [options]" strings), with any more frontend lines, to a backend of servers, each the text
    after "server sN" (its address and options); two or more are balanced round robin."""
    binds = [f"127.0.0.1:{bind}"] if isinstance(bind, int) else list(bind)
    lines = [f"frontend {name}"] + [f"    bind {b}" for b in binds] + [f"    {x}" for x in frontend]
    lines += [f"    default_backend b_{name}", f"backend b_{name}"]
    if len(servers) > 1:
        lines.append("    balance roundrobin")
    lines += [f"    server s{i + 1} {srv}" for i, srv in enumerate(servers)]
    return "\n".join(lines) + "\n"


def haproxy_tcp(ready, *routes, timeout="30s"):
    """A TCP-mode HAProxy configuration for a test: a frontend on 127.0.0.1:ready that refuses every
    connection (wait_port on it says HAProxy is up), then the routes (proxy_route texts, or any more
    configuration text)."""
    head = f"""global
    log stdout format raw local0 warning
defaults
    mode tcp
    timeout connect 3s
    timeout client {timeout}
    timeout server {timeout}
frontend ready
    bind 127.0.0.1:{ready}
    tcp-request connection reject
"""
    return head + "".join(routes)


def make_ca_and_cert(tmp, cn="mx1.example.test"):
    """A test CA and a server certificate it signed (SAN: cn, localhost, 127.0.0.1, ::1).
    Returns (ca_cert, server_cert, server_key)."""
    ca_key, ca_crt = tmp.file("ca.key"), tmp.file("ca.pem")
    key, csr, crt = tmp.file("server.key"), tmp.file("server.csr"), tmp.file("server.pem")
    # DNS:127.0.0.1 too: isync checks the host it was given against DNS names only, and a minimal Debian
    # may have no /etc/hosts to resolve "localhost".
    ext = tmp.file("ext.cnf", f"subjectAltName=DNS:{cn},DNS:localhost,IP:127.0.0.1,IP:::1,DNS:127.0.0.1\n")
    q = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
                    "-days", "2", "-subj", "/CN=originmail test CA"], **q)
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", f"/CN={cn}"], **q)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                    "-out", crt, "-days", "2", "-extfile", ext], **q)
    for p in (key, crt, ca_crt):
        os.chmod(p, 0o644)  # the daemon re-reads them on SIGHUP as its unprivileged user
    return ca_crt, crt, key


class Daemon:
    """build/originmaild with a config of the test's, in the foreground; log captured to a file."""

    def __init__(self, tmp, config_text, name="originmaild", env=None):
        self.tmp = tmp
        if "bpf_pin_dir" not in config_text:
            config_text = f"bpf_pin_dir = {TEST_PIN_DIR}\n" + config_text
        self.conf = tmp.file(name + ".conf", config_text)
        self.logpath = tmp.file(name + ".log")
        self.logf = open(self.logpath, "w")
        self.proc = subprocess.Popen([build_path("originmaild"), "-d", "-c", self.conf], stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=dict(os.environ, **env) if env else None)

    def wait_ready(self, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if "originmaild ready" in self.log():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def log(self):
        with open(self.logpath) as f:
            return f.read()

    def wait_log(self, text, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.log():
                return True
            time.sleep(0.05)
        return False

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        return self.proc.returncode


def server_sockopt(pid, client, level, optname):
    """An option of the daemon's own end of the TCP connection whose client end is the socket `client`
    (IPv4): its socket is found by inode in /proc/net/tcp and /proc/PID/fd, and borrowed through
    pidfd_getfd (Linux 5.6; root). None when it cannot be found."""
    import ctypes
    caddr, cport = client.getsockname()
    saddr, sport = client.getpeername()

    def hexaddr(addr, port):
        return "%08X:%04X" % (int.from_bytes(socket.inet_aton(addr), "little"), port)

    want = (hexaddr(saddr, sport), hexaddr(caddr, cport))
    inode = None
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if (cols[1], cols[2]) == want:
                inode = cols[9]
    if inode is None:
        return None
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != f"socket:[{inode}]":
                continue
        except OSError:
            continue
        pidfd = os.pidfd_open(pid)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            mine = libc.syscall(438, pidfd, int(fd), 0)  # SYS_pidfd_getfd
            if mine < 0:
                return None
            with socket.socket(fileno=mine) as borrowed:
                return borrowed.getsockopt(level, optname)
        finally:
            os.close(pidfd)
    return None


def set_password(config, user, password):
    p = subprocess.run([build_path("originctl"), "passwd", "-c", config, user], input=password + "\n",
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("originctl passwd failed: " + p.stderr)


def smtp_lines(sock, timeout=5.0):
    """Read one complete SMTP reply (all its lines) from a raw socket."""
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data.decode(errors="replace")
        data += chunk
        lines = data.split(b"\r\n")
        for line in lines[:-1]:
            if len(line) >= 4 and line[3:4] == b" ":
                return data.decode(errors="replace")


def connect_from(src, host, port, timeout=5.0):
    """A TCP connection from a chosen loopback source address (127.0.0.x or ::1)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect((host, port))
    return s


def maildir_files(root, user_at_domain, sub="new"):
    local, domain = user_at_domain.split("@")
    d = os.path.join(root, domain.lower(), local, "Maildir", sub)
    if not os.path.isdir(d):
        return []
    return [os.path.join(d, f) for f in sorted(os.listdir(d))]


def bpftool_dump(pinned):
    """`bpftool map dump pinned PATH -j` as a list of {"key", "value"} with BTF-named fields ([] if absent)."""
    p = subprocess.run(["bpftool", "map", "dump", "pinned", pinned, "-j"], capture_output=True, text=True)
    if p.returncode != 0:
        return []
    import json
    return [e.get("formatted", e) for e in json.loads(p.stdout or "[]")]


def cgroup2_mount():
    """Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts), or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0:1] == ["cgroup2"]:
                return left.split()[4]
    return None
