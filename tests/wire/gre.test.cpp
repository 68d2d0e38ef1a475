#include "nvgre/wire/gre.hpp"

#include "support/corpus_pcap.hpp"
#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <vector>

using namespace nvgre;
using namespace nvgre::wire;
using nvgre::test::corpus_dat_gre;
using nvgre::test::corpus_gre_packets;
using nvgre::test::from_hex;
using nvgre::test::gre_in_ip;

namespace {

// ---------------------------------------------------------------------------------------------
// Golden bytes. Every one was made with scapy 2.5 (Debian python3-scapy), e.g.
//   /usr/bin/python3 -c 'from scapy.all import *; print(bytes(GRE(proto=0x0800)).hex())'
// The command for each is given next to it; scapy fills the checksum when chksum_present=1.
// ---------------------------------------------------------------------------------------------

// GRE(proto=0x0800)
const auto g_plain = from_hex("0000 0800");
// GRE(chksum_present=1, proto=0x0800)/Raw(b"\x45\x00\xab\xcd\x01")  (odd payload)
const auto g_c = from_hex("8000 0800 8631 0000 4500abcd01");
// GRE(key_present=1, key=0x12345678, proto=0x86dd)
const auto g_k = from_hex("2000 86dd 12345678");
// GRE(seqnum_present=1, sequence_number=171, proto=0x88be)
const auto g_s = from_hex("1000 88be 000000ab");
// GRE(chksum_present=1, key_present=1, key=0x3e8, proto=0x0800)/Raw(b"\xde\xad\xbe\xef")
const auto g_ck = from_hex("a000 0800 b679 0000 000003e8 deadbeef");
// GRE(chksum_present=1, seqnum_present=1, sequence_number=0xfffffffe, proto=0x0800)/Raw(b"\x11\x22\x33")
const auto g_cs = from_hex("9000 0800 23de 0000 fffffffe 112233");
// GRE(key_present=1, seqnum_present=1, key=0x1c8, sequence_number=1, proto=0x6558)
const auto g_ks = from_hex("3000 6558 000001c8 00000001");
// GRE(chksum_present=1, key_present=1, seqnum_present=1, key=0x1d97c, sequence_number=5,
//     proto=0x0800)/Raw(bytes(range(11)))
const auto g_cks = from_hex("b000 0800 5063 0000 0001d97c 00000005 000102030405060708090a");

struct golden {
    const char* name;
    const std::vector<std::byte>* bytes;
    std::size_t header_len;
};
const std::array<golden, 8> goldens{{{"plain", &g_plain, 4},
                                     {"C", &g_c, 8},
                                     {"K", &g_k, 8},
                                     {"S", &g_s, 8},
                                     {"CK", &g_ck, 12},
                                     {"CS", &g_cs, 12},
                                     {"KS", &g_ks, 12},
                                     {"CKS", &g_cks, 16}}};

/// A buffer whose flags word is `flags` and protocol 0x0800, cut to `size` bytes (16 leaves room
/// for every optional word).
std::vector<std::byte> with_flags(std::uint16_t flags, std::size_t size = gre_max_header_len) {
    std::vector<std::byte> b(gre_max_header_len, std::byte{0});
    detail::store_be16(b.data(), flags);
    detail::store_be16(b.data() + 2, 0x0800);
    b.resize(size);
    return b;
}

}  // namespace

TEST_CASE("wire/gre: constants and the header length the flags announce") {
    CHECK(gre_base_header_len == 4);
    CHECK(gre_max_header_len == 16);
    CHECK(gre_header_len_for(0x0000) == 4);
    CHECK(gre_header_len_for(0x8000) == 8);
    CHECK(gre_header_len_for(0x2000) == 8);
    CHECK(gre_header_len_for(0x1000) == 8);
    CHECK(gre_header_len_for(0xa000) == 12);
    CHECK(gre_header_len_for(0x9000) == 12);
    CHECK(gre_header_len_for(0x3000) == 12);
    CHECK(gre_header_len_for(0xb000) == 16);
    CHECK(gre_header_len_for(0xb3f8) == 16);  // ignored reserved bits add nothing
    CHECK(gre_flags::reject_mask == 0x4c07);
}

