/// @file datapath/rewrite.hpp
/// @brief IP rewrite, HNV's "NAT" rule (docs/hnv-rules.md, egress rule 6 and ingress rule 4): the host
/// swaps customer addresses (CA) for provider addresses (PA) in the IP header instead of
/// encapsulating, one PA per VM, so the packet keeps its shape and NIC offloads keep working.
///
/// - Egress (rewrite_egress): a VM's packet to a remote nat VM: source CA -> the sender's nat PA,
///   destination CA -> the destination's nat PA; Ethernet becomes host NIC MAC (the source PA's)
///   -> next-hop MAC, with the source PA's 802.1Q tag when it has one. Both records must be nat
///   (else nat-mismatch), and the packet must be addressed to the destination VM's own CA: a
///   packet routed through a nat VM as next hop would lose its destination (nat-unsupported).
/// - Ingress (rewrite_destination + rewrite_ingress): a non-NVGRE IP packet to a nat PA of this
///   host: destination PA -> CA, source PA -> CA through the nat records. Anti-spoofing: the
///   source PA must be the nat PA of a remote VM (else spoofed-source) of the destination's
///   routing domain (else cross-domain). The VM receives what its peer sent: destination MAC =
///   its own, source MAC = the sender's record MAC (the router MAC when the subnets differ).
///
/// Checksums are patched incrementally (RFC 1624 eqn. 3), never summed over the payload:
/// - the IPv4 header checksum;
/// - TCP, UDP, UDP-Lite and DCCP through the pseudo-header, IPv4 and IPv6; ICMPv6 likewise.
///   An absent IPv4 UDP checksum (0) stays 0. A zero IPv6 UDP checksum also stays 0: it is
///   invalid (RFC 8200 section 8.1) or RFC 6936 zero-checksum mode, the receiver judges it and
///   the rewrite does not invent a checksum the sender did not compute;
/// - ICMPv4 checksums cover no address: echo and other informational messages are untouched;
/// - ICMP/ICMPv6 errors quote the offending packet: its addresses are translated too (as RFC 5508
///   asks of a NAT; quoted source/destination = the outer destination/source, either way round),
///   the quoted IPv4 header checksum and the quoted transport checksum (when its field lies
///   inside the quote, as Linux's NAT does) are patched, and the outer ICMP checksum with them;
/// - a frame whose pending L4 checksum is left to the NIC (frame::offload.checksum_partial at
///   the transport checksum field) holds the un-complemented pseudo-header sum there: it is
///   patched as that sum.
///
/// Fragments: a non-first IPv4 fragment (offset != 0) or IPv6 fragment has no transport header:
/// only its addresses (and the IPv4 header checksum) change. The transport checksum in a first
/// fragment covers the whole datagram; the incremental patch needs only the change, so it is
/// exact all the same.
///
/// What is dropped instead of rewritten (the frame is left unchanged):
/// - a malformed IP header or extension-header chain: its wire reason (truncated, bad-version,
///   bad-header-length, bad-length, bad-extension-header);
/// - a transport header too short to hold its checksum field (also a first fragment that tiny,
///   RFC 1858): truncated;
/// - an ICMP/ICMPv6 error whose quote does not hold the whole quoted IP header (20 bytes or
///   IHL * 4 for IPv4, 40 for IPv6): truncated; a quote of another IP version: bad-version;
///   quoted addresses other than the two translated ones: nat-unsupported (a NAT drops an error
///   whose embedded packet matches no mapping, RFC 5508);
/// - what no address swap can keep intact: AH (it authenticates the addresses), an IPv6
///   Routing header with segments left (the pseudo-header holds its final destination, not the
///   translated one), extension headers after an IPv6 Fragment header (the transport checksum
///   is out of reach): nat-unsupported.
/// IPv4 options are not interpreted (a source-route option keeps its CA hops).
/// Never allocates, never throws.
#pragma once

#include "nvgre/checksum/incremental.hpp"
#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/mtu.hpp"
#include "nvgre/datapath/offload.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/policy/snapshot.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/icmp.hpp"
#include "nvgre/wire/icmpv6.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace nvgre::datapath {

/// "No such field" for the offsets of this header (e.g. no pending partial checksum).
inline constexpr std::size_t rewrite_no_field = ~std::size_t{0};

