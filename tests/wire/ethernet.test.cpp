#include "nvgre/wire/ethernet.hpp"

#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

using namespace nvgre;
using namespace nvgre::wire;
using nvgre::test::from_hex;

// Golden: the inner Ethernet header of Open vSwitch's tunnel-push-pop.at:596 vector
// (vector A1 of the test corpus's HEX_VECTORS.md): fe71d883724f -> beb6f4e1494a, IPv4.
static const auto plain = from_hex("fe71d883724f beb6f4e1494a 0800");
// Golden, made with scapy: Ether(dst="00:15:5d:00:00:06", src="00:15:5d:00:00:05")
//   / Dot1AD(vlan=100) / Dot1Q(prio=5, vlan=200) / IP()
static const auto qinq = from_hex("00155d000006 00155d000005 88a8 0064 8100 a0c8 0800");

TEST_CASE("wire/ethernet: deconstruct an untagged header") {
    auto v = ethernet_view::checked(plain);
    REQUIRE(v);
    CHECK(v->destination() == mac_address{{0xfe, 0x71, 0xd8, 0x83, 0x72, 0x4f}});
    CHECK(v->source() == mac_address{{0xbe, 0xb6, 0xf4, 0xe1, 0x49, 0x4a}});
    CHECK(v->tag_count() == 0);
    CHECK(v->ether_type() == ethertype::ipv4);
    CHECK(v->header_len() == 14);
    CHECK(v->payload().empty());
}

TEST_CASE("wire/ethernet: deconstruct 802.1ad + 802.1Q tags") {
    auto v = ethernet_view::checked(qinq);
    REQUIRE(v);
    CHECK(v->tag_count() == 2);
    CHECK(v->tag(0) == vlan_tag{ethertype::qinq, 0, false, 100});
    CHECK(v->tag(1) == vlan_tag{ethertype::vlan, 5, false, 200});
    CHECK(v->ether_type() == ethertype::ipv4);
    CHECK(v->header_len() == 22);
}

TEST_CASE("wire/ethernet: every truncated prefix is an error, never a read past the end") {
    for (const auto* golden : {&plain, &qinq}) {
        for (std::size_t n = 0; n < golden->size(); ++n) {
            std::span<const std::byte> cut(golden->data(), n);
            auto v = ethernet_view::checked(cut);
            REQUIRE_FALSE(v);
            CHECK(v.error().code == errc::truncated);
            CHECK(v.error().offset <= n);
        }
    }
    auto v = ethernet_view::checked(std::span<const std::byte>(qinq.data(), 21));
    REQUIRE_FALSE(v);
    CHECK(v.error().where == layer::vlan);
    CHECK(v.error().offset == 16);
}

TEST_CASE("wire/ethernet: repr round-trips and emit writes every byte") {
    for (const auto* golden : {&plain, &qinq}) {
        auto v = ethernet_view::checked(*golden);
        REQUIRE(v);
        const auto r = ethernet_repr::parse(*v);
        CHECK(r.header_len() == golden->size());
        auto out = nvgre::test::prefilled(r.header_len());
        r.emit(out);
        CHECK(out == *golden);
        auto again = ethernet_view::checked(out);
        REQUIRE(again);
        CHECK(ethernet_repr::parse(*again) == r);
    }
}

TEST_CASE("wire/ethernet: setters on a writable view") {
    auto buf = qinq;
    auto v = mutable_ethernet_view::checked(buf);
    REQUIRE(v);
    v->set_destination(mac_address::broadcast());
    v->set_source(*mac_address::parse("02:00:5e:00:01:01"));
    v->set_tag(1, vlan_tag{ethertype::vlan, 1, true, 4094});
    v->set_ether_type(ethertype::ipv6);
    auto r = ethernet_view::checked(buf);
    REQUIRE(r);
    CHECK(r->destination().is_broadcast());
    CHECK(r->source().to_string() == "02:00:5e:00:01:01");
    CHECK(r->tag(1) == vlan_tag{ethertype::vlan, 1, true, 4094});
    CHECK(r->ether_type() == ethertype::ipv6);
}

TEST_CASE("wire/ethernet: ethernet_field names where emit() writes each field, tags included") {
    ethernet_repr r;
    r.destination = mac_address::parse("02:00:00:00:00:01").value();
    r.source = mac_address::parse("02:00:00:00:00:02").value();
    r.tag_count = 2;
    r.tags[0] = vlan_tag{ethertype::qinq, 0, false, 100};
    r.tags[1] = vlan_tag{ethertype::vlan, 0, false, 200};
    r.ether_type = ethertype::ipv4;
    std::array<std::byte, ethernet_header_len + 2 * vlan_tag_len> b{};
    r.emit(b);
    const std::span<const std::byte> s(b);
    CHECK(mac_address::from_bytes(s.subspan(ethernet_field::destination, 6)) == r.destination);
    CHECK(mac_address::from_bytes(s.subspan(ethernet_field::source, 6)) == r.source);
    CHECK(nvgre::detail::load_be16(b.data() + ethernet_field::ether_type) == ethertype::qinq);
    CHECK((nvgre::detail::load_be16(b.data() + ethernet_field::first_tag_tci) & 0x0fffu) == 100);
    CHECK(ethernet_field::ether_type_after(0) == ethernet_field::ether_type);
    CHECK(nvgre::detail::load_be16(b.data() + ethernet_field::ether_type_after(1)) == ethertype::vlan);
    CHECK(nvgre::detail::load_be16(b.data() + ethernet_field::ether_type_after(2)) == ethertype::ipv4);
}
