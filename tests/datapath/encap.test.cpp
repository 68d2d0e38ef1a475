#include "nvgre/datapath/encap.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/datapath/flow_hash.hpp"
#include "nvgre/wire/arp.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/packet_layout.hpp"
#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::wire;
using nvgre::test::from_hex;
using nvgre::test::to_hex;

namespace {

// Golden frames, made with scapy 2.5 (Debian python3-scapy, run as /usr/bin/python3):
//   inner = Ether(src="00:15:5d:00:00:05", dst="00:15:5d:00:00:06")
//           / IP(src="10.0.0.5", dst="10.0.0.6", ttl=64, tos=0xb9, id=1) / UDP(sport=5000, dport=5001) / b"hello nvgre"
//   gre = GRE(key_present=1, proto=0x6558, key=(5001<<8)|42)
//   o4 = IP(src="192.168.10.11", dst="192.168.10.12", flags="DF", ttl=64, tos=0xb9, id=0)
//   o6 = IPv6(src="2001:db8::11", dst="2001:db8::12", hlim=64, tc=0xb9, fl=42*0x1010)
//   e = Ether(src="02:00:c0:a8:0a:0b", dst="02:00:c0:a8:0a:0c")
//   bytes(e/o4/gre/inner), bytes(e/Dot1Q(vlan=100)/o4/gre/inner), bytes(e/o6/gre/inner),
//   bytes(e/Dot1Q(vlan=100)/o6/gre/inner)
// (the IPv6 flow label is the one apply(f, FlowID 42) derives: 42 * 0x01010 = 0x2a2a0).
const std::string inner_hex =
    "00155d00000600155d000005080045b9002700010000401166020a0000050a00000613881389001345d168656c6c6f206e76677265";
const std::string golden_v4_hex =
    "0200c0a80a0c0200c0a80a0b080045b9005100004000402fa45dc0a80a0bc0a80a0c200065580013892a" + inner_hex;
const std::string golden_v4_tag_hex =
    "0200c0a80a0c0200c0a80a0b81000064080045b9005100004000402fa45dc0a80a0bc0a80a0c200065580013892a" + inner_hex;
const std::string golden_v6_hex =
    "0200c0a80a0c0200c0a80a0b86dd6b92a2a0003d2f4020010db800000000000000000000001120010db8000000000000000000000012"
    "200065580013892a" +
    inner_hex;
const std::string golden_v6_tag_hex =
    "0200c0a80a0c0200c0a80a0b8100006486dd6b92a2a0003d2f4020010db800000000000000000000001120010db8000000000000000000000012"
    "200065580013892a" +
    inner_hex;

constexpr std::size_t headroom = 128;

encap_params params(bool v6, std::uint16_t vlan = 0, bool hw = false, std::uint8_t ttl = 64, std::uint32_t vsid = 5001) {
    return encap_params{
        .outer_source_mac = mac_address::parse("02:00:c0:a8:0a:0b").value(),
        .outer_destination_mac = mac_address::parse("02:00:c0:a8:0a:0c").value(),
        .vlan = vlan,
        .outer_source = ip_address::parse(v6 ? "2001:db8::11" : "192.168.10.11").value(),
        .outer_destination = ip_address::parse(v6 ? "2001:db8::12" : "192.168.10.12").value(),
        .vsid = vsid::make(vsid).value(),
        .ttl = ttl,
        .outer_ipv4_checksum_by_hardware = hw,
    };
}

encap_template make_template(bool v6, std::uint16_t vlan = 0, bool hw = false, std::uint8_t ttl = 64) {
    auto t = encap_template::make(params(v6, vlan, hw, ttl));
    REQUIRE(t.has_value());
    return *t;
}

// A buffer holding `inner` after `room` bytes of 0xa5, and a frame over it.
struct buffered {
    std::vector<std::byte> buf;
    frame f;
    buffered(const std::vector<std::byte>& inner, std::size_t room = headroom, std::size_t tail = 0)
        : buf(nvgre::test::prefilled(room + inner.size() + tail)) {
        std::copy(inner.begin(), inner.end(), buf.begin() + static_cast<std::ptrdiff_t>(room));
        f = frame(buf, room, inner.size());
    }
    std::vector<std::byte> bytes() const { return {f.bytes().begin(), f.bytes().end()}; }
};

// An encapsulated copy of `inner`, as a plain vector (for decap tests).
std::vector<std::byte> encapsulated(const std::vector<std::byte>& inner, const encap_template& t, nvgre::flow_id flow) {
    buffered b(inner);
    REQUIRE(t.apply(b.f, flow).has_value());
    return b.bytes();
}

const mac_address vm_a{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x05}};
const mac_address vm_b{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x06}};

// Inner frames: Ethernet + IPv4/IPv6 + TCP/UDP/ICMP, ARP, or another EtherType.
enum class inner_kind { v4_tcp, v4_udp, v4_icmp, v6_tcp, v6_udp, arp, lldp };
constexpr std::array all_inner_kinds{inner_kind::v4_tcp, inner_kind::v4_udp, inner_kind::v4_icmp, inner_kind::v6_tcp,
                                     inner_kind::v6_udp, inner_kind::arp,    inner_kind::lldp};

