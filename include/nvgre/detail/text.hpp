/// @file detail/text.hpp
/// @brief Character helpers shared by the address and identifier parsers (no allocation).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nvgre::detail {

/// The value of one hexadecimal digit (either case), or -1.
constexpr int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Lower-case hexadecimal digits, for formatting.
inline constexpr char hex_digits[] = "0123456789abcdef";

/// Writes `v` in decimal; returns the number of chars written (at most 10).
constexpr std::size_t format_decimal(std::uint32_t v, char* out) noexcept {
    char tmp[10];
    std::size_t n = 0;
    do {
        tmp[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (std::size_t i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
    return n;
}

}  // namespace nvgre::detail
