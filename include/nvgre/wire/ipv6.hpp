/// @file wire/ipv6.hpp
/// @brief IPv6 fixed header (RFC 8200 section 3) and a bounded walk over its extension headers
/// (RFC 8200 section 4, RFC 4302 for AH).
///
/// Layout: version (4 bits) | traffic class (8 bits) | flow label (20 bits) | payload length (2) |
/// next header (1) | hop limit (1) | source (16) | destination (16) | payload (payload length).
#pragma once

#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/wire/ip_protocol.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::wire {

/// The fixed header length.
inline constexpr std::size_t ipv6_header_len = 40;
/// Extension headers walk_extension_headers() accepts before giving up (a fragment header
/// counts). RFC 8200 sets no limit; real chains are short, pathological ones cost time.
inline constexpr std::size_t ipv6_max_extension_headers = 8;
/// The Fragment header's fixed length (RFC 8200 section 4.5).
inline constexpr std::size_t ipv6_fragment_header_len = 8;

/// Where each field of the fixed header starts (RFC 8200 section 3), for code that patches a
/// header it has already checked through ipv6_view (the views read them from here too).
namespace ipv6_field {
inline constexpr std::size_t version_class_label = 0;
inline constexpr std::size_t payload_len = 4;
inline constexpr std::size_t next_header = 6;
inline constexpr std::size_t hop_limit = 7;
inline constexpr std::size_t source = 8;
inline constexpr std::size_t destination = 24;
}  // namespace ipv6_field

/// Where the fields of an extension header start (RFC 8200 section 4): every one begins with
/// its next header and (except the Fragment header) its length; the Fragment header has its
/// offset and flags, then the identification; a Routing header its segments left.
namespace ipv6_extension_field {
inline constexpr std::size_t next_header = 0;
inline constexpr std::size_t length = 1;
inline constexpr std::size_t routing_segments_left = 3;
inline constexpr std::size_t fragment_offset_flags = 2;
inline constexpr std::size_t fragment_identification = 4;
}  // namespace ipv6_extension_field

/// A view of an IPv6 header and its payload over `std::span<Byte>`; `Byte` is
/// `const std::byte` (read-only) or `std::byte` (writable: setters enabled).
///
/// After `checked()` succeeds every accessor stays inside the span, as long as set_payload_len()
/// keeps `40 + payload_len() <= bytes().size()`. Jumbograms (RFC 2675, payload length 0 with a
/// Jumbo Payload option) are not supported: payload length 0 means an empty payload. The span
/// may end before the payload when the packet continues in a chain (`checked(span, continued)`):
/// `payload()` then stops at the end of the span.
template <detail::view_byte Byte>
class basic_ipv6_view {
public:
    using span_type = std::span<Byte>;
    static constexpr bool is_mutable = detail::is_mutable_byte_v<Byte>;

    /// Validates the fixed header once. Errors (layer::ipv6):
    /// - span shorter than 40 bytes: errc::truncated, offset 0, needed 40;
    /// - version != 6: errc::bad_version, offset 0;
    /// - 40 + payload length > span + `continued` (the packet was cut short): errc::truncated,
    ///   offset 4, needed 40 + payload length.
    /// Bytes after 40 + payload length (Ethernet padding) are allowed and are not payload.
    /// `continued`: how many bytes of the packet follow the span in further segments.
    static result<basic_ipv6_view> checked(span_type packet, std::size_t continued = 0) noexcept {
        if (packet.size() < ipv6_header_len) return make_error(errc::truncated, layer::ipv6, 0, ipv6_header_len);
        if ((detail::load_u8(packet.data()) >> 4) != 6) return make_error(errc::bad_version, layer::ipv6, 0);
        const std::size_t end = ipv6_header_len + detail::load_be16(packet.data() + off_payload_len);
        if (end > packet.size() + continued) return make_error(errc::truncated, layer::ipv6, off_payload_len, end);
        return basic_ipv6_view{packet};
    }
    /// No checks. Precondition: `packet` holds 40 bytes, and 40 + payload_len() bytes if
    /// payload() or walk_extension_headers() is used.
    static basic_ipv6_view unchecked(span_type packet) noexcept { return basic_ipv6_view{packet}; }

