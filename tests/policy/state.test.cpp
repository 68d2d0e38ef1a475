#include "nvgre/policy/state.hpp"

#include "nvgre/policy/loader.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace nvgre;
using namespace nvgre::policy;

namespace {

// The red/blue example of docs/policy-format.md, plus a second red subnet behind the distributed
// router, IPv6 CAs, a provider route and a nat pair.
constexpr std::string_view red_blue = R"(
provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b
provider-address host=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c
provider-address host=hv3 pa=192.168.20.13 prefix-length=24 mac=02:00:c0:a8:14:0d
provider-address host=hv1 pa=192.168.10.21 prefix-length=24 mac=02:00:c0:a8:0a:15
provider-address host=hv2 pa=192.168.10.22 prefix-length=24 mac=02:00:c0:a8:0a:16
provider-route host=hv1 prefix=192.168.20.0/24 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:fe metric=10
provider-route host=hv1 prefix=192.168.20.0/24 next-hop=192.168.10.2 next-hop-mac=02:00:00:00:00:fd metric=5

routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red
virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1,fd00::1
virtual-subnet vsid=5002 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.1.1
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=fd00::/64 next-hop=::
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5002 prefix=10.0.1.0/24 next-hop=0.0.0.0
lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web
lookup-record vsid=5001 ca=fd00::5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web
lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.12 vm=red-db
lookup-record vsid=5002 ca=10.0.1.8 mac=00:15:5d:00:00:08 pa=192.168.10.12 vm=red-db2
lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.20.13 vm=red-far
lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fe pa=192.168.10.12 type=gateway-wildcard

routing-domain rdid={22222222-2222-2222-2222-222222222222} name=blue router-mac=02:00:5e:00:02:02
virtual-subnet vsid=6001 rdid={22222222-2222-2222-2222-222222222222} gateway=10.0.0.1
customer-route rdid={22222222-2222-2222-2222-222222222222} vsid=6001 prefix=10.0.0.0/24 next-hop=0.0.0.0
lookup-record vsid=6001 ca=10.0.0.5 mac=00:15:5d:00:01:05 pa=192.168.10.11 vm=blue-web
lookup-record vsid=6001 ca=10.0.0.6 mac=00:15:5d:00:01:06 pa=192.168.10.12 vm=blue-db
lookup-record vsid=6001 ca=10.0.0.7 mac=00:15:5d:00:01:07 pa=192.168.10.21 rule=nat vm=blue-nat1
lookup-record vsid=6001 ca=10.0.0.8 mac=00:15:5d:00:01:08 pa=192.168.10.22 rule=nat vm=blue-nat2
)";

model load(std::string_view text) {
    auto r = load_policy_text(text, "test.policy");
    for (const auto& d : r.diagnostics) MESSAGE(d.to_string());
    REQUIRE(r);
    return *r.validated;
}

ip_address ip(std::string_view s) { return *ip_address::parse(s); }
mac_address mac(std::string_view s) { return *mac_address::parse(s); }
nvgre::vsid vs(std::uint32_t v) { return *nvgre::vsid::make(v); }
rdid red_id() { return *rdid::parse("11111111-1111-1111-1111-111111111111"); }
rdid blue_id() { return *rdid::parse("22222222-2222-2222-2222-222222222222"); }

lookup_record rec(std::uint32_t v, std::string_view ca, std::string_view m, std::string_view pa, rule r = rule::encap) {
    return lookup_record{vs(v), ip(ca), mac(m), ip(pa), r, record_type::static_record, ""};
}

}  // namespace

