// A validated policy model written back as policy text (docs/policy-format.md), every key spelled
// out (defaults included), one object per line, in the model's order. Loading the text gives
// the same model, and writing that model gives the same text: the loader fuzz target and the
// property tests check exactly that. Test code: the library has no writer of its own.
#pragma once

#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/model.hpp"

#include <string>

namespace nvgre::test {

inline std::string to_policy_text(const policy::model& m) {
    std::string out;
    const auto add = [&out](std::string_view key, const std::string& value) {
        out += ' ';
        out += key;
        out += '=';
        out += value;
    };
    for (const auto& p : m.provider_addresses()) {
        out += "provider-address";
        add("host", p.host);
        add("pa", p.pa.to_string());
        add("prefix-length", std::to_string(p.prefix_length));
        add("mac", p.mac.to_string());
        add("vlan", std::to_string(p.vlan));
        out += '\n';
    }
    for (const auto& r : m.provider_routes()) {
        out += "provider-route";
        add("host", r.host);
        add("prefix", r.prefix.to_string());
        add("next-hop", r.next_hop.to_string());
        add("next-hop-mac", r.next_hop_mac.to_string());
        add("metric", std::to_string(r.metric));
        out += '\n';
    }
    for (const auto& d : m.routing_domains()) {
        out += "routing-domain";
        add("rdid", "{" + d.id.to_string() + "}");
        if (!d.name.empty()) add("name", d.name);
        add("router-mac", d.router_mac.to_string());
        out += '\n';
    }
    for (const auto& v : m.virtual_subnets()) {
        out += "virtual-subnet";
        add("vsid", std::to_string(v.id.value()));
        add("rdid", v.domain.to_string());
        if (v.gateway_v4 || v.gateway_v6) {
            std::string g = v.gateway_v4 ? v.gateway_v4->to_string() : std::string();
            if (v.gateway_v6) g += (g.empty() ? "" : ",") + v.gateway_v6->to_string();
            add("gateway", g);
        }
        add("dhcp", v.dhcp ? "on" : "off");
        if (!v.dns.empty()) {
            std::string d;
            for (const auto& a : v.dns) d += (d.empty() ? "" : ",") + a.to_string();
            add("dns", d);
        }
        add("lease-seconds", std::to_string(v.lease_seconds));
        out += '\n';
    }
    for (const auto& c : m.customer_routes()) {
        out += "customer-route";
        add("rdid", c.domain.to_string());
        add("vsid", std::to_string(c.subnet.value()));
        add("prefix", c.prefix.to_string());
        add("next-hop", c.next_hop.to_string());
        add("metric", std::to_string(c.metric));
        out += '\n';
    }
    for (const auto& r : m.lookup_records()) {
        out += "lookup-record";
        add("vsid", std::to_string(r.subnet.value()));
        add("ca", r.ca.to_string());
        add("mac", r.mac.to_string());
        add("pa", r.pa.to_string());
        add("rule", std::string(policy::to_string(r.rule)));
        add("type", std::string(policy::to_string(r.type)));
        if (!r.vm.empty()) add("vm", r.vm);
        if (!r.classification.empty()) add("classification", r.classification);
        out += '\n';
    }
    for (const auto& c : m.port_classifications()) {
        out += "port-classification";
        add("name", c.name);
        add("allow-mac-spoofing", c.allow_mac_spoofing ? "on" : "off");
        add("dhcp-guard", c.dhcp_guard ? "on" : "off");
        add("router-guard", c.router_guard ? "on" : "off");
        if (c.maximum_bandwidth != 0) add("maximum-bandwidth", std::to_string(c.maximum_bandwidth));
        if (c.maximum_burst != 0) add("maximum-burst", std::to_string(c.maximum_burst));
        if (c.outer_dscp) add("outer-dscp", std::to_string(*c.outer_dscp));
        out += '\n';
    }
    return out;
}

}  // namespace nvgre::test
