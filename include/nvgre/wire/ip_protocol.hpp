/// @file wire/ip_protocol.hpp
/// @brief IP protocol numbers (IPv4 protocol / IPv6 next header), from the IANA "Assigned
/// Internet Protocol Numbers" registry. The values the library's views and walks look at.
#pragma once

#include <cstdint>

namespace nvgre::wire::ip_protocol {

inline constexpr std::uint8_t hop_by_hop = 0;                 ///< IPv6 Hop-by-Hop Options (RFC 8200 section 4.3)
inline constexpr std::uint8_t icmp = 1;                       ///< ICMP for IPv4 (RFC 792)
inline constexpr std::uint8_t tcp = 6;                        ///< TCP (RFC 9293)
inline constexpr std::uint8_t udp = 17;                       ///< UDP (RFC 768)
inline constexpr std::uint8_t ipv6_routing = 43;              ///< IPv6 Routing header (RFC 8200 section 4.4)
inline constexpr std::uint8_t ipv6_fragment = 44;             ///< IPv6 Fragment header (RFC 8200 section 4.5)
inline constexpr std::uint8_t gre = 47;                       ///< GRE, and so NVGRE (RFC 2784, RFC 7637)
inline constexpr std::uint8_t esp = 50;                       ///< Encapsulating Security Payload (RFC 4303)
inline constexpr std::uint8_t ah = 51;                        ///< Authentication Header (RFC 4302)
inline constexpr std::uint8_t icmpv6 = 58;                    ///< ICMPv6 (RFC 4443)
inline constexpr std::uint8_t ipv6_no_next = 59;              ///< No Next Header (RFC 8200 section 4.7)
inline constexpr std::uint8_t ipv6_destination_options = 60;  ///< IPv6 Destination Options (RFC 8200 section 4.6)

}  // namespace nvgre::wire::ip_protocol
