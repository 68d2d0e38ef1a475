// Left-right publication of policy state (policy/left_right.hpp).
// - left_right/read_guard: ns per read-guard enter + exit (the per-burst cost a datapath thread
//   pays), alone and with a writer publishing changes continuously on another thread.
// - left_right/modify/{no_reader,with_reader}/<batch>: record changes per second (items/s) into a
//   1M-entry std::vector<uint64_t>, each modify() a batch of 1, 64 or 4096 element updates;
//   with_reader runs one reader thread doing bursts of 32 random lookups meanwhile (its bursts/s
//   are reported as the `reader_bursts` rate).
// Target (docs/performance.md): policy updates while readers run >= 5 M record changes/s, readers never
// blocked.
#include "nvgre/policy/left_right.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <thread>
#include <vector>

namespace {

using nvgre::policy::left_right;
using table = std::vector<std::uint64_t>;

constexpr std::size_t table_entries = std::size_t{1} << 20;
constexpr int burst = 32;

void bm_read_guard(benchmark::State& state) {
    left_right<table> lr(table(64, 1));
    auto r = lr.make_reader();
    for (auto _ : state) {
        auto g = r.read();
        benchmark::DoNotOptimize(g.get());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// The same, while another thread publishes a change as fast as it can: the reader's two loads
// of the shared indices then miss in cache now and then; it never waits.
void bm_read_guard_with_writer(benchmark::State& state) {
    left_right<table> lr(table(64, 1));
    auto r = lr.make_reader();
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        while (!stop.load(std::memory_order_relaxed)) lr.modify([](table& t) { ++t[0]; });
    });
    for (auto _ : state) {
        auto g = r.read();
        benchmark::DoNotOptimize(g.get());
    }
    stop = true;
    writer.join();
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.counters["modifications"] = benchmark::Counter(static_cast<double>(lr.stats().modifications), benchmark::Counter::kIsRate);
}

// Random indices and values, drawn once; each modify() consumes the next `batch` of them.
struct change_source {
    std::vector<std::uint32_t> indices;
    std::size_t next{0};

    change_source() : indices(std::size_t{1} << 20) {
        std::mt19937 rng(42);
        for (auto& i : indices) i = static_cast<std::uint32_t>(rng() % table_entries);
    }
    std::span<const std::uint32_t> take(std::size_t batch) {
        if (next + batch > indices.size()) next = 0;
        auto s = std::span<const std::uint32_t>(indices).subspan(next, batch);
        next += batch;
        return s;
    }
};

// One batch of element updates. Deterministic: the same indices and value on both copies.
struct update_batch {
    std::span<const std::uint32_t> indices;
    std::uint64_t value;
    void operator()(table& t) const noexcept {
        for (auto i : indices) t[i] = value;
    }
};

void run_modify(benchmark::State& state, left_right<table>& lr) {
    const auto batch = static_cast<std::size_t>(state.range(0));
    change_source src;
    std::uint64_t value = 0;
    for (auto _ : state) lr.modify(update_batch{src.take(batch), ++value});
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
    const auto s = lr.stats();
    state.counters["waits/modify"] = static_cast<double>(s.waits) / static_cast<double>(s.modifications ? s.modifications : 1);
}

void bm_modify_no_reader(benchmark::State& state) {
    left_right<table> lr(table(table_entries, 0));
    run_modify(state, lr);
}

void bm_modify_with_reader(benchmark::State& state) {
    left_right<table> lr(table(table_entries, 0));
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> bursts{0};
    std::thread reader([&, r = lr.make_reader()]() mutable {
        std::mt19937 rng(7);
        std::uint64_t n = 0;
        std::uint64_t sink = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            auto g = r.read();
            const table& t = *g;
            for (int i = 0; i < burst; ++i) sink += t[rng() % table_entries];
            ++n;
        }
        benchmark::DoNotOptimize(sink);
        bursts.store(n, std::memory_order_relaxed);
    });
    run_modify(state, lr);
    stop = true;
    reader.join();
    state.counters["reader_bursts"] = benchmark::Counter(static_cast<double>(bursts.load()), benchmark::Counter::kIsRate);
}

BENCHMARK(bm_read_guard)->Name("left_right/read_guard");
BENCHMARK(bm_read_guard_with_writer)->Name("left_right/read_guard/with_writer")->UseRealTime();
BENCHMARK(bm_modify_no_reader)->Name("left_right/modify/no_reader")->Arg(1)->Arg(64)->Arg(4096);
BENCHMARK(bm_modify_with_reader)->Name("left_right/modify/with_reader")->Arg(1)->Arg(64)->Arg(4096)->UseRealTime();

}  // namespace