std::vector<std::byte> inner_frame(inner_kind k, std::size_t payload, std::uint8_t tos, std::mt19937_64& rng) {
    const bool v4 = k == inner_kind::v4_tcp || k == inner_kind::v4_udp || k == inner_kind::v4_icmp;
    const bool v6 = k == inner_kind::v6_tcp || k == inner_kind::v6_udp;
    const std::uint8_t proto = k == inner_kind::v4_tcp || k == inner_kind::v6_tcp   ? ip_protocol::tcp
                               : k == inner_kind::v4_udp || k == inner_kind::v6_udp ? ip_protocol::udp
                                                                                    : ip_protocol::icmp;
    const std::size_t l4 = proto == ip_protocol::tcp ? 20 : 8;
    const std::size_t l3_len = v4 ? 20 + l4 + payload : v6 ? 40 + l4 + payload : k == inner_kind::arp ? 28 : payload + 2;
    std::vector<std::byte> f(14 + l3_len);
    for (auto& b : f) b = static_cast<std::byte>(rng());
    ethernet_repr e;
    e.destination = vm_b;
    e.source = vm_a;
    e.ether_type = v4 ? ethertype::ipv4 : v6 ? ethertype::ipv6 : k == inner_kind::arp ? ethertype::arp : 0x88cc;
    e.emit(f);
    const std::span<std::byte> l3 = std::span<std::byte>(f).subspan(14);
    if (v4) {
        ipv4_repr ip;
        ip.source = ipv4_address::from_uint(static_cast<std::uint32_t>(rng()));
        ip.destination = ipv4_address::from_uint(static_cast<std::uint32_t>(rng()));
        ip.protocol = proto;
        ip.dscp = static_cast<std::uint8_t>(tos >> 2);
        ip.ecn = static_cast<std::uint8_t>(tos & 3);
        ip.identification = static_cast<std::uint16_t>(rng());
        ip.dont_fragment = rng() % 2 == 0;
        ip.payload_len = static_cast<std::uint16_t>(l4 + payload);
        ip.emit(l3);
    } else if (v6) {
        ipv6_repr ip;
        std::array<std::uint8_t, 16> a{}, b{};
        for (auto& x : a) x = static_cast<std::uint8_t>(rng());
        for (auto& x : b) x = static_cast<std::uint8_t>(rng());
        ip.source = ipv6_address{a};
        ip.destination = ipv6_address{b};
        ip.next_header = proto;
        ip.dscp = static_cast<std::uint8_t>(tos >> 2);
        ip.ecn = static_cast<std::uint8_t>(tos & 3);
        ip.flow_label = static_cast<std::uint32_t>(rng()) & 0xfffff;
        ip.payload_len = static_cast<std::uint16_t>(l4 + payload);
        ip.emit(l3);
    } else if (k == inner_kind::arp) {
        arp_repr a;
        a.sender_mac = vm_a;
        a.sender_ip = ipv4_address::from_uint(static_cast<std::uint32_t>(rng()));
        a.target_ip = ipv4_address::from_uint(static_cast<std::uint32_t>(rng()));
        a.emit(l3);
    }
    return f;
}

std::uint8_t ecn_of_inner(std::span<const std::byte> inner) {
    if (nvgre::detail::load_be16(inner.data() + 12) == ethertype::ipv4) return nvgre::detail::load_u8(inner.data() + 15) & 3;
    return static_cast<std::uint8_t>((nvgre::detail::load_be16(inner.data() + 14) >> 4) & 3);
}

// Sets the outer ECN of an encapsulated frame (outer IP at `ip`), keeping the outer IPv4
// checksum valid.
void set_outer_ecn(std::vector<std::byte>& f, std::size_t ip, std::uint8_t ecn) {
    if ((nvgre::detail::load_u8(f.data() + ip) >> 4) == 4) {
        auto v = mutable_ipv4_view::unchecked(std::span<std::byte>(f).subspan(ip));
        v.set_ecn(ecn);
        v.fill_header_checksum();
    } else {
        mutable_ipv6_view::unchecked(std::span<std::byte>(f).subspan(ip)).set_ecn(ecn);
    }
}

}  // namespace

TEST_CASE("datapath/encap: header lengths and make() errors") {
    CHECK(make_template(false).header_len() == 42);
    CHECK(make_template(false, 100).header_len() == 46);
    CHECK(make_template(true).header_len() == 62);
    CHECK(make_template(true, 100).header_len() == 66);
    CHECK(make_template(false, 4094).header_len() == 46);

    auto mixed = params(false);
    mixed.outer_destination = ip_address::parse("2001:db8::12").value();
    auto r = encap_template::make(mixed);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::bad_value);
    auto vlan = params(true, 4095);
    REQUIRE_FALSE(encap_template::make(vlan).has_value());
    CHECK(encap_template::make(vlan).error().code == errc::bad_value);
    CHECK(encap_template::make(vlan).error().where == layer::vlan);
    auto ttl0 = params(false, 0, false, 0);
    REQUIRE_FALSE(encap_template::make(ttl0).has_value());
    CHECK(encap_template::make(ttl0).error().code == errc::bad_value);
}

TEST_CASE("datapath/encap: golden bytes (scapy) for IPv4, IPv4 + VLAN, IPv6, IPv6 + VLAN") {
    struct golden_case {
        bool v6;
        std::uint16_t vlan;
        const std::string* hex;
    };
    const auto inner = from_hex(inner_hex);
    for (const auto& g : {golden_case{false, 0, &golden_v4_hex}, golden_case{false, 100, &golden_v4_tag_hex},
                          golden_case{true, 0, &golden_v6_hex}, golden_case{true, 100, &golden_v6_tag_hex}}) {
        CAPTURE(g.v6);
        CAPTURE(g.vlan);
        const auto t = make_template(g.v6, g.vlan);
        buffered b(inner);  // headroom prefilled with 0xa5: a byte apply() forgot would show
        REQUIRE(t.apply(b.f, nvgre::flow_id{42}).has_value());
        CHECK(to_hex(b.bytes()) == *g.hex);
        CHECK(b.f.headroom() == headroom - t.header_len());
        // Nothing in front of the outer header was touched.
        for (std::size_t i = 0; i < b.f.headroom(); ++i) REQUIRE(b.buf[i] == std::byte{0xa5});
        // The whole frame classifies as NVGRE.
        const auto l = parse_packet_layout(b.f.bytes());
        CHECK(l.kind == frame_kind::nvgre);
        CHECK(l.vsid_bits() == 5001);
        CHECK(l.flow_id_bits() == 42);
        CHECK(t.vsid() == vsid::make(5001).value());
        CHECK(t.is_ipv6() == g.v6);
        CHECK(t.is_tagged() == (g.vlan != 0));
    }
}

