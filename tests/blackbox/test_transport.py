"""SIP over TLS, TCP and UDP against the real daemon: requests answered on the connection they
came on, keepalives, idle timeout, framing errors, persistent outbound peer links."""
import re
import socket
import time

import pytest

from conftest import PeerServer, client_context, free_port, loopback_addr, tls_config, tls_connect


def options(branch="z9hG4bKopt1", transport="TLS", extra="", call_id="opt-1@test"):
    return (f"OPTIONS sip:localhost SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:5999;rport;branch={branch}\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:alice@localhost>;tag=a1\r\n"
            f"To: <sip:localhost>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: 1 OPTIONS\r\n"
            f"{extra}"
            f"Content-Length: 0\r\n\r\n").encode()


def read_response(sock, timeout=5.0):
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, _ = data.partition(b"\r\n\r\n")
    return head.decode("utf-8", "replace")


@pytest.fixture
def server(sipsd_factory, demo_pki):
    host = loopback_addr()
    port = free_port(host)
    tcp_port = free_port(host)
    udp_port = free_port(host, socket.SOCK_DGRAM)
    extra = f"""
[interface:legacy]
listen = tcp:{host}:{tcp_port}, udp:{host}:{udp_port}
mutual_auth = off
idle_timeout = 2
"""
    s = sipsd_factory(tls_config(demo_pki, host, port) + extra).start()
    s.wait_log("transport.listening", count=3)
    s.host, s.port, s.tcp_port, s.udp_port = host, port, tcp_port, udp_port
    return s


def test_options_over_tls_gets_200_with_to_tag(server, demo_pki):
    c = tls_connect(client_context(demo_pki), server.host, server.port)
    c.sendall(options())
    resp = read_response(c)
    assert resp.startswith("SIP/2.0 200 "), resp
    assert "branch=z9hG4bKopt1" in resp
    assert "Call-ID: opt-1@test" in resp
    assert ";tag=" in [l for l in resp.split("\r\n") if l.startswith("To:")][0]
    # Several requests on the same connection, split across writes.
    msg = options(branch="z9hG4bKopt2", call_id="opt-2@test")
    c.sendall(msg[:30])
    time.sleep(0.1)
    c.sendall(msg[30:])
    assert "opt-2@test" in read_response(c)
    c.close()


def test_answers_to_requests_that_came_together_leave_together_in_order(server, demo_pki):
    """Requests read in one go are answered in one TLS record (one write), in order; more than
    a record's worth still all arrive."""
    c = tls_connect(client_context(demo_pki), server.host, server.port)
    n = 60  # about 24 KB of answers: more than one 16 KB TLS record
    c.sendall(b"".join(options(branch="z9hG4bKtogether%d" % i, call_id="together-%d@test" % i)
                       for i in range(n)))
    c.settimeout(5)
    records = []
    data = b""
    while data.count(b"SIP/2.0 200 ") < n:
        chunk = c.recv(65536)  # at most one TLS record's plaintext
        assert chunk, "connection closed after %d answers" % data.count(b"SIP/2.0 200 ")
        records.append(chunk)
        data += chunk
    assert records[0].count(b"SIP/2.0 200 ") > 1, "the first answers came one record each"
    order = [int(x) for x in re.findall(rb"Call-ID: together-(\d+)@test", data)]
    assert order == list(range(n))
    c.close()


def test_options_over_tcp_and_udp(server):
    with socket.create_connection((server.host, server.tcp_port), timeout=5) as t:
        t.sendall(options(transport="TCP", branch="z9hG4bKtcp1"))
        assert read_response(t).startswith("SIP/2.0 200 ")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(5)
        u.sendto(options(transport="UDP", branch="z9hG4bKudp1"), (server.host, server.udp_port))
        data, _ = u.recvfrom(65535)
        assert data.startswith(b"SIP/2.0 200 ")


def test_crlf_ping_gets_pong(server, demo_pki):
    c = tls_connect(client_context(demo_pki), server.host, server.port)
    c.sendall(b"\r\n\r\n")
    assert c.recv(10) == b"\r\n"
    c.close()


