// libFuzzer target: every wire view of include/nvgre/wire/ on its own, and the ARP / ND proxy
// parsers. The first input byte picks the header (mod 9), the rest is the header's bytes:
//   0 Ethernet  1 ARP  2 IPv4  3 IPv6 (+ extension-header walk)  4 TCP (+ option walk)
//   5 UDP  6 ICMP  7 ICMPv6 (+ ND option walk and the ND/echo reprs)
//   8 an Ethernet frame to the proxy (parse_arp_request, parse_neighbor_solicitation, and the
//     replies made from what they accept)
// For each: checked() either fails with an error of its layer at an offset inside the bytes, or
// every accessor stays inside them (ASan watches) and the repr round-trips:
// parse(emit(parse(view))) == parse(view), emit writing exactly what the header said where the
// repr represents every field. Checksums are recomputed by emit and verified after it.
#include "fuzz_support.hpp"

#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/proxy.hpp"
#include "nvgre/wire/arp.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/icmp.hpp"
#include "nvgre/wire/icmpv6.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/tcp.hpp"
#include "nvgre/wire/udp.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

using namespace nvgre;

namespace {

using bytes_t = std::span<const std::byte>;

void check_error(const error& e, layer where, std::size_t size) {
    NVGRE_FUZZ_CHECK(e.where == where);
    NVGRE_FUZZ_CHECK(e.offset <= size);
    NVGRE_FUZZ_CHECK(e.code != errc{});
}

void ethernet(bytes_t b) {
    auto v = wire::ethernet_view::checked(b);
    if (!v) return check_error(v.error(), v.error().where == layer::vlan ? layer::vlan : layer::ethernet, b.size());
    NVGRE_FUZZ_CHECK(v->header_len() <= b.size() && v->tag_count() <= wire::max_vlan_tags);
    const auto r = wire::ethernet_repr::parse(*v);
    std::vector<std::byte> out(r.header_len());
    r.emit(out);
    NVGRE_FUZZ_CHECK(std::equal(out.begin(), out.end(), b.begin()));
    NVGRE_FUZZ_CHECK(wire::ethernet_repr::parse(wire::ethernet_view::unchecked(std::span<const std::byte>(out))) == r);
}

void arp(bytes_t b) {
    auto v = wire::arp_view::checked(b);
    if (!v) return check_error(v.error(), layer::arp, b.size());
    const auto r = wire::arp_repr::parse(*v);
    std::vector<std::byte> out(r.buffer_len());
    r.emit(out);
    NVGRE_FUZZ_CHECK(std::equal(out.begin(), out.end(), b.begin()));
    auto again = wire::arp_view::checked(std::span<const std::byte>(out));
    NVGRE_FUZZ_CHECK(again.has_value() && wire::arp_repr::parse(*again) == r);
}

void ipv4(bytes_t b) {
    auto v = wire::ipv4_view::checked(b);
    if (!v) return check_error(v.error(), layer::ipv4, b.size());
    NVGRE_FUZZ_CHECK(v->header_len() >= wire::ipv4_min_header_len && v->header_len() <= v->total_len());
    NVGRE_FUZZ_CHECK(v->total_len() <= b.size());
    NVGRE_FUZZ_CHECK(v->payload().size() == v->total_len() - v->header_len());
    NVGRE_FUZZ_CHECK(v->options().size() == v->header_len() - wire::ipv4_min_header_len);
    static_cast<void>(v->header_checksum_ok());
    const auto r = wire::ipv4_repr::parse(*v);
    std::vector<std::byte> out(r.buffer_len());
    r.emit(out);
    std::copy(v->payload().begin(), v->payload().end(), out.begin() + wire::ipv4_min_header_len);
    auto again = wire::ipv4_view::checked(std::span<const std::byte>(out));
    NVGRE_FUZZ_CHECK(again.has_value() && again->header_checksum_ok());
    NVGRE_FUZZ_CHECK(wire::ipv4_repr::parse(*again) == r);
}

void ipv6(bytes_t b) {
    auto v = wire::ipv6_view::checked(b);
    if (!v) return check_error(v.error(), layer::ipv6, b.size());
    NVGRE_FUZZ_CHECK(wire::ipv6_header_len + v->payload_len() <= b.size());
    auto walk = wire::walk_extension_headers(*v);
    if (walk) {
        NVGRE_FUZZ_CHECK(walk->upper_offset >= wire::ipv6_header_len);
        NVGRE_FUZZ_CHECK(walk->upper_offset <= wire::ipv6_header_len + v->payload_len());
        NVGRE_FUZZ_CHECK(walk->header_count <= wire::ipv6_max_extension_headers);
    } else {
        check_error(walk.error(), layer::ipv6_extension, b.size());
    }
    const auto r = wire::ipv6_repr::parse(*v);
    std::vector<std::byte> out(r.buffer_len());
    r.emit(out);
    NVGRE_FUZZ_CHECK(std::equal(out.begin(), out.begin() + wire::ipv6_header_len, b.begin()));
    std::copy(v->payload().begin(), v->payload().end(), out.begin() + wire::ipv6_header_len);
    auto again = wire::ipv6_view::checked(std::span<const std::byte>(out));
    NVGRE_FUZZ_CHECK(again.has_value() && wire::ipv6_repr::parse(*again) == r);
    auto walk2 = wire::walk_extension_headers(*again);
    NVGRE_FUZZ_CHECK(walk2.has_value() == walk.has_value());
    if (walk) NVGRE_FUZZ_CHECK(*walk2 == *walk);
}

void tcp(bytes_t b) {
    auto v = wire::tcp_view::checked(b);
    if (!v) return check_error(v.error(), layer::tcp, b.size());
    NVGRE_FUZZ_CHECK(v->header_len() >= wire::tcp_min_header_len && v->header_len() <= b.size());
    std::size_t end = 0;
    auto walked = v->for_each_option([&](const wire::tcp_option& o) {
        NVGRE_FUZZ_CHECK(o.offset >= wire::tcp_min_header_len && o.offset < v->header_len());
        NVGRE_FUZZ_CHECK(o.offset + 2 + o.data.size() <= v->header_len() || o.data.empty());
        end = o.offset;
    });
    if (!walked) check_error(walked.error(), layer::tcp, b.size());
    NVGRE_FUZZ_CHECK(end <= v->header_len());
    auto r = wire::tcp_repr::parse(*v);
    if (!r) return check_error(r.error(), layer::tcp, b.size());
    const std::size_t payload = b.size() - v->header_len();
    std::vector<std::byte> out(r->buffer_len(payload));
    r->emit(out);
    std::copy(b.begin() + static_cast<std::ptrdiff_t>(v->header_len()), b.end(), out.begin() + static_cast<std::ptrdiff_t>(r->header_len()));
    auto again = wire::tcp_view::checked(std::span<const std::byte>(out));
    NVGRE_FUZZ_CHECK(again.has_value());
    auto r2 = wire::tcp_repr::parse(*again);
    NVGRE_FUZZ_CHECK(r2.has_value() && *r2 == *r);
}

void udp(bytes_t b) {
    auto v = wire::udp_view::checked(b);
    if (!v) return check_error(v.error(), layer::udp, b.size());
    NVGRE_FUZZ_CHECK(v->length() <= b.size() && v->length() >= wire::udp_header_len);
    NVGRE_FUZZ_CHECK(v->payload().size() == v->length() - wire::udp_header_len);
    const auto r = wire::udp_repr::parse(*v);
    std::vector<std::byte> out(wire::udp_header_len + v->payload().size());
    r.emit(out);
    std::copy(v->payload().begin(), v->payload().end(), out.begin() + wire::udp_header_len);
    auto again = wire::udp_view::checked(std::span<const std::byte>(out));
    NVGRE_FUZZ_CHECK(again.has_value() && wire::udp_repr::parse(*again) == r);
}

void icmp(bytes_t b) {
    auto v = wire::icmp_view::checked(b);
    if (!v) return check_error(v.error(), layer::icmp, b.size());
    const auto r = wire::icmp_repr::parse(*v);
    std::vector<std::byte> out(b.size());
    r.emit(out);
    std::copy(v->payload().begin(), v->payload().end(), out.begin() + wire::icmp_header_len);
    auto mv = wire::mutable_icmp_view::unchecked(out);
    mv.fill_checksum();
    auto again = wire::icmp_view::checked(std::span<const std::byte>(out));
    NVGRE_FUZZ_CHECK(again.has_value() && again->checksum_ok());
    NVGRE_FUZZ_CHECK(wire::icmp_repr::parse(*again) == r);
}

void icmpv6(bytes_t b) {
    auto v = wire::icmpv6_view::checked(b);
    if (!v) return check_error(v.error(), layer::icmpv6, b.size());
    NVGRE_FUZZ_CHECK(v->header_len() <= b.size());
    const std::uint32_t pseudo = checksum::ipv6_pseudo_header_sum(ipv6_address{}, ipv6_address{}, wire::ip_protocol::icmpv6,
                                                                  static_cast<std::uint32_t>(b.size()));
    static_cast<void>(v->checksum_ok(pseudo));
    if (wire::is_nd_message(v->type())) {
        auto walked = v->for_each_nd_option([&](const wire::nd_option& o) {
            NVGRE_FUZZ_CHECK(o.length_units != 0);
            NVGRE_FUZZ_CHECK(o.offset + std::size_t{o.length_units} * 8 <= b.size());
        });
        if (!walked) check_error(walked.error(), layer::icmpv6, b.size());
    }
    if (auto r = wire::icmpv6_repr::parse(*v)) {
        std::vector<std::byte> out(r->buffer_len());
        r->emit(out);
        std::copy(b.begin() + wire::icmpv6_echo_header_len, b.end(), out.begin() + wire::icmpv6_echo_header_len);
        auto again = wire::icmpv6_view::checked(std::span<const std::byte>(out));
        NVGRE_FUZZ_CHECK(again.has_value());
        auto r2 = wire::icmpv6_repr::parse(*again);
        NVGRE_FUZZ_CHECK(r2.has_value() && *r2 == *r);
    }
    if (auto r = wire::icmpv6_ns_repr::parse(*v)) {
        std::vector<std::byte> out(r->buffer_len());
        r->emit(out, pseudo);
        auto again = wire::icmpv6_view::checked(std::span<const std::byte>(out));
        NVGRE_FUZZ_CHECK(again.has_value());
        auto r2 = wire::icmpv6_ns_repr::parse(*again);
        NVGRE_FUZZ_CHECK(r2.has_value() && *r2 == *r);
    }
    if (auto r = wire::icmpv6_na_repr::parse(*v)) {
        std::vector<std::byte> out(r->buffer_len());
        r->emit(out, pseudo);
        auto again = wire::icmpv6_view::checked(std::span<const std::byte>(out));
        NVGRE_FUZZ_CHECK(again.has_value());
        auto r2 = wire::icmpv6_na_repr::parse(*again);
        NVGRE_FUZZ_CHECK(r2.has_value() && *r2 == *r);
    }
    if (auto r = wire::icmpv6_echo_repr::parse(*v)) NVGRE_FUZZ_CHECK(r->payload_len == v->payload().size());
}

void proxy(bytes_t b) {
    using namespace nvgre::datapath;
    const mac_address answer{{0x02, 0x00, 0x5e, 0x00, 0x01, 0x01}};
    if (auto q = parse_arp_request(b)) {
        fuzz::framed fr(b, 0, 0);
        make_arp_reply(fr.f, *q, answer);
        NVGRE_FUZZ_CHECK(fr.intact() && fr.f.size() >= arp_frame_len && fr.f.size() <= ethernet_min_frame_len);
        auto arp = wire::arp_view::checked(fr.f.bytes().subspan(wire::ethernet_header_len));
        NVGRE_FUZZ_CHECK(arp.has_value() && arp->operation() == wire::arp_operation::reply);
        NVGRE_FUZZ_CHECK(arp->sender_ip() == q->target_ip && arp->target_mac() == q->sender_mac);
    } else {
        NVGRE_FUZZ_CHECK(q.error().offset <= b.size());
    }
    if (auto q = parse_neighbor_solicitation(b)) {
        NVGRE_FUZZ_CHECK(!q->target.is_multicast() && !q->source_ip.is_multicast());
        NVGRE_FUZZ_CHECK(!q->dad || !q->source_link_layer);
        // Too little room: refused, frame unchanged.
        fuzz::framed tight(b.first(std::min<std::size_t>(b.size(), neighbor_advertisement_frame_len - 1)), 0, 0);
        const auto before = tight.storage;
        NVGRE_FUZZ_CHECK(!make_neighbor_advertisement(tight.f, *q, answer, false).has_value());
        NVGRE_FUZZ_CHECK(tight.storage == before);
        fuzz::framed fr(b, 0, neighbor_advertisement_frame_len);
        NVGRE_FUZZ_CHECK(make_neighbor_advertisement(fr.f, *q, answer, true).has_value());
        NVGRE_FUZZ_CHECK(fr.intact() && fr.f.size() == neighbor_advertisement_frame_len);
        auto ip = wire::ipv6_view::checked(fr.f.bytes().subspan(wire::ethernet_header_len));
        NVGRE_FUZZ_CHECK(ip.has_value());
        auto na = wire::icmpv6_view::checked(ip->payload());
        NVGRE_FUZZ_CHECK(na.has_value());
        NVGRE_FUZZ_CHECK(na->checksum_ok(checksum::ipv6_pseudo_header_sum(ip->source(), ip->destination(), wire::ip_protocol::icmpv6,
                                                                          static_cast<std::uint32_t>(ip->payload().size()))));
        auto r = wire::icmpv6_na_repr::parse(*na);
        NVGRE_FUZZ_CHECK(r.has_value() && r->target == q->target && r->target_link_layer_address == answer);
    } else {
        NVGRE_FUZZ_CHECK(q.error().offset <= b.size());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto bytes = fuzz::bytes_of(data + 1, size - 1);
    const bytes_t b(bytes);
    switch (data[0] % 9) {
        case 0: ethernet(b); break;
        case 1: arp(b); break;
        case 2: ipv4(b); break;
        case 3: ipv6(b); break;
        case 4: tcp(b); break;
        case 5: udp(b); break;
        case 6: icmp(b); break;
        case 7: icmpv6(b); break;
        default: proxy(b); break;
    }
    return 0;
}
