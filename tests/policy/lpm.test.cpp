// lpm_table against references: a naive linear scan (longest containing prefix wins) for
// small and medium sets, and per-length exact probes (longest length first) for the 100K set,
// where a linear scan per lookup would take minutes. Random sets are clustered so that nesting
// is common; every random test has a fixed seed.
#include "nvgre/policy/lpm.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

using namespace nvgre;
using nvgre::policy::lpm_table;

namespace {

ip_prefix pfx(const char* text) { return ip_prefix::parse(text).value(); }
ipv4_address v4(const char* text) { return ipv4_address::parse(text).value(); }
ipv6_address v6(const char* text) { return ipv6_address::parse(text).value(); }

template <class V>
std::uint32_t get(const V* p) {
    return p == nullptr ? 0 : *p;
}

// An address as 128 bits (IPv4 in the high 32 bits of hi), for masking in the references.
struct bits128 {
    std::uint64_t hi{0}, lo{0};
    friend bool operator==(const bits128&, const bits128&) = default;
};

bits128 to_bits(const ip_address& a) {
    bits128 b;
    const auto o = a.octets();
    for (std::size_t i = 0; i < o.size(); ++i) {
        if (i < 8) b.hi |= std::uint64_t{o[i]} << (56 - 8 * i);
        else b.lo |= std::uint64_t{o[i]} << (56 - 8 * (i - 8));
    }
    return b;
}

ip_address from_bits(const bits128& b, bool is_v4) {
    if (is_v4) return ipv4_address::from_uint(static_cast<std::uint32_t>(b.hi >> 32));
    std::array<std::uint8_t, 16> o{};
    for (std::size_t i = 0; i < 8; ++i) {
        o[i] = static_cast<std::uint8_t>(b.hi >> (56 - 8 * i));
        o[8 + i] = static_cast<std::uint8_t>(b.lo >> (56 - 8 * i));
    }
    return ipv6_address{o};
}

bits128 mask_bits(bits128 b, unsigned len) {
    if (len == 0) return {};
    if (len < 64) return {b.hi & (~std::uint64_t{0} << (64 - len)), 0};
    if (len == 64) return {b.hi, 0};
    if (len < 128) return {b.hi, b.lo & (~std::uint64_t{0} << (128 - len))};
    return b;
}

// The obviously-correct reference: every prefix, scanned.
struct linear_ref {
    std::map<ip_prefix, std::uint32_t> routes;

    std::uint32_t lookup(const ip_address& a) const {
        const ip_prefix* best = nullptr;
        std::uint32_t v = 0;
        for (const auto& [p, val] : routes)
            if (p.contains(a) && (best == nullptr || p.length() > best->length())) {
                best = &p;
                v = val;
            }
        return v;
    }
};

// A faster reference for large sets: exact hash probes from the longest length down.
struct probe_ref {
    struct key {
        bits128 b;
        unsigned len;
        bool is_v4;
        friend bool operator==(const key&, const key&) = default;
    };
    struct key_hash {
        std::size_t operator()(const key& k) const noexcept {
            return std::hash<std::uint64_t>{}(k.b.hi * 31 + k.b.lo * 0x9e3779b97f4a7c15u + k.len * 2 + k.is_v4);
        }
    };
    std::unordered_map<key, std::uint32_t, key_hash> routes;

    static key key_of(const ip_prefix& p) { return {to_bits(p.address()), p.length(), p.address().is_v4()}; }
    void set(const ip_prefix& p, std::uint32_t v) { routes[key_of(p)] = v; }
    void erase(const ip_prefix& p) { routes.erase(key_of(p)); }

    std::uint32_t lookup(const ip_address& a) const {
        const bits128 b = to_bits(a);
        for (unsigned len = a.is_v4() ? 32 : 128;; --len) {
            const auto it = routes.find(key{mask_bits(b, len), len, a.is_v4()});
            if (it != routes.end()) return it->second;
            if (len == 0) return 0;
        }
    }
};

// Clustered random prefixes: a few cluster bases, and half of all new prefixes derived from
// an existing one (longer or shorter), so nesting is the rule rather than the exception.
struct generator {
    std::mt19937_64 rng;
    bool is_v4;
    std::vector<bits128> bases;
    std::vector<ip_prefix> made;

