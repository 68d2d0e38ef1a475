/// @file examples/nvgre-ovsdb/agent.hpp
/// @brief The host agent: keeps one host's policy in step with an OVSDB store of
/// nvgre.ovsschema (docs/distribution.md).
///
/// It holds a monitor (`monitor_cond_since`) on one member of the store at a time, for the
/// rows its host receives (host_view.hpp); widens or narrows that condition
/// (`monitor_cond_change`) as the rows it receives call for; and hands what changed to its
/// sink as change-set text (docs/policy-lifecycle.md), which the sink applies whole or not at
/// all (a live_policy's `apply_change_set`, or a model).
///
/// States: `connecting` (never synced yet), `syncing` (connected; the condition has not
/// settled, nothing is applied), `live` (in step with the member it monitors), `degraded`
/// (forwarding with the last good policy: the member was lost and no other has answered yet,
/// or an update was refused and is held back until a later one makes it valid).
///
/// Failure behaviour:
///  - a lost member: the next one in the list is tried (a clustered member must say it is
///    connected to its cluster and must not be behind what was seen before); the monitor is
///    resumed from the last transaction id, so only what changed meanwhile is sent;
///  - a row that cannot be policy text (a value the text format cannot hold) is reported and
///    left out; the row's last good value stays applied;
///  - a change set the sink refuses (invalid as policy: a record whose PA is missing, a CA
///    twice, ...) is reported with the sink's diagnostics and skipped: the host stays on its
///    last good generation, and the refused objects are retried after every later update
///    that applies, so the host converges once the store is valid again.
///
/// The agent is the control plane of one host: it allocates, and its calls block on the
/// socket (with deadlines). It is not thread-safe; run it in a thread of its own (`run`).
#pragma once

#include "host_view.hpp"
#include "jsonrpc.hpp"
#include "table_rows.hpp"

#include <nvgre/policy/change_set.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace nvgre::ovsdb {

enum class agent_state { connecting, syncing, live, degraded };

[[nodiscard]] inline std::string_view to_string(agent_state s) {
    switch (s) {
        case agent_state::connecting: return "connecting";
        case agent_state::syncing: return "syncing";
        case agent_state::live: return "live";
        case agent_state::degraded: return "degraded";
    }
    return "?";
}

/// What a sink says about one change set.
struct sink_result {
    bool ok{false};
    std::uint64_t generation{0};
    std::vector<std::string> errors;  ///< FILE:LINE:COL: error: TEXT, when refused
};

struct agent_options {
    std::vector<remote> remotes;
    std::string host;
    std::string database{"NVGRE"};
    std::size_t first_remote{0};  ///< which member to try first (spreads hosts over members)
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds call_timeout{30000};
    std::chrono::milliseconds retry_delay{100};  ///< after a member fails; doubles up to 1 s while none answers
    /// After losing its member, an agent waits a random time below this before it connects to
    /// another: when a member dies, all its hosts reconnect at once, and a burst of connections
    /// larger than the survivors' listen backlog loses SYNs (each lost one costs a second or more).
    std::chrono::milliseconds reconnect_spread{500};
};

struct agent_counters {
    std::uint64_t connects{0};         ///< monitors established
    std::uint64_t resumed{0};          ///< of those, resumed from the last transaction id
    std::uint64_t full_resyncs{0};     ///< of those, sent whole again after a first sync (history not found)
    std::uint64_t updates{0};          ///< update notifications received
    std::uint64_t condition_changes{0};
    std::uint64_t applied{0};          ///< change sets the sink took
    std::uint64_t refused{0};          ///< change sets the sink refused (skipped)
    std::uint64_t bad_rows{0};         ///< rows that could not be policy text
    std::uint64_t bad_messages{0};     ///< notifications that were not table updates
};

class agent {
public:
    using sink = std::function<sink_result(const std::string& change_set_text, const std::string& name)>;
    using logger = std::function<void(const std::string& line)>;
    /// Called after the sink took a change set: its lines, and when.
    using applied_hook = std::function<void(const std::vector<std::string>& lines, steady::time_point at)>;

