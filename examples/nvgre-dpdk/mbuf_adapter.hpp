// The rte_mbuf adapter of nvgre-dpdk: how a DPDK packet becomes a datapath::frame and takes
// the frame back. This is the file to copy into one's own DPDK application.
//
//  - view(): the first segment's buffer (buf_addr, buf_len) with data_off bytes of headroom and
//    data_len bytes of packet; further segments (m->next) become frame::tail, walked by
//    walk_mbuf() and never copied or linearised.
//  - commit(): the new data_off / data_len of the first segment, pkt_len = the packet's total
//    length (segments the packet no longer reaches are freed, nb_segs follows), and the offload
//    metadata mapped onto ol_flags, l2_len, l3_len, l4_len, tso_segsz and the outer_* fields.
//  - complete_in_software(): what a port cannot do of those flags (its tx_offload_capa), done
//    before the mbuf goes to the port.
#pragma once

#include <nvgre/chain.hpp>
#include <nvgre/checksum/ones_complement.hpp>
#include <nvgre/datapath/frame.hpp>
#include <nvgre/datapath/offload.hpp>
#include <nvgre/detail/bytes.hpp>
#include <nvgre/wire/ethernet.hpp>
#include <nvgre/wire/ip_protocol.hpp>
#include <nvgre/wire/ipv4.hpp>
#include <nvgre/wire/ipv6.hpp>
#include <nvgre/wire/tcp.hpp>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre_dpdk {

namespace dp = nvgre::datapath;

/// One segment of an mbuf chain for nvgre::chain: its packet bytes and the next segment.
inline nvgre::segment walk_mbuf(const void* handle) noexcept {
    const auto* m = static_cast<const rte_mbuf*>(handle);
    return {std::span<std::byte>(rte_pktmbuf_mtod(m, std::byte*), m->data_len), m->next};
}

/// The transmit offload flags commit() may set; cleared before each commit.
inline constexpr std::uint64_t tx_offload_flags =
    RTE_MBUF_F_TX_TUNNEL_MASK | RTE_MBUF_F_TX_OUTER_IPV4 | RTE_MBUF_F_TX_OUTER_IPV6 | RTE_MBUF_F_TX_OUTER_IP_CKSUM |
    RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG;

/// Where a UDP header keeps its checksum (RFC 768; nvgre/wire/udp.hpp has no field table).
inline constexpr std::uint16_t udp_checksum_field = 6;

namespace detail {

/// The EtherType of the Ethernet frame at `at` of `f` (after its tags) and where its L3 header
/// starts, as wire::ethernet_view reads them; {0, 0} when the frame is cut short.
struct l2_info {
    std::uint16_t ether_type{0};
    std::size_t l3{0};
};
inline l2_info l2_of(const dp::frame& f, std::size_t at) noexcept {
    namespace w = nvgre::wire;
    const std::span<const std::byte> b = f.bytes();
    if (at > b.size()) return {};
    const auto e = w::ethernet_view::checked(b.subspan(at));
    if (!e) return {};
    return {e->ether_type(), at + w::ethernet_header_len + e->tag_count() * w::vlan_tag_len};
}

/// DPDK's TSO form of the headers of a TCP send the NIC segments (l3: its IP header, inside
/// the frame; the TCP header's checksum field in the first segment, as the pipeline checked):
/// the IPv4 header checksum zeroed for the NIC, and the TCP checksum field set to the
/// pseudo-header sum without the TCP length.
inline void pseudo_header_for_tso(const dp::frame& f, std::size_t l3, bool v6) noexcept {
    namespace w = nvgre::wire;
    const auto b = f.bytes();
    std::byte* field = b.data() + f.offload.checksum_start + w::tcp_field::checksum;
    std::uint32_t sum = w::ip_protocol::tcp;
    if (v6) {
        sum += nvgre::checksum::sum(std::span<const std::byte>(b.data() + l3 + w::ipv6_field::source, 32));
    } else {
        sum += nvgre::checksum::sum(std::span<const std::byte>(b.data() + l3 + w::ipv4_field::source, 8));
        nvgre::detail::store_be16(b.data() + l3 + w::ipv4_field::checksum, 0);
    }
    nvgre::detail::store_be16(field, nvgre::checksum::fold(sum));
}

}  // namespace detail