TEST_CASE("policy/state: the red/blue policy indexed for hv1") {
    const auto s = state::build(load(red_blue), "hv1").value();
    CHECK(s.host() == "hv1");
    CHECK(s.record_count() == 10);
    const auto red = *s.domain_index(red_id());
    const auto blue = *s.domain_index(blue_id());
    CHECK(red != blue);

    SUBCASE("overlapping customer addresses stay apart by routing domain") {
        const auto* r = s.find_record(red, ip("10.0.0.5"));
        const auto* b = s.find_record(blue, ip("10.0.0.5"));
        REQUIRE(r != nullptr);
        REQUIRE(b != nullptr);
        CHECK(r->mac == mac("00:15:5d:00:00:05"));
        CHECK(b->mac == mac("00:15:5d:00:01:05"));
        CHECK(r->local);
        CHECK(r->vsid == 5001);
        CHECK(b->vsid == 6001);
        CHECK(s.vm_name(s.id_of(*r)) == "red-web");
        CHECK(s.find_record(red, ip("10.0.0.77")) == nullptr);
        CHECK(s.find_record(red, ip("fd00::5"))->mac == mac("00:15:5d:00:00:05"));
    }
    SUBCASE("(VSID, CA) lookups need the record in that subnet") {
        CHECK(s.find_record_in_subnet(5002, ip("10.0.1.8")) != nullptr);
        CHECK(s.find_record_in_subnet(5001, ip("10.0.1.8")) == nullptr);
        CHECK(s.find_record_in_subnet(7777, ip("10.0.1.8")) == nullptr);
        CHECK_FALSE(s.find_record_in_subnet(5002, ip("10.0.1.8"))->local);
    }
    SUBCASE("batched lookups agree with single ones") {
        std::vector<ca_key> keys;
        for (const char* a : {"10.0.0.5", "10.0.0.6", "10.0.0.99", "fd00::5", "10.0.1.8"}) keys.push_back({red, ip(a)});
        keys.push_back({blue, ip("10.0.0.6")});
        std::vector<const record_entry*> out(keys.size());
        s.find_records_batch(keys, out);
        for (std::size_t i = 0; i < keys.size(); ++i) CHECK(out[i] == s.find_record(keys[i].scope, keys[i].address));
    }
    SUBCASE("customer routes: longest prefix per domain") {
        const auto* r = s.route(red, ip("10.0.1.200"));
        REQUIRE(r != nullptr);
        CHECK(r->vsid == 5002);
        CHECK(r->on_link());
        CHECK(s.route(red, ip("fd00::1234"))->vsid == 5001);
        CHECK(s.route(red, ip("10.9.0.1")) == nullptr);
        CHECK(s.route(blue, ip("10.0.1.200")) == nullptr);
    }
    SUBCASE("ports, subnets and gateway wildcards") {
        const auto* p = s.port(mac("00:15:5d:00:00:05"));
        REQUIRE(p != nullptr);
        CHECK(p->vsid == 5001);
        CHECK(p->records.size() == 2);
        CHECK(s.port(mac("00:15:5d:00:00:06")) == nullptr);  // on hv2
        const auto* sub = s.subnet(5001);
        REQUIRE(sub != nullptr);
        CHECK(sub->gateway_v4 == ipv4_address::parse("10.0.0.1").value());
        CHECK(sub->gateway_v6 == ipv6_address::parse("fd00::1").value());
        CHECK(s.domain(sub->domain).router_mac == default_router_mac);
        CHECK(s.domain(blue).router_mac == mac("02:00:5e:00:02:02"));
        const auto wild = s.gateway_wildcards(5001, ip_version::v4);
        REQUIRE(wild.size() == 1);
        CHECK(s.record(wild[0]).pa == ip("192.168.10.12"));
        CHECK(s.gateway_wildcards(5001, ip_version::v6).empty());
        CHECK(s.is_gateway_pa(sub->domain, ip("192.168.10.12")));
        CHECK_FALSE(s.is_gateway_pa(sub->domain, ip("192.168.10.11")));
        CHECK(s.find_record(red, ip("0.0.0.0")) == nullptr);
    }
    SUBCASE("flood lists: distinct remote PAs and local NICs per subnet") {
        const auto* sub = s.subnet(5001);
        std::set<std::string> remote;
        for (const auto& f : sub->remote_pas) remote.insert(f.pa.to_string());
        CHECK(remote == std::set<std::string>{"192.168.10.12", "192.168.20.13"});
        REQUIRE(sub->local_macs.size() == 1);
        CHECK(sub->local_macs[0].mac == mac("00:15:5d:00:00:05"));
        CHECK(sub->local_macs[0].records == 2);
    }
    SUBCASE("provider addresses, nat records and next hops") {
        CHECK(s.is_local_pa(ip("192.168.10.11")));
        CHECK(s.is_local_pa(ip("192.168.10.21")));
        CHECK_FALSE(s.is_local_pa(ip("192.168.10.12")));
        CHECK_FALSE(s.is_local_pa(ip("10.0.0.5")));
        CHECK(s.local_pa_indices().size() == 2);
        const auto& src = *s.provider(ip("192.168.10.11"));
        CHECK(s.next_hop_mac(src, ip("192.168.10.12")) == mac("02:00:c0:a8:0a:0c"));  // on-link
        CHECK(s.next_hop_mac(src, ip("192.168.20.13")) == mac("02:00:00:00:00:fd"));  // lowest metric route
        CHECK(s.next_hop_mac(src, ip("172.16.0.1")) == std::nullopt);
        const auto* nat = s.nat_record(ip("192.168.10.22"));
        REQUIRE(nat != nullptr);
        CHECK(nat->ca == ip("10.0.0.8"));
        CHECK(s.nat_record(ip("192.168.10.11")) == nullptr);
    }
}

