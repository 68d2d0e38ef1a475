/// @file wire/icmpv6.hpp
/// @brief ICMPv6 (RFC 4443) with Neighbor Discovery (RFC 4861): echo, Packet Too Big,
/// Neighbor Solicitation / Advertisement and the link-layer address options.
///
/// Layout: type (1) | code (1) | checksum (2) | message body. The body's fixed part depends on
/// the type (4 bytes for errors and echo, 20 for NS/NA: reserved/flags + target address),
/// followed by data: echo data, the quoted packet of an error, or ND options.
/// ICMPv6 has no length field: the message is the whole span, which the caller bounds by
/// the IPv6 payload; the checksum covers a pseudo-header and the whole message (RFC 4443 2.3).
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

namespace nvgre::wire {

/// The part every ICMPv6 message has: type, code, checksum.
inline constexpr std::size_t icmpv6_header_len = 4;
/// Where each field starts (RFC 4443 section 2.1; `target`: of a Neighbor Solicitation or
/// Advertisement, RFC 4861 sections 4.3 and 4.4).
namespace icmpv6_field {
inline constexpr std::size_t type = 0;
inline constexpr std::size_t code = 1;
inline constexpr std::size_t checksum = 2;
inline constexpr std::size_t body = 4;
inline constexpr std::size_t target = 8;
}  // namespace icmpv6_field
/// Echo request/reply header: base + identifier + sequence number.
inline constexpr std::size_t icmpv6_echo_header_len = 8;
/// Neighbor Solicitation / Advertisement without options (RFC 4861 sections 4.3, 4.4).
inline constexpr std::size_t icmpv6_nd_header_len = 24;
/// A link-layer address option for Ethernet: type, length 1 (8 bytes), 6-byte MAC (RFC 4861 4.6.1).
inline constexpr std::size_t nd_link_layer_option_len = 8;

/// ICMPv6 types (RFC 4443 section 2.1, RFC 4861 section 4).
namespace icmpv6_type {
inline constexpr std::uint8_t destination_unreachable = 1;
inline constexpr std::uint8_t packet_too_big = 2;
inline constexpr std::uint8_t time_exceeded = 3;
inline constexpr std::uint8_t parameter_problem = 4;
inline constexpr std::uint8_t echo_request = 128;
inline constexpr std::uint8_t echo_reply = 129;
inline constexpr std::uint8_t router_solicitation = 133;
inline constexpr std::uint8_t router_advertisement = 134;
inline constexpr std::uint8_t neighbor_solicitation = 135;
inline constexpr std::uint8_t neighbor_advertisement = 136;
inline constexpr std::uint8_t redirect = 137;
}  // namespace icmpv6_type

/// Neighbor Discovery option types (RFC 4861 section 4.6).
namespace nd_option_type {
inline constexpr std::uint8_t source_link_layer_address = 1;
inline constexpr std::uint8_t target_link_layer_address = 2;
inline constexpr std::uint8_t prefix_information = 3;
inline constexpr std::uint8_t redirected_header = 4;
inline constexpr std::uint8_t mtu = 5;
}  // namespace nd_option_type

/// Flag bits of the Neighbor Advertisement flags byte (offset 4; RFC 4861 section 4.4).
namespace nd_na_flags {
inline constexpr std::uint8_t router = 0x80;
inline constexpr std::uint8_t solicited = 0x40;
inline constexpr std::uint8_t override_flag = 0x20;
}  // namespace nd_na_flags

/// Length of the fixed part of a message of this type (base header included), before its
/// variable data or options; 4 for types this library does not know.
[[nodiscard]] constexpr std::size_t icmpv6_fixed_len(std::uint8_t type) noexcept {
    switch (type) {
        case icmpv6_type::destination_unreachable:
        case icmpv6_type::packet_too_big:
        case icmpv6_type::time_exceeded:
        case icmpv6_type::parameter_problem:
        case icmpv6_type::echo_request:
        case icmpv6_type::echo_reply:
        case icmpv6_type::router_solicitation: return 8;
        case icmpv6_type::router_advertisement: return 16;
        case icmpv6_type::neighbor_solicitation:
        case icmpv6_type::neighbor_advertisement: return icmpv6_nd_header_len;
        case icmpv6_type::redirect: return 40;
        default: return icmpv6_header_len;
    }
}

/// True for ICMPv6 error messages (type < 128, RFC 4443 section 2.1).
[[nodiscard]] constexpr bool is_icmpv6_error(std::uint8_t type) noexcept { return type < 128; }

/// True for the ND messages whose data is an option list (RFC 4861 section 4).
[[nodiscard]] constexpr bool is_nd_message(std::uint8_t type) noexcept {
    return type >= icmpv6_type::router_solicitation && type <= icmpv6_type::redirect;
}

/// One ND option found by the walk.
struct nd_option {
    std::uint8_t type{0};
    /// The length field: the option's size in units of 8 bytes (never 0 here).
    std::uint8_t length_units{0};
    /// The option bytes after type and length: length_units * 8 - 2 of them.
    std::span<const std::byte> data{};
    /// Offset of the type byte, relative to the start of the ICMPv6 message.
    std::size_t offset{0};
};

/// Walks ND options in `options`, calling `f(const nd_option&)` for each; `f` returns void,
/// or bool where false stops the walk early (still a success). Never reads outside `options`.
/// Errors: errc::bad_length, layer::icmpv6, at the option's offset (`base` + its position;
/// `base` is the message's fixed length) for an option with length 0 ("nodes MUST silently
/// discard an ND packet that contains an option with length zero", RFC 4861 section 4.6) or
/// one running past the end (including a lone trailing type byte). O(options.size()).
template <class F>
result<void> walk_nd_options(std::span<const std::byte> options, F&& f, std::size_t base = icmpv6_nd_header_len) noexcept {
    std::size_t i = 0;
    while (i < options.size()) {
        if (options.size() - i < 2) [[unlikely]]
            return make_error(errc::bad_length, layer::icmpv6, base + i);
        const std::uint8_t units = detail::load_u8(options.data() + i + 1);
        const std::size_t len = std::size_t{units} * 8;
        if (len == 0 || len > options.size() - i) [[unlikely]]
            return make_error(errc::bad_length, layer::icmpv6, base + i);
        const nd_option opt{detail::load_u8(options.data() + i), units, options.subspan(i + 2, len - 2), base + i};
        if constexpr (std::is_same_v<std::invoke_result_t<F&, const nd_option&>, bool>) {
            if (!f(opt)) break;
        } else {
            f(opt);
        }
        i += len;
    }
    return {};
}

/// The MAC of the first link-layer address option of `option_type` (1 source, 2 target) in
/// `options`: nullopt when there is none. The whole list is walked, so a malformed option
/// anywhere is an error (the packet must be discarded, RFC 4861 section 4.6). The first 6
/// bytes of the option's data are the Ethernet address (RFC 4861 section 4.6.1; RFC 2464
/// section 8). O(options.size()).
[[nodiscard]] inline result<std::optional<mac_address>> find_nd_link_layer_address(
    std::span<const std::byte> options, std::uint8_t option_type, std::size_t base = icmpv6_nd_header_len) noexcept {
    std::optional<mac_address> found;
    auto walked = walk_nd_options(
        options,
        [&](const nd_option& o) {
            // data has >= 6 bytes: a non-zero length gives at least 8 - 2.
            if (o.type == option_type && !found) found = mac_address::from_bytes(o.data);
        },
        base);
    if (!walked) return walked.error();
    return found;
}

/// A view of an ICMPv6 message over `std::span<Byte>`; `Byte` is `const std::byte`
/// (read-only) or `std::byte` (writable: setters enabled).
///
/// After `checked()` succeeds every accessor stays inside the span, provided it is used on a
/// message of the type it belongs to (an NS accessor on an echo message reads bytes 8-23
/// only if they are there: accessors of types with a larger fixed part are preconditioned
/// on `type()`). `set_type()` to a type with a longer fixed part can break that.
template <detail::view_byte Byte>
class basic_icmpv6_view {
public:
    using span_type = std::span<Byte>;
    static constexpr bool is_mutable = detail::is_mutable_byte_v<Byte>;

