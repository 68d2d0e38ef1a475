/// @file datapath/rss.hpp
/// @brief Receive-side scaling: the Toeplitz hash NICs compute over a packet's IPv4/IPv6
/// addresses (2-tuple) or addresses and TCP/UDP ports (4-tuple), with a 40-byte secret key —
/// here over the *inner* frame, which a NIC that does not parse NVGRE cannot reach (it sees one
/// outer flow per pair of hosts). A switch spreads decapsulated or to-be-encapsulated frames
/// over its cores with it, and may derive the NVGRE FlowID from it (flow_id_from_rss), so the
/// underlay's ECMP and the receiver's queues follow the same flows.
///
/// The hash is Microsoft's definition ("RSS hashing functions", NdisHashFunctionToeplitz): for
/// every bit of the input, left to right, that is 1, XOR in the 32 leftmost bits of the key,
/// then shift the key left one bit. The input is, in packet order: source address, destination
/// address, then (4-tuple) source port, destination port. toeplitz_hash() is that definition,
/// bit by bit (constexpr, the reference); toeplitz_hasher precomputes, for each input byte
/// position and value, the 32-bit word it contributes, so a hash is one table load and XOR per
/// input byte (12 for an IPv4 4-tuple, 36 for IPv6). Both agree with the published verification
/// values for the default key (tests/datapath/rss.test.cpp).
#pragma once

#include "nvgre/detail/bytes.hpp"
#include "nvgre/vsid.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::datapath {

/// A Toeplitz key: 40 bytes (320 bits), enough for inputs of up to 36 bytes (an IPv6 4-tuple).
struct rss_key {
    std::array<std::uint8_t, 40> bytes{};
};

/// The key Microsoft publishes for verifying RSS implementations, which most NICs ship as
/// their default.
inline constexpr rss_key microsoft_rss_key{{0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
                                            0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
                                            0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                                            0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa}};

/// The longest input a 40-byte key hashes: 320 - 32 key bits slide over 288 input bits.
inline constexpr std::size_t rss_max_input = 36;

/// The Toeplitz hash of `input`, bit by bit, as the definition reads. Bytes past
/// rss_max_input are not hashed.
[[nodiscard]] constexpr std::uint32_t toeplitz_hash(const rss_key& key, std::span<const std::byte> input) noexcept {
    std::uint32_t result = 0;
    // The 32 leftmost key bits, and the next key bits waiting to shift in.
    std::uint32_t window = static_cast<std::uint32_t>(key.bytes[0]) << 24 | static_cast<std::uint32_t>(key.bytes[1]) << 16 |
                           static_cast<std::uint32_t>(key.bytes[2]) << 8 | key.bytes[3];
    const std::size_t n = input.size() < rss_max_input ? input.size() : rss_max_input;
    for (std::size_t i = 0; i < n; ++i) {
        const auto byte = std::to_integer<std::uint8_t>(input[i]);
        const std::uint8_t next = key.bytes[i + 4];
        for (int bit = 7; bit >= 0; --bit) {
            if ((byte >> bit) & 1u) result ^= window;
            window = window << 1 | ((next >> bit) & 1u);
        }
    }
    return result;
}

/// A key with its lookup table (36 KiB): build it once per key (control path), then hash any
/// number of inputs at one table load and XOR per byte.
class toeplitz_hasher {
public:
    explicit toeplitz_hasher(const rss_key& key = microsoft_rss_key) noexcept {
        for (std::size_t i = 0; i < rss_max_input; ++i) {
            // The 40 key bits that byte position i can reach: the 32-bit window of its first
            // bit and the 8 that shift in during its bits.
            std::uint64_t bits = 0;
            for (std::size_t k = 0; k < 5; ++k) bits = bits << 8 | key.bytes[i + k];
            std::array<std::uint32_t, 8> per_bit{};  // bit 7 (leftmost) first
            for (int b = 0; b < 8; ++b) per_bit[static_cast<std::size_t>(b)] = static_cast<std::uint32_t>(bits >> (8 - b));
            for (std::size_t v = 0; v < 256; ++v) {
                std::uint32_t word = 0;
                for (int b = 0; b < 8; ++b)
                    if ((v >> (7 - b)) & 1u) word ^= per_bit[static_cast<std::size_t>(b)];
                table_[i][v] = word;
            }
        }
    }

