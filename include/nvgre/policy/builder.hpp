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

/// The six object kinds, in the order of docs/policy-format.md's table.
enum class object_kind : std::uint8_t {
    provider_address,
    provider_route,
    routing_domain,
    virtual_subnet,
    customer_route,
    lookup_record,
};

/// The kind as written in a policy file, e.g. "provider-address".
[[nodiscard]] constexpr std::string_view to_string(object_kind k) noexcept {
    switch (k) {
        case object_kind::provider_address: return "provider-address";
        case object_kind::provider_route: return "provider-route";
        case object_kind::routing_domain: return "routing-domain";
        case object_kind::virtual_subnet: return "virtual-subnet";
        case object_kind::customer_route: return "customer-route";
        case object_kind::lookup_record: return "lookup-record";
    }
    return "unknown";
}

/// True for a NAME of docs/policy-format.md: one or more letters, digits, '-', '_' or '.' (ASCII).
[[nodiscard]] constexpr bool is_valid_name(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (const char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

/// Highest VLAN id a provider address may carry (4095 is reserved by IEEE 802.1Q).
inline constexpr std::uint32_t max_vlan = 4094;

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
    /// The distinct host names of the provider addresses, in order of first appearance.
    [[nodiscard]] const std::vector<std::string>& hosts() const noexcept { return hosts_; }

    [[nodiscard]] model_counts counts() const noexcept {
        return {hosts_.size(),           provider_addresses_.size(), provider_routes_.size(), routing_domains_.size(),
                virtual_subnets_.size(), customer_routes_.size(),    lookup_records_.size()};
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
    std::vector<std::string> hosts_;
    std::map<rdid, std::size_t> domain_index_;
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
        virtual_subnets_.push_back({std::move(v), ref, sequence_++});
        return true;
    }
    bool add(customer_route v, tag_type tag = 0) {
        const object_ref ref = next_ref(object_kind::customer_route, customer_routes_.size(), tag);
        bool ok = true;
        if (v.next_hop.version() != v.prefix.version()) {
            ok = value_error(ref, "next-hop",
                             "next-hop " + v.next_hop.to_string() + " is " +
                                 std::string(detail::version_name(v.next_hop)) + " but prefix " +
                                 v.prefix.to_string() + " is " +
                                 std::string(detail::version_name(v.prefix.address())));
        }
        customer_routes_.push_back({std::move(v), ref, sequence_++});
        return ok;
    }
    bool add(lookup_record v, tag_type tag = 0) {
        const object_ref ref = next_ref(object_kind::lookup_record, lookup_records_.size(), tag);
        bool ok = true;
        if (v.type == record_type::gateway_wildcard && !v.ca.is_unspecified()) {
            ok = value_error(ref, "ca",
                             "a gateway-wildcard record needs ca 0.0.0.0 or ::, not " + v.ca.to_string());
        } else if (v.type == record_type::static_record && v.ca.is_unspecified()) {
            ok = value_error(ref, "ca",
                             "ca " + v.ca.to_string() + " is only for gateway-wildcard records (type=gateway-wildcard)");
        }
        if (v.rule == rule::nat && v.type == record_type::gateway_wildcard) {
            ok = value_error(ref, "rule", "a gateway-wildcard record cannot have rule=nat");
        } else if (v.rule == rule::nat && v.ca.version() != v.pa.version()) {
            ok = value_error(ref, "pa",
                             "a nat record needs ca and pa of one IP version (ca " + v.ca.to_string() + " is " +
                                 std::string(detail::version_name(v.ca)) + ", pa " + v.pa.to_string() + " is " +
                                 std::string(detail::version_name(v.pa)) + ")");
        }
        ok = check_name(ref, "vm", v.vm, true) && ok;
        lookup_records_.push_back({std::move(v), ref, sequence_++});
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
        std::set<std::string, std::less<>> host_set;
        std::map<ip_address, std::size_t> pa_index;
        for (std::size_t i = 0; i < provider_addresses_.size(); ++i) {
            const auto& e = provider_addresses_[i];
            if (host_set.insert(e.value.host).second) hosts.push_back(e.value.host);
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
        // The domain of a VSID: nullopt when undeclared; a null rdid pointer when only assumed.
        const auto subnet_declared = [&](nvgre::vsid v) {
            return subnet_index.count(v.value()) != 0 || assumed_subnets_.count(v.value()) != 0;
        };
        const auto subnet_domain = [&](nvgre::vsid v) -> const rdid* {
            const auto it = subnet_index.find(v.value());
            return it == subnet_index.end() ? nullptr : &virtual_subnets_[it->second].value.domain;
        };

        // Customer routes: declared domain and VSID, the VSID in that domain; one route per
        // (domain, prefix, metric) so that "lowest metric wins" always has one winner.
        std::map<std::tuple<rdid, ip_prefix, std::uint32_t>, std::size_t> customer_route_index;
        for (std::size_t i = 0; i < customer_routes_.size(); ++i) {
            const auto& e = customer_routes_[i];
            const bool domain_ok = domain_declared(e.value.domain);
            if (!domain_ok)
                conflict(e, "rdid", "routing domain " + detail::braced(e.value.domain) + " is not declared");
            if (!subnet_declared(e.value.subnet)) {
                conflict(e, "vsid", "virtual subnet " + std::to_string(e.value.subnet.value()) + " is not declared");
            } else if (const rdid* d = subnet_domain(e.value.subnet); domain_ok && d != nullptr && *d != e.value.domain) {
                conflict(e, "vsid",
                         "virtual subnet " + std::to_string(e.value.subnet.value()) + " is in routing domain " +
                             detail::braced(*d) + ", not in " + detail::braced(e.value.domain),
                         virtual_subnets_[subnet_index.find(e.value.subnet.value())->second].ref);
            }
            const auto [it, inserted] =
                customer_route_index.emplace(std::tuple{e.value.domain, e.value.prefix, e.value.metric}, i);
            if (!inserted) {
                conflict(e, "prefix",
                         "routing domain " + detail::braced(e.value.domain) + " already has a route to " +
                             e.value.prefix.to_string() + " with metric " + std::to_string(e.value.metric),
                         customer_routes_[it->second].ref);
            }
        }

        // Lookup records.
        std::map<std::pair<rdid, ip_address>, std::size_t> ca_index;           // (domain, ca) -> record
        std::map<ip_address, std::size_t> first_record_of_pa;                   // pa -> first record
        std::map<ip_address, std::size_t> first_nat_record_of_pa;               // pa -> first nat record
        std::map<std::pair<std::string, mac_address>, std::size_t> mac_index;   // (host, mac) -> record
        std::map<std::tuple<std::uint32_t, bool, mac_address>, std::size_t> gateway_index;  // (vsid, v6, mac) -> record
        for (std::size_t i = 0; i < lookup_records_.size(); ++i) {
            const auto& e = lookup_records_[i];
            const lookup_record& r = e.value;
            const std::string vsid_text = std::to_string(r.subnet.value());
            if (!subnet_declared(r.subnet)) conflict(e, "vsid", "virtual subnet " + vsid_text + " is not declared");

            const auto pa_it = pa_index.find(r.pa);
            if (pa_it == pa_index.end() && assumed_pas_.count(r.pa) == 0)
                conflict(e, "pa", "pa " + r.pa.to_string() + " is not a declared provider address");

            // One gateway-wildcard record per (VSID, IP version, NIC): several gateways of a
            // VSID are several NICs.
            const bool wildcard = r.type == record_type::gateway_wildcard && r.ca.is_unspecified();
            if (wildcard) {
                const auto [it, inserted] = gateway_index.emplace(std::tuple{r.subnet.value(), r.ca.is_v6(), r.mac}, i);
                if (!inserted) {
                    conflict(e, "mac",
                             "mac " + r.mac.to_string() + " already has a gateway-wildcard record for " +
                                 std::string(detail::version_name(r.ca)) + " in virtual subnet " + vsid_text,
                             lookup_records_[it->second].ref);
                }
            }
            // One CA per routing domain, except the 0.0.0.0 / :: of gateway-wildcard records.
            const rdid* domain = subnet_domain(r.subnet);
            if (domain != nullptr && !wildcard) {
                const auto [it, inserted] = ca_index.emplace(std::pair{*domain, r.ca}, i);
                if (!inserted) {
                    const auto& first = lookup_records_[it->second];
                    std::string m = "ca " + r.ca.to_string() + " is already used in ";
                    m += first.value.subnet == r.subnet ? "virtual subnet " + vsid_text
                                                        : "routing domain " + detail::braced(*domain) +
                                                              " (virtual subnet " +
                                                              std::to_string(first.value.subnet.value()) + ")";
                    conflict(e, "ca", std::move(m), first.ref);
                }
            }

            // A nat PA stands for exactly one CA: no other record may use it.
            const auto earlier = first_record_of_pa.find(r.pa);
            const auto earlier_nat = first_nat_record_of_pa.find(r.pa);
            if (r.rule == rule::nat && earlier != first_record_of_pa.end()) {
                conflict(e, "pa",
                         "pa " + r.pa.to_string() + " of a nat record is already used by another lookup record",
                         lookup_records_[earlier->second].ref);
            } else if (r.rule != rule::nat && earlier_nat != first_nat_record_of_pa.end()) {
                conflict(e, "pa", "pa " + r.pa.to_string() + " is already the pa of a nat record",
                         lookup_records_[earlier_nat->second].ref);
            }
            first_record_of_pa.emplace(r.pa, i);
            if (r.rule == rule::nat) first_nat_record_of_pa.emplace(r.pa, i);

            // A port has one VSID: one MAC in one VSID per host.
            if (pa_it != pa_index.end()) {
                const std::string& host = provider_addresses_[pa_it->second].value.host;
                const auto [it, inserted] = mac_index.emplace(std::pair{host, r.mac}, i);
                if (!inserted && lookup_records_[it->second].value.subnet != r.subnet) {
                    const auto& first = lookup_records_[it->second];
                    conflict(e, "mac",
                             "mac " + r.mac.to_string() + " is already in virtual subnet " +
                                 std::to_string(first.value.subnet.value()) + " on host " + host,
                             first.ref);
                }
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
    std::set<rdid> assumed_domains_;
    std::set<std::uint32_t> assumed_subnets_;
    std::set<ip_address> assumed_pas_;
    std::vector<std::pair<std::size_t, diagnostic>> own_;  ///< (sequence, diagnostic) from add()
    std::size_t sequence_{0};
};

}  // namespace nvgre::policy