    /// Errors (layer::icmpv6): errc::truncated at 0 when the span is shorter than 4 bytes;
    /// errc::truncated at 4 when it is shorter than the fixed part of its type
    /// (icmpv6_fixed_len(); `needed` counts from offset 4). ND options are not walked here.
    static result<basic_icmpv6_view> checked(span_type message) noexcept {
        if (message.size() < icmpv6_header_len) [[unlikely]]
            return make_error(errc::truncated, layer::icmpv6, 0, icmpv6_header_len);
        const std::size_t fixed = icmpv6_fixed_len(detail::load_u8(message.data() + type_at));
        if (message.size() < fixed) [[unlikely]]
            return make_error(errc::truncated, layer::icmpv6, icmpv6_header_len, fixed - icmpv6_header_len);
        return basic_icmpv6_view{message};
    }
    /// Precondition: `message.size() >= icmpv6_fixed_len(type)`.
    static basic_icmpv6_view unchecked(span_type message) noexcept { return basic_icmpv6_view{message}; }

    [[nodiscard]] std::uint8_t type() const noexcept { return detail::load_u8(data_.data() + type_at); }
    [[nodiscard]] std::uint8_t code() const noexcept { return detail::load_u8(data_.data() + code_at); }
    [[nodiscard]] std::uint16_t checksum() const noexcept { return detail::load_be16(data_.data() + checksum_at); }
    /// Bytes of the fixed part of this type: where payload() starts.
    [[nodiscard]] std::size_t header_len() const noexcept { return icmpv6_fixed_len(type()); }
    /// Bytes 4-7 (the "message body" word of errors and echo). Precondition: header_len() >= 8.
    [[nodiscard]] std::uint32_t rest_of_header() const noexcept { return detail::load_be32(data_.data() + body_at); }
    /// Packet Too Big MTU (RFC 4443 section 3.2). Precondition: header_len() >= 8.
    [[nodiscard]] std::uint32_t mtu() const noexcept { return detail::load_be32(data_.data() + body_at); }
    /// Parameter Problem pointer (RFC 4443 section 3.4). Precondition: header_len() >= 8.
    [[nodiscard]] std::uint32_t pointer() const noexcept { return detail::load_be32(data_.data() + body_at); }
    /// Echo identifier (RFC 4443 section 4.1). Precondition: header_len() >= 8.
    [[nodiscard]] std::uint16_t identifier() const noexcept { return detail::load_be16(data_.data() + body_at); }
    /// Echo sequence number. Precondition: header_len() >= 8.
    [[nodiscard]] std::uint16_t sequence_number() const noexcept { return detail::load_be16(data_.data() + body_at + 2); }
    /// Target address of an NS (RFC 4861 section 4.3). Precondition: type is NS or NA.
    [[nodiscard]] ipv6_address ns_target() const noexcept { return target(); }
    /// Target address of an NA (RFC 4861 section 4.4). Precondition: type is NS or NA.
    [[nodiscard]] ipv6_address na_target() const noexcept { return target(); }
    /// Target address at bytes 8-23 (NS, NA, and Redirect's target). Precondition: header_len() >= 24.
    [[nodiscard]] ipv6_address target() const noexcept { return ipv6_address::from_bytes(data_.subspan(target_at, 16)); }
    /// NA Router flag. Precondition: header_len() >= 8.
    [[nodiscard]] bool router() const noexcept { return (na_flags() & nd_na_flags::router) != 0; }
    /// NA Solicited flag. Precondition: header_len() >= 8.
    [[nodiscard]] bool solicited() const noexcept { return (na_flags() & nd_na_flags::solicited) != 0; }
    /// NA Override flag (named so because `override` is a contextual keyword).
    /// Precondition: header_len() >= 8.
    [[nodiscard]] bool override_flag() const noexcept { return (na_flags() & nd_na_flags::override_flag) != 0; }
    /// The NA flags byte (offset 4). Precondition: header_len() >= 8.
    [[nodiscard]] std::uint8_t na_flags() const noexcept { return detail::load_u8(data_.data() + body_at); }
    /// Data after the fixed part: echo data, the quoted packet of an error, ND options.
    [[nodiscard]] span_type payload() const noexcept { return data_.subspan(header_len()); }
    /// The ND options of an ND message: same bytes as payload().
    [[nodiscard]] span_type nd_options() const noexcept { return payload(); }
    /// The whole span the view was made over: the message the checksum covers.
    [[nodiscard]] span_type bytes() const noexcept { return data_; }

