#include "nvgre/datapath/fabric_proxy.hpp"

#include "nvgre/datapath/ingress.hpp"
#include "nvgre/policy/loader.hpp"
#include "nvgre/wire/icmpv6.hpp"

#include "support/chained.hpp"
#include "support/frames.hpp"
#include "support/hnv_policy.hpp"

#include <doctest/doctest.h>

#include <array>
#include <deque>
#include <string_view>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;
using namespace nvgre::test::hnv_vm;

namespace {

// two-tenants.policy: hv1's PAs and their MACs, hv2's.
const mac_address hv1_mac = mac("02:00:c0:a8:0a:0b");  // 192.168.10.11
const mac_address hv1_mac2 = mac("02:00:c0:a8:0a:15");  // 192.168.10.21
const mac_address hv2_mac = mac("02:00:c0:a8:0a:0c");  // 192.168.10.12
const mac_address peer = mac("52:54:00:12:34:56");      // a standard endpoint's fabric NIC

// A host with a PA on VLAN 30 and an IPv6 PA, for the tag and ND cases.
constexpr std::string_view endpoint_policy = R"(provider-address host=hv1 pa=192.168.30.11 prefix-length=24 mac=02:00:00:00:1e:0b vlan=30
provider-address host=hv1 pa=fc00::11 prefix-length=64 mac=02:00:00:00:06:0b
provider-address host=hv2 pa=fc00::12 prefix-length=64 mac=02:00:00:00:06:0c
routing-domain rdid={33333333-3333-3333-3333-333333333333} name=green
virtual-subnet vsid=7001 rdid={33333333-3333-3333-3333-333333333333} gateway=10.1.0.1
customer-route rdid={33333333-3333-3333-3333-333333333333} vsid=7001 prefix=10.1.0.0/24 next-hop=0.0.0.0
lookup-record vsid=7001 ca=10.1.0.5 mac=00:15:5d:00:07:05 pa=fc00::11 vm=green-web
lookup-record vsid=7001 ca=10.1.0.6 mac=00:15:5d:00:07:06 pa=fc00::12 vm=green-db
)";
const mac_address vlan_pa_mac = mac("02:00:00:00:1e:0b");
const mac_address v6_pa_mac = mac("02:00:00:00:06:0b");

const policy::state& endpoint_state() {
    static const policy::state s = [] {
        auto r = policy::load_policy_text(endpoint_policy, "endpoint.policy");
        for (const auto& d : r.diagnostics) MESSAGE(d.to_string());
        REQUIRE(r);
        return policy::state::build(*r.validated, "hv1").value();
    }();
    return s;
}

/// Ethernet / IPv6 / NS for `target` from `src` (solicited-node multicast, or unicast to
/// `unicast_mac` when given), with the source link-layer option unless the source is ::.
std::vector<std::byte> ns_frame(const mac_address& from, const ip_address& src, const ip_address& target,
                                std::optional<mac_address> unicast_mac = std::nullopt, std::size_t extra_option_units = 0) {
    const bool dad = src.v6().is_unspecified();
    const wire::icmpv6_ns_repr ns{target.v6(), dad ? std::nullopt : std::optional<mac_address>(from)};
    // An option of a type RFC 4861 tells receivers to skip (14, Nonce), `extra_option_units` x 8 bytes.
    const std::size_t icmp_len = ns.buffer_len() + 8 * extra_option_units;
    std::vector<std::byte> f(wire::ethernet_header_len + wire::ipv6_header_len + icmp_len);
    auto o = target.v6().octets();
    const ipv6_address group{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, o[13], o[14], o[15]}};
    const ipv6_address dst = unicast_mac ? target.v6() : group;
    wire::ethernet_repr eth;
    eth.destination = unicast_mac ? *unicast_mac : mac_address{{0x33, 0x33, 0xff, o[13], o[14], o[15]}};
    eth.source = from;
    eth.ether_type = wire::ethertype::ipv6;
    eth.emit(f);
    wire::ipv6_repr ip6;
    ip6.source = src.v6();
    ip6.destination = dst;
    ip6.next_header = wire::ip_protocol::icmpv6;
    ip6.hop_limit = 255;
    ip6.payload_len = static_cast<std::uint16_t>(icmp_len);
    ip6.emit(std::span<std::byte>(f).subspan(14));
    auto icmp = std::span<std::byte>(f).subspan(54);
    ns.emit(icmp);
    if (extra_option_units != 0) {
        icmp[ns.buffer_len()] = std::byte{14};
        icmp[ns.buffer_len() + 1] = std::byte(extra_option_units);
    }
    wire::mutable_icmpv6_view::unchecked(icmp).fill_checksum(
        checksum::ipv6_pseudo_header_sum(src.v6(), dst, wire::ip_protocol::icmpv6, static_cast<std::uint32_t>(icmp_len)));
    return f;
}

