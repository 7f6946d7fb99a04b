#!/usr/bin/python3
"""Side-by-side benchmark of sipsd and Kamailio 5.6 on loopback (the `make bench` engine).

For every scenario: start both servers fresh, pinned with taskset to the same core(s), warm
each up with unrecorded runs until its page faults per op settle, run sipsbench (pinned to
the other core) three times against each, alternating the servers run by run so that the
machine's load drifts reach both,
keep the medians, stop the servers. Memory scenarios start one fresh server per run instead.
Both servers get the same certificates and CA, require client certificates, and keep a
TLS session cache. Writes a Markdown table (metric | Kamailio | sipsd | ratio) with the machine
facts and the exact commands, and prints it.

    compare.py --build BUILD_DIR --out bench/results/DATE.md [--only tls|sip] [--reps 3]
               [--duration 10] [--idle-conns 15000] [--servers sipsd,kamailio]

Everything is bounded: each sipsbench run has a duration or a count and a timeout, every
server is killed at the end (also on Ctrl-C), and only 127.0.0.x addresses are used.
"""

import argparse
import datetime
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE_DIR, "tools", "labpki"))
import labpki  # noqa: E402

SRC_RANGE = "127.0.0.2-127.0.0.60"
PASSWORD = "bench-secret"
# REGISTERs in flight: enough that each server, not the closed loop's waiting, sets the rate.
# sipsd's durable 200 waits for its group commit: with 32 in flight its worker idled (busy
# 81-82%, 0.35-0.38 sleeps and 39-41 µs per registration), with 64 it ran at 86-92% (0.14
# sleeps, 33.5-37 µs). Kamailio runs at 99-100% either way (87-88 µs at 64).
REGISTER_INFLIGHT = "64"
WARM_STEP_S = 3.0       # length of one unrecorded warm-up run
FAULTS_SETTLED = 0.05   # page faults per op below which a server counts as warmed up
NA_NOT_IMPL = "n/a (sipsd: not implemented yet)"


def log(msg):
    print("[bench] " + msg, file=sys.stderr, flush=True)


def wait_port(host, port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


# ---------------------------------------------------------------------------- PKI

def make_pki(work, n_uas):
    pki = os.path.join(work, "pki")
    labpki.demo(pki)
    ca = labpki.CA.load(pki)
    uas = os.path.join(pki, "uas")
    for i in range(n_uas):
        name = "user%d" % i
        ca.issue(name, dir=uas, cn=name, san_uri=["sip:%s@localhost" % name], eku=["clientAuth"])
    return pki, uas


# ---------------------------------------------------------------------------- servers

class Server:
    name = "?"

    def __init__(self, work, pki, cpus, port, loader=None):
        self.work, self.pki, self.cpus, self.port = work, pki, cpus, port
        self.loader = loader  # --openssl-root's DIR/loader: run on that OpenSSL (bench/openssl-root.sh)
        self.pid = None
        self.proc = None
        self.error = None

    def stop(self):
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.1)
        else:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.pid = None


