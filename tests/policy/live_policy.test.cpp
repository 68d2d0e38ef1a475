#include "nvgre/policy/live_policy.hpp"

#include "nvgre/policy/change_set.hpp"
#include "nvgre/policy/loader.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace nvgre;
using namespace nvgre::policy;

namespace {

constexpr std::string_view two_hosts = R"(
provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b
provider-address host=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c
routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red
virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/16 next-hop=0.0.0.0
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=fd00::/64 next-hop=::
)";

model load(std::string_view text) {
    auto r = load_policy_text(text, "test.policy");
    REQUIRE(r);
    return *r.validated;
}
ip_address ip(const std::string& s) { return *ip_address::parse(s); }
mac_address mac(const std::string& s) { return *mac_address::parse(s); }
nvgre::vsid vs(std::uint32_t v) { return *nvgre::vsid::make(v); }

/// VM `i`: one IPv4 and one IPv6 CA, one MAC, on hv1 or hv2.
std::vector<change> place_vm(int i, bool on_hv2) {
    const std::string pa = on_hv2 ? "192.168.10.12" : "192.168.10.11";
    const mac_address m{{0x00, 0x15, 0x5d, 0x00, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}};
    return {set_record{lookup_record{vs(5001), ip("10.0." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 2)), m,
                                     ip(pa), rule::encap, record_type::static_record, ""}},
            set_record{lookup_record{vs(5001), ip("fd00::" + std::to_string(i + 2)), m, ip(pa), rule::encap,
                                     record_type::static_record, ""}}};
}

}  // namespace

TEST_CASE("policy/live_policy: batches report per-change status and apply atomically") {
    live_policy live(state::build(load(two_hosts), "hv1").value());
    auto r = live.make_reader();
    std::vector<change> batch = place_vm(1, false);
    batch.push_back(remove_record{vs(5001), ip("10.0.9.9")});  // not there: refused, skipped
    std::vector<change_status> status(batch.size());
    CHECK(live.apply(batch, status) == 2);
    CHECK(status[0] == change_status::ok);
    CHECK(status[1] == change_status::ok);
    CHECK(status[2] == change_status::not_found);
    {
        auto g = r.read();
        CHECK(g->record_count() == 2);
        CHECK(g->port(mac_address{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x01}}) != nullptr);
    }
    CHECK(live.apply(remove_record{vs(5001), ip("10.0.0.3")}) == change_status::ok);
    CHECK(live.inspect([](const state& s) { return s.record_count(); }) == 1);

    // A whole new policy: the records go, the host changes.
    CHECK_FALSE(live.replace(load(two_hosts), "hv2"));
    auto g = r.read();
    CHECK(g->record_count() == 0);
    CHECK(g->host() == "hv2");
}

TEST_SUITE("concurrency") {
TEST_CASE("policy/live_policy: readers never see a VM half-migrated while a writer moves VMs") {
    constexpr int vms = 64;
    live_policy live(state::build(load(two_hosts), "hv1").value());
    {
        std::vector<change> all;
        for (int i = 0; i < vms; ++i)
            for (auto& c : place_vm(i, false)) all.push_back(c);
        REQUIRE(live.apply(all) == all.size());
    }
    const std::uint32_t red = live.inspect([](const state& s) { return *s.domain_index(*rdid::parse("11111111-1111-1111-1111-111111111111")); });

    std::atomic<bool> stop{false};
    std::atomic<long> torn{0}, reads{0};
    auto reader_loop = [&](int seed) {
        auto r = live.make_reader();
        int i = seed;
        while (!stop.load(std::memory_order_relaxed)) {
            auto g = r.read();  // one "burst": several lookups under one guard
            for (int k = 0; k < 8; ++k, i = (i * 7 + 3) % vms) {
                const auto* v4 = g->find_record(red, ip("10.0." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 2)));
                const auto* v6 = g->find_record(red, ip("fd00::" + std::to_string(i + 2)));
                // Both CAs of a VM move in one batch: a reader sees both old or both new.
                if (v4 == nullptr || v6 == nullptr || v4->pa != v6->pa || v4->local != v6->local) torn.fetch_add(1);
                const auto* sub = g->subnet(5001);
                // Flood list and ports agree with the records in the same snapshot.
                const bool any_remote = !sub->remote_pas.empty();
                const bool any_local = !sub->local_macs.empty();
                if (!any_remote && !any_local) torn.fetch_add(1);
            }
            reads.fetch_add(1, std::memory_order_relaxed);
        }
    };
    std::thread a(reader_loop, 1), b(reader_loop, 5);

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    int batches = 0;
    for (int round = 0; round < 400 && std::chrono::steady_clock::now() < deadline; ++round) {
        std::vector<change> batch;
        for (int i = round % 8; i < vms; i += 8)
            for (auto& c : place_vm(i, round % 2 == 0)) batch.push_back(c);
        REQUIRE(live.apply(batch) == batch.size());
        ++batches;
    }
    stop = true;
    a.join();
    b.join();
    CHECK(torn.load() == 0);
    CHECK(batches > 10);
    MESSAGE("batches applied: " << batches << ", reader bursts: " << reads.load());
}

