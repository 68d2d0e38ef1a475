/// @file policy/left_right.hpp
/// @brief Left-right publication of policy state to running datapath readers: wait-free reads,
/// changes that become visible all at once, no freed memory ever read.
///
/// The technique is Ramalhete & Correia, "Left-Right: A Concurrency Control Technique with
/// Wait-Free Population Oblivious Reads" (2015). Two instances of the state exist. Readers read
/// the *active* one; the writer applies a change to the *standby* one, publishes it (flips the
/// active index), waits until no reader can still be reading the old instance, then applies the
/// same change to that one too. Readers never block, never wait on the writer, never allocate;
/// the writer may wait (for at most one read section per reader that overlaps the flip).
///
/// Because each change is applied twice, to two identical copies, **a change function must be
/// deterministic**: its effect may depend only on the state it is given and on values it captured
/// and does not consume. In particular it must not move out of its captures (the second
/// application would see moved-from values), draw random numbers, read clocks or the other
/// instance. It must not throw: a change half-applied to one copy cannot be undone, so an
/// exception escaping it terminates the program (and the library builds with -fno-exceptions).
///
/// Usage, per datapath thread:
/// @code
///   auto r = lr.make_reader();              // once, at thread start (control-plane call)
///   for (;;) {                              // per burst of ~32 packets
///       auto g = r.read();                  // wait-free: two loads, one exchange
///       const policy_state& s = *g;         // stable until g is destroyed
///       ... look up all packets of the burst in s ...
///   }                                       // g's destructor: one release store
/// @endcode
/// and on the control plane: `lr.modify([&](policy_state& s) { apply(s, batch); });`.
///
/// Throughput: a publication waits for the read sections in progress when it flips (at most
/// one burst per reader), so the cost of a change is about one reader burst however small the
/// change. Batch changes: a batch of N record changes is published, and waited for, once.
///
/// Reader indicator: each reader owns a slot on its own 64-byte cache line holding either
/// `idle` or the *version index* (0/1) that it observed when it arrived. Readers never write
/// shared lines, so they do not contend with each other; the writer scans the slots. Readers
/// register and deregister (a mutex, possibly an allocation: control plane only) concurrently
/// with the writer; slots live in chunks that are never freed before the left_right itself.
#pragma once

#include <array>
#include <atomic>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>

namespace nvgre::policy {

namespace detail {

/// One iteration of a busy-wait: tells the CPU we spin (saves power, frees the sibling
/// hyperthread, avoids the memory-order machine clear on loop exit).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/// The size the reader slots and the reader-hot fields are aligned to, so that no two
/// independently written words share a cache line. A constant rather than
/// std::hardware_destructive_interference_size, whose value GCC warns may change between
/// compiler versions (an ABI hazard in a header-only library).
inline constexpr std::size_t cache_line_size = 64;

}  // namespace detail

/// Two copies of a `T`, published to readers with the left-right protocol. See the file comment.
///
/// Requirements on T: destructible; move-assignable for `replace`; copy-constructible for the
/// single-value constructor; copy-assignable for `assign`.
///
/// Lifetime: a left_right must outlive every reader made from it (and every guard); it is
/// neither copyable nor movable, because readers point at it.
template <class T>
class left_right {
    static constexpr std::uint32_t idle = 2;  ///< slot value: not inside a read section
    static constexpr std::size_t slots_per_chunk = 16;

    /// A reader's indicator: `idle`, or the version index (0/1) the reader arrived on. `state`
    /// is written only by its reader and read by the writer; a free slot is always `idle`.
    struct alignas(detail::cache_line_size) slot {
        std::atomic<std::uint32_t> state{idle};
        bool in_use{false};  ///< guarded by registry_mutex_; never read by the writer's scan
    };

    /// Slots are handed out from chunks that never move and are freed only by ~left_right, so
    /// the writer's scan may run while readers register. `used` is the high-water mark of
    /// slots handed out in this chunk; `next` links a further chunk. Both only grow.
    struct chunk {
        std::array<slot, slots_per_chunk> slots{};
        alignas(detail::cache_line_size) std::atomic<std::uint32_t> used{0};
        std::atomic<chunk*> next{nullptr};
    };

public:
    using value_type = T;

    /// Counters of the writer side. All are totals since construction.
    struct statistics {
        std::uint64_t modifications{0};  ///< completed modify() calls
        std::uint64_t replacements{0};   ///< completed replace()/assign() calls
        std::uint64_t waits{0};          ///< publications that found a reader to wait for
        std::chrono::nanoseconds wait_time{0};      ///< time spent waiting for readers to drain
        std::chrono::nanoseconds max_wait_time{0};  ///< the longest single drain
    };

    class reader;