    agent(agent_options options, sink apply, logger log = {}) : opt_(std::move(options)), sink_(std::move(apply)), log_(std::move(log)) {
        cond_.host = opt_.host;
        next_remote_ = opt_.remotes.empty() ? 0 : opt_.first_remote % opt_.remotes.size();
        random_.seed(static_cast<std::uint_fast32_t>(std::hash<std::string>{}(opt_.host) ^
                                                     static_cast<std::size_t>(steady::now().time_since_epoch().count())));
    }

    void on_applied(applied_hook hook) { applied_hook_ = std::move(hook); }
    /// Where change sets go from now on (a switch syncs into a model first, then into its
    /// live policy). Call it between steps, not while `run` is running in another thread.
    void set_sink(sink s) { sink_ = std::move(s); }

    /// Runs until `stop` is set (checked at least every 100 ms).
    void run(const std::atomic<bool>& stop) {
        while (!stop.load(std::memory_order_relaxed)) step(std::chrono::milliseconds(100));
        conn_.close();
    }

    /// Runs until the first sync has been applied (true), or `timeout` (false).
    bool run_until_live(std::chrono::milliseconds timeout) {
        const auto deadline = steady::now() + timeout;
        while (state() != agent_state::live && state() != agent_state::degraded) {
            if (steady::now() >= deadline) return false;
            step(std::chrono::milliseconds(100));
        }
        return true;
    }

    /// One round: connect if needed, else wait up to `wait` for a message and handle it.
    void step(std::chrono::milliseconds wait) {
        if (!conn_.is_open()) {
            connect();
            return;
        }
        json m;
        std::string error;
        const auto st = conn_.receive(m, wait, error);
        if (st == connection::status::closed) return lost(error);
        if (st == connection::status::timeout) return;
        if (!conn_.answer_echo(m, error)) return lost(error);
        handle_notification(m);
        if (conn_.is_open()) settle();
    }

    /// Takes one message as if the member had sent it, with no connection: the replay and
    /// test entry (agent.test.cpp; a fuzz target would use it too). An update3 notification goes into the
    /// rows held and what changed goes to the sink; the condition it calls for is computed
    /// (condition()), not sent. Anything else is ignored, as from a server.
    void take(json& message) {
        handle_notification(message);
        apply_touched();
    }

    /// The state; safe to read from any thread.
    [[nodiscard]] agent_state state() const noexcept { return state_.load(std::memory_order_relaxed); }
    [[nodiscard]] const agent_counters& counters() const noexcept { return counters_; }
    [[nodiscard]] const std::string& last_txn() const noexcept { return last_txn_; }
    [[nodiscard]] const host_condition& condition() const noexcept { return cond_; }
    [[nodiscard]] std::string connected_to() const { return conn_.is_open() ? conn_.peer() : std::string(); }
    /// The index in `remotes` of the member whose monitor is up, or -1; safe from any thread.
    [[nodiscard]] int member() const noexcept { return member_.load(std::memory_order_relaxed); }
    /// The objects the sink holds, as canonical lines keyed by identity.
    [[nodiscard]] const std::map<std::string, std::string>& applied() const noexcept { return applied_; }
    /// Identities whose change the sink refused, waiting for a later update.
    [[nodiscard]] const std::set<std::string>& held_back() const noexcept { return pending_; }

private:
    static constexpr std::string_view zero_txn = "00000000-0000-0000-0000-000000000000";

    void log(const std::string& line) {
        if (log_) log_(opt_.host + ": " + line);
    }

    void set_state(agent_state s) {
        if (s == state()) return;
        state_.store(s, std::memory_order_relaxed);
        log("state " + std::string(to_string(s)));
    }

    void lost(const std::string& why) {
        log("lost " + why);
        conn_.close();
        member_.store(-1, std::memory_order_relaxed);
        // Another member, chosen at random (the hosts of a dead member spread over the others),
        // after a random pause (so they do not all arrive in the same instant).
        if (opt_.remotes.size() > 1) next_remote_ = (next_remote_ + random_() % (opt_.remotes.size() - 1)) % opt_.remotes.size();
        if (opt_.reconnect_spread.count() > 0)
            reconnect_at_ = steady::now() + std::chrono::milliseconds(random_() % static_cast<std::uint_fast32_t>(opt_.reconnect_spread.count()));
        if (state() != agent_state::connecting) set_state(synced_ ? agent_state::degraded : agent_state::connecting);
    }

