/// @file examples/nvgre-ovsdb/host_view.hpp
/// @brief Which rows of the store one host receives, as OVSDB monitor conditions.
///
/// A host gets (docs/distribution.md):
///  - its own provider addresses and provider routes (`host == NAME`);
///  - the lookup records on its PAs (the VMs it hosts), and from their VSIDs the routing
///    domains it serves: every subnet, customer route and lookup record of those domains
///    (routing between subnets and anti-spoofing need them);
///  - the provider addresses and port classifications those records name.
/// Each step depends on rows the previous one brought, so the condition is a fixpoint: compute
/// it from the rows held, send it (monitor_cond_change), receive the rows it adds, compute
/// again, until it stops changing. The agent does this against the server; `view_of` does the
/// same over a full copy of the store (the dump tool, the scale test's final check), with
/// `matches` standing for the server's evaluation of the same clauses.
#pragma once

#include "table_rows.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace nvgre::ovsdb {

/// Rows by table, then by UUID (the store's, or an agent's copy of its part).
using table_rows = std::map<std::string, json, std::less<>>;
using row_set = std::map<std::string, table_rows, std::less<>>;

/// What one host's monitor selects.
struct host_condition {
    std::string host;
    std::set<std::string> own_pas;         ///< Provider_Address.pa where host == NAME
    std::set<std::int64_t> hosted_vsids;   ///< VSIDs of the lookup records on own PAs
    std::set<std::string> domains;         ///< routing domains of the hosted VSIDs
    std::set<std::int64_t> domain_vsids;   ///< every VSID of those domains
    std::set<std::string> used_pas;        ///< PAs named by the records of those domains
    std::set<std::string> classifications; ///< classifications named by those records
    friend bool operator==(const host_condition&, const host_condition&) = default;
};

namespace detail {

inline std::optional<std::string> string_column(const json& row, std::string_view column) {
    return json_get::string(json_get::member(row, column));
}
inline std::optional<std::int64_t> integer_column(const json& row, std::string_view column) {
    const json* v = json_get::member(row, column);
    if (v == nullptr || !v->is_number_integer()) return std::nullopt;
    return v->get<std::int64_t>();
}
/// An optional string column (a set of at most one).
inline std::optional<std::string> optional_string_column(const json& row, std::string_view column) {
    const json* v = json_get::member(row, column);
    if (v == nullptr) return std::nullopt;
    if (v->is_string()) return v->get<std::string>();
    const auto items = elements(*v);
    if (!items || items->size() != 1 || !(*items)[0].is_string()) return std::nullopt;
    return (*items)[0].get<std::string>();
}

inline const table_rows& rows_of(const row_set& rows, std::string_view table) {
    static const table_rows none;
    const auto it = rows.find(table);
    return it == rows.end() ? none : it->second;
}

}  // namespace detail

/// The condition the rows `held` call for (one step of the fixpoint).
[[nodiscard]] inline host_condition condition_from(const row_set& held, std::string_view host) {
    using detail::integer_column;
    using detail::rows_of;
    using detail::string_column;
    host_condition c;
    c.host = std::string(host);
    for (const auto& [uuid, row] : rows_of(held, "Provider_Address"))
        if (string_column(row, "host") == c.host)
            if (auto pa = string_column(row, "pa")) c.own_pas.insert(*pa);
    for (const auto& [uuid, row] : rows_of(held, "Lookup_Record")) {
        const auto pa = string_column(row, "pa");
        const auto vsid = integer_column(row, "vsid");
        if (pa && vsid && c.own_pas.contains(*pa)) c.hosted_vsids.insert(*vsid);
    }
    for (const auto& [uuid, row] : rows_of(held, "Virtual_Subnet")) {
        const auto vsid = integer_column(row, "vsid");
        const auto rdid = string_column(row, "rdid");
        if (vsid && rdid && c.hosted_vsids.contains(*vsid)) c.domains.insert(*rdid);
    }
    for (const auto& [uuid, row] : rows_of(held, "Virtual_Subnet")) {
        const auto vsid = integer_column(row, "vsid");
        const auto rdid = string_column(row, "rdid");
        if (vsid && rdid && c.domains.contains(*rdid)) c.domain_vsids.insert(*vsid);
    }
    for (const auto& [uuid, row] : rows_of(held, "Lookup_Record")) {
        const auto vsid = integer_column(row, "vsid");
        if (!vsid || !c.domain_vsids.contains(*vsid)) continue;
        if (auto pa = string_column(row, "pa")) c.used_pas.insert(*pa);
        if (auto name = detail::optional_string_column(row, "classification")) c.classifications.insert(*name);
    }
    return c;
}

namespace detail {

template <class Set>
json clauses(std::string_view column, const Set& values, json out = json::array()) {
    for (const auto& v : values) out.push_back(json::array({column, "==", v}));
    return out;
}

}  // namespace detail

