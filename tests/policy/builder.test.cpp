#include "nvgre/policy/builder.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace nvgre;
using namespace nvgre::policy;

namespace {

rdid guid(const char* text) { return rdid::parse(text).value(); }
ip_address ip(const char* text) { return ip_address::parse(text).value(); }
ip_prefix prefix(const char* text) { return ip_prefix::parse(text).value(); }
mac_address mac(const char* text) { return mac_address::parse(text).value(); }
nvgre::vsid vs(std::uint32_t v) { return vsid::make(v).value(); }

const rdid red = guid("11111111-1111-1111-1111-111111111111");
const rdid blue = guid("22222222-2222-2222-2222-222222222222");

provider_address pa_of(const char* host, const char* pa, std::uint8_t len = 24, const char* m = "02:00:c0:a8:0a:0b") {
    return provider_address{host, ip(pa), len, mac(m), 0};
}
lookup_record record(std::uint32_t v, const char* ca, const char* m, const char* pa, rule r = rule::encap,
                     record_type t = record_type::static_record) {
    return lookup_record{vs(v), ip(ca), mac(m), ip(pa), r, t, {}};
}
customer_route route(const rdid& d, std::uint32_t v, const char* p, const char* nh = "0.0.0.0", std::uint32_t metric = 256) {
    return customer_route{d, vs(v), prefix(p), ip(nh), metric};
}

/// The red/blue example of docs/policy-format.md, objects tagged with their line numbers there.
builder red_blue() {
    builder b;
    b.add(pa_of("hv1", "192.168.10.11", 24, "02:00:c0:a8:0a:0b"), 1);
    b.add(pa_of("hv2", "192.168.10.12", 24, "02:00:c0:a8:0a:0c"), 2);
    b.add(routing_domain{red, "red", default_router_mac}, 4);
    b.add(virtual_subnet{vs(5001), red, ip("10.0.0.1").v4(), std::nullopt}, 5);
    b.add(route(red, 5001, "10.0.0.0/24"), 6);
    b.add(record(5001, "10.0.0.5", "00:15:5d:00:00:05", "192.168.10.11"), 7);
    b.add(record(5001, "10.0.0.6", "00:15:5d:00:00:06", "192.168.10.12"), 8);
    b.add(routing_domain{blue, "blue", default_router_mac}, 10);
    b.add(virtual_subnet{vs(6001), blue, ip("10.0.0.1").v4(), std::nullopt}, 11);
    b.add(route(blue, 6001, "10.0.0.0/24"), 12);
    b.add(record(6001, "10.0.0.5", "00:15:5d:00:01:05", "192.168.10.11"), 13);
    b.add(record(6001, "10.0.0.6", "00:15:5d:00:01:06", "192.168.10.12"), 14);
    return b;
}

std::vector<std::string> texts(const build_result& r) {
    std::vector<std::string> out;
    for (const auto& d : r.diagnostics) out.push_back(to_string(d));
    return out;
}

/// Builds and expects exactly one diagnostic; returns it.
diagnostic only_diagnostic(const builder& b) {
    const build_result r = b.build();
    CAPTURE(texts(r));
    REQUIRE_FALSE(r);
    REQUIRE(r.diagnostics.size() == 1);
    return r.diagnostics[0];
}

}  // namespace

