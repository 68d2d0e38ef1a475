#include "nvgre/datapath/flow_hash.hpp"

#include "nvgre/wire/arp.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <set>
#include <span>
#include <vector>

using namespace nvgre;
using namespace nvgre::wire;
using nvgre::datapath::flow_hash32;
using nvgre::datapath::flow_id_of;
using nvgre::test::from_hex;

namespace {

nvgre::detail::inner_dissection dissect(std::span<const std::byte> f, std::uint64_t seed = datapath::default_flow_hash_seed) {
    nvgre::detail::inner_dissection d;
    nvgre::detail::dissect_inner(f, seed, d);
    return d;
}

const mac_address vm_a{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x05}};
const mac_address vm_b{{0x00, 0x15, 0x5d, 0x00, 0x00, 0x06}};

std::vector<std::byte> ethernet(std::uint16_t type, std::size_t payload, mac_address dst = vm_b, mac_address src = vm_a) {
    std::vector<std::byte> f(ethernet_header_len + payload, std::byte{0});
    ethernet_repr e;
    e.destination = dst;
    e.source = src;
    e.ether_type = type;
    e.emit(f);
    return f;
}

struct v4_flow {
    std::uint32_t src{0x0a000005}, dst{0x0a000006};
    std::uint8_t proto{ip_protocol::tcp};
    std::uint16_t sport{40000}, dport{80};
    std::uint8_t tos{0};
    std::uint16_t id{1};
    bool mf{false};
    std::uint16_t frag_units{0};
    std::size_t payload{20};  // bytes after the IPv4 header
};

std::vector<std::byte> ipv4_frame(const v4_flow& v) {
    auto f = ethernet(ethertype::ipv4, 20 + v.payload);
    ipv4_repr ip;
    ip.source = ipv4_address::from_uint(v.src);
    ip.destination = ipv4_address::from_uint(v.dst);
    ip.protocol = v.proto;
    ip.dscp = static_cast<std::uint8_t>(v.tos >> 2);
    ip.ecn = static_cast<std::uint8_t>(v.tos & 3);
    ip.identification = v.id;
    ip.more_fragments = v.mf;
    ip.fragment_offset_units = v.frag_units;
    ip.payload_len = static_cast<std::uint16_t>(v.payload);
    ip.emit(std::span<std::byte>(f).subspan(14));
    if (v.payload >= 4) {
        nvgre::detail::store_be16(f.data() + 34, v.sport);
        nvgre::detail::store_be16(f.data() + 36, v.dport);
    }
    return f;
}

struct v6_flow {
    std::array<std::uint8_t, 16> src{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
    std::array<std::uint8_t, 16> dst{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6};
    std::uint8_t proto{ip_protocol::tcp};
    std::uint16_t sport{40000}, dport{443};
    std::vector<std::byte> extensions{};  // raw extension headers; their next-header bytes are set by the caller
    std::uint8_t first_next_header{0};    // used when extensions is non-empty
    std::size_t payload{20};              // bytes after the extension headers
};

std::vector<std::byte> ipv6_frame(const v6_flow& v) {
    const std::size_t plen = v.extensions.size() + v.payload;
    auto f = ethernet(ethertype::ipv6, 40 + plen);
    ipv6_repr ip;
    ip.source = ipv6_address{v.src};
    ip.destination = ipv6_address{v.dst};
    ip.next_header = v.extensions.empty() ? v.proto : v.first_next_header;
    ip.payload_len = static_cast<std::uint16_t>(plen);
    ip.emit(std::span<std::byte>(f).subspan(14));
    for (std::size_t i = 0; i < v.extensions.size(); ++i) f[54 + i] = v.extensions[i];
    const std::size_t l4 = 54 + v.extensions.size();
    if (v.payload >= 4) {
        nvgre::detail::store_be16(f.data() + l4, v.sport);
        nvgre::detail::store_be16(f.data() + l4 + 2, v.dport);
    }
    return f;
}

std::vector<std::byte> arp_frame(std::uint32_t sender, std::uint32_t target, mac_address src = vm_a) {
    auto f = ethernet(ethertype::arp, arp_ipv4_len, mac_address::broadcast(), src);
    arp_repr a;
    a.sender_mac = src;
    a.sender_ip = ipv4_address::from_uint(sender);
    a.target_ip = ipv4_address::from_uint(target);
    a.emit(std::span<std::byte>(f).subspan(14));
    return f;
}

// Pearson's chi-square statistic of FlowIDs over the 255 non-zero values.
double chi_square(const std::vector<std::uint8_t>& ids) {
    std::array<std::size_t, 256> count{};
    for (auto id : ids) ++count[id];
    const double expected = static_cast<double>(ids.size()) / 255.0;
    double chi = 0;
    for (std::size_t v = 1; v < 256; ++v) {
        const double d = static_cast<double>(count[v]) - expected;
        chi += d * d / expected;
    }
    return chi;
}

// 254 degrees of freedom: mean 254, standard deviation 22.5. Six deviations above the mean
// fails a uniform hash with probability < 1e-6 (the tests are deterministic anyway).
constexpr double chi_square_limit = 254 + 6 * 22.5;

}  // namespace

