#include "nvgre/wire/ipv4.hpp"

#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

using namespace nvgre;
using namespace nvgre::wire;
using nvgre::test::from_hex;

namespace {

// Golden bytes, made with Debian's python3-scapy:
//   /usr/bin/python3 -c 'from scapy.all import *; print(bytes(PKT).hex())'
// PKT = IP(src="10.0.0.5", dst="10.0.0.6", id=0x1234, flags="DF", ttl=64, tos=0xb9, proto=47)
//       / Raw(b"\x01\x02\x03\x04")
const auto basic = from_hex("45b90018 12344000 402f13c0 0a000005 0a000006 01020304");
// PKT = IP(src="192.168.1.1", dst="192.168.1.2", id=7, flags="MF", frag=185, ttl=255, proto=17)
//       / Raw(b"\xaa" * 8)
const auto frag = from_hex("4500001c 000720b9 ff1117bd c0a80101 c0a80102 aaaaaaaaaaaaaaaa");
// PKT = IP(src="10.1.2.3", dst="224.0.0.22", ttl=1, tos=0xc0, proto=2,
//          options=[IPOption_Router_Alert()]) / Raw(b"\x22\x00\xf9\x02")   (an IGMPv3 report's shape)
const auto opts = from_hex("46c0001c 00010000 01023801 0a010203 e0000016 94040000 2200f902");
// PKT = IP(src="10.1.2.3", dst="224.0.0.22", ttl=1, tos=0xc0, proto=2, id=1, len=24): the header
// ipv4_repr emits for `opts` (options are not represented).
const auto opts_without_options = from_hex("45c00018 00010000 0102cd09 0a010203 e0000016");
// PKT = IP(src="192.0.2.1", dst="198.51.100.2", id=0xbeef, flags="MF", frag=100, ttl=17,
//          tos=(10 << 2) | 3, proto=17) / Raw(b"\x01\x02\x03\x04")
const auto after_setters = from_hex("452b0018 beef2064 1111de1f c0000201 c6336402 01020304");

std::vector<std::byte> with_byte(std::vector<std::byte> v, std::size_t at, std::uint8_t value) {
    v[at] = std::byte{value};
    return v;
}
std::vector<std::byte> with_total_len(std::vector<std::byte> v, std::uint16_t len) {
    v[2] = std::byte{static_cast<std::uint8_t>(len >> 8)};
    v[3] = std::byte{static_cast<std::uint8_t>(len)};
    return v;
}

}  // namespace

TEST_CASE("wire/ipv4: deconstruct a header without options") {
    auto v = ipv4_view::checked(basic);
    REQUIRE(v);
    CHECK(v->version() == 4);
    CHECK(v->ihl_words() == 5);
    CHECK(v->header_len() == 20);
    CHECK(v->tos() == 0xb9);
    CHECK(v->dscp() == 46);  // EF
    CHECK(v->ecn() == 1);    // ECT(1)
    CHECK(v->total_len() == 24);
    CHECK(v->identification() == 0x1234);
    CHECK_FALSE(v->reserved_flag());
    CHECK(v->dont_fragment());
    CHECK_FALSE(v->more_fragments());
    CHECK(v->fragment_offset_units() == 0);
    CHECK_FALSE(v->is_fragment());
    CHECK(v->ttl() == 64);
    CHECK(v->protocol() == ip_protocol::gre);
    CHECK(v->header_checksum() == 0x13c0);
    CHECK(v->source() == ipv4_address::from_uint(0x0a000005));
    CHECK(v->destination() == *ipv4_address::parse("10.0.0.6"));
    CHECK(v->options().empty());
    CHECK(v->header().size() == 20);
    REQUIRE(v->payload().size() == 4);
    CHECK(v->payload()[0] == std::byte{0x01});
    CHECK(v->payload()[3] == std::byte{0x04});
    CHECK(v->bytes().size() == basic.size());
    CHECK(v->header_checksum_ok());
    CHECK(v->compute_header_checksum() == 0x13c0);

    auto u = ipv4_view::unchecked(basic);
    CHECK(u.source() == v->source());
    CHECK(u.payload().size() == 4);
}

