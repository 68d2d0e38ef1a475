#include "nvgre/wire/packet_layout.hpp"

#include "support/chained.hpp"
#include "support/test_bytes.hpp"

#include <nvgre/datapath/encap.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace nvgre;
using namespace nvgre::wire;
using nvgre::test::from_hex;

namespace {
// Golden, made with scapy 2.5:
//   Ether(src="02:00:c0:a8:0a:0b", dst="02:00:c0:a8:0a:0c")
//   / IP(src="192.168.10.11", dst="192.168.10.12", flags="DF", ttl=64, tos=0xb9, id=0)
//   / GRE(key_present=1, proto=0x6558, key=(5001<<8)|42)
//   / Ether(src="00:15:5d:00:00:05", dst="00:15:5d:00:00:06")
//   / IP(src="10.0.0.5", dst="10.0.0.6", ttl=64) / UDP(sport=5000, dport=5001) / b"hi"
const std::vector<std::byte> v4_outer = from_hex(
    "0200c0a80a0c0200c0a80a0b0800"
    "45b9004800004000402fa466c0a80a0bc0a80a0c"
    "200065580013892a"
    "00155d00000600155d0000050800"
    "4500001e00010000401166c40a0000050a000006"
    "13881389000a5c55"
    "6869");
// Golden, made with scapy 2.5:
//   Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q(vlan=100)
//   / IPv6(src="2001:db8::11", dst="2001:db8::12", hlim=64) / IPv6ExtHdrDestOpt()
//   / GRE(key_present=1, proto=0x6558, key=(0x123456<<8)|7)
//   / Ether(src="00:15:5d:00:01:05", dst="00:15:5d:00:01:06")
//   / IPv6(src="fd00::5", dst="fd00::6", hlim=64) / TCP(sport=40000, dport=80, flags="S")
const std::vector<std::byte> v6_outer = from_hex(
    "0200000000020200000000018100006486dd"
    "60000000005a3c4020010db800000000000000000000001120010db8000000000000000000000012"
    "2f00010400000000"
    "2000655812345607"
    "00155d00010600155d00010586dd"
    "6000000000140640fd000000000000000000000000000005fd000000000000000000000000000006"
    "9c400050000000000000000050022000f9450000");

packet_layout layout_of(const std::vector<std::byte>& f) { return parse_packet_layout(f); }

// Re-fills the outer IPv4 header checksum after a test edits the header (frame offset 14).
void fix_outer_ipv4_checksum(std::vector<std::byte>& f) {
    auto ip = mutable_ipv4_view::unchecked(std::span<std::byte>(f).subspan(14));
    ip.fill_header_checksum();
}
}  // namespace

TEST_CASE("wire/packet_layout: NVGRE over IPv4, inner IPv4/UDP: every offset") {
    const auto l = layout_of(v4_outer);
    REQUIRE(l.kind == frame_kind::nvgre);
    CHECK(l.outer_l2_len == 14);
    CHECK(l.outer_vlan_count == 0);
    CHECK(l.outer_l3 == l3_kind::ipv4);
    CHECK(l.outer_l3_offset == 14);
    CHECK(l.outer_l3_header_len == 20);
    CHECK(l.outer_l3_end == v4_outer.size());
    CHECK(l.outer_protocol == ip_protocol::gre);
    CHECK(l.gre_offset == 34);
    CHECK(l.gre_header_len == 8);
    CHECK(l.vsid_bits() == 5001);
    CHECK(l.flow_id_bits() == 42);
    CHECK(l.inner_l2_offset == 42);
    CHECK(l.inner_l2_len == 14);
    CHECK(l.inner_ether_type == ethertype::ipv4);
    CHECK(l.inner_l3 == l3_kind::ipv4);
    CHECK(l.inner_l3_offset == 56);
    CHECK(l.inner_l3_header_len == 20);
    CHECK(l.inner_protocol == ip_protocol::udp);
    CHECK(l.inner_l4_offset == 76);
    CHECK(l.inner_l3_end == v4_outer.size());
}

TEST_CASE("wire/packet_layout: NVGRE over IPv6 with a destination-options header and an outer VLAN") {
    const auto l = layout_of(v6_outer);
    REQUIRE(l.kind == frame_kind::nvgre);
    CHECK(l.outer_vlan_count == 1);
    CHECK(l.outer_vlan_id == 100);
    CHECK(l.outer_l3 == l3_kind::ipv6);
    CHECK(l.outer_l3_offset == 18);
    CHECK(l.outer_l3_header_len == 48);
    CHECK(l.gre_offset == 66);
    CHECK(l.vsid_bits() == 0x123456);
    CHECK(l.flow_id_bits() == 7);
    CHECK(l.inner_l3 == l3_kind::ipv6);
    CHECK(l.inner_protocol == ip_protocol::tcp);
    CHECK(l.inner_l4_offset == 74 + 14 + 40);
}

