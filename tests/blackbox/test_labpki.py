"""Black-box tests of tools/labpki: the certificates it makes are checked with
the openssl command line and a real TLS handshake (Python ssl), never with
labpki's own parser."""

import concurrent.futures
import datetime as dt
import os
import socket
import ssl
import stat
import subprocess
import sys
import threading

import pytest

REPO = os.environ.get("SIPSD_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
LABPKI_DIR = os.path.join(REPO, "tools", "labpki")
sys.path.insert(0, LABPKI_DIR)
import labpki  # noqa: E402

PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
TIMEOUT = 10


def ossl(*args, check=False):
    p = subprocess.run(["openssl"] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=60)
    if check:
        assert p.returncode == 0, p.stdout + p.stderr
    return p


def verify(cert, cafile, *extra):
    p = ossl("verify", "-CAfile", cafile, *extra, cert)
    return p.returncode, p.stdout + p.stderr


def ext(cert, name):
    """Text of one extension as `openssl x509 -ext` prints it ('' if absent)."""
    p = ossl("x509", "-in", cert, "-noout", "-ext", name, check=True)
    return p.stdout


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo")
    labpki.demo(d)
    return d


# --------------------------------------------------------------------------
# demo PKI

def test_demo_files_and_modes(demo_dir):
    for n in ("ca", "server", "alice", "bob"):
        assert (demo_dir / (n + ".pem")).is_file()
        key = demo_dir / (n + ".key")
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


@pytest.mark.parametrize("leaf", ["server", "alice", "bob"])
def test_demo_verifies(demo_dir, leaf):
    rc, out = verify(demo_dir / (leaf + ".pem"), demo_dir / "ca.pem")
    assert rc == 0 and ": OK" in out, out


def test_demo_keys_match_certs(demo_dir):
    for n in ("ca", "server", "alice", "bob"):
        a = ossl("x509", "-in", demo_dir / (n + ".pem"), "-noout", "-pubkey", check=True).stdout
        b = ossl("pkey", "-in", demo_dir / (n + ".key"), "-pubout", check=True).stdout
        assert a == b, n


def test_demo_ca_is_ca(demo_dir):
    bc = ext(demo_dir / "ca.pem", "basicConstraints")
    assert "critical" in bc and "CA:TRUE" in bc
    ku = ext(demo_dir / "ca.pem", "keyUsage")
    assert "Certificate Sign" in ku and "CRL Sign" in ku


def test_demo_server_san_and_eku(demo_dir):
    san = ext(demo_dir / "server.pem", "subjectAltName")
    for want in ("DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1",
                 "URI:sip:localhost"):
        assert want in san, san
    eku = ext(demo_dir / "server.pem", "extendedKeyUsage")
    assert "TLS Web Server Authentication" in eku
    assert "TLS Web Client Authentication" in eku
    bc = ext(demo_dir / "server.pem", "basicConstraints")
    assert "CA:FALSE" in bc


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_demo_client_certs(demo_dir, user):
    cert = demo_dir / (user + ".pem")
    subj = ossl("x509", "-in", cert, "-noout", "-subject", "-nameopt", "RFC2253",
                check=True).stdout
    assert subj.strip() == "subject=CN=" + user
    san = ext(cert, "subjectAltName")
    assert "URI:sip:%s@localhost" % user in san
    eku = ext(cert, "extendedKeyUsage")
    assert "TLS Web Client Authentication" in eku
    assert "TLS Web Server Authentication" not in eku
    assert ossl("verify", "-CAfile", demo_dir / "ca.pem", "-purpose", "sslclient",
                cert).returncode == 0
    assert ossl("verify", "-CAfile", demo_dir / "ca.pem", "-purpose", "sslserver",
                cert).returncode != 0


def test_demo_idempotent(tmp_path):
    d = tmp_path / "pki"
    labpki.demo(d)
    names = [n + s for n in ("ca", "server", "alice", "bob") for s in (".pem", ".key")]
    before = {n: (d / n).read_bytes() for n in names}
    labpki.demo(d)
    assert {n: (d / n).read_bytes() for n in names} == before

    # A missing key: only that leaf is reissued, the CA and the others stay.
    (d / "bob.key").unlink()
    # A loose key mode is repaired without reissuing.
    os.chmod(d / "alice.key", 0o644)
    labpki.demo(d)
    after = {n: (d / n).read_bytes() for n in names}
    for n in ("ca.pem", "ca.key", "server.pem", "alice.pem", "alice.key"):
        assert after[n] == before[n], n
    assert after["bob.pem"] != before["bob.pem"]
    assert stat.S_IMODE((d / "alice.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((d / "bob.key").stat().st_mode) == 0o600
    assert verify(d / "bob.pem", d / "ca.pem")[0] == 0


def test_demo_replaces_expired_leaf(tmp_path):
    d = tmp_path / "pki"
    labpki.demo(d)
    ca = labpki.CA.load(d)
    ca.issue("server", cn="localhost", san_dns=["localhost"], not_before=-10, not_after=-1)
    assert "certificate has expired" in verify(d / "server.pem", d / "ca.pem")[1]
    labpki.demo(d)
    assert verify(d / "server.pem", d / "ca.pem")[0] == 0
    assert "IP Address:127.0.0.1" in ext(d / "server.pem", "subjectAltName")


def test_cli_demo_and_help(tmp_path):
    script = os.path.join(LABPKI_DIR, "labpki.py")
    p = subprocess.run([PY, script, "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "demo" in p.stdout
    d = tmp_path / "cli"
    p = subprocess.run([PY, script, "demo", str(d)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    for n in ("ca.pem", "ca.key", "server.pem", "server.key", "alice.pem", "bob.key"):
        assert str(d / n) in p.stdout, p.stdout
    assert "wrote" in p.stdout
    p = subprocess.run([PY, script, "demo", str(d)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and "kept" in p.stdout and "wrote" not in p.stdout, p.stdout
    assert verify(d / "alice.pem", d / "ca.pem")[0] == 0


def test_cli_issue_revoke_crl(tmp_path):
    script = os.path.join(LABPKI_DIR, "labpki.py")

    def run(*a):
        p = subprocess.run([PY, script] + [str(x) for x in a], capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout
    ca = tmp_path / "ca"
    run("ca", ca, "--name", "cli CA")
    run("issue", ca, "old", "--not-before", "-10", "--not-after", "-1", "--eku", "")
    run("issue", ca, "ok", "--dns", "a.example", "--uri", "sip:a.example")
    assert "certificate has expired" in verify(ca / "old.pem", ca / "ca.pem")[1]
    assert verify(ca / "ok.pem", ca / "ca.pem")[0] == 0
    run("revoke", ca, ca / "ok.pem")
    run("crl", ca, tmp_path / "crl.pem")
    out = verify(ca / "ok.pem", ca / "ca.pem", "-crl_check", "-CRLfile", tmp_path / "crl.pem")
    assert "certificate revoked" in out[1]


# --------------------------------------------------------------------------
# validity

def test_expired_leaf(tmp_path):
    ca = labpki.CA.create(tmp_path / "ca")
    leaf = ca.issue("old", san_dns=["old.example"], not_before=-30, not_after=-1)
    rc, out = verify(leaf.cert, ca.cert)
    assert rc != 0 and "certificate has expired" in out, out


def test_not_yet_valid_leaf(tmp_path):
    ca = labpki.CA.create(tmp_path / "ca")
    start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    leaf = ca.issue("future", not_before=start, days=30)
    rc, out = verify(leaf.cert, ca.cert)
    assert rc != 0 and "not yet valid" in out, out
    # The dates are the ones asked for (to the second).
    nb = ossl("x509", "-in", leaf.cert, "-noout", "-startdate", check=True).stdout
    assert start.strftime("%b %e %H:%M:%S %Y").replace("  ", " ") in nb.replace("  ", " ")


def test_valid_window_in_past_start(tmp_path):
    ca = labpki.CA.create(tmp_path / "ca")
    leaf = ca.issue("backdated", not_before=-100, not_after=5)
    assert verify(leaf.cert, ca.cert)[0] == 0
    # checkend: still valid in 4 days, expired in 6
    assert ossl("x509", "-in", leaf.cert, "-noout", "-checkend", 4 * 86400).returncode == 0
    assert ossl("x509", "-in", leaf.cert, "-noout", "-checkend", 6 * 86400).returncode != 0


def test_bad_validity_rejected(tmp_path):
    ca = labpki.CA.create(tmp_path / "ca")
    with pytest.raises(labpki.LabPKIError):
        ca.issue("x", not_before=1, not_after=-1)


# --------------------------------------------------------------------------
# chains, revocation, extensions

def test_intermediate_chain(tmp_path):
    root = labpki.CA.create(tmp_path / "root", name="lab root")
    sub = labpki.CA.create(tmp_path / "sub", name="lab sub", parent=root, path_len=0)
    leaf = sub.issue("srv", san_dns=["sub.example"])
    bc = ext(sub.cert, "basicConstraints")
    assert "CA:TRUE" in bc and "pathlen:0" in bc
    # The sub CA alone is not trusted; with the chain as untrusted it verifies.
    assert verify(leaf.cert, root.cert)[0] != 0
    rc, out = verify(leaf.cert, root.cert, "-untrusted", leaf.chain)
    assert rc == 0, out
    rc, out = verify(leaf.cert, root.cert, "-untrusted", sub.cert)
    assert rc == 0, out
    # leaf.chain = leaf then sub CA, no root
    chain = open(leaf.chain).read()
    assert chain.count("BEGIN CERTIFICATE") == 2
    assert chain.startswith(open(leaf.cert).read())
    assert open(sub.cert).read() in chain
    assert open(root.cert).read() not in chain


def test_two_level_intermediates(tmp_path):
    root = labpki.CA.create(tmp_path / "root")
    i1 = labpki.CA.create(tmp_path / "i1", name="i1", parent=root)
    i2 = labpki.CA.create(tmp_path / "i2", name="i2", parent=i1, key="rsa2048")
    leaf = i2.issue("deep")
    assert open(leaf.chain).read().count("BEGIN CERTIFICATE") == 3
    rc, out = verify(leaf.cert, root.cert, "-untrusted", leaf.chain)
    assert rc == 0, out


def test_pathlen_enforced(tmp_path):
    root = labpki.CA.create(tmp_path / "root", path_len=0)
    sub = labpki.CA.create(tmp_path / "sub", parent=root)
    assert sub.name != root.name   # else "self-issued": exempt from pathlen
    leaf = sub.issue("x")
    rc, out = verify(leaf.cert, root.cert, "-untrusted", leaf.chain)
    assert rc != 0 and "path length" in out, out
    # A leaf directly under the pathlen:0 root is fine.
    assert verify(root.issue("y").cert, root.cert)[0] == 0


def test_revoked_leaf(tmp_path):
    ca = labpki.CA.create(tmp_path / "ca")
    good = ca.issue("good")
    bad = ca.issue("bad")
    crl0 = ca.crl(tmp_path / "crl0.pem")
    assert verify(bad.cert, ca.cert, "-crl_check", "-CRLfile", crl0)[0] == 0
    ca.revoke(bad)
    crl = ca.crl(tmp_path / "crl.pem", days=7)
    rc, out = verify(bad.cert, ca.cert, "-crl_check", "-CRLfile", crl)
    assert rc != 0 and "certificate revoked" in out, out
    assert verify(good.cert, ca.cert, "-crl_check", "-CRLfile", crl)[0] == 0
    text = ossl("crl", "-in", crl, "-noout", "-text", check=True).stdout
    assert "Serial Number: %X" % bad.serial in text
    assert "Serial Number: %X" % good.serial not in text


def test_revoked_in_intermediate(tmp_path):
    root = labpki.CA.create(tmp_path / "root")
    sub = labpki.CA.create(tmp_path / "sub", parent=root)
    leaf = sub.issue("leaf")
    sub.revoke(leaf, reason="keyCompromise")
    crl = sub.crl(tmp_path / "sub-crl.pem")
    rc, out = verify(leaf.cert, root.cert, "-untrusted", leaf.chain, "-crl_check",
                     "-CRLfile", crl)
    assert rc != 0 and "certificate revoked" in out, out
    assert "Key Compromise" in ossl("crl", "-in", crl, "-noout", "-text").stdout


def test_eku_absent_and_present(tmp_path):
    ca = labpki.CA.create(tmp_path / "ca")
    none = ca.issue("none", eku=[])
    assert "Extended Key Usage" not in ext(none.cert, "extendedKeyUsage")
    cli = ca.issue("cli", eku=["clientAuth"])
    e = ext(cli.cert, "extendedKeyUsage")
    assert "TLS Web Client Authentication" in e and "Server" not in e
    both = ca.issue("both")
    e = ext(both.cert, "extendedKeyUsage")
    assert "TLS Web Client Authentication" in e and "TLS Web Server Authentication" in e


def test_key_usage_and_key_types(tmp_path):
    ca = labpki.CA.create(tmp_path / "ca", key="rsa2048")
    assert "Public-Key: (2048 bit)" in ossl("x509", "-in", ca.cert, "-noout", "-text").stdout
    ec = ca.issue("ec")
    ku = ext(ec.cert, "keyUsage")
    assert "Digital Signature" in ku and "Key Encipherment" not in ku
    assert "id-ecPublicKey" in ossl("x509", "-in", ec.cert, "-noout", "-text").stdout
    rsa = ca.issue("rsa", key="rsa2048")
    ku = ext(rsa.cert, "keyUsage")
    assert "Digital Signature" in ku and "Key Encipherment" in ku
    none = ca.issue("noku", key_usage=[])
    assert "Key Usage" not in ext(none.cert, "keyUsage")
    for lf in (ec, rsa, none):
        assert verify(lf.cert, ca.cert)[0] == 0


def test_serial_cn_and_output_dir(tmp_path):
    ca = labpki.CA.create(tmp_path / "ca", name="My Lab CA")
    leaf = ca.issue("host1", dir=tmp_path / "out", cn="host1.example",
                    san_ip=["192.0.2.1", "2001:db8::1"], serial=0x1234)
    assert leaf.serial == 0x1234
    assert leaf.cert == str(tmp_path / "out" / "host1.pem")
    assert stat.S_IMODE(os.stat(leaf.key).st_mode) == 0o600
    assert ossl("x509", "-in", leaf.cert, "-noout", "-serial").stdout.strip() == "serial=1234"
    subj = ossl("x509", "-in", leaf.cert, "-noout", "-subject", "-issuer", "-nameopt",
                "RFC2253").stdout
    assert "subject=CN=host1.example" in subj and "issuer=CN=My Lab CA" in subj
    san = ext(leaf.cert, "subjectAltName")
    assert "IP Address:192.0.2.1" in san and "IP Address:2001:DB8:0:0:0:0:0:1" in san
    # Default serials are distinct and positive.
    serials = {ca.issue("s%d" % i).serial for i in range(4)}
    assert len(serials) == 4 and all(s > 0 for s in serials)


def test_ca_list_bundle(tmp_path):
    root1 = labpki.CA.create(tmp_path / "r1", name="root one")
    root2 = labpki.CA.create(tmp_path / "r2", name="root two")
    sub = labpki.CA.create(tmp_path / "sub", name="sub of two", parent=root2)
    calist = root1.bundle(tmp_path / "CAList.pem", root2, sub)
    text = open(calist).read()
    assert text.count("BEGIN CERTIFICATE") == 3
    a = root1.issue("a")
    b = sub.issue("b")
    assert verify(a.cert, calist)[0] == 0
    assert verify(b.cert, calist)[0] == 0
    other = labpki.CA.create(tmp_path / "other").issue("c")
    assert verify(other.cert, calist)[0] != 0
    # Module-level helper with file paths works too.
    p = labpki.write_ca_list(tmp_path / "two.pem", root1.cert, root2)
    assert open(p).read().count("BEGIN CERTIFICATE") == 2


def test_ca_create_refuses_existing(tmp_path):
    labpki.CA.create(tmp_path / "ca")
    with pytest.raises(FileExistsError):
        labpki.CA.create(tmp_path / "ca")
    again = labpki.CA.load(tmp_path / "ca")
    assert again.name == "sipsd lab CA"
    assert verify(again.issue("later").cert, again.cert)[0] == 0


def test_parallel_pkis_and_issuance(tmp_path):
    """Several PKIs in parallel dirs, and many leaves from one CA at once:
    no shared state, unique serials, every certificate verifies."""
    def build(i):
        d = tmp_path / ("p%d" % i)
        root = labpki.CA.create(d / "root")
        sub = labpki.CA.create(d / "sub", parent=root)
        leaf = sub.issue("leaf")
        return root, leaf

    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        built = list(ex.map(build, range(6)))
    for root, leaf in built:
        assert verify(leaf.cert, root.cert, "-untrusted", leaf.chain)[0] == 0

    shared = labpki.CA.create(tmp_path / "shared")
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        leaves = list(ex.map(lambda i: shared.issue("l%d" % i), range(16)))
    assert len({lf.serial for lf in leaves}) == 16
    for lf in leaves:
        assert verify(lf.cert, shared.cert)[0] == 0
    index = open(tmp_path / "shared" / "ca-db" / "index.txt").read()
    assert len(index.splitlines()) == 17  # CA itself + 16 leaves

    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        list(ex.map(lambda i: labpki.demo(tmp_path / "demo"), range(3)))
    for n in ("server", "alice", "bob"):
        assert verify(tmp_path / "demo" / (n + ".pem"), tmp_path / "demo" / "ca.pem")[0] == 0


# --------------------------------------------------------------------------
# real TLS with Python's ssl module, mutual authentication on loopback

def _tls_exchange(server_ctx, client_ctx, server_hostname, family=socket.AF_INET):
    """One connection: returns (server_result, client_result); each is either
    ("ok", peercert) or ("error", exception)."""
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.settimeout(TIMEOUT)
    srv.bind((host, 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    result = {}

    def serve():
        try:
            conn, _ = srv.accept()
            conn.settimeout(TIMEOUT)
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                peer = tls.getpeercert()
                data = tls.recv(64)
                tls.sendall(b"pong:" + data)
                result["server"] = ("ok", peer)
        except Exception as e:  # reported to the main thread
            result["server"] = ("error", e)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
            with client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
                peer = tls.getpeercert()
                tls.sendall(b"ping")
                reply = tls.recv(64)
                assert reply == b"pong:ping", reply
                result["client"] = ("ok", peer)
    except Exception as e:
        result["client"] = ("error", e)
    t.join(TIMEOUT + 5)
    assert not t.is_alive(), "server thread hung"
    srv.close()
    return result["server"], result["client"]


def _server_ctx(d, cert="server"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(d / (cert + ".pem"), d / (cert + ".key"))
    ctx.load_verify_locations(cafile=d / "ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _client_ctx(d, cert="alice"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # check_hostname + CERT_REQUIRED
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cafile=d / "ca.pem")
    if cert:
        ctx.load_cert_chain(d / (cert + ".pem"), d / (cert + ".key"))
    return ctx


def _san(peer, kind):
    return [v for k, v in peer.get("subjectAltName", ()) if k == kind]


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_tls_mutual_auth(demo_dir, hostname):
    s, c = _tls_exchange(_server_ctx(demo_dir), _client_ctx(demo_dir, "alice"), hostname)
    assert s[0] == "ok", s
    assert c[0] == "ok", c
    assert dict(x[0] for x in s[1]["subject"])["commonName"] == "alice"
    assert _san(s[1], "URI") == ["sip:alice@localhost"]
    assert "sip:localhost" in _san(c[1], "URI")
    assert "127.0.0.1" in _san(c[1], "IP Address")


def test_tls_ipv6_loopback(demo_dir):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1")
    s, c = _tls_exchange(_server_ctx(demo_dir), _client_ctx(demo_dir, "bob"), "::1",
                         family=socket.AF_INET6)
    assert s[0] == "ok" and c[0] == "ok", (s, c)


def test_tls_server_cert_as_client(demo_dir):
    """sipsd uses its server certificate as TLS client towards peers."""
    s, c = _tls_exchange(_server_ctx(demo_dir), _client_ctx(demo_dir, "server"), "localhost")
    assert s[0] == "ok" and c[0] == "ok", (s, c)
    assert _san(s[1], "URI") == ["sip:localhost"]


def test_tls_client_without_cert_rejected(demo_dir):
    s, c = _tls_exchange(_server_ctx(demo_dir), _client_ctx(demo_dir, None), "localhost")
    assert s[0] == "error" and isinstance(s[1], ssl.SSLError), s
    assert c[0] == "error", c


def test_tls_client_only_cert_cannot_serve(tmp_path):
    """EKU clientAuth only (like alice/bob): a TLS client refuses it as a server
    certificate even though the name matches."""
    d = tmp_path / "pki"
    labpki.demo(d)
    labpki.CA.load(d).issue("clientonly", cn="localhost", san_dns=["localhost"],
                            eku=["clientAuth"])
    s, c = _tls_exchange(_server_ctx(d, "clientonly"), _client_ctx(d, "alice"), "localhost")
    assert c[0] == "error" and isinstance(c[1], ssl.SSLCertVerificationError), c
    assert "certificate purpose" in c[1].verify_message, c  # "unsuitable ..."
    assert s[0] == "error", s


def test_tls_expired_client_rejected(tmp_path):
    d = tmp_path / "pki"
    labpki.demo(d)
    labpki.CA.load(d).issue("mallory", cn="mallory", san_uri=["sip:mallory@localhost"],
                            eku=["clientAuth"], not_before=-10, not_after=-1)
    s, c = _tls_exchange(_server_ctx(d), _client_ctx(d, "mallory"), "localhost")
    assert s[0] == "error" and "expired" in str(s[1]), s
    assert c[0] == "error", c
