#include "nvgre/datapath/rewrite.hpp"

#include "nvgre/datapath/egress.hpp"
#include "nvgre/datapath/ingress.hpp"

#include "support/frames.hpp"
#include "support/hnv_policy.hpp"
#include "support/tcp_frames.hpp"
#include "support/test_bytes.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/policy/loader.hpp"
#include "nvgre/wire/icmp.hpp"
#include "nvgre/wire/icmpv6.hpp"
#include "nvgre/wire/packet_layout.hpp"
#include "nvgre/wire/tcp.hpp"
#include "nvgre/wire/udp.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;

namespace {

// A blue tenant with nat VMs of both IP versions, on a VLAN, behind the distributed router and
// beside encap VMs (nat1 and nat2 also hold IPv6 CAs with encap records), a customer route via
// a nat VM as next hop, a nat VM whose PA no host route reaches, and a red nat VM.
constexpr std::string_view nat_lab = R"(
provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b
provider-address host=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c
provider-address host=hv1 pa=192.168.10.21 prefix-length=24 mac=02:00:c0:a8:0a:15
provider-address host=hv2 pa=192.168.10.22 prefix-length=24 mac=02:00:c0:a8:0a:16
provider-address host=hv2 pa=192.168.10.23 prefix-length=24 mac=02:00:c0:a8:0a:17
provider-address host=hv2 pa=192.168.10.29 prefix-length=24 mac=02:00:c0:a8:0a:1d
provider-address host=hv2 pa=192.168.40.22 prefix-length=24 mac=02:00:c0:a8:28:16
provider-address host=hv1 pa=2001:db8::21 prefix-length=64 mac=02:00:20:01:00:21
provider-address host=hv2 pa=2001:db8::22 prefix-length=64 mac=02:00:20:01:00:22
provider-address host=hv1 pa=192.168.30.21 prefix-length=24 mac=02:00:c0:a8:1e:15 vlan=30
provider-address host=hv2 pa=192.168.30.22 prefix-length=24 mac=02:00:c0:a8:1e:16 vlan=30

routing-domain rdid={22222222-2222-2222-2222-222222222222} name=blue router-mac=02:00:5e:00:02:02
virtual-subnet vsid=6001 rdid={22222222-2222-2222-2222-222222222222} gateway=10.0.0.1
virtual-subnet vsid=6002 rdid={22222222-2222-2222-2222-222222222222} gateway=10.0.2.1
customer-route rdid={22222222-2222-2222-2222-222222222222} vsid=6001 prefix=10.0.0.0/24 next-hop=0.0.0.0
customer-route rdid={22222222-2222-2222-2222-222222222222} vsid=6001 prefix=fd00:6001::/64 next-hop=::
customer-route rdid={22222222-2222-2222-2222-222222222222} vsid=6002 prefix=10.0.2.0/24 next-hop=0.0.0.0
customer-route rdid={22222222-2222-2222-2222-222222222222} vsid=6001 prefix=172.16.0.0/16 next-hop=10.0.0.8
lookup-record vsid=6001 ca=10.0.0.5 mac=00:15:5d:00:01:05 pa=192.168.10.11 vm=blue-web
lookup-record vsid=6001 ca=10.0.0.6 mac=00:15:5d:00:01:06 pa=192.168.10.12 vm=blue-db
lookup-record vsid=6001 ca=10.0.0.7 mac=00:15:5d:00:01:07 pa=192.168.10.21 rule=nat vm=nat1
lookup-record vsid=6001 ca=fd00:6001::7 mac=00:15:5d:00:01:07 pa=192.168.10.11 vm=nat1
lookup-record vsid=6001 ca=10.0.0.8 mac=00:15:5d:00:01:08 pa=192.168.10.22 rule=nat vm=nat2
lookup-record vsid=6001 ca=fd00:6001::8 mac=00:15:5d:00:01:08 pa=192.168.10.12 vm=nat2
lookup-record vsid=6002 ca=10.0.2.9 mac=00:15:5d:00:02:09 pa=192.168.10.23 rule=nat vm=nat3
lookup-record vsid=6001 ca=10.0.0.40 mac=00:15:5d:00:01:40 pa=192.168.40.22 rule=nat vm=far-nat
lookup-record vsid=6001 ca=fd00:6001::17 mac=00:15:5d:00:01:17 pa=2001:db8::21 rule=nat vm=v6nat1
lookup-record vsid=6001 ca=fd00:6001::18 mac=00:15:5d:00:01:18 pa=2001:db8::22 rule=nat vm=v6nat2
lookup-record vsid=6001 ca=10.0.0.27 mac=00:15:5d:00:01:27 pa=192.168.30.21 rule=nat vm=vlan-nat1
lookup-record vsid=6001 ca=10.0.0.28 mac=00:15:5d:00:01:28 pa=192.168.30.22 rule=nat vm=vlan-nat2

routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red
virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0
lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.29 rule=nat vm=red-nat
)";

const policy::state& lab(std::string_view host) {
    static const auto states = [] {
        auto r = policy::load_policy_text(nat_lab, "nat-lab.policy");
        for (const auto& d : r.diagnostics) MESSAGE(d.to_string());
        REQUIRE(r);
        return std::make_pair(policy::state::build(*r.validated, "hv1").value(), policy::state::build(*r.validated, "hv2").value());
    }();
    return host == "hv1" ? states.first : states.second;
}

namespace vm {
const mac_address web = mac("00:15:5d:00:01:05"), db = mac("00:15:5d:00:01:06");
const mac_address nat1 = mac("00:15:5d:00:01:07"), nat2 = mac("00:15:5d:00:01:08"), nat3 = mac("00:15:5d:00:02:09");
const mac_address v6nat1 = mac("00:15:5d:00:01:17"), v6nat2 = mac("00:15:5d:00:01:18");
const mac_address vlan1 = mac("00:15:5d:00:01:27"), vlan2 = mac("00:15:5d:00:01:28");
const mac_address router = mac("02:00:5e:00:02:02");
}  // namespace vm

using bytes = std::vector<std::byte>;

std::byte b8(unsigned v) { return static_cast<std::byte>(v); }
void put16(bytes& v, std::size_t at, std::uint16_t x) { nvgre::detail::store_be16(v.data() + at, x); }
std::uint16_t get16(const bytes& v, std::size_t at) { return nvgre::detail::load_be16(v.data() + at); }

// ---- packets, built field by field; their checksums come from recompute() below ----------

/// An IPv4 or IPv6 packet (no Ethernet) with `l4` as payload. IPv4: identification 0x1234,
/// `flags_fragment` the flags + offset word (DF by default).
bytes ip_packet(const ip_address& src, const ip_address& dst, std::uint8_t protocol, const bytes& l4, std::uint8_t ttl = 64,
                std::uint16_t flags_fragment = 0x4000) {
    const bool v6 = src.is_v6();
    bytes p((v6 ? wire::ipv6_header_len : wire::ipv4_min_header_len) + l4.size());
    if (v6) {
        wire::ipv6_repr r;
        r.source = src.v6();
        r.destination = dst.v6();
        r.next_header = protocol;
        r.hop_limit = ttl;
        r.flow_label = 0x12345;
        r.payload_len = static_cast<std::uint16_t>(l4.size());
        r.emit(p);
    } else {
        wire::ipv4_repr r;
        r.source = src.v4();
        r.destination = dst.v4();
        r.protocol = protocol;
        r.ttl = ttl;
        r.identification = 0x1234;
        r.dont_fragment = (flags_fragment & 0x4000) != 0;
        r.more_fragments = (flags_fragment & 0x2000) != 0;
        r.fragment_offset_units = flags_fragment & 0x1fff;
        r.payload_len = static_cast<std::uint16_t>(l4.size());
        r.emit(p);
    }
    std::copy(l4.begin(), l4.end(), p.begin() + static_cast<std::ptrdiff_t>(p.size() - l4.size()));
    return p;
}

