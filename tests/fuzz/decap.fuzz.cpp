// libFuzzer target: NVGRE decapsulation (datapath::decapsulate) of arbitrary frames, in a
// buffer with headroom and tailroom. Asserts:
//   - a refusal leaves the frame and every byte of its buffer unchanged, and names a layer;
//   - a success leaves the frame inside its buffer, starting at the layout's inner Ethernet
//     header and ending at the end of the outer IP packet; only the inner ECN bits (and the
//     inner IPv4 header checksum with them) may change (RFC 6040); info matches the layout;
//   - both entry points (parse + decap, decap given a layout) give the same answer;
//   - encapsulating the result again toward the outer addresses it came from, then
//     decapsulating, gives the inner frame back byte for byte (encap∘decap identity).
// Checksum verification stays on: the seeds carry valid outer IPv4 and GRE checksums.
#include "fuzz_support.hpp"

#include "nvgre/datapath/encap.hpp"
#include "nvgre/vsid.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;

namespace {
constexpr std::size_t headroom = 70;  // > encap_max_header_len: re-encapsulation always fits
constexpr std::size_t tailroom = 16;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = fuzz::bytes_of(data, size);
    fuzz::framed a(input, headroom, tailroom);
    const auto before = a.storage;
    decap_info info;
    const auto r = decapsulate(a.f, info);
    NVGRE_FUZZ_CHECK(a.intact());

    // The other entry point, given the layout, on a copy: the same answer.
    fuzz::framed b(input, headroom, tailroom);
    const auto layout = wire::parse_packet_layout(b.f.bytes());
    decap_info info_b;
    const auto rb = decapsulate(b.f, layout, info_b);
    NVGRE_FUZZ_CHECK(r.has_value() == rb.has_value());
    NVGRE_FUZZ_CHECK(b.storage == a.storage);
    NVGRE_FUZZ_CHECK(a.f.data_offset() == b.f.data_offset() && a.f.size() == b.f.size());

    if (!r) {
        const error& e = r.error();
        NVGRE_FUZZ_CHECK(e == rb.error());
        NVGRE_FUZZ_CHECK(e.code != errc{} && e.where != layer::none && e.offset <= size);
        NVGRE_FUZZ_CHECK(a.storage == before);
        NVGRE_FUZZ_CHECK(a.f.data_offset() == headroom && a.f.size() == size);
        NVGRE_FUZZ_CHECK(layout.kind != wire::frame_kind::nvgre || e.code == errc::ecn_drop);
        return 0;
    }
    NVGRE_FUZZ_CHECK(layout.kind == wire::frame_kind::nvgre);
    NVGRE_FUZZ_CHECK(a.f.data_offset() == headroom + layout.inner_l2_offset);
    NVGRE_FUZZ_CHECK(a.f.size() == layout.outer_l3_end - layout.inner_l2_offset);
    NVGRE_FUZZ_CHECK(info.vsid.value() == layout.vsid_bits() && info.flow_id.value == layout.flow_id_bits());
    NVGRE_FUZZ_CHECK(info.outer_vlan == layout.outer_vlan_id);
    NVGRE_FUZZ_CHECK(!a.f.offload.encapsulated);
    NVGRE_FUZZ_CHECK(a.f.offload.inner_l3_offset <= a.f.size() && a.f.offload.inner_l4_offset <= a.f.size());
    // Only the inner ECN field and the inner IPv4 checksum may differ from the input.
    for (std::size_t i = 0; i < a.storage.size(); ++i) {
        if (a.storage[i] == before[i]) continue;
        NVGRE_FUZZ_CHECK(i >= headroom);
        const std::size_t at = i - headroom;  // offset in the input frame
        const std::size_t il3 = layout.inner_l3_offset;
        // IPv4: TOS byte; IPv6: the traffic class straddles bytes 0-1, its ECN bits are in byte 1.
        const bool ip = layout.inner_l3 == wire::l3_kind::ipv4 || layout.inner_l3 == wire::l3_kind::ipv6;
        const bool ecn_byte = ip && at == il3 + 1;
        const bool v4_checksum = layout.inner_l3 == wire::l3_kind::ipv4 && (at == il3 + 10 || at == il3 + 11);
        NVGRE_FUZZ_CHECK(ecn_byte || v4_checksum);
    }

    // encap∘decap: the same outer path again, then decap, gives the inner frame back.
    const auto inner = a.bytes();
    const encap_params p{info.outer_destination_mac, info.outer_source_mac, static_cast<std::uint16_t>(std::min<unsigned>(info.outer_vlan, 4094)),
                         info.outer_destination, info.outer_source, info.vsid, 64, false};
    const auto t = encap_template::make(p);
    NVGRE_FUZZ_CHECK(t.has_value());
    const auto e = t->apply(a.f, info.flow_id);
    NVGRE_FUZZ_CHECK(a.intact());
    if (!e) {
        // Only an inner frame too long for the outer version's length field is refused.
        NVGRE_FUZZ_CHECK(e.error().code == errc::bad_length);
        return 0;
    }
    const auto again = wire::parse_packet_layout(a.f.bytes());
    NVGRE_FUZZ_CHECK(again.kind == wire::frame_kind::nvgre);
    NVGRE_FUZZ_CHECK(again.gre_key == layout.gre_key);
    decap_info info2;
    NVGRE_FUZZ_CHECK(decapsulate(a.f, info2).has_value());
    NVGRE_FUZZ_CHECK(a.bytes() == inner);
    NVGRE_FUZZ_CHECK(info2.outer_source == info.outer_destination && info2.outer_destination == info.outer_source);
    return 0;
}
