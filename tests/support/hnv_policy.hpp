// The policy the datapath suites run on: examples/policies/two-tenants.policy, indexed for
// each of its hosts.
#pragma once

#include "nvgre/policy/loader.hpp"
#include "nvgre/policy/state.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace nvgre::test {

/// examples/policies/two-tenants.policy (NVGRE_SOURCE_DIR is set by tests/CMakeLists.txt).
inline std::string hnv_policy_path() { return std::string(NVGRE_SOURCE_DIR) + "/examples/policies/two-tenants.policy"; }

inline policy::model hnv_model() {
    auto r = policy::load_policy_file(hnv_policy_path());
    for (const auto& d : r.diagnostics) MESSAGE(d.to_string());
    REQUIRE(r);
    return *r.validated;
}
/// The VM NICs of two-tenants.policy that the suites send from and to.
namespace hnv_vm {
inline constexpr mac_address red_web{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x05}};  // hv1, 10.0.0.5 / fd00::5
inline constexpr mac_address red_db{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x06}};   // hv2, 10.0.0.6 / fd00::6
inline constexpr mac_address red_app{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x07}};  // hv1, 10.0.0.7
inline constexpr mac_address red_db2{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x08}};  // hv2, 10.0.1.8 (subnet 5002)
inline constexpr mac_address blue_web{{0x00, 0x15, 0x5d, 0x00, 0x01, 0x05}}; // hv1, 10.0.0.5 in blue
inline constexpr mac_address red_router = policy::default_router_mac;
}  // namespace hnv_vm

inline const policy::state& hnv_state(std::string_view host) {
    static const policy::state hv1 = policy::state::build(hnv_model(), "hv1").value();
    static const policy::state hv2 = policy::state::build(hnv_model(), "hv2").value();
    static const policy::state hv3 = policy::state::build(hnv_model(), "hv3").value();
    return host == "hv1" ? hv1 : host == "hv2" ? hv2 : hv3;
}

}  // namespace nvgre::test
