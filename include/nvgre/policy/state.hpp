/// @file policy/state.hpp
/// @brief A validated policy indexed for one host's datapath: every question the egress and
/// ingress pipelines ask per packet, answered without locks or allocation, plus the single
/// changes (records and customer routes) a live policy applies.
///
/// A `state` is built from a validated `model` for host NAME (`state::build`). Queries are
/// `const noexcept` and never allocate; changes (`apply`) are control plane: they validate
/// against the current state exactly as the builder validates a file (docs/policy-format.md) and
/// either apply completely or not at all. A `state` is not synchronised: policy/live_policy.hpp
/// keeps two of them behind a left-right scheme so that readers never see one being changed.
///
/// Complexity (n records, p prefixes of a domain, h hosts with VMs of a subnet):
/// - find_record / find_record_in_subnet / nat_record / provider: O(1) expected, one probe of
///   policy::ca_table; find_records_batch hashes a burst, prefetches, then probes;
/// - route: one longest-prefix match in the domain's policy::lpm_table;
/// - port: O(1) expected (hash of the MAC);
/// - apply(set_record / remove_record): O(1) expected plus O(h) for the subnet's flood list;
/// - apply(set/remove_customer_route): O(routes of that prefix) plus the LPM update.
/// Memory per record: see record_entry (64 bytes) + its ca_table slot(s) + the VM name.
#pragma once

#include "nvgre/detail/assert.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/ca_table.hpp"
#include "nvgre/policy/lpm.hpp"
#include "nvgre/policy/memory.hpp"
#include "nvgre/policy/model.hpp"
#include "nvgre/policy/validator.hpp"
#include "nvgre/policy/vsid_index.hpp"
#include "nvgre/packet/outer_header.hpp"
#include "nvgre/rdid.hpp"
#include "nvgre/vsid.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <type_traits>
#include <variant>
#include <vector>

namespace nvgre::policy {

/// Index of a record in a state (stable while the record exists).
using record_id = std::uint32_t;
inline constexpr record_id no_record = ~record_id{0};

/// No port: a remote record's port, an unbound port's embedder index (state::bind_port).
inline constexpr std::uint32_t no_port = ~std::uint32_t{0};

/// One lookup record as the datapath reads it: compact, no strings.
struct record_entry {
    ip_address ca;
    ip_address pa;
    mac_address mac;
    std::uint32_t vsid{0};    ///< the record's tenant VSID (raw value)
    std::uint32_t provider{0};  ///< index of its PA: provider_at(provider)
    std::uint32_t domain{0};  ///< index of its routing domain in the state
    std::uint32_t subnet{0};  ///< index of its virtual subnet in the state
    policy::rule rule{rule::encap};
    record_type type{record_type::static_record};
    bool local{false};        ///< its PA belongs to this host: the VM runs here
    bool in_use{false};       ///< false for a free slot
    std::uint32_t port{no_port};  ///< a local record's VM port: state::port_at(port)
};
static_assert(sizeof(record_entry) <= 64, "a record stays within one cache line");

/// What the per-packet path reads of a record, kept in the CA index slot itself: with its
/// 8-byte key a 32-byte slot, two per cache line. A lookup then reads one cache line, not a
/// slot and then the 64-byte record_entry (a second, dependent cache miss at 1M records).
/// Always equal to the fields of record(id) it copies. Gateway-wildcard records have none.
struct record_ref {
    record_id id{no_record};    ///< the whole record: state::record(id)
    std::uint32_t vsid{0};      ///< record_entry::vsid
    std::uint32_t provider{0};  ///< record_entry::provider: its PA is provider_at(provider).pa
    mac_address mac;            ///< record_entry::mac
    policy::rule rule{rule::encap};
    bool local{false};          ///< record_entry::local
    /// A local record's VM port: state::port_at(port) (no_port for remote records). With the
    /// 8-byte IPv4 key the slot stays 32 bytes.
    std::uint32_t port{no_port};
};
static_assert(sizeof(record_ref) == 24);

/// A customer route as the LPM stores it: the winner (lowest metric) of its prefix.
struct route_entry {
    std::uint32_t vsid{0};   ///< the subnet the prefix lives in
    std::uint32_t subnet{0};  ///< index of that subnet in the state
    ip_address next_hop;     ///< unspecified = on-link: the destination CA itself
    std::uint32_t metric{default_customer_route_metric};

