/// @file policy/state.hpp
/// @brief The control-plane side of one host's policy: builds a snapshot (policy/snapshot.hpp)
/// from a validated model, applies single changes (records and customer routes) after the one
/// validator, and numbers the embedder's ports.
///
/// A `state` is a policy::snapshot (the flat arrays and indexes the packet path reads, all
/// `const noexcept`) plus what only changes need: usage counts behind the validator's rules,
/// free lists, every candidate of each customer-route prefix, VM names, port bindings. The
/// datapath takes `const snapshot&`; a state passes as one.
///
/// `state::build` indexes a validated `model` for host NAME. Changes (`apply`) validate against
/// the current state exactly as the builder validates a file (policy/validator.hpp,
/// docs/policy-format.md) and either apply completely or not at all. A `state` is not
/// synchronised: policy/live_policy.hpp keeps two of them behind a left-right scheme so that
/// readers never see one being changed.
///
/// Complexity (n records, h hosts with VMs of a subnet): apply(set_record / remove_record) is
/// O(1) expected plus O(h) for the subnet's flood list; apply(set/remove_customer_route) is
/// O(routes of that prefix) plus the LPM update. Memory per record: the snapshot's (record_entry
/// and its CA index slot) plus its VM name.
#pragma once

#include "nvgre/detail/assert.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/ca_table.hpp"
#include "nvgre/policy/model.hpp"
#include "nvgre/policy/snapshot.hpp"
#include "nvgre/policy/validator.hpp"
#include "nvgre/rdid.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace nvgre::policy {

/// Add a lookup record, or replace the one with the same (VSID, CA) (e.g. a VM migrated: new PA).
struct set_record {
    lookup_record record;
};
/// Remove the lookup record (VSID, CA); for a gateway-wildcard record (CA 0.0.0.0 / ::), the
/// one of the NIC with `mac` (without a MAC: the subnet's only gateway of that IP version).
struct remove_record {
    nvgre::vsid subnet;
    ip_address ca;
    std::optional<mac_address> mac{};
};
/// Add a customer route, or replace the one with the same (domain, prefix, metric).
struct set_customer_route {
    customer_route route;
};
/// Remove the customer route (domain, prefix, metric).
struct remove_customer_route {
    rdid domain;
    ip_prefix prefix;
    std::uint32_t metric{default_customer_route_metric};
};
/// One change a live policy applies.
using change = std::variant<set_record, remove_record, set_customer_route, remove_customer_route>;

struct state_build_result;

/// A snapshot with its control plane. See the file comment.
class state : public snapshot {
public:
    state() = default;

    /// Indexes `m` for host `host` (which need not own a PA: a host with no PA sees no local
    /// VMs). O(size of the policy). Every customer route and record goes through the rules of
    /// policy/validator.hpp, as in the builder, so a model from builder::build always indexes
    /// whole; what can still fail is a limit of the state (max_hosts, 2^32 - 1 records), and
    /// then the result names the object and the status instead of leaving anything out.
    [[nodiscard]] static state_build_result build(const model& m, std::string_view host);

    /// The snapshot the packet path reads (the state itself, as its base).
    [[nodiscard]] const snapshot& view() const noexcept { return *this; }

    // ---- control-plane queries ---------------------------------------------------------

    /// The VM name of a record ("" when the policy gave none).
    [[nodiscard]] std::string_view vm_name(record_id id) const noexcept { return vm_names_[id]; }
    /// Index of routing domain `id` (for snapshot::domain), or nullopt.
    [[nodiscard]] std::optional<std::uint32_t> domain_index(const rdid& id) const noexcept {
        const auto it = domain_index_.find(id);
        if (it == domain_index_.end()) return std::nullopt;
        return it->second;
    }
    /// The embedder's number of the VM port of the NIC with `mac`, or no_port (one hash).
    [[nodiscard]] std::uint32_t port_id_of(const mac_address& mac) const noexcept {
        const std::uint32_t* id = bound_ids_.find(port_key(mac));
        return id == nullptr ? no_port : *id;
    }
    /// Number of live records.
    [[nodiscard]] std::size_t record_count() const noexcept { return records_.size() - free_records_.size(); }
    /// Heap bytes of the per-record structures (records, CA and PA indexes, VM names), for sizing.
    [[nodiscard]] std::size_t record_memory_bytes() const noexcept {
        return records_.capacity() * sizeof(record_entry) + ca_index_.memory_bytes() + pa_usage_.memory_bytes() +
               vm_names_.capacity() * sizeof(std::string);
    }

    // ---- port bindings (control plane) -------------------------------------------------

