"""Shared pieces of the integration tests: a pass/fail counter, free ports, a real HAProxy, a test CA.

Each test script prints one line per check and ends with "N passed, N failed"; its exit code is the
number of failures (capped), so scripts/run-integration.sh can add them up."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

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


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


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
