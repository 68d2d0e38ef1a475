// Ones'-complement checksum throughput (scalar, SSE2, AVX2, the dispatching sum()) at packet
// sizes, data in L1/L2; IPv4 header checksum and RFC 1624 incremental updates per call.
// Targets (docs/performance.md): >= 25 GB/s at 1500 B, >= 50 GB/s at >= 8 KB; IPv4 header <= 1.5 ns,
// incremental <= 0.5 ns. The headline names (checksum/64B, /1500B, /9000B, /ipv4-header,
// /incremental) are what bench/dpdk.bench.cpp's peers (peer/dpdk/checksum/...) compare with:
// same data, same loops.
#include "nvgre/checksum/incremental.hpp"
#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/pseudo_header.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace {

namespace ck = nvgre::checksum;

std::vector<std::byte> random_bytes(std::size_t n) {
    std::mt19937 rng(1);
    std::vector<std::byte> v(n);
    for (auto& b : v) b = static_cast<std::byte>(rng() & 0xff);
    return v;
}

template <std::uint32_t (*Fn)(std::span<const std::byte>, std::uint32_t) noexcept>
void bm_sum(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto buf = random_bytes(n);
    for (auto _ : state) {
        auto r = Fn(buf, 0);
        benchmark::DoNotOptimize(r);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

std::uint32_t scalar(std::span<const std::byte> d, std::uint32_t i) noexcept { return ck::sum_scalar(d, i); }
std::uint32_t dispatch(std::span<const std::byte> d, std::uint32_t i) noexcept { return ck::sum(d, i); }
#if NVGRE_CHECKSUM_HAS_X86_SIMD
std::uint32_t sse2(std::span<const std::byte> d, std::uint32_t i) noexcept { return ck::sum_sse2(d, i); }
std::uint32_t avx2(std::span<const std::byte> d, std::uint32_t i) noexcept { return ck::sum_avx2(d, i); }
std::uint32_t avx512(std::span<const std::byte> d, std::uint32_t i) noexcept { return ck::sum_avx512(d, i); }

// The kernels this CPU cannot run skip with a message.
template <std::uint32_t (*Fn)(std::span<const std::byte>, std::uint32_t) noexcept, bool (*Has)() noexcept>
void bm_sum_if(benchmark::State& state) {
    if (!Has()) return state.SkipWithError("this CPU lacks the instructions of this kernel");
    bm_sum<Fn>(state);
}
#endif

// checksum::sum() at one size: the headline numbers.
template <std::size_t N>
void bm_sum_at(benchmark::State& state) {
    const auto buf = random_bytes(N);
    for (auto _ : state) {
        auto r = ck::sum(buf, 0);
        benchmark::DoNotOptimize(r);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * N));
}

void sizes(benchmark::internal::Benchmark* b) {
    for (int n : {20, 40, 64, 96, 128, 192, 256, 576, 1500, 9000, 65536}) b->Arg(n);
}

// Per-packet helpers run over a burst of 32 independent packets (as the pipelines run: bursts of 32);
// time per item is reported.
constexpr int burst = 32;

void bm_ipv4_header(benchmark::State& state) {
    std::vector<std::vector<std::byte>> headers;
    for (int i = 0; i < burst; ++i) {
        auto h = random_bytes(20 + static_cast<std::size_t>(i));
        h.erase(h.begin(), h.begin() + i);
        h[0] = std::byte{0x45};
        headers.push_back(h);
    }
    std::uint16_t out[burst];
    for (auto _ : state) {
        for (int i = 0; i < burst; ++i) out[i] = ck::ipv4_header_checksum(headers[static_cast<std::size_t>(i)]);
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * burst);
}

void bm_update16(benchmark::State& state) {
    std::uint16_t cs[burst], w[burst];
    for (int i = 0; i < burst; ++i) {
        cs[i] = static_cast<std::uint16_t>(0x1234 * i);
        w[i] = static_cast<std::uint16_t>(0x4000 + i);
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(w);
        for (int i = 0; i < burst; ++i) cs[i] = ck::update16(cs[i], w[i], static_cast<std::uint16_t>(w[i] - 1));
        benchmark::DoNotOptimize(cs);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * burst);
}

void bm_update_address_v4(benchmark::State& state) {
    std::uint16_t cs[burst];
    nvgre::ipv4_address from[burst], to[burst];
    for (int i = 0; i < burst; ++i) {
        cs[i] = static_cast<std::uint16_t>(0x1234 * i);
        from[i] = nvgre::ipv4_address::from_uint(0x0a000001u + static_cast<std::uint32_t>(i));
        to[i] = nvgre::ipv4_address::from_uint(0xc0a80101u * static_cast<std::uint32_t>(i + 1));
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(from);
        for (int i = 0; i < burst; ++i) cs[i] = ck::update_address(cs[i], from[i], to[i]);
        benchmark::DoNotOptimize(cs);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * burst);
}

void bm_update_address_v6(benchmark::State& state) {
    std::uint16_t cs[burst];
    nvgre::ipv6_address from[burst], to[burst];
    for (int i = 0; i < burst; ++i) {
        cs[i] = static_cast<std::uint16_t>(0x1234 * i);
        from[i] = nvgre::ipv6_address::from_groups({0x2001, 0xdb8, 0, 0, 0, 0, 0, static_cast<std::uint16_t>(i)});
        to[i] = nvgre::ipv6_address::from_groups({0xfd00, 0, 0, 0, 1, 2, 3, static_cast<std::uint16_t>(i * 7)});
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(from);
        for (int i = 0; i < burst; ++i) cs[i] = ck::update_address(cs[i], from[i], to[i]);
        benchmark::DoNotOptimize(cs);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * burst);
}

}  // namespace