TEST_CASE("datapath/flow_hash: frames shorter than an Ethernet header have nothing to hash") {
    const auto f = ipv4_frame({});
    for (std::size_t n = 0; n < ethernet_header_len; ++n) {
        CAPTURE(n);
        CHECK(flow_hash32(std::span<const std::byte>(f.data(), n)) == 0);
        CHECK(flow_id_of(std::span<const std::byte>(f.data(), n)).value == 0);
    }
    CHECK(flow_hash32(std::span<const std::byte>(f.data(), 14)) != 0);
}

TEST_CASE("datapath/flow_hash: deterministic, and pinned (same on every host)") {
    // Inner frame made with scapy 2.5:
    //   Ether(src="00:15:5d:00:00:05", dst="00:15:5d:00:00:06")
    //   / IP(src="10.0.0.5", dst="10.0.0.6", ttl=64, tos=0xb9, id=1) / UDP(sport=5000, dport=5001) / b"hello nvgre"
    const auto f = from_hex(
        "00155d00000600155d000005080045b9002700010000401166020a0000050a00000613881389001345d168656c6c6f206e76677265");
    const std::uint32_t h = flow_hash32(f);
    CHECK(h == flow_hash32(f));
    CHECK(flow_id_of(f) == flow_id_of(f));
    // Little-endian loads and fixed constants: this value must not depend on the host. A change
    // here changes every FlowID on the wire (harmless, but it should be deliberate).
    CHECK(h == 0xccce0725u);
    CHECK(flow_id_of(f).value == nvgre::detail::flow_id_from_hash(h));
}

TEST_CASE("datapath/flow_hash: the FlowID reduction") {
    using nvgre::detail::flow_id_from_hash;
    CHECK(flow_id_from_hash(0) == 0);
    CHECK(flow_id_from_hash(1) == 1);
    CHECK(flow_id_from_hash(0xffffffffu) == 255);
    CHECK(flow_id_from_hash(0x80000000u) == 128);
    // Each of 1..255 gets 2^32 / 255 hash values, to within one: check the boundaries.
    for (std::uint32_t v = 1; v <= 255; ++v) {
        const std::uint64_t first = ((std::uint64_t{v - 1} << 32) + 254) / 255;  // ceil((v-1) * 2^32 / 255)
        CHECK(flow_id_from_hash(static_cast<std::uint32_t>(first == 0 ? 1 : first)) == v);
        if (first > 1) CHECK(flow_id_from_hash(static_cast<std::uint32_t>(first - 1)) == v - 1);
    }
}

