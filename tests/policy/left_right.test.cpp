// left_right: single-threaded contract (initial state, modify, replace, return values,
// registration, moves, statistics), then the "concurrency" suite: readers doing bursts while a
// writer changes a state whose invariants make a torn, half-applied or freed copy visible. The
// concurrency suite is what `make test` runs under ThreadSanitizer (-ts=concurrency); each case
// is bounded in iterations and in wall time (about 1-2 s under TSan on two shared cores).
//
// Reader threads do not call doctest in their loops: they count violations in atomics, and the
// test thread checks the counts after join (cheap, and no assertion machinery in the hot loop).
//
// Test readers yield between bursts, as a datapath thread does other work (rx/tx) between
// lookups. This matters on an oversubscribed machine (more threads than cores): a reader
// preempted *inside* a read section holds the writer for a scheduler timeslice, while a
// reader that gives the core up between sections does not. A real datapath thread is pinned to
// its own core and is not preempted that way.
#include "nvgre/policy/left_right.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace {

using nvgre::policy::left_right;
using clock_type = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Single-threaded contract

TEST_CASE("left_right: a reader sees the initial state") {
    left_right<int> lr(42);
    auto r = lr.make_reader();
    CHECK(r.valid());
    {
        auto g = r.read();
        CHECK(*g == 42);
        CHECK(g.get() == &*g);
    }
    CHECK(lr.inspect([](const int& v) { return v; }) == 42);
}

TEST_CASE("left_right: modify is visible to the next read, applied to both copies") {
    left_right<std::vector<int>> lr(std::vector<int>{1, 2, 3});
    auto r = lr.make_reader();
    int applications = 0;
    lr.modify([&](std::vector<int>& v) {
        ++applications;
        v.push_back(4);
    });
    CHECK(applications == 2);  // once per copy
    {
        auto g = r.read();
        CHECK(*g == std::vector<int>{1, 2, 3, 4});
        CHECK(g->size() == 4);
    }
    // A second change lands on the other copy: both copies carry the first one too.
    lr.modify([](std::vector<int>& v) { v[0] = 10; });
    for (int i = 0; i < 3; ++i) {
        lr.modify([](std::vector<int>&) {});  // flip back and forth: each copy is read in turn
        auto g = r.read();
        CHECK(*g == std::vector<int>{10, 2, 3, 4});
    }
}

TEST_CASE("left_right: modify returns the first application's result, by value") {
    left_right<int> lr(5);
    int calls = 0;
    // The result of the first application (on the standby copy) is returned even though the
    // second one returns something else.
    const int r1 = lr.modify([&](int& v) {
        ++calls;
        v += 1;
        return calls * 100 + v;
    });
    CHECK(r1 == 106);
    CHECK(calls == 2);
    const auto r2 = lr.modify([](int& v) { return std::to_string(v); });
    CHECK(r2 == "6");
    static_assert(std::is_same_v<decltype(lr.modify([](int& v) { return v; })), int>);
    static_assert(std::is_same_v<decltype(lr.modify([](int&) {})), void>);
}

TEST_CASE("left_right: replace and assign swap the whole state") {
    left_right<std::vector<int>> lr(std::vector<int>{1});
    auto r = lr.make_reader();
    int builds = 0;
    lr.replace([&] {
        ++builds;
        return std::vector<int>(1000, 7);
    });
    CHECK(builds == 2);  // one build per copy
    {
        auto g = r.read();
        CHECK(g->size() == 1000);
        CHECK(g->back() == 7);
    }
    lr.modify([](std::vector<int>& v) { v.pop_back(); });  // reads the other copy next
    CHECK(r.read()->size() == 999);

    const std::vector<int> next{9, 9};
    lr.assign(next);
    CHECK(*r.read() == next);
    lr.modify([](std::vector<int>&) {});
    CHECK(*r.read() == next);

    const auto s = lr.stats();
    CHECK(s.modifications == 2);
    CHECK(s.replacements == 2);
    CHECK(s.waits == 0);  // no reader was ever inside during a publication
    CHECK(s.wait_time.count() == 0);
}

TEST_CASE("left_right: a state that is not copyable, from two values") {
    left_right<std::unique_ptr<int>> lr(std::make_unique<int>(1), std::make_unique<int>(1));
    auto r = lr.make_reader();
    lr.modify([](std::unique_ptr<int>& p) { *p = 2; });
    CHECK(**r.read() == 2);
    lr.replace([] { return std::make_unique<int>(3); });
    CHECK(**r.read() == 3);
    lr.modify([](std::unique_ptr<int>&) {});
    CHECK(**r.read() == 3);
}

