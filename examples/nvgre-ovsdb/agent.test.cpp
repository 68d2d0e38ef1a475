// The agent's handling of updates without a server (agent.hpp, take()): rows to change sets,
// identities that change, two rows naming one identity, refused changes held back and retried,
// the condition the rows call for. Against real servers: tests/interop/ovsdb_agent.py.
#include "agent.hpp"

#include <nvgre/policy/canonical.hpp>

#include <doctest/doctest.h>

#include <functional>
#include <string>

using namespace nvgre::ovsdb;
namespace policy = nvgre::policy;

namespace {

const std::string red = "{11111111-1111-1111-1111-111111111111}";

json update(json tables) { return json{{"method", "update3"}, {"id", nullptr}, {"params", json::array({"nvgre", "00000000-0000-0000-0000-000000000001", std::move(tables)})}}; }

json record(int last, const std::string& pa) {
    return json{{"vsid", 5001}, {"ca", "10.0.0." + std::to_string(last)}, {"mac", "00:15:5d:00:00:0" + std::to_string(last)}, {"pa", pa}};
}

/// hv1 with one VM of red, and hv2's PA for a second.
json first_sync() {
    return update(json{
        {"Provider_Address",
         {{"pa1", {{"initial", {{"host", "hv1"}, {"pa", "192.168.10.11"}, {"prefix_length", 24}, {"mac", "02:00:c0:a8:0a:0b"}}}}},
          {"pa2", {{"initial", {{"host", "hv2"}, {"pa", "192.168.10.12"}, {"prefix_length", 24}, {"mac", "02:00:c0:a8:0a:0c"}}}}}}},
        {"Routing_Domain", {{"rd", {{"initial", {{"rdid", red}}}}}}},
        {"Virtual_Subnet", {{"vs", {{"initial", {{"vsid", 5001}, {"rdid", red}, {"gateway", "10.0.0.1"}}}}}}},
        {"Customer_Route", {{"cr", {{"initial", {{"rdid", red}, {"vsid", 5001}, {"prefix", "10.0.0.0/24"}, {"next_hop", "0.0.0.0"}, {"metric", 256}}}}}}},
        {"Lookup_Record", {{"r5", {{"initial", record(5, "192.168.10.11")}}}, {"r6", {{"initial", record(6, "192.168.10.12")}}}}},
    });
}

struct fixture {
    model_sink sink;
    std::vector<std::string> log;
    agent a{[] {
                agent_options o;
                o.host = "hv1";
                return o;
            }(),
            std::ref(sink), [this](const std::string& l) { log.push_back(l); }};
    std::vector<std::vector<std::string>> applied;
    fixture() {
        a.on_applied([this](const std::vector<std::string>& lines, steady::time_point) { applied.push_back(lines); });
    }
    std::string text() const { return policy::format(sink.current); }
    bool logged(std::string_view what) const {
        return std::any_of(log.begin(), log.end(), [&](const std::string& l) { return l.find(what) != std::string::npos; });
    }
};

}  // namespace

TEST_CASE("the first update becomes one change set; the condition follows the rows") {
    fixture f;
    json m = first_sync();
    f.a.take(m);
    REQUIRE(f.applied.size() == 1);
    CHECK(f.applied[0].size() == 7);
    CHECK(f.text().find("lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.12") != std::string::npos);
    CHECK(f.a.condition().own_pas.empty());  // computed when a server is asked, not by take()
    CHECK(condition_from(row_set{}, "hv1").host == "hv1");
}

TEST_CASE("a modify that changes a row's identity removes the old object and adds the new one") {
    fixture f;
    json m = first_sync();
    f.a.take(m);
    json move = update(json{{"Lookup_Record", {{"r6", {{"modify", {{"ca", "10.0.0.16"}}}}}}}});
    f.a.take(move);
    REQUIRE(f.applied.size() == 2);
    CHECK(f.applied[1] == std::vector<std::string>{"- lookup-record vsid=5001 ca=10.0.0.6",
                                                   "+ lookup-record vsid=5001 ca=10.0.0.16 mac=00:15:5d:00:00:06 pa=192.168.10.12"});
    json gone = update(json{{"Lookup_Record", {{"r6", {{"delete", nullptr}}}}}});
    f.a.take(gone);
    CHECK(f.applied.back() == std::vector<std::string>{"- lookup-record vsid=5001 ca=10.0.0.16"});
}

