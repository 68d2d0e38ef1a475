// nvgre_emit_frames OUT.pcap: writes NVGRE frames built only with the library's reprs (outer
// IPv4 and IPv6, with and without an outer 802.1Q tag, inner IPv4/UDP and IPv6/UDP, several
// VSIDs and FlowIDs), and prints on stdout one JSON line per frame saying what was encoded.
// tshark_emitted.py dissects OUT.pcap with tshark and compares it with those lines.

#include "json_line.hpp"
#include "pcap_file.hpp"

#include <nvgre/checksum/pseudo_header.hpp>
#include <nvgre/ip_address.hpp>
#include <nvgre/mac_address.hpp>
#include <nvgre/vsid.hpp>
#include <nvgre/wire/ethernet.hpp>
#include <nvgre/wire/ip_protocol.hpp>
#include <nvgre/wire/ipv4.hpp>
#include <nvgre/wire/ipv6.hpp>
#include <nvgre/wire/nvgre.hpp>
#include <nvgre/wire/udp.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wire = nvgre::wire;

namespace {

struct frame_spec {
    bool outer_v6;
    std::uint16_t outer_vlan;  // 0: untagged
    std::uint32_t vsid;
    std::uint8_t flow_id;
    std::string_view outer_src, outer_dst;
    std::uint8_t ttl, dscp, ecn;
    bool inner_v6;
    std::string_view inner_src, inner_dst;
    std::uint16_t sport, dport;
    std::string_view payload;
};

const std::array<frame_spec, 12> specs{{
    {false, 0, 5001, 42, "192.168.10.11", "192.168.10.12", 64, 0, 0, false, "10.0.0.5", "10.0.0.6", 5000, 5001, "hello, nvgre"},
    {false, 0, 4096, 0, "192.168.10.12", "192.168.10.11", 64, 0, 0, false, "10.0.0.6", "10.0.0.5", 5001, 5000, "reply"},
    {false, 100, 0x123456, 2, "10.1.0.1", "10.1.0.2", 63, 46, 2, false, "172.16.0.1", "172.16.0.2", 40053, 33000, "abcd"},
    {false, 4094, 16777214, 255, "172.31.255.1", "172.31.255.2", 1, 10, 1, true, "fd00::5", "fd00::6", 1234, 30080, "v6 in v4"},
    {true, 0, 5001, 7, "2001:db8::11", "2001:db8::12", 64, 0, 0, false, "10.0.0.5", "10.0.0.6", 5000, 5001, "v4 in v6"},
    {true, 0, 70000, 128, "2001:db8:1::1", "2001:db8:2::2", 255, 63, 3, true, "fd00:1::1", "fd00:1::2", 30443, 55555, "v6 in v6"},
    {true, 200, 8192, 1, "2001:db8::a", "2001:db8::b", 32, 8, 0, true, "fe80::1", "fe80::2", 40546, 40547, "link-local"},
    {true, 1, 1000000, 99, "2001:db8::1:0:0:1", "2001:db8::2:0:0:2", 64, 0, 1, false, "192.168.0.1", "192.168.0.2", 40009, 40009,
     "discard"},
    {false, 0, 0xabcdef, 0xfe, "198.51.100.1", "203.0.113.1", 128, 32, 0, false, "10.9.8.7", "10.6.5.4", 1, 65535, ""},
    {false, 3000, 4097, 3, "192.0.2.1", "192.0.2.2", 64, 0, 2, true, "2001:db8:ff::1", "2001:db8:ff::2", 40007, 40007, "echo"},
    {true, 0, 0x800000, 0x80, "::ffff:0:1", "2001:db8::ffff", 64, 1, 0, false, "10.0.0.1", "10.0.0.2", 40123, 40123, "time"},
    {false, 0, 5001, 42, "192.168.10.11", "192.168.10.12", 64, 0, 0, false, "10.0.0.5", "10.0.0.7", 5000, 5002,
     "a somewhat longer payload, so that the frame is not minimal: 0123456789abcdefghijklmnopqrstuvwxyz"},
}};

/// Writes the inner Ethernet / IP / UDP frame at the start of `out`; returns its length.
std::size_t emit_inner(const frame_spec& s, std::span<std::byte> out) {
    const wire::udp_repr udp{s.sport, s.dport, static_cast<std::uint16_t>(s.payload.size())};
    wire::ethernet_repr eth{};
    eth.destination = nvgre::mac_address::parse("00:15:5d:00:00:06").value();
    eth.source = nvgre::mac_address::parse("00:15:5d:00:00:05").value();
    eth.ether_type = s.inner_v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4;
    eth.emit(out);
    auto ip = out.subspan(eth.header_len());
    std::span<std::byte> l4;
    std::uint32_t pseudo = 0;
    std::size_t ip_len = 0;
    if (s.inner_v6) {
        wire::ipv6_repr r{};
        r.source = nvgre::ipv6_address::parse(s.inner_src).value();
        r.destination = nvgre::ipv6_address::parse(s.inner_dst).value();
        r.next_header = wire::ip_protocol::udp;
        r.payload_len = static_cast<std::uint16_t>(udp.buffer_len());
        r.emit(ip);
        l4 = ip.subspan(r.header_len());
        pseudo = nvgre::checksum::ipv6_pseudo_header_sum(r.source, r.destination, wire::ip_protocol::udp,
                                                         static_cast<std::uint32_t>(udp.buffer_len()));
        ip_len = r.buffer_len();
    } else {
        wire::ipv4_repr r{};
        r.source = nvgre::ipv4_address::parse(s.inner_src).value();
        r.destination = nvgre::ipv4_address::parse(s.inner_dst).value();
        r.protocol = wire::ip_protocol::udp;
        r.payload_len = static_cast<std::uint16_t>(udp.buffer_len());
        r.emit(ip);
        l4 = ip.subspan(r.header_len());
        pseudo = nvgre::checksum::ipv4_pseudo_header_sum(r.source, r.destination, wire::ip_protocol::udp,
                                                         static_cast<std::uint16_t>(udp.buffer_len()));
        ip_len = r.buffer_len();
    }
    udp.emit(l4);
    if (!s.payload.empty()) std::memcpy(l4.data() + wire::udp_header_len, s.payload.data(), s.payload.size());
    wire::mutable_udp_view::unchecked(l4.first(udp.buffer_len())).fill_checksum(pseudo);
    return eth.header_len() + ip_len;
}

/// Builds one frame: the inner frame first, then the outer headers in the headroom before it.
std::vector<std::byte> build(const frame_spec& s) {
    constexpr std::size_t headroom = 128;
    std::vector<std::byte> buf(headroom + 1600);
    const std::size_t inner_len = emit_inner(s, std::span(buf).subspan(headroom));

    const wire::nvgre_repr nv{nvgre::vsid::make(s.vsid).value(), nvgre::flow_id{s.flow_id}};
    wire::ethernet_repr eth{};
    eth.destination = nvgre::mac_address::parse("02:00:c0:a8:0a:0c").value();
    eth.source = nvgre::mac_address::parse("02:00:c0:a8:0a:0b").value();
    if (s.outer_vlan != 0) {
        eth.tag_count = 1;
        eth.tags[0] = wire::vlan_tag{wire::ethertype::vlan, 0, false, s.outer_vlan};
    }
    eth.ether_type = s.outer_v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4;
    const auto payload_len = static_cast<std::uint16_t>(nv.header_len() + inner_len);

    std::size_t start = headroom - nv.header_len();
    nv.emit(std::span(buf).subspan(start));
    if (s.outer_v6) {
        wire::ipv6_repr r{};
        r.source = nvgre::ipv6_address::parse(s.outer_src).value();
        r.destination = nvgre::ipv6_address::parse(s.outer_dst).value();
        r.next_header = wire::ip_protocol::gre;
        r.hop_limit = s.ttl;
        r.dscp = s.dscp;
        r.ecn = s.ecn;
        r.payload_len = payload_len;
        start -= r.header_len();
        r.emit(std::span(buf).subspan(start));
    } else {
        wire::ipv4_repr r{};
        r.source = nvgre::ipv4_address::parse(s.outer_src).value();
        r.destination = nvgre::ipv4_address::parse(s.outer_dst).value();
        r.protocol = wire::ip_protocol::gre;
        r.ttl = s.ttl;
        r.dscp = s.dscp;
        r.ecn = s.ecn;
        r.dont_fragment = true;
        r.payload_len = payload_len;
        start -= r.header_len();
        r.emit(std::span(buf).subspan(start));
    }
    start -= eth.header_len();
    eth.emit(std::span(buf).subspan(start));
    return std::vector<std::byte>(buf.begin() + static_cast<std::ptrdiff_t>(start),
                                  buf.begin() + static_cast<std::ptrdiff_t>(headroom + inner_len));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: nvgre_emit_frames OUT.pcap\n");
        return 1;
    }
    example::pcap_writer out(argv[1]);
    if (!out.ok()) {
        std::fprintf(stderr, "nvgre_emit_frames: %s\n", out.error().c_str());
        return 1;
    }
    std::uint32_t n = 0;
    for (const frame_spec& s : specs) {
        const std::vector<std::byte> frame = build(s);
        out.write(frame, example::pcap_timestamp{1700000000, ++n});
        example::json_line j;
        j.member("n", n)
            .member("vsid", s.vsid)
            .member("flow_id", s.flow_id)
            .member("key", nvgre::nvgre_key(nvgre::vsid::make(s.vsid).value(), nvgre::flow_id{s.flow_id}))
            .member("outer_l3", s.outer_v6 ? "ipv6" : "ipv4")
            .member("outer_src", s.outer_src)
            .member("outer_dst", s.outer_dst);
        if (s.outer_vlan != 0) j.member("vlan", s.outer_vlan);
        else j.member("vlan", nullptr);
        j.member("ttl", s.ttl)
            .member("dscp", s.dscp)
            .member("ecn", s.ecn)
            .member("inner_src_mac", "00:15:5d:00:00:05")
            .member("inner_dst_mac", "00:15:5d:00:00:06")
            .member("inner_l3", s.inner_v6 ? "ipv6" : "ipv4")
            .member("inner_src", s.inner_src)
            .member("inner_dst", s.inner_dst)
            .member("sport", s.sport)
            .member("dport", s.dport)
            .member("len", frame.size());
        std::printf("%s\n", j.finish().c_str());
    }
    if (!out.close()) {
        std::fprintf(stderr, "nvgre_emit_frames: %s\n", out.error().c_str());
        return 1;
    }
    return 0;
}
