// libFuzzer target: the text parsers of the root layer over arbitrary text: IPv4, IPv6 and
// either address, prefix, MAC, GUID (RDID) and VSID. Asserts:
//   - a failure is an error value of layer text at an offset inside the text (or at its end);
//   - a success formats to text that parses back to the same value, and formatting is a
//     fixpoint (format(parse(format(x))) == format(x));
//   - IPv4 and IPv6 agree with the C library's inet_pton both ways: every text one accepts,
//     the other accepts, with the same 4 or 16 bytes;
//   - a VSID parses only in 4096-16777214; a prefix never has host bits set.
#include "fuzz_support.hpp"

#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/rdid.hpp"
#include "nvgre/vsid.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

using namespace nvgre;

namespace {

template <class T>
void check_error(const result<T>& r, std::string_view text) {
    if (r) return;
    NVGRE_FUZZ_CHECK(r.error().where == layer::text);
    NVGRE_FUZZ_CHECK(r.error().offset <= text.size());
    NVGRE_FUZZ_CHECK(r.error().code == errc::syntax || r.error().code == errc::bad_value || r.error().code == errc::reserved_vsid);
}

/// parse(format(v)) == v, and the formatted text is a fixpoint.
template <class T>
void round_trip(const T& v) {
    const std::string text = v.to_string();
    const auto again = T::parse(text);
    NVGRE_FUZZ_CHECK(again.has_value());
    NVGRE_FUZZ_CHECK(*again == v);
    NVGRE_FUZZ_CHECK(again->to_string() == text);
}

void against_libc(const std::string& z, const result<ipv4_address>& v4, const result<ipv6_address>& v6) {
    unsigned char buf[16];
    const bool libc4 = ::inet_pton(AF_INET, z.c_str(), buf) == 1;
    NVGRE_FUZZ_CHECK(libc4 == v4.has_value());
    if (libc4) NVGRE_FUZZ_CHECK(std::memcmp(buf, v4->octets().data(), 4) == 0);
    const bool libc6 = ::inet_pton(AF_INET6, z.c_str(), buf) == 1;
    NVGRE_FUZZ_CHECK(libc6 == v6.has_value());
    if (libc6) {
        NVGRE_FUZZ_CHECK(std::memcmp(buf, v6->octets().data(), 16) == 0);
        // RFC 5952 canonical text, which inet_ntop writes too (but for the IPv4-compatible and
        // IPv4-mapped forms, where C libraries differ).
        char text[INET6_ADDRSTRLEN];
        NVGRE_FUZZ_CHECK(::inet_ntop(AF_INET6, buf, text, sizeof text) != nullptr);
        if (std::string_view(text).find('.') == std::string_view::npos) NVGRE_FUZZ_CHECK(v6->to_string() == text);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 256) return 0;  // every valid text is far shorter
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    const auto v4 = ipv4_address::parse(text);
    check_error(v4, text);
    if (v4) round_trip(*v4);
    const auto v6 = ipv6_address::parse(text);
    check_error(v6, text);
    if (v6) round_trip(*v6);
    // inet_pton takes a C string: texts with a NUL byte inside are ours alone.
    if (text.find('\0') == std::string_view::npos) against_libc(std::string(text), v4, v6);

    const auto ip = ip_address::parse(text);
    check_error(ip, text);
    NVGRE_FUZZ_CHECK(ip.has_value() == (v4.has_value() || v6.has_value()));
    if (ip) {
        round_trip(*ip);
        NVGRE_FUZZ_CHECK(ip->is_v4() ? v4.has_value() && ip->v4() == *v4 : v6.has_value() && ip->v6() == *v6);
    }

    const auto prefix = ip_prefix::parse(text);
    check_error(prefix, text);
    if (prefix) {
        round_trip(*prefix);
        NVGRE_FUZZ_CHECK(prefix->length() <= (prefix->address().is_v4() ? 32u : 128u));
        NVGRE_FUZZ_CHECK(ip_prefix::containing(prefix->address(), prefix->length())->address() == prefix->address());
        NVGRE_FUZZ_CHECK(prefix->contains(prefix->address()));
    }

    const auto mac = mac_address::parse(text);
    check_error(mac, text);
    if (mac) round_trip(*mac);

    const auto guid = rdid::parse(text);
    check_error(guid, text);
    if (guid) round_trip(*guid);

    const auto v = vsid::parse(text);
    check_error(v, text);
    if (v) {
        NVGRE_FUZZ_CHECK(vsid::is_tenant(v->value()));
        NVGRE_FUZZ_CHECK(std::to_string(v->value()) == text);
    }
    return 0;
}
