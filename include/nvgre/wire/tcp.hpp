/// @file wire/tcp.hpp
/// @brief TCP header (RFC 9293 section 3.1) with a bounds-checked options walk.
///
/// Layout: source port (2) | destination port (2) | sequence number (4) | acknowledgment
/// number (4) | data offset (4 bits) + reserved (4 bits) | flags (8) | window (2) |
/// checksum (2) | urgent pointer (2) | options (data offset * 4 - 20) | data.
///
/// TCP has no length field of its own: the segment is the whole span, which the caller
/// bounds by the IP payload length.
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

namespace nvgre::wire {

/// TCP header length without options (data offset 5).
inline constexpr std::size_t tcp_min_header_len = 20;
/// TCP header length with the most options (data offset 15).
inline constexpr std::size_t tcp_max_header_len = 60;

/// Where each field of the fixed header starts (RFC 9293 section 3.1), for code that patches a
/// segment it has already checked through tcp_view (the view reads them from here too).
namespace tcp_field {
inline constexpr std::size_t source_port = 0;
inline constexpr std::size_t destination_port = 2;
inline constexpr std::size_t sequence = 4;
inline constexpr std::size_t ack = 8;
inline constexpr std::size_t data_offset = 12;
inline constexpr std::size_t flags = 13;
inline constexpr std::size_t window = 14;
inline constexpr std::size_t checksum = 16;
inline constexpr std::size_t urgent = 18;
}  // namespace tcp_field

/// Bits of the flags byte (offset 13), RFC 9293 section 3.1 and RFC 3168 (ECE, CWR).
namespace tcp_flags {
inline constexpr std::uint8_t fin = 0x01;
inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t psh = 0x08;
inline constexpr std::uint8_t ack = 0x10;
inline constexpr std::uint8_t urg = 0x20;
inline constexpr std::uint8_t ece = 0x40;
inline constexpr std::uint8_t cwr = 0x80;
}  // namespace tcp_flags

/// TCP option kinds the library interprets (IANA "TCP Option Kind Numbers").
namespace tcp_option_kind {
inline constexpr std::uint8_t end_of_option_list = 0;  ///< EOL: one byte, ends the list
inline constexpr std::uint8_t no_operation = 1;        ///< NOP: one byte, padding
inline constexpr std::uint8_t mss = 2;                 ///< Maximum Segment Size, length 4 (RFC 9293 3.2)
inline constexpr std::uint8_t window_scale = 3;        ///< RFC 7323 section 2.2, length 3
inline constexpr std::uint8_t sack_permitted = 4;      ///< RFC 2018, length 2
inline constexpr std::uint8_t timestamps = 8;          ///< RFC 7323 section 3, length 10
}  // namespace tcp_option_kind

/// Length of the MSS option (kind, length, 16-bit value).
inline constexpr std::size_t tcp_mss_option_len = 4;

/// One option found by the walk.
struct tcp_option {
    std::uint8_t kind{0};
    /// The option's value bytes: after kind and length; empty for NOP.
    std::span<const std::byte> data{};
    /// Offset of the kind byte, relative to the start of the TCP header.
    std::size_t offset{0};
};

/// Walks TCP options in `options` (the bytes between the fixed header and the data), calling
/// `f(const tcp_option&)` for each option, NOPs included. `f` returns void, or bool where
/// false stops the walk early (still a success). EOL ends the walk: the bytes after it are
/// padding. Never reads outside `options`. Errors: errc::bad_header_length, layer::tcp, at
/// the option's offset (`base` + its position; `base` is 20 for a header's options) when a
/// multi-byte option has no length byte, a length below 2, or a length running past the end
/// (RFC 9293 section 3.1: such a segment's options cannot be parsed). O(options.size()).
template <class F>
result<void> walk_tcp_options(std::span<const std::byte> options, F&& f, std::size_t base = tcp_min_header_len) noexcept {
    std::size_t i = 0;
    while (i < options.size()) {
        const std::uint8_t kind = detail::load_u8(options.data() + i);
        if (kind == tcp_option_kind::end_of_option_list) break;
        tcp_option opt{kind, {}, base + i};
        std::size_t len = 1;
        if (kind != tcp_option_kind::no_operation) {
            if (i + 1 >= options.size()) [[unlikely]]
                return make_error(errc::bad_header_length, layer::tcp, base + i);
            len = detail::load_u8(options.data() + i + 1);
            if (len < 2 || len > options.size() - i) [[unlikely]]
                return make_error(errc::bad_header_length, layer::tcp, base + i);
            opt.data = options.subspan(i + 2, len - 2);
        }
        if constexpr (std::is_same_v<std::invoke_result_t<F&, const tcp_option&>, bool>) {
            if (!f(static_cast<const tcp_option&>(opt))) break;
        } else {
            f(static_cast<const tcp_option&>(opt));
        }
        i += len;
    }
    return {};
}

/// The MSS option's value in `options`, if present: nullopt when absent; errors from the walk,
/// and errc::bad_header_length at the option when an MSS option's length is not 4.
/// O(options.size()).
[[nodiscard]] inline result<std::optional<std::uint16_t>> find_tcp_mss(std::span<const std::byte> options,
                                                                       std::size_t base = tcp_min_header_len) noexcept {
    std::optional<std::uint16_t> mss;
    bool bad = false;
    std::size_t bad_at = 0;
    auto walked = walk_tcp_options(
        options,
        [&](const tcp_option& o) {
            if (o.kind != tcp_option_kind::mss) return true;
            if (o.data.size() != tcp_mss_option_len - 2) {
                bad = true;
                bad_at = o.offset;
            } else {
                mss = detail::load_be16(o.data.data());
            }
            return false;
        },
        base);
    if (!walked) return walked.error();
    if (bad) return make_error(errc::bad_header_length, layer::tcp, bad_at);
    return mss;
}

/// A view of a TCP segment over `std::span<Byte>`; `Byte` is `const std::byte` (read-only)
/// or `std::byte` (writable: setters enabled).
///
/// After `checked()` succeeds every accessor stays inside the span: `20 <= header_len() <=
/// bytes().size()`. `set_data_offset_words()` can break that; see its precondition.
/// `checked()` does not walk the options (a malformed option list is reported by
/// for_each_option() / mss_option(), so that forwarding need not pay for it).
template <detail::view_byte Byte>
class basic_tcp_view {
public:
    using span_type = std::span<Byte>;
    static constexpr bool is_mutable = detail::is_mutable_byte_v<Byte>;

