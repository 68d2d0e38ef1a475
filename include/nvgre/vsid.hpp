/// @file vsid.hpp
/// @brief Virtual Subnet ID (24 bits, RFC 7637 section 3.2), FlowID (8 bits) and the GRE key
/// that carries both.
#pragma once

#include "nvgre/error.hpp"

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nvgre {

/// A tenant Virtual Subnet ID. Only 4096-16777214 can be constructed: RFC 7637 section 3.2
/// reserves 0x000000-0x000FFF and leaves 0xFFFFFF vendor-specific, so neither names a tenant.
class vsid {
public:
    static constexpr std::uint32_t min_tenant = 0x001000;  // 4096
    static constexpr std::uint32_t max_tenant = 0xFFFFFE;  // 16777214

    /// True if `v` is a valid tenant VSID.
    [[nodiscard]] static constexpr bool is_tenant(std::uint32_t v) noexcept {
        return v >= min_tenant && v <= max_tenant;
    }
    /// errc::reserved_vsid (layer::nvgre) unless `v` is a tenant VSID.
    static constexpr result<vsid> make(std::uint32_t v) noexcept {
        if (!is_tenant(v)) return make_error(errc::reserved_vsid, layer::nvgre, 0);
        return vsid{v};
    }
    /// Decimal 4096-16777214, no sign, no leading zeros. errc::syntax / errc::reserved_vsid.
    static constexpr result<vsid> parse(std::string_view text) noexcept {
        if (text.empty() || text.size() > 8) return make_error(errc::syntax, layer::text, 0);
        std::uint32_t v = 0;
        for (std::size_t i = 0; i < text.size(); ++i) {
            const char c = text[i];
            if (c < '0' || c > '9' || (i == 0 && c == '0')) return make_error(errc::syntax, layer::text, i);
            v = v * 10 + static_cast<std::uint32_t>(c - '0');
        }
        if (!is_tenant(v)) return make_error(errc::reserved_vsid, layer::text, 0);
        return vsid{v};
    }

    [[nodiscard]] constexpr std::uint32_t value() const noexcept { return value_; }
    friend constexpr auto operator<=>(const vsid&, const vsid&) noexcept = default;

private:
    constexpr explicit vsid(std::uint32_t v) noexcept : value_(v) {}
    std::uint32_t value_;
};

/// The 8-bit FlowID of the NVGRE key: per-flow entropy for ECMP in the underlay. Any value;
/// transit devices never change it (RFC 7637 section 3.2).
struct flow_id {
    std::uint8_t value{0};
    friend constexpr auto operator<=>(const flow_id&, const flow_id&) noexcept = default;
};

/// The 32-bit GRE key of an NVGRE packet: VSID << 8 | FlowID.
[[nodiscard]] constexpr std::uint32_t nvgre_key(vsid v, flow_id f) noexcept {
    return (v.value() << 8) | f.value;
}
/// The raw 24-bit VSID field of a key (may be reserved; check with vsid::make).
[[nodiscard]] constexpr std::uint32_t key_vsid_bits(std::uint32_t key) noexcept { return key >> 8; }
/// The FlowID field of a key.
[[nodiscard]] constexpr flow_id key_flow_id(std::uint32_t key) noexcept {
    return flow_id{static_cast<std::uint8_t>(key & 0xffu)};
}

}  // namespace nvgre
