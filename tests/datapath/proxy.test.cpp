#include "nvgre/datapath/proxy.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/wire/arp.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/icmpv6.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using nvgre::test::from_hex;
using nvgre::test::to_hex;

namespace {

// Golden frames, made with Debian's python3-scapy 2.5.0 (importable only from /usr/bin/python3):
//   /usr/bin/python3 -c 'from scapy.all import *; vm="00:15:5d:00:00:05"; ans="00:15:5d:00:00:06";
//     rtr="12:34:56:78:9a:bc"; print(bytes(PKT).hex())'
// with PKT as noted above each constant.

// Ether(dst="ff:ff:ff:ff:ff:ff", src=vm)/ARP(op=1, hwsrc=vm, psrc="10.0.0.5",
//   hwdst="00:00:00:00:00:00", pdst="10.0.0.6")                       (who-has 10.0.0.6 tell 10.0.0.5)
const auto arp_request = from_hex(
    "ffffffffffff 00155d000005 0806"
    "0001 0800 06 04 0001 00155d000005 0a000005 000000000000 0a000006");
// the same / Padding(b"\x00"*18)                                         (60 bytes, as from a wire)
const auto arp_request_padded = from_hex(
    "ffffffffffff 00155d000005 0806"
    "0001 0800 06 04 0001 00155d000005 0a000005 000000000000 0a000006"
    "000000000000000000000000000000000000");
// Ether(dst=vm, src=ans)/ARP(op=2, hwsrc=ans, psrc="10.0.0.6", hwdst=vm, pdst="10.0.0.5")  (is-at)
const auto arp_reply = from_hex(
    "00155d000005 00155d000006 0806"
    "0001 0800 06 04 0002 00155d000006 0a000006 00155d000005 0a000005");
// the same / Padding(b"\x00"*18)
const auto arp_reply_padded = from_hex(
    "00155d000005 00155d000006 0806"
    "0001 0800 06 04 0002 00155d000006 0a000006 00155d000005 0a000005"
    "000000000000000000000000000000000000");

// Ether(dst="33:33:ff:00:00:06", src=vm)/IPv6(src="fd00::5", dst="ff02::1:ff00:6", hlim=255)
//   /ICMPv6ND_NS(tgt="fd00::6")/ICMPv6NDOptSrcLLAddr(lladdr=vm)           (86 bytes)
const auto ns = from_hex(
    "3333ff000006 00155d000005 86dd"
    "6000000000203aff fd000000000000000000000000000005 ff0200000000000000000001ff000006"
    "87002272 00000000 fd000000000000000000000000000006 0101 00155d000005");
// Ether(dst=vm, src=ans)/IPv6(src="fd00::6", dst="fd00::5", hlim=255)
//   /ICMPv6ND_NA(R=0, S=1, O=1, tgt="fd00::6")/ICMPv6NDOptDstLLAddr(lladdr=ans)
const auto na = from_hex(
    "00155d000005 00155d000006 86dd"
    "6000000000203aff fd000000000000000000000000000006 fd000000000000000000000000000005"
    "8800c174 60000000 fd000000000000000000000000000006 0201 00155d000006");
// Ether(dst="33:33:ff:00:00:01", src=vm)/IPv6(src="fd00::5", dst="ff02::1:ff00:1", hlim=255)
//   /ICMPv6ND_NS(tgt="fd00::1")/ICMPv6NDOptSrcLLAddr(lladdr=vm)           (the gateway)
const auto ns_gateway = from_hex(
    "3333ff000001 00155d000005 86dd"
    "6000000000203aff fd000000000000000000000000000005 ff0200000000000000000001ff000001"
    "8700227c 00000000 fd000000000000000000000000000001 0101 00155d000005");
// Ether(dst=vm, src=rtr)/IPv6(src="fd00::1", dst="fd00::5", hlim=255)
//   /ICMPv6ND_NA(R=1, S=1, O=1, tgt="fd00::1")/ICMPv6NDOptDstLLAddr(lladdr=rtr)
const auto na_gateway = from_hex(
    "00155d000005 123456789abc 86dd"
    "6000000000203aff fd000000000000000000000000000001 fd000000000000000000000000000005"
    "88009b30 e0000000 fd000000000000000000000000000001 0201 123456789abc");
// Ether(dst="33:33:ff:00:00:06", src=vm)/IPv6(src="::", dst="ff02::1:ff00:6", hlim=255)
//   /ICMPv6ND_NS(tgt="fd00::6")                                           (DAD, 78 bytes)
const auto ns_dad = from_hex(
    "3333ff000006 00155d000005 86dd"
    "6000000000183aff 00000000000000000000000000000000 ff0200000000000000000001ff000006"
    "87007d9b 00000000 fd000000000000000000000000000006");
// Ether(dst="33:33:00:00:00:01", src=ans)/IPv6(src="fd00::6", dst="ff02::1", hlim=255)
//   /ICMPv6ND_NA(R=0, S=0, O=1, tgt="fd00::6")/ICMPv6NDOptDstLLAddr(lladdr=ans)
const auto na_dad = from_hex(
    "333300000001 00155d000006 86dd"
    "6000000000203aff fd000000000000000000000000000006 ff020000000000000000000000000001"
    "8800ff76 20000000 fd000000000000000000000000000006 0201 00155d000006");
// Ether(dst=ans, src=vm)/IPv6(src="fd00::5", dst="fd00::6", hlim=255)/ICMPv6ND_NS(tgt="fd00::6")
//                                                   (unicast neighbor unreachability detection)
const auto ns_unicast = from_hex(
    "00155d000006 00155d000005 86dd"
    "6000000000183aff fd000000000000000000000000000005 fd000000000000000000000000000006"
    "87008199 00000000 fd000000000000000000000000000006");
// the NS above ... /ICMPv6NDOptSrcLLAddr(lladdr=vm)/Raw(bytes.fromhex("0e01a1a2a3a4a5a6"))
//                                                   (plus a nonce option, RFC 3971; 94 bytes)
const auto ns_nonce = from_hex(
    "3333ff000006 00155d000005 86dd"
    "6000000000283aff fd000000000000000000000000000005 ff0200000000000000000001ff000006"
    "8700297b 00000000 fd000000000000000000000000000006 0101 00155d000005 0e01a1a2a3a4a5a6");
// the NS above with ICMPv6ND_NS(tgt="fd00::6", code=1)                    (checksum valid)
const auto ns_code1 = from_hex(
    "3333ff000006 00155d000005 86dd"
    "6000000000203aff fd000000000000000000000000000005 ff0200000000000000000001ff000006"
    "87012271 00000000 fd000000000000000000000000000006 0101 00155d000005");

const auto vm_mac = mac_address{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x05}};
const auto answer_mac = mac_address{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x06}};
const auto router_mac = mac_address{{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc}};