bytes ethernet(const mac_address& src, const mac_address& dst, const bytes& packet) {
    bytes f(wire::ethernet_header_len + packet.size());
    dst.to_bytes(std::span<std::byte>(f).subspan(0, 6));
    src.to_bytes(std::span<std::byte>(f).subspan(6, 6));
    put16(f, 12, (nvgre::detail::load_u8(packet.data()) >> 4) == 6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4);
    std::copy(packet.begin(), packet.end(), f.begin() + wire::ethernet_header_len);
    return f;
}

bytes pattern(std::size_t n, unsigned seed) {
    bytes v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = b8((i * 13 + seed) & 0xff);
    return v;
}
bytes tcp_segment(std::size_t payload) {
    bytes t(wire::tcp_min_header_len);
    put16(t, 0, 40000);
    put16(t, 2, 443);
    nvgre::detail::store_be32(t.data() + 4, 0x01020304);
    nvgre::detail::store_be32(t.data() + 8, 0x05060708);
    t[12] = b8(0x50);
    t[13] = b8(0x18);
    put16(t, 14, 0xffff);
    const auto p = pattern(payload, 1);
    t.insert(t.end(), p.begin(), p.end());
    return t;
}
/// `zero`: the sender computed no checksum (IPv4 only means that; over IPv6 it is invalid).
bytes udp_datagram(std::size_t payload, bool zero = false, std::uint16_t sport = 40000) {
    bytes u(wire::udp_header_len);
    put16(u, 0, sport);
    put16(u, 2, 5001);
    put16(u, 4, static_cast<std::uint16_t>(wire::udp_header_len + payload));
    put16(u, 6, zero ? 0 : 1);  // 1: recompute() fills it in
    const auto p = pattern(payload, 2);
    u.insert(u.end(), p.begin(), p.end());
    return u;
}
bytes icmp_echo(std::uint8_t type, std::size_t payload) {
    bytes m{b8(type), b8(0), b8(0), b8(0), b8(0x42), b8(0x42), b8(0), b8(7)};
    const auto p = pattern(payload, 3);
    m.insert(m.end(), p.begin(), p.end());
    return m;
}
/// An ICMP (ICMPv6) error quoting the first `limit` bytes of `quoted` (an IP packet).
bytes icmp_error(std::uint8_t type, std::uint8_t code, const bytes& quoted, std::size_t limit, std::uint32_t rest = 0) {
    bytes m{b8(type), b8(code), b8(0), b8(0), b8(rest >> 24), b8(rest >> 16), b8(rest >> 8), b8(rest)};
    m.insert(m.end(), quoted.begin(), quoted.begin() + static_cast<std::ptrdiff_t>(std::min(limit, quoted.size())));
    return m;
}

// ---- the checksum oracle: every checksum recomputed from scratch (not incrementally) -------

void recompute_l4(std::span<std::byte> l4, const ip_address& src, const ip_address& dst, std::uint8_t protocol);

/// Recomputes the checksums of the IP packet `ip` (IPv4 header; TCP/UDP/ICMP/ICMPv6 of a whole
/// datagram; a zero UDP checksum stays zero). Fragments: only the IPv4 header (a fragment's
/// transport checksum covers bytes it does not hold).
void recompute_packet(std::span<std::byte> ip) {
    if ((nvgre::detail::load_u8(ip.data()) >> 4) == 4) {
        auto v = wire::mutable_ipv4_view::checked(ip);
        REQUIRE(v);
        v->fill_header_checksum();
        if (v->is_fragment()) return;
        recompute_l4(v->payload(), v->source(), v->destination(), v->protocol());
    } else {
        auto v = wire::mutable_ipv6_view::checked(ip);
        REQUIRE(v);
        recompute_l4(v->payload(), v->source(), v->destination(), v->next_header());
    }
}

/// A quoted packet (cut short or not): its IPv4 header checksum, and its transport checksum
/// when the quote holds the whole packet.
void recompute_quote(std::span<std::byte> q) {
    if (q.size() < wire::ipv4_min_header_len) return;
    if ((nvgre::detail::load_u8(q.data()) >> 4) == 4) {
        auto v = wire::mutable_ipv4_view::unchecked(q);
        if (v.header_len() > q.size()) return;
        v.fill_header_checksum();
        if (v.total_len() <= q.size() && !v.is_fragment()) recompute_l4(v.payload(), v.source(), v.destination(), v.protocol());
    } else if (q.size() >= wire::ipv6_header_len) {
        auto v = wire::mutable_ipv6_view::unchecked(q);
        if (wire::ipv6_header_len + v.payload_len() <= q.size())
            recompute_l4(v.payload(), v.source(), v.destination(), v.next_header());
    }
}

void recompute_l4(std::span<std::byte> l4, const ip_address& src, const ip_address& dst, std::uint8_t protocol) {
    const auto len = static_cast<std::uint32_t>(l4.size());
    switch (protocol) {
        case wire::ip_protocol::tcp:
            wire::mutable_tcp_view::unchecked(l4).fill_checksum(checksum::pseudo_header_sum(src, dst, protocol, len));
            break;
        case wire::ip_protocol::udp: {
            auto u = wire::mutable_udp_view::checked(l4);
            REQUIRE(u);
            if (u->checksum() != 0) u->fill_checksum(checksum::pseudo_header_sum(src, dst, protocol, u->length()));
            break;
        }
        case wire::ip_protocol::icmp: {
            auto m = wire::mutable_icmp_view::unchecked(l4);
            if (wire::is_icmp_error(m.type())) recompute_quote(m.payload());
            m.fill_checksum();
            break;
        }
        case wire::ip_protocol::icmpv6: {
            auto m = wire::mutable_icmpv6_view::checked(l4);
            REQUIRE(m);
            if (wire::is_icmpv6_error(m->type())) recompute_quote(l4.subspan(8));
            m->fill_checksum(checksum::pseudo_header_sum(src, dst, protocol, len));
            break;
        }
        default: break;
    }
}

/// `frame` with every checksum recomputed (Ethernet, with or without one 802.1Q tag).
bytes recomputed(bytes frame) {
    const std::size_t l2 = get16(frame, 12) == wire::ethertype::vlan ? 18 : 14;
    recompute_packet(std::span<std::byte>(frame).subspan(l2));
    return frame;
}

/// A VM's frame from (src_mac, src) to (dst_mac, dst): what `make` puts after the IP header.
using l4_maker = std::function<bytes(const ip_address& src, const ip_address& dst)>;
bytes vm_frame(const mac_address& src_mac, const mac_address& dst_mac, const ip_address& src, const ip_address& dst,
               std::uint8_t protocol, const l4_maker& make, std::uint8_t ttl = 64) {
    return recomputed(ethernet(src_mac, dst_mac, ip_packet(src, dst, protocol, make(src, dst), ttl)));
}

/// The packet the peer `dst` sent to `src` and now gets quoted back: IP + `l4`, checksums valid.
bytes peer_packet(const ip_address& src, const ip_address& dst, std::uint8_t protocol, const bytes& l4) {
    auto p = ip_packet(dst, src, protocol, l4);
    recompute_packet(p);
    return p;
}

struct rt_case {
    std::string name;
    std::uint8_t protocol;
    l4_maker make;
};