    /// Validates the fixed header and the data offset. Errors (layer::tcp): errc::truncated
    /// at 0 when the span is shorter than 20 bytes; errc::bad_header_length at 12 when the data
    /// offset is below 5; errc::truncated at 20 when the options announced by the data offset
    /// run past the span (`needed` = header_len - 20).
    static result<basic_tcp_view> checked(span_type segment) noexcept {
        if (segment.size() < tcp_min_header_len) [[unlikely]]
            return make_error(errc::truncated, layer::tcp, 0, tcp_min_header_len);
        const std::size_t hl = std::size_t{detail::load_u8(segment.data() + data_offset_at)} / 16 * 4;
        if (hl < tcp_min_header_len) [[unlikely]]
            return make_error(errc::bad_header_length, layer::tcp, data_offset_at);
        if (hl > segment.size()) [[unlikely]]
            return make_error(errc::truncated, layer::tcp, tcp_min_header_len, hl - tcp_min_header_len);
        return basic_tcp_view{segment};
    }
    /// Precondition: `segment.size() >= 20` and `20 <= data offset * 4 <= segment.size()`.
    static basic_tcp_view unchecked(span_type segment) noexcept { return basic_tcp_view{segment}; }

    [[nodiscard]] std::uint16_t source_port() const noexcept { return detail::load_be16(data_.data() + source_port_at); }
    [[nodiscard]] std::uint16_t destination_port() const noexcept { return detail::load_be16(data_.data() + destination_port_at); }
    [[nodiscard]] std::uint32_t sequence_number() const noexcept { return detail::load_be32(data_.data() + sequence_at); }
    [[nodiscard]] std::uint32_t ack_number() const noexcept { return detail::load_be32(data_.data() + ack_at); }
    /// The data offset field: header length in 32-bit words (5..15 after checked()).
    [[nodiscard]] std::uint8_t data_offset_words() const noexcept {
        return static_cast<std::uint8_t>(detail::load_u8(data_.data() + data_offset_at) >> 4);
    }
    /// Header length in bytes, options included.
    [[nodiscard]] std::size_t header_len() const noexcept { return std::size_t{data_offset_words()} * 4; }
    /// The flags byte (offset 13); see `tcp_flags`. The four bits before it (reserved, and the
    /// experimental AE/NS bit) are not included.
    [[nodiscard]] std::uint8_t flags() const noexcept { return detail::load_u8(data_.data() + flags_at); }
    [[nodiscard]] bool fin() const noexcept { return (flags() & tcp_flags::fin) != 0; }
    [[nodiscard]] bool syn() const noexcept { return (flags() & tcp_flags::syn) != 0; }
    [[nodiscard]] bool rst() const noexcept { return (flags() & tcp_flags::rst) != 0; }
    [[nodiscard]] bool psh() const noexcept { return (flags() & tcp_flags::psh) != 0; }
    [[nodiscard]] bool ack() const noexcept { return (flags() & tcp_flags::ack) != 0; }
    [[nodiscard]] bool urg() const noexcept { return (flags() & tcp_flags::urg) != 0; }
    [[nodiscard]] bool ece() const noexcept { return (flags() & tcp_flags::ece) != 0; }
    [[nodiscard]] bool cwr() const noexcept { return (flags() & tcp_flags::cwr) != 0; }
    [[nodiscard]] std::uint16_t window() const noexcept { return detail::load_be16(data_.data() + window_at); }
    [[nodiscard]] std::uint16_t checksum() const noexcept { return detail::load_be16(data_.data() + checksum_at); }
    [[nodiscard]] std::uint16_t urgent_pointer() const noexcept { return detail::load_be16(data_.data() + urgent_at); }
    /// The option bytes (header_len() - 20 of them, possibly empty).
    [[nodiscard]] span_type options() const noexcept {
        return data_.subspan(tcp_min_header_len, header_len() - tcp_min_header_len);
    }
    /// The data after the header: the rest of the span.
    [[nodiscard]] span_type payload() const noexcept { return data_.subspan(header_len()); }
    /// The whole span the view was made over: the segment the checksum covers.
    [[nodiscard]] span_type bytes() const noexcept { return data_; }

