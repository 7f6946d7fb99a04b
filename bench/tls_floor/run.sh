#!/bin/sh
# The TLS library's floor of a full mutual-TLS 1.3 handshake on this machine (builds nothing).
#   bench/tls_floor/run.sh BUILD_DIR [N]
# Makes a lab PKI (P-256) with 20 UA certificates in a temporary directory, then runs the
# server in OpenSSL's default library context and in sipsd's lean one, three times each,
# alternating, on the last core, and the same handshake with GnuTLS and wolfSSL when built.
# BENCH_OPENSSL_ROOT=DIR runs the OpenSSL part on the OpenSSL that bench/openssl-root.sh put
# in DIR.
set -eu
build=${1:?usage: run.sh BUILD_DIR [N]}
n=${2:-2000}
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bench/tls_floor/bench_tls_floor
[ -x "$bin" ] || { echo "bench_tls_floor not built in $build" >&2; exit 1; }
work=$(mktemp -d /tmp/sipsd-tls-floor-XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
# the same lab PKI as make bench (compare.py), with 20 UA certificates
python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import compare; compare.make_pki(sys.argv[2], 20)' \
	"$here/.." "$work"
cpu=$(($(nproc) - 1))
loader= openssl=openssl
if [ -n "${BENCH_OPENSSL_ROOT:-}" ]; then
	loader=$BENCH_OPENSSL_ROOT/loader openssl=$BENCH_OPENSSL_ROOT/root/usr/bin/openssl
	[ -x "$loader" ] || { echo "$loader missing: run bench/openssl-root.sh first" >&2; exit 1; }
fi
$loader "$openssl" version
$loader "$openssl" speed -seconds 1 ecdsap256 ecdhx25519 2>/dev/null | tail -4
# Debian's other TLS libraries for comparison, those whose bench_tls_floor_LIB was built
others=
for lib in gnutls wolfssl; do
	if [ -x "$build/bench/tls_floor/bench_tls_floor_$lib" ]; then
		others="$others $build/bench/tls_floor/bench_tls_floor_$lib"
	else
		echo "(bench_tls_floor_$lib not built: no $lib comparison; make deps-bench installs it)"
	fi
done
for i in 1 2 3; do
	for mode in default lean; do
		taskset -c "$cpu" $loader "$bin" "$work/pki" "$n" "$mode"
	done
	for other in $others; do
		taskset -c "$cpu" "$other" "$work/pki" "$n"
	done
done