namespace detail::rewrite_steps {

inline constexpr std::size_t none = rewrite_no_field;

/// Transport protocols whose checksum covers the pseudo-header but that wire/ip_protocol.hpp
/// does not name (IANA protocol numbers).
inline constexpr std::uint8_t ip_protocol_dccp = 33;      ///< RFC 4340 section 9: checksum at offset 6
inline constexpr std::uint8_t ip_protocol_udplite = 136;  ///< RFC 3828 section 3.1: checksum at offset 6

/// How a checksum field follows a change of the words it covers.
enum class sum_kind : std::uint8_t {
    none,     ///< no field to patch
    plain,    ///< a ones'-complement checksum
    udp,      ///< UDP: as plain, but an absent checksum (0) stays 0 and a result of 0 is sent as 0xffff
    partial,  ///< CHECKSUM_PARTIAL: the field holds the un-complemented pseudo-header sum for the NIC
};

/// Where an IP packet's rewrite writes, found once before anything is written. Offsets are
/// from the start of the IP header.
struct plan {
    std::size_t ip_len{0};           ///< bytes of the IP packet (bytes after it are padding)
    std::size_t addr_len{4};         ///< 4 (IPv4) or 16 (IPv6)
    std::size_t source_at{12};       ///< the source address; the destination follows it
    std::size_t ip_checksum{none};   ///< the IPv4 header checksum
    std::size_t l4_offset{0};        ///< the TCP/UDP header (offload metadata), 0 if none
    std::size_t l4_checksum{none};   ///< the transport (or ICMP) checksum field
    sum_kind l4_kind{sum_kind::none};
    bool l4_covers_addresses{false};  ///< it covers the pseudo-header (ICMPv4 does not)
    // An ICMP/ICMPv6 error's quoted packet.
    std::size_t quote_source_at{none};   ///< its source address; its destination follows
    bool quote_source_is_destination{true};   ///< quoted source = the outer destination (else the outer source)
    bool quote_destination_is_source{true};   ///< quoted destination = the outer source (else the outer destination)
    std::size_t quote_ip_checksum{none};  ///< quoted IPv4 header checksum
    std::size_t quote_l4_checksum{none};  ///< quoted transport checksum, when the quote holds it
    sum_kind quote_l4_kind{sum_kind::none};
};

/// The checksum field of `protocol`'s header when that checksum covers the pseudo-header:
/// its offset in the transport header, and its kind in `kind`; none otherwise.
constexpr std::size_t pseudo_checksum_at(std::uint8_t protocol, bool v6, sum_kind& kind) noexcept {
    kind = sum_kind::plain;
    switch (protocol) {
        case wire::ip_protocol::tcp: return 16;
        case wire::ip_protocol::udp: kind = sum_kind::udp; return 6;
        case ip_protocol_udplite:
        case ip_protocol_dccp: return 6;
        case wire::ip_protocol::icmpv6:
            if (v6) return 2;
            break;
        default: break;
    }
    kind = sum_kind::none;
    return none;
}

/// True for the IPv6 next-header values walk_extension_headers() walks as extension headers.
constexpr bool is_extension_header(std::uint8_t nh) noexcept {
    return nh == wire::ip_protocol::hop_by_hop || nh == wire::ip_protocol::ipv6_routing ||
           nh == wire::ip_protocol::ipv6_fragment || nh == wire::ip_protocol::ipv6_destination_options ||
           nh == wire::ip_protocol::ah;
}

/// The bytes of the IP packet of plan `p` that lie in `packet`, the span it was planned over:
/// all of them, or fewer when the packet continues in a chain (its headers lie in the span).
inline std::size_t in_span(std::span<const std::byte> packet, const plan& p) noexcept {
    return std::min(p.ip_len, packet.size());
}

/// Finds the quoted packet's fields of an ICMP (v6: ICMPv6) error whose quote starts at
/// `quote_at` of `packet` (the outer IP packet, whose addresses the quote is matched against).
inline drop_reason plan_quote(std::span<const std::byte> packet, std::size_t quote_at, bool v6, plan& p) noexcept {
    const std::span<const std::byte> q = packet.subspan(quote_at, in_span(packet, p) - quote_at);
    namespace v4 = wire::ipv4_field;
    namespace v6f = wire::ipv6_field;
    std::size_t header_len = wire::ipv6_header_len;
    std::size_t source_at = v6f::source;
    std::uint8_t protocol = 0;
    bool first_fragment = true;
    if (v6) {
        if (q.size() < wire::ipv6_header_len) return drop_reason::truncated;
        if ((nvgre::detail::load_u8(q.data() + v6f::version_class_label) >> 4) != 6) return drop_reason::bad_version;
        protocol = nvgre::detail::load_u8(q.data() + v6f::next_header);
    } else {
        if (q.size() < wire::ipv4_min_header_len) return drop_reason::truncated;
        const std::uint8_t version_ihl = nvgre::detail::load_u8(q.data() + v4::version_ihl);
        if ((version_ihl >> 4) != 4) return drop_reason::bad_version;
        header_len = std::size_t{version_ihl & 0x0fu} * 4;
        if (header_len < wire::ipv4_min_header_len) return drop_reason::bad_header_length;
        if (header_len > q.size()) return drop_reason::truncated;
        source_at = v4::source;
        protocol = nvgre::detail::load_u8(q.data() + v4::protocol);
        first_fragment = (nvgre::detail::load_be16(q.data() + v4::flags_fragment) & 0x1fffu) == 0;
        p.quote_ip_checksum = quote_at + v4::checksum;
    }
    // The quote is the packet the peer sent, seen from the other side (RFC 5508): its source
    // is the outer destination and its destination the outer source. Either way round is
    // accepted; an address that is neither has no mapping.
    const std::size_t n = p.addr_len;
    const std::byte* outer_source = packet.data() + p.source_at;
    const std::byte* outer_destination = outer_source + n;
    const std::byte* quoted_source = q.data() + source_at;
    const std::byte* quoted_destination = quoted_source + n;
    if (std::memcmp(quoted_source, outer_destination, n) == 0) p.quote_source_is_destination = true;
    else if (std::memcmp(quoted_source, outer_source, n) == 0) p.quote_source_is_destination = false;
    else return drop_reason::nat_unsupported;
    if (std::memcmp(quoted_destination, outer_source, n) == 0) p.quote_destination_is_source = true;
    else if (std::memcmp(quoted_destination, outer_destination, n) == 0) p.quote_destination_is_source = false;
    else return drop_reason::nat_unsupported;
    p.quote_source_at = quote_at + source_at;

    // The quoted transport checksum, if the quote reaches it: not after a quoted non-first
    // fragment (no transport header) nor after quoted IPv6 extension headers (a quote is cut
    // short, so its chain cannot be walked as a whole packet's; their next header is no
    // transport protocol below and the field is left as it is).
    if (!first_fragment) return drop_reason::none;
    sum_kind kind{};
    const std::size_t at = pseudo_checksum_at(protocol, v6, kind);
    if (at != none && header_len + at + 2 <= q.size()) {
        p.quote_l4_checksum = quote_at + header_len + at;
        p.quote_l4_kind = kind;
    }
    return drop_reason::none;
}

/// Finds the transport fields of the packet whose transport header (protocol `protocol`)
/// starts at `l4_at`; `partial_at`: see make_plan.
inline drop_reason plan_transport(std::span<const std::byte> packet, std::size_t l4_at, std::uint8_t protocol, bool v6,
                                  std::size_t partial_at, plan& p) noexcept {
    const std::size_t l4_len = in_span(packet, p) - l4_at;  // the transport header lies in the span
    if (!v6 && protocol == wire::ip_protocol::icmp) {
        // ICMPv4 has no pseudo-header: only an error's quote changes what its checksum covers.
        if (l4_len == 0 || !wire::is_icmp_error(nvgre::detail::load_u8(packet.data() + l4_at + wire::icmp_field::type)))
            return drop_reason::none;
        if (l4_len < wire::icmp_header_len) return drop_reason::truncated;
        p.l4_checksum = l4_at + wire::icmp_field::checksum;
        p.l4_kind = sum_kind::plain;
        p.l4_covers_addresses = false;
        return plan_quote(packet, l4_at + wire::icmp_header_len, false, p);
    }
    sum_kind kind{};
    const std::size_t at = pseudo_checksum_at(protocol, v6, kind);
    if (at == none) return drop_reason::none;  // no checksum over the addresses (ESP, SCTP, GRE, ...)
    if (l4_len < at + 2) return drop_reason::truncated;
    p.l4_checksum = l4_at + at;
    p.l4_kind = kind;
    p.l4_covers_addresses = true;
    if (protocol == wire::ip_protocol::tcp || protocol == wire::ip_protocol::udp) {
        p.l4_offset = l4_at;
        // Checksum offload (the TCP/UDP checksums a NIC completes): the field holds the sum.
        if (p.l4_checksum == partial_at) p.l4_kind = sum_kind::partial;
    }
    if (protocol == wire::ip_protocol::icmpv6 && wire::is_icmpv6_error(nvgre::detail::load_u8(packet.data() + l4_at))) {
        if (l4_len < wire::icmpv6_echo_header_len) return drop_reason::truncated;  // type, code, checksum, 4 bytes
        return plan_quote(packet, l4_at + wire::icmpv6_echo_header_len, true, p);
    }
    return drop_reason::none;
}

/// Validates the IP packet at the start of `packet` (padding may follow) for a rewrite to
/// addresses of version `v` and finds every field the rewrite changes. `partial_at`: the offset
/// (from the IP header) of a checksum field that holds a pending partial sum (CHECKSUM_PARTIAL),
/// or none. `continued`: the bytes of the packet in a chain after the span (the headers lie in
/// the span). drop_reason::none on success. O(headers); reads only inside the span.
inline drop_reason make_plan(std::span<const std::byte> packet, ip_version v, std::size_t partial_at, plan& p,
                             std::size_t continued = 0) noexcept {
    p = plan{};
    if (packet.empty()) return drop_reason::truncated;
    const bool v6 = (nvgre::detail::load_u8(packet.data()) >> 4) == 6;
    if (v6 != (v == ip_version::v6)) {
        // The policy keeps a nat record's CA and PA of one version; a frame of the other
        // version than its addresses is no packet of that record.
        const std::uint8_t version = static_cast<std::uint8_t>(nvgre::detail::load_u8(packet.data()) >> 4);
        return version == 4 || version == 6 ? drop_reason::nat_unsupported : drop_reason::bad_version;
    }
    if (!v6) {
        auto ip = wire::ipv4_view::checked(packet, continued);
        if (!ip) return drop_reason_of(ip.error().code);
        p.ip_len = ip->total_len();
        p.ip_checksum = 10;
        if (ip->protocol() == wire::ip_protocol::ah) return drop_reason::nat_unsupported;
        if (ip->fragment_offset_units() != 0) return drop_reason::none;  // no transport header
        return plan_transport(packet, ip->header_len(), ip->protocol(), false, partial_at, p);
    }
    auto ip = wire::ipv6_view::checked(packet, continued);
    if (!ip) return drop_reason_of(ip.error().code);
    p.ip_len = wire::ipv6_header_len + ip->payload_len();
    p.addr_len = 16;
    p.source_at = 8;
    auto walk = wire::walk_extension_headers(*ip);
    if (!walk) return drop_reason_of(walk.error().code);
    // The walk checked every header it passed against the payload: walk them again for AH and
    // Routing headers with segments left (a Routing header is at least 8 bytes long).
    std::uint8_t nh = ip->next_header();
    std::size_t off = wire::ipv6_header_len;
    while (off < walk->upper_offset && nh != wire::ip_protocol::ipv6_fragment) {
        if (nh == wire::ip_protocol::ah) return drop_reason::nat_unsupported;
        if (nh == wire::ip_protocol::ipv6_routing &&
            nvgre::detail::load_u8(packet.data() + off + wire::ipv6_extension_field::routing_segments_left) != 0)
            return drop_reason::nat_unsupported;
        const std::size_t n = nvgre::detail::load_u8(packet.data() + off + wire::ipv6_extension_field::length);
        const std::size_t len = nh == wire::ip_protocol::ah ? (n + 2) * 4 : (n + 1) * 8;
        nh = nvgre::detail::load_u8(packet.data() + off + wire::ipv6_extension_field::next_header);
        off += len;
    }
    if (walk->fragment && walk->fragment_offset_units != 0) return drop_reason::none;  // no transport header
    if (walk->fragment && is_extension_header(walk->upper_protocol)) return drop_reason::nat_unsupported;
    return plan_transport(packet, walk->upper_offset, walk->upper_protocol, true, partial_at, p);
}

/// Why the IP packet `packet` behind EtherType `ether_type` is no packet to rewrite as what
/// the EtherType says (none when it is one): unsupported-ethertype for anything but IPv4 and
/// IPv6, bad-version when the IP header's version is not the EtherType's (parsing by the version
/// nibble alone would rewrite an "IPv6" frame as IPv4), truncated for no IP byte at all.
inline drop_reason check_ether_type(std::uint16_t ether_type, std::span<const std::byte> packet) noexcept {
    if (ether_type != wire::ethertype::ipv4 && ether_type != wire::ethertype::ipv6) return drop_reason::unsupported_ethertype;
    if (packet.empty()) return drop_reason::truncated;
    const unsigned version = nvgre::detail::load_u8(packet.data()) >> 4;
    return version == (ether_type == wire::ethertype::ipv4 ? 4u : 6u) ? drop_reason::none : drop_reason::bad_version;
}

/// The ones'-complement sum of ~old + new over `n` bytes (n a multiple of 4) at even offsets:
/// the change RFC 1624 eqn. 3 adds to every checksum covering those words. Unfolded.
inline std::uint64_t change_of(const std::byte* old_bytes, const std::byte* new_bytes, std::size_t n) noexcept {
    // ~x over a 32-bit chunk is its two complemented 16-bit words: 2^32 - 1 is a multiple of
    // 0xffff, so 32-bit chunks fold to the same 16-bit sum.
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < n; i += 4)
        s += std::uint64_t{0xffffffffu} - nvgre::detail::load_be32(old_bytes + i) + nvgre::detail::load_be32(new_bytes + i);
    return s;
}

