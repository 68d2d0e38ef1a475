#include "nvgre/datapath/rss.hpp"

#include "support/frames.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;

namespace {

/// Microsoft's "Verifying the RSS hash calculation" table (the same in Intel's 82599
/// datasheet, 7.1.2.8.3): destination and source with ports, the 2-tuple and 4-tuple hashes
/// for the default key.
struct known_answer {
    const char* destination;
    std::uint16_t destination_port;
    const char* source;
    std::uint16_t source_port;
    std::uint32_t addresses_only;
    std::uint32_t with_tcp;
};
constexpr known_answer ipv4_answers[] = {
    {"161.142.100.80", 1766, "66.9.149.187", 2794, 0x323e8fc2, 0x51ccc178},
    {"65.69.140.83", 4739, "199.92.111.2", 14230, 0xd718262a, 0xc626b0ea},
    {"12.22.207.184", 38024, "24.19.198.95", 12898, 0xd2d0a5de, 0x5c2b394a},
    {"209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xafc7327f},
    {"202.188.127.2", 1303, "153.39.163.191", 44251, 0x5d1809c5, 0x10e828a2},
};
constexpr known_answer ipv6_answers[] = {
    {"3ffe:2501:200:3::1", 1766, "3ffe:2501:200:1fff::7", 2794, 0x2cc18cd5, 0x40207d3d},
    {"ff02::1", 4739, "3ffe:501:8::260:97ff:fe40:efab", 14230, 0x0f0c461c, 0xdde51bbf},
    {"fe80::200:f8ff:fe21:67cf", 38024, "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, 0x4b61e985, 0x02d1feef},
};

/// The hash input in Microsoft's order: source, destination (, source port, destination port).
std::vector<std::byte> input_of(const known_answer& a, bool ports) {
    std::vector<std::byte> in;
    for (const char* address : {a.source, a.destination}) {
        const ip_address a_ip = ip(address);
        std::byte bytes[16];
        if (a_ip.is_v4()) a_ip.v4().to_bytes(bytes);
        else a_ip.v6().to_bytes(bytes);
        in.insert(in.end(), bytes, bytes + (a_ip.is_v4() ? 4 : 16));
    }
    if (ports)
        for (std::uint16_t port : {a.source_port, a.destination_port}) {
            in.push_back(std::byte{static_cast<std::uint8_t>(port >> 8)});
            in.push_back(std::byte{static_cast<std::uint8_t>(port)});
        }
    return in;
}

/// An Ethernet/IP frame from `a.source` to `a.destination` carrying protocol `proto` with the
/// answer's ports (udp_frame's bytes with the protocol and ports replaced: RSS reads no more).
std::vector<std::byte> frame_of(const known_answer& a, std::uint8_t proto) {
    auto f = udp_frame(mac("00:15:5d:00:00:05"), mac("00:15:5d:00:00:06"), ip(a.source), ip(a.destination));
    const bool v6 = ip(a.source).is_v6();
    const std::size_t l3 = 14;
    const std::size_t l4 = l3 + (v6 ? 40 : 20);
    f[l3 + (v6 ? 6 : 9)] = std::byte{proto};
    f[l4] = std::byte{static_cast<std::uint8_t>(a.source_port >> 8)};
    f[l4 + 1] = std::byte{static_cast<std::uint8_t>(a.source_port)};
    f[l4 + 2] = std::byte{static_cast<std::uint8_t>(a.destination_port >> 8)};
    f[l4 + 3] = std::byte{static_cast<std::uint8_t>(a.destination_port)};
    return f;
}

}  // namespace

TEST_CASE("datapath/rss: the published verification values for the default key") {
    const toeplitz_hasher hasher;
    for (const auto& answers : {std::span<const known_answer>(ipv4_answers), std::span<const known_answer>(ipv6_answers)}) {
        for (const known_answer& a : answers) {
            CAPTURE(a.source);
            CHECK(toeplitz_hash(microsoft_rss_key, input_of(a, false)) == a.addresses_only);
            CHECK(toeplitz_hash(microsoft_rss_key, input_of(a, true)) == a.with_tcp);
            CHECK(hasher.hash(input_of(a, false)) == a.addresses_only);
            CHECK(hasher.hash(input_of(a, true)) == a.with_tcp);
            // From frames: TCP gets the 4-tuple; other protocols the 2-tuple.
            const bool v6 = ip(a.source).is_v6();
            const auto tcp = rss_hash_of(hasher, frame_of(a, wire::ip_protocol::tcp));
            CHECK(tcp.hash == a.with_tcp);
            CHECK(tcp.type == (v6 ? rss_hash_type::tcp_ipv6 : rss_hash_type::tcp_ipv4));
            const auto icmp = rss_hash_of(hasher, frame_of(a, v6 ? wire::ip_protocol::icmpv6 : wire::ip_protocol::icmp));
            CHECK(icmp.hash == a.addresses_only);
            CHECK(icmp.type == (v6 ? rss_hash_type::ipv6 : rss_hash_type::ipv4));
            // UDP: 2-tuple by default (as NDIS), 4-tuple when enabled.
            CHECK(rss_hash_of(hasher, frame_of(a, wire::ip_protocol::udp)).hash == a.addresses_only);
            rss_hash_types with_udp;
            with_udp.udp_ipv4 = with_udp.udp_ipv6 = true;
            const auto udp = rss_hash_of(hasher, frame_of(a, wire::ip_protocol::udp), with_udp);
            CHECK(udp.hash == a.with_tcp);
            CHECK(udp.type == (v6 ? rss_hash_type::udp_ipv6 : rss_hash_type::udp_ipv4));
        }
    }
}

TEST_CASE("datapath/rss: the table hasher equals the bitwise definition for any key and input") {
    std::mt19937_64 rng(20261122);
    for (int round = 0; round < 200; ++round) {
        rss_key key;
        for (auto& b : key.bytes) b = static_cast<std::uint8_t>(rng());
        const toeplitz_hasher hasher(key);
        for (int i = 0; i < 20; ++i) {
            std::vector<std::byte> in(rng() % (rss_max_input + 5));  // past 36 bytes: not hashed
            for (auto& b : in) b = std::byte{static_cast<std::uint8_t>(rng())};
            REQUIRE(hasher.hash(in) == toeplitz_hash(key, in));
        }
    }
}

TEST_CASE("datapath/rss: fragments hash their 2-tuple, so every fragment of a datagram lands together") {
    const toeplitz_hasher hasher;
    const known_answer& a = ipv4_answers[0];
    auto first = frame_of(a, wire::ip_protocol::tcp);
    first[14 + 6] = std::byte{0x20};  // MF, offset 0: the first fragment
    CHECK(rss_hash_of(hasher, first).type == rss_hash_type::ipv4);
    CHECK(rss_hash_of(hasher, first).hash == a.addresses_only);
    auto later = frame_of(a, wire::ip_protocol::tcp);
    later[14 + 7] = std::byte{0xb9};  // offset 185 * 8
    CHECK(rss_hash_of(hasher, later).hash == a.addresses_only);

    // IPv6: a fragment header in front of TCP.
    const known_answer& b = ipv6_answers[0];
    auto v6 = frame_of(b, wire::ip_protocol::tcp);
    std::vector<std::byte> fragment(v6.begin(), v6.begin() + 54);
    const std::byte header[8] = {std::byte{wire::ip_protocol::tcp}, std::byte{0}, std::byte{0}, std::byte{1},
                                 std::byte{0}, std::byte{0}, std::byte{0}, std::byte{7}};  // offset 0, M
    fragment.insert(fragment.end(), std::begin(header), std::end(header));
    fragment.insert(fragment.end(), v6.begin() + 54, v6.end());
    fragment[14 + 6] = std::byte{wire::ip_protocol::ipv6_fragment};
    CHECK(rss_hash_of(hasher, fragment).type == rss_hash_type::ipv6);
    CHECK(rss_hash_of(hasher, fragment).hash == b.addresses_only);
    fragment[54 + 3] = std::byte{0};  // an atomic fragment (offset 0, no M): the 4-tuple
    CHECK(rss_hash_of(hasher, fragment).hash == b.with_tcp);
}

TEST_CASE("datapath/rss: frames with nothing to hash, cut short, or tagged") {
    const toeplitz_hasher hasher;
    CHECK(rss_hash_of(hasher, {}).type == rss_hash_type::none);
    const auto arp = arp_request(mac("00:15:5d:00:00:05"), ip("10.0.0.5"), ip("10.0.0.6"));
    CHECK(rss_hash_of(hasher, arp).type == rss_hash_type::none);
    const auto full = frame_of(ipv4_answers[1], wire::ip_protocol::tcp);
    for (std::size_t n = 0; n < full.size(); ++n) {
        const auto r = rss_hash_of(hasher, std::span<const std::byte>(full).first(n));
        CAPTURE(n);
        // Cut inside the IP header: nothing; inside the ports: the 2-tuple; after: the 4-tuple.
        if (n < 34) CHECK(r.type == rss_hash_type::none);
        else if (n < 38) CHECK(r.hash == ipv4_answers[1].addresses_only);
        else CHECK(r.hash == ipv4_answers[1].with_tcp);
    }
    // An 802.1Q tag in front is skipped.
    std::vector<std::byte> tagged(full.begin(), full.begin() + 12);
    for (std::uint8_t b : {0x81, 0x00, 0x00, 0x64}) tagged.push_back(std::byte{b});
    tagged.insert(tagged.end(), full.begin() + 12, full.end());
    CHECK(rss_hash_of(hasher, tagged).hash == ipv4_answers[1].with_tcp);
}

TEST_CASE("datapath/rss: the FlowID from an RSS hash") {
    CHECK(flow_id_from_rss(0).value == 0);
    CHECK(flow_id_from_rss(1).value == 1);
    CHECK(flow_id_from_rss(0xffffffffu).value == 255);
    CHECK(flow_id_from_rss(0x51ccc178).value != 0);
}
