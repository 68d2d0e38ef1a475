// libFuzzer target: wire::parse_packet_layout over arbitrary bytes (an Ethernet frame as it
// comes off the wire). ASan catches any read outside the frame; the checks below catch a
// layout that claims offsets outside it or that disagrees with the views it was built from.
// Checksum verification stays on: the seeds carry valid outer IPv4 and GRE checksums.
#include "fuzz_support.hpp"

#include "nvgre/vsid.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/nvgre.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <cstddef>
#include <cstdint>

using namespace nvgre;
using wire::frame_kind;
using wire::l3_kind;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto frame = fuzz::bytes_of(data, size);
    const std::span<const std::byte> bytes(frame);
    const auto l = wire::parse_packet_layout(bytes);

    // The same bytes always give the same answer.
    const auto again = wire::parse_packet_layout(bytes);
    NVGRE_FUZZ_CHECK(again.kind == l.kind && again.error == l.error && again.gre_key == l.gre_key &&
                     again.inner_l3_end == l.inner_l3_end);

    switch (l.kind) {
        case frame_kind::error:
            NVGRE_FUZZ_CHECK(l.error.code != errc{});
            NVGRE_FUZZ_CHECK(l.error.where != layer::none);
            NVGRE_FUZZ_CHECK(l.error.offset <= size);
            NVGRE_FUZZ_CHECK(to_string(l.error.code) != "unknown" && to_string(l.error.where) != "unknown");
            break;
        case frame_kind::other:
            // Not IP, or IP but not GRE: nothing past the outer IP header was looked at.
            NVGRE_FUZZ_CHECK(l.gre_offset == wire::no_offset && l.inner_l2_offset == wire::no_offset);
            NVGRE_FUZZ_CHECK(l.outer_l3 != l3_kind::ipv4 && l.outer_l3 != l3_kind::ipv6 ? true
                                                                                       : l.outer_protocol != wire::ip_protocol::gre);
            break;
        case frame_kind::nvgre: {
            // Offsets in wire order, all inside the frame.
            NVGRE_FUZZ_CHECK(l.outer_l3 == l3_kind::ipv4 || l.outer_l3 == l3_kind::ipv6);
            NVGRE_FUZZ_CHECK(l.outer_l3_offset == l.outer_l2_len);
            NVGRE_FUZZ_CHECK(l.outer_vlan_count <= 1);
            NVGRE_FUZZ_CHECK(l.gre_offset == l.outer_l3_offset + l.outer_l3_header_len);
            NVGRE_FUZZ_CHECK(l.gre_header_len == wire::nvgre_header_len);
            NVGRE_FUZZ_CHECK(l.inner_l2_offset == l.gre_offset + wire::nvgre_header_len);
            NVGRE_FUZZ_CHECK(l.inner_l2_len == wire::ethernet_header_len);
            NVGRE_FUZZ_CHECK(l.inner_l3_offset == l.inner_l2_offset + l.inner_l2_len);
            NVGRE_FUZZ_CHECK(l.inner_l3_offset <= l.outer_l3_end);
            NVGRE_FUZZ_CHECK(l.outer_l3_end <= size);
            if (l.inner_l3 != l3_kind::other) {
                NVGRE_FUZZ_CHECK(l.inner_l3_offset + l.inner_l3_header_len <= l.inner_l3_end);
                NVGRE_FUZZ_CHECK(l.inner_l3_end <= l.outer_l3_end);
            }
            if (l.inner_l4_offset != wire::no_offset) NVGRE_FUZZ_CHECK(l.inner_l4_offset <= l.inner_l3_end);
            NVGRE_FUZZ_CHECK(!l.outer_fragment);
            NVGRE_FUZZ_CHECK(vsid::is_tenant(l.vsid_bits()));
            NVGRE_FUZZ_CHECK(l.gre_protocol == wire::ethertype::transparent_ethernet_bridging);
            // The views agree with the layout.
            const auto gre_packet = bytes.subspan(l.gre_offset, l.outer_l3_end - l.gre_offset);
            auto nv = wire::nvgre_view::checked(gre_packet);
            NVGRE_FUZZ_CHECK(nv.has_value());
            NVGRE_FUZZ_CHECK(nv->key() == l.gre_key);
            auto ieth = wire::ethernet_view::checked(nv->payload());
            NVGRE_FUZZ_CHECK(ieth.has_value() && ieth->tag_count() == 0);
            NVGRE_FUZZ_CHECK(ieth->ether_type() == l.inner_ether_type);
            if (l.outer_l3 == l3_kind::ipv4) {
                auto ip = wire::ipv4_view::checked(bytes.subspan(l.outer_l3_offset));
                NVGRE_FUZZ_CHECK(ip.has_value() && ip->header_checksum_ok() && !ip->is_fragment());
                NVGRE_FUZZ_CHECK(l.outer_l3_offset + ip->total_len() == l.outer_l3_end);
            } else {
                auto ip = wire::ipv6_view::checked(bytes.subspan(l.outer_l3_offset));
                NVGRE_FUZZ_CHECK(ip.has_value());
                auto walk = wire::walk_extension_headers(*ip);
                NVGRE_FUZZ_CHECK(walk.has_value() && !walk->fragment && walk->upper_protocol == wire::ip_protocol::gre);
            }
            break;
        }
    }
    return 0;
}