/// Applies `change` (see change_of) to the 16-bit checksum field at `at` as `kind` says, and
/// returns the field's own change (~old + new) for a checksum that covers the field itself.
inline std::uint64_t patch_field(std::byte* at, std::uint64_t change, sum_kind kind) noexcept {
    const std::uint16_t old = nvgre::detail::load_be16(at);
    std::uint16_t now = old;
    switch (kind) {
        case sum_kind::none: return 0;
        case sum_kind::plain: now = checksum::finish(checksum::fold64(std::uint64_t{static_cast<std::uint16_t>(~old)} + change)); break;
        case sum_kind::udp:
            if (old == 0) return 0;  // no checksum (RFC 768): stays absent
            now = checksum::udp_checksum_field(
                checksum::finish(checksum::fold64(std::uint64_t{static_cast<std::uint16_t>(~old)} + change)));
            break;
        // ~update(~field): the pseudo-header sum itself moves by the change.
        case sum_kind::partial: now = checksum::fold64(std::uint64_t{old} + change); break;
    }
    nvgre::detail::store_be16(at, now);
    return std::uint64_t{static_cast<std::uint16_t>(~old)} + now;
}

/// apply_plan for addresses of N bytes (constant sizes: the copies and sums unroll).
template <std::size_t N>
void apply_plan_n(std::byte* b, const plan& p, const ip_address& source, const ip_address& destination) noexcept {
    std::array<std::byte, 2 * N> old{};
    std::memcpy(old.data(), b + p.source_at, 2 * N);
    std::memcpy(b + p.source_at, source.octets().data(), N);
    std::memcpy(b + p.source_at + N, destination.octets().data(), N);
    const std::uint64_t outer = change_of(old.data(), b + p.source_at, 2 * N);
    if (p.ip_checksum != none) patch_field(b + p.ip_checksum, outer, sum_kind::plain);

    // The quote: what its changes add to the checksum of the message quoting it.
    std::uint64_t body = 0;
    if (p.quote_source_at != none) {
        std::byte* q = b + p.quote_source_at;
        std::array<std::byte, 2 * N> quoted{};
        std::memcpy(quoted.data(), q, 2 * N);
        std::memcpy(q, (p.quote_source_is_destination ? destination : source).octets().data(), N);
        std::memcpy(q + N, (p.quote_destination_is_source ? source : destination).octets().data(), N);
        const std::uint64_t inner = change_of(quoted.data(), q, 2 * N);
        body += inner;
        if (p.quote_ip_checksum != none) body += patch_field(b + p.quote_ip_checksum, inner, sum_kind::plain);
        if (p.quote_l4_checksum != none) body += patch_field(b + p.quote_l4_checksum, inner, p.quote_l4_kind);
    }
    if (p.l4_checksum != none) patch_field(b + p.l4_checksum, (p.l4_covers_addresses ? outer : 0) + body, p.l4_kind);
}

