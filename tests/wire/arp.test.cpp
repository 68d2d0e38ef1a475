#include "nvgre/wire/arp.hpp"

#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <utility>
#include <vector>

using namespace nvgre;
using namespace nvgre::wire;
using nvgre::test::from_hex;

namespace {

// Golden bytes, made with Debian's python3-scapy:
//   /usr/bin/python3 -c 'from scapy.all import *; print(bytes(PKT).hex())'
// PKT = ARP(op=1, hwsrc="00:15:5d:00:00:05", psrc="10.0.0.5", hwdst="00:00:00:00:00:00", pdst="10.0.0.1")
const auto request = from_hex("0001 0800 06 04 0001 00155d000005 0a000005 000000000000 0a000001");
// PKT = ARP(op=2, hwsrc="00:15:5d:00:00:01", psrc="10.0.0.1", hwdst="00:15:5d:00:00:05", pdst="10.0.0.5")
const auto reply = from_hex("0001 0800 06 04 0002 00155d000001 0a000001 00155d000005 0a000005");

const auto vm_mac = mac_address{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x05}};
const auto gw_mac = mac_address{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x01}};
const auto vm_ip = ipv4_address::from_uint(0x0a000005);
const auto gw_ip = ipv4_address::from_uint(0x0a000001);

}  // namespace

TEST_CASE("wire/arp: deconstruct a request and a reply") {
    auto q = arp_view::checked(request);
    REQUIRE(q);
    CHECK(q->hardware_type() == arp_hardware_ethernet);
    CHECK(q->protocol_type() == arp_protocol_ipv4);
    CHECK(q->hardware_len() == 6);
    CHECK(q->protocol_len() == 4);
    CHECK(q->operation() == arp_operation::request);
    CHECK(q->sender_mac() == vm_mac);
    CHECK(q->sender_ip() == vm_ip);
    CHECK(q->target_mac().is_zero());
    CHECK(q->target_ip() == gw_ip);
    CHECK(q->header_len() == 28);
    CHECK(q->bytes().size() == 28);

    auto r = arp_view::checked(reply);
    REQUIRE(r);
    CHECK(r->operation() == arp_operation::reply);
    CHECK(r->sender_mac() == gw_mac);
    CHECK(r->sender_ip() == gw_ip);
    CHECK(r->target_mac() == vm_mac);
    CHECK(r->target_ip() == vm_ip);

    auto u = arp_view::unchecked(reply);
    CHECK(u.target_ip() == vm_ip);
}

TEST_CASE("wire/arp: every truncated prefix is rejected") {
    for (const auto* golden : {&request, &reply}) {
        for (std::size_t n = 0; n < golden->size(); ++n) {
            const std::vector<std::byte> cut(golden->begin(), golden->begin() + static_cast<std::ptrdiff_t>(n));
            auto v = arp_view::checked(cut);
            REQUIRE_FALSE(v);
            CHECK(v.error() == make_error(errc::truncated, layer::arp, 0, 28));
        }
    }
}

TEST_CASE("wire/arp: Ethernet padding is ignored") {
    auto padded = request;
    padded.resize(46, std::byte{0});
    auto v = arp_view::checked(padded);
    REQUIRE(v);
    CHECK(v->target_ip() == gw_ip);
    CHECK(arp_repr::parse(*v) == arp_repr::parse(*arp_view::checked(request)));
}

TEST_CASE("wire/arp: formats other than Ethernet/IPv4 are bad values at their field") {
    struct bad_case {
        std::size_t at;
        std::uint8_t value;
        std::size_t offset;
    };
    // hardware type 6 (IEEE 802), protocol type 0x86dd, hlen 8 (EUI-64), plen 16 (IPv6), hlen 0.
    for (const auto& c : {bad_case{1, 0x06, 0}, bad_case{0, 0x01, 0}, bad_case{2, 0x86, 2},
                          bad_case{3, 0x01, 2}, bad_case{4, 8, 4}, bad_case{4, 0, 4},
                          bad_case{5, 16, 5}, bad_case{5, 6, 5}}) {
        auto bad = request;
        bad[c.at] = std::byte{c.value};
        auto v = arp_view::checked(bad);
        REQUIRE_FALSE(v);
        CHECK(v.error() == make_error(errc::bad_value, layer::arp, c.offset));
    }
    // Other operations (RARP 3/4, InARP 8/9) pass: the caller decides.
    auto rarp = request;
    rarp[7] = std::byte{3};
    auto v = arp_view::checked(rarp);
    REQUIRE(v);
    CHECK(v->operation() == 3);
}