TEST_CASE("wire/gre: deconstruct every C/K/S combination, optional words at derived offsets") {
    {
        auto v = gre_view::checked(g_plain);
        REQUIRE(v);
        CHECK(v->flags_word() == 0x0000);
        CHECK_FALSE(v->checksum_present());
        CHECK_FALSE(v->key_present());
        CHECK_FALSE(v->sequence_present());
        CHECK(v->version() == 0);
        CHECK(v->protocol_type() == 0x0800);
        CHECK(v->header_len() == 4);
        CHECK(v->payload().empty());
        CHECK(v->bytes().size() == 4);
        CHECK(v->checksum_ok());  // no C: nothing to verify
    }
    {
        auto v = gre_view::checked(g_c);
        REQUIRE(v);
        CHECK(v->checksum_present());
        CHECK_FALSE(v->key_present());
        CHECK_FALSE(v->sequence_present());
        CHECK(v->checksum() == 0x8631);
        CHECK(v->reserved1() == 0);
        CHECK(v->header_len() == 8);
        CHECK(v->payload().size() == 5);
        CHECK(v->payload()[0] == std::byte{0x45});
        CHECK(v->checksum_ok());
    }
    {
        auto v = gre_view::checked(g_k);
        REQUIRE(v);
        CHECK(v->key_present());
        CHECK(v->key() == 0x12345678);  // at offset 4: no checksum word before it
        CHECK(v->protocol_type() == 0x86dd);
        CHECK(v->header_len() == 8);
    }
    {
        auto v = gre_view::checked(g_s);
        REQUIRE(v);
        CHECK(v->sequence_present());
        CHECK_FALSE(v->key_present());
        CHECK(v->sequence_number() == 171);  // at offset 4
        CHECK(v->header_len() == 8);
    }
    {
        auto v = gre_view::checked(g_ck);
        REQUIRE(v);
        CHECK(v->checksum() == 0xb679);
        CHECK(v->key() == 1000);  // at offset 8, after checksum + reserved1
        CHECK(v->header_len() == 12);
        CHECK(v->payload().size() == 4);
        CHECK(v->checksum_ok());
    }
    {
        auto v = gre_view::checked(g_cs);
        REQUIRE(v);
        CHECK(v->checksum() == 0x23de);
        CHECK(v->sequence_number() == 0xfffffffe);  // at offset 8: no key
        CHECK(v->header_len() == 12);
        CHECK(v->checksum_ok());
    }
    {
        auto v = gre_view::checked(g_ks);
        REQUIRE(v);
        CHECK(v->key() == 0x1c8);             // offset 4
        CHECK(v->sequence_number() == 1);     // offset 8
        CHECK(v->protocol_type() == 0x6558);
        CHECK(v->header_len() == 12);
    }
    {
        auto v = gre_view::checked(g_cks);
        REQUIRE(v);
        CHECK(v->flags_word() == 0xb000);
        CHECK(v->checksum() == 0x5063);
        CHECK(v->key() == 0x1d97c);         // offset 8
        CHECK(v->sequence_number() == 5);   // offset 12
        CHECK(v->header_len() == 16);
        CHECK(v->payload().size() == 11);
        CHECK(v->checksum_ok());
        CHECK(v->computed_checksum() == 0x5063);
    }
}

TEST_CASE("wire/gre: every truncated prefix of every header variant is an error") {
    for (const auto& g : goldens) {
        CAPTURE(g.name);
        for (std::size_t n = 0; n < g.header_len; ++n) {
            CAPTURE(n);
            auto v = gre_view::checked(std::span<const std::byte>(g.bytes->data(), n));
            REQUIRE_FALSE(v);
            CHECK(v.error().code == errc::truncated);
            CHECK(v.error().where == layer::gre);
            if (n < 4) {
                CHECK(v.error().offset == 0);
                CHECK(v.error().needed == 4);
            } else {
                CHECK(v.error().offset == 4);
                CHECK(v.error().needed == g.header_len - 4);
            }
        }
        // From the full header on, every length is accepted; the rest is payload.
        for (std::size_t n = g.header_len; n <= g.bytes->size(); ++n) {
            auto v = gre_view::checked(std::span<const std::byte>(g.bytes->data(), n));
            REQUIRE(v);
            CHECK(v->header_len() == g.header_len);
            CHECK(v->payload().size() == n - g.header_len);
        }
    }
    // Suricata DecodeGREtest01 (HEX_VECTORS.md F): 3 bytes are too few.
    const auto suricata01 = from_hex("006e62");
    auto v = gre_view::checked(suricata01);
    REQUIRE_FALSE(v);
    CHECK(v.error() == make_error(errc::truncated, layer::gre, 0, 4));
}