    /// Walks the ND options (walk_nd_options(); offsets relative to the message).
    template <class F>
    result<void> for_each_nd_option(F&& f) const noexcept {
        return walk_nd_options(std::span<const std::byte>(nd_options()), static_cast<F&&>(f), header_len());
    }
    /// The MAC in the first option of `option_type` (1 or 2), nullopt if none; errc::bad_length
    /// when any option is malformed. O(options).
    [[nodiscard]] result<std::optional<mac_address>> link_layer_address(std::uint8_t option_type) const noexcept {
        return find_nd_link_layer_address(std::span<const std::byte>(nd_options()), option_type, header_len());
    }
    /// Source link-layer address option (type 1): carried by NS, RS, RA.
    [[nodiscard]] result<std::optional<mac_address>> source_link_layer_address() const noexcept {
        return link_layer_address(nd_option_type::source_link_layer_address);
    }
    /// Target link-layer address option (type 2): carried by NA, Redirect.
    [[nodiscard]] result<std::optional<mac_address>> target_link_layer_address() const noexcept {
        return link_layer_address(nd_option_type::target_link_layer_address);
    }

    /// Verifies the checksum over the IPv6 pseudo-header partial sum (RFC 4443 section 2.3:
    /// upper-layer length = bytes().size(), next header 58) and the whole span.
    /// O(bytes().size()).
    [[nodiscard]] bool checksum_ok(std::uint32_t pseudo_header_sum) const noexcept {
        return checksum::fold(checksum::sum(std::span<const std::byte>(data_), pseudo_header_sum)) == 0xffff;
    }

