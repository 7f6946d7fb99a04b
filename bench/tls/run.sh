#!/bin/sh
# TLS part of the comparison only: full handshakes, TLS 1.3 and TLS 1.2 resumption, and
# memory per idle connection, against sipsd and Kamailio in the same run.
#   ./bench/tls/run.sh BUILD_DIR        (same environment knobs as bench/run.sh)
here=$(cd "$(dirname "$0")" && pwd)
BENCH_ONLY=tls exec "$here/../run.sh" "$@"
