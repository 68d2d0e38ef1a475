#include "nvgre/wire/ipv6.hpp"

#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <initializer_list>
#include <vector>

using namespace nvgre;
using namespace nvgre::wire;
using nvgre::test::from_hex;

namespace {

// Golden bytes, made with Debian's python3-scapy:
//   /usr/bin/python3 -c 'from scapy.all import *; print(bytes(PKT).hex())'
// with S = IPv6(src="2001:db8::1", dst="2001:db8::2") unless said otherwise.
#define V6_ADDRS "20010db8000000000000000000000001 20010db8000000000000000000000002"

// PKT = IPv6(src="2001:db8::1", dst="2001:db8::2", tc=0xb9, fl=0x12345, hlim=64, nh=47)
//       / Raw(b"\x01\x02\x03\x04")
const auto basic = from_hex("6b912345 00042f40 " V6_ADDRS " 01020304");
// PKT = S / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting(addresses=["2001:db8::9"])
//       / IPv6ExtHdrDestOpt() / TCP(sport=1234, dport=80)
// Hop-by-hop at 40 (8 bytes), routing at 48 (24), destination options at 72 (8), TCP at 80.
const auto chain = from_hex("60000000 003c0040 " V6_ADDRS
                            " 2b000104 00000000"
                            " 3c020001 00000000 20010db8000000000000000000000009"
                            " 06000104 00000000"
                            " 04d20050 00000000 00000000 50022000 2f450000");
// PKT = S / IPv6ExtHdrFragment(id=0xdeadbeef, m=1, offset=0, nh=17) / Raw(b"\x11" * 8)
const auto frag_first = from_hex("60000000 00102c40 " V6_ADDRS " 11000001 deadbeef 1111111111111111");
// PKT = S / IPv6ExtHdrDestOpt() / IPv6ExtHdrFragment(id=0xdeadbeef, m=0, offset=100, nh=17)
//       / Raw(b"\x22" * 8)
const auto frag_later = from_hex("60000000 00183c40 " V6_ADDRS " 2c000104 00000000 11000320 deadbeef 2222222222222222");
// PKT = S / IPv6ExtHdrDestOpt() / IPv6ExtHdrHopByHop()   (hop-by-hop second: invalid)
const auto hbh_late = from_hex("60000000 00103c40 " V6_ADDRS " 00000104 00000000 3b000104 00000000");
// PKT = S / IPv6ExtHdrDestOpt() * 8 / UDP(sport=1, dport=2)
const auto eight = from_hex("60000000 00483c40 " V6_ADDRS
                            " 3c000104 00000000 3c000104 00000000 3c000104 00000000 3c000104 00000000"
                            " 3c000104 00000000 3c000104 00000000 3c000104 00000000 11000104 00000000"
                            " 00010002 0008a466");
// PKT = S / IPv6ExtHdrDestOpt() * 9   (the last says No Next Header)
const auto nine = from_hex("60000000 00483c40 " V6_ADDRS
                           " 3c000104 00000000 3c000104 00000000 3c000104 00000000 3c000104 00000000"
                           " 3c000104 00000000 3c000104 00000000 3c000104 00000000 3c000104 00000000"
                           " 3b000104 00000000");
// PKT = S / IPv6ExtHdrDestOpt(nh=59)
const auto no_next = from_hex("60000000 00083c40 " V6_ADDRS " 3b000104 00000000");
// PKT = IPv6(src="2001:db8::1", dst="2001:db8::2", nh=51)
//       / AH(nh=6, payloadlen=4, spi=0x100, seq=1, icv=b"\x00" * 12) / TCP(sport=1234, dport=80)
// (from scapy.layers.ipsec import AH): a 24-byte AH, (4 + 2) * 4.
const auto ah = from_hex("60000000 002c3340 " V6_ADDRS
                         " 06040000 00000100 00000001 000000000000000000000000"
                         " 04d20050 00000000 00000000 50022000 00000000");
// PKT = IPv6(src="fe80::1", dst="ff02::1", tc=(12 << 2) | 2, fl=0xfffff, hlim=255, nh=58)
//       / Raw(b"\x01\x02\x03\x04")
const auto after_setters = from_hex("632fffff 00043aff fe800000000000000000000000000001"
                                    " ff020000000000000000000000000001 01020304");
#undef V6_ADDRS

// The first 40 + payload_len bytes of `golden` with the payload length field set to match:
// a packet whose extension-header chain is cut at `payload_len`. Exact-size, so the sanitizer
// build sees any read past the end.
std::vector<std::byte> cut_payload(const std::vector<std::byte>& golden, std::size_t payload_len) {
    std::vector<std::byte> v(golden.begin(), golden.begin() + static_cast<std::ptrdiff_t>(40 + payload_len));
    v[4] = std::byte{static_cast<std::uint8_t>(payload_len >> 8)};
    v[5] = std::byte{static_cast<std::uint8_t>(payload_len)};
    return v;
}

result<ipv6_extension_walk> walk(const std::vector<std::byte>& bytes) {
    auto v = ipv6_view::checked(bytes);
    REQUIRE(v);
    return walk_extension_headers(*v);
}

// Headers as (offset, length) for the cut tests; the chain ends at the last offset + length.
struct ext {
    std::size_t offset;
    std::size_t len;
    bool fragment;
};

void check_every_cut(const std::vector<std::byte>& golden, std::initializer_list<ext> headers) {
    const ext& last = *(headers.end() - 1);
    const std::size_t chain_end = last.offset + last.len;
    for (std::size_t plen = 0; plen + 40 < chain_end; ++plen) {
        CAPTURE(plen);
        const auto buf = cut_payload(golden, plen);
        auto w = walk(buf);
        REQUIRE_FALSE(w);
        const std::size_t end = 40 + plen;
        const ext* hit = nullptr;
        for (const auto& h : headers)
            if (h.offset <= end && end < h.offset + h.len) hit = &h;
        REQUIRE(hit != nullptr);
        const std::size_t needed = hit->fragment ? 8 : (end - hit->offset < 2 ? 2 : hit->len);
        CHECK(w.error() == make_error(errc::truncated, layer::ipv6_extension, hit->offset, needed));
    }
    // And the whole chain (even with nothing after it) walks.
    CHECK(walk(cut_payload(golden, chain_end - 40)));
}

}  // namespace