/// Writes the new addresses and patches every field of `p`. Preconditions: make_plan(packet,
/// ...) returned none for `p`; `source` and `destination` are of the packet's version. O(1).
inline void apply_plan(std::span<std::byte> packet, const plan& p, const ip_address& source,
                       const ip_address& destination) noexcept {
    if (p.addr_len == 4) apply_plan_n<4>(packet.data(), p, source, destination);
    else apply_plan_n<16>(packet.data(), p, source, destination);
}

/// The offset from `l3` of `f`'s pending partial checksum field, or none.
inline std::size_t partial_checksum_at(const frame& f, std::size_t l3) noexcept {
    const offload_info& o = f.offload;
    if (!o.checksum_partial) return none;
    const std::size_t at = std::size_t{o.checksum_start} + o.checksum_offset;
    return at >= l3 ? at - l3 : none;
}

/// True if the `n`-byte address at `at` equals `a` (of that length).
inline bool same_address(const std::byte* at, const ip_address& a, std::size_t n) noexcept {
    // Constant sizes: the compiler compares in registers instead of calling memcmp.
    if (a.octets().size() != n) return false;
    return n == 4 ? std::memcmp(at, a.octets().data(), 4) == 0 : std::memcmp(at, a.octets().data(), 16) == 0;
}