TEST_CASE("policy/state: the same policy seen from hv2") {
    const auto s = state::build(load(red_blue), "hv2").value();
    const auto red = *s.domain_index(red_id());
    CHECK(s.find_record(red, ip("10.0.0.6"))->local);
    CHECK_FALSE(s.find_record(red, ip("10.0.0.5"))->local);
    CHECK(s.port(mac("00:15:5d:00:00:06")) != nullptr);
    CHECK(s.port(mac("00:15:5d:00:00:05")) == nullptr);
    const auto* sub = s.subnet(5001);
    std::set<std::string> remote;
    for (const auto& f : sub->remote_pas) remote.insert(f.pa.to_string());
    CHECK(remote == std::set<std::string>{"192.168.10.11", "192.168.20.13"});
}

TEST_CASE("policy/state: record changes keep every index consistent") {
    auto s = state::build(load(red_blue), "hv1").value();
    const auto red = *s.domain_index(red_id());

    SUBCASE("add, migrate, remove") {
        CHECK(s.apply(set_record{rec(5001, "10.0.0.50", "00:15:5d:00:00:50", "192.168.10.12")}) == change_status::ok);
        CHECK(s.find_record(red, ip("10.0.0.50"))->pa == ip("192.168.10.12"));
        // Migrate it to this host: now local, a port, and no longer counted as remote.
        CHECK(s.apply(set_record{rec(5001, "10.0.0.50", "00:15:5d:00:00:50", "192.168.10.11")}) == change_status::ok);
        CHECK(s.find_record(red, ip("10.0.0.50"))->local);
        CHECK(s.port(mac("00:15:5d:00:00:50")) != nullptr);
        CHECK(s.subnet(5001)->local_macs.size() == 2);
        CHECK(s.record_count() == 11);
        CHECK(s.apply(remove_record{vs(5001), ip("10.0.0.50")}) == change_status::ok);
        CHECK(s.find_record(red, ip("10.0.0.50")) == nullptr);
        CHECK(s.port(mac("00:15:5d:00:00:50")) == nullptr);
        CHECK(s.record_count() == 10);
        CHECK(s.apply(remove_record{vs(5001), ip("10.0.0.50")}) == change_status::not_found);
    }
    SUBCASE("the last record of a remote PA takes it off the flood list") {
        CHECK(s.apply(remove_record{vs(5001), ip("10.0.0.9")}) == change_status::ok);
        const auto* sub = s.subnet(5001);
        REQUIRE(sub->remote_pas.size() == 1);
        CHECK(sub->remote_pas[0].pa == ip("192.168.10.12"));
    }
    SUBCASE("refused changes change nothing") {
        const auto before = s.record_count();
        CHECK(s.apply(set_record{rec(7777, "10.0.0.60", "00:15:5d:00:00:60", "192.168.10.11")}) == change_status::unknown_vsid);
        CHECK(s.apply(set_record{rec(5001, "10.0.0.60", "00:15:5d:00:00:60", "192.168.99.1")}) == change_status::unknown_pa);
        // 10.0.1.8 is red-db2's, in 5002: the same CA in another subnet of the domain.
        CHECK(s.apply(set_record{rec(5001, "10.0.1.8", "00:15:5d:00:00:60", "192.168.10.11")}) == change_status::duplicate_ca);
        // 192.168.10.22 is blue-nat2's nat PA.
        CHECK(s.apply(set_record{rec(5001, "10.0.0.60", "00:15:5d:00:00:60", "192.168.10.22")}) == change_status::nat_pa_shared);
        CHECK(s.apply(set_record{rec(5001, "10.0.0.60", "00:15:5d:00:00:60", "192.168.10.11", rule::nat)}) ==
              change_status::nat_pa_shared);
        CHECK(s.apply(set_record{rec(5001, "fd00::60", "00:15:5d:00:00:60", "192.168.10.11", rule::nat)}) ==
              change_status::nat_version_mismatch);
        // red-web's MAC is in 5001 on hv1: not also in 6001 there.
        CHECK(s.apply(set_record{rec(6001, "10.0.0.60", "00:15:5d:00:00:05", "192.168.10.11")}) ==
              change_status::mac_in_two_subnets);
        auto wildcard = rec(5001, "10.0.0.61", "00:15:5d:00:00:61", "192.168.10.11");
        wildcard.type = record_type::gateway_wildcard;
        CHECK(s.apply(set_record{wildcard}) == change_status::bad_wildcard);
        CHECK(s.apply(set_record{rec(5001, "0.0.0.0", "00:15:5d:00:00:61", "192.168.10.11")}) == change_status::bad_wildcard);
        CHECK(s.record_count() == before);
        CHECK(s.find_record(red, ip("10.0.0.60")) == nullptr);
    }
    SUBCASE("a nat record may be replaced by itself, with a new MAC") {
        const auto blue = *s.domain_index(blue_id());
        CHECK(s.apply(set_record{rec(6001, "10.0.0.8", "00:15:5d:00:01:88", "192.168.10.22", rule::nat)}) == change_status::ok);
        CHECK(s.find_record(blue, ip("10.0.0.8"))->mac == mac("00:15:5d:00:01:88"));
        CHECK(s.nat_record(ip("192.168.10.22"))->mac == mac("00:15:5d:00:01:88"));
    }
    SUBCASE("customer routes: lowest metric wins, the next one takes over on removal") {
        auto route = [&](std::uint32_t v, std::string_view prefix, std::uint32_t metric) {
            return customer_route{red_id(), vs(v), *ip_prefix::parse(prefix), ip("0.0.0.0"), metric};
        };
        CHECK(s.apply(set_customer_route{route(5002, "10.0.0.0/24", 100)}) == change_status::ok);
        CHECK(s.route(red, ip("10.0.0.5"))->vsid == 5002);  // metric 100 < 256
        CHECK(s.apply(remove_customer_route{red_id(), *ip_prefix::parse("10.0.0.0/24"), 100}) == change_status::ok);
        CHECK(s.route(red, ip("10.0.0.5"))->vsid == 5001);
        CHECK(s.apply(remove_customer_route{red_id(), *ip_prefix::parse("10.0.0.0/24"), 256}) == change_status::ok);
        CHECK(s.route(red, ip("10.0.0.5")) == nullptr);
        CHECK(s.apply(remove_customer_route{red_id(), *ip_prefix::parse("10.0.0.0/24"), 256}) == change_status::not_found);
        CHECK(s.apply(set_customer_route{customer_route{blue_id(), vs(5001), *ip_prefix::parse("10.5.0.0/16"), ip("0.0.0.0"), 1}}) ==
              change_status::subnet_not_in_domain);
        CHECK(s.apply(set_customer_route{customer_route{*rdid::parse("33333333-3333-3333-3333-333333333333"), vs(5001),
                                                        *ip_prefix::parse("10.5.0.0/16"), ip("0.0.0.0"), 1}}) ==
              change_status::unknown_domain);
    }
}