TEST_CASE("wire/packet_layout: Ethernet padding after the outer packet is ignored") {
    auto f = v4_outer;
    f.resize(f.size() + 18, std::byte{0});
    const auto l = layout_of(f);
    REQUIRE(l.kind == frame_kind::nvgre);
    CHECK(l.outer_l3_end == v4_outer.size());
}

TEST_CASE("wire/packet_layout: every truncated prefix is an error with an offset inside the frame") {
    for (const auto* golden : {&v4_outer, &v6_outer}) {
        for (std::size_t n = 0; n < golden->size(); ++n) {
            CAPTURE(n);
            const auto l = parse_packet_layout(std::span<const std::byte>(golden->data(), n));
            REQUIRE(l.kind == frame_kind::error);
            CHECK(l.error.code == errc::truncated);
            CHECK(l.error.offset <= n);
        }
    }
}

TEST_CASE("wire/packet_layout: rule violations and their reasons") {
    struct edit {
        const char* what;
        std::size_t at;
        std::uint8_t value;
        errc code;
        layer where;
    };
    // Offsets in v4_outer: outer IP 14, GRE 34, inner Ethernet 42.
    for (const auto& e : {edit{"S bit", 34, 0x30, errc::bad_gre_flags, layer::nvgre},
                          edit{"no K bit", 34, 0x00, errc::missing_key, layer::nvgre},
                          edit{"R bit", 34, 0x60, errc::gre_routing, layer::gre},
                          edit{"reserved bit 4", 34, 0x28, errc::bad_gre_flags, layer::gre},
                          edit{"reserved bit 5", 34, 0x24, errc::bad_gre_flags, layer::gre},
                          edit{"version 1", 35, 0x01, errc::bad_version, layer::gre},
                          edit{"protocol 0x0800", 36, 0x08, errc::bad_protocol, layer::nvgre},
                          edit{"VSID 0", 38, 0x00, errc::reserved_vsid, layer::nvgre}}) {
        const std::string what = e.what;
        CAPTURE(what);
        auto f = v4_outer;
        f[e.at] = std::byte{e.value};
        if (e.at == 36) f[37] = std::byte{0x00};
        if (e.at == 38) f[39] = std::byte{0x00}, f[40] = std::byte{0x00};
        const auto l = layout_of(f);
        REQUIRE(l.kind == frame_kind::error);
        CHECK(l.error.code == e.code);
        CHECK(l.error.where == e.where);
        CHECK(l.error.offset >= 34);
    }
}

TEST_CASE("wire/packet_layout: reserved GRE bits 6-12 are ignored on receipt") {
    for (int bit = 6; bit <= 12; ++bit) {
        auto f = v4_outer;
        const std::uint16_t word = static_cast<std::uint16_t>(0x2000 | (0x8000 >> bit));
        f[34] = std::byte{static_cast<std::uint8_t>(word >> 8)};
        f[35] = std::byte{static_cast<std::uint8_t>(word)};
        CAPTURE(bit);
        CHECK(layout_of(f).kind == frame_kind::nvgre);
    }
}

TEST_CASE("wire/packet_layout: inner 802.1Q tag is rejected (RFC 7637 section 3.2)") {
    auto f = v4_outer;
    const auto tag = from_hex("81000064");
    f.insert(f.begin() + 42 + 12, tag.begin(), tag.end());
    // Outer total length grows by 4: patch it and the checksum.
    f[17] = std::byte{static_cast<std::uint8_t>(std::to_integer<unsigned>(f[17]) + 4)};
    fix_outer_ipv4_checksum(f);
    const auto l = layout_of(f);
    REQUIRE(l.kind == frame_kind::error);
    CHECK(l.error.code == errc::inner_vlan);
    CHECK(l.error.where == layer::inner_vlan);
    CHECK(l.error.offset == 42 + 12);
}

