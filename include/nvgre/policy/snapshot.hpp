/// @file policy/snapshot.hpp
/// @brief The flat, read-only form of one host's policy that the packet path reads: every
/// question egress and ingress ask per packet, answered without locks, allocation or strings.
///
/// A `snapshot` is arrays and open-addressing indexes: the records (64 bytes each) and the CA
/// index whose 32-byte slots copy what a lookup needs (record_ref), the VSID index of the
/// subnets with their flood lists and gateways, the per-domain longest-prefix routes, the VM
/// ports by MAC and by the embedder's number, the provider addresses and, for every (local PA,
/// PA) pair, the next-hop MAC and the compiled outer headers. Every query is `const noexcept`
/// and allocation-free; nothing here changes it.
///
/// Snapshots are made and changed by the control plane, policy::state (policy/state.hpp): it
/// builds one from a validated model, applies changes after the one validator
/// (policy/validator.hpp) and keeps the control-plane bookkeeping (usage counts, free lists,
/// route candidates, VM names, port bindings) out of these arrays. A `state` is a snapshot, so
/// the datapath takes `const snapshot&` and a `state` (or live_policy's read guard) passes as
/// one. A snapshot cannot be copied on its own (that would slice a state): copy the state.
///
/// Complexity (n records, p prefixes of a domain):
/// - find_record / find_ref / nat_record / provider / port(mac): O(1) expected, one probe of a
///   policy::ca_table; find_refs_batch hashes a burst, prefetches, then probes;
/// - subnet(vsid): O(1) expected, one probe of policy::vsid_index;
/// - port_by_id / compiled_path / next_hop_mac_between: an array read, no probe;
/// - route: one longest-prefix match in the domain's policy::lpm_table.
/// Memory per record: record_entry (64 bytes) + its CA index slot (32 bytes).
#pragma once

#include "nvgre/detail/assert.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/packet/outer_header.hpp"
#include "nvgre/policy/ca_table.hpp"
#include "nvgre/policy/lpm.hpp"
#include "nvgre/policy/memory.hpp"
#include "nvgre/policy/model.hpp"
#include "nvgre/policy/vsid_index.hpp"
#include "nvgre/rdid.hpp"
#include "nvgre/vsid.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nvgre::policy {

/// Index of a record in a snapshot (stable while the record exists).
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
    std::uint32_t domain{0};  ///< index of its routing domain in the snapshot
    std::uint32_t subnet{0};  ///< index of its virtual subnet in the snapshot
    policy::rule rule{rule::encap};
    record_type type{record_type::static_record};
    bool local{false};        ///< its PA belongs to this host: the VM runs here
    bool in_use{false};       ///< false for a free slot
    std::uint32_t port{no_port};  ///< a local record's VM port: snapshot::port_at(port)
};
static_assert(sizeof(record_entry) <= 64, "a record stays within one cache line");

/// What the per-packet path reads of a record, kept in the CA index slot itself: with its
/// 8-byte key a 32-byte slot, two per cache line. A lookup then reads one cache line, not a
/// slot and then the 64-byte record_entry (a second, dependent cache miss at 1M records).
/// Always equal to the fields of record(id) it copies. Gateway-wildcard records have none.
struct record_ref {
    record_id id{no_record};    ///< the whole record: snapshot::record(id)
    std::uint32_t vsid{0};      ///< record_entry::vsid
    std::uint32_t provider{0};  ///< record_entry::provider: its PA is provider_at(provider).pa
    mac_address mac;            ///< record_entry::mac
    policy::rule rule{rule::encap};
    bool local{false};          ///< record_entry::local
    /// A local record's VM port: snapshot::port_at(port) (no_port for remote records). With the
    /// 8-byte IPv4 key the slot stays 32 bytes.
    std::uint32_t port{no_port};
};
static_assert(sizeof(record_ref) == 24);

/// A customer route as the LPM stores it: the winner (lowest metric) of its prefix.
struct route_entry {
    std::uint32_t vsid{0};   ///< the subnet the prefix lives in
    std::uint32_t subnet{0};  ///< index of that subnet in the snapshot
    ip_address next_hop;     ///< unspecified = on-link: the destination CA itself
    std::uint32_t metric{default_customer_route_metric};
    std::uint8_t prefix_length{0};  ///< of its prefix (the mask DHCP hands out for an on-link route)

    [[nodiscard]] bool on_link() const noexcept { return next_hop.is_unspecified(); }
};

