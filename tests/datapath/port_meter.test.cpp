#include "nvgre/datapath/port_meter.hpp"

#include "support/classified_policy.hpp"
#include "support/frames.hpp"

#include "nvgre/datapath/egress.hpp"
#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/ingress.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <thread>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;
using namespace nvgre::test::hnv_vm;

namespace {

policy::port_settings capped(std::uint64_t rate, std::uint64_t burst) {
    policy::port_classification c{"capped"};
    c.maximum_bandwidth = rate;
    c.maximum_burst = burst;
    return policy::port_settings::of(c);
}

}  // namespace

TEST_CASE("datapath/port_meter: a bucket starts full, refills at the rate, and charges only what went") {
    port_meters m(4);
    const auto s = capped(8'000'000, 3000);  // 1 MB/s: a byte per microsecond
    const std::uint64_t t0 = 1'000'000'000;
    // Full: 3000 bytes at once, in two frames of 1500; a third does not fit.
    CHECK(m.conforms(1, meter_direction::from_vm, 1500, s, t0));
    m.charge(1, meter_direction::from_vm, 1500, s, t0);
    CHECK(m.conforms(1, meter_direction::from_vm, 1500, s, t0));
    m.charge(1, meter_direction::from_vm, 1500, s, t0);
    CHECK_FALSE(m.conforms(1, meter_direction::from_vm, 1, s, t0));
    // A frame that does not conform costs nothing: 100 us later 100 bytes fit, not 101.
    CHECK(m.conforms(1, meter_direction::from_vm, 100, s, t0 + 100'000));
    CHECK_FALSE(m.conforms(1, meter_direction::from_vm, 101, s, t0 + 100'000));
    // The other direction and the other ports have their own buckets.
    CHECK(m.conforms(1, meter_direction::to_vm, 3000, s, t0));
    CHECK(m.conforms(2, meter_direction::from_vm, 3000, s, t0));
    // A frame larger than the bucket never fits; the bucket never holds more than its size.
    CHECK_FALSE(m.conforms(3, meter_direction::from_vm, 3001, s, t0 + 10'000'000'000));
    CHECK(m.conforms(1, meter_direction::from_vm, 3000, s, t0 + 3'000'000));
    // reset() fills it again; ports past the table are never limited.
    m.reset(1);
    CHECK(m.conforms(1, meter_direction::from_vm, 3000, s, t0));
    CHECK(m.conforms(99, meter_direction::from_vm, 1'000'000, s, t0));
    CHECK(port_meters::cost_ns(1500, 20'000'000) == 600'000);
    // The per-packet form (a multiplication) agrees with the exact one within a nanosecond.
    for (const std::uint64_t rate : {100'000ull, 1'000'000ull, 20'000'000ull, 999'999'937ull, 1'000'000'000'000ull})
        for (const std::uint64_t bytes : {60ull, 1500ull, 9000ull, 65'536ull}) {
            const auto exact = port_meters::cost_ns(bytes, rate);
            const auto fast = port_meters::cost_of(bytes, capped(rate, 250'000));
            CHECK(fast <= exact);
            CHECK(exact - fast <= 1);
        }
    CHECK(port_meters::cost_ns(0xffffffffu, 1'000'000'000'000) == 34'359'738);
}

TEST_CASE("datapath/port_meter: over a simulated second, a port passes its rate plus its burst, whatever the offered load") {
    port_meters m(1);
    const auto s = capped(20'000'000, 250'000);
    std::uint64_t passed = 0;
    // 1500-byte frames offered at 100 Mbit/s for one second (one every 120 us).
    for (std::uint64_t t = 0; t < 1'000'000'000; t += 120'000) {
        if (!m.conforms(0, meter_direction::from_vm, 1500, s, t)) continue;
        m.charge(0, meter_direction::from_vm, 1500, s, t);
        passed += 1500;
    }
    const std::uint64_t limit = 20'000'000 / 8 + 250'000;
    CHECK(passed <= limit);
    CHECK(passed >= limit - 1500);
}

TEST_CASE("datapath/port_meter: threads sharing a bucket hold the cap (within a frame per thread)") {
    port_meters m(1);
    const auto s = capped(8'000'000, 100'000);
    std::atomic<std::uint64_t> passed{0};
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k)
        threads.emplace_back([&] {
            for (int i = 0; i < 10'000; ++i) {
                // All at one instant: only the burst may pass.
                if (!m.conforms(0, meter_direction::from_vm, 1000, s, 5)) continue;
                m.charge(0, meter_direction::from_vm, 1000, s, 5);
                passed += 1000;
            }
        });
    for (auto& t : threads) t.join();
    CHECK(passed.load() >= 100'000);
    CHECK(passed.load() <= 100'000 + 4 * 1000);
}

TEST_CASE("datapath/port_meter: the pipelines drop what exceeds a port's bandwidth as rate-limited, both directions") {
    // red-web (hv1, port 0) and red-db (hv2, port 0) are capped at 1 Mbit/s with 3000-byte buckets.
    const policy::state hv1 = classified_state("hv1");
    const policy::state hv2 = classified_state("hv2");
    std::uint64_t now = 1'000'000'000;
    port_meters meters1(4), meters2(4);
    context ctx1(8, 4), ctx2(8, 4);
    ctx1.share_meters(&meters1);
    ctx2.share_meters(&meters2);
    ctx1.use_clock(&now);
    ctx2.use_clock(&now);
    vector_sink sink;
    const auto send = [&](const mac_address& from, const mac_address& to, const char* src, const char* dst) {
        buffer b(udp_frame(from, to, ip(src), ip(dst), 958), 128, 64);  // 1000-byte frames
        const outcome o = egress(hv1, from, b.f, sink, ctx1);
        return std::pair{o, b.bytes()};
    };
    // Egress: three 1000-byte frames fit red-web's 3000 bytes; the fourth is rate-limited; the
    // unclassified red-app is not limited.
    for (int i = 0; i < 3; ++i) CHECK(send(red_web, red_db, "10.0.0.5", "10.0.0.6").first.verdict == verdict::encap);
    CHECK(send(red_web, red_db, "10.0.0.5", "10.0.0.6").first.reason == drop_reason::rate_limited);
    for (int i = 0; i < 10; ++i) CHECK(send(red_app, red_db, "10.0.0.7", "10.0.0.6").first.verdict == verdict::encap);
    // 1 ms later (125 bytes at 1 Mbit/s) still no room for 1000 bytes; 8 ms later there is.
    now += 1'000'000;
    CHECK(send(red_web, red_db, "10.0.0.5", "10.0.0.6").first.reason == drop_reason::rate_limited);
    now += 7'000'000;
    const auto [sent, bytes] = send(red_web, red_db, "10.0.0.5", "10.0.0.6");
    CHECK(sent.verdict == verdict::encap);
    CHECK(ctx1.count.of(drop_reason::rate_limited) == 2);
    CHECK(ctx1.per_port.at(0).of(drop_reason::rate_limited) == 2);
    CHECK(ctx1.per_port.at(0).packets_in == 6);
    CHECK(ctx1.per_port.at(0).bytes_in == 6000);
    CHECK(ctx1.unmetered == 0);

    // Ingress: toward red-db (hv2), its own bucket: three delivered, the fourth rate-limited.
    std::vector<std::vector<std::byte>> encapsulated;
    for (int i = 0; i < 4; ++i) {
        buffer b(udp_frame(red_app, red_db, ip("10.0.0.7"), ip("10.0.0.6"), 958), 128, 64);
        REQUIRE(egress(hv1, red_app, b.f, sink).verdict == verdict::encap);
        encapsulated.push_back(b.bytes());
    }
    for (int i = 0; i < 4; ++i) {
        buffer b(encapsulated[static_cast<std::size_t>(i)]);
        const outcome o = ingress(hv2, b.f, sink, ctx2);
        if (i < 3) CHECK(o.verdict == verdict::deliver);
        else CHECK(o.reason == drop_reason::rate_limited);
    }
    CHECK(ctx2.per_port.at(0).packets_out == 3);
    CHECK(ctx2.per_port.at(0).bytes_out == 3000);

    // Local delivery on hv1 (red-app to red-web): red-web's bucket toward it.
    for (int i = 0; i < 4; ++i) {
        const outcome o = send(red_app, red_web, "10.0.0.7", "10.0.0.5").first;
        if (i < 3) CHECK(o.verdict == verdict::local);
        else CHECK(o.reason == drop_reason::rate_limited);
    }
    // Without shared meters a capped port passes, counted as unmetered.
    context bare;
    buffer b(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")));
    CHECK(egress(hv1, red_web, b.f, sink, bare).verdict == verdict::encap);
    CHECK(bare.unmetered == 1);
}
