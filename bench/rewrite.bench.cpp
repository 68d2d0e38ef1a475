// IP rewrite (the nat rule, datapath/rewrite.hpp) per packet, beside encap: the full egress
// pipeline rewriting (rewrite/ipv4/...), the same policy shape and traffic with rule encap
// (rewrite/baseline/encap/...: the only difference is egress rule 6), the rewrite step alone
// after batched lookups (rewrite/step/...; compare encap/ipv4/64B/1M/uniform of
// pipeline.bench.cpp, lookup + template), and ingress of rewritten frames (rewrite/ingress/...).
//
// Policy. IP rewrite gives every VM a PA of its own, so a 1M-record policy has 1M PAs, and the
// state keeps per host a next-hop table of (its PAs) x (all PAs) and per subnet a list of its
// remote PAs (O(list) per added record): the policy keeps both small. One routing domain,
// subnets of 1000 records (VSID 5000 + s, route 10.0.0.0 + 1024 s /22 on-link), record i:
// CA 10.0.0.2 + 1024 (i / 1000) + i % 1000, MAC 00:15:<i>, PA 172.16.0.1 + i (/12: every PA is
// on-link from every other), PA MAC 02:01:<i>, rule nat. Host: i % 100 in subnet 0 (hv0, the
// host under test, runs its 10 VMs 0, 100, ..., 900), 1 + i % 99 elsewhere. The baseline policy
// is the same with rule encap and the PAs of pipeline.bench.cpp (host h: 192.168.0.(h+1)/16).
//
// Traffic: one (local VM L of hv0, remote VM R) pair per packet, R uniform over the remote
// records, L uniform over hv0's VMs; a stream of 2^21 precomputed pairs walked 32 at a time (at
// 1M the keys visit ~870K records a cycle and do not stay in cache). At 1M nearly every R is in
// another subnet: L's frame goes to the router MAC and egress routes it (TTL - 1, MACs); at 1K
// (one subnet) none is. Egress: L sends a 64-byte IPv4/TCP frame to R. Ingress: the frame R's
// host put on the fabric, PA(R) -> PA(L).
//
// Each iteration resets the burst (the 64 bytes of every frame rewritten from the pair; part of
// the timed loop, measured alone by reset-only/rewrite/...) and runs it. Before timing, 256
// bursts run untimed and every packet must come out right (verdict, PA, addresses); after
// timing the counters must say every timed packet did. Items = packets; "per_pkt" = time/packet.
#include "nvgre/datapath/egress.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/ingress.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/rewrite.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/state.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace {

namespace dp = nvgre::datapath;
namespace pol = nvgre::policy;
namespace wire = nvgre::wire;
using nvgre::ip_address;
using nvgre::ipv4_address;
using nvgre::mac_address;

constexpr std::uint32_t hosts = 100;
constexpr std::uint32_t per_subnet = 1000;
constexpr std::uint32_t first_vsid = 5000;
constexpr std::size_t burst = 32;
constexpr std::size_t room = dp::recommended_headroom;
constexpr std::size_t frame_len = 64;
constexpr std::size_t stream_len = std::size_t{1} << 21;
constexpr std::size_t check_bursts = 256;
constexpr std::uint32_t local_vms = per_subnet / hosts;  // hv0's VMs: records 0, 100, ..., 900
const mac_address router_mac = nvgre::policy::default_router_mac;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "rewrite.bench: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

std::uint32_t subnet_of(std::uint32_t r) { return r / per_subnet; }
std::uint32_t ca_u32(std::uint32_t i) { return 0x0a000000u + subnet_of(i) * 1024 + i % per_subnet + 2; }
std::uint32_t pa_u32(std::uint32_t i) { return 0xac100000u + i + 1; }  // 172.16.0.0/12
std::uint32_t host_of(std::uint32_t i) { return i < per_subnet ? i % hosts : 1 + i % (hosts - 1); }
ip_address host_pa(std::uint32_t h) { return ipv4_address::from_uint(0xc0a80000u + h + 1); }  // the baseline's
mac_address vm_mac(std::uint32_t i) {
    return mac_address{{0x00, 0x15, static_cast<std::uint8_t>(i >> 24), static_cast<std::uint8_t>(i >> 16),
                        static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}};
}
mac_address pa_mac(std::uint32_t i) {
    return mac_address{{0x02, 0x01, static_cast<std::uint8_t>(i >> 24), static_cast<std::uint8_t>(i >> 16),
                        static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}};
}
const nvgre::rdid the_domain{std::array<std::uint8_t, 16>{0x4e, 0x41, 0x54}};

