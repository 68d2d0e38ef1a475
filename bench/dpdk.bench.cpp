// Peer: DPDK's checksum functions, rte_raw_cksum and rte_ipv4_cksum (header-only inline
// functions of <rte_ip.h>, Debian's libdpdk-dev; nothing of DPDK is linked), on the same data
// and in the same loops as bench/checksum.bench.cpp's checksum/<size> and checksum/ipv4-header.
//
// Two builds of this file go into nvgre-bench (bench/CMakeLists.txt):
// - peer/dpdk/...: compiled like every other benchmark (Release: GCC -O3, which vectorises
//   DPDK 22.11's 16-bit-word loop with SSE2) — what an embedder compiling <rte_ip.h> gets;
// - peer/dpdk-novec/...: the same code with -fno-tree-vectorize — DPDK's loop as written
//   (scalar, one 16-bit word per iteration), as at -O2.
// Without DPDK's headers (no pkg-config libdpdk at configure time) the benchmarks are still
// registered and skip with a message saying so.
//
// Each benchmark first checks DPDK's result against nvgre's for the same bytes (checksum.bench.cpp
// exports the two reference functions) and skips with an error if they differ.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if NVGRE_BENCH_HAVE_DPDK
#include <rte_ip.h>
#endif

#if NVGRE_BENCH_DPDK_NOVEC
#define NVGRE_BENCH_DPDK_PREFIX "peer/dpdk-novec/checksum/"
#else
#define NVGRE_BENCH_DPDK_PREFIX "peer/dpdk/checksum/"
#endif

// Defined in checksum.bench.cpp (plain functions, so this file includes no nvgre header and
// nothing here is compiled twice with different flags): nvgre's folded sum of the big-endian
// words, and the IPv4 header checksum field value (host order).
std::uint16_t nvgre_bench_reference_sum(const std::byte* p, std::size_t n);
std::uint16_t nvgre_bench_reference_ipv4_header(const std::byte* p);

namespace {

// The generator of checksum.bench.cpp: mt19937 seeded with 1, one byte per draw.
std::vector<std::byte> random_bytes(std::size_t n) {
    std::mt19937 rng(1);
    std::vector<std::byte> v(n);
    for (auto& b : v) b = static_cast<std::byte>(rng() & 0xff);
    return v;
}

constexpr int burst = 32;

#if NVGRE_BENCH_HAVE_DPDK

std::uint16_t swap16(std::uint16_t v) { return static_cast<std::uint16_t>(v << 8 | v >> 8); }

// rte_raw_cksum over N bytes: the folded sum of native-endian words (RFC 1071 2(B): on a
// little-endian host, nvgre's big-endian-word sum byte-swapped).
template <std::size_t N>
void bm_raw(benchmark::State& state) {
    const auto buf = random_bytes(N);
    if (rte_raw_cksum(buf.data(), N) != swap16(nvgre_bench_reference_sum(buf.data(), N)))
        return state.SkipWithError("rte_raw_cksum disagrees with nvgre::checksum::sum");
    for (auto _ : state) {
        auto r = rte_raw_cksum(buf.data(), N);
        benchmark::DoNotOptimize(r);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * N));
}

// rte_ipv4_cksum over the 32 headers of checksum/ipv4-header, with their checksum field
// zeroed (DPDK's precondition; nvgre's ignores the field).
void bm_ipv4(benchmark::State& state) {
    std::vector<std::vector<std::byte>> headers;
    for (int i = 0; i < burst; ++i) {
        auto h = random_bytes(20 + static_cast<std::size_t>(i));
        h.erase(h.begin(), h.begin() + i);
        h[0] = std::byte{0x45};
        h[10] = h[11] = std::byte{0};
        if (swap16(rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(h.data()))) !=
            nvgre_bench_reference_ipv4_header(h.data()))
            return state.SkipWithError("rte_ipv4_cksum disagrees with nvgre::checksum::ipv4_header_checksum");
        headers.push_back(h);
    }
    std::uint16_t out[burst];
    for (auto _ : state) {
        for (int i = 0; i < burst; ++i)
            out[i] = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(headers[static_cast<std::size_t>(i)].data()));
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * burst);
}

#else

template <std::size_t N>
void bm_raw(benchmark::State& state) {
    state.SkipWithError("DPDK not found at configure time (Debian: libdpdk-dev): peer skipped");
}
void bm_ipv4(benchmark::State& state) {
    state.SkipWithError("DPDK not found at configure time (Debian: libdpdk-dev): peer skipped");
}

#endif

}  // namespace

BENCHMARK(bm_raw<64>)->Name(NVGRE_BENCH_DPDK_PREFIX "64B");
BENCHMARK(bm_raw<1500>)->Name(NVGRE_BENCH_DPDK_PREFIX "1500B");
BENCHMARK(bm_raw<9000>)->Name(NVGRE_BENCH_DPDK_PREFIX "9000B");
BENCHMARK(bm_ipv4)->Name(NVGRE_BENCH_DPDK_PREFIX "ipv4-header");
