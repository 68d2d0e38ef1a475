/// @file packet/outer_header.hpp
/// @brief The outer headers of NVGRE toward one destination, compiled once: outer Ethernet
/// (+ 802.1Q tag), IPv4 or IPv6, NVGRE. What stays fixed along a path (MACs, VLAN, addresses,
/// protocol, DF) is written when the header is compiled; what changes per packet or per
/// configuration (VSID, FlowID, TTL, lengths, TOS / traffic class, flow label, the IPv4
/// checksum) is left zero and patched by the encapsulation (datapath/encap.hpp), the IPv4
/// checksum by RFC 1624 from the sum kept here.
///
/// Policy-free: a policy snapshot compiles one per (local PA, remote PA) pair when it is built
/// (policy::snapshot::compiled_path), an embedder with its own tables compiles its own.
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/nvgre.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace nvgre::packet {

/// Outer header bytes: Ethernet 14 + IPv4 20 + NVGRE 8 (wire rule 7: the inner IP MTU is the
/// underlay MTU - 42).
inline constexpr std::size_t outer_header_len_ipv4 = 42;
/// Ethernet 14 + IPv6 40 + NVGRE 8.
inline constexpr std::size_t outer_header_len_ipv6 = 62;
/// The largest outer header set: IPv6 with an 802.1Q tag.
inline constexpr std::size_t outer_header_max_len = outer_header_len_ipv6 + wire::vlan_tag_len;

/// What a path's outer header is compiled from.
struct outer_path {
    mac_address source_mac{};       ///< the sending PA's MAC
    mac_address destination_mac{};  ///< the destination PA's MAC (on-link) or the next hop's
    std::uint16_t vlan{0};          ///< the sending PA's VLAN, 1-4094; 0 = untagged
    ip_address source{};            ///< the sending PA
    ip_address destination{};       ///< the destination PA, of the same IP version
};

/// One path's compiled outer header. Trivially copyable, 72 bytes.
class compiled_header {
public:
    /// An empty IPv4 header of zeros (a slot to fill; compile() makes the real ones).
    compiled_header() noexcept = default;

    /// Compiles `p`. errc::bad_value: addresses of different IP versions (layer::none, offset
    /// 0), a VLAN above 4094 (layer::vlan, offset 14: the TCI). O(1), no allocation.
    static result<compiled_header> compile(const outer_path& p) noexcept {
        if (p.source.version() != p.destination.version()) return make_error(errc::bad_value, layer::none, 0);
        if (p.vlan > 4094) return make_error(errc::bad_value, layer::vlan, 14);
        compiled_header h;
        const bool v6 = p.source.is_v6();
        const bool tagged = p.vlan != 0;
        h.v6_ = v6;
        h.tagged_ = tagged;
        h.destination_ = p.destination;
        const std::size_t ip = wire::ethernet_header_len + (tagged ? wire::vlan_tag_len : 0);
        const std::size_t gre = ip + (v6 ? wire::ipv6_header_len : wire::ipv4_min_header_len);
        h.len_ = static_cast<std::uint8_t>(gre + wire::nvgre_header_len);
        const std::span<std::byte> bytes(h.bytes_);

        wire::ethernet_repr eth;
        eth.destination = p.destination_mac;
        eth.source = p.source_mac;
        if (tagged) {
            eth.tag_count = 1;
            eth.tags[0] = wire::vlan_tag{wire::ethertype::vlan, 0, false, p.vlan};
        }
        eth.ether_type = v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4;
        eth.emit(bytes);
        if (v6) {
            // Traffic class, flow label, payload length, hop limit: per packet.
            wire::ipv6_repr r;
            r.source = p.source.v6();
            r.destination = p.destination.v6();
            r.next_header = wire::ip_protocol::gre;
            r.hop_limit = 0;
            r.emit(bytes.subspan(ip));
        } else {
            // TOS, total length, TTL and checksum zero: per packet. Identification 0 and DF
            // (wire rule 8: atomic datagrams, RFC 6864 section 4.1).
            auto v4 = wire::mutable_ipv4_view::unchecked(bytes.subspan(ip, wire::ipv4_min_header_len));
            nvgre::detail::store_u8(bytes.data() + ip, 0x45);
            v4.set_tos(0);
            v4.set_total_len(0);
            v4.set_identification(0);
            v4.set_dont_fragment(true);
            v4.set_ttl(0);
            v4.set_protocol(wire::ip_protocol::gre);
            v4.set_header_checksum(0);
            v4.set_source(p.source.v4());
            v4.set_destination(p.destination.v4());
            h.base_sum_ = checksum::fold(checksum::sum(std::span<const std::byte>(bytes.data() + ip, wire::ipv4_min_header_len)));
        }
        wire::nvgre_repr{nvgre::vsid::make(nvgre::vsid::min_tenant).value(), nvgre::flow_id{0}}.emit(bytes.subspan(gre));
        nvgre::detail::store_be24(bytes.data() + h.len_ - 4, 0);  // the VSID: per packet
        return h;
    }

    /// Header bytes: 42 (IPv4), 46 (IPv4 + tag), 62 (IPv6), 66 (IPv6 + tag).
    [[nodiscard]] std::size_t size() const noexcept { return len_; }
    [[nodiscard]] bool is_ipv6() const noexcept { return v6_; }
    [[nodiscard]] bool is_tagged() const noexcept { return tagged_; }
    /// Offset of the outer IP header (14, or 18 tagged).
    [[nodiscard]] std::size_t ip_offset() const noexcept { return tagged_ ? 18 : 14; }
    /// The bytes as compiled, the per-packet fields zero.
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {bytes_.data(), len_}; }
    /// IPv4: the folded ones'-complement sum of the outer IPv4 header with TOS, total length,
    /// TTL and checksum zero (add them, complement: the checksum). 0 for IPv6.
    [[nodiscard]] std::uint16_t base_sum() const noexcept { return base_sum_; }
    /// The destination PA, as compiled (bytes 16-19 of the IPv4 header / 24-39 of the IPv6
    /// one). Kept beside the bytes: every outcome of an encapsulation carries it, and building
    /// the address from the header cost ~14 instructions a packet.
    [[nodiscard]] const ip_address& destination() const noexcept { return destination_; }

    friend bool operator==(const compiled_header& a, const compiled_header& b) noexcept {
        return a.len_ == b.len_ && a.v6_ == b.v6_ && a.tagged_ == b.tagged_ && a.base_sum_ == b.base_sum_ &&
               std::ranges::equal(a.bytes(), b.bytes());
    }

private:
    std::array<std::byte, outer_header_max_len> bytes_{};
    ip_address destination_{};
    std::uint16_t base_sum_{0};
    std::uint8_t len_{outer_header_len_ipv4};
    bool v6_{false};
    bool tagged_{false};
};

}  // namespace nvgre::packet
