/// @file datapath/ingress.hpp
/// @brief The ingress pipeline: a frame arriving at this host from the fabric → a verdict
/// (DESIGN.md, "HNV policy semantics", Ingress rules 1-5).
///
/// Per frame, in order:
///  1. valid NVGRE by every wire rule (wire::parse_packet_layout), outer destination one of
///     this host's PAs, VSID known;
///  2. anti-spoofing: the record of the inner source CA (ARP sender address) in the VSID's
///     routing domain — or the VSID's gateway-wildcard record — has PA = outer source;
///  3. unicast: the record of (VSID, inner destination CA) is local, with MAC = inner
///     destination MAC → delivered to that VM; broadcast / multicast → a copy to each local VM
///     of the VSID (through the replication sink);
///  4. IP-rewrite packets (a local nat PA as outer destination): nat-unsupported until issue 8;
///  5. the delivered frame's source MAC is the source record's MAC (the router MAC when the
///     VSIDs differ); decapsulation applies RFC 6040 (outer CE on Not-ECT inner → drop).
/// Never allocates, never throws; every drop has a reason.
#pragma once

#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/policy/state.hpp"
#include "nvgre/wire/arp.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::datapath {

namespace ingress_steps {

/// Outer source and destination of a frame whose layout has an IP outer header.
inline void outer_addresses(std::span<const std::byte> bytes, const wire::packet_layout& l, ip_address& source,
                            ip_address& destination) noexcept {
    const auto l3 = bytes.subspan(l.outer_l3_offset);
    if (l.outer_l3 == wire::l3_kind::ipv4) {
        const auto ip = wire::ipv4_view::unchecked(l3);
        source = ip.source();
        destination = ip.destination();
    } else {
        const auto ip = wire::ipv6_view::unchecked(l3);
        source = ip.source();
        destination = ip.destination();
    }
}

/// Inner source and destination addresses (ARP: sender and target). Precondition: the layout
/// validated the inner L3 header (kind nvgre).
inline void inner_addresses(std::span<const std::byte> bytes, const wire::packet_layout& l, ip_address& source,
                            ip_address& destination) noexcept {
    const auto l3 = bytes.subspan(l.inner_l3_offset);
    switch (l.inner_l3) {
        case wire::l3_kind::ipv4: {
            const auto ip = wire::ipv4_view::unchecked(l3);
            source = ip.source();
            destination = ip.destination();
            break;
        }
        case wire::l3_kind::ipv6: {
            const auto ip = wire::ipv6_view::unchecked(l3);
            source = ip.source();
            destination = ip.destination();
            break;
        }
        default: {
            const auto arp = wire::arp_view::unchecked(l3);
            source = arp.sender_ip();
            destination = arp.target_ip();
            break;
        }
    }
}

}  // namespace ingress_steps

