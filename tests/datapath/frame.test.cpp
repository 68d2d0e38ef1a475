#include "nvgre/datapath/frame.hpp"

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
