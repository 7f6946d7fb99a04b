"""A few-second smoke of every sipsbench scenario against the real sipsd: correctness only
(zero errors, the right number of operations, sessions actually resumed), never speed; and
its command line: bad values and an absent server end it at once with the reason.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import BUILD_DIR, free_port, labpki, loopback_addr, tls_config  # noqa: E402
from test_proxy import add_user  # noqa: E402

SIPSBENCH = os.path.join(BUILD_DIR, "tools", "sipsbench", "sipsbench")

pytestmark = pytest.mark.skipif(not os.access(SIPSBENCH, os.X_OK),
                                reason="sipsbench not built (%s)" % SIPSBENCH)


@pytest.fixture(scope="module")
def ua_certs(demo_pki, tmp_path_factory):
    """Three per-UA client certificates from the demo CA (user0..user2)."""
    d = str(tmp_path_factory.mktemp("uas"))
    ca = labpki.CA.load(demo_pki)
    for i in range(3):
        ca.issue("user%d" % i, dir=d, cn="user%d" % i, san_uri=["sip:user%d@localhost" % i],
                 eku=["clientAuth"])
    return d


@pytest.fixture
def server(sipsd_factory, demo_pki):
    host, port = loopback_addr(), None
    port = free_port(host)
    s = sipsd_factory(tls_config(demo_pki, host, port, workers=1,
                                 extra_tls="session_cache = yes\n"))
    # sipsbench's users: user0..userN with its default password.
    for i in range(12):
        add_user(s.conf_path, "user%d@localhost" % i, "secret")
    s.start()
    s.addr = (host, port)
    return s


def bench(server, pki, scenario, *extra, certs=None, timeout=60):
    host, port = server.addr
    ident = ["--cert-dir", certs] if certs else ["--cert", os.path.join(pki, "alice.pem"),
                                                 "--key", os.path.join(pki, "alice.key")]
    cmd = [SIPSBENCH, scenario, "-t", "%s:%d" % (host, port), "--ca", os.path.join(pki, "ca.pem"),
           "-p", str(server.proc.pid), "--json", "--no-progress", "--timeout", "5", "-d", "10"]
    cmd += ident + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert p.stdout.strip(), "no JSON from sipsbench (rc=%d):\n%s" % (p.returncode, p.stderr)
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res["rc"] = p.returncode
    res["stderr"] = p.stderr
    return res


def assert_clean(res, ops):
    assert res["errors"]["total"] == 0, res["stderr"]
    assert res["ops"] == ops, res["stderr"]
    assert res["rc"] == 0


def test_handshake(server, demo_pki):
    res = bench(server, demo_pki, "handshake", "-n", "40", "-c", "4", "--tls-version", "1.3")
    assert_clean(res, 40)
    assert res["handshakes"]["full"] == 40
    assert res["server"]["cpu_s"] >= 0


def test_handshake_per_ua_certs_and_sources(server, demo_pki, ua_certs):
    host, _ = server.addr
    res = bench(server, demo_pki, "handshake", "-n", "30", "-c", "3", "-u", "3",
                "-s", "127.0.0.2-127.0.0.4", certs=ua_certs)
    assert_clean(res, 30)
    assert res["client_certs"] == 3 and res["sources"] == 3


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_resume(server, demo_pki, version):
    res = bench(server, demo_pki, "resume", "-n", "30", "-c", "2", "-u", "4", "--tls-version", version)
    assert_clean(res, 30)
    # the session cache works: measured connections resume (seeding was the full handshakes)
    assert res["handshakes"]["resumed"] > 0, res["stderr"]


def test_idle_options(server, demo_pki):
    res = bench(server, demo_pki, "idle", "-u", "25", "--no-register", "--hold", "1", "-c", "5")
    assert_clean(res, 25)
    assert res["idle"]["held"] == 25 and res["idle"]["held_end"] == 25
    assert res["server"]["rss_kib_after"] > 0


def test_register(server, demo_pki):
    res = bench(server, demo_pki, "register", "-n", "20", "-u", "2", "-c", "2")
    assert_clean(res, 20)


def test_call(server, demo_pki):
    # 20 calls per second, one at a time: the server has nothing to do for ~50 ms before each
    # call after the first, so its worker must block (a voluntary context switch, counted
    # exactly across all its threads) at least 9 times. Within a call it need not: on a loaded
    # machine the client may answer before the server waits, or preempt it (CI saw 0.1 sleeps
    # per call unpaced). Its busy share comes from 10 ms CPU ticks, so only its range is checked.
    res = bench(server, demo_pki, "call", "-n", "10", "-u", "2", "-c", "1", "-r", "20")
    assert_clean(res, 10)
    srv = res["server"]
    assert srv["sleeps_per_op"] * 10 >= 9, srv
    assert srv["busy"] >= 0, srv
    assert srv["preemptions_per_op"] >= 0, srv
    assert srv["faults_per_op"] >= 0, srv
    # and the client reports its own CPU: near 100% of its core means it bounded the rate
    cli = res["client"]
    assert cli["cpu_us_per_op"] > 0 and 0 < cli["busy"] < 1.5, cli


TOUCHER = """
import mmap, sys, time
m = mmap.mmap(-1, 1 << 30)
sys.stdout.write("ready\\n"); sys.stdout.flush()
end = time.monotonic() + 20
off = 0
while time.monotonic() < end and off < (1 << 30):
    m[off] = 1  # first touch of a fresh page: one minor fault
    off += 4096
    time.sleep(0.0002)
