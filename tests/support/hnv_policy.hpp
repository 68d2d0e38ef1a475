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
inline const policy::state& hnv_state(std::string_view host) {
    static const policy::state hv1 = policy::state::build(hnv_model(), "hv1");
    static const policy::state hv2 = policy::state::build(hnv_model(), "hv2");
    static const policy::state hv3 = policy::state::build(hnv_model(), "hv3");
    return host == "hv1" ? hv1 : host == "hv2" ? hv2 : hv3;
}

}  // namespace nvgre::test
