// hello: one NVGRE round trip, step by step. The first program to read in this repository.
//
//   hello [OUT.pcap]        (default hello.pcap)
//
// 1. Build a tenant's Ethernet frame (VM 10.0.0.5 sends "hello, nvgre" over UDP to 10.0.0.6).
// 2. Encapsulate it for virtual subnet 5001 between two hosts (provider addresses 192.168.10.11
//    and 192.168.10.12): outer Ethernet + IPv4 + NVGRE written into the headroom in front of
//    the frame, in the same buffer. The tenant's bytes are never copied or moved.
// 3. Write the packet to a pcap file and let tshark (Wireshark) dissect it.
// 4. Decapsulate with parse_packet_layout() and check that VSID, FlowID and every inner byte
//    came back. Exit status 0 only if they did.

#include "pcap_file.hpp"  // examples/common: a small libpcap wrapper

#include <nvgre/checksum/pseudo_header.hpp>
#include <nvgre/ip_address.hpp>
#include <nvgre/mac_address.hpp>
#include <nvgre/vsid.hpp>
#include <nvgre/wire/ethernet.hpp>
#include <nvgre/wire/ip_protocol.hpp>
#include <nvgre/wire/ipv4.hpp>
#include <nvgre/wire/nvgre.hpp>
#include <nvgre/wire/packet_layout.hpp>
#include <nvgre/wire/udp.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace wire = nvgre::wire;
using nvgre::ipv4_address;
using nvgre::mac_address;

