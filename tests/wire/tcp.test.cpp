#include "nvgre/wire/tcp.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/ip_address.hpp"
#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <vector>

using namespace nvgre;
using namespace nvgre::wire;
using nvgre::test::from_hex;

namespace {

// Hand-built pseudo-headers (RFC 9293 section 3.1 / RFC 8200 section 8.1), protocol 6.
std::uint32_t tcp_pseudo_v4(const char* src, const char* dst, std::size_t len) {
    std::array<std::byte, 12> ph{};
    ipv4_address::parse(src)->to_bytes(std::span(ph).subspan(0, 4));
    ipv4_address::parse(dst)->to_bytes(std::span(ph).subspan(4, 4));
    ph[9] = std::byte{6};
    ph[10] = static_cast<std::byte>(len >> 8);
    ph[11] = static_cast<std::byte>(len);
    return checksum::sum(ph);
}
std::uint32_t tcp_pseudo_v6(const char* src, const char* dst, std::size_t len) {
    std::array<std::byte, 40> ph{};
    ipv6_address::parse(src)->to_bytes(std::span(ph).subspan(0, 16));
    ipv6_address::parse(dst)->to_bytes(std::span(ph).subspan(16, 16));
    ph[34] = static_cast<std::byte>(len >> 8);
    ph[35] = static_cast<std::byte>(len);
    ph[39] = std::byte{6};
    return checksum::sum(ph);
}

// Goldens: the TCP part (bytes[20:] / bytes[40:]) of
//   /usr/bin/python3 -c 'from scapy.all import *; print(bytes(IP(src="192.0.2.1",dst="192.0.2.2")
//     /TCP(sport=49152,dport=80,seq=1000,ack=0,flags="S",window=64240,options=[("MSS",1460)])).hex())'
const auto syn = from_hex("c000 0050 000003e8 00000000 60 02 faf0 54f9 0000 020405b4");
//   IP(src="192.0.2.1",dst="192.0.2.2")/TCP(sport=49152,dport=80,seq=1001,ack=2002,flags="PA",
//     window=502,options=[("NOP",None),("NOP",None),("Timestamp",(1,2))])/b"GET /"
const auto psh_ack = from_hex(
    "c000 0050 000003e9 000007d2 80 18 01f6 5a42 0000 0101 080a 00000001 00000002 474554202f");
//   IPv6(src="2001:db8::1",dst="2001:db8::2")/TCP(sport=443,dport=50000,seq=0x11223344,
//     ack=0x55667788,flags="SAEC",window=65535,options=[("MSS",1440),("SAckOK",b""),("WScale",7)])
//   (scapy pads the 9 option bytes with EOL + zeros to 12)
const auto syn_ack6 = from_hex("01bb c350 11223344 55667788 80 d2 ffff 3788 0000 020405a0 0402 030307 000000");

/// A 20-byte header (fields from `syn`) followed by `options` (a multiple of 4 bytes).
std::vector<std::byte> with_options(std::string_view options_hex) {
    auto buf = from_hex("c000 0050 000003e8 00000000 50 02 faf0 0000 0000");
    const auto opts = from_hex(options_hex);
    buf.insert(buf.end(), opts.begin(), opts.end());
    buf[12] = static_cast<std::byte>((buf.size() / 4) << 4);
    return buf;
}

}  // namespace

