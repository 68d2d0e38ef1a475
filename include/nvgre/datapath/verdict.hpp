/// @file datapath/verdict.hpp
/// @brief What the pipelines decide for each frame: a verdict, a named reason for every drop,
/// and counters of both. Nothing is dropped silently.
#pragma once

#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nvgre::datapath {

/// The fate of one input frame (names as in docs/nvgre-pcap.md and docs/hnv-rules.md).
enum class verdict : std::uint8_t {
    encap,    ///< NVGRE-encapsulated toward a remote PA (also each segment/fragment of one frame)
    rewrite,  ///< IP rewrite (rule nat) toward a remote PA
    local,    ///< delivered to a VM on this host without encapsulation (egress)
    reply,    ///< answered to the sender: ARP/ND proxy, the router's ICMP answers (datapath/router.hpp), DHCP (datapath/dhcp.hpp)
    flood,    ///< replicated: one copy per remote PA of the VSID plus one per other local VM
    deliver,  ///< ingress: handed to the local VM(s)
    drop,     ///< see drop_reason
};
inline constexpr std::size_t verdict_count = 7;

[[nodiscard]] constexpr std::string_view to_string(verdict v) noexcept {
    switch (v) {
        case verdict::encap: return "encap";
        case verdict::rewrite: return "rewrite";
        case verdict::local: return "local";
        case verdict::reply: return "reply";
        case verdict::flood: return "flood";
        case verdict::deliver: return "deliver";
        case verdict::drop: return "drop";
    }
    return "unknown";
}

/// Why a frame was dropped. Stable kebab-case names (to_string) for tools and counters.
enum class drop_reason : std::uint8_t {
    none = 0,
    // The frame itself (wire rules; the names of nvgre::errc where they coincide).
    truncated,              ///< cut short, or lengths that do not fit the bytes
    bad_length,             ///< a length field that lies
    bad_version,            ///< IP or GRE version
    bad_header_length,      ///< IPv4 IHL / TCP data offset
    bad_checksum,           ///< outer IPv4 header or GRE checksum
    bad_gre_flags,          ///< GRE reserved bits, or C/S in NVGRE
    gre_routing,            ///< GRE R bit
    missing_key,            ///< NVGRE without the K bit
    bad_protocol,           ///< GRE protocol other than 0x6558
    reserved_vsid,          ///< VSID 0-4095 or 0xFFFFFF
    inner_vlan,             ///< 802.1Q tag on the inner frame
    bad_outer_vlan,         ///< outer tags other than one 802.1Q tag
    fragmented,             ///< an outer IP fragment (never reassembled)
    bad_extension_header,   ///< IPv6 extension headers that run off or loop
    not_nvgre,              ///< ingress: a frame that is not GRE at all
    // Policy decisions.
    not_local_pa,           ///< ingress: outer destination is not one of this host's PAs
    unknown_vsid,           ///< the VSID is not in the policy
    unknown_port,           ///< egress: the source MAC is no VM port of this host
    spoofed_source,         ///< the source (MAC, address, or outer PA) does not own what it claims
    vlan_tagged,            ///< egress: a VM sent an 802.1Q-tagged frame
    unsupported_ethertype,  ///< egress: not IPv4, IPv6 or ARP
    bad_arp,                ///< an ARP packet that is not Ethernet/IPv4 or is cut short
    unknown_target,         ///< ARP request / neighbor solicitation for an address the policy does not know
    no_route,               ///< no customer route for the destination
    no_record,              ///< no lookup record for the destination CA
    cross_domain,           ///< the destination belongs to another routing domain
    ttl_expired,            ///< routed between subnets with TTL / hop limit 1 or 0
    not_local_destination,  ///< ingress: the destination CA's VM is not on this host
    wrong_destination_mac,  ///< ingress: inner destination MAC is not the destination VM's
    ecn_drop,               ///< RFC 6040: outer CE on a Not-ECT inner packet
    no_next_hop,            ///< no on-link PA and no provider route toward the destination PA
    no_headroom,            ///< the buffer has too little headroom for the outer headers
    too_big,                ///< the outer packet would exceed the underlay MTU
    nat_unsupported,        ///< IP rewrite cannot translate this packet exactly (datapath/rewrite.hpp says which)
    nat_mismatch,           ///< egress: one end's record is nat, the other's is not (IP rewrite needs both)
    no_buffer,              ///< a replicated copy found no buffer
    bad_offload,            ///< egress: offload metadata (partial checksum) that point outside the frame
    unsupported,            ///< a frame the pipeline has no rule for (e.g. an ARP reply from a VM)
    to_router,              ///< egress: addressed to a gateway address, for the router itself, and not an echo request
    split_headers,          ///< a chained frame whose first segment holds fewer than nvgre::first_segment_bytes
    // Port classifications (docs/hnv-rules.md "Ports, classifications and DHCP").
    rate_limited,           ///< over the port's maximum bandwidth (its token bucket, either direction)
    dhcp_guard,             ///< egress: a DHCP server message from a VM whose port has DHCP guard
    router_guard,           ///< egress: a router advertisement or redirect from a VM whose port has router guard
};
inline constexpr std::size_t drop_reason_count = static_cast<std::size_t>(drop_reason::router_guard) + 1;

