/// @file checksum/ones_complement_simd.hpp
/// @brief Vectorised ones'-complement sums (SSE2, AVX2 on x86-64) and the dispatch behind
/// checksum::sum().
///
/// Every function here returns exactly what checksum::sum_scalar returns for the same input
/// (a folded 16-bit partial sum), for every length and start address: words pair up from the
/// first byte of the span, and an odd trailing byte is the high byte of a zero-padded word
/// (RFC 1071 section 4.1).
///
/// How: the kernels add native (little-endian) 32-bit lanes and byte-swap the folded result
/// once (RFC 1071 section 2(B)). Per vector they do two adds and one shift: `all += v` (wrapping)
/// and `high += v >> 16`; the low halves are recovered per block as `all - (high << 16)`, exact
/// while no lane has summed more than 65536 vectors, so blocks stay below that. The last
/// (< vector width) bytes are added by scalar code in the same native domain, and `initial`
/// joins that domain up front, so one fold and one byte swap finish the sum.
///
/// Selection: with `__AVX2__` defined at compile time, AVX2 is used directly; otherwise on
/// x86-64 the CPU is asked once (`__builtin_cpu_supports("avx2")`, cached) and the AVX2 kernel,
/// compiled with `__attribute__((target("avx2")))` so no -mavx2 flag is needed, is used when
/// present, else SSE2 (baseline on x86-64). Elsewhere the scalar sum is used.
#pragma once

#include "nvgre/checksum/ones_complement.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
/// 1 where checksum::sum_sse2 and checksum::sum_avx2 exist (x86-64 with GCC or Clang), else 0.
#define NVGRE_CHECKSUM_HAS_X86_SIMD 1
#else
#define NVGRE_CHECKSUM_HAS_X86_SIMD 0
#endif

namespace nvgre::detail {
/// Bytes per block of the vector kernels: 32768 vectors of either width, half the 65536 that
/// would overflow a 32-bit lane of `high`.
inline constexpr std::size_t csum_sse2_block_bytes = std::size_t{32768} * 16;
inline constexpr std::size_t csum_avx2_block_bytes = std::size_t{32768} * 32;
}  // namespace nvgre::detail

namespace nvgre::checksum {

/// The implementations checksum::sum() can use.
enum class sum_impl : std::uint8_t { scalar, sse2, avx2 };

#if NVGRE_CHECKSUM_HAS_X86_SIMD

/// SSE2 ones'-complement sum; same contract and result as sum_scalar. O(n); no alignment
/// requirement. x86-64 only (SSE2 is part of its baseline).
[[nodiscard]] inline std::uint32_t sum_sse2(std::span<const std::byte> data, std::uint32_t initial = 0) noexcept {
    const std::byte* p = data.data();
    std::size_t n = data.size();
    // Sum of native-endian 16-bit words, unfolded; `initial` converted into that domain.
    std::uint64_t total = detail::csum_native_to_be(fold(initial));
    while (n >= 16) {
        const std::size_t chunk = n < detail::csum_sse2_block_bytes ? (n & ~std::size_t{15}) : detail::csum_sse2_block_bytes;
        std::size_t vecs = chunk / 16;
        __m128i all0 = _mm_setzero_si128(), all1 = all0, all2 = all0, all3 = all0;
        __m128i hi0 = all0, hi1 = all0, hi2 = all0, hi3 = all0;
        for (; vecs >= 4; vecs -= 4, p += 64) {
            const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
            const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
            const __m128i v2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32));
            const __m128i v3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 48));
            all0 = _mm_add_epi32(all0, v0);
            all1 = _mm_add_epi32(all1, v1);
            all2 = _mm_add_epi32(all2, v2);
            all3 = _mm_add_epi32(all3, v3);
            hi0 = _mm_add_epi32(hi0, _mm_srli_epi32(v0, 16));
            hi1 = _mm_add_epi32(hi1, _mm_srli_epi32(v1, 16));
            hi2 = _mm_add_epi32(hi2, _mm_srli_epi32(v2, 16));
            hi3 = _mm_add_epi32(hi3, _mm_srli_epi32(v3, 16));
        }
        for (; vecs != 0; --vecs, p += 16) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
            all0 = _mm_add_epi32(all0, v);
            hi0 = _mm_add_epi32(hi0, _mm_srli_epi32(v, 16));
        }
        const __m128i all = _mm_add_epi32(_mm_add_epi32(all0, all1), _mm_add_epi32(all2, all3));
        const __m128i hi = _mm_add_epi32(_mm_add_epi32(hi0, hi1), _mm_add_epi32(hi2, hi3));
        // Per lane, lo + hi < 2 * 32768 * 0xffff < 2^32: add them, then widen to 64 bits.
        const __m128i lanes = _mm_add_epi32(_mm_sub_epi32(all, _mm_slli_epi32(hi, 16)), hi);
        const __m128i w = _mm_add_epi64(_mm_and_si128(lanes, _mm_set1_epi64x(0xffffffff)), _mm_srli_epi64(lanes, 32));
        total += static_cast<std::uint64_t>(_mm_cvtsi128_si64(w)) +
                 static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(w, w)));
        n -= chunk;
    }
    return detail::csum_native_to_be(fold64(total + detail::csum_tail_native(p, n)));
}

