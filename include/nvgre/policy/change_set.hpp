/// @file policy/change_set.hpp
/// @brief Change sets (docs/policy-lifecycle.md): policy text whose lines add or replace (`+ `)
/// and remove (`- `) objects by identity, applied to a policy as a whole or not at all; and
/// `diff`, the change set that turns one policy into another.
///
/// A change set is validated as a whole against the policy it applies to, by the same builder
/// that validates a policy file (policy/builder.hpp): the result must be a valid policy, or
/// nothing changes and every error is reported as `FILE:LINE:COL: error: TEXT`, each at the
/// line of the change set that causes it. Besides the policy rules, a change set may not remove
/// an object that is not there, name one identity twice (reported at the later line), or
/// remove an object that others still use (a routing domain with subnets, a subnet with records
/// or routes, a provider address with records, the last provider address of a host that has
/// provider routes): removal never cascades.
///
/// For any valid A and B: `format(apply_change_set(A, diff(A, B))) == format(B)`.
///
/// Control plane: allocates; never throws by itself. O((n + k) log n) for a policy of n objects
/// and a change set of k lines: the result is validated whole.
#pragma once

#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/canonical.hpp"
#include "nvgre/policy/loader.hpp"
#include "nvgre/policy/model.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace nvgre::policy {

/// One line of a change set.
struct change_entry {
    change_op op{change_op::add};
    object value;           ///< a removal: its identity keys set, the rest at their defaults
    std::size_t line{0};    ///< 1-based line in its text; 0 for a change set made by diff()
    /// Where its kind and keys were on the line (from parse_change_set), for error columns;
    /// positions and parsed values, not the text (its NAME values are empty: see `value`).
    std::optional<detail::text_format::line_info> where;
};

/// A change set: its lines in order, and the file name its errors cite.
struct change_set {
    std::string file;
    std::vector<change_entry> entries;
    [[nodiscard]] bool empty() const noexcept { return entries.empty(); }
};

/// What parse_change_set gives: the lines that can be applied, and every error of the text.
struct change_set_parse {
    change_set changes;
    std::vector<load_diagnostic> diagnostics;  ///< sorted by line, then column
    [[nodiscard]] explicit operator bool() const noexcept { return diagnostics.empty(); }
};

/// Reads change-set text: `#` comments and blank lines as in a policy; every object line is `+ `
/// or `- ` and an object as docs/policy-format.md writes it (a removal needs only its identity
/// keys; any other key on it is read and ignored). `file_name` is only used in diagnostics.
[[nodiscard]] inline change_set_parse parse_change_set(std::string_view text, std::string_view file_name) {
    change_set_parse out;
    out.changes.file = std::string(file_name);
    std::vector<detail::text_format::change_line> lines;
    out.diagnostics = detail::text_format::loader(text, file_name, true).read_changes(lines);
    out.changes.entries.reserve(lines.size());
    for (auto& l : lines) {
        // The NAME values of `where` point into `text`, which the change set may outlive: the
        // object holds its own copies, `where` keeps only the positions.
        for (auto& slot : l.where.slots) slot.v.text = {};
        out.changes.entries.push_back(change_entry{l.where.op, std::move(l.value), l.where.line, l.where});
    }
    return out;
}