class Sipsd(Server):
    name = "sipsd"

    def __init__(self, work, pki, cpus, port, binary, conf_extra="", loader=None):
        super().__init__(work, pki, cpus, port, loader)
        self.binary = binary
        self.conf_extra = conf_extra

    def config(self):
        return f"""# sipsd for the benchmark: one worker, mutual TLS required, session cache on.
[global]
workers = 1
shutdown_timeout = 2
domains = localhost

[log]
level = warning

[store]
path = {self.work}/sipsd.db

[tls:bench]
certificate = {self.pki}/server.pem
private_key = {self.pki}/server.key
ca_list = {self.pki}/ca.pem
session_cache = yes

[interface:bench]
listen = tls:127.0.0.1:{self.port}
tls = bench
mutual_auth = required
idle_timeout = 3600
""" + self.conf_extra

    def start(self, n_users):
        os.makedirs(self.work, exist_ok=True)
        if not os.access(self.binary, os.X_OK):
            self.error = "sipsd binary missing (%s)" % self.binary
            return False
        conf = os.path.join(self.work, "sipsd.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        # The same users as Kamailio's subscriber table, through sipsctl's batch import.
        sipsctl = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(self.binary))), "tools", "sipsctl",
                               "sipsctl")
        users = "".join("user%d@localhost %s\n" % (i, PASSWORD) for i in range(n_users))
        r = subprocess.run([sipsctl, "-c", conf, "user", "import"], input=users, text=True, capture_output=True,
                           timeout=600)
        if r.returncode != 0:
            self.error = "sipsctl user import failed: %s" % r.stderr.strip()
            return False
        self.cmd = (["taskset", "-c", self.cpus] + ([self.loader] if self.loader else [])
                    + [self.binary, "-c", conf, "-f"])
        self.logf = open(os.path.join(self.work, "sipsd.log"), "ab")
        self.proc = subprocess.Popen(self.cmd, stdout=self.logf, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        if not wait_port("127.0.0.1", self.port, 10, self.proc):
            self.error = "sipsd did not start (see %s/sipsd.log)" % self.work
            self.stop()
            return False
        return True


class Kamailio(Server):
    name = "kamailio"

    def __init__(self, work, pki, cpus, port, loader=None, env=None):
        super().__init__(work, pki, cpus, port, loader)
        self.env = env or {}

    def start(self, n_users):
        os.makedirs(self.work, exist_ok=True)
        if not shutil.which("kamailio") and not os.path.exists("/usr/sbin/kamailio"):
            self.error = "kamailio not installed (make deps-bench)"
            return False
        self.cmd = [os.path.join(HERE, "kamailio", "start.sh"), self.work, self.pki, "127.0.0.1",
                    str(self.port), str(n_users), PASSWORD, self.cpus]
        env = dict(os.environ, KAM_LOADER=self.loader or "", **self.env)
        p = subprocess.run(self.cmd, capture_output=True, text=True, timeout=60, env=env)
        if p.returncode != 0:
            self.error = "kamailio did not start: " + p.stderr.strip()[-300:]
            return False
        self.pid = int(p.stdout.strip().splitlines()[-1])
        return True


# ---------------------------------------------------------------------------- runs

class Runner:
    def __init__(self, args, sipsbench, pki, uas_dir, client_cpus):
        self.args, self.sipsbench, self.pki, self.uas = args, sipsbench, pki, uas_dir
        self.client_cpus = client_cpus
        self.commands = []

    def run(self, server, scen, extra, timeout):
        cmd = ["taskset", "-c", self.client_cpus, self.sipsbench, scen,
               "-t", "127.0.0.1:%d" % server.port, "-s", SRC_RANGE,
               "--cert-dir", self.uas, "--ca", os.path.join(self.pki, "ca.pem"),
               "--password", PASSWORD, "-p", str(server.pid), "--json", "--no-progress"] + extra
        shown = " ".join("$SERVER_PID" if c == str(server.pid) and i and cmd[i - 1] == "-p"
                         else shlex.quote(c) for i, c in enumerate(cmd))
        if shown not in self.commands:
            self.commands.append(shown)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"failed": "sipsbench timed out after %ds" % timeout}
        try:
            res = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {"failed": "no result (rc=%d): %s" % (p.returncode, p.stderr.strip()[-300:])}
        res["summary"] = p.stderr
        return res


def median_of(results, key_fn):
    vals = []
    for r in results:
        try:
            v = key_fn(r)
        except (KeyError, TypeError, ZeroDivisionError):
            v = None
        if v is not None:
            vals.append(v)
    return statistics.median(vals) if vals else None


