/// @file policy/live_policy.hpp
/// @brief A policy that changes while datapath threads read it: readers never block, never see
/// a half-applied change, never touch freed memory.
///
/// Reader protocol (what an embedder's datapath thread does):
/// ```
/// auto reader = live.make_reader();          // once per thread (control plane: may allocate)
/// for (;;) {
///     auto burst = rx(...);                  // receive up to 32 frames
///     auto guard = reader.read();            // enter: wait-free, two atomic ops on the reader's own cache line
///     const policy::state& s = *guard;       // stable until the guard ends
///     for (auto& frame : burst) process(s, frame);
/// }                                          // guard destroyed: leave (one release store)
/// ```
/// Hold a guard for one burst, not longer: the writer waits (readers never do) until every
/// reader that entered before a change has left. Pointers and references obtained from the
/// state must not be kept past the guard.
///
/// Writer side: `apply` validates and applies changes (records and customer routes) in
/// batches; a batch becomes visible to readers all at once. `replace` installs a whole new
/// validated policy. Writers are serialised; each change is applied to both copies of the
/// left-right pair (policy/left_right.hpp), so a batch of n changes costs about 2n single
/// applications plus one wait for the readers of the old copy.
#pragma once

#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/left_right.hpp"
#include "nvgre/policy/state.hpp"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace nvgre::policy {

class live_policy {
public:
    using reader = left_right<state>::reader;
    using read_guard = left_right<state>::read_guard;

    /// Starts from `initial` (two copies are made), e.g. `live_policy live(state::build(m, host).value())`.
    explicit live_policy(const state& initial) : lr_(initial) {}
    /// Registers a datapath thread (control plane).
    [[nodiscard]] reader make_reader() { return lr_.make_reader(); }

    /// Applies `changes` in order as one batch: each is validated against the state left by
    /// the ones before it and applied, or refused (its status says why) and skipped. Readers
    /// see the whole batch at once. `status`, when not empty, receives one status per change
    /// (precondition: same size). Returns the number of changes applied.
    std::size_t apply(std::span<const change> changes, std::span<change_status> status = {}) {
        return lr_.modify([changes, status](state& s) noexcept {
            // Prefetching ahead overlaps the cache misses of the changes (at 1M records every
            // probe misses) with the application of the ones before, in two stages: the index
            // slots `lookahead` changes ahead, then, `lookahead / 2` ahead, what those slots
            // point at (the record replaced, its other slots).
            constexpr std::size_t lookahead = 16;
            constexpr std::size_t second = lookahead / 2;
            for (std::size_t i = 0; i < std::min(lookahead, changes.size()); ++i) s.prefetch(changes[i]);
            for (std::size_t i = 0; i < std::min(second, changes.size()); ++i) s.prefetch_replaced(changes[i]);
            std::size_t applied = 0;
            for (std::size_t i = 0; i < changes.size(); ++i) {
                if (i + lookahead < changes.size()) s.prefetch(changes[i + lookahead]);
                if (i + second < changes.size()) s.prefetch_replaced(changes[i + second]);
                const change_status st = s.apply(changes[i]);
                if (st == change_status::ok) ++applied;
                if (!status.empty()) status[i] = st;
            }
            return applied;
        });
    }
    /// One change; its status.
    change_status apply(const change& c) {
        change_status st = change_status::ok;
        apply(std::span<const change>(&c, 1), std::span<change_status>(&st, 1));
        return st;
    }

    /// Installs a whole new policy: validated model `m` for host `host`. Readers see the old
    /// policy or the new one, never a mix. When the state cannot be built (state::build), the
    /// policy stays as it was and the error is returned.
    std::optional<state_build_error> replace(const model& m, std::string_view host) {
        state_build_result r = state::build(m, host);
        if (!r) return r.error;
        // The embedder's port numbering belongs to the host, not to one policy: carry it over.
        const auto bindings = lr_.inspect([](const state& s) { return s.port_bindings(); });
        for (const auto& [id, mac] : bindings) (void)r.built->bind_port(id, mac);
        lr_.assign(*r.built);
        return std::nullopt;
    }

    /// Numbers the VM port of the NIC with `mac` as the embedder's port `id` in both copies
    /// (state::bind_port, whose error it returns: errc::bad_value when `id` >
    /// state::max_port_id); readers see it from their next read on.
    result<void> bind_port(std::uint32_t id, const mac_address& mac) {
        return lr_.modify([id, &mac](state& s) { return s.bind_port(id, mac); });
    }
    /// Removes the binding of port `id`.
    void unbind_port(std::uint32_t id) {
        lr_.modify([id](state& s) noexcept { s.unbind_port(id); });
    }

    /// Runs f(const state&) on the current state, serialised with writers (control plane).
    template <class F>
    decltype(auto) inspect(F&& f) const {
        return lr_.inspect(std::forward<F>(f));
    }

    /// The writer-side counters of the left-right pair.
    [[nodiscard]] left_right<state>::statistics stats() const noexcept { return lr_.stats(); }

private:
    left_right<state> lr_;
};

}  // namespace nvgre::policy
