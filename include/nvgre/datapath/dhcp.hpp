/// @file datapath/dhcp.hpp
/// @brief DHCP from policy: the host answers the DHCPv4 messages of the VMs of a subnet with
/// `dhcp=on` itself, as OVN's native DHCP answers from its northbound database
/// (docs/hnv-rules.md "DHCP from policy").
///
/// The answer gives the VM its CA from policy — nothing is leased or remembered, so every host
/// answers alike and a migrated VM keeps its address:
/// - DISCOVER → OFFER of the VM's CA; REQUEST for that CA (option 50, or ciaddr when renewing)
///   → ACK; REQUEST for any other address → NAK; INFORM → ACK without an address or lease;
/// - the client identifier (option 61) echoed, as RFC 6842 requires;
/// - the options (RFC 2132): subnet mask (of the subnet's longest IPv4 on-link route that holds
///   the CA), router and server identifier (the subnet's IPv4 gateway address), DNS servers,
///   lease time with renewal (T1 = 1/2) and rebinding (T2 = 7/8) times;
/// - addressed as RFC 2131 4.1 says: a NAK, and any answer to a client that set the broadcast
///   flag, to 255.255.255.255 and ff:ff:ff:ff:ff:ff; an answer to a client that has an address
///   (ciaddr) to that address; else to the offered address and the client's MAC. From the
///   gateway address and the routing domain's router MAC, UDP 67 → 68, checksummed.
/// Not answered (dropped, each with its reason): a message whose client hardware address is not
/// the port's NIC (spoofed-source), a relayed one (giaddr set) or one that is no BOOTREQUEST or
/// has no message type (unsupported), a REQUEST that names another server and a DECLINE or
/// RELEASE (to-router: for the router, nothing to answer), a port without an IPv4 CA (no-record)
/// or whose CA has no on-link route of its subnet (no-route). The answer is written over the
/// request in place (at least 342 bytes: a BOOTP message is never shorter than 300); a frame
/// without that room is dropped no-buffer. Never allocates.
#pragma once

#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/policy/snapshot.hpp"
#include "nvgre/wire/dhcp.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/udp.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace nvgre::datapath {

