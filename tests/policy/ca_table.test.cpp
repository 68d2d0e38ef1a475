#include "nvgre/policy/ca_table.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

using namespace nvgre;
using nvgre::policy::ca_key;
using nvgre::policy::ca_table;

namespace {

ca_key v4_key(std::uint32_t scope, std::uint32_t addr) {
    return ca_key{scope, ip_address{ipv4_address::from_uint(addr)}};
}

ca_key v6_key(std::uint32_t scope, std::uint64_t hi, std::uint64_t lo) {
    std::array<std::uint8_t, 16> o{};
    for (int i = 0; i < 8; ++i) {
        o[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
        o[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
    }
    return ca_key{scope, ip_address{ipv6_address{o}}};
}

// Keys drawn from small pools so that inserts, assigns, erases and misses all happen often, and
// the edge values (scope 0 / 0xFFFFFFFF, 0.0.0.0, 255.255.255.255, ::, all-ones) are common.
ca_key random_key(std::mt19937_64& rng) {
    static constexpr std::uint32_t scopes[] = {0, 1, 2, 0xffffffffu, 0x80000000u, 7};
    const std::uint32_t scope = scopes[rng() % std::size(scopes)];
    const auto pick = rng() % 100;
    if (pick < 60) {
        static constexpr std::uint32_t special[] = {0, 0xffffffffu, 0x0a000001u};
        const std::uint32_t a = (rng() % 8 == 0) ? special[rng() % 3] : 0x0a000000u + static_cast<std::uint32_t>(rng() % 600);
        return v4_key(scope, a);
    }
    if (pick < 95) {
        const auto which = rng() % 10;
        if (which == 0) return v6_key(scope, 0, 0);
        if (which == 1) return v6_key(scope, ~0ull, ~0ull);
        return v6_key(scope, 0x20010db800000000ull, rng() % 400);
    }
    // The two keys whose bit pattern is the empty-slot marker.
    return rng() % 2 ? v4_key(0xffffffffu, 0xffffffffu) : v6_key(0xffffffffu, ~0ull, ~0ull);
}

template <class Table, class Ref>
void check_equal(const Table& t, const Ref& ref) {
    REQUIRE(t.size() == ref.size());
    std::size_t seen = 0;
    bool ok = true;
    t.for_each([&](const ca_key& k, const std::uint32_t& v) {
        ++seen;
        auto it = ref.find(k);
        if (it == ref.end() || it->second != v) ok = false;
    });
    CHECK(ok);
    CHECK(seen == ref.size());
}

}  // namespace

TEST_CASE("ca_table: empty table finds nothing and allocates nothing") {
    ca_table<std::uint32_t> t;
    CHECK(t.size() == 0);
    CHECK(t.empty());
    CHECK(t.memory_bytes() == 0);
    CHECK(t.find(v4_key(0, 0)) == nullptr);
    CHECK(t.find(v4_key(0xffffffffu, 0xffffffffu)) == nullptr);
    CHECK(t.find(v6_key(0, 0, 0)) == nullptr);
    CHECK_FALSE(t.erase(v4_key(1, 2)));
    CHECK_FALSE(t.erase(v6_key(1, 2, 3)));
    t.clear();
    CHECK(t.memory_bytes() == 0);
    const ca_key keys[3] = {v4_key(0, 0), v6_key(1, 1, 1), v4_key(~0u, ~0u)};
    const std::uint32_t* out[3] = {&keys[0].scope, &keys[0].scope, &keys[0].scope};
    t.find_batch(keys, out);
    CHECK(out[0] == nullptr);
    CHECK(out[1] == nullptr);
    CHECK(out[2] == nullptr);
}

TEST_CASE("ca_table: insert, assign, erase; edge keys; v4 and v6 are distinct") {
    ca_table<std::uint32_t> t;
    const ca_key zero4 = v4_key(0, 0), zero6 = v6_key(0, 0, 0);
    const ca_key ones4 = v4_key(~0u, ~0u), ones6 = v6_key(~0u, ~0ull, ~0ull);
    CHECK(t.insert_or_assign(zero4, 1));
    CHECK(t.insert_or_assign(zero6, 2));
    CHECK(t.insert_or_assign(ones4, 3));
    CHECK(t.insert_or_assign(ones6, 4));
    CHECK(t.size() == 4);
    CHECK(*t.find(zero4) == 1);
    CHECK(*t.find(zero6) == 2);
    CHECK(*t.find(ones4) == 3);
    CHECK(*t.find(ones6) == 4);
    CHECK_FALSE(t.insert_or_assign(ones4, 30));
    CHECK(*t.find(ones4) == 30);
    CHECK(t.find(v4_key(~0u, 0xfffffffeu)) == nullptr);
    CHECK(t.find(v4_key(0xfffffffeu, ~0u)) == nullptr);
    CHECK(t.find(v6_key(~0u, ~0ull, ~0ull - 1)) == nullptr);
    CHECK(t.find(v6_key(~0u - 1, ~0ull, ~0ull)) == nullptr);
    CHECK(t.erase(ones4));
    CHECK_FALSE(t.erase(ones4));
    CHECK(t.find(ones4) == nullptr);
    CHECK(t.size() == 3);
    // Same address, same scope, v4 vs the v6 address with the same leading octets.
    const ca_key a4 = v4_key(5, 0x0a000001u);
    const ca_key a6 = v6_key(5, 0x0a00000100000000ull, 0);
    CHECK(t.insert_or_assign(a4, 10));
    CHECK(t.find(a6) == nullptr);
    CHECK(t.insert_or_assign(a6, 11));
    CHECK(*t.find(a4) == 10);
    CHECK(*t.find(a6) == 11);
    // Same address in different scopes.
    CHECK(t.insert_or_assign(v4_key(6, 0x0a000001u), 12));
    CHECK(*t.find(a4) == 10);
    CHECK(*t.find(v4_key(6, 0x0a000001u)) == 12);
}

TEST_CASE("ca_table: 200k random operations match std::map after every step") {
    std::mt19937_64 rng(0x5eed);
    ca_table<std::uint32_t> t(0, 42);
    std::map<ca_key, std::uint32_t> ref;
    std::size_t inserts = 0, assigns = 0, erases = 0, hits = 0, misses = 0;
    bool ok = true;
    for (int step = 0; step < 200000 && ok; ++step) {
        const ca_key k = random_key(rng);
        const auto op = rng() % 10;
        if (op < 4) {
            const auto v = static_cast<std::uint32_t>(rng());
            const bool inserted = t.insert_or_assign(k, v);
            const bool ref_inserted = ref.insert_or_assign(k, v).second;
            ok = ok && inserted == ref_inserted;
            (inserted ? inserts : assigns)++;
        } else if (op < 7) {
            const bool erased = t.erase(k);
            ok = ok && erased == (ref.erase(k) == 1);
            erases += erased;
        } else {
            const auto* p = t.find(k);
            auto it = ref.find(k);
            ok = ok && (p == nullptr) == (it == ref.end()) && (p == nullptr || *p == it->second);
            (p ? hits : misses)++;
        }
        ok = ok && t.size() == ref.size();
        // A key just touched and one random other key must agree after every step.
        const ca_key probe = random_key(rng);
        const auto* p = t.find(probe);
        auto it = ref.find(probe);
        ok = ok && (p == nullptr) == (it == ref.end()) && (p == nullptr || *p == it->second);
        if (step % 1000 == 0) {
            for (const auto& [key, value] : ref) {
                const auto* q = t.find(key);
                ok = ok && q != nullptr && *q == value;
            }
        }
        if (!ok) FAIL("mismatch at step " << step);
    }
    CHECK(ok);
    check_equal(t, ref);
    // Every kind of operation happened many times.
    CHECK(inserts > 10000);
    CHECK(assigns > 10000);
    CHECK(erases > 10000);
    CHECK(hits > 10000);
    CHECK(misses > 1000);
}

TEST_CASE("ca_table: large churn against std::unordered_map (grow, shift-delete)") {
    struct key_hash {
        std::size_t operator()(const ca_key& k) const noexcept {
            std::size_t h = k.scope * 0x9e3779b97f4a7c15ull;
            for (auto o : k.address.octets()) h = (h ^ o) * 0x100000001b3ull;
            return h ^ static_cast<std::size_t>(k.address.is_v4());
        }
    };
    std::mt19937_64 rng(7);
    ca_table<std::uint32_t> t;
    std::unordered_map<ca_key, std::uint32_t, key_hash> ref;
    std::vector<ca_key> pool;
    for (int i = 0; i < 20000; ++i) {
        const auto r = rng();
        pool.push_back(i % 4 == 0 ? v6_key(static_cast<std::uint32_t>(r % 3), 0xfe80ull << 48, r >> 20)
                                  : v4_key(static_cast<std::uint32_t>(r % 3), static_cast<std::uint32_t>(r >> 32)));
    }
    bool ok = true;
    for (int step = 0; step < 200000; ++step) {
        const ca_key& k = pool[rng() % pool.size()];
        if (rng() % 2) {
            const auto v = static_cast<std::uint32_t>(step);
            ok = ok && t.insert_or_assign(k, v) == ref.insert_or_assign(k, v).second;
        } else {
            ok = ok && t.erase(k) == (ref.erase(k) == 1);
        }
        ok = ok && t.size() == ref.size();
    }
    CHECK(ok);
    for (const auto& k : pool) {
        const auto* p = t.find(k);
        auto it = ref.find(k);
        ok = ok && (p == nullptr) == (it == ref.end()) && (p == nullptr || *p == it->second);
    }
    CHECK(ok);
    check_equal(t, ref);
    // Churn leaves no tombstones behind: probe lengths stay those of a fresh table.
    const auto s = t.stats();
    CHECK(s.v4_mean_groups < 1.3);
    CHECK(s.v6_mean_groups < 2.6);
}

TEST_CASE("ca_table: find_batch equals find at every batch size") {
    std::mt19937_64 rng(99);
    ca_table<std::uint32_t> t;
    std::vector<ca_key> present, absent;
    for (std::uint32_t i = 0; i < 3000; ++i) {
        const ca_key k = i % 3 == 0 ? v6_key(i % 17, 0x20010db8ull << 32, rng()) : v4_key(i % 17, 0x0a000000u + i);
        if (i % 2 == 0) {
            t.insert_or_assign(k, i);
            present.push_back(k);
        } else {
            absent.push_back(k);
        }
    }
    t.insert_or_assign(v4_key(~0u, ~0u), 77);
    present.push_back(v4_key(~0u, ~0u));
    absent.push_back(v6_key(~0u, ~0ull, ~0ull));
    absent.push_back(v4_key(0, 0));
    std::vector<ca_key> all;
    for (std::size_t i = 0; i < std::max(present.size(), absent.size()); ++i) {
        if (i < present.size()) all.push_back(present[i]);
        if (i < absent.size()) all.push_back(absent[i]);
    }
    std::shuffle(all.begin(), all.end(), rng);
    for (std::size_t batch : {0u, 1u, 7u, 16u, 17u, 33u, 100u}) {
        CAPTURE(batch);
        std::vector<const std::uint32_t*> out(batch + 1);
        bool ok = true;
        for (std::size_t start = 0; start + batch <= all.size(); start += std::max<std::size_t>(batch, 1)) {
            const auto* sentinel = &present.front().scope;
            out[batch] = sentinel;
            t.find_batch(std::span<const ca_key>(all).subspan(start, batch), std::span(out).first(batch));
            for (std::size_t i = 0; i < batch; ++i) ok = ok && out[i] == t.find(all[start + i]);
            ok = ok && out[batch] == sentinel;  // nothing written past the batch
            if (batch == 0) break;
        }
        CHECK(ok);
    }
    // Every present key is found, every absent one is not.
    std::vector<const std::uint32_t*> out(all.size());
    t.find_batch(all, out);
    std::size_t found = 0;
    for (const auto* p : out) found += p != nullptr;
    CHECK(found == present.size());
}

TEST_CASE("ca_table: grow from empty to 1M keys, then erase all") {
    ca_table<std::uint32_t> t;
    constexpr std::uint32_t n = 1'000'000;
    // Scope = domain index among 1000, address in 10.0.0.0/8: structured keys.
    auto key = [](std::uint32_t i) { return v4_key(i % 1000, 0x0a000000u + i / 1000 * 7); };
    bool ok = true;
    for (std::uint32_t i = 0; i < n; ++i) ok = ok && t.insert_or_assign(key(i), i);
    CHECK(ok);
    CHECK(t.size() == n);
    for (std::uint32_t i = 0; i < n; ++i) {
        const auto* p = t.find(key(i));
        ok = ok && p != nullptr && *p == i;
    }
    CHECK(ok);
    // 2^21 slots of 16 bytes: about 33.5 bytes per key at 1M keys.
    CHECK(t.capacity() == (std::size_t{1} << 21));
    CHECK(t.memory_bytes() == (std::size_t{1} << 21) * 16);
    const auto s = t.stats();
    // Random keys at load 0.477 in 4-slot groups: 1.04 groups (cache lines) per hit.
    CHECK(s.v4_mean_groups < 1.08);
    CHECK(s.v4_max_groups < 20);
    for (std::uint32_t i = 0; i < n; i += 2) ok = ok && t.erase(key(i));
    for (std::uint32_t i = 1; i < n; i += 2) ok = ok && t.erase(key(i));
    CHECK(ok);
    CHECK(t.size() == 0);
    for (std::uint32_t i = 0; i < n; ++i) ok = ok && t.find(key(i)) == nullptr;
    CHECK(ok);
    CHECK(t.memory_bytes() == (std::size_t{1} << 21) * 16);  // erase never shrinks
}

TEST_CASE("ca_table: structured key sets probe like random ones") {
    // Load just under 3/4 (the worst case the table allows). Random keys: IPv4 (groups of 4
    // slots) 1.27 groups per hit, max ~45; IPv6 (single slots) (1 + 1/(1-a))/2 = 2.5 slots,
    // max ~ ln(n) / (a - 1 - ln a) = 290, with a tail to ~400.
    const std::size_t n = (std::size_t{1} << 16) * 3 / 4 - 1;
    struct pattern {
        const char* name;
        ca_key (*make)(std::uint32_t);
    };
    const pattern patterns[] = {
        {"sequential addresses, one scope", [](std::uint32_t i) { return v4_key(0, i); }},
        {"one address, sequential scopes", [](std::uint32_t i) { return v4_key(i, 0); }},
        {"scope and address equal", [](std::uint32_t i) { return v4_key(i, i); }},
        {"strided by 2^16", [](std::uint32_t i) { return v4_key(i & 0xff, (i >> 8) << 16); }},
        {"high octet only", [](std::uint32_t i) { return v4_key(i >> 8, (i & 0xff) << 24); }},
        {"v6 low bits", [](std::uint32_t i) { return v6_key(1, 0x20010db8ull << 32, i); }},
        {"v6 high bits", [](std::uint32_t i) { return v6_key(0, std::uint64_t{i} << 40, 0); }},
        {"v6 scopes", [](std::uint32_t i) { return v6_key(i, 0, 1); }},
    };
    // Fixed seeds, and tables seeded by default (address and clock).
    for (int seed = -1; seed < 3; ++seed) {
        for (const auto& p : patterns) {
            const std::string name = p.name;
            CAPTURE(name);
            CAPTURE(seed);
            ca_table<std::uint32_t> t = seed < 0 ? ca_table<std::uint32_t>() : ca_table<std::uint32_t>(0, static_cast<std::uint64_t>(seed));
            for (std::uint32_t i = 0; i < n; ++i) t.insert_or_assign(p.make(i), i);
            REQUIRE(t.size() == n);
            const auto s = t.stats();
            if (s.v4_keys != 0) {
                CHECK(s.v4_mean_groups < 1.4);
                CHECK(s.v4_max_groups < 120);
            } else {
                CHECK(s.v6_mean_groups < 3.0);
                CHECK(s.v6_max_groups < 600);
            }
        }
    }
}

TEST_CASE("ca_table: clear, reserve, copy, move, memory_bytes") {
    ca_table<std::uint32_t> t;
    t.reserve(1000);
    const std::size_t reserved = t.memory_bytes();
    CHECK(reserved == 2048 * 16);  // 1000 keys fit under 3/4 of 2048 slots
    for (std::uint32_t i = 0; i < 1000; ++i) t.insert_or_assign(v4_key(i, i), i);
    CHECK(t.memory_bytes() == reserved);  // no rehash up to the reserved count
    t.reserve(10);  // never shrinks
    CHECK(t.memory_bytes() == reserved);
    t.reserve(0, 100);
    CHECK(t.memory_bytes() == reserved + 256 * ca_table<std::uint32_t>::ipv6_slot_bytes);
    static_assert(ca_table<std::uint32_t>::ipv4_slot_bytes == 16);
    static_assert(ca_table<std::uint32_t>::ipv6_slot_bytes == 24);
    t.insert_or_assign(v6_key(3, 4, 5), 6);
    t.insert_or_assign(v4_key(~0u, ~0u), 7);

    ca_table<std::uint32_t> copy(t);
    CHECK(copy.size() == t.size());
    CHECK(copy.memory_bytes() == t.memory_bytes());
    CHECK(*copy.find(v4_key(5, 5)) == 5);
    CHECK(*copy.find(v6_key(3, 4, 5)) == 6);
    CHECK(*copy.find(v4_key(~0u, ~0u)) == 7);
    CHECK(copy.find(v4_key(5, 5)) != t.find(v4_key(5, 5)));  // its own storage
    copy.insert_or_assign(v4_key(5, 5), 55);
    CHECK(*t.find(v4_key(5, 5)) == 5);

    ca_table<std::uint32_t> moved(std::move(copy));
    CHECK(*moved.find(v4_key(5, 5)) == 55);
    copy = moved;  // assignment to a moved-from table
    CHECK(copy.size() == moved.size());
    CHECK(*copy.find(v4_key(~0u, ~0u)) == 7);
    copy = std::move(moved);
    CHECK(*copy.find(v4_key(5, 5)) == 55);

    t.clear();
    CHECK(t.size() == 0);
    CHECK(t.memory_bytes() == reserved + 256 * 24);  // clear keeps the arrays
    CHECK(t.find(v4_key(5, 5)) == nullptr);
    CHECK(t.find(v4_key(~0u, ~0u)) == nullptr);
    CHECK(t.find(v6_key(3, 4, 5)) == nullptr);
    CHECK(t.insert_or_assign(v4_key(5, 5), 1));
    CHECK(*t.find(v4_key(5, 5)) == 1);

    ca_table<std::uint32_t> r(100000);
    CHECK(r.memory_bytes() == (std::size_t{1} << 18) * 16);
    CHECK(r.size() == 0);
}

TEST_CASE("ca_table: other trivially copyable values") {
    struct record_ref {
        std::uint32_t index;
        std::uint16_t generation;
        std::uint8_t flags;
    };
    ca_table<record_ref> t;
    t.insert_or_assign(v4_key(1, 2), record_ref{3, 4, 5});
    t.insert_or_assign(v6_key(1, 2, 3), record_ref{6, 7, 8});
    CHECK(t.find(v4_key(1, 2))->generation == 4);
    CHECK(t.find(v6_key(1, 2, 3))->flags == 8);
    t.find(v4_key(1, 2))->generation = 40;  // in-place update through the non-const find
    CHECK(std::as_const(t).find(v4_key(1, 2))->generation == 40);
    static_assert(ca_table<record_ref>::ipv4_slot_bytes == 16);

    ca_table<std::uint64_t> w;
    w.insert_or_assign(v4_key(1, 2), ~0ull);
    CHECK(*w.find(v4_key(1, 2)) == ~0ull);
    static_assert(ca_table<std::uint64_t>::ipv4_slot_bytes == 16);

    ca_table<std::uint8_t> b;
    for (std::uint32_t i = 0; i < 300; ++i) b.insert_or_assign(v4_key(0, i), static_cast<std::uint8_t>(i));
    CHECK(*b.find(v4_key(0, 299)) == static_cast<std::uint8_t>(299));
}