# Scenario table: (id, sipsbench scenario, extra args, needs users, metrics)
def scenarios(args):
    d = str(args.duration)
    n = args.idle_conns
    return [
        dict(id="handshake", group="tls", scen="handshake",
             extra=["--tls-version", "1.3", "-d", d, "-c", "32", "-u", "1000"],
             title="full mutual-TLS 1.3 handshake (P-256 certificates)"),
        dict(id="resume13", group="tls", scen="resume",
             extra=["--tls-version", "1.3", "-d", d, "-c", "32", "-u", "256"],
             title="resumed TLS 1.3 handshake (session cache / tickets)"),
        dict(id="resume12", group="tls", scen="resume",
             extra=["--tls-version", "1.2", "-d", d, "-c", "32", "-u", "256"],
             title="resumed TLS 1.2 handshake (session ID)"),
        # Both servers answer MD5: sipsd offers SHA-512-256, SHA-256 and MD5 (RFC 8760),
        # Kamailio's auth_db MD5 only; without --digest-alg sipsbench would answer sipsd with
        # SHA-256 (the first it implements), a different digest.
        dict(id="register", group="sip", scen="register",
             extra=["-d", d, "-c", REGISTER_INFLIGHT, "-u", "200", "--digest-alg", "MD5"],
             title="REGISTER with digest (401, REGISTER+MD5 digest, 200)"),
        dict(id="register_volatile", group="sip", scen="register",
             extra=["-d", d, "-c", REGISTER_INFLIGHT, "-u", "200", "--digest-alg", "MD5"], sipsd_conf_extra="\n[registrar]\ndurable = no\n",
             title="REGISTER with digest, sipsd bindings in memory only ([registrar] durable = no, like "
                   "Kamailio's usrloc db_mode 0)"),
        # Durable against durable: Kamailio's usrloc writes each binding through to SQLite
        # (db_mode 1, WAL, synchronous FULL by default) before it replies, as sipsd's store
        # commits before its 200 (sipsd groups the commits of concurrent registrations).
        dict(id="register_durable_both", group="sip", scen="register",
             extra=["-d", d, "-c", REGISTER_INFLIGHT, "-u", "200", "--digest-alg", "MD5"],
             kamailio_env={"KAM_UL_DB_MODE": "1"},
             title="REGISTER with digest, both durable (Kamailio usrloc db_mode 1: written through to "
                   "SQLite in WAL mode before the reply, as sipsd's store commits before its 200)"),
        dict(id="call", group="sip", scen="call",
             extra=["-d", d, "-c", "50", "-u", "100"],
             title="call INVITE/180/200/ACK/BYE/200 through the proxy (record-route)"),
        # Opt-in (name it in --scenarios): the same calls at a fixed offered rate, below both
        # servers' maximum. CPU per call then includes a wake-up for most messages, as on a
        # server that is not saturated.
        dict(id="call_rate", group="sip", scen="call", opt_in=True,
             extra=["-d", d, "-c", "50", "-u", "100", "-r", str(args.call_rate)],
             title="call at a fixed %d calls/s (INVITE/180/200/ACK/BYE/200, record-route)" % args.call_rate),
        dict(id="idle", group="tls", scen="idle",
             extra=["-u", str(n), "--no-register", "-d", "120", "-c", "64", "--hold", "5",
                    "--timeout", "20"],
             title="idle mutual-TLS connections (OPTIONS once, then held)", fresh_each=True),
        dict(id="idle_registered", group="sip", scen="idle",
             extra=["-u", str(n), "-d", "180", "-c", "64", "--hold", "5", "--timeout", "20",
                    "--digest-alg", "MD5"],
             title="idle registered mutual-TLS connections (REGISTER with digest once, then held; "
                   "sipsd's bindings durable)", fresh_each=True),
    ]


def libssl_from(pid, root):
    """Whether process pid has mapped a libssl under root (the check that --openssl-root took)."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return any("/libssl.so" in line and line.split()[-1].startswith(root + "/") for line in f)
    except OSError:
        return False


def start_server(args, spec, sc, rep):
    sname, cls, kw, port = spec
    work = os.path.join(args.work, "%s-%s-%d" % (sname, sc["id"], rep))
    kw = dict(kw)
    if sname == "sipsd" and sc.get("sipsd_conf_extra"):
        kw["conf_extra"] = sc["sipsd_conf_extra"]
    if sname == "kamailio" and sc.get("kamailio_env"):
        kw["env"] = sc["kamailio_env"]
    server = cls(work=work, port=port, **kw)
    if not server.start(max(args.idle_conns, 1000)):
        return None, server.error
    if args.openssl_root and not libssl_from(server.pid, args.openssl_root):
        server.stop()
        return None, "%s did not map libssl from %s" % (sname, args.openssl_root)
    time.sleep(0.5)
    return server, None


def run_rep(args, runner, server, sc, rep):
    log("%s %s rep %d/%d" % (server.name, sc["id"], rep + 1, args.reps))
    timeout = (210 if sc["scen"] == "idle" else int(args.duration) + 140) + 60
    r = runner.run(server, sc["scen"], sc["extra"], timeout)
    if "failed" in r:
        log("  " + r["failed"])
    else:
        log("  ops=%s rate=%s cpu_us/op=%s errors=%s" % (
            r.get("ops"), r.get("rate"), r.get("server", {}).get("cpu_us_per_op"),
            r.get("errors", {}).get("total")))
    return r


def warm_extra(extra, seconds):
    """The scenario's sipsbench arguments with a shorter duration."""
    out = list(extra)
    if "-d" in out:
        out[out.index("-d") + 1] = "%g" % seconds
    return out


