"""Configuration errors refuse to start with file:line and exit code 2 (the real binary)."""
import pytest

from conftest import free_port, loopback_addr, run_check_config, sipsd_binary, tls_config

import subprocess


def write(tmp_path, text, name="sipsd.conf"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_unknown_key_at_line_7(tmp_path):
    text = "\n".join([
        "[global]",            # 1
        "workers = 1",         # 2
        "",                    # 3
        "[log]",               # 4
        "level = info",        # 5
        "",                    # 6
        "colour = blue",       # 7
        "",
    ])
    path = write(tmp_path, text)
    r = run_check_config(path)
    assert r.returncode == 2, r
    assert f"{path}:7:" in r.stderr
    assert "colour" in r.stderr


def test_good_file_passes_check(tmp_path, demo_pki):
    path = write(tmp_path, tls_config(demo_pki, "127.0.0.1", 5061))
    r = run_check_config(path)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


CASES = [
    # (description, config text, line expected in the message, words expected)
    ("unknown section", "[global]\nworkers = 1\n[bogus]\n", 3, ["bogus"]),
    ("bad number", "[global]\nworkers = many\n", 2, ["workers"]),
    ("out of bounds", "[global]\nshutdown_timeout = 100000\n", 2, ["shutdown_timeout"]),
    ("bad enum", "[log]\nlevel = loud\n", 2, ["level"]),
    ("undefined tls context", "[interface:a]\nlisten = tls:127.0.0.1:5061\ntls = nowhere\n", 3, ["nowhere"]),
    ("duplicate section", "[interface:a]\nlisten = tcp:127.0.0.1:5060\n[interface:a]\nlisten = tcp:127.0.0.1:5062\n", 3, ["a"]),
    ("missing certificate file", "[tls:x]\ncertificate = /nonexistent/cert.pem\nprivate_key = /nonexistent/key.pem\n", 2, ["certificate"]),
]


@pytest.mark.parametrize("desc,text,line,words", CASES, ids=[c[0] for c in CASES])
def test_config_error_names_file_and_line(tmp_path, desc, text, line, words):
    path = write(tmp_path, text)
    r = run_check_config(path)
    assert r.returncode == 2, (desc, r.stdout, r.stderr)
    assert f"{path}:{line}:" in r.stderr, (desc, r.stderr)
    for w in words:
        assert w in r.stderr, (desc, r.stderr)


def test_missing_config_file(tmp_path):
    path = str(tmp_path / "absent.conf")
    r = run_check_config(path)
    assert r.returncode == 2
    assert path in r.stderr


def test_broken_private_key_is_caught_by_check_config(tmp_path, demo_pki):
    key = tmp_path / "bad.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    text = tls_config(demo_pki, "127.0.0.1", 5061).replace(f"{demo_pki}/server.key", str(key))
    path = write(tmp_path, text)
    r = run_check_config(path)
    assert r.returncode == 2, r.stderr
    lineno = [i + 1 for i, l in enumerate(text.splitlines()) if l.startswith("private_key")][0]
    assert f"{path}:{lineno}:" in r.stderr


def test_key_not_matching_certificate(tmp_path, demo_pki):
    text = tls_config(demo_pki, "127.0.0.1", 5061).replace(f"{demo_pki}/server.key", f"{demo_pki}/alice.key")
    path = write(tmp_path, text)
    r = run_check_config(path)
    assert r.returncode == 2, r.stderr
    assert path in r.stderr


def test_daemon_refuses_to_start_on_bad_config(tmp_path):
    path = write(tmp_path, "[global]\nworkers = 1\nnonsense = 3\n")
    r = subprocess.run([sipsd_binary(), "-c", path, "-f"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert f"{path}:3:" in r.stderr


def test_check_config_opens_no_socket(tmp_path, demo_pki):
    """--check-config must not bind: a port already in use doesn't make it fail."""
    import socket
    host = loopback_addr()
    with socket.socket() as busy:
        busy.bind((host, 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        path = write(tmp_path, tls_config(demo_pki, host, port))
        r = run_check_config(path)
        assert r.returncode == 0, r.stderr


def test_port_in_use_fails_start_with_clear_error(tmp_path, demo_pki):
    import socket
    host = loopback_addr()
    with socket.socket() as busy:
        busy.bind((host, 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        path = write(tmp_path, tls_config(demo_pki, host, port))
        r = subprocess.run([sipsd_binary(), "-c", path], capture_output=True, text=True, timeout=10)
        assert r.returncode == 1
        assert "transport.listen_failed" in r.stderr
        assert f"{host}:{port}" in r.stderr


def test_second_daemon_on_the_same_address_refuses_to_start(sipsd_factory, demo_pki):
    """SO_REUSEPORT must not let a second sipsd silently take half of the first one's traffic."""
    host = loopback_addr()
    port = free_port(host)
    first = sipsd_factory(tls_config(demo_pki, host, port)).start()
    second = sipsd_factory(tls_config(demo_pki, host, port))
    r = subprocess.run([sipsd_binary(), "-c", second.conf_path], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1, r.stderr
    assert "transport.listen_failed" in r.stderr and f"{host}:{port}" in r.stderr
    assert first.proc.poll() is None
