/// @file datapath/flow_hash.hpp
/// @brief The NVGRE FlowID (RFC 7637 section 3.2; docs/hnv-rules.md, wire rule 4): per-flow entropy
/// taken from the inner frame, so that ECMP in the underlay spreads tenant flows over its paths
/// while keeping each flow on one path (no reordering). Also the 32-bit hash it comes from,
/// which fills the outer IPv6 flow label (RFC 6438).
///
/// What is hashed (the inner frame is an Ethernet frame without FCS; up to two VLAN tags are
/// skipped, although NVGRE inner frames carry none):
/// - IPv4 / IPv6 carrying TCP or UDP, unfragmented or the first fragment: the 5-tuple
///   (addresses, protocol, ports);
/// - IPv4 / IPv6 non-first fragments, other protocols, or a transport header cut short: the
///   addresses and the protocol (so a non-first fragment lands on the flow of its addresses);
/// - any other frame (ARP, non-IP, an IP header that does not validate): the MAC addresses
///   and the EtherType.
/// Only a frame shorter than an Ethernet header (14 bytes) has nothing to hash: hash 0,
/// FlowID 0. Every read is bounded by the span (and, for ports, by the IP length fields): any
/// bytes are safe input.
///
/// The hash is **not symmetric**: the two directions of a connection usually get different
/// FlowIDs. NVGRE needs no symmetry (each direction is its own underlay flow) and ordering the
/// endpoints would cost two compares per packet.
///
/// The function is a few 64-bit multiplies over 2 (IPv4) or 5 (IPv6) words read as
/// little-endian, so the results are the same on every host; no tables. It is a mixing hash for
/// load spreading, not a keyed PRF: the seed lets hosts (or layers of a fabric) decorrelate
/// their choices (hash polarization), not resist an adversary who knows it.
#pragma once

#include "nvgre/detail/bytes.hpp"
#include "nvgre/vsid.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"

#include <bit>
#include <boost/endian/conversion.hpp>
#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::datapath {

/// The seed flow_hash32() and flow_id_of() use unless given another.
inline constexpr std::uint64_t default_flow_hash_seed = 0x6e76677265f10a5dULL;

}  // namespace nvgre::datapath