TEST_CASE("policy/live_policy: whole-policy replacement while readers run") {
    const auto small = load(two_hosts);
    std::string bigger_text(two_hosts);
    for (int i = 0; i < 50; ++i)
        bigger_text += "lookup-record vsid=5001 ca=10.0.1." + std::to_string(i + 1) + " mac=00:15:5d:00:02:" +
                       (i < 16 ? "0" : "") + [&] { char b[3]; std::snprintf(b, 3, "%x", i); return std::string(b); }() +
                       " pa=192.168.10.12\n";
    const auto bigger = load(bigger_text);
    live_policy live(state::build(small, "hv1").value());
    std::atomic<bool> stop{false};
    std::atomic<long> bad{0};
    std::thread reader([&] {
        auto r = live.make_reader();
        while (!stop.load(std::memory_order_relaxed)) {
            auto g = r.read();
            const auto n = g->record_count();
            const auto* sub = g->subnet(5001);
            // Either the small policy (no records) or the bigger one (50, all behind hv2).
            const bool ok = (n == 0 && sub->remote_pas.empty()) ||
                            (n == 50 && sub->remote_pas.size() == 1 && sub->remote_pas[0].records == 50);
            if (!ok) bad.fetch_add(1);
        }
    });
    int refused = 0;
    for (int i = 0; i < 60; ++i) refused += live.replace(i % 2 == 0 ? bigger : small, "hv1").has_value() ? 1 : 0;
    CHECK(refused == 0);
    stop = true;
    reader.join();
    CHECK(bad.load() == 0);
}
}

TEST_CASE("policy/live_policy: port numbers reach readers and survive a whole-policy replacement") {
    const mac_address m{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x07}};
    live_policy live(state::build(load(two_hosts), "hv1").value());
    auto reader = live.make_reader();
    REQUIRE(live.bind_port(3, m));
    CHECK_FALSE(live.bind_port(state::max_port_id + 1, m));
    for (const change& c : place_vm(7, false)) REQUIRE(live.apply(c) == change_status::ok);
    {
        auto g = reader.read();
        REQUIRE(g->port_by_id(3) != nullptr);
        CHECK(g->port_by_id(3)->mac == m);
    }
    // A new policy with the VM in it: still port 3.
    model next = load(two_hosts);
    REQUIRE_FALSE(live.replace(next, "hv1"));
    CHECK(reader.read()->port_by_id(3) == nullptr);  // no records of the VM yet
    for (const change& c : place_vm(7, false)) REQUIRE(live.apply(c) == change_status::ok);
    CHECK(reader.read()->port_by_id(3) != nullptr);
    live.unbind_port(3);
    CHECK(reader.read()->port_by_id(3) == nullptr);
    CHECK(reader.read()->port(m) != nullptr);
}

