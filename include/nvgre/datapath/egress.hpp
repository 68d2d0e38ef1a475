/// @file datapath/egress.hpp
/// @brief The egress pipeline: a frame sent by a VM attached to this host → a verdict
/// (docs/hnv-rules.md, egress rules 1-8).
///
/// Per frame, in order:
///  1. the port: the VM NIC whose MAC the embedder received the frame on; the Ethernet
///     source must be that MAC, and an IP source (ARP sender) one of the VM's CAs in its VSID
///     — or, for a VM holding a gateway-wildcard record of that IP version, any address that
///     has no record in the routing domain (a gateway forwards traffic from outside the tenant,
///     never in a tenant VM's name); else spoofed-source;
///  2. VLAN-tagged frames and ethertypes other than IPv4, IPv6 and ARP are dropped;
///  3. ARP requests and neighbor solicitations are answered in place from policy (proxy);
///  4. unicast IP: a gateway address of the domain is the router's own (rule 8); otherwise
///     longest-prefix match over the routing domain's customer routes, then the record of
///     (route VSID, destination CA) for an on-link route or (route VSID, next-hop CA), else the
///     VSID's gateway-wildcard record of the packet's IP version (several: the inner flow hash
///     picks one, so a flow keeps its gateway); no route / no record → ICMP unreachable;
///  5. switched (the destination CA's own record in the sender's VSID): inner destination
///     MAC := the record's MAC; routed (another VSID, a next hop, a gateway): source MAC :=
///     router MAC, destination MAC := record's MAC, TTL / hop limit decremented (checksum
///     patched; at 0: ICMP time exceeded), VSID := the record's;
///  6. record local → delivered without encapsulation; rule encap → NVGRE to the record's PA
///     from the sending VM's PA; rule nat → IP rewrite (datapath/rewrite.hpp: the sender's
///     record must be nat too, else nat-mismatch);
///  7. broadcast / multicast → one encapsulated copy per remote PA of the VSID and one copy
///     per other local VM of the VSID (through the replication sink);
///  8. the distributed router answers (datapath/router.hpp): echo replies for its gateway
///     addresses, unreachable, time exceeded and too big, as verdict `reply`.
/// Never allocates, never throws; every drop has a reason.
#pragma once

#include "nvgre/checksum/incremental.hpp"
#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/flow_hash.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/mtu.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/proxy.hpp"
#include "nvgre/datapath/rewrite.hpp"
#include "nvgre/datapath/router.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/policy/state.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/icmpv6.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace nvgre::datapath {