std::vector<rt_case> round_trip_cases(bool v6) {
    std::vector<rt_case> c;
    c.push_back({"TCP", wire::ip_protocol::tcp, [](auto&, auto&) { return tcp_segment(100); }});
    c.push_back({"UDP", wire::ip_protocol::udp, [](auto&, auto&) { return udp_datagram(18); }});
    if (!v6) {
        c.push_back({"UDP with a zero (absent) checksum", wire::ip_protocol::udp, [](auto&, auto&) { return udp_datagram(18, true); }});
        c.push_back({"ICMP echo request", wire::ip_protocol::icmp,
                     [](auto&, auto&) { return icmp_echo(wire::icmp_type::echo_request, 56); }});
        c.push_back({"ICMP port unreachable quoting the whole UDP datagram", wire::ip_protocol::icmp,
                     [](const ip_address& s, const ip_address& d) {
                         return icmp_error(3, 3, peer_packet(s, d, wire::ip_protocol::udp, udp_datagram(30)), 576);
                     }});
        c.push_back({"ICMP time exceeded quoting IP header + 8 bytes of TCP", wire::ip_protocol::icmp,
                     [](const ip_address& s, const ip_address& d) {
                         return icmp_error(11, 0, peer_packet(s, d, wire::ip_protocol::tcp, tcp_segment(40)), 28);
                     }});
        c.push_back({"ICMP fragmentation needed quoting 48 bytes of TCP (its checksum inside)", wire::ip_protocol::icmp,
                     [](const ip_address& s, const ip_address& d) {
                         return icmp_error(3, 4, peer_packet(s, d, wire::ip_protocol::tcp, tcp_segment(200)), 48, 1400);
                     }});
        c.push_back({"ICMP port unreachable quoting a UDP datagram with a zero checksum", wire::ip_protocol::icmp,
                     [](const ip_address& s, const ip_address& d) {
                         return icmp_error(3, 3, peer_packet(s, d, wire::ip_protocol::udp, udp_datagram(12, true)), 576);
                     }});
    } else {
        c.push_back({"ICMPv6 echo request", wire::ip_protocol::icmpv6,
                     [](auto&, auto&) { return icmp_echo(wire::icmpv6_type::echo_request, 56); }});
        c.push_back({"ICMPv6 port unreachable quoting the whole UDP datagram", wire::ip_protocol::icmpv6,
                     [](const ip_address& s, const ip_address& d) {
                         return icmp_error(1, 4, peer_packet(s, d, wire::ip_protocol::udp, udp_datagram(30)), 1232);
                     }});
        c.push_back({"ICMPv6 packet too big quoting 60 bytes of TCP (its checksum inside)", wire::ip_protocol::icmpv6,
                     [](const ip_address& s, const ip_address& d) {
                         return icmp_error(2, 0, peer_packet(s, d, wire::ip_protocol::tcp, tcp_segment(1300)), 60, 1280);
                     }});
        c.push_back({"ICMPv6 time exceeded quoting an echo request", wire::ip_protocol::icmpv6,
                     [](const ip_address& s, const ip_address& d) {
                         return icmp_error(3, 0, peer_packet(s, d, wire::ip_protocol::icmpv6, icmp_echo(128, 16)), 1232);
                     }});
    }
    return c;
}

outcome egress_on(std::string_view host, const mac_address& port, buffer& b, const pipeline_config& cfg = {}) {
    vector_sink sink;
    return egress(lab(host), port, b.f, sink, cfg);
}
outcome ingress_on(std::string_view host, buffer& b) {
    vector_sink sink;
    return ingress(lab(host), b.f, sink);
}

}  // namespace

TEST_CASE("datapath/rewrite: egress then ingress restores the exact frame (IPv4 and IPv6)") {
    struct ends {
        mac_address from, to;
        const char *src, *dst, *src_pa, *dst_pa;
        mac_address src_pa_mac, dst_pa_mac;
        bool v6;
    };
    for (const ends& e : {ends{vm::nat1, vm::nat2, "10.0.0.7", "10.0.0.8", "192.168.10.21", "192.168.10.22",
                               mac("02:00:c0:a8:0a:15"), mac("02:00:c0:a8:0a:16"), false},
                          ends{vm::v6nat1, vm::v6nat2, "fd00:6001::17", "fd00:6001::18", "2001:db8::21", "2001:db8::22",
                               mac("02:00:20:01:00:21"), mac("02:00:20:01:00:22"), true}}) {
        for (const auto& c : round_trip_cases(e.v6)) {
            CAPTURE(c.name);
            CAPTURE(std::string(e.src));
            const bytes sent = vm_frame(e.from, e.to, ip(e.src), ip(e.dst), c.protocol, c.make);
            buffer b(sent);
            const auto o = egress_on("hv1", e.from, b);
            REQUIRE(o.verdict == verdict::rewrite);
            CHECK(o.vsid == 6001);
            CHECK(o.pa == ip(e.dst_pa));
            CHECK(o.to.to == destination::kind::fabric);
            // On the fabric: the same packet between the PAs (quotes translated the other way
            // round), every checksum what a from-scratch computation gives.
            const bytes wire_frame = b.bytes();
            const bytes expected = vm_frame(e.src_pa_mac, e.dst_pa_mac, ip(e.src_pa), ip(e.dst_pa), c.protocol, c.make);
            CHECK(wire_frame == expected);
            CHECK(recomputed(wire_frame) == wire_frame);
            CHECK(b.f.offload.inner_l3_offset == 14);

            const auto in = ingress_on("hv2", b);
            REQUIRE(in.verdict == verdict::deliver);
            CHECK(in.vsid == 6001);
            CHECK(in.to.to == destination::kind::vm);
            CHECK(in.to.vm_mac == e.to);
            CHECK(b.bytes() == sent);  // byte for byte what the peer sent

            // And back: the reply direction, from hv2.
            const bytes reply = vm_frame(e.to, e.from, ip(e.dst), ip(e.src), c.protocol, c.make);
            buffer back(reply);
            REQUIRE(egress_on("hv2", e.to, back).verdict == verdict::rewrite);
            REQUIRE(ingress_on("hv1", back).verdict == verdict::deliver);
            CHECK(back.bytes() == reply);
        }
    }
}

