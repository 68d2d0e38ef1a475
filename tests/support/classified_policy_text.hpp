// examples/policies/two-tenants.policy with port classifications and DHCP, as text: what the
// suites of those behaviours (support/classified_policy.hpp) and the pipeline fuzz targets
// (fuzz/fuzz_support.hpp) run on. No test framework here: the fuzz targets include it too.
#pragma once

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

/// The text of two-tenants.policy at `path`, classified; empty when it cannot be read or is
/// not the file these lines expect.
inline std::string classified_policy_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::string t = text.str();
    bool ok = in.good() || in.eof();
    const auto replace = [&t, &ok](std::string_view from, std::string_view to) {
        const auto at = t.find(from);
        if (at == std::string::npos) {
            ok = false;
            return;
        }
        t.replace(at, from.size(), to);
    };
    replace("gateway=10.0.0.1,fd00::1\n", "gateway=10.0.0.1,fd00::1 dhcp=on dns=10.0.0.53,9.9.9.9 lease-seconds=3600\n");
    replace("vm=red-web\n", "vm=red-web classification=capped\n");
    replace("vm=red-web\n", "vm=red-web classification=capped\n");  // its IPv6 record
    replace("vm=red-app\n", "vm=red-app classification=guarded\n");
    replace("vm=red-db\n", "vm=red-db classification=capped\n");
    replace("vm=red-db\n", "vm=red-db classification=capped\n");
    return ok ? t + std::string(classified_lines) : std::string();
}

}  // namespace nvgre::test
