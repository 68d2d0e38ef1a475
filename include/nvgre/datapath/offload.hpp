/// @file datapath/offload.hpp
/// @brief Checksum offload done in software, for NICs that cannot checksum inside GRE.
///
/// A VM (or a host stack) that offloads its TCP/UDP checksum hands over a *partial* checksum
/// (Linux CHECKSUM_PARTIAL, virtio VIRTIO_NET_HDR_F_NEEDS_CSUM, DPDK PKT_TX_*_CKSUM): the
/// checksum field holds the pseudo-header sum and the offload metadata say where the sum starts
/// and where the field is (frame::offload: checksum_partial, checksum_start, checksum_offset).
///  - complete_checksum() finishes it: the ones'-complement sum from checksum_start to the end
///    of the frame (which starts with the stored pseudo-header sum) goes into the field,
///    complemented. One pass over the L4 bytes.
///  - local_checksum_offload() (Linux "LCO", Documentation/networking/checksum-offloads.rst)
///    computes an *outer* checksum that covers the inner packet — a GRE checksum (RFC 2784;
///    plain GRE: NVGRE never carries one) — without reading the inner payload and while the
///    inner checksum is still partial: once the inner field is filled, the bytes from
///    checksum_start to the end sum to the complement of the pseudo-header sum stored there,
///    so only the bytes in front of checksum_start need summing.
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::datapath {

/// True if the partial checksum `f` has pending (if any) lies inside the frame — its field in
/// the first segment, where headers are: what complete_checksum() needs, asked before a frame
/// is changed.
[[nodiscard]] inline bool partial_checksum_in_bounds(const frame& f) noexcept {
    if (!f.offload.checksum_partial) return true;
    const std::size_t start = f.offload.checksum_start;
    const std::size_t field = start + f.offload.checksum_offset;
    return start <= f.size() && field + 2 <= f.size();
}

/// Completes the partial L4 checksum of `f` in software (a no-op when none is pending):
/// checksum_start, checksum_offset from f.offload, the field holding the pseudo-header sum.
/// Clears offload.checksum_partial. A UDP checksum that computes to 0 is stored as 0xffff
/// (RFC 768); for TCP and ICMPv6 the two are the same value in ones'-complement arithmetic.
/// errc::bad_value (layer::none) when the metadata point outside the frame; the frame is then
/// unchanged. The sum runs on through a chained frame's chain. O(bytes after checksum_start).
inline result<void> complete_checksum(frame& f, bool udp = false) noexcept {
    if (!f.offload.checksum_partial) return {};
    if (!partial_checksum_in_bounds(f)) return make_error(errc::bad_value, layer::none, f.offload.checksum_start);
    const auto bytes = f.bytes();
    const std::size_t start = f.offload.checksum_start;
    const std::size_t field = start + f.offload.checksum_offset;
    std::uint16_t value = checksum::finish(sum_from(f, start));
    if (udp && value == 0) value = 0xffff;
    nvgre::detail::store_be16(bytes.data() + field, value);
    f.offload.checksum_partial = false;
    return {};
}

/// The ones'-complement partial sum of the bytes of `f` from `outer_start` to the end *as they
/// will be once the pending inner checksum is completed*, without reading past
/// f.offload.checksum_start: sum(outer_start .. checksum_start) + ~(pseudo-header sum stored in
/// the inner field). Feed it to checksum::finish() (with any outer pseudo-header sum combined)
/// for an outer checksum — a GRE checksum over GRE header + inner packet — computed before
/// or without complete_checksum(). Precondition: f.offload.checksum_partial, outer_start <=
/// checksum_start, the field inside the frame, an even number of bytes between outer_start
/// and checksum_start (headers are). O(checksum_start - outer_start).
[[nodiscard]] inline std::uint32_t local_checksum_offload(const frame& f, std::size_t outer_start) noexcept {
    const auto bytes = f.bytes();
    const std::size_t start = f.offload.checksum_start;
    const std::uint16_t pseudo = nvgre::detail::load_be16(bytes.data() + start + f.offload.checksum_offset);
    const std::uint32_t inner = static_cast<std::uint16_t>(~pseudo);
    return checksum::sum(bytes.subspan(outer_start, start - outer_start), inner);
}

}  // namespace nvgre::datapath
