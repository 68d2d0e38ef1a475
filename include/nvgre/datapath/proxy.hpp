/// @file datapath/proxy.hpp
/// @brief ARP and IPv6 Neighbor Discovery proxy (HNV egress rule 3): parse the question a VM
/// asks, and turn the same frame, in place, into the answer that goes back to it (verdict
/// `reply`).
///
/// The egress pipeline decides *whether* to answer and *with which MAC* (from policy: the
/// record's MAC for a CA of the routing domain, the domain's router MAC for a subnet gateway).
/// This header only parses and builds. Nothing allocates or throws.
///
/// Error contract of the parsers (offsets are from the start of the frame):
/// - errc::bad_protocol — the frame is not this kind of question (another EtherType, a VLAN tag,
///   an ARP reply, another ICMPv6 type, another upper protocol): not an error of the frame, the
///   caller handles it some other way;
/// - anything else — the frame claims to be the question but is malformed or fails a validity
///   check: the caller drops it (RFC 4861 section 7.1.1: "silently discard").
#pragma once

#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/wire/arp.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/icmpv6.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv6.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace nvgre::datapath {

/// Ethernet + ARP: 14 + 28 = 42 bytes, the unpadded ARP frame.
inline constexpr std::size_t arp_frame_len = wire::ethernet_header_len + wire::arp_ipv4_len;
/// The minimum Ethernet frame without FCS (IEEE 802.3: 64 with FCS): ARP replies are padded up
/// to this when the request was.
inline constexpr std::size_t ethernet_min_frame_len = 60;
/// Ethernet + IPv6 + NA + target link-layer address option: 14 + 40 + 24 + 8 = 86 bytes.
inline constexpr std::size_t neighbor_advertisement_frame_len =
    wire::ethernet_header_len + wire::ipv6_header_len + wire::icmpv6_nd_header_len + wire::nd_link_layer_option_len;
/// The smallest valid NS frame: 14 + 40 + 24 = 78 bytes.
inline constexpr std::size_t neighbor_solicitation_min_frame_len =
    wire::ethernet_header_len + wire::ipv6_header_len + wire::icmpv6_nd_header_len;

/// All-nodes multicast ff02::1 (RFC 4291 section 2.7.1): where a DAD defence goes (RFC 4861
/// section 7.2.4).
inline constexpr ipv6_address ipv6_all_nodes{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}};
/// Its Ethernet mapping 33:33:00:00:00:01 (RFC 2464 section 7).
inline constexpr mac_address ethernet_all_nodes{{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}};

/// What an ARP request asks: "who has `target_ip`? tell `sender_ip` at `sender_mac`".
struct arp_question {
    mac_address sender_mac{};   ///< the ARP sender hardware address: where the reply goes
    ipv4_address sender_ip{};   ///< 0.0.0.0 for an RFC 5227 probe
    ipv4_address target_ip{};   ///< the address to resolve (== sender_ip for a gratuitous ARP)
    friend constexpr bool operator==(const arp_question&, const arp_question&) noexcept = default;
};

/// What a Neighbor Solicitation asks (RFC 4861 section 4.3).
struct nd_question {
    mac_address source_mac{};  ///< the Ethernet source: where the advertisement goes
    ipv6_address source_ip{};  ///< the IPv6 source; :: for duplicate address detection
    ipv6_address target{};     ///< the address to resolve (never multicast)
    /// The source link-layer address option, if any (never present when `dad`).
    std::optional<mac_address> source_link_layer{};
    /// Duplicate address detection (RFC 4862 section 5.4): source ::, destination a
    /// solicited-node multicast address.
    bool dad{false};
    friend constexpr bool operator==(const nd_question&, const nd_question&) noexcept = default;
};

namespace detail {
/// ff02::1:ff00:0/104 (RFC 4291 section 2.7.1).
[[nodiscard]] constexpr bool is_solicited_node_multicast(const ipv6_address& a) noexcept {
    const auto& o = a.octets();
    if (o[0] != 0xff || o[1] != 0x02 || o[11] != 0x01 || o[12] != 0xff) return false;
    for (std::size_t i = 2; i < 11; ++i)
        if (o[i] != 0) return false;
    return true;
}
/// True for the next-header values walk_extension_headers() treats as extension headers.
[[nodiscard]] constexpr bool is_ipv6_extension_header(std::uint8_t nh) noexcept {
    return nh == wire::ip_protocol::hop_by_hop || nh == wire::ip_protocol::ipv6_routing ||
           nh == wire::ip_protocol::ipv6_destination_options || nh == wire::ip_protocol::ah ||
           nh == wire::ip_protocol::ipv6_fragment;
}
}  // namespace detail

