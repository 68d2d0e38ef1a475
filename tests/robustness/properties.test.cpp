// Property tests (seeded, reproducible; thousands of cases each, in every configuration of
// `make test`). They complement the fuzz targets: the fuzzers explore the bytes of one fixed
// policy, these explore policies.
//   - random and mutated frames through egress and ingress of every host: every drop named,
//     every output inside its buffer, no crash (ASan / UBSan configurations watch);
//   - random valid policies (overlapping tenants, routed subnets, IPv6, gateway wildcards, IP
//     rewrite): written as text and read back they are the same policy; egress on one host then
//     ingress on another never delivers across routing domains, nor from a PA that does not own
//     the source CA; within a subnet, encap∘decap gives back the VM's frame byte for byte;
//   - encap then decap of random inner frames, every outer shape: the identity.
// The incremental checksum updates are checked against recomputation in
// tests/checksum/incremental.test.cpp (100000 cases per property).
#include "nvgre/datapath/egress.hpp"
#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/ingress.hpp"
#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/loader.hpp"
#include "nvgre/policy/state.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include "fuzz/policy_text.hpp"
#include "support/chained.hpp"
#include "support/frames.hpp"
#include "support/hnv_policy.hpp"
#include "support/tcp_frames.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;

namespace {

using bytes = std::vector<std::byte>;

/// The frame lies inside its buffer, whatever the pipeline did to it.
bool inside(const frame& f) { return f.data_offset() <= f.buffer().size() && f.size() <= f.buffer().size() - f.data_offset(); }

void check_reason(const outcome& o) {
    if (o.verdict == verdict::drop) CHECK(o.reason != drop_reason::none);
    // A reply names a reason only when the router answers a packet that went no further.
    else if (o.verdict == verdict::reply)
        CHECK((o.reason == drop_reason::none || o.reason == drop_reason::no_route || o.reason == drop_reason::no_record ||
               o.reason == drop_reason::ttl_expired || o.reason == drop_reason::too_big));
    else if (o.verdict != verdict::flood) CHECK(o.reason == drop_reason::none);
    CHECK(to_string(o.reason) != "unknown");
}

/// A mutation of `f`: bytes flipped, overwritten with magic values, cut, or extended.
bytes mutate(bytes f, std::mt19937_64& rng) {
    static constexpr std::uint16_t magic[] = {0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, 0x6558, 0x2000, 0x3000,
                                              0xa000, 0x4000, 0x0000, 0xffff, 0x0fff, 0x002f, 0x3c00, 0x2c00};
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n && !f.empty(); ++i) {
        const std::size_t at = rng() % f.size();
        switch (rng() % 5) {
            case 0: f[at] ^= std::byte{static_cast<std::uint8_t>(1u << (rng() % 8))}; break;
            case 1: f[at] = std::byte{static_cast<std::uint8_t>(rng())}; break;
            case 2:
                if (at + 1 < f.size()) {
                    const std::uint16_t m = magic[rng() % std::size(magic)];
                    f[at] = std::byte{static_cast<std::uint8_t>(m >> 8)};
                    f[at + 1] = std::byte{static_cast<std::uint8_t>(m)};
                }
                break;
            case 3: f.resize(at); break;
            default: f.resize(f.size() + rng() % 32, std::byte{static_cast<std::uint8_t>(rng())}); break;
        }
    }
    return f;
}

}  // namespace

