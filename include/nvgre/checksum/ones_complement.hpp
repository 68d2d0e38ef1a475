/// @file checksum/ones_complement.hpp
/// @brief The Internet checksum (RFC 1071): ones'-complement sum of 16-bit big-endian words,
/// split as DPDK splits it into raw sum -> fold -> finish (complement).
///
/// A *partial sum* is a `std::uint32_t` holding an unfolded or folded ones'-complement sum of
/// big-endian 16-bit words. Partial sums compose: `combine(sum(a), sum(b)) == sum(a ++ b)` when
/// `a` has even length. `finish(partial)` gives the value to store in a checksum field.
///
/// Ones'-complement arithmetic has two zeros, 0x0000 and 0xffff. fold() returns 0 only for a
/// partial sum of 0 (all-zero data and initial); any other sum folds into [1, 0xffff]. Every
/// function here keeps that rule, so results are bit-identical whichever implementation (scalar
/// or vectorised) produced them.
///
/// `sum()` uses the vectorised sum of checksum/ones_complement_simd.hpp for inputs of 64 bytes
/// and more (this header includes it; including this header alone is enough).
///
/// Dependency note: checksum/ uses only the root layer, so the wire/ views (GRE checksum,
/// IPv4 header checksum) and packet_layout can use it.
#pragma once

#include "nvgre/detail/bytes.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace nvgre::checksum {

/// Folds a 32-bit partial sum to 16 bits with end-around carry. Result in [0, 0xffff]; 0 only
/// for `partial == 0`. O(1).
[[nodiscard]] constexpr std::uint16_t fold(std::uint32_t partial) noexcept {
    partial = (partial & 0xffffu) + (partial >> 16);
    partial = (partial & 0xffffu) + (partial >> 16);
    return static_cast<std::uint16_t>(partial);
}

/// Folds a 64-bit accumulator to a 16-bit partial sum (0 only for `acc == 0`). O(1).
[[nodiscard]] constexpr std::uint16_t fold64(std::uint64_t acc) noexcept {
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    return fold(static_cast<std::uint32_t>(acc));
}

/// Adds two partial sums (ones'-complement addition), like gVisor's `Combine`. Result is a
/// folded 16-bit partial sum. O(1).
[[nodiscard]] constexpr std::uint32_t combine(std::uint32_t a, std::uint32_t b) noexcept {
    return fold64(std::uint64_t{a} + b);
}

/// The checksum field value for a partial sum: the complement of its fold. O(1).
[[nodiscard]] constexpr std::uint16_t finish(std::uint32_t partial) noexcept {
    return static_cast<std::uint16_t>(~fold(partial));
}

