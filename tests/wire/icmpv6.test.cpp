#include "nvgre/wire/icmpv6.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

using namespace nvgre;
using namespace nvgre::wire;
using nvgre::test::from_hex;

namespace {

// Hand-built IPv6 pseudo-header (RFC 8200 section 8.1, RFC 4443 section 2.3), next header 58.
std::uint32_t icmpv6_pseudo(const char* src, const char* dst, std::size_t len) {
    std::array<std::byte, 40> ph{};
    ipv6_address::parse(src)->to_bytes(std::span(ph).subspan(0, 16));
    ipv6_address::parse(dst)->to_bytes(std::span(ph).subspan(16, 16));
    ph[34] = static_cast<std::byte>(len >> 8);
    ph[35] = static_cast<std::byte>(len);
    ph[39] = std::byte{58};
    return checksum::sum(ph);
}

// Goldens: the ICMPv6 part (bytes[40:]) of scapy packets,
//   /usr/bin/python3 -c 'from scapy.all import *; print(bytes(IPv6(src="fe80::1",dst="fe80::2")
//     /ICMPv6EchoRequest(id=0x1234,seq=7,data=b"ping")).hex())'
const auto echo = from_hex("80 00 91a8 1234 0007 70696e67");
//   q6 = bytes(IPv6(src="fd00::10",dst="fd00::20")/UDP(sport=1,dport=2)/(b"y"*1400))[:48]
//   IPv6(src="fd00::fe",dst="fd00::10")/ICMPv6PacketTooBig(mtu=1280)/Raw(q6)
const auto too_big = from_hex(
    "02 00 b476 00000500"
    "6000000005801140 fd000000000000000000000000000010 fd000000000000000000000000000020"
    "0001 0002 0580 d291");
//   IPv6(src="fe80::215:5dff:fe00:1",dst="ff02::1:ff00:2",hlim=255)
//     /ICMPv6ND_NS(tgt="fe80::215:5dff:fe00:2")/ICMPv6NDOptSrcLLAddr(lladdr="00:15:5d:00:00:01")
const auto ns = from_hex("87 00 6357 00000000 fe8000000000000002155dfffe000002 01 01 00155d000001");
//   IPv6(src="fe80::215:5dff:fe00:2",dst="fe80::215:5dff:fe00:1",hlim=255)
//     /ICMPv6ND_NA(R=0,S=1,O=1,tgt="fe80::215:5dff:fe00:2")/ICMPv6NDOptDstLLAddr(lladdr="00:15:5d:00:00:02")
const auto na = from_hex("88 00 a2c4 60000000 fe8000000000000002155dfffe000002 02 01 00155d000002");

const auto echo_ph = [] { return icmpv6_pseudo("fe80::1", "fe80::2", 12); };
const auto too_big_ph = [] { return icmpv6_pseudo("fd00::fe", "fd00::10", 56); };
const auto ns_ph = [] { return icmpv6_pseudo("fe80::215:5dff:fe00:1", "ff02::1:ff00:2", 32); };
const auto na_ph = [] { return icmpv6_pseudo("fe80::215:5dff:fe00:2", "fe80::215:5dff:fe00:1", 32); };

/// The NS golden's fixed part (checksum not recomputed) followed by `options_hex`.
std::vector<std::byte> ns_with_options(std::string_view options_hex) {
    std::vector<std::byte> buf(ns.begin(), ns.begin() + icmpv6_nd_header_len);
    const auto opts = from_hex(options_hex);
    buf.insert(buf.end(), opts.begin(), opts.end());
    return buf;
}

const ipv6_address target_addr = *ipv6_address::parse("fe80::215:5dff:fe00:2");
const mac_address mac1 = *mac_address::parse("00:15:5d:00:00:01");
const mac_address mac2 = *mac_address::parse("00:15:5d:00:00:02");

}  // namespace

TEST_CASE("wire/icmpv6: deconstruct an echo request") {
    auto v = icmpv6_view::checked(echo);
    REQUIRE(v);
    CHECK(v->type() == icmpv6_type::echo_request);
    CHECK(v->code() == 0);
    CHECK(v->checksum() == 0x91a8);
    CHECK(v->header_len() == 8);
    CHECK(v->identifier() == 0x1234);
    CHECK(v->sequence_number() == 7);
    CHECK(v->payload().size() == 4);
    CHECK(std::to_integer<char>(v->payload()[0]) == 'p');
    CHECK(v->checksum_ok(echo_ph()));
    CHECK_FALSE(v->checksum_ok(icmpv6_pseudo("fe80::1", "fe80::3", 12)));
    CHECK_FALSE(is_icmpv6_error(v->type()));
    CHECK_FALSE(is_nd_message(v->type()));
}