    /// The Toeplitz hash of `input` (bytes past rss_max_input are not hashed). Equals
    /// toeplitz_hash(key, input).
    [[nodiscard]] std::uint32_t hash(std::span<const std::byte> input) const noexcept {
        const std::size_t n = input.size() < rss_max_input ? input.size() : rss_max_input;
        std::uint32_t result = 0;
        for (std::size_t i = 0; i < n; ++i) result ^= table_[i][std::to_integer<std::uint8_t>(input[i])];
        return result;
    }

private:
    std::array<std::array<std::uint32_t, 256>, rss_max_input> table_{};
};

/// What a hash covered (Microsoft's hash types). `none`: not IPv4/IPv6, or cut short.
enum class rss_hash_type : std::uint8_t { none, ipv4, tcp_ipv4, udp_ipv4, ipv6, tcp_ipv6, udp_ipv6 };

/// Which hash types may be used: the 4-tuple ones fall back to the 2-tuple of their IP version
/// when disabled (or for fragments), as NICs do.
struct rss_hash_types {
    bool ipv4{true};
    bool tcp_ipv4{true};
    bool udp_ipv4{false};  ///< off by default, as in NDIS: UDP flows are often fragmented
    bool ipv6{true};
    bool tcp_ipv6{true};
    bool udp_ipv6{false};
};

/// The RSS hash of a frame and what it covered.
struct rss_hash_result {
    std::uint32_t hash{0};
    rss_hash_type type{rss_hash_type::none};
};

namespace detail::rss_steps {

/// The 2-tuple or 4-tuple input of an IPv4 header at `l3` of `f` (bounds checked by the caller
/// for 20 bytes). Returns its length, 0 when the header does not validate.
inline std::size_t ipv4_input(std::span<const std::byte> f, std::size_t l3, const rss_hash_types& types,
                              std::array<std::byte, rss_max_input>& in, rss_hash_type& type) noexcept {
    const std::byte* p = f.data() + l3;
    namespace field = wire::ipv4_field;
    const std::uint8_t vihl = nvgre::detail::load_u8(p + field::version_ihl);
    const std::size_t hlen = std::size_t{vihl & 0x0fu} * 4;
    if ((vihl >> 4) != 4 || hlen < wire::ipv4_min_header_len || hlen > f.size() - l3) return 0;
    for (std::size_t i = 0; i < 8; ++i) in[i] = p[field::source + i];  // source, destination
    type = rss_hash_type::ipv4;
    const std::uint8_t proto = nvgre::detail::load_u8(p + field::protocol);
    const bool fragment = (nvgre::detail::load_be16(p + field::flags_fragment) & 0x3fffu) != 0;  // MF or an offset
    const bool l4 = (proto == wire::ip_protocol::tcp && types.tcp_ipv4) || (proto == wire::ip_protocol::udp && types.udp_ipv4);
    if (l4 && !fragment && f.size() - l3 >= hlen + 4) {
        for (std::size_t i = 0; i < 4; ++i) in[8 + i] = p[hlen + i];
        type = proto == wire::ip_protocol::tcp ? rss_hash_type::tcp_ipv4 : rss_hash_type::udp_ipv4;
        return 12;
    }
    return types.ipv4 ? 8 : 0;
}

/// The same for an IPv6 header at `l3` (40 bytes there, checked by the caller): extension
/// headers are walked (at most wire::ipv6_max_extension_headers) to find TCP/UDP ports.
inline std::size_t ipv6_input(std::span<const std::byte> f, std::size_t l3, const rss_hash_types& types,
                              std::array<std::byte, rss_max_input>& in, rss_hash_type& type) noexcept {
    const std::byte* p = f.data();
    namespace field = wire::ipv6_field;
    if ((nvgre::detail::load_u8(p + l3 + field::version_class_label) >> 4) != 6) return 0;
    for (std::size_t i = 0; i < 32; ++i) in[i] = p[l3 + field::source + i];  // source, destination
    type = rss_hash_type::ipv6;
    std::uint8_t nh = nvgre::detail::load_u8(p + l3 + field::next_header);
    std::size_t off = l3 + wire::ipv6_header_len;
    bool fragmented = false;  // any fragment header but an atomic one: all fragments of a datagram get its 2-tuple
    for (std::size_t count = 0; count < wire::ipv6_max_extension_headers; ++count) {
        const bool extension = nh == wire::ip_protocol::hop_by_hop || nh == wire::ip_protocol::ipv6_routing ||
                               nh == wire::ip_protocol::ipv6_destination_options || nh == wire::ip_protocol::ipv6_fragment;
        if (!extension || f.size() - off < 8) break;
        const std::size_t len = nh == wire::ip_protocol::ipv6_fragment
                                    ? wire::ipv6_fragment_header_len
                                    : (std::size_t{nvgre::detail::load_u8(p + off + wire::ipv6_extension_field::length)} + 1) * 8;
        if (nh == wire::ip_protocol::ipv6_fragment)
            fragmented = nvgre::detail::load_be16(p + off + wire::ipv6_extension_field::fragment_offset_flags) != 0;
        nh = nvgre::detail::load_u8(p + off + wire::ipv6_extension_field::next_header);
        if (f.size() - off < len) return types.ipv6 ? 32 : 0;
        off += len;
    }
    const bool l4 = (nh == wire::ip_protocol::tcp && types.tcp_ipv6) || (nh == wire::ip_protocol::udp && types.udp_ipv6);
    if (l4 && !fragmented && f.size() - off >= 4) {
        for (std::size_t i = 0; i < 4; ++i) in[32 + i] = p[off + i];
        type = nh == wire::ip_protocol::tcp ? rss_hash_type::tcp_ipv6 : rss_hash_type::udp_ipv6;
        return 36;
    }
    return types.ipv6 ? 32 : 0;
}

}  // namespace detail::rss_steps