TEST_CASE("wire/ipv4: fragments") {
    auto v = ipv4_view::checked(frag);
    REQUIRE(v);
    CHECK(v->identification() == 7);
    CHECK_FALSE(v->dont_fragment());
    CHECK(v->more_fragments());
    CHECK(v->fragment_offset_units() == 185);
    CHECK(v->is_fragment());
    CHECK(v->ttl() == 255);
    CHECK(v->protocol() == ip_protocol::udp);
    CHECK(v->payload().size() == 8);
    CHECK(v->header_checksum_ok());

    auto buf = frag;
    auto m = mutable_ipv4_view::checked(buf);
    REQUIRE(m);
    // The last fragment: offset only.
    m->set_more_fragments(false);
    CHECK(m->fragment_offset_units() == 185);
    CHECK(m->is_fragment());
    // The first fragment: MF only.
    m->set_more_fragments(true);
    m->set_fragment_offset_units(0);
    CHECK(m->more_fragments());
    CHECK(m->is_fragment());
    // DF alone is not a fragment.
    m->set_more_fragments(false);
    m->set_dont_fragment(true);
    CHECK_FALSE(m->is_fragment());
    // The largest offset keeps the flags.
    m->set_fragment_offset_units(0xffff);
    CHECK(m->fragment_offset_units() == 0x1fff);
    CHECK(m->dont_fragment());
    CHECK_FALSE(m->more_fragments());
    CHECK_FALSE(m->reserved_flag());
    m->set_reserved_flag(true);
    CHECK(m->reserved_flag());
    CHECK(m->fragment_offset_units() == 0x1fff);
    m->set_reserved_flag(false);
    CHECK(m->dont_fragment());
}

TEST_CASE("wire/ipv4: options present") {
    auto v = ipv4_view::checked(opts);
    REQUIRE(v);
    CHECK(v->ihl_words() == 6);
    CHECK(v->header_len() == 24);
    CHECK(v->total_len() == 28);
    CHECK(v->dscp() == 48);
    CHECK(v->ecn() == 0);
    CHECK(v->ttl() == 1);
    CHECK(v->protocol() == 2);
    CHECK(v->destination().is_multicast());
    REQUIRE(v->options().size() == 4);
    CHECK(v->options()[0] == std::byte{0x94});  // Router Alert, RFC 2113
    CHECK(v->options()[1] == std::byte{0x04});
    REQUIRE(v->payload().size() == 4);
    CHECK(v->payload()[0] == std::byte{0x22});
    CHECK(v->header().size() == 24);
    CHECK(v->header_checksum_ok());
    CHECK(v->compute_header_checksum() == 0x3801);
}

TEST_CASE("wire/ipv4: every truncated prefix is rejected, never read past the end") {
    for (const auto* golden : {&basic, &frag, &opts}) {
        const std::size_t hlen = (std::to_integer<std::size_t>((*golden)[0]) & 0x0f) * 4;
        for (std::size_t n = 0; n < golden->size(); ++n) {
            // An exact-size copy, so that the sanitizer build sees any read past the end.
            const std::vector<std::byte> cut(golden->begin(), golden->begin() + static_cast<std::ptrdiff_t>(n));
            auto v = ipv4_view::checked(cut);
            REQUIRE_FALSE(v);
            CHECK(v.error().code == errc::truncated);
            CHECK(v.error().where == layer::ipv4);
            if (n < ipv4_min_header_len) {
                CHECK(v.error().offset == 0);
                CHECK(v.error().needed == 20);
            } else if (n < hlen) {
                CHECK(v.error().offset == 0);
                CHECK(v.error().needed == hlen);
            } else {
                CHECK(v.error().offset == 2);
                CHECK(v.error().needed == golden->size());
            }
        }
    }
}

