// libFuzzer target: what wire rule 7 cuts a frame into — software TCP segmentation
// (datapath/gso.hpp: plan_tcp_segments, segment_tcp, segment_tcp_gather, plain or NVGRE frames)
// and inner IPv4 fragmentation (datapath/fragment.hpp: plan_ipv4_fragments, fragment_ipv4).
// Input: 2 bytes MSS, 2 bytes MTU (big-endian), then the frame.
// Asserts, for segmentation:
//   - a refusal is an error value naming an offset inside the frame; a plan's headers and
//     payload lie inside the frame, count = ceil(payload / mss) (1 for no payload);
//   - the gather and the copy versions give the same segments, byte for byte;
//   - each segment: payload at most mss bytes, the payloads concatenate to the original's,
//     sequence number advances by the payload sent, CWR only on the first and FIN/PSH only on
//     the last, its IP lengths agree with its size, its inner IPv4 and TCP checksums verify
//     from scratch (and an outer IPv4 one, unless left to the NIC as zero);
// and for fragmentation:
//   - a refusal is an error value; each fragment's IP packet is at most MTU bytes with a
//     verifying header checksum; the data, placed at each fragment's offset, tile the
//     original data exactly; MF is set on all but the last (and on the last when the original
//     had it).
#include "fuzz_support.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/fragment.hpp"
#include "nvgre/datapath/gso.hpp"
#include "nvgre/detail/bytes.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using nvgre::detail::load_be16;
using nvgre::detail::load_be32;

