/// @file datapath/context.hpp
/// @brief The per-thread state of the pipelines: counters (per verdict, per drop reason, per
/// VSID, per VM port), the rate limiter of the distributed router's ICMP answers with its
/// clock, the port bandwidth meters it shares with the other threads, and an optional trace
/// hook.
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
#include "nvgre/datapath/port_meter.hpp"
#include "nvgre/datapath/verdict.hpp"

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace nvgre::datapath {

/// The traffic of one VSID or one VM port, as a NIC counts it from the switch's side:
/// - in: frames the switch received — for a port, the frames its VM sent (egress); for a VSID,
///   the frames decided in it (egress: the destination's VSID; ingress: the packet's) — with
///   their bytes as received, and the drops among them by reason (drop verdicts and answered
///   packets that went no further, as counters::count counts them);
/// - out: frames the switch passed on — for a port, the frames delivered to its VM (ingress,
///   local delivery on egress, and the answers to what it sent: ARP/ND, DHCP, ICMP); for a VSID,
///   the frames decided in it that were not dropped — with their bytes as sent (flood copies
///   are the sink's: counted once, as the original).
/// Bytes are Ethernet frames without FCS: in, as received (the outer frame for what arrives
/// from the fabric); out, as passed on (the inner frame of a delivery).
struct traffic_counters {
    std::uint64_t packets_in{0};
    std::uint64_t bytes_in{0};
    std::uint64_t packets_out{0};
    std::uint64_t bytes_out{0};
    std::array<std::uint64_t, drop_reason_count> drops{};

    /// A frame received (`bytes` as received) and its outcome.
    void count_in(const outcome& o, std::size_t bytes) noexcept {
        ++packets_in;
        bytes_in += bytes;
        if (o.verdict == verdict::drop || (o.verdict == verdict::reply && o.reason != drop_reason::none))
            ++drops[static_cast<std::size_t>(o.reason)];
    }
    /// A frame passed on, of `bytes`.
    void count_out(std::size_t bytes) noexcept {
        ++packets_out;
        bytes_out += bytes;
    }
    /// Drops of every reason.
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        std::uint64_t n = 0;
        for (const std::uint64_t d : drops) n += d;
        return n;
    }
    [[nodiscard]] std::uint64_t of(drop_reason r) const noexcept { return drops[static_cast<std::size_t>(r)]; }
    traffic_counters& operator+=(const traffic_counters& o) noexcept {
        packets_in += o.packets_in;
        bytes_in += o.bytes_in;
        packets_out += o.packets_out;
        bytes_out += o.bytes_out;
        for (std::size_t i = 0; i < drop_reason_count; ++i) drops[i] += o.drops[i];
        return *this;
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

    /// Counts a frame received (`bytes_in`) and, when it was not dropped, passed on (`bytes_out`).
    void count(const outcome& o, std::size_t bytes_in, std::size_t bytes_out) noexcept {
        traffic_counters* t = o.vsid == 0 ? nullptr : slot_for(o.vsid);
        traffic_counters& c = t != nullptr ? *t : other_;
        c.count_in(o, bytes_in);
        if (o.verdict != verdict::drop) c.count_out(bytes_out);
    }
    /// Calls fn(vsid, counters) for every VSID counted on its own, in no particular order.
    template <class Fn>
    void for_each(Fn&& fn) const {
        for (const slot& at : slots_)
            if (at.vsid != 0) fn(at.vsid, at.traffic);
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
    /// Frames by VM port (see traffic_counters: in from its VM, out to it), indexed by the
    /// embedder's port index (state::bind_port). Unbound ports and ports past the capacity
    /// are counted in port_other; with no capacity, no port is counted.
    std::vector<traffic_counters> per_port;
    traffic_counters port_other;
    /// Frames of ports with a maximum bandwidth that no bucket held (no meters shared, or a
    /// port number past them, or an unbound port): they passed unmetered.
    std::uint64_t unmetered{0};
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
    /// The clock of the rate limits (the embedder's, else the steady clock), in nanoseconds.
    [[nodiscard]] std::uint64_t now_ns() const noexcept {
        if (clock_ns_ != nullptr) return *clock_ns_;
        return static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
    }

    /// The port bandwidth meters of the ports this thread serves, shared with every other
    /// thread that serves them (docs/embedding.md); nullptr: ports with a maximum bandwidth
    /// pass unmetered (and are counted in `unmetered`). `meters` must outlive its use.
    void share_meters(port_meters* meters) noexcept { meters_ = meters; }
    [[nodiscard]] port_meters* meters() const noexcept { return meters_; }

    /// Egress, before a frame of `bytes` from `port`'s VM (a port whose settings are metered())
    /// is acted on: false when the port's maximum bandwidth cannot take it now (the frame is
    /// dropped rate-limited, and costs nothing).
    /// Starts loading the bucket a frame from `port` will be checked against (bursts).
    void prefetch_meter(const policy::local_port& port) const noexcept {
        if (port.settings.metered() && meters_ != nullptr) meters_->prefetch(port.id, meter_direction::from_vm);
    }
    /// `now`: the context's clock (now_ns()), read once for the frame.
    [[nodiscard]] bool admits_from_vm(const policy::local_port& port, std::size_t bytes, std::uint64_t now) noexcept {
        if (meters_ == nullptr || port.id >= meters_->size()) {
            ++unmetered;
            return true;
        }
        return meters_->conforms(port.id, meter_direction::from_vm, bytes, port.settings, now);
    }
    /// Egress, after that frame went (its outcome is not a drop): charges its bytes.
    void charge_from_vm(const policy::local_port& port, std::size_t bytes, std::uint64_t now) noexcept {
        if (meters_ == nullptr) return;
        meters_->charge(port.id, meter_direction::from_vm, bytes, port.settings, now);
    }
    /// After a decision that hands frame `f` to a local VM port (egress `local`, ingress
    /// `deliver` of a unicast frame; the frame is not yet delivered): turns `o` into a
    /// rate-limited drop when that port's bucket toward the VM cannot take the frame, else
    /// charges it. Other outcomes are left alone.
    void meter_delivery(const policy::snapshot& s, outcome& o, const frame& f) noexcept {
        if (!s.has_metered_ports() || o.to.to != destination::kind::vm || o.to.port == destination::none || o.copies != 0) [[likely]]
            return;
        const policy::local_port* port = s.port_by_id(o.to.port);
        if (port == nullptr || !port->settings.metered()) [[likely]]
            return;
        if (meters_ == nullptr || o.to.port >= meters_->size()) {
            ++unmetered;
            return;
        }
        const std::size_t bytes = f.total_size();
        const std::uint64_t now = now_ns();
        if (!meters_->conforms(o.to.port, meter_direction::to_vm, bytes, port->settings, now)) {
            o = outcome::dropped(drop_reason::rate_limited, o.vsid);
            return;
        }
        meters_->charge(o.to.port, meter_direction::to_vm, bytes, port->settings, now);
    }

    /// Counts one decided frame (`port`: its VM port's index on egress, or no_port) and calls
    /// the trace hook. What the pipelines call after each frame.
    static constexpr std::size_t no_port = ~std::size_t{0};
    /// A port the embedder has not numbered (state::bind_port): counted in port_other.
    static constexpr std::size_t unbound_port = no_port - 1;
    /// `received`: the frame's bytes as it came in (egress: as the VM sent it; ingress: the
    /// outer frame).
    void record(std::size_t index, const frame& f, const outcome& o, std::size_t port = no_port, std::size_t received = 0) noexcept {
        count.count(o);
        if (per_vsid.enabled()) per_vsid.count(o, received, f.total_size());
        if (counts_ports()) {
            if (port != no_port) port_counters(port).count_in(o, received);
            // What went to a VM port: a local delivery, an answer to the sender.
            if ((o.to.to == destination::kind::vm || o.to.to == destination::kind::sender) && o.verdict != verdict::drop &&
                o.verdict != verdict::flood)
                port_counters(o.to.port == destination::none ? unbound_port : o.to.port).count_out(f.total_size());
        }
        if (trace.fn != nullptr) trace.fn(trace.user, index, f, o);
    }
    /// True when ports are counted (a port capacity was given): the pipelines then work out
    /// each frame's port index, and only then.
    [[nodiscard]] bool counts_ports() const noexcept { return !per_port.empty(); }

private:
    traffic_counters& port_counters(std::size_t port) noexcept { return port < per_port.size() ? per_port[port] : port_other; }

    std::optional<icmp_rate_limiter> limiter_;
    const std::uint64_t* clock_ns_{nullptr};
    port_meters* meters_{nullptr};
};

}  // namespace nvgre::datapath
