/// @file datapath/gso.hpp
/// @brief Software segmentation (GSO) of one large TCP segment, plain or already NVGRE-
/// encapsulated, into segments of at most `mss` payload bytes, each a whole packet with its own
/// headers: what a NIC's TSO does, for the NICs that cannot do it inside GRE ("any kind of NIC
/// offloading will break", the HNV article). As Linux's tcp_gso_segment does it:
/// - the headers of the large segment (outer Ethernet/IP/NVGRE when encapsulated, inner
///   Ethernet/IP/TCP) are the template every segment's headers are copied from;
/// - per segment: outer IPv4 total length and header checksum, or IPv6 payload length; inner
///   IPv4 total length, identification + k and header checksum, or IPv6 payload length; TCP
///   sequence number + k * mss, CWR only on the first segment, PSH and FIN only on the last, and
///   the TCP checksum (pseudo-header, header, and that segment's payload);
/// - the payload is copied at most once (segment_tcp: into buffers from the embedder's sink,
///   the headers written in front; a chained frame's payload is read from its chain) or not at
///   all (segment_tcp_gather: each segment is a small header block plus a reference into the
///   original payload, for scatter-gather output such as an iovec or an mbuf chain).
/// Inner IPv6 with extension headers is not segmented (errc::bad_protocol), like most NICs.
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/nvgre.hpp"
#include "nvgre/wire/packet_layout.hpp"
#include "nvgre/wire/tcp.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>

namespace nvgre::datapath {

/// The most header bytes a segment carries: outer Ethernet + 802.1Q + IPv6 + NVGRE (66), inner
/// Ethernet (14), IPv4 with options (60) or IPv6 (40), TCP with options (60).
inline constexpr std::size_t gso_max_headers = wire::ethernet_header_len + wire::vlan_tag_len + wire::ipv6_header_len +
                                               wire::nvgre_header_len + wire::ethernet_header_len + wire::ipv4_max_header_len +
                                               wire::tcp_max_header_len;
static_assert(gso_max_headers == 66 + 14 + 60 + 60);

/// Where the headers of the large segment are and how it is cut.
struct tcp_segment_plan {
    bool encapsulated{false};
    bool outer_v6{false};
    std::size_t outer_l3{0};   ///< outer IP header offset (encapsulated only)
    std::size_t inner_l3{0};   ///< inner IP header offset
    bool inner_v6{false};
    std::size_t l4{0};         ///< TCP header offset
    std::size_t headers_len{0};  ///< = l4 + TCP header length: the payload starts here
    std::size_t payload_len{0};
    std::size_t mss{0};
    std::size_t count{0};