/// Runs one frame that arrived from the fabric through the ingress pipeline, given its
/// layout (`wire::parse_packet_layout(f.bytes())`, which ingress() computes). On `deliver`
/// to one VM the frame was decapsulated in place and goes to `outcome::to`; on a broadcast /
/// multicast `deliver` the copies went through `sink`. Never allocates.
template <replication_sink Sink>
outcome ingress_with_layout(const policy::state& s, frame& f, const wire::packet_layout& layout, Sink& sink,
                            const pipeline_config& = {}) noexcept {
    using wire::frame_kind;
    const auto bytes = std::span<const std::byte>(f.bytes());
    if (layout.kind == frame_kind::error) return outcome::dropped(drop_reason_of(layout.error.code));
    if (layout.kind == frame_kind::other) {
        // IP rewrite arrives as plain IP to a local nat PA (issue 8).
        if (layout.outer_l3 == wire::l3_kind::ipv4 || layout.outer_l3 == wire::l3_kind::ipv6) {
            ip_address src, dst;
            ingress_steps::outer_addresses(bytes, layout, src, dst);
            if (s.nat_record(dst) != nullptr && s.is_local_pa(dst)) return outcome::dropped(drop_reason::nat_unsupported);
        }
        return outcome::dropped(drop_reason::not_nvgre);
    }

    // Rule 1: to one of our PAs, a VSID we know.
    ip_address outer_src, outer_dst;
    ingress_steps::outer_addresses(bytes, layout, outer_src, outer_dst);
    if (!s.is_local_pa(outer_dst)) return outcome::dropped(drop_reason::not_local_pa);
    const std::uint32_t vsid = layout.vsid_bits();
    const policy::subnet_entry* sub = s.subnet(vsid);
    if (sub == nullptr) return outcome::dropped(drop_reason::unknown_vsid, vsid);
    if (layout.inner_l3 != wire::l3_kind::ipv4 && layout.inner_l3 != wire::l3_kind::ipv6 &&
        layout.inner_l3 != wire::l3_kind::arp)
        return outcome::dropped(drop_reason::unsupported_ethertype, vsid);

    // Rule 2: the outer source owns the inner source CA (within the VSID's routing domain).
    ip_address inner_src, inner_dst;
    ingress_steps::inner_addresses(bytes, layout, inner_src, inner_dst);
    const auto inner_eth = wire::ethernet_view::unchecked(bytes.subspan(layout.inner_l2_offset));
    const mac_address inner_dst_mac = inner_eth.destination();
    std::optional<mac_address> source_mac;
    if (const policy::record_entry* r = s.find_record(sub->domain, inner_src); r != nullptr && r->pa == outer_src) {
        source_mac = r->vsid == vsid ? r->mac : s.domain(sub->domain).router_mac;
    } else if (const policy::record_entry* w = s.gateway_wildcard(vsid, inner_src.version());
               w != nullptr && w->pa == outer_src) {
        source_mac = w->mac;
    } else if (inner_src.is_v6() && (inner_src.v6().is_link_local() || inner_src.v6().is_unspecified()) &&
               inner_dst_mac.is_multicast() &&
               std::any_of(sub->remote_pas.begin(), sub->remote_pas.end(),
                           [&](const policy::flood_pa& p) { return p.pa == outer_src; })) {
        // Link-scope multicast (e.g. MLD, also from :: while a VM's link-local address is
        // tentative) from a host that runs VMs of this subnet: no CA to check; its source MAC
        // stays as sent.
    } else {
        return outcome::dropped(drop_reason::spoofed_source, vsid);
    }

    // Rule 3: where it goes.
    const policy::record_entry* dest = nullptr;
    if (!inner_dst_mac.is_multicast()) {
        if (layout.inner_l3 == wire::l3_kind::arp) return outcome::dropped(drop_reason::unsupported, vsid);
        dest = s.find_record_in_subnet(vsid, inner_dst);
        if (dest == nullptr) return outcome::dropped(drop_reason::no_record, vsid);
        if (!dest->local) return outcome::dropped(drop_reason::not_local_destination, vsid);
        if (dest->mac != inner_dst_mac) return outcome::dropped(drop_reason::wrong_destination_mac, vsid);
    } else if (sub->local_macs.empty()) {
        return outcome::dropped(drop_reason::not_local_destination, vsid);
    }

    // Decapsulate (RFC 6040 ECN), then fix the source MAC (rule 5).
    decap_info info;
    if (auto d = decapsulate(f, layout, info); !d) return outcome::dropped(drop_reason_of(d.error().code), vsid);
    auto eth = wire::mutable_ethernet_view::unchecked(f.bytes());
    if (source_mac) eth.set_source(*source_mac);

    outcome o;
    o.verdict = verdict::deliver;
    o.vsid = vsid;
    if (dest != nullptr) {
        o.to = destination{destination::kind::vm, dest->mac};
        return o;
    }
    const auto inner = std::span<const std::byte>(f.bytes());
    for (const policy::flood_mac& local : sub->local_macs) {
        frame* copy = sink.copy(inner, 0);
        if (copy == nullptr) return outcome::dropped(drop_reason::no_buffer, vsid);
        sink.send(*copy, destination{destination::kind::vm, local.mac});
        ++o.copies;
    }
    return o;
}

/// Runs one frame from the fabric through the ingress pipeline (see ingress_with_layout).
template <replication_sink Sink>
outcome ingress(const policy::state& s, frame& f, Sink& sink, const pipeline_config& cfg = {}) noexcept {
    const auto layout = wire::parse_packet_layout(f.bytes());
    return ingress_with_layout(s, f, layout, sink, cfg);
}

/// Runs a burst through ingress: every frame is parsed and its anti-spoofing record slot
/// prefetched first (hash all, prefetch all), then each is processed; outcomes are counted.
/// Preconditions: `frames` and `out` have the same size.
template <replication_sink Sink>
void ingress_burst(const policy::state& s, std::span<frame> frames, std::span<outcome> out, Sink& sink,
                   counters& count, const pipeline_config& cfg = {}) noexcept {
    constexpr std::size_t chunk = 32;
    wire::packet_layout layouts[chunk];
    for (std::size_t base = 0; base < frames.size(); base += chunk) {
        const std::size_t n = std::min(chunk, frames.size() - base);
        for (std::size_t i = 0; i < n; ++i) {
            const auto bytes = std::span<const std::byte>(frames[base + i].bytes());
            layouts[i] = wire::parse_packet_layout(bytes);
            if (layouts[i].kind != wire::frame_kind::nvgre) continue;
            const policy::subnet_entry* sub = s.subnet(layouts[i].vsid_bits());
            if (sub == nullptr || layouts[i].inner_l3 == wire::l3_kind::other) continue;
            ip_address src, dst;
            ingress_steps::inner_addresses(bytes, layouts[i], src, dst);
            s.prefetch_record(sub->domain, src);
        }
        for (std::size_t i = 0; i < n; ++i) {
            out[base + i] = ingress_with_layout(s, frames[base + i], layouts[i], sink, cfg);
            count.count(out[base + i]);
        }
    }
}

}  // namespace nvgre::datapath
