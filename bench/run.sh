#!/bin/sh
# `make bench`: sipsd vs Kamailio 5.6, every scenario, 3 repetitions, medians.
#   ./bench/run.sh BUILD_DIR
# Builds nothing (the Makefile builds first) and installs nothing (make deps-bench does).
# Writes bench/results/YYYY-MM-DD.md and prints it. Knobs (environment):
#   BENCH_REPS (3), BENCH_DURATION (10 s per throughput run), BENCH_IDLE_CONNS (15000),
#   BENCH_SERVER_CPUS (last core), BENCH_CLIENT_CPUS (0), BENCH_ONLY (tls|sip),
#   BENCH_SCENARIOS (comma list: handshake,resume13,resume12,register,register_volatile,register_durable_both,call,idle,idle_registered;
#   call_rate only when named: calls at BENCH_CALL_RATE per second, default 6000),
#   BENCH_OPENSSL_ROOT (both servers on the OpenSSL that bench/openssl-root.sh fetched there)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: bench/run.sh BUILD_DIR}
build=$(cd "$build" && pwd)
for b in "$build/tools/sipsbench/sipsbench"; do
	[ -x "$b" ] || { echo "bench: $b missing: build first (make bench does)" >&2; exit 1; }
done
[ -x "$build/src/app/sipsd" ] || echo "bench: warning: $build/src/app/sipsd missing; sipsd column will say so" >&2
command -v kamailio >/dev/null 2>&1 || echo "bench: warning: kamailio not installed (make deps-bench)" >&2
# sipsbench holds up to BENCH_IDLE_CONNS descriptors; both servers need as many.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
out="$here/results/$(date +%Y-%m-%d).md"
if [ -n "${BENCH_OPENSSL_ROOT:-}" ]; then
	v=$("$BENCH_OPENSSL_ROOT/loader" "$BENCH_OPENSSL_ROOT/root/usr/bin/openssl" version | awk '{ print $2 }')
	out="$here/results/$(date +%Y-%m-%d)-openssl-$v.md"
fi
set -- --build "$build" --out "$out" --reps "${BENCH_REPS:-3}" --duration "${BENCH_DURATION:-10}" \
	--idle-conns "${BENCH_IDLE_CONNS:-15000}"
[ -n "${BENCH_ONLY:-}" ] && set -- "$@" --only "$BENCH_ONLY"
[ -n "${BENCH_SCENARIOS:-}" ] && set -- "$@" --scenarios "$BENCH_SCENARIOS"
[ -n "${BENCH_CALL_RATE:-}" ] && set -- "$@" --call-rate "$BENCH_CALL_RATE"
[ -n "${BENCH_OPENSSL_ROOT:-}" ] && set -- "$@" --openssl-root "$BENCH_OPENSSL_ROOT"
BENCH_VIA_RUN_SH=1 exec python3 "$here/compare.py" "$@"
