/// @file wire/icmp.hpp
/// @brief ICMP for IPv4 (RFC 792), with the echo fields and the Fragmentation Needed
/// next-hop MTU (RFC 1191 section 4).
///
/// Layout: type (1) | code (1) | checksum (2) | rest of header (4, meaning depends on type) |
/// data (echo data, or for errors the quoted IP header + at least 8 bytes of its payload).
/// ICMP has no length field: the message is the whole span, which the caller bounds by the
/// IPv4 payload; the checksum covers it all (RFC 792).
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::wire {

/// ICMP header length: type, code, checksum and the 4-byte rest of header.
inline constexpr std::size_t icmp_header_len = 8;

/// Where each field of the header starts (RFC 792).
namespace icmp_field {
inline constexpr std::size_t type = 0;
inline constexpr std::size_t code = 1;
inline constexpr std::size_t checksum = 2;
inline constexpr std::size_t rest = 4;
}  // namespace icmp_field

/// ICMP types the library produces or inspects (RFC 792).
namespace icmp_type {
inline constexpr std::uint8_t echo_reply = 0;
inline constexpr std::uint8_t destination_unreachable = 3;
inline constexpr std::uint8_t redirect = 5;
inline constexpr std::uint8_t echo_request = 8;
inline constexpr std::uint8_t router_advertisement = 9;  ///< RFC 1256
inline constexpr std::uint8_t time_exceeded = 11;
inline constexpr std::uint8_t parameter_problem = 12;
}  // namespace icmp_type

/// ICMP codes (RFC 792; for destination unreachable and time exceeded).
namespace icmp_code {
inline constexpr std::uint8_t net_unreachable = 0;       ///< destination unreachable
inline constexpr std::uint8_t host_unreachable = 1;      ///< destination unreachable
inline constexpr std::uint8_t protocol_unreachable = 2;  ///< destination unreachable
inline constexpr std::uint8_t port_unreachable = 3;      ///< destination unreachable
inline constexpr std::uint8_t fragmentation_needed = 4;  ///< destination unreachable: DF set, too big (RFC 1191)
inline constexpr std::uint8_t ttl_exceeded = 0;          ///< time exceeded in transit
inline constexpr std::uint8_t reassembly_exceeded = 1;   ///< time exceeded: fragment reassembly
}  // namespace icmp_code

/// True for ICMP error messages, whose data quotes the offending packet (RFC 1812 4.3.2.3).
[[nodiscard]] constexpr bool is_icmp_error(std::uint8_t type) noexcept {
    return type == icmp_type::destination_unreachable || type == icmp_type::redirect ||
           type == icmp_type::time_exceeded || type == icmp_type::parameter_problem;
}

/// A view of an ICMP message over `std::span<Byte>`; `Byte` is `const std::byte` (read-only)
/// or `std::byte` (writable: setters enabled). After `checked()` succeeds every accessor
/// stays inside the span.
template <detail::view_byte Byte>
class basic_icmp_view {
public:
    using span_type = std::span<Byte>;
    static constexpr bool is_mutable = detail::is_mutable_byte_v<Byte>;

    /// Errors: errc::truncated, layer::icmp, at 0 when the span is shorter than 8 bytes. The
    /// type-specific rest of header is not interpreted here.
    static result<basic_icmp_view> checked(span_type message) noexcept {
        if (message.size() < icmp_header_len) [[unlikely]]
            return make_error(errc::truncated, layer::icmp, 0, icmp_header_len);
        return basic_icmp_view{message};
    }
    /// Precondition: `message.size() >= 8`.
    static basic_icmp_view unchecked(span_type message) noexcept { return basic_icmp_view{message}; }

    [[nodiscard]] std::uint8_t type() const noexcept { return detail::load_u8(data_.data() + type_at); }
    [[nodiscard]] std::uint8_t code() const noexcept { return detail::load_u8(data_.data() + code_at); }
    [[nodiscard]] std::uint16_t checksum() const noexcept { return detail::load_be16(data_.data() + checksum_at); }
    /// Bytes 4-7, whatever the type makes of them.
    [[nodiscard]] std::uint32_t rest_of_header() const noexcept { return detail::load_be32(data_.data() + rest_at); }
    /// Echo request/reply identifier (bytes 4-5).
    [[nodiscard]] std::uint16_t identifier() const noexcept { return detail::load_be16(data_.data() + rest_at); }
    /// Echo request/reply sequence number (bytes 6-7).
    [[nodiscard]] std::uint16_t sequence_number() const noexcept { return detail::load_be16(data_.data() + rest_at + 2); }
    /// Next-hop MTU of a Fragmentation Needed message (type 3 code 4; bytes 6-7, RFC 1191
    /// section 4). 0 from pre-RFC 1191 routers. Meaningless for other types.
    [[nodiscard]] std::uint16_t next_hop_mtu() const noexcept { return detail::load_be16(data_.data() + rest_at + 2); }
    /// Pointer of a Parameter Problem message (byte 4).
    [[nodiscard]] std::uint8_t pointer() const noexcept { return detail::load_u8(data_.data() + rest_at); }
    /// Header length: always 8.
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return icmp_header_len; }
    /// The data after the 8-byte header: echo data, or the quoted packet of an error.
    [[nodiscard]] span_type payload() const noexcept { return data_.subspan(icmp_header_len); }
    /// The whole span the view was made over: the message the checksum covers.
    [[nodiscard]] span_type bytes() const noexcept { return data_; }

    /// True if the checksum over the whole span verifies (RFC 792; no pseudo-header for
    /// ICMPv4). O(bytes().size()).
    [[nodiscard]] bool checksum_ok() const noexcept { return checksum::verify(std::span<const std::byte>(data_)); }

    void set_type(std::uint8_t v) noexcept requires is_mutable { detail::store_u8(data_.data() + type_at, v); }
    void set_code(std::uint8_t v) noexcept requires is_mutable { detail::store_u8(data_.data() + code_at, v); }
    void set_checksum(std::uint16_t v) noexcept requires is_mutable { detail::store_be16(data_.data() + checksum_at, v); }
    void set_rest_of_header(std::uint32_t v) noexcept requires is_mutable { detail::store_be32(data_.data() + rest_at, v); }
    void set_identifier(std::uint16_t v) noexcept requires is_mutable { detail::store_be16(data_.data() + rest_at, v); }
    void set_sequence_number(std::uint16_t v) noexcept requires is_mutable { detail::store_be16(data_.data() + rest_at + 2, v); }
    /// Also clears the unused bytes 4-5, as RFC 1191 section 4 requires.
    void set_next_hop_mtu(std::uint16_t mtu) noexcept requires is_mutable { detail::store_be32(data_.data() + rest_at, mtu); }
    void set_pointer(std::uint8_t v) noexcept requires is_mutable { detail::store_u8(data_.data() + rest_at, v); }
    /// Computes and stores the checksum over the whole span. O(bytes().size()).
    void fill_checksum() noexcept requires is_mutable {
        set_checksum(0);
        set_checksum(checksum::compute(std::span<const std::byte>(data_)));
    }

private:
    static constexpr std::size_t type_at = icmp_field::type;
    static constexpr std::size_t code_at = icmp_field::code;
    static constexpr std::size_t checksum_at = icmp_field::checksum;
    static constexpr std::size_t rest_at = icmp_field::rest;

    explicit basic_icmp_view(span_type message) noexcept : data_(message) {}
    span_type data_;
};

