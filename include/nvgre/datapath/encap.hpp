/// @file datapath/encap.hpp
/// @brief NVGRE encapsulation through per-destination header templates, and decapsulation
/// (RFC 7637; docs/hnv-rules.md, wire rules 2, 4, 7-10; ECN by RFC 6040 normal mode).
///
/// Encap: the control plane builds one `encap_template` per (outer path, VSID) — outer
/// Ethernet (+ 802.1Q tag), IPv4 or IPv6, NVGRE — once; the data plane applies it per packet:
/// one fixed-size copy of the 42/46/62/66 header bytes into the frame's headroom, then a few
/// stores (length, TOS/traffic class, FlowID, IPv6 flow label) and, for IPv4, the header
/// checksum by RFC 1624 from the template's base sum. No payload byte moves, nothing allocates.
///
/// Decap: `decapsulate` validates the frame by every wire rule (wire::parse_packet_layout),
/// applies RFC 6040 to the inner ECN field, and moves the frame's start to the inner Ethernet
/// header. encap then decap gives back the inner frame byte for byte, except RFC 6040 marks.
#pragma once

#include "nvgre/checksum/incremental.hpp"
#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/datapath/flow_hash.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/detail/assert.hpp"
#include "nvgre/detail/bytes.hpp"
#include "nvgre/error.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/packet/outer_header.hpp"
#include "nvgre/vsid.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/nvgre.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>

namespace nvgre::datapath {

/// Outer header bytes: Ethernet 14 + IPv4 20 + NVGRE 8 (wire rule 7: the inner IP MTU is the
/// underlay MTU - 42).
inline constexpr std::size_t encap_header_len_ipv4 = packet::outer_header_len_ipv4;
/// Ethernet 14 + IPv6 40 + NVGRE 8 (inner IP MTU = underlay MTU - 62).
inline constexpr std::size_t encap_header_len_ipv6 = 62;
/// The largest outer header set: IPv6 with an 802.1Q tag.
inline constexpr std::size_t encap_max_header_len = encap_header_len_ipv6 + wire::vlan_tag_len;
/// The largest inner frame each outer version can carry (its 16-bit length field).
inline constexpr std::size_t max_inner_frame_len_ipv4 = 65535 - 20 - wire::nvgre_header_len;
inline constexpr std::size_t max_inner_frame_len_ipv6 = 65535 - wire::nvgre_header_len;

/// What an encap template is made from (docs/hnv-rules.md, wire rules 8 and 10). There is no default
/// VSID: one must be chosen, e.g. with designated initializers.
struct encap_params {
    mac_address outer_source_mac{};       ///< the host's provider-address MAC
    mac_address outer_destination_mac{};  ///< the destination PA's MAC (on-link) or the next hop's
    std::uint16_t vlan{0};                ///< the PA's VLAN, 1-4094; 0 = untagged
    ip_address outer_source{};            ///< source PA
    ip_address outer_destination{};       ///< destination PA, same version as outer_source
    nvgre::vsid vsid = *nvgre::vsid::make(nvgre::vsid::min_tenant);  ///< the (destination) virtual subnet
    std::uint8_t ttl{64};                 ///< outer TTL / hop limit, 1-255
    /// Leave the outer IPv4 header checksum 0 for the NIC (recorded in frame::offload).
    bool outer_ipv4_checksum_by_hardware{false};
};

}  // namespace nvgre::datapath

namespace nvgre::detail {

/// The IPv6 flow label (RFC 6438 section 3) from a 32-bit flow hash: its low 20 bits; 0 only
/// for hash 0 (nothing hashed: the packet stays unlabelled, RFC 6437), otherwise 0 becomes 1.
constexpr std::uint32_t flow_label_from_hash(std::uint32_t hash) noexcept {
    const std::uint32_t label = hash & 0xfffffu;
    return label != 0 || hash == 0 ? label : 1u;
}
/// The flow label when only the 8-bit FlowID is known: the FlowID repeated in bits 4-11 and
/// 12-19 (0x01010 * FlowID, at most 0xffff0), so ECMP on the label sees the same 255-way
/// entropy as ECMP on the GRE key; FlowID 0 gives the unlabelled 0.
constexpr std::uint32_t flow_label_from_flow_id(nvgre::flow_id flow) noexcept {
    return std::uint32_t{flow.value} * 0x01010u;
}

}  // namespace nvgre::detail

