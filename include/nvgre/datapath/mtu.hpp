/// @file datapath/mtu.hpp
/// @brief What egress does with a frame too big for the underlay once encapsulated
/// (docs/hnv-rules.md, wire rule 7; RFC 4459): the outer packet is never fragmented; instead
///  1. a TCP segment the sender asked to have segmented (offload_info::segment_size, TSO) whose
///     segments fit — or any oversize TCP segment when the pipeline is configured with `gso` —
///     is cut in software (datapath/gso.hpp) and each segment encapsulated with one template;
///     or, the sender's segments only and when the NIC does tunnel TSO
///     (pipeline_config::segmentation_by_hardware), encapsulated whole for the NIC to cut;
///  2. an inner IPv4 packet without DF is fragmented (datapath/fragment.hpp), each fragment its
///     own NVGRE packet with the original's FlowID (fragments of a datagram stay on one path);
///  3. anything else is answered with ICMP Fragmentation Needed / ICMPv6 Packet Too Big
///     (datapath/too_big.hpp) carrying the usable inner MTU — also a TSO segment whose segments
///     would not fit, so the sender's path-MTU discovery lowers its MSS — within the per-source
///     rate limit.
/// The underlay MTU is an IP MTU, per provider address (pipeline_config): the usable inner IP
/// MTU is 42 bytes less over IPv4 PAs and 62 less over IPv6 PAs; an outer VLAN tag changes
/// neither. IP rewrite (datapath/rewrite.hpp) takes the same decision (plan_for_ip_mtu) with the
/// underlay MTU itself as the packet's limit, and cuts pieces with the same cut_pieces.
#pragma once

#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/flow_hash.hpp"
#include "nvgre/datapath/fragment.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/gso.hpp"
#include "nvgre/datapath/offload.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/router.hpp"
#include "nvgre/datapath/too_big.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/policy/snapshot.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ip_protocol.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace nvgre::datapath {

/// The underlay MTU of the provider address `source_pa` (the local PA whose NIC sends).
[[nodiscard]] inline std::size_t underlay_mtu_for(const pipeline_config& cfg, const ip_address& source_pa) noexcept {
    if (cfg.underlay_mtus.empty()) [[likely]]
        return cfg.underlay_mtu;
    for (const pa_mtu& m : cfg.underlay_mtus)
        if (m.pa == source_pa) return m.mtu;
    return cfg.underlay_mtu;
}

/// The usable inner IP MTU over an underlay of `underlay_mtu` bytes toward an IPv4 or IPv6 PA.
[[nodiscard]] constexpr std::size_t inner_ip_mtu(std::size_t underlay_mtu, bool outer_v6) noexcept {
    const std::size_t overhead = (outer_v6 ? encap_header_len_ipv6 : encap_header_len_ipv4);
    return underlay_mtu > overhead ? underlay_mtu - overhead : 0;
}

/// What to do with one frame (decided before the frame is changed, so that an answer quotes
/// what the VM sent).
enum class oversize_action : std::uint8_t {
    fits,      ///< encapsulate as is
    segment,   ///< software segmentation into `mss`-byte segments
    by_nic,    ///< encapsulated whole, `mss` (the sender's segment size) left to the NIC's TSO
    fragment,  ///< inner IPv4 fragmentation
    answer,    ///< ICMP / ICMPv6 too big to the sender
};

struct oversize_plan {
    oversize_action action{oversize_action::fits};
    std::size_t inner_mtu{0};  ///< the usable inner IP MTU
    std::size_t mss{0};        ///< for segment
};

