// nvgre-dpdk's rte_mbuf adapter and sink on real mbufs: EAL in memory without huge pages or
// PCI, one mempool. Chains are viewed and committed without a copy; trimmed segments go back
// to the pool; clones share the chain; offload metadata become ol_flags and lengths, and what a
// port cannot do is completed in software with the result the library's own code gives.
#include "mbuf_adapter.hpp"
#include "switch.hpp"

#include <nvgre/checksum/ones_complement.hpp>
#include <nvgre/datapath/egress.hpp>
#include <nvgre/datapath/encap.hpp>
#include <nvgre/datapath/ingress.hpp>
#include <nvgre/policy/loader.hpp>
#include <nvgre/policy/state.hpp>

#include <doctest/doctest.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <array>
#include <cstring>
#include <vector>

namespace {

namespace dp = nvgre::datapath;
using namespace nvgre_dpdk;

rte_mempool* pool() {
    static rte_mempool* p = [] {
        std::array<const char*, 12> args{"nvgre_dpdk_adapter_tests", "--no-huge", "-m", "64", "--no-shconf", "--no-pci", "--no-telemetry",
                                         "--log-level=*:error", "--file-prefix", "nvgre-adapter-test", "--lcores", "0@0"};
        std::vector<char*> argv;
        argv.reserve(args.size());
        for (const char* a : args) argv.push_back(const_cast<char*>(a));
        REQUIRE(rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0);
        rte_mempool* made = rte_pktmbuf_pool_create("test_mbufs", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
        REQUIRE(made != nullptr);
        return made;
    }();
    return p;
}

unsigned in_use() { return rte_mempool_in_use_count(pool()); }

// The live demo's policy: red-web (10.0.0.5) on hv1, red-db (10.0.0.6) on hv2, VSID 5001. (The
// build gives its path; clang-tidy, which compiles this file alone, does not need one.)
#ifndef NVGRE_DEMO_POLICY
#define NVGRE_DEMO_POLICY "examples/policies/demo.policy"
#endif
const nvgre::policy::state& host(const char* name) {
    static const auto loaded = nvgre::policy::load_policy_file(NVGRE_DEMO_POLICY);
    static const auto hv1 = nvgre::policy::state::build(*loaded.validated, "hv1").value();
    static const auto hv2 = nvgre::policy::state::build(*loaded.validated, "hv2").value();
    return std::string_view(name) == "hv1" ? hv1 : hv2;
}

/// red-web (10.0.0.5) to red-db (10.0.0.6): Ethernet / IPv4 / TCP / payload, `size` bytes, the
/// TCP checksum holding the pseudo-header sum (a partial checksum, as a VM with checksum
/// offload sends it).
std::vector<std::byte> tcp_frame(std::size_t size) {
    std::vector<std::byte> f(size);
    const unsigned char head[] = {0x00, 0x15, 0x5d, 0x00, 0x00, 0x06, 0x00, 0x15, 0x5d, 0x00, 0x00, 0x05, 0x08, 0x00,
                                  0x45, 0x00, 0,    0,    0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0,    0,
                                  0x0a, 0x00, 0x00, 0x05, 0x0a, 0x00, 0x00, 0x06};
    std::memcpy(f.data(), head, sizeof head);
    nvgre::detail::store_be16(f.data() + 16, static_cast<std::uint16_t>(size - 14));
    nvgre::detail::store_be16(f.data() + 24, nvgre::checksum::ipv4_header_checksum(std::span(f).subspan(14, 20)));
    f[34 + 12] = std::byte{0x50};
    for (std::size_t i = 54; i < size; ++i) f[i] = std::byte{static_cast<unsigned char>(i * 7 + 3)};
    // The pseudo-header sum (addresses, protocol, TCP length), not complemented.
    std::uint32_t pseudo = 0x0a00 + 0x0005 + 0x0a00 + 0x0006 + 6 + static_cast<std::uint32_t>(size - 34);
    nvgre::detail::store_be16(f.data() + 34 + 16, nvgre::checksum::fold(pseudo));
    return f;
}

/// A chain of mbufs holding `bytes`: `first` bytes in the first (behind the default headroom),
/// the rest in segments of `rest` bytes.
rte_mbuf* chain_of(const std::vector<std::byte>& bytes, std::size_t first, std::size_t rest) {
    rte_mbuf* head = rte_pktmbuf_alloc(pool());
    REQUIRE(head != nullptr);
    std::size_t at = std::min(first, bytes.size());
    std::memcpy(rte_pktmbuf_append(head, static_cast<std::uint16_t>(at)), bytes.data(), at);
    while (at < bytes.size()) {
        rte_mbuf* s = rte_pktmbuf_alloc(pool());
        REQUIRE(s != nullptr);
        const std::size_t n = std::min(rest, bytes.size() - at);
        std::memcpy(rte_pktmbuf_append(s, static_cast<std::uint16_t>(n)), bytes.data() + at, n);
        REQUIRE(rte_pktmbuf_chain(head, s) == 0);
        at += n;
    }
    return head;
}

std::vector<std::byte> gather(const rte_mbuf* m) {
    std::vector<std::byte> out;
    for (const rte_mbuf* s = m; s != nullptr; s = s->next) {
        const auto* p = rte_pktmbuf_mtod(s, const std::byte*);
        out.insert(out.end(), p, p + s->data_len);
    }
    return out;
}

std::vector<const rte_mbuf*> segments(const rte_mbuf* m) {
    std::vector<const rte_mbuf*> out;
    for (; m != nullptr; m = m->next) out.push_back(m);
    return out;
}

}  // namespace

TEST_CASE("mbuf adapter: a chained frame through egress on hv1 and ingress on hv2, never linearised") {
    const unsigned before = in_use();
    const auto sent = tcp_frame(5000);
    rte_mbuf* m = chain_of(sent, 1000, 1800);
    REQUIRE(m->nb_segs == 4);
    const auto segs = segments(m);
    const std::byte* second_data = rte_pktmbuf_mtod(m->next, const std::byte*);

    dp::pipeline_config cfg;
    cfg.underlay_mtu = 9000;
    dp::no_replication_sink none;
    dp::frame f = mbuf_adapter::view(*m);
    CHECK(f.size() == 1000);
    CHECK(f.total_size() == 5000);
    CHECK(f.headroom() == RTE_PKTMBUF_HEADROOM);
    dp::outcome o = dp::egress(host("hv1"), *nvgre::mac_address::parse("00:15:5d:00:00:05"), f, none, cfg);
    REQUIRE(o.verdict == dp::verdict::encap);
    mbuf_adapter::commit(*m, f);
    CHECK(m->data_off == RTE_PKTMBUF_HEADROOM - 42);
    CHECK(m->data_len == 1042);
    CHECK(m->pkt_len == 5042);
    CHECK(m->nb_segs == 4);
    CHECK(segments(m) == segs);                                         // the same mbufs
    CHECK(rte_pktmbuf_mtod(m->next, const std::byte*) == second_data);  // where they were
    CHECK((m->ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK) == RTE_MBUF_F_TX_TUNNEL_GRE);
    CHECK(static_cast<unsigned>(m->outer_l2_len) == 14);
    CHECK(static_cast<unsigned>(m->outer_l3_len) == 20);

    dp::frame g = mbuf_adapter::view(*m);
    o = dp::ingress(host("hv2"), g, none, cfg);
    REQUIRE(o.verdict == dp::verdict::deliver);
    mbuf_adapter::commit(*m, g);
    CHECK(gather(m) == sent);
    CHECK(m->pkt_len == 5000);
    CHECK(segments(m) == segs);
    CHECK((m->ol_flags & tx_offload_flags) == 0);
    rte_pktmbuf_free(m);
    CHECK(in_use() == before);
}

TEST_CASE("mbuf adapter: commit of a shorter packet trims the last segment kept and frees the rest") {
    const unsigned before = in_use();
    const auto bytes = tcp_frame(3000);
    for (const std::size_t keep : {std::size_t{2500}, std::size_t{2000}, std::size_t{1300}, std::size_t{600}}) {
        CAPTURE(keep);
        rte_mbuf* m = chain_of(bytes, 1000, 1000);
        dp::frame f = mbuf_adapter::view(*m);
        REQUIRE(f.set_total_size(keep));
        mbuf_adapter::commit(*m, f);
        CHECK(m->pkt_len == keep);
        CHECK(rte_pktmbuf_pkt_len(m) == gather(m).size());
        CHECK(m->nb_segs == (keep + 999) / 1000);
        CHECK(gather(m) == std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(keep)));
        CHECK(rte_mbuf_check(m, 1, nullptr) == 0);
        rte_pktmbuf_free(m);
    }
    CHECK(in_use() == before);
}