ipv6_address v6(const char* text) { return *ipv6_address::parse(text); }

constexpr std::size_t icmp_at = 54;

/// A frame in its own heap buffer, 0xa5 all round: `headroom` bytes in front, `tailroom` behind.
struct test_frame {
    std::unique_ptr<std::vector<std::byte>> buffer;
    datapath::frame f;
    std::size_t headroom;

    test_frame(const std::vector<std::byte>& bytes, std::size_t head, std::size_t tail)
        : buffer(std::make_unique<std::vector<std::byte>>(nvgre::test::prefilled(head + bytes.size() + tail))),
          headroom(head) {
        std::copy(bytes.begin(), bytes.end(), buffer->begin() + static_cast<std::ptrdiff_t>(head));
        f = datapath::frame(*buffer, head, bytes.size());
    }
    [[nodiscard]] std::vector<std::byte> contents() const { return {f.bytes().begin(), f.bytes().end()}; }
    /// Every byte outside the frame is still 0xa5.
    [[nodiscard]] bool outside_untouched() const {
        for (std::size_t i = 0; i < buffer->size(); ++i) {
            const bool inside = i >= f.data_offset() && i < f.data_offset() + f.size();
            if (!inside && (*buffer)[i] != std::byte{0xa5}) return false;
        }
        return true;
    }
};