/// dp::frame_adapter for rte_mbuf.
struct mbuf_adapter {
    /// The frame of `m`: its first segment with headroom and tailroom, and the chain behind it.
    /// Frames from the ports used here carry no receive offload metadata (af_packet, tap and
    /// ring ports hand over finished frames), so the offload fields start empty.
    static dp::frame view(rte_mbuf& m) noexcept {
        dp::frame f(std::span<std::byte>(static_cast<std::byte*>(m.buf_addr), m.buf_len), m.data_off, m.data_len);
        if (m.next != nullptr && m.pkt_len > m.data_len) f.tail = nvgre::chain(m.next, &walk_mbuf, m.pkt_len - m.data_len);
        return f;
    }

    /// Takes `f` (a view of `m`) back into `m`: start, lengths, chain and offload flags.
    static void commit(rte_mbuf& m, const dp::frame& f) noexcept {
        m.data_off = static_cast<std::uint16_t>(f.data_offset());
        m.data_len = static_cast<std::uint16_t>(f.size());
        // Keep the segments the packet still reaches (decap cuts padding off the end; an answer
        // built in place drops the chain), trim the last one kept, free the rest.
        std::size_t left = f.tail.length();
        rte_mbuf* last = &m;
        std::uint16_t segments = 1;
        rte_mbuf* s = m.next;
        for (; s != nullptr && left != 0; s = s->next) {
            if (s->data_len > left) s->data_len = static_cast<std::uint16_t>(left);
            left -= s->data_len;
            last = s;
            ++segments;
        }
        if (s != nullptr) {
            last->next = nullptr;
            rte_pktmbuf_free(s);
        }
        m.nb_segs = segments;
        m.pkt_len = static_cast<std::uint32_t>(f.total_size());
        set_offload_flags(m, f);
    }

    /// The offload metadata of `f` as DPDK transmit flags and lengths (rte_mbuf_core.h):
    /// an encapsulated frame is a GRE tunnel packet (outer_l2_len, outer_l3_len; l2_len =
    /// GRE header + inner Ethernet), with the outer IPv4 checksum left to the NIC when the
    /// pipeline left it; a pending partial TCP/UDP checksum asks for the NIC's L4 checksum;
    /// a segment size that is still set asks for TSO, in DPDK's form: the inner IPv4 checksum
    /// to the NIC too (field zeroed), the TCP field holding the pseudo-header sum without the
    /// length (a partial checksum has it with the length: rte_ipv4_phdr_cksum's two cases).
    static void set_offload_flags(rte_mbuf& m, const dp::frame& f) noexcept {
        namespace w = nvgre::wire;
        const dp::offload_info& o = f.offload;
        std::uint64_t flags = m.ol_flags & ~tx_offload_flags;
        m.tx_offload = 0;
        std::size_t inner = 0;  // where the tenant frame starts
        if (o.encapsulated) {
            // Encapsulation writes no IPv4 options: a 40-byte outer header is IPv6.
            flags |= RTE_MBUF_F_TX_TUNNEL_GRE;
            flags |= o.outer_l3_len == w::ipv6_header_len ? RTE_MBUF_F_TX_OUTER_IPV6 : RTE_MBUF_F_TX_OUTER_IPV4;
            if (o.outer_ipv4_checksum_by_hardware) flags |= RTE_MBUF_F_TX_OUTER_IP_CKSUM;
            m.outer_l2_len = o.outer_l2_len;
            m.outer_l3_len = o.outer_l3_len;
            inner = o.inner_l2_offset;
        }
        if (o.checksum_partial) {
            const detail::l2_info l2 = detail::l2_of(f, inner);
            const bool v6 = l2.ether_type == w::ethertype::ipv6;
            flags |= v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4;
            // The checksum field's offset inside the L4 header tells TCP (16) from UDP (6).
            const bool tcp = o.checksum_offset == w::tcp_field::checksum;
            flags |= tcp ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM;
            // l2_len counts from the end of the outer IP header: the GRE header and the inner
            // Ethernet header of a tunnel packet (DPDK's convention), the Ethernet header else.
            const std::size_t l2_start = o.encapsulated ? std::size_t{o.outer_l2_len} + o.outer_l3_len : 0;
            m.l2_len = static_cast<std::uint16_t>(l2.l3 - l2_start) & 0x7f;
            m.l3_len = static_cast<std::uint16_t>(o.checksum_start - l2.l3) & 0x1ff;
            if (o.segment_size != 0 && tcp) {
                const auto b = f.bytes();
                const std::size_t doff = o.checksum_start + w::tcp_field::data_offset;
                m.l4_len = doff < b.size() ? (std::to_integer<std::size_t>(b[doff]) >> 4) * 4 : w::tcp_min_header_len;
                m.tso_segsz = o.segment_size;
                flags |= RTE_MBUF_F_TX_TCP_SEG;
                detail::pseudo_header_for_tso(f, l2.l3, v6);
                if (!v6) flags |= RTE_MBUF_F_TX_IP_CKSUM;
            }
        }
        m.ol_flags = flags;
    }
};
static_assert(dp::frame_adapter<mbuf_adapter, rte_mbuf>);