    [[nodiscard]] bool on_link() const noexcept { return next_hop.is_unspecified(); }
};

/// A routing domain: its router MAC and customer routes.
struct domain_entry {
    rdid id;
    std::string name;
    mac_address router_mac{default_router_mac};
    lpm_table<route_entry> routes;
    /// Every route of every prefix, for the next-best metric when the winner goes.
    std::map<ip_prefix, std::vector<route_entry>> candidates;
};

/// A remote provider address hosting VMs of a subnet, with how many records point at it.
struct flood_pa {
    ip_address pa;
    std::uint32_t provider{0};  ///< index of the PA: provider_at(provider)
    std::uint32_t records{0};
};
/// A local VM NIC of a subnet, with how many of its records are in the subnet.
struct flood_mac {
    mac_address mac;
    std::uint32_t records{0};
    std::uint32_t port{no_port};  ///< its VM port: state::port_at(port)
};

/// A virtual subnet: its domain, gateway addresses and flood lists (head-end replication).
struct subnet_entry {
    nvgre::vsid id = *nvgre::vsid::make(nvgre::vsid::min_tenant);
    std::uint32_t domain{0};
    std::optional<ipv4_address> gateway_v4;
    std::optional<ipv6_address> gateway_v6;
    std::vector<flood_pa> remote_pas;  ///< distinct remote PAs hosting VMs of this subnet
    std::vector<flood_mac> local_macs; ///< distinct local VM NICs of this subnet
    /// Its gateway-wildcard records of each IP version (gateways side by side), ordered by MAC
    /// so that every host numbers them alike (egress picks one by flow hash).
    std::vector<record_id> gateways_v4;
    std::vector<record_id> gateways_v6;

    [[nodiscard]] const std::vector<record_id>& gateways(ip_version v) const noexcept {
        return v == ip_version::v4 ? gateways_v4 : gateways_v6;
    }
};

/// One of a port's static records, held in the port itself (see local_port::sources).
struct port_source {
    ip_address ca;
    record_id id{no_record};
    std::uint32_t provider{0};  ///< its PA: the outer source of the port's encapsulated frames
    policy::rule rule{rule::encap};
};

/// A VM port of this host: the NIC with `mac`, in subnet `vsid`, holding `records`.
struct local_port {
    /// How many static records a port keeps inline in `sources`.
    static constexpr std::size_t inline_sources = 2;

    mac_address mac;
    std::uint32_t vsid{0};
    std::uint32_t subnet{0};
    std::uint32_t domain{0};  ///< its subnet's routing domain (subnet_at(subnet).domain)
    std::vector<record_id> records;  ///< its customer addresses (and gateway-wildcard records)
    /// The first `source_count` static records of `records` (at most inline_sources): a
    /// source address found here is what find_record(domain, source) would return, without
    /// the table probe (egress checks every frame's source against its port).
    std::array<port_source, inline_sources> sources{};
    std::uint8_t source_count{0};
    /// The embedder's index of this port (state::bind_port), or no_port while unbound.
    std::uint32_t id{no_port};
};

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

/// A validated policy indexed for one host. See the file comment.
class state {
public:
    state() = default;

    /// Most hosts a state can number (the "one VSID per MAC per host" index packs the host
    /// number into 16 bits).
    static constexpr std::size_t max_hosts = std::size_t{1} << 16;

    /// Indexes `m` for host `host` (which need not own a PA: a host with no PA sees no local
    /// VMs). O(size of the policy). Every customer route and record goes through the rules of
    /// policy/validator.hpp, as in the builder, so a model from builder::build always indexes
    /// whole; what can still fail is a limit of the state (max_hosts, 2^32 - 1 records), and
    /// then the result names the object and the status instead of leaving anything out.
    [[nodiscard]] static state_build_result build(const model& m, std::string_view host);