TEST_CASE("wire/tcp: deconstruct a SYN with MSS") {
    auto v = tcp_view::checked(syn);
    REQUIRE(v);
    CHECK(v->source_port() == 49152);
    CHECK(v->destination_port() == 80);
    CHECK(v->sequence_number() == 1000);
    CHECK(v->ack_number() == 0);
    CHECK(v->data_offset_words() == 6);
    CHECK(v->header_len() == 24);
    CHECK(v->flags() == tcp_flags::syn);
    CHECK(v->syn());
    CHECK_FALSE(v->ack());
    CHECK_FALSE(v->fin());
    CHECK_FALSE(v->rst());
    CHECK_FALSE(v->psh());
    CHECK_FALSE(v->urg());
    CHECK_FALSE(v->ece());
    CHECK_FALSE(v->cwr());
    CHECK(v->window() == 64240);
    CHECK(v->checksum() == 0x54f9);
    CHECK(v->urgent_pointer() == 0);
    CHECK(v->options().size() == 4);
    CHECK(v->payload().empty());
    auto mss = v->mss_option();
    REQUIRE(mss);
    REQUIRE(mss->has_value());
    CHECK(**mss == 1460);
    CHECK(v->checksum_ok(tcp_pseudo_v4("192.0.2.1", "192.0.2.2", syn.size())));
    CHECK_FALSE(v->checksum_ok(tcp_pseudo_v4("192.0.2.1", "192.0.2.3", syn.size())));
}

TEST_CASE("wire/tcp: deconstruct PSH+ACK with NOP, NOP, timestamps and data") {
    auto v = tcp_view::checked(psh_ack);
    REQUIRE(v);
    CHECK(v->sequence_number() == 1001);
    CHECK(v->ack_number() == 2002);
    CHECK(v->header_len() == 32);
    CHECK(v->psh());
    CHECK(v->ack());
    CHECK_FALSE(v->syn());
    CHECK(v->flags() == (tcp_flags::psh | tcp_flags::ack));
    CHECK(v->window() == 502);
    CHECK(v->payload().size() == 5);
    CHECK(std::to_integer<char>(v->payload()[0]) == 'G');
    std::vector<std::uint8_t> kinds;
    std::vector<std::size_t> offsets;
    std::size_t ts_len = 0;
    REQUIRE(v->for_each_option([&](const tcp_option& o) {
        kinds.push_back(o.kind);
        offsets.push_back(o.offset);
        if (o.kind == tcp_option_kind::timestamps) ts_len = o.data.size();
    }));
    CHECK(kinds == std::vector<std::uint8_t>{1, 1, 8});
    CHECK(offsets == std::vector<std::size_t>{20, 21, 22});
    CHECK(ts_len == 8);
    auto mss = v->mss_option();
    REQUIRE(mss);
    CHECK_FALSE(mss->has_value());
    CHECK(v->checksum_ok(tcp_pseudo_v4("192.0.2.1", "192.0.2.2", psh_ack.size())));
}

TEST_CASE("wire/tcp: deconstruct an IPv6 SYN+ACK with ECE, CWR and EOL padding") {
    auto v = tcp_view::checked(syn_ack6);
    REQUIRE(v);
    CHECK(v->sequence_number() == 0x11223344);
    CHECK(v->ack_number() == 0x55667788);
    CHECK(v->header_len() == 32);
    CHECK(v->syn());
    CHECK(v->ack());
    CHECK(v->ece());
    CHECK(v->cwr());
    CHECK_FALSE(v->fin());
    CHECK(v->window() == 65535);
    std::vector<std::uint8_t> kinds;
    REQUIRE(v->for_each_option([&](const tcp_option& o) { kinds.push_back(o.kind); }));
    CHECK(kinds == std::vector<std::uint8_t>{2, 4, 3});  // EOL ends the walk
    CHECK(**v->mss_option() == 1440);
    CHECK(v->checksum_ok(tcp_pseudo_v6("2001:db8::1", "2001:db8::2", syn_ack6.size())));
    CHECK_FALSE(v->checksum_ok(tcp_pseudo_v6("2001:db8::1", "2001:db8::2", syn_ack6.size() + 1)));
}

TEST_CASE("wire/tcp: every truncated prefix of the header is an error") {
    for (const auto* golden : {&syn, &psh_ack, &syn_ack6}) {
        const std::size_t hl = std::size_t{std::to_integer<std::uint8_t>((*golden)[12])} / 16 * 4;
        for (std::size_t n = 0; n < golden->size(); ++n) {
            auto v = tcp_view::checked(std::span<const std::byte>(golden->data(), n));
            if (n >= hl) {  // a shorter payload is still a valid segment
                REQUIRE(v);
                CHECK(v->payload().size() == n - hl);
                continue;
            }
            REQUIRE_FALSE(v);
            CHECK(v.error().code == errc::truncated);
            CHECK(v.error().where == layer::tcp);
            CHECK(v.error().offset <= n);
            if (n < tcp_min_header_len) {
                CHECK(v.error().offset == 0);
                CHECK(v.error().needed == 20);
            } else {
                CHECK(v.error().offset == 20);
                CHECK(v.error().needed == hl - 20);
            }
        }
    }
}