// ---- property test: random policies and changes against a naive reference ----------------

namespace {

struct reference {
    struct rec_t {
        std::uint32_t vsid;
        ip_address ca;
        mac_address mac;
        ip_address pa;
    };
    std::vector<rec_t> records;                 // linear scans
    std::map<std::uint32_t, std::uint32_t> domain_of_vsid;
    struct route_t {
        std::uint32_t domain;
        ip_prefix prefix;
        std::uint32_t vsid;
        std::uint32_t metric;
    };
    std::vector<route_t> routes;
    std::map<std::string, std::string> host_of_pa;

    const rec_t* find(std::uint32_t domain, const ip_address& ca) const {
        for (const auto& r : records)
            if (domain_of_vsid.at(r.vsid) == domain && r.ca == ca) return &r;
        return nullptr;
    }
    std::optional<std::uint32_t> route(std::uint32_t domain, const ip_address& a) const {
        const route_t* best = nullptr;
        for (const auto& r : routes) {
            if (r.domain != domain || !r.prefix.contains(a)) continue;
            if (best == nullptr || r.prefix.length() > best->prefix.length() ||
                (r.prefix.length() == best->prefix.length() && r.metric < best->metric))
                best = &r;
        }
        if (best == nullptr) return std::nullopt;
        return best->vsid;
    }
};

}  // namespace

