/// @file datapath/icmp_answer.hpp
/// @brief The ICMP / ICMPv6 messages the distributed router sends back to a VM, built in place
/// over the VM's own frame (docs/hnv-rules.md, egress rule 8 and wire rule 7): errors that
/// quote the offending packet — destination unreachable (RFC 792, RFC 4443 3.1), time exceeded
/// (RFC 792, RFC 4443 3.3), fragmentation needed / packet too big (RFC 1191, RFC 4443 3.2) —
/// and echo replies (RFC 792, RFC 4443 4.2); plus the per-source token bucket that limits
/// them all (RFC 1812 4.3.2.8, RFC 4443 2.4 (f)).
///
/// An error quotes as much of the offending packet as fits in 576 bytes of IPv4 (RFC 1812
/// 4.3.2.3) or 1280 bytes of IPv6 (RFC 4443 2.4 (c)); it goes back to the sender's MAC from the
/// router MAC. Nothing here decides whether to answer or from which address: that is policy
/// (datapath/router.hpp). No allocation; the frame's buffer is reused (the answer may grow into
/// the tailroom when the offending packet was shorter than the quote).
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/icmp.hpp"
#include "nvgre/wire/icmpv6.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace nvgre::datapath {

/// The largest ICMP error datagram: IPv4 576 bytes (RFC 1812 4.3.2.3), IPv6 1280 (RFC 4443).
inline constexpr std::size_t icmp_error_max_ipv4 = 576;
inline constexpr std::size_t icmp_error_max_ipv6 = 1280;

/// The errors the router sends, independent of the IP version.
enum class router_error : std::uint8_t {
    net_unreachable,   ///< no customer route (ICMPv6: no route to destination)
    host_unreachable,  ///< a route but no record (ICMPv6: address unreachable)
    time_exceeded,     ///< TTL / hop limit would reach 0 (RFC 1812 5.3.1, RFC 8200 3)
    too_big,           ///< fragmentation needed (DF) / packet too big, with the usable MTU
};

/// The type, code and 4-byte rest-of-header of one ICMP / ICMPv6 error message.
struct icmp_error_header {
    std::uint8_t type{0};
    std::uint8_t code{0};
    std::uint32_t rest{0};
};

/// The header of error `e` in IPv4 (`v6` false) or IPv6; `mtu` is used by too_big only (IPv4
/// carries at most 65535 in the low 16 bits, RFC 1191).
[[nodiscard]] constexpr icmp_error_header icmp_error_for(router_error e, bool v6, std::uint32_t mtu = 0) noexcept {
    switch (e) {
        case router_error::net_unreachable:
            return v6 ? icmp_error_header{wire::icmpv6_type::destination_unreachable, 0, 0}
                      : icmp_error_header{wire::icmp_type::destination_unreachable, wire::icmp_code::net_unreachable, 0};
        case router_error::host_unreachable:
            return v6 ? icmp_error_header{wire::icmpv6_type::destination_unreachable, 3, 0}
                      : icmp_error_header{wire::icmp_type::destination_unreachable, wire::icmp_code::host_unreachable, 0};
        case router_error::time_exceeded:
            return v6 ? icmp_error_header{wire::icmpv6_type::time_exceeded, 0, 0}
                      : icmp_error_header{wire::icmp_type::time_exceeded, wire::icmp_code::ttl_exceeded, 0};
        case router_error::too_big:
            return v6 ? icmp_error_header{wire::icmpv6_type::packet_too_big, 0, mtu}
                      : icmp_error_header{wire::icmp_type::destination_unreachable, wire::icmp_code::fragmentation_needed,
                                          mtu > 0xffff ? 0xffffu : mtu};
    }
    return {};
}