TEST_CASE("datapath/encap: the outer IPv4 checksum is right for every length and TOS (RFC 1624 vs recomputation)") {
    std::mt19937_64 rng(1);
    for (std::uint16_t vlan : {std::uint16_t{0}, std::uint16_t{7}}) {
        const auto t = make_template(false, vlan);
        const std::size_t ip = vlan != 0 ? 18 : 14;
        for (std::size_t payload : {0u, 1u, 17u, 64u, 1400u, 9000u}) {
            for (int tos = 0; tos < 256; tos += 5) {
                auto inner = inner_frame(inner_kind::v4_udp, payload, static_cast<std::uint8_t>(tos), rng);
                buffered b(inner);
                REQUIRE(t.apply(b.f).has_value());
                const auto outer = ipv4_view::checked(b.f.bytes().subspan(ip));
                REQUIRE(outer.has_value());
                CHECK(outer->header_checksum_ok());
                CHECK(outer->header_checksum() == outer->compute_header_checksum());
                CHECK(outer->tos() == tos);
                CHECK(outer->total_len() == inner.size() + 28);
            }
        }
    }
}

TEST_CASE("datapath/encap: DSCP and ECN copied (RFC 6040 normal mode), DF, TTL / hop limit, identification 0") {
    std::mt19937_64 rng(2);
    const auto t4 = make_template(false, 0, false, 17);
    const auto t6 = make_template(true, 0, false, 9);
    for (int tos = 0; tos < 256; ++tos) {
        for (auto k : {inner_kind::v4_tcp, inner_kind::v6_udp}) {
            const auto inner = inner_frame(k, 10, static_cast<std::uint8_t>(tos), rng);
            buffered a(inner);
            REQUIRE(t4.apply(a.f).has_value());
            const auto o4 = ipv4_view::checked(a.f.bytes().subspan(14)).value();
            CHECK(o4.dscp() == tos >> 2);
            CHECK(o4.ecn() == (tos & 3));
            CHECK(o4.dont_fragment());
            CHECK_FALSE(o4.more_fragments());
            CHECK(o4.fragment_offset_units() == 0);
            CHECK(o4.ttl() == 17);
            CHECK(o4.identification() == 0);
            CHECK(o4.protocol() == ip_protocol::gre);
            buffered b(inner);
            REQUIRE(t6.apply(b.f).has_value());
            const auto o6 = ipv6_view::checked(b.f.bytes().subspan(14)).value();
            CHECK(o6.traffic_class() == tos);
            CHECK(o6.hop_limit() == 9);
            CHECK(o6.next_header() == ip_protocol::gre);
            CHECK(o6.payload_len() == inner.size() + 8);
        }
    }
    // Non-IP inner frames: TOS 0.
    const auto arp = inner_frame(inner_kind::arp, 0, 0, rng);
    buffered c(arp);
    REQUIRE(t4.apply(c.f).has_value());
    CHECK(ipv4_view::checked(c.f.bytes().subspan(14)).value().tos() == 0);
}

TEST_CASE("datapath/encap: apply(f) takes the FlowID and the IPv6 flow label from the inner flow") {
    std::mt19937_64 rng(3);
    const auto t6 = make_template(true);
    const auto t4 = make_template(false);
    for (auto k : all_inner_kinds) {
        const auto inner = inner_frame(k, 30, 0, rng);
        const auto h = flow_hash32(inner);
        buffered a(inner);
        REQUIRE(t6.apply(a.f).has_value());
        const auto l = parse_packet_layout(a.f.bytes());
        REQUIRE(l.kind == frame_kind::nvgre);
        CHECK(l.flow_id_bits() == flow_id_of(inner).value);
        CHECK(l.flow_id_bits() != 0);
        CHECK(ipv6_view::checked(a.f.bytes().subspan(14)).value().flow_label() == nvgre::detail::flow_label_from_hash(h));
        buffered b(inner);
        REQUIRE(t4.apply(b.f).has_value());
        CHECK(parse_packet_layout(b.f.bytes()).flow_id_bits() == flow_id_of(inner).value);
    }
    CHECK(nvgre::detail::flow_label_from_hash(0) == 0);
    CHECK(nvgre::detail::flow_label_from_hash(0x00100000u) == 1);
    CHECK(nvgre::detail::flow_label_from_hash(0x12345678u) == 0x45678u);
    CHECK(nvgre::detail::flow_label_from_flow_id(nvgre::flow_id{0}) == 0);
    CHECK(nvgre::detail::flow_label_from_flow_id(nvgre::flow_id{255}) <= 0xfffffu);
}

