#include "nvgre/wire/udp.hpp"

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

// Hand-built pseudo-headers (RFC 768 / RFC 8200 section 8.1), independent of the library's own.
std::uint32_t udp_pseudo_v4(const char* src, const char* dst, std::size_t len) {
    std::array<std::byte, 12> ph{};
    ipv4_address::parse(src)->to_bytes(std::span(ph).subspan(0, 4));
    ipv4_address::parse(dst)->to_bytes(std::span(ph).subspan(4, 4));
    ph[9] = std::byte{17};
    ph[10] = static_cast<std::byte>(len >> 8);
    ph[11] = static_cast<std::byte>(len);
    return checksum::sum(ph);
}
std::uint32_t udp_pseudo_v6(const char* src, const char* dst, std::size_t len) {
    std::array<std::byte, 40> ph{};
    ipv6_address::parse(src)->to_bytes(std::span(ph).subspan(0, 16));
    ipv6_address::parse(dst)->to_bytes(std::span(ph).subspan(16, 16));
    ph[34] = static_cast<std::byte>(len >> 8);
    ph[35] = static_cast<std::byte>(len);
    ph[39] = std::byte{17};
    return checksum::sum(ph);
}

// Golden, UDP part of (bytes[20:]):
//   /usr/bin/python3 -c 'from scapy.all import *; print(bytes(IP(src="10.0.0.1",dst="10.0.0.2")
//     /UDP(sport=1234,dport=53)/b"hello").hex())'
const auto udp4 = from_hex("04d2 0035 000d a2f8 68656c6c6f");
// Golden, UDP part of (bytes[40:]): IPv6(src="fd00::1",dst="fd00::2")/UDP(sport=50000,dport=4789)/b"nvgre!"
const auto udp6 = from_hex("c350 12b5 000e f4bd 6e7667726521");
// Golden, UDP part of (bytes[20:]): IP(src="10.0.0.1",dst="10.0.0.2")/UDP(sport=1234,dport=5678)/b"\xd0\xd7"
// The payload word was chosen so that the computed checksum is 0; scapy sends it as 0xffff.
const auto udp4_ffff = from_hex("04d2 162e 000a ffff d0d7");

}  // namespace

TEST_CASE("wire/udp: deconstruct an IPv4 datagram") {
    auto v = udp_view::checked(udp4);
    REQUIRE(v);
    CHECK(v->source_port() == 1234);
    CHECK(v->destination_port() == 53);
    CHECK(v->length() == 13);
    CHECK(v->checksum() == 0xa2f8);
    CHECK(v->header_len() == udp_header_len);
    CHECK(v->payload().size() == 5);
    CHECK(std::to_integer<char>(v->payload()[0]) == 'h');
    CHECK(v->datagram().size() == 13);
    CHECK(v->bytes().size() == 13);
    CHECK(v->checksum_ok(udp_pseudo_v4("10.0.0.1", "10.0.0.2", 13)));
    CHECK_FALSE(v->checksum_ok(udp_pseudo_v4("10.0.0.1", "10.0.0.3", 13)));
}

TEST_CASE("wire/udp: deconstruct an IPv6 datagram; zero checksum is rejected over IPv6") {
    auto v = udp_view::checked(udp6);
    REQUIRE(v);
    CHECK(v->source_port() == 50000);
    CHECK(v->destination_port() == 4789);
    CHECK(v->length() == 14);
    CHECK(v->payload().size() == 6);
    const auto ph = udp_pseudo_v6("fd00::1", "fd00::2", 14);
    CHECK(v->checksum_ok_v6(ph));
    CHECK_FALSE(v->checksum_ok_v6(udp_pseudo_v6("fd00::1", "fd00::9", 14)));

    auto buf = udp6;
    auto m = mutable_udp_view::checked(buf);
    REQUIRE(m);
    m->set_checksum(0);
    CHECK_FALSE(m->checksum_ok_v6(ph));
    CHECK(m->checksum_ok(ph));  // the IPv4 rule ("no checksum") would accept it
    m->fill_checksum(ph);
    CHECK(buf == udp6);
}

TEST_CASE("wire/udp: zero checksum over IPv4 means none and is accepted") {
    auto buf = udp4;
    auto m = mutable_udp_view::checked(buf);
    REQUIRE(m);
    m->set_checksum(0);
    CHECK(m->checksum() == 0);
    CHECK(m->checksum_ok(udp_pseudo_v4("10.0.0.1", "10.0.0.2", 13)));
    CHECK(m->checksum_ok(udp_pseudo_v4("1.2.3.4", "5.6.7.8", 13)));
    m->fill_checksum(udp_pseudo_v4("10.0.0.1", "10.0.0.2", 13));
    CHECK(buf == udp4);
}

TEST_CASE("wire/udp: a computed checksum of 0 is sent as 0xffff") {
    const auto ph = udp_pseudo_v4("10.0.0.1", "10.0.0.2", 10);
    auto v = udp_view::checked(udp4_ffff);
    REQUIRE(v);
    CHECK(v->checksum() == 0xffff);
    CHECK(v->checksum_ok(ph));
    auto buf = udp4_ffff;
    auto m = mutable_udp_view::checked(buf);
    REQUIRE(m);
    m->set_checksum(0x1234);
    CHECK_FALSE(m->checksum_ok(ph));
    m->fill_checksum(ph);
    CHECK(m->checksum() == 0xffff);
    CHECK(buf == udp4_ffff);
}

