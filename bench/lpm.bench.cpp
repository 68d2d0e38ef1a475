// Longest-prefix match (policy/lpm.hpp): random lookups over tables of 1K and 100K prefixes,
// per family, and the time to build a 100K IPv4 table. Target (docs/performance.md): ≤ 100K prefixes per
// domain, IPv4 ≤ 5 ns, IPv6 ≤ 12 ns per lookup.
//
// Tables are clustered the way tenant and provider routes are: IPv4 prefixes come from 2,000
// random /16 "sites" (20 for 1K) — mostly /24, with /17-/23, /25-/32 and a few short ones;
// IPv6 prefixes from 256 random /32 sites (8 for 1K) — mostly /48, /56, /64, some /128 and odd
// lengths. Lookups: 90% land inside a random prefix (random host bits), 10% anywhere.
// Every lookup dereferences the value it finds, as a datapath does.
// Counters: bytes_per_prefix = memory_bytes() / size().
#include "nvgre/policy/lpm.hpp"
#include "nvgre/policy/memory.hpp"

#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace {

using nvgre::ip_address;
using nvgre::ip_prefix;
using nvgre::ipv4_address;
using nvgre::ipv6_address;
using table = nvgre::policy::lpm_table<std::uint32_t>;

std::uint32_t pick_v4_len(std::mt19937_64& rng) {
    const auto r = rng() % 100;
    if (r < 55) return 24;
    if (r < 65) return 22 + static_cast<std::uint32_t>(rng() % 2);
    if (r < 80) return 17 + static_cast<std::uint32_t>(rng() % 5);
    if (r < 85) return 8 + static_cast<std::uint32_t>(rng() % 9);
    if (r < 95) return 25 + static_cast<std::uint32_t>(rng() % 7);
    return 32;
}

std::uint32_t pick_v6_len(std::mt19937_64& rng) {
    const auto r = rng() % 100;
    if (r < 50) return 64;
    if (r < 70) return 48;
    if (r < 85) return 56;
    if (r < 90) return 40 + static_cast<std::uint32_t>(rng() % 8);
    if (r < 95) return 128;
    return 65 + static_cast<std::uint32_t>(rng() % 63);
}

