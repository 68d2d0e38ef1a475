// libFuzzer target: IP rewrite both ways (datapath/rewrite.hpp), on the nat VMs of
// examples/policies/two-tenants.policy: blue-nat1 (hv1, 10.0.0.7, nat PA 192.168.10.21) and
// blue-nat2 (hv2, 10.0.0.8, nat PA 192.168.10.22). Byte 0 of the input picks the direction;
// the rest is the frame.
//   even: the frame is what blue-nat1 sends to blue-nat2: rewrite_egress on hv1, and when it
//         rewrites, rewrite_ingress of that output on hv2;
//   odd:  the frame arrives from the fabric at hv2: rewrite_destination, then rewrite_ingress.
// Asserts:
//   - a drop names its reason and leaves the frame (and every byte of its buffer) as it was;
//   - a rewrite keeps the IP packet's length and bytes but for the addresses and the checksum
//     fields, puts the nat PAs (egress) or CAs (ingress) in the IP header, keeps a valid
//     IPv4 header checksum valid and a valid TCP/UDP checksum valid (RFC 1624 patches equal
//     recomputation), and never turns a zero UDP/IPv4 checksum into another value;
//   - egress then ingress is the identity on the IP packet (the round trip restores the frame
//     but for the MACs, which become the two VMs'), up to the two forms of a ones'-complement
//     zero in a checksum field that was wrong to begin with (same_but_zero_forms).
#include "fuzz_support.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/rewrite.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;

