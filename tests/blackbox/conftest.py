"""Shared fixtures for black-box tests: they start the real sipsd on loopback and speak real bytes.

Environment (set by ctest): SIPSD_BUILD_DIR, SIPSD_SOURCE_DIR, SIPSD_TESTDATA.
"""
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

SOURCE_DIR = os.environ.get("SIPSD_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("SIPSD_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
TESTDATA = os.environ.get("SIPSD_TESTDATA", os.path.join(SOURCE_DIR, "..", "shared", "testdata"))

sys.path.insert(0, os.path.join(SOURCE_DIR, "tools", "labpki"))
import labpki  # noqa: E402


def sipsd_binary():
    """The daemon under test; SIPSD_BINARY picks another build of it (the ASan+UBSan one)."""
    return os.environ.get("SIPSD_BINARY") or os.path.join(BUILD_DIR, "src", "app", "sipsd")


def free_port(host="127.0.0.1", kind=socket.SOCK_STREAM):
    """A port that was free a moment ago on host (good enough on a loopback test address)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def loopback_addr():
    """A random 127.0.0.x address so parallel tests don't collide on ports."""
    return "127.0.0.%d" % random.randint(2, 250)


class Sipsd:
    """One sipsd process with a config written into a temp dir."""

    def __init__(self, workdir, config_text, name="sipsd.conf"):
        self.workdir = str(workdir)
        self.conf_path = os.path.join(self.workdir, name)
        # Each daemon gets its own management socket (the default lives in /run/sipsd).
        self.mgmt_sock = os.path.join(self.workdir, "mgmt.sock")
        if "[mgmt]" not in config_text:
            config_text += "\n[mgmt]\nsocket = %s\n" % self.mgmt_sock
        with open(self.conf_path, "w") as f:
            f.write(config_text)
        self.log_path = os.path.join(self.workdir, "sipsd.log")
        self.proc = None

    def start(self, wait_for="sipsd.started", timeout=10.0):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sipsd_binary(), "-c", self.conf_path, "-f"],
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        if wait_for:
            self.wait_log(wait_for, timeout)
        return self

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text, timeout=10.0, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(text) >= count:
                return
            if self.proc and self.proc.poll() is not None:
                raise AssertionError("sipsd exited (%s) before logging %r:\n%s" % (self.proc.returncode, text, self.log()))
            time.sleep(0.05)
        raise AssertionError("sipsd did not log %r within %.1fs:\n%s" % (text, timeout, self.log()))

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log_file.close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_check_config(path):
    return subprocess.run([sipsd_binary(), "--check-config", path], capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def demo_pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    labpki.demo(str(d))
    return str(d)


def tls_config(pki, host, port, mutual_auth="required", extra_global="", extra_tls="", extra_iface="", workers=2):
    return f"""[global]
workers = {workers}
shutdown_timeout = 5
domains = localhost
{extra_global}
[log]
level = debug

[tls:default]
certificate = {pki}/server.pem
private_key = {pki}/server.key
ca_list = {pki}/ca.pem
{extra_tls}
[interface:main]
listen = tls:{host}:{port}
tls = default
mutual_auth = {mutual_auth}
{extra_iface}
"""


def client_context(pki, user="alice", cert=True, server_hostname_check=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(pki, "ca.pem"))
    ctx.check_hostname = server_hostname_check
    if cert:
        ctx.load_cert_chain(os.path.join(pki, user + ".pem"), os.path.join(pki, user + ".key"))
    return ctx


def tls_connect(ctx, host, port, server_hostname="localhost", timeout=5.0):
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        s = ctx.wrap_socket(raw, server_hostname=server_hostname, suppress_ragged_eofs=False)
    except Exception:
        raw.close()
        raise
    s.settimeout(timeout)
    return s



class PeerServer:
    """A TLS server standing in for a trunk: records what sipsd sends, answers pings.

    Each accepted connection is owned by one thread (Python's ssl objects must not be used from
    two threads at once): other threads queue bytes with send() and ask for closes with
    drop_all()/close(), and the owning thread does the I/O."""

    def __init__(self, pki, host, port, cert="server", certfile=None, keyfile=None, cafile=None):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile or os.path.join(pki, cert + ".pem"),
                                 keyfile or os.path.join(pki, cert + ".key"))
        self.ctx.load_verify_locations(cafile or os.path.join(pki, "ca.pem"))
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.host, self.port = host, port
        self.accepted = 0
        self.pings = 0
        self.client_subjects = []
        self.stop = threading.Event()
        self.generation = 0  # drop_all() bumps it: connections of older generations close
        self.outbox = []
        self.lock = threading.Lock()
        self.workers = []
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, port))
        self.lsock.listen(8)
        self.lsock.settimeout(0.2)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.monotonic() + 60
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                raw, _ = self.lsock.accept()
            except (socket.timeout, OSError):
                continue
            try:
                raw.settimeout(5)
                c = self.ctx.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()
                continue
            self.accepted += 1
            self.client_subjects.append(c.getpeercert().get("subject"))
            t = threading.Thread(target=self._own, args=(c, self.generation), daemon=True)
            self.workers.append(t)
            t.start()

    def closing(self, gen):
        return self.stop.is_set() or gen != self.generation

    def send(self, data):
        """Queue bytes for the newest connection (sent by its owning thread)."""
        with self.lock:
            self.outbox.append(data)

    def flush(self, c):
        with self.lock:
            pending, self.outbox = self.outbox, []
        for d in pending:
            c.sendall(d)

    def _own(self, c, gen):
        try:
            self.serve(c, gen)
        finally:
            try:
                c.unwrap()
            except (ssl.SSLError, OSError, ValueError):
                pass
            c.close()

    def serve(self, c, gen):
        """The owning thread's loop: queued sends, then reads handed to on_data()."""
        c.settimeout(0.2)
        deadline = time.monotonic() + 60
        while not self.closing(gen) and time.monotonic() < deadline:
            self.flush(c)
            try:
                data = c.recv(65536)
            except socket.timeout:
                continue
            except (ssl.SSLError, OSError):
                return
            if not data:
                return
            self.on_data(c, data)

    def on_data(self, c, data):
        if b"\r\n\r\n" in data:
            self.pings += 1
            c.sendall(b"\r\n")

    def drop_all(self):
        """Close every open connection (with close_notify), as a restarting trunk would."""
        self.generation += 1
        for t in self.workers:
            t.join(5)
        self.workers = [t for t in self.workers if t.is_alive()]

    def close(self):
        self.stop.set()
        self.drop_all()
        self.lsock.close()
        self.thread.join(5)


@pytest.fixture
def sipsd_factory(tmp_path):
    started = []

    def make(config_text, **kw):
        d = tmp_path / ("sipsd%d" % len(started))
        d.mkdir()
        s = Sipsd(d, config_text, **kw)
        started.append(s)
        return s

    yield make
    for s in started:
        s.kill()
    # Under the sanitizer build a report in the log fails the test even if the SIP exchange
    # looked fine (the report may come from a code path no assertion watches).
    for s in started:
        text = s.log() if os.path.exists(s.log_path) else ""
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            assert marker not in text, "sanitizer report in %s:\n%s" % (s.log_path, text[-4000:])
