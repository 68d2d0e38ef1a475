/// @file datapath/fragment.hpp
/// @brief IPv4 fragmentation of an inner packet before encapsulation (docs/hnv-rules.md, wire rule 7,
/// RFC 4459 section 3.1 "fragmentation of the inner packet"): a VM's IPv4 packet without DF
/// that would not fit the underlay once encapsulated is cut into fragments (RFC 791 section 3.2,
/// RFC 815's rules for the receiver), each then encapsulated as its own NVGRE packet. The outer
/// packet is never fragmented.
///
/// Each fragment's payload is copied once, straight from the original into the buffer the
/// embedder's sink hands out; its headers are then written in front of it. A fragment k > 0
/// carries only the options whose copied flag is set (RFC 791 "Options").
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>

namespace nvgre::datapath {

/// How one IPv4 packet is cut: fragment 0 keeps the whole header, later ones carry the copied
/// options only; every fragment but the last carries a multiple of 8 data bytes.
struct ipv4_fragment_plan {
    std::size_t l3{wire::ethernet_header_len};  ///< the IP header's offset in the frame
    std::size_t header_len{0};                  ///< the original header (with options)
    std::size_t later_header_len{0};            ///< 20 + the copied options, padded to 4
    std::size_t data_len{0};                    ///< data bytes of the original packet
    std::size_t first_data{0};                  ///< data bytes in fragment 0
    std::size_t later_data{0};                  ///< data bytes per later fragment (the last: what is left)
    std::size_t count{0};
    std::array<std::byte, 40> copied_options{};  ///< the options fragments k > 0 carry, EOL-padded

