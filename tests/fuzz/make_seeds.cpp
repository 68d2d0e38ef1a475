// Writes the seed corpus of every fuzz target: OUT_DIR/<target>/<name>, one input per file.
//
//   make_seeds OUT_DIR
//
// The frames are built with the library's own reprs (whose bytes the wire suites check against
// scapy) from the VMs of examples/policies/two-tenants.policy — the fixed policy of the egress
// and ingress targets — so that the fuzzers start deep inside the pipelines: VM frames of every
// kind (unicast IPv4/IPv6 UDP/TCP/ICMP, routed, local, provider-routed, IP rewrite, ARP and
// neighbor solicitations, broadcast, multicast) for egress, and what egress makes of them on
// their host (NVGRE and IP-rewrite packets with valid checksums) for ingress, decap and
// packet_layout; plus a few edge cases per target (an IPv6 outer with an extension header,
// an outer VLAN tag, a GRE checksum, ECN marks, fragments). The texts are the example policies,
// one broken policy per kind of error, and address / GUID / prefix spellings; the OVSDB streams
// are one host's view of a store and the updates that follow it, as ovsdb-server sends them.
// scripts/fuzz.sh runs it before fuzzing; the replay ctests run it as a fixture.
#include "fuzz_support.hpp"
#include "support/frames.hpp"
#include "support/tcp_frames.hpp"

#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/egress.hpp"
#include "nvgre/datapath/encap.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/wire/dhcp.hpp"
#include "nvgre/wire/gre.hpp"
#include "nvgre/wire/icmp.hpp"
#include "nvgre/wire/icmpv6.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/udp.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/nvgre.hpp"
#include "nvgre/wire/packet_layout.hpp"
#include "nvgre/wire/tcp.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <cstdint>
#include <functional>
#include <fstream>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

using namespace nvgre;
using nvgre::test::ip;
using nvgre::test::mac;
using bytes = std::vector<std::byte>;

