// TCP frames for the MTU, segmentation and offload suites: Ethernet / IPv4 or IPv6 / TCP with
// valid checksums, built byte by byte (independently of the code under test), and checks that
// recompute every checksum of a produced frame from scratch.
#pragma once

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace nvgre::test {

struct tcp_frame_spec {
    mac_address src_mac{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x05}};
    mac_address dst_mac{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x06}};
    ip_address src{ipv4_address{{10, 0, 0, 5}}};
    ip_address dst{ipv4_address{{10, 0, 0, 6}}};
    std::size_t payload_len{1000};
    std::uint32_t seq{0x01020304};
    std::uint8_t flags{0x18};  // PSH + ACK
    bool dont_fragment{true};
    std::uint16_t ip_id{0x4242};
    std::size_t tcp_options_len{0};  // multiple of 4 (NOPs)
    std::uint8_t protocol{6};        // 6 TCP; 17 makes a UDP datagram of the same size (8-byte header)
};

/// The frame `s` describes; payload byte i is (i * 31 + 7) & 0xff.
inline std::vector<std::byte> tcp_frame(const tcp_frame_spec& s) {
    const bool v6 = s.src.is_v6();
    const bool udp = s.protocol == 17;
    const std::size_t l3 = 14, ip_len = v6 ? 40 : 20;
    const std::size_t l4_header = udp ? 8 : 20 + s.tcp_options_len;
    const std::size_t l4_len = l4_header + s.payload_len;
    std::vector<std::byte> f(l3 + ip_len + l4_len);
    std::byte* p = f.data();
    s.dst_mac.to_bytes(std::span<std::byte>(p, 6));
    s.src_mac.to_bytes(std::span<std::byte>(p + 6, 6));
    detail::store_be16(p + 12, v6 ? 0x86dd : 0x0800);
    std::byte* ip = p + l3;
    if (v6) {
        detail::store_be32(ip, 0x60000000u);
        detail::store_be16(ip + 4, static_cast<std::uint16_t>(l4_len));
        ip[6] = std::byte{s.protocol};
        ip[7] = std::byte{64};
        s.src.v6().to_bytes(std::span<std::byte>(ip + 8, 16));
        s.dst.v6().to_bytes(std::span<std::byte>(ip + 24, 16));
    } else {
        ip[0] = std::byte{0x45};
        detail::store_be16(ip + 2, static_cast<std::uint16_t>(ip_len + l4_len));
        detail::store_be16(ip + 4, s.ip_id);
        detail::store_be16(ip + 6, s.dont_fragment ? 0x4000 : 0);
        ip[8] = std::byte{64};
        ip[9] = std::byte{s.protocol};
        s.src.v4().to_bytes(std::span<std::byte>(ip + 12, 4));
        s.dst.v4().to_bytes(std::span<std::byte>(ip + 16, 4));
        detail::store_be16(ip + 10, checksum::compute(std::span<const std::byte>(ip, 20)));
    }
    std::byte* l4 = ip + ip_len;
    detail::store_be16(l4, 40000);
    detail::store_be16(l4 + 2, 5001);
    if (udp) {
        detail::store_be16(l4 + 4, static_cast<std::uint16_t>(l4_len));
    } else {
        detail::store_be32(l4 + 4, s.seq);
        detail::store_be32(l4 + 8, 0x0a0b0c0d);
        l4[12] = std::byte{static_cast<std::uint8_t>((l4_header / 4) << 4)};
        l4[13] = std::byte{s.flags};
        detail::store_be16(l4 + 14, 65535);
        for (std::size_t i = 20; i < l4_header; ++i) l4[i] = std::byte{1};  // NOP options
    }
    for (std::size_t i = 0; i < s.payload_len; ++i) l4[l4_header + i] = std::byte{static_cast<std::uint8_t>((i * 31 + 7) & 0xff)};
    const std::uint32_t pseudo = checksum::pseudo_header_sum(s.src, s.dst, s.protocol, static_cast<std::uint32_t>(l4_len));
    std::uint16_t c = checksum::finish(checksum::sum(std::span<const std::byte>(l4, l4_len), pseudo));
    if (udp && c == 0) c = 0xffff;
    detail::store_be16(l4 + (udp ? 6 : 16), c);
    return f;
}

/// True if the TCP/UDP segment at `l4` (to the end of `l4`) has a valid checksum for the
/// addresses given.
inline bool l4_checksum_ok(const ip_address& src, const ip_address& dst, std::uint8_t protocol,
                           std::span<const std::byte> l4) {
    const std::uint32_t pseudo = checksum::pseudo_header_sum(src, dst, protocol, static_cast<std::uint32_t>(l4.size()));
    return checksum::fold(checksum::sum(l4, pseudo)) == 0xffff;
}

}  // namespace nvgre::test
