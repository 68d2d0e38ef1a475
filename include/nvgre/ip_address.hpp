/// @file ip_address.hpp
/// @brief IPv4 and IPv6 addresses, a tagged union of both, and prefixes: parse from text
/// without allocating, format to text (RFC 5952 canonical form for IPv6).
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


/// An IPv4 address, stored in network byte order as 4 octets.
class ipv4_address {
public:
    static constexpr std::size_t size = 4;
    /// Longest text form, "255.255.255.255".
    static constexpr std::size_t max_text_len = 15;

    constexpr ipv4_address() noexcept = default;
    constexpr explicit ipv4_address(const std::array<std::uint8_t, size>& octets) noexcept : octets_(octets) {}
    /// From the host-order integer value, e.g. 0x0a000005 for 10.0.0.5.
    static constexpr ipv4_address from_uint(std::uint32_t v) noexcept {
        return ipv4_address{{static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                             static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)}};
    }
    /// Precondition: `bytes.size() >= 4`.
    static ipv4_address from_bytes(std::span<const std::byte> bytes) noexcept {
        ipv4_address a;
        std::memcpy(a.octets_.data(), bytes.data(), size);
        return a;
    }
    /// Precondition: `out.size() >= 4`.
    void to_bytes(std::span<std::byte> out) const noexcept {
        for (std::size_t i = 0; i < size; ++i) out[i] = std::byte{octets_[i]};
    }

    /// Parses a dotted quad: four decimal octets 0-255, no leading zeros beyond a lone "0"
    /// (leading zeros are ambiguous: octal in some parsers). errc::syntax, offset of the fault.
    static constexpr result<ipv4_address> parse(std::string_view text) noexcept {
        ipv4_address a;
        std::size_t pos = 0;
        for (std::size_t i = 0; i < size; ++i) {
            if (i != 0) {
                if (pos >= text.size() || text[pos] != '.') return make_error(errc::syntax, layer::text, pos);
                ++pos;
            }
            const std::size_t start = pos;
            std::uint32_t v = 0;
            while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 3) {
                v = v * 10 + static_cast<std::uint32_t>(text[pos] - '0');
                ++pos;
            }
            if (pos == start || v > 255 || (pos - start > 1 && text[start] == '0'))
                return make_error(errc::syntax, layer::text, start);
            a.octets_[i] = static_cast<std::uint8_t>(v);
        }
        if (pos != text.size()) return make_error(errc::syntax, layer::text, pos);
        return a;
    }

    /// Dotted quad. Precondition: `out.size() >= max_text_len`. Returns chars written.
    constexpr std::size_t format_to(std::span<char> out) const noexcept {
        std::size_t n = 0;
        for (std::size_t i = 0; i < size; ++i) {
            if (i != 0) out[n++] = '.';
            n += detail::format_decimal(octets_[i], out.data() + n);
        }
        return n;
    }
    /// Allocates; not for the per-packet path.
    [[nodiscard]] std::string to_string() const {
        std::array<char, max_text_len> buf{};
        return std::string(buf.data(), format_to(buf));
    }

    [[nodiscard]] constexpr std::uint32_t to_uint() const noexcept {
        return (std::uint32_t{octets_[0]} << 24) | (std::uint32_t{octets_[1]} << 16) |
               (std::uint32_t{octets_[2]} << 8) | std::uint32_t{octets_[3]};
    }
    [[nodiscard]] constexpr const std::array<std::uint8_t, size>& octets() const noexcept { return octets_; }
    [[nodiscard]] constexpr bool is_unspecified() const noexcept { return to_uint() == 0; }
    [[nodiscard]] constexpr bool is_multicast() const noexcept { return (octets_[0] & 0xf0) == 0xe0; }
    [[nodiscard]] constexpr bool is_broadcast() const noexcept { return to_uint() == 0xffffffffu; }
    [[nodiscard]] constexpr bool is_loopback() const noexcept { return octets_[0] == 127; }

    friend constexpr auto operator<=>(const ipv4_address&, const ipv4_address&) noexcept = default;

private:
    std::array<std::uint8_t, size> octets_{};
};