TEST_CASE("datapath/encap: encap then decap is the identity (random inner frames, every shape)") {
    std::mt19937_64 rng(6040);
    const std::array shapes{make_template(false), make_template(false, 100), make_template(true), make_template(true, 4094)};
    int runs = 0;
    for (const auto& t : shapes) {
        for (auto k : all_inner_kinds) {
            for (int i = 0; i < 40; ++i) {
                const std::size_t payload = i < 4 ? static_cast<std::size_t>(i) : rng() % 1500;
                const auto tos = static_cast<std::uint8_t>(rng());
                const auto inner = inner_frame(k, payload, tos, rng);
                buffered b(inner, headroom, 8);
                const bool explicit_flow = i % 2 == 0;
                const auto flow = nvgre::flow_id{static_cast<std::uint8_t>(rng())};
                REQUIRE((explicit_flow ? t.apply(b.f, flow) : t.apply(b.f)).has_value());
                const auto wire_bytes = b.bytes();
                auto d = decapsulate(b.f);
                REQUIRE(d.has_value());
                CHECK(b.bytes() == inner);
                CHECK(b.f.headroom() == headroom);
                CHECK(d->vsid.value() == 5001);
                CHECK(d->flow_id.value == (explicit_flow ? flow.value : flow_id_of(inner).value));
                CHECK(d->outer_source == (t.is_ipv6() ? ip_address::parse("2001:db8::11").value()
                                                      : ip_address::parse("192.168.10.11").value()));
                CHECK(d->outer_destination == (t.is_ipv6() ? ip_address::parse("2001:db8::12").value()
                                                           : ip_address::parse("192.168.10.12").value()));
                CHECK(d->outer_source_mac == mac_address::parse("02:00:c0:a8:0a:0b").value());
                CHECK(d->outer_destination_mac == mac_address::parse("02:00:c0:a8:0a:0c").value());
                CHECK(d->outer_vlan == (t.is_tagged() ? (t.is_ipv6() ? 4094 : 100) : 0));
                CHECK(d->layout.inner_l2_offset == t.header_len());
                CHECK(d->layout.outer_l3_end == wire_bytes.size());
                ++runs;
            }
        }
    }
    CHECK(runs == 4 * 7 * 40);
}

TEST_CASE("datapath/encap: RFC 6040 decapsulation, every row of Figure 4, inner IPv4 checksum kept valid") {
    std::mt19937_64 rng(4);
    // expected[inner][outer]; -1 = drop. Codepoints: Not-ECT 0, ECT(1) 1, ECT(0) 2, CE 3.
    constexpr int expected[4][4] = {
        /* inner Not-ECT */ {0, 0, 0, -1},
        /* inner ECT(1)  */ {1, 1, 1, 3},
        /* inner ECT(0)  */ {2, 1, 2, 3},
        /* inner CE      */ {3, 3, 3, 3},
    };
    for (std::uint8_t inner_ecn = 0; inner_ecn < 4; ++inner_ecn) {
        for (std::uint8_t outer_ecn = 0; outer_ecn < 4; ++outer_ecn) {
            const int want = expected[inner_ecn][outer_ecn];
            const auto table = rfc6040_decap_ecn(inner_ecn, outer_ecn);
            CHECK(table.has_value() == (want >= 0));
            if (table) CHECK(*table == want);
            for (bool outer_v6 : {false, true}) {
                for (auto k : {inner_kind::v4_tcp, inner_kind::v6_udp, inner_kind::arp}) {
                    CAPTURE(inner_ecn);
                    CAPTURE(outer_ecn);
                    CAPTURE(outer_v6);
                    const auto dscp = static_cast<std::uint8_t>(rng() % 64);
                    const auto inner = inner_frame(k, 16, static_cast<std::uint8_t>(dscp << 2 | inner_ecn), rng);
                    auto wire_bytes = encapsulated(inner, make_template(outer_v6), nvgre::flow_id{9});
                    set_outer_ecn(wire_bytes, 14, outer_ecn);
                    buffered b(wire_bytes);
                    auto d = decapsulate(b.f);
                    if (k == inner_kind::arp) {  // non-IP inner: never changed, never dropped
                        REQUIRE(d.has_value());
                        CHECK(b.bytes() == inner);
                        continue;
                    }
                    if (want < 0) {
                        REQUIRE_FALSE(d.has_value());
                        CHECK(d.error().code == errc::ecn_drop);
                        CHECK(d.error().where == (k == inner_kind::v4_tcp ? layer::inner_ipv4 : layer::inner_ipv6));
                        CHECK(b.bytes() == wire_bytes);  // unchanged
                        CHECK(b.f.headroom() == headroom);
                        continue;
                    }
                    REQUIRE(d.has_value());
                    CHECK(ecn_of_inner(b.f.bytes()) == want);
                    if (k == inner_kind::v4_tcp) {
                        const auto ip = ipv4_view::checked(b.f.bytes().subspan(14)).value();
                        CHECK(ip.header_checksum_ok());
                        CHECK(ip.dscp() == dscp);
                    } else {
                        CHECK(ipv6_view::checked(b.f.bytes().subspan(14)).value().dscp() == dscp);
                    }
                    // Nothing else changed.
                    auto expect = inner;
                    auto got = b.bytes();
                    REQUIRE(got.size() == expect.size());
                    for (std::size_t i : {std::size_t{15}, std::size_t{24}, std::size_t{25}}) got[i] = expect[i] = std::byte{0};
                    CHECK(got == expect);
                }
            }
        }
    }
}

TEST_CASE("datapath/encap: no_headroom leaves the frame unchanged; exactly enough headroom works") {
    const auto inner = from_hex(inner_hex);
    for (bool v6 : {false, true}) {
        for (std::uint16_t vlan : {std::uint16_t{0}, std::uint16_t{5}}) {
            const auto t = make_template(v6, vlan);
            buffered b(inner, t.header_len() - 1);
            b.f.offload.checksum_partial = true;
            b.f.offload.checksum_start = 34;
            const auto before = b.buf;
            auto r = t.apply(b.f);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == errc::no_headroom);
            CHECK(r.error().needed == t.header_len());
            CHECK(b.buf == before);
            CHECK(b.f.headroom() == t.header_len() - 1);
            CHECK(b.f.size() == inner.size());
            CHECK_FALSE(b.f.offload.encapsulated);
            CHECK(b.f.offload.checksum_start == 34);
            buffered exact(inner, t.header_len());
            REQUIRE(t.apply(exact.f, nvgre::flow_id{42}).has_value());
            CHECK(exact.f.headroom() == 0);
        }
    }
    // The brief's case: 41 bytes in front of an IPv4 template.
    buffered b(inner, 41);
    CHECK(make_template(false).apply(b.f).error().code == errc::no_headroom);
}