    void set_type(std::uint8_t v) noexcept requires is_mutable { detail::store_u8(data_.data() + type_at, v); }
    void set_code(std::uint8_t v) noexcept requires is_mutable { detail::store_u8(data_.data() + code_at, v); }
    void set_checksum(std::uint16_t v) noexcept requires is_mutable { detail::store_be16(data_.data() + checksum_at, v); }
    /// Precondition for the setters below: header_len() >= 8 (>= 24 for set_target).
    void set_rest_of_header(std::uint32_t v) noexcept requires is_mutable { detail::store_be32(data_.data() + body_at, v); }
    void set_mtu(std::uint32_t v) noexcept requires is_mutable { detail::store_be32(data_.data() + body_at, v); }
    void set_pointer(std::uint32_t v) noexcept requires is_mutable { detail::store_be32(data_.data() + body_at, v); }
    void set_identifier(std::uint16_t v) noexcept requires is_mutable { detail::store_be16(data_.data() + body_at, v); }
    void set_sequence_number(std::uint16_t v) noexcept requires is_mutable { detail::store_be16(data_.data() + body_at + 2, v); }
    void set_target(const ipv6_address& a) noexcept requires is_mutable { a.to_bytes(data_.subspan(target_at, 16)); }
    void set_ns_target(const ipv6_address& a) noexcept requires is_mutable { set_target(a); }
    void set_na_target(const ipv6_address& a) noexcept requires is_mutable { set_target(a); }
    /// Writes the NA flags byte (offset 4); the other 3 reserved bytes are left alone.
    void set_na_flags(std::uint8_t f) noexcept requires is_mutable { detail::store_u8(data_.data() + body_at, f); }
    void set_router(bool on) noexcept requires is_mutable { set_na_flag(nd_na_flags::router, on); }
    void set_solicited(bool on) noexcept requires is_mutable { set_na_flag(nd_na_flags::solicited, on); }
    void set_override_flag(bool on) noexcept requires is_mutable { set_na_flag(nd_na_flags::override_flag, on); }
    /// Computes and stores the checksum over the pseudo-header partial sum and the whole span.
    /// O(bytes().size()).
    void fill_checksum(std::uint32_t pseudo_header_sum) noexcept requires is_mutable {
        set_checksum(0);
        set_checksum(checksum::finish(checksum::sum(std::span<const std::byte>(data_), pseudo_header_sum)));
    }

private:
    static constexpr std::size_t type_at = icmpv6_field::type;
    static constexpr std::size_t code_at = icmpv6_field::code;
    static constexpr std::size_t checksum_at = icmpv6_field::checksum;
    static constexpr std::size_t body_at = icmpv6_field::body;
    static constexpr std::size_t target_at = icmpv6_field::target;

