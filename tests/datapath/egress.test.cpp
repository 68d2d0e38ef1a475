#include "nvgre/datapath/egress.hpp"

#include "support/frames.hpp"
#include "support/tcp_frames.hpp"
#include "support/test_bytes.hpp"
#include "support/hnv_policy.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/too_big.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <doctest/doctest.h>

#include <memory>
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

TEST_CASE("datapath/egress rule 4: no route, no record") {
    buffer b(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("172.16.0.1")));
    CHECK(run(b, red_web).reason == drop_reason::no_route);
    buffer c(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.77")));
    CHECK(run(c, red_web).reason == drop_reason::no_record);
    // Red has no route to blue's nat VM 10.0.0.8 (a red CA lookup finds nothing there).
    buffer d(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.8")));
    CHECK(run(d, red_web).reason == drop_reason::no_record);
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
    counters c;
    egress_burst(hnv_state("hv1"), std::span<frame>(frames), std::span<const mac_address>(ports), std::span<outcome>(out),
                 sink, c);
    CHECK(c.of(verdict::encap) == 30);
    CHECK(c.of(verdict::drop) == 10);
    CHECK(c.of(drop_reason::spoofed_source) == 10);
    for (std::size_t i = 0; i < out.size(); ++i) CHECK((out[i].verdict == verdict::encap) == (i % 4 != 0));
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
        buffer too_big(tcp_frame(s));
        too_big.f.offload.segment_size = 1448;  // the VM's MSS at MTU 1500 does not fit 1458
        CHECK(run(too_big, red_web).verdict == verdict::reply);
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
        icmp_rate_limiter limiter(2, 1);
        std::uint64_t clock = 1;
        limiter.use_clock(&clock);
        pipeline_config cfg;
        cfg.too_big_limiter = &limiter;
        vector_sink sink;
        for (int i = 0; i < 2; ++i) {
            buffer b(tcp_frame(s));
            CHECK(run(b, red_web, sink, cfg).verdict == verdict::reply);
        }
        buffer third(tcp_frame(s));
        CHECK(run(third, red_web, sink, cfg).reason == drop_reason::too_big);
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
