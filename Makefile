# A thin front door over the CMake presets (CMakePresets.json). Each target first installs any
# missing Debian packages it needs (as root; otherwise it prints the apt-get line).
.PHONY: test demo demo-dpdk bench bench-dpdk instructions fuzz coverage scale install clean

MAKEFLAGS += --no-print-directory
PREFIX ?= /usr/local
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1

test:
	@scripts/deps.sh test
	@scripts/test.sh

# As root: the live demo (two nvgre-switch processes in network namespaces, examples/nvgre-switch/
# demo.py, their policy from a 3-member OVSDB cluster on loopback). Otherwise the offline one
# (examples/hello: one frame encapsulated and decapsulated).
demo:
	@scripts/deps.sh demo
	@mkdir -p build && cmake --preset demo >build/demo.log 2>&1 && cmake --build --preset demo >>build/demo.log 2>&1 || { cat build/demo.log; exit 1; }
	@if [ "$$(id -u)" -eq 0 ]; then \
	  /usr/bin/python3 examples/nvgre-switch/demo.py --switch build/demo/examples/nvgre-switch/nvgre-switch \
	    --ovsdb-tool build/demo/examples/nvgre-ovsdb/nvgre-ovsdb --out build/demo/live; \
	else \
	  echo "make demo: the live demo needs root (network namespaces); here is the offline one (examples/hello)"; \
	  build/demo/examples/hello/hello build/demo/hello.pcap; \
	fi

# As root: the live demo with nvgre-dpdk as each host's switch (examples/nvgre-dpdk: DPDK ports
# on AF_PACKET vdevs, two worker lcores per switch); the same checks as make demo (the OVSDB
# store, nvgre-ctl and the live migration included), and that both lcores of each switch
# forwarded traffic.
demo-dpdk:
	@scripts/deps.sh dpdk
	@mkdir -p build && cmake --preset demo >build/demo.log 2>&1 && cmake --build --preset demo --target nvgre-dpdk nvgre-ctl nvgre-ovsdb >>build/demo.log 2>&1 || { cat build/demo.log; exit 1; }
	@test -x build/demo/examples/nvgre-dpdk/nvgre-dpdk || { echo "make demo-dpdk: nvgre-dpdk was not built (no libdpdk?): see build/demo.log"; exit 1; }
	@if [ "$$(id -u)" -ne 0 ]; then echo "make demo-dpdk: the live demo needs root (network namespaces, AF_PACKET)"; exit 1; fi
	@/usr/bin/python3 examples/nvgre-switch/demo.py --dpdk --switch build/demo/examples/nvgre-dpdk/nvgre-dpdk \
	  --ctl build/demo/examples/nvgre-ctl/nvgre-ctl --ovsdb-tool build/demo/examples/nvgre-ovsdb/nvgre-ovsdb --out build/demo/live-dpdk

# nvgre-dpdk's throughput per lcore (Release) over memory-only ring ports with 1M records:
# egress, ingress and the floor (the same worker loop, plain forwarding) on 1 and 2 worker
# lcores, BENCH_DPDK_SECONDS per run, BENCH_DPDK_REPEAT runs of each, medians; the last line
# is "dpdk bench: egress 1 lcore A Mpps, 2 lcores B Mpps; floor 1 lcore C Mpps". Lcores:
# worker 1 alone on CPU 1, worker 2 on CPU 0 beside the main lcore, which sleeps.
BENCH_DPDK_SECONDS ?= 3
BENCH_DPDK_REPEAT ?= 5
bench-dpdk:
	@scripts/deps.sh dpdk
	@mkdir -p build && cmake --preset demo >build/demo.log 2>&1 && cmake --build --preset demo --target nvgre-dpdk >>build/demo.log 2>&1 || { cat build/demo.log; exit 1; }
	@test -x build/demo/examples/nvgre-dpdk/nvgre-dpdk || { echo "make bench-dpdk: nvgre-dpdk was not built (no libdpdk?): see build/demo.log"; exit 1; }
	@build/demo/examples/nvgre-dpdk/nvgre-dpdk --no-huge -m 2048 --no-pci --no-shconf --no-telemetry --file-prefix nvgre-bench \
	  --lcores 0@0,1@1,2@0 -- --bench --seconds $(BENCH_DPDK_SECONDS) --repeat $(BENCH_DPDK_REPEAT)

