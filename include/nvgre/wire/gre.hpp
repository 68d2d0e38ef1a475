/// @file wire/gre.hpp
/// @brief GRE header, version 0 (RFC 2784) with the key and sequence number extensions of
/// RFC 2890. Routing (the R bit of RFC 1701) is not supported and is rejected.
///
/// Layout (RFC 2784 section 2.1, RFC 2890 section 2):
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |C|R|K|S| Reserved0 bits 4-12 | Ver |         Protocol Type         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Checksum (optional)      |      Reserved1 (optional)     |   present if C
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Key (optional)                        |   present if K
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Sequence Number (optional)                    |   present if S
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// The optional words appear in that order, each only when its bit is set, so their offsets
/// follow from the flags alone.
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace nvgre::wire {

/// The fixed part of every GRE header: flags/version word + protocol type.
inline constexpr std::size_t gre_base_header_len = 4;
/// The longest header this library accepts: base + checksum/reserved1 + key + sequence.
inline constexpr std::size_t gre_max_header_len = 16;

/// Bits of the first 16-bit word of a GRE header (bit 0 is the most significant bit).
namespace gre_flags {
inline constexpr std::uint16_t checksum = 0x8000;             ///< C, bit 0 (RFC 2784)
inline constexpr std::uint16_t routing = 0x4000;              ///< R, bit 1 (RFC 1701): rejected
inline constexpr std::uint16_t key = 0x2000;                  ///< K, bit 2 (RFC 2890)
inline constexpr std::uint16_t sequence = 0x1000;             ///< S, bit 3 (RFC 2890)
inline constexpr std::uint16_t strict_source_route = 0x0800;  ///< s, bit 4 (RFC 1701): must be 0
inline constexpr std::uint16_t recursion_msb = 0x0400;        ///< bit 5, top of RFC 1701 Recur: must be 0
/// Bits 6-12: sent as zero and ignored on receipt (RFC 2784 section 2.3).
inline constexpr std::uint16_t reserved_ignored = 0x03f8;
/// Bits 13-15: the version, 0 for RFC 2784 GRE (1 is PPTP's enhanced GRE, RFC 2637).
inline constexpr std::uint16_t version_mask = 0x0007;
/// Every bit whose being set makes a v0 receiver discard the packet (RFC 2784 section 2.3: bits
/// 1-5 of reserved0 unless RFC 1701 is implemented; bits 2-3 are RFC 2890's K and S) or that
/// selects another version. One masked test on this keeps the common path branch-light.
inline constexpr std::uint16_t reject_mask = routing | strict_source_route | recursion_msb | version_mask;
}  // namespace gre_flags

/// Length of a GRE header with the given flags word: 4 + 4 for each of C, K and S.
/// Routing is not counted (a header with R is rejected before its length matters).
[[nodiscard]] constexpr std::size_t gre_header_len_for(std::uint16_t flags_word) noexcept {
    return gre_base_header_len + ((flags_word & gre_flags::checksum) != 0 ? 4u : 0u) +
           ((flags_word & gre_flags::key) != 0 ? 4u : 0u) + ((flags_word & gre_flags::sequence) != 0 ? 4u : 0u);
}

/// A view of a GRE packet (header and payload) over `std::span<Byte>`; `Byte` is
/// `const std::byte` (read-only) or `std::byte` (writable: setters enabled).
///
/// The span is the whole GRE packet, i.e. the outer IP payload: the checksum covers it all.
/// After `checked()` succeeds every accessor stays inside the span. No setter changes the
/// flags word, so the header length (cached by the view) never changes under it.
template <detail::view_byte Byte>
class basic_gre_view {
public:
    using span_type = std::span<Byte>;
    static constexpr bool is_mutable = detail::is_mutable_byte_v<Byte>;

    /// Validates the header the way Linux gre_parse_header() does: base length, then the
    /// flags, then the full length the flags announce. Errors (layer::gre):
    /// - errc::truncated, offset 0, needed 4: fewer than 4 bytes;
    /// - errc::bad_version, offset 1: version != 0;
    /// - errc::gre_routing, offset 0: R set (RFC 1701 source routing, unsupported);
    /// - errc::bad_gre_flags, offset 0: bit 4 or 5 set (RFC 2784 section 2.3);
    /// - errc::truncated, offset 4, needed header_len - 4: the optional words overrun the span.
    /// Bits 6-12 are ignored. The checksum is not verified here: see checksum_ok().
    static result<basic_gre_view> checked(span_type packet) noexcept {
        if (packet.size() < gre_base_header_len) [[unlikely]]
            return make_error(errc::truncated, layer::gre, 0, gre_base_header_len);
        const std::uint16_t flags = detail::load_be16(packet.data());
        if ((flags & gre_flags::reject_mask) != 0) [[unlikely]] {
            if ((flags & gre_flags::version_mask) != 0) return make_error(errc::bad_version, layer::gre, 1);
            if ((flags & gre_flags::routing) != 0) return make_error(errc::gre_routing, layer::gre, 0);
            return make_error(errc::bad_gre_flags, layer::gre, 0);
        }
        const std::size_t len = gre_header_len_for(flags);
        if (packet.size() < len) [[unlikely]]
            return make_error(errc::truncated, layer::gre, gre_base_header_len, len - gre_base_header_len);
        return basic_gre_view{packet, static_cast<std::uint8_t>(len)};
    }
    /// No checks. Precondition: `packet` holds the complete header its flags word announces
    /// (and, for a meaningful result, the flags pass checked()).
    static basic_gre_view unchecked(span_type packet) noexcept {
        return basic_gre_view{packet, static_cast<std::uint8_t>(gre_header_len_for(detail::load_be16(packet.data())))};
    }

    /// The first 16 bits as on the wire: flags, reserved0 and version.
    [[nodiscard]] std::uint16_t flags_word() const noexcept { return detail::load_be16(packet_.data()); }
    [[nodiscard]] bool checksum_present() const noexcept { return (flags_word() & gre_flags::checksum) != 0; }
    [[nodiscard]] bool key_present() const noexcept { return (flags_word() & gre_flags::key) != 0; }
    [[nodiscard]] bool sequence_present() const noexcept { return (flags_word() & gre_flags::sequence) != 0; }
    /// Bits 13-15; always 0 after checked().
    [[nodiscard]] std::uint8_t version() const noexcept {
        return static_cast<std::uint8_t>(flags_word() & gre_flags::version_mask);
    }
    /// The EtherType of the payload (RFC 2784 section 2.4), e.g. 0x6558 for NVGRE.
    [[nodiscard]] std::uint16_t protocol_type() const noexcept { return detail::load_be16(packet_.data() + 2); }
    // The optional words exist only when their flag is set: their accessors say so with an
    // empty optional rather than read the bytes behind a shorter header.

    /// The checksum field; empty without the C bit.
    [[nodiscard]] std::optional<std::uint16_t> checksum() const noexcept {
        if (!checksum_present()) return std::nullopt;
        return detail::load_be16(packet_.data() + checksum_offset);
    }
    /// Reserved1, sent as 0 (RFC 2784 section 2.6), not checked on receipt; empty without the C bit.
    [[nodiscard]] std::optional<std::uint16_t> reserved1() const noexcept {
        if (!checksum_present()) return std::nullopt;
        return detail::load_be16(packet_.data() + checksum_offset + 2);
    }
    /// The key; empty without the K bit.
    [[nodiscard]] std::optional<std::uint32_t> key() const noexcept {
        if (!key_present()) return std::nullopt;
        return detail::load_be32(packet_.data() + key_offset());
    }
    /// The sequence number; empty without the S bit.
    [[nodiscard]] std::optional<std::uint32_t> sequence_number() const noexcept {
        if (!sequence_present()) return std::nullopt;
        return detail::load_be32(packet_.data() + sequence_offset());
    }
    /// Header bytes: 4, 8, 12 or 16.
    [[nodiscard]] std::size_t header_len() const noexcept { return header_len_; }
    /// The bytes after the header up to the end of the span (GRE has no length field).
    [[nodiscard]] span_type payload() const noexcept { return packet_.subspan(header_len_); }
    /// The whole span the view was made over: header and payload.
    [[nodiscard]] span_type bytes() const noexcept { return packet_; }

    /// True when no checksum is present, or when the ones'-complement sum over the whole span
    /// (header with its stored checksum, and payload) verifies (RFC 2784 section 2.5). O(n).
    [[nodiscard]] bool checksum_ok() const noexcept {
        if (!checksum_present()) return true;
        return checksum::verify(std::span<const std::byte>(packet_));
    }
    /// The checksum the header should carry: computed over header and payload as if the
    /// checksum field were zero, whatever it holds now; empty without the C bit. O(n).
    [[nodiscard]] std::optional<std::uint16_t> computed_checksum() const noexcept {
        if (!checksum_present()) return std::nullopt;
        const std::span<const std::byte> all(packet_);
        // The field sits at an even offset, so summing around it is exact.
        const std::uint32_t before = checksum::sum(all.first(checksum_offset));
        return checksum::finish(checksum::sum(all.subspan(checksum_offset + 2), before));
    }

    void set_protocol_type(std::uint16_t type) noexcept requires is_mutable {
        detail::store_be16(packet_.data() + 2, type);
    }
    // The setters of the optional words write nothing and return false when the flag is not
    // set (the header has no such field).

    /// Stores the checksum field; false without the C bit.
    bool set_checksum(std::uint16_t sum) noexcept requires is_mutable {
        if (!checksum_present()) return false;
        detail::store_be16(packet_.data() + checksum_offset, sum);
        return true;
    }
    /// Stores the key; false without the K bit. Changing the key invalidates a present checksum.
    bool set_key(std::uint32_t key) noexcept requires is_mutable {
        if (!key_present()) return false;
        detail::store_be32(packet_.data() + key_offset(), key);
        return true;
    }
    /// Stores the sequence number; false without the S bit. Invalidates a present checksum.
    bool set_sequence_number(std::uint32_t seq) noexcept requires is_mutable {
        if (!sequence_present()) return false;
        detail::store_be32(packet_.data() + sequence_offset(), seq);
        return true;
    }
    /// Computes the checksum over header and payload (field taken as zero) and stores it;
    /// false without the C bit. Call it last, once the payload is in place. O(n).
    bool fill_checksum() noexcept requires is_mutable {
        const auto sum = computed_checksum();
        return sum && set_checksum(*sum);
    }

private:
    static constexpr std::size_t checksum_offset = 4;

    basic_gre_view(span_type packet, std::uint8_t header_len) noexcept : packet_(packet), header_len_(header_len) {}
    // Key follows checksum+reserved1 when C is set; sequence follows the key when K is set.
    [[nodiscard]] std::size_t key_offset() const noexcept { return checksum_present() ? 8 : 4; }
    [[nodiscard]] std::size_t sequence_offset() const noexcept { return key_offset() + (key_present() ? 4 : 0); }

    span_type packet_;
    std::uint8_t header_len_;
};

using gre_view = basic_gre_view<const std::byte>;
using mutable_gre_view = basic_gre_view<std::byte>;

/// The decoded form of a GRE v0 header. Round-trips: parse(emit(r)) == r.
///
/// Building a packet with a checksum: `emit()` the header (checksum field zero), place the
/// payload behind it, then `fill_checksum(packet)` (equivalently
/// `mutable_gre_view::unchecked(packet).fill_checksum()`), where `packet` spans header and payload.
struct gre_repr {
    bool checksum_present{false};
    std::optional<std::uint32_t> key{};
    std::optional<std::uint32_t> sequence{};
    std::uint16_t protocol_type{0};

    /// Reads flags, key, sequence and protocol. The stored checksum, reserved1 and the ignored
    /// reserved0 bits are not kept: emit() recomputes or zeroes them.
    template <detail::view_byte Byte>
    [[nodiscard]] static gre_repr parse(const basic_gre_view<Byte>& v) noexcept {
        gre_repr r;
        r.checksum_present = v.checksum_present();
        r.key = v.key();
        r.sequence = v.sequence_number();
        r.protocol_type = v.protocol_type();
        return r;
    }
    /// The flags word emit() writes: C, K, S as present; reserved0 and version 0.
    [[nodiscard]] constexpr std::uint16_t flags_word() const noexcept {
        return static_cast<std::uint16_t>((checksum_present ? gre_flags::checksum : 0u) |
                                          (key ? gre_flags::key : 0u) | (sequence ? gre_flags::sequence : 0u));
    }
    [[nodiscard]] constexpr std::size_t header_len() const noexcept { return gre_header_len_for(flags_word()); }
    [[nodiscard]] constexpr std::size_t buffer_len() const noexcept { return header_len(); }
    /// Writes header_len() bytes: flags, protocol, then checksum 0 and reserved1 0 (if C), key
    /// (if K) and sequence (if S). Precondition: `out.size() >= header_len()`.
    void emit(std::span<std::byte> out) const noexcept {
        detail::store_be16(out.data(), flags_word());
        detail::store_be16(out.data() + 2, protocol_type);
        std::size_t at = gre_base_header_len;
        if (checksum_present) {
            detail::store_be32(out.data() + at, 0);
            at += 4;
        }
        if (key) {
            detail::store_be32(out.data() + at, *key);
            at += 4;
        }
        if (sequence) detail::store_be32(out.data() + at, *sequence);
    }
    /// Fills the checksum of an emitted header once the payload sits behind it; does nothing
    /// when !checksum_present. Precondition: `packet` starts with the header emit() wrote and
    /// ends where the GRE payload ends. O(n).
    void fill_checksum(std::span<std::byte> packet) const noexcept {
        if (checksum_present) static_cast<void>(mutable_gre_view::unchecked(packet).fill_checksum());
    }
    friend constexpr bool operator==(const gre_repr&, const gre_repr&) noexcept = default;
};

}  // namespace nvgre::wire