    /// Tries the next member: connect, check it is usable, start the monitor.
    void connect() {
        if (opt_.remotes.empty()) return;
        if (const auto now = steady::now(); now < reconnect_at_) {
            std::this_thread::sleep_for(std::min<steady::duration>(reconnect_at_ - now, std::chrono::milliseconds(100)));
            return;
        }
        const std::size_t trying = next_remote_;
        const remote& r = opt_.remotes[trying];
        next_remote_ = (next_remote_ + 1) % opt_.remotes.size();
        std::string error;
        if (!conn_.open(r, opt_.connect_timeout, error) || !member_usable(error) || !start_monitor(error)) {
            log("member " + r.text + " not usable: " + error);
            conn_.close();
            ++failed_in_a_row_;
            if (failed_in_a_row_ >= opt_.remotes.size()) {  // a full round without a member: wait a while
                const auto delay = std::min<std::chrono::milliseconds>(opt_.retry_delay * (1u << std::min<std::size_t>(failed_in_a_row_ / opt_.remotes.size() - 1, 4)),
                                                                       std::chrono::milliseconds(1000));
                std::this_thread::sleep_for(delay);
            }
            return;
        }
        failed_in_a_row_ = 0;
        member_.store(static_cast<int>(trying), std::memory_order_relaxed);
        settle();
    }

    /// A clustered member must be connected to its cluster and not behind what this agent has
    /// seen (ovsdb-server's _Server database, as ovsdb-idl checks it).
    bool member_usable(std::string& error) {
        json select = {{"op", "select"}, {"table", "Database"}, {"where", json::array({json::array({"name", "==", opt_.database})})}};
        const auto result = conn_.call("transact", json::array({"_Server", select}), opt_.call_timeout, error);
        if (!result) return false;
        const json* first = json_get::at(*result, 0);
        const json* rows = first != nullptr ? json_get::member(*first, "rows") : nullptr;
        const json* row = rows != nullptr ? json_get::at(*rows, 0) : nullptr;
        if (row == nullptr) {
            error = "no database " + opt_.database;
            return false;
        }
        if (json_get::string(json_get::member(*row, "model")) != "clustered") return true;
        const json* connected = json_get::member(*row, "connected");
        if (connected == nullptr || !connected->is_boolean() || !connected->get<bool>()) {
            error = "not connected to its cluster";
            return false;
        }
        const json* index = json_get::member(*row, "index");
        const json* items = index != nullptr && index->is_array() ? json_get::at(*index, 1) : nullptr;  // ["set", [n]]
        const json* n = index != nullptr && index->is_number_integer() ? index : items != nullptr ? json_get::at(*items, 0) : nullptr;
        if (n != nullptr && n->is_number_integer()) {
            const auto i = n->get<std::int64_t>();
            if (i < cluster_index_) {
                error = "behind (index " + std::to_string(i) + " < " + std::to_string(cluster_index_) + ")";
                return false;
            }
            cluster_index_ = i;
        }
        return true;
    }

