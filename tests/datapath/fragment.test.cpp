#include "nvgre/datapath/fragment.hpp"

#include "support/chained.hpp"
#include "support/frames.hpp"
#include "support/tcp_frames.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;

namespace {
/// Checks every fragment as a receiver would (RFC 815) and returns the reassembled data.
std::vector<std::byte> reassemble(const std::vector<std::vector<std::byte>>& fragments, std::size_t mtu,
                                  std::uint16_t id) {
    std::map<std::size_t, std::vector<std::byte>> pieces;
    bool saw_last = false;
    for (const auto& f : fragments) {
        const auto ip = std::span<const std::byte>(f).subspan(14);
        const std::size_t hlen = std::size_t{std::to_integer<std::uint8_t>(ip[0]) & 0x0fu} * 4;
        const std::size_t total = detail::load_be16(ip.data() + 2);
        CHECK(total == ip.size());
        CHECK(total <= mtu);
        CHECK(checksum::verify(ip.first(hlen)));
        CHECK(detail::load_be16(ip.data() + 4) == id);
        const std::uint16_t flags = detail::load_be16(ip.data() + 6);
        const bool more = (flags & 0x2000) != 0;
        CHECK((flags & 0x4000) == 0);
        if (more) CHECK((total - hlen) % 8 == 0);
        else saw_last = true;
        pieces[std::size_t{flags & 0x1fffu} * 8] = std::vector<std::byte>(ip.begin() + static_cast<std::ptrdiff_t>(hlen), ip.end());
    }
    CHECK(saw_last);
    std::vector<std::byte> data;
    for (const auto& [offset, bytes] : pieces) {
        CHECK(offset == data.size());  // no gap, no overlap
        data.insert(data.end(), bytes.begin(), bytes.end());
    }
    return data;
}
}  // namespace

TEST_CASE("datapath/fragment: an IPv4 packet without DF is cut into fragments that reassemble to it") {
    tcp_frame_spec s;
    s.protocol = 17;
    s.dont_fragment = false;
    s.payload_len = 4000;
    const auto original = tcp_frame(s);
    for (std::size_t mtu : {1458, 1280, 576, 68}) {
        CAPTURE(mtu);
        auto plan = plan_ipv4_fragments(original, mtu);
        REQUIRE(plan);
        vector_sink sink;
        std::vector<std::vector<std::byte>> fragments;
        const std::size_t made = fragment_ipv4(original, *plan, sink, 128, [&](frame& f) {
            CHECK(f.headroom() >= 128);
            fragments.emplace_back(f.bytes().begin(), f.bytes().end());
        });
        CHECK(made == plan->count);
        CHECK(fragments.size() == (4008 + ((mtu - 20) / 8 * 8) - 1) / ((mtu - 20) / 8 * 8));
        for (const auto& f : fragments) CHECK(std::equal(f.begin(), f.begin() + 14, original.begin()));  // Ethernet
        const auto data = reassemble(fragments, mtu, s.ip_id);
        CHECK(std::equal(data.begin(), data.end(), original.begin() + 34, original.end()));
        CHECK(data.size() == original.size() - 34);
    }
}

