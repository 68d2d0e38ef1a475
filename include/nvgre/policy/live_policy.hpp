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
///
/// Change sets (policy/change_set.hpp, docs/policy-lifecycle.md): a live policy made with its
/// model (`live_policy(model, state)`) takes change-set text with `apply_change_set`, validated
/// whole against the model it holds: every error and nothing changed, or the new policy
/// published at once with the next generation. Lookup records and customer routes are applied
/// one by one (the common change: VMs come, go and move); a change set that touches a routing
/// domain, subnet, provider address or provider route rebuilds the host state. A lookup record
/// whose PA changes (same VSID, CA and MAC) is a migration: for `grace_window` after the change,
/// the old host forwards frames that still arrive for the VM and the new host accepts them
/// (snapshot::moved; `end_grace_windows` closes windows that are over).
#pragma once

#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/change_set.hpp"
#include "nvgre/policy/left_right.hpp"
#include "nvgre/policy/state.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace nvgre::policy {

/// What live_policy::apply_change_set did.
struct change_set_outcome {
    std::uint64_t generation{0};               ///< the generation in force afterwards
    std::vector<load_diagnostic> diagnostics;  ///< every error (then nothing changed)
    std::size_t migrations{0};                 ///< lookup records that moved to another PA
    bool rebuilt{false};                       ///< the host state was rebuilt (else changed record by record)
    [[nodiscard]] explicit operator bool() const noexcept { return diagnostics.empty(); }
};

class live_policy {
public:
    using reader = left_right<state>::reader;
    using read_guard = left_right<state>::read_guard;
    using clock = std::chrono::steady_clock;