/// Recomputes the ICMPv6 checksum of an IPv6 frame with our own checksum code, after a test has
/// edited one field, so that only that field is wrong. Precondition: no extension headers and
/// the IPv6 payload length fits the frame.
void refresh_icmpv6_checksum(std::vector<std::byte>& frame) {
    auto ip = wire::mutable_ipv6_view::checked(std::span(frame).subspan(14));
    REQUIRE(ip);
    auto icmp = wire::mutable_icmpv6_view::unchecked(ip->payload());
    icmp.fill_checksum(checksum::ipv6_pseudo_header_sum(ip->source(), ip->destination(), 58,
                                                        static_cast<std::uint32_t>(ip->payload().size())));
}

/// Parses with an exact-size heap copy so that ASan sees any read past the end.
result<arp_question> parse_arp_exact(std::span<const std::byte> bytes) {
    const std::vector<std::byte> copy(bytes.begin(), bytes.end());
    return parse_arp_request(copy);
}
result<nd_question> parse_ns_exact(std::span<const std::byte> bytes) {
    const std::vector<std::byte> copy(bytes.begin(), bytes.end());
    return parse_neighbor_solicitation(copy);
}

void check_error(const error& e, errc code, layer where, std::size_t offset) {
    CHECK(e.code == code);
    CHECK(e.where == where);
    CHECK(e.offset == offset);
}

/// The NA in `bytes` parses with the library's own wire views; checks its checksum with our
/// checksum code and returns the NA repr.
wire::icmpv6_na_repr parse_na_with_views(const std::vector<std::byte>& bytes) {
    auto eth = wire::ethernet_view::checked(bytes);
    REQUIRE(eth);
    CHECK(eth->tag_count() == 0);
    CHECK(eth->ether_type() == wire::ethertype::ipv6);
    auto ip = wire::ipv6_view::checked(eth->payload());
    REQUIRE(ip);
    CHECK(ip->next_header() == 58);
    CHECK(ip->hop_limit() == 255);
    CHECK(ip->payload_len() == 32);
    auto walk = wire::walk_extension_headers(*ip);
    REQUIRE(walk);
    CHECK(walk->upper_protocol == 58);
    auto icmp = wire::icmpv6_view::checked(ip->payload());
    REQUIRE(icmp);
    CHECK(icmp->checksum_ok(checksum::ipv6_pseudo_header_sum(ip->source(), ip->destination(), 58, 32)));
    auto repr = wire::icmpv6_na_repr::parse(*icmp);
    REQUIRE(repr);
    return *repr;
}

}  // namespace

// ---------------------------------------------------------------------------------------- ARP

TEST_CASE("datapath/proxy: ARP who-has 10.0.0.6 tell 10.0.0.5 parses") {
    auto q = parse_arp_request(arp_request);
    REQUIRE(q);
    CHECK(q->sender_mac == vm_mac);
    CHECK(q->sender_ip == ipv4_address::from_uint(0x0a000005));
    CHECK(q->target_ip == ipv4_address::from_uint(0x0a000006));
    auto padded = parse_arp_request(arp_request_padded);
    REQUIRE(padded);
    CHECK(*padded == *q);
}

TEST_CASE("datapath/proxy: ARP reply equals scapy's is-at, byte for byte") {
    test_frame t(arp_request, 32, 32);
    auto q = parse_arp_request(t.f.bytes());
    REQUIRE(q);
    t.f.offload.checksum_partial = true;  // stale metadata must not survive into the reply
    make_arp_reply(t.f, *q, answer_mac);
    CHECK(t.f.size() == 42);
    CHECK(t.f.data_offset() == 32);
    CHECK(to_hex(t.contents()) == to_hex(arp_reply));
    CHECK(t.outside_untouched());
    CHECK_FALSE(t.f.offload.checksum_partial);
}

