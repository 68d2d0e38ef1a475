/// @file wire/udp.hpp
/// @brief UDP header (RFC 768; over IPv6, RFC 8200 section 8.1).
///
/// Layout: source port (2) | destination port (2) | length (2) | checksum (2) | data.
/// The length field counts header and data; bytes after it in the span (Ethernet padding,
/// trailers) are not part of the datagram.
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::wire {

/// UDP header length (fixed).
inline constexpr std::size_t udp_header_len = 8;

/// A view of a UDP datagram over `std::span<Byte>`; `Byte` is `const std::byte` (read-only)
/// or `std::byte` (writable: setters enabled).
///
/// After `checked()` succeeds every accessor stays inside the span: `8 <= length() <=
/// bytes().size()`. `set_length()` can break that; its precondition says how not to.
template <detail::view_byte Byte>
class basic_udp_view {
public:
    using span_type = std::span<Byte>;
    static constexpr bool is_mutable = detail::is_mutable_byte_v<Byte>;

    /// Validates the header and its length field against the span. Errors (layer::udp):
    /// errc::truncated at 0 when the span is shorter than 8 bytes; errc::bad_length at 4 when
    /// the length field is below 8 (this includes 0: IPv6 jumbograms, RFC 2675, are not
    /// supported); errc::truncated at 4 when the length field exceeds the span (`needed` is
    /// then counted from offset 4, i.e. length - 4).
    static result<basic_udp_view> checked(span_type datagram) noexcept {
        if (datagram.size() < udp_header_len) [[unlikely]]
            return make_error(errc::truncated, layer::udp, 0, udp_header_len);
        const std::size_t len = detail::load_be16(datagram.data() + length_at);
        if (len < udp_header_len) [[unlikely]]
            return make_error(errc::bad_length, layer::udp, length_at);
        if (len > datagram.size()) [[unlikely]]
            return make_error(errc::truncated, layer::udp, length_at, len - length_at);
        return basic_udp_view{datagram};
    }
    /// Precondition: `datagram.size() >= 8` and `8 <= length field <= datagram.size()`.
    static basic_udp_view unchecked(span_type datagram) noexcept { return basic_udp_view{datagram}; }

    [[nodiscard]] std::uint16_t source_port() const noexcept { return detail::load_be16(data_.data() + source_port_at); }
    [[nodiscard]] std::uint16_t destination_port() const noexcept { return detail::load_be16(data_.data() + destination_port_at); }
    /// The length field: header plus data, in bytes.
    [[nodiscard]] std::uint16_t length() const noexcept { return detail::load_be16(data_.data() + length_at); }
    /// The stored checksum field (0 over IPv4 means "no checksum", RFC 768).
    [[nodiscard]] std::uint16_t checksum() const noexcept { return detail::load_be16(data_.data() + checksum_at); }
    /// Header length: always 8.
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return udp_header_len; }
    /// The data after the header, bounded by the length field (trailing bytes excluded).
    [[nodiscard]] span_type payload() const noexcept { return data_.subspan(udp_header_len, length() - udp_header_len); }
    /// Header plus data: the first length() bytes, the bytes the checksum covers.
    [[nodiscard]] span_type datagram() const noexcept { return data_.first(length()); }
    /// The whole span the view was made over (may extend past length()).
    [[nodiscard]] span_type bytes() const noexcept { return data_; }

    /// Verifies the checksum for a datagram carried over IPv4. `pseudo_header_sum` is the
    /// partial sum of the IPv4 pseudo-header (source, destination, zero, 17, UDP length).
    /// A checksum field of 0 means the sender computed none (RFC 768) and is accepted.
    /// Over IPv6 a zero checksum is invalid (RFC 8200 section 8.1): use checksum_ok_v6().
    /// O(length()).
    [[nodiscard]] bool checksum_ok(std::uint32_t pseudo_header_sum) const noexcept {
        if (checksum() == 0) return true;
        return sums_to_ones(pseudo_header_sum);
    }
    /// Verifies the checksum for a datagram carried over IPv6, where it is mandatory: a zero
    /// checksum field is rejected (RFC 8200 section 8.1; RFC 6936 zero-checksum tunnels are
    /// not supported). `pseudo_header_sum` covers the 40-byte IPv6 pseudo-header. O(length()).
    [[nodiscard]] bool checksum_ok_v6(std::uint32_t pseudo_header_sum) const noexcept {
        if (checksum() == 0) return false;
        return sums_to_ones(pseudo_header_sum);
    }

    void set_source_port(std::uint16_t port) noexcept requires is_mutable { detail::store_be16(data_.data() + source_port_at, port); }
    void set_destination_port(std::uint16_t port) noexcept requires is_mutable { detail::store_be16(data_.data() + destination_port_at, port); }
    /// Precondition: `8 <= len <= bytes().size()`, otherwise payload() and datagram() would
    /// reach outside the span.
    void set_length(std::uint16_t len) noexcept requires is_mutable { detail::store_be16(data_.data() + length_at, len); }
    void set_checksum(std::uint16_t value) noexcept requires is_mutable { detail::store_be16(data_.data() + checksum_at, value); }
    /// Computes and stores the checksum over the pseudo-header sum and datagram(). A computed
    /// 0 is stored as 0xFFFF, since 0 would mean "no checksum" (RFC 768; also RFC 8200 8.1).
    /// The length field must already be final. O(length()).
    void fill_checksum(std::uint32_t pseudo_header_sum) noexcept requires is_mutable {
        set_checksum(0);
        const std::uint16_t c = checksum::finish(checksum::sum(std::span<const std::byte>(datagram()), pseudo_header_sum));
        set_checksum(c == 0 ? std::uint16_t{0xffff} : c);
    }

private:
    static constexpr std::size_t source_port_at = 0;
    static constexpr std::size_t destination_port_at = 2;
    static constexpr std::size_t length_at = 4;
    static constexpr std::size_t checksum_at = 6;

    explicit basic_udp_view(span_type datagram) noexcept : data_(datagram) {}
    [[nodiscard]] bool sums_to_ones(std::uint32_t pseudo_header_sum) const noexcept {
        return checksum::fold(checksum::sum(std::span<const std::byte>(datagram()), pseudo_header_sum)) == 0xffff;
    }

    span_type data_;
};