namespace egress_steps {

/// The source and destination addresses of an IP frame, its version, and where its IP header is.
struct ip_endpoints {
    ip_address source;
    ip_address destination;
    std::size_t l3_offset{0};
    bool v6{false};
};

/// Reads the IP addresses of an untagged IPv4/IPv6 Ethernet frame. The IP view's error (offset
/// from the frame's start) when the header is cut short, lies about its length or has the wrong
/// version: the drop then names that (truncated, bad-length, bad-header-length, bad-version).
inline result<ip_endpoints> ip_endpoints_of(std::span<const std::byte> frame, std::uint16_t ether_type) noexcept {
    const auto l3 = frame.subspan(wire::ethernet_header_len);
    if (ether_type == wire::ethertype::ipv4) {
        auto ip = wire::ipv4_view::checked(l3);
        if (!ip) return ip.error().rebased(wire::ethernet_header_len);
        return ip_endpoints{ip->source(), ip->destination(), wire::ethernet_header_len, false};
    }
    auto ip = wire::ipv6_view::checked(l3);
    if (!ip) return ip.error().rebased(wire::ethernet_header_len);
    return ip_endpoints{ip->source(), ip->destination(), wire::ethernet_header_len, true};
}

/// True for an IPv6 link-local address (fe80::/10): it never leaves the link, so it is not a
/// customer address of the policy and is never routed.
inline bool is_link_local(const ip_address& a) noexcept { return a.is_v6() && a.v6().is_link_local(); }

/// True for a source a VM may use only toward link-scope multicast, vouched for by no record:
/// its IPv6 link-local address, or :: — the source of the MLD reports a host sends while its
/// link-local address is still tentative (RFC 3810 5.2.13).
inline bool is_link_scope_source(const ip_address& a) noexcept {
    return a.is_v6() && (a.v6().is_link_local() || a.v6().is_unspecified());
}

/// True if the port's VM may send from `source` (rule 1): a CA of its own in its VSID, or —
/// when it holds a gateway-wildcard record of that IP version — an address that no record of
/// the routing domain holds. `record` receives the record that vouches for it (its PA is the
/// outer source of encapsulated frames).
inline bool source_allowed(const policy::state& s, const policy::local_port& port, const mac_address& port_mac,
                           const ip_address& source, const policy::record_entry*& record) noexcept {
    if (const policy::record_entry* r = s.find_record(port.domain, source); r != nullptr) {
        if (r->vsid != port.vsid || r->mac != port_mac) return false;
        record = r;
        return true;
    }
    if (const policy::record_entry* w = s.gateway_wildcard_of_port(port, source.version()); w != nullptr) {
        record = w;
        return true;
    }
    return false;
}

/// Any record of the port in the version of `v` (the outer source PA of its flooded copies).
inline const policy::record_entry* any_record_of(const policy::state& s, const policy::local_port& port) noexcept {
    return port.records.empty() ? nullptr : &s.record(port.records.front());
}

/// True if routing the packet at `l3` would take its IPv4 TTL / IPv6 hop limit to 0: the
/// router drops it and answers time exceeded (RFC 1812 5.3.1 / RFC 8200 3).
inline bool ttl_expires(std::span<const std::byte> l3, bool v6) noexcept {
    return v6 ? wire::ipv6_view::unchecked(l3).hop_limit() <= 1 : wire::ipv4_view::unchecked(l3).ttl() <= 1;
}

/// Decrements the IPv4 TTL / IPv6 hop limit of the packet at `l3` (checksum patched, RFC 1624).
/// False (nothing changed) when it would reach 0 (ttl_expires).
inline bool decrement_ttl(std::span<std::byte> l3, bool v6) noexcept {
    if (ttl_expires(l3, v6)) return false;
    if (v6) {
        auto ip = wire::mutable_ipv6_view::unchecked(l3);
        ip.set_hop_limit(static_cast<std::uint8_t>(ip.hop_limit() - 1));
        return true;
    }
    auto ip = wire::mutable_ipv4_view::unchecked(l3);
    // TTL shares a 16-bit word with the protocol: patch the checksum for that word.
    const std::uint16_t old_word = static_cast<std::uint16_t>(ip.ttl() << 8 | ip.protocol());
    ip.set_ttl(static_cast<std::uint8_t>(ip.ttl() - 1));
    const std::uint16_t new_word = static_cast<std::uint16_t>(ip.ttl() << 8 | ip.protocol());
    ip.set_header_checksum(checksum::update16(ip.header_checksum(), old_word, new_word));
    return true;
}

/// The record a unicast packet to `destination` goes to along `route` (rule 4): the record of
/// (route VSID, destination CA) for an on-link route or (route VSID, next-hop CA) for a next
/// hop; when that CA has no static record, a gateway-wildcard record of the route's VSID in the
/// packet's IP version, picked among several by the flow hash of `frame` (so every packet of a
/// flow takes the same gateway). nullptr when there is none.
inline const policy::record_entry* choose_record(const policy::state& s, const policy::route_entry& route,
                                                 const ip_address& destination, std::span<const std::byte> frame) noexcept {
    if (const policy::record_entry* r = s.find_record_in_subnet(route.vsid, route.on_link() ? destination : route.next_hop))
        return r;
    const auto gateways = s.gateway_wildcards(route.vsid, destination.version());
    if (gateways.empty()) return nullptr;
    if (gateways.size() == 1) return &s.record(gateways.front());  // no hash needed
    return s.gateway_for_flow(route.vsid, destination.version(), flow_hash32(frame));
}

/// True if a packet to `destination` delivered to `dest` is switched (rule 5): `dest` is the
/// destination CA's own static record in the sender's VSID. Anything else is routed.
inline bool is_switched(const policy::record_entry& dest, const policy::local_port& port,
                        const ip_address& destination) noexcept {
    return dest.type == policy::record_type::static_record && dest.vsid == port.vsid && same_address(dest.ca, destination);
}

/// The outer path from local record `source` (its PA) to provider address `destination_pa`.
inline std::optional<encap_params> outer_path(const policy::state& s, const policy::record_entry& source,
                                              const ip_address& destination_pa, nvgre::vsid vsid,
                                              const pipeline_config& cfg) noexcept {
    const policy::provider_address& src = s.provider_at(source.provider);
    const auto next_hop = s.next_hop_mac(src, destination_pa);
    if (!next_hop) return std::nullopt;
    return encap_params{src.mac, *next_hop, src.vlan, src.pa, destination_pa, vsid, cfg.outer_ttl,
                        cfg.outer_ipv4_checksum_by_hardware};
}

/// Bytes of the outer IP packet for an inner frame of `inner_len` bytes.
constexpr std::size_t outer_ip_len(std::size_t inner_len, const ip_address& pa) noexcept {
    return inner_len + wire::nvgre_header_len + (pa.is_v4() ? wire::ipv4_min_header_len : wire::ipv6_header_len);
}

/// The path of a unicast frame to be encapsulated, and what its size asks for (wire rule 7).
struct encap_decision {
    encap_params path;
    oversize_plan size;
};

/// Decides how the frame `f` of the port's VM reaches PA `pa` encapsulated: the outer path from
/// the sender's record, and — when the outer packet would exceed the sending PA's underlay MTU,
/// or the VM asked for segmentation (TSO metadata) — segment, fragment or answer too big
/// (datapath/mtu.hpp). Decided before the frame is changed, so that an answer quotes what the
/// VM sent. Empty (drop no-next-hop) when the PA cannot be reached.
inline std::optional<encap_decision> decide_encap(const policy::state& s, const frame& f,
                                                  const policy::record_entry& source, const ip_address& pa,
                                                  nvgre::vsid vsid, const pipeline_config& cfg) noexcept {
    const auto path = outer_path(s, source, pa, vsid, cfg);
    if (!path) return std::nullopt;
    encap_decision d{*path, {}};
    const std::size_t mtu = underlay_mtu_for(cfg, path->outer_source);
    if (f.offload.segment_size != 0 || outer_ip_len(f.size(), pa) > mtu)
        d.size = plan_oversize(f.bytes(), f.offload, mtu, pa.is_v6(), cfg.gso);
    return d;
}

/// Encapsulates `f` as decided by decide_encap (its answer already given): whole, or in
/// segments / fragments through `sink`. A partial checksum of the VM is completed first unless
/// the NIC will (segments get theirs computed anyway). The outcome on success is `encap`.
template <replication_sink Sink>
outcome encap_as_decided(frame& f, const encap_decision& d, Sink& sink, const pipeline_config& cfg) noexcept {
    const std::uint32_t vsid = d.path.vsid.value();
    if (d.size.action != oversize_action::segment && !finish_inner_checksum(f, cfg))
        return outcome::dropped(drop_reason::bad_offload, vsid);
    if (d.size.action == oversize_action::segment || d.size.action == oversize_action::fragment)
        return encap_oversize(f, d.size, d.path, sink);
    f.offload.segment_size = 0;  // a TSO frame that fits is its own single segment
    if (auto r = encapsulate(f, d.path); !r) return outcome::dropped(drop_reason_of(r.error().code), vsid);
    outcome o;
    o.verdict = verdict::encap;
    o.vsid = vsid;
    o.pa = d.path.outer_destination;
    o.to = destination{destination::kind::fabric, {}};
    return o;
}

/// Answers an ARP request from the port's VM, in place (rule 3).
inline outcome proxy_arp(const policy::state& s, const policy::local_port& port, const mac_address& port_mac,
                         frame& f) noexcept {
    auto q = parse_arp_request(f.bytes());
    // bad_protocol: an ARP that asks nothing (a reply, an unknown op) — the host answers for
    // everyone, so VMs have no one to reply to; anything else is malformed.
    if (!q) return outcome::dropped(q.error().code == errc::bad_protocol ? drop_reason::unsupported : drop_reason::bad_arp, port.vsid);
    const policy::record_entry* self = nullptr;
    if (q->sender_mac != port_mac || !source_allowed(s, port, port_mac, q->sender_ip, self))
        return outcome::dropped(drop_reason::spoofed_source, port.vsid);
    const policy::subnet_entry& sub = s.subnet_at(port.subnet);
    const policy::domain_entry& dom = s.domain(sub.domain);
    std::optional<mac_address> answer;
    if (sub.gateway_v4 && *sub.gateway_v4 == q->target_ip) {
        answer = dom.router_mac;
    } else if (const policy::record_entry* t = s.find_record(sub.domain, q->target_ip); t != nullptr && t->mac != port_mac) {
        // Same subnet: the VM itself; another subnet of the domain: through the router.
        answer = t->vsid == port.vsid ? t->mac : dom.router_mac;
    }
    if (!answer) return outcome::dropped(drop_reason::unknown_target, port.vsid);
    make_arp_reply(f, *q, *answer);
    outcome o;
    o.verdict = verdict::reply;
    o.vsid = port.vsid;
    o.to = destination{destination::kind::sender, port_mac};
    return o;
}

/// True if the IPv6 frame at `l3` is an ICMPv6 neighbor-discovery message (no extension headers).
inline bool is_neighbor_discovery(std::span<const std::byte> l3, std::uint8_t& type) noexcept {
    auto ip = wire::ipv6_view::checked(l3);
    if (!ip || ip->next_header() != wire::ip_protocol::icmpv6 || ip->payload().size() < 1) return false;
    type = std::to_integer<std::uint8_t>(ip->payload()[0]);
    return type >= wire::icmpv6_type::router_solicitation && type <= 137;
}

/// Answers a neighbor solicitation from the port's VM, in place (rule 3).
inline outcome proxy_nd(const policy::state& s, const policy::local_port& port, const mac_address& port_mac,
                        frame& f) noexcept {
    auto q = parse_neighbor_solicitation(f.bytes());
    if (!q) return outcome::dropped(drop_reason::bad_arp, port.vsid);  // failed an RFC 4861 7.1.1 validity check
    const policy::record_entry* self = nullptr;
    const bool dad = q->dad;
    // The source must be the VM's: its MAC, and a CA of its own (or link-local, or :: for DAD).
    if (q->source_mac != port_mac) return outcome::dropped(drop_reason::spoofed_source, port.vsid);
    if (!dad && !is_link_local(ip_address{q->source_ip}) && !source_allowed(s, port, port_mac, q->source_ip, self))
        return outcome::dropped(drop_reason::spoofed_source, port.vsid);
    const policy::subnet_entry& sub = s.subnet_at(port.subnet);
    const policy::domain_entry& dom = s.domain(sub.domain);
    std::optional<mac_address> answer;
    bool router = false;
    if (sub.gateway_v6 && *sub.gateway_v6 == q->target) {
        answer = dom.router_mac;
        router = true;
    } else if (const policy::record_entry* t = s.find_record(sub.domain, q->target); t != nullptr && t->mac != port_mac) {
        answer = t->vsid == port.vsid ? t->mac : dom.router_mac;
        router = t->vsid != port.vsid;
    }
    if (!answer) return outcome::dropped(drop_reason::unknown_target, port.vsid);
    if (auto r = make_neighbor_advertisement(f, *q, *answer, router); !r)
        return outcome::dropped(drop_reason::no_buffer, port.vsid);
    outcome o;
    o.verdict = verdict::reply;
    o.vsid = port.vsid;
    o.to = destination{destination::kind::sender, port_mac};
    return o;
}

/// Head-end replication of a broadcast / multicast frame of the port's VM (rule 7). Each
/// copy's path is checked before a buffer is taken, so a remote PA that cannot be reached
/// (no next hop, too big for the underlay) costs no buffer and does not stop the others; the
/// outcome is `flood` with the copies that went, and `reason` names the first copy that could
/// not be made (none when all went).
template <replication_sink Sink>
outcome flood(const policy::state& s, const policy::local_port& port, const mac_address& port_mac,
              const policy::record_entry& source, const frame& f, Sink& sink, const pipeline_config& cfg) noexcept {
    const policy::subnet_entry& sub = s.subnet_at(port.subnet);
    outcome o;
    o.verdict = verdict::flood;
    o.vsid = port.vsid;
    auto missed = [&o](drop_reason r) {
        if (o.reason == drop_reason::none) o.reason = r;
    };
    const auto original = std::span<const std::byte>(f.bytes());
    for (const policy::flood_pa& remote : sub.remote_pas) {
        const auto path = outer_path(s, source, remote.pa, sub.id, cfg);
        if (!path) {
            missed(drop_reason::no_next_hop);
            continue;
        }
        // Copies are not segmented or answered: a flood has no one sender to tell.
        if (outer_ip_len(original.size(), remote.pa) > underlay_mtu_for(cfg, path->outer_source)) {
            missed(drop_reason::too_big);
            continue;
        }
        frame* copy = sink.copy(original, recommended_headroom);
        if (copy == nullptr) {
            missed(drop_reason::no_buffer);
            return o;
        }
        if (auto r = encapsulate(*copy, *path); !r) {
            missed(drop_reason_of(r.error().code));
            continue;
        }
        sink.send(*copy, destination{destination::kind::fabric, {}});
        ++o.copies;
    }
    for (const policy::flood_mac& local : sub.local_macs) {
        if (local.mac == port_mac) continue;
        frame* copy = sink.copy(original, 0);
        if (copy == nullptr) {
            missed(drop_reason::no_buffer);
            return o;
        }
        sink.send(*copy, destination{destination::kind::vm, local.mac});
        ++o.copies;
    }
    return o;
}

}  // namespace egress_steps