TEST_CASE("datapath/proxy: ARP padding: a 60-byte request gets a 60-byte reply, padding zeroed") {
    SUBCASE("zero padding, as scapy pads") {
        test_frame t(arp_request_padded, 0, 0);
        auto q = parse_arp_request(t.f.bytes());
        REQUIRE(q);
        make_arp_reply(t.f, *q, answer_mac);
        CHECK(to_hex(t.contents()) == to_hex(arp_reply_padded));
    }
    SUBCASE("non-zero padding is not echoed back") {
        auto req = arp_request_padded;
        std::fill(req.begin() + 42, req.end(), std::byte{0x5a});
        test_frame t(req, 0, 0);
        auto q = parse_arp_request(t.f.bytes());
        REQUIRE(q);
        make_arp_reply(t.f, *q, answer_mac);
        CHECK(to_hex(t.contents()) == to_hex(arp_reply_padded));
    }
    SUBCASE("a 64-byte request (trailing FCS) is cut back to 60") {
        auto req = arp_request_padded;
        for (int i = 0; i < 4; ++i) req.push_back(std::byte{0xee});
        test_frame t(req, 8, 8);
        auto q = parse_arp_request(t.f.bytes());
        REQUIRE(q);
        make_arp_reply(t.f, *q, answer_mac);
        CHECK(to_hex(t.contents()) == to_hex(arp_reply_padded));
        CHECK(t.f.tailroom() == 12);
    }
    SUBCASE("a 50-byte request keeps its 50 bytes, the 8 after the ARP zeroed") {
        auto req = arp_request;
        for (int i = 0; i < 8; ++i) req.push_back(std::byte{0x77});
        test_frame t(req, 0, 0);
        auto q = parse_arp_request(t.f.bytes());
        REQUIRE(q);
        make_arp_reply(t.f, *q, answer_mac);
        auto want = arp_reply;
        want.resize(50, std::byte{0});
        CHECK(to_hex(t.contents()) == to_hex(want));
    }
}

TEST_CASE("datapath/proxy: the ARP reply parses with the library's wire views") {
    test_frame t(arp_request, 0, 0);
    auto q = parse_arp_request(t.f.bytes());
    REQUIRE(q);
    make_arp_reply(t.f, *q, router_mac);
    const auto bytes = t.contents();
    auto eth = wire::ethernet_view::checked(bytes);
    REQUIRE(eth);
    CHECK(eth->destination() == vm_mac);
    CHECK(eth->source() == router_mac);
    CHECK(eth->ether_type() == wire::ethertype::arp);
    auto arp = wire::arp_view::checked(eth->payload());
    REQUIRE(arp);
    CHECK(wire::arp_repr::parse(*arp) == wire::arp_repr{wire::arp_operation::reply, router_mac, q->target_ip, vm_mac,
                                                        q->sender_ip});
    // A reply is not a question.
    auto again = parse_arp_request(bytes);
    REQUIRE_FALSE(again);
    check_error(again.error(), errc::bad_protocol, layer::arp, 20);
}

TEST_CASE("datapath/proxy: ARP: not ARP, not a request, malformed") {
    SUBCASE("IPv6 EtherType") {
        auto r = parse_arp_request(ns);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_protocol, layer::ethernet, 12);
    }
    SUBCASE("VLAN-tagged ARP: the caller drops tags; here it is simply not ARP") {
        std::vector<std::byte> tagged(arp_request.begin(), arp_request.begin() + 12);
        for (auto b : from_hex("8100 0005")) tagged.push_back(b);
        tagged.insert(tagged.end(), arp_request.begin() + 12, arp_request.end());
        auto r = parse_arp_request(tagged);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_protocol, layer::ethernet, 12);
    }
    SUBCASE("reply and other operations") {
        for (std::uint8_t op : {0, 2, 3, 4, 255}) {
            auto f = arp_request;
            f[21] = std::byte{op};
            auto r = parse_arp_request(f);
            REQUIRE_FALSE(r);
            check_error(r.error(), errc::bad_protocol, layer::arp, 20);
        }
    }
    SUBCASE("format fields") {
        for (std::size_t at : {14u, 17u, 18u, 19u}) {  // hardware type, protocol type, lengths
            auto f = arp_request;
            f[at] = std::byte{0x09};
            auto r = parse_arp_request(f);
            REQUIRE_FALSE(r);
            CHECK(r.error().code == errc::bad_value);
            CHECK(r.error().where == layer::arp);
            CHECK(r.error().offset == (at <= 17 ? (at & ~std::size_t{1}) : at));
        }
    }
}

