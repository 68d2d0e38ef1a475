/// @file checksum/ones_complement.hpp
/// @brief The Internet checksum (RFC 1071): ones'-complement sum of 16-bit big-endian words,
/// split as DPDK splits it into raw sum -> fold -> finish (complement).
///
/// A *partial sum* is a `std::uint32_t` holding an unfolded or folded ones'-complement sum of
/// big-endian 16-bit words. Partial sums compose: `combine(sum(a), sum(b)) == sum(a ++ b)` when
/// `a` has even length. `finish(partial)` gives the value to store in a checksum field.
///
/// Dependency note: checksum/ uses only the root layer, so the wire/ views (GRE checksum,
/// IPv4 header checksum) and packet_layout can use it.
#pragma once

#include "nvgre/detail/bytes.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::checksum {

/// Folds a 32-bit partial sum to 16 bits with end-around carry. Result in [0, 0xffff].
[[nodiscard]] constexpr std::uint16_t fold(std::uint32_t partial) noexcept {
    partial = (partial & 0xffffu) + (partial >> 16);
    partial = (partial & 0xffffu) + (partial >> 16);
    return static_cast<std::uint16_t>(partial);
}

/// Folds a 64-bit accumulator to a 16-bit partial sum.
[[nodiscard]] constexpr std::uint16_t fold64(std::uint64_t acc) noexcept {
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    return fold(static_cast<std::uint32_t>(acc));
}

/// Adds two partial sums (ones'-complement addition). Result is a folded 16-bit partial sum.
[[nodiscard]] constexpr std::uint32_t combine(std::uint32_t a, std::uint32_t b) noexcept {
    return fold64(std::uint64_t{a} + b);
}

/// The checksum field value for a partial sum: the complement of its fold.
[[nodiscard]] constexpr std::uint16_t finish(std::uint32_t partial) noexcept {
    return static_cast<std::uint16_t>(~fold(partial));
}

/// Portable ones'-complement sum of `data` as big-endian 16-bit words, a trailing odd byte
/// padded with a zero byte (RFC 1071 section 4.1), added to `initial`. Returns a folded
/// 16-bit partial sum. O(n); no alignment requirement.
[[nodiscard]] inline std::uint32_t sum_scalar(std::span<const std::byte> data, std::uint32_t initial = 0) noexcept {
    std::uint64_t acc = initial;
    const std::byte* p = data.data();
    std::size_t n = data.size();
    // Four accumulators of 32-bit big-endian words break the dependency chain; a 64-bit
    // accumulator cannot overflow before 2^32 words.
    std::uint64_t a0 = 0, a1 = 0;
    while (n >= 16) {
        a0 += detail::load_be32(p);
        a1 += detail::load_be32(p + 4);
        a0 += detail::load_be32(p + 8);
        a1 += detail::load_be32(p + 12);
        p += 16;
        n -= 16;
    }
    while (n >= 4) {
        a0 += detail::load_be32(p);
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        a1 += detail::load_be16(p);
        p += 2;
        n -= 2;
    }
    if (n == 1) a1 += std::uint32_t{detail::load_u8(p)} << 8;
    acc += a0 + a1;
    return fold64(acc);
}

/// Ones'-complement sum of `data` added to `initial`: same result as sum_scalar; the fastest
/// implementation available (see checksum/ones_complement_simd.hpp once present).
[[nodiscard]] inline std::uint32_t sum(std::span<const std::byte> data, std::uint32_t initial = 0) noexcept {
    return sum_scalar(data, initial);
}

/// The checksum over `data` (whose checksum field must already be zero, or whose stored
/// checksum is being verified): finish(sum(data)).
[[nodiscard]] inline std::uint16_t compute(std::span<const std::byte> data) noexcept { return finish(sum(data)); }

/// True if `data`, including its stored checksum field, sums to 0xffff (RFC 1071 verify).
[[nodiscard]] inline bool verify(std::span<const std::byte> data) noexcept { return fold(sum(data)) == 0xffff; }

}  // namespace nvgre::checksum