    /// Walks the options; see walk_tcp_options() (offsets are relative to the TCP header).
    template <class F>
    result<void> for_each_option(F&& f) const noexcept {
        return walk_tcp_options(std::span<const std::byte>(options()), static_cast<F&&>(f));
    }
    /// The MSS option (RFC 9293 section 3.7.1): nullopt when absent, an error when the option
    /// list is malformed or the MSS option's length is not 4. O(options).
    [[nodiscard]] result<std::optional<std::uint16_t>> mss_option() const noexcept {
        return find_tcp_mss(std::span<const std::byte>(options()));
    }

    /// Verifies the checksum over the pseudo-header partial sum (IPv4: RFC 9293 section 3.1;
    /// IPv6: RFC 8200 section 8.1; its length is bytes().size()) and the whole span.
    /// O(bytes().size()).
    [[nodiscard]] bool checksum_ok(std::uint32_t pseudo_header_sum) const noexcept {
        return checksum::fold(checksum::sum(std::span<const std::byte>(data_), pseudo_header_sum)) == 0xffff;
    }

    void set_source_port(std::uint16_t port) noexcept requires is_mutable { detail::store_be16(data_.data() + source_port_at, port); }
    void set_destination_port(std::uint16_t port) noexcept requires is_mutable { detail::store_be16(data_.data() + destination_port_at, port); }
    void set_sequence_number(std::uint32_t v) noexcept requires is_mutable { detail::store_be32(data_.data() + sequence_at, v); }
    void set_ack_number(std::uint32_t v) noexcept requires is_mutable { detail::store_be32(data_.data() + ack_at, v); }
    /// Keeps the low four (reserved/AE) bits. Precondition: `5 <= words <= 15` and
    /// `words * 4 <= bytes().size()`, otherwise options()/payload() would leave the span.
    void set_data_offset_words(std::uint8_t words) noexcept requires is_mutable {
        const auto low = static_cast<std::uint8_t>(detail::load_u8(data_.data() + data_offset_at) & 0x0fu);
        detail::store_u8(data_.data() + data_offset_at, static_cast<std::uint8_t>((words & 0x0fu) << 4 | low));
    }
    void set_flags(std::uint8_t f) noexcept requires is_mutable { detail::store_u8(data_.data() + flags_at, f); }
    void set_fin(bool on) noexcept requires is_mutable { set_flag(tcp_flags::fin, on); }
    void set_syn(bool on) noexcept requires is_mutable { set_flag(tcp_flags::syn, on); }
    void set_rst(bool on) noexcept requires is_mutable { set_flag(tcp_flags::rst, on); }
    void set_psh(bool on) noexcept requires is_mutable { set_flag(tcp_flags::psh, on); }
    void set_ack(bool on) noexcept requires is_mutable { set_flag(tcp_flags::ack, on); }
    void set_urg(bool on) noexcept requires is_mutable { set_flag(tcp_flags::urg, on); }
    void set_ece(bool on) noexcept requires is_mutable { set_flag(tcp_flags::ece, on); }
    void set_cwr(bool on) noexcept requires is_mutable { set_flag(tcp_flags::cwr, on); }
    void set_window(std::uint16_t v) noexcept requires is_mutable { detail::store_be16(data_.data() + window_at, v); }
    void set_checksum(std::uint16_t v) noexcept requires is_mutable { detail::store_be16(data_.data() + checksum_at, v); }
    void set_urgent_pointer(std::uint16_t v) noexcept requires is_mutable { detail::store_be16(data_.data() + urgent_at, v); }
    /// Computes and stores the checksum over the pseudo-header partial sum and the whole span
    /// (a computed 0 stays 0: unlike UDP, TCP gives 0 no special meaning). O(bytes().size()).
    void fill_checksum(std::uint32_t pseudo_header_sum) noexcept requires is_mutable {
        set_checksum(0);
        set_checksum(checksum::finish(checksum::sum(std::span<const std::byte>(data_), pseudo_header_sum)));
    }

private:
    static constexpr std::size_t source_port_at = tcp_field::source_port;
    static constexpr std::size_t destination_port_at = tcp_field::destination_port;
    static constexpr std::size_t sequence_at = tcp_field::sequence;
    static constexpr std::size_t ack_at = tcp_field::ack;
    static constexpr std::size_t data_offset_at = tcp_field::data_offset;
    static constexpr std::size_t flags_at = tcp_field::flags;
    static constexpr std::size_t window_at = tcp_field::window;
    static constexpr std::size_t checksum_at = tcp_field::checksum;
    static constexpr std::size_t urgent_at = tcp_field::urgent;

