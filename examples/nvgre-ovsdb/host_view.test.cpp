// Which rows one host receives (host_view.hpp): the fixpoint over a whole store, and the
// conditions that ask a server for the same rows.
#include "host_view.hpp"
#include "store.hpp"

#include <nvgre/policy/canonical.hpp>
#include <nvgre/policy/loader.hpp>

#include <doctest/doctest.h>

using namespace nvgre::ovsdb;
namespace policy = nvgre::policy;

namespace {

// red spans hv1 and hv2; blue lives on hv2 and hv3; green only on hv3; hv4 hosts nothing.
constexpr std::string_view three_tenants = R"(provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b
provider-address host=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c
provider-address host=hv3 pa=192.168.10.13 prefix-length=24 mac=02:00:c0:a8:0a:0d
provider-address host=hv4 pa=192.168.10.14 prefix-length=24 mac=02:00:c0:a8:0a:0e
provider-route host=hv1 prefix=10.9.0.0/16 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:01
provider-route host=hv3 prefix=10.9.0.0/16 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:01
routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red
routing-domain rdid={22222222-2222-2222-2222-222222222222} name=blue
routing-domain rdid={33333333-3333-3333-3333-333333333333} name=green
virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1
virtual-subnet vsid=5002 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.2.1
virtual-subnet vsid=6001 rdid={22222222-2222-2222-2222-222222222222} gateway=10.0.0.1
virtual-subnet vsid=7001 rdid={33333333-3333-3333-3333-333333333333} gateway=10.0.0.1
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5002 prefix=10.0.2.0/24 next-hop=0.0.0.0
customer-route rdid={22222222-2222-2222-2222-222222222222} vsid=6001 prefix=10.0.0.0/24 next-hop=0.0.0.0
customer-route rdid={33333333-3333-3333-3333-333333333333} vsid=7001 prefix=10.0.0.0/24 next-hop=0.0.0.0
port-classification name=capped maximum-bandwidth=10M
port-classification name=unused dhcp-guard=on
lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web
lookup-record vsid=5002 ca=10.0.2.6 mac=00:15:5d:00:00:06 pa=192.168.10.12 vm=red-db classification=capped
lookup-record vsid=6001 ca=10.0.0.5 mac=00:15:5d:00:01:05 pa=192.168.10.12 vm=blue-web
lookup-record vsid=6001 ca=10.0.0.6 mac=00:15:5d:00:01:06 pa=192.168.10.13 vm=blue-db
lookup-record vsid=7001 ca=10.0.0.5 mac=00:15:5d:00:02:05 pa=192.168.10.13 vm=green-web
)";

row_set store_of(std::string_view text) {
    const policy::load_result m = policy::load_policy_text(text, "store");
    REQUIRE(m.validated);
    row_set rows;
    int n = 0;
    for (const policy::object& o : policy::canonical_objects(*m.validated))
        rows[std::string(table_of(policy::kind_of(o)))]["u" + std::to_string(n++)] = row_of_object(o, false);
    return rows;
}

std::string view_text(const row_set& store, std::string_view host) {
    const policy::load_result v = model_of(view_of(store, host), "view");
    REQUIRE_MESSAGE(v.validated, (v.diagnostics.empty() ? std::string() : v.diagnostics.front().to_string()));
    return policy::format(*v.validated);
}

bool has(const std::string& text, std::string_view what) { return text.find(what) != std::string::npos; }

}  // namespace

TEST_CASE("hv1 gets all of red (both subnets, hv2's record and PA), its own routes, nothing of blue or green") {
    const row_set store = store_of(three_tenants);
    const std::string v = view_text(store, "hv1");
    CHECK(has(v, "vsid=5002"));
    CHECK(has(v, "vm=red-db"));
    CHECK(has(v, "host=hv2 pa=192.168.10.12"));        // red-db's PA
    CHECK(has(v, "port-classification name=capped"));  // red-db's classification
    CHECK_FALSE(has(v, "name=unused"));
    CHECK_FALSE(has(v, "blue"));
    CHECK_FALSE(has(v, "green"));
    CHECK_FALSE(has(v, "host=hv3"));                   // neither hv3's PA nor its provider route
    CHECK(has(v, "provider-route host=hv1"));
}

TEST_CASE("hv2 serves red and blue; hv3 blue and green; hv4 only its own PA") {
    const row_set store = store_of(three_tenants);
    const std::string hv2 = view_text(store, "hv2");
    CHECK((has(hv2, "vm=red-web") && has(hv2, "vm=blue-db") && !has(hv2, "green")));
    const std::string hv3 = view_text(store, "hv3");
    CHECK((has(hv3, "vm=blue-web") && has(hv3, "vm=green-web") && !has(hv3, "red")));
    CHECK(view_text(store, "hv4") == "provider-address host=hv4 pa=192.168.10.14 prefix-length=24 mac=02:00:c0:a8:0a:0e\n");
    CHECK(view_text(store, "nobody").empty());
}

TEST_CASE("the conditions sent to the server select what matches() selects") {
    const row_set store = store_of(three_tenants);
    const row_set view = view_of(store, "hv1");
    const host_condition c = condition_from(view, "hv1");
    CHECK(c.own_pas == std::set<std::string>{"192.168.10.11"});
    CHECK(c.hosted_vsids == std::set<std::int64_t>{5001});
    CHECK(c.domain_vsids == std::set<std::int64_t>{5001, 5002});
    const json req = monitor_requests(c);
    // Evaluate the request's clauses here (a disjunction of column == value) and compare.
    for (const auto& table_rows : store)
        for (const auto& entry : table_rows.second) {
            // (no structured bindings: clang 14 cannot capture them in CHECK_MESSAGE's lambda)
            const std::string& table = table_rows.first;
            const json& row = entry.second;
            bool any = false;
            for (const json& clause : req[table][0]["where"]) {
                if (clause == false) continue;
                const auto it = row.find(clause[0].get<std::string>());
                if (it != row.end() && *it == clause[2]) any = true;
            }
            CHECK_MESSAGE(any == matches(c, table, row), table, " ", row.dump());
        }
    // A table with nothing to select asks for no row.
    host_condition empty;
    empty.host = "hv9";
    CHECK(monitor_requests(empty)["Lookup_Record"][0]["where"] == json::array({false}));
}
