// The catalogue of malformed input, docs/bad-input.md: every class of bad frame, with the error
// value the wire layer gives (code, layer, byte offset from the frame's start), the same error
// from decapsulation (frame untouched), and the drop reason of the pipeline that meets it. Each
// TEST_CASE below backs the rows of the table that name it. Policy texts and capture files
// are backed by tests/policy/loader.test.cpp and tests/interop/{cli_checks,bad_pcaps}.py.
//
// The frames: red-db (hv2) -> red-web (hv1) of examples/policies/two-tenants.policy, VSID 5001,
// Ethernet / IPv4 / UDP with 18 bytes of data (60 bytes), encapsulated by the library from
// hv2's PA to hv1's. Offsets of the IPv4-outer frame (102 bytes):
//   0 outer Ethernet | 14 outer IPv4 | 34 NVGRE (38 VSID, 41 FlowID) | 42 inner Ethernet |
//   56 inner IPv4 | 76 UDP | 84 data
// and of the IPv6-outer frame (122 bytes): 14 outer IPv6 | 54 NVGRE | 62 inner Ethernet |
//   76 inner IPv4 | 96 UDP.
#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/egress.hpp"
#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/ingress.hpp"
#include "nvgre/wire/gre.hpp"
#include "nvgre/wire/icmpv6.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/packet_layout.hpp"
#include "nvgre/wire/tcp.hpp"
#include "nvgre/wire/udp.hpp"

#include "support/frames.hpp"
#include "support/hnv_policy.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;
using namespace nvgre::test::hnv_vm;

namespace {

using bytes = std::vector<std::byte>;

constexpr std::size_t v4_inner = 42;  // inner Ethernet of the IPv4-outer frame (62 over IPv6)

bytes inner_udp() { return udp_frame(red_db, red_web, ip("10.0.0.6"), ip("10.0.0.5")); }

/// `inner` in NVGRE from hv2's PA to hv1's (IPv4), or between two IPv6 PAs, with outer `vlan`.
bytes nvgre_frame(const bytes& inner, bool v6 = false, std::uint16_t vlan = 0) {
    buffer b(inner);
    const encap_params p{mac("02:00:c0:a8:0a:0c"), mac("02:00:c0:a8:0a:0b"), vlan,
                         v6 ? ip("2001:db8::12") : ip("192.168.10.12"), v6 ? ip("2001:db8::11") : ip("192.168.10.11"),
                         *nvgre::vsid::make(5001)};
    REQUIRE(encapsulate(b.f, p));
    return b.bytes();
}
bytes v4_frame() { return nvgre_frame(inner_udp()); }
bytes v6_frame() { return nvgre_frame(inner_udp(), true); }

void put8(bytes& f, std::size_t at, unsigned v) { f[at] = std::byte{static_cast<std::uint8_t>(v)}; }
void put16(bytes& f, std::size_t at, unsigned v) {
    put8(f, at, v >> 8);
    put8(f, at + 1, v);
}
unsigned get16(const bytes& f, std::size_t at) {
    return std::to_integer<unsigned>(f[at]) << 8 | std::to_integer<unsigned>(f[at + 1]);
}
/// Recomputes the IPv4 header checksum of the header at `at`.
void fix4(bytes& f, std::size_t at = 14) {
    wire::mutable_ipv4_view::unchecked(std::span<std::byte>(f).subspan(at)).fill_header_checksum();
}
/// Inserts `what` at `at`.
void insert(bytes& f, std::size_t at, const bytes& what) { f.insert(f.begin() + static_cast<std::ptrdiff_t>(at), what.begin(), what.end()); }
bytes tag(unsigned tpid, unsigned vid) {
    return {std::byte{static_cast<std::uint8_t>(tpid >> 8)}, std::byte{static_cast<std::uint8_t>(tpid)},
            std::byte{static_cast<std::uint8_t>(vid >> 8)}, std::byte{static_cast<std::uint8_t>(vid)}};
}
/// An 8-byte Destination Options header (PadN) whose next header is `next`.
bytes destination_options(unsigned next, unsigned len_units = 0) {
    bytes h(8 * (len_units + 1), std::byte{0});
    put8(h, 0, next);
    put8(h, 1, len_units);
    put8(h, 2, 1);  // PadN
    put8(h, 3, static_cast<unsigned>(h.size() - 4));
    return h;
}
/// The IPv6-outer frame with `headers` inserted before NVGRE, the last one's next header GRE
/// when `to_gre`, payload length fixed.
bytes v6_with_extensions(const std::vector<bytes>& headers, unsigned first_next_header) {
    bytes f = v6_frame();
    std::size_t at = 54;
    std::size_t added = 0;
    for (const auto& h : headers) {
        insert(f, at, h);
        at += h.size();
        added += h.size();
    }
    put8(f, 20, first_next_header);
    put16(f, 18, get16(f, 18) + static_cast<unsigned>(added));
    return f;
}

/// parse_packet_layout gives exactly this error; decapsulate refuses with it and leaves every
/// byte in place; ingress on hv1 drops with its reason.
void expect_error(const bytes& f, errc code, layer where, std::uint32_t offset) {
    const auto l = wire::parse_packet_layout(f);
    CAPTURE(to_string(l.error.code));
    CAPTURE(to_string(l.error.where));
    CAPTURE(l.error.offset);
    REQUIRE(l.kind == wire::frame_kind::error);
    CHECK(l.error.code == code);
    CHECK(l.error.where == where);
    CHECK(l.error.offset == offset);
    buffer b(f);
    const auto before = b.storage;
    decap_info info;
    const auto r = decapsulate(b.f, info);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == l.error);
    CHECK(b.storage == before);
    buffer c(f);
    vector_sink sink;
    const auto o = ingress(hnv_state("hv1"), c.f, sink);
    CHECK(o.verdict == verdict::drop);
    if (where == layer::inner_arp) {
        CHECK(o.reason == drop_reason::bad_arp);  // as egress names a bad ARP from a VM
    } else {
        CHECK(o.reason == drop_reason_of(code));
        CHECK(to_string(o.reason) == to_string(code));
    }
}

