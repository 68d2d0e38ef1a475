// buffer-adapters: how an embedder hands its own packet buffers to the library.
//
// The library never owns packet memory: it works on a datapath::frame, a view of the first
// segment of a packet — [data, data + size) inside a buffer with headroom in front — and,
// when the packet continues in more buffers, of the chain behind it (frame::tail). An adapter
// turns the embedder's buffer type into a frame (`view`) and takes the frame back (`commit`):
// the new start and length of the first segment, the packet's total length, the offload
// metadata. Two are shown:
//  1. a plain byte array, encapsulated in place;
//  2. a chain of buffers shaped like DPDK rte_mbufs (buf_addr / data_off / data_len / pkt_len
//     / next): a 3000-byte tenant frame in two segments goes through egress on one host and
//     back through ingress on the other, and comes out as the same bytes — no segment is
//     copied or linearised; the headers are written in the first segment's headroom.
#include <nvgre/datapath/egress.hpp>
#include <nvgre/datapath/encap.hpp>
#include <nvgre/datapath/frame.hpp>
#include <nvgre/datapath/ingress.hpp>
#include <nvgre/policy/loader.hpp>
#include <nvgre/policy/state.hpp>
#include <nvgre/wire/packet_layout.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

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
        p.length = f.size();  // one buffer: never chained
    }
};
static_assert(dp::frame_adapter<byte_array_adapter, byte_array_packet>);

// 2. The fields of a DPDK rte_mbuf that matter here (a real embedder adapts rte_mbuf itself:
// the same code with rte_pktmbuf_mtod, rte_pktmbuf_free and rte_pktmbuf_trim).
struct mbuf_like {
    std::byte* buf_addr{nullptr};
    std::uint16_t buf_len{0};
    std::uint16_t data_off{0};
    std::uint16_t data_len{0};  // this segment's bytes
    std::uint32_t pkt_len{0};   // the packet's bytes, all segments (first segment only)
    mbuf_like* next{nullptr};
    std::uint8_t outer_l2_len{0}, outer_l3_len{0};
};
struct mbuf_adapter {
    // How the library walks the chain: a segment's bytes and the next one.
    static nvgre::segment walk(const void* handle) noexcept {
        const auto* m = static_cast<const mbuf_like*>(handle);
        return {std::span<std::byte>(m->buf_addr + m->data_off, m->data_len), m->next};
    }
    static dp::frame view(mbuf_like& m) {
        dp::frame f(std::span<std::byte>(m.buf_addr, m.buf_len), m.data_off, m.data_len);
        if (m.next != nullptr) f.tail = nvgre::chain(m.next, &walk, m.pkt_len - m.data_len);
        return f;
    }
    static void commit(mbuf_like& m, const dp::frame& f) {
        m.data_off = static_cast<std::uint16_t>(f.data_offset());
        m.data_len = static_cast<std::uint16_t>(f.size());
        m.pkt_len = static_cast<std::uint32_t>(f.total_size());
        // The packet may have become shorter (decap cuts Ethernet padding; an answer drops the
        // chain): trim the segments after the first to what is left (rte_pktmbuf_trim; a real
        // embedder frees the segments it no longer needs).
        std::size_t left = f.tail.length();
        for (mbuf_like* s = m.next; s != nullptr; s = s->next) {
            s->data_len = static_cast<std::uint16_t>(std::min<std::size_t>(s->data_len, left));
            left -= s->data_len;
        }
        // The offload metadata map onto the mbuf's tunnel fields (RTE_MBUF_F_TX_TUNNEL_* etc.).
        m.outer_l2_len = static_cast<std::uint8_t>(f.offload.outer_l2_len);
        m.outer_l3_len = static_cast<std::uint8_t>(f.offload.outer_l3_len);
    }
};
static_assert(dp::frame_adapter<mbuf_adapter, mbuf_like>);

namespace {

// Two hosts, one tenant (docs/policy-format.md); a jumbo underlay below.
constexpr const char* policy_text = R"(
provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b
provider-address host=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c
routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red
virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0
lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web
lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.12 vm=red-db
)";

// red-web (10.0.0.5) to red-db (10.0.0.6): Ethernet / IPv4 / UDP (checksum 0) / payload.
std::vector<std::byte> tenant_frame(std::size_t payload) {
    std::vector<std::byte> f(42 + payload);
    const unsigned char head[] = {0x00, 0x15, 0x5d, 0x00, 0x00, 0x06, 0x00, 0x15, 0x5d, 0x00, 0x00, 0x05, 0x08, 0x00,
                                  0x45, 0x00, 0, 0, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0, 0,
                                  0x0a, 0x00, 0x00, 0x05, 0x0a, 0x00, 0x00, 0x06, 0x30, 0x39, 0x00, 0x35, 0, 0, 0, 0};
    std::memcpy(f.data(), head, sizeof head);
    nvgre::detail::store_be16(f.data() + 16, static_cast<std::uint16_t>(28 + payload));
    nvgre::detail::store_be16(f.data() + 38, static_cast<std::uint16_t>(8 + payload));
    nvgre::detail::store_be16(f.data() + 24, nvgre::checksum::ipv4_header_checksum(std::span(f).subspan(14, 20)));
    for (std::size_t i = 0; i < payload; ++i) f[42 + i] = std::byte{static_cast<unsigned char>(i * 7)};
    return f;
}

