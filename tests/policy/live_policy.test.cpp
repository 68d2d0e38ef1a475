#include "nvgre/policy/live_policy.hpp"

#include "nvgre/policy/loader.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
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
