// The per-packet datapath with policy in the loop: lookup + encap, decap + anti-spoof lookup,
// and the full egress / ingress pipelines, over 1K / 64K / 1M-record policies, with a naive
// peer (std::unordered_map + field-by-field headers + memmove) and the cost of the buffer reset.
// Targets (docs/performance.md; one core, bursts of 32): encap <= 10 ns (<= 4 ns L2-resident), decap
// <= 10 / 4 ns, full egress <= 15 / 6 ns. The floor is floor/encap/ipv4/64B (encap.bench.cpp).
//
// Policy (as bench/policy.bench.cpp): 100 hosts hv0..hv99 with PAs 192.168.0.(h+1)/16; one
// routing domain + virtual subnet (VSID 5000 + s, route 10.0.0.0/8 on-link) per 1000 records;
// record i has CA 10.0.0.2 + i, MAC 00:15:<i, 32 bits>, and lives on host i % 100, so hv0 (the
// host under test) runs the VMs i % 100 == 0: 10 per subnet. Table sizes: 1K = 1,000 records,
// 64K = 65,536, 1M = 1,000,000; each policy state is built once (function-local static).
//
// Traffic: every packet is one (local VM L of hv0, remote VM R of the same subnet) pair.
// Egress direction (encap, egress, naive): L sends to R. Fabric direction (decap, ingress): R,
// on its host, sent to L. R is uniform over the remote records of the table ("uniform"), or
// Zipf s = 1 over them in a random rank order ("skewed"); L is uniform over hv0's VMs of R's
// subnet. A stream of 2^21 precomputed pairs (4 bytes each: R, L's index in the subnet, and
// the fabric FlowID) is walked 32 packets per iteration, so the keys of the 1M uniform case
// visit ~870K distinct records a cycle and do not stay in the 32 MB L3.
//
// Frames: 32 per burst, each in its own buffer with datapath::recommended_headroom (128) in
// front. Every iteration first resets the burst (part of the timed loop, measured alone by the
// reset-only/... benchmarks): the frame offset/size are restored and the first 64 bytes (the
// whole frame at 64B; never the payload of the 512/1500-byte frames) are copied back from a
// pristine copy, with the pair's MACs, IPv4 addresses and IPv4 header checksum patched in.
// Fabric frames also get their 42 outer bytes from a per-sender-host, per-inner-size copy of
// what egress on that host produced, with the GRE key (VSID, FlowID) patched in. The generator
// of fabric frames is checked byte for byte against the library's own egress on every sender
// host's state (1K policy), at every inner size, before any fabric benchmark runs.
//
// Sizes: "1500B" of egress, decap and ingress is a 1472-byte inner frame (carried()): the
// largest a 1500-byte underlay MTU carries (outer IPv4 packet = inner + 20 + 8 = 1500). A
// 1500-byte inner frame would be dropped by egress (too_big), and the fabric frames are what
// egress on the sender host produces. encap/.../1500B applies the template directly (no MTU
// check) and does use 1500-byte frames.
//
// Variants: the "ipv4" of the names is the provider network (outer headers; the tenant traffic
// is IPv4 throughout). encap/ipv6/64B/1M/uniform runs the same records and traffic over IPv6
// PAs 2001:db8::(h+1)/64 (62-byte outer headers). .../no_huge_pages runs on a 1M state whose
// large arrays (CA index, records, tries) were allocated through policy::small_page_memory()
// (4 KiB pages); every other state uses the default hooks (transparent huge pages advised).
//
// Before timing, every benchmark runs its first 256 bursts untimed and aborts unless every
// frame gets the expected verdict (encap / deliver / anti-spoof pass); after timing it checks
// the counters of every timed packet the same way. Items = packets; "per_pkt" = time/packet.
#include "nvgre/datapath/ca_encap.hpp"
#include "nvgre/datapath/egress.hpp"
#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/flow_hash.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/ingress.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/memory.hpp"
#include "nvgre/policy/state.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/nvgre.hpp"

#include "instructions.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

namespace dp = nvgre::datapath;
namespace pol = nvgre::policy;
namespace wire = nvgre::wire;
using nvgre::ip_address;
using nvgre::ipv4_address;
using nvgre::mac_address;

constexpr std::uint32_t hosts = 100;
constexpr std::uint32_t records_per_subnet = 1000;
constexpr std::uint32_t first_vsid = 5000;
constexpr std::size_t burst = 32;
constexpr std::size_t room = dp::recommended_headroom;
constexpr std::size_t stream_len = std::size_t{1} << 21;  // packets per cycle of a key stream
constexpr std::size_t check_bursts = 256;                 // untimed verdict check before timing
constexpr std::size_t outer_len = dp::encap_header_len_ipv4;  // 42
constexpr std::size_t fabric_inner = 64;                  // inner size the streams' FlowIDs are computed at
constexpr std::size_t max_carried_inner = 1500 - 20 - 8;  // 1472: largest inner frame a 1500-byte underlay carries
constexpr std::size_t fabric_sizes[] = {64, 512, max_carried_inner};  // inner sizes of fabric frames

/// The inner frame size behind a benchmark name's size: "1500B" of egress / decap / ingress
/// is the largest frame the default 1500-byte underlay MTU carries, 1472 bytes.
constexpr std::size_t carried(std::size_t nominal) { return std::min(nominal, max_carried_inner); }

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "pipeline.bench: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

// ---- the policy ----------------------------------------------------------------------------

/// The provider network: IPv4 (the default) or IPv6 (encap/ipv6/...: same records and
/// traffic, IPv6 outer headers).
enum class underlay : std::uint8_t { v4, v6 };

