// CA table: (scope, customer address) → record index, per-packet lookups in bursts of 32 and
// control-plane changes. Target (docs/performance.md): 1M records, batched ≤ 10 ns/lookup, ≤ 3 ns when
// the table is L2-resident; ≥ 5 M record changes/s for the whole policy state.
//
// Keys: scope = a routing-domain index among 1000, IPv4 CA uniformly random in 10.0.0.0/8
// (IPv6: 2001:db8::/32 with random low 64 bits). Lookup streams are pre-drawn keys of the table
// (every lookup hits); one iteration = one burst of 32; items = lookups. Counters: bytes_per_key
// = heap bytes of the structure (malloc statistics, or memory_bytes() for ca_table) / keys.
// Peers index the same keys packed into one u64 (scope << 32 | address), the strongest form
// for them, and pay the same packing per lookup as ca_table does.
#include "nvgre/policy/ca_table.hpp"

#include <benchmark/benchmark.h>
#include <boost/container/flat_map.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

using nvgre::ip_address;
using nvgre::ipv4_address;
using nvgre::ipv6_address;
using nvgre::policy::ca_key;
using table = nvgre::policy::ca_table<std::uint32_t>;

constexpr std::size_t burst = 32;
constexpr std::uint32_t domains = 1000;

std::size_t heap_bytes() {
#if defined(__GLIBC__)
    const auto m = mallinfo2();
    return m.uordblks + m.hblkhd;
#else
    return 0;
#endif
}

ca_key v4_key(std::uint32_t scope, std::uint32_t addr) { return ca_key{scope, ip_address{ipv4_address::from_uint(addr)}}; }

std::uint64_t packed(const ca_key& k) noexcept {
    std::uint32_t a;
    std::memcpy(&a, k.address.octets().data(), 4);
    return std::uint64_t{k.scope} << 32 | a;
}

// n distinct IPv4 keys (and, when `spare` > 0, that many more distinct ones not in the first n).
std::vector<ca_key> make_v4_keys(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::unordered_set<std::uint64_t> seen;
    seen.reserve(n * 2);
    std::vector<ca_key> keys;
    keys.reserve(n);
    while (keys.size() < n) {
        const auto scope = static_cast<std::uint32_t>(rng() % domains);
        const auto addr = 0x0a000000u | static_cast<std::uint32_t>(rng() & 0x00ffffffu);
        if (seen.insert(std::uint64_t{scope} << 32 | addr).second) keys.push_back(v4_key(scope, addr));
    }
    return keys;
}

std::vector<ca_key> make_v6_keys(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<ca_key> keys;
    keys.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::array<std::uint8_t, 16> o{0x20, 0x01, 0x0d, 0xb8};
        const std::uint64_t lo = rng();  // 2^64 space: collisions negligible
        for (int b = 0; b < 8; ++b) o[static_cast<std::size_t>(8 + b)] = static_cast<std::uint8_t>(lo >> (8 * b));
        keys.push_back(ca_key{static_cast<std::uint32_t>(rng() % domains), ip_address{ipv6_address{o}}});
    }
    return keys;
}

// Uniform picks among `keys`; enough of them that the stream does not sit in cache when the
// table does not, but no more than 2^20 (24 MiB of keys).
std::vector<ca_key> uniform_stream(const std::vector<ca_key>& keys, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const std::size_t len = std::clamp<std::size_t>(keys.size(), 4096, std::size_t{1} << 20);
    std::vector<ca_key> s(len);
    for (auto& k : s) k = keys[rng() % keys.size()];
    return s;
}

// Zipf(s = 1) over `keys` in a random rank order: P(rank r) ∝ 1 / r.
std::vector<ca_key> zipf_stream(const std::vector<ca_key>& keys, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<double> cdf(keys.size());
    double sum = 0;
    for (std::size_t r = 0; r < keys.size(); ++r) cdf[r] = sum += 1.0 / static_cast<double>(r + 1);
    std::vector<std::size_t> rank_to_key(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) rank_to_key[i] = i;
    std::shuffle(rank_to_key.begin(), rank_to_key.end(), rng);
    std::uniform_real_distribution<double> u(0, sum);
    std::vector<ca_key> s(std::size_t{1} << 20);
    for (auto& k : s) {
        const auto r = static_cast<std::size_t>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
        k = keys[rank_to_key[std::min(r, keys.size() - 1)]];
    }
    return s;
}

struct dataset {
    std::vector<ca_key> keys;
    std::unique_ptr<table> t;
    std::vector<ca_key> uniform;
    std::vector<ca_key> skewed;
};

// Built once per (size, family, huge pages) and shared by every benchmark and repetition.
const dataset& data(std::size_t n, bool v6 = false, bool huge_pages = true) {
    static std::map<std::tuple<std::size_t, bool, bool>, std::unique_ptr<dataset>> cache;
    auto& slot = cache[{n, v6, huge_pages}];
    if (!slot) {
        slot = std::make_unique<dataset>();
        slot->keys = v6 ? make_v6_keys(n, 1) : make_v4_keys(n, 1);
        slot->t = std::make_unique<table>();
        slot->t->set_huge_pages(huge_pages);
        for (std::size_t i = 0; i < n; ++i) slot->t->insert_or_assign(slot->keys[i], static_cast<std::uint32_t>(i));
        slot->uniform = uniform_stream(slot->keys, 2);
    }
    return *slot;
}

