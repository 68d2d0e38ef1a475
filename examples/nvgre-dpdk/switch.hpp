// The datapath of nvgre-dpdk: ports, one worker per lcore, the replication sink over the mbuf
// pool, counters. main.cpp (real ports) and bench.cpp (ring ports) run the same workers.
//
// Each worker polls its own queue (its index) of every port, in bursts of 32: frames from a VM
// port go through egress_burst, frames from the fabric port through ingress_burst, each on the
// mbufs themselves (mbuf_adapter.hpp). Outputs are queued per port and sent with one
// rte_eth_tx_burst per port and round, on the worker's own tx queue, so no two lcores ever
// share a queue. After `idle_rounds` rounds that received nothing a worker sleeps
// `idle_sleep_us` microseconds, so that switches and VMs share a small machine's CPUs.
//
// The switch changes under the workers without a lock on their path (main.cpp): the policy is a
// live_policy, read under one read guard per round (never while sleeping); the ports are a
// port_table, published whole through an atomic pointer and taken at the top of each round, and
// each worker says which table it has reached, so the control plane knows when no round uses an
// old table (or a port only it had) any more.
//
// Each worker's dp::context counts the traffic of every VM port number and VSID; the workers
// publish their counters on request and the control plane sums them. The maximum bandwidth of
// the ports' classifications is one dp::port_meters shared by every worker's context: a token
// bucket per VM port number and direction, atomic words, no lock (datapath/port_meter.hpp).
#pragma once

#include "mbuf_adapter.hpp"

#include <nvgre/datapath/context.hpp>
#include <nvgre/datapath/egress.hpp>
#include <nvgre/datapath/ingress.hpp>
#include <nvgre/datapath/pipeline.hpp>
#include <nvgre/datapath/port_meter.hpp>
#include <nvgre/datapath/verdict.hpp>
#include <nvgre/mac_address.hpp>
#include <nvgre/policy/live_policy.hpp>
#include <nvgre/policy/snapshot.hpp>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace nvgre_dpdk {

inline constexpr std::uint16_t burst_size = 32;
/// Frames queued for one port before a worker sends them (at the end of each round, or when full).
inline constexpr std::size_t tx_queue_depth = 2 * std::size_t{burst_size};
/// Ports a switch can have (ethdev ports: the fabric and the VM ports).
inline constexpr std::size_t max_ports = 32;
inline constexpr std::uint32_t no_port = dp::destination::none;

/// The per-mbuf private area of the bench's frames (bench.cpp): which VM port a frame on a ring
/// stands for, and the frame as the VM sent it, restored before it is received again.
struct bench_frame {
    std::uint32_t vm_port{0};
    std::uint16_t length{0};
    std::array<std::byte, 128> bytes{};
};

/// One ethdev port of the switch.
struct port {
    std::uint16_t id{0};            ///< DPDK port id
    std::string name;               ///< its ethdev name (a vdev's name: net_af_packet0, ...)
    std::string iface;              ///< the Linux interface behind it (a vdev's iface=), or empty
    bool fabric{false};             ///< the physical NIC: ingress; else a VM port: egress
    std::uint32_t vm{no_port};      ///< a VM port's number (state::bind_port)
    nvgre::mac_address vm_mac{};    ///< a VM port's VM NIC
    /// Which attachment this is: no two ports a switch ever had share one, so a worker that
    /// finds another attachment in a slot starts that slot's counters again.
    std::uint64_t attachment{0};
    std::uint64_t tx_capa{0};       ///< the transmit offloads enabled on it
    std::string rss;                ///< fabric: what RSS hashes ("inner headers", ...), empty: none
    /// Bench ring ports: each frame says which VM port it stands for (bench_frame::vm_port).
    bool vm_in_private_area{false};
};

/// The ports the workers poll, as the control plane published them: immutable once published
/// (attach and detach publish a new table). A port keeps its slot — the index of its counters
/// and tx queue — while it is attached; a detached port leaves its slot empty.
struct port_table {
    std::vector<std::optional<port>> slots;  ///< at most max_ports
    std::uint32_t fabric{no_port};           ///< the fabric port's slot
    std::array<std::uint32_t, max_ports> vm_slot{};  ///< VM port number -> slot, or no_port
    /// 1, 2, ... in the order of publication: the table a worker has reached (worker::reached).
    std::uint64_t generation{0};