TEST_CASE("wire/icmpv6: deconstruct Packet Too Big with its quoted packet") {
    auto v = icmpv6_view::checked(too_big);
    REQUIRE(v);
    CHECK(v->type() == icmpv6_type::packet_too_big);
    CHECK(is_icmpv6_error(v->type()));
    CHECK(v->code() == 0);
    CHECK(v->mtu() == 1280);
    CHECK(v->header_len() == 8);
    const auto quoted = v->payload();
    REQUIRE(quoted.size() == 48);
    CHECK(quoted[0] == std::byte{0x60});
    CHECK(quoted[6] == std::byte{17});
    CHECK(ipv6_address::from_bytes(quoted.subspan(24, 16)) == *ipv6_address::parse("fd00::20"));
    CHECK(v->checksum_ok(too_big_ph()));
}

TEST_CASE("wire/icmpv6: deconstruct a neighbor solicitation with source link-layer address") {
    auto v = icmpv6_view::checked(ns);
    REQUIRE(v);
    CHECK(v->type() == icmpv6_type::neighbor_solicitation);
    CHECK(is_nd_message(v->type()));
    CHECK(v->header_len() == icmpv6_nd_header_len);
    CHECK(v->ns_target() == target_addr);
    CHECK(v->nd_options().size() == 8);
    auto sll = v->source_link_layer_address();
    REQUIRE(sll);
    REQUIRE(sll->has_value());
    CHECK(**sll == mac1);
    auto tll = v->target_link_layer_address();
    REQUIRE(tll);
    CHECK_FALSE(tll->has_value());
    std::vector<nd_option> seen;
    REQUIRE(v->for_each_nd_option([&](const nd_option& o) { seen.push_back(o); }));
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].type == nd_option_type::source_link_layer_address);
    CHECK(seen[0].length_units == 1);
    CHECK(seen[0].data.size() == 6);
    CHECK(seen[0].offset == 24);
    CHECK(v->checksum_ok(ns_ph()));
}

TEST_CASE("wire/icmpv6: deconstruct a neighbor advertisement with target link-layer address") {
    auto v = icmpv6_view::checked(na);
    REQUIRE(v);
    CHECK(v->type() == icmpv6_type::neighbor_advertisement);
    CHECK(v->na_target() == target_addr);
    CHECK_FALSE(v->router());
    CHECK(v->solicited());
    CHECK(v->override_flag());
    CHECK(v->na_flags() == (nd_na_flags::solicited | nd_na_flags::override_flag));
    auto tll = v->target_link_layer_address();
    REQUIRE(tll);
    REQUIRE(tll->has_value());
    CHECK(**tll == mac2);
    CHECK_FALSE(v->source_link_layer_address()->has_value());
    CHECK(v->checksum_ok(na_ph()));
    CHECK_FALSE(v->checksum_ok(ns_ph()));
}

TEST_CASE("wire/icmpv6: every truncated prefix of the fixed part is an error") {
    for (const auto* golden : {&echo, &too_big, &ns, &na}) {
        const std::size_t fixed = icmpv6_fixed_len(std::to_integer<std::uint8_t>((*golden)[0]));
        for (std::size_t n = 0; n < golden->size(); ++n) {
            CAPTURE(n);
            auto v = icmpv6_view::checked(std::span<const std::byte>(golden->data(), n));
            if (n >= fixed) {
                REQUIRE(v);
                CHECK(v->payload().size() == n - fixed);
                continue;
            }
            REQUIRE_FALSE(v);
            CHECK(v.error().code == errc::truncated);
            CHECK(v.error().where == layer::icmpv6);
            CHECK(v.error().offset <= n);
            if (n < icmpv6_header_len) {
                CHECK(v.error().offset == 0);
                CHECK(v.error().needed == 4);
            } else {
                CHECK(v.error().offset == 4);
                CHECK(v.error().needed == fixed - 4);
            }
        }
    }
    // A cut inside the option list is caught by the option walk.
    for (const auto* golden : {&ns, &na}) {
        for (std::size_t n = icmpv6_nd_header_len + 1; n < golden->size(); ++n) {
            auto v = icmpv6_view::checked(std::span<const std::byte>(golden->data(), n));
            REQUIRE(v);
            auto lla = v->link_layer_address(std::to_integer<std::uint8_t>((*golden)[24]));
            REQUIRE_FALSE(lla);
            CHECK(lla.error().code == errc::bad_length);
            CHECK(lla.error().offset == 24);
        }
    }
    // Types with no known body need only the 4-byte base.
    const auto unknown = from_hex("c8 00 0000");
    auto v = icmpv6_view::checked(unknown);
    REQUIRE(v);
    CHECK(v->header_len() == 4);
    CHECK(v->payload().empty());
    auto r = icmpv6_repr::parse(*v);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::truncated);
    CHECK(r.error().offset == 4);
}

