/// @file policy/validator.hpp
/// @brief The validation rules of lookup records and customer routes (docs/policy-format.md,
/// "Validation"), written once and run by everything that accepts them: the builder (a whole
/// policy), the host state (`state::build` and every run-time change `state::apply`).
///
/// The rules are checked against an *index*: whatever the caller keeps of the policy so far,
/// seen through the questions of the `policy_index` concept below (which subnet is in which
/// domain, who holds a CA, how a PA and a MAC are used). The builder answers them from ordered
/// maps over the objects of a file; the host state answers them from its hash tables. Because
/// the decisions live here and only the lookups differ, a policy that the builder accepts is
/// exactly the state built from it, and a change the state accepts is one the builder would
/// accept in a file (tests/policy/validator.test.cpp holds the two to each other).
///
/// Two identity modes: a policy file must not name one identity twice (`identity::unique`,
/// the builder and `state::build`), while a run-time change replaces the object with the same
/// identity (`identity::replace`, `state::apply`).
///
/// Control plane; no allocation here (the index and the report callback may allocate).
#pragma once

#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/policy/model.hpp"
#include "nvgre/vsid.hpp"

#include <concepts>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace nvgre::policy {

/// Why a record or route was refused (or `ok`): one value per validation rule of
/// docs/policy-format.md that a record or a customer route can break, plus the limits of a
/// host state. Names are stable: they appear in tool output as kebab-case strings.
enum class change_status : std::uint8_t {
    ok = 0,
    unknown_vsid,         ///< the record's or route's VSID is not declared
    unknown_domain,       ///< the route's routing domain is not declared
    subnet_not_in_domain, ///< a customer route whose VSID is in another routing domain
    unknown_pa,           ///< the record's PA is not a declared provider address
    duplicate_ca,         ///< the CA is already held in this routing domain (by another subnet, or in a file twice)
    bad_wildcard,         ///< a gateway-wildcard record whose CA is not 0.0.0.0 / ::, or a static one that is
    nat_pa_shared,        ///< a nat record's PA is used by another record, or a record uses a nat PA
    nat_version_mismatch, ///< a nat record whose CA and PA are of different IP versions
    mac_in_two_subnets,   ///< the MAC already has a record in another VSID on that host
    not_found,            ///< removing something that is not there
    too_many_records,     ///< record ids exhausted (2^32 - 1)
    wildcard_nat,         ///< a gateway-wildcard record with rule=nat
    bad_name,             ///< a vm name that is not a NAME (letters, digits, '-', '_', '.')
    duplicate_gateway,    ///< a second gateway-wildcard record of one NIC, VSID and IP version (in one file)
    next_hop_version,     ///< a customer route whose next hop and prefix are of different IP versions
    duplicate_route,      ///< a second customer route with one (domain, prefix, metric) (in one file)
    too_many_hosts,       ///< more hosts than a host state can number (state::max_hosts)
};