TEST_CASE("wire/gre: reserved0 bits 6-12 are ignored on receipt (RFC 2784 section 2.3)") {
    for (int bit = 6; bit <= 12; ++bit) {
        CAPTURE(bit);
        const auto flags = static_cast<std::uint16_t>(0x8000u >> bit);
        for (const std::uint16_t cks : {std::uint16_t{0x0000}, std::uint16_t{0xb000}}) {
            auto buf = with_flags(static_cast<std::uint16_t>(flags | cks));
            auto v = gre_view::checked(buf);
            REQUIRE(v);
            CHECK(v->flags_word() == (flags | cks));
            CHECK(v->header_len() == gre_header_len_for(cks));
            CHECK(v->version() == 0);
        }
    }
    // All of them at once, too.
    const auto all = with_flags(0x03f8);
    auto v = gre_view::checked(all);
    REQUIRE(v);
    CHECK(v->header_len() == 4);
}

TEST_CASE("wire/gre: bits 1, 4 and 5 and any version but 0 are rejected") {
    struct bad {
        std::uint16_t flags;
        errc code;
        std::uint32_t offset;
    };
    for (const bad& b : {bad{0x4000, errc::gre_routing, 0},    // R, RFC 1701 routing
                         bad{0xc000, errc::gre_routing, 0},    // R with C
                         bad{0x0800, errc::bad_gre_flags, 0},  // bit 4, strict source route
                         bad{0x0400, errc::bad_gre_flags, 0},  // bit 5, recursion
                         bad{0x2c00, errc::bad_gre_flags, 0},  // both, with K
                         bad{0x4800, errc::gre_routing, 0},    // R is named before bit 4
                         bad{0x0001, errc::bad_version, 1},    // PPTP's enhanced GRE
                         bad{0x0007, errc::bad_version, 1},
                         bad{0x4001, errc::bad_version, 1},    // version is checked first
                         bad{0x006e, errc::bad_version, 1}}) {  // Suricata DecodeGREtest02: version 6
        CAPTURE(b.flags);
        const auto buf = with_flags(b.flags);
        auto v = gre_view::checked(buf);
        REQUIRE_FALSE(v);
        CHECK(v.error().code == b.code);
        CHECK(v.error().where == layer::gre);
        CHECK(v.error().offset == b.offset);
    }
    // A flag error is reported even when the buffer is too short for the announced words.
    const auto short_buf = with_flags(0xc000, 4);
    auto v = gre_view::checked(short_buf);
    REQUIRE_FALSE(v);
    CHECK(v.error().code == errc::gre_routing);
}

TEST_CASE("wire/gre: checked() agrees with the wire rules for all 65536 flags words") {
    std::size_t mismatches = 0;
    for (std::uint32_t f = 0; f <= 0xffff; ++f) {
        const auto flags = static_cast<std::uint16_t>(f);
        // Reference classification, written straight from docs/hnv-rules.md wire rule 1.
        std::optional<errc> expect;
        if ((flags & 0x7) != 0) expect = errc::bad_version;
        else if ((flags & 0x4000) != 0) expect = errc::gre_routing;
        else if ((flags & 0x0c00) != 0) expect = errc::bad_gre_flags;
        const std::size_t len = 4 + 4 * (((flags >> 15) & 1) + ((flags >> 13) & 1) + ((flags >> 12) & 1));
        for (const std::size_t size : {std::size_t{16}, len - 1}) {
            const auto buf = with_flags(flags, size);
            auto v = gre_view::checked(buf);
            std::optional<errc> got;
            if (!v) got = v.error().code;
            std::optional<errc> want = expect;
            if (size < gre_base_header_len || (!want && size < len)) want = errc::truncated;
            if (got != want || (v && v->header_len() != len)) ++mismatches;
        }
    }
    CHECK(mismatches == 0);
}