/// The monitor_cond_since / monitor_cond_change request body for `c`: every table, every
/// column, each table's `where` a disjunction of equality clauses (`[false]`: no row).
[[nodiscard]] inline json monitor_requests(const host_condition& c) {
    using detail::clauses;
    json where = json::object();
    where["Provider_Address"] = clauses("pa", c.used_pas, json::array({json::array({"host", "==", c.host})}));
    where["Provider_Route"] = json::array({json::array({"host", "==", c.host})});
    where["Routing_Domain"] = clauses("rdid", c.domains);
    where["Virtual_Subnet"] = clauses("rdid", c.domains, clauses("vsid", c.hosted_vsids));
    where["Customer_Route"] = clauses("rdid", c.domains);
    where["Lookup_Record"] = clauses("vsid", c.domain_vsids, clauses("pa", c.own_pas));
    where["Port_Classification"] = clauses("name", c.classifications);
    json requests = json::object();
    for (auto it = where.begin(); it != where.end(); ++it) {
        json w = it.value().empty() ? json::array({false}) : it.value();
        requests[it.key()] = json::array({json{{"where", w}}});
    }
    return requests;
}

/// Whether the server would send `row` of `table` to a monitor with condition `c`: the same
/// clauses as monitor_requests, evaluated here.
[[nodiscard]] inline bool matches(const host_condition& c, std::string_view table, const json& row) {
    using detail::integer_column;
    using detail::string_column;
    const auto in = [](const auto& set, const auto& v) { return v && set.contains(*v); };
    if (table == "Provider_Address") return string_column(row, "host") == c.host || in(c.used_pas, string_column(row, "pa"));
    if (table == "Provider_Route") return string_column(row, "host") == c.host;
    if (table == "Routing_Domain" || table == "Customer_Route") return in(c.domains, string_column(row, "rdid"));
    if (table == "Virtual_Subnet") return in(c.domains, string_column(row, "rdid")) || in(c.hosted_vsids, integer_column(row, "vsid"));
    if (table == "Lookup_Record") return in(c.domain_vsids, integer_column(row, "vsid")) || in(c.own_pas, string_column(row, "pa"));
    if (table == "Port_Classification") {
        const json* v = json_get::member(row, "name");
        return v != nullptr && v->is_string() && c.classifications.contains(v->get<std::string>());
    }
    return false;
}

/// A store's rows by the values of the columns the conditions name: the rows each equality
/// clause selects, found without scanning the store (as the server's own indexes do).
class store_index {
public:
    explicit store_index(const row_set& store) {
        for (const auto& [table, rows] : store)
            for (const auto& [uuid, row] : rows)
                for (const char* column : {"host", "pa", "rdid", "vsid", "name"})
                    if (const json* v = json_get::member(row, column)) by_value_[key(table, column, *v)].push_back({&table, &uuid, &row});
    }

    /// Calls f(table, uuid, row) for every row some clause of `c` selects (a row once per
    /// clause it matches), then keeps only what matches() says: the same rows a server sends.
    template <class F>
    void for_each_selected(const host_condition& c, F&& f) const {
        const json requests = monitor_requests(c);
        std::set<const json*> seen;
        for (auto t = requests.begin(); t != requests.end(); ++t)
            for (const json& clause : t.value()[0]["where"]) {
                if (!clause.is_array()) continue;  // [false]
                const auto it = by_value_.find(key(t.key(), clause[0].get<std::string>(), clause[2]));
                if (it == by_value_.end()) continue;
                for (const entry& e : it->second)
                    if (seen.insert(e.row).second && matches(c, *e.table, *e.row)) f(*e.table, *e.uuid, *e.row);
            }
    }

private:
    struct entry {
        const std::string* table;
        const std::string* uuid;
        const json* row;
    };
    static std::string key(std::string_view table, std::string_view column, const json& value) {
        return std::string(table) + "\n" + std::string(column) + "\n" + value.dump();
    }
    std::map<std::string, std::vector<entry>, std::less<>> by_value_;
};

/// The rows of a store that host `host` ends up with: the fixpoint of condition_from and the
/// rows its condition selects, as the agent reaches it against a server.
[[nodiscard]] inline row_set view_of(const store_index& store, std::string_view host) {
    host_condition c;
    c.host = std::string(host);
    for (;;) {
        row_set held;
        store.for_each_selected(c, [&](const std::string& table, const std::string& uuid, const json& row) { held[table][uuid] = row; });
        host_condition next = condition_from(held, host);
        if (next == c) return held;
        c = std::move(next);  // each round only adds to c, and a store is finite: this ends
    }
}

[[nodiscard]] inline row_set view_of(const row_set& store, std::string_view host) { return view_of(store_index(store), host); }

}  // namespace nvgre::ovsdb