TEST_CASE("builder: the red/blue example builds into a model with its counts and lookups") {
    const build_result r = red_blue().build();
    CAPTURE(texts(r));
    REQUIRE(r);
    CHECK(r.diagnostics.empty());
    const model& m = *r.validated;
    CHECK(m.counts() == model_counts{2, 2, 0, 2, 2, 2, 4});
    CHECK(m.hosts() == std::vector<std::string>{"hv1", "hv2"});
    REQUIRE(m.find_domain(red) != nullptr);
    CHECK(m.find_domain(red)->name == "red");
    CHECK(m.find_domain(guid("33333333-3333-3333-3333-333333333333")) == nullptr);
    REQUIRE(m.find_subnet(vs(6001)) != nullptr);
    CHECK(m.find_subnet(vs(6001))->domain == blue);
    CHECK(m.find_subnet(vs(7001)) == nullptr);
    REQUIRE(m.domain_of(vs(5001)) != nullptr);
    CHECK(m.domain_of(vs(5001))->name == "red");
    CHECK(m.domain_of(vs(7001)) == nullptr);
    CHECK(m.host_of_pa(ip("192.168.10.12")) == "hv2");
    CHECK(m.host_of_pa(ip("192.168.10.13")).empty());
    REQUIRE(m.find_provider_address(ip("192.168.10.11")) != nullptr);
    CHECK(m.find_provider_address(ip("192.168.10.11"))->subnet() == prefix("192.168.10.0/24"));
    CHECK(m.has_host("hv1"));
    CHECK_FALSE(m.has_host("hv3"));
    CHECK(m.lookup_records()[2].mac == mac("00:15:5d:00:01:05"));

    // A copy answers from its own vectors.
    const model copy = m;
    CHECK(copy.find_domain(blue) == &copy.routing_domains()[1]);
}

TEST_CASE("builder: the empty policy is valid") {
    const build_result r = builder{}.build();
    REQUIRE(r);
    CHECK(r.validated->counts() == model_counts{});
    CHECK(model{}.counts() == model_counts{});
}

