#include "nvgre/packet/outer_header.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/nvgre.hpp"

#include <doctest/doctest.h>

#include <span>

using namespace nvgre;
using namespace nvgre::packet;

namespace {
outer_path path(bool v6, std::uint16_t vlan = 0) {
    return outer_path{*mac_address::parse("02:00:c0:a8:0a:0b"), *mac_address::parse("02:00:c0:a8:0a:0c"), vlan,
                      *ip_address::parse(v6 ? "2001:db8::11" : "192.168.10.11"),
                      *ip_address::parse(v6 ? "2001:db8::12" : "192.168.10.12")};
}
}  // namespace

TEST_CASE("packet/outer_header: what is compiled and what is left to the packet") {
    for (bool v6 : {false, true})
        for (std::uint16_t vlan : {std::uint16_t{0}, std::uint16_t{100}}) {
            CAPTURE(v6);
            CAPTURE(vlan);
            const auto h = compiled_header::compile(path(v6, vlan));
            REQUIRE(h.has_value());
            CHECK(h->is_ipv6() == v6);
            CHECK(h->is_tagged() == (vlan != 0));
            CHECK(h->size() == (v6 ? outer_header_len_ipv6 : outer_header_len_ipv4) + (vlan != 0 ? 4 : 0));
            CHECK(h->ip_offset() == (vlan != 0 ? 18u : 14u));
            CHECK(h->destination() == path(v6).destination);
            const auto bytes = h->bytes();
            const auto eth = wire::ethernet_view::checked(bytes);
            REQUIRE(eth.has_value());
            CHECK(eth->destination() == path(v6).destination_mac);
            CHECK(eth->source() == path(v6).source_mac);
            CHECK(eth->tag_count() == (vlan != 0 ? 1u : 0u));
            if (vlan != 0) CHECK(eth->tag(0).vid == vlan);
            CHECK(eth->ether_type() == (v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4));
            const auto l3 = bytes.subspan(h->ip_offset());
            if (v6) {
                const auto ip = wire::ipv6_view::unchecked(l3);
                CHECK(ip.version() == 6);
                CHECK(ip.next_header() == wire::ip_protocol::gre);
                CHECK(ip.payload_len() == 0);  // per packet
                CHECK(ip.hop_limit() == 0);    // per packet
                CHECK(ip.flow_label() == 0);
                CHECK(h->base_sum() == 0);
                CHECK(h->destination() == ip_address{ip.destination()});  // the copy agrees with the bytes
            } else {
                const auto ip = wire::ipv4_view::unchecked(l3);
                CHECK(ip.version() == 4);
                CHECK(ip.header_len() == 20);
                CHECK(ip.dont_fragment());
                CHECK(ip.identification() == 0);
                CHECK(ip.protocol() == wire::ip_protocol::gre);
                CHECK(h->destination() == ip_address{ip.destination()});  // the copy agrees with the bytes
                CHECK(ip.total_len() == 0);  // per packet: length, TOS, TTL, checksum
                CHECK(ip.ttl() == 0);
                CHECK(ip.header_checksum() == 0);
                CHECK(h->base_sum() == checksum::fold(checksum::sum(l3.first(20))));
            }
            // GRE with K and protocol 0x6558; the key (VSID, FlowID) per packet.
            const auto gre = bytes.subspan(h->size() - wire::nvgre_header_len);
            CHECK(nvgre::detail::load_be32(gre.data()) == wire::nvgre_first_word);
            CHECK(nvgre::detail::load_be32(gre.data() + 4) == 0);
        }
}

TEST_CASE("packet/outer_header: compile refuses mixed IP versions and VLAN 4095") {
    auto mixed = path(false);
    mixed.destination = *ip_address::parse("2001:db8::12");
    const auto m = compiled_header::compile(mixed);
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().code == errc::bad_value);
    CHECK(m.error().where == layer::none);
    const auto v = compiled_header::compile(path(false, 4095));
    REQUIRE_FALSE(v.has_value());
    CHECK(v.error().where == layer::vlan);
    CHECK(v.error().offset == 14);
    CHECK(compiled_header::compile(path(true, 4094)).has_value());
    CHECK(*compiled_header::compile(path(true)) == *compiled_header::compile(path(true)));
    CHECK_FALSE(*compiled_header::compile(path(true)) == *compiled_header::compile(path(false)));
}