    explicit basic_tcp_view(span_type segment) noexcept : data_(segment) {}
    void set_flag(std::uint8_t bit, bool on) noexcept requires is_mutable {
        set_flags(static_cast<std::uint8_t>(on ? (flags() | bit) : (flags() & ~bit)));
    }

    span_type data_;
};

using tcp_view = basic_tcp_view<const std::byte>;
using mutable_tcp_view = basic_tcp_view<std::byte>;

/// The decoded form of a TCP header: the fixed fields and the MSS option. Other options
/// (window scale, SACK, timestamps, ...) are not kept, so parse/emit round-trips exactly for
/// headers whose only option is MSS; parse(emit(r)) == r always.
struct tcp_repr {
    std::uint16_t source_port{0};
    std::uint16_t destination_port{0};
    std::uint32_t sequence_number{0};
    std::uint32_t ack_number{0};
    std::uint8_t flags{0};  ///< see `tcp_flags`
    std::uint16_t window{0};
    std::uint16_t urgent_pointer{0};
    std::optional<std::uint16_t> mss{};

    /// Errors: those of tcp_view::mss_option() (a malformed option list).
    [[nodiscard]] static result<tcp_repr> parse(const tcp_view& v) noexcept {
        auto m = v.mss_option();
        if (!m) return m.error();
        return tcp_repr{v.source_port(), v.destination_port(), v.sequence_number(), v.ack_number(),
                        v.flags(),       v.window(),           v.urgent_pointer(),  *m};
    }
    /// 20, or 24 with the MSS option.
    [[nodiscard]] constexpr std::size_t header_len() const noexcept {
        return tcp_min_header_len + (mss ? tcp_mss_option_len : 0);
    }
    /// Header plus `payload_len` data bytes.
    [[nodiscard]] constexpr std::size_t buffer_len(std::size_t payload_len = 0) const noexcept {
        return header_len() + payload_len;
    }
    /// Writes header_len() bytes: the fields, data offset, reserved bits 0, checksum 0, then
    /// the MSS option. To send a checksum, write the payload and call
    /// mutable_tcp_view::fill_checksum(). Precondition: `out.size() >= header_len()`.
    void emit(std::span<std::byte> out) const noexcept {
        detail::store_be16(out.data() + 0, source_port);
        detail::store_be16(out.data() + 2, destination_port);
        detail::store_be32(out.data() + 4, sequence_number);
        detail::store_be32(out.data() + 8, ack_number);
        detail::store_u8(out.data() + 12, static_cast<std::uint8_t>((header_len() / 4) << 4));
        detail::store_u8(out.data() + 13, flags);
        detail::store_be16(out.data() + 14, window);
        detail::store_be16(out.data() + 16, 0);
        detail::store_be16(out.data() + 18, urgent_pointer);
        if (mss) {
            detail::store_u8(out.data() + 20, tcp_option_kind::mss);
            detail::store_u8(out.data() + 21, static_cast<std::uint8_t>(tcp_mss_option_len));
            detail::store_be16(out.data() + 22, *mss);
        }
    }
    friend constexpr bool operator==(const tcp_repr&, const tcp_repr&) noexcept = default;
};

}  // namespace nvgre::wire