def alive(server):
    try:
        os.kill(server.pid, 0)
        return True
    except (ProcessLookupError, TypeError):
        return False


def measure(args, runner, specs, sc):
    """args.reps repetitions per server. Throughput scenarios keep one server of each kind up,
    warm each up until its page faults settle, and alternate them repetition by repetition
    (K S, S K, K S, ...), so a change in the machine's load during the scenario reaches both;
    the idle one sleeps in epoll. Memory scenarios start a fresh server per repetition, one
    server at a time. Returns (repetitions, errors, {server: seconds of warm-up})."""
    reps = {spec[0]: [] for spec in specs}
    errors = {spec[0]: None for spec in specs}
    warmups = {}
    if sc.get("fresh_each"):
        for spec in specs:
            for rep in range(args.reps):
                server, err = start_server(args, spec, sc, rep)
                if server is None:
                    errors[spec[0]] = err
                    break
                reps[spec[0]].append(run_rep(args, runner, server, sc, rep))
                ok = alive(server)
                server.stop()
                if not ok:
                    errors[spec[0]] = "%s exited during the run" % spec[0]
                    break
        return reps, errors, warmups
    servers = {}
    for spec in specs:
        servers[spec[0]], errors[spec[0]] = start_server(args, spec, sc, 0)
    # Unrecorded warm-up runs until the server's page faults per op settle: a server still
    # growing its memory pays a first touch per new page. Kamailio's call runs measured 5 faults
    # and 200+ µs per call in their first seconds, then ~0 faults and ~125 µs after about 40 s
    # of calls here; a single short warm-up left its first recorded run inflated.
    warm = warm_extra(sc["extra"], min(WARM_STEP_S, args.duration))
    for sname, server in servers.items():
        if server is None:
            continue
        spent = 0.0
        while True:
            r = runner.run(server, sc["scen"], warm, int(args.duration) + 200)
            spent += r.get("duration_s", 0.0)
            faults = r.get("server", {}).get("faults_per_op")
            log("%s %s warm-up (not recorded): %.0f s so far, %s page faults per op" % (
                sname, sc["id"], spent, "?" if faults is None else "%.3f" % faults))
            if faults is None or faults <= FAULTS_SETTLED or spent >= args.warmup_max:
                break
        warmups[sname] = spent
    try:
        for rep in range(args.reps):
            order = [spec[0] for spec in specs]
            if rep % 2:
                order.reverse()
            for sname in order:
                server = servers.get(sname)
                if server is None:
                    continue
                reps[sname].append(run_rep(args, runner, server, sc, rep))
                if not alive(server):  # a server that died mid-run invalidates the rest
                    errors[sname] = "%s exited during the run" % sname
                    server.stop()
                    servers[sname] = None
    finally:
        for server in servers.values():
            if server is not None:
                server.stop()
    return reps, errors, warmups


def paired_ratios(k_reps, s_reps, key_fn):
    """sipsd / Kamailio for each repetition measured back to back."""
    out = []
    for k, s in zip(k_reps, s_reps):
        try:
            kv, sv = key_fn(k), key_fn(s)
        except (KeyError, TypeError):
            continue
        if kv and sv is not None:
            out.append(sv / kv)
    return out