TEST_CASE("datapath/proxy: every truncated prefix of an ARP request is rejected, in bounds") {
    for (std::size_t n = 0; n < arp_request.size(); ++n) {
        CAPTURE(n);
        auto r = parse_arp_exact(std::span(arp_request).first(n));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::truncated);
        if (n < 14) check_error(r.error(), errc::truncated, layer::ethernet, 0);
        else check_error(r.error(), errc::truncated, layer::arp, 14);
    }
    CHECK(parse_arp_exact(arp_request));
}

// ------------------------------------------------------------------------------------ ND: NS

TEST_CASE("datapath/proxy: NS for fd00::6 from fd00::5 parses") {
    auto q = parse_neighbor_solicitation(ns);
    REQUIRE(q);
    CHECK(q->source_mac == vm_mac);
    CHECK(q->source_ip == v6("fd00::5"));
    CHECK(q->target == v6("fd00::6"));
    REQUIRE(q->source_link_layer);
    CHECK(*q->source_link_layer == vm_mac);
    CHECK_FALSE(q->dad);
}

TEST_CASE("datapath/proxy: NA equals scapy's: flags, option, checksum") {
    test_frame t(ns, 16, 0);  // NS with SLLA is 86 bytes, like the NA: no tailroom needed
    auto q = parse_neighbor_solicitation(t.f.bytes());
    REQUIRE(q);
    t.f.offload.encapsulated = true;
    auto r = make_neighbor_advertisement(t.f, *q, answer_mac, false);
    REQUIRE(r);
    CHECK(t.f.size() == neighbor_advertisement_frame_len);
    CHECK(to_hex(t.contents()) == to_hex(na));  // scapy computed that checksum
    CHECK(t.outside_untouched());
    CHECK_FALSE(t.f.offload.encapsulated);
    const auto repr = parse_na_with_views(t.contents());  // our checksum code agrees
    CHECK_FALSE(repr.router);
    CHECK(repr.solicited);
    CHECK(repr.override_flag);
    CHECK(repr.target == v6("fd00::6"));
    REQUIRE(repr.target_link_layer_address);
    CHECK(*repr.target_link_layer_address == answer_mac);
    // An NA is not an NS.
    auto again = parse_neighbor_solicitation(t.contents());
    REQUIRE_FALSE(again);
    check_error(again.error(), errc::bad_protocol, layer::icmpv6, icmp_at);
}

TEST_CASE("datapath/proxy: a gateway answers with the router flag and the router MAC") {
    test_frame t(ns_gateway, 0, 0);
    auto q = parse_neighbor_solicitation(t.f.bytes());
    REQUIRE(q);
    CHECK(q->target == v6("fd00::1"));
    REQUIRE(make_neighbor_advertisement(t.f, *q, router_mac, true));
    CHECK(to_hex(t.contents()) == to_hex(na_gateway));
    const auto repr = parse_na_with_views(t.contents());
    CHECK(repr.router);
    CHECK(repr.solicited);
    CHECK(repr.override_flag);
}

TEST_CASE("datapath/proxy: DAD NS is answered to all-nodes, unsolicited") {
    test_frame t(ns_dad, 4, 8);  // 78 bytes: the NA needs 8 more
    auto q = parse_neighbor_solicitation(t.f.bytes());
    REQUIRE(q);
    CHECK(q->dad);
    CHECK(q->source_ip.is_unspecified());
    CHECK(q->target == v6("fd00::6"));
    CHECK_FALSE(q->source_link_layer);
    REQUIRE(make_neighbor_advertisement(t.f, *q, answer_mac, false));
    CHECK(t.f.size() == 86);
    CHECK(t.f.tailroom() == 0);
    CHECK(to_hex(t.contents()) == to_hex(na_dad));
    CHECK(t.outside_untouched());
    const auto repr = parse_na_with_views(t.contents());
    CHECK_FALSE(repr.solicited);
    CHECK(repr.override_flag);
    const auto bytes = t.contents();  // the view must not outlive its bytes
    auto eth = wire::ethernet_view::checked(bytes);
    REQUIRE(eth);
    CHECK(eth->destination() == ethernet_all_nodes);
}