/// The RSS hash of an Ethernet frame (an inner frame, or any untagged or tagged frame): the
/// 4-tuple for TCP (and UDP when enabled) that is not a fragment, else the 2-tuple; type
/// `none` and hash 0 for anything else or a header cut short. Never reads outside `frame`.
[[nodiscard]] inline rss_hash_result rss_hash_of(const toeplitz_hasher& hasher, std::span<const std::byte> frame,
                                                 const rss_hash_types& types = {}) noexcept {
    rss_hash_result r;
    if (frame.size() < wire::ethernet_header_len) return r;
    std::uint16_t ether_type = nvgre::detail::load_be16(frame.data() + wire::ethernet_field::ether_type);
    std::size_t l3 = wire::ethernet_header_len;
    for (std::size_t tags = 0; tags < wire::max_vlan_tags && wire::is_vlan_tpid(ether_type) && frame.size() - l3 >= 4; ++tags) {
        ether_type = nvgre::detail::load_be16(frame.data() + wire::ethernet_field::ether_type_after(tags + 1));
        l3 += wire::vlan_tag_len;
    }
    std::array<std::byte, rss_max_input> input{};
    std::size_t n = 0;
    rss_hash_type type = rss_hash_type::none;
    if (ether_type == wire::ethertype::ipv4 && frame.size() - l3 >= 20) n = detail::rss_steps::ipv4_input(frame, l3, types, input, type);
    else if (ether_type == wire::ethertype::ipv6 && frame.size() - l3 >= wire::ipv6_header_len)
        n = detail::rss_steps::ipv6_input(frame, l3, types, input, type);
    if (n == 0) return r;
    r.hash = hasher.hash(std::span<const std::byte>(input).first(n));
    r.type = type;
    return r;
}

/// An NVGRE FlowID from an RSS hash, spread evenly over 1..255 (0 stays 0: nothing hashed),
/// as flow_id_of() does with its own hash.
[[nodiscard]] constexpr nvgre::flow_id flow_id_from_rss(std::uint32_t hash) noexcept {
    const auto reduced = static_cast<std::uint8_t>(1u + ((std::uint64_t{hash} * 255u) >> 32));
    return nvgre::flow_id{hash != 0 ? reduced : std::uint8_t{0}};
}

}  // namespace nvgre::datapath