/// An IPv6 address, 16 octets in network byte order.
class ipv6_address {
public:
    static constexpr std::size_t size = 16;
    /// Longest canonical text form, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" is never
    /// produced (RFC 5952 uses dotted form only for ::ffff:a.b.c.d), so 39 + slack.
    static constexpr std::size_t max_text_len = 45;

    constexpr ipv6_address() noexcept = default;
    constexpr explicit ipv6_address(const std::array<std::uint8_t, size>& octets) noexcept : octets_(octets) {}
    /// From eight 16-bit groups, most significant first.
    static constexpr ipv6_address from_groups(const std::array<std::uint16_t, 8>& g) noexcept {
        ipv6_address a;
        for (std::size_t i = 0; i < 8; ++i) {
            a.octets_[2 * i] = static_cast<std::uint8_t>(g[i] >> 8);
            a.octets_[2 * i + 1] = static_cast<std::uint8_t>(g[i]);
        }
        return a;
    }
    /// Precondition: `bytes.size() >= 16`.
    static ipv6_address from_bytes(std::span<const std::byte> bytes) noexcept {
        ipv6_address a;
        std::memcpy(a.octets_.data(), bytes.data(), size);
        return a;
    }
    /// Precondition: `out.size() >= 16`.
    void to_bytes(std::span<std::byte> out) const noexcept {
        for (std::size_t i = 0; i < size; ++i) out[i] = std::byte{octets_[i]};
    }

    /// Parses any RFC 4291 section 2.2 text form: full, "::"-compressed, and with a trailing
    /// dotted IPv4 part. No zone index. errc::syntax, offset of the fault.
    static constexpr result<ipv6_address> parse(std::string_view text) noexcept {
        std::array<std::uint16_t, 8> groups{};
        int n = 0;           // groups written
        int gap = -1;        // index where "::" stands
        std::size_t pos = 0;
        if (text.size() >= 2 && text[0] == ':' && text[1] == ':') {
            gap = 0;
            pos = 2;
            if (pos == text.size()) return ipv6_address{};
        } else if (!text.empty() && text[0] == ':') {
            return make_error(errc::syntax, layer::text, 0);
        }
        while (true) {
            if (n == 8) return make_error(errc::syntax, layer::text, pos);
            const std::size_t start = pos;
            std::uint32_t v = 0;
            while (pos < text.size() && pos - start < 4 && detail::hex_digit(text[pos]) >= 0) {
                v = v * 16 + static_cast<std::uint32_t>(detail::hex_digit(text[pos]));
                ++pos;
            }
            if (pos < text.size() && text[pos] == '.') {
                // Embedded IPv4 in the last 32 bits.
                if (n > 6) return make_error(errc::syntax, layer::text, start);
                auto v4 = ipv4_address::parse(text.substr(start));
                if (!v4) return make_error(errc::syntax, layer::text, start + v4.error().offset);
                groups[static_cast<std::size_t>(n++)] = static_cast<std::uint16_t>(v4->to_uint() >> 16);
                groups[static_cast<std::size_t>(n++)] = static_cast<std::uint16_t>(v4->to_uint());
                pos = text.size();
                break;
            }
            if (pos == start) return make_error(errc::syntax, layer::text, pos);
            groups[static_cast<std::size_t>(n++)] = static_cast<std::uint16_t>(v);
            if (pos == text.size()) break;
            if (text[pos] != ':') return make_error(errc::syntax, layer::text, pos);
            ++pos;
            if (pos < text.size() && text[pos] == ':') {
                if (gap >= 0) return make_error(errc::syntax, layer::text, pos);
                gap = n;
                ++pos;
                if (pos == text.size()) break;
            } else if (pos == text.size()) {
                return make_error(errc::syntax, layer::text, pos);
            }
        }
        if (gap < 0 && n != 8) return make_error(errc::syntax, layer::text, text.size());
        if (gap >= 0 && n == 8) return make_error(errc::syntax, layer::text, text.size());
        std::array<std::uint16_t, 8> out{};
        if (gap < 0) {
            out = groups;
        } else {
            // 0 <= gap <= n <= 8 here.
            const auto head = static_cast<std::size_t>(gap);
            const auto tail = static_cast<std::size_t>(n - gap);
            for (std::size_t i = 0; i < head; ++i) out[i] = groups[i];
            for (std::size_t i = 0; i < tail; ++i) out[8 - tail + i] = groups[head + i];
        }
        return from_groups(out);
    }