TEST_CASE("policy/state: random policies and changes agree with a naive reference model") {
    std::mt19937 rng(20261122);
    for (int round = 0; round < 6; ++round) {
        // 3 domains x 2 subnets, 4 hosts with one PA each, addresses from small pools so that
        // collisions (replacements, duplicate CAs, MAC conflicts) happen often.
        policy::builder b;
        const std::uint32_t domains = 3;
        std::vector<rdid> ids;
        for (std::uint32_t d = 0; d < domains; ++d) {
            std::array<std::uint8_t, 16> g{};
            g[15] = static_cast<std::uint8_t>(d + 1);
            ids.push_back(rdid{g});
            b.add(routing_domain{ids.back(), "d" + std::to_string(d), default_router_mac});
        }
        for (std::uint32_t v = 0; v < 6; ++v) b.add(virtual_subnet{vs(5000 + v), ids[v / 2], std::nullopt, std::nullopt});
        std::vector<std::string> pas;
        for (int h = 0; h < 4; ++h) {
            pas.push_back("192.168.0." + std::to_string(10 + h));
            b.add(provider_address{"hv" + std::to_string(h), ip(pas.back()), 24,
                                   mac_address{{2, 0, 0, 0, 0, static_cast<std::uint8_t>(h)}}, 0});
        }
        auto built = b.build();
        REQUIRE(built);
        auto s = state::build(*built.validated, "hv0").value();

        reference ref;
        for (std::uint32_t v = 0; v < 6; ++v) ref.domain_of_vsid[5000 + v] = *s.domain_index(ids[v / 2]);
        for (int h = 0; h < 4; ++h) ref.host_of_pa[pas[static_cast<std::size_t>(h)]] = "hv" + std::to_string(h);

        auto random_ca = [&] { return ip("10.0." + std::to_string(rng() % 4) + "." + std::to_string(rng() % 8)); };
        auto random_mac = [&] { return mac_address{{0, 0x15, 0x5d, 0, 0, static_cast<std::uint8_t>(rng() % 24)}}; };
        for (int step = 0; step < 3000; ++step) {
            const std::uint32_t v = 5000 + static_cast<std::uint32_t>(rng() % 6);
            const std::uint32_t op = static_cast<std::uint32_t>(rng() % 10);
            if (op < 6) {
                const auto ca = random_ca();
                const auto m = random_mac();
                const auto pa = ip(pas[rng() % 4]);
                const auto st = s.apply(set_record{lookup_record{vs(v), ca, m, pa, rule::encap, record_type::static_record, ""}});
                // The reference decides the same way: CA unique per domain, one VSID per MAC per host.
                const auto* same_ca = ref.find(ref.domain_of_vsid[v], ca);
                bool mac_conflict = false;
                for (const auto& r : ref.records) {
                    const bool same_host = ref.host_of_pa[r.pa.to_string()] == ref.host_of_pa[pa.to_string()];
                    const bool is_replaced = same_ca != nullptr && &r == same_ca;
                    if (same_host && r.mac == m && r.vsid != v && !is_replaced) mac_conflict = true;
                }
                change_status want = change_status::ok;
                if (same_ca != nullptr && same_ca->vsid != v) want = change_status::duplicate_ca;
                else if (mac_conflict) want = change_status::mac_in_two_subnets;
                REQUIRE(st == want);
                if (st == change_status::ok) {
                    if (same_ca != nullptr) {
                        auto it = std::find_if(ref.records.begin(), ref.records.end(), [&](const auto& r) { return &r == same_ca; });
                        *it = {v, ca, m, pa};
                    } else {
                        ref.records.push_back({v, ca, m, pa});
                    }
                }
            } else if (op < 8) {
                const auto ca = random_ca();
                const auto st = s.apply(remove_record{vs(v), ca});
                auto it = std::find_if(ref.records.begin(), ref.records.end(), [&](const auto& r) { return r.vsid == v && r.ca == ca; });
                REQUIRE((st == change_status::ok) == (it != ref.records.end()));
                if (it != ref.records.end()) ref.records.erase(it);
            } else {
                const unsigned len = 16 + static_cast<unsigned>(rng() % 17);
                const auto prefix = *ip_prefix::containing(random_ca(), len);
                const std::uint32_t metric = 1 + static_cast<std::uint32_t>(rng() % 3);
                const auto d = ids[(v - 5000) / 2];
                const auto di = ref.domain_of_vsid[v];
                if (op == 8) {
                    REQUIRE(s.apply(set_customer_route{customer_route{d, vs(v), prefix, ip("0.0.0.0"), metric}}) == change_status::ok);
                    auto it = std::find_if(ref.routes.begin(), ref.routes.end(),
                                           [&](const auto& r) { return r.domain == di && r.prefix == prefix && r.metric == metric; });
                    if (it != ref.routes.end()) it->vsid = v;
                    else ref.routes.push_back({di, prefix, v, metric});
                } else {
                    const auto st = s.apply(remove_customer_route{d, prefix, metric});
                    auto it = std::find_if(ref.routes.begin(), ref.routes.end(),
                                           [&](const auto& r) { return r.domain == di && r.prefix == prefix && r.metric == metric; });
                    REQUIRE((st == change_status::ok) == (it != ref.routes.end()));
                    if (it != ref.routes.end()) ref.routes.erase(it);
                }
            }

            if (step % 50 != 0) continue;
            // Full comparison: every CA of the pools in every domain, routes, flood lists, ports.
            REQUIRE(s.record_count() == ref.records.size());
            for (std::uint32_t d = 0; d < domains; ++d) {
                for (int x = 0; x < 4; ++x)
                    for (int y = 0; y < 8; ++y) {
                        const auto ca = ip("10.0." + std::to_string(x) + "." + std::to_string(y));
                        const auto* got = s.find_record(d, ca);
                        const auto* want = ref.find(d, ca);
                        REQUIRE((got == nullptr) == (want == nullptr));
                        if (got != nullptr) {
                            CHECK(got->vsid == want->vsid);
                            CHECK(got->mac == want->mac);
                            CHECK(got->pa == want->pa);
                            CHECK(got->local == (ref.host_of_pa[want->pa.to_string()] == "hv0"));
                        }
                        const auto* r = s.route(d, ca);
                        const auto wr = ref.route(d, ca);
                        REQUIRE((r == nullptr) == !wr.has_value());
                        if (r != nullptr) CHECK(r->vsid == *wr);
                    }
            }
            for (std::uint32_t v2 = 5000; v2 < 5006; ++v2) {
                std::set<std::string> want_remote, got_remote, want_local, got_local;
                for (const auto& r : ref.records) {
                    if (r.vsid != v2) continue;
                    if (ref.host_of_pa[r.pa.to_string()] == "hv0") want_local.insert(r.mac.to_string());
                    else want_remote.insert(r.pa.to_string());
                }
                const auto* sub = s.subnet(v2);
                for (const auto& f : sub->remote_pas) got_remote.insert(f.pa.to_string());
                for (const auto& f : sub->local_macs) {
                    got_local.insert(f.mac.to_string());
                    const auto* p = s.port(f.mac);
                    REQUIRE(p != nullptr);
                    CHECK(p->vsid == v2);
                }
                CHECK(got_remote == want_remote);
                CHECK(got_local == want_local);
            }
        }
    }
}