    // ---- per-packet queries (const, noexcept, no allocation) ----------------------------

    /// The host this state was built for.
    [[nodiscard]] std::string_view host() const noexcept { return host_; }

    /// The record holding customer address `ca` in routing domain `domain`, or nullptr.
    /// (A CA is unique within its routing domain.) Gateway-wildcard records are not found here.
    [[nodiscard]] const record_entry* find_record(std::uint32_t domain, const ip_address& ca) const noexcept {
        const record_ref* r = ca_index_.find(ca_key{domain, ca});
        return r == nullptr ? nullptr : &records_[r->id];
    }
    /// find_record's answer as the index holds it (one cache line; record(ref->id) for the rest).
    [[nodiscard]] const record_ref* find_ref(std::uint32_t domain, const ip_address& ca) const noexcept {
        return ca_index_.find(ca_key{domain, ca});
    }
    /// The record (VSID, CA), or nullptr: the domain's record of `ca` if it is in subnet `vsid`.
    [[nodiscard]] const record_entry* find_record_in_subnet(std::uint32_t vsid, const ip_address& ca) const noexcept {
        const subnet_entry* s = subnet(vsid);
        if (s == nullptr) return nullptr;
        const record_entry* r = find_record(s->domain, ca);
        return (r != nullptr && r->vsid == vsid) ? r : nullptr;
    }
    /// Starts loading the index slot of find_record(domain, ca): a burst prefetches every
    /// frame's lookup first, then probes them all, so the memory latencies overlap.
    void prefetch_record(std::uint32_t domain, const ip_address& ca) const noexcept {
        ca_index_.prefetch(ca_key{domain, ca});
    }
    /// Batched find_record: hashes all keys, prefetches, then probes. Precondition: sizes equal.
    /// (find_refs_batch reads one cache line a key less: the record_entry.)
    void find_records_batch(std::span<const ca_key> keys, std::span<const record_entry*> out) const noexcept {
        constexpr std::size_t chunk = 32;
        const record_ref* refs[chunk];
        for (std::size_t i = 0; i < keys.size(); i += chunk) {
            const std::size_t n = std::min(chunk, keys.size() - i);
            ca_index_.find_batch(keys.subspan(i, n), std::span<const record_ref*>(refs, n));
            for (std::size_t j = 0; j < n; ++j) out[i + j] = refs[j] == nullptr ? nullptr : &records_[refs[j]->id];
        }
    }
    /// Batched find_ref: hashes all keys, prefetches their slots, then probes; out[i] =
    /// find_ref(keys[i]). Precondition: sizes equal. One cache line per key.
    void find_refs_batch(std::span<const ca_key> keys, std::span<const record_ref*> out) const noexcept {
        ca_index_.find_batch(keys, out);
    }
    /// The record with id `id`. Precondition: a live id obtained from this state.
    [[nodiscard]] const record_entry& record(record_id id) const noexcept {
        NVGRE_ASSERT(id < records_.size());
        return records_[id];
    }
    /// What the CA index holds of record `id` (find_ref's answer for a static record); the
    /// per-packet path reads gateway-wildcard records, which the index does not hold, this way too.
    [[nodiscard]] record_ref ref_of(record_id id) const noexcept {
        const record_entry& e = records_[id];
        return record_ref{id, e.vsid, e.provider, e.mac, e.rule, e.local, e.port};
    }
    /// The id of a record reference obtained from this state.
    [[nodiscard]] record_id id_of(const record_entry& r) const noexcept {
        return static_cast<record_id>(&r - records_.data());
    }
    /// The VM name of a record ("" when the policy gave none). Not for the per-packet path.
    [[nodiscard]] std::string_view vm_name(record_id id) const noexcept { return vm_names_[id]; }