    /// RFC 5952 canonical text: lower case, no leading zeros, the longest run (first among
    /// equals) of two or more zero groups as "::", and ::ffff:a.b.c.d for IPv4-mapped addresses.
    /// Precondition: `out.size() >= max_text_len`. Returns chars written.
    constexpr std::size_t format_to(std::span<char> out) const noexcept {
        std::array<std::uint16_t, 8> g{};
        for (std::size_t i = 0; i < 8; ++i)
            g[i] = static_cast<std::uint16_t>((octets_[2 * i] << 8) | octets_[2 * i + 1]);
        std::size_t n = 0;
        const bool mapped = g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff;
        if (mapped) {
            for (char c : std::string_view{"::ffff:"}) out[n++] = c;
            n += ipv4_address{{octets_[12], octets_[13], octets_[14], octets_[15]}}.format_to(out.subspan(n));
            return n;
        }
        int best = -1, best_len = 0;
        for (int i = 0; i < 8;) {
            if (g[static_cast<std::size_t>(i)] != 0) {
                ++i;
                continue;
            }
            int j = i;
            while (j < 8 && g[static_cast<std::size_t>(j)] == 0) ++j;
            if (j - i > best_len) {
                best = i;
                best_len = j - i;
            }
            i = j;
        }
        if (best_len < 2) best = -1;
        for (int i = 0; i < 8; ++i) {
            if (i == best) {
                // "::" stands for the run; the separator after the previous group is its first ':'.
                if (i == 0) out[n++] = ':';
                out[n++] = ':';
                i += best_len - 1;
                continue;
            }
            const std::uint16_t v = g[static_cast<std::size_t>(i)];
            bool started = false;
            for (int shift = 12; shift >= 0; shift -= 4) {
                const unsigned d = (v >> shift) & 0xfu;
                if (d != 0 || started || shift == 0) {
                    out[n++] = detail::hex_digits[d];
                    started = true;
                }
            }
            if (i != 7) out[n++] = ':';
        }
        return n;
    }
    /// Allocates; not for the per-packet path.
    [[nodiscard]] std::string to_string() const {
        std::array<char, max_text_len> buf{};
        return std::string(buf.data(), format_to(buf));
    }

    [[nodiscard]] constexpr const std::array<std::uint8_t, size>& octets() const noexcept { return octets_; }
    [[nodiscard]] constexpr bool is_unspecified() const noexcept {
        for (auto o : octets_)
            if (o != 0) return false;
        return true;
    }
    [[nodiscard]] constexpr bool is_multicast() const noexcept { return octets_[0] == 0xff; }
    [[nodiscard]] constexpr bool is_link_local() const noexcept {
        return octets_[0] == 0xfe && (octets_[1] & 0xc0) == 0x80;
    }

    friend constexpr auto operator<=>(const ipv6_address&, const ipv6_address&) noexcept = default;

private:
    std::array<std::uint8_t, size> octets_{};
};

/// Which IP version an address or prefix is.
enum class ip_version : std::uint8_t { v4 = 4, v6 = 6 };

/// An IPv4 or an IPv6 address (a small tagged union; 17 bytes of payload).
class ip_address {
public:
    static constexpr std::size_t max_text_len = ipv6_address::max_text_len;

    constexpr ip_address() noexcept = default;
    constexpr ip_address(const ipv4_address& a) noexcept : version_(ip_version::v4) {  // NOLINT: implicit by design
        // One 4-byte copy at run time (the per-packet paths build addresses from every header);
        // the byte loop where memcpy cannot go.
        if (std::is_constant_evaluated()) {
            for (std::size_t i = 0; i < 4; ++i) bytes_[i] = a.octets()[i];
        } else {
            std::memcpy(bytes_.data(), a.octets().data(), 4);
        }
    }
    constexpr ip_address(const ipv6_address& a) noexcept : version_(ip_version::v6), bytes_(a.octets()) {}  // NOLINT

