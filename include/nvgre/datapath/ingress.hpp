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

#include "nvgre/datapath/context.hpp"
#include "nvgre/datapath/egress.hpp"
#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/fabric_proxy.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/rewrite.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/detail/burst_storage.hpp"
#include "nvgre/policy/snapshot.hpp"
#include "nvgre/wire/arp.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace nvgre::datapath {

namespace detail::ingress_steps {

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
/// delivered to (rule 3), or the drop reason, given `found` (the CA index's answer for
/// `destination` in the VSID's domain): the destination CA's own record in the VSID; else the
/// record egress rule 4 would choose — the next hop of the route, or a gateway of the VSID whose
/// MAC the frame carries (the flow hash aside: any of them will do). `own` tells which of the
/// two it was (rule 5: only the CA's own record is switched).
struct delivery {
    policy::record_ref record;
    drop_reason reason{drop_reason::none};
    bool own{false};
};
/// deliver_to's answer once the record to deliver to is known (nullptr: none).
inline delivery local_with_mac(const policy::record_ref* r, const mac_address& mac, bool own) noexcept {
    if (r == nullptr) return delivery{{}, drop_reason::no_record, false};
    if (!r->local) return delivery{{}, drop_reason::not_local_destination, false};
    if (r->mac != mac) return delivery{{}, drop_reason::wrong_destination_mac, false};
    return delivery{*r, drop_reason::none, own};
}
/// deliver_to for a destination CA without a record of its own in the VSID (kept out of line:
/// the common frame's destination has one).
[[gnu::noinline]] inline delivery deliver_to_other(const policy::snapshot& s, const policy::subnet_entry& sub,
                                                   std::uint32_t vsid, const ip_address& destination,
                                                   const mac_address& mac) noexcept {
    const policy::route_entry* route = s.route(sub.domain, destination);
    if (route == nullptr || route->vsid != vsid) return delivery{{}, drop_reason::no_record, false};
    if (!route->on_link())
        if (const policy::record_ref* hop = s.find_ref(sub.domain, route->next_hop); hop != nullptr && hop->vsid == vsid)
            return local_with_mac(hop, mac, false);
    // A gateway of the VSID: the one with the frame's MAC, else say why none will do.
    const auto gateways = s.gateway_wildcards(vsid, destination.version());
    const policy::record_entry* best = nullptr;
    for (const policy::record_id id : gateways) {
        const policy::record_entry& g = s.record(id);
        if (g.local && g.mac == mac) return delivery{s.ref_of(id), drop_reason::none, false};
        if (best == nullptr || (g.local && !best->local)) best = &g;
    }
    if (best == nullptr) return local_with_mac(nullptr, mac, false);
    const policy::record_ref chosen = s.ref_of(s.id_of(*best));
    return local_with_mac(&chosen, mac, false);
}
inline delivery deliver_to(const policy::snapshot& s, const policy::subnet_entry& sub, std::uint32_t vsid,
                           const policy::record_ref* found, const ip_address& destination,
                           const mac_address& mac) noexcept {
    if (found != nullptr && found->vsid == vsid) return local_with_mac(found, mac, true);
    return deliver_to_other(s, sub, vsid, destination, mac);
}

/// What ingress's first stage (plan_frame) found for a frame.
enum class ingress_step : std::uint8_t {
    drop,       ///< dropped for `reason`
    not_nvgre,  ///< IP rewrite, a question to a PA, or a drop (rule 4)
    nvgre,      ///< NVGRE to a local PA and a known VSID: rules 2, 3, 5 and 6 with its records
};

/// The first stage of ingress for one frame (rule 1 and the keys of rule 2's and rule 3's
/// records). Reads the frame and its layout; changes nothing, so a burst plans every frame
/// first and then looks up all their records at once.
struct ingress_plan {
    ingress_step step{ingress_step::drop};
    drop_reason reason{drop_reason::none};
    std::uint32_t vsid{0};
    const policy::subnet_entry* sub{nullptr};
    ip_address outer_source;
    ip_address outer_destination;
    /// The inner source's and destination's keys (ARP: sender and target), in the VSID's domain.
    std::array<policy::ca_key, 2> keys{};
};

/// Stage 1 of ingress for frame bytes `bytes` with layout `l`.
inline ingress_plan plan_frame(const policy::snapshot& s, std::span<const std::byte> bytes,
                               const wire::packet_layout& l) noexcept {
    ingress_plan p;
    if (l.kind != wire::frame_kind::nvgre) {
        p.step = ingress_step::not_nvgre;
        return p;
    }
    // Rule 1: to one of our PAs, a VSID we know.
    outer_addresses(bytes, l, p.outer_source, p.outer_destination);
    if (!s.is_local_pa(p.outer_destination)) {
        p.reason = drop_reason::not_local_pa;
        return p;
    }
    p.vsid = l.vsid_bits();
    p.sub = s.subnet(p.vsid);
    if (p.sub == nullptr) {
        p.reason = drop_reason::unknown_vsid;
        return p;
    }
    if (l.inner_l3 != wire::l3_kind::ipv4 && l.inner_l3 != wire::l3_kind::ipv6 && l.inner_l3 != wire::l3_kind::arp) {
        p.reason = drop_reason::unsupported_ethertype;
        return p;
    }
    p.step = ingress_step::nvgre;
    p.keys[0].scope = p.keys[1].scope = p.sub->domain;
    inner_addresses(bytes, l, p.keys[0].address, p.keys[1].address);
    return p;
}

/// The grace window of a moved VM on its old host (docs/policy-lifecycle.md): a unicast frame
/// that decide() dropped not-local-destination, `dropped`, may be for a VM that moved away; then
/// it goes on, decapsulated and encapsulated again from the PA the VM moved from (one of ours)
/// to its record's new PA: verdict `encap`, as egress gives. Otherwise `dropped` stands. The
/// callers ask only when a window is open (snapshot::any_moved), after decide(), so the common
/// frame's path does not carry it; the frame is as it arrived (the drop comes before decap).
template <replication_sink Sink>
[[gnu::noinline]] outcome forward_moved(const policy::snapshot& s, frame& f, const wire::packet_layout& layout,
                                        const ingress_plan& p, const outcome& dropped, Sink& sink,
                                        const pipeline_config& cfg) noexcept {
    if (p.step != ingress_step::nvgre) return dropped;
    const auto bytes = std::span<const std::byte>(f.bytes());
    if (wire::ethernet_view::unchecked(bytes.subspan(layout.inner_l2_offset)).destination().is_multicast()) return dropped;
    const policy::record_ref* dest = s.find_ref(p.keys[1].scope, p.keys[1].address);
    if (dest == nullptr || dest->vsid != p.vsid || dest->local) return dropped;
    const policy::snapshot::moved_record* m = s.moved(dest->id);
    if (m == nullptr || !s.is_local_pa(s.provider_at(m->previous).pa)) return dropped;
    // Never back to where it came from: two hosts that each think the VM moved to the other
    // (two moves in flight, applied in different orders) would pass a frame to and fro.
    if (s.provider_at(dest->provider).pa == p.outer_source) return dropped;
    const std::uint32_t vsid = p.vsid;
    drop_reason why = drop_reason::none;
    const packet::compiled_header* h = egress_steps::path_between(s, m->previous, dest->provider, why);
    if (h == nullptr) return outcome::dropped(why, vsid);
    if (error e; !nvgre::detail::decap_frame(f, layout, e)) return outcome::dropped(drop_reason_of(e.code), vsid);
    const egress_steps::encap_decision d = egress_steps::decide_encap(s, f, m->previous, dest->provider, *h, vsid, cfg);
    // It came over the fabric whole; only a longer path (an outer VLAN tag, IPv6) can make it
    // too big, and the sender is behind another host: no answer to give it.
    if (d.size.action == oversize_action::answer) return outcome::dropped(drop_reason::too_big, vsid);
    return egress_steps::encap_as_decided(f, d, sink, cfg);
}

/// True when `dest` (the destination CA's record) is a VM that moved here from PA
/// `outer_source` and is in its grace window: its old host forwards what still arrives there.
[[gnu::noinline]] inline bool accepts_moved(const policy::snapshot& s, const policy::record_ref* dest,
                                            const ip_address& outer_source) noexcept {
    if (dest == nullptr || !dest->local) return false;
    const policy::snapshot::moved_record* m = s.moved(dest->id);
    return m != nullptr && s.provider_at(m->previous).pa == outer_source;
}

/// Stage 2 of ingress: carries out plan `p` of frame `f` (layout `layout`), `src` and `dest`
/// being state::find_ref of its two keys for an nvgre plan (ignored otherwise).
template <replication_sink Sink>
outcome decide(const policy::snapshot& s, frame& f, const wire::packet_layout& layout, const ingress_plan& p,
               const policy::record_ref* src, const policy::record_ref* dest, Sink& sink,
               const pipeline_config& cfg) noexcept {
    using wire::frame_kind;
    const auto bytes = std::span<const std::byte>(f.bytes());
    if (p.step == ingress_step::drop) return outcome::dropped(p.reason, p.vsid);
    if (p.step == ingress_step::not_nvgre) {
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

    // Rule 2: the outer source owns the inner source CA (within the VSID's routing domain), or
    // is a gateway of the domain for a source outside the tenant.
    const std::uint32_t vsid = p.vsid;
    const policy::subnet_entry& sub = *p.sub;
    const ip_address& inner_src = p.keys[0].address;
    const ip_address& inner_dst = p.keys[1].address;
    const mac_address inner_dst_mac = wire::ethernet_view::unchecked(bytes.subspan(layout.inner_l2_offset)).destination();
    const mac_address& router_mac = s.domain(sub.domain).router_mac;
    // Rule 5's source MAC: the source record's when switched (decided with the destination
    // below), the router's when routed; from outside the tenant, the gateway's in this VSID.
    std::optional<mac_address> source_mac;
    if (src != nullptr && s.provider_at(src->provider).pa == p.outer_source) {
        source_mac = src->vsid == vsid ? src->mac : router_mac;
    } else if (src == nullptr && s.is_gateway_pa(sub.domain, p.outer_source)) {
        const policy::record_entry* w = s.gateway_wildcard_with_pa(vsid, inner_src.version(), p.outer_source);
        source_mac = w != nullptr ? w->mac : router_mac;
    } else if ((inner_src.is_v6() && (inner_src.v6().is_link_local() || inner_src.v6().is_unspecified()) &&
                inner_dst_mac.is_multicast() &&
                std::any_of(sub.remote_pas.begin(), sub.remote_pas.end(),
                            [&](const policy::flood_pa& r) { return r.pa == p.outer_source; })) ||
               (s.any_moved() && accepts_moved(s, dest, p.outer_source))) {
        // No CA to check, and the source MAC stays as sent, for two senders: link-scope
        // multicast (e.g. MLD, also from :: while a VM's link-local address is tentative) from a
        // host that runs VMs of this subnet; and, in a moved VM's grace window on its new host,
        // its old host, which forwards what still arrives there (forward_moved) for a sender
        // this host cannot know.
    } else {
        return outcome::dropped(drop_reason::spoofed_source, vsid);
    }

    // Rule 6: ARP requests and neighbor solicitations through the tunnel are answered from
    // policy, back to the sender's PA, and never delivered (datapath/fabric_proxy.hpp).
    // (Only ARP and ICMPv6 can ask: the other frames skip the call.)
    if (layout.inner_l3 == wire::l3_kind::arp || layout.inner_protocol == wire::ip_protocol::icmpv6)
        if (auto answered = answer_tunnelled_question(s, f, layout, sub, p.outer_source, p.outer_destination, cfg))
            return *answered;

    // Rule 3: where it goes.
    std::optional<policy::record_ref> to;
    if (!inner_dst_mac.is_multicast()) {
        if (layout.inner_l3 == wire::l3_kind::arp) return outcome::dropped(drop_reason::unsupported, vsid);
        const auto d = deliver_to(s, sub, vsid, dest, inner_dst, inner_dst_mac);
        if (d.reason != drop_reason::none) return outcome::dropped(d.reason, vsid);
        to = d.record;
        // Rule 5: delivered through a next hop or to a gateway is routed, whatever the VSIDs.
        if (!d.own && src != nullptr) source_mac = router_mac;
    } else if (sub.local_macs.empty()) {
        return outcome::dropped(drop_reason::not_local_destination, vsid);
    }

    // Decapsulate (RFC 6040 ECN; no decap_info: nothing here reads it), then fix the source
    // MAC (rule 5).
    if (error e; !nvgre::detail::decap_frame(f, layout, e)) return outcome::dropped(drop_reason_of(e.code), vsid);
    auto eth = wire::mutable_ethernet_view::unchecked(f.bytes());
    if (source_mac) eth.set_source(*source_mac);

    outcome o;
    o.verdict = verdict::deliver;
    o.vsid = vsid;
    if (to) {
        o.to = destination::to_vm(to->mac, s.port_id_at(to->port));
        return o;
    }
    for (const policy::flood_mac& local : sub.local_macs) {
        frame* copy = clone_of(sink, f, 0);
        if (copy == nullptr) return outcome::dropped(drop_reason::no_buffer, vsid);
        sink.send(*copy, destination::to_vm(local.mac, s.port_id_at(local.port)));
        ++o.copies;
    }
    return o;
}

}  // namespace detail::ingress_steps

/// Runs one frame that arrived from the fabric through the ingress pipeline, given its
/// layout (`wire::parse_packet_layout(f.bytes(), f.tail)`, which ingress() computes): plan_frame, the
/// lookups of its source and destination records, decide — the stages ingress_burst runs over
/// a whole burst. On `deliver` to one VM the frame was decapsulated in place and goes to
/// `outcome::to`; on a broadcast / multicast `deliver` the copies went through `sink`. Nothing
/// is counted (see ingress()). Never allocates.
template <replication_sink Sink>
outcome ingress_with_layout(const policy::snapshot& s, frame& f, const wire::packet_layout& layout, Sink& sink,
                            const pipeline_config& cfg = {}) noexcept {
    const auto p = detail::ingress_steps::plan_frame(s, f.bytes(), layout);
    const policy::record_ref* src = nullptr;
    const policy::record_ref* dest = nullptr;
    if (p.step == detail::ingress_steps::ingress_step::nvgre) {
        src = s.find_ref(p.keys[0].scope, p.keys[0].address);
        dest = s.find_ref(p.keys[1].scope, p.keys[1].address);
    }
    const outcome o = detail::ingress_steps::decide(s, f, layout, p, src, dest, sink, cfg);
    if (o.reason == drop_reason::not_local_destination && s.any_moved()) [[unlikely]]
        return detail::ingress_steps::forward_moved(s, f, layout, p, o, sink, cfg);
    return o;
}

/// Runs one frame from the fabric through the ingress pipeline (see ingress_with_layout), and
/// counts it in `ctx` (its trace hook called with index 0).
template <replication_sink Sink>
outcome ingress(const policy::snapshot& s, frame& f, Sink& sink, context& ctx, const pipeline_config& cfg = {}) noexcept {
    const std::size_t received = f.total_size();
    const auto layout = wire::parse_packet_layout(f.bytes(), f.tail);
    outcome o = ingress_with_layout(s, f, layout, sink, cfg);
    if (o.verdict == verdict::deliver) ctx.meter_delivery(s, o, f);  // the receiving port's bandwidth
    ctx.record(0, f, o, context::no_port, received);
    return o;
}

/// ingress() without a context: nothing counted.
template <replication_sink Sink>
outcome ingress(const policy::snapshot& s, frame& f, Sink& sink, const pipeline_config& cfg = {}) noexcept {
    const auto layout = wire::parse_packet_layout(f.bytes(), f.tail);
    return ingress_with_layout(s, f, layout, sink, cfg);
}

/// Runs a burst through ingress: the stages of ingress_with_layout() over the whole burst —
/// every frame's layout and plan, the source and destination lookups of all of them (hash all,
/// prefetch all, then probe: one cache line each), then each frame's decision in order — so
/// that the cache misses overlap. Each frame gets the outcome ingress() gives it and is counted
/// in `ctx` (its trace hook called) before the next is decided; the sink sees the same traffic
/// in the same order.
/// `frames` and `out` should have the same size; if they do not, only the first min(sizes)
/// frames are decided (nothing past either span is read or written) and that number is
/// returned. Never allocates.
template <replication_sink Sink>
std::size_t ingress_burst(const policy::snapshot& s, std::span<frame> frames, std::span<outcome> out, Sink& sink,
                          context& ctx, const pipeline_config& cfg = {}) noexcept {
    using detail::ingress_steps::ingress_step;
    const std::size_t decided = std::min(frames.size(), out.size());
    frames = frames.first(decided);
    constexpr std::size_t chunk = 32;
    nvgre::detail::burst_storage<wire::packet_layout, chunk> layouts;
    nvgre::detail::burst_storage<detail::ingress_steps::ingress_plan, chunk> plans;
    nvgre::detail::burst_storage<policy::ca_key, 2 * chunk> keys;
    const policy::record_ref* refs[2 * chunk];
    for (std::size_t base = 0; base < frames.size(); base += chunk) {
        const std::size_t n = std::min(chunk, frames.size() - base);
        std::size_t k = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const auto bytes = std::span<const std::byte>(frames[base + i].bytes());
            // Placement new of the prvalue: built in place (a copy would be read back with
            // wider loads than the stores that wrote it: store-forwarding stalls).
            ::new (static_cast<void*>(layouts.at(i))) wire::packet_layout(wire::parse_packet_layout(bytes, frames[base + i].tail));
            ::new (static_cast<void*>(plans.at(i))) detail::ingress_steps::ingress_plan(detail::ingress_steps::plan_frame(s, bytes, layouts[i]));
            if (plans[i].step == ingress_step::nvgre) {
                std::construct_at(keys.at(k++), plans[i].keys[0]);
                std::construct_at(keys.at(k++), plans[i].keys[1]);
            }
        }
        s.find_refs_batch(std::span<const policy::ca_key>(keys.data(), k), std::span<const policy::record_ref*>(refs, k));
        std::size_t j = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const policy::record_ref* src = nullptr;
            const policy::record_ref* dest = nullptr;
            if (plans[i].step == ingress_step::nvgre) {
                src = refs[j++];
                dest = refs[j++];
            }
            const std::size_t received = frames[base + i].total_size();
            out[base + i] = detail::ingress_steps::decide(s, frames[base + i], layouts[i], plans[i], src, dest, sink, cfg);
            if (out[base + i].reason == drop_reason::not_local_destination && s.any_moved()) [[unlikely]]
                out[base + i] = detail::ingress_steps::forward_moved(s, frames[base + i], layouts[i], plans[i], out[base + i], sink, cfg);
            if (out[base + i].verdict == verdict::deliver) ctx.meter_delivery(s, out[base + i], frames[base + i]);
            ctx.record(base + i, frames[base + i], out[base + i], context::no_port, received);
        }
    }
    return decided;
}

}  // namespace nvgre::datapath
