#include "nvgre/wire/dhcp.hpp"

#include "nvgre/detail/bytes.hpp"
#include "support/test_bytes.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using namespace nvgre;
using namespace nvgre::wire;
using nvgre::test::from_hex;
using nvgre::test::prefilled;

namespace {

std::string zeros(std::size_t n) { return std::string(2 * n, '0'); }
std::string hex_of(std::string_view text) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (const char c : text) {
        s += digits[static_cast<unsigned char>(c) >> 4];
        s += digits[static_cast<unsigned char>(c) & 0xf];
    }
    return s;
}
std::vector<std::byte> bytes_of(std::span<const std::byte> s) { return {s.begin(), s.end()}; }
ipv4_address v4(const char* s) { return ipv4_address::parse(s).value(); }
mac_address app_mac() { return mac_address::parse("00:15:5d:00:00:07").value(); }

// chaddr of an Ethernet client: its 6-byte MAC, then 10 zero bytes (RFC 2131 section 2).
const std::string chaddr_hex = "00155d000007" + zeros(10);

// A DISCOVER in the shape busybox udhcpc (1.36, run with -B) broadcasts: the broadcast flag,
// client identifier 61 = type 1 + MAC, maximum message size 57 = 576, parameter request list
// 55, vendor class 60 "udhcp 1.36.1", END, then zero padding to the 300 bytes of RFC 1542.
// Hand-written; scapy's BOOTP()/DHCP() decodes it to exactly those fields and options
// (message-type 1, client_id, max_dhcp_size 576, param_req_list [1,3,6,12,15,28,42],
// vendor_class_id, end, 20 x pad).
// Option offsets: 53 at 240, 61 at 243, 57 at 252, 55 at 256, 60 at 265, END at 279.
const std::vector<std::byte> udhcpc_discover = from_hex(
    "01 01 06 00"                   // op BOOTREQUEST, htype Ethernet, hlen 6, hops 0
    "5a3c1e07"                      // xid
    "0000 8000" +                   // secs 0, flags: broadcast
    zeros(16) +                     // ciaddr, yiaddr, siaddr, giaddr: all 0.0.0.0
    chaddr_hex + zeros(64 + 128) +  // chaddr, sname, file
    "63825363"                      // magic cookie
    "350101"                        // 53 message type: DISCOVER
    "3d07 01 00155d000007"          // 61 client identifier: hardware type 1 + MAC
    "3902 0240"                     // 57 maximum message size 576
    "3707 01 03 06 0c 0f 1c 2a"     // 55 parameter request list
    "3c0c" + hex_of("udhcp 1.36.1") +  // 60 vendor class identifier
    "ff" + zeros(20));              // END, padding to 300

// The REQUEST ISC dhclient sends in SELECTING (RFC 2131 section 4.3.2) after an OFFER from
// 10.0.0.1: secs counting, no broadcast flag, ciaddr 0, server identifier 54 and requested
// address 50, host name 12, dhclient's parameter request list, END, padding to 300.
// Hand-written; scapy decodes it to message-type 3, server_id 10.0.0.1, requested_addr
// 10.0.0.7, hostname b'red-app', param_req_list [1,28,2,3,15,6,119,12,44,47,26,121,42].
const std::vector<std::byte> dhclient_request = from_hex(
    "01 01 06 00"
    "5a3c1e07"
    "0003 0000" +                   // secs 3, flags 0
    zeros(16) + chaddr_hex + zeros(64 + 128) +
    "63825363"
    "350103"                        // 53: REQUEST
    "3604 0a000001"                 // 54 server identifier 10.0.0.1
    "3204 0a000007"                 // 50 requested address 10.0.0.7
    "0c07" + hex_of("red-app") +    // 12 host name
    "370d 01 1c 02 03 0f 06 77 0c 2c 2f 1a 79 2a"  // 55
    "ff" + zeros(20));

/// A message with the given options field (after the cookie) and an all-zero fixed header
/// but for op 1, htype 1, hlen 6 and the client's MAC.
std::vector<std::byte> with_options(const std::string& options_hex) {
    return from_hex("01010600" + zeros(4 + 2 + 2 + 16) + chaddr_hex + zeros(64 + 128) + "63825363" + options_hex);
}