/// Parses an untagged Ethernet frame holding an Ethernet/IPv4 ARP request (op 1). Bytes after
/// the 42 (Ethernet padding) are ignored. Sender address 0.0.0.0 (RFC 5227 probe) and sender ==
/// target (gratuitous ARP) are accepted and reported as such: whether to answer them is policy.
///
/// Errors (offsets from the start of the frame):
/// - shorter than 14: errc::truncated, layer::ethernet, 0, needed 14;
/// - EtherType (offset 12) not 0x0806, a VLAN TPID included: errc::bad_protocol, layer::ethernet, 12;
/// - ARP shorter than 28: errc::truncated, layer::arp, 14, needed 28;
/// - hardware type / protocol type / lengths not Ethernet/IPv4: errc::bad_value, layer::arp, at
///   the field (14, 16, 18, 19);
/// - operation (offset 20) not a request: errc::bad_protocol, layer::arp, 20.
/// Never reads outside `frame`. O(1).
[[nodiscard]] inline result<arp_question> parse_arp_request(std::span<const std::byte> frame) noexcept {
    constexpr std::size_t eth = wire::ethernet_header_len;
    if (frame.size() < eth) [[unlikely]]
        return make_error(errc::truncated, layer::ethernet, 0, eth);
    if (nvgre::detail::load_be16(frame.data() + wire::ethernet_field::ether_type) != wire::ethertype::arp)
        return make_error(errc::bad_protocol, layer::ethernet, wire::ethernet_field::ether_type);
    auto arp = wire::arp_view::checked(frame.subspan(eth));
    if (!arp) [[unlikely]]
        return arp.error().rebased(eth);
    if (arp->operation() != wire::arp_operation::request)
        return make_error(errc::bad_protocol, layer::arp, eth + wire::arp_field::operation);
    return arp_question{arp->sender_mac(), arp->sender_ip(), arp->target_ip()};
}