    port_table(std::vector<std::optional<port>> ports, std::uint64_t gen) : slots(std::move(ports)), generation(gen) {
        vm_slot.fill(no_port);
        for (std::size_t i = 0; i < slots.size(); ++i) {
            if (!slots[i]) continue;
            if (slots[i]->fabric) fabric = static_cast<std::uint32_t>(i);
            else if (slots[i]->vm < vm_slot.size()) vm_slot[slots[i]->vm] = static_cast<std::uint32_t>(i);
        }
    }
    /// The port in slot `i`, or null for an empty slot.
    [[nodiscard]] const port* at(std::size_t i) const noexcept {
        return i < slots.size() && slots[i] ? &*slots[i] : nullptr;
    }
};

struct port_counters {
    std::uint64_t rx{0};
    std::uint64_t tx{0};
    std::uint64_t tx_dropped{0};  ///< the port's tx queue was full, or an offload it lacks
};

/// Everything one worker counts. Single writer: its worker.
struct worker_counters {
    dp::counters verdicts;
    std::array<port_counters, max_ports> ports{};
    std::uint64_t rx{0};           ///< frames received, all ports
    std::uint64_t tx{0};           ///< frames sent, all ports
    std::uint64_t tx_no_port{0};   ///< outputs toward a port this switch does not have
    std::uint64_t idle_sleeps{0};
    // The traffic of the worker's dp::context (datapath/context.hpp), as last published:
    std::vector<dp::traffic_counters> per_port;  ///< by VM port number (context::per_port)
    dp::traffic_counters port_other;             ///< unbound port numbers, and those past per_port
    /// By VSID, sorted by VSID (context::per_vsid); VSIDs past its capacity are in vsid_other.
    std::vector<std::pair<std::uint32_t, dp::traffic_counters>> per_vsid;
    dp::traffic_counters vsid_other;
    std::uint64_t unmetered{0};    ///< frames of metered ports that no bucket held (context::unmetered)

    /// Sums `o` into this (the switch's totals; allocates: not for a worker's own path).
    worker_counters& operator+=(const worker_counters& o) {
        verdicts += o.verdicts;
        for (std::size_t i = 0; i < max_ports; ++i) {
            ports[i].rx += o.ports[i].rx;
            ports[i].tx += o.ports[i].tx;
            ports[i].tx_dropped += o.ports[i].tx_dropped;
        }
        rx += o.rx;
        tx += o.tx;
        tx_no_port += o.tx_no_port;
        idle_sleeps += o.idle_sleeps;
        if (per_port.size() < o.per_port.size()) per_port.resize(o.per_port.size());
        for (std::size_t i = 0; i < o.per_port.size(); ++i) per_port[i] += o.per_port[i];
        port_other += o.port_other;
        // Both sorted by VSID: merged, still sorted.
        std::vector<std::pair<std::uint32_t, dp::traffic_counters>> merged;
        merged.reserve(per_vsid.size() + o.per_vsid.size());
        auto a = per_vsid.begin();
        auto b = o.per_vsid.begin();
        while (a != per_vsid.end() || b != o.per_vsid.end()) {
            if (b == o.per_vsid.end() || (a != per_vsid.end() && a->first < b->first)) {
                merged.push_back(*a++);
            } else if (a == per_vsid.end() || b->first < a->first) {
                merged.push_back(*b++);
            } else {
                merged.push_back(*a++);
                merged.back().second += (b++)->second;
            }
        }
        per_vsid = std::move(merged);
        vsid_other += o.vsid_other;
        unmetered += o.unmetered;
        return *this;
    }
};

/// What a worker does with a burst: the HNV pipelines; or, for the bench, plain forwarding (its
/// floor) and the adapter alone (each mbuf viewed as a frame and committed back, unchanged:
/// what the worker costs around the pipelines).
enum class work : std::uint8_t { pipelines, forward, adapter_only };