TEST_CASE("left_right: reader registration, deregistration and slot reuse") {
    left_right<int> lr(0);
    CHECK(lr.reader_count() == 0);
    {
        auto a = lr.make_reader();
        auto b = lr.make_reader();
        CHECK(lr.reader_count() == 2);
        { auto c = lr.make_reader(); CHECK(lr.reader_count() == 3); }
        CHECK(lr.reader_count() == 2);
        CHECK(*a.read() == 0);
        CHECK(*b.read() == 0);
    }
    CHECK(lr.reader_count() == 0);

    // More readers than one chunk of slots holds: a further chunk is linked, and every reader
    // (old and new) keeps working across changes.
    std::vector<left_right<int>::reader> many;
    for (int i = 0; i < 40; ++i) many.push_back(lr.make_reader());
    CHECK(lr.reader_count() == 40);
    lr.modify([](int& v) { v = 11; });
    for (auto& r : many) CHECK(*r.read() == 11);
    // Drop every other reader, then register again: freed slots are reused.
    for (std::size_t i = 0; i < many.size(); i += 2) many[i] = {};
    CHECK(lr.reader_count() == 20);
    for (int i = 0; i < 20; ++i) many.push_back(lr.make_reader());
    CHECK(lr.reader_count() == 40);
    lr.modify([](int& v) { v = 12; });
    for (auto& r : many) {
        if (r) CHECK(*r.read() == 12);
    }
    many.clear();
    CHECK(lr.reader_count() == 0);
}

TEST_CASE("left_right: moving a reader moves its registration") {
    left_right<int> lr(1);
    auto a = lr.make_reader();
    auto b = std::move(a);
    CHECK_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
    CHECK(b.valid());
    CHECK(static_cast<bool>(b));
    CHECK(lr.reader_count() == 1);
    CHECK(*b.read() == 1);

    left_right<int>::reader c;  // empty
    CHECK_FALSE(c.valid());
    c = std::move(b);
    CHECK(c.valid());
    CHECK(lr.reader_count() == 1);
    auto d = lr.make_reader();
    CHECK(lr.reader_count() == 2);
    c = std::move(d);  // c's old registration is released
    CHECK(lr.reader_count() == 1);
    lr.modify([](int& v) { v = 2; });
    CHECK(*c.read() == 2);

    // A reader moved into a thread reads there and deregisters when the thread ends.
    std::thread t([r = std::move(c)]() mutable { CHECK(*r.read() == 2); });
    t.join();
    CHECK(lr.reader_count() == 0);
}

TEST_CASE("left_right: readers of several instances are independent") {
    left_right<int> x(1);
    left_right<int> y(2);
    auto rx = x.make_reader();
    auto ry = y.make_reader();
    auto gx = rx.read();  // holding a guard on x does not hold up a change of y
    y.modify([](int& v) { v = 3; });
    CHECK(*gx == 1);
    CHECK(*ry.read() == 3);
}

// ---------------------------------------------------------------------------------------------
// Concurrency

// A state whose invariants expose a torn or half-applied change: every change writes a batch of
// entries with the new version number and keeps `sum` equal to the sum of the entries, so a
// reader that sees part of a batch, or a copy being written, finds sum != Σ entries (or an entry
// newer than `version`).
struct ledger {
    std::uint64_t version{0};
    std::uint64_t sum{0};
    std::vector<std::uint64_t> entries;

    explicit ledger(std::size_t n) : entries(n, 0) {}

    [[nodiscard]] bool consistent() const noexcept {
        std::uint64_t s = 0;
        for (auto e : entries) {
            if (e > version) return false;
            s += e;
        }
        return s == sum;
    }
};

// One batch of changes, deterministic: the indices are drawn before modify() and captured.
struct ledger_change {
    std::vector<std::uint32_t> indices;
    std::uint64_t operator()(ledger& l) const {
        ++l.version;
        for (auto i : indices) {
            l.sum -= l.entries[i];
            l.entries[i] = l.version;
            l.sum += l.version;
        }
        return l.version;
    }
};

struct violations {
    std::atomic<std::uint64_t> torn{0};
    std::atomic<std::uint64_t> went_back{0};
    std::atomic<std::uint64_t> changed_under_guard{0};
    std::atomic<std::uint64_t> reads{0};

    void check_clean() const {
        CHECK(torn.load() == 0);
        CHECK(went_back.load() == 0);
        CHECK(changed_under_guard.load() == 0);
    }
};

