#include "nvgre/datapath/mtu.hpp"

#include "support/frames.hpp"
#include "support/tcp_frames.hpp"

#include <doctest/doctest.h>

#include <array>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;

TEST_CASE("datapath/mtu: the usable inner MTU and the underlay MTU of each PA") {
    CHECK(inner_ip_mtu(1500, false) == 1458);
    CHECK(inner_ip_mtu(1500, true) == 1438);
    CHECK(inner_ip_mtu(9000, false) == 8958);
    CHECK(inner_ip_mtu(40, false) == 0);
    const std::array<pa_mtu, 1> jumbo{{{ip("192.168.10.21"), 9000}}};
    pipeline_config cfg;
    cfg.underlay_mtus = jumbo;
    CHECK(underlay_mtu_for(cfg, ip("192.168.10.21")) == 9000);
    CHECK(underlay_mtu_for(cfg, ip("192.168.10.11")) == 1500);
}

TEST_CASE("datapath/mtu: what an oversize frame gets") {
    const offload_info none{};
    tcp_frame_spec s;
    s.payload_len = 1418;  // a 1458-byte IPv4 packet: fits exactly
    CHECK(plan_oversize(tcp_frame(s), none, 1500, false, false).action == oversize_action::fits);
    CHECK(plan_oversize(tcp_frame(s), none, 1500, true, false).action == oversize_action::answer);  // IPv6 PA: 1438

    s.payload_len = 1460;  // a 1500-byte packet with DF, no TSO: path-MTU discovery
    const auto full = tcp_frame(s);
    auto p = plan_oversize(full, none, 1500, false, false);
    CHECK(p.action == oversize_action::answer);
    CHECK(p.inner_mtu == 1458);
    // With --gso: cut into what fits.
    p = plan_oversize(full, none, 1500, false, true);
    CHECK(p.action == oversize_action::segment);
    CHECK(p.mss == 1418);

    // TSO from the VM: its segment size if the segments fit, else too big (its MSS must drop).
    s.payload_len = 20000;
    const auto tso = tcp_frame(s);
    offload_info o;
    o.segment_size = 1400;
    p = plan_oversize(tso, o, 1500, false, false);
    CHECK(p.action == oversize_action::segment);
    CHECK(p.mss == 1400);
    o.segment_size = 1448;
    CHECK(plan_oversize(tso, o, 1500, false, true).action == oversize_action::answer);
    CHECK(plan_oversize(tso, o, 9000, false, false).action == oversize_action::segment);

    // The NIC segments (pipeline_config::segmentation_by_hardware): the sender's segment size,
    // when it fits, goes to the NIC whole; one that does not fit is still answered, and gso's
    // segments (no segment size from the sender) are still ours.
    o.segment_size = 1400;
    CHECK(plan_oversize(tso, o, 1500, false, false, true).action == oversize_action::segment);  // checksum not partial
    o.checksum_partial = true;
    o.checksum_start = 34;
    o.checksum_offset = 16;
    p = plan_oversize(tso, o, 1500, false, false, true);
    CHECK(p.action == oversize_action::by_nic);
    CHECK(p.mss == 1400);
    o.segment_size = 1448;
    CHECK(plan_oversize(tso, o, 1500, false, false, true).action == oversize_action::answer);
    CHECK(plan_oversize(full, none, 1500, false, true, true).action == oversize_action::segment);

    // IPv4 without DF: fragmented; UDP with DF and IPv6 UDP: answered.
    tcp_frame_spec udp;
    udp.protocol = 17;
    udp.payload_len = 3000;
    udp.dont_fragment = false;
    CHECK(plan_oversize(tcp_frame(udp), none, 1500, false, true).action == oversize_action::fragment);
    udp.dont_fragment = true;
    CHECK(plan_oversize(tcp_frame(udp), none, 1500, false, true).action == oversize_action::answer);
    udp.src = ip("fd00::5");
    udp.dst = ip("fd00::6");
    CHECK(plan_oversize(tcp_frame(udp), none, 1500, false, true).action == oversize_action::answer);
}

TEST_CASE("datapath/mtu: partial checksums are completed unless the NIC will") {
    const auto full = tcp_frame({});
    buffer b(full);
    nvgre::detail::store_be16(b.f.bytes().data() + 34 + 16, 0x1234);
    b.f.offload.checksum_partial = true;
    b.f.offload.checksum_start = 34;
    b.f.offload.checksum_offset = 16;
    pipeline_config hardware;
    hardware.inner_checksum_by_hardware = true;
    CHECK(finish_inner_checksum(b.f, hardware));
    CHECK(b.f.offload.checksum_partial);  // left for the NIC
    // Put the pseudo-header sum where the VM would have, then complete in software.
    nvgre::detail::store_be16(b.f.bytes().data() + 34 + 16,
                       checksum::fold(checksum::pseudo_header_sum(ip("10.0.0.5"), ip("10.0.0.6"), 6,
                                                                   static_cast<std::uint32_t>(full.size() - 34))));
    CHECK(finish_inner_checksum(b.f, {}));
    CHECK(b.bytes() == full);
    b.f.offload.checksum_partial = true;
    b.f.offload.checksum_start = 9999;
    CHECK_FALSE(finish_inner_checksum(b.f, {}));
}

TEST_CASE("datapath/mtu: plan_oversize on frames shorter than their headers, over any underlay") {
    // Each frame in a heap block of exactly its size (a read past it is an ASan report).
    tcp_frame_spec spec;
    spec.dont_fragment = false;  // the fragment branch reads the IPv4 flags: the one that read past 14 + 6
    const auto ipv4 = tcp_frame(spec);
    for (std::size_t len = 0; len <= 40; ++len) {
        std::vector<std::byte> f(ipv4.begin(), ipv4.begin() + static_cast<std::ptrdiff_t>(std::min(len, ipv4.size())));
        for (const std::size_t mtu : {std::size_t{0}, std::size_t{20}, std::size_t{42}, std::size_t{43}, std::size_t{62}, std::size_t{1500}}) {
            CAPTURE(len);
            CAPTURE(mtu);
            const auto p = plan_oversize(f, offload_info{}, mtu, false, true);
            if (len < 14) CHECK(p.action == oversize_action::fits);
            if (len >= 14 && len - 14 <= p.inner_mtu) CHECK(p.action == oversize_action::fits);
            static_cast<void>(plan_oversize(f, offload_info{}, mtu, true, false));
        }
    }
}
