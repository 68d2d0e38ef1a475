#include "support/chained.hpp"

#include <nvgre/chain.hpp>
#include <nvgre/checksum/ones_complement.hpp>

#include <doctest/doctest.h>

#include <random>
#include <vector>

using namespace nvgre;
using nvgre::test::chain_node;
using nvgre::test::chain_storage;

namespace {
std::vector<std::byte> random_bytes(std::mt19937_64& rng, std::size_t n) {
    std::vector<std::byte> b(n);
    for (auto& x : b) x = std::byte{static_cast<unsigned char>(rng())};
    return b;
}
std::vector<std::size_t> random_cuts(std::mt19937_64& rng, std::size_t n) {
    std::vector<std::size_t> cuts;
    for (std::size_t left = n, k = rng() % 5; k > 0 && left > 0; --k) {
        const std::size_t c = rng() % (left + 1);  // zero-length segments too
        cuts.push_back(c);
        left -= c;
    }
    return cuts;
}
}  // namespace

TEST_CASE("chain: an empty chain holds nothing and walks nowhere") {
    const chain c;
    CHECK(c.empty());
    CHECK(c.length() == 0);
    CHECK(c.for_each(0, 0, [](std::span<const std::byte>) { FAIL("no piece"); }));
    CHECK_FALSE(c.for_each(0, 1, [](std::span<const std::byte>) {}));
    CHECK(c.sum(0, 0, false) == 0);
    // A length without a head or a walker is no chain.
    CHECK(chain(nullptr, &chain_node::walk, 100).length() == 0);
}

TEST_CASE("chain: copy_out and sum over random segmentations equal the bytes in one piece") {
    std::mt19937_64 rng(0xc4a1);
    for (int round = 0; round < 2000; ++round) {
        const auto bytes = random_bytes(rng, rng() % 300);
        const auto cuts = random_cuts(rng, bytes.size());
        chain_storage st;
        const chain c = st.make(bytes, cuts);
        REQUIRE(c.length() == bytes.size());
        const std::size_t offset = rng() % (bytes.size() + 1);
        const std::size_t n = rng() % (bytes.size() - offset + 1);
        std::vector<std::byte> out(n);
        REQUIRE(c.copy_out(offset, out));
        CHECK(std::equal(out.begin(), out.end(), bytes.begin() + static_cast<std::ptrdiff_t>(offset)));
        // The sum of a range, at an even or an odd position of a longer sum.
        const std::span<const std::byte> range(bytes.data() + offset, n);
        CHECK(checksum::fold(c.sum(offset, n, false)) == checksum::fold(checksum::sum(range)));
        std::vector<std::byte> shifted{std::byte{0x5c}};
        shifted.insert(shifted.end(), range.begin(), range.end());
        const std::uint32_t odd = checksum::combine(checksum::fold(checksum::sum(std::span<const std::byte>(shifted).first(1))),
                                                    c.sum(offset, n, true));
        CHECK(checksum::fold(odd) == checksum::fold(checksum::sum(shifted)));
        // Packet-level: a first segment, then the chain.
        const std::size_t first_len = rng() % 40;
        const auto first = random_bytes(rng, first_len);
        std::vector<std::byte> whole = first;
        whole.insert(whole.end(), bytes.begin(), bytes.end());
        const std::size_t from = rng() % (whole.size() + 1);
        CHECK(checksum::fold(sum_range(first, c, from, whole.size())) ==
              checksum::fold(checksum::sum(std::span<const std::byte>(whole).subspan(from))));
        std::vector<std::byte> all(whole.size() - from);
        REQUIRE(copy_out(first, c, from, all));
        CHECK(std::equal(all.begin(), all.end(), whole.begin() + static_cast<std::ptrdiff_t>(from)));
    }
}

TEST_CASE("chain: ranges past the end, a trimmed chain, a chain shorter than it claims, a cyclic chain") {
    std::vector<std::byte> bytes(100, std::byte{1});
    chain_storage st;
    const std::size_t cuts[] = {30, 30};
    chain c = st.make(bytes, cuts);
    std::vector<std::byte> out(10);
    CHECK_FALSE(c.copy_out(95, out));  // past the end: refused before anything is read
    CHECK_FALSE(c.copy_out(101, std::span<std::byte>(out).first(0)));
    c.trim(50);
    CHECK(c.length() == 50);
    CHECK_FALSE(c.copy_out(45, out));
    CHECK(c.copy_out(40, out));
    c.trim(80);  // trimming never grows it
    CHECK(c.length() == 50);

    // The embedder's segments hold fewer bytes than the length it gave: the walk ends, false.
    const chain liar(c.head(), c.walker(), 500);
    std::vector<std::byte> big(200);
    CHECK_FALSE(liar.copy_out(0, big));
    CHECK(liar.sum(0, 200, false) == 0);

    // A cycle of empty segments is walked max_chain_segments times at most.
    std::byte none[1];
    chain_node loop{std::span<std::byte>(none, 0), nullptr};
    loop.next = &loop;
    const chain cyclic(&loop, &chain_node::walk, 10);
    CHECK_FALSE(cyclic.copy_out(0, std::span<std::byte>(out).first(5)));
}