/// One datapath lcore: a dp::context, a sink, its queue of every port.
class worker {
public:
    struct settings {
        std::uint16_t queue{0};          ///< the rx and tx queue it polls on every port
        rte_mempool* pool{nullptr};      ///< buffers for copies (the ports' rx pool)
        rte_mempool* large_pool{nullptr};///< buffers for pieces bigger than `pool`'s (may be null)
        work what{work::pipelines};
        /// Every output goes back out of the port its frame came in on (the bench's rings).
        bool reflect{false};
        std::uint32_t idle_rounds{64};
        std::uint32_t idle_sleep_us{100};
        std::size_t vm_ports{0};         ///< VM port numbers counted on their own (context::per_port)
        std::size_t vsids{0};            ///< VSIDs counted on their own (context::per_vsid; 0: none)
        /// The bandwidth meters of the VM ports, shared by every worker (context::share_meters);
        /// null: ports with a maximum bandwidth pass unmetered.
        dp::port_meters* meters{nullptr};
    };

    /// A fixed policy and fixed ports (the bench).
    worker(const nvgre::policy::snapshot& policy, const dp::pipeline_config& cfg, std::span<const port> ports,
           const settings& s)
        : own_table_(std::in_place, std::vector<std::optional<port>>(ports.begin(), ports.end()), 1),
          own_tables_(&*own_table_), tables_(own_tables_), policy_(&policy), cfg_(cfg), set_(s), ctx_(s.vsids, s.vm_ports) {
        ctx_.limit_answers(10, 10);  // the router's ICMP answers: a burst of 10, then 10/s per source
        prepare();
    }
    /// The switch: the policy read through `reader` (this worker's own, made by the control
    /// plane), the ports as last published in `tables`.
    worker(nvgre::policy::live_policy::reader reader, const dp::pipeline_config& cfg,
           const std::atomic<const port_table*>& tables, const settings& s)
        : tables_(tables), reader_(std::move(reader)), cfg_(cfg), set_(s), ctx_(s.vsids, s.vm_ports) {
        ctx_.limit_answers(10, 10);
        prepare();
    }

    /// Polls every port once; returns the frames received. Called in a loop by run().
    std::size_t round() noexcept {
        adopt(tables_.load(std::memory_order_acquire));
        if (!reader_) return poll_all();
        // The policy of this round: stable until the guard ends, whatever the control plane does.
        const auto guard = reader_.read();
        policy_ = guard.get();
        const std::size_t got = poll_all();
        policy_ = nullptr;
        return got;
    }

    /// The generation of the port table this worker's rounds use: every round it ran with an
    /// older table has ended (and sent what it queued). The largest value once it has stopped.
    [[nodiscard]] std::uint64_t reached() const noexcept { return reached_.load(std::memory_order_acquire); }

