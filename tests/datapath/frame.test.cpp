#include "nvgre/datapath/frame.hpp"

#include "support/chained.hpp"

#include <nvgre/checksum/ones_complement.hpp>

#include <doctest/doctest.h>

#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;

TEST_CASE("datapath/frame: headroom, push_front, pull_front, resize") {
    std::vector<std::byte> buf(100, std::byte{0xa5});
    frame f(buf, 40, 50);
    CHECK(f.size() == 50);
    CHECK(f.headroom() == 40);
    CHECK(f.tailroom() == 10);
    CHECK(f.bytes().data() == buf.data() + 40);

    auto h = f.push_front(42);
    CHECK_FALSE(h);
    CHECK(h.error().code == errc::no_headroom);
    CHECK(h.error().needed == 42);
    CHECK(f.size() == 50);  // unchanged on error

    auto g = f.push_front(40);
    REQUIRE(g);
    CHECK(g->data() == buf.data());
    CHECK(g->size() == 40);
    CHECK(f.size() == 90);
    CHECK(f.headroom() == 0);

    CHECK(f.pull_front(40));
    CHECK(f.size() == 50);
    CHECK(f.pull_front(51).error().code == errc::truncated);
    CHECK(f.resize(60));
    CHECK(f.tailroom() == 0);
    CHECK(f.resize(61).error().code == errc::no_space);
    CHECK(f.resize(10));
    CHECK(f.size() == 10);
    CHECK(f.pull_front(10));
    CHECK(f.size() == 0);
}

namespace {
struct owned { std::vector<std::byte> bytes = std::vector<std::byte>(64); std::size_t start = 16, len = 8; };
struct owned_adapter {
    static frame view(owned& o) { return frame(o.bytes, o.start, o.len); }
    static void commit(owned& o, const frame& f) { o.start = f.data_offset(); o.len = f.size(); }
};
struct not_an_adapter {
    static int view(owned&) { return 0; }
};
}  // namespace

TEST_CASE("datapath/frame: the adapter concept") {
    static_assert(frame_adapter<owned_adapter, owned>);
    static_assert(!frame_adapter<not_an_adapter, owned>);
    owned o;
    frame f = owned_adapter::view(o);
    REQUIRE(f.push_front(16));
    owned_adapter::commit(o, f);
    CHECK(o.start == 0);
    CHECK(o.len == 24);
}

TEST_CASE("datapath/frame: a chained frame's total size, cut short inside its chain or its first segment") {
    std::vector<std::byte> packet(1000);
    for (std::size_t i = 0; i < packet.size(); ++i) packet[i] = std::byte{static_cast<unsigned char>(i * 7)};
    test::chained_buffer b(packet, 300, {200, 1});
    frame& f = b.f;
    CHECK(f.is_chained());
    CHECK(f.size() == 300);
    CHECK(f.total_size() == 1000);
    CHECK(f.headers_in_first_segment());
    CHECK(test::chained_buffer::gathered(f) == packet);

    CHECK(f.set_total_size(1001).error().code == errc::bad_value);
    REQUIRE(f.set_total_size(900));  // padding cut in the chain
    CHECK(f.total_size() == 900);
    CHECK(f.size() == 300);
    CHECK(test::chained_buffer::gathered(f) == std::vector<std::byte>(packet.begin(), packet.begin() + 900));
    REQUIRE(f.pull_front(14));  // decap: the first segment starts later, the chain stays
    CHECK(f.total_size() == 886);
    REQUIRE(f.set_total_size(100));  // the packet now ends in the first segment: the chain goes
    CHECK_FALSE(f.is_chained());
    CHECK(f.size() == 100);

    // Fewer than first_segment_bytes in the first segment of a chained frame: not for the pipelines.
    test::chained_buffer short_first(packet, first_segment_bytes - 1);
    CHECK_FALSE(short_first.f.headers_in_first_segment());
    test::chained_buffer whole(packet, packet.size());
    CHECK_FALSE(whole.f.is_chained());
    CHECK(whole.f.headers_in_first_segment());
}

TEST_CASE("datapath/frame: copy_out and sum_from over the first segment and the chain") {
    std::vector<std::byte> packet(777);
    for (std::size_t i = 0; i < packet.size(); ++i) packet[i] = std::byte{static_cast<unsigned char>(i * 13 + 5)};
    for (std::size_t first : {std::size_t{0}, std::size_t{1}, std::size_t{255}, std::size_t{256}, std::size_t{777}}) {
        test::chained_buffer b(packet, first, {3, 100});
        for (std::size_t offset : {std::size_t{0}, std::size_t{1}, std::size_t{256}, std::size_t{500}, std::size_t{777}}) {
            CHECK(checksum::fold(sum_from(b.f, offset)) ==
                  checksum::fold(checksum::sum(std::span<const std::byte>(packet).subspan(offset))));
            std::vector<std::byte> out(packet.size() - offset);
            REQUIRE(copy_out(b.f, offset, out));
            CHECK(std::equal(out.begin(), out.end(), packet.begin() + static_cast<std::ptrdiff_t>(offset)));
        }
        std::vector<std::byte> too_many(10);
        CHECK_FALSE(copy_out(b.f, 770, too_many));
    }
}