/// Parses an untagged Ethernet frame holding an IPv6 Neighbor Solicitation and applies the
/// validity checks of RFC 4861 section 7.1.1. ND options other than the source link-layer
/// address (e.g. a nonce, RFC 3971) are length-checked and otherwise ignored; bytes after the
/// IPv6 payload (Ethernet padding, a trailing FCS) are ignored.
///
/// IPv6 extension headers before the ICMPv6 header are rejected (errc::bad_extension_header):
/// an NS never carries them in practice (RFC 4861 section 7.1.1 leaves them allowed, but
/// neither Linux nor Windows sends them, and a Hop-by-Hop or Fragment header on an NS is a
/// classic way to hide ND traffic from RA-guard-like filters, RFC 7113 / RFC 6980).
///
/// Errors (offsets from the start of the frame; 54 is the ICMPv6 header):
/// - shorter than 14: errc::truncated, layer::ethernet, 0;
/// - EtherType not 0x86dd (a VLAN TPID included): errc::bad_protocol, layer::ethernet, 12;
/// - IPv6 header short, cut off by its payload length, or not version 6: the IPv6 view's errors
///   (errc::truncated / errc::bad_version, layer::ipv6), rebased;
/// - next header an extension header: errc::bad_extension_header, layer::ipv6, 20;
///   any other non-ICMPv6 next header: errc::bad_protocol, layer::ipv6, 20;
/// - ICMPv6 message shorter than 4: errc::truncated, layer::icmpv6, 54, needed 4;
/// - ICMPv6 type not 135: errc::bad_protocol, layer::icmpv6, 54;
/// - then the validity checks, each with its own error:
///   - hop limit not 255: errc::bad_value, layer::ipv6, 21;
///   - code not 0: errc::bad_value, layer::icmpv6, 55;
///   - ICMPv6 length (from the IPv6 payload length) under 24: errc::truncated, layer::icmpv6,
///     58, needed 20 (the wire view's convention);
///   - checksum wrong: errc::bad_checksum, layer::icmpv6, 56;
///   - source multicast (RFC 4291 section 2.7, not in 7.1.1: the advertisement would go to a
///     group): errc::bad_address, layer::ipv6, 22;
///   - target multicast: errc::bad_address, layer::icmpv6, 62;
///   - an option of length 0 or running past the message: errc::bad_length, layer::icmpv6, at
///     the option;
///   - source :: and destination not solicited-node multicast: errc::bad_address, layer::ipv6, 38;
///   - source :: with a source link-layer address option: errc::bad_value, layer::icmpv6, at the
///     option.
/// Never reads outside `frame`. O(frame size) (checksum and option walk).
[[nodiscard]] inline result<nd_question> parse_neighbor_solicitation(std::span<const std::byte> frame) noexcept {
    constexpr std::size_t eth = wire::ethernet_header_len;
    constexpr std::size_t icmp_at = eth + wire::ipv6_header_len;
    if (frame.size() < eth) [[unlikely]]
        return make_error(errc::truncated, layer::ethernet, 0, eth);
    if (nvgre::detail::load_be16(frame.data() + wire::ethernet_field::ether_type) != wire::ethertype::ipv6)
        return make_error(errc::bad_protocol, layer::ethernet, wire::ethernet_field::ether_type);
    auto ip = wire::ipv6_view::checked(frame.subspan(eth));
    if (!ip) [[unlikely]]
        return ip.error().rebased(eth);
    if (ip->next_header() != wire::ip_protocol::icmpv6) {
        if (detail::is_ipv6_extension_header(ip->next_header()))
            return make_error(errc::bad_extension_header, layer::ipv6, eth + wire::ipv6_field::next_header);
        return make_error(errc::bad_protocol, layer::ipv6, eth + wire::ipv6_field::next_header);
    }
    const std::span<const std::byte> message = ip->payload();
    if (message.size() < wire::icmpv6_header_len) [[unlikely]]
        return make_error(errc::truncated, layer::icmpv6, icmp_at, wire::icmpv6_header_len);
    if (nvgre::detail::load_u8(message.data() + wire::icmpv6_field::type) != wire::icmpv6_type::neighbor_solicitation)
        return make_error(errc::bad_protocol, layer::icmpv6, icmp_at);

    // RFC 4861 section 7.1.1 validity checks.
    if (ip->hop_limit() != 255) return make_error(errc::bad_value, layer::ipv6, eth + wire::ipv6_field::hop_limit);
    if (nvgre::detail::load_u8(message.data() + wire::icmpv6_field::code) != 0)
        return make_error(errc::bad_value, layer::icmpv6, icmp_at + wire::icmpv6_field::code);
    auto icmp = wire::icmpv6_view::checked(message);  // the NS fixed part: 24 bytes
    if (!icmp) [[unlikely]]
        return icmp.error().rebased(icmp_at);
    const ipv6_address source = ip->source();
    const ipv6_address destination = ip->destination();
    if (!icmp->checksum_ok(checksum::ipv6_pseudo_header_sum(source, destination, wire::ip_protocol::icmpv6,
                                                            static_cast<std::uint32_t>(message.size()))))
        return make_error(errc::bad_checksum, layer::icmpv6, icmp_at + wire::icmpv6_field::checksum);
    if (source.is_multicast()) return make_error(errc::bad_address, layer::ipv6, eth + wire::ipv6_field::source);
    const ipv6_address target = icmp->ns_target();
    if (target.is_multicast()) return make_error(errc::bad_address, layer::icmpv6, icmp_at + wire::icmpv6_field::target);

    std::optional<mac_address> slla;
    std::size_t slla_at = 0;
    auto walked = icmp->for_each_nd_option([&](const wire::nd_option& o) {
        // data has >= 6 bytes: a non-zero length gives at least 8 - 2 (RFC 4861 section 4.6.1).
        if (o.type == wire::nd_option_type::source_link_layer_address && !slla) {
            slla = mac_address::from_bytes(o.data);
            slla_at = o.offset;
        }
    });
    if (!walked) return walked.error().rebased(icmp_at);

    const bool dad = source.is_unspecified();
    if (dad) {
        if (!detail::is_solicited_node_multicast(destination))
            return make_error(errc::bad_address, layer::ipv6, eth + wire::ipv6_field::destination);
        if (slla) return make_error(errc::bad_value, layer::icmpv6, icmp_at + slla_at);
    }
    return nd_question{mac_address::from_bytes(frame.subspan(wire::ethernet_field::source, 6)), source, target, slla, dad};
}

