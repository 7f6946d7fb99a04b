#!/bin/sh
# `make demo`: lab PKI + config under demo/, then sipsd in the foreground with mutual TLS
# required on 127.0.0.1:5061. Re-running keeps the PKI and the store.
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
demo="$top/demo"
mkdir -p "$demo"
python3=/usr/bin/python3
"$python3" "$top/tools/labpki/labpki.py" demo "$demo/pki"
cat > "$demo/sipsd.conf" <<CONF
# Written by make demo. See docs/config.md for every key.
[global]
domains = localhost
require_client_certificate = yes

[log]
level = info

[store]
path = $demo/sipsd.db

[mgmt]
socket = $demo/sipsd.sock

# The TLS context: own certificate ("Host" certificate) + key, and the
# trusted root store (CA list) that client certificates must chain to.
[tls:demo]
certificate = $demo/pki/server.pem
private_key = $demo/pki/server.key
ca_list = $demo/pki/ca.pem

[interface:demo]
listen = tls:127.0.0.1:5061
tls = demo
mutual_auth = required
CONF
"$top/$build/src/app/sipsd" --check-config "$demo/sipsd.conf"
# Demo users in the embedded SQLite store (digest passwords; their certificates are in pki/).
printf 'alice@localhost alice-secret\nbob@localhost bob-secret\n' |
	"$top/$build/tools/sipsctl/sipsctl" -c "$demo/sipsd.conf" user import
cat <<MSG

sipsd demo: mutual TLS required on 127.0.0.1:5061 (Ctrl-C stops it; SIGHUP reloads demo/sipsd.conf)

  Handshake as alice (client certificate from the lab CA):
    openssl s_client -connect 127.0.0.1:5061 -CAfile demo/pki/ca.pem \\
        -cert demo/pki/alice.pem -key demo/pki/alice.key -verify_return_error
  Then type an OPTIONS request, or send one with:
    printf 'OPTIONS sip:localhost SIP/2.0\\r\\nVia: SIP/2.0/TLS 127.0.0.1;branch=z9hG4bK1\\r\\nFrom: <sip:alice@localhost>;tag=1\\r\\nTo: <sip:localhost>\\r\\nCall-ID: demo1\\r\\nCSeq: 1 OPTIONS\\r\\nMax-Forwards: 70\\r\\nContent-Length: 0\\r\\n\\r\\n' | \\
      openssl s_client -quiet -connect 127.0.0.1:5061 -CAfile demo/pki/ca.pem -cert demo/pki/alice.pem -key demo/pki/alice.key
  Without a client certificate the handshake is refused (and logged with reason=no_certificate).

  Demo users (digest over TLS): alice / alice-secret, bob / bob-secret (realm localhost).
  Manage and watch it from another terminal:
    $build/tools/sipsctl/sipsctl -c demo/sipsd.conf status
    $build/tools/sipsctl/sipsctl -c demo/sipsd.conf connections
    $build/tools/sipsctl/sipsctl -c demo/sipsd.conf certs
    $build/tools/sipsctl/sipsctl -c demo/sipsd.conf user list
    $build/tools/sipsctl/sipsctl probe sips:127.0.0.1:5061 --ca demo/pki/ca.pem \\
        --cert demo/pki/alice.pem --key demo/pki/alice.key --domain localhost

MSG
exec "$top/$build/src/app/sipsd" -c "$demo/sipsd.conf" -f