/// What a port's tx_offload_capa cannot do of `m`'s transmit flags, done in software before
/// the mbuf goes out: the outer IPv4 checksum, a partial TCP/UDP checksum. False when a flag
/// asks for something software cannot do here — TSO on a port without it: the pipelines leave
/// segmentation to the NIC only when the fabric port reported tunnel TSO
/// (pipeline_config::segmentation_by_hardware) — and the caller drops the mbuf.
inline bool complete_in_software(rte_mbuf& m, std::uint64_t tx_capa) noexcept {
    namespace w = nvgre::wire;
    const bool tunnel = (m.ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK) != 0;
    const std::uint64_t tso = tunnel ? RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO : RTE_ETH_TX_OFFLOAD_TCP_TSO;
    if ((m.ol_flags & RTE_MBUF_F_TX_TCP_SEG) != 0) return (tx_capa & tso) != 0;  // the NIC does it all
    if ((m.ol_flags & RTE_MBUF_F_TX_OUTER_IP_CKSUM) != 0 && (tx_capa & RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM) == 0) {
        auto* ip = rte_pktmbuf_mtod_offset(&m, std::byte*, m.outer_l2_len);
        nvgre::detail::store_be16(ip + w::ipv4_field::checksum,  // (the sum skips the field)
                                  nvgre::checksum::ipv4_header_checksum(std::span<const std::byte>(ip, m.outer_l3_len)));
        m.ol_flags &= ~RTE_MBUF_F_TX_OUTER_IP_CKSUM;
    }
    const std::uint64_t l4 = m.ol_flags & RTE_MBUF_F_TX_L4_MASK;
    const std::uint64_t need = l4 == RTE_MBUF_F_TX_TCP_CKSUM ? RTE_ETH_TX_OFFLOAD_TCP_CKSUM : RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    // Inside a tunnel the NIC must also parse GRE: only a port with GRE tunnel TSO says so.
    const bool can = (tx_capa & need) != 0 && (!tunnel || (tx_capa & RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO) != 0);
    if (l4 != 0 && !can) {
        dp::frame f = mbuf_adapter::view(m);
        const std::size_t l2_start = tunnel ? std::size_t{m.outer_l2_len} + m.outer_l3_len : 0;
        f.offload.checksum_partial = true;
        f.offload.checksum_start = static_cast<std::uint16_t>(l2_start + m.l2_len + m.l3_len);
        f.offload.checksum_offset = l4 == RTE_MBUF_F_TX_TCP_CKSUM ? w::tcp_field::checksum : udp_checksum_field;
        if (!dp::complete_checksum(f, l4 == RTE_MBUF_F_TX_UDP_CKSUM)) return false;
        m.ol_flags &= ~(RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6);
    }
    if ((m.ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_OUTER_IP_CKSUM | RTE_MBUF_F_TX_TCP_SEG)) == 0)
        m.ol_flags &= ~tx_offload_flags;  // nothing left for the NIC: a plain frame
    return true;
}

}  // namespace nvgre_dpdk
