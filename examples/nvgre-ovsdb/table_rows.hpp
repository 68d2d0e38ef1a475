/// @file examples/nvgre-ovsdb/table_rows.hpp
/// @brief Rows of nvgre.ovsschema and lines of the policy text format, both ways.
///
/// The schema has one table per policy kind and one column per key: the table is the kind in
/// OVSDB's spelling (`lookup-record` -> `Lookup_Record`), the column the key with `_` for `-`
/// (`prefix-length` -> `prefix_length`). Column types follow the key's value type: integers
/// (VSID, lengths, VLAN, metric, rate in bit/s, bytes, seconds, DSCP) with the text format's
/// ranges, booleans for on/off keys, enums for rule and type, strings for the rest; an optional
/// key is a set of at most one value (empty: the key's default), gateway and dns are sets of up
/// to 2 and 4 addresses. A route's metric is a plain integer (it is part of the identity that
/// the table's index holds), written as 256 when the text leaves it out.
///
/// A row becomes policy text, and the policy loader checks it: one parser and one validator for
/// text files, change sets and the store. A value that could change the meaning of the line
/// (blanks, `#`, control bytes) is refused here, before it reaches the parser.
#pragma once

#include "jsonrpc.hpp"

#include <nvgre/policy/canonical.hpp>
#include <nvgre/policy/loader.hpp>

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace nvgre::ovsdb {

namespace tf = nvgre::policy::detail::text_format;

/// The schema's tables, in object_kind order.
inline constexpr std::array<std::string_view, policy::object_kind_count> table_names = {
    "Provider_Address", "Provider_Route", "Routing_Domain", "Virtual_Subnet",
    "Customer_Route",   "Lookup_Record",  "Port_Classification",
};

[[nodiscard]] inline std::string_view table_of(policy::object_kind k) { return table_names[static_cast<std::size_t>(k)]; }

[[nodiscard]] inline std::optional<policy::object_kind> kind_of_table(std::string_view table) {
    for (std::size_t i = 0; i < table_names.size(); ++i)
        if (table_names[i] == table) return static_cast<policy::object_kind>(i);
    return std::nullopt;
}

[[nodiscard]] inline const tf::kind_spec& spec_of(policy::object_kind k) { return tf::kinds[static_cast<std::size_t>(k)]; }

/// A key's column: `next-hop-mac` -> `next_hop_mac`.
[[nodiscard]] inline std::string column_of(std::string_view key) {
    std::string c(key);
    for (char& ch : c)
        if (ch == '-') ch = '_';
    return c;
}

namespace detail {

inline bool is_integer(tf::value_type t) {
    using v = tf::value_type;
    return t == v::vsid || t == v::prefix_length || t == v::vlan || t == v::metric || t == v::rate || t == v::bytes ||
           t == v::seconds || t == v::dscp;
}
/// Columns that are sets of more than one value: an update2 `modify` gives their difference.
inline bool is_multi(tf::value_type t) { return t == tf::value_type::gateway || t == tf::value_type::dns; }

/// A value that reads back as one token of one key: no blanks, `#`, control or non-ASCII
/// bytes (and no `,` inside one element of a set).
inline bool is_token(std::string_view s, bool element) {
    if (s.empty() || s.size() > 256) return false;
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7f || c == '#' || (element && c == ',')) return false;
    return true;
}

/// One atom as text; nullopt for a type the schema does not use.
inline std::optional<std::string> atom_text(const json& a, bool element) {
    if (a.is_string()) {
        const auto& s = a.get_ref<const std::string&>();
        return is_token(s, element) ? std::optional<std::string>(s) : std::nullopt;
    }
    if (a.is_number_unsigned()) return std::to_string(a.get<std::uint64_t>());
    if (a.is_number_integer()) {
        const auto v = a.get<std::int64_t>();
        return v >= 0 ? std::optional<std::string>(std::to_string(v)) : std::nullopt;
    }
    return std::nullopt;
}

/// The elements of an OVSDB set value (`["set", [...]]`, or one atom standing for itself).
inline std::optional<std::vector<json>> elements(const json& v) {
    if (v.is_array()) {
        if (v.size() != 2 || !v[0].is_string() || v[0].get_ref<const std::string&>() != "set" || !v[1].is_array()) return std::nullopt;
        return std::vector<json>(v[1].begin(), v[1].end());
    }
    return std::vector<json>{v};
}

}  // namespace detail

/// The policy line of a row of `kind`'s table (`lookup-record vsid=5001 ca=... `), or nullopt
/// with `error` naming the column whose value cannot be policy text. Missing columns are
/// their defaults (OVSDB leaves default values out of updates). The line is not validated
/// here: the policy loader does that, with every other rule.
[[nodiscard]] inline std::optional<std::string> line_of_row(policy::object_kind kind, const json& row, std::string& error) {
    if (!row.is_object()) {
        error = "a row that is not a JSON object";
        return std::nullopt;
    }
    const tf::kind_spec& spec = spec_of(kind);
    std::string line(spec.name);
    for (const tf::key_spec& key : spec.keys) {
        const std::string column = column_of(key.name);
        const json* v = json_get::member(row, column);
        if (v == nullptr) continue;
        const auto bad = [&] {
            error = std::string(table_of(kind)) + "." + column + ": " + v->dump().substr(0, 80) + " is not a value of the policy text";
            return std::nullopt;
        };
        if (key.type == tf::value_type::on_off) {
            if (!v->is_boolean()) return bad();
            if (v->get<bool>()) line += " " + std::string(key.name) + "=on";
            continue;
        }
        const auto items = detail::elements(*v);
        if (!items) return bad();
        if (items->empty()) continue;
        if (items->size() > 1 && !detail::is_multi(key.type)) return bad();
        std::string text;
        for (const json& item : *items) {
            const auto t = detail::atom_text(item, detail::is_multi(key.type));
            if (!t) return bad();
            text += (text.empty() ? "" : ",") + *t;
        }
        line += " " + std::string(key.name) + "=" + text;
    }
    return line;
}

