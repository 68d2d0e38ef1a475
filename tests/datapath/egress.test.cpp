#include "nvgre/datapath/egress.hpp"

#include "support/chained.hpp"
#include "support/frames.hpp"
#include "support/tcp_frames.hpp"
#include "support/test_bytes.hpp"
#include "support/hnv_policy.hpp"
#include "support/gateway_policy.hpp"
#include "support/classified_policy.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/too_big.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <deque>
#include <memory>
#include <random>
#include <set>
#include <string>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;

using namespace nvgre::test::hnv_vm;

namespace {
outcome run(buffer& b, const mac_address& port, vector_sink& sink, const pipeline_config& cfg = {}) {
    return egress(hnv_state("hv1"), port, b.f, sink, cfg);
}
outcome run(buffer& b, const mac_address& port, vector_sink& sink, context& ctx, const pipeline_config& cfg = {}) {
    return egress(hnv_state("hv1"), port, b.f, sink, ctx, cfg);
}
outcome run(buffer& b, const mac_address& port) {
    vector_sink sink;
    return run(b, port, sink);
}
}  // namespace

TEST_CASE("datapath/egress rule 1: the source must be the port's VM") {
    SUBCASE("source MAC of another VM") {
        buffer b(udp_frame(red_app, red_db, ip("10.0.0.5"), ip("10.0.0.6")));
        const auto o = run(b, red_web);
        CHECK(o.verdict == verdict::drop);
        CHECK(o.reason == drop_reason::spoofed_source);
    }
    SUBCASE("source address not one of the VM's CAs") {
        buffer b(udp_frame(red_web, red_db, ip("10.0.0.99"), ip("10.0.0.6")));
        CHECK(run(b, red_web).reason == drop_reason::spoofed_source);
    }
    SUBCASE("another VM's CA of the same subnet") {
        buffer b(udp_frame(red_web, red_db, ip("10.0.0.7"), ip("10.0.0.6")));
        CHECK(run(b, red_web).reason == drop_reason::spoofed_source);
    }
    SUBCASE("ARP with a forged sender address") {
        buffer b(arp_request(red_web, ip("10.0.0.7"), ip("10.0.0.6")));
        CHECK(run(b, red_web).reason == drop_reason::spoofed_source);
    }
    SUBCASE("a port that is not a VM of this host") {
        buffer b(udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5")));
        CHECK(run(b, red_db).reason == drop_reason::unknown_port);
    }
}

TEST_CASE("datapath/egress rule 2: VLAN tags and other ethertypes are dropped") {
    auto tagged = udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"));
    const auto tag = from_hex("81000064");
    tagged.insert(tagged.begin() + 12, tag.begin(), tag.end());
    buffer b(tagged);
    CHECK(run(b, red_web).reason == drop_reason::vlan_tagged);
    auto lldp = udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"));
    lldp[12] = std::byte{0x88};
    lldp[13] = std::byte{0xcc};
    buffer c(lldp);
    CHECK(run(c, red_web).reason == drop_reason::unsupported_ethertype);
    buffer d(std::vector<std::byte>(10));
    CHECK(run(d, red_web).reason == drop_reason::truncated);
}

TEST_CASE("datapath/egress rule 3: ARP is answered by the host from policy") {
    struct ask { const char* target; mac_address answer; };
    for (const auto& a : {ask{"10.0.0.6", red_db}, ask{"10.0.0.7", red_app}, ask{"10.0.0.1", red_router},
                          ask{"10.0.1.8", red_router}}) {
        CAPTURE(std::string(a.target));
        buffer b(arp_request(red_web, ip("10.0.0.5"), ip(a.target)));
        const auto o = run(b, red_web);
        REQUIRE(o.verdict == verdict::reply);
        CHECK(o.to.to == destination::kind::sender);
        auto eth = wire::ethernet_view::checked(b.f.bytes());
        REQUIRE(eth);
        CHECK(eth->destination() == red_web);
        CHECK(eth->source() == a.answer);
        auto arp = wire::arp_view::checked(eth->payload());
        REQUIRE(arp);
        CHECK(arp->operation() == wire::arp_operation::reply);
        CHECK(arp->sender_mac() == a.answer);
        CHECK(ip_address{arp->sender_ip()} == ip(a.target));
        CHECK(arp->target_mac() == red_web);
    }
    SUBCASE("unknown targets and other tenants' addresses get no answer") {
        buffer b(arp_request(red_web, ip("10.0.0.5"), ip("10.0.0.77")));
        CHECK(run(b, red_web).reason == drop_reason::unknown_target);
        // 10.0.0.8 exists only in blue: red-web must not learn it.
        buffer c(arp_request(red_web, ip("10.0.0.5"), ip("10.0.0.8")));
        CHECK(run(c, red_web).reason == drop_reason::unknown_target);
        // Blue's 10.0.0.6 is answered with blue-db's MAC, red's with red-db's.
        buffer d(arp_request(blue_web, ip("10.0.0.5"), ip("10.0.0.6")));
        REQUIRE(run(d, blue_web).verdict == verdict::reply);
        CHECK(wire::ethernet_view::checked(d.f.bytes())->source() == mac("00:15:5d:00:01:06"));
    }
}

TEST_CASE("datapath/egress rule 4: no route; no record goes to the subnet's gateway, else unreachable") {
    buffer b(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("172.16.0.1")));
    const auto ob = run(b, red_web);
    CHECK(ob.verdict == verdict::reply);  // net unreachable from 10.0.0.1
    CHECK(ob.reason == drop_reason::no_route);
    // 10.0.0.77 has no record in 5001: red's gateway red-gw (hv2) takes it.
    buffer c(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.77")));
    const auto oc = run(c, red_web);
    CHECK(oc.verdict == verdict::encap);
    CHECK(oc.pa == ip("192.168.10.12"));
    // Blue's nat VM 10.0.0.8 is not a red CA: for red it is outside the tenant, so red-gw too.
    buffer d(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.8")));
    CHECK(run(d, red_web).verdict == verdict::encap);
    CHECK(wire::ethernet_view::unchecked(d.f.bytes().subspan(42)).destination() == mac("00:15:5d:00:00:fe"));
    // 10.0.1.99 in 5002 (no gateway record there): host unreachable from 5001's gateway 10.0.0.1.
    buffer e(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.1.99")));
    const auto oe = run(e, red_web);
    CHECK(oe.verdict == verdict::reply);
    CHECK(oe.reason == drop_reason::no_record);
}

TEST_CASE("datapath/egress rules 5 and 6: same subnet, NVGRE to the record's PA") {
    const auto original = udp_frame(red_web, mac("02:00:00:00:00:99"), ip("10.0.0.5"), ip("10.0.0.6"), 40, 64, 0xb9);
    buffer b(original);
    const auto o = run(b, red_web);
    REQUIRE(o.verdict == verdict::encap);
    CHECK(o.vsid == 5001);
    CHECK(o.pa == ip("192.168.10.12"));
    CHECK(o.to.to == destination::kind::fabric);
    const auto l = wire::parse_packet_layout(b.f.bytes());
    REQUIRE(l.kind == wire::frame_kind::nvgre);
    CHECK(l.vsid_bits() == 5001);
    CHECK(l.flow_id_bits() != 0);
    const auto outer_eth = wire::ethernet_view::unchecked(b.f.bytes());
    CHECK(outer_eth.source() == mac("02:00:c0:a8:0a:0b"));       // hv1's PA MAC
    CHECK(outer_eth.destination() == mac("02:00:c0:a8:0a:0c"));  // hv2's: on-link
    const auto outer = wire::ipv4_view::unchecked(b.f.bytes().subspan(14));
    CHECK(ip_address{outer.source()} == ip("192.168.10.11"));
    CHECK(ip_address{outer.destination()} == ip("192.168.10.12"));
    CHECK(outer.ttl() == 64);
    CHECK(outer.dont_fragment());
    CHECK(outer.dscp() == (0xb9 >> 2));
    CHECK(outer.ecn() == 1);
    CHECK(outer.header_checksum_ok());
    // The inner frame: destination MAC fixed to red-db's, everything else as sent.
    auto inner = std::vector<std::byte>(b.f.bytes().begin() + l.inner_l2_offset, b.f.bytes().end());
    auto expected = original;
    red_db.to_bytes(std::span<std::byte>(expected).subspan(0, 6));
    CHECK(inner == expected);
}

TEST_CASE("datapath/egress rule 5: routing between subnets of a domain") {
    buffer b(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.1.8"), 20, 64));
    const auto o = run(b, red_web);
    REQUIRE(o.verdict == verdict::encap);
    CHECK(o.vsid == 5002);
    const auto l = wire::parse_packet_layout(b.f.bytes());
    REQUIRE(l.kind == wire::frame_kind::nvgre);
    CHECK(l.vsid_bits() == 5002);
    const auto inner_eth = wire::ethernet_view::unchecked(b.f.bytes().subspan(l.inner_l2_offset));
    CHECK(inner_eth.source() == red_router);
    CHECK(inner_eth.destination() == red_db2);
    const auto inner_ip = wire::ipv4_view::unchecked(b.f.bytes().subspan(l.inner_l3_offset));
    CHECK(inner_ip.ttl() == 63);
    CHECK(inner_ip.header_checksum_ok());

    buffer dying(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.1.8"), 20, 1));
    CHECK(run(dying, red_web).reason == drop_reason::ttl_expired);
}

TEST_CASE("datapath/egress rule 6: local delivery, provider routes, nat") {
    SUBCASE("a VM on this host gets the frame without encapsulation") {
        const auto original = udp_frame(red_web, red_app, ip("10.0.0.5"), ip("10.0.0.7"));
        buffer b(original);
        const auto o = run(b, red_web);
        CHECK(o.verdict == verdict::local);
        CHECK(o.to.to == destination::kind::vm);
        CHECK(o.to.vm_mac == red_app);
        CHECK(b.bytes() == original);
    }
    SUBCASE("a PA off-link goes to the provider route's next hop") {
        buffer b(udp_frame(red_web, mac("00:15:5d:00:00:09"), ip("10.0.0.5"), ip("10.0.0.9")));
        const auto o = run(b, red_web);
        REQUIRE(o.verdict == verdict::encap);
        CHECK(o.pa == ip("192.168.20.13"));
        CHECK(wire::ethernet_view::unchecked(b.f.bytes()).destination() == mac("02:00:00:00:00:fe"));
    }
    SUBCASE("IPv6 customer addresses over an IPv4 provider network") {
        buffer b(udp_frame(red_web, red_db, ip("fd00::5"), ip("fd00::6")));
        const auto o = run(b, red_web);
        REQUIRE(o.verdict == verdict::encap);
        CHECK(o.pa == ip("192.168.10.12"));
    }
    SUBCASE("nat records are not encapsulated: IP rewrite needs both ends nat") {
        // blue-web (encap) -> blue-nat2 (nat); both-nat rewrites: tests/datapath/rewrite.test.cpp.
        vector_sink sink;
        buffer b(udp_frame(mac("00:15:5d:00:01:05"), mac("00:15:5d:00:01:08"), ip("10.0.0.5"), ip("10.0.0.8")));
        CHECK(egress(hnv_state("hv1"), mac("00:15:5d:00:01:05"), b.f, sink).reason == drop_reason::nat_mismatch);
    }
    SUBCASE("too big for the underlay: never an outer fragment (wire rule 7 has its own case)") {
        // Outer IP = inner frame + 8 (NVGRE) + 20 (IPv4): an inner frame of 1472 bytes (UDP
        // payload 1430) fills a 1500-byte underlay exactly; one byte more does not fit.
        vector_sink sink;
        buffer b(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"), 1431));
        const auto o = run(b, red_web, sink);
        CHECK(o.verdict != verdict::encap);
        CHECK(o.copies == (o.verdict == verdict::reply ? 0u : 2u));  // answered, or inner fragments
        for (const auto& out : sink.out) CHECK(out.bytes.size() <= 1514);
        buffer fits(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"), 1430));
        CHECK(run(fits, red_web).verdict == verdict::encap);
        CHECK(fits.f.size() == 1514);
    }
    SUBCASE("too little headroom") {
        buffer b(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")), 20);
        CHECK(run(b, red_web).reason == drop_reason::no_headroom);
    }
}

TEST_CASE("datapath/egress rule 7: broadcast and multicast are replicated head-end") {
    vector_sink sink;
    buffer b(udp_frame(red_web, mac_address::broadcast(), ip("10.0.0.5"), ip("10.0.0.255")));
    const auto o = run(b, red_web, sink);
    REQUIRE(o.verdict == verdict::flood);
    // Remote PAs of 5001: hv2 (red-db, the wildcard gateway) and hv3 (red-far); local: red-app.
    CHECK(o.copies == 3);
    std::set<std::string> pas;
    std::set<std::string> vms;
    for (const auto& s : sink.out) {
        if (s.to.to == destination::kind::fabric) {
            const auto l = wire::parse_packet_layout(s.bytes);
            REQUIRE(l.kind == wire::frame_kind::nvgre);
            CHECK(l.vsid_bits() == 5001);
            pas.insert(ip_address{wire::ipv4_view::unchecked(std::span<const std::byte>(s.bytes).subspan(14)).destination()}.to_string());
        } else {
            vms.insert(s.to.vm_mac.to_string());
        }
    }
    CHECK(pas == std::set<std::string>{"192.168.10.12", "192.168.20.13"});
    CHECK(vms == std::set<std::string>{"00:15:5d:00:00:07"});

    vector_sink empty;
    empty.limit = 0;
    buffer c(udp_frame(red_web, mac_address::broadcast(), ip("10.0.0.5"), ip("10.0.0.255")));
    const auto none = run(c, red_web, empty);
    CHECK(none.verdict == verdict::flood);
    CHECK(none.copies == 0);
    CHECK(none.reason == drop_reason::no_buffer);
}

TEST_CASE("datapath/egress rule 1 and 7: link-scope multicast from a link-local address or from ::") {
    // A VM's kernel sends MLD reports from :: while its link-local address is tentative
    // (RFC 3810 5.2.13), then from fe80::/10: no record vouches for either, but they go to
    // link-scope multicast groups of the VSID only.
    const mac_address all_mld_routers = mac("33:33:00:00:00:16");
    for (const char* source : {"::", "fe80::215:5dff:fe00:5"}) {
        CAPTURE(source);
        vector_sink sink;
        buffer b(udp_frame(red_web, all_mld_routers, ip(source), ip("ff02::16")));
        const auto o = run(b, red_web, sink);
        CHECK(o.verdict == verdict::flood);
        CHECK(o.copies == 3);
        // The same sources toward a unicast destination are spoofed.
        buffer u(udp_frame(red_web, red_db, ip(source), ip("fd00::6")));
        CHECK(run(u, red_web).reason == drop_reason::spoofed_source);
    }
}

TEST_CASE("datapath/egress rule 7: an unreachable remote PA does not stop the other copies") {
    // On hv2 there is no provider route to hv3 (192.168.20.13): red-db's broadcast still goes to
    // hv1 and to the local gateway VM, and the flood names the copy it could not make.
    vector_sink sink;
    buffer b(udp_frame(red_db, mac_address::broadcast(), ip("10.0.0.6"), ip("10.0.0.255")));
    const auto o = egress(hnv_state("hv2"), red_db, b.f, sink);
    CHECK(o.verdict == verdict::flood);
    CHECK(o.reason == drop_reason::no_next_hop);
    CHECK(o.copies == 2);
    REQUIRE(sink.out.size() == 2);
    CHECK(sink.out[0].to.to == destination::kind::fabric);
    CHECK(sink.out[1].to.vm_mac == mac("00:15:5d:00:00:fe"));
}

TEST_CASE("datapath/egress: bursts count every verdict and reason") {
    std::vector<std::unique_ptr<buffer>> bufs;
    std::vector<frame> frames;
    std::vector<mac_address> ports;
    for (int i = 0; i < 40; ++i) {
        const bool good = i % 4 != 0;
        bufs.push_back(std::make_unique<buffer>(udp_frame(red_web, red_db, ip(good ? "10.0.0.5" : "10.0.0.99"), ip("10.0.0.6"))));
        frames.push_back(bufs.back()->f);
        ports.push_back(red_web);
    }
    std::vector<outcome> out(frames.size());
    vector_sink sink;
    context c;
    egress_burst(hnv_state("hv1"), std::span<frame>(frames), std::span<const mac_address>(ports), std::span<outcome>(out),
                 sink, c);
    CHECK(c.count.of(verdict::encap) == 30);
    CHECK(c.count.of(verdict::drop) == 10);
    CHECK(c.count.of(drop_reason::spoofed_source) == 10);
    for (std::size_t i = 0; i < out.size(); ++i) CHECK((out[i].verdict == verdict::encap) == (i % 4 != 0));
}

TEST_CASE("datapath/egress: a burst whose spans differ in size decides the common prefix and touches nothing else") {
    std::vector<std::unique_ptr<buffer>> bufs;
    std::vector<frame> frames;
    for (int i = 0; i < 40; ++i) {
        bufs.push_back(std::make_unique<buffer>(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"))));
        frames.push_back(bufs.back()->f);
    }
    const std::vector<std::byte> untouched = bufs.back()->bytes();
    // Exact-size heap vectors: a read or write past one is an ASan report.
    std::vector<mac_address> ports(35, red_web);
    std::vector<outcome> out(37);
    vector_sink sink;
    context c;
    const std::size_t decided = egress_burst(hnv_state("hv1"), std::span<frame>(frames), std::span<const mac_address>(ports),
                                             std::span<outcome>(out), sink, c);
    CHECK(decided == 35);
    CHECK(c.count.of(verdict::encap) == 35);
    for (std::size_t i = 0; i < 35; ++i) CHECK(out[i].verdict == verdict::encap);
    for (std::size_t i = 35; i < out.size(); ++i) CHECK(out[i].verdict == outcome{}.verdict);
    CHECK(bufs.back()->bytes() == untouched);  // frames past the prefix are not changed
}

namespace {
// The inner frame of an NVGRE frame hv1 sent (IPv4 PA: 42 outer bytes), checked on the way.
std::vector<std::byte> inner_of_nvgre(const std::vector<std::byte>& outer, std::uint8_t& flow) {
    const auto layout = wire::parse_packet_layout(outer);
    REQUIRE(layout.kind == wire::frame_kind::nvgre);
    CHECK(layout.inner_l2_offset == 42);
    CHECK(outer.size() - 14 <= 1500);  // never above the underlay MTU
    flow = std::to_integer<std::uint8_t>(outer[41]);
    return {outer.begin() + 42, outer.end()};
}
// A partial checksum as a VM with checksum offload hands it over: the pseudo-header sum.
void make_partial(buffer& b, const tcp_frame_spec& s, std::size_t l4, std::size_t field) {
    const std::size_t len = b.f.size() - l4;
    nvgre::detail::store_be16(b.f.bytes().data() + l4 + field,
                       checksum::fold(checksum::pseudo_header_sum(s.src, s.dst, s.protocol, static_cast<std::uint32_t>(len))));
    b.f.offload.checksum_partial = true;
    b.f.offload.checksum_start = static_cast<std::uint16_t>(l4);
    b.f.offload.checksum_offset = static_cast<std::uint16_t>(field);
}
}  // namespace

TEST_CASE("datapath/egress wire rule 7: too big for the underlay is segmented, fragmented or answered") {
    // red-web (hv1, 10.0.0.5) -> red-db (hv2, 10.0.0.6), IPv4 PAs, underlay 1500: usable inner
    // IP MTU 1458, so an inner TCP/IPv4 segment carries at most 1418 payload bytes.
    SUBCASE("DF: ICMP fragmentation needed back to the VM, MTU 1458, from the gateway") {
        tcp_frame_spec s;
        s.payload_len = 1419;  // a 1459-byte IP packet
        buffer b(tcp_frame(s));
        vector_sink sink;
        const auto o = run(b, red_web, sink);
        REQUIRE(o.verdict == verdict::reply);
        CHECK(o.to.to == destination::kind::sender);
        CHECK(sink.out.empty());
        const auto out = b.bytes();
        CHECK(mac_address::from_bytes(std::span(out).subspan(0, 6)) == red_web);
        CHECK(ipv4_address::from_bytes(std::span(out).subspan(26, 4)) == ipv4_address{{10, 0, 0, 1}});
        CHECK(std::to_integer<int>(out[34]) == 3);  // destination unreachable
        CHECK(std::to_integer<int>(out[35]) == 4);  // fragmentation needed
        CHECK(nvgre::detail::load_be16(out.data() + 40) == 1458);
        CHECK(checksum::compute(std::span<const std::byte>(out).subspan(34)) == 0);
    }
    SUBCASE("no DF: inner IPv4 fragments, each its own NVGRE packet with the datagram's FlowID") {
        tcp_frame_spec s;
        s.protocol = 17;
        s.dont_fragment = false;
        s.payload_len = 4000;
        buffer b(tcp_frame(s));
        vector_sink sink;
        const auto o = run(b, red_web, sink);
        CHECK(o.verdict == verdict::encap);
        CHECK(o.pa == ip("192.168.10.12"));
        REQUIRE(o.copies == 3);
        REQUIRE(sink.out.size() == 3);
        std::set<std::uint8_t> flows;
        std::size_t carried = 0;
        for (const auto& out : sink.out) {
            CHECK(out.to.to == destination::kind::fabric);
            std::uint8_t flow = 0;
            const auto inner = inner_of_nvgre(out.bytes, flow);
            flows.insert(flow);
            CHECK(checksum::compute(std::span<const std::byte>(inner).subspan(14, 20)) == 0);
            carried += inner.size() - 34;
        }
        CHECK(flows.size() == 1);
        CHECK(carried == 8 + 4000);
    }
    SUBCASE("TCP with pipeline_config::gso: MSS-sized segments, every checksum recomputed") {
        tcp_frame_spec s;
        s.payload_len = 20000;
        buffer b(tcp_frame(s));
        vector_sink sink;
        pipeline_config cfg;
        CHECK(run(b, red_web, sink, cfg).verdict == verdict::reply);  // without gso: answered
        buffer again(tcp_frame(s));
        cfg.gso = true;
        const auto o = run(again, red_web, sink, cfg);
        CHECK(o.verdict == verdict::encap);
        REQUIRE(o.copies == 15);  // ceil(20000 / 1418)
        std::uint32_t seq = s.seq;
        for (const auto& out : sink.out) {
            std::uint8_t flow = 0;
            const auto inner = inner_of_nvgre(out.bytes, flow);
            CHECK(inner.size() <= 14 + 1458);
            CHECK(nvgre::detail::load_be32(inner.data() + 34 + 4) == seq);
            seq += static_cast<std::uint32_t>(inner.size() - 54);
            CHECK(l4_checksum_ok(s.src, s.dst, 6, std::span<const std::byte>(inner).subspan(34)));
        }
        CHECK(seq == s.seq + 20000);
    }
    SUBCASE("TSO from the VM: its segment size, its partial checksum; a size that cannot fit is answered") {
        tcp_frame_spec s;
        s.payload_len = 4000;
        buffer b(tcp_frame(s));
        make_partial(b, s, 34, 16);
        b.f.offload.segment_size = 1000;
        vector_sink sink;
        const auto o = run(b, red_web, sink);
        CHECK(o.verdict == verdict::encap);
        REQUIRE(o.copies == 4);
        for (const auto& out : sink.out) {
            std::uint8_t flow = 0;
            const auto inner = inner_of_nvgre(out.bytes, flow);
            CHECK(inner.size() == 54 + 1000);
            CHECK(l4_checksum_ok(s.src, s.dst, 6, std::span<const std::byte>(inner).subspan(34)));
        }
        CHECK(sink.outstanding() == 0);
        // A sink with no buffer at all: nothing went, so a drop (not an encap verdict whose
        // in-place frame would go out unencapsulated); with one buffer, one segment went.
        for (const std::size_t buffers : {std::size_t{0}, std::size_t{1}}) {
            CAPTURE(buffers);
            vector_sink limited;
            limited.limit = buffers;
            buffer short_of(tcp_frame(s));
            short_of.f.offload.segment_size = 1000;
            const auto o = run(short_of, red_web, limited);
            CHECK(o.verdict == (buffers == 0 ? verdict::drop : verdict::encap));
            CHECK(o.copies == buffers);
            CHECK(o.reason == drop_reason::no_buffer);
        }
        buffer too_big(tcp_frame(s));
        too_big.f.offload.segment_size = 1448;  // the VM's MSS at MTU 1500 does not fit 1458
        CHECK(run(too_big, red_web).verdict == verdict::reply);
    }
    SUBCASE("TSO left to the NIC (segmentation_by_hardware): one encapsulated frame, segment size and checksum kept") {
        tcp_frame_spec s;
        s.payload_len = 4000;
        const auto sent = tcp_frame(s);
        buffer b(sent);
        make_partial(b, s, 34, 16);
        const auto partial = b.bytes();
        b.f.offload.segment_size = 1000;
        vector_sink sink;
        pipeline_config cfg;
        cfg.segmentation_by_hardware = true;
        const auto o = run(b, red_web, sink, cfg);
        CHECK(o.verdict == verdict::encap);
        CHECK(o.copies == 0);
        CHECK(sink.out.empty());
        CHECK(b.f.size() == sent.size() + 42);
        CHECK(b.f.offload.encapsulated);
        CHECK(b.f.offload.segment_size == 1000);
        CHECK(b.f.offload.checksum_partial);  // the NIC computes each segment's
        CHECK(b.f.offload.checksum_start == 42 + 34);
        const auto whole = b.bytes();  // above the underlay MTU: the NIC's segments are not
        const auto layout = wire::parse_packet_layout(whole);
        REQUIRE(layout.kind == wire::frame_kind::nvgre);
        CHECK(layout.inner_l2_offset == 42);
        CHECK(std::vector<std::byte>(whole.begin() + 42, whole.end()) == partial);  // the tenant frame as the VM sent it
        CHECK(nvgre::detail::load_be16(b.bytes().data() + 14 + 2) == 20 + 8 + sent.size());  // outer total length

        // A segment size that cannot fit is answered as before; so is a send whose outer packet
        // would pass 65535 bytes cut in software.
        buffer too_big(tcp_frame(s));
        too_big.f.offload.segment_size = 1448;
        CHECK(run(too_big, red_web, sink, cfg).verdict == verdict::reply);
        tcp_frame_spec large = s;
        large.payload_len = 65535 - 40 - 14;  // outer: 20 + 8 + 14 + 65481 > 65535
        buffer largest(tcp_frame(large));
        largest.f.offload.segment_size = 1400;
        vector_sink pieces;
        const auto cut = run(largest, red_web, pieces, cfg);
        CHECK(cut.verdict == verdict::encap);
        CHECK(cut.copies == (65481 - 54 + 1399) / 1400);
    }
    SUBCASE("a partial checksum is completed before encapsulation; metadata outside the frame are dropped") {
        tcp_frame_spec s;
        s.payload_len = 100;
        const auto full = tcp_frame(s);
        buffer b(full);
        make_partial(b, s, 34, 16);
        CHECK(b.bytes() != full);
        CHECK(run(b, red_web).verdict == verdict::encap);
        CHECK(!b.f.offload.checksum_partial);
        std::uint8_t flow = 0;
        CHECK(inner_of_nvgre(b.bytes(), flow) == full);
        buffer bad(full);
        bad.f.offload.checksum_partial = true;
        bad.f.offload.checksum_start = 2000;
        CHECK(run(bad, red_web).reason == drop_reason::bad_offload);
    }
    SUBCASE("answers are rate-limited per source") {
        tcp_frame_spec s;
        s.payload_len = 1419;
        context ctx;
        ctx.limit_answers(2, 1);
        std::uint64_t clock = 1;
        ctx.use_clock(&clock);
        vector_sink sink;
        for (int i = 0; i < 2; ++i) {
            buffer b(tcp_frame(s));
            CHECK(run(b, red_web, sink, ctx).verdict == verdict::reply);
        }
        buffer third(tcp_frame(s));
        CHECK(run(third, red_web, sink, ctx).reason == drop_reason::too_big);
        CHECK(ctx.count.of(verdict::reply) == 2);
        CHECK(ctx.count.of(drop_reason::too_big) == 3);  // two answered, one not
    }
    SUBCASE("the sending PA's own underlay MTU") {
        tcp_frame_spec s;
        s.payload_len = 4000;
        const std::array<pa_mtu, 1> jumbo{{{ip("192.168.10.11"), 9000}}};
        pipeline_config cfg;
        cfg.underlay_mtus = jumbo;
        buffer b(tcp_frame(s));
        vector_sink sink;
        const auto o = run(b, red_web, sink, cfg);
        CHECK(o.verdict == verdict::encap);
        CHECK(o.copies == 0);
        CHECK(b.f.size() == 42 + 14 + 4040);
    }
}

// ---- gateways, next hops and the router's answers (examples/policies/gateways.policy) ----

namespace {
outcome run_gw(buffer& b, const mac_address& port, const pipeline_config& cfg = {}, std::string_view host = "hv1") {
    vector_sink sink;
    return egress(gateway_state(host), port, b.f, sink, cfg);
}
outcome run_gw(buffer& b, const mac_address& port, context& ctx) {
    vector_sink sink;
    return egress(gateway_state("hv1"), port, b.f, sink, ctx);
}
/// The inner Ethernet and IP header of an encapsulated output frame.
struct inner_of {
    wire::packet_layout l;
    mac_address src_mac, dst_mac;
    std::uint8_t ttl{0};
    ip_address dst;
    explicit inner_of(std::span<const std::byte> b) : l(wire::parse_packet_layout(b)) {
        REQUIRE(l.kind == wire::frame_kind::nvgre);
        const auto eth = wire::ethernet_view::unchecked(b.subspan(l.inner_l2_offset));
        src_mac = eth.source();
        dst_mac = eth.destination();
        if (l.inner_l3 == wire::l3_kind::ipv4) {
            const auto ip4 = wire::ipv4_view::unchecked(b.subspan(l.inner_l3_offset));
            CHECK(ip4.header_checksum_ok());
            ttl = ip4.ttl();
            dst = ip4.destination();
        } else {
            const auto ip6 = wire::ipv6_view::unchecked(b.subspan(l.inner_l3_offset));
            ttl = ip6.hop_limit();
            dst = ip6.destination();
        }
    }
};
}  // namespace

TEST_CASE("datapath/egress rule 4: no record on an on-link route goes to a gateway; the flow hash picks one of several") {
    using namespace gw_vm;
    std::set<std::string> pas;
    for (int i = 1; i <= 64; ++i) {
        const ip_address internet = ip("203.0.113." + std::to_string(i));
        const auto frame = udp_frame(red_web, red_router, ip("10.0.0.5"), internet, 20, 64);
        buffer b(frame);
        const auto o = run_gw(b, red_web);
        REQUIRE(o.verdict == verdict::encap);
        CHECK(o.vsid == 5001);
        const inner_of in(b.f.bytes());
        // Routed to the gateway: router MAC as source, the gateway's MAC, TTL decremented,
        // the destination address unchanged.
        CHECK(in.src_mac == red_router);
        CHECK(in.ttl == 63);
        CHECK(in.dst == internet);
        if (o.pa == ip("192.168.10.12")) CHECK(in.dst_mac == red_gw1);
        else if (o.pa == ip("192.168.10.13")) CHECK(in.dst_mac == red_gw2);
        else FAIL("a PA that holds no gateway: " << o.pa.to_string());
        pas.insert(o.pa.to_string());
        // The same flow always takes the same gateway.
        for (int again = 0; again < 3; ++again) {
            buffer c(frame);
            CHECK(run_gw(c, red_web).pa == o.pa);
        }
    }
    CHECK(pas.size() == 2);  // 64 flows spread over both gateways

    // IPv6: only red-gw1 is a gateway for IPv6.
    buffer v6(udp_frame(red_web, red_router, ip("fd00::5"), ip("2001:db8::10"), 20, 64));
    const auto o6 = run_gw(v6, red_web);
    REQUIRE(o6.verdict == verdict::encap);
    CHECK(o6.pa == ip("192.168.10.12"));
    const inner_of in6(v6.f.bytes());
    CHECK(in6.dst_mac == red_gw1);
    CHECK(in6.ttl == 63);
}

TEST_CASE("datapath/egress rules 4 and 5: a next-hop route goes to the next hop's record, routed") {
    using namespace gw_vm;
    buffer b(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("172.16.4.4"), 20, 64));
    const auto o = run_gw(b, red_web);
    REQUIRE(o.verdict == verdict::encap);
    CHECK(o.pa == ip("192.168.10.12"));
    const inner_of in(b.f.bytes());
    CHECK(in.dst_mac == red_fw);
    CHECK(in.src_mac == red_router);
    CHECK(in.ttl == 63);
    CHECK(in.dst == ip("172.16.4.4"));  // the inner destination never changes

    // A next hop that no VM holds: the VSID's gateway.
    buffer c(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("172.17.0.9"), 20, 64));
    const auto oc = run_gw(c, red_web);
    REQUIRE(oc.verdict == verdict::encap);
    const inner_of inc(c.f.bytes());
    CHECK((inc.dst_mac == red_gw1 || inc.dst_mac == red_gw2));

    // Switched within the subnet: the source MAC and TTL stay as sent (the fast path's case).
    buffer d(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.0.6"), 20, 64));
    REQUIRE(run_gw(d, red_web).verdict == verdict::encap);
    const inner_of ind(d.f.bytes());
    CHECK(ind.src_mac == red_web);
    CHECK(ind.dst_mac == red_db);
    CHECK(ind.ttl == 64);
}

TEST_CASE("datapath/egress rule 8: echo replies from the gateway addresses; anything else to them is dropped") {
    using namespace gw_vm;
    for (const char* gw : {"10.0.0.1", "fd00::1"}) {
        CAPTURE(gw);
        const ip_address src = ip(gw).is_v6() ? ip("fd00::5") : ip("10.0.0.5");
        const auto request = echo_request(red_web, red_router, src, ip(gw), 0x4242, 9, 64, 40);
        buffer b(request);
        const auto o = run_gw(b, red_web);
        REQUIRE(o.verdict == verdict::reply);
        CHECK(o.reason == drop_reason::none);
        CHECK(o.to.to == destination::kind::sender);
        const auto out = b.bytes();
        REQUIRE(out.size() == request.size());
        CHECK(mac_address::from_bytes(std::span(out).subspan(0, 6)) == red_web);
        CHECK(mac_address::from_bytes(std::span(out).subspan(6, 6)) == red_router);
        const bool v6 = ip(gw).is_v6();
        const std::size_t l4 = v6 ? 54 : 34;
        CHECK(std::to_integer<int>(out[l4]) == (v6 ? 129 : 0));
        CHECK(nvgre::detail::load_be16(out.data() + l4 + 4) == 0x4242);
        CHECK(nvgre::detail::load_be16(out.data() + l4 + 6) == 9);
        CHECK(std::equal(out.begin() + static_cast<std::ptrdiff_t>(l4 + 8), out.end(), request.begin() + static_cast<std::ptrdiff_t>(l4 + 8)));
        if (v6) {
            const auto ip6 = wire::ipv6_view::unchecked(std::span<const std::byte>(out).subspan(14));
            CHECK(ip_address{ip6.source()} == ip(gw));
            CHECK(ip_address{ip6.destination()} == src);
            CHECK(l4_checksum_ok(ip(gw), src, 58, std::span<const std::byte>(out).subspan(l4)));
        } else {
            const auto ip4 = wire::ipv4_view::unchecked(std::span<const std::byte>(out).subspan(14));
            CHECK(ip_address{ip4.source()} == ip(gw));
            CHECK(ip_address{ip4.destination()} == src);
            CHECK(ip4.header_checksum_ok());
            CHECK(checksum::verify(std::span<const std::byte>(out).subspan(l4)));
        }
    }
    buffer udp(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.0.1")));
    CHECK(run_gw(udp, red_web).reason == drop_reason::to_router);
    // Blue's gateway answers from blue's router MAC.
    buffer blue(echo_request(blue_web, blue_router, ip("10.0.0.5"), ip("10.0.0.1")));
    REQUIRE(run_gw(blue, blue_web).verdict == verdict::reply);
    CHECK(mac_address::from_bytes(std::span<const std::byte>(blue.bytes()).subspan(6, 6)) == blue_router);
}

namespace {
/// Checks that `out` is ICMP error (type, code) from `from` to `to`, quoting `sent` (from its IP header).
void check_icmp_error(const std::vector<std::byte>& out, const std::vector<std::byte>& sent, const ip_address& from,
                      const ip_address& to, int type, int code, const mac_address& router) {
    CHECK(mac_address::from_bytes(std::span(out).subspan(6, 6)) == router);
    CHECK(mac_address::from_bytes(std::span(out).subspan(0, 6)) == mac_address::from_bytes(std::span(sent).subspan(6, 6)));
    const bool v6 = from.is_v6();
    const std::size_t l4 = v6 ? 54 : 34;
    REQUIRE(out.size() > l4 + 8);
    CHECK(std::to_integer<int>(out[l4]) == type);
    CHECK(std::to_integer<int>(out[l4 + 1]) == code);
    const auto icmp = std::span<const std::byte>(out).subspan(l4);
    if (v6) {
        const auto ip6 = wire::ipv6_view::unchecked(std::span<const std::byte>(out).subspan(14));
        CHECK(ip_address{ip6.source()} == from);
        CHECK(ip_address{ip6.destination()} == to);
        CHECK(l4_checksum_ok(from, to, 58, icmp));
    } else {
        const auto ip4 = wire::ipv4_view::unchecked(std::span<const std::byte>(out).subspan(14));
        CHECK(ip_address{ip4.source()} == from);
        CHECK(ip_address{ip4.destination()} == to);
        CHECK(ip4.header_checksum_ok());
        CHECK(checksum::verify(icmp));
    }
    // The quote: the packet as the VM sent it (TTL not decremented).
    const std::size_t quoted = out.size() - l4 - 8;
    CHECK(std::equal(icmp.begin() + 8, icmp.end(), sent.begin() + 14));
    CHECK(quoted == std::min<std::size_t>(sent.size() - 14, (v6 ? 1280u : 576u) - (v6 ? 48u : 28u)));
}
}  // namespace

TEST_CASE("datapath/egress rule 8: time exceeded and destination unreachable from the router") {
    using namespace gw_vm;
    SUBCASE("TTL 1 toward a gateway: time exceeded from 10.0.0.1, quoting the packet as sent") {
        const auto sent = udp_frame(red_web, red_router, ip("10.0.0.5"), ip("203.0.113.10"), 30, 1);
        buffer b(sent);
        const auto o = run_gw(b, red_web);
        REQUIRE(o.verdict == verdict::reply);
        CHECK(o.reason == drop_reason::ttl_expired);
        check_icmp_error(b.bytes(), sent, ip("10.0.0.1"), ip("10.0.0.5"), 11, 0, red_router);
    }
    SUBCASE("hop limit 1, IPv6: time exceeded from fd00::1") {
        const auto sent = udp_frame(red_web, red_router, ip("fd00::5"), ip("2001:db8::1"), 30, 1);
        buffer b(sent);
        const auto o = run_gw(b, red_web);
        REQUIRE(o.verdict == verdict::reply);
        CHECK(o.reason == drop_reason::ttl_expired);
        check_icmp_error(b.bytes(), sent, ip("fd00::1"), ip("fd00::5"), 3, 0, red_router);
    }
    SUBCASE("switched packets keep TTL 1 (no router in the way)") {
        buffer b(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.0.6"), 30, 1));
        CHECK(run_gw(b, red_web).verdict == verdict::encap);
    }
    SUBCASE("no route: net unreachable (blue has no default route)") {
        const auto sent = udp_frame(blue_web, blue_router, ip("10.0.0.5"), ip("8.8.8.8"), 30, 64);
        buffer b(sent);
        const auto o = run_gw(b, blue_web);
        REQUIRE(o.verdict == verdict::reply);
        CHECK(o.reason == drop_reason::no_route);
        check_icmp_error(b.bytes(), sent, ip("10.0.0.1"), ip("10.0.0.5"), 3, 0, blue_router);
    }
    SUBCASE("a route but no record and no gateway: host unreachable") {
        const auto sent = udp_frame(blue_web, blue_router, ip("10.0.0.5"), ip("10.0.0.77"), 30, 64);
        buffer b(sent);
        const auto o = run_gw(b, blue_web);
        REQUIRE(o.verdict == verdict::reply);
        CHECK(o.reason == drop_reason::no_record);
        check_icmp_error(b.bytes(), sent, ip("10.0.0.1"), ip("10.0.0.5"), 3, 1, blue_router);
    }
    SUBCASE("a subnet without a gateway address answers nothing: the drop keeps its reason") {
        buffer b(udp_frame(red_lab, red_router, ip("10.0.3.5"), ip("10.0.3.77"), 30, 64));
        const auto o = run_gw(b, red_lab);
        CHECK(o.verdict == verdict::drop);
        CHECK(o.reason == drop_reason::no_record);
    }
    SUBCASE("never an answer to an ICMP error, a non-first fragment or a multicast") {
        auto error = echo_request(blue_web, blue_router, ip("10.0.0.5"), ip("8.8.8.8"));
        error[34] = std::byte{3};  // destination unreachable: an ICMP error
        error[36] = error[37] = std::byte{0};
        nvgre::detail::store_be16(error.data() + 36, checksum::compute(std::span<const std::byte>(error).subspan(34)));
        buffer e(error);
        const auto oe = run_gw(e, blue_web);
        CHECK(oe.verdict == verdict::drop);
        CHECK(oe.reason == drop_reason::no_route);
        auto fragment = udp_frame(blue_web, blue_router, ip("10.0.0.5"), ip("8.8.8.8"), 30, 64);
        nvgre::detail::store_be16(fragment.data() + 14 + 6, 0x0010);  // offset 128 bytes, no DF
        nvgre::detail::store_be16(fragment.data() + 14 + 10, 0);
        nvgre::detail::store_be16(fragment.data() + 14 + 10, checksum::ipv4_header_checksum(std::span<const std::byte>(fragment).subspan(14, 20)));
        buffer fr(fragment);
        const auto of = run_gw(fr, blue_web);
        CHECK(of.verdict == verdict::drop);
        CHECK(of.reason == drop_reason::no_route);
    }
    SUBCASE("one rate limit per source for every answer") {
        context ctx;  // the thread's context holds the rate limit
        ctx.limit_answers(10, 1);
        std::uint64_t now = 1'000'000'000;
        ctx.use_clock(&now);
        std::vector<verdict> v;
        for (int i = 0; i < 8; ++i) {
            buffer b(udp_frame(blue_web, blue_router, ip("10.0.0.5"), ip("8.8.8.8"), 30, 64));
            v.push_back(run_gw(b, blue_web, ctx).verdict);
        }
        for (int i = 0; i < 4; ++i) {
            buffer b(echo_request(blue_web, blue_router, ip("10.0.0.5"), ip("10.0.0.1")));
            const auto o = run_gw(b, blue_web, ctx);
            v.push_back(o.verdict);
            if (o.verdict == verdict::drop) CHECK(o.reason == drop_reason::to_router);
        }
        CHECK(std::count(v.begin(), v.end(), verdict::reply) == 10);
        CHECK(std::count(v.begin(), v.end(), verdict::drop) == 2);
        // Red's 10.0.0.5 is another source (another routing domain): its own budget.
        buffer r(echo_request(red_web, red_router, ip("10.0.0.5"), ip("10.0.0.1")));
        CHECK(run_gw(r, red_web, ctx).verdict == verdict::reply);
    }
}

TEST_CASE("datapath/egress rule 1: a gateway sends from outside addresses, never in a tenant VM's name") {
    using namespace gw_vm;
    // red-gw1 on hv2 forwards a packet from the Internet to red-web: switched in 5001.
    buffer b(udp_frame(red_gw1, red_web, ip("203.0.113.10"), ip("10.0.0.5"), 20, 60));
    const auto o = run_gw(b, red_gw1, {}, "hv2");
    REQUIRE(o.verdict == verdict::encap);
    CHECK(o.pa == ip("192.168.10.11"));
    const auto outer = wire::ipv4_view::unchecked(b.f.bytes().subspan(14));
    CHECK(ip_address{outer.source()} == ip("192.168.10.12"));  // the gateway record's PA
    const inner_of in(b.f.bytes());
    CHECK(in.src_mac == red_gw1);
    CHECK(in.ttl == 60);
    // Into another subnet of the domain (5003, no gateway there): routed.
    buffer lab(udp_frame(red_gw1, red_router, ip("203.0.113.10"), ip("10.0.3.5"), 20, 60));
    const auto ol = run_gw(lab, red_gw1, {}, "hv2");
    REQUIRE(ol.verdict == verdict::encap);
    CHECK(ol.vsid == 5003);
    // From its own CA, fine; from red-web's CA (a record of the domain): spoofed.
    buffer own(udp_frame(red_gw1, red_web, ip("10.0.0.241"), ip("10.0.0.5")));
    CHECK(run_gw(own, red_gw1, {}, "hv2").verdict == verdict::encap);
    buffer spoof(udp_frame(red_gw1, red_web, ip("10.0.0.6"), ip("10.0.0.5")));
    CHECK(run_gw(spoof, red_gw1, {}, "hv2").reason == drop_reason::spoofed_source);
    // red-gw2 holds no IPv6 gateway record: an IPv6 source outside the tenant is spoofed.
    buffer v6(udp_frame(red_gw2, red_web, ip("2001:db8::9"), ip("fd00::5")));
    CHECK(run_gw(v6, red_gw2, {}, "hv3").reason == drop_reason::spoofed_source);
    // A tenant VM without a gateway record cannot send from outside addresses.
    buffer vm(udp_frame(red_web, red_db, ip("203.0.113.10"), ip("10.0.0.6")));
    CHECK(run_gw(vm, red_web).reason == drop_reason::spoofed_source);
}

namespace {
/// Frames from every local port of `host` toward a mix of destinations: tenant CAs of both
/// subnets and domains, gateway addresses, next hops, the Internet, unknown CAs; UDP and echo;
/// TTL 64, 2 and 1; unicast and broadcast. Deterministic (seeded).
std::vector<std::pair<mac_address, std::vector<std::byte>>> mixed_egress_frames(const policy::state& s, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<mac_address> ports;
    s.for_each_record([&](const policy::record_entry& r, policy::record_id) {
        if (r.local && std::find(ports.begin(), ports.end(), r.mac) == ports.end()) ports.push_back(r.mac);
    });
    std::vector<ip_address> sources4, sources6;
    s.for_each_record([&](const policy::record_entry& r, policy::record_id) {
        if (r.local && r.type == policy::record_type::static_record) (r.ca.is_v4() ? sources4 : sources6).push_back(r.ca);
    });
    const char* dst4[] = {"10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.9", "10.0.1.8", "10.0.1.1", "10.0.0.1", "10.0.0.20",
                          "10.0.0.66", "10.0.3.5", "10.0.3.77", "172.16.4.4", "172.17.0.9", "203.0.113.10", "8.8.8.8",
                          "10.0.0.255"};
    const char* dst6[] = {"fd00::5", "fd00::6", "fd00::1", "fd00::77", "2001:db8::10"};
    std::vector<std::pair<mac_address, std::vector<std::byte>>> out;
    for (int i = 0; i < 300 && !ports.empty(); ++i) {
        const mac_address port = ports[rng() % ports.size()];
        const policy::local_port* p = s.port(port);
        // The port's own address mostly; sometimes any local address (spoofed) or an outside one.
        const bool v6 = rng() % 4 == 0 && !sources6.empty();
        const auto& pool = v6 ? sources6 : sources4;
        ip_address src = pool.empty() ? ip("10.0.0.5") : pool[rng() % pool.size()];
        for (const policy::record_id id : p->records)
            if (rng() % 2 == 0 && s.record(id).ca.version() == src.version() && !s.record(id).ca.is_unspecified()) src = s.record(id).ca;
        if (rng() % 10 == 0) src = v6 ? ip("2001:db8::99") : ip("203.0.113.99");
        const ip_address dst = v6 ? ip(dst6[rng() % std::size(dst6)]) : ip(dst4[rng() % std::size(dst4)]);
        const std::uint8_t ttl = std::array<std::uint8_t, 3>{64, 2, 1}[rng() % 3];
        const mac_address dst_mac = rng() % 8 == 0 ? mac_address::broadcast() : mac("02:00:5e:00:01:01");
        const bool ping = rng() % 3 == 0;
        out.emplace_back(port, ping ? echo_request(port, dst_mac, src, dst, static_cast<std::uint16_t>(i), 1, ttl)
                                    : udp_frame(port, dst_mac, src, dst, 10 + rng() % 40, ttl));
    }
    return out;
}
}  // namespace

TEST_CASE("datapath/egress: egress_burst gives what egress() gives, byte for byte (both policies, every host)") {
    for (const bool gateways : {false, true}) {
        for (const char* host : {"hv1", "hv2", "hv3"}) {
            CAPTURE(gateways);
            CAPTURE(host);
            const policy::state& s = gateways ? gateway_state(host) : hnv_state(host);
            const auto frames = mixed_egress_frames(s, gateways ? 7u : 11u);
            std::vector<std::unique_ptr<buffer>> single, burst;
            std::vector<frame> burst_frames;
            std::vector<mac_address> ports;
            vector_sink single_sink, burst_sink;
            std::vector<outcome> want;
            for (const auto& [port, bytes] : frames) {
                single.push_back(std::make_unique<buffer>(bytes));
                want.push_back(egress(s, port, single.back()->f, single_sink));
                burst.push_back(std::make_unique<buffer>(bytes));
                burst_frames.push_back(burst.back()->f);
                ports.push_back(port);
            }
            std::vector<outcome> got(frames.size());
            context count;
            egress_burst(s, std::span<frame>(burst_frames), std::span<const mac_address>(ports), std::span<outcome>(got),
                         burst_sink, count);
            std::set<verdict> seen;
            for (std::size_t i = 0; i < frames.size(); ++i) {
                CAPTURE(i);
                seen.insert(want[i].verdict);
                CHECK(got[i].verdict == want[i].verdict);
                CHECK(got[i].reason == want[i].reason);
                CHECK(got[i].vsid == want[i].vsid);
                CHECK(got[i].pa == want[i].pa);
                CHECK(got[i].to.to == want[i].to.to);
                CHECK(got[i].to.vm_mac == want[i].to.vm_mac);
                CHECK(got[i].copies == want[i].copies);
                const auto a = single[i]->bytes();
                const auto b = std::vector<std::byte>(burst_frames[i].bytes().begin(), burst_frames[i].bytes().end());
                CHECK(a == b);
            }
            REQUIRE(single_sink.out.size() == burst_sink.out.size());
            for (std::size_t i = 0; i < single_sink.out.size(); ++i) CHECK(single_sink.out[i].bytes == burst_sink.out[i].bytes);
            if (host == std::string_view("hv1")) CHECK(seen.size() >= 4);  // encap, local/reply, flood, drop at least
        }
    }
}

TEST_CASE("datapath/egress: ports as the embedder's indices — frames in by index, outcomes out by index") {
    policy::state s = hnv_state("hv1");
    no_replication_sink none;
    REQUIRE(s.bind_port(7, red_web));
    REQUIRE(s.bind_port(2, red_app));
    const auto provider_index = [&](const char* pa) {
        const policy::provider_address* p = s.provider(ip(pa));
        REQUIRE(p != nullptr);
        return static_cast<std::uint32_t>(p - &s.provider_at(0));
    };
    SUBCASE("by index and by MAC: the same outcome and bytes") {
        const std::vector<std::vector<std::byte>> sent = {
            udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")),     // encap
            udp_frame(red_web, red_app, ip("10.0.0.5"), ip("10.0.0.7")),    // local
            udp_frame(red_web, mac_address::broadcast(), ip("10.0.0.5"), ip("10.0.0.255")),  // flood
            udp_frame(red_app, red_db, ip("10.0.0.7"), ip("10.0.0.6")),     // spoofed on port 7
        };
        for (const auto& bytes : sent) {
            buffer by_mac(bytes), by_id(bytes);
            vector_sink a, b;
            context ca, cb;
            const outcome x = egress(s, red_web, by_mac.f, a, ca);
            const outcome y = egress(s, std::uint32_t{7}, by_id.f, b, cb);
            CHECK(x == y);
            CHECK(by_mac.bytes() == by_id.bytes());
            REQUIRE(a.out.size() == b.out.size());
            for (std::size_t i = 0; i < a.out.size(); ++i) {
                CHECK(a.out[i].bytes == b.out[i].bytes);
                CHECK(a.out[i].to == b.out[i].to);
            }
        }
    }
    SUBCASE("outcomes name the output port or the destination PA's index") {
        buffer local(udp_frame(red_web, red_app, ip("10.0.0.5"), ip("10.0.0.7")));
        const outcome l = egress(s, std::uint32_t{7}, local.f, none);
        REQUIRE(l.verdict == verdict::local);
        CHECK(l.to == destination::to_vm(red_app, 2));
        buffer remote(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")));
        const outcome r = egress(s, std::uint32_t{7}, remote.f, none);
        REQUIRE(r.verdict == verdict::encap);
        CHECK(r.to == destination::to_fabric(provider_index("192.168.10.12")));
        CHECK(s.provider_at(r.to.provider).pa == r.pa);
        buffer arp(arp_request(red_web, ip("10.0.0.5"), ip("10.0.0.6")));
        const outcome a = egress(s, std::uint32_t{7}, arp.f, none);
        REQUIRE(a.verdict == verdict::reply);
        CHECK(a.to == destination::to_sender(red_web, 7));
        vector_sink sink;
        buffer bcast(udp_frame(red_web, mac_address::broadcast(), ip("10.0.0.5"), ip("10.0.0.255")));
        REQUIRE(egress(s, std::uint32_t{7}, bcast.f, sink).verdict == verdict::flood);
        std::set<std::uint32_t> providers;
        for (const auto& out : sink.out) {
            if (out.to.to == destination::kind::vm) CHECK(out.to == destination::to_vm(red_app, 2));
            else providers.insert(out.to.provider);
        }
        CHECK(providers == std::set<std::uint32_t>{provider_index("192.168.10.12"), provider_index("192.168.20.13")});
    }
    SUBCASE("an unbound index, a rebound MAC, an index out of range") {
        buffer b(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")));
        CHECK(egress(s, std::uint32_t{3}, b.f, none).reason == drop_reason::unknown_port);
        CHECK(egress(s, std::uint32_t{1u << 30}, b.f, none).reason == drop_reason::unknown_port);
        // Numbering red_web again moves it: 7 is free, 4 is red_web's.
        REQUIRE(s.bind_port(4, red_web));
        CHECK(egress(s, std::uint32_t{7}, b.f, none).reason == drop_reason::unknown_port);
        CHECK(egress(s, std::uint32_t{4}, b.f, none).verdict == verdict::encap);
        CHECK_FALSE(s.bind_port(policy::state::max_port_id + 1, red_web));
    }
    SUBCASE("a burst by index gives what a burst by MAC gives") {
        std::vector<std::vector<std::byte>> sent;
        std::vector<mac_address> macs;
        std::vector<std::uint32_t> ids;
        for (int i = 0; i < 40; ++i) {
            const bool web = i % 3 != 0;
            sent.push_back(udp_frame(web ? red_web : red_app, i % 5 == 0 ? red_app : red_db,
                                     ip(web ? "10.0.0.5" : "10.0.0.7"), ip(i % 5 == 0 ? "10.0.0.7" : "10.0.0.6")));
            macs.push_back(web ? red_web : red_app);
            ids.push_back(web ? 7u : 2u);
        }
        std::deque<buffer> a, b;
        for (const auto& bytes : sent) {
            a.emplace_back(bytes);
            b.emplace_back(bytes);
        }
        std::vector<frame> fa, fb;
        for (auto& x : a) fa.push_back(x.f);
        for (auto& x : b) fb.push_back(x.f);
        std::vector<outcome> oa(40), ob(40);
        vector_sink sa, sb;
        context ca(0, 8), cb(0, 8);
        REQUIRE(egress_burst(s, std::span<frame>(fa), std::span<const mac_address>(macs), std::span<outcome>(oa), sa, ca) == 40);
        REQUIRE(egress_burst(s, std::span<frame>(fb), std::span<const std::uint32_t>(ids), std::span<outcome>(ob), sb, cb) == 40);
        CHECK(oa == ob);
        for (std::size_t i = 0; i < 40; ++i) {
            const auto x = std::span<const std::byte>(fa[i].bytes());
            const auto y = std::span<const std::byte>(fb[i].bytes());
            CHECK(std::equal(x.begin(), x.end(), y.begin(), y.end()));
        }
        CHECK(ca.per_port == cb.per_port);
        CHECK(ca.per_port.at(7).packets_in + ca.per_port.at(2).packets_in == 40);
    }
}

TEST_CASE("datapath/egress: a chained frame goes out whole; one with a short first segment is split-headers") {
    const auto f = udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"), 1000);
    buffer whole(f);
    const outcome want = run(whole, red_web);
    REQUIRE(want.verdict == verdict::encap);
    chained_buffer c(f, first_segment_bytes, {100});
    vector_sink sink;
    CHECK(egress(hnv_state("hv1"), red_web, c.f, sink) == want);
    CHECK(c.bytes() == whole.bytes());
    for (const std::size_t first : {std::size_t{10}, std::size_t{14}, first_segment_bytes - 1}) {
        CAPTURE(first);
        chained_buffer split(f, first);
        const outcome o = egress(hnv_state("hv1"), red_web, split.f, sink);
        CHECK(o.verdict == verdict::drop);
        CHECK(o.reason == drop_reason::split_headers);
        CHECK(split.bytes() == f);  // unchanged
    }
}

namespace {

/// Ethernet / IPv4 or IPv6 / `protocol` with `l4` as the transport bytes (no checksum work:
/// the guards read types and ports only).
std::vector<std::byte> l4_frame(const mac_address& src_mac, const mac_address& dst_mac, const ip_address& src, const ip_address& dst,
                                std::uint8_t protocol, std::vector<std::uint8_t> l4) {
    const bool v6 = src.is_v6();
    const std::size_t l3_len = v6 ? wire::ipv6_header_len : wire::ipv4_min_header_len;
    std::vector<std::byte> f(wire::ethernet_header_len + l3_len + l4.size());
    wire::ethernet_repr{dst_mac, src_mac, 0, {}, v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4}.emit(f);
    auto l3 = std::span<std::byte>(f).subspan(wire::ethernet_header_len);
    if (v6) {
        wire::ipv6_repr r;
        r.source = src.v6();
        r.destination = dst.v6();
        r.next_header = protocol;
        r.hop_limit = 255;
        r.payload_len = static_cast<std::uint16_t>(l4.size());
        r.emit(l3);
    } else {
        wire::ipv4_repr r;
        r.source = src.v4();
        r.destination = dst.v4();
        r.protocol = protocol;
        r.payload_len = static_cast<std::uint16_t>(l4.size());
        r.emit(l3);
    }
    for (std::size_t i = 0; i < l4.size(); ++i) l3[l3_len + i] = std::byte{l4[i]};
    return f;
}

/// A UDP datagram from port `sport` to `dport` with 16 payload bytes.
std::vector<std::uint8_t> udp_bytes(std::uint16_t sport, std::uint16_t dport) {
    std::vector<std::uint8_t> u(24, 0x11);
    u[0] = static_cast<std::uint8_t>(sport >> 8);
    u[1] = static_cast<std::uint8_t>(sport);
    u[2] = static_cast<std::uint8_t>(dport >> 8);
    u[3] = static_cast<std::uint8_t>(dport);
    u[4] = 0;
    u[5] = 24;
    u[6] = u[7] = 0;
    return u;
}

}  // namespace

TEST_CASE("datapath/egress: port classifications: DHCP guard and router guard") {
    const policy::state hv1 = classified_state("hv1");
    vector_sink sink;
    const auto run = [&](const mac_address& port, std::vector<std::byte> bytes) {
        buffer b(bytes);
        return egress(hv1, port, b.f, sink);
    };
    const ip_address app = ip("10.0.0.7"), web = ip("10.0.0.5"), db = ip("10.0.0.6");
    // A DHCP server's offer from the guarded red-app: dhcp-guard, broadcast or unicast.
    CHECK(run(red_app, l4_frame(red_app, mac_address::broadcast(), app, ip("255.255.255.255"), wire::ip_protocol::udp, udp_bytes(67, 68))).reason ==
          drop_reason::dhcp_guard);
    CHECK(run(red_app, l4_frame(red_app, red_db, app, db, wire::ip_protocol::udp, udp_bytes(67, 68))).reason == drop_reason::dhcp_guard);
    // The same from red-web, which has no DHCP guard, goes (broadcast: flooded; unicast: encapsulated).
    CHECK(run(red_web, l4_frame(red_web, red_db, web, db, wire::ip_protocol::udp, udp_bytes(67, 68))).verdict == verdict::encap);
    // Other UDP from the guarded port goes; a DHCPv6 server message (port 547) is guarded too.
    CHECK(run(red_app, l4_frame(red_app, red_db, app, db, wire::ip_protocol::udp, udp_bytes(68, 67))).verdict == verdict::encap);
    CHECK(run(red_app, l4_frame(red_app, red_db, app, db, wire::ip_protocol::udp, udp_bytes(5000, 67))).verdict == verdict::encap);
    // ICMP router advertisement (9) and redirect (5): router-guard; an echo request goes.
    CHECK(run(red_app, l4_frame(red_app, mac_address::broadcast(), app, ip("224.0.0.1"), wire::ip_protocol::icmp, {9, 0, 0, 0, 1, 0, 0, 30})).reason ==
          drop_reason::router_guard);
    CHECK(run(red_app, l4_frame(red_app, red_db, app, db, wire::ip_protocol::icmp, {5, 1, 0, 0, 10, 0, 0, 9, 0, 0, 0, 0})).reason ==
          drop_reason::router_guard);
    CHECK(run(red_app, l4_frame(red_app, red_db, app, db, wire::ip_protocol::icmp, {8, 0, 0, 0, 0, 1, 0, 1})).verdict == verdict::encap);
    CHECK(run(red_web, l4_frame(red_web, red_db, web, db, wire::ip_protocol::icmp, {5, 1, 0, 0, 10, 0, 0, 9, 0, 0, 0, 0})).verdict ==
          verdict::encap);
    // A non-first fragment has no transport header to judge: it goes.
    std::vector<std::byte> fragment = l4_frame(red_app, red_db, app, db, wire::ip_protocol::udp, udp_bytes(67, 68));
    {
        auto ip4 = wire::mutable_ipv4_view::unchecked(std::span<std::byte>(fragment).subspan(wire::ethernet_header_len));
        ip4.set_fragment_offset_units(100);
        ip4.set_header_checksum(0);
        ip4.set_header_checksum(checksum::compute(std::span<const std::byte>(fragment).subspan(wire::ethernet_header_len, 20)));
    }
    CHECK(run(red_app, fragment).reason != drop_reason::dhcp_guard);
}

TEST_CASE("datapath/egress: port classifications: router guard finds ICMPv6 RA and redirect behind extension headers") {
    // red-app has no IPv6 CA in two-tenants; an RA's source is link-local, sent to all-nodes.
    const policy::state hv1 = classified_state("hv1");
    vector_sink sink;
    const ip_address ll = ip("fe80::215:5dff:fe00:7"), all_nodes = ip("ff02::1");
    const mac_address all_nodes_mac = *mac_address::parse("33:33:00:00:00:01");
    std::vector<std::uint8_t> ra{134, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0};
    buffer plain(l4_frame(red_app, all_nodes_mac, ll, all_nodes, wire::ip_protocol::icmpv6, ra));
    CHECK(egress(hv1, red_app, plain.f, sink).reason == drop_reason::router_guard);
    // Behind a hop-by-hop options header (8 bytes: next header 58, length 0, PadN).
    std::vector<std::uint8_t> hop{58, 0, 1, 4, 0, 0, 0, 0};
    hop.insert(hop.end(), ra.begin(), ra.end());
    buffer hidden(l4_frame(red_app, all_nodes_mac, ll, all_nodes, wire::ip_protocol::hop_by_hop, hop));
    CHECK(egress(hv1, red_app, hidden.f, sink).reason == drop_reason::router_guard);
    std::vector<std::uint8_t> redirect(40, 0);
    redirect[0] = 137;
    buffer r(l4_frame(red_app, red_web, ll, ip("fe80::215:5dff:fe00:5"), wire::ip_protocol::icmpv6, redirect));
    CHECK(egress(hv1, red_app, r.f, sink).reason == drop_reason::router_guard);
    // Without the guard an RA is no VM's to send either, but for the rule of neighbor discovery.
    buffer unguarded(l4_frame(blue_web, all_nodes_mac, ip("fe80::215:5dff:fe00:105"), all_nodes, wire::ip_protocol::icmpv6, ra));
    CHECK(egress(hv1, blue_web, unguarded.f, sink).reason == drop_reason::unsupported);
}

TEST_CASE("datapath/egress: port classifications: MAC spoofing allowed keeps the IP anti-spoofing") {
    const policy::state hv1 = classified_state("hv1");
    vector_sink sink;
    const mac_address nested = *mac_address::parse("02:aa:00:00:00:01");
    // red-web (capped: spoofing allowed) sends from another MAC with its own CA: it goes.
    buffer ok(udp_frame(nested, red_db, ip("10.0.0.5"), ip("10.0.0.6")));
    const outcome o = egress(hv1, red_web, ok.f, sink);
    CHECK(o.verdict == verdict::encap);
    // ...but not with another VM's CA.
    buffer forged(udp_frame(nested, red_db, ip("10.0.0.7"), ip("10.0.0.6")));
    CHECK(egress(hv1, red_web, forged.f, sink).reason == drop_reason::spoofed_source);
    // ARP from another MAC: answered (the sender address is its own CA).
    buffer arp(arp_request(nested, ip("10.0.0.5"), ip("10.0.0.6")));
    CHECK(egress(hv1, red_web, arp.f, sink).verdict == verdict::reply);
    // red-app (no spoofing allowed) may not.
    buffer app(udp_frame(nested, red_db, ip("10.0.0.7"), ip("10.0.0.6")));
    CHECK(egress(hv1, red_app, app.f, sink).reason == drop_reason::spoofed_source);
    buffer app_arp(arp_request(nested, ip("10.0.0.7"), ip("10.0.0.6")));
    CHECK(egress(hv1, red_app, app_arp.f, sink).reason == drop_reason::spoofed_source);
}

TEST_CASE("datapath/egress: port classifications: the outer DSCP of a classified port, on every encapsulated frame") {
    const policy::state hv1 = classified_state("hv1");
    vector_sink sink;
    const auto outer_tos = [](std::span<const std::byte> f) {
        return std::to_integer<std::uint8_t>(f[wire::ethernet_header_len + wire::ipv4_field::tos]);
    };
    const auto outer_checksum_ok = [](std::span<const std::byte> f) {
        return checksum::compute(f.subspan(wire::ethernet_header_len, wire::ipv4_min_header_len)) == 0;
    };
    // red-web (outer-dscp 46) sends with inner TOS 0x02 (DSCP 0, ECT(0)): the outer has DSCP 46, the ECN copied.
    buffer u(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"), 18, 64, 0x02));
    REQUIRE(egress(hv1, red_web, u.f, sink).verdict == verdict::encap);
    CHECK(outer_tos(u.f.bytes()) == (46 << 2 | 2));
    CHECK(outer_checksum_ok(u.f.bytes()));
    // red-app (no outer DSCP) copies the inner DSCP.
    buffer c(udp_frame(red_app, red_db, ip("10.0.0.7"), ip("10.0.0.6"), 18, 64, 0xb8));
    REQUIRE(egress(hv1, red_app, c.f, sink).verdict == verdict::encap);
    CHECK(outer_tos(c.f.bytes()) == 0xb8);
    // Flood copies and fragments carry it too.
    buffer bcast(udp_frame(red_web, mac_address::broadcast(), ip("10.0.0.5"), ip("10.0.0.255")));
    REQUIRE(egress(hv1, red_web, bcast.f, sink).verdict == verdict::flood);
    bool fabric_copy = false;
    for (const auto& sent : sink.out)
        if (sent.to.to == destination::kind::fabric) {
            fabric_copy = true;
            CHECK((outer_tos(sent.bytes) >> 2) == 46);
            CHECK(outer_checksum_ok(sent.bytes));
        }
    CHECK(fabric_copy);
    sink.out.clear();
    std::vector<std::byte> big = udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"), 1472);
    {
        auto ip4 = wire::mutable_ipv4_view::unchecked(std::span<std::byte>(big).subspan(wire::ethernet_header_len));
        ip4.set_dont_fragment(false);
        ip4.set_header_checksum(0);
        ip4.set_header_checksum(checksum::compute(std::span<const std::byte>(big).subspan(wire::ethernet_header_len, 20)));
    }
    buffer frag(big, 128, 64);
    const outcome fo = egress(hv1, red_web, frag.f, sink);
    REQUIRE(fo.verdict == verdict::encap);
    REQUIRE(fo.copies == 2);
    for (const auto& sent : sink.out) {
        CHECK((outer_tos(sent.bytes) >> 2) == 46);
        CHECK(outer_checksum_ok(sent.bytes));
    }
}