TEST_CASE("wire/tcp: lying data offsets") {
    for (std::uint8_t words = 0; words < 5; ++words) {
        auto buf = syn;
        buf[12] = static_cast<std::byte>(words << 4);
        auto v = tcp_view::checked(buf);
        REQUIRE_FALSE(v);
        CHECK(v.error().code == errc::bad_header_length);
        CHECK(v.error().where == layer::tcp);
        CHECK(v.error().offset == 12);
    }
    auto buf = syn;
    buf[12] = std::byte{0xf0};  // 60 bytes announced, 24 present
    auto v = tcp_view::checked(buf);
    REQUIRE_FALSE(v);
    CHECK(v.error().code == errc::truncated);
    CHECK(v.error().offset == 20);
    CHECK(v.error().needed == 40);
    buf[12] = std::byte{0x50};  // smaller than the real header: the MSS option becomes payload
    auto w = tcp_view::checked(buf);
    REQUIRE(w);
    CHECK(w->options().empty());
    CHECK(w->payload().size() == 4);
    CHECK_FALSE(w->mss_option()->has_value());
}

TEST_CASE("wire/tcp: malformed options stop the walk with bad_header_length") {
    struct bad_case {
        const char* options;
        std::size_t offset;
    };
    for (const auto& c : {bad_case{"02 05 05b4", 20},         // MSS length runs past the end
                          bad_case{"01 01 01 02", 23},        // a kind with no length byte
                          bad_case{"02 00 0000", 20},         // length 0
                          bad_case{"08 01 0000", 20},         // length 1
                          bad_case{"01 030307 02ff 0000", 24},  // NOP, WS, then length 255 runs off the end
                          bad_case{"0303 07 ff", 23}}) {      // a lone 0xff kind at the end
        CAPTURE(c.options);
        const auto buf = with_options(c.options);
        auto v = tcp_view::checked(buf);
        REQUIRE(v);
        std::size_t seen = 0;
        auto walked = v->for_each_option([&](const tcp_option&) { ++seen; });
        REQUIRE_FALSE(walked);
        CHECK(walked.error().code == errc::bad_header_length);
        CHECK(walked.error().where == layer::tcp);
        CHECK(walked.error().offset == c.offset);
        auto mss = v->mss_option();
        REQUIRE_FALSE(mss);
        CHECK(mss.error() == walked.error());
        auto r = tcp_repr::parse(*v);
        REQUIRE_FALSE(r);
        CHECK(r.error() == walked.error());
    }
}