namespace detail::change_sets {

/// Sort by line, then column (the order every diagnostic list of the policy layer has).
inline void sort_diagnostics(std::vector<load_diagnostic>& d) {
    std::stable_sort(d.begin(), d.end(), [](const load_diagnostic& a, const load_diagnostic& b) {
        return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
}

/// The column of key `field` on an entry's line (its key, or its value for an error of the
/// value itself); the kind's column when the key is not on the line.
inline std::size_t column_of(const change_entry& e, std::string_view field, bool at_key) {
    if (!e.where) return 1;
    const auto& info = *e.where;
    if (const auto i = info.key_index(field); i && info.slots[*i].present)
        return at_key ? info.slots[*i].key_column : info.slots[*i].value_column;
    return info.kind_column;
}

/// The references of an object to other objects' identities: its routing domain, its subnet,
/// its provider address, its host. Used to tell which line of a change set an error of an
/// untouched object of the policy comes from.
struct references {
    std::optional<rdid> domain;
    std::optional<std::uint32_t> vsid;
    std::optional<ip_address> pa;
    std::optional<std::string> host;
    std::optional<std::string> classification;
};
inline references references_of(const object& o) {
    references r;
    std::visit(
        [&r](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, provider_route>) {
                r.host = v.host;
            } else if constexpr (std::is_same_v<T, virtual_subnet>) {
                r.domain = v.domain;
            } else if constexpr (std::is_same_v<T, customer_route>) {
                r.domain = v.domain;
                r.vsid = v.subnet.value();
            } else if constexpr (std::is_same_v<T, lookup_record>) {
                r.vsid = v.subnet.value();
                r.pa = v.pa;
                if (!v.classification.empty()) r.classification = v.classification;
            }
        },
        o);
    return r;
}
/// True if `changed` is an object `r` refers to.
inline bool is_referenced(const references& r, const object& changed) {
    return std::visit(
        [&r](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, routing_domain>) return r.domain && *r.domain == v.id;
            else if constexpr (std::is_same_v<T, virtual_subnet>) return r.vsid && *r.vsid == v.id.value();
            else if constexpr (std::is_same_v<T, provider_address>) return (r.pa && *r.pa == v.pa) || (r.host && *r.host == v.host);
            else if constexpr (std::is_same_v<T, port_classification>) return r.classification && *r.classification == v.name;
            else return false;
        },
        changed);
}

/// How the objects that remain use the ones a change set removes.
struct usage {
    std::map<rdid, std::pair<std::size_t, object>> domains;            ///< by subnets and customer routes
    std::map<std::uint32_t, std::pair<std::size_t, object>> subnets;   ///< by records and customer routes
    std::map<ip_address, std::pair<std::size_t, object>> pas;          ///< by lookup records
    std::set<ip_address> declared_pas;                                  ///< the PAs that remain declared
    std::map<std::string, std::size_t, std::less<>> host_pas;          ///< provider addresses per host
    std::map<std::string, std::pair<std::size_t, object>, std::less<>> host_routes;  ///< provider routes per host
    std::map<std::string, std::pair<std::size_t, object>, std::less<>> classifications;  ///< by lookup records

    template <class Key, class Map>
    static void count(Map& m, const Key& k, const object& o) {
        auto [it, inserted] = m.try_emplace(k, 0, o);
        ++it->second.first;
    }
    void add(const object& o) {
        std::visit(
            [&](const auto& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, provider_address>) {
                    ++host_pas[v.host];
                    declared_pas.insert(v.pa);
                } else if constexpr (std::is_same_v<T, provider_route>) {
                    count(host_routes, v.host, o);
                } else if constexpr (std::is_same_v<T, virtual_subnet>) {
                    count(domains, v.domain, o);
                } else if constexpr (std::is_same_v<T, customer_route>) {
                    count(domains, v.domain, o);
                    count(subnets, v.subnet.value(), o);
                } else if constexpr (std::is_same_v<T, lookup_record>) {
                    count(subnets, v.subnet.value(), o);
                    count(pas, v.pa, o);
                    if (!v.classification.empty()) count(classifications, v.classification, o);
                }
            },
            o);
    }
};

/// "1 lookup record" / "3 objects" ...: what still uses a removed object, with one example.
inline std::string still_used(std::size_t n, const object& example) {
    return "still used by " + std::to_string(n) + (n == 1 ? " object" : " objects") + " (" + format_identity(example) + ")";
}

/// The errors of a change set's lines that need no policy to find: a gateway-wildcard removal
/// without its mac, an identity named twice (at the later line). Both the whole validation and
/// live_policy's record-by-record path check them first. `report(entry index, message)`;
/// returns which lines passed.
template <class Report>
std::vector<bool> check_lines(const change_set& changes, Report&& report) {
    std::vector<bool> passed(changes.entries.size(), false);
    std::map<object_identity, std::size_t> named;  // identity -> entry index
    for (std::size_t i = 0; i < changes.entries.size(); ++i) {
        const change_entry& e = changes.entries[i];
        if (e.op == change_op::remove && kind_of(e.value) == object_kind::lookup_record && e.where &&
            std::get<lookup_record>(e.value).ca.is_unspecified() && e.where->get("mac") == nullptr) {
            report(i, "removing a gateway-wildcard lookup record needs its mac (several NICs may be gateways of the VSID)");
            continue;
        }
        if (const auto [it, inserted] = named.emplace(identity_of(e.value), i); !inserted) {
            report(i, format_identity(e.value) + " is already changed by line " + std::to_string(changes.entries[it->second].line) +
                          " of this change set (one line per object)");
            continue;
        }
        passed[i] = true;
    }
    return passed;
}

}  // namespace detail::change_sets