BENCHMARK(bm_sum<scalar>)->Name("checksum/scalar")->Apply(sizes);
#if NVGRE_CHECKSUM_HAS_X86_SIMD
BENCHMARK(bm_sum<sse2>)->Name("checksum/sse2")->Apply(sizes);
BENCHMARK(bm_sum_if<avx2, ck::cpu_has_avx2>)->Name("checksum/avx2")->Apply(sizes);
BENCHMARK(bm_sum_if<avx512, ck::cpu_has_avx512_vnni>)->Name("checksum/avx512")->Apply(sizes);
#endif
BENCHMARK(bm_sum<dispatch>)->Name("checksum/sum")->Apply(sizes);
BENCHMARK(bm_sum_at<64>)->Name("checksum/64B");
BENCHMARK(bm_sum_at<1500>)->Name("checksum/1500B");
BENCHMARK(bm_sum_at<9000>)->Name("checksum/9000B");
// IPv4 header checksum of 32 distinct 20-byte headers; items = headers.
BENCHMARK(bm_ipv4_header)->Name("checksum/ipv4-header");
// RFC 1624 update of one 16-bit word (what the encap template does per packet); items = updates.
BENCHMARK(bm_update16)->Name("checksum/incremental");
BENCHMARK(bm_update_address_v4)->Name("checksum/update_address_v4");
BENCHMARK(bm_update_address_v6)->Name("checksum/update_address_v6");

// The references bench/dpdk.bench.cpp checks DPDK's results against (see there).
std::uint16_t nvgre_bench_reference_sum(const std::byte* p, std::size_t n);
std::uint16_t nvgre_bench_reference_ipv4_header(const std::byte* p);
std::uint16_t nvgre_bench_reference_sum(const std::byte* p, std::size_t n) {
    return static_cast<std::uint16_t>(nvgre::checksum::sum(std::span<const std::byte>(p, n)));
}
std::uint16_t nvgre_bench_reference_ipv4_header(const std::byte* p) {
    return nvgre::checksum::ipv4_header_checksum(std::span<const std::byte>(p, 20));
}

BENCHMARK_MAIN();