TEST_CASE("datapath/rewrite: routed between subnets, and a PA on a VLAN") {
    SUBCASE("nat1 (6001) -> nat3 (6002) through the distributed router") {
        const bytes sent = vm_frame(vm::nat1, vm::router, ip("10.0.0.7"), ip("10.0.2.9"), wire::ip_protocol::tcp,
                                    [](auto&, auto&) { return tcp_segment(20); }, 30);
        buffer b(sent);
        const auto o = egress_on("hv1", vm::nat1, b);
        REQUIRE(o.verdict == verdict::rewrite);
        CHECK(o.vsid == 6002);
        CHECK(o.pa == ip("192.168.10.23"));
        const bytes expected = vm_frame(mac("02:00:c0:a8:0a:15"), mac("02:00:c0:a8:0a:17"), ip("192.168.10.21"),
                                        ip("192.168.10.23"), wire::ip_protocol::tcp, [](auto&, auto&) { return tcp_segment(20); }, 29);
        CHECK(b.bytes() == expected);
        REQUIRE(ingress_on("hv2", b).verdict == verdict::deliver);
        // The router's changes (source MAC, TTL) and nothing else.
        const bytes routed = vm_frame(vm::router, vm::nat3, ip("10.0.0.7"), ip("10.0.2.9"), wire::ip_protocol::tcp,
                                      [](auto&, auto&) { return tcp_segment(20); }, 29);
        CHECK(b.bytes() == routed);
    }
    SUBCASE("the source PA's 802.1Q tag goes on the fabric frame and comes off for the VM") {
        const bytes sent = vm_frame(vm::vlan1, vm::vlan2, ip("10.0.0.27"), ip("10.0.0.28"), wire::ip_protocol::udp,
                                    [](auto&, auto&) { return udp_datagram(40); });
        buffer b(sent);
        REQUIRE(egress_on("hv1", vm::vlan1, b).verdict == verdict::rewrite);
        const bytes out = b.bytes();
        REQUIRE(out.size() == sent.size() + 4);
        const auto eth = wire::ethernet_view::checked(out);
        REQUIRE(eth);
        REQUIRE(eth->tag_count() == 1);
        CHECK(eth->tag(0).tpid == wire::ethertype::vlan);
        CHECK(eth->tag(0).vid == 30);
        CHECK(eth->tag(0).pcp == 0);
        CHECK(eth->source() == mac("02:00:c0:a8:1e:15"));
        CHECK(eth->destination() == mac("02:00:c0:a8:1e:16"));
        CHECK(eth->ether_type() == wire::ethertype::ipv4);
        CHECK(recomputed(out) == out);
        CHECK(b.f.offload.inner_l3_offset == 18);
        CHECK(b.f.offload.inner_l4_offset == 38);
        const auto l = wire::parse_packet_layout(out);
        CHECK(l.kind == wire::frame_kind::other);
        CHECK(l.outer_vlan_id == 30);
        REQUIRE(ingress_on("hv2", b).verdict == verdict::deliver);
        CHECK(b.bytes() == sent);
    }
    SUBCASE("a VLAN tag needs 4 bytes of headroom") {
        const bytes sent = vm_frame(vm::vlan1, vm::vlan2, ip("10.0.0.27"), ip("10.0.0.28"), wire::ip_protocol::udp,
                                    [](auto&, auto&) { return udp_datagram(40); });
        buffer b(sent, 3);
        CHECK(egress_on("hv1", vm::vlan1, b).reason == drop_reason::no_headroom);
        CHECK(b.bytes() == sent);
    }
}

TEST_CASE("datapath/rewrite: checksum offload (CHECKSUM_PARTIAL) is completed in software, or left to the NIC") {
    // The VM left its UDP checksum to the NIC: the field holds the (un-complemented) pseudo-header sum.
    const bytes whole = vm_frame(vm::vlan1, vm::vlan2, ip("10.0.0.27"), ip("10.0.0.28"), wire::ip_protocol::udp,
                                 [](auto&, auto&) { return udp_datagram(40); });
    bytes sent = whole;
    const auto udp_len = static_cast<std::uint16_t>(wire::udp_header_len + 40);
    put16(sent, 40, static_cast<std::uint16_t>(checksum::pseudo_header_sum(ip("10.0.0.27"), ip("10.0.0.28"), 17, udp_len)));
    buffer b(sent);
    b.f.offload.checksum_partial = true;
    b.f.offload.checksum_start = 34;
    b.f.offload.checksum_offset = 6;
    SUBCASE("left to the NIC: the field keeps a pseudo-header sum, of the new addresses") {
        pipeline_config cfg;
        cfg.inner_checksum_by_hardware = true;
        REQUIRE(egress_on("hv1", vm::vlan1, b, cfg).verdict == verdict::rewrite);
        CHECK(b.f.offload.checksum_partial);
        CHECK(b.f.offload.checksum_start == 38);  // behind the tag now
        CHECK(get16(b.bytes(), 44) ==
              checksum::pseudo_header_sum(ip("192.168.30.21"), ip("192.168.30.22"), 17, udp_len));
        REQUIRE(ingress_on("hv2", b).verdict == verdict::deliver);
        CHECK(b.f.offload.checksum_start == 34);
        CHECK(b.bytes() == sent);
    }
    SUBCASE("completed in software (the default): a checksum valid for the PAs leaves") {
        REQUIRE(egress_on("hv1", vm::vlan1, b).verdict == verdict::rewrite);
        CHECK(!b.f.offload.checksum_partial);
        const bytes out = b.bytes();
        CHECK(l4_checksum_ok(ip("192.168.30.21"), ip("192.168.30.22"), 17, std::span<const std::byte>(out).subspan(38, udp_len)));
        REQUIRE(ingress_on("hv2", b).verdict == verdict::deliver);
        CHECK(b.bytes() == whole);  // what the VM would have sent had it computed the checksum
    }
    SUBCASE("metadata outside the frame: bad-offload, the frame as sent") {
        b.f.offload.checksum_start = static_cast<std::uint16_t>(sent.size() - 1);
        CHECK(egress_on("hv1", vm::vlan1, b).reason == drop_reason::bad_offload);
        CHECK(b.bytes() == sent);
    }
}

