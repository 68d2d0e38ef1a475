// Pseudo-header sums: TCP and UDP checksums over IPv4 and IPv6 from scapy-built packets
// verify with fold(sum(l4, pseudo)) == 0xffff and recompute to the stored value.
#include "nvgre/checksum/pseudo_header.hpp"

#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace {

namespace ck = nvgre::checksum;
using nvgre::ip_address;
using nvgre::ipv4_address;
using nvgre::ipv6_address;
using nvgre::test::from_hex;

// Golden packets, generated with scapy 2.5 (Debian python3-scapy, /usr/bin/python3):
//   bytes(IP(src="10.0.0.1",dst="10.0.0.2",id=1)/UDP(sport=12345,dport=4789)/b"hello nvgre")
const char* const udp4_hex =
    "4500002700010000401166c30a0000010a000002303912b5001329fc68656c6c6f206e76677265";
//   bytes(IP(src="192.0.2.1",dst="198.51.100.7",id=7)/TCP(sport=443,dport=50000,seq=0x01020304,
//         ack=0x0a0b0c0d,flags="PA",window=8192)/b"GET / HTTP/1.1\r\n\r")
const char* const tcp4_hex =
    "450000390007000040068e7cc0000201c633640701bbc350010203040a0b0c0d50182000e5be0000474554202f20485454502f312e310d0a0d";
//   bytes(IPv6(src="2001:db8::1",dst="2001:db8:0:1::ff",hlim=64)/UDP(sport=53,dport=33333)/b"odd-length!")
const char* const udp6_hex =
    "600000000013114020010db800000000000000000000000120010db80000000100000000000000ff003582350013dd236f64642d6c656e67746821";
//   bytes(IPv6(src="fe80::1",dst="2001:db8::abcd:1234",hlim=64)/TCP(sport=22,dport=40000,seq=1000,ack=2000,
//         flags="A",window=65535)/b"ssh-2.0")
const char* const tcp6_hex =
    "60000000001b0640fe80000000000000000000000000000120010db80000000000000000abcd123400169c40000003e8000007d05010ffffdfb300007373682d322e30";

struct parsed {
    ip_address src, dst;
    std::uint8_t proto;
    std::vector<std::byte> l4;
};

parsed parse(const std::vector<std::byte>& pkt) {
    parsed p;
    if ((std::to_integer<unsigned>(pkt[0]) >> 4) == 4) {
        p.src = ipv4_address::from_bytes(std::span(pkt).subspan(12));
        p.dst = ipv4_address::from_bytes(std::span(pkt).subspan(16));
        p.proto = std::to_integer<std::uint8_t>(pkt[9]);
        p.l4.assign(pkt.begin() + 20, pkt.end());
    } else {
        p.src = ipv6_address::from_bytes(std::span(pkt).subspan(8));
        p.dst = ipv6_address::from_bytes(std::span(pkt).subspan(24));
        p.proto = std::to_integer<std::uint8_t>(pkt[6]);
        p.l4.assign(pkt.begin() + 40, pkt.end());
    }
    return p;
}

}  // namespace

static_assert(ck::ipv4_pseudo_header_sum(ipv4_address::from_uint(0x0a000001), ipv4_address::from_uint(0x0a000002), 17,
                                         19) == 0x1427);

TEST_CASE("IPv4 pseudo-header sum by hand") {
    // 0a00 + 0001 + 0a00 + 0002 + 0011 + 0013 = 0x1427
    CHECK(ck::ipv4_pseudo_header_sum(ipv4_address::from_uint(0x0a000001), ipv4_address::from_uint(0x0a000002),
                                     ck::ip_protocol_udp, 19) == 0x1427);
    // Carries fold: ffff ffff + ffff ffff + 0x06 + 0xffff.
    CHECK(ck::ipv4_pseudo_header_sum(ipv4_address::from_uint(0xffffffff), ipv4_address::from_uint(0xffffffff),
                                     ck::ip_protocol_tcp, 0xffff) == ck::fold64(5 * 0xffffull + 6));
}

TEST_CASE("IPv6 pseudo-header sum equals the sum of the RFC 8200 section 8.1 layout") {
    const auto src = *ipv6_address::parse("2001:db8::1");
    const auto dst = *ipv6_address::parse("2001:db8:0:1::ff");
    // src, dst, 32-bit length, 3 zero bytes, next header
    std::vector<std::byte> layout(40);
    src.to_bytes(std::span(layout).subspan(0, 16));
    dst.to_bytes(std::span(layout).subspan(16, 16));
    const std::uint32_t len = 0x00012345;  // a jumbogram-sized length exercises the upper half
    layout[32] = std::byte{0x00};
    layout[33] = std::byte{0x01};
    layout[34] = std::byte{0x23};
    layout[35] = std::byte{0x45};
    layout[39] = std::byte{ck::ip_protocol_icmpv6};
    CHECK(ck::ipv6_pseudo_header_sum(src, dst, ck::ip_protocol_icmpv6, len) == ck::sum(layout));
    CHECK(ck::pseudo_header_sum(src, dst, ck::ip_protocol_icmpv6, len) == ck::sum(layout));
}

TEST_CASE("scapy golden TCP/UDP over IPv4 and IPv6 verify with the pseudo-header") {
    for (const char* hex : {udp4_hex, tcp4_hex, udp6_hex, tcp6_hex}) {
        CAPTURE(hex);
        const auto pkt = from_hex(hex);
        auto p = parse(pkt);
        const auto len = static_cast<std::uint32_t>(p.l4.size());
        const std::uint32_t pseudo = ck::pseudo_header_sum(p.src, p.dst, p.proto, len);
        if (p.src.is_v4())
            CHECK(pseudo == ck::ipv4_pseudo_header_sum(p.src.v4(), p.dst.v4(), p.proto, static_cast<std::uint16_t>(len)));
        else
            CHECK(pseudo == ck::ipv6_pseudo_header_sum(p.src.v6(), p.dst.v6(), p.proto, len));
        // Verify: the segment including its checksum plus the pseudo-header is -0.
        CHECK(ck::fold(ck::sum(p.l4, pseudo)) == 0xffff);
        // Recompute: zero the field (UDP offset 6, TCP offset 16), finish, compare.
        const std::size_t field = p.proto == ck::ip_protocol_udp ? 6 : 16;
        const auto stored = static_cast<std::uint16_t>((std::to_integer<unsigned>(p.l4[field]) << 8) |
                                                       std::to_integer<unsigned>(p.l4[field + 1]));
        p.l4[field] = p.l4[field + 1] = std::byte{0};
        CHECK(ck::finish(ck::sum(p.l4, pseudo)) == stored);
        // A corrupted byte no longer verifies.
        p.l4[field] = std::byte{0x01};
        CHECK(ck::fold(ck::sum(p.l4, pseudo)) != 0xffff);
    }
}

TEST_CASE("the stored checksums are the ones scapy computed") {
    CHECK(parse(from_hex(udp4_hex)).l4[6] == std::byte{0x29});
    CHECK(parse(from_hex(udp4_hex)).l4[7] == std::byte{0xfc});
    CHECK(parse(from_hex(tcp6_hex)).l4[16] == std::byte{0xdf});
    CHECK(parse(from_hex(tcp6_hex)).l4[17] == std::byte{0xb3});
}
