/// @file datapath/ca_encap.hpp
/// @brief The encap entry point: a frame of virtual subnet `vsid` goes to the provider address
/// of its destination customer address, under the header the snapshot compiled for that path.
///
/// For embedders that make the HNV decisions themselves (or need none of them) and want only
/// the lookup and the encapsulation, at the cost the performance targets name for "encap":
///  - the destination CA (the IP destination of an untagged IPv4 / IPv6 frame) is looked up in
///    the routing domain of `vsid` (state::find_ref);
///  - a remote encap record gets the frame encapsulated in place toward its PA, from this
///    host's first PA that has a path to it (state::compiled_path), the key carrying the
///    record's VSID; a local record leaves the frame as it is, with verdict `local` and the VM's
///    port (the embedder delivers it);
///  - nothing of egress's rules runs: no anti-spoofing, no ARP/ND, no routing (no TTL decrement,
///    no MAC fix-up), no flooding, no IP rewrite (a nat record is `unsupported`), and a frame
///    too big for the underlay is dropped `too-big` rather than segmented or answered.
/// The egress pipeline (datapath/egress.hpp) does all of that and uses the same compiled paths
/// and the same encapsulation (encap_as_decided).
///
/// encap_burst() is the staged form of encap(): every frame's key first, the lookups of the
/// whole burst at once (hash all, prefetch all, probe), then each frame's decision in order;
/// a differential test holds the two to the same outcomes and bytes.
#pragma once

#include "nvgre/datapath/egress.hpp"
#include "nvgre/datapath/encap.hpp"
#include "nvgre/datapath/frame.hpp"
#include "nvgre/datapath/pipeline.hpp"
#include "nvgre/datapath/verdict.hpp"
#include "nvgre/detail/burst_storage.hpp"
#include "nvgre/policy/snapshot.hpp"
#include "nvgre/wire/ethernet.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace nvgre::datapath {

namespace detail::ca_encap_steps {

/// What the first stage found: the key to look up, or the drop.
struct encap_plan {
    drop_reason reason{drop_reason::none};  ///< none: look `key` up
    policy::ca_key key{};
};

/// Stage 1: the destination CA of `f` in the routing domain of `vsid`. Reads only.
[[gnu::always_inline]] inline void plan_frame(const policy::snapshot& s, std::uint32_t vsid, const frame& f,
                                              encap_plan& p) noexcept {
    const auto bytes = std::span<const std::byte>(f.bytes());
    if (!f.headers_in_first_segment()) [[unlikely]] {
        p.reason = drop_reason::split_headers;
        return;
    }
    const auto eth = wire::ethernet_view::checked(bytes);
    if (!eth) {
        p.reason = drop_reason::truncated;
        return;
    }
    if (eth->tag_count() != 0) {
        p.reason = drop_reason::inner_vlan;
        return;
    }
    const std::uint16_t type = eth->ether_type();
    if (type != wire::ethertype::ipv4 && type != wire::ethertype::ipv6) {
        p.reason = drop_reason::unsupported_ethertype;
        return;
    }
    const policy::subnet_entry* sub = s.subnet(vsid);
    if (sub == nullptr) {
        p.reason = drop_reason::unknown_vsid;
        return;
    }
    ip_address source;
    if (!egress_steps::read_ip_endpoints(bytes, f.tail.length(), type == wire::ethertype::ipv6, source, p.key.address, p.reason)) return;
    p.key.scope = sub->domain;
}

/// This host's first PA with a compiled path to provider `destination`, or nullptr (`why`
/// then says: no-next-hop, or unsupported when a path exists only between PAs of different IP
/// versions).
[[gnu::always_inline]] inline const packet::compiled_header* path_from_host(const policy::snapshot& s, std::uint32_t destination,
                                                                             std::uint32_t& source, drop_reason& why) noexcept {
    why = drop_reason::no_next_hop;
    for (const std::uint32_t local : s.local_pa_indices()) {
        drop_reason not_this = drop_reason::none;
        if (const packet::compiled_header* h = egress_steps::path_between(s, local, destination, not_this)) {
            source = local;
            return h;
        }
        if (not_this == drop_reason::unsupported) why = not_this;
    }
    return nullptr;
}

/// Stage 2: the decision for `f`, `found` being state::find_ref(p.key) (ignored for a drop).
[[gnu::always_inline]] inline outcome decide(const policy::snapshot& s, std::uint32_t vsid, const encap_plan& p,
                                             const policy::record_ref* found, frame& f, const pipeline_config& cfg) noexcept {
    if (p.reason != drop_reason::none) return outcome::dropped(p.reason, p.reason == drop_reason::unknown_vsid ? 0 : vsid);
    if (found == nullptr) return outcome::dropped(drop_reason::no_record, vsid);
    const policy::record_ref& to = *found;
    if (to.local) {
        outcome o;
        o.verdict = verdict::local;
        o.vsid = to.vsid;
        o.to = destination::to_vm(to.mac, s.port_id_at(to.port));
        return o;
    }
    if (to.rule != policy::rule::encap) return outcome::dropped(drop_reason::unsupported, to.vsid);
    std::uint32_t source = 0;
    drop_reason why = drop_reason::none;
    const packet::compiled_header* h = path_from_host(s, to.provider, source, why);
    if (h == nullptr) return outcome::dropped(why, to.vsid);
    const egress_steps::encap_decision d = egress_steps::decide_encap(s, f, source, to.provider, *h, to.vsid, cfg);
    // The bare encapsulation: what egress would segment, fragment or answer is too big here
    // (a TSO send the NIC segments, pipeline_config::segmentation_by_hardware, goes whole).
    if (d.size.action != oversize_action::fits && d.size.action != oversize_action::by_nic)
        return outcome::dropped(drop_reason::too_big, to.vsid);
    no_replication_sink none;
    return egress_steps::encap_as_decided(f, d, none, cfg);
}

}  // namespace detail::ca_encap_steps