    /// Always 6 on a checked view.
    [[nodiscard]] std::uint8_t version() const noexcept { return static_cast<std::uint8_t>(word0() >> 28); }
    /// The 8-bit traffic class: DSCP (6 bits) and ECN (2 bits).
    [[nodiscard]] std::uint8_t traffic_class() const noexcept { return static_cast<std::uint8_t>(word0() >> 20); }
    /// Differentiated Services Code Point (RFC 2474), 6 bits.
    [[nodiscard]] std::uint8_t dscp() const noexcept { return static_cast<std::uint8_t>(traffic_class() >> 2); }
    /// Explicit Congestion Notification codepoint (RFC 3168), 2 bits.
    [[nodiscard]] std::uint8_t ecn() const noexcept { return static_cast<std::uint8_t>(traffic_class() & 0x03u); }
    /// The 20-bit flow label (RFC 6437).
    [[nodiscard]] std::uint32_t flow_label() const noexcept { return word0() & flow_label_mask; }
    /// Bytes after the fixed header, extension headers included.
    [[nodiscard]] std::uint16_t payload_len() const noexcept { return detail::load_be16(at(off_payload_len)); }
    /// The first next header: an extension header or the upper protocol (nvgre::wire::ip_protocol).
    [[nodiscard]] std::uint8_t next_header() const noexcept { return detail::load_u8(at(off_next_header)); }
    [[nodiscard]] std::uint8_t hop_limit() const noexcept { return detail::load_u8(at(off_hop_limit)); }
    [[nodiscard]] ipv6_address source() const noexcept { return ipv6_address::from_bytes(packet_.subspan(off_source, 16)); }
    [[nodiscard]] ipv6_address destination() const noexcept {
        return ipv6_address::from_bytes(packet_.subspan(off_destination, 16));
    }
    /// Always 40.
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return ipv6_header_len; }
    /// The fixed header.
    [[nodiscard]] span_type header() const noexcept { return packet_.first(ipv6_header_len); }
    /// The payload_len() bytes after the fixed header (extension headers included); padding after
    /// them is excluded.
    [[nodiscard]] span_type payload() const noexcept {
        const std::size_t end = ipv6_header_len + std::size_t{payload_len()};
        return packet_.subspan(ipv6_header_len, (end < packet_.size() ? end : packet_.size()) - ipv6_header_len);
    }
    /// The whole span the view was made over (may extend past the payload).
    [[nodiscard]] span_type bytes() const noexcept { return packet_; }

    /// Sets the version nibble (6 for a valid header).
    void set_version(std::uint8_t v) noexcept requires is_mutable {
        set_word0((word0() & 0x0fffffffu) | (std::uint32_t{v} & 0x0fu) << 28);
    }
    void set_traffic_class(std::uint8_t tc) noexcept requires is_mutable {
        set_word0((word0() & 0xf00fffffu) | std::uint32_t{tc} << 20);
    }
    /// Keeps ECN. `dscp` is masked to 6 bits.
    void set_dscp(std::uint8_t dscp) noexcept requires is_mutable {
        set_traffic_class(static_cast<std::uint8_t>((dscp & 0x3fu) << 2 | ecn()));
    }
    /// Keeps DSCP. `ecn` is masked to 2 bits.
    void set_ecn(std::uint8_t ecn) noexcept requires is_mutable {
        set_traffic_class(static_cast<std::uint8_t>((traffic_class() & 0xfcu) | (ecn & 0x03u)));
    }
    /// `label` is masked to 20 bits.
    void set_flow_label(std::uint32_t label) noexcept requires is_mutable {
        set_word0((word0() & ~flow_label_mask) | (label & flow_label_mask));
    }
    /// Precondition: `40 + len <= bytes().size()`, else payload() may leave the span.
    void set_payload_len(std::uint16_t len) noexcept requires is_mutable { detail::store_be16(at(off_payload_len), len); }
    void set_next_header(std::uint8_t nh) noexcept requires is_mutable { detail::store_u8(at(off_next_header), nh); }
    void set_hop_limit(std::uint8_t hl) noexcept requires is_mutable { detail::store_u8(at(off_hop_limit), hl); }
    void set_source(const ipv6_address& a) noexcept requires is_mutable { a.to_bytes(packet_.subspan(off_source, 16)); }
    void set_destination(const ipv6_address& a) noexcept requires is_mutable {
        a.to_bytes(packet_.subspan(off_destination, 16));
    }