TEST_CASE("datapath/rewrite: a packet too big for the underlay is segmented, fragmented or answered, as if encapsulated") {
    const policy::state& hv1 = lab("hv1");
    const policy::state& hv2 = lab("hv2");
    pipeline_config cfg;
    cfg.underlay_mtu = 300;  // the IP MTU of the rewritten packet: no encapsulation overhead
    vector_sink sink;
    // blue-nat1's TCP segment of `payload` bytes to blue-nat2.
    const auto nat_tcp = [](std::size_t payload) {
        return vm_frame(vm::nat1, vm::nat2, ip("10.0.0.7"), ip("10.0.0.8"), wire::ip_protocol::tcp,
                        [payload](auto&, auto&) { return tcp_segment(payload); });
    };
    // `b` through egress on hv1 with TSO metadata: segments of `mss` bytes asked for.
    const auto with_tso = [&](buffer& b, std::uint16_t mss) {
        b.f.offload.segment_size = mss;
        return egress(hv1, vm::nat1, b.f, sink, cfg);
    };
    // Every piece leaves toward nat2's PA as plain IP and arrives at nat2 with its CAs back.
    const auto arrives = [&](const vector_sink::sent& piece, std::size_t max_ip) {
        CHECK(piece.to.to == destination::kind::fabric);
        buffer in(piece.bytes);
        CHECK(in.f.size() - wire::ethernet_header_len <= max_ip);
        const auto o = ingress(hv2, in.f, sink);
        CHECK(o.verdict == verdict::deliver);
        CHECK(o.to.vm_mac == vm::nat2);
        return in.bytes();
    };
    SUBCASE("IPv4 without DF: fragments, each rewritten") {
        const bytes sent = recomputed(ethernet(vm::nat1, vm::nat2,
                                               ip_packet(ip("10.0.0.7"), ip("10.0.0.8"), wire::ip_protocol::udp,
                                                         udp_datagram(600), 64, 0x0000)));
        buffer b(sent);
        const auto o = egress(hv1, vm::nat1, b.f, sink, cfg);
        CHECK(o.verdict == verdict::rewrite);
        CHECK(o.reason == drop_reason::none);
        CHECK(o.pa == ip("192.168.10.22"));
        REQUIRE(o.copies == 3);  // 628 bytes of IP data in 280-byte pieces
        REQUIRE(sink.out.size() == 3);
        std::size_t data = 0;
        for (const auto& piece : sink.out) {
            const auto ip4 = wire::ipv4_view::checked(std::span<const std::byte>(piece.bytes).subspan(14));
            REQUIRE(ip4);
            CHECK(ip4->source() == ipv4_address::parse("192.168.10.21").value());
            CHECK(ip4->destination() == ipv4_address::parse("192.168.10.22").value());
            CHECK(ip4->header_checksum_ok());
            data += ip4->total_len() - ip4->header_len();
        }
        CHECK(data == wire::udp_header_len + 600);
        const std::vector<vector_sink::sent> pieces = sink.out;
        for (const auto& piece : pieces) {
            const bytes got = arrives(piece, 300);
            CHECK(wire::ipv4_view::unchecked(std::span<const std::byte>(got).subspan(14)).source() ==
                  ipv4_address::parse("10.0.0.7").value());
        }
    }
    SUBCASE("IPv4 with DF: answered too big by the router, with the usable MTU") {
        const bytes sent = vm_frame(vm::nat1, vm::nat2, ip("10.0.0.7"), ip("10.0.0.8"), wire::ip_protocol::udp,
                                    [](auto&, auto&) { return udp_datagram(600); });
        buffer b(sent);
        const auto o = egress(hv1, vm::nat1, b.f, sink, cfg);
        CHECK(o.verdict == verdict::reply);
        CHECK(o.reason == drop_reason::too_big);
        CHECK(o.to.vm_mac == vm::nat1);
        const bytes answer = b.bytes();
        const auto icmp = std::span<const std::byte>(answer).subspan(34);
        CHECK(std::to_integer<int>(icmp[0]) == 3);  // destination unreachable
        CHECK(std::to_integer<int>(icmp[1]) == 4);  // fragmentation needed
        CHECK(get16(b.bytes(), 34 + 6) == 300);     // next-hop MTU: the underlay's, whole
        CHECK(sink.out.empty());
        SUBCASE("rewrite_egress alone has no one to answer: drop too-big, the frame as sent") {
            buffer c(sent);
            CHECK(rewrite_egress(hv1, c.f, *hv1.nat_record(ip("192.168.10.21")), *hv1.nat_record(ip("192.168.10.22")),
                                 cfg).reason == drop_reason::too_big);
            CHECK(c.bytes() == sent);
        }
    }
    SUBCASE("TCP with TSO metadata: segments of the VM's MSS, each rewritten with its own checksum") {
        buffer b(nat_tcp(1000));
        const auto o = with_tso(b, 250);
        CHECK(o.verdict == verdict::rewrite);
        REQUIRE(o.copies == 4);
        REQUIRE(sink.out.size() == 4);
        const std::vector<vector_sink::sent> pieces = sink.out;
        std::size_t payload = 0;
        for (const auto& piece : pieces) {
            const auto tcp = std::span<const std::byte>(piece.bytes).subspan(34);
            CHECK(l4_checksum_ok(ip("192.168.10.21"), ip("192.168.10.22"), 6, tcp));
            payload += tcp.size() - wire::tcp_min_header_len;
            const bytes got = arrives(piece, 300);
            CHECK(l4_checksum_ok(ip("10.0.0.7"), ip("10.0.0.8"), 6, std::span<const std::byte>(got).subspan(34)));
        }
        CHECK(payload == 1000);
    }
    SUBCASE("TCP with TSO metadata whose MSS does not fit: answered too big") {
        buffer b(nat_tcp(1000));
        CHECK(with_tso(b, 400).reason == drop_reason::too_big);
        CHECK(sink.out.empty());
    }
    SUBCASE("TCP with TSO metadata that fits whole: rewritten in place, a single segment") {
        buffer b(nat_tcp(100));
        const auto o = with_tso(b, 250);
        CHECK(o.verdict == verdict::rewrite);
        CHECK(o.copies == 0);
        CHECK(b.f.offload.segment_size == 0);
        CHECK(sink.out.empty());
    }
    SUBCASE("no buffer for the pieces: no-buffer, with the pieces that went") {
        sink.limit = 1;
        buffer b(nat_tcp(1000));
        const auto o = with_tso(b, 250);
        CHECK(o.verdict == verdict::rewrite);
        CHECK(o.copies == 1);
        CHECK(o.reason == drop_reason::no_buffer);
    }
    SUBCASE("no buffer at all: a drop, nothing sent") {
        sink.limit = 0;
        buffer b(nat_tcp(1000));
        const auto o = with_tso(b, 250);
        CHECK(o.verdict == verdict::drop);
        CHECK(o.reason == drop_reason::no_buffer);
        CHECK(sink.out.empty());
    }
    CHECK(sink.outstanding() == 0);  // every piece taken from the sink was sent or discarded
}

TEST_CASE("datapath/rewrite: mixed policies pick encap or rewrite per destination") {
    // One burst on hv1: nat1 holds a nat IPv4 CA and an encap IPv6 CA, nat2 likewise.
    const auto udp = [](auto&, auto&) { return udp_datagram(10); };
    struct send {
        mac_address port, to;
        const char *src, *dst;
        verdict want;
        drop_reason why;
    };
    const std::vector<send> burst = {
        {vm::nat1, vm::nat2, "10.0.0.7", "10.0.0.8", verdict::rewrite, drop_reason::none},
        {vm::nat1, vm::nat2, "fd00:6001::7", "fd00:6001::8", verdict::encap, drop_reason::none},
        {vm::web, vm::db, "10.0.0.5", "10.0.0.6", verdict::encap, drop_reason::none},
        {vm::web, vm::nat2, "10.0.0.5", "10.0.0.8", verdict::drop, drop_reason::nat_mismatch},
        {vm::nat1, vm::db, "10.0.0.7", "10.0.0.6", verdict::drop, drop_reason::nat_mismatch},
        {vm::nat1, vm::web, "10.0.0.7", "10.0.0.5", verdict::local, drop_reason::none},
        {vm::nat1, vm::nat3, "10.0.0.7", "10.0.2.9", verdict::reply, drop_reason::ttl_expired},  // sent with TTL 1, below: time exceeded
        {vm::nat1, vm::nat2, "10.0.0.7", "172.16.1.1", verdict::drop, drop_reason::nat_unsupported},
        {vm::nat1, mac("00:15:5d:00:01:40"), "10.0.0.7", "10.0.0.40", verdict::drop, drop_reason::no_next_hop},
        {vm::v6nat1, vm::v6nat2, "fd00:6001::17", "fd00:6001::18", verdict::rewrite, drop_reason::none},
    };
    std::vector<std::unique_ptr<buffer>> bufs;
    std::vector<frame> frames;
    std::vector<mac_address> ports;
    for (const auto& s : burst) {
        const bool dying = s.why == drop_reason::ttl_expired;
        bufs.push_back(std::make_unique<buffer>(
            vm_frame(s.port, dying ? vm::router : s.to, ip(s.src), ip(s.dst), wire::ip_protocol::udp, udp, dying ? 1 : 64)));
        frames.push_back(bufs.back()->f);
        ports.push_back(s.port);
    }
    std::vector<outcome> out(frames.size());
    vector_sink sink;
    context count;
    egress_burst(lab("hv1"), std::span<frame>(frames), std::span<const mac_address>(ports), std::span<outcome>(out), sink, count);
    for (std::size_t i = 0; i < burst.size(); ++i) {
        CAPTURE(i);
        CHECK(out[i].verdict == burst[i].want);
        CHECK(out[i].reason == burst[i].why);
    }
    CHECK(count.count.of(verdict::rewrite) == 2);
    CHECK(count.count.of(verdict::encap) == 2);
    CHECK(count.count.of(drop_reason::nat_mismatch) == 2);
    CHECK(out[0].pa == ip("192.168.10.22"));
    CHECK(out[1].pa == ip("192.168.10.12"));
    // The rewritten frame goes to nat2's PA as plain IP, the encapsulated one to its encap PA.
    CHECK(wire::parse_packet_layout(frames[0].bytes()).kind == wire::frame_kind::other);
    CHECK(wire::parse_packet_layout(frames[1].bytes()).kind == wire::frame_kind::nvgre);
    // Both arrive at nat2 on hv2.
    vector_sink s2;
    CHECK(ingress(lab("hv2"), frames[0], s2).to.vm_mac == vm::nat2);
    CHECK(ingress(lab("hv2"), frames[1], s2).to.vm_mac == vm::nat2);
}