namespace {

/// two_hosts with red-web on hv1 and red-db on hv2.
constexpr std::string_view with_vms = R"(
lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web
lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.12 vm=red-db
lookup-record vsid=5001 ca=fd00::6 mac=00:15:5d:00:00:06 pa=192.168.10.12 vm=red-db
)";
model vms_model() { return load(std::string(two_hosts) + std::string(with_vms)); }

/// Every lookup record and customer route of `m` is what state `s` holds for it, and `s`
/// holds no other record: the differential between applying change sets record by record and
/// building the state from the resulting model.
void same_as_built(const state& s, const model& m) {
    const state built = state::build(m, s.host()).value();
    CHECK(s.record_count() == built.record_count());
    for (const lookup_record& r : m.lookup_records()) {
        if (r.ca.is_unspecified()) continue;
        const record_entry* a = s.find_record_in_subnet(r.subnet.value(), r.ca);
        const record_entry* b = built.find_record_in_subnet(r.subnet.value(), r.ca);
        REQUIRE(a != nullptr);
        REQUIRE(b != nullptr);
        CHECK(a->pa == b->pa);
        CHECK(a->mac == b->mac);
        CHECK(a->local == b->local);
        CHECK(a->rule == b->rule);
        if (a->local) {  // the port and its classification's settings
            REQUIRE(s.port(r.mac) != nullptr);
            REQUIRE(built.port(r.mac) != nullptr);
            CHECK(s.port(r.mac)->settings == built.port(r.mac)->settings);
        }
    }
    for (const customer_route& c : m.customer_routes()) {
        const auto d = s.domain_index(c.domain);
        REQUIRE(d);
        const route_entry* a = s.route(*d, c.prefix.address());
        const route_entry* b = built.route(*built.domain_index(c.domain), c.prefix.address());
        REQUIRE(a != nullptr);
        REQUIRE(b != nullptr);
        CHECK(a->vsid == b->vsid);
        CHECK(a->next_hop == b->next_hop);
        CHECK(a->metric == b->metric);
    }
}

}  // namespace