/// A routing domain: its router MAC and customer routes (the winner of each prefix).
struct domain_entry {
    rdid id;
    mac_address router_mac{default_router_mac};
    lpm_table<route_entry> routes;
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
    std::uint32_t port{no_port};  ///< its VM port: snapshot::port_at(port)
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
    /// DHCP from policy (virtual-subnet `dhcp=on`): the hosts answer its VMs' DHCPv4.
    bool dhcp{false};
    std::vector<ipv4_address> dns;  ///< the DNS servers a DHCP answer lists
    std::uint32_t lease_seconds{default_lease_seconds};

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

/// What a VM port's port classification asks of the pipelines (docs/hnv-rules.md "Ports,
/// classifications and DHCP"); a port without one has the defaults: nothing allowed beyond
/// HNV's rules, no guard, no cap, the inner DSCP copied to the outer header.
struct port_settings {
    /// outer_dscp when the outer header copies the inner packet's DSCP.
    static constexpr std::uint8_t copy_dscp = 0xff;
    bool allow_mac_spoofing{false};
    bool dhcp_guard{false};
    bool router_guard{false};
    std::uint8_t outer_dscp{copy_dscp};
    std::uint64_t rate_bps{0};     ///< the cap per direction in bit/s; 0: none
    std::uint64_t burst_bytes{0};  ///< the bucket's size when capped
    /// The time one byte takes at the rate, in 2^-24 ns, and the bucket's size in ns: what the
    /// per-packet arithmetic of datapath/port_meter.hpp uses, so that it needs no division.
    std::uint64_t ns_per_byte_q24{0};
    std::uint64_t burst_ns{0};

    static constexpr unsigned ns_fraction_bits = 24;

