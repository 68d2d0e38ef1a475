// Software segmentation and checksum completion (datapath/gso.hpp, datapath/offload.hpp), the
// work a NIC's TSO and checksum offload would do if it could see inside GRE, beside a naive
// implementation of each.
//
// gso/ipv4/64KB: one 64 KB inner TCP segment (IPv4) cut into 1418-byte segments (the MSS for a
// 1500-byte underlay: 1500 - 42 outer - 40 inner IP/TCP headers), each copied once into a
// buffer from a pool and NVGRE-encapsulated with one template. gso/ipv4/64KB/gather: the same
// segment already encapsulated, cut without copying the payload (header blocks + references).
// peer/naive/gso/ipv4/64KB: a straightforward version: a std::vector per segment, headers
// appended field by field, the payload appended, every checksum summed 16 bits at a time.
// Bytes = payload bytes; items = segments.
//
// checksum-complete/1500B: completing the partial TCP checksum of a 1500-byte frame
// (CHECKSUM_PARTIAL); peer/naive/...: the same sum 16 bits at a time. Bytes = bytes summed.
#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/gso.hpp"
#include "nvgre/datapath/offload.hpp"
#include "nvgre/datapath/verdict.hpp"

#include "../tests/support/tcp_frames.hpp"

#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

namespace dp = nvgre::datapath;

constexpr std::size_t mss_1500 = 1418;

std::vector<std::byte> big_segment() {
    nvgre::test::tcp_frame_spec s;
    s.payload_len = 64000;
    return nvgre::test::tcp_frame(s);
}

const dp::encap_params params{nvgre::mac_address{{0x02, 0, 0xc0, 0xa8, 0x0a, 0x0b}},
                              nvgre::mac_address{{0x02, 0, 0xc0, 0xa8, 0x0a, 0x0c}},
                              0,
                              nvgre::ipv4_address{{192, 168, 10, 11}},
                              nvgre::ipv4_address{{192, 168, 10, 12}},
                              *nvgre::vsid::make(5001)};

/// A sink over a fixed pool of buffers, reused round-robin: no allocation while timed.
struct pool_sink {
    std::vector<std::vector<std::byte>> buffers;
    std::size_t next{0};
    dp::frame current{};
    explicit pool_sink(std::size_t n) : buffers(n, std::vector<std::byte>(dp::recommended_headroom + 2048)) {}
    dp::frame* allocate(std::size_t size, std::size_t headroom) noexcept {
        auto& b = buffers[next++ % buffers.size()];
        current = dp::frame(b, headroom, size);
        return &current;
    }
    void send(dp::frame&, const dp::destination&) noexcept {}
    void discard(dp::frame&) noexcept {}
};

