// RFC 1624 incremental updates against full recomputation.
//
// How results are compared: for IPv4 headers and for TCP/UDP checksums (which include a
// pseudo-header with a non-zero protocol) the data never sums to zero, so a correctly computed
// checksum is never 0xffff and RFC 1624 eqn. 3 must reproduce the recomputed value *exactly*;
// those cases use ==. For arbitrary data, recomputation gives 0xffff when the new data is all
// zero while eqn. 3 gives 0x0000: equal as ones'-complement numbers (ones_equal()), but only the
// recomputed one verifies; that is the one documented case where they differ, checked exactly.
#include "nvgre/checksum/incremental.hpp"

#include "nvgre/checksum/pseudo_header.hpp"
#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace {

namespace ck = nvgre::checksum;
using nvgre::ipv4_address;
using nvgre::ipv6_address;

constexpr int cases = 100000;

std::uint16_t be16(const std::vector<std::byte>& v, std::size_t off) {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(v[off]) << 8) | std::to_integer<unsigned>(v[off + 1]));
}
std::uint32_t be32(const std::vector<std::byte>& v, std::size_t off) {
    return (std::uint32_t{be16(v, off)} << 16) | be16(v, off + 2);
}
void put16(std::vector<std::byte>& v, std::size_t off, std::uint16_t x) {
    v[off] = static_cast<std::byte>(x >> 8);
    v[off + 1] = static_cast<std::byte>(x & 0xff);
}
void put32(std::vector<std::byte>& v, std::size_t off, std::uint32_t x) {
    put16(v, off, static_cast<std::uint16_t>(x >> 16));
    put16(v, off + 2, static_cast<std::uint16_t>(x));
}

// A random IPv4 header (version 4, IHL 5) with a correct checksum.
std::vector<std::byte> random_ipv4_header(std::mt19937& rng) {
    std::vector<std::byte> h(20);
    for (auto& b : h) b = static_cast<std::byte>(rng() & 0xff);
    h[0] = std::byte{0x45};
    put16(h, 10, ck::ipv4_header_checksum(h));
    return h;
}

ipv6_address random_v6(std::mt19937& rng) {
    std::array<std::uint8_t, 16> o{};
    for (auto& b : o) b = static_cast<std::uint8_t>(rng() & 0xff);
    return ipv6_address{o};
}

bool ones_equal(std::uint16_t a, std::uint16_t b) {
    return a == b || ((a == 0 || a == 0xffff) && (b == 0 || b == 0xffff));
}

}  // namespace

static_assert(ck::update16(0xdd2f, 0x5555, 0x3285) == 0x0000);
static_assert(ck::udp_checksum_field(0) == 0xffff);
static_assert(ck::udp_checksum_field(0x1234) == 0x1234);

TEST_CASE("RFC 1624 section 3 example: eqn. 3 gives +0 where recomputation gives +0") {
    // The rest of the header sums to 0xcd7a; m = 0x5555 becomes m' = 0x3285.
    const std::uint16_t hc = ck::finish(ck::combine(0xcd7a, 0x5555));
    CHECK(hc == 0xdd2f);
    const std::uint16_t recomputed = ck::finish(ck::combine(0xcd7a, 0x3285));
    CHECK(recomputed == 0x0000);
    CHECK(ck::update16(hc, 0x5555, 0x3285) == recomputed);
    // RFC 1141's eqn. 2 (HC + m + ~m') would have produced -0 here.
    CHECK(static_cast<std::uint16_t>(ck::fold(std::uint32_t{hc} + 0x5555 + static_cast<std::uint16_t>(~0x3285))) ==
          0xffff);
}

TEST_CASE("eqn. 3 gives 0x0000 where recomputation over all-zero data gives 0xffff") {
    const auto before = nvgre::test::from_hex("12 34");
    const auto after = nvgre::test::from_hex("00 00");
    const std::uint16_t hc = ck::compute(before);
    CHECK(ck::compute(after) == 0xffff);
    CHECK(ck::update16(hc, 0x1234, 0x0000) == 0x0000);
    CHECK(ck::update(hc, before, after) == 0x0000);
}

TEST_CASE("IPv4 header: a 16-bit field changes; update16 == recomputation exactly") {
    std::mt19937 rng(16);
    for (int i = 0; i < cases; ++i) {
        auto h = random_ipv4_header(rng);
        // Any word but the checksum (offset 10); the version/IHL byte stays 0x45.
        std::size_t off = 2 * (rng() % 10);
        if (off == 10) off = 2;
        std::uint16_t nw = static_cast<std::uint16_t>(rng());
        if (off == 0) nw = static_cast<std::uint16_t>(0x4500 | (nw & 0xff));
        if (rng() % 16 == 0) nw = static_cast<std::uint16_t>(rng() % 2 ? 0xffff : 0x0000);  // edge words
        const auto old_cs = be16(h, 10);
        const auto ow = be16(h, off);
        put16(h, off, nw);
        const auto expect = ck::ipv4_header_checksum(h);
        REQUIRE(ck::update16(old_cs, ow, nw) == expect);
        put16(h, 10, expect);
        REQUIRE(ck::verify(h));
    }
}

