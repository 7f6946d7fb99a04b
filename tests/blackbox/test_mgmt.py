"""Management API and sipsctl against a running sipsd with real TLS connections (issue 8):
every endpoint and sipsctl command, the HTTPS listener's mutual TLS, the trust store round trip
with reload, probe's reasons for the TLS matrix's bad certificates, metrics moving with each
handshake failure reason, expiry alarms for a certificate made at test time to expire in 5 days,
and run-time key logging with automatic switch-off."""
import http.client
import json
import os
import re
import socket
import ssl
import stat
import subprocess
import time

import pytest

import labpki
from conftest import BUILD_DIR, PeerServer, free_port, loopback_addr
from test_transport import options, read_response


def sipsctl_binary():
    return os.path.join(BUILD_DIR, "tools", "sipsctl", "sipsctl")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def api(sock, method, path, body=None, raw=False):
    c = UnixHTTPConnection(sock)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    if raw:
        return r.status, data.decode()
    return r.status, json.loads(data) if data else None


def ctl(sock, *args, check=True, timeout=30):
    p = subprocess.run([sipsctl_binary(), "-s", sock] + list(args), capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("mgmtpki"))
    ca = labpki.CA.create(os.path.join(d, "ca"), name="mgmt test root CA")
    evil = labpki.CA.create(os.path.join(d, "evil"), name="other CA")
    leaves = os.path.join(d, "leaves")
    os.makedirs(leaves)
    cli = dict(eku=["clientAuth"], dir=leaves)
    srv = dict(eku=["serverAuth", "clientAuth"], dir=leaves)
    p = {"dir": d, "ca": ca, "evil": evil}
    p["server"] = ca.issue("server", cn="localhost", san_dns=["localhost"], san_ip=["127.0.0.1"],
                           san_uri=["sip:localhost"], **srv)
    p["server_5d"] = ca.issue("server-5d", cn="localhost", san_dns=["localhost"], san_ip=["127.0.0.1"],
                              san_uri=["sip:localhost"], not_after=5, **srv)
    p["good"] = ca.issue("good", san_uri=["sip:alice@localhost"], **cli)
    p["admin"] = ca.issue("admin", san_uri=["sip:admin@localhost"], **cli)
    p["soon"] = ca.issue("soon", san_uri=["sip:soon@localhost"], not_after=5, **cli)
    p["unknown_ca"] = evil.issue("unknown", san_uri=["sip:mallory@localhost"], **cli)
    p["expired"] = ca.issue("expired", san_uri=["sip:old@localhost"], not_before=-30, not_after=-1, **cli)
    p["not_yet_valid"] = ca.issue("future", san_uri=["sip:new@localhost"], not_before=5, not_after=30, **cli)
    p["server_eku_only"] = ca.issue("srvonly", san_uri=["sip:eku@localhost"], eku=["serverAuth"], dir=leaves)
    # server certificates for probe's matrix (sipsctl is the TLS client)
    p["peer_good"] = ca.issue("peer-good", san_dns=["trunk.sipsd.test"], **srv)
    p["peer_unknown_ca"] = evil.issue("peer-evil", san_dns=["trunk.sipsd.test"], **srv)
    p["peer_expired"] = ca.issue("peer-expired", san_dns=["trunk.sipsd.test"], not_before=-30, not_after=-1, **srv)
    p["peer_not_yet_valid"] = ca.issue("peer-future", san_dns=["trunk.sipsd.test"], not_before=5, not_after=30, **srv)
    p["peer_other_name"] = ca.issue("peer-other", san_dns=["other.sipsd.test"], **srv)
    p["peer_uri_wins"] = ca.issue("peer-uri", san_uri=["sip:carrier.sipsd.test"], san_dns=["trunk.sipsd.test"], **srv)
    p["peer_wildcard"] = ca.issue("peer-wild", san_dns=["*.sipsd.test"], **srv)
    p["peer_client_eku"] = ca.issue("peer-clieku", san_dns=["trunk.sipsd.test"], eku=["clientAuth"], dir=leaves)
    return p