TEST_CASE("datapath/encap: apply() refuses inner frames it cannot carry, frame unchanged") {
    const auto t4 = make_template(false);
    const auto t6 = make_template(true);
    const auto inner = from_hex(inner_hex);
    buffered shortf(std::vector<std::byte>(inner.begin(), inner.begin() + 13));
    auto r = t4.apply(shortf.f);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::truncated);
    CHECK(r.error().where == layer::inner_ethernet);
    CHECK(shortf.f.headroom() == headroom);
    buffered fourteen(std::vector<std::byte>(inner.begin(), inner.begin() + 14));
    CHECK(t4.apply(fourteen.f).has_value());

    std::vector<std::byte> tagged(inner.begin(), inner.begin() + 12);
    for (auto x : from_hex("81000064")) tagged.push_back(x);
    tagged.insert(tagged.end(), inner.begin() + 12, inner.end());
    buffered tb(tagged);
    r = t6.apply(tb.f);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::inner_vlan);
    CHECK(tb.bytes() == tagged);

    std::vector<std::byte> big(max_inner_frame_len_ipv4 + 1, std::byte{0});
    std::copy(inner.begin(), inner.begin() + 14, big.begin());
    buffered bb(big);
    r = t4.apply(bb.f);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::bad_length);
    CHECK(bb.f.headroom() == headroom);
    CHECK(t6.apply(bb.f).has_value());  // IPv6 carries 20 bytes more
    buffered fits(std::vector<std::byte>(big.begin(), big.end() - 1));
    REQUIRE(t4.apply(fits.f).has_value());
    CHECK(ipv4_view::checked(fits.f.bytes().subspan(14)).value().total_len() == 65535);
}

TEST_CASE("datapath/encap: offload metadata") {
    std::mt19937_64 rng(5);
    const auto tcp4 = inner_frame(inner_kind::v4_tcp, 100, 0, rng);
    {
        const auto t = make_template(false);
        buffered b(tcp4);
        b.f.offload.checksum_partial = true;
        b.f.offload.checksum_start = 34;  // the inner TCP header
        b.f.offload.checksum_offset = 16;
        b.f.offload.segment_size = 1400;
        REQUIRE(t.apply(b.f).has_value());
        const auto& o = b.f.offload;
        CHECK(o.encapsulated);
        CHECK(o.outer_l2_len == 14);
        CHECK(o.outer_l3_len == 20);
        CHECK(o.inner_l2_offset == 42);
        CHECK(o.inner_l3_offset == 56);
        CHECK(o.inner_l4_offset == 76);
        CHECK_FALSE(o.outer_ipv4_checksum_by_hardware);
        CHECK(o.checksum_partial);
        CHECK(o.checksum_start == 76);
        CHECK(o.checksum_offset == 16);
        CHECK(o.segment_size == 1400);
        // Decap undoes it: the offsets describe the inner frame alone again.
        REQUIRE(decapsulate(b.f).has_value());
        CHECK_FALSE(b.f.offload.encapsulated);
        CHECK(b.f.offload.outer_l2_len == 0);
        CHECK(b.f.offload.outer_l3_len == 0);
        CHECK(b.f.offload.inner_l2_offset == 0);
        CHECK(b.f.offload.inner_l3_offset == 14);
        CHECK(b.f.offload.inner_l4_offset == 34);
        CHECK(b.f.offload.checksum_start == 34);
    }
    {
        const auto t = make_template(true, 10);
        const auto udp6 = inner_frame(inner_kind::v6_udp, 10, 0, rng);
        buffered b(udp6);
        REQUIRE(t.apply(b.f).has_value());
        const auto& o = b.f.offload;
        CHECK(o.outer_l2_len == 18);
        CHECK(o.outer_l3_len == 40);
        CHECK(o.inner_l2_offset == 66);
        CHECK(o.inner_l3_offset == 80);
        CHECK(o.inner_l4_offset == 120);
        CHECK_FALSE(o.checksum_partial);
        CHECK(o.checksum_start == 0);
    }
    for (auto k : {inner_kind::arp, inner_kind::lldp, inner_kind::v4_icmp}) {
        const auto t = make_template(false);
        buffered b(inner_frame(k, 10, 0, rng));
        REQUIRE(t.apply(b.f).has_value());
        CHECK(b.f.offload.inner_l3_offset == (k == inner_kind::v4_icmp ? 56 : 0));
        CHECK(b.f.offload.inner_l4_offset == 0);
    }
}

TEST_CASE("datapath/encap: outer IPv4 checksum by hardware: left 0, flag set") {
    const auto inner = from_hex(inner_hex);
    const auto t = make_template(false, 0, true);
    buffered b(inner);
    REQUIRE(t.apply(b.f, nvgre::flow_id{42}).has_value());
    CHECK(b.f.offload.outer_ipv4_checksum_by_hardware);
    auto got = b.bytes();
    CHECK(got[24] == std::byte{0});
    CHECK(got[25] == std::byte{0});
    // Filling it in gives the golden frame.
    mutable_ipv4_view::unchecked(std::span<std::byte>(got).subspan(14)).fill_header_checksum();
    CHECK(to_hex(got) == golden_v4_hex);
    // No IPv4 outer, no flag.
    const auto t6 = make_template(true, 0, true);
    buffered c(inner);
    REQUIRE(t6.apply(c.f).has_value());
    CHECK_FALSE(c.f.offload.outer_ipv4_checksum_by_hardware);
}