namespace {
constexpr std::size_t max_pieces = 512;  // a bounded run: mss 1 on 64 KB would be 65535 segments

/// A sink whose pool holds every piece of one run.
struct big_sink {
    std::deque<fuzz::framed> buffers;
    frame* allocate(std::size_t size, std::size_t headroom) {
        if (buffers.size() >= max_pieces) return nullptr;
        buffers.emplace_back(std::vector<std::byte>(size, std::byte{0x5a}), headroom, 0);
        return &buffers.back().f;
    }
};

void check_segments(std::span<const std::byte> frame, std::size_t mss) {
    const auto plan = plan_tcp_segments(frame, mss);
    if (!plan) {
        NVGRE_FUZZ_CHECK(plan.error().offset <= frame.size());
        return;
    }
    const tcp_segment_plan& p = *plan;
    NVGRE_FUZZ_CHECK(p.mss == mss && p.headers_len <= gso_max_headers && p.headers_len + p.payload_len <= frame.size());
    NVGRE_FUZZ_CHECK(p.inner_l3 < p.l4 && p.l4 + 20 <= p.headers_len);
    NVGRE_FUZZ_CHECK(p.count == (p.payload_len == 0 ? 1 : (p.payload_len + mss - 1) / mss));
    if (p.count > max_pieces) return;

    std::vector<std::vector<std::byte>> gathered;
    std::vector<std::byte> payload;
    segment_tcp_gather(frame, p, [&](std::span<const std::byte> headers, std::span<const std::byte> data) {
        NVGRE_FUZZ_CHECK(headers.size() == p.headers_len && data.size() <= mss);
        std::vector<std::byte> seg(headers.begin(), headers.end());
        seg.insert(seg.end(), data.begin(), data.end());
        gathered.push_back(std::move(seg));
        payload.insert(payload.end(), data.begin(), data.end());
    });
    NVGRE_FUZZ_CHECK(gathered.size() == p.count);
    NVGRE_FUZZ_CHECK(std::equal(payload.begin(), payload.end(), frame.begin() + static_cast<std::ptrdiff_t>(p.headers_len)) &&
                     payload.size() == p.payload_len);

    big_sink sink;
    std::size_t k = 0;
    const std::size_t made = segment_tcp(frame, p, sink, 64, [&](datapath::frame& f) {
        NVGRE_FUZZ_CHECK(k < gathered.size());
        NVGRE_FUZZ_CHECK(f.size() == gathered[k].size() && std::equal(f.bytes().begin(), f.bytes().end(), gathered[k].begin()));
        ++k;
    });
    NVGRE_FUZZ_CHECK(made == p.count && k == p.count);

    const std::uint32_t seq0 = load_be32(frame.data() + p.l4 + 4);
    const std::uint8_t flags0 = std::to_integer<std::uint8_t>(frame[p.l4 + 13]);
    std::size_t sent = 0;
    for (std::size_t i = 0; i < gathered.size(); ++i) {
        const std::vector<std::byte>& s = gathered[i];
        const std::size_t n = s.size() - p.headers_len;
        const std::size_t tcp_len = p.headers_len - p.l4;
        const std::byte* tcp = s.data() + p.l4;
        NVGRE_FUZZ_CHECK(load_be32(tcp + 4) == static_cast<std::uint32_t>(seq0 + sent));
        const std::uint8_t flags = std::to_integer<std::uint8_t>(tcp[13]);
        const bool first = i == 0, last = i + 1 == gathered.size();
        NVGRE_FUZZ_CHECK((flags & 0x80u) == (first ? (flags0 & 0x80u) : 0u));
        NVGRE_FUZZ_CHECK((flags & 0x09u) == (last ? (flags0 & 0x09u) : 0u));
        NVGRE_FUZZ_CHECK((flags & ~0x89u) == (flags0 & ~0x89u));
        const auto ip = std::span<const std::byte>(s).subspan(p.inner_l3);
        ip_address src, dst;
        if (p.inner_v6) {
            NVGRE_FUZZ_CHECK(load_be16(ip.data() + 4) == tcp_len + n);
            src = ipv6_address::from_bytes(ip.subspan(8, 16));
            dst = ipv6_address::from_bytes(ip.subspan(24, 16));
        } else {
            const std::size_t hlen = p.l4 - p.inner_l3;
            NVGRE_FUZZ_CHECK(load_be16(ip.data() + 2) == hlen + tcp_len + n);
            NVGRE_FUZZ_CHECK(checksum::compute(ip.first(hlen)) == 0);
            NVGRE_FUZZ_CHECK(load_be16(ip.data() + 4) == static_cast<std::uint16_t>(load_be16(frame.data() + p.inner_l3 + 4) + i));
            src = ipv4_address::from_bytes(ip.subspan(12, 4));
            dst = ipv4_address::from_bytes(ip.subspan(16, 4));
        }
        const auto l4 = std::span<const std::byte>(s).subspan(p.l4);
        const std::uint32_t pseudo = checksum::pseudo_header_sum(src, dst, 6, static_cast<std::uint32_t>(l4.size()));
        NVGRE_FUZZ_CHECK(checksum::fold(checksum::sum(l4, pseudo)) == 0xffff);
        if (p.encapsulated) {
            const auto outer = std::span<const std::byte>(s).subspan(p.outer_l3);
            if (p.outer_v6) {
                NVGRE_FUZZ_CHECK(load_be16(outer.data() + 4) + 40u == outer.size());
            } else {
                const std::size_t hlen = std::size_t{std::to_integer<std::uint8_t>(outer[0]) & 0x0fu} * 4;
                NVGRE_FUZZ_CHECK(load_be16(outer.data() + 2) == outer.size());
                if (load_be16(outer.data() + 10) != 0) NVGRE_FUZZ_CHECK(checksum::compute(outer.first(hlen)) == 0);
            }
        }
        sent += n;
    }
}

void check_fragments(std::span<const std::byte> frame, std::size_t mtu) {
    const auto plan = plan_ipv4_fragments(frame, mtu);
    if (!plan) {
        NVGRE_FUZZ_CHECK(plan.error().offset <= frame.size());
        return;
    }
    const ipv4_fragment_plan& p = *plan;
    NVGRE_FUZZ_CHECK(p.count >= 2 && p.l3 + p.header_len + p.data_len <= frame.size());
    if (p.count > max_pieces) return;
    const std::uint16_t flags0 = load_be16(frame.data() + p.l3 + 6);
    const auto data = frame.subspan(p.l3 + p.header_len, p.data_len);
    std::vector<std::byte> tiled(p.data_len);
    std::vector<bool> covered(p.data_len, false);
    big_sink sink;
    std::size_t k = 0;
    const std::size_t made = fragment_ipv4(frame, p, sink, 64, [&](datapath::frame& f) {
        const auto b = std::span<const std::byte>(f.bytes());
        NVGRE_FUZZ_CHECK(b.size() >= p.l3 + 20);
        const auto ip = b.subspan(p.l3);
        const std::size_t hlen = std::size_t{std::to_integer<std::uint8_t>(ip[0]) & 0x0fu} * 4;
        const std::size_t total = load_be16(ip.data() + 2);
        NVGRE_FUZZ_CHECK(total == ip.size() && total <= mtu && hlen >= 20 && hlen <= total);
        NVGRE_FUZZ_CHECK(checksum::compute(ip.first(hlen)) == 0);
        const std::uint16_t fl = load_be16(ip.data() + 6);
        const std::size_t at = (std::size_t{fl & 0x1fffu} - (flags0 & 0x1fffu)) * 8;
        const bool last = k + 1 == p.count;
        NVGRE_FUZZ_CHECK(((fl & 0x2000u) != 0) == (!last || (flags0 & 0x2000u) != 0));
        NVGRE_FUZZ_CHECK(last || (total - hlen) % 8 == 0);
        const auto part = ip.subspan(hlen);
        NVGRE_FUZZ_CHECK(at + part.size() <= p.data_len);
        for (std::size_t i = 0; i < part.size(); ++i) {
            NVGRE_FUZZ_CHECK(!covered[at + i]);
            covered[at + i] = true;
            tiled[at + i] = part[i];
        }
        ++k;
    });
    NVGRE_FUZZ_CHECK(made == p.count && k == p.count);
    for (bool c : covered) NVGRE_FUZZ_CHECK(c);
    NVGRE_FUZZ_CHECK(std::equal(tiled.begin(), tiled.end(), data.begin()));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    const std::size_t mss = static_cast<std::size_t>(data[0]) << 8 | data[1];
    const std::size_t mtu = static_cast<std::size_t>(data[2]) << 8 | data[3];
    const auto frame = fuzz::bytes_of(data + 4, size - 4);
    check_segments(frame, mss);
    check_fragments(frame, mtu);
    return 0;
}