void bm_gso_copy(benchmark::State& state) {
    const auto original = big_segment();
    const auto tmpl = dp::encap_template::make(params).value();
    const auto flow = dp::flow_id_of(original);
    pool_sink sink(64);
    std::size_t segments = 0, bytes = 0;
    for (auto _ : state) {
        auto plan = dp::plan_tcp_segments(original, mss_1500);
        const std::size_t n = dp::segment_tcp(original, *plan, sink, dp::recommended_headroom, [&](dp::frame& f) {
            (void)tmpl.apply(f, flow);
            benchmark::DoNotOptimize(f.bytes().data());
        });
        segments += n;
        bytes += plan->payload_len;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(segments));
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void bm_gso_gather(benchmark::State& state) {
    auto plain = big_segment();
    std::vector<std::byte> storage(dp::recommended_headroom + plain.size());
    std::memcpy(storage.data() + dp::recommended_headroom, plain.data(), plain.size());
    dp::frame f(storage, dp::recommended_headroom, plain.size());
    (void)dp::encapsulate(f, params);
    const auto original = std::span<const std::byte>(f.bytes());
    std::size_t segments = 0, bytes = 0;
    for (auto _ : state) {
        auto plan = dp::plan_tcp_segments(original, mss_1500);
        dp::segment_tcp_gather(original, *plan, [&](std::span<const std::byte> headers, std::span<const std::byte> payload) {
            benchmark::DoNotOptimize(headers.data());
            benchmark::DoNotOptimize(payload.data());
            ++segments;
        });
        bytes += plan->payload_len;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(segments));
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

// --- The naive peer.

std::uint16_t naive_checksum(const std::byte* p, std::size_t n, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += (std::uint32_t{std::to_integer<std::uint8_t>(p[i])} << 8) | std::to_integer<std::uint8_t>(p[i + 1]);
    if (n & 1) sum += std::uint32_t{std::to_integer<std::uint8_t>(p[n - 1])} << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

void put16(std::vector<std::byte>& v, std::uint16_t x) {
    v.push_back(std::byte{static_cast<std::uint8_t>(x >> 8)});
    v.push_back(std::byte{static_cast<std::uint8_t>(x)});
}
void put32(std::vector<std::byte>& v, std::uint32_t x) {
    put16(v, static_cast<std::uint16_t>(x >> 16));
    put16(v, static_cast<std::uint16_t>(x));
}
void put_bytes(std::vector<std::byte>& v, const std::byte* p, std::size_t n) { v.insert(v.end(), p, p + n); }

void bm_gso_naive(benchmark::State& state) {
    const auto original = big_segment();
    const std::byte* in = original.data();
    const std::size_t payload_len = original.size() - 54;
    std::size_t segments = 0, bytes = 0;
    for (auto _ : state) {
        for (std::size_t off = 0, k = 0; off < payload_len; off += mss_1500, ++k) {
            const std::size_t n = std::min(mss_1500, payload_len - off);
            std::vector<std::byte> seg;
            // Outer Ethernet, IPv4, NVGRE.
            put_bytes(seg, reinterpret_cast<const std::byte*>("\x02\x00\xc0\xa8\x0a\x0c\x02\x00\xc0\xa8\x0a\x0b"), 12);
            put16(seg, 0x0800);
            put16(seg, 0x4500);
            put16(seg, static_cast<std::uint16_t>(20 + 8 + 54 + n));
            put16(seg, 0);
            put16(seg, 0x4000);
            put16(seg, 0x402f);
            put16(seg, 0);
            put32(seg, 0xc0a80a0b);
            put32(seg, 0xc0a80a0c);
            const std::uint16_t outer_sum = naive_checksum(seg.data() + 14, 20);
            seg[24] = std::byte{static_cast<std::uint8_t>(outer_sum >> 8)};
            seg[25] = std::byte{static_cast<std::uint8_t>(outer_sum)};
            put16(seg, 0x2000);
            put16(seg, 0x6558);
            put32(seg, 5001u << 8 | 1);
            // Inner Ethernet, IPv4, TCP, payload.
            put_bytes(seg, in, 14);
            put16(seg, 0x4500);
            put16(seg, static_cast<std::uint16_t>(40 + n));
            put16(seg, static_cast<std::uint16_t>(0x4242 + k));
            put16(seg, 0x4000);
            put16(seg, 0x4006);
            put16(seg, 0);
            put_bytes(seg, in + 26, 8);
            const std::uint16_t inner_sum = naive_checksum(seg.data() + 56, 20);
            seg[66] = std::byte{static_cast<std::uint8_t>(inner_sum >> 8)};
            seg[67] = std::byte{static_cast<std::uint8_t>(inner_sum)};
            put_bytes(seg, in + 34, 4);
            put32(seg, static_cast<std::uint32_t>(0x01020304 + off));
            put_bytes(seg, in + 42, 8);
            put16(seg, 0);
            put16(seg, 0);
            put_bytes(seg, in + 54 + off, n);
            // TCP checksum: pseudo-header, then header + payload.
            std::uint32_t pseudo = 0x0a00 + 0x0005 + 0x0a00 + 0x0006 + 6 + static_cast<std::uint32_t>(20 + n);
            const std::uint16_t tcp_sum = naive_checksum(seg.data() + 76, 20 + n, pseudo);
            seg[92] = std::byte{static_cast<std::uint8_t>(tcp_sum >> 8)};
            seg[93] = std::byte{static_cast<std::uint8_t>(tcp_sum)};
            benchmark::DoNotOptimize(seg.data());
            ++segments;
        }
        bytes += payload_len;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(segments));
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

// --- Checksum completion.

void bm_checksum_complete(benchmark::State& state) {
    nvgre::test::tcp_frame_spec s;
    s.payload_len = 1500 - 54;
    auto bytes = nvgre::test::tcp_frame(s);
    dp::frame f(bytes, 0, bytes.size());
    for (auto _ : state) {
        f.offload.checksum_partial = true;
        f.offload.checksum_start = 34;
        f.offload.checksum_offset = 16;
        (void)dp::complete_checksum(f);
        benchmark::DoNotOptimize(bytes.data());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * (bytes.size() - 34)));
}

void bm_checksum_complete_naive(benchmark::State& state) {
    nvgre::test::tcp_frame_spec s;
    s.payload_len = 1500 - 54;
    auto bytes = nvgre::test::tcp_frame(s);
    for (auto _ : state) {
        const std::uint16_t c = naive_checksum(bytes.data() + 34, bytes.size() - 34);
        bytes[50] = std::byte{static_cast<std::uint8_t>(c >> 8)};
        bytes[51] = std::byte{static_cast<std::uint8_t>(c)};
        benchmark::DoNotOptimize(bytes.data());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * (bytes.size() - 34)));
}

}  // namespace

BENCHMARK(bm_gso_copy)->Name("gso/ipv4/64KB");
BENCHMARK(bm_gso_gather)->Name("gso/ipv4/64KB/gather");
BENCHMARK(bm_gso_naive)->Name("peer/naive/gso/ipv4/64KB");
BENCHMARK(bm_checksum_complete)->Name("checksum-complete/1500B");
BENCHMARK(bm_checksum_complete_naive)->Name("peer/naive/checksum-complete/1500B");
