/// @file wire/packet_layout.hpp
/// @brief One pass over a frame: the offset of every header, outer and inner, and its
/// classification by the wire rules of docs/hnv-rules.md (NVGRE, a rule broken, or not GRE at all).
///
/// The parse never reads outside the span and never allocates. It judges wire rules 1-3
/// (GRE, NVGRE, reserved VSIDs), 5 (no 802.1Q tag on the inner frame) and 6 (outer IPv4/IPv6,
/// at most one outer 802.1Q tag, no outer fragments), the outer IPv4 header checksum, the GRE
/// checksum when one is present, and every length field against the bytes captured. Bytes
/// after the end of the outer IP packet (Ethernet padding) are ignored. TTL, DSCP, ECN, DF and
/// the FlowID are recorded, not judged.
///
/// A frame may continue in a chain (nvgre/chain.hpp): the span is then its first segment,
/// which must hold every header; length fields are judged against the span and the chain
/// together, the offsets stay inside the span, and `*_l3_end` may lie past it (in the chain).
/// Only a GRE checksum reads the chain. A chained frame whose span is shorter than
/// nvgre::first_segment_bytes is an error (errc::split_headers) before anything is parsed.
#pragma once

#include "nvgre/chain.hpp"
#include "nvgre/error.hpp"
#include "nvgre/wire/arp.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/gre.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/nvgre.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::wire {

/// An offset that is not there (the header is absent).
inline constexpr std::uint32_t no_offset = 0xffffffffu;

/// How a frame classifies.
enum class frame_kind : std::uint8_t {
    nvgre,  ///< satisfies every wire rule; every offset of the layout is valid
    error,  ///< a GRE packet that breaks a rule, or a frame cut short / with lying lengths
    other,  ///< not IP, or IP but not GRE
};

/// What a network-layer header is.
enum class l3_kind : std::uint8_t { none, ipv4, ipv6, arp, other };

/// Offsets (from the start of the frame) and the few fields the classification needed.
/// Fields after the point where the parse stopped keep their defaults (`no_offset`, 0).
struct packet_layout {
    frame_kind kind{frame_kind::other};
    nvgre::error error{};  ///< valid when kind == error; offset is from the start of the frame

    // Outer Ethernet (always at offset 0).
    std::uint32_t outer_l2_len{0};         ///< Ethernet header bytes including tags
    std::uint8_t outer_vlan_count{0};
    std::uint16_t outer_vlan_id{0};        ///< VID of the outer 802.1Q tag when outer_vlan_count == 1
    std::uint16_t outer_ether_type{0};

    // Outer IP.
    l3_kind outer_l3{l3_kind::none};
    std::uint32_t outer_l3_offset{no_offset};
    std::uint32_t outer_l3_header_len{0};  ///< IPv4 header with options / IPv6 header with extension headers
    std::uint32_t outer_l3_end{0};         ///< end of the outer IP packet; bytes after it are padding
    std::uint8_t outer_protocol{0};        ///< IPv4 protocol / IPv6 upper-layer next header
    bool outer_fragment{false};

    // GRE / NVGRE.
    std::uint32_t gre_offset{no_offset};
    std::uint32_t gre_header_len{0};
    std::uint16_t gre_protocol{0};
    std::uint32_t gre_key{0};              ///< valid when kind == nvgre (VSID << 8 | FlowID)

    // Inner frame.
    std::uint32_t inner_l2_offset{no_offset};
    std::uint32_t inner_l2_len{0};
    std::uint16_t inner_ether_type{0};
    l3_kind inner_l3{l3_kind::none};
    std::uint32_t inner_l3_offset{no_offset};
    std::uint32_t inner_l3_header_len{0};  ///< IPv4 header / IPv6 header with extension headers
    std::uint32_t inner_l3_end{0};         ///< end of the inner IP packet (inner padding excluded)
    std::uint8_t inner_protocol{0};        ///< inner upper-layer protocol (IPv4/IPv6 only)
    bool inner_fragment{false};
    std::uint32_t inner_l4_offset{no_offset};  ///< absent for non-first fragments and non-IP