    explicit basic_icmpv6_view(span_type message) noexcept : data_(message) {}
    void set_na_flag(std::uint8_t bit, bool on) noexcept requires is_mutable {
        set_na_flags(static_cast<std::uint8_t>(on ? (na_flags() | bit) : (na_flags() & ~bit)));
    }

    span_type data_;
};

using icmpv6_view = basic_icmpv6_view<const std::byte>;
using mutable_icmpv6_view = basic_icmpv6_view<std::byte>;

}  // namespace nvgre::wire

namespace nvgre::detail {
/// Stores the checksum of an emitted message of `len` bytes at `out` (checksum field is 0).
inline void icmpv6_emit_checksum(std::span<std::byte> out, std::size_t len, std::uint32_t pseudo_header_sum) noexcept {
    const auto msg = out.first(len);
    store_be16(msg.data() + 2, checksum::finish(checksum::sum(std::span<const std::byte>(msg), pseudo_header_sum)));
}
/// Writes an Ethernet link-layer address option (RFC 4861 section 4.6.1) at `out`.
inline void emit_nd_link_layer_option(std::span<std::byte> out, std::uint8_t option_type, const mac_address& mac) noexcept {
    store_u8(out.data(), option_type);
    store_u8(out.data() + 1, 1);
    mac.to_bytes(out.subspan(2, mac_address::size));
}
}  // namespace nvgre::detail

namespace nvgre::wire {

/// The decoded form of any ICMPv6 message with an 8-byte header (errors, echo): type, code,
/// the body word (MTU, pointer, identifier + sequence, unused) and the data length.
/// Round-trips: parse(emit(r)) == r when payload_len bytes follow the header.
struct icmpv6_repr {
    std::uint8_t type{0};
    std::uint8_t code{0};
    std::uint32_t rest_of_header{0};
    std::size_t payload_len{0};

    /// Errors: errc::truncated, layer::icmpv6, at 4 when the message has fewer than 8 bytes
    /// (possible for unknown types, whose fixed part is 4).
    [[nodiscard]] static result<icmpv6_repr> parse(const icmpv6_view& v) noexcept {
        if (v.bytes().size() < icmpv6_echo_header_len)
            return make_error(errc::truncated, layer::icmpv6, icmpv6_header_len, icmpv6_echo_header_len - icmpv6_header_len);
        return icmpv6_repr{v.type(), v.code(), v.rest_of_header(), v.bytes().size() - icmpv6_echo_header_len};
    }
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return icmpv6_echo_header_len; }
    [[nodiscard]] constexpr std::size_t buffer_len() const noexcept { return icmpv6_echo_header_len + payload_len; }
    /// Writes the 8 header bytes with checksum 0. Write the payload, then call
    /// mutable_icmpv6_view::fill_checksum(). Precondition: `out.size() >= 8`.
    void emit(std::span<std::byte> out) const noexcept {
        detail::store_u8(out.data() + 0, type);
        detail::store_u8(out.data() + 1, code);
        detail::store_be16(out.data() + 2, 0);
        detail::store_be32(out.data() + 4, rest_of_header);
    }
    friend constexpr bool operator==(const icmpv6_repr&, const icmpv6_repr&) noexcept = default;
};