    [[nodiscard]] std::size_t payload_size(std::size_t k) const noexcept {
        const std::size_t start = k * mss;
        return payload_len - start < mss ? payload_len - start : mss;
    }
};

/// Plans the segmentation of `frame` — an untagged Ethernet frame with IPv4/IPv6 + TCP, or such
/// a frame encapsulated in NVGRE (any valid NVGRE frame: wire::parse_packet_layout) — into
/// segments of at most `mss` payload bytes. Errors: what parsing the headers found
/// (errc::truncated, bad_length, ...); errc::bad_protocol for anything but TCP directly after
/// the inner IP header, or an IPv4 fragment; errc::bad_value for mss 0 or headers longer than
/// gso_max_headers. A segment that already fits gives count 1. `tail`: the frame's chain when
/// it continues past `frame` (its headers lie in `frame`: errc::truncated when they do not).
/// O(headers).
[[nodiscard]] inline result<tcp_segment_plan> plan_tcp_segments(std::span<const std::byte> frame, const chain& tail,
                                                                std::size_t mss) noexcept {
    tcp_segment_plan p;
    if (mss == 0) return make_error(errc::bad_value, layer::none, 0);
    std::size_t inner = 0;  // inner Ethernet offset
    const auto layout = wire::parse_packet_layout(frame, tail);
    if (layout.kind == wire::frame_kind::nvgre) {
        p.encapsulated = true;
        p.outer_v6 = layout.outer_l3 == wire::l3_kind::ipv6;
        p.outer_l3 = layout.outer_l3_offset;
        inner = layout.inner_l2_offset;
    }
    if (frame.size() - inner < wire::ethernet_header_len)
        return make_error(errc::truncated, layer::inner_ethernet, frame.size(), inner + wire::ethernet_header_len);
    const std::uint16_t type = nvgre::detail::load_be16(frame.data() + inner + wire::ethernet_field::ether_type);
    p.inner_l3 = inner + wire::ethernet_header_len;
    const auto l3 = frame.subspan(p.inner_l3);
    std::size_t ip_end = 0;
    if (type == wire::ethertype::ipv4) {
        auto ip = wire::ipv4_view::checked(l3, tail.length());
        if (!ip) return ip.error();
        if (ip->protocol() != wire::ip_protocol::tcp || ip->is_fragment())
            return make_error(errc::bad_protocol, layer::inner_ipv4, p.inner_l3 + wire::ipv4_field::protocol);
        p.l4 = p.inner_l3 + ip->header_len();
        ip_end = p.inner_l3 + ip->total_len();
    } else if (type == wire::ethertype::ipv6) {
        auto ip = wire::ipv6_view::checked(l3, tail.length());
        if (!ip) return ip.error();
        if (ip->next_header() != wire::ip_protocol::tcp)
            return make_error(errc::bad_protocol, layer::inner_ipv6, p.inner_l3 + wire::ipv6_field::next_header);
        p.inner_v6 = true;
        p.l4 = p.inner_l3 + wire::ipv6_header_len;
        ip_end = p.l4 + ip->payload_len();
    } else {
        return make_error(errc::bad_protocol, layer::inner_ethernet, inner + wire::ethernet_field::ether_type);
    }
    constexpr std::size_t tcp_min = wire::tcp_min_header_len;
    constexpr std::size_t data_offset = wire::tcp_field::data_offset;
    if (ip_end < p.l4 + tcp_min) return make_error(errc::truncated, layer::tcp, p.l4, tcp_min);
    if (frame.size() < p.l4 + tcp_min) return make_error(errc::truncated, layer::tcp, p.l4, tcp_min);  // a chained frame's
    const std::size_t tcp_len = static_cast<std::size_t>(std::to_integer<std::uint8_t>(frame[p.l4 + data_offset]) >> 4) * 4;
    if (tcp_len < tcp_min || p.l4 + tcp_len > ip_end) return make_error(errc::bad_header_length, layer::tcp, p.l4 + data_offset);
    if (frame.size() < p.l4 + tcp_len) return make_error(errc::truncated, layer::tcp, p.l4, tcp_len);
    p.headers_len = p.l4 + tcp_len;
    if (p.headers_len > gso_max_headers) return make_error(errc::bad_value, layer::tcp, p.l4 + data_offset);
    p.payload_len = ip_end - p.headers_len;
    p.mss = mss;
    p.count = p.payload_len == 0 ? 1 : (p.payload_len + mss - 1) / mss;
    return p;
}

/// plan_tcp_segments of a frame in one buffer.
[[nodiscard]] inline result<tcp_segment_plan> plan_tcp_segments(std::span<const std::byte> frame, std::size_t mss) noexcept {
    return plan_tcp_segments(frame, chain{}, mss);
}

/// Writes segment k's headers into `out` (exactly p.headers_len bytes) from the original's
/// headers, with the checksum of `payload` (segment k's payload) in the TCP header.
/// O(headers + payload) (the payload is read once for the TCP checksum).
inline void write_tcp_segment_headers(const tcp_segment_plan& p, std::span<const std::byte> original, std::size_t k,
                                      std::span<std::byte> out, std::span<const std::byte> payload) noexcept {
    std::memmove(out.data(), original.data(), p.headers_len);  // memmove: out may overlap nothing, or itself
    std::byte* b = out.data();
    const std::size_t n = payload.size();
    const std::size_t tcp_len = p.headers_len - p.l4;
    namespace v4 = wire::ipv4_field;
    namespace v6 = wire::ipv6_field;
    namespace tcp_field = wire::tcp_field;
    if (p.encapsulated) {
        const std::size_t outer_len = p.headers_len - p.outer_l3 + n;
        if (p.outer_v6) {
            nvgre::detail::store_be16(b + p.outer_l3 + v6::payload_len,
                                      static_cast<std::uint16_t>(outer_len - wire::ipv6_header_len));
        } else {
            nvgre::detail::store_be16(b + p.outer_l3 + v4::total_len, static_cast<std::uint16_t>(outer_len));
            const std::size_t hlen = std::size_t{std::to_integer<std::uint8_t>(b[p.outer_l3 + v4::version_ihl]) & 0x0fu} * 4;
            // A zero checksum was left to the NIC (offload metadata): keep it so.
            if (nvgre::detail::load_be16(b + p.outer_l3 + v4::checksum) != 0) {
                nvgre::detail::store_be16(b + p.outer_l3 + v4::checksum, 0);
                nvgre::detail::store_be16(b + p.outer_l3 + v4::checksum,
                                          checksum::ipv4_header_checksum(std::span<const std::byte>(b + p.outer_l3, hlen)));
            }
        }
    }
    std::uint32_t pseudo = 0;
    if (p.inner_v6) {
        nvgre::detail::store_be16(b + p.inner_l3 + v6::payload_len, static_cast<std::uint16_t>(tcp_len + n));
        pseudo = checksum::ipv6_pseudo_header_sum(ipv6_address::from_bytes(out.subspan(p.inner_l3 + v6::source, 16)),
                                                  ipv6_address::from_bytes(out.subspan(p.inner_l3 + v6::destination, 16)),
                                                  wire::ip_protocol::tcp, static_cast<std::uint32_t>(tcp_len + n));
    } else {
        const std::size_t hlen = p.l4 - p.inner_l3;
        nvgre::detail::store_be16(b + p.inner_l3 + v4::total_len, static_cast<std::uint16_t>(hlen + tcp_len + n));
        const std::uint16_t id = nvgre::detail::load_be16(b + p.inner_l3 + v4::identification);
        nvgre::detail::store_be16(b + p.inner_l3 + v4::identification, static_cast<std::uint16_t>(id + k));
        nvgre::detail::store_be16(b + p.inner_l3 + v4::checksum, 0);
        nvgre::detail::store_be16(b + p.inner_l3 + v4::checksum,
                                  checksum::ipv4_header_checksum(std::span<const std::byte>(b + p.inner_l3, hlen)));
        pseudo = checksum::ipv4_pseudo_header_sum(ipv4_address::from_bytes(out.subspan(p.inner_l3 + v4::source, 4)),
                                                  ipv4_address::from_bytes(out.subspan(p.inner_l3 + v4::destination, 4)),
                                                  wire::ip_protocol::tcp, static_cast<std::uint16_t>(tcp_len + n));
    }
    std::byte* tcp = b + p.l4;
    const std::uint32_t seq = nvgre::detail::load_be32(tcp + tcp_field::sequence);
    nvgre::detail::store_be32(tcp + tcp_field::sequence, static_cast<std::uint32_t>(seq + k * p.mss));
    auto flags = std::to_integer<std::uint8_t>(tcp[tcp_field::flags]);
    if (k > 0) flags &= static_cast<std::uint8_t>(~wire::tcp_flags::cwr);  // the first segment only
    if (k + 1 < p.count) flags &= static_cast<std::uint8_t>(~(wire::tcp_flags::fin | wire::tcp_flags::psh));  // the last only
    tcp[tcp_field::flags] = std::byte{flags};
    nvgre::detail::store_be16(tcp + tcp_field::checksum, 0);
    const std::uint32_t header_sum = checksum::sum(std::span<const std::byte>(tcp, tcp_len), pseudo);
    nvgre::detail::store_be16(tcp + tcp_field::checksum, checksum::finish(checksum::sum(payload, header_sum)));
}

/// Segments `original` — its first segment, then `tail` (planned by plan_tcp_segments with
/// the same two) — into frames from `sink.allocate(size, headroom)`: each payload byte copied
/// once, headers written in front. Calls `each(frame&)` on each segment in order. Returns how
/// many were made (fewer than p.count when the sink ran out of buffers). The segments leave
/// without offload work (offload metadata cleared, but for an outer IPv4 checksum left to the
/// NIC). O(payload).
template <class Sink, class Each>
std::size_t segment_tcp(std::span<const std::byte> original, const chain& tail, const tcp_segment_plan& p, Sink& sink,
                        std::size_t headroom, Each&& each) noexcept {
    for (std::size_t k = 0; k < p.count; ++k) {
        const std::size_t at = p.headers_len + k * p.mss;
        const std::size_t n = p.payload_size(k);
        frame* f = sink.allocate(p.headers_len + n, headroom);
        if (f == nullptr) return k;
        const auto bytes = f->bytes();
        (void)copy_out(original, tail, at, bytes.subspan(p.headers_len, n));  // the plan bounds `at + n`
        write_tcp_segment_headers(p, original, k, bytes.first(p.headers_len), bytes.subspan(p.headers_len, n));
        f->offload = offload_info{};
        each(*f);
    }
    return p.count;
}

/// segment_tcp of a frame in one buffer.
template <class Sink, class Each>
std::size_t segment_tcp(std::span<const std::byte> original, const tcp_segment_plan& p, Sink& sink, std::size_t headroom,
                        Each&& each) noexcept {
    return segment_tcp(original, chain{}, p, sink, headroom, std::forward<Each>(each));
}

/// Segments `original` (in one buffer) without copying any payload: calls
/// `each(headers, payload)` for each segment in order, `headers` (p.headers_len bytes, valid
/// during the call) and `payload` (a span into `original`) making one packet together.
/// O(payload) reads for the checksums.
template <class Each>
void segment_tcp_gather(std::span<const std::byte> original, const tcp_segment_plan& p, Each&& each) noexcept {
    std::array<std::byte, gso_max_headers> headers;
    const auto block = std::span<std::byte>(headers).first(p.headers_len);
    for (std::size_t k = 0; k < p.count; ++k) {
        const auto payload = original.subspan(p.headers_len + k * p.mss, p.payload_size(k));
        write_tcp_segment_headers(p, original, k, block, payload);
        each(std::span<const std::byte>(block), payload);
    }
}

}  // namespace nvgre::datapath