    /// The gateway-wildcard records of subnet `vsid` for addresses of version `v`, ordered by
    /// MAC; empty when it has none or `vsid` is not declared. O(1).
    [[nodiscard]] std::span<const record_id> gateway_wildcards(std::uint32_t vsid, ip_version v) const noexcept {
        const subnet_entry* s = subnet(vsid);
        if (s == nullptr) return {};
        return s->gateways(v);
    }
    /// The gateway of subnet `vsid` for version `v` that a flow with hash `flow_hash` takes
    /// (gateway_wildcards()[flow_hash % n]), or nullptr when there is none. O(1).
    [[nodiscard]] const record_entry* gateway_for_flow(std::uint32_t vsid, ip_version v, std::uint32_t flow_hash) const noexcept {
        const auto g = gateway_wildcards(vsid, v);
        return g.empty() ? nullptr : &records_[g[flow_hash % g.size()]];
    }
    /// The first (by MAC) gateway-wildcard record of subnet `vsid` for version `v` whose PA is
    /// `pa`, or nullptr. O(gateways of the subnet).
    [[nodiscard]] const record_entry* gateway_wildcard_with_pa(std::uint32_t vsid, ip_version v,
                                                               const ip_address& pa) const noexcept {
        for (const record_id id : gateway_wildcards(vsid, v))
            if (records_[id].pa == pa) return &records_[id];
        return nullptr;
    }
    /// The gateway-wildcard record of version `v` that the NIC of `port` holds in its VSID, or
    /// nullptr (a port holds at most one per version). O(gateways of the subnet).
    [[nodiscard]] const record_entry* gateway_wildcard_of_port(const local_port& port, ip_version v) const noexcept {
        for (const record_id id : subnets_[port.subnet].gateways(v))
            if (records_[id].mac == port.mac) return &records_[id];
        return nullptr;
    }
    /// True if `pa` is the PA of a gateway-wildcard record of some subnet of routing domain
    /// `domain` (either IP version): traffic from outside the tenant may come from it. O(1).
    [[nodiscard]] bool is_gateway_pa(std::uint32_t domain, const ip_address& pa) const noexcept {
        return gateway_pas_.find(ca_key{domain, pa}) != nullptr;
    }

    /// The virtual subnet `vsid`, or nullptr when it is not declared. O(1): one cache line of
    /// the VSID index (policy/vsid_index.hpp), one of the subnet.
    [[nodiscard]] const subnet_entry* subnet(std::uint32_t vsid) const noexcept {
        const std::uint32_t* i = subnet_index_.find(vsid);
        return i == nullptr ? nullptr : &subnets_[*i];
    }
    [[nodiscard]] const subnet_entry& subnet_at(std::uint32_t index) const noexcept {
        NVGRE_ASSERT(index < subnets_.size());
        return subnets_[index];
    }
    [[nodiscard]] const domain_entry& domain(std::uint32_t index) const noexcept {
        NVGRE_ASSERT(index < domains_.size());
        return domains_[index];
    }
    /// Index of routing domain `id`, or nullopt.
    [[nodiscard]] std::optional<std::uint32_t> domain_index(const rdid& id) const noexcept {
        const auto it = domain_index_.find(id);
        if (it == domain_index_.end()) return std::nullopt;
        return it->second;
    }

    /// Longest-prefix match of `destination` over the customer routes of domain `domain`.
    [[nodiscard]] const route_entry* route(std::uint32_t domain, const ip_address& destination) const noexcept {
        return domains_[domain].routes.lookup(destination);
    }