TEST_CASE("wire/packet_layout: outer IPv4 problems") {
    SUBCASE("bad header checksum") {
        auto f = v4_outer;
        f[24] = std::byte{0xde};
        const auto l = layout_of(f);
        REQUIRE(l.kind == frame_kind::error);
        CHECK(l.error.code == errc::bad_checksum);
        CHECK(l.error.where == layer::ipv4);
        CHECK(l.error.offset == 24);
    }
    SUBCASE("more-fragments set: fragments are dropped, not reassembled") {
        auto f = v4_outer;
        f[20] = std::byte{0x20};  // MF, offset 0
        fix_outer_ipv4_checksum(f);
        const auto l = layout_of(f);
        REQUIRE(l.kind == frame_kind::error);
        CHECK(l.error.code == errc::fragmented);
        CHECK(l.error.where == layer::ipv4);
        CHECK(l.error.offset == 20);
    }
    SUBCASE("non-first fragment") {
        auto f = v4_outer;
        f[20] = std::byte{0x00};
        f[21] = std::byte{0x10};
        fix_outer_ipv4_checksum(f);
        CHECK(layout_of(f).error.code == errc::fragmented);
    }
    SUBCASE("total length larger than the frame") {
        auto f = v4_outer;
        f[17] = std::byte{0x60};
        fix_outer_ipv4_checksum(f);
        const auto l = layout_of(f);
        REQUIRE(l.kind == frame_kind::error);
        CHECK(l.error.code == errc::truncated);
        CHECK(l.error.where == layer::ipv4);
    }
    SUBCASE("total length smaller than the header") {
        auto f = v4_outer;
        f[17] = std::byte{0x10};
        fix_outer_ipv4_checksum(f);
        CHECK(layout_of(f).error.code == errc::bad_length);
    }
    SUBCASE("total length cutting into the inner frame") {
        auto f = v4_outer;
        f[17] = std::byte{0x30};  // 48: GRE + 20 bytes of the inner frame
        fix_outer_ipv4_checksum(f);
        const auto l = layout_of(f);
        REQUIRE(l.kind == frame_kind::error);
        CHECK(l.error.code == errc::truncated);
        CHECK(l.error.where == layer::inner_ipv4);
    }
    SUBCASE("a two-tag outer frame") {
        std::vector<std::byte> f(v4_outer.begin(), v4_outer.begin() + 12);
        for (auto b : from_hex("88a8000a81000064")) f.push_back(b);
        f.insert(f.end(), v4_outer.begin() + 12, v4_outer.end());
        const auto l = layout_of(f);
        REQUIRE(l.kind == frame_kind::error);
        CHECK(l.error.code == errc::bad_outer_vlan);
    }
}

TEST_CASE("wire/packet_layout: an outer IPv6 fragment header carrying GRE is dropped") {
    // v6_outer with its destination-options header turned into a fragment header (MF set).
    auto f = v6_outer;
    f[24] = std::byte{ip_protocol::ipv6_fragment};
    const auto frag = from_hex("2f00000112345678");
    std::copy(frag.begin(), frag.end(), f.begin() + 58);
    const auto l = layout_of(f);
    REQUIRE(l.kind == frame_kind::error);
    CHECK(l.error.code == errc::fragmented);
    CHECK(l.error.where == layer::ipv6_extension);
    CHECK(l.error.offset == 58);
}

TEST_CASE("wire/packet_layout: other frames") {
    SUBCASE("ARP") {
        const auto f = from_hex("ffffffffffff00155d0000050806 0001080006040001 00155d0000050a000005 0000000000000a000006");
        const auto l = parse_packet_layout(f);
        CHECK(l.kind == frame_kind::other);
        CHECK(l.outer_l3 == l3_kind::arp);
    }
    SUBCASE("IPv4 that is not GRE") {
        auto f = v4_outer;
        f[23] = std::byte{17};
        fix_outer_ipv4_checksum(f);
        const auto l = layout_of(f);
        CHECK(l.kind == frame_kind::other);
        CHECK(l.outer_protocol == 17);
    }
    SUBCASE("IPv4 that is not GRE, with an unfinished header checksum (checksum offload)") {
        auto f = v4_outer;
        f[23] = std::byte{17};
        f[24] = std::byte{0};
        f[25] = std::byte{0};
        CHECK(layout_of(f).kind == frame_kind::other);
    }
    SUBCASE("LLDP") {
        const auto f = from_hex("0180c200000e00155d00000588cc 0207040015 5d000005");
        const auto l = parse_packet_layout(f);
        CHECK(l.kind == frame_kind::other);
        CHECK(l.outer_ether_type == 0x88cc);
    }
}

