// Test oracle for the corpus captures: a classic-pcap reader and a walk from a captured frame
// to its GRE packet. Deliberately independent of the library's own parsers (ethernet_view,
// packet_layout, ...): it only loads bytes, so a bug there cannot hide itself here.
#pragma once

#include "nvgre/detail/bytes.hpp"
#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace nvgre::test {

// ---------------------------------------------------------------------------------------------
// Classic pcap: 24-byte global header, 16-byte record headers, either byte order, microsecond
// (0xa1b2c3d4) or nanosecond (0xa1b23c4d) magic. Not pcapng.
// ---------------------------------------------------------------------------------------------

/// Link types the walk below understands.
inline constexpr std::uint32_t linktype_ethernet = 1;
inline constexpr std::uint32_t linktype_raw = 101;   ///< raw IPv4 or IPv6
inline constexpr std::uint32_t linktype_ipv4 = 228;
inline constexpr std::uint32_t linktype_ipv6 = 229;

struct pcap_file {
    std::uint32_t linktype{0};
    std::vector<std::span<const std::byte>> frames;  ///< views into the file bytes
};

inline std::uint32_t pcap_load_u32(const std::byte* p, bool big) {
    if (big) return detail::load_be32(p);
    return std::uint32_t{detail::load_u8(p)} | std::uint32_t{detail::load_u8(p + 1)} << 8 |
           std::uint32_t{detail::load_u8(p + 2)} << 16 | std::uint32_t{detail::load_u8(p + 3)} << 24;
}

/// The frames (captured bytes, incl_len each) of a classic pcap file; nullopt when `file` is
/// not one. A truncated last record ends the list. The frames point into `file`.
inline std::optional<pcap_file> read_pcap(const std::vector<std::byte>& file) {
    if (file.size() < 24) return std::nullopt;
    const std::uint32_t magic = pcap_load_u32(file.data(), false);
    bool big;
    if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) big = false;
    else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) big = true;
    else return std::nullopt;
    pcap_file out;
    out.linktype = pcap_load_u32(file.data() + 20, big) & 0xffffu;  // upper bits: FCS info
    std::size_t at = 24;
    while (at + 16 <= file.size()) {
        const std::size_t incl = pcap_load_u32(file.data() + at + 8, big);
        at += 16;
        if (incl > file.size() - at) break;
        out.frames.emplace_back(file.data() + at, incl);
        at += incl;
    }
    return out;
}
/// The frames would dangle.
std::optional<pcap_file> read_pcap(std::vector<std::byte>&&) = delete;

// ---------------------------------------------------------------------------------------------
// Frame → GRE packet (GRE header + payload, bounded by the IP length): Ethernet with any number
// of 802.1Q / 802.1ad tags, or raw IP; then IPv4 (fragments refused) or IPv6 (hop-by-hop,
// routing and destination options skipped); IP-in-IP (protocol 4) followed to the inner IP.
// ---------------------------------------------------------------------------------------------

inline std::optional<std::span<const std::byte>> gre_in_ip(std::span<const std::byte> ip);

inline std::optional<std::span<const std::byte>> gre_in_ipv4(std::span<const std::byte> ip) {
    if (ip.size() < 20) return std::nullopt;
    const std::size_t ihl = (detail::load_u8(ip.data()) & 0x0fu) * 4u;
    const std::size_t total = std::min<std::size_t>(detail::load_be16(ip.data() + 2), ip.size());
    if (ihl < 20 || total < ihl) return std::nullopt;
    if ((detail::load_be16(ip.data() + 6) & 0x3fffu) != 0) return std::nullopt;  // a fragment
    const auto proto = detail::load_u8(ip.data() + 9);
    const auto payload = ip.subspan(ihl, total - ihl);
    if (proto == 47) return payload;
    if (proto == 4) return gre_in_ip(payload);
    return std::nullopt;
}