TEST_CASE("policy/live_policy: change sets: generations, all or nothing, every error") {
    live_policy live(vms_model(), state::build(vms_model(), "hv1").value());
    auto reader = live.make_reader();
    CHECK(live.generation() == 1);
    CHECK(reader.read()->generation() == 1);
    const std::string before = format(*live.current_model());

    // A bad change set: every error, nothing changed, same generation.
    const auto bad = live.apply_change_set("+ lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.11\n"
                                           "- lookup-record vsid=5001 ca=10.0.0.99\n"
                                           "+ lookup-record vsid=5001 ca=10.0.0.8 mac=00:15:5d:00:00:08 pa=192.168.10.99\n"
                                           "- virtual-subnet vsid=5001\n",
                                           "bad.cs");
    CHECK_FALSE(bad);
    CHECK(bad.generation == 1);
    REQUIRE(bad.diagnostics.size() == 3);
    CHECK(bad.diagnostics[0].to_string() == "bad.cs:2:3: error: cannot remove lookup-record vsid=5001 ca=10.0.0.99: the policy has no such object");
    CHECK(bad.diagnostics[1].line == 3);
    CHECK(bad.diagnostics[1].to_string().find("pa") != std::string::npos);
    CHECK(bad.diagnostics[2].line == 4);
    CHECK(bad.diagnostics[2].message.find("still used") != std::string::npos);
    CHECK(format(*live.current_model()) == before);
    CHECK(reader.read()->find_record_in_subnet(5001, ip("10.0.0.7")) == nullptr);
    CHECK(live.generation() == 1);

    // A good one: the next generation, records applied one by one.
    const auto good = live.apply_change_set("+ lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.11\n"
                                            "- lookup-record vsid=5001 ca=fd00::6\n",
                                            "good.cs");
    REQUIRE(good);
    CHECK(good.generation == 2);
    CHECK_FALSE(good.rebuilt);
    CHECK(reader.read()->generation() == 2);
    CHECK(reader.read()->find_record_in_subnet(5001, ip("10.0.0.7")) != nullptr);
    CHECK(reader.read()->find_record_in_subnet(5001, ip("fd00::6")) == nullptr);
    same_as_built(*reader.read(), *live.current_model());

    // Every kind changes at run time: a new domain, subnet, PA and routes rebuild the state.
    REQUIRE(live.bind_port(4, mac_address{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x05}}));
    const auto structural = live.apply_change_set(
        "+ provider-address host=hv3 pa=192.168.20.13 prefix-length=24 mac=02:00:c0:a8:14:0d\n"
        "+ provider-route host=hv1 prefix=192.168.20.0/24 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:fe\n"
        "+ routing-domain rdid={22222222-2222-2222-2222-222222222222} name=blue\n"
        "+ virtual-subnet vsid=6001 rdid={22222222-2222-2222-2222-222222222222} gateway=10.0.0.1\n"
        "+ customer-route rdid={22222222-2222-2222-2222-222222222222} vsid=6001 prefix=10.0.0.0/24 next-hop=0.0.0.0\n"
        "+ lookup-record vsid=6001 ca=10.0.0.5 mac=00:15:5d:00:01:05 pa=192.168.20.13\n",
        "grow.cs");
    REQUIRE(structural);
    CHECK(structural.rebuilt);
    CHECK(structural.generation == 3);
    {
        auto g = reader.read();
        CHECK(g->generation() == 3);
        CHECK(g->find_record_in_subnet(6001, ip("10.0.0.5")) != nullptr);
        CHECK(g->provider(ip("192.168.20.13")) != nullptr);
        REQUIRE(g->port_by_id(4) != nullptr);  // the port binding survived the rebuild
        same_as_built(*g, *live.current_model());
    }
    // ... and goes away again.
    const auto shrink = live.apply_change_set(
        "- lookup-record vsid=6001 ca=10.0.0.5\n"
        "- customer-route rdid={22222222-2222-2222-2222-222222222222} vsid=6001 prefix=10.0.0.0/24\n"
        "- virtual-subnet vsid=6001\n"
        "- routing-domain rdid={22222222-2222-2222-2222-222222222222}\n"
        "- provider-route host=hv1 prefix=192.168.20.0/24\n"
        "- provider-address host=hv3 pa=192.168.20.13\n",
        "shrink.cs");
    REQUIRE(shrink);
    CHECK(shrink.generation == 4);
    CHECK(reader.read()->subnet(6001) == nullptr);
    CHECK(format(*live.current_model()) == format(*apply_change_set_text(vms_model(), "+ lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.11\n- lookup-record vsid=5001 ca=fd00::6\n", "x").validated));
}