    /// Numbers the VM port of the NIC with `mac` as the embedder's port `id` (its DPDK port,
    /// its vhost queue, ...): egress then takes frames by `id` (port_by_id) and outcomes name
    /// their output port by it. A binding replaces any earlier one of `id` and of `mac`, and
    /// holds while the NIC has no records (the port appears when its first record does).
    /// errc::bad_value when `id` > max_port_id. Allocates (control plane).
    result<void> bind_port(std::uint32_t id, const mac_address& mac) {
        if (id > max_port_id) return make_error(errc::bad_value, layer::none, 0);
        unbind_port(id);
        if (const std::uint32_t* old = bound_ids_.find(port_key(mac))) unbind_port(*old);
        if (id >= bindings_.size()) {
            bindings_.resize(std::size_t{id} + 1);
            port_by_id_.resize(std::size_t{id} + 1, no_port);
        }
        bindings_[id] = binding{mac, true};
        bound_ids_.insert_or_assign(port_key(mac), id);
        if (const std::uint32_t* index = port_index_.find(port_key(mac))) {
            ports_[*index].id = id;
            port_by_id_[id] = *index;
        }
        return {};
    }
    /// Removes the binding of port `id` (nothing when it has none).
    void unbind_port(std::uint32_t id) noexcept {
        if (id >= bindings_.size() || !bindings_[id].bound) return;
        const mac_address mac = bindings_[id].mac;
        bound_ids_.erase(port_key(mac));
        if (port_by_id_[id] != no_port) ports_[port_by_id_[id]].id = no_port;
        port_by_id_[id] = no_port;
        bindings_[id] = binding{};
    }
    /// Every binding, as (id, MAC) in id order: what a new state of the same host takes over
    /// (live_policy::replace does).
    [[nodiscard]] std::vector<std::pair<std::uint32_t, mac_address>> port_bindings() const {
        std::vector<std::pair<std::uint32_t, mac_address>> out;
        for (std::uint32_t id = 0; id < bindings_.size(); ++id)
            if (bindings_[id].bound) out.emplace_back(id, bindings_[id].mac);
        return out;
    }

    // ---- objects by identity, as a model holds them (control plane) ----------------------

    /// The lookup record with identity (VSID, CA) — for a gateway-wildcard CA (0.0.0.0 / ::),
    /// the one of the NIC with `mac` — as a model holds it; nullopt when there is none.
    [[nodiscard]] std::optional<lookup_record> record_with_identity(nvgre::vsid subnet_id, const ip_address& ca,
                                                                    const mac_address& mac) const {
        const subnet_entry* sub = subnet(subnet_id.value());
        if (sub == nullptr) return std::nullopt;
        record_id id = no_record;
        if (ca.is_unspecified()) id = gateway_with_mac(*sub, ca.version(), mac);
        else if (const record_entry* r = find_record_in_subnet(subnet_id.value(), ca)) id = id_of(*r);
        if (id == no_record) return std::nullopt;
        const record_entry& e = records_[id];
        std::string classification;
        if (const auto c = nic_classification_.find(std::pair{host_index_of(e.provider), e.mac}); c != nic_classification_.end())
            classification = c->second;
        return lookup_record{subnet_id, e.ca, e.mac, e.pa, e.rule, e.type, vm_names_[id], std::move(classification)};
    }
    /// The customer route of routing domain `domain` with `prefix` and `metric` (whatever its
    /// VSID: a domain holds one per prefix and metric) as a model holds it; nullopt when none.
    [[nodiscard]] std::optional<customer_route> customer_route_with_identity(const rdid& domain, const ip_prefix& prefix,
                                                                            std::uint32_t metric) const {
        const auto d = domain_index(domain);
        if (!d) return std::nullopt;
        const auto& candidates = route_candidates_[*d];
        const auto it = candidates.find(prefix);
        if (it == candidates.end()) return std::nullopt;
        for (const route_entry& r : it->second)
            if (r.metric == metric) return customer_route{domain, nvgre::vsid::make(r.vsid).value(), prefix, r.next_hop, r.metric};
        return std::nullopt;
    }

    /// True if some record of the NIC with `mac` (on any host) names a port classification.
    [[nodiscard]] bool is_classified_nic(const mac_address& mac) const {
        return classified_macs_.count(mac) != 0;
    }

    // ---- generation and grace windows (control plane; live_policy sets them) -------------

    void set_generation(std::uint64_t g) noexcept { generation_ = g; }

