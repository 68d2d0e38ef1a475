/// @file datapath/fabric_proxy.hpp
/// @brief The questions ingress answers itself instead of delivering (docs/hnv-rules.md,
/// ingress rule 6 and the fabric port as an IP endpoint), so that a standard NVGRE endpoint (a
/// host that does not proxy, a hardware VTEP) interoperates without static entries:
///  - on the fabric, not NVGRE: ARP requests for this host's IPv4 PAs and neighbor
///    solicitations for its IPv6 PAs, answered with the PA's MAC (answer_provider_question);
///  - through the tunnel (valid NVGRE, anti-spoofing passed): ARP requests and neighbor
///    solicitations for CAs of the VSID's routing domain, answered from policy and encapsulated
///    back to the sender's PA (answer_tunnelled_question). Never delivered to VMs.
/// Both parse and build with datapath/proxy.hpp (the egress proxy's own builders) and, for the
/// tunnel, encapsulate with datapath/encap.hpp. The answer is built in the request's frame.
/// Never allocates, never throws; every request that is not answered is dropped with a reason.
///
/// Outer VLAN tag on a request for a PA: answered with the same tag (PCP and DEI kept) when its
/// VID is the PA's VLAN (provider-address vlan=), untagged when the request is untagged and the
/// PA has no VLAN; otherwise (another VID, a tag the PA does not have, a PA VLAN the request
/// lacks, two tags, an 802.1ad tag) dropped `bad-outer-vlan`. The answer has to say where the
/// PA really is: egress tags every frame from the PA with the PA's VLAN, so a peer that learnt
/// the PA's MAC on another VLAN would reach it nowhere.
#pragma once

#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/proxy.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/policy/snapshot.hpp"
#include "nvgre/wire/arp.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/icmpv6.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace nvgre::datapath {

namespace detail::ingress_steps {

/// What kind of question a frame (or the frame inside a tunnel) asks, if any.
enum class question_kind : std::uint8_t { none, arp_request, neighbor_solicitation };

/// The question the untagged-or-tagged Ethernet frame whose IP / ARP header starts at `l3`
/// (ARP when `arp`, else an IPv6 packet whose upper-layer header is at `upper` with protocol
/// `protocol`, ending at `end`) asks. Reads at most two bytes, both in bounds.
[[nodiscard]] inline question_kind question_in(std::span<const std::byte> bytes, bool arp, std::size_t l3,
                                               std::uint8_t protocol, std::size_t upper, std::size_t end) noexcept {
    if (arp) {
        // The operation field (the ARP header's fixed part may be cut short: then
        // parse_arp_request says so, as bad-arp).
        constexpr std::size_t op = wire::arp_field::operation;
        if (l3 + op + 2 > bytes.size()) return question_kind::arp_request;
        return nvgre::detail::load_be16(bytes.data() + l3 + op) == wire::arp_operation::request ? question_kind::arp_request
                                                                                              : question_kind::none;
    }
    // The ICMPv6 type byte decides, wherever the packet ends: a solicitation that goes on past
    // the first segment of a chained frame is still one, judged cut short there by
    // parse_neighbor_solicitation (bad-arp), as docs/embedding.md says of headers past it.
    if (protocol != wire::ip_protocol::icmpv6 || upper == wire::no_offset || upper >= end || upper >= bytes.size())
        return question_kind::none;
    return nvgre::detail::load_u8(bytes.data() + upper) == wire::icmpv6_type::neighbor_solicitation
               ? question_kind::neighbor_solicitation
               : question_kind::none;
}

/// Takes the one 802.1Q tag out of `f` (the MACs move 4 bytes forward, the frame starts 4
/// bytes later), so that the untagged-frame parsers and builders of proxy.hpp apply; returns
/// its TCI. Precondition: f holds at least 18 bytes with a tag at 12.
inline std::uint16_t take_out_vlan_tag(frame& f) noexcept {
    std::byte* p = f.bytes().data();
    const std::uint16_t tci = nvgre::detail::load_be16(p + wire::ethernet_field::first_tag_tci);
    std::memmove(p + wire::vlan_tag_len, p, wire::ethernet_field::ether_type);  // the two MACs
    static_cast<void>(f.pull_front(wire::vlan_tag_len));  // 18 bytes or more: cannot fail
    return tci;
}
/// Puts back the tag take_out_vlan_tag() took out: the 4 bytes it freed in front are there.
inline void put_back_vlan_tag(frame& f, std::uint16_t tci) noexcept {
    static_cast<void>(f.push_front(wire::vlan_tag_len));  // the headroom take_out_vlan_tag() left
    std::byte* p = f.bytes().data();
    std::memmove(p, p + wire::vlan_tag_len, wire::ethernet_field::ether_type);  // the two MACs
    nvgre::detail::store_be16(p + wire::ethernet_field::ether_type, wire::ethertype::vlan);
    nvgre::detail::store_be16(p + wire::ethernet_field::first_tag_tci, tci);
}

/// Builds, in `f` (untagged), the answer to the question `kind` for one of this host's PAs
/// when the request came on VLAN `vid` (0: untagged), or says why not (none: answered). `to`
/// receives where the answer goes. A target that is not a local PA: unknown-target.
inline drop_reason answer_for_local_pa(const policy::snapshot& s, frame& f, question_kind kind, std::uint16_t vid,
                                       ip_address& to) noexcept {
    const policy::provider_address* pa = nullptr;
    if (kind == question_kind::arp_request) {
        const auto q = parse_arp_request(f.bytes());
        if (!q) return drop_reason::bad_arp;
        const ip_address target{q->target_ip};
        if (!s.is_local_pa(target)) return drop_reason::unknown_target;
        pa = s.provider(target);
        if (pa->vlan != vid) return drop_reason::bad_outer_vlan;
        make_arp_reply(f, *q, pa->mac);
        to = ip_address{q->sender_ip};
        return drop_reason::none;
    }
    const auto q = parse_neighbor_solicitation(f.bytes());
    if (!q) return drop_reason::bad_arp;  // failed an RFC 4861 7.1.1 validity check
    const ip_address target{q->target};
    if (!s.is_local_pa(target)) return drop_reason::unknown_target;
    pa = s.provider(target);
    if (pa->vlan != vid) return drop_reason::bad_outer_vlan;
    // A DAD probe for our PA is a duplicate: the defence goes to all nodes (RFC 4862 5.4.3).
    if (!make_neighbor_advertisement(f, *q, pa->mac, false)) return drop_reason::no_buffer;
    to = q->dad ? ip_address{ipv6_all_nodes} : ip_address{q->source_ip};
    return drop_reason::none;
}

}  // namespace detail::ingress_steps