/// AVX2 ones'-complement sum; same contract and result as sum_scalar. O(n); no alignment
/// requirement. Precondition: the CPU supports AVX2 (see cpu_has_avx2()).
[[nodiscard]] __attribute__((target("avx2"))) inline std::uint32_t sum_avx2(std::span<const std::byte> data,
                                                                            std::uint32_t initial = 0) noexcept {
    const std::byte* p = data.data();
    std::size_t n = data.size();
    // Sum of native-endian 16-bit words, unfolded; `initial` converted into that domain.
    std::uint64_t total = detail::csum_native_to_be(fold(initial));
    while (n >= 32) {
        const std::size_t chunk = n < detail::csum_avx2_block_bytes ? (n & ~std::size_t{31}) : detail::csum_avx2_block_bytes;
        std::size_t vecs = chunk / 32;
        __m256i all0 = _mm256_setzero_si256(), all1 = all0, all2 = all0, all3 = all0;
        __m256i hi0 = all0, hi1 = all0, hi2 = all0, hi3 = all0;
        for (; vecs >= 4; vecs -= 4, p += 128) {
            const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
            const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
            const __m256i v2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64));
            const __m256i v3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 96));
            all0 = _mm256_add_epi32(all0, v0);
            all1 = _mm256_add_epi32(all1, v1);
            all2 = _mm256_add_epi32(all2, v2);
            all3 = _mm256_add_epi32(all3, v3);
            hi0 = _mm256_add_epi32(hi0, _mm256_srli_epi32(v0, 16));
            hi1 = _mm256_add_epi32(hi1, _mm256_srli_epi32(v1, 16));
            hi2 = _mm256_add_epi32(hi2, _mm256_srli_epi32(v2, 16));
            hi3 = _mm256_add_epi32(hi3, _mm256_srli_epi32(v3, 16));
        }
        for (; vecs != 0; --vecs, p += 32) {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
            all0 = _mm256_add_epi32(all0, v);
            hi0 = _mm256_add_epi32(hi0, _mm256_srli_epi32(v, 16));
        }
        const __m256i all = _mm256_add_epi32(_mm256_add_epi32(all0, all1), _mm256_add_epi32(all2, all3));
        const __m256i hi = _mm256_add_epi32(_mm256_add_epi32(hi0, hi1), _mm256_add_epi32(hi2, hi3));
        // Per lane, lo + hi < 2 * 32768 * 0xffff < 2^32: add them, then widen to 64 bits.
        const __m256i lanes = _mm256_add_epi32(_mm256_sub_epi32(all, _mm256_slli_epi32(hi, 16)), hi);
        const __m256i w =
            _mm256_add_epi64(_mm256_and_si256(lanes, _mm256_set1_epi64x(0xffffffff)), _mm256_srli_epi64(lanes, 32));
        const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        total += static_cast<std::uint64_t>(_mm_cvtsi128_si64(h)) +
                 static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(h, h)));
        n -= chunk;
    }
    return detail::csum_native_to_be(fold64(total + detail::csum_tail_native(p, n)));
}

/// True if this CPU (and OS) supports AVX2. Asked once, then cached. O(1).
[[nodiscard]] inline bool cpu_has_avx2() noexcept {
    static const bool has = [] {
        __builtin_cpu_init();  // in case this runs from a static initializer
        return __builtin_cpu_supports("avx2") != 0;
    }();
    return has;
}

#else

/// No vector unit is used on this target.
[[nodiscard]] inline bool cpu_has_avx2() noexcept { return false; }

#endif  // NVGRE_CHECKSUM_HAS_X86_SIMD

/// The implementation checksum::sum() uses for inputs of simd_threshold_bytes or more.
[[nodiscard]] inline sum_impl active_sum_impl() noexcept {
#if defined(__AVX2__) && NVGRE_CHECKSUM_HAS_X86_SIMD
    return sum_impl::avx2;
#elif NVGRE_CHECKSUM_HAS_X86_SIMD
    return cpu_has_avx2() ? sum_impl::avx2 : sum_impl::sse2;
#else
    return sum_impl::scalar;
#endif
}

}  // namespace nvgre::checksum

namespace nvgre::detail {

// Declared in ones_complement.hpp; checksum::sum() calls it for inputs of 64 bytes or more.
[[nodiscard]] inline std::uint32_t sum_vectorised(std::span<const std::byte> data, std::uint32_t initial) noexcept {
#if defined(__AVX2__) && NVGRE_CHECKSUM_HAS_X86_SIMD
    return checksum::sum_avx2(data, initial);
#elif NVGRE_CHECKSUM_HAS_X86_SIMD
    return checksum::cpu_has_avx2() ? checksum::sum_avx2(data, initial) : checksum::sum_sse2(data, initial);
#else
    return checksum::sum_scalar(data, initial);
#endif
}

}  // namespace nvgre::detail
