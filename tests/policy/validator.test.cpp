// The rules of policy/validator.hpp as the builder and the host state run them: every change
// the state accepts or refuses is what the builder says of the policy the change would leave,
// with the same status; state::build fails as a value, never by leaving a record out.
#include "nvgre/policy/validator.hpp"

#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/state.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

using namespace nvgre;
using namespace nvgre::policy;

namespace {

ip_address ip(std::string_view s) { return *ip_address::parse(s); }
mac_address mac(std::string_view s) { return *mac_address::parse(s); }
ip_prefix prefix(std::string_view s) { return *ip_prefix::parse(s); }
nvgre::vsid vs(std::uint32_t v) { return *nvgre::vsid::make(v); }
rdid guid(std::string_view s) { return *rdid::parse(s); }

const rdid red = guid("11111111-1111-1111-1111-111111111111");
const rdid blue = guid("22222222-2222-2222-2222-222222222222");
const rdid green = guid("33333333-3333-3333-3333-333333333333");  // never declared

/// Three hosts (hv1 with two IPv4 PAs and an IPv6 one), red with subnets 5001 and 5002, blue
/// with 6001. VSID 7001, domain green and PA 192.168.10.99 are never declared.
void add_declarations(builder& b) {
    b.add(provider_address{"hv1", ip("192.168.10.11"), 24, mac("02:00:00:00:00:11"), 0});
    b.add(provider_address{"hv1", ip("192.168.10.21"), 24, mac("02:00:00:00:00:21"), 0});
    b.add(provider_address{"hv1", ip("2001:db8::11"), 64, mac("02:00:00:00:00:11"), 0});
    b.add(provider_address{"hv2", ip("192.168.10.12"), 24, mac("02:00:00:00:00:12"), 0});
    b.add(provider_address{"hv3", ip("192.168.10.13"), 24, mac("02:00:00:00:00:13"), 0});
    b.add(routing_domain{red, "red", default_router_mac});
    b.add(routing_domain{blue, "blue", default_router_mac});
    b.add(virtual_subnet{vs(5001), red, ip("10.0.0.1").v4(), ip("fd00::1").v6()});
    b.add(virtual_subnet{vs(5002), red, ip("10.0.1.1").v4(), std::nullopt});
    b.add(virtual_subnet{vs(6001), blue, ip("10.0.0.1").v4(), std::nullopt});
}

build_result build_of(const std::vector<customer_route>& routes, const std::vector<lookup_record>& records) {
    builder b;
    add_declarations(b);
    for (const auto& r : routes) b.add(r);
    for (const auto& r : records) b.add(r);
    return b.build();
}

/// The first status the builder reports at object (kind, index), or ok.
change_status first_status_at(const build_result& r, object_kind kind, std::size_t index) {
    for (const auto& d : r.diagnostics)
        if (d.object.kind == kind && d.object.index == index) return d.status;
    return change_status::ok;
}

bool same_identity(const lookup_record& a, const lookup_record& b) {
    const bool wa = a.type == record_type::gateway_wildcard && a.ca.is_unspecified();
    const bool wb = b.type == record_type::gateway_wildcard && b.ca.is_unspecified();
    if (a.subnet != b.subnet || wa != wb) return false;
    return wa ? a.ca.version() == b.ca.version() && a.mac == b.mac : a.ca == b.ca;
}
bool same_identity(const customer_route& a, const customer_route& b) {
    return a.domain == b.domain && a.prefix == b.prefix && a.metric == b.metric;
}

/// True if `list` holds an object of `x`'s identity.
template <class T>
bool has_identity(const std::vector<T>& list, const T& x) {
    return std::any_of(list.begin(), list.end(), [&](const T& y) { return same_identity(x, y); });
}
/// `list` without the object of `x`'s identity.
template <class T>
std::vector<T> without(std::vector<T> list, const T& x) {
    list.erase(std::remove_if(list.begin(), list.end(), [&](const T& y) { return same_identity(x, y); }), list.end());
    return list;
}
/// `list` without the object of `x`'s identity, and `x` last (so that the builder reports
/// every conflict of `x` at `x`, the later object).
template <class T>
std::vector<T> with_last(const std::vector<T>& list, const T& x) {
    std::vector<T> out = without(list, x);
    out.push_back(x);
    return out;
}

struct generator {
    std::mt19937 rng;
    template <class T>
    const T& pick(const std::vector<T>& v) {
        return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
    }
    bool chance(double p) { return std::bernoulli_distribution(p)(rng); }