/// The fabric port as an IP endpoint for this host's PAs: if `f` (from the fabric, `layout` =
/// wire::parse_packet_layout of it) is an ARP request or a neighbor solicitation, not NVGRE,
/// the outcome for it — verdict `reply` toward the fabric (the frame turned, in place, into the
/// ARP reply / neighbor advertisement from the PA's MAC; `pa` = the requester's address, the
/// all-nodes group for a DAD defence; VSID 0), or a drop: unknown-target (a question for an
/// address that is not this host's PA: another host's business), bad-arp (malformed: an ARP
/// that is not Ethernet/IPv4, an NS failing RFC 4861 7.1.1), bad-outer-vlan (see the file
/// comment), no-buffer (no room for the 86-byte advertisement). Empty for any other frame,
/// which `f` then still holds unchanged. O(frame size).
[[nodiscard]] inline std::optional<outcome> answer_provider_question(const policy::snapshot& s, frame& f,
                                                                     const wire::packet_layout& layout) noexcept {
    if (layout.kind != wire::frame_kind::other) return std::nullopt;
    const bool arp = layout.outer_ether_type == wire::ethertype::arp;
    if (!arp && layout.outer_l3 != wire::l3_kind::ipv6) return std::nullopt;
    const std::size_t upper = arp ? wire::no_offset : std::size_t{layout.outer_l3_offset} + layout.outer_l3_header_len;
    const auto kind = detail::ingress_steps::question_in(f.bytes(), arp, layout.outer_l2_len, layout.outer_protocol, upper,
                                                 layout.outer_l3_end);
    if (kind == detail::ingress_steps::question_kind::none) return std::nullopt;

    // Tags: none, or one 802.1Q tag whose VID answer_for_local_pa() compares with the PA's VLAN.
    if (layout.outer_vlan_count > 1 ||
        (layout.outer_vlan_count == 1 &&
         nvgre::detail::load_be16(f.bytes().data() + wire::ethernet_field::ether_type) != wire::ethertype::vlan))
        return outcome::dropped(drop_reason::bad_outer_vlan);
    const bool tagged = layout.outer_vlan_count == 1;
    const std::uint16_t tci = tagged ? detail::ingress_steps::take_out_vlan_tag(f) : 0;
    ip_address to;
    const drop_reason why = detail::ingress_steps::answer_for_local_pa(s, f, kind, layout.outer_vlan_id, to);
    if (tagged) detail::ingress_steps::put_back_vlan_tag(f, tci);  // the request's tag, or the answer's
    if (why != drop_reason::none) return outcome::dropped(why);
    outcome o;
    o.verdict = verdict::reply;
    o.pa = to;
    o.to = destination::to_fabric();
    return o;
}

