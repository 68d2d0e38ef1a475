// The scalar core of the Internet checksum: fold/combine/finish, sum_scalar against a naive
// word-at-a-time reference, RFC and scapy known answers, ipv4_header_checksum.
#include "nvgre/checksum/ones_complement.hpp"

#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace {

using nvgre::test::from_hex;
namespace ck = nvgre::checksum;

// The definition, one 16-bit big-endian word at a time (RFC 1071 section 4.1).
std::uint16_t naive_sum(std::span<const std::byte> d, std::uint32_t initial = 0) {
    std::uint64_t s = initial;
    std::size_t i = 0;
    for (; i + 1 < d.size(); i += 2)
        s += (std::to_integer<std::uint32_t>(d[i]) << 8) | std::to_integer<std::uint32_t>(d[i + 1]);
    if (i < d.size()) s += std::to_integer<std::uint32_t>(d[i]) << 8;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<std::uint16_t>(s);
}

std::vector<std::byte> random_bytes(std::mt19937& rng, std::size_t n) {
    std::vector<std::byte> v(n);
    for (auto& b : v) b = static_cast<std::byte>(rng() & 0xff);
    return v;
}

}  // namespace

static_assert(ck::fold(0) == 0);
static_assert(ck::fold(0xffff) == 0xffff);
static_assert(ck::fold(0x10000) == 1);
static_assert(ck::fold(0x1fffe) == 0xffff);
static_assert(ck::fold(0xffffffffu) == 0xffff);
static_assert(ck::fold64(0xffffffffffffffffull) == 0xffff);
static_assert(ck::fold64(0x0001000000000000ull) == 1);
static_assert(ck::combine(0xffff, 0xffff) == 0xffff);
static_assert(ck::combine(0, 0) == 0);
static_assert(ck::combine(0xffffffffu, 1) == 1);
static_assert(ck::finish(0xddf2) == 0x220d);
static_assert(ck::finish(0) == 0xffff);