TEST_CASE("wire/arp: repr parse, round trip and emit into a 0xa5 buffer") {
    const arp_repr want_request{arp_operation::request, vm_mac, vm_ip, mac_address{}, gw_ip};
    const arp_repr want_reply{arp_operation::reply, gw_mac, gw_ip, vm_mac, vm_ip};
    for (const auto& [golden, want] : {std::pair{&request, want_request}, std::pair{&reply, want_reply}}) {
        auto v = arp_view::checked(*golden);
        REQUIRE(v);
        const auto r = arp_repr::parse(*v);
        CHECK(r == want);
        CHECK(r.header_len() == 28);
        CHECK(r.buffer_len() == 28);
        auto out = nvgre::test::prefilled(r.header_len());
        r.emit(out);
        CHECK(out == *golden);
        auto m = mutable_arp_view::checked(out);
        REQUIRE(m);
        CHECK(arp_repr::parse(*m) == r);
    }
    CHECK_FALSE(want_request == want_reply);
}

TEST_CASE("wire/arp: setters turn the request into the reply a proxy sends") {
    auto buf = request;
    auto v = mutable_arp_view::checked(buf);
    REQUIRE(v);
    const auto asker_mac = v->sender_mac();
    const auto asker_ip = v->sender_ip();
    const auto wanted_ip = v->target_ip();
    v->set_operation(arp_operation::reply);
    v->set_target_mac(asker_mac);
    v->set_target_ip(asker_ip);
    v->set_sender_mac(gw_mac);
    v->set_sender_ip(wanted_ip);
    CHECK(buf == reply);

    v->set_hardware_type(6);
    CHECK(v->hardware_type() == 6);
    CHECK_FALSE(arp_view::checked(buf));
    v->set_hardware_type(arp_hardware_ethernet);
    v->set_protocol_type(0x86dd);
    v->set_hardware_len(8);
    v->set_protocol_len(16);
    CHECK(v->protocol_type() == 0x86dd);
    CHECK(v->hardware_len() == 8);
    CHECK(v->protocol_len() == 16);
    auto e = arp_view::checked(buf);
    REQUIRE_FALSE(e);
    CHECK(e.error().offset == 2);
    v->set_protocol_type(arp_protocol_ipv4);
    v->set_hardware_len(6);
    v->set_protocol_len(4);
    CHECK(buf == reply);
}

TEST_CASE("wire/arp: arp_field names where emit() writes each field") {
    arp_repr r;
    r.operation = arp_operation::reply;
    r.sender_mac = mac_address::parse("02:00:00:00:00:01").value();
    r.sender_ip = ipv4_address{{10, 0, 0, 1}};
    r.target_mac = mac_address::parse("02:00:00:00:00:02").value();
    r.target_ip = ipv4_address{{10, 0, 0, 2}};
    std::array<std::byte, arp_ipv4_len> b{};
    r.emit(b);
    const std::span<const std::byte> s(b);
    CHECK(nvgre::detail::load_be16(b.data() + arp_field::hardware_type) == 1);
    CHECK(nvgre::detail::load_be16(b.data() + arp_field::protocol_type) == 0x0800);  // IPv4
    CHECK(nvgre::detail::load_u8(b.data() + arp_field::hardware_len) == 6);
    CHECK(nvgre::detail::load_u8(b.data() + arp_field::protocol_len) == 4);
    CHECK(nvgre::detail::load_be16(b.data() + arp_field::operation) == arp_operation::reply);
    CHECK(mac_address::from_bytes(s.subspan(arp_field::sender_mac, 6)) == r.sender_mac);
    CHECK(ipv4_address::from_bytes(s.subspan(arp_field::sender_ip, 4)) == r.sender_ip);
    CHECK(mac_address::from_bytes(s.subspan(arp_field::target_mac, 6)) == r.target_mac);
    CHECK(ipv4_address::from_bytes(s.subspan(arp_field::target_ip, 4)) == r.target_ip);
}