/// Every field of a repr with every option set: an ACK as a server answers a REQUEST.
dhcp_repr full_ack() {
    dhcp_repr r;
    r.op = dhcp_op::boot_reply;
    r.message_type = dhcp_message_type::ack;
    r.xid = 0xdeadbeef;
    r.secs = 7;
    r.flags = dhcp_broadcast_flag;
    r.ciaddr = v4("10.0.0.7");
    r.yiaddr = v4("10.0.0.8");
    r.siaddr = v4("10.0.0.9");
    r.giaddr = v4("10.0.0.10");
    r.client_mac = app_mac();
    r.server_identifier = v4("10.0.0.1");
    r.lease_seconds = 3600;
    r.renewal_seconds = 1800;
    r.rebinding_seconds = 3150;
    r.subnet_mask = v4("255.255.255.0");
    r.router = v4("10.0.0.1");
    r.dns = {v4("10.0.0.53"), v4("9.9.9.9"), {}, {}};
    r.dns_count = 2;
    return r;
}

std::vector<std::byte> emitted(const dhcp_repr& r) {
    std::vector<std::byte> out = prefilled(r.length());
    r.emit(out);
    return out;
}

std::optional<std::uint32_t> seconds_option(const dhcp_view& v, std::uint8_t code) {
    const auto o = v.option(code);
    if (!o || o->size() != 4) return std::nullopt;
    return nvgre::detail::load_be32(o->data());
}
std::optional<ipv4_address> address_option(const dhcp_view& v, std::uint8_t code) {
    const auto o = v.option(code);
    if (!o || o->size() != 4) return std::nullopt;
    return ipv4_address::from_bytes(*o);
}

std::vector<std::uint8_t> option_codes(const dhcp_view& v) {
    std::vector<std::uint8_t> codes;
    v.for_each_option([&](std::uint8_t code, std::span<const std::byte>) {
        codes.push_back(code);
        return true;
    });
    return codes;
}

}  // namespace

TEST_CASE("wire/dhcp: deconstruct a DISCOVER shaped like busybox udhcpc's") {
    REQUIRE(udhcpc_discover.size() == bootp_min_len);
    auto v = dhcp_view::checked(udhcpc_discover);
    REQUIRE(v);
    CHECK(v->bytes().data() == udhcpc_discover.data());
    CHECK(v->bytes().size() == udhcpc_discover.size());
    CHECK(v->op() == dhcp_op::boot_request);
    CHECK(v->htype() == 1);
    CHECK(v->hlen() == 6);
    CHECK(v->hops() == 0);
    CHECK(v->xid() == 0x5a3c1e07);
    CHECK(v->secs() == 0);
    CHECK(v->flags() == 0x8000);
    CHECK(v->broadcast());
    CHECK(v->ciaddr() == ipv4_address{});
    CHECK(v->yiaddr() == ipv4_address{});
    CHECK(v->siaddr() == ipv4_address{});
    CHECK(v->giaddr() == ipv4_address{});
    CHECK(v->client_mac() == std::optional(app_mac()));
    CHECK(v->message_type() == std::optional<std::uint8_t>(dhcp_message_type::discover));
    CHECK_FALSE(v->requested_address().has_value());
    CHECK_FALSE(v->server_identifier().has_value());
    CHECK(option_codes(*v) == std::vector<std::uint8_t>{53, 61, 57, 55, 60});
    const auto id = v->option(dhcp_option::client_identifier);
    REQUIRE(id);
    CHECK(bytes_of(*id) == from_hex("01 00155d000007"));
    CHECK(id->data() == udhcpc_discover.data() + 245);  // a view into the message, not a copy
    const auto prl = v->option(dhcp_option::parameter_request_list);
    REQUIRE(prl);
    CHECK(bytes_of(*prl) == from_hex("01 03 06 0c 0f 1c 2a"));
    REQUIRE(v->option(60).has_value());
    CHECK(bytes_of(*v->option(60)) == from_hex(hex_of("udhcp 1.36.1")));
    CHECK_FALSE(v->option(dhcp_option::lease_time).has_value());
    CHECK_FALSE(v->option(dhcp_option::end).has_value());  // END and pad are no options
    CHECK_FALSE(v->option(dhcp_option::pad).has_value());
}

