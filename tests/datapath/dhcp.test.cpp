#include "nvgre/datapath/dhcp.hpp"

#include "support/classified_policy.hpp"
#include "support/frames.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/pseudo_header.hpp"
#include "nvgre/datapath/egress.hpp"
#include "nvgre/wire/dhcp.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <vector>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;
using namespace nvgre::test::hnv_vm;

namespace {

/// A DHCP client message from `from` in an Ethernet / IPv4 / UDP 68 -> 67 frame, from `src`
/// to `dst` (0.0.0.0 -> 255.255.255.255 for a client without an address).
std::vector<std::byte> dhcp_frame(const mac_address& from, const wire::dhcp_repr& m, const char* src = "0.0.0.0",
                                  const char* dst = "255.255.255.255", const mac_address& to = mac_address::broadcast()) {
    const std::size_t len = m.length();
    std::vector<std::byte> f(wire::ethernet_header_len + wire::ipv4_min_header_len + wire::udp_header_len + len);
    wire::ethernet_repr{to, from, 0, {}, wire::ethertype::ipv4}.emit(f);
    wire::ipv4_repr ip;
    ip.source = ip_address::parse(src)->v4();
    ip.destination = ip_address::parse(dst)->v4();
    ip.protocol = wire::ip_protocol::udp;
    ip.payload_len = static_cast<std::uint16_t>(wire::udp_header_len + len);
    ip.emit(std::span<std::byte>(f).subspan(wire::ethernet_header_len));
    const auto udp = std::span<std::byte>(f).subspan(wire::ethernet_header_len + wire::ipv4_min_header_len);
    wire::udp_repr{wire::dhcp_client_port, wire::dhcp_server_port, static_cast<std::uint16_t>(len)}.emit(udp);
    m.emit(udp.subspan(wire::udp_header_len));
    wire::mutable_udp_view::unchecked(udp).fill_checksum(
        checksum::ipv4_pseudo_header_sum(ip.source, ip.destination, wire::ip_protocol::udp, static_cast<std::uint16_t>(udp.size())));
    return f;
}

wire::dhcp_repr client(std::uint8_t type, const mac_address& mac, std::uint32_t xid = 0x3903f326) {
    wire::dhcp_repr m;
    m.op = wire::dhcp_op::boot_request;
    m.message_type = type;
    m.xid = xid;
    m.client_mac = mac;
    return m;
}

ipv4_address v4(const char* s) { return ip_address::parse(s)->v4(); }

/// The answer egress gave, parsed; checks the headers every answer shares.
struct answer {
    outcome o;
    std::vector<std::byte> bytes;
    std::optional<wire::dhcp_view> dhcp;
    mac_address eth_destination;
    ipv4_address ip_destination;
};

answer ask(const policy::snapshot& s, const mac_address& port, const std::vector<std::byte>& request) {
    answer a;
    buffer b(request, 128, 512);
    vector_sink sink;
    a.o = egress(s, port, b.f, sink);
    a.bytes = b.bytes();
    if (a.o.verdict != verdict::reply) return a;
    const std::span<const std::byte> f(a.bytes);
    auto eth = wire::ethernet_view::checked(f);
    REQUIRE(eth);
    CHECK(eth->source() == red_router);
    a.eth_destination = eth->destination();
    auto ip = wire::ipv4_view::checked(f.subspan(wire::ethernet_header_len));
    REQUIRE(ip);
    CHECK(checksum::compute(f.subspan(wire::ethernet_header_len, wire::ipv4_min_header_len)) == 0);
    CHECK(ip->source() == v4("10.0.0.1"));
    CHECK(ip->protocol() == wire::ip_protocol::udp);
    a.ip_destination = ip->destination();
    auto udp = wire::udp_view::checked(ip->payload());
    REQUIRE(udp);
    CHECK(udp->source_port() == 67);
    CHECK(udp->destination_port() == 68);
    CHECK(udp->checksum_ok(checksum::ipv4_pseudo_header_sum(ip->source(), ip->destination(), wire::ip_protocol::udp,
                                                            static_cast<std::uint16_t>(udp->length()))));
    CHECK(udp->payload().size() >= wire::bootp_min_len);
    auto d = wire::dhcp_view::checked(udp->payload());
    REQUIRE(d);
    CHECK(d->op() == wire::dhcp_op::boot_reply);
    CHECK(d->client_mac() == std::optional<mac_address>(port));
    CHECK(d->server_identifier() == std::optional<ipv4_address>(v4("10.0.0.1")));
    // the copy lives in a.bytes: re-parse from it so that the view stays valid
    a.dhcp = wire::dhcp_view::checked(std::span<const std::byte>(a.bytes).subspan(
                                          wire::ethernet_header_len + wire::ipv4_min_header_len + wire::udp_header_len))
                 .value();
    return a;
}

std::vector<std::byte> option(const wire::dhcp_view& d, std::uint8_t code) {
    const auto o = d.option(code);
    if (!o) return {};
    return {o->begin(), o->end()};
}
std::vector<std::byte> bytes_of(std::initializer_list<std::uint8_t> b) {
    std::vector<std::byte> out;
    for (const auto x : b) out.push_back(std::byte{x});
    return out;
}

}  // namespace