"""


def test_page_faults_are_the_sampled_process_tree(server, demo_pki):
    """faults_per_op counts the minor page faults of the -p process: here a helper that touches a
    fresh page every ~0.2 ms (thousands of faults per second), so over 10 calls paced at 20/s
    the count is far above 0, and never above what /proc showed around the whole run."""
    toucher = subprocess.Popen([sys.executable, "-c", TOUCHER], stdout=subprocess.PIPE, text=True)
    try:
        assert toucher.stdout.readline().strip() == "ready"

        def minflt():
            with open("/proc/%d/stat" % toucher.pid) as f:
                return int(f.read().rsplit(")", 1)[1].split()[7])
        f0 = minflt()
        host, port = server.addr
        cmd = [SIPSBENCH, "call", "-t", "%s:%d" % (host, port), "--ca", os.path.join(demo_pki, "ca.pem"),
               "--cert", os.path.join(demo_pki, "alice.pem"), "--key", os.path.join(demo_pki, "alice.key"),
               "-p", str(toucher.pid), "--json", "--no-progress", "--timeout", "5", "-d", "10",
               "-n", "10", "-u", "2", "-c", "1", "-r", "20"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        f1 = minflt()
    finally:
        toucher.kill()
        toucher.wait()
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert p.returncode == 0 and res["ops"] == 10, p.stderr
    faults = res["server"]["faults_per_op"] * res["ops"]
    assert 100 < faults <= f1 - f0, (faults, f1 - f0)
    assert "page faults" in p.stderr


def strace_counts(cmd, calls, timeout=120):
    """Runs cmd under strace -f -c for the given syscalls; returns ({syscall: count}, rc)."""
    strace = shutil.which("strace")
    assert strace, "strace missing (make deps-test installs it)"
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        p = subprocess.run([strace, "-f", "-c", "-o", out.name, "-e", "trace=" + ",".join(calls)] + cmd,
                           capture_output=True, text=True, timeout=timeout)
        counts = {}
        for line in out.read().splitlines():
            f = line.split()
            # % time, seconds, usecs/call, calls, [errors,] syscall
            if len(f) >= 5 and f[-1] in calls and f[3].isdigit():
                counts[f[-1]] = int(f[3])
    return counts, p


def test_call_costs_the_client_few_syscalls(server, demo_pki):
    """sipsbench must stay cheaper per message than the server it loads. One read() per
    arrival (OpenSSL read-ahead, no read that only says EAGAIN), not two per TLS record plus
    one; and no RAND_bytes per Call-ID, tag or branch, each of which costs OpenSSL 3.0 a
    getpid() syscall (fork check). Counted over 200 calls, setup included: before, about 19
    read() and 6 getpid() per call; now about 7 and almost none (a few per TLS context and
    handshake)."""
    host, port = server.addr
    n = 200
    counts, p = strace_counts([SIPSBENCH, "call", "-t", "%s:%d" % (host, port),
                               "--ca", os.path.join(demo_pki, "ca.pem"),
                               "--cert", os.path.join(demo_pki, "alice.pem"),
                               "--key", os.path.join(demo_pki, "alice.key"),
                               "-u", "2", "-c", "1", "-n", str(n), "-d", "60", "--no-progress"],
                              ["read", "getpid"])
    summary = p.stdout + p.stderr
    assert p.returncode == 0 and "ops      %d " % n in summary, summary
    assert counts.get("read", 0) < 12 * n, counts
    assert counts.get("getpid", 0) < n // 2, counts


SOURCE_DIR = os.environ.get("SIPSD_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def test_machine_costs_tool():
    """bench_machine_costs (the machine facts of every bench result) prints both costs and
    refuses what is not a CPU number."""
    tool = os.path.join(BUILD_DIR, "bench", "machine", "bench_machine_costs")
    p = subprocess.run([tool, "0", "0"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    costs = json.loads(p.stdout)
    assert costs["syscall_us"] > 0 and costs["wakeup_msg_us"] > costs["syscall_us"], costs
    for bad in (["x", "0"], ["0", "-1"], ["0", "99999"], ["0"]):
        p = subprocess.run([tool] + bad, capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and p.stderr, (bad, p.stderr)


class FakeServer:
    """Stands in for a started server in compare.measure (alive: the test's own pid)."""
    name = "fake"

    def __init__(self, work, port, **kw):
        self.pid, self.port, self.error = os.getpid(), port, None

    def start(self, n_users):
        return True

    def stop(self):
        pass


class FakeRunner:
    """Returns the given page faults per op for each warm-up run (3 s), then plain results."""

    def __init__(self, faults):
        self.faults, self.calls = list(faults), []

    def run(self, server, scen, extra, timeout):
        self.calls.append(list(extra))
        f = self.faults.pop(0) if self.faults else 0.0
        return {"duration_s": 3.0, "ops": 100, "server": {"faults_per_op": f, "cpu_us_per_op": 10.0}}


@pytest.mark.parametrize("warmup_max,runs,spent", [(60, 3, 9.0), (5, 2, 6.0)])
def test_bench_warms_up_until_page_faults_settle(tmp_path, warmup_max, runs, spent):
    """make bench records nothing until a server's page faults per op fall to 0.05 (Kamailio's
    first call runs pay ~5 faults and 60% more CPU per call), or --warmup-max seconds passed."""
    sys.path.insert(0, os.path.join(SOURCE_DIR, "bench"))
    try:
        import compare
    finally:
        sys.path.pop(0)
    args = type("Args", (), dict(reps=1, duration=10.0, warmup_max=warmup_max, work=str(tmp_path),
                                 idle_conns=0, openssl_root=None))()
    sc = dict(id="call", scen="call", extra=["-d", "10", "-c", "50"])
    runner = FakeRunner([2.0, 0.5, 0.01, 0.0])
    reps, errors, warmups = compare.measure(args, runner, [("fake", FakeServer, {}, 5999)], sc)
    assert errors == {"fake": None} and len(reps["fake"]) == 1
    assert warmups["fake"] == spent
    assert len(runner.calls) == runs + 1  # the warm-ups, then the one recorded run
    assert all(c[c.index("-d") + 1] == "3" for c in runner.calls[:runs])
    assert runner.calls[-1][runner.calls[-1].index("-d") + 1] == "10"


def test_bench_results_name_the_command_that_made_them():
    """A results file says `make bench` only when bench/run.sh ran it; by hand, the exact
    compare.py command, so a partial run is never passed off as the full benchmark."""
    sys.path.insert(0, os.path.join(SOURCE_DIR, "bench"))
    try:
        import compare
    finally:
        sys.path.pop(0)
    args = type("Args", (), dict(openssl_root=None))()
    argv = ["--build", "build", "--out", "/tmp/x y.md", "--scenarios", "call"]
    assert compare.produced_by(args, argv, {"BENCH_VIA_RUN_SH": "1"}).startswith("`make bench`")
    assert compare.produced_by(args, argv, {}) == \
        "`python3 bench/compare.py --build build --out '/tmp/x y.md' --scenarios call`"


def test_bench_kamailio_writes_bindings_through(demo_pki, tmp_path):
    """make bench's register_durable_both: with KAM_UL_DB_MODE=1 Kamailio's usrloc writes each
    binding to its SQLite database (in WAL mode, as sipsd's store) before replying, so the
    durable-against-durable row compares like with like."""
    if not shutil.which("kamailio") and not os.path.exists("/usr/sbin/kamailio"):
        pytest.fail("kamailio missing (make deps-test installs it)")
    host = loopback_addr()
    port = free_port(host)
    work = str(tmp_path / "kam")
    start = os.path.join(SOURCE_DIR, "bench", "kamailio", "start.sh")
    p = subprocess.run([start, work, demo_pki, host, str(port), "4", "secret"], capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, KAM_UL_DB_MODE="1"))
    assert p.returncode == 0, p.stderr
    pid = int(p.stdout.split()[-1])
    try:
        r = subprocess.run([SIPSBENCH, "register", "-t", "%s:%d" % (host, port),
                            "--ca", os.path.join(demo_pki, "ca.pem"),
                            "--cert", os.path.join(demo_pki, "alice.pem"),
                            "--key", os.path.join(demo_pki, "alice.key"), "--digest-alg", "MD5",
                            "-u", "4", "-c", "2", "-n", "20", "-d", "30", "--no-progress"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        db = sqlite3.connect(os.path.join(work, "kamailio.db"))
        try:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            users = {row[0] for row in db.execute("SELECT username FROM location")}
        finally:
            db.close()
        assert users == {"user0", "user1", "user2", "user3"}, users
    finally:
        os.kill(pid, 15)


def test_idle_register(server, demo_pki):
    res = bench(server, demo_pki, "idle", "-u", "10", "--hold", "1", "-c", "5")
    assert_clean(res, 10)


def test_refuses_non_loopback_target():
    # Refused before any socket is opened: nothing is sent anywhere.
    p = subprocess.run([SIPSBENCH, "handshake", "-t", "192.0.2.1:5061", "-n", "1"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert "loopback" in p.stderr


@pytest.mark.parametrize("args,named", [
    (["-t", "nohost"], "-t/--target"),
    (["--tls-version", "1.1"], "--tls-version"),
    (["--digest-alg", "SHA1"], "--digest-alg"),
    (["-r", "5-"], "-r/--rate"),
    (["-u", "0"], "-u/--uas"),
])
def test_bad_option_value_names_the_option(args, named):
    p = subprocess.run([SIPSBENCH, "register", *args, "-n", "1"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert f"bad value for {named}: " in p.stderr, p.stderr


def test_no_server_ends_at_once_and_says_why():
    # Every UA fails its setup: nothing to measure, so no waiting out -d 30.
    port = free_port("127.0.0.1")
    t0 = time.monotonic()
    p = subprocess.run([SIPSBENCH, "register", "-t", f"127.0.0.1:{port}", "-d", "30", "-u", "5", "--no-progress"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert time.monotonic() - t0 < 10
    assert "none of the 5 UAs got through setup" in p.stderr, p.stderr
    assert "connect=5" in p.stdout and "no operation completed" in p.stdout, p.stdout


def listening(port):
    """True when some IPv4 socket listens on port (state 0A in /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                return True
    return False


@pytest.mark.parametrize("auto_chain,sent", [(False, 1), (True, 2)])
def test_ua_sends_the_chain_of_its_file(demo_pki, tmp_path, auto_chain, sent):
    """A UA presents what its certificate file holds (alice.pem: the leaf); --auto-chain lets
    OpenSSL's client add the root from --ca too. Counted in openssl s_server's trace of the
    client's Certificate message."""
    host = loopback_addr()
    port = free_port(host)
    trace = str(tmp_path / "trace.txt")
    srv = subprocess.Popen(["openssl", "s_server", "-accept", "%s:%d" % (host, port), "-naccept", "1",
                            "-cert", os.path.join(demo_pki, "server.pem"),
                            "-key", os.path.join(demo_pki, "server.key"),
                            "-CAfile", os.path.join(demo_pki, "ca.pem"), "-Verify", "4",
                            "-tls1_3", "-trace", "-msgfile", trace],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # stdin EOF would stop it
    try:
        # a probe connection would use up -naccept: watch the kernel's listening sockets
        deadline = time.monotonic() + 10
        while not listening(port):
            assert srv.poll() is None, "openssl s_server exited"
            assert time.monotonic() < deadline, "openssl s_server did not start"
            time.sleep(0.05)
        cmd = [SIPSBENCH, "handshake", "-t", "%s:%d" % (host, port), "-n", "1", "--timeout", "2",
               "-d", "5", "--no-progress", "--ca", os.path.join(demo_pki, "ca.pem"),
               "--cert", os.path.join(demo_pki, "alice.pem"),
               "--key", os.path.join(demo_pki, "alice.key")]
        if auto_chain:
            cmd.append("--auto-chain")
        # s_server answers no SIP: the operation times out after the handshake, which is all
        # this test needs
        subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    finally:
        # -naccept 1: it exits by itself once the connection is gone, flushing the trace
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
    text = open(trace).read()
    # the client's Certificate message is in a record the server received
    parts = re.split(r"^(Received Record|Sent Record)", text, flags=re.M)
    received = [body for mark, body in zip(parts[1::2], parts[2::2]) if mark == "Received Record"]
    client_cert = [r for r in received if "certificate_list" in r]
    assert client_cert, text[-2000:]
    assert client_cert[0].count("ASN.1Cert, length=") == sent, client_cert[0]
