#!/usr/bin/env bash
# Source coverage the fuzz corpora reach (`make coverage`): the fuzz targets are built as replay
# programs with clang's -fprofile-instr-generate -fcoverage-mapping (build/coverage), run over
# their committed regressions, the generated seeds and the working corpora `make fuzz` grew
# (build/fuzz/corpus/<target>/, when present), and llvm-cov reports line and region coverage of
# the parsers: include/nvgre/wire/*.hpp and include/nvgre/policy/loader.hpp (COVERAGE_FILES, a
# regex over paths, widens it; e.g. COVERAGE_FILES=include/nvgre for the whole library).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
build=build/coverage
files_regex=${COVERAGE_FILES:-include/nvgre/(wire/[^/]*|policy/loader)\.hpp}
profdata=$(command -v llvm-profdata-14 || command -v llvm-profdata || true)
cov=$(command -v llvm-cov-14 || command -v llvm-cov || true)
if [ -z "$profdata" ] || [ -z "$cov" ]; then
  echo "coverage: llvm-profdata / llvm-cov not found (Debian: apt-get install llvm-14)" >&2
  exit 1
fi

mkdir -p "$build"
flags="-fprofile-instr-generate -fcoverage-mapping"
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DNVGRE_BUILD_TESTS=ON \
  -DNVGRE_BUILD_EXAMPLES=OFF -DNVGRE_CHECK_HEADERS=OFF -DNVGRE_CONSUMER_TESTS=OFF \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
targets=()
for f in tests/fuzz/*.fuzz.cpp; do n=$(basename "$f" .fuzz.cpp); targets+=("$n"); done
cmake --build "$build" -j2 --target nvgre_fuzz_seeds $(printf "fuzz_replay_%s " "${targets[@]}") >"$build/build.log" 2>&1 ||
  { tail -n 40 "$build/build.log"; exit 1; }

rm -rf "$build/profiles"
mkdir -p "$build/profiles"
LLVM_PROFILE_FILE=/dev/null "$build/tests/nvgre_fuzz_seeds" "$build/seeds" >/dev/null
bins=()
for t in "${targets[@]}"; do
  inputs=("tests/fuzz/regressions/$t" "$build/seeds/$t")
  [ -d "build/fuzz/corpus/$t" ] && inputs+=("build/fuzz/corpus/$t")
  LLVM_PROFILE_FILE="$build/profiles/$t.profraw" "$build/tests/fuzz_replay_$t" "${inputs[@]}" | sed "s/^/$t: /"
  bins+=("$build/tests/fuzz_replay_$t")
done
objects=("${bins[0]}")
for b in "${bins[@]:1}"; do objects+=(-object "$b"); done
"$profdata" merge -sparse "$build"/profiles/*.profraw -o "$build/fuzz.profdata"
mapfile -t sources < <(find "$src/include/nvgre" -name '*.hpp' | LC_ALL=C sort | grep -E "$files_regex")
"$cov" report "${objects[@]}" -instr-profile="$build/fuzz.profdata" "${sources[@]}" |
  sed "s|$src/||"
"$cov" show "${objects[@]}" -instr-profile="$build/fuzz.profdata" -format=html \
  -output-dir="$build/html" "${sources[@]}" >/dev/null
echo "coverage: per-line HTML in $build/html/index.html"