TEST_CASE("datapath/flow_hash: same flow, same FlowID: only the 5-tuple counts") {
    const v4_flow base{};
    const auto h = flow_hash32(ipv4_frame(base));
    auto other = base;
    other.tos = 0xb9;
    other.id = 777;
    other.payload = 1000;
    CHECK(flow_hash32(ipv4_frame(other)) == h);
    auto ttl = ipv4_frame(base);
    ttl[22] = std::byte{3};  // TTL (checksum not re-made: the hash does not look)
    CHECK(flow_hash32(ttl) == h);
    auto payload = ipv4_frame(base);
    payload.back() = std::byte{0x77};
    CHECK(flow_hash32(payload) == h);
    // The inner MACs do not count for IP either.
    auto macs = ipv4_frame(base);
    macs[0] = std::byte{0x02};
    CHECK(flow_hash32(macs) == h);

    // Each element of the 5-tuple does.
    for (int field = 0; field < 5; ++field) {
        auto v = base;
        if (field == 0) v.src ^= 1;
        if (field == 1) v.dst ^= 0x100;
        if (field == 2) v.proto = ip_protocol::udp;
        if (field == 3) v.sport = 40001;
        if (field == 4) v.dport = 81;
        CAPTURE(field);
        CHECK(flow_hash32(ipv4_frame(v)) != h);
    }
}

TEST_CASE("datapath/flow_hash: not symmetric (documented)") {
    v4_flow ab{};
    v4_flow ba = ab;
    std::swap(ba.src, ba.dst);
    std::swap(ba.sport, ba.dport);
    CHECK(flow_hash32(ipv4_frame(ab)) != flow_hash32(ipv4_frame(ba)));
}

TEST_CASE("datapath/flow_hash: random 5-tuples spread over the 255 FlowIDs") {
    std::mt19937_64 rng(7637);
    constexpr std::size_t n = 255 * 200;
    for (int family = 0; family < 3; ++family) {
        CAPTURE(family);
        std::vector<std::uint8_t> ids;
        std::set<std::uint32_t> hashes;
        for (std::size_t i = 0; i < n; ++i) {
            std::vector<std::byte> f;
            if (family < 2) {
                v4_flow v;
                v.src = static_cast<std::uint32_t>(rng());
                v.dst = static_cast<std::uint32_t>(rng());
                v.proto = family == 0 ? ip_protocol::tcp : ip_protocol::udp;
                v.sport = static_cast<std::uint16_t>(rng());
                v.dport = static_cast<std::uint16_t>(rng());
                f = ipv4_frame(v);
            } else {
                v6_flow v;
                for (auto& b : v.src) b = static_cast<std::uint8_t>(rng());
                for (auto& b : v.dst) b = static_cast<std::uint8_t>(rng());
                v.sport = static_cast<std::uint16_t>(rng());
                v.dport = static_cast<std::uint16_t>(rng());
                f = ipv6_frame(v);
            }
            const auto h = flow_hash32(f);
            hashes.insert(h);
            ids.push_back(flow_id_of(f).value);
        }
        for (auto id : ids) REQUIRE(id != 0);
        CHECK(chi_square(ids) < chi_square_limit);
        CHECK(hashes.size() > n - 5);  // 32-bit hashes of 51000 flows: a handful of collisions at most
    }
}

TEST_CASE("datapath/flow_hash: structured flows (one host, sequential ports or addresses) spread too") {
    std::vector<std::uint8_t> by_port, by_address, by_v6_address;
    for (std::uint32_t i = 0; i < 255 * 100; ++i) {
        v4_flow v;
        v.sport = static_cast<std::uint16_t>(1024 + i);
        by_port.push_back(flow_id_of(ipv4_frame(v)).value);
        v4_flow w;
        w.src = 0x0a000000u + i;
        by_address.push_back(flow_id_of(ipv4_frame(w)).value);
        v6_flow x;
        x.src[14] = static_cast<std::uint8_t>(i >> 8);
        x.src[15] = static_cast<std::uint8_t>(i);
        by_v6_address.push_back(flow_id_of(ipv6_frame(x)).value);
    }
    CHECK(chi_square(by_port) < chi_square_limit);
    CHECK(chi_square(by_address) < chi_square_limit);
    CHECK(chi_square(by_v6_address) < chi_square_limit);
}