    /// The VSID field of the key (a tenant VSID when kind == nvgre).
    [[nodiscard]] constexpr std::uint32_t vsid_bits() const noexcept { return gre_key >> 8; }
    [[nodiscard]] constexpr std::uint8_t flow_id_bits() const noexcept { return static_cast<std::uint8_t>(gre_key); }
};

}  // namespace nvgre::wire

// Helpers live in nvgre::detail: a nvgre::wire::detail would shadow nvgre::detail for every
// wire header included after this one.
namespace nvgre::detail {
constexpr wire::packet_layout layout_error(wire::packet_layout l, const error& e, std::size_t base) noexcept {
    l.kind = wire::frame_kind::error;
    l.error = e.rebased(static_cast<std::uint32_t>(base));
    return l;
}
constexpr layer inner_layer(layer l) noexcept {
    switch (l) {
        case layer::ethernet: return layer::inner_ethernet;
        case layer::vlan: return layer::inner_vlan;
        case layer::arp: return layer::inner_arp;
        case layer::ipv4: return layer::inner_ipv4;
        case layer::ipv6: return layer::inner_ipv6;
        case layer::ipv6_extension: return layer::inner_ipv6_extension;
        default: return l;
    }
}
}  // namespace nvgre::detail

namespace nvgre::wire {

/// The general parser behind parse_packet_layout (every frame shape, every error). Same
/// contract; parse_packet_layout answers the common shape without it, identically.
[[nodiscard]] inline packet_layout parse_packet_layout_general(std::span<const std::byte> frame,
                                                               const chain& tail = {}) noexcept;

}  // namespace nvgre::wire

namespace nvgre::detail {

/// The layout of the most common NVGRE frame, or false (`l` then partly written) for any
/// other frame: untagged outer Ethernet, outer IPv4 without options, not a fragment, with a
/// valid header checksum, GRE with exactly the NVGRE flags and protocol (reserved bits that
/// are ignored on receipt allowed), a tenant VSID, then an untagged inner Ethernet frame
/// carrying IPv4 without options. Fills every field exactly as the general parser does for
/// such a frame (the tests compare the two on mutated frames). Straight-line, no views: the
/// lengths are checked against each other once. `continued`: the bytes of a chain after the span.
inline bool parse_common_nvgre(std::span<const std::byte> frame, std::size_t continued, wire::packet_layout& l) noexcept {
    using namespace nvgre::wire;
    const std::byte* p = frame.data();
    const std::size_t n = frame.size();
    // 14 outer Ethernet + 20 IPv4 + 8 NVGRE + 14 inner Ethernet + 20 inner IPv4, in the span
    // (and a chained frame's first_segment_bytes: the general parser names the error).
    if (n < 76 || (continued != 0 && n < first_segment_bytes)) return false;
    // EtherType, version and IHL of both IPv4 headers; outer protocol GRE, no fragment bits.
    if ((load_be32(p + 12) >> 8) != 0x080045u || (load_be32(p + 54) >> 8) != 0x080045u) return false;
    if (load_u8(p + 23) != ip_protocol::gre || (load_be16(p + 20) & 0x3fffu) != 0) return false;
    const std::size_t total = load_be16(p + 16);
    // The outer packet holds its headers and the inner ones (the inner IPv4 checks below need
    // 20 bytes after the inner Ethernet header) and fits in the frame.
    if (total < 62 || total > n + continued - 14) return false;
    if ((load_be32(p + 34) & nvgre_first_word_mask) != nvgre_first_word) return false;
    const std::uint32_t key = load_be32(p + 38);
    if (!nvgre::vsid::is_tenant(key >> 8)) return false;
    const std::size_t inner_total = load_be16(p + 58);
    if (inner_total < 20 || inner_total > total - 42) return false;
    // The outer header checksum (checksum::verify of the 20 bytes, inlined): the five native
    // 32-bit words fold to 0xffff exactly when their big-endian 16-bit words do.
    const std::uint64_t words = std::uint64_t{csum_load_native32(p + 14)} + csum_load_native32(p + 18) +
                                csum_load_native32(p + 22) + csum_load_native32(p + 26) + csum_load_native32(p + 30);
    if (checksum::fold64(words) != 0xffffu) return false;

    l.kind = frame_kind::nvgre;
    l.error = nvgre::error{};
    l.outer_l2_len = 14;
    l.outer_vlan_count = 0;
    l.outer_vlan_id = 0;
    l.outer_ether_type = ethertype::ipv4;
    l.outer_l3 = l3_kind::ipv4;
    l.outer_l3_offset = 14;
    l.outer_l3_header_len = 20;
    l.outer_l3_end = static_cast<std::uint32_t>(14 + total);
    l.outer_protocol = ip_protocol::gre;
    l.outer_fragment = false;
    l.gre_offset = 34;
    l.gre_header_len = 8;
    l.gre_protocol = ethertype::transparent_ethernet_bridging;
    l.gre_key = key;
    l.inner_l2_offset = 42;
    l.inner_l2_len = 14;
    l.inner_ether_type = ethertype::ipv4;
    l.inner_l3 = l3_kind::ipv4;
    l.inner_l3_offset = 56;
    l.inner_l3_header_len = 20;
    l.inner_l3_end = static_cast<std::uint32_t>(56 + inner_total);
    l.inner_protocol = load_u8(p + 65);
    const std::uint16_t frag = load_be16(p + 62);
    l.inner_fragment = (frag & 0x3fffu) != 0;
    l.inner_l4_offset = (frag & 0x1fffu) == 0 ? 76u : no_offset;
    return true;
}

}  // namespace nvgre::detail