TEST_CASE("datapath/dhcp: DISCOVER gets an OFFER of the VM's CA with the subnet's options, from the router") {
    const policy::state hv1 = classified_state("hv1");
    SUBCASE("unicast to the offered address when the client can take it") {
        const answer a = ask(hv1, red_app, dhcp_frame(red_app, client(wire::dhcp_message_type::discover, red_app)));
        REQUIRE(a.o.verdict == verdict::reply);
        CHECK(a.o.reason == drop_reason::none);
        CHECK(a.o.to == destination::to_sender(red_app, 1));
        const wire::dhcp_view& d = *a.dhcp;
        CHECK(d.message_type() == std::optional<std::uint8_t>(wire::dhcp_message_type::offer));
        CHECK(d.xid() == 0x3903f326);
        CHECK(d.yiaddr() == v4("10.0.0.7"));
        CHECK(d.ciaddr() == ipv4_address{});
        CHECK(d.giaddr() == ipv4_address{});
        CHECK(a.eth_destination == red_app);
        CHECK(a.ip_destination == v4("10.0.0.7"));
        CHECK(option(d, wire::dhcp_option::subnet_mask) == bytes_of({255, 255, 255, 0}));
        CHECK(option(d, wire::dhcp_option::router) == bytes_of({10, 0, 0, 1}));
        CHECK(option(d, wire::dhcp_option::dns_servers) == bytes_of({10, 0, 0, 53, 9, 9, 9, 9}));
        CHECK(option(d, wire::dhcp_option::lease_time) == bytes_of({0, 0, 0x0e, 0x10}));      // 3600
        CHECK(option(d, wire::dhcp_option::renewal_time) == bytes_of({0, 0, 0x07, 0x08}));    // 1800
        CHECK(option(d, wire::dhcp_option::rebinding_time) == bytes_of({0, 0, 0x0c, 0x4e}));  // 3150
    }
    SUBCASE("broadcast when the client asks for it") {
        wire::dhcp_repr m = client(wire::dhcp_message_type::discover, red_app);
        m.flags = wire::dhcp_broadcast_flag;
        const answer a = ask(hv1, red_app, dhcp_frame(red_app, m));
        REQUIRE(a.o.verdict == verdict::reply);
        CHECK(a.eth_destination == mac_address::broadcast());
        CHECK(a.ip_destination == v4("255.255.255.255"));
        CHECK(a.dhcp->flags() == wire::dhcp_broadcast_flag);
    }
}

TEST_CASE("datapath/dhcp: REQUEST for the VM's CA gets an ACK, for any other address a NAK; INFORM an ACK without a lease") {
    const policy::state hv1 = classified_state("hv1");
    wire::dhcp_repr m = client(wire::dhcp_message_type::request, red_app);
    m.requested_address = v4("10.0.0.7");
    m.server_identifier = v4("10.0.0.1");
    answer a = ask(hv1, red_app, dhcp_frame(red_app, m));
    REQUIRE(a.o.verdict == verdict::reply);
    CHECK(a.dhcp->message_type() == std::optional<std::uint8_t>(wire::dhcp_message_type::ack));
    CHECK(a.dhcp->yiaddr() == v4("10.0.0.7"));

    m.requested_address = v4("10.0.0.99");
    a = ask(hv1, red_app, dhcp_frame(red_app, m));
    REQUIRE(a.o.verdict == verdict::reply);
    CHECK(a.dhcp->message_type() == std::optional<std::uint8_t>(wire::dhcp_message_type::nak));
    CHECK(a.dhcp->yiaddr() == ipv4_address{});
    CHECK(a.eth_destination == mac_address::broadcast());  // a NAK is always broadcast
    CHECK(a.ip_destination == v4("255.255.255.255"));
    CHECK_FALSE(a.dhcp->option(wire::dhcp_option::lease_time).has_value());
    CHECK_FALSE(a.dhcp->option(wire::dhcp_option::subnet_mask).has_value());

    // RENEWING: from the CA, unicast to the server; the answer goes to ciaddr.
    wire::dhcp_repr renew = client(wire::dhcp_message_type::request, red_app);
    renew.ciaddr = v4("10.0.0.7");
    a = ask(hv1, red_app, dhcp_frame(red_app, renew, "10.0.0.7", "10.0.0.1", red_router));
    REQUIRE(a.o.verdict == verdict::reply);
    CHECK(a.dhcp->message_type() == std::optional<std::uint8_t>(wire::dhcp_message_type::ack));
    CHECK(a.ip_destination == v4("10.0.0.7"));
    CHECK(a.eth_destination == red_app);
    CHECK(a.dhcp->ciaddr() == v4("10.0.0.7"));

    wire::dhcp_repr inform = client(wire::dhcp_message_type::inform, red_app);
    inform.ciaddr = v4("10.0.0.7");
    a = ask(hv1, red_app, dhcp_frame(red_app, inform, "10.0.0.7", "255.255.255.255"));
    REQUIRE(a.o.verdict == verdict::reply);
    CHECK(a.dhcp->message_type() == std::optional<std::uint8_t>(wire::dhcp_message_type::ack));
    CHECK(a.dhcp->yiaddr() == ipv4_address{});
    CHECK_FALSE(a.dhcp->option(wire::dhcp_option::lease_time).has_value());
    CHECK(option(*a.dhcp, wire::dhcp_option::subnet_mask) == bytes_of({255, 255, 255, 0}));
}