    /// A record in a grace window, as the control plane names it: (VSID, CA) and the PA it
    /// moved from.
    struct grace_key {
        nvgre::vsid subnet;
        ip_address ca;
        ip_address previous_pa;
    };
    /// Opens exactly the grace windows `open` (snapshot::moved), the ones whose record and
    /// previous PA this state has; the others are skipped. Allocates.
    void set_moved(std::span<const grace_key> open) {
        moved_.clear();
        for (const grace_key& g : open) {
            const record_entry* r = find_record_in_subnet(g.subnet.value(), g.ca);
            const std::uint32_t* previous = pa_index_.find(ca_key{0, g.previous_pa});
            if (r == nullptr || previous == nullptr || r->provider == *previous) continue;
            moved_.push_back(moved_record{id_of(*r), *previous});
        }
    }

    // ---- changes (control plane) --------------------------------------------------------

    /// Validates `c` against this state (the rules of docs/policy-format.md) and applies it
    /// completely, or returns why not and changes nothing. Deterministic: the same change on
    /// two equal states gives equal states (live_policy relies on it).
    change_status apply(const change& c) {
        return std::visit([this](const auto& v) { return apply_one(v); }, c);
    }

    /// Starts loading the cache lines `apply(c)` will probe first (its CA and MAC index
    /// slots), so that a batch can overlap the memory latency of one change with the work of
    /// the ones before it. No effect on the state.
    void prefetch(const change& c) const noexcept {
        const auto* sr = std::get_if<set_record>(&c);
        if (sr == nullptr) return;
        const std::uint32_t* sit = subnet_index_.find(sr->record.subnet.value());
        if (sit == nullptr) return;
        ca_index_.prefetch(ca_key{subnets_[*sit].domain, sr->record.ca});
        if (const std::uint32_t* pa = pa_index_.find(ca_key{0, sr->record.pa}))
            mac_usage_.prefetch(host_mac_key(host_index_of(*pa), sr->record.mac));
    }

    /// Second stage of prefetch(c), a few changes later (when its slot has arrived): starts
    /// loading the record `c` replaces, its VM name and its (host, MAC) usage slot, found
    /// through the CA index slot. No effect on the state.
    void prefetch_replaced(const change& c) const noexcept {
        const auto* sr = std::get_if<set_record>(&c);
        if (sr == nullptr) return;
        const std::uint32_t* sit = subnet_index_.find(sr->record.subnet.value());
        if (sit == nullptr) return;
        const record_ref* ref = ca_index_.find(ca_key{subnets_[*sit].domain, sr->record.ca});
        if (ref == nullptr) return;
        NVGRE_CA_TABLE_PREFETCH(&records_[ref->id]);
        NVGRE_CA_TABLE_PREFETCH(&vm_names_[ref->id]);
        mac_usage_.prefetch(host_mac_key(host_index_of(ref->provider), ref->mac));
    }
private:
    struct mac_usage {
        std::uint32_t vsid{0};
        std::uint32_t records{0};
    };

    /// (host of a PA, MAC): the key of the "one VSID per MAC per host" rule, packed into the
    /// compact IPv4 form of a ca_key (scope = host << 16 | first two octets, address = last
    /// four), so that it costs one cache line per probe. Hosts are fewer than 65536.
    static ca_key host_mac_key(std::uint32_t host_index, const mac_address& m) noexcept {
        const std::uint64_t k = mac_key(m);
        return ca_key{host_index << 16 | static_cast<std::uint32_t>(k >> 32),
                      ipv4_address::from_uint(static_cast<std::uint32_t>(k))};
    }

    void add_provider_address(const provider_address& pa) {
        const auto index = static_cast<std::uint32_t>(provider_addresses_.size());
        provider_addresses_.push_back(pa);
        pa_index_.insert_or_assign(ca_key{0, pa.pa}, index);
        auto h = std::find(hosts_.begin(), hosts_.end(), pa.host);
        const auto host_index = static_cast<std::uint32_t>(h - hosts_.begin());
        pa_host_.push_back(host_index);
        if (h == hosts_.end()) hosts_.push_back(pa.host);
        if (pa.host == host_) {
            local_pas_.push_back(index);
            local_host_ = host_index;
        }
    }
    void add_provider_route(const provider_route& r) {
        // Lowest metric wins among equal prefixes (then the first declared).
        const auto index = static_cast<std::uint32_t>(provider_route_list_.size());
        provider_route_list_.push_back(r);
        const std::uint32_t* cur = provider_routes_.exact(r.prefix);
        if (cur == nullptr || provider_route_list_[*cur].metric > r.metric) provider_routes_.insert_or_assign(r.prefix, index);
    }
    void add_domain(const routing_domain& d) {
        domain_index_.emplace(d.id, static_cast<std::uint32_t>(domains_.size()));
        domain_entry e;
        e.id = d.id;
        e.router_mac = d.router_mac;
        domains_.push_back(std::move(e));
        route_candidates_.emplace_back();
    }
    void add_subnet(const virtual_subnet& v) {
        subnet_entry e;
        e.id = v.id;
        e.domain = domain_index_.at(v.domain);
        e.gateway_v4 = v.gateway_v4;
        e.gateway_v6 = v.gateway_v6;
        e.dhcp = v.dhcp;
        e.dns = v.dns;
        e.lease_seconds = v.lease_seconds;
        // insert_or_assign only when new: a duplicate VSID keeps its first subnet, as
        // unordered_map::emplace did (a validated model has none).
        if (subnet_index_.find(v.id.value()) == nullptr)
            subnet_index_.insert_or_assign(v.id.value(), static_cast<std::uint32_t>(subnets_.size()));
        subnets_.push_back(std::move(e));
    }