TEST_CASE("datapath/encap: set_vsid() and the one-off encapsulate()") {
    const auto inner = from_hex(inner_hex);
    auto t = make_template(false);
    t.set_vsid(vsid::make(0xabcdef).value());
    CHECK(t.vsid().value() == 0xabcdef);
    buffered b(inner);
    REQUIRE(t.apply(b.f, nvgre::flow_id{3}).has_value());
    const auto l = parse_packet_layout(b.f.bytes());
    REQUIRE(l.kind == frame_kind::nvgre);
    CHECK(l.gre_key == (0xabcdefu << 8 | 3u));

    buffered once(inner);
    REQUIRE(encapsulate(once.f, params(true, 100)).has_value());
    buffered twice(inner);
    REQUIRE(make_template(true, 100).apply(twice.f).has_value());
    CHECK(once.bytes() == twice.bytes());
    auto bad = params(false);
    bad.vlan = 5000;
    buffered c(inner);
    CHECK(encapsulate(c.f, bad).error().code == errc::bad_value);
    CHECK(c.f.headroom() == headroom);
}

TEST_CASE("datapath/encap: decap rejects each wire-rule violation with the layout's error, frame unchanged") {
    const auto inner = from_hex(inner_hex);
    const auto good = encapsulated(inner, make_template(false), nvgre::flow_id{42});  // outer IP 14, GRE 34, inner 42
    struct edit {
        const char* what;
        std::vector<std::pair<std::size_t, std::uint8_t>> bytes;
        bool fix_checksum;
        errc code;
    };
    const std::vector<edit> edits{
        {"GRE S bit", {{34, 0x30}}, false, errc::bad_gre_flags},
        {"GRE R bit", {{34, 0x60}}, false, errc::gre_routing},
        {"GRE no K bit", {{34, 0x00}}, false, errc::missing_key},
        {"GRE reserved0 bit 4", {{34, 0x28}}, false, errc::bad_gre_flags},
        {"GRE reserved0 bit 5", {{34, 0x24}}, false, errc::bad_gre_flags},
        {"GRE version 1", {{35, 0x01}}, false, errc::bad_version},
        {"protocol 0x0800", {{36, 0x08}, {37, 0x00}}, false, errc::bad_protocol},
        {"VSID 0", {{38, 0x00}, {39, 0x00}, {40, 0x00}}, false, errc::reserved_vsid},
        {"VSID 4095", {{38, 0x00}, {39, 0x0f}, {40, 0xff}}, false, errc::reserved_vsid},
        {"VSID 0xffffff", {{38, 0xff}, {39, 0xff}, {40, 0xff}}, false, errc::reserved_vsid},
        {"inner 802.1Q tag", {{54, 0x81}, {55, 0x00}}, false, errc::inner_vlan},
        {"outer bad checksum", {{24, 0x00}, {25, 0x00}}, false, errc::bad_checksum},
        {"outer MF (fragment)", {{20, 0x20}}, true, errc::fragmented},
        {"outer fragment offset", {{20, 0x40}, {21, 0x10}}, true, errc::fragmented},
        {"outer IPv4 version 5", {{14, 0x55}}, false, errc::bad_version},
        {"outer IHL 4", {{14, 0x44}}, false, errc::bad_header_length},
        {"outer total length past the frame", {{16, 0x01}, {17, 0x00}}, true, errc::truncated},
        {"outer total length below the header", {{16, 0x00}, {17, 0x10}}, true, errc::bad_length},
        {"inner IPv4 version 6", {{56, 0x65}}, false, errc::bad_version},
    };
    for (const auto& e : edits) {
        const std::string what = e.what;
        CAPTURE(what);
        auto f = good;
        for (auto [at, v] : e.bytes) f[at] = std::byte{v};
        if (e.fix_checksum) mutable_ipv4_view::unchecked(std::span<std::byte>(f).subspan(14)).fill_header_checksum();
        buffered b(f);
        auto d = decapsulate(b.f);
        REQUIRE_FALSE(d.has_value());
        const auto l = parse_packet_layout(f);
        REQUIRE(l.kind == frame_kind::error);
        CHECK(d.error() == l.error);
        CHECK(d.error().code == e.code);
        CHECK(b.bytes() == f);
        CHECK(b.f.headroom() == headroom);
    }

    // The C bit with a checksum field that verifies: NVGRE forbids it (rule 2).
    {
        std::vector<std::byte> f(good.begin(), good.begin() + 38);
        for (int i = 0; i < 4; ++i) f.push_back(std::byte{0});  // checksum + reserved1
        f.insert(f.end(), good.begin() + 38, good.end());
        f[34] = std::byte{0xa0};  // C and K
        nvgre::detail::store_be16(f.data() + 38, checksum::compute(std::span<const std::byte>(f).subspan(34)));
        auto ip = mutable_ipv4_view::unchecked(std::span<std::byte>(f).subspan(14));
        ip.set_total_len(static_cast<std::uint16_t>(ip.total_len() + 4));
        ip.fill_header_checksum();
        buffered b(f);
        auto d = decapsulate(b.f);
        REQUIRE_FALSE(d.has_value());
        CHECK(d.error().code == errc::bad_gre_flags);
        CHECK(d.error().where == layer::nvgre);
        CHECK(d.error() == parse_packet_layout(f).error);
        CHECK(b.bytes() == f);
        // The same with a checksum that does not verify: the GRE layer says so first.
        f[39] ^= std::byte{1};
        buffered c(f);
        CHECK(decapsulate(c.f).error().code == errc::bad_checksum);
    }
    // Two outer tags (802.1ad + 802.1Q) where rule 6 allows one.
    {
        std::vector<std::byte> f(good.begin(), good.begin() + 12);
        for (auto x : from_hex("88a8000a81000064")) f.push_back(x);
        f.insert(f.end(), good.begin() + 12, good.end());
        buffered b(f);
        auto d = decapsulate(b.f);
        REQUIRE_FALSE(d.has_value());
        CHECK(d.error().code == errc::bad_outer_vlan);
        CHECK(b.bytes() == f);
    }
    // Every truncated prefix: an error, never a read past the end (ASan), frame unchanged.
    for (std::size_t n = 0; n < good.size(); ++n) {
        CAPTURE(n);
        const std::vector<std::byte> f(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
        buffered b(f);
        auto d = decapsulate(b.f);
        REQUIRE_FALSE(d.has_value());
        CHECK(d.error() == parse_packet_layout(f).error);
        CHECK(b.bytes() == f);
    }
}

TEST_CASE("datapath/encap: decap of frames that are not GRE: bad_protocol at the field that says so") {
    const auto inner = from_hex(inner_hex);  // IPv4/UDP
    buffered udp(inner);
    auto d = decapsulate(udp.f);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().code == errc::bad_protocol);
    CHECK(d.error().where == layer::ipv4);
    CHECK(d.error().offset == 14 + 9);
    CHECK(udp.bytes() == inner);

    std::mt19937_64 rng(6);
    buffered arp(inner_frame(inner_kind::arp, 0, 0, rng));
    d = decapsulate(arp.f);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().code == errc::bad_protocol);
    CHECK(d.error().where == layer::ethernet);
    CHECK(d.error().offset == 12);

    // IPv6 + destination options + UDP: the options header's next-header byte (offset 54).
    // Made with scapy 2.5: Ether(src="00:00:00:00:00:00", dst="ff:ff:ff:ff:ff:ff")
    //   / IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrDestOpt() / UDP(sport=1, dport=2)
    const auto v6 = from_hex(
        "ffffffffffff00000000000086dd"
        "6000000000103c40fd000000000000000000000000000001fd000000000000000000000000000002"
        "1100010400000000"
        "00010002000805d7");
    buffered u6(v6);
    d = decapsulate(u6.f);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().code == errc::bad_protocol);
    CHECK(d.error().where == layer::ipv6_extension);
    CHECK(d.error().offset == 54);
    auto plain6 = v6;
    plain6[20] = std::byte{0x11};  // next header UDP directly (the options become "payload")
    buffered p6(plain6);
    d = decapsulate(p6.f);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().where == layer::ipv6);
    CHECK(d.error().offset == 20);
}