    lookup_record record() {
        lookup_record r{vs(5001), ip("0.0.0.0"), mac("00:00:00:00:00:00"), ip("0.0.0.0"), rule::encap,
                        record_type::static_record, ""};
        r.subnet = vs(chance(0.04) ? 7001 : pick(std::vector<std::uint32_t>{5001, 5001, 5002, 6001}));
        const bool wildcard = chance(0.15);
        r.type = wildcard ? record_type::gateway_wildcard : record_type::static_record;
        if (wildcard) r.ca = chance(0.05) ? ip("10.0.0.2") : ip(chance(0.5) ? "0.0.0.0" : "::");
        else r.ca = chance(0.03) ? ip("0.0.0.0")
                                  : ip(pick(std::vector<const char*>{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5",
                                                                     "10.0.1.2", "fd00::2", "fd00::3"}));
        r.mac = mac(pick(std::vector<const char*>{"00:15:5d:00:00:01", "00:15:5d:00:00:02", "00:15:5d:00:00:03",
                                                  "00:15:5d:00:00:04", "00:15:5d:00:00:05"}));
        r.pa = chance(0.03) ? ip("192.168.10.99")
                            : ip(pick(std::vector<const char*>{"192.168.10.11", "192.168.10.21", "2001:db8::11",
                                                               "192.168.10.12", "192.168.10.13"}));
        r.rule = chance(0.15) ? rule::nat : rule::encap;
        r.vm = chance(0.03) ? "bad name" : chance(0.5) ? "vm-" + std::to_string(rng() % 5) : "";
        return r;
    }
    customer_route route() {
        customer_route r{red, vs(5001), prefix("0.0.0.0/0"), ip("0.0.0.0"), 256};
        r.domain = chance(0.05) ? green : chance(0.7) ? red : blue;
        r.subnet = vs(chance(0.04) ? 7001 : pick(std::vector<std::uint32_t>{5001, 5002, 6001}));
        r.prefix = prefix(pick(std::vector<const char*>{"10.0.0.0/24", "10.0.1.0/24", "fd00::/64", "0.0.0.0/0"}));
        r.next_hop = ip(pick(std::vector<const char*>{"0.0.0.0", "::", "10.0.0.254"}));
        r.metric = pick(std::vector<std::uint32_t>{100, 256});
        return r;
    }
};

/// What a state holds, as comparable values.
std::multiset<std::tuple<std::uint32_t, std::string, std::string, std::string, int, int, std::string>> contents(const state& s) {
    std::multiset<std::tuple<std::uint32_t, std::string, std::string, std::string, int, int, std::string>> out;
    s.for_each_record([&](const record_entry& e, record_id id) {
        out.emplace(e.vsid, e.ca.to_string(), e.mac.to_string(), e.pa.to_string(), static_cast<int>(e.rule),
                    static_cast<int>(e.type), std::string(s.vm_name(id)));
    });
    return out;
}
std::multiset<std::tuple<std::uint32_t, std::string, std::string, std::string, int, int, std::string>> contents(
    const std::vector<lookup_record>& records) {
    std::multiset<std::tuple<std::uint32_t, std::string, std::string, std::string, int, int, std::string>> out;
    for (const auto& r : records)
        out.emplace(r.subnet.value(), r.ca.to_string(), r.mac.to_string(), r.pa.to_string(), static_cast<int>(r.rule),
                    static_cast<int>(r.type), r.vm);
    return out;
}

}  // namespace