// Helpers live in nvgre::detail: a nvgre::datapath::detail would shadow nvgre::detail.
namespace nvgre::detail {

/// What one pass over the start of an inner frame found: the hash and what encap needs besides
/// (the IP TOS/traffic class to copy, offsets for offload metadata, whether a tag is present).
struct inner_dissection {
    std::uint32_t hash{0};       ///< flow hash; 0 only when the frame is shorter than 14 bytes
    std::uint16_t l3_offset{0};  ///< offset of a validated IPv4/IPv6 header, 0 if none
    std::uint16_t l4_offset{0};  ///< offset of the TCP/UDP header whose ports were hashed, 0 if none
    std::uint8_t tos{0};         ///< IPv4 TOS / IPv6 traffic class (DSCP + ECN), 0 if not IP
    bool tagged{false};          ///< the EtherType at offset 12 is a VLAN TPID
};

// Odd 64-bit constants (from SplitMix64 / Murmur3 / golden ratio) for the multiply-mix.
inline constexpr std::uint64_t flow_k0 = 0x9e3779b97f4a7c15ULL;
inline constexpr std::uint64_t flow_k1 = 0xbf58476d1ce4e5b9ULL;
inline constexpr std::uint64_t flow_k2 = 0x94d049bb133111ebULL;
inline constexpr std::uint64_t flow_k3 = 0xff51afd7ed558ccdULL;
inline constexpr std::uint64_t flow_k4 = 0xc4ceb9fe1a85ec53ULL;

// Kinds of tuple, mixed into the last word so that, e.g., an ARP frame and an IPv4 packet whose
// words happen to coincide still hash apart.
inline constexpr std::uint64_t flow_tag_l2 = 1ULL << 56;
inline constexpr std::uint64_t flow_tag_ipv4 = 2ULL << 56;
inline constexpr std::uint64_t flow_tag_ipv6 = 3ULL << 56;

inline std::uint64_t flow_load64(const std::byte* p) noexcept { return boost::endian::load_little_u64(uchar(p)); }
inline std::uint32_t flow_load32(const std::byte* p) noexcept { return boost::endian::load_little_u32(uchar(p)); }

/// Final avalanche: every input bit reaches the top 32 bits (which are returned). 0 is
/// remapped to 1 so that 0 keeps meaning "nothing hashed".
constexpr std::uint32_t flow_finish(std::uint64_t h) noexcept {
    h ^= h >> 32;
    h *= flow_k3;
    h ^= h >> 29;
    h *= flow_k4;
    const auto r = static_cast<std::uint32_t>(h >> 32);
    return r != 0 ? r : 1u;
}

/// Two words: the multiplies are independent (they issue in parallel); the rotation brings the
/// well-mixed high half of the second product down before the finish.
constexpr std::uint32_t flow_mix2(std::uint64_t w0, std::uint64_t w1, std::uint64_t seed) noexcept {
    const std::uint64_t a = (w0 ^ seed) * flow_k0;
    const std::uint64_t b = (w1 ^ std::rotl(seed, 32)) * flow_k1;
    return flow_finish(a ^ std::rotl(b, 31));
}

/// Five words (IPv6: two addresses and the ports/protocol word).
constexpr std::uint32_t flow_mix5(std::uint64_t s0, std::uint64_t s1, std::uint64_t d0, std::uint64_t d1,
                                  std::uint64_t w, std::uint64_t seed) noexcept {
    const std::uint64_t a = (s0 ^ seed) * flow_k0;
    const std::uint64_t b = (s1 ^ std::rotl(seed, 13)) * flow_k1;
    const std::uint64_t c = (d0 ^ std::rotl(seed, 27)) * flow_k2;
    const std::uint64_t d = (d1 ^ std::rotl(seed, 41)) * flow_k3;
    const std::uint64_t e = (w ^ std::rotl(seed, 53)) * flow_k4;
    return flow_finish(a ^ std::rotl(b, 13) ^ std::rotl(c, 26) ^ std::rotl(d, 39) ^ std::rotl(e, 52));
}

/// The IPv4 part of dissect_inner. Precondition: `l3 + 20 <= n`.
template <bool Hash>
inline bool flow_dissect_ipv4(const std::byte* p, std::size_t n, std::size_t l3, std::uint64_t seed,
                              inner_dissection& d) noexcept {
    namespace field = wire::ipv4_field;
    const std::uint8_t vihl = load_u8(p + l3 + field::version_ihl);
    const std::size_t hlen = std::size_t{vihl & 0x0fu} * 4;
    if ((vihl >> 4) != 4 || hlen < wire::ipv4_min_header_len || hlen > n - l3) [[unlikely]]
        return false;
    d.tos = load_u8(p + l3 + field::tos);
    d.l3_offset = static_cast<std::uint16_t>(l3);
    const std::uint8_t proto = load_u8(p + l3 + field::protocol);
    const std::uint64_t addresses = flow_load64(p + l3 + field::source);  // and the destination
    std::uint64_t last = flow_tag_ipv4 | std::uint64_t{proto} << 32;
    // Ports only inside the datagram (total length) and the capture, and only when this packet
    // is not a non-first fragment (whose payload does not start with them).
    const std::size_t total = load_be16(p + l3 + field::total_len);
    const std::size_t ip_end = total < n - l3 ? l3 + total : n;
    const std::size_t l4 = l3 + hlen;
    const bool first = (load_be16(p + l3 + field::flags_fragment) & 0x1fffu) == 0;
    if ((proto == wire::ip_protocol::tcp || proto == wire::ip_protocol::udp) && first && l4 + 4 <= ip_end) [[likely]] {
        last |= flow_load32(p + l4);
        d.l4_offset = static_cast<std::uint16_t>(l4);
    }
    if constexpr (Hash) d.hash = flow_mix2(addresses, last, seed);
    return true;
}

/// The IPv6 part of dissect_inner: walks at most 8 extension headers (as
/// wire::walk_extension_headers does) inside the payload length and the capture.
/// Precondition: `l3 + 40 <= n`.
template <bool Hash>
inline bool flow_dissect_ipv6(const std::byte* p, std::size_t n, std::size_t l3, std::uint64_t seed,
                              inner_dissection& d) noexcept {
    namespace field = wire::ipv6_field;
    const std::uint32_t word0 = load_be32(p + l3 + field::version_class_label);
    if ((word0 >> 28) != 6) [[unlikely]]
        return false;
    d.tos = static_cast<std::uint8_t>(word0 >> 20);
    d.l3_offset = static_cast<std::uint16_t>(l3);
    const std::size_t payload = load_be16(p + l3 + field::payload_len);
    const std::size_t ip_end = payload < n - l3 - wire::ipv6_header_len ? l3 + wire::ipv6_header_len + payload : n;
    std::uint8_t nh = load_u8(p + l3 + field::next_header);
    std::size_t off = l3 + wire::ipv6_header_len;
    bool first = true;
    bool complete = true;  // the chain was walked to its upper protocol
    for (std::size_t count = 0; complete; ++count) {
        if (nh == wire::ip_protocol::tcp || nh == wire::ip_protocol::udp) [[likely]]
            break;
        if (nh != wire::ip_protocol::hop_by_hop && nh != wire::ip_protocol::ipv6_routing &&
            nh != wire::ip_protocol::ipv6_destination_options && nh != wire::ip_protocol::ah &&
            nh != wire::ip_protocol::ipv6_fragment)
            break;  // another upper protocol: addresses + protocol
        if (count == wire::ipv6_max_extension_headers) {
            complete = false;
            break;
        }
        if (nh == wire::ip_protocol::ipv6_fragment) {
            if (ip_end - off < wire::ipv6_fragment_header_len) {
                complete = false;
                break;
            }
            first = (load_be16(p + off + wire::ipv6_extension_field::fragment_offset_flags) >> 3) == 0;
            nh = load_u8(p + off + wire::ipv6_extension_field::next_header);
            off += wire::ipv6_fragment_header_len;
            break;
        }
        if (ip_end - off < 2) {
            complete = false;
            break;
        }
        const std::size_t units = load_u8(p + off + wire::ipv6_extension_field::length);
        const std::size_t len = nh == wire::ip_protocol::ah ? (units + 2) * 4 : (units + 1) * 8;
        if (ip_end - off < len) {
            complete = false;
            break;
        }
        nh = load_u8(p + off + wire::ipv6_extension_field::next_header);
        off += len;
    }
    std::uint64_t last = flow_tag_ipv6 | std::uint64_t{nh} << 32;
    if (complete && first && (nh == wire::ip_protocol::tcp || nh == wire::ip_protocol::udp) && off + 4 <= ip_end) [[likely]] {
        last |= flow_load32(p + off);
        d.l4_offset = static_cast<std::uint16_t>(off);
    }
    if constexpr (Hash)
        d.hash = flow_mix5(flow_load64(p + l3 + field::source), flow_load64(p + l3 + field::source + 8),
                           flow_load64(p + l3 + field::destination), flow_load64(p + l3 + field::destination + 8), last, seed);
    return true;
}

/// One pass over the start of `frame`: the flow hash (see the file comment) and the fields encap
/// copies, written to `d` (which must be value-initialised). Never reads outside `frame`.
/// O(1) except IPv6 extension headers (at most 8).
///
/// An out-parameter on purpose: returned by value, this 12-byte struct is assembled in registers
/// through the stack with mismatched store/load widths by GCC, and the store-forwarding stalls
/// cost more than the hash itself (flow_id_of measured 7.7 ns a packet that way, 5.6 ns now).
/// `Hash` false: everything but the hash (left 0), for encap with a FlowID given.
template <bool Hash>
void dissect_inner_general(std::span<const std::byte> frame, std::uint64_t seed, inner_dissection& d) noexcept;

template <bool Hash = true>
inline void dissect_inner(std::span<const std::byte> frame, std::uint64_t seed, inner_dissection& d) noexcept {
    const std::byte* p = frame.data();
    const std::size_t n = frame.size();
    // The common frame first: untagged IPv4 without options, long enough for the ports. One
    // compare covers the EtherType, version and IHL; what follows is flow_dissect_ipv4 with
    // every test that cannot fail here left out (same results, a third of the instructions).
    namespace field = wire::ipv4_field;
    constexpr std::size_t l3 = wire::ethernet_header_len;
    constexpr std::size_t l4 = l3 + wire::ipv4_min_header_len;
    constexpr std::size_t ports_len = 4;
    if (n >= l4 + ports_len && (load_be32(p + wire::ethernet_field::ether_type) >> 8) == 0x080045u) [[likely]] {
        const std::uint8_t proto = load_u8(p + l3 + field::protocol);
        // Ports when TCP/UDP, not a non-first fragment, and inside the datagram: the total
        // length reaches the ports' end (so does the capture: n >= l4 + ports_len).
        const bool ports = (proto == wire::ip_protocol::tcp || proto == wire::ip_protocol::udp) &&
                           (load_be16(p + l3 + field::flags_fragment) & 0x1fffu) == 0 &&
                           load_be16(p + l3 + field::total_len) >= wire::ipv4_min_header_len + ports_len;
        d.tos = load_u8(p + l3 + field::tos);
        d.l3_offset = static_cast<std::uint16_t>(l3);
        d.l4_offset = static_cast<std::uint16_t>(ports ? l4 : 0);
        if constexpr (Hash) {
            const std::uint64_t last = flow_tag_ipv4 | std::uint64_t{proto} << 32 | (ports ? flow_load32(p + l4) : 0u);
            d.hash = flow_mix2(flow_load64(p + l3 + field::source), last, seed);
        }
        return;
    }
    dissect_inner_general<Hash>(frame, seed, d);
}

/// dissect_inner for every other frame (kept out of line: the fast path above is inlined into
/// encap, and this one's register pressure would spill into it).
template <bool Hash>
[[gnu::noinline]] void dissect_inner_general(std::span<const std::byte> frame, std::uint64_t seed,
                                             inner_dissection& d) noexcept {
    const std::byte* p = frame.data();
    const std::size_t n = frame.size();
    if (n < wire::ethernet_header_len) [[unlikely]]
        return;
    std::uint16_t type = load_be16(p + wire::ethernet_field::ether_type);
    std::size_t l3 = wire::ethernet_header_len;
    if (wire::is_vlan_tpid(type)) [[unlikely]] {
        d.tagged = true;
        for (std::size_t tags = 0; tags < wire::max_vlan_tags && wire::is_vlan_tpid(type) && l3 + 4 <= n; ++tags) {
            type = load_be16(p + wire::ethernet_field::ether_type_after(tags + 1));
            l3 += wire::vlan_tag_len;
        }
    }
    if (type == wire::ethertype::ipv4 && n - l3 >= 20) [[likely]] {
        if (flow_dissect_ipv4<Hash>(p, n, l3, seed, d)) return;
    } else if (type == wire::ethertype::ipv6 && n - l3 >= wire::ipv6_header_len) {
        if (flow_dissect_ipv6<Hash>(p, n, l3, seed, d)) return;
    }
    // Not IP (or an IP header that does not validate): destination + source MAC, EtherType.
    if constexpr (Hash) {
        const std::uint64_t w0 = flow_load64(p);
        const std::uint64_t w1 = flow_tag_l2 | std::uint64_t{type} << 32 | flow_load32(p + 8);
        d.hash = flow_mix2(w0, w1, seed);
    }
}

/// The flow hash alone (dissect_inner without the fields encap needs).
inline std::uint32_t flow_hash_of(std::span<const std::byte> frame, std::uint64_t seed) noexcept {
    inner_dissection d;
    dissect_inner(frame, seed, d);
    return d.hash;
}

/// FlowID from a 32-bit flow hash: 0 stays 0 (nothing hashed); any other hash maps to 1..255
/// by multiply-shift range reduction (Lemire), `1 + ((hash * 255) >> 32)`: each FlowID gets
/// 2^32 / 255 of the hash values, to within one.
constexpr std::uint8_t flow_id_from_hash(std::uint32_t hash) noexcept {
    const auto reduced = static_cast<std::uint8_t>(1u + ((std::uint64_t{hash} * 255u) >> 32));
    return hash != 0 ? reduced : std::uint8_t{0};
}

}  // namespace nvgre::detail