/// Turns the ARP request in `f` into the reply, in place: Ethernet destination = the requester
/// (`q.sender_mac`), source = `answer_mac`; ARP op 2, sender = (`answer_mac`, `q.target_ip`),
/// target = (`q.sender_mac`, `q.sender_ip`).
///
/// Padding: the reply is min(request length, 60) bytes, every byte after the 42 zeroed. A
/// request padded to the 60-byte Ethernet minimum gets a reply padded the same way (it may
/// leave the host on a wire); a 42-byte request (from a VM's virtual NIC) gets a 42-byte reply,
/// which Linux and Windows accept. The frame never grows, so this cannot fail; longer tails
/// are cut off rather than echoed back. The offload metadata is reset (a new frame).
/// Precondition: `f` holds a request parse_arp_request() accepted (so f.size() >= 42). O(1).
inline void make_arp_reply(frame& f, const arp_question& q, const mac_address& answer_mac) noexcept {
    static_cast<void>(f.resize(std::min(f.size(), ethernet_min_frame_len)));  // shrinking cannot fail
    f.tail = chain{};  // the answer is whole in the first segment
    const std::span<std::byte> out = f.bytes();
    wire::ethernet_repr{q.sender_mac, answer_mac, 0, {}, wire::ethertype::arp}.emit(out);
    wire::arp_repr{wire::arp_operation::reply, answer_mac, q.target_ip, q.sender_mac, q.sender_ip}.emit(
        out.subspan(wire::ethernet_header_len));
    std::fill(out.begin() + arp_frame_len, out.end(), std::byte{0});
    f.offload = offload_info{};
}

/// Turns the Neighbor Solicitation in `f` into a Neighbor Advertisement (RFC 4861 sections 4.4
/// and 7.2.4), in place: 86 bytes, the frame grown or shrunk within its buffer.
/// - Ethernet: destination `q.source_mac` (33:33:00:00:00:01 for DAD), source `answer_mac`.
/// - IPv6: source `q.target`, destination `q.source_ip` (ff02::1 for DAD), hop limit 255,
///   traffic class and flow label 0.
/// - NA: Router = `router` (set when a subnet gateway answers), Solicited = !q.dad (a DAD
///   defence is unsolicited, 7.2.4), Override = 1, target `q.target`, one target link-layer
///   address option = `answer_mac`; checksum valid.
/// Override is set although 7.2.4 says a proxy SHOULD clear it: that advice protects the real
/// owner's own answer, and in HNV the host is authoritative — the owner's answer never reaches
/// the VM, and a changed policy must be able to replace a cached entry.
/// Errors: errc::no_space (layer::none) when the buffer cannot hold 86 bytes from the frame's
/// start; `f` is then unchanged. Precondition: `q` came from parse_neighbor_solicitation()
/// (the request's bytes are not read again). O(1) (86 bytes written and summed).
[[nodiscard]] inline result<void> make_neighbor_advertisement(frame& f, const nd_question& q,
                                                              const mac_address& answer_mac, bool router) noexcept {
    if (auto grown = f.resize(neighbor_advertisement_frame_len); !grown) [[unlikely]]
        return grown.error();
    f.tail = chain{};  // the answer is whole in the first segment
    const std::span<std::byte> out = f.bytes();
    constexpr std::size_t icmp_at = wire::ethernet_header_len + wire::ipv6_header_len;
    constexpr std::uint16_t icmp_len = wire::icmpv6_nd_header_len + wire::nd_link_layer_option_len;

    const ipv6_address destination = q.dad ? ipv6_all_nodes : q.source_ip;
    wire::ethernet_repr{q.dad ? ethernet_all_nodes : q.source_mac, answer_mac, 0, {}, wire::ethertype::ipv6}.emit(out);
    wire::ipv6_repr ip;
    ip.source = q.target;
    ip.destination = destination;
    ip.next_header = wire::ip_protocol::icmpv6;
    ip.hop_limit = 255;
    ip.payload_len = icmp_len;
    ip.emit(out.subspan(wire::ethernet_header_len));
    const wire::icmpv6_na_repr na{router, !q.dad, true, q.target, answer_mac};
    na.emit(out.subspan(icmp_at),
            checksum::ipv6_pseudo_header_sum(q.target, destination, wire::ip_protocol::icmpv6, icmp_len));
    f.offload = offload_info{};
    return {};
}

}  // namespace nvgre::datapath