TEST_CASE("wire/tcp: option walk details") {
    SUBCASE("MSS with a length other than 4") {
        const auto buf = with_options("02 03 05 00");
        auto v = tcp_view::checked(buf);
        REQUIRE(v);
        CHECK(v->for_each_option([](const tcp_option&) {}));  // framing is fine
        auto mss = v->mss_option();
        REQUIRE_FALSE(mss);
        CHECK(mss.error().code == errc::bad_header_length);
        CHECK(mss.error().offset == 20);
    }
    SUBCASE("NOPs before MSS, EOL padding after") {
        const auto buf = with_options("01 01 02 04 05 b4 00 00");
        auto v = tcp_view::checked(buf);
        REQUIRE(v);
        CHECK(**v->mss_option() == 1460);
    }
    SUBCASE("EOL ends the list: garbage after it is padding") {
        const auto buf = with_options("00 02 00 ff");
        auto v = tcp_view::checked(buf);
        REQUIRE(v);
        std::size_t seen = 0;
        CHECK(v->for_each_option([&](const tcp_option&) { ++seen; }));
        CHECK(seen == 0);
        CHECK_FALSE(v->mss_option()->has_value());
    }
    SUBCASE("a callback returning false stops early") {
        const auto buf = with_options("01 01 01 02 00 00 00 00");  // the malformed tail is never reached
        auto v = tcp_view::checked(buf);
        REQUIRE(v);
        std::size_t seen = 0;
        CHECK(v->for_each_option([&](const tcp_option&) { return ++seen < 2; }));
        CHECK(seen == 2);
    }
    SUBCASE("no options") {
        const auto buf = with_options("");
        auto v = tcp_view::checked(buf);
        REQUIRE(v);
        CHECK(v->options().empty());
        CHECK(v->for_each_option([](const tcp_option&) { FAIL("no option expected"); }));
    }
    SUBCASE("the free function works on a bare option span") {
        const auto opts = from_hex("01 02 04 02 18");
        std::vector<std::size_t> offsets;
        CHECK(walk_tcp_options(opts, [&](const tcp_option& o) { offsets.push_back(o.offset); }, 0));
        CHECK(offsets == std::vector<std::size_t>{0, 1});
        CHECK(**find_tcp_mss(opts, 0) == 0x0218);
    }
}

TEST_CASE("wire/tcp: checksum fill and verify; a computed 0 stays 0") {
    for (const auto* golden : {&syn, &psh_ack}) {
        auto buf = *golden;
        auto m = mutable_tcp_view::checked(buf);
        REQUIRE(m);
        const auto ph = tcp_pseudo_v4("192.0.2.1", "192.0.2.2", buf.size());
        m->set_checksum(0);
        CHECK_FALSE(m->checksum_ok(ph));
        m->fill_checksum(ph);
        CHECK(buf == *golden);
    }
    auto buf = syn_ack6;
    auto m = mutable_tcp_view::checked(buf);
    REQUIRE(m);
    const auto ph = tcp_pseudo_v6("2001:db8::1", "2001:db8::2", buf.size());
    m->set_checksum(0x1111);
    m->fill_checksum(ph);
    CHECK(buf == syn_ack6);

    // Adjust the urgent pointer so that the data sums to 0xffff: the checksum is then 0.
    m->set_checksum(0);
    const std::uint32_t s = checksum::sum(std::span<const std::byte>(buf), ph);
    m->set_urgent_pointer(static_cast<std::uint16_t>(checksum::combine(m->urgent_pointer(), static_cast<std::uint16_t>(~checksum::fold(s)))));
    m->fill_checksum(ph);
    CHECK(m->checksum() == 0);
    CHECK(m->checksum_ok(ph));
}

TEST_CASE("wire/tcp: repr round-trips and emit writes every header byte") {
    SUBCASE("SYN with MSS: emit + fill_checksum equals scapy's bytes") {
        auto v = tcp_view::checked(syn);
        REQUIRE(v);
        auto r = tcp_repr::parse(*v);
        REQUIRE(r);
        CHECK(*r == tcp_repr{49152, 80, 1000, 0, tcp_flags::syn, 64240, 0, std::uint16_t{1460}});
        CHECK(r->header_len() == 24);
        CHECK(r->buffer_len(10) == 34);
        auto out = nvgre::test::prefilled(r->header_len());
        r->emit(out);
        CHECK(out[16] == std::byte{0});
        CHECK(out[17] == std::byte{0});
        auto m = mutable_tcp_view::checked(out);
        REQUIRE(m);
        m->fill_checksum(tcp_pseudo_v4("192.0.2.1", "192.0.2.2", out.size()));
        CHECK(out == syn);
    }
    SUBCASE("other options are dropped; parse(emit(r)) == r") {
        for (const auto* golden : {&psh_ack, &syn_ack6}) {
            auto r = tcp_repr::parse(*tcp_view::checked(*golden));
            REQUIRE(r);
            auto out = nvgre::test::prefilled(r->header_len());
            r->emit(out);
            CHECK(std::equal(out.begin(), out.begin() + 12, golden->begin()));
            CHECK(std::equal(out.begin() + 13, out.begin() + 16, golden->begin() + 13));
            auto again = tcp_view::checked(out);
            REQUIRE(again);
            CHECK(again->header_len() == r->header_len());
            CHECK(*tcp_repr::parse(*again) == *r);
        }
    }
    SUBCASE("no MSS: a 20-byte header") {
        const tcp_repr r{1, 2, 3, 4, tcp_flags::fin | tcp_flags::ack, 5, 6, std::nullopt};
        auto out = nvgre::test::prefilled(r.header_len());
        r.emit(out);
        CHECK(out == from_hex("0001 0002 00000003 00000004 50 11 0005 0000 0006"));
    }
}