/// True when the packet in `frame` may be answered with an error at all (RFC 1812 4.3.2.7,
/// RFC 4443 2.4 (e)): not an ICMP / ICMPv6 error itself, not a non-first IPv4 fragment, sent
/// from a unicast source that is not unspecified, to a unicast destination (neither Ethernet
/// nor IP multicast / broadcast). `frame` is an untagged Ethernet frame with a validated IP
/// header at 14.
[[nodiscard]] inline bool icmp_error_answerable(std::span<const std::byte> frame) noexcept {
    if ((std::to_integer<std::uint8_t>(frame[0]) & 0x01u) != 0) return false;  // Ethernet group address
    const auto l3 = frame.subspan(wire::ethernet_header_len);
    if (nvgre::detail::load_be16(frame.data() + wire::ethernet_field::ether_type) == wire::ethertype::ipv4) {
        const auto ip = wire::ipv4_view::unchecked(l3);
        if (ip.fragment_offset_units() != 0) return false;
        const ipv4_address src = ip.source();
        const ipv4_address dst = ip.destination();
        if (src.is_unspecified() || src.is_multicast() || src.is_broadcast()) return false;
        if (dst.is_multicast() || dst.is_broadcast()) return false;
        if (ip.protocol() == wire::ip_protocol::icmp) {
            const auto icmp = l3.subspan(ip.header_len());
            if (icmp.empty() || wire::is_icmp_error(std::to_integer<std::uint8_t>(icmp[wire::icmp_field::type]))) return false;
        }
        return true;
    }
    const auto ip = wire::ipv6_view::unchecked(l3);
    const ipv6_address src = ip.source();
    if (src.is_unspecified() || src.is_multicast() || ip.destination().is_multicast()) return false;
    if (ip.next_header() == wire::ip_protocol::icmpv6) {
        const auto icmp = l3.subspan(wire::ipv6_header_len);
        // Error messages are types 0-127 (RFC 4443 2.1).
        if (icmp.empty() || std::to_integer<std::uint8_t>(icmp[wire::icmpv6_field::type]) < 128) return false;
    }
    return true;
}