/// Not GRE: the layout says other, decap says bad-protocol at `offset` in `where`, ingress on
/// hv1 drops not-nvgre.
void expect_other(const bytes& f, layer where, std::uint32_t offset) {
    const auto l = wire::parse_packet_layout(f);
    CHECK(l.kind == wire::frame_kind::other);
    buffer b(f);
    decap_info info;
    const auto r = decapsulate(b.f, info);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::bad_protocol);
    CHECK(r.error().where == where);
    CHECK(r.error().offset == offset);
    buffer c(f);
    vector_sink sink;
    CHECK(ingress(hnv_state("hv1"), c.f, sink).reason == drop_reason::not_nvgre);
}

/// Valid NVGRE by the wire rules; ingress on hv1 gives `v` (and `reason` for a drop).
void expect_nvgre(const bytes& f, verdict v = verdict::deliver, drop_reason reason = drop_reason::none) {
    const auto l = wire::parse_packet_layout(f);
    CAPTURE(to_string(l.error.code));
    CAPTURE(l.error.offset);
    REQUIRE(l.kind == wire::frame_kind::nvgre);
    buffer c(f);
    vector_sink sink;
    const auto o = ingress(hnv_state("hv1"), c.f, sink);
    CHECK(o.verdict == v);
    CHECK(o.reason == reason);
}

/// The outcome of red-web's frame `f` through egress on hv1.
outcome egress_of(const bytes& f, const mac_address& port = red_web) {
    buffer b(f);
    vector_sink sink;
    return egress(hnv_state("hv1"), port, b.f, sink);
}

}  // namespace

TEST_CASE("bad input: a capture cut at every byte of an NVGRE frame (IPv4 and IPv6 outer)") {
    const bytes f4 = v4_frame();
    REQUIRE(f4.size() == 102);
    expect_nvgre(f4);
    for (std::size_t n = 0; n < f4.size(); ++n) {
        CAPTURE(n);
        const bytes cut(f4.begin(), f4.begin() + static_cast<std::ptrdiff_t>(n));
        if (n < 14) expect_error(cut, errc::truncated, layer::ethernet, 0);
        else if (n < 34) expect_error(cut, errc::truncated, layer::ipv4, 14);   // the 20-byte header
        else expect_error(cut, errc::truncated, layer::ipv4, 16);               // total length: 88 > what is left
    }
    const bytes f6 = v6_frame();
    REQUIRE(f6.size() == 122);
    for (std::size_t n = 0; n < f6.size(); ++n) {
        CAPTURE(n);
        const bytes cut(f6.begin(), f6.begin() + static_cast<std::ptrdiff_t>(n));
        if (n < 14) expect_error(cut, errc::truncated, layer::ethernet, 0);
        else if (n < 54) expect_error(cut, errc::truncated, layer::ipv6, 14);   // the 40-byte header
        else expect_error(cut, errc::truncated, layer::ipv6, 18);               // payload length > what is left
    }
}