TEST_CASE("builder: own values are checked when added") {
    SUBCASE("prefix-length longer than the PA's version") {
        builder b;
        CHECK(b.add(pa_of("hv1", "192.168.10.11", 32)));
        CHECK_FALSE(b.add(pa_of("hv2", "192.168.10.12", 33), 7));
        CHECK(b.add(pa_of("hv3", "2001:db8::1", 128)));
        CHECK_FALSE(b.add(pa_of("hv4", "2001:db8::2", 129), 9));
        const auto r = b.build();
        REQUIRE(r.diagnostics.size() == 2);
        CHECK(r.diagnostics[0].object == object_ref{object_kind::provider_address, 1, 7});
        CHECK(r.diagnostics[0].field == "prefix-length");
        CHECK_FALSE(r.diagnostics[0].cross_object);
        CHECK(r.diagnostics[0].message == "prefix-length 33 is too long for an IPv4 pa (at most 32)");
        CHECK(r.diagnostics[1].message == "prefix-length 129 is too long for an IPv6 pa (at most 128)");
        CHECK(b.value_diagnostics().size() == 2);
    }
    SUBCASE("vlan 0..4094") {
        builder b;
        auto p = pa_of("hv1", "192.168.10.11");
        p.vlan = 4094;
        CHECK(b.add(p));
        p.vlan = 4095;
        p.pa = ip("192.168.10.12");
        CHECK_FALSE(b.add(p, 3));
        const auto d = only_diagnostic(b);
        CHECK(d.field == "vlan");
        CHECK(d.message == "vlan 4095 is outside 0..4094");
    }
    SUBCASE("names") {
        builder b;
        CHECK_FALSE(b.add(pa_of("", "192.168.10.11")));
        CHECK_FALSE(b.add(provider_route{"hv 1", prefix("10.1.0.0/16"), ip("192.168.10.1"), mac("02:00:00:00:00:01"), 0}));
        CHECK(b.add(routing_domain{red, "", default_router_mac}));  // name is optional
        CHECK_FALSE(b.add(routing_domain{blue, "bl\x01ue", default_router_mac}));
        const auto r = b.build();
        CAPTURE(texts(r));
        REQUIRE(r.diagnostics.size() == 4);
        CHECK(r.diagnostics[0].field == "host");
        CHECK(r.diagnostics[0].message == "host '' is not a valid name (letters, digits, '-', '_', '.')");
        CHECK(r.diagnostics[1].message == "host 'hv 1' is not a valid name (letters, digits, '-', '_', '.')");
        CHECK(r.diagnostics[2].message == "host hv 1 has no provider address");
        CHECK(r.diagnostics[3].field == "name");
        CHECK(r.diagnostics[3].message == "name 'bl\\x01ue' is not a valid name (letters, digits, '-', '_', '.')");
    }
    SUBCASE("gateway-wildcard ca must be 0.0.0.0 or ::") {
        builder b;
        b.add(pa_of("hv1", "192.168.10.11"));
        b.add(routing_domain{red, "red", default_router_mac});
        b.add(virtual_subnet{vs(5001), red, std::nullopt, std::nullopt});
        CHECK(b.add(record(5001, "0.0.0.0", "00:15:5d:00:00:01", "192.168.10.11", rule::encap, record_type::gateway_wildcard)));
        CHECK(b.add(record(5001, "::", "00:15:5d:00:00:01", "192.168.10.11", rule::encap, record_type::gateway_wildcard)));
        CHECK_FALSE(b.add(record(5001, "10.0.0.1", "00:15:5d:00:00:01", "192.168.10.11", rule::encap,
                                 record_type::gateway_wildcard), 12));
        const auto d = only_diagnostic(b);
        CHECK(d.object == object_ref{object_kind::lookup_record, 2, 12});
        CHECK(d.field == "ca");
        CHECK(d.message == "a gateway-wildcard record needs ca 0.0.0.0 or ::, not 10.0.0.1");
    }
    SUBCASE("nat: ca and pa of one version; not gateway-wildcard") {
        builder b;
        b.add(pa_of("hv1", "192.168.10.11"));
        b.add(pa_of("hv1", "2001:db8::11", 64));
        b.add(pa_of("hv1", "2001:db8::12", 64));
        b.add(routing_domain{red, "red", default_router_mac});
        b.add(virtual_subnet{vs(5001), red, std::nullopt, std::nullopt});
        CHECK(b.add(record(5001, "10.0.0.5", "00:15:5d:00:00:05", "2001:db8::11")));  // encap: any versions
        CHECK_FALSE(b.add(record(5001, "10.0.0.6", "00:15:5d:00:00:06", "2001:db8::12", rule::nat)));
        CHECK_FALSE(b.add(record(5001, "0.0.0.0", "00:15:5d:00:00:07", "192.168.10.11", rule::nat,
                                 record_type::gateway_wildcard)));
        const auto r = b.build();
        CAPTURE(texts(r));
        REQUIRE(r.diagnostics.size() == 2);
        CHECK(r.diagnostics[0].field == "pa");
        CHECK(r.diagnostics[0].message ==
              "a nat record needs ca and pa of one IP version (ca 10.0.0.6 is IPv4, pa 2001:db8::12 is IPv6)");
        CHECK(r.diagnostics[1].field == "rule");
        CHECK(r.diagnostics[1].message == "a gateway-wildcard record cannot have rule=nat");
    }
    SUBCASE("customer route next-hop of the prefix's version") {
        builder b;
        b.add(routing_domain{red, "red", default_router_mac});
        b.add(virtual_subnet{vs(5001), red, std::nullopt, std::nullopt});
        CHECK(b.add(route(red, 5001, "2001:db8::/64", "::")));
        CHECK_FALSE(b.add(route(red, 5001, "2001:db8:1::/64", "0.0.0.0")));
        const auto d = only_diagnostic(b);
        CHECK(d.field == "next-hop");
        CHECK(d.message == "next-hop 0.0.0.0 is IPv4 but prefix 2001:db8:1::/64 is IPv6");
    }
}