/// Runs one frame sent by the VM whose NIC has `port_mac` (the port the embedder received it
/// on) through the egress pipeline. On `encap`, `local`, `reply` (and `rewrite`) the frame is
/// changed in place and goes to `outcome::to`; on `flood` the copies went through `sink` and
/// the original is no longer needed; on `drop` the frame may have been partly changed.
/// Preconditions: `f` holds an Ethernet frame without FCS, with recommended_headroom (66+)
/// bytes in front for encapsulation (less: drop no-headroom). Never allocates.
template <replication_sink Sink>
outcome egress(const policy::state& s, const mac_address& port_mac, frame& f, Sink& sink,
               const pipeline_config& cfg = {}) noexcept {
    using egress_steps::ip_endpoints_of;
    const auto bytes = f.bytes();
    auto eth = wire::mutable_ethernet_view::checked(bytes);
    if (!eth) return outcome::dropped(drop_reason::truncated);
    const policy::local_port* port = s.port(port_mac);
    if (port == nullptr) return outcome::dropped(drop_reason::unknown_port);
    // Rule 1: the frame's source MAC is the port's VM.
    if (eth->source() != port_mac) return outcome::dropped(drop_reason::spoofed_source, port->vsid);
    // Rule 2: no VLAN tags from VMs; IPv4, IPv6 and ARP only.
    if (eth->tag_count() != 0) return outcome::dropped(drop_reason::vlan_tagged, port->vsid);
    const std::uint16_t type = eth->ether_type();
    if (type == wire::ethertype::arp) return egress_steps::proxy_arp(s, *port, port_mac, f);
    if (type != wire::ethertype::ipv4 && type != wire::ethertype::ipv6)
        return outcome::dropped(drop_reason::unsupported_ethertype, port->vsid);

    // Rule 3 (IPv6): neighbor solicitations are answered here; other ND messages stay local.
    std::uint8_t nd_type = 0;
    if (type == wire::ethertype::ipv6 && egress_steps::is_neighbor_discovery(bytes.subspan(wire::ethernet_header_len), nd_type)) {
        if (nd_type == wire::icmpv6_type::neighbor_solicitation) return egress_steps::proxy_nd(s, *port, port_mac, f);
        return outcome::dropped(drop_reason::unsupported, port->vsid);
    }

    const auto ends = ip_endpoints_of(bytes, type);
    if (!ends) return outcome::dropped(drop_reason_of(ends.error().code), port->vsid);
    const mac_address destination_mac = eth->destination();

    // Rule 1: the source address is the VM's (IPv6 link-local or :: only for link-scope multicast).
    const policy::record_entry* source = nullptr;
    if (!egress_steps::source_allowed(s, *port, port_mac, ends->source, source)) {
        const bool link_scope = egress_steps::is_link_scope_source(ends->source) && destination_mac.is_multicast();
        if (!link_scope) return outcome::dropped(drop_reason::spoofed_source, port->vsid);
        source = egress_steps::any_record_of(s, *port);
        if (source == nullptr) return outcome::dropped(drop_reason::spoofed_source, port->vsid);
    }

    // Rule 7: broadcast / multicast → head-end replication within the VSID (the copies
    // leave finished: a pending partial checksum is completed first).
    if (destination_mac.is_multicast()) {
        if (!finish_inner_checksum(f, cfg)) return outcome::dropped(drop_reason::bad_offload, port->vsid);
        return egress_steps::flood(s, *port, port_mac, *source, f, sink, cfg);
    }

    // Rule 4: route, then the record of (route VSID, destination or next hop), else a gateway;
    // rule 8: a gateway address is the router's own, and what goes no further is answered.
    const policy::subnet_entry& sub = s.subnet_at(port->subnet);
    const policy::route_entry* route = s.route(sub.domain, ends->destination);
    if (router_steps::is_router_address(s, sub, route, ends->destination))
        return router_steps::answer_to_router(s, *port, f, cfg);
    if (route == nullptr)
        return router_steps::answer_error(s, *port, f, router_error::net_unreachable, drop_reason::no_route, cfg);
    const policy::record_entry* dest = egress_steps::choose_record(s, *route, ends->destination, bytes);
    if (dest == nullptr)
        return router_steps::answer_error(s, *port, f, router_error::host_unreachable, drop_reason::no_record, cfg);
    if (dest->domain != sub.domain) return outcome::dropped(drop_reason::cross_domain, route->vsid);
    // Rule 5: switched or routed; a routed packet whose TTL runs out is answered (rule 8)
    // before anything else is decided, quoting it as sent.
    const bool routed = !egress_steps::is_switched(*dest, *port, ends->destination);
    if (routed && egress_steps::ttl_expires(bytes.subspan(ends->l3_offset), ends->v6))
        return router_steps::answer_error(s, *port, f, router_error::time_exceeded, drop_reason::ttl_expired, cfg);

    // Rule 6 (encap) and wire rule 7, decided before rule 5 changes the frame: the outer path,
    // and what an encapsulated packet too big for the underlay becomes; a too-big answer goes
    // back to the VM now, quoting the packet as sent.
    const bool encap = !dest->local && dest->rule == policy::rule::encap && source->rule == policy::rule::encap;
    std::optional<egress_steps::encap_decision> to_fabric;
    if (encap) {
        auto d = egress_steps::decide_encap(s, f, *source, dest->pa, *nvgre::vsid::make(dest->vsid), cfg);
        if (!d) return outcome::dropped(drop_reason::no_next_hop, dest->vsid);
        if (d->size.action == oversize_action::answer) return mtu_steps::answer_too_big(s, *port, f, d->size.inner_mtu, cfg);
        to_fabric = *d;
    }

    // Rule 5: MAC fix-up; a routed packet leaves the router (TTL checked above).
    if (routed) {
        (void)egress_steps::decrement_ttl(bytes.subspan(ends->l3_offset), ends->v6);
        eth->set_source(s.domain(sub.domain).router_mac);
    }
    eth->set_destination(dest->mac);

    // Rule 6: local delivery, NVGRE, or IP rewrite.
    if (dest->local) {
        outcome o;
        o.verdict = verdict::local;
        o.vsid = dest->vsid;
        o.to = destination{destination::kind::vm, dest->mac};
        return o;
    }
    if (!encap) return rewrite_egress(s, f, *source, *dest, cfg);
    return egress_steps::encap_as_decided(f, *to_fabric, sink, cfg);
}