void set_counters(benchmark::State& state, double bytes_per_key) {
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * burst));
    state.counters["bytes_per_key"] = bytes_per_key;
}

double table_bytes_per_key(const table& t) {
    return static_cast<double>(t.memory_bytes()) / static_cast<double>(t.size());
}

void run_batched(benchmark::State& state, const table& t, const std::vector<ca_key>& stream) {
    const std::uint32_t* out[burst];
    std::size_t pos = 0;
    std::uint64_t sum = 0;
    for (auto _ : state) {
        t.find_batch(std::span<const ca_key>(stream).subspan(pos, burst), out);
        for (const auto* p : out) sum += *p;
        pos += burst;
        if (pos + burst > stream.size()) pos = 0;
    }
    benchmark::DoNotOptimize(sum);
    set_counters(state, table_bytes_per_key(t));
}

void run_single(benchmark::State& state, const table& t, const std::vector<ca_key>& stream) {
    std::size_t pos = 0;
    std::uint64_t sum = 0;
    for (auto _ : state) {
        for (std::size_t i = 0; i < burst; ++i) {
            const auto* p = t.find(stream[pos + i]);
            sum += p != nullptr ? *p : 0;
        }
        pos += burst;
        if (pos + burst > stream.size()) pos = 0;
    }
    benchmark::DoNotOptimize(sum);
    set_counters(state, table_bytes_per_key(t));
}

template <std::size_t N>
void bm_lookup_batched(benchmark::State& state) {
    const auto& d = data(N);
    run_batched(state, *d.t, d.uniform);
}
template <std::size_t N>
void bm_lookup_single(benchmark::State& state) {
    const auto& d = data(N);
    run_single(state, *d.t, d.uniform);
}
// Software pipelining across bursts: prefetch burst k+1, then look burst k up.
void bm_lookup_pipelined(benchmark::State& state) {
    const auto& d = data(1000000);
    const auto& stream = d.uniform;
    const std::uint32_t* out[burst];
    std::size_t pos = 0;
    std::uint64_t sum = 0;
    for (auto _ : state) {
        const std::size_t next = pos + 2 * burst > stream.size() ? 0 : pos + burst;
        d.t->prefetch(std::span<const ca_key>(stream).subspan(next, burst));
        d.t->find_batch(std::span<const ca_key>(stream).subspan(pos, burst), out);
        for (const auto* p : out) sum += *p;
        pos = next;
    }
    benchmark::DoNotOptimize(sum);
    set_counters(state, table_bytes_per_key(*d.t));
}
void bm_lookup_skewed(benchmark::State& state) {
    const auto& d = data(1000000);
    static const auto stream = zipf_stream(d.keys, 3);
    run_batched(state, *d.t, stream);
}
void bm_lookup_v6(benchmark::State& state) {
    const auto& d = data(1000000, true);
    run_batched(state, *d.t, d.uniform);
}
void bm_lookup_no_huge_pages(benchmark::State& state) {
    const auto& d = data(1000000, false, false);
    run_batched(state, *d.t, d.uniform);
}

BENCHMARK(bm_lookup_batched<1000>)->Name("lookup/1K/uniform");
BENCHMARK(bm_lookup_batched<16000>)->Name("lookup/16K/uniform");  // 512 KiB: L2-resident
BENCHMARK(bm_lookup_batched<64000>)->Name("lookup/64K/uniform");
BENCHMARK(bm_lookup_single<64000>)->Name("lookup/64K/uniform/single");
BENCHMARK(bm_lookup_batched<1000000>)->Name("lookup/1M/uniform");
BENCHMARK(bm_lookup_single<1000000>)->Name("lookup/1M/uniform/single");
BENCHMARK(bm_lookup_pipelined)->Name("lookup/1M/uniform/pipelined");
BENCHMARK(bm_lookup_no_huge_pages)->Name("lookup/1M/uniform/no_huge_pages");
BENCHMARK(bm_lookup_skewed)->Name("lookup/1M/skewed");
BENCHMARK(bm_lookup_v6)->Name("lookup/ipv6/1M/uniform");

// ---- peers -------------------------------------------------------------------------------

struct mix_hash {
    std::size_t operator()(std::uint64_t k) const noexcept {
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdull;
        return static_cast<std::size_t>(k ^ (k >> 33));
    }
};