inline std::optional<std::span<const std::byte>> gre_in_ipv6(std::span<const std::byte> ip) {
    if (ip.size() < 40) return std::nullopt;
    const std::size_t end = std::min<std::size_t>(40u + detail::load_be16(ip.data() + 4), ip.size());
    std::uint8_t nh = detail::load_u8(ip.data() + 6);
    std::size_t at = 40;
    while (nh == 0 || nh == 43 || nh == 60) {  // hop-by-hop, routing, destination options
        if (at + 2 > end) return std::nullopt;
        nh = detail::load_u8(ip.data() + at);
        at += (std::size_t{detail::load_u8(ip.data() + at + 1)} + 1) * 8;
    }
    if (at > end) return std::nullopt;
    const auto payload = ip.subspan(at, end - at);
    if (nh == 47) return payload;
    if (nh == 4) return gre_in_ip(payload);
    return std::nullopt;
}

/// IPv4 or IPv6, by the version nibble.
inline std::optional<std::span<const std::byte>> gre_in_ip(std::span<const std::byte> ip) {
    if (ip.empty()) return std::nullopt;
    switch (detail::load_u8(ip.data()) >> 4) {
        case 4: return gre_in_ipv4(ip);
        case 6: return gre_in_ipv6(ip);
        default: return std::nullopt;
    }
}

/// An Ethernet II frame (no FCS), VLAN tags (TPID 0x8100, 0x88a8, 0x9100) skipped.
inline std::optional<std::span<const std::byte>> gre_in_ethernet(std::span<const std::byte> frame) {
    std::size_t at = 12;
    for (;;) {
        if (at + 2 > frame.size()) return std::nullopt;
        const std::uint16_t type = detail::load_be16(frame.data() + at);
        at += 2;
        if (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
            at += 2;  // the TCI
            continue;
        }
        if (type != 0x0800 && type != 0x86dd) return std::nullopt;
        return gre_in_ip(frame.subspan(at));
    }
}

/// The GRE packet inside a captured frame of the given pcap link type.
inline std::optional<std::span<const std::byte>> gre_in_frame(std::uint32_t linktype, std::span<const std::byte> frame) {
    switch (linktype) {
        case linktype_ethernet: return gre_in_ethernet(frame);
        case linktype_raw:
        case linktype_ipv4:
        case linktype_ipv6: return gre_in_ip(frame);
        default: return std::nullopt;
    }
}

// ---------------------------------------------------------------------------------------------
// The corpus (corpus_dir(), i.e. ../shared/corpus): absent files are skipped with a MESSAGE.
// ---------------------------------------------------------------------------------------------

/// The bytes of corpus_dir() / rel; nullopt (and a MESSAGE) when the corpus or file is absent.
inline std::optional<std::vector<std::byte>> corpus_file(const std::string& rel) {
    const auto dir = corpus_dir();
    if (dir.empty() || !std::filesystem::is_directory(dir)) {
        MESSAGE("corpus directory absent: skipping " << rel);
        return std::nullopt;
    }
    auto file = read_file(dir / rel);
    if (file.empty()) {
        MESSAGE("corpus file absent: skipping " << rel);
        return std::nullopt;
    }
    return file;
}

/// Every GRE packet (copied out) of a pcap in the corpus, in capture order; frames without one
/// are left out. nullopt (and a MESSAGE) when the corpus or file is absent.
inline std::optional<std::vector<std::vector<std::byte>>> corpus_gre_packets(const std::string& rel) {
    const auto file = corpus_file(rel);
    if (!file) return std::nullopt;
    const auto pcap = read_pcap(*file);
    REQUIRE(pcap);
    const auto lt = pcap->linktype;
    REQUIRE((lt == linktype_ethernet || lt == linktype_raw || lt == linktype_ipv4 || lt == linktype_ipv6));
    std::vector<std::vector<std::byte>> out;
    for (const auto frame : pcap->frames)
        if (auto gre = gre_in_frame(lt, frame)) out.emplace_back(gre->begin(), gre->end());
    return out;
}

/// The GRE packet of a PcapPlusPlus .dat file (one Ethernet frame as one line of hex).
inline std::optional<std::vector<std::byte>> corpus_dat_gre(const std::string& name) {
    const auto raw = corpus_file("PcapPlusPlus/Tests/Packet++Test/PacketExamples/" + name);
    if (!raw) return std::nullopt;
    std::string text;
    for (auto b : *raw)
        if (std::isxdigit(std::to_integer<unsigned char>(b))) text += static_cast<char>(b);
    const auto frame = from_hex(text);
    auto gre = gre_in_ethernet(frame);
    REQUIRE(gre);
    return std::vector<std::byte>(gre->begin(), gre->end());
}

}  // namespace nvgre::test