TEST_CASE("wire/gre: checksum verify, detect corruption, fill") {
    for (const auto* g : {&g_c, &g_ck, &g_cs, &g_cks}) {
        auto buf = *g;
        auto v = mutable_gre_view::checked(buf);
        REQUIRE(v);
        const auto stored = v->checksum();
        CHECK(v->checksum_ok());
        CHECK(v->computed_checksum() == stored);
        // Corrupt the last payload byte (the odd one for C and CS): the sum no longer verifies.
        buf.back() ^= std::byte{0x01};
        CHECK_FALSE(v->checksum_ok());
        CHECK(v->computed_checksum() != stored);
        buf.back() ^= std::byte{0x01};
        // fill_checksum() ignores whatever the field holds.
        v->set_checksum(0xdead);
        CHECK_FALSE(v->checksum_ok());
        v->fill_checksum();
        CHECK(v->checksum() == stored);
        CHECK(v->checksum_ok());
        CHECK(buf == *g);
    }
}

TEST_CASE("wire/gre: setters on a writable view") {
    auto buf = g_cks;
    auto v = mutable_gre_view::checked(buf);
    REQUIRE(v);
    v->set_protocol_type(0x6558);
    v->set_key(0xfeedface);
    v->set_sequence_number(0x01020304);
    CHECK_FALSE(v->checksum_ok());  // the header changed under the checksum
    v->fill_checksum();
    auto r = gre_view::checked(buf);
    REQUIRE(r);
    CHECK(r->flags_word() == 0xb000);
    CHECK(r->protocol_type() == 0x6558);
    CHECK(r->key() == 0xfeedface);
    CHECK(r->sequence_number() == 0x01020304);
    CHECK(r->checksum_ok());
    CHECK(std::equal(buf.begin() + 16, buf.end(), g_cks.begin() + 16));  // payload untouched

    // Key-only header: set_key writes at offset 4.
    auto kbuf = g_k;
    auto k = mutable_gre_view::checked(kbuf);
    REQUIRE(k);
    k->set_key(0x0a0b0c0d);
    CHECK(kbuf == from_hex("2000 86dd 0a0b0c0d"));
    // Sequence-only header: set_sequence_number writes at offset 4.
    auto sbuf = g_s;
    auto s = mutable_gre_view::checked(sbuf);
    REQUIRE(s);
    s->set_sequence_number(0xffffffff);
    CHECK(sbuf == from_hex("1000 88be ffffffff"));
}

TEST_CASE("wire/gre: unchecked() over a known-good header") {
    auto v = gre_view::unchecked(g_ks);
    CHECK(v.header_len() == 12);
    CHECK(v.key() == 0x1c8);
    CHECK(v.sequence_number() == 1);
}

TEST_CASE("wire/gre: repr round-trips and emit writes every header byte") {
    for (const auto& g : goldens) {
        CAPTURE(g.name);
        auto v = gre_view::checked(*g.bytes);
        REQUIRE(v);
        const auto r = gre_repr::parse(*v);
        CHECK(r.header_len() == g.header_len);
        CHECK(r.buffer_len() == g.header_len);
        // Emit the header into a 0xa5-filled buffer, put the payload behind it, fill the checksum.
        auto out = nvgre::test::prefilled(g.bytes->size());
        r.emit(out);
        if (r.checksum_present) {
            CHECK(out[4] == std::byte{0});  // checksum field zero until filled
            CHECK(out[5] == std::byte{0});
            CHECK(out[6] == std::byte{0});  // reserved1 zero
            CHECK(out[7] == std::byte{0});
        }
        std::copy(g.bytes->begin() + static_cast<std::ptrdiff_t>(g.header_len), g.bytes->end(),
                  out.begin() + static_cast<std::ptrdiff_t>(g.header_len));
        r.fill_checksum(out);
        CHECK(out == *g.bytes);
        auto again = gre_view::checked(out);
        REQUIRE(again);
        CHECK(gre_repr::parse(*again) == r);
        CHECK(again->checksum_ok());
    }
    // A repr built by hand.
    const gre_repr r{true, 0x11223344u, 0x55667788u, 0x6558};
    CHECK(r.flags_word() == 0xb000);
    auto out = nvgre::test::prefilled(r.header_len());
    r.emit(out);
    CHECK(out == from_hex("b000 6558 0000 0000 11223344 55667788"));
    // Ignored reserved bits and a non-zero reserved1 are not carried over: emit writes zeros.
    auto odd = from_hex("83f8 0800 0000 1234");
    auto ov = gre_view::checked(odd);
    REQUIRE(ov);
    auto out2 = nvgre::test::prefilled(8);
    gre_repr::parse(*ov).emit(out2);
    CHECK(out2 == from_hex("8000 0800 0000 0000"));
    // parse() also takes a mutable view.
    auto m = g_ks;
    auto mv = mutable_gre_view::checked(m);
    REQUIRE(mv);
    CHECK(gre_repr::parse(*mv) == gre_repr{false, 0x1c8u, 1u, 0x6558});
}

