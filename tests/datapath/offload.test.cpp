#include "nvgre/datapath/offload.hpp"

#include "support/chained.hpp"
#include "support/frames.hpp"
#include "support/tcp_frames.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;


TEST_CASE("datapath/offload: completing a partial checksum gives the full one") {
    std::mt19937 rng(7);
    for (int round = 0; round < 300; ++round) {
        tcp_frame_spec s;
        const bool v6 = rng() & 1;
        s.src = ip(v6 ? "fd00::5" : "10.0.0.5");
        s.dst = ip(v6 ? "fd00::6" : "10.0.0.6");
        s.protocol = (rng() & 1) ? 17 : 6;
        s.payload_len = rng() % 1500;
        const auto full = tcp_frame(s);
        buffer b(full);
        const std::size_t l4 = 14 + (v6 ? 40 : 20);
        const std::size_t field = s.protocol == 17 ? 6 : 16;
        detail::store_be16(b.f.bytes().data() + l4 + field,
                           checksum::fold(checksum::pseudo_header_sum(s.src, s.dst, s.protocol, static_cast<std::uint32_t>(full.size() - l4))));
        b.f.offload.checksum_partial = true;
        b.f.offload.checksum_start = static_cast<std::uint16_t>(l4);
        b.f.offload.checksum_offset = static_cast<std::uint16_t>(field);
        // The same frame chained after a first segment of 256+ bytes: the sum runs through the chain.
        const auto partial = b.bytes();
        const std::size_t first = std::max<std::size_t>(first_segment_bytes, rng() % (partial.size() + 1));
        chained_buffer c(partial, first, {static_cast<std::size_t>(rng() % 7), static_cast<std::size_t>(rng() % 300)});
        c.f.offload = b.f.offload;
        REQUIRE(complete_checksum(b.f, s.protocol == 17));
        CHECK_FALSE(b.f.offload.checksum_partial);
        CHECK(b.bytes() == full);
        CHECK(complete_checksum(b.f));  // nothing pending: a no-op
        CHECK(b.bytes() == full);
        REQUIRE(complete_checksum(c.f, s.protocol == 17));
        CHECK(c.bytes() == full);
    }
}

TEST_CASE("datapath/offload: metadata pointing outside the frame is refused, the frame unchanged") {
    const auto full = tcp_frame({});
    buffer b(full);
    b.f.offload.checksum_partial = true;
    b.f.offload.checksum_start = static_cast<std::uint16_t>(full.size() - 1);
    b.f.offload.checksum_offset = 0;
    CHECK(complete_checksum(b.f).error().code == errc::bad_value);
    b.f.offload.checksum_start = 40000;
    CHECK(complete_checksum(b.f).error().code == errc::bad_value);
    CHECK(b.bytes() == full);
    CHECK(b.f.offload.checksum_partial);
}

TEST_CASE("datapath/offload: local checksum offload predicts the sum of the completed packet") {
    std::mt19937 rng(11);
    for (int round = 0; round < 300; ++round) {
        tcp_frame_spec s;
        s.payload_len = rng() % 3000;
        s.protocol = (rng() & 1) ? 17 : 6;
        const auto full = tcp_frame(s);
        buffer b(full);
        const std::size_t l4 = 34;
        const std::size_t field = s.protocol == 17 ? 6 : 16;
        detail::store_be16(b.f.bytes().data() + l4 + field,
                           checksum::fold(checksum::pseudo_header_sum(s.src, s.dst, s.protocol, static_cast<std::uint32_t>(full.size() - l4))));
        b.f.offload.checksum_partial = true;
        b.f.offload.checksum_start = l4;
        b.f.offload.checksum_offset = static_cast<std::uint16_t>(field);
        // An outer checksum starting anywhere even in front of the inner L4 header (e.g. a GRE
        // header with C set): computed before completion, without reading the payload.
        const std::size_t outer_start = 2 * (rng() % 17);
        const std::uint32_t predicted = local_checksum_offload(b.f, outer_start);
        REQUIRE(complete_checksum(b.f, s.protocol == 17));
        const std::uint32_t actual = checksum::sum(b.f.bytes().subspan(outer_start));
        CHECK(checksum::finish(predicted) == checksum::finish(actual));
    }
}