namespace {
constexpr std::size_t headroom = 8;  // a VLAN tag of the source PA would need 4
constexpr std::size_t tailroom = 8;

/// What a checksum check found: no such checksum (not a whole TCP/UDP datagram over an
/// option-less IPv4 or extension-less IPv6 header, or a zero UDP/IPv4 checksum), valid, invalid.
enum class sum_state { none, valid, invalid };

struct ip_facts {
    bool v6{false};
    sum_state header{sum_state::none};  // IPv4 header checksum
    sum_state l4{sum_state::none};
    bool udp4_zero{false};
};

/// The checksums of the IP packet of untagged Ethernet frame `f` (the bytes after offset 14).
ip_facts facts_of(std::span<const std::byte> f) {
    ip_facts r;
    if (f.size() < 14 + 20) return r;
    const std::uint16_t type = nvgre::detail::load_be16(f.data() + 12);
    const auto l3 = f.subspan(14);
    std::size_t l4_at = 0, l4_len = 0;
    std::uint8_t proto = 0;
    ip_address src, dst;
    if (type == wire::ethertype::ipv4) {
        const std::size_t hlen = std::size_t{std::to_integer<std::uint8_t>(l3[0]) & 0x0fu} * 4;
        const std::size_t total = nvgre::detail::load_be16(l3.data() + 2);
        if ((std::to_integer<std::uint8_t>(l3[0]) >> 4) != 4 || hlen < 20 || total < hlen || total > l3.size()) return r;
        r.header = checksum::compute(l3.first(hlen)) == 0 ? sum_state::valid : sum_state::invalid;
        const bool fragment = (nvgre::detail::load_be16(l3.data() + 6) & 0x3fffu) != 0;
        if (hlen != 20 || fragment) return r;
        proto = std::to_integer<std::uint8_t>(l3[9]);
        src = ipv4_address::from_bytes(l3.subspan(12, 4));
        dst = ipv4_address::from_bytes(l3.subspan(16, 4));
        l4_at = 20;
        l4_len = total - 20;
    } else if (type == wire::ethertype::ipv6) {
        if (l3.size() < 40 || (std::to_integer<std::uint8_t>(l3[0]) >> 4) != 6) return r;
        r.v6 = true;
        const std::size_t payload = nvgre::detail::load_be16(l3.data() + 4);
        if (40 + payload > l3.size()) return r;
        proto = std::to_integer<std::uint8_t>(l3[6]);
        src = ipv6_address::from_bytes(l3.subspan(8, 16));
        dst = ipv6_address::from_bytes(l3.subspan(24, 16));
        l4_at = 40;
        l4_len = payload;
    } else {
        return r;
    }
    const bool tcp = proto == 6, udp = proto == 17;
    if ((!tcp && !udp) || l4_len < (tcp ? 20u : 8u)) return r;
    const auto l4 = l3.subspan(l4_at, l4_len);
    if (udp && !r.v6 && nvgre::detail::load_be16(l4.data() + 6) == 0) {
        r.udp4_zero = true;
        return r;
    }
    const std::uint32_t pseudo = checksum::pseudo_header_sum(src, dst, proto, static_cast<std::uint32_t>(l4_len));
    r.l4 = checksum::fold(checksum::sum(l4, pseudo)) == 0xffff ? sum_state::valid : sum_state::invalid;
    return r;
}

/// A rewrite kept what it must: length, validity of valid checksums, UDP zero checksums.
void check_rewritten(const ip_facts& before, std::span<const std::byte> out, std::size_t in_size) {
    NVGRE_FUZZ_CHECK(out.size() == in_size);
    const ip_facts after = facts_of(out);
    if (before.header == sum_state::valid) NVGRE_FUZZ_CHECK(after.header == sum_state::valid);
    if (before.l4 == sum_state::valid) NVGRE_FUZZ_CHECK(after.l4 == sum_state::valid);
    if (before.udp4_zero) NVGRE_FUZZ_CHECK(after.udp4_zero);
}

/// The IP source and destination of the rewritten untagged frame `f` are `src` and `dst`.
void check_addresses(std::span<const std::byte> f, const ip_address& src, const ip_address& dst) {
    const bool v6 = nvgre::detail::load_be16(f.data() + 12) == wire::ethertype::ipv6;
    NVGRE_FUZZ_CHECK(v6 == src.is_v6());
    if (v6) {
        NVGRE_FUZZ_CHECK(ipv6_address::from_bytes(f.subspan(22, 16)) == src.v6());
        NVGRE_FUZZ_CHECK(ipv6_address::from_bytes(f.subspan(38, 16)) == dst.v6());
    } else {
        NVGRE_FUZZ_CHECK(ipv4_address::from_bytes(f.subspan(26, 4)) == src.v4());
        NVGRE_FUZZ_CHECK(ipv4_address::from_bytes(f.subspan(30, 4)) == dst.v4());
    }
}

/// a == b, but that a 16-bit word (from the start) may be 0x0000 in one and 0xffff in the
/// other: the two zeros of ones'-complement arithmetic. RFC 1624 eqn. 3 may turn one into the
/// other on the way back, and only in a checksum field that was wrong to begin with (a valid
/// IPv4 header checksum is never 0xffff; a valid TCP one as 0x0000 and 0xffff verify alike).
bool same_but_zero_forms(std::span<const std::byte> a, std::span<const std::byte> b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); i += 2) {
        if (i + 1 == a.size()) return a[i] == b[i];
        const std::uint16_t x = nvgre::detail::load_be16(a.data() + i), y = nvgre::detail::load_be16(b.data() + i);
        if (x != y && !((x == 0 && y == 0xffff) || (x == 0xffff && y == 0))) return false;
    }
    return true;
}

