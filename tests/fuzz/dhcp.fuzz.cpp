// libFuzzer target: DHCPv4 messages (wire/dhcp.hpp) over arbitrary bytes (a UDP payload).
//   A rejection names layer::dhcp, truncated or bad_protocol, at an offset inside the input
//   (bad_protocol only at the cookie, truncated only before 240 or at an option).
//   For every message checked() accepts: every accessor stays in bounds and agrees with the
//   bytes at its dhcp_field offset; the option walk stays inside the message, in order, never
//   yields pad or END, and agrees with option() (the first of each code) and with the typed
//   accessors (53 of one byte, 50 / 54 of four);
//   a dhcp_repr of the parsed fields (every option it knows, when of the right length) emits
//   exactly length() >= 300 bytes that parse back to the same fields and options, in the
//   stated order, and emitting that parse again gives the same bytes.
#include "fuzz_support.hpp"

#include "nvgre/detail/bytes.hpp"
#include "nvgre/wire/dhcp.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

using namespace nvgre;

namespace {

namespace dhcp_field = wire::dhcp_field;

std::optional<ipv4_address> address_option(const wire::dhcp_view& v, std::uint8_t code) {
    const auto o = v.option(code);
    if (!o || o->size() != 4) return std::nullopt;
    return ipv4_address::from_bytes(*o);
}
std::optional<std::uint32_t> seconds_option(const wire::dhcp_view& v, std::uint8_t code) {
    const auto o = v.option(code);
    if (!o || o->size() != 4) return std::nullopt;
    return detail::load_be32(o->data());
}

/// Every field the repr carries, as read back from a view.
wire::dhcp_repr repr_of(const wire::dhcp_view& v) {
    wire::dhcp_repr r;
    r.op = v.op();
    r.message_type = v.message_type().value_or(wire::dhcp_message_type::discover);
    r.xid = v.xid();
    r.secs = v.secs();
    r.flags = v.flags();
    r.ciaddr = v.ciaddr();
    r.yiaddr = v.yiaddr();
    r.siaddr = v.siaddr();
    r.giaddr = v.giaddr();
    r.client_mac = v.client_mac().value_or(mac_address{});
    r.server_identifier = v.server_identifier();
    r.requested_address = v.requested_address();
    r.lease_seconds = seconds_option(v, wire::dhcp_option::lease_time);
    r.renewal_seconds = seconds_option(v, wire::dhcp_option::renewal_time);
    r.rebinding_seconds = seconds_option(v, wire::dhcp_option::rebinding_time);
    r.subnet_mask = address_option(v, wire::dhcp_option::subnet_mask);
    r.router = address_option(v, wire::dhcp_option::router);
    if (const auto dns = v.option(wire::dhcp_option::dns_servers); dns && dns->size() % 4 == 0)
        for (std::size_t i = 0; i + 4 <= dns->size() && r.dns_count < r.dns.size(); i += 4)
            r.dns[r.dns_count++] = ipv4_address::from_bytes(dns->subspan(i, 4));
    if (const auto id = v.option(wire::dhcp_option::client_identifier)) r.set_client_identifier(*id);
    return r;
}

bool same_fields(const wire::dhcp_repr& a, const wire::dhcp_repr& b) {
    return a.op == b.op && a.message_type == b.message_type && a.xid == b.xid && a.secs == b.secs && a.flags == b.flags &&
           a.ciaddr == b.ciaddr && a.yiaddr == b.yiaddr && a.siaddr == b.siaddr && a.giaddr == b.giaddr &&
           a.client_mac == b.client_mac && a.server_identifier == b.server_identifier &&
           a.requested_address == b.requested_address && a.lease_seconds == b.lease_seconds &&
           a.renewal_seconds == b.renewal_seconds && a.rebinding_seconds == b.rebinding_seconds &&
           a.subnet_mask == b.subnet_mask && a.router == b.router && a.dns_count == b.dns_count &&
           std::equal(a.dns.begin(), a.dns.begin() + static_cast<std::ptrdiff_t>(a.dns_count), b.dns.begin()) &&
           a.client_identifier_len == b.client_identifier_len &&
           std::equal(a.client_identifier.begin(),
                      a.client_identifier.begin() + static_cast<std::ptrdiff_t>(a.client_identifier_len),
                      b.client_identifier.begin());
}

std::vector<std::uint8_t> option_codes(const wire::dhcp_view& v) {
    std::vector<std::uint8_t> codes;
    v.for_each_option([&](std::uint8_t code, std::span<const std::byte>) {
        codes.push_back(code);
        return true;
    });
    return codes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto bytes = fuzz::bytes_of(data, size);
    const std::span<const std::byte> in(bytes);
    auto v = wire::dhcp_view::checked(in);
    if (!v) {
        const error& e = v.error();
        NVGRE_FUZZ_CHECK(e.where == layer::dhcp);
        NVGRE_FUZZ_CHECK(e.offset <= in.size());
        if (e.code == errc::bad_protocol) {
            NVGRE_FUZZ_CHECK(e.offset == dhcp_field::cookie && in.size() >= wire::dhcp_header_len);
        } else {
            NVGRE_FUZZ_CHECK(e.code == errc::truncated);
            // Short of the header, or an option at or after 240 that needs more than is left.
            NVGRE_FUZZ_CHECK((e.offset == 0 && in.size() < wire::dhcp_header_len) ||
                             (e.offset >= dhcp_field::options && e.offset < in.size() && e.needed >= 2 &&
                              e.offset + e.needed > in.size()));
        }
        return 0;
    }
    NVGRE_FUZZ_CHECK(in.size() >= wire::dhcp_header_len);
    NVGRE_FUZZ_CHECK(v->bytes().data() == in.data() && v->bytes().size() == in.size());
    NVGRE_FUZZ_CHECK(detail::load_be32(in.data() + dhcp_field::cookie) == wire::dhcp_magic_cookie);

    // Every accessor, against the bytes at its named offset.
    NVGRE_FUZZ_CHECK(v->op() == detail::load_u8(in.data() + dhcp_field::op));
    NVGRE_FUZZ_CHECK(v->htype() == detail::load_u8(in.data() + dhcp_field::htype));
    NVGRE_FUZZ_CHECK(v->hlen() == detail::load_u8(in.data() + dhcp_field::hlen));
    NVGRE_FUZZ_CHECK(v->hops() == detail::load_u8(in.data() + dhcp_field::hops));
    NVGRE_FUZZ_CHECK(v->xid() == detail::load_be32(in.data() + dhcp_field::xid));
    NVGRE_FUZZ_CHECK(v->secs() == detail::load_be16(in.data() + dhcp_field::secs));
    NVGRE_FUZZ_CHECK(v->flags() == detail::load_be16(in.data() + dhcp_field::flags));
    NVGRE_FUZZ_CHECK(v->broadcast() == ((v->flags() & wire::dhcp_broadcast_flag) != 0));
    NVGRE_FUZZ_CHECK(v->ciaddr() == ipv4_address::from_bytes(in.subspan(dhcp_field::ciaddr, 4)));
    NVGRE_FUZZ_CHECK(v->yiaddr() == ipv4_address::from_bytes(in.subspan(dhcp_field::yiaddr, 4)));
    NVGRE_FUZZ_CHECK(v->siaddr() == ipv4_address::from_bytes(in.subspan(dhcp_field::siaddr, 4)));
    NVGRE_FUZZ_CHECK(v->giaddr() == ipv4_address::from_bytes(in.subspan(dhcp_field::giaddr, 4)));
    const auto mac = v->client_mac();
    NVGRE_FUZZ_CHECK(mac.has_value() == (v->htype() == 1 && v->hlen() == 6));
    if (mac) NVGRE_FUZZ_CHECK(*mac == mac_address::from_bytes(in.subspan(dhcp_field::chaddr, 6)));

    // The walk: in order, inside the options field, no pad or END; option() is the first of
    // each code.
    const std::byte* last_end = in.data() + dhcp_field::options;
    std::array<bool, 256> seen{};
    v->for_each_option([&](std::uint8_t code, std::span<const std::byte> value) {
        NVGRE_FUZZ_CHECK(code != wire::dhcp_option::pad && code != wire::dhcp_option::end);
        // The code and length bytes sit just before the value, after the previous option.
        NVGRE_FUZZ_CHECK(value.data() >= last_end + 2 && value.data() + value.size() <= in.data() + in.size());
        NVGRE_FUZZ_CHECK(detail::load_u8(value.data() - 2) == code && detail::load_u8(value.data() - 1) == value.size());
        const auto first = v->option(code);
        NVGRE_FUZZ_CHECK(first.has_value());
        if (!seen[code]) NVGRE_FUZZ_CHECK(first->data() == value.data() && first->size() == value.size());
        else NVGRE_FUZZ_CHECK(first->data() < value.data());
        seen[code] = true;
        last_end = value.data() + value.size();
        return true;
    });
    // Codes the walk did not give are not found (pad and END never are); the codes of the API
    // only, since each lookup walks the options again.
    for (const std::uint8_t code : {wire::dhcp_option::pad, wire::dhcp_option::subnet_mask, wire::dhcp_option::router,
                                    wire::dhcp_option::dns_servers, wire::dhcp_option::requested_address,
                                    wire::dhcp_option::lease_time, wire::dhcp_option::overload, wire::dhcp_option::message_type,
                                    wire::dhcp_option::server_identifier, wire::dhcp_option::parameter_request_list,
                                    wire::dhcp_option::renewal_time, wire::dhcp_option::rebinding_time,
                                    wire::dhcp_option::client_identifier, wire::dhcp_option::end})
        if (!seen[code]) NVGRE_FUZZ_CHECK(!v->option(code).has_value());
    const auto type = v->option(wire::dhcp_option::message_type);
    NVGRE_FUZZ_CHECK(v->message_type().has_value() == (type && type->size() == 1));
    if (v->message_type()) NVGRE_FUZZ_CHECK(*v->message_type() == detail::load_u8(type->data()));
    NVGRE_FUZZ_CHECK(v->requested_address() == address_option(*v, wire::dhcp_option::requested_address));
    NVGRE_FUZZ_CHECK(v->server_identifier() == address_option(*v, wire::dhcp_option::server_identifier));

    // A repr of what was parsed emits a message that parses back to the same fields.
    const wire::dhcp_repr r = repr_of(*v);
    const std::size_t len = r.length();
    NVGRE_FUZZ_CHECK(len >= wire::bootp_min_len);
    std::vector<std::byte> out(len + 1, std::byte{0xa5});  // one byte more: emit() stops at length()
    r.emit(out);
    NVGRE_FUZZ_CHECK(out.back() == std::byte{0xa5});
    out.pop_back();
    auto back = wire::dhcp_view::checked(out);
    NVGRE_FUZZ_CHECK(back.has_value());
    NVGRE_FUZZ_CHECK(back->htype() == wire::dhcp_htype_ethernet && back->hlen() == wire::dhcp_hlen_ethernet && back->hops() == 0);
    NVGRE_FUZZ_CHECK(back->broadcast() == v->broadcast());
    NVGRE_FUZZ_CHECK(same_fields(repr_of(*back), r));
    // The options it wrote, in the stated order: 53, 54, 51, 58, 59, 1, 3, 6, 50, 61 where set
    // (61 only when not empty: a zero length is what "absent" is in the repr).
    std::vector<std::uint8_t> expected{wire::dhcp_option::message_type};
    if (r.server_identifier) expected.push_back(wire::dhcp_option::server_identifier);
    if (r.lease_seconds) expected.push_back(wire::dhcp_option::lease_time);
    if (r.renewal_seconds) expected.push_back(wire::dhcp_option::renewal_time);
    if (r.rebinding_seconds) expected.push_back(wire::dhcp_option::rebinding_time);
    if (r.subnet_mask) expected.push_back(wire::dhcp_option::subnet_mask);
    if (r.router) expected.push_back(wire::dhcp_option::router);
    if (r.dns_count != 0) expected.push_back(wire::dhcp_option::dns_servers);
    if (r.requested_address) expected.push_back(wire::dhcp_option::requested_address);
    if (r.client_identifier_len != 0) expected.push_back(wire::dhcp_option::client_identifier);
    NVGRE_FUZZ_CHECK(option_codes(*back) == expected);
    // Padding to 300 is zeros after END; past 300 END is the last byte.
    std::size_t options_len = 0;
    back->for_each_option([&](std::uint8_t, std::span<const std::byte> value) {
        options_len += 2 + value.size();
        return true;
    });
    const std::size_t end_at = dhcp_field::options + options_len;
    NVGRE_FUZZ_CHECK(len == std::max(end_at + 1, wire::bootp_min_len));
    NVGRE_FUZZ_CHECK(detail::load_u8(out.data() + end_at) == wire::dhcp_option::end);
    NVGRE_FUZZ_CHECK(std::all_of(out.begin() + static_cast<std::ptrdiff_t>(end_at + 1), out.end(),
                                 [](std::byte b) { return b == std::byte{0}; }));
    // sname and file are zero, and chaddr past the MAC.
    NVGRE_FUZZ_CHECK(std::all_of(out.begin() + dhcp_field::chaddr + 6, out.begin() + dhcp_field::cookie,
                                 [](std::byte b) { return b == std::byte{0}; }));
    // Stable: the parse of the emitted message emits the same bytes.
    const wire::dhcp_repr again = repr_of(*back);
    std::vector<std::byte> twice(again.length(), std::byte{0x5a});
    again.emit(twice);
    NVGRE_FUZZ_CHECK(twice == out);
    return 0;
}
