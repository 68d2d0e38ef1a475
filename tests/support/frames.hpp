// Building test frames with the library's own reprs (their bytes are checked against scapy in
// the wire suites), buffers with headroom, and a replication sink backed by a vector.
#pragma once

#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/wire/arp.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/udp.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string_view>
#include <vector>

namespace nvgre::test {

inline ip_address ip(std::string_view s) { return *ip_address::parse(s); }
inline mac_address mac(std::string_view s) { return *mac_address::parse(s); }

/// Ethernet / IPv4 or IPv6 / UDP with `payload_len` payload bytes and a valid UDP checksum.
inline std::vector<std::byte> udp_frame(const mac_address& src_mac, const mac_address& dst_mac, const ip_address& src,
                                        const ip_address& dst, std::size_t payload_len = 18, std::uint8_t ttl = 64,
                                        std::uint8_t tos = 0) {
    const bool v6 = src.is_v6();
    const std::size_t l3_len = v6 ? wire::ipv6_header_len : wire::ipv4_min_header_len;
    const std::size_t udp_len = wire::udp_header_len + payload_len;
    std::vector<std::byte> f(wire::ethernet_header_len + l3_len + udp_len);
    wire::ethernet_repr eth;
    eth.destination = dst_mac;
    eth.source = src_mac;
    eth.ether_type = v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4;
    eth.emit(f);
    auto l3 = std::span<std::byte>(f).subspan(wire::ethernet_header_len);
    if (v6) {
        wire::ipv6_repr r;
        r.source = src.v6();
        r.destination = dst.v6();
        r.next_header = wire::ip_protocol::udp;
        r.hop_limit = ttl;
        r.dscp = static_cast<std::uint8_t>(tos >> 2);
        r.ecn = static_cast<std::uint8_t>(tos & 3);
        r.payload_len = static_cast<std::uint16_t>(udp_len);
        r.emit(l3);
    } else {
        wire::ipv4_repr r;
        r.source = src.v4();
        r.destination = dst.v4();
        r.protocol = wire::ip_protocol::udp;
        r.ttl = ttl;
        r.dscp = static_cast<std::uint8_t>(tos >> 2);
        r.ecn = static_cast<std::uint8_t>(tos & 3);
        r.dont_fragment = true;
        r.payload_len = static_cast<std::uint16_t>(udp_len);
        r.emit(l3);
    }
    auto l4 = l3.subspan(l3_len);
    wire::udp_repr u{40000, 5001, static_cast<std::uint16_t>(payload_len)};
    u.emit(l4);
    for (std::size_t i = 0; i < payload_len; ++i) l4[wire::udp_header_len + i] = std::byte{static_cast<std::uint8_t>(i * 7)};
    auto view = wire::mutable_udp_view::unchecked(l4);
    view.fill_checksum(checksum::pseudo_header_sum(src, dst, wire::ip_protocol::udp, static_cast<std::uint16_t>(udp_len)));
    return f;
}

/// Ethernet / ARP request "who has `target` tell `sender_ip`", broadcast.
inline std::vector<std::byte> arp_request(const mac_address& sender_mac, const ip_address& sender_ip, const ip_address& target) {
    std::vector<std::byte> f(wire::ethernet_header_len + wire::arp_ipv4_len);
    wire::ethernet_repr eth;
    eth.destination = mac_address::broadcast();
    eth.source = sender_mac;
    eth.ether_type = wire::ethertype::arp;
    eth.emit(f);
    wire::arp_repr a;
    a.operation = wire::arp_operation::request;
    a.sender_mac = sender_mac;
    a.sender_ip = sender_ip.v4();
    a.target_mac = mac_address{};
    a.target_ip = target.v4();
    a.emit(std::span<std::byte>(f).subspan(wire::ethernet_header_len));
    return f;
}

/// A buffer holding a frame with `headroom` bytes in front and `tailroom` behind.
struct buffer {
    std::vector<std::byte> storage;
    datapath::frame f;
    buffer(std::span<const std::byte> bytes, std::size_t headroom = 128, std::size_t tailroom = 64)
        : storage(headroom + bytes.size() + tailroom, std::byte{0xa5}) {
        std::copy(bytes.begin(), bytes.end(), storage.begin() + static_cast<std::ptrdiff_t>(headroom));
        f = datapath::frame(storage, headroom, bytes.size());
    }
    buffer(const buffer&) = delete;
    [[nodiscard]] std::vector<std::byte> bytes() const { return {f.bytes().begin(), f.bytes().end()}; }
};

/// A replication sink that keeps every copy and where it went.
struct vector_sink {
    std::deque<buffer> buffers;  // deque: frames stay put while more are added
    struct sent {
        std::vector<std::byte> bytes;
        datapath::destination to;
    };
    std::vector<sent> out;
    std::size_t limit{1000};

    datapath::frame* allocate(std::size_t size, std::size_t headroom) {
        if (buffers.size() >= limit) return nullptr;
        buffers.emplace_back(std::vector<std::byte>(size, std::byte{0x5a}), headroom + 128);
        return &buffers.back().f;
    }
    void send(datapath::frame& f, const datapath::destination& d) {
        std::vector<std::byte> bytes(f.total_size());
        (void)datapath::copy_out(f, 0, bytes);
        out.push_back({std::move(bytes), d});
    }
    /// A buffer handed back unsent (the pipeline could not use it).
    void discard(datapath::frame&) { ++discarded; }
    std::size_t discarded{0};
    /// Buffers handed out and neither sent nor discarded (a leak once the pipeline returned).
    [[nodiscard]] std::size_t outstanding() const noexcept { return buffers.size() - out.size() - discarded; }
};

}  // namespace nvgre::test
