// nvgre-dpdk --bench: the switch's throughput per lcore, through memory-only ring ports
// (rte_eth_from_rings), in one run.
//
// The policy: 1M lookup records (--records) on 100 hosts hv0..hv99, subnets of 1000 records,
// one routing domain each; this switch is hv0. Each worker lcore has its own ring port (an rx
// ring and a tx ring) pre-loaded with 8192 frames, each in an mbuf whose private area keeps
// the frame as it was sent and the VM port it stands for:
//  - egress: 64-byte TCP frames from 64 VMs of hv0 (VM ports bound per lcore) to random
//    records of their subnets on other hosts: every one is encapsulated;
//  - ingress: the same kind of frames sent by VMs of hv1 to VMs of hv0, encapsulated by hv1's
//    own egress (the library on hv1's policy): every one is delivered;
//  - floor: the egress frames, forwarded by the same worker loop without the pipelines;
//  - adapter: the egress frames through the worker with the pipeline call left out: each mbuf
//    viewed as a frame and committed back unchanged (what the worker adds to the floor).
// The worker receives from its rx ring, runs the burst and sends to its tx ring; after each
// round it takes the frames off its tx ring, restores each to what the VM sent (start,
// length, bytes) and puts it back on its rx ring — in the floor too. No generator thread: the
// main lcore sleeps while the workers run.
//
// Rows are interleaved (floor, adapter, egress, ingress; 1 lcore, then 2) and repeated --repeat times;
// the table shows medians. The counters of every timed run must show every frame encapsulated
// (delivered) and none dropped, else the bench fails.
#include "bench.hpp"
#include "ports.hpp"

#include <nvgre/datapath/egress.hpp>
#include <nvgre/detail/bytes.hpp>
#include <nvgre/policy/builder.hpp>
#include <nvgre/policy/state.hpp>
#include <nvgre/wire/ethernet.hpp>
#include <nvgre/wire/ipv4.hpp>
#include <nvgre/wire/tcp.hpp>

