// NVGRE encap / decap per packet: header templates (datapath/encap.hpp), decapsulation with
// full validation, the flow hash, and the floor (the bare header-template write) to compare to.
// Targets (docs/performance.md): encap <= 10 ns/packet incl. a 1M-record lookup, <= 4 ns when the active
// set fits in L2; decap likewise. No lookup here: these are the encap/decap share of that budget.
//
// Bursts of 32 frames, each in its own buffer with 128 bytes of headroom. Between iterations
// only the frames' start offsets are moved back (pull_front / push_front of the header length,
// part of the timed loop): payloads are written once. Items = packets.
#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/flow_hash.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"

#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <span>
#include <vector>

namespace {

namespace dp = nvgre::datapath;
namespace wire = nvgre::wire;

constexpr std::size_t burst = 32;
constexpr std::size_t room = dp::recommended_headroom;

// One IPv4/TCP inner frame of `size` bytes (>= 54) per buffer, distinct 5-tuples.
struct frames {
    std::vector<std::vector<std::byte>> buffers;
    std::array<dp::frame, burst> f{};
    std::array<std::size_t, burst> offset{}, length{};

    explicit frames(std::size_t size) {
        std::mt19937 rng(7637);
        for (std::size_t i = 0; i < burst; ++i) {
            std::vector<std::byte> b(room + size + 64);
            for (auto& x : b) x = static_cast<std::byte>(rng());
            const std::span<std::byte> frame(b.data() + room, size);
            wire::ethernet_repr e;
            e.destination = nvgre::mac_address{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x06}};
            e.source = nvgre::mac_address{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x05}};
            e.ether_type = wire::ethertype::ipv4;
            e.emit(frame);
            wire::ipv4_repr ip;
            ip.source = nvgre::ipv4_address::from_uint(0x0a000000u | static_cast<std::uint32_t>(rng() & 0xffff));
            ip.destination = nvgre::ipv4_address::from_uint(0x0a010000u | static_cast<std::uint32_t>(rng() & 0xffff));
            ip.protocol = wire::ip_protocol::tcp;
            ip.dont_fragment = true;
            ip.payload_len = static_cast<std::uint16_t>(size - 34);
            ip.emit(frame.subspan(14));
            frame[46] = std::byte{0x50};  // TCP data offset 5
            buffers.push_back(std::move(b));
            offset[i] = room;
            length[i] = size;
        }
        reset();
    }
    void reset() noexcept {
        for (std::size_t i = 0; i < burst; ++i) f[i] = dp::frame(buffers[i], offset[i], length[i]);
    }
};

// Moves every frame's start by `n` bytes (forward if Pull, else back): the cheap reset.
template <bool Pull>
bool shift(frames& fr, std::size_t n) noexcept {
    bool ok = true;
    for (auto& f : fr.f) {
        if constexpr (Pull) ok &= f.pull_front(n).has_value();
        else ok &= f.push_front(n).has_value();
    }
    return ok;
}

dp::encap_params params(bool v6) {
    return dp::encap_params{
        .outer_source_mac = nvgre::mac_address{{0x02, 0x00, 0xc0, 0xa8, 0x0a, 0x0b}},
        .outer_destination_mac = nvgre::mac_address{{0x02, 0x00, 0xc0, 0xa8, 0x0a, 0x0c}},
        .vlan = 0,
        .outer_source = nvgre::ip_address::parse(v6 ? "2001:db8::11" : "192.168.10.11").value(),
        .outer_destination = nvgre::ip_address::parse(v6 ? "2001:db8::12" : "192.168.10.12").value(),
        .vsid = nvgre::vsid::make(5001).value(),
        .ttl = 64,
        .outer_ipv4_checksum_by_hardware = false,
    };
}

void fail(benchmark::State& state, const char* what) { state.SkipWithError(what); }

// The template path: apply(f) = parse the inner frame once (flow hash, TOS, offsets) + the
// header write. `FlowGiven`: apply(f, flow), no hash.
template <bool V6, std::size_t Size, bool FlowGiven>
void bm_encap_template(benchmark::State& state) {
    frames fr(Size);
    const auto t = dp::encap_template::make(params(V6)).value();
    if (!shift<false>(fr, t.header_len())) return fail(state, "headroom");  // as if encapsulated
    for (auto _ : state) {
        if (!shift<true>(fr, t.header_len())) return fail(state, "reset");
        for (std::size_t i = 0; i < burst; ++i) {
            auto r = FlowGiven ? t.apply(fr.f[i], nvgre::flow_id{static_cast<std::uint8_t>(i + 1)}) : t.apply(fr.f[i]);
            benchmark::DoNotOptimize(r);
        }
        benchmark::ClobberMemory();
    }
    if (!shift<true>(fr, t.header_len()) || !t.apply(fr.f[0]).has_value()) return fail(state, "encap failed");
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * burst));
}