    /// The grace window a live policy starts with (set_grace_window).
    static constexpr std::chrono::milliseconds default_grace_window{10'000};

    /// Starts from `initial` (two copies are made), e.g. `live_policy live(state::build(m, host).value())`;
    /// generation 1. Without its model, it takes changes and whole policies, not change sets.
    explicit live_policy(const state& initial) : lr_(initial) { set_generation(1); }
    /// Starts from validated model `m` and the state built from it for its host (precondition:
    /// `initial` is state::build(m, host)); generation 1. Takes change sets.
    live_policy(model m, const state& initial) : lr_(initial), model_(std::move(m)) { set_generation(1); }

    /// The generation readers see now (also snapshot::generation under a read guard).
    [[nodiscard]] std::uint64_t generation() const {
        return lr_.inspect([](const state& s) { return s.generation(); });
    }
    /// A copy of the model in force (nullopt for a live policy made without one). After
    /// change sets applied record by record, the first call validates the policy once (O(n log n)).
    [[nodiscard]] std::optional<model> current_model() const {
        const std::lock_guard lock(control_mutex_);
        materialize();
        return model_;
    }

    /// Validates change-set text (policy/change_set.hpp) against the model in force and, when
    /// it is valid, publishes the result with the next generation: readers see all of it at
    /// once. Otherwise nothing changes and every error is returned (`file_name` is what they
    /// cite). `now` starts the grace windows of the records that moved.
    change_set_outcome apply_change_set(std::string_view text, std::string_view file_name, clock::time_point now = clock::now()) {
        change_set_parse parsed = parse_change_set(text, file_name);
        change_set_outcome out = apply_change_set(parsed.changes, now, std::move(parsed.diagnostics));
        return out;
    }
    /// apply_change_set for a parsed change set (e.g. from diff()).
    change_set_outcome apply_change_set(const change_set& changes, clock::time_point now = clock::now()) {
        return apply_change_set(changes, now, {});
    }

    /// How long an old host forwards, and a new host accepts, the frames of a VM that moved
    /// (docs/policy-lifecycle.md); 0 turns the windows off. For change sets applied from now on.
    void set_grace_window(std::chrono::milliseconds window) {
        const std::lock_guard lock(control_mutex_);
        grace_window_ = window;
    }
    /// Closes the grace windows that are over at `now`; returns how many stay open. Call it
    /// now and then from the control plane (a switch does every 100 ms or so).
    std::size_t end_grace_windows(clock::time_point now = clock::now()) {
        const std::lock_guard lock(control_mutex_);
        const auto before = grace_.size();
        std::erase_if(grace_, [now](const grace_entry& g) { return g.until <= now; });
        if (grace_.size() != before) {
            const auto keys = grace_keys();
            lr_.modify([&keys](state& s) { s.set_moved(keys); });
        }
        return grace_.size();
    }
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
        const std::lock_guard lock(control_mutex_);
        state_build_result r = state::build(m, host);
        if (!r) return r.error;
        // The embedder's port numbering belongs to the host, not to one policy: carry it over.
        const auto [bindings, generation] =
            lr_.inspect([](const state& s) { return std::pair{s.port_bindings(), s.generation()}; });
        for (const auto& [id, mac] : bindings) (void)r.built->bind_port(id, mac);
        r.built->set_generation(generation + 1);
        grace_.clear();
        pending_.clear();
        lr_.assign(*r.built);
        model_ = m;
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
    struct grace_entry {
        state::grace_key key;
        clock::time_point until;
    };

    void set_generation(std::uint64_t g) {
        lr_.modify([g](state& s) noexcept { s.set_generation(g); });
    }
    std::vector<state::grace_key> grace_keys() const {
        std::vector<state::grace_key> keys;
        keys.reserve(grace_.size());
        for (const grace_entry& g : grace_) keys.push_back(g.key);
        return keys;
    }

    /// The state changes of a change set made only of lookup records and customer routes
    /// (removals first, so that what a removal frees can be taken by an addition); nullopt
    /// when it touches another kind, or a port classification: a record that names one, or
    /// one of a NIC that has one (the state's rules do not cover classifications, so such a
    /// change set takes the whole validation and a rebuilt state).
    std::optional<std::vector<change>> record_changes(const change_set& changes) const {
        std::vector<change> removals, additions;
        bool classified = false;
        lr_.inspect([&](const state& s) {
            for (const change_entry& e : changes.entries)
                if (const auto* r = std::get_if<lookup_record>(&e.value))
                    classified = classified || !r->classification.empty() || s.is_classified_nic(r->mac);
        });
        if (classified) return std::nullopt;
        for (const change_entry& e : changes.entries) {
            if (const auto* r = std::get_if<lookup_record>(&e.value)) {
                if (e.op == change_op::add) additions.emplace_back(set_record{*r});
                else removals.emplace_back(remove_record{r->subnet, r->ca, r->ca.is_unspecified() ? std::optional(r->mac) : std::nullopt});
            } else if (const auto* c = std::get_if<customer_route>(&e.value)) {
                if (e.op == change_op::add) additions.emplace_back(set_customer_route{*c});
                else removals.emplace_back(remove_customer_route{c->domain, c->prefix, c->metric});
            } else {
                return std::nullopt;
            }
        }
        removals.insert(removals.end(), std::make_move_iterator(additions.begin()), std::make_move_iterator(additions.end()));
        return removals;
    }

    /// The lookup records of `changes` that move to another PA (same VSID, CA and MAC): their
    /// grace keys, and the new PA of each.
    static std::vector<std::pair<state::grace_key, ip_address>> migrations(const model& before, const change_set& changes) {
        std::map<std::pair<std::uint32_t, ip_address>, const lookup_record*> added;
        for (const change_entry& e : changes.entries)
            if (const auto* r = std::get_if<lookup_record>(&e.value); r != nullptr && e.op == change_op::add && !r->ca.is_unspecified())
                added.emplace(std::pair{r->subnet.value(), r->ca}, r);
        std::vector<std::pair<state::grace_key, ip_address>> out;
        if (added.empty()) return out;
        for (const lookup_record& old : before.lookup_records()) {
            const auto it = added.find(std::pair{old.subnet.value(), old.ca});
            if (it == added.end()) continue;
            const lookup_record& now = *it->second;
            if (now.pa != old.pa && now.mac == old.mac) out.push_back({state::grace_key{old.subnet, old.ca, old.pa}, now.pa});
        }
        return out;
    }

    change_set_outcome apply_change_set(const change_set& changes, clock::time_point now, std::vector<load_diagnostic> errors) {
        const std::lock_guard lock(control_mutex_);
        change_set_outcome out;
        if (model_ && errors.empty() && apply_record_by_record(changes, now, out)) return out;
        materialize();
        if (!model_) {
            errors.push_back(load_diagnostic{changes.file, 0, 0, "this live policy was made without its model: it takes no change sets"});
        } else {
            load_result applied = policy::apply_change_set(*model_, changes);
            errors.insert(errors.end(), applied.diagnostics.begin(), applied.diagnostics.end());
            detail::change_sets::sort_diagnostics(errors);
            if (errors.empty()) {
                publish(changes, std::move(*applied.validated), now, out);
                return out;
            }
        }
        out.generation = lr_.inspect([](const state& s) { return s.generation(); });
        out.diagnostics = std::move(errors);
        return out;
    }

    /// Publishes `next`, the validated result of `changes` on model_: record by record when the
    /// change set allows, else a rebuilt state; the next generation and the grace windows in
    /// the same publication.
    void publish(const change_set& changes, model next, clock::time_point now, change_set_outcome& out) {
        const std::string host = lr_.inspect([](const state& s) { return std::string(s.host()); });
        // Grace windows: the moves this host takes part in (old or new PA its own).
        std::erase_if(grace_, [now](const grace_entry& g) { return g.until <= now; });
        const auto moves = migrations(*model_, changes);
        out.migrations = moves.size();
        for (const auto& move : moves) {
            const state::grace_key& key = move.first;
            std::erase_if(grace_, [&key](const grace_entry& g) { return g.key.subnet == key.subnet && g.key.ca == key.ca; });
            if (grace_window_.count() > 0 && (next.host_of_pa(key.previous_pa) == host || next.host_of_pa(move.second) == host))
                grace_.push_back(grace_entry{key, now + grace_window_});
        }
        const auto keys = grace_keys();
        const std::uint64_t generation = lr_.inspect([](const state& s) { return s.generation(); }) + 1;

        const auto incremental = record_changes(changes);
        if (!incremental) {
            state_build_result r = state::build(next, host);
            if (r) {
                const auto bindings = lr_.inspect([](const state& s) { return s.port_bindings(); });
                for (const auto& [id, mac] : bindings) (void)r.built->bind_port(id, mac);
                r.built->set_generation(generation);
                r.built->set_moved(keys);
                lr_.assign(*r.built);
                out.rebuilt = true;
            } else {
                // A valid model this host cannot index (more hosts or records than a state
                // numbers): refused whole, as an invalid change set is.
                out.generation = generation - 1;
                out.diagnostics.push_back(load_diagnostic{changes.file, 0, 0, "cannot index the result for host '" + host + "': " + to_string(*r.error)});
                return;
            }
        } else {
            const model& target = next;
            bool rebuilt = false;
            lr_.modify([&](state& s) {
                // The model-level validation passed, so each change applies; should one not
                // (two changes of one set that only fit in another order), the state is rebuilt
                // from the validated model inside the same publication, so readers still see
                // the whole change set at once. Deterministic, as left-right requires.
                for (const change& c : *incremental) {
                    if (s.apply(c) == change_status::ok) continue;
                    state_build_result r = state::build(target, host);
                    if (r) {
                        const auto bindings = s.port_bindings();
                        for (const auto& [id, mac] : bindings) (void)r.built->bind_port(id, mac);
                        s = std::move(*r.built);
                        rebuilt = true;
                    }
                    break;
                }
                s.set_generation(generation);
                s.set_moved(keys);
            });
            out.rebuilt = rebuilt;
        }
        model_ = std::move(next);
        out.generation = generation;
    }

    /// The fast path of a change set of lookup records and customer routes only: validated by
    /// the state's own rules (policy/validator.hpp, which the builder applies too) change by
    /// change on the standby copy, and undone there if one is refused — the published state
    /// is then the one before, and the caller validates the whole change set against the
    /// model for its every error. O(k) for k lines: the model catches up later (materialize).
    /// False when the change set is not for this path or was refused; `out` then untouched.
    bool apply_record_by_record(const change_set& changes, clock::time_point now, change_set_outcome& out) {
        bool lines_ok = true;
        detail::change_sets::check_lines(changes, [&lines_ok](std::size_t, const std::string&) { lines_ok = false; });
        const auto incremental = record_changes(changes);
        if (!lines_ok || !incremental) return false;

        // What the state holds for each line decides what the model would say: a route is named
        // with its VSID (the state keys routes by domain, prefix and metric), and a record that
        // keeps its MAC and changes its PA is a migration.
        bool consistent = true;
        std::vector<std::pair<state::grace_key, bool>> moves;  // (key, this host takes part)
        std::string host;
        std::uint64_t generation = 0;
        lr_.inspect([&](const state& s) {
            host = std::string(s.host());
            generation = s.generation() + 1;
            for (const change_entry& e : changes.entries) {
                if (const auto* c = std::get_if<customer_route>(&e.value)) {
                    const auto held = s.customer_route_with_identity(c->domain, c->prefix, c->metric);
                    if (held ? held->subnet != c->subnet : e.op == change_op::remove) consistent = false;
                } else if (const auto* r = std::get_if<lookup_record>(&e.value); r != nullptr && e.op == change_op::add) {
                    const auto held = s.record_with_identity(r->subnet, r->ca, r->mac);
                    if (held && held->pa != r->pa && held->mac == r->mac && !r->ca.is_unspecified())
                        moves.push_back({state::grace_key{r->subnet, r->ca, held->pa}, s.is_local_pa(held->pa) || s.is_local_pa(r->pa)});
                }
            }
        });
        if (!consistent) return false;

        auto grace = grace_;
        std::erase_if(grace, [now](const grace_entry& g) { return g.until <= now; });
        for (const auto& move : moves) {
            const state::grace_key& key = move.first;
            std::erase_if(grace, [&key](const grace_entry& g) { return g.key.subnet == key.subnet && g.key.ca == key.ca; });
            if (move.second && grace_window_.count() > 0) grace.push_back(grace_entry{key, now + grace_window_});
        }
        std::vector<state::grace_key> keys;
        keys.reserve(grace.size());
        for (const grace_entry& g : grace) keys.push_back(g.key);

        bool refused = false;
        lr_.modify([&](state& s) {
            // Deterministic, as left-right requires: both copies refuse the same change and
            // undo the same ones.
            std::vector<change> undo;
            undo.reserve(incremental->size());
            for (const change& c : *incremental) {
                change inverse = inverse_of(s, c);
                if (s.apply(c) != change_status::ok) {
                    refused = true;
                    break;
                }
                undo.push_back(std::move(inverse));
            }
            if (refused) {
                for (auto it = undo.rbegin(); it != undo.rend(); ++it) (void)s.apply(*it);
                return;
            }
            s.set_generation(generation);
            s.set_moved(keys);
        });
        if (refused) return false;
        grace_ = std::move(grace);
        change_set pending = changes;
        for (change_entry& e : pending.entries) e.where.reset();  // its text is gone after this call
        pending_.push_back(std::move(pending));
        out.generation = generation;
        out.migrations = moves.size();
        return true;
    }

    /// The change that undoes `c` on `s` (computed before `c` is applied).
    static change inverse_of(const state& s, const change& c) {
        const auto record = [&s](nvgre::vsid subnet, const ip_address& ca, const mac_address& mac) -> change {
            if (auto held = s.record_with_identity(subnet, ca, mac)) return set_record{std::move(*held)};
            return remove_record{subnet, ca, ca.is_unspecified() ? std::optional(mac) : std::nullopt};
        };
        const auto route = [&s](const rdid& domain, const ip_prefix& prefix, std::uint32_t metric) -> change {
            if (auto held = s.customer_route_with_identity(domain, prefix, metric)) return set_customer_route{*held};
            return remove_customer_route{domain, prefix, metric};
        };
        if (const auto* x = std::get_if<set_record>(&c)) return record(x->record.subnet, x->record.ca, x->record.mac);
        if (const auto* x = std::get_if<remove_record>(&c)) return record(x->subnet, x->ca, x->mac.value_or(mac_address{}));
        if (const auto* x = std::get_if<set_customer_route>(&c)) return route(x->route.domain, x->route.prefix, x->route.metric);
        const auto& x = std::get<remove_customer_route>(c);
        return route(x.domain, x.prefix, x.metric);
    }

    /// Brings model_ up to the change sets applied record by record since it was last made.
    void materialize() const {
        if (pending_.empty() || !model_) return;
        load_result r = apply_validated_change_sets(*model_, pending_);
        pending_.clear();
        // The state accepted each of them by the validator's rules, so the result validates;
        // were it not to, the model stays as it was rather than become one the state is not.
        if (r) model_ = std::move(*r.validated);
    }

    left_right<state> lr_;
    mutable std::mutex control_mutex_;  // apply_change_set, replace, end_grace_windows: model_, pending_ and grace_
    mutable std::optional<model> model_;
    mutable std::vector<change_set> pending_;  // applied record by record, not yet in model_
    std::vector<grace_entry> grace_;
    std::chrono::milliseconds grace_window_{default_grace_window};
};

}  // namespace nvgre::policy