/// The offload metadata of a rewritten frame: a plain (not encapsulated) frame whose IP header
/// is at `l3`; a pending checksum_start moves by the bytes the Ethernet header grew (`moved`).
inline void describe(frame& f, std::size_t l3, const plan& p, std::ptrdiff_t moved) noexcept {
    offload_info& o = f.offload;
    o.encapsulated = false;
    o.outer_l2_len = 0;
    o.outer_l3_len = 0;
    o.inner_l2_offset = 0;
    o.inner_l3_offset = static_cast<std::uint16_t>(l3);
    o.inner_l4_offset = static_cast<std::uint16_t>(p.l4_offset != 0 ? l3 + p.l4_offset : 0);
    o.outer_ipv4_checksum_by_hardware = false;
    if (o.checksum_partial) o.checksum_start = static_cast<std::uint16_t>(o.checksum_start + moved);
}

}  // namespace detail::rewrite_steps

/// Rewrites the addresses of the IPv4/IPv6 packet at the start of `packet` (Ethernet padding
/// may follow it) to `source` and `destination`, patching every checksum as the file comment
/// says; an ICMP/ICMPv6 error's quoted addresses take the other direction's new addresses.
/// `partial_checksum_at`: offset from the IP header of a transport checksum field holding a
/// pending partial sum (CHECKSUM_PARTIAL), or rewrite_no_field. Returns drop_reason::none, or
/// why the packet cannot be rewritten (then it is unchanged): the reasons of the file comment,
/// and nat-unsupported when `source` / `destination` are not of the packet's IP version.
/// O(headers); never reads or writes outside the packet.
[[nodiscard]] inline drop_reason rewrite_ip_packet(std::span<std::byte> packet, const ip_address& source,
                                                   const ip_address& destination,
                                                   std::size_t partial_checksum_at = rewrite_no_field) noexcept {
    if (source.version() != destination.version()) return drop_reason::nat_unsupported;
    detail::rewrite_steps::plan p;
    if (const auto r = detail::rewrite_steps::make_plan(packet, source.version(), partial_checksum_at, p); r != drop_reason::none)
        return r;
    detail::rewrite_steps::apply_plan(packet, p, source, destination);
    return drop_reason::none;
}