TEST_CASE("policy/live_policy: record-by-record change sets give what the whole validation gives (random, valid and invalid)") {
    // The fast path (the state's rules, change by change, undone when one is refused) against
    // the reference: apply_change_set on the model, validated whole.
    std::mt19937 rng(1604);
    live_policy live(vms_model(), state::build(vms_model(), "hv2").value());
    auto reader = live.make_reader();
    std::uint64_t generation = 1;
    model reference = vms_model();
    int refused = 0;
    for (int round = 0; round < 80; ++round) {
        // A few VMs come, go and move; a route comes and goes; now and then a bad line.
        const model& current = reference;
        std::string cs;
        std::set<int> named;
        for (int k = 0; k < 4; ++k) {
            const int vm = static_cast<int>(rng() % 12) + 10;
            if (!named.insert(vm).second) continue;
            const std::string ca = "10.0.1." + std::to_string(vm);
            const auto& records = current.lookup_records();
            const bool present =
                std::any_of(records.begin(), records.end(), [&](const lookup_record& r) { return r.ca == ip(ca); });
            if (present && rng() % 3 == 0) {
                cs += "- lookup-record vsid=5001 ca=" + ca + "\n";
            } else {
                char m[32];
                std::snprintf(m, sizeof m, "00:15:5d:00:02:%02x", vm);
                cs += "+ lookup-record vsid=5001 ca=" + ca + " mac=" + m + " pa=192.168.10." + (rng() % 2 ? "11" : "12") + "\n";
            }
        }
        const bool route_present = current.customer_routes().size() > 2;
        cs += std::string(route_present ? "- " : "+ ") +
              "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.9.0.0/16" +
              (route_present ? "\n" : " next-hop=10.0.0.5\n");
        switch (rng() % 8) {
            case 0: cs += "- lookup-record vsid=5001 ca=10.0.9.9\n"; break;                                      // not there
            case 1: cs += "+ lookup-record vsid=5001 ca=10.0.9.9 mac=00:15:5d:00:09:09 pa=192.168.10.99\n"; break;  // no such PA
            case 2: cs += "+ lookup-record vsid=5001 ca=10.0.9.8 mac=00:15:5d:00:00:05 pa=192.168.10.12\n"; break;  // red-web's MAC on another host
            default: break;
        }
        const load_result expected = apply_change_set_text(reference, cs, "round.cs");
        const auto r = live.apply_change_set(cs, "round.cs");
        CHECK_MESSAGE(static_cast<bool>(r) == static_cast<bool>(expected), cs);
        if (!expected) {
            ++refused;
            CHECK(r.diagnostics == expected.diagnostics);  // every error, as the whole validation reports them
            CHECK(r.generation == generation);
        } else {
            reference = *expected.validated;
            CHECK(r.generation == ++generation);
        }
        same_as_built(*reader.read(), reference);
        if (round % 10 == 9) CHECK(format(*live.current_model()) == format(reference));
    }
    CHECK(refused > 5);
    CHECK(format(*live.current_model()) == format(reference));
}

TEST_SUITE("concurrency") {
TEST_CASE("policy/live_policy: readers never see half a change set, and generations only grow") {
    live_policy live(vms_model(), state::build(vms_model(), "hv1").value());
    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> torn{0}, reads{0}, backwards{0};
    std::thread reader_thread([&] {
        auto reader = live.make_reader();
        std::uint64_t last = 0;
        while (!done.load(std::memory_order_relaxed)) {
            auto g = reader.read();
            const record_entry* v4 = g->find_record_in_subnet(5001, ip("10.0.0.6"));
            const record_entry* v6 = g->find_record_in_subnet(5001, ip("fd00::6"));
            if (v4 == nullptr || v6 == nullptr || v4->pa != v6->pa) ++torn;
            if (g->generation() < last) ++backwards;
            last = g->generation();
            ++reads;
        }
    });
    for (int i = 0; i < 200; ++i) {
        const std::string pa = i % 2 == 0 ? "192.168.10.11" : "192.168.10.12";
        const auto r = live.apply_change_set("+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=" + pa + " vm=red-db\n" +
                                                 "+ lookup-record vsid=5001 ca=fd00::6 mac=00:15:5d:00:00:06 pa=" + pa + " vm=red-db\n",
                                             "move.cs");
        REQUIRE(r);
        CHECK(r.migrations == 2);
    }
    done = true;
    reader_thread.join();
    CHECK(reads.load() > 0);
    CHECK(torn.load() == 0);
    CHECK(backwards.load() == 0);
    CHECK(live.generation() == 201);
}
}  // TEST_SUITE("concurrency")