/// Rewrites `f` — an untagged Ethernet frame holding an IPv4 or IPv6 packet whose header has
/// been validated and that icmp_error_answerable() accepted — into error `h` to its sender, in
/// place: from `router_mac` and IP address `source` (same version as the packet), quoting the
/// packet (the quoted bytes move back behind the new IP and ICMP headers: at most 548 / 1232
/// bytes move), TTL / hop limit 64. The frame shrinks, or grows into its tailroom when the
/// packet was shorter than the quote limit. A chained frame's quote continues from its chain
/// (the answer is then whole in the first segment, which drops the chain). errc::no_space
/// (frame unchanged) when the first segment's buffer cannot hold the answer. O(quoted bytes);
/// no allocation.
inline result<void> make_icmp_error(frame& f, const mac_address& router_mac, const ip_address& source,
                                    const icmp_error_header& h) noexcept {
    auto bytes = f.bytes();
    const bool v6 = nvgre::detail::load_be16(bytes.data() + wire::ethernet_field::ether_type) == wire::ethertype::ipv6;
    const std::size_t l3 = wire::ethernet_header_len;
    const std::size_t ip_header = v6 ? wire::ipv6_header_len : wire::ipv4_min_header_len;
    const std::size_t icmp_header = wire::icmp_header_len;
    const std::size_t limit = v6 ? icmp_error_max_ipv6 : icmp_error_max_ipv4;
    // The offending packet: to its IP length (not any Ethernet padding), the chain included.
    const std::size_t first = f.size();
    const std::size_t packet_len =
        v6 ? std::min(f.total_size() - l3,
                      wire::ipv6_header_len + std::size_t{nvgre::detail::load_be16(bytes.data() + l3 + wire::ipv6_field::payload_len)})
           : std::min(f.total_size() - l3, std::size_t{nvgre::detail::load_be16(bytes.data() + l3 + wire::ipv4_field::total_len)});
    const std::size_t quote = std::min(packet_len, limit - ip_header - icmp_header);
    const std::size_t quote_in_first = std::min(quote, first - l3);
    const std::size_t answer = l3 + ip_header + icmp_header + quote;
    if (answer > first) {
        if (auto r = f.resize(answer); !r) return r;
        bytes = f.bytes();
    }

    // Addresses and MACs of the offending packet, before anything moves.
    const mac_address vm_mac = mac_address::from_bytes(bytes.subspan(wire::ethernet_field::source, 6));
    std::array<std::byte, 16> vm_address{};
    std::memcpy(vm_address.data(), bytes.data() + l3 + (v6 ? wire::ipv6_field::source : wire::ipv4_field::source), v6 ? 16 : 4);

    std::memmove(bytes.data() + l3 + ip_header + icmp_header, bytes.data() + l3, quote_in_first);
    // The rest of the quote from the chain, which starts where the first segment ended.
    if (quote > quote_in_first)
        (void)f.tail.copy_out(0, bytes.subspan(l3 + ip_header + icmp_header + quote_in_first, quote - quote_in_first));
    f.tail = chain{};
    if (answer < f.size()) (void)f.resize(answer);
    bytes = f.bytes();

    // Ethernet: back to the VM, from its gateway.
    vm_mac.to_bytes(bytes.subspan(wire::ethernet_field::destination, 6));
    router_mac.to_bytes(bytes.subspan(wire::ethernet_field::source, 6));
    auto ip = bytes.subspan(l3, ip_header);
    auto icmp = bytes.subspan(l3 + ip_header);
    // ICMP and ICMPv6 share the header's layout: type, code, checksum, 4 bytes of rest.
    static_assert(wire::icmp_field::checksum == wire::icmpv6_field::checksum &&
                  wire::icmp_field::rest == wire::icmpv6_field::body);
    std::memset(icmp.data(), 0, icmp_header);
    icmp[wire::icmp_field::type] = std::byte{h.type};
    icmp[wire::icmp_field::code] = std::byte{h.code};
    nvgre::detail::store_be32(icmp.data() + wire::icmp_field::rest, h.rest);
    const auto payload_len = static_cast<std::uint16_t>(icmp_header + quote);
    if (v6) {
        wire::ipv6_repr r;
        r.source = source.v6();
        r.destination = ipv6_address::from_bytes(std::span<const std::byte>(vm_address));
        r.next_header = wire::ip_protocol::icmpv6;
        r.hop_limit = 64;
        r.payload_len = payload_len;
        r.emit(ip);
        const std::uint32_t pseudo = checksum::ipv6_pseudo_header_sum(r.source, r.destination, wire::ip_protocol::icmpv6,
                                                                      static_cast<std::uint32_t>(icmp.size()));
        nvgre::detail::store_be16(icmp.data() + wire::icmpv6_field::checksum, checksum::finish(checksum::sum(icmp, pseudo)));
    } else {
        wire::ipv4_repr r;
        r.source = source.v4();
        r.destination = ipv4_address::from_bytes(std::span<const std::byte>(vm_address).first(4));
        r.protocol = wire::ip_protocol::icmp;
        r.ttl = 64;
        r.payload_len = payload_len;
        r.emit(ip);  // with its header checksum
        nvgre::detail::store_be16(icmp.data() + wire::icmp_field::checksum, checksum::compute(icmp));
    }
    f.offload = offload_info{};
    return {};
}

/// True if the packet in `frame` (untagged Ethernet, validated IP header at 14) is a whole
/// ICMP / ICMPv6 echo request: IPv4 not fragmented, IPv6 with ICMPv6 as its first next header
/// (an echo request behind extension headers is not answered), at least the 8-byte echo header.
[[nodiscard]] inline bool is_echo_request(std::span<const std::byte> frame) noexcept {
    const auto l3 = frame.subspan(wire::ethernet_header_len);
    if (nvgre::detail::load_be16(frame.data() + wire::ethernet_field::ether_type) == wire::ethertype::ipv4) {
        const auto ip = wire::ipv4_view::unchecked(l3);
        if (ip.protocol() != wire::ip_protocol::icmp || ip.fragment_offset_units() != 0 || ip.more_fragments())
            return false;
        const std::size_t end = std::min<std::size_t>(l3.size(), ip.total_len());
        return end >= ip.header_len() + wire::icmp_header_len &&
               std::to_integer<std::uint8_t>(l3[ip.header_len() + wire::icmp_field::type]) == wire::icmp_type::echo_request &&
               std::to_integer<std::uint8_t>(l3[ip.header_len() + wire::icmp_field::code]) == 0;
    }
    const auto ip = wire::ipv6_view::unchecked(l3);
    const std::size_t end = std::min<std::size_t>(l3.size(), wire::ipv6_header_len + ip.payload_len());
    return ip.next_header() == wire::ip_protocol::icmpv6 && end >= wire::ipv6_header_len + wire::icmp_header_len &&
           std::to_integer<std::uint8_t>(l3[wire::ipv6_header_len + wire::icmpv6_field::type]) == wire::icmpv6_type::echo_request &&
           std::to_integer<std::uint8_t>(l3[wire::ipv6_header_len + wire::icmpv6_field::code]) == 0;
}