    /// The VM port of this host whose NIC has `mac`, or nullptr. O(1): one cache line of the
    /// index, then the port.
    [[nodiscard]] const local_port* port(const mac_address& mac) const noexcept {
        const std::uint32_t* i = port_index_.find(port_key(mac));
        return i == nullptr ? nullptr : &ports_[*i];
    }
    /// The index of `port` (from port()) among this state's ports: 0..port_count() - 1, stable
    /// for the life of the state (per-port counters, datapath/context.hpp).
    [[nodiscard]] std::size_t port_index(const local_port& port) const noexcept {
        return static_cast<std::size_t>(&port - ports_.data());
    }
    /// How many VM ports this host has.
    [[nodiscard]] std::size_t port_count() const noexcept { return ports_.size(); }
    /// Starts loading the index slot of port(mac) (a burst looks its ports up first).
    void prefetch_port(const mac_address& mac) const noexcept { port_index_.prefetch(port_key(mac)); }
    /// The port at `index` (a record_ref's `port`). Precondition: index < port_count().
    [[nodiscard]] const local_port& port_at(std::uint32_t index) const noexcept {
        NVGRE_ASSERT(index < ports_.size());
        return ports_[index];
    }
    /// The embedder's number of the port at `index` (a record_ref's or flood_mac's `port`), or
    /// no_port when it is unbound or `index` names no port (no_port: a remote record's).
    [[nodiscard]] std::uint32_t port_id_at(std::uint32_t index) const noexcept {
        return index < ports_.size() ? ports_[index].id : no_port;
    }
    /// The VM port the embedder numbered `id` (bind_port), or nullptr when `id` is unbound or
    /// its NIC has no records on this host. O(1): an array read, no hashing.
    [[nodiscard]] const local_port* port_by_id(std::uint32_t id) const noexcept {
        if (id >= port_by_id_.size() || port_by_id_[id] == no_port) return nullptr;
        return &ports_[port_by_id_[id]];
    }
    /// The embedder's index of the VM port of the NIC with `mac`, or no_port. Control plane
    /// (one hash).
    [[nodiscard]] std::uint32_t port_id_of(const mac_address& mac) const noexcept {
        const std::uint32_t* id = bound_ids_.find(port_key(mac));
        return id == nullptr ? no_port : *id;
    }
    /// The largest port index an embedder may bind.
    static constexpr std::uint32_t max_port_id = (std::uint32_t{1} << 20) - 1;

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

    /// The provider address `pa` (of any host), or nullptr.
    [[nodiscard]] const provider_address* provider(const ip_address& pa) const noexcept {
        const std::uint32_t* i = pa_index_.find(ca_key{0, pa});
        return i == nullptr ? nullptr : &provider_addresses_[*i];
    }
    /// True if `pa` is one of this host's provider addresses.
    [[nodiscard]] bool is_local_pa(const ip_address& pa) const noexcept {
        const std::uint32_t* i = pa_index_.find(ca_key{0, pa});
        return i != nullptr && pa_host_[*i] == local_host_;
    }
    /// This host's provider addresses.
    [[nodiscard]] std::span<const std::uint32_t> local_pa_indices() const noexcept { return local_pas_; }
    [[nodiscard]] const provider_address& provider_at(std::uint32_t index) const noexcept {
        return provider_addresses_[index];
    }

    /// The nat record whose PA is `pa`, or nullptr (IP rewrite: PA -> (VSID, CA)).
    [[nodiscard]] const record_entry* nat_record(const ip_address& pa) const noexcept {
        const pa_usage* u = pa_usage_.find(ca_key{0, pa});
        return (u == nullptr || u->nat == no_record) ? nullptr : &records_[u->nat];
    }

    /// The MAC of the next hop toward provider address `destination` from local provider
    /// address `source`: the destination's own MAC when it is on-link (inside the source PA's
    /// subnet), otherwise the next-hop MAC of this host's matching provider route (lowest
    /// metric); nullopt when neither exists.
    [[nodiscard]] std::optional<mac_address> next_hop_mac(const provider_address& source,
                                                          const ip_address& destination) const noexcept {
        if (source.pa.version() == destination.version() &&
            ip_prefix::containing(source.pa, source.prefix_length).value().contains(destination)) {
            const provider_address* d = provider(destination);
            if (d != nullptr) return d->mac;
            return std::nullopt;
        }
        const std::uint32_t* r = provider_routes_.lookup(destination);
        if (r == nullptr) return std::nullopt;
        return provider_route_list_[*r].next_hop_mac;
    }
    /// next_hop_mac(provider_at(source), provider_at(destination).pa), precomputed when the
    /// state was built for every source PA of this host (providers and provider routes never
    /// change afterwards): a pointer to the MAC, or nullptr when there is no next hop or
    /// `source` is not one of this host's PAs (then ask next_hop_mac). O(1), no probe.
    [[nodiscard]] const mac_address* next_hop_mac_between(std::uint32_t source, std::uint32_t destination) const noexcept {
        const next_hop* h = hop_between(source, destination);
        return h != nullptr && h->valid ? &h->mac : nullptr;
    }
    /// The outer headers from this host's PA `source` to PA `destination` (indices), compiled
    /// when the state was built (packet/outer_header.hpp: MACs of the PA and of the next hop,
    /// the PA's VLAN, both addresses), or nullptr when next_hop_mac_between has no next hop (or
    /// the two PAs are of different IP versions). Encapsulation copies it and patches the
    /// per-packet fields. O(1), no probe.
    [[nodiscard]] const packet::compiled_header* compiled_path(std::uint32_t source, std::uint32_t destination) const noexcept {
        const next_hop* h = hop_between(source, destination);
        return h != nullptr && h->compiled ? &h->header : nullptr;
    }

