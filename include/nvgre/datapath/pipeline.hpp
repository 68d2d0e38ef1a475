/// @file datapath/pipeline.hpp
/// @brief What the egress and ingress pipelines share: their configuration and the sink
/// through which they emit replicated frames (head-end replication, delivery to every local
/// VM of a subnet).
#pragma once

#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/detail/assert.hpp"
#include "nvgre/ip_address.hpp"

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::datapath {

/// The underlay MTU of one provider address (the NIC behind it), overriding the default.
struct pa_mtu {
    ip_address pa;
    std::size_t mtu{1500};
};

/// Settings of a host's pipelines.
struct pipeline_config {
    std::uint8_t outer_ttl{64};                   ///< outer TTL / hop limit (docs/hnv-rules.md, wire rule 8)
    std::size_t underlay_mtu{1500};               ///< outer IP MTU (wire rule 7), for PAs not listed below
    std::span<const pa_mtu> underlay_mtus{};     ///< per-PA underlay MTUs (the sending PA's applies)
    bool outer_ipv4_checksum_by_hardware{false};  ///< leave the outer IPv4 checksum to the NIC
    /// Segment oversize TCP in software even when the sender gave no segment size (TSO
    /// metadata); the MSS is then what fits the underlay (datapath/mtu.hpp).
    bool gso{false};
    /// Leave partial TCP/UDP checksums from VMs (offload metadata) to the NIC; otherwise
    /// egress completes them in software (datapath/offload.hpp).
    bool inner_checksum_by_hardware{false};
    /// Leave the segmentation of a VM's TSO send (offload_info::segment_size) to the NIC — its
    /// tunnel TSO (DPDK: RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO) — when the segments fit the underlay
    /// and the send's TCP checksum is partial, as TSO sends are: the frame is encapsulated whole,
    /// keeping segment_size and the partial checksum, which the NIC computes per segment. The outer length fields hold the whole packet's length, so a
    /// send whose outer packet would pass 65535 bytes is still cut in software.
    bool segmentation_by_hardware{false};
    // The rate limit of the router's ICMP answers is per thread: datapath/context.hpp.

    /// Why this configuration cannot be used, or nullptr when it can: an outer TTL of 0, an
    /// underlay MTU (default or per PA) outside 68..65535 (RFC 791's minimum; the IPv4 total
    /// length), a PA listed twice. An embedder checks it once, before the first packet.
    [[nodiscard]] const char* validate() const noexcept {
        if (outer_ttl == 0) return "outer TTL 0";
        const auto bad_mtu = [](std::size_t m) { return m < 68 || m > 65535; };
        if (bad_mtu(underlay_mtu)) return "underlay MTU outside 68..65535";
        for (std::size_t i = 0; i < underlay_mtus.size(); ++i) {
            if (bad_mtu(underlay_mtus[i].mtu)) return "a provider address's underlay MTU outside 68..65535";
            for (std::size_t j = 0; j < i; ++j)
                if (underlay_mtus[j].pa == underlay_mtus[i].pa) return "a provider address with two underlay MTUs";
        }
        return nullptr;
    }
};

/// Where replicated frames come from and go to. The pipelines never allocate: a copy is a
/// buffer the embedder hands out (from its own pool), and every buffer handed out comes back
/// exactly once — sent, or discarded when the pipeline could not use it (an encapsulation that
/// failed, a piece that could not be rewritten) — before the pipeline call returns, so an
/// embedder's pool (DPDK mbufs, VPP buffers) never leaks one.
///   `s.allocate(size, headroom)` -> a frame of `size` bytes in one buffer (their values do not
///                                   matter: the library writes all of them) with at least
///                                   `headroom` bytes in front and empty offload metadata, or
///                                   nullptr when no buffer is free;
///   `s.send(f, d)`               -> takes frame `f` (from allocate or clone) toward destination `d`;
///   `s.discard(f)`               -> takes frame `f` (from allocate or clone) back unsent.
/// Optionally, for replication without copying payloads:
///   `s.clone(f, headroom)`       -> a frame with the bytes of `f` (its offload metadata need
///                                   not follow: the library resets them): the first segment
///                                   copied into a new buffer with at least `headroom` bytes in
///                                   front, the chain (f.tail) shared — a headers-only clone, as
///                                   rte_pktmbuf_clone or vlib_buffer_clone make — or copied;
///                                   nullptr when no buffer is free. The library writes only the
///                                   clone's first segment.
/// A sink without clone gets copies: allocate(f.total_size()) and every byte copied (clone_of).
template <class S>
concept replication_sink = requires(S& s, std::size_t size, std::size_t headroom, frame& f, const destination& d) {
    { s.allocate(size, headroom) } -> std::same_as<frame*>;
    { s.send(f, d) } -> std::same_as<void>;
    { s.discard(f) } -> std::same_as<void>;
};

/// True if sink `S` makes headers-only clones (replication_sink's optional `clone`).
template <class S>
concept cloning_sink = replication_sink<S> && requires(S& s, const frame& f, std::size_t headroom) {
    { s.clone(f, headroom) } -> std::same_as<frame*>;
};

/// A frame from `s` with the bytes of `f`, at least `headroom` bytes in front of them and no
/// offload metadata (a replica is whole: nothing left for a NIC to finish): the sink's
/// headers-only clone when it makes them (cloning_sink), else a copy of every byte, the
/// chain's gathered into the one buffer. nullptr when the sink has no buffer.
/// O(first segment), or O(f.total_size()) for a copy.
template <replication_sink Sink>
[[nodiscard]] frame* clone_of(Sink& s, const frame& f, std::size_t headroom) noexcept {
    frame* c = nullptr;
    if constexpr (cloning_sink<Sink>) {
        c = s.clone(f, headroom);
        if (c == nullptr) return nullptr;
        NVGRE_ASSERT(c->total_size() == f.total_size() && c->size() == f.size());
    } else {
        c = s.allocate(f.total_size(), headroom);
        if (c == nullptr) return nullptr;
        NVGRE_ASSERT(c->size() == f.total_size() && !c->is_chained());
        (void)copy_out(f, 0, c->bytes());
    }
    c->offload = offload_info{};
    return c;
}

/// A sink for embedders that do not replicate: every copy fails (counted as no-buffer).
struct no_replication_sink {
    frame* allocate(std::size_t, std::size_t) noexcept { return nullptr; }
    void send(frame&, const destination&) noexcept {}
    void discard(frame&) noexcept {}
};
static_assert(replication_sink<no_replication_sink>);

}  // namespace nvgre::datapath
