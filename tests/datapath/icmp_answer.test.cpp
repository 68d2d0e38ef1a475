#include "nvgre/datapath/icmp_answer.hpp"

#include "support/chained.hpp"
#include "support/frames.hpp"
#include "support/gateway_policy.hpp"
#include "support/tcp_frames.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;

namespace {
const mac_address router = mac("02:00:5e:00:01:01");
const mac_address vm = mac("00:15:5d:00:00:05");
}  // namespace

TEST_CASE("datapath/icmp_answer: the type and code of each router error, IPv4 and IPv6") {
    CHECK(icmp_error_for(router_error::net_unreachable, false).type == 3);
    CHECK(icmp_error_for(router_error::net_unreachable, false).code == 0);
    CHECK(icmp_error_for(router_error::host_unreachable, false).code == 1);
    CHECK(icmp_error_for(router_error::time_exceeded, false).type == 11);
    CHECK(icmp_error_for(router_error::too_big, false, 1458).code == 4);
    CHECK(icmp_error_for(router_error::too_big, false, 1458).rest == 1458);
    CHECK(icmp_error_for(router_error::too_big, false, 70000).rest == 0xffff);
    CHECK(icmp_error_for(router_error::net_unreachable, true).type == 1);
    CHECK(icmp_error_for(router_error::net_unreachable, true).code == 0);
    CHECK(icmp_error_for(router_error::host_unreachable, true).code == 3);
    CHECK(icmp_error_for(router_error::time_exceeded, true).type == 3);
    CHECK(icmp_error_for(router_error::too_big, true, 70000).rest == 70000);
}

TEST_CASE("datapath/icmp_answer: errors are never sent for multicast or broadcast destinations") {
    CHECK(icmp_error_answerable(udp_frame(vm, router, ip("10.0.0.5"), ip("8.8.8.8"))));
    CHECK_FALSE(icmp_error_answerable(udp_frame(vm, router, ip("10.0.0.5"), ip("224.0.0.9"))));
    CHECK_FALSE(icmp_error_answerable(udp_frame(vm, router, ip("10.0.0.5"), ip("255.255.255.255"))));
    CHECK_FALSE(icmp_error_answerable(udp_frame(vm, mac("ff:ff:ff:ff:ff:ff"), ip("10.0.0.5"), ip("8.8.8.8"))));
    CHECK_FALSE(icmp_error_answerable(udp_frame(vm, router, ip("fd00::5"), ip("ff02::1"))));
    CHECK(icmp_error_answerable(echo_request(vm, router, ip("10.0.0.5"), ip("8.8.8.8"))));  // an echo is not an error
}

TEST_CASE("datapath/icmp_answer: an error quotes the packet, from the given source and router MAC") {
    const auto sent = udp_frame(vm, router, ip("10.0.0.5"), ip("203.0.113.9"), 100, 1);
    buffer b(sent);
    REQUIRE(make_icmp_error(b.f, router, ip("10.0.0.1"), icmp_error_for(router_error::time_exceeded, false)));
    const auto out = b.bytes();
    REQUIRE(out.size() == 14 + 20 + 8 + (sent.size() - 14));
    CHECK(mac_address::from_bytes(std::span(out).subspan(0, 6)) == vm);
    CHECK(mac_address::from_bytes(std::span(out).subspan(6, 6)) == router);
    const auto ip4 = wire::ipv4_view::unchecked(std::span<const std::byte>(out).subspan(14));
    CHECK(ip4.header_checksum_ok());
    CHECK(ip4.ttl() == 64);
    CHECK(ip_address{ip4.source()} == ip("10.0.0.1"));
    CHECK(ip_address{ip4.destination()} == ip("10.0.0.5"));
    CHECK(std::to_integer<int>(out[34]) == 11);
    CHECK(checksum::verify(std::span<const std::byte>(out).subspan(34)));
    CHECK(std::equal(out.begin() + 42, out.end(), sent.begin() + 14));
}

