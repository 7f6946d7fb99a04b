"""Routing beyond the basics: a peer's proxy set failing over per request (503, no answer,
transport error), peers reached on demand or over UDP (SIPp as the legacy UAS), strict routers on
either side of sipsd (RFC 3261 16.4, 16.6 item 6), and Path (RFC 3327) across two sipsd
instances, an edge and a registrar."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import client_context, free_port, loopback_addr, tls_config
from sipua import SDP, UA, rand, response_to
from test_proxy import TrunkServer, add_user, answer, invite, registered, route_set


class ScriptedTrunk(TrunkServer):
    """A trunk host answering every request with `status` (None: never answers)."""

    def __init__(self, *a, status=200, **kw):
        self.status = status
        super().__init__(*a, **kw)

    def respond(self, c, msg):
        if msg.is_response or msg.method == "ACK" or self.status is None:
            return
        reason = {200: "OK", 503: "Service Unavailable", 486: "Busy Here"}[self.status]
        c.sendall(response_to(msg, self.status, reason, to_tag="t" + str(self.port)).encode())

    def requests(self, method):
        return [m for m in self.received if m.method == method]


@pytest.fixture
def trunks(demo_pki):
    """Makes trunk hosts (ScriptedTrunk) on one loopback address; closes them after the test."""
    made = []

    def make(status=200):
        t = ScriptedTrunk(demo_pki, make.host, free_port(make.host), status=status)
        made.append(t)
        return t

    make.host = loopback_addr()
    yield make
    for t in made:
        t.close()


def proxy_set_edge(sipsd_factory, pki, hosts, persistent="yes", t1=100, extra=""):
    """sipsd whose default peer 'trunk' is the proxy set `hosts` [(host, port), ...], with a
    plain TCP interface beside the mutual-TLS one."""
    host = loopback_addr()
    port = free_port(host)
    tcp_port = free_port(host)
    uris = ", ".join(f"sips:{h}:{p}" for h, p in hosts)
    text = tls_config(pki, host, port, extra_global=f"default_peer = trunk\ntimer_t1 = {t1}") + f"""
[interface:legacy]
listen = tcp:{host}:{tcp_port}
mutual_auth = off

[peer:trunk]
uri = {uris}
tls = default
identity = localhost
persistent = {persistent}
{extra}
"""
    s = sipsd_factory(text)
    add_user(s.conf_path, "alice@localhost", "secret-alice")
    s.start()
    s.host, s.port, s.tcp_port, s.pki = host, port, tcp_port, pki
    return s


def linked_set(sipsd_factory, pki, trunks, members, **kw):
    """proxy_set_edge over the trunk hosts `members`, persistent links to both up, and alice
    registered: (sipsd, alice)."""
    s = proxy_set_edge(sipsd_factory, pki, [(trunks.host, t.port) for t in members], **kw)
    s.wait_log("peer.up", count=len(members), timeout=15)
    return s, registered(s, "alice")


def options_to(ua, ruri, extra=()):
    ua.send(ua.request("OPTIONS", ruri, list(extra), call_id=rand() + "@test"))
    return ua.final_response("OPTIONS", timeout=15)


def test_peer_503_fails_over_to_next_host(sipsd_factory, demo_pki, trunks):
    first = trunks(status=503)
    second = trunks(status=200)
    s, alice = linked_set(sipsd_factory, demo_pki, trunks, [first, second])
    r = options_to(alice, "sip:someone@carrier.example")
    assert r.status == 200, r.raw
    assert len(first.requests("OPTIONS")) == 1 and len(second.requests("OPTIONS")) == 1
    # The retry is a new client transaction: a new branch, the same request otherwise.
    b1 = first.requests("OPTIONS")[0].all("Via")[0]
    b2 = second.requests("OPTIONS")[0].all("Via")[0]
    assert b1 != b2
    s.wait_log("proxy.failover")


def test_peer_that_never_answers_fails_over_after_the_timeout(sipsd_factory, demo_pki, trunks):
    silent = trunks(status=None)
    second = trunks(status=486)
    # T1 = 50 ms: timer B fires after 64*T1 = 3.2 s
    s, alice = linked_set(sipsd_factory, demo_pki, trunks, [silent, second], t1=50)
    invite(alice, "someone@carrier.example")
    r = alice.final_response("INVITE", timeout=15)
    assert r.status == 486, r.raw
    assert len(silent.requests("INVITE")) == 1 and len(second.requests("INVITE")) == 1
    s.wait_log("proxy.failover")
    assert "(no response)" in s.log()


def test_on_demand_peer_connects_when_needed_and_fails_over_past_a_dead_host(sipsd_factory, demo_pki, trunks):
    """persistent = no: no link at start; the first request opens a connection (the refused one
    fails over at once to the next host) and later requests reuse it."""
    h = trunks.host
    dead_port = free_port(h)  # nothing listens there
    live = trunks(status=200)
    s = proxy_set_edge(sipsd_factory, demo_pki, [(h, dead_port), (h, live.port)], persistent="no")
    time.sleep(0.5)
    assert live.accepted == 0, "an on-demand peer must not connect before it is needed"
    alice = registered(s, "alice")
    t0 = time.monotonic()
    assert options_to(alice, "sip:someone@carrier.example").status == 200
    assert time.monotonic() - t0 < 3, "a refused connection must fail over at once, not by timer"
    assert options_to(alice, "sip:other@carrier.example").status == 200
    assert live.accepted == 1 and len(live.requests("OPTIONS")) == 2
    assert live.client_subjects[0], "sipsd presents its certificate on demand too"


def test_every_host_down_gives_a_5xx_not_a_hang(sipsd_factory, demo_pki):
    h = loopback_addr()
    s = proxy_set_edge(sipsd_factory, demo_pki, [(h, free_port(h)), (h, free_port(h))], persistent="no")
    alice = registered(s, "alice")
    invite(alice, "someone@carrier.example")
    r = alice.final_response("INVITE", timeout=10)
    assert 500 <= r.status < 600, r.raw


@pytest.mark.skipif(not shutil.which("sipp"), reason="SIPp (Debian sip-tester) is installed by make test")
def test_tls_caller_reaches_sipp_over_udp_peer(sipsd_factory, demo_pki):
    """TLS-to-UDP bridging to a plain peer (RFC 3261 26.2: sip:, never sips:): SIPp's stock UAS
    answers over UDP; ACK and BYE from the TLS caller follow the Record-Route back to it."""
    h = loopback_addr()
    port = free_port(h)
    udp_port = free_port(h, socket.SOCK_DGRAM)
    sipp_port = free_port("127.0.0.1", socket.SOCK_DGRAM)
    text = tls_config(demo_pki, h, port, extra_global="default_peer = legacy") + f"""