TEST_CASE("wire/ipv4: bad version, IHL and total length") {
    SUBCASE("version 6 and version 0") {
        for (std::uint8_t b : {std::uint8_t{0x65}, std::uint8_t{0x05}}) {
            const auto bad = with_byte(basic, 0, b);
            auto v = ipv4_view::checked(bad);
            REQUIRE_FALSE(v);
            CHECK(v.error() == make_error(errc::bad_version, layer::ipv4, 0));
        }
    }
    SUBCASE("IHL below 5") {
        for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
            const auto bad = with_byte(basic, 0, static_cast<std::uint8_t>(0x40 | ihl));
            auto v = ipv4_view::checked(bad);
            REQUIRE_FALSE(v);
            CHECK(v.error() == make_error(errc::bad_header_length, layer::ipv4, 0));
        }
    }
    SUBCASE("IHL longer than the span") {
        const auto bad = with_byte(basic, 0, 0x4f);  // 60-byte header in 24 bytes
        auto v = ipv4_view::checked(bad);
        REQUIRE_FALSE(v);
        CHECK(v.error() == make_error(errc::truncated, layer::ipv4, 0, 60));
    }
    SUBCASE("total length below the header length") {
        for (std::uint16_t len : {std::uint16_t{0}, std::uint16_t{19}}) {
            auto v = ipv4_view::checked(with_total_len(basic, len));
            REQUIRE_FALSE(v);
            CHECK(v.error() == make_error(errc::bad_length, layer::ipv4, 2));
        }
        // With options the bound is IHL*4, not 20.
        const auto o = with_total_len(opts, 23);
        auto v = ipv4_view::checked(o);
        REQUIRE_FALSE(v);
        CHECK(v.error() == make_error(errc::bad_length, layer::ipv4, 2));
        // Exactly the header: an empty payload.
        const auto empty = with_total_len(opts, 24);
        auto e = ipv4_view::checked(empty);
        REQUIRE(e);
        CHECK(e->payload().empty());
    }
    SUBCASE("total length past the span") {
        for (std::uint16_t len : {std::uint16_t{25}, std::uint16_t{0xffff}}) {
            const auto bad = with_total_len(basic, len);
            auto v = ipv4_view::checked(bad);
            REQUIRE_FALSE(v);
            CHECK(v.error() == make_error(errc::truncated, layer::ipv4, 2, len));
        }
    }
}

TEST_CASE("wire/ipv4: Ethernet padding after total length is not payload") {
    auto padded = basic;
    padded.resize(46, std::byte{0});  // the 46-byte minimum Ethernet payload
    auto v = ipv4_view::checked(padded);
    REQUIRE(v);
    CHECK(v->total_len() == 24);
    CHECK(v->payload().size() == 4);
    CHECK(v->payload().data() == padded.data() + 20);
    CHECK(v->bytes().size() == 46);
    CHECK(v->header_checksum_ok());
}

TEST_CASE("wire/ipv4: header checksum verify and fill") {
    SUBCASE("a corrupted header fails, checked() still accepts it") {
        for (std::size_t at : {std::size_t{1}, std::size_t{8}, std::size_t{10}, std::size_t{19}}) {
            auto bad = basic;
            bad[at] ^= std::byte{0x01};
            auto v = ipv4_view::checked(bad);
            REQUIRE(v);
            CHECK_FALSE(v->header_checksum_ok());
        }
        // Options are covered too.
        auto bad = opts;
        bad[21] ^= std::byte{0x80};
        auto v = ipv4_view::checked(bad);
        REQUIRE(v);
        CHECK_FALSE(v->header_checksum_ok());
    }
    SUBCASE("fill restores the golden checksum, whatever the field held") {
        for (const auto* golden : {&basic, &frag, &opts}) {
            for (std::uint16_t junk : {std::uint16_t{0}, std::uint16_t{0xffff}, std::uint16_t{0xa5a5}}) {
                auto buf = *golden;
                auto v = mutable_ipv4_view::checked(buf);
                REQUIRE(v);
                v->set_header_checksum(junk);
                CHECK(v->header_checksum() == junk);
                v->fill_header_checksum();
                CHECK(buf == *golden);
                CHECK(v->header_checksum_ok());
            }
        }
    }
    SUBCASE("the payload is not part of the header checksum") {
        auto buf = basic;
        buf[22] ^= std::byte{0xff};
        auto v = ipv4_view::checked(buf);
        REQUIRE(v);
        CHECK(v->header_checksum_ok());
    }
}

