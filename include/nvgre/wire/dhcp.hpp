/// @file wire/dhcp.hpp
/// @brief DHCPv4 messages (RFC 2131, options RFC 2132) in their BOOTP frame (RFC 951, RFC 1542).
///
/// Layout of the UDP payload: op (1) | htype (1) | hlen (1) | hops (1) | xid (4) | secs (2) |
/// flags (2) | ciaddr (4) | yiaddr (4) | siaddr (4) | giaddr (4) | chaddr (16) | sname (64) |
/// file (128) | magic cookie 99.130.83.99 (4) | options (code, length, value; pad 0 and end
/// 255 have no length).
///
/// The view reads the options field only: option overload (52), which moves options into
/// sname and file, is not followed (its option is reported like any other). A server that
/// answers from policy never needs it, and a client message that relies on it loses nothing
/// the answer depends on but options 50 and 54, which clients place in the options field.
#pragma once

#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

namespace nvgre::wire {

/// UDP ports of DHCPv4.
inline constexpr std::uint16_t dhcp_server_port = 67;
inline constexpr std::uint16_t dhcp_client_port = 68;
/// op .. file: the BOOTP header before the magic cookie.
inline constexpr std::size_t dhcp_fixed_len = 236;
/// 99.130.83.99 after the fixed header (RFC 2131 section 3): what tells DHCP from plain BOOTP,
/// whose vendor area has no cookie (RFC 951).
inline constexpr std::uint32_t dhcp_magic_cookie = 0x63825363;
/// The fixed header and the magic cookie: the shortest DHCP message.
inline constexpr std::size_t dhcp_header_len = 240;
/// The shortest BOOTP message a relay or client must accept (RFC 1542 section 2.1): answers are
/// padded to it.
inline constexpr std::size_t bootp_min_len = 300;

/// Where each field of a DHCP message starts (offsets in the UDP payload).
namespace dhcp_field {
inline constexpr std::size_t op = 0;
inline constexpr std::size_t htype = 1;
inline constexpr std::size_t hlen = 2;
inline constexpr std::size_t hops = 3;
inline constexpr std::size_t xid = 4;
inline constexpr std::size_t secs = 8;
inline constexpr std::size_t flags = 10;
inline constexpr std::size_t ciaddr = 12;
inline constexpr std::size_t yiaddr = 16;
inline constexpr std::size_t siaddr = 20;
inline constexpr std::size_t giaddr = 24;
inline constexpr std::size_t chaddr = 28;
inline constexpr std::size_t sname = 44;
inline constexpr std::size_t file = 108;
inline constexpr std::size_t cookie = 236;
inline constexpr std::size_t options = 240;
}  // namespace dhcp_field

/// The op field (RFC 951): a client's request or a server's reply, whatever option 53 says.
namespace dhcp_op {
inline constexpr std::uint8_t boot_request = 1;
inline constexpr std::uint8_t boot_reply = 2;
}  // namespace dhcp_op

/// Option 53's values (RFC 2132 section 9.6).
namespace dhcp_message_type {
inline constexpr std::uint8_t discover = 1;
inline constexpr std::uint8_t offer = 2;
inline constexpr std::uint8_t request = 3;
inline constexpr std::uint8_t decline = 4;
inline constexpr std::uint8_t ack = 5;
inline constexpr std::uint8_t nak = 6;
inline constexpr std::uint8_t release = 7;
inline constexpr std::uint8_t inform = 8;
}  // namespace dhcp_message_type

/// Option codes (RFC 2132).
namespace dhcp_option {
inline constexpr std::uint8_t pad = 0;
inline constexpr std::uint8_t subnet_mask = 1;
inline constexpr std::uint8_t router = 3;
inline constexpr std::uint8_t dns_servers = 6;
inline constexpr std::uint8_t requested_address = 50;
inline constexpr std::uint8_t lease_time = 51;
inline constexpr std::uint8_t overload = 52;
inline constexpr std::uint8_t message_type = 53;
inline constexpr std::uint8_t server_identifier = 54;
inline constexpr std::uint8_t parameter_request_list = 55;
inline constexpr std::uint8_t renewal_time = 58;
inline constexpr std::uint8_t rebinding_time = 59;
inline constexpr std::uint8_t client_identifier = 61;
inline constexpr std::uint8_t end = 255;
}  // namespace dhcp_option

/// The broadcast bit of the flags field (RFC 2131 section 2): the client cannot take unicast
/// until it has its address.
inline constexpr std::uint16_t dhcp_broadcast_flag = 0x8000;
/// chaddr's hardware type and length for Ethernet.
inline constexpr std::uint8_t dhcp_htype_ethernet = 1;
inline constexpr std::uint8_t dhcp_hlen_ethernet = 6;

/// A read-only view of a DHCP message (a UDP payload). After checked() succeeds every accessor
/// stays inside the span and every option's value lies inside the options field.
class dhcp_view {
public:
    /// Validates the fixed header, the magic cookie and the option walk. Errors (layer::dhcp):
    /// errc::truncated at 0 when shorter than 240 bytes; errc::bad_protocol at 236 when the
    /// magic cookie is not 99.130.83.99; errc::truncated at an option whose length byte or
    /// value runs past the span (`needed` = the bytes it needs from its code). A message that
    /// ends without option 255 is accepted; bytes after option 255 are ignored. O(options).
    static result<dhcp_view> checked(std::span<const std::byte> payload) noexcept {
        if (payload.size() < dhcp_header_len) [[unlikely]]
            return make_error(errc::truncated, layer::dhcp, 0, dhcp_header_len);
        if (detail::load_be32(payload.data() + dhcp_field::cookie) != dhcp_magic_cookie) [[unlikely]]
            return make_error(errc::bad_protocol, layer::dhcp, dhcp_field::cookie);
        std::size_t at = dhcp_field::options;
        while (at < payload.size()) {
            const std::uint8_t code = detail::load_u8(payload.data() + at);
            if (code == dhcp_option::end) break;
            if (code == dhcp_option::pad) {
                ++at;
                continue;
            }
            if (payload.size() - at < 2) return make_error(errc::truncated, layer::dhcp, at, 2);
            const std::size_t len = detail::load_u8(payload.data() + at + 1);
            if (payload.size() - at - 2 < len) return make_error(errc::truncated, layer::dhcp, at, static_cast<std::uint32_t>(2 + len));
            at += 2 + len;
        }
        return dhcp_view{payload};
    }

