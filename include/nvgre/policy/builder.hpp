/// @file policy/builder.hpp
/// @brief Validates a set of policy objects (policy/model.hpp) into a `policy::model`, or
/// reports every problem of the set (docs/policy-format.md, "Validation").
///
/// An embedder hands objects to a `builder` one by one; each `add` checks the object's own
/// values at once, and `build()` checks the whole set (duplicates, references, conflicts) and
/// returns either a validated `model` or all diagnostics. A diagnostic names the object (kind,
/// index among the objects of its kind, and the caller's tag, e.g. a line number), the field
/// (the key name of docs/policy-format.md, so a text loader can point at its column) and a message.
/// A conflict between two objects is reported at the later one, with the earlier as `related`.
///
/// Control plane: allocates (std::vector, std::string, std::map); never throws by itself.
#pragma once

#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/policy/model.hpp"
#include "nvgre/policy/validator.hpp"
#include "nvgre/rdid.hpp"
#include "nvgre/vsid.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace nvgre::policy {

/// The seven object kinds, in the order of docs/policy-format.md's table.
enum class object_kind : std::uint8_t {
    provider_address,
    provider_route,
    routing_domain,
    virtual_subnet,
    customer_route,
    lookup_record,
    port_classification,
};
/// How many object kinds there are.
inline constexpr std::size_t object_kind_count = 7;

/// The kind as written in a policy file, e.g. "provider-address".
[[nodiscard]] constexpr std::string_view to_string(object_kind k) noexcept {
    switch (k) {
        case object_kind::provider_address: return "provider-address";
        case object_kind::provider_route: return "provider-route";
        case object_kind::routing_domain: return "routing-domain";
        case object_kind::virtual_subnet: return "virtual-subnet";
        case object_kind::customer_route: return "customer-route";
        case object_kind::lookup_record: return "lookup-record";
        case object_kind::port_classification: return "port-classification";
    }
    return "unknown";
}

/// Highest VLAN id a provider address may carry (4095 is reserved by IEEE 802.1Q).
inline constexpr std::uint32_t max_vlan = 4094;
/// Shortest DHCP lease a subnet may hand out (a VM renews at half of it).
inline constexpr std::uint32_t min_lease_seconds = 60;

namespace detail {

/// `text` between single quotes for a message: printable ASCII as is, every other byte as
/// \xNN, cut after 64 bytes with "..." (so a hostile token cannot flood a terminal).
inline std::string quoted(std::string_view text) {
    static constexpr std::size_t max_shown = 64;
    std::string out = "'";
    const std::size_t n = std::min(text.size(), max_shown);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += nvgre::detail::hex_digits[c >> 4];
            out += nvgre::detail::hex_digits[c & 0xf];
        }
    }
    if (text.size() > max_shown) out += "...";
    out += '\'';
    return out;
}

/// "{xxxxxxxx-...}": how docs/policy-format.md writes a GUID.
inline std::string braced(const rdid& id) { return "{" + id.to_string() + "}"; }

inline std::string_view version_name(const ip_address& a) noexcept { return a.is_v4() ? "IPv4" : "IPv6"; }

/// The message for a VLAN id above max_vlan (shared with the text loader).
inline std::string vlan_range_message(std::uint64_t vlan) {
    return "vlan " + std::to_string(vlan) + " is outside 0.." + std::to_string(max_vlan);
}

inline std::string bad_name_message(std::string_view key, std::string_view value) {
    return std::string(key) + " " + quoted(value) + " is not a valid name (letters, digits, '-', '_', '.')";
}

}  // namespace detail

/// One object handed to a builder: its kind, its index among the objects of that kind (in the
/// order they were added, from 0) and the caller's tag (e.g. the loader's line number).
struct object_ref {
    object_kind kind{};
    std::size_t index{0};
    std::size_t tag{0};
    friend bool operator==(const object_ref&, const object_ref&) = default;
};

/// One problem of a policy.
struct diagnostic {
    object_ref object;            ///< where it is reported (for a conflict: the later object)
    std::string_view field;       ///< the key name of docs/policy-format.md, e.g. "vsid"; a literal, never empty
    std::string message;          ///< e.g. "virtual subnet 5001 is not declared"
    /// false: a value of the object itself is wrong (a loader points at the value);
    /// true: a reference or a conflict with other objects (a loader points at the key).
    bool cross_object{false};
    std::optional<object_ref> related;  ///< the earlier object of a conflict
    /// For lookup records and customer routes: the rule broken (policy/validator.hpp), the
    /// status `state::apply` gives the same object. change_status::ok for the other kinds,
    /// whose rules only the builder checks.
    change_status status{change_status::ok};
};

