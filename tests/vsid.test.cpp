#include "nvgre/vsid.hpp"

#include <doctest/doctest.h>

using namespace nvgre;

TEST_CASE("vsid: only tenant VSIDs 4096-16777214 are constructible (RFC 7637 3.2)") {
    for (std::uint32_t reserved : {0u, 1u, 0x0fffu, 0xffffffu, 0x1000000u}) {
        auto r = vsid::make(reserved);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::reserved_vsid);
    }
    CHECK(vsid::make(4096)->value() == 4096);
    CHECK(vsid::make(16777214)->value() == 16777214);
    CHECK(vsid::make(5001));
}

TEST_CASE("vsid: decimal text") {
    CHECK(vsid::parse("5001")->value() == 5001);
    CHECK(vsid::parse("16777214"));
    CHECK(vsid::parse("4095").error().code == errc::reserved_vsid);
    CHECK(vsid::parse("16777215").error().code == errc::reserved_vsid);
    for (const char* bad : {"", "05001", "-5001", "+5001", "5001x", "0x1389", "123456789"})
        CHECK(vsid::parse(bad).error().code == errc::syntax);
}

TEST_CASE("vsid: the GRE key is VSID << 8 | FlowID") {
    const auto v = *vsid::make(0x123456);
    const std::uint32_t key = nvgre_key(v, flow_id{0x02});
    CHECK(key == 0x12345602u);  // packetnet's gre_nvgre.pcap, a capture of the test corpus
    CHECK(key_vsid_bits(key) == 0x123456u);
    CHECK(key_flow_id(key) == flow_id{2});
    // ryu test_gre.py: key 256100 <-> VSID 1000, FlowID 100 (VSID 1000 is reserved, so only bits here).
    CHECK(key_vsid_bits(256100) == 1000u);
    CHECK(key_flow_id(256100).value == 100);
}
