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
#include "nvgre/datapath/context.hpp"
#include "nvgre/datapath/dhcp.hpp"
#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/flow_hash.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/mtu.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/proxy.hpp"
#include "nvgre/datapath/rewrite.hpp"
#include "nvgre/datapath/router.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/detail/burst_storage.hpp"
#include "nvgre/policy/snapshot.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/icmp.hpp"
#include "nvgre/wire/icmpv6.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

namespace nvgre::datapath {

namespace detail::egress_steps {

/// read_ip_endpoints for one IP version: `View` is wire::ipv4_view or wire::ipv6_view.
template <class View>
[[gnu::always_inline]] inline bool read_ip_endpoints_as(std::span<const std::byte> l3, std::size_t continued, ip_address& source,
                                                        ip_address& destination, drop_reason& why) noexcept {
    auto ip = View::checked(l3, continued);
    if (!ip) [[unlikely]] {
        why = drop_reason_of(ip.error().code);
        return false;
    }
    std::construct_at(&source, ip->source());
    std::construct_at(&destination, ip->destination());
    return true;
}

/// Reads the IP addresses of an untagged IPv4/IPv6 Ethernet frame into `source` and
/// `destination`. False when the IP view refuses the header — cut short, lying about its length
/// or of the wrong version — with `why` the drop that names it (truncated, bad-length,
/// bad-header-length, bad-version). `continued`: the bytes of a chained frame after `frame`.
/// (A bool and out-parameters rather than a result: the addresses are built where the caller
/// keeps them, with no copy on the per-packet path.)
[[gnu::always_inline]] inline bool read_ip_endpoints(std::span<const std::byte> frame, std::size_t continued, bool v6,
                                                     ip_address& source, ip_address& destination, drop_reason& why) noexcept {
    const auto l3 = frame.subspan(wire::ethernet_header_len);
    return v6 ? read_ip_endpoints_as<wire::ipv6_view>(l3, continued, source, destination, why)
              : read_ip_endpoints_as<wire::ipv4_view>(l3, continued, source, destination, why);
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

/// The record a frame of a port's VM is sent from (rule 1): what egress needs of it after
/// the source check — its PA (the outer source of encapsulated frames) and its rule.
struct sender {
    policy::record_id id{policy::no_record};
    std::uint32_t provider{0};  ///< its PA: provider_at(provider)
    policy::rule rule{policy::rule::encap};
};

/// True if the port's VM may send from `source` (rule 1): a CA of its own in its VSID, or —
/// when it holds a gateway-wildcard record of that IP version — an address that no record of
/// the routing domain holds. `from` receives the record that vouches for it. The port's first
/// static records are held in the port itself (local_port::sources): a source found there is
/// what find_record would return, without the table probe.
[[gnu::always_inline]] inline bool source_allowed(const policy::snapshot& s, const policy::local_port& port, const mac_address& port_mac,
                           const ip_address& source, sender& from) noexcept {
    for (std::size_t k = 0; k < port.source_count; ++k)
        if (port.sources[k].ca == source) {
            from = sender{port.sources[k].id, port.sources[k].provider, port.sources[k].rule};
            return true;
        }
    if (const policy::record_entry* r = s.find_record(port.domain, source); r != nullptr) {
        if (r->vsid != port.vsid || r->mac != port_mac) return false;
        from = sender{s.id_of(*r), r->provider, r->rule};
        return true;
    }
    if (const policy::record_entry* w = s.gateway_wildcard_of_port(port, source.version()); w != nullptr) {
        from = sender{s.id_of(*w), w->provider, w->rule};
        return true;
    }
    return false;
}

/// Any record of the port (the outer source PA of the flooded copies of a link-scope source).
inline bool any_record_of(const policy::snapshot& s, const policy::local_port& port, sender& from) noexcept {
    if (port.records.empty()) return false;
    const policy::record_entry& r = s.record(port.records.front());
    from = sender{port.records.front(), r.provider, r.rule};
    return true;
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

/// The CA a unicast packet to `destination` goes to along `route` (rule 4): the destination
/// itself for an on-link route, the next hop otherwise; its record is looked up in `domain`
/// (the route's subnet's) and must be in the route's VSID.
inline policy::ca_key route_key(std::uint32_t domain, const policy::route_entry& route,
                                const ip_address& destination) noexcept {
    return policy::ca_key{domain, route.on_link() ? destination : route.next_hop};
}

/// The record a unicast packet goes to along `route`, as chosen by choose_record.
struct chosen_record {
    policy::record_ref ref;
    bool indexed{false};  ///< the static record of route_key's CA (not a gateway-wildcard record)
};

/// The record a unicast packet to `destination` goes to along `route` (rule 4), given `found`
/// (the CA index's answer for route_key): that record when it is in the route's VSID; else a
/// gateway-wildcard record of the route's VSID in the packet's IP version, picked among several
/// by the flow hash of `frame` (so every packet of a flow takes the same gateway). Empty when
/// there is none.
inline std::optional<chosen_record> choose_record(const policy::snapshot& s, const policy::route_entry& route,
                                                  const policy::record_ref* found, const ip_address& destination,
                                                  std::span<const std::byte> frame) noexcept {
    if (found != nullptr && found->vsid == route.vsid) return chosen_record{*found, true};
    const auto gateways = s.gateway_wildcards(route.vsid, destination.version());
    if (gateways.empty()) return std::nullopt;
    if (gateways.size() == 1) return chosen_record{s.ref_of(gateways.front()), false};  // no hash needed
    const policy::record_entry* g = s.gateway_for_flow(route.vsid, destination.version(), flow_hash32(frame));
    return chosen_record{s.ref_of(s.id_of(*g)), false};
}

/// True if a packet to `destination` delivered to `dest`, chosen for `key`, is switched (rule
/// 5): `dest` is the destination CA's own static record in the sender's VSID. Anything else is
/// routed.
inline bool is_switched(const chosen_record& dest, const policy::ca_key& key, const policy::local_port& port,
                        const ip_address& destination) noexcept {
    return dest.indexed && dest.ref.vsid == port.vsid && key.address == destination;
}

/// The compiled path from local provider address `source` (the index of the sending record's
/// PA: every record a port sends from is local) to provider address `destination`
/// (state::compiled_path), or why there is none: no-next-hop, or unsupported for PAs of
/// different IP versions. O(1).
[[gnu::always_inline]] inline const packet::compiled_header* path_between(const policy::snapshot& s, std::uint32_t source,
                                                                          std::uint32_t destination, drop_reason& why) noexcept {
    const packet::compiled_header* h = s.compiled_path(source, destination);
    if (h == nullptr) [[unlikely]]
        why = s.next_hop_mac_between(source, destination) == nullptr ? drop_reason::no_next_hop : drop_reason::unsupported;
    return h;
}
/// What a pipeline adds to compiled path `h` for VSID `vsid` (a tenant VSID of the policy).
/// `outer_dscp`: the sending port's classification's (policy::port_settings), or copy_outer_dscp.
[[gnu::always_inline]] inline compiled_encap encap_along(const packet::compiled_header& h, std::uint32_t vsid,
                                                         const pipeline_config& cfg,
                                                         std::uint8_t outer_dscp = copy_outer_dscp) noexcept {
    return compiled_encap{&h, nvgre::vsid::make(vsid).value(), cfg.outer_ttl, cfg.outer_ipv4_checksum_by_hardware, outer_dscp};
}

/// Bytes of the outer IP packet for an inner frame of `inner_len` bytes along compiled path `h`.
inline std::size_t outer_ip_len(std::size_t inner_len, const packet::compiled_header& h) noexcept {
    return inner_len + h.size() - h.ip_offset();
}

/// The path of a unicast frame to be encapsulated, and what its size asks for (wire rule 7).
struct encap_decision {
    compiled_encap path;
    oversize_plan size;
    std::uint32_t provider{destination::none};  ///< the destination PA's index (destination::provider)
};

/// Decides how the frame `f` of the port's VM reaches provider address `destination` (an index)
/// encapsulated along compiled path `h` (path_between) from the sender's PA `source`, and —
/// when the outer packet would exceed the sending PA's underlay MTU, or the VM asked for
/// segmentation (TSO metadata) — segment, fragment or answer too big (datapath/mtu.hpp). Decided before the frame is changed, so that an answer quotes what the
/// VM sent.
[[gnu::always_inline]] inline encap_decision decide_encap(const policy::snapshot& s, const frame& f, std::uint32_t source,
                                                          std::uint32_t destination, const packet::compiled_header& h,
                                                          std::uint32_t vsid, const pipeline_config& cfg,
                                                          std::uint8_t outer_dscp = copy_outer_dscp) noexcept {
    const std::size_t mtu = underlay_mtu_for(cfg, s.provider_at(source).pa);
    const std::size_t outer_len = outer_ip_len(f.total_size(), h);
    if (f.offload.segment_size == 0 && outer_len <= mtu) [[likely]]
        return encap_decision{encap_along(h, vsid, cfg, outer_dscp), oversize_plan{}, destination};
    // The NIC cuts a TSO send only when the whole outer packet's length fits its length field
    // (IPv6: the payload length, after the 40-byte header).
    const bool nic_segments = cfg.segmentation_by_hardware && outer_len <= (h.is_ipv6() ? 65535 + 40 : 65535);
    return encap_decision{encap_along(h, vsid, cfg, outer_dscp), plan_oversize(f, mtu, h.is_ipv6(), cfg.gso, nic_segments), destination};
}

/// Encapsulates `f` as decided by decide_encap (its answer already given): whole, or in
/// segments / fragments through `sink`. A partial checksum of the VM is completed first unless
/// the NIC will (segments get theirs computed anyway, by us or by the NIC's TSO). The outcome
/// on success is `encap`.
template <replication_sink Sink>
[[gnu::always_inline]] inline outcome encap_as_decided(frame& f, const encap_decision& d, Sink& sink, const pipeline_config& cfg) noexcept {
    const std::uint32_t vsid = d.path.vsid.value();
    const bool nic_segments = d.size.action == oversize_action::by_nic;
    if (d.size.action != oversize_action::segment && !nic_segments && !finish_inner_checksum(f, cfg))
        return outcome::dropped(drop_reason::bad_offload, vsid);
    if (d.size.action == oversize_action::segment || d.size.action == oversize_action::fragment)
        return encap_oversize(f, d.size, d.path, sink, destination::to_fabric(d.provider));
    if (!nic_segments) f.offload.segment_size = 0;  // a TSO frame that fits is its own single segment
    if (auto r = encapsulate(f, d.path); !r) return outcome::dropped(drop_reason_of(r.error().code), vsid);
    if (d.path.outer_dscp != copy_outer_dscp) [[unlikely]]
        set_outer_dscp(f, d.path.outer_dscp);
    outcome o;
    o.verdict = verdict::encap;
    o.vsid = vsid;
    o.pa = d.path.header->destination();
    o.to = destination::to_fabric(d.provider);
    return o;
}

/// Answers an ARP request from the port's VM, in place (rule 3).
inline outcome proxy_arp(const policy::snapshot& s, const policy::local_port& port, const mac_address& port_mac,
                         frame& f) noexcept {
    auto q = parse_arp_request(f.bytes());
    // bad_protocol: an ARP that asks nothing (a reply, an unknown op) — the host answers for
    // everyone, so VMs have no one to reply to; anything else is malformed.
    if (!q) return outcome::dropped(q.error().code == errc::bad_protocol ? drop_reason::unsupported : drop_reason::bad_arp, port.vsid);
    sender self;
    if ((q->sender_mac != port_mac && !port.settings.allow_mac_spoofing) || !source_allowed(s, port, port_mac, q->sender_ip, self))
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
    o.to = destination::to_sender(port_mac, port.id);
    return o;
}

/// True if the IPv6 frame at `l3` (`continued` more bytes in a chain) is an ICMPv6
/// neighbor-discovery message (no extension headers).
inline bool is_neighbor_discovery(std::span<const std::byte> l3, std::size_t continued, std::uint8_t& type) noexcept {
    auto ip = wire::ipv6_view::checked(l3, continued);
    if (!ip || ip->next_header() != wire::ip_protocol::icmpv6 || ip->payload().size() < 1) return false;
    type = std::to_integer<std::uint8_t>(ip->payload()[0]);
    return type >= wire::icmpv6_type::router_solicitation && type <= 137;
}

/// Answers a neighbor solicitation from the port's VM, in place (rule 3).
inline outcome proxy_nd(const policy::snapshot& s, const policy::local_port& port, const mac_address& port_mac,
                        frame& f) noexcept {
    auto q = parse_neighbor_solicitation(f.bytes());
    if (!q) return outcome::dropped(drop_reason::bad_arp, port.vsid);  // failed an RFC 4861 7.1.1 validity check
    sender self;
    const bool dad = q->dad;
    // The source must be the VM's: its MAC, and a CA of its own (or link-local, or :: for DAD).
    if (q->source_mac != port_mac && !port.settings.allow_mac_spoofing) return outcome::dropped(drop_reason::spoofed_source, port.vsid);
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
    o.to = destination::to_sender(port_mac, port.id);
    return o;
}

/// Head-end replication of a broadcast / multicast frame of the port's VM (rule 7). Each
/// copy's path is checked before a buffer is taken, so a remote PA that cannot be reached
/// (no next hop, too big for the underlay) costs no buffer and does not stop the others; the
/// outcome is `flood` with the copies that went, and `reason` names the first copy that could
/// not be made (none when all went).
template <replication_sink Sink>
outcome flood(const policy::snapshot& s, const policy::local_port& port, const mac_address& port_mac,
              std::uint32_t source_provider, const frame& f, Sink& sink, const pipeline_config& cfg) noexcept {
    const policy::subnet_entry& sub = s.subnet_at(port.subnet);
    outcome o;
    o.verdict = verdict::flood;
    o.vsid = port.vsid;
    auto missed = [&o](drop_reason r) {
        if (o.reason == drop_reason::none) o.reason = r;
    };
    const std::size_t mtu = underlay_mtu_for(cfg, s.provider_at(source_provider).pa);  // the sending PA's
    for (const policy::flood_pa& remote : sub.remote_pas) {
        drop_reason why = drop_reason::none;
        const packet::compiled_header* h = path_between(s, source_provider, remote.provider, why);
        if (h == nullptr) {
            missed(why);
            continue;
        }
        const compiled_encap path = encap_along(*h, sub.id.value(), cfg, port.settings.outer_dscp);
        // Copies are not segmented or answered: a flood has no one sender to tell.
        if (outer_ip_len(f.total_size(), *h) > mtu) {
            missed(drop_reason::too_big);
            continue;
        }
        frame* copy = clone_of(sink, f, recommended_headroom);
        if (copy == nullptr) {
            missed(drop_reason::no_buffer);
            return o;
        }
        if (auto r = encapsulate(*copy, path); !r) {
            missed(drop_reason_of(r.error().code));
            sink.discard(*copy);
            continue;
        }
        if (path.outer_dscp != copy_outer_dscp) [[unlikely]]
            set_outer_dscp(*copy, path.outer_dscp);
        sink.send(*copy, destination::to_fabric(remote.provider));
        ++o.copies;
    }
    for (const policy::flood_mac& local : sub.local_macs) {
        if (local.mac == port_mac) continue;
        frame* copy = clone_of(sink, f, 0);
        if (copy == nullptr) {
            missed(drop_reason::no_buffer);
            return o;
        }
        sink.send(*copy, destination::to_vm(local.mac, s.port_id_at(local.port)));
        ++o.copies;
    }
    return o;
}

/// UDP source ports of DHCP servers: DHCPv4 (RFC 2131) and DHCPv6 (RFC 8415).
inline constexpr std::uint16_t dhcpv4_server_port = 67;
inline constexpr std::uint16_t dhcpv6_server_port = 547;

/// The drop a port's guards make of an IPv4/IPv6 frame of its VM (`v6` its version; the
/// Ethernet header untagged, checked by the caller): dhcp-guard for a DHCP server message (UDP
/// from port 67, or 547 for DHCPv6), router-guard for an ICMP router advertisement or redirect
/// (ICMPv6 RA or redirect, found behind IPv6 extension headers as RFC 7113 asks); none
/// otherwise. Only a packet's first fragment carries its transport header; a header the frame
/// cuts short is left to the later steps, which drop it as such.
inline drop_reason guarded(const policy::port_settings& settings, std::span<const std::byte> frame, std::size_t continued,
                           bool v6) noexcept {
    const auto l3 = frame.subspan(wire::ethernet_header_len);
    std::uint8_t protocol = 0;
    std::span<const std::byte> l4;
    if (v6) {
        auto ip = wire::ipv6_view::checked(l3, continued);
        if (!ip) return drop_reason::none;
        auto walk = wire::walk_extension_headers(*ip);
        if (!walk || (walk->fragment && walk->fragment_offset_units != 0)) return drop_reason::none;
        protocol = walk->upper_protocol;
        l4 = ip->bytes().subspan(std::min(walk->upper_offset, wire::ipv6_header_len + ip->payload().size()));
    } else {
        auto ip = wire::ipv4_view::checked(l3, continued);
        if (!ip || ip->fragment_offset_units() != 0) return drop_reason::none;
        protocol = ip->protocol();
        l4 = ip->payload();
    }
    if (protocol == wire::ip_protocol::udp && settings.dhcp_guard && l4.size() >= 2) {
        const std::uint16_t source_port = nvgre::detail::load_be16(l4.data());
        if (source_port == (v6 ? dhcpv6_server_port : dhcpv4_server_port)) return drop_reason::dhcp_guard;
    }
    if (settings.router_guard && !l4.empty()) {
        const auto type = std::to_integer<std::uint8_t>(l4[0]);
        if (!v6 && protocol == wire::ip_protocol::icmp && (type == wire::icmp_type::router_advertisement || type == wire::icmp_type::redirect))
            return drop_reason::router_guard;
        if (v6 && protocol == wire::ip_protocol::icmpv6 &&
            (type == wire::icmpv6_type::router_advertisement || type == wire::icmpv6_type::redirect))
            return drop_reason::router_guard;
    }
    return drop_reason::none;
}

static_assert(policy::port_settings::copy_dscp == copy_outer_dscp, "one value means 'copy the inner DSCP'");

/// What egress's first stage (plan_frame) found for a frame, and what is left to do.
enum class egress_step : std::uint8_t {
    drop,       ///< dropped for `reason` (nothing to do)
    arp,        ///< an ARP request: answered from policy (rule 3)
    nd,         ///< a neighbor solicitation: answered from policy (rule 3)
    flood,      ///< broadcast / multicast: head-end replication (rule 7)
    to_router,  ///< addressed to a gateway address: the router answers (rule 8)
    dhcp,       ///< a DHCP client message in a subnet with dhcp=on: answered from policy
    no_route,   ///< no customer route: net unreachable (rule 8)
    unicast,    ///< routed or switched toward the record of `key` (rules 4-6)
};

/// The first stage of egress for one frame: everything decided before the destination record
/// is looked up. Reads the frame, the port and the routes; changes nothing, so a burst plans
/// every frame first and then looks all their destinations up at once.
struct egress_plan {
    // The two addresses live in unions: left unbuilt by the constructor (a zeroed key and
    // address cost a block fill per frame, rep stos, before plan_frame writes them) and built
    // by plan_frame (std::construct_at) on the paths that read them.
    egress_plan() noexcept {}

    egress_step step{egress_step::drop};
    drop_reason reason{drop_reason::none};
    std::uint32_t vsid{0};                    ///< of a drop
    const policy::local_port* port{nullptr};  ///< the sender's port (all steps but some drops)
    sender from;                              ///< flood, unicast: the record sent from
    const policy::route_entry* route{nullptr};  ///< unicast
    union {
        policy::ca_key key;                   ///< unicast only: the destination record's key (route_key)
    };
    union {
        ip_address destination;               ///< flood, router, unicast: the IP destination
    };
    bool v6{false};                           ///< unicast: IPv6 (the IP header follows the 14-byte Ethernet header)
};
static_assert(std::is_trivially_copyable_v<policy::ca_key> && std::is_trivially_copyable_v<ip_address> &&
              std::is_trivially_destructible_v<egress_plan>);

/// Makes `p` a plan that drops the frame for `r` (plan_frame returns its one named plan on every
/// path, so that the plan is built in place, never copied).
inline void drop_plan(egress_plan& p, drop_reason r, std::uint32_t vsid = 0) noexcept {
    p.step = egress_step::drop;
    p.reason = r;
    p.vsid = vsid;
}

/// Stage 1 of egress (rules 1, 2, 4 and the dispatch of 3, 7 and 8) for frame `f` received on
/// VM port `port` (s.port(mac) or s.port_by_id(id), looked up by the caller so that a burst can
/// overlap those lookups; nullptr: no such port).
[[gnu::always_inline]] inline egress_plan plan_frame(const policy::snapshot& s, const policy::local_port* port,
                              const frame& f) noexcept {
    egress_plan p;
    const auto bytes = f.bytes();
    // A chained frame with a short first segment is split-headers, as the parser names it.
    if (!f.headers_in_first_segment()) [[unlikely]] {
        drop_plan(p, drop_reason::split_headers);
        return p;
    }
    auto eth = wire::ethernet_view::checked(bytes);
    if (!eth) {
        drop_plan(p, drop_reason::truncated);
        return p;
    }
    if (port == nullptr) {
        drop_plan(p, drop_reason::unknown_port);
        return p;
    }
    // Rule 1: the frame's source MAC is the port's VM (any, when its classification allows
    // MAC spoofing: the IP source is still checked).
    const mac_address& port_mac = port->mac;
    if (eth->source() != port_mac && !port->settings.allow_mac_spoofing) {
        drop_plan(p, drop_reason::spoofed_source, port->vsid);
        return p;
    }
    // Rule 2: no VLAN tags from VMs; IPv4, IPv6 and ARP only.
    if (eth->tag_count() != 0) {
        drop_plan(p, drop_reason::vlan_tagged, port->vsid);
        return p;
    }
    p.port = port;
    const std::uint16_t type = eth->ether_type();
    if (type == wire::ethertype::arp) {
        p.step = egress_step::arp;
        return p;
    }
    if (type != wire::ethertype::ipv4 && type != wire::ethertype::ipv6) {
        drop_plan(p, drop_reason::unsupported_ethertype, port->vsid);
        return p;
    }

    // The port's guards: DHCP server messages, router advertisements and redirects.
    if (port->settings.dhcp_guard || port->settings.router_guard) [[unlikely]] {
        if (const drop_reason r = guarded(port->settings, bytes, f.tail.length(), type == wire::ethertype::ipv6);
            r != drop_reason::none) {
            drop_plan(p, r, port->vsid);
            return p;
        }
    }

    // Rule 3 (IPv6): neighbor solicitations are answered; other ND messages stay local.
    std::uint8_t nd_type = 0;
    if (type == wire::ethertype::ipv6 && is_neighbor_discovery(bytes.subspan(wire::ethernet_header_len), f.tail.length(), nd_type)) {
        if (nd_type != wire::icmpv6_type::neighbor_solicitation) {
            drop_plan(p, drop_reason::unsupported, port->vsid);
            return p;
        }
        p.step = egress_step::nd;
        return p;
    }

    const bool v6 = type == wire::ethertype::ipv6;
    ip_address source;
    drop_reason why = drop_reason::none;
    if (!read_ip_endpoints(bytes, f.tail.length(), v6, source, p.destination, why)) {
        drop_plan(p, why, port->vsid);
        return p;
    }
    const bool multicast = eth->destination().is_multicast();

    // DHCP from policy: a client's message in a subnet with dhcp=on, broadcast or to the
    // gateway (a renewal), is the host's to answer; its source may be 0.0.0.0 (a client
    // without an address yet) or the VM's own CA.
    if (!v6 && s.subnet_at(port->subnet).dhcp && detail::dhcp_steps::is_client_message(bytes, f.tail.length()) &&
        detail::dhcp_steps::is_for_server(s.subnet_at(port->subnet), p.destination)) [[unlikely]] {
        if (!source.is_unspecified() && !source_allowed(s, *port, port_mac, source, p.from)) {
            drop_plan(p, drop_reason::spoofed_source, port->vsid);
            return p;
        }
        p.step = egress_step::dhcp;
        return p;
    }

    // Rule 1: the source address is the VM's (IPv6 link-local or :: only for link-scope multicast).
    if (!source_allowed(s, *port, port_mac, source, p.from)) {
        const bool link_scope = is_link_scope_source(source) && multicast;
        if (!link_scope || !any_record_of(s, *port, p.from)) {
            drop_plan(p, drop_reason::spoofed_source, port->vsid);
            return p;
        }
    }

    // Rule 7: broadcast / multicast → head-end replication within the VSID.
    if (multicast) {
        p.step = egress_step::flood;
        return p;
    }

    // Rule 4: the route; rule 8: a gateway address is the router's own.
    const policy::subnet_entry& sub = s.subnet_at(port->subnet);
    const policy::route_entry* route = s.route(sub.domain, p.destination);
    if (detail::router_steps::is_router_address(s, sub, route, p.destination)) {
        p.step = egress_step::to_router;
        return p;
    }
    if (route == nullptr) {
        p.step = egress_step::no_route;
        return p;
    }
    p.step = egress_step::unicast;
    p.route = route;
    std::construct_at(&p.key, route_key(s.subnet_at(route->subnet).domain, *route, p.destination));
    p.v6 = v6;
    return p;
}

/// Stage 2 of a planned unicast frame (rules 4-6), `found` being the CA index's answer for its
/// key (state::find_ref).
template <replication_sink Sink>
[[gnu::always_inline]] inline outcome decide_unicast(const policy::snapshot& s, const egress_plan& p, const policy::record_ref* found, frame& f,
                       Sink& sink, const pipeline_config& cfg, icmp_rate_limiter* limiter) noexcept {
    const policy::local_port& port = *p.port;
    const policy::route_entry& route = *p.route;
    const auto bytes = f.bytes();
    // Rule 4: the record of (route VSID, destination or next hop), else a gateway; rule 8:
    // what goes no further is answered.
    const auto dest = choose_record(s, route, found, p.destination, bytes);
    if (!dest) return detail::router_steps::answer_error(s, port, f, router_error::host_unreachable, drop_reason::no_record, limiter);
    const std::uint32_t domain = port.domain;
    if (p.key.scope != domain) return outcome::dropped(drop_reason::cross_domain, dest->ref.vsid);
    // Rule 5: switched or routed; a routed packet whose TTL runs out is answered (rule 8)
    // before anything else is decided, quoting it as sent.
    const bool routed = !is_switched(*dest, p.key, port, p.destination);
    const auto l3 = bytes.subspan(wire::ethernet_header_len);
    if (routed && ttl_expires(l3, p.v6))
        return detail::router_steps::answer_error(s, port, f, router_error::time_exceeded, drop_reason::ttl_expired, limiter);

    const policy::record_ref& to = dest->ref;
    // Rule 5: MAC fix-up; a routed packet leaves the router (TTL checked above). Done once the
    // rule 6 decision below has been taken on the frame as sent.
    const auto fix_up = [&] {
        auto eth = wire::mutable_ethernet_view::unchecked(bytes);
        if (routed) {
            (void)decrement_ttl(l3, p.v6);
            eth.set_source(s.domain(domain).router_mac);
        }
        eth.set_destination(to.mac);
    };

    // Rule 6: local delivery, NVGRE, or IP rewrite. Encap and rewrite are decided before rule 5
    // changes the frame: the outer path, and what a packet too big for the underlay becomes (a
    // too-big answer goes back to the VM now, quoting the packet as sent); a rewrite's drops
    // leave the frame as sent. (Each decision is built on its own path only.)
    if (to.local) {
        fix_up();
        outcome o;
        o.verdict = verdict::local;
        o.vsid = to.vsid;
        o.to = destination::to_vm(to.mac, s.port_id_at(to.port));
        return o;
    }
    if (to.rule == policy::rule::encap && p.from.rule == policy::rule::encap) {
        drop_reason why = drop_reason::none;
        const packet::compiled_header* h = path_between(s, p.from.provider, to.provider, why);
        if (h == nullptr) return outcome::dropped(why, to.vsid);
        const encap_decision d = decide_encap(s, f, p.from.provider, to.provider, *h, to.vsid, cfg, port.settings.outer_dscp);
        if (d.size.action == oversize_action::answer) return mtu_steps::answer_too_big(s, port, f, d.size.inner_mtu, limiter);
        fix_up();
        return encap_as_decided(f, d, sink, cfg);
    }
    const policy::record_entry& sender = s.record(p.from.id);
    const policy::record_entry& receiver = s.record(to.id);
    rewrite_steps::egress_rewrite d;
    if (const auto r = rewrite_steps::decide_egress(s, f, sender, receiver, cfg, d); r != drop_reason::none)
        return outcome::dropped(r, to.vsid);
    if (d.size.action == oversize_action::answer) return mtu_steps::answer_too_big(s, port, f, d.size.inner_mtu, limiter);
    fix_up();
    return rewrite_steps::rewrite_as_decided(s, f, sender, receiver, d, sink, cfg);
}

/// Stage 2 of egress: carries out plan `p` of frame `f`, `found` being state::find_ref(p.key)
/// for a unicast plan (ignored otherwise); the router's answers go within `limiter` (null:
/// unlimited).
template <replication_sink Sink>
[[gnu::always_inline]] inline outcome decide(const policy::snapshot& s, const egress_plan& p,
               const policy::record_ref* found, frame& f, Sink& sink, const pipeline_config& cfg,
               icmp_rate_limiter* limiter) noexcept {
    switch (p.step) {
        case egress_step::drop: return outcome::dropped(p.reason, p.vsid);
        case egress_step::arp: return proxy_arp(s, *p.port, p.port->mac, f);
        case egress_step::nd: return proxy_nd(s, *p.port, p.port->mac, f);
        case egress_step::flood:
            // The copies leave finished: a pending partial checksum is completed first.
            if (!finish_inner_checksum(f, cfg)) return outcome::dropped(drop_reason::bad_offload, p.port->vsid);
            return flood(s, *p.port, p.port->mac, p.from.provider, f, sink, cfg);
        case egress_step::to_router: return detail::router_steps::answer_to_router(s, *p.port, f, limiter);
        case egress_step::dhcp: return detail::dhcp_steps::answer(s, *p.port, f);
        case egress_step::no_route:
            return detail::router_steps::answer_error(s, *p.port, f, router_error::net_unreachable, drop_reason::no_route, limiter);
        case egress_step::unicast: return decide_unicast(s, p, found, f, sink, cfg, limiter);
    }
    return outcome::dropped(drop_reason::unsupported, p.vsid);  // unreachable: every step is handled above
}

/// The per-port counter index in `ctx` of the port a frame came in on (every frame of it, the ones
/// dropped for their source MAC or tag too): the embedder's index of the port
/// (state::bind_port; an unbound port counts in context::port_other), context::no_port when
/// the frame came from no known port or `ctx` counts no ports.
inline std::size_t port_index_of(const policy::local_port* port, const context& ctx) noexcept {
    if (port == nullptr || !ctx.counts_ports()) return context::no_port;
    return port->id == policy::no_port ? context::unbound_port : port->id;
}

/// How a burst names its ports: by the MAC of the VM NIC (hashed into the port index, which
/// a burst prefetches first) or by the embedder's index (state::bind_port: an array read).
inline void prefetch_port(const policy::snapshot& s, const mac_address& mac) noexcept { s.prefetch_port(mac); }
inline void prefetch_port(const policy::snapshot&, std::uint32_t) noexcept {}
inline const policy::local_port* find_port(const policy::snapshot& s, const mac_address& mac) noexcept { return s.port(mac); }
inline const policy::local_port* find_port(const policy::snapshot& s, std::uint32_t id) noexcept { return s.port_by_id(id); }

/// Stage 2 within the ports' bandwidth limits (the port's own toward the fabric, the receiving
/// port's on a local delivery): decide() on a frame the sending port's bucket admits, then its
/// bytes charged when it went.
/// `now`: the context's clock for the burst, read by the first frame that needs it (0: not yet).
template <replication_sink Sink>
[[gnu::always_inline]] inline outcome decide_metered(const policy::snapshot& s, const egress_plan& p, const policy::record_ref* found,
                                                     frame& f, std::size_t received, Sink& sink, const pipeline_config& cfg,
                                                     context* ctx, std::uint64_t& now) noexcept {
    if (ctx == nullptr) return decide(s, p, found, f, sink, cfg, nullptr);
    const bool metered = p.port != nullptr && p.port->settings.metered();
    if (metered) [[unlikely]] {
        if (now == 0) now = ctx->now_ns();  // one clock read per burst: its frames arrived together
        if (!ctx->admits_from_vm(*p.port, received, now)) return outcome::dropped(drop_reason::rate_limited, p.port->vsid);
    }
    outcome o = decide(s, p, found, f, sink, cfg, ctx->limiter());
    if (o.verdict == verdict::local) [[unlikely]]
        ctx->meter_delivery(s, o, f);
    if (metered && o.verdict != verdict::drop) [[unlikely]]
        ctx->charge_from_vm(*p.port, received, now);
    return o;
}

/// Both stages for one frame received on VM port `port` (what every egress() runs): the plan,
/// the destination lookup of a unicast plan, the decision; then, with a context, the count and
/// the trace hook (without one: nothing counted, the router's answers unlimited).
template <replication_sink Sink>
outcome run_frame(const policy::snapshot& s, const policy::local_port* port, frame& f, Sink& sink, context* ctx,
                  const pipeline_config& cfg) noexcept {
    const std::size_t received = f.total_size();
    const egress_plan p = plan_frame(s, port, f);
    const policy::record_ref* found = p.step == egress_step::unicast ? s.find_ref(p.key.scope, p.key.address) : nullptr;
    std::uint64_t now = 0;
    const outcome o = decide_metered(s, p, found, f, received, sink, cfg, ctx, now);
    if (ctx != nullptr) ctx->record(0, f, o, port_index_of(port, *ctx), received);
    return o;
}

/// egress_burst over ports named by `PortKey` (mac_address or the embedder's std::uint32_t).
template <class PortKey, replication_sink Sink>
std::size_t run_burst(const policy::snapshot& s, std::span<frame> frames, std::span<const PortKey> ports,
                      std::span<outcome> out, Sink& sink, context& ctx, const pipeline_config& cfg) noexcept {
    const std::size_t decided = std::min({frames.size(), ports.size(), out.size()});
    frames = frames.first(decided);
    constexpr std::size_t chunk = 32;
    nvgre::detail::burst_storage<egress_plan, chunk> plans;
    nvgre::detail::burst_storage<policy::ca_key, chunk> keys;
    const policy::record_ref* refs[chunk];
    const policy::local_port* port_of[chunk];
    for (std::size_t base = 0; base < frames.size(); base += chunk) {
        const std::size_t n = std::min(chunk, frames.size() - base);
        for (std::size_t i = 0; i < n; ++i) prefetch_port(s, ports[base + i]);
        for (std::size_t i = 0; i < n; ++i) {
            port_of[i] = find_port(s, ports[base + i]);
            if (port_of[i] != nullptr) {
                NVGRE_CA_TABLE_PREFETCH(port_of[i]);
                NVGRE_CA_TABLE_PREFETCH(reinterpret_cast<const char*>(port_of[i]) + sizeof(policy::local_port) - 1);
            }
        }
        std::size_t k = 0;
        for (std::size_t i = 0; i < n; ++i) {
            // Placement new of the prvalue: built in place, not copied.
            ::new (static_cast<void*>(plans.at(i))) egress_plan(plan_frame(s, port_of[i], frames[base + i]));
            if (plans[i].step == egress_step::unicast) std::construct_at(keys.at(k++), plans[i].key);
            if (plans[i].port != nullptr) ctx.prefetch_meter(*plans[i].port);
        }
        s.find_refs_batch(std::span<const policy::ca_key>(keys.data(), k), std::span<const policy::record_ref*>(refs, k));
        std::size_t j = 0;
        std::uint64_t now = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const policy::record_ref* found = plans[i].step == egress_step::unicast ? refs[j++] : nullptr;
            const std::size_t received = frames[base + i].total_size();
            out[base + i] = decide_metered(s, plans[i], found, frames[base + i], received, sink, cfg, &ctx, now);
            ctx.record(base + i, frames[base + i], out[base + i], port_index_of(port_of[i], ctx), received);
        }
    }
    return decided;
}

}  // namespace detail::egress_steps

/// Runs one frame sent by the VM whose NIC has `port_mac` (the port the embedder received it
/// on) through the egress pipeline: plan_frame, the destination lookup, decide — the stages
/// egress_burst runs over a whole burst — then counts it in `ctx` (and calls its trace hook
/// with index 0); the router's answers go within ctx's rate limit. On `encap`, `local`, `reply`
/// (and `rewrite`) the frame is changed in place and goes to `outcome::to`; on `flood` (and
/// encap / rewrite in pieces, `copies` != 0) the copies went through `sink` and the original is
/// no longer needed; on `drop` the frame may have been partly changed.
/// Preconditions: `f` holds an Ethernet frame without FCS, with recommended_headroom (66+)
/// bytes in front for encapsulation (less: drop no-headroom); `cfg` passes validate(). Never
/// allocates.
template <replication_sink Sink>
outcome egress(const policy::snapshot& s, const mac_address& port_mac, frame& f, Sink& sink, context& ctx,
               const pipeline_config& cfg = {}) noexcept {
    return detail::egress_steps::run_frame(s, s.port(port_mac), f, sink, &ctx, cfg);
}

/// egress() for a frame received on the embedder's port `port_id` (state::bind_port): the port
/// is an array read, not a hash of the MAC. An unbound port is unknown-port. Otherwise the same.
template <replication_sink Sink>
outcome egress(const policy::snapshot& s, std::uint32_t port_id, frame& f, Sink& sink, context& ctx,
               const pipeline_config& cfg = {}) noexcept {
    return detail::egress_steps::run_frame(s, s.port_by_id(port_id), f, sink, &ctx, cfg);
}

/// egress() without a context: nothing counted, the router's answers unlimited.
template <replication_sink Sink>
outcome egress(const policy::snapshot& s, const mac_address& port_mac, frame& f, Sink& sink,
               const pipeline_config& cfg = {}) noexcept {
    return detail::egress_steps::run_frame(s, s.port(port_mac), f, sink, nullptr, cfg);
}
/// egress() by the embedder's port index, without a context.
template <replication_sink Sink>
outcome egress(const policy::snapshot& s, std::uint32_t port_id, frame& f, Sink& sink,
               const pipeline_config& cfg = {}) noexcept {
    return detail::egress_steps::run_frame(s, s.port_by_id(port_id), f, sink, nullptr, cfg);
}

/// Runs a burst through egress: the stages of egress() over the whole burst — the ports (their
/// index slots, then the ports themselves), every frame's plan, the destination lookups of all
/// of them (hash all, prefetch all, then probe: one cache line each), then each frame's
/// decision in order — so that the cache misses overlap. Each frame gets the outcome egress()
/// gives it and is counted in `ctx` (its trace hook called) before the next is decided; the
/// sink sees the same traffic in the same order. `ports[i]` names the port frame i came in on:
/// the MAC of its VM NIC, or (the overload below) the embedder's port index.
/// `frames`, `ports` and `out` should have the same size; if they do not, only the first min(sizes) frames are decided (nothing past any of the three spans is
/// read or written) and that number is returned. Never allocates.
template <replication_sink Sink>
std::size_t egress_burst(const policy::snapshot& s, std::span<frame> frames, std::span<const mac_address> ports,
                         std::span<outcome> out, Sink& sink, context& ctx, const pipeline_config& cfg = {}) noexcept {
    return detail::egress_steps::run_burst(s, frames, ports, out, sink, ctx, cfg);
}
/// egress_burst with the embedder's port indices (state::bind_port).
template <replication_sink Sink>
std::size_t egress_burst(const policy::snapshot& s, std::span<frame> frames, std::span<const std::uint32_t> ports,
                         std::span<outcome> out, Sink& sink, context& ctx, const pipeline_config& cfg = {}) noexcept {
    return detail::egress_steps::run_burst(s, frames, ports, out, sink, ctx, cfg);
}

}  // namespace nvgre::datapath