namespace nvgre::datapath {

/// The outer path of encap parameters: what packet::compiled_header::compile takes.
[[nodiscard]] inline packet::outer_path outer_path_of(const encap_params& p) noexcept {
    return packet::outer_path{p.outer_source_mac, p.outer_destination_mac, p.vlan, p.outer_source, p.outer_destination};
}

/// A compiled path (packet::compiled_header, e.g. a snapshot's state::compiled_path) with what
/// a pipeline adds to it per frame: the VSID, the outer TTL / hop limit, whether the outer IPv4
/// checksum is left to the NIC.
struct compiled_encap {
    const packet::compiled_header* header{nullptr};  ///< never null when used
    nvgre::vsid vsid = *nvgre::vsid::make(nvgre::vsid::min_tenant);
    std::uint8_t ttl{64};                            ///< 1-255
    bool outer_ipv4_checksum_by_hardware{false};
    /// The outer DSCP a port classification sets (0-63), or copy_outer_dscp: the inner
    /// packet's DSCP is copied (wire rule 8).
    std::uint8_t outer_dscp{0xff};
};
/// compiled_encap::outer_dscp when the inner DSCP is copied.
inline constexpr std::uint8_t copy_outer_dscp = 0xff;

/// Sets the DSCP of the outer IP header of frame `f`, just encapsulated (its offload metadata
/// say where the outer IP header is), to `dscp` (0-63), keeping the ECN bits; an IPv4 header
/// checksum is patched (RFC 1624) unless the NIC computes it. For a port classification's
/// outer DSCP; the encapsulation itself copies the inner one.
inline void set_outer_dscp(frame& f, std::uint8_t dscp) noexcept {
    std::byte* ip = f.bytes().data() + f.offload.outer_l2_len;
    if ((std::to_integer<std::uint8_t>(ip[0]) >> 4) == 6) {
        const std::uint32_t first = nvgre::detail::load_be32(ip);
        nvgre::detail::store_be32(ip, (first & ~(0x3fu << 22)) | std::uint32_t{dscp} << 22);
        return;
    }
    const std::uint16_t old_word = nvgre::detail::load_be16(ip);  // version/IHL and TOS
    const auto tos = static_cast<std::uint8_t>(dscp << 2 | (old_word & 3u));
    const auto new_word = static_cast<std::uint16_t>((old_word & 0xff00u) | tos);
    nvgre::detail::store_u8(ip + wire::ipv4_field::tos, tos);
    if (!f.offload.outer_ipv4_checksum_by_hardware) {
        const std::uint16_t sum = nvgre::detail::load_be16(ip + wire::ipv4_field::checksum);
        nvgre::detail::store_be16(ip + wire::ipv4_field::checksum, checksum::update16(sum, old_word, new_word));
    }
}

/// A precomputed outer header set for one destination (outer path + VSID), applied per packet.
/// Cheap to copy (about 128 bytes, one or two cache lines); immutable but for set_vsid().
///
/// Per packet, apply() writes: outer IPv4 total length / IPv6 payload length; the whole inner
/// TOS / traffic class (DSCP copied, wire rule 8; ECN copied, RFC 6040 section 4.1 normal
/// mode; 0 for non-IP inner frames); the IPv4 header checksum (RFC 1624 eqn. 3 from the
/// template's base sum, or 0 when left to hardware); the FlowID byte of the GRE key; the IPv6
/// flow label. Fixed per template: MACs, VLAN tag (PCP 0), DF set and identification 0 on IPv4
/// (atomic datagrams, RFC 6864 section 4.1), TTL / hop limit, protocol 47, addresses, VSID.
class encap_template {
public:
    /// Builds the template. Errors (errc::bad_value): outer addresses of different versions
    /// (layer::none, offset 0); vlan > 4094 (layer::vlan, offset 14: the TCI); ttl 0 (layer::ipv4
    /// or ipv6, offset 8 / 7). Control plane; O(1).
    static result<encap_template> make(const encap_params& p) noexcept {
        auto compiled = packet::compiled_header::compile(outer_path_of(p));
        if (!compiled) return compiled.error();
        if (p.ttl == 0) return ttl_error(compiled->is_ipv6());
        return from(*compiled, p.vsid, p.ttl, p.outer_ipv4_checksum_by_hardware);
    }
    /// from(*c.header, c.vsid, c.ttl, c.outer_ipv4_checksum_by_hardware).
    static encap_template from(const compiled_encap& c) noexcept {
        return from(*c.header, c.vsid, c.ttl, c.outer_ipv4_checksum_by_hardware);
    }
    /// The template of compiled header `h` (packet/outer_header.hpp) for VSID `v`, outer TTL /
    /// hop limit `ttl` (precondition: not 0) and the IPv4 checksum left to the NIC or not. O(1).
    static encap_template from(const packet::compiled_header& h, nvgre::vsid v, std::uint8_t ttl,
                               bool outer_ipv4_checksum_by_hardware) noexcept {
        NVGRE_ASSERT(ttl != 0);
        encap_template t;
        t.shape_ = static_cast<shape>((h.is_ipv6() ? 2 : 0) | (h.is_tagged() ? 1 : 0));
        t.header_len_ = static_cast<std::uint8_t>(h.size());
        std::memcpy(t.bytes_.data(), h.bytes().data(), h.size());
        patch_path(t.bytes_.data(), h.size(), h.ip_offset(), h.is_ipv6(), v, ttl);
        t.base_sum_ = checksum::fold(base_with_ttl(h.base_sum(), h.is_ipv6(), ttl));
        t.checksum_mask_ = outer_ipv4_checksum_by_hardware ? 0 : 0xffff;
        t.by_hardware_ = !h.is_ipv6() && outer_ipv4_checksum_by_hardware;
        return t;
    }