TEST_CASE("wire/dhcp: deconstruct a REQUEST shaped like ISC dhclient's in SELECTING") {
    REQUIRE(dhclient_request.size() == bootp_min_len);
    auto v = dhcp_view::checked(dhclient_request);
    REQUIRE(v);
    CHECK(v->op() == dhcp_op::boot_request);
    CHECK(v->xid() == 0x5a3c1e07);
    CHECK(v->secs() == 3);
    CHECK(v->flags() == 0);
    CHECK_FALSE(v->broadcast());
    CHECK(v->ciaddr() == ipv4_address{});
    CHECK(v->client_mac() == std::optional(app_mac()));
    CHECK(v->message_type() == std::optional<std::uint8_t>(dhcp_message_type::request));
    CHECK(v->server_identifier() == std::optional(v4("10.0.0.1")));
    CHECK(v->requested_address() == std::optional(v4("10.0.0.7")));
    REQUIRE(v->option(12).has_value());
    CHECK(bytes_of(*v->option(12)) == from_hex(hex_of("red-app")));
    REQUIRE(v->option(dhcp_option::parameter_request_list).has_value());
    CHECK(v->option(dhcp_option::parameter_request_list)->size() == 13);
    CHECK(option_codes(*v) == std::vector<std::uint8_t>{53, 54, 50, 12, 55});
}

TEST_CASE("wire/dhcp: dhcp_field names where each fixed field is read") {
    // A relayed RENEWING REQUEST: the dhclient message with every fixed field changed in place
    // at its named offset.
    auto b = dhclient_request;
    const auto at = [&](std::size_t offset) { return b.data() + offset; };
    nvgre::detail::store_u8(at(dhcp_field::op), dhcp_op::boot_reply);
    nvgre::detail::store_u8(at(dhcp_field::htype), 6);
    nvgre::detail::store_u8(at(dhcp_field::hlen), 7);
    nvgre::detail::store_u8(at(dhcp_field::hops), 2);
    nvgre::detail::store_be32(at(dhcp_field::xid), 0x01020304);
    nvgre::detail::store_be16(at(dhcp_field::secs), 0xfffe);
    nvgre::detail::store_be16(at(dhcp_field::flags), 0x8001);
    v4("10.0.0.7").to_bytes(std::span(b).subspan(dhcp_field::ciaddr, 4));
    v4("10.0.0.8").to_bytes(std::span(b).subspan(dhcp_field::yiaddr, 4));
    v4("10.0.0.9").to_bytes(std::span(b).subspan(dhcp_field::siaddr, 4));
    v4("10.0.0.254").to_bytes(std::span(b).subspan(dhcp_field::giaddr, 4));
    auto v = dhcp_view::checked(b);
    REQUIRE(v);
    CHECK(v->op() == dhcp_op::boot_reply);
    CHECK(v->htype() == 6);
    CHECK(v->hlen() == 7);
    CHECK(v->hops() == 2);
    CHECK(v->xid() == 0x01020304);
    CHECK(v->secs() == 0xfffe);
    CHECK(v->flags() == 0x8001);
    CHECK(v->broadcast());
    CHECK(v->ciaddr() == v4("10.0.0.7"));
    CHECK(v->yiaddr() == v4("10.0.0.8"));
    CHECK(v->siaddr() == v4("10.0.0.9"));
    CHECK(v->giaddr() == v4("10.0.0.254"));
    // The layout: fixed fields back to back, chaddr 16, sname 64, file 128, then the cookie.
    CHECK(dhcp_field::sname == dhcp_field::chaddr + 16);
    CHECK(dhcp_field::file == dhcp_field::sname + 64);
    CHECK(dhcp_field::cookie == dhcp_field::file + 128);
    CHECK(dhcp_field::cookie == dhcp_fixed_len);
    CHECK(dhcp_field::options == dhcp_header_len);
    CHECK(nvgre::detail::load_be32(dhclient_request.data() + dhcp_field::cookie) == dhcp_magic_cookie);
}