namespace egress_fast {

// egress_burst's fast path: the common frame — unicast IPv4/IPv6 from a port's own static
// address to the destination CA's own record in the same subnet (switched: an on-link route,
// not a gateway address), delivered locally or encapsulated — decided in three
// passes over the burst so that the cache misses of its 32 destination lookups overlap. Any
// frame it cannot decide exactly as egress() would (anything else: ARP, ND, floods, routing
// between subnets, IP rewrite, wildcard or link-local sources, drops) goes to egress()
// untouched: nothing is written to a frame before the fast path is sure of the outcome.

/// What the first pass found for a frame.
struct plan {
    const policy::local_port* port{nullptr};
    const policy::port_source* source{nullptr};
    const policy::route_entry* route{nullptr};
};

/// First pass: true if `f` (from the VM of `port_mac`, whose port is `port`: s.port(port_mac))
/// is a candidate, with `key` the destination record's key. Reads the frame, the port and the
/// route; writes nothing.
[[gnu::always_inline]] inline bool plan_unicast(const policy::state& s, const mac_address& port_mac, const policy::local_port* port,
                         const frame& f, plan& pl, policy::ca_key& key) noexcept {
    using nvgre::detail::load_be16;
    using nvgre::detail::load_u8;
    const std::span<const std::byte> b = f.bytes();
    const std::byte* p = b.data();
    const std::size_t n = b.size();
    if (n < wire::ethernet_header_len + wire::ipv4_min_header_len || (load_u8(p) & 0x01u) != 0) return false;
    if (port == nullptr || mac_address::from_bytes(b.subspan(6, 6)) != port_mac) return false;
    // An untagged IPv4 (no options) or IPv6 (not ICMPv6: ND is answered by egress()) packet
    // that passes the views' checks.
    ip_address source, destination;
    const std::uint16_t type = load_be16(p + 12);
    if (type == wire::ethertype::ipv4) {
        const std::size_t total = load_be16(p + 16);
        if (load_u8(p + 14) != 0x45 || total < wire::ipv4_min_header_len || total > n - wire::ethernet_header_len)
            return false;
        source = ipv4_address::from_bytes(b.subspan(26, 4));
        destination = ipv4_address::from_bytes(b.subspan(30, 4));
    } else if (type == wire::ethertype::ipv6) {
        if (n < wire::ethernet_header_len + wire::ipv6_header_len || (load_u8(p + 14) >> 4) != 6 ||
            wire::ipv6_header_len + load_be16(p + 18) > n - wire::ethernet_header_len ||
            load_u8(p + 20) == wire::ip_protocol::icmpv6)
            return false;
        source = ipv6_address::from_bytes(b.subspan(22, 16));
        destination = ipv6_address::from_bytes(b.subspan(38, 16));
    } else {
        return false;
    }
    // Rule 1 by the port's inline sources: what find_record(domain, source) would return.
    const policy::port_source* src = nullptr;
    for (std::size_t k = 0; k < port->source_count; ++k)
        if (same_address(port->sources[k].ca, source)) {
            src = &port->sources[k];
            break;
        }
    if (src == nullptr) return false;
    // Rule 4: the route. (Its subnet is in this domain: state refuses other customer routes,
    // subnet-not-in-domain, so egress()'s cross-domain check cannot fire here.)
    // Switched frames only: an on-link route (a next hop is routed), not to the router.
    const std::uint32_t domain = port->domain;
    const policy::route_entry* route = s.route(domain, destination);
    if (route == nullptr || !route->on_link()) return false;
    if (router_steps::is_router_address(s, s.subnet_at(port->subnet), route, destination)) return false;
    pl = plan{port, src, route};
    key.scope = domain;
    std::construct_at(&key.address, route->on_link() ? destination : route->next_hop);
    return true;
}

/// Last pass: the outcome egress() gives a planned frame whose destination record is `dest`,
/// with the frame changed as egress() changes it; false (frame untouched) when egress() must
/// decide.
inline bool finish_unicast(const policy::state& s, frame& f, const plan& pl, const policy::record_ref* dest,
                           const pipeline_config& cfg, outcome& o) noexcept {
    // The destination CA's own record in the same subnet only (routing decrements the TTL,
    // a missing record goes to a gateway or is answered: egress()).
    if (dest == nullptr || dest->vsid != pl.route->vsid || dest->vsid != pl.port->vsid) return false;
    // Offload metadata to complete or segment, per-PA MTUs: egress() decides.
    if (f.offload.checksum_partial || f.offload.segment_size != 0 || !cfg.underlay_mtus.empty()) return false;
    if (dest->local) {
        dest->mac.to_bytes(f.bytes().subspan(0, 6));
        o = outcome{};
        o.verdict = verdict::local;
        o.vsid = dest->vsid;
        o.to = destination{destination::kind::vm, dest->mac};
        return true;
    }
    if (dest->rule != policy::rule::encap || pl.source->rule != policy::rule::encap) return false;
    const policy::provider_address& to = s.provider_at(dest->provider);
    if (egress_steps::outer_ip_len(f.size(), to.pa) > cfg.underlay_mtu) return false;
    const mac_address* next_hop = s.next_hop_mac_between(pl.source->provider, dest->provider);
    if (next_hop == nullptr) return false;
    const policy::provider_address& from = s.provider_at(pl.source->provider);
    const nvgre::vsid vsid = *nvgre::vsid::make(dest->vsid);
    dest->mac.to_bytes(f.bytes().subspan(0, 6));
    if (auto r = encapsulate(f, encap_params{from.mac, *next_hop, from.vlan, from.pa, to.pa, vsid, cfg.outer_ttl,
                                             cfg.outer_ipv4_checksum_by_hardware});
        !r) {
        o = outcome::dropped(drop_reason_of(r.error().code), dest->vsid);
        return true;
    }
    o = outcome{};
    o.verdict = verdict::encap;
    o.vsid = dest->vsid;
    o.pa = to.pa;
    o.to = destination{destination::kind::fabric, {}};
    return true;
}

/// egress() for a frame the fast path leaves alone, kept out of line so that the burst loop
/// stays small enough for the compiler to inline the fast path's steps into it.
template <replication_sink Sink>
[[gnu::noinline]] outcome slow(const policy::state& s, const mac_address& port_mac, frame& f, Sink& sink,
                               const pipeline_config& cfg) noexcept {
    return egress(s, port_mac, f, sink, cfg);
}

}  // namespace egress_fast