namespace detail::rewrite_steps {

/// What egress IP rewrite decided for a frame before changing it (decide_egress).
struct egress_rewrite {
    plan p;
    mac_address next_hop;  ///< toward the receiver's PA
    oversize_plan size;    ///< what the packet's size asks for (wire rule 7 with no encapsulation)
};

/// Decides the egress IP rewrite of `f` from local record `sender` to remote record `receiver`
/// without changing it: drop_reason::none and `d`, or the drop (see rewrite_egress). The size
/// decision is the pipelines' one (plan_for_ip_mtu) with the sending PA's underlay MTU as the
/// IP MTU: an oversize packet is segmented or fragmented, else answered too big by the caller.
inline drop_reason decide_egress(const policy::snapshot& s, const frame& f, const policy::record_entry& sender,
                                 const policy::record_entry& receiver, const pipeline_config& cfg,
                                 egress_rewrite& d) noexcept {
    if (sender.rule != policy::rule::nat || receiver.rule != policy::rule::nat) return drop_reason::nat_mismatch;
    const auto bytes = f.bytes();
    constexpr std::size_t l3 = wire::ethernet_header_len;
    if (bytes.size() <= l3) return drop_reason::truncated;
    const std::span<const std::byte> packet = bytes.subspan(l3);
    if (const auto r = check_ether_type(nvgre::detail::load_be16(bytes.data() + wire::ethernet_field::ether_type), packet);
        r != drop_reason::none)
        return r;
    if (const auto r = make_plan(packet, receiver.pa.version(), partial_checksum_at(f, l3), d.p, f.tail.length());
        r != drop_reason::none)
        return r;
    // A nat PA stands for one CA: a packet to any other address (routed through the nat VM as
    // next hop) would arrive addressed to that CA, its real destination lost.
    if (!same_address(packet.data() + d.p.source_at, sender.ca, d.p.addr_len) ||
        !same_address(packet.data() + d.p.source_at + d.p.addr_len, receiver.ca, d.p.addr_len))
        return drop_reason::nat_unsupported;
    const policy::provider_address& from = s.provider_at(sender.provider);
    const std::size_t mtu = underlay_mtu_for(cfg, from.pa);
    d.size = oversize_plan{};
    d.size.inner_mtu = mtu;
    if (f.offload.segment_size != 0 || d.p.ip_len > mtu) d.size = plan_for_ip_mtu(bytes, f.tail, f.offload, mtu, cfg.gso);
    // The state's precomputed next hop between two of its PAs; when it has none (no next hop,
    // or a table without that row) the question is asked again the long way.
    if (const mac_address* next_hop = s.next_hop_mac_between(sender.provider, receiver.provider)) {
        d.next_hop = *next_hop;
    } else {
        const auto computed = s.next_hop_mac(from, receiver.pa);
        if (!computed) return drop_reason::no_next_hop;
        d.next_hop = *computed;
    }
    if (d.size.action == oversize_action::fits) {
        if (from.vlan != 0 && f.headroom() < wire::vlan_tag_len) return drop_reason::no_headroom;
        if (!cfg.inner_checksum_by_hardware && !partial_checksum_in_bounds(f)) return drop_reason::bad_offload;
    }
    return drop_reason::none;
}

/// Rewrites `f` in place as `d` (decided by decide_egress, size fits) says: addresses and
/// checksums, the source PA's VLAN tag, the MACs, the offload metadata; a pending partial
/// checksum is completed unless the NIC will (pipeline_config::inner_checksum_by_hardware).
inline void apply_egress(frame& f, const policy::snapshot& s, const policy::record_entry& sender,
                         const policy::record_entry& receiver, const egress_rewrite& d,
                         const pipeline_config& cfg) noexcept {
    constexpr std::size_t l3 = wire::ethernet_header_len;
    const policy::provider_address& from = s.provider_at(sender.provider);
    const bool tagged = from.vlan != 0;
    apply_plan(f.bytes().subspan(l3), d.p, sender.pa, receiver.pa);
    if (tagged) {
        // The tag goes between the MACs and the EtherType: the new MACs and tag are written over
        // the 4 bytes of headroom and the old MACs; the EtherType stays where it is.
        const auto grown = f.push_front(wire::vlan_tag_len);
        static_cast<void>(grown);  // checked by decide_egress: the headroom is there
        nvgre::detail::store_be16(f.bytes().data() + wire::ethernet_field::ether_type, wire::ethertype::vlan);
        nvgre::detail::store_be16(f.bytes().data() + wire::ethernet_field::first_tag_tci,
                                  static_cast<std::uint16_t>(from.vlan & 0x0fffu));  // PCP 0, DEI 0
    }
    const auto out = f.bytes();
    d.next_hop.to_bytes(out.subspan(wire::ethernet_field::destination, 6));
    from.mac.to_bytes(out.subspan(wire::ethernet_field::source, 6));
    describe(f, l3 + (tagged ? wire::vlan_tag_len : 0), d.p, tagged ? std::ptrdiff_t{4} : 0);
    f.offload.segment_size = 0;  // a TSO frame that fits is its own single segment
    // Cannot fail: decide_egress checked that the pending checksum lies inside the frame.
    static_cast<void>(finish_inner_checksum(f, cfg));
}

/// The outcome of a rewritten frame (or of its pieces) toward `receiver`.
inline outcome rewritten(const policy::record_entry& receiver) noexcept {
    outcome o;
    o.verdict = verdict::rewrite;
    o.vsid = receiver.vsid;
    o.pa = receiver.pa;
    o.to = destination::to_fabric(receiver.provider);
    return o;
}

/// Carries out decision `d` (decide_egress) for `f`: rewritten in place when it fits;
/// segmented or fragmented into pieces from `sink`, each rewritten and sent to the fabric
/// (outcome `copies`; reason no-buffer when the sink ran dry, too-big for a piece that could not
/// be rewritten; a drop with that reason when no piece went), when it does not. Precondition:
/// d.size.action is not answer (the caller answers too big, or drops).
template <replication_sink Sink>
outcome rewrite_as_decided(const policy::snapshot& s, frame& f, const policy::record_entry& sender,
                           const policy::record_entry& receiver, const egress_rewrite& d, Sink& sink,
                           const pipeline_config& cfg) noexcept {
    if (d.size.action == oversize_action::fits) {
        apply_egress(f, s, sender, receiver, d, cfg);
        return rewritten(receiver);
    }
    // Pieces: a fragment's transport checksum covers the whole datagram, so a pending one is
    // completed first (segments get theirs computed anyway).
    if (d.size.action == oversize_action::fragment && !finish_inner_checksum(f, cfg))
        return outcome::dropped(drop_reason::bad_offload, receiver.vsid);
    outcome o = rewritten(receiver);
    std::size_t wanted = 0;
    const auto made = cut_pieces(f, d.size, sink, wanted, [&](frame& piece) {
        egress_rewrite each;
        if (decide_egress(s, piece, sender, receiver, cfg, each) != drop_reason::none ||
            each.size.action != oversize_action::fits) {
            if (o.reason == drop_reason::none) o.reason = drop_reason::too_big;
            sink.discard(piece);
            return;
        }
        apply_egress(piece, s, sender, receiver, each, cfg);
        sink.send(piece, destination::to_fabric(receiver.provider));
        ++o.copies;
    });
    if (!made) return outcome::dropped(drop_reason::too_big, receiver.vsid);
    if (*made < wanted && o.reason == drop_reason::none) o.reason = drop_reason::no_buffer;
    // Nothing went: a drop, so that nobody sends the frame itself, still unrewritten.
    if (o.copies == 0) return outcome::dropped(o.reason, receiver.vsid);
    return o;
}

}  // namespace detail::rewrite_steps

