/// @file policy/model.hpp
/// @brief The HNV policy objects, as an administrator declares them (docs/policy-format.md; the
/// names follow the Windows `New-NetVirtualization*` cmdlets).
///
/// These are plain values: the builder (policy/builder.hpp) validates a set of them into a
/// `policy::model`, and policy/state.hpp indexes a model for one host's datapath. Strings
/// (host and VM names) allocate; nothing here is on the per-packet path.
#pragma once

#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/rdid.hpp"
#include "nvgre/vsid.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace nvgre::policy {

/// How traffic to a customer address leaves the host (docs/policy-format.md `rule=`).
enum class rule : std::uint8_t {
    encap,  ///< NVGRE: the whole frame wrapped in outer headers to the PA (many VMs share a PA)
    nat,    ///< IP rewrite: CA swapped for PA in the IP header (one PA per CA)
};

/// What a lookup record stands for (docs/policy-format.md `type=`).
enum class record_type : std::uint8_t {
    static_record,     ///< one VM NIC's customer address
    gateway_wildcard,  ///< ca 0.0.0.0 / ::, a gateway that may send from any source address
};

[[nodiscard]] constexpr std::string_view to_string(rule r) noexcept { return r == rule::encap ? "encap" : "nat"; }
[[nodiscard]] constexpr std::string_view to_string(record_type t) noexcept {
    return t == record_type::static_record ? "static" : "gateway-wildcard";
}

/// The router MAC a routing domain gets when the policy names none.
inline constexpr mac_address default_router_mac{{0x02, 0x00, 0x5e, 0x00, 0x01, 0x01}};
/// The metric of a customer route that names none.
inline constexpr std::uint32_t default_customer_route_metric = 256;

/// `provider-address`: host `host` owns provider address `pa` on its fabric NIC with `mac`;
/// outer frames from this PA carry an 802.1Q tag with `vlan` when it is not 0.
struct provider_address {
    std::string host;
    ip_address pa;
    std::uint8_t prefix_length{0};  ///< of the PA's on-link subnet
    mac_address mac;
    std::uint16_t vlan{0};          ///< 0..4094; 0 = untagged

    friend bool operator==(const provider_address&, const provider_address&) = default;

    /// The on-link subnet of this PA (its address with the host bits cleared).
    [[nodiscard]] ip_prefix subnet() const noexcept { return ip_prefix::containing(pa, prefix_length).value(); }
};

/// `provider-route`: how host `host` reaches provider addresses outside its own PA subnets.
struct provider_route {
    std::string host;
    ip_prefix prefix;
    ip_address next_hop;
    mac_address next_hop_mac;
    std::uint32_t metric{0};

    friend bool operator==(const provider_route&, const provider_route&) = default;
};

/// `routing-domain`: one tenant's VM network; traffic is routed between its subnets only.
struct routing_domain {
    rdid id;
    std::string name;
    mac_address router_mac{default_router_mac};

    friend bool operator==(const routing_domain&, const routing_domain&) = default;
};

/// The DHCP lease a subnet with `dhcp=on` hands out when the policy names none (one day).
inline constexpr std::uint32_t default_lease_seconds = 86400;
/// Most DNS servers a subnet lists (`dns=`): what one DHCP answer carries.
inline constexpr std::size_t max_dns_servers = 4;

/// `virtual-subnet`: subnet `id` of routing domain `domain`, with the distributed router's
/// gateway address(es) in it (at most one IPv4 and one IPv6). With `dhcp`, the hosts answer
/// its VMs' DHCPv4 from policy (docs/hnv-rules.md "DHCP from policy").
struct virtual_subnet {
    nvgre::vsid id;
    rdid domain;
    std::optional<ipv4_address> gateway_v4;
    std::optional<ipv6_address> gateway_v6;
    bool dhcp{false};
    std::vector<ipv4_address> dns{};                 ///< at most max_dns_servers, in the order given
    std::uint32_t lease_seconds{default_lease_seconds};

    friend bool operator==(const virtual_subnet&, const virtual_subnet&) = default;
};

/// `customer-route`: `prefix` of routing domain `domain` lives in subnet `subnet`; next hop
/// 0.0.0.0 / :: means on-link (the destination CA itself). Lowest metric wins among equal prefixes.
struct customer_route {
    rdid domain;
    nvgre::vsid subnet;
    ip_prefix prefix;
    ip_address next_hop;
    std::uint32_t metric{default_customer_route_metric};

    friend bool operator==(const customer_route&, const customer_route&) = default;

    [[nodiscard]] bool on_link() const noexcept { return next_hop.is_unspecified(); }
};

/// `lookup-record`: the VM NIC with `mac` holds customer address `ca` in subnet `subnet` and is
/// reached at provider address `pa`.
struct lookup_record {
    nvgre::vsid subnet;
    ip_address ca;
    mac_address mac;
    ip_address pa;
    policy::rule rule{rule::encap};
    record_type type{record_type::static_record};
    std::string vm;  ///< optional VM name, for people reading counters and logs
    /// The port classification of the NIC (`classification=`); empty: none. Every record of
    /// one NIC names the same one (or none).
    std::string classification{};

    friend bool operator==(const lookup_record&, const lookup_record&) = default;
};

/// Bounds of a port classification's values (docs/policy-format.md).
inline constexpr std::uint64_t min_bandwidth = 100'000;                 ///< 100K bit/s
inline constexpr std::uint64_t max_bandwidth = 1'000'000'000'000;       ///< 1000G bit/s
inline constexpr std::uint64_t min_burst = 1518;                        ///< one full-sized frame (no FCS)
inline constexpr std::uint64_t max_burst = 0xffffffffu;
inline constexpr std::uint8_t max_dscp = 63;

/// `port-classification`: the settings of the VM ports whose records name it (VMM's port
/// classification and virtual port profile).
struct port_classification {
    std::string name;
    bool allow_mac_spoofing{false};  ///< other source MACs are accepted from the port
    bool dhcp_guard{false};          ///< DHCP server messages from the VM are dropped
    bool router_guard{false};        ///< router advertisements and redirects from the VM are dropped
    std::uint64_t maximum_bandwidth{0};  ///< bit/s, per direction; 0: unlimited
    std::uint64_t maximum_burst{0};      ///< bytes; 0: the default, 1/8 s of the rate
    std::optional<std::uint8_t> outer_dscp{};  ///< set on the outer header; none: the inner DSCP is copied

    friend bool operator==(const port_classification&, const port_classification&) = default;

    /// The bucket size in bytes: maximum_burst, or 1/8 s of the rate when none is given.
    [[nodiscard]] std::uint64_t burst_bytes() const noexcept {
        return maximum_burst != 0 ? maximum_burst : maximum_bandwidth / 64;
    }
};

/// Any one policy object; the alternatives are in the order of docs/policy-format.md's table
/// (policy::object_kind has the same order).
using object = std::variant<provider_address, provider_route, routing_domain, virtual_subnet, customer_route, lookup_record,
                            port_classification>;

/// What a line of a change set does (docs/policy-lifecycle.md): `+ ` adds the object or replaces
/// the one with the same identity, `- ` removes the object with that identity.
enum class change_op : std::uint8_t { add, remove };

}  // namespace nvgre::policy