std::uint32_t pa_u32(std::uint32_t host) { return 0xc0a80000u + host + 1; }  // 192.168.0.(h+1)
/// Host h's PA: 192.168.0.(h+1)/16, or 2001:db8::(h+1)/64.
ip_address pa_of(std::uint32_t host, underlay u = underlay::v4) {
    if (u == underlay::v4) return ipv4_address::from_uint(pa_u32(host));
    return nvgre::ipv6_address::from_groups({0x2001, 0xdb8, 0, 0, 0, 0, 0, static_cast<std::uint16_t>(host + 1)});
}
std::uint32_t ca_u32(std::uint32_t i) { return 0x0a000000u + i + 2; }  // 10.x.y.z
mac_address mac_of(std::uint32_t i) {
    return mac_address{{0x00, 0x15, static_cast<std::uint8_t>(i >> 24), static_cast<std::uint8_t>(i >> 16),
                        static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}};
}
nvgre::rdid domain_id(std::uint32_t d) {
    std::array<std::uint8_t, 16> g{};
    g[12] = static_cast<std::uint8_t>(d >> 24);
    g[13] = static_cast<std::uint8_t>(d >> 16);
    g[14] = static_cast<std::uint8_t>(d >> 8);
    g[15] = static_cast<std::uint8_t>(d);
    return nvgre::rdid{g};
}
std::uint32_t subnet_of(std::uint32_t record) { return record / records_per_subnet; }
bool on_hv0(std::uint32_t record) { return record % hosts == 0; }

/// A validated policy of `records` records (see the file comment).
/// Port classifications: none, or every VM NIC classified with DHCP guard, router guard and a
/// maximum bandwidth too large to drop anything (the per-packet cost of the guards and of the
/// bucket, checked and charged: egress/.../classified).
enum class classes : std::uint8_t { none, guarded };

pol::model make_model(std::uint32_t records, underlay u = underlay::v4, classes cls = classes::none) {
    pol::builder b;
    for (std::uint32_t h = 0; h < hosts; ++h)
        b.add(pol::provider_address{"hv" + std::to_string(h), pa_of(h, u), static_cast<std::uint8_t>(u == underlay::v4 ? 16 : 64),
                                    mac_of(0xff000000u + h), 0});
    const std::uint32_t subnets = (records + records_per_subnet - 1) / records_per_subnet;
    for (std::uint32_t s = 0; s < subnets; ++s) {
        b.add(pol::routing_domain{domain_id(s), "", pol::default_router_mac});
        b.add(pol::virtual_subnet{*nvgre::vsid::make(first_vsid + s), domain_id(s), std::nullopt, std::nullopt});
        b.add(pol::customer_route{domain_id(s), *nvgre::vsid::make(first_vsid + s), *nvgre::ip_prefix::parse("10.0.0.0/8"),
                                  ipv4_address{}, pol::default_customer_route_metric});
    }
    if (cls == classes::guarded) {
        pol::port_classification c;
        c.name = "guarded";
        c.dhcp_guard = true;
        c.router_guard = true;
        c.maximum_bandwidth = pol::max_bandwidth;
        c.maximum_burst = pol::max_burst;
        b.add(c);
    }
    for (std::uint32_t i = 0; i < records; ++i)
        b.add(pol::lookup_record{*nvgre::vsid::make(first_vsid + subnet_of(i)), ipv4_address::from_uint(ca_u32(i)),
                                 mac_of(i), pa_of(i % hosts, u), pol::rule::encap, pol::record_type::static_record, "",
                                 cls == classes::guarded ? "guarded" : ""});
    auto r = b.build();
    if (!r) die("policy model refused");
    return std::move(*r.validated);
}

enum class table : std::uint8_t { k1, k64, m1 };
constexpr std::uint32_t records_of(table t) {
    return t == table::k1 ? 1'000u : t == table::k64 ? 65'536u : 1'000'000u;
}
const char* name_of(table t) { return t == table::k1 ? "1K" : t == table::k64 ? "64K" : "1M"; }

/// Large arrays on small pages: .../no_huge_pages (policy/memory.hpp; the default hooks advise
/// transparent huge pages for arrays of 2 MiB and more).
enum class pages : std::uint8_t { huge, small };

/// hv0's state of the policy of size `t` (over an IPv6 underlay, or on small pages: 1M only),
/// built once.
const pol::state& state_of(table t, underlay u = underlay::v4, pages pg = pages::huge, classes cls = classes::none) {
    auto build = [u, cls](table x) {
        auto s = std::make_unique<pol::state>(pol::state::build(make_model(records_of(x), u, cls), "hv0").value());
        if (s->record_count() != records_of(x)) die("state lost records");
        // The embedder numbers this host's VM ports (record i runs on hv0 when i % hosts == 0):
        // port i / hosts, for the by_port_number rows.
        for (std::uint32_t i = 0; i < records_of(x); i += hosts)
            if (!s->bind_port(i / hosts, mac_of(i))) die("cannot number the VM ports");
        // The generators below take domain index = subnet number: check it.
        for (std::uint32_t sub = 0; sub < (records_of(x) + records_per_subnet - 1) / records_per_subnet; ++sub) {
            const pol::subnet_entry* e = s->subnet(first_vsid + sub);
            if (e == nullptr || e->domain != sub) die("domain index != subnet number");
        }
        return s;
    };
    if (cls == classes::guarded) {
        if (t == table::k64 || pg != pages::huge || u != underlay::v4) die("classified ports: 1K and 1M, IPv4 only");
        if (t == table::k1) {
            static const auto s = build(table::k1);
            return *s;
        }
        static const auto s = build(table::m1);
        return *s;
    }
    if (u == underlay::v6) {
        if (t != table::m1 || pg != pages::huge) die("IPv6 underlay: 1M only");
        static const auto s = build(table::m1);
        return *s;
    }
    if (pg == pages::small) {
        if (t != table::m1) die("small pages: 1M only");
        static const auto s = [&] {
            const pol::memory_hooks old = pol::set_large_array_memory(pol::small_page_memory());
            auto built = build(table::m1);
            pol::set_large_array_memory(old);
            return built;
        }();
        return *s;
    }
    switch (t) {
        case table::k1: { static const auto s = build(table::k1); return *s; }
        case table::k64: { static const auto s = build(table::k64); return *s; }
        case table::m1: { static const auto s = build(table::m1); return *s; }
    }
    die("table");
}