    /// A read section: the state seen through it is stable (never modified, never freed) until
    /// the guard is destroyed. Not copyable or movable: it lives in the scope that reads.
    /// Hold it for a whole burst; a guard held for long delays (never blocks) the writer.
    class [[nodiscard]] read_guard {
    public:
        read_guard(const read_guard&) = delete;
        read_guard& operator=(const read_guard&) = delete;
        /// Leaves the read section: one release store to the reader's own slot.
        ~read_guard() {
            // Release: every read of the state in this section happens before any writer load
            // (seq_cst, so acquire) that reads this store or a later value of the slot — a
            // later value is our next arrival, an RMW, which continues this release sequence —
            // hence before the writer modifies the instance this section read.
            slot_->state.store(idle, std::memory_order_release);
        }
        [[nodiscard]] const T& operator*() const noexcept { return *state_; }
        [[nodiscard]] const T* operator->() const noexcept { return state_; }
        [[nodiscard]] const T* get() const noexcept { return state_; }

    private:
        friend class reader;
        read_guard(const T* state, slot* s) noexcept : state_(state), slot_(s) {}
        const T* state_;
        slot* slot_;
    };

    /// One per datapath thread: the handle through which that thread reads. Movable (e.g. into
    /// the thread); a moved-from reader holds no slot and may only be destroyed or assigned.
    /// Deregisters in its destructor. Not thread-safe: one thread uses a reader at a time.
    class reader {
    public:
        reader() noexcept = default;  ///< an empty reader, holding no slot
        reader(reader&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), slot_(std::exchange(o.slot_, nullptr)) {}
        reader& operator=(reader&& o) noexcept {
            if (this != &o) {
                release();
                owner_ = std::exchange(o.owner_, nullptr);
                slot_ = std::exchange(o.slot_, nullptr);
            }
            return *this;
        }
        reader(const reader&) = delete;
        reader& operator=(const reader&) = delete;
        /// Deregisters: takes the registry mutex for a moment (it is never held by a writer
        /// that waits for readers). Precondition: no guard of this reader is alive.
        ~reader() { release(); }

        /// Whether this reader holds a slot (false when default-constructed or moved from).
        [[nodiscard]] bool valid() const noexcept { return slot_ != nullptr; }
        explicit operator bool() const noexcept { return valid(); }

        /// Enters a read section. Wait-free, no allocation: a relaxed load of the version
        /// index, a seq_cst exchange on the reader's own cache line, a seq_cst load of the
        /// active index. Preconditions: valid(); no other guard of this reader alive (nested
        /// guards would end the section at the inner guard's destruction; asserted in debug).
        [[nodiscard]] read_guard read() noexcept {
            assert(slot_ != nullptr && "read() on an empty (moved-from) reader");
            // Relaxed: the version index only steers which indicator value the writer drains
            // first (writer progress); safety rests on the slot/active-index ordering below.
            const auto vi = owner_->version_index_.load(std::memory_order_relaxed);
            // seq_cst store-load ordering (Dekker): the writer stores the active index then
            // loads our slot; we store our slot then load the active index. In the single
            // total order either the writer sees us (and waits) or we see its new index. An
            // exchange rather than a store: one locked instruction on x86 (no separate fence).
            [[maybe_unused]] const auto previous = slot_->state.exchange(vi, std::memory_order_seq_cst);
            assert(previous == idle && "nested read guards on one reader");
            const auto active = owner_->active_index_.load(std::memory_order_seq_cst);
            return read_guard(&owner_->instances_[active].value, slot_);
        }

    private:
        friend class left_right;
        reader(left_right* owner, slot* s) noexcept : owner_(owner), slot_(s) {}
        void release() noexcept {
            if (slot_ != nullptr) {
                assert(slot_->state.load(std::memory_order_relaxed) == idle && "reader destroyed inside a read section");
                owner_->deregister(slot_);
                owner_ = nullptr;
                slot_ = nullptr;
            }
        }
        left_right* owner_{nullptr};
        slot* slot_{nullptr};
    };

    /// Two copies of `initial`. Allocates only what T's copy constructor allocates.
    explicit left_right(const T& initial) : instances_{{{initial}, {initial}}} {}
    /// From two values that must be equal (for T that is not copyable). Precondition: a == b
    /// in every observable respect.
    left_right(T&& a, T&& b) : instances_{{{std::move(a)}, {std::move(b)}}} {}

    left_right(const left_right&) = delete;
    left_right& operator=(const left_right&) = delete;

    /// Precondition: every reader made from this object has been destroyed.
    ~left_right() {
        assert(reader_count() == 0 && "left_right destroyed while readers are registered");
        chunk* c = first_chunk_.next.load(std::memory_order_relaxed);
        while (c != nullptr) {
            chunk* next = c->next.load(std::memory_order_relaxed);
            delete c;
            c = next;
        }
    }

