/// @file wire/ipv4.hpp
/// @brief IPv4 header (RFC 791), with options, DSCP/ECN (RFC 2474, RFC 3168) and the header
/// checksum (RFC 791 section 3.1, computed as RFC 1071).
///
/// Layout: version+IHL (1) | DSCP+ECN (1) | total length (2) | identification (2) |
/// flags+fragment offset (2) | TTL (1) | protocol (1) | header checksum (2) | source (4) |
/// destination (4) | options (IHL*4 - 20) | payload (total length - IHL*4).
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/wire/ip_protocol.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::wire {

/// Header length without options (IHL = 5).
inline constexpr std::size_t ipv4_min_header_len = 20;
/// Header length with the most options (IHL = 15).
inline constexpr std::size_t ipv4_max_header_len = 60;
/// Largest total length the 16-bit field can carry.
inline constexpr std::size_t ipv4_max_total_len = 65535;

/// Where each field of the fixed header starts (RFC 791 section 3.1), for code that patches a
/// header it has already checked through ipv4_view (the views read them from here too).
namespace ipv4_field {
inline constexpr std::size_t version_ihl = 0;
inline constexpr std::size_t tos = 1;
inline constexpr std::size_t total_len = 2;
inline constexpr std::size_t identification = 4;
inline constexpr std::size_t flags_fragment = 6;
inline constexpr std::size_t ttl = 8;
inline constexpr std::size_t protocol = 9;
inline constexpr std::size_t checksum = 10;
inline constexpr std::size_t source = 12;
inline constexpr std::size_t destination = 16;
}  // namespace ipv4_field

/// A view of an IPv4 header and its payload over `std::span<Byte>`; `Byte` is
/// `const std::byte` (read-only) or `std::byte` (writable: setters enabled).
///
/// After `checked()` succeeds every accessor stays inside the span, as long as no setter changes
/// `ihl_words()` or `total_len()` to values the span cannot hold (those two setters document it).
/// The span may be longer than total length (Ethernet padding): `payload()` stops at total length.
/// It may be shorter when the packet continues in a chain (`checked(span, continued)`):
/// `payload()` then stops at the end of the span.
template <detail::view_byte Byte>
class basic_ipv4_view {
public:
    using span_type = std::span<Byte>;
    static constexpr bool is_mutable = detail::is_mutable_byte_v<Byte>;

    /// Validates the header once, in wire order. Errors (layer::ipv4):
    /// - span shorter than 20 bytes: errc::truncated, offset 0, needed 20;
    /// - version != 4: errc::bad_version, offset 0;
    /// - IHL < 5: errc::bad_header_length, offset 0;
    /// - IHL*4 > span: errc::truncated, offset 0, needed IHL*4;
    /// - total length < IHL*4: errc::bad_length, offset 2;
    /// - total length > span + `continued` (the packet was cut short): errc::truncated, offset 2,
    ///   needed total length.
    /// `continued`: how many bytes of the packet follow the span in further segments (nvgre/chain.hpp);
    /// the header itself must lie in the span.
    /// The header checksum is not verified here (see header_checksum_ok()): whether a bad one drops
    /// the packet, and when, is the caller's decision (offloads may have verified it already).
    [[gnu::always_inline]] static result<basic_ipv4_view> checked(span_type packet, std::size_t continued = 0) noexcept {
        if (packet.size() < ipv4_min_header_len)
            return make_error(errc::truncated, layer::ipv4, 0, ipv4_min_header_len);
        const std::uint8_t vihl = detail::load_u8(packet.data() + off_version_ihl);
        if ((vihl >> 4) != 4) return make_error(errc::bad_version, layer::ipv4, off_version_ihl);
        const std::size_t hlen = std::size_t{vihl & 0x0fu} * 4;
        if (hlen < ipv4_min_header_len) return make_error(errc::bad_header_length, layer::ipv4, off_version_ihl);
        if (hlen > packet.size()) return make_error(errc::truncated, layer::ipv4, 0, hlen);
        const std::size_t total = detail::load_be16(packet.data() + off_total_len);
        if (total < hlen) return make_error(errc::bad_length, layer::ipv4, off_total_len);
        if (total > packet.size() + continued) return make_error(errc::truncated, layer::ipv4, off_total_len, total);
        return basic_ipv4_view{packet};
    }
    /// No checks. Precondition: `packet` holds `header_len()` bytes and
    /// `header_len() <= total_len() <= packet.size()` (or payload() is not called).
    static basic_ipv4_view unchecked(span_type packet) noexcept { return basic_ipv4_view{packet}; }

    /// Always 4 on a checked view.
    [[nodiscard]] std::uint8_t version() const noexcept { return static_cast<std::uint8_t>(u8(off_version_ihl) >> 4); }
    /// Internet Header Length in 32-bit words (5..15).
    [[nodiscard]] std::uint8_t ihl_words() const noexcept { return static_cast<std::uint8_t>(u8(off_version_ihl) & 0x0fu); }
    /// Header length in bytes, options included (IHL * 4).
    [[nodiscard]] std::size_t header_len() const noexcept { return std::size_t{ihl_words()} * 4; }
    /// The whole second byte: DSCP (6 bits) and ECN (2 bits), the old TOS octet.
    [[nodiscard]] std::uint8_t tos() const noexcept { return u8(off_tos); }
    /// Differentiated Services Code Point (RFC 2474), 6 bits.
    [[nodiscard]] std::uint8_t dscp() const noexcept { return static_cast<std::uint8_t>(tos() >> 2); }
    /// Explicit Congestion Notification codepoint (RFC 3168 section 5), 2 bits.
    [[nodiscard]] std::uint8_t ecn() const noexcept { return static_cast<std::uint8_t>(tos() & 0x03u); }
    /// Total length in bytes: header + payload.
    [[nodiscard]] std::uint16_t total_len() const noexcept { return be16(off_total_len); }
    [[nodiscard]] std::uint16_t identification() const noexcept { return be16(off_identification); }
    /// The reserved flag (RFC 791: must be zero); exposed so rewrites can preserve or clear it.
    [[nodiscard]] bool reserved_flag() const noexcept { return (be16(off_flags_fragment) & flag_reserved) != 0; }
    [[nodiscard]] bool dont_fragment() const noexcept { return (be16(off_flags_fragment) & flag_df) != 0; }
    [[nodiscard]] bool more_fragments() const noexcept { return (be16(off_flags_fragment) & flag_mf) != 0; }
    /// The 13-bit fragment offset, in 8-byte units.
    [[nodiscard]] std::uint16_t fragment_offset_units() const noexcept {
        return static_cast<std::uint16_t>(be16(off_flags_fragment) & fragment_offset_mask);
    }
    /// True for any fragment of a fragmented datagram, the first included: MF set or offset != 0.
    [[nodiscard]] bool is_fragment() const noexcept {
        return (be16(off_flags_fragment) & (flag_mf | fragment_offset_mask)) != 0;
    }
    [[nodiscard]] std::uint8_t ttl() const noexcept { return u8(off_ttl); }
    /// The payload's protocol (nvgre::wire::ip_protocol).
    [[nodiscard]] std::uint8_t protocol() const noexcept { return u8(off_protocol); }
    /// The stored header checksum.
    [[nodiscard]] std::uint16_t header_checksum() const noexcept { return be16(off_checksum); }
    [[nodiscard]] ipv4_address source() const noexcept { return ipv4_address::from_bytes(packet_.subspan(off_source, 4)); }
    [[nodiscard]] ipv4_address destination() const noexcept {
        return ipv4_address::from_bytes(packet_.subspan(off_destination, 4));
    }
    /// The option bytes (empty when IHL = 5); not decoded.
    [[nodiscard]] span_type options() const noexcept {
        return packet_.subspan(ipv4_min_header_len, header_len() - ipv4_min_header_len);
    }
    /// The bytes after the header up to total length (padding after the datagram excluded), or
    /// up to the end of the span when the packet continues past it.
    [[nodiscard]] span_type payload() const noexcept {
        const std::size_t end = std::size_t{total_len()} < packet_.size() ? std::size_t{total_len()} : packet_.size();
        return packet_.subspan(header_len(), end - header_len());
    }
    /// The header, options included.
    [[nodiscard]] span_type header() const noexcept { return packet_.first(header_len()); }
    /// The whole span the view was made over (may extend past total length).
    [[nodiscard]] span_type bytes() const noexcept { return packet_; }

    /// True if the header (header_len() bytes, stored checksum included) sums to 0xffff
    /// (RFC 1071 section 2 verification). O(header_len()).
    [[nodiscard]] bool header_checksum_ok() const noexcept { return checksum::verify(header()); }
    /// The checksum the header should carry, computed as if the field were zero; the stored
    /// field is neither read into the sum nor changed. O(header_len()).
    [[nodiscard]] std::uint16_t compute_header_checksum() const noexcept {
        const std::span<const std::byte> h = header();
        // 10 is even, so the two partial sums compose (checksum/ones_complement.hpp).
        const std::uint32_t before = checksum::sum(h.first(off_checksum));
        return checksum::finish(checksum::sum(h.subspan(off_checksum + 2), before));
    }

    /// Sets the version nibble (4 for a valid header).
    void set_version(std::uint8_t v) noexcept requires is_mutable {
        put8(off_version_ihl, static_cast<std::uint8_t>((v & 0x0fu) << 4 | (u8(off_version_ihl) & 0x0fu)));
    }
    /// Precondition: `words` in 5..15 and the span holds `words * 4` bytes; otherwise accessors
    /// after this call may leave the span.
    void set_ihl_words(std::uint8_t words) noexcept requires is_mutable {
        put8(off_version_ihl, static_cast<std::uint8_t>((u8(off_version_ihl) & 0xf0u) | (words & 0x0fu)));
    }
    void set_tos(std::uint8_t tos) noexcept requires is_mutable { put8(off_tos, tos); }
    /// Keeps ECN. `dscp` is masked to 6 bits.
    void set_dscp(std::uint8_t dscp) noexcept requires is_mutable {
        put8(off_tos, static_cast<std::uint8_t>((dscp & 0x3fu) << 2 | ecn()));
    }
    /// Keeps DSCP. `ecn` is masked to 2 bits.
    void set_ecn(std::uint8_t ecn) noexcept requires is_mutable {
        put8(off_tos, static_cast<std::uint8_t>((tos() & 0xfcu) | (ecn & 0x03u)));
    }
    /// Precondition: `header_len() <= len <= bytes().size()`, else payload() may leave the span.
    void set_total_len(std::uint16_t len) noexcept requires is_mutable { detail::store_be16(at(off_total_len), len); }
    void set_identification(std::uint16_t id) noexcept requires is_mutable {
        detail::store_be16(at(off_identification), id);
    }
    void set_reserved_flag(bool on) noexcept requires is_mutable { set_flag(flag_reserved, on); }
    void set_dont_fragment(bool on) noexcept requires is_mutable { set_flag(flag_df, on); }
    void set_more_fragments(bool on) noexcept requires is_mutable { set_flag(flag_mf, on); }
    /// `units` (8-byte units) is masked to 13 bits; the flags are kept.
    void set_fragment_offset_units(std::uint16_t units) noexcept requires is_mutable {
        detail::store_be16(at(off_flags_fragment),
                           static_cast<std::uint16_t>((be16(off_flags_fragment) & ~fragment_offset_mask) |
                                                      (units & fragment_offset_mask)));
    }
    void set_ttl(std::uint8_t ttl) noexcept requires is_mutable { put8(off_ttl, ttl); }
    void set_protocol(std::uint8_t protocol) noexcept requires is_mutable { put8(off_protocol, protocol); }
    void set_header_checksum(std::uint16_t sum) noexcept requires is_mutable { detail::store_be16(at(off_checksum), sum); }
    void set_source(const ipv4_address& a) noexcept requires is_mutable { a.to_bytes(packet_.subspan(off_source, 4)); }
    void set_destination(const ipv4_address& a) noexcept requires is_mutable {
        a.to_bytes(packet_.subspan(off_destination, 4));
    }
    /// Stores a valid header checksum (RFC 791: computed with the field zero). O(header_len()).
    void fill_header_checksum() noexcept requires is_mutable { set_header_checksum(compute_header_checksum()); }

private:
    static constexpr std::size_t off_version_ihl = ipv4_field::version_ihl;
    static constexpr std::size_t off_tos = ipv4_field::tos;
    static constexpr std::size_t off_total_len = ipv4_field::total_len;
    static constexpr std::size_t off_identification = ipv4_field::identification;
    static constexpr std::size_t off_flags_fragment = ipv4_field::flags_fragment;
    static constexpr std::size_t off_ttl = ipv4_field::ttl;
    static constexpr std::size_t off_protocol = ipv4_field::protocol;
    static constexpr std::size_t off_checksum = ipv4_field::checksum;
    static constexpr std::size_t off_source = ipv4_field::source;
    static constexpr std::size_t off_destination = ipv4_field::destination;
    static constexpr std::uint16_t flag_reserved = 0x8000;
    static constexpr std::uint16_t flag_df = 0x4000;
    static constexpr std::uint16_t flag_mf = 0x2000;
    static constexpr std::uint16_t fragment_offset_mask = 0x1fff;

    explicit basic_ipv4_view(span_type packet) noexcept : packet_(packet) {}
    Byte* at(std::size_t off) const noexcept { return packet_.data() + off; }
    std::uint8_t u8(std::size_t off) const noexcept { return detail::load_u8(at(off)); }
    std::uint16_t be16(std::size_t off) const noexcept { return detail::load_be16(at(off)); }
    void put8(std::size_t off, std::uint8_t v) noexcept requires is_mutable { detail::store_u8(at(off), v); }
    void set_flag(std::uint16_t flag, bool on) noexcept requires is_mutable {
        const std::uint16_t v = be16(off_flags_fragment);
        detail::store_be16(at(off_flags_fragment), static_cast<std::uint16_t>(on ? (v | flag) : (v & ~flag)));
    }

    span_type packet_;
};

using ipv4_view = basic_ipv4_view<const std::byte>;
using mutable_ipv4_view = basic_ipv4_view<std::byte>;

/// The decoded form of an IPv4 header.
///
/// Options are not represented: parse() of a header with options records the payload length
/// (total length - IHL*4) and drops the options, and emit() always writes a 20-byte header, so
/// the round trip parse(emit(r)) == r holds, but emit(parse(v)) differs from v when v has options.
/// The reserved flag is not represented either (emitted as 0).
struct ipv4_repr {
    ipv4_address source{};
    ipv4_address destination{};
    std::uint8_t protocol{0};          ///< nvgre::wire::ip_protocol
    std::uint8_t ttl{64};
    std::uint8_t dscp{0};              ///< 6 bits
    std::uint8_t ecn{0};               ///< 2 bits
    std::uint16_t identification{0};
    bool dont_fragment{false};
    bool more_fragments{false};
    std::uint16_t fragment_offset_units{0};  ///< 13 bits, 8-byte units
    std::uint16_t payload_len{0};      ///< bytes after the header; at most 65515

    /// Reads every represented field. Precondition: `v` is checked (or satisfies unchecked's).
    template <detail::view_byte Byte>
    [[nodiscard]] static ipv4_repr parse(const basic_ipv4_view<Byte>& v) noexcept {
        ipv4_repr r;
        r.source = v.source();
        r.destination = v.destination();
        r.protocol = v.protocol();
        r.ttl = v.ttl();
        r.dscp = v.dscp();
        r.ecn = v.ecn();
        r.identification = v.identification();
        r.dont_fragment = v.dont_fragment();
        r.more_fragments = v.more_fragments();
        r.fragment_offset_units = v.fragment_offset_units();
        r.payload_len = static_cast<std::uint16_t>(v.total_len() - v.header_len());
        return r;
    }
    /// Always 20: emit() writes no options.
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return ipv4_min_header_len; }
    /// Header plus payload: the total length emit() writes.
    [[nodiscard]] constexpr std::size_t buffer_len() const noexcept { return header_len() + payload_len; }
    /// Writes the 20 header bytes (version 4, IHL 5, total length 20 + payload_len, a valid
    /// header checksum); the payload is not touched. Precondition: `out.size() >= 20`,
    /// `payload_len <= 65515`; dscp, ecn and fragment_offset_units are masked to their widths.
    void emit(std::span<std::byte> out) const noexcept {
        std::byte* p = out.data();
        detail::store_u8(p + 0, 0x45);
        detail::store_u8(p + 1, static_cast<std::uint8_t>((dscp & 0x3fu) << 2 | (ecn & 0x03u)));
        detail::store_be16(p + 2, static_cast<std::uint16_t>(ipv4_min_header_len + payload_len));
        detail::store_be16(p + 4, identification);
        detail::store_be16(p + 6, static_cast<std::uint16_t>((dont_fragment ? 0x4000u : 0u) |
                                                             (more_fragments ? 0x2000u : 0u) |
                                                             (fragment_offset_units & 0x1fffu)));
        detail::store_u8(p + 8, ttl);
        detail::store_u8(p + 9, protocol);
        detail::store_be16(p + 10, 0);
        source.to_bytes(out.subspan(12, 4));
        destination.to_bytes(out.subspan(16, 4));
        detail::store_be16(p + 10, checksum::compute(std::span<const std::byte>(p, ipv4_min_header_len)));
    }
    friend constexpr bool operator==(const ipv4_repr&, const ipv4_repr&) noexcept = default;
};

}  // namespace nvgre::wire
