#!/bin/sh
# The OpenSSL floor of a full mutual-TLS 1.3 handshake on this machine (builds nothing).
#   bench/tls_floor/run.sh BUILD_DIR [N]
# Makes a lab PKI (P-256) with 20 UA certificates in a temporary directory, then runs the
# server in OpenSSL's default library context and in sipsd's lean one, three times each,
# alternating, on the last core.
set -eu
build=${1:?usage: run.sh BUILD_DIR [N]}
n=${2:-2000}
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bench/tls_floor/bench_tls_floor
[ -x "$bin" ] || { echo "bench_tls_floor not built in $build" >&2; exit 1; }
work=$(mktemp -d /tmp/sipsd-tls-floor-XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
python3 - "$here/../.." "$work" <<'PY'
import sys
sys.path.insert(0, sys.argv[1] + "/tools/labpki")
import labpki
pki = sys.argv[2]
labpki.demo(pki)
ca = labpki.CA.load(pki)
for i in range(20):
    ca.issue("user%d" % i, dir=pki + "/uas", cn="user%d" % i, san_uri=["sip:user%d@localhost" % i],
             eku=["clientAuth"])
PY
cpu=$(($(nproc) - 1))
openssl speed -seconds 1 ecdsap256 ecdhx25519 2>/dev/null | tail -4
for i in 1 2 3; do
	for mode in default lean; do
		taskset -c "$cpu" "$bin" "$work" "$n" "$mode"
	done
done
