// The per-port and per-VSID counters of a datapath context as text, for the switches'
// counters (SIGUSR1, exit, nvgre-ctl show counters) and nvgre-pcap's summary:
//   port N NAME in P packets B bytes out P packets B bytes [drops REASON=N ...]
//   vsid V in ... out ... [drops ...]
// One line per port that saw traffic (numbered as the embedder binds them; "port other" for
// unbound ones) and per VSID (in VSID order; "vsid other" for frames without one).
#pragma once

#include <nvgre/datapath/context.hpp>
#include <nvgre/datapath/verdict.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace example {

/// "in P packets B bytes out P packets B bytes" and the drops by reason of `t`.
inline std::string traffic_line(const nvgre::datapath::traffic_counters& t) {
    std::string line = "in " + std::to_string(t.packets_in) + " packets " + std::to_string(t.bytes_in) + " bytes out " +
                       std::to_string(t.packets_out) + " packets " + std::to_string(t.bytes_out) + " bytes";
    bool first = true;
    for (std::size_t r = 1; r < nvgre::datapath::drop_reason_count; ++r) {
        if (t.drops[r] == 0) continue;
        line += first ? " drops " : " ";
        first = false;
        line += std::string(nvgre::datapath::to_string(static_cast<nvgre::datapath::drop_reason>(r))) + "=" + std::to_string(t.drops[r]);
    }
    return line;
}

/// Every port and VSID of `ctx` that saw traffic; `port_names[i]` names port i (may be empty).
inline std::string traffic_text(const nvgre::datapath::context& ctx, std::span<const std::string> port_names) {
    const nvgre::datapath::traffic_counters none{};
    std::string text;
    for (std::size_t i = 0; i < ctx.per_port.size(); ++i) {
        if (ctx.per_port[i] == none) continue;
        text += "port " + std::to_string(i);
        if (i < port_names.size() && !port_names[i].empty()) text += " " + port_names[i];
        text += " " + traffic_line(ctx.per_port[i]) + "\n";
    }
    if (!(ctx.port_other == none)) text += "port other " + traffic_line(ctx.port_other) + "\n";
    std::vector<std::pair<std::uint32_t, const nvgre::datapath::traffic_counters*>> vsids;
    ctx.per_vsid.for_each([&vsids](std::uint32_t v, const nvgre::datapath::traffic_counters& t) { vsids.emplace_back(v, &t); });
    std::sort(vsids.begin(), vsids.end());
    for (const auto& [v, t] : vsids) text += "vsid " + std::to_string(v) + " " + traffic_line(*t) + "\n";
    if (!(ctx.per_vsid.other() == none)) text += "vsid other " + traffic_line(ctx.per_vsid.other()) + "\n";
    return text;
}

}  // namespace example