/// "lookup-record #3 (tag 12): pa: message (see lookup-record #1 (tag 7))", for logs and tests.
[[nodiscard]] inline std::string to_string(const object_ref& r) {
    return std::string(to_string(r.kind)) + " #" + std::to_string(r.index) + " (tag " + std::to_string(r.tag) + ")";
}
[[nodiscard]] inline std::string to_string(const diagnostic& d) {
    std::string s = to_string(d.object) + ": " + std::string(d.field) + ": " + d.message;
    if (d.related) s += " (see " + to_string(*d.related) + ")";
    return s;
}

/// The sizes of a model, e.g. for `nvgre-pcap policy`.
struct model_counts {
    std::size_t hosts{0};
    std::size_t provider_addresses{0};
    std::size_t provider_routes{0};
    std::size_t routing_domains{0};
    std::size_t virtual_subnets{0};
    std::size_t customer_routes{0};
    std::size_t lookup_records{0};
    std::size_t port_classifications{0};
    friend bool operator==(const model_counts&, const model_counts&) = default;
};

class builder;

/// A validated policy: every rule of docs/policy-format.md holds. Only a builder makes a non-empty
/// one; the default model is the (valid) empty policy. Immutable; copy and move freely (the
/// pointers the find functions return point into the model they were called on).
class model {
public:
    model() = default;

    [[nodiscard]] const std::vector<provider_address>& provider_addresses() const noexcept { return provider_addresses_; }
    [[nodiscard]] const std::vector<provider_route>& provider_routes() const noexcept { return provider_routes_; }
    [[nodiscard]] const std::vector<routing_domain>& routing_domains() const noexcept { return routing_domains_; }
    [[nodiscard]] const std::vector<virtual_subnet>& virtual_subnets() const noexcept { return virtual_subnets_; }
    [[nodiscard]] const std::vector<customer_route>& customer_routes() const noexcept { return customer_routes_; }
    [[nodiscard]] const std::vector<lookup_record>& lookup_records() const noexcept { return lookup_records_; }
    [[nodiscard]] const std::vector<port_classification>& port_classifications() const noexcept { return port_classifications_; }
    /// The distinct host names of the provider addresses, in order of first appearance.
    [[nodiscard]] const std::vector<std::string>& hosts() const noexcept { return hosts_; }

    [[nodiscard]] model_counts counts() const noexcept {
        return {hosts_.size(),           provider_addresses_.size(), provider_routes_.size(), routing_domains_.size(),
                virtual_subnets_.size(), customer_routes_.size(),    lookup_records_.size(), port_classifications_.size()};
    }

    /// The routing domain `id`, or nullptr. O(log n).
    [[nodiscard]] const routing_domain* find_domain(const rdid& id) const {
        const auto it = domain_index_.find(id);
        return it == domain_index_.end() ? nullptr : &routing_domains_[it->second];
    }
    /// The virtual subnet `id`, or nullptr. O(log n).
    [[nodiscard]] const virtual_subnet* find_subnet(nvgre::vsid id) const {
        const auto it = subnet_index_.find(id.value());
        return it == subnet_index_.end() ? nullptr : &virtual_subnets_[it->second];
    }
    /// The routing domain subnet `id` belongs to, or nullptr when `id` is not declared. O(log n).
    [[nodiscard]] const routing_domain* domain_of(nvgre::vsid id) const {
        const virtual_subnet* s = find_subnet(id);
        return s == nullptr ? nullptr : find_domain(s->domain);
    }
    /// The port classification `name`, or nullptr. O(log n).
    [[nodiscard]] const port_classification* find_classification(std::string_view name) const {
        const auto it = classification_index_.find(name);
        return it == classification_index_.end() ? nullptr : &port_classifications_[it->second];
    }
    /// The provider address `pa`, or nullptr. O(log n).
    [[nodiscard]] const provider_address* find_provider_address(const ip_address& pa) const {
        const auto it = pa_index_.find(pa);
        return it == pa_index_.end() ? nullptr : &provider_addresses_[it->second];
    }
    /// The host that owns provider address `pa`; empty when `pa` is not declared. O(log n).
    [[nodiscard]] std::string_view host_of_pa(const ip_address& pa) const {
        const provider_address* p = find_provider_address(pa);
        return p == nullptr ? std::string_view{} : std::string_view{p->host};
    }
    /// True if some provider address belongs to `host`. O(hosts).
    [[nodiscard]] bool has_host(std::string_view host) const noexcept {
        return std::find(hosts_.begin(), hosts_.end(), host) != hosts_.end();
    }

private:
    friend class builder;

    std::vector<provider_address> provider_addresses_;
    std::vector<provider_route> provider_routes_;
    std::vector<routing_domain> routing_domains_;
    std::vector<virtual_subnet> virtual_subnets_;
    std::vector<customer_route> customer_routes_;
    std::vector<lookup_record> lookup_records_;
    std::vector<port_classification> port_classifications_;
    std::vector<std::string> hosts_;
    std::map<rdid, std::size_t> domain_index_;
    std::map<std::string, std::size_t, std::less<>> classification_index_;
    std::map<std::uint32_t, std::size_t> subnet_index_;
    std::map<ip_address, std::size_t> pa_index_;
};