TEST_CASE("wire/packet_layout: a GRE checksum is judged by the GRE layer, then NVGRE forbids the C bit") {
    // Layers judge in stack order: GRE verifies its own checksum first, so a corrupted one is
    // reported as bad-checksum; a correct one still breaks RFC 7637 (C must be 0).
    auto f = v4_outer;
    std::vector<std::byte> g(f.begin(), f.begin() + 34);
    for (auto b : from_hex("a0006558 00000000 0013892a")) g.push_back(b);  // C + K
    g.insert(g.end(), f.begin() + 42, f.end());
    g[17] = std::byte{static_cast<std::uint8_t>(std::to_integer<unsigned>(g[17]) + 4)};
    fix_outer_ipv4_checksum(g);
    auto gre = mutable_gre_view::checked(std::span<std::byte>(g).subspan(34));
    REQUIRE(gre);
    gre->fill_checksum();
    auto valid = layout_of(g);
    REQUIRE(valid.kind == frame_kind::error);
    CHECK(valid.error.code == errc::bad_gre_flags);
    CHECK(valid.error.where == layer::nvgre);

    g[38] = std::byte{static_cast<std::uint8_t>(std::to_integer<unsigned>(g[38]) ^ 0xff)};
    auto corrupted = layout_of(g);
    REQUIRE(corrupted.kind == frame_kind::error);
    CHECK(corrupted.error.code == errc::bad_checksum);
    CHECK(corrupted.error.where == layer::gre);
    CHECK(corrupted.error.offset == 38);
}

namespace {
bool same_layout(const packet_layout& a, const packet_layout& b) {
    return a.kind == b.kind && a.error == b.error && a.outer_l2_len == b.outer_l2_len &&
           a.outer_vlan_count == b.outer_vlan_count && a.outer_vlan_id == b.outer_vlan_id &&
           a.outer_ether_type == b.outer_ether_type && a.outer_l3 == b.outer_l3 && a.outer_l3_offset == b.outer_l3_offset &&
           a.outer_l3_header_len == b.outer_l3_header_len && a.outer_l3_end == b.outer_l3_end &&
           a.outer_protocol == b.outer_protocol && a.outer_fragment == b.outer_fragment && a.gre_offset == b.gre_offset &&
           a.gre_header_len == b.gre_header_len && a.gre_protocol == b.gre_protocol && a.gre_key == b.gre_key &&
           a.inner_l2_offset == b.inner_l2_offset && a.inner_l2_len == b.inner_l2_len &&
           a.inner_ether_type == b.inner_ether_type && a.inner_l3 == b.inner_l3 && a.inner_l3_offset == b.inner_l3_offset &&
           a.inner_l3_header_len == b.inner_l3_header_len && a.inner_l3_end == b.inner_l3_end &&
           a.inner_protocol == b.inner_protocol && a.inner_fragment == b.inner_fragment &&
           a.inner_l4_offset == b.inner_l4_offset;
}
}  // namespace

TEST_CASE("wire/packet_layout: the common-frame path gives what the general parser gives") {
    // parse_packet_layout answers IPv4-in-IPv4 NVGRE without options or tags on a straight
    // path; mutate the golden frame (every byte of its headers, flipped bits, lengths, cuts) and
    // compare every field with parse_packet_layout_general.
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    auto next = [&x] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    std::size_t fast = 0, checked = 0;
    for (int it = 0; it < 200000; ++it) {
        std::vector<std::byte> f = v4_outer;
        const int mutations = static_cast<int>(next() % 4);
        for (int m = 0; m < mutations; ++m) {
            const std::size_t at = next() % 80;
            f[at] = next() % 3 == 0 ? std::byte(next()) : f[at] ^ std::byte(1u << (next() % 8));
        }
        std::size_t len = f.size();
        if (next() % 8 == 0) len = next() % (f.size() + 1);
        const std::span<const std::byte> b(f.data(), len);
        packet_layout scratch;
        fast += nvgre::detail::parse_common_nvgre(b, 0, scratch) ? 1 : 0;
        ++checked;
        if (!same_layout(parse_packet_layout(b), parse_packet_layout_general(b))) {
            FAIL("layouts differ at iteration " << it);
            break;
        }
    }
    CHECK(checked == 200000);
    CHECK(fast > 10000);  // the path was taken often enough to mean something
}

