// The gateway policy (examples/policies/gateways.policy) indexed for each of its hosts, its VM
// NICs, and the frames the router cases send: ICMP / ICMPv6 echo requests.
#pragma once

#include "support/frames.hpp"
#include "support/hnv_policy.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/policy/loader.hpp"
#include "nvgre/policy/state.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

namespace nvgre::test {

inline policy::model gateway_model() {
    auto r = policy::load_policy_file(std::string(NVGRE_SOURCE_DIR) + "/examples/policies/gateways.policy");
    for (const auto& d : r.diagnostics) MESSAGE(d.to_string());
    REQUIRE(r);
    return *r.validated;
}

namespace gw_vm {
// The same NICs (and router MACs) as two-tenants.policy's where the names agree.
using hnv_vm::blue_web;    // hv1, 10.0.0.5 in blue (no default route)
using hnv_vm::red_db;      // hv2, 10.0.0.6
using hnv_vm::red_router;
using hnv_vm::red_web;     // hv1, 10.0.0.5 / fd00::5, VSID 5001
inline const mac_address red_fw = mac("00:15:5d:00:00:20");    // hv2, 10.0.0.20: next hop of 172.16.0.0/16
inline const mac_address red_gw1 = mac("00:15:5d:00:00:f1");  // hv2, gateway (IPv4 and IPv6), 10.0.0.241
inline const mac_address red_gw2 = mac("00:15:5d:00:00:f2");   // hv3, gateway (IPv4)
inline const mac_address red_lab = mac("00:15:5d:00:03:05");   // hv1, 10.0.3.5, VSID 5003 (no gateway address)
inline const mac_address blue_router = mac("02:00:5e:00:02:02");
}  // namespace gw_vm

/// The state of gateways.policy for host hv1, hv2 or hv3.
inline const policy::state& gateway_state(std::string_view host) {
    static const policy::state hv1 = policy::state::build(gateway_model(), "hv1").value();
    static const policy::state hv2 = policy::state::build(gateway_model(), "hv2").value();
    static const policy::state hv3 = policy::state::build(gateway_model(), "hv3").value();
    return host == "hv1" ? hv1 : host == "hv2" ? hv2 : hv3;
}

/// An ICMP (IPv4) or ICMPv6 echo request with `data_len` bytes of data, built from udp_frame's
/// headers: protocol / next header and the 8-byte echo header replaced, checksums recomputed.
inline std::vector<std::byte> echo_request(const mac_address& src_mac, const mac_address& dst_mac, const ip_address& src,
                                           const ip_address& dst, std::uint16_t id = 0x1234, std::uint16_t seq = 7,
                                           std::uint8_t ttl = 64, std::size_t data_len = 24) {
    auto f = udp_frame(src_mac, dst_mac, src, dst, data_len, ttl);
    const bool v6 = src.is_v6();
    const std::size_t l4 = 14 + (v6 ? 40 : 20);
    auto icmp = std::span<std::byte>(f).subspan(l4);
    icmp[0] = std::byte{v6 ? std::uint8_t{128} : std::uint8_t{8}};
    icmp[1] = std::byte{0};
    detail::store_be16(icmp.data() + 2, 0);
    detail::store_be16(icmp.data() + 4, id);
    detail::store_be16(icmp.data() + 6, seq);
    if (v6) {
        f[14 + 6] = std::byte{58};
        detail::store_be16(icmp.data() + 2,
                           checksum::finish(checksum::sum(icmp, checksum::ipv6_pseudo_header_sum(
                                                                    src.v6(), dst.v6(), 58, static_cast<std::uint32_t>(icmp.size())))));
    } else {
        f[14 + 9] = std::byte{1};
        detail::store_be16(f.data() + 14 + 10, 0);
        detail::store_be16(f.data() + 14 + 10, checksum::ipv4_header_checksum(std::span<const std::byte>(f).subspan(14, 20)));
        detail::store_be16(icmp.data() + 2, checksum::compute(icmp));
    }
    return f;
}

}  // namespace nvgre::test