    /// Outer header bytes: 42 (IPv4), 46 (IPv4 + tag), 62 (IPv6), 66 (IPv6 + tag).
    [[nodiscard]] std::size_t header_len() const noexcept { return header_len_; }
    [[nodiscard]] bool is_ipv6() const noexcept { return (static_cast<unsigned>(shape_) & 2u) != 0; }
    [[nodiscard]] bool is_tagged() const noexcept { return (static_cast<unsigned>(shape_) & 1u) != 0; }
    /// The VSID the template writes.
    [[nodiscard]] nvgre::vsid vsid() const noexcept {
        return nvgre::vsid::make(nvgre::detail::load_be24(bytes_.data() + header_len_ - 4)).value();
    }
    /// The template bytes as stored: length, TOS/traffic class, IPv4 checksum, FlowID and flow
    /// label zero (apply() patches them).
    [[nodiscard]] std::span<const std::byte> header() const noexcept {
        return std::span<const std::byte>(bytes_.data(), header_len_);
    }

    /// Prepends the outer headers to `f`, whose bytes are a whole inner Ethernet frame, with
    /// FlowID `flow` (the IPv6 flow label is derived from it: nvgre::detail::flow_label_from_flow_id).
    /// Zero copy: the headers go into the headroom. On success `f` starts at the outer Ethernet
    /// header and f.offload holds: encapsulated, outer_l2_len 14/18, outer_l3_len 20/40,
    /// inner_l2_offset = header_len(), inner_l3_offset / inner_l4_offset of the inner IP and
    /// TCP/UDP headers (0 if none), a pending checksum_start moved by header_len(), and
    /// outer_ipv4_checksum_by_hardware. Errors, `f` unchanged:
    /// - errc::truncated (layer::inner_ethernet, offset 0, needed 14): inner frame < 14 bytes;
    /// - errc::bad_length (layer::ipv4 offset 2 / layer::ipv6 offset 4): the inner frame is
    ///   longer than the outer length field can carry (max_inner_frame_len_ipv4/ipv6);
    /// - errc::inner_vlan (layer::inner_vlan, offset 12): the inner frame is VLAN-tagged (wire
    ///   rule 5: strip the tag first);
    /// - errc::no_headroom (layer::none, offset 0, needed header_len()).
    /// O(1): one header_len()-byte copy and a few stores; noexcept, no allocation.
    result<void> apply(frame& f, nvgre::flow_id flow) const noexcept {
        nvgre::detail::inner_dissection d;
        nvgre::detail::dissect_inner<false>(f.bytes(), 0, d);
        if (!try_apply<false>(f, d, flow.value)) [[unlikely]]
            return why_not(f, d);
        return {};
    }
    /// As apply(f, flow) with flow = flow_id_of(inner frame) and the IPv6 flow label from the
    /// 32-bit flow hash (RFC 6438): the inner frame is parsed once for both and for the TOS.
    result<void> apply(frame& f) const noexcept {
        nvgre::detail::inner_dissection d;
        nvgre::detail::dissect_inner(f.bytes(), default_flow_hash_seed, d);
        if (!try_apply<true>(f, d, 0)) [[unlikely]]
            return why_not(f, d);
        return {};
    }

    /// Same outer path, another virtual subnet (the distributed router sends to the
    /// destination's VSID). O(1); the IPv4 checksum does not cover the key.
    void set_vsid(nvgre::vsid v) noexcept { nvgre::detail::store_be24(bytes_.data() + header_len_ - 4, v.value()); }

private:
    enum class shape : std::uint8_t { ipv4 = 0, ipv4_tagged = 1, ipv6 = 2, ipv6_tagged = 3 };

    encap_template() noexcept = default;

    [[nodiscard]] std::size_t max_inner_len() const noexcept {
        return is_ipv6() ? max_inner_frame_len_ipv6 : max_inner_frame_len_ipv4;
    }

    // The hot path answers only yes or no (false: `f` untouched); why_not() finds the reason
    // on the cold path. Building a result<void> with error fields on every path made GCC
    // assemble it through the stack with mismatched store/load widths: store-forwarding stalls
    // that cost more than the encapsulation itself.
    // FromHash: the FlowID and flow label come from d.hash (else `flow`, and the label from it),
    // derived inside write() so that each shape computes only what it stores.
    template <bool FromHash>
    bool try_apply(frame& f, const nvgre::detail::inner_dissection& d, std::uint8_t flow) const noexcept {
        // One compare for both bounds: n - 14 wraps for n < 14.
        if (f.total_size() - wire::ethernet_header_len > max_inner_len() - wire::ethernet_header_len || d.tagged ||
            f.headroom() < header_len_) [[unlikely]]
            return false;
        switch (shape_) {
            case shape::ipv4: write<false, false, FromHash>(f, d, flow); break;
            case shape::ipv4_tagged: write<false, true, FromHash>(f, d, flow); break;
            case shape::ipv6: write<true, false, FromHash>(f, d, flow); break;
            case shape::ipv6_tagged: write<true, true, FromHash>(f, d, flow); break;
        }
        return true;
    }

