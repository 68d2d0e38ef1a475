#include "nvgre/datapath/ingress.hpp"

#include "nvgre/datapath/egress.hpp"
#include "nvgre/policy/live_policy.hpp"

#include "support/frames.hpp"
#include "support/hnv_policy.hpp"
#include "support/gateway_policy.hpp"

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;

using namespace nvgre::test::hnv_vm;

namespace {
/// Wraps `inner` in NVGRE from `from_pa` to `to_pa` the way a (possibly lying) host would.
std::vector<std::byte> wrap(const std::vector<std::byte>& inner, std::string_view from_pa, std::string_view to_pa,
                            std::uint32_t vsid, std::uint8_t outer_ecn = 0) {
    buffer b(inner);
    const encap_params p{mac("02:00:c0:a8:0a:0c"), mac("02:00:c0:a8:0a:0b"), 0, ip(from_pa), ip(to_pa),
                         *nvgre::vsid::make(vsid)};
    REQUIRE(encapsulate(b.f, p));
    auto out = b.bytes();
    if (outer_ecn != 0) {
        auto outer = wire::mutable_ipv4_view::unchecked(std::span<std::byte>(out).subspan(14));
        outer.set_ecn(outer_ecn);
        outer.fill_header_checksum();
    }
    return out;
}

outcome run(const std::vector<std::byte>& f, buffer*& kept, vector_sink& sink, std::string_view host = "hv1") {
    static std::deque<buffer> keep;
    keep.emplace_back(f);
    kept = &keep.back();
    return ingress(hnv_state(host), kept->f, sink);
}
outcome run(const std::vector<std::byte>& f, std::string_view host = "hv1") {
    vector_sink sink;
    buffer* b = nullptr;
    return run(f, b, sink, host);
}
}  // namespace

TEST_CASE("datapath/ingress rule 1: valid NVGRE, to one of this host's PAs, a known VSID") {
    const auto inner = udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5"));
    CHECK(run(wrap(inner, "192.168.10.12", "192.168.10.11", 5001)).verdict == verdict::deliver);
    CHECK(run(wrap(inner, "192.168.10.12", "192.168.10.99", 5001)).reason == drop_reason::not_local_pa);
    CHECK(run(wrap(inner, "192.168.10.12", "192.168.10.11", 7777)).reason == drop_reason::unknown_vsid);
    CHECK(run(inner).reason == drop_reason::not_nvgre);
    auto bad = wrap(inner, "192.168.10.12", "192.168.10.11", 5001);
    bad[34] = std::byte{0x30};  // S bit
    CHECK(run(bad).reason == drop_reason::bad_gre_flags);
    auto reserved = wrap(inner, "192.168.10.12", "192.168.10.11", 5001);
    reserved[38] = reserved[39] = reserved[40] = std::byte{0};
    CHECK(run(reserved).reason == drop_reason::reserved_vsid);
    auto cut = wrap(inner, "192.168.10.12", "192.168.10.11", 5001);
    cut.resize(cut.size() - 5);
    CHECK(run(cut).reason == drop_reason::truncated);
}

TEST_CASE("datapath/ingress rule 2: anti-spoofing within the routing domain") {
    // red-db's CA from hv3's PA: hv3 does not host red-db.
    const auto inner = udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5"));
    CHECK(run(wrap(inner, "192.168.20.13", "192.168.10.11", 5001)).reason == drop_reason::spoofed_source);
    // A CA nobody holds, from a host that has no gateway-wildcard record.
    const auto unknown = udp_frame(red_db, red_web, ip("10.0.0.66"), ip("10.0.0.5"));
    CHECK(run(wrap(unknown, "192.168.20.13", "192.168.10.11", 5001)).reason == drop_reason::spoofed_source);
    // The gateway-wildcard record of 5001 lives on hv2: any source address from there.
    const auto via_gateway = udp_frame(mac("00:15:5d:00:00:fe"), red_web, ip("8.8.8.8"), ip("10.0.0.5"));
    buffer* b = nullptr;
    vector_sink sink;
    const auto o = run(wrap(via_gateway, "192.168.10.12", "192.168.10.11", 5001), b, sink);
    CHECK(o.verdict == verdict::deliver);
    // Overlapping addresses: blue's 10.0.0.6 lives on hv2 too, but in VSID 6001 it is blue-db.
    const auto blue = udp_frame(mac("00:15:5d:00:01:06"), mac("00:15:5d:00:01:05"), ip("10.0.0.6"), ip("10.0.0.5"));
    CHECK(run(wrap(blue, "192.168.10.12", "192.168.10.11", 6001)).verdict == verdict::deliver);
    // Blue's frame claiming red's VSID reaches red-web only if red's record agrees: same PA
    // here (both live on hv2), but the destination MAC is blue-web's, not red-web's.
    CHECK(run(wrap(blue, "192.168.10.12", "192.168.10.11", 5001)).reason == drop_reason::wrong_destination_mac);
}