/// `f` with one 802.1Q tag (TPID `tpid`, PCP 5, VID `vid`) after the MACs.
std::vector<std::byte> tagged(std::vector<std::byte> f, std::uint16_t vid, std::uint16_t tpid = wire::ethertype::vlan) {
    const std::uint16_t tci = static_cast<std::uint16_t>(5u << 13 | vid);
    const std::array<std::byte, 4> tag{std::byte(tpid >> 8), std::byte(tpid & 0xff), std::byte(tci >> 8), std::byte(tci & 0xff)};
    f.insert(f.begin() + 12, tag.begin(), tag.end());
    return f;
}

/// NVGRE from `from_pa` to `to_pa` as a peer host would send it (its MAC toward hv1's).
std::vector<std::byte> wrap(const std::vector<std::byte>& inner, std::string_view from_pa, std::string_view to_pa,
                            std::uint32_t vsid) {
    buffer b(inner);
    const encap_params p{hv2_mac, hv1_mac, 0, ip(from_pa), ip(to_pa), *nvgre::vsid::make(vsid)};
    REQUIRE(encapsulate(b.f, p));
    return b.bytes();
}

struct run_result {
    outcome o;
    std::vector<std::byte> out;
    std::size_t sink_frames{0};
};
run_result run(const policy::state& s, const std::vector<std::byte>& frame) {
    buffer b(frame);
    vector_sink sink;
    run_result r;
    r.o = ingress(s, b.f, sink);
    r.out = b.bytes();
    r.sink_frames = sink.out.size();
    return r;
}
run_result run(const std::vector<std::byte>& frame) { return run(hnv_state("hv1"), frame); }

/// The ARP in an untagged frame, checked to be a reply.
wire::arp_repr arp_reply_in(std::span<const std::byte> f) {
    REQUIRE(f.size() >= 42);
    CHECK(wire::ethernet_view::unchecked(f).ether_type() == wire::ethertype::arp);
    auto a = wire::arp_view::checked(f.subspan(14));
    REQUIRE(a);
    CHECK(a->operation() == wire::arp_operation::reply);
    return wire::arp_repr{a->operation(), a->sender_mac(), a->sender_ip(), a->target_mac(), a->target_ip()};
}

/// The NA in an untagged frame: (target, target link-layer address, R, S, O), its checksum checked.
struct na_fields {
    ipv6_address source, destination, target;
    mac_address tlla;
    bool router{}, solicited{}, override_flag{};
};
na_fields na_in(std::span<const std::byte> f) {
    REQUIRE(f.size() == neighbor_advertisement_frame_len);
    auto ip6 = wire::ipv6_view::checked(f.subspan(14));
    REQUIRE(ip6);
    CHECK(ip6->hop_limit() == 255);
    auto icmp = wire::icmpv6_view::checked(ip6->payload());
    REQUIRE(icmp);
    CHECK(icmp->type() == wire::icmpv6_type::neighbor_advertisement);
    CHECK(icmp->checksum_ok(checksum::ipv6_pseudo_header_sum(ip6->source(), ip6->destination(), wire::ip_protocol::icmpv6,
                                                             static_cast<std::uint32_t>(ip6->payload().size()))));
    const auto m = ip6->payload();
    const std::uint8_t flags = std::to_integer<std::uint8_t>(m[4]);
    na_fields n;
    n.source = ip6->source();
    n.destination = ip6->destination();
    n.target = ipv6_address::from_bytes(m.subspan(8, 16));
    CHECK(std::to_integer<int>(m[24]) == wire::nd_option_type::target_link_layer_address);
    n.tlla = mac_address::from_bytes(m.subspan(26, 6));
    n.router = (flags & 0x80u) != 0;
    n.solicited = (flags & 0x40u) != 0;
    n.override_flag = (flags & 0x20u) != 0;
    return n;
}