/// Encapsulates frame `f` of virtual subnet `vsid` toward the PA of its destination CA (see the
/// file comment). Outcomes: `encap` (frame changed in place: to the fabric, `pa` and
/// `to.provider` naming the destination PA); `local` (frame unchanged; `to` names the VM and its
/// port); `drop` with truncated, inner-vlan, unsupported-ethertype, the IP header's reasons,
/// unknown-vsid, no-record, unsupported (a nat record), no-next-hop, too-big, bad-offload (a
/// partial checksum outside the frame), no-headroom. Preconditions as egress(). O(1), no
/// allocation.
inline outcome encap(const policy::snapshot& s, std::uint32_t vsid, frame& f, const pipeline_config& cfg = {}) noexcept {
    detail::ca_encap_steps::encap_plan p;
    detail::ca_encap_steps::plan_frame(s, vsid, f, p);
    const policy::record_ref* found = p.reason == drop_reason::none ? s.find_ref(p.key.scope, p.key.address) : nullptr;
    return detail::ca_encap_steps::decide(s, vsid, p, found, f, cfg);
}

/// encap() over a burst: frame i of subnet vsids[i], outcome into out[i]. Staged: every
/// frame's key, then the lookups of 32 frames at once (hash all, prefetch all, probe), then each
/// frame's decision in order; each frame gets the outcome encap() gives it. The three spans
/// should have the same size; otherwise the first min(sizes) frames are decided and that
/// number is returned. No allocation.
inline std::size_t encap_burst(const policy::snapshot& s, std::span<const std::uint32_t> vsids, std::span<frame> frames,
                               std::span<outcome> out, const pipeline_config& cfg = {}) noexcept {
    const std::size_t decided = std::min({vsids.size(), frames.size(), out.size()});
    constexpr std::size_t chunk = 32;
    nvgre::detail::burst_storage<detail::ca_encap_steps::encap_plan, chunk> plans;
    nvgre::detail::burst_storage<policy::ca_key, chunk> keys;
    const policy::record_ref* refs[chunk];
    for (std::size_t base = 0; base < decided; base += chunk) {
        const std::size_t n = std::min(chunk, decided - base);
        std::size_t k = 0;
        for (std::size_t i = 0; i < n; ++i) {
            ::new (static_cast<void*>(plans.at(i))) detail::ca_encap_steps::encap_plan();
            detail::ca_encap_steps::plan_frame(s, vsids[base + i], frames[base + i], plans[i]);
            if (plans[i].reason == drop_reason::none) std::construct_at(keys.at(k++), plans[i].key);
        }
        s.find_refs_batch(std::span<const policy::ca_key>(keys.data(), k), std::span<const policy::record_ref*>(refs, k));
        std::size_t j = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const policy::record_ref* found = plans[i].reason == drop_reason::none ? refs[j++] : nullptr;
            out[base + i] = detail::ca_encap_steps::decide(s, vsids[base + i], plans[i], found, frames[base + i], cfg);
        }
    }
    return decided;
}

}  // namespace nvgre::datapath