    /// Registers a reader. Control plane: takes a mutex (never held by a waiting writer) and
    /// may allocate a chunk of slots. Safe to call while a writer runs.
    [[nodiscard]] reader make_reader() {
        std::scoped_lock lock(registry_mutex_);
        for (chunk* c = &first_chunk_;; c = c->next.load(std::memory_order_relaxed)) {
            const auto used = c->used.load(std::memory_order_relaxed);
            for (std::uint32_t i = 0; i < used; ++i) {
                if (!c->slots[i].in_use) return claim(&c->slots[i]);
            }
            if (used < slots_per_chunk) {
                // seq_cst publication, paired with the writer's seq_cst load of `used`: if the
                // writer's scan misses this slot, the publication follows that load in the total
                // order, so this reader's first arrival follows the writer's index flip and it
                // reads the new instance.
                c->used.store(used + 1, std::memory_order_seq_cst);
                return claim(&c->slots[used]);
            }
            if (c->next.load(std::memory_order_relaxed) == nullptr) {
                // Same argument as for `used`, for a whole new chunk.
                c->next.store(new chunk, std::memory_order_seq_cst);
            }
        }
    }

    /// Number of registered readers. Complexity O(1).
    [[nodiscard]] std::size_t reader_count() const noexcept { return readers_.load(std::memory_order_relaxed); }

    /// Applies `f(T&)` to the standby copy, publishes it, waits until no reader reads the old
    /// copy, applies `f` to that copy too, and returns the first application's result (by
    /// value: a reference into the state must not escape). Writers are serialised by a mutex.
    /// Readers see either none or all of the change. Preconditions: f is deterministic and
    /// does not throw (see the file comment); f does not call back into this left_right;
    /// the calling thread holds no read guard of this object (it would wait for itself).
    /// Cost: two applications of f, two scans of the reader slots, plus the wait for readers
    /// whose read section overlaps the publication.
    template <class F>
    decltype(auto) modify(F&& f) {
        return change(f, modifications_);
    }

    /// Replaces the whole state: `make_new()` is called twice, once per copy, and each result
    /// is move-assigned into a copy (standby first, then — after publication and drain — the
    /// old one). Precondition: both calls return equal values (e.g. two builds from one
    /// validated policy model); make_new does not throw. Writers are serialised.
    template <class F>
    void replace(F&& make_new) {
        static_assert(std::is_invocable_v<F&>, "left_right::replace: make_new() must be callable with no arguments");
        auto assign_new = [&make_new](T& s) { s = std::invoke(make_new); };
        change(assign_new, replacements_);
    }

    /// Replaces the whole state by copies of `value` (copy-assigned to each copy in turn).
    void assign(const T& value) {
        auto copy = [&value](T& s) { s = value; };
        change(copy, replacements_);
    }

    /// Runs `f(const T&)` on the current state under the writer mutex (no change can run
    /// meanwhile) and returns its result. Control plane: for reading before deciding a change.
    template <class F>
    decltype(auto) inspect(F&& f) const {
        static_assert(!std::is_reference_v<std::invoke_result_t<F&&, const T&>>,
                      "left_right::inspect: f must not return a reference into the state (the lock ends on return)");
        std::scoped_lock lock(writer_mutex_);
        return std::invoke(std::forward<F>(f), std::as_const(instances_[active_index_.load(std::memory_order_relaxed)].value));
    }

    /// Writer-side counters. May be called from any thread; the fields are each exact, but
    /// not a consistent snapshot of one another while a writer runs.
    [[nodiscard]] statistics stats() const noexcept {
        statistics s;
        s.modifications = modifications_.load(std::memory_order_relaxed);
        s.replacements = replacements_.load(std::memory_order_relaxed);
        s.waits = waits_.load(std::memory_order_relaxed);
        s.wait_time = std::chrono::nanoseconds(wait_ns_.load(std::memory_order_relaxed));
        s.max_wait_time = std::chrono::nanoseconds(max_wait_ns_.load(std::memory_order_relaxed));
        return s;
    }

private:
    // Calls f through a noexcept frame: an exception escaping a change terminates instead of
    // leaving the two copies different.
    template <class F>
    static decltype(auto) apply(F& f, T& s) noexcept {
        return std::invoke(f, s);
    }

    template <class F>
    decltype(auto) change(F& f, std::atomic<std::uint64_t>& counter) {
        using R = std::invoke_result_t<F&, T&>;
        static_assert(!std::is_reference_v<R>,
                      "left_right::modify: the change function must not return a reference into the state");
        std::scoped_lock lock(writer_mutex_);
        const auto active = active_index_.load(std::memory_order_relaxed);  // only writers store it
        T& standby = instances_[active ^ 1U].value;
        T& old = instances_[active].value;
        if constexpr (std::is_void_v<R>) {
            apply(f, standby);
            publish_and_drain(active);
            apply(f, old);
            counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        } else {
            R result = apply(f, standby);
            publish_and_drain(active);
            static_cast<void>(apply(f, old));
            counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            return result;
        }
    }

