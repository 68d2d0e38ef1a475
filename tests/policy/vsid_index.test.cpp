#include "nvgre/policy/vsid_index.hpp"

#include <doctest/doctest.h>

#include <map>
#include <random>

using namespace nvgre::policy;

TEST_CASE("policy/vsid_index: an empty index finds nothing, whatever it is asked") {
    const vsid_index empty;
    CHECK(empty.size() == 0);
    CHECK(empty.find(5001) == nullptr);
    CHECK(empty.find(0) == nullptr);
    CHECK(empty.find(0xffffffffu) == nullptr);
}

TEST_CASE("policy/vsid_index: finds what a map finds, across growth, for any 32-bit question") {
    std::mt19937_64 rng(0x5001);
    vsid_index index;
    std::map<std::uint32_t, std::uint32_t> want;
    for (std::uint32_t i = 0; i < 5000; ++i) {
        // Dense runs (one tenant's subnets side by side) and scattered VSIDs, and replacements.
        const std::uint32_t vsid = i % 3 == 0 ? 4096 + i : static_cast<std::uint32_t>(rng() % 0x1000000);
        index.insert_or_assign(vsid, i);
        want[vsid] = i;
        if (i % 7 == 0) {
            index.insert_or_assign(vsid, i + 1);
            want[vsid] = i + 1;
        }
    }
    CHECK(index.size() == want.size());
    for (const auto& [vsid, value] : want) {
        const std::uint32_t* got = index.find(vsid);
        REQUIRE(got != nullptr);
        CHECK(*got == value);
    }
    for (int i = 0; i < 100000; ++i) {
        const auto q = static_cast<std::uint32_t>(rng());
        const std::uint32_t* got = index.find(q);
        const auto it = want.find(q);
        CHECK((got == nullptr) == (it == want.end()));
    }
    // Keys wider than a VSID are never stored, and never found (the free-slot marker included).
    index.insert_or_assign(0x1000000u, 1);
    index.insert_or_assign(0xffffffffu, 2);
    CHECK(index.size() == want.size());
    CHECK(index.find(0x1000000u) == nullptr);
    CHECK(index.find(0xffffffffu) == nullptr);
    CHECK(index.memory_bytes() >= 2 * index.size() * 8);
}