    [[gnu::cold, gnu::noinline]] result<void> why_not(const frame& f, const nvgre::detail::inner_dissection& d) const noexcept {
        return refusal(f, d, is_ipv6(), header_len_);
    }
    [[gnu::cold, gnu::noinline]] static error refusal(const frame& f, const nvgre::detail::inner_dissection& d, bool v6,
                                                      std::size_t header_len) noexcept {
        if (f.total_size() < wire::ethernet_header_len)
            return make_error(errc::truncated, layer::inner_ethernet, 0, wire::ethernet_header_len);
        if (f.total_size() > (v6 ? max_inner_frame_len_ipv6 : max_inner_frame_len_ipv4))
            return v6 ? make_error(errc::bad_length, layer::ipv6, 4) : make_error(errc::bad_length, layer::ipv4, 2);
        if (d.tagged) return make_error(errc::inner_vlan, layer::inner_vlan, 12);
        return make_error(errc::no_headroom, layer::none, 0, static_cast<std::uint32_t>(header_len));
    }

    /// Precondition: f.headroom() >= the header length of this shape.
    template <bool V6, bool Tagged, bool FromHash>
    void write(frame& f, const nvgre::detail::inner_dissection& d, std::uint8_t given_flow) const noexcept {
        constexpr std::size_t ip = wire::ethernet_header_len + (Tagged ? wire::vlan_tag_len : 0);
        constexpr std::size_t l3_len = V6 ? wire::ipv6_header_len : wire::ipv4_min_header_len;
        constexpr std::size_t hl = ip + l3_len + wire::nvgre_header_len;
        const std::size_t n = f.total_size();  // the chain too
        std::byte* p = f.bytes().data() - hl;
        (void)f.push_front(hl);  // cannot fail: try_apply checked the headroom
        std::memcpy(p, bytes_.data(), hl);
        finish_header<V6, Tagged, FromHash>(f, p, n, d, given_flow, base_sum_, checksum_mask_, by_hardware_);
    }

    /// The per-packet part of the header at `p` (the frame already moved back over it; `n` =
    /// the inner frame's length): lengths, TOS / traffic class, IPv4 checksum from `base_sum`
    /// (the folded sum of the IPv4 header with those fields zero), FlowID, IPv6 flow label,
    /// then the offload metadata.
    template <bool V6, bool Tagged, bool FromHash>
    static void finish_header(frame& f, std::byte* p, std::size_t n, const nvgre::detail::inner_dissection& d,
                              std::uint8_t given_flow, std::uint32_t base_sum, std::uint16_t checksum_mask,
                              bool by_hardware) noexcept {
        constexpr std::size_t ip = wire::ethernet_header_len + (Tagged ? wire::vlan_tag_len : 0);
        constexpr std::size_t l3_len = V6 ? wire::ipv6_header_len : wire::ipv4_min_header_len;
        constexpr std::size_t hl = ip + l3_len + wire::nvgre_header_len;
        const std::uint8_t flow = FromHash ? nvgre::detail::flow_id_from_hash(d.hash) : given_flow;
        if constexpr (V6) {
            const std::uint32_t label = FromHash ? nvgre::detail::flow_label_from_hash(d.hash)
                                                 : nvgre::detail::flow_label_from_flow_id(nvgre::flow_id{given_flow});
            // Version 6 | traffic class copied | flow label; payload length.
            nvgre::detail::store_be32(p + ip, 0x60000000u | std::uint32_t{d.tos} << 20 | label);
            nvgre::detail::store_be16(p + ip + wire::ipv6_field::payload_len,
                                      static_cast<std::uint16_t>(n + wire::nvgre_header_len));
        } else {
            const auto total = static_cast<std::uint16_t>(n + wire::ipv4_min_header_len + wire::nvgre_header_len);
            nvgre::detail::store_u8(p + ip + wire::ipv4_field::tos, d.tos);
            nvgre::detail::store_be16(p + ip + wire::ipv4_field::total_len, total);
            // RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), with HC the template's checksum
            // (~base_sum_) and m the zero TOS and length words: ~m = 0xffff is -0 and drops out
            // (the header never sums to zero, so the two zeros cannot matter).
            const std::uint32_t s = base_sum + d.tos + total;
            nvgre::detail::store_be16(p + ip + wire::ipv4_field::checksum,
                                      static_cast<std::uint16_t>(checksum::finish(s) & checksum_mask));
        }
        nvgre::detail::store_u8(p + hl - 1, flow);

        offload_info& o = f.offload;
        o.encapsulated = true;
        o.outer_l2_len = static_cast<std::uint16_t>(ip);
        o.outer_l3_len = static_cast<std::uint16_t>(l3_len);
        o.inner_l2_offset = static_cast<std::uint16_t>(hl);
        o.inner_l3_offset = static_cast<std::uint16_t>(d.l3_offset != 0 ? d.l3_offset + hl : 0);
        o.inner_l4_offset = static_cast<std::uint16_t>(d.l4_offset != 0 ? d.l4_offset + hl : 0);
        o.outer_ipv4_checksum_by_hardware = !V6 && by_hardware;
        if (o.checksum_partial) o.checksum_start = static_cast<std::uint16_t>(o.checksum_start + hl);
    }

