#include "nvgre/datapath/ca_encap.hpp"

#include "support/chained.hpp"
#include "support/frames.hpp"
#include "support/hnv_policy.hpp"
#include "support/tcp_frames.hpp"
#include "support/test_bytes.hpp"

#include "nvgre/datapath/ingress.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <random>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;
using namespace nvgre::test::hnv_vm;

TEST_CASE("datapath/ca_encap: the destination CA's record, its PA, the compiled path") {
    policy::state s = hnv_state("hv1");
    REQUIRE(s.bind_port(4, red_app));
    SUBCASE("a remote record: encapsulated as egress encapsulates a switched frame") {
        const auto sent = udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"));
        buffer a(sent), b(sent);
        const outcome o = encap(s, 5001, a.f);
        REQUIRE(o.verdict == verdict::encap);
        CHECK(o.vsid == 5001);
        CHECK(o.pa == ip("192.168.10.12"));
        CHECK(s.provider_at(o.to.provider).pa == o.pa);
        no_replication_sink none;
        const outcome e = egress(s, red_web, b.f, none);
        CHECK(e == o);
        CHECK(a.bytes() == b.bytes());
        // And the other host takes it.
        buffer in(a.bytes());
        CHECK(ingress(hnv_state("hv2"), in.f, none).verdict == verdict::deliver);
        CHECK(in.bytes() == sent);
    }
    SUBCASE("a record of another subnet of the domain: its VSID in the key (no routing done)") {
        buffer b(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.1.8")));
        const outcome o = encap(s, 5001, b.f);
        REQUIRE(o.verdict == verdict::encap);
        CHECK(o.vsid == 5002);
        const auto l = wire::parse_packet_layout(b.f.bytes());
        REQUIRE(l.kind == wire::frame_kind::nvgre);
        CHECK(l.vsid_bits() == 5002);
    }
    SUBCASE("a local record: left for the embedder to deliver, with its port") {
        const auto sent = udp_frame(red_web, red_app, ip("10.0.0.5"), ip("10.0.0.7"));
        buffer b(sent);
        const outcome o = encap(s, 5001, b.f);
        CHECK(o.verdict == verdict::local);
        CHECK(o.to == destination::to_vm(red_app, 4));
        CHECK(b.bytes() == sent);
    }
    SUBCASE("every drop names its reason, the frame unchanged") {
        struct want {
            std::vector<std::byte> frame;
            std::uint32_t vsid;
            drop_reason reason;
        };
        auto tagged = udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"));
        const std::array<std::byte, 4> tag{std::byte{0x81}, std::byte{0x00}, std::byte{0x00}, std::byte{0x64}};
        tagged.insert(tagged.begin() + 12, tag.begin(), tag.end());
        const std::vector<want> cases = {
            {std::vector<std::byte>(10), 5001, drop_reason::truncated},
            {tagged, 5001, drop_reason::inner_vlan},
            {arp_request(red_web, ip("10.0.0.5"), ip("10.0.0.6")), 5001, drop_reason::unsupported_ethertype},
            {udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")), 7777, drop_reason::unknown_vsid},
            {udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.99")), 5001, drop_reason::no_record},
            {udp_frame(blue_web, mac("00:15:5d:00:01:08"), ip("10.0.0.5"), ip("10.0.0.8")), 6001, drop_reason::unsupported},
            {udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"), 1431), 5001, drop_reason::too_big},
        };
        for (const want& w : cases) {
            CAPTURE(to_string(w.reason));
            buffer b(w.frame);
            const outcome o = encap(s, w.vsid, b.f);
            CHECK(o.verdict == verdict::drop);
            CHECK(o.reason == w.reason);
            CHECK(b.bytes() == w.frame);
        }
        buffer fits(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"), 1430));
        CHECK(encap(s, 5001, fits.f).verdict == verdict::encap);
        buffer tight(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")), 41);
        CHECK(encap(s, 5001, tight.f).reason == drop_reason::no_headroom);
        // A TSO send (a TCP frame with a segment size) is too big here, unless the NIC cuts it
        // (segmentation_by_hardware): then it goes whole, its segment size kept.
        tcp_frame_spec big;
        big.payload_len = 5000;
        buffer tso(tcp_frame(big));
        tso.f.offload.segment_size = 1000;
        tso.f.offload.checksum_partial = true;  // as TSO sends come
        tso.f.offload.checksum_start = 34;
        tso.f.offload.checksum_offset = 16;
        CHECK(encap(s, 5001, tso.f).reason == drop_reason::too_big);
        pipeline_config nic;
        nic.segmentation_by_hardware = true;
        const outcome whole = encap(s, 5001, tso.f, nic);
        CHECK(whole.verdict == verdict::encap);
        CHECK(tso.f.size() == tcp_frame(big).size() + 42);
        CHECK(tso.f.offload.segment_size == 1000);
    }
}

TEST_CASE("datapath/ca_encap: encap_burst gives what encap() gives, frame by frame") {
    const policy::state& s = hnv_state("hv1");
    std::mt19937_64 rng(0xe1ca);
    const char* cas[] = {"10.0.0.6", "10.0.0.7", "10.0.0.9", "10.0.1.8", "10.0.0.99", "10.0.0.5"};
    const std::uint32_t vsids[] = {5001, 5002, 6001, 7777};
    for (int round = 0; round < 20; ++round) {
        std::deque<buffer> burst_bufs, single_bufs;
        std::vector<std::uint32_t> vs;
        const std::size_t n = 1 + rng() % 70;
        for (std::size_t i = 0; i < n; ++i) {
            const auto f = udp_frame(red_web, red_db, ip("10.0.0.5"), ip(cas[rng() % 6]), rng() % 1500);
            burst_bufs.emplace_back(f);
            single_bufs.emplace_back(f);
            vs.push_back(vsids[rng() % 4]);
        }
        std::vector<frame> frames;
        for (auto& b : burst_bufs) frames.push_back(b.f);
        std::vector<outcome> got(n);
        REQUIRE(encap_burst(s, vs, frames, got) == n);
        for (std::size_t i = 0; i < n; ++i) {
            CHECK(got[i] == encap(s, vs[i], single_bufs[i].f));
            const auto x = std::span<const std::byte>(frames[i].bytes());
            const auto y = std::span<const std::byte>(single_bufs[i].f.bytes());
            CHECK(std::equal(x.begin(), x.end(), y.begin(), y.end()));
        }
    }
    // Spans of different sizes: the common prefix only.
    std::deque<buffer> bufs;
    std::vector<frame> frames;
    for (int i = 0; i < 5; ++i) {
        bufs.emplace_back(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")));
        frames.push_back(bufs.back().f);
    }
    std::vector<outcome> out(3);
    const std::vector<std::uint32_t> vs(4, 5001);
    CHECK(encap_burst(s, vs, frames, out) == 3);
    CHECK(frames[3].size() == bufs[3].f.size());
    CHECK(wire::parse_packet_layout(frames[3].bytes()).kind != wire::frame_kind::nvgre);
}

TEST_CASE("datapath/ca_encap: a chained frame is encapsulated whole; one with a short first segment is split-headers") {
    const policy::state& s = hnv_state("hv1");
    const auto sent = udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"), 1200);
    buffer whole(sent);
    const outcome want = encap(s, 5001, whole.f);
    REQUIRE(want.verdict == verdict::encap);
    chained_buffer c(sent, 300, {7});
    CHECK(encap(s, 5001, c.f) == want);
    CHECK(c.bytes() == whole.bytes());
    chained_buffer split(sent, 12);
    const outcome o = encap(s, 5001, split.f);
    CHECK(o.reason == drop_reason::split_headers);
    CHECK(split.bytes() == sent);
}