/// What build() returns: a model when the policy is valid, otherwise every diagnostic.
struct build_result {
    std::optional<model> validated;       ///< set if and only if `diagnostics` is empty
    std::vector<diagnostic> diagnostics;  ///< in the order the objects were added
    [[nodiscard]] explicit operator bool() const noexcept { return validated.has_value(); }
};

/// Collects policy objects and validates them (docs/policy-format.md). Typical use:
/// ```
/// policy::builder b;
/// b.add(policy::routing_domain{red, "red"});
/// b.add(policy::virtual_subnet{*vsid::make(5001), red, std::nullopt, std::nullopt});
/// auto r = b.build();   // r.validated, or r.diagnostics
/// ```
class builder {
public:
    using tag_type = std::size_t;

    /// Each add checks the object's own values (reported as diagnostics with cross_object
    /// false) and keeps the object for build() either way. Returns true if its own values are
    /// valid. O(1) amortised (plus the length of its names).
    bool add(provider_address v, tag_type tag = 0) {
        const object_ref ref = next_ref(object_kind::provider_address, provider_addresses_.size(), tag);
        bool ok = check_name(ref, "host", v.host, false);
        const unsigned max_len = v.pa.is_v4() ? 32u : 128u;
        if (v.prefix_length > max_len) {
            ok = value_error(ref, "prefix-length",
                             "prefix-length " + std::to_string(v.prefix_length) + " is too long for an " +
                                 std::string(detail::version_name(v.pa)) + " pa (at most " +
                                 std::to_string(max_len) + ")");
        }
        if (v.vlan > max_vlan) ok = value_error(ref, "vlan", detail::vlan_range_message(v.vlan));
        provider_addresses_.push_back({std::move(v), ref, sequence_++});
        return ok;
    }
    bool add(provider_route v, tag_type tag = 0) {
        const object_ref ref = next_ref(object_kind::provider_route, provider_routes_.size(), tag);
        const bool ok = check_name(ref, "host", v.host, false);
        provider_routes_.push_back({std::move(v), ref, sequence_++});
        return ok;
    }
    bool add(routing_domain v, tag_type tag = 0) {
        const object_ref ref = next_ref(object_kind::routing_domain, routing_domains_.size(), tag);
        const bool ok = check_name(ref, "name", v.name, true);
        routing_domains_.push_back({std::move(v), ref, sequence_++});
        return ok;
    }
    bool add(virtual_subnet v, tag_type tag = 0) {
        // VSID range and "at most one IPv4 and one IPv6 gateway" are already in the types.
        const object_ref ref = next_ref(object_kind::virtual_subnet, virtual_subnets_.size(), tag);
        bool ok = true;
        if (v.dns.size() > max_dns_servers)
            ok = value_error(ref, "dns", "dns lists " + std::to_string(v.dns.size()) + " servers (at most " +
                                             std::to_string(max_dns_servers) + ")");
        if (v.lease_seconds < min_lease_seconds)
            ok = value_error(ref, "lease-seconds", "lease-seconds " + std::to_string(v.lease_seconds) + " is below " +
                                                       std::to_string(min_lease_seconds));
        virtual_subnets_.push_back({std::move(v), ref, sequence_++});
        return ok;
    }
    bool add(port_classification v, tag_type tag = 0) {
        const object_ref ref = next_ref(object_kind::port_classification, port_classifications_.size(), tag);
        bool ok = check_name(ref, "name", v.name, false);
        if (v.maximum_bandwidth != 0 && (v.maximum_bandwidth < min_bandwidth || v.maximum_bandwidth > max_bandwidth))
            ok = value_error(ref, "maximum-bandwidth", "maximum-bandwidth " + std::to_string(v.maximum_bandwidth) +
                                                           " bit/s is outside 100K..1000G");
        if (v.maximum_burst != 0 && (v.maximum_burst < min_burst || v.maximum_burst > max_burst))
            ok = value_error(ref, "maximum-burst", "maximum-burst " + std::to_string(v.maximum_burst) + " is outside " +
                                                       std::to_string(min_burst) + ".." + std::to_string(max_burst) + " bytes");
        if (v.maximum_burst != 0 && v.maximum_bandwidth == 0)
            ok = value_error(ref, "maximum-burst", "maximum-burst needs maximum-bandwidth");
        if (v.outer_dscp && *v.outer_dscp > max_dscp)
            ok = value_error(ref, "outer-dscp", "outer-dscp " + std::to_string(*v.outer_dscp) + " is outside 0..63");
        port_classifications_.push_back({std::move(v), ref, sequence_++});
        return ok;
    }
    bool add(customer_route v, tag_type tag = 0) {
        const object_ref ref = next_ref(object_kind::customer_route, customer_routes_.size(), tag);
        const bool ok = check_values<object_ref>(v, [&](const violation<object_ref>& x) { own_error(ref, v, x); });
        customer_routes_.push_back({std::move(v), ref, sequence_++, ok});
        return ok;
    }
    bool add(lookup_record v, tag_type tag = 0) {
        const object_ref ref = next_ref(object_kind::lookup_record, lookup_records_.size(), tag);
        const bool ok = check_values<object_ref>(v, [&](const violation<object_ref>& x) { own_error(ref, v, x); });
        lookup_records_.push_back({std::move(v), ref, sequence_++, ok});
        return ok;
    }