TEST_CASE("wire/dhcp: broadcast() is the flag's top bit alone") {
    for (const std::uint16_t flags : {0x0000, 0x0001, 0x7fff, 0x8000, 0xffff}) {
        auto b = udhcpc_discover;
        nvgre::detail::store_be16(b.data() + dhcp_field::flags, flags);
        auto v = dhcp_view::checked(b);
        REQUIRE(v);
        CHECK(v->flags() == flags);
        CHECK(v->broadcast() == (flags >= 0x8000));
    }
}

TEST_CASE("wire/dhcp: client_mac() only for an Ethernet chaddr (htype 1, hlen 6)") {
    struct hardware {
        std::uint8_t htype;
        std::uint8_t hlen;
        bool mac;
    };
    // IEEE 802 (htype 6) with a 6-byte address, Ethernet with other lengths, InfiniBand (32, hlen 0).
    for (const hardware h : {hardware{1, 6, true}, hardware{6, 6, false}, hardware{1, 0, false}, hardware{1, 16, false},
                             hardware{32, 0, false}}) {
        auto b = udhcpc_discover;
        b[dhcp_field::htype] = std::byte{h.htype};
        b[dhcp_field::hlen] = std::byte{h.hlen};
        auto v = dhcp_view::checked(b);
        REQUIRE(v);
        CHECK(v->htype() == h.htype);
        CHECK(v->hlen() == h.hlen);
        CHECK(v->client_mac().has_value() == h.mac);
    }
}

TEST_CASE("wire/dhcp: every prefix shorter than 240 bytes is truncated at 0") {
    for (std::size_t n = 0; n < dhcp_header_len; ++n) {
        auto r = dhcp_view::checked(std::span(udhcpc_discover).first(n));
        REQUIRE_FALSE(r);
        CHECK(r.error() == make_error(errc::truncated, layer::dhcp, 0, dhcp_header_len));
    }
}

TEST_CASE("wire/dhcp: a prefix that cuts an option is truncated at that option; one between options is accepted") {
    // The DISCOVER's options: (offset, bytes) = 53 (240, 3), 61 (243, 9), 57 (252, 4), 55 (256, 9),
    // 60 (265, 14), END at 279.
    struct option_at {
        std::size_t offset;
        std::size_t len;
    };
    const option_at options[] = {{240, 3}, {243, 9}, {252, 4}, {256, 9}, {265, 14}};
    for (std::size_t n = dhcp_header_len; n <= udhcpc_discover.size(); ++n) {
        CAPTURE(n);
        auto r = dhcp_view::checked(std::span(udhcpc_discover).first(n));
        const option_at* cut = nullptr;
        for (const auto& o : options)
            if (n > o.offset && n < o.offset + o.len) cut = &o;
        if (cut == nullptr) {
            CHECK(r.has_value());  // ends between options, or at END or after: accepted
            continue;
        }
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::truncated);
        CHECK(r.error().where == layer::dhcp);
        CHECK(r.error().offset == cut->offset);
        // The code byte alone: the length byte is missing, 2 needed; else the whole option.
        CHECK(r.error().needed == (n == cut->offset + 1 ? 2 : cut->len));
    }
    // A length byte that runs past the end of a full-size message.
    auto b = with_options("350101" "37ff 010306");
    auto r = dhcp_view::checked(b);
    REQUIRE_FALSE(r);
    CHECK(r.error() == make_error(errc::truncated, layer::dhcp, 243, 2 + 255));
}

TEST_CASE("wire/dhcp: a wrong magic cookie is bad_protocol at 236") {
    for (std::size_t i = 0; i < 4; ++i) {
        auto b = udhcpc_discover;
        b[dhcp_field::cookie + i] ^= std::byte{0x01};
        auto r = dhcp_view::checked(b);
        REQUIRE_FALSE(r);
        CHECK(r.error() == make_error(errc::bad_protocol, layer::dhcp, dhcp_field::cookie));
    }
    // A plain BOOTP message (RFC 951): a 64-byte vendor area of zeros where the cookie would be.
    auto bootp = from_hex("01010600" + zeros(24) + chaddr_hex + zeros(64 + 128) + zeros(64));
    CHECK(dhcp_view::checked(bootp).error().code == errc::bad_protocol);
    // The cookie is looked at before the options: a bad cookie with broken options is still bad_protocol.
    auto both = with_options("35ff");
    both[dhcp_field::cookie] = std::byte{0};
    CHECK(dhcp_view::checked(both).error().code == errc::bad_protocol);
}