TEST_CASE("wire/ipv6: deconstruct the fixed header") {
    auto v = ipv6_view::checked(basic);
    REQUIRE(v);
    CHECK(v->version() == 6);
    CHECK(v->traffic_class() == 0xb9);
    CHECK(v->dscp() == 46);
    CHECK(v->ecn() == 1);
    CHECK(v->flow_label() == 0x12345);
    CHECK(v->payload_len() == 4);
    CHECK(v->next_header() == ip_protocol::gre);
    CHECK(v->hop_limit() == 64);
    CHECK(v->source() == *ipv6_address::parse("2001:db8::1"));
    CHECK(v->destination() == *ipv6_address::parse("2001:db8::2"));
    CHECK(v->header_len() == 40);
    CHECK(v->header().size() == 40);
    REQUIRE(v->payload().size() == 4);
    CHECK(v->payload()[0] == std::byte{0x01});
    CHECK(v->payload()[3] == std::byte{0x04});
    CHECK(v->bytes().size() == basic.size());

    auto u = ipv6_view::unchecked(basic);
    CHECK(u.flow_label() == 0x12345);
    CHECK(u.payload().size() == 4);
}

TEST_CASE("wire/ipv6: every truncated prefix is rejected") {
    for (const auto* golden : {&basic, &chain, &ah}) {
        for (std::size_t n = 0; n < golden->size(); ++n) {
            const std::vector<std::byte> cut(golden->begin(), golden->begin() + static_cast<std::ptrdiff_t>(n));
            auto v = ipv6_view::checked(cut);
            REQUIRE_FALSE(v);
            if (n < ipv6_header_len) CHECK(v.error() == make_error(errc::truncated, layer::ipv6, 0, 40));
            else CHECK(v.error() == make_error(errc::truncated, layer::ipv6, 4, golden->size()));
        }
    }
}

