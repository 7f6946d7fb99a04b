"""Secure media policy at the proxy (RFC 4568): calls through the real daemon over mutual TLS."""
import pytest

from conftest import free_port, loopback_addr, tls_config
from sipua import response_to
from test_mgmt import api, metric
from test_proxy import add_user, invite, ua

KEY30 = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"  # 30 bytes: AES_CM_128 key + salt
KEY20 = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA="  # 20 bytes: wrong length


def sdp(proto="RTP/SAVP", attrs=()):
    lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
             f"m=audio 40000 {proto} 0", "a=rtpmap:0 PCMU/8000"] + list(attrs)
    return "\r\n".join(lines) + "\r\n"


SDES = sdp(attrs=[f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}"])
PLAIN = sdp(proto="RTP/AVP")
MIKEY = sdp(attrs=["a=key-mgmt:mikey AQAFgM0XflABAAAAAAAAAAAAAAsAyO7XIFAAAAAAAAA="])
BAD_CRYPTO = sdp(attrs=[f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY20}"])


@pytest.fixture
def media_edge(sipsd_factory, demo_pki, request):
    iface = getattr(request, "param", "media = secure-required\nkey_management = sdes")
    host = loopback_addr()
    port = free_port(host)
    tcp_port = free_port(host)
    text = tls_config(demo_pki, host, port, extra_iface=iface) + f"""
[interface:legacy]
listen = tcp:{host}:{tcp_port}
mutual_auth = off
"""
    s = sipsd_factory(text)
    for u in ("alice", "bob"):
        add_user(s.conf_path, f"{u}@localhost", "secret-" + u)
    s.start()
    s.wait_log("transport.listening", count=2)
    s.host, s.port, s.tcp_port, s.pki = host, port, tcp_port, demo_pki
    return s


def never_reached(callee):
    """A refused offer never reaches the callee (the keys never left on the hop)."""
    with pytest.raises(TimeoutError):
        callee.wait(lambda m: m.method == "INVITE", timeout=0.3)


def reg(edge, user, transport="TLS"):
    u = ua(edge, user, cert=user) if transport == "TLS" else ua(edge, user, transport="TCP")
    assert u.register().status == 200
    return u


def test_plain_rtp_offer_refused_when_secure_required(media_edge):
    alice, bob = reg(media_edge, "alice"), reg(media_edge, "bob")
    invite(alice, "bob@localhost", body=PLAIN)
    r = alice.final_response("INVITE")
    assert r.status == 488, r.raw
    assert "no secure media" in (r.get("Warning") or "")
    never_reached(bob)
    status, text = api(media_edge.mgmt_sock, "GET", "/metrics", raw=True)
    assert status == 200
    assert metric(text, "sipsd_media_rejections_total", kind="offer", reason="no_secure_media") == 1
    assert metric(text, "sipsd_media_offers_by_media_total", media="rtp") >= 1
    # Transactions by method and class, and the registrar's outcomes, move too.
    assert metric(text, "sipsd_sip_transactions_total", method="INVITE", **{"class": "4xx"}) == 1
    assert metric(text, "sipsd_sip_transactions_total", method="REGISTER", **{"class": "2xx"}) == 2
    assert metric(text, "sipsd_registrar_requests_total", result="ok") == 2
    assert metric(text, "sipsd_registrar_requests_total", result="challenged") == 2


def test_mikey_offer_refused_415_when_sdes_required(media_edge):
    alice, bob = reg(media_edge, "alice"), reg(media_edge, "bob")
    invite(alice, "bob@localhost", body=MIKEY)
    r = alice.final_response("INVITE")
    assert r.status == 415, r.raw
    assert "mikey" in (r.get("Warning") or "").lower()
    never_reached(bob)


@pytest.mark.parametrize("media_edge", ["media = secure-required\nkey_management = sdes\nmismatch_response = 488"],
                         indirect=True)
def test_mikey_offer_refused_488_when_configured(media_edge):
    alice, bob = reg(media_edge, "alice"), reg(media_edge, "bob")
    invite(alice, "bob@localhost", body=MIKEY)
    assert alice.final_response("INVITE").status == 488
    never_reached(bob)


def test_sdes_offer_towards_plain_hop_refused(media_edge):
    alice = reg(media_edge, "alice")
    bob = reg(media_edge, "bob", transport="TCP")  # reachable over TCP only
    invite(alice, "bob@localhost", body=SDES)
    r = alice.final_response("INVITE")
    assert r.status == 488, r.raw
    assert "SDES keys require TLS on every hop" in (r.get("Warning") or "")
    never_reached(bob)


def test_valid_sdes_call_completes(media_edge):
    alice, bob = reg(media_edge, "alice"), reg(media_edge, "bob")
    invite(alice, "bob@localhost", body=SDES)
    inv = bob.wait(lambda m: m.method == "INVITE")
    assert b"a=crypto:1" in inv.raw
    bob.send(response_to(inv, 200, "OK", to_tag="b1", extra=[f"Contact: <{bob.contact_uri}>"], body=SDES))
    r = alice.final_response("INVITE")
    assert r.status == 200, r.raw


def test_answer_dropping_srtp_is_refused_and_callee_hung_up(media_edge):
    alice, bob = reg(media_edge, "alice"), reg(media_edge, "bob")
    invite(alice, "bob@localhost", body=SDES)
    inv = bob.wait(lambda m: m.method == "INVITE")
    bob.send(response_to(inv, 200, "OK", to_tag="b1", extra=[f"Contact: <{bob.contact_uri}>"], body=PLAIN))
    r = alice.final_response("INVITE")
    assert r.status == 488, r.raw
    assert bob.wait(lambda m: m.method == "ACK")
    bye = bob.wait(lambda m: m.method == "BYE")
    bob.send(response_to(bye, 200, "OK"))


def test_malformed_crypto_refused_and_server_keeps_serving(media_edge):
    alice, bob = reg(media_edge, "alice"), reg(media_edge, "bob")
    invite(alice, "bob@localhost", body=BAD_CRYPTO)
    r = alice.final_response("INVITE")
    assert r.status == 488
    assert "key length" in (r.get("Warning") or "")
    assert KEY20 not in media_edge.log(), "key material must never be logged"
    never_reached(bob)
    assert alice.options().status == 200


@pytest.mark.parametrize("media_edge", ["media = secure-preferred\nsdes_on_insecure_hop = strip"], indirect=True)
def test_sdes_keys_stripped_towards_plain_hop_when_configured(media_edge):
    """strip mode: the keys never leave on the TCP hop; the offer goes on without them."""
    alice = reg(media_edge, "alice")
    bob = reg(media_edge, "bob", transport="TCP")
    offer = sdp(proto="RTP/AVP", attrs=[f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}"])
    invite(alice, "bob@localhost", body=offer)
    inv = bob.wait(lambda m: m.method == "INVITE")
    assert b"a=crypto" not in inv.raw and KEY30.encode() not in inv.raw
    assert b"m=audio 40000 RTP/AVP 0" in inv.raw
    assert int(inv.get("Content-Length")) == len(inv.body)
    bob.send(response_to(inv, 486, "Busy Here", to_tag="b1"))
    assert alice.final_response("INVITE").status == 486