[[nodiscard]] constexpr std::string_view to_string(drop_reason r) noexcept {
    switch (r) {
        case drop_reason::none: return "none";
        case drop_reason::truncated: return "truncated";
        case drop_reason::bad_length: return "bad-length";
        case drop_reason::bad_version: return "bad-version";
        case drop_reason::bad_header_length: return "bad-header-length";
        case drop_reason::bad_checksum: return "bad-checksum";
        case drop_reason::bad_gre_flags: return "bad-gre-flags";
        case drop_reason::gre_routing: return "gre-routing";
        case drop_reason::missing_key: return "missing-key";
        case drop_reason::bad_protocol: return "bad-protocol";
        case drop_reason::reserved_vsid: return "reserved-vsid";
        case drop_reason::inner_vlan: return "inner-vlan";
        case drop_reason::bad_outer_vlan: return "bad-outer-vlan";
        case drop_reason::fragmented: return "fragmented";
        case drop_reason::bad_extension_header: return "bad-extension-header";
        case drop_reason::not_nvgre: return "not-nvgre";
        case drop_reason::not_local_pa: return "not-local-pa";
        case drop_reason::unknown_vsid: return "unknown-vsid";
        case drop_reason::unknown_port: return "unknown-port";
        case drop_reason::spoofed_source: return "spoofed-source";
        case drop_reason::vlan_tagged: return "vlan-tagged";
        case drop_reason::unsupported_ethertype: return "unsupported-ethertype";
        case drop_reason::bad_arp: return "bad-arp";
        case drop_reason::unknown_target: return "unknown-target";
        case drop_reason::no_route: return "no-route";
        case drop_reason::no_record: return "no-record";
        case drop_reason::cross_domain: return "cross-domain";
        case drop_reason::ttl_expired: return "ttl-expired";
        case drop_reason::not_local_destination: return "not-local-destination";
        case drop_reason::wrong_destination_mac: return "wrong-destination-mac";
        case drop_reason::ecn_drop: return "ecn-drop";
        case drop_reason::no_next_hop: return "no-next-hop";
        case drop_reason::no_headroom: return "no-headroom";
        case drop_reason::too_big: return "too-big";
        case drop_reason::nat_unsupported: return "nat-unsupported";
        case drop_reason::nat_mismatch: return "nat-mismatch";
        case drop_reason::no_buffer: return "no-buffer";
        case drop_reason::bad_offload: return "bad-offload";
        case drop_reason::unsupported: return "unsupported";
        case drop_reason::to_router: return "to-router";
        case drop_reason::split_headers: return "split-headers";
        case drop_reason::rate_limited: return "rate-limited";
        case drop_reason::dhcp_guard: return "dhcp-guard";
        case drop_reason::router_guard: return "router-guard";
    }
    return "unknown";
}

/// The drop reason for a wire-format error (packet_layout, decap).
[[nodiscard]] constexpr drop_reason drop_reason_of(errc e) noexcept {
    switch (e) {
        case errc::truncated: return drop_reason::truncated;
        case errc::bad_length: return drop_reason::bad_length;
        case errc::bad_version: return drop_reason::bad_version;
        case errc::bad_header_length: return drop_reason::bad_header_length;
        case errc::bad_checksum: return drop_reason::bad_checksum;
        case errc::bad_gre_flags: return drop_reason::bad_gre_flags;
        case errc::gre_routing: return drop_reason::gre_routing;
        case errc::bad_protocol: return drop_reason::bad_protocol;
        case errc::missing_key: return drop_reason::missing_key;
        case errc::reserved_vsid: return drop_reason::reserved_vsid;
        case errc::inner_vlan: return drop_reason::inner_vlan;
        case errc::bad_outer_vlan: return drop_reason::bad_outer_vlan;
        case errc::fragmented: return drop_reason::fragmented;
        case errc::bad_extension_header: return drop_reason::bad_extension_header;
        case errc::no_headroom: return drop_reason::no_headroom;
        case errc::ecn_drop: return drop_reason::ecn_drop;
        case errc::split_headers: return drop_reason::split_headers;
        case errc::bad_address:
        case errc::bad_value:
        case errc::syntax:
        case errc::no_space: return drop_reason::unsupported;
    }
    return drop_reason::unsupported;
}