TEST_CASE("wire/ipv6: bad version") {
    for (std::uint8_t b : {std::uint8_t{0x4b}, std::uint8_t{0x0b}, std::uint8_t{0x7b}}) {
        auto bad = basic;
        bad[0] = std::byte{b};
        auto v = ipv6_view::checked(bad);
        REQUIRE_FALSE(v);
        CHECK(v.error() == make_error(errc::bad_version, layer::ipv6, 0));
    }
}

TEST_CASE("wire/ipv6: padding after the payload length is not payload") {
    auto padded = basic;
    padded.resize(60, std::byte{0});
    auto v = ipv6_view::checked(padded);
    REQUIRE(v);
    CHECK(v->payload().size() == 4);
    CHECK(v->payload().data() == padded.data() + 40);
    CHECK(v->bytes().size() == 60);
    // An empty payload.
    auto empty = cut_payload(basic, 0);
    auto e = ipv6_view::checked(empty);
    REQUIRE(e);
    CHECK(e->payload().empty());
}

TEST_CASE("wire/ipv6: extension-header walk") {
    SUBCASE("no extension headers") {
        auto w = walk(basic);
        REQUIRE(w);
        CHECK(w->upper_protocol == ip_protocol::gre);
        CHECK(w->upper_offset == 40);
        CHECK(w->header_count == 0);
        CHECK_FALSE(w->fragment);
    }
    SUBCASE("hop-by-hop + routing + destination options + TCP") {
        auto w = walk(chain);
        REQUIRE(w);
        CHECK(w->upper_protocol == ip_protocol::tcp);
        CHECK(w->upper_offset == 80);
        CHECK(w->header_count == 3);
        CHECK_FALSE(w->fragment);
        CHECK(w->fragment_offset_units == 0);
        CHECK_FALSE(w->more_fragments);
        CHECK(w->fragment_id == 0);
    }
    SUBCASE("AH: length in 4-byte units + 2") {
        auto w = walk(ah);
        REQUIRE(w);
        CHECK(w->upper_protocol == ip_protocol::tcp);
        CHECK(w->upper_offset == 64);
        CHECK(w->header_count == 1);
    }
    SUBCASE("first fragment: stop and report") {
        auto w = walk(frag_first);
        REQUIRE(w);
        CHECK(w->fragment);
        CHECK(w->upper_protocol == ip_protocol::udp);
        CHECK(w->upper_offset == 48);
        CHECK(w->header_count == 1);
        CHECK(w->fragment_offset_units == 0);
        CHECK(w->more_fragments);
        CHECK(w->fragment_id == 0xdeadbeef);
    }
    SUBCASE("non-first, last fragment after destination options: stop and report") {
        auto w = walk(frag_later);
        REQUIRE(w);
        CHECK(*w == ipv6_extension_walk{ip_protocol::udp, 56, 2, true, 100, false, 0xdeadbeef});
    }
    SUBCASE("No Next Header is an upper protocol like any other") {
        auto w = walk(no_next);
        REQUIRE(w);
        CHECK(w->upper_protocol == ip_protocol::ipv6_no_next);
        CHECK(w->upper_offset == 48);
        CHECK(w->header_count == 1);
        CHECK(w->upper_offset == 40 + ipv6_view::checked(no_next)->payload_len());
    }
    SUBCASE("ESP stops the walk") {
        auto buf = basic;
        buf[6] = std::byte{ip_protocol::esp};
        auto w = walk(buf);
        REQUIRE(w);
        CHECK(w->upper_protocol == ip_protocol::esp);
        CHECK(w->upper_offset == 40);
    }
    SUBCASE("hop-by-hop not first") {
        auto w = walk(hbh_late);
        REQUIRE_FALSE(w);
        CHECK(w.error() == make_error(errc::bad_extension_header, layer::ipv6_extension, 48));
    }
    SUBCASE("eight headers are accepted, nine are not") {
        auto w8 = walk(eight);
        REQUIRE(w8);
        CHECK(w8->upper_protocol == ip_protocol::udp);
        CHECK(w8->upper_offset == 104);
        CHECK(w8->header_count == 8);
        auto w9 = walk(nine);
        REQUIRE_FALSE(w9);
        CHECK(w9.error() == make_error(errc::bad_extension_header, layer::ipv6_extension, 104));
        // A fragment header as the ninth counts too (the eighth header's next header is at 96).
        auto nine_frag = nine;
        nine_frag[96] = std::byte{ip_protocol::ipv6_fragment};
        auto wf = walk(nine_frag);
        REQUIRE_FALSE(wf);
        CHECK(wf.error().code == errc::bad_extension_header);
    }
    SUBCASE("a mutable view walks too") {
        auto buf = chain;
        auto m = mutable_ipv6_view::checked(buf);
        REQUIRE(m);
        auto w = walk_extension_headers(*m);
        REQUIRE(w);
        CHECK(w->upper_offset == 80);
    }
}

