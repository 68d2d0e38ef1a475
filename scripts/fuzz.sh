#!/usr/bin/env bash
# Runs every libFuzzer target of build/fuzz (preset `fuzz`, `make fuzz`) for FUZZ_SECONDS each
# (default 60), one after the other, and prints the executions of each. Exits non-zero on any
# finding (a crash, a sanitizer report, a broken invariant, a leak, a timeout).
#
# Each target starts from: its working corpus build/fuzz/corpus/<target>/ (kept between runs,
# the only directory libFuzzer writes), the seeds build/fuzz/nvgre_fuzz_seeds writes into
# build/fuzz/seeds/<target>/ (tests/fuzz/make_seeds.cpp, regenerated here each time), and the
# committed regressions tests/fuzz/regressions/<target>/; with the dictionary
# tests/fuzz/<target>.dict, else tests/fuzz/frames.dict. A finding lands in
# build/fuzz/artifacts/<target>-crash-*: fix the bug, then copy the input into
# tests/fuzz/regressions/<target>/ (make test replays it from then on).
#   FUZZ_SECONDS=N   seconds per target (default 60)
#   FUZZ_TARGETS="a b"  only these targets (default: all)
#   FUZZ_JOBS=N      run N targets at once (default 1)
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=build/fuzz
bin_dir=$build/tests/fuzz
status=0

if [ ! -x "$bin_dir/nvgre_fuzz_seeds" ]; then
  echo "fuzz: $bin_dir/nvgre_fuzz_seeds is missing: build the fuzz preset first (make fuzz)" >&2
  exit 1
fi
"$bin_dir/nvgre_fuzz_seeds" "$build/seeds" >/dev/null || { echo "fuzz: writing the seeds failed" >&2; exit 1; }
mkdir -p "$build/artifacts"

# One target: its libFuzzer run, then its report line in $build/<target>.result; exit status
# 0 when it found nothing.
run_target() {
  local bin=$1 name=$2
  local work=$build/corpus/$name
  mkdir -p "$work"
  local dict=tests/fuzz/$name.dict
  [ -f "$dict" ] || dict=tests/fuzz/frames.dict
  local inputs=("$work")
  [ -d "$build/seeds/$name" ] && inputs+=("$build/seeds/$name")
  [ -d "tests/fuzz/regressions/$name" ] && inputs+=("tests/fuzz/regressions/$name")
  local max_len=4096  # every frame target: 4 KB frames; the example policies are under 3 KB
  local log=$build/$name.log result=$build/$name.result
  local start rc took execs cov
  start=$(date +%s)
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -dict="$dict" -artifact_prefix="$build/artifacts/$name-" "${inputs[@]}" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start )); [ "$took" -gt 0 ] || took=1
  execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" | tail -1)
  [ -n "$execs" ] || execs=$(grep -oE "^#[0-9]+" "$log" | tail -1 | tr -d '#')
  cov=$(grep -oE " cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*" "$log" | tail -1 | sed -E 's/^ //')
  if [ $rc -eq 0 ]; then
    printf "fuzz %-14s %10s executions in %4ss (%s/s), %s, no finding\n" "$name" "${execs:-?}" "$took" \
      "$(( ${execs:-0} / took ))" "${cov:-cov ?}" >"$result"
  else
    {
      echo "fuzz $name: FINDING (exit $rc) after ${execs:-?} executions; log $log, input in $build/artifacts/"
      grep -E "ERROR|invariant broken|runtime error|SUMMARY|Test unit written" "$log" | head -n 12
      tail -n 25 "$log"
    } >"$result"
  fi
  return $rc
}

# FUZZ_JOBS targets at a time (default 1: each target has the machine to itself).
jobs_max=${FUZZ_JOBS:-1}
names=()
declare -A pid_of=()
for bin in "$bin_dir"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $name "* ]]; then continue; fi
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  names+=("$name")
  rm -f "$build/$name.result"
  run_target "$bin" "$name" &
  pid_of[$name]=$!
done
ran=${#names[@]}
found=0
for name in "${names[@]}"; do
  if ! wait "${pid_of[$name]}"; then
    status=1
    found=$((found + 1))
  fi
  cat "$build/$name.result" 2>/dev/null || { echo "fuzz $name: no report (the run died)"; }
done
if [ "$ran" -eq 0 ]; then
  echo "fuzz: no target found in $bin_dir" >&2
  exit 1
fi
echo "fuzz: $((ran - found)) passed, $found failed"
exit $status
