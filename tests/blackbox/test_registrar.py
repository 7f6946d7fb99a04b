"""The registrar end to end over mutual TLS with the real daemon: digest (every algorithm, MD5 off),
certificate-bound AORs, contacts and flows, and durability across kill -9."""
import os
import re
import signal
import ssl
import subprocess
import threading
import time

import pytest

from conftest import BUILD_DIR, client_context, free_port, loopback_addr, tls_config
from sipua import UA, parse_auth_params, rand


def sipsctl():
    return os.path.join(BUILD_DIR, "tools", "sipsctl", "sipsctl")


def add_user(conf_path, aor, password, *extra):
    r = subprocess.run([sipsctl(), "-c", conf_path, "user", "add", aor, *extra], input=password + "\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def start_edge(sipsd_factory, pki, registrar="", iface="", users=("alice", "bob"), workers=2, user_extra=()):
    host = loopback_addr()
    port = free_port(host)
    text = tls_config(pki, host, port, extra_iface=iface, workers=workers) + "\n[registrar]\n" + registrar + "\n"
    s = sipsd_factory(text)
    for u in users:
        add_user(s.conf_path, f"{u}@localhost", "secret-" + u, *user_extra)
    s.start()
    s.wait_log("transport.listening")
    s.host, s.port, s.pki = host, port, pki
    return s


def ua(s, user, cert=None):
    ctx = client_context(s.pki, cert or user if (cert or user) in ("alice", "bob") else "alice")
    return UA(s.host, s.port, user, password="secret-" + user, ctx=ctx).connect()


def contacts(resp):
    """[(uri, params)] of the Contact lines of a response, in order."""
    out = []
    for v in resp.all("Contact"):
        m = re.match(r"\s*<([^>]*)>(.*)", v)
        assert m, v
        out.append((m.group(1), m.group(2)))
    return out


def expires_of(params):
    m = re.search(r";expires=(\d+)", params)
    return int(m.group(1)) if m else None


@pytest.fixture
def edge(sipsd_factory, demo_pki):
    return start_edge(sipsd_factory, demo_pki)


def test_register_refresh_unregister_wildcard(edge):
    a = ua(edge, "alice")
    # the challenge offers every algorithm, strongest first (RFC 8760 2.4)
    a.send(a.request("REGISTER", "sip:localhost", [f"Contact: <{a.contact_uri}>", "Expires: 600"], to=a.aor))
    r = a.final_response("REGISTER")
    assert r.status == 401
    algs = [parse_auth_params(v)[1].get("algorithm") for v in r.all("WWW-Authenticate")]
    assert algs == ["SHA-512-256", "SHA-256", "MD5"]
    for alg in algs:
        r = a.register(expires=600, alg_pref=alg)
        assert r.status == 200, r.raw
        cs = contacts(r)
        assert len(cs) == 1 and cs[0][0] == a.contact_uri
        assert 590 <= expires_of(cs[0][1]) <= 600
        assert re.match(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$", r.get("Date")), r.get("Date")
    # expires above max_expires (3600) is shortened
    r = a.register(expires=999999)
    assert r.status == 200 and expires_of(contacts(r)[0][1]) == 3600
    # fetch without Contact (RFC 3261 10.2.3)
    r = a.register(contact=False, expires=None)
    assert r.status == 200 and len(contacts(r)) == 1
    # unregister
    r = a.register(expires=0)
    assert r.status == 200 and contacts(r) == []
    # two bindings, then the wildcard
    r = a.register(contact=f"<{a.contact_uri}>, <sip:alice@192.0.2.7:5060>", expires=300)
    assert r.status == 200 and len(contacts(r)) == 2
    r = a.register(contact="*", expires=300)
    assert r.status == 400
    r = a.register(contact="*", expires=0)
    assert r.status == 200 and contacts(r) == []
    a.close()


def test_interval_too_brief(edge):
    a = ua(edge, "alice")
    r = a.register(expires=10)
    assert r.status == 423
    assert r.get("Min-Expires") == "60"
    a.close()


def test_wrong_password_forbidden(edge):
    a = ua(edge, "alice")
    r = a.register(password="not-the-password")
    assert r.status == 403
    # unknown user: the same challenge, then 403
    m = ua(edge, "mallory", cert="alice")
    r = m.register(password="x")
    assert r.status == 403
    a.close()
    m.close()
    assert "not-the-password" not in edge.log()


def test_md5_disabled_not_offered_and_refused(sipsd_factory, demo_pki):
    s = start_edge(sipsd_factory, demo_pki, registrar="md5 = no")
    a = ua(s, "alice")
    a.send(a.request("REGISTER", "sip:localhost", [f"Contact: <{a.contact_uri}>"], to=a.aor))
    r = a.final_response("REGISTER")
    assert r.status == 401
    algs = [parse_auth_params(v)[1].get("algorithm") for v in r.all("WWW-Authenticate")]
    assert algs == ["SHA-512-256", "SHA-256"]
    # an MD5 answer to the offered nonce is refused (challenged again, still without MD5)
    chal = parse_auth_params(r.all("WWW-Authenticate")[0])[1]
    chal["algorithm"] = "MD5"
    from sipua import digest_header
    hdr = digest_header("REGISTER", "sip:localhost", "alice", "secret-alice", chal)
    a.send(a.request("REGISTER", "sip:localhost", [f"Contact: <{a.contact_uri}>", hdr], to=a.aor))
    r = a.final_response("REGISTER")
    assert r.status in (401, 403)
    assert all("MD5" not in v for v in r.all("WWW-Authenticate"))
    r = a.register(contact=False, expires=None)
    assert r.status == 200 and contacts(r) == []
    a.close()


def test_certificate_bound_registration(sipsd_factory, demo_pki):
    s = start_edge(sipsd_factory, demo_pki, iface="auth = certificate")
    a = ua(s, "alice")  # alice's certificate: SAN URI sip:alice@localhost
    r = a.register(auth=False)
    assert r.status == 200, r.raw
    assert len(contacts(r)) == 1
    # the same certificate for bob's AOR
    b = UA(s.host, s.port, "bob", ctx=client_context(s.pki, "alice")).connect()
    r = b.register(auth=False)
    assert r.status == 403
    assert r.reason == "Forbidden (certificate does not match AOR)"
    a.close()
    b.close()


def test_digest_and_certificate(sipsd_factory, demo_pki):
    s = start_edge(sipsd_factory, demo_pki, iface="auth = digest+certificate")
    a = ua(s, "alice")
    assert a.register(auth=False).status == 401
    assert a.register().status == 200
    b = UA(s.host, s.port, "bob", password="secret-bob", ctx=client_context(s.pki, "alice")).connect()
    assert b.register().status == 403
    a.close()
    b.close()


def test_two_contacts_q_ordered(edge):
    a = ua(edge, "alice")
    r = a.register(contact="<sip:alice@192.0.2.1:5060>;q=0.3, <sip:alice@192.0.2.2:5060>;q=0.8", expires=300)
    assert r.status == 200
    cs = contacts(r)
    assert [c[0] for c in cs] == ["sip:alice@192.0.2.2:5060", "sip:alice@192.0.2.1:5060"]
    assert ";q=0.8" in cs[0][1] and ";q=0.3" in cs[1][1]
    a.close()


def test_flow_replacement_by_instance_and_reg_id(edge):
    inst = '+sip.instance="<urn:uuid:6f1d7c4e-0000-4000-8000-00000000a11c>"'
    a1 = ua(edge, "alice")
    r = a1.register(contact=f"<{a1.contact_uri}>;{inst};reg-id=1", extra=["Supported: outbound"])
    assert r.status == 200
    assert r.get("Require") == "outbound"
    cs = contacts(r)
    assert len(cs) == 1 and "reg-id=1" in cs[0][1]
    # the UA restarts: new connection, new Call-ID, same instance and reg-id -> replaced
    a2 = ua(edge, "alice")
    r = a2.register(contact=f"<{a2.contact_uri}>;{inst};reg-id=1", extra=["Supported: outbound"])
    assert r.status == 200
    cs = contacts(r)
    assert len(cs) == 1 and cs[0][0] == a2.contact_uri
    # a second flow of the instance (reg-id 2) is a binding of its own
    r = a1.register(contact=f"<{a1.contact_uri}>;{inst};reg-id=2", extra=["Supported: outbound"])
    assert r.status == 200 and len(contacts(r)) == 2
    # requests for the AOR go down the registered flow: bob calls alice, a2's connection rings
    a1.register(contact=f"<{a1.contact_uri}>;{inst};reg-id=2", expires=0, extra=["Supported: outbound"])
    b = ua(edge, "bob")
    assert b.register().status == 200
    b.call_id = rand() + "@test"
    b.send(b.request("INVITE", "sip:alice@localhost", [f"Contact: <{b.contact_uri}>"], call_id=b.call_id))
    inv = a2.wait(lambda m: m.method == "INVITE", 5)
    assert inv.ruri.startswith(a2.contact_uri.split(";")[0])
    for u in (a1, a2, b):
        u.close()


def test_malformed_authorization_400_and_still_serving(edge):
    a = ua(edge, "alice")
    bad = [
        'Digest realm="localhost", nonce="abc", uri="sip:localhost", response="00"',  # no username
        'Digest username="alice, realm="localhost", nonce="x", uri="sip:localhost"',  # bad quoting
        'Digest username="alice", realm="localhost", nonce="x", uri="sip:localhost", response="x", nc=1, qop=auth',
        'Digest username="alice", username="bob", realm="localhost", nonce="n", uri="sip:localhost", '
        'response="0123456789abcdef0123456789abcdef"',
        'Digest username="alice", realm="localhost", nonce="' + "N" * 6000 + '", uri="sip:localhost", '
        'response="0123456789abcdef0123456789abcdef"',
        'Digest username="' + "u" * 3000 + '", realm="localhost", nonce="n", uri="sip:localhost", '
        'response="0123456789abcdef0123456789abcdef"',
    ]
    for v in bad:
        a.send(a.request("REGISTER", "sip:localhost", [f"Contact: <{a.contact_uri}>", f"Authorization: {v}"],
                         to=a.aor))
        r = a.final_response("REGISTER")
        assert r.status == 400, (v[:80], r.start)
        assert "Authorization" in r.reason
    # a value over the line limit: refused by the parser, the server keeps serving
    try:
        a.send(a.request("REGISTER", "sip:localhost", [f"Contact: <{a.contact_uri}>",
                                                       'Authorization: Digest username="' + "x" * 70000 + '"'],
                         to=a.aor))
        r = a.final_response("REGISTER", timeout=3)
        assert r.status >= 400
    except (ConnectionError, TimeoutError, OSError, ssl.SSLError):
        pass
    a.close()
    a = ua(edge, "alice")
    assert a.register().status == 200
    a.close()
    log = edge.log()
    assert "response=" not in log


def burst_register(s, users, stop, acked, errors):
    """One thread per user: distinct contacts registered back to back until stop; acked gets
    (user, contact) for every 200 OK."""
    def run(user):
        try:
            u = ua(s, user, cert="alice")
            i = 0
            while not stop.is_set() and i < 50:  # below max_contacts: nothing is replaced
                c = f"sip:{user}-{i}@192.0.2.50:5060"
                r = u.register(contact=f"<{c}>", expires=3600, timeout=3)
                if r.status == 200:
                    acked.append((user, c))
                i += 1
        except Exception as e:  # the kill drops connections mid-request
            errors.append(repr(e))
    ts = [threading.Thread(target=run, args=(u,), daemon=True) for u in users]
    for t in ts:
        t.start()
    return ts


def test_kill9_during_burst_keeps_every_acknowledged_binding(sipsd_factory, demo_pki):
    users = [f"u{i}" for i in range(12)]
    s = start_edge(sipsd_factory, demo_pki, registrar="max_contacts = 64\nmax_expires = 7200", users=users,
                   workers=2)
    stop = threading.Event()
    acked, errors = [], []
    ts = burst_register(s, users, stop, acked, errors)
    deadline = time.monotonic() + 10
    while len(acked) < 150 and time.monotonic() < deadline:
        time.sleep(0.02)
    s.proc.send_signal(signal.SIGKILL)  # mid-burst: requests are in flight
    s.proc.wait()
    stop.set()
    for t in ts:
        t.join(10)
    snapshot = list(acked)
    assert len(snapshot) >= 20, errors[:3]
    listening = s.log().count("transport.listening")
    s.start(wait_for=None)
    s.wait_log("sipsd.started", count=2)  # the log file is appended to: count this start too
    s.wait_log("transport.listening", count=2 * listening)
    assert s.log().count("registrar.started") == 2
    by_user = {}
    for user, c in snapshot:
        by_user.setdefault(user, set()).add(c)
    for user, want in by_user.items():
        u = ua(s, user, cert="alice")
        u.call_id = rand() + "@after"
        r = u.register(contact=False, expires=None)
        assert r.status == 200, r.raw
        have = {c for c, _ in contacts(r)}
        missing = want - have
        assert not missing, (user, sorted(missing)[:5])
        u.close()
    s.stop()


def test_stored_set_follows_adds_refreshes_and_removals_across_restart(sipsd_factory, demo_pki):
    """The store gets only what each REGISTER changed; after a restart the bindings are exactly
    the acknowledged set: an untouched one kept with its own expiry, a removed one gone, a
    refreshed one with its new expiry."""
    s = start_edge(sipsd_factory, demo_pki)
    a = ua(s, "alice")
    one, two, three = "sip:alice@192.0.2.7:5060", "sip:alice@192.0.2.8:5060", "sip:alice@192.0.2.9:5060"
    assert a.register(contact=f"<{one}>, <{two}>", expires=1000).status == 200
    assert a.register(contact=f"<{three}>", expires=2000).status == 200   # adds, leaves one and two
    assert a.register(contact=f"<{two}>", expires=0).status == 200        # removes two
    r = a.register(contact=f"<{one}>", expires=3000)                      # refreshes one
    assert r.status == 200
    before = {c: expires_of(p) for c, p in contacts(r)}
    assert set(before) == {one, three}, before
    a.close()
    s.stop()
    listening = s.log().count("transport.listening")
    s.start(wait_for=None)
    s.wait_log("sipsd.started", count=2)
    s.wait_log("transport.listening", count=2 * listening)
    b = ua(s, "alice")
    b.call_id = rand() + "@after"
    r = b.register(contact=False, expires=None)
    assert r.status == 200, r.raw
    after = {c: expires_of(p) for c, p in contacts(r)}
    assert set(after) == {one, three}, after
    assert 2990 <= after[one] <= 3000 and 1980 <= after[three] <= 2000, after
    b.close()
