// What the fuzz targets share: invariant checks that abort (a finding for libFuzzer, a failed
// ctest for the replay build), input copied into exact-size heap buffers (so that a read one
// byte past the end lands in ASan's redzone), frames with headroom, a bounded replication
// sink, and the fixed policy of the pipeline targets.
//
// Every target is built twice: with libFuzzer (preset `fuzz`, clang, ASan + UBSan) and as a
// plain program with tests/fuzz/replay_main.cpp in every test configuration, where it replays
// tests/fuzz/regressions/<target>/ and the generated seeds (ctest fuzz_replay_<target>).
#pragma once

#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/policy/loader.hpp"
#include "nvgre/policy/state.hpp"
#include "support/classified_policy_text.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

/// Aborts with the file, line and text of a broken invariant. Unlike assert() it stays on in
/// release builds (the fuzz preset is RelWithDebInfo, which defines NDEBUG).
#define NVGRE_FUZZ_CHECK(cond) ((cond) ? static_cast<void>(0) : ::nvgre::fuzz::invariant_broken(#cond, __FILE__, __LINE__))

namespace nvgre::fuzz {

[[noreturn]] inline void invariant_broken(const char* what, const char* file, int line) noexcept {
    std::fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    std::fflush(stderr);
    std::abort();
}

/// The input as std::byte in a heap block of exactly its size.
inline std::vector<std::byte> bytes_of(const std::uint8_t* data, std::size_t size) {
    std::vector<std::byte> out(size);
    for (std::size_t i = 0; i < size; ++i) out[i] = std::byte{data[i]};
    return out;
}

/// A frame in a heap block of exactly headroom + size + tailroom bytes.
struct framed {
    std::vector<std::byte> storage;
    datapath::frame f;
    framed(std::span<const std::byte> bytes, std::size_t headroom, std::size_t tailroom)
        : storage(headroom + bytes.size() + tailroom, std::byte{0xa5}) {
        std::copy(bytes.begin(), bytes.end(), storage.begin() + static_cast<std::ptrdiff_t>(headroom));
        f = datapath::frame(storage, headroom, bytes.size());
    }
    framed(const framed&) = delete;
    framed& operator=(const framed&) = delete;
    /// The frame still lies inside its buffer, and the buffer is still the one it was given.
    [[nodiscard]] bool intact() const noexcept {
        return f.buffer().data() == storage.data() && f.buffer().size() == storage.size() &&
               f.data_offset() <= storage.size() && f.size() <= storage.size() - f.data_offset();
    }
    [[nodiscard]] std::vector<std::byte> bytes() const { return {f.bytes().begin(), f.bytes().end()}; }
};

/// A replication sink with a small fixed pool: copies beyond it fail (the pipelines count
/// no-buffer), as an embedder's pool would. It holds the pipelines to the sink contract: every
/// buffer it hands out comes back exactly once, sent or discarded, before the run ends (checked
/// when the sink goes away, after every fuzz input); a buffer that is not its own is recorded
/// as not intact.
struct pool_sink {
    static constexpr std::size_t pool = 12;
    std::deque<framed> buffers;  // deque: frames stay put while more are added
    std::vector<bool> returned;  // per buffer: sent or discarded
    struct sent {
        std::vector<std::byte> bytes;
        datapath::destination to;
        bool intact{true};
    };
    std::vector<sent> out;
    std::size_t copies_asked{0};
    std::size_t discarded{0};

    pool_sink() = default;
    pool_sink(const pool_sink&) = delete;
    pool_sink& operator=(const pool_sink&) = delete;
    ~pool_sink() { NVGRE_FUZZ_CHECK(outstanding() == 0); }

    /// A buffer of `size` bytes that hold garbage (the library must write every one).
    datapath::frame* allocate(std::size_t size, std::size_t headroom) {
        ++copies_asked;
        if (buffers.size() >= pool) return nullptr;
        buffers.emplace_back(std::vector<std::byte>(size, std::byte{0x5a}), headroom, 0);
        returned.push_back(false);
        return &buffers.back().f;
    }
    void send(datapath::frame& f, const datapath::destination& d) {
        const std::size_t i = index_of(f);
        if (i != npos) {
            NVGRE_FUZZ_CHECK(!returned[i]);  // sent twice, or sent after a discard
            returned[i] = true;
        }
        std::vector<std::byte> bytes(f.total_size());
        (void)datapath::copy_out(f, 0, bytes);
        out.push_back({std::move(bytes), d, i != npos});
    }
    void discard(datapath::frame& f) {
        const std::size_t i = index_of(f);
        NVGRE_FUZZ_CHECK(i != npos && !returned[i]);  // only a buffer of ours, only once
        returned[i] = true;
        ++discarded;
    }
    /// Buffers handed out and not yet sent or discarded.
    [[nodiscard]] std::size_t outstanding() const noexcept {
        return static_cast<std::size_t>(std::count(returned.begin(), returned.end(), false));
    }

private:
    static constexpr std::size_t npos = ~std::size_t{0};
    [[nodiscard]] std::size_t index_of(const datapath::frame& f) const noexcept {
        for (std::size_t i = 0; i < buffers.size(); ++i)
            if (&buffers[i].f == &f) return i;
        return npos;
    }
};
static_assert(datapath::replication_sink<pool_sink>);

/// The fixed policy of the pipeline targets: examples/policies/two-tenants.policy (red with
/// two subnets, IPv6, a provider route and a gateway-wildcard record; blue with encap and nat
/// records), with port classifications and red's subnet 5001 answering DHCP, on its three hosts. NVGRE_SOURCE_DIR comes from the build.
struct hnv {
    policy::model model;
    std::array<policy::state, 3> hosts;
    /// Every VM NIC of each host (the MACs of its local records).
    std::array<std::vector<mac_address>, 3> ports;