TEST_CASE("wire/icmpv6: malformed ND options are bad_length (RFC 4861 section 4.6)") {
    struct bad_case {
        const char* options;
        std::size_t offset;
    };
    for (const auto& c : {bad_case{"01 00 00155d000001", 24},                   // length zero
                          bad_case{"01 02 00155d000001", 24},                   // 16 bytes claimed, 8 present
                          bad_case{"01 01 00155d000001 0e 00 000000000000", 32},  // a good SLLA, then length zero
                          bad_case{"01 01 00155d000001 0e", 32},                 // a lone trailing type byte
                          bad_case{"0e 01 010203040506 01 ff 00155d000001", 32}}) {  // length 255 after a nonce
        CAPTURE(c.options);
        const auto buf = ns_with_options(c.options);
        auto v = icmpv6_view::checked(buf);
        REQUIRE(v);
        auto sll = v->source_link_layer_address();
        REQUIRE_FALSE(sll);
        CHECK(sll.error().code == errc::bad_length);
        CHECK(sll.error().where == layer::icmpv6);
        CHECK(sll.error().offset == c.offset);
        auto walked = v->for_each_nd_option([](const nd_option&) {});
        REQUIRE_FALSE(walked);
        CHECK(walked.error() == sll.error());
        auto r = icmpv6_ns_repr::parse(*v);
        REQUIRE_FALSE(r);
        CHECK(r.error() == sll.error());
    }
}

TEST_CASE("wire/icmpv6: ND option walk details") {
    SUBCASE("unknown options are skipped; the first link-layer option wins") {
        const auto buf = ns_with_options("0e 01 010203040506  01 01 00155d000002  01 01 00155d000001");
        auto v = icmpv6_view::checked(buf);
        REQUIRE(v);
        CHECK(**v->source_link_layer_address() == mac2);
        std::vector<std::size_t> offsets;
        REQUIRE(v->for_each_nd_option([&](const nd_option& o) { offsets.push_back(o.offset); }));
        CHECK(offsets == std::vector<std::size_t>{24, 32, 40});
    }
    SUBCASE("a longer link-layer option: the first 6 bytes are the MAC") {
        const auto buf = ns_with_options("01 02 00155d000001 0000000000000000");
        auto v = icmpv6_view::checked(buf);
        REQUIRE(v);
        CHECK(**v->source_link_layer_address() == mac1);
    }
    SUBCASE("no options") {
        const auto buf = ns_with_options("");
        auto v = icmpv6_view::checked(buf);
        REQUIRE(v);
        auto sll = v->source_link_layer_address();
        REQUIRE(sll);
        CHECK_FALSE(sll->has_value());
        auto r = icmpv6_ns_repr::parse(*v);
        REQUIRE(r);
        CHECK_FALSE(r->source_link_layer_address.has_value());
    }
    SUBCASE("a callback returning false stops early") {
        const auto buf = ns_with_options("0e 01 010203040506 01 00");  // the bad tail is never reached
        auto v = icmpv6_view::checked(buf);
        REQUIRE(v);
        std::size_t seen = 0;
        CHECK(v->for_each_nd_option([&](const nd_option&) {
            ++seen;
            return false;
        }));
        CHECK(seen == 1);
    }
    SUBCASE("the free function on a bare option span") {
        const auto opts = from_hex("02 01 00155d000002");
        auto m = find_nd_link_layer_address(opts, nd_option_type::target_link_layer_address, 0);
        REQUIRE(m);
        CHECK(**m == mac2);
        CHECK(walk_nd_options(std::span<const std::byte>(opts).first(7), [](const nd_option&) {}, 0).error().offset == 0);
    }
}

