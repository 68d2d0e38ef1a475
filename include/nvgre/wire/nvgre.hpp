/// @file wire/nvgre.hpp
/// @brief The NVGRE header (RFC 7637 section 3.2): a GRE header with only the K bit, protocol
/// type 0x6558 (Transparent Ethernet Bridging), and a key holding the 24-bit Virtual Subnet
/// ID and an 8-bit FlowID.
///
/// Layout (exactly 8 bytes):
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |0| |1|0|   Reserved0     | Ver |   Protocol Type 0x6558        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |               Virtual Subnet ID (VSID)        |    FlowID     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// followed by the inner Ethernet frame (no FCS).
#pragma once

#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/vsid.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/gre.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::wire {

/// The NVGRE header is always 8 bytes: GRE base header + key.
inline constexpr std::size_t nvgre_header_len = 8;

/// The first 32 bits of every valid NVGRE header, ignoring reserved0 bits 6-12: flags K only,
/// version 0, protocol 0x6558.
inline constexpr std::uint32_t nvgre_first_word =
    std::uint32_t{gre_flags::key} << 16 | ethertype::transparent_ethernet_bridging;
/// The bits of the first word that nvgre_first_word must match: everything but the ignored
/// reserved0 bits.
inline constexpr std::uint32_t nvgre_first_word_mask =
    static_cast<std::uint32_t>(static_cast<std::uint16_t>(~gre_flags::reserved_ignored)) << 16 | 0xffffu;

/// A view of an NVGRE packet (header and inner frame) over `std::span<Byte>`; `Byte` is
/// `const std::byte` (read-only) or `std::byte` (writable: setters enabled).
///
/// After `checked()` succeeds every accessor stays inside the span and vsid() is a tenant VSID.
/// Setters other than set_vsid() / set_key() cannot make the header invalid; set_key() with a
/// reserved VSID makes vsid() a broken precondition.
template <detail::view_byte Byte>
class basic_nvgre_view {
public:
    using span_type = std::span<Byte>;
    static constexpr bool is_mutable = detail::is_mutable_byte_v<Byte>;

    /// Validates an NVGRE header (RFC 7637 section 3.2). First the GRE checks of
    /// basic_gre_view::checked (its errors keep layer::gre), then, in layer::nvgre:
    /// - errc::bad_gre_flags, offset 0: C or S set (NVGRE carries neither checksum nor sequence);
    /// - errc::missing_key, offset 0: K clear;
    /// - errc::bad_protocol, offset 2: protocol type != 0x6558;
    /// - errc::reserved_vsid, offset 4: VSID in 0x000000-0x000FFF or == 0xFFFFFF.
    /// The common case costs one length check, one masked compare and the VSID range test.
    static result<basic_nvgre_view> checked(span_type packet) noexcept {
        if (packet.size() >= nvgre_header_len &&
            (detail::load_be32(packet.data()) & nvgre_first_word_mask) == nvgre_first_word) [[likely]] {
            if (!nvgre::vsid::is_tenant(detail::load_be24(packet.data() + 4))) [[unlikely]]
                return make_error(errc::reserved_vsid, layer::nvgre, 4);
            return basic_nvgre_view{packet};
        }
        // Slow path: say precisely what is wrong, GRE errors first.
        auto gre = basic_gre_view<Byte>::checked(packet);
        if (!gre) return gre.error();
        const std::uint16_t flags = gre->flags_word();
        if ((flags & (gre_flags::checksum | gre_flags::sequence)) != 0)
            return make_error(errc::bad_gre_flags, layer::nvgre, 0);
        if ((flags & gre_flags::key) == 0) return make_error(errc::missing_key, layer::nvgre, 0);
        if (gre->protocol_type() != ethertype::transparent_ethernet_bridging)
            return make_error(errc::bad_protocol, layer::nvgre, 2);
        // Unreachable when the fast-path masks agree with the checks above; kept so that this
        // function's answer never depends on that agreement.
        if (!nvgre::vsid::is_tenant(detail::load_be24(packet.data() + 4))) return make_error(errc::reserved_vsid, layer::nvgre, 4);
        return basic_nvgre_view{packet};
    }
    /// No checks. Precondition: `packet.size() >= nvgre_header_len`.
    static basic_nvgre_view unchecked(span_type packet) noexcept { return basic_nvgre_view{packet}; }

