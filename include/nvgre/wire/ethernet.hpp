/// @file wire/ethernet.hpp
/// @brief Ethernet II header (IEEE 802.3) with up to two VLAN tags: 802.1ad (S-tag, TPID
/// 0x88a8) and/or 802.1Q (C-tag, TPID 0x8100). No FCS: frames handed to the library end
/// before it.
///
/// Layout: destination MAC (6) | source MAC (6) | [TPID (2) | TCI (2)]{0,2} | EtherType (2).
#pragma once

#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/mac_address.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::wire {

/// Header length without tags.
inline constexpr std::size_t ethernet_header_len = 14;
/// One 802.1Q / 802.1ad tag: TPID + TCI.
inline constexpr std::size_t vlan_tag_len = 4;
/// Tags this view walks (802.1ad outer + 802.1Q inner, "QinQ"); a third is left as payload.
inline constexpr std::size_t max_vlan_tags = 2;

/// Where each field of the header starts; in a tagged frame the first tag's TPID sits where
/// the EtherType would, its TCI after it, then the next EtherType (or TPID).
namespace ethernet_field {
inline constexpr std::size_t destination = 0;
inline constexpr std::size_t source = 6;
inline constexpr std::size_t ether_type = 12;
inline constexpr std::size_t first_tag_tci = 14;
/// The EtherType (or TPID) after `tags` tags.
constexpr std::size_t ether_type_after(std::size_t tags) noexcept { return ether_type + tags * 4; }
}  // namespace ethernet_field

/// EtherType values the library handles.
namespace ethertype {
inline constexpr std::uint16_t ipv4 = 0x0800;
inline constexpr std::uint16_t arp = 0x0806;
inline constexpr std::uint16_t vlan = 0x8100;           ///< 802.1Q C-tag TPID
inline constexpr std::uint16_t qinq = 0x88a8;           ///< 802.1ad S-tag TPID
inline constexpr std::uint16_t ipv6 = 0x86dd;
inline constexpr std::uint16_t transparent_ethernet_bridging = 0x6558;  ///< NVGRE's GRE protocol type
}  // namespace ethertype

/// True for the TPIDs of a VLAN tag (802.1Q or 802.1ad).
[[nodiscard]] constexpr bool is_vlan_tpid(std::uint16_t type) noexcept {
    return type == ethertype::vlan || type == ethertype::qinq;
}

/// A decoded VLAN tag.
struct vlan_tag {
    std::uint16_t tpid{ethertype::vlan};
    std::uint8_t pcp{0};   ///< priority code point, 3 bits
    bool dei{false};       ///< drop eligible indicator
    std::uint16_t vid{0};  ///< VLAN id, 12 bits

    [[nodiscard]] constexpr std::uint16_t tci() const noexcept {
        return static_cast<std::uint16_t>((pcp & 0x7u) << 13 | (dei ? 1u : 0u) << 12 | (vid & 0x0fffu));
    }
    static constexpr vlan_tag from(std::uint16_t tpid, std::uint16_t tci) noexcept {
        return vlan_tag{tpid, static_cast<std::uint8_t>(tci >> 13), ((tci >> 12) & 1u) != 0,
                        static_cast<std::uint16_t>(tci & 0x0fffu)};
    }
    friend constexpr bool operator==(const vlan_tag&, const vlan_tag&) noexcept = default;
};

/// A view of an Ethernet header over `std::span<Byte>`; `Byte` is `const std::byte`
/// (read-only) or `std::byte` (writable: setters enabled).
///
/// After `checked()` succeeds every accessor stays inside the span. `unchecked()` does no
/// work beyond counting tags; its precondition is that the span holds the whole header.
template <detail::view_byte Byte>
class basic_ethernet_view {
public:
    using span_type = std::span<Byte>;
    static constexpr bool is_mutable = detail::is_mutable_byte_v<Byte>;

    /// Validates that the span holds the base header and every tag it announces (at most
    /// `max_vlan_tags`). Errors: errc::truncated at the offset of the missing part.
    static result<basic_ethernet_view> checked(span_type frame) noexcept {
        if (frame.size() < ethernet_header_len)
            return make_error(errc::truncated, layer::ethernet, 0, ethernet_header_len);
        std::size_t tags = 0;
        while (tags < max_vlan_tags && is_vlan_tpid(detail::load_be16(frame.data() + 12 + tags * vlan_tag_len))) {
            ++tags;
            if (frame.size() < ethernet_header_len + tags * vlan_tag_len)
                return make_error(errc::truncated, layer::vlan, 12 + (tags - 1) * vlan_tag_len, vlan_tag_len + 2);
        }
        return basic_ethernet_view{frame, static_cast<std::uint8_t>(tags)};
    }
    /// Precondition: `frame` holds the complete header with all its tags.
    static basic_ethernet_view unchecked(span_type frame) noexcept {
        std::size_t tags = 0;
        while (tags < max_vlan_tags && is_vlan_tpid(detail::load_be16(frame.data() + 12 + tags * vlan_tag_len)))
            ++tags;
        return basic_ethernet_view{frame, static_cast<std::uint8_t>(tags)};
    }

