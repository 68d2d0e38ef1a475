#include "nvgre/datapath/context.hpp"

#include "support/frames.hpp"
#include "support/hnv_policy.hpp"
#include "support/test_bytes.hpp"

#include "nvgre/datapath/egress.hpp"
#include "nvgre/datapath/ingress.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;
using namespace nvgre::test::hnv_vm;

namespace {
outcome with_vsid(verdict v, std::uint32_t vsid, drop_reason r = drop_reason::none) {
    outcome o;
    o.verdict = v;
    o.vsid = vsid;
    o.reason = r;
    return o;
}

/// A burst of `n` frames from red_web: every third from a source it does not own (dropped).
struct red_burst {
    std::vector<std::unique_ptr<buffer>> bufs;
    std::vector<frame> frames;
    std::vector<mac_address> ports;
    explicit red_burst(int n) {
        for (int i = 0; i < n; ++i) {
            bufs.push_back(std::make_unique<buffer>(
                udp_frame(red_web, red_db, ip(i % 3 == 2 ? "10.0.0.99" : "10.0.0.5"), ip("10.0.0.6"))));
            frames.push_back(bufs.back()->f);
            ports.push_back(red_web);
        }
    }
};
/// (frames received, frames dropped) of some traffic counters.
std::pair<std::uint64_t, std::uint64_t> in_and_dropped(const traffic_counters& t) { return {t.packets_in, t.dropped()}; }
}  // namespace

TEST_CASE("datapath/context: per-VSID counters, with a fixed capacity and the rest in other") {
    vsid_counters off;
    off.count(with_vsid(verdict::encap, 5001), 100, 100);
    CHECK_FALSE(off.enabled());
    CHECK(off.find(5001) == nullptr);

    vsid_counters v(2);
    v.count(with_vsid(verdict::encap, 5001), 100, 100);
    v.count(with_vsid(verdict::drop, 5001, drop_reason::no_record), 100, 100);
    v.count(with_vsid(verdict::reply, 5002, drop_reason::ttl_expired), 100, 100);  // answered, but went no further
    v.count(with_vsid(verdict::reply, 5002), 100, 100);                            // a proxy answer
    v.count(with_vsid(verdict::deliver, 6001), 100, 100);                          // a third VSID: no room
    v.count(with_vsid(verdict::drop, 0, drop_reason::truncated), 100, 100);        // no VSID known
    REQUIRE(v.find(5001) != nullptr);
    CHECK(in_and_dropped(*v.find(5001)) == std::pair<std::uint64_t, std::uint64_t>{2, 1});
    REQUIRE(v.find(5002) != nullptr);
    CHECK(in_and_dropped(*v.find(5002)) == std::pair<std::uint64_t, std::uint64_t>{2, 1});
    CHECK(v.find(6001) == nullptr);
    CHECK(in_and_dropped(v.other()) == std::pair<std::uint64_t, std::uint64_t>{2, 1});
    CHECK(v.size() == 2);

    // Many VSIDs through a large table: each counted on its own, none lost.
    vsid_counters many(1000);
    for (std::uint32_t i = 0; i < 3000; ++i) many.count(with_vsid(verdict::encap, 4096 + i % 1000 * 7919 % 16000000), 100, 100);
    CHECK(many.size() == 1000);
    CHECK(many.other().packets_in == 0);
    for (std::uint32_t i = 0; i < 1000; ++i) CHECK(many.find(4096 + i * 7919 % 16000000)->packets_in == 3);
}

