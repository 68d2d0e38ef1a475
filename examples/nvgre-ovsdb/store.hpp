/// @file examples/nvgre-ovsdb/store.hpp
/// @brief The operator's side of the store: read it whole, load a policy into it, commit a
/// change set as one transaction. Every write is validated by the policy library first (the
/// same loader and change-set rules as the text files), so an invalid change never reaches
/// the store; the store's own constraints (types, ranges, indexes) are a second fence.
#pragma once

#include "host_view.hpp"
#include "jsonrpc.hpp"
#include "table_rows.hpp"

#include <nvgre/policy/change_set.hpp>
#include <nvgre/policy/loader.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace nvgre::ovsdb {

/// Every row of every table (one `transact` of selects: one consistent snapshot).
[[nodiscard]] inline std::optional<row_set> read_store(connection& c, const std::string& database, std::string& error,
                                                      std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    json params = json::array({database});
    for (std::string_view t : table_names) params.push_back(json{{"op", "select"}, {"table", t}, {"where", json::array()}});
    const auto result = c.call("transact", params, timeout, error);
    if (!result) return std::nullopt;
    row_set out;
    for (std::size_t i = 0; i < table_names.size(); ++i) {
        const json* op = json_get::at(*result, i);
        const json* rows = op != nullptr ? json_get::member(*op, "rows") : nullptr;
        if (rows == nullptr || !rows->is_array()) {
            error = "select of " + std::string(table_names[i]) + " failed: " + (op != nullptr ? op->dump().substr(0, 200) : std::string("no result"));
            return std::nullopt;
        }
        auto& table = out[std::string(table_names[i])];
        for (const json& row : *rows) {
            const json* uuid = json_get::member(row, "_uuid");
            const json* id = uuid != nullptr ? json_get::at(*uuid, 1) : nullptr;
            if (id == nullptr || !id->is_string()) continue;
            json clean = row;
            clean.erase("_uuid");
            clean.erase("_version");
            table[id->get<std::string>()] = std::move(clean);
        }
    }
    return out;
}

/// The policy text of `rows` (one line per row, tables in the text format's order, each
/// table's lines sorted: the same store gives the same text, whatever its rows' UUIDs, so
/// messages that name an example object name the same one each time), and the rows that
/// cannot be policy text in `bad`.
[[nodiscard]] inline std::string policy_text_of(const row_set& rows, std::vector<std::string>& bad) {
    std::string text;
    for (std::size_t i = 0; i < table_names.size(); ++i) {
        const auto t = rows.find(table_names[i]);
        if (t == rows.end()) continue;
        std::vector<std::string> lines;
        for (const auto& [uuid, row] : t->second) {
            std::string error;
            if (auto line = line_of_row(static_cast<policy::object_kind>(i), row, error)) lines.push_back(std::move(*line));
            else bad.push_back(uuid + ": " + error);
        }
        std::sort(lines.begin(), lines.end());
        for (const auto& line : lines) text += line + "\n";
    }
    return text;
}

/// The validated policy the rows hold (the whole store, or one host's view of it).
[[nodiscard]] inline policy::load_result model_of(const row_set& rows, const std::string& name) {
    std::vector<std::string> bad;
    const std::string text = policy_text_of(rows, bad);
    policy::load_result r = policy::load_policy_text(text, name);
    for (const auto& b : bad) {
        policy::load_diagnostic d;
        d.file = name;
        d.message = "row " + b;
        r.diagnostics.insert(r.diagnostics.begin(), d);
        r.validated.reset();
    }
    return r;
}

/// Operations that make the store hold exactly `m`: every table emptied, every object inserted.
[[nodiscard]] inline json load_operations(const policy::model& m) {
    json ops = json::array();
    for (std::string_view t : table_names) ops.push_back(json{{"op", "delete"}, {"table", t}, {"where", json::array()}});
    for (const policy::object& o : policy::canonical_objects(m))
        ops.push_back(json{{"op", "insert"}, {"table", table_of(policy::kind_of(o))}, {"row", row_of_object(o, false)}});
    return ops;
}

/// Operations for a change set validated against `base` (what the store held): `+ ` of an
/// object that exists updates its row in place (monitors see a modify), of a new one inserts
/// it; `- ` deletes by identity. Each update and delete must touch exactly one row:
/// check_counts() tells, from the reply.
[[nodiscard]] inline json change_operations(const policy::model& base, const policy::change_set& changes) {
    std::set<policy::object_identity> present;
    for (const policy::object& o : policy::canonical_objects(base)) present.insert(policy::identity_of(o));
    json ops = json::array();
    for (const policy::change_entry& e : changes.entries) {
        const std::string_view table = table_of(policy::kind_of(e.value));
        if (e.op == policy::change_op::remove) {
            ops.push_back(json{{"op", "delete"}, {"table", table}, {"where", identity_where(e.value)}});
        } else if (present.contains(policy::identity_of(e.value))) {
            ops.push_back(json{{"op", "update"}, {"table", table}, {"where", identity_where(e.value)}, {"row", row_of_object(e.value, true)}});
        } else {
            ops.push_back(json{{"op", "insert"}, {"table", table}, {"row", row_of_object(e.value, false)}});
        }
    }
    return ops;
}

/// Commits `ops` as one transaction. False with `error` set when the server refused it (the
/// store is unchanged then), or when an update or delete did not touch exactly one row (then
/// it did commit: the store was changed by someone else between the read and the commit).
inline bool commit(connection& c, const std::string& database, const json& ops, std::string& error,
                   std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    json params = json::array({database});
    for (const json& op : ops) params.push_back(op);
    const auto result = c.call("transact", params, timeout, error);
    if (!result) return false;
    if (!result->is_array()) {
        error = "a transact reply that is not an array";
        return false;
    }
    for (std::size_t i = 0; i < result->size(); ++i) {
        const json& r = (*result)[i];
        if (const json* e = json_get::member(r, "error"); e != nullptr && !e->is_null()) {
            error = "the store refused the transaction: " + r.dump().substr(0, 300);
            return false;
        }
        if (i < ops.size()) {
            const auto op = json_get::string(json_get::member(ops[i], "op"));
            const json* count = json_get::member(r, "count");
            const bool must_be_one = op && ((*op == "update") || (*op == "delete" && !json_get::member(ops[i], "where")->empty()));
            if (must_be_one && (count == nullptr || !count->is_number_integer() || count->get<std::int64_t>() != 1)) {
                error = "operation " + std::to_string(i) + " (" + *op + " " + ops[i]["table"].dump() + ") touched " +
                        (count != nullptr ? count->dump() : std::string("?")) + " rows instead of 1: the store changed under this change set";
                return false;
            }
        }
    }
    if (result->size() > ops.size()) {  // OVSDB appends an error result when the commit itself fails
        error = "the store refused the transaction: " + result->back().dump().substr(0, 300);
        return false;
    }
    return true;
}

}  // namespace nvgre::ovsdb