using icmp_view = basic_icmp_view<const std::byte>;
using mutable_icmp_view = basic_icmp_view<std::byte>;

/// The decoded form of an ICMP header. Round-trips: parse(emit(r)) == r when the buffer holds
/// payload_len bytes after the header (the checksum is not part of the repr).
struct icmp_repr {
    std::uint8_t type{0};
    std::uint8_t code{0};
    std::uint32_t rest_of_header{0};
    std::size_t payload_len{0};

    /// rest_of_header of an echo request/reply.
    [[nodiscard]] static constexpr std::uint32_t echo_rest(std::uint16_t identifier, std::uint16_t sequence) noexcept {
        return std::uint32_t{identifier} << 16 | sequence;
    }
    /// rest_of_header of Fragmentation Needed: unused 0, next-hop MTU (RFC 1191 section 4).
    [[nodiscard]] static constexpr std::uint32_t fragmentation_needed_rest(std::uint16_t next_hop_mtu) noexcept {
        return next_hop_mtu;
    }

    [[nodiscard]] static icmp_repr parse(const icmp_view& v) noexcept {
        return icmp_repr{v.type(), v.code(), v.rest_of_header(), v.payload().size()};
    }
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return icmp_header_len; }
    [[nodiscard]] constexpr std::size_t buffer_len() const noexcept { return icmp_header_len + payload_len; }
    /// Writes the 8 header bytes with checksum 0. Write the payload, then call
    /// mutable_icmp_view::fill_checksum() over buffer_len() bytes. Precondition: `out.size() >= 8`.
    void emit(std::span<std::byte> out) const noexcept {
        detail::store_u8(out.data() + 0, type);
        detail::store_u8(out.data() + 1, code);
        detail::store_be16(out.data() + 2, 0);
        detail::store_be32(out.data() + 4, rest_of_header);
    }
    friend constexpr bool operator==(const icmp_repr&, const icmp_repr&) noexcept = default;
};

}  // namespace nvgre::wire
