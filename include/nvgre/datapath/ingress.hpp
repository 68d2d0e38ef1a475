/// @file datapath/ingress.hpp
/// @brief The ingress pipeline: a frame arriving at this host from the fabric → a verdict
/// (docs/hnv-rules.md, ingress rules 1-6).
///
/// Per frame, in order:
///  1. valid NVGRE by every wire rule (wire::parse_packet_layout), outer destination one of
///     this host's PAs, VSID known;
///  2. anti-spoofing, within the VSID's routing domain: the record of the inner source CA (ARP
///     sender address) has PA = outer source; a source no record of the domain holds (outside
///     the tenant) must come from the PA of one of the domain's gateway-wildcard records;
///  3. unicast: delivered to the local VM of the VSID whose MAC is the inner destination MAC
///     when it holds the inner destination CA, or is the record egress rule 4 chooses for it (a
///     route's next hop, or any of the VSID's gateways); broadcast / multicast → a copy to each
///     local VM of the VSID (through the replication sink);
///  4. IP-rewrite packets (not NVGRE, a local nat PA as IP destination): PA → CA for both
///     addresses, the source PA being the nat PA of a remote VM of the domain
///     (datapath/rewrite.hpp);
///  5. the delivered frame's source MAC: the source record's MAC when switched (same VSID,
///     delivered to the destination CA's own record), the router MAC when routed; from outside
///     the tenant, the MAC of the VSID's gateway-wildcard record with the outer source PA, else
///     the router MAC. Decapsulation applies RFC 6040 (outer CE on Not-ECT inner → drop).
/// Never allocates, never throws; every drop has a reason.
#pragma once

#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/fabric_proxy.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/rewrite.hpp"
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

/// The local VM a unicast packet of `vsid` to `destination` (inner destination MAC `mac`) is
/// delivered to (rule 3), or the drop reason: the destination CA's own record in the VSID;
/// else the record egress rule 4 would choose — the next hop of the route, or a gateway of the
/// VSID whose MAC the frame carries (the flow hash aside: any of them will do). `own` tells
/// which of the two it was (rule 5: only the CA's own record is switched).
struct delivery {
    const policy::record_entry* record{nullptr};
    drop_reason reason{drop_reason::none};
    bool own{false};
};
inline delivery deliver_to(const policy::state& s, const policy::subnet_entry& sub, std::uint32_t vsid,
                           const ip_address& destination, const mac_address& mac) noexcept {
    const auto local_with_mac = [&](const policy::record_entry* r, bool own) {
        if (r == nullptr) return delivery{nullptr, drop_reason::no_record, false};
        if (!r->local) return delivery{nullptr, drop_reason::not_local_destination, false};
        if (r->mac != mac) return delivery{nullptr, drop_reason::wrong_destination_mac, false};
        return delivery{r, drop_reason::none, own};
    };
    if (const policy::record_entry* r = s.find_record_in_subnet(vsid, destination)) return local_with_mac(r, true);
    const policy::route_entry* route = s.route(sub.domain, destination);
    if (route == nullptr || route->vsid != vsid) return delivery{nullptr, drop_reason::no_record, false};
    if (!route->on_link())
        if (const policy::record_entry* hop = s.find_record_in_subnet(vsid, route->next_hop)) return local_with_mac(hop, false);
    // A gateway of the VSID: the one with the frame's MAC, else say why none will do.
    const auto gateways = s.gateway_wildcards(vsid, destination.version());
    const policy::record_entry* best = nullptr;
    for (const policy::record_id id : gateways) {
        const policy::record_entry& g = s.record(id);
        if (g.local && g.mac == mac) return delivery{&g, drop_reason::none, false};
        if (best == nullptr || (g.local && !best->local)) best = &g;
    }
    return local_with_mac(best, false);
}

}  // namespace ingress_steps