// ---- frames --------------------------------------------------------------------------------

/// The first 64 bytes of a VM's IPv4/TCP frame of `size` bytes with MACs, addresses and
/// checksum zero, and the folded sum of its IPv4 header (checksum patched per pair from it).
struct inner_proto {
    std::array<std::byte, 64> head{};
    std::uint32_t base_sum{0};
    std::size_t size{0};
};

inner_proto make_inner_proto(std::size_t size) {
    inner_proto p;
    p.size = size;
    std::mt19937 rng(7637);
    for (auto& b : p.head) b = static_cast<std::byte>(rng());
    const std::span<std::byte> f(p.head);
    wire::ethernet_repr e;
    e.ether_type = wire::ethertype::ipv4;
    e.emit(f);
    wire::ipv4_repr ip;
    ip.protocol = wire::ip_protocol::tcp;
    ip.dont_fragment = true;
    ip.payload_len = static_cast<std::uint16_t>(size - 34);
    ip.emit(f.subspan(14));
    nvgre::detail::store_be16(f.data() + 24, 0);
    p.base_sum = nvgre::checksum::fold(nvgre::checksum::sum(std::span<const std::byte>(f.subspan(14, 20))));
    nvgre::detail::store_be16(f.data() + 34, 49152);  // TCP source port
    nvgre::detail::store_be16(f.data() + 36, 443);    // destination port
    f[46] = std::byte{0x50};                          // data offset 5
    f[47] = std::byte{0x18};                          // PSH ACK
    return p;
}

/// Writes the first 64 bytes of VM `src`'s frame to VM `dst` at `p`: Ethernet destination =
/// dst's MAC (what the ARP proxy answered, and what egress writes), source = src's MAC,
/// IPv4 ca(src) -> ca(dst) with a valid header checksum.
inline void write_inner(std::byte* p, const inner_proto& proto, std::uint32_t src, std::uint32_t dst) noexcept {
    using namespace nvgre::detail;
    std::memcpy(p, proto.head.data(), 64);
    store_be16(p, 0x0015);
    store_be32(p + 2, dst);
    store_be16(p + 6, 0x0015);
    store_be32(p + 8, src);
    const std::uint32_t sa = ca_u32(src), da = ca_u32(dst);
    store_be32(p + 26, sa);
    store_be32(p + 30, da);
    store_be16(p + 24, nvgre::checksum::finish(proto.base_sum + (sa >> 16) + (sa & 0xffffu) + (da >> 16) + (da & 0xffffu)));
}

/// 32 buffers of `stride` bytes, 64-byte aligned.
struct burst_buffers {
    std::size_t stride;
    std::vector<std::byte> storage;
    std::byte* base;
    explicit burst_buffers(std::size_t frame_bytes)
        : stride((room + frame_bytes + 64 + 63) & ~std::size_t{63}), storage(stride * burst + 64) {
        base = storage.data() + ((64 - reinterpret_cast<std::uintptr_t>(storage.data()) % 64) % 64);
        std::mt19937 rng(42);
        for (auto& b : storage) b = static_cast<std::byte>(rng());
    }
    std::span<std::byte> buffer(std::size_t i) noexcept { return {base + i * stride, stride}; }
    std::byte* data(std::size_t i) noexcept { return base + i * stride + room; }
};

// ---- key streams ---------------------------------------------------------------------------

enum class dist : std::uint8_t { uniform, skewed };
const char* name_of(dist d) { return d == dist::uniform ? "uniform" : "skewed"; }

/// One packet's pair: remote record R (bits 0-19), L = hv0's VM number k of R's subnet
/// (bits 20-23), and the FlowID of the fabric frame R -> L (bits 24-31).
inline std::uint32_t remote_of(std::uint32_t e) noexcept { return e & 0xfffffu; }
inline std::uint32_t local_of(std::uint32_t e) noexcept {
    return subnet_of(remote_of(e)) * records_per_subnet + hosts * ((e >> 20) & 0xfu);
}
inline std::uint8_t flow_of(std::uint32_t e) noexcept { return static_cast<std::uint8_t>(e >> 24); }

