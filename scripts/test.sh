#!/usr/bin/env bash
# `make test`: every build configuration of the test suites, then one summary line.
#   gcc      g++ -Wall -Wextra -Wpedantic -Werror: unit suites, ODR check, consumer projects
#            (find_package against a real install, add_subdirectory), interop (scapy, tshark, the
#            corpus), the live tests as root (else SKIPPED): the demo
#            (examples/nvgre-switch/demo.py), the same demo on nvgre-dpdk (demo.py --dpdk) and
#            the Open vSwitch interop (tests/interop/ovs_interop.py), and the frame-carrying
#            interop runs again with nvgre-pcap under valgrind memcheck (memcheck_*; of the bad
#            capture files, each file's show, and egress / ingress on one file of each kind that
#            reaches further than the reader: tests/interop/CMakeLists.txt);
#            nvgre-dpdk (when libdpdk is installed): its adapter on real mbufs, its CLI, a bench
#            smoke
#   asan     clang++ with the same warnings, AddressSanitizer + UndefinedBehaviorSanitizer: unit
#            suites, interop, the live demo; clang-tidy (.clang-tidy) over every public header and
#            example (clang_tidy; nvgre-dpdk's sources too, though only gcc builds it)
#   noexcept g++ -fno-exceptions with the same warnings: every public header compiled alone
#            (headers_compile_alone: each compiles without exceptions, and on its own), and the
#            unit suites of the per-packet path and of the policy containers (the templates that
#            only a suite instantiates: tests/CMakeLists.txt, NVGRE_TEST_SUITES); the policy
#            model, text and state suites, robustness/ and the examples are the others' to run
#   tsan     clang++ with ThreadSanitizer: the concurrency suites (readers and writers of live policy)
# Not by default: clang (clang++ with the same warnings, no sanitizer: the unit suites and
# clang_tidy), whose every compile the asan configuration does too, with the same warnings;
# NVGRE_TEST_PRESETS="clang" scripts/test.sh runs it (any list of presets, in order).
# Each kind of check runs where it finds something: interop and live tests once plain (gcc) and
# once under the sanitizers (asan), not again under every compiler (NVGRE_SYSTEM_TESTS=OFF).
# ctest runs two tests at a time (the live tests alone: RUN_SERIAL).
# gcc also replays every fuzz target's seeds and committed regressions (fuzz_replay_*), with
# -D_GLIBCXX_ASSERTIONS as everywhere; under ASan + UBSan they are replayed by `make fuzz` (the
# fuzz preset starts every target from them; CI runs it first), not again here. tsan builds only
# the suites that have concurrency cases. The summary gives each configuration's seconds (the
# budget: 20 minutes in all on 2 cores).
set -uo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
presets=(${NVGRE_TEST_PRESETS:-gcc asan noexcept tsan})
total_pass=0
total_fail=0
lines=()
for preset in "${presets[@]}"; do
  preset_start=$(date +%s)
  echo "=== [$preset] configure + build"
  log=build/$preset.log
  mkdir -p build
  if ! { cmake --preset "$preset" >"$log" 2>&1 && cmake --build --preset "$preset" >>"$log" 2>&1; }; then
    tail -n 60 "$log"
    echo "=== [$preset] BUILD FAILED (full log: $log)"
    lines+=("$preset: build failed ($(( $(date +%s) - preset_start )) s)")
    total_fail=$((total_fail + 1))
    continue
  fi
  built=$(date +%s)
  echo "=== [$preset] test ($((built - preset_start)) s to build)"
  ctest --preset "$preset" 2>&1 | tee "build/$preset.ctest.log" | grep -E "Test +#|tests passed|FAILED|Failed" || true
  pass=$(grep -cE "Test +#[0-9]+: .* Passed" "build/$preset.ctest.log")
  fail=$(grep -E "Test +#[0-9]+: .*(\*\*\*|Failed|Not Run|Timeout)" "build/$preset.ctest.log" | grep -cv "\*\*\*Skipped")
  skipped=$(grep -E "Test +#[0-9]+: .*\*\*\*Skipped" "build/$preset.ctest.log" | sed -E 's/.*Test +#[0-9]+: ([^ ]+).*/\1/' | tr '\n' ' ')
  cases=$(build/"$preset"/tests/nvgre_tests --count 2>/dev/null | grep -oE "unskipped test cases passing the current filters: [0-9]+" | grep -oE "[0-9]+$" || echo "?")
  lines+=("$preset: $pass passed, $fail failed ($cases doctest cases; $((built - preset_start)) s build, $(( $(date +%s) - built )) s test)${skipped:+; SKIPPED: ${skipped}(why: build/$preset/Testing/Temporary/LastTest.log)}")
  total_pass=$((total_pass + pass))
  total_fail=$((total_fail + fail))
done

headers=$(find include -name '*.hpp' | wc -l)
echo
echo "=== summary ($(( $(date +%s) - start )) s, $headers public headers)"
for l in "${lines[@]}"; do echo "  $l"; done
echo "make test: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