TEST_CASE("bad input: a packet that ends at every header boundary, its lengths agreeing") {
    // The outer length field says where the packet ends; what it holds is cut at every byte.
    const bytes f4 = v4_frame();
    for (std::size_t n = 34; n < f4.size(); ++n) {
        CAPTURE(n);
        bytes cut(f4.begin(), f4.begin() + static_cast<std::ptrdiff_t>(n));
        put16(cut, 16, static_cast<unsigned>(n - 14));
        fix4(cut);
        if (n < 38) expect_error(cut, errc::truncated, layer::gre, 34);                  // GRE base header
        else if (n < 42) expect_error(cut, errc::truncated, layer::gre, 38);             // the key K announces
        else if (n < 56) expect_error(cut, errc::truncated, layer::inner_ethernet, 42);
        else if (n < 76) expect_error(cut, errc::truncated, layer::inner_ipv4, 56);      // inner IPv4 header
        else expect_error(cut, errc::truncated, layer::inner_ipv4, 58);                  // inner total length
    }
    const bytes f6 = v6_frame();
    for (std::size_t n = 54; n < f6.size(); ++n) {
        CAPTURE(n);
        bytes cut(f6.begin(), f6.begin() + static_cast<std::ptrdiff_t>(n));
        put16(cut, 18, static_cast<unsigned>(n - 54));
        if (n < 58) expect_error(cut, errc::truncated, layer::gre, 54);
        else if (n < 62) expect_error(cut, errc::truncated, layer::gre, 58);
        else if (n < 76) expect_error(cut, errc::truncated, layer::inner_ethernet, 62);
        else if (n < 96) expect_error(cut, errc::truncated, layer::inner_ipv4, 76);
        else expect_error(cut, errc::truncated, layer::inner_ipv4, 78);
    }
    // Inner IPv6 and ARP cut the same way.
    const bytes i6 = nvgre_frame(udp_frame(red_db, red_web, ip("fd00::6"), ip("fd00::5")));
    for (std::size_t n = 56; n < i6.size(); ++n) {
        CAPTURE(n);
        bytes cut(i6.begin(), i6.begin() + static_cast<std::ptrdiff_t>(n));
        put16(cut, 16, static_cast<unsigned>(n - 14));
        fix4(cut);
        expect_error(cut, errc::truncated, layer::inner_ipv6, n < 96 ? 56 : 60);
    }
    const bytes arp = nvgre_frame(arp_request(red_db, ip("10.0.0.6"), ip("10.0.0.5")));
    for (std::size_t n = 56; n < arp.size(); ++n) {
        bytes cut(arp.begin(), arp.begin() + static_cast<std::ptrdiff_t>(n));
        put16(cut, 16, static_cast<unsigned>(n - 14));
        fix4(cut);
        expect_error(cut, errc::truncated, layer::inner_arp, 56);
    }
}

TEST_CASE("bad input: outer VLAN tags: cut, two tags, an 802.1ad tag, three tags") {
    const bytes tagged = nvgre_frame(inner_udp(), false, 42);
    expect_nvgre(tagged);  // one 802.1Q tag: the PA's VLAN
    for (std::size_t n = 14; n < 18; ++n) {
        CAPTURE(n);
        expect_error(bytes(tagged.begin(), tagged.begin() + static_cast<std::ptrdiff_t>(n)), errc::truncated, layer::vlan, 12);
    }
    bytes qinq = tagged;
    insert(qinq, 12, tag(0x88a8, 7));
    expect_error(qinq, errc::bad_outer_vlan, layer::vlan, 12);
    bytes ad = v4_frame();
    insert(ad, 12, tag(0x88a8, 7));
    expect_error(ad, errc::bad_outer_vlan, layer::vlan, 12);
    bytes two_q = tagged;
    insert(two_q, 12, tag(0x8100, 7));
    expect_error(two_q, errc::bad_outer_vlan, layer::vlan, 12);
    // A third tag is not walked: its TPID is the EtherType, and 0x8100 is not IP.
    bytes three = qinq;
    insert(three, 12, tag(0x88a8, 8));
    expect_other(three, layer::ethernet, 20);
}

TEST_CASE("bad input: lengths that lie, in each direction") {
    const bytes f = v4_frame();
    SUBCASE("outer IPv4") {
        bytes small = f;
        put16(small, 16, 19);  // total length < header length
        fix4(small);
        expect_error(small, errc::bad_length, layer::ipv4, 16);
        bytes big = f;
        put16(big, 16, 89);  // one byte more than there is
        fix4(big);
        expect_error(big, errc::truncated, layer::ipv4, 16);
        bytes ihl = f;
        put8(ihl, 14, 0x44);  // IHL 4 words
        fix4(ihl);
        expect_error(ihl, errc::bad_header_length, layer::ipv4, 14);
        // Options that overrun: IHL 15 (60 bytes) in a packet of 40.
        bytes options(f.begin(), f.begin() + 54);
        put8(options, 14, 0x4f);
        expect_error(options, errc::truncated, layer::ipv4, 14);
        // Shorter than its Ethernet frame: the rest is padding, ignored (and trimmed by decap).
        bytes padded = f;
        padded.resize(f.size() + 20, std::byte{0xee});
        expect_nvgre(padded);
    }
    SUBCASE("outer IPv6") {
        bytes big = v6_frame();
        put16(big, 18, get16(big, 18) + 1);
        expect_error(big, errc::truncated, layer::ipv6, 18);
        bytes padded = v6_frame();
        padded.resize(padded.size() + 6, std::byte{0});
        CHECK(wire::parse_packet_layout(padded).kind == wire::frame_kind::nvgre);
    }
    SUBCASE("inner IPv4 and IPv6") {
        bytes big = f;
        put16(big, 58, 200);
        expect_error(big, errc::truncated, layer::inner_ipv4, 58);
        bytes small = f;
        put16(small, 58, 12);
        expect_error(small, errc::bad_length, layer::inner_ipv4, 58);
        bytes ihl = f;
        put8(ihl, 56, 0x43);
        expect_error(ihl, errc::bad_header_length, layer::inner_ipv4, 56);
        bytes v6 = nvgre_frame(udp_frame(red_db, red_web, ip("fd00::6"), ip("fd00::5")));
        put16(v6, 60, 1000);
        expect_error(v6, errc::truncated, layer::inner_ipv6, 60);
    }
    SUBCASE("UDP and TCP, where a view reads them") {
        const auto udp = std::span<const std::byte>(f).subspan(76);
        bytes u(udp.begin(), udp.end());
        put16(u, 4, 7);
        auto e = wire::udp_view::checked(std::span<const std::byte>(u));
        REQUIRE_FALSE(e);
        CHECK(e.error() == make_error(errc::bad_length, layer::udp, 4));
        put16(u, 4, 27);
        e = wire::udp_view::checked(std::span<const std::byte>(u));
        REQUIRE_FALSE(e);
        CHECK(e.error().code == errc::truncated);
        CHECK(e.error().offset == 4);
        bytes t(24, std::byte{0});
        put8(t, 12, 0x40);  // data offset 4 words
        auto tv = wire::tcp_view::checked(std::span<const std::byte>(t));
        REQUIRE_FALSE(tv);
        CHECK(tv.error().code == errc::bad_header_length);
        put8(t, 12, 0x70);  // 28 bytes of header in 24
        tv = wire::tcp_view::checked(std::span<const std::byte>(t));
        REQUIRE_FALSE(tv);
        CHECK(tv.error().code == errc::truncated);
    }
}