// ---------------------------------------------------------------------------------------------
// The corpus (../shared/corpus): real captures and others' test vectors. Read at run time;
// skipped with a MESSAGE when absent.
// ---------------------------------------------------------------------------------------------

TEST_CASE("wire/gre: corpus ryu gre_full_options.pcap (C, K, S, checksum 0x440d)") {
    auto packets = corpus_gre_packets("ryu/ryu/tests/packet_data/pcap/gre_full_options.pcap");
    if (!packets) return;
    REQUIRE(packets->size() == 1);
    auto& pkt = packets->front();
    auto v = mutable_gre_view::checked(pkt);
    REQUIRE(v);
    CHECK(v->flags_word() == 0xb000);
    CHECK(v->checksum() == 0x440d);
    CHECK(v->reserved1() == 0);
    CHECK(v->key() == 1000);
    CHECK(v->sequence_number() == 10);
    CHECK(v->protocol_type() == 0x0800);
    CHECK(v->header_len() == 16);
    CHECK(v->checksum_ok());
    CHECK(v->computed_checksum() == 0x440d);
    // Rebuild the header from its repr, recompute the checksum over the real payload.
    const auto r = gre_repr::parse(*v);
    auto out = pkt;
    std::fill(out.begin(), out.begin() + 16, std::byte{0xa5});
    r.emit(out);
    r.fill_checksum(out);
    CHECK(out == pkt);
    // One flipped payload bit is caught.
    pkt[20] ^= std::byte{0x80};
    CHECK_FALSE(v->checksum_ok());
    v->fill_checksum();
    CHECK(v->checksum_ok());
    CHECK(v->checksum() != 0x440d);
}

TEST_CASE("wire/gre: corpus ryu gre_no_option.pcap (plain 4-byte header)") {
    auto packets = corpus_gre_packets("ryu/ryu/tests/packet_data/pcap/gre_no_option.pcap");
    if (!packets) return;
    REQUIRE(packets->size() == 1);
    auto v = gre_view::checked(packets->front());
    REQUIRE(v);
    CHECK(v->flags_word() == 0);
    CHECK(v->header_len() == 4);
    CHECK(v->protocol_type() == 0x0800);
    CHECK(v->payload().size() == packets->front().size() - 4);
}

TEST_CASE("wire/gre: corpus packetnet gre_all_options.pcap (10 frames, C K S, all checksums good)") {
    auto packets = corpus_gre_packets("packetnet/Test/CaptureFiles/gre_all_options.pcap");
    if (!packets) return;
    REQUIRE(packets->size() == 10);
    for (std::size_t i = 0; i < packets->size(); ++i) {
        CAPTURE(i);
        auto v = gre_view::checked((*packets)[i]);
        REQUIRE(v);
        CHECK(v->flags_word() == 0xb000);
        CHECK(v->key() == 0x0001d97c);
        CHECK(v->checksum_ok());
        CHECK(v->computed_checksum() == v->checksum());
    }
    auto first = gre_view::checked(packets->front());
    REQUIRE(first);
    CHECK(first->checksum() == 0x6e7c);
    CHECK(first->sequence_number() == 5);
}

TEST_CASE("wire/gre: corpus PcapPlusPlus GREv0_1.dat (C, checksum 0x77ff)") {
    auto pkt = corpus_dat_gre("GREv0_1.dat");
    if (!pkt) return;
    auto v = gre_view::checked(*pkt);
    REQUIRE(v);
    CHECK(v->checksum_present());
    CHECK_FALSE(v->key_present());
    CHECK_FALSE(v->sequence_present());
    CHECK(v->header_len() == 8);
    CHECK(v->checksum() == 0x77ff);
    CHECK(v->protocol_type() == 0x0800);
    CHECK(v->checksum_ok());
}