def mgmt_conf(p, workdir, host, port, server="server", mgmt_extra="", tls_extra="", extra="", https=None):
    s = p[server]
    sock = os.path.join(str(workdir), "sipsd.sock")
    https_lines = f"listen = {https[0]}:{https[1]}\ntls = default\n" if https else ""
    return sock, f"""[global]
workers = 2
domains = localhost
[log]
level = debug
[store]
path = {workdir}/sipsd.db
[mgmt]
socket = {sock}
{https_lines}{mgmt_extra}
[tls:default]
certificate = {s.chain}
private_key = {s.key}
ca_list = {p['ca'].cert}
{tls_extra}
[interface:main]
listen = tls:{host}:{port}
tls = default
mutual_auth = required
{extra}"""


def client_ctx(p, leaf=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(p["ca"].cert)
    ctx.check_hostname = False
    if leaf is not None:
        ctx.load_cert_chain(leaf.chain, leaf.key)
    return ctx


def connect(host, port, ctx):
    raw = socket.create_connection((host, port), timeout=5)
    try:
        return ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
    except Exception:
        raw.close()
        raise


def attempt(host, port, ctx):
    """Handshake + OPTIONS; True when a 200 came back."""
    try:
        s = connect(host, port, ctx)
        s.sendall(options())
        ok = read_response(s).startswith("SIP/2.0 200")
        s.close()
        return ok
    except (ssl.SSLError, OSError):
        return False


@pytest.fixture
def daemon(sipsd_factory, pki, tmp_path):
    def make(**kw):
        host = loopback_addr()
        port = free_port(host)
        wd = tmp_path / ("d%d" % len(os.listdir(tmp_path)))
        wd.mkdir()
        sock, text = mgmt_conf(pki, wd, host, port, **kw)
        s = sipsd_factory(text).start()
        s.wait_log("transport.listening")
        s.wait_log("mgmt.listening")
        s.host, s.port, s.sock, s.wd = host, port, sock, wd
        return s
    return make


# ---------------------------------------------------------------- status, index, errors

def test_socket_mode_status_and_index(daemon):
    s = daemon()
    assert stat.S_IMODE(os.stat(s.sock).st_mode) == 0o660
    st, v = api(s.sock, "GET", "/status")
    assert st == 200
    assert v["version"] and v["workers"] == 2 and v["uptime_s"] >= 0
    assert v["interfaces"][0]["name"] == "main"
    assert v["interfaces"][0]["listen"] == [f"tls:{s.host}:{s.port}"]
    assert v["tls_contexts"][0]["name"] == "default" and v["tls_contexts"][0]["days_left"] >= 360
    assert v["incomplete"] is False
    st, idx = api(s.sock, "GET", "/")
    paths = {e["path"] for e in idx}
    assert {"/status", "/connections", "/peers", "/certificates", "/trust", "/reload", "/registrations",
            "/metrics", "/keylog"} <= paths
    assert api(s.sock, "GET", "/nope")[0] == 404
    assert api(s.sock, "POST", "/status")[0] == 405
    out = ctl(s.sock, "status").stdout
    assert "INTERFACE" in out and "main" in out and "default" in out
    j = json.loads(ctl(s.sock, "status", "--json").stdout)
    assert j["workers"] == 2
    assert "mgmt.request" in s.log()
    # sipsctl finds the socket through the configuration too
    p = subprocess.run([sipsctl_binary(), "-c", s.conf_path, "status", "--json"], capture_output=True, text=True)
    assert p.returncode == 0 and json.loads(p.stdout)["pid"] == s.proc.pid


def test_socket_of_a_live_daemon_is_not_stolen(daemon, sipsd_factory, pki, tmp_path):
    s = daemon()
    host = loopback_addr()
    port = free_port(host)
    _, text = mgmt_conf(pki, s.wd, host, port)
    other = sipsd_factory(text.replace(f"socket = {s.sock}", f"socket = {s.sock}")).start()
    other.wait_log("mgmt.socket_unavailable")
    assert api(s.sock, "GET", "/status")[1]["pid"] == s.proc.pid


# ---------------------------------------------------------------- connections

def test_connections_table_and_close(daemon, pki):
    s = daemon()
    c = connect(s.host, s.port, client_ctx(pki, pki["good"]))
    c.sendall(options())
    assert read_response(c).startswith("SIP/2.0 200")
    st, v = api(s.sock, "GET", "/connections")
    assert st == 200 and v["incomplete"] is False
    rows = [r for r in v["connections"] if r["remote"].endswith(":%d" % c.getsockname()[1])]
    assert len(rows) == 1, v
    r = rows[0]
    assert r["transport"] == "tls" and r["direction"] == "in" and r["interface"] == "main"
    assert r["local"] == f"{s.host}:{s.port}" and r["state"] == "up"
    assert r["tls_version"] == "TLSv1.3" and r["cipher"].startswith("TLS_")
    assert r["sni"] == "localhost"
    assert "good" in r["subject"] and "sip:alice@localhost" in r["sans"]
    assert r["verify"] == "ok" and r["verified"] is True
    assert r["days_left"] >= 360 and r["not_after"].endswith("Z")
    assert r["bytes_in"] > 0 and r["bytes_out"] > 0 and r["age_s"] >= 0
    # sipsctl connections: table and JSON
    out = ctl(s.sock, "connections").stdout
    assert str(r["id"]) in out and "TLSv1.3" in out
    assert ctl(s.sock, "connections", "--wide").stdout.count("sip:alice@localhost") == 1
    j = json.loads(ctl(s.sock, "connections", "--json").stdout)
    assert any(x["id"] == r["id"] for x in j["connections"])
    # close it: the client sees close_notify (a clean TLS EOF, not a ragged one)
    p = ctl(s.sock, "conn", "close", str(r["id"]))
    assert "closed" in p.stdout
    c.settimeout(5)
    assert c.recv(100) == b""
    c.close()
    assert all(x["id"] != r["id"] for x in api(s.sock, "GET", "/connections")[1]["connections"])
    assert api(s.sock, "DELETE", "/connections/%d" % r["id"])[0] == 404
    assert api(s.sock, "DELETE", "/connections/abc")[0] == 400
    assert ctl(s.sock, "conn", "close", str(r["id"]), check=False).returncode == 1


# ---------------------------------------------------------------- peers

def test_peers_table(daemon, pki):
    host = loopback_addr()
    port = free_port(host)
    peer = PeerServer(pki["dir"], host, port, certfile=pki["peer_good"].chain, keyfile=pki["peer_good"].key,
                      cafile=pki["ca"].cert)
    try:
        s = daemon(extra=f"""
[peer:trunk]
uri = sips:{host}:{port}
tls = default
identity = trunk.sipsd.test
persistent = yes
keepalive = 30
""")
        s.wait_log("peer.up")
        st, v = api(s.sock, "GET", "/peers")
        assert st == 200
        (pr,) = v["peers"]
        assert pr["name"] == "trunk" and pr["state"] == "up"
        assert pr["remote_host"] == host and pr["remote_port"] == port
        assert pr["remote_addr"] == f"{host}:{port}" and pr["conn_id"] > 0
        out = ctl(s.sock, "peers").stdout
        assert "GATEWAY" in out and "trunk" in out and "Up" in out
        conns = api(s.sock, "GET", "/connections")[1]["connections"]
        out_row = [r for r in conns if r["id"] == pr["conn_id"]][0]
        assert out_row["direction"] == "out" and out_row["peer"] == "trunk"
        assert out_row["identity"] == "trunk.sipsd.test" and out_row["sni"] == "trunk.sipsd.test"
    finally:
        peer.close()


# ---------------------------------------------------------------- certificates and trust

def test_certificates_list(daemon, pki):
    s = daemon()
    st, v = api(s.sock, "GET", "/certificates")
    assert st == 200
    kinds = {c["kind"]: c for c in v["certificates"]}
    host = kinds["host"]
    assert host["subject"] == "CN=localhost" and host["contexts"] == ["default"]
    assert host["key_type"].startswith("EC") and host["key_bits"] == 256
    assert "serverAuth" in host["eku"] and host["ca"] is False
    assert "sip:localhost" in host["san_uri"] and len(host["sha256"]) == 64
    trusted = kinds["trusted"]
    assert trusted["ca"] is True and "mgmt test root CA" in trusted["subject"]
    out = ctl(s.sock, "certs").stdout
    assert "ISSUED TO" in out and "CN=localhost" in out and "Yes" in out
    assert "PRIVATE KEY" not in json.dumps(v)


def test_trust_add_lets_client_in_and_remove_shuts_it_out(daemon, pki, tmp_path):
    cadir = tmp_path / "cadir"
    cadir.mkdir()
    s = daemon(tls_extra=f"ca_dir = {cadir}")
    evil_ctx = client_ctx(pki, pki["unknown_ca"])
    assert not attempt(s.host, s.port, evil_ctx)
    s.wait_log("reason=unknown_ca")
    pem = open(pki["evil"].cert).read()
    # refused: a leaf, a private key, garbage
    assert api(s.sock, "POST", "/trust/default", open(pki["good"].cert).read())[0] == 422
    assert api(s.sock, "POST", "/trust/default", pem + open(pki["good"].key).read())[0] == 400
    assert api(s.sock, "POST", "/trust/default", "hello")[0] == 400
    assert api(s.sock, "POST", "/trust/nosuch", pem)[0] == 404
    st, v = api(s.sock, "POST", "/trust/default", pem)
    assert st == 201 and v["reloaded"] is True, v
    (added,) = v["added"]
    assert os.path.dirname(added["file"]) == str(cadir) and re.match(r"[0-9a-f]{8}\.0$", os.path.basename(added["file"]))
    s.wait_log("mgmt.trust_added")
    assert attempt(s.host, s.port, evil_ctx)
    st, lst = api(s.sock, "GET", "/trust/default")
    ids = {e["id"]: e for e in lst["entries"]}
    assert added["id"] in ids and ids[added["id"]]["removable"] is True
    assert any(e["source"] == "ca_list" and not e["removable"] for e in lst["entries"])
    # again: already trusted, nothing written
    st, v2 = api(s.sock, "POST", "/trust/default", pem)
    assert st == 200 and v2["already_trusted"] == 1 and v2["added"] == []
    # the ca_list root can't be removed over the API
    root_id = [e["id"] for e in lst["entries"] if e["source"] == "ca_list"][0]
    assert api(s.sock, "DELETE", f"/trust/default/{root_id}")[0] == 409
    st, v = api(s.sock, "DELETE", f"/trust/default/{added['id']}")
    assert st == 200 and v["reloaded"] is True
    assert not os.path.exists(added["file"])
    assert not attempt(s.host, s.port, evil_ctx)
    assert attempt(s.host, s.port, client_ctx(pki, pki["good"]))
    # the same round trip through sipsctl
    evil_pem = os.path.join(pki["dir"], "evil", "ca.pem")
    out = ctl(s.sock, "trust", "add", evil_pem).stdout
    assert "added" in out and "reloaded" in out
    assert attempt(s.host, s.port, evil_ctx)
    listing = ctl(s.sock, "trust", "--context", "default", "list").stdout
    assert "other CA" in listing and "ca_dir" in listing
    tid = re.search(r"added ([0-9a-f]{16})", out).group(1)
    assert "removed" in ctl(s.sock, "trust", "remove", tid).stdout
    assert not attempt(s.host, s.port, evil_ctx)
    assert os.listdir(cadir) == []


@pytest.mark.parametrize("args", [["status", "bogus"], ["connections", "--wide", "x"], ["regs", "-x"],
                                  ["certs", "foo"], ["reload", "now"], ["peers", "a"]])
def test_commands_without_arguments_refuse_extra_ones(tmp_path, args):
    # refused before any connection: a mistyped option must not run the command anyway
    p = subprocess.run([sipsctl_binary(), "-s", str(tmp_path / "none.sock")] + args, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 2, (args, p.stderr)
    assert "sipsctl %s: unexpected argument '%s'" % (args[0], args[-1]) in p.stderr
    assert "usage: sipsctl " + args[0] in p.stderr


@pytest.mark.parametrize("value", ["-1", "abc", "0", "99999"])
def test_bad_timeout_is_refused(tmp_path, value):
    # -1 used to wrap to 136 years and abc to the default
    p = subprocess.run([sipsctl_binary(), "--timeout", value, "-s", str(tmp_path / "none.sock"), "status"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, p.stderr
    assert "bad --timeout '%s'" % value in p.stderr


def test_trust_needs_ca_dir(daemon, pki):
    s = daemon()
    st, v = api(s.sock, "POST", "/trust/default", open(pki["evil"].cert).read())
    assert st == 409 and "ca_dir" in v["error"]


# ---------------------------------------------------------------- HTTPS listener

def test_https_listener_mutual_tls(daemon, pki):
    mhost = "127.0.0.1"  # the server certificate names 127.0.0.1, and sipsctl checks it
    mport = free_port(mhost)
    s = daemon(https=(mhost, mport))
    s.wait_log("client_certificate=required")

    def get(ctx):
        c = http.client.HTTPSConnection(mhost, mport, context=ctx, timeout=5)
        try:
            c.request("GET", "/status")
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    base = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    base.load_verify_locations(pki["ca"].cert)
    base.check_hostname = False
    with pytest.raises((ssl.SSLError, OSError, http.client.HTTPException)):
        get(base)  # no client certificate
    evil = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    evil.load_verify_locations(pki["ca"].cert)
    evil.check_hostname = False
    evil.load_cert_chain(pki["unknown_ca"].chain, pki["unknown_ca"].key)
    with pytest.raises((ssl.SSLError, OSError, http.client.HTTPException)):
        get(evil)  # signed by another CA
    good = client_ctx(pki, pki["admin"])
    st, body = get(good)
    assert st == 200 and json.loads(body)["workers"] == 2
    s.wait_log('listener=https client="/CN=admin"')
    url = f"https://{mhost}:{mport}"
    p = subprocess.run([sipsctl_binary(), "--url", url, "--cert", pki["admin"].chain, "--key", pki["admin"].key,
                        "--ca", pki["ca"].cert, "peers", "--json"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["peers"] == []
    p = subprocess.run([sipsctl_binary(), "--url", url, "--cert", pki["unknown_ca"].chain, "--key",
                        pki["unknown_ca"].key, "--ca", pki["ca"].cert, "status"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0


# ---------------------------------------------------------------- reload, registrations

def test_reload_endpoint(daemon, pki):
    s = daemon()
    st, v = api(s.sock, "POST", "/reload")
    assert st == 200 and v["reloaded"] is True
    s.wait_log("config.reloaded")
    assert "reloaded" in ctl(s.sock, "reload").stdout
    s.wait_log("config.reloaded", count=2)
    text = open(s.conf_path).read()
    with open(s.conf_path, "w") as f:
        f.write(text + "\n[tls:broken]\ncertificate = /nonexistent.pem\n")
    st, v = api(s.sock, "POST", "/reload")
    assert st == 422 and "nonexistent" in v["error"]
    p = ctl(s.sock, "reload", check=False)
    assert p.returncode == 1 and "reload failed" in p.stderr
    # still serving with the running configuration
    assert attempt(s.host, s.port, client_ctx(pki, pki["good"]))


def test_registrations_endpoint(daemon):
    s = daemon()
    st, v = api(s.sock, "GET", "/registrations")
    assert st == 200 and isinstance(v["registrations"], list)
    out = ctl(s.sock, "regs").stdout
    assert "AOR" in out and "CERT IDENTITY" in out
    assert json.loads(ctl(s.sock, "regs", "--json").stdout)["registrations"] == v["registrations"]


# ---------------------------------------------------------------- metrics

def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(name + ("{" + want + "}" if want else " ")):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_counters_move_per_failure_reason(daemon, pki):
    s = daemon()
    st, text = api(s.sock, "GET", "/metrics", raw=True)
    assert st == 200 and "# TYPE sipsd_tls_handshake_failures_total counter" in text
    cases = [
        ("unknown_ca", client_ctx(pki, pki["unknown_ca"])),
        ("expired", client_ctx(pki, pki["expired"])),
        ("not_yet_valid", client_ctx(pki, pki["not_yet_valid"])),
        ("wrong_usage", client_ctx(pki, pki["server_eku_only"])),
        ("no_certificate", client_ctx(pki)),
    ]
    for reason, ctx in cases:
        before = metric(text, "sipsd_tls_handshake_failures_total", side="server", reason=reason)
        failed_before = metric(text, "sipsd_tls_handshakes_total", side="server", result="failed")
        assert not attempt(s.host, s.port, ctx)
        deadline = time.monotonic() + 5
        while True:
            text = api(s.sock, "GET", "/metrics", raw=True)[1]
            after = metric(text, "sipsd_tls_handshake_failures_total", side="server", reason=reason)
            if after == before + 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert after == before + 1, (reason, before, after)
        assert metric(text, "sipsd_tls_handshakes_total", side="server", result="failed") == failed_before + 1
    ok_before = metric(text, "sipsd_tls_handshakes_total", side="server", result="ok")
    c = connect(s.host, s.port, client_ctx(pki, pki["good"]))
    c.sendall(options())
    read_response(c)
    text = api(s.sock, "GET", "/metrics", raw=True)[1]
    assert metric(text, "sipsd_tls_handshakes_total", side="server", result="ok") == ok_before + 1
    assert metric(text, "sipsd_connections_open", transport="tls") == 1
    assert metric(text, "sipsd_sip_requests_total") >= 1
    assert metric(text, "sipsd_registrations") == 0
    own = [l for l in text.splitlines() if l.startswith('sipsd_certificate_expiry_seconds{kind="own",context="default"')]
    assert own and 360 * 86400 < float(own[0].rsplit(" ", 1)[1]) < 366 * 86400
    peer = [l for l in text.splitlines() if l.startswith('sipsd_certificate_expiry_seconds{kind="peer"')]
    assert peer and "good" in peer[0]
    c.close()


# ---------------------------------------------------------------- expiry alarms

def test_expiry_alarm_own_and_peer_certificate(daemon, pki):
    s = daemon(server="server_5d")
    s.wait_log("event=cert.expiry_alarm kind=own context=default")
    line = [l for l in s.log().splitlines() if "kind=own" in l and "cert.expiry_alarm" in l][0]
    assert "threshold_days=7" in line and ("days_left=4" in line or "days_left=5" in line)
    assert "level=warning" in line
    # a peer certificate seen on a live connection, expiring in 5 days
    c = connect(s.host, s.port, client_ctx(pki, pki["soon"]))
    c.sendall(options())
    read_response(c)
    s.wait_log("event=cert.expiry_alarm kind=peer", timeout=25)
    pline = [l for l in s.log().splitlines() if "kind=peer" in l][0]
    assert "threshold_days=7" in pline and "soon" in pline
    # once per threshold per certificate: another check does not repeat it
    time.sleep(11)
    assert s.log().count("event=cert.expiry_alarm kind=peer") == 1
    assert s.log().count("event=cert.expiry_alarm kind=own") == 1
    text = api(s.sock, "GET", "/metrics", raw=True)[1]
    own = [l for l in text.splitlines() if l.startswith('sipsd_certificate_expiry_seconds{kind="own"')][0]
    assert 3 * 86400 < float(own.rsplit(" ", 1)[1]) <= 5 * 86400
    c.close()


def test_expiry_alarm_days_configurable(daemon):
    s = daemon(mgmt_extra="expiry_alarm_days = 3, 1")
    time.sleep(0.5)
    assert "cert.expiry_alarm" not in s.log()


# ---------------------------------------------------------------- key log

def test_keylog_runtime_switch_with_timeout(daemon, pki, tmp_path):
    kdir = tmp_path / "keys"
    kdir.mkdir()
    s = daemon(mgmt_extra=f"keylog_dir = {kdir}\nkeylog_timeout = 60")
    path = kdir / "default.keylog"
    assert api(s.sock, "POST", "/keylog/default?seconds=61")[0] == 400
    assert api(s.sock, "POST", "/keylog/nosuch")[0] == 404
    st, v = api(s.sock, "POST", "/keylog/default?seconds=2")
    assert st == 200 and v["active"] is True and v["runtime"] is True and v["file"] == str(path)
    s.wait_log("event=tls.keylog_enabled")
    assert "level=warning event=tls.keylog_enabled context=default" in s.log()
    assert attempt(s.host, s.port, client_ctx(pki, pki["good"]))
    deadline = time.monotonic() + 5
    while "CLIENT_TRAFFIC_SECRET_0" not in (path.read_text() if path.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "CLIENT_TRAFFIC_SECRET_0" in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    s.wait_log('event=tls.keylog_disabled context=default', timeout=5)
    assert 'reason="timer expired"' in s.log()
    size = path.stat().st_size
    assert attempt(s.host, s.port, client_ctx(pki, pki["good"]))
    time.sleep(0.3)
    assert path.stat().st_size == size
    # sipsctl: on, status, off
    assert "ON" in ctl(s.sock, "keylog", "on", "default", "30").stdout
    assert "YES" in ctl(s.sock, "keylog").stdout
    assert "off" in ctl(s.sock, "keylog", "off", "default").stdout
    assert api(s.sock, "GET", "/keylog")[1]["keylog"][0]["active"] is False
    assert "switched off by unix" in s.log()


def test_keylog_needs_a_place(daemon):
    s = daemon()
    st, v = api(s.sock, "POST", "/keylog/default")
    assert st == 409 and "keylog_dir" in v["error"]


# ---------------------------------------------------------------- probe

def probe(target, *args):
    p = subprocess.run([sipsctl_binary(), "probe", target] + list(args), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_probe_passes_against_sipsd(daemon, pki):
    s = daemon()
    rc, out = probe(f"sips:{s.host}:{s.port}", "--ca", pki["ca"].cert, "--cert", pki["good"].chain,
                    "--key", pki["good"].key, "--domain", "localhost")
    assert rc == 0, out
    for step in ("tcp ", "tls ", "verify ", "identity ", "options "):
        assert re.search(r"^%s\s*ok" % step.strip(), out, re.M), (step, out)
    assert "TLSv1.3" in out and "SIP/2.0 200" in out and "rtt=" in out and "chain[0] subject" in out
    assert "matched by SAN URI sip:localhost" in out
    rc, out = probe(f"sips:{s.host}:{s.port}", "--ca", pki["ca"].cert, "--cert", pki["good"].chain,
                    "--key", pki["good"].key, "--domain", "localhost", "--tls-version", "1.2")
    assert rc == 0 and "TLSv1.2" in out, out
    # no client certificate: sipsd (TLS 1.3) refuses after the handshake, and probe says why
    rc, out = probe(f"sips:{s.host}:{s.port}", "--ca", pki["ca"].cert, "--domain", "localhost")
    assert rc == 1 and "reason=no_certificate" in out, out


@pytest.mark.parametrize("case,identity,reason", [
    ("peer_unknown_ca", "trunk.sipsd.test", "unknown_ca"),
    ("peer_expired", "trunk.sipsd.test", "expired"),
    ("peer_not_yet_valid", "trunk.sipsd.test", "not_yet_valid"),
    ("peer_other_name", "trunk.sipsd.test", "name_mismatch"),
    ("peer_uri_wins", "trunk.sipsd.test", "name_mismatch"),
    ("peer_wildcard", "trunk.sipsd.test", "name_mismatch"),
    ("peer_client_eku", "trunk.sipsd.test", "wrong_usage"),
])
def test_probe_reports_the_reason(pki, case, identity, reason):
    host = loopback_addr()
    port = free_port(host)
    leaf = pki[case]
    peer = PeerServer(pki["dir"], host, port, certfile=leaf.chain, keyfile=leaf.key, cafile=pki["ca"].cert)
    try:
        rc, out = probe(f"sips:{host}:{port}", "--ca", pki["ca"].cert, "--cert", pki["good"].chain,
                        "--key", pki["good"].key, "--domain", identity)
    finally:
        peer.close()
    assert rc == 1, out
    assert f"reason={reason}" in out, out
    assert re.search(r"^tcp\s+ok", out, re.M) and "result     FAIL" in out
    assert "chain[0] subject" in out  # the chain is shown even when verification failed


def test_probe_good_trunk_identity_passes_until_options(pki):
    host = loopback_addr()
    port = free_port(host)
    leaf = pki["peer_good"]
    peer = PeerServer(pki["dir"], host, port, certfile=leaf.chain, keyfile=leaf.key, cafile=pki["ca"].cert)
    try:
        rc, out = probe(f"sips:{host}:{port}", "--ca", pki["ca"].cert, "--cert", pki["good"].chain,
                        "--key", pki["good"].key, "--domain", "trunk.sipsd.test", "--timeout", "1")
    finally:
        peer.close()
    # the stand-in trunk never answers OPTIONS: everything before it passes, the exit code fails
    assert re.search(r"^verify\s+ok", out, re.M) and re.search(r"^identity\s+ok", out, re.M), out
    assert re.search(r"^options\s+FAIL", out, re.M) and rc == 1


# ---------------------------------------------------------------- pki

def test_sipsctl_pki_issues_working_certificates(sipsd_factory, tmp_path):
    d = tmp_path / "lab"
    d.mkdir()
    bin_ = sipsctl_binary()

    def run(*a):
        p = subprocess.run([bin_, "pki"] + list(a) + ["--dir", str(d)], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout

    run("init-ca", "--name", "lab CA")
    assert subprocess.run([bin_, "pki", "init-ca", "--dir", str(d)], capture_output=True).returncode != 0  # no overwrite
    out = run("issue-server", "edge", "--san", "sip:localhost", "--san", "dns:localhost", "--san", "ip:127.0.0.1")
    assert "URI:sip:localhost" in out and "PRIVATE" not in out
    run("issue-client", "alice@localhost")
    for f, mode in (("ca.key", 0o600), ("edge.key", 0o600), ("alice@localhost.key", 0o600), ("edge.pem", 0o644),
                    ("CAList.pem", 0o644)):
        assert stat.S_IMODE(os.stat(d / f).st_mode) == mode, f
    info = labpki.cert_info(str(d / "edge.pem"))
    text = subprocess.run(["openssl", "x509", "-in", str(d / "edge.pem"), "-noout", "-text"], capture_output=True,
                          text=True).stdout
    assert "prime256v1" in text and "TLS Web Server Authentication" in text and "TLS Web Client Authentication" in text
    assert "URI:sip:localhost" in text and "IP Address:127.0.0.1" in text
    ctext = subprocess.run(["openssl", "x509", "-in", str(d / "alice@localhost.pem"), "-noout", "-text"],
                           capture_output=True, text=True).stdout
    assert "URI:sip:alice@localhost" in ctext and "TLS Web Server Authentication" not in ctext
    assert info is not None
    # a sipsd built from these files accepts the client, and probe passes end to end
    host = loopback_addr()
    port = free_port(host)
    s = sipsd_factory(f"""[global]
workers = 1
domains = localhost
[store]
path = {tmp_path}/x.db
[mgmt]
socket = {tmp_path}/x.sock
[tls:default]
certificate = {d}/edge.pem
private_key = {d}/edge.key
ca_list = {d}/CAList.pem
[interface:main]
listen = tls:{host}:{port}
tls = default
""").start()
    s.wait_log("transport.listening")
    rc, out = probe(f"sips:{host}:{port}", "--ca", str(d / "CAList.pem"), "--cert", str(d / "alice@localhost.pem"),
                    "--key", str(d / "alice@localhost.key"), "--domain", "localhost")
    assert rc == 0, out