std::vector<ip_prefix> v4_prefixes(std::size_t n) {
    std::mt19937_64 rng(n);
    std::vector<std::uint32_t> sites(n >= 10'000 ? 2000 : 20);
    for (auto& s : sites) s = static_cast<std::uint32_t>(rng()) & 0xffff0000u;
    std::vector<ip_prefix> out;
    table seen;
    while (out.size() < n) {
        const std::uint32_t a = sites[rng() % sites.size()] | (static_cast<std::uint32_t>(rng()) & 0xffffu);
        const auto p = ip_prefix::containing(ipv4_address::from_uint(a), pick_v4_len(rng)).value();
        if (seen.insert_or_assign(p, 0)) out.push_back(p);
    }
    return out;
}

std::vector<ip_prefix> v6_prefixes(std::size_t n) {
    std::mt19937_64 rng(n + 1);
    std::vector<std::uint64_t> sites(n >= 10'000 ? 256 : 8);
    for (auto& s : sites) s = rng() & 0xffff'ffff'0000'0000u;
    std::vector<ip_prefix> out;
    table seen;
    while (out.size() < n) {
        const std::uint64_t hi = sites[rng() % sites.size()] | (rng() & 0xffff'ffffu);
        const std::uint64_t lo = rng();
        std::array<std::uint8_t, 16> o{};
        for (std::size_t i = 0; i < 8; ++i) {
            o[i] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
            o[8 + i] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
        }
        const auto p = ip_prefix::containing(ipv6_address{o}, pick_v6_len(rng)).value();
        if (seen.insert_or_assign(p, 0)) out.push_back(p);
    }
    return out;
}

// 90% inside a random prefix, 10% uniformly random.
template <class Addr>
std::vector<Addr> addresses(const std::vector<ip_prefix>& prefixes, std::size_t n) {
    std::mt19937_64 rng(7);
    std::vector<Addr> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::array<std::uint8_t, Addr::size> o{};
        for (auto& b : o) b = static_cast<std::uint8_t>(rng());
        if (rng() % 10 != 0) {
            const ip_prefix& p = prefixes[rng() % prefixes.size()];
            const auto net = p.address().octets();
            for (std::size_t k = 0; k < Addr::size; ++k) {
                const unsigned bit = static_cast<unsigned>(k) * 8;
                const unsigned keep = p.length() >= bit + 8 ? 8 : p.length() > bit ? p.length() - bit : 0;
                const auto mask = static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
                o[k] = static_cast<std::uint8_t>((net[k] & mask) | (o[k] & ~mask));
            }
        }
        out.push_back(Addr{o});
    }
    return out;
}

template <class Addr>
void bm_lookup(benchmark::State& state, std::size_t n, bool batched, bool huge_pages = true) {
    const auto prefixes = Addr::size == 4 ? v4_prefixes(n) : v6_prefixes(n);
    // Small pages: the trie's arrays allocated through small_page_memory() (policy/memory.hpp).
    const nvgre::policy::memory_hooks old =
        nvgre::policy::set_large_array_memory(huge_pages ? nvgre::policy::transparent_huge_page_memory()
                                                         : nvgre::policy::small_page_memory());
    table t;
    for (std::size_t i = 0; i < prefixes.size(); ++i) t.insert_or_assign(prefixes[i], static_cast<std::uint32_t>(i + 1));
    nvgre::policy::set_large_array_memory(old);
    const auto addrs = addresses<Addr>(prefixes, std::size_t{1} << 16);
    constexpr std::size_t burst = 32;
    std::array<const std::uint32_t*, burst> out{};
    std::size_t at = 0;
    std::uint64_t hits = 0, sum = 0;
    for (auto _ : state) {
        const std::span<const Addr> in(addrs.data() + at, burst);
        if (batched) {
            t.lookup_batch(in, out);
        } else {
            for (std::size_t k = 0; k < burst; ++k) out[k] = t.lookup(in[k]);
        }
        for (const std::uint32_t* v : out) {
            if (v != nullptr) {
                sum += *v;
                ++hits;
            }
        }
        at = (at + burst) & (addrs.size() - 1);
    }
    benchmark::DoNotOptimize(sum);
    const auto lookups = static_cast<double>(state.iterations()) * burst;
    state.SetItemsProcessed(static_cast<std::int64_t>(lookups));
    state.counters["bytes_per_prefix"] = static_cast<double>(t.memory_bytes()) / static_cast<double>(t.size());
    state.counters["hit_ratio"] = lookups > 0 ? static_cast<double>(hits) / lookups : 0;
    state.counters["ns_per_lookup"] =
        benchmark::Counter(lookups, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void bm_build(benchmark::State& state) {
    const auto prefixes = v4_prefixes(100'000);
    std::size_t bytes = 0;
    for (auto _ : state) {
        table t;
        for (std::size_t i = 0; i < prefixes.size(); ++i)
            t.insert_or_assign(prefixes[i], static_cast<std::uint32_t>(i + 1));
        bytes = t.memory_bytes();
        benchmark::DoNotOptimize(t);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * prefixes.size()));
    state.counters["bytes_per_prefix"] = static_cast<double>(bytes) / static_cast<double>(prefixes.size());
}

[[maybe_unused]] const bool registered = [] {
    for (const bool batched : {false, true}) {
        const char* suffix = batched ? "/batch" : "";
        benchmark::RegisterBenchmark((std::string("lpm/ipv4/1K") + suffix).c_str(),
                                     [=](benchmark::State& s) { bm_lookup<ipv4_address>(s, 1'000, batched); });
        benchmark::RegisterBenchmark((std::string("lpm/ipv4/100K") + suffix).c_str(),
                                     [=](benchmark::State& s) { bm_lookup<ipv4_address>(s, 100'000, batched); });
        benchmark::RegisterBenchmark((std::string("lpm/ipv6/1K") + suffix).c_str(),
                                     [=](benchmark::State& s) { bm_lookup<ipv6_address>(s, 1'000, batched); });
        benchmark::RegisterBenchmark((std::string("lpm/ipv6/100K") + suffix).c_str(),
                                     [=](benchmark::State& s) { bm_lookup<ipv6_address>(s, 100'000, batched); });
    }
    benchmark::RegisterBenchmark("lpm/ipv4/100K/no_huge_pages",
                                 [](benchmark::State& s) { bm_lookup<ipv4_address>(s, 100'000, false, false); });
    benchmark::RegisterBenchmark("lpm/ipv6/100K/no_huge_pages",
                                 [](benchmark::State& s) { bm_lookup<ipv6_address>(s, 100'000, false, false); });
    benchmark::RegisterBenchmark("lpm/ipv4/100K/build", bm_build)->Unit(benchmark::kMillisecond);
    return true;
}();

}  // namespace