    static error ttl_error(bool v6) noexcept {
        return make_error(errc::bad_value, v6 ? layer::ipv6 : layer::ipv4, v6 ? wire::ipv6_field::hop_limit : wire::ipv4_field::ttl);
    }
    /// Writes what a compiled header (`len` bytes, outer IP at `ip`) leaves to the packet but a
    /// template fixes: the VSID and the TTL / hop limit, into the header at `p`. (Called with
    /// constants per shape on the per-packet path.)
    static void patch_path(std::byte* p, std::size_t len, std::size_t ip, bool v6, nvgre::vsid v, std::uint8_t ttl) noexcept {
        nvgre::detail::store_be24(p + len - 4, v.value());
        nvgre::detail::store_u8(p + ip + (v6 ? wire::ipv6_field::hop_limit : wire::ipv4_field::ttl), ttl);
    }
    /// A compiled IPv4 base sum with the TTL word added (unfolded; IPv6: 0).
    static std::uint32_t base_with_ttl(std::uint16_t base_sum, bool v6, std::uint8_t ttl) noexcept {
        return v6 ? 0u : std::uint32_t{base_sum} + (std::uint32_t{ttl} << 8);
    }

    /// encapsulate(f, h, vsid, ttl, hw): from(h, ...) then apply(f) in one pass, the compiled
    /// header copied straight into the frame and patched (no template in between). Same
    /// results, same errors, same order of checks (a TTL of 0 is make()'s error).
    static bool encapsulate_compiled(frame& f, const packet::compiled_header& h, nvgre::vsid v, std::uint8_t ttl,
                                     bool by_hardware, error& e) noexcept {
        if (ttl == 0) [[unlikely]] {
            e = ttl_error(h.is_ipv6());
            return false;
        }
        nvgre::detail::inner_dissection d;
        nvgre::detail::dissect_inner(f.bytes(), default_flow_hash_seed, d);
        const bool v6 = h.is_ipv6();
        const std::size_t hl = h.size();
        const std::size_t max_inner = v6 ? max_inner_frame_len_ipv6 : max_inner_frame_len_ipv4;
        if (f.total_size() - wire::ethernet_header_len > max_inner - wire::ethernet_header_len || d.tagged || f.headroom() < hl)
            [[unlikely]] {
            e = refusal(f, d, v6, hl);
            return false;
        }
        const bool tagged = h.is_tagged();
        if (v6) tagged ? write_compiled<true, true>(f, h, d, v, ttl, by_hardware) : write_compiled<true, false>(f, h, d, v, ttl, by_hardware);
        else tagged ? write_compiled<false, true>(f, h, d, v, ttl, by_hardware) : write_compiled<false, false>(f, h, d, v, ttl, by_hardware);
        return true;
    }

    /// Copies compiled header `h` in front of `f`, patches the VSID and TTL, and finishes it as
    /// apply() does. Preconditions: as write().
    template <bool V6, bool Tagged>
    static void write_compiled(frame& f, const packet::compiled_header& h, const nvgre::detail::inner_dissection& d,
                               nvgre::vsid v, std::uint8_t ttl, bool by_hardware) noexcept {
        constexpr std::size_t ip = wire::ethernet_header_len + (Tagged ? wire::vlan_tag_len : 0);
        constexpr std::size_t l3_len = V6 ? wire::ipv6_header_len : wire::ipv4_min_header_len;
        constexpr std::size_t hl = ip + l3_len + wire::nvgre_header_len;
        const std::size_t n = f.total_size();  // the chain too
        std::byte* p = f.bytes().data() - hl;
        (void)f.push_front(hl);  // cannot fail: the caller checked the headroom
        std::memcpy(p, h.bytes().data(), hl);
        patch_path(p, hl, ip, V6, v, ttl);
        finish_header<V6, Tagged, true>(f, p, n, d, 0, base_with_ttl(h.base_sum(), V6, ttl), by_hardware ? 0 : 0xffff,
                                        by_hardware);
    }

    friend result<void> encapsulate(frame& f, const packet::compiled_header& h, nvgre::vsid v, std::uint8_t ttl,
                                    bool outer_ipv4_checksum_by_hardware) noexcept;
    friend result<void> encapsulate(frame& f, const encap_params& p) noexcept;