TEST_CASE("IPv4 header: a 32-bit field changes; update32 and update() == recomputation exactly") {
    std::mt19937 rng(32);
    const std::size_t offsets[] = {4, 12, 16};  // id+flags/frag, source, destination
    for (int i = 0; i < cases; ++i) {
        auto h = random_ipv4_header(rng);
        const std::size_t off = offsets[rng() % 3];
        const auto old_cs = be16(h, 10);
        const std::vector<std::byte> old_bytes(h.begin() + static_cast<std::ptrdiff_t>(off),
                                               h.begin() + static_cast<std::ptrdiff_t>(off + 4));
        const auto ov = be32(h, off);
        const std::uint32_t nv = rng() % 32 == 0 ? 0 : static_cast<std::uint32_t>(rng());
        put32(h, off, nv);
        const std::vector<std::byte> new_bytes(h.begin() + static_cast<std::ptrdiff_t>(off),
                                               h.begin() + static_cast<std::ptrdiff_t>(off + 4));
        const auto expect = ck::ipv4_header_checksum(h);
        REQUIRE(ck::update32(old_cs, ov, nv) == expect);
        REQUIRE(ck::update(old_cs, old_bytes, new_bytes) == expect);
    }
}

TEST_CASE("IPv4 address rewrite: header checksum and TCP checksum via the pseudo-header") {
    std::mt19937 rng(4);
    std::vector<std::byte> payload(40);
    for (int i = 0; i < cases; ++i) {
        auto h = random_ipv4_header(rng);
        const bool rewrite_src = rng() % 2 == 0;
        const std::size_t off = rewrite_src ? 12 : 16;
        const auto from = ipv4_address::from_uint(be32(h, off));
        const auto to = ipv4_address::from_uint(static_cast<std::uint32_t>(rng()));
        // A TCP segment (any bytes: the pseudo-header makes its sum non-zero).
        for (auto& b : payload) b = static_cast<std::byte>(rng() & 0xff);
        const auto src = ipv4_address::from_uint(be32(h, 12)), dst = ipv4_address::from_uint(be32(h, 16));
        const std::uint16_t tcp_old =
            ck::finish(ck::sum(payload, ck::ipv4_pseudo_header_sum(src, dst, ck::ip_protocol_tcp, 40)));

        const auto old_cs = be16(h, 10);
        put32(h, off, to.to_uint());
        REQUIRE(ck::update_address(old_cs, from, to) == ck::ipv4_header_checksum(h));
        REQUIRE(ck::update_address(old_cs, nvgre::ip_address{from}, nvgre::ip_address{to}) ==
                ck::ipv4_header_checksum(h));

        const auto nsrc = rewrite_src ? to : src, ndst = rewrite_src ? dst : to;
        const std::uint16_t tcp_new =
            ck::finish(ck::sum(payload, ck::ipv4_pseudo_header_sum(nsrc, ndst, ck::ip_protocol_tcp, 40)));
        REQUIRE(ck::update_address(tcp_old, from, to) == tcp_new);
    }
}

TEST_CASE("IPv6 address rewrite: TCP/UDP checksum via the pseudo-header") {
    std::mt19937 rng(6);
    std::vector<std::byte> payload(33);  // odd: the trailing byte is zero-padded
    for (int i = 0; i < cases; ++i) {
        const auto src = random_v6(rng), dst = random_v6(rng);
        const auto to = rng() % 64 == 0 ? ipv6_address{} : random_v6(rng);
        for (auto& b : payload) b = static_cast<std::byte>(rng() & 0xff);
        const bool udp = rng() % 2 == 0;
        const std::uint8_t proto = udp ? ck::ip_protocol_udp : ck::ip_protocol_tcp;
        const auto computed = [&](const ipv6_address& s, const ipv6_address& d) {
            const std::uint16_t c = ck::finish(ck::sum(payload, ck::ipv6_pseudo_header_sum(s, d, proto, 33)));
            return udp ? ck::udp_checksum_field(c) : c;
        };
        const auto old_cs = computed(src, dst);
        const bool rewrite_src = rng() % 2 == 0;
        const auto expect = rewrite_src ? computed(to, dst) : computed(src, to);
        const auto& from = rewrite_src ? src : dst;
        if (udp) {
            REQUIRE(ck::update_udp_address(old_cs, from, to) == expect);
        } else {
            REQUIRE(ck::update_address(old_cs, from, to) == expect);
            REQUIRE(ck::update_address(old_cs, nvgre::ip_address{from}, nvgre::ip_address{to}) == expect);
            std::array<std::byte, 16> fb{}, tb{};
            from.to_bytes(fb);
            to.to_bytes(tb);
            REQUIRE(ck::update(old_cs, fb, tb) == expect);
        }
    }
}