/// The one oversize decision of the pipelines: for the untagged IPv4/IPv6 Ethernet frame
/// `frame` (with offload metadata `o`) whose IP packet may be at most `ip_mtu` bytes where it
/// leaves — inner_ip_mtu() of the underlay once encapsulated (plan_oversize), the underlay MTU
/// itself when it is rewritten (datapath/rewrite.hpp) — fits, segment, fragment or answer, in
/// the order of the file comment. `gso`: segment oversize TCP even without a segment size from
/// the sender (nvgre-pcap --gso). `nic_segments`: the sender's segments go to the NIC whole
/// (by_nic) instead of segment, when its checksum is partial. `tail`: the frame's chain when it
/// continues past `frame`.
/// O(headers).
[[nodiscard]] inline oversize_plan plan_for_ip_mtu(std::span<const std::byte> frame, const chain& tail,
                                                   const offload_info& o, std::size_t ip_mtu, bool gso,
                                                   bool nic_segments = false) noexcept {
    oversize_plan p;
    p.inner_mtu = ip_mtu;
    // A frame without room for its Ethernet header has no packet to be too big.
    const std::size_t total = frame.size() + tail.length();
    if (frame.size() < wire::ethernet_header_len || total - wire::ethernet_header_len <= p.inner_mtu) return p;
    if (auto tcp = plan_tcp_segments(frame, tail, 1); tcp && !tcp->encapsulated) {
        const std::size_t headers = tcp->headers_len - tcp->inner_l3;  // inner IP + TCP headers
        if (p.inner_mtu > headers) {
            const std::size_t fitting = p.inner_mtu - headers;
            if (o.segment_size != 0 && o.segment_size <= fitting) {
                // The NIC takes a send as Linux GSO and DPDK TSO do: with its TCP checksum
                // partial (the pseudo-header sum in place), which it completes per segment.
                p.action = nic_segments && o.checksum_partial ? oversize_action::by_nic : oversize_action::segment;
                p.mss = o.segment_size;
                return p;
            }
            if (o.segment_size == 0 && gso) {
                p.action = oversize_action::segment;
                p.mss = fitting;
                return p;
            }
        }
    }
    if (frame.size() >= wire::ethernet_header_len + wire::ipv4_min_header_len &&
        wire::ethernet_view::unchecked(frame).tag_count() == 0 &&
        wire::ethernet_view::unchecked(frame).ether_type() == wire::ethertype::ipv4 &&
        !wire::ipv4_view::unchecked(frame.subspan(wire::ethernet_header_len)).dont_fragment() && o.segment_size == 0) {
        p.action = oversize_action::fragment;
        return p;
    }
    p.action = oversize_action::answer;
    return p;
}
/// plan_for_ip_mtu of a frame in one buffer.
[[nodiscard]] inline oversize_plan plan_for_ip_mtu(std::span<const std::byte> frame, const offload_info& o,
                                                   std::size_t ip_mtu, bool gso) noexcept {
    return plan_for_ip_mtu(frame, chain{}, o, ip_mtu, gso);
}

/// plan_for_ip_mtu for a frame encapsulated toward an IPv4 or IPv6 PA over an underlay of
/// `underlay_mtu` bytes.
[[nodiscard]] inline oversize_plan plan_oversize(const frame& f, std::size_t underlay_mtu, bool outer_v6, bool gso,
                                                 bool nic_segments = false) noexcept {
    return plan_for_ip_mtu(f.bytes(), f.tail, f.offload, inner_ip_mtu(underlay_mtu, outer_v6), gso, nic_segments);
}
/// plan_oversize of a frame in one buffer, with offload metadata `o`.
[[nodiscard]] inline oversize_plan plan_oversize(std::span<const std::byte> frame, const offload_info& o,
                                                 std::size_t underlay_mtu, bool outer_v6, bool gso,
                                                 bool nic_segments = false) noexcept {
    return plan_for_ip_mtu(frame, chain{}, o, inner_ip_mtu(underlay_mtu, outer_v6), gso, nic_segments);
}

