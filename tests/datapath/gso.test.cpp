#include "nvgre/datapath/gso.hpp"

#include "nvgre/datapath/encap.hpp"

#include "support/chained.hpp"
#include "support/frames.hpp"
#include "support/tcp_frames.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;

namespace {

/// Checks segment k of a plan against the original by recomputing everything from scratch,
/// and appends its payload to `payload`.
void check_segment(const tcp_segment_plan& p, std::span<const std::byte> original, std::span<const std::byte> seg,
                   std::size_t k, std::vector<std::byte>& payload) {
    CAPTURE(k);
    const bool last = k + 1 == p.count;
    REQUIRE(seg.size() == p.headers_len + p.payload_size(k));
    if (p.encapsulated) {
        const auto layout = wire::parse_packet_layout(seg);  // every outer wire rule, outer checksum included
        REQUIRE(layout.kind == wire::frame_kind::nvgre);
        CHECK(layout.outer_l3_end == seg.size());
        CHECK(layout.gre_key == wire::parse_packet_layout(original).gre_key);  // same VSID and FlowID
    }
    const auto ip = seg.subspan(p.inner_l3);
    ip_address src, dst;
    if (p.inner_v6) {
        CHECK(detail::load_be16(ip.data() + 4) == seg.size() - p.inner_l3 - 40);
        src = ipv6_address::from_bytes(ip.subspan(8, 16));
        dst = ipv6_address::from_bytes(ip.subspan(24, 16));
    } else {
        const std::size_t hlen = p.l4 - p.inner_l3;
        CHECK(detail::load_be16(ip.data() + 2) == seg.size() - p.inner_l3);
        CHECK(checksum::verify(ip.first(hlen)));
        CHECK(detail::load_be16(ip.data() + 4) == detail::load_be16(original.data() + p.inner_l3 + 4) + k);
        src = ipv4_address::from_bytes(ip.subspan(12, 4));
        dst = ipv4_address::from_bytes(ip.subspan(16, 4));
    }
    const auto tcp = seg.subspan(p.l4);
    CHECK(l4_checksum_ok(src, dst, 6, tcp));
    CHECK(detail::load_be32(tcp.data() + 4) == detail::load_be32(original.data() + p.l4 + 4) + k * p.mss);
    const auto flags = std::to_integer<std::uint8_t>(tcp[13]);
    const auto original_flags = std::to_integer<std::uint8_t>(original[p.l4 + 13]);
    CHECK((flags & 0x80) == (k == 0 ? (original_flags & 0x80) : 0));           // CWR first only
    CHECK((flags & 0x09) == (last ? (original_flags & 0x09) : 0));             // PSH, FIN last only
    CHECK((flags & 0x76) == (original_flags & 0x76));                          // the rest as sent
    payload.insert(payload.end(), seg.begin() + static_cast<std::ptrdiff_t>(p.headers_len), seg.end());
}

void check_all(std::span<const std::byte> original, std::size_t mss) {
    auto plan = plan_tcp_segments(original, mss);
    REQUIRE(plan);
    // Copy mode.
    vector_sink sink;
    std::vector<std::byte> payload;
    std::size_t k = 0;
    std::vector<std::vector<std::byte>> copied;
    CHECK(segment_tcp(original, *plan, sink, 64, [&](frame& f) {
              CHECK(f.headroom() >= 64);
              check_segment(*plan, original, f.bytes(), k++, payload);
              copied.emplace_back(f.bytes().begin(), f.bytes().end());
          }) == plan->count);
    CHECK(k == plan->count);
    CHECK(std::equal(payload.begin(), payload.end(), original.begin() + static_cast<std::ptrdiff_t>(plan->headers_len),
                     original.end()));
    CHECK(payload.size() == plan->payload_len);
    // Gather mode: the same bytes, the payload never copied.
    k = 0;
    segment_tcp_gather(original, *plan, [&](std::span<const std::byte> headers, std::span<const std::byte> body) {
        CHECK(body.data() == original.data() + plan->headers_len + k * mss);
        std::vector<std::byte> whole(headers.begin(), headers.end());
        whole.insert(whole.end(), body.begin(), body.end());
        CHECK(whole == copied[k]);
        ++k;
    });
    CHECK(k == plan->count);
}

}  // namespace