    /// Number of live records.
    [[nodiscard]] std::size_t record_count() const noexcept { return records_.size() - free_records_.size(); }
    [[nodiscard]] std::size_t subnet_count() const noexcept { return subnets_.size(); }
    [[nodiscard]] std::size_t domain_count() const noexcept { return domains_.size(); }
    /// Heap bytes of the per-record structures (records, CA and PA indexes), for sizing.
    [[nodiscard]] std::size_t record_memory_bytes() const noexcept {
        return records_.capacity() * sizeof(record_entry) + ca_index_.memory_bytes() + pa_usage_.memory_bytes() +
               vm_names_.capacity() * sizeof(std::string);
    }

    /// Calls f(const record_entry&, record_id) for every live record (not per packet).
    template <class F>
    void for_each_record(F&& f) const {
        for (std::size_t i = 0; i < records_.size(); ++i)
            if (records_[i].in_use) f(records_[i], static_cast<record_id>(i));
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
    struct pa_usage {
        std::uint32_t records{0};  ///< records whose PA this is
        record_id nat{no_record};  ///< the nat record using it, if any
    };
    struct mac_usage {
        std::uint32_t vsid{0};
        std::uint32_t records{0};
    };

    static std::uint64_t mac_key(const mac_address& m) noexcept {
        std::uint64_t k = 0;
        for (auto o : m.octets()) k = k << 8 | o;
        return k;
    }
    /// A MAC as a ca_table key (compact IPv4 form: one cache line per probe).
    static ca_key port_key(const mac_address& m) noexcept {
        const std::uint64_t k = mac_key(m);
        return ca_key{static_cast<std::uint32_t>(k >> 32), ipv4_address::from_uint(static_cast<std::uint32_t>(k))};
    }
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
        e.name = d.name;
        e.router_mac = d.router_mac;
        domains_.push_back(std::move(e));
    }
    void add_subnet(const virtual_subnet& v) {
        subnet_entry e;
        e.id = v.id;
        e.domain = domain_index_.at(v.domain);
        e.gateway_v4 = v.gateway_v4;
        e.gateway_v6 = v.gateway_v6;
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
            const auto& candidates = s_.domains_[domain].candidates;
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
        domain_entry& dom = domains_[d];
        auto& list = dom.candidates[r.prefix];
        const route_entry entry{r.subnet.value(), sit, r.next_hop, r.metric};
        auto same = std::find_if(list.begin(), list.end(), [&](const route_entry& x) { return x.metric == r.metric; });
        if (same != list.end()) *same = entry;
        else list.push_back(entry);
        refresh_route(dom, r.prefix);
        return change_status::ok;
    }
    change_status apply_one(const remove_customer_route& c) {
        const auto d = domain_index(c.domain);
        if (!d) return change_status::unknown_domain;
        domain_entry& dom = domains_[*d];
        auto it = dom.candidates.find(c.prefix);
        if (it == dom.candidates.end()) return change_status::not_found;
        auto& list = it->second;
        auto same = std::find_if(list.begin(), list.end(), [&](const route_entry& x) { return x.metric == c.metric; });
        if (same == list.end()) return change_status::not_found;
        list.erase(same);
        refresh_route(dom, c.prefix);
        return change_status::ok;
    }
    /// Puts the lowest-metric candidate of `prefix` (the first added among equals) in the LPM.
    static void refresh_route(domain_entry& dom, const ip_prefix& prefix) {
        auto it = dom.candidates.find(prefix);
        if (it == dom.candidates.end() || it->second.empty()) {
            if (it != dom.candidates.end()) dom.candidates.erase(it);
            dom.routes.erase(prefix);
            return;
        }
        const auto best = std::min_element(it->second.begin(), it->second.end(),
                                           [](const route_entry& a, const route_entry& b) { return a.metric < b.metric; });
        dom.routes.insert_or_assign(prefix, *best);
    }

