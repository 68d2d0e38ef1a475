/// @file datapath/context.hpp
/// @brief The per-thread state of the pipelines: counters (per verdict, per drop reason, per
/// VSID, per VM port), the rate limiter of the distributed router's ICMP answers with its
/// clock, and an optional trace hook.
///
/// The pipeline configuration (pipeline_config) is immutable and shared by every datapath
/// thread; everything a pipeline call writes besides the frames and the sink lives here, one
/// context per thread (nothing in it is synchronised). Sizing happens when a context is made:
/// the per-VSID and per-port tables have a fixed capacity chosen then (0, the default, turns
/// them off), so that counting never allocates. A VSID or port past the capacity is counted in
/// `other`, never lost.
#pragma once

#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/icmp_answer.hpp"
#include "nvgre/datapath/verdict.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace nvgre::datapath {

/// The traffic of one VSID or one port: frames decided, and how many of them were dropped
/// (drop verdicts and answered packets that went no further, as counters::count counts them).
struct traffic_counters {
    std::uint64_t frames{0};
    std::uint64_t dropped{0};

    void count(const outcome& o) noexcept {
        ++frames;
        if (o.verdict == verdict::drop || (o.verdict == verdict::reply && o.reason != drop_reason::none)) ++dropped;
    }
    friend bool operator==(const traffic_counters&, const traffic_counters&) = default;
};

/// Counters per VSID in a fixed-capacity open-addressing table (linear probing on the 24-bit
/// VSID): O(1) expected, no allocation after construction. Frames without a VSID (outcome vsid
/// 0: dropped before one was known) and VSIDs that no longer fit go to `other`.
class vsid_counters {
public:
    /// Room for `capacity` VSIDs (rounded up to a power of two, at twice the load); 0: off.
    explicit vsid_counters(std::size_t capacity = 0) {
        if (capacity != 0) slots_.resize(std::bit_ceil(capacity * 2));
        limit_ = capacity;
    }

    void count(const outcome& o) noexcept {
        traffic_counters* t = o.vsid == 0 ? nullptr : slot_for(o.vsid);
        (t != nullptr ? *t : other_).count(o);
    }
    /// The counters of `vsid`, or nullptr when it was never counted on its own.
    [[nodiscard]] const traffic_counters* find(std::uint32_t vsid) const noexcept {
        if (slots_.empty() || vsid == 0) return nullptr;
        const slot& at = slots_[probe(vsid)];
        return at.vsid == vsid ? &at.traffic : nullptr;
    }
    /// Frames counted without a VSID of their own in the table.
    [[nodiscard]] const traffic_counters& other() const noexcept { return other_; }
    /// VSIDs with counters of their own.
    [[nodiscard]] std::size_t size() const noexcept { return used_; }
    [[nodiscard]] bool enabled() const noexcept { return !slots_.empty(); }

private:
    struct slot {
        std::uint32_t vsid{0};  // 0: free (0 is no tenant VSID)
        traffic_counters traffic;
    };
    static std::size_t hash(std::uint32_t v) noexcept { return static_cast<std::size_t>(v * 0x9e3779b1u) >> 8; }
    /// The slot holding `vsid`, else the free slot where it would go (one exists: at most half
    /// the slots are ever used). Precondition: slots_ not empty.
    [[nodiscard]] std::size_t probe(std::uint32_t vsid) const noexcept {
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = hash(vsid) & mask;
        while (slots_[i].vsid != vsid && slots_[i].vsid != 0) i = (i + 1) & mask;
        return i;
    }
    traffic_counters* slot_for(std::uint32_t vsid) noexcept {
        if (slots_.empty()) return nullptr;
        slot& at = slots_[probe(vsid)];
        if (at.vsid != vsid) {
            if (used_ == limit_) return nullptr;  // full
            at.vsid = vsid;
            ++used_;
        }
        return &at.traffic;
    }

    std::vector<slot> slots_;
    std::size_t limit_{0};
    std::size_t used_{0};
    traffic_counters other_;
};

/// Called after each frame is decided: its index in the burst (0 for a single frame), the
/// frame as it now is, and its outcome — the copies it made have gone through the sink already,
/// and the next frame is not yet decided. For tracing, capture and tools that must handle each
/// frame's output before the next (nvgre-pcap). Must not throw.
struct trace_hook {
    void (*fn)(void* user, std::size_t index, const frame& f, const outcome& o) noexcept = nullptr;
    void* user = nullptr;
};

/// The per-thread state of the pipelines (see the file comment). Not thread-safe: one per
/// datapath thread; sum their counters for totals.
class context {
public:
    /// `vsid_capacity` VSIDs and `port_capacity` ports get counters of their own (0: none).
    explicit context(std::size_t vsid_capacity = 0, std::size_t port_capacity = 0)
        : per_vsid(vsid_capacity), per_port(port_capacity) {}

    /// Frames by verdict and by drop reason.
    counters count;
    /// Frames by VSID (the outcome's: the destination's on egress, the packet's on ingress).
    vsid_counters per_vsid;
    /// Frames by the VM port they came from (egress), indexed by the embedder's port index
    /// (state::bind_port). Unbound ports and ports past the capacity are counted in port_other;
    /// with no capacity, no port is counted.
    std::vector<traffic_counters> per_port;
    traffic_counters port_other;
    /// Called after each frame (see trace_hook).
    trace_hook trace;

    /// Rate-limits the router's ICMP answers (echo replies, unreachable, time exceeded, too
    /// big): `burst` answers at once, `per_second` after that, per (routing domain, source).
    /// Without it every answer goes.
    void limit_answers(std::uint32_t burst = 10, std::uint32_t per_second = 10) noexcept {
        limiter_.emplace(burst, per_second);
        limiter_->use_clock(clock_ns_);
    }
    /// The clock of the rate limit, in nanoseconds: the embedder's (read at each answer), or
    /// the steady clock when null.
    void use_clock(const std::uint64_t* now_ns) noexcept {
        clock_ns_ = now_ns;
        if (limiter_) limiter_->use_clock(now_ns);
    }
    /// The rate limiter the pipelines consult, or nullptr (unlimited).
    [[nodiscard]] icmp_rate_limiter* limiter() noexcept { return limiter_ ? &*limiter_ : nullptr; }

    /// Counts one decided frame (`port`: its VM port's index on egress, or no_port) and calls
    /// the trace hook. What the pipelines call after each frame.
    static constexpr std::size_t no_port = ~std::size_t{0};
    /// A port the embedder has not numbered (state::bind_port): counted in port_other.
    static constexpr std::size_t unbound_port = no_port - 1;
    void record(std::size_t index, const frame& f, const outcome& o, std::size_t port = no_port) noexcept {
        count.count(o);
        if (per_vsid.enabled()) per_vsid.count(o);
        if (port != no_port && counts_ports()) (port < per_port.size() ? per_port[port] : port_other).count(o);
        if (trace.fn != nullptr) trace.fn(trace.user, index, f, o);
    }
    /// True when ports are counted (a port capacity was given): the pipelines then work out
    /// each frame's port index, and only then.
    [[nodiscard]] bool counts_ports() const noexcept { return !per_port.empty(); }

private:
    std::optional<icmp_rate_limiter> limiter_;
    const std::uint64_t* clock_ns_{nullptr};
};

}  // namespace nvgre::datapath