const std::vector<std::uint32_t>& stream_of(table t, dist d) {
    auto make = [](table t, dist d) {
        const std::uint32_t n = records_of(t);
        std::vector<std::uint32_t> remotes;
        for (std::uint32_t i = 0; i < n; ++i)
            if (!on_hv0(i)) remotes.push_back(i);
        std::mt19937_64 rng(t == table::k1 ? 1 : t == table::k64 ? 2 : 3);
        std::shuffle(remotes.begin(), remotes.end(), rng);  // rank order of the skewed case
        std::vector<double> cdf;
        if (d == dist::skewed) {
            cdf.resize(remotes.size());
            double acc = 0;
            for (std::size_t k = 0; k < remotes.size(); ++k) cdf[k] = acc += 1.0 / static_cast<double>(k + 1);  // Zipf s = 1
        }
        const inner_proto proto = make_inner_proto(fabric_inner);
        std::array<std::byte, 64> tmp{};
        auto s = std::make_unique<std::vector<std::uint32_t>>(stream_len);
        for (auto& e : *s) {
            std::uint32_t r;
            if (d == dist::uniform) {
                r = remotes[rng() % remotes.size()];
            } else {
                const double u = std::uniform_real_distribution<double>(0.0, cdf.back())(rng);
                const auto k = static_cast<std::size_t>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
                r = remotes[std::min(k, remotes.size() - 1)];
            }
            const std::uint32_t in_subnet = std::min(records_per_subnet, n - subnet_of(r) * records_per_subnet);
            const std::uint32_t locals = (in_subnet + hosts - 1) / hosts;
            const auto k = static_cast<std::uint32_t>(rng() % locals);
            e = r | k << 20;
            write_inner(tmp.data(), proto, r, local_of(e));
            e |= std::uint32_t{dp::flow_id_of(tmp).value} << 24;
        }
        return s;
    };
    static std::unique_ptr<std::vector<std::uint32_t>> streams[3][2];
    auto& slot = streams[static_cast<int>(t)][static_cast<int>(d)];
    if (!slot) slot = make(t, d);
    return *slot;
}

// ---- fabric frames: what egress on the sender host produces ---------------------------------

/// Outer headers (42 bytes) of the frames with `inner`-byte inner frames egress on host h
/// sends to hv0, GRE key zeroed: the library's own output on each sender host's state, then
/// checked against write_fabric(). (The outer IPv4 total length and checksum depend on the size.)
struct fabric_generator {
    std::size_t inner;
    std::array<std::array<std::byte, outer_len>, hosts> outer{};
    inner_proto proto;
    explicit fabric_generator(std::size_t size) : inner(size), proto(make_inner_proto(size)) {}
};

/// Writes the first 42 + 64 bytes of the frame remote record `r` sends to hv0's VM `l` (FlowID
/// `flow`): the whole frame at 64B, never the payload of larger inner frames.
inline void write_fabric(std::byte* p, const fabric_generator& g, std::uint32_t r, std::uint32_t l,
                         std::uint8_t flow) noexcept {
    std::memcpy(p, g.outer[r % hosts].data(), outer_len);
    nvgre::detail::store_be32(p + outer_len - 4, (first_vsid + subnet_of(r)) << 8 | flow);
    write_inner(p + outer_len, g.proto, r, l);
}