TEST_CASE("property: random and mutated frames through egress and ingress of every host: every drop named") {
    using namespace nvgre::test::hnv_vm;
    const std::array<const policy::state*, 3> hosts{&hnv_state("hv1"), &hnv_state("hv2"), &hnv_state("hv3")};
    // Templates: VM frames of two-tenants.policy, and what egress makes of them.
    std::vector<std::pair<mac_address, bytes>> vm_frames = {
        {red_web, udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"))},
        {red_web, udp_frame(red_web, red_db, ip("fd00::5"), ip("fd00::6"))},
        {red_web, udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.1.8"))},
        {red_web, udp_frame(red_web, mac_address::broadcast(), ip("10.0.0.5"), ip("10.0.0.255"))},
        {red_web, arp_request(red_web, ip("10.0.0.5"), ip("10.0.0.6"))},
        {blue_web, udp_frame(blue_web, mac("00:15:5d:00:01:06"), ip("10.0.0.5"), ip("10.0.0.6"))},
        {mac("00:15:5d:00:01:07"), udp_frame(mac("00:15:5d:00:01:07"), mac("00:15:5d:00:01:08"), ip("10.0.0.7"), ip("10.0.0.8"))},
        {red_db, udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5"))},
    };
    std::vector<bytes> fabric_frames;
    for (const auto& [port, f] : vm_frames) {
        for (const auto* s : hosts) {
            if (s->port(port) == nullptr) continue;
            buffer b(f);
            vector_sink sink;
            const auto o = egress(*s, port, b.f, sink);
            if (o.verdict == verdict::encap || o.verdict == verdict::rewrite) fabric_frames.push_back(b.bytes());
            for (const auto& sent : sink.out)
                if (sent.to.to == destination::kind::fabric) fabric_frames.push_back(sent.bytes);
        }
    }
    REQUIRE(fabric_frames.size() >= 6);
    const std::vector<mac_address> all_ports = {red_web, red_app, red_db, red_db2, blue_web, mac("00:15:5d:00:01:06"),
                                                mac("00:15:5d:00:01:07"), mac("00:15:5d:00:01:08"), mac("00:15:5d:00:00:09")};

    std::mt19937_64 rng(20261122);
    std::map<std::string, int> seen;
    constexpr int cases = 10000;
    for (int i = 0; i < cases; ++i) {
        bytes f;
        switch (i % 4) {
            case 0: f = mutate(vm_frames[rng() % vm_frames.size()].second, rng); break;
            case 1: f = mutate(fabric_frames[rng() % fabric_frames.size()], rng); break;
            case 2: f = mutate(mutate(fabric_frames[rng() % fabric_frames.size()], rng), rng); break;
            default:
                f.resize(rng() % 200);
                for (auto& b : f) b = std::byte{static_cast<std::uint8_t>(rng())};
                break;
        }
        for (const auto* s : hosts) {
            // Egress through the port of the frame's source MAC when it runs here, else any port.
            mac_address port = all_ports[rng() % all_ports.size()];
            if (f.size() >= 12) {
                const auto source = mac_address::from_bytes(std::span<const std::byte>(f).subspan(6, 6));
                if (s->port(source) != nullptr) port = source;
            }
            buffer e(f);
            vector_sink sink;
            const auto o = egress(*s, port, e.f, sink);
            check_reason(o);
            CHECK(inside(e.f));
            CHECK(o.verdict != verdict::deliver);
            ++seen["egress " + std::string(to_string(o.verdict)) + " " + std::string(to_string(o.reason))];
            buffer g(f);
            const auto d = ingress(*s, g.f, sink);
            check_reason(d);
            CHECK(inside(g.f));
            CHECK((d.verdict == verdict::deliver || d.verdict == verdict::drop));
            ++seen["ingress " + std::string(to_string(d.verdict)) + " " + std::string(to_string(d.reason))];
        }
    }
    // The mutations reach deep: deliveries and encapsulations happen, and many kinds of drop.
    int kinds = 0;
    for (const auto& [k, n] : seen) kinds += n > 0;
    CAPTURE(seen.size());
    CHECK(seen["ingress deliver none"] > 50);
    CHECK(seen["egress encap none"] > 50);
    CHECK(kinds > 25);
}

namespace {

/// A random valid policy and the VMs it declares.
struct random_policy {
    struct vm {
        std::size_t domain{0};
        std::uint32_t vsid{0};
        mac_address mac;
        ip_address ca4;
        std::optional<ip_address> ca6;
        ip_address pa;
        std::string host;
        bool nat{false};
    };
    policy::model model;
    std::vector<vm> vms;
    std::vector<rdid> domains;
    std::vector<ip_address> pas;
    std::vector<std::string> hosts;
    std::vector<std::pair<mac_address, std::size_t>> gateways;  ///< gateway NICs and their domains
};

random_policy make_random_policy(std::mt19937_64& rng) {
    random_policy p;
    policy::builder b;
    const std::size_t hosts = 2 + rng() % 3;
    std::uint8_t next_pa = 1;
    std::vector<std::vector<ip_address>> host_pas(hosts);
    for (std::size_t h = 0; h < hosts; ++h) {
        p.hosts.push_back("hv" + std::to_string(h + 1));
        const std::size_t n = 1 + rng() % 2;
        for (std::size_t k = 0; k < n; ++k, ++next_pa) {
            const auto pa = ip("192.168.0." + std::to_string(next_pa));
            host_pas[h].push_back(pa);
            p.pas.push_back(pa);
            b.add(policy::provider_address{p.hosts[h], pa, 24, mac_address{{2, 0, 0xc0, 0xa8, 0, next_pa}}, 0});
        }
    }
    const std::size_t domains = 2 + rng() % 2;
    std::uint8_t next_mac = 1;
    std::uint32_t next_vsid = 5000;
    for (std::size_t d = 0; d < domains; ++d) {
        std::array<std::uint8_t, 16> g{};
        g[0] = static_cast<std::uint8_t>(d + 1);
        g[15] = static_cast<std::uint8_t>(rng());
        p.domains.push_back(rdid{g});
        const mac_address router{{2, 0, 0x5e, 0, 1, static_cast<std::uint8_t>(d + 1)}};
        b.add(policy::routing_domain{p.domains.back(), "d" + std::to_string(d), router});
        // Every domain uses the same prefixes: the tenants overlap.
        const std::size_t subnets = 1 + rng() % 3;
        std::vector<std::uint32_t> vsids;
        for (std::size_t k = 0; k < subnets; ++k) {
            const auto v = *nvgre::vsid::make(next_vsid++);
            vsids.push_back(v.value());
            const bool six = k == 0;
            b.add(policy::virtual_subnet{v, p.domains.back(), ipv4_address::parse("10.0." + std::to_string(k) + ".1").value(),
                                         six ? std::optional<ipv6_address>(ip("fd00::1").v6()) : std::nullopt});
            b.add(policy::customer_route{p.domains.back(), v, *ip_prefix::parse("10.0." + std::to_string(k) + ".0/24"),
                                         ip("0.0.0.0"), 256});
            if (six) b.add(policy::customer_route{p.domains.back(), v, *ip_prefix::parse("fd00::/64"), ip("::"), 256});
        }
        const std::size_t count = 3 + rng() % 6;
        for (std::size_t i = 0; i < count; ++i) {
            random_policy::vm m;
            m.domain = d;
            const std::size_t k = rng() % subnets;
            m.vsid = vsids[k];
            m.mac = mac_address{{0, 0x15, 0x5d, static_cast<std::uint8_t>(d), 0, next_mac++}};
            m.ca4 = ip("10.0." + std::to_string(k) + "." + std::to_string(10 + i));
            const std::size_t h = rng() % hosts;
            m.host = p.hosts[h];
            m.nat = rng() % 5 == 0;
            if (m.nat) {
                // IP rewrite needs a PA of its own.
                m.pa = ip("192.168.0." + std::to_string(next_pa));
                b.add(policy::provider_address{m.host, m.pa, 24, mac_address{{2, 0, 0xc0, 0xa8, 0, next_pa}}, 0});
                p.pas.push_back(m.pa);
                ++next_pa;
            } else {
                m.pa = host_pas[h][rng() % host_pas[h].size()];
                if (k == 0 && rng() % 2 == 0) m.ca6 = ip("fd00::" + std::to_string(10 + i));
            }
            const auto v = *nvgre::vsid::make(m.vsid);
            b.add(policy::lookup_record{v, m.ca4, m.mac, m.pa, m.nat ? policy::rule::nat : policy::rule::encap,
                                        policy::record_type::static_record, "vm" + std::to_string(p.vms.size())});
            if (m.ca6)
                b.add(policy::lookup_record{v, *m.ca6, m.mac, m.pa, policy::rule::encap, policy::record_type::static_record, ""});
            p.vms.push_back(m);
        }
        if (rng() % 3 == 0) {
            // A gateway that may send from any address of its subnet's IP version.
            const std::size_t h = rng() % hosts;
            const mac_address gw{{0, 0x15, 0x5d, static_cast<std::uint8_t>(d), 0xff, 0xfe}};
            b.add(policy::lookup_record{*nvgre::vsid::make(vsids[0]), ip("0.0.0.0"), gw, host_pas[h][0], policy::rule::encap,
                                        policy::record_type::gateway_wildcard, "gw"});
            p.gateways.emplace_back(gw, d);
            if (rng() % 2 == 0) {
                // A second gateway side by side (another NIC), on any host; sometimes for IPv6 too.
                const mac_address gw2{{0, 0x15, 0x5d, static_cast<std::uint8_t>(d), 0xff, 0xfd}};
                const std::size_t h2 = rng() % hosts;
                b.add(policy::lookup_record{*nvgre::vsid::make(vsids[0]), ip("0.0.0.0"), gw2, host_pas[h2][0],
                                            policy::rule::encap, policy::record_type::gateway_wildcard, "gw2"});
                b.add(policy::lookup_record{*nvgre::vsid::make(vsids[0]), ip("::"), gw2, host_pas[h2][0],
                                            policy::rule::encap, policy::record_type::gateway_wildcard, "gw2"});
                p.gateways.emplace_back(gw2, d);
            }
        }
    }
    auto built = b.build();
    for (const auto& diag : built.diagnostics) MESSAGE(policy::to_string(diag));
    REQUIRE(built);
    p.model = *built.validated;
    return p;
}

/// The routing domain of the VM NIC with `mac` (every MAC is one VM's here).
std::optional<std::size_t> domain_of_mac(const random_policy& p, const mac_address& mac) {
    for (const auto& v : p.vms)
        if (v.mac == mac) return v.domain;
    for (const auto& [gw, domain] : p.gateways)
        if (gw == mac) return domain;
    return std::nullopt;
}

/// Does `pa` own source address `ca` in the routing domain of `vsid` (or hold its wildcard)?
bool owns(const policy::model& m, const ip_address& pa, const ip_address& ca, std::uint32_t vsid) {
    const auto* sub = m.find_subnet(*nvgre::vsid::make(vsid));
    if (sub == nullptr) return false;
    for (const auto& r : m.lookup_records()) {
        const auto* rs = m.find_subnet(r.subnet);
        if (rs == nullptr || rs->domain != sub->domain || r.pa != pa) continue;
        if (r.type == policy::record_type::static_record && r.ca == ca) return true;
        if (r.type == policy::record_type::gateway_wildcard && r.subnet.value() == vsid && r.ca.version() == ca.version())
            return true;
    }
    return false;
}

}  // namespace

TEST_CASE("property: random valid policies — text round trip; egress then ingress stays in the routing domain") {
    std::mt19937_64 rng(7637);
    int policies = 0, frames = 0, delivered = 0, forged = 0, forged_accepted = 0, identity = 0;
    for (int round = 0; round < 400; ++round) {
        const random_policy p = make_random_policy(rng);
        ++policies;
        // Written as text and read back: the same policy.
        const std::string text = to_policy_text(p.model);
        const auto back = policy::load_policy_text(text, "random.policy");
        for (const auto& line : back.error_lines()) MESSAGE(line);
        REQUIRE(back);
        CHECK(to_policy_text(*back.validated) == text);

        std::map<std::string, policy::state> states;
        for (const auto& h : p.hosts) states.emplace(h, policy::state::build(p.model, h).value());
        // The host state holds exactly the model's records, each reachable through its lookups.
        for (const auto& host_state : states) {
            const policy::state& st = host_state.second;  // (no structured binding: the lambdas below read it)
            CHECK(st.record_count() == p.model.lookup_records().size());
            for (const auto& r : p.model.lookup_records()) {
                const auto* sub = p.model.find_subnet(r.subnet);
                REQUIRE(sub != nullptr);
                const auto domain = st.domain_index(sub->domain);
                REQUIRE(domain.has_value());
                const bool gateway_pa = st.is_gateway_pa(*domain, r.pa);
                if (r.type == policy::record_type::static_record) {
                    const auto* found = st.find_record(*domain, r.ca);
                    REQUIRE(found != nullptr);
                    CHECK((found->mac == r.mac && found->pa == r.pa && found->vsid == r.subnet.value() && found->rule == r.rule));
                } else {
                    CHECK(gateway_pa);
                    const auto g = st.gateway_wildcards(r.subnet.value(), r.ca.version());
                    CHECK(std::count_if(g.begin(), g.end(), [&](policy::record_id id) {
                              return st.record(id).mac == r.mac && st.record(id).pa == r.pa;
                          }) == 1);
                    CHECK(std::is_sorted(g.begin(), g.end(), [&](policy::record_id a, policy::record_id c) {
                        return st.record(a).mac.to_string() < st.record(c).mac.to_string();
                    }));
                }
            }
        }
        for (int i = 0; i < 30; ++i) {
            const auto& from = p.vms[rng() % p.vms.size()];
            const auto& to = p.vms[rng() % p.vms.size()];
            const bool v6 = from.ca6 && to.ca6 && rng() % 2 == 0;
            const auto* from_sub = p.model.find_subnet(*nvgre::vsid::make(from.vsid));
            const auto* router = p.model.find_domain(from_sub->domain);
            const mac_address dst_mac = to.vsid == from.vsid ? to.mac : (rng() % 4 == 0 ? to.mac : router->router_mac);
            const auto sent = udp_frame(from.mac, dst_mac, v6 ? *from.ca6 : from.ca4, v6 ? *to.ca6 : to.ca4, rng() % 300,
                                        static_cast<std::uint8_t>(1 + rng() % 64));
            ++frames;
            buffer b(sent);
            vector_sink sink;
            const auto e = egress(states.at(from.host), from.mac, b.f, sink);
            check_reason(e);
            if (e.verdict == verdict::local) {
                CHECK(domain_of_mac(p, e.to.vm_mac) == from.domain);
                continue;
            }
            if (e.verdict != verdict::encap && e.verdict != verdict::rewrite) continue;
            const std::string receiver(p.model.host_of_pa(e.pa));
            REQUIRE(!receiver.empty());
            const bytes wire_bytes = b.bytes();
            const auto d = ingress(states.at(receiver), b.f, sink);
            check_reason(d);
            if (d.verdict == verdict::deliver) {
                ++delivered;
                CHECK(domain_of_mac(p, d.to.vm_mac) == from.domain);  // never across routing domains
                if (e.verdict == verdict::encap && from.vsid == to.vsid && d.to.vm_mac == to.mac) {
                    CHECK(b.bytes() == sent);  // encap∘decap is the identity within a subnet
                    ++identity;
                }
            }
            // The same packet from every other PA: delivered only if that PA owns the source CA.
            if (e.verdict != verdict::encap) continue;
            const auto l = wire::parse_packet_layout(wire_bytes);
            REQUIRE(l.kind == wire::frame_kind::nvgre);
            for (const auto& liar : p.pas) {
                bytes f = wire_bytes;
                auto outer = wire::mutable_ipv4_view::unchecked(std::span<std::byte>(f).subspan(l.outer_l3_offset));
                if (outer.source() == liar.v4()) continue;
                outer.set_source(liar.v4());
                outer.fill_header_checksum();
                buffer c(f);
                const auto o = ingress(states.at(receiver), c.f, sink);
                ++forged;
                if (o.verdict != verdict::deliver) continue;
                ++forged_accepted;
                CHECK(owns(p.model, liar, v6 ? *from.ca6 : from.ca4, l.vsid_bits()));
            }
        }
    }
    MESSAGE(policies << " policies, " << frames << " frames, " << delivered << " delivered, " << identity
                     << " byte-identical, " << forged << " forged sources (" << forged_accepted << " owned by the liar)");
    CHECK(frames >= 10000);
    CHECK(delivered > 500);
    CHECK(forged > 1000);
    CHECK(identity > 100);
}

namespace {
bool same_traffic(const vector_sink& a, const vector_sink& b) {
    if (a.out.size() != b.out.size()) return false;
    for (std::size_t i = 0; i < a.out.size(); ++i)
        if (a.out[i].bytes != b.out[i].bytes || a.out[i].to != b.out[i].to) return false;
    return true;
}
}  // namespace

TEST_CASE("property: random valid policies — the burst entry points give what the single-frame ones give") {
    // egress_burst / ingress_burst decide the common frame on a staged fast path and hand the
    // rest to egress() / ingress(): on random policies (routed subnets, gateways, nat, IPv6)
    // and bursts of 40 frames (across the 32-frame chunk), the same outcomes, frame bytes,
    // sink traffic and counters, frame by frame. (tests/fuzz/burst.fuzz.cpp does the same on
    // arbitrary bytes and a fixed policy.)
    std::mt19937_64 rng(0xb0257);
    int bursts = 0, fast = 0;
    for (int round = 0; round < 150; ++round) {
        const random_policy p = make_random_policy(rng);
        std::map<std::string, policy::state> states;
        // Every VM NIC numbered as an embedder would number its ports; odd rounds send the
        // bursts by those numbers, even rounds by MAC (the single frames always go by MAC).
        std::map<std::string, std::uint32_t> port_ids;
        for (const auto& v : p.vms) port_ids.emplace(v.mac.to_string(), static_cast<std::uint32_t>(port_ids.size()));
        for (const auto& h : p.hosts) {
            policy::state s = policy::state::build(p.model, h).value();
            for (const auto& v : p.vms) REQUIRE(s.bind_port(port_ids.at(v.mac.to_string()), v.mac));
            states.emplace(h, std::move(s));
        }
        const bool by_id = round % 2 == 1;
        std::map<std::string, std::vector<bytes>> to_host;  // what egress sent, by receiving host
        for (const auto& host : p.hosts) {
            std::vector<const random_policy::vm*> local;
            for (const auto& v : p.vms)
                if (v.host == host) local.push_back(&v);
            if (local.empty()) continue;
            std::deque<buffer> burst_bufs, single_bufs;
            std::vector<mac_address> ports;
            std::vector<std::uint32_t> ids;
            for (int i = 0; i < 40; ++i) {
                const auto& from = *local[rng() % local.size()];
                const auto& to = p.vms[rng() % p.vms.size()];
                const bool v6 = from.ca6 && to.ca6 && rng() % 2 == 0;
                const auto* router = p.model.domain_of(*nvgre::vsid::make(from.vsid));
                const mac_address dst_mac = to.vsid == from.vsid ? to.mac : router->router_mac;
                const auto f = udp_frame(from.mac, dst_mac, v6 ? *from.ca6 : from.ca4, v6 ? *to.ca6 : to.ca4,
                                         rng() % 1600, static_cast<std::uint8_t>(1 + rng() % 64));
                burst_bufs.emplace_back(f);
                single_bufs.emplace_back(f);
                ports.push_back(from.mac);
                ids.push_back(port_ids.at(from.mac.to_string()));
            }
            const policy::state& s = states.at(host);
            std::vector<frame> frames;
            for (auto& b : burst_bufs) frames.push_back(b.f);
            std::vector<outcome> got(frames.size());
            vector_sink burst_sink, single_sink;
            context burst_ctx;
            counters single_count;
            const std::size_t decided =
                by_id ? egress_burst(s, std::span<frame>(frames), std::span<const std::uint32_t>(ids), std::span<outcome>(got),
                                     burst_sink, burst_ctx)
                      : egress_burst(s, std::span<frame>(frames), std::span<const mac_address>(ports), std::span<outcome>(got),
                                     burst_sink, burst_ctx);
            REQUIRE(decided == frames.size());
            ++bursts;
            for (std::size_t i = 0; i < frames.size(); ++i) {
                const outcome want = egress(s, ports[i], single_bufs[i].f, single_sink);
                single_count.count(want);
                CHECK(got[i] == want);
                if (want.to.to != destination::kind::fabric && want.verdict != verdict::drop) {
                    // Outputs name their port by number (none for a NIC that was not numbered: a gateway's).
                    const auto id = port_ids.find(want.to.vm_mac.to_string());
                    CHECK(want.to.port == (id == port_ids.end() ? destination::none : id->second));
                }
                CHECK(bytes(frames[i].bytes().begin(), frames[i].bytes().end()) == single_bufs[i].bytes());
                if (want.verdict == verdict::encap && want.copies == 0) {
                    ++fast;
                    to_host[std::string(p.model.host_of_pa(want.pa))].push_back(single_bufs[i].bytes());
                }
            }
            CHECK(same_traffic(burst_sink, single_sink));
            CHECK(burst_sink.outstanding() == 0);  // every buffer taken was sent or discarded
            CHECK(single_sink.outstanding() == 0);
            CHECK(burst_ctx.count.verdicts == single_count.verdicts);
            CHECK(burst_ctx.count.drops == single_count.drops);
        }
        for (const auto& [host, sent] : to_host) {
            const policy::state& s = states.at(host);
            std::deque<buffer> burst_bufs, single_bufs;
            for (const bytes& f : sent) {
                burst_bufs.emplace_back(f);
                single_bufs.emplace_back(f);
            }
            std::vector<frame> frames;
            for (auto& b : burst_bufs) frames.push_back(b.f);
            std::vector<outcome> got(frames.size());
            vector_sink burst_sink, single_sink;
            context burst_ctx;
            counters single_count;
            REQUIRE(ingress_burst(s, std::span<frame>(frames), std::span<outcome>(got), burst_sink, burst_ctx) ==
                    frames.size());
            ++bursts;
            for (std::size_t i = 0; i < frames.size(); ++i) {
                const outcome want = ingress(s, single_bufs[i].f, single_sink);
                single_count.count(want);
                CHECK(got[i] == want);
                CHECK(bytes(frames[i].bytes().begin(), frames[i].bytes().end()) == single_bufs[i].bytes());
            }
            CHECK(same_traffic(burst_sink, single_sink));
            CHECK(burst_sink.outstanding() == 0);  // every buffer taken was sent or discarded
            CHECK(single_sink.outstanding() == 0);
            CHECK(burst_ctx.count.verdicts == single_count.verdicts);
            CHECK(burst_ctx.count.drops == single_count.drops);
        }
    }
    MESSAGE(bursts << " bursts, " << fast << " frames encapsulated in place");
    CHECK(bursts > 300);
    CHECK(fast > 1000);
}

namespace {
/// A chained copy of `f`: a first segment of at least first_segment_bytes (all of a shorter
/// frame) with room behind it for an ICMP answer, the rest cut into 1-4 segments.
std::unique_ptr<chained_buffer> chained_copy(const bytes& f, std::mt19937_64& rng) {
    const std::size_t first =
        f.size() <= first_segment_bytes ? f.size() : first_segment_bytes + rng() % (f.size() - first_segment_bytes);
    std::vector<std::size_t> cuts;
    for (std::size_t k = rng() % 4, left = f.size() - first; k > 0; --k) {
        const std::size_t c = rng() % (left + 1);
        cuts.push_back(c);
        left -= c;
    }
    return std::make_unique<chained_buffer>(f, first, cuts, 128, 1400);
}
}  // namespace

TEST_CASE("property: chained frames — the pipelines give what the same frames give in one buffer") {
    // Random policies and frames of up to 9000 bytes (jumbo underlays, oversize frames that
    // are fragmented, segmented (TSO metadata, --gso) or answered too big), each run twice:
    // in one buffer through egress() / ingress() with a copying sink, and as a chained frame
    // (first segment of 256+ bytes, 1-4 more) through egress_burst / ingress_burst with a sink
    // that makes headers-only clones. Same outcomes, same bytes (the chain gathered), same
    // traffic, no buffer left out.
    std::mt19937_64 rng(0xc4a1d);
    int frames_run = 0, chained = 0, clones = 0;
    std::map<verdict, int> verdicts;
    for (int round = 0; round < 60; ++round) {
        const random_policy p = make_random_policy(rng);
        std::map<std::string, policy::state> states;
        for (const auto& h : p.hosts) states.emplace(h, policy::state::build(p.model, h).value());
        pipeline_config cfg;
        cfg.underlay_mtu = round % 3 == 0 ? 9000 : 1500;
        cfg.gso = round % 2 == 0;
        cfg.segmentation_by_hardware = round % 5 == 1;  // TSO sends left whole for the NIC
        std::map<std::string, std::vector<bytes>> to_host;
        for (const auto& host : p.hosts) {
            std::vector<const random_policy::vm*> local;
            for (const auto& v : p.vms)
                if (v.host == host) local.push_back(&v);
            if (local.empty()) continue;
            const policy::state& s = states.at(host);
            std::deque<buffer> linear;
            std::vector<std::unique_ptr<chained_buffer>> chains;
            std::vector<mac_address> ports;
            for (int i = 0; i < 24; ++i) {
                const auto& from = *local[rng() % local.size()];
                const auto& to = p.vms[rng() % p.vms.size()];
                const bool v6 = from.ca6 && to.ca6 && rng() % 2 == 0;
                const auto* router = p.model.domain_of(*nvgre::vsid::make(from.vsid));
                const mac_address dst_mac = rng() % 8 == 0 ? mac("ff:ff:ff:ff:ff:ff") : to.vsid == from.vsid ? to.mac : router->router_mac;
                const std::size_t payload = rng() % 9000;
                bytes f;
                std::uint16_t tso = 0;
                if (rng() % 3 == 0) {
                    tcp_frame_spec t;
                    t.src_mac = from.mac;
                    t.dst_mac = dst_mac;
                    t.src = v6 ? *from.ca6 : from.ca4;
                    t.dst = v6 ? *to.ca6 : to.ca4;
                    t.payload_len = payload;
                    t.dont_fragment = rng() % 2 == 0;
                    f = tcp_frame(t);
                    if (rng() % 2 == 0) tso = static_cast<std::uint16_t>(500 + rng() % 1000);
                } else {
                    f = udp_frame(from.mac, dst_mac, v6 ? *from.ca6 : from.ca4, v6 ? *to.ca6 : to.ca4, payload,
                                  static_cast<std::uint8_t>(1 + rng() % 64));
                }
                linear.emplace_back(f, 128, 1400);
                linear.back().f.offload.segment_size = tso;
                chains.push_back(chained_copy(f, rng));
                chains.back()->f.offload.segment_size = tso;
                chained += chains.back()->f.is_chained() ? 1 : 0;
                ports.push_back(from.mac);
            }
            std::vector<frame> frames;
            for (auto& c : chains) frames.push_back(c->f);
            std::vector<outcome> got(frames.size());
            vector_sink linear_sink;
            cloning_vector_sink chained_sink;
            context ctx;
            REQUIRE(egress_burst(s, std::span<frame>(frames), std::span<const mac_address>(ports), std::span<outcome>(got),
                                 chained_sink, ctx, cfg) == frames.size());
            for (std::size_t i = 0; i < frames.size(); ++i) {
                const outcome want = egress(s, ports[i], linear[i].f, linear_sink, cfg);
                ++frames_run;
                ++verdicts[want.verdict];
                CHECK(got[i] == want);
                CHECK(chained_buffer::gathered(frames[i]) == linear[i].bytes());
                if (want.verdict == verdict::encap && want.copies == 0)
                    to_host[std::string(p.model.host_of_pa(want.pa))].push_back(linear[i].bytes());
            }
            CHECK(same_traffic(chained_sink, linear_sink));
            CHECK(chained_sink.outstanding() == 0);
            CHECK(linear_sink.outstanding() == 0);
            clones += static_cast<int>(chained_sink.clones);
        }
        for (const auto& [host, sent] : to_host) {
            const policy::state& s = states.at(host);
            std::deque<buffer> linear;
            std::vector<std::unique_ptr<chained_buffer>> chains;
            for (const bytes& f : sent) {
                linear.emplace_back(f);
                chains.push_back(chained_copy(f, rng));
            }
            std::vector<frame> frames;
            for (auto& c : chains) frames.push_back(c->f);
            std::vector<outcome> got(frames.size());
            vector_sink linear_sink;
            cloning_vector_sink chained_sink;
            context ctx;
            REQUIRE(ingress_burst(s, std::span<frame>(frames), std::span<outcome>(got), chained_sink, ctx, cfg) == frames.size());
            for (std::size_t i = 0; i < frames.size(); ++i) {
                const outcome want = ingress(s, linear[i].f, linear_sink, cfg);
                ++frames_run;
                CHECK(got[i] == want);
                CHECK(chained_buffer::gathered(frames[i]) == linear[i].bytes());
            }
            CHECK(same_traffic(chained_sink, linear_sink));
            CHECK(chained_sink.outstanding() == 0);
            clones += static_cast<int>(chained_sink.clones);
        }
    }
    MESSAGE(frames_run << " frames, " << chained << " chained; " << clones << " headers-only clones; encap "
                       << verdicts[verdict::encap] << ", flood " << verdicts[verdict::flood] << ", reply "
                       << verdicts[verdict::reply] << ", drop " << verdicts[verdict::drop]);
    CHECK(chained > 500);
    CHECK(clones > 50);
    CHECK(verdicts[verdict::encap] > 200);
    CHECK(verdicts[verdict::reply] > 10);
}

TEST_CASE("property: encap then decap gives back random inner frames, every outer shape") {
    std::mt19937_64 rng(6040);
    int runs = 0;
    for (int i = 0; i < 5000; ++i) {
        // The inner frame: IPv4 or IPv6 UDP with random TOS, an ARP request, or an EtherType the
        // layout does not look into, with random bytes.
        bytes inner;
        const auto smac = mac_address{{0, 0x15, 0x5d, 0, static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng())}};
        const auto dmac = mac_address{{0, 0x15, 0x5d, 1, static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng())}};
        switch (rng() % 4) {
            case 0: inner = udp_frame(smac, dmac, ip("10.0.0.5"), ip("10.1.2.3"), rng() % 1400, 64, static_cast<std::uint8_t>(rng())); break;
            case 1: inner = udp_frame(smac, dmac, ip("fd00::5"), ip("fd00::77"), rng() % 1400, 64, static_cast<std::uint8_t>(rng())); break;
            case 2: inner = arp_request(smac, ip("10.0.0.5"), ip("10.0.0.6")); break;
            default: {
                inner.resize(14 + rng() % 1500);
                for (auto& x : inner) x = std::byte{static_cast<std::uint8_t>(rng())};
                wire::ethernet_repr{dmac, smac, 0, {}, static_cast<std::uint16_t>(0x9000 + rng() % 0x1000)}.emit(inner);
                break;
            }
        }
        const bool v6 = rng() % 2 == 0;
        const std::uint16_t vlan = rng() % 2 == 0 ? 0 : static_cast<std::uint16_t>(1 + rng() % 4094);
        const encap_params p{mac("02:00:c0:a8:0a:0b"), mac("02:00:c0:a8:0a:0c"), vlan,
                             v6 ? ip("2001:db8::" + std::to_string(1 + rng() % 1000)) : ip("192.168.10." + std::to_string(rng() % 256)),
                             v6 ? ip("2001:db8::ffff") : ip("192.168.11.12"), *nvgre::vsid::make(4096 + static_cast<std::uint32_t>(rng() % 0xffefff)),
                             static_cast<std::uint8_t>(1 + rng() % 255), false};
        const auto t = encap_template::make(p);
        REQUIRE(t.has_value());
        buffer b(inner);
        const auto flow = nvgre::flow_id{static_cast<std::uint8_t>(rng())};
        REQUIRE((rng() % 2 == 0 ? t->apply(b.f, flow) : t->apply(b.f)).has_value());
        const auto l = wire::parse_packet_layout(b.f.bytes());
        REQUIRE(l.kind == wire::frame_kind::nvgre);
        decap_info info;
        REQUIRE(decapsulate(b.f, info).has_value());
        CHECK(b.bytes() == inner);
        CHECK(info.vsid == p.vsid);
        CHECK(info.outer_vlan == vlan);
        ++runs;
    }
    CHECK(runs == 5000);
}