    static const hnv& get() {
        static const hnv h = load();
        return h;
    }
    /// The host owning provider address `pa`, or nullptr.
    [[nodiscard]] const policy::state* host_of(const ip_address& pa) const {
        const std::string_view name = model.host_of_pa(pa);
        for (const policy::state& s : hosts)
            if (!name.empty() && s.host() == name) return &s;
        return nullptr;
    }

private:
    static hnv load() {
        // Classified (support/classified_policy_text.hpp): the guards, MAC spoofing, the outer
        // DSCP and DHCP from policy are on the fuzzed paths too.
        const std::string path = std::string(NVGRE_SOURCE_DIR) + "/examples/policies/two-tenants.policy";
        auto r = policy::load_policy_text(test::classified_policy_text(path), path);
        if (!r) {
            for (const auto& d : r.diagnostics) std::fprintf(stderr, "%s\n", d.to_string().c_str());
            invariant_broken("the fuzz policy loads", __FILE__, __LINE__);
        }
        hnv h;
        h.model = *r.validated;
        const char* names[] = {"hv1", "hv2", "hv3"};
        for (std::size_t i = 0; i < h.hosts.size(); ++i) {
            h.hosts[i] = policy::state::build(h.model, names[i]).value();
            h.hosts[i].for_each_record([&](const policy::record_entry& e, policy::record_id) {
                if (e.local && std::find(h.ports[i].begin(), h.ports[i].end(), e.mac) == h.ports[i].end())
                    h.ports[i].push_back(e.mac);
            });
            // Each host numbers its VM ports in that order, as an embedder would (outcomes then
            // name their output ports; the burst target also enters frames by number).
            for (std::size_t j = 0; j < h.ports[i].size(); ++j)
                if (!h.hosts[i].bind_port(static_cast<std::uint32_t>(j), h.ports[i][j]))
                    invariant_broken("the fuzz policy's ports can be numbered", __FILE__, __LINE__);
        }
        return h;
    }
};

/// The routing domain (its GUID) of subnet `vsid` in `s`, or nullptr when `vsid` is unknown.
inline const rdid* domain_of(const policy::state& s, std::uint32_t vsid) noexcept {
    const policy::subnet_entry* sub = s.subnet(vsid);
    return sub == nullptr ? nullptr : &s.domain(sub->domain).id;
}

/// The routing domain of the local VM port with `mac` in `s`, or nullptr when it is no port.
inline const rdid* domain_of_port(const policy::state& s, const mac_address& mac) noexcept {
    const policy::local_port* p = s.port(mac);
    return p == nullptr ? nullptr : &s.domain(s.subnet_at(p->subnet).domain).id;
}

/// Invariants every outcome keeps: a drop names its reason, nothing else has one (but a
/// flood, whose reason names the first copy that could not be made, and encap in pieces,
/// no-buffer when the sink ran dry).
inline void check_outcome_reason(const datapath::outcome& o) noexcept {
    using datapath::verdict;
    using datapath::drop_reason;
    if (o.verdict == verdict::drop) NVGRE_FUZZ_CHECK(o.reason != drop_reason::none);
    // A reply names the reason of the packet it answers only for the router's ICMP errors.
    else if (o.verdict == verdict::reply)
        NVGRE_FUZZ_CHECK(o.reason == drop_reason::none || o.reason == drop_reason::no_route || o.reason == drop_reason::no_record ||
                         o.reason == drop_reason::ttl_expired || o.reason == drop_reason::too_big);
    // Encap or rewrite in pieces names the first piece that did not go, and only when others went:
    // in place (no copies) there is no reason.
    else if (o.verdict == verdict::encap || o.verdict == verdict::rewrite)
        NVGRE_FUZZ_CHECK(o.reason == drop_reason::none || o.copies > 0);
    else if (o.verdict != verdict::flood) NVGRE_FUZZ_CHECK(o.reason == drop_reason::none);
    NVGRE_FUZZ_CHECK(static_cast<std::size_t>(o.verdict) < datapath::verdict_count);
    NVGRE_FUZZ_CHECK(static_cast<std::size_t>(o.reason) < datapath::drop_reason_count);
    NVGRE_FUZZ_CHECK(datapath::to_string(o.reason) != "unknown");
}

}  // namespace nvgre::fuzz