    generator(std::uint64_t seed, bool v4_family, std::size_t clusters = 8) : rng(seed), is_v4(v4_family) {
        for (std::size_t i = 0; i < clusters; ++i) bases.push_back(random_bits());
    }
    unsigned max_len() const { return is_v4 ? 32 : 128; }
    bits128 random_bits() {
        bits128 b{rng(), rng()};
        if (is_v4) b = {b.hi & 0xffffffff00000000u, 0};
        return b;
    }
    unsigned uniform(unsigned lo, unsigned hi) { return std::uniform_int_distribution<unsigned>(lo, hi)(rng); }
    // Bits [0, keep) from `base`, the rest random.
    bits128 mix(const bits128& base, unsigned keep) {
        const bits128 r = random_bits();
        const bits128 m = mask_bits({~std::uint64_t{0}, ~std::uint64_t{0}}, keep);
        bits128 out{(base.hi & m.hi) | (r.hi & ~m.hi), (base.lo & m.lo) | (r.lo & ~m.lo)};
        if (is_v4) out = {out.hi & 0xffffffff00000000u, 0};
        return out;
    }
    unsigned random_len() {
        // Mostly the lengths routes have (IPv4 /8../32, IPv6 /16../64 and /128), all possible.
        const unsigned r = uniform(0, 9);
        if (r == 0) return uniform(0, max_len());
        if (is_v4) return r < 6 ? uniform(16, 24) : uniform(8, 32);
        return r < 4 ? uniform(32, 64) : r < 6 ? 128 : uniform(16, 128);
    }
    ip_prefix make(const bits128& b, unsigned len) {
        return ip_prefix::containing(from_bits(b, is_v4), len).value();
    }
    ip_prefix next() {
        ip_prefix p;
        if (!made.empty() && uniform(0, 1) == 0) {
            const ip_prefix& from = made[uniform(0, static_cast<unsigned>(made.size() - 1))];
            const unsigned len = uniform(0, 2) == 0 ? uniform(0, from.length()) : uniform(from.length(), max_len());
            p = make(mix(to_bits(from.address()), from.length()), len);
        } else {
            const bits128& base = bases[uniform(0, static_cast<unsigned>(bases.size() - 1))];
            p = make(mix(base, uniform(0, max_len() / 2)), random_len());
        }
        made.push_back(p);
        return p;
    }
    // Mostly inside a made prefix (random host bits), sometimes near a base, sometimes anywhere.
    ip_address address() {
        const unsigned r = uniform(0, 9);
        if (r < 7 && !made.empty()) {
            const ip_prefix& p = made[uniform(0, static_cast<unsigned>(made.size() - 1))];
            return from_bits(mix(to_bits(p.address()), p.length()), is_v4);
        }
        if (r < 9) return from_bits(mix(bases[uniform(0, static_cast<unsigned>(bases.size() - 1))], 16), is_v4);
        return from_bits(random_bits(), is_v4);
    }
};

template <class Ref>
void check_lookups(const lpm_table<std::uint32_t>& t, const Ref& ref, generator& g, std::size_t n) {
    std::size_t mismatches = 0, hits = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const ip_address a = g.address();
        const std::uint32_t want = ref.lookup(a);
        const std::uint32_t got = get(t.lookup(a));
        const std::uint32_t got_typed = a.is_v4() ? get(t.lookup(a.v4())) : get(t.lookup(a.v6()));
        hits += want != 0;
        if (got != want || got_typed != want) {
            if (++mismatches <= 5) {
                CAPTURE(a.to_string());
                CHECK(got == want);
                CHECK(got_typed == want);
            }
        }
    }
    CHECK(mismatches == 0);
    if (n >= 100) CHECK(hits > 0);
}

