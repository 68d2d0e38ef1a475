/// @file wire/arp.hpp
/// @brief ARP (RFC 826) for Ethernet hardware addresses and IPv4 protocol addresses only, the
/// one combination a virtual switch proxies.
///
/// Layout: hardware type (2) | protocol type (2) | hardware length (1) | protocol length (1) |
/// operation (2) | sender MAC (6) | sender IPv4 (4) | target MAC (6) | target IPv4 (4).
#pragma once

#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::wire {

/// Length of an Ethernet/IPv4 ARP packet (without the Ethernet padding to 46 bytes).
inline constexpr std::size_t arp_ipv4_len = 28;
/// Where each field of an Ethernet/IPv4 ARP packet starts (RFC 826).
namespace arp_field {
inline constexpr std::size_t hardware_type = 0;
inline constexpr std::size_t protocol_type = 2;
inline constexpr std::size_t hardware_len = 4;
inline constexpr std::size_t protocol_len = 5;
inline constexpr std::size_t operation = 6;
inline constexpr std::size_t sender_mac = 8;
inline constexpr std::size_t sender_ip = 14;
inline constexpr std::size_t target_mac = 18;
inline constexpr std::size_t target_ip = 24;
}  // namespace arp_field
/// The ARP hardware type for Ethernet (IANA "Hardware Types": 1).
inline constexpr std::uint16_t arp_hardware_ethernet = 1;
/// The ARP protocol type for IPv4 (the IPv4 EtherType).
inline constexpr std::uint16_t arp_protocol_ipv4 = 0x0800;

/// ARP operation codes (RFC 826; IANA "Operation Codes").
namespace arp_operation {
inline constexpr std::uint16_t request = 1;
inline constexpr std::uint16_t reply = 2;
}  // namespace arp_operation

/// A view of an Ethernet/IPv4 ARP packet over `std::span<Byte>`; `Byte` is `const std::byte`
/// (read-only) or `std::byte` (writable: setters enabled).
///
/// After `checked()` succeeds every accessor stays inside the span. Bytes after the 28 (Ethernet
/// padding) are ignored. The operation is not restricted: callers decide what to do with codes
/// other than request and reply.
template <detail::view_byte Byte>
class basic_arp_view {
public:
    using span_type = std::span<Byte>;
    static constexpr bool is_mutable = detail::is_mutable_byte_v<Byte>;

    /// Validates length and the four format fields. Errors (layer::arp):
    /// - span shorter than 28: errc::truncated, offset 0, needed 28;
    /// - hardware type != 1 (offset 0), protocol type != 0x0800 (offset 2), hardware length != 6
    ///   (offset 4), protocol length != 4 (offset 5): errc::bad_value at the field.
    static result<basic_arp_view> checked(span_type packet) noexcept {
        if (packet.size() < arp_ipv4_len) return make_error(errc::truncated, layer::arp, 0, arp_ipv4_len);
        const std::byte* p = packet.data();
        if (detail::load_be16(p + off_hardware_type) != arp_hardware_ethernet)
            return make_error(errc::bad_value, layer::arp, off_hardware_type);
        if (detail::load_be16(p + off_protocol_type) != arp_protocol_ipv4)
            return make_error(errc::bad_value, layer::arp, off_protocol_type);
        if (detail::load_u8(p + off_hardware_len) != mac_address::size)
            return make_error(errc::bad_value, layer::arp, off_hardware_len);
        if (detail::load_u8(p + off_protocol_len) != ipv4_address::size)
            return make_error(errc::bad_value, layer::arp, off_protocol_len);
        return basic_arp_view{packet};
    }
    /// No checks. Precondition: `packet` holds 28 bytes (the format fields are not looked at).
    static basic_arp_view unchecked(span_type packet) noexcept { return basic_arp_view{packet}; }