TEST_CASE("datapath/rewrite: egress drops leave the frame as it was") {
    const auto udp = [](auto&, auto&) { return udp_datagram(100); };
    SUBCASE("too big for the underlay, with DF: answered (the answer replaces the frame), else as sent") {
        const bytes sent = vm_frame(vm::nat1, vm::nat2, ip("10.0.0.7"), ip("10.0.0.8"), wire::ip_protocol::udp, udp);
        buffer b(sent);
        pipeline_config cfg;
        cfg.underlay_mtu = 127;  // the IP packet is 128 bytes
        CHECK(egress_on("hv1", vm::nat1, b, cfg).verdict == verdict::reply);
        buffer c(sent);
        cfg.underlay_mtu = 128;
        CHECK(egress_on("hv1", vm::nat1, c, cfg).verdict == verdict::rewrite);
    }
    SUBCASE("a transport header too short for its checksum field") {
        bytes sent = ethernet(vm::nat1, vm::nat2, ip_packet(ip("10.0.0.7"), ip("10.0.0.8"), wire::ip_protocol::tcp, pattern(17, 9)));
        buffer b(sent);
        CHECK(egress_on("hv1", vm::nat1, b).reason == drop_reason::truncated);
        CHECK(b.bytes() == sent);
    }
    SUBCASE("an EtherType that disagrees with the IP header's version (rewrite_egress / rewrite_ingress called directly)") {
        bytes sent = vm_frame(vm::nat1, vm::nat2, ip("10.0.0.7"), ip("10.0.0.8"), wire::ip_protocol::udp, udp);
        nvgre::detail::store_be16(sent.data() + 12, wire::ethertype::ipv6);  // an IPv4 packet behind "IPv6"
        const policy::state& hv1 = lab("hv1");
        const policy::record_entry* from = hv1.nat_record(ip("192.168.10.21"));
        const policy::record_entry* to = hv1.nat_record(ip("192.168.10.22"));
        REQUIRE((from != nullptr && to != nullptr));
        buffer b(sent);
        CHECK(rewrite_egress(hv1, b.f, *from, *to).reason == drop_reason::bad_version);
        CHECK(b.bytes() == sent);
        nvgre::detail::store_be16(sent.data() + 12, wire::ethertype::arp);
        buffer arp(sent);
        CHECK(rewrite_egress(hv1, arp.f, *from, *to).reason == drop_reason::unsupported_ethertype);
        const policy::state& hv2 = lab("hv2");
        const policy::record_entry* local = hv2.nat_record(ip("192.168.10.22"));
        REQUIRE(local != nullptr);
        nvgre::detail::store_be16(sent.data() + 12, wire::ethertype::ipv6);
        buffer in(sent);
        CHECK(rewrite_ingress(hv2, in.f, *local).reason == drop_reason::bad_version);
        CHECK(in.bytes() == sent);
    }
    SUBCASE("an ICMP error quoting a third address") {
        const auto third = [](const ip_address& s, const ip_address&) {
            return icmp_error(3, 1, peer_packet(s, ip("10.0.0.99"), wire::ip_protocol::udp, udp_datagram(8)), 576);
        };
        const bytes sent = vm_frame(vm::nat1, vm::nat2, ip("10.0.0.7"), ip("10.0.0.8"), wire::ip_protocol::icmp, third);
        buffer b(sent);
        CHECK(egress_on("hv1", vm::nat1, b).reason == drop_reason::nat_unsupported);
        CHECK(b.bytes() == sent);
    }
}

TEST_CASE("datapath/rewrite: ingress anti-spoofing and what is not a rewrite packet") {
    const auto udp = [](auto&, auto&) { return udp_datagram(20); };
    const auto from_fabric = [&](const char* src_pa, const char* dst_pa) {
        return vm_frame(mac("02:00:c0:a8:0a:16"), mac("02:00:c0:a8:0a:15"), ip(src_pa), ip(dst_pa), wire::ip_protocol::udp, udp);
    };
    const auto run = [](const bytes& f, const char* host = "hv1") {
        buffer b(f);
        const auto o = ingress_on(host, b);
        if (o.verdict == verdict::drop) CHECK(b.bytes() == f);
        return o;
    };
    CHECK(run(from_fabric("192.168.10.22", "192.168.10.21")).verdict == verdict::deliver);
    // An encap PA, a PA nobody holds, this host's own nat PA: none is a remote nat VM.
    CHECK(run(from_fabric("192.168.10.12", "192.168.10.21")).reason == drop_reason::spoofed_source);
    CHECK(run(from_fabric("192.168.10.99", "192.168.10.21")).reason == drop_reason::spoofed_source);
    CHECK(run(from_fabric("192.168.10.21", "192.168.10.21")).reason == drop_reason::spoofed_source);
    // red-nat's PA, to blue's nat1: another routing domain.
    CHECK(run(from_fabric("192.168.10.29", "192.168.10.21")).reason == drop_reason::cross_domain);
    // To a nat PA of another host, or to an encap PA: not a rewrite packet.
    CHECK(run(from_fabric("192.168.10.21", "192.168.10.22")).reason == drop_reason::not_nvgre);
    CHECK(run(from_fabric("192.168.10.22", "192.168.10.11")).reason == drop_reason::not_nvgre);
    SUBCASE("outer tags other than one 802.1Q tag") {
        for (const char* tags : {"8100001e8100001f", "88a8001e"}) {
            CAPTURE(std::string(tags));
            bytes f = from_fabric("192.168.10.22", "192.168.10.21");
            const auto t = from_hex(tags);
            f.insert(f.begin() + 12, t.begin(), t.end());
            CHECK(run(f).reason == drop_reason::bad_outer_vlan);
        }
    }
    SUBCASE("malformed packets keep their wire reasons") {
        bytes cut = from_fabric("192.168.10.22", "192.168.10.21");
        cut.resize(cut.size() - 1);  // total length now lies
        CHECK(run(cut).reason == drop_reason::truncated);
        bytes tiny = ethernet(mac("02:00:c0:a8:0a:16"), mac("02:00:c0:a8:0a:15"),
                              ip_packet(ip("192.168.10.22"), ip("192.168.10.21"), wire::ip_protocol::udp, pattern(7, 1)));
        CHECK(run(tiny).reason == drop_reason::truncated);
        // GRE that breaks NVGRE's rules, from a PA that is no nat PA: the GRE reason stays.
        bytes gre = ethernet(mac("02:00:c0:a8:0a:0c"), mac("02:00:c0:a8:0a:15"),
                             ip_packet(ip("192.168.10.12"), ip("192.168.10.21"), wire::ip_protocol::gre, from_hex("0000 0800 45")));
        CHECK(run(gre).reason == drop_reason::missing_key);
    }
    SUBCASE("a tenant's own GRE between nat VMs is rewritten like any protocol") {
        const auto gre = [](auto&, auto&) { return from_hex("0000 0800 4500 0014 0000 4000 4011 0000 0a00 0001 0a00 0002"); };
        const bytes sent = vm_frame(vm::nat2, vm::nat1, ip("10.0.0.8"), ip("10.0.0.7"), wire::ip_protocol::gre, gre);
        buffer b(sent);
        REQUIRE(egress_on("hv2", vm::nat2, b).verdict == verdict::rewrite);
        REQUIRE(ingress_on("hv1", b).verdict == verdict::deliver);
        CHECK(b.bytes() == sent);
    }
    SUBCASE("valid NVGRE to a nat PA (head-end replication) is still decapsulated") {
        vector_sink sink;
        buffer b(udp_frame(vm::web, mac_address::broadcast(), ip("10.0.0.5"), ip("10.0.0.255")));
        REQUIRE(egress(lab("hv1"), vm::web, b.f, sink).verdict == verdict::flood);
        int to_nat2_pa = 0;
        for (auto& s : sink.out) {
            const auto l = wire::parse_packet_layout(s.bytes);
            if (l.kind != wire::frame_kind::nvgre) continue;
            if (ip_address{wire::ipv4_view::unchecked(std::span<const std::byte>(s.bytes).subspan(14)).destination()} !=
                ip("192.168.10.22"))
                continue;
            ++to_nat2_pa;
            buffer copy(s.bytes);
            vector_sink s2;
            const auto o = ingress(lab("hv2"), copy.f, s2);
            CHECK(o.verdict == verdict::deliver);
            CHECK(o.copies >= 1);
        }
        CHECK(to_nat2_pa == 1);
    }
}