// Random inserts, assigns and erases on a table and a linear reference, checked as it goes.
void churn_against_linear(std::uint64_t seed, bool is_v4, std::size_t target, std::size_t ops) {
    generator g(seed, is_v4);
    lpm_table<std::uint32_t> t;
    linear_ref ref;
    std::uint32_t next_value = 1;
    for (std::size_t op = 0; op < ops; ++op) {
        const bool grow = ref.routes.size() < target || g.uniform(0, 2) != 0;
        if (grow || ref.routes.empty()) {
            const ip_prefix p = g.next();
            const bool is_new = !ref.routes.contains(p);
            ref.routes[p] = next_value;
            CHECK(t.insert_or_assign(p, next_value) == is_new);
            ++next_value;
        } else {
            auto it = ref.routes.begin();
            std::advance(it, g.uniform(0, static_cast<unsigned>(ref.routes.size() - 1)));
            const ip_prefix p = it->first;
            ref.routes.erase(it);
            CHECK(t.erase(p));
            CHECK_FALSE(t.erase(p));
            CHECK(t.exact(p) == nullptr);
        }
        REQUIRE(t.size() == ref.routes.size());
        if (op % 16 == 0) check_lookups(t, ref, g, 20);
    }
    check_lookups(t, ref, g, 2000);
    for (const auto& [p, v] : ref.routes) REQUIRE(get(t.exact(p)) == v);
}

}  // namespace

TEST_CASE("lpm: an empty table matches nothing") {
    lpm_table<std::uint32_t> t;
    CHECK(t.size() == 0);
    CHECK(t.empty());
    CHECK(t.lookup(v4("10.0.0.1")) == nullptr);
    CHECK(t.lookup(v6("2001:db8::1")) == nullptr);
    CHECK(t.lookup(ip_address{v4("0.0.0.0")}) == nullptr);
    CHECK(t.exact(pfx("0.0.0.0/0")) == nullptr);
    CHECK_FALSE(t.erase(pfx("10.0.0.0/8")));
    int calls = 0;
    t.for_each([&](const ip_prefix&, const std::uint32_t&) { ++calls; });
    CHECK(calls == 0);
    CHECK(t.memory_bytes() < 1024);
}

TEST_CASE("lpm: overlapping prefixes, the longest wins, and insert/assign/erase results") {
    lpm_table<std::uint32_t> t;
    CHECK(t.insert_or_assign(pfx("10.0.0.0/8"), 8));
    CHECK(t.insert_or_assign(pfx("10.1.0.0/16"), 16));
    CHECK(t.insert_or_assign(pfx("10.1.2.0/24"), 24));
    CHECK(t.insert_or_assign(pfx("10.1.2.3/32"), 32));
    CHECK_FALSE(t.insert_or_assign(pfx("10.1.0.0/16"), 160));
    CHECK(t.size() == 4);
    CHECK(get(t.lookup(v4("10.1.2.3"))) == 32);
    CHECK(get(t.lookup(v4("10.1.2.4"))) == 24);
    CHECK(get(t.lookup(v4("10.1.3.4"))) == 160);
    CHECK(get(t.lookup(v4("10.2.3.4"))) == 8);
    CHECK(t.lookup(v4("11.0.0.0")) == nullptr);
    CHECK(t.erase(pfx("10.1.2.0/24")));
    CHECK_FALSE(t.erase(pfx("10.1.2.0/24")));
    CHECK(get(t.lookup(v4("10.1.2.4"))) == 160);
    CHECK(get(t.lookup(v4("10.1.2.3"))) == 32);
    CHECK(t.size() == 3);
}

TEST_CASE("lpm: exact() finds only that prefix") {
    lpm_table<std::uint32_t> t;
    t.insert_or_assign(pfx("10.0.0.0/8"), 1);
    t.insert_or_assign(pfx("10.0.0.0/16"), 2);
    t.insert_or_assign(pfx("2001:db8::/32"), 3);
    CHECK(get(t.exact(pfx("10.0.0.0/8"))) == 1);
    CHECK(get(t.exact(pfx("10.0.0.0/16"))) == 2);
    CHECK(t.exact(pfx("10.0.0.0/24")) == nullptr);
    CHECK(t.exact(pfx("10.0.0.0/9")) == nullptr);
    CHECK(get(t.exact(pfx("2001:db8::/32"))) == 3);
    CHECK(t.exact(pfx("2001:db8::/33")) == nullptr);
    CHECK(t.exact(pfx("::/0")) == nullptr);
}