TEST_CASE("datapath/proxy: unicast NS without SLLA grows to 86; NS with a nonce shrinks to 86") {
    SUBCASE("unicast (NUD), 78 bytes") {
        test_frame t(ns_unicast, 0, 64);
        auto q = parse_neighbor_solicitation(t.f.bytes());
        REQUIRE(q);
        CHECK_FALSE(q->dad);
        CHECK_FALSE(q->source_link_layer);
        REQUIRE(make_neighbor_advertisement(t.f, *q, answer_mac, false));
        CHECK(to_hex(t.contents()) == to_hex(na));
        CHECK(t.f.tailroom() == 56);
        CHECK(t.outside_untouched());
    }
    SUBCASE("nonce option, 94 bytes: ignored on parse, cut off in the reply") {
        test_frame t(ns_nonce, 0, 0);
        auto q = parse_neighbor_solicitation(t.f.bytes());
        REQUIRE(q);
        REQUIRE(q->source_link_layer);
        CHECK(*q->source_link_layer == vm_mac);
        REQUIRE(make_neighbor_advertisement(t.f, *q, answer_mac, false));
        CHECK(to_hex(t.contents()) == to_hex(na));
        CHECK(t.f.tailroom() == 8);
    }
    SUBCASE("Ethernet padding / a trailing FCS after the IPv6 payload is not part of the NS") {
        auto f = ns_dad;
        for (int i = 0; i < 4; ++i) f.push_back(std::byte{0xee});
        auto q = parse_neighbor_solicitation(f);
        REQUIRE(q);
        CHECK(q->dad);
    }
}

TEST_CASE("datapath/proxy: too little tailroom: no_space, frame unchanged") {
    for (std::size_t tail : {0u, 1u, 7u}) {
        CAPTURE(tail);
        test_frame t(ns_dad, 16, tail);
        auto q = parse_neighbor_solicitation(t.f.bytes());
        REQUIRE(q);
        const auto before = *t.buffer;
        t.f.offload.segment_size = 1234;
        auto r = make_neighbor_advertisement(t.f, *q, answer_mac, false);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::no_space);
        CHECK(t.f.size() == ns_dad.size());
        CHECK(t.f.data_offset() == 16);
        CHECK(*t.buffer == before);
        CHECK(t.f.offload.segment_size == 1234);
    }
    test_frame t(ns_dad, 16, 8);  // exactly enough
    auto q = parse_neighbor_solicitation(t.f.bytes());
    REQUIRE(q);
    CHECK(make_neighbor_advertisement(t.f, *q, answer_mac, false));
}