TEST_CASE("builder: duplicates are reported at the later object, with the earlier as related") {
    SUBCASE("routing domain") {
        builder b = red_blue();
        b.add(routing_domain{red, "red-again", default_router_mac}, 20);
        const auto d = only_diagnostic(b);
        CHECK(d.object == object_ref{object_kind::routing_domain, 2, 20});
        CHECK(d.field == "rdid");
        CHECK(d.cross_object);
        REQUIRE(d.related);
        CHECK(*d.related == object_ref{object_kind::routing_domain, 0, 4});
        CHECK(d.message == "routing domain {11111111-1111-1111-1111-111111111111} is already declared");
        CHECK(to_string(d) ==
              "routing-domain #2 (tag 20): rdid: routing domain {11111111-1111-1111-1111-111111111111} is already "
              "declared (see routing-domain #0 (tag 4))");
    }
    SUBCASE("VSID twice in one domain, and in two domains") {
        builder b = red_blue();
        b.add(virtual_subnet{vs(5001), red, std::nullopt, std::nullopt}, 20);
        b.add(virtual_subnet{vs(5001), blue, std::nullopt, std::nullopt}, 21);
        const auto r = b.build();
        REQUIRE(r.diagnostics.size() == 2);
        CHECK(r.diagnostics[0].object.tag == 20);
        CHECK(r.diagnostics[0].field == "vsid");
        CHECK(r.diagnostics[0].message == "virtual subnet 5001 is already declared");
        CHECK(r.diagnostics[1].object.tag == 21);
        CHECK(r.diagnostics[1].message ==
              "virtual subnet 5001 is already declared in routing domain {11111111-1111-1111-1111-111111111111}");
        CHECK(r.diagnostics[1].related->tag == 5);
    }
    SUBCASE("provider address") {
        builder b = red_blue();
        b.add(pa_of("hv3", "192.168.10.11"), 20);
        const auto d = only_diagnostic(b);
        CHECK(d.field == "pa");
        CHECK(d.message == "provider address 192.168.10.11 is already declared (host hv1)");
        CHECK(d.related->tag == 1);
    }
    SUBCASE("provider route: same host, prefix and metric") {
        builder b = red_blue();
        const auto pr = provider_route{"hv1", prefix("10.1.0.0/16"), ip("192.168.10.1"), mac("02:00:00:00:00:01"), 256};
        b.add(pr, 20);
        auto other_metric = pr;
        other_metric.metric = 100;
        b.add(other_metric, 21);  // a backup route: fine
        auto other_host = pr;
        other_host.host = "hv2";
        b.add(other_host, 22);
        b.add(pr, 23);
        const auto d = only_diagnostic(b);
        CHECK(d.object.tag == 23);
        CHECK(d.field == "prefix");
        CHECK(d.message == "host hv1 already has a route to 10.1.0.0/16 with metric 256");
    }
    SUBCASE("customer route: same domain, prefix and metric") {
        builder b = red_blue();
        b.add(route(red, 5001, "10.0.0.0/24", "0.0.0.0", 10), 20);  // other metric: fine
        b.add(route(red, 5001, "10.0.0.0/24"), 21);
        const auto d = only_diagnostic(b);
        CHECK(d.object == object_ref{object_kind::customer_route, 3, 21});
        CHECK(d.message ==
              "routing domain {11111111-1111-1111-1111-111111111111} already has a route to 10.0.0.0/24 with metric 256");
        CHECK(d.related->tag == 6);
    }
}