TEST_CASE("datapath/ingress rule 3: unicast to one local VM, broadcast to all of the VSID") {
    SUBCASE("unicast") {
        const auto inner = udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5"));
        buffer* b = nullptr;
        vector_sink sink;
        const auto o = run(wrap(inner, "192.168.10.12", "192.168.10.11", 5001), b, sink);
        REQUIRE(o.verdict == verdict::deliver);
        CHECK(o.to.to == destination::kind::vm);
        CHECK(o.to.vm_mac == red_web);
        CHECK(b->bytes() == inner);  // exactly what red-db sent
    }
    SUBCASE("not on this host, wrong MAC, unknown CA") {
        const auto to_db = udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"));
        CHECK(run(wrap(to_db, "192.168.10.11", "192.168.10.11", 5001)).reason == drop_reason::not_local_destination);
        const auto wrong_mac = udp_frame(red_db, red_app, ip("10.0.0.6"), ip("10.0.0.5"));
        CHECK(run(wrap(wrong_mac, "192.168.10.12", "192.168.10.11", 5001)).reason == drop_reason::wrong_destination_mac);
        // No record: red's gateway red-gw would take it (rule 3 (b)), but it runs on hv2.
        const auto nobody = udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.44"));
        CHECK(run(wrap(nobody, "192.168.10.12", "192.168.10.11", 5001)).reason == drop_reason::not_local_destination);
        // No route at all (10.9.9.9 is outside every prefix of red): no record.
        const auto unrouted = udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.9.9.9"));
        CHECK(run(wrap(unrouted, "192.168.10.12", "192.168.10.11", 5001)).reason == drop_reason::no_record);
    }
    SUBCASE("broadcast: a copy to each local VM of the VSID") {
        const auto inner = udp_frame(red_db, mac_address::broadcast(), ip("10.0.0.6"), ip("10.0.0.255"));
        buffer* b = nullptr;
        vector_sink sink;
        const auto o = run(wrap(inner, "192.168.10.12", "192.168.10.11", 5001), b, sink);
        REQUIRE(o.verdict == verdict::deliver);
        CHECK(o.copies == 2);
        std::set<std::string> vms;
        for (const auto& s : sink.out) {
            vms.insert(s.to.vm_mac.to_string());
            CHECK(s.bytes == inner);
        }
        CHECK(vms == std::set<std::string>{"00:15:5d:00:00:05", "00:15:5d:00:00:07"});
    }
    SUBCASE("link-scope multicast from :: or a link-local address, from a host of the VSID") {
        // MLD reports from a VM whose link-local address is tentative come from :: (RFC 3810).
        for (const char* source : {"::", "fe80::215:5dff:fe00:6"}) {
            CAPTURE(source);
            const auto inner = udp_frame(red_db, mac("33:33:00:00:00:16"), ip(source), ip("ff02::16"));
            buffer* b = nullptr;
            vector_sink sink;
            const auto o = run(wrap(inner, "192.168.10.12", "192.168.10.11", 5001), b, sink);
            CHECK(o.verdict == verdict::deliver);
            CHECK(o.copies == 2);
            // From a PA that runs no VM of the VSID: spoofed.
            CHECK(run(wrap(inner, "192.168.10.99", "192.168.10.11", 5001)).reason == drop_reason::spoofed_source);
        }
    }
}

