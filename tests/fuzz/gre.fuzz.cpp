// libFuzzer target: GRE (RFC 2784/2890) and its NVGRE profile (RFC 7637) over arbitrary bytes
// (a GRE packet: the outer IP payload). For every header checked() accepts:
//   parse -> emit (+ payload, + checksum) -> parse gives the same repr, the same header length
//   and payload, a verifying checksum, and emitting that repr again gives the same bytes
//   (the round trip is stable);
//   nvgre_view::checked (fast path: one masked compare) agrees with the GRE view's flags
//   (slow path) on every input, and an NVGRE repr round-trips too.
#include "fuzz_support.hpp"

#include "nvgre/vsid.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/gre.hpp"
#include "nvgre/wire/nvgre.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

using namespace nvgre;

namespace {

/// Emits `r` followed by `payload` into an exact-size buffer, with the checksum filled.
std::vector<std::byte> build(const wire::gre_repr& r, std::span<const std::byte> payload) {
    std::vector<std::byte> out(r.buffer_len() + payload.size(), std::byte{0xa5});
    r.emit(out);
    std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(r.header_len()));
    r.fill_checksum(out);
    return out;
}

void gre_round_trip(std::span<const std::byte> bytes) {
    auto v = wire::gre_view::checked(bytes);
    if (!v) {
        const error& e = v.error();
        NVGRE_FUZZ_CHECK(e.where == layer::gre);
        NVGRE_FUZZ_CHECK(e.offset <= bytes.size());
        NVGRE_FUZZ_CHECK(e.code == errc::truncated || e.code == errc::bad_version || e.code == errc::gre_routing ||
                         e.code == errc::bad_gre_flags);
        return;
    }
    NVGRE_FUZZ_CHECK(v->header_len() >= wire::gre_base_header_len && v->header_len() <= wire::gre_max_header_len);
    NVGRE_FUZZ_CHECK(v->header_len() <= bytes.size());
    NVGRE_FUZZ_CHECK(v->version() == 0);
    NVGRE_FUZZ_CHECK((v->flags_word() & wire::gre_flags::reject_mask) == 0);
    NVGRE_FUZZ_CHECK(v->payload().size() == bytes.size() - v->header_len());
    // Every accessor of a checked view stays in bounds (ASan would say otherwise).
    if (v->checksum_present()) {
        static_cast<void>(v->checksum());
        static_cast<void>(v->reserved1());
        static_cast<void>(v->checksum_ok());
        static_cast<void>(v->computed_checksum());
    }
    if (v->key_present()) static_cast<void>(v->key());
    if (v->sequence_present()) static_cast<void>(v->sequence_number());

    const auto r = wire::gre_repr::parse(*v);
    NVGRE_FUZZ_CHECK(r.header_len() == v->header_len());
    const auto once = build(r, v->payload());
    auto v2 = wire::gre_view::checked(std::span<const std::byte>(once));
    NVGRE_FUZZ_CHECK(v2.has_value());
    NVGRE_FUZZ_CHECK(wire::gre_repr::parse(*v2) == r);
    NVGRE_FUZZ_CHECK(v2->header_len() == v->header_len());
    NVGRE_FUZZ_CHECK(std::equal(v2->payload().begin(), v2->payload().end(), v->payload().begin(), v->payload().end()));
    NVGRE_FUZZ_CHECK(v2->checksum_ok());
    // Stable: what was emitted emits again byte for byte.
    NVGRE_FUZZ_CHECK(build(wire::gre_repr::parse(*v2), v2->payload()) == once);
    // A header without ignored reserved bits, whose checksum is the one emit computes (of the
    // two that verify when the data sums to 0xffff, +0 and -0, emit writes +0), comes back as it came.
    if ((v->flags_word() & wire::gre_flags::reserved_ignored) == 0 &&
        (!v->checksum_present() || (v->checksum() == v->computed_checksum() && v->reserved1() == 0)))
        NVGRE_FUZZ_CHECK(std::equal(once.begin(), once.end(), bytes.begin(), bytes.end()));
}

void nvgre_agreement(std::span<const std::byte> bytes) {
    auto nv = wire::nvgre_view::checked(bytes);
    auto g = wire::gre_view::checked(bytes);
    const bool gre_says_nvgre = g.has_value() && g->key_present() && !g->checksum_present() && !g->sequence_present() &&
                                g->protocol_type() == wire::ethertype::transparent_ethernet_bridging &&
                                vsid::is_tenant(*g->key() >> 8);
    NVGRE_FUZZ_CHECK(nv.has_value() == gre_says_nvgre);
    if (!nv) {
        const error& e = nv.error();
        NVGRE_FUZZ_CHECK(e.where == layer::gre || e.where == layer::nvgre);
        NVGRE_FUZZ_CHECK(e.offset <= bytes.size());
        if (g.has_value()) NVGRE_FUZZ_CHECK(e.where == layer::nvgre);
        return;
    }
    NVGRE_FUZZ_CHECK(nv->key() == g->key());
    NVGRE_FUZZ_CHECK(nv->vsid().value() == nv->vsid_bits());
    NVGRE_FUZZ_CHECK(nv->payload().size() == bytes.size() - wire::nvgre_header_len);
    const auto r = wire::nvgre_repr::parse(*nv);
    NVGRE_FUZZ_CHECK(r.key() == nv->key());
    NVGRE_FUZZ_CHECK(r.to_gre() == wire::gre_repr::parse(*g));
    std::vector<std::byte> out(wire::nvgre_header_len + nv->payload().size());
    r.emit(out);
    std::copy(nv->payload().begin(), nv->payload().end(), out.begin() + wire::nvgre_header_len);
    auto nv2 = wire::nvgre_view::checked(std::span<const std::byte>(out));
    NVGRE_FUZZ_CHECK(nv2.has_value() && wire::nvgre_repr::parse(*nv2) == r);
    NVGRE_FUZZ_CHECK(nv2->flags_word() == wire::gre_flags::key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto packet = fuzz::bytes_of(data, size);
    gre_round_trip(packet);
    nvgre_agreement(packet);
    return 0;
}