    /// Index of the host owning provider address `provider_index` (precomputed: hosts are
    /// compared by index, never by name, on the change path).
    std::uint32_t host_index_of(std::uint32_t provider_index) const noexcept { return pa_host_[provider_index]; }

    // -- records --

    /// The state's answers to the questions of policy/validator.hpp (policy_index). Holds the
    /// state mutably so that the handle of a static record is its CA index slot, which a
    /// replacement rewrites in place.
    class change_index {
    public:
        using domain_id = std::uint32_t;  ///< index in domains_
        struct handle {
            record_id id{no_record};
            record_ref* slot{nullptr};    ///< its CA index slot (static records)
        };
        struct ref {};                    ///< the state reports no related objects

        explicit change_index(state& s) noexcept : s_(s) {}

        [[nodiscard]] declared<std::uint32_t, ref> subnet_domain(nvgre::vsid v) const {
            const std::uint32_t* it = s_.subnet_index_.find(v.value());
            if (it == nullptr) return declared<std::uint32_t, ref>::absent();
            return declared<std::uint32_t, ref>::of(s_.subnets_[*it].domain);
        }
        [[nodiscard]] declared<std::uint32_t, ref> domain(const rdid& id) const {
            const auto d = s_.domain_index(id);
            return d ? declared<std::uint32_t, ref>::of(*d) : declared<std::uint32_t, ref>::absent();
        }
        [[nodiscard]] declared<std::uint32_t, ref> provider(const ip_address& pa) const {
            const std::uint32_t* it = s_.pa_index_.find(ca_key{0, pa});
            return it == nullptr ? declared<std::uint32_t, ref>::absent() : declared<std::uint32_t, ref>::of(*it);
        }
        [[nodiscard]] std::uint32_t host_of(std::uint32_t provider) const { return s_.host_index_of(provider); }
        [[nodiscard]] std::optional<held_record<handle>> record_with_ca(std::uint32_t domain, const ip_address& ca) const {
            record_ref* slot = s_.ca_index_.find(ca_key{domain, ca});
            if (slot == nullptr) return std::nullopt;
            return held_record<handle>{handle{slot->id, slot}, slot->vsid, slot->provider, slot->mac, slot->rule};
        }
        [[nodiscard]] std::optional<held_record<handle>> gateway_with_mac(nvgre::vsid v, ip_version version,
                                                                          const mac_address& mac) const {
            const subnet_entry* sub = s_.subnet(v.value());
            if (sub == nullptr) return std::nullopt;
            const record_id id = s_.gateway_with_mac(*sub, version, mac);
            if (id == no_record) return std::nullopt;
            const record_entry& e = s_.records_[id];
            return held_record<handle>{handle{id, nullptr}, e.vsid, e.provider, e.mac, e.rule};
        }
        [[nodiscard]] ref ref_of(const handle&) const { return {}; }
        [[nodiscard]] pa_use<ref> pa_usage(std::uint32_t provider) const {
            const state::pa_usage* u = s_.pa_usage_.find(ca_key{0, s_.provider_addresses_[provider].pa});
            if (u == nullptr) return {};
            return pa_use<ref>{u->records, u->nat != no_record, std::nullopt, std::nullopt};
        }
        [[nodiscard]] std::optional<mac_use<ref>> mac_usage(std::uint32_t host, const mac_address& mac) const {
            const state::mac_usage* m = s_.mac_usage_.find(host_mac_key(host, mac));
            if (m == nullptr) return std::nullopt;
            return mac_use<ref>{m->vsid, m->records, std::nullopt};
        }
        [[nodiscard]] std::optional<ref> route_exists(std::uint32_t domain, const ip_prefix& p, std::uint32_t metric) const {
            const auto& candidates = s_.route_candidates_[domain];
            const auto it = candidates.find(p);
            if (it == candidates.end()) return std::nullopt;
            for (const route_entry& r : it->second)
                if (r.metric == metric) return ref{};
            return std::nullopt;
        }

    private:
        state& s_;
    };

