/// @file datapath/router.hpp
/// @brief The distributed router's own answers to a VM of this host (docs/hnv-rules.md, egress
/// rule 8): echo replies for the domain's gateway addresses, and the ICMP errors for packets
/// that go no further — destination unreachable (no route / no record), time exceeded, too big.
///
/// Every answer goes back to the sending VM's port from the router MAC of its routing domain:
/// - an error comes from the gateway address of the sender's subnet in the packet's IP
///   version; a subnet without one sends none (the packet is dropped with its reason), except
///   too big, which then comes from the packet's destination so that path-MTU discovery never
///   black-holes;
/// - an error quotes the packet as the VM sent it (the callers answer before changing it) and
///   is never sent for an ICMP error, a non-first fragment or a multicast / broadcast
///   (icmp_error_answerable);
/// - all answers share the thread's rate limiter (context::limit_answers), one budget
///   per (routing domain, source CA);
/// - the outcome is `reply` toward the sender, carrying the reason of the packet that went no
///   further (no-route, no-record, ttl-expired, too-big) for errors, none for echo replies; an
///   answer that may not be sent leaves the packet dropped with that same reason.
/// Never allocates; the answer is built in the VM's frame.
#pragma once

#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/icmp_answer.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/policy/snapshot.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"

#include <cstdint>
#include <optional>
#include <span>

namespace nvgre::datapath::detail::router_steps {

/// The gateway address of subnet `sub` in IPv6 (`v6`) or IPv4, if it has one.
[[nodiscard]] inline std::optional<ip_address> gateway_address(const policy::subnet_entry& sub, bool v6) noexcept {
    if (v6) return sub.gateway_v6 ? std::optional<ip_address>(*sub.gateway_v6) : std::nullopt;
    return sub.gateway_v4 ? std::optional<ip_address>(*sub.gateway_v4) : std::nullopt;
}

/// True if `a` is subnet `sub`'s gateway address of its IP version (no optional built: this
/// runs for every frame of egress_burst's fast path).
[[nodiscard]] inline bool is_gateway_of(const policy::subnet_entry& sub, const ip_address& a) noexcept {
    if (a.is_v6()) return sub.gateway_v6 && a.v6() == *sub.gateway_v6;
    return sub.gateway_v4 && a.v4() == *sub.gateway_v4;
}

/// True if `destination` is a gateway address of the routing domain: the sender's subnet's
/// (`own`), or that of the subnet its longest-prefix route leads to (`route`, may be null). A
/// gateway address outside every prefix of its own subnet is seen only from that subnet.
[[nodiscard]] inline bool is_router_address(const policy::snapshot& s, const policy::subnet_entry& own,
                                            const policy::route_entry* route, const ip_address& destination) noexcept {
    if (is_gateway_of(own, destination)) return true;
    if (route == nullptr) return false;
    const policy::subnet_entry& other = s.subnet_at(route->subnet);
    return &other != &own && is_gateway_of(other, destination);
}

/// The IP source of the packet in `frame` (untagged Ethernet, validated IP header at 14).
[[nodiscard]] inline ip_address packet_source(std::span<const std::byte> frame) noexcept {
    const auto l3 = frame.subspan(wire::ethernet_header_len);
    if (wire::ethernet_view::unchecked(frame).ether_type() == wire::ethertype::ipv6)
        return ip_address{wire::ipv6_view::unchecked(l3).source()};
    return ip_address{wire::ipv4_view::unchecked(l3).source()};
}

/// The IP destination of the packet in `frame` (as packet_source).
[[nodiscard]] inline ip_address packet_destination(std::span<const std::byte> frame) noexcept {
    const auto l3 = frame.subspan(wire::ethernet_header_len);
    if (wire::ethernet_view::unchecked(frame).ether_type() == wire::ethertype::ipv6)
        return ip_address{wire::ipv6_view::unchecked(l3).destination()};
    return ip_address{wire::ipv4_view::unchecked(l3).destination()};
}

/// True if the rate limit lets an answer go to the sender of `frame` in `domain`.
/// (`limiter`: the thread's, datapath/context.hpp; null: unlimited.)
[[nodiscard]] inline bool answer_allowed(std::uint32_t domain, std::span<const std::byte> frame,
                                         icmp_rate_limiter* limiter) noexcept {
    return limiter == nullptr || limiter->allow_in(domain, packet_source(frame));
}

/// Answers the unicast IP frame `f` of the VM on `port` with error `e` in place (see the file
/// comment), `reason` being why the packet went no further; `mtu` is the usable MTU of a too-big
/// answer. The outcome is `reply` with `reason`, or a drop with `reason` when no answer may go.
inline outcome answer_error(const policy::snapshot& s, const policy::local_port& port, frame& f, router_error e,
                            drop_reason reason, icmp_rate_limiter* limiter, std::uint32_t mtu = 0) noexcept {
    const auto bytes = std::span<const std::byte>(f.bytes());
    if (!icmp_error_answerable(bytes)) return outcome::dropped(reason, port.vsid);
    const bool v6 = wire::ethernet_view::unchecked(bytes).ether_type() == wire::ethertype::ipv6;
    const policy::subnet_entry& sub = s.subnet_at(port.subnet);
    std::optional<ip_address> from = gateway_address(sub, v6);
    if (!from) {
        if (e != router_error::too_big) return outcome::dropped(reason, port.vsid);
        from = packet_destination(bytes);
    }
    if (!answer_allowed(sub.domain, bytes, limiter)) return outcome::dropped(reason, port.vsid);
    if (!make_icmp_error(f, s.domain(sub.domain).router_mac, *from, icmp_error_for(e, v6, mtu)))
        return outcome::dropped(reason, port.vsid);
    outcome o;
    o.verdict = verdict::reply;
    o.reason = reason;
    o.vsid = port.vsid;
    o.to = destination::to_sender(port.mac, port.id);
    return o;
}

/// A unicast IP frame of the VM on `port` addressed to a gateway address of its domain: for
/// the router itself. An echo request gets its echo reply in place (within the rate limit);
/// anything else is dropped as to-router.
inline outcome answer_to_router(const policy::snapshot& s, const policy::local_port& port, frame& f,
                                icmp_rate_limiter* limiter) noexcept {
    const auto bytes = std::span<const std::byte>(f.bytes());
    if (!is_echo_request(bytes)) return outcome::dropped(drop_reason::to_router, port.vsid);
    const policy::subnet_entry& sub = s.subnet_at(port.subnet);
    if (!answer_allowed(sub.domain, bytes, limiter)) return outcome::dropped(drop_reason::to_router, port.vsid);
    make_echo_reply(f, s.domain(sub.domain).router_mac);
    outcome o;
    o.verdict = verdict::reply;
    o.vsid = port.vsid;
    o.to = destination::to_sender(port.mac, port.id);
    return o;
}

}  // namespace nvgre::datapath::detail::router_steps
