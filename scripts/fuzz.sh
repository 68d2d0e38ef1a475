#!/usr/bin/env bash
# Runs every libFuzzer target in build/fuzz for FUZZ_SECONDS each (default 60), starting from
# the seed corpus tests/fuzz/corpus/<target>/ when present. Exits non-zero on any finding.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
status=0
for bin in build/fuzz/tests/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  work=build/fuzz/corpus/$name
  mkdir -p "$work" build/fuzz/artifacts
  seeds=tests/fuzz/corpus/$name
  [ -d "$seeds" ] || seeds=""
  log=build/fuzz/$name.log
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 -timeout=10 -artifact_prefix=build/fuzz/artifacts/"$name"- \
    "$work" $seeds >"$log" 2>&1
  rc=$?
  execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" || true)
  [ -n "$execs" ] || execs=$(grep -oE "^#[0-9]+" "$log" | tail -1 | tr -d '#')
  if [ $rc -eq 0 ]; then
    echo "fuzz $name: ${execs:-?} executions in ${seconds}s, no finding"
  else
    echo "fuzz $name: FINDING (exit $rc), see $log and build/fuzz/artifacts/"
    tail -n 30 "$log"
    status=1
  fi
done
exit $status