namespace {
// Every per-packet copy the state keeps agrees with the records: the record_ref in each CA
// index slot, the ports' inline sources, the precomputed next hops.
void check_per_packet_copies(const state& s) {
    std::vector<ca_key> keys;
    std::vector<const record_entry*> expect;
    s.for_each_record([&](const record_entry& r, record_id id) {
        if (r.type != record_type::static_record) return;
        const record_ref* ref = s.find_ref(r.domain, r.ca);
        REQUIRE(ref != nullptr);
        CHECK(ref->id == id);
        CHECK(ref->vsid == r.vsid);
        CHECK(ref->provider == r.provider);
        CHECK(ref->mac == r.mac);
        CHECK(ref->rule == r.rule);
        CHECK(ref->local == r.local);
        CHECK(s.provider_at(ref->provider).pa == r.pa);
        keys.push_back(ca_key{r.domain, r.ca});
        expect.push_back(&r);
        if (r.local) {
            const local_port* port = s.port(r.mac);
            REQUIRE(port != nullptr);
            CHECK(port->domain == r.domain);
            // sources = the port's first static records, in order.
            std::size_t k = 0;
            for (const record_id pid : port->records) {
                if (k == local_port::inline_sources) break;
                const record_entry& pr = s.record(pid);
                if (pr.type != record_type::static_record) continue;
                REQUIRE(k < port->source_count);
                CHECK(port->sources[k].id == pid);
                CHECK(port->sources[k].ca == pr.ca);
                CHECK(port->sources[k].provider == pr.provider);
                CHECK(port->sources[k].rule == pr.rule);
                ++k;
            }
            CHECK(port->source_count == k);
        }
    });
    std::vector<const record_ref*> refs(keys.size());
    s.find_refs_batch(keys, refs);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        REQUIRE(refs[i] != nullptr);
        CHECK(&s.record(refs[i]->id) == expect[i]);
    }
    for (const std::uint32_t local : s.local_pa_indices())
        for (std::uint32_t p = 0; p < 5; ++p) {
            const auto nh = s.next_hop_mac(s.provider_at(local), s.provider_at(p).pa);
            const mac_address* cached = s.next_hop_mac_between(local, p);
            CHECK((cached != nullptr) == nh.has_value());
            if (cached != nullptr && nh) CHECK(*cached == *nh);
        }
}
}  // namespace