TEST_CASE("wire/icmpv6: checksum fill and verify") {
    struct golden_case {
        const std::vector<std::byte>* bytes;
        std::uint32_t ph;
    };
    for (const auto& c : {golden_case{&echo, echo_ph()}, golden_case{&too_big, too_big_ph()},
                          golden_case{&ns, ns_ph()}, golden_case{&na, na_ph()}}) {
        auto buf = *c.bytes;
        auto m = mutable_icmpv6_view::checked(buf);
        REQUIRE(m);
        m->set_checksum(0);
        CHECK_FALSE(m->checksum_ok(c.ph));
        m->fill_checksum(c.ph);
        CHECK(buf == *c.bytes);
        CHECK(m->checksum_ok(c.ph));
        buf.back() ^= std::byte{0x80};
        CHECK_FALSE(m->checksum_ok(c.ph));
    }
}

TEST_CASE("wire/icmpv6: reprs round-trip; emit into a 0xa5 buffer equals scapy's bytes") {
    SUBCASE("echo") {
        auto r = icmpv6_echo_repr::parse(*icmpv6_view::checked(echo));
        REQUIRE(r);
        CHECK(*r == icmpv6_echo_repr{false, 0x1234, 7, 4});
        CHECK(r->buffer_len() == echo.size());
        auto out = nvgre::test::prefilled(r->buffer_len());
        r->emit(out);
        CHECK(out[8] == std::byte{0xa5});
        std::copy(echo.begin() + 8, echo.end(), out.begin() + 8);
        auto m = mutable_icmpv6_view::checked(out);
        REQUIRE(m);
        m->fill_checksum(echo_ph());
        CHECK(out == echo);
        const icmpv6_echo_repr reply{true, 1, 2, 0};
        auto out2 = nvgre::test::prefilled(reply.buffer_len());
        reply.emit(out2);
        CHECK(out2 == from_hex("81 00 0000 0001 0002"));
        CHECK(*icmpv6_echo_repr::parse(*icmpv6_view::checked(out2)) == reply);
    }
    SUBCASE("packet too big through the generic repr") {
        auto r = icmpv6_repr::parse(*icmpv6_view::checked(too_big));
        REQUIRE(r);
        CHECK(*r == icmpv6_repr{icmpv6_type::packet_too_big, 0, 1280, 48});
        auto out = nvgre::test::prefilled(r->buffer_len());
        r->emit(out);
        std::copy(too_big.begin() + 8, too_big.end(), out.begin() + 8);
        auto m = mutable_icmpv6_view::checked(out);
        REQUIRE(m);
        m->fill_checksum(too_big_ph());
        CHECK(out == too_big);
        CHECK(*icmpv6_repr::parse(*icmpv6_view::checked(out)) == *r);
    }
    SUBCASE("neighbor solicitation") {
        auto r = icmpv6_ns_repr::parse(*icmpv6_view::checked(ns));
        REQUIRE(r);
        CHECK(*r == icmpv6_ns_repr{target_addr, mac1});
        CHECK(r->buffer_len() == 32);
        auto out = nvgre::test::prefilled(r->buffer_len());
        r->emit(out, ns_ph());
        CHECK(out == ns);
        auto no_cs = nvgre::test::prefilled(r->buffer_len());
        r->emit(no_cs);
        CHECK(no_cs[2] == std::byte{0});
        CHECK(no_cs[3] == std::byte{0});
        CHECK(*icmpv6_ns_repr::parse(*icmpv6_view::checked(no_cs)) == *r);
        const icmpv6_ns_repr bare{target_addr, std::nullopt};
        auto out2 = nvgre::test::prefilled(bare.buffer_len());
        bare.emit(out2);
        CHECK(out2.size() == 24);
        CHECK(std::all_of(out2.begin() + 4, out2.begin() + 8, [](std::byte b) { return b == std::byte{0}; }));
        CHECK(*icmpv6_ns_repr::parse(*icmpv6_view::checked(out2)) == bare);
    }
    SUBCASE("neighbor advertisement") {
        auto r = icmpv6_na_repr::parse(*icmpv6_view::checked(na));
        REQUIRE(r);
        CHECK(*r == icmpv6_na_repr{false, true, true, target_addr, mac2});
        auto out = nvgre::test::prefilled(r->buffer_len());
        r->emit(out, na_ph());
        CHECK(out == na);
        const icmpv6_na_repr all{true, false, true, target_addr, std::nullopt};
        auto out2 = nvgre::test::prefilled(all.buffer_len());
        all.emit(out2);
        CHECK(out2[4] == std::byte{0xa0});
        CHECK(std::all_of(out2.begin() + 5, out2.begin() + 8, [](std::byte b) { return b == std::byte{0}; }));
        CHECK(*icmpv6_na_repr::parse(*icmpv6_view::checked(out2)) == all);
    }
}