    /// Dotted quad if the text has no ':', IPv6 otherwise.
    static constexpr result<ip_address> parse(std::string_view text) noexcept {
        if (text.find(':') == std::string_view::npos) {
            auto v4 = ipv4_address::parse(text);
            if (!v4) return v4.error();
            return ip_address{*v4};
        }
        auto v6 = ipv6_address::parse(text);
        if (!v6) return v6.error();
        return ip_address{*v6};
    }

    [[nodiscard]] constexpr ip_version version() const noexcept { return version_; }
    [[nodiscard]] constexpr bool is_v4() const noexcept { return version_ == ip_version::v4; }
    [[nodiscard]] constexpr bool is_v6() const noexcept { return version_ == ip_version::v6; }
    /// Precondition: is_v4().
    [[nodiscard]] constexpr ipv4_address v4() const noexcept {
        return ipv4_address{{bytes_[0], bytes_[1], bytes_[2], bytes_[3]}};
    }
    /// Precondition: is_v6().
    [[nodiscard]] constexpr ipv6_address v6() const noexcept { return ipv6_address{bytes_}; }
    /// The address octets: 4 for IPv4, 16 for IPv6.
    [[nodiscard]] constexpr std::span<const std::uint8_t> octets() const noexcept {
        return {bytes_.data(), is_v4() ? std::size_t{4} : std::size_t{16}};
    }
    [[nodiscard]] constexpr bool is_unspecified() const noexcept {
        return is_v4() ? v4().is_unspecified() : v6().is_unspecified();
    }
    [[nodiscard]] constexpr bool is_multicast() const noexcept {
        return is_v4() ? v4().is_multicast() : v6().is_multicast();
    }

    /// Precondition: `out.size() >= max_text_len`.
    constexpr std::size_t format_to(std::span<char> out) const noexcept {
        return is_v4() ? v4().format_to(out) : v6().format_to(out);
    }
    [[nodiscard]] std::string to_string() const { return is_v4() ? v4().to_string() : v6().to_string(); }

    /// Orders all IPv4 addresses before all IPv6 addresses.
    friend constexpr auto operator<=>(const ip_address&, const ip_address&) noexcept = default;
    /// Same version and bytes: what the defaulted comparison gives (an IPv4 address keeps its
    /// other 12 bytes 0), without its memcmp call over 17 bytes. An IPv4 address compares its 4
    /// bytes only: the per-packet paths compare addresses they have just built with a 4-byte
    /// store, and a wider load over it would wait for the store to retire (no forwarding).
    friend constexpr bool operator==(const ip_address& a, const ip_address& b) noexcept {
        if (std::is_constant_evaluated()) return a.version_ == b.version_ && a.bytes_ == b.bytes_;
        if (a.version_ != b.version_) return false;
        if (a.version_ == ip_version::v4) {
            std::uint32_t a4, b4;
            std::memcpy(&a4, a.bytes_.data(), 4);
            std::memcpy(&b4, b.bytes_.data(), 4);
            return a4 == b4;
        }
        std::uint64_t a0, a1, b0, b1;
        std::memcpy(&a0, a.bytes_.data(), 8);
        std::memcpy(&a1, a.bytes_.data() + 8, 8);
        std::memcpy(&b0, b.bytes_.data(), 8);
        std::memcpy(&b1, b.bytes_.data() + 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }

private:
    // Declared before bytes_ so that ordering compares the version first. Unused bytes stay 0
    // so that defaulted comparison and hashing of the whole object are meaningful.
    ip_version version_{ip_version::v4};
    std::array<std::uint8_t, 16> bytes_{};

    friend class ip_prefix;
};

/// An address and a prefix length, with host bits zero (e.g. 10.0.0.0/24, 2001:db8::/32).
class ip_prefix {
public:
    constexpr ip_prefix() noexcept = default;