namespace {
/// An NVGRE frame carrying a UDP datagram of `payload` bytes: IPv4 or IPv6 outside and inside.
std::vector<std::byte> big_nvgre(bool outer_v6, bool inner_v6, std::size_t payload) {
    using namespace nvgre::test;
    const auto inner = udp_frame(mac("00:15:5d:00:00:05"), mac("00:15:5d:00:00:06"), ip(inner_v6 ? "fd00::5" : "10.0.0.5"),
                                 ip(inner_v6 ? "fd00::6" : "10.0.0.6"), payload);
    buffer b(inner);
    datapath::encap_params p;
    p.outer_source_mac = mac("02:00:00:00:00:01");
    p.outer_destination_mac = mac("02:00:00:00:00:02");
    p.outer_source = ip(outer_v6 ? "2001:db8::1" : "192.168.1.1");
    p.outer_destination = ip(outer_v6 ? "2001:db8::2" : "192.168.1.2");
    p.vsid = *nvgre::vsid::make(5001);
    REQUIRE(datapath::encapsulate(b.f, p));
    return b.bytes();
}
}  // namespace

TEST_CASE("wire/packet_layout: a frame that continues in a chain parses as the same frame in one piece") {
    for (const bool outer_v6 : {false, true})
        for (const bool inner_v6 : {false, true})
            for (const std::size_t payload : {std::size_t{300}, std::size_t{1400}, std::size_t{8900}}) {
                auto f = big_nvgre(outer_v6, inner_v6, payload);
                f.resize(f.size() + 7, std::byte{0});  // padding, which ends up in the chain
                const auto whole = parse_packet_layout(f);
                REQUIRE(whole.kind == frame_kind::nvgre);
                for (const std::size_t first : {first_segment_bytes, std::size_t{257}, std::size_t{1000}, f.size() - 1}) {
                    CAPTURE(outer_v6);
                    CAPTURE(inner_v6);
                    CAPTURE(first);
                    test::chained_buffer b(f, first, {1, 999});
                    const auto l = parse_packet_layout(b.f.bytes(), b.f.tail);
                    CHECK(same_layout(l, whole));
                    CHECK(l.inner_l4_offset < first);  // offsets in the first segment; ends may lie past it
                }
                // Lengths are judged against the chain too: a packet longer than both is cut short.
                test::chained_buffer cut(std::span<const std::byte>(f).first(f.size() - 100), 400);
                const auto l = parse_packet_layout(cut.f.bytes(), cut.f.tail);
                CHECK(l.kind == frame_kind::error);
                CHECK(l.error.code == errc::truncated);
                // A first segment shorter than first_segment_bytes: split-headers, nothing parsed.
                test::chained_buffer split(f, first_segment_bytes - 1);
                const auto s = parse_packet_layout(split.f.bytes(), split.f.tail);
                CHECK(s.kind == frame_kind::error);
                CHECK(s.error.code == errc::split_headers);
            }
}

TEST_CASE("wire/packet_layout: a GRE checksum over a chained frame sums the chain") {
    const auto f = big_nvgre(false, false, 2000);
    std::vector<std::byte> g(f.begin(), f.begin() + 34);
    for (auto b : from_hex("a0006558 00000000 0013892a")) g.push_back(b);  // C + K
    g.insert(g.end(), f.begin() + 42, f.end());
    const auto total = static_cast<std::uint16_t>((std::to_integer<unsigned>(g[16]) << 8 | std::to_integer<unsigned>(g[17])) + 4);
    g[16] = std::byte{static_cast<unsigned char>(total >> 8)};
    g[17] = std::byte{static_cast<unsigned char>(total & 0xff)};
    fix_outer_ipv4_checksum(g);
    auto gre = mutable_gre_view::checked(std::span<std::byte>(g).subspan(34));
    REQUIRE(gre);
    gre->fill_checksum();
    for (const std::size_t first : {std::size_t{256}, std::size_t{257}, std::size_t{1501}}) {
        CAPTURE(first);
        test::chained_buffer valid(g, first, {3, 77});
        const auto l = parse_packet_layout(valid.f.bytes(), valid.f.tail);
        CHECK(l.error.code == errc::bad_gre_flags);  // verified, then NVGRE forbids the C bit
        auto corrupt = g;
        corrupt[1800] ^= std::byte{0x40};  // in the chain
        test::chained_buffer bad(corrupt, first, {3, 77});
        const auto c = parse_packet_layout(bad.f.bytes(), bad.f.tail);
        CHECK(c.error.code == errc::bad_checksum);
        CHECK(c.error.where == layer::gre);
    }
}