/// Ingress rule 6: if `f` — valid NVGRE to local PA `outer_destination` from `outer_source`,
/// whose VSID (layout.vsid_bits()) belongs to subnet `sub`, the outer source having passed
/// anti-spoofing (rule 2) — carries an ARP request or a neighbor solicitation, the outcome for
/// it. Answered from policy when the target is a CA of the VSID's routing domain whose record
/// is not the requester's own (its MAC is not the requester's: a gratuitous ARP, an RFC 5227
/// probe or DAD for its own address asks nobody): with the record's MAC when it is in the
/// VSID, the domain's router MAC (NA router flag set) when it is in another subnet of the
/// domain, as egress's proxy answers a VM. The answer is built in place, decapsulated first,
/// and encapsulated back: outer source `outer_destination` (the PA it arrived on, with that
/// PA's MAC and VLAN), outer destination `outer_source`, the packet's VSID; verdict `reply`
/// toward the fabric, `pa` = `outer_source`. No answer — a drop — for a subnet gateway address
/// or an address no record of the domain holds (unknown-target: such a peer routes by itself;
/// the distributed router serves this host's VMs only), a malformed NS (bad-arp), no next hop
/// to `outer_source` (no-next-hop), no room (no-buffer, no-headroom), outer CE on a Not-ECT
/// NS (ecn-drop). Empty for any other frame, which `f` then still holds unchanged. O(frame
/// size).
[[nodiscard]] inline std::optional<outcome> answer_tunnelled_question(const policy::snapshot& s, frame& f,
                                                                      const wire::packet_layout& layout,
                                                                      const policy::subnet_entry& sub,
                                                                      const ip_address& outer_source,
                                                                      const ip_address& outer_destination,
                                                                      const pipeline_config& cfg) noexcept {
    using detail::ingress_steps::question_kind;
    if (layout.kind != wire::frame_kind::nvgre) return std::nullopt;
    const bool arp = layout.inner_l3 == wire::l3_kind::arp;
    if (!arp && layout.inner_l3 != wire::l3_kind::ipv6) return std::nullopt;
    const auto kind = detail::ingress_steps::question_in(f.bytes(), arp, layout.inner_l3_offset, layout.inner_protocol,
                                                 layout.inner_l4_offset, layout.inner_l3_end);
    if (kind == question_kind::none) return std::nullopt;

    const std::uint32_t vsid = layout.vsid_bits();
    // The inner frame as its sender made it (the outer packet's padding excluded), as far as
    // the first segment holds it (a chained frame's question lies there: question_in).
    const std::size_t inner_end = std::min<std::size_t>(layout.outer_l3_end, f.size());
    const auto inner = std::span<const std::byte>(f.bytes()).subspan(layout.inner_l2_offset, inner_end - layout.inner_l2_offset);
    ip_address target;
    mac_address requester;
    std::optional<arp_question> arp_q;
    std::optional<nd_question> nd_q;
    if (kind == question_kind::arp_request) {
        auto q = parse_arp_request(inner);
        if (!q) return outcome::dropped(drop_reason::bad_arp, vsid);
        arp_q = *q;
        target = ip_address{q->target_ip};
        requester = q->sender_mac;
    } else {
        auto q = parse_neighbor_solicitation(inner);
        if (!q) return outcome::dropped(drop_reason::bad_arp, vsid);
        nd_q = *q;
        target = ip_address{q->target};
        requester = q->source_mac;
    }

    // Whose MAC answers: the record's (same VSID) or the router's (another subnet); nobody's
    // for the subnet's gateway addresses, unknown addresses and the requester's own.
    const bool gateway = arp ? (sub.gateway_v4 && *sub.gateway_v4 == arp_q->target_ip)
                             : (sub.gateway_v6 && *sub.gateway_v6 == nd_q->target);
    const policy::record_entry* t = gateway ? nullptr : s.find_record(sub.domain, target);
    if (t == nullptr || t->mac == requester) return outcome::dropped(drop_reason::unknown_target, vsid);
    const bool routed = t->vsid != vsid;
    const mac_address answer = routed ? s.domain(sub.domain).router_mac : t->mac;

    // The way back: from the PA it came to, toward the PA it came from.
    const policy::provider_address* local = s.provider(outer_destination);
    if (local == nullptr) return outcome::dropped(drop_reason::not_local_pa, vsid);
    const auto next_hop = s.next_hop_mac(*local, outer_source);
    if (!next_hop) return outcome::dropped(drop_reason::no_next_hop, vsid);

    decap_info info;
    if (auto d = decapsulate(f, layout, info); !d) return outcome::dropped(drop_reason_of(d.error().code), vsid);
    if (arp_q) {
        make_arp_reply(f, *arp_q, answer);
    } else if (!make_neighbor_advertisement(f, *nd_q, answer, routed)) {
        return outcome::dropped(drop_reason::no_buffer, vsid);
    }
    const encap_params back{local->mac,   *next_hop, local->vlan,   local->pa, outer_source, *nvgre::vsid::make(vsid),
                            cfg.outer_ttl, cfg.outer_ipv4_checksum_by_hardware};
    if (auto e = encapsulate(f, back); !e) return outcome::dropped(drop_reason_of(e.error().code), vsid);
    outcome o;
    o.verdict = verdict::reply;
    o.vsid = vsid;
    o.pa = outer_source;
    o.to = destination::to_fabric();
    return o;
}

}  // namespace nvgre::datapath