TEST_CASE("datapath/icmp_answer: echo replies keep identifier, sequence and data; padding is cut") {
    for (const bool v6 : {false, true}) {
        CAPTURE(v6);
        const ip_address src = v6 ? ip("fd00::5") : ip("10.0.0.5");
        const ip_address dst = v6 ? ip("fd00::1") : ip("10.0.0.1");
        auto request = echo_request(vm, router, src, dst, 0xbeef, 3, 1, 10);
        const std::size_t ip_end = request.size();
        request.resize(ip_end + 6, std::byte{0x55});  // Ethernet padding
        REQUIRE(is_echo_request(request));
        buffer b(request);
        make_echo_reply(b.f, router);
        const auto out = b.bytes();
        REQUIRE(out.size() == ip_end);
        const std::size_t l4 = v6 ? 54 : 34;
        CHECK(std::to_integer<int>(out[l4]) == (v6 ? 129 : 0));
        CHECK(detail::load_be16(out.data() + l4 + 4) == 0xbeef);
        CHECK(detail::load_be16(out.data() + l4 + 6) == 3);
        CHECK(std::equal(out.begin() + static_cast<std::ptrdiff_t>(l4 + 8), out.end(),
                         request.begin() + static_cast<std::ptrdiff_t>(l4 + 8)));
        const auto icmp = std::span<const std::byte>(out).subspan(l4);
        if (v6) {
            const auto ip6 = wire::ipv6_view::unchecked(std::span<const std::byte>(out).subspan(14));
            CHECK(ip_address{ip6.source()} == dst);
            CHECK(ip6.hop_limit() == 64);
            CHECK(l4_checksum_ok(dst, src, 58, icmp));
        } else {
            const auto ip4 = wire::ipv4_view::unchecked(std::span<const std::byte>(out).subspan(14));
            CHECK(ip_address{ip4.source()} == dst);
            CHECK(ip4.ttl() == 64);
            CHECK(ip4.header_checksum_ok());
            CHECK(checksum::verify(icmp));
        }
    }
    // Not echo requests: UDP, an echo reply, a fragment, a header cut short by the IP length.
    CHECK_FALSE(is_echo_request(udp_frame(vm, router, ip("10.0.0.5"), ip("10.0.0.1"))));
    auto reply = echo_request(vm, router, ip("10.0.0.5"), ip("10.0.0.1"));
    reply[34] = std::byte{0};
    CHECK_FALSE(is_echo_request(reply));
    auto fragment = echo_request(vm, router, ip("10.0.0.5"), ip("10.0.0.1"));
    fragment[14 + 6] = std::byte{0x20};  // MF
    CHECK_FALSE(is_echo_request(fragment));
    auto short_ip = echo_request(vm, router, ip("10.0.0.5"), ip("10.0.0.1"));
    detail::store_be16(short_ip.data() + 16, 24);  // 20-byte header + 4 bytes of ICMP
    CHECK_FALSE(is_echo_request(short_ip));
}

TEST_CASE("datapath/icmp_answer: the rate limiter keeps one budget per (scope, source)") {
    icmp_rate_limiter limiter(2, 1);
    CHECK(limiter.allow(ip("10.0.0.5"), 0, 1));
    CHECK(limiter.allow(ip("10.0.0.5"), 0, 1));
    CHECK_FALSE(limiter.allow(ip("10.0.0.5"), 0, 1));
    CHECK(limiter.allow(ip("10.0.0.5"), 0, 2));  // the same address in another routing domain
    CHECK(limiter.allow(ip("10.0.0.5"), 1'000'000'000, 1));  // refilled after a second
}

TEST_CASE("datapath/icmp_answer: answers to chained frames read the chain: the echo data, the quote") {
    for (const bool v6 : {false, true}) {
        CAPTURE(v6);
        const ip_address src = v6 ? ip("fd00::5") : ip("10.0.0.5");
        const ip_address dst = v6 ? ip("fd00::1") : ip("10.0.0.1");
        // A 4000-byte echo request with padding, in a 300-byte first segment and three more.
        auto request = echo_request(vm, router, src, dst, 0xbeef, 3, 1, 4000);
        request.resize(request.size() + 6, std::byte{0x55});
        buffer whole(request);
        make_echo_reply(whole.f, router);
        chained_buffer c(request, 300, {1, 2000});
        REQUIRE(is_echo_request(c.f.bytes()));
        make_echo_reply(c.f, router);
        CHECK(c.f.is_chained());  // the data stay where they were
        CHECK(c.bytes() == whole.bytes());

        // Time exceeded quotes the offending packet as far as the limit, from its chain too.
        const auto sent = udp_frame(vm, router, src, ip(v6 ? "2001:db8::9" : "203.0.113.9"), 3000, 1);
        buffer once(sent, 128, 1400);
        REQUIRE(make_icmp_error(once.f, router, dst, icmp_error_for(router_error::time_exceeded, v6)));
        for (const std::size_t first : {std::size_t{256}, std::size_t{301}, std::size_t{2000}}) {
            CAPTURE(first);
            chained_buffer e(sent, first, {5}, 128, 1400);
            REQUIRE(make_icmp_error(e.f, router, dst, icmp_error_for(router_error::time_exceeded, v6)));
            CHECK_FALSE(e.f.is_chained());  // the answer is whole in the first segment
            CHECK(e.bytes() == once.bytes());
        }
        // A first buffer too small for the answer: no-space, the frame unchanged.
        chained_buffer tight(sent, 256, {}, 128, 8);
        CHECK(make_icmp_error(tight.f, router, dst, icmp_error_for(router_error::time_exceeded, v6)).error().code == errc::no_space);
        CHECK(tight.bytes() == sent);
    }
}