/// The fabric generator of `inner`-byte inner frames (one of fabric_sizes); all are built and
/// checked together on first use.
const fabric_generator& fabric(std::size_t inner) {
    constexpr std::size_t n_sizes = std::size(fabric_sizes);
    static const auto gens = [] {
        std::array<std::unique_ptr<fabric_generator>, n_sizes> all;
        const pol::model m = make_model(1'000);
        const inner_proto proto64 = make_inner_proto(fabric_inner);  // what the streams' FlowIDs hash
        std::vector<std::byte> buf(room + max_carried_inner + 64);
        std::vector<std::byte> expect(outer_len + max_carried_inner);
        std::array<std::byte, fabric_inner> tmp{};
        dp::no_replication_sink sink;
        for (std::size_t z = 0; z < n_sizes; ++z) all[z] = std::make_unique<fabric_generator>(fabric_sizes[z]);
        for (std::uint32_t h = 1; h < hosts; ++h) {
            const pol::state s = pol::state::build(m, "hv" + std::to_string(h)).value();
            for (std::size_t z = 0; z < n_sizes; ++z) {
                fabric_generator* gen = all[z].get();
                const std::size_t size = gen->inner;
                for (std::uint32_t j = 0; j < 10; ++j) {
                    const std::uint32_t r = h + hosts * j;    // a VM of host h (subnet 0)
                    const std::uint32_t l = hosts * ((j + h) % 10);  // a VM of hv0 (subnet 0)
                    write_inner(buf.data() + room, gen->proto, r, l);
                    dp::frame f(buf, room, size);
                    const dp::outcome o = dp::egress(s, mac_of(r), f, sink);
                    if (o.verdict != dp::verdict::encap || f.size() != outer_len + size)
                        die("egress on hv" + std::to_string(h) + " did not encapsulate (" +
                            std::string(dp::to_string(o.reason)) + ")");
                    const std::byte* got = f.bytes().data();
                    if (j == 0) {
                        std::memcpy(gen->outer[h].data(), got, outer_len);
                        nvgre::detail::store_be32(gen->outer[h].data() + outer_len - 4, 0);
                    }
                    const std::uint8_t flow = nvgre::detail::load_u8(got + outer_len - 1);
                    // write_fabric writes 42 + 64 bytes; the payload behind them is the buffer's.
                    write_fabric(expect.data(), *gen, r, l, flow);
                    std::memcpy(expect.data() + outer_len + 64, buf.data() + room + 64, size - 64);
                    if (std::memcmp(expect.data(), got, f.size()) != 0) die("fabric generator != library egress");
                    // got's inner frame == write_inner's output + the payload (checked above).
                    if (flow != dp::flow_id_of(std::span<const std::byte>(got + outer_len, size)).value)
                        die("FlowID of egress != flow_id_of");
                    // The streams carry the FlowID of the 64-byte frame: it must not depend on size.
                    write_inner(tmp.data(), proto64, r, l);
                    if (flow != dp::flow_id_of(tmp).value) die("FlowID depends on the inner frame size");
                }
            }
        }
        return all;
    }();
    for (const auto& g : gens)
        if (g->inner == inner) return *g;
    die("no fabric generator for " + std::to_string(inner) + "-byte inner frames");
}

// ---- the bursts and their resets -------------------------------------------------------------

/// A burst of VM frames (egress direction) of `size` bytes with per-frame port metadata.
struct vm_burst {
    inner_proto proto;
    burst_buffers buf;
    std::array<dp::frame, burst> f{};
    std::array<mac_address, burst> port{};       // the port each frame came in on (egress)
    std::array<std::uint32_t, burst> port_number{};  // the same port by the embedder's number
    std::array<std::uint32_t, burst> domain{};   // its routing domain index (encap lookup key)
    std::array<std::uint32_t, burst> vsid{};     // its VSID (naive peer key)
    explicit vm_burst(std::size_t size) : proto(make_inner_proto(size)), buf(size) {}

    /// Frames for stream entries [at, at + 32): offset/size restored, 64 bytes rewritten.
    void reset(const std::uint32_t* e, std::size_t frame_offset = room) noexcept {
        for (std::size_t i = 0; i < burst; ++i) {
            const std::uint32_t r = remote_of(e[i]), l = local_of(e[i]);
            f[i] = dp::frame(buf.buffer(i), frame_offset, proto.size);
            write_inner(buf.buffer(i).data() + frame_offset, proto, l, r);
            port[i] = mac_of(l);
            port_number[i] = l / hosts;
            domain[i] = subnet_of(r);
            vsid[i] = first_vsid + subnet_of(r);
        }
    }
};

/// A burst of fabric frames (ingress direction) with `inner`-byte inner frames.
struct fabric_burst {
    const fabric_generator& gen;
    burst_buffers buf;
    std::array<dp::frame, burst> f{};
    explicit fabric_burst(std::size_t inner) : gen(fabric(inner)), buf(outer_len + inner) {}

    /// Frames for stream entries [at, at + 32): offset/size restored, 42 + 64 bytes rewritten.
    void reset(const std::uint32_t* e) noexcept {
        for (std::size_t i = 0; i < burst; ++i) {
            f[i] = dp::frame(buf.buffer(i), room, outer_len + gen.inner);
            write_fabric(buf.data(i), gen, remote_of(e[i]), local_of(e[i]), flow_of(e[i]));
        }
    }
};

/// Walks a stream 32 entries at a time.
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
    const auto packets = static_cast<std::int64_t>(st.iterations() * burst);
    st.SetItemsProcessed(packets);
    st.counters["per_pkt"] =
        benchmark::Counter(static_cast<double>(burst), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void expect_all(std::uint64_t good, std::uint64_t total, const std::string& bench, const char* what) {
    if (good != total)
        die(bench + ": " + std::to_string(total - good) + " of " + std::to_string(total) + " packets did not " + what);
}

/// The timed loop of the benchmarks whose `run()` returns how many packets of the burst came
/// out right: from the start of the stream, reset a burst and run it, then check that every
/// timed packet did (`what` names what they had to do).
template <class Reset, class Run>
void timed_bursts(benchmark::State& st, const std::string& name, cursor& c, Reset&& reset, Run&& run, const char* what) {
    c.at = 0;
    std::uint64_t ok = 0;
    for (auto _ : st) {
        reset(c.next());
        {
            const nvgre::bench::measured_section measured(burst);
            ok += run();
        }
        benchmark::ClobberMemory();
    }
    expect_all(ok, st.iterations() * burst, name, what);
    finish(st);
}

/// Builds a lookup key in place from the IPv4 address at `ca` (a ca_key built in a temporary
/// and copied is assembled from byte stores and read back with one 16-byte load: a
/// store-forwarding stall of ~10 ns a packet on this machine).
inline void set_key(pol::ca_key& k, std::uint32_t scope, const std::byte* ca) noexcept {
    k.scope = scope;
    std::construct_at(&k.address, ipv4_address::from_uint(nvgre::detail::load_be32(ca)));
}

// ---- encap: the library's encap entry point -------------------------------------------------

// datapath::encap_burst (datapath/ca_encap.hpp): per frame the Ethernet and IPv4 header checks,
// the VSID's subnet (its routing domain), the key (domain, inner destination IPv4); the 32
// lookups batched (hash all, prefetch all, probe: one cache line per key, the record_ref in the
// index slot); per frame the header the snapshot compiled for (this host's PA, the record's PA)
// (state::compiled_path), the MTU check, and the encapsulation: inner parse + flow hash, the
// compiled header copied and patched (VSID, TTL, lengths, TOS, FlowID, IPv4 checksum by RFC
// 1624), offload metadata; an outcome per frame.
void bm_encap(benchmark::State& st, const std::string& name, std::size_t size, table t, dist d, underlay u, pages pg) {
    const pol::state& s = state_of(t, u, pg);
    cursor c{stream_of(t, d)};
    vm_burst b(size);
    std::array<dp::outcome, burst> out{};
    auto run = [&]() noexcept -> std::uint32_t {
        dp::encap_burst(s, b.vsid, b.f, out);
        std::uint32_t ok = 0;
        for (const dp::outcome& o : out) ok += o.verdict == dp::verdict::encap;
        return ok;
    };
    // Untimed check: every packet encapsulated toward its record's PA with its VSID.
    std::uint64_t good = 0;
    for (std::size_t k = 0; k < check_bursts; ++k) {
        const std::uint32_t* e = c.next();
        b.reset(e);
        if (run() != burst) die(name + ": a packet was not encapsulated");
        for (std::size_t i = 0; i < burst; ++i) {
            const std::uint32_t r = remote_of(e[i]);
            dp::frame g = b.f[i];
            dp::decap_info info;
            if (!dp::decapsulate(g, info).has_value() || info.outer_destination != pa_of(r % hosts, u) ||
                info.outer_source != pa_of(0, u) || info.vsid.value() != first_vsid + subnet_of(r) || g.size() != size)
                continue;
            good += ipv4_address::from_uint(nvgre::detail::load_be32(g.bytes().data() + 30)) == ipv4_address::from_uint(ca_u32(r));
        }
    }
    expect_all(good, check_bursts * burst, name, "encapsulate correctly");
    timed_bursts(st, name, c, [&](const std::uint32_t* e) { b.reset(e); }, run, "encapsulate");
}

// ---- decap: validation + anti-spoof lookup --------------------------------------------------

// Per packet: decapsulate(f, info) (full parse and validation incl. the outer IPv4 checksum,
// RFC 6040, offsets); the VSID's subnet (state.subnet: its routing domain); the key (domain,
// inner source IPv4); then over the burst find_refs_batch (one cache line per key) and the
// record's PA == outer source.
void bm_decap(benchmark::State& st, const std::string& name, std::size_t size, table t, dist d) {
    const pol::state& s = state_of(t);
    cursor c{stream_of(t, d)};
    fabric_burst b(size);
    std::array<pol::ca_key, burst> keys{};
    std::array<const pol::record_ref*, burst> rec{};
    std::array<ip_address, burst> outer_src{};
    dp::decap_info info;
    auto run = [&]() noexcept -> std::uint32_t {
        for (std::size_t i = 0; i < burst; ++i) {
            dp::frame& f = b.f[i];
            if (!dp::decapsulate(f, info).has_value()) [[unlikely]] {
                keys[i].scope = ~0u;
                continue;
            }
            const pol::subnet_entry* sub = s.subnet(info.vsid.value());
            set_key(keys[i], sub != nullptr ? sub->domain : ~0u, f.bytes().data() + f.offload.inner_l3_offset + 12);
            std::construct_at(&outer_src[i], info.outer_source);
        }
        s.find_refs_batch(keys, rec);
        std::uint32_t ok = 0;
        for (std::size_t i = 0; i < burst; ++i) ok += rec[i] != nullptr && s.provider_at(rec[i]->provider).pa == outer_src[i];
        return ok;
    };
    for (std::size_t k = 0; k < check_bursts; ++k) {
        b.reset(c.next());
        if (run() != burst) die(name + ": a packet failed decap or anti-spoofing");
    }
    timed_bursts(st, name, c, [&](const std::uint32_t* e) { b.reset(e); }, run, "pass decap + anti-spoofing");
}

// ---- the full pipelines ----------------------------------------------------------------------

// egress_burst (its fast path, datapath/egress.hpp): prefetch the 32 port slots; per frame the
// port, the source MAC and CA against the port's own records, the route (LPM); the 32
// destination lookups batched (record_ref: one cache line each); per frame the checks,
// inner destination MAC, MTU, the precomputed next-hop MAC, encapsulate() (headers written
// straight into the headroom, flow hash), counters.
void bm_egress(benchmark::State& st, const std::string& name, std::size_t size, table t, dist d, pages pg,
               bool by_number, classes cls) {
    // by_number: frames enter by the embedder's port number (an array read) instead of by MAC.
    const pol::state& s = state_of(t, underlay::v4, pg, cls);
    cursor c{stream_of(t, d)};
    vm_burst b(size);
    std::array<dp::outcome, burst> out{};
    dp::no_replication_sink sink;
    // Classified: one bucket per VM port number, shared as every datapath thread would.
    dp::port_meters meters(records_of(t) / hosts + 1);
    dp::context check;
    check.share_meters(&meters);
    for (std::size_t k = 0; k < check_bursts; ++k) {
        const std::uint32_t* e = c.next();
        b.reset(e);
        if (by_number) dp::egress_burst(s, b.f, std::span<const std::uint32_t>(b.port_number), out, sink, check);
        else dp::egress_burst(s, b.f, b.port, out, sink, check);
        for (std::size_t i = 0; i < burst; ++i) {
            const std::uint32_t r = remote_of(e[i]);
            if (out[i].verdict != dp::verdict::encap)
                die(name + ": egress verdict " + std::string(dp::to_string(out[i].verdict)) + " (" +
                    std::string(dp::to_string(out[i].reason)) + ")");
            if (out[i].pa != pa_of(r % hosts) || out[i].vsid != first_vsid + subnet_of(r) || b.f[i].size() != outer_len + size)
                die(name + ": egress encapsulated toward the wrong PA / VSID");
        }
    }
    c.at = 0;
    dp::context count;
    count.share_meters(&meters);
    for (auto _ : st) {
        b.reset(c.next());
        {
            const nvgre::bench::measured_section measured(burst);
            if (by_number) dp::egress_burst(s, b.f, std::span<const std::uint32_t>(b.port_number), out, sink, count);
            else dp::egress_burst(s, b.f, b.port, out, sink, count);
        }
        benchmark::ClobberMemory();
    }
    expect_all(count.count.of(dp::verdict::encap), st.iterations() * burst, name, "get verdict encap");
    if (cls == classes::guarded && (count.unmetered != 0 || check.unmetered != 0)) die(name + ": a classified port went unmetered");
    finish(st);
}

// ingress_burst (its fast path, datapath/ingress.hpp): parse + validate every frame
// (packet_layout: outer checksum, GRE/NVGRE rules, inner headers), local PA, subnet; the 64
// source (anti-spoofing) and destination lookups batched (record_ref: one cache line each);
// per frame PA == outer source, destination local with the inner MAC, decapsulation from the
// layout (RFC 6040), source MAC fix-up, counters.
void bm_ingress(benchmark::State& st, const std::string& name, std::size_t size, table t, dist d) {
    const pol::state& s = state_of(t);
    cursor c{stream_of(t, d)};
    fabric_burst b(size);
    std::array<dp::outcome, burst> out{};
    dp::no_replication_sink sink;
    dp::context check;
    for (std::size_t k = 0; k < check_bursts; ++k) {
        const std::uint32_t* e = c.next();
        b.reset(e);
        dp::ingress_burst(s, b.f, out, sink, check);
        for (std::size_t i = 0; i < burst; ++i) {
            if (out[i].verdict != dp::verdict::deliver)
                die(name + ": ingress verdict " + std::string(dp::to_string(out[i].verdict)) + " (" +
                    std::string(dp::to_string(out[i].reason)) + ")");
            if (out[i].to.vm_mac != mac_of(local_of(e[i])) || b.f[i].size() != size)
                die(name + ": ingress delivered to the wrong VM");
        }
    }
    c.at = 0;
    dp::context count;
    for (auto _ : st) {
        b.reset(c.next());
        {
            const nvgre::bench::measured_section measured(burst);
            dp::ingress_burst(s, b.f, out, sink, count);
        }
        benchmark::ClobberMemory();
    }
    expect_all(count.count.of(dp::verdict::deliver), st.iterations() * burst, name, "get verdict deliver");
    finish(st);
}

// ---- the naive peer ----------------------------------------------------------------------------

struct naive_entry {
    ipv4_address pa;
    mac_address mac;  // the PA's MAC (on-link next hop)
};
using naive_map = std::unordered_map<std::uint64_t, naive_entry>;

// Per packet: std::unordered_map find of (port VSID << 32 | inner destination IPv4); memmove
// of the frame 42 bytes up (the frame sits at offset 0 of its buffer: no headroom); outer
// Ethernet, IPv4 (DSCP/ECN copied, full header checksum) and NVGRE (FlowID = flow_id_of the
// inner frame) emitted field by field through the library's reprs.
void bm_naive(benchmark::State& st, const std::string& name, table t, dist d) {
    const pol::state& s = state_of(t);
    static std::unique_ptr<naive_map> maps[3];
    auto& map = maps[static_cast<int>(t)];
    if (!map) {
        map = std::make_unique<naive_map>();
        map->reserve(s.record_count());
        s.for_each_record([&](const pol::record_entry& r, pol::record_id) {
            map->emplace(std::uint64_t{r.vsid} << 32 | r.ca.v4().to_uint(), naive_entry{r.pa.v4(), s.provider_at(r.provider).mac});
        });
    }
    const pol::provider_address& self = s.provider_at(s.local_pa_indices()[0]);
    const ipv4_address self_pa = self.pa.v4();
    const mac_address self_mac = self.mac;
    cursor c{stream_of(t, d)};
    vm_burst b(64);
    auto run = [&]() noexcept -> std::uint32_t {
        std::uint32_t ok = 0;
        for (std::size_t i = 0; i < burst; ++i) {
            std::byte* p = b.buf.buffer(i).data();
            const std::size_t len = b.f[i].size();
            const auto it = map->find(std::uint64_t{b.vsid[i]} << 32 | nvgre::detail::load_be32(p + 30));
            if (it == map->end()) [[unlikely]] continue;
            std::memmove(p + outer_len, p, len);
            const std::span<std::byte> o(p, outer_len + len);
            wire::ethernet_repr e;
            e.destination = it->second.mac;
            e.source = self_mac;
            e.ether_type = wire::ethertype::ipv4;
            e.emit(o);
            const std::uint8_t tos = nvgre::detail::load_u8(p + outer_len + 15);
            wire::ipv4_repr ip;
            ip.source = self_pa;
            ip.destination = it->second.pa;
            ip.protocol = wire::ip_protocol::gre;
            ip.dont_fragment = true;
            ip.dscp = static_cast<std::uint8_t>(tos >> 2);
            ip.ecn = static_cast<std::uint8_t>(tos & 3u);
            ip.payload_len = static_cast<std::uint16_t>(wire::nvgre_header_len + len);
            ip.emit(o.subspan(14));
            wire::nvgre_repr{*nvgre::vsid::make(b.vsid[i]), dp::flow_id_of(o.subspan(outer_len))}.emit(o.subspan(34));
            b.f[i] = dp::frame(b.buf.buffer(i), 0, outer_len + len);
            ++ok;
        }
        return ok;
    };
    // Untimed check: the naive output equals the template path's output (and so egress's).
    for (std::size_t k = 0; k < check_bursts; ++k) {
        const std::uint32_t* e = c.next();
        b.reset(e, 0);
        if (run() != burst) die(name + ": a lookup failed");
        for (std::size_t i = 0; i < burst; ++i) {
            const std::uint32_t r = remote_of(e[i]);
            std::vector<std::byte> ref(room + 64);
            write_inner(ref.data() + room, b.proto, local_of(e[i]), r);
            dp::frame g(ref, room, 64);
            const auto* rec = s.find_record(subnet_of(r), ipv4_address::from_uint(ca_u32(r)));
            if (rec == nullptr) die("record");
            if (!dp::encapsulate(g, dp::encap_params{self_mac, s.provider_at(rec->provider).mac, 0, self.pa, rec->pa,
                                                      *nvgre::vsid::make(rec->vsid), 64, false})
                     .has_value() ||
                std::memcmp(g.bytes().data(), b.f[i].bytes().data(), outer_len + 64) != 0)
                die(name + ": naive encap differs from the library's");
        }
    }
    timed_bursts(st, name, c, [&](const std::uint32_t* e) { b.reset(e, 0); }, run, "encapsulate");
}

// ---- reset-only baselines ------------------------------------------------------------------

// What each benchmark's per-iteration reset costs alone (same streams, same writes).
void bm_reset_vm(benchmark::State& st, std::size_t size, table t, dist d, std::size_t offset) {
    cursor c{stream_of(t, d)};
    vm_burst b(size);
    for (auto _ : st) {
        b.reset(c.next(), offset);
        benchmark::DoNotOptimize(b.f.data());
        benchmark::DoNotOptimize(b.port.data());
        benchmark::DoNotOptimize(b.domain.data());
        benchmark::DoNotOptimize(b.vsid.data());
        benchmark::ClobberMemory();
    }
    finish(st);
}
void bm_reset_fabric(benchmark::State& st, std::size_t size, table t, dist d) {
    cursor c{stream_of(t, d)};
    fabric_burst b(size);
    for (auto _ : st) {
        b.reset(c.next());
        benchmark::DoNotOptimize(b.f.data());
        benchmark::ClobberMemory();
    }
    finish(st);
}

// ---- registration ----------------------------------------------------------------------------

std::string path(const char* kind, std::size_t size, table t, dist d) {
    return std::string(kind) + "/ipv4/" + std::to_string(size) + "B/" + name_of(t) + "/" + name_of(d);
}

/// Registers `fn(st, name, args...)` under `name` (this Google Benchmark has no State::name()).
template <class F, class... Args>
void reg(const std::string& name, F fn, Args... args) {
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { fn(st, name, args...); });
}

[[maybe_unused]] const bool registered = [] {
    constexpr table tables[] = {table::k1, table::k64, table::m1};
    constexpr dist dists[] = {dist::uniform, dist::skewed};
    for (table t : tables)
        for (dist d : dists) {
            reg(path("encap", 64, t, d), bm_encap, std::size_t{64}, t, d, underlay::v4, pages::huge);
            benchmark::RegisterBenchmark(path("reset-only/vm", 64, t, d).c_str(), bm_reset_vm, std::size_t{64}, t, d, room);
        }
    for (std::size_t size : {std::size_t{512}, std::size_t{1500}}) {
        // Inner frames the default 1500-byte underlay carries whole (carried()): the entry point
        // drops what it would have to cut (too-big).
        reg(path("encap", size, table::m1, dist::uniform), bm_encap, carried(size), table::m1, dist::uniform, underlay::v4,
            pages::huge);
        benchmark::RegisterBenchmark(path("reset-only/vm", size, table::m1, dist::uniform).c_str(), bm_reset_vm, size,
                                     table::m1, dist::uniform, room);
    }
    // IPv6 underlay (62-byte outer headers), same records and traffic.
    reg("encap/ipv6/64B/1M/uniform", bm_encap, std::size_t{64}, table::m1, dist::uniform, underlay::v6, pages::huge);
    // The same on 4 KiB pages (what huge pages bring).
    reg("encap/ipv4/64B/1M/uniform/no_huge_pages", bm_encap, std::size_t{64}, table::m1, dist::uniform, underlay::v4,
        pages::small);
    for (table t : tables)
        for (dist d : dists) {
            reg(path("decap", 64, t, d), bm_decap, std::size_t{64}, t, d);
            benchmark::RegisterBenchmark(path("reset-only/fabric", 64, t, d).c_str(), bm_reset_fabric, std::size_t{64},
                                         t, d);
        }
    // Larger frames, 1M uniform: the names say 512B / 1500B; the 1500B inner frame is 1472
    // bytes (carried()), the largest the default 1500-byte underlay MTU carries.
    for (std::size_t size : {std::size_t{512}, std::size_t{1500}}) {
        reg(path("decap", size, table::m1, dist::uniform), bm_decap, carried(size), table::m1, dist::uniform);
        benchmark::RegisterBenchmark(path("reset-only/fabric", size, table::m1, dist::uniform).c_str(), bm_reset_fabric,
                                     carried(size), table::m1, dist::uniform);
    }
    for (table t : tables)
        for (dist d : dists) reg(path("egress", 64, t, d), bm_egress, std::size_t{64}, t, d, pages::huge, false, classes::none);
    reg("egress/ipv4/64B/1M/uniform/no_huge_pages", bm_egress, std::size_t{64}, table::m1, dist::uniform, pages::small, false, classes::none);
    // Every sending port classified (guards and a bucket checked and charged per frame), beside egress/ipv4/64B/1M/uniform.
    for (table t : {table::k1, table::m1})
        reg(path("egress", 64, t, dist::uniform) + "/classified", bm_egress, std::size_t{64}, t, dist::uniform, pages::huge, false,
            classes::guarded);
    for (table t : {table::k1, table::m1})
        reg(path("egress", 64, t, dist::uniform) + "/by_port_number", bm_egress, std::size_t{64}, t, dist::uniform, pages::huge,
            true, classes::none);
    for (std::size_t size : {std::size_t{512}, std::size_t{1500}}) {
        reg(path("egress", size, table::m1, dist::uniform), bm_egress, carried(size), table::m1, dist::uniform, pages::huge,
            false, classes::none);
        benchmark::RegisterBenchmark(path("reset-only/vm/egress", size, table::m1, dist::uniform).c_str(), bm_reset_vm,
                                     carried(size), table::m1, dist::uniform, room);
    }
    for (table t : tables)
        for (dist d : dists) {
            reg(path("ingress", 64, t, d), bm_ingress, std::size_t{64}, t, d);
        }
    for (std::size_t size : {std::size_t{512}, std::size_t{1500}})
        reg(path("ingress", size, table::m1, dist::uniform), bm_ingress, carried(size), table::m1, dist::uniform);
    reg("peer/naive/encap/ipv4/64B/1M/uniform", bm_naive, table::m1, dist::uniform);
    benchmark::RegisterBenchmark("reset-only/naive/ipv4/64B/1M/uniform", bm_reset_vm, std::size_t{64}, table::m1,
                                 dist::uniform, std::size_t{0});
    return true;
}();

}  // namespace
