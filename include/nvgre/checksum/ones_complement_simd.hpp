/// @file checksum/ones_complement_simd.hpp
/// @brief Vectorised ones'-complement sums (SSE2, AVX2, AVX-512 VNNI on x86-64) and the
/// dispatch behind checksum::sum().
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
/// The AVX-512 kernel counts differently, two instructions per 64 bytes: VPDPWSSD (VNNI)
/// multiplies 16-bit words by 1 and adds pairs into 32-bit lanes, but treats the words as
/// signed; flipping each word's top bit first (w ^ 0x8000 reads as w - 32768) makes every word
/// count exactly, short by 32768 — added back once at the end for every word of every vector
/// (the zero bytes of a masked tail vector included). Lanes move by at most 65536 per vector, so
/// blocks of 16384 vectors cannot overflow them. The tail (< 64 bytes) is one masked load.
///
/// Selection: on x86-64 the CPU is asked once (`__builtin_cpu_supports`, cached); kernels are
/// compiled with `__attribute__((target(...)))`, so no -m flag is needed. AVX-512 (BW + VNNI)
/// when present, else AVX2 (used directly when `__AVX2__` is defined at compile time and the
/// CPU has no AVX-512 VNNI), else SSE2 (baseline on x86-64). Elsewhere the scalar sum is used.
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
inline constexpr std::size_t csum_avx512_block_bytes = std::size_t{16384} * 64;
}  // namespace nvgre::detail

namespace nvgre::checksum {

/// The implementations checksum::sum() can use.
enum class sum_impl : std::uint8_t { scalar, sse2, avx2, avx512 };

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

/// AVX-512 ones'-complement sum (AVX512BW + AVX512VNNI, see the file comment); same contract
/// and result as sum_scalar. O(n); no alignment requirement. Precondition: the CPU supports
/// both (see cpu_has_avx512_vnni()).
[[nodiscard]] __attribute__((target("avx512bw,avx512vnni"))) inline std::uint32_t sum_avx512(
    std::span<const std::byte> data, std::uint32_t initial = 0) noexcept {
    const std::byte* p = data.data();
    std::size_t n = data.size();
    // Sum of native-endian 16-bit words, unfolded; `initial` converted into that domain.
    std::uint64_t total = detail::csum_native_to_be(fold(initial));
    const __m512i flip = _mm512_set1_epi16(static_cast<short>(0x8000));
    const __m512i ones = _mm512_set1_epi16(1);
    while (n != 0) {
        const std::size_t chunk = n < detail::csum_avx512_block_bytes ? n : detail::csum_avx512_block_bytes;
        std::size_t left = chunk;
        std::uint64_t vectors = 0;
        // Eight accumulators: a multiply-add waits ~5 cycles for its accumulator, so a 1500-byte
        // packet (24 vectors) needs several chains in flight to run at load speed.
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
// (A macro: a lambda would not inherit this function's target attribute.)
#define NVGRE_CSUM_ADD512(acc, q) acc = _mm512_dpwssd_epi32(acc, _mm512_xor_si512(_mm512_loadu_si512(q), flip), ones)
        for (; left >= 512; left -= 512, p += 512, vectors += 8) {
            NVGRE_CSUM_ADD512(a0, p);
            NVGRE_CSUM_ADD512(a1, p + 64);
            NVGRE_CSUM_ADD512(a2, p + 128);
            NVGRE_CSUM_ADD512(a3, p + 192);
            NVGRE_CSUM_ADD512(a4, p + 256);
            NVGRE_CSUM_ADD512(a5, p + 320);
            NVGRE_CSUM_ADD512(a6, p + 384);
            NVGRE_CSUM_ADD512(a7, p + 448);
        }
        // At most 7 whole vectors and a partial one are left: each into its own accumulator.
        if (left >= 256) {
            NVGRE_CSUM_ADD512(a4, p);
            NVGRE_CSUM_ADD512(a5, p + 64);
            NVGRE_CSUM_ADD512(a6, p + 128);
            NVGRE_CSUM_ADD512(a7, p + 192);
            left -= 256, p += 256, vectors += 4;
        }
        if (left >= 64) {
            NVGRE_CSUM_ADD512(a1, p);
            left -= 64, p += 64, ++vectors;
            if (left >= 64) {
                NVGRE_CSUM_ADD512(a2, p);
                left -= 64, p += 64, ++vectors;
                if (left >= 64) {
                    NVGRE_CSUM_ADD512(a3, p);
                    left -= 64, p += 64, ++vectors;
                }
            }
        }
#undef NVGRE_CSUM_ADD512
        if (left != 0) {
            // The last bytes, zero-filled to a whole vector (masked-off bytes are not read); an
            // odd last byte is the low byte of its native word, as in csum_tail_native.
            const __mmask64 m = (std::uint64_t{1} << left) - 1;  // left < 64
            a0 = _mm512_dpwssd_epi32(a0, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, p), flip), ones);
            p += left;
            ++vectors;
        }
        const __m512i a = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                                           _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
        // Lanes may have gone negative: widen to 64 bits with their signs, then add 32768 for
        // each of the 32 words of each vector.
        // (The all-lanes maskz_ forms: GCC 12's unmasked shift, shuffle and extract intrinsics
        // start from an "undefined" vector that trips -Wmaybe-uninitialized.)
        constexpr __mmask8 all = 0xff;
        const __m512i wide = _mm512_add_epi64(_mm512_maskz_srai_epi64(all, _mm512_maskz_slli_epi64(all, a, 32), 32),
                                              _mm512_maskz_srai_epi64(all, a, 32));
        const __m512i halves = _mm512_add_epi64(wide, _mm512_maskz_shuffle_i64x2(all, wide, wide, 0xee));
        const __m512i quarters = _mm512_add_epi64(halves, _mm512_maskz_shuffle_i64x2(all, halves, halves, 0x55));
        const __m128i q = _mm512_maskz_extracti32x4_epi32(0xf, quarters, 0);
        const auto lanes = static_cast<std::uint64_t>(_mm_cvtsi128_si64(q)) +
                           static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(q, q)));
        total += lanes + vectors * (std::uint64_t{32} * 32768u);
        n -= chunk;
    }
    return detail::csum_native_to_be(fold64(total));
}