    /// 1 (Ethernet) on a checked view.
    [[nodiscard]] std::uint16_t hardware_type() const noexcept { return detail::load_be16(at(off_hardware_type)); }
    /// 0x0800 (IPv4) on a checked view.
    [[nodiscard]] std::uint16_t protocol_type() const noexcept { return detail::load_be16(at(off_protocol_type)); }
    /// 6 on a checked view.
    [[nodiscard]] std::uint8_t hardware_len() const noexcept { return detail::load_u8(at(off_hardware_len)); }
    /// 4 on a checked view.
    [[nodiscard]] std::uint8_t protocol_len() const noexcept { return detail::load_u8(at(off_protocol_len)); }
    /// nvgre::wire::arp_operation::request or reply (other values are passed through).
    [[nodiscard]] std::uint16_t operation() const noexcept { return detail::load_be16(at(off_operation)); }
    [[nodiscard]] mac_address sender_mac() const noexcept { return mac_address::from_bytes(packet_.subspan(off_sender_mac, 6)); }
    [[nodiscard]] ipv4_address sender_ip() const noexcept { return ipv4_address::from_bytes(packet_.subspan(off_sender_ip, 4)); }
    [[nodiscard]] mac_address target_mac() const noexcept { return mac_address::from_bytes(packet_.subspan(off_target_mac, 6)); }
    [[nodiscard]] ipv4_address target_ip() const noexcept { return ipv4_address::from_bytes(packet_.subspan(off_target_ip, 4)); }
    /// Always 28.
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return arp_ipv4_len; }
    /// The whole span the view was made over (may extend past 28 bytes).
    [[nodiscard]] span_type bytes() const noexcept { return packet_; }

    void set_hardware_type(std::uint16_t t) noexcept requires is_mutable { detail::store_be16(at(off_hardware_type), t); }
    void set_protocol_type(std::uint16_t t) noexcept requires is_mutable { detail::store_be16(at(off_protocol_type), t); }
    void set_hardware_len(std::uint8_t n) noexcept requires is_mutable { detail::store_u8(at(off_hardware_len), n); }
    void set_protocol_len(std::uint8_t n) noexcept requires is_mutable { detail::store_u8(at(off_protocol_len), n); }
    void set_operation(std::uint16_t op) noexcept requires is_mutable { detail::store_be16(at(off_operation), op); }
    void set_sender_mac(const mac_address& m) noexcept requires is_mutable { m.to_bytes(packet_.subspan(off_sender_mac, 6)); }
    void set_sender_ip(const ipv4_address& a) noexcept requires is_mutable { a.to_bytes(packet_.subspan(off_sender_ip, 4)); }
    void set_target_mac(const mac_address& m) noexcept requires is_mutable { m.to_bytes(packet_.subspan(off_target_mac, 6)); }
    void set_target_ip(const ipv4_address& a) noexcept requires is_mutable { a.to_bytes(packet_.subspan(off_target_ip, 4)); }

private:
    static constexpr std::size_t off_hardware_type = arp_field::hardware_type;
    static constexpr std::size_t off_protocol_type = arp_field::protocol_type;
    static constexpr std::size_t off_hardware_len = arp_field::hardware_len;
    static constexpr std::size_t off_protocol_len = arp_field::protocol_len;
    static constexpr std::size_t off_operation = arp_field::operation;
    static constexpr std::size_t off_sender_mac = arp_field::sender_mac;
    static constexpr std::size_t off_sender_ip = arp_field::sender_ip;
    static constexpr std::size_t off_target_mac = arp_field::target_mac;
    static constexpr std::size_t off_target_ip = arp_field::target_ip;

    explicit basic_arp_view(span_type packet) noexcept : packet_(packet) {}
    Byte* at(std::size_t off) const noexcept { return packet_.data() + off; }

    span_type packet_;
};

using arp_view = basic_arp_view<const std::byte>;
using mutable_arp_view = basic_arp_view<std::byte>;

/// The decoded form of an Ethernet/IPv4 ARP packet. Round-trips: parse(emit(r)) == r.
struct arp_repr {
    std::uint16_t operation{arp_operation::request};
    mac_address sender_mac{};
    ipv4_address sender_ip{};
    mac_address target_mac{};  ///< all zero in a request (RFC 826 leaves it unspecified)
    ipv4_address target_ip{};

    /// Reads every field. Precondition: `v` is checked.
    template <detail::view_byte Byte>
    [[nodiscard]] static arp_repr parse(const basic_arp_view<Byte>& v) noexcept {
        return arp_repr{v.operation(), v.sender_mac(), v.sender_ip(), v.target_mac(), v.target_ip()};
    }
    /// Always 28.
    [[nodiscard]] static constexpr std::size_t header_len() noexcept { return arp_ipv4_len; }
    [[nodiscard]] static constexpr std::size_t buffer_len() noexcept { return arp_ipv4_len; }
    /// Writes all 28 bytes (hardware type 1, protocol type 0x0800, lengths 6 and 4).
    /// Precondition: `out.size() >= 28`.
    void emit(std::span<std::byte> out) const noexcept {
        std::byte* p = out.data();
        detail::store_be16(p + 0, arp_hardware_ethernet);
        detail::store_be16(p + 2, arp_protocol_ipv4);
        detail::store_u8(p + 4, mac_address::size);
        detail::store_u8(p + 5, ipv4_address::size);
        detail::store_be16(p + 6, operation);
        sender_mac.to_bytes(out.subspan(8, 6));
        sender_ip.to_bytes(out.subspan(14, 4));
        target_mac.to_bytes(out.subspan(18, 6));
        target_ip.to_bytes(out.subspan(24, 4));
    }
    friend constexpr bool operator==(const arp_repr&, const arp_repr&) noexcept = default;
};

}  // namespace nvgre::wire