// Every byte of the packet an mbuf chain holds.
std::vector<std::byte> gather(const mbuf_like& m) {
    std::vector<std::byte> out;
    for (const mbuf_like* s = &m; s != nullptr; s = s->next)
        out.insert(out.end(), s->buf_addr + s->data_off, s->buf_addr + s->data_off + s->data_len);
    return out;
}

bool byte_array_example() {
    const auto tenant = tenant_frame(0);
    byte_array_packet a;
    std::memcpy(a.storage.data() + a.start, tenant.data(), tenant.size());
    a.length = tenant.size();
    dp::frame f = byte_array_adapter::view(a);
    const dp::encap_params p{*nvgre::mac_address::parse("02:00:c0:a8:0a:0b"), *nvgre::mac_address::parse("02:00:c0:a8:0a:0c"),
                             0, *nvgre::ip_address::parse("192.168.10.11"), *nvgre::ip_address::parse("192.168.10.12"),
                             *nvgre::vsid::make(5001)};
    if (!dp::encapsulate(f, p)) return false;
    byte_array_adapter::commit(a, f);
    const auto l = nvgre::wire::parse_packet_layout(std::span(a.storage).subspan(a.start, a.length));
    std::printf("byte array: encapsulated in place, the frame now starts at %zu with %zu bytes\n", a.start, a.length);
    return l.kind == nvgre::wire::frame_kind::nvgre && l.vsid_bits() == 5001;
}

bool mbuf_chain_example() {
    const auto loaded = nvgre::policy::load_policy_text(policy_text, "inline");
    if (!loaded) return false;
    const auto hv1 = nvgre::policy::state::build(*loaded.validated, "hv1");
    const auto hv2 = nvgre::policy::state::build(*loaded.validated, "hv2");
    if (!hv1 || !hv2) return false;
    dp::pipeline_config cfg;
    cfg.underlay_mtu = 9000;

    // A 3000-byte frame as a NIC delivers it in 2 KB buffers: 1000 bytes in the first
    // (behind 128 bytes of headroom), the other 2000 in a second.
    const auto sent = tenant_frame(3000 - 42);
    alignas(64) static std::array<std::byte, 2048> first_buf, second_buf;
    mbuf_like second{second_buf.data(), 2048, 0, 2000, 0, nullptr};
    mbuf_like first{first_buf.data(), 2048, 128, 1000, 3000, &second};
    std::memcpy(first_buf.data() + 128, sent.data(), 1000);
    std::memcpy(second_buf.data(), sent.data() + 1000, 2000);

    // Egress on hv1: red-web's port, the frame encapsulated toward hv2.
    dp::no_replication_sink sink;
    dp::frame f = mbuf_adapter::view(first);
    const dp::outcome out = dp::egress(hv1.value(), *nvgre::mac_address::parse("00:15:5d:00:00:05"), f, sink, cfg);
    mbuf_adapter::commit(first, f);
    std::printf("egress on hv1: %s toward %s; first segment %u bytes from offset %u, packet %u bytes in 2 segments\n",
                std::string(dp::to_string(out.verdict)).c_str(), out.pa.to_string().c_str(), first.data_len, first.data_off,
                first.pkt_len);
    if (out.verdict != dp::verdict::encap || first.pkt_len != 3000 + 42) return false;

    // Ingress on hv2: the same chain, as if it had crossed the fabric.
    dp::frame g = mbuf_adapter::view(first);
    const dp::outcome in = dp::ingress(hv2.value(), g, sink, cfg);
    mbuf_adapter::commit(first, g);
    std::printf("ingress on hv2: %s to %s; packet %u bytes, the same bytes red-web sent: %s\n",
                std::string(dp::to_string(in.verdict)).c_str(), in.to.vm_mac.to_string().c_str(), first.pkt_len,
                gather(first) == sent ? "yes" : "NO");
    return in.verdict == dp::verdict::deliver && gather(first) == sent;
}

}  // namespace

int main() {
    const bool ok_array = byte_array_example();
    const bool ok_chain = mbuf_chain_example();
    return ok_array && ok_chain ? 0 : 1;
}
