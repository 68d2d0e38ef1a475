/// @file error.hpp
/// @brief Errors as values: the `errc` enum, the `layer` a parse stopped in, and `result<T>`.
///
/// The library never throws (it builds with -fno-exceptions). Every fallible function returns
/// `result<T>`, which holds either a T or an `error` naming what went wrong, in which layer, and
/// at which byte offset (relative to the span the function was given; `packet_layout` rebases
/// offsets to the start of the frame).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

namespace nvgre {

/// What went wrong. Names are stable: they appear in tool output as kebab-case strings.
enum class errc : std::uint8_t {
    truncated = 1,            ///< fewer bytes than the header or a length field needs
    bad_length,               ///< a length field is inconsistent (too small, or larger than the buffer)
    bad_version,              ///< a version field has a value this layer does not accept
    bad_header_length,        ///< IPv4 IHL < 5, TCP data offset < 5, options that overrun
    bad_checksum,             ///< a checksum that is verified did not verify
    bad_gre_flags,            ///< GRE reserved0 bits 1, 4 or 5 set, or flags NVGRE forbids (C, S)
    gre_routing,              ///< GRE routing present (R bit, RFC 1701): not supported
    bad_protocol,             ///< a protocol/next-header/ethertype this layer does not accept
    missing_key,              ///< NVGRE without the K bit
    reserved_vsid,            ///< VSID in 0x000000-0x000FFF or 0xFFFFFF (RFC 7637 section 3.2)
    inner_vlan,               ///< an 802.1Q/802.1ad tag on the inner frame (RFC 7637 section 3.2)
    bad_outer_vlan,           ///< outer tags other than one 802.1Q tag (the PA's VLAN)
    fragmented,               ///< an outer IP fragment: not reassembled, dropped on its own
    bad_extension_header,     ///< an IPv6 extension header chain that is malformed or too long
    bad_address,              ///< an address that may not appear here (e.g. multicast source)
    bad_value,                ///< a field value outside its allowed range
    syntax,                   ///< text that does not parse (addresses, prefixes, GUIDs)
    no_headroom,              ///< too little headroom in front of a frame to write outer headers
    no_space,                 ///< an output buffer too small for what must be written
    ecn_drop,                 ///< RFC 6040 decapsulation: outer CE on a Not-ECT inner packet
    split_headers,            ///< a chained packet whose first segment is shorter than nvgre::first_segment_bytes
};

/// Where a parse stopped. Inner layers are those of the frame carried inside NVGRE.
enum class layer : std::uint8_t {
    none = 0,
    text,  ///< parsing an address, prefix or identifier from text
    ethernet,
    vlan,
    arp,
    ipv4,
    ipv6,
    ipv6_extension,
    gre,
    nvgre,
    inner_ethernet,
    inner_vlan,
    inner_arp,
    inner_ipv4,
    inner_ipv6,
    inner_ipv6_extension,
    udp,
    tcp,
    icmp,
    icmpv6,
    dhcp,  ///< a DHCPv4 / BOOTP message (UDP payload)
};

/// The stable kebab-case name of an error code, e.g. "bad-gre-flags".
[[nodiscard]] constexpr std::string_view to_string(errc e) noexcept {
    switch (e) {
        case errc::truncated: return "truncated";
        case errc::bad_length: return "bad-length";
        case errc::bad_version: return "bad-version";
        case errc::bad_header_length: return "bad-header-length";
        case errc::bad_checksum: return "bad-checksum";
        case errc::bad_gre_flags: return "bad-gre-flags";
        case errc::gre_routing: return "gre-routing";
        case errc::bad_protocol: return "bad-protocol";
        case errc::missing_key: return "missing-key";
        case errc::reserved_vsid: return "reserved-vsid";
        case errc::inner_vlan: return "inner-vlan";
        case errc::bad_outer_vlan: return "bad-outer-vlan";
        case errc::fragmented: return "fragmented";
        case errc::bad_extension_header: return "bad-extension-header";
        case errc::bad_address: return "bad-address";
        case errc::bad_value: return "bad-value";
        case errc::syntax: return "syntax";
        case errc::no_headroom: return "no-headroom";
        case errc::no_space: return "no-space";
        case errc::ecn_drop: return "ecn-drop";
        case errc::split_headers: return "split-headers";
    }
    return "unknown";
}

/// The stable kebab-case name of a layer, e.g. "inner-ipv4".
[[nodiscard]] constexpr std::string_view to_string(layer l) noexcept {
    switch (l) {
        case layer::none: return "none";
        case layer::text: return "text";
        case layer::ethernet: return "ethernet";
        case layer::vlan: return "vlan";
        case layer::arp: return "arp";
        case layer::ipv4: return "ipv4";
        case layer::ipv6: return "ipv6";
        case layer::ipv6_extension: return "ipv6-extension";
        case layer::gre: return "gre";
        case layer::nvgre: return "nvgre";
        case layer::inner_ethernet: return "inner-ethernet";
        case layer::inner_vlan: return "inner-vlan";
        case layer::inner_arp: return "inner-arp";
        case layer::inner_ipv4: return "inner-ipv4";
        case layer::inner_ipv6: return "inner-ipv6";
        case layer::inner_ipv6_extension: return "inner-ipv6-extension";
        case layer::udp: return "udp";
        case layer::tcp: return "tcp";
        case layer::icmp: return "icmp";
        case layer::icmpv6: return "icmpv6";
        case layer::dhcp: return "dhcp";
    }
    return "unknown";
}

/// A failure: what (`code`), in which layer, and the byte offset where parsing stopped.
///
/// `offset` is relative to the span handed to the function that failed; `rebased` shifts it
/// when that span started inside a larger frame. `needed` is, for `errc::truncated`, how many
/// bytes from `offset` the layer would have needed (0 when not applicable).
struct error {
    errc code{};
    nvgre::layer where{layer::none};
    std::uint32_t offset{0};
    std::uint32_t needed{0};