TEST_CASE("wire/ipv6: chains cut at every byte are rejected, never read past the payload") {
    check_every_cut(chain, {{40, 8, false}, {48, 24, false}, {72, 8, false}});
    check_every_cut(ah, {{40, 24, false}});
    check_every_cut(frag_first, {{40, 8, true}});
    check_every_cut(frag_later, {{40, 8, false}, {48, 8, true}});
    check_every_cut(eight, {{40, 8, false}, {48, 8, false}, {56, 8, false}, {64, 8, false},
                            {72, 8, false}, {80, 8, false}, {88, 8, false}, {96, 8, false}});

    // The walk is bounded by the payload length, not by the span: the same cut with the bytes
    // still present behind it (padding) gives the same error.
    auto padded = chain;
    padded[5] = std::byte{30};  // payload ends inside the routing header
    auto w = walk(padded);
    REQUIRE_FALSE(w);
    CHECK(w.error() == make_error(errc::truncated, layer::ipv6_extension, 48, 24));
}

TEST_CASE("wire/ipv6: repr parse, round trip and emit into a 0xa5 buffer") {
    for (const auto* golden : {&basic, &chain, &frag_first, &ah}) {
        auto v = ipv6_view::checked(*golden);
        REQUIRE(v);
        const auto r = ipv6_repr::parse(*v);
        CHECK(r.header_len() == 40);
        CHECK(r.buffer_len() == golden->size());
        auto out = nvgre::test::prefilled(r.buffer_len());
        r.emit(out);
        CHECK(out[40] == std::byte{0xa5});  // the payload is not written
        std::copy(golden->begin() + 40, golden->end(), out.begin() + 40);
        CHECK(out == *golden);
        auto again = ipv6_view::checked(out);
        REQUIRE(again);
        CHECK(ipv6_repr::parse(*again) == r);
    }

    ipv6_repr r;
    r.source = *ipv6_address::parse("fe80::1");
    r.destination = *ipv6_address::parse("ff02::1");
    r.dscp = 12;
    r.ecn = 2;
    r.flow_label = 0xfffff;
    r.hop_limit = 255;
    r.next_header = ip_protocol::icmpv6;
    r.payload_len = 4;
    auto out = nvgre::test::prefilled(r.header_len());
    r.emit(out);
    CHECK(out == std::vector<std::byte>(after_setters.begin(), after_setters.begin() + 40));
    auto basic_view = ipv6_view::checked(basic);
    REQUIRE(basic_view);
    const auto b = ipv6_repr::parse(*basic_view);
    CHECK(b.dscp == 46);
    CHECK(b.ecn == 1);
    CHECK(b.flow_label == 0x12345);
    CHECK(b.next_header == ip_protocol::gre);
    CHECK(b.hop_limit == 64);
    CHECK(b.payload_len == 4);
    CHECK_FALSE(b == r);
}