/// Where an output frame goes.
struct destination {
    enum class kind : std::uint8_t {
        fabric,  ///< out of the physical NIC (encapsulated or rewritten)
        vm,      ///< to the local VM port whose NIC has `vm_mac`
        sender,  ///< back to the port the frame came from (proxy replies, ICMP too big)
    };
    /// No port / no provider (the same value as policy::no_port).
    static constexpr std::uint32_t none = ~std::uint32_t{0};
    kind to{kind::fabric};
    mac_address vm_mac{};
    /// vm: the embedder's index of the VM's port; sender: of the port the frame came in on
    /// (policy::state::bind_port); `none` when that port is unbound.
    std::uint32_t port{none};
    /// fabric: the index of the destination PA (state::provider_at) when the policy knows it
    /// (encap, rewrite, flood copies; not the fabric's own ARP/ND answers), else `none`.
    std::uint32_t provider{none};

    [[nodiscard]] static constexpr destination to_vm(const mac_address& mac, std::uint32_t port) noexcept {
        return destination{kind::vm, mac, port, none};
    }
    [[nodiscard]] static constexpr destination to_sender(const mac_address& mac, std::uint32_t port) noexcept {
        return destination{kind::sender, mac, port, none};
    }
    [[nodiscard]] static constexpr destination to_fabric(std::uint32_t provider = none) noexcept {
        return destination{kind::fabric, {}, none, provider};
    }
    friend bool operator==(const destination&, const destination&) = default;
};

/// The outcome of one frame through a pipeline.
struct outcome {
    datapath::verdict verdict{verdict::drop};
    /// Why, when verdict == drop; for reply, why the packet that was answered went no further
    /// (an ICMP error: no-route, no-record, ttl-expired, too-big; none for proxy and echo
    /// answers); for flood, the first copy that could not be made (none if every copy went);
    /// for encap or rewrite in pieces (segments or fragments sent through the sink), the first
    /// piece that did not go: no-buffer when the sink ran dry before the last piece (`copies`
    /// says how many went; when none went the verdict is drop).
    drop_reason reason{drop_reason::none};
    std::uint32_t vsid{0};                  ///< the (destination) VSID, when known
    ip_address pa{};                        ///< the destination PA (encap, rewrite)
    destination to{};                       ///< where the (in-place) output frame goes
    std::uint16_t copies{0};                ///< frames emitted through the sink (flood, multi-deliver)

    [[nodiscard]] static constexpr outcome dropped(drop_reason r, std::uint32_t vsid = 0) noexcept {
        outcome o;
        o.verdict = verdict::drop;
        o.reason = r;
        o.vsid = vsid;
        return o;
    }
    /// Field by field: what the differential tests compare (burst against single frames).
    friend bool operator==(const outcome&, const outcome&) = default;
};

/// Counters of every verdict and drop reason. Single-writer (one per datapath thread); sum
/// them for a total.
struct counters {
    std::array<std::uint64_t, verdict_count> verdicts{};
    std::array<std::uint64_t, drop_reason_count> drops{};

    /// Counts the verdict, and the reason of a drop or of a reply that answers a packet which
    /// went no further (that packet was dropped too: an answered no-route is still a no-route).
    void count(const outcome& o) noexcept {
        ++verdicts[static_cast<std::size_t>(o.verdict)];
        if (o.verdict == verdict::drop || (o.verdict == verdict::reply && o.reason != drop_reason::none))
            ++drops[static_cast<std::size_t>(o.reason)];
    }
    [[nodiscard]] std::uint64_t of(verdict v) const noexcept { return verdicts[static_cast<std::size_t>(v)]; }
    [[nodiscard]] std::uint64_t of(drop_reason r) const noexcept { return drops[static_cast<std::size_t>(r)]; }
    counters& operator+=(const counters& o) noexcept {
        for (std::size_t i = 0; i < verdict_count; ++i) verdicts[i] += o.verdicts[i];
        for (std::size_t i = 0; i < drop_reason_count; ++i) drops[i] += o.drops[i];
        return *this;
    }
};

}  // namespace nvgre::datapath