/// An echo request or reply (RFC 4443 section 4). Round-trips: parse(emit(r)) == r.
struct icmpv6_echo_repr {
    bool is_reply{false};  ///< type 129 rather than 128
    std::uint16_t identifier{0};
    std::uint16_t sequence_number{0};
    std::size_t payload_len{0};

    /// Errors (layer::icmpv6): errc::bad_value at 0 for a type other than 128/129, at 1 for a
    /// non-zero code.
    [[nodiscard]] static result<icmpv6_echo_repr> parse(const icmpv6_view& v) noexcept {
        if (v.type() != icmpv6_type::echo_request && v.type() != icmpv6_type::echo_reply)
            return make_error(errc::bad_value, layer::icmpv6, 0);
        if (v.code() != 0) return make_error(errc::bad_value, layer::icmpv6, 1);
        return icmpv6_echo_repr{v.type() == icmpv6_type::echo_reply, v.identifier(), v.sequence_number(),
                                v.payload().size()};
    }
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return icmpv6_echo_header_len; }
    [[nodiscard]] constexpr std::size_t buffer_len() const noexcept { return icmpv6_echo_header_len + payload_len; }
    /// Writes the 8 header bytes with checksum 0; write the data, then fill_checksum().
    /// Precondition: `out.size() >= 8`.
    void emit(std::span<std::byte> out) const noexcept {
        detail::store_u8(out.data() + 0, is_reply ? icmpv6_type::echo_reply : icmpv6_type::echo_request);
        detail::store_u8(out.data() + 1, 0);
        detail::store_be16(out.data() + 2, 0);
        detail::store_be16(out.data() + 4, identifier);
        detail::store_be16(out.data() + 6, sequence_number);
    }
    friend constexpr bool operator==(const icmpv6_echo_repr&, const icmpv6_echo_repr&) noexcept = default;
};

/// A Neighbor Solicitation (RFC 4861 section 4.3) with its optional source link-layer
/// address option. Other options (e.g. nonce, RFC 3971) are not kept. Round-trips.
struct icmpv6_ns_repr {
    ipv6_address target{};
    std::optional<mac_address> source_link_layer_address{};

    /// Errors (layer::icmpv6): errc::bad_value at 0 (type not 135) or 1 (code not 0, RFC 4861
    /// 7.1.1); errc::bad_address at 8 for a multicast target (7.1.1); errc::bad_length from the
    /// option walk.
    [[nodiscard]] static result<icmpv6_ns_repr> parse(const icmpv6_view& v) noexcept {
        if (v.type() != icmpv6_type::neighbor_solicitation) return make_error(errc::bad_value, layer::icmpv6, 0);
        if (v.code() != 0) return make_error(errc::bad_value, layer::icmpv6, 1);
        const ipv6_address target = v.ns_target();
        if (target.is_multicast()) return make_error(errc::bad_address, layer::icmpv6, 8);
        auto lla = v.source_link_layer_address();
        if (!lla) return lla.error();
        return icmpv6_ns_repr{target, *lla};
    }
    /// 24, or 32 with the link-layer option: the whole message.
    [[nodiscard]] constexpr std::size_t buffer_len() const noexcept {
        return icmpv6_nd_header_len + (source_link_layer_address ? nd_link_layer_option_len : 0);
    }
    [[nodiscard]] constexpr std::size_t header_len() const noexcept { return buffer_len(); }
    /// Writes the whole message (buffer_len() bytes) with checksum 0.
    /// Precondition: `out.size() >= buffer_len()`.
    void emit(std::span<std::byte> out) const noexcept {
        detail::store_u8(out.data() + 0, icmpv6_type::neighbor_solicitation);
        detail::store_u8(out.data() + 1, 0);
        detail::store_be16(out.data() + 2, 0);
        detail::store_be32(out.data() + 4, 0);
        target.to_bytes(out.subspan(8, 16));
        if (source_link_layer_address)
            detail::emit_nd_link_layer_option(out.subspan(icmpv6_nd_header_len), nd_option_type::source_link_layer_address,
                                              *source_link_layer_address);
    }
    /// Writes the whole message and its checksum; `pseudo_header_sum` covers the IPv6
    /// pseudo-header with upper-layer length buffer_len(). O(buffer_len()).
    void emit(std::span<std::byte> out, std::uint32_t pseudo_header_sum) const noexcept {
        emit(out);
        detail::icmpv6_emit_checksum(out, buffer_len(), pseudo_header_sum);
    }
    friend constexpr bool operator==(const icmpv6_ns_repr&, const icmpv6_ns_repr&) noexcept = default;
};

