#include "nvgre/ip_address.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>

using namespace nvgre;

TEST_CASE("ip_address: IPv4 parse and format") {
    auto a = ipv4_address::parse("192.168.10.11");
    REQUIRE(a);
    CHECK(a->to_uint() == 0xc0a80a0bu);
    CHECK(a->to_string() == "192.168.10.11");
    CHECK(ipv4_address::parse("0.0.0.0")->is_unspecified());
    CHECK(ipv4_address::parse("255.255.255.255")->is_broadcast());
    CHECK(ipv4_address::parse("224.0.0.1")->is_multicast());
    for (const char* bad : {"", "1.2.3", "1.2.3.4.", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..3.4", "a.b.c.d",
                            "1.2.3.4 ", " 1.2.3.4", "1.2.3.1000"}) {
        CAPTURE(bad);
        auto r = ipv4_address::parse(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::syntax);
    }
}

TEST_CASE("ip_address: IPv6 parse accepts every RFC 4291 text form") {
    const auto expect = ipv6_address::from_groups({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1});
    for (const char* text : {"2001:db8::1", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:DB8:0:0:0:0:0:1",
                             "2001:db8:0::0:1"}) {
        CAPTURE(text);
        auto r = ipv6_address::parse(text);
        REQUIRE(r);
        CHECK(*r == expect);
    }
    CHECK(ipv6_address::parse("::")->is_unspecified());
    CHECK(*ipv6_address::parse("::1") == ipv6_address::from_groups({0, 0, 0, 0, 0, 0, 0, 1}));
    CHECK(*ipv6_address::parse("fe80::") == ipv6_address::from_groups({0xfe80, 0, 0, 0, 0, 0, 0, 0}));
    CHECK(*ipv6_address::parse("::ffff:10.0.0.5") == ipv6_address::from_groups({0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0005}));
    CHECK(*ipv6_address::parse("64:ff9b::192.0.2.33") ==
          ipv6_address::from_groups({0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0221}));
    for (const char* bad : {"", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::",
                            ":1::", "1:", "1::2:3:4:5:6:7:8", "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0"}) {
        CAPTURE(bad);
        CHECK_FALSE(ipv6_address::parse(bad));
    }
}

TEST_CASE("ip_address: IPv6 formats in RFC 5952 canonical form") {
    auto fmt = [](const char* text) { return ipv6_address::parse(text)->to_string(); };
    CHECK(fmt("2001:0db8:0000:0000:0000:0000:0000:0001") == "2001:db8::1");
    CHECK(fmt("2001:db8:0:0:1:0:0:1") == "2001:db8::1:0:0:1");        // first of equal runs
    CHECK(fmt("2001:db8:0:1:0:0:0:1") == "2001:db8:0:1::1");          // longest run
    CHECK(fmt("2001:db8:0:1:1:1:1:1") == "2001:db8:0:1:1:1:1:1");     // a single 0 is not ::
    CHECK(fmt("0:0:0:0:0:0:0:0") == "::");
    CHECK(fmt("0:0:0:0:0:0:0:1") == "::1");
    CHECK(fmt("1:0:0:0:0:0:0:0") == "1::");
    CHECK(fmt("::ffff:192.0.2.1") == "::ffff:192.0.2.1");
    CHECK(fmt("FE80::ABCD") == "fe80::abcd");
}

TEST_CASE("ip_address: IPv6 text round trip over random addresses") {
    std::mt19937 rng(1624);
    for (int i = 0; i < 2000; ++i) {
        std::array<std::uint16_t, 8> g{};
        for (auto& x : g) x = (rng() % 3 == 0) ? 0 : static_cast<std::uint16_t>(rng());
        const auto a = ipv6_address::from_groups(g);
        auto back = ipv6_address::parse(a.to_string());
        REQUIRE(back);
        CHECK(*back == a);
    }
}