TEST_CASE("policy/validator: every change the state takes or refuses is the builder's verdict on its result") {
    const std::uint64_t seed = 0x5eed0013;
    generator g{std::mt19937(static_cast<std::mt19937::result_type>(seed))};
    INFO("seed " << seed);
    std::vector<customer_route> routes;
    std::vector<lookup_record> records;
    state s = state::build(*build_of(routes, records).validated, "hv1").value();
    std::map<change_status, int> seen;  // statuses of refused changes: the run must meet every rule
    // A set change: the state's status must be what the builder says of the policy the change
    // would leave (the object last, so that every conflict of it is reported at it).
    const auto set_and_compare = [&](auto& list, const auto& x, object_kind kind, const change& c, const auto& build) {
        const auto candidate = with_last(list, x);
        const build_result verdict = build(candidate);
        const change_status expected = first_status_at(verdict, kind, candidate.size() - 1);
        // The rest of the candidate is the current, valid policy: only the new object can fail.
        CHECK(verdict.diagnostics.empty() == (expected == change_status::ok));
        const change_status got = s.apply(c);
        CHECK(to_string(got) == to_string(expected));
        ++seen[got];
        if (got == change_status::ok) list = candidate;
    };

    for (int step = 0; step < 3000; ++step) {
        CAPTURE(step);
        const int kind = static_cast<int>(g.rng() % 20);
        if (kind < 12) {
            const lookup_record r = g.record();
            CAPTURE(r.ca.to_string());
            CAPTURE(r.mac.to_string());
            CAPTURE(r.pa.to_string());
            CAPTURE(r.subnet.value());
            set_and_compare(records, r, object_kind::lookup_record, set_record{r},
                            [&](const auto& candidate) { return build_of(routes, candidate); });
        } else if (kind < 15) {
            // Remove a record that is there (usually) or one that may not be.
            lookup_record r = !records.empty() && g.chance(0.8) ? g.pick(records) : g.record();
            const bool present = has_identity(records, r);
            const bool wildcard = r.type == record_type::gateway_wildcard && r.ca.is_unspecified();
            remove_record c{r.subnet, r.ca, wildcard ? std::optional<mac_address>(r.mac) : std::nullopt};
            if (!wildcard && r.ca.is_unspecified()) continue;  // a static 0.0.0.0 names a gateway: not this test's point
            const change_status got = s.apply(c);
            CHECK((got == change_status::ok) == present);
            if (present) records = without(records, r);
        } else if (kind < 19) {
            const customer_route r = g.route();
            set_and_compare(routes, r, object_kind::customer_route, set_customer_route{r},
                            [&](const auto& candidate) { return build_of(candidate, records); });
        } else {
            const customer_route r = !routes.empty() && g.chance(0.8) ? g.pick(routes) : g.route();
            const bool present = has_identity(routes, r);
            const change_status got = s.apply(remove_customer_route{r.domain, r.prefix, r.metric});
            CHECK((got == change_status::ok) == present);
            if (present) routes = without(routes, r);
        }

        if (step % 100 == 99) {
            // The state changed step by step is the state built from what it should hold.
            const build_result now = build_of(routes, records);
            REQUIRE(now);
            const state rebuilt = state::build(*now.validated, "hv1").value();
            CHECK(contents(s) == contents(records));
            CHECK(contents(rebuilt) == contents(records));
            for (const auto& r : records) {
                if (r.type == record_type::gateway_wildcard) {
                    const auto ids = s.gateway_wildcards(r.subnet.value(), r.ca.version());
                    CHECK(std::any_of(ids.begin(), ids.end(), [&](record_id id) { return s.record(id).mac == r.mac; }));
                } else {
                    const record_entry* e = s.find_record_in_subnet(r.subnet.value(), r.ca);
                    REQUIRE(e != nullptr);
                    CHECK(e->pa == r.pa);
                }
            }
            for (const rdid& d : {red, blue})
                for (const char* a : {"10.0.0.7", "10.0.1.7", "fd00::7", "8.8.8.8"}) {
                    const route_entry* x = s.route(*s.domain_index(d), ip(a));
                    const route_entry* y = rebuilt.route(*rebuilt.domain_index(d), ip(a));
                    REQUIRE((x == nullptr) == (y == nullptr));
                    if (x != nullptr) {
                        CHECK(x->vsid == y->vsid);
                        CHECK(x->next_hop == y->next_hop);
                        CHECK(x->metric == y->metric);
                    }
                }
        }
    }
    // Every rule a record or route change can break was met (else the generator is too tame).
    for (const change_status st :
         {change_status::ok, change_status::unknown_vsid, change_status::unknown_domain,
          change_status::subnet_not_in_domain, change_status::unknown_pa, change_status::duplicate_ca,
          change_status::bad_wildcard, change_status::nat_pa_shared, change_status::nat_version_mismatch,
          change_status::mac_in_two_subnets, change_status::wildcard_nat, change_status::bad_name,
          change_status::next_hop_version}) {
        CAPTURE(to_string(st));
        CHECK(seen[st] > 0);
    }
}

