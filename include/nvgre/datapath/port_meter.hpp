/// @file datapath/port_meter.hpp
/// @brief The maximum bandwidth of a port classification: one token bucket per VM port and
/// direction, shared by every datapath thread that serves the port (docs/hnv-rules.md "Ports,
/// classifications and DHCP").
///
/// A bucket holds `burst_bytes` and refills at `rate_bps / 8` bytes a second. It starts full;
/// a frame passes when the bucket holds at least its bytes (as the VM sent it, or as it is
/// delivered, without FCS), and only a frame that passes costs anything: a frame dropped for
/// any reason is never charged.
///
/// Each bucket is one 64-bit word, its "theoretical arrival time" (the GCRA form of a token
/// bucket, ITU-T I.371): the time at which the bucket would be full again. A frame of `b`
/// bytes at time `now` conforms when max(tat, now) + b·8/rate − now ≤ burst·8/rate, and
/// charging it moves tat there with a compare-and-swap, so threads need no lock and a bucket
/// costs one cache line. A pipeline checks a frame before it acts and charges it after the
/// frame went (conforms, then charge); two threads that check the same bucket at once may
/// both pass, so the cap can be exceeded by one frame per concurrent thread, never more.
///
/// Buckets are found by the embedder's port number (policy::state::bind_port), so they outlive
/// policy changes: a new snapshot, a migration or a changed classification keep the VM's bucket.
/// The per-packet calls never allocate, never lock and never throw.
#pragma once

#include "nvgre/policy/snapshot.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace nvgre::datapath {

/// Which bucket of a port: frames the VM sends (egress) or frames delivered to it.
enum class meter_direction : std::uint8_t { from_vm = 0, to_vm = 1 };

/// The token buckets of ports 0..size()-1, both directions. Share one among the contexts of
/// every thread that serves the same ports (context::share_meters).
class port_meters {
public:
    /// Buckets for ports 0..`ports`-1 (the embedder's port numbers). Allocates, once.
    explicit port_meters(std::size_t ports) : size_(ports), tat_(std::make_unique<slot[]>(ports * 2)) {}

    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    /// True if a frame of `bytes` may pass port `port`'s bucket of direction `d` at `now_ns`
    /// under `settings` (which must be metered()); charges nothing. Ports past size() are
    /// never limited (the caller counts them: context::unmetered).
    [[nodiscard]] bool conforms(std::uint32_t port, meter_direction d, std::size_t bytes, const policy::port_settings& settings,
                                std::uint64_t now_ns) const noexcept {
        if (port >= size_) return true;
        const std::uint64_t tat = at(port, d).load(std::memory_order_relaxed);
        return std::max(tat, now_ns) + cost_of(bytes, settings) - now_ns <= settings.burst_ns;
    }

    /// Takes `bytes` from the bucket (a frame that conformed and went).
    void charge(std::uint32_t port, meter_direction d, std::size_t bytes, const policy::port_settings& settings,
                std::uint64_t now_ns) noexcept {
        if (port >= size_) return;
        std::atomic<std::uint64_t>& tat = at(port, d);
        const std::uint64_t cost = cost_of(bytes, settings);
        std::uint64_t old = tat.load(std::memory_order_relaxed);
        while (!tat.compare_exchange_weak(old, std::max(old, now_ns) + cost, std::memory_order_relaxed)) {
        }
    }

    /// Starts loading the cache line of port `port`'s bucket of direction `d` (a burst does it
    /// for every frame before deciding any). No effect on the buckets.
    void prefetch(std::uint32_t port, meter_direction d) const noexcept {
        if (port < size_) __builtin_prefetch(&at(port, d), 1);
    }

    /// Fills port `port`'s buckets (a port number handed to another VM starts afresh).
    void reset(std::uint32_t port) noexcept {
        if (port >= size_) return;
        at(port, meter_direction::from_vm).store(0, std::memory_order_relaxed);
        at(port, meter_direction::to_vm).store(0, std::memory_order_relaxed);
    }

    /// Nanoseconds that a frame of `bytes` takes at the settings' rate: a multiplication by the
    /// rate's precomputed time per byte (policy::port_settings), rounded down.
    [[nodiscard]] static constexpr std::uint64_t cost_of(std::uint64_t bytes, const policy::port_settings& settings) noexcept {
        return bytes * settings.ns_per_byte_q24 >> policy::port_settings::ns_fraction_bits;
    }

    /// Nanoseconds that `bytes` take at `rate_bps` (rounded down; 0 for rate 0).
    [[nodiscard]] static constexpr std::uint64_t cost_ns(std::uint64_t bytes, std::uint64_t rate_bps) noexcept {
        if (rate_bps == 0) return 0;
        // bytes * 8e9 overflows 64 bits past 2 GB; 128 bits hold any byte count times 8e9.
        __extension__ typedef unsigned __int128 wide;
        return static_cast<std::uint64_t>(static_cast<wide>(bytes) * 8'000'000'000ull / rate_bps);
    }

private:
    // One bucket per cache line: threads serving different ports never share a line.
    struct alignas(64) slot {
        std::atomic<std::uint64_t> tat{0};
    };
    [[nodiscard]] std::atomic<std::uint64_t>& at(std::uint32_t port, meter_direction d) const noexcept {
        return tat_[std::size_t{port} * 2 + static_cast<std::size_t>(d)].tat;
    }

    std::size_t size_;
    std::unique_ptr<slot[]> tat_;
};

}  // namespace nvgre::datapath