TEST_CASE("wire/ipv4: repr parse, round trip and emit into a 0xa5 buffer") {
    SUBCASE("basic") {
        auto v = ipv4_view::checked(basic);
        REQUIRE(v);
        const auto r = ipv4_repr::parse(*v);
        CHECK(r.source == ipv4_address::from_uint(0x0a000005));
        CHECK(r.destination == ipv4_address::from_uint(0x0a000006));
        CHECK(r.protocol == ip_protocol::gre);
        CHECK(r.ttl == 64);
        CHECK(r.dscp == 46);
        CHECK(r.ecn == 1);
        CHECK(r.identification == 0x1234);
        CHECK(r.dont_fragment);
        CHECK_FALSE(r.more_fragments);
        CHECK(r.fragment_offset_units == 0);
        CHECK(r.payload_len == 4);
        CHECK(r.header_len() == 20);
        CHECK(r.buffer_len() == 24);
        auto out = nvgre::test::prefilled(r.header_len());
        r.emit(out);
        CHECK(out == std::vector<std::byte>(basic.begin(), basic.begin() + 20));
    }
    SUBCASE("every golden without options round-trips byte for byte") {
        for (const auto* golden : {&basic, &frag}) {
            auto v = ipv4_view::checked(*golden);
            REQUIRE(v);
            const auto r = ipv4_repr::parse(*v);
            auto out = nvgre::test::prefilled(r.buffer_len());
            r.emit(out);
            // The payload was not written.
            CHECK(out[20] == std::byte{0xa5});
            std::copy(golden->begin() + 20, golden->end(), out.begin() + 20);
            CHECK(out == *golden);
            auto again = ipv4_view::checked(out);
            REQUIRE(again);
            CHECK(ipv4_repr::parse(*again) == r);
        }
    }
    SUBCASE("options are dropped: emit writes a 20-byte header with the same payload length") {
        auto v = ipv4_view::checked(opts);
        REQUIRE(v);
        const auto r = ipv4_repr::parse(*v);
        CHECK(r.payload_len == 4);
        CHECK(r.header_len() == 20);
        auto out = nvgre::test::prefilled(r.header_len());
        r.emit(out);
        CHECK(out == opts_without_options);
    }
    SUBCASE("a repr built from values, parsed from a mutable view") {
        ipv4_repr r;
        r.source = *ipv4_address::parse("192.0.2.1");
        r.destination = *ipv4_address::parse("198.51.100.2");
        r.identification = 0xbeef;
        r.more_fragments = true;
        r.fragment_offset_units = 100;
        r.ttl = 17;
        r.dscp = 10;
        r.ecn = 3;
        r.protocol = ip_protocol::udp;
        r.payload_len = 4;
        auto out = nvgre::test::prefilled(r.buffer_len());
        r.emit(out);
        std::copy(after_setters.begin() + 20, after_setters.end(), out.begin() + 20);
        CHECK(out == after_setters);
        auto m = mutable_ipv4_view::checked(out);
        REQUIRE(m);
        CHECK(ipv4_repr::parse(*m) == r);
    }
}