    alignas(64) std::array<std::byte, encap_max_header_len> bytes_{};
    std::uint16_t base_sum_{0};          ///< IPv4: folded sum of the header with TOS, length, checksum 0
    std::uint16_t checksum_mask_{0xffff};  ///< 0 when the checksum is left to hardware
    shape shape_{shape::ipv4};
    std::uint8_t header_len_{encap_header_len_ipv4};
    bool by_hardware_{false};
};

/// One-off encapsulation: the result of make(p) then apply(f) (the FlowID from the inner
/// flow): the header compiled on the stack, then copied straight into the frame (no template
/// is built). Errors of both, in that order. O(1), no allocation.
inline result<void> encapsulate(frame& f, const encap_params& p) noexcept {
    const auto compiled = packet::compiled_header::compile(outer_path_of(p));
    if (!compiled) return compiled.error();
    error e;
    if (!encap_template::encapsulate_compiled(f, *compiled, p.vsid, p.ttl, p.outer_ipv4_checksum_by_hardware, e)) [[unlikely]]
        return e;
    return {};
}

/// Encapsulation along a path compiled beforehand (packet::compiled_header, e.g. a policy
/// snapshot's state::compiled_path): the header copied into the headroom and patched with VSID
/// `v`, TTL / hop limit `ttl` (precondition: not 0), lengths, TOS, FlowID and flow label from
/// the inner flow, the IPv4 checksum (or 0 for the NIC). The result of encap_template::from(h,
/// v, ttl, hw).apply(f), without building the template; errc::bad_value for a TTL of 0, as
/// make() gives. O(1), no allocation.
inline result<void> encapsulate(frame& f, const packet::compiled_header& h, nvgre::vsid v, std::uint8_t ttl,
                                bool outer_ipv4_checksum_by_hardware = false) noexcept {
    error e;
    if (!encap_template::encapsulate_compiled(f, h, v, ttl, outer_ipv4_checksum_by_hardware, e)) [[unlikely]]
        return e;
    return {};
}
/// encapsulate(f, *c.header, c.vsid, c.ttl, c.outer_ipv4_checksum_by_hardware).
/// (c.outer_dscp is the caller's to apply: set_outer_dscp, as the pipelines do.)
inline result<void> encapsulate(frame& f, const compiled_encap& c) noexcept {
    return encapsulate(f, *c.header, c.vsid, c.ttl, c.outer_ipv4_checksum_by_hardware);
}

/// What decapsulate() read from the outer headers.
struct decap_info {
    /// A tenant VSID (wire rule 3). The default (4096) only stands in until decapsulate() fills it.
    nvgre::vsid vsid{nvgre::vsid::make(nvgre::vsid::min_tenant).value()};
    nvgre::flow_id flow_id{};
    ip_address outer_source{};
    ip_address outer_destination{};
    mac_address outer_source_mac{};
    mac_address outer_destination_mac{};
    std::uint16_t outer_vlan{0};  ///< VID of the outer 802.1Q tag, 0 when untagged
    /// The whole frame's layout; its offsets are relative to the frame *before* decapsulation
    /// (subtract layout.inner_l2_offset for the decapsulated frame).
    wire::packet_layout layout{};
};

/// RFC 6040 section 4.2 (normal mode) decapsulation, Figure 4: the ECN codepoint to forward for
/// `inner` arriving in an outer header with `outer` (2-bit codepoints: Not-ECT 0, ECT(1) 1,
/// ECT(0) 2, CE 3), or nullopt to drop (outer CE on a Not-ECT inner packet). The rows marked
/// "(!!!)" in the RFC (outer ECT/CE that the inner packet cannot justify) forward the inner
/// value unchanged except the drop. O(1).
[[nodiscard]] constexpr std::optional<std::uint8_t> rfc6040_decap_ecn(std::uint8_t inner, std::uint8_t outer) noexcept {
    constexpr std::uint8_t not_ect = 0, ect1 = 1, ect0 = 2, ce = 3;
    inner &= 3u;
    outer &= 3u;
    if (outer == ce) {
        if (inner == not_ect) return std::nullopt;
        return ce;
    }
    if (outer == ect1 && inner == ect0) return ect1;
    return inner;
}

}  // namespace nvgre::datapath

