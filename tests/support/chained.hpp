// Chained frames for the tests: a packet cut into a first segment (with headroom and tailroom,
// as a DPDK mbuf has) and further segments an nvgre::chain walks, and a replication sink that
// makes headers-only clones of them (the first segment copied, the chain shared).
#pragma once

#include "support/frames.hpp"

#include <nvgre/chain.hpp>
#include <nvgre/datapath/frame.hpp>
#include <nvgre/datapath/pipeline.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <vector>

namespace nvgre::test {

/// One segment after the first, as an embedder's chain holds it: its bytes and the next one.
struct chain_node {
    std::span<std::byte> bytes;
    const chain_node* next{nullptr};
    static segment walk(const void* handle) noexcept {
        const auto* n = static_cast<const chain_node*>(handle);
        return segment{n->bytes, n->next};
    }
};

/// The segments of a chain and their nodes; stays put (held by unique_ptr) while frames point
/// into it.
struct chain_storage {
    std::deque<std::vector<std::byte>> segments;
    std::deque<chain_node> nodes;
    /// A chain over `bytes` cut at `cuts` (sizes of all segments but the last; zeros allowed).
    chain make(std::span<const std::byte> bytes, std::span<const std::size_t> cuts) {
        std::size_t at = 0;
        std::vector<std::span<std::byte>> pieces;
        for (std::size_t c : cuts) {
            const std::size_t n = std::min(c, bytes.size() - at);
            pieces.push_back(segments.emplace_back(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                                   bytes.begin() + static_cast<std::ptrdiff_t>(at + n)));
            at += n;
        }
        pieces.push_back(segments.emplace_back(bytes.begin() + static_cast<std::ptrdiff_t>(at), bytes.end()));
        const chain_node* next = nullptr;
        for (std::size_t i = pieces.size(); i-- > 0;) next = &nodes.emplace_front(chain_node{pieces[i], next});
        return chain(next, &chain_node::walk, bytes.size());
    }
};

/// A frame whose first `first_len` bytes lie in a buffer with headroom and tailroom and whose
/// rest is a chain cut at `cuts`.
struct chained_buffer {
    std::vector<std::byte> storage;
    std::unique_ptr<chain_storage> rest{std::make_unique<chain_storage>()};
    datapath::frame f;
    chained_buffer(std::span<const std::byte> bytes, std::size_t first_len, std::vector<std::size_t> cuts = {},
                   std::size_t headroom = 128, std::size_t tailroom = 64)
        : storage(headroom + std::min(first_len, bytes.size()) + tailroom, std::byte{0xa5}) {
        const std::size_t n = std::min(first_len, bytes.size());
        std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n), storage.begin() + static_cast<std::ptrdiff_t>(headroom));
        f = datapath::frame(storage, headroom, n);
        if (n < bytes.size()) f.tail = rest->make(bytes.subspan(n), cuts);
    }
    chained_buffer(const chained_buffer&) = delete;
    /// Every byte of the packet, the chain's gathered.
    [[nodiscard]] std::vector<std::byte> bytes() const { return gathered(f); }
    static std::vector<std::byte> gathered(const datapath::frame& f) {
        std::vector<std::byte> out(f.total_size());
        (void)datapath::copy_out(f, 0, out);  // cannot fail: the chain holds total_size() - size() bytes
        return out;
    }
};

/// vector_sink that clones: a new first segment (with the headroom asked for) and the chain
/// shared, as rte_pktmbuf_clone / vlib_buffer_clone do.
struct cloning_vector_sink : vector_sink {
    std::deque<buffer> firsts;
    std::size_t clones{0};
    datapath::frame* clone(const datapath::frame& f, std::size_t headroom) {
        if (buffers.size() >= limit) return nullptr;
        ++clones;
        buffers.emplace_back(f.bytes(), headroom + 128);
        buffers.back().f.tail = f.tail;
        return &buffers.back().f;
    }
};
static_assert(datapath::cloning_sink<cloning_vector_sink>);

}  // namespace nvgre::test