TEST_CASE("datapath/context: a burst counts by verdict, reason, VSID and port, and traces each frame in order") {
    red_burst b(40);
    std::vector<outcome> out(b.frames.size());
    vector_sink sink;
    // The embedder numbers the web VM's port 3; per-port counters go by that number.
    policy::state s = hnv_state("hv1");
    REQUIRE(s.bind_port(3, red_web));
    context ctx(16, 8);
    struct seen {
        std::size_t index;
        outcome o;
        std::size_t sent_before;  // sink traffic when the hook ran
    };
    struct trace_state {
        std::vector<seen> calls;
        const vector_sink* sink;
    } traced{{}, &sink};
    ctx.trace = trace_hook{[](void* user, std::size_t index, const frame&, const outcome& o) noexcept {
                               auto& t = *static_cast<trace_state*>(user);
                               t.calls.push_back({index, o, t.sink->out.size()});
                           },
                           &traced};
    REQUIRE(egress_burst(s, std::span<frame>(b.frames), std::span<const mac_address>(b.ports), std::span<outcome>(out), sink,
                         ctx) == 40);
    CHECK(ctx.count.of(verdict::encap) == 27);
    CHECK(ctx.count.of(drop_reason::spoofed_source) == 13);
    REQUIRE(ctx.per_vsid.find(5001) != nullptr);
    CHECK(in_and_dropped(*ctx.per_vsid.find(5001)) == std::pair<std::uint64_t, std::uint64_t>{40, 13});
    CHECK(in_and_dropped(ctx.per_port.at(3)) == std::pair<std::uint64_t, std::uint64_t>{40, 13});
    CHECK(ctx.port_other == traffic_counters{});
    // An unbound port counts in port_other.
    context unbound(16, 8);
    red_burst again(40);
    std::vector<outcome> out2(again.frames.size());
    vector_sink sink2;
    REQUIRE(egress_burst(hnv_state("hv1"), std::span<frame>(again.frames), std::span<const mac_address>(again.ports),
                         std::span<outcome>(out2), sink2, unbound) == 40);
    CHECK(in_and_dropped(unbound.port_other) == std::pair<std::uint64_t, std::uint64_t>{40, 13});
    CHECK(unbound.per_port.at(3) == traffic_counters{});
    REQUIRE(traced.calls.size() == 40);
    for (std::size_t i = 0; i < 40; ++i) {
        CHECK(traced.calls[i].index == i);
        CHECK(traced.calls[i].o == out[i]);
    }

    // The single-frame entry point counts and traces the same way (index 0).
    buffer one(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")));
    CHECK(egress(s, red_web, one.f, sink, ctx).verdict == verdict::encap);
    CHECK(ctx.count.of(verdict::encap) == 28);
    CHECK(traced.calls.back().index == 0);
    // Ingress counts by the packet's VSID (no port: nothing per port).
    vector_sink back;
    context in(4);
    CHECK(ingress(hnv_state("hv2"), one.f, back, in).verdict == verdict::deliver);
    CHECK(in.per_vsid.find(5001)->packets_in == 1);
    CHECK(in.count.of(verdict::deliver) == 1);
}

TEST_CASE("datapath/context: the trace hook of a flood runs after its copies went through the sink") {
    // A broadcast from red_web floods to red_db's host and red_app on hv1.
    std::vector<std::byte> bcast = udp_frame(red_web, mac_address::broadcast(), ip("10.0.0.5"), ip("10.0.0.255"));
    buffer f(bcast);
    vector_sink sink;
    context ctx;
    std::size_t sent_when_traced = 0;
    struct hook_state {
        const vector_sink* sink;
        std::size_t* sent;
    } h{&sink, &sent_when_traced};
    ctx.trace = trace_hook{[](void* user, std::size_t, const frame&, const outcome&) noexcept {
                               auto& s = *static_cast<hook_state*>(user);
                               *s.sent = s.sink->out.size();
                           },
                           &h};
    const outcome o = egress(hnv_state("hv1"), red_web, f.f, sink, ctx);
    REQUIRE(o.verdict == verdict::flood);
    CHECK(o.copies > 0);
    CHECK(sent_when_traced == o.copies);
}

TEST_CASE("datapath/context: answers go within the context's rate limit, on its clock") {
    // net unreachable answers to red_web (8.8.8.8 has no route in red).
    const policy::state& s = hnv_state("hv1");
    vector_sink sink;
    const auto unreachable = [&](context* ctx) {
        buffer b(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("8.8.8.8")));
        return ctx != nullptr ? egress(s, red_web, b.f, sink, *ctx) : egress(s, red_web, b.f, sink);
    };
    context unlimited;
    for (int i = 0; i < 20; ++i) CHECK(unreachable(&unlimited).verdict == verdict::reply);
    CHECK(unlimited.limiter() == nullptr);

    context limited;
    std::uint64_t now = 5'000'000'000;
    limited.use_clock(&now);  // before limit_answers: the limiter takes it up
    limited.limit_answers(3, 1);
    REQUIRE(limited.limiter() != nullptr);
    for (int i = 0; i < 3; ++i) CHECK(unreachable(&limited).verdict == verdict::reply);
    const outcome held = unreachable(&limited);
    CHECK(held.verdict == verdict::drop);
    CHECK(held.reason == drop_reason::no_route);
    now += 1'000'000'000;  // a second later: one more token
    CHECK(unreachable(&limited).verdict == verdict::reply);
    CHECK(unreachable(&limited).verdict == verdict::drop);
    CHECK(limited.count.of(verdict::reply) == 4);
    CHECK(limited.count.of(drop_reason::no_route) == 6);
    // Without a context nothing is limited or counted.
    for (int i = 0; i < 5; ++i) CHECK(unreachable(nullptr).verdict == verdict::reply);
}

TEST_CASE("datapath/context: a port counts every frame that came in on it, the ones dropped for their MAC too") {
    policy::state s = hnv_state("hv1");
    REQUIRE(s.bind_port(3, red_web));
    context ctx(4, 8);
    vector_sink sink;
    buffer good(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")));
    buffer spoofed(udp_frame(*mac_address::parse("02:aa:00:00:00:01"), red_db, ip("10.0.0.5"), ip("10.0.0.6")));
    const std::size_t bytes = good.f.total_size();
    REQUIRE(egress(s, std::uint32_t{3}, good.f, sink, ctx).verdict == verdict::encap);
    REQUIRE(egress(s, std::uint32_t{3}, spoofed.f, sink, ctx).reason == drop_reason::spoofed_source);
    const traffic_counters& p = ctx.per_port.at(3);
    CHECK(p.packets_in == 2);
    CHECK(p.bytes_in == 2 * bytes);
    CHECK(p.of(drop_reason::spoofed_source) == 1);
    CHECK(p.packets_out == 0);  // nothing went to the VM
    REQUIRE(ctx.per_vsid.find(5001) != nullptr);
    CHECK(ctx.per_vsid.find(5001)->packets_out == 1);
    CHECK(ctx.per_vsid.find(5001)->bytes_out == good.f.total_size());
}