/// True if this CPU (and OS) supports AVX2. Asked once, then cached. O(1).
[[nodiscard]] inline bool cpu_has_avx2() noexcept {
    static const bool has = [] {
        __builtin_cpu_init();  // in case this runs from a static initializer
        return __builtin_cpu_supports("avx2") != 0;
    }();
    return has;
}

/// True if this CPU (and OS) supports AVX-512 BW and VNNI (sum_avx512). Asked once, then
/// cached. O(1).
[[nodiscard]] inline bool cpu_has_avx512_vnni() noexcept {
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512bw") != 0 && __builtin_cpu_supports("avx512vnni") != 0;
    }();
    return has;
}

#else

/// No vector unit is used on this target.
[[nodiscard]] inline bool cpu_has_avx2() noexcept { return false; }
[[nodiscard]] inline bool cpu_has_avx512_vnni() noexcept { return false; }

#endif  // NVGRE_CHECKSUM_HAS_X86_SIMD

/// The implementation checksum::sum() uses for inputs of simd_threshold_bytes or more.
[[nodiscard]] inline sum_impl active_sum_impl() noexcept {
#if defined(__AVX2__) && NVGRE_CHECKSUM_HAS_X86_SIMD
    return cpu_has_avx512_vnni() ? sum_impl::avx512 : sum_impl::avx2;
#elif NVGRE_CHECKSUM_HAS_X86_SIMD
    return cpu_has_avx512_vnni() ? sum_impl::avx512 : cpu_has_avx2() ? sum_impl::avx2 : sum_impl::sse2;
#else
    return sum_impl::scalar;
#endif
}

}  // namespace nvgre::checksum

namespace nvgre::detail {

// Declared in ones_complement.hpp; checksum::sum() calls it for inputs of 64 bytes or more.
[[nodiscard]] inline std::uint32_t sum_vectorised(std::span<const std::byte> data, std::uint32_t initial) noexcept {
#if defined(__AVX2__) && NVGRE_CHECKSUM_HAS_X86_SIMD
    return checksum::cpu_has_avx512_vnni() ? checksum::sum_avx512(data, initial) : checksum::sum_avx2(data, initial);
#elif NVGRE_CHECKSUM_HAS_X86_SIMD
    if (checksum::cpu_has_avx512_vnni()) return checksum::sum_avx512(data, initial);
    return checksum::cpu_has_avx2() ? checksum::sum_avx2(data, initial) : checksum::sum_sse2(data, initial);
#else
    return checksum::sum_scalar(data, initial);
#endif
}

}  // namespace nvgre::detail