TEST_CASE("lpm: default routes and host routes, per family") {
    for (const std::size_t filler : {std::size_t{0}, std::size_t{5000}}) {  // small form and trie
        CAPTURE(filler);
        lpm_table<std::uint32_t> t;
        for (std::size_t i = 0; i < filler; ++i) {
            t.insert_or_assign(ip_prefix::make(ipv4_address::from_uint(0xc0000000u + (static_cast<std::uint32_t>(i) << 8)), 24).value(), 7);
            std::array<std::uint16_t, 8> g{0xfd00, static_cast<std::uint16_t>(i), 0, 0, 0, 0, 0, 0};
            t.insert_or_assign(ip_prefix::make(ipv6_address::from_groups(g), 48).value(), 7);
        }
        t.insert_or_assign(pfx("0.0.0.0/0"), 4);
        CHECK(get(t.lookup(v4("1.2.3.4"))) == 4);
        CHECK(get(t.lookup(v4("255.255.255.255"))) == 4);
        CHECK(t.lookup(v6("2001:db8::1")) == nullptr);
        t.insert_or_assign(pfx("::/0"), 6);
        CHECK(get(t.lookup(v6("2001:db8::1"))) == 6);
        CHECK(get(t.lookup(v6("::"))) == 6);
        t.insert_or_assign(pfx("10.9.8.7/32"), 32);
        t.insert_or_assign(pfx("2001:db8::7/128"), 128);
        CHECK(get(t.lookup(v4("10.9.8.7"))) == 32);
        CHECK(get(t.lookup(v4("10.9.8.6"))) == 4);
        CHECK(get(t.lookup(v4("10.9.8.8"))) == 4);
        CHECK(get(t.lookup(v6("2001:db8::7"))) == 128);
        CHECK(get(t.lookup(v6("2001:db8::6"))) == 6);
        CHECK(get(t.lookup(v6("2001:db8::8"))) == 6);
        CHECK(get(t.lookup(v6("2001:db9::7"))) == 6);
        CHECK(t.erase(pfx("0.0.0.0/0")));
        CHECK(t.lookup(v4("1.2.3.4")) == nullptr);
        CHECK(get(t.lookup(v4("10.9.8.7"))) == 32);
        CHECK(get(t.lookup(v6("2001:db8::1"))) == 6);
        CHECK(t.erase(pfx("::/0")));
        CHECK(t.lookup(v6("2001:db8::1")) == nullptr);
        CHECK(get(t.lookup(v6("2001:db8::7"))) == 128);
        if (filler != 0) {
            CHECK(get(t.lookup(v4("192.0.3.1"))) == 7);
            CHECK(get(t.lookup(v6("fd00:3::1"))) == 7);
        }
    }
}

TEST_CASE("lpm: IPv4 and IPv6 never match each other") {
    lpm_table<std::uint32_t> t;
    t.insert_or_assign(pfx("10.0.0.0/8"), 4);
    t.insert_or_assign(pfx("0.0.0.0/0"), 40);
    // IPv4-mapped and IPv4-compatible IPv6 addresses are IPv6: no IPv4 prefix matches them.
    CHECK(t.lookup(v6("::ffff:10.0.0.1")) == nullptr);
    CHECK(t.lookup(ip_address{v6("::ffff:10.0.0.1")}) == nullptr);
    CHECK(t.lookup(v6("::10.0.0.1")) == nullptr);
    t.insert_or_assign(pfx("::ffff:0:0/96"), 6);
    CHECK(get(t.lookup(v6("::ffff:10.0.0.1"))) == 6);
    CHECK(get(t.lookup(v4("10.0.0.1"))) == 4);
    // The same leading octets in both families stay apart; so do the two /0s.
    t.insert_or_assign(pfx("a00::/8"), 66);
    CHECK(get(t.lookup(v4("10.0.0.1"))) == 4);
    CHECK(get(t.lookup(v6("a00::1"))) == 66);
    CHECK(t.erase(pfx("10.0.0.0/8")));
    CHECK(get(t.lookup(v4("10.0.0.1"))) == 40);
    CHECK(t.lookup(v6("b00::1")) == nullptr);
    CHECK(t.size_v4() == 1);
    CHECK(t.size_v6() == 2);
}

