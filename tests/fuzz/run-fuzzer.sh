#!/bin/sh
# Run one libFuzzer harness for a bounded time.
#   run-fuzzer.sh BINARY SECONDS REGRESSION_DIR [SEED_DIR...]
# Regression inputs are replayed first (each must pass); then the harness fuzzes a scratch corpus
# built from the seeds (../shared/testdata is read-only and used in place). A crash leaves its
# input in the scratch dir and is printed so it can be added to REGRESSION_DIR.
set -eu
bin=$1; secs=${FUZZ_SECONDS:-$2}; reg=$3; shift 3
work=$(mktemp -d "${TMPDIR:-/tmp}/sipsd-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
if [ -d "$reg" ] && [ -n "$(ls -A "$reg" 2>/dev/null)" ]; then
  TMPDIR="$work" "$bin" -runs=0 "$reg"/* >"$work/replay.log" 2>&1 || { cat "$work/replay.log"; echo "regression input failed"; exit 1; }
fi
seeds=""
for d in "$@"; do [ -e "$d" ] && seeds="$seeds $d"; done
# shellcheck disable=SC2086
# TMPDIR: files a harness makes (fuzz_conf's directory) go where the trap removes them
if ! TMPDIR="$work" "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -max_len=70000 -print_final_stats=1 \
     -artifact_prefix="$work/artifacts/" "$work/corpus" $seeds >"$work/fuzz.log" 2>&1; then
  tail -n 60 "$work/fuzz.log"
  for f in "$work"/artifacts/*; do [ -f "$f" ] && { echo "crash input ($f):"; od -c "$f" | head -40; }; done
  exit 1
fi
grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$work/fuzz.log" || true