TEST_CASE("datapath/gso: a 64 KB TCP segment, IPv4 and IPv6, plain") {
    for (const char* v : {"10.0.0.5", "fd00::5"}) {
        CAPTURE(v);
        tcp_frame_spec s;
        s.src = ip(v);
        s.dst = ip(s.src.is_v4() ? "10.0.0.6" : "fd00::6");
        s.payload_len = 65000;
        s.flags = 0x80 | 0x10 | 0x08 | 0x01;  // CWR ACK PSH FIN
        s.tcp_options_len = 12;
        const auto original = tcp_frame(s);
        for (std::size_t mss : {1418, 1000, 536, 65000, 70000}) {
            CAPTURE(mss);
            check_all(original, mss);
        }
    }
}

TEST_CASE("datapath/gso: segments of an NVGRE-encapsulated segment, IPv4 and IPv6 outer") {
    for (const char* outer : {"192.168.10.11", "2001:db8::11"}) {
        for (const char* inner : {"10.0.0.5", "fd00::5"}) {
            CAPTURE(outer);
            CAPTURE(inner);
            tcp_frame_spec s;
            s.src = ip(inner);
            s.dst = ip(s.src.is_v4() ? "10.0.0.6" : "fd00::6");
            s.payload_len = 30000;
            const auto plain = tcp_frame(s);
            buffer b(plain, 128, 0);
            const ip_address pa = ip(outer);
            const encap_params params{mac("02:00:c0:a8:0a:0b"), mac("02:00:c0:a8:0a:0c"), 0, pa,
                                      ip(pa.is_v4() ? "192.168.10.12" : "2001:db8::12"), *vsid::make(5001)};
            REQUIRE(encapsulate(b.f, params));
            const auto original = b.bytes();
            auto plan = plan_tcp_segments(original, 1400);
            REQUIRE(plan);
            CHECK(plan->encapsulated);
            CHECK(plan->count == 22);
            check_all(original, 1400);
        }
    }
}

TEST_CASE("datapath/gso: what is not segmented") {
    tcp_frame_spec udp;
    udp.protocol = 17;
    CHECK(plan_tcp_segments(tcp_frame(udp), 1000).error().code == errc::bad_protocol);
    const auto f = tcp_frame({});
    CHECK(plan_tcp_segments(f, 0).error().code == errc::bad_value);
    CHECK(plan_tcp_segments(std::span<const std::byte>(f).first(40), 1000).error().code == errc::truncated);
    CHECK(plan_tcp_segments(arp_request(mac("00:15:5d:00:00:05"), ip("10.0.0.5"), ip("10.0.0.6")), 100).error().code ==
          errc::bad_protocol);
    tcp_frame_spec no_payload;
    no_payload.payload_len = 0;
    auto plan = plan_tcp_segments(tcp_frame(no_payload), 1000);
    REQUIRE(plan);
    CHECK(plan->count == 1);
    vector_sink dry;
    dry.limit = 2;
    tcp_frame_spec big;
    big.payload_len = 10000;
    const auto original = tcp_frame(big);
    auto p = plan_tcp_segments(original, 1000);
    REQUIRE(p);
    CHECK(segment_tcp(original, *p, dry, 0, [](frame&) {}) == 2);
}

TEST_CASE("datapath/gso: a chained segment is cut into the segments of the same segment in one buffer") {
    for (const bool v6 : {false, true}) {
        tcp_frame_spec s;
        s.src = ip(v6 ? "fd00::5" : "10.0.0.5");
        s.dst = ip(v6 ? "fd00::6" : "10.0.0.6");
        s.payload_len = 20000;
        const auto original = tcp_frame(s);
        chained_buffer c(original, 333, {1, 4095, 7});  // odd segment lengths: the sums carry over
        auto whole = plan_tcp_segments(original, 1400);
        auto chained = plan_tcp_segments(c.f.bytes(), c.f.tail, 1400);
        REQUIRE(whole);
        REQUIRE(chained);
        CHECK(chained->count == whole->count);
        vector_sink a, b;
        CHECK(segment_tcp(original, *whole, a, 64, [&](frame& f) { a.send(f, destination{}); }) == whole->count);
        CHECK(segment_tcp(c.f.bytes(), c.f.tail, *chained, b, 64, [&](frame& f) { b.send(f, destination{}); }) == whole->count);
        REQUIRE(a.out.size() == b.out.size());
        for (std::size_t k = 0; k < a.out.size(); ++k) CHECK(a.out[k].bytes == b.out[k].bytes);
    }
    // The TCP header must lie in the first segment.
    tcp_frame_spec s;
    s.payload_len = 3000;
    const auto f = tcp_frame(s);
    chained_buffer cut(f, 40);
    CHECK(plan_tcp_segments(cut.f.bytes(), cut.f.tail, 1000).error().code == errc::truncated);
}