    /// The first rule `r` breaks (check_values, then check_record), or ok; `replaces`: the
    /// record with its identity (identity::replace).
    template <class Record>
    change_status check(const Record& r, identity mode, std::optional<held_record<change_index::handle>>* replaces) {
        change_status first = change_status::ok;
        const auto keep_first = [&first](const violation<change_index::ref>& v) {
            if (first == change_status::ok) first = v.status;
        };
        if (!check_values<change_index::ref>(r, keep_first)) return first;
        const change_index ix(*this);
        if constexpr (std::is_same_v<Record, lookup_record>) {
            auto c = check_record(ix, r, mode, keep_first);
            if (replaces != nullptr) *replaces = c.replaces;
        } else {
            (void)check_route(ix, r, mode, keep_first);
        }
        return first;
    }

    change_status apply_one(const set_record& c) { return put_record(c.record, identity::replace); }

    /// Adds record `r` (identity::unique: state::build) or adds or replaces it
    /// (identity::replace: a change), after the rules of policy/validator.hpp.
    change_status put_record(const lookup_record& r, identity mode) {
        std::optional<held_record<change_index::handle>> same;
        if (const change_status st = check(r, mode, &same); st != change_status::ok) return st;
        const std::uint32_t subnet_idx = *subnet_index_.find(r.subnet.value());
        const subnet_entry& sub = subnets_[subnet_idx];
        const std::uint32_t provider = *pa_index_.find(ca_key{0, r.pa});

        // Valid: replace = remove the old record, then add the new one in its slot. A static
        // record keeps its CA index slot (same key): its value is rewritten in place, no
        // erase and re-insert.
        const record_id existing = same ? same->handle.id : no_record;
        record_ref* slot = same ? same->handle.slot : nullptr;
        if (existing == no_record && free_records_.empty() && records_.size() >= no_record) return change_status::too_many_records;
        record_id id = existing;
        const bool keep_slot = slot != nullptr;
        if (existing != no_record) {
            unlink(existing, keep_slot);
        } else if (!free_records_.empty()) {
            id = free_records_.back();
            free_records_.pop_back();
        } else {
            id = static_cast<record_id>(records_.size());
            records_.emplace_back();
            vm_names_.emplace_back();
        }
        record_entry& e = records_[id];
        e.ca = r.ca;
        e.pa = r.pa;
        e.mac = r.mac;
        e.vsid = r.subnet.value();
        e.provider = provider;
        e.domain = sub.domain;
        e.subnet = subnet_idx;
        e.rule = r.rule;
        e.type = r.type;
        e.local = host_index_of(provider) == local_host_;
        e.in_use = true;
        vm_names_[id] = r.vm;
        link(id, keep_slot);
        if (keep_slot) *slot = ref_of(id);  // unlink/link touched no other CA index slot
        return change_status::ok;
    }

    change_status apply_one(const remove_record& c) {
        const subnet_entry* sub = subnet(c.subnet.value());
        if (sub == nullptr) return change_status::unknown_vsid;
        record_id id = no_record;
        if (c.ca.is_unspecified()) {
            // Several gateways: the MAC says which; without one, only a lone gateway is meant.
            const auto& gateways = sub->gateways(c.ca.version());
            if (c.mac) id = gateway_with_mac(*sub, c.ca.version(), *c.mac);
            else if (gateways.size() == 1) id = gateways.front();
        } else if (const record_ref* p = ca_index_.find(ca_key{sub->domain, c.ca}); p != nullptr && p->vsid == c.subnet.value()) {
            id = p->id;
        }
        if (id == no_record) return change_status::not_found;
        unlink(id);
        records_[id] = record_entry{};
        vm_names_[id].clear();
        free_records_.push_back(id);
        return change_status::ok;
    }