TEST_CASE("wire/udp: every truncated prefix is an error") {
    for (const auto* golden : {&udp4, &udp6, &udp4_ffff}) {
        for (std::size_t n = 0; n < golden->size(); ++n) {
            auto v = udp_view::checked(std::span<const std::byte>(golden->data(), n));
            REQUIRE_FALSE(v);
            CHECK(v.error().code == errc::truncated);
            CHECK(v.error().where == layer::udp);
            CHECK(v.error().offset <= n);
            if (n < udp_header_len) {
                CHECK(v.error().offset == 0);
                CHECK(v.error().needed == udp_header_len);
            } else {
                CHECK(v.error().offset == 4);
                CHECK(v.error().offset + v.error().needed == golden->size());
            }
        }
    }
}

TEST_CASE("wire/udp: lying length fields") {
    SUBCASE("length below the header") {
        for (std::uint16_t len : {0, 1, 7}) {
            auto buf = udp4;
            buf[4] = static_cast<std::byte>(len >> 8);
            buf[5] = static_cast<std::byte>(len);
            auto v = udp_view::checked(buf);
            REQUIRE_FALSE(v);
            CHECK(v.error().code == errc::bad_length);
            CHECK(v.error().where == layer::udp);
            CHECK(v.error().offset == 4);
        }
    }
    SUBCASE("length larger than the span") {
        auto buf = udp4;
        buf[5] = std::byte{14};
        auto v = udp_view::checked(buf);
        REQUIRE_FALSE(v);
        CHECK(v.error().code == errc::truncated);
        CHECK(v.error().offset == 4);
        CHECK(v.error().needed == 10);
        buf[4] = std::byte{0xff};
        buf[5] = std::byte{0xff};
        CHECK(udp_view::checked(buf).error().code == errc::truncated);
    }
    SUBCASE("length smaller than the span: the rest is not payload") {
        auto buf = udp4;
        buf.push_back(std::byte{0});  // e.g. Ethernet padding
        buf.push_back(std::byte{0});
        auto v = udp_view::checked(buf);
        REQUIRE(v);
        CHECK(v->payload().size() == 5);
        CHECK(v->datagram().size() == 13);
        CHECK(v->bytes().size() == 15);
        CHECK(v->checksum_ok(udp_pseudo_v4("10.0.0.1", "10.0.0.2", 13)));
        buf[5] = std::byte{10};  // shorter than the real data: checksum no longer covers it
        auto w = udp_view::checked(buf);
        REQUIRE(w);
        CHECK(w->payload().size() == 2);
        CHECK_FALSE(w->checksum_ok(udp_pseudo_v4("10.0.0.1", "10.0.0.2", 10)));
    }
}

TEST_CASE("wire/udp: repr round-trips and emit writes every header byte") {
    for (const auto* golden : {&udp4, &udp6, &udp4_ffff}) {
        auto v = udp_view::checked(*golden);
        REQUIRE(v);
        const auto r = udp_repr::parse(*v);
        CHECK(r.buffer_len() == golden->size());
        CHECK(udp_repr::header_len() == 8);
        auto out = nvgre::test::prefilled(r.buffer_len());
        r.emit(out);
        CHECK(std::equal(out.begin(), out.begin() + 6, golden->begin()));
        CHECK(out[6] == std::byte{0});
        CHECK(out[7] == std::byte{0});
        CHECK(out[8] == std::byte{0xa5});  // the payload is not touched
        auto again = udp_view::checked(out);
        REQUIRE(again);
        CHECK(udp_repr::parse(*again) == r);
    }
    // Emit + payload + fill_checksum reproduces scapy's bytes.
    const udp_repr r{1234, 53, 5};
    CHECK(r == udp_repr::parse(*udp_view::checked(udp4)));
    auto out = nvgre::test::prefilled(r.buffer_len());
    r.emit(out);
    std::copy(udp4.begin() + 8, udp4.end(), out.begin() + 8);
    auto m = mutable_udp_view::checked(out);
    REQUIRE(m);
    m->fill_checksum(udp_pseudo_v4("10.0.0.1", "10.0.0.2", r.buffer_len()));
    CHECK(out == udp4);
}

TEST_CASE("wire/udp: setters on a writable view") {
    auto buf = udp4;
    buf.push_back(std::byte{0xee});
    auto v = mutable_udp_view::checked(buf);
    REQUIRE(v);
    v->set_source_port(4789);
    v->set_destination_port(65535);
    v->set_length(14);
    v->set_checksum(0xbeef);
    auto r = udp_view::checked(buf);
    REQUIRE(r);
    CHECK(r->source_port() == 4789);
    CHECK(r->destination_port() == 65535);
    CHECK(r->length() == 14);
    CHECK(r->payload().size() == 6);
    CHECK(r->checksum() == 0xbeef);
    v->fill_checksum(udp_pseudo_v4("10.0.0.1", "10.0.0.2", 14));
    CHECK(r->checksum_ok(udp_pseudo_v4("10.0.0.1", "10.0.0.2", 14)));
    CHECK(udp_view::unchecked(buf).length() == 14);
}