TEST_CASE("builder: references to undeclared objects") {
    const rdid green = guid("33333333-3333-3333-3333-333333333333");
    SUBCASE("virtual subnet in an undeclared domain") {
        builder b = red_blue();
        b.add(virtual_subnet{vs(7001), green, std::nullopt, std::nullopt}, 20);
        const auto d = only_diagnostic(b);
        CHECK(d.field == "rdid");
        CHECK(d.cross_object);
        CHECK(d.message == "routing domain {33333333-3333-3333-3333-333333333333} is not declared");
    }
    SUBCASE("customer route: undeclared domain, undeclared VSID, VSID of another domain") {
        builder b = red_blue();
        b.add(route(green, 5001, "10.1.0.0/24"), 20);
        b.add(route(red, 7001, "10.1.0.0/24"), 21);
        b.add(route(red, 6001, "10.2.0.0/24"), 22);
        const auto r = b.build();
        CAPTURE(texts(r));
        REQUIRE(r.diagnostics.size() == 3);
        CHECK(r.diagnostics[0].field == "rdid");
        CHECK(r.diagnostics[0].message == "routing domain {33333333-3333-3333-3333-333333333333} is not declared");
        CHECK(r.diagnostics[1].field == "vsid");
        CHECK(r.diagnostics[1].message == "virtual subnet 7001 is not declared");
        CHECK(r.diagnostics[2].field == "vsid");
        CHECK(r.diagnostics[2].message ==
              "virtual subnet 6001 is in routing domain {22222222-2222-2222-2222-222222222222}, not in "
              "{11111111-1111-1111-1111-111111111111}");
        CHECK(r.diagnostics[2].related->tag == 11);
    }
    SUBCASE("lookup record: undeclared VSID and PA") {
        builder b = red_blue();
        b.add(record(7001, "10.0.0.9", "00:15:5d:00:00:09", "192.168.10.99"), 20);
        const auto r = b.build();
        REQUIRE(r.diagnostics.size() == 2);
        CHECK(r.diagnostics[0].field == "vsid");
        CHECK(r.diagnostics[0].message == "virtual subnet 7001 is not declared");
        CHECK(r.diagnostics[1].field == "pa");
        CHECK(r.diagnostics[1].message == "pa 192.168.10.99 is not a declared provider address");
    }
    SUBCASE("provider route of a host without provider address") {
        builder b = red_blue();
        b.add(provider_route{"hv3", prefix("10.1.0.0/16"), ip("192.168.10.1"), mac("02:00:00:00:00:01"), 256}, 20);
        const auto d = only_diagnostic(b);
        CHECK(d.field == "host");
        CHECK(d.message == "host hv3 has no provider address");
    }
    SUBCASE("forward references: the order of adds does not matter") {
        builder b;
        b.add(record(5001, "10.0.0.5", "00:15:5d:00:00:05", "192.168.10.11"));
        b.add(route(red, 5001, "10.0.0.0/24"));
        b.add(virtual_subnet{vs(5001), red, std::nullopt, std::nullopt});
        b.add(routing_domain{red, "red", default_router_mac});
        b.add(pa_of("hv1", "192.168.10.11"));
        const auto r = b.build();
        CAPTURE(texts(r));
        CHECK(r);
    }
    SUBCASE("assumed declarations silence references") {
        builder b;
        b.assume_declared(red);
        b.assume_declared(vs(5001));
        b.assume_declared(ip("192.168.10.11"));
        b.add(virtual_subnet{vs(6001), red, std::nullopt, std::nullopt});
        b.add(route(red, 5001, "10.0.0.0/24"));
        b.add(record(5001, "10.0.0.5", "00:15:5d:00:00:05", "192.168.10.11"));
        b.add(record(5001, "10.0.0.5", "00:15:5d:00:00:05", "192.168.10.11"));  // domain unknown: not checked
        const auto r = b.build();
        CAPTURE(texts(r));
        CHECK(r.diagnostics.empty());
    }
}

