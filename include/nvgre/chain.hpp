/// @file chain.hpp
/// @brief The bytes of a packet after its first segment, where an embedder's buffer chain holds
/// them (a DPDK mbuf chain, a VPP buffer chain): jumbo frames and 64 KB TSO sends without a copy
/// into one contiguous buffer.
///
/// The library parses and writes headers in the first segment only; the rest of the packet is
/// a `chain` it reads, never writes, and only where the payload itself matters: checksum
/// completion, segmentation, fragmentation, copies for replication and ICMP quotes. The chain
/// is type-erased — a handle to the embedder's second segment and a function that gives a
/// segment's bytes and the next handle — so that neither the wire layer nor the pipelines are
/// templates on the buffer type, and walking it is a slow-path cost only.
///
/// Every walk is bounded: by the chain's length in bytes and by max_chain_segments, so a chain
/// that is cyclic, lies about its length or ends early is a short walk (the functions report
/// it), never a hang or a read outside a segment.
#pragma once

#include "nvgre/checksum/ones_complement.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace nvgre {

/// One segment of an embedder's chain: its packet bytes and the handle of the next segment
/// (nullptr after the last).
struct segment {
    std::span<std::byte> bytes{};
    const void* next{nullptr};
};

/// The embedder's function from a segment handle to that segment (for an mbuf:
/// `{span(rte_pktmbuf_mtod(m), m->data_len), m->next}`). Must not throw.
using segment_walker = segment (*)(const void* handle) noexcept;

/// How many bytes of a chained frame the pipelines need in its first segment (all of a
/// shorter frame): outer Ethernet + 802.1Q + IPv6 + NVGRE (66), inner Ethernet (14), IPv6 with
/// extension headers or IPv4 with options, TCP with options, and the quoted headers of an
/// ICMP error, with room to spare. A chained frame with less is dropped as
/// split-headers (errc::split_headers) before it is parsed. Headers that reach past this many bytes
/// (long IPv6 extension chains, ND options) must lie in the first segment too; a frame whose
/// headers cross out of it is judged as cut short there.
inline constexpr std::size_t first_segment_bytes = 256;

/// The most segments a walk visits (a 64 KB packet in 64-byte segments needs 1024).
inline constexpr std::size_t max_chain_segments = 4096;

/// The packet bytes after the first segment. Empty (length 0) for a packet in one buffer.
/// Cheap to copy; owns nothing: the segments stay the embedder's.
class chain {
public:
    constexpr chain() noexcept = default;
    /// `length`: how many bytes of the segments from `head` on belong to the packet (fewer
    /// than they hold when the packet was trimmed at the end).
    constexpr chain(const void* head, segment_walker walk, std::size_t length) noexcept
        : head_(head), walk_(walk), length_(head != nullptr && walk != nullptr ? length : 0) {}

    [[nodiscard]] constexpr std::size_t length() const noexcept { return length_; }
    [[nodiscard]] constexpr bool empty() const noexcept { return length_ == 0; }
    [[nodiscard]] constexpr const void* head() const noexcept { return head_; }
    [[nodiscard]] constexpr segment_walker walker() const noexcept { return walk_; }

    /// Keeps the first `n` bytes (n <= length()): the packet now ends inside the chain.
    constexpr void trim(std::size_t n) noexcept {
        if (n < length_) length_ = n;
    }

    /// Calls `each(std::span<const std::byte>)` on the bytes [offset, offset + n) of the chain,
    /// one piece per segment, in order. False when the chain holds fewer bytes than it claims
    /// (the pieces given so far stay given). O(segments walked + 1).
    template <class Each>
    bool for_each(std::size_t offset, std::size_t n, Each&& each) const noexcept {
        if (offset > length_ || n > length_ - offset) return false;
        const void* h = head_;
        for (std::size_t k = 0; n != 0 && h != nullptr && k < max_chain_segments; ++k) {
            const segment s = walk_(h);
            h = s.next;
            const std::size_t size = s.bytes.size();
            if (offset >= size) {
                offset -= size;
                continue;
            }
            const std::size_t take = size - offset < n ? size - offset : n;
            each(std::span<const std::byte>(s.bytes.data() + offset, take));
            offset = 0;
            n -= take;
        }
        return n == 0;
    }

    /// Copies the bytes [offset, offset + out.size()) of the chain into `out`. False (out
    /// partly written) when the chain is shorter. O(out.size() + segments).
    bool copy_out(std::size_t offset, std::span<std::byte> out) const noexcept {
        std::size_t at = 0;
        return for_each(offset, out.size(), [&](std::span<const std::byte> piece) noexcept {
            std::memcpy(out.data() + at, piece.data(), piece.size());
            at += piece.size();
        });
    }

    /// The ones'-complement partial sum of the bytes [offset, offset + n) of the chain, as if
    /// they began at an odd position of the whole sum when `odd_start` (RFC 1071: a sum over
    /// bytes shifted by one is the byte-swapped sum). Combine it with checksum::combine. 0
    /// when the chain is shorter than it claims (callers check the length first).
    /// O(n + segments).
    [[nodiscard]] std::uint32_t sum(std::size_t offset, std::size_t n, bool odd_start) const noexcept {
        std::uint32_t total = 0;
        bool odd = odd_start;
        const bool whole = for_each(offset, n, [&](std::span<const std::byte> piece) noexcept {
            std::uint16_t s = checksum::fold(checksum::sum(piece));
            if (odd) s = static_cast<std::uint16_t>((s << 8) | (s >> 8));
            total = checksum::combine(total, s);
            if (piece.size() % 2 != 0) odd = !odd;
        });
        return whole ? total : 0;
    }

private:
    const void* head_{nullptr};
    segment_walker walk_{nullptr};
    std::size_t length_{0};
};

/// Copies the bytes [offset, offset + out.size()) of the packet whose first segment is `first`
/// and whose chain is `tail` into `out`. False when the packet is shorter (out partly written).
/// O(out.size() + segments).
inline bool copy_out(std::span<const std::byte> first, const chain& tail, std::size_t offset,
                     std::span<std::byte> out) noexcept {
    const std::size_t total = first.size() + tail.length();
    if (offset > total || out.size() > total - offset) return false;
    std::size_t at = 0;
    if (offset < first.size()) {
        at = first.size() - offset < out.size() ? first.size() - offset : out.size();
        std::memcpy(out.data(), first.data() + offset, at);
    }
    if (at == out.size()) return true;
    return tail.copy_out(offset + at - first.size(), out.subspan(at));
}

/// The ones'-complement partial sum of the bytes [offset, end) of the packet `first` + `tail`
/// (0 when offset >= end or end lies past the packet). O(end - offset + segments).
[[nodiscard]] inline std::uint32_t sum_range(std::span<const std::byte> first, const chain& tail, std::size_t offset,
                                             std::size_t end) noexcept {
    if (offset >= end || end > first.size() + tail.length()) return 0;
    std::uint32_t s = 0;
    bool odd = false;
    if (offset < first.size()) {
        const std::size_t stop = end < first.size() ? end : first.size();
        s = checksum::fold(checksum::sum(first.subspan(offset, stop - offset)));
        odd = (stop - offset) % 2 != 0;
        offset = stop;
    }
    if (offset == end) return s;
    return checksum::combine(s, tail.sum(offset - first.size(), end - offset, odd));
}

}  // namespace nvgre