TEST_CASE("wire/ipv6: setters") {
    auto buf = basic;
    auto v = mutable_ipv6_view::checked(buf);
    REQUIRE(v);
    v->set_dscp(12);
    CHECK(v->ecn() == 1);  // set_dscp keeps ECN
    v->set_ecn(2);
    CHECK(v->dscp() == 12);  // set_ecn keeps DSCP
    v->set_flow_label(0xffffffff);  // masked to 20 bits, traffic class untouched
    CHECK(v->flow_label() == 0xfffff);
    CHECK(v->traffic_class() == ((12 << 2) | 2));
    CHECK(v->version() == 6);
    v->set_hop_limit(255);
    v->set_next_header(ip_protocol::icmpv6);
    v->set_source(*ipv6_address::parse("fe80::1"));
    v->set_destination(*ipv6_address::parse("ff02::1"));
    CHECK(buf == after_setters);

    v->set_traffic_class(0xb9);
    CHECK(v->dscp() == 46);
    CHECK(v->ecn() == 1);
    CHECK(v->flow_label() == 0xfffff);
    v->set_payload_len(0);
    CHECK(v->payload().empty());
    v->set_payload_len(4);
    v->set_version(4);
    CHECK(v->version() == 4);
    CHECK(v->traffic_class() == 0xb9);
    CHECK_FALSE(ipv6_view::checked(buf));
}

TEST_CASE("wire/ipv6: a packet that continues past the span (a chained frame's first segment)") {
    const auto first = std::span<const std::byte>(chain).first(50);
    CHECK(ipv6_view::checked(first).error().code == errc::truncated);
    auto v = ipv6_view::checked(first, chain.size() - 50);
    REQUIRE(v);
    CHECK(v->payload_len() == chain.size() - 40);
    CHECK(v->payload().size() == 10);  // stops at the end of the span
    // Extension headers are walked inside the span only: the chain's second header lies past it.
    const auto w = walk_extension_headers(*v);
    REQUIRE_FALSE(w);
    CHECK(w.error().code == errc::truncated);
    auto whole = ipv6_view::checked(chain, 5);  // continuing bytes need not be used
    REQUIRE(whole);
    CHECK(walk_extension_headers(*whole));
}

TEST_CASE("wire/ipv6: ipv6_field names where emit() writes each field") {
    ipv6_repr r;
    r.source = ipv6_address::parse("fd00::5").value();
    r.destination = ipv6_address::parse("fd00::6").value();
    r.next_header = ip_protocol::tcp;
    r.hop_limit = 0x3c;
    r.flow_label = 0xabcde;
    r.payload_len = 0x1234;
    std::array<std::byte, 40> b{};
    r.emit(b);
    const std::byte* p = b.data();
    CHECK((nvgre::detail::load_be32(p + ipv6_field::version_class_label) >> 28) == 6);
    CHECK((nvgre::detail::load_be32(p + ipv6_field::version_class_label) & 0xfffffu) == 0xabcde);
    CHECK(nvgre::detail::load_be16(p + ipv6_field::payload_len) == 0x1234);
    CHECK(nvgre::detail::load_u8(p + ipv6_field::next_header) == ip_protocol::tcp);
    CHECK(nvgre::detail::load_u8(p + ipv6_field::hop_limit) == 0x3c);
    CHECK(ipv6_address::from_bytes(std::span<const std::byte>(b).subspan(ipv6_field::source, 16)) == r.source);
    CHECK(ipv6_address::from_bytes(std::span<const std::byte>(b).subspan(ipv6_field::destination, 16)) == r.destination);
}
