// Rows of nvgre.ovsschema and policy lines, both ways (table_rows.hpp).
#include "table_rows.hpp"

#include <nvgre/policy/canonical.hpp>
#include <nvgre/policy/loader.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace nvgre::ovsdb;
namespace policy = nvgre::policy;

namespace {

// Every kind and every optional key at a value other than its default.
constexpr std::string_view every_key = R"(provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b vlan=7
provider-address host=hv2 pa=fd00:10::12 prefix-length=64 mac=02:00:c0:a8:0a:0c
provider-address host=hv2 pa=192.168.10.21 prefix-length=24 mac=02:00:c0:a8:0a:0c
provider-route host=hv1 prefix=10.9.0.0/16 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:01 metric=10
provider-route host=hv1 prefix=10.8.0.0/16 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:01
routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red router-mac=02:00:00:00:00:09
virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1,fd00::1 dhcp=on dns=10.0.0.53,9.9.9.9 lease-seconds=3600
virtual-subnet vsid=5003 rdid={11111111-1111-1111-1111-111111111111}
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.7.0.0/16 next-hop=10.0.0.9 metric=5
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=fd00::/64 next-hop=::
port-classification name=capped allow-mac-spoofing=on dhcp-guard=on router-guard=on maximum-bandwidth=100M maximum-burst=3000 outer-dscp=0
lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web classification=capped
lookup-record vsid=5003 ca=10.0.3.9 mac=00:15:5d:00:00:09 pa=192.168.10.21 rule=nat
lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:0a pa=fd00:10::12 type=gateway-wildcard
)";

}  // namespace

TEST_CASE("every object goes to a row and back to the same canonical line") {
    const policy::load_result m = policy::load_policy_text(every_key, "every_key");
    REQUIRE(m.validated);
    std::string back;
    for (const policy::object& o : policy::canonical_objects(*m.validated)) {
        const json row = row_of_object(o, false);
        std::string error;
        const auto line = line_of_row(policy::kind_of(o), row, error);
        REQUIRE_MESSAGE(line, error);
        back += *line + "\n";
    }
    const policy::load_result again = policy::load_policy_text(back, "back");
    REQUIRE(again.validated);
    CHECK(policy::format(*again.validated) == policy::format(*m.validated));
}

TEST_CASE("row columns: integers, booleans, sets of one, sets of several") {
    const policy::load_result m = policy::load_policy_text(every_key, "every_key");
    REQUIRE(m.validated);
    const auto objects = policy::canonical_objects(*m.validated);
    for (const policy::object& o : objects) {
        const json row = row_of_object(o, false);
        if (policy::kind_of(o) == policy::object_kind::virtual_subnet && row.value("vsid", 0) == 5001) {
            CHECK(row["dhcp"] == true);
            CHECK(row["gateway"] == json::array({"set", json::array({"10.0.0.1", "fd00::1"})}));
            CHECK(row["lease_seconds"] == 3600);
        }
        if (policy::kind_of(o) == policy::object_kind::port_classification) {
            CHECK(row["maximum_bandwidth"] == 100'000'000);  // 100M in bit/s
            CHECK(row["outer_dscp"] == 0);                    // 0 is a DSCP, not "copied"
        }
        if (policy::kind_of(o) == policy::object_kind::provider_route) CHECK(row.contains("metric"));  // 256 when the text leaves it out
    }
    // An update names every optional column, so one left at its default is cleared in the store.
    const json update = row_of_object(objects.front(), true);
    CHECK(update["vlan"] == 7);
    const json other = row_of_object(objects[1], true);
    CHECK(other["vlan"] == json::array({"set", json::array()}));
}

TEST_CASE("a row with a value the text cannot hold is refused, not spliced into a line") {
    std::string error;
    json row = {{"name", "a b"}, {"dhcp_guard", true}};  // a blank would start another key
    CHECK_FALSE(line_of_row(policy::object_kind::port_classification, row, error));
    CHECK(error.find("Port_Classification.name") != std::string::npos);
    for (const char* bad : {"x#y", "x\ny", "", "caf\xc3\xa9"}) {
        row["name"] = bad;
        CHECK_FALSE(line_of_row(policy::object_kind::port_classification, row, error));
    }
    row = {{"vsid", -1}, {"ca", "10.0.0.5"}, {"mac", "00:15:5d:00:00:05"}, {"pa", "1.1.1.1"}};
    CHECK_FALSE(line_of_row(policy::object_kind::lookup_record, row, error));
    row["vsid"] = json::array({"uuid", "x"});
    CHECK_FALSE(line_of_row(policy::object_kind::lookup_record, row, error));
    row["vsid"] = 5001;
    row["vm"] = json::array({"set", json::array({"a", "b"})});  // an optional key holds one value
    CHECK_FALSE(line_of_row(policy::object_kind::lookup_record, row, error));
    row["vm"] = json::array({"set", json::array()});
    const auto line = line_of_row(policy::object_kind::lookup_record, row, error);
    REQUIRE(line);
    CHECK(*line == "lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=1.1.1.1");
    // Schema-valid but not policy: the line is made, and the loader refuses it.
    row["mac"] = "zz";
    const auto bad_mac = line_of_row(policy::object_kind::lookup_record, row, error);
    REQUIRE(bad_mac);
    CHECK_FALSE(policy::load_policy_text(*bad_mac, "row").validated);
}

TEST_CASE("identity where-clauses: a static record by (vsid, ca), a wildcard with its mac too") {
    const policy::load_result m = policy::load_policy_text(every_key, "every_key");
    REQUIRE(m.validated);
    for (const policy::object& o : policy::canonical_objects(*m.validated)) {
        if (policy::kind_of(o) != policy::object_kind::lookup_record) continue;
        const auto& r = std::get<policy::lookup_record>(o);
        const json where = identity_where(o);
        CHECK(where.size() == (r.ca.is_unspecified() ? 3u : 2u));
        CHECK(where[0][0] == "vsid");
    }
}

TEST_CASE("update2 modify: sets of several values take the difference, others the new value") {
    json row = {{"vsid", 5001}, {"rdid", "{11111111-1111-1111-1111-111111111111}"}, {"gateway", json::array({"set", json::array({"10.0.0.1"})})}};
    apply_modify(policy::object_kind::virtual_subnet, row, {{"gateway", json::array({"set", json::array({"10.0.0.1", "fd00::1"})})}, {"lease_seconds", 60}});
    CHECK(row["gateway"] == json::array({"set", json::array({"fd00::1"})}));
    CHECK(row["lease_seconds"] == 60);
    apply_modify(policy::object_kind::virtual_subnet, row, {{"dns", "9.9.9.9"}});  // one element as a bare atom
    CHECK(row["dns"] == json::array({"set", json::array({"9.9.9.9"})}));
    apply_modify(policy::object_kind::virtual_subnet, row, {{"lease_seconds", json::array({"set", json::array()})}});
    std::string error;
    const auto line = line_of_row(policy::object_kind::virtual_subnet, row, error);
    REQUIRE(line);
    CHECK(*line == "virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=fd00::1 dns=9.9.9.9");
}