/// Egress IP rewrite (docs/hnv-rules.md, egress rule 6, rule nat) of `f`, a frame of the VM of local
/// record `sender` to remote record `receiver`, after the egress rules before it (an
/// untagged IPv4/IPv6 Ethernet frame; a routed frame's TTL already decremented). Outcome
/// `rewrite` toward receiver.pa with `f` changed in place (its IP packet keeps its length;
/// it grows by 4 bytes into the headroom when the source PA has a VLAN); f.offload then
/// describes a plain frame, a pending partial checksum completed unless the NIC will. A packet
/// over the sending PA's underlay MTU (or with TSO metadata) is decided as an encapsulated one
/// is (datapath/mtu.hpp, with no encapsulation overhead): segmented or fragmented into pieces
/// from `sink`, each rewritten and sent (outcome `copies`, `f` unchanged); one that can be
/// neither is dropped too-big here — egress() answers it with ICMP too big instead.
/// Other drops (frame unchanged): nat-mismatch (not both records nat), nat-unsupported (the
/// packet is not from sender.ca to receiver.ca, or see the file comment), the packet's wire
/// reasons, no-next-hop, no-headroom (a VLAN tag and less than 4 bytes of headroom),
/// bad-offload (partial checksum metadata outside the frame). O(headers) when it fits, O(bytes)
/// otherwise; no allocation.
template <replication_sink Sink>
outcome rewrite_egress(const policy::snapshot& s, frame& f, const policy::record_entry& sender,
                       const policy::record_entry& receiver, Sink& sink, const pipeline_config& cfg = {}) noexcept {
    detail::rewrite_steps::egress_rewrite d;
    if (const auto r = detail::rewrite_steps::decide_egress(s, f, sender, receiver, cfg, d); r != drop_reason::none)
        return outcome::dropped(r, receiver.vsid);
    if (d.size.action == oversize_action::answer) return outcome::dropped(drop_reason::too_big, receiver.vsid);
    return detail::rewrite_steps::rewrite_as_decided(s, f, sender, receiver, d, sink, cfg);
}

/// rewrite_egress without a sink: an oversize packet cannot be cut into pieces (drop no-buffer
/// when it would be).
inline outcome rewrite_egress(const policy::snapshot& s, frame& f, const policy::record_entry& sender,
                              const policy::record_entry& receiver, const pipeline_config& cfg = {}) noexcept {
    no_replication_sink none;
    return rewrite_egress(s, f, sender, receiver, none, cfg);
}

/// The local nat record an IP-rewrite packet from the fabric is for (docs/hnv-rules.md, ingress rule 4),
/// or nullptr when `layout` (parse_packet_layout of `frame`) is not one: a frame that is not
/// valid NVGRE, whose outer IP destination is a nat PA of this host. Among frames that break a
/// wire rule, only GRE from another nat PA qualifies (a tenant's own GRE, which need not follow
/// the NVGRE rules); any other error keeps its wire reason. Valid NVGRE to a nat PA (head-end
/// replication from the VM's subnet) is decapsulated as usual. O(1): one or two PA lookups.
inline const policy::record_entry* rewrite_destination(const policy::snapshot& s, std::span<const std::byte> frame,
                                                       const wire::packet_layout& layout) noexcept {
    if (layout.kind == wire::frame_kind::nvgre) return nullptr;
    if (layout.outer_l3 != wire::l3_kind::ipv4 && layout.outer_l3 != wire::l3_kind::ipv6) return nullptr;
    const bool error = layout.kind == wire::frame_kind::error;
    // outer_protocol is set only once the outer IP header (and IPv6 chain) parsed.
    if (error && layout.outer_protocol != wire::ip_protocol::gre) return nullptr;
    const bool v6 = layout.outer_l3 == wire::l3_kind::ipv6;
    const std::size_t n = v6 ? 16 : 4;
    const std::size_t source_at = std::size_t{layout.outer_l3_offset} + (v6 ? wire::ipv6_field::source : wire::ipv4_field::source);
    if (frame.size() < source_at + 2 * n) return nullptr;
    const ip_address destination = v6 ? ip_address{ipv6_address::from_bytes(frame.subspan(source_at + n, n))}
                                      : ip_address{ipv4_address::from_bytes(frame.subspan(source_at + n, n))};
    const policy::record_entry* to = s.nat_record(destination);
    if (to == nullptr || !to->local) return nullptr;
    if (error) {
        const ip_address source = v6 ? ip_address{ipv6_address::from_bytes(frame.subspan(source_at, n))}
                                     : ip_address{ipv4_address::from_bytes(frame.subspan(source_at, n))};
        if (s.nat_record(source) == nullptr) return nullptr;
    }
    return to;
}