# nvgre-bench (Release) in one run: ours, the floor and the peers; the JSON goes next to the
# build (build/bench/nvgre-bench.json); then the instructions per packet of the four pipeline
# rows under callgrind (as make instructions, ~40 s), and the table of scripts/bench_table.py.
# BENCH_FILTER=regex runs a subset; BENCH_ARGS adds Google Benchmark flags
# (e.g. BENCH_ARGS=--benchmark_repetitions=5 for medians).
BENCH_FILTER ?= .
BENCH_ARGS ?=
bench:
	@scripts/deps.sh bench
	@cmake --preset bench >/dev/null && cmake --build --preset bench --target nvgre-bench
	@build/bench/bench/nvgre-bench --benchmark_filter='$(BENCH_FILTER)' $(BENCH_ARGS) \
	  --benchmark_out=build/bench/nvgre-bench.json --benchmark_out_format=json
	@/usr/bin/python3 scripts/instructions.py build/bench/bench/nvgre-bench build/bench >/dev/null
	@/usr/bin/python3 scripts/bench_table.py build/bench/nvgre-bench.json --instructions build/bench/instructions.json

# Instructions per packet of encap, decap, egress and ingress at 1K records under valgrind's
# callgrind (only the pipeline calls of the timed loops: bench/instructions.hpp); a table, and
# build/bench/instructions.json. About 10 s after the build; independent of the machine's load.
instructions:
	@scripts/deps.sh bench
	@cmake --preset bench >/dev/null && cmake --build --preset bench --target nvgre-bench
	@/usr/bin/python3 scripts/instructions.py build/bench/bench/nvgre-bench build/bench

# Policy from OVSDB at scale (docs/distribution.md): a 3-member ovsdb-server Raft cluster on
# loopback, SCALE_HOSTS host agents (threads running examples/nvgre-ovsdb/agent.hpp, each with its
# own monitor and condition), SCALE_RECORDS lookup records in SCALE_DOMAINS routing domains,
# SCALE_CHANGES changes timed from commit to every concerned host, the leader killed halfway,
# every host compared with the store at the end. About 7 minutes at the defaults on 2 cores.
# The last line: "scale: H hosts, R records, change to all concerned hosts p50 A ms p99 B ms;
# failover: C ms, D hosts behind; E hosts differ".
SCALE_HOSTS ?= 1000
SCALE_DOMAINS ?= 200
SCALE_RECORDS ?= 100000
SCALE_CHANGES ?= 120
scale:
	@scripts/deps.sh scale
	@mkdir -p build && cmake --preset demo >build/scale.log 2>&1 && cmake --build --preset demo --target nvgre-ovsdb >>build/scale.log 2>&1 || { tail -n 40 build/scale.log; exit 1; }
	@SCALE_HOSTS=$(SCALE_HOSTS) SCALE_DOMAINS=$(SCALE_DOMAINS) SCALE_RECORDS=$(SCALE_RECORDS) SCALE_CHANGES=$(SCALE_CHANGES) scripts/scale.sh

# Every libFuzzer target (tests/fuzz/*.fuzz.cpp, ASan + UBSan) for FUZZ_SECONDS each, FUZZ_JOBS
# at a time (default 1); exit 1 on any finding (scripts/fuzz.sh says where the input went).
fuzz:
	@scripts/deps.sh fuzz
	@mkdir -p build && cmake --preset fuzz >build/fuzz.log 2>&1 && cmake --build --preset fuzz >>build/fuzz.log 2>&1 || { tail -n 40 build/fuzz.log; exit 1; }
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) scripts/fuzz.sh

# Line and region coverage of the parsers reached by the fuzz corpora (llvm-cov; after make fuzz,
# its grown corpora count too).
coverage:
	@scripts/deps.sh coverage
	@scripts/coverage.sh

install:
	@cmake -S . -B build/install -DCMAKE_BUILD_TYPE=Release -DNVGRE_BUILD_TESTS=OFF -DNVGRE_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --install build/install

clean:
	rm -rf build