// Decapsulation including full validation (outer checksum, GRE/NVGRE rules, inner parse) and
// the RFC 6040 step (no marking: frames are reusable). `ByValue`: the overload returning
// result<decap_info> (one ~150-byte copy more) instead of filling the caller's decap_info.
template <bool ByValue>
void bm_decap_ipv4_64(benchmark::State& state) {
    frames fr(64);
    const auto t = dp::encap_template::make(params(false)).value();
    for (std::size_t i = 0; i < burst; ++i)
        if (!t.apply(fr.f[i]).has_value()) return fail(state, "encap failed");
    if (!shift<true>(fr, t.header_len())) return fail(state, "setup");  // as if decapsulated
    dp::decap_info info;
    for (auto _ : state) {
        if (!shift<false>(fr, t.header_len())) return fail(state, "reset");
        for (std::size_t i = 0; i < burst; ++i) {
            if constexpr (ByValue) {
                auto r = dp::decapsulate(fr.f[i]);
                benchmark::DoNotOptimize(r);
            } else {
                auto r = dp::decapsulate(fr.f[i], info);
                benchmark::DoNotOptimize(r);
                benchmark::DoNotOptimize(info);
            }
        }
        benchmark::ClobberMemory();
    }
    if (!shift<false>(fr, t.header_len()) || !dp::decapsulate(fr.f[0]).has_value()) return fail(state, "decap failed");
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * burst));
}

// The floor: the least an encapsulator can do — copy a ready 42-byte header into the headroom
// and patch the length, the IPv4 checksum (RFC 1624 from a base sum) and the key's FlowID.
// No lookup, no flow hash, no TOS copy, no frame bookkeeping.
void bm_floor_encap_ipv4_64(benchmark::State& state) {
    frames fr(64);
    const auto t = dp::encap_template::make(params(false)).value();
    std::array<std::byte, 42> header{};
    std::memcpy(header.data(), t.header().data(), header.size());
    const std::uint16_t base = nvgre::checksum::fold(nvgre::checksum::sum(std::span<const std::byte>(header).subspan(14, 20)));
    for (auto _ : state) {
        for (std::size_t i = 0; i < burst; ++i) {
            std::byte* p = fr.buffers[i].data() + room - 42;
            std::memcpy(p, header.data(), 42);
            const auto total = static_cast<std::uint16_t>(64 + 28);
            nvgre::detail::store_be16(p + 16, total);
            nvgre::detail::store_be16(p + 24, nvgre::checksum::finish(std::uint32_t{base} + total));
            nvgre::detail::store_u8(p + 41, static_cast<std::uint8_t>(i + 1));
            benchmark::DoNotOptimize(p);
        }
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * burst));
}

// A peer: the naive encapsulator that builds the outer headers field by field (full IPv4
// checksum) and copies the frame into a fresh buffer behind them.
void bm_peer_naive_copy_ipv4_64(benchmark::State& state) {
    frames fr(64);
    std::vector<std::vector<std::byte>> out(burst, std::vector<std::byte>(room + 64 + 64));
    const auto p4 = params(false);
    for (auto _ : state) {
        for (std::size_t i = 0; i < burst; ++i) {
            std::byte* o = out[i].data();
            const std::span<std::byte> dst(o, 42 + 64);
            wire::ethernet_repr e;
            e.destination = p4.outer_destination_mac;
            e.source = p4.outer_source_mac;
            e.ether_type = wire::ethertype::ipv4;
            e.emit(dst);
            const auto inner = fr.f[i].bytes();
            wire::ipv4_repr ip;
            ip.source = p4.outer_source.v4();
            ip.destination = p4.outer_destination.v4();
            ip.protocol = wire::ip_protocol::gre;
            ip.dont_fragment = true;
            ip.dscp = static_cast<std::uint8_t>(nvgre::detail::load_u8(inner.data() + 15) >> 2);
            ip.ecn = static_cast<std::uint8_t>(nvgre::detail::load_u8(inner.data() + 15) & 3);
            ip.payload_len = static_cast<std::uint16_t>(8 + inner.size());
            ip.emit(dst.subspan(14));
            wire::nvgre_repr{p4.vsid, dp::flow_id_of(inner)}.emit(dst.subspan(34));
            std::memcpy(o + 42, inner.data(), inner.size());
            benchmark::DoNotOptimize(o);
        }
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * burst));
}

void bm_flow_hash_ipv4_tcp(benchmark::State& state) {
    frames fr(64);
    for (auto _ : state) {
        for (std::size_t i = 0; i < burst; ++i) {
            auto h = dp::flow_id_of(fr.f[i].bytes());
            benchmark::DoNotOptimize(h);
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * burst));
}

}  // namespace

BENCHMARK(bm_encap_template<false, 64, false>)->Name("encap/template/ipv4/64B");
BENCHMARK(bm_encap_template<true, 64, false>)->Name("encap/template/ipv6/64B");
BENCHMARK(bm_encap_template<false, 1500, false>)->Name("encap/template/ipv4/1500B");
BENCHMARK(bm_encap_template<false, 64, true>)->Name("encap/template/ipv4/64B/flow_given");
BENCHMARK(bm_decap_ipv4_64<false>)->Name("decap/ipv4/64B");
BENCHMARK(bm_decap_ipv4_64<true>)->Name("decap/ipv4/64B/by_value");
BENCHMARK(bm_floor_encap_ipv4_64)->Name("floor/encap/ipv4/64B");
BENCHMARK(bm_peer_naive_copy_ipv4_64)->Name("peer/encap/naive_copy/ipv4/64B");
BENCHMARK(bm_flow_hash_ipv4_tcp)->Name("flow_hash/ipv4_tcp");