    /// The same error, with its offset moved by `base` bytes and its layer optionally renamed
    /// (used when an outer parser reuses a view for an inner header).
    [[nodiscard]] constexpr error rebased(std::uint32_t base) const noexcept {
        return error{code, where, offset + base, needed};
    }
    [[nodiscard]] constexpr error in_layer(nvgre::layer l) const noexcept {
        return error{code, l, offset, needed};
    }
    friend constexpr bool operator==(const error&, const error&) noexcept = default;
};

/// Makes an error value. `needed` only matters for errc::truncated.
[[nodiscard]] constexpr error make_error(errc code, layer where, std::size_t offset,
                                         std::size_t needed = 0) noexcept {
    return error{code, where, static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(needed)};
}

namespace detail {
/// A broken precondition of result<T> (value() on an error): there is no exception to throw,
/// so stop the program rather than read an uninitialised value.
[[noreturn]] inline void result_precondition_failed() noexcept { std::abort(); }
}  // namespace detail

/// Either a T or an `error`. Cheap to return; never throws; [[nodiscard]] so a failure cannot
/// be ignored by accident. Accessing value() of an error result aborts (a programming error).
template <class T>
class [[nodiscard]] result {
    static_assert(!std::is_reference_v<T>, "result<T&> is not supported");

public:
    using value_type = T;

    // Implicit on purpose: `return value;` and `return make_error(...)` both read naturally.
    constexpr result(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) : ok_(true) {
        std::construct_at(&value_, v);
    }
    constexpr result(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(true) {
        std::construct_at(&value_, std::move(v));
    }
    constexpr result(const error& e) noexcept : ok_(false) { std::construct_at(&error_, e); }

    constexpr result(const result& o) noexcept(std::is_nothrow_copy_constructible_v<T>) : ok_(o.ok_) {
        if (ok_) std::construct_at(&value_, o.value_);
        else std::construct_at(&error_, o.error_);
    }
    constexpr result(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(o.ok_) {
        if (ok_) std::construct_at(&value_, std::move(o.value_));
        else std::construct_at(&error_, o.error_);
    }
    constexpr result& operator=(const result& o) noexcept(std::is_nothrow_copy_constructible_v<T>) {
        if (this != &o) {
            destroy();
            ok_ = o.ok_;
            if (ok_) std::construct_at(&value_, o.value_);
            else std::construct_at(&error_, o.error_);
        }
        return *this;
    }
    constexpr result& operator=(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) {
        if (this != &o) {
            destroy();
            ok_ = o.ok_;
            if (ok_) std::construct_at(&value_, std::move(o.value_));
            else std::construct_at(&error_, o.error_);
        }
        return *this;
    }
    constexpr ~result() { destroy(); }

    [[nodiscard]] constexpr bool has_value() const noexcept { return ok_; }
    constexpr explicit operator bool() const noexcept { return ok_; }

    /// Precondition: has_value().
    [[nodiscard]] constexpr T& value() & noexcept {
        if (!ok_) detail::result_precondition_failed();
        return value_;
    }
    [[nodiscard]] constexpr const T& value() const& noexcept {
        if (!ok_) detail::result_precondition_failed();
        return value_;
    }
    [[nodiscard]] constexpr T&& value() && noexcept {
        if (!ok_) detail::result_precondition_failed();
        return std::move(value_);
    }
    constexpr T& operator*() & noexcept { return value(); }
    constexpr const T& operator*() const& noexcept { return value(); }
    constexpr T* operator->() noexcept { return &value(); }
    constexpr const T* operator->() const noexcept { return &value(); }

    /// The value, or `fallback` when this holds an error.
    [[nodiscard]] constexpr T value_or(T fallback) const& noexcept(std::is_nothrow_copy_constructible_v<T>) {
        return ok_ ? value_ : fallback;
    }

    /// Precondition: !has_value().
    [[nodiscard]] constexpr const nvgre::error& error() const noexcept {
        if (ok_) detail::result_precondition_failed();
        return error_;
    }

private:
    constexpr void destroy() noexcept {
        if (ok_) std::destroy_at(&value_);
    }

    union {
        T value_;
        nvgre::error error_;
    };
    bool ok_;
};

/// A result that carries no value: success, or an error. Success is an error code of 0
/// (errc starts at 1), so the whole object is one plain 12-byte struct with no separate flag:
/// GCC then returns it without the mixed-width stores that stall store forwarding.
template <>
class [[nodiscard]] result<void> {
public:
    using value_type = void;
    constexpr result() noexcept = default;
    constexpr result(const error& e) noexcept : error_(e) {}
    [[nodiscard]] constexpr bool has_value() const noexcept { return error_.code == errc{}; }
    constexpr explicit operator bool() const noexcept { return has_value(); }
    /// Precondition: !has_value().
    [[nodiscard]] constexpr const nvgre::error& error() const noexcept {
        if (has_value()) detail::result_precondition_failed();
        return error_;
    }

private:
    nvgre::error error_{};
};

}  // namespace nvgre