    [[nodiscard]] mac_address destination() const noexcept { return mac_address::from_bytes(frame_.subspan(0, 6)); }
    [[nodiscard]] mac_address source() const noexcept { return mac_address::from_bytes(frame_.subspan(6, 6)); }
    /// Number of VLAN tags (0, 1 or 2).
    [[nodiscard]] std::size_t tag_count() const noexcept { return tags_; }
    /// Precondition: `i < tag_count()`. Tag 0 is the outermost.
    [[nodiscard]] vlan_tag tag(std::size_t i) const noexcept {
        const std::size_t at = 12 + i * vlan_tag_len;
        return vlan_tag::from(detail::load_be16(frame_.data() + at), detail::load_be16(frame_.data() + at + 2));
    }
    /// The EtherType after the tags: the protocol of the payload.
    [[nodiscard]] std::uint16_t ether_type() const noexcept { return detail::load_be16(frame_.data() + 12 + tags_ * vlan_tag_len); }
    /// Header bytes including tags.
    [[nodiscard]] std::size_t header_len() const noexcept { return ethernet_header_len + tags_ * vlan_tag_len; }
    [[nodiscard]] span_type payload() const noexcept { return frame_.subspan(header_len()); }
    /// The whole span the view was made over.
    [[nodiscard]] span_type bytes() const noexcept { return frame_; }

    void set_destination(const mac_address& m) noexcept requires is_mutable { m.to_bytes(frame_.subspan(0, 6)); }
    void set_source(const mac_address& m) noexcept requires is_mutable { m.to_bytes(frame_.subspan(6, 6)); }
    /// Precondition: `i < tag_count()`; `t.tpid` must stay a VLAN TPID or the tag count changes.
    void set_tag(std::size_t i, const vlan_tag& t) noexcept requires is_mutable {
        const std::size_t at = 12 + i * vlan_tag_len;
        detail::store_be16(frame_.data() + at, t.tpid);
        detail::store_be16(frame_.data() + at + 2, t.tci());
    }
    void set_ether_type(std::uint16_t type) noexcept requires is_mutable {
        detail::store_be16(frame_.data() + 12 + tags_ * vlan_tag_len, type);
    }

private:
    basic_ethernet_view(span_type frame, std::uint8_t tags) noexcept : frame_(frame), tags_(tags) {}
    span_type frame_;
    std::uint8_t tags_;
};

using ethernet_view = basic_ethernet_view<const std::byte>;
using mutable_ethernet_view = basic_ethernet_view<std::byte>;

/// The decoded form of an Ethernet header. Round-trips: parse(emit(r)) == r.
struct ethernet_repr {
    mac_address destination{};
    mac_address source{};
    std::uint8_t tag_count{0};
    std::array<vlan_tag, max_vlan_tags> tags{};
    std::uint16_t ether_type{0};

    [[nodiscard]] static ethernet_repr parse(const ethernet_view& v) noexcept {
        ethernet_repr r;
        r.destination = v.destination();
        r.source = v.source();
        r.tag_count = static_cast<std::uint8_t>(v.tag_count());
        for (std::size_t i = 0; i < v.tag_count(); ++i) r.tags[i] = v.tag(i);
        r.ether_type = v.ether_type();
        return r;
    }
    [[nodiscard]] constexpr std::size_t header_len() const noexcept {
        return ethernet_header_len + std::size_t{tag_count} * vlan_tag_len;
    }
    /// Writes header_len() bytes. Precondition: `out.size() >= header_len()`, tag_count <= 2
    /// and every tag's TPID is a VLAN TPID.
    void emit(std::span<std::byte> out) const noexcept {
        destination.to_bytes(out.subspan(0, 6));
        source.to_bytes(out.subspan(6, 6));
        std::size_t at = 12;
        for (std::size_t i = 0; i < tag_count; ++i, at += vlan_tag_len) {
            detail::store_be16(out.data() + at, tags[i].tpid);
            detail::store_be16(out.data() + at + 2, tags[i].tci());
        }
        detail::store_be16(out.data() + at, ether_type);
    }
    friend bool operator==(const ethernet_repr& a, const ethernet_repr& b) noexcept {
        if (a.destination != b.destination || a.source != b.source || a.tag_count != b.tag_count ||
            a.ether_type != b.ether_type)
            return false;
        for (std::size_t i = 0; i < a.tag_count; ++i)
            if (!(a.tags[i] == b.tags[i])) return false;
        return true;
    }
};

}  // namespace nvgre::wire