    /// Builds a prefix. errc::bad_value if `length` is longer than the address, or if any host
    /// bit of `address` is set (docs/policy-format.md requires host bits zero).
    static constexpr result<ip_prefix> make(ip_address address, unsigned length) noexcept {
        const unsigned max = address.is_v4() ? 32u : 128u;
        if (length > max) return make_error(errc::bad_value, layer::text, 0);
        ip_prefix p;
        p.address_ = address;
        p.length_ = static_cast<std::uint8_t>(length);
        if (p.masked(address) != address) return make_error(errc::bad_value, layer::text, 0);
        return p;
    }

    /// The prefix of length `length` that contains `address` (host bits cleared).
    /// errc::bad_value if `length` is longer than the address.
    static constexpr result<ip_prefix> containing(ip_address address, unsigned length) noexcept {
        if (length > (address.is_v4() ? 32u : 128u)) return make_error(errc::bad_value, layer::text, 0);
        ip_prefix p;
        p.length_ = static_cast<std::uint8_t>(length);
        p.address_ = p.masked(address);
        return p;
    }

    /// Parses "IP/len". errc::syntax for malformed text (offset of the fault), errc::bad_value
    /// for a length too long or host bits set (offset of the length / the address).
    static constexpr result<ip_prefix> parse(std::string_view text) noexcept {
        const auto slash = text.find('/');
        if (slash == std::string_view::npos) return make_error(errc::syntax, layer::text, text.size());
        auto addr = ip_address::parse(text.substr(0, slash));
        if (!addr) return addr.error();
        const auto len_text = text.substr(slash + 1);
        if (len_text.empty() || len_text.size() > 3) return make_error(errc::syntax, layer::text, slash + 1);
        unsigned len = 0;
        for (std::size_t i = 0; i < len_text.size(); ++i) {
            const char c = len_text[i];
            if (c < '0' || c > '9' || (i == 0 && c == '0' && len_text.size() > 1))
                return make_error(errc::syntax, layer::text, slash + 1 + i);
            len = len * 10 + static_cast<unsigned>(c - '0');
        }
        const unsigned max = addr->is_v4() ? 32u : 128u;
        if (len > max) return make_error(errc::bad_value, layer::text, slash + 1);
        auto p = make(*addr, len);
        if (!p) return make_error(errc::bad_value, layer::text, 0);
        return p;
    }

    [[nodiscard]] constexpr const ip_address& address() const noexcept { return address_; }
    [[nodiscard]] constexpr unsigned length() const noexcept { return length_; }
    [[nodiscard]] constexpr ip_version version() const noexcept { return address_.version(); }

    /// `a` with every bit past this prefix's length cleared (a must be of the same version).
    [[nodiscard]] constexpr ip_address masked(ip_address a) const noexcept {
        const std::size_t nbytes = a.is_v4() ? 4 : 16;
        for (std::size_t i = 0; i < nbytes; ++i) {
            const unsigned bit = static_cast<unsigned>(i) * 8;
            std::uint8_t mask = 0;
            if (bit + 8 <= length_) mask = 0xff;
            else if (bit < length_) mask = static_cast<std::uint8_t>(0xff << (8 - (length_ - bit)));
            a.bytes_[i] = static_cast<std::uint8_t>(a.bytes_[i] & mask);
        }
        return a;
    }
    /// True if `a` is of this prefix's version and inside it.
    [[nodiscard]] constexpr bool contains(const ip_address& a) const noexcept {
        return a.version() == address_.version() && masked(a) == address_;
    }

    /// "address/length". Precondition: `out.size() >= ip_address::max_text_len + 4`.
    constexpr std::size_t format_to(std::span<char> out) const noexcept {
        std::size_t n = address_.format_to(out);
        out[n++] = '/';
        n += detail::format_decimal(length_, out.data() + n);
        return n;
    }
    [[nodiscard]] std::string to_string() const {
        std::array<char, ip_address::max_text_len + 4> buf{};
        return std::string(buf.data(), format_to(buf));
    }

    friend constexpr auto operator<=>(const ip_prefix&, const ip_prefix&) noexcept = default;

private:
    ip_address address_{};
    std::uint8_t length_{0};
};

}  // namespace nvgre