    /// Tells the builder that a declaration of this id exists but could not be added (the
    /// caller already reported why, e.g. a malformed value on its line): references to it are
    /// then not reported as undeclared. A builder with assumed declarations still needs the
    /// caller's own errors to fail; build() alone does not fail because of them.
    void assume_declared(const rdid& id) { assumed_domains_.insert(id); }
    void assume_declared(nvgre::vsid id) { assumed_subnets_.insert(id.value()); }
    void assume_declared(const ip_address& pa) { assumed_pas_.insert(pa); }

    /// The diagnostics of the objects' own values found so far by add().
    [[nodiscard]] std::vector<diagnostic> value_diagnostics() const {
        std::vector<diagnostic> out;
        out.reserve(own_.size());
        for (const auto& p : own_) out.push_back(p.second);
        return out;
    }

    /// Validates the whole set. O(n log n) in the number of objects; the builder is unchanged
    /// (build again after more adds).
    [[nodiscard]] build_result build() const {
        std::vector<std::pair<std::size_t, diagnostic>> found = own_;
        const auto conflict = [&](const auto& e, std::string_view field, std::string message,
                                  std::optional<object_ref> related = std::nullopt) {
            found.push_back({e.sequence, diagnostic{e.ref, field, std::move(message), true, related}});
        };

        // Provider addresses: one declaration per PA; hosts in order of first appearance.
        std::vector<std::string> hosts;
        std::map<std::string, std::uint32_t, std::less<>> host_set;  // host -> index in hosts
        std::vector<std::uint32_t> pa_host;                           // provider index -> index in hosts
        std::map<ip_address, std::size_t> pa_index;
        for (std::size_t i = 0; i < provider_addresses_.size(); ++i) {
            const auto& e = provider_addresses_[i];
            const auto [h, new_host] = host_set.try_emplace(e.value.host, static_cast<std::uint32_t>(hosts.size()));
            if (new_host) hosts.push_back(e.value.host);
            pa_host.push_back(h->second);
            const auto [it, inserted] = pa_index.emplace(e.value.pa, i);
            if (!inserted) {
                const auto& first = provider_addresses_[it->second];
                conflict(e, "pa",
                         "provider address " + e.value.pa.to_string() + " is already declared (host " +
                             first.value.host + ")",
                         first.ref);
            }
        }

        // Provider routes: for a declared host; one route per (host, prefix, metric).
        std::map<std::tuple<std::string, ip_prefix, std::uint32_t>, std::size_t> provider_route_index;
        for (std::size_t i = 0; i < provider_routes_.size(); ++i) {
            const auto& e = provider_routes_[i];
            if (host_set.find(e.value.host) == host_set.end())
                conflict(e, "host", "host " + e.value.host + " has no provider address");
            const auto [it, inserted] =
                provider_route_index.emplace(std::tuple{e.value.host, e.value.prefix, e.value.metric}, i);
            if (!inserted) {
                conflict(e, "prefix",
                         "host " + e.value.host + " already has a route to " + e.value.prefix.to_string() +
                             " with metric " + std::to_string(e.value.metric),
                         provider_routes_[it->second].ref);
            }
        }

        // Routing domains: each declared once.
        std::map<rdid, std::size_t> domain_index;
        for (std::size_t i = 0; i < routing_domains_.size(); ++i) {
            const auto& e = routing_domains_[i];
            const auto [it, inserted] = domain_index.emplace(e.value.id, i);
            if (!inserted) {
                conflict(e, "rdid", "routing domain " + detail::braced(e.value.id) + " is already declared",
                         routing_domains_[it->second].ref);
            }
        }
        const auto domain_declared = [&](const rdid& id) {
            return domain_index.count(id) != 0 || assumed_domains_.count(id) != 0;
        };

        // Virtual subnets: in a declared domain; each VSID once, in one domain.
        std::map<std::uint32_t, std::size_t> subnet_index;
        for (std::size_t i = 0; i < virtual_subnets_.size(); ++i) {
            const auto& e = virtual_subnets_[i];
            if (!domain_declared(e.value.domain))
                conflict(e, "rdid", "routing domain " + detail::braced(e.value.domain) + " is not declared");
            const auto [it, inserted] = subnet_index.emplace(e.value.id.value(), i);
            if (!inserted) {
                const auto& first = virtual_subnets_[it->second];
                std::string m = "virtual subnet " + std::to_string(e.value.id.value()) + " is already declared";
                if (first.value.domain != e.value.domain) m += " in routing domain " + detail::braced(first.value.domain);
                conflict(e, "vsid", std::move(m), first.ref);
            }
        }
        // Customer routes and lookup records: the rules of policy/validator.hpp, in the order
        // the objects were added, each checked against the ones before it that passed (as the
        // host state applies them).
        file_index index(*this, domain_index, subnet_index, pa_index, hosts, std::move(pa_host));
        for (std::size_t i = 0; i < customer_routes_.size(); ++i) {
            const auto& e = customer_routes_[i];
            const bool ok = check_route(index, e.value, identity::unique, [&](const violation<object_ref>& v) {
                found.push_back({e.sequence, diagnostic{e.ref, v.field, index.message(e.value, v), true, v.related, v.status}});
            });
            if (e.own_ok && ok) index.add_route(i);
        }
        for (std::size_t i = 0; i < lookup_records_.size(); ++i) {
            const auto& e = lookup_records_[i];
            const auto check = check_record(index, e.value, identity::unique, [&](const violation<object_ref>& v) {
                found.push_back({e.sequence, diagnostic{e.ref, v.field, index.message(e.value, v), true, v.related, v.status}});
            });
            if (e.own_ok && check.ok) index.add_record(i);
        }

        // Port classifications: each declared once; a record names a declared one, and every
        // record of one NIC (one MAC on one host) the same one (or none).
        std::map<std::string, std::size_t, std::less<>> classification_index;
        for (std::size_t i = 0; i < port_classifications_.size(); ++i) {
            const auto& e = port_classifications_[i];
            const auto [it, inserted] = classification_index.emplace(e.value.name, i);
            if (!inserted)
                conflict(e, "name", "port classification " + detail::quoted(e.value.name) + " is already declared",
                         port_classifications_[it->second].ref);
        }
        std::map<std::pair<std::uint32_t, mac_address>, std::size_t> nic_records;  // (host, MAC) -> first record
        for (std::size_t i = 0; i < lookup_records_.size(); ++i) {
            const auto& e = lookup_records_[i];
            if (!e.value.classification.empty() && classification_index.count(e.value.classification) == 0)
                conflict(e, "classification",
                         "port classification " + detail::quoted(e.value.classification) + " is not declared");
            const auto pa = pa_index.find(e.value.pa);
            if (pa == pa_index.end()) continue;
            const auto [it, inserted] = nic_records.emplace(std::pair{index.host_of(static_cast<std::uint32_t>(pa->second)), e.value.mac}, i);
            if (inserted) continue;
            const auto& first = lookup_records_[it->second];
            if (first.value.classification == e.value.classification) continue;
            const auto name = [](const std::string& c) { return c.empty() ? std::string("none") : detail::quoted(c); };
            conflict(e, e.value.classification.empty() ? "mac" : "classification",
                     "mac " + e.value.mac.to_string() + " on host " + hosts[index.host_of(static_cast<std::uint32_t>(pa->second))] +
                         " has classification " + name(first.value.classification) + " on another record, not " +
                         name(e.value.classification) + " (every record of a NIC names the same one)",
                     first.ref);
        }

        // DHCP from policy: the subnet needs its IPv4 gateway (router and server identifier)
        // and an IPv4 on-link route (the mask); IP rewrite hands out no CA, so no nat record.
        std::set<std::uint32_t> v4_on_link;               // VSIDs with an IPv4 on-link route
        for (const auto& r : customer_routes_)
            if (r.value.on_link() && r.value.prefix.address().is_v4()) v4_on_link.insert(r.value.subnet.value());
        std::map<std::uint32_t, std::size_t> first_nat;  // VSID -> its first nat record
        for (std::size_t i = 0; i < lookup_records_.size(); ++i)
            if (lookup_records_[i].value.rule == rule::nat) first_nat.emplace(lookup_records_[i].value.subnet.value(), i);
        for (const auto& e : virtual_subnets_) {
            if (!e.value.dhcp) continue;
            const std::string vsid_text = std::to_string(e.value.id.value());
            if (!e.value.gateway_v4)
                conflict(e, "dhcp", "dhcp=on needs an IPv4 gateway address (the DHCP server and router)");
            if (v4_on_link.count(e.value.id.value()) == 0)
                conflict(e, "dhcp", "dhcp=on needs an IPv4 on-link customer route in virtual subnet " + vsid_text + " (the mask it hands out)");
            if (const auto nat = first_nat.find(e.value.id.value()); nat != first_nat.end()) {
                const auto& r = lookup_records_[nat->second];
                if (r.sequence > e.sequence)
                    conflict(r, "rule", "virtual subnet " + vsid_text + " has dhcp=on, which IP rewrite cannot serve", e.ref);
                else
                    conflict(e, "dhcp", "dhcp=on in a virtual subnet with a nat record (IP rewrite cannot serve it)", r.ref);
            }
        }

        build_result out;
        if (!found.empty()) {
            std::stable_sort(found.begin(), found.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
            out.diagnostics.reserve(found.size());
            for (auto& f : found) out.diagnostics.push_back(std::move(f.second));
            return out;
        }
        model m;
        m.provider_addresses_ = values_of(provider_addresses_);
        m.provider_routes_ = values_of(provider_routes_);
        m.routing_domains_ = values_of(routing_domains_);
        m.virtual_subnets_ = values_of(virtual_subnets_);
        m.customer_routes_ = values_of(customer_routes_);
        m.lookup_records_ = values_of(lookup_records_);
        m.port_classifications_ = values_of(port_classifications_);
        m.classification_index_ = std::move(classification_index);
        m.hosts_ = std::move(hosts);
        m.domain_index_ = std::move(domain_index);
        m.subnet_index_ = std::move(subnet_index);
        m.pa_index_ = std::move(pa_index);
        out.validated = std::move(m);
        return out;
    }

private:
    template <class T>
    struct entry {
        T value;
        object_ref ref;
        std::size_t sequence;  ///< order of the add among all kinds: diagnostics come out in it
        bool own_ok{true};     ///< its own values passed add()'s checks (records and routes)
    };

    template <class T>
    static std::vector<T> values_of(const std::vector<entry<T>>& entries) {
        std::vector<T> out;
        out.reserve(entries.size());
        for (const auto& e : entries) out.push_back(e.value);
        return out;
    }

    static object_ref next_ref(object_kind kind, std::size_t index, tag_type tag) noexcept {
        return object_ref{kind, index, tag};
    }

    /// The builder's answers to the questions of policy/validator.hpp (policy_index), over the
    /// objects of the set: declarations from the maps build() made, routes and records as they
    /// pass their rules. Also words the diagnostics of those rules.
    class file_index {
    public:
        using domain_id = rdid;
        using handle = std::size_t;  ///< index in lookup_records_
        using ref = object_ref;

        file_index(const builder& b, const std::map<rdid, std::size_t>& domains,
                   const std::map<std::uint32_t, std::size_t>& subnets, const std::map<ip_address, std::size_t>& pas,
                   const std::vector<std::string>& hosts, std::vector<std::uint32_t> pa_host)
            : b_(b), domains_(domains), subnets_(subnets), pas_(pas), hosts_(hosts), pa_host_(std::move(pa_host)) {}

        [[nodiscard]] declared<rdid, object_ref> subnet_domain(nvgre::vsid v) const {
            if (const auto it = subnets_.find(v.value()); it != subnets_.end()) {
                const auto& e = b_.virtual_subnets_[it->second];
                return declared<rdid, object_ref>::of(e.value.domain, e.ref);
            }
            return b_.assumed_subnets_.count(v.value()) != 0 ? declared<rdid, object_ref>::assumed()
                                                              : declared<rdid, object_ref>::absent();
        }
        [[nodiscard]] declared<rdid, object_ref> domain(const rdid& id) const {
            if (const auto it = domains_.find(id); it != domains_.end())
                return declared<rdid, object_ref>::of(id, b_.routing_domains_[it->second].ref);
            return b_.assumed_domains_.count(id) != 0 ? declared<rdid, object_ref>::assumed()
                                                       : declared<rdid, object_ref>::absent();
        }
        [[nodiscard]] declared<std::uint32_t, object_ref> provider(const ip_address& pa) const {
            if (const auto it = pas_.find(pa); it != pas_.end())
                return declared<std::uint32_t, object_ref>::of(static_cast<std::uint32_t>(it->second),
                                                               b_.provider_addresses_[it->second].ref);
            return b_.assumed_pas_.count(pa) != 0 ? declared<std::uint32_t, object_ref>::assumed()
                                                   : declared<std::uint32_t, object_ref>::absent();
        }
        [[nodiscard]] std::uint32_t host_of(std::uint32_t provider) const { return pa_host_[provider]; }
        [[nodiscard]] std::optional<held_record<handle>> record_with_ca(const rdid& d, const ip_address& ca) const {
            const auto it = cas_.find(std::pair{d, ca});
            if (it == cas_.end()) return std::nullopt;
            return held(it->second);
        }
        [[nodiscard]] std::optional<held_record<handle>> gateway_with_mac(nvgre::vsid v, ip_version version,
                                                                          const mac_address& mac) const {
            const auto it = gateways_.find(std::tuple{v.value(), version == ip_version::v6, mac});
            if (it == gateways_.end()) return std::nullopt;
            return held(it->second);
        }
        [[nodiscard]] object_ref ref_of(const handle& h) const { return b_.lookup_records_[h].ref; }
        [[nodiscard]] pa_use<object_ref> pa_usage(std::uint32_t provider) const {
            const auto it = pa_uses_.find(provider);
            return it == pa_uses_.end() ? pa_use<object_ref>{} : it->second;
        }
        [[nodiscard]] std::optional<mac_use<object_ref>> mac_usage(std::uint32_t host, const mac_address& mac) const {
            const auto it = mac_uses_.find(std::pair{host, mac});
            if (it == mac_uses_.end()) return std::nullopt;
            return it->second;
        }
        [[nodiscard]] std::optional<object_ref> route_exists(const rdid& d, const ip_prefix& p, std::uint32_t metric) const {
            const auto it = routes_.find(std::tuple{d, p, metric});
            if (it == routes_.end()) return std::nullopt;
            return it->second;
        }

        /// Route `i` passed its rules: later ones are checked against it.
        void add_route(std::size_t i) {
            const auto& e = b_.customer_routes_[i];
            routes_.emplace(std::tuple{e.value.domain, e.value.prefix, e.value.metric}, e.ref);
        }
        /// Record `i` passed its rules: later ones are checked against it.
        void add_record(std::size_t i) {
            const lookup_record& r = b_.lookup_records_[i].value;
            const object_ref ref = b_.lookup_records_[i].ref;
            if (r.type == record_type::gateway_wildcard) {
                gateways_.emplace(std::tuple{r.subnet.value(), r.ca.is_v6(), r.mac}, i);
            } else if (const auto d = subnet_domain(r.subnet); d.value) {
                cas_.emplace(std::pair{*d.value, r.ca}, i);
            }
            const auto pa = pas_.find(r.pa);
            if (pa == pas_.end()) return;  // only assumed: its uses are not known
            auto& use = pa_uses_[static_cast<std::uint32_t>(pa->second)];
            ++use.records;
            if (!use.first) use.first = ref;
            if (r.rule == rule::nat) {
                use.nat = true;
                use.nat_record = ref;
            }
            auto [m, inserted] = mac_uses_.try_emplace(std::pair{pa_host_[pa->second], r.mac});
            if (inserted) m->second = mac_use<object_ref>{r.subnet.value(), 0, ref};
            ++m->second.records;
        }

        /// The text of a diagnostic of record `r`.
        [[nodiscard]] std::string message(const lookup_record& r, const violation<object_ref>& v) const {
            const std::string vsid_text = std::to_string(r.subnet.value());
            const lookup_record* first = v.related ? &b_.lookup_records_[v.related->index].value : nullptr;
            switch (v.status) {
                case change_status::unknown_vsid: return "virtual subnet " + vsid_text + " is not declared";
                case change_status::unknown_pa: return "pa " + r.pa.to_string() + " is not a declared provider address";
                case change_status::duplicate_gateway:
                    return "mac " + r.mac.to_string() + " already has a gateway-wildcard record for " +
                           std::string(detail::version_name(r.ca)) + " in virtual subnet " + vsid_text;
                case change_status::duplicate_ca: {
                    std::string m = "ca " + r.ca.to_string() + " is already used in ";
                    if (first == nullptr || first->subnet == r.subnet) return m + "virtual subnet " + vsid_text;
                    const auto d = subnet_domain(r.subnet);
                    return m + "routing domain " + (d.value ? detail::braced(*d.value) : std::string("?")) +
                           " (virtual subnet " + std::to_string(first->subnet.value()) + ")";
                }
                case change_status::nat_pa_shared:
                    return r.rule == rule::nat
                               ? "pa " + r.pa.to_string() + " of a nat record is already used by another lookup record"
                               : "pa " + r.pa.to_string() + " is already the pa of a nat record";
                case change_status::mac_in_two_subnets: {
                    const auto pa = pas_.find(r.pa);
                    const std::string host = pa == pas_.end() ? std::string("?") : hosts_[pa_host_[pa->second]];
                    return "mac " + r.mac.to_string() + " is already in virtual subnet " +
                           (first == nullptr ? std::string("?") : std::to_string(first->subnet.value())) + " on host " +
                           host;
                }
                default: return value_message(r, v.status);
            }
        }
        /// The text of a diagnostic of route `r`.
        [[nodiscard]] std::string message(const customer_route& r, const violation<object_ref>& v) const {
            switch (v.status) {
                case change_status::unknown_domain: return "routing domain " + detail::braced(r.domain) + " is not declared";
                case change_status::unknown_vsid:
                    return "virtual subnet " + std::to_string(r.subnet.value()) + " is not declared";
                case change_status::subnet_not_in_domain: {
                    const auto d = subnet_domain(r.subnet);
                    return "virtual subnet " + std::to_string(r.subnet.value()) + " is in routing domain " +
                           (d.value ? detail::braced(*d.value) : std::string("?")) + ", not in " +
                           detail::braced(r.domain);
                }
                case change_status::duplicate_route:
                    return "routing domain " + detail::braced(r.domain) + " already has a route to " +
                           r.prefix.to_string() + " with metric " + std::to_string(r.metric);
                default: return value_message(r, v.status);
            }
        }

    private:
        [[nodiscard]] held_record<handle> held(std::size_t i) const {
            const lookup_record& r = b_.lookup_records_[i].value;
            const auto pa = pas_.find(r.pa);
            const auto provider = pa == pas_.end() ? ~std::uint32_t{0} : static_cast<std::uint32_t>(pa->second);
            return held_record<handle>{i, r.subnet.value(), provider, r.mac, r.rule};
        }

        const builder& b_;
        const std::map<rdid, std::size_t>& domains_;
        const std::map<std::uint32_t, std::size_t>& subnets_;
        const std::map<ip_address, std::size_t>& pas_;
        const std::vector<std::string>& hosts_;
        std::vector<std::uint32_t> pa_host_;  // provider index -> index in hosts_
        std::map<std::tuple<rdid, ip_prefix, std::uint32_t>, object_ref> routes_;
        std::map<std::pair<rdid, ip_address>, std::size_t> cas_;
        std::map<std::tuple<std::uint32_t, bool, mac_address>, std::size_t> gateways_;
        std::map<std::uint32_t, pa_use<object_ref>> pa_uses_;
        std::map<std::pair<std::uint32_t, mac_address>, mac_use<object_ref>> mac_uses_;
    };

    /// The text of a diagnostic of a record's own values (check_values).
    [[nodiscard]] static std::string value_message(const lookup_record& r, change_status s) {
        switch (s) {
            case change_status::bad_wildcard:
                return r.type == record_type::gateway_wildcard
                           ? "a gateway-wildcard record needs ca 0.0.0.0 or ::, not " + r.ca.to_string()
                           : "ca " + r.ca.to_string() + " is only for gateway-wildcard records (type=gateway-wildcard)";
            case change_status::wildcard_nat: return "a gateway-wildcard record cannot have rule=nat";
            case change_status::nat_version_mismatch:
                return "a nat record needs ca and pa of one IP version (ca " + r.ca.to_string() + " is " +
                       std::string(detail::version_name(r.ca)) + ", pa " + r.pa.to_string() + " is " +
                       std::string(detail::version_name(r.pa)) + ")";
            case change_status::bad_name: return detail::bad_name_message("vm", r.vm);
            default: return std::string(to_string(s));
        }
    }
    /// The text of a diagnostic of a route's own values (check_values).
    [[nodiscard]] static std::string value_message(const customer_route& r, change_status s) {
        if (s != change_status::next_hop_version) return std::string(to_string(s));
        return "next-hop " + r.next_hop.to_string() + " is " + std::string(detail::version_name(r.next_hop)) +
               " but prefix " + r.prefix.to_string() + " is " + std::string(detail::version_name(r.prefix.address()));
    }
    /// Records a diagnostic of an object's own values found by check_values.
    template <class T>
    void own_error(const object_ref& ref, const T& value, const violation<object_ref>& v) {
        own_.push_back({sequence_, diagnostic{ref, v.field, value_message(value, v.status), false, std::nullopt, v.status}});
    }

    /// Records a diagnostic about the object's own value; returns false (for `ok = ...`).
    bool value_error(const object_ref& ref, std::string_view field, std::string message) {
        own_.push_back({sequence_, diagnostic{ref, field, std::move(message), false, std::nullopt}});
        return false;
    }
    bool check_name(const object_ref& ref, std::string_view field, std::string_view value, bool optional) {
        if ((optional && value.empty()) || is_valid_name(value)) return true;
        return value_error(ref, field, detail::bad_name_message(field, value));
    }

    std::vector<entry<provider_address>> provider_addresses_;
    std::vector<entry<provider_route>> provider_routes_;
    std::vector<entry<routing_domain>> routing_domains_;
    std::vector<entry<virtual_subnet>> virtual_subnets_;
    std::vector<entry<customer_route>> customer_routes_;
    std::vector<entry<lookup_record>> lookup_records_;
    std::vector<entry<port_classification>> port_classifications_;
    std::set<rdid> assumed_domains_;
    std::set<std::uint32_t> assumed_subnets_;
    std::set<ip_address> assumed_pas_;
    std::vector<std::pair<std::size_t, diagnostic>> own_;  ///< (sequence, diagnostic) from add()
    std::size_t sequence_{0};
};

}  // namespace nvgre::policy