TEST_CASE("datapath/ingress rules 4 and 5: nat, source MAC, RFC 6040") {
    SUBCASE("IP rewrite packets: PA -> CA for both addresses (more in rewrite.test.cpp)") {
        // blue-nat2 (10.0.0.8, PA .22 on hv2) -> blue-nat1 (10.0.0.7, PA .21 on hv1).
        auto rewritten = udp_frame(mac("02:00:c0:a8:0a:16"), mac("02:00:c0:a8:0a:15"), ip("192.168.10.22"), ip("192.168.10.21"));
        buffer* b = nullptr;
        vector_sink sink;
        const auto o = run(rewritten, b, sink);
        REQUIRE(o.verdict == verdict::deliver);
        CHECK(o.vsid == 6001);
        CHECK(o.to.vm_mac == mac("00:15:5d:00:01:07"));
        CHECK(b->bytes() == udp_frame(mac("00:15:5d:00:01:08"), mac("00:15:5d:00:01:07"), ip("10.0.0.8"), ip("10.0.0.7")));
        // From a PA that is no nat PA: spoofed.
        auto forged = udp_frame(mac("02:00:c0:a8:0a:0c"), mac("02:00:c0:a8:0a:15"), ip("192.168.10.12"), ip("192.168.10.21"));
        CHECK(run(forged).reason == drop_reason::spoofed_source);
    }
    SUBCASE("routed frames carry the router MAC as source") {
        // red-db2 (5002, hv2) → red-web (5001, hv1): the frame carries VSID 5001.
        auto inner = udp_frame(mac("00:15:5d:00:00:99"), red_web, ip("10.0.1.8"), ip("10.0.0.5"));
        buffer* b = nullptr;
        vector_sink sink;
        REQUIRE(run(wrap(inner, "192.168.10.12", "192.168.10.11", 5001), b, sink).verdict == verdict::deliver);
        CHECK(wire::ethernet_view::unchecked(b->f.bytes()).source() == red_router);
    }
    SUBCASE("outer CE on a Not-ECT inner packet is dropped; on ECT it marks the inner CE") {
        const auto not_ect = udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5"), 18, 64, 0);
        CHECK(run(wrap(not_ect, "192.168.10.12", "192.168.10.11", 5001, 3)).reason == drop_reason::ecn_drop);
        const auto ect0 = udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5"), 18, 64, 2);
        buffer* b = nullptr;
        vector_sink sink;
        REQUIRE(run(wrap(ect0, "192.168.10.12", "192.168.10.11", 5001, 3), b, sink).verdict == verdict::deliver);
        const auto ip4 = wire::ipv4_view::unchecked(b->f.bytes().subspan(14));
        CHECK(ip4.ecn() == 3);
        CHECK(ip4.header_checksum_ok());
    }
}

TEST_CASE("datapath/ingress: egress on hv1 then ingress on hv2 restores what the VM sent") {
    vector_sink sink;
    for (const auto& [src, dst, dst_mac] : {std::tuple{"10.0.0.5", "10.0.0.6", red_db}, std::tuple{"fd00::5", "fd00::6", red_db}}) {
        const auto sent = udp_frame(red_web, dst_mac, ip(src), ip(dst), 100, 64, 0x12);
        buffer b(sent);
        REQUIRE(egress(hnv_state("hv1"), red_web, b.f, sink).verdict == verdict::encap);
        const auto o = ingress(hnv_state("hv2"), b.f, sink);
        REQUIRE(o.verdict == verdict::deliver);
        CHECK(o.to.vm_mac == red_db);
        CHECK(b.bytes() == sent);
    }
    // Routed: the router's changes (source MAC, TTL) and nothing else.
    const auto sent = udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.1.8"), 100, 64);
    buffer b(sent);
    REQUIRE(egress(hnv_state("hv1"), red_web, b.f, sink).verdict == verdict::encap);
    REQUIRE(ingress(hnv_state("hv2"), b.f, sink).verdict == verdict::deliver);
    const auto eth = wire::ethernet_view::unchecked(b.f.bytes());
    CHECK(eth.source() == red_router);
    CHECK(eth.destination() == red_db2);
    CHECK(wire::ipv4_view::unchecked(b.f.bytes().subspan(14)).ttl() == 63);
}

