#!/bin/sh
# Runs the SIP parse benchmark from a build directory (builds nothing).
#   bench/sip_parse/run.sh BUILD_DIR [TESTDATA_DIR]
set -eu
build=${1:?usage: run.sh BUILD_DIR [TESTDATA_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
data=${2:-${SIPSD_TESTDATA:-$here/../../../shared/testdata}}
bin=$build/bench/sip_parse/bench_sip_parse
if [ ! -x "$bin" ]; then
	echo "bench_sip_parse not built in $build (is libosip2-dev installed?)" >&2
	exit 1
fi
exec "$bin" "$data"