TEST_CASE("datapath/rewrite: rewrite_ip_packet, fragments") {
    const ip_address ca_s = ip("10.0.0.7"), ca_d = ip("10.0.0.8"), pa_s = ip("192.168.10.21"), pa_d = ip("192.168.10.22");
    SUBCASE("a non-first IPv4 fragment: addresses and header checksum only") {
        bytes p = ip_packet(ca_s, ca_d, wire::ip_protocol::udp, pattern(24, 5), 64, 0x0003);  // offset 24 bytes
        recompute_packet(p);
        const bytes before = p;
        REQUIRE(rewrite_ip_packet(p, pa_s, pa_d) == drop_reason::none);
        CHECK(std::equal(p.begin() + 20, p.end(), before.begin() + 20));  // payload untouched
        auto v = wire::ipv4_view::checked(p);
        REQUIRE(v);
        CHECK(v->header_checksum_ok());
        CHECK(ip_address{v->source()} == pa_s);
        CHECK(ip_address{v->destination()} == pa_d);
    }
    SUBCASE("a first fragment: the checksum of the whole datagram, patched all the same") {
        bytes whole = ip_packet(ca_s, ca_d, wire::ip_protocol::udp, udp_datagram(64), 64, 0);
        recompute_packet(whole);
        bytes first(whole.begin(), whole.begin() + 20 + 32);  // the first 32 bytes of the datagram
        auto v = wire::mutable_ipv4_view::unchecked(first);
        v.set_total_len(52);
        v.set_more_fragments(true);
        v.fill_header_checksum();
        REQUIRE(rewrite_ip_packet(first, pa_s, pa_d) == drop_reason::none);
        bytes translated = ip_packet(pa_s, pa_d, wire::ip_protocol::udp, udp_datagram(64), 64, 0);
        recompute_packet(translated);
        CHECK(get16(first, 26) == get16(translated, 26));  // = the whole translated datagram's
        CHECK(wire::ipv4_view::unchecked(first).header_checksum_ok());
    }
    SUBCASE("IPv6 fragments") {
        const ip_address s6 = ip("fd00:6001::17"), d6 = ip("fd00:6001::18"), ps6 = ip("2001:db8::21"), pd6 = ip("2001:db8::22");
        // Fragment header: next header UDP, offset 3 (24 bytes), then bytes that are no UDP header.
        bytes frag = from_hex("11 00 0018 00000001");
        const auto data = pattern(24, 4);
        frag.insert(frag.end(), data.begin(), data.end());
        bytes p = ip_packet(s6, d6, wire::ip_protocol::ipv6_fragment, frag);
        const bytes before = p;
        REQUIRE(rewrite_ip_packet(p, ps6, pd6) == drop_reason::none);
        CHECK(std::equal(p.begin() + 40, p.end(), before.begin() + 40));
        CHECK(ip_address{wire::ipv6_view::unchecked(p).source()} == ps6);
        // A first fragment: the UDP checksum is patched.
        bytes whole = ip_packet(s6, d6, wire::ip_protocol::udp, udp_datagram(40));
        recompute_packet(whole);
        bytes first = ip_packet(s6, d6, wire::ip_protocol::ipv6_fragment, from_hex("11 00 0001 00000002"));
        first.insert(first.end(), whole.begin() + 40, whole.begin() + 40 + 24);
        put16(first, 4, 8 + 24);
        REQUIRE(rewrite_ip_packet(first, ps6, pd6) == drop_reason::none);
        bytes translated = ip_packet(ps6, pd6, wire::ip_protocol::udp, udp_datagram(40));
        recompute_packet(translated);
        CHECK(get16(first, 48 + 6) == get16(translated, 40 + 6));
        // Extension headers after the fragment header hide the transport checksum.
        bytes hidden = ip_packet(s6, d6, wire::ip_protocol::ipv6_fragment, from_hex("3c 00 0001 00000003 11 00 0000 0000 0000"));
        CHECK(rewrite_ip_packet(hidden, ps6, pd6) == drop_reason::nat_unsupported);
    }
}

TEST_CASE("datapath/rewrite: rewrite_ip_packet, checksums of every transport") {
    const ip_address s4 = ip("10.0.0.7"), d4 = ip("10.0.0.8"), ps4 = ip("192.168.10.21"), pd4 = ip("192.168.10.22");
    const ip_address s6 = ip("fd00:6001::17"), d6 = ip("fd00:6001::18"), ps6 = ip("2001:db8::21"), pd6 = ip("2001:db8::22");
    SUBCASE("a zero UDP checksum stays zero, over IPv4 (absent) and IPv6 (invalid, left to the receiver)") {
        for (const auto& [s, d, ps, pd] : {std::tuple{s4, d4, ps4, pd4}, std::tuple{s6, d6, ps6, pd6}}) {
            bytes p = ip_packet(s, d, wire::ip_protocol::udp, udp_datagram(9, true));
            recompute_packet(p);
            REQUIRE(rewrite_ip_packet(p, ps, pd) == drop_reason::none);
            CHECK(get16(p, p.size() - 9 - 2) == 0);
        }
    }
    SUBCASE("DCCP and UDP-Lite carry pseudo-header checksums at offset 6") {
        for (std::uint8_t proto : {std::uint8_t{33}, std::uint8_t{136}}) {
            for (const auto& [s, d, ps, pd] : {std::tuple{s4, d4, ps4, pd4}, std::tuple{s6, d6, ps6, pd6}}) {
                CAPTURE(int{proto});
                const auto sum_with = [&](const bytes& l4, const ip_address& a, const ip_address& b) {
                    bytes z = l4;
                    put16(z, 6, 0);
                    return checksum::finish(checksum::sum(std::span<const std::byte>(z),
                                                          checksum::pseudo_header_sum(a, b, proto, static_cast<std::uint32_t>(z.size()))));
                };
                bytes l4 = pattern(24, 6);
                put16(l4, 6, sum_with(l4, s, d));
                bytes p = ip_packet(s, d, proto, l4);
                REQUIRE(rewrite_ip_packet(p, ps, pd) == drop_reason::none);
                const std::size_t l4_at = p.size() - l4.size();
                CHECK(get16(p, l4_at + 6) == sum_with(l4, ps, pd));
            }
        }
    }
    SUBCASE("SCTP: addresses only (its CRC32c covers no address)") {
        bytes p = ip_packet(s4, d4, 132, pattern(32, 7));
        const bytes before = p;
        REQUIRE(rewrite_ip_packet(p, ps4, pd4) == drop_reason::none);
        CHECK(std::equal(p.begin() + 20, p.end(), before.begin() + 20));
    }
    SUBCASE("a pending partial checksum is moved as a sum") {
        bytes p = ip_packet(s4, d4, wire::ip_protocol::tcp, tcp_segment(10));
        put16(p, 36, static_cast<std::uint16_t>(checksum::pseudo_header_sum(s4, d4, 6, 30)));
        REQUIRE(rewrite_ip_packet(p, ps4, pd4, 36) == drop_reason::none);
        CHECK(get16(p, 36) == checksum::pseudo_header_sum(ps4, pd4, 6, 30));
    }
}

