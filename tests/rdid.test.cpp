#include "nvgre/rdid.hpp"

#include <doctest/doctest.h>

using namespace nvgre;

TEST_CASE("rdid: GUID with or without braces, any case") {
    auto a = rdid::parse("{8a7d9a4c-53c0-4b1c-9b62-0a1b2c3d4e5f}");
    auto b = rdid::parse("8A7D9A4C-53C0-4B1C-9B62-0A1B2C3D4E5F");
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a == *b);
    CHECK(a->to_string() == "8a7d9a4c-53c0-4b1c-9b62-0a1b2c3d4e5f");
    CHECK(a->bytes()[0] == 0x8a);
    CHECK(a->bytes()[15] == 0x5f);
}

TEST_CASE("rdid: malformed GUIDs name the offending offset") {
    struct bad { const char* text; std::uint32_t offset; };
    for (const auto& c : {bad{"", 0}, bad{"{8a7d9a4c-53c0-4b1c-9b62-0a1b2c3d4e5f", 37},
                                bad{"8a7d9a4c-53c0-4b1c-9b62-0a1b2c3d4e5", 35},
                                bad{"8a7d9a4c_53c0-4b1c-9b62-0a1b2c3d4e5f", 8},
                                bad{"{8a7d9a4c-53c0-4b1c-9b62-0a1b2c3d4e5g}", 36},
                                bad{"8a7d9a4c-53c0-4b1c-9b62-0a1b2c3d4e5f0", 36}}) {
        CAPTURE(c.text);
        auto r = rdid::parse(c.text);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::syntax);
        CHECK(r.error().offset == c.offset);
    }
}