namespace detail {
/// Native-endian 32-bit load from unaligned memory (memcpy compiles to one mov).
inline std::uint32_t load_native32(const std::byte* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
/// Native-endian 64-bit load from unaligned memory.
inline std::uint64_t load_native64(const std::byte* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
/// Converts a folded ones'-complement sum of native-endian 16-bit words to the sum of the
/// big-endian words (RFC 1071 section 2(B), byte-order independence: swapping the bytes of the
/// folded sum is multiplying by 256 modulo 0xffff). Keeps 0 <-> 0 and 0xffff <-> 0xffff.
constexpr std::uint16_t native_to_be_sum(std::uint16_t s) noexcept {
    if constexpr (std::endian::native == std::endian::little) return static_cast<std::uint16_t>((s << 8) | (s >> 8));
    else return s;
}
}  // namespace detail

/// Portable ones'-complement sum of `data` as big-endian 16-bit words, a trailing odd byte
/// padded with a zero byte (RFC 1071 section 4.1), added to `initial` (any partial sum).
/// Returns a folded 16-bit partial sum. O(n); no alignment requirement.
///
/// Sums native-endian 32-bit halves of 64-bit loads into two 64-bit accumulators (no carry is
/// lost before 2^32 words) and byte-swaps the folded result once at the end.
[[nodiscard]] inline std::uint32_t sum_scalar(std::span<const std::byte> data, std::uint32_t initial = 0) noexcept {
    const std::byte* p = data.data();
    std::size_t n = data.size();
    std::uint64_t a0 = 0, a1 = 0;
    while (n >= 16) {
        const std::uint64_t w0 = detail::load_native64(p);
        const std::uint64_t w1 = detail::load_native64(p + 8);
        a0 += (w0 & 0xffffffffu) + (w1 & 0xffffffffu);
        a1 += (w0 >> 32) + (w1 >> 32);
        p += 16;
        n -= 16;
    }
    if (n >= 8) {
        const std::uint64_t w = detail::load_native64(p);
        a0 += w & 0xffffffffu;
        a1 += w >> 32;
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        a0 += detail::load_native32(p);
        p += 4;
        n -= 4;
    }
    // The last 0-3 bytes go in big-endian order straight into the result (no swap needed).
    std::uint64_t tail = initial;
    if (n >= 2) {
        tail += ::nvgre::detail::load_be16(p);
        p += 2;
        n -= 2;
    }
    if (n == 1) tail += std::uint32_t{::nvgre::detail::load_u8(p)} << 8;
    return fold64(tail + detail::native_to_be_sum(fold64(a0 + a1)));
}

namespace detail {
/// The best vectorised sum for this CPU (defined in checksum/ones_complement_simd.hpp, which
/// this header includes at its end). Same contract as sum_scalar.
[[nodiscard]] inline std::uint32_t sum_vectorised(std::span<const std::byte> data, std::uint32_t initial) noexcept;
}  // namespace detail

/// Below this many bytes sum() stays on the scalar path (vector set-up and the horizontal
/// reduction cost more than they save on a 20-byte IPv4 header).
inline constexpr std::size_t simd_threshold_bytes = 64;

/// Ones'-complement sum of `data` added to `initial` (like gVisor's `Checksum(buf, initial)`):
/// bit-identical to sum_scalar; the fastest implementation for this CPU (AVX2, SSE2, or scalar,
/// see checksum/ones_complement_simd.hpp). Returns a folded 16-bit partial sum. O(n); no
/// alignment requirement; any length, an odd trailing byte being zero-padded (RFC 1071).
[[nodiscard]] inline std::uint32_t sum(std::span<const std::byte> data, std::uint32_t initial = 0) noexcept {
    if (data.size() < simd_threshold_bytes) return sum_scalar(data, initial);
    return detail::sum_vectorised(data, initial);
}

/// The checksum over `data`: finish(sum(data)). Precondition: the checksum field inside `data`
/// (if any) is zero. O(n).
[[nodiscard]] inline std::uint16_t compute(std::span<const std::byte> data) noexcept { return finish(sum(data)); }

/// True if `data`, including its stored checksum field, sums to 0xffff (RFC 1071 verify). O(n).
[[nodiscard]] inline bool verify(std::span<const std::byte> data) noexcept { return fold(sum(data)) == 0xffff; }

/// The IPv4 header checksum field value for `header` (RFC 791), *ignoring* whatever the
/// checksum field (bytes 10-11) holds, so neither a zeroed field nor a copy is needed. Like
/// Linux `ip_fast_csum`, a straight-line fast path handles the usual 20-byte header.
/// Verify a received header with `ipv4_header_checksum(h) == stored field` or verify(h).
/// The result is never 0xffff (the version/IHL word is non-zero). Precondition:
/// `header.size()` is IHL * 4: a multiple of 4, at least 20. O(1) for 20 bytes, else O(n).
[[nodiscard]] inline std::uint16_t ipv4_header_checksum(std::span<const std::byte> header) noexcept {
    const std::byte* p = header.data();
    // Bytes 10-11 are the upper half of the native word at offset 8 on little-endian hosts.
    constexpr std::uint32_t keep = std::endian::native == std::endian::little ? 0x0000ffffu : 0xffff0000u;
    std::uint64_t s = std::uint64_t{detail::load_native32(p)} + detail::load_native32(p + 4) +
                      (detail::load_native32(p + 8) & keep) + detail::load_native32(p + 12) +
                      detail::load_native32(p + 16);
    if (header.size() > 20) [[unlikely]] {
        for (std::size_t off = 20; off + 4 <= header.size(); off += 4) s += detail::load_native32(p + off);
    }
    return finish(detail::native_to_be_sum(fold64(s)));
}

}  // namespace nvgre::checksum

// At the end on purpose: the vectorised kernels need the scalar core above, and sum() above
// only needs detail::sum_vectorised declared. Including ones_complement_simd.hpp first works
// too (it includes this header, whose nested include of it is then skipped by #pragma once).
#include "nvgre/checksum/ones_complement_simd.hpp"