TEST_CASE("wire/dhcp: END is optional, and what follows it is never read") {
    // No END: the options run to the end of the payload.
    auto no_end = with_options("350101" "3204c0a80001");
    auto v = dhcp_view::checked(no_end);
    REQUIRE(v);
    CHECK(v->message_type() == std::optional<std::uint8_t>(dhcp_message_type::discover));
    CHECK(v->requested_address() == std::optional(v4("192.168.0.1")));
    // Exactly the header: a message with no options at all.
    auto bare = with_options("");
    REQUIRE(bare.size() == dhcp_header_len);
    auto b = dhcp_view::checked(bare);
    REQUIRE(b);
    CHECK_FALSE(b->message_type().has_value());
    CHECK(option_codes(*b).empty());
    // After END: an option whose length runs off the payload, and an option 53 that is not found.
    auto trailing = with_options("350103" "ff" "350105" "36ff");
    auto t = dhcp_view::checked(trailing);
    REQUIRE(t);
    CHECK(t->message_type() == std::optional<std::uint8_t>(dhcp_message_type::request));
    CHECK_FALSE(t->server_identifier().has_value());
    CHECK(option_codes(*t) == std::vector<std::uint8_t>{53});
    // END first: no options.
    auto end_first = with_options("ff" "350101");
    CHECK(option_codes(dhcp_view::checked(end_first).value()).empty());
}

TEST_CASE("wire/dhcp: options: pads, the first of two, and lengths that do not fit the kind") {
    auto b = with_options(
        "00 00"           // pad (no length byte)
        "350102"          // message type OFFER
        "00"              // pad between options
        "350105"          // a second message type: option() finds the first
        "3204c0a80001"    // requested address 192.168.0.1
        "3204c0a80002"    // a second one
        "3603010203"      // server identifier of 3 bytes: no address
        "5000"            // 80 (rapid commit, RFC 4039): an empty value
        "ff");
    auto v = dhcp_view::checked(b);
    REQUIRE(v);
    CHECK(v->message_type() == std::optional<std::uint8_t>(dhcp_message_type::offer));
    CHECK(v->requested_address() == std::optional(v4("192.168.0.1")));
    CHECK_FALSE(v->server_identifier().has_value());
    REQUIRE(v->option(dhcp_option::server_identifier).has_value());
    CHECK(bytes_of(*v->option(dhcp_option::server_identifier)) == from_hex("010203"));
    REQUIRE(v->option(80).has_value());
    CHECK(v->option(80)->empty());
    CHECK(option_codes(*v) == std::vector<std::uint8_t>{53, 53, 50, 50, 54, 80});
    // for_each_option stops when the function says so; values are in message order.
    std::vector<std::vector<std::byte>> values;
    v->for_each_option([&](std::uint8_t, std::span<const std::byte> value) {
        values.push_back(bytes_of(value));
        return values.size() < 3;
    });
    CHECK(values == std::vector<std::vector<std::byte>>{from_hex("02"), from_hex("05"), from_hex("c0a80001")});

    // Option 53 of 2 bytes or of none is no message type; 50 and 54 of 8 bytes are no address.
    for (const char* options : {"35020101ff", "3500ff"}) {
        auto w = with_options(options);
        auto wv = dhcp_view::checked(w);
        REQUIRE(wv);
        CHECK(wv->option(dhcp_option::message_type).has_value());
        CHECK_FALSE(wv->message_type().has_value());
    }
    auto eight = with_options("3208c0a80001c0a80002" "3608c0a80001c0a80002" "ff");
    auto ev = dhcp_view::checked(eight);
    REQUIRE(ev);
    CHECK_FALSE(ev->requested_address().has_value());
    CHECK_FALSE(ev->server_identifier().has_value());
    CHECK(ev->option(dhcp_option::requested_address)->size() == 8);
}