    /// The whole span the view was made over (bytes after option 255 included).
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return data_; }
    /// dhcp_op::boot_request or boot_reply (other values are passed through).
    [[nodiscard]] std::uint8_t op() const noexcept { return u8(dhcp_field::op); }
    /// chaddr's hardware type (ARP hardware types: 1 is Ethernet).
    [[nodiscard]] std::uint8_t htype() const noexcept { return u8(dhcp_field::htype); }
    /// chaddr's length in bytes (6 for Ethernet; not checked against the 16 of the field).
    [[nodiscard]] std::uint8_t hlen() const noexcept { return u8(dhcp_field::hlen); }
    /// Relay agents the message went through (RFC 1542 section 4.1).
    [[nodiscard]] std::uint8_t hops() const noexcept { return u8(dhcp_field::hops); }
    /// The client's transaction ID, copied into every answer.
    [[nodiscard]] std::uint32_t xid() const noexcept { return detail::load_be32(data_.data() + dhcp_field::xid); }
    /// Seconds since the client began acquiring or renewing.
    [[nodiscard]] std::uint16_t secs() const noexcept { return detail::load_be16(data_.data() + dhcp_field::secs); }
    /// The whole flags field (only dhcp_broadcast_flag is defined; the rest must be 0 but is passed through).
    [[nodiscard]] std::uint16_t flags() const noexcept { return detail::load_be16(data_.data() + dhcp_field::flags); }
    /// The broadcast bit of flags(): answer to the broadcast address, not to yiaddr.
    [[nodiscard]] bool broadcast() const noexcept { return (flags() & dhcp_broadcast_flag) != 0; }
    /// The client's address when it already has one (BOUND, RENEWING, REBINDING, INFORM), else 0.
    [[nodiscard]] ipv4_address ciaddr() const noexcept { return address(dhcp_field::ciaddr); }
    /// "Your" address: the one a server offers or acknowledges.
    [[nodiscard]] ipv4_address yiaddr() const noexcept { return address(dhcp_field::yiaddr); }
    /// The next server of the boot process (not the server identifier, option 54).
    [[nodiscard]] ipv4_address siaddr() const noexcept { return address(dhcp_field::siaddr); }
    /// The relay agent's address, 0 when the message was not relayed.
    [[nodiscard]] ipv4_address giaddr() const noexcept { return address(dhcp_field::giaddr); }
    /// The client's MAC: chaddr's first 6 bytes, for Ethernet (htype 1, hlen 6) only.
    [[nodiscard]] std::optional<mac_address> client_mac() const noexcept {
        if (htype() != dhcp_htype_ethernet || hlen() != dhcp_hlen_ethernet) return std::nullopt;
        return mac_address::from_bytes(data_.subspan(dhcp_field::chaddr, mac_address::size));
    }