namespace detail::dhcp_steps {

/// True if the Ethernet frame (untagged IPv4, checked by the caller's view) is a DHCPv4 client
/// message: an unfragmented UDP datagram from port 68 to port 67.
inline bool is_client_message(std::span<const std::byte> frame, std::size_t continued) noexcept {
    auto ip = wire::ipv4_view::checked(frame.subspan(wire::ethernet_header_len), continued);
    if (!ip || ip->protocol() != wire::ip_protocol::udp || ip->fragment_offset_units() != 0 || ip->more_fragments()) return false;
    const auto l4 = ip->payload();
    return l4.size() >= wire::udp_header_len && nvgre::detail::load_be16(l4.data()) == wire::dhcp_client_port &&
           nvgre::detail::load_be16(l4.data() + 2) == wire::dhcp_server_port;
}

/// True if a client message to `destination` is for the subnet's DHCP server: broadcast, or
/// the subnet's IPv4 gateway address (a renewal goes to the server identifier).
inline bool is_for_server(const policy::subnet_entry& sub, const ip_address& destination) noexcept {
    if (!destination.is_v4()) return false;
    return destination.v4().is_broadcast() || (sub.gateway_v4 && *sub.gateway_v4 == destination.v4());
}

/// The port's customer address a DHCP answer hands out: its first static IPv4 record (ports
/// hold their records in a stable order).
inline std::optional<ipv4_address> address_of(const policy::snapshot& s, const policy::local_port& port) noexcept {
    for (const policy::record_id id : port.records) {
        const policy::record_entry& r = s.record(id);
        if (r.type == policy::record_type::static_record && r.ca.is_v4()) return r.ca.v4();
    }
    return std::nullopt;
}

/// The network mask of a prefix length (0-32).
constexpr ipv4_address mask_of(unsigned length) noexcept {
    return ipv4_address::from_uint(length == 0 ? 0u : ~std::uint32_t{0} << (32 - length));
}

/// Answers the DHCP client message in `f` (is_client_message) from port `port`'s VM, in place
/// (see the file comment).
inline outcome answer(const policy::snapshot& s, const policy::local_port& port, frame& f) noexcept {
    const auto drop = [&port](drop_reason r) { return outcome::dropped(r, port.vsid); };
    const auto bytes = f.bytes();
    auto ip = wire::ipv4_view::checked(bytes.subspan(wire::ethernet_header_len), f.tail.length());
    if (!ip) return drop(drop_reason_of(ip.error().code));
    auto udp = wire::udp_view::checked(ip->payload());
    if (!udp) return drop(drop_reason_of(udp.error().code));
    auto request = wire::dhcp_view::checked(udp->payload());
    if (!request) return drop(drop_reason_of(request.error().code));
    if (request->op() != wire::dhcp_op::boot_request) return drop(drop_reason::unsupported);
    const std::optional<mac_address> client = request->client_mac();
    if (!client || *client != port.mac) return drop(drop_reason::spoofed_source);
    if (!request->giaddr().is_unspecified()) return drop(drop_reason::unsupported);
    const std::optional<std::uint8_t> type = request->message_type();
    if (!type) return drop(drop_reason::unsupported);

    const policy::subnet_entry& sub = s.subnet_at(port.subnet);
    if (!sub.gateway_v4) return drop(drop_reason::unsupported);  // a validated policy has one
    const ipv4_address server = *sub.gateway_v4;
    const std::optional<ipv4_address> ca = address_of(s, port);
    if (!ca) return drop(drop_reason::no_record);
    const policy::route_entry* route = s.route(port.domain, ip_address{*ca});
    if (route == nullptr || !route->on_link() || route->vsid != port.vsid) return drop(drop_reason::no_route);

    // What to answer.
    wire::dhcp_repr reply;
    reply.op = wire::dhcp_op::boot_reply;
    reply.xid = request->xid();
    reply.flags = request->flags();
    reply.ciaddr = request->ciaddr();
    reply.client_mac = port.mac;
    reply.server_identifier = server;
    // RFC 6842: the client identifier comes back unaltered, in every answer.
    if (const auto id = request->option(wire::dhcp_option::client_identifier)) reply.set_client_identifier(*id);
    const bool renewing = !request->ciaddr().is_unspecified();
    bool lease = true;
    switch (*type) {
        case wire::dhcp_message_type::discover:
            reply.message_type = wire::dhcp_message_type::offer;
            reply.ciaddr = ipv4_address{};  // RFC 2131 table 3: 0 in an OFFER
            break;
        case wire::dhcp_message_type::request: {
            if (const auto named = request->server_identifier(); named && *named != server) return drop(drop_reason::to_router);
            const std::optional<ipv4_address> wanted =
                request->requested_address() ? request->requested_address() : renewing ? std::optional(request->ciaddr()) : std::nullopt;
            reply.message_type = wanted && *wanted == *ca ? wire::dhcp_message_type::ack : wire::dhcp_message_type::nak;
            break;
        }
        case wire::dhcp_message_type::inform:
            reply.message_type = wire::dhcp_message_type::ack;
            lease = false;
            break;
        case wire::dhcp_message_type::decline:
        case wire::dhcp_message_type::release: return drop(drop_reason::to_router);
        default: return drop(drop_reason::unsupported);
    }
    const bool nak = reply.message_type == wire::dhcp_message_type::nak;
    if (nak) {
        // RFC 2131 table 3: a NAK carries the server identifier and nothing of the lease.
        reply.ciaddr = ipv4_address{};
    } else {
        if (lease) {
            reply.yiaddr = *ca;
            reply.lease_seconds = sub.lease_seconds;
            // T1 = 1/2 and T2 = 7/8 of the lease (RFC 2131 4.4.5); an infinite lease has neither.
            if (sub.lease_seconds != 0xffffffffu) {
                reply.renewal_seconds = sub.lease_seconds / 2;
                reply.rebinding_seconds = static_cast<std::uint32_t>(std::uint64_t{sub.lease_seconds} * 7 / 8);
            }
        }
        reply.subnet_mask = mask_of(route->prefix_length);
        reply.router = server;
        for (const ipv4_address& d : sub.dns) {
            if (reply.dns_count == reply.dns.size()) break;
            reply.dns[reply.dns_count++] = d;
        }
    }

    // Where it goes (RFC 2131 4.1; no relay: giaddr is 0).
    const bool broadcast = nak || (!renewing && (request->flags() & wire::dhcp_broadcast_flag) != 0);
    const ipv4_address to_ip = broadcast ? ipv4_address::from_uint(0xffffffffu) : renewing ? request->ciaddr() : *ca;
    const mac_address to_mac = broadcast ? mac_address::broadcast() : port.mac;
    const mac_address router_mac = s.domain(port.domain).router_mac;

    // Written over the request: everything read above is in `reply` and the locals.
    const std::size_t message_len = reply.length();
    constexpr std::size_t udp_at = wire::ethernet_header_len + wire::ipv4_min_header_len;
    if (auto grown = f.resize(udp_at + wire::udp_header_len + message_len); !grown) [[unlikely]]
        return drop(drop_reason::no_buffer);
    f.tail = chain{};
    f.offload = offload_info{};
    const std::span<std::byte> out = f.bytes();
    wire::ethernet_repr{to_mac, router_mac, 0, {}, wire::ethertype::ipv4}.emit(out);
    wire::ipv4_repr out_ip;
    out_ip.source = server;
    out_ip.destination = to_ip;
    out_ip.protocol = wire::ip_protocol::udp;
    out_ip.ttl = 64;
    out_ip.payload_len = static_cast<std::uint16_t>(wire::udp_header_len + message_len);
    out_ip.emit(out.subspan(wire::ethernet_header_len));
    wire::udp_repr{wire::dhcp_server_port, wire::dhcp_client_port, static_cast<std::uint16_t>(message_len)}.emit(out.subspan(udp_at));
    reply.emit(out.subspan(udp_at + wire::udp_header_len));
    auto out_udp = wire::mutable_udp_view::checked(out.subspan(udp_at));
    if (out_udp)
        out_udp->fill_checksum(checksum::ipv4_pseudo_header_sum(server, to_ip, wire::ip_protocol::udp,
                                                                static_cast<std::uint16_t>(wire::udp_header_len + message_len)));
    outcome o;
    o.verdict = verdict::reply;
    o.vsid = port.vsid;
    o.to = destination::to_sender(port.mac, port.id);
    return o;
}

}  // namespace detail::dhcp_steps

}  // namespace nvgre::datapath