namespace nvgre::detail {

/// Why decapsulate() refuses a frame that parse_packet_layout() classified `other` (not GRE):
/// errc::bad_protocol at the field that said so. Cold path.
[[gnu::cold, gnu::noinline]] inline error decap_refusal(const wire::packet_layout& l, std::span<const std::byte> b) noexcept {
    if (l.outer_l3 == wire::l3_kind::ipv4)
        return make_error(errc::bad_protocol, layer::ipv4, l.outer_l3_offset + wire::ipv4_field::protocol);
    if (l.outer_l3 == wire::l3_kind::ipv6) {
        // The Next Header byte that named the upper protocol: the fixed header's, or the
        // last extension header's. The layout walked the chain already (so every read here is
        // in bounds and every step is >= 8 bytes); walking it again is a cold path.
        std::size_t at = l.outer_l3_offset + wire::ipv6_field::next_header;
        std::uint8_t type = nvgre::detail::load_u8(b.data() + at);
        std::size_t off = l.outer_l3_offset + wire::ipv6_header_len;
        const std::size_t upper = l.outer_l3_offset + l.outer_l3_header_len;
        while (off < upper) {
            const std::size_t units = nvgre::detail::load_u8(b.data() + off + wire::ipv6_extension_field::length);
            const std::size_t len = type == wire::ip_protocol::ipv6_fragment ? wire::ipv6_fragment_header_len
                                    : type == wire::ip_protocol::ah          ? (units + 2) * 4
                                                                             : (units + 1) * 8;
            at = off;
            type = nvgre::detail::load_u8(b.data() + off + wire::ipv6_extension_field::next_header);
            off += len;
        }
        const bool fixed_header = at == l.outer_l3_offset + wire::ipv6_field::next_header;
        return make_error(errc::bad_protocol, fixed_header ? layer::ipv6 : layer::ipv6_extension, at);
    }
    return make_error(errc::bad_protocol, layer::ethernet, l.outer_l2_len - 2);
}

/// Decapsulation given `l`, the layout of `f.bytes()`, without a decap_info (the ingress
/// pipeline reads what it needs from the layout): RFC 6040, the frame moved to the inner
/// frame, offload metadata. False with `e` set on failure, `f` then unchanged.
inline bool decap_frame(datapath::frame& f, const wire::packet_layout& l, error& e) noexcept {
    const std::span<std::byte> b = f.bytes();
    if (l.kind != wire::frame_kind::nvgre) [[unlikely]] {
        e = l.kind == wire::frame_kind::error ? l.error : decap_refusal(l, b);
        return false;
    }

    std::byte* const p = b.data();
    const std::size_t ol3 = l.outer_l3_offset;
    const std::uint8_t outer_ecn = l.outer_l3 == wire::l3_kind::ipv4
                                       ? static_cast<std::uint8_t>(nvgre::detail::load_u8(p + ol3 + wire::ipv4_field::tos) & 3u)
                                       : static_cast<std::uint8_t>((nvgre::detail::load_be16(p + ol3) >> 4) & 3u);
    const std::size_t il3 = l.inner_l3_offset;
    if (l.inner_l3 == wire::l3_kind::ipv4) {
        const std::uint16_t word0 = nvgre::detail::load_be16(p + il3);
        const auto ecn = datapath::rfc6040_decap_ecn(static_cast<std::uint8_t>(word0 & 3u), outer_ecn);
        if (!ecn) [[unlikely]] {
            e = make_error(errc::ecn_drop, layer::inner_ipv4, il3 + wire::ipv4_field::tos);
            return false;
        }
        const auto new_word0 = static_cast<std::uint16_t>((word0 & 0xfffcu) | *ecn);
        if (new_word0 != word0) {
            nvgre::detail::store_be16(p + il3, new_word0);
            std::byte* const sum = p + il3 + wire::ipv4_field::checksum;
            nvgre::detail::store_be16(sum, checksum::update16(nvgre::detail::load_be16(sum), word0, new_word0));
        }
    } else if (l.inner_l3 == wire::l3_kind::ipv6) {
        const std::uint16_t word0 = nvgre::detail::load_be16(p + il3);
        const auto ecn = datapath::rfc6040_decap_ecn(static_cast<std::uint8_t>((word0 >> 4) & 3u), outer_ecn);
        if (!ecn) [[unlikely]] {
            e = make_error(errc::ecn_drop, layer::inner_ipv6, il3);
            return false;
        }
        nvgre::detail::store_be16(p + il3, static_cast<std::uint16_t>((word0 & 0xffcfu) | (std::uint16_t{*ecn} << 4)));
    }

    const std::size_t inner = l.inner_l2_offset;
    // Cannot fail: the layout checked both against the frame (and its chain: the padding after
    // the outer packet, wherever it lies, is cut off).
    if (!f.pull_front(inner).has_value() || !f.set_total_size(l.outer_l3_end - inner).has_value()) [[unlikely]] {
        e = make_error(errc::truncated, layer::none, 0);
        return false;
    }
    datapath::offload_info& o = f.offload;
    o.encapsulated = false;
    o.outer_l2_len = 0;
    o.outer_l3_len = 0;
    o.inner_l2_offset = 0;
    o.inner_l3_offset = static_cast<std::uint16_t>(
        l.inner_l3 == wire::l3_kind::ipv4 || l.inner_l3 == wire::l3_kind::ipv6 ? il3 - inner : 0);
    o.inner_l4_offset = static_cast<std::uint16_t>(
        l.inner_l4_offset != wire::no_offset && (l.inner_protocol == wire::ip_protocol::tcp || l.inner_protocol == wire::ip_protocol::udp)
            ? l.inner_l4_offset - inner
            : 0);
    o.outer_ipv4_checksum_by_hardware = false;
    if (o.checksum_partial && o.checksum_start >= inner) o.checksum_start = static_cast<std::uint16_t>(o.checksum_start - inner);
    return true;
}

/// decap_frame, then every field of `info` but its layout, read from the outer headers (still
/// in the buffer, in front of the frame). False with `e` set on failure, `f` and `info` then
/// unchanged.
inline bool decap_with_layout(datapath::frame& f, const wire::packet_layout& l, datapath::decap_info& info,
                              error& e) noexcept {
    const std::span<std::byte> b = f.bytes();
    if (!decap_frame(f, l, e)) [[unlikely]]
        return false;
    const std::size_t ol3 = l.outer_l3_offset;
    info.vsid = nvgre::vsid::make(l.vsid_bits()).value();
    info.flow_id = nvgre::flow_id{l.flow_id_bits()};
    info.outer_vlan = l.outer_vlan_id;
    // Constructed in place, not assigned: the same store-forwarding reason as the layout.
    if (l.outer_l3 == wire::l3_kind::ipv4) {
        std::construct_at(&info.outer_source, ipv4_address::from_bytes(b.subspan(ol3 + wire::ipv4_field::source, 4)));
        std::construct_at(&info.outer_destination, ipv4_address::from_bytes(b.subspan(ol3 + wire::ipv4_field::destination, 4)));
    } else {
        std::construct_at(&info.outer_source, ipv6_address::from_bytes(b.subspan(ol3 + wire::ipv6_field::source, 16)));
        std::construct_at(&info.outer_destination, ipv6_address::from_bytes(b.subspan(ol3 + wire::ipv6_field::destination, 16)));
    }
    std::construct_at(&info.outer_destination_mac, mac_address::from_bytes(b.subspan(wire::ethernet_field::destination, 6)));
    std::construct_at(&info.outer_source_mac, mac_address::from_bytes(b.subspan(wire::ethernet_field::source, 6)));
    return true;
}

/// The body of decapsulate(frame&, decap_info&): parses, then decap_with_layout.
inline bool decap_in_place(datapath::frame& f, datapath::decap_info& info, error& e) noexcept {
    // Parsed straight into `info` (placement new of a prvalue: guaranteed copy elision, which
    // std::construct_at would not give): a copy of the layout reads it back with wider loads
    // than the stores that wrote it, a store-forwarding stall per field.
    ::new (static_cast<void*>(&info.layout)) wire::packet_layout(wire::parse_packet_layout(f.bytes(), f.tail));
    return decap_with_layout(f, info.layout, info, e);
}

}  // namespace nvgre::detail