// A burst: check the invariants, do some "lookups", check that the state did not move.
void read_burst(left_right<ledger>::reader& r, std::uint64_t& last_version, violations& v, std::mt19937& rng) {
    auto g = r.read();
    const ledger& l = *g;
    const auto version = l.version;
    if (!l.consistent()) v.torn.fetch_add(1, std::memory_order_relaxed);
    if (version < last_version) v.went_back.fetch_add(1, std::memory_order_relaxed);
    last_version = version;
    std::uint64_t probe = 0;
    for (int i = 0; i < 32; ++i) probe += l.entries[rng() % l.entries.size()];
    static_cast<void>(probe);
    if (l.version != version || !l.consistent()) v.changed_under_guard.fetch_add(1, std::memory_order_relaxed);
    v.reads.fetch_add(1, std::memory_order_relaxed);
}

TEST_SUITE("concurrency") {

TEST_CASE("left_right: readers never see a half-applied batch while a writer modifies") {
    constexpr std::size_t entries = 256;
    constexpr int readers = 3;
    constexpr std::uint64_t target_changes = 20000;
    const auto deadline = clock_type::now() + std::chrono::milliseconds(1500);

    left_right<ledger> lr{ledger(entries)};
    violations v;
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < readers; ++t) {
        threads.emplace_back([&, r = lr.make_reader(), seed = t]() mutable {
            std::mt19937 rng(static_cast<unsigned>(seed));
            std::uint64_t last = 0;
            for (unsigned n = 0; !stop.load(std::memory_order_relaxed); ++n) {
                read_burst(r, last, v, rng);
                if (n % 4 == 0) std::this_thread::yield();
            }
        });
    }
    while (v.reads.load() < readers) std::this_thread::yield();  // the readers are running
    std::mt19937 rng(99);
    std::uint64_t done = 0;
    bool returns_ok = true;
    // At least target_changes changes and as many reads, unless the deadline comes first.
    while ((done < target_changes || v.reads.load() < target_changes) && clock_type::now() < deadline) {
        for (int k = 0; k < 64; ++k) {
            ledger_change c;
            const auto batch = 1 + rng() % 16;
            for (std::uint32_t i = 0; i < batch; ++i) c.indices.push_back(static_cast<std::uint32_t>(rng() % entries));
            const auto version = lr.modify(c);
            returns_ok = returns_ok && version == done + 1;
            ++done;
        }
        std::this_thread::yield();  // a control plane between batches; lets readers run
    }
    stop = true;
    for (auto& t : threads) t.join();
    CHECK(returns_ok);
    CHECK(done >= 1000);  // bounded by time under sanitizers, but it must make progress
    CHECK(lr.stats().modifications == done);
    CHECK(lr.inspect([](const ledger& l) { return l.version; }) == done);
    CHECK(lr.inspect([](const ledger& l) { return l.consistent(); }));
    CHECK(v.reads.load() > 0);
    v.check_clean();
    MESSAGE("changes: " << done << ", reads: " << v.reads.load() << ", waits: " << lr.stats().waits);
}

TEST_CASE("left_right: two writers are serialised; every change is applied exactly once per copy") {
    constexpr int per_writer = 2000;
    left_right<ledger> lr{ledger(64)};
    violations v;
    std::atomic<bool> stop{false};
    std::thread reader_thread([&, r = lr.make_reader()]() mutable {
        std::mt19937 rng(5);
        std::uint64_t last = 0;
        for (unsigned n = 0; !stop.load(std::memory_order_relaxed); ++n) {
            read_burst(r, last, v, rng);
            if (n % 4 == 0) std::this_thread::yield();
        }
    });
    auto writer = [&](std::uint32_t first_index) {
        for (int i = 0; i < per_writer; ++i) {
            lr.modify(ledger_change{{first_index, first_index + 1, static_cast<std::uint32_t>(i % 64)}});
        }
    };
    std::thread w1(writer, 0U);
    std::thread w2(writer, 10U);
    w1.join();
    w2.join();
    stop = true;
    reader_thread.join();
    CHECK(lr.inspect([](const ledger& l) { return l.version; }) == 2 * per_writer);
    // Both copies agree: flip once more and read the other one.
    auto r = lr.make_reader();
    const auto a = r.read()->sum;
    lr.modify([](ledger&) {});
    const auto b = r.read()->sum;
    CHECK(a == b);
    v.check_clean();
}