/// Ingress IP rewrite (docs/hnv-rules.md, ingress rules 4 and 5) of `f`, a frame from the fabric whose IP
/// destination is the PA of local nat record `to` (rewrite_destination). Outcome
/// `deliver` to to.mac, `f` changed in place: addresses PA -> CA, checksums patched, Ethernet
/// destination = to.mac, source = the sender's record MAC (the router MAC when the subnets
/// differ), an outer 802.1Q tag removed; f.offload then describes a plain frame. Drops (frame
/// unchanged): bad-outer-vlan (tags other than one 802.1Q tag), spoofed-source (the source PA
/// is no nat PA of a remote VM), cross-domain (of another routing domain), the packet's wire
/// reasons and nat-unsupported (file comment). O(headers); no allocation.
inline outcome rewrite_ingress(const policy::snapshot& s, frame& f, const policy::record_entry& to) noexcept {
    const std::uint32_t vsid = to.vsid;
    const auto bytes = f.bytes();
    const auto eth = wire::ethernet_view::checked(bytes);
    if (!eth) return outcome::dropped(drop_reason_of(eth.error().code), vsid);
    const bool tagged = eth->tag_count() == 1;
    if (eth->tag_count() > 1 || (tagged && eth->tag(0).tpid != wire::ethertype::vlan))
        return outcome::dropped(drop_reason::bad_outer_vlan, vsid);
    const std::size_t l3 = eth->header_len();
    const std::span<std::byte> packet = bytes.subspan(l3);
    if (const auto r = detail::rewrite_steps::check_ether_type(eth->ether_type(), packet); r != drop_reason::none)
        return outcome::dropped(r, vsid);
    detail::rewrite_steps::plan p;
    if (const auto r = detail::rewrite_steps::make_plan(packet, to.pa.version(), detail::rewrite_steps::partial_checksum_at(f, l3), p,
                                                        f.tail.length());
        r != drop_reason::none)
        return outcome::dropped(r, vsid);
    if (!detail::rewrite_steps::same_address(packet.data() + p.source_at + p.addr_len, to.pa, p.addr_len))
        return outcome::dropped(drop_reason::not_local_pa, vsid);

    // Anti-spoofing: a nat PA stands for exactly one CA, so the source PA names the sender.
    const std::byte* src = packet.data() + p.source_at;
    const ip_address source_pa = p.addr_len == 16 ? ip_address{ipv6_address::from_bytes(std::span<const std::byte>(src, 16))}
                                                  : ip_address{ipv4_address::from_bytes(std::span<const std::byte>(src, 4))};
    const policy::record_entry* from = s.nat_record(source_pa);
    // A local one would be this host's own PA coming back from the fabric: local VMs talk
    // without rewrite.
    if (from == nullptr || from->local) return outcome::dropped(drop_reason::spoofed_source, vsid);
    if (from->domain != to.domain) return outcome::dropped(drop_reason::cross_domain, vsid);

    detail::rewrite_steps::apply_plan(packet, p, from->ca, to.ca);
    const mac_address source_mac = from->vsid == to.vsid ? from->mac : s.domain(to.domain).router_mac;
    if (tagged) {
        // VMs get untagged frames: the MACs are written over the tag's end, then the frame starts there.
        auto eth_after_tag = wire::mutable_ethernet_view::unchecked(bytes.subspan(wire::vlan_tag_len));
        eth_after_tag.set_destination(to.mac);
        eth_after_tag.set_source(source_mac);
        const auto pulled = f.pull_front(wire::vlan_tag_len);
        static_cast<void>(pulled);  // cannot fail: the frame holds the tagged header
    } else {
        auto untagged = wire::mutable_ethernet_view::unchecked(bytes);
        untagged.set_destination(to.mac);
        untagged.set_source(source_mac);
    }
    detail::rewrite_steps::describe(f, wire::ethernet_header_len, p, tagged ? std::ptrdiff_t{-4} : 0);

    outcome o;
    o.verdict = verdict::deliver;
    o.vsid = vsid;
    o.to = destination::to_vm(to.mac, s.port_id_at(to.port));
    return o;
}

}  // namespace nvgre::datapath