    /// The value of the first option `code` in the options field (a view into the message), or
    /// nullopt; pad (0) and end (255) are never found. Options moved into sname or file by
    /// option overload (52) are not looked at. O(options).
    [[nodiscard]] std::optional<std::span<const std::byte>> option(std::uint8_t code) const noexcept {
        std::optional<std::span<const std::byte>> found;
        for_each_option([&](std::uint8_t c, std::span<const std::byte> value) {
            if (c != code) return true;
            found = value;
            return false;
        });
        return found;
    }
    /// Calls fn(code, value) for each option in order (pad and end excluded, the options field
    /// only) until fn returns false. `value` is a view into the message. O(options).
    template <class Fn>
        requires std::is_invocable_r_v<bool, Fn&, std::uint8_t, std::span<const std::byte>>
    void for_each_option(Fn&& fn) const noexcept {
        std::size_t at = dhcp_field::options;
        while (at < data_.size()) {
            const std::uint8_t code = u8(at);
            if (code == dhcp_option::end) return;
            if (code == dhcp_option::pad) {
                ++at;
                continue;
            }
            const std::size_t len = u8(at + 1);  // checked(): the option fits
            if (!fn(code, data_.subspan(at + 2, len))) return;
            at += 2 + len;
        }
    }
    /// Option 53 when it holds exactly one byte.
    [[nodiscard]] std::optional<std::uint8_t> message_type() const noexcept {
        const auto v = option(dhcp_option::message_type);
        if (!v || v->size() != 1) return std::nullopt;
        return std::to_integer<std::uint8_t>((*v)[0]);
    }
    /// Option 50 when it holds exactly one address.
    [[nodiscard]] std::optional<ipv4_address> requested_address() const noexcept { return address_option(dhcp_option::requested_address); }
    /// Option 54 when it holds exactly one address.
    [[nodiscard]] std::optional<ipv4_address> server_identifier() const noexcept { return address_option(dhcp_option::server_identifier); }

private:
    explicit dhcp_view(std::span<const std::byte> data) noexcept : data_(data) {}
    [[nodiscard]] std::uint8_t u8(std::size_t at) const noexcept { return detail::load_u8(data_.data() + at); }
    [[nodiscard]] ipv4_address address(std::size_t at) const noexcept { return ipv4_address::from_bytes(data_.subspan(at, 4)); }
    [[nodiscard]] std::optional<ipv4_address> address_option(std::uint8_t code) const noexcept {
        const auto v = option(code);
        if (!v || v->size() != 4) return std::nullopt;
        return ipv4_address::from_bytes(*v);
    }

    std::span<const std::byte> data_;
};

/// A DHCP message to emit: a server's answer, or (tests, tools) a client's message. Options
/// are written when set, in this order: 53, 54, 51, 58, 59, 1, 3, 6, 50, 61, then 255; the
/// message is padded with zeros to bootp_min_len.
struct dhcp_repr {
    static constexpr std::size_t max_dns = 4;
    static constexpr std::size_t max_client_identifier = 255;

    std::uint8_t op{dhcp_op::boot_request};
    std::uint8_t message_type{dhcp_message_type::discover};
    std::uint32_t xid{0};
    std::uint16_t secs{0};
    std::uint16_t flags{0};
    ipv4_address ciaddr{};
    ipv4_address yiaddr{};
    ipv4_address siaddr{};
    ipv4_address giaddr{};
    mac_address client_mac{};
    std::optional<ipv4_address> server_identifier{};
    std::optional<std::uint32_t> lease_seconds{};
    std::optional<std::uint32_t> renewal_seconds{};
    std::optional<std::uint32_t> rebinding_seconds{};
    std::optional<ipv4_address> subnet_mask{};
    std::optional<ipv4_address> router{};
    std::array<ipv4_address, max_dns> dns{};
    std::size_t dns_count{0};  ///< how many of `dns` are listed (option 6 when not 0)
    std::optional<ipv4_address> requested_address{};
    /// Option 61 (a copy: a server echoes the client's, RFC 6842), when client_identifier_len != 0.
    std::array<std::byte, max_client_identifier> client_identifier{};
    std::size_t client_identifier_len{0};