enum class table : std::uint8_t { k1, m1 };
constexpr std::uint32_t records_of(table t) { return t == table::k1 ? 1'000u : 1'000'000u; }

/// hv0's state of the policy of size `t` (see the file comment), all nat or all encap; built once.
const pol::state& state_of(table t, bool nat = true) {
    auto build = [](std::uint32_t records, bool nat) {
        pol::builder b;
        if (nat) {
            for (std::uint32_t i = 0; i < records; ++i)
                b.add(pol::provider_address{"hv" + std::to_string(host_of(i)), ipv4_address::from_uint(pa_u32(i)), 12, pa_mac(i), 0});
        } else {
            for (std::uint32_t h = 0; h < hosts; ++h) b.add(pol::provider_address{"hv" + std::to_string(h), host_pa(h), 16, pa_mac(h), 0});
        }
        b.add(pol::routing_domain{the_domain, "", router_mac});
        for (std::uint32_t s = 0; s * per_subnet < records; ++s) {
            const auto v = *nvgre::vsid::make(first_vsid + s);
            b.add(pol::virtual_subnet{v, the_domain, std::nullopt, std::nullopt});
            b.add(pol::customer_route{the_domain, v, *nvgre::ip_prefix::make(ipv4_address::from_uint(0x0a000000u + s * 1024), 22),
                                      ipv4_address{}, pol::default_customer_route_metric});
        }
        for (std::uint32_t i = 0; i < records; ++i)
            b.add(pol::lookup_record{*nvgre::vsid::make(first_vsid + subnet_of(i)), ipv4_address::from_uint(ca_u32(i)), vm_mac(i),
                                     nat ? ip_address{ipv4_address::from_uint(pa_u32(i))} : host_pa(host_of(i)),
                                     nat ? pol::rule::nat : pol::rule::encap, pol::record_type::static_record, ""});
        auto m = b.build();
        if (!m) die("policy refused");
        auto s = std::make_unique<pol::state>(pol::state::build(*m.validated, "hv0").value());
        if (s->record_count() != records) die("state lost records");
        return s;
    };
    if (t == table::k1 && nat) {
        static const auto s = build(records_of(table::k1), true);
        return *s;
    }
    if (t == table::k1) {
        static const auto s = build(records_of(table::k1), false);
        return *s;
    }
    if (nat) {
        static const auto s = build(records_of(table::m1), true);
        return *s;
    }
    static const auto s = build(records_of(table::m1), false);
    return *s;
}

/// Stream entry: remote record R (bits 0-19) and hv0's VM number k (bits 20-23): record 100 k.
std::uint32_t remote_of(std::uint32_t e) { return e & 0xfffffu; }
std::uint32_t local_of(std::uint32_t e) { return hosts * ((e >> 20) & 0xfu); }

const std::vector<std::uint32_t>& stream_of(table t) {
    auto make = [](std::uint32_t n) {
        std::vector<std::uint32_t> remotes;
        for (std::uint32_t i = 0; i < n; ++i)
            if (host_of(i) != 0) remotes.push_back(i);
        std::mt19937_64 rng(n);
        auto s = std::make_unique<std::vector<std::uint32_t>>(stream_len);
        for (auto& e : *s) e = remotes[rng() % remotes.size()] | static_cast<std::uint32_t>(rng() % local_vms) << 20;
        return s;
    };
    if (t == table::k1) {
        static const auto s = make(records_of(table::k1));
        return *s;
    }
    static const auto s = make(records_of(table::m1));
    return *s;
}

/// The 64-byte IPv4/TCP frame (MACs, addresses, IPv4 checksum patched per packet).
struct proto_frame {
    std::array<std::byte, frame_len> bytes{};
    std::uint32_t base_sum{0};  ///< folded sum of the IPv4 header with addresses and checksum 0
    proto_frame() {
        std::mt19937 rng(1624);
        for (auto& b : bytes) b = static_cast<std::byte>(rng());
        const std::span<std::byte> f(bytes);
        wire::ethernet_repr e;
        e.ether_type = wire::ethertype::ipv4;
        e.emit(f);
        wire::ipv4_repr ip;
        ip.protocol = wire::ip_protocol::tcp;
        ip.dont_fragment = true;
        ip.payload_len = frame_len - 34;
        ip.emit(f.subspan(14));
        nvgre::detail::store_be16(f.data() + 24, 0);
        base_sum = nvgre::checksum::fold(nvgre::checksum::sum(std::span<const std::byte>(f.subspan(14, 20))));
        f[46] = std::byte{0x50};  // TCP data offset 5
    }
    /// Writes the frame from (smac, saddr) to (dmac, daddr) at `p`.
    void write(std::byte* p, const mac_address& smac, const mac_address& dmac, std::uint32_t sa, std::uint32_t da) const noexcept {
        std::memcpy(p, bytes.data(), frame_len);
        dmac.to_bytes(std::span<std::byte>(p, 6));
        smac.to_bytes(std::span<std::byte>(p + 6, 6));
        nvgre::detail::store_be32(p + 26, sa);
        nvgre::detail::store_be32(p + 30, da);
        nvgre::detail::store_be16(p + 24, nvgre::checksum::finish(base_sum + (sa >> 16) + (sa & 0xffffu) + (da >> 16) + (da & 0xffffu)));
    }
};

/// 32 buffers with headroom, 64-byte aligned, and their frames.
struct bursts {
    static constexpr std::size_t stride = (room + frame_len + 64 + 63) & ~std::size_t{63};
    std::vector<std::byte> storage = std::vector<std::byte>(stride * burst + 64);
    std::byte* base;
    std::array<dp::frame, burst> f{};
    std::array<mac_address, burst> port{};
    proto_frame proto;
    bursts() { base = storage.data() + ((64 - reinterpret_cast<std::uintptr_t>(storage.data()) % 64) % 64); }
    std::span<std::byte> buffer(std::size_t i) noexcept { return {base + i * stride, stride}; }

    /// VM frames, L -> R.
    void reset_vm(const std::uint32_t* e) noexcept {
        for (std::size_t i = 0; i < burst; ++i) {
            const std::uint32_t r = remote_of(e[i]), l = local_of(e[i]);
            f[i] = dp::frame(buffer(i), room, frame_len);
            // To another subnet a VM sends to its gateway: the router MAC.
            proto.write(buffer(i).data() + room, vm_mac(l), subnet_of(r) == 0 ? vm_mac(r) : router_mac, ca_u32(l), ca_u32(r));
            port[i] = vm_mac(l);
        }
    }
    /// Fabric frames, PA(R) -> PA(L).
    void reset_fabric(const std::uint32_t* e) noexcept {
        for (std::size_t i = 0; i < burst; ++i) {
            const std::uint32_t r = remote_of(e[i]), l = local_of(e[i]);
            f[i] = dp::frame(buffer(i), room, frame_len);
            proto.write(buffer(i).data() + room, pa_mac(r), pa_mac(l), pa_u32(r), pa_u32(l));
        }
    }
};

struct cursor {
    const std::vector<std::uint32_t>& s;
    std::size_t at{0};
    const std::uint32_t* next() noexcept {
        const std::uint32_t* p = s.data() + at;
        at = (at + burst) & (s.size() - 1);
        return p;
    }
};

void finish(benchmark::State& st) {
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * burst));
    st.counters["per_pkt"] =
        benchmark::Counter(static_cast<double>(burst), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

std::uint32_t load_u32(const dp::frame& f, std::size_t at) { return nvgre::detail::load_be32(f.bytes().data() + at); }

// egress_burst: per frame the port, source checks, route LPM, destination record, at 1M the
// distributed router (TTL, MACs), then rule 6: rewrite_egress (plan, address checks, next-hop
// MAC, addresses and checksums patched, Ethernet) or, for the baseline policy (`nat` false),
// encapsulation toward R's host; counters.
void bm_egress(benchmark::State& st, table t, bool nat) {
    const pol::state& s = state_of(t, nat);
    const dp::verdict want = nat ? dp::verdict::rewrite : dp::verdict::encap;
    cursor c{stream_of(t)};
    bursts b;
    std::array<dp::outcome, burst> out{};
    dp::no_replication_sink sink;
    dp::context check;
    for (std::size_t k = 0; k < check_bursts; ++k) {
        const std::uint32_t* e = c.next();
        b.reset_vm(e);
        dp::egress_burst(s, b.f, b.port, out, sink, check);
        for (std::size_t i = 0; i < burst; ++i) {
            const std::uint32_t r = remote_of(e[i]), l = local_of(e[i]);
            if (out[i].verdict != want)
                die("egress verdict " + std::string(dp::to_string(out[i].verdict)) + " (" + std::string(dp::to_string(out[i].reason)) + ")");
            if (out[i].vsid != first_vsid + subnet_of(r)) die("egress: wrong VSID");
            if (!nat) {
                if (out[i].pa != host_pa(host_of(r)) || b.f[i].size() != frame_len + dp::encap_header_len_ipv4)
                    die("egress encapsulated wrongly");
            } else if (out[i].pa != ip_address{ipv4_address::from_uint(pa_u32(r))} || load_u32(b.f[i], 26) != pa_u32(l) ||
                       load_u32(b.f[i], 30) != pa_u32(r) || b.f[i].size() != frame_len) {
                die("egress rewrote wrongly");
            }
        }
    }
    c.at = 0;
    dp::context count;
    for (auto _ : st) {
        b.reset_vm(c.next());
        dp::egress_burst(s, b.f, b.port, out, sink, count);
        benchmark::ClobberMemory();
    }
    if (count.count.of(want) != st.iterations() * burst) die("a timed packet did not get its verdict");
    finish(st);
}

// The rewrite step without the pipeline: batched lookups of the destination and source records
// (hash all, prefetch all, probe), the records and next-hop entries prefetched, then
// rewrite_egress per packet.
void bm_step(benchmark::State& st, table t) {
    const pol::state& s = state_of(t);
    cursor c{stream_of(t)};
    bursts b;
    std::array<pol::ca_key, 2 * burst> keys{};
    std::array<const pol::record_entry*, 2 * burst> rec{};
    auto run = [&]() noexcept -> std::uint64_t {
        for (std::size_t i = 0; i < burst; ++i) {
            const std::byte* p = b.f[i].bytes().data();
            // Built in place (a temporary ca_key copied in costs a store-forwarding stall, see
            // pipeline.bench.cpp's set_key); one routing domain, index 0.
            keys[i].scope = keys[burst + i].scope = 0;
            std::construct_at(&keys[i].address, ipv4_address::from_uint(nvgre::detail::load_be32(p + 30)));
            std::construct_at(&keys[burst + i].address, ipv4_address::from_uint(nvgre::detail::load_be32(p + 26)));
        }
        s.find_records_batch(keys, rec);
        // As encap/ipv4/... does: the batch prefetched the index slots, not the 64-byte records
        // they point to (a second, dependent miss at 1M), nor the next-hop entries the records
        // lead to (a third): start loading both for the whole burst before using any.
        for (std::size_t i = 0; i < burst; ++i)
            if (rec[i] != nullptr) __builtin_prefetch(rec[i]);
        for (std::size_t i = 0; i < burst; ++i)
            if (rec[i] != nullptr && rec[burst + i] != nullptr)
                __builtin_prefetch(s.next_hop_mac_between(rec[burst + i]->provider, rec[i]->provider));
        std::uint64_t ok = 0;
        for (std::size_t i = 0; i < burst; ++i) {
            if (rec[i] == nullptr || rec[burst + i] == nullptr) [[unlikely]] continue;
            ok += dp::rewrite_egress(s, b.f[i], *rec[burst + i], *rec[i]).verdict == dp::verdict::rewrite;
        }
        return ok;
    };
    for (std::size_t k = 0; k < check_bursts; ++k) {
        const std::uint32_t* e = c.next();
        b.reset_vm(e);
        if (run() != burst) die("rewrite step: a packet was not rewritten");
        for (std::size_t i = 0; i < burst; ++i)
            if (load_u32(b.f[i], 26) != pa_u32(local_of(e[i])) || load_u32(b.f[i], 30) != pa_u32(remote_of(e[i])))
                die("rewrite step rewrote wrongly");
    }
    c.at = 0;
    std::uint64_t ok = 0;
    for (auto _ : st) {
        b.reset_vm(c.next());
        ok += run();
        benchmark::ClobberMemory();
    }
    if (ok != st.iterations() * burst) die("a timed packet was not rewritten");
    finish(st);
}

// ingress_burst of fabric rewrite frames: parse (packet_layout: kind other), then per frame the
// nat PA lookups of destination and source, the plan, addresses and checksums, MACs, counters.
void bm_ingress(benchmark::State& st, table t) {
    const pol::state& s = state_of(t);
    cursor c{stream_of(t)};
    bursts b;
    std::array<dp::outcome, burst> out{};
    dp::no_replication_sink sink;
    dp::context check;
    for (std::size_t k = 0; k < check_bursts; ++k) {
        const std::uint32_t* e = c.next();
        b.reset_fabric(e);
        dp::ingress_burst(s, b.f, out, sink, check);
        for (std::size_t i = 0; i < burst; ++i) {
            const std::uint32_t r = remote_of(e[i]), l = local_of(e[i]);
            if (out[i].verdict != dp::verdict::deliver)
                die("ingress verdict " + std::string(dp::to_string(out[i].verdict)) + " (" + std::string(dp::to_string(out[i].reason)) + ")");
            if (out[i].to.vm_mac != vm_mac(l) || load_u32(b.f[i], 26) != ca_u32(r) || load_u32(b.f[i], 30) != ca_u32(l))
                die("ingress rewrote wrongly");
        }
    }
    c.at = 0;
    dp::context count;
    for (auto _ : st) {
        b.reset_fabric(c.next());
        dp::ingress_burst(s, b.f, out, sink, count);
        benchmark::ClobberMemory();
    }
    if (count.count.of(dp::verdict::deliver) != st.iterations() * burst) die("a timed packet was not delivered");
    finish(st);
}

// What the per-iteration reset costs alone.
void bm_reset(benchmark::State& st, table t, bool fabric) {
    cursor c{stream_of(t)};
    bursts b;
    for (auto _ : st) {
        if (fabric) b.reset_fabric(c.next());
        else b.reset_vm(c.next());
        benchmark::DoNotOptimize(b.f.data());
        benchmark::ClobberMemory();
    }
    finish(st);
}

template <class F, class... Args>
void reg(const std::string& name, F fn, Args... args) {
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { fn(st, args...); });
}

[[maybe_unused]] const bool registered = [] {
    reg("rewrite/ipv4/64B/1K/uniform", bm_egress, table::k1, true);
    reg("rewrite/ipv4/64B/1M/uniform", bm_egress, table::m1, true);
    reg("rewrite/baseline/encap/ipv4/64B/1K/uniform", bm_egress, table::k1, false);
    reg("rewrite/baseline/encap/ipv4/64B/1M/uniform", bm_egress, table::m1, false);
    reg("rewrite/step/ipv4/64B/1M/uniform", bm_step, table::m1);
    reg("rewrite/ingress/ipv4/64B/1K/uniform", bm_ingress, table::k1);
    reg("rewrite/ingress/ipv4/64B/1M/uniform", bm_ingress, table::m1);
    reg("reset-only/rewrite/vm/ipv4/64B/1M/uniform", bm_reset, table::m1, false);
    reg("reset-only/rewrite/fabric/ipv4/64B/1M/uniform", bm_reset, table::m1, true);
    return true;
}();

}  // namespace
