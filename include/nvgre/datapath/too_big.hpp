/// @file datapath/too_big.hpp
/// @brief "Too big" answers to a VM whose packet does not fit the underlay once encapsulated
/// (docs/hnv-rules.md, wire rule 7; RFC 4459 section 3.2: the tunnel entry tells the sender the
/// usable MTU instead of fragmenting the outer packet): ICMP Destination Unreachable /
/// Fragmentation Needed (RFC 792, RFC 1191) for IPv4, ICMPv6 Packet Too Big (RFC 4443 section
/// 3.2) for IPv6. They are the router's ICMP errors of datapath/icmp_answer.hpp with the usable
/// MTU; this header names them for code that sends only these.
#pragma once

#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/icmp_answer.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/wire/ethernet.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::datapath {

/// Where a too-big answer comes from and what it says.
struct too_big_params {
    mac_address router_mac{};  ///< Ethernet source: the VM's gateway
    ip_address source{};       ///< IP source, same version as the offending packet
    std::uint32_t mtu{0};      ///< the usable IP MTU to announce (IPv4: at most 65535)
};

/// True when the offending packet may be answered at all (icmp_error_answerable).
[[nodiscard]] inline bool too_big_answerable(std::span<const std::byte> frame) noexcept {
    return icmp_error_answerable(frame);
}

/// Rewrites `f` into the too-big answer to its sender, in place (make_icmp_error with the
/// fragmentation-needed / packet-too-big header carrying `p.mtu`).
inline result<void> make_too_big(frame& f, const too_big_params& p) noexcept {
    const bool v6 = nvgre::detail::load_be16(f.bytes().data() + wire::ethernet_field::ether_type) == wire::ethertype::ipv6;
    return make_icmp_error(f, p.router_mac, p.source, icmp_error_for(router_error::too_big, v6, p.mtu));
}

}  // namespace nvgre::datapath