private:
    static constexpr std::size_t off_payload_len = ipv6_field::payload_len;
    static constexpr std::size_t off_next_header = ipv6_field::next_header;
    static constexpr std::size_t off_hop_limit = ipv6_field::hop_limit;
    static constexpr std::size_t off_source = ipv6_field::source;
    static constexpr std::size_t off_destination = ipv6_field::destination;
    static constexpr std::uint32_t flow_label_mask = 0x000fffffu;

    explicit basic_ipv6_view(span_type packet) noexcept : packet_(packet) {}
    Byte* at(std::size_t off) const noexcept { return packet_.data() + off; }
    std::uint32_t word0() const noexcept { return detail::load_be32(at(0)); }
    void set_word0(std::uint32_t w) noexcept requires is_mutable { detail::store_be32(at(0), w); }

    span_type packet_;
};

using ipv6_view = basic_ipv6_view<const std::byte>;
using mutable_ipv6_view = basic_ipv6_view<std::byte>;

/// Where an IPv6 extension-header chain ends. Offsets are from the start of the IPv6 header.
struct ipv6_extension_walk {
    /// The protocol after the last extension header walked (ip_protocol::tcp, udp, gre,
    /// ipv6_no_next, esp, ...); after a fragment header, the fragment header's next header.
    std::uint8_t upper_protocol{0};
    /// Where the upper-protocol header starts (after the fragment header when `fragment`).
    std::size_t upper_offset{ipv6_header_len};
    /// Extension headers walked, the fragment header included.
    std::uint8_t header_count{0};
    /// The walk stopped at a Fragment header (RFC 8200 section 4.5); the fields below describe it.
    bool fragment{false};
    std::uint16_t fragment_offset_units{0};  ///< 13 bits, 8-byte units
    bool more_fragments{false};
    std::uint32_t fragment_id{0};

    friend constexpr bool operator==(const ipv6_extension_walk&, const ipv6_extension_walk&) noexcept = default;
};

