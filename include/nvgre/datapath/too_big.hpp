/// @file datapath/too_big.hpp
/// @brief "Too big" answers to a VM whose packet does not fit the underlay once encapsulated
/// (DESIGN.md wire rule 7, RFC 4459 section 3.2: the tunnel entry tells the sender the usable
/// MTU instead of fragmenting the outer packet): ICMP Destination Unreachable / Fragmentation
/// Needed (RFC 792, RFC 1191) for IPv4, ICMPv6 Packet Too Big (RFC 4443 section 3.2) for IPv6,
/// built in place over the offending frame, and the per-source token bucket that limits them
/// (RFC 1812 4.3.2.8, RFC 4443 section 2.4 (f)).
///
/// The answer quotes as much of the offending packet as fits in 576 bytes of IPv4 (RFC 1812
/// 4.3.2.3) or 1280 bytes of IPv6 (RFC 4443 2.4 (c)), comes from the VM's gateway (the
/// distributed router: its MAC and the subnet's gateway address of that IP version, or the
/// packet's own destination when the subnet has none), and goes back to the VM's MAC.
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

/// Where a too-big answer comes from and what it says.
struct too_big_params {
    mac_address router_mac{};  ///< Ethernet source: the VM's gateway
    ip_address source{};       ///< IP source, same version as the offending packet
    std::uint32_t mtu{0};      ///< the usable IP MTU to announce (IPv4: at most 65535)
};

/// True when the offending packet may be answered at all (RFC 1812 4.3.2.7, RFC 4443 2.4 (e)):
/// not an ICMP / ICMPv6 error itself, not a non-first IPv4 fragment, a unicast source that is
/// not unspecified. `frame` is an untagged Ethernet frame with a validated IP header at 14.
[[nodiscard]] inline bool too_big_answerable(std::span<const std::byte> frame) noexcept {
    const auto l3 = frame.subspan(wire::ethernet_header_len);
    if (nvgre::detail::load_be16(frame.data() + 12) == wire::ethertype::ipv4) {
        const auto ip = wire::ipv4_view::unchecked(l3);
        if (ip.fragment_offset_units() != 0) return false;
        const ipv4_address src = ip.source();
        if (src.is_unspecified() || src.is_multicast() || src.is_broadcast()) return false;
        if (ip.protocol() == wire::ip_protocol::icmp) {
            const auto icmp = l3.subspan(ip.header_len());
            if (icmp.empty() || wire::is_icmp_error(std::to_integer<std::uint8_t>(icmp[0]))) return false;
        }
        return true;
    }
    const auto ip = wire::ipv6_view::unchecked(l3);
    const ipv6_address src = ip.source();
    if (src.is_unspecified() || src.is_multicast()) return false;
    if (ip.next_header() == wire::ip_protocol::icmpv6) {
        const auto icmp = l3.subspan(wire::ipv6_header_len);
        // Error messages are types 0-127 (RFC 4443 2.1).
        if (icmp.empty() || std::to_integer<std::uint8_t>(icmp[0]) < 128) return false;
    }
    return true;
}