TEST_CASE("datapath/rewrite: rewrite_ip_packet refuses what it cannot translate, and leaves it unchanged") {
    const ip_address s4 = ip("10.0.0.7"), d4 = ip("10.0.0.8"), ps4 = ip("192.168.10.21"), pd4 = ip("192.168.10.22");
    const ip_address s6 = ip("fd00:6001::17"), d6 = ip("fd00:6001::18"), ps6 = ip("2001:db8::21"), pd6 = ip("2001:db8::22");
    const auto refused = [](bytes p, const ip_address& s, const ip_address& d) {
        const bytes before = p;
        const auto r = rewrite_ip_packet(p, s, d);
        CHECK(p == before);
        return r;
    };
    const auto quote4 = [&](std::size_t limit) {
        return ip_packet(s4, d4, wire::ip_protocol::icmp, icmp_error(3, 3, peer_packet(s4, d4, wire::ip_protocol::udp, udp_datagram(8)), limit));
    };
    CHECK(refused(quote4(19), ps4, pd4) == drop_reason::truncated);
    CHECK(refused(ip_packet(s4, d4, wire::ip_protocol::icmp, from_hex("030300")), ps4, pd4) == drop_reason::truncated);
    bytes options = quote4(24);
    options[28] = b8(0x46);  // the quoted header claims 24 bytes: they are there
    CHECK(rewrite_ip_packet(options, ps4, pd4) == drop_reason::none);
    bytes long_header = quote4(24);
    long_header[28] = b8(0x47);  // 28 bytes claimed, 24 quoted
    CHECK(refused(long_header, ps4, pd4) == drop_reason::truncated);
    bytes bad_ihl = quote4(28);
    bad_ihl[28] = b8(0x44);
    CHECK(refused(bad_ihl, ps4, pd4) == drop_reason::bad_header_length);
    bytes v6_inside = quote4(28);
    v6_inside[28] = b8(0x65);
    CHECK(refused(v6_inside, ps4, pd4) == drop_reason::bad_version);
    // The quote the other way round (the VM quoting its own packet) is mapped too.
    bytes own = ip_packet(s4, d4, wire::ip_protocol::icmp,
                          icmp_error(3, 3, peer_packet(d4, s4, wire::ip_protocol::udp, udp_datagram(8)), 576));
    recompute_packet(own);
    REQUIRE(rewrite_ip_packet(own, ps4, pd4) == drop_reason::none);
    CHECK(ip_address{wire::ipv4_view::unchecked(std::span<const std::byte>(own).subspan(28)).source()} == ps4);
    bytes own_recomputed = own;
    recompute_packet(own_recomputed);
    CHECK(own == own_recomputed);
    // ICMPv6 errors: quotes too short or of the other version.
    const auto quote6 = [&](std::size_t limit) {
        return ip_packet(s6, d6, wire::ip_protocol::icmpv6, icmp_error(1, 4, peer_packet(s6, d6, wire::ip_protocol::udp, udp_datagram(8)), limit));
    };
    CHECK(refused(quote6(39), ps6, pd6) == drop_reason::truncated);
    CHECK(refused(ip_packet(s6, d6, wire::ip_protocol::icmpv6, from_hex("01040000 0000")), ps6, pd6) == drop_reason::truncated);
    bytes v4_inside = quote6(48);
    v4_inside[48] = b8(0x45);
    CHECK(refused(v4_inside, ps6, pd6) == drop_reason::bad_version);
    // AH authenticates the addresses; a Routing header with segments left holds the final one.
    CHECK(refused(ip_packet(s4, d4, wire::ip_protocol::ah, pattern(24, 1)), ps4, pd4) == drop_reason::nat_unsupported);
    CHECK(refused(ip_packet(s6, d6, wire::ip_protocol::ah, from_hex("11 01 0000 00000001 00000001 0000000000000000")), ps6, pd6) ==
          drop_reason::nat_unsupported);
    bytes routing = ip_packet(s6, d6, wire::ip_protocol::ipv6_routing, from_hex("11 00 04 01 00000000"));
    CHECK(refused(routing, ps6, pd6) == drop_reason::nat_unsupported);
    bytes done = ip_packet(s6, d6, wire::ip_protocol::ipv6_routing, from_hex("11 00 04 00 00000000"));
    const auto udp = udp_datagram(4);
    done.insert(done.end(), udp.begin(), udp.end());
    put16(done, 4, static_cast<std::uint16_t>(8 + udp.size()));
    CHECK(rewrite_ip_packet(done, ps6, pd6) == drop_reason::none);
    // Addresses of the other version, a packet of no IP version.
    CHECK(refused(ip_packet(s4, d4, wire::ip_protocol::udp, udp_datagram(4)), ps6, pd6) == drop_reason::nat_unsupported);
    CHECK(refused(ip_packet(s4, d4, wire::ip_protocol::udp, udp_datagram(4)), ps4, pd6) == drop_reason::nat_unsupported);
    bytes v5 = ip_packet(s4, d4, wire::ip_protocol::udp, udp_datagram(4));
    v5[0] = b8(0x55);
    CHECK(refused(v5, ps4, pd4) == drop_reason::bad_version);
    CHECK(refused(bytes{}, ps4, pd4) == drop_reason::truncated);
}

TEST_CASE("datapath/rewrite: every prefix and random corruptions stay in bounds") {
    // Under ASan this is the bounds check; everywhere it checks that a refusal changes nothing.
    std::vector<bytes> packets;
    for (bool v6 : {false, true}) {
        const ip_address s = ip(v6 ? "fd00:6001::17" : "10.0.0.7"), d = ip(v6 ? "fd00:6001::18" : "10.0.0.8");
        for (const auto& c : round_trip_cases(v6)) {
            auto p = ip_packet(s, d, c.protocol, c.make(s, d));
            recompute_packet(p);
            packets.push_back(std::move(p));
        }
    }
    std::mt19937 rng(1624);
    int rewritten = 0, refused = 0, changed_on_refusal = 0;
    for (const auto& p : packets) {
        const bool v6 = (nvgre::detail::load_u8(p.data()) >> 4) == 6;
        const ip_address ps = ip(v6 ? "2001:db8::21" : "192.168.10.21"), pd = ip(v6 ? "2001:db8::22" : "192.168.10.22");
        std::vector<bytes> variants;
        for (std::size_t k = 0; k < p.size(); ++k) variants.emplace_back(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(k));
        for (int i = 0; i < 200; ++i) {
            bytes m = p;
            for (int j = 0, n = 1 + static_cast<int>(rng() % 4); j < n; ++j) m[rng() % m.size()] = b8(rng() & 0xff);
            variants.push_back(std::move(m));
        }
        for (auto& v : variants) {
            // Exactly sized heap copies, so that ASan sees any read past the end.
            auto exact = std::make_unique<std::byte[]>(v.size());
            std::copy(v.begin(), v.end(), exact.get());
            const std::span<std::byte> span(exact.get(), v.size());
            const auto r = rewrite_ip_packet(span, ps, pd);
            if (r == drop_reason::none) {
                ++rewritten;
            } else {
                ++refused;
                changed_on_refusal += std::equal(span.begin(), span.end(), v.begin()) ? 0 : 1;
            }
        }
    }
    CHECK(rewritten > 100);
    CHECK(refused > 100);
    CHECK(changed_on_refusal == 0);
}
