#include "nvgre/datapath/too_big.hpp"

#include "support/frames.hpp"
#include "support/tcp_frames.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;

namespace {
const mac_address router = mac("02:00:5e:00:01:01");
}

TEST_CASE("datapath/too_big: ICMP fragmentation needed quotes 548 bytes of the packet, from the gateway") {
    tcp_frame_spec s;
    s.payload_len = 1460;  // a 1500-byte IPv4 packet
    const auto original = tcp_frame(s);
    REQUIRE(too_big_answerable(original));
    buffer b(original);
    REQUIRE(make_too_big(b.f, {router, ip("10.0.0.1"), 1458}));
    const auto out = b.bytes();
    REQUIRE(out.size() == 14 + 576);
    CHECK(mac_address::from_bytes(std::span(out).subspan(0, 6)) == s.src_mac);
    CHECK(mac_address::from_bytes(std::span(out).subspan(6, 6)) == router);
    CHECK(detail::load_be16(out.data() + 12) == 0x0800);
    const auto ip_header = std::span<const std::byte>(out).subspan(14, 20);
    CHECK(checksum::verify(ip_header));
    CHECK(detail::load_be16(out.data() + 16) == 576);
    CHECK(std::to_integer<int>(out[14 + 9]) == 1);
    CHECK(ipv4_address::from_bytes(ip_header.subspan(12, 4)) == ipv4_address{{10, 0, 0, 1}});
    CHECK(ipv4_address::from_bytes(ip_header.subspan(16, 4)) == s.src.v4());
    const auto icmp = std::span<const std::byte>(out).subspan(34);
    CHECK(std::to_integer<int>(icmp[0]) == 3);
    CHECK(std::to_integer<int>(icmp[1]) == 4);
    CHECK(detail::load_be16(icmp.data() + 6) == 1458);
    CHECK(checksum::verify(icmp));
    // The quote: the first 548 bytes of the offending IP packet, untouched.
    CHECK(std::equal(icmp.begin() + 8, icmp.end(), original.begin() + 14));
}

TEST_CASE("datapath/too_big: ICMPv6 packet too big quotes up to 1232 bytes") {
    tcp_frame_spec s;
    s.src = ip("fd00::5");
    s.dst = ip("fd00::6");
    s.payload_len = 1440;  // 1500-byte IPv6 packet
    const auto original = tcp_frame(s);
    buffer b(original);
    REQUIRE(make_too_big(b.f, {router, ip("fd00::1"), 1438}));
    const auto out = b.bytes();
    REQUIRE(out.size() == 14 + 1280);
    CHECK(detail::load_be16(out.data() + 12) == 0x86dd);
    CHECK(detail::load_be16(out.data() + 14 + 4) == 1240);
    CHECK(std::to_integer<int>(out[14 + 6]) == 58);
    const auto icmp = std::span<const std::byte>(out).subspan(54);
    CHECK(std::to_integer<int>(icmp[0]) == 2);
    CHECK(detail::load_be32(icmp.data() + 4) == 1438);
    CHECK(l4_checksum_ok(ip("fd00::1"), s.src, 58, icmp));
    CHECK(std::equal(icmp.begin() + 8, icmp.end(), original.begin() + 14));
}

TEST_CASE("datapath/too_big: a packet shorter than the quote limit is quoted whole, growing into the tailroom") {
    tcp_frame_spec s;
    s.payload_len = 300;
    const auto original = tcp_frame(s);
    buffer b(original, 128, 64);
    REQUIRE(make_too_big(b.f, {router, ip("10.0.0.1"), 1458}));
    CHECK(b.f.size() == original.size() + 28);
    CHECK(std::equal(original.begin() + 14, original.end(), b.bytes().begin() + 42));
    buffer tight(original, 128, 0);
    CHECK(make_too_big(tight.f, {router, ip("10.0.0.1"), 1458}).error().code == errc::no_space);
    CHECK(tight.bytes() == original);  // unchanged
}

TEST_CASE("datapath/too_big: what is never answered") {
    tcp_frame_spec s;
    s.payload_len = 1460;
    auto icmp_error = tcp_frame(s);
    icmp_error[14 + 9] = std::byte{1};  // ICMP ...
    icmp_error[34] = std::byte{3};      // ... destination unreachable: an error
    CHECK_FALSE(too_big_answerable(icmp_error));
    icmp_error[34] = std::byte{8};  // an echo request is answered
    CHECK(too_big_answerable(icmp_error));
    auto later_fragment = tcp_frame(s);
    later_fragment[14 + 7] = std::byte{0x10};
    CHECK_FALSE(too_big_answerable(later_fragment));
    tcp_frame_spec unspecified = s;
    unspecified.src = ip("0.0.0.0");
    CHECK_FALSE(too_big_answerable(tcp_frame(unspecified)));
    tcp_frame_spec v6 = s;
    v6.src = ip("fd00::5");
    v6.dst = ip("fd00::6");
    auto v6_error = tcp_frame(v6);
    v6_error[14 + 6] = std::byte{58};
    v6_error[54] = std::byte{1};  // ICMPv6 destination unreachable
    CHECK_FALSE(too_big_answerable(v6_error));
    v6_error[54] = std::byte{128};
    CHECK(too_big_answerable(v6_error));
}

TEST_CASE("datapath/too_big: the rate limiter allows a burst of 10 per source, then refills") {
    icmp_rate_limiter limiter;  // 10 at once, 10 a second
    const ip_address a = ip("10.0.0.5"), b = ip("10.0.0.6");
    std::uint64_t now = 1'000'000'000;
    for (int i = 0; i < 10; ++i) CHECK(limiter.allow(a, now));
    CHECK_FALSE(limiter.allow(a, now));
    CHECK(limiter.allow(b, now));  // another source has its own bucket
    now += 100'000'000;            // 0.1 s: one token
    CHECK(limiter.allow(a, now));
    CHECK_FALSE(limiter.allow(a, now));
    now += 10'000'000'000;  // long idle: back to a full burst, never more
    for (int i = 0; i < 10; ++i) CHECK(limiter.allow(a, now));
    CHECK_FALSE(limiter.allow(a, now));
    icmp_rate_limiter wall_clock(2, 1);
    CHECK(wall_clock.allow(a));
    CHECK(wall_clock.allow(a));
    CHECK_FALSE(wall_clock.allow(a));
}

TEST_CASE("datapath/too_big: the rate limiter on the embedder's clock") {
    icmp_rate_limiter limiter(2, 1);
    std::uint64_t clock = 5'000'000'000;
    limiter.use_clock(&clock);
    const ip_address a = ip("10.0.0.5");
    CHECK(limiter.allow(a));
    CHECK(limiter.allow(a));
    CHECK_FALSE(limiter.allow(a));  // however much wall time passes, the clock has not moved
    clock += 999'999'999;
    CHECK_FALSE(limiter.allow(a));
    clock += 1;  // one second on the embedder's clock: one token
    CHECK(limiter.allow(a));
    CHECK_FALSE(limiter.allow(a));
}