TEST_CASE("wire/dhcp: option overload (52) is reported but not followed into sname and file") {
    // RFC 2132 section 9.3: overload 3 says sname and file hold options too. The view reads the
    // options field only, so an option 53 placed in file is not seen.
    auto b = with_options("340103" "ff");
    const auto file_options = from_hex("350105" "ff");
    std::copy(file_options.begin(), file_options.end(), b.begin() + dhcp_field::file);
    auto v = dhcp_view::checked(b);
    REQUIRE(v);
    REQUIRE(v->option(dhcp_option::overload).has_value());
    CHECK(bytes_of(*v->option(dhcp_option::overload)) == from_hex("03"));
    CHECK_FALSE(v->message_type().has_value());
}

TEST_CASE("wire/dhcp: repr emits every byte: fields at their named offsets, options in order, zeros to 300") {
    const dhcp_repr r = full_ack();
    // 240 + 53 (3) + 54, 51, 58, 59, 1, 3 (6 each) + 6 with two servers (10) + END = 290, padded.
    REQUIRE(r.length() == bootp_min_len);
    const auto out = emitted(r);  // into a 0xa5-prefilled buffer: every byte is written
    // Golden: scapy's bytes for the same message, then the 10 zero bytes of padding (scapy does
    // not pad):
    //   /usr/bin/python3 -c 'from scapy.all import *; print(bytes(BOOTP(op=2, xid=0xdeadbeef, secs=7,
    //     flags=0x8000, ciaddr="10.0.0.7", yiaddr="10.0.0.8", siaddr="10.0.0.9", giaddr="10.0.0.10",
    //     chaddr=bytes.fromhex("00155d000007")+b"\0"*10)/DHCP(options=[("message-type","ack"),
    //     ("server_id","10.0.0.1"),("lease_time",3600),("renewal_time",1800),("rebinding_time",3150),
    //     ("subnet_mask","255.255.255.0"),("router","10.0.0.1"),("name_server","10.0.0.53","9.9.9.9"),
    //     "end"])).hex())'
    CHECK(out == from_hex("02010600deadbeef000780000a0000070a0000080a0000090a00000a" + chaddr_hex + zeros(192) +
                          "63825363"
                          "350105"
                          "36040a000001"
                          "330400000e10"
                          "3a0400000708"
                          "3b0400000c4e"
                          "0104ffffff00"
                          "03040a000001"
                          "06080a00003509090909"
                          "ff" +
                          zeros(10)));
    // The same, field by field at the named offsets.
    const std::span<const std::byte> s(out);
    CHECK(nvgre::detail::load_u8(s.data() + dhcp_field::op) == dhcp_op::boot_reply);
    CHECK(nvgre::detail::load_u8(s.data() + dhcp_field::htype) == 1);
    CHECK(nvgre::detail::load_u8(s.data() + dhcp_field::hlen) == 6);
    CHECK(nvgre::detail::load_u8(s.data() + dhcp_field::hops) == 0);
    CHECK(nvgre::detail::load_be32(s.data() + dhcp_field::xid) == r.xid);
    CHECK(nvgre::detail::load_be16(s.data() + dhcp_field::secs) == r.secs);
    CHECK(nvgre::detail::load_be16(s.data() + dhcp_field::flags) == r.flags);
    CHECK(ipv4_address::from_bytes(s.subspan(dhcp_field::ciaddr, 4)) == r.ciaddr);
    CHECK(ipv4_address::from_bytes(s.subspan(dhcp_field::yiaddr, 4)) == r.yiaddr);
    CHECK(ipv4_address::from_bytes(s.subspan(dhcp_field::siaddr, 4)) == r.siaddr);
    CHECK(ipv4_address::from_bytes(s.subspan(dhcp_field::giaddr, 4)) == r.giaddr);
    CHECK(mac_address::from_bytes(s.subspan(dhcp_field::chaddr, 6)) == r.client_mac);
    CHECK(bytes_of(s.subspan(dhcp_field::chaddr + 6, 10)) == std::vector<std::byte>(10, std::byte{0}));
    CHECK(bytes_of(s.subspan(dhcp_field::sname, 64)) == std::vector<std::byte>(64, std::byte{0}));
    CHECK(bytes_of(s.subspan(dhcp_field::file, 128)) == std::vector<std::byte>(128, std::byte{0}));
    CHECK(nvgre::detail::load_be32(s.data() + dhcp_field::cookie) == dhcp_magic_cookie);
    CHECK(nvgre::detail::load_u8(s.data() + dhcp_field::options) == dhcp_option::message_type);
    // Options in the stated order: 53 first (RFC 2131 section 4.1 recommends it), then 54, 51, 58, 59, 1, 3, 6.
    CHECK(option_codes(dhcp_view::checked(out).value()) == std::vector<std::uint8_t>{53, 54, 51, 58, 59, 1, 3, 6});
    // emit() writes length() bytes and no more.
    auto wide = prefilled(r.length() + 8);
    r.emit(wide);
    CHECK(std::vector<std::byte>(wide.begin(), wide.begin() + static_cast<std::ptrdiff_t>(r.length())) == out);
    CHECK(std::vector<std::byte>(wide.begin() + static_cast<std::ptrdiff_t>(r.length()), wide.end()) == prefilled(8));
}