TEST_CASE("worker sink: clones copy the first segment and share the chain; every buffer comes back") {
    const unsigned before = in_use();
    const auto bytes = tcp_frame(4000);
    rte_mbuf* m = chain_of(bytes, 1500, 1500);
    dp::pipeline_config cfg;
    worker::settings s;
    s.pool = pool();
    worker w(host("hv1"), cfg, {}, s);
    const dp::frame f = mbuf_adapter::view(*m);
    dp::frame* c = w.clone(f, 128);
    REQUIRE(c != nullptr);
    CHECK(c->headroom() >= 128);
    CHECK(c->size() == f.size());
    CHECK(c->total_size() == f.total_size());
    CHECK(c->bytes().data() != f.bytes().data());  // a new first segment
    CHECK(rte_mbuf_refcnt_read(m->next) == 2);      // the chain shared (indirect mbufs)
    // The clone's first mbuf (a pool's mbuf header sits right before its buffer) is a valid
    // packet already: segments counted, pkt_len their sum.
    const auto* head = static_cast<const rte_mbuf*>(RTE_PTR_SUB(c->buffer().data(), sizeof(rte_mbuf)));
    CHECK(rte_mbuf_check(head, 1, nullptr) == 0);
    CHECK(head->nb_segs == m->nb_segs);
    CHECK(head->pkt_len == bytes.size());
    std::vector<std::byte> copied(c->total_size());
    CHECK(dp::copy_out(*c, 0, copied));
    CHECK(copied == bytes);
    w.discard(*c);
    CHECK(rte_mbuf_refcnt_read(m->next) == 1);
    CHECK(w.allocate(100000, 128) == nullptr);  // bigger than any pool's buffer: no-buffer
    dp::frame* a = w.allocate(1000, 128);
    REQUIRE(a != nullptr);
    CHECK(a->size() == 1000);
    CHECK(a->headroom() == 128);
    w.discard(*a);
    rte_pktmbuf_free(m);
    CHECK(in_use() == before);
}

