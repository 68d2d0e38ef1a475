// libFuzzer target: the ingress pipeline (frames arriving from the fabric) of each host of the
// fixed policy examples/policies/two-tenants.policy (hv1, hv2, hv3; red and blue with the same
// addresses, IPv6, a distributed router, a gateway-wildcard record, and IP-rewrite records, so
// the IP-rewrite ingress path runs too). Every input is run through all three hosts. Asserts:
//   - the verdict is deliver, reply or drop; a drop names its reason, a delivery has none;
//   - a reply (ARP/ND for a PA of this host, or ingress rule 6's answer through the tunnel)
//     goes back to the fabric: a plain answer from one of this host's PA MACs, or NVGRE from
//     one of this host's PAs to the outcome's PA in the outcome's VSID;
//   - the frame stays inside its buffer, copies went through the sink's own buffers;
//   - a unicast delivery goes to a VM port of this host, in the frame's VSID, whose MAC is
//     the delivered frame's destination; a broadcast / multicast delivery only to VM ports of
//     that VSID; never to a VM of another routing domain;
//   - anti-spoofing: an NVGRE frame is delivered only when its outer source PA owns the inner
//     source CA in the VSID's routing domain (or, for a source outside the tenant, holds one of
//     the domain's gateway-wildcard records, or it is
//     link-scope multicast from a host of that VSID); an IP-rewrite packet only from the nat
//     PA of a VM of the destination's routing domain.
// Checksum verification stays on: the seeds carry valid outer IPv4 and GRE checksums.
#include "fuzz_support.hpp"

#include "nvgre/datapath/ingress.hpp"
#include "nvgre/wire/arp.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

using namespace nvgre;
using namespace nvgre::datapath;

