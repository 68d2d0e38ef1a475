// libFuzzer target: the egress pipeline (frames sent by a VM) of each host of the fixed policy
// examples/policies/two-tenants.policy, which has NVGRE and IP-rewrite (nat) records, so both
// the encap and the rewrite paths run. The input is one Ethernet frame; on each of hv1, hv2
// and hv3 it enters through the VM port whose MAC is its source MAC when that VM runs there,
// else through one of the host's ports chosen by the input's length (a spoofed frame). Asserts:
//   - a drop names its reason; a reply only the reason of a packet the router answers with an
//     ICMP error; other verdicts none (a flood names its first lost copy);
//   - the frame stays inside its buffer; copies went through the sink's own buffers;
//   - encap: the output is valid NVGRE by every wire rule (checksums included), from a PA of
//     this host to the outcome's PA, in the outcome's VSID, toward a record of the sender's
//     routing domain that is not on this host; and when the host owning that PA runs ingress
//     on it, whatever it delivers goes to a VM of the sender's routing domain
//     (egress(hvX) then ingress(hvY) never crosses routing domains);
//   - rewrite: an IP packet from this host's nat PA to the outcome's PA, whose nat record is in
//     the sender's routing domain; ingress on the owner of that PA delivers only within it;
//   - encap in pieces (wire rule 7: inner IPv4 fragments, TCP segments): each piece, sent
//     through the sink, is NVGRE as above with the outcome's PA and VSID and fits the 1500-byte
//     underlay; the input frame itself is not sent;
//   - local: to a VM port of this host in the sender's routing domain;
//   - reply: back to the sending port (ARP/ND answers, the router's echo replies and ICMP /
//     ICMPv6 errors);
//   - flood: NVGRE copies in the port's VSID and VM copies to other ports of that VSID.
#include "fuzz_support.hpp"

#include "nvgre/datapath/egress.hpp"
#include "nvgre/datapath/ingress.hpp"
#include "nvgre/datapath/too_big.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

using namespace nvgre;
using namespace nvgre::datapath;