    // The left-right writer protocol (paper, Algorithm 2), with the two read indicators
    // replaced by per-reader slots holding the version index the reader arrived on.
    //
    // Why readers of the old instance are all gone when this returns: a reader that loads the
    // old active index did so before our seq_cst flip in the total order S, and its seq_cst
    // arrival (slot = 0 or 1) precedes that load, so both scans below, which follow the flip in
    // S, read its arrival or its later departure. We wait for slots equal to `next` (scan 1),
    // then for slots equal to `current` (scan 2): every value a pre-flip reader can hold, so
    // we return only after each such reader departed (its release store, read by our seq_cst
    // = acquire load, orders all its reads before our next change). A reader arriving after
    // the flip reads the new instance, whatever it stored. Two scans with the version toggle
    // between them make the writer starvation-free: after the toggle new arrivals store
    // `next`, so the slots equal to `current` drain for good.
    void publish_and_drain(std::uint32_t active) noexcept {
        active_index_.store(active ^ 1U, std::memory_order_seq_cst);  // publish the standby copy
        const auto current = version_index_.load(std::memory_order_relaxed);  // only we write it
        const auto next = current ^ 1U;
        drain_stamp stamp;
        wait_while_any(next, stamp);
        // seq_cst: ordered after scan 1's loads (so scan 1 was not defeated by arrivals on
        // `next`) and before scan 2's loads (so scan 2 does not chase arrivals on `current`).
        version_index_.store(next, std::memory_order_seq_cst);
        wait_while_any(current, stamp);
        if (stamp.waited) {
            const auto ns = static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - stamp.start).count());
            waits_.store(waits_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            wait_ns_.store(wait_ns_.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
            if (ns > max_wait_ns_.load(std::memory_order_relaxed)) max_wait_ns_.store(ns, std::memory_order_relaxed);
        }
    }

    struct drain_stamp {
        bool waited{false};
        std::chrono::steady_clock::time_point start{};
    };

    // Waits until no registered slot holds `value`. The clock is read only when a reader is
    // actually found inside, so an uncontended publication costs the scan alone.
    void wait_while_any(std::uint32_t value, drain_stamp& stamp) noexcept {
        for (const chunk* c = &first_chunk_; c != nullptr; c = c->next.load(std::memory_order_seq_cst)) {
            const auto used = c->used.load(std::memory_order_seq_cst);
            for (std::uint32_t i = 0; i < used; ++i) {
                const auto& state = c->slots[i].state;
                // seq_cst: the load half of the store-load (Dekker) pairing with read().
                if (state.load(std::memory_order_seq_cst) != value) [[likely]] continue;
                if (!stamp.waited) {
                    stamp.waited = true;
                    stamp.start = std::chrono::steady_clock::now();
                }
                for (unsigned spins = 0; state.load(std::memory_order_seq_cst) == value; ++spins) {
                    // A burst takes about a microsecond: spin that long, then give the core
                    // away (the reader may be waiting for it on a loaded machine).
                    if (spins < 256) detail::cpu_relax();
                    else std::this_thread::yield();
                }
            }
        }
    }

    reader claim(slot* s) noexcept {
        s->in_use = true;
        readers_.fetch_add(1, std::memory_order_relaxed);
        return reader(this, s);
    }

    void deregister(slot* s) noexcept {
        std::scoped_lock lock(registry_mutex_);
        s->in_use = false;
        readers_.fetch_sub(1, std::memory_order_relaxed);
    }

    struct alignas(detail::cache_line_size) instance {
        T value;
    };

    // Read by every reader on every read(): alone on their cache line, written once per change.
    alignas(detail::cache_line_size) std::atomic<std::uint32_t> active_index_{0};
    std::atomic<std::uint32_t> version_index_{0};
    // Each copy on its own line(s), so writing the standby never invalidates the active one.
    std::array<instance, 2> instances_;
    chunk first_chunk_{};

    // Control plane only.
    alignas(detail::cache_line_size) mutable std::mutex writer_mutex_;
    std::mutex registry_mutex_;
    std::atomic<std::size_t> readers_{0};
    std::atomic<std::uint64_t> modifications_{0};
    std::atomic<std::uint64_t> replacements_{0};
    std::atomic<std::uint64_t> waits_{0};
    std::atomic<std::uint64_t> wait_ns_{0};
    std::atomic<std::uint64_t> max_wait_ns_{0};
};

}  // namespace nvgre::policy