def test_malformed_request_gets_400_with_reason(server, demo_pki):
    c = tls_connect(client_context(demo_pki), server.host, server.port)
    bad = options().replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE")
    c.sendall(bad)
    resp = read_response(c)
    assert resp.startswith("SIP/2.0 400 "), resp
    assert len(resp.split("\r\n")[0]) > len("SIP/2.0 400 "), "reason phrase names the fault"
    c.close()


def test_unsupported_require_gets_420(server, demo_pki):
    c = tls_connect(client_context(demo_pki), server.host, server.port)
    c.sendall(options(extra="Proxy-Require: foo-bar\r\n"))
    resp = read_response(c)
    assert resp.startswith("SIP/2.0 420 "), resp
    assert "Unsupported: foo-bar" in resp
    c.close()


def test_missing_content_length_on_stream_closes(server, demo_pki):
    c = tls_connect(client_context(demo_pki), server.host, server.port)
    c.sendall(options().replace(b"Content-Length: 0\r\n", b""))
    # Framing is lost on a stream: the server closes (with close_notify).
    c.settimeout(5)
    assert c.recv(100) == b""
    server.wait_log("sip.framing_error")


def test_idle_timeout_closes_connection(server):
    with socket.create_connection((server.host, server.tcp_port), timeout=10) as t:
        t0 = time.monotonic()
        assert t.recv(10) == b""
        assert 1.5 < time.monotonic() - t0 < 6
    server.wait_log('reason="idle timeout"')


def peer_config(pki, host, port, identity="localhost", keepalive=1):
    lhost = loopback_addr()
    lport = free_port(lhost)
    return tls_config(pki, lhost, lport) + f"""
[peer:trunk]
uri = sips:{host}:{port}
tls = default
identity = {identity}
persistent = yes
keepalive = {keepalive}
"""


def test_persistent_peer_comes_up_pings_and_reconnects(sipsd_factory, demo_pki):
    host = loopback_addr()
    port = free_port(host)
    peer = PeerServer(demo_pki, host, port)
    try:
        s = sipsd_factory(peer_config(demo_pki, host, port)).start()
        s.wait_log("peer.up")
        assert peer.accepted == 1
        # RFC 5626 keepalives flow and our pongs are accepted (no keepalive timeout).
        deadline = time.monotonic() + 6
        while peer.pings < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert peer.pings >= 2
        # The trunk restarts: sipsd notices and reconnects by itself.
        peer.drop_all()
        s.wait_log("peer.down")
        s.wait_log("peer.up", count=2, timeout=10)
        assert peer.accepted == 2
        assert s.stop() == 0
    finally:
        peer.close()


def test_peer_with_wrong_identity_is_refused(sipsd_factory, demo_pki):
    host = loopback_addr()
    port = free_port(host)
    peer = PeerServer(demo_pki, host, port)
    try:
        s = sipsd_factory(peer_config(demo_pki, host, port, identity="trunk.example.net")).start()
        s.wait_log("reason=name_mismatch")
        s.wait_log("peer.down")
        assert "peer.up" not in s.log()
        assert s.stop() == 0
    finally:
        peer.close()


def test_ipv6_tls_listener(sipsd_factory, demo_pki):
    """listen = tls:[::1]:PORT — an IPv6 reference in the config, a real IPv6 socket."""
    port = free_port("::1")
    text = tls_config(demo_pki, "127.0.0.1", free_port("127.0.0.1")).replace(
        "listen = tls:127.0.0.1:", f"listen = tls:[::1]:{port}, tls:127.0.0.1:")
    s = sipsd_factory(text).start()
    s.wait_log("address=[::1]:%d" % port)
    ctx = client_context(demo_pki)
    raw = socket.create_connection(("::1", port), timeout=5)
    c = ctx.wrap_socket(raw, server_hostname="localhost")
    c.sendall(options())
    assert read_response(c).startswith("SIP/2.0 200 ")
    c.close()