TEST_CASE("offloads: the NIC's flags when the pipeline leaves work to it, software when the port cannot") {
    const auto bytes = tcp_frame(400);
    dp::pipeline_config cfg;
    cfg.outer_ipv4_checksum_by_hardware = true;
    cfg.inner_checksum_by_hardware = true;
    dp::no_replication_sink none;

    // What the library computes in software for the same frame: the reference.
    rte_mbuf* ref = chain_of(bytes, 400, 0);
    dp::pipeline_config soft;
    dp::frame rf = mbuf_adapter::view(*ref);
    rf.offload.checksum_partial = true;
    rf.offload.checksum_start = 34;
    rf.offload.checksum_offset = 16;
    REQUIRE(dp::egress(host("hv1"), *nvgre::mac_address::parse("00:15:5d:00:00:05"), rf, none, soft).verdict == dp::verdict::encap);
    mbuf_adapter::commit(*ref, rf);
    CHECK((ref->ol_flags & tx_offload_flags) == (RTE_MBUF_F_TX_TUNNEL_GRE | RTE_MBUF_F_TX_OUTER_IPV4));

    rte_mbuf* m = chain_of(bytes, 400, 0);
    dp::frame f = mbuf_adapter::view(*m);
    f.offload.checksum_partial = true;
    f.offload.checksum_start = 34;
    f.offload.checksum_offset = 16;
    REQUIRE(dp::egress(host("hv1"), *nvgre::mac_address::parse("00:15:5d:00:00:05"), f, none, cfg).verdict == dp::verdict::encap);
    mbuf_adapter::commit(*m, f);
    CHECK((m->ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK) == RTE_MBUF_F_TX_TUNNEL_GRE);
    CHECK((m->ol_flags & RTE_MBUF_F_TX_OUTER_IPV4) != 0);
    CHECK((m->ol_flags & RTE_MBUF_F_TX_OUTER_IP_CKSUM) != 0);
    CHECK((m->ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM);
    CHECK((m->ol_flags & RTE_MBUF_F_TX_IPV4) != 0);
    CHECK(static_cast<unsigned>(m->outer_l2_len) == 14);
    CHECK(static_cast<unsigned>(m->outer_l3_len) == 20);
    CHECK(static_cast<unsigned>(m->l2_len) == 8 + 14);  // GRE + the inner Ethernet header
    CHECK(static_cast<unsigned>(m->l3_len) == 20);
    CHECK(gather(m) != gather(ref));  // two checksums left undone

    SUBCASE("a port with every offload: the flags stay for the NIC") {
        const std::uint64_t all = RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
                                  RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO;
        const auto undone = gather(m);
        CHECK(complete_in_software(*m, all));
        CHECK((m->ol_flags & RTE_MBUF_F_TX_OUTER_IP_CKSUM) != 0);
        CHECK(gather(m) == undone);
    }
    SUBCASE("a port without them: the same bytes as the library's software path, no flags left") {
        CHECK(complete_in_software(*m, 0));
        CHECK((m->ol_flags & tx_offload_flags) == 0);
        CHECK(gather(m) == gather(ref));
    }
    SUBCASE("a port with the outer checksum only") {
        CHECK(complete_in_software(*m, RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM));
        CHECK((m->ol_flags & RTE_MBUF_F_TX_L4_MASK) == 0);
        CHECK((m->ol_flags & RTE_MBUF_F_TX_OUTER_IP_CKSUM) != 0);
        const auto done = gather(m);
        const auto expected = gather(ref);
        CHECK(std::equal(done.begin() + 34, done.end(), expected.begin() + 34));  // the inner packet
    }
    rte_pktmbuf_free(m);
    rte_pktmbuf_free(ref);
}

TEST_CASE("offloads: a TSO send left to a NIC with GRE tunnel TSO, in DPDK's form, never linearised") {
    const unsigned before = in_use();
    auto bytes = tcp_frame(8054);  // 8000 bytes of TCP payload
    rte_mbuf* m = chain_of(bytes, 1000, 1800);
    const auto segs = segments(m);
    dp::pipeline_config cfg;
    cfg.outer_ipv4_checksum_by_hardware = true;
    cfg.inner_checksum_by_hardware = true;
    cfg.segmentation_by_hardware = true;
    dp::no_replication_sink none;
    dp::frame f = mbuf_adapter::view(*m);
    f.offload.checksum_partial = true;
    f.offload.checksum_start = 34;
    f.offload.checksum_offset = 16;
    f.offload.segment_size = 1400;
    const dp::outcome o = dp::egress(host("hv1"), *nvgre::mac_address::parse("00:15:5d:00:00:05"), f, none, cfg);
    REQUIRE(o.verdict == dp::verdict::encap);
    CHECK(o.copies == 0);
    mbuf_adapter::commit(*m, f);
    CHECK(m->pkt_len == 8054 + 42);
    CHECK(segments(m) == segs);
    const std::uint64_t want = RTE_MBUF_F_TX_TUNNEL_GRE | RTE_MBUF_F_TX_OUTER_IPV4 | RTE_MBUF_F_TX_OUTER_IP_CKSUM |
                               RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_TCP_SEG;
    CHECK((m->ol_flags & tx_offload_flags) == want);
    CHECK(static_cast<unsigned>(m->tso_segsz) == 1400);
    CHECK(static_cast<unsigned>(m->l2_len) == 8 + 14);
    CHECK(static_cast<unsigned>(m->l3_len) == 20);
    CHECK(static_cast<unsigned>(m->l4_len) == 20);
    // DPDK's own helper says what the TCP field must hold for TSO: the pseudo-header sum
    // without the length; the inner IPv4 checksum is zero, for the NIC.
    const auto* inner_ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, 42 + 14);
    std::uint16_t field = 0;
    std::memcpy(&field, rte_pktmbuf_mtod_offset(m, const std::byte*, 42 + 34 + 16), 2);
    CHECK(field == rte_ipv4_phdr_cksum(inner_ip, m->ol_flags));
    CHECK(inner_ip->hdr_checksum == 0);
    CHECK(complete_in_software(*m, RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO | RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM |
                                       RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM));
    CHECK((m->ol_flags & tx_offload_flags) == want);
    CHECK(!complete_in_software(*m, RTE_ETH_TX_OFFLOAD_TCP_TSO));  // plain TSO cannot cut a tunnel: dropped
    rte_pktmbuf_free(m);

    // Without segmentation by the NIC the same send is cut by egress into 6 segments.
    rte_mbuf* n = chain_of(bytes, 1000, 1800);
    dp::frame g = mbuf_adapter::view(*n);
    g.offload.segment_size = 1400;
    struct counting_sink {
        std::vector<std::vector<std::byte>> sent;
        std::array<std::byte, 2048> storage{};
        dp::frame slot;
        dp::frame* allocate(std::size_t size, std::size_t headroom) noexcept {
            slot = dp::frame(storage, headroom, size);
            return &slot;
        }
        void send(dp::frame& x, const dp::destination&) { sent.emplace_back(x.bytes().begin(), x.bytes().end()); }
        void discard(dp::frame&) noexcept {}
    } pieces;
    dp::pipeline_config soft;
    CHECK(dp::egress(host("hv1"), *nvgre::mac_address::parse("00:15:5d:00:00:05"), g, pieces, soft).copies == 6);
    CHECK(pieces.sent.size() == 6);
    rte_pktmbuf_free(n);
    CHECK(in_use() == before);
}