    std::string host_;
    std::vector<std::string> hosts_;
    std::vector<provider_address> provider_addresses_;
    std::vector<std::uint32_t> pa_host_;  // provider index -> host index
    std::uint32_t local_host_{~std::uint32_t{0}};  // index of host_ in hosts_ (none: no PA)
    std::vector<std::uint32_t> local_pas_;
    ca_table<std::uint32_t> pa_index_;  // (0, PA) -> index in provider_addresses_
    std::vector<provider_route> provider_route_list_;
    lpm_table<std::uint32_t> provider_routes_;  // this host's: prefix -> index in provider_route_list_

    std::vector<domain_entry> domains_;
    std::map<rdid, std::uint32_t> domain_index_;
    std::vector<subnet_entry> subnets_;
    vsid_index subnet_index_;  // VSID -> index in subnets_

    // Per-packet arrays through the memory hooks (huge pages where the embedder allows).
    std::vector<record_entry, large_array_allocator<record_entry>> records_;
    std::vector<std::string> vm_names_;
    std::vector<record_id> free_records_;
    ca_table<record_ref> ca_index_;         // (domain, CA) -> record (static records)
    ca_table<pa_usage> pa_usage_;           // (0, PA) -> records using it, nat record
    ca_table<mac_usage> mac_usage_;         // (host, MAC) -> VSID, see host_mac_key
    ca_table<std::uint32_t> port_index_;    // port_key(MAC) -> index in ports_
    ca_table<std::uint32_t> gateway_pas_;   // (domain, PA) -> gateway-wildcard records with that PA
    std::vector<local_port> ports_;         // this host's VM ports (free slots: empty records)
    std::vector<std::uint32_t> free_ports_;
    // The embedder's port indices (bind_port): index -> its bound MAC and its port in ports_
    // (no_port while the MAC has no records here), and MAC -> index.
    struct binding {
        mac_address mac;
        bool bound{false};
    };
    std::vector<binding> bindings_;
    std::vector<std::uint32_t> port_by_id_;
    ca_table<std::uint32_t> bound_ids_;     // port_key(MAC) -> embedder index

    // next_hop_mac_between: row per local PA (next_hop_row_[provider], no_row if not local),
    // one entry per provider in it.
    struct next_hop {
        mac_address mac;
        bool valid{false};
        bool compiled{false};  ///< `header` holds the compiled path
        packet::compiled_header header;
    };
    /// The precomputed entry from local PA `source` to PA `destination`, or nullptr when
    /// `source` is not one of this host's PAs or an index is out of range.
    [[nodiscard]] const next_hop* hop_between(std::uint32_t source, std::uint32_t destination) const noexcept {
        if (source >= next_hop_row_.size() || destination >= provider_addresses_.size()) return nullptr;
        const std::uint32_t row = next_hop_row_[source];
        if (row == no_row) return nullptr;
        return &next_hops_[std::size_t{row} * provider_addresses_.size() + destination];
    }
    static constexpr std::uint32_t no_row = ~std::uint32_t{0};
    std::vector<std::uint32_t> next_hop_row_;
    std::vector<next_hop> next_hops_;
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
    s.index_next_hops();
    return state_build_result{std::move(s), std::nullopt};
}

}  // namespace nvgre::policy