TEST_CASE("bad input: versions, flags and protocols") {
    const bytes f = v4_frame();
    SUBCASE("IP versions") {
        bytes v = f;
        put8(v, 14, 0x65);  // EtherType IPv4, version 6
        fix4(v);
        expect_error(v, errc::bad_version, layer::ipv4, 14);
        bytes w = v6_frame();
        put8(w, 14, 0x40);
        expect_error(w, errc::bad_version, layer::ipv6, 14);
        bytes inner = f;
        put8(inner, 56, 0x55);
        expect_error(inner, errc::bad_version, layer::inner_ipv4, 56);
    }
    SUBCASE("GRE flags word (RFC 2784, RFC 2890) and the NVGRE profile (RFC 7637)") {
        const auto with_flags = [&](unsigned word) {
            bytes g = f;
            put16(g, 34, word);
            return g;
        };
        expect_error(with_flags(0x2001), errc::bad_version, layer::gre, 35);        // version 1 (PPTP)
        expect_error(with_flags(0x6000), errc::gre_routing, layer::gre, 34);        // R
        expect_error(with_flags(0x2800), errc::bad_gre_flags, layer::gre, 34);      // bit 4
        expect_error(with_flags(0x2400), errc::bad_gre_flags, layer::gre, 34);      // bit 5
        expect_nvgre(with_flags(0x23f8));                                           // bits 6-12: ignored
        expect_error(with_flags(0x3000), errc::bad_gre_flags, layer::nvgre, 34);    // S
        expect_error(with_flags(0x0000), errc::missing_key, layer::nvgre, 34);      // no K
        expect_error(with_flags(0xa000), errc::bad_checksum, layer::gre, 38);       // C, and no valid checksum
        bytes proto = f;
        put16(proto, 36, 0x0800);
        expect_error(proto, errc::bad_protocol, layer::nvgre, 36);
        // C with a valid checksum: checksum words inserted and filled; NVGRE forbids C.
        bytes c = f;
        insert(c, 38, bytes(4, std::byte{0}));
        put16(c, 34, 0xa000);
        put16(c, 16, get16(c, 16) + 4);
        fix4(c);
        wire::mutable_gre_view::unchecked(std::span<std::byte>(c).subspan(34)).fill_checksum();
        expect_error(c, errc::bad_gre_flags, layer::nvgre, 34);
    }
    SUBCASE("not GRE, not IP") {
        bytes udp = f;
        put8(udp, 23, 17);
        fix4(udp);
        expect_other(udp, layer::ipv4, 23);
        bytes udp6 = v6_frame();
        put8(udp6, 20, 17);
        expect_other(udp6, layer::ipv6, 20);
        bytes arp = f;
        put16(arp, 12, 0x0806);
        expect_other(arp, layer::ethernet, 12);
        // A non-GRE IPv4 packet is not judged further: a bad header checksum included.
        bytes bad = udp;
        put8(bad, 24, 0);
        CHECK(wire::parse_packet_layout(bad).kind == wire::frame_kind::other);
    }
    SUBCASE("an inner EtherType the pipeline has no rule for") {
        bytes lldp = f;
        put16(lldp, 54, 0x88cc);
        expect_nvgre(lldp, verdict::drop, drop_reason::unsupported_ethertype);
    }
}

TEST_CASE("bad input: reserved and unknown VSIDs") {
    for (const std::uint32_t vsid : {0x000000u, 0x000001u, 0x000fffu, 0xffffffu}) {
        CAPTURE(vsid);
        bytes f = v4_frame();
        put16(f, 38, vsid >> 8);
        put8(f, 40, vsid & 0xff);
        expect_error(f, errc::reserved_vsid, layer::nvgre, 38);
    }
    for (const std::uint32_t vsid : {4096u, 5003u, 16777214u}) {
        bytes f = v4_frame();
        put16(f, 38, vsid >> 8);
        put8(f, 40, vsid & 0xff);
        expect_nvgre(f, verdict::drop, drop_reason::unknown_vsid);
    }
}