TEST_CASE("lpm: small tables stay small") {
    lpm_table<std::uint32_t> t;
    t.insert_or_assign(pfx("10.0.0.0/24"), 1);
    t.insert_or_assign(pfx("10.0.1.0/24"), 2);
    t.insert_or_assign(pfx("2001:db8::/64"), 3);
    CHECK(t.structure(ip_version::v4) == 0);
    CHECK(t.memory_bytes() < 1024);
    MESSAGE("3 prefixes: " << t.memory_bytes() << " bytes");
}

TEST_CASE("lpm: random sets below the small threshold, against a linear scan") {
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
        CAPTURE(seed);
        churn_against_linear(seed, seed % 2 == 0, 20, 300);
    }
}

TEST_CASE("lpm: random sets crossing the trie thresholds, against a linear scan") {
    SUBCASE("IPv4, small <-> 8-bit root") { churn_against_linear(11, true, 300, 1200); }
    SUBCASE("IPv6, small <-> 8-bit root") { churn_against_linear(12, false, 300, 1200); }
    SUBCASE("IPv4 mixed with IPv6 in one table") {
        generator g4(13, true), g6(14, false);
        lpm_table<std::uint32_t> t;
        linear_ref ref;
        std::uint32_t v = 1;
        for (int i = 0; i < 400; ++i, ++v) {
            const ip_prefix p = i % 3 == 0 ? g6.next() : g4.next();
            ref.routes[p] = v;
            t.insert_or_assign(p, v);
        }
        check_lookups(t, ref, g4, 1000);
        check_lookups(t, ref, g6, 1000);
    }
}

TEST_CASE("lpm: the structure follows the size, with hysteresis, and frees its memory") {
    lpm_table<std::uint32_t> t;
    generator g(21, true);
    probe_ref ref;
    std::vector<ip_prefix> order;
    while (order.size() < 3000) {
        const ip_prefix p = g.next();
        if (t.exact(p) != nullptr) continue;  // keep the first value, as the reference does
        CHECK(t.insert_or_assign(p, static_cast<std::uint32_t>(order.size() + 1)));
        ref.set(p, static_cast<std::uint32_t>(order.size() + 1));
        order.push_back(p);
        if (order.size() == 32) CHECK(t.structure(ip_version::v4) == 0);
        if (order.size() == 33) CHECK(t.structure(ip_version::v4) == 8);
        if (order.size() == 2047) CHECK(t.structure(ip_version::v4) == 8);
        if (order.size() == 2048) CHECK(t.structure(ip_version::v4) == 16);
    }
    check_lookups(t, ref, g, 3000);
    const std::size_t peak = t.memory_bytes();
    std::shuffle(order.begin(), order.end(), g.rng);
    while (!order.empty()) {
        CHECK(t.erase(order.back()));
        ref.erase(order.back());
        order.pop_back();
        if (order.size() == 1024) CHECK(t.structure(ip_version::v4) == 16);
        if (order.size() == 1023) CHECK(t.structure(ip_version::v4) == 8);
        if (order.size() == 16) CHECK(t.structure(ip_version::v4) == 8);
        if (order.size() == 15) CHECK(t.structure(ip_version::v4) == 0);
        if (order.size() % 257 == 0 && !order.empty()) check_lookups(t, ref, g, 200);
    }
    CHECK(t.size() == 0);
    CHECK(t.lookup(v4("10.0.0.1")) == nullptr);
    CHECK(t.memory_bytes() < peak);
    t.clear();
    CHECK(t.memory_bytes() < 1024);
}

