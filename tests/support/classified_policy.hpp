// examples/policies/two-tenants.policy with port classifications and DHCP: the policy the
// suites of the classification and DHCP behaviour run on.
#pragma once

#include "support/hnv_policy.hpp"

#include "nvgre/policy/loader.hpp"
#include "nvgre/policy/state.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace nvgre::test {

/// What two-tenants.policy gets: red's subnet 5001 answers DHCP; red-app (hv1, 10.0.0.7) is
/// guarded, red-web (hv1) may spoof MACs and is capped at 1 Mbit/s with a 3000-byte bucket
/// and outer DSCP 46; red-db (hv2) is capped toward itself too.
inline constexpr std::string_view classified_lines =
    "port-classification name=guarded dhcp-guard=on router-guard=on\n"
    "port-classification name=capped allow-mac-spoofing=on maximum-bandwidth=1M maximum-burst=3000 outer-dscp=46\n";

inline std::string classified_policy_text() {
    std::ifstream in(hnv_policy_path());
    std::stringstream text;
    text << in.rdbuf();
    std::string t = text.str();
    const auto replace = [&t](std::string_view from, std::string_view to) {
        const auto at = t.find(from);
        REQUIRE(at != std::string::npos);
        t.replace(at, from.size(), to);
    };
    replace("gateway=10.0.0.1,fd00::1\n", "gateway=10.0.0.1,fd00::1 dhcp=on dns=10.0.0.53,9.9.9.9 lease-seconds=3600\n");
    replace("vm=red-web\n", "vm=red-web classification=capped\n");
    replace("vm=red-web\n", "vm=red-web classification=capped\n");  // its IPv6 record
    replace("vm=red-app\n", "vm=red-app classification=guarded\n");
    replace("vm=red-db\n", "vm=red-db classification=capped\n");
    replace("vm=red-db\n", "vm=red-db classification=capped\n");
    return t + std::string(classified_lines);
}

inline policy::model classified_model() {
    auto r = policy::load_policy_text(classified_policy_text(), "classified.policy");
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