TEST_CASE("bad input: a VLAN tag on the inner frame") {
    for (const unsigned tpid : {0x8100u, 0x88a8u}) {
        bytes inner = inner_udp();
        insert(inner, 12, tag(tpid, 5));
        // Encapsulation refuses it (wire rule 5)...
        buffer b(inner);
        const encap_params p{mac("02:00:c0:a8:0a:0c"), mac("02:00:c0:a8:0a:0b"), 0, ip("192.168.10.12"),
                             ip("192.168.10.11"), *nvgre::vsid::make(5001)};
        const auto r = encapsulate(b.f, p);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == make_error(errc::inner_vlan, layer::inner_vlan, 12));
        // ...and a peer that sends it anyway is dropped.
        bytes f = v4_frame();
        insert(f, v4_inner + 12, tag(tpid, 5));
        put16(f, 16, get16(f, 16) + 4);
        fix4(f);
        expect_error(f, errc::inner_vlan, layer::inner_vlan, v4_inner + 12);
    }
    // A tag whose TCI is cut off: the inner frame is 14 bytes, its EtherType a VLAN TPID.
    bytes f = v4_frame();
    f.resize(v4_inner + 14);
    put16(f, v4_inner + 12, 0x8100);
    put16(f, 16, static_cast<unsigned>(f.size() - 14));
    fix4(f);
    expect_error(f, errc::truncated, layer::inner_vlan, v4_inner + 12);
}

TEST_CASE("bad input: outer fragments are dropped, inner fragments are carried") {
    bytes mf = v4_frame();
    put16(mf, 20, 0x2000);  // MF
    fix4(mf);
    expect_error(mf, errc::fragmented, layer::ipv4, 20);
    bytes later = v4_frame();
    put16(later, 20, 0x0003);  // offset 24 bytes
    fix4(later);
    expect_error(later, errc::fragmented, layer::ipv4, 20);
    bytes df = v4_frame();
    put16(df, 20, 0x0000);  // DF clear: not a fragment
    fix4(df);
    expect_nvgre(df);
    // IPv6: a Fragment header, even an atomic one (offset 0, M 0).
    bytes frag(8, std::byte{0});
    put8(frag, 0, 47);
    expect_error(v6_with_extensions({frag}, 44), errc::fragmented, layer::ipv6_extension, 54);
    // An inner fragment is the tenant's business (more fragments of its datagram follow).
    bytes inner = inner_udp();
    put16(inner, 20, 0x2000);
    wire::mutable_ipv4_view::unchecked(std::span<std::byte>(inner).subspan(14)).fill_header_checksum();
    const bytes carried = nvgre_frame(inner);
    const auto l = wire::parse_packet_layout(carried);
    CHECK(l.kind == wire::frame_kind::nvgre);
    CHECK(l.inner_fragment);
    expect_nvgre(carried);
}

TEST_CASE("bad input: IPv6 extension-header chains that run off the end, repeat or misplace") {
    // The IPv6-outer frames go between PAs that are not in the policy: valid ones are dropped by
    // ingress as not-local-pa, after the wire rules passed.
    SUBCASE("outer") {
        expect_nvgre(v6_with_extensions({destination_options(47)}, 60), verdict::drop, drop_reason::not_local_pa);
        // A header whose length runs past the payload (16 bytes said, 8 there before the end).
        bytes over = v6_with_extensions({destination_options(47)}, 60);
        put8(over, 55, 200);
        expect_error(over, errc::truncated, layer::ipv6_extension, 54);
        // The payload ends inside a header's first two bytes.
        bytes cut = v6_frame();
        cut.resize(55);
        put8(cut, 20, 60);
        put16(cut, 18, 1);
        expect_error(cut, errc::truncated, layer::ipv6_extension, 54);
        // A Fragment header cut short (8 bytes needed, 4 there).
        bytes frag = v6_frame();
        frag.resize(58);
        put8(frag, 20, 44);
        put16(frag, 18, 4);
        expect_error(frag, errc::truncated, layer::ipv6_extension, 54);
        // Eight headers are walked; a ninth is refused (a chain cannot loop, every header moves
        // the walk forward by 8 bytes or more; the cap bounds the work on long chains).
        std::vector<bytes> eight(8, destination_options(60));
        eight.back() = destination_options(47);
        expect_nvgre(v6_with_extensions(eight, 60), verdict::drop, drop_reason::not_local_pa);
        std::vector<bytes> nine(9, destination_options(60));
        nine.back() = destination_options(47);
        expect_error(v6_with_extensions(nine, 60), errc::bad_extension_header, layer::ipv6_extension, 54 + 8 * 8);
        std::vector<bytes> hundred(100, destination_options(60));
        expect_error(v6_with_extensions(hundred, 60), errc::bad_extension_header, layer::ipv6_extension, 54 + 8 * 8);
        // Hop-by-Hop Options anywhere but first.
        expect_error(v6_with_extensions({destination_options(0), destination_options(47)}, 60), errc::bad_extension_header,
                     layer::ipv6_extension, 62);
        // AH counts its length in 4-byte units, plus 2 (RFC 4302): 12 bytes here.
        bytes ah(12, std::byte{0});
        put8(ah, 0, 47);
        put8(ah, 1, 1);
        expect_nvgre(v6_with_extensions({ah}, 51), verdict::drop, drop_reason::not_local_pa);
    }
    SUBCASE("inner") {
        // Inner IPv6 with a Destination Options header whose length runs off the end.
        bytes inner = udp_frame(red_db, red_web, ip("fd00::6"), ip("fd00::5"));
        insert(inner, 54, destination_options(17));
        put8(inner, 20, 60);
        put16(inner, 18, get16(inner, 18) + 8);
        bytes ok = nvgre_frame(inner);
        expect_nvgre(ok);
        bytes over = ok;
        put8(over, v4_inner + 54 + 1, 30);
        expect_error(over, errc::truncated, layer::inner_ipv6_extension, v4_inner + 54);
        // From a VM, egress judges the IPv6 header but not what lies behind it: the frame is
        // encapsulated as sent, and the receiving host drops it by name.
        bytes from_vm = udp_frame(red_web, red_db, ip("fd00::5"), ip("fd00::6"));
        insert(from_vm, 54, destination_options(17, 30));
        from_vm.resize(from_vm.size() - 8 * 30);
        put8(from_vm, 20, 60);
        put16(from_vm, 18, static_cast<unsigned>(from_vm.size() - 54));
        buffer b(from_vm);
        vector_sink sink;
        REQUIRE(egress(hnv_state("hv1"), red_web, b.f, sink).verdict == verdict::encap);
        const auto o = ingress(hnv_state("hv2"), b.f, sink);
        CHECK(o.verdict == verdict::drop);
        CHECK(o.reason == drop_reason::truncated);
    }
}