    /// Adds record `id` (already filled in) to every index; `keep_slot`: but the CA index,
    /// whose slot the caller rewrites.
    void link(record_id id, bool keep_slot = false) {
        const record_entry& e = records_[id];
        subnet_entry& sub = subnets_[e.subnet];
        // The port first: the CA index slot (ref_of) names it.
        if (e.local) {
            const std::uint32_t port_index = port_index_of_mac(e.mac);
            records_[id].port = port_index;
            bump(sub.local_macs, flood_mac{e.mac, 0, port_index});
            local_port& port = ports_[port_index];
            port.mac = e.mac;
            port.vsid = e.vsid;
            port.subnet = e.subnet;
            port.domain = e.domain;
            port.records.push_back(id);
            refresh_sources(port);
        } else {
            bump(sub.remote_pas, flood_pa{e.pa, e.provider, 0});
        }
        if (e.type == record_type::gateway_wildcard) {
            auto& gateways = e.ca.is_v4() ? sub.gateways_v4 : sub.gateways_v6;
            const auto at = std::lower_bound(gateways.begin(), gateways.end(), mac_key(e.mac),
                                             [this](record_id g, std::uint64_t key) { return mac_key(records_[g].mac) < key; });
            gateways.insert(at, id);
            if (std::uint32_t* n = gateway_pas_.find(ca_key{e.domain, e.pa})) ++*n;
            else gateway_pas_.insert_or_assign(ca_key{e.domain, e.pa}, 1u);
        } else if (!keep_slot) {
            ca_index_.insert_or_assign(ca_key{e.domain, e.ca}, ref_of(id));
        }
        pa_usage* u = pa_usage_.find(ca_key{0, e.pa});
        if (u == nullptr) {
            pa_usage_.insert_or_assign(ca_key{0, e.pa}, pa_usage{});
            u = pa_usage_.find(ca_key{0, e.pa});
        }
        ++u->records;
        if (e.rule == rule::nat) u->nat = id;
        const ca_key hm = host_mac_key(host_index_of(e.provider), e.mac);
        if (mac_usage* mu = mac_usage_.find(hm)) {
            mu->vsid = e.vsid;
            ++mu->records;
        } else {
            mac_usage_.insert_or_assign(hm, mac_usage{e.vsid, 1});
        }
    }

    /// Removes record `id` from every index (the entry itself stays as it is); `keep_slot`:
    /// but its CA index slot (the caller reuses it for the record's replacement).
    void unlink(record_id id, bool keep_slot = false) {
        const record_entry& e = records_[id];
        subnet_entry& sub = subnets_[e.subnet];
        if (e.type == record_type::gateway_wildcard) {
            auto& gateways = e.ca.is_v4() ? sub.gateways_v4 : sub.gateways_v6;
            gateways.erase(std::remove(gateways.begin(), gateways.end(), id), gateways.end());
            if (std::uint32_t* n = gateway_pas_.find(ca_key{e.domain, e.pa}); n != nullptr && --*n == 0)
                gateway_pas_.erase(ca_key{e.domain, e.pa});
        } else if (!keep_slot) {
            ca_index_.erase(ca_key{e.domain, e.ca});
        }
        if (pa_usage* u = pa_usage_.find(ca_key{0, e.pa})) {
            if (u->nat == id) u->nat = no_record;
            if (--u->records == 0) pa_usage_.erase(ca_key{0, e.pa});
        }
        const ca_key hm = host_mac_key(host_index_of(e.provider), e.mac);
        if (mac_usage* m = mac_usage_.find(hm); m != nullptr && --m->records == 0) mac_usage_.erase(hm);
        if (e.local) {
            drop(sub.local_macs, flood_mac{e.mac, 0});
            if (const std::uint32_t* p = port_index_.find(port_key(e.mac))) {
                const std::uint32_t index = *p;
                auto& recs = ports_[index].records;
                recs.erase(std::remove(recs.begin(), recs.end(), id), recs.end());
                if (recs.empty()) {
                    port_index_.erase(port_key(e.mac));
                    if (ports_[index].id != no_port) port_by_id_[ports_[index].id] = no_port;
                    ports_[index] = local_port{};
                    free_ports_.push_back(index);
                } else {
                    refresh_sources(ports_[index]);
                }
            }
        } else {
            drop(sub.remote_pas, flood_pa{e.pa, e.provider, 0});
        }
    }

    /// The gateway-wildcard record of `sub` for version `v` held by the NIC with `mac`, or no_record.
    [[nodiscard]] record_id gateway_with_mac(const subnet_entry& sub, ip_version v, const mac_address& mac) const noexcept {
        for (const record_id id : sub.gateways(v))
            if (records_[id].mac == mac) return id;
        return no_record;
    }

    /// The index of the port of `mac` in ports_, created empty if new.
    std::uint32_t port_index_of_mac(const mac_address& mac) {
        if (const std::uint32_t* p = port_index_.find(port_key(mac))) return *p;
        std::uint32_t index;
        if (!free_ports_.empty()) {
            index = free_ports_.back();
            free_ports_.pop_back();
        } else {
            index = static_cast<std::uint32_t>(ports_.size());
            ports_.emplace_back();
        }
        port_index_.insert_or_assign(port_key(mac), index);
        if (const std::uint32_t* id = bound_ids_.find(port_key(mac))) {
            ports_[index].id = *id;
            port_by_id_[*id] = index;
        }
        return index;
    }
    /// Recomputes port.sources: its first static records, in record order.
    void refresh_sources(local_port& port) const noexcept {
        port.source_count = 0;
        for (const record_id id : port.records) {
            if (port.source_count == local_port::inline_sources) break;
            const record_entry& r = records_[id];
            if (r.type != record_type::static_record) continue;
            port.sources[port.source_count++] = port_source{r.ca, id, r.provider, r.rule};
        }
    }

