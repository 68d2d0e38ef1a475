// The vectorised sums give bit-identical folded results to sum_scalar for every length, start
// alignment and initial value; carry stress with all-0xff data; buffers past the block size.
//
// This file includes ones_complement_simd.hpp first on purpose (the other include order is
// exercised by ones_complement.test.cpp).
#include "nvgre/checksum/ones_complement_simd.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace {

namespace ck = nvgre::checksum;

using sum_fn = std::uint32_t (*)(std::span<const std::byte>, std::uint32_t) noexcept;

struct impl {
    const char* name;
    sum_fn fn;
};

// sum() (the dispatcher) always; each x86 kernel when this CPU can run it.
std::vector<impl> implementations() {
    std::vector<impl> v{{"sum", [](std::span<const std::byte> d, std::uint32_t i) noexcept { return ck::sum(d, i); }}};
#if NVGRE_CHECKSUM_HAS_X86_SIMD
    v.push_back({"sse2", [](std::span<const std::byte> d, std::uint32_t i) noexcept { return ck::sum_sse2(d, i); }});
    if (ck::cpu_has_avx2())
        v.push_back({"avx2", [](std::span<const std::byte> d, std::uint32_t i) noexcept { return ck::sum_avx2(d, i); }});
    if (ck::cpu_has_avx512_vnni())
        v.push_back({"avx512", [](std::span<const std::byte> d, std::uint32_t i) noexcept { return ck::sum_avx512(d, i); }});
#endif
    return v;
}

std::vector<std::byte> random_bytes(std::uint32_t seed, std::size_t n) {
    std::mt19937 rng(seed);
    std::vector<std::byte> v(n);
    for (auto& b : v) b = static_cast<std::byte>(rng() & 0xff);
    return v;
}

}  // namespace

TEST_CASE("the dispatcher reports an implementation this build and CPU can run") {
    const auto which = ck::active_sum_impl();
#if NVGRE_CHECKSUM_HAS_X86_SIMD
    CHECK(which == (ck::cpu_has_avx512_vnni() ? ck::sum_impl::avx512
                    : ck::cpu_has_avx2()      ? ck::sum_impl::avx2
                                              : ck::sum_impl::sse2));
#else
    CHECK(which == ck::sum_impl::scalar);
#endif
    MESSAGE("sum() uses implementation " << static_cast<int>(which) << " (0 scalar, 1 sse2, 2 avx2, 3 avx512)");
}

TEST_CASE("vectorised == scalar: every length 0..4096 at start alignments 0..7") {
    const auto buf = random_bytes(2024, 4096 + 64);
    const std::span<const std::byte> all(buf);
    for (const auto& im : implementations()) {
        CAPTURE(im.name);
        for (std::size_t align = 0; align < 8; ++align) {
            for (std::size_t len = 0; len <= 4096; ++len) {
                const auto d = all.subspan(align, len);
                const std::uint32_t init = static_cast<std::uint32_t>(len * 0x9e3779b9u);
                if (im.fn(d, init) != ck::sum_scalar(d, init)) {
                    CAPTURE(align);
                    CAPTURE(len);
                    REQUIRE(im.fn(d, init) == ck::sum_scalar(d, init));
                }
            }
        }
    }
}

TEST_CASE("vectorised == scalar: every start alignment 0..63 at selected lengths") {
    const auto buf = random_bytes(99, 9000 + 64);
    const std::span<const std::byte> all(buf);
    std::vector<std::size_t> lengths;
    for (std::size_t len = 0; len <= 200; ++len) lengths.push_back(len);
    for (std::size_t len : {255u, 256u, 257u, 511u, 512u, 513u, 1023u, 1499u, 1500u, 1501u, 4095u, 4096u, 8999u, 9000u})
        lengths.push_back(len);
    const std::uint32_t initials[] = {0, 0xffff, 0xffffffffu};
    for (const auto& im : implementations()) {
        CAPTURE(im.name);
        for (std::size_t align = 0; align < 64; ++align) {
            for (std::size_t len : lengths) {
                const auto d = all.subspan(align, len);
                for (auto init : initials) {
                    if (im.fn(d, init) != ck::sum_scalar(d, init)) {
                        CAPTURE(align);
                        CAPTURE(len);
                        CAPTURE(init);
                        REQUIRE(im.fn(d, init) == ck::sum_scalar(d, init));
                    }
                }
            }
        }
    }
}

TEST_CASE("all-0xff data (carry stress) and all-zero data") {
    const std::vector<std::byte> ff((std::size_t{4} << 20) + 64, std::byte{0xff});
    const std::vector<std::byte> zero((std::size_t{1} << 20) + 64, std::byte{0});
    for (const auto& im : implementations()) {
        CAPTURE(im.name);
        for (std::size_t len : {64u, 65u, 1500u, 1501u, 65536u, 65537u, (1u << 20), (1u << 20) + 3, (4u << 20) + 63}) {
            for (std::size_t align : {0u, 1u}) {
                CAPTURE(len);
                CAPTURE(align);
                const auto d = std::span<const std::byte>(ff).subspan(align, len);
                // Even length: a sum of 0xffff words is -0. Odd: plus a 0xff00 word.
                const std::uint32_t expect = len % 2 == 0 ? 0xffff : 0xff00;
                CHECK(im.fn(d, 0) == expect);
                CHECK(im.fn(d, 0) == ck::sum_scalar(d, 0));
                CHECK(im.fn(d, 0xffffffffu) == ck::sum_scalar(d, 0xffffffffu));
                if (len <= zero.size() - 1) {
                    const auto z = std::span<const std::byte>(zero).subspan(align, len);
                    CHECK(im.fn(z, 0) == 0);
                    CHECK(im.fn(z, 0xffff) == 0xffff);
                }
            }
        }
    }
}

TEST_CASE("long buffers: 64 KB, 1 MB, and past the kernels' block sizes") {
    const auto buf = random_bytes(5, (std::size_t{3} << 20) + 200);
    const std::span<const std::byte> all(buf);
    for (const auto& im : implementations()) {
        CAPTURE(im.name);
        for (std::size_t len : {65536u, 65537u, (1u << 20), (1u << 20) + 1, (2u << 20) + 77, (3u << 20) + 131}) {
            for (std::size_t align : {0u, 3u, 32u}) {
                CAPTURE(len);
                CAPTURE(align);
                const auto d = all.subspan(align, len);
                CHECK(im.fn(d, 0x1234) == ck::sum_scalar(d, 0x1234));
            }
        }
    }
}

TEST_CASE("sum() below and above the SIMD threshold agrees with sum_scalar") {
    const auto buf = random_bytes(64, 256);
    for (std::size_t len = ck::simd_threshold_bytes - 3; len <= ck::simd_threshold_bytes + 3; ++len) {
        const auto d = std::span<const std::byte>(buf).first(len);
        CHECK(ck::sum(d) == ck::sum_scalar(d));
        CHECK(ck::verify(d) == (ck::sum_scalar(d) == 0xffff));
    }
}