TEST_CASE("fold/combine/finish: end-around carry, two zeros") {
    CHECK(ck::fold(0x0001fffe) == 0xffff);   // 0x1 + 0xfffe
    CHECK(ck::fold(0x0002ffff) == 0x0002);   // 0x2 + 0xffff = 0x10001 -> 0x0002
    CHECK(ck::fold64(0x00000001'00000000ull) == 1);
    CHECK(ck::combine(0x8000, 0x8000) == 0x0001);
    CHECK(ck::finish(0xffff) == 0x0000);
    CHECK(ck::finish(0x1ffff) == 0xfffe);  // 0x1 + 0xffff = 0x10000 -> 0x0001
}

TEST_CASE("RFC 1071 section 3 numerical example") {
    // Bytes 00 01 f2 03 f4 f5 f6 f7: words 0001 + f203 + f4f5 + f6f7 = 0x2ddf0 -> 0xddf2.
    const auto d = from_hex("00 01 f2 03 f4 f5 f6 f7");
    CHECK(ck::sum_scalar(d) == 0xddf2);
    CHECK(ck::sum(d) == 0xddf2);
    CHECK(ck::compute(d) == 0x220d);
    // Byte-order independence (RFC 1071 section 2(B)): swapped pairs give the swapped sum.
    const auto swapped = from_hex("01 00 03 f2 f5 f4 f7 f6");
    CHECK(ck::sum(swapped) == 0xf2dd);
    // Appending the checksum makes the whole verify.
    auto with = d;
    with.push_back(std::byte{0x22});
    with.push_back(std::byte{0x0d});
    CHECK(ck::verify(with));
}

TEST_CASE("odd trailing byte is the high byte of a zero-padded word") {
    CHECK(ck::sum(from_hex("ab")) == 0xab00);
    CHECK(ck::sum(from_hex("12 34 ab")) == 0xbd34);
    CHECK(ck::sum_scalar(from_hex("ff ff ff")) == 0xff00);  // 0xffff + 0xff00 -> 0x1feff -> 0xff00
    CHECK(ck::sum(std::span<const std::byte>{}) == 0);
    CHECK(ck::sum(std::span<const std::byte>{}, 0x12345) == 0x2346);
    CHECK(ck::compute(std::span<const std::byte>{}) == 0xffff);
}

TEST_CASE("all-zero data sums to +0, any other data to [1, 0xffff]") {
    const std::vector<std::byte> zeros(100);
    CHECK(ck::sum(zeros) == 0);
    CHECK(ck::compute(zeros) == 0xffff);
    const auto ff = from_hex("ff ff 00 00");
    CHECK(ck::sum(ff) == 0xffff);
    CHECK(ck::sum(from_hex("00 01 ff fe")) == 0xffff);  // -0, never +0
}

TEST_CASE("IPv4 header, Wikipedia / RFC example: checksum 0xb861") {
    auto h = from_hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
    CHECK(ck::verify(h));
    CHECK(ck::ipv4_header_checksum(h) == 0xb861);
    h[10] = std::byte{0};
    h[11] = std::byte{0};
    CHECK(ck::compute(h) == 0xb861);
    CHECK(ck::ipv4_header_checksum(h) == 0xb861);
    CHECK_FALSE(ck::verify(h));
}

TEST_CASE("IPv4 header known answer from scapy") {
    // /usr/bin/python3 -c 'from scapy.all import *; print(bytes(IP(src="192.168.10.11",
    //   dst="192.168.10.12",proto=47,ttl=64,flags="DF",id=0)/(b"x"*20)).hex())'
    const auto pkt = from_hex(
        "4500002800004000402fa53fc0a80a0bc0a80a0c"
        "7878787878787878787878787878787878787878");
    const auto header = std::span<const std::byte>(pkt).first(20);
    CHECK(ck::verify(header));
    CHECK(ck::ipv4_header_checksum(header) == 0xa53f);
    auto zeroed = std::vector<std::byte>(header.begin(), header.end());
    zeroed[10] = zeroed[11] = std::byte{0};
    CHECK(ck::compute(zeroed) == 0xa53f);
    // A stale value in the field does not matter to ipv4_header_checksum.
    zeroed[10] = zeroed[11] = std::byte{0x5a};
    CHECK(ck::ipv4_header_checksum(zeroed) == 0xa53f);
}

TEST_CASE("ipv4_header_checksum with options equals compute() over the zeroed header") {
    std::mt19937 rng(1071);
    for (std::size_t len = 20; len <= 60; len += 4) {
        for (int rep = 0; rep < 200; ++rep) {
            auto h = random_bytes(rng, len);
            h[0] = static_cast<std::byte>(0x40 | (len / 4));
            const auto fast = ck::ipv4_header_checksum(h);
            h[10] = h[11] = std::byte{0};
            REQUIRE(fast == ck::compute(h));
            CHECK(fast != 0xffff);
        }
    }
}

TEST_CASE("sum_scalar equals the word-at-a-time definition (lengths, offsets, initial values)") {
    std::mt19937 rng(42);
    const auto buf = random_bytes(rng, 600);
    const std::uint32_t initials[] = {0, 1, 0xffff, 0x10000, 0xfffe0001, 0xffffffffu};
    for (std::size_t off = 0; off < 8; ++off) {
        for (std::size_t len = 0; len + off <= 520; ++len) {
            const auto d = std::span<const std::byte>(buf).subspan(off, len);
            for (auto init : initials) REQUIRE(ck::sum_scalar(d, init) == naive_sum(d, init));
            REQUIRE(ck::sum(d) == naive_sum(d));
        }
    }
    const std::vector<std::byte> ff(4099, std::byte{0xff});
    for (std::size_t len = 0; len <= ff.size(); ++len) {
        const auto d = std::span<const std::byte>(ff).first(len);
        REQUIRE(ck::sum_scalar(d) == naive_sum(d));
    }
}

TEST_CASE("partial sums compose: sum(a ++ b) == combine(sum(a), sum(b)) for even |a|") {
    std::mt19937 rng(7);
    const auto buf = random_bytes(rng, 3000);
    const std::span<const std::byte> all(buf);
    for (std::size_t cut = 0; cut <= all.size(); cut += 2) {
        const auto a = all.first(cut), b = all.subspan(cut);
        REQUIRE(ck::combine(ck::sum(a), ck::sum(b)) == ck::sum(all));
        REQUIRE(ck::sum(b, ck::sum(a)) == ck::sum(all));
    }
}