    /// Precomputes next_hop_mac_between and compiled_path for every local PA (state::build,
    /// after every PA).
    void index_next_hops() {
        const std::size_t n = provider_addresses_.size();
        next_hop_row_.assign(n, no_row);
        next_hops_.assign(local_pas_.size() * n, next_hop{});
        for (std::size_t row = 0; row < local_pas_.size(); ++row) {
            const provider_address& src = provider_addresses_[local_pas_[row]];
            next_hop_row_[local_pas_[row]] = static_cast<std::uint32_t>(row);
            for (std::size_t d = 0; d < n; ++d)
                if (const auto mac = next_hop_mac(src, provider_addresses_[d].pa)) {
                    next_hop& h = next_hops_[row * n + d];
                    h.mac = *mac;
                    h.valid = true;
                    if (auto c = packet::compiled_header::compile(
                            packet::outer_path{src.mac, *mac, src.vlan, src.pa, provider_addresses_[d].pa})) {
                        h.header = *c;
                        h.compiled = true;
                    }
                }
        }
    }

    /// Counts one more record for flood-list entry `e` (adding the entry if new). O(list).
    template <class Entry>
    static void bump(std::vector<Entry>& list, Entry e) {
        for (auto& x : list)
            if (key_of(x) == key_of(e)) {
                ++x.records;
                return;
            }
        e.records = 1;
        list.push_back(e);
    }
    /// Counts one record less for entry `e`, removing it at zero (order is not kept). O(list).
    template <class Entry>
    static void drop(std::vector<Entry>& list, const Entry& e) {
        for (auto& x : list)
            if (key_of(x) == key_of(e)) {
                if (--x.records == 0) {
                    x = list.back();
                    list.pop_back();
                }
                return;
            }
    }
    // Flood lists compare small integers, not addresses: PAs by provider index, MACs as 48-bit keys.
    static std::uint32_t key_of(const flood_pa& f) noexcept { return f.provider; }
    static std::uint64_t key_of(const flood_mac& f) noexcept { return mac_key(f.mac); }

    // -- customer routes --

    change_status apply_one(const set_customer_route& c) { return put_route(c.route, identity::replace); }

    /// Adds customer route `r` (identity::unique: state::build) or adds or replaces it
    /// (identity::replace: a change), after the rules of policy/validator.hpp.
    change_status put_route(const customer_route& r, identity mode) {
        if (const change_status st = check(r, mode, nullptr); st != change_status::ok) return st;
        const std::uint32_t d = *domain_index(r.domain);
        const std::uint32_t sit = *subnet_index_.find(r.subnet.value());
        auto& list = route_candidates_[d][r.prefix];
        const route_entry entry{r.subnet.value(), sit, r.next_hop, r.metric, static_cast<std::uint8_t>(r.prefix.length())};
        auto same = std::find_if(list.begin(), list.end(), [&](const route_entry& x) { return x.metric == r.metric; });
        if (same != list.end()) *same = entry;
        else list.push_back(entry);
        refresh_route(d, r.prefix);
        return change_status::ok;
    }
    change_status apply_one(const remove_customer_route& c) {
        const auto d = domain_index(c.domain);
        if (!d) return change_status::unknown_domain;
        auto& candidates = route_candidates_[*d];
        auto it = candidates.find(c.prefix);
        if (it == candidates.end()) return change_status::not_found;
        auto& list = it->second;
        auto same = std::find_if(list.begin(), list.end(), [&](const route_entry& x) { return x.metric == c.metric; });
        if (same == list.end()) return change_status::not_found;
        list.erase(same);
        refresh_route(*d, c.prefix);
        return change_status::ok;
    }
    /// Puts the lowest-metric candidate of `prefix` (the first added among equals) in the LPM.
    void refresh_route(std::uint32_t domain, const ip_prefix& prefix) {
        auto& candidates = route_candidates_[domain];
        domain_entry& dom = domains_[domain];
        auto it = candidates.find(prefix);
        if (it == candidates.end() || it->second.empty()) {
            if (it != candidates.end()) candidates.erase(it);
            dom.routes.erase(prefix);
            return;
        }
        const auto best = std::min_element(it->second.begin(), it->second.end(),
                                           [](const route_entry& a, const route_entry& b) { return a.metric < b.metric; });
        dom.routes.insert_or_assign(prefix, *best);
    }