    bool start_monitor(std::string& error) {
        // Resuming from a transaction id is only sound for the condition the rows held were
        // sent for: changes since then under a wider condition would miss the rows that match
        // it but did not change. A condition change the lost member never confirmed means a
        // full copy (the rows the copy lacks are removed below).
        const bool resuming = !last_txn_.empty() && cond_ == acked_cond_;
        json params = json::array({opt_.database, monitor_id_, monitor_requests(cond_), resuming ? last_txn_ : std::string(zero_txn)});
        set_state(synced_ ? state() : agent_state::syncing);
        const auto result = conn_.call("monitor_cond_since", params, opt_.call_timeout, error, [this](json& m) { handle_notification(m); });
        if (!result) return false;
        const json* found = json_get::at(*result, 0);
        const auto txn = json_get::string(json_get::at(*result, 1));
        const json* updates = json_get::at(*result, 2);
        if (found == nullptr || !found->is_boolean() || !txn || updates == nullptr) {
            error = "a monitor_cond_since reply that is not [found, id, updates]";
            return false;
        }
        ++counters_.connects;
        acked_cond_ = cond_;
        if (found->get<bool>()) {
            ++counters_.resumed;
            log("resumed on " + conn_.peer() + " after " + last_txn_);
            apply_table_updates(*updates);
        } else {
            // Not found (a first connect, or history the member no longer has): the reply is
            // everything the condition selects, so every row held that it lacks is gone.
            std::set<std::pair<std::string, std::string>> before;
            for (const auto& [table, rows] : replica_)
                for (const auto& [uuid, row] : rows) before.emplace(table, uuid);
            apply_table_updates(*updates);
            for (const auto& [table, uuid] : before) {
                const json* t = json_get::member(*updates, table);
                if (t == nullptr || json_get::member(*t, uuid) == nullptr) remove_row(table, uuid);
            }
            if (synced_) {
                ++counters_.full_resyncs;
                log("full resync from " + conn_.peer());
            }
        }
        if (*txn != zero_txn) last_txn_ = *txn;
        return true;
    }

    /// A notification: update3 [monitor-id, last-txn-id, table-updates2]; anything else is
    /// ignored (RFC 7047 lets servers send other methods).
    void handle_notification(json& m) {
        const auto method = json_get::string(json_get::member(m, "method"));
        if (!method || *method != "update3") return;
        const json* params = json_get::member(m, "params");
        const auto txn = params != nullptr ? json_get::string(json_get::at(*params, 1)) : std::nullopt;
        const json* updates = params != nullptr ? json_get::at(*params, 2) : nullptr;
        if (!txn || updates == nullptr || !updates->is_object()) {
            ++counters_.bad_messages;
            log("skipped an update that is not [monitor-id, txn-id, table-updates]");
            return;
        }
        ++counters_.updates;
        apply_table_updates(*updates);
        if (*txn != zero_txn) last_txn_ = *txn;
    }

    /// table-updates2 into the replica: {table: {uuid: {initial|insert: row} | {modify: diff} | {delete: null}}}.
    void apply_table_updates(const json& updates) {
        if (!updates.is_object()) {
            ++counters_.bad_messages;
            log("skipped table updates that are not an object");
            return;
        }
        for (auto t = updates.begin(); t != updates.end(); ++t) {
            const auto kind = kind_of_table(t.key());
            if (!kind || !t.value().is_object()) {
                ++counters_.bad_messages;
                log("skipped updates of unknown table " + t.key().substr(0, 64));
                continue;
            }
            for (auto r = t.value().begin(); r != t.value().end(); ++r) {
                const json& u = r.value();
                if (const json* row = json_get::member(u, "initial"); row != nullptr && row->is_object()) put_row(*kind, t.key(), r.key(), *row);
                else if (const json* ins = json_get::member(u, "insert"); ins != nullptr && ins->is_object()) put_row(*kind, t.key(), r.key(), *ins);
                else if (const json* mod = json_get::member(u, "modify"); mod != nullptr && mod->is_object()) {
                    json& held = replica_[t.key()][r.key()];
                    if (held.is_null()) held = json::object();
                    apply_modify(*kind, held, *mod);
                    put_row(*kind, t.key(), r.key(), held);
                } else if (u.is_object() && u.contains("delete")) remove_row(t.key(), r.key());
                else {
                    ++counters_.bad_messages;
                    log("skipped a row update of " + t.key() + " that is none of initial, insert, modify, delete");
                }
            }
        }
    }