    /// The first 16 bits as on the wire (0x2000 unless ignored reserved bits are set).
    [[nodiscard]] std::uint16_t flags_word() const noexcept { return detail::load_be16(packet_.data()); }
    /// Always 0x6558 after checked().
    [[nodiscard]] std::uint16_t protocol_type() const noexcept { return detail::load_be16(packet_.data() + 2); }
    /// The 32-bit GRE key: VSID << 8 | FlowID.
    [[nodiscard]] std::uint32_t key() const noexcept { return detail::load_be32(packet_.data() + key_offset); }
    /// The raw 24-bit VSID field, reserved values included.
    [[nodiscard]] std::uint32_t vsid_bits() const noexcept { return detail::load_be24(packet_.data() + key_offset); }
    /// The tenant VSID. Precondition: vsid_bits() is a tenant VSID, as after checked();
    /// otherwise the program aborts (result precondition).
    [[nodiscard]] nvgre::vsid vsid() const noexcept { return nvgre::vsid::make(vsid_bits()).value(); }
    [[nodiscard]] nvgre::flow_id flow_id() const noexcept {
        return nvgre::flow_id{detail::load_u8(packet_.data() + flow_id_offset)};
    }
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return nvgre_header_len; }
    /// The inner Ethernet frame: everything after the 8-byte header.
    [[nodiscard]] span_type payload() const noexcept { return packet_.subspan(nvgre_header_len); }
    /// The whole span the view was made over: header and inner frame.
    [[nodiscard]] span_type bytes() const noexcept { return packet_; }
    /// The same bytes seen as a GRE packet (header_len() 8, key present).
    [[nodiscard]] basic_gre_view<Byte> gre() const noexcept { return basic_gre_view<Byte>::unchecked(packet_); }

    void set_vsid(nvgre::vsid v) noexcept requires is_mutable {
        detail::store_be24(packet_.data() + key_offset, v.value());
    }
    /// Transit devices never change the FlowID (RFC 7637 section 3.2): this is for encapsulators.
    void set_flow_id(nvgre::flow_id f) noexcept requires is_mutable {
        detail::store_u8(packet_.data() + flow_id_offset, f.value);
    }
    /// Writes the whole key. A reserved VSID in `key` breaks vsid()'s precondition.
    void set_key(std::uint32_t key) noexcept requires is_mutable { detail::store_be32(packet_.data() + key_offset, key); }

private:
    static constexpr std::size_t key_offset = 4;
    static constexpr std::size_t flow_id_offset = 7;

    explicit basic_nvgre_view(span_type packet) noexcept : packet_(packet) {}
    span_type packet_;
};

using nvgre_view = basic_nvgre_view<const std::byte>;
using mutable_nvgre_view = basic_nvgre_view<std::byte>;

/// The decoded form of an NVGRE header. Round-trips: parse(emit(r)) == r. Has no default: a
/// VSID must be chosen (there is no meaningful default tenant).
struct nvgre_repr {
    nvgre::vsid vsid;
    nvgre::flow_id flow_id{};

    /// Precondition: `v` came from checked() (or its VSID bits are a tenant VSID).
    template <detail::view_byte Byte>
    [[nodiscard]] static nvgre_repr parse(const basic_nvgre_view<Byte>& v) noexcept {
        return nvgre_repr{v.vsid(), v.flow_id()};
    }
    /// The GRE key this header carries: VSID << 8 | FlowID.
    [[nodiscard]] constexpr std::uint32_t key() const noexcept { return nvgre_key(vsid, flow_id); }
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return nvgre_header_len; }
    [[nodiscard]] static constexpr std::size_t buffer_len() noexcept { return nvgre_header_len; }
    /// The equivalent GRE header: K only, protocol 0x6558.
    [[nodiscard]] constexpr gre_repr to_gre() const noexcept {
        return gre_repr{false, key(), std::nullopt, ethertype::transparent_ethernet_bridging};
    }
    /// Writes exactly 8 bytes: 0x2000, 0x6558, key. Precondition: `out.size() >= 8`.
    void emit(std::span<std::byte> out) const noexcept {
        detail::store_be32(out.data(), nvgre_first_word);
        detail::store_be32(out.data() + 4, key());
    }
    friend constexpr bool operator==(const nvgre_repr&, const nvgre_repr&) noexcept = default;
};

}  // namespace nvgre::wire
