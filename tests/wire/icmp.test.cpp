#include "nvgre/wire/icmp.hpp"

#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

using namespace nvgre;
using namespace nvgre::wire;
using nvgre::test::from_hex;

namespace {

// Golden, the ICMP part (bytes[20:]) of
//   /usr/bin/python3 -c 'from scapy.all import *; print(bytes(IP(src="10.0.0.1",dst="10.0.0.2")
//     /ICMP(type=8,id=0x1234,seq=1)/b"abcdefgh").hex())'
const auto echo = from_hex("08 00 5435 1234 0001 6162636465666768");
// Golden, the ICMP part (bytes[20:]) of
//   q = IP(src="10.0.0.1",dst="192.0.2.9",flags="DF",id=0x4242)/UDP(sport=1111,dport=2222)/(b"x"*1500)
//   IP(src="192.0.2.254",dst="10.0.0.1")/ICMP(type=3,code=4,nexthopmtu=1400)/bytes(q)[:28]
// i.e. Fragmentation Needed quoting the offending IPv4 header and the first 8 bytes of its payload.
const auto frag_needed = from_hex(
    "03 04 ba74 0000 0578"
    "450005f842424000401126a90a000001c0000209"
    "045708ae05e42a26");

}  // namespace

TEST_CASE("wire/icmp: deconstruct an echo request") {
    auto v = icmp_view::checked(echo);
    REQUIRE(v);
    CHECK(v->type() == icmp_type::echo_request);
    CHECK(v->code() == 0);
    CHECK(v->checksum() == 0x5435);
    CHECK(v->rest_of_header() == 0x12340001);
    CHECK(v->identifier() == 0x1234);
    CHECK(v->sequence_number() == 1);
    CHECK(v->header_len() == icmp_header_len);
    CHECK(v->payload().size() == 8);
    CHECK(std::to_integer<char>(v->payload()[7]) == 'h');
    CHECK(v->bytes().size() == echo.size());
    CHECK(v->checksum_ok());
    CHECK_FALSE(is_icmp_error(v->type()));
}

TEST_CASE("wire/icmp: deconstruct Fragmentation Needed with its quoted packet") {
    auto v = icmp_view::checked(frag_needed);
    REQUIRE(v);
    CHECK(v->type() == icmp_type::destination_unreachable);
    CHECK(v->code() == icmp_code::fragmentation_needed);
    CHECK(is_icmp_error(v->type()));
    CHECK(v->next_hop_mtu() == 1400);
    CHECK(v->rest_of_header() == 1400);
    CHECK(v->checksum_ok());
    const auto quoted = v->payload();
    REQUIRE(quoted.size() == 28);
    CHECK(quoted[0] == std::byte{0x45});                                       // IPv4, IHL 5
    CHECK((std::to_integer<unsigned>(quoted[2]) << 8 | std::to_integer<unsigned>(quoted[3])) == 1528);  // > 1400
    CHECK(quoted[9] == std::byte{17});                                         // UDP
    CHECK(std::equal(quoted.begin() + 20, quoted.end(), frag_needed.begin() + 28));
}

TEST_CASE("wire/icmp: every truncated prefix of the header is an error; the data is open-ended") {
    for (const auto* golden : {&echo, &frag_needed}) {
        for (std::size_t n = 0; n < golden->size(); ++n) {
            auto v = icmp_view::checked(std::span<const std::byte>(golden->data(), n));
            if (n >= icmp_header_len) {
                REQUIRE(v);
                CHECK(v->payload().size() == n - icmp_header_len);
                CHECK_FALSE(v->checksum_ok());  // the checksum covers the whole message
                continue;
            }
            REQUIRE_FALSE(v);
            CHECK(v.error().code == errc::truncated);
            CHECK(v.error().where == layer::icmp);
            CHECK(v.error().offset == 0);
            CHECK(v.error().needed == icmp_header_len);
        }
    }
}