TEST_CASE("wire/tcp: setters on a writable view") {
    auto buf = psh_ack;
    auto v = mutable_tcp_view::checked(buf);
    REQUIRE(v);
    v->set_source_port(1);
    v->set_destination_port(2);
    v->set_sequence_number(0xdeadbeef);
    v->set_ack_number(0xfeedface);
    v->set_window(7);
    v->set_urgent_pointer(9);
    v->set_checksum(0xabcd);
    v->set_psh(false);
    v->set_fin(true);
    v->set_rst(true);
    v->set_syn(true);
    v->set_urg(true);
    v->set_ece(true);
    v->set_cwr(true);
    v->set_ack(false);
    buf[12] = std::byte{0x81};  // a set low (reserved/AE) bit survives set_data_offset_words
    v->set_data_offset_words(5);
    auto r = tcp_view::checked(buf);
    REQUIRE(r);
    CHECK(r->source_port() == 1);
    CHECK(r->destination_port() == 2);
    CHECK(r->sequence_number() == 0xdeadbeef);
    CHECK(r->ack_number() == 0xfeedface);
    CHECK(r->window() == 7);
    CHECK(r->urgent_pointer() == 9);
    CHECK(r->checksum() == 0xabcd);
    CHECK(r->flags() == (tcp_flags::fin | tcp_flags::rst | tcp_flags::syn | tcp_flags::urg | tcp_flags::ece | tcp_flags::cwr));
    CHECK(buf[12] == std::byte{0x51});
    CHECK(r->header_len() == 20);
    CHECK(r->payload().size() == psh_ack.size() - 20);
    v->set_flags(tcp_flags::rst);
    CHECK(r->rst());
    CHECK_FALSE(r->fin());
    CHECK(tcp_view::unchecked(buf).flags() == tcp_flags::rst);
}

TEST_CASE("wire/tcp: tcp_field names where emit() writes each field") {
    tcp_repr r;
    r.source_port = 0x1111;
    r.destination_port = 0x2222;
    r.sequence_number = 0x33333333;
    r.ack_number = 0x44444444;
    r.flags = tcp_flags::syn | tcp_flags::ack;
    r.window = 0x5555;
    r.urgent_pointer = 0x6666;
    std::array<std::byte, tcp_min_header_len> b{};
    r.emit(b);
    const std::byte* p = b.data();
    CHECK(nvgre::detail::load_be16(p + tcp_field::source_port) == 0x1111);
    CHECK(nvgre::detail::load_be16(p + tcp_field::destination_port) == 0x2222);
    CHECK(nvgre::detail::load_be32(p + tcp_field::sequence) == 0x33333333u);
    CHECK(nvgre::detail::load_be32(p + tcp_field::ack) == 0x44444444u);
    CHECK((nvgre::detail::load_u8(p + tcp_field::data_offset) >> 4) == 5);
    CHECK(nvgre::detail::load_u8(p + tcp_field::flags) == (tcp_flags::syn | tcp_flags::ack));
    CHECK(nvgre::detail::load_be16(p + tcp_field::window) == 0x5555);
    CHECK(nvgre::detail::load_be16(p + tcp_field::urgent) == 0x6666);
    CHECK(tcp_view::checked(b).value().checksum() == nvgre::detail::load_be16(p + tcp_field::checksum));
}
