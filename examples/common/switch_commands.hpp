/// @file examples/common/switch_commands.hpp
/// @brief The control commands both switches take (nvgre-switch, nvgre-dpdk), over their
/// control sockets (control_socket.hpp): what is the same in both, with the switch's own parts
/// — attaching and detaching ports, its counters and ports — asked of the switch.
#pragma once

#include "control_socket.hpp"

#include <nvgre/mac_address.hpp>
#include <nvgre/policy/live_policy.hpp>

#include <cstdio>
#include <optional>
#include <string>

namespace example {

/// The VM a command names: a MAC, or the vm= name of a lookup record of the policy in force.
inline std::optional<nvgre::mac_address> vm_mac_in_policy(const nvgre::policy::live_policy& live, const std::string& who) {
    if (const auto parsed = nvgre::mac_address::parse(who)) return *parsed;
    if (const auto m = live.current_model())
        for (const auto& rec : m->lookup_records())
            if (rec.vm == who) return rec.mac;
    return std::nullopt;
}

/// Runs command `r` for switch `sw` (which has attach(what), detach(iface), counters_text()
/// and ports_text()): `apply FILE` (a change set; the reply is the new generation, or every
/// error), `attach IFACE=VM`, `detach IFACE`, `show generation|counters|ports`. `name` starts
/// the line logged on stderr for an applied change set (e.g. "nvgre-switch hv1").
template <class Switch>
control_reply run_switch_command(nvgre::policy::live_policy& live, Switch& sw, const std::string& name,
                                 const control_request& r) {
    const auto& w = r.words;
    if (w.size() == 2 && w[0] == "apply") {
        const auto applied = live.apply_change_set(r.body, w[1]);
        if (!applied) {
            std::string text;
            for (const auto& d : applied.diagnostics) text += d.to_string() + "\n";
            return {false, text};
        }
        std::fprintf(stderr, "%s: applied %s: generation %llu\n", name.c_str(), w[1].c_str(),
                     static_cast<unsigned long long>(applied.generation));
        return {true, "generation " + std::to_string(applied.generation) + "\n"};
    }
    if (w.size() == 2 && w[0] == "attach") return sw.attach(w[1]);
    if (w.size() == 2 && w[0] == "detach") return sw.detach(w[1]);
    if (w.size() == 2 && w[0] == "show" && w[1] == "generation") return {true, "generation " + std::to_string(live.generation()) + "\n"};
    if (w.size() == 2 && w[0] == "show" && w[1] == "counters") return {true, sw.counters_text()};
    if (w.size() == 2 && w[0] == "show" && w[1] == "ports") return {true, sw.ports_text()};
    return {false, "unknown command '" + (w.empty() ? std::string() : w[0]) +
                       "' (apply FILE, attach IFACE=VM, detach IFACE, show generation|counters|ports)\n"};
}

}  // namespace example