TEST_CASE("wire/gre: corpus PcapPlusPlus GreEditTest checksum recomputations (HEX_VECTORS.md C)") {
    auto pkt = corpus_dat_gre("GREv0_3.dat");
    if (!pkt) return;
    auto v = gre_view::checked(*pkt);
    REQUIRE(v);
    CHECK(v->checksum() == 0x77ff);
    CHECK(v->checksum_ok());
    const auto payload = std::vector<std::byte>(v->payload().begin(), v->payload().end());
    REQUIRE(payload.size() == 24);

    // Builds header + payload from a repr, fills the checksum, returns the checksum stored.
    auto build = [&](const gre_repr& r, std::size_t expect_len) {
        CHECK(r.header_len() == expect_len);
        auto out = nvgre::test::prefilled(r.header_len() + payload.size());
        r.emit(out);
        std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(r.header_len()));
        r.fill_checksum(out);
        auto back = gre_view::checked(out);
        REQUIRE(back);
        CHECK(back->checksum_ok());
        CHECK(gre_repr::parse(*back) == r);
        return back->checksum().value_or(0);
    };
    gre_repr r = gre_repr::parse(*v);
    r.sequence = 1234;
    r.key = 2341;
    CHECK(build(r, 16) == 14856);  // 0x3a08
    r.sequence = 5678;
    CHECK(build(r, 16) == 10412);  // 0x28ac
    r.sequence.reset();
    CHECK(build(r, 12) == 20186);  // 0x4eda
    r.checksum_present = false;
    build(r, 8);
    r.key.reset();
    build(r, 4);
    r.checksum_present = true;
    CHECK(build(r, 8) == 30719);   // 0x77ff
}

TEST_CASE("wire/gre: corpus GRE version 1 (PPTP) is bad_version") {
    for (const char* name : {"GREv1_1.dat", "GREv1_2.dat", "GREv1_3.dat"}) {
        CAPTURE(name);
        auto pkt = corpus_dat_gre(name);
        if (!pkt) return;
        auto v = gre_view::checked(*pkt);
        REQUIRE_FALSE(v);
        CHECK(v.error() == make_error(errc::bad_version, layer::gre, 1));
    }
    auto packets = corpus_gre_packets("tcpdump/tests/pptp.pcap");  // big-endian pcap
    if (!packets) return;
    REQUIRE(packets->size() == 1);
    auto v = gre_view::checked(packets->front());
    REQUIRE_FALSE(v);
    CHECK(v.error().code == errc::bad_version);
    // scapy pptp.uts:27 and :57 (HEX_VECTORS.md D3, D4): raw IPv4 + GRE v1.
    for (const char* hex :
         {"4500003c18324000402f0e5a0a0000020a0000063001880b001c9bf500000000ff03c021010100180206000000000304c2270506fbb8831007020802",
          "4500003600010000402ff944c0a80001c0a800023081880b001200000000002f0000002aff03c021092a000e00001092616263646566"}) {
        const auto ip = from_hex(hex);
        auto gre = gre_in_ip(ip);
        REQUIRE(gre);
        auto g = gre_view::checked(*gre);
        REQUIRE_FALSE(g);
        CHECK(g.error().code == errc::bad_version);
    }
}

TEST_CASE("wire/gre: corpus tcpdump malformed headers (routing, RFC 1701 bits)") {
    // gre-heapoverflow-2.pcap: flags 0xc030 (C and R, ignored bits 10-11): routing rejected.
    auto heap = corpus_gre_packets("tcpdump/tests/gre-heapoverflow-2.pcap");
    if (!heap) return;
    REQUIRE(heap->size() == 1);
    auto h = gre_view::checked(heap->front());
    REQUIRE_FALSE(h);
    CHECK(h.error() == make_error(errc::gre_routing, layer::gre, 0));
    // erspan-type-iii-pb-1.pcap: IPv6 + destination options, flags 0x1d00 (S, bit 4, bits 5-7).
    auto erspan = corpus_gre_packets("tcpdump/tests/erspan-type-iii-pb-1.pcap");
    if (!erspan) return;
    REQUIRE(erspan->size() == 1);
    CHECK(detail::load_be16(erspan->front().data()) == 0x1d00);
    auto e = gre_view::checked(erspan->front());
    REQUIRE_FALSE(e);
    CHECK(e.error() == make_error(errc::bad_gre_flags, layer::gre, 0));
}