TEST_CASE("datapath: random frames never cross routing domains and never pass a spoofed source") {
    // VMs of hv1 send random unicast frames to random addresses; whatever hv2 delivers must
    // go to a VM of the sender's routing domain. Frames from random PAs claiming random CAs
    // are delivered only when the PA owns the CA.
    const std::vector<std::pair<mac_address, std::string>> senders = {
        {red_web, "10.0.0.5"}, {red_app, "10.0.0.7"}, {mac("00:15:5d:00:01:05"), "10.0.0.5"}};
    // (red-gw, 00:15:5d:00:00:fe, holds red's gateway-wildcard record: what red sends outside its
    // records goes there.)
    const std::set<std::string> red_macs = {"00:15:5d:00:00:05", "00:15:5d:00:00:06", "00:15:5d:00:00:07", "00:15:5d:00:00:08",
                                            "00:15:5d:00:00:fe"};
    const std::set<std::string> blue_macs = {"00:15:5d:00:01:05", "00:15:5d:00:01:06", "00:15:5d:00:01:07", "00:15:5d:00:01:08"};
    std::mt19937 rng(4242);
    vector_sink sink;
    int delivered = 0;
    for (int i = 0; i < 3000; ++i) {
        const auto& [smac, sip] = senders[rng() % senders.size()];
        const std::string dst = "10.0." + std::to_string(rng() % 2) + "." + std::to_string(rng() % 12);
        const mac_address dmac{{0x00, 0x15, 0x5d, 0x00, static_cast<std::uint8_t>(rng() % 2), static_cast<std::uint8_t>(rng() % 12)}};
        buffer b(udp_frame(smac, dmac, ip(sip), ip(dst)));
        if (egress(hnv_state("hv1"), smac, b.f, sink).verdict != verdict::encap) continue;
        const auto o = ingress(hnv_state("hv2"), b.f, sink);
        if (o.verdict != verdict::deliver) continue;
        ++delivered;
        const bool red_sender = red_macs.count(smac.to_string()) != 0;
        CHECK((red_sender ? red_macs : blue_macs).count(o.to.vm_mac.to_string()) == 1);
    }
    CHECK(delivered > 50);

    const std::vector<std::string> pas = {"192.168.10.11", "192.168.10.12", "192.168.20.13", "192.168.10.21", "192.168.10.22"};
    int accepted = 0;
    for (int i = 0; i < 3000; ++i) {
        const std::string src = "10.0." + std::to_string(rng() % 2) + "." + std::to_string(rng() % 12);
        const std::string& from = pas[rng() % pas.size()];
        const std::uint32_t vsid = rng() % 3 == 0 ? 6001 : (rng() % 2 ? 5001 : 5002);
        const auto inner = udp_frame(mac("00:15:5d:00:00:99"), red_web, ip(src), ip("10.0.0.5"));
        const auto o = run(wrap(inner, from, "192.168.10.11", vsid));
        if (o.verdict != verdict::deliver) continue;
        ++accepted;
        // The PA must own the source CA in the VSID's domain, or — for a source outside the
        // tenant — be the PA of one of the domain's gateways.
        const auto& s = hnv_state("hv1");
        const auto* sub = s.subnet(vsid);
        REQUIRE(sub != nullptr);
        const auto* r = s.find_record(sub->domain, ip(src));
        CHECK(((r != nullptr && r->pa == ip(from)) || (r == nullptr && s.is_gateway_pa(sub->domain, ip(from)))));
    }
    CHECK(accepted > 10);
}

TEST_CASE("datapath: random policies — egress then ingress never crosses domains, encap∘decap is the identity") {
    std::mt19937 rng(777);
    for (int round = 0; round < 8; ++round) {
        // 3 hosts, 3 domains with 2 subnets each, random records with overlapping CAs across
        // domains (every domain uses 10.0.{0,1}.x), random MACs unique per record.
        policy::builder b;
        for (int h = 0; h < 3; ++h)
            b.add(policy::provider_address{"hv" + std::to_string(h), ip("192.168.0." + std::to_string(h + 1)), 24,
                                           mac_address{{2, 0, 0, 0, 0, static_cast<std::uint8_t>(h + 1)}}, 0});
        std::vector<rdid> ids;
        for (std::uint8_t d = 0; d < 3; ++d) {
            std::array<std::uint8_t, 16> g{};
            g[0] = static_cast<std::uint8_t>(d + 1);
            ids.push_back(rdid{g});
            b.add(policy::routing_domain{ids.back(), "", policy::default_router_mac});
            for (std::uint32_t k = 0; k < 2; ++k) {
                const auto v = *nvgre::vsid::make(5000 + d * 10 + k);
                b.add(policy::virtual_subnet{v, ids.back(), std::nullopt, std::nullopt});
                b.add(policy::customer_route{ids.back(), v, *ip_prefix::parse(k == 0 ? "10.0.0.0/24" : "10.0.1.0/24"),
                                             ip("0.0.0.0"), 256});
            }
        }
        struct vm {
            std::uint32_t domain, vsid;
            ip_address ca;
            mac_address mac;
            int host;
        };
        std::vector<vm> vms;
        std::uint8_t next_mac = 1;
        for (std::uint32_t d = 0; d < 3; ++d)
            for (int i = 0; i < 6; ++i) {
                const std::uint32_t k = rng() % 2;
                const auto ca = ip("10.0." + std::to_string(k) + "." + std::to_string(10 + i));
                const vm v{d, 5000 + d * 10 + k, ca, mac_address{{0, 0x15, 0x5d, 0, static_cast<std::uint8_t>(d), next_mac++}},
                           static_cast<int>(rng() % 3)};
                vms.push_back(v);
                b.add(policy::lookup_record{*nvgre::vsid::make(v.vsid), v.ca, v.mac,
                                            ip("192.168.0." + std::to_string(v.host + 1)), policy::rule::encap,
                                            policy::record_type::static_record, ""});
            }
        auto built = b.build();
        for (const auto& d : built.diagnostics) MESSAGE(policy::to_string(d));
        REQUIRE(built);
        std::vector<policy::state> states;
        for (int h = 0; h < 3; ++h) states.push_back(policy::state::build(*built.validated, "hv" + std::to_string(h)).value());

        vector_sink sink;
        for (int i = 0; i < 400; ++i) {
            const vm& from = vms[rng() % vms.size()];
            const vm& to = vms[rng() % vms.size()];
            const bool routed = from.vsid != to.vsid;
            const auto sent = udp_frame(from.mac, routed ? policy::default_router_mac : to.mac, from.ca, to.ca, rng() % 200);
            buffer buf(sent);
            const auto e = egress(states[static_cast<std::size_t>(from.host)], from.mac, buf.f, sink);
            if (from.domain != to.domain) {
                // Another tenant's VM: its CA may exist in the sender's domain too (overlap),
                // but then it is that VM, never the other tenant's.
                if (e.verdict == verdict::encap || e.verdict == verdict::local) {
                    const mac_address got = wire::ethernet_view::unchecked(
                                                e.verdict == verdict::local ? buf.f.bytes()
                                                                            : buf.f.bytes().subspan(wire::parse_packet_layout(buf.f.bytes()).inner_l2_offset))
                                                .destination();
                    CHECK(got != to.mac);
                }
                continue;
            }
            if (from.mac == to.mac) continue;
            if (from.host == to.host) {
                CHECK(e.verdict == verdict::local);
                continue;
            }
            REQUIRE(e.verdict == verdict::encap);
            const auto d = ingress(states[static_cast<std::size_t>(to.host)], buf.f, sink);
            REQUIRE(d.verdict == verdict::deliver);
            CHECK(d.to.vm_mac == to.mac);
            if (!routed) {
                auto expected = sent;
                CHECK(buf.bytes() == expected);  // encap∘decap is the identity within a subnet
            }
            // Anything else arriving at that host from a PA that does not own the source is refused.
            const int liar = (from.host + 1) % 3 == to.host ? (from.host + 2) % 3 : (from.host + 1) % 3;
            buffer again(sent);
            if (routed) continue;
            REQUIRE(egress(states[static_cast<std::size_t>(from.host)], from.mac, again.f, sink).verdict == verdict::encap);
            auto outer = wire::mutable_ipv4_view::unchecked(again.f.bytes().subspan(14));
            outer.set_source(ip("192.168.0." + std::to_string(liar + 1)).v4());
            outer.fill_header_checksum();
            CHECK(ingress(states[static_cast<std::size_t>(to.host)], again.f, sink).reason == drop_reason::spoofed_source);
        }
    }
}