/// rewrite_ingress on `s` of `a` (a frame from the fabric); true if it delivered.
bool ingress_of(const policy::state& s, fuzz::framed& a, const ip_facts& before, std::size_t in_size) {
    const auto storage_before = a.storage;
    const auto layout = wire::parse_packet_layout(a.f.bytes());
    const policy::record_entry* to = rewrite_destination(s, a.f.bytes(), layout);
    if (to == nullptr) return false;
    NVGRE_FUZZ_CHECK(to->local && to->rule == policy::rule::nat);
    const outcome o = rewrite_ingress(s, a.f, *to);
    fuzz::check_outcome_reason(o);
    NVGRE_FUZZ_CHECK(a.intact());
    if (o.verdict == verdict::drop) {
        NVGRE_FUZZ_CHECK(a.storage == storage_before);
        return false;
    }
    NVGRE_FUZZ_CHECK(o.verdict == verdict::deliver && o.to.to == destination::kind::vm && o.to.vm_mac == to->mac);
    const auto out = a.f.bytes();
    NVGRE_FUZZ_CHECK(mac_address::from_bytes(std::span<const std::byte>(out).first(6)) == to->mac);
    // The sender: the nat record of the outer source PA the frame came with.
    const auto in = std::span<const std::byte>(storage_before).subspan(headroom);
    const bool v6 = layout.outer_l3 == wire::l3_kind::ipv6;
    const std::size_t source_at = std::size_t{layout.outer_l3_offset} + (v6 ? 8 : 12);
    const policy::record_entry* from = s.nat_record(v6 ? ip_address{ipv6_address::from_bytes(in.subspan(source_at, 16))}
                                                       : ip_address{ipv4_address::from_bytes(in.subspan(source_at, 4))});
    NVGRE_FUZZ_CHECK(from != nullptr && !from->local && from->domain == to->domain);
    check_addresses(out, from->ca, to->ca);
    // An outer 802.1Q tag is removed; nothing else changes the length.
    check_rewritten(before, out, in_size - (layout.outer_vlan_count == 1 ? 4 : 0));
    return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const auto input = fuzz::bytes_of(data + 1, size - 1);
    const auto& hnv = fuzz::hnv::get();
    const policy::state& hv1 = hnv.hosts[0];
    const policy::state& hv2 = hnv.hosts[1];
    fuzz::framed a(input, headroom, tailroom);

    if ((data[0] & 1u) != 0) {
        // The checksum facts of the frame as the VM will get it: without an outer 802.1Q tag.
        std::vector<std::byte> untagged = input;
        if (input.size() >= 18 && nvgre::detail::load_be16(input.data() + 12) == wire::ethertype::vlan)
            untagged.erase(untagged.begin() + 12, untagged.begin() + 16);
        ingress_of(hv2, a, facts_of(untagged), input.size());
        return 0;
    }
    // rewrite_egress's precondition (egress rules 1-2 ran): an untagged IPv4 or IPv6 frame.
    if (input.size() < 14) return 0;
    const std::uint16_t type = nvgre::detail::load_be16(input.data() + 12);
    if (type != wire::ethertype::ipv4 && type != wire::ethertype::ipv6) return 0;

    const policy::record_entry* sender = hv1.nat_record(ip_address{ipv4_address{{192, 168, 10, 21}}});
    const policy::record_entry* receiver = hv1.nat_record(ip_address{ipv4_address{{192, 168, 10, 22}}});
    NVGRE_FUZZ_CHECK(sender != nullptr && receiver != nullptr && sender->local && !receiver->local);
    const auto storage_before = a.storage;
    const outcome o = rewrite_egress(hv1, a.f, *sender, *receiver);
    fuzz::check_outcome_reason(o);
    NVGRE_FUZZ_CHECK(a.intact());
    if (o.verdict == verdict::drop) {
        NVGRE_FUZZ_CHECK(a.storage == storage_before);
        return 0;
    }
    NVGRE_FUZZ_CHECK(o.verdict == verdict::rewrite && o.pa == receiver->pa && o.to.to == destination::kind::fabric);
    // Only a sender's CA to the receiver's CA is rewritten.
    check_addresses(input, sender->ca, receiver->ca);
    const auto out = a.bytes();
    check_addresses(out, sender->pa, receiver->pa);
    check_rewritten(facts_of(input), out, input.size());
    // Bytes other than the addresses and the checksum fields stay as the VM sent them:
    // the round trip through hv2 gives the IP packet (and any padding) back byte for byte.
    fuzz::framed back(out, headroom, tailroom);
    NVGRE_FUZZ_CHECK(ingress_of(hv2, back, facts_of(out), out.size()));
    const auto returned = back.bytes();
    NVGRE_FUZZ_CHECK(returned.size() == input.size());
    NVGRE_FUZZ_CHECK(same_but_zero_forms(std::span<const std::byte>(returned).subspan(14),
                                         std::span<const std::byte>(input).subspan(14)));
    NVGRE_FUZZ_CHECK(mac_address::from_bytes(std::span<const std::byte>(returned).subspan(6, 6)) == sender->mac);
    return 0;
}