/// Applies `changes` to `base` as a whole: the resulting policy, or every error (nothing is
/// applied then). See the file comment for the rules.
[[nodiscard]] inline load_result apply_change_set(const model& base, const change_set& changes) {
    namespace cs = detail::change_sets;
    load_result out;
    const auto error = [&](const change_entry& e, std::size_t column, std::string message) {
        out.diagnostics.push_back(load_diagnostic{changes.file, e.line, column, std::move(message)});
    };
    const auto kind_column = [](const change_entry& e) { return e.where ? e.where->kind_column : std::size_t{1}; };

    // The policy's objects, by identity.
    std::vector<object> objects;
    {
        const auto c = base.counts();
        objects.reserve(c.provider_addresses + c.provider_routes + c.routing_domains + c.virtual_subnets +
                        c.customer_routes + c.lookup_records + c.port_classifications);
    }
    for (const auto& v : base.provider_addresses()) objects.emplace_back(v);
    for (const auto& v : base.provider_routes()) objects.emplace_back(v);
    for (const auto& v : base.routing_domains()) objects.emplace_back(v);
    for (const auto& v : base.virtual_subnets()) objects.emplace_back(v);
    for (const auto& v : base.customer_routes()) objects.emplace_back(v);
    for (const auto& v : base.lookup_records()) objects.emplace_back(v);
    for (const auto& v : base.port_classifications()) objects.emplace_back(v);
    std::map<object_identity, std::size_t> by_identity;
    for (std::size_t i = 0; i < objects.size(); ++i) by_identity.emplace(identity_of(objects[i]), i);

    // Each line against the policy: what it replaces or removes.
    constexpr std::size_t kept = 0;
    std::vector<std::size_t> gone(objects.size(), kept);  // the line (entry index + 1) that replaces or removes it
    std::vector<bool> usable = cs::check_lines(changes, [&](std::size_t i, std::string message) {
        error(changes.entries[i], kind_column(changes.entries[i]), std::move(message));
    });
    for (std::size_t i = 0; i < changes.entries.size(); ++i) {
        if (!usable[i]) continue;
        const change_entry& e = changes.entries[i];
        usable[i] = false;
        const auto found = by_identity.find(identity_of(e.value));
        if (e.op == change_op::remove) {
            if (found == by_identity.end()) {
                error(e, kind_column(e), "cannot remove " + format_identity(e.value) + ": the policy has no such object");
                continue;
            }
            gone[found->second] = i + 1;
        } else if (found != by_identity.end()) {
            gone[found->second] = i + 1;
        }
        usable[i] = true;
    }

    // Removals that others still use are errors, not cascades; such an object stays, and then
    // counts as a user of what it refers to: so removals are checked from the users to what
    // they use (subnets, then routing domains; provider addresses by their records, then a
    // host's last provider address by the host's provider routes).
    cs::usage used;
    for (std::size_t i = 0; i < objects.size(); ++i)
        if (gone[i] == kept) used.add(objects[i]);
    for (std::size_t i = 0; i < changes.entries.size(); ++i)
        if (usable[i] && changes.entries[i].op == change_op::add) used.add(changes.entries[i].value);
    const auto check_removals = [&](object_kind kind, const auto& why_not) {
        for (std::size_t i = 0; i < objects.size(); ++i) {
            if (gone[i] == kept || kind_of(objects[i]) != kind) continue;
            const change_entry& e = changes.entries[gone[i] - 1];
            if (e.op != change_op::remove) continue;
            if (const std::optional<std::string> why = why_not(objects[i])) {
                error(e, kind_column(e), "cannot remove " + format_identity(objects[i]) + ": " + *why);
                gone[i] = kept;
                used.add(objects[i]);
            }
        }
    };
    const auto user_of = [](const auto& map, const auto& key) -> std::optional<std::string> {
        if (const auto it = map.find(key); it != map.end()) return cs::still_used(it->second.first, it->second.second);
        return std::nullopt;
    };
    check_removals(object_kind::virtual_subnet,
                   [&](const object& o) { return user_of(used.subnets, std::get<virtual_subnet>(o).id.value()); });
    check_removals(object_kind::routing_domain, [&](const object& o) { return user_of(used.domains, std::get<routing_domain>(o).id); });
    check_removals(object_kind::port_classification,
                   [&](const object& o) { return user_of(used.classifications, std::get<port_classification>(o).name); });
    check_removals(object_kind::provider_address, [&](const object& o) -> std::optional<std::string> {
        // The records of a PA that another line declares again (e.g. on another host) keep it.
        const provider_address& pa = std::get<provider_address>(o);
        if (used.declared_pas.count(pa.pa) != 0) return std::nullopt;
        return user_of(used.pas, pa.pa);
    });
    check_removals(object_kind::provider_address, [&](const object& o) -> std::optional<std::string> {
        // The host's last provider address: its provider routes would have no host.
        const provider_address& pa = std::get<provider_address>(o);
        if (used.host_pas.count(pa.host) != 0) return std::nullopt;
        return user_of(used.host_routes, pa.host);
    });

    // The result, validated whole: the policy's remaining objects first, then the change set's,
    // so that a conflict between the two is reported at the change set's line. Tags: 0 for
    // the policy's objects, entry index + 1 for the change set's.
    builder b;
    std::array<std::vector<const object*>, object_kind_count> added;  // by kind, in the builder's order
    const auto add = [&](const object& o, std::size_t tag) {
        added[static_cast<std::size_t>(kind_of(o))].push_back(&o);
        std::visit([&](const auto& v) { b.add(v, tag); }, o);
    };
    for (std::size_t i = 0; i < objects.size(); ++i)
        if (gone[i] == kept) add(objects[i], 0);
    for (std::size_t i = 0; i < changes.entries.size(); ++i)
        if (usable[i] && changes.entries[i].op == change_op::add) add(changes.entries[i].value, i + 1);
    build_result built = b.build();
    const auto object_at = [&](const object_ref& r) -> const object& { return *added[static_cast<std::size_t>(r.kind)][r.index]; };
    for (const diagnostic& d : built.diagnostics) {
        std::string message = d.message;
        if (d.related) {
            // A change set made in code (diff) has no lines: its objects are named instead.
            const std::size_t related_line = d.related->tag != 0 ? changes.entries[d.related->tag - 1].line : 0;
            if (related_line != 0) message += " (see line " + std::to_string(related_line) + ")";
            else message += " (see " + format_identity(object_at(*d.related)) + ")";
        }
        if (d.object.tag != 0) {
            const change_entry& e = changes.entries[d.object.tag - 1];
            error(e, cs::column_of(e, d.field, d.cross_object), std::move(message));
            continue;
        }
        // An object the change set did not name: the line that made it wrong is one that
        // changed what it refers to, or the conflicting object's; else the first line.
        const object& o = object_at(d.object);
        const cs::references refs = cs::references_of(o);
        const change_entry* cause = nullptr;
        if (d.related && d.related->tag != 0) cause = &changes.entries[d.related->tag - 1];
        for (std::size_t i = 0; cause == nullptr && i < changes.entries.size(); ++i)
            if (usable[i] && cs::is_referenced(refs, changes.entries[i].value)) cause = &changes.entries[i];
        if (cause == nullptr && !changes.entries.empty()) cause = &changes.entries.front();
        if (cause == nullptr) {  // an invalid base: cannot be (a model is valid), but never lose an error
            out.diagnostics.push_back(load_diagnostic{changes.file, 0, 0, format_identity(o) + ": " + message});
            continue;
        }
        error(*cause, kind_column(*cause), "makes " + format_identity(o) + " invalid: " + message);
    }
    cs::sort_diagnostics(out.diagnostics);
    if (out.diagnostics.empty()) out.validated = std::move(built.validated);
    return out;
}

