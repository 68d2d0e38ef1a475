/// @file detail/bytes.hpp
/// @brief Big-endian field loads and stores on std::byte memory, through Boost.Endian.
///
/// Every wire view reads and writes its fields through these helpers, never through
/// reinterpret_cast onto packed structs or bitfields (whose layout is up to the compiler).
#pragma once

#include <boost/endian/conversion.hpp>

#include <cstddef>
#include <cstdint>

namespace nvgre::detail {

// std::byte and unsigned char may alias each other, so this cast is well defined.
inline const unsigned char* uchar(const std::byte* p) noexcept {
    return reinterpret_cast<const unsigned char*>(p);
}
inline unsigned char* uchar(std::byte* p) noexcept { return reinterpret_cast<unsigned char*>(p); }

/// Reads one byte. Precondition: p points to a readable byte.
inline std::uint8_t load_u8(const std::byte* p) noexcept { return std::to_integer<std::uint8_t>(*p); }
/// Reads a big-endian 16-bit field. Precondition: 2 readable bytes at p.
inline std::uint16_t load_be16(const std::byte* p) noexcept { return boost::endian::load_big_u16(uchar(p)); }
/// Reads a big-endian 32-bit field. Precondition: 4 readable bytes at p.
inline std::uint32_t load_be32(const std::byte* p) noexcept { return boost::endian::load_big_u32(uchar(p)); }
/// Reads a big-endian 24-bit field. Precondition: 3 readable bytes at p.
inline std::uint32_t load_be24(const std::byte* p) noexcept { return boost::endian::load_big_u24(uchar(p)); }

inline void store_u8(std::byte* p, std::uint8_t v) noexcept { *p = std::byte{v}; }
inline void store_be16(std::byte* p, std::uint16_t v) noexcept { boost::endian::store_big_u16(uchar(p), v); }
inline void store_be24(std::byte* p, std::uint32_t v) noexcept { boost::endian::store_big_u24(uchar(p), v); }
inline void store_be32(std::byte* p, std::uint32_t v) noexcept { boost::endian::store_big_u32(uchar(p), v); }

/// True for the mutable byte type; setters of views are constrained on it.
template <class Byte>
inline constexpr bool is_mutable_byte_v = std::is_same_v<Byte, std::byte>;

/// The two byte types a view may be instantiated with.
template <class Byte>
concept view_byte = std::is_same_v<Byte, std::byte> || std::is_same_v<Byte, const std::byte>;

}  // namespace nvgre::detail
