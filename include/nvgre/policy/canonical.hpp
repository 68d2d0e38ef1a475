/// @file policy/canonical.hpp
/// @brief The canonical text of a policy (docs/policy-lifecycle.md) and the identities of its
/// objects: what `format`, `diff` and change sets are built on.
///
/// Canonical text: objects in the order of docs/policy-format.md's table, each kind sorted by
/// identity; keys in the table's order; optional keys only when they differ from their
/// defaults; MACs lower-case with colons, GUIDs lower-case in braces, IPv6 in RFC 5952 form.
/// Two policies that mean the same have the same canonical text, whatever order and spelling
/// their files used, so `format(a) == format(b)` compares policies.
///
/// Identities (what a `+ ` line replaces and a `- ` line names): provider-address (host, pa),
/// provider-route (host, prefix, metric), routing-domain (rdid), virtual-subnet (vsid),
/// customer-route (rdid, vsid, prefix, metric), lookup-record (vsid, ca; plus mac for a
/// gateway-wildcard record). Routes carry their metric in the identity because a valid policy
/// may hold two routes to one prefix that differ only in metric.
///
/// Control plane: allocates; never throws by itself.
#pragma once

#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/model.hpp"
#include "nvgre/rdid.hpp"

#include <algorithm>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace nvgre::policy {

/// The kind of `o` (the variant's alternatives are in object_kind's order).
[[nodiscard]] inline object_kind kind_of(const object& o) noexcept { return static_cast<object_kind>(o.index()); }

/// What names one object of a policy: two objects of a valid policy never share one. Only the
/// fields of the object's kind are set; the comparison orders a kind by its identity keys in
/// the order docs/policy-lifecycle.md lists them.
struct object_identity {
    object_kind kind{};
    std::string host;                ///< provider-address, provider-route
    rdid domain{};                   ///< customer-route (routing-domain: its rdid)
    std::uint32_t vsid{0};           ///< virtual-subnet, customer-route, lookup-record
    ip_prefix prefix{};              ///< provider-route, customer-route
    ip_address address{};            ///< provider-address: pa; lookup-record: ca
    std::uint32_t metric{0};         ///< provider-route, customer-route
    std::optional<mac_address> mac;  ///< lookup-record of type gateway-wildcard only
    std::string name;                ///< port-classification
    friend auto operator<=>(const object_identity&, const object_identity&) = default;
    friend bool operator==(const object_identity&, const object_identity&) = default;
};

/// The identity of `o`.
[[nodiscard]] inline object_identity identity_of(const object& o) {
    object_identity id;
    id.kind = kind_of(o);
    std::visit(
        [&id](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, provider_address>) {
                id.host = v.host;
                id.address = v.pa;
            } else if constexpr (std::is_same_v<T, provider_route>) {
                id.host = v.host;
                id.prefix = v.prefix;
                id.metric = v.metric;
            } else if constexpr (std::is_same_v<T, routing_domain>) {
                id.domain = v.id;
            } else if constexpr (std::is_same_v<T, virtual_subnet>) {
                id.vsid = v.id.value();
            } else if constexpr (std::is_same_v<T, customer_route>) {
                id.domain = v.domain;
                id.vsid = v.subnet.value();
                id.prefix = v.prefix;
                id.metric = v.metric;
            } else if constexpr (std::is_same_v<T, port_classification>) {
                id.name = v.name;
            } else {
                id.vsid = v.subnet.value();
                id.address = v.ca;
                // A wildcard's CA is 0.0.0.0 / :: for every gateway of the VSID: its NIC tells them apart.
                if (v.ca.is_unspecified()) id.mac = v.mac;
            }
        },
        o);
    return id;
}