def summarize(sc, reps, error, is_sipsd):
    """Medians of the interesting numbers, or a reason string."""
    ok = [r for r in reps if "failed" not in r]
    if error and not ok:
        return error
    if not ok:
        return reps[0]["failed"] if reps else "no run"
    if all(r.get("ops", 0) == 0 for r in ok):
        errs = ok[0].get("errors", {})
        if is_sipsd and errs.get("bad_status", 0) > 0:
            return NA_NOT_IMPL
        kinds = ", ".join("%s=%d" % (k, v) for k, v in errs.items() if k != "total" and v)
        return "no successful operation (%s)" % (kinds or "no errors?")
    m = {
        "rate": median_of(ok, lambda r: r["rate"]),
        "cpu_us": median_of(ok, lambda r: r["server"]["cpu_us_per_op"]),
        "p50_ms": median_of(ok, lambda r: r["latency_us"]["p50"] / 1000.0),
        "p99_ms": median_of(ok, lambda r: r["latency_us"]["p99"] / 1000.0),
        "errors": median_of(ok, lambda r: r["errors"]["total"]),
        "resumed_pct": median_of(ok, lambda r: 100.0 * r["handshakes"]["resumed"] /
                                 max(1, r["handshakes"]["resumed"] + r["handshakes"]["full"])),
        "held": median_of(ok, lambda r: r["idle"]["held"]),
        "rss_kib": median_of(ok, lambda r: r["server"]["rss_kib_per_conn"]),
        "pss_kib": median_of(ok, lambda r: r["server"]["pss_kib_per_conn"]),
        "busy_pct": median_of(ok, lambda r: 100.0 * r["server"]["busy"]),
        "sleeps": median_of(ok, lambda r: r["server"]["sleeps_per_op"]),
        "faults": median_of(ok, lambda r: r["server"]["faults_per_op"]),
        "client_busy_pct": median_of(ok, lambda r: 100.0 * r["client"]["busy"]),
        "reps": len(ok),
    }
    if m["cpu_us"]:
        m["per_core"] = 1e6 / m["cpu_us"]
    return m


# ---------------------------------------------------------------------------- report

def fmt(v, unit=""):
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if abs(v) >= 100:
        s = "{:,.0f}".format(v)
    elif abs(v) >= 10:
        s = "%.1f" % v
    else:
        s = "%.2f" % v
    return s + unit


def rows_for(sc):
    sid = sc["id"]
    if sid == "idle":
        return [("idle connections held", "held", "", None),
                ("server RSS per idle connection, KiB (lower is better)", "rss_kib", "", "low"),
                ("server PSS per idle connection, KiB (lower is better)", "pss_kib", "", "low")]
    if sid == "idle_registered":
        return [("idle registered connections held", "held", "", None),
                ("server RSS per idle registered connection, KiB (lower is better)", "rss_kib", "", "low"),
                ("server PSS per idle registered connection, KiB (lower is better)", "pss_kib", "", "low")]
    unit = {"handshake": "handshakes", "resume": "resumptions", "register": "registrations",
            "call": "calls"}[sc["scen"]]
    bound = "offered rate" if "-r" in sc["extra"] else "client-bound, higher is better"
    rows = [("%s: %s/s (%s)" % (sc["title"], unit, bound), "rate", "", "high"),
            ("%s: server CPU µs per op (lower is better)" % sid, "cpu_us", "", "low"),
            ("%s: %s/s per server core (= 1 s / CPU per op)" % (sid, unit), "per_core", "", "high"),
            ("%s: latency p50 / p99 ms" % sid, "lat", "", None),
            # Why CPU per op depends on load: a server below saturation sleeps between messages
            # and pays for each wake-up (see "Reading the CPU rows").
            ("%s: server busy, %% of one core" % sid, "busy_pct", "", None),
            ("%s: server sleeps (voluntary context switches) per op" % sid, "sleeps", "", None),
            # A server still warming up (first touches of memory) pays page faults: each run
            # starts once they have settled (the warm-up row), so this stays near 0.
            ("%s: server page faults per op" % sid, "faults", "", None),
            ("%s: unrecorded warm-up before the runs, s (until page faults per op <= %g)" % (sid, FAULTS_SETTLED),
             "warmup_s", "", None),
            ("%s: sipsbench busy, %% of its core (near 100: the client bounded the rate)" % sid,
             "client_busy_pct", "", None)]
    if sid.startswith("resume"):
        rows.append(("%s: handshakes actually resumed, %%" % sid, "resumed_pct", "", None))
    return rows


def cell(m, key):
    if isinstance(m, str):
        return m
    if key == "lat":
        return "%s / %s" % (fmt(m["p50_ms"]), fmt(m["p99_ms"]))
    return fmt(m.get(key))