TEST_CASE("policy/validator: rules the state used to skip are refused by a change as by a file") {
    builder b;
    add_declarations(b);
    b.add(customer_route{red, vs(5001), prefix("10.0.0.0/24"), ip("0.0.0.0"), 256});
    state s = state::build(*b.build().validated, "hv1").value();
    SUBCASE("a gateway-wildcard record with rule=nat") {
        lookup_record r{vs(5001), ip("0.0.0.0"), mac("00:15:5d:00:00:fe"), ip("192.168.10.12"), rule::nat,
                        record_type::gateway_wildcard, ""};
        CHECK(s.apply(set_record{r}) == change_status::wildcard_nat);
        builder f = b;
        f.add(r);
        REQUIRE(f.build().diagnostics.size() == 1);
        CHECK(f.build().diagnostics[0].status == change_status::wildcard_nat);
    }
    SUBCASE("a vm name that is not a NAME") {
        lookup_record r{vs(5001), ip("10.0.0.5"), mac("00:15:5d:00:00:05"), ip("192.168.10.11"), rule::encap,
                        record_type::static_record, "red web"};
        CHECK(s.apply(set_record{r}) == change_status::bad_name);
        CHECK(s.find_record_in_subnet(5001, ip("10.0.0.5")) == nullptr);
    }
    SUBCASE("a customer route whose next hop is of the other IP version") {
        CHECK(s.apply(set_customer_route{customer_route{red, vs(5001), prefix("fd00::/64"), ip("0.0.0.0"), 256}}) ==
              change_status::next_hop_version);
        CHECK(s.route(*s.domain_index(red), ip("fd00::5")) == nullptr);
    }
    SUBCASE("a second gateway of one NIC replaces the first as a change, and is refused in a file") {
        lookup_record r{vs(5001), ip("0.0.0.0"), mac("00:15:5d:00:00:fe"), ip("192.168.10.12"), rule::encap,
                        record_type::gateway_wildcard, ""};
        CHECK(s.apply(set_record{r}) == change_status::ok);
        r.pa = ip("192.168.10.13");
        CHECK(s.apply(set_record{r}) == change_status::ok);
        REQUIRE(s.gateway_wildcards(5001, ip_version::v4).size() == 1);
        CHECK(s.record(s.gateway_wildcards(5001, ip_version::v4)[0]).pa == ip("192.168.10.13"));
        builder f = b;
        r.pa = ip("192.168.10.12");
        f.add(r);
        r.pa = ip("192.168.10.13");
        f.add(r);
        const auto res = f.build();
        REQUIRE(res.diagnostics.size() == 1);
        CHECK(res.diagnostics[0].status == change_status::duplicate_gateway);
    }
}

TEST_CASE("policy/validator: state::build fails as a value, naming the object and the status") {
    SUBCASE("more hosts than the state can number") {
        builder b;
        for (std::uint32_t h = 0; h <= state::max_hosts; ++h)
            b.add(provider_address{"hv" + std::to_string(h), ip_address(ipv4_address::from_uint(0x0a000000u + h)), 8,
                                   mac("02:00:00:00:00:01"), 0});
        const auto m = b.build();
        REQUIRE(m);
        const auto s = state::build(*m.validated, "hv0");
        CHECK_FALSE(s);
        REQUIRE(s.error);
        CHECK(s.error->status == change_status::too_many_hosts);
        CHECK(to_string(*s.error) == "provider-address #0: too-many-hosts");
    }
    SUBCASE("a valid model indexes whole") {
        builder b;
        add_declarations(b);
        b.add(lookup_record{vs(5001), ip("10.0.0.5"), mac("00:15:5d:00:00:05"), ip("192.168.10.11"), rule::encap,
                            record_type::static_record, "red-web"});
        const auto s = state::build(*b.build().validated, "hv1");
        REQUIRE(s);
        CHECK_FALSE(s.error);
        CHECK(s.value().find_record_in_subnet(5001, ip("10.0.0.5")) != nullptr);
    }
}
