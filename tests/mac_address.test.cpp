#include "nvgre/mac_address.hpp"

#include <doctest/doctest.h>

using namespace nvgre;

TEST_CASE("mac_address: parse both separator styles, any case") {
    const mac_address expected{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x05}};
    CHECK(*mac_address::parse("00:15:5d:00:00:05") == expected);
    CHECK(*mac_address::parse("00-15-5D-00-00-05") == expected);
    CHECK(mac_address::parse("00:15:5D:00:00:05")->to_string() == "00:15:5d:00:00:05");
}

TEST_CASE("mac_address: malformed text names the offending offset") {
    struct bad { const char* text; std::uint32_t offset; };
    for (auto [text, offset] : {bad{"", 0}, bad{"00:15:5d:00:00", 14}, bad{"00:15:5d:00:00:05:", 17},
                                bad{"00:15-5d:00:00:05", 5}, bad{"0g:15:5d:00:00:05", 1},
                                bad{"00.15.5d.00.00.05", 2}, bad{"00:15:5d:00:00:x5", 15}}) {
        auto r = mac_address::parse(text);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::syntax);
        CHECK(r.error().where == layer::text);
        CHECK(r.error().offset == offset);
    }
}

TEST_CASE("mac_address: classification and bytes") {
    CHECK(mac_address::broadcast().is_broadcast());
    CHECK(mac_address::broadcast().is_multicast());
    CHECK(mac_address::parse("33:33:00:00:00:01")->is_multicast());
    CHECK(mac_address::parse("02:00:5e:00:01:01")->is_unicast());
    CHECK(mac_address{}.is_zero());
    std::byte buf[6];
    mac_address::parse("02:00:c0:a8:0a:0b")->to_bytes(buf);
    CHECK(mac_address::from_bytes(buf).to_string() == "02:00:c0:a8:0a:0b");
}