TEST_CASE("datapath/encap: decap of an IPv6 outer frame with a destination-options header and a VLAN tag") {
    // Golden, made with scapy 2.5 (as in tests/wire/packet_layout.test.cpp):
    //   Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q(vlan=100)
    //   / IPv6(src="2001:db8::11", dst="2001:db8::12", hlim=64) / IPv6ExtHdrDestOpt()
    //   / GRE(key_present=1, proto=0x6558, key=(0x123456<<8)|7)
    //   / Ether(src="00:15:5d:00:01:05", dst="00:15:5d:00:01:06")
    //   / IPv6(src="fd00::5", dst="fd00::6", hlim=64) / TCP(sport=40000, dport=80, flags="S")
    const std::string inner6 =
        "00155d00010600155d00010586dd"
        "6000000000140640fd000000000000000000000000000005fd000000000000000000000000000006"
        "9c400050000000000000000050022000f9450000";
    auto f = from_hex(
        "0200000000020200000000018100006486dd"
        "60000000005a3c4020010db800000000000000000000001120010db8000000000000000000000012"
        "2f00010400000000"
        "2000655812345607" +
        inner6);
    f.resize(f.size() + 6, std::byte{0});  // Ethernet padding after the outer packet: trimmed
    buffered b(f);
    auto d = decapsulate(b.f);
    REQUIRE(d.has_value());
    CHECK(to_hex(b.bytes()) == inner6);
    CHECK(d->vsid.value() == 0x123456);
    CHECK(d->flow_id.value == 7);
    CHECK(d->outer_vlan == 100);
    CHECK(d->outer_source == ip_address::parse("2001:db8::11").value());
    CHECK(d->outer_destination == ip_address::parse("2001:db8::12").value());
    CHECK(d->outer_source_mac == mac_address::parse("02:00:00:00:00:01").value());
    CHECK(d->outer_destination_mac == mac_address::parse("02:00:00:00:00:02").value());
    CHECK(d->layout.outer_l3_header_len == 48);
    CHECK(d->layout.inner_l2_offset == 74);
    CHECK(b.f.headroom() == headroom + 74);
    CHECK(b.f.offload.inner_l3_offset == 14);
    CHECK(b.f.offload.inner_l4_offset == 54);
}

TEST_CASE("datapath/encap: decap trims Ethernet padding after the outer packet, keeps the inner frame's own") {
    std::mt19937_64 rng(7);
    // A 14 + 28 byte ARP frame padded to 60 bytes, as a VM would send it.
    auto inner = inner_frame(inner_kind::arp, 0, 0, rng);
    inner.resize(60, std::byte{0});
    auto f = encapsulated(inner, make_template(false), nvgre::flow_id{1});
    f.resize(f.size() + 11, std::byte{0xee});
    buffered b(f);
    REQUIRE(decapsulate(b.f).has_value());
    CHECK(b.bytes() == inner);
}