TEST_CASE("ip_address: the tagged union and prefixes") {
    auto v4 = ip_address::parse("10.0.0.5");
    auto v6 = ip_address::parse("fd00::5");
    REQUIRE(v4);
    REQUIRE(v6);
    CHECK(v4->is_v4());
    CHECK(v6->is_v6());
    CHECK(*v4 < *v6);
    CHECK(v4->octets().size() == 4);
    CHECK(v6->octets().size() == 16);

    auto p = ip_prefix::parse("10.0.0.0/24");
    REQUIRE(p);
    CHECK(p->length() == 24);
    CHECK(p->contains(*ip_address::parse("10.0.0.255")));
    CHECK_FALSE(p->contains(*ip_address::parse("10.0.1.0")));
    CHECK_FALSE(p->contains(*v6));
    CHECK(p->to_string() == "10.0.0.0/24");
    CHECK(ip_prefix::parse("0.0.0.0/0")->contains(*v4));
    CHECK(ip_prefix::parse("2001:db8::/32")->contains(*ip_address::parse("2001:db8:ffff::1")));
    CHECK(ip_prefix::parse("10.0.0.5/32"));
    CHECK(ip_prefix::parse("::/0"));

    CHECK(ip_prefix::containing(*ip_address::parse("192.168.10.11"), 24)->to_string() == "192.168.10.0/24");
    CHECK(ip_prefix::containing(*ip_address::parse("2001:db8::1"), 64)->to_string() == "2001:db8::/64");
    CHECK_FALSE(ip_prefix::containing(*ip_address::parse("10.0.0.1"), 33));
    auto host_bits = ip_prefix::parse("10.0.0.1/24");
    REQUIRE_FALSE(host_bits);
    CHECK(host_bits.error().code == errc::bad_value);
    auto too_long = ip_prefix::parse("10.0.0.0/33");
    REQUIRE_FALSE(too_long);
    CHECK(too_long.error().code == errc::bad_value);
    CHECK_FALSE(ip_prefix::parse("fd00::/129"));
    for (const char* bad : {"10.0.0.0", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/024", "/24", "10.0.0.0/1000"})
        CHECK_FALSE(ip_prefix::parse(bad));
}

TEST_CASE("ip_address: == is the defaulted comparison's equality, at compile time and at run time") {
    static_assert(ip_address{ipv4_address{{10, 0, 0, 1}}} == ip_address{ipv4_address{{10, 0, 0, 1}}});
    static_assert(!(ip_address{ipv4_address{{10, 0, 0, 1}}} == ip_address{ipv4_address{{10, 0, 0, 2}}}));
    static_assert(!(ip_address{} == ip_address{ipv6_address{}}));  // 0.0.0.0 is not ::
    // Random pairs that share bytes often (few distinct byte values), of both versions: == must
    // say what (a <=> b) == 0 says, which compares the version and all 16 bytes.
    std::mt19937 rng(7);
    const auto make = [&rng]() {
        std::array<std::uint8_t, 16> o{};
        for (auto& b : o) b = static_cast<std::uint8_t>(rng() % 2);
        if (rng() % 2 == 0) return ip_address{ipv4_address{{o[0], o[1], o[2], o[3]}}};
        return ip_address{ipv6_address{o}};
    };
    std::size_t equal = 0;
    for (int i = 0; i < 20000; ++i) {
        const ip_address a = make();
        const ip_address b = make();
        const ip_address a_copy = a;
        REQUIRE((a == b) == ((a <=> b) == 0));
        REQUIRE(a == a_copy);
        equal += a == b;
    }
    CHECK(equal > 100);  // the pairs do meet
    // The version decides where the bytes agree (a run-time compare, not a static_assert).
    const ip_address v4_zero{};
    const ip_address v6_zero{ipv6_address{}};
    CHECK_FALSE(v4_zero == v6_zero);
    CHECK_FALSE(ip_address{ipv4_address{{1, 0, 0, 0}}} == ip_address{ipv6_address::parse("100::").value()});  // same 16 bytes
}