TEST_CASE("builder: one CA per routing domain, except the wildcard of gateway-wildcard records") {
    SUBCASE("same CA twice in one VSID") {
        builder b = red_blue();
        b.add(record(5001, "10.0.0.5", "00:15:5d:00:00:09", "192.168.10.12"), 20);
        const auto d = only_diagnostic(b);
        CHECK(d.object == object_ref{object_kind::lookup_record, 4, 20});
        CHECK(d.field == "ca");
        CHECK(d.message == "ca 10.0.0.5 is already used in virtual subnet 5001");
        CHECK(d.related->tag == 7);
    }
    SUBCASE("same CA in two VSIDs of one domain") {
        builder b = red_blue();
        b.add(virtual_subnet{vs(5002), red, std::nullopt, std::nullopt}, 20);
        b.add(record(5002, "10.0.0.6", "00:15:5d:00:02:06", "192.168.10.12"), 21);
        const auto d = only_diagnostic(b);
        CHECK(d.message ==
              "ca 10.0.0.6 is already used in routing domain {11111111-1111-1111-1111-111111111111} (virtual subnet 5001)");
    }
    SUBCASE("same CA in two domains is the point of HNV") {
        CHECK(red_blue().build());
    }
    SUBCASE("gateway-wildcard 0.0.0.0 and :: may repeat; a static 0.0.0.0 may not") {
        builder b = red_blue();
        const auto gw = [](std::uint32_t v, const char* ca, const char* m) {
            return record(v, ca, m, "192.168.10.12", rule::encap, record_type::gateway_wildcard);
        };
        b.add(gw(5001, "0.0.0.0", "00:15:5d:00:00:fe"), 20);
        b.add(gw(5001, "0.0.0.0", "00:15:5d:00:00:fd"), 21);
        b.add(gw(5001, "::", "00:15:5d:00:00:fe"), 22);
        b.add(gw(5001, "::", "00:15:5d:00:00:fd"), 23);
        CHECK(b.build());  // two gateways side by side, each IP version
        SUBCASE("a static record cannot hold 0.0.0.0 (the host state could not find it)") {
            b.add(record(5001, "0.0.0.0", "00:15:5d:00:00:fc", "192.168.10.12"), 24);
            const auto d = only_diagnostic(b);
            CHECK(d.object.tag == 24);
            CHECK(d.field == "ca");
            CHECK_FALSE(d.cross_object);
        }
        SUBCASE("one gateway-wildcard record per NIC, VSID and IP version") {
            b.add(gw(5001, "0.0.0.0", "00:15:5d:00:00:fd"), 24);
            const auto d = only_diagnostic(b);
            CHECK(d.object.tag == 24);
            CHECK(d.related->tag == 21);
            CHECK(d.message == "mac 00:15:5d:00:00:fd already has a gateway-wildcard record for IPv4 in virtual subnet 5001");
        }
    }
}

TEST_CASE("builder: a nat PA belongs to one lookup record") {
    builder b = red_blue();
    b.add(pa_of("hv1", "192.168.20.5"), 20);
    b.add(pa_of("hv1", "2001:db8::5", 64), 21);
    b.add(record(5001, "10.0.0.7", "00:15:5d:00:00:07", "192.168.20.5", rule::nat), 22);
    CHECK(b.build());
    SUBCASE("a later record on the nat PA") {
        b.add(record(5001, "10.0.0.8", "00:15:5d:00:00:08", "192.168.20.5"), 23);
        const auto d = only_diagnostic(b);
        CHECK(d.object.tag == 23);
        CHECK(d.field == "pa");
        CHECK(d.message == "pa 192.168.20.5 is already the pa of a nat record");
        CHECK(d.related->tag == 22);
    }
    SUBCASE("a later nat record on a shared PA") {
        b.add(record(6001, "10.0.0.7", "00:15:5d:00:01:07", "192.168.10.11", rule::nat), 23);
        const auto d = only_diagnostic(b);
        CHECK(d.object.tag == 23);
        CHECK(d.message == "pa 192.168.10.11 of a nat record is already used by another lookup record");
        CHECK(d.related->tag == 7);
    }
    SUBCASE("IPv6 nat") {
        b.add(record(5001, "2001:db8:a::7", "00:15:5d:00:00:07", "2001:db8::5", rule::nat), 23);
        CHECK(b.build());
    }
}