def ratio(k, s, key, better):
    if isinstance(k, str) or isinstance(s, str) or key == "lat" or better is None:
        return ""
    kv, sv = k.get(key), s.get(key)
    if not kv or sv is None:
        return ""
    return "%.2f×" % (sv / kv)


def produced_by(args, argv, env):
    """How a results file says it was made: bench/run.sh marks `make bench`; run by hand, the
    exact compare.py command."""
    if env.get("BENCH_VIA_RUN_SH"):
        how = "`make bench`" if not args.openssl_root else "`BENCH_OPENSSL_ROOT=%s make bench`" % args.openssl_root
        return how + " (bench/run.sh → bench/compare.py)"
    return "`" + " ".join(shlex.quote(a) for a in ["python3", "bench/compare.py"] + list(argv)) + "`"


def machine_costs(build, server_cpus, client_cpus):
    """Syscall and wake-up cost measured by bench_machine_costs on the benchmark's own cores."""
    tool = os.path.join(build, "bench", "machine", "bench_machine_costs")
    if not os.access(tool, os.X_OK):
        return None
    try:
        p = subprocess.run([tool, server_cpus.split(",")[0].split("-")[0], client_cpus.split(",")[0].split("-")[0]],
                           capture_output=True, text=True, timeout=60)
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        return None


