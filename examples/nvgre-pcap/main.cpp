// nvgre-pcap: the library's pipelines on capture files (docs: /work/shared/cli.md).
//
//   nvgre-pcap show    IN.pcap
//   nvgre-pcap policy  POLICY
//   nvgre-pcap egress  --policy POLICY --host NAME ... IN OUT   (not implemented yet)
//   nvgre-pcap ingress --policy POLICY --host NAME IN OUT       (not implemented yet)
//
// Exit status: 0 when the command ran; 1 with one line on stderr for bad arguments, an
// unreadable or non-pcap file. No input, however malformed, may crash it or make it read out
// of bounds: every frame goes through parse_packet_layout(), which never reads outside its span,
// and the fields printed here are read only at offsets the layout validated.

#include "json_line.hpp"  // examples/common
#include "pcap_file.hpp"

#include <nvgre/error.hpp>
#include <nvgre/policy/loader.hpp>
#include <nvgre/wire/ethernet.hpp>
#include <nvgre/wire/ipv4.hpp>
#include <nvgre/wire/ipv6.hpp>
#include <nvgre/wire/packet_layout.hpp>

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace wire = nvgre::wire;

constexpr std::string_view usage_text =
    "usage: nvgre-pcap show    IN.pcap\n"
    "       nvgre-pcap policy  POLICY\n"
    "       nvgre-pcap egress  --policy POLICY --host NAME [--underlay-mtu N] [--gso] IN.pcap OUT.pcap\n"
    "       nvgre-pcap ingress --policy POLICY --host NAME IN.pcap OUT.pcap\n"
    "\n"
    "show     one JSON object per frame of IN.pcap (pcap or pcapng, Ethernet): the NVGRE\n"
    "         fields of a valid NVGRE packet, the rule a GRE packet breaks, or what else it is\n"
    "policy   validate a policy file (policy-format.md) and print its counts; every error as\n"
    "         FILE:LINE:COL: error: TEXT on stderr\n"
    "egress   run frames sent by the VMs of host NAME through the egress pipeline (not implemented yet)\n"
    "ingress  run frames arriving at host NAME through the ingress pipeline (not implemented yet)\n";

/// The one line on stderr that every failure ends with; returns the exit status 1.
int fail(std::string_view message) {
    std::fprintf(stderr, "nvgre-pcap: %.*s\n", static_cast<int>(message.size()), message.data());
    return 1;
}

std::string_view to_string(wire::l3_kind k) {
    switch (k) {
        case wire::l3_kind::ipv4: return "ipv4";
        case wire::l3_kind::ipv6: return "ipv6";
        case wire::l3_kind::arp: return "arp";
        case wire::l3_kind::other: return "other";
        case wire::l3_kind::none: return "none";
    }
    return "other";
}

std::string hex16(std::uint16_t v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%04x", static_cast<unsigned>(v));
    return buf;
}

/// The short description of a frame that is not GRE: "arp", "ethertype 0x88cc",
/// "ipv4 protocol 6", "ipv6 next header 58" (the upper-layer protocol after extension headers).
std::string describe_other(const wire::packet_layout& l) {
    switch (l.outer_l3) {
        case wire::l3_kind::arp: return "arp";
        case wire::l3_kind::ipv4: return "ipv4 protocol " + std::to_string(l.outer_protocol);
        case wire::l3_kind::ipv6: return "ipv6 next header " + std::to_string(l.outer_protocol);
        default: return "ethertype " + hex16(l.outer_ether_type);
    }
}

/// Source and destination of the IP header at `offset`, as text. Precondition: the layout
/// validated an IP header of kind `kind` there.
template <class Sink>
void ip_addresses(std::span<const std::byte> frame, wire::l3_kind kind, std::uint32_t offset, Sink&& sink) {
    if (kind == wire::l3_kind::ipv4) {
        const auto ip = wire::ipv4_view::unchecked(frame.subspan(offset));
        sink(ip.source().to_string(), ip.destination().to_string());
    } else if (kind == wire::l3_kind::ipv6) {
        const auto ip = wire::ipv6_view::unchecked(frame.subspan(offset));
        sink(ip.source().to_string(), ip.destination().to_string());
    }
}