    /// Where fragment k's data starts, from the start of the original data.
    [[nodiscard]] std::size_t data_start(std::size_t k) const noexcept {
        return k == 0 ? 0 : first_data + (k - 1) * later_data;
    }
    [[nodiscard]] std::size_t data_size(std::size_t k) const noexcept {
        const std::size_t start = data_start(k);
        const std::size_t room = k == 0 ? first_data : later_data;
        return data_len - start < room ? data_len - start : room;
    }
    [[nodiscard]] std::size_t fragment_header_len(std::size_t k) const noexcept {
        return k == 0 ? header_len : later_header_len;
    }
};

/// Plans the fragments of the IPv4 packet of untagged Ethernet frame `frame` so that each
/// fragment's IP packet is at most `mtu` bytes. Errors: errc::truncated / bad_length /
/// bad_header_length when the header does not validate; errc::bad_value when DF is set, the
/// MTU leaves no room for 8 data bytes next to the header (mtu < header + 8), or the packet
/// already fits; errc::bad_header_length for options that overrun the header. `tail`: the
/// frame's chain when it continues past `frame` (the headers lie in `frame`). O(header).
[[nodiscard]] inline result<ipv4_fragment_plan> plan_ipv4_fragments(std::span<const std::byte> frame, const chain& tail,
                                                                    std::size_t mtu) noexcept {
    const std::size_t l3 = wire::ethernet_header_len;
    if (frame.size() < l3) return make_error(errc::truncated, layer::ethernet, frame.size(), l3);
    auto ip = wire::ipv4_view::checked(frame.subspan(l3), tail.length());
    if (!ip) return ip.error();
    namespace field = wire::ipv4_field;
    if (ip->dont_fragment()) return make_error(errc::bad_value, layer::ipv4, l3 + field::flags_fragment);
    ipv4_fragment_plan p;
    p.header_len = ip->header_len();
    p.data_len = ip->total_len() - p.header_len;
    if (ip->total_len() <= mtu) return make_error(errc::bad_value, layer::ipv4, l3 + field::total_len);
    // A fragment of a datagram that would end past 65535 bytes (RFC 791: offset and length
    // bound it) has no fragments of its own: their offsets would not fit 13 bits.
    if (std::size_t{ip->fragment_offset_units()} * 8 + p.data_len > wire::ipv4_max_total_len)
        return make_error(errc::bad_length, layer::ipv4, l3 + field::flags_fragment);

    // The options fragments k > 0 repeat: those with the copied flag (type bit 7).
    const auto options = ip->options();
    std::size_t copied = 0;
    for (std::size_t i = 0; i < options.size();) {
        const auto type = std::to_integer<std::uint8_t>(options[i]);
        if (type == 0) break;  // end of option list
        if (type == 1) {       // no operation
            ++i;
            continue;
        }
        if (options.size() - i < 2) return make_error(errc::bad_header_length, layer::ipv4, l3 + wire::ipv4_min_header_len + i);
        const std::size_t len = std::to_integer<std::uint8_t>(options[i + 1]);
        if (len < 2 || len > options.size() - i)
            return make_error(errc::bad_header_length, layer::ipv4, l3 + wire::ipv4_min_header_len + i + 1);
        if (type & 0x80u) {
            std::memcpy(p.copied_options.data() + copied, options.data() + i, len);
            copied += len;
        }
        i += len;
    }
    p.later_header_len = wire::ipv4_min_header_len + (copied + 3) / 4 * 4;  // padding stays EOL (0)

    if (mtu < p.header_len + 8) return make_error(errc::bad_value, layer::ipv4, l3 + field::total_len);
    p.first_data = (mtu - p.header_len) / 8 * 8;
    p.later_data = (mtu - p.later_header_len) / 8 * 8;
    p.count = 1 + (p.data_len - p.first_data + p.later_data - 1) / p.later_data;
    return p;
}

/// plan_ipv4_fragments of a frame in one buffer.
[[nodiscard]] inline result<ipv4_fragment_plan> plan_ipv4_fragments(std::span<const std::byte> frame, std::size_t mtu) noexcept {
    return plan_ipv4_fragments(frame, chain{}, mtu);
}

/// Writes fragment k's Ethernet and IP headers into `out`, the fragment's frame whose bytes
/// from l3 + fragment_header_len(k) on already hold its data. `original` is the whole original
/// frame (its headers are read). Precondition: `out.size() == l3 + fragment_header_len(k) +
/// data_size(k)`. O(header).
inline void write_ipv4_fragment_headers(const ipv4_fragment_plan& p, std::span<const std::byte> original, std::size_t k,
                                        std::span<std::byte> out) noexcept {
    const std::size_t hk = p.fragment_header_len(k);
    std::memcpy(out.data(), original.data(), p.l3);  // Ethernet
    std::byte* ip = out.data() + p.l3;
    if (k == 0) {
        std::memcpy(ip, original.data() + p.l3, p.header_len);
    } else {
        std::memcpy(ip, original.data() + p.l3, wire::ipv4_min_header_len);
        std::memcpy(ip + wire::ipv4_min_header_len, p.copied_options.data(), hk - wire::ipv4_min_header_len);
        ip[wire::ipv4_field::version_ihl] = std::byte{static_cast<std::uint8_t>(0x40u | (hk / 4))};
    }
    namespace field = wire::ipv4_field;
    const std::uint16_t original_flags = nvgre::detail::load_be16(original.data() + p.l3 + field::flags_fragment);
    // Offsets in 8-byte units from the original's own offset (it may itself be a fragment);
    // MF on all but the last, and on the last when the original had it.
    const auto offset = static_cast<std::uint16_t>((original_flags & 0x1fffu) + p.data_start(k) / 8);
    const bool more = k + 1 < p.count || (original_flags & 0x2000u) != 0;
    nvgre::detail::store_be16(ip + field::flags_fragment,
                              static_cast<std::uint16_t>((original_flags & 0x8000u) | (more ? 0x2000u : 0u) | offset));
    nvgre::detail::store_be16(ip + field::total_len, static_cast<std::uint16_t>(hk + p.data_size(k)));
    nvgre::detail::store_be16(ip + field::checksum, 0);
    nvgre::detail::store_be16(ip + field::checksum, checksum::ipv4_header_checksum(std::span<const std::byte>(ip, hk)));
}

/// Cuts the IPv4 packet of `original` — its first segment, then `tail` (planned by
/// plan_ipv4_fragments with the same two) — into frames from `sink.allocate(size, headroom)`,
/// one copy of each data byte, and calls `each(frame&)` on each fragment in order (e.g. to
/// encapsulate and send it). Returns how many fragments were made: fewer than p.count when the
/// sink ran out of buffers. O(data) + O(header) per fragment.
template <class Sink, class Each>
std::size_t fragment_ipv4(std::span<const std::byte> original, const chain& tail, const ipv4_fragment_plan& p, Sink& sink,
                          std::size_t headroom, Each&& each) noexcept {
    for (std::size_t k = 0; k < p.count; ++k) {
        const std::size_t hk = p.fragment_header_len(k);
        const std::size_t data_at = p.l3 + p.header_len + p.data_start(k);
        frame* f = sink.allocate(p.l3 + hk + p.data_size(k), headroom);
        if (f == nullptr) return k;
        (void)copy_out(original, tail, data_at, f->bytes().subspan(p.l3 + hk));  // the plan bounds it
        write_ipv4_fragment_headers(p, original, k, f->bytes());
        each(*f);
    }
    return p.count;
}

/// fragment_ipv4 of a frame in one buffer.
template <class Sink, class Each>
std::size_t fragment_ipv4(std::span<const std::byte> original, const ipv4_fragment_plan& p, Sink& sink,
                          std::size_t headroom, Each&& each) noexcept {
    return fragment_ipv4(original, chain{}, p, sink, headroom, std::forward<Each>(each));
}

}  // namespace nvgre::datapath