TEST_CASE("datapath/encap: decapsulate(f, info) fills the caller's decap_info; failures leave f unchanged") {
    const auto inner = from_hex(inner_hex);
    const auto wire_bytes = encapsulated(inner, make_template(true, 100), nvgre::flow_id{77});
    buffered b(wire_bytes);
    decap_info info;
    REQUIRE(decapsulate(b.f, info).has_value());
    CHECK(b.bytes() == inner);
    CHECK(info.vsid.value() == 5001);
    CHECK(info.flow_id.value == 77);
    CHECK(info.outer_vlan == 100);
    CHECK(info.outer_source == ip_address::parse("2001:db8::11").value());
    CHECK(info.layout.kind == frame_kind::nvgre);
    CHECK(info.layout.inner_l2_offset == 66);

    auto bad = wire_bytes;
    // VSID 0 (reserved): GRE at 18 + 40 = 58, the VSID in bytes 62-64.
    bad[62] = std::byte{0};
    bad[63] = std::byte{0};
    bad[64] = std::byte{0};
    buffered c(bad);
    decap_info info2;
    auto r = decapsulate(c.f, info2);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::reserved_vsid);
    CHECK(info2.layout.kind == frame_kind::error);
    CHECK(c.bytes() == bad);
}

TEST_CASE("datapath/encap: decapsulate(f, layout, info) with a layout parsed before does the same") {
    const auto inner = from_hex(inner_hex);
    const auto wire_bytes = encapsulated(inner, make_template(true, 100), nvgre::flow_id{77});
    buffered a(wire_bytes);
    buffered b(wire_bytes);
    decap_info by_parse;
    decap_info by_layout;
    REQUIRE(decapsulate(a.f, by_parse).has_value());
    const auto layout = parse_packet_layout(b.f.bytes());
    REQUIRE(decapsulate(b.f, layout, by_layout).has_value());
    CHECK(a.bytes() == b.bytes());
    CHECK(b.bytes() == inner);
    CHECK(by_layout.vsid == by_parse.vsid);
    CHECK(by_layout.flow_id == by_parse.flow_id);
    CHECK(by_layout.outer_source == by_parse.outer_source);
    CHECK(by_layout.outer_destination_mac == by_parse.outer_destination_mac);
    CHECK(b.f.offload.inner_l3_offset == a.f.offload.inner_l3_offset);

    auto bad = wire_bytes;
    bad[62] = bad[63] = bad[64] = std::byte{0};  // reserved VSID
    buffered c(bad);
    decap_info info;
    auto r = decapsulate(c.f, parse_packet_layout(c.f.bytes()), info);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::reserved_vsid);
    CHECK(c.bytes() == bad);
}

TEST_CASE("datapath/encap: a compiled path gives what make() and the one-off encapsulate() give, byte for byte") {
    // Every shape, both checksum choices, TTLs and VSIDs, random inner frames: the header
    // compiled once (packet::compiled_header) and patched per packet is the same encapsulation.
    std::mt19937_64 rng(0xc0de);
    int compared = 0;
    for (bool v6 : {false, true})
        for (std::uint16_t vlan : {std::uint16_t{0}, std::uint16_t{100}})
            for (bool hw : {false, true})
                for (std::uint8_t ttl : {std::uint8_t{1}, std::uint8_t{64}, std::uint8_t{255}}) {
                    const auto p = params(v6, vlan, hw, ttl, 4096 + static_cast<std::uint32_t>(rng() % 100000));
                    const auto compiled = packet::compiled_header::compile(outer_path_of(p));
                    REQUIRE(compiled.has_value());
                    const encap_template from = encap_template::from(*compiled, p.vsid, ttl, hw);
                    const encap_template made = make_template(v6, vlan, hw, ttl);
                    for (inner_kind k : all_inner_kinds) {
                        const auto inner = inner_frame(k, rng() % 200, static_cast<std::uint8_t>(rng()), rng);
                        buffered a(inner), b(inner), c(inner), d(inner);
                        REQUIRE(encapsulate(a.f, *compiled, p.vsid, ttl, hw).has_value());
                        REQUIRE(encapsulate(b.f, p).has_value());
                        REQUIRE(from.apply(c.f).has_value());
                        auto with_vsid = made;
                        with_vsid.set_vsid(p.vsid);
                        REQUIRE(with_vsid.apply(d.f).has_value());
                        CHECK(a.bytes() == b.bytes());
                        CHECK(a.bytes() == c.bytes());
                        CHECK(a.bytes() == d.bytes());
                        CHECK(a.f.offload.inner_l3_offset == b.f.offload.inner_l3_offset);
                        CHECK(a.f.offload.outer_ipv4_checksum_by_hardware == (hw && !v6));
                        CHECK(from.header().size() == compiled->size());
                        ++compared;
                    }
                }
    CHECK(compared == 2 * 2 * 2 * 3 * static_cast<int>(all_inner_kinds.size()));
    // The refusals are the same too: no headroom, a tagged inner frame.
    const auto compiled = packet::compiled_header::compile(outer_path_of(params(false)));
    REQUIRE(compiled.has_value());
    const auto inner = from_hex(inner_hex);
    buffered tight(inner, 41);
    CHECK(encapsulate(tight.f, *compiled, vsid::make(5001).value(), 64).error().code == errc::no_headroom);
    CHECK(tight.f.headroom() == 41);
    buffered no_ttl(inner);
    const auto refused = encapsulate(no_ttl.f, *compiled, vsid::make(5001).value(), 0);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == errc::bad_value);
    CHECK(refused.error().where == layer::ipv4);
    CHECK(no_ttl.f.headroom() == headroom);
}