/// Runs a burst through egress, with the outcomes egress() gives each frame, counted. The
/// common frame (unicast IP from a VM's own address to a VM of its subnet) is decided in
/// passes — ports and routes, then the destination lookups of the whole burst (hash all,
/// prefetch all, then probe: one cache line each), then the frames — so that the lookups'
/// cache misses overlap; every other frame goes through egress().
/// `frames`, `ports` and `out` should have the same size; if they do not, only the first
/// min(sizes) frames are decided (nothing past any of the three spans is read or written) and
/// that number is returned. Never allocates.
template <replication_sink Sink>
std::size_t egress_burst(const policy::state& s, std::span<frame> frames, std::span<const mac_address> ports,
                         std::span<outcome> out, Sink& sink, counters& count, const pipeline_config& cfg = {}) noexcept {
    const std::size_t decided = std::min({frames.size(), ports.size(), out.size()});
    frames = frames.first(decided);
    constexpr std::size_t chunk = 32;
    egress_fast::plan plans[chunk];
    policy::ca_key keys[chunk];
    const policy::record_ref* refs[chunk];
    const policy::local_port* port_of[chunk];
    std::uint8_t planned[chunk];  // planned[k]: the frame of keys[k]
    for (std::size_t base = 0; base < frames.size(); base += chunk) {
        const std::size_t n = std::min(chunk, frames.size() - base);
        // The ports in two steps (their index slots, then the ports themselves), so that the
        // burst's misses on them overlap.
        for (std::size_t i = 0; i < n; ++i) s.prefetch_port(ports[base + i]);
        for (std::size_t i = 0; i < n; ++i) {
            port_of[i] = s.port(ports[base + i]);
            if (port_of[i] != nullptr) {
                NVGRE_CA_TABLE_PREFETCH(port_of[i]);
                NVGRE_CA_TABLE_PREFETCH(reinterpret_cast<const char*>(port_of[i]) + sizeof(policy::local_port) - 1);
            }
        }
        std::size_t k = 0;
        for (std::size_t i = 0; i < n; ++i)
            if (egress_fast::plan_unicast(s, ports[base + i], port_of[i], frames[base + i], plans[k], keys[k]))
                planned[k++] = static_cast<std::uint8_t>(i);
        s.find_refs_batch(std::span<const policy::ca_key>(keys, k), std::span<const policy::record_ref*>(refs, k));
        std::size_t j = 0;
        for (std::size_t i = 0; i < n; ++i) {
            outcome& o = out[base + i];
            bool done = false;
            if (j < k && planned[j] == i) {
                done = egress_fast::finish_unicast(s, frames[base + i], plans[j], refs[j], cfg, o);
                ++j;
            }
            if (!done) o = egress_fast::slow(s, ports[base + i], frames[base + i], sink, cfg);
            count.count(o);
        }
    }
    return decided;
}

}  // namespace nvgre::datapath