TEST_CASE("policy/live_policy: grace windows open on the hosts a VM moves between, and close") {
    const std::string move = "+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db\n";
    const auto t0 = live_policy::clock::now();
    for (const char* host : {"hv1", "hv2"}) {
        live_policy live(vms_model(), state::build(vms_model(), host).value());
        auto reader = live.make_reader();
        const auto r = live.apply_change_set(move, "move.cs", t0);
        REQUIRE(r);
        CHECK(r.migrations == 1);
        {
            auto g = reader.read();
            const record_entry* rec = g->find_record_in_subnet(5001, ip("10.0.0.6"));
            REQUIRE(rec != nullptr);
            const auto* m = g->moved(g->id_of(*rec));
            REQUIRE(m != nullptr);
            CHECK(g->provider_at(m->previous).pa == ip("192.168.10.12"));
        }
        CHECK(live.end_grace_windows(t0 + live_policy::default_grace_window / 2) == 1);
        CHECK(reader.read()->any_moved());
        CHECK(live.end_grace_windows(t0 + live_policy::default_grace_window) == 0);
        CHECK_FALSE(reader.read()->any_moved());
    }
    // A record that changes its MAC is a new VM, not a migration; a window of 0 opens nothing.
    live_policy live(vms_model(), state::build(vms_model(), "hv2").value());
    CHECK(live.apply_change_set("+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:66 pa=192.168.10.11\n", "new.cs").migrations == 0);
    live.set_grace_window(std::chrono::milliseconds(0));
    const auto r = live.apply_change_set("+ lookup-record vsid=5001 ca=fd00::6 mac=00:15:5d:00:00:06 pa=192.168.10.11\n", "m.cs");
    CHECK(r.migrations == 1);
    CHECK_FALSE(live.make_reader().read()->any_moved());
    // A live policy made without its model takes no change sets.
    live_policy bare(state::build(vms_model(), "hv2").value());
    const auto refused = bare.apply_change_set(move, "move.cs");
    CHECK_FALSE(refused);
    CHECK(refused.generation == 1);
}

TEST_CASE("policy/live_policy: change sets that touch port classifications rebuild; others stay record by record") {
    live_policy live(vms_model(), state::build(vms_model(), "hv1").value());
    auto reader = live.make_reader();
    const mac_address vm7 = mac("00:15:5d:00:00:07");
    const auto added = live.apply_change_set("+ port-classification name=capped maximum-bandwidth=20M outer-dscp=46 dhcp-guard=on\n"
                                             "+ lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.11 classification=capped\n",
                                             "c1.cs");
    REQUIRE(added);
    CHECK(added.rebuilt);
    REQUIRE(reader.read()->port(vm7) != nullptr);
    const port_settings got = reader.read()->port(vm7)->settings;
    CHECK(got.dhcp_guard);
    CHECK_FALSE(got.router_guard);
    CHECK_FALSE(got.allow_mac_spoofing);
    CHECK(got.outer_dscp == 46);
    CHECK(got.rate_bps == 20'000'000);
    CHECK(got.burst_bytes == 312'500);
    CHECK(got.burst_ns == 125'000'000);  // 1/8 s
    same_as_built(*reader.read(), *live.current_model());

    // A second CA of the classified NIC: it touches a classified NIC, so it is rebuilt (and must name it too).
    const auto unnamed = live.apply_change_set("+ lookup-record vsid=5001 ca=10.0.0.8 mac=00:15:5d:00:00:07 pa=192.168.10.11\n", "c2.cs");
    CHECK_FALSE(unnamed);
    const auto named = live.apply_change_set(
        "+ lookup-record vsid=5001 ca=10.0.0.8 mac=00:15:5d:00:00:07 pa=192.168.10.11 classification=capped\n", "c3.cs");
    REQUIRE(named);
    CHECK(named.rebuilt);
    // The classification changes: every port that names it follows.
    REQUIRE(live.apply_change_set("+ port-classification name=capped router-guard=on\n", "c4.cs"));
    port_settings guarded;
    guarded.router_guard = true;
    CHECK(reader.read()->port(vm7)->settings == guarded);
    same_as_built(*reader.read(), *live.current_model());

    // Records of unclassified NICs still go record by record.
    const auto plain = live.apply_change_set("+ lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11\n", "c5.cs");
    REQUIRE(plain);
    CHECK_FALSE(plain.rebuilt);
    CHECK(reader.read()->port(mac("00:15:5d:00:00:09"))->settings == port_settings{});
    same_as_built(*reader.read(), *live.current_model());
}
