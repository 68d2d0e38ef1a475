// examples/policies/two-tenants.policy with port classifications and DHCP: the policy the
// suites of the classification and DHCP behaviour run on.
#pragma once

#include "support/classified_policy_text.hpp"
#include "support/hnv_policy.hpp"

#include "nvgre/policy/loader.hpp"
#include "nvgre/policy/state.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace nvgre::test {

inline policy::model classified_model() {
    const std::string text = classified_policy_text(hnv_policy_path());
    REQUIRE_FALSE(text.empty());
    auto r = policy::load_policy_text(text, "classified.policy");
    for (const auto& d : r.diagnostics) MESSAGE(d.to_string());
    REQUIRE(r);
    return *r.validated;
}

/// The classified policy for `host`, with ports bound: red-web 0, red-app 1, blue-web 2 on
/// hv1; red-db 0, red-db2 1, blue-db 2 on hv2.
inline policy::state classified_state(std::string_view host) {
    policy::state s = policy::state::build(classified_model(), host).value();
    if (host == "hv1") {
        REQUIRE(s.bind_port(0, hnv_vm::red_web));
        REQUIRE(s.bind_port(1, hnv_vm::red_app));
        REQUIRE(s.bind_port(2, hnv_vm::blue_web));
    } else {
        REQUIRE(s.bind_port(0, hnv_vm::red_db));
        REQUIRE(s.bind_port(1, hnv_vm::red_db2));
        REQUIRE(s.bind_port(2, *mac_address::parse("00:15:5d:00:01:06")));
    }
    return s;
}

}  // namespace nvgre::test