#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace nvgre_dpdk {
namespace {

namespace pol = nvgre::policy;
namespace w = nvgre::wire;

constexpr std::uint32_t hosts = 100;
constexpr std::uint32_t records_per_subnet = 1000;
constexpr std::uint32_t first_vsid = 5000;
constexpr std::uint32_t vms_per_lcore = 64;
constexpr unsigned frames_per_lcore = 8192;
constexpr unsigned ring_size = 16384;
constexpr std::size_t vm_frame_size = 64;
constexpr unsigned max_lcores = 2;

// ---- the synthetic policy ------------------------------------------------------------------

nvgre::ip_address pa_of(std::uint32_t host) { return nvgre::ipv4_address::from_uint(0xc0a80000u + host + 1); }
std::uint32_t ca_of(std::uint32_t record) { return 0x0a000000u + record + 2; }
nvgre::mac_address mac_of(std::uint32_t record) {
    return nvgre::mac_address{{0x00, 0x15, static_cast<std::uint8_t>(record >> 24), static_cast<std::uint8_t>(record >> 16),
                               static_cast<std::uint8_t>(record >> 8), static_cast<std::uint8_t>(record)}};
}
nvgre::rdid domain_of(std::uint32_t subnet) {
    std::array<std::uint8_t, 16> g{};
    g[0] = 0xd0;
    for (int i = 0; i < 4; ++i) g[15 - i] = static_cast<std::uint8_t>(subnet >> (8 * i));
    return nvgre::rdid{g};
}
std::uint32_t host_of(std::uint32_t record) { return record % hosts; }
std::uint32_t subnet_of(std::uint32_t record) { return record / records_per_subnet; }
nvgre::vsid vsid_of_subnet(std::uint32_t subnet) { return *nvgre::vsid::make(first_vsid + subnet); }

std::optional<pol::model> synthetic_policy(std::uint32_t records) {
    pol::builder b;
    for (std::uint32_t h = 0; h < hosts; ++h)
        b.add(pol::provider_address{"hv" + std::to_string(h), pa_of(h), 16, mac_of(0xff000000u + h), 0});
    for (std::uint32_t s = 0; s <= subnet_of(records - 1); ++s) {
        b.add(pol::routing_domain{domain_of(s), "", pol::default_router_mac});
        b.add(pol::virtual_subnet{vsid_of_subnet(s), domain_of(s), std::nullopt, std::nullopt});
        b.add(pol::customer_route{domain_of(s), vsid_of_subnet(s), *nvgre::ip_prefix::parse("10.0.0.0/8"),
                                  nvgre::ipv4_address{}, pol::default_customer_route_metric});
    }
    for (std::uint32_t i = 0; i < records; ++i)
        b.add(pol::lookup_record{vsid_of_subnet(subnet_of(i)), nvgre::ipv4_address::from_uint(ca_of(i)), mac_of(i),
                                 pa_of(host_of(i)), pol::rule::encap, pol::record_type::static_record, ""});
    auto r = b.build();
    if (!r) return std::nullopt;
    return std::move(*r.validated);
}

/// Record `from`'s 64-byte TCP frame to record `to` (MACs and addresses from the policy, a
/// valid IPv4 header checksum).
std::array<std::byte, vm_frame_size> vm_frame(std::uint32_t from, std::uint32_t to, std::uint16_t source_port) {
    std::array<std::byte, vm_frame_size> f{};
    w::ethernet_repr e;
    e.destination = mac_of(to);
    e.source = mac_of(from);
    e.ether_type = w::ethertype::ipv4;
    e.emit(f);
    w::ipv4_repr ip;
    ip.source = nvgre::ipv4_address::from_uint(ca_of(from));
    ip.destination = nvgre::ipv4_address::from_uint(ca_of(to));
    ip.protocol = w::ip_protocol::tcp;
    ip.dont_fragment = true;
    ip.payload_len = static_cast<std::uint16_t>(vm_frame_size - w::ethernet_header_len - w::ipv4_min_header_len);
    ip.emit(std::span(f).subspan(w::ethernet_header_len));
    std::byte* tcp = f.data() + w::ethernet_header_len + w::ipv4_min_header_len;
    nvgre::detail::store_be16(tcp + w::tcp_field::source_port, source_port);
    nvgre::detail::store_be16(tcp + w::tcp_field::destination_port, 443);
    tcp[w::tcp_field::data_offset] = std::byte{0x50};
    tcp[w::tcp_field::flags] = std::byte{w::tcp_flags::ack};
    return f;
}

// ---- one lcore's ring port -------------------------------------------------------------------

struct lcore_rings {
    rte_ring* rx{nullptr};
    rte_ring* tx{nullptr};
    port p;
};

/// Puts `m` back as the VM (or the fabric) sent it: one segment, the recorded bytes at the
/// default headroom, no offload flags.
inline void restore(rte_mbuf* m) noexcept {
    const auto* sent = static_cast<const bench_frame*>(rte_mbuf_to_priv(m));
    m->data_off = RTE_PKTMBUF_HEADROOM;
    m->data_len = sent->length;
    m->pkt_len = sent->length;
    m->ol_flags = 0;
    std::memcpy(rte_pktmbuf_mtod(m, void*), sent->bytes.data(), sent->length);
}

/// After each round: the worker's transmitted frames, restored, back on its rx ring.
void recycle(void* user) noexcept {
    auto* r = static_cast<lcore_rings*>(user);
    std::array<void*, tx_queue_depth> taken;
    const unsigned n = rte_ring_sc_dequeue_burst(r->tx, taken.data(), taken.size(), nullptr);
    for (unsigned k = 0; k < n; ++k) restore(static_cast<rte_mbuf*>(taken[k]));
    rte_ring_sp_enqueue_burst(r->rx, taken.data(), n, nullptr);
}

enum class row : std::uint8_t { floor, adapter, egress, ingress };
constexpr std::size_t rows = 4;
const char* name_of(row r) {
    switch (r) {
        case row::floor: return "floor";
        case row::adapter: return "adapter";
        case row::egress: return "egress";
        case row::ingress: return "ingress";
    }
    return "?";
}

struct run_result {
    double mpps{0};
    std::uint64_t frames{0};
    std::uint64_t switched{0};  ///< encapsulated (egress), delivered (ingress), forwarded (floor)
    std::uint64_t dropped{0};   ///< drop verdicts and tx drops
};

struct launch_args {
    worker* w;
    lcore_rings* rings;
    const std::atomic<bool>* stop;
    const std::atomic<std::uint64_t>* publish;
};

int bench_worker(void* arg) {
    auto* l = static_cast<launch_args*>(arg);
    l->w->run(*l->stop, *l->publish, &recycle, l->rings);
    return 0;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int run_bench(const bench_arguments& a) {
    auto fail = [](const std::string& m) {
        std::fprintf(stderr, "nvgre-dpdk --bench: %s\n", m.c_str());
        return 1;
    };
    std::vector<unsigned> lcores;
    unsigned lc = 0;
    RTE_LCORE_FOREACH_WORKER(lc) lcores.push_back(lc);
    if (lcores.empty()) return fail("no worker lcore: give EAL at least two lcores (e.g. --lcores 0@0,1@1,2@0)");
    const unsigned most = std::min<unsigned>(max_lcores, static_cast<unsigned>(lcores.size()));

    const auto started = std::chrono::steady_clock::now();
    auto model = synthetic_policy(a.records);
    if (!model) return fail("the synthetic policy was refused");
    auto built = pol::state::build(*model, "hv0");
    auto peer = pol::state::build(*model, "hv1");  // makes the fabric frames
    if (!built || !peer) return fail("cannot index the synthetic policy");
    pol::state& hv0 = built.value();
    const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    // Each lcore's VMs: hv0's records, 64 per lcore, bound as VM ports 0..; their partners in
    // the same subnet on other hosts (egress) and on hv1 (ingress).
    std::mt19937 rng(7637);
    std::vector<std::vector<std::uint32_t>> vms(most);
    std::uint32_t next_local = 0;
    for (unsigned l = 0; l < most; ++l)
        for (std::uint32_t k = 0; k < vms_per_lcore; ++k, next_local += hosts) {
            if (next_local >= a.records)
                return fail("--records " + std::to_string(a.records) + ": too few for " + std::to_string(vms_per_lcore) +
                            " VMs of hv0 per lcore (one record in " + std::to_string(hosts) + " is hv0's)");
            if (!hv0.bind_port(l * vms_per_lcore + k, mac_of(next_local))) return fail("cannot bind a VM port");
            vms[l].push_back(next_local);
        }
    auto partner = [&](std::uint32_t vm, bool on_hv1) {
        const std::uint32_t base = subnet_of(vm) * records_per_subnet;
        const std::uint32_t size = std::min(records_per_subnet, a.records - base);
        for (;;) {
            const std::uint32_t r = base + static_cast<std::uint32_t>(rng() % size);
            if (on_hv1 ? host_of(r) == 1 : host_of(r) != 0) return r;
        }
    };

    constexpr auto priv = static_cast<std::uint16_t>(RTE_ALIGN(sizeof(bench_frame), RTE_MBUF_PRIV_ALIGN));
    pools pool;
    if (auto e = pool.create(most, 1, 1500, priv, most * frames_per_lcore)) return fail(*e);

    dp::pipeline_config cfg;
    std::vector<std::unique_ptr<lcore_rings>> rings;
    for (unsigned l = 0; l < most; ++l) {
        auto r = std::make_unique<lcore_rings>();
        const std::string name = "bench" + std::to_string(l);
        r->rx = rte_ring_create((name + "_rx").c_str(), ring_size, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
        r->tx = rte_ring_create((name + "_tx").c_str(), ring_size, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (r->rx == nullptr || r->tx == nullptr) return fail("cannot make the rings: " + std::string(rte_strerror(rte_errno)));
        const int id = rte_eth_from_rings(("net_ring_" + name).c_str(), &r->rx, 1, &r->tx, 1, rte_socket_id());
        if (id < 0) return fail("rte_eth_from_rings: " + std::string(rte_strerror(rte_errno)));
        r->p.id = static_cast<std::uint16_t>(id);
        r->p.name = "net_ring_" + name;
        if (auto e = setup_port(r->p, 1, pool.standard)) return fail(*e);
        rings.push_back(std::move(r));
    }
    offloads_into(cfg, rings[0]->p);

    // The frames: per lcore, egress (VM frames) and ingress (hv1's egress of hv1's VMs' frames).
    std::vector<std::vector<bench_frame>> egress_frames(most), ingress_frames(most);
    {
        dp::no_replication_sink none;
        std::array<std::byte, 512> buffer{};
        for (unsigned l = 0; l < most; ++l)
            for (unsigned j = 0; j < frames_per_lcore; ++j) {
                const std::uint32_t k = j % vms_per_lcore;
                const std::uint32_t vm = vms[l][k];
                const auto port_source = static_cast<std::uint16_t>(49152 + j / vms_per_lcore);
                bench_frame e;
                e.vm_port = l * vms_per_lcore + k;
                e.length = vm_frame_size;
                const auto f = vm_frame(vm, partner(vm, false), port_source);
                std::memcpy(e.bytes.data(), f.data(), f.size());
                egress_frames[l].push_back(e);

                const std::uint32_t from = partner(vm, true);
                const auto g = vm_frame(from, vm, port_source);
                std::memcpy(buffer.data() + dp::recommended_headroom, g.data(), g.size());
                dp::frame fabric(buffer, dp::recommended_headroom, g.size());
                const dp::outcome o = dp::egress(peer.value(), mac_of(from), fabric, none, cfg);
                if (o.verdict != dp::verdict::encap || fabric.size() > e.bytes.size())
                    return fail("hv1 did not encapsulate a fabric frame");
                bench_frame in;
                in.length = static_cast<std::uint16_t>(fabric.size());
                std::memcpy(in.bytes.data(), fabric.bytes().data(), fabric.size());
                ingress_frames[l].push_back(in);
            }
    }

    // Fills lcore l's rx ring with `frames` (taking back whatever the last run left).
    std::vector<std::vector<rte_mbuf*>> mbufs(most);
    for (unsigned l = 0; l < most; ++l) {
        mbufs[l].resize(frames_per_lcore);
        if (rte_pktmbuf_alloc_bulk(pool.standard, mbufs[l].data(), frames_per_lcore) != 0) return fail("too few mbufs");
    }
    auto load = [&](unsigned l, const std::vector<bench_frame>& frames) {
        void* m = nullptr;
        while (rte_ring_sc_dequeue(rings[l]->rx, &m) == 0) {}
        while (rte_ring_sc_dequeue(rings[l]->tx, &m) == 0) {}
        for (unsigned j = 0; j < frames_per_lcore; ++j) {
            rte_mbuf* b = mbufs[l][j];
            *static_cast<bench_frame*>(rte_mbuf_to_priv(b)) = frames[j];
            restore(b);
            rte_ring_sp_enqueue(rings[l]->rx, b);
        }
    };

    auto measure = [&](row what, unsigned count, run_result& out) -> std::optional<std::string> {
        std::atomic<bool> stop{false};
        std::atomic<std::uint64_t> publish{0};
        std::deque<worker> ws;
        std::vector<launch_args> args(count);
        for (unsigned l = 0; l < count; ++l) {
            load(l, what == row::ingress ? ingress_frames[l] : egress_frames[l]);
            port& p = rings[l]->p;
            p.fabric = what == row::ingress;
            p.vm_in_private_area = what != row::ingress;
            worker::settings s;
            s.queue = 0;
            s.pool = pool.standard;
            s.what = what == row::floor ? work::forward : what == row::adapter ? work::adapter_only : work::pipelines;
            s.reflect = true;
            s.vm_ports = std::size_t{most} * vms_per_lcore;
            ws.emplace_back(hv0, cfg, std::span<const port>(&p, 1), s);
            args[l] = {&ws.back(), rings[l].get(), &stop, &publish};
        }
        // lcores[0] runs alone; with two, lcores[0] and lcores[1].
        for (unsigned l = 0; l < count; ++l) rte_eal_remote_launch(bench_worker, &args[l], lcores[l]);
        auto snapshot = [&] {
            const std::uint64_t want = publish.fetch_add(1) + 1;
            worker_counters total;
            for (worker& x : ws) {
                while (x.published() != want) std::this_thread::sleep_for(std::chrono::microseconds(50));
                total += x.counters();
            }
            return total;
        };
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(500u, a.milliseconds / 4)));  // warm-up
        const worker_counters before = snapshot();
        const std::uint64_t t0 = rte_get_timer_cycles();
        std::this_thread::sleep_for(std::chrono::milliseconds(a.milliseconds));
        const worker_counters after = snapshot();
        const std::uint64_t t1 = rte_get_timer_cycles();
        stop.store(true);
        for (unsigned l = 0; l < count; ++l) rte_eal_wait_lcore(lcores[l]);

        const double seconds = static_cast<double>(t1 - t0) / static_cast<double>(rte_get_timer_hz());
        out.frames = after.rx - before.rx;
        out.mpps = static_cast<double>(out.frames) / seconds / 1e6;
        const auto verdict = [&](dp::verdict v) {
            return after.verdicts.of(v) - before.verdicts.of(v);
        };
        std::uint64_t tx_dropped = after.tx_no_port - before.tx_no_port;
        for (std::size_t i = 0; i < max_ports; ++i) tx_dropped += after.ports[i].tx_dropped - before.ports[i].tx_dropped;
        out.dropped = verdict(dp::verdict::drop) + tx_dropped;
        out.switched = what == row::floor || what == row::adapter ? after.tx - before.tx
                       : what == row::egress ? verdict(dp::verdict::encap) : verdict(dp::verdict::deliver);
        // Every frame decided in the window was switched: the counts of the two snapshots are
        // taken between rounds, so frames received = frames decided.
        if (out.switched != out.frames || out.dropped != 0)
            return std::string(name_of(what)) + " on " + std::to_string(count) + " lcore(s): " + std::to_string(out.frames) +
                   " frames received, " + std::to_string(out.switched) + " switched, " + std::to_string(out.dropped) + " dropped";
        return std::nullopt;
    };

    std::printf("dpdk bench: %u records (%u hosts, subnets of %u), this switch hv0; %zu-byte VM frames (%u bytes on the "
                "fabric); %u frames in circulation per lcore over ring ports; %.1f s per run, %u runs, medians; "
                "policy built in %.1f s\n",
                a.records, hosts, records_per_subnet, vm_frame_size, ingress_frames[0][0].length, frames_per_lcore,
                a.milliseconds / 1e3, a.repeat, build_s);
    std::printf("worker lcores:");
    for (unsigned l = 0; l < most; ++l)
        std::printf(" %u (CPU %u)", lcores[l], rte_lcore_to_cpu_id(static_cast<int>(lcores[l])));
    std::printf("; main lcore %u (CPU %u) sleeps\n", rte_get_main_lcore(), rte_lcore_to_cpu_id(static_cast<int>(rte_get_main_lcore())));
    std::fflush(stdout);

    const row order[rows] = {row::floor, row::adapter, row::egress, row::ingress};
    std::vector<double> results[rows][max_lcores];
    std::uint64_t checked[rows][max_lcores] = {};
    for (unsigned rep = 0; rep < a.repeat; ++rep)
        for (unsigned count = 1; count <= most; ++count)
            for (row r : order) {
                run_result res;
                if (auto e = measure(r, count, res)) return fail(*e);
                results[static_cast<int>(r)][count - 1].push_back(res.mpps);
                checked[static_cast<int>(r)][count - 1] += res.frames;
            }

    const int runs_width = std::max(11, static_cast<int>(6 * a.repeat));  // 5 characters and a space a run
    std::printf("\n%-8s %-7s %10s %13s  %-*s %s\n", "row", "lcores", "Mpps", "ns/pkt/lcore", runs_width, "runs (Mpps)",
                "frames checked");
    double med[rows][max_lcores] = {};
    for (row r : order)
        for (unsigned count = 1; count <= most; ++count) {
            const auto& v = results[static_cast<int>(r)][count - 1];
            med[static_cast<int>(r)][count - 1] = median(v);
            std::string runs;
            for (double x : v) runs += (runs.empty() ? "" : " ") + std::to_string(x).substr(0, 5);
            std::printf("%-8s %-7u %10.2f %13.1f  %-*s %llu, all %s\n", name_of(r), count, med[static_cast<int>(r)][count - 1],
                        1e3 * count / med[static_cast<int>(r)][count - 1], runs_width, runs.c_str(),
                        static_cast<unsigned long long>(checked[static_cast<int>(r)][count - 1]),
                        r == row::egress ? "encapsulated" : r == row::ingress ? "delivered" : "forwarded");
        }
    const auto m = [&](row r, unsigned count) { return med[static_cast<int>(r)][count - 1]; };
    const double egress1 = m(row::egress, 1), floor1 = m(row::floor, 1);
    std::printf("\negress / floor, 1 lcore: %.2f (goal >= 0.25); ingress / floor: %.2f; per packet, 1 lcore: the adapter "
                "adds %.1f ns to the floor, the pipeline %.1f ns to the adapter (egress), %.1f ns (ingress)\n",
                egress1 / floor1, m(row::ingress, 1) / floor1, 1e3 / m(row::adapter, 1) - 1e3 / floor1,
                1e3 / egress1 - 1e3 / m(row::adapter, 1), 1e3 / m(row::ingress, 1) - 1e3 / m(row::adapter, 1));
    if (most == 2)
        std::printf("2 lcores / 1: egress %.2f, ingress %.2f, floor %.2f (goal >= 1.8)\n", m(row::egress, 2) / egress1,
                    m(row::ingress, 2) / m(row::ingress, 1), m(row::floor, 2) / floor1);
    if (most == 2)
        std::printf("dpdk bench: egress 1 lcore %.2f Mpps, 2 lcores %.2f Mpps; floor 1 lcore %.2f Mpps\n", egress1,
                    m(row::egress, 2), floor1);
    else
        std::printf("dpdk bench: egress 1 lcore %.2f Mpps, 2 lcores (only one worker lcore given) Mpps; floor 1 lcore %.2f Mpps\n",
                    egress1, floor1);
    for (auto& r : rings) {
        (void)rte_eth_dev_stop(r->p.id);
        (void)rte_eth_dev_close(r->p.id);
    }
    return 0;
}

}  // namespace nvgre_dpdk