namespace nvgre::wire {

/// Parses and classifies `frame` (an Ethernet frame without FCS) in one pass.
/// Never reads outside `frame`; O(number of headers), at most 8 IPv6 extension headers each.
/// The most common NVGRE frame (IPv4 outside and inside, no tags, no options) takes a
/// straight-line path with the same result. `tail`: the frame's bytes after `frame` when it
/// continues in a chain (its headers then lie in `frame`).
[[nodiscard]] inline packet_layout parse_packet_layout(std::span<const std::byte> frame, const chain& tail = {}) noexcept {
    // One named return object (NRVO: built in the caller's storage; a copy of this ~100-byte
    // struct assembled by scalar stores would be read back by wider loads, stalling).
    packet_layout l;
    if (!detail::parse_common_nvgre(frame, tail.length(), l)) [[unlikely]]
        l = parse_packet_layout_general(frame, tail);
    return l;
}

[[nodiscard]] inline packet_layout parse_packet_layout_general(std::span<const std::byte> frame, const chain& tail) noexcept {
    packet_layout l;
    if (!tail.empty() && frame.size() < first_segment_bytes)
        return detail::layout_error(l, make_error(errc::split_headers, layer::none, frame.size(), first_segment_bytes), 0);
    // How many bytes of the packet follow the span, and of those, how many from `offset` on
    // belong to an IP packet ending at `end` (0 when it ends inside the span).
    const std::size_t continued = tail.length();
    const auto beyond = [&](std::size_t end) noexcept { return end > frame.size() ? end - frame.size() : std::size_t{0}; };

    // Outer Ethernet: at most one 802.1Q tag (rule 6: the PA's VLAN).
    auto eth = ethernet_view::checked(frame);
    if (!eth) return detail::layout_error(l, eth.error(), 0);
    l.outer_l2_len = static_cast<std::uint32_t>(eth->header_len());
    l.outer_vlan_count = static_cast<std::uint8_t>(eth->tag_count());
    l.outer_ether_type = eth->ether_type();
    if (eth->tag_count() == 1) l.outer_vlan_id = eth->tag(0).vid;
    const bool outer_tags_ok = eth->tag_count() == 0 || (eth->tag_count() == 1 && eth->tag(0).tpid == ethertype::vlan);

    const std::size_t l3 = eth->header_len();
    std::span<const std::byte> ip_payload;
    std::size_t ip_payload_offset = 0;
    bool outer_checksum_ok = true;
    if (l.outer_ether_type == ethertype::ipv4) {
        l.outer_l3 = l3_kind::ipv4;
        l.outer_l3_offset = static_cast<std::uint32_t>(l3);
        auto ip = ipv4_view::checked(frame.subspan(l3), continued);
        if (!ip) return detail::layout_error(l, ip.error(), l3);
        l.outer_l3_header_len = static_cast<std::uint32_t>(ip->header_len());
        l.outer_l3_end = static_cast<std::uint32_t>(l3 + ip->total_len());
        l.outer_protocol = ip->protocol();
        l.outer_fragment = ip->is_fragment();
        // The header checksum is judged only for GRE (below): a non-GRE packet is "other" whatever
        // its checksum (captures on a sending host with checksum offload carry unfinished ones).
        outer_checksum_ok = ip->header_checksum_ok();
        ip_payload = ip->payload();
        ip_payload_offset = l3 + ip->header_len();
    } else if (l.outer_ether_type == ethertype::ipv6) {
        l.outer_l3 = l3_kind::ipv6;
        l.outer_l3_offset = static_cast<std::uint32_t>(l3);
        auto ip = ipv6_view::checked(frame.subspan(l3), continued);
        if (!ip) return detail::layout_error(l, ip.error(), l3);
        l.outer_l3_end = static_cast<std::uint32_t>(l3 + ipv6_header_len + ip->payload_len());
        auto walk = walk_extension_headers(*ip);
        if (!walk) return detail::layout_error(l, walk.error(), l3);
        l.outer_l3_header_len = static_cast<std::uint32_t>(walk->upper_offset);
        l.outer_protocol = walk->upper_protocol;
        l.outer_fragment = walk->fragment;
        ip_payload_offset = l3 + walk->upper_offset;
        ip_payload = ip->bytes().subspan(walk->upper_offset, ip->payload().size() + ipv6_header_len - walk->upper_offset);
    } else {
        l.outer_l3 = l.outer_ether_type == ethertype::arp ? l3_kind::arp : l3_kind::other;
        return l;  // other: not IP
    }

    if (l.outer_protocol != ip_protocol::gre) return l;  // other: IP, not GRE
    if (!outer_checksum_ok) return detail::layout_error(l, make_error(errc::bad_checksum, layer::ipv4, 10), l3);
    if (!outer_tags_ok) return detail::layout_error(l, make_error(errc::bad_outer_vlan, layer::vlan, 12), 0);
    if (l.outer_fragment) {
        // Outer fragments are not reassembled (rule 6): point at the flags field / fragment header.
        const auto e = l.outer_l3 == l3_kind::ipv4
                           ? make_error(errc::fragmented, layer::ipv4, 6)
                           : make_error(errc::fragmented, layer::ipv6_extension, l.outer_l3_header_len - ipv6_fragment_header_len);
        return detail::layout_error(l, e, l3);
    }

    // GRE, then the NVGRE profile of it.
    l.gre_offset = static_cast<std::uint32_t>(ip_payload_offset);
    auto gre = gre_view::checked(ip_payload);
    if (!gre) return detail::layout_error(l, gre.error(), ip_payload_offset);
    l.gre_header_len = static_cast<std::uint32_t>(gre->header_len());
    l.gre_protocol = gre->protocol_type();
    if (gre->checksum_present()) {
        // Over the GRE packet: the span's part, then the chain's up to the end of the outer packet.
        const std::size_t chained = beyond(l.outer_l3_end);
        const bool ok = chained == 0 ? gre->checksum_ok()
                                     : checksum::fold(checksum::combine(checksum::sum(ip_payload),
                                                                        tail.sum(0, chained, ip_payload.size() % 2 != 0))) == 0xffff;
        if (!ok) return detail::layout_error(l, make_error(errc::bad_checksum, layer::gre, 4), ip_payload_offset);
    }
    auto nv = nvgre_view::checked(ip_payload);
    if (!nv) return detail::layout_error(l, nv.error(), ip_payload_offset);
    l.gre_key = nv->key();

    // Inner Ethernet: a whole frame with no 802.1Q tag (rule 5).
    const std::size_t inner = ip_payload_offset + nvgre_header_len;
    const auto inner_frame = nv->payload();
    l.inner_l2_offset = static_cast<std::uint32_t>(inner);
    auto ieth = ethernet_view::checked(inner_frame);
    if (!ieth) return detail::layout_error(l, ieth.error().in_layer(detail::inner_layer(ieth.error().where)), inner);
    if (ieth->tag_count() != 0)
        return detail::layout_error(l, make_error(errc::inner_vlan, layer::inner_vlan, 12), inner);
    l.inner_l2_len = static_cast<std::uint32_t>(ieth->header_len());
    l.inner_ether_type = ieth->ether_type();

    const std::size_t il3 = inner + ieth->header_len();
    const auto inner_l3 = ieth->payload();
    l.inner_l3_offset = static_cast<std::uint32_t>(il3);
    auto inner_err = [&](const error& e) { return detail::layout_error(l, e.in_layer(detail::inner_layer(e.where)), il3); };
    switch (l.inner_ether_type) {
        case ethertype::ipv4: {
            l.inner_l3 = l3_kind::ipv4;
            auto ip = ipv4_view::checked(inner_l3, beyond(l.outer_l3_end));
            if (!ip) return inner_err(ip.error());
            l.inner_l3_header_len = static_cast<std::uint32_t>(ip->header_len());
            l.inner_l3_end = static_cast<std::uint32_t>(il3 + ip->total_len());
            l.inner_protocol = ip->protocol();
            l.inner_fragment = ip->is_fragment();
            if (ip->fragment_offset_units() == 0) l.inner_l4_offset = static_cast<std::uint32_t>(il3 + ip->header_len());
            break;
        }
        case ethertype::ipv6: {
            l.inner_l3 = l3_kind::ipv6;
            auto ip = ipv6_view::checked(inner_l3, beyond(l.outer_l3_end));
            if (!ip) return inner_err(ip.error());
            l.inner_l3_end = static_cast<std::uint32_t>(il3 + ipv6_header_len + ip->payload_len());
            auto walk = walk_extension_headers(*ip);
            if (!walk) return inner_err(walk.error());
            l.inner_l3_header_len = static_cast<std::uint32_t>(walk->upper_offset);
            l.inner_protocol = walk->upper_protocol;
            l.inner_fragment = walk->fragment;
            if (!walk->fragment || walk->fragment_offset_units == 0)
                l.inner_l4_offset = static_cast<std::uint32_t>(il3 + walk->upper_offset);
            break;
        }
        case ethertype::arp: {
            l.inner_l3 = l3_kind::arp;
            auto arp = arp_view::checked(inner_l3);
            if (!arp) return inner_err(arp.error());
            l.inner_l3_header_len = static_cast<std::uint32_t>(arp_ipv4_len);
            l.inner_l3_end = static_cast<std::uint32_t>(il3 + arp_ipv4_len);
            break;
        }
        default:
            l.inner_l3 = l3_kind::other;
            break;
    }
    l.kind = frame_kind::nvgre;
    return l;
}

}  // namespace nvgre::wire