TEST_CASE("wire/dhcp: repr round trip: emit, then checked() gives every field back") {
    dhcp_repr big = full_ack();
    big.requested_address = v4("10.0.0.8");
    big.dns = {v4("10.0.0.53"), v4("9.9.9.9"), v4("1.1.1.1"), v4("8.8.4.4")};
    big.dns_count = 4;
    dhcp_repr discover;  // the defaults: a client's DISCOVER with no options but 53
    discover.xid = 0x5a3c1e07;
    discover.flags = dhcp_broadcast_flag;
    discover.client_mac = app_mac();
    dhcp_repr request;
    request.message_type = dhcp_message_type::request;
    request.xid = 0x5a3c1e07;
    request.secs = 3;
    request.client_mac = app_mac();
    request.server_identifier = v4("10.0.0.1");
    request.requested_address = v4("10.0.0.7");
    for (const dhcp_repr& r : {full_ack(), big, discover, request}) {
        const auto out = emitted(r);
        auto v = dhcp_view::checked(out);
        REQUIRE(v);
        CHECK(v->op() == r.op);
        CHECK(v->htype() == dhcp_htype_ethernet);
        CHECK(v->hlen() == dhcp_hlen_ethernet);
        CHECK(v->hops() == 0);
        CHECK(v->xid() == r.xid);
        CHECK(v->secs() == r.secs);
        CHECK(v->flags() == r.flags);
        CHECK(v->broadcast() == ((r.flags & dhcp_broadcast_flag) != 0));
        CHECK(v->ciaddr() == r.ciaddr);
        CHECK(v->yiaddr() == r.yiaddr);
        CHECK(v->siaddr() == r.siaddr);
        CHECK(v->giaddr() == r.giaddr);
        CHECK(v->client_mac() == std::optional(r.client_mac));
        CHECK(v->message_type() == std::optional(r.message_type));
        CHECK(v->server_identifier() == r.server_identifier);
        CHECK(v->requested_address() == r.requested_address);
        CHECK(seconds_option(*v, dhcp_option::lease_time) == r.lease_seconds);
        CHECK(seconds_option(*v, dhcp_option::renewal_time) == r.renewal_seconds);
        CHECK(seconds_option(*v, dhcp_option::rebinding_time) == r.rebinding_seconds);
        CHECK(address_option(*v, dhcp_option::subnet_mask) == r.subnet_mask);
        CHECK(address_option(*v, dhcp_option::router) == r.router);
        const auto dns = v->option(dhcp_option::dns_servers);
        REQUIRE(dns.has_value() == (r.dns_count != 0));
        if (dns) {
            REQUIRE(dns->size() == 4 * r.dns_count);
            for (std::size_t i = 0; i < r.dns_count; ++i) CHECK(ipv4_address::from_bytes(dns->subspan(4 * i, 4)) == r.dns[i]);
        }
        // Emitting what was parsed gives the same bytes again.
        CHECK(emitted(r) == out);
    }
    // Every option but 53 is optional, and emitted in the stated order where set.
    CHECK(option_codes(dhcp_view::checked(emitted(discover)).value()) == std::vector<std::uint8_t>{53});
    CHECK(option_codes(dhcp_view::checked(emitted(request)).value()) == std::vector<std::uint8_t>{53, 54, 50});
    CHECK(option_codes(dhcp_view::checked(emitted(big)).value()) == std::vector<std::uint8_t>{53, 54, 51, 58, 59, 1, 3, 6, 50});
}