/// Decapsulates an answer sent back through the tunnel; checks its outer header.
std::vector<std::byte> unwrap(const std::vector<std::byte>& out, std::string_view from_pa, std::string_view to_pa,
                              const mac_address& from_mac, const mac_address& to_mac, std::uint32_t vsid) {
    buffer b(out);
    decap_info info;
    REQUIRE(decapsulate(b.f, info));
    CHECK(info.outer_source == ip(from_pa));
    CHECK(info.outer_destination == ip(to_pa));
    CHECK(info.outer_source_mac == from_mac);
    CHECK(info.outer_destination_mac == to_mac);
    CHECK(info.vsid.value() == vsid);
    CHECK(info.outer_vlan == 0);
    return b.bytes();
}

}  // namespace

TEST_CASE("datapath/fabric_proxy: ARP for this host's PA on the fabric is answered with the PA's MAC") {
    const auto request = arp_request(peer, ip("192.168.10.99"), ip("192.168.10.11"));
    const auto r = run(request);
    REQUIRE(r.o.verdict == verdict::reply);
    CHECK(r.o.reason == drop_reason::none);
    CHECK(r.o.to.to == destination::kind::fabric);
    CHECK(r.o.pa == ip("192.168.10.99"));
    CHECK(r.o.vsid == 0);
    CHECK(r.out.size() == 42);
    const auto eth = wire::ethernet_view::unchecked(r.out);
    CHECK(eth.destination() == peer);
    CHECK(eth.source() == hv1_mac);
    const auto a = arp_reply_in(r.out);
    CHECK(a.sender_mac == hv1_mac);
    CHECK(ip_address{a.sender_ip} == ip("192.168.10.11"));
    CHECK(a.target_mac == peer);
    CHECK(ip_address{a.target_ip} == ip("192.168.10.99"));

    // hv1's other PA answers with its own MAC.
    const auto second = run(arp_request(peer, ip("192.168.10.99"), ip("192.168.10.21")));
    REQUIRE(second.o.verdict == verdict::reply);
    CHECK(arp_reply_in(second.out).sender_mac == hv1_mac2);

    // A request padded to 60 bytes on a wire gets a reply padded the same way.
    auto padded = request;
    padded.resize(60, std::byte{0});
    const auto p = run(padded);
    REQUIRE(p.o.verdict == verdict::reply);
    CHECK(p.out.size() == 60);

    // An RFC 5227 probe for our PA is defended (answered) too.
    const auto probe = run(arp_request(peer, ip("0.0.0.0"), ip("192.168.10.11")));
    CHECK(probe.o.verdict == verdict::reply);
}