TEST_CASE("wire/gre: corpus real traffic is accepted") {
    // tcpdump various_gre.pcap: 30 Cisco GRE frames over 802.1Q, K with key 0x28.
    auto cisco = corpus_gre_packets("tcpdump/tests/various_gre.pcap");
    if (!cisco) return;
    CHECK(cisco->size() == 30);
    for (const auto& p : *cisco) {
        auto v = gre_view::checked(p);
        REQUIRE(v);
        CHECK(v->flags_word() == 0x2000);
        CHECK(v->key() == 0x28);
    }
    // tcpdump erspan-type-ii-1.pcap: S only, seq 171, ERSPAN II.
    auto erspan = corpus_gre_packets("tcpdump/tests/erspan-type-ii-1.pcap");
    if (!erspan) return;
    REQUIRE(erspan->size() == 1);
    auto e = gre_view::checked(erspan->front());
    REQUIRE(e);
    CHECK(e->sequence_present());
    CHECK(e->sequence_number() == 171);
    CHECK(e->protocol_type() == 0x88be);
    // zeek gre-within-gre.pcap: 628 frames, two plain GRE headers each.
    auto nested = corpus_gre_packets("zeek/testing/btest/Traces/tunnels/gre-within-gre.pcap");
    if (!nested) return;
    CHECK(nested->size() == 628);
    std::size_t inner_ok = 0;
    for (const auto& p : *nested) {
        auto outer = gre_view::checked(p);
        REQUIRE(outer);
        CHECK(outer->header_len() == 4);
        if (auto inner_pkt = gre_in_ip(outer->payload())) {
            auto inner = gre_view::checked(*inner_pkt);
            if (inner && inner->header_len() == 4 && inner->protocol_type() == 0x0800) ++inner_ok;
        }
    }
    CHECK(inner_ok == nested->size());
    // scapy erspan.uts:17 (HEX_VECTORS.md D5): S turned on for ERSPAN II, seq 0.
    const auto d5_bytes = from_hex("100088be000000001000000000000000ffffffffffff1111111111119000");
    auto d5 = gre_view::checked(d5_bytes);
    REQUIRE(d5);
    CHECK(d5->header_len() == 8);
    CHECK(d5->sequence_number() == 0);
    CHECK(d5->payload().size() == 22);
}

TEST_CASE("wire/gre: the optional words of a header without them are empty, and their setters write nothing") {
    // A 4-byte header (no C, K or S) and nothing behind it: every optional accessor would read
    // past the span if it trusted its caller.
    std::vector<std::byte> bare{std::byte{0x00}, std::byte{0x00}, std::byte{0x65}, std::byte{0x58}};
    auto v = mutable_gre_view::checked(std::span<std::byte>(bare));
    REQUIRE(v);
    CHECK(v->header_len() == 4);
    CHECK_FALSE(v->checksum());
    CHECK_FALSE(v->reserved1());
    CHECK_FALSE(v->key());
    CHECK_FALSE(v->sequence_number());
    CHECK_FALSE(v->computed_checksum());
    CHECK_FALSE(v->set_checksum(0xffff));
    CHECK_FALSE(v->set_key(0xffffffff));
    CHECK_FALSE(v->set_sequence_number(0xffffffff));
    CHECK_FALSE(v->fill_checksum());
    CHECK(bare == std::vector<std::byte>{std::byte{0x00}, std::byte{0x00}, std::byte{0x65}, std::byte{0x58}});

    // K only: the key is there (8 bytes), checksum and sequence are not.
    std::vector<std::byte> keyed{std::byte{0x20}, std::byte{0x00}, std::byte{0x65}, std::byte{0x58},
                                 std::byte{0x00}, std::byte{0x13}, std::byte{0x89}, std::byte{0x2a}};
    auto k = mutable_gre_view::checked(std::span<std::byte>(keyed));
    REQUIRE(k);
    CHECK(k->key() == 0x0013892au);
    CHECK_FALSE(k->sequence_number());
    CHECK_FALSE(k->checksum());
    CHECK(k->set_key(0x01020304));
    CHECK(k->key() == 0x01020304u);
    CHECK_FALSE(k->set_sequence_number(7));
    CHECK(keyed.size() == 8);
}