TEST_CASE("wire/dhcp: repr length: header, options and END, padded with zeros to 300") {
    dhcp_repr bare;
    CHECK(bare.length() == bootp_min_len);  // 240 + 53 (3) + END = 244
    const auto out = emitted(bare);
    CHECK(bytes_of(std::span(out).subspan(dhcp_field::options)) == from_hex("350101ff" + zeros(300 - 244)));
    // A REQUEST: 53, 54 and 50 in that order.
    dhcp_repr request;
    request.message_type = dhcp_message_type::request;
    request.server_identifier = v4("10.0.0.1");
    request.requested_address = v4("10.0.0.7");
    CHECK(request.length() == bootp_min_len);
    CHECK(bytes_of(std::span<const std::byte>(emitted(request)).subspan(dhcp_field::options, 16)) ==
          from_hex("350103" "36040a000001" "32040a000007" "ff"));
    // Past 300 the length is exact: no padding.
    dhcp_repr big = full_ack();
    big.dns_count = 4;
    big.requested_address = v4("10.0.0.8");
    CHECK(big.length() == 240 + 3 + 6 * 7 + (2 + 16) + 1);
    CHECK(emitted(big).back() == std::byte{dhcp_option::end});
    // More DNS servers than the array holds: the first max_dns are listed.
    dhcp_repr many = big;
    many.dns_count = dhcp_repr::max_dns + 3;
    CHECK(many.length() == big.length());
    CHECK(emitted(many) == emitted(big));
}

TEST_CASE("wire/dhcp: repr client identifier (61): a copy of the client's, after 50, before END") {
    // A server echoes the client's option 61 unaltered (RFC 6842): the udhcpc DISCOVER's.
    const auto discover = dhcp_view::checked(udhcpc_discover).value();
    REQUIRE(discover.option(dhcp_option::client_identifier).has_value());
    dhcp_repr offer = full_ack();
    offer.message_type = dhcp_message_type::offer;
    offer.requested_address = v4("10.0.0.8");
    offer.set_client_identifier(*discover.option(dhcp_option::client_identifier));
    CHECK(offer.client_identifier_len == 7);
    // 240 + 3 + 6 * 7 + 10 + 9 + 1 = 305: past 300, so not padded.
    CHECK(offer.length() == 305);
    const auto out = emitted(offer);
    auto v = dhcp_view::checked(out);
    REQUIRE(v);
    CHECK(option_codes(*v) == std::vector<std::uint8_t>{53, 54, 51, 58, 59, 1, 3, 6, 50, 61});
    CHECK(bytes_of(std::span(out).last(10)) == from_hex("3d07 01 00155d000007" "ff"));
    // The longest value an option holds, and one longer (cut at 255: an option length is one byte).
    for (const std::size_t n : {std::size_t{255}, std::size_t{300}}) {
        const std::vector<std::byte> id(n, std::byte{0x42});
        dhcp_repr r;
        r.set_client_identifier(id);
        CHECK(r.client_identifier_len == 255);
        CHECK(r.length() == 240 + 3 + 2 + 255 + 1);
        const auto b = emitted(r);
        auto rv = dhcp_view::checked(b);
        REQUIRE(rv);
        REQUIRE(rv->option(dhcp_option::client_identifier).has_value());
        CHECK(bytes_of(*rv->option(dhcp_option::client_identifier)) == std::vector<std::byte>(255, std::byte{0x42}));
    }
    // None set: no option 61 (the defaults).
    CHECK_FALSE(dhcp_view::checked(emitted(dhcp_repr{})).value().option(dhcp_option::client_identifier).has_value());
}
