// Policy as the datapath and the control plane use it: validating and indexing a 1M-record
// policy, per-packet record lookups through policy::state, and live record changes and change
// sets per second while a reader thread keeps looking up (policy::live_policy).
#include "nvgre/policy/change_set.hpp"
#include "nvgre/policy/live_policy.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace nvgre;
using namespace nvgre::policy;

namespace {

constexpr std::uint32_t hosts = 100;
constexpr std::uint32_t records_per_subnet = 1000;

ip_address pa_of(std::uint32_t host) { return ipv4_address::from_uint(0xc0a80000u + host + 1); }  // 192.168.0.x
ip_address ca_of(std::uint32_t i) { return ipv4_address::from_uint(0x0a000000u + i + 2); }       // 10.x.y.z
mac_address mac_of(std::uint32_t i) {
    return mac_address{{0x00, 0x15, static_cast<std::uint8_t>(i >> 24), static_cast<std::uint8_t>(i >> 16),
                        static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}};
}
rdid domain_id(std::uint32_t d) {
    std::array<std::uint8_t, 16> g{};
    g[12] = static_cast<std::uint8_t>(d >> 24);
    g[13] = static_cast<std::uint8_t>(d >> 16);
    g[14] = static_cast<std::uint8_t>(d >> 8);
    g[15] = static_cast<std::uint8_t>(d);
    return rdid{g};
}

/// A validated policy of `records` records: one subnet per 1000 records, one domain per subnet,
/// records spread over 100 hosts.
model make_model(std::uint32_t records) {
    builder b;
    for (std::uint32_t h = 0; h < hosts; ++h)
        b.add(provider_address{"hv" + std::to_string(h), pa_of(h), 16, mac_of(0xff000000u + h), 0});
    const std::uint32_t subnets = (records + records_per_subnet - 1) / records_per_subnet;
    for (std::uint32_t s = 0; s < subnets; ++s) {
        b.add(routing_domain{domain_id(s), "", default_router_mac});
        b.add(virtual_subnet{*nvgre::vsid::make(5000 + s), domain_id(s), std::nullopt, std::nullopt});
        b.add(customer_route{domain_id(s), *nvgre::vsid::make(5000 + s), *ip_prefix::parse("10.0.0.0/8"),
                             ipv4_address{}, default_customer_route_metric});
    }
    for (std::uint32_t i = 0; i < records; ++i)
        b.add(lookup_record{*nvgre::vsid::make(5000 + i / records_per_subnet), ca_of(i), mac_of(i), pa_of(i % hosts),
                            rule::encap, record_type::static_record, ""});
    auto r = b.build();
    if (!r) std::abort();
    return std::move(*r.validated);
}

const model& model_1m() {
    static const model m = make_model(1'000'000);
    return m;
}

// Validating (builder) and indexing (state::build) 1M records.
void policy_load(benchmark::State& st) {
    const auto n = static_cast<std::uint32_t>(st.range(0));
    for (auto _ : st) {
        auto m = make_model(n);
        auto s = state::build(m, "hv0").value();
        benchmark::DoNotOptimize(s.record_count());
        st.counters["record_bytes"] = static_cast<double>(s.record_memory_bytes()) / n;
    }
    st.SetItemsProcessed(st.iterations() * n);
}
BENCHMARK(policy_load)->Name("policy/load/1M")->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(1);

// Per-packet lookups through the state: (domain, CA) for uniformly random records, bursts of 32.
void policy_lookup(benchmark::State& st) {
    static const state s = state::build(model_1m(), "hv0").value();
    std::mt19937 rng(42);
    std::vector<ca_key> keys(1 << 16);
    for (auto& k : keys) {
        const std::uint32_t i = rng() % 1'000'000;
        k = ca_key{i / records_per_subnet, ca_of(i)};  // domain index = subnet number
    }
    std::vector<const record_entry*> out(32);
    std::size_t at = 0;
    for (auto _ : st) {
        s.find_records_batch(std::span<const ca_key>(keys.data() + at, 32), out);
        benchmark::DoNotOptimize(out.data());
        at = (at + 32) & (keys.size() - 1);
    }
    st.SetItemsProcessed(st.iterations() * 32);
    st.counters["record_bytes"] = static_cast<double>(s.record_memory_bytes()) / 1e6;
}
BENCHMARK(policy_lookup)->Name("policy/lookup/1M/uniform");

// A datapath thread meanwhile: bursts of 32 lookups of random records, each burst under one
// read guard of `live`, until `stop`; counts the bursts.
std::thread reader_of(live_policy& live, std::atomic<bool>& stop, std::atomic<std::uint64_t>& bursts) {
    return std::thread([&live, &stop, &bursts] {
        auto r = live.make_reader();
        std::uint32_t i = 1;
        while (!stop.load(std::memory_order_relaxed)) {
            auto g = r.read();
            for (int k = 0; k < 32; ++k) {
                i = i * 1664525u + 1013904223u;
                const std::uint32_t rec = i % 1'000'000;
                benchmark::DoNotOptimize(g->find_record(rec / records_per_subnet, ca_of(rec)));
            }
            bursts.fetch_add(1, std::memory_order_relaxed);
        }
    });
}

// Record changes per second through live_policy, with one reader thread looking records up in
// bursts meanwhile. Each change moves a random record to another host (a VM migration);
// batches of `batch` changes, each batch published atomically. items = changes; the rate the
// table uses is `changes_per_s`: changes over the wall-clock time of the apply() calls (the
// writer may yield while it waits for the reader, which CPU time would not count).
// `reader_bursts`: the reader's bursts of 32 lookups per second meanwhile (never blocked).
void update_records(benchmark::State& st, std::size_t batch) {
    static live_policy live(state::build(model_1m(), "hv0").value());
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> bursts{0};
    std::thread reader = reader_of(live, stop, bursts);
    std::mt19937 rng(7);
    std::vector<change> changes(batch, change{remove_record{*nvgre::vsid::make(5000), ca_of(0)}});
    std::chrono::steady_clock::duration wall{};
    const auto started = std::chrono::steady_clock::now();
    for (auto _ : st) {
        st.PauseTiming();
        for (auto& c : changes) {
            const std::uint32_t i = rng() % 1'000'000;
            c = set_record{lookup_record{*nvgre::vsid::make(5000 + i / records_per_subnet), ca_of(i), mac_of(i),
                                        pa_of(rng() % hosts), rule::encap, record_type::static_record, ""}};
        }
        st.ResumeTiming();
        const auto t0 = std::chrono::steady_clock::now();
        const std::size_t applied = live.apply(changes);
        wall += std::chrono::steady_clock::now() - t0;
        if (applied != batch) st.SkipWithError("a change was refused");
    }
    const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    stop = true;
    reader.join();
    const double changes_done = static_cast<double>(st.iterations() * batch);
    st.SetItemsProcessed(static_cast<std::int64_t>(changes_done));
    st.counters["changes_per_s"] = changes_done / std::chrono::duration<double>(wall).count();
    st.counters["reader_bursts_per_s"] = static_cast<double>(bursts.load()) / run_s;
}

// A change set of 1000 lines on the 1M-record policy through live_policy::apply_change_set,
// with a reader thread looking records up meanwhile: parsed (FILE:LINE:COL errors), then
// validated and applied record by record by the state's rules on both left-right copies. Each
// line moves a random VM to another host (a migration). items = lines; `changes_per_s` = lines
// over the wall-clock time of the apply calls; `parse_ms` = parse_change_set alone, timed apart
// on the same text. The model catches up on the first current_model() (`model_s`, once at the
// end: one validation of the whole policy).
void update_changeset(benchmark::State& st) {
    constexpr std::size_t lines = 1000;
    static live_policy live(model_1m(), state::build(model_1m(), "hv0").value());
    live.set_grace_window(std::chrono::milliseconds(0));
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> bursts{0};
    std::thread reader = reader_of(live, stop, bursts);
    std::mt19937 rng(11);
    std::chrono::steady_clock::duration wall{}, parse{};
    for (auto _ : st) {
        st.PauseTiming();
        std::string text;
        std::vector<std::uint32_t> picked;
        while (picked.size() < lines) {  // distinct records: one line per identity
            const std::uint32_t i = rng() % 1'000'000;
            if (std::find(picked.begin(), picked.end(), i) == picked.end()) picked.push_back(i);
        }
        for (const std::uint32_t i : picked)
            text += "+ " + format_object(lookup_record{*nvgre::vsid::make(5000 + i / records_per_subnet), ca_of(i), mac_of(i),
                                                       pa_of(rng() % hosts), rule::encap, record_type::static_record, ""}) +
                    "\n";
        {
            const auto t0 = std::chrono::steady_clock::now();
            const change_set_parse parsed = parse_change_set(text, "bench.cs");
            parse += std::chrono::steady_clock::now() - t0;
            if (!parsed) st.SkipWithError("the change set does not parse");
        }
        st.ResumeTiming();
        const auto t0 = std::chrono::steady_clock::now();
        const change_set_outcome applied = live.apply_change_set(text, "bench.cs");
        wall += std::chrono::steady_clock::now() - t0;
        if (!applied) st.SkipWithError("the change set was refused");
    }
    stop = true;
    reader.join();
    const auto m0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(live.current_model()->counts());
    const double model_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - m0).count();
    const double n = static_cast<double>(st.iterations());
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * lines));
    st.counters["changes_per_s"] = n * lines / std::chrono::duration<double>(wall).count();
    st.counters["parse_ms"] = std::chrono::duration<double>(parse).count() * 1e3 / n;
    st.counters["model_s"] = model_s;
}

[[maybe_unused]] const bool registered = [] {
    benchmark::RegisterBenchmark("update/changeset/1K", update_changeset)->Unit(benchmark::kMillisecond)->Iterations(50);
    benchmark::RegisterBenchmark("update/records", update_records, std::size_t{1024})->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("update/records/batch:16384", update_records, std::size_t{16384})
        ->Unit(benchmark::kMicrosecond);
    return true;
}();

}  // namespace