TEST_CASE("datapath/proxy: each RFC 4861 7.1.1 validity check fails on its own") {
    SUBCASE("hop limit 254 (not in the checksum: only that field differs)") {
        auto f = ns;
        f[21] = std::byte{254};
        auto r = parse_neighbor_solicitation(f);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_value, layer::ipv6, 21);
    }
    SUBCASE("code 1 (scapy, checksum valid)") {
        auto r = parse_neighbor_solicitation(ns_code1);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_value, layer::icmpv6, icmp_at + 1);
    }
    SUBCASE("bad checksum") {
        for (std::size_t at : {icmp_at + 2, icmp_at + 3, std::size_t{85}, std::size_t{30}}) {
            CAPTURE(at);  // the checksum field, the last option byte, a pseudo-header source byte
            auto f = ns;
            f[at] ^= std::byte{0x01};
            auto r = parse_neighbor_solicitation(f);
            REQUIRE_FALSE(r);
            check_error(r.error(), errc::bad_checksum, layer::icmpv6, icmp_at + 2);
        }
    }
    SUBCASE("ICMPv6 length under 24 (payload length 20, checksum over those 20 valid)") {
        auto f = ns;
        f[19] = std::byte{20};
        refresh_icmpv6_checksum(f);
        auto r = parse_neighbor_solicitation(f);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::truncated, layer::icmpv6, icmp_at + 4);
        CHECK(r.error().needed == 20);
    }
    SUBCASE("multicast target") {
        auto f = ns;
        v6("ff02::1").to_bytes(std::span(f).subspan(icmp_at + 8, 16));
        refresh_icmpv6_checksum(f);
        auto r = parse_neighbor_solicitation(f);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_address, layer::icmpv6, icmp_at + 8);
    }
    SUBCASE("option with length 0") {
        auto f = ns;
        f[icmp_at + 25] = std::byte{0};
        refresh_icmpv6_checksum(f);
        auto r = parse_neighbor_solicitation(f);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_length, layer::icmpv6, icmp_at + 24);
    }
    SUBCASE("option running past the message") {
        auto f = ns;
        f[icmp_at + 25] = std::byte{2};
        refresh_icmpv6_checksum(f);
        auto r = parse_neighbor_solicitation(f);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_length, layer::icmpv6, icmp_at + 24);
    }
    SUBCASE("a zero-length option after a good one") {
        auto f = ns_nonce;
        f[icmp_at + 33] = std::byte{0};
        refresh_icmpv6_checksum(f);
        auto r = parse_neighbor_solicitation(f);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_length, layer::icmpv6, icmp_at + 32);
    }
    SUBCASE("unspecified source with a source link-layer address option") {
        auto f = ns;
        std::fill(f.begin() + 22, f.begin() + 38, std::byte{0});
        refresh_icmpv6_checksum(f);
        auto r = parse_neighbor_solicitation(f);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_value, layer::icmpv6, icmp_at + 24);
    }
    SUBCASE("unspecified source to a destination that is not solicited-node multicast") {
        for (const char* dst : {"ff02::1", "fd00::6", "ff02::2:ff00:6", "ff05::1:ff00:6"}) {
            CAPTURE(dst);
            auto f = ns_dad;
            v6(dst).to_bytes(std::span(f).subspan(38, 16));
            refresh_icmpv6_checksum(f);
            auto r = parse_neighbor_solicitation(f);
            REQUIRE_FALSE(r);
            check_error(r.error(), errc::bad_address, layer::ipv6, 38);
        }
    }
    SUBCASE("multicast source (RFC 4291 2.7)") {
        auto f = ns;
        v6("ff02::1").to_bytes(std::span(f).subspan(22, 16));
        refresh_icmpv6_checksum(f);
        auto r = parse_neighbor_solicitation(f);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_address, layer::ipv6, 22);
    }
    SUBCASE("the helper itself leaves a valid NS valid") {
        auto f = ns;
        refresh_icmpv6_checksum(f);
        CHECK(f == ns);
        CHECK(parse_neighbor_solicitation(f));
    }
}

TEST_CASE("datapath/proxy: not an NS, or not IPv6") {
    SUBCASE("ARP frame") {
        auto r = parse_neighbor_solicitation(arp_request);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_protocol, layer::ethernet, 12);
    }
    SUBCASE("VLAN tag") {
        std::vector<std::byte> tagged(ns.begin(), ns.begin() + 12);
        for (auto b : from_hex("8100 0005")) tagged.push_back(b);
        tagged.insert(tagged.end(), ns.begin() + 12, ns.end());
        auto r = parse_neighbor_solicitation(tagged);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_protocol, layer::ethernet, 12);
    }
    SUBCASE("IP version 4 in the IPv6 EtherType") {
        auto f = ns;
        f[14] = std::byte{0x40};
        auto r = parse_neighbor_solicitation(f);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_version, layer::ipv6, 14);
    }
    SUBCASE("UDP") {
        auto f = ns;
        f[20] = std::byte{17};
        auto r = parse_neighbor_solicitation(f);
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::bad_protocol, layer::ipv6, 20);
    }
    SUBCASE("extension headers before ICMPv6 are rejected") {
        for (std::uint8_t nh : {0, 43, 44, 51, 60}) {
            CAPTURE(int{nh});
            auto f = ns;
            f[20] = std::byte{nh};
            auto r = parse_neighbor_solicitation(f);
            REQUIRE_FALSE(r);
            check_error(r.error(), errc::bad_extension_header, layer::ipv6, 20);
        }
    }
    SUBCASE("other ICMPv6 types") {
        for (std::uint8_t type : {128, 133, 134, 136, 137, 1}) {
            CAPTURE(int{type});
            auto f = ns;
            f[icmp_at] = std::byte{type};
            refresh_icmpv6_checksum(f);
            auto r = parse_neighbor_solicitation(f);
            REQUIRE_FALSE(r);
            check_error(r.error(), errc::bad_protocol, layer::icmpv6, icmp_at);
        }
    }
}