TEST_CASE("datapath/flow_hash: fragments: the first keeps the 5-tuple, later ones hash addresses + protocol") {
    const v4_flow whole{};
    auto first = whole;
    first.mf = true;
    CHECK(flow_hash32(ipv4_frame(first)) == flow_hash32(ipv4_frame(whole)));

    auto later = whole;
    later.frag_units = 185;
    auto later_other_bytes = later;
    later_other_bytes.sport = 1;
    later_other_bytes.dport = 2;
    const auto h_later = flow_hash32(ipv4_frame(later));
    CHECK(h_later == flow_hash32(ipv4_frame(later_other_bytes)));  // what sits at the "ports" is data
    CHECK(h_later != flow_hash32(ipv4_frame(whole)));
    // Addresses + protocol: the same as a TCP packet too short to carry ports.
    auto no_ports = whole;
    no_ports.payload = 0;
    CHECK(h_later == flow_hash32(ipv4_frame(no_ports)));
    // ... and the protocol still counts.
    auto later_udp = later;
    later_udp.proto = ip_protocol::udp;
    CHECK(flow_hash32(ipv4_frame(later_udp)) != h_later);
}

TEST_CASE("datapath/flow_hash: other IP protocols hash the addresses and the protocol") {
    v4_flow icmp{};
    icmp.proto = ip_protocol::icmp;
    auto a = ipv4_frame(icmp);
    auto b = a;
    b[34] = std::byte{0x99};  // ICMP type/code/identifier: not hashed
    b[35] = std::byte{0x98};
    CHECK(flow_hash32(a) == flow_hash32(b));
    v4_flow gre = icmp;
    gre.proto = ip_protocol::gre;
    CHECK(flow_hash32(ipv4_frame(gre)) != flow_hash32(a));
    v4_flow other_dst = icmp;
    other_dst.dst = 0x0a000007;
    CHECK(flow_hash32(ipv4_frame(other_dst)) != flow_hash32(a));
}

TEST_CASE("datapath/flow_hash: IPv6 extension headers are walked to the ports") {
    // Hop-by-Hop (8 bytes: next header, length 0, PadN) then Destination Options (8), then TCP.
    v6_flow v;
    v.first_next_header = ip_protocol::hop_by_hop;
    v.extensions = from_hex("3c00010400000000" "0600010400000000");
    const auto h = flow_hash32(ipv6_frame(v));
    CHECK(h != 0);
    auto other_port = v;
    other_port.sport = 40001;
    CHECK(flow_hash32(ipv6_frame(other_port)) != h);
    const auto d = dissect(ipv6_frame(v));
    CHECK(d.l3_offset == 14);
    CHECK(d.l4_offset == 14 + 40 + 16);
    // The plain packet (no extension headers) is the same flow.
    v6_flow plain;
    CHECK(flow_hash32(ipv6_frame(plain)) == h);

    // A non-first fragment: ports not read; a first fragment: ports read.
    v6_flow frag;
    frag.first_next_header = ip_protocol::ipv6_fragment;
    frag.extensions = from_hex("0600" "00b9" "12345678");  // offset 23 units, M = 1
    auto frag_other = frag;
    frag_other.sport = 1;
    CHECK(flow_hash32(ipv6_frame(frag)) == flow_hash32(ipv6_frame(frag_other)));
    v6_flow first = frag;
    first.extensions = from_hex("0600" "0001" "12345678");  // offset 0, M = 1
    CHECK(flow_hash32(ipv6_frame(first)) == h);

    // A chain that runs past the payload: addresses + the header type where it stopped.
    v6_flow cut;
    cut.first_next_header = ip_protocol::ipv6_destination_options;
    cut.extensions = from_hex("06ff");  // claims 2048 bytes
    cut.payload = 0;
    CHECK(flow_hash32(ipv6_frame(cut)) != 0);
}

TEST_CASE("datapath/flow_hash: ARP and other non-IP frames hash the MACs and the EtherType") {
    const auto a = arp_frame(0x0a000005, 0x0a000006);
    const auto b = arp_frame(0x0a000005, 0x0a000009);  // another target: same MACs, same hash
    CHECK(flow_hash32(a) == flow_hash32(b));
    const auto c = arp_frame(0x0a000005, 0x0a000006, vm_b);
    CHECK(flow_hash32(c) != flow_hash32(a));
    auto lldp = a;
    lldp[12] = std::byte{0x88};
    lldp[13] = std::byte{0xcc};
    CHECK(flow_hash32(lldp) != flow_hash32(a));
    CHECK(flow_id_of(a).value != 0);
    // An IPv4 EtherType whose header does not validate (version 5) falls back to the MACs.
    auto bad = ipv4_frame({});
    bad[14] = std::byte{0x55};
    auto bad2 = bad;
    bad2[30] ^= std::byte{1};  // destination address: not looked at
    CHECK(flow_hash32(bad) == flow_hash32(bad2));
    CHECK(flow_hash32(bad) != 0);
}