    /// Copies `id` (at most max_client_identifier bytes) as option 61.
    void set_client_identifier(std::span<const std::byte> id) noexcept {
        client_identifier_len = std::min(id.size(), max_client_identifier);
        std::copy_n(id.begin(), client_identifier_len, client_identifier.begin());
    }

    /// The bytes emit() writes.
    [[nodiscard]] std::size_t length() const noexcept {
        std::size_t n = dhcp_header_len + 3 + 1;  // message type, end
        const auto address = [&n](const std::optional<ipv4_address>& a) { n += a ? 6 : 0; };
        const auto seconds = [&n](const std::optional<std::uint32_t>& s) { n += s ? 6 : 0; };
        address(server_identifier);
        seconds(lease_seconds);
        seconds(renewal_seconds);
        seconds(rebinding_seconds);
        address(subnet_mask);
        address(router);
        if (dns_count != 0) n += 2 + 4 * std::min(dns_count, max_dns);
        address(requested_address);
        if (client_identifier_len != 0) n += 2 + std::min(client_identifier_len, max_client_identifier);
        return std::max(n, bootp_min_len);
    }

    /// Writes the message. Precondition: `out.size() >= length()`.
    void emit(std::span<std::byte> out) const noexcept {
        std::byte* p = out.data();
        const std::size_t n = length();
        for (std::size_t i = 0; i < n; ++i) p[i] = std::byte{0};
        detail::store_u8(p + dhcp_field::op, op);
        detail::store_u8(p + dhcp_field::htype, dhcp_htype_ethernet);
        detail::store_u8(p + dhcp_field::hlen, dhcp_hlen_ethernet);
        detail::store_be32(p + dhcp_field::xid, xid);
        detail::store_be16(p + dhcp_field::secs, secs);
        detail::store_be16(p + dhcp_field::flags, flags);
        ciaddr.to_bytes(out.subspan(dhcp_field::ciaddr, 4));
        yiaddr.to_bytes(out.subspan(dhcp_field::yiaddr, 4));
        siaddr.to_bytes(out.subspan(dhcp_field::siaddr, 4));
        giaddr.to_bytes(out.subspan(dhcp_field::giaddr, 4));
        client_mac.to_bytes(out.subspan(dhcp_field::chaddr, mac_address::size));
        detail::store_be32(p + dhcp_field::cookie, dhcp_magic_cookie);
        std::size_t at = dhcp_field::options;
        const auto put = [&](std::uint8_t code, std::uint8_t len) {
            detail::store_u8(p + at, code);
            detail::store_u8(p + at + 1, len);
            at += 2;
        };
        const auto address = [&](std::uint8_t code, const std::optional<ipv4_address>& a) {
            if (!a) return;
            put(code, 4);
            a->to_bytes(out.subspan(at, 4));
            at += 4;
        };
        const auto seconds = [&](std::uint8_t code, const std::optional<std::uint32_t>& s) {
            if (!s) return;
            put(code, 4);
            detail::store_be32(p + at, *s);
            at += 4;
        };
        put(dhcp_option::message_type, 1);
        detail::store_u8(p + at++, message_type);
        address(dhcp_option::server_identifier, server_identifier);
        seconds(dhcp_option::lease_time, lease_seconds);
        seconds(dhcp_option::renewal_time, renewal_seconds);
        seconds(dhcp_option::rebinding_time, rebinding_seconds);
        address(dhcp_option::subnet_mask, subnet_mask);
        address(dhcp_option::router, router);
        if (dns_count != 0) {
            const std::size_t count = std::min(dns_count, max_dns);
            put(dhcp_option::dns_servers, static_cast<std::uint8_t>(4 * count));
            for (std::size_t i = 0; i < count; ++i) {
                dns[i].to_bytes(out.subspan(at, 4));
                at += 4;
            }
        }
        address(dhcp_option::requested_address, requested_address);
        if (client_identifier_len != 0) {
            const std::size_t len = std::min(client_identifier_len, max_client_identifier);
            put(dhcp_option::client_identifier, static_cast<std::uint8_t>(len));
            std::copy_n(client_identifier.begin(), len, p + at);
            at += len;
        }
        detail::store_u8(p + at, dhcp_option::end);
    }
};

}  // namespace nvgre::wire