TEST_CASE("datapath/proxy: every truncated prefix of the NS frames is rejected, in bounds") {
    for (const auto* golden : {&ns, &ns_dad, &ns_nonce, &ns_unicast}) {
        const auto& g = *golden;
        for (std::size_t n = 0; n < g.size(); ++n) {
            CAPTURE(n);
            auto r = parse_ns_exact(std::span(g).first(n));
            REQUIRE_FALSE(r);
            CHECK(r.error().code == errc::truncated);
            if (n < 14) CHECK(r.error().where == layer::ethernet);
            else CHECK(r.error().where == layer::ipv6);
        }
        CHECK(parse_ns_exact(g));
    }
}

TEST_CASE("datapath/proxy: every ICMPv6 length 0..31 with a consistent IPv6 payload length") {
    // The frame is cut right after the claimed payload and the checksum is valid: only the
    // ICMPv6 length is wrong. 24 is an NS without options, the one valid case.
    for (std::size_t k = 0; k < 32; ++k) {
        CAPTURE(k);
        std::vector<std::byte> f(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(icmp_at + k));
        f[18] = std::byte{0};
        f[19] = std::byte{static_cast<std::uint8_t>(k)};
        if (k >= 4) refresh_icmpv6_checksum(f);
        auto r = parse_ns_exact(f);
        if (k == 24) {
            REQUIRE(r);
            CHECK_FALSE(r->source_link_layer);
            continue;
        }
        REQUIRE_FALSE(r);
        CHECK(r.error().where == layer::icmpv6);
        if (k < 4) check_error(r.error(), errc::truncated, layer::icmpv6, icmp_at);
        else if (k < 24) check_error(r.error(), errc::truncated, layer::icmpv6, icmp_at + 4);
        else check_error(r.error(), errc::bad_length, layer::icmpv6, icmp_at + 24);
    }
}

TEST_CASE("datapath/proxy: mutated requests never read out of bounds") {
    // A small deterministic mutation run (a fuzz target would do this at scale): flip bytes,
    // cut the tail, and parse with exact-size copies under ASan.
    std::uint32_t state = 12345;
    auto next = [&] {
        state = state * 1664525u + 1013904223u;
        return state >> 8;
    };
    std::size_t arp_accepted = 0;
    std::size_t ns_accepted = 0;
    for (int i = 0; i < 20000; ++i) {
        const auto& g = (i % 3 == 0) ? arp_request_padded : (i % 3 == 1 ? ns : ns_dad);
        std::vector<std::byte> f = g;
        const int flips = 1 + static_cast<int>(next() % 4);
        for (int j = 0; j < flips; ++j) f[next() % f.size()] = static_cast<std::byte>(next());
        if (next() % 2 == 0) f.resize(next() % (f.size() + 1));
        auto a = parse_arp_exact(f);
        auto n = parse_ns_exact(f);
        arp_accepted += static_cast<std::size_t>(a.has_value());
        ns_accepted += static_cast<std::size_t>(n.has_value());
        if (n) {
            // Whatever parses can be answered, with room for it.
            test_frame t(f, 0, 86);
            REQUIRE(make_neighbor_advertisement(t.f, *n, answer_mac, false));
            parse_na_with_views(t.contents());
        }
        if (a) {
            test_frame t(f, 0, 0);
            make_arp_reply(t.f, *a, answer_mac);
            CHECK(parse_arp_request(t.contents()).error().code == errc::bad_protocol);
        }
    }
    MESSAGE("accepted after mutation: ARP ", arp_accepted, ", NS ", ns_accepted);
    CHECK(arp_accepted > 0);
    CHECK(ns_accepted > 0);
}