def machine_facts(openssl_root=None, costs=None):
    facts = []
    facts.append(("cores (nproc)", subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()))
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    facts.append(("CPU", line.split(":", 1)[1].strip()))
                    break
    except OSError:
        pass
    facts.append(("kernel", os.uname().release))
    facts.append(("OpenSSL", subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()))
    if openssl_root:
        v = subprocess.run([os.path.join(openssl_root, "loader"), os.path.join(openssl_root, "root/usr/bin/openssl"),
                            "version"], capture_output=True, text=True).stdout.strip()
        facts.append(("OpenSSL of both servers (--openssl-root %s, checked in /proc/PID/maps)" % openssl_root,
                      v or "?"))
    if costs:
        facts.append(("syscall cost (getpid, bench_machine_costs)", "%.2f µs" % costs["syscall_us"]))
        facts.append(("CPU per message of a process that sleeps in epoll_wait between one-byte "
                      "messages from the client core (3 syscalls + 1 wake-up, bench_machine_costs)",
                      "%.1f µs" % costs["wakeup_msg_us"]))
    kv = subprocess.run(["sh", "-c", "kamailio -v 2>/dev/null | head -1"], capture_output=True, text=True).stdout.strip()
    facts.append(("Kamailio", kv or "not installed"))
    gv = subprocess.run(["git", "-C", SOURCE_DIR, "describe", "--always", "--dirty"], capture_output=True,
                        text=True).stdout.strip()
    facts.append(("sipsd tree", gv or "?"))
    try:
        with open("/proc/loadavg") as f:
            facts.append(("load average at start", f.read().split()[0]))
    except OSError:
        pass
    return facts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", choices=["tls", "sip"], default=None)
    ap.add_argument("--scenarios", default=None, help="comma list of scenario ids")
    ap.add_argument("--servers", default="kamailio,sipsd")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--idle-conns", type=int, default=15000)
    ap.add_argument("--call-rate", type=int, default=6000, help="calls/s of the opt-in call_rate scenario")
    ap.add_argument("--ua-certs", type=int, default=200)
    ap.add_argument("--warmup-max", type=float, default=90,
                    help="seconds of unrecorded warm-up per server and scenario at most (until page faults settle)")
    ap.add_argument("--work", default=None)
    ap.add_argument("--openssl-root", default=None,
                    help="run both servers on the OpenSSL that bench/openssl-root.sh put in this directory")
    args = ap.parse_args()
    loader = None
    if args.openssl_root:
        args.openssl_root = os.path.abspath(args.openssl_root)
        loader = os.path.join(args.openssl_root, "loader")
        if not os.access(loader, os.X_OK):
            sys.exit("bench: %s missing: run bench/openssl-root.sh %s first" % (loader, args.openssl_root))

    build = os.path.abspath(args.build)
    sipsbench = os.path.join(build, "tools", "sipsbench", "sipsbench")
    sipsd_bin = os.path.join(build, "src", "app", "sipsd")
    if not os.access(sipsbench, os.X_OK):
        sys.exit("bench: %s missing: build first (make bench does)" % sipsbench)
    args.work = args.work or tempfile.mkdtemp(prefix="sipsd-bench-")
    ncpu = os.cpu_count() or 1
    server_cpus = os.environ.get("BENCH_SERVER_CPUS", str(ncpu - 1))
    client_cpus = os.environ.get("BENCH_CLIENT_CPUS", "0" if ncpu > 1 else "0")

    started = time.time()
    log("work dir %s; PKI with %d UA certificates" % (args.work, args.ua_certs))
    pki, uas = make_pki(args.work, args.ua_certs)
    runner = Runner(args, sipsbench, pki, uas, client_cpus)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    scs = [sc for sc in scenarios(args) if (args.only is None or sc["group"] == args.only)]
    if args.scenarios:
        want = set(args.scenarios.split(","))
        scs = [sc for sc in scs if sc["id"] in want]
    else:
        scs = [sc for sc in scs if not sc.get("opt_in")]

    results = {}
    ports = {"kamailio": 5071, "sipsd": 5081}
    paired = {}
    specs = []
    for sname in servers:
        if sname == "sipsd":
            specs.append((sname, Sipsd, dict(pki=pki, cpus=server_cpus, binary=sipsd_bin, loader=loader),
                          ports[sname]))
        else:
            specs.append((sname, Kamailio, dict(pki=pki, cpus=server_cpus, loader=loader), ports[sname]))
    try:
        for sc in scs:
            reps, errs, warmups = measure(args, runner, specs, sc)
            for sname in servers:
                results[(sc["id"], sname)] = summarize(sc, reps[sname], errs[sname], sname == "sipsd")
                if isinstance(results[(sc["id"], sname)], dict) and sname in warmups:
                    results[(sc["id"], sname)]["warmup_s"] = warmups[sname]
            if not sc.get("fresh_each") and "sipsd" in reps and "kamailio" in reps:
                ok = lambda rs: [r for r in rs if "failed" not in r]
                paired[sc["id"]] = paired_ratios(ok(reps["kamailio"]), ok(reps["sipsd"]),
                                                 lambda r: r["server"]["cpu_us_per_op"])
    except KeyboardInterrupt:
        log("interrupted: writing what was measured")

    # -------- report
    costs = machine_costs(args.build, server_cpus, client_cpus)
    date = datetime.date.today().isoformat()
    out = []
    out.append("# sipsd vs Kamailio — %s" % date)
    out.append("")
    out.append("Produced by " + produced_by(args, sys.argv[1:], os.environ) + ", %d repetitions per "
               "scenario, medians; %.0f s per throughput run; wall time %.0f s. Throughput runs "
               "follow unrecorded warm-up runs per server (until its page faults per op settle) and alternate the two servers (Kamailio, sipsd, then sipsd, Kamailio, ...); the CPU rows "
               "also give the ratio of each back-to-back pair." %
               (args.reps, args.duration, time.time() - started))
    out.append("")
    out.append("| metric | Kamailio | sipsd | ratio sipsd/Kamailio |")
    out.append("| --- | --- | --- | --- |")
    for sc in scs:
        k = results.get((sc["id"], "kamailio"), "not run")
        s = results.get((sc["id"], "sipsd"), "not run")
        if isinstance(k, str) and isinstance(s, str):
            out.append("| %s | %s | %s | |" % (sc["title"], k, s))
            continue
        for label, key, _, better in rows_for(sc):
            rt = ratio(k, s, key, better)
            pr = paired.get(sc["id"])
            if key == "cpu_us" and rt and pr:
                rt += " (by repetition: %s)" % ", ".join("%.2f" % x for x in pr)
            out.append("| %s | %s | %s | %s |" % (label, cell(k, key), cell(s, key), rt))
    out.append("")
    out.append("## Machine")
    out.append("")
    for k, v in machine_facts(args.openssl_root, costs):
        out.append("- %s: %s" % (k, v))
    out.append("- pinning: servers on CPU %s (taskset), sipsbench on CPU %s, one sipsbench thread"
               % (server_cpus, client_cpus))
    out.append("")
    out.append("## Reading the CPU rows")
    out.append("")
    out.append("CPU per op is the server's CPU time over the run divided by the operations completed. "
               "A server that keeps up with sipsbench's single core sleeps between messages and pays "
               "for every wake-up (the \"sleeps per op\" row; the machine facts give the cost of one "
               "message with a wake-up), while a saturated server (busy near 100%) handles several "
               "messages per wake-up and pays almost none. The faster server is therefore charged for "
               "its idle time, the more so where wake-ups cost much (a virtual machine, see the "
               "machine facts); the opt-in call_rate scenario measures both servers below "
               "saturation. Compare ratios only between runs whose machine facts agree.")
    out.append("")
    out.append("## How the two servers were set up")
    out.append("")
    out.append("- Same PKI generated at bench time with tools/labpki (P-256 keys): server.pem/.key, "
               "ca.pem, and %d per-UA client certificates (UA i presents user(i mod %d)); "
               "mutual TLS required by both; TLS 1.2–1.3; the client offers OpenSSL's default "
               "groups (X25519 first). Each UA sends the chain its certificate file holds, the "
               "leaf only (without `--auto-chain`, sipsbench stops OpenSSL's client from adding "
               "the root CA of `--ca`, which a server must not need, RFC 8446 4.4.2; with it, "
               "sipsd measured about 90 µs more per handshake and 4 KiB more per idle "
               "connection)." % (args.ua_certs, args.ua_certs))
    out.append("- sipsd: `workers = 1`, `session_cache = yes`, `mutual_auth = required` "
               "(config written per run into the work dir).")
    out.append("- Kamailio 5.6 (bench/kamailio/kamailio.cfg, tls.cfg.in, start.sh): tls module with "
               "`session_cache=1`, `ssl_release_buffers=1`, `require_certificate=yes`; sl answers "
               "OPTIONS; registrar + auth_db over SQLite (Kamailio's own schema from the package, "
               "HA1 stored as sipsd stores it, `calculate_ha1=no`), **usrloc in memory (db_mode 0)** except in register_durable_both (db_mode 1, write-through, the SQLite database in WAL mode), dropping contacts whose TLS "
               "connection closed (`handle_lost_tcp=1`, checked every second, as sipsd skips failed "
               "flows: otherwise each INVITE forks to the dead contacts of earlier repetitions); "
               "tm + rr for calls; "
               "TLSF memory manager (`-x tlsf`, the qm default with debugging was ~4× slower per "
               "handshake here); shared memory 3 GiB.")
    out.append("- Kamailio runs with **tcp_children=1**: 5.6 on Debian 12 with OpenSSL 3 crashes with "
               "a double free in its tls module under concurrent handshakes when tcp_children > 1. "
               "The fair comparison is therefore server CPU time per operation (CPU seconds of the "
               "server's whole process tree / completed operations, from /proc utime+stime), which "
               "does not depend on the process count; throughput rows are bounded by the single "
               "client core on this machine.")
    out.append("- Memory per idle connection: (server memory after opening N connections − before) / "
               "N, where RSS sums VmRSS and PSS sums Pss (smaps_rollup) over the server's process "
               "tree. PSS is the fair number for multi-process Kamailio (its shared memory is "
               "mapped by every child); for single-process sipsd RSS and PSS agree.")
    out.append("- Calls are not digest-challenged (the UAs are authenticated by mutual TLS); "
               "registrations are, with MD5 on both servers (`--digest-alg MD5`: sipsd's 401 "
               "offers SHA-512-256, SHA-256 and MD5, RFC 8760; Kamailio's auth_db offers MD5).")
    out.append("")
    out.append("## Commands")
    out.append("")
    out.append("```")
    for c in runner.commands:
        out.append(c.replace(args.work, "$WORK"))
    out.append("```")
    out.append("")
    notes = [(key, v) for key, v in results.items() if isinstance(v, str)]
    if notes:
        out.append("## Not measured")
        out.append("")
        for (sid, sname), v in notes:
            out.append("- %s / %s: %s" % (sid, sname, v))
        out.append("")
    text = "\n".join(out)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    with open(os.path.join(args.work, "raw.json"), "w") as f:
        json.dump({"%s/%s" % k: v for k, v in results.items()}, f, indent=1, default=str)


if __name__ == "__main__":
    main()
