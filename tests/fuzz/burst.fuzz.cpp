// libFuzzer target: the burst entry points against the single-frame ones, on the hosts of
// examples/policies/two-tenants.policy. egress_burst / ingress_burst decide the common frame
// on a staged fast path and hand every other frame to egress() / ingress_with_layout(); this
// target holds the two to each other on whole bursts. Input: byte 0 picks the host (mod 3)
// and the direction (bit 7: ingress); byte 1 the configuration (bit 0: gso; bits 1-2: the
// underlay MTU 1500, 1280, 9000 or 100; bit 3: the egress burst names its ports by the host's
// numbers, state::bind_port, instead of by MAC — the single frames always go by MAC; bit 4, in
// the egress direction: the encap entry point instead, encap_burst against encap(), each frame
// in the VSID of its port; bit 5: the frames of both sides are chained alike — a first segment
// of 256 to 319 bytes, the rest in two more — with 1400 bytes of tailroom for ICMP answers; a
// chained frame may differ from the same bytes flat where its headers reach past the first
// segment, docs/embedding.md, so the two sides are chained the same); then frames, each a 2-byte big-endian length (mod
// 2048) and its bytes, at most 48 (bursts cross the 32-frame chunk). Egress enters each frame
// through the VM port of its source MAC when that VM runs on the host, else through one of the
// host's ports chosen by its length. Asserts, frame by frame, that the burst and the single-frame
// calls give:
//   - the same outcome (verdict, reason, VSID, PA, destination, copies);
//   - the same frame: the same bytes (chained: the chain gathered) at the same offset in its buffer;
//   - the same traffic through the replication sink, in the same order (bytes and destination);
//   - the same counters;
// and that egress_burst / ingress_burst report every frame decided.
#include "fuzz_support.hpp"
#include "support/chained.hpp"

#include "nvgre/datapath/ca_encap.hpp"
#include "nvgre/datapath/egress.hpp"
#include "nvgre/datapath/ingress.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;