/// Cuts frame `f` (its chain too) into the segments or fragments `plan` (action segment or
/// fragment) asks for, in frames from `sink` with recommended_headroom, and calls
/// `each(frame&)` on each in order. `wanted` receives how many pieces the plan makes; the
/// result is how many were made (fewer when the sink ran dry), or nullopt when the frame
/// cannot be cut that way (nothing taken). `each` owns the piece it is given: it sends it or
/// discards it through the sink.
template <replication_sink Sink, class Each>
std::optional<std::size_t> cut_pieces(const frame& f, const oversize_plan& plan, Sink& sink, std::size_t& wanted,
                                      Each&& each) noexcept {
    wanted = 0;
    const std::span<const std::byte> bytes = f.bytes();
    if (plan.action == oversize_action::segment) {
        auto tcp = plan_tcp_segments(bytes, f.tail, plan.mss);
        if (!tcp) return std::nullopt;
        wanted = tcp->count;
        return segment_tcp(bytes, f.tail, *tcp, sink, recommended_headroom, each);
    }
    if (plan.action != oversize_action::fragment) return std::nullopt;
    auto frag = plan_ipv4_fragments(bytes, f.tail, plan.inner_mtu);
    if (!frag) return std::nullopt;
    wanted = frag->count;
    return fragment_ipv4(bytes, f.tail, *frag, sink, recommended_headroom, each);
}

namespace detail::mtu_steps {

/// The too-big answer to the port's VM, in place: from its subnet's gateway (router MAC, the
/// gateway address of the packet's IP version, or the packet's destination when the subnet has
/// none), rate-limited per source. Drop too-big when it may not or cannot be answered.
inline outcome answer_too_big(const policy::snapshot& s, const policy::local_port& port, frame& f, std::size_t inner_mtu,
                              icmp_rate_limiter* limiter) noexcept {
    return detail::router_steps::answer_error(s, port, f, router_error::too_big, drop_reason::too_big, limiter,
                                      static_cast<std::uint32_t>(inner_mtu));
}

}  // namespace detail::mtu_steps

/// Segments or fragments `f` as `plan` says (action segment or fragment), encapsulates each
/// piece with one template for compiled `path`, all with the FlowID of the whole frame, and sends them to
/// the fabric (`to`) through `sink` (a piece that cannot be encapsulated is discarded). The outcome:
/// encap with the copies that went, `reason` the first piece's encapsulation error or no-buffer
/// when the sink ran dry before the last; a drop with that reason when no piece went; drop
/// too-big when the frame cannot be cut that way.
template <replication_sink Sink>
outcome encap_oversize(const frame& f, const oversize_plan& plan, const compiled_encap& path, Sink& sink,
                       const destination& to = destination::to_fabric()) noexcept {
    const std::uint32_t vsid = path.vsid.value();
    const encap_template tmpl = encap_template::from(path);
    const nvgre::flow_id flow = flow_id_of(f.bytes());
    outcome o;
    o.verdict = verdict::encap;
    o.vsid = vsid;
    o.pa = path.header->destination();
    o.to = to;
    std::size_t wanted = 0;
    const auto made = cut_pieces(f, plan, sink, wanted, [&](frame& piece) {
        if (auto r = tmpl.apply(piece, flow); !r) {
            if (o.reason == drop_reason::none) o.reason = drop_reason_of(r.error().code);
            sink.discard(piece);
            return;
        }
        if (path.outer_dscp != copy_outer_dscp) [[unlikely]]
            set_outer_dscp(piece, path.outer_dscp);
        sink.send(piece, to);
        ++o.copies;
    });
    if (!made) return outcome::dropped(drop_reason::too_big, vsid);
    if (*made < wanted && o.reason == drop_reason::none) o.reason = drop_reason::no_buffer;
    // Nothing went: a drop, so that nobody sends the frame itself, still unencapsulated.
    if (o.copies == 0) return outcome::dropped(o.reason, vsid);
    return o;
}

/// Completes a partial TCP/UDP checksum the VM left (offload metadata) unless the embedder's
/// NIC will (pipeline_config::inner_checksum_by_hardware). UDP is told by its checksum field's
/// offset (6; TCP's is 16), as Linux sets them. Metadata that point outside the frame are
/// dropped (false).
[[nodiscard]] inline bool finish_inner_checksum(frame& f, const pipeline_config& cfg) noexcept {
    if (!f.offload.checksum_partial || cfg.inner_checksum_by_hardware) return true;
    return static_cast<bool>(complete_checksum(f, f.offload.checksum_offset == 6));
}

}  // namespace nvgre::datapath