[interface:plain]
listen = udp:{h}:{udp_port}
mutual_auth = off

[peer:legacy]
uri = sip:127.0.0.1:{sipp_port};transport=udp
"""
    s = sipsd_factory(text)
    add_user(s.conf_path, "alice@localhost", "secret-alice")
    s.start()
    s.wait_log("transport.listening", count=2)
    s.host, s.port, s.pki = h, port, demo_pki
    workdir = tempfile.mkdtemp(prefix="sipp-")
    sipp = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(sipp_port), "-m", "1", "-nostdin",
                             "-timeout", "30s", "-timeout_error"], cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        alice = registered(s, "alice")
        invite(alice, "service@legacy.example", contact=alice.contact_uri.replace("sips:", "sip:", 1))
        ok = alice.final_response("INVITE", timeout=10)
        assert ok.status == 200, ok.raw
        contact = ok.get("Contact").strip("<>")
        to_tag = ok.get("To").split("tag=")[1]
        # SIPp's stock UAS drops Record-Route from its 200, so the dialog's requests reach it with
        # sipsd as the caller's outbound proxy (its default peer) rather than by route set.
        routes = [f"Route: {r}" for r in route_set(ok)]
        alice.send(alice.request("ACK", contact, routes, to="sip:service@legacy.example", call_id=alice.call_id,
                                 cseq=alice.cseq, to_tag=to_tag))
        time.sleep(0.2)
        alice.send(alice.request("BYE", contact, routes, to="sip:service@legacy.example", call_id=alice.call_id,
                                 to_tag=to_tag))
        assert alice.final_response("BYE", timeout=10).status == 200
        assert sipp.wait(timeout=15) == 0, sipp.stderr.read().decode(errors="replace")
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def edge(sipsd_factory, demo_pki):
    host = loopback_addr()
    port = free_port(host)
    s = sipsd_factory(tls_config(demo_pki, host, port))
    for u in ("alice", "bob"):
        add_user(s.conf_path, f"{u}@localhost", "secret-" + u)
    s.start()
    s.host, s.port, s.pki = host, port, demo_pki
    return s


def test_request_from_a_strict_router_is_routed_by_its_last_route(edge):
    """RFC 3261 16.4: a strict router before us puts our Record-Route URI in the Request-URI and
    the remote target last in Route; sipsd puts that target back into the Request-URI."""
    alice = registered(edge, "alice")
    bob = registered(edge, "bob")
    invite(alice, "bob@localhost")
    inv, tag = answer(bob)
    ok = alice.final_response("INVITE")
    assert ok.status == 200
    ours = route_set(ok)[0].strip("<>")
    alice_contact = inv.get("Contact").strip("<>")
    # Bob behaves as a strict router would: R-URI = the proxy's URI, remote target last.
    bob.send(bob.request("BYE", ours, [f"Route: <{alice_contact}>"], to="sip:alice@localhost",
                         call_id=alice.call_id, from_tag=tag, to_tag=alice.tag))
    got = alice.wait(lambda m: m.method == "BYE")
    assert got.ruri == alice_contact
    assert not got.all("Route"), got.raw
    alice.send(response_to(got, 200, "OK"))
    assert bob.final_response("BYE").status == 200


def test_strict_next_hop_gets_its_uri_as_request_uri(sipsd_factory, demo_pki, trunks):
    """RFC 3261 16.6 item 6: a Route without ;lr names a strict router: it gets the request with
    its URI as Request-URI and the original Request-URI last in Route."""
    h = trunks.host
    trunk = trunks(status=200)
    s = proxy_set_edge(sipsd_factory, demo_pki, [(h, trunk.port)])
    s.wait_log("peer.up", timeout=15)
    alice = registered(s, "alice")
    strict = f"sips:{h}:{trunk.port}"
    r = options_to(alice, "sip:someone@carrier.example", [f"Route: <{strict}>"])
    assert r.status == 200, r.raw
    got = trunk.requests("OPTIONS")[0]
    assert got.ruri == strict
    assert got.all("Route") == ["<sip:someone@carrier.example>"], got.raw
    # Without a certificate (or digest) nobody may pre-load a route to a trunk.
    plain = UA(s.host, s.tcp_port, "alice", transport="TCP").connect()
    r = options_to(plain, "sip:someone@carrier.example", [f"Route: <{strict};lr>"])
    assert r.status == 407, r.raw
    assert len(trunk.requests("OPTIONS")) == 1


def test_route_names_the_host_and_port_of_a_proxy_set_member(sipsd_factory, demo_pki, trunks):
    """Two hosts of a proxy set on one address: a Route picks the one on its port."""
    first = trunks(status=200)
    second = trunks(status=200)
    s, alice = linked_set(sipsd_factory, demo_pki, trunks, [first, second])
    r = options_to(alice, "sip:someone@carrier.example", [f"Route: <sips:{trunks.host}:{second.port};lr>"])
    assert r.status == 200, r.raw
    assert not first.requests("OPTIONS") and len(second.requests("OPTIONS")) == 1


def test_path_through_an_edge_sipsd_to_a_registrar_sipsd(sipsd_factory, demo_pki):
    """RFC 3327 with a second sipsd: bob registers through the edge, which adds Path; the
    registrar stores it, echoes it, and routes alice's call to bob through the edge, over the
    edge's own link, and the whole dialog (ACK, BYE) follows."""
    rh, eh = loopback_addr(), loopback_addr()
    rport, eport = free_port(rh), free_port(eh)
    reg = sipsd_factory(tls_config(demo_pki, rh, rport).replace("domains = localhost", "domains = core.example"))
    for u in ("alice", "bob"):
        add_user(reg.conf_path, f"{u}@core.example", "secret-" + u)
    reg.start()
    edge_conf = tls_config(demo_pki, eh, eport).replace("domains = localhost", "domains = edge.example") + f"""
[peer:core]
uri = sips:{rh}:{rport}
tls = default
identity = localhost
persistent = yes
domains = core.example
trusted_relay = yes
"""
    edge = sipsd_factory(edge_conf)
    edge.start()
    edge.wait_log("peer.up", timeout=15)

    bob = UA(eh, eport, "bob", domain="core.example", password="secret-bob",
             ctx=client_context(demo_pki, "bob")).connect()
    r = bob.register(extra=["Supported: path"])
    assert r.status == 200, r.raw
    paths = r.all("Path")
    assert len(paths) == 1 and ";ob" in paths[0] and f"@{eh}:" in paths[0], r.raw

    alice = UA(rh, rport, "alice", domain="core.example", password="secret-alice",
               ctx=client_context(demo_pki, "alice")).connect()
    assert alice.register().status == 200
    invite(alice, "bob@core.example")
    inv, tag = answer(bob)
    rr = []
    for v in inv.all("Record-Route"):
        rr += [x.strip() for x in v.split(",")]
    assert len(rr) == 2, "both proxies stay in the dialog: %r" % rr
    ok = alice.final_response("INVITE", timeout=10)
    assert ok.status == 200, ok.raw
    bob_contact = ok.get("Contact").strip("<>")
    alice.send(alice.request("ACK", bob_contact, [f"Route: {x}" for x in route_set(ok)], to="sip:bob@core.example",
                             call_id=alice.call_id, cseq=alice.cseq, to_tag=tag))
    assert bob.wait(lambda m: m.method == "ACK").get("Call-ID") == alice.call_id
    bob.send(bob.request("BYE", inv.get("Contact").strip("<>"), [f"Route: {x}" for x in rr], to="sip:alice@core.example",
                         call_id=alice.call_id, from_tag=tag, to_tag=alice.tag))
    got = alice.wait(lambda m: m.method == "BYE", timeout=10)
    alice.send(response_to(got, 200, "OK"))
    assert bob.final_response("BYE", timeout=10).status == 200