TEST_CASE("datapath/dhcp: what is not answered, each with its reason") {
    const policy::state hv1 = classified_state("hv1");
    vector_sink sink;
    const auto reason_of = [&](const mac_address& port, const std::vector<std::byte>& f) {
        buffer b(f, 128, 512);
        return egress(hv1, port, b.f, sink).reason;
    };
    // Another NIC's hardware address: not this port's to ask for.
    CHECK(reason_of(red_app, dhcp_frame(red_app, client(wire::dhcp_message_type::discover, red_db))) == drop_reason::spoofed_source);
    // From an address that is not the VM's.
    CHECK(reason_of(red_app, dhcp_frame(red_app, client(wire::dhcp_message_type::discover, red_app), "10.0.0.5")) ==
          drop_reason::spoofed_source);
    // A REQUEST that names another server, a RELEASE: for the router, nothing to answer.
    wire::dhcp_repr other = client(wire::dhcp_message_type::request, red_app);
    other.server_identifier = v4("10.0.0.6");
    other.requested_address = v4("10.0.0.7");
    CHECK(reason_of(red_app, dhcp_frame(red_app, other)) == drop_reason::to_router);
    CHECK(reason_of(red_app, dhcp_frame(red_app, client(wire::dhcp_message_type::release, red_app), "10.0.0.7", "10.0.0.1", red_router)) ==
          drop_reason::to_router);
    // A relayed one, a reply, no message type.
    wire::dhcp_repr relayed = client(wire::dhcp_message_type::discover, red_app);
    relayed.giaddr = v4("10.0.0.254");
    CHECK(reason_of(red_app, dhcp_frame(red_app, relayed)) == drop_reason::unsupported);
    wire::dhcp_repr reply = client(wire::dhcp_message_type::discover, red_app);
    reply.op = wire::dhcp_op::boot_reply;
    CHECK(reason_of(red_app, dhcp_frame(red_app, reply)) == drop_reason::unsupported);
    // A subnet without dhcp=on: the broadcast DISCOVER from 0.0.0.0 is no client of ours (spoofed-source, as before).
    CHECK(reason_of(blue_web, dhcp_frame(blue_web, client(wire::dhcp_message_type::discover, blue_web))) == drop_reason::spoofed_source);
}

TEST_CASE("datapath/dhcp: the client identifier comes back unaltered (RFC 6842); an OFFER's ciaddr is 0") {
    const policy::state hv1 = classified_state("hv1");
    const std::vector<std::byte> id{std::byte{1}, std::byte{0x00}, std::byte{0x15}, std::byte{0x5d},
                                    std::byte{0x00}, std::byte{0x00}, std::byte{0x07}};
    wire::dhcp_repr m = client(wire::dhcp_message_type::discover, red_app);
    m.set_client_identifier(id);
    m.ciaddr = v4("10.0.0.77");  // clients must not, and the OFFER must say 0 anyway
    answer a = ask(hv1, red_app, dhcp_frame(red_app, m));
    REQUIRE(a.o.verdict == verdict::reply);
    CHECK(option(*a.dhcp, wire::dhcp_option::client_identifier) == id);
    CHECK(a.dhcp->ciaddr() == ipv4_address{});
    wire::dhcp_repr nak = client(wire::dhcp_message_type::request, red_app);
    nak.set_client_identifier(id);
    nak.requested_address = v4("10.0.0.99");
    a = ask(hv1, red_app, dhcp_frame(red_app, nak));
    REQUIRE(a.o.verdict == verdict::reply);
    CHECK(a.dhcp->message_type() == std::optional<std::uint8_t>(wire::dhcp_message_type::nak));
    CHECK(option(*a.dhcp, wire::dhcp_option::client_identifier) == id);
}