TEST_CASE("bad input: checksums") {
    bytes outer = v4_frame();
    put16(outer, 24, get16(outer, 24) ^ 0x0100);
    expect_error(outer, errc::bad_checksum, layer::ipv4, 24);
    // GRE with C and a checksum that does not verify.
    bytes gre = v4_frame();
    insert(gre, 38, bytes{std::byte{0x12}, std::byte{0x34}, std::byte{0}, std::byte{0}});
    put16(gre, 34, 0xa000);
    put16(gre, 16, get16(gre, 16) + 4);
    fix4(gre);
    expect_error(gre, errc::bad_checksum, layer::gre, 38);
    // Inner checksums are the tenant's: carried, not judged.
    bytes inner = v4_frame();
    put16(inner, 66, get16(inner, 66) ^ 0xffff);
    put16(inner, 82, get16(inner, 82) ^ 0x0f0f);
    expect_nvgre(inner);
}

TEST_CASE("bad input: ARP with wrong lengths, types and operations") {
    const bytes arp = nvgre_frame(arp_request(red_db, ip("10.0.0.6"), ip("10.0.0.5")));
    constexpr std::size_t a = v4_inner + 14;  // the inner ARP packet
    SUBCASE("inside NVGRE") {
        for (const auto& [at, value] : {std::pair{0u, 6u}, std::pair{2u, 0x86ddu}}) {
            bytes f = arp;
            put16(f, a + at, value);
            expect_error(f, errc::bad_value, layer::inner_arp, static_cast<std::uint32_t>(a + at));
        }
        for (const auto& [at, value] : {std::pair{4u, 8u}, std::pair{5u, 16u}, std::pair{4u, 0u}}) {
            bytes f = arp;
            put8(f, a + at, value);
            expect_error(f, errc::bad_value, layer::inner_arp, static_cast<std::uint32_t>(a + at));
        }
        // A unicast ARP (a reply) through the fabric: the host answers for everyone.
        bytes reply = arp;
        put16(reply, a + 6, 2);
        for (std::size_t i = 0; i < 6; ++i) reply[v4_inner + i] = std::byte{red_web.octets()[i]};
        expect_nvgre(reply, verdict::drop, drop_reason::unsupported);
    }
    SUBCASE("from a VM") {
        const bytes req = arp_request(red_web, ip("10.0.0.5"), ip("10.0.0.6"));
        CHECK(egress_of(req).verdict == verdict::reply);
        for (const auto& [at, value] : {std::pair{14u, 6u}, std::pair{16u, 0x86ddu}}) {
            bytes f = req;
            put16(f, at, value);
            CHECK(egress_of(f).reason == drop_reason::bad_arp);
        }
        for (const auto& [at, value] : {std::pair{18u, 8u}, std::pair{19u, 16u}}) {
            bytes f = req;
            put8(f, at, value);
            CHECK(egress_of(f).reason == drop_reason::bad_arp);
        }
        for (std::size_t n = 14; n < req.size(); ++n)
            CHECK(egress_of(bytes(req.begin(), req.begin() + static_cast<std::ptrdiff_t>(n))).reason == drop_reason::bad_arp);
        bytes reply = req;
        put16(reply, 20, 2);
        CHECK(egress_of(reply).reason == drop_reason::unsupported);
        bytes op3 = req;
        put16(op3, 20, 3);
        CHECK(egress_of(op3).reason == drop_reason::unsupported);
        CHECK(egress_of(arp_request(red_web, ip("10.0.0.7"), ip("10.0.0.6"))).reason == drop_reason::spoofed_source);
        CHECK(egress_of(arp_request(red_web, ip("10.0.0.5"), ip("10.0.0.99"))).reason == drop_reason::unknown_target);
    }
}