TEST_CASE("policy/state: index slots, port sources and next hops follow every change") {
    for (const char* host : {"hv1", "hv2", "hv3"}) {
        auto s = state::build(load(red_blue), host).value();
        check_per_packet_copies(s);
        // Not a local PA: the precomputed table has no row (callers ask next_hop_mac).
        for (std::uint32_t p = 0; p < 5; ++p) {
            const bool local = std::find(s.local_pa_indices().begin(), s.local_pa_indices().end(), p) !=
                               s.local_pa_indices().end();
            if (!local) CHECK(s.next_hop_mac_between(p, 0) == nullptr);
        }
        std::mt19937 rng(7);
        const char* pas[] = {"192.168.10.11", "192.168.10.12", "192.168.20.13"};
        const char* cas[] = {"10.0.0.5", "10.0.0.6", "10.0.0.9", "10.0.0.20", "10.0.0.21", "fd00::5", "fd00::30"};
        const char* macs[] = {"00:15:5d:00:00:05", "00:15:5d:00:00:06", "00:15:5d:00:00:30", "00:15:5d:00:00:31"};
        for (int step = 0; step < 2000; ++step) {
            const auto ca = ip(cas[rng() % 7]);
            if (rng() % 4 == 0) {
                (void)s.apply(remove_record{vs(5001), ca});
            } else {
                (void)s.apply(set_record{lookup_record{vs(5001), ca, mac(macs[rng() % 4]), ip(pas[rng() % 3]), rule::encap,
                                                       record_type::static_record, ""}});
            }
            if (step % 50 == 0) check_per_packet_copies(s);
        }
        check_per_packet_copies(s);
    }
}