namespace {

/// Runs `tshark -r FILE` and prints its one-line summary of each frame, indented.
void print_tshark_summary(const std::string& path) {
    // Quote the path for the shell: '...' with every ' written as '\''.
    std::string quoted = "'";
    for (const char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
    const std::string command = "tshark -r " + quoted + " 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    std::string output;
    if (pipe != nullptr) {
        char buf[512];
        std::size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
        const int status = pclose(pipe);
        if (status != 0) output.clear();
    }
    if (output.empty()) {
        std::printf("   (tshark is not installed or failed; `apt-get install tshark` to see Wireshark's view)\n");
        return;
    }
    // tshark right-aligns the frame number: drop the padding.
    const std::size_t first = output.find_first_not_of(' ');
    std::printf("   tshark says: %s", output.c_str() + (first == std::string::npos ? 0 : first));
}

}  // namespace

int main(int argc, char** argv) {
    const std::string out_path = argc > 1 ? argv[1] : "hello.pcap";

    // The two VMs (customer addresses, CA) and the two hosts they run on (provider addresses, PA).
    const mac_address vm_a_mac = mac_address::parse("00:15:5d:00:00:05").value();
    const mac_address vm_b_mac = mac_address::parse("00:15:5d:00:00:06").value();
    const ipv4_address vm_a_ca = ipv4_address::parse("10.0.0.5").value();
    const ipv4_address vm_b_ca = ipv4_address::parse("10.0.0.6").value();
    const mac_address host_1_mac = mac_address::parse("02:00:c0:a8:0a:0b").value();
    const mac_address host_2_mac = mac_address::parse("02:00:c0:a8:0a:0c").value();
    const ipv4_address host_1_pa = ipv4_address::parse("192.168.10.11").value();
    const ipv4_address host_2_pa = ipv4_address::parse("192.168.10.12").value();
    const nvgre::vsid subnet = nvgre::vsid::make(5001).value();  // tenant VSIDs are 4096-16777214
    const nvgre::flow_id flow{42};                               // ECMP entropy for the underlay

    // One buffer for the whole packet. The frame starts `headroom` bytes in, so the outer
    // headers can later be written in front of it without moving it (as in a DPDK mbuf).
    std::array<std::byte, 256> buffer{};
    constexpr std::size_t headroom = 64;

    // ---- 1. The tenant's frame: Ethernet / IPv4 / UDP / "hello, nvgre" -------------------
    constexpr std::string_view message = "hello, nvgre";
    const wire::udp_repr udp{5000, 5001, static_cast<std::uint16_t>(message.size())};
    wire::ipv4_repr inner_ip{};
    inner_ip.source = vm_a_ca;
    inner_ip.destination = vm_b_ca;
    inner_ip.protocol = wire::ip_protocol::udp;
    inner_ip.ttl = 64;
    inner_ip.dont_fragment = true;
    inner_ip.payload_len = static_cast<std::uint16_t>(udp.buffer_len());
    wire::ethernet_repr inner_eth{};
    inner_eth.destination = vm_b_mac;
    inner_eth.source = vm_a_mac;
    inner_eth.ether_type = wire::ethertype::ipv4;

    const std::size_t inner_len = inner_eth.header_len() + inner_ip.buffer_len();
    const std::span<std::byte> inner = std::span(buffer).subspan(headroom, inner_len);
    inner_eth.emit(inner);
    const auto ip_bytes = inner.subspan(inner_eth.header_len());
    inner_ip.emit(ip_bytes);  // also fills the IPv4 header checksum
    const auto udp_bytes = ip_bytes.subspan(inner_ip.header_len());
    udp.emit(udp_bytes);
    std::memcpy(udp_bytes.subspan(wire::udp_header_len).data(), message.data(), message.size());
    // The UDP checksum covers a pseudo-header (addresses, protocol, length) plus the datagram.
    wire::mutable_udp_view::unchecked(udp_bytes).fill_checksum(
        nvgre::checksum::ipv4_pseudo_header_sum(vm_a_ca, vm_b_ca, wire::ip_protocol::udp,
                                                static_cast<std::uint16_t>(udp.buffer_len())));

    // A copy kept only to prove the round trip at the end.
    std::array<std::byte, 256> original{};
    std::copy(inner.begin(), inner.end(), original.begin());
    const std::byte* const inner_start = inner.data();

    std::printf("1. Tenant frame: %s > %s, IPv4 %s > %s, UDP 5000 > 5001, payload \"%.*s\"\n",
                vm_a_mac.to_string().c_str(), vm_b_mac.to_string().c_str(), vm_a_ca.to_string().c_str(),
                vm_b_ca.to_string().c_str(), static_cast<int>(message.size()), message.data());
    std::printf("   %zu bytes at offset %zu of a %zu-byte buffer (%zu bytes of headroom in front)\n", inner_len,
                headroom, buffer.size(), headroom);

    // ---- 2. Encapsulate: outer Ethernet / IPv4 / NVGRE, written into the headroom -------
    const wire::nvgre_repr nvgre_header{subnet, flow};  // GRE with K bit, protocol 0x6558, key VSID<<8|FlowID
    wire::ipv4_repr outer_ip{};
    outer_ip.source = host_1_pa;
    outer_ip.destination = host_2_pa;
    outer_ip.protocol = wire::ip_protocol::gre;  // 47
    outer_ip.ttl = 64;
    outer_ip.dont_fragment = true;  // the outer packet is never fragmented (docs/hnv-rules.md, wire rule 7)
    outer_ip.payload_len = static_cast<std::uint16_t>(nvgre_header.header_len() + inner_len);
    wire::ethernet_repr outer_eth{};
    outer_eth.destination = host_2_mac;
    outer_eth.source = host_1_mac;
    outer_eth.ether_type = wire::ethertype::ipv4;

    const std::size_t outer_len = outer_eth.header_len() + outer_ip.header_len() + nvgre_header.header_len();
    if (outer_len > headroom) {
        std::printf("not enough headroom: need %zu bytes, have %zu\n", outer_len, headroom);
        return 1;
    }
    const std::size_t packet_start = headroom - outer_len;  // the frame's start moves back...
    const std::span<std::byte> packet = std::span(buffer).subspan(packet_start, outer_len + inner_len);
    outer_eth.emit(packet);  // ...and the outer headers fill the bytes just in front of the inner frame
    outer_ip.emit(packet.subspan(outer_eth.header_len()));  // valid header checksum included
    nvgre_header.emit(packet.subspan(outer_eth.header_len() + outer_ip.header_len()));

    std::printf("2. Encapsulated for VSID %u, FlowID %u, %s > %s: %zu bytes of outer headers\n",
                static_cast<unsigned>(subnet.value()), static_cast<unsigned>(flow.value),
                host_1_pa.to_string().c_str(), host_2_pa.to_string().c_str(), outer_len);
    std::printf("   (Ethernet 14 + IPv4 20 + NVGRE 8) written into the headroom: the packet now starts at\n");
    std::printf("   offset %zu, %zu bytes in all; the tenant frame is still at offset %zu, not copied\n",
                packet_start, packet.size(), headroom);

    // ---- 3. Write it to a pcap file and ask Wireshark's dissector what it sees -----------
    {
        example::pcap_writer writer(out_path);
        if (!writer.ok() || !writer.write(packet) || !writer.close()) {
            std::printf("3. cannot write %s: %s\n", out_path.c_str(), writer.error().c_str());
            return 1;
        }
    }
    std::printf("3. Wrote %s (1 frame, %zu bytes)\n", out_path.c_str(), packet.size());
    print_tshark_summary(out_path);
    std::printf("   (the summary names the innermost packet; `tshark -V -r %s` shows every layer,\n"
                "   with GRE key 0x%08x = VSID %u << 8 | FlowID %u)\n",
                out_path.c_str(), static_cast<unsigned>(nvgre_header.key()), static_cast<unsigned>(subnet.value()),
                static_cast<unsigned>(flow.value));

    // ---- 4. Decapsulate: classify, check the NVGRE fields, find the inner frame ---------
    const wire::packet_layout layout = wire::parse_packet_layout(packet);
    if (layout.kind != wire::frame_kind::nvgre) {
        std::printf("4. Not valid NVGRE: %s in %s at offset %u\n", std::string(nvgre::to_string(layout.error.code)).c_str(),
                    std::string(nvgre::to_string(layout.error.where)).c_str(), static_cast<unsigned>(layout.error.offset));
        return 1;
    }
    // Decap only moves the start forward: the inner frame is the rest of the packet.
    const std::span<const std::byte> decapsulated = std::span<const std::byte>(packet).subspan(layout.inner_l2_offset);
    const bool vsid_ok = layout.vsid_bits() == subnet.value();
    const bool flow_ok = layout.flow_id_bits() == flow.value;
    const bool same_bytes = std::ranges::equal(decapsulated, std::span(original).first(inner_len));
    const bool same_place = decapsulated.data() == inner_start;
    std::printf("4. Decapsulated: valid NVGRE, VSID %u (%s), FlowID %u (%s)\n", static_cast<unsigned>(layout.vsid_bits()),
                vsid_ok ? "ok" : "WRONG", static_cast<unsigned>(layout.flow_id_bits()), flow_ok ? "ok" : "WRONG");
    std::printf("   inner frame: %zu bytes at offset %u of the packet, %s the original, %s\n", decapsulated.size(),
                static_cast<unsigned>(layout.inner_l2_offset), same_bytes ? "byte-identical to" : "DIFFERENT from",
                same_place ? "at the same address (zero copy)" : "MOVED");

    const bool ok = vsid_ok && flow_ok && same_bytes && same_place;
    std::printf("%s\n", ok ? "Round trip OK." : "Round trip FAILED.");
    return ok ? 0 : 1;
}
