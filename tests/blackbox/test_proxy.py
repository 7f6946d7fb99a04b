"""The stateful proxy end to end: UAs registered over mutual TLS call each other through the real
daemon; peers, sips policy, loop and hop limits."""
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import BUILD_DIR, PeerServer, client_context, free_port, loopback_addr, tls_config
from sipua import SDP, UA, Msg, digest_header, parse_auth_params, rand, response_to


def sipsctl():
    return os.path.join(BUILD_DIR, "tools", "sipsctl", "sipsctl")


def add_user(conf_path, aor, password, *extra):
    r = subprocess.run([sipsctl(), "-c", conf_path, "user", "add", aor, *extra], input=password + "\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def edge(sipsd_factory, demo_pki):
    """sipsd with TLS (mTLS required) and a plain TCP legacy interface; users alice, bob, carol."""
    host = loopback_addr()
    port = free_port(host)
    tcp_port = free_port(host)
    udp_port = free_port(host, socket.SOCK_DGRAM)
    text = tls_config(demo_pki, host, port, extra_global="timer_t1 = 100") + f"""
[interface:legacy]
listen = tcp:{host}:{tcp_port}, udp:{host}:{udp_port}
mutual_auth = off
"""
    s = sipsd_factory(text)
    for u in ("alice", "bob", "carol"):
        add_user(s.conf_path, f"{u}@localhost", "secret-" + u)
    s.start()
    s.wait_log("transport.listening", count=2)
    s.host, s.port, s.tcp_port, s.udp_port = host, port, tcp_port, udp_port
    s.pki = demo_pki
    return s


def ua(edge, user, cert=None, transport="TLS"):
    """A connected UA for user; over TLS it presents cert's certificate (default alice's)."""
    if transport == "TLS":
        ctx = client_context(edge.pki, cert or "alice", cert=cert is not False)
        return UA(edge.host, edge.port, user, password="secret-" + user, ctx=ctx).connect()
    if transport == "UDP":
        return UA(edge.host, edge.udp_port, user, password="secret-" + user, transport="UDP").connect()
    return UA(edge.host, edge.tcp_port, user, password="secret-" + user, transport="TCP").connect()


def registered(edge, user, transport="TLS"):
    u = ua(edge, user, cert=user if user in ("alice", "bob") else None, transport=transport)
    r = u.register()
    assert r.status == 200, r.raw
    return u


def invite(caller, callee_aor, body=SDP, extra=(), scheme="sip", contact=None):
    caller.call_id = rand() + "@test"
    ruri = f"{scheme}:{callee_aor}"
    msg = caller.request("INVITE", ruri, [f"Contact: <{contact or caller.contact_uri}>"] + list(extra), body=body,
                         call_id=caller.call_id)
    caller.send(msg)
    return ruri


def answer(callee, status=200, reason="OK", timeout=5):
    inv = callee.wait(lambda m: m.method == "INVITE", timeout)
    tag = rand(8)
    callee.send(response_to(inv, 180, "Ringing", to_tag=tag, extra=[f"Contact: <{callee.contact_uri}>"]))
    if status:
        body = SDP if status == 200 else ""
        callee.send(response_to(inv, status, reason, to_tag=tag, extra=[f"Contact: <{callee.contact_uri}>"], body=body))
    return inv, tag


def route_set(resp):
    """UAC route set from a 2xx's Record-Route (reversed, RFC 3261 12.1.2)."""
    rr = []
    for v in resp.all("Record-Route"):
        rr += [x.strip() for x in v.split(",")]
    return list(reversed(rr))


def test_basic_call_alice_to_bob(edge):
    alice = registered(edge, "alice")
    bob = registered(edge, "bob")
    invite(alice, "bob@localhost")
    inv, tag = answer(bob)
    assert inv.get("Record-Route"), "proxy must Record-Route the dialog"
    assert inv.get("Max-Forwards") == "69"
    assert len(inv.all("Via")) >= 2
    ok = alice.final_response("INVITE")
    assert ok.status == 200, ok.raw
    # ACK for 2xx follows the route set end to end through the proxy (RFC 3261 13.2.2.4).
    bob_contact = ok.get("Contact").strip("<>")
    alice.send(alice.request("ACK", bob_contact, [f"Route: {r}" for r in route_set(ok)], to="sip:bob@localhost",
                             call_id=alice.call_id, cseq=alice.cseq, to_tag=tag))
    got_ack = bob.wait(lambda m: m.method == "ACK")
    assert got_ack.get("Call-ID") == alice.call_id
    # Bob hangs up: BYE to alice's contact through the Record-Route, in order (12.1.1).
    alice_contact = inv.get("Contact").strip("<>")
    rr = []
    for v in inv.all("Record-Route"):
        rr += [x.strip() for x in v.split(",")]
    bob.send(bob.request("BYE", alice_contact, [f"Route: {r}" for r in rr], to="sip:alice@localhost",
                         call_id=alice.call_id, from_tag=tag, to_tag=alice.tag))
    got_bye = alice.wait(lambda m: m.method == "BYE")
    alice.send(response_to(got_bye, 200, "OK"))
    assert bob.final_response("BYE").status == 200
    for u in (alice, bob):
        u.close()


def test_flow_token_with_a_wrong_mac_is_not_followed_in_a_live_dialog(edge):
    """The proxy remembers the flow-token MACs it computed: a token naming the live dialog's
    flows but carrying another MAC must still be refused (routed by its Request-URI instead),
    while the genuine one reaches the callee's flow whatever the Request-URI says."""
    alice = registered(edge, "alice")
    bob = registered(edge, "bob")
    invite(alice, "bob@localhost")
    inv, tag = answer(bob)
    ok = alice.final_response("INVITE")
    assert ok.status == 200, ok.raw
    routes = route_set(ok)
    alice.send(alice.request("ACK", "sip:bob@localhost", [f"Route: {r}" for r in routes], to="sip:bob@localhost",
                             call_id=alice.call_id, cseq=alice.cseq, to_tag=tag))
    bob.wait(lambda m: m.method == "ACK")  # the MAC of this flow pair is now remembered

    def tampered(r):
        # sip:f.A.B.MAC@host...: change the MAC's last hex digit
        user, at, rest = r.partition("@")
        return user[:-1] + ("0" if user[-1] != "0" else "1") + at + rest

    forged = [tampered(r) if ":f." in r else r for r in routes]
    assert forged != routes
    alice.send(alice.request("BYE", "sip:nobody@localhost", [f"Route: {r}" for r in forged], to="sip:bob@localhost",
                             call_id=alice.call_id, to_tag=tag))
    assert alice.final_response("BYE").status >= 400
    with pytest.raises(TimeoutError):
        bob.wait(lambda m: m.method == "BYE", timeout=1)
    # control: the genuine token is followed to bob's flow although nobody is the Request-URI
    alice.send(alice.request("BYE", "sip:nobody@localhost", [f"Route: {r}" for r in routes], to="sip:bob@localhost",
                             call_id=alice.call_id, to_tag=tag))
    got_bye = bob.wait(lambda m: m.method == "BYE")
    bob.send(response_to(got_bye, 200, "OK"))
    assert alice.final_response("BYE").status == 200


def ringing(edge):
    """alice calls bob, who rings: (alice, bob, the INVITE bob got, bob's To tag)."""
    alice = registered(edge, "alice")
    bob = registered(edge, "bob")
    invite(alice, "bob@localhost")
    inv, tag = answer(bob, status=None)
    assert alice.wait(lambda m: m.is_response and m.status == 180).status == 180
    return alice, bob, inv, tag


def test_cancel_before_answer(edge):
    alice, bob, inv, tag = ringing(edge)
    # CANCEL carries the INVITE's top Via (RFC 3261 9.1): the bottom Via bob saw is alice's.
    cancel = alice.request("CANCEL", "sip:bob@localhost", call_id=alice.call_id, cseq=alice.cseq)
    alice_via = inv.all("Via")[-1]
    cancel = "\r\n".join(l if not l.startswith("Via:") else f"Via: {alice_via}" for l in cancel.split("\r\n"))
    alice.send(cancel)
    assert alice.final_response("CANCEL").status == 200
    got_cancel = bob.wait(lambda m: m.method == "CANCEL")
    bob.send(response_to(got_cancel, 200, "OK"))
    bob.send(response_to(inv, 487, "Request Terminated", to_tag=tag))
    assert alice.final_response("INVITE").status == 487


def test_cancel_without_its_invite_gets_481(edge):
    # RFC 3261 9.2: a CANCEL matching no pending INVITE is answered 481, also while other
    # calls of the same UA are in flight.
    alice, bob, inv, tag = ringing(edge)
    stray = alice.request("CANCEL", "sip:bob@localhost", call_id="no-such-call@alice", cseq=1)
    alice.send(stray)
    assert alice.final_response("CANCEL").status == 481
    bob.send(response_to(inv, 486, "Busy Here", to_tag=tag))
    assert alice.final_response("INVITE").status == 486


def test_callee_connection_lost_while_ringing_fails_only_that_call(edge):
    # RFC 3261 17.1.4: a branch whose connection closes fails at once (503, relayed as 500 by
    # 16.7 item 6), not when timer C runs out minutes later; a call on another connection
    # of the same caller keeps ringing.
    alice, bob, inv, tag = ringing(edge)
    lost_call = alice.call_id
    carol = registered(edge, "carol")
    invite(alice, "carol@localhost")
    kept_call = alice.call_id
    inv2, tag2 = answer(carol, status=None)
    assert alice.wait(lambda m: m.is_response and m.status == 180 and m.get("Call-ID") == kept_call).status == 180
    bob.sock.close()  # no close_notify, no answer: the connection is just gone
    r = alice.wait(lambda m: m.is_response and m.status >= 200 and m.get("Call-ID") == lost_call, timeout=3)
    assert r.status == 500, r.raw
    carol.send(response_to(inv2, 486, "Busy Here", to_tag=tag2))
    r = alice.wait(lambda m: m.is_response and m.status >= 200 and m.get("Call-ID") == kept_call)
    assert r.status == 486, r.raw


def test_busy_is_relayed(edge):
    alice = registered(edge, "alice")
    bob = registered(edge, "bob")
    invite(alice, "bob@localhost")
    answer(bob, status=486, reason="Busy Here")
    assert alice.final_response("INVITE").status == 486


def test_forking_first_200_wins_other_branch_cancelled(edge):
    alice = registered(edge, "alice")
    bob1 = registered(edge, "bob")
    bob2 = ua(edge, "bob", cert="bob")
    assert bob2.register().status == 200
    invite(alice, "bob@localhost")
    inv1 = bob1.wait(lambda m: m.method == "INVITE")
    inv2 = bob2.wait(lambda m: m.method == "INVITE")
    bob2.send(response_to(inv2, 180, "Ringing", to_tag="b2"))
    bob1.send(response_to(inv1, 200, "OK", to_tag="b1", extra=[f"Contact: <{bob1.contact_uri}>"], body=SDP))
    ok = alice.final_response("INVITE")
    assert ok.status == 200 and "tag=b1" in ok.get("To")
    cancel = bob2.wait(lambda m: m.method == "CANCEL")
    bob2.send(response_to(cancel, 200, "OK"))
    bob2.send(response_to(inv2, 487, "Request Terminated", to_tag="b2"))


def test_unregistered_and_unknown_users(edge):
    alice = registered(edge, "alice")
    invite(alice, "carol@localhost")  # provisioned, not registered
    assert alice.final_response("INVITE").status == 480
    invite(alice, "nobody@localhost")
    assert alice.final_response("INVITE").status == 404


def test_max_forwards_zero_gets_483(edge):
    alice = registered(edge, "alice")
    alice.call_id = rand() + "@test"
    msg = alice.request("INVITE", "sip:bob@localhost", [f"Contact: <{alice.contact_uri}>"], body=SDP)
    alice.send(msg.replace("Max-Forwards: 70", "Max-Forwards: 0"))
    assert alice.final_response("INVITE").status == 483


def test_sips_call_needing_plain_hop_refused(edge):
    alice = registered(edge, "alice")
    bob = registered(edge, "bob", transport="TCP")  # bob only reachable over TCP
    invite(alice, "bob@localhost", scheme="sips")
    r = alice.final_response("INVITE")
    assert r.status == 480, r.raw
    assert "TLS" in r.reason
    # The same call as sip: goes through (TLS to TCP bridging).
    invite(alice, "bob@localhost")
    answer(bob, status=486, reason="Busy Here")
    assert alice.final_response("INVITE").status == 486


def test_sips_request_over_tcp_refused(edge):
    bob = registered(edge, "bob", transport="TCP")
    invite(bob, "alice@localhost", scheme="sips")
    assert bob.final_response("INVITE").status == 416


def test_malformed_in_dialog_requests_never_crash(edge):
    alice = registered(edge, "alice")
    bad = [
        "BYE sip:bob@localhost SIP/2.0\r\nVia: SIP/2.0/TLS 1.2.3.4;branch=z9hG4bKx\r\nCall-ID: x\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        alice.request("BYE", "sip:bob@localhost", ["Route: <sip:f.1.2.0000000000000000@127.0.0.1;lr>"], to_tag="zz"),
        alice.request("ACK", "sip:bob@localhost", ["Route: <sip:garbage@@;lr>"], to_tag="zz"),
        alice.request("BYE", "sip:bob@localhost", ["Route: <sips:f.ffffffffffffffff.0.deadbeefdeadbeef@" + edge.host + ";lr>"], to_tag="zz"),
    ]
    for b in bad:
        alice.send(b)
    time.sleep(0.5)
    assert alice.options().status == 200
    assert edge.proc.poll() is None


@pytest.fixture
def edge_with_peer(sipsd_factory, demo_pki):
    """sipsd with a default peer (a Python TLS 'trunk' on two hosts, the first one down)."""
    host = loopback_addr()
    port = free_port(host)
    down_host = loopback_addr()
    down_port = free_port(down_host)
    peer_host = loopback_addr()
    peer_port = free_port(peer_host)
    trunk = TrunkServer(demo_pki, peer_host, peer_port)
    tcp_port = free_port(host)
    text = tls_config(demo_pki, host, port, extra_global="default_peer = trunk") + f"""
[interface:legacy]
listen = tcp:{host}:{tcp_port}
mutual_auth = off

[peer:trunk]
uri = sips:{down_host}:{down_port}, sips:{peer_host}:{peer_port}
tls = default
identity = localhost
persistent = yes
keepalive = 5
"""
    s = sipsd_factory(text)
    add_user(s.conf_path, "alice@localhost", "secret-alice")
    s.start()
    s.host, s.port, s.pki, s.trunk, s.tcp_port = host, port, demo_pki, trunk, tcp_port
    yield s
    trunk.close()


class TrunkServer(PeerServer):
    """A trunk that answers INVITEs with 486 and can send requests back over the link."""

    def __init__(self, *a, **kw):
        self.received = []
        self.buf = b""
        super().__init__(*a, **kw)

    def on_data(self, c, data):
        self.buf += data
        while True:
            while self.buf.startswith(b"\r\n\r\n"):
                c.sendall(b"\r\n")
                self.buf = self.buf[4:]
            while self.buf.startswith(b"\r\n"):
                self.buf = self.buf[2:]
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            m = re.search(rb"(?im)^content-length:\s*(\d+)", self.buf[:end])
            total = end + 4 + (int(m.group(1)) if m else 0)
            if len(self.buf) < total:
                return
            msg, self.buf = Msg(self.buf[:total]), self.buf[total:]
            self.received.append(msg)
            self.respond(c, msg)

    def respond(self, c, msg):
        if msg.method == "INVITE":
            c.sendall(response_to(msg, 486, "Busy Here", to_tag="trunk").encode())
        elif msg.method != "ACK" and not msg.is_response:
            c.sendall(response_to(msg, 200, "OK", to_tag="trunk").encode())


def test_foreign_domain_goes_to_peer_with_failover(edge_with_peer):
    s = edge_with_peer
    s.wait_log("peer.up", timeout=15)
    alice = registered(s, "alice")
    invite(alice, "someone@carrier.example")
    r = alice.final_response("INVITE", timeout=10)
    assert r.status == 486, r.raw
    got = [m for m in s.trunk.received if m.method == "INVITE"]
    assert got and got[0].ruri == "sip:someone@carrier.example"


def test_from_domain_mismatch_from_peer_gets_403(edge_with_peer):
    s = edge_with_peer
    s.wait_log("peer.up", timeout=15)
    # The trunk's certificate proves "localhost"; a request From another domain is refused.
    req = ("OPTIONS sip:alice@localhost SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKtr1\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:mallory@evil.example>;tag=t1\r\nTo: <sip:alice@localhost>\r\n"
           "Call-ID: trunk-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    s.trunk.send(req.encode())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(m.is_response and m.status == 403 for m in s.trunk.received):
        time.sleep(0.05)
    assert any(m.is_response and m.status == 403 for m in s.trunk.received)
    s.wait_log("proxy.identity_mismatch")


def test_loop_detected(sipsd_factory, demo_pki):
    """A default peer that is sipsd itself: the request comes back with our Via -> 482."""
    host = loopback_addr()
    port = free_port(host)
    text = tls_config(demo_pki, host, port, extra_global="default_peer = self") + f"""
[peer:self]
uri = sips:{host}:{port}
tls = default
identity = localhost
persistent = yes
trusted_relay = yes
"""
    s = sipsd_factory(text)
    add_user(s.conf_path, "alice@localhost", "secret-alice")
    s.start()
    s.host, s.port, s.pki = host, port, demo_pki
    s.wait_log("peer.up", timeout=10)
    alice = registered(s, "alice")
    invite(alice, "x@elsewhere.example")
    r = alice.final_response("INVITE", timeout=10)
    assert r.status == 482, r.raw


def test_foreign_call_without_certificate_needs_digest(edge_with_peer):
    """RFC 3261 22.3: a caller without a verified certificate proves itself with digest (407)."""
    s = edge_with_peer
    s.wait_log("peer.up", timeout=15)
    alice = registered(s, "alice", transport="TCP")
    ruri = invite(alice, "someone@carrier.example")
    r = alice.final_response("INVITE", timeout=10)
    assert r.status == 407, r.raw
    chal = parse_auth_params(r.all("Proxy-Authenticate")[0])[1]
    # Wrong password: 403 after the challenge.
    bad = digest_header("INVITE", ruri, "alice", "wrong", chal, header="Proxy-Authorization")
    alice.send(alice.request("INVITE", ruri, [f"Contact: <{alice.contact_uri}>", bad], body=SDP, call_id=alice.call_id))
    assert alice.final_response("INVITE", timeout=10).status == 403
    invite(alice, "someone@carrier.example")
    chal = parse_auth_params(alice.final_response("INVITE", timeout=10).all("Proxy-Authenticate")[0])[1]
    good = digest_header("INVITE", ruri, "alice", "secret-alice", chal, header="Proxy-Authorization")
    alice.send(alice.request("INVITE", ruri, [f"Contact: <{alice.contact_uri}>", good], body=SDP, call_id=alice.call_id))
    r = alice.final_response("INVITE", timeout=10)
    assert r.status == 486, r.raw  # the trunk's answer: the call went through


def test_tls_to_udp_bridging_and_back(edge):
    """A TLS caller reaches a legacy UDP phone (sip:, never sips:); responses and the in-dialog
    BYE find their way back across the two transports."""
    alice = registered(edge, "alice")
    bob = registered(edge, "bob", transport="UDP")
    # A sip: dialog (RFC 5630 3.1.3: sips only when every hop is TLS, which this one is not).
    invite(alice, "bob@localhost", contact=alice.contact_uri.replace("sips:", "sip:", 1))
    inv, tag = answer(bob)
    assert "SIP/2.0/UDP" in inv.all("Via")[0]
    ok = alice.final_response("INVITE")
    assert ok.status == 200, ok.raw
    rr = []
    for v in inv.all("Record-Route"):
        rr += [x.strip() for x in v.split(",")]
    bob.send(bob.request("BYE", inv.get("Contact").strip("<>"), [f"Route: {r}" for r in rr], to="sip:alice@localhost",
                         call_id=alice.call_id, from_tag=tag, to_tag=alice.tag))
    got_bye = alice.wait(lambda m: m.method == "BYE")
    alice.send(response_to(got_bye, 200, "OK"))
    assert bob.final_response("BYE").status == 200


def test_registrations_table_shows_live_flows(edge):
    """GET /registrations and `sipsctl regs`: the AOR, contact, flow and expiry of each binding,
    and the flow marked failed once its connection closes (RFC 5626 5.3)."""
    from test_mgmt import api, ctl
    alice = registered(edge, "alice")
    st, v = api(edge.mgmt_sock, "GET", "/registrations")
    assert st == 200
    rows = [r for r in v["registrations"] if r["aor"] == "sip:alice@localhost"]
    assert len(rows) == 1, v
    assert rows[0]["contact"] == alice.contact_uri and rows[0]["transport"] == "tls"
    assert rows[0]["conn_id"] > 0 and not rows[0]["flow_failed"] and 0 < rows[0]["expires_s"] <= 3600
    assert "sip:alice@localhost" in ctl(edge.mgmt_sock, "regs").stdout
    alice.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = [r for r in api(edge.mgmt_sock, "GET", "/registrations")[1]["registrations"]
                if r["aor"] == "sip:alice@localhost"]
        if rows and rows[0]["flow_failed"]:
            break
        time.sleep(0.05)
    assert rows and rows[0]["flow_failed"]
    # A call to her now gets 430 Flow Failed rather than a new connection towards her.
    bob = registered(edge, "bob")
    invite(bob, "alice@localhost")
    assert bob.final_response("INVITE").status == 430


def test_trying_only_when_the_callee_is_slow(edge):
    """RFC 3261 17.2.1: over TLS a 100 Trying is only owed when nothing comes back within
    200 ms; a callee that rings at once spares the message."""
    alice = registered(edge, "alice")
    bob = registered(edge, "bob")
    invite(alice, "bob@localhost")
    inv, tag = answer(bob, status=None)  # 180 at once
    first = alice.wait(lambda m: m.is_response and m.cseq_method == "INVITE")
    assert first.status == 180, first.raw
    bob.send(response_to(inv, 486, "Busy Here", to_tag=tag))
    assert alice.final_response("INVITE").status == 486

    invite(alice, "bob@localhost")
    inv = bob.wait(lambda m: m.method == "INVITE")
    t0 = time.monotonic()
    trying = alice.wait(lambda m: m.is_response and m.cseq_method == "INVITE", timeout=3)
    assert trying.status == 100 and time.monotonic() - t0 >= 0.1, trying.raw
    bob.send(response_to(inv, 486, "Busy Here", to_tag="x"))
    assert alice.final_response("INVITE").status == 486