namespace {

class writer {
public:
    explicit writer(std::filesystem::path root) : root_(std::move(root)) {}
    void put(const std::string& target, std::string_view name, std::span<const std::byte> data) {
        const auto dir = root_ / target;
        std::error_code ec;
        // A target's seeds are written whole each time: what an older run left goes first.
        if (counts_.find(target) == counts_.end()) std::filesystem::remove_all(dir, ec);
        std::filesystem::create_directories(dir, ec);
        char prefix[16];
        std::snprintf(prefix, sizeof prefix, "%03d-", counts_[target]++);
        std::ofstream out(dir / (prefix + std::string(name)), std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
        ok_ = ok_ && static_cast<bool>(out);
    }
    void put(const std::string& target, std::string_view name, std::string_view text) {
        put(target, name, std::span<const std::byte>(reinterpret_cast<const std::byte*>(text.data()), text.size()));
    }
    /// One byte `selector`, then `data` (the wire_views target's input).
    void put_view(int selector, std::string_view name, std::span<const std::byte> data) {
        bytes in{std::byte{static_cast<std::uint8_t>(selector)}};
        in.insert(in.end(), data.begin(), data.end());
        put("wire_views", name, in);
    }
    [[nodiscard]] bool ok() const noexcept { return ok_; }
    [[nodiscard]] const std::map<std::string, int>& counts() const noexcept { return counts_; }

private:
    std::filesystem::path root_;
    std::map<std::string, int> counts_;
    bool ok_{true};
};

// The VMs of two-tenants.policy.
const mac_address red_web = mac("00:15:5d:00:00:05");    // hv1, 10.0.0.5 / fd00::5, VSID 5001
const mac_address red_app = mac("00:15:5d:00:00:07");    // hv1, 10.0.0.7
const mac_address red_db = mac("00:15:5d:00:00:06");     // hv2, 10.0.0.6 / fd00::6
const mac_address red_db2 = mac("00:15:5d:00:00:08");    // hv2, 10.0.1.8, VSID 5002
const mac_address red_far = mac("00:15:5d:00:00:09");    // hv3, 10.0.0.9
const mac_address red_gw = mac("00:15:5d:00:00:fe");     // hv2, gateway wildcard of 5001
const mac_address blue_web = mac("00:15:5d:00:01:05");   // hv1, 10.0.0.5, VSID 6001
const mac_address blue_db = mac("00:15:5d:00:01:06");    // hv2, 10.0.0.6
const mac_address blue_nat1 = mac("00:15:5d:00:01:07");  // hv1, 10.0.0.7, nat PA 192.168.10.21
const mac_address blue_nat2 = mac("00:15:5d:00:01:08");  // hv2, 10.0.0.8, nat PA 192.168.10.22
const mac_address red_router = policy::default_router_mac;

/// Ethernet + IPv4/IPv6 header for an L4 message of `l4_len` bytes; returns the frame with the
/// L4 bytes zero, and the offset where they start.
bytes ip_frame(const mac_address& src_mac, const mac_address& dst_mac, const ip_address& src, const ip_address& dst,
               std::uint8_t protocol, std::size_t l4_len, std::size_t& l4_at, std::uint8_t ttl = 64) {
    const bool v6 = src.is_v6();
    const std::size_t l3_len = v6 ? wire::ipv6_header_len : wire::ipv4_min_header_len;
    bytes f(wire::ethernet_header_len + l3_len + l4_len);
    wire::ethernet_repr{dst_mac, src_mac, 0, {}, v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4}.emit(f);
    const auto l3 = std::span<std::byte>(f).subspan(wire::ethernet_header_len);
    if (v6) {
        wire::ipv6_repr r;
        r.source = src.v6();
        r.destination = dst.v6();
        r.next_header = protocol;
        r.hop_limit = ttl;
        r.payload_len = static_cast<std::uint16_t>(l4_len);
        r.emit(l3);
    } else {
        wire::ipv4_repr r;
        r.source = src.v4();
        r.destination = dst.v4();
        r.protocol = protocol;
        r.ttl = ttl;
        r.dont_fragment = true;
        r.payload_len = static_cast<std::uint16_t>(l4_len);
        r.emit(l3);
    }
    l4_at = wire::ethernet_header_len + l3_len;
    return f;
}

bytes tcp_frame(const mac_address& src_mac, const mac_address& dst_mac, const ip_address& src, const ip_address& dst,
                std::size_t payload = 32) {
    wire::tcp_repr t{40000, 80, 0x01020304, 0, wire::tcp_flags::syn, 64240, 0, std::uint16_t{1460}};
    std::size_t at = 0;
    auto f = ip_frame(src_mac, dst_mac, src, dst, wire::ip_protocol::tcp, t.buffer_len(payload), at);
    const auto l4 = std::span<std::byte>(f).subspan(at);
    t.emit(l4);
    for (std::size_t i = 0; i < payload; ++i) l4[t.header_len() + i] = std::byte{static_cast<std::uint8_t>(i * 13)};
    wire::mutable_tcp_view::unchecked(l4).fill_checksum(
        checksum::pseudo_header_sum(src, dst, wire::ip_protocol::tcp, static_cast<std::uint32_t>(l4.size())));
    return f;
}

bytes icmp_echo(const mac_address& src_mac, const mac_address& dst_mac, const ip_address& src, const ip_address& dst) {
    std::size_t at = 0;
    const bool v6 = src.is_v6();
    auto f = ip_frame(src_mac, dst_mac, src, dst, v6 ? wire::ip_protocol::icmpv6 : wire::ip_protocol::icmp, 8 + 24, at);
    const auto l4 = std::span<std::byte>(f).subspan(at);
    for (std::size_t i = 8; i < l4.size(); ++i) l4[i] = std::byte{static_cast<std::uint8_t>(i)};
    if (v6) {
        wire::icmpv6_echo_repr{false, 7, 1, 24}.emit(l4);
        wire::mutable_icmpv6_view::unchecked(l4).fill_checksum(
            checksum::ipv6_pseudo_header_sum(src.v6(), dst.v6(), wire::ip_protocol::icmpv6, static_cast<std::uint32_t>(l4.size())));
    } else {
        wire::icmp_repr{wire::icmp_type::echo_request, 0, wire::icmp_repr::echo_rest(7, 1), 24}.emit(l4);
        wire::mutable_icmp_view::unchecked(l4).fill_checksum();
    }
    return f;
}

/// An ICMP(v6) error from `src` to `dst` quoting the start of `quoted` (an IP packet that
/// went from `dst` to `src`'s side): destination unreachable, port unreachable.
bytes icmp_error(const mac_address& src_mac, const mac_address& dst_mac, const ip_address& src, const ip_address& dst,
                 std::span<const std::byte> quoted) {
    const bool v6 = src.is_v6();
    const std::size_t quote = std::min<std::size_t>(quoted.size(), v6 ? 48 + 8 : 28 + 8);
    std::size_t at = 0;
    auto f = ip_frame(src_mac, dst_mac, src, dst, v6 ? wire::ip_protocol::icmpv6 : wire::ip_protocol::icmp, 8 + quote, at);
    const auto l4 = std::span<std::byte>(f).subspan(at);
    std::copy(quoted.begin(), quoted.begin() + static_cast<std::ptrdiff_t>(quote), l4.begin() + 8);
    if (v6) {
        wire::icmpv6_repr{wire::icmpv6_type::destination_unreachable, 4, 0, quote}.emit(l4);
        wire::mutable_icmpv6_view::unchecked(l4).fill_checksum(
            checksum::ipv6_pseudo_header_sum(src.v6(), dst.v6(), wire::ip_protocol::icmpv6, static_cast<std::uint32_t>(l4.size())));
    } else {
        wire::icmp_repr{wire::icmp_type::destination_unreachable, wire::icmp_code::port_unreachable, 0, quote}.emit(l4);
        wire::mutable_icmp_view::unchecked(l4).fill_checksum();
    }
    return f;
}

/// ff02::1:ffXX:XXXX for `a` (RFC 4291 section 2.7.1) and its Ethernet group 33:33:ff:XX:XX:XX.
ipv6_address solicited_node(const ipv6_address& a) {
    auto o = ipv6_address{}.octets();
    o[0] = 0xff;
    o[1] = 0x02;
    o[11] = 0x01;
    o[12] = 0xff;
    o[13] = a.octets()[13];
    o[14] = a.octets()[14];
    o[15] = a.octets()[15];
    return ipv6_address{o};
}

/// A neighbor solicitation for `target` from (`src_mac`, `src`); `src` :: makes it DAD.
bytes neighbor_solicitation(const mac_address& src_mac, const ipv6_address& src, const ipv6_address& target) {
    const bool dad = src.is_unspecified();
    const wire::icmpv6_ns_repr ns{target, dad ? std::nullopt : std::optional<mac_address>(src_mac)};
    const ipv6_address dst = solicited_node(target);
    const auto& d = dst.octets();
    const mac_address dst_mac{{0x33, 0x33, d[12], d[13], d[14], d[15]}};
    std::size_t at = 0;
    auto f = ip_frame(src_mac, dst_mac, ip_address{src}, ip_address{dst}, wire::ip_protocol::icmpv6, ns.buffer_len(), at, 255);
    ns.emit(std::span<std::byte>(f).subspan(at),
            checksum::ipv6_pseudo_header_sum(src, dst, wire::ip_protocol::icmpv6, static_cast<std::uint32_t>(ns.buffer_len())));
    return f;
}

/// `f` (Ethernet / IPv6 / payload) with an 8-byte Destination Options header (PadN) inserted.
bytes with_destination_options(const bytes& f) {
    constexpr std::size_t l3 = wire::ethernet_header_len;
    bytes out(f.begin(), f.begin() + l3 + wire::ipv6_header_len);
    auto ip = wire::mutable_ipv6_view::unchecked(std::span<std::byte>(out).subspan(l3));
    const std::uint8_t next = ip.next_header();
    ip.set_next_header(wire::ip_protocol::ipv6_destination_options);
    ip.set_payload_len(static_cast<std::uint16_t>(ip.payload_len() + 8));
    const std::byte opts[8] = {std::byte{next}, std::byte{0}, std::byte{1}, std::byte{4}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}};
    out.insert(out.end(), std::begin(opts), std::end(opts));
    out.insert(out.end(), f.begin() + l3 + wire::ipv6_header_len, f.end());
    return out;
}

/// `f` with an 802.1Q tag of VLAN `vid` after the MAC addresses.
bytes tagged(const bytes& f, std::uint16_t vid) {
    bytes out(f.begin(), f.begin() + 12);
    const std::byte tag[4] = {std::byte{0x81}, std::byte{0x00}, std::byte{static_cast<std::uint8_t>(vid >> 8)},
                              std::byte{static_cast<std::uint8_t>(vid)}};
    out.insert(out.end(), std::begin(tag), std::end(tag));
    out.insert(out.end(), f.begin() + 12, f.end());
    return out;
}

/// `inner` in NVGRE, the way encap builds it, from `from` to `to` (any addresses).
bytes wrap(const bytes& inner, const ip_address& from, const ip_address& to, std::uint32_t vsid, std::uint16_t vlan = 0) {
    test::buffer b(inner);
    const datapath::encap_params p{mac("02:00:c0:a8:0a:0c"), mac("02:00:c0:a8:0a:0b"), vlan, from, to, *nvgre::vsid::make(vsid)};
    if (!datapath::encapsulate(b.f, p)) fuzz::invariant_broken("seed encapsulation", __FILE__, __LINE__);
    return b.bytes();
}

/// `inner` behind an IPv4 outer header and an NVGRE header with key `key` written as given
/// (reserved VSIDs, tagged inner frames: what encap refuses to build).
bytes raw_nvgre(const bytes& inner, std::uint32_t key) {
    std::size_t at = 0;
    auto f = ip_frame(mac("02:00:c0:a8:0a:0c"), mac("02:00:c0:a8:0a:0b"), ip("192.168.10.12"), ip("192.168.10.11"),
                      wire::ip_protocol::gre, wire::nvgre_header_len + inner.size(), at);
    nvgre::detail::store_be32(f.data() + at, wire::nvgre_first_word);
    nvgre::detail::store_be32(f.data() + at + 4, key);
    std::copy(inner.begin(), inner.end(), f.begin() + static_cast<std::ptrdiff_t>(at + wire::nvgre_header_len));
    return f;
}

/// An IPv4 outer packet with a GRE header of flags `flags` (C, K, S as asked; checksum filled).
bytes gre_frame(const bytes& inner, bool checksum, std::optional<std::uint32_t> key, std::optional<std::uint32_t> seq) {
    const wire::gre_repr g{checksum, key, seq, wire::ethertype::transparent_ethernet_bridging};
    std::size_t at = 0;
    auto f = ip_frame(mac("02:00:c0:a8:0a:0c"), mac("02:00:c0:a8:0a:0b"), ip("192.168.10.12"), ip("192.168.10.11"),
                      wire::ip_protocol::gre, g.buffer_len() + inner.size(), at);
    const auto gre = std::span<std::byte>(f).subspan(at);
    g.emit(gre);
    std::copy(inner.begin(), inner.end(), gre.begin() + static_cast<std::ptrdiff_t>(g.header_len()));
    g.fill_checksum(gre);
    return f;
}

struct vm_frame {
    std::string name;
    mac_address port;
    bytes frame;
};

std::vector<vm_frame> vm_frames() {
    using test::arp_request;
    using test::udp_frame;
    std::vector<vm_frame> v;
    const auto add = [&v](std::string name, const mac_address& port, bytes f) { v.push_back({std::move(name), port, std::move(f)}); };
    add("red-web-to-red-db-udp4", red_web, udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")));
    add("red-web-to-red-db-tcp4", red_web, tcp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")));
    add("red-web-to-red-db-udp6", red_web, udp_frame(red_web, red_db, ip("fd00::5"), ip("fd00::6")));
    add("red-web-to-red-db-tcp6", red_web, tcp_frame(red_web, red_db, ip("fd00::5"), ip("fd00::6")));
    add("red-web-to-red-db-ping4", red_web, icmp_echo(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")));
    add("red-web-to-red-db-ping6", red_web, icmp_echo(red_web, red_db, ip("fd00::5"), ip("fd00::6")));
    add("red-web-to-red-db-ecn-ce", red_web, udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"), 18, 64, 0xbb));
    add("red-web-to-red-db-udp6-destopts", red_web, with_destination_options(udp_frame(red_web, red_db, ip("fd00::5"), ip("fd00::6"))));
    add("red-web-to-red-app-local", red_web, udp_frame(red_web, red_app, ip("10.0.0.5"), ip("10.0.0.7")));
    add("red-web-to-red-db2-routed", red_web, udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.1.8")));
    add("red-web-to-red-db2-routed-ttl1", red_web, udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.1.8"), 18, 1));
    add("red-web-to-red-far-provider-route", red_web, udp_frame(red_web, red_far, ip("10.0.0.5"), ip("10.0.0.9")));
    add("red-web-no-record", red_web, udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.99")));
    add("red-web-no-route", red_web, udp_frame(red_web, red_db, ip("10.0.0.5"), ip("172.16.0.1")));
    add("red-web-spoofed-source", red_web, udp_frame(red_web, red_db, ip("10.0.0.6"), ip("10.0.0.5")));
    add("red-web-vlan-tagged", red_web, tagged(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6")), 100));
    add("red-web-broadcast", red_web, udp_frame(red_web, mac_address::broadcast(), ip("10.0.0.5"), ip("10.0.0.255")));
    add("red-web-mld-from-unspecified", red_web, udp_frame(red_web, mac("33:33:00:00:00:16"), ip("::"), ip("ff02::16")));
    add("red-web-multicast-link-local", red_web,
        udp_frame(red_web, mac("33:33:00:00:00:01"), ip("fe80::215:5dff:fe00:5"), ip("ff02::1")));
    add("red-web-arp-red-db", red_web, arp_request(red_web, ip("10.0.0.5"), ip("10.0.0.6")));
    add("red-web-arp-gateway", red_web, arp_request(red_web, ip("10.0.0.5"), ip("10.0.0.1")));
    add("red-web-arp-red-db2", red_web, arp_request(red_web, ip("10.0.0.5"), ip("10.0.1.8")));
    add("red-web-arp-unknown", red_web, arp_request(red_web, ip("10.0.0.5"), ip("10.0.0.99")));
    add("red-web-ns-red-db", red_web, neighbor_solicitation(red_web, ip("fd00::5").v6(), ip("fd00::6").v6()));
    add("red-web-ns-gateway", red_web, neighbor_solicitation(red_web, ip("fd00::5").v6(), ip("fd00::1").v6()));
    add("red-web-ns-link-local", red_web, neighbor_solicitation(red_web, ip("fe80::215:5dff:fe00:5").v6(), ip("fd00::6").v6()));
    add("red-web-ns-dad", red_web, neighbor_solicitation(red_web, ipv6_address{}, ip("fd00::5").v6()));
    add("red-app-to-red-web-local", red_app, tcp_frame(red_app, red_web, ip("10.0.0.7"), ip("10.0.0.5")));
    add("blue-web-to-blue-db", blue_web, udp_frame(blue_web, blue_db, ip("10.0.0.5"), ip("10.0.0.6")));
    add("blue-web-to-blue-nat1-local", blue_web, udp_frame(blue_web, blue_nat1, ip("10.0.0.5"), ip("10.0.0.7")));
    const auto nat_udp = udp_frame(blue_nat1, blue_nat2, ip("10.0.0.7"), ip("10.0.0.8"));
    add("blue-nat1-to-blue-nat2-udp", blue_nat1, nat_udp);
    add("blue-nat1-to-blue-nat2-tcp", blue_nat1, tcp_frame(blue_nat1, blue_nat2, ip("10.0.0.7"), ip("10.0.0.8")));
    add("blue-nat1-to-blue-nat2-ping", blue_nat1, icmp_echo(blue_nat1, blue_nat2, ip("10.0.0.7"), ip("10.0.0.8")));
    add("blue-nat1-to-blue-nat2-icmp-error", blue_nat1,
        icmp_error(blue_nat1, blue_nat2, ip("10.0.0.7"), ip("10.0.0.8"),
                   std::span<const std::byte>(udp_frame(blue_nat2, blue_nat1, ip("10.0.0.8"), ip("10.0.0.7"))).subspan(14)));
    add("blue-nat1-to-blue-db-nat-mismatch", blue_nat1, udp_frame(blue_nat1, blue_db, ip("10.0.0.7"), ip("10.0.0.6")));
    add("blue-nat1-arp-blue-nat2", blue_nat1, arp_request(blue_nat1, ip("10.0.0.7"), ip("10.0.0.8")));
    add("red-db-to-red-web", red_db, udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5")));
    add("red-db-to-red-web-udp6", red_db, udp_frame(red_db, red_web, ip("fd00::6"), ip("fd00::5")));
    add("red-db-broadcast", red_db, udp_frame(red_db, mac_address::broadcast(), ip("10.0.0.6"), ip("10.0.0.255")));
    add("red-db2-to-red-web-routed", red_db2, udp_frame(red_db2, red_router, ip("10.0.1.8"), ip("10.0.0.5")));
    add("red-gw-any-source", red_gw, udp_frame(red_gw, red_web, ip("8.8.8.8"), ip("10.0.0.5")));
    add("blue-db-to-blue-web", blue_db, tcp_frame(blue_db, blue_web, ip("10.0.0.6"), ip("10.0.0.5")));
    add("blue-nat2-to-blue-nat1", blue_nat2, udp_frame(blue_nat2, blue_nat1, ip("10.0.0.8"), ip("10.0.0.7")));
    add("red-far-to-red-web", red_far, udp_frame(red_far, red_web, ip("10.0.0.9"), ip("10.0.0.5")));
    // Wire rule 7: too big for the 1500-byte underlay once encapsulated.
    test::tcp_frame_spec big;
    big.payload_len = 1460;  // DF: answered too big (or segmented, odd lengths: the target's gso)
    add("red-web-to-red-db-tcp4-too-big", red_web, test::tcp_frame(big));
    big.payload_len = 2999;
    add("red-web-to-red-db-tcp4-segments", red_web, test::tcp_frame(big));
    test::tcp_frame_spec big6 = big;
    big6.src = ip("fd00::5");
    big6.dst = ip("fd00::6");
    big6.payload_len = 1500;
    add("red-web-to-red-db-tcp6-too-big", red_web, test::tcp_frame(big6));
    test::tcp_frame_spec frag;
    frag.protocol = 17;
    frag.dont_fragment = false;
    frag.payload_len = 3000;
    add("red-web-to-red-db-udp4-fragments", red_web, test::tcp_frame(frag));
    return v;
}

/// Where the frame's bytes are: Ethernet payload, L4 (after an option-less IP header).
std::span<const std::byte> l3_of(const bytes& f) { return std::span<const std::byte>(f).subspan(wire::ethernet_header_len); }
std::span<const std::byte> l4_of(const bytes& f) {
    const auto l3 = l3_of(f);
    const bool v6 = (std::to_integer<unsigned>(l3[0]) >> 4) == 6;
    return l3.subspan(v6 ? wire::ipv6_header_len : wire::ipv4_min_header_len);
}

void policy_texts(writer& w) {
    for (const char* name : {"two-tenants.policy", "red-blue.policy", "demo.policy"}) {
        std::ifstream in(std::string(NVGRE_SOURCE_DIR) + "/examples/policies/" + name, std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        w.put("loader", name, text);
    }
    const std::string pa = "provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b\n";
    const std::string rd = "routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red\n";
    const std::string vs = "virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1,fd00::1\n";
    const std::string cr = "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0\n";
    const std::string lr = "lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web\n";
    const std::string base = pa + rd + vs + cr + lr;
    // A NUL, a byte above 0x7f and a terminal escape sequence in a name.
    static constexpr char hostile[] = "routing-domain rdid={22222222-2222-2222-2222-222222222222} name=a\x00\xff\x1b[31m";
    const std::pair<const char*, std::string> cases[] = {
        {"minimal", base},
        {"crlf-comments-blank", "# comment\r\n\r\n" + pa + "  \t# indented comment\n" + rd},
        {"unknown-kind", base + "tenant name=red\n"},
        {"unknown-key", base + "routing-domain rdid={22222222-2222-2222-2222-222222222222} colour=blue\n"},
        {"missing-key", base + "lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06\n"},
        {"key-twice", base + "routing-domain rdid={22222222-2222-2222-2222-222222222222} name=a name=b\n"},
        {"no-equals", base + "routing-domain rdid\n"},
        {"bad-mac", base + "lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00 pa=192.168.10.11\n"},
        {"bad-ip", base + "lookup-record vsid=5001 ca=10.0.0.256 mac=00:15:5d:00:00:06 pa=192.168.10.11\n"},
        {"bad-guid", "routing-domain rdid={1234}\n"},
        {"reserved-vsid", base + "virtual-subnet vsid=4095 rdid={11111111-1111-1111-1111-111111111111}\n"},
        {"vsid-too-big", base + "virtual-subnet vsid=16777215 rdid={11111111-1111-1111-1111-111111111111}\n"},
        {"prefix-too-long", base + "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/33 next-hop=0.0.0.0\n"},
        {"host-bits", base + "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.1/24 next-hop=0.0.0.0\n"},
        {"domain-twice", base + rd},
        {"vsid-twice", base + vs},
        {"undeclared-domain", base + "virtual-subnet vsid=5002 rdid={33333333-3333-3333-3333-333333333333}\n"},
        {"undeclared-vsid", base + "lookup-record vsid=7777 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11\n"},
        {"route-vsid-other-domain", base + "routing-domain rdid={22222222-2222-2222-2222-222222222222}\n"
                                          "customer-route rdid={22222222-2222-2222-2222-222222222222} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0\n"},
        {"ca-twice", base + "lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:06 pa=192.168.10.11\n"},
        {"wildcard-not-zero", base + "lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11 type=gateway-wildcard\n"},
        {"pa-undeclared", base + "lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.99\n"},
        {"nat-pa-shared", base + "lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 rule=nat\n"},
        {"nat-version-mismatch", base + "lookup-record vsid=5001 ca=fd00::6 mac=00:15:5d:00:00:06 pa=192.168.10.11 rule=nat\n"},
        {"mac-two-vsids", base + "virtual-subnet vsid=5002 rdid={11111111-1111-1111-1111-111111111111}\n"
                                 "lookup-record vsid=5002 ca=10.0.1.5 mac=00:15:5d:00:00:05 pa=192.168.10.11\n"},
        {"provider-route-and-vlan", base + "provider-address host=hv2 pa=192.168.20.12 prefix-length=24 mac=02:00:c0:a8:14:0c vlan=20\n"
                                           "provider-route host=hv1 prefix=192.168.20.0/24 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:fe metric=10\n"},
        {"ipv6-everything", "provider-address host=hv1 pa=2001:db8::11 prefix-length=64 mac=02:00:00:00:00:11\n" + rd +
                                "virtual-subnet vsid=5001 rdid=11111111-1111-1111-1111-111111111111 gateway=fd00::1\n"
                                "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=fd00::/64 next-hop=::\n"
                                "lookup-record vsid=5001 ca=fd00::5 mac=00-15-5D-00-00-05 pa=2001:db8::11 rule=nat\n"
                                "lookup-record vsid=5001 ca=:: mac=00:15:5d:00:00:fe pa=2001:db8::11 type=gateway-wildcard\n"},
        {"nul-and-high-bytes", base + std::string(hostile, sizeof hostile - 1) + "\n"},
    };
    for (const auto& [name, text] : cases) w.put("loader", name, text);
}

/// Change sets for the change_set target, against examples/policies/two-tenants.policy: a
/// migration, a new subnet, removals, every error kind.
void change_set_texts(writer& w) {
    const std::pair<const char*, const char*> cases[] = {
        {"migration", "# red-db moves to hv1\n"
                      "+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db\n"
                      "+ lookup-record vsid=5001 ca=fd00::6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db\n"},
        {"new-subnet", "+ virtual-subnet vsid=5003 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.3.1\n"
                       "+ customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5003 prefix=10.0.3.0/24 next-hop=0.0.0.0\n"
                       "+ lookup-record vsid=5003 ca=10.0.3.5 mac=00:15:5d:00:03:05 pa=192.168.10.12\n"},
        {"removals", "- lookup-record vsid=6001 ca=10.0.0.6\n- lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fe\n"
                     "- customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5002 prefix=10.0.1.0/24\n"},
        {"routes", "+ customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.9.0.0/16 next-hop=10.0.0.5 metric=10\n"
                   "+ provider-route host=hv2 prefix=192.168.20.0/24 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:fe\n"},
        {"errors", "x lookup-record vsid=5001 ca=10.0.0.6\n- routing-domain rdid={11111111-1111-1111-1111-111111111111}\n"
                   "- lookup-record vsid=5001 ca=10.0.0.99\n+ lookup-record vsid=5001 ca=10.0.0.8 mac=00:15:5d:00:00:05 pa=192.168.10.99\n"
                   "+ lookup-record vsid=5001 ca=10.0.0.8 mac=00:15:5d:00:00:08 pa=192.168.10.12\n- lookup-record vsid=5001 ca=0.0.0.0\n"},
        {"pa-moves-host", "- provider-address host=hv2 pa=192.168.10.22\n"
                          "+ provider-address host=hv3 pa=192.168.10.22 prefix-length=24 mac=02:00:c0:a8:0a:16\n"},
    };
    for (const auto& [name, text] : cases) w.put("change_set", name, std::string_view(text));
}

void address_texts(writer& w) {
    const char* texts[] = {
        "10.0.0.5", "0.0.0.0", "255.255.255.255", "010.0.0.1", "1.2.3", "1.2.3.4.5", "256.0.0.1",
        "::", "::1", "fd00::5", "fe80::215:5dff:fe00:5", "2001:db8:0:0:1:0:0:1", "2001:DB8::1", "::ffff:192.0.2.1",
        "64:ff9b::192.0.2.33", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "1::2::3", ":::", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0",
        "10.0.0.0/24", "fd00::/64", "10.0.0.1/24", "0.0.0.0/0", "::/0", "10.0.0.0/33", "10.0.0.0/024",
        "00:15:5d:00:00:05", "00-15-5D-00-00-05", "00:15-5d:00:00:05", "ff:ff:ff:ff:ff:ff",
        "{8a7d9a4c-53c0-4b1c-9b62-0a1b2c3d4e5f}", "8A7D9A4C-53C0-4B1C-9B62-0A1B2C3D4E5F", "{8a7d9a4c53c04b1c9b620a1b2c3d4e5f}",
        "4096", "16777214", "16777215", "4095", "05001", "5001",
    };
    for (const char* t : texts) w.put("text", "text", std::string_view(t));
}


/// pcapng files for the pcapng_reader target, built block by block: the shapes nvgre-pcap
/// meets (Wireshark's interfaces with different snapshot lengths and link types, tcpdump's
/// RAW and cooked captures, both byte orders, simple and obsolete packet blocks, timestamp
/// resolutions and offsets, several sections) and a few broken ones.
void pcapng_files(writer& w) {
    struct file {
        bool big{false};
        std::vector<std::byte> b;
        void u8(std::uint8_t v) { b.push_back(std::byte{v}); }
        void u16(std::uint16_t v) {
            for (int i = 0; i < 2; ++i) u8(static_cast<std::uint8_t>(big ? v >> (8 * (1 - i)) : v >> (8 * i)));
        }
        void u32(std::uint32_t v) {
            for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(big ? v >> (8 * (3 - i)) : v >> (8 * i)));
        }
        void u64(std::uint64_t v) {
            u32(static_cast<std::uint32_t>(big ? v >> 32 : v));
            u32(static_cast<std::uint32_t>(big ? v : v >> 32));
        }
        /// A block: type, length, body (padded to 4), length.
        void block(std::uint32_t type, const std::vector<std::byte>& body) {
            const auto padded = static_cast<std::uint32_t>((body.size() + 3) & ~std::size_t{3});
            u32(type);
            u32(12 + padded);
            b.insert(b.end(), body.begin(), body.end());
            for (std::size_t i = body.size(); i < padded; ++i) u8(0);
            u32(12 + padded);
        }
        std::vector<std::byte> body(const std::function<void(file&)>& fill) const {
            file f{big, {}};
            fill(f);
            return f.b;
        }
        void section() {
            block(0x0A0D0D0Au, body([](file& f) {
                f.u32(0x1A2B3C4Du);
                f.u16(1);
                f.u16(0);
                f.u64(~std::uint64_t{0});
            }));
        }
        void interface(std::uint16_t link_type, std::uint32_t snaplen, int tsresol = -1, std::int64_t tsoffset = 0) {
            block(1, body([&](file& f) {
                f.u16(link_type);
                f.u16(0);
                f.u32(snaplen);
                if (tsresol >= 0) {
                    f.u16(9);
                    f.u16(1);
                    f.u8(static_cast<std::uint8_t>(tsresol));
                    f.u8(0), f.u8(0), f.u8(0);
                }
                if (tsoffset != 0) {
                    f.u16(14);
                    f.u16(8);
                    f.u64(static_cast<std::uint64_t>(tsoffset));
                }
                f.u16(0), f.u16(0);
            }));
        }
        void packet(std::uint32_t iface, std::span<const std::byte> data, std::uint64_t ts = 1'700'000'000'000'000ull) {
            block(6, body([&](file& f) {
                f.u32(iface);
                f.u32(static_cast<std::uint32_t>(ts >> 32));
                f.u32(static_cast<std::uint32_t>(ts));
                f.u32(static_cast<std::uint32_t>(data.size()));
                f.u32(static_cast<std::uint32_t>(data.size()));
                f.b.insert(f.b.end(), data.begin(), data.end());
            }));
        }
        void simple(std::span<const std::byte> data) {
            block(3, body([&](file& f) {
                f.u32(static_cast<std::uint32_t>(data.size()));
                f.b.insert(f.b.end(), data.begin(), data.end());
            }));
        }
    };
    const bytes ether = test::udp_frame(test::mac("00:15:5d:00:00:05"), test::mac("00:15:5d:00:00:06"),
                                        ip("10.0.0.5"), ip("10.0.0.6"));
    const std::span<const std::byte> l3 = std::span<const std::byte>(ether).subspan(14);

    file wireshark;  // two interfaces, different snapshot lengths and link types
    wireshark.section();
    wireshark.interface(1, 262144);
    wireshark.interface(101, 65535, 9);
    wireshark.packet(0, ether);
    wireshark.packet(1, l3);
    w.put("pcapng_reader", "two-interfaces", wireshark.b);

    file swapped{true, {}};  // big-endian writer, cooked capture, offset timestamps
    swapped.section();
    swapped.interface(276, 0, 0x80 | 20, 3600);
    swapped.packet(0, ether);
    swapped.simple(ether);
    w.put("pcapng_reader", "big-endian-sll2", swapped.b);

    file sections;  // two sections: interface ids count from 0 again
    sections.section();
    sections.interface(1, 128);
    sections.simple(ether);
    sections.section();
    sections.interface(113, 96, 6);
    sections.packet(0, ether);
    sections.block(0x0BADu, std::vector<std::byte>(5, std::byte{0x11}));  // unknown block: skipped
    w.put("pcapng_reader", "two-sections", sections.b);

    file bad_interface = wireshark;  // a packet naming an interface that is not there
    bad_interface.packet(7, ether);
    w.put("pcapng_reader", "bad-interface", bad_interface.b);

    std::vector<std::byte> cut = wireshark.b;  // cut inside the last block
    cut.resize(cut.size() - 5);
    w.put("pcapng_reader", "cut-short", cut);
}

/// Streams of an OVSDB store's messages for the ovsdb_updates target (byte 0: where the stream
/// is cut in two, then the JSON texts back to back as ovsdb-server sends them): hv1's view of
/// a store of nvgre.ovsschema (its monitor's initial rows: both PAs its records name, a
/// provider route, the domain, a subnet with a gateway set, customer routes, records incl. a
/// gateway wildcard and one with a classification, the classification), then what the store
/// sends later: a record's PA modified (a migration), the subnet's gateway set modified (a
/// diff), a delete, a row the text cannot hold, a record the sink refuses until its PA comes,
/// an update2 (not the agent's), a reply, an echo request.
void ovsdb_update_streams(writer& w) {
    const auto update = [](std::string_view txn, std::string_view tables) {
        return R"({"id":null,"method":"update3","params":["nvgre",")" + std::string(txn) + "\"," + std::string(tables) + "]}";
    };
    const std::string initial = update("5a0c2e64-93b1-4f0e-8d7a-1c2b3a4d5e01",
        R"({"Provider_Address":{)"
        R"("0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e01":{"initial":{"host":"hv1","mac":"02:00:c0:a8:0a:0b","pa":"192.168.10.11","prefix_length":24,"vlan":["set",[]]}},)"
        R"("0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e02":{"initial":{"host":"hv2","mac":"02:00:c0:a8:0a:0c","pa":"192.168.10.12","prefix_length":24,"vlan":["set",[]]}}},)"
        R"("Provider_Route":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e03":{"initial":{"host":"hv1","metric":256,"next_hop":"192.168.10.1","next_hop_mac":"02:00:00:00:00:01","prefix":"10.9.0.0/16"}}},)"
        R"("Routing_Domain":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e04":{"initial":{"name":"red","rdid":"{11111111-1111-1111-1111-111111111111}","router_mac":["set",[]]}}},)"
        R"("Virtual_Subnet":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e05":{"initial":{"dhcp":false,"dns":["set",[]],"gateway":["set",["10.0.0.1","fd00::1"]],"lease_seconds":["set",[]],"rdid":"{11111111-1111-1111-1111-111111111111}","vsid":5001}}},)"
        R"("Customer_Route":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e06":{"initial":{"metric":256,"next_hop":"0.0.0.0","prefix":"10.0.0.0/24","rdid":"{11111111-1111-1111-1111-111111111111}","vsid":5001}},)"
        R"("0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e07":{"initial":{"metric":256,"next_hop":"::","prefix":"fd00::/64","rdid":"{11111111-1111-1111-1111-111111111111}","vsid":5001}}},)"
        R"("Lookup_Record":{)"
        R"("0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e08":{"initial":{"ca":"10.0.0.5","classification":"capped","mac":"00:15:5d:00:00:05","pa":"192.168.10.11","rule":["set",[]],"type":["set",[]],"vm":"red-web","vsid":5001}},)"
        R"("0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e09":{"initial":{"ca":"10.0.0.6","classification":["set",[]],"mac":"00:15:5d:00:00:06","pa":"192.168.10.12","rule":["set",[]],"type":["set",[]],"vm":"red-db","vsid":5001}},)"
        R"("0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e0a":{"initial":{"ca":"0.0.0.0","classification":["set",[]],"mac":"00:15:5d:00:00:fe","pa":"192.168.10.12","rule":["set",[]],"type":"gateway-wildcard","vm":["set",[]],"vsid":5001}},)"
        R"("0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e0b":{"initial":{"ca":"fd00::5","classification":"capped","mac":"00:15:5d:00:00:05","pa":"192.168.10.11","rule":"encap","type":"static","vm":"red-web","vsid":5001}}},)"
        R"("Port_Classification":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e0c":{"initial":{"allow_mac_spoofing":false,"dhcp_guard":true,"maximum_bandwidth":100000000,"maximum_burst":["set",[]],"name":"capped","outer_dscp":["set",[]],"router_guard":true}}}})");
    const std::string migrate = update("5a0c2e64-93b1-4f0e-8d7a-1c2b3a4d5e02",
        R"({"Lookup_Record":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e09":{"modify":{"pa":"192.168.10.11"}}}})");
    // The difference of the gateway set: fd00::1 (in it) goes; dns gets one server (a bare atom).
    const std::string gateways = update("5a0c2e64-93b1-4f0e-8d7a-1c2b3a4d5e03",
        R"({"Virtual_Subnet":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e05":{"modify":{"dhcp":true,"dns":"10.0.0.53","gateway":["set",["fd00::1"]]}}}})");
    const std::string remove = update("5a0c2e64-93b1-4f0e-8d7a-1c2b3a4d5e04",
        R"({"Lookup_Record":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e0a":{"delete":null}}})");
    const std::string bad_row = update("5a0c2e64-93b1-4f0e-8d7a-1c2b3a4d5e05",
        R"({"Lookup_Record":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e0d":{"insert":{"ca":"10.0.0.7","mac":"00:15:5d:00:00:07","pa":"192.168.10.11","vm":"red app","vsid":5001}}}})");
    const std::string orphan = update("5a0c2e64-93b1-4f0e-8d7a-1c2b3a4d5e06",
        R"({"Lookup_Record":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e0e":{"insert":{"ca":"10.0.0.9","mac":"00:15:5d:00:00:09","pa":"192.168.10.13","vsid":5001}}}})");
    const std::string its_pa = update("5a0c2e64-93b1-4f0e-8d7a-1c2b3a4d5e07",
        R"({"Provider_Address":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e0f":{"insert":{"host":"hv3","mac":"02:00:c0:a8:0a:0d","pa":"192.168.10.13","prefix_length":24}}}})");
    const std::string update2 =
        R"({"id":null,"method":"update2","params":["nvgre",{"Lookup_Record":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e08":{"delete":null}}}]})";
    const std::string reply = R"({"error":null,"id":2,"result":[{}]})";
    const std::string echo = R"({"id":"echo","method":"echo","params":[]})";

    // The second row of one identity (held back until one goes), an identity changed by a
    // modify, values of the wrong type or out of range for the text.
    const std::string twin = update("5a0c2e64-93b1-4f0e-8d7a-1c2b3a4d5e08",
        R"({"Lookup_Record":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e10":{"insert":{"ca":"10.0.0.6","mac":"00:15:5d:00:00:66","pa":"192.168.10.11","vsid":5001}}}})");
    const std::string twin_gone = update("5a0c2e64-93b1-4f0e-8d7a-1c2b3a4d5e09",
        R"({"Lookup_Record":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e09":{"delete":null}}})");
    const std::string new_ca = update("5a0c2e64-93b1-4f0e-8d7a-1c2b3a4d5e0a",
        R"({"Lookup_Record":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e09":{"modify":{"ca":"10.0.0.16","vm":["set",[]]}}}})");
    const std::string bad_types = update("5a0c2e64-93b1-4f0e-8d7a-1c2b3a4d5e0b",
        R"({"Port_Classification":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e0c":{"modify":{"maximum_bandwidth":1.5e3,"outer_dscp":-1}}},)"
        R"("Virtual_Subnet":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e05":{"modify":{"vsid":["uuid","0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e05"],"dns":["set",["10.0.0.53","a,b"]]}}},)"
        R"("Routing_Domain":{"0a6c1f52-3e7b-4c9d-8f21-5b4d3c2a1e04":{"modify":{"name":"r#d\n"}}},"Nope":{},"Lookup_Record":{"x":{"explode":1}}})");

    const auto stream = [](std::uint8_t cut, std::initializer_list<std::string_view> messages) {
        std::string s(1, static_cast<char>(cut));
        for (const std::string_view m : messages) s += m;
        return s;
    };
    w.put("ovsdb_updates", "initial", stream(0x80, {initial}));
    w.put("ovsdb_updates", "stream", stream(0x80, {initial, migrate, gateways, remove, bad_row, orphan, its_pa, update2, reply, echo}));
    w.put("ovsdb_updates", "stream-whole", stream(0xff, {initial, migrate, gateways, remove, bad_row, orphan, its_pa, update2, reply, echo}));
    w.put("ovsdb_updates", "stream-cut-early", stream(0x03, {initial, migrate, gateways, remove, bad_row, orphan, its_pa, update2, reply, echo}));
    w.put("ovsdb_updates", "refused-then-its-pa", stream(0x40, {initial, orphan, echo, its_pa}));
    w.put("ovsdb_updates", "two-rows-one-identity", stream(0x20, {initial, twin, twin_gone}));
    w.put("ovsdb_updates", "identity-changes", stream(0xc0, {initial, new_ca, remove}));
    w.put("ovsdb_updates", "bad-types", stream(0x60, {initial, bad_types}));
    w.put("ovsdb_updates", "blanks-between", stream(0x10, {"\r\n", echo, " \t", reply, "\n"}));
    w.put("ovsdb_updates", "not-json-after", stream(0x90, {initial, "\n", migrate, "x", remove}));
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds OUT_DIR\n");
        return 2;
    }
    writer w{std::filesystem::path(argv[1])};
    const auto& hnv = fuzz::hnv::get();

    // egress: VM frames; ingress / decap / packet_layout / gre: what egress makes of them;
    // burst: the same, as whole bursts per host (byte 0: host, bit 7 ingress; byte 1: config).
    std::array<std::vector<bytes>, 3> egress_bursts, ingress_bursts;
    for (const vm_frame& v : vm_frames()) {
        w.put("egress", v.name, v.frame);
        w.put_view(0, v.name, v.frame);
        w.put_view(8, v.name, v.frame);
        for (std::size_t h = 0; h < hnv.hosts.size(); ++h) {
            const policy::state& s = hnv.hosts[h];
            if (s.port(v.port) == nullptr) continue;
            egress_bursts[h].push_back(v.frame);
            test::buffer b(v.frame);
            fuzz::pool_sink sink;
            const auto o = datapath::egress(s, v.port, b.f, sink);
            std::vector<bytes> outputs;
            if (o.verdict == datapath::verdict::encap || o.verdict == datapath::verdict::rewrite) outputs.push_back(b.bytes());
            for (const auto& sent : sink.out)
                if (sent.to.to == datapath::destination::kind::fabric) outputs.push_back(sent.bytes);
            for (const bytes& out : outputs) {
                for (std::size_t peer = 0; peer < hnv.hosts.size(); ++peer)
                    if (&hnv.hosts[peer] == hnv.host_of(o.pa)) ingress_bursts[peer].push_back(out);
                const std::string name = v.name + "-" + std::string(datapath::to_string(o.verdict));
                w.put("ingress", name, out);
                w.put("decap", name, out);
                w.put("packet_layout", name, out);
                const auto l = wire::parse_packet_layout(out);
                if (l.kind == wire::frame_kind::nvgre)
                    w.put("gre", name, std::span<const std::byte>(out).subspan(l.gre_offset, l.outer_l3_end - l.gre_offset));
            }
        }
        // The views: each header of the frame on its own.
        const auto l3 = l3_of(v.frame);
        const std::uint16_t type = wire::ethernet_view::unchecked(std::span<const std::byte>(v.frame)).ether_type();
        if (type == wire::ethertype::arp) w.put_view(1, v.name, l3);
        if (type == wire::ethertype::ipv4 || type == wire::ethertype::ipv6) {
            w.put_view(type == wire::ethertype::ipv4 ? 2 : 3, v.name, l3);
            const std::uint8_t proto = type == wire::ethertype::ipv4 ? wire::ipv4_view::unchecked(l3).protocol()
                                                                     : wire::ipv6_view::unchecked(l3).next_header();
            const int view = proto == wire::ip_protocol::tcp      ? 4
                             : proto == wire::ip_protocol::udp    ? 5
                             : proto == wire::ip_protocol::icmp   ? 6
                             : proto == wire::ip_protocol::icmpv6 ? 7
                                                                  : -1;
            if (view >= 0) w.put_view(view, v.name, l4_of(v.frame));
        }
    }

    // Frames no host of the policy makes: other outer shapes, GRE options, ECN, fragments.
    const auto inner = test::udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5"));
    const auto inner6 = test::udp_frame(red_db, red_web, ip("fd00::6"), ip("fd00::5"));
    const auto plain = wrap(inner, ip("192.168.10.12"), ip("192.168.10.11"), 5001);
    const std::vector<std::pair<std::string, bytes>> extra = {
        {"outer-ipv4-inner-ipv6", wrap(inner6, ip("192.168.10.12"), ip("192.168.10.11"), 5001)},
        {"outer-ipv6", wrap(inner, ip("2001:db8::12"), ip("2001:db8::11"), 5001)},
        {"outer-ipv6-destopts", with_destination_options(wrap(inner, ip("2001:db8::12"), ip("2001:db8::11"), 5001))},
        {"outer-vlan", wrap(inner, ip("192.168.10.12"), ip("192.168.10.11"), 5001, 42)},
        {"outer-vlan-ipv6", wrap(inner6, ip("2001:db8::12"), ip("2001:db8::11"), 6001, 4094)},
        {"inner-arp", wrap(test::arp_request(red_db, ip("10.0.0.6"), ip("10.0.0.5")), ip("192.168.10.12"), ip("192.168.10.11"), 5001)},
        {"inner-vlan", raw_nvgre(tagged(inner, 7), 5001u << 8)},
        {"gre-checksum-key", gre_frame(inner, true, 5001u << 8, std::nullopt)},
        {"gre-checksum-key-sequence", gre_frame(inner, true, 5001u << 8, 1u)},
        {"gre-no-options", gre_frame(inner, false, std::nullopt, std::nullopt)},
        {"reserved-vsid", raw_nvgre(inner, 0xfffu << 8)},
        {"vendor-vsid", raw_nvgre(inner, 0xffffffu)},
    };
    for (const auto& [name, f] : extra) {
        for (const char* target : {"ingress", "decap", "packet_layout"}) w.put(target, name, f);
        const auto l = wire::parse_packet_layout(f);
        if (l.gre_offset != wire::no_offset) w.put("gre", name, std::span<const std::byte>(f).subspan(l.gre_offset));
    }
    // ECN: outer CE over ECT(0) and over Not-ECT inner; an outer fragment.
    {
        auto ce = wrap(test::udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5"), 18, 64, 2), ip("192.168.10.12"),
                       ip("192.168.10.11"), 5001);
        auto outer = wire::mutable_ipv4_view::unchecked(std::span<std::byte>(ce).subspan(14));
        outer.set_ecn(3);
        outer.fill_header_checksum();
        auto drop = plain;
        auto outer2 = wire::mutable_ipv4_view::unchecked(std::span<std::byte>(drop).subspan(14));
        outer2.set_ecn(3);
        outer2.fill_header_checksum();
        auto frag = plain;
        auto outer3 = wire::mutable_ipv4_view::unchecked(std::span<std::byte>(frag).subspan(14));
        outer3.set_more_fragments(true);
        outer3.fill_header_checksum();
        for (const char* target : {"ingress", "decap", "packet_layout"}) {
            w.put(target, "outer-ce-inner-ect0", ce);
            w.put(target, "outer-ce-inner-not-ect", drop);
            w.put(target, "outer-fragment", frag);
        }
    }
    // GRE headers alone: every C/K/S combination.
    for (int flags = 0; flags < 8; ++flags) {
        const wire::gre_repr g{(flags & 4) != 0, (flags & 2) != 0 ? std::optional<std::uint32_t>(0x138901u) : std::nullopt,
                               (flags & 1) != 0 ? std::optional<std::uint32_t>(7u) : std::nullopt,
                               wire::ethertype::transparent_ethernet_bridging};
        bytes b(g.buffer_len() + inner.size());
        g.emit(b);
        std::copy(inner.begin(), inner.end(), b.begin() + static_cast<std::ptrdiff_t>(g.header_len()));
        g.fill_checksum(b);
        w.put("gre", "gre-flags-" + std::to_string(flags), b);
    }

    // dhcp: client messages and a server's answer; egress: the same in frames from red-app
    // (whose subnet answers DHCP from policy, and whose port has DHCP guard).
    {
        const mac_address app{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x07}};
        const auto message = [&](std::uint8_t op, std::uint8_t type) {
            wire::dhcp_repr m;
            m.op = op;
            m.message_type = type;
            m.xid = 0x3903f326;
            m.client_mac = app;
            return m;
        };
        const auto emitted = [](const wire::dhcp_repr& m) {
            bytes out(m.length());
            m.emit(out);
            return out;
        };
        const auto in_frame = [&](const wire::dhcp_repr& m, std::uint16_t sport, std::uint16_t dport) {
            const bytes payload = emitted(m);
            bytes f(wire::ethernet_header_len + wire::ipv4_min_header_len + wire::udp_header_len + payload.size());
            wire::ethernet_repr{mac_address::broadcast(), app, 0, {}, wire::ethertype::ipv4}.emit(f);
            wire::ipv4_repr ip;
            ip.destination = ipv4_address::from_uint(0xffffffffu);
            ip.protocol = wire::ip_protocol::udp;
            ip.payload_len = static_cast<std::uint16_t>(wire::udp_header_len + payload.size());
            ip.emit(std::span<std::byte>(f).subspan(wire::ethernet_header_len));
            const auto udp = std::span<std::byte>(f).subspan(wire::ethernet_header_len + wire::ipv4_min_header_len);
            wire::udp_repr{sport, dport, static_cast<std::uint16_t>(payload.size())}.emit(udp);
            std::copy(payload.begin(), payload.end(), udp.begin() + wire::udp_header_len);
            return f;
        };
        wire::dhcp_repr discover = message(wire::dhcp_op::boot_request, wire::dhcp_message_type::discover);
        discover.flags = wire::dhcp_broadcast_flag;
        wire::dhcp_repr request = message(wire::dhcp_op::boot_request, wire::dhcp_message_type::request);
        request.requested_address = ipv4_address::from_uint(0x0a000007);
        request.server_identifier = ipv4_address::from_uint(0x0a000001);
        wire::dhcp_repr ack = message(wire::dhcp_op::boot_reply, wire::dhcp_message_type::ack);
        ack.yiaddr = ipv4_address::from_uint(0x0a000063);
        ack.server_identifier = ipv4_address::from_uint(0x0a000006);
        ack.lease_seconds = 3600;
        ack.renewal_seconds = 1800;
        ack.rebinding_seconds = 3150;
        ack.subnet_mask = ipv4_address::from_uint(0xffffff00u);
        ack.router = ipv4_address::from_uint(0x0a000001);
        ack.dns_count = 2;
        ack.dns[0] = ipv4_address::from_uint(0x0a000035);
        ack.dns[1] = ipv4_address::from_uint(0x09090909);
        w.put("dhcp", "discover", emitted(discover));
        w.put("dhcp", "request", emitted(request));
        w.put("dhcp", "ack", emitted(ack));
        w.put("egress", "dhcp-discover", in_frame(discover, wire::dhcp_client_port, wire::dhcp_server_port));
        w.put("egress", "dhcp-request", in_frame(request, wire::dhcp_client_port, wire::dhcp_server_port));
        w.put("egress", "dhcp-rogue-ack", in_frame(ack, wire::dhcp_server_port, wire::dhcp_client_port));
    }

    // burst: each host's VM frames (egress) and what reaches it from the others (ingress), in
    // bursts of at most 48, with the default configuration and with gso over a 1280-byte underlay.
    const auto put_burst = [&](std::uint8_t head, std::uint8_t config, const std::vector<bytes>& frames,
                               std::string_view name) {
        bytes in{std::byte{head}, std::byte{config}};
        for (std::size_t i = 0; i < frames.size() && i < 48; ++i) {
            const std::size_t len = std::min<std::size_t>(frames[i].size(), 2047);
            in.push_back(std::byte{static_cast<std::uint8_t>(len >> 8)});
            in.push_back(std::byte{static_cast<std::uint8_t>(len)});
            in.insert(in.end(), frames[i].begin(), frames[i].begin() + static_cast<std::ptrdiff_t>(len));
        }
        w.put("burst", name, in);
    };
    for (std::uint8_t h = 0; h < 3; ++h) {
        const std::string host = "hv" + std::to_string(h + 1);
        if (!egress_bursts[h].empty()) {
            put_burst(h, 0, egress_bursts[h], "egress-" + host);
            put_burst(h, 0x03, egress_bursts[h], "egress-gso-1280-" + host);
            put_burst(h, 0x08, egress_bursts[h], "egress-by-port-number-" + host);
            put_burst(h, 0x10, egress_bursts[h], "encap-entry-point-" + host);
            put_burst(h, 0x20, egress_bursts[h], "egress-chained-" + host);
            put_burst(h, 0x30, egress_bursts[h], "encap-entry-point-chained-" + host);
        }
        if (!ingress_bursts[h].empty()) {
            put_burst(static_cast<std::uint8_t>(0x80 | h), 0, ingress_bursts[h], "ingress-" + host);
            put_burst(static_cast<std::uint8_t>(0x80 | h), 0x24, ingress_bursts[h], "ingress-chained-9000-" + host);
        }
    }

    // rewrite: byte 0 even = what blue-nat1 sends (egress on hv1), odd = what hv1 rewrote,
    // arriving at hv2 from the fabric.
    for (const vm_frame& v : vm_frames()) {
        if (v.port != blue_nat1) continue;
        bytes out{std::byte{0}};
        out.insert(out.end(), v.frame.begin(), v.frame.end());
        w.put("rewrite", v.name, out);
        test::buffer b(v.frame);
        fuzz::pool_sink sink;
        if (datapath::egress(hnv.hosts[0], v.port, b.f, sink).verdict != datapath::verdict::rewrite) continue;
        bytes in{std::byte{1}};
        const auto rewritten = b.bytes();
        in.insert(in.end(), rewritten.begin(), rewritten.end());
        w.put("rewrite", v.name + "-at-hv2", in);
    }

    // mtu: 2 bytes MSS, 2 bytes MTU, then a frame to segment and/or fragment: TCP over IPv4
    // and IPv6, with options and every flag segmentation treats apart, NVGRE-encapsulated
    // (IPv4 and IPv6 outer), and IPv4 without DF (UDP and TCP) to fragment.
    {
        const auto put_mtu = [&w](std::string_view name, std::uint16_t mss, std::uint16_t mtu, const bytes& f) {
            bytes in{std::byte{static_cast<std::uint8_t>(mss >> 8)}, std::byte{static_cast<std::uint8_t>(mss)},
                     std::byte{static_cast<std::uint8_t>(mtu >> 8)}, std::byte{static_cast<std::uint8_t>(mtu)}};
            in.insert(in.end(), f.begin(), f.end());
            w.put("mtu", name, in);
        };
        test::tcp_frame_spec s;
        s.payload_len = 3000;
        put_mtu("tcp4-3000-mss1000", 1000, 1458, test::tcp_frame(s));
        s.flags = 0x80 | 0x10 | 0x08 | 0x01;  // CWR ACK PSH FIN
        s.tcp_options_len = 12;
        put_mtu("tcp4-options-cwr-psh-fin-mss536", 536, 576, test::tcp_frame(s));
        s.dont_fragment = false;
        put_mtu("tcp4-no-df-mss1406-mtu1000", 1406, 1000, test::tcp_frame(s));
        test::tcp_frame_spec s6;
        s6.src = ip("fd00::5");
        s6.dst = ip("fd00::6");
        s6.payload_len = 2800;
        put_mtu("tcp6-2800-mss1400", 1400, 1280, test::tcp_frame(s6));
        s6.payload_len = 0;
        put_mtu("tcp6-no-payload", 1400, 1280, test::tcp_frame(s6));
        test::tcp_frame_spec u;
        u.protocol = 17;
        u.dont_fragment = false;
        u.payload_len = 3000;
        put_mtu("udp4-no-df-mtu1458", 1000, 1458, test::tcp_frame(u));
        put_mtu("udp4-no-df-mtu68", 1000, 68, test::tcp_frame(u));
        test::tcp_frame_spec small;
        small.payload_len = 2000;
        put_mtu("nvgre-ipv4-tcp4-mss700", 700, 1500,
                wrap(test::tcp_frame(small), ip("192.168.10.11"), ip("192.168.10.12"), 5001));
        put_mtu("nvgre-ipv6-tcp4-mss700", 700, 1500,
                wrap(test::tcp_frame(small), ip("2001:db8::11"), ip("2001:db8::12"), 5001));
        put_mtu("nvgre-ipv4-vlan-tcp4-mss700", 700, 1500,
                wrap(test::tcp_frame(small), ip("192.168.10.11"), ip("192.168.10.12"), 5001, 42));
    }

    policy_texts(w);
    address_texts(w);
    change_set_texts(w);
    pcapng_files(w);
    ovsdb_update_streams(w);

    if (!w.ok()) {
        std::fprintf(stderr, "make_seeds: cannot write under %s\n", argv[1]);
        return 1;
    }
    std::printf("make_seeds: wrote");
    for (const auto& [target, n] : w.counts()) std::printf(" %s %d,", target.c_str(), n);
    std::printf(" under %s\n", argv[1]);
    return 0;
}