using udp_view = basic_udp_view<const std::byte>;
using mutable_udp_view = basic_udp_view<std::byte>;

/// The decoded form of a UDP header. Round-trips: parse(emit(r)) == r (the checksum is not
/// part of the repr: it depends on the payload and the pseudo-header).
struct udp_repr {
    std::uint16_t source_port{0};
    std::uint16_t destination_port{0};
    /// Data bytes after the header; the length field is payload_len + 8.
    std::uint16_t payload_len{0};

    [[nodiscard]] static udp_repr parse(const udp_view& v) noexcept {
        return udp_repr{v.source_port(), v.destination_port(),
                        static_cast<std::uint16_t>(v.length() - udp_header_len)};
    }
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return udp_header_len; }
    /// Header plus payload.
    [[nodiscard]] constexpr std::size_t buffer_len() const noexcept { return udp_header_len + payload_len; }
    /// Writes the 8 header bytes with length = payload_len + 8 and checksum 0. To send a
    /// checksum, write the payload and then call mutable_udp_view::fill_checksum().
    /// Precondition: `out.size() >= 8`, `payload_len <= 65527`.
    void emit(std::span<std::byte> out) const noexcept {
        detail::store_be16(out.data() + 0, source_port);
        detail::store_be16(out.data() + 2, destination_port);
        detail::store_be16(out.data() + 4, static_cast<std::uint16_t>(payload_len + udp_header_len));
        detail::store_be16(out.data() + 6, 0);
    }
    friend constexpr bool operator==(const udp_repr&, const udp_repr&) noexcept = default;
};

}  // namespace nvgre::wire
