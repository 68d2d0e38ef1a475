/// @file examples/common/vm_port.hpp
/// @brief How the switches (nvgre-switch, nvgre-dpdk) find the VM behind a `--vm PORT=VM` option.
#pragma once

#include <nvgre/mac_address.hpp>
#include <nvgre/policy/model.hpp>
#include <nvgre/policy/state.hpp>

#include <optional>
#include <string>
#include <utility>

namespace example {

/// The two sides of a `--vm PORT=VM` value; nullopt without '=' or with either side empty.
inline std::optional<std::pair<std::string, std::string>> split_vm_option(const std::string& value) {
    const auto eq = value.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == value.size()) return std::nullopt;
    return std::pair{value.substr(0, eq), value.substr(eq + 1)};
}

/// The MAC of VM port `what` — a MAC, or the vm= name of a lookup record — when it is a VM of
/// the host `s` was built for; nullopt otherwise.
inline std::optional<nvgre::mac_address> vm_mac_of(const nvgre::policy::model& m, const nvgre::policy::state& s,
                                                   const std::string& what) {
    std::optional<nvgre::mac_address> mac;
    if (auto parsed = nvgre::mac_address::parse(what)) mac = *parsed;
    else
        for (const auto& r : m.lookup_records())
            if (r.vm == what) mac = r.mac;
    if (mac && s.port(*mac) == nullptr) return std::nullopt;
    return mac;
}

}  // namespace example