/// Rewrites the echo request in `f` (is_echo_request() holds) into its echo reply, in place:
/// from the address that was pinged and `router_mac`, back to the sender's MAC and address,
/// the same identifier, sequence number and data (RFC 792, RFC 4443 4.2), TTL / hop limit 64,
/// checksums recomputed. Ethernet padding after the IP packet is cut off. The data of a chained
/// frame stay in its chain (the checksum reads them there). O(packet).
inline void make_echo_reply(frame& f, const mac_address& router_mac) noexcept {
    auto bytes = f.bytes();
    const mac_address vm_mac = mac_address::from_bytes(bytes.subspan(wire::ethernet_field::source, 6));
    vm_mac.to_bytes(bytes.subspan(wire::ethernet_field::destination, 6));
    router_mac.to_bytes(bytes.subspan(wire::ethernet_field::source, 6));
    auto l3 = bytes.subspan(wire::ethernet_header_len);
    if (nvgre::detail::load_be16(bytes.data() + wire::ethernet_field::ether_type) == wire::ethertype::ipv4) {
        auto ip = wire::mutable_ipv4_view::unchecked(l3);
        const std::size_t header = ip.header_len();
        const std::size_t end = std::min<std::size_t>(f.total_size() - wire::ethernet_header_len, ip.total_len());
        const ipv4_address pinged = ip.destination();
        ip.set_destination(ip.source());
        ip.set_source(pinged);
        ip.set_ttl(64);
        ip.set_header_checksum(0);
        ip.set_header_checksum(checksum::ipv4_header_checksum(l3.subspan(0, header)));
        (void)f.set_total_size(wire::ethernet_header_len + end);  // never grows
        std::byte* icmp = f.bytes().data() + wire::ethernet_header_len + header;
        icmp[wire::icmp_field::type] = std::byte{wire::icmp_type::echo_reply};
        nvgre::detail::store_be16(icmp + wire::icmp_field::checksum, 0);
        nvgre::detail::store_be16(icmp + wire::icmp_field::checksum,
                                  checksum::finish(sum_from(f, wire::ethernet_header_len + header)));
    } else {
        auto ip = wire::mutable_ipv6_view::unchecked(l3);
        const std::size_t end =
            std::min<std::size_t>(f.total_size() - wire::ethernet_header_len, wire::ipv6_header_len + ip.payload_len());
        const ipv6_address pinged = ip.destination();
        ip.set_destination(ip.source());
        ip.set_source(pinged);
        ip.set_hop_limit(64);
        (void)f.set_total_size(wire::ethernet_header_len + end);
        const std::size_t at = wire::ethernet_header_len + wire::ipv6_header_len;
        std::byte* icmp = f.bytes().data() + at;
        icmp[wire::icmpv6_field::type] = std::byte{wire::icmpv6_type::echo_reply};
        nvgre::detail::store_be16(icmp + wire::icmpv6_field::checksum, 0);
        const std::uint32_t pseudo = checksum::ipv6_pseudo_header_sum(ip.source(), ip.destination(), wire::ip_protocol::icmpv6,
                                                                      static_cast<std::uint32_t>(end - wire::ipv6_header_len));
        nvgre::detail::store_be16(icmp + wire::icmpv6_field::checksum,
                                  checksum::finish(checksum::combine(sum_from(f, at), pseudo)));
    }
    f.offload = offload_info{};
}