/// A Neighbor Advertisement (RFC 4861 section 4.4) with its optional target link-layer
/// address option. Round-trips.
struct icmpv6_na_repr {
    bool router{false};
    bool solicited{false};
    bool override_flag{false};
    ipv6_address target{};
    std::optional<mac_address> target_link_layer_address{};

    /// Errors as icmpv6_ns_repr::parse, for type 136.
    [[nodiscard]] static result<icmpv6_na_repr> parse(const icmpv6_view& v) noexcept {
        if (v.type() != icmpv6_type::neighbor_advertisement) return make_error(errc::bad_value, layer::icmpv6, 0);
        if (v.code() != 0) return make_error(errc::bad_value, layer::icmpv6, 1);
        const ipv6_address target = v.na_target();
        if (target.is_multicast()) return make_error(errc::bad_address, layer::icmpv6, 8);
        auto lla = v.target_link_layer_address();
        if (!lla) return lla.error();
        return icmpv6_na_repr{v.router(), v.solicited(), v.override_flag(), target, *lla};
    }
    /// 24, or 32 with the link-layer option: the whole message.
    [[nodiscard]] constexpr std::size_t buffer_len() const noexcept {
        return icmpv6_nd_header_len + (target_link_layer_address ? nd_link_layer_option_len : 0);
    }
    [[nodiscard]] constexpr std::size_t header_len() const noexcept { return buffer_len(); }
    /// Writes the whole message (buffer_len() bytes) with checksum 0 and reserved bits 0.
    /// Precondition: `out.size() >= buffer_len()`.
    void emit(std::span<std::byte> out) const noexcept {
        detail::store_u8(out.data() + 0, icmpv6_type::neighbor_advertisement);
        detail::store_u8(out.data() + 1, 0);
        detail::store_be16(out.data() + 2, 0);
        const auto flags = static_cast<std::uint8_t>((router ? nd_na_flags::router : 0) |
                                                     (solicited ? nd_na_flags::solicited : 0) |
                                                     (override_flag ? nd_na_flags::override_flag : 0));
        detail::store_be32(out.data() + 4, std::uint32_t{flags} << 24);
        target.to_bytes(out.subspan(8, 16));
        if (target_link_layer_address)
            detail::emit_nd_link_layer_option(out.subspan(icmpv6_nd_header_len), nd_option_type::target_link_layer_address,
                                              *target_link_layer_address);
    }
    /// Writes the whole message and its checksum (see icmpv6_ns_repr::emit). O(buffer_len()).
    void emit(std::span<std::byte> out, std::uint32_t pseudo_header_sum) const noexcept {
        emit(out);
        detail::icmpv6_emit_checksum(out, buffer_len(), pseudo_header_sum);
    }
    friend constexpr bool operator==(const icmpv6_na_repr&, const icmpv6_na_repr&) noexcept = default;
};

}  // namespace nvgre::wire