namespace {
/// red-web's neighbor solicitation for fd00::6, valid by RFC 4861 section 7.1.1 (86 bytes):
/// Ethernet 0 | IPv6 14 (hop limit 21) | ICMPv6 54 (code 55, checksum 56, target 62) |
/// source link-layer address option 78.
bytes neighbor_solicitation() {
    const ipv6_address src = ip("fd00::5").v6();
    const ipv6_address dst = ip("ff02::1:ff00:6").v6();
    const wire::icmpv6_ns_repr ns{ip("fd00::6").v6(), red_web};
    bytes f(14 + 40 + ns.buffer_len());
    wire::ethernet_repr{mac("33:33:ff:00:00:06"), red_web, 0, {}, wire::ethertype::ipv6}.emit(f);
    wire::ipv6_repr h;
    h.source = src;
    h.destination = dst;
    h.next_header = wire::ip_protocol::icmpv6;
    h.hop_limit = 255;
    h.payload_len = static_cast<std::uint16_t>(ns.buffer_len());
    h.emit(std::span<std::byte>(f).subspan(14));
    ns.emit(std::span<std::byte>(f).subspan(54),
            checksum::ipv6_pseudo_header_sum(src, dst, wire::ip_protocol::icmpv6, static_cast<std::uint32_t>(ns.buffer_len())));
    return f;
}
void refill_icmpv6(bytes& f) {
    const auto ip6 = wire::ipv6_view::unchecked(std::span<const std::byte>(f).subspan(14));
    const auto len = static_cast<std::uint32_t>(ip6.payload_len());
    wire::mutable_icmpv6_view::unchecked(std::span<std::byte>(f).subspan(54, len))
        .fill_checksum(checksum::ipv6_pseudo_header_sum(ip6.source(), ip6.destination(), wire::ip_protocol::icmpv6, len));
}
}  // namespace

TEST_CASE("bad input: neighbor solicitations with wrong lengths or failing RFC 4861 7.1.1 (egress)") {
    const bytes ns = neighbor_solicitation();
    REQUIRE(egress_of(ns).verdict == verdict::reply);
    const auto bad = [](bytes f, bool refill = true) {
        if (refill) refill_icmpv6(f);
        return egress_of(f).reason;
    };
    bytes zero = ns;
    put8(zero, 79, 0);  // option length 0
    CHECK(bad(zero) == drop_reason::bad_arp);
    bytes over = ns;
    put8(over, 79, 2);  // option of 16 bytes in 8
    CHECK(bad(over) == drop_reason::bad_arp);
    bytes lone = ns;  // a lone option type byte at the end
    lone.push_back(std::byte{1});
    put16(lone, 18, get16(lone, 18) + 1);
    CHECK(bad(lone) == drop_reason::bad_arp);
    bytes hop = ns;
    put8(hop, 21, 254);
    CHECK(bad(hop) == drop_reason::bad_arp);
    bytes code = ns;
    put8(code, 55, 1);
    CHECK(bad(code) == drop_reason::bad_arp);
    bytes sum = ns;
    put16(sum, 56, get16(sum, 56) ^ 1);
    CHECK(bad(sum, false) == drop_reason::bad_arp);
    bytes short_ns = ns;  // ICMPv6 length 20: shorter than an NS
    short_ns.resize(74);
    put16(short_ns, 18, 20);
    CHECK(bad(short_ns) == drop_reason::bad_arp);
    bytes target = ns;  // multicast target
    put8(target, 62, 0xff);
    CHECK(bad(target) == drop_reason::bad_arp);
    bytes dad = ns;  // DAD (source ::) with a source link-layer option
    for (std::size_t i = 22; i < 38; ++i) dad[i] = std::byte{0};
    CHECK(bad(dad) == drop_reason::bad_arp);
    bytes cut = ns;  // IPv6 payload length longer than the frame
    cut.resize(80);
    CHECK(bad(cut, false) == drop_reason::truncated);
    // Other ND messages from a VM (router solicitation): no rule, dropped by name.
    bytes rs = ns;
    put8(rs, 54, 133);
    CHECK(bad(rs) == drop_reason::unsupported);
}