/// A token bucket per (scope, source), over a fixed table (no allocation after construction):
/// each key hashes to one of `slots` buckets that refill at `per_second` tokens a second up to
/// `burst`. Keys sharing a bucket share its budget (a bounded table cannot do better; 1024
/// slots keep that rare). The router's answers use the routing domain as scope, since tenants'
/// addresses overlap. Single-threaded, like the pipelines' counters: one per datapath thread.
class icmp_rate_limiter {
public:
    static constexpr std::size_t slots = 1024;

    /// Defaults: bursts of 10 answers, then 10 a second per source (Linux's icmp_ratelimit
    /// allows about one per second per destination after a burst of 6; a VM that ignores the
    /// answers must not turn the switch into an ICMP source, one that listens needs one).
    explicit icmp_rate_limiter(std::uint32_t burst = 10, std::uint32_t per_second = 10) noexcept
        : burst_(burst), nanoseconds_per_token_(per_second == 0 ? 0 : 1'000'000'000ull / per_second) {
        for (bucket& b : buckets_) b = bucket{static_cast<std::uint64_t>(burst_), 0, false};
    }

    /// True if an answer to `source` in `scope` may go now (and takes its token). `now_ns`:
    /// any monotonic clock in nanoseconds.
    bool allow(const ip_address& source, std::uint64_t now_ns, std::uint32_t scope = 0) noexcept {
        bucket& b = buckets_[slot_of(source, scope)];
        if (!b.started) {
            b.started = true;
            b.last_ns = now_ns;
        } else if (nanoseconds_per_token_ != 0 && now_ns > b.last_ns) {
            const std::uint64_t earned = (now_ns - b.last_ns) / nanoseconds_per_token_;
            if (earned > 0) {
                b.tokens = std::min<std::uint64_t>(burst_, b.tokens + earned);
                b.last_ns += earned * nanoseconds_per_token_;
            }
        }
        if (b.tokens == 0) return false;
        --b.tokens;
        return true;
    }
    /// The same on the limiter's clock: the steady clock, or the embedder's (use_clock).
    bool allow(const ip_address& source) noexcept { return allow_in(0, source); }
    /// allow(source) for a source in `scope` (e.g. the index of its routing domain).
    bool allow_in(std::uint32_t scope, const ip_address& source) noexcept {
        if (clock_ns_ != nullptr) return allow(source, *clock_ns_, scope);
        const auto now = std::chrono::steady_clock::now().time_since_epoch();
        return allow(source, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()),
                     scope);
    }

    /// Reads the time from `*now_ns` (nanoseconds, kept monotonic by the embedder: a receive
    /// timestamp, a TSC-derived counter, a capture's timestamps) instead of the steady clock;
    /// null goes back to the steady clock. `*now_ns` must outlive the limiter's use.
    void use_clock(const std::uint64_t* now_ns) noexcept { clock_ns_ = now_ns; }

private:
    struct bucket {
        std::uint64_t tokens;
        std::uint64_t last_ns;
        bool started;
    };
    static std::size_t slot_of(const ip_address& a, std::uint32_t scope) noexcept {
        std::array<std::byte, 16> b{};
        if (a.is_v4()) a.v4().to_bytes(b);
        else a.v6().to_bytes(b);
        std::uint64_t lo = 0, hi = 0;
        std::memcpy(&lo, b.data(), 8);
        std::memcpy(&hi, b.data() + 8, 8);
        const std::uint64_t h = (lo ^ ((hi ^ scope) * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
        return static_cast<std::size_t>(h >> 54);  // top 10 bits: 1024 slots
    }

    std::uint64_t burst_;
    std::uint64_t nanoseconds_per_token_;
    const std::uint64_t* clock_ns_{nullptr};
    std::array<bucket, slots> buckets_{};
};

}  // namespace nvgre::datapath