/// Rewrites `f` — an untagged Ethernet frame holding an IPv4 or IPv6 packet whose header has
/// been validated and that too_big_answerable() accepted — into the too-big answer to its
/// sender, in place: the quoted bytes move back behind the new IP and ICMP headers (at most
/// 548 / 1232 bytes move), and the frame shrinks (or grows into its tailroom when the packet
/// was shorter than the quote limit). errc::no_space when the buffer cannot hold the answer.
/// O(quoted bytes); no allocation.
inline result<void> make_too_big(frame& f, const too_big_params& p) noexcept {
    auto bytes = f.bytes();
    const bool v6 = nvgre::detail::load_be16(bytes.data() + 12) == wire::ethertype::ipv6;
    const std::size_t l3 = wire::ethernet_header_len;
    const std::size_t ip_header = v6 ? wire::ipv6_header_len : wire::ipv4_min_header_len;
    const std::size_t icmp_header = 8;
    const std::size_t limit = v6 ? icmp_error_max_ipv6 : icmp_error_max_ipv4;
    // The offending packet: to its IP length (not any Ethernet padding).
    const std::size_t packet_len =
        v6 ? std::min(bytes.size() - l3, wire::ipv6_header_len + std::size_t{nvgre::detail::load_be16(bytes.data() + l3 + 4)})
           : std::min(bytes.size() - l3, std::size_t{nvgre::detail::load_be16(bytes.data() + l3 + 2)});
    const std::size_t quote = std::min(packet_len, limit - ip_header - icmp_header);
    const std::size_t answer = l3 + ip_header + icmp_header + quote;
    if (answer > f.size()) {
        if (auto r = f.resize(answer); !r) return r;
        bytes = f.bytes();
    }

    // Addresses and MACs of the offending packet, before anything moves.
    const mac_address vm_mac = mac_address::from_bytes(bytes.subspan(6, 6));
    std::array<std::byte, 16> vm_address{};
    std::memcpy(vm_address.data(), bytes.data() + l3 + (v6 ? 8 : 12), v6 ? 16 : 4);

    std::memmove(bytes.data() + l3 + ip_header + icmp_header, bytes.data() + l3, quote);
    if (answer < f.size()) (void)f.resize(answer);
    bytes = f.bytes();

    // Ethernet: back to the VM, from its gateway.
    vm_mac.to_bytes(bytes.subspan(0, 6));
    p.router_mac.to_bytes(bytes.subspan(6, 6));
    auto ip = bytes.subspan(l3, ip_header);
    auto icmp = bytes.subspan(l3 + ip_header);
    std::memset(ip.data(), 0, ip_header);
    std::memset(icmp.data(), 0, icmp_header);
    if (v6) {
        nvgre::detail::store_be32(ip.data(), 0x60000000u);
        nvgre::detail::store_be16(ip.data() + 4, static_cast<std::uint16_t>(icmp_header + quote));
        ip[6] = std::byte{wire::ip_protocol::icmpv6};
        ip[7] = std::byte{64};
        p.source.v6().to_bytes(ip.subspan(8, 16));
        std::memcpy(ip.data() + 24, vm_address.data(), 16);
        icmp[0] = std::byte{wire::icmpv6_type::packet_too_big};
        nvgre::detail::store_be32(icmp.data() + 4, p.mtu);
        const auto destination = ipv6_address::from_bytes(std::span<const std::byte>(vm_address));
        const std::uint32_t pseudo = checksum::ipv6_pseudo_header_sum(p.source.v6(), destination, wire::ip_protocol::icmpv6,
                                                                      static_cast<std::uint32_t>(icmp.size()));
        nvgre::detail::store_be16(icmp.data() + 2, checksum::finish(checksum::sum(icmp, pseudo)));
    } else {
        ip[0] = std::byte{0x45};
        nvgre::detail::store_be16(ip.data() + 2, static_cast<std::uint16_t>(ip_header + icmp_header + quote));
        ip[8] = std::byte{64};
        ip[9] = std::byte{wire::ip_protocol::icmp};
        p.source.v4().to_bytes(ip.subspan(12, 4));
        std::memcpy(ip.data() + 16, vm_address.data(), 4);
        nvgre::detail::store_be16(ip.data() + 10, checksum::ipv4_header_checksum(ip));
        icmp[0] = std::byte{wire::icmp_type::destination_unreachable};
        icmp[1] = std::byte{wire::icmp_code::fragmentation_needed};
        nvgre::detail::store_be16(icmp.data() + 6, static_cast<std::uint16_t>(p.mtu > 0xffff ? 0xffff : p.mtu));
        nvgre::detail::store_be16(icmp.data() + 2, checksum::compute(icmp));
    }
    f.offload = offload_info{};
    return {};
}

/// A token bucket per source, over a fixed table (no allocation after construction): each
/// source address hashes to one of `slots` buckets that refill at `per_second` tokens a second
/// up to `burst`. Sources sharing a bucket share its budget (a bounded table cannot do better;
/// 1024 slots keep that rare). Single-threaded, like the pipelines' counters: one per datapath
/// thread.
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

    /// True if an answer to `source` may go now (and takes its token). `now_ns`: any monotonic
    /// clock in nanoseconds.
    bool allow(const ip_address& source, std::uint64_t now_ns) noexcept {
        bucket& b = buckets_[slot_of(source)];
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
    bool allow(const ip_address& source) noexcept {
        if (clock_ns_ != nullptr) return allow(source, *clock_ns_);
        const auto now = std::chrono::steady_clock::now().time_since_epoch();
        return allow(source, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()));
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
    static std::size_t slot_of(const ip_address& a) noexcept {
        std::array<std::byte, 16> b{};
        if (a.is_v4()) a.v4().to_bytes(b);
        else a.v6().to_bytes(b);
        std::uint64_t lo = 0, hi = 0;
        std::memcpy(&lo, b.data(), 8);
        std::memcpy(&hi, b.data() + 8, 8);
        const std::uint64_t h = (lo ^ (hi * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
        return static_cast<std::size_t>(h >> 54);  // top 10 bits: 1024 slots
    }

    std::uint64_t burst_;
    std::uint64_t nanoseconds_per_token_;
    const std::uint64_t* clock_ns_{nullptr};
    std::array<bucket, slots> buckets_{};
};

}  // namespace nvgre::datapath