TEST_CASE("builder: one MAC in one VSID per host") {
    SUBCASE("same MAC in two VSIDs on one host") {
        builder b = red_blue();
        b.add(record(6001, "10.0.0.7", "00:15:5d:00:00:05", "192.168.10.11"), 20);
        const auto d = only_diagnostic(b);
        CHECK(d.object.tag == 20);
        CHECK(d.field == "mac");
        CHECK(d.message == "mac 00:15:5d:00:00:05 is already in virtual subnet 5001 on host hv1");
        CHECK(d.related->tag == 7);
    }
    SUBCASE("same MAC in two VSIDs on two hosts, or twice in one VSID") {
        builder b = red_blue();
        b.add(record(6001, "10.0.0.7", "00:15:5d:00:00:05", "192.168.10.12"), 20);  // other host
        b.add(record(5001, "10.0.0.8", "00:15:5d:00:00:05", "192.168.10.11"), 21);  // second CA of the VM
        CHECK(b.build());
    }
    SUBCASE("the host is the owner of the PA, whichever PA of it") {
        builder b = red_blue();
        b.add(pa_of("hv1", "192.168.10.21"), 20);
        b.add(record(6001, "10.0.0.7", "00:15:5d:00:00:05", "192.168.10.21"), 21);
        const auto d = only_diagnostic(b);
        CHECK(d.object.tag == 21);
    }
}

TEST_CASE("builder: IPv6 everywhere") {
    const rdid v6d = guid("66666666-6666-6666-6666-666666666666");
    builder b;
    b.add(pa_of("hv1", "2001:db8:f::11", 64));
    b.add(pa_of("hv2", "2001:db8:f::12", 64));
    b.add(provider_route{"hv1", prefix("2001:db8:e::/48"), ip("2001:db8:f::1"), mac("02:00:00:00:00:01"), 256});
    b.add(routing_domain{v6d, "six", default_router_mac});
    b.add(virtual_subnet{vs(9001), v6d, ip("10.9.0.1").v4(), ip("fd00:9::1").v6()});
    b.add(route(v6d, 9001, "fd00:9::/64", "::"));
    b.add(route(v6d, 9001, "10.9.0.0/24"));
    b.add(record(9001, "fd00:9::5", "00:15:5d:00:09:05", "2001:db8:f::11"));
    b.add(record(9001, "10.9.0.5", "00:15:5d:00:09:05", "2001:db8:f::11"));  // IPv4 CA on an IPv6 PA
    b.add(record(9001, "fd00:9::6", "00:15:5d:00:09:06", "2001:db8:f::12"));
    b.add(record(9001, "::", "00:15:5d:00:09:fe", "2001:db8:f::12", rule::encap, record_type::gateway_wildcard));
    const auto r = b.build();
    CAPTURE(texts(r));
    REQUIRE(r);
    CHECK(r.validated->counts() == model_counts{2, 2, 1, 1, 1, 2, 4});
    CHECK(r.validated->host_of_pa(ip("2001:db8:f::12")) == "hv2");
    CHECK(r.validated->find_subnet(vs(9001))->gateway_v6 == ip("fd00:9::1").v6());
}

TEST_CASE("builder: all problems are reported, in the order the objects were added") {
    builder b = red_blue();
    b.add(record(7001, "10.0.0.9", "00:15:5d:00:00:09", "192.168.10.11"), 30);
    b.add(pa_of("hv9", "192.168.10.11", 40), 31);
    b.add(routing_domain{blue, "blue", default_router_mac}, 32);
    const auto r = b.build();
    CAPTURE(texts(r));
    REQUIRE(r.diagnostics.size() == 4);
    CHECK(r.diagnostics[0].object.tag == 30);
    CHECK(r.diagnostics[1].object.tag == 31);
    CHECK(r.diagnostics[2].object.tag == 31);
    CHECK(r.diagnostics[3].object.tag == 32);
    CHECK_FALSE(r.validated);
}