namespace nvgre::datapath {

/// The 32-bit flow hash of an inner Ethernet frame (see the file comment for what is hashed).
/// 0 only when the frame is shorter than an Ethernet header (a hash that lands on 0 becomes 1).
/// Same bytes and seed, same hash, on every host. Never reads outside `inner_frame`.
/// O(1) (IPv6: at most 8 extension headers walked); a few ns.
[[nodiscard]] inline std::uint32_t flow_hash32(std::span<const std::byte> inner_frame,
                                               std::uint64_t seed = default_flow_hash_seed) noexcept {
    return nvgre::detail::flow_hash_of(inner_frame, seed);
}

/// The NVGRE FlowID of an inner Ethernet frame (RFC 7637 section 3.2, wire rule 4): 0 only when
/// there is nothing to hash (a frame shorter than 14 bytes). Otherwise
/// `1 + ((flow_hash32 * 255) >> 32)`, spread evenly over 1..255: the reduction maps onto 255
/// values and adds one, so no hashable frame lands on 0 (rather than remapping 0 to some value,
/// which would give that value twice the share). Same contract as flow_hash32().
[[nodiscard]] inline nvgre::flow_id flow_id_of(std::span<const std::byte> inner_frame,
                                              std::uint64_t seed = default_flow_hash_seed) noexcept {
    return nvgre::flow_id{nvgre::detail::flow_id_from_hash(flow_hash32(inner_frame, seed))};
}

}  // namespace nvgre::datapath