// ---- gateways and next hops end to end (examples/policies/gateways.policy) ----

namespace {
/// `frame` from the port `port` of host `from` through egress, then through ingress on the host
/// of the PA it was encapsulated to. The ingress outcome; `out` receives the delivered frame.
outcome egress_then_ingress(std::string_view from, const mac_address& port, const std::vector<std::byte>& frame,
                            std::vector<std::byte>& out, std::string* to_host = nullptr) {
    vector_sink sink;
    buffer b(frame);
    const auto e = egress(gateway_state(from), port, b.f, sink);
    REQUIRE(e.verdict == verdict::encap);
    const std::string host = e.pa == ip("192.168.10.11") ? "hv1" : e.pa == ip("192.168.10.12") ? "hv2" : "hv3";
    if (to_host != nullptr) *to_host = host;
    buffer in(b.bytes());
    const auto o = ingress(gateway_state(host), in.f, sink);
    out = in.bytes();
    return o;
}
}  // namespace

TEST_CASE("datapath/ingress rules 3 and 5: delivery to a gateway or next-hop VM, routed") {
    using namespace gw_vm;
    std::set<std::string> hosts;
    for (int i = 1; i <= 32; ++i) {
        std::vector<std::byte> out;
        std::string host;
        const auto o = egress_then_ingress("hv1", red_web,
                                           udp_frame(red_web, red_router, ip("10.0.0.5"), ip("203.0.113." + std::to_string(i))),
                                           out, &host);
        REQUIRE(o.verdict == verdict::deliver);
        hosts.insert(host);
        CHECK(o.to.vm_mac == (host == "hv2" ? red_gw1 : red_gw2));
        CHECK(mac_address::from_bytes(std::span(out).subspan(0, 6)) == o.to.vm_mac);
        CHECK(mac_address::from_bytes(std::span(out).subspan(6, 6)) == red_router);  // routed
    }
    CHECK(hosts == std::set<std::string>{"hv2", "hv3"});
    std::vector<std::byte> out;
    const auto fw = egress_then_ingress("hv1", red_web, udp_frame(red_web, red_router, ip("10.0.0.5"), ip("172.16.4.4")), out);
    REQUIRE(fw.verdict == verdict::deliver);
    CHECK(fw.to.vm_mac == red_fw);
    CHECK(mac_address::from_bytes(std::span(out).subspan(6, 6)) == red_router);
    // Switched: the sender's MAC stays.
    const auto db = egress_then_ingress("hv1", red_web, udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.0.6")), out);
    REQUIRE(db.verdict == verdict::deliver);
    CHECK(mac_address::from_bytes(std::span(out).subspan(6, 6)) == red_web);
}

TEST_CASE("datapath/ingress rules 2 and 5: traffic from outside the tenant only from a gateway's PA") {
    using namespace gw_vm;
    std::vector<std::byte> out;
    // red-gw1 (hv2) → red-web (hv1), same VSID: the gateway's MAC as source.
    const auto o = egress_then_ingress("hv2", red_gw1, udp_frame(red_gw1, red_web, ip("203.0.113.10"), ip("10.0.0.5")), out);
    REQUIRE(o.verdict == verdict::deliver);
    CHECK(o.to.vm_mac == red_web);
    CHECK(mac_address::from_bytes(std::span(out).subspan(6, 6)) == red_gw1);
    // ... into VSID 5003, where no gateway record has that PA: the router MAC.
    const auto lab = egress_then_ingress("hv2", red_gw1, udp_frame(red_gw1, red_router, ip("203.0.113.10"), ip("10.0.3.5")), out);
    REQUIRE(lab.verdict == verdict::deliver);
    CHECK(lab.to.vm_mac == red_lab);
    CHECK(mac_address::from_bytes(std::span(out).subspan(6, 6)) == red_router);
    // The same outside source from a PA that holds no gateway record (hv1 → hv2): spoofed.
    vector_sink sink;
    const auto inner = udp_frame(red_web, red_db, ip("203.0.113.10"), ip("10.0.0.6"));
    buffer from_hv1(wrap(inner, "192.168.10.11", "192.168.10.12", 5001));
    CHECK(ingress(gateway_state("hv2"), from_hv1.f, sink).reason == drop_reason::spoofed_source);
    // A tenant CA sent from a gateway's PA that is not its record's PA: spoofed.
    const auto tenant = udp_frame(red_gw1, red_web, ip("10.0.0.6"), ip("10.0.0.5"));
    buffer from_gw(wrap(tenant, "192.168.10.13", "192.168.10.11", 5001));
    CHECK(ingress(gateway_state("hv1"), from_gw.f, sink).reason == drop_reason::spoofed_source);
    // Blue has no gateway: nothing from outside is accepted in blue.
    buffer blue(wrap(udp_frame(red_gw1, blue_web, ip("203.0.113.10"), ip("10.0.0.5")), "192.168.10.12", "192.168.10.11", 6001));
    CHECK(ingress(gateway_state("hv1"), blue.f, sink).reason == drop_reason::spoofed_source);
}

TEST_CASE("datapath/ingress rule 3: a gateway-bound frame needs a local gateway's MAC") {
    using namespace gw_vm;
    vector_sink sink;
    const auto to_internet = [&](const mac_address& dst_mac) {
        return wrap(udp_frame(red_router, dst_mac, ip("10.0.0.5"), ip("203.0.113.7")), "192.168.10.11", "192.168.10.12", 5001);
    };
    buffer ok(to_internet(red_gw1));
    CHECK(ingress(gateway_state("hv2"), ok.f, sink).verdict == verdict::deliver);
    buffer wrong(to_internet(red_db));
    CHECK(ingress(gateway_state("hv2"), wrong.f, sink).reason == drop_reason::wrong_destination_mac);
    buffer remote(to_internet(red_gw2));  // red-gw2 runs on hv3
    CHECK(ingress(gateway_state("hv2"), remote.f, sink).reason == drop_reason::wrong_destination_mac);
    // hv1 runs no gateway: red-db (hv2) toward the Internet, arriving at hv1.
    buffer none(wrap(udp_frame(red_router, red_gw1, ip("10.0.0.6"), ip("203.0.113.7")), "192.168.10.12", "192.168.10.11", 5001));
    CHECK(ingress(gateway_state("hv1"), none.f, sink).reason == drop_reason::not_local_destination);
}

TEST_CASE("datapath/ingress: ingress_burst gives what ingress() gives, byte for byte (both policies, every host)") {
    for (const bool gateways : {false, true}) {
        CAPTURE(gateways);
        const auto state_of = [&](std::string_view h) -> const policy::state& { return gateways ? gateway_state(h) : hnv_state(h); };
        // What each host's VMs send, encapsulated by egress: unicast to records, gateways and
        // next hops, and flood copies; then the same frames claimed by the wrong host (spoofs).
        std::map<std::string, std::vector<std::vector<std::byte>>> arriving;
        std::mt19937 rng(5);
        const char* dst4[] = {"10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.1.8", "10.0.0.20", "10.0.3.5", "172.16.4.4",
                              "203.0.113.10", "10.0.0.255", "10.0.0.66"};
        for (const char* from : {"hv1", "hv2", "hv3"}) {
            const policy::state& s = state_of(from);
            s.for_each_record([&](const policy::record_entry& r, policy::record_id) {
                if (!r.local) return;
                for (const char* d : dst4) {
                    const ip_address src = r.ca.is_v4() && !r.ca.is_unspecified() ? r.ca : ip("203.0.113.50");
                    const mac_address dst_mac = std::string_view(d) == "10.0.0.255" ? mac_address::broadcast() : r.mac;
                    buffer b(udp_frame(r.mac, dst_mac, src, ip(d), 8 + rng() % 30, 64));
                    vector_sink sink;
                    const auto o = egress(s, r.mac, b.f, sink);
                    std::vector<std::vector<std::byte>> outs;
                    if (o.verdict == verdict::encap && o.copies == 0) outs.push_back(b.bytes());
                    for (const auto& sent : sink.out)
                        if (sent.to.to == destination::kind::fabric) outs.push_back(sent.bytes);
                    for (auto& f : outs) {
                        for (const char* host : {"hv1", "hv2", "hv3"}) arriving[host].push_back(f);
                    }
                }
            });
        }
        for (const auto& arrival : arriving) {
            const std::string& host = arrival.first;  // (no structured binding: CAPTURE's lambda reads it)
            const auto& frames = arrival.second;
            CAPTURE(host);
            const policy::state& s = state_of(host);
            std::vector<std::unique_ptr<buffer>> single, burst;
            std::vector<frame> burst_frames;
            vector_sink single_sink, burst_sink;
            std::vector<outcome> want;
            for (const auto& bytes : frames) {
                single.push_back(std::make_unique<buffer>(bytes));
                want.push_back(ingress(s, single.back()->f, single_sink));
                burst.push_back(std::make_unique<buffer>(bytes));
                burst_frames.push_back(burst.back()->f);
            }
            std::vector<outcome> got(frames.size());
            context count;
            ingress_burst(s, std::span<frame>(burst_frames), std::span<outcome>(got), burst_sink, count);
            std::size_t delivered = 0;
            for (std::size_t i = 0; i < frames.size(); ++i) {
                CAPTURE(i);
                delivered += want[i].verdict == verdict::deliver;
                CHECK(got[i].verdict == want[i].verdict);
                CHECK(got[i].reason == want[i].reason);
                CHECK(got[i].vsid == want[i].vsid);
                CHECK(got[i].to.vm_mac == want[i].to.vm_mac);
                CHECK(got[i].copies == want[i].copies);
                CHECK(single[i]->bytes() == std::vector<std::byte>(burst_frames[i].bytes().begin(), burst_frames[i].bytes().end()));
            }
            CHECK(delivered > 0);
            REQUIRE(single_sink.out.size() == burst_sink.out.size());
            for (std::size_t i = 0; i < single_sink.out.size(); ++i) CHECK(single_sink.out[i].bytes == burst_sink.out[i].bytes);
        }
    }
}

TEST_CASE("datapath/ingress: deliveries name the embedder's port of the VM") {
    policy::state s = hnv_state("hv1");
    REQUIRE(s.bind_port(11, red_web));
    REQUIRE(s.bind_port(12, red_app));
    vector_sink sink;
    buffer one(wrap(udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5")), "192.168.10.12", "192.168.10.11", 5001));
    const outcome o = ingress(s, one.f, sink);
    REQUIRE(o.verdict == verdict::deliver);
    CHECK(o.to == destination::to_vm(red_web, 11));
    // A broadcast: one copy per local VM of the subnet, each naming its port.
    buffer all(wrap(udp_frame(red_db, mac_address::broadcast(), ip("10.0.0.6"), ip("10.0.0.255")), "192.168.10.12",
                    "192.168.10.11", 5001));
    REQUIRE(ingress(s, all.f, sink).verdict == verdict::deliver);
    std::set<std::uint32_t> ports;
    for (const auto& out : sink.out) {
        CHECK(out.to.to == destination::kind::vm);
        CHECK(s.port_by_id(out.to.port)->mac == out.to.vm_mac);
        ports.insert(out.to.port);
    }
    CHECK(ports == std::set<std::uint32_t>{11, 12});
    // An unbound VM's delivery names no port, as before.
    s.unbind_port(11);
    buffer again(wrap(udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5")), "192.168.10.12", "192.168.10.11", 5001));
    CHECK(ingress(s, again.f, sink).to == destination::to_vm(red_web, destination::none));
}

TEST_CASE("datapath/ingress: a VM's grace window after it moved (the old host forwards, the new host accepts)") {
    // red-db moves from hv2 (192.168.10.12) to hv1 (192.168.10.11); red-far on hv3 still sends
    // to hv2 with the policy it had.
    const policy::model before = hnv_model();
    const std::string move =
        "+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db\n"
        "+ lookup-record vsid=5001 ca=fd00::6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db\n";
    const auto inner = udp_frame(mac("00:15:5d:00:00:09"), red_db, ip("10.0.0.9"), ip("10.0.0.6"));
    const auto to_old = wrap(inner, "192.168.20.13", "192.168.10.12", 5001);
    for (const bool window : {true, false}) {
        CAPTURE(window);
        policy::live_policy old_host(before, policy::state::build(before, "hv2").value());
        policy::live_policy new_host(before, policy::state::build(before, "hv1").value());
        if (!window) {
            old_host.set_grace_window(std::chrono::milliseconds(0));
            new_host.set_grace_window(std::chrono::milliseconds(0));
        }
        REQUIRE(new_host.apply_change_set(move, "move.cs"));  // the new host first
        REQUIRE(old_host.apply_change_set(move, "move.cs"));
        auto old_reader = old_host.make_reader();
        auto new_reader = new_host.make_reader();

        // The old host: what still arrives for red-db goes on to its new PA, from the old one.
        buffer b(to_old);
        vector_sink sink;
        outcome o;
        {
            auto g = old_reader.read();
            o = ingress(*g, b.f, sink);
        }
        if (!window) {
            CHECK(o.reason == drop_reason::not_local_destination);
            continue;
        }
        REQUIRE(o.verdict == verdict::encap);
        CHECK(o.pa == ip("192.168.10.11"));
        CHECK(o.to.to == destination::kind::fabric);
        const auto forwarded = b.bytes();
        const auto layout = wire::parse_packet_layout(forwarded);
        REQUIRE(layout.kind == wire::frame_kind::nvgre);
        CHECK(layout.vsid_bits() == 5001);
        const auto outer = wire::ipv4_view::unchecked(std::span<const std::byte>(forwarded).subspan(14));
        CHECK(ip_address{outer.source()} == ip("192.168.10.12"));
        CHECK(ip_address{outer.destination()} == ip("192.168.10.11"));
        CHECK(std::vector<std::byte>(forwarded.begin() + layout.inner_l2_offset, forwarded.end()) == inner);

        // Never back to the PA it came from: red-web, on the new host, sending to the old one.
        {
            const auto from_new = wrap(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")), "192.168.10.11",
                                       "192.168.10.12", 5001);
            buffer back(from_new);
            auto g = old_reader.read();
            CHECK(ingress(*g, back.f, sink).reason == drop_reason::not_local_destination);
            CHECK(back.bytes() == from_new);
        }

        // The new host accepts it from the old host's PA (red-far's own PA is hv3's) and
        // delivers it to red-db, unchanged.
        buffer arrived(forwarded);
        vector_sink sink2;
        {
            auto g = new_reader.read();
            o = ingress(*g, arrived.f, sink2);
        }
        REQUIRE(o.verdict == verdict::deliver);
        CHECK(o.to.vm_mac == red_db);
        CHECK(arrived.bytes() == inner);
        // ... but not from another PA, nor for a VM that did not move.
        buffer third(wrap(inner, "192.168.10.22", "192.168.10.11", 5001));  // the old host's other PA
        {
            auto g = new_reader.read();
            CHECK(ingress(*g, third.f, sink2).reason == drop_reason::spoofed_source);
        }
        const auto to_web = udp_frame(mac("00:15:5d:00:00:09"), red_web, ip("10.0.0.9"), ip("10.0.0.5"));
        buffer not_moved(wrap(to_web, "192.168.10.12", "192.168.10.11", 5001));
        {
            auto g = new_reader.read();
            CHECK(ingress(*g, not_moved.f, sink2).reason == drop_reason::spoofed_source);
        }

        // When the window is over, both go back to the rules.
        CHECK(old_host.end_grace_windows(policy::live_policy::clock::now() + std::chrono::seconds(11)) == 0);
        CHECK(new_host.end_grace_windows(policy::live_policy::clock::now() + std::chrono::seconds(11)) == 0);
        buffer late(to_old);
        {
            auto g = old_reader.read();
            CHECK(ingress(*g, late.f, sink).reason == drop_reason::not_local_destination);
        }
        buffer late_arrival(forwarded);
        {
            auto g = new_reader.read();
            CHECK(ingress(*g, late_arrival.f, sink2).reason == drop_reason::spoofed_source);
        }
    }
}