/// The policy that change sets `sets`, each already validated against the result of the ones
/// before it (live_policy's record-by-record ones), make of `base`: their effects in order
/// (a removal of an object that is not there is skipped), then one validation of the result.
/// O(n log n + k) for the whole list, where applying them one by one would be O(n log n) each.
[[nodiscard]] inline load_result apply_validated_change_sets(const model& base, std::span<const change_set> sets) {
    std::map<object_identity, object> objects;
    const auto keep = [&objects](const auto& list) {
        for (const auto& v : list) {
            object o{v};
            objects.insert_or_assign(identity_of(o), std::move(o));
        }
    };
    keep(base.provider_addresses());
    keep(base.provider_routes());
    keep(base.routing_domains());
    keep(base.virtual_subnets());
    keep(base.customer_routes());
    keep(base.lookup_records());
    keep(base.port_classifications());
    for (const change_set& set : sets)
        for (const change_entry& e : set.entries) {
            if (e.op == change_op::add) objects.insert_or_assign(identity_of(e.value), e.value);
            else objects.erase(identity_of(e.value));
        }
    builder b;
    for (const auto& [id, o] : objects) std::visit([&b](const auto& v) { b.add(v); }, o);
    build_result built = b.build();
    load_result out;
    for (const diagnostic& d : built.diagnostics) out.diagnostics.push_back(load_diagnostic{"", 0, 0, to_string(d)});
    if (out.diagnostics.empty()) out.validated = std::move(built.validated);
    return out;
}