    // The control plane's bookkeeping; the snapshot holds what the packet path reads.
    std::vector<std::string> hosts_;                 // host index -> name (pa_host_ holds indices)
    std::map<rdid, std::uint32_t> domain_index_;     // routing domain -> index in domains_
    /// Per domain, every route of every prefix, for the next-best metric when the winner goes.
    std::vector<std::map<ip_prefix, std::vector<route_entry>>> route_candidates_;
    std::vector<std::string> vm_names_;              // record id -> VM name
    /// (host index, MAC) -> the port classification its records name (classified NICs only;
    /// set by build: a change set that touches one rebuilds the state).
    std::map<std::pair<std::uint32_t, mac_address>, std::string> nic_classification_;
    std::set<mac_address> classified_macs_;  // the MACs of nic_classification_
    std::vector<record_id> free_records_;
    ca_table<mac_usage> mac_usage_;                  // (host, MAC) -> VSID, see host_mac_key
    std::vector<std::uint32_t> free_ports_;
    // The embedder's port numbers (bind_port): number -> its bound MAC, and MAC -> number
    // (the snapshot's port_by_id_ maps the number to its port while the MAC has records here).
    struct binding {
        mac_address mac;
        bool bound{false};
    };
    std::vector<binding> bindings_;
    ca_table<std::uint32_t> bound_ids_;              // port_key(MAC) -> embedder number
};

/// Why state::build refused a model: the object (its kind, and its index among the objects of
/// that kind in the model) and the status.
struct state_build_error {
    object_kind kind{object_kind::lookup_record};
    std::size_t index{0};
    change_status status{change_status::ok};
};

/// What state::build returns: the state, or why there is none.
struct state_build_result {
    std::optional<state> built;              ///< set if and only if `error` is empty
    std::optional<state_build_error> error;

    [[nodiscard]] explicit operator bool() const noexcept { return built.has_value(); }
    /// The state. Precondition: no error (aborts otherwise, like result<T>::value()).
    [[nodiscard]] state& value() & noexcept {
        if (!built) nvgre::detail::result_precondition_failed();
        return *built;
    }
    [[nodiscard]] const state& value() const& noexcept {
        if (!built) nvgre::detail::result_precondition_failed();
        return *built;
    }
    [[nodiscard]] state&& value() && noexcept {
        if (!built) nvgre::detail::result_precondition_failed();
        return std::move(*built);
    }
};

/// "lookup-record #3: duplicate-ca", for logs.
[[nodiscard]] inline std::string to_string(const state_build_error& e) {
    return std::string(to_string(e.kind)) + " #" + std::to_string(e.index) + ": " + std::string(to_string(e.status));
}

inline state_build_result state::build(const model& m, std::string_view host) {
    const auto fail = [](object_kind kind, std::size_t index, change_status st) {
        return state_build_result{std::nullopt, state_build_error{kind, index, st}};
    };
    if (m.hosts().size() > max_hosts) return fail(object_kind::provider_address, 0, change_status::too_many_hosts);
    state s;
    s.host_ = std::string(host);
    for (const auto& pa : m.provider_addresses()) s.add_provider_address(pa);
    for (const auto& r : m.provider_routes())
        if (r.host == host) s.add_provider_route(r);
    for (const auto& d : m.routing_domains()) s.add_domain(d);
    for (const auto& v : m.virtual_subnets()) s.add_subnet(v);
    for (std::size_t i = 0; i < m.customer_routes().size(); ++i) {
        const change_status st = s.put_route(m.customer_routes()[i], identity::unique);
        if (st != change_status::ok) return fail(object_kind::customer_route, i, st);
    }
    s.ca_index_.reserve(m.lookup_records().size());
    for (std::size_t i = 0; i < m.lookup_records().size(); ++i) {
        const change_status st = s.put_record(m.lookup_records()[i], identity::unique);
        if (st != change_status::ok) return fail(object_kind::lookup_record, i, st);
    }
    // Port classifications: a NIC's records all name the same one (the model's rule).
    for (const lookup_record& r : m.lookup_records()) {
        if (r.classification.empty()) continue;
        const std::uint32_t* provider = s.pa_index_.find(ca_key{0, r.pa});
        const port_classification* c = m.find_classification(r.classification);
        if (provider == nullptr || c == nullptr) continue;  // a validated model has both
        s.nic_classification_.insert_or_assign(std::pair{s.host_index_of(*provider), r.mac}, r.classification);
        s.classified_macs_.insert(r.mac);
        if (const std::uint32_t* p = s.port_index_.find(port_key(r.mac)); p != nullptr && s.is_local_pa(r.pa)) {
            s.ports_[*p].settings = port_settings::of(*c);
            s.metered_ports_ = s.metered_ports_ || s.ports_[*p].settings.metered();
        }
    }
    s.index_next_hops();
    return state_build_result{std::move(s), std::nullopt};
}

}  // namespace nvgre::policy