namespace nvgre::datapath {

/// Decapsulates an NVGRE frame in place. Validates it by every wire rule
/// (wire::parse_packet_layout); applies RFC 6040 normal-mode decapsulation to the inner
/// IPv4/IPv6 ECN field (rfc6040_decap_ecn; an inner IPv4 header checksum is patched
/// incrementally, RFC 1624; non-IP inner frames are not touched); then moves f's start to the
/// inner Ethernet header and trims the bytes after the outer IP packet (Ethernet padding).
/// f.offload afterwards describes the inner frame alone: not encapsulated, outer lengths 0,
/// inner_l3/l4_offset of its IP and TCP/UDP headers (0 if none), a pending checksum_start moved
/// back by the bytes pulled.
/// Errors, `f` unchanged:
/// - a frame that breaks a wire rule: the layout's error (layer and offset from the frame start);
/// - not GRE (kind other): errc::bad_protocol at the field that said so: layer::ipv4 offset of
///   the protocol byte, layer::ipv6 offset of the Next Header byte (layer::ipv6_extension and
///   the last extension header's offset when extension headers precede the upper protocol), or
///   layer::ethernet offset of the EtherType (not IP);
/// - errc::ecn_drop (layer::inner_ipv4 / inner_ipv6, offset of the TOS / traffic class): outer
///   CE on a Not-ECT inner packet.
/// `info` is filled on success (its layout also on failure). The form for the per-packet path:
/// returning the ~150-byte decap_info by value costs a copy (see the other overload).
/// O(number of headers); no allocation.
inline result<void> decapsulate(frame& f, decap_info& info) noexcept {
    // A small inline shell over a bool-returning body: GCC 12 returns a result<void> built in a
    // non-inlined function through the stack with mismatched store/load widths (a
    // store-forwarding stall, ~10 ns a packet); built here, in the caller, it stays in registers.
    error e;
    if (!nvgre::detail::decap_in_place(f, info, e)) [[unlikely]]
        return e;
    return {};
}


/// decapsulate(f, info) for a caller that already parsed the frame (e.g. the ingress pipeline,
/// which classifies before it decapsulates): `layout` must be wire::parse_packet_layout of
/// f.bytes() as they are now. Same contract, except that info.layout is left as it was: the
/// caller holds the layout. Saves the second parse on the per-packet path.
inline result<void> decapsulate(frame& f, const wire::packet_layout& layout, decap_info& info) noexcept {
    error e;
    if (!nvgre::detail::decap_with_layout(f, layout, info, e)) [[unlikely]]
        return e;
    return {};
}

/// decapsulate(f, info) returning the decap_info by value (one copy of it more). Same contract.
[[nodiscard]] inline result<decap_info> decapsulate(frame& f) noexcept {
    decap_info info;
    if (auto r = decapsulate(f, info); !r) return r.error();
    return info;
}

}  // namespace nvgre::datapath
