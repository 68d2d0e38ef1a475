// buffer-adapters: how an embedder hands its own packet buffers to the library.
//
// The library never owns packet memory: it works on a datapath::frame, a view of
// [data, data + size) inside a buffer with headroom in front. An adapter turns the embedder's
// buffer type into a frame (`view`) and takes the frame's new start and length back
// (`commit`). Two are shown: a plain byte array, and a struct shaped like a DPDK rte_mbuf
// (buf_addr / data_off / data_len / buf_len). Both encapsulate the same tenant frame in place.
#include <nvgre/datapath/encap.hpp>
#include <nvgre/datapath/frame.hpp>
#include <nvgre/wire/packet_layout.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace dp = nvgre::datapath;

// 1. A plain byte array with a start offset and a length.
struct byte_array_packet {
    std::array<std::byte, 2048> storage{};
    std::size_t start{128};  // headroom in front of the frame
    std::size_t length{0};
};
struct byte_array_adapter {
    static dp::frame view(byte_array_packet& p) { return dp::frame(p.storage, p.start, p.length); }
    static void commit(byte_array_packet& p, const dp::frame& f) {
        p.start = f.data_offset();
        p.length = f.size();
    }
};
static_assert(dp::frame_adapter<byte_array_adapter, byte_array_packet>);

// 2. The fields of a DPDK rte_mbuf that matter here (a real embedder adapts rte_mbuf itself).
struct mbuf_like {
    void* buf_addr{nullptr};
    std::uint16_t data_off{0};
    std::uint16_t data_len{0};
    std::uint32_t pkt_len{0};
    std::uint16_t buf_len{0};
    std::uint64_t ol_flags{0};
    std::uint8_t l2_len{0}, l3_len{0}, outer_l2_len{0}, outer_l3_len{0};
};
struct mbuf_adapter {
    static dp::frame view(mbuf_like& m) {
        return dp::frame(std::span<std::byte>(static_cast<std::byte*>(m.buf_addr), m.buf_len), m.data_off, m.data_len);
    }
    static void commit(mbuf_like& m, const dp::frame& f) {
        m.data_off = static_cast<std::uint16_t>(f.data_offset());
        m.data_len = static_cast<std::uint16_t>(f.size());
        m.pkt_len = m.data_len;
        // The offload metadata maps onto the mbuf's tunnel fields (RTE_MBUF_F_TX_TUNNEL_* etc.).
        m.outer_l2_len = static_cast<std::uint8_t>(f.offload.outer_l2_len);
        m.outer_l3_len = static_cast<std::uint8_t>(f.offload.outer_l3_len);
    }
};
static_assert(dp::frame_adapter<mbuf_adapter, mbuf_like>);

// Encapsulates whatever buffer type through its adapter: view, work on the frame, commit.
template <class Adapter, class Buffer>
bool encapsulate_for_vsid_5001(Buffer& b) {
    dp::frame f = Adapter::view(b);
    const dp::encap_params p{*nvgre::mac_address::parse("02:00:c0:a8:0a:0b"), *nvgre::mac_address::parse("02:00:c0:a8:0a:0c"),
                             0, *nvgre::ip_address::parse("192.168.10.11"), *nvgre::ip_address::parse("192.168.10.12"),
                             *nvgre::vsid::make(5001)};
    if (!dp::encapsulate(f, p)) return false;
    Adapter::commit(b, f);
    const auto l = nvgre::wire::parse_packet_layout(f.bytes());
    return l.kind == nvgre::wire::frame_kind::nvgre && l.vsid_bits() == 5001;
}

int main() {
    // A minimal tenant frame: Ethernet / IPv4 header only (the payload does not matter here).
    const unsigned char tenant[] = {0x00, 0x15, 0x5d, 0x00, 0x00, 0x06, 0x00, 0x15, 0x5d, 0x00, 0x00, 0x05, 0x08, 0x00,
                                    0x45, 0x00, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x40, 0xfd, 0x66, 0xd4,
                                    0x0a, 0x00, 0x00, 0x05, 0x0a, 0x00, 0x00, 0x06};

    byte_array_packet a;
    std::memcpy(a.storage.data() + a.start, tenant, sizeof tenant);
    a.length = sizeof tenant;
    const bool ok_array = encapsulate_for_vsid_5001<byte_array_adapter>(a);
    std::printf("byte array: %s, frame now starts at %zu with %zu bytes\n", ok_array ? "encapsulated" : "FAILED", a.start, a.length);

    alignas(64) static std::byte pool[2048];
    mbuf_like m;
    m.buf_addr = pool;
    m.buf_len = sizeof pool;
    m.data_off = 128;  // RTE_PKTMBUF_HEADROOM
    std::memcpy(pool + m.data_off, tenant, sizeof tenant);
    m.data_len = sizeof tenant;
    const bool ok_mbuf = encapsulate_for_vsid_5001<mbuf_adapter>(m);
    std::printf("mbuf-like:  %s, data_off %u, data_len %u, outer_l2_len %u, outer_l3_len %u\n",
                ok_mbuf ? "encapsulated" : "FAILED", m.data_off, m.data_len, m.outer_l2_len, m.outer_l3_len);
    return ok_array && ok_mbuf ? 0 : 1;
}