    /// The identity and line of a row, or nullopt (with `error`) when it is not a policy object.
    static std::optional<std::pair<std::string, std::string>> object_of(policy::object_kind kind, const json& row, std::string& error) {
        auto line = line_of_row(kind, row, error);
        if (!line) return std::nullopt;
        const policy::change_set_parse parsed = policy::parse_change_set("+ " + *line, "row");
        if (!parsed || parsed.changes.entries.size() != 1) {
            error = parsed.diagnostics.empty() ? std::string("not one object") : parsed.diagnostics.front().message;
            error += " (" + *line + ")";
            return std::nullopt;
        }
        const policy::object& o = parsed.changes.entries.front().value;
        return std::pair{policy::format_identity(o), policy::format_object(o)};
    }

    void put_row(policy::object_kind kind, const std::string& table, const std::string& uuid, const json& row) {
        json clean = row;
        if (clean.is_object()) clean.erase("_version");
        replica_[table][uuid] = clean;
        std::string error;
        const auto obj = object_of(kind, clean, error);
        const std::string key = table + "/" + uuid;
        if (!obj) {
            ++counters_.bad_rows;
            log("skipped row " + key + ": " + error);
            return;  // its last good value (if any) stays desired and applied
        }
        if (const auto old = row_identity_.find(key); old != row_identity_.end() && old->second != obj->first) {
            drop_desired(old->second, key);
        }
        row_identity_[key] = obj->first;
        desired_[obj->first][key] = obj->second;
        touched_.insert(obj->first);
    }

    void remove_row(const std::string& table, const std::string& uuid) {
        if (const auto t = replica_.find(table); t != replica_.end()) {
            t->second.erase(uuid);
            if (t->second.empty()) replica_.erase(t);
        }
        const std::string key = table + "/" + uuid;
        if (const auto id = row_identity_.find(key); id != row_identity_.end()) {
            drop_desired(id->second, key);
            row_identity_.erase(id);
        }
    }

    void drop_desired(const std::string& identity, const std::string& key) {
        if (const auto d = desired_.find(identity); d != desired_.end()) {
            d->second.erase(key);
            if (d->second.empty()) desired_.erase(d);
        }
        touched_.insert(identity);
    }

    /// Widens or narrows the monitor until the condition the held rows call for is the one in
    /// force, then applies what changed.
    void settle() {
        for (int round = 0; round < 16 && conn_.is_open(); ++round) {
            host_condition next = condition_from(replica_, opt_.host);
            if (next == cond_) break;
            // Only the tables whose condition changed: the server scans each table it is given.
            const json before = monitor_requests(cond_);
            json changed = monitor_requests(next);
            for (auto it = before.begin(); it != before.end(); ++it)
                if (changed[it.key()] == it.value()) changed.erase(it.key());
            cond_ = std::move(next);
            ++counters_.condition_changes;
            std::string error;
            // The server sends the rows the new condition adds or drops before its reply.
            const auto reply = conn_.call("monitor_cond_change", json::array({monitor_id_, monitor_id_, changed}),
                                          opt_.call_timeout, error, [this](json& m) { handle_notification(m); });
            if (!reply) return lost(error);
            acked_cond_ = cond_;
        }
        if (!conn_.is_open()) return;
        synced_ = true;
        apply_touched();
        set_state(pending_.empty() ? agent_state::live : agent_state::degraded);
    }

    /// A change set of `ids`: each identity's desired line (`+ `) or its removal (`- `), where
    /// it differs from what is applied. Identities two rows claim are left as they are.
    std::vector<std::string> change_lines(const std::set<std::string>& ids, std::vector<std::pair<std::string, std::optional<std::string>>>& outcome) {
        std::vector<std::string> removals, additions;
        for (const std::string& id : ids) {
            std::optional<std::string> want;
            if (const auto d = desired_.find(id); d != desired_.end()) {
                if (d->second.size() > 1) {
                    log("held back " + id + ": " + std::to_string(d->second.size()) + " rows name this identity");
                    continue;
                }
                want = d->second.begin()->second;
            }
            const auto have = applied_.find(id);
            if (want ? (have != applied_.end() && have->second == *want) : have == applied_.end()) continue;
            if (want) additions.push_back("+ " + *want);
            else removals.push_back("- " + id);
            outcome.emplace_back(id, want);
        }
        // Removals first, records before what they use (canonical kind order reversed).
        std::sort(removals.begin(), removals.end(), [](const std::string& a, const std::string& b) { return kind_rank(a) > kind_rank(b); });
        std::sort(additions.begin(), additions.end(), [](const std::string& a, const std::string& b) { return kind_rank(a) < kind_rank(b); });
        removals.insert(removals.end(), additions.begin(), additions.end());
        return removals;
    }

