/// @file datapath/frame.hpp
/// @brief A frame in an embedder's buffer: bytes [data, data + size) with headroom in front
/// (where encap writes outer headers) and tailroom behind, plus the offload metadata a NIC or
/// the software completion needs to finish checksums after encapsulation.
///
/// The library never owns packet memory and never copies a payload on encap or decap: encap
/// moves the start back into the headroom, decap moves it forward. Too little headroom is an
/// error value (errc::no_headroom), never a reallocation.
///
/// A frame may continue in a chain of further segments (`frame::tail`, nvgre/chain.hpp): the
/// view's bytes are then the first segment's, and total_size() counts the chain too. Headers
/// are parsed and written in the first segment only; an embedder keeps at least
/// nvgre::first_segment_bytes (256) of the packet there (or all of it when shorter), which DPDK's and
/// VPP's 2 KB buffers do without trying.
#pragma once

#include "nvgre/chain.hpp"
#include "nvgre/detail/assert.hpp"
#include "nvgre/error.hpp"

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::datapath {

/// Headroom an embedder should leave in front of a VM's frame: the largest outer header set
/// (Ethernet 14 + 802.1Q 4 + IPv6 40 + NVGRE 8 = 66 bytes), rounded up to a cache line.
inline constexpr std::size_t recommended_headroom = 128;

/// Offload metadata, in the spirit of Linux's skb fields and DPDK's mbuf ol_flags/lens.
/// Offsets are from the start of the frame's data.
struct offload_info {
    bool encapsulated{false};           ///< outer headers were added by encap
    std::uint16_t outer_l2_len{0};      ///< outer Ethernet (+ tag) bytes; 0 when not encapsulated
    std::uint16_t outer_l3_len{0};      ///< outer IPv4/IPv6 header bytes
    std::uint16_t inner_l2_offset{0};   ///< the tenant frame (0 when not encapsulated)
    std::uint16_t inner_l3_offset{0};   ///< its IP header, 0 if none
    std::uint16_t inner_l4_offset{0};   ///< its TCP/UDP header, 0 if none
    /// The outer IPv4 header checksum is left (zero) for the NIC to fill: the embedder asked.
    bool outer_ipv4_checksum_by_hardware{false};
    /// A partial L4 checksum waits to be completed (Linux CHECKSUM_PARTIAL): the ones'
    /// complement sum from `checksum_start` to the end goes to `checksum_start + checksum_offset`.
    bool checksum_partial{false};
    std::uint16_t checksum_start{0};
    std::uint16_t checksum_offset{0};
    /// TCP segment size requested by the sender (TSO/GSO), 0 when none.
    std::uint16_t segment_size{0};
};

/// A view of one frame inside a larger buffer. Cheap to copy; owns nothing.
/// Invariant: data_offset() + size() <= buffer().size().
class frame {
public:
    frame() noexcept = default;
    /// Precondition: `data_offset + size <= buffer.size()`.
    frame(std::span<std::byte> buffer, std::size_t data_offset, std::size_t size) noexcept
        : buffer_(buffer), offset_(data_offset), size_(size) {
        NVGRE_ASSERT(data_offset <= buffer.size() && size <= buffer.size() - data_offset);
    }

    /// The frame's bytes.
    [[nodiscard]] std::span<std::byte> bytes() const noexcept { return buffer_.subspan(offset_, size_); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t headroom() const noexcept { return offset_; }
    [[nodiscard]] std::size_t tailroom() const noexcept { return buffer_.size() - offset_ - size_; }
    [[nodiscard]] std::size_t data_offset() const noexcept { return offset_; }
    [[nodiscard]] std::span<std::byte> buffer() const noexcept { return buffer_; }

    /// Grows the frame by `n` bytes at the front (into the headroom) and returns them.
    /// errc::no_headroom when the headroom is smaller than `n`; the frame is then unchanged.
    result<std::span<std::byte>> push_front(std::size_t n) noexcept {
        if (n > offset_) return make_error(errc::no_headroom, layer::none, 0, n);
        offset_ -= n;
        size_ += n;
        return buffer_.subspan(offset_, n);
    }
    /// Removes `n` bytes from the front. errc::truncated when the frame is shorter.
    result<void> pull_front(std::size_t n) noexcept {
        if (n > size_) return make_error(errc::truncated, layer::none, size_, n);
        offset_ += n;
        size_ -= n;
        return {};
    }
    /// Sets the length of the first segment to `n` (shrinking, or growing into the tailroom).
    /// errc::no_space when the buffer ends first. A chained frame keeps its tail: use
    /// set_total_size() to cut the packet short.
    result<void> resize(std::size_t n) noexcept {
        if (n > buffer_.size() - offset_) return make_error(errc::no_space, layer::none, size_, n);
        size_ = n;
        return {};
    }

    /// The packet's length: the first segment's bytes and the chain's.
    [[nodiscard]] std::size_t total_size() const noexcept { return size_ + tail.length(); }
    /// True when the packet continues past the first segment.
    [[nodiscard]] bool is_chained() const noexcept { return !tail.empty(); }
    /// True unless the frame is chained with fewer than nvgre::first_segment_bytes in its first
    /// segment (the pipelines drop such a frame as split-headers).
    [[nodiscard]] bool headers_in_first_segment() const noexcept { return !is_chained() || size_ >= first_segment_bytes; }
    /// Cuts the packet to `n` bytes (n <= total_size()): inside the chain, or inside the first
    /// segment, which then drops the whole chain (the embedder frees the segments it no longer
    /// needs when it takes the frame back). errc::bad_value when n > total_size().
    result<void> set_total_size(std::size_t n) noexcept {
        if (n > total_size()) return make_error(errc::bad_value, layer::none, total_size(), n);
        if (n <= size_) {
            size_ = n;
            if (is_chained()) tail = chain{};  // (no stores for the common frame in one buffer)
        } else {
            tail.trim(n - size_);
        }
        return {};
    }

    offload_info offload{};
    /// The packet's bytes after the first segment; empty for a frame in one buffer.
    chain tail{};

private:
    std::span<std::byte> buffer_{};
    std::size_t offset_{0};
    std::size_t size_{0};
};

/// Copies the bytes [offset, offset + out.size()) of the whole packet — first segment, then
/// chain — into `out`. False when the packet is shorter (out partly written). O(out.size()).
inline bool copy_out(const frame& f, std::size_t offset, std::span<std::byte> out) noexcept {
    return nvgre::copy_out(f.bytes(), f.tail, offset, out);
}

/// The ones'-complement partial sum of the packet's bytes from `offset` to its end, over the
/// first segment and the chain (0 when offset >= total_size()). O(bytes summed).
[[nodiscard]] inline std::uint32_t sum_from(const frame& f, std::size_t offset) noexcept {
    return sum_range(f.bytes(), f.tail, offset, f.total_size());
}

/// How an embedder's own buffer type (a DPDK mbuf, a VPP vlib buffer, ...) becomes a frame
/// and takes the frame back:
///   `A::view(b)`      -> the frame: the first segment with its headroom and tailroom, and
///                        `frame::tail` over the further segments (total length = the packet's);
///   `A::commit(b, f)` -> takes back the new start and length of the first segment, the
///                        packet's total length (`f.total_size()`; a shorter chain frees its
///                        unused segments) and the offload metadata.
/// examples/buffer-adapters shows one for a plain byte array and a two-segment one shaped
/// like a DPDK mbuf chain; docs/embedding.md lists what each buffer type must provide.
template <class A, class Buffer>
concept frame_adapter = requires(Buffer& b, const frame& f) {
    { A::view(b) } -> std::same_as<frame>;
    { A::commit(b, f) } -> std::same_as<void>;
};

}  // namespace nvgre::datapath