TEST_CASE("lpm: 100K IPv4 prefixes, 200K lookups, then churn (fixed seed)") {
    generator g(0x5eed, true, 64);
    lpm_table<std::uint32_t> t;
    probe_ref ref;
    std::vector<ip_prefix> present;
    std::uint32_t v = 1;
    while (t.size() < 100'000) {
        const ip_prefix p = g.next();
        if (t.insert_or_assign(p, v)) present.push_back(p);
        ref.set(p, v++);
    }
    CHECK(t.structure(ip_version::v4) == 16);
    check_lookups(t, ref, g, 200'000);
    MESSAGE("100K IPv4: " << t.memory_bytes() / t.size() << " bytes/prefix");

    // Churn: erase and insert at random, including short prefixes that cover many blocks.
    for (int op = 0; op < 20'000; ++op) {
        if (g.uniform(0, 1) == 0) {
            const std::size_t i = g.uniform(0, static_cast<unsigned>(present.size() - 1));
            CHECK(t.erase(present[i]));
            ref.erase(present[i]);
            present[i] = present.back();
            present.pop_back();
        } else {
            const ip_prefix p = g.next();
            if (t.insert_or_assign(p, v)) present.push_back(p);
            ref.set(p, v++);
        }
    }
    CHECK(t.size() == ref.routes.size());
    check_lookups(t, ref, g, 50'000);
    std::size_t visited = 0, wrong = 0;
    t.for_each([&](const ip_prefix& p, const std::uint32_t& value) {
        ++visited;
        const auto it = ref.routes.find(probe_ref::key_of(p));
        wrong += it == ref.routes.end() || it->second != value;
    });
    CHECK(visited == ref.routes.size());
    CHECK(wrong == 0);
}

TEST_CASE("lpm: 20K IPv6 prefixes of every length, lookups and churn (fixed seed)") {
    generator g(0x6eed, false, 16);
    lpm_table<std::uint32_t> t;
    probe_ref ref;
    std::vector<ip_prefix> present;
    std::uint32_t v = 1;
    while (t.size() < 20'000) {
        const ip_prefix p = g.next();
        if (t.insert_or_assign(p, v)) present.push_back(p);
        ref.set(p, v++);
    }
    CHECK(t.structure(ip_version::v6) == 16);
    check_lookups(t, ref, g, 30'000);
    MESSAGE("20K IPv6: " << t.memory_bytes() / t.size() << " bytes/prefix");
    for (int op = 0; op < 10'000; ++op) {
        if (g.uniform(0, 1) == 0) {
            const std::size_t i = g.uniform(0, static_cast<unsigned>(present.size() - 1));
            CHECK(t.erase(present[i]));
            ref.erase(present[i]);
            present[i] = present.back();
            present.pop_back();
        } else {
            const ip_prefix p = g.next();
            if (t.insert_or_assign(p, v)) present.push_back(p);
            ref.set(p, v++);
        }
    }
    check_lookups(t, ref, g, 20'000);
}

TEST_CASE("lpm: path compression keeps isolated long prefixes cheap, and erase frees blocks") {
    lpm_table<std::uint32_t> t;
    for (std::uint16_t i = 0; i < 64; ++i)  // a trie
        t.insert_or_assign(ip_prefix::make(ipv6_address::from_groups({0x2001, 0xdb8, i, 0, 0, 0, 0, 0}), 48).value(), 1);
    const std::size_t before = t.memory_bytes();
    // 200 scattered host routes under one /48: each adds at most two blocks (~2 KiB).
    std::mt19937_64 rng(5);
    std::vector<ip_prefix> hosts;
    for (int i = 0; i < 200; ++i) {
        const auto a = ipv6_address::from_groups({0x2001, 0xdb8, 7, static_cast<std::uint16_t>(rng()),
                                                  static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng()),
                                                  static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng())});
        hosts.push_back(ip_prefix::make(a, 128).value());
        t.insert_or_assign(hosts.back(), 1000 + static_cast<std::uint32_t>(i));
    }
    const std::size_t grown = t.memory_bytes() - before;
    MESSAGE("200 scattered /128s: " << grown / 200 << " bytes each");
    CHECK(grown / 200 < 5000);
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        CHECK(get(t.lookup(hosts[i].address())) == 1000 + i);
        // One bit off in the last octet: the /48 (the skipped octets miss).
        auto o = hosts[i].address().v6().octets();
        o[15] ^= 1;
        CHECK(get(t.lookup(ipv6_address{o})) == 1);
        o[9] ^= 0x40;
        CHECK(get(t.lookup(ipv6_address{o})) == 1);
    }
    // Blocks are reused after erase: a second round costs no new memory.
    for (const auto& h : hosts) CHECK(t.erase(h));
    const std::size_t after_erase = t.memory_bytes();
    for (std::size_t i = 0; i < hosts.size(); ++i) t.insert_or_assign(hosts[i], 7);
    for (const auto& h : hosts) t.erase(h);
    CHECK(t.memory_bytes() == after_erase);
    CHECK(get(t.lookup(hosts[0].address())) == 1);
}

TEST_CASE("lpm: lookup_batch agrees with lookup") {
    for (const std::size_t n : {std::size_t{10}, std::size_t{5000}}) {
        CAPTURE(n);
        generator g4(31, true), g6(32, false);
        lpm_table<std::uint32_t> t;
        std::uint32_t v = 1;
        while (t.size_v4() < n) t.insert_or_assign(g4.next(), v++);
        while (t.size_v6() < n) t.insert_or_assign(g6.next(), v++);
        std::vector<ipv4_address> a4;
        std::vector<ipv6_address> a6;
        for (int i = 0; i < 1000; ++i) {  // not a multiple of the 32-address chunk
            a4.push_back(g4.address().v4());
            a6.push_back(g6.address().v6());
        }
        a4.resize(999);
        std::vector<const std::uint32_t*> out(a6.size(), nullptr);
        t.lookup_batch(std::span<const ipv4_address>(a4), std::span<const std::uint32_t*>(out));
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < a4.size(); ++i) wrong += out[i] != t.lookup(a4[i]);
        CHECK(out[999] == nullptr);
        t.lookup_batch(std::span<const ipv6_address>(a6), std::span<const std::uint32_t*>(out));
        for (std::size_t i = 0; i < a6.size(); ++i) wrong += out[i] != t.lookup(a6[i]);
        CHECK(wrong == 0);
    }
}