TEST_CASE("a delete and an insert of one identity in one update is a replacement, not two lines") {
    fixture f;
    json m = first_sync();
    f.a.take(m);
    json swap = update(json{{"Lookup_Record", {{"r6", {{"delete", nullptr}}}, {"r6b", {{"insert", record(6, "192.168.10.11")}}}}}});
    f.a.take(swap);
    CHECK(f.applied.back() == std::vector<std::string>{"+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11"});
}

TEST_CASE("two rows that name one identity are held back until one goes") {
    fixture f;
    json m = first_sync();
    f.a.take(m);
    json twin = record(6, "192.168.10.11");
    twin["mac"] = "00:15:5d:00:00:66";
    json dup = update(json{{"Lookup_Record", {{"twin", {{"insert", twin}}}}}});
    f.a.take(dup);
    CHECK(f.applied.size() == 1);
    CHECK(f.logged("2 rows name this identity"));
    json drop = update(json{{"Lookup_Record", {{"r6", {{"delete", nullptr}}}}}});
    f.a.take(drop);
    CHECK(f.text().find("mac=00:15:5d:00:00:66") != std::string::npos);
}

TEST_CASE("a refused change is held back, the policy stays, and it is retried after a later update") {
    fixture f;
    json m = first_sync();
    f.a.take(m);
    const std::string before = f.text();
    json orphan = update(json{{"Lookup_Record", {{"r9", {{"insert", record(9, "192.168.10.99")}}}}}});
    f.a.take(orphan);
    CHECK(f.text() == before);
    CHECK(f.a.held_back().size() == 1);
    CHECK(f.logged("refused"));
    CHECK(f.a.counters().refused == 1);
    json pa = update(json{{"Provider_Address", {{"pa9", {{"insert", {{"host", "hv9"}, {"pa", "192.168.10.99"}, {"prefix_length", 24}, {"mac", "02:00:00:00:00:99"}}}}}}}});
    f.a.take(pa);
    CHECK(f.a.held_back().empty());
    CHECK(f.text().find("pa=192.168.10.99") != std::string::npos);
}

TEST_CASE("a row the text cannot hold is skipped; its last good value stays") {
    fixture f;
    json m = first_sync();
    f.a.take(m);
    json bad = update(json{{"Lookup_Record", {{"r6", {{"modify", {{"vm", "a b"}}}}}}}});
    f.a.take(bad);
    CHECK(f.a.counters().bad_rows == 1);
    CHECK(f.applied.size() == 1);
    json fixed = update(json{{"Lookup_Record", {{"r6", {{"modify", {{"vm", "db"}}}}}}}});
    f.a.take(fixed);
    CHECK(f.text().find("pa=192.168.10.12 vm=db") != std::string::npos);
}

TEST_CASE("messages that are not table updates are counted and ignored") {
    fixture f;
    for (json m : {json{{"method", "update3"}, {"params", json::array({"nvgre"})}}, json{{"method", "update3"}, {"params", json::array({"n", "t", 5})}},
                   json{{"method", "update3"}, {"params", json::array({"n", "t", {{"Nope", json::object()}}})}},
                   json{{"method", "update3"}, {"params", json::array({"n", "t", {{"Lookup_Record", {{"u", {{"explode", 1}}}}}}})}},
                   json{{"method", "echo"}, {"id", "x"}}, json::array({1, 2})})
        f.a.take(m);
    CHECK(f.a.counters().bad_messages == 4);
    CHECK(f.applied.empty());
    CHECK(f.text().empty());
}