[[nodiscard]] constexpr std::string_view to_string(change_status s) noexcept {
    switch (s) {
        case change_status::ok: return "ok";
        case change_status::unknown_vsid: return "unknown-vsid";
        case change_status::unknown_domain: return "unknown-domain";
        case change_status::subnet_not_in_domain: return "subnet-not-in-domain";
        case change_status::unknown_pa: return "unknown-pa";
        case change_status::duplicate_ca: return "duplicate-ca";
        case change_status::bad_wildcard: return "bad-wildcard";
        case change_status::nat_pa_shared: return "nat-pa-shared";
        case change_status::nat_version_mismatch: return "nat-version-mismatch";
        case change_status::mac_in_two_subnets: return "mac-in-two-subnets";
        case change_status::not_found: return "not-found";
        case change_status::too_many_records: return "too-many-records";
        case change_status::wildcard_nat: return "wildcard-nat";
        case change_status::bad_name: return "bad-name";
        case change_status::duplicate_gateway: return "duplicate-gateway";
        case change_status::next_hop_version: return "next-hop-version";
        case change_status::duplicate_route: return "duplicate-route";
        case change_status::too_many_hosts: return "too-many-hosts";
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

/// Whether an object whose identity is already in the index is an error or replaces it.
enum class identity : std::uint8_t {
    unique,   ///< a policy file, state::build: the second object with one identity is refused
    replace,  ///< a run-time change: it replaces the object with its identity
};

/// One broken rule: which, at which key of docs/policy-format.md, and the object it conflicts
/// with when there is one (the index's own reference to it: the builder's object_ref).
template <class Ref>
struct violation {
    change_status status{change_status::ok};
    std::string_view field;      ///< "ca", "pa", "mac", "vsid", "rdid", "prefix", "next-hop", "rule", "vm"
    std::optional<Ref> related;  ///< the earlier object of a conflict
};

/// A declaration the index was asked about: absent, present with its value, or only assumed
/// (declared on a line that could not be read; the caller has reported that line already, so
/// nothing that depends on its value is checked).
template <class T, class Ref>
struct declared {
    bool present{false};
    std::optional<T> value;      ///< empty when absent or only assumed
    std::optional<Ref> ref;      ///< the declaring object, for `related`

    [[nodiscard]] static declared absent() { return {}; }
    [[nodiscard]] static declared assumed() { return {true, std::nullopt, std::nullopt}; }
    [[nodiscard]] static declared of(T v, std::optional<Ref> r = std::nullopt) { return {true, std::move(v), std::move(r)}; }
};

/// What the rules need to know of a lookup record already in the index.
template <class Handle>
struct held_record {
    Handle handle{};             ///< the index's handle of it (returned as `replaces`)
    std::uint32_t vsid{0};
    std::uint32_t provider{0};   ///< the index's number of its PA (see policy_index::provider)
    mac_address mac;
    policy::rule rule{rule::encap};
};

/// How the records of the index use one PA.
template <class Ref>
struct pa_use {
    std::uint32_t records{0};        ///< records whose PA it is
    bool nat{false};                 ///< one of them is a nat record
    std::optional<Ref> first;        ///< the first of them, for `related`
    std::optional<Ref> nat_record;   ///< the nat one, for `related`
};

/// How the records of the index use one MAC on one host.
template <class Ref>
struct mac_use {
    std::uint32_t vsid{0};           ///< the VSID of its records (one, or the policy is invalid)
    std::uint32_t records{0};
    std::optional<Ref> first;        ///< for `related`
};

/// The questions the rules ask of the policy held so far. `domain_id` names a routing domain
/// (the builder: its rdid; the state: its index), `handle` a record, `ref` an object for
/// diagnostics (the state, which reports no related objects, may use an empty struct).
/// `provider(pa)` numbers a declared PA; `host_of(n)` numbers the host owning PA number n, so
/// that two PAs of one host give one number.
template <class I>
concept policy_index = requires(const I& ix, nvgre::vsid v, const rdid& id, const ip_address& a,
                                const mac_address& m, const typename I::domain_id& d, std::uint32_t n,
                                const ip_prefix& p) {
    typename I::domain_id;
    typename I::handle;
    typename I::ref;
    { ix.subnet_domain(v) } -> std::same_as<declared<typename I::domain_id, typename I::ref>>;
    { ix.domain(id) } -> std::same_as<declared<typename I::domain_id, typename I::ref>>;
    { ix.provider(a) } -> std::same_as<declared<std::uint32_t, typename I::ref>>;
    { ix.host_of(n) } -> std::same_as<std::uint32_t>;
    { ix.record_with_ca(d, a) } -> std::same_as<std::optional<held_record<typename I::handle>>>;
    { ix.gateway_with_mac(v, a.version(), m) } -> std::same_as<std::optional<held_record<typename I::handle>>>;
    { ix.ref_of(std::declval<const typename I::handle&>()) } -> std::same_as<typename I::ref>;
    { ix.pa_usage(n) } -> std::same_as<pa_use<typename I::ref>>;
    { ix.mac_usage(n, m) } -> std::same_as<std::optional<mac_use<typename I::ref>>>;
    { ix.route_exists(d, p, n) } -> std::same_as<std::optional<typename I::ref>>;
};

/// The rules on a record's own values, in this order: ca against type, rule=nat against type,
/// nat versions, vm name. Calls report(violation) for each broken one; returns true if none.
template <class Ref, class Report>
constexpr bool check_values(const lookup_record& r, Report&& report) {
    bool ok = true;
    const auto fail = [&](change_status s, std::string_view field) {
        report(violation<Ref>{s, field, std::nullopt});
        ok = false;
    };
    const bool wildcard = r.type == record_type::gateway_wildcard;
    if (wildcard != r.ca.is_unspecified()) fail(change_status::bad_wildcard, "ca");
    if (r.rule == rule::nat && wildcard) fail(change_status::wildcard_nat, "rule");
    else if (r.rule == rule::nat && r.ca.version() != r.pa.version()) fail(change_status::nat_version_mismatch, "pa");
    if (!r.vm.empty() && !is_valid_name(r.vm)) fail(change_status::bad_name, "vm");
    return ok;
}

/// The rules on a customer route's own values: its next hop and prefix of one IP version.
template <class Ref, class Report>
constexpr bool check_values(const customer_route& r, Report&& report) {
    if (r.next_hop.version() == r.prefix.version()) return true;
    report(violation<Ref>{change_status::next_hop_version, "next-hop", std::nullopt});
    return false;
}

/// What check_record found: whether the record may go in, and the record it replaces
/// (identity::replace only).
template <class Handle>
struct record_check {
    bool ok{true};
    std::optional<held_record<Handle>> replaces;
};

/// The rules between a record and the index, in this order: its VSID is declared; its PA is
/// declared; its identity (VSID and CA, or for a gateway-wildcard record VSID, IP version and
/// MAC) is new, or replaced; its CA is held by no other subnet of the domain; nat PAs are not
/// shared; its MAC is in one VSID on its host. Calls report(violation) for each broken one.
/// The record's own values are check_values'.
template <policy_index I, class Report>
record_check<typename I::handle> check_record(const I& ix, const lookup_record& r, identity mode, Report&& report) {
    using ref_t = typename I::ref;
    record_check<typename I::handle> out;
    const auto fail = [&](change_status s, std::string_view field, std::optional<ref_t> related = std::nullopt) {
        report(violation<ref_t>{s, field, std::move(related)});
        out.ok = false;
    };
    const auto subnet = ix.subnet_domain(r.subnet);
    if (!subnet.present) fail(change_status::unknown_vsid, "vsid");
    const auto pa = ix.provider(r.pa);
    if (!pa.present) fail(change_status::unknown_pa, "pa");

    // Identity: a gateway-wildcard record is (VSID, IP version, MAC); a static one (VSID, CA),
    // and its CA is unique in the routing domain.
    std::optional<held_record<typename I::handle>> same;
    if (r.type == record_type::gateway_wildcard) {
        if (r.ca.is_unspecified() && subnet.present) same = ix.gateway_with_mac(r.subnet, r.ca.version(), r.mac);
        if (same && mode == identity::unique) fail(change_status::duplicate_gateway, "mac", ix.ref_of(same->handle));
    } else if (subnet.value) {
        if (auto holder = ix.record_with_ca(*subnet.value, r.ca)) {
            if (holder->vsid != r.subnet.value() || mode == identity::unique)
                fail(change_status::duplicate_ca, "ca", ix.ref_of(holder->handle));
            else
                same = holder;
        }
    }
    if (mode == identity::replace) out.replaces = same;
    const auto* replaced = mode == identity::replace && same ? &*same : nullptr;

    if (pa.value) {
        // nat: one PA per CA, both ways. The record replaced does not count.
        const std::uint32_t provider = *pa.value;
        const pa_use<ref_t> use = ix.pa_usage(provider);
        const bool replaced_here = replaced != nullptr && replaced->provider == provider;
        const std::uint32_t others = use.records - (replaced_here ? 1 : 0);
        const bool nat_elsewhere = use.nat && !(replaced_here && replaced->rule == rule::nat);
        if (r.rule == rule::nat && others > 0) fail(change_status::nat_pa_shared, "pa", use.first);
        else if (r.rule != rule::nat && nat_elsewhere) fail(change_status::nat_pa_shared, "pa", use.nat_record);

        // One VSID per MAC per host (whichever PA of the host). The record replaced does not count.
        const std::uint32_t host = ix.host_of(provider);
        if (const auto m = ix.mac_usage(host, r.mac); m && m->vsid != r.subnet.value()) {
            const bool only_replaced = replaced != nullptr && m->records == 1 && replaced->mac == r.mac &&
                                       ix.host_of(replaced->provider) == host;
            if (!only_replaced) fail(change_status::mac_in_two_subnets, "mac", m->first);
        }
    }
    return out;
}

/// The rules between a customer route and the index: its routing domain and VSID are declared,
/// the VSID is in that domain, and (identity::unique) its (domain, prefix, metric) is new.
template <policy_index I, class Report>
bool check_route(const I& ix, const customer_route& r, identity mode, Report&& report) {
    using ref_t = typename I::ref;
    bool ok = true;
    const auto fail = [&](change_status s, std::string_view field, std::optional<ref_t> related = std::nullopt) {
        report(violation<ref_t>{s, field, std::move(related)});
        ok = false;
    };
    const auto domain = ix.domain(r.domain);
    if (!domain.present) fail(change_status::unknown_domain, "rdid");
    const auto subnet = ix.subnet_domain(r.subnet);
    if (!subnet.present) fail(change_status::unknown_vsid, "vsid");
    else if (domain.value && subnet.value && *subnet.value != *domain.value)
        fail(change_status::subnet_not_in_domain, "vsid", subnet.ref);
    if (mode == identity::unique && domain.value) {
        if (auto earlier = ix.route_exists(*domain.value, r.prefix, r.metric))
            fail(change_status::duplicate_route, "prefix", std::move(earlier));
    }
    return ok;
}

}  // namespace nvgre::policy