TEST_CASE("lpm: copies are independent, and clear() empties") {
    lpm_table<std::uint32_t> a;
    generator g(41, true);
    for (int i = 0; i < 500; ++i) a.insert_or_assign(g.next(), static_cast<std::uint32_t>(i + 1));
    a.insert_or_assign(pfx("10.0.0.0/8"), 8);
    lpm_table<std::uint32_t> b = a;
    b.insert_or_assign(pfx("10.1.0.0/16"), 16);
    b.erase(pfx("10.0.0.0/8"));
    CHECK(get(a.lookup(v4("10.1.0.1"))) == 8);
    CHECK(get(b.lookup(v4("10.1.0.1"))) == 16);
    a.clear();
    CHECK(a.size() == 0);
    CHECK(a.lookup(v4("10.1.0.1")) == nullptr);
    CHECK(a.insert_or_assign(pfx("10.0.0.0/8"), 9));
    CHECK(get(a.lookup(v4("10.1.0.1"))) == 9);
}

namespace {
struct route_value {  // what policy/state.hpp stores: trivially copyable, with a const member
    const std::uint32_t vsid;
    ip_address next_hop;
};
}  // namespace

TEST_CASE("lpm: any trivially copyable value, even one that is not assignable") {
    lpm_table<route_value> t;
    CHECK(t.insert_or_assign(pfx("10.0.0.0/8"), route_value{5000, ip_address{v4("10.0.0.1")}}));
    CHECK_FALSE(t.insert_or_assign(pfx("10.0.0.0/8"), route_value{6000, ip_address{v4("10.0.0.2")}}));
    const route_value* r = t.lookup(v4("10.2.3.4"));
    REQUIRE(r != nullptr);
    CHECK(r->vsid == 6000);
    CHECK(r->next_hop == ip_address{v4("10.0.0.2")});
}