    /// Rounds until `stop`; `after_round(user)` after each (the bench's recycling), and the
    /// counters published whenever `publish_request` moves.
    void run(const std::atomic<bool>& stop, const std::atomic<std::uint64_t>& publish_request,
             void (*after_round)(void*) = nullptr, void* user = nullptr) noexcept {
        std::uint32_t idle = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            const std::size_t got = round();
            if (after_round != nullptr) after_round(user);
            publish_if_asked(publish_request);
            if (got != 0) {
                idle = 0;
            } else if (++idle >= set_.idle_rounds) {
                ++counters_.idle_sleeps;
                const timespec pause{0, static_cast<long>(set_.idle_sleep_us) * 1000};
                nanosleep(&pause, nullptr);
            }
        }
        publish_if_asked(publish_request);
        // Whoever waits for this worker to leave a port table stops waiting.
        reached_.store(std::numeric_limits<std::uint64_t>::max(), std::memory_order_release);
    }

    /// The counters as of the last publication (main lcore, after publish_request moved and
    /// published() caught up) or, once the worker has returned, as they are.
    [[nodiscard]] const worker_counters& counters() const noexcept { return published_counters_; }
    [[nodiscard]] std::uint64_t published() const noexcept { return published_.load(std::memory_order_acquire); }
    /// The live counters, for the worker itself (and for anyone after it has stopped).
    [[nodiscard]] worker_counters live_counters() const {
        worker_counters c;
        snapshot_into(c);
        return c;
    }

    // ---- the replication sink (dp::replication_sink, dp::cloning_sink) ----------------------

    /// A fresh mbuf with `size` bytes behind `headroom` (the large pool when it does not fit).
    dp::frame* allocate(std::size_t size, std::size_t headroom) noexcept {
        rte_mempool* from = fits(set_.pool, size, headroom) ? set_.pool
                            : fits(set_.large_pool, size, headroom) ? set_.large_pool : nullptr;
        if (from == nullptr) return nullptr;
        sink_slot* slot = take_slot();
        if (slot == nullptr) return nullptr;
        rte_mbuf* m = rte_pktmbuf_alloc(from);
        if (m == nullptr) return release(slot);
        m->data_off = static_cast<std::uint16_t>(headroom);
        m->data_len = static_cast<std::uint16_t>(size);
        m->pkt_len = static_cast<std::uint32_t>(size);
        slot->m = m;
        slot->f = mbuf_adapter::view(*m);
        return &slot->f;
    }

    /// A headers-only clone: a new first mbuf holding a copy of `f`'s first segment, behind
    /// `headroom`; the segments after it shared (rte_pktmbuf_clone: indirect mbufs, reference
    /// counted), never copied.
    dp::frame* clone(const dp::frame& f, std::size_t headroom) noexcept {
        dp::frame* c = allocate(f.size(), headroom);
        if (c == nullptr) return nullptr;
        sink_slot& slot = slot_of(*c);
        std::memcpy(c->bytes().data(), f.bytes().data(), f.size());
        if (f.is_chained()) {
            // The chain's head is an mbuf of ours (view() made it), read-only to the library.
            auto* tail = static_cast<rte_mbuf*>(const_cast<void*>(f.tail.head()));
            rte_mbuf* shared = rte_pktmbuf_clone(tail, set_.pool);
            if (shared == nullptr) {
                discard(*c);
                return nullptr;
            }
            // (rte_pktmbuf_clone counts the segments but takes pkt_len from its argument, which
            // only a first segment keeps: the length is the segments' sum.)
            std::uint32_t chained = 0;
            for (const rte_mbuf* s = shared; s != nullptr; s = s->next) chained += s->data_len;
            slot.m->next = shared;
            slot.m->nb_segs = static_cast<std::uint16_t>(1 + shared->nb_segs);
            slot.m->pkt_len = static_cast<std::uint32_t>(f.size()) + chained;
            c->tail = nvgre::chain(shared, &walk_mbuf, f.tail.length());
        }
        return c;
    }

    void send(dp::frame& f, const dp::destination& d) noexcept {
        sink_slot& slot = slot_of(f);
        mbuf_adapter::commit(*slot.m, f);
        queue_tx(output_of(d), slot.m);
        release(&slot);
    }

    void discard(dp::frame& f) noexcept {
        sink_slot& slot = slot_of(f);
        rte_pktmbuf_free(slot.m);
        release(&slot);
    }