    static std::size_t kind_rank(std::string_view line) {
        line.remove_prefix(2);
        for (std::size_t i = 0; i < policy::object_kind_count; ++i)
            if (line.starts_with(policy::to_string(static_cast<policy::object_kind>(i)))) return i;
        return 0;
    }

    /// Applies one set of identities; true when the sink took it (or there was nothing to do).
    bool apply_ids(const std::set<std::string>& ids) {
        std::vector<std::pair<std::string, std::optional<std::string>>> outcome;
        const std::vector<std::string> lines = change_lines(ids, outcome);
        if (lines.empty()) return true;
        std::string text;
        for (const auto& l : lines) text += l + "\n";
        const std::string name = "ovsdb:" + (last_txn_.empty() ? std::string("initial") : last_txn_);
        const sink_result r = sink_(text, name);
        if (!r.ok) {
            ++counters_.refused;
            log("refused " + std::to_string(lines.size()) + " change(s) at " + name + ", host stays on its last good policy:");
            for (std::size_t i = 0; i < r.errors.size() && i < 8; ++i) log("  " + r.errors[i]);
            for (const auto& [id, want] : outcome) pending_.insert(id);
            return false;
        }
        ++counters_.applied;
        for (const auto& [id, want] : outcome) {
            if (want) applied_[id] = *want;
            else applied_.erase(id);
            pending_.erase(id);
        }
        log("applied " + std::to_string(lines.size()) + " change(s), generation " + std::to_string(r.generation));
        if (applied_hook_) applied_hook_(lines, steady::now());
        return true;
    }

    /// What this update changed, then (if it applied) what was held back before.
    void apply_touched() {
        std::set<std::string> now;
        now.swap(touched_);
        for (const auto& id : now) pending_.erase(id);
        if (apply_ids(now) && !pending_.empty()) {
            std::set<std::string> retry = pending_;
            pending_.clear();
            if (apply_ids(retry)) log("applied the changes held back before");
        }
    }

    agent_options opt_;
    sink sink_;
    logger log_;
    applied_hook applied_hook_;
    connection conn_;
    std::size_t next_remote_{0};   // the member connect() tries next
    steady::time_point reconnect_at_{};
    std::atomic<int> member_{-1};
    std::minstd_rand random_;
    std::size_t failed_in_a_row_{0};
    std::int64_t cluster_index_{0};
    std::string monitor_id_{"nvgre"};
    std::string last_txn_;
    host_condition cond_;        // the condition asked for
    host_condition acked_cond_;  // the condition a member confirmed, which the rows held follow
    std::atomic<agent_state> state_{agent_state::connecting};
    bool synced_{false};
    agent_counters counters_;

    row_set replica_;                                                  // the rows of the monitor, as the server has them
    std::map<std::string, std::string> row_identity_;                  // "table/uuid" -> identity of its last good value
    std::map<std::string, std::map<std::string, std::string>> desired_;  // identity -> "table/uuid" -> canonical line
    std::map<std::string, std::string> applied_;                       // identity -> canonical line the sink holds
    std::set<std::string> touched_;                                    // identities changed since the last apply
    std::set<std::string> pending_;                                    // identities the sink refused
};

/// A sink that keeps a validated model (the first sync of a switch, the tools, tests).
struct model_sink {
    policy::model current{};
    std::uint64_t generation{0};
    sink_result operator()(const std::string& text, const std::string& name) {
        policy::load_result r = policy::apply_change_set_text(current, text, name);
        sink_result out;
        if (!r.validated) {
            out.errors = r.error_lines();
            return out;
        }
        current = std::move(*r.validated);
        out.ok = true;
        out.generation = ++generation;
        return out;
    }
};

}  // namespace nvgre::ovsdb
