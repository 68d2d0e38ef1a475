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
    // x + rotr(x, 16) holds hi + lo in its upper half, plus the carry out of lo + hi from its
    // lower half: the end-around carry (as Linux csum_fold). Three instructions.
    return static_cast<std::uint16_t>((partial + std::rotr(partial, 16)) >> 16);
}

/// Folds a 64-bit accumulator to a 16-bit partial sum (0 only for `acc == 0`). O(1).
[[nodiscard]] constexpr std::uint16_t fold64(std::uint64_t acc) noexcept {
    // The same trick from 64 to 32 bits (2^32 - 1 is a multiple of 0xffff), then fold().
    return fold(static_cast<std::uint32_t>((acc + std::rotr(acc, 32)) >> 32));
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

}  // namespace nvgre::checksum

namespace nvgre::detail {
/// Native-endian 32-bit load from unaligned memory (memcpy compiles to one mov).
inline std::uint32_t csum_load_native32(const std::byte* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
/// Native-endian 64-bit load from unaligned memory.
inline std::uint64_t csum_load_native64(const std::byte* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
/// Native-endian 16-bit load from unaligned memory.
inline std::uint16_t csum_load_native16(const std::byte* p) noexcept {
    std::uint16_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
/// Converts between a folded ones'-complement sum of native-endian 16-bit words and the sum
/// of the big-endian words, either way (RFC 1071 section 2(B), byte-order independence:
/// swapping the bytes of a folded sum multiplies it by 256 modulo 0xffff, and 256 * 256 is 1).
/// Keeps 0 <-> 0 and 0xffff <-> 0xffff.
constexpr std::uint16_t csum_native_to_be(std::uint16_t s) noexcept {
    if constexpr (std::endian::native == std::endian::little) return std::rotr(s, 8);
    else return s;
}
/// 32-bit ones'-complement addition (end-around carry): add, adc. 0 only if both are 0.
constexpr std::uint32_t csum_add32(std::uint32_t a, std::uint32_t b) noexcept {
    const std::uint32_t s = a + b;
    return s + (s < a ? 1u : 0u);
}
/// Sum of the bytes at `p` as native-endian 16-bit words, an odd trailing byte zero-padded.
/// Unfolded. For the few bytes after a vector loop. O(n).
inline std::uint64_t csum_tail_native(const std::byte* p, std::size_t n) noexcept {
    std::uint64_t a = 0;
    for (; n >= 8; n -= 8, p += 8) {
        const std::uint64_t w = csum_load_native64(p);
        a += (w & 0xffffffffu) + (w >> 32);
    }
    if (n >= 4) {
        a += csum_load_native32(p);
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        a += csum_load_native16(p);
        p += 2;
        n -= 2;
    }
    if (n != 0) {
        std::uint16_t w = 0;  // the odd byte, zero-padded to a whole word
        std::memcpy(&w, p, 1);
        a += w;
    }
    return a;
}
/// The best vectorised sum for this CPU (defined in checksum/ones_complement_simd.hpp, which
/// ones_complement.hpp includes at its end). Same contract as checksum::sum_scalar.
[[nodiscard]] inline std::uint32_t sum_vectorised(std::span<const std::byte> data, std::uint32_t initial) noexcept;
}  // namespace nvgre::detail

namespace nvgre::checksum {

/// Portable ones'-complement sum of `data` as big-endian 16-bit words, a trailing odd byte
/// padded with a zero byte (RFC 1071 section 4.1), added to `initial` (any partial sum).
/// Returns a folded 16-bit partial sum. O(n); no alignment requirement.
///
/// Sums native-endian 32-bit halves of 64-bit loads into two 64-bit accumulators (no carry is
/// lost before 2^32 words) and byte-swaps the folded result once at the end; `initial` is
/// swapped into that native domain up front, off the critical path.
[[nodiscard]] inline std::uint32_t sum_scalar(std::span<const std::byte> data, std::uint32_t initial = 0) noexcept {
    const std::byte* p = data.data();
    std::size_t n = data.size();
    std::uint64_t a0 = detail::csum_native_to_be(fold(initial)), a1 = 0;
    for (; n >= 16; n -= 16, p += 16) {
        const std::uint64_t w0 = detail::csum_load_native64(p);
        const std::uint64_t w1 = detail::csum_load_native64(p + 8);
        a0 += (w0 & 0xffffffffu) + (w1 & 0xffffffffu);
        a1 += (w0 >> 32) + (w1 >> 32);
    }
    return detail::csum_native_to_be(fold64(a0 + a1 + detail::csum_tail_native(p, n)));
}

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
    std::uint64_t s = std::uint64_t{detail::csum_load_native32(p)} + detail::csum_load_native32(p + 4) +
                      (detail::csum_load_native32(p + 8) & keep) + detail::csum_load_native32(p + 12) +
                      detail::csum_load_native32(p + 16);
    if (header.size() > 20) [[unlikely]] {
        for (std::size_t off = 20; off + 4 <= header.size(); off += 4) s += detail::csum_load_native32(p + off);
    }
    return finish(detail::csum_native_to_be(fold64(s)));
}

}  // namespace nvgre::checksum

// At the end on purpose: the vectorised kernels need the scalar core above, and sum() above
// only needs detail::sum_vectorised declared. Including ones_complement_simd.hpp first works
// too (it includes this header, whose nested include of it is then skipped by #pragma once).
#include "nvgre/checksum/ones_complement_simd.hpp"