TEST_CASE("bad input: options that overrun") {
    // IPv4 options: in "lengths that lie". TCP options: the walk names the option.
    bytes t(24, std::byte{0});
    put8(t, 12, 0x60);  // 24-byte header: 4 bytes of options
    put8(t, 20, 2);     // MSS...
    put8(t, 21, 8);     // ...of 8 bytes in 4
    const auto v = wire::tcp_view::checked(std::span<const std::byte>(t));
    REQUIRE(v.has_value());
    const auto mss = v->mss_option();
    REQUIRE_FALSE(mss.has_value());
    CHECK(mss.error() == make_error(errc::bad_header_length, layer::tcp, 20));
    put8(t, 21, 1);  // length below 2
    CHECK(wire::tcp_view::checked(std::span<const std::byte>(t))->mss_option().error().code == errc::bad_header_length);
    put8(t, 20, 1);  // NOP, NOP, NOP, then a kind with no length byte
    put8(t, 21, 1);
    put8(t, 22, 1);
    put8(t, 23, 3);
    CHECK(wire::tcp_view::checked(std::span<const std::byte>(t))->mss_option().error() ==
          make_error(errc::bad_header_length, layer::tcp, 23));
    // ND options: in the neighbor solicitation test (bad-arp).
}

TEST_CASE("bad input: ECN marks decapsulation cannot keep (RFC 6040)") {
    bytes ce = v4_frame();
    put8(ce, 15, 3);  // outer CE on a Not-ECT inner packet
    fix4(ce);
    CHECK(wire::parse_packet_layout(ce).kind == wire::frame_kind::nvgre);
    buffer b(ce);
    const auto before = b.storage;
    decap_info info;
    const auto r = decapsulate(b.f, info);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == make_error(errc::ecn_drop, layer::inner_ipv4, 57));
    CHECK(b.storage == before);
    expect_nvgre(ce, verdict::drop, drop_reason::ecn_drop);
}

TEST_CASE("bad input: frames from a VM (egress)") {
    const bytes f = udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.6"));
    REQUIRE(egress_of(f).verdict == verdict::encap);
    for (std::size_t n = 0; n < 14; ++n) CHECK(egress_of(bytes(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n))).reason == drop_reason::truncated);
    for (std::size_t n = 14; n < f.size(); ++n)
        CHECK(egress_of(bytes(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n))).reason == drop_reason::truncated);
    bytes version = f;
    put8(version, 14, 0x55);
    CHECK(egress_of(version).reason == drop_reason::bad_version);
    bytes ihl = f;
    put8(ihl, 14, 0x44);
    CHECK(egress_of(ihl).reason == drop_reason::bad_header_length);
    bytes small = f;
    put16(small, 16, 10);
    CHECK(egress_of(small).reason == drop_reason::bad_length);
    bytes v6 = udp_frame(red_web, red_db, ip("fd00::5"), ip("fd00::6"));
    put8(v6, 14, 0x40);
    CHECK(egress_of(v6).reason == drop_reason::bad_version);
    for (const unsigned tpid : {0x8100u, 0x88a8u}) {
        bytes tagged = f;
        insert(tagged, 12, tag(tpid, 5));
        CHECK(egress_of(tagged).reason == drop_reason::vlan_tagged);
    }
    bytes lldp = f;
    put16(lldp, 12, 0x88cc);
    CHECK(egress_of(lldp).reason == drop_reason::unsupported_ethertype);
    CHECK(egress_of(f, mac("00:15:5d:00:00:99")).reason == drop_reason::unknown_port);
    CHECK(egress_of(f, red_app).reason == drop_reason::spoofed_source);  // red-web's MAC on red-app's port
    CHECK(egress_of(udp_frame(red_web, red_db, ip("10.0.0.7"), ip("10.0.0.6"))).reason == drop_reason::spoofed_source);
    CHECK(egress_of(udp_frame(red_web, red_router, ip("10.0.0.5"), ip("10.0.1.8"), 18, 1)).reason == drop_reason::ttl_expired);
    CHECK(egress_of(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("172.16.0.1"))).reason == drop_reason::no_route);
    // No record: red's gateway red-gw takes it; no record and no gateway: host unreachable.
    CHECK(egress_of(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.0.99"))).verdict == verdict::encap);
    CHECK(egress_of(udp_frame(red_web, red_db, ip("10.0.0.5"), ip("10.0.1.99"))).reason == drop_reason::no_record);
    // Too little headroom for the outer headers: dropped, not reallocated.
    buffer tight(f, 10);
    vector_sink sink;
    CHECK(egress(hnv_state("hv1"), red_web, tight.f, sink).reason == drop_reason::no_headroom);
}

TEST_CASE("bad input: inner frames encapsulation refuses") {
    const auto p = encap_params{mac("02:00:c0:a8:0a:0c"), mac("02:00:c0:a8:0a:0b"), 0, ip("192.168.10.12"),
                                ip("192.168.10.11"), *nvgre::vsid::make(5001)};
    for (std::size_t n = 0; n < 14; ++n) {
        buffer b(bytes(n, std::byte{0}));
        const auto r = encapsulate(b.f, p);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == make_error(errc::truncated, layer::inner_ethernet, 0, 14));
    }
    buffer big(bytes(max_inner_frame_len_ipv4 + 1, std::byte{0}));
    CHECK(encapsulate(big.f, p).error() == make_error(errc::bad_length, layer::ipv4, 2));
    buffer none(inner_udp(), 41);
    CHECK(encapsulate(none.f, p).error() == make_error(errc::no_headroom, layer::none, 0, 42));
}