    [[nodiscard]] static port_settings of(const port_classification& c) noexcept {
        port_settings s{c.allow_mac_spoofing, c.dhcp_guard, c.router_guard, c.outer_dscp.value_or(copy_dscp),
                        c.maximum_bandwidth, c.maximum_bandwidth != 0 ? c.burst_bytes() : 0};
        if (s.rate_bps != 0) {
            // 8e9 << 24 needs 58 bits; divided by a rate of at least 1 it fits 64 (rates are >= 100K).
            __extension__ typedef unsigned __int128 wide;
            s.ns_per_byte_q24 = static_cast<std::uint64_t>((static_cast<wide>(8'000'000'000ull) << ns_fraction_bits) / s.rate_bps);
            s.burst_ns = static_cast<std::uint64_t>(static_cast<wide>(s.burst_bytes) * 8'000'000'000ull / s.rate_bps);
        }
        return s;
    }
    [[nodiscard]] bool metered() const noexcept { return rate_bps != 0; }
    friend bool operator==(const port_settings&, const port_settings&) = default;
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
    /// Its port classification's settings (defaults without one).
    port_settings settings{};
};

/// One host's policy as the packet path reads it. See the file comment.
class snapshot {
public:
    /// Most hosts a snapshot can number (the control plane's "one VSID per MAC per host" index
    /// packs the host number into 16 bits).
    static constexpr std::size_t max_hosts = std::size_t{1} << 16;
    /// The largest port number an embedder may bind (state::bind_port).
    static constexpr std::uint32_t max_port_id = (std::uint32_t{1} << 20) - 1;

    /// The host this snapshot was built for.
    [[nodiscard]] std::string_view host() const noexcept { return host_; }
    /// True if a port of this host has a maximum bandwidth (the pipelines skip the meters
    /// of deliveries otherwise).
    [[nodiscard]] bool has_metered_ports() const noexcept { return metered_ports_; }
    /// The policy's generation (docs/policy-lifecycle.md): live_policy numbers the policy it
    /// starts with 1 and adds one for every change set (or whole policy) it applies.
    [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }

    /// A record in its migration grace window (docs/policy-lifecycle.md): it moved from PA
    /// `previous` (an index: provider_at) to its record's PA. The old host forwards frames that
    /// still arrive for it; the new host accepts them from the old one.
    struct moved_record {
        record_id id{no_record};
        std::uint32_t previous{0};
    };
    /// The grace window of record `id`, or nullptr (none is open: the common case costs one
    /// test of an empty list). Only the drop paths of ingress ask.
    [[nodiscard]] const moved_record* moved(record_id id) const noexcept {
        for (const moved_record& m : moved_)
            if (m.id == id) return &m;
        return nullptr;
    }
    [[nodiscard]] bool any_moved() const noexcept { return !moved_.empty(); }

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
    /// The record with id `id`. Precondition: a live id obtained from this snapshot.
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
    /// The id of a record reference obtained from this snapshot.
    [[nodiscard]] record_id id_of(const record_entry& r) const noexcept {
        return static_cast<record_id>(&r - records_.data());
    }

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
    /// The index of `port` (from port()) among this snapshot's ports: 0..port_count() - 1, stable
    /// for the life of the snapshot (per-port counters, datapath/context.hpp).
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
    /// snapshot was built for every source PA of this host (providers and provider routes never
    /// change afterwards): a pointer to the MAC, or nullptr when there is no next hop or
    /// `source` is not one of this host's PAs (then ask next_hop_mac). O(1), no probe.
    [[nodiscard]] const mac_address* next_hop_mac_between(std::uint32_t source, std::uint32_t destination) const noexcept {
        const next_hop* h = hop_between(source, destination);
        return h != nullptr && h->valid ? &h->mac : nullptr;
    }
    /// The outer headers from this host's PA `source` to PA `destination` (indices), compiled
    /// when the snapshot was built (packet/outer_header.hpp: MACs of the PA and of the next hop,
    /// the PA's VLAN, both addresses), or nullptr when next_hop_mac_between has no next hop (or
    /// the two PAs are of different IP versions). Encapsulation copies it and patches the
    /// per-packet fields. O(1), no probe.
    [[nodiscard]] const packet::compiled_header* compiled_path(std::uint32_t source, std::uint32_t destination) const noexcept {
        const next_hop* h = hop_between(source, destination);
        return h != nullptr && h->compiled ? &h->header : nullptr;
    }

    [[nodiscard]] std::size_t subnet_count() const noexcept { return subnets_.size(); }
    [[nodiscard]] std::size_t domain_count() const noexcept { return domains_.size(); }

    /// Calls f(const record_entry&, record_id) for every live record, in id order (not per
    /// packet).
    template <class F>
    void for_each_record(F&& f) const {
        for (std::size_t i = 0; i < records_.size(); ++i)
            if (records_[i].in_use) f(records_[i], static_cast<record_id>(i));
    }

protected:
    // Only a state makes one; copies go through the state (no slicing).
    snapshot() = default;
    snapshot(const snapshot&) = default;
    snapshot(snapshot&&) noexcept = default;
    snapshot& operator=(const snapshot&) = default;
    snapshot& operator=(snapshot&&) noexcept = default;
    ~snapshot() = default;

    struct pa_usage {
        std::uint32_t records{0};  ///< records whose PA this is (control plane)
        record_id nat{no_record};  ///< the nat record using it, if any
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

    // The precomputed entry of next_hop_mac_between and compiled_path.
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

    std::string host_;
    std::uint64_t generation_{0};
    std::vector<moved_record> moved_;  // open grace windows (a handful at a time)
    std::vector<provider_address> provider_addresses_;
    std::vector<std::uint32_t> pa_host_;  // provider index -> host index
    std::uint32_t local_host_{~std::uint32_t{0}};  // index of host_ among the hosts (none: no PA)
    std::vector<std::uint32_t> local_pas_;
    ca_table<std::uint32_t> pa_index_;  // (0, PA) -> index in provider_addresses_
    std::vector<provider_route> provider_route_list_;
    lpm_table<std::uint32_t> provider_routes_;  // this host's: prefix -> index in provider_route_list_

    std::vector<domain_entry> domains_;
    std::vector<subnet_entry> subnets_;
    vsid_index subnet_index_;  // VSID -> index in subnets_

    // Per-packet arrays through the memory hooks (huge pages where the embedder allows).
    std::vector<record_entry, large_array_allocator<record_entry>> records_;
    ca_table<record_ref> ca_index_;         // (domain, CA) -> record (static records)
    ca_table<pa_usage> pa_usage_;           // (0, PA) -> records using it, nat record
    ca_table<std::uint32_t> port_index_;    // port_key(MAC) -> index in ports_
    ca_table<std::uint32_t> gateway_pas_;   // (domain, PA) -> gateway-wildcard records with that PA
    bool metered_ports_{false};             // some port has a maximum bandwidth (state::build sets it)
    std::vector<local_port> ports_;         // this host's VM ports (free slots: empty records)
    std::vector<std::uint32_t> port_by_id_; // embedder's port number -> index in ports_ (or no_port)

    // next_hop_mac_between: a row per local PA (next_hop_row_[provider], no_row if not
    // local), an entry per provider in it.
    std::vector<std::uint32_t> next_hop_row_;
    std::vector<next_hop> next_hops_;
};

}  // namespace nvgre::policy