/// Walks the extension headers of `v`'s payload: Hop-by-Hop Options (only as the first header,
/// RFC 8200 section 4.1), Routing, Destination Options (length (n + 1) * 8) and AH (length
/// (n + 2) * 4, RFC 4302 section 2.2). Stops at a Fragment header and reports it (a non-first
/// fragment, or one with MF set, is reported like any other: reassembly or dropping is the
/// caller's decision), or at any other next header, which is the upper protocol (No Next Header,
/// 59, included; ESP, 50, too since what follows it is encrypted).
///
/// Errors (layer::ipv6_extension, offset from the start of the IPv6 header):
/// - a header that runs past the payload: errc::truncated at the header's offset, needed = the
///   bytes it needs (2 until its length byte is read, 8 for a fragment header);
/// - Hop-by-Hop not first: errc::bad_extension_header at its offset;
/// - more than ipv6_max_extension_headers (8) headers: errc::bad_extension_header at the 9th.
/// Reads only inside payload() (the span, for a packet that continues in a chain: headers
/// must lie in it). Precondition: `v` is checked (or 40 + payload_len() bytes exist).
/// O(number of headers), at most 9 iterations.
template <detail::view_byte Byte>
[[nodiscard]] result<ipv6_extension_walk> walk_extension_headers(const basic_ipv6_view<Byte>& v) noexcept {
    const std::span<const std::byte> packet = v.bytes();
    // payload(), not payload_len(): the span ends first when the packet continues in a chain.
    const std::size_t end = ipv6_header_len + v.payload().size();
    ipv6_extension_walk w;
    std::uint8_t nh = v.next_header();
    std::size_t off = ipv6_header_len;
    while (true) {
        switch (nh) {
            case ip_protocol::hop_by_hop:
            case ip_protocol::ipv6_routing:
            case ip_protocol::ipv6_destination_options:
            case ip_protocol::ah:
            case ip_protocol::ipv6_fragment:
                break;
            default:
                w.upper_protocol = nh;
                w.upper_offset = off;
                return w;
        }
        if (w.header_count >= ipv6_max_extension_headers)
            return make_error(errc::bad_extension_header, layer::ipv6_extension, off);
        if (nh == ip_protocol::hop_by_hop && w.header_count != 0)
            return make_error(errc::bad_extension_header, layer::ipv6_extension, off);
        if (nh == ip_protocol::ipv6_fragment) {
            if (end - off < ipv6_fragment_header_len)
                return make_error(errc::truncated, layer::ipv6_extension, off, ipv6_fragment_header_len);
            const std::uint16_t off_flags = detail::load_be16(packet.data() + off + ipv6_extension_field::fragment_offset_flags);
            ++w.header_count;
            w.fragment = true;
            w.fragment_offset_units = static_cast<std::uint16_t>(off_flags >> 3);
            w.more_fragments = (off_flags & 1u) != 0;
            w.fragment_id = detail::load_be32(packet.data() + off + ipv6_extension_field::fragment_identification);
            w.upper_protocol = detail::load_u8(packet.data() + off + ipv6_extension_field::next_header);
            w.upper_offset = off + ipv6_fragment_header_len;
            return w;
        }
        // Every other extension header starts with next header (1) and a length byte (1).
        if (end - off < 2) return make_error(errc::truncated, layer::ipv6_extension, off, 2);
        const std::size_t n = detail::load_u8(packet.data() + off + ipv6_extension_field::length);
        const std::size_t len = nh == ip_protocol::ah ? (n + 2) * 4 : (n + 1) * 8;
        if (end - off < len) return make_error(errc::truncated, layer::ipv6_extension, off, len);
        ++w.header_count;
        nh = detail::load_u8(packet.data() + off + ipv6_extension_field::next_header);
        off += len;
    }
}

/// The decoded form of an IPv6 fixed header. Round-trips: parse(emit(r)) == r.
struct ipv6_repr {
    ipv6_address source{};
    ipv6_address destination{};
    std::uint8_t next_header{0};   ///< nvgre::wire::ip_protocol
    std::uint8_t hop_limit{64};
    std::uint8_t dscp{0};          ///< 6 bits
    std::uint8_t ecn{0};           ///< 2 bits
    std::uint32_t flow_label{0};   ///< 20 bits
    std::uint16_t payload_len{0};  ///< bytes after the fixed header, extension headers included

    /// Reads every field. Precondition: `v` is checked (or holds 40 bytes).
    template <detail::view_byte Byte>
    [[nodiscard]] static ipv6_repr parse(const basic_ipv6_view<Byte>& v) noexcept {
        ipv6_repr r;
        r.source = v.source();
        r.destination = v.destination();
        r.next_header = v.next_header();
        r.hop_limit = v.hop_limit();
        r.dscp = v.dscp();
        r.ecn = v.ecn();
        r.flow_label = v.flow_label();
        r.payload_len = v.payload_len();
        return r;
    }
    /// Always 40.
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return ipv6_header_len; }
    /// Header plus payload.
    [[nodiscard]] constexpr std::size_t buffer_len() const noexcept { return header_len() + payload_len; }
    /// Writes the 40 header bytes; the payload is not touched. Precondition: `out.size() >= 40`;
    /// dscp, ecn and flow_label are masked to their widths.
    void emit(std::span<std::byte> out) const noexcept {
        std::byte* p = out.data();
        const std::uint32_t tc = (dscp & 0x3fu) << 2 | (ecn & 0x03u);
        detail::store_be32(p, 6u << 28 | tc << 20 | (flow_label & 0x000fffffu));
        detail::store_be16(p + 4, payload_len);
        detail::store_u8(p + 6, next_header);
        detail::store_u8(p + 7, hop_limit);
        source.to_bytes(out.subspan(8, 16));
        destination.to_bytes(out.subspan(24, 16));
    }
    friend constexpr bool operator==(const ipv6_repr&, const ipv6_repr&) noexcept = default;
};

}  // namespace nvgre::wire
