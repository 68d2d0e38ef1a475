/// @file checksum/pseudo_header.hpp
/// @brief Partial sums of the IPv4 (RFC 768 / RFC 9293 section 3.1) and IPv6 (RFC 8200
/// section 8.1) pseudo-headers that TCP, UDP and ICMPv6 checksums cover, like gVisor's
/// `PseudoHeaderChecksum`.
///
/// Each function returns a folded partial sum to pass as `initial` to checksum::sum():
/// `finish(sum(l4_bytes, pseudo_header_sum(...)))` is the checksum to store (field zeroed
/// first), and `fold(sum(l4_bytes, pseudo_header_sum(...))) == 0xffff` verifies a received
/// segment. For checksum offload (CHECKSUM_PARTIAL), the value the NIC expects in the field is
/// the un-complemented pseudo-header sum itself.
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/ip_address.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace nvgre::checksum {

/// IP protocol numbers whose checksum covers a pseudo-header.
inline constexpr std::uint8_t ip_protocol_tcp = 6;
inline constexpr std::uint8_t ip_protocol_udp = 17;
inline constexpr std::uint8_t ip_protocol_icmpv6 = 58;

/// IPv4 pseudo-header sum: source, destination, zero + protocol, TCP/UDP length (header +
/// payload bytes, the UDP length field for UDP). Folded 16-bit partial sum. O(1).
[[nodiscard]] constexpr std::uint32_t ipv4_pseudo_header_sum(ipv4_address src, ipv4_address dst,
                                                             std::uint8_t protocol, std::uint16_t l4_length) noexcept {
    const std::uint64_t s = std::uint64_t{src.to_uint()} + dst.to_uint() + protocol + l4_length;
    return fold64(s);
}

/// IPv6 pseudo-header sum (RFC 8200 section 8.1): source, destination (the final
/// destination when a Routing header is present), 32-bit upper-layer packet length, three
/// zero bytes and the next-header value of the upper-layer protocol (not of an extension
/// header). Folded 16-bit partial sum. O(1).
[[nodiscard]] constexpr std::uint32_t ipv6_pseudo_header_sum(const ipv6_address& src, const ipv6_address& dst,
                                                             std::uint8_t next_header,
                                                             std::uint32_t upper_layer_length) noexcept {
    // The addresses in the native-endian domain (no byte swap per word), then one swap.
    const auto a = std::bit_cast<std::array<std::uint32_t, 4>>(src.octets());
    const auto b = std::bit_cast<std::array<std::uint32_t, 4>>(dst.octets());
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < 4; ++i) s += std::uint64_t{a[i]} + b[i];
    return fold64(std::uint64_t{upper_layer_length} + next_header + detail::csum_native_to_be(fold64(s)));
}

/// The pseudo-header sum for either IP version. Preconditions: `src` and `dst` are of the
/// same version; for IPv4, `length` fits in 16 bits. O(1).
[[nodiscard]] constexpr std::uint32_t pseudo_header_sum(const ip_address& src, const ip_address& dst,
                                                        std::uint8_t protocol, std::uint32_t length) noexcept {
    return src.is_v4() ? ipv4_pseudo_header_sum(src.v4(), dst.v4(), protocol, static_cast<std::uint16_t>(length))
                       : ipv6_pseudo_header_sum(src.v6(), dst.v6(), protocol, length);
}

}  // namespace nvgre::checksum