TEST_CASE("wire/icmp: checksum fill and verify") {
    for (const auto* golden : {&echo, &frag_needed}) {
        auto buf = *golden;
        auto m = mutable_icmp_view::checked(buf);
        REQUIRE(m);
        m->set_checksum(0);
        CHECK_FALSE(m->checksum_ok());
        m->fill_checksum();
        CHECK(buf == *golden);
        buf.back() ^= std::byte{1};
        CHECK_FALSE(m->checksum_ok());
    }
}

TEST_CASE("wire/icmp: repr round-trips; emit + data + fill_checksum equals scapy's bytes") {
    for (const auto* golden : {&echo, &frag_needed}) {
        auto v = icmp_view::checked(*golden);
        REQUIRE(v);
        const auto r = icmp_repr::parse(*v);
        CHECK(r.buffer_len() == golden->size());
        auto out = nvgre::test::prefilled(r.buffer_len());
        r.emit(out);
        CHECK(out[2] == std::byte{0});
        CHECK(out[3] == std::byte{0});
        CHECK(out[icmp_header_len] == std::byte{0xa5});  // data untouched
        std::copy(golden->begin() + icmp_header_len, golden->end(), out.begin() + icmp_header_len);
        auto m = mutable_icmp_view::checked(out);
        REQUIRE(m);
        m->fill_checksum();
        CHECK(out == *golden);
        CHECK(icmp_repr::parse(*icmp_view::checked(out)) == r);
    }
    CHECK(icmp_repr::parse(*icmp_view::checked(echo)) ==
          icmp_repr{icmp_type::echo_request, 0, icmp_repr::echo_rest(0x1234, 1), 8});
    CHECK(icmp_repr::parse(*icmp_view::checked(frag_needed)) ==
          icmp_repr{icmp_type::destination_unreachable, icmp_code::fragmentation_needed,
                    icmp_repr::fragmentation_needed_rest(1400), 28});
}

TEST_CASE("wire/icmp: setters on a writable view") {
    auto buf = echo;
    auto v = mutable_icmp_view::checked(buf);
    REQUIRE(v);
    v->set_type(icmp_type::echo_reply);
    v->set_code(0);
    v->set_identifier(0xbeef);
    v->set_sequence_number(0x0102);
    v->fill_checksum();
    auto r = icmp_view::checked(buf);
    REQUIRE(r);
    CHECK(r->type() == icmp_type::echo_reply);
    CHECK(r->identifier() == 0xbeef);
    CHECK(r->sequence_number() == 0x0102);
    CHECK(r->checksum_ok());

    buf = frag_needed;  // may reallocate: make new views
    buf[4] = std::byte{0xff};  // unused bytes must be cleared by set_next_hop_mtu
    v = mutable_icmp_view::checked(buf);
    r = icmp_view::checked(buf);
    REQUIRE(v);
    REQUIRE(r);
    v->set_next_hop_mtu(1358);
    CHECK(r->rest_of_header() == 1358);
    CHECK(r->next_hop_mtu() == 1358);
    v->set_rest_of_header(0x0c000000);
    v->set_type(icmp_type::parameter_problem);
    CHECK(r->pointer() == 12);
    v->set_pointer(9);
    CHECK(r->pointer() == 9);
    v->set_checksum(0x1234);
    CHECK(r->checksum() == 0x1234);
    CHECK(icmp_view::unchecked(buf).type() == icmp_type::parameter_problem);
}

TEST_CASE("wire/icmp: icmp_field names where emit() writes each field") {
    icmp_repr r;
    r.type = icmp_type::echo_request;
    r.code = 0;
    r.rest_of_header = icmp_repr::echo_rest(0x1234, 0x5678);
    std::array<std::byte, icmp_header_len> b{};
    r.emit(b);
    CHECK(nvgre::detail::load_u8(b.data() + icmp_field::type) == icmp_type::echo_request);
    CHECK(nvgre::detail::load_u8(b.data() + icmp_field::code) == 0);
    CHECK(nvgre::detail::load_be16(b.data() + icmp_field::checksum) == icmp_view::checked(b).value().checksum());
    CHECK(nvgre::detail::load_be32(b.data() + icmp_field::rest) == 0x12345678u);
}