namespace {

/// Runs `bytes` (an output of egress) through ingress on the host that owns `pa`: whatever is
/// delivered must go to VMs of routing domain `domain`.
void ingress_stays_in_domain(std::span<const std::byte> bytes, const ip_address& pa, const rdid& domain) {
    const policy::state* peer = fuzz::hnv::get().host_of(pa);
    NVGRE_FUZZ_CHECK(peer != nullptr);
    fuzz::framed fr(bytes, recommended_headroom, 0);
    fuzz::pool_sink sink;
    const outcome o = ingress(*peer, fr.f, sink);
    fuzz::check_outcome_reason(o);
    if (o.verdict != verdict::deliver) return;
    NVGRE_FUZZ_CHECK(*fuzz::domain_of(*peer, o.vsid) == domain);
    if (o.copies == 0) NVGRE_FUZZ_CHECK(*fuzz::domain_of_port(*peer, o.to.vm_mac) == domain);
    for (const auto& sent : sink.out) NVGRE_FUZZ_CHECK(*fuzz::domain_of_port(*peer, sent.to.vm_mac) == domain);
}

/// An encapsulated output: valid NVGRE from a local PA to `pa` in `vsid`. Egress judges a VM's
/// IP header but not what lies behind it: an IPv6 extension-header chain that runs off the end
/// is carried as the VM sent it, and the receiving host's ingress drops it by name (the check
/// below of what ingress does). So the outer headers must be flawless, the inner frame's L3
/// only as good as the VM made it.
void check_nvgre_out(const policy::state& s, std::span<const std::byte> out, const ip_address& pa, std::uint32_t vsid,
                     const rdid& domain) {
    const auto l = wire::parse_packet_layout(out);
    if (l.kind == wire::frame_kind::error) {
        NVGRE_FUZZ_CHECK(l.error.where == layer::inner_ipv6_extension);
        NVGRE_FUZZ_CHECK(l.inner_l3_offset != wire::no_offset && l.error.offset >= l.inner_l3_offset);
    } else {
        NVGRE_FUZZ_CHECK(l.kind == wire::frame_kind::nvgre);
    }
    NVGRE_FUZZ_CHECK(l.vsid_bits() == vsid);
    NVGRE_FUZZ_CHECK(l.outer_l3_end == out.size());
    ip_address source, destination;
    if (l.outer_l3 == wire::l3_kind::ipv4) {
        const auto ip = wire::ipv4_view::unchecked(out.subspan(l.outer_l3_offset));
        source = ip.source();
        destination = ip.destination();
        NVGRE_FUZZ_CHECK(ip.dont_fragment() && ip.ttl() == 64);
    } else {
        const auto ip = wire::ipv6_view::unchecked(out.subspan(l.outer_l3_offset));
        source = ip.source();
        destination = ip.destination();
    }
    NVGRE_FUZZ_CHECK(s.is_local_pa(source));
    NVGRE_FUZZ_CHECK(destination == pa);
    NVGRE_FUZZ_CHECK(!s.is_local_pa(destination));
    NVGRE_FUZZ_CHECK(*fuzz::domain_of(s, vsid) == domain);
    ingress_stays_in_domain(out, pa, domain);
}

void run(std::size_t host, std::span<const std::byte> input) {
    const auto& hnv = fuzz::hnv::get();
    const policy::state& s = hnv.hosts[host];
    const auto& ports = hnv.ports[host];
    mac_address port_mac = ports[input.size() % ports.size()];
    if (input.size() >= 12) {
        const auto source = mac_address::from_bytes(input.subspan(6, 6));
        if (s.port(source) != nullptr) port_mac = source;
    }
    const policy::local_port* port = s.port(port_mac);
    NVGRE_FUZZ_CHECK(port != nullptr);
    const rdid& domain = *fuzz::domain_of_port(s, port_mac);

    fuzz::framed fr(input, recommended_headroom, 16);
    fuzz::pool_sink sink;
    // Oversize TCP is segmented for odd-length inputs (pipeline_config::gso), answered too big
    // for even ones; the rate limiter's clock stands still, so it answers the first 10 only.
    static context ctx = [] {
        context c;
        c.limit_answers();
        static const std::uint64_t clock = 1;
        c.use_clock(&clock);
        return c;
    }();
    pipeline_config cfg;
    cfg.gso = (input.size() & 1u) != 0;
    const outcome o = egress(s, port_mac, fr.f, sink, ctx, cfg);
    fuzz::check_outcome_reason(o);
    NVGRE_FUZZ_CHECK(fr.intact());
    for (const auto& sent : sink.out) NVGRE_FUZZ_CHECK(sent.intact);
    const bool pieces = o.verdict == verdict::encap && o.copies > 0;
    if (o.verdict != verdict::flood && !pieces) NVGRE_FUZZ_CHECK(sink.out.empty());

    const auto out = std::span<const std::byte>(fr.f.bytes());
    switch (o.verdict) {
        case verdict::drop: break;
        case verdict::encap: {
            if (pieces) {
                NVGRE_FUZZ_CHECK(o.copies == sink.out.size());
                for (const auto& sent : sink.out) {
                    NVGRE_FUZZ_CHECK(sent.to.to == destination::kind::fabric);
                    const auto piece = std::span<const std::byte>(sent.bytes);
                    check_nvgre_out(s, piece, o.pa, o.vsid, domain);
                    const auto l = wire::parse_packet_layout(piece);
                    NVGRE_FUZZ_CHECK(l.outer_l3_end - l.outer_l3_offset <= 1500);
                }
                break;
            }
            NVGRE_FUZZ_CHECK(o.to.to == destination::kind::fabric);
            check_nvgre_out(s, out, o.pa, o.vsid, domain);
            // The record it was sent toward: a remote VM of the sender's routing domain.
            const auto l = wire::parse_packet_layout(out);
            const auto inner_dst = wire::ethernet_view::unchecked(out.subspan(l.inner_l2_offset)).destination();
            bool found = false;
            s.for_each_record([&](const policy::record_entry& r, policy::record_id) {
                found = found || (r.mac == inner_dst && r.vsid == o.vsid && r.pa == o.pa && !r.local);
            });
            NVGRE_FUZZ_CHECK(found);
            break;
        }
        case verdict::rewrite: {
            NVGRE_FUZZ_CHECK(o.to.to == destination::kind::fabric);
            const policy::record_entry* to = s.nat_record(o.pa);
            NVGRE_FUZZ_CHECK(to != nullptr && !to->local);
            NVGRE_FUZZ_CHECK(s.domain(to->domain).id == domain);
            auto eth = wire::ethernet_view::checked(out);
            NVGRE_FUZZ_CHECK(eth.has_value());
            const auto l3 = eth->payload();
            ip_address source, destination;
            if (eth->ether_type() == wire::ethertype::ipv4) {
                auto ip = wire::ipv4_view::checked(l3);
                NVGRE_FUZZ_CHECK(ip.has_value());
                // Patched incrementally (RFC 1624): a good checksum stays good (a bad one, bad).
                auto sent = wire::ipv4_view::checked(input.subspan(wire::ethernet_header_len));
                NVGRE_FUZZ_CHECK(sent.has_value());
                NVGRE_FUZZ_CHECK(ip->header_checksum_ok() == sent->header_checksum_ok());
                source = ip->source();
                destination = ip->destination();
            } else {
                NVGRE_FUZZ_CHECK(eth->ether_type() == wire::ethertype::ipv6);
                auto ip = wire::ipv6_view::checked(l3);
                NVGRE_FUZZ_CHECK(ip.has_value());
                source = ip->source();
                destination = ip->destination();
            }
            NVGRE_FUZZ_CHECK(destination == o.pa);
            const policy::record_entry* from = s.nat_record(source);
            NVGRE_FUZZ_CHECK(from != nullptr && from->local && from->mac == port_mac);
            ingress_stays_in_domain(out, o.pa, domain);
            break;
        }
        case verdict::local: {
            NVGRE_FUZZ_CHECK(o.to.to == destination::kind::vm);
            NVGRE_FUZZ_CHECK(fuzz::domain_of_port(s, o.to.vm_mac) != nullptr);
            NVGRE_FUZZ_CHECK(*fuzz::domain_of_port(s, o.to.vm_mac) == domain);
            NVGRE_FUZZ_CHECK(s.port(o.to.vm_mac)->vsid == o.vsid);
            auto eth = wire::ethernet_view::checked(out);
            NVGRE_FUZZ_CHECK(eth.has_value() && eth->destination() == o.to.vm_mac && eth->tag_count() == 0);
            break;
        }
        case verdict::reply:
            NVGRE_FUZZ_CHECK(o.to.to == destination::kind::sender && o.to.vm_mac == port_mac);
            NVGRE_FUZZ_CHECK(o.vsid == port->vsid);
            break;
        case verdict::flood:
            NVGRE_FUZZ_CHECK(o.vsid == port->vsid);
            NVGRE_FUZZ_CHECK(o.copies == sink.out.size());
            for (const auto& sent : sink.out) {
                const auto copy = std::span<const std::byte>(sent.bytes);
                if (sent.to.to == destination::kind::fabric) {
                    const auto l = wire::parse_packet_layout(copy);
                    NVGRE_FUZZ_CHECK(l.outer_l3_offset != wire::no_offset);
                    ip_address dst = l.outer_l3 == wire::l3_kind::ipv4
                                         ? ip_address{wire::ipv4_view::unchecked(copy.subspan(l.outer_l3_offset)).destination()}
                                         : ip_address{wire::ipv6_view::unchecked(copy.subspan(l.outer_l3_offset)).destination()};
                    check_nvgre_out(s, copy, dst, port->vsid, domain);
                } else {
                    NVGRE_FUZZ_CHECK(sent.to.to == destination::kind::vm && sent.to.vm_mac != port_mac);
                    const policy::local_port* p = s.port(sent.to.vm_mac);
                    NVGRE_FUZZ_CHECK(p != nullptr && p->vsid == port->vsid);
                }
            }
            break;
        case verdict::deliver: fuzz::invariant_broken("egress never delivers", __FILE__, __LINE__);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    static_cast<void>(fuzz::hnv::get());
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = fuzz::bytes_of(data, size);
    for (std::size_t host = 0; host < 3; ++host) run(host, input);
    return 0;
}
