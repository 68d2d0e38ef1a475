/// @file checksum/incremental.hpp
/// @brief Incremental checksum update after a rewrite (RFC 1624), for header templates and IP
/// rewrite: patch the stored checksum instead of summing the whole header or segment again.
///
/// All functions apply RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`, where HC is the stored
/// checksum, m the old and m' the new 16-bit words, in ones'-complement arithmetic.
///
/// The two zeros (RFC 1624 section 3). Ones'-complement arithmetic has +0 (0x0000) and -0
/// (0xffff). RFC 1141's eqn. 2, `HC' = HC + m + ~m'`, can yield 0xffff where recomputing gives
/// 0x0000 (the RFC's example: m = 0x5555 -> 0x3285 with the rest summing to 0xcd7a). Eqn. 3
/// yields 0xffff only when `~HC + ~m + m'` is zero, i.e. HC = 0xffff, every m = 0xffff and
/// every m' = 0x0000. Recomputation yields 0xffff only when the new data sums to zero (is all
/// zero), where eqn. 3 yields 0x0000 instead. A correctly computed IPv4 header checksum is
/// never 0xffff and a header never sums to zero (the version/IHL word is non-zero), so for IPv4
/// headers eqn. 3 gives *exactly* what recomputation gives; likewise for TCP/UDP/ICMPv6
/// checksums, whose pseudo-header (non-zero protocol) is included. For other data (ICMPv4 has
/// no pseudo-header) the result equals recomputation up to the two zeros, and differs only
/// when the new data is entirely zero (e.g. an ICMPv4 echo reply with id 0, sequence 0 and no
/// payload): recomputation gives 0xffff, which verifies, while eqn. 3 gives 0x0000, which a
/// receiver's `fold(sum) == 0xffff` check rejects. No incremental formula can tell that case
/// apart; recompute if it can occur.
///
/// UDP (RFC 768). Over IPv4 a UDP checksum of 0 means "no checksum": a rewrite must leave it 0,
/// not patch it. A computed checksum of 0x0000 is sent as 0xffff. The `update_udp*` functions
/// do both; `udp_checksum_field()` maps a freshly computed value. (Over IPv6 a zero UDP
/// checksum is either invalid or RFC 6935's zero-checksum mode; leaving it 0 is right either
/// way.) TCP, ICMP and the IPv4 header use the plain `update*` functions.
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/ip_address.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::checksum {

/// RFC 1624 eqn. 3 for one 16-bit word changing from `old_word` to `new_word` (both as read
/// big-endian from the packet). Returns the new checksum field value. O(1).
[[nodiscard]] constexpr std::uint16_t update16(std::uint16_t old_checksum, std::uint16_t old_word,
                                               std::uint16_t new_word) noexcept {
    const std::uint32_t s = std::uint32_t{static_cast<std::uint16_t>(~old_checksum)} +
                            static_cast<std::uint16_t>(~old_word) + new_word;
    return finish(s);
}

/// RFC 1624 eqn. 3 for one 32-bit field (two words, e.g. an IPv4 address or a TCP sequence
/// number) changing from `old_value` to `new_value` (host-order values of the big-endian
/// field). The field must start at an even offset of the checksummed data. O(1).
[[nodiscard]] constexpr std::uint16_t update32(std::uint16_t old_checksum, std::uint32_t old_value,
                                               std::uint32_t new_value) noexcept {
    // ~old_value as a 32-bit word is the two complemented 16-bit words, and 2^32 - 1 is a
    // multiple of 0xffff: 32-bit end-around-carry additions keep eqn. 3 exact.
    const std::uint32_t s = detail::csum_add32(detail::csum_add32(~old_value, new_value),
                                               static_cast<std::uint16_t>(~old_checksum));
    return finish(s);
}

/// RFC 1624 eqn. 3 for a run of words changing from `old_bytes` to `new_bytes` (e.g. IPv6
/// addresses). Preconditions: equal sizes, even size, the run starts at an even offset of the
/// checksummed data. O(n).
[[nodiscard]] inline std::uint16_t update(std::uint16_t old_checksum, std::span<const std::byte> old_bytes,
                                          std::span<const std::byte> new_bytes) noexcept {
    // Sum of ~m over k words = k * 0xffff - sum(m): the exact eqn. 3 value, never negative.
    const std::size_t n = old_bytes.size();
    std::uint64_t s = static_cast<std::uint16_t>(~old_checksum);
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4)
        s += std::uint64_t{0xffffffffu} - detail::load_be32(old_bytes.data() + i) + detail::load_be32(new_bytes.data() + i);
    if (i + 2 <= n)
        s += std::uint64_t{0xffffu} - detail::load_be16(old_bytes.data() + i) + detail::load_be16(new_bytes.data() + i);
    return finish(fold64(s));
}