TEST_CASE("datapath/fabric_proxy: what the fabric proxy does not answer") {
    // Another host's PA: not ours to answer.
    CHECK(run(arp_request(peer, ip("192.168.10.99"), ip("192.168.10.12"))).o.reason == drop_reason::unknown_target);
    CHECK(run(arp_request(peer, ip("192.168.10.99"), ip("192.168.10.77"))).o.reason == drop_reason::unknown_target);
    // Not a question: an ARP reply, plain IP, stay not-nvgre, unchanged.
    auto reply = arp_request(peer, ip("192.168.10.99"), ip("192.168.10.11"));
    reply[21] = std::byte{2};
    const auto r = run(reply);
    CHECK(r.o.reason == drop_reason::not_nvgre);
    CHECK(r.out == reply);
    CHECK(run(udp_frame(peer, hv1_mac, ip("192.168.10.99"), ip("192.168.10.11"))).o.reason == drop_reason::not_nvgre);
    // An ARP that is not Ethernet/IPv4: bad-arp.
    auto odd = arp_request(peer, ip("192.168.10.99"), ip("192.168.10.11"));
    odd[17] = std::byte{0x06};  // protocol type 0x0806
    CHECK(run(odd).o.reason == drop_reason::bad_arp);
    // Cut short.
    auto cut = arp_request(peer, ip("192.168.10.99"), ip("192.168.10.11"));
    cut.resize(30);
    CHECK(run(cut).o.reason == drop_reason::bad_arp);
    // answer_provider_question leaves other frames alone and says so.
    const auto nvgre_frame = wrap(udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5")), "192.168.10.12", "192.168.10.11", 5001);
    buffer b(nvgre_frame);
    CHECK_FALSE(answer_provider_question(hnv_state("hv1"), b.f, wire::parse_packet_layout(b.f.bytes())).has_value());
    CHECK(b.bytes() == nvgre_frame);
}

TEST_CASE("datapath/fabric_proxy: an outer VLAN tag is answered with the same tag only on the PA's VLAN") {
    const auto& s = endpoint_state();
    const auto untagged = arp_request(peer, ip("192.168.30.99"), ip("192.168.30.11"));
    const auto req = tagged(untagged, 30);
    const auto r = run(s, req);
    REQUIRE(r.o.verdict == verdict::reply);
    REQUIRE(r.out.size() == 46);
    const auto eth = wire::ethernet_view::unchecked(r.out);
    REQUIRE(eth.tag_count() == 1);
    CHECK(eth.tag(0).tpid == wire::ethertype::vlan);
    CHECK(eth.tag(0).vid == 30);
    CHECK(eth.tag(0).pcp == 5);  // the request's tag, as it came
    CHECK(eth.destination() == peer);
    CHECK(eth.source() == vlan_pa_mac);
    // Untagged, it is the reply the untagged path builds.
    std::vector<std::byte> stripped(r.out);
    stripped.erase(stripped.begin() + 12, stripped.begin() + 16);
    const auto a = arp_reply_in(stripped);
    CHECK(a.sender_mac == vlan_pa_mac);
    CHECK(ip_address{a.sender_ip} == ip("192.168.30.11"));

    // Padded to 64 bytes with the tag: the reply keeps 60 + 4.
    auto padded = untagged;
    padded.resize(60, std::byte{0});
    CHECK(run(s, tagged(padded, 30)).out.size() == 64);

    // Another VLAN, no tag for a PA on a VLAN, a tag for a PA without one, two tags, 802.1ad.
    CHECK(run(s, tagged(untagged, 31)).o.reason == drop_reason::bad_outer_vlan);
    CHECK(run(s, untagged).o.reason == drop_reason::bad_outer_vlan);
    CHECK(run(tagged(arp_request(peer, ip("192.168.10.99"), ip("192.168.10.11")), 10)).o.reason == drop_reason::bad_outer_vlan);
    CHECK(run(s, tagged(tagged(untagged, 30), 100, wire::ethertype::qinq)).o.reason == drop_reason::bad_outer_vlan);
    CHECK(run(s, tagged(untagged, 30, wire::ethertype::qinq)).o.reason == drop_reason::bad_outer_vlan);
    // A tagged request that is not ours is dropped with the frame as it came.
    const auto theirs = tagged(arp_request(peer, ip("192.168.30.99"), ip("192.168.30.12")), 30);
    const auto t = run(s, theirs);
    CHECK(t.o.reason == drop_reason::unknown_target);
    CHECK(t.out == theirs);
}

TEST_CASE("datapath/fabric_proxy: neighbor solicitations for this host's IPv6 PA") {
    const auto& s = endpoint_state();
    SUBCASE("multicast and unicast solicitations") {
        for (const bool unicast : {false, true}) {
            const auto r = run(s, ns_frame(peer, ip("fc00::99"), ip("fc00::11"),
                                           unicast ? std::optional<mac_address>(v6_pa_mac) : std::nullopt));
            REQUIRE(r.o.verdict == verdict::reply);
            CHECK(r.o.to.to == destination::kind::fabric);
            CHECK(r.o.pa == ip("fc00::99"));
            const auto eth = wire::ethernet_view::unchecked(r.out);
            CHECK(eth.destination() == peer);
            CHECK(eth.source() == v6_pa_mac);
            const auto na = na_in(r.out);
            CHECK(ip_address{na.source} == ip("fc00::11"));
            CHECK(ip_address{na.destination} == ip("fc00::99"));
            CHECK(ip_address{na.target} == ip("fc00::11"));
            CHECK(na.tlla == v6_pa_mac);
            CHECK_FALSE(na.router);
            CHECK(na.solicited);
        }
    }
    SUBCASE("duplicate address detection for our PA is defended to all nodes") {
        const auto r = run(s, ns_frame(peer, ip("::"), ip("fc00::11")));
        REQUIRE(r.o.verdict == verdict::reply);
        CHECK(r.o.pa == ip("ff02::1"));
        const auto na = na_in(r.out);
        CHECK(ip_address{na.destination} == ip("ff02::1"));
        CHECK_FALSE(na.solicited);
    }
    SUBCASE("not ours, malformed, tagged") {
        CHECK(run(s, ns_frame(peer, ip("fc00::99"), ip("fc00::12"))).o.reason == drop_reason::unknown_target);
        auto hop = ns_frame(peer, ip("fc00::99"), ip("fc00::11"));
        hop[21] = std::byte{64};  // hop limit 64: RFC 4861 7.1.1
        CHECK(run(s, hop).o.reason == drop_reason::bad_arp);
        CHECK(run(s, tagged(ns_frame(peer, ip("fc00::99"), ip("fc00::11")), 30)).o.reason == drop_reason::bad_outer_vlan);
        // Other ICMPv6 (an echo request) stays not-nvgre.
        auto echo = ns_frame(peer, ip("fc00::99"), ip("fc00::11"));
        echo[54] = std::byte{128};
        CHECK(run(s, echo).o.reason == drop_reason::not_nvgre);
    }
    SUBCASE("a chained solicitation whose options go on past the first segment is judged cut short there") {
        const auto req = ns_frame(peer, ip("fc00::99"), ip("fc00::11"), std::nullopt, 30);  // 326 bytes
        REQUIRE(req.size() > first_segment_bytes + 8);
        CHECK(run(s, req).o.verdict == verdict::reply);  // flat: a valid solicitation
        chained_buffer c(req, first_segment_bytes, {}, 128, 128);
        cloning_vector_sink sink;
        CHECK(ingress(s, c.f, sink).reason == drop_reason::bad_arp);
        CHECK(c.bytes() == req);
    }
    SUBCASE("no room for the 86-byte advertisement: no-buffer, the frame unchanged") {
        const auto req = ns_frame(peer, ip("::"), ip("fc00::11"));  // 78 bytes
        buffer b(req, 128, 0);
        CHECK(answer_provider_question(s, b.f, wire::parse_packet_layout(b.f.bytes()))->reason == drop_reason::no_buffer);
        CHECK(b.bytes() == req);
    }
}

TEST_CASE("datapath/fabric_proxy rule 6: ARP through the tunnel is answered from policy, back to the sender's PA") {
    SUBCASE("a CA of the same VSID: the record's MAC") {
        const auto inner = arp_request(red_db, ip("10.0.0.6"), ip("10.0.0.5"));
        const auto r = run(wrap(inner, "192.168.10.12", "192.168.10.11", 5001));
        REQUIRE(r.o.verdict == verdict::reply);
        CHECK(r.o.reason == drop_reason::none);
        CHECK(r.o.vsid == 5001);
        CHECK(r.o.pa == ip("192.168.10.12"));
        CHECK(r.o.to.to == destination::kind::fabric);
        CHECK(r.sink_frames == 0);  // nothing delivered to a VM
        CHECK(wire::parse_packet_layout(r.out).kind == wire::frame_kind::nvgre);
        const auto answer = unwrap(r.out, "192.168.10.11", "192.168.10.12", hv1_mac, hv2_mac, 5001);
        CHECK(wire::ethernet_view::unchecked(answer).destination() == red_db);
        CHECK(wire::ethernet_view::unchecked(answer).source() == red_web);
        const auto a = arp_reply_in(answer);
        CHECK(a.sender_mac == red_web);
        CHECK(ip_address{a.sender_ip} == ip("10.0.0.5"));
        CHECK(a.target_mac == red_db);
        CHECK(ip_address{a.target_ip} == ip("10.0.0.6"));
    }
    SUBCASE("any CA of the domain, local or not; another subnet: the router MAC") {
        // red-far lives on hv3; hv1 still answers for it from policy.
        const auto far = run(wrap(arp_request(red_db, ip("10.0.0.6"), ip("10.0.0.9")), "192.168.10.12", "192.168.10.11", 5001));
        REQUIRE(far.o.verdict == verdict::reply);
        CHECK(arp_reply_in(unwrap(far.out, "192.168.10.11", "192.168.10.12", hv1_mac, hv2_mac, 5001)).sender_mac ==
              mac("00:15:5d:00:00:09"));
        // red-db2 is in 5002: from 5001 it is reached through the router.
        const auto routed = run(wrap(arp_request(red_db, ip("10.0.0.6"), ip("10.0.1.8")), "192.168.10.12", "192.168.10.11", 5001));
        REQUIRE(routed.o.verdict == verdict::reply);
        CHECK(arp_reply_in(unwrap(routed.out, "192.168.10.11", "192.168.10.12", hv1_mac, hv2_mac, 5001)).sender_mac == red_router);
    }
    SUBCASE("unicast requests (a refresh) are answered too") {
        auto inner = arp_request(red_db, ip("10.0.0.6"), ip("10.0.0.5"));
        red_web.to_bytes(std::span<std::byte>(inner).subspan(0, 6));
        const auto r = run(wrap(inner, "192.168.10.12", "192.168.10.11", 5001));
        CHECK(r.o.verdict == verdict::reply);
    }
    SUBCASE("the answer goes back through the provider route to a sender behind it") {
        const auto r = run(wrap(arp_request(mac("00:15:5d:00:00:09"), ip("10.0.0.9"), ip("10.0.0.5")), "192.168.20.13",
                                "192.168.10.11", 5001));
        REQUIRE(r.o.verdict == verdict::reply);
        CHECK(r.o.pa == ip("192.168.20.13"));
        unwrap(r.out, "192.168.10.11", "192.168.20.13", hv1_mac, mac("02:00:00:00:00:fe"), 5001);
    }
    SUBCASE("the PA it arrived on answers: hv1's second PA") {
        const auto r = run(wrap(arp_request(red_db, ip("10.0.0.6"), ip("10.0.0.5")), "192.168.10.12", "192.168.10.21", 5001));
        REQUIRE(r.o.verdict == verdict::reply);
        unwrap(r.out, "192.168.10.21", "192.168.10.12", hv1_mac2, hv2_mac, 5001);
    }
    SUBCASE("no answer: gateways, unknown addresses, the requester's own address") {
        for (const char* target : {"10.0.0.1", "10.0.0.77", "10.0.0.6"}) {
            const auto r = run(wrap(arp_request(red_db, ip("10.0.0.6"), ip(target)), "192.168.10.12", "192.168.10.11", 5001));
            CHECK(r.o.verdict == verdict::drop);
            CHECK(r.o.reason == drop_reason::unknown_target);
            CHECK(r.sink_frames == 0);  // and never delivered to the VMs
        }
        // Blue's 10.0.0.5 from red's VSID: red's policy answers (red-web), never blue's record.
        const auto red = run(wrap(arp_request(red_db, ip("10.0.0.6"), ip("10.0.0.5")), "192.168.10.12", "192.168.10.11", 5001));
        CHECK(arp_reply_in(unwrap(red.out, "192.168.10.11", "192.168.10.12", hv1_mac, hv2_mac, 5001)).sender_mac == red_web);
    }
    SUBCASE("anti-spoofing (rule 2) comes first") {
        const auto r = run(wrap(arp_request(red_db, ip("10.0.0.6"), ip("10.0.0.5")), "192.168.20.13", "192.168.10.11", 5001));
        CHECK(r.o.reason == drop_reason::spoofed_source);
    }
    SUBCASE("an ARP reply through the tunnel is no question: rule 3 as before") {
        auto inner = arp_request(red_db, ip("10.0.0.6"), ip("10.0.0.5"));
        inner[21] = std::byte{2};
        red_web.to_bytes(std::span<std::byte>(inner).subspan(0, 6));
        CHECK(run(wrap(inner, "192.168.10.12", "192.168.10.11", 5001)).o.reason == drop_reason::unsupported);
    }
}

TEST_CASE("datapath/fabric_proxy rule 6: neighbor solicitations through the tunnel") {
    SUBCASE("multicast and unicast (unreachability detection), through ingress and ingress_burst") {
        for (const bool unicast : {false, true}) {
            const auto inner = ns_frame(red_db, ip("fd00::6"), ip("fd00::5"), unicast ? std::optional<mac_address>(red_web) : std::nullopt);
            const auto tunnelled = wrap(inner, "192.168.10.12", "192.168.10.11", 5001);
            const auto r = run(tunnelled);
            REQUIRE(r.o.verdict == verdict::reply);
            CHECK(r.o.pa == ip("192.168.10.12"));
            CHECK(r.o.vsid == 5001);
            const auto answer = unwrap(r.out, "192.168.10.11", "192.168.10.12", hv1_mac, hv2_mac, 5001);
            CHECK(wire::ethernet_view::unchecked(answer).destination() == red_db);
            CHECK(wire::ethernet_view::unchecked(answer).source() == red_web);
            const auto na = na_in(answer);
            CHECK(ip_address{na.target} == ip("fd00::5"));
            CHECK(ip_address{na.destination} == ip("fd00::6"));
            CHECK(na.tlla == red_web);
            CHECK_FALSE(na.router);
            CHECK(na.solicited);

            // The burst path gives the same answer (its fast path leaves ICMPv6 to rule 6).
            std::deque<buffer> keep;
            std::array<frame, 2> frames;
            keep.emplace_back(tunnelled);
            frames[0] = keep.back().f;
            keep.emplace_back(wrap(udp_frame(red_db, red_web, ip("fd00::6"), ip("fd00::5")), "192.168.10.12", "192.168.10.11", 5001));
            frames[1] = keep.back().f;
            std::array<outcome, 2> out;
            vector_sink sink;
            context c;
            ingress_burst(hnv_state("hv1"), std::span(frames), std::span(out), sink, c);
            CHECK(out[0].verdict == verdict::reply);
            CHECK(std::vector<std::byte>(frames[0].bytes().begin(), frames[0].bytes().end()) == r.out);
            CHECK(out[1].verdict == verdict::deliver);
            CHECK(c.count.of(verdict::reply) == 1);
        }
    }
    SUBCASE("no answer: DAD for the sender's own address, the gateway, unknown addresses") {
        CHECK(run(wrap(ns_frame(red_db, ip("::"), ip("fd00::6")), "192.168.10.12", "192.168.10.11", 5001)).o.reason ==
              drop_reason::unknown_target);
        CHECK(run(wrap(ns_frame(red_db, ip("fd00::6"), ip("fd00::1")), "192.168.10.12", "192.168.10.11", 5001)).o.reason ==
              drop_reason::unknown_target);
        CHECK(run(wrap(ns_frame(red_db, ip("fd00::6"), ip("fd00::77")), "192.168.10.12", "192.168.10.11", 5001)).o.reason ==
              drop_reason::unknown_target);
    }
    SUBCASE("a malformed solicitation is dropped bad-arp, not delivered") {
        auto inner = ns_frame(red_db, ip("fd00::6"), ip("fd00::5"));
        inner[21] = std::byte{64};  // hop limit
        const auto r = run(wrap(inner, "192.168.10.12", "192.168.10.11", 5001));
        CHECK(r.o.reason == drop_reason::bad_arp);
        CHECK(r.sink_frames == 0);
    }
    SUBCASE("headroom: the outer headers the request came in free room enough for the answer's") {
        const auto tunnelled = wrap(ns_frame(red_db, ip("fd00::6"), ip("fd00::5")), "192.168.10.12", "192.168.10.11", 5001);
        buffer b(tunnelled, 0, 64);
        vector_sink sink;
        // Decapsulation frees the 42 bytes the answer's outer headers take again: it fits.
        CHECK(ingress(hnv_state("hv1"), b.f, sink).verdict == verdict::reply);
    }
}
