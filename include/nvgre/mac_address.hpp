/// @file mac_address.hpp
/// @brief 48-bit IEEE 802 MAC address: parse from text, format to text, classify.
#pragma once

#include "nvgre/detail/text.hpp"
#include "nvgre/error.hpp"

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace nvgre {

/// A MAC address in transmission order. Trivially copyable, 6 bytes.
class mac_address {
public:
    static constexpr std::size_t size = 6;

    constexpr mac_address() noexcept = default;
    constexpr explicit mac_address(const std::array<std::uint8_t, size>& octets) noexcept : octets_(octets) {}

    /// Reads 6 bytes. Precondition: `bytes.size() >= 6`.
    static mac_address from_bytes(std::span<const std::byte> bytes) noexcept {
        mac_address m;
        for (std::size_t i = 0; i < size; ++i) m.octets_[i] = std::to_integer<std::uint8_t>(bytes[i]);
        return m;
    }
    /// Writes 6 bytes. Precondition: `out.size() >= 6`.
    void to_bytes(std::span<std::byte> out) const noexcept { std::memcpy(out.data(), octets_.data(), size); }

    /// Parses `00:15:5d:00:00:05` or `00-15-5D-00-00-05` (one separator kind throughout, two hex
    /// digits per octet, any case). No allocation. Errors: errc::syntax, layer::text, offset of
    /// the first bad character.
    static constexpr result<mac_address> parse(std::string_view text) noexcept {
        if (text.size() != 17) return make_error(errc::syntax, layer::text, text.size() < 17 ? text.size() : 17);
        const char sep = text[2];
        if (sep != ':' && sep != '-') return make_error(errc::syntax, layer::text, 2);
        mac_address m;
        for (std::size_t i = 0; i < size; ++i) {
            const std::size_t at = i * 3;
            const int hi = detail::hex_digit(text[at]);
            const int lo = detail::hex_digit(text[at + 1]);
            if (hi < 0) return make_error(errc::syntax, layer::text, at);
            if (lo < 0) return make_error(errc::syntax, layer::text, at + 1);
            m.octets_[i] = static_cast<std::uint8_t>(hi * 16 + lo);
            if (i + 1 < size && text[at + 2] != sep) return make_error(errc::syntax, layer::text, at + 2);
        }
        return m;
    }

    /// Lower-case colon form, e.g. "00:15:5d:00:00:05"; writes exactly 17 chars.
    /// Precondition: `out.size() >= 17`. Returns the number of characters written.
    constexpr std::size_t format_to(std::span<char> out) const noexcept {
        std::size_t n = 0;
        for (std::size_t i = 0; i < size; ++i) {
            if (i != 0) out[n++] = ':';
            out[n++] = detail::hex_digits[octets_[i] >> 4];
            out[n++] = detail::hex_digits[octets_[i] & 0xf];
        }
        return n;
    }
    /// The colon form as a std::string (allocates; not for the per-packet path).
    [[nodiscard]] std::string to_string() const {
        std::array<char, 17> buf{};
        return std::string(buf.data(), format_to(buf));
    }

    [[nodiscard]] constexpr const std::array<std::uint8_t, size>& octets() const noexcept { return octets_; }
    [[nodiscard]] constexpr bool is_broadcast() const noexcept {
        for (auto o : octets_)
            if (o != 0xff) return false;
        return true;
    }
    /// Group bit (I/G) set: multicast or broadcast.
    [[nodiscard]] constexpr bool is_multicast() const noexcept { return (octets_[0] & 0x01) != 0; }
    [[nodiscard]] constexpr bool is_unicast() const noexcept { return !is_multicast(); }
    [[nodiscard]] constexpr bool is_zero() const noexcept {
        for (auto o : octets_)
            if (o != 0) return false;
        return true;
    }

    static constexpr mac_address broadcast() noexcept {
        return mac_address{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    }

    friend constexpr auto operator<=>(const mac_address&, const mac_address&) noexcept = default;
    /// As a 4-byte and a 2-byte word: the defaulted comparison of the array is a memcmp call,
    /// which the per-packet paths make several times a frame.
    friend constexpr bool operator==(const mac_address& a, const mac_address& b) noexcept {
        if (std::is_constant_evaluated()) return a.octets_ == b.octets_;
        std::uint32_t a4 = 0, b4 = 0;
        std::uint16_t a2 = 0, b2 = 0;
        std::memcpy(&a4, a.octets_.data(), 4);
        std::memcpy(&b4, b.octets_.data(), 4);
        std::memcpy(&a2, a.octets_.data() + 4, 2);
        std::memcpy(&b2, b.octets_.data() + 4, 2);
        return ((a4 ^ b4) | static_cast<std::uint32_t>(a2 ^ b2)) == 0;
    }

private:
    std::array<std::uint8_t, size> octets_{};
};

}  // namespace nvgre