/// Runs one frame that arrived from the fabric through the ingress pipeline, given its
/// layout (`wire::parse_packet_layout(f.bytes())`, which ingress() computes). On `deliver`
/// to one VM the frame was decapsulated in place and goes to `outcome::to`; on a broadcast /
/// multicast `deliver` the copies went through `sink`. Never allocates.
template <replication_sink Sink>
outcome ingress_with_layout(const policy::state& s, frame& f, const wire::packet_layout& layout, Sink& sink,
                            const pipeline_config& cfg = {}) noexcept {
    using wire::frame_kind;
    const auto bytes = std::span<const std::byte>(f.bytes());
    if (layout.kind != frame_kind::nvgre) {
        // Rule 4: IP rewrite arrives as plain IP to a local nat PA.
        if (const policy::record_entry* to = rewrite_destination(s, bytes, layout)) return rewrite_ingress(s, f, *to);
        // An inner ARP that is not Ethernet/IPv4 or is cut short is bad-arp, as from a VM.
        if (layout.kind == frame_kind::error)
            return outcome::dropped(layout.error.where == layer::inner_arp ? drop_reason::bad_arp
                                                                           : drop_reason_of(layout.error.code));
        // The fabric port is an IP endpoint for our PAs: ARP / ND for them (datapath/fabric_proxy.hpp).
        if (auto answered = answer_provider_question(s, f, layout)) return *answered;
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

    // Rule 2: the outer source owns the inner source CA (within the VSID's routing domain), or
    // is a gateway of the domain for a source outside the tenant.
    ip_address inner_src, inner_dst;
    ingress_steps::inner_addresses(bytes, layout, inner_src, inner_dst);
    const auto inner_eth = wire::ethernet_view::unchecked(bytes.subspan(layout.inner_l2_offset));
    const mac_address inner_dst_mac = inner_eth.destination();
    const mac_address& router_mac = s.domain(sub->domain).router_mac;
    const policy::record_entry* src = s.find_record(sub->domain, inner_src);
    // Rule 5's source MAC: the source record's when switched (decided with the destination
    // below), the router's when routed; from outside the tenant, the gateway's in this VSID.
    std::optional<mac_address> source_mac;
    if (src != nullptr && src->pa == outer_src) {
        source_mac = src->vsid == vsid ? src->mac : router_mac;
    } else if (src == nullptr && s.is_gateway_pa(sub->domain, outer_src)) {
        const policy::record_entry* w = s.gateway_wildcard_with_pa(vsid, inner_src.version(), outer_src);
        source_mac = w != nullptr ? w->mac : router_mac;
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

    // Rule 6: ARP requests and neighbor solicitations through the tunnel are answered from
    // policy, back to the sender's PA, and never delivered (datapath/fabric_proxy.hpp).
    if (auto answered = answer_tunnelled_question(s, f, layout, *sub, outer_src, outer_dst, cfg)) return *answered;

    // Rule 3: where it goes.
    const policy::record_entry* dest = nullptr;
    if (!inner_dst_mac.is_multicast()) {
        if (layout.inner_l3 == wire::l3_kind::arp) return outcome::dropped(drop_reason::unsupported, vsid);
        const auto to = ingress_steps::deliver_to(s, *sub, vsid, inner_dst, inner_dst_mac);
        if (to.record == nullptr) return outcome::dropped(to.reason, vsid);
        dest = to.record;
        // Rule 5: delivered through a next hop or to a gateway is routed, whatever the VSIDs.
        if (!to.own && src != nullptr) source_mac = router_mac;
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

namespace ingress_fast {

// ingress_burst's fast path: the common frame — valid NVGRE to a local PA, unicast IPv4/IPv6
// inside, its source CA's record (rule encap) on the outer source PA, its destination a local
// VM of the same VSID (rule encap) with the inner destination MAC — decided in passes over the
// burst so that the cache misses of the 2 lookups per frame overlap. Any other frame (floods,
// ARP, wildcard or link-local sources, IP rewrite, drops) goes to ingress_with_layout()
// untouched: nothing is written before the fast path is sure of the outcome.

/// What the first pass found for a frame.
struct plan {
    ip_address outer_source;
    std::uint32_t vsid{0};
    std::uint32_t domain{0};
};

/// First pass: true if the frame with layout `l` is a candidate; `keys[0]` and `keys[1]` are
/// then its source and destination records' keys. Reads only.
inline bool plan_unicast(const policy::state& s, std::span<const std::byte> bytes, const wire::packet_layout& l,
                         plan& pl, policy::ca_key* keys) noexcept {
    if (l.kind != wire::frame_kind::nvgre || (l.inner_l3 != wire::l3_kind::ipv4 && l.inner_l3 != wire::l3_kind::ipv6) ||
        (nvgre::detail::load_u8(bytes.data() + l.inner_l2_offset) & 0x01u) != 0)
        return false;
    // ICMPv6 may be a unicast neighbor solicitation (unreachability detection): rule 6 answers it.
    if (l.inner_l3 == wire::l3_kind::ipv6 && l.inner_protocol == wire::ip_protocol::icmpv6) return false;
    ip_address outer_dst;
    ingress_steps::outer_addresses(bytes, l, pl.outer_source, outer_dst);
    if (!s.is_local_pa(outer_dst)) return false;
    const policy::subnet_entry* sub = s.subnet(l.vsid_bits());
    if (sub == nullptr) return false;
    pl.vsid = l.vsid_bits();
    pl.domain = sub->domain;
    keys[0].scope = keys[1].scope = sub->domain;
    ingress_steps::inner_addresses(bytes, l, keys[0].address, keys[1].address);
    return true;
}

/// Last pass: the outcome ingress_with_layout() gives a planned frame whose source and
/// destination records are `src` and `dest`, with the frame changed as it changes it; false
/// (frame untouched) when ingress_with_layout() must decide.
inline bool finish_unicast(const policy::state& s, frame& f, const wire::packet_layout& l, const plan& pl,
                           const policy::record_ref* src, const policy::record_ref* dest, outcome& o) noexcept {
    if (src == nullptr || src->rule != policy::rule::encap || !same_address(s.provider_at(src->provider).pa, pl.outer_source))
        return false;
    if (dest == nullptr || dest->vsid != pl.vsid || !dest->local || dest->rule != policy::rule::encap ||
        mac_address::from_bytes(f.bytes().subspan(l.inner_l2_offset, 6)) != dest->mac)
        return false;
    const mac_address& source_mac = src->vsid == pl.vsid ? src->mac : s.domain(pl.domain).router_mac;
    // decapsulate(f, l, info) without the decap_info nobody reads here.
    if (error e; !nvgre::detail::decap_frame(f, l, e)) {
        o = outcome::dropped(drop_reason_of(e.code), pl.vsid);
        return true;
    }
    source_mac.to_bytes(f.bytes().subspan(6, 6));
    o = outcome{};
    o.verdict = verdict::deliver;
    o.vsid = pl.vsid;
    o.to = destination{destination::kind::vm, dest->mac};
    return true;
}

}  // namespace ingress_fast

/// Runs a burst through ingress, with the outcomes ingress() gives each frame, counted. Every
/// frame is parsed first; the common frame (unicast NVGRE to a local VM) is then decided in
/// passes — the source and destination lookups of the whole burst (hash all, prefetch all,
/// then probe: one cache line each), then the frames — so that their cache misses overlap;
/// every other frame goes through ingress_with_layout().
/// `frames` and `out` should have the same size; if they do not, only the first min(sizes)
/// frames are decided (nothing past either span is read or written) and that number is
/// returned. Never allocates.
template <replication_sink Sink>
std::size_t ingress_burst(const policy::state& s, std::span<frame> frames, std::span<outcome> out, Sink& sink,
                          counters& count, const pipeline_config& cfg = {}) noexcept {
    const std::size_t decided = std::min(frames.size(), out.size());
    frames = frames.first(decided);
    constexpr std::size_t chunk = 32;
    wire::packet_layout layouts[chunk];
    ingress_fast::plan plans[chunk];
    policy::ca_key keys[2 * chunk];
    const policy::record_ref* refs[2 * chunk];
    std::uint8_t planned[chunk];  // planned[k]: the frame of keys[2k], keys[2k + 1]
    for (std::size_t base = 0; base < frames.size(); base += chunk) {
        const std::size_t n = std::min(chunk, frames.size() - base);
        std::size_t k = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const auto bytes = std::span<const std::byte>(frames[base + i].bytes());
            // Placement new of the prvalue: built in place (a copy would be read back with
            // wider loads than the stores that wrote it: store-forwarding stalls).
            ::new (static_cast<void*>(&layouts[i])) wire::packet_layout(wire::parse_packet_layout(bytes));
            if (ingress_fast::plan_unicast(s, bytes, layouts[i], plans[k], &keys[2 * k])) planned[k++] = static_cast<std::uint8_t>(i);
        }
        s.find_refs_batch(std::span<const policy::ca_key>(keys, 2 * k), std::span<const policy::record_ref*>(refs, 2 * k));
        std::size_t j = 0;
        for (std::size_t i = 0; i < n; ++i) {
            outcome& o = out[base + i];
            bool done = false;
            if (j < k && planned[j] == i) {
                done = ingress_fast::finish_unicast(s, frames[base + i], layouts[i], plans[j], refs[2 * j], refs[2 * j + 1], o);
                ++j;
            }
            if (!done) o = ingress_with_layout(s, frames[base + i], layouts[i], sink, cfg);
            count.count(o);
        }
    }
    return decided;
}

}  // namespace nvgre::datapath