TEST_CASE("policy/state: the embedder numbers the VM ports; numbers follow ports as records come and go") {
    auto s = state::build(load(red_blue), "hv1").value();
    const auto red = *s.domain_index(red_id());
    const mac_address web = mac("00:15:5d:00:00:05");
    const mac_address newcomer = mac("00:15:5d:00:00:50");

    REQUIRE(s.bind_port(5, web));
    REQUIRE(s.port_by_id(5) != nullptr);
    CHECK(s.port_by_id(5) == s.port(web));
    CHECK(s.port(web)->id == 5);
    CHECK(s.port_id_of(web) == 5);
    CHECK(s.port_by_id(4) == nullptr);
    CHECK(s.port_by_id(123456) == nullptr);
    // The CA index names a local record's port; remote records have none.
    const record_ref* r = s.find_ref(red, ip("10.0.0.5"));
    REQUIRE(r != nullptr);
    REQUIRE(r->port != no_port);
    CHECK(&s.port_at(r->port) == s.port(web));
    CHECK(s.find_record(red, ip("10.0.0.5"))->port == r->port);
    CHECK(s.port_id_at(r->port) == 5);
    CHECK(s.find_ref(red, ip("10.0.0.6"))->port == no_port);
    CHECK(s.port_id_at(no_port) == no_port);
    for (const flood_mac& m : s.subnet(5001)->local_macs) CHECK(s.port_at(m.port).mac == m.mac);

    // Bound before the VM has records here: the port appears with its first record, numbered.
    REQUIRE(s.bind_port(9, newcomer));
    CHECK(s.port_by_id(9) == nullptr);
    CHECK(s.apply(set_record{rec(5001, "10.0.0.50", "00:15:5d:00:00:50", "192.168.10.11")}) == change_status::ok);
    REQUIRE(s.port_by_id(9) != nullptr);
    CHECK(s.port_by_id(9)->mac == newcomer);
    CHECK(&s.port_at(s.find_ref(red, ip("10.0.0.50"))->port) == s.port_by_id(9));
    // Its last record goes (migrated away): the port goes, the number stays bound for its return.
    CHECK(s.apply(remove_record{vs(5001), ip("10.0.0.50")}) == change_status::ok);
    CHECK(s.port_by_id(9) == nullptr);
    CHECK(s.port_id_of(newcomer) == 9);
    CHECK(s.apply(set_record{rec(5001, "10.0.0.50", "00:15:5d:00:00:50", "192.168.10.11")}) == change_status::ok);
    CHECK(s.port_by_id(9) == s.port(newcomer));

    // A number or a MAC bound again replaces the old binding; unbinding forgets it.
    REQUIRE(s.bind_port(9, web));
    CHECK(s.port_by_id(9) == s.port(web));
    CHECK(s.port_by_id(5) == nullptr);
    CHECK(s.port(newcomer)->id == no_port);
    CHECK(s.port_id_of(newcomer) == no_port);
    s.unbind_port(9);
    CHECK(s.port_by_id(9) == nullptr);
    CHECK(s.port(web)->id == no_port);
    CHECK(s.port_bindings().empty());
    REQUIRE(s.bind_port(0, newcomer));
    REQUIRE(s.bind_port(2, web));
    CHECK(s.port_bindings() == std::vector<std::pair<std::uint32_t, mac_address>>{{0, newcomer}, {2, web}});
    const auto refused = s.bind_port(state::max_port_id + 1, web);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == errc::bad_value);
    CHECK(s.port_by_id(2) == s.port(web));
}