namespace detail::canonical {

inline void key(std::string& out, std::string_view name, const std::string& value) {
    out += ' ';
    out += name;
    out += '=';
    out += value;
}

/// A rate in bit/s with the largest of G, M, K that divides it exactly (100000000 -> 100M).
inline std::string rate_text(std::uint64_t bits) {
    if (bits != 0 && bits % 1'000'000'000 == 0) return std::to_string(bits / 1'000'000'000) + "G";
    if (bits != 0 && bits % 1'000'000 == 0) return std::to_string(bits / 1'000'000) + "M";
    if (bits != 0 && bits % 1'000 == 0) return std::to_string(bits / 1'000) + "K";
    return std::to_string(bits);
}

/// The keys of `o` in canonical form; only its identity keys when `identity_only`.
inline std::string keys_of(const object& o, bool identity_only) {
    std::string out(to_string(kind_of(o)));
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, provider_address>) {
                key(out, "host", v.host);
                key(out, "pa", v.pa.to_string());
                if (identity_only) return;
                key(out, "prefix-length", std::to_string(v.prefix_length));
                key(out, "mac", v.mac.to_string());
                if (v.vlan != 0) key(out, "vlan", std::to_string(v.vlan));
            } else if constexpr (std::is_same_v<T, provider_route>) {
                key(out, "host", v.host);
                key(out, "prefix", v.prefix.to_string());
                if (!identity_only) {
                    key(out, "next-hop", v.next_hop.to_string());
                    key(out, "next-hop-mac", v.next_hop_mac.to_string());
                }
                if (v.metric != default_customer_route_metric) key(out, "metric", std::to_string(v.metric));
            } else if constexpr (std::is_same_v<T, routing_domain>) {
                key(out, "rdid", policy::detail::braced(v.id));
                if (identity_only) return;
                if (!v.name.empty()) key(out, "name", v.name);
                if (v.router_mac != default_router_mac) key(out, "router-mac", v.router_mac.to_string());
            } else if constexpr (std::is_same_v<T, virtual_subnet>) {
                key(out, "vsid", std::to_string(v.id.value()));
                if (identity_only) return;
                key(out, "rdid", policy::detail::braced(v.domain));
                std::string gateways;
                if (v.gateway_v4) gateways = v.gateway_v4->to_string();
                if (v.gateway_v6) gateways += (gateways.empty() ? "" : ",") + v.gateway_v6->to_string();
                if (!gateways.empty()) key(out, "gateway", gateways);
                if (v.dhcp) key(out, "dhcp", "on");
                if (!v.dns.empty()) {
                    std::string servers;
                    for (const ipv4_address& d : v.dns) servers += (servers.empty() ? "" : ",") + d.to_string();
                    key(out, "dns", servers);
                }
                if (v.lease_seconds != default_lease_seconds) key(out, "lease-seconds", std::to_string(v.lease_seconds));
            } else if constexpr (std::is_same_v<T, customer_route>) {
                key(out, "rdid", policy::detail::braced(v.domain));
                key(out, "vsid", std::to_string(v.subnet.value()));
                key(out, "prefix", v.prefix.to_string());
                if (!identity_only) key(out, "next-hop", v.next_hop.to_string());
                if (v.metric != default_customer_route_metric) key(out, "metric", std::to_string(v.metric));
            } else if constexpr (std::is_same_v<T, port_classification>) {
                key(out, "name", v.name);
                if (identity_only) return;
                if (v.allow_mac_spoofing) key(out, "allow-mac-spoofing", "on");
                if (v.dhcp_guard) key(out, "dhcp-guard", "on");
                if (v.router_guard) key(out, "router-guard", "on");
                if (v.maximum_bandwidth != 0) key(out, "maximum-bandwidth", rate_text(v.maximum_bandwidth));
                if (v.maximum_burst != 0) key(out, "maximum-burst", std::to_string(v.maximum_burst));
                if (v.outer_dscp) key(out, "outer-dscp", std::to_string(*v.outer_dscp));
            } else {
                key(out, "vsid", std::to_string(v.subnet.value()));
                key(out, "ca", v.ca.to_string());
                if (identity_only) {
                    if (v.ca.is_unspecified()) key(out, "mac", v.mac.to_string());
                    return;
                }
                key(out, "mac", v.mac.to_string());
                key(out, "pa", v.pa.to_string());
                if (v.rule != rule::encap) key(out, "rule", std::string(to_string(v.rule)));
                if (v.type != record_type::static_record) key(out, "type", std::string(to_string(v.type)));
                if (!v.vm.empty()) key(out, "vm", v.vm);
                if (!v.classification.empty()) key(out, "classification", v.classification);
            }
        },
        o);
    return out;
}

}  // namespace detail::canonical

/// `o` as one canonical line (no newline), e.g. `lookup-record vsid=5001 ca=10.0.0.5
/// mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web`.
[[nodiscard]] inline std::string format_object(const object& o) { return detail::canonical::keys_of(o, false); }

/// `o`'s identity keys only, as a `- ` line of a change set names it (no prefix, no newline).
[[nodiscard]] inline std::string format_identity(const object& o) { return detail::canonical::keys_of(o, true); }

/// Every object of `m`, in canonical order (kind, then identity).
[[nodiscard]] inline std::vector<object> canonical_objects(const model& m) {
    std::vector<std::pair<object_identity, object>> all;
    all.reserve(m.provider_addresses().size() + m.provider_routes().size() + m.routing_domains().size() +
                m.virtual_subnets().size() + m.customer_routes().size() + m.lookup_records().size() +
                m.port_classifications().size());
    const auto add = [&all](const auto& list) {
        for (const auto& v : list) {
            object o{v};
            all.emplace_back(identity_of(o), std::move(o));
        }
    };
    add(m.provider_addresses());
    add(m.provider_routes());
    add(m.routing_domains());
    add(m.virtual_subnets());
    add(m.customer_routes());
    add(m.lookup_records());
    add(m.port_classifications());
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<object> out;
    out.reserve(all.size());
    for (auto& p : all) out.push_back(std::move(p.second));
    return out;
}

/// The canonical text of `m`: one line per object, each ended by a newline; empty for the
/// empty policy. load_policy_text(format(m)) gives back a model with the same canonical text.
[[nodiscard]] inline std::string format(const model& m) {
    std::string out;
    for (const object& o : canonical_objects(m)) {
        out += format_object(o);
        out += '\n';
    }
    return out;
}

}  // namespace nvgre::policy