TEST_CASE("left_right: readers register and deregister repeatedly during writes") {
    constexpr int churners = 3;
    constexpr int held = 8;  // 3 x 8 > one chunk of slots: chunks are linked while the writer scans
    const auto deadline = clock_type::now() + std::chrono::milliseconds(1200);
    left_right<ledger> lr{ledger(128)};
    violations v;
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> registrations{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < churners; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937 rng(static_cast<unsigned>(t + 10));
            std::uint64_t last = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                std::vector<left_right<ledger>::reader> rs;
                for (int i = 0; i < held; ++i) rs.push_back(lr.make_reader());
                registrations.fetch_add(held, std::memory_order_relaxed);
                for (int round = 0; round < 4; ++round) {
                    for (auto& r : rs) read_burst(r, last, v, rng);
                    std::this_thread::yield();
                }
                // Move one around before it goes: its registration travels with it.
                auto moved = std::move(rs.back());
                rs.pop_back();
                read_burst(moved, last, v, rng);
            }
        });
    }
    while (registrations.load() == 0) std::this_thread::yield();  // the churners are running
    std::mt19937 rng(7);
    std::uint64_t done = 0;
    while ((done < 10000 || registrations.load() < 5000) && clock_type::now() < deadline) {
        lr.modify(ledger_change{{static_cast<std::uint32_t>(rng() % 128), static_cast<std::uint32_t>(rng() % 128)}});
        ++done;
    }
    stop = true;
    for (auto& t : threads) t.join();
    CHECK(lr.reader_count() == 0);
    CHECK(registrations.load() > 0);
    CHECK(done > 100);
    v.check_clean();
    MESSAGE("changes: " << done << ", registrations: " << registrations.load() << ", reads: " << v.reads.load());
}

// A replace storm: each new state has another size (the old vector's storage is freed on the
// second application), every entry equal to the generation. A reader that touched a freed or
// half-assigned copy would see a wrong size or entry (and ASan/TSan would report it).
TEST_CASE("left_right: a replace storm under readers") {
    struct generation_state {
        std::uint64_t generation{0};
        std::vector<std::uint64_t> entries;
    };
    auto make = [](std::uint64_t gen) {
        return generation_state{gen, std::vector<std::uint64_t>(16 + gen % 97, gen)};
    };
    const auto deadline = clock_type::now() + std::chrono::milliseconds(1200);
    left_right<generation_state> lr(make(0));
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> bad{0};
    std::atomic<std::uint64_t> reads{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, r = lr.make_reader()]() mutable {
            std::uint64_t last = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                auto g = r.read();
                const auto gen = g->generation;
                bool ok = gen >= last && g->entries.size() == 16 + gen % 97;
                for (auto e : g->entries) ok = ok && e == gen;
                if (!ok) bad.fetch_add(1, std::memory_order_relaxed);
                last = gen;
                reads.fetch_add(1, std::memory_order_relaxed);
                std::this_thread::yield();
            }
        });
    }
    while (reads.load() == 0) std::this_thread::yield();
    std::uint64_t gen = 0;
    while ((gen < 5000 || reads.load() < 5000) && clock_type::now() < deadline) {
        ++gen;
        if (gen % 2 == 0) {
            lr.replace([&] { return make(gen); });
        } else {
            lr.assign(make(gen));
        }
    }
    stop = true;
    for (auto& t : threads) t.join();
    CHECK(bad.load() == 0);
    CHECK(reads.load() > 0);
    CHECK(lr.stats().replacements == gen);
    CHECK(lr.inspect([](const generation_state& s) { return s.generation; }) == gen);
    MESSAGE("replacements: " << gen << ", reads: " << reads.load());
}

TEST_CASE("left_right: the writer waits for a reader in the old copy; new reads see the new copy") {
    left_right<int> lr(1);
    std::atomic<int> phase{0};  // 1: guard held; 2: release it
    std::atomic<int> seen_in_guard{0};
    std::thread holder([&, r = lr.make_reader()]() mutable {
        auto g = r.read();
        phase = 1;
        while (phase.load() != 2) std::this_thread::yield();
        seen_in_guard = *g;  // still the old copy, untouched, after the writer published
    });
    while (phase.load() != 1) std::this_thread::yield();

    std::atomic<bool> modified{false};
    std::thread writer([&] {
        lr.modify([](int& v) { v = 2; });
        modified = true;
    });
    // The new copy is published before the writer waits: a fresh reader sees it at once.
    auto fresh = lr.make_reader();
    for (;;) {
        if (*fresh.read() == 2) break;
        std::this_thread::yield();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK_FALSE(modified.load());  // still waiting for the holder to leave the old copy
    phase = 2;
    writer.join();
    holder.join();
    CHECK(modified.load());
    CHECK(seen_in_guard.load() == 1);
    CHECK(*fresh.read() == 2);
    const auto s = lr.stats();
    CHECK(s.waits == 1);
    CHECK(s.wait_time >= std::chrono::milliseconds(40));
    CHECK(s.max_wait_time == s.wait_time);
}

}  // TEST_SUITE("concurrency")

}  // namespace