void bm_peer_unordered_map(benchmark::State& state) {
    const auto& d = data(1000000);
    static std::unique_ptr<std::unordered_map<std::uint64_t, std::uint32_t, mix_hash>> m;
    static double bytes_per_key = 0;
    if (!m) {
        const std::size_t before = heap_bytes();
        m = std::make_unique<std::unordered_map<std::uint64_t, std::uint32_t, mix_hash>>();
        for (std::size_t i = 0; i < d.keys.size(); ++i) m->emplace(packed(d.keys[i]), static_cast<std::uint32_t>(i));
        bytes_per_key = static_cast<double>(heap_bytes() - before) / static_cast<double>(m->size());
    }
    std::size_t pos = 0;
    std::uint64_t sum = 0;
    for (auto _ : state) {
        for (std::size_t i = 0; i < burst; ++i) {
            const auto it = m->find(packed(d.uniform[pos + i]));
            sum += it != m->end() ? it->second : 0;
        }
        pos += burst;
        if (pos + burst > d.uniform.size()) pos = 0;
    }
    benchmark::DoNotOptimize(sum);
    set_counters(state, bytes_per_key);
}

void bm_peer_flat_map(benchmark::State& state) {
    const auto& d = data(1000000);
    static std::unique_ptr<boost::container::flat_map<std::uint64_t, std::uint32_t>> m;
    static double bytes_per_key = 0;
    if (!m) {
        const std::size_t before = heap_bytes();
        std::vector<std::pair<std::uint64_t, std::uint32_t>> items;
        for (std::size_t i = 0; i < d.keys.size(); ++i) items.emplace_back(packed(d.keys[i]), static_cast<std::uint32_t>(i));
        std::sort(items.begin(), items.end());
        m = std::make_unique<boost::container::flat_map<std::uint64_t, std::uint32_t>>(
            boost::container::ordered_unique_range, items.begin(), items.end());
        m->shrink_to_fit();
        items = {};
        bytes_per_key = static_cast<double>(heap_bytes() - before) / static_cast<double>(m->size());
    }
    std::size_t pos = 0;
    std::uint64_t sum = 0;
    for (auto _ : state) {
        for (std::size_t i = 0; i < burst; ++i) {
            const auto it = m->find(packed(d.uniform[pos + i]));
            sum += it != m->end() ? it->second : 0;
        }
        pos += burst;
        if (pos + burst > d.uniform.size()) pos = 0;
    }
    benchmark::DoNotOptimize(sum);
    set_counters(state, bytes_per_key);
}

BENCHMARK(bm_peer_unordered_map)->Name("peer/std_unordered_map/lookup/1M/uniform");
BENCHMARK(bm_peer_flat_map)->Name("peer/boost_flat_map/lookup/1M/uniform");

// ---- control plane -----------------------------------------------------------------------

// Inserts 1M keys into an empty table (with every doubling on the way); items = inserts.
template <bool Reserved>
void bm_insert(benchmark::State& state) {
    const auto& keys = data(1000000).keys;
    const bool reserved = Reserved;
    double bytes_per_key = 0;
    for (auto _ : state) {
        table t;
        if (reserved) t.reserve(keys.size());
        for (std::size_t i = 0; i < keys.size(); ++i) t.insert_or_assign(keys[i], static_cast<std::uint32_t>(i));
        benchmark::DoNotOptimize(t.size());
        bytes_per_key = table_bytes_per_key(t);
        state.PauseTiming();  // not the free of 32 MiB
        t = table();
        state.ResumeTiming();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * keys.size()));
    state.counters["bytes_per_key"] = bytes_per_key;
}
BENCHMARK(bm_insert<false>)->Name("ca_table/insert/1M")->Unit(benchmark::kMillisecond);
BENCHMARK(bm_insert<true>)->Name("ca_table/insert/1M/reserved")->Unit(benchmark::kMillisecond);

// A table holding 1M of 2M keys: each change erases the oldest present key or inserts the next
// absent one (a sliding window), so size stays ~1M. items = changes (erase + insert = 2).
// Ahead > 0: prefetch the keys of the change that many steps later (a control-plane loop that
// knows its next changes, as a batch of policy updates does).
template <std::size_t Ahead>
void bm_churn(benchmark::State& state) {
    static const auto keys = make_v4_keys(2000000, 5);
    const std::size_t n = keys.size() / 2;
    table t;
    for (std::size_t i = 0; i < n; ++i) t.insert_or_assign(keys[i], static_cast<std::uint32_t>(i));
    std::size_t oldest = 0, next = n;
    for (auto _ : state) {
        if constexpr (Ahead > 0) {
            t.prefetch(keys[(oldest + Ahead) % keys.size()]);
            t.prefetch(keys[(next + Ahead) % keys.size()]);
        }
        t.erase(keys[oldest]);
        t.insert_or_assign(keys[next], static_cast<std::uint32_t>(next));
        if (++oldest == keys.size()) oldest = 0;
        if (++next == keys.size()) next = 0;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 2));
    state.counters["bytes_per_key"] = table_bytes_per_key(t);
    state.counters["changes_per_s"] =
        benchmark::Counter(static_cast<double>(state.iterations() * 2), benchmark::Counter::kIsRate);
}
BENCHMARK(bm_churn<0>)->Name("ca_table/erase_insert_churn/1M");
BENCHMARK(bm_churn<8>)->Name("ca_table/erase_insert_churn/1M/prefetch_ahead_8");

}  // namespace
