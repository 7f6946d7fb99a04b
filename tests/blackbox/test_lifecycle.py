"""Process lifecycle: start, graceful stop with close_notify, reload on SIGHUP."""
import signal
import ssl
import time

import pytest

from conftest import client_context, free_port, loopback_addr, tls_config, tls_connect


def start_tls(sipsd_factory, pki, **kw):
    host = loopback_addr()
    port = free_port(host)
    s = sipsd_factory(tls_config(pki, host, port, **kw)).start()
    s.wait_log("transport.listening")
    return s, host, port


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_sends_close_notify_to_every_tls_client(sipsd_factory, demo_pki, sig):
    s, host, port = start_tls(sipsd_factory, demo_pki)
    ctx = client_context(demo_pki)
    clients = [tls_connect(ctx, host, port) for _ in range(5)]
    # Make sure each handshake finished on the server side too.
    s.wait_log("tls.handshake_ok", count=5)
    t0 = time.monotonic()
    s.send(sig)
    for c in clients:
        # With suppress_ragged_eofs=False, an EOF without close_notify raises SSLEOFError;
        # a clean b"" means the server sent close_notify.
        assert c.recv(100) == b""
        c.close()
    rc = s.proc.wait(10)
    assert rc == 0
    assert time.monotonic() - t0 < 5 + 2
    assert "sipsd.stopped" in s.log()


def test_stop_is_bounded_when_a_client_never_reads(sipsd_factory, demo_pki):
    s, host, port = start_tls(sipsd_factory, demo_pki, extra_global="")
    ctx = client_context(demo_pki)
    c = tls_connect(ctx, host, port)
    s.wait_log("tls.handshake_ok")
    t0 = time.monotonic()
    s.send(signal.SIGTERM)
    assert s.proc.wait(10) == 0
    assert time.monotonic() - t0 < 7
    c.close()


def test_client_without_certificate_is_rejected_when_required(sipsd_factory, demo_pki):
    s, host, port = start_tls(sipsd_factory, demo_pki)
    ctx = client_context(demo_pki, cert=False)
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        c = tls_connect(ctx, host, port)
        # TLS 1.3: the server's alert arrives after the client's handshake completes.
        c.recv(100)
    s.wait_log("reason=no_certificate")
    assert s.stop() == 0


def test_reload_with_broken_config_keeps_running(sipsd_factory, demo_pki):
    s, host, port = start_tls(sipsd_factory, demo_pki)
    good = open(s.conf_path).read()
    with open(s.conf_path, "w") as f:
        f.write(good.replace("[log]", "[log]\nbogus_key = 1"))
    s.send(signal.SIGHUP)
    s.wait_log("config.reload_failed")
    assert "bogus_key" in s.log()
    # Still serving with the old configuration.
    c = tls_connect(client_context(demo_pki), host, port)
    c.close()
    with open(s.conf_path, "w") as f:
        f.write(good)
    s.send(signal.SIGHUP)
    s.wait_log("config.reloaded")
    assert s.stop() == 0


def test_reload_with_broken_key_keeps_old_context(sipsd_factory, demo_pki, tmp_path):
    broken = tmp_path / "broken.key"
    broken.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    s, host, port = start_tls(sipsd_factory, demo_pki)
    old = tls_connect(client_context(demo_pki), host, port)
    good = open(s.conf_path).read()
    with open(s.conf_path, "w") as f:
        f.write(good.replace(f"{demo_pki}/server.key", str(broken)))
    s.send(signal.SIGHUP)
    s.wait_log("config.reload_failed")
    assert "private_key" in s.log() or "broken.key" in s.log()
    # Old connection still up, new handshakes still use the old (good) context.
    new = tls_connect(client_context(demo_pki), host, port)
    new.close()
    old.close()
    assert s.stop() == 0