namespace {

struct addresses {
    ip_address source, destination;
};

/// The outer and inner IP addresses of a frame the layout classified NVGRE.
addresses outer_of(std::span<const std::byte> b, const wire::packet_layout& l) {
    const auto l3 = b.subspan(l.outer_l3_offset);
    if (l.outer_l3 == wire::l3_kind::ipv4) {
        const auto ip = wire::ipv4_view::unchecked(l3);
        return {ip.source(), ip.destination()};
    }
    const auto ip = wire::ipv6_view::unchecked(l3);
    return {ip.source(), ip.destination()};
}
std::optional<addresses> inner_of(std::span<const std::byte> b, const wire::packet_layout& l) {
    const auto l3 = b.subspan(l.inner_l3_offset);
    switch (l.inner_l3) {
        case wire::l3_kind::ipv4: {
            const auto ip = wire::ipv4_view::unchecked(l3);
            return addresses{ip.source(), ip.destination()};
        }
        case wire::l3_kind::ipv6: {
            const auto ip = wire::ipv6_view::unchecked(l3);
            return addresses{ip.source(), ip.destination()};
        }
        case wire::l3_kind::arp: {
            const auto arp = wire::arp_view::unchecked(l3);
            return addresses{arp.sender_ip(), arp.target_ip()};
        }
        default: return std::nullopt;
    }
}

/// The IP addresses of a plain (not NVGRE) IPv4/IPv6 frame, if its header holds them.
std::optional<addresses> plain_ip_of(std::span<const std::byte> b) {
    auto eth = wire::ethernet_view::checked(b);
    if (!eth) return std::nullopt;
    if (eth->ether_type() == wire::ethertype::ipv4) {
        auto ip = wire::ipv4_view::checked(eth->payload());
        if (!ip) return std::nullopt;
        return addresses{ip->source(), ip->destination()};
    }
    if (eth->ether_type() == wire::ethertype::ipv6) {
        auto ip = wire::ipv6_view::checked(eth->payload());
        if (!ip) return std::nullopt;
        return addresses{ip->source(), ip->destination()};
    }
    return std::nullopt;
}

void check_delivery_source(const policy::state& s, std::span<const std::byte> input, const wire::packet_layout& l,
                           std::uint32_t vsid, const rdid& domain, bool multicast) {
    if (l.kind == wire::frame_kind::nvgre) {
        NVGRE_FUZZ_CHECK(l.vsid_bits() == vsid);
        const auto outer = outer_of(input, l);
        NVGRE_FUZZ_CHECK(s.is_local_pa(outer.destination));
        const auto inner = inner_of(input, l);
        NVGRE_FUZZ_CHECK(inner.has_value());
        const policy::subnet_entry* sub = s.subnet(vsid);
        const policy::record_entry* r = s.find_record(sub->domain, inner->source);
        const bool owner = r != nullptr && r->pa == outer.source;
        // A source outside the tenant (no record in the domain) only from a gateway's PA.
        const bool wildcard = r == nullptr && s.is_gateway_pa(sub->domain, outer.source);
        const bool link_scope = multicast && inner->source.is_v6() &&
                                (inner->source.v6().is_link_local() || inner->source.v6().is_unspecified()) &&
                                std::any_of(sub->remote_pas.begin(), sub->remote_pas.end(),
                                            [&](const policy::flood_pa& p) { return p.pa == outer.source; });
        NVGRE_FUZZ_CHECK(owner || wildcard || link_scope);
        return;
    }
    // IP rewrite: a plain IP packet between two nat PAs of one routing domain.
    const auto ip = plain_ip_of(input);
    NVGRE_FUZZ_CHECK(ip.has_value());
    const policy::record_entry* from = s.nat_record(ip->source);
    const policy::record_entry* to = s.nat_record(ip->destination);
    NVGRE_FUZZ_CHECK(from != nullptr && to != nullptr);
    NVGRE_FUZZ_CHECK(to->local && s.is_local_pa(ip->destination));
    NVGRE_FUZZ_CHECK(s.domain(from->domain).id == domain && s.domain(to->domain).id == domain);
}

void run(const policy::state& s, std::span<const std::byte> input, const wire::packet_layout& layout) {
    fuzz::framed fr(input, recommended_headroom, 16);
    fuzz::pool_sink sink;
    const outcome o = ingress(s, fr.f, sink);
    fuzz::check_outcome_reason(o);
    NVGRE_FUZZ_CHECK(fr.intact());
    NVGRE_FUZZ_CHECK(o.verdict == verdict::deliver || o.verdict == verdict::reply || o.verdict == verdict::drop);
    for (const auto& sent : sink.out) NVGRE_FUZZ_CHECK(sent.intact && sent.to.to == destination::kind::vm);
    if (o.verdict == verdict::drop) return;
    if (o.verdict == verdict::reply) {
        NVGRE_FUZZ_CHECK(o.to.to == destination::kind::fabric && sink.out.empty());
        const auto out = std::span<const std::byte>(fr.f.bytes());
        const auto l = wire::parse_packet_layout(out);
        if (o.vsid == 0) {
            // An answer for one of our PAs: from that PA's MAC.
            auto eth = wire::ethernet_view::checked(out);
            NVGRE_FUZZ_CHECK(eth.has_value());
            bool ours = false;
            for (const std::uint32_t i : s.local_pa_indices()) ours = ours || s.provider_at(i).mac == eth->source();
            NVGRE_FUZZ_CHECK(ours);
        } else {
            NVGRE_FUZZ_CHECK(l.kind == wire::frame_kind::nvgre && l.vsid_bits() == o.vsid);
            const auto outer = outer_of(out, l);
            NVGRE_FUZZ_CHECK(s.is_local_pa(outer.source) && outer.destination == o.pa);
        }
        return;
    }

    const rdid* domain = fuzz::domain_of(s, o.vsid);
    NVGRE_FUZZ_CHECK(domain != nullptr);
    const bool multicast = o.copies != 0 || !sink.out.empty();
    check_delivery_source(s, input, layout, o.vsid, *domain, multicast);
    if (!multicast) {
        // Unicast: to one VM port of this host, in the frame's VSID and routing domain.
        NVGRE_FUZZ_CHECK(o.to.to == destination::kind::vm);
        const policy::local_port* port = s.port(o.to.vm_mac);
        NVGRE_FUZZ_CHECK(port != nullptr && port->vsid == o.vsid);
        NVGRE_FUZZ_CHECK(*fuzz::domain_of_port(s, o.to.vm_mac) == *domain);
        auto eth = wire::ethernet_view::checked(fr.f.bytes());
        NVGRE_FUZZ_CHECK(eth.has_value() && eth->tag_count() == 0);
        NVGRE_FUZZ_CHECK(eth->destination() == o.to.vm_mac);
        return;
    }
    // Broadcast / multicast: one copy per local VM of the VSID, each the same frame.
    NVGRE_FUZZ_CHECK(o.copies == sink.out.size());
    const policy::subnet_entry* sub = s.subnet(o.vsid);
    for (const auto& sent : sink.out) {
        const policy::local_port* port = s.port(sent.to.vm_mac);
        NVGRE_FUZZ_CHECK(port != nullptr && port->vsid == o.vsid);
        NVGRE_FUZZ_CHECK(std::any_of(sub->local_macs.begin(), sub->local_macs.end(),
                                     [&](const policy::flood_mac& m) { return m.mac == sent.to.vm_mac; }));
        NVGRE_FUZZ_CHECK(sent.bytes == sink.out.front().bytes);
        auto eth = wire::ethernet_view::checked(std::span<const std::byte>(sent.bytes));
        NVGRE_FUZZ_CHECK(eth.has_value() && eth->destination().is_multicast());
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    static_cast<void>(fuzz::hnv::get());
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = fuzz::bytes_of(data, size);
    const auto layout = wire::parse_packet_layout(input);
    for (const policy::state& s : fuzz::hnv::get().hosts) run(s, input, layout);
    return 0;
}