/// One JSON line for frame number `n` (see cli.md, "show").
std::string show_frame(std::uint64_t n, std::span<const std::byte> frame) {
    const wire::packet_layout l = wire::parse_packet_layout(frame);
    example::json_line j;
    j.member("n", n);
    switch (l.kind) {
        case wire::frame_kind::error:
            j.member("error", nvgre::to_string(l.error.code))
                .member("layer", nvgre::to_string(l.error.where))
                .member("offset", l.error.offset);
            break;
        case wire::frame_kind::other:
            j.member("other", describe_other(l));
            break;
        case wire::frame_kind::nvgre: {
            // Every offset of the layout is valid here: kind == nvgre is only set after the
            // outer IP header, the NVGRE header and the inner Ethernet header all checked out.
            j.begin_object("nvgre").member("vsid", l.vsid_bits()).member("flow_id", l.flow_id_bits()).end_object();

            j.begin_object("outer").member("l3", to_string(l.outer_l3));
            ip_addresses(frame, l.outer_l3, l.outer_l3_offset, [&](const std::string& s, const std::string& d) {
                j.member("src", s).member("dst", d);
            });
            if (l.outer_vlan_count == 1) j.member("vlan", l.outer_vlan_id);
            else j.member("vlan", nullptr);
            if (l.outer_l3 == wire::l3_kind::ipv4) {
                const auto ip = wire::ipv4_view::unchecked(frame.subspan(l.outer_l3_offset));
                j.member("ttl", ip.ttl()).member("dscp", ip.dscp()).member("ecn", ip.ecn());
            } else {
                const auto ip = wire::ipv6_view::unchecked(frame.subspan(l.outer_l3_offset));
                j.member("ttl", ip.hop_limit()).member("dscp", ip.dscp()).member("ecn", ip.ecn());
            }
            j.end_object();

            const auto inner = wire::ethernet_view::unchecked(frame.subspan(l.inner_l2_offset));
            j.begin_object("inner")
                .member("src_mac", inner.source().to_string())
                .member("dst_mac", inner.destination().to_string())
                .member("ethertype", l.inner_ether_type)
                .member("l3", to_string(l.inner_l3));
            ip_addresses(frame, l.inner_l3, l.inner_l3_offset, [&](const std::string& s, const std::string& d) {
                j.member("src", s).member("dst", d);
            });
            j.end_object();
            break;
        }
    }
    return j.finish();
}

int cmd_show(const std::vector<std::string_view>& args) {
    if (args.size() != 1) return fail("show: expected one argument, IN.pcap (see nvgre-pcap --help)");
    if (args[0].starts_with('-') && args[0] != "-") return fail("show: unknown option '" + std::string(args[0]) + "'");
    const std::string path(args[0]);
    example::pcap_reader in(path);
    if (!in.ok()) {
        // libpcap's "cannot open" texts already start with the path.
        const std::string& e = in.error();
        return fail(e.starts_with(path + ":") ? e : path + ": " + e);
    }

    example::pcap_frame f;
    std::uint64_t n = 0;
    std::string line;
    while (in.next(f)) {
        line = show_frame(++n, f.bytes);
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stdout);
    }
    if (!in.error().empty()) {
        std::fflush(stdout);
        return fail(path + ": after frame " + std::to_string(n) + ": " + in.error());
    }
    if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) return fail("error writing to stdout");
    return 0;
}

/// `policy POLICY` (cli.md): the counts of a valid policy as one JSON line; otherwise every
/// error line of the loader on stderr, exit 1.
int cmd_policy(const std::vector<std::string_view>& args) {
    if (args.size() != 1) return fail("policy: expected one argument, POLICY (see nvgre-pcap --help)");
    if (args[0].starts_with('-')) return fail("policy: unknown option '" + std::string(args[0]) + "'");
    const nvgre::policy::load_result r = nvgre::policy::load_policy_file(args[0]);
    if (!r) {
        for (const auto& d : r.diagnostics) {
            const std::string line = d.to_string() + "\n";
            std::fwrite(line.data(), 1, line.size(), stderr);
        }
        return 1;
    }
    const nvgre::policy::model_counts c = r.validated->counts();
    example::json_line j;
    j.member("hosts", c.hosts)
        .member("provider_addresses", c.provider_addresses)
        .member("routing_domains", c.routing_domains)
        .member("virtual_subnets", c.virtual_subnets)
        .member("customer_routes", c.customer_routes)
        .member("lookup_records", c.lookup_records);
    const std::string line = j.finish() + "\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) return fail("error writing to stdout");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fwrite(usage_text.data(), 1, usage_text.size(), stdout);
        return fail("no command given");
    }
    const std::string_view command = argv[1];
    std::vector<std::string_view> args(argv + 2, argv + argc);
    if (command == "--help" || command == "-h" || command == "help") {
        std::fwrite(usage_text.data(), 1, usage_text.size(), stdout);
        return 0;
    }
    if (command == "show") return cmd_show(args);
    if (command == "policy") return cmd_policy(args);
    if (command == "egress" || command == "ingress")
        return fail(std::string(command) + ": not implemented yet");
    return fail("unknown command '" + std::string(command) + "' (see nvgre-pcap --help)");
}