/// parse_change_set + apply_change_set: the resulting policy, or every error of the text and
/// of its application.
[[nodiscard]] inline load_result apply_change_set_text(const model& base, std::string_view text, std::string_view file_name) {
    change_set_parse parsed = parse_change_set(text, file_name);
    load_result applied = apply_change_set(base, parsed.changes);
    if (parsed.diagnostics.empty()) return applied;
    parsed.diagnostics.insert(parsed.diagnostics.end(), applied.diagnostics.begin(), applied.diagnostics.end());
    detail::change_sets::sort_diagnostics(parsed.diagnostics);
    load_result out;
    out.diagnostics = std::move(parsed.diagnostics);
    return out;
}

/// The change set that turns `a` into `b`: removals first (records before routes, subnets,
/// domains, provider addresses), then additions and replacements in canonical order. Empty
/// when the two are the same policy.
[[nodiscard]] inline change_set diff(const model& a, const model& b) {
    const std::vector<object> from = canonical_objects(a);
    const std::vector<object> to = canonical_objects(b);
    std::vector<object_identity> from_ids, to_ids;
    from_ids.reserve(from.size());
    to_ids.reserve(to.size());
    for (const auto& o : from) from_ids.push_back(identity_of(o));
    for (const auto& o : to) to_ids.push_back(identity_of(o));
    change_set out;
    std::vector<change_entry> adds;
    std::size_t i = 0, j = 0;
    while (i < from.size() || j < to.size()) {
        if (j == to.size() || (i < from.size() && from_ids[i] < to_ids[j])) {
            out.entries.push_back(change_entry{change_op::remove, from[i], 0, std::nullopt});
            ++i;
        } else if (i == from.size() || to_ids[j] < from_ids[i]) {
            adds.push_back(change_entry{change_op::add, to[j], 0, std::nullopt});
            ++j;
        } else {
            if (!(from[i] == to[j])) adds.push_back(change_entry{change_op::add, to[j], 0, std::nullopt});
            ++i;
            ++j;
        }
    }
    std::reverse(out.entries.begin(), out.entries.end());
    out.entries.insert(out.entries.end(), std::make_move_iterator(adds.begin()), std::make_move_iterator(adds.end()));
    return out;
}

/// The text of a change set: one `+ ` line (the whole object, canonical) or `- ` line (its
/// identity keys) per entry, each ended by a newline.
[[nodiscard]] inline std::string format(const change_set& changes) {
    std::string out;
    for (const change_entry& e : changes.entries) {
        out += e.op == change_op::add ? "+ " : "- ";
        out += e.op == change_op::add ? format_object(e.value) : format_identity(e.value);
        out += '\n';
    }
    return out;
}

}  // namespace nvgre::policy