TEST_CASE("datapath/fragment: later fragments carry only the options with the copied flag") {
    tcp_frame_spec s;
    s.protocol = 17;
    s.dont_fragment = false;
    s.payload_len = 3000;
    auto base = tcp_frame(s);
    // Insert 12 bytes of options: record route (7, not copied, 7 bytes), NOP, a copied
    // option 0x94 (router alert, 4 bytes): IHL 8.
    const std::byte options[12] = {std::byte{7}, std::byte{7}, std::byte{4}, std::byte{0}, std::byte{0},
                                   std::byte{0}, std::byte{0}, std::byte{1}, std::byte{0x94}, std::byte{4},
                                   std::byte{0}, std::byte{0}};
    std::vector<std::byte> original(base.begin(), base.begin() + 34);
    original.insert(original.end(), std::begin(options), std::end(options));
    original.insert(original.end(), base.begin() + 34, base.end());
    original[14] = std::byte{0x48};
    detail::store_be16(original.data() + 16, static_cast<std::uint16_t>(original.size() - 14));
    detail::store_be16(original.data() + 24, 0);
    detail::store_be16(original.data() + 24, checksum::compute(std::span<const std::byte>(original).subspan(14, 32)));

    auto plan = plan_ipv4_fragments(original, 1000);
    REQUIRE(plan);
    CHECK(plan->header_len == 32);
    CHECK(plan->later_header_len == 24);
    vector_sink sink;
    std::vector<std::vector<std::byte>> fragments;
    fragment_ipv4(original, *plan, sink, 0, [&](frame& f) { fragments.emplace_back(f.bytes().begin(), f.bytes().end()); });
    REQUIRE(fragments.size() == plan->count);
    CHECK(std::equal(fragments[0].begin() + 34, fragments[0].begin() + 46, std::begin(options)));
    for (std::size_t k = 1; k < fragments.size(); ++k) {
        CHECK(std::to_integer<int>(fragments[k][14]) == 0x46);
        CHECK(std::to_integer<int>(fragments[k][34]) == 0x94);
        CHECK(std::to_integer<int>(fragments[k][36]) == 0);
    }
    const auto data = reassemble(fragments, 1000, s.ip_id);
    CHECK(std::equal(data.begin(), data.end(), original.begin() + 46, original.end()));
}

TEST_CASE("datapath/fragment: what is not fragmented, and a sink that runs dry") {
    tcp_frame_spec s;
    s.payload_len = 3000;
    const auto with_df = tcp_frame(s);
    CHECK(plan_ipv4_fragments(with_df, 1458).error().code == errc::bad_value);
    s.dont_fragment = false;
    const auto fits = tcp_frame(tcp_frame_spec{.payload_len = 100, .dont_fragment = false});
    CHECK(plan_ipv4_fragments(fits, 1458).error().code == errc::bad_value);
    const auto original = tcp_frame(s);
    CHECK(plan_ipv4_fragments(original, 20).error().code == errc::bad_value);
    CHECK(plan_ipv4_fragments(std::span<const std::byte>(original).first(30), 1458).error().code == errc::truncated);
    // A fragment whose data would end past byte 65535 of its datagram: its own fragments'
    // offsets could not be written in 13 bits (seen while writing the mtu fuzz target).
    auto far = original;
    nvgre::detail::store_be16(far.data() + 14 + 6, 0x1fff);  // offset 65528, MF clear
    nvgre::detail::store_be16(far.data() + 14 + 10, 0);
    nvgre::detail::store_be16(far.data() + 14 + 10, checksum::compute(std::span<const std::byte>(far).subspan(14, 20)));
    CHECK(plan_ipv4_fragments(far, 1458).error().code == errc::bad_length);
    auto plan = plan_ipv4_fragments(original, 1458);
    REQUIRE(plan);
    vector_sink dry;
    dry.limit = 1;
    int seen = 0;
    CHECK(fragment_ipv4(original, *plan, dry, 0, [&](frame&) { ++seen; }) == 1);
    CHECK(seen == 1);
}

TEST_CASE("datapath/fragment: a chained packet is cut into the fragments of the same packet in one buffer") {
    tcp_frame_spec s;
    s.protocol = 17;
    s.dont_fragment = false;
    s.payload_len = 9000;
    const auto original = tcp_frame(s);
    chained_buffer c(original, 257, {3, 1001});
    for (std::size_t mtu : {1458, 576}) {
        CAPTURE(mtu);
        auto whole = plan_ipv4_fragments(original, mtu);
        auto chained = plan_ipv4_fragments(c.f.bytes(), c.f.tail, mtu);
        REQUIRE(whole);
        REQUIRE(chained);
        vector_sink a, b;
        CHECK(fragment_ipv4(original, *whole, a, 0, [&](frame& f) { a.send(f, destination{}); }) == whole->count);
        CHECK(fragment_ipv4(c.f.bytes(), c.f.tail, *chained, b, 0, [&](frame& f) { b.send(f, destination{}); }) == whole->count);
        REQUIRE(a.out.size() == b.out.size());
        for (std::size_t k = 0; k < a.out.size(); ++k) CHECK(a.out[k].bytes == b.out[k].bytes);
    }
}
