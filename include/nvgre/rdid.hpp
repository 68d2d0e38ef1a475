/// @file rdid.hpp
/// @brief Routing domain ID: a GUID naming one tenant's VM network (HNV).
#pragma once

#include "nvgre/detail/text.hpp"
#include "nvgre/error.hpp"

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace nvgre {

/// A GUID as 16 bytes in text order (the order the hex digits are written, not the mixed-endian
/// Windows in-memory layout: an RDID is only ever compared and printed, never put on a wire).
class rdid {
public:
    /// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
    static constexpr std::size_t text_len = 36;

    constexpr rdid() noexcept = default;
    constexpr explicit rdid(const std::array<std::uint8_t, 16>& bytes) noexcept : bytes_(bytes) {}

    /// Parses `{8a7d9a4c-53c0-4b1c-9b62-0a1b2c3d4e5f}` or the same without braces, any case.
    /// errc::syntax with the offset of the first bad character. No allocation.
    static constexpr result<rdid> parse(std::string_view text) noexcept {
        std::size_t base = 0;
        if (!text.empty() && text.front() == '{') {
            if (text.size() != text_len + 2 || text.back() != '}')
                return make_error(errc::syntax, layer::text, text.size() < text_len + 2 ? text.size() : text_len + 1);
            base = 1;
            text = text.substr(1, text_len);
        } else if (text.size() != text_len) {
            return make_error(errc::syntax, layer::text, text.size() < text_len ? text.size() : text_len);
        }
        rdid r;
        std::size_t nibble = 0;
        for (std::size_t i = 0; i < text_len; ++i) {
            const char c = text[i];
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (c != '-') return make_error(errc::syntax, layer::text, base + i);
                continue;
            }
            const int v = detail::hex_digit(c);
            if (v < 0) return make_error(errc::syntax, layer::text, base + i);
            auto& b = r.bytes_[nibble / 2];
            b = static_cast<std::uint8_t>(nibble % 2 == 0 ? v << 4 : b | v);
            ++nibble;
        }
        return r;
    }

    /// Lower case, no braces; writes exactly 36 chars. Precondition: `out.size() >= 36`.
    constexpr std::size_t format_to(std::span<char> out) const noexcept {
        std::size_t n = 0;
        for (std::size_t i = 0; i < 16; ++i) {
            if (i == 4 || i == 6 || i == 8 || i == 10) out[n++] = '-';
            out[n++] = detail::hex_digits[bytes_[i] >> 4];
            out[n++] = detail::hex_digits[bytes_[i] & 0xf];
        }
        return n;
    }
    /// Allocates; not for the per-packet path.
    [[nodiscard]] std::string to_string() const {
        std::array<char, text_len> buf{};
        return std::string(buf.data(), format_to(buf));
    }

    [[nodiscard]] constexpr const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }
    friend constexpr auto operator<=>(const rdid&, const rdid&) noexcept = default;

private:
    std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace nvgre