/// The columns of `o`'s row, from its canonical text. `for_update`: optional keys that are at
/// their defaults are written too (as empty sets / false), so an update clears them.
[[nodiscard]] inline json row_of_object(const policy::object& o, bool for_update) {
    const policy::object_kind kind = policy::kind_of(o);
    const tf::kind_spec& spec = spec_of(kind);
    const std::string line = policy::format_object(o);
    json row = json::object();
    if (for_update)
        for (const tf::key_spec& key : spec.keys) {
            if (key.required) continue;
            const std::string column = column_of(key.name);
            if (key.type == tf::value_type::on_off) row[column] = false;
            else if (key.type == tf::value_type::metric) row[column] = policy::default_customer_route_metric;
            else row[column] = json::array({"set", json::array()});
        }
    else
        for (const tf::key_spec& key : spec.keys)
            if (key.type == tf::value_type::metric) row[column_of(key.name)] = policy::default_customer_route_metric;
    std::string_view rest(line);
    rest.remove_prefix(spec.name.size());
    while (!rest.empty()) {
        rest.remove_prefix(1);  // the blank
        const auto end = rest.find(' ');
        const std::string_view token = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
        const auto eq = token.find('=');
        const std::string_view name = token.substr(0, eq), value = token.substr(eq + 1);
        const tf::key_spec* key = nullptr;
        for (const tf::key_spec& k : spec.keys)
            if (k.name == name) key = &k;
        if (key == nullptr) continue;  // cannot happen: canonical text has only the kind's keys
        const std::string column = column_of(name);
        if (key->type == tf::value_type::on_off) {
            row[column] = value == "on";
        } else if (detail::is_multi(key->type)) {
            json items = json::array();
            std::string_view list = value;
            while (!list.empty()) {
                const auto comma = list.find(',');
                items.push_back(std::string(list.substr(0, comma)));
                list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
            }
            row[column] = json::array({"set", items});
        } else if (detail::is_integer(key->type)) {
            std::uint64_t unit = 1;
            std::string_view digits = value;
            if (key->type == tf::value_type::rate && !digits.empty()) {
                const char last = digits.back();
                unit = last == 'K' ? 1'000 : last == 'M' ? 1'000'000 : last == 'G' ? 1'000'000'000 : 1;
                if (unit != 1) digits.remove_suffix(1);
            }
            std::uint64_t n = 0;
            for (char c : digits) n = n * 10 + static_cast<std::uint64_t>(c - '0');
            row[column] = n * unit;
        } else {
            row[column] = std::string(value);
        }
    }
    return row;
}

/// The `where` clause that selects `o`'s row by its identity (policy/canonical.hpp).
[[nodiscard]] inline json identity_where(const policy::object& o) {
    const json row = row_of_object(o, false);
    const policy::object_kind kind = policy::kind_of(o);
    json where = json::array();
    for (const tf::key_spec& key : spec_of(kind).keys) {
        if (!tf::is_identity_key(kind, key.name)) continue;
        if (kind == policy::object_kind::lookup_record && key.name == "mac") {
            const auto& r = std::get<policy::lookup_record>(o);
            if (!r.ca.is_unspecified()) continue;  // a static record's identity is (vsid, ca)
        }
        const std::string column = column_of(key.name);
        const auto it = row.find(column);
        if (it != row.end()) where.push_back(json::array({column, "==", *it}));
    }
    return where;
}

/// Applies an update2 `modify` to a cached row: sets of several values get their difference
/// (elements in both are removed, the others added); every other column its new value.
inline void apply_modify(policy::object_kind kind, json& row, const json& modify) {
    if (!modify.is_object()) return;
    for (auto it = modify.begin(); it != modify.end(); ++it) {
        const tf::key_spec* key = nullptr;
        for (const tf::key_spec& k : spec_of(kind).keys)
            if (column_of(k.name) == it.key()) key = &k;
        if (key != nullptr && detail::is_multi(key->type)) {
            const auto diff = detail::elements(it.value());
            const json* old = json_get::member(row, it.key());
            auto now = old != nullptr ? detail::elements(*old) : std::optional<std::vector<json>>(std::vector<json>{});
            if (!diff || !now) {
                row[it.key()] = it.value();  // left for line_of_row to refuse
                continue;
            }
            for (const json& d : *diff) {
                const auto found = std::find(now->begin(), now->end(), d);
                if (found != now->end()) now->erase(found);
                else now->push_back(d);
            }
            row[it.key()] = json::array({"set", json(*now)});
        } else {
            row[it.key()] = it.value();
        }
    }
}

}  // namespace nvgre::ovsdb