TEST_CASE("datapath/flow_hash: VLAN tags are skipped") {
    const auto plain = ipv4_frame({});
    std::vector<std::byte> tagged(plain.begin(), plain.begin() + 12);
    for (auto b : from_hex("81000064")) tagged.push_back(b);
    tagged.insert(tagged.end(), plain.begin() + 12, plain.end());
    CHECK(flow_hash32(tagged) == flow_hash32(plain));
    const auto d = dissect(tagged);
    CHECK(d.tagged);
    CHECK(d.l3_offset == 18);
}

TEST_CASE("datapath/flow_hash: the seed changes the hash") {
    const auto f = ipv4_frame({});
    CHECK(flow_hash32(f, 1) != flow_hash32(f, 2));
    CHECK(flow_hash32(f, datapath::default_flow_hash_seed) == flow_hash32(f));
}

TEST_CASE("datapath/flow_hash: what dissect_inner reports for encap") {
    v4_flow v;
    v.tos = 0xb9;
    const auto d = dissect(ipv4_frame(v), 0);
    CHECK(d.tos == 0xb9);
    CHECK(d.l3_offset == 14);
    CHECK(d.l4_offset == 34);
    CHECK_FALSE(d.tagged);
    const auto arp = dissect(arp_frame(1, 2), 0);
    CHECK(arp.tos == 0);
    CHECK(arp.l3_offset == 0);
    CHECK(arp.l4_offset == 0);
    v4_flow icmp;
    icmp.proto = ip_protocol::icmp;
    CHECK(dissect(ipv4_frame(icmp), 0).l4_offset == 0);
}

TEST_CASE("datapath/flow_hash: every truncated prefix is safe, and hashable from 14 bytes on") {
    v6_flow ext;
    ext.first_next_header = ip_protocol::hop_by_hop;
    ext.extensions = from_hex("3c00010400000000" "2c00010400000000" "0600000112345678");
    v4_flow opts;
    opts.payload = 40;
    auto with_options = ipv4_frame(opts);
    with_options[14] = std::byte{0x47};  // IHL 7: ports move to 14 + 28
    const std::vector<std::vector<std::byte>> frames{ipv4_frame({}), ipv6_frame({}), ipv6_frame(ext), arp_frame(1, 2),
                                                     with_options};
    for (const auto& f : frames) {
        for (std::size_t n = 0; n <= f.size(); ++n) {
            CAPTURE(n);
            // An exact-size copy, so that AddressSanitizer sees any read past the end.
            const std::vector<std::byte> prefix(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
            const auto h = flow_hash32(prefix);
            CHECK((h != 0) == (n >= 14));
            CHECK((flow_id_of(prefix).value != 0) == (n >= 14));
        }
    }
}

TEST_CASE("datapath/flow_hash: random bytes (IP EtherTypes forced) never read out of bounds") {
    std::mt19937_64 rng(42);
    for (int i = 0; i < 20000; ++i) {
        std::vector<std::byte> f(rng() % 160);
        for (auto& b : f) b = static_cast<std::byte>(rng());
        if (f.size() >= 15) {
            const int kind = static_cast<int>(rng() % 3);
            if (kind == 0) f[12] = std::byte{0x08}, f[13] = std::byte{0x00}, f[14] = (f[14] & std::byte{0x0f}) | std::byte{0x40};
            if (kind == 1) f[12] = std::byte{0x86}, f[13] = std::byte{0xdd}, f[14] = (f[14] & std::byte{0x0f}) | std::byte{0x60};
        }
        if (f.size() >= 54 && f[12] == std::byte{0x86} && rng() % 2 == 0) f[20] = std::byte{0};  // start a hop-by-hop chain
        const auto h = flow_hash32(f);
        REQUIRE((h != 0) == (f.size() >= 14));
    }
}