namespace {

constexpr std::size_t max_frames = 48;
constexpr std::size_t underlay_mtus[] = {1500, 1280, 9000, 100};

void same_traffic(const fuzz::pool_sink& a, const fuzz::pool_sink& b) {
    NVGRE_FUZZ_CHECK(a.copies_asked == b.copies_asked);
    NVGRE_FUZZ_CHECK(a.out.size() == b.out.size());
    for (std::size_t i = 0; i < a.out.size(); ++i) {
        NVGRE_FUZZ_CHECK(a.out[i].bytes == b.out[i].bytes);
        NVGRE_FUZZ_CHECK(a.out[i].to == b.out[i].to);
        NVGRE_FUZZ_CHECK(a.out[i].intact == b.out[i].intact);
    }
}

void same_counters(const counters& a, const counters& b) {
    for (std::size_t v = 0; v < verdict_count; ++v) NVGRE_FUZZ_CHECK(a.verdicts[v] == b.verdicts[v]);
    for (std::size_t r = 0; r < drop_reason_count; ++r) NVGRE_FUZZ_CHECK(a.drops[r] == b.drops[r]);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    static_cast<void>(fuzz::hnv::get());
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const auto& h = fuzz::hnv::get();
    const std::size_t host = data[0] % 3;
    const bool is_ingress = (data[0] & 0x80u) != 0;
    const policy::state& s = h.hosts[host];
    pipeline_config cfg;
    cfg.gso = (data[1] & 1u) != 0;
    cfg.underlay_mtu = underlay_mtus[(data[1] >> 1) & 3u];

    // The frames, each in two buffers of exactly headroom + its size (+ tailroom when chained):
    // one for each path.
    std::deque<fuzz::framed> burst_buffers, single_buffers;
    std::deque<nvgre::test::chained_buffer> chained_buffers, single_chained;  // bit 5
    const bool by_number = (data[1] & 8u) != 0;
    const bool chained = (data[1] & 32u) != 0;
    const std::size_t tailroom = chained ? 1400 : 0;
    std::vector<mac_address> ports;
    std::vector<std::uint32_t> numbers;
    for (std::size_t at = 2; at + 2 <= size && burst_buffers.size() < max_frames;) {
        std::size_t len = (std::size_t{data[at]} << 8 | data[at + 1]) % 2048;
        at += 2;
        len = std::min(len, size - at);
        const auto bytes = fuzz::bytes_of(data + at, len);
        at += len;
        burst_buffers.emplace_back(bytes, recommended_headroom, tailroom);
        single_buffers.emplace_back(bytes, recommended_headroom, tailroom);
        if (chained)
            for (auto* side : {&chained_buffers, &single_chained})
                side->emplace_back(bytes, first_segment_bytes + len % 64, std::vector<std::size_t>{len % 7},
                                   recommended_headroom, tailroom);
        const auto& own = h.ports[host];
        mac_address port = own[len % own.size()];
        if (len >= 12) {
            const mac_address source = mac_address::from_bytes(std::span<const std::byte>(bytes).subspan(6, 6));
            if (std::find(own.begin(), own.end(), source) != own.end()) port = source;
        }
        ports.push_back(port);
        numbers.push_back(static_cast<std::uint32_t>(std::find(own.begin(), own.end(), port) - own.begin()));
    }
    if (burst_buffers.empty()) return 0;
    const std::size_t n = burst_buffers.size();

    std::vector<frame> burst_frames;
    for (const auto& b : burst_buffers) burst_frames.push_back(b.f);
    std::vector<frame*> single_frames;
    for (std::size_t i = 0; i < n; ++i) single_frames.push_back(chained ? &single_chained[i].f : &single_buffers[i].f);
    if (chained)
        for (std::size_t i = 0; i < n; ++i) burst_frames[i] = chained_buffers[i].f;
    std::vector<outcome> burst_out(n), single_out(n);
    fuzz::pool_sink burst_sink, single_sink;
    context burst_ctx;
    counters single_count;

    if (!is_ingress && (data[1] & 16u) != 0) {
        std::vector<std::uint32_t> vsids;
        for (const mac_address& port : ports) vsids.push_back(s.port(port)->vsid);
        NVGRE_FUZZ_CHECK(encap_burst(s, vsids, std::span<frame>(burst_frames), std::span<outcome>(burst_out), cfg) == n);
        for (std::size_t i = 0; i < n; ++i) single_out[i] = encap(s, vsids[i], *single_frames[i], cfg);
        for (std::size_t i = 0; i < n; ++i) {
            fuzz::check_outcome_reason(burst_out[i]);
            NVGRE_FUZZ_CHECK(burst_out[i] == single_out[i]);
            NVGRE_FUZZ_CHECK(nvgre::test::chained_buffer::gathered(burst_frames[i]) ==
                             nvgre::test::chained_buffer::gathered(*single_frames[i]));
            NVGRE_FUZZ_CHECK(burst_frames[i].data_offset() == single_frames[i]->data_offset());
        }
        return 0;
    }
    if (is_ingress) {
        NVGRE_FUZZ_CHECK(ingress_burst(s, std::span<frame>(burst_frames), std::span<outcome>(burst_out), burst_sink,
                                       burst_ctx, cfg) == n);
        for (std::size_t i = 0; i < n; ++i) {
            single_out[i] = ingress(s, *single_frames[i], single_sink, cfg);
            single_count.count(single_out[i]);
        }
    } else {
        const std::size_t decided =
            by_number ? egress_burst(s, std::span<frame>(burst_frames), std::span<const std::uint32_t>(numbers),
                                     std::span<outcome>(burst_out), burst_sink, burst_ctx, cfg)
                      : egress_burst(s, std::span<frame>(burst_frames), std::span<const mac_address>(ports),
                                     std::span<outcome>(burst_out), burst_sink, burst_ctx, cfg);
        NVGRE_FUZZ_CHECK(decided == n);
        for (std::size_t i = 0; i < n; ++i) {
            single_out[i] = egress(s, ports[i], *single_frames[i], single_sink, cfg);
            single_count.count(single_out[i]);
        }
    }

    for (std::size_t i = 0; i < n; ++i) {
        fuzz::check_outcome_reason(burst_out[i]);
        NVGRE_FUZZ_CHECK(burst_out[i] == single_out[i]);
        const frame& a = burst_frames[i];
        const frame& b = *single_frames[i];
        NVGRE_FUZZ_CHECK(nvgre::test::chained_buffer::gathered(a) == nvgre::test::chained_buffer::gathered(b));
        NVGRE_FUZZ_CHECK(a.data_offset() == b.data_offset());
        NVGRE_FUZZ_CHECK(a.buffer().data() == (chained ? chained_buffers[i].storage.data() : burst_buffers[i].storage.data()));
    }
    same_traffic(burst_sink, single_sink);
    same_counters(burst_ctx.count, single_count);
    return 0;
}