/// RFC 1624 eqn. 3 for an IPv4 address rewrite (NAT, IP rewrite): in the IPv4 header
/// checksum, and in a TCP/UDP checksum through the pseudo-header. O(1).
[[nodiscard]] constexpr std::uint16_t update_address(std::uint16_t old_checksum, const ipv4_address& from,
                                                     const ipv4_address& to) noexcept {
    return update32(old_checksum, from.to_uint(), to.to_uint());
}

/// RFC 1624 eqn. 3 for an IPv6 address rewrite (a TCP/UDP/ICMPv6 checksum through the
/// pseudo-header). O(1).
[[nodiscard]] constexpr std::uint16_t update_address(std::uint16_t old_checksum, const ipv6_address& from,
                                                     const ipv6_address& to) noexcept {
    // In the native-endian domain (see csum_native_to_be): no byte swaps per word.
    const auto a = std::bit_cast<std::array<std::uint32_t, 4>>(from.octets());
    const auto b = std::bit_cast<std::array<std::uint32_t, 4>>(to.octets());
    std::uint64_t s = detail::csum_native_to_be(static_cast<std::uint16_t>(~old_checksum));
    for (std::size_t i = 0; i < 4; ++i) s += std::uint64_t{~a[i]} + b[i];
    return static_cast<std::uint16_t>(~detail::csum_native_to_be(fold64(s)));
}

/// RFC 1624 eqn. 3 for an address rewrite of either version. Precondition: `from` and `to`
/// are of the same version. O(1).
[[nodiscard]] constexpr std::uint16_t update_address(std::uint16_t old_checksum, const ip_address& from,
                                                     const ip_address& to) noexcept {
    return from.is_v4() ? update_address(old_checksum, from.v4(), to.v4())
                        : update_address(old_checksum, from.v6(), to.v6());
}

/// The UDP checksum field for a freshly computed checksum (`finish(...)`): 0x0000 is sent
/// as 0xffff, since 0 means "no checksum" (RFC 768). O(1).
[[nodiscard]] constexpr std::uint16_t udp_checksum_field(std::uint16_t computed) noexcept {
    return computed == 0 ? std::uint16_t{0xffff} : computed;
}

/// update16 for a UDP checksum field: an absent checksum (0) stays 0; a result of 0x0000 is
/// sent as 0xffff. O(1).
[[nodiscard]] constexpr std::uint16_t update_udp16(std::uint16_t old_field, std::uint16_t old_word,
                                                   std::uint16_t new_word) noexcept {
    return old_field == 0 ? std::uint16_t{0} : udp_checksum_field(update16(old_field, old_word, new_word));
}

/// update32 for a UDP checksum field (absent stays 0; 0x0000 sent as 0xffff). O(1).
[[nodiscard]] constexpr std::uint16_t update_udp32(std::uint16_t old_field, std::uint32_t old_value,
                                                   std::uint32_t new_value) noexcept {
    return old_field == 0 ? std::uint16_t{0} : udp_checksum_field(update32(old_field, old_value, new_value));
}

/// update() for a UDP checksum field (absent stays 0; 0x0000 sent as 0xffff). Preconditions
/// as update(). O(n).
[[nodiscard]] inline std::uint16_t update_udp(std::uint16_t old_field, std::span<const std::byte> old_bytes,
                                              std::span<const std::byte> new_bytes) noexcept {
    return old_field == 0 ? std::uint16_t{0} : udp_checksum_field(update(old_field, old_bytes, new_bytes));
}

/// update_address() for a UDP checksum field (absent stays 0; 0x0000 sent as 0xffff).
/// Precondition: `from` and `to` are of the same version. O(1).
[[nodiscard]] constexpr std::uint16_t update_udp_address(std::uint16_t old_field, const ip_address& from,
                                                         const ip_address& to) noexcept {
    return old_field == 0 ? std::uint16_t{0} : udp_checksum_field(update_address(old_field, from, to));
}

}  // namespace nvgre::checksum