TEST_CASE("arbitrary short data: update equals recomputation except for all-zero new data") {
    std::mt19937 rng(1624);
    int all_zero = 0;
    for (int i = 0; i < cases; ++i) {
        // Short words with few bits set, so that all-zero data and -0 sums come up often.
        std::vector<std::byte> d(2 * (1 + rng() % 3));
        for (auto& b : d) b = static_cast<std::byte>(rng() % 4 == 0 ? rng() & 0xff : (rng() % 2 ? 0xff : 0));
        const std::uint16_t hc = ck::compute(d);
        const std::size_t off = 2 * (rng() % (d.size() / 2));
        const auto ow = be16(d, off);
        const std::uint16_t nw = static_cast<std::uint16_t>(rng() % 4 == 0 ? rng() : (rng() % 2 ? 0xffff : 0));
        put16(d, off, nw);
        const std::uint16_t updated = ck::update16(hc, ow, nw);
        REQUIRE(ones_equal(updated, ck::compute(d)));
        if (ck::sum(d) == 0) {  // all-zero data: the documented divergence
            REQUIRE(updated == 0x0000);
            REQUIRE(ck::compute(d) == 0xffff);
            ++all_zero;
            continue;
        }
        REQUIRE(updated == ck::compute(d));
        auto with = d;
        with.push_back(static_cast<std::byte>(updated >> 8));
        with.push_back(static_cast<std::byte>(updated & 0xff));
        REQUIRE(ck::verify(with));
    }
    CHECK(all_zero > 0);  // the edge case did come up
}

TEST_CASE("UDP over IPv4: absent stays absent, a computed 0 is sent as 0xffff") {
    const auto a = ipv4_address::from_uint(0x0a000001), b = ipv4_address::from_uint(0x0a000002);
    const auto c = ipv4_address::from_uint(0xc0a80001);
    CHECK(ck::update_udp16(0, 0x1234, 0x4321) == 0);
    CHECK(ck::update_udp32(0, 0x0a000001, 0xc0a80001) == 0);
    CHECK(ck::update_udp_address(0, a, c) == 0);
    const auto x = nvgre::test::from_hex("0a000001"), y = nvgre::test::from_hex("c0a80001");
    CHECK(ck::update_udp(0, x, y) == 0);

    // A UDP datagram whose checksum computes to 0x0000 (sent as 0xffff): its last word is
    // chosen so that the pseudo-header + datagram sum to -0.
    std::vector<std::byte> udp = nvgre::test::from_hex("3039 12b5 000c 0000 abcd 0000");
    const auto pseudo = ck::ipv4_pseudo_header_sum(a, b, ck::ip_protocol_udp, 12);
    put16(udp, 10, static_cast<std::uint16_t>(0xffff - ck::sum(udp, pseudo)));
    REQUIRE(ck::finish(ck::sum(udp, pseudo)) == 0x0000);
    const std::uint16_t field = ck::udp_checksum_field(0x0000);
    CHECK(field == 0xffff);
    put16(udp, 6, field);
    CHECK(ck::verify(udp) == false);  // the pseudo-header is needed
    CHECK(ck::fold(ck::sum(udp, pseudo)) == 0xffff);

    // Patch the destination a -> c from the 0xffff field; compare with recomputation.
    put16(udp, 6, 0);
    const std::uint16_t expect =
        ck::udp_checksum_field(ck::finish(ck::sum(udp, ck::ipv4_pseudo_header_sum(a, c, ck::ip_protocol_udp, 12))));
    CHECK(ck::update_udp_address(field, b, c) == expect);
    CHECK(ck::update_udp32(field, b.to_uint(), c.to_uint()) == expect);

    // And a patch whose result is 0x0000 is sent as 0xffff: change the last word back so the
    // sum is -0 again.
    const std::uint16_t last = be16(udp, 10);
    const std::uint16_t other = static_cast<std::uint16_t>(last ^ 0x00ff);
    put16(udp, 10, other);
    const std::uint16_t f2 = ck::udp_checksum_field(ck::finish(ck::sum(udp, pseudo)));
    CHECK(ck::update_udp16(f2, other, last) == 0xffff);
    CHECK(ck::update16(f2, other, last) == 0x0000);
}