TEST_CASE("wire/icmpv6: repr parse rejects what it cannot represent") {
    auto e = icmpv6_echo_repr::parse(*icmpv6_view::checked(ns));
    REQUIRE_FALSE(e);
    CHECK(e.error().code == errc::bad_value);
    CHECK(e.error().offset == 0);
    CHECK(icmpv6_ns_repr::parse(*icmpv6_view::checked(na)).error().offset == 0);
    CHECK(icmpv6_na_repr::parse(*icmpv6_view::checked(ns)).error().offset == 0);

    auto buf = echo;
    buf[1] = std::byte{1};
    auto c = icmpv6_echo_repr::parse(*icmpv6_view::checked(buf));
    REQUIRE_FALSE(c);
    CHECK(c.error().code == errc::bad_value);
    CHECK(c.error().offset == 1);
    buf = ns;
    buf[1] = std::byte{1};
    CHECK(icmpv6_ns_repr::parse(*icmpv6_view::checked(buf)).error().offset == 1);

    buf = na;  // RFC 4861 7.1.2: the target must not be multicast
    auto m = mutable_icmpv6_view::checked(buf);
    REQUIRE(m);
    m->set_na_target(*ipv6_address::parse("ff02::1"));
    auto t = icmpv6_na_repr::parse(*icmpv6_view::checked(buf));
    REQUIRE_FALSE(t);
    CHECK(t.error().code == errc::bad_address);
    CHECK(t.error().offset == 8);
}

TEST_CASE("wire/icmpv6: setters on a writable view") {
    auto buf = na;
    auto v = mutable_icmpv6_view::checked(buf);
    REQUIRE(v);
    v->set_router(true);
    v->set_solicited(false);
    v->set_override_flag(false);
    v->set_target(*ipv6_address::parse("2001:db8::7"));
    auto r = icmpv6_view::checked(buf);
    REQUIRE(r);
    CHECK(r->router());
    CHECK_FALSE(r->solicited());
    CHECK_FALSE(r->override_flag());
    CHECK(r->na_flags() == nd_na_flags::router);
    CHECK(r->na_target() == *ipv6_address::parse("2001:db8::7"));
    v->set_override_flag(true);
    CHECK(r->override_flag());
    v->set_ns_target(target_addr);
    CHECK(r->ns_target() == target_addr);
    v->fill_checksum(na_ph());
    CHECK(r->checksum_ok(na_ph()));

    buf = too_big;
    auto w = mutable_icmpv6_view::checked(buf);
    REQUIRE(w);
    w->set_mtu(1500);
    CHECK(icmpv6_view::checked(buf)->mtu() == 1500);
    w->set_type(icmpv6_type::echo_reply);
    w->set_code(0);
    w->set_identifier(0xabcd);
    w->set_sequence_number(0x0001);
    w->set_checksum(0x5555);
    auto e = icmpv6_view::checked(buf);
    REQUIRE(e);
    CHECK(e->type() == icmpv6_type::echo_reply);
    CHECK(e->rest_of_header() == 0xabcd0001);
    CHECK(e->checksum() == 0x5555);
    w->set_rest_of_header(0);
    w->set_type(icmpv6_type::parameter_problem);
    w->set_pointer(6);
    CHECK(icmpv6_view::unchecked(buf).pointer() == 6);
}

TEST_CASE("wire/icmpv6: icmpv6_field names where emit() writes each field") {
    icmpv6_ns_repr r;
    r.target = ipv6_address::parse("fd00::9").value();
    std::array<std::byte, icmpv6_nd_header_len> b{};
    r.emit(b, 0);
    CHECK(nvgre::detail::load_u8(b.data() + icmpv6_field::type) == icmpv6_type::neighbor_solicitation);
    CHECK(nvgre::detail::load_u8(b.data() + icmpv6_field::code) == 0);
    CHECK(nvgre::detail::load_be16(b.data() + icmpv6_field::checksum) == icmpv6_view::checked(b).value().checksum());
    CHECK(nvgre::detail::load_be32(b.data() + icmpv6_field::body) == 0);
    CHECK(ipv6_address::from_bytes(std::span<const std::byte>(b).subspan(icmpv6_field::target, 16)) == r.target);
}