TEST_CASE("wire/ipv4: setters") {
    auto buf = basic;
    auto v = mutable_ipv4_view::checked(buf);
    REQUIRE(v);
    v->set_source(*ipv4_address::parse("192.0.2.1"));
    v->set_destination(*ipv4_address::parse("198.51.100.2"));
    v->set_identification(0xbeef);
    v->set_dont_fragment(false);
    v->set_more_fragments(true);
    v->set_fragment_offset_units(100);
    v->set_ttl(17);
    v->set_protocol(ip_protocol::udp);
    v->set_dscp(10);
    CHECK(v->ecn() == 1);  // set_dscp keeps ECN
    v->set_ecn(3);
    CHECK(v->dscp() == 10);  // set_ecn keeps DSCP
    CHECK_FALSE(v->header_checksum_ok());
    v->fill_header_checksum();
    CHECK(buf == after_setters);
    CHECK(v->header_checksum_ok());

    v->set_tos(0xb9);
    CHECK(v->dscp() == 46);
    CHECK(v->ecn() == 1);
    v->set_total_len(20);
    CHECK(v->payload().empty());
    v->set_total_len(24);
    v->set_version(6);
    CHECK(v->version() == 6);
    CHECK(v->ihl_words() == 5);
    CHECK_FALSE(ipv4_view::checked(buf));
    v->set_version(4);
    v->set_ihl_words(6);
    CHECK(v->version() == 4);
    CHECK(v->header_len() == 24);
    CHECK(v->options().size() == 4);
    CHECK(v->payload().empty());
    v->set_ihl_words(5);
    v->set_header_checksum(0x1234);
    CHECK(v->header_checksum() == 0x1234);
}

TEST_CASE("wire/ipv4: a packet that continues past the span (a chained frame's first segment)") {
    // Total length 24, 20 + 2 bytes in the span: 2 bytes continue in further segments.
    const auto first = std::span<const std::byte>(basic).first(22);
    CHECK(ipv4_view::checked(first).error().code == errc::truncated);
    CHECK(ipv4_view::checked(first, 1).error().code == errc::truncated);
    auto v = ipv4_view::checked(first, 2);
    REQUIRE(v);
    CHECK(v->total_len() == 24);
    CHECK(v->payload().size() == 2);  // stops at the end of the span
    CHECK(v->payload().data() == first.data() + 20);
    // The header itself must lie in the span, whatever follows.
    CHECK(ipv4_view::checked(std::span<const std::byte>(basic).first(19), 100).error().code == errc::truncated);
    CHECK(ipv4_view::checked(std::span<const std::byte>(opts).first(22), 100).error().code == errc::truncated);
}

TEST_CASE("wire/ipv4: ipv4_field names where emit() writes each field") {
    ipv4_repr r;
    r.source = ipv4_address{{10, 0, 0, 5}};
    r.destination = ipv4_address{{10, 0, 0, 6}};
    r.protocol = ip_protocol::udp;
    r.ttl = 0x3c;
    r.dscp = 0x2e;
    r.identification = 0xbeef;
    r.dont_fragment = true;
    r.payload_len = 8;
    std::array<std::byte, 28> b{};
    r.emit(b);
    const std::byte* p = b.data();
    CHECK(nvgre::detail::load_u8(p + ipv4_field::version_ihl) == 0x45);
    CHECK(nvgre::detail::load_u8(p + ipv4_field::tos) == 0x2e << 2);
    CHECK(nvgre::detail::load_be16(p + ipv4_field::total_len) == 28);
    CHECK(nvgre::detail::load_be16(p + ipv4_field::identification) == 0xbeef);
    CHECK(nvgre::detail::load_be16(p + ipv4_field::flags_fragment) == 0x4000);
    CHECK(nvgre::detail::load_u8(p + ipv4_field::ttl) == 0x3c);
    CHECK(nvgre::detail::load_u8(p + ipv4_field::protocol) == ip_protocol::udp);
    CHECK(nvgre::detail::load_be16(p + ipv4_field::checksum) == ipv4_view::checked(b).value().header_checksum());
    CHECK(ipv4_address::from_bytes(std::span<const std::byte>(b).subspan(ipv4_field::source, 4)) == r.source);
    CHECK(ipv4_address::from_bytes(std::span<const std::byte>(b).subspan(ipv4_field::destination, 4)) == r.destination);
}