private:
    struct sink_slot {
        dp::frame f;
        rte_mbuf* m{nullptr};
        bool used{false};
    };
    static constexpr std::size_t sink_slots = 64;

    static bool fits(const rte_mempool* pool, std::size_t size, std::size_t headroom) noexcept {
        return pool != nullptr && headroom + size <= rte_pktmbuf_data_room_size(const_cast<rte_mempool*>(pool));
    }
    sink_slot* take_slot() noexcept {
        for (sink_slot& s : slots_)
            if (!s.used) {
                s.used = true;
                return &s;
            }
        return nullptr;
    }
    dp::frame* release(sink_slot* s) noexcept {
        s->used = false;
        s->m = nullptr;
        return nullptr;
    }
    sink_slot& slot_of(const dp::frame& f) noexcept {
        for (sink_slot& s : slots_)
            if (&s.f == &f) return s;
        __builtin_trap();  // the library hands back only frames this sink gave out
    }

    /// The port index an output goes to, or no_port.
    std::uint32_t output_of(const dp::destination& d) const noexcept {
        if (set_.reflect) return current_;
        switch (d.to) {
            case dp::destination::kind::fabric: return table_->fabric;
            case dp::destination::kind::sender: return current_;
            // A detached port's number has no slot: counted tx-no-port.
            case dp::destination::kind::vm: return d.port < table_->vm_slot.size() ? table_->vm_slot[d.port] : no_port;
        }
        return no_port;
    }

    /// Moves to port table `t` between rounds (nothing is queued then); a slot that holds
    /// another attachment than before starts its counters again.
    void adopt(const port_table* t) noexcept {
        if (t == table_) return;
        for (std::size_t i = 0; i < t->slots.size(); ++i) {
            const port* was = table_ != nullptr ? table_->at(i) : nullptr;
            const port* now = t->at(i);
            if (now != nullptr && (was == nullptr || was->attachment != now->attachment)) {
                counters_.ports[i] = {};
                // Its VM's traffic too: a port number handed to another VM starts afresh.
                if (!now->fabric && now->vm < ctx_.per_port.size()) ctx_.per_port[now->vm] = {};
            }
        }
        table_ = t;
        reached_.store(t->generation, std::memory_order_release);
    }

    std::size_t poll_all() noexcept {
        std::size_t got = 0;
        for (std::size_t i = 0; i < table_->slots.size(); ++i)
            if (table_->slots[i]) got += poll(i);
        flush_all();
        return got;
    }

    /// Receives one burst from port `i` on this worker's queue and runs it.
    std::size_t poll(std::size_t i) noexcept {
        const port& p = *table_->slots[i];
        std::array<rte_mbuf*, burst_size> pkts;
        const std::uint16_t n = rte_eth_rx_burst(p.id, set_.queue, pkts.data(), burst_size);
        if (n == 0) return 0;
        counters_.rx += n;
        counters_.ports[i].rx += n;
        current_ = static_cast<std::uint32_t>(i);
        if (set_.what == work::forward) {
            for (std::uint16_t k = 0; k < n; ++k) queue_tx(current_, pkts[k]);
            return n;
        }

        std::array<dp::frame, burst_size> frames;
        std::array<dp::outcome, burst_size> out;
        for (std::uint16_t k = 0; k < n; ++k) frames[k] = mbuf_adapter::view(*pkts[k]);
        if (set_.what == work::adapter_only) {
            for (std::uint16_t k = 0; k < n; ++k) {
                mbuf_adapter::commit(*pkts[k], frames[k]);
                queue_tx(current_, pkts[k]);
            }
            return n;
        }
        const auto burst = std::span(frames).first(n);
        const auto outcomes = std::span(out).first(n);
        if (p.fabric) {
            dp::ingress_burst(*policy_, burst, outcomes, *this, ctx_, cfg_);
        } else {
            std::array<std::uint32_t, burst_size> vm_ports;
            for (std::uint16_t k = 0; k < n; ++k)
                vm_ports[k] = p.vm_in_private_area ? static_cast<const bench_frame*>(rte_mbuf_to_priv(pkts[k]))->vm_port : p.vm;
            dp::egress_burst(*policy_, burst, std::span<const std::uint32_t>(vm_ports).first(n), outcomes, *this, ctx_, cfg_);
        }
        for (std::uint16_t k = 0; k < n; ++k) {
            const dp::outcome& o = out[k];
            // Dropped, or its copies already went through the sink (flood, multicast delivery,
            // segments): the original goes back to the pool.
            if (o.verdict == dp::verdict::drop || o.verdict == dp::verdict::flood || o.copies != 0) {
                rte_pktmbuf_free(pkts[k]);
                continue;
            }
            mbuf_adapter::commit(*pkts[k], frames[k]);
            queue_tx(output_of(o.to), pkts[k]);
        }
        return n;
    }

    void queue_tx(std::uint32_t i, rte_mbuf* m) noexcept {
        if (i == no_port) {
            ++counters_.tx_no_port;
            rte_pktmbuf_free(m);
            return;
        }
        if (!complete_in_software(*m, table_->slots[i]->tx_capa)) {
            ++counters_.ports[i].tx_dropped;
            rte_pktmbuf_free(m);
            return;
        }
        pending& q = pending_[i];
        q.mbufs[q.count++] = m;
        if (q.count == q.mbufs.size()) flush(i);
    }

    void flush(std::size_t i) noexcept {
        pending& q = pending_[i];
        if (q.count == 0) return;
        const std::uint16_t sent = rte_eth_tx_burst(table_->slots[i]->id, set_.queue, q.mbufs.data(), q.count);
        counters_.tx += sent;
        counters_.ports[i].tx += sent;
        for (std::uint16_t k = sent; k < q.count; ++k) rte_pktmbuf_free(q.mbufs[k]);
        counters_.ports[i].tx_dropped += q.count - sent;
        q.count = 0;
    }
    void flush_all() noexcept {
        for (std::size_t i = 0; i < table_->slots.size(); ++i) flush(i);
    }

    void publish_if_asked(const std::atomic<std::uint64_t>& request) noexcept {
        const std::uint64_t want = request.load(std::memory_order_acquire);
        if (want == published_.load(std::memory_order_relaxed)) return;
        snapshot_into(published_counters_);  // sized by prepare(): no allocation here
        published_.store(want, std::memory_order_release);
    }

    /// Shares the meters and sizes the published counters as the context's tables, once: a
    /// publication then copies into storage that is already there.
    void prepare() {
        ctx_.share_meters(set_.meters);
        published_counters_.per_port.resize(ctx_.per_port.size());
        published_counters_.per_vsid.reserve(set_.vsids);
    }

    /// The counters as they are now, into `c`; allocates only when `c` is smaller than the
    /// context's tables (prepare()).
    void snapshot_into(worker_counters& c) const {
        c.verdicts = ctx_.count;
        c.ports = counters_.ports;
        c.rx = counters_.rx;
        c.tx = counters_.tx;
        c.tx_no_port = counters_.tx_no_port;
        c.idle_sleeps = counters_.idle_sleeps;
        c.per_port.resize(ctx_.per_port.size());
        std::copy(ctx_.per_port.begin(), ctx_.per_port.end(), c.per_port.begin());
        c.port_other = ctx_.port_other;
        c.per_vsid.clear();
        c.per_vsid.reserve(ctx_.per_vsid.size());
        ctx_.per_vsid.for_each([&c](std::uint32_t v, const dp::traffic_counters& t) { c.per_vsid.emplace_back(v, t); });
        std::sort(c.per_vsid.begin(), c.per_vsid.end(),
                  [](const auto& x, const auto& y) { return x.first < y.first; });
        c.vsid_other = ctx_.per_vsid.other();
        c.unmetered = ctx_.unmetered;
    }

    struct pending {
        std::array<rte_mbuf*, tx_queue_depth> mbufs{};
        std::uint16_t count{0};
    };

    std::optional<port_table> own_table_;            // the bench's ports
    std::atomic<const port_table*> own_tables_{nullptr};
    const std::atomic<const port_table*>& tables_;   // where the port tables are published
    const port_table* table_{nullptr};               // this round's ports
    std::atomic<std::uint64_t> reached_{0};          // table_'s generation (reached())
    nvgre::policy::live_policy::reader reader_;      // empty for a fixed policy
    const nvgre::policy::snapshot* policy_{nullptr}; // this round's policy
    const dp::pipeline_config& cfg_;
    settings set_;
    dp::context ctx_;
    std::uint32_t current_{0};  // the port of the burst being decided (replies go back to it)
    std::array<pending, max_ports> pending_{};
    std::array<sink_slot, sink_slots> slots_{};
    worker_counters counters_{};
    worker_counters published_counters_{};
    std::atomic<std::uint64_t> published_{0};
};
static_assert(dp::cloning_sink<worker>);

}  // namespace nvgre_dpdk
