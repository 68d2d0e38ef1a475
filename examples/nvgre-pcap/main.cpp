// nvgre-pcap: the library's pipelines on capture files (docs/nvgre-pcap.md).
//
//   nvgre-pcap show    IN.pcap
//   nvgre-pcap policy  POLICY
//   nvgre-pcap policy  format POLICY | diff OLD NEW | apply POLICY CHANGES
//   nvgre-pcap egress  --policy POLICY --host NAME [--underlay-mtu N] [--gso] [--port MAC] IN OUT
//   nvgre-pcap ingress --policy POLICY --host NAME IN OUT
//
// Exit status: 0 when the command ran; 1 with one line on stderr for bad arguments, an
// unreadable or non-pcap file. No input, however malformed, may crash it or make it read out
// of bounds: every frame goes through parse_packet_layout(), which never reads outside its span,
// and the fields printed here are read only at offsets the layout validated.

#include "json_line.hpp"  // examples/common
#include "pcap_file.hpp"
#include "traffic_text.hpp"

#include <nvgre/datapath/context.hpp>
#include <nvgre/datapath/egress.hpp>
#include <nvgre/datapath/frame.hpp>
#include <nvgre/datapath/ingress.hpp>
#include <nvgre/datapath/pipeline.hpp>
#include <nvgre/datapath/port_meter.hpp>
#include <nvgre/datapath/too_big.hpp>
#include <nvgre/datapath/verdict.hpp>
#include <nvgre/error.hpp>
#include <nvgre/mac_address.hpp>
#include <nvgre/policy/canonical.hpp>
#include <nvgre/policy/change_set.hpp>
#include <nvgre/policy/loader.hpp>
#include <nvgre/policy/state.hpp>
#include <nvgre/wire/ethernet.hpp>
#include <nvgre/wire/ipv4.hpp>
#include <nvgre/wire/ipv6.hpp>
#include <nvgre/wire/packet_layout.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace wire = nvgre::wire;

constexpr std::string_view usage_text =
    "usage: nvgre-pcap show    IN.pcap\n"
    "       nvgre-pcap policy  POLICY\n"
    "       nvgre-pcap policy  format POLICY\n"
    "       nvgre-pcap policy  diff OLD NEW\n"
    "       nvgre-pcap policy  apply POLICY CHANGES\n"
    "       nvgre-pcap egress  --policy POLICY --host NAME [--underlay-mtu N] [--gso] [--port MAC]\n"
    "                          IN.pcap OUT.pcap\n"
    "       nvgre-pcap ingress --policy POLICY --host NAME IN.pcap OUT.pcap\n"
    "\n"
    "show     one JSON object per packet of IN.pcap (pcap or pcapng): the NVGRE fields of a\n"
    "         valid NVGRE packet, the rule a GRE packet breaks, or what else it is. Link types\n"
    "         Ethernet, raw IP (RAW, IPV4, IPV6), Linux cooked (LINUX_SLL, LINUX_SLL2: tcpdump\n"
    "         -i any) and BSD loopback (NULL, LOOP); without Ethernet the outer packet is\n"
    "         judged from its IP header, and error offsets count from the captured packet's\n"
    "         first byte. Other link types are `other`. egress and ingress need Ethernet.\n"
    "policy   validate a policy file (docs/policy-format.md) and print its counts; every error as\n"
    "         FILE:LINE:COL: error: TEXT on stderr\n"
    "  format POLICY         print the canonical text of POLICY (one spelling per policy:\n"
    "                        equal policies give equal bytes)\n"
    "  diff OLD NEW          print the change set that turns OLD into NEW (`+ ` lines add or\n"
    "                        replace, `- ` lines remove); nothing when they are the same policy\n"
    "  apply POLICY CHANGES  apply the change set CHANGES to POLICY as a whole and print the\n"
    "                        canonical text of the result; otherwise nothing on stdout, every\n"
    "                        error of CHANGES as FILE:LINE:COL: error: TEXT on stderr, exit 1.\n"
    "                        `apply A <(diff A B)` prints what `format B` prints\n"
    "egress   run the frames of IN.pcap, sent by the VMs of host NAME (each frame's source MAC\n"
    "         is its VM port, unless --port), through the egress pipeline; write every resulting\n"
    "         frame to OUT.pcap\n"
    "ingress  run the frames of IN.pcap, arriving at host NAME from the fabric, through the\n"
    "         ingress pipeline; write every resulting frame to OUT.pcap\n"
    "\n"
    "egress/ingress options (any order, before IN.pcap OUT.pcap):\n"
    "  --policy POLICY     the policy file (errors as for `policy`)\n"
    "  --host NAME         the host whose pipeline runs; it must own a provider address\n"
    "  --underlay-mtu N    egress: the outer IP MTU, 68..65535 (default 1500)\n"
    "  --gso               egress: segment an oversize TCP packet in software (else it is\n"
    "                      answered too big); an IPv4 packet without DF is fragmented either way\n"
    "  --port MAC          egress: every frame comes from the port of host NAME's VM NIC with\n"
    "                      this MAC, whatever its source MAC (to try MAC spoofing); the policy\n"
    "                      must have that NIC on host NAME\n"
    "egress/ingress run the port classifications on the capture's clock: the VM ports of host\n"
    "NAME are numbered 0, 1, ... in MAC order, and their maximum bandwidth is metered on the\n"
    "capture timestamps (as the router's ICMP rate limit is)\n"
    "egress/ingress output:\n"
    "  stdout  one JSON object per input frame, keys in this order:\n"
    "          {\"n\":1,\"verdict\":\"encap\",\"vsid\":5001,\"pa\":\"192.168.10.12\",\"out\":[1]}\n"
    "          {\"n\":2,\"verdict\":\"drop\",\"reason\":\"no-route\",\"vsid\":5001,\"out\":[]}\n"
    "          n: 1-based input frame number; verdict: encap, rewrite, local, reply, flood,\n"
    "          deliver or drop; reason: for drop (e.g. spoofed-source, rate-limited,\n"
    "          dhcp-guard, router-guard), and for a reply that answers a packet\n"
    "          which went no further (the router's ICMP errors: no-route, no-record,\n"
    "          ttl-expired, too-big); vsid: only when known (non-zero);\n"
    "          pa: only for encap and rewrite (the destination PA); out: always, the 1-based\n"
    "          indices in OUT.pcap of the frames this input frame produced, in order: [] for a\n"
    "          drop, except a flood that failed part-way (its copies already sent are listed)\n"
    "  stderr  after the last frame, one line per non-zero counter, verdicts first, then drop\n"
    "          reasons:  `verdict encap 3` ... `drop spoofed-source 1`; the verdict counts\n"
    "          add up to the number of input frames, the drop reasons to `verdict drop`\n"
    "          plus the replies that carry a reason; then the traffic of each VM port and\n"
    "          VSID that saw any:  `port 0 red-web 00:15:5d:00:00:05 in P packets B bytes out\n"
    "          P packets B bytes [drops REASON=N ...]`, `vsid 5001 in ...`\n"
    "  A failure (bad arguments, an invalid policy, an unknown host, a --port MAC that is no\n"
    "  VM NIC of the host, an unreadable or non-pcap input, an unwritable output) prints one\n"
    "  line on stderr (an invalid policy: every error) and exits 1; dropped frames are not\n"
    "  failures.\n";

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

/// How the offsets of a layout map back to the captured packet. The library parses from an
/// Ethernet header; a packet captured without one (raw IP, Linux cooked, BSD loopback) is
/// judged as `synthetic_ethernet_len` bytes of stand-in Ethernet header carrying the link
/// header's protocol as EtherType, followed by the packet's bytes after its own link-layer
/// header of `link_len` bytes. Nothing of the stand-in header is printed: show prints no outer
/// MAC, and an offset inside it (an error about the EtherType, e.g. a VLAN tag cut short)
/// points at the captured field the EtherType came from, `protocol_offset`.
struct offset_map {
    std::uint32_t link_len{0};
    std::uint32_t protocol_offset{0};
    bool synthetic{false};
    static constexpr std::uint32_t synthetic_ethernet_len = 14;

    [[nodiscard]] std::uint32_t captured(std::uint32_t layout_offset) const noexcept {
        if (!synthetic) return layout_offset;
        if (layout_offset < synthetic_ethernet_len) return protocol_offset;
        return layout_offset - synthetic_ethernet_len + link_len;
    }
};

/// One JSON line for frame number `n` (see docs/nvgre-pcap.md, "show"); `frame` is an
/// Ethernet frame, offsets reported through `map`.
std::string show_frame(std::uint64_t n, std::span<const std::byte> frame, const offset_map& map = {}) {
    const wire::packet_layout l = wire::parse_packet_layout(frame);
    example::json_line j;
    j.member("n", n);
    switch (l.kind) {
        case wire::frame_kind::error:
            j.member("error", nvgre::to_string(l.error.code))
                .member("layer", nvgre::to_string(l.error.where))
                .member("offset", map.captured(l.error.offset));
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

/// One JSON line for packet number `n`, whatever its link type: an Ethernet frame as it is;
/// IP behind another link-layer header through a scratch copy with a stand-in Ethernet header
/// (offset_map says why that reports nothing false). Deciding here rather than adding an
/// IP-first entry point to the library keeps parse_packet_layout's single contract (Ethernet
/// at offset 0) and its fast path untouched for one example's sake; the copy costs show, a
/// file tool, nothing that matters.
std::string show_packet(std::uint64_t n, const example::pcap_frame& f, std::vector<std::byte>& scratch) {
    const example::link_header h = example::decode_link_header(f.link_type, f.bytes);
    using st = example::link_header::status;
    switch (h.what) {
        case st::ethernet: return show_frame(n, f.bytes);
        case st::network: {
            const auto rest = f.bytes.subspan(h.length);
            scratch.assign(offset_map::synthetic_ethernet_len, std::byte{0});
            scratch[12] = static_cast<std::byte>(h.ether_type >> 8);
            scratch[13] = static_cast<std::byte>(h.ether_type & 0xff);
            scratch.insert(scratch.end(), rest.begin(), rest.end());
            return show_frame(n, scratch, offset_map{h.length, h.protocol_offset, true});
        }
        case st::truncated: {
            example::json_line j;
            j.member("n", n).member("error", "truncated").member("layer", h.layer).member("offset", 0);
            return j.finish();
        }
        case st::not_network:
        case st::unsupported: break;
    }
    example::json_line j;
    j.member("n", n).member("other", h.description);
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
    std::vector<std::byte> scratch;
    while (in.next(f)) {
        line = show_packet(++n, f, scratch);
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

/// Every error line of `r` on stderr; the exit status 1.
int print_errors(const nvgre::policy::load_result& r) {
    for (const auto& d : r.diagnostics) {
        const std::string line = d.to_string() + "\n";
        std::fwrite(line.data(), 1, line.size(), stderr);
    }
    return 1;
}

/// `text` on stdout; exit status 0, or 1 when stdout cannot be written.
int print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) return fail("error writing to stdout");
    return 0;
}

/// The contents of the file at `path` (any readable path: /dev/stdin, <(...)); nullopt with the
/// loader's one diagnostic, `PATH: error: cannot read: REASON`, when it cannot be read.
std::optional<std::string> read_text(const std::string& path, nvgre::policy::load_result& error) {
    nvgre::policy::load_diagnostic why;
    std::optional<std::string> text = nvgre::policy::read_text_file(path, why);
    if (!text) error.diagnostics.push_back(std::move(why));
    return text;
}

/// `policy format POLICY`, `policy diff OLD NEW`, `policy apply POLICY CHANGES`
/// (docs/nvgre-pcap.md): canonical text and change sets (docs/policy-format.md). An invalid
/// policy or change set: every error on stderr, nothing on stdout, exit 1.
int cmd_policy_text(std::string_view sub, const std::vector<std::string_view>& args) {
    const std::string name = "policy " + std::string(sub);
    const std::size_t want = sub == "format" ? 1 : 2;
    for (const auto a : args)
        if (a.starts_with('-')) return fail(name + ": unknown option '" + std::string(a) + "'");
    if (args.size() != want) {
        std::string_view operands = "two arguments, POLICY CHANGES";
        if (sub == "format") operands = "one argument, POLICY";
        else if (sub == "diff") operands = "two arguments, OLD NEW";
        return fail(name + ": expected " + std::string(operands) + " (see nvgre-pcap --help)");
    }
    const nvgre::policy::load_result first = nvgre::policy::load_policy_file(args[0]);
    if (sub == "format") {
        if (!first) return print_errors(first);
        return print(nvgre::policy::format(*first.validated));
    }
    if (sub == "diff") {
        const nvgre::policy::load_result second = nvgre::policy::load_policy_file(args[1]);
        if (!first || !second) {  // the errors of both files
            print_errors(first);
            return print_errors(second);
        }
        return print(nvgre::policy::format(nvgre::policy::diff(*first.validated, *second.validated)));
    }
    if (!first) return print_errors(first);
    const std::string changes_path(args[1]);
    nvgre::policy::load_result unreadable;
    const std::optional<std::string> changes = read_text(changes_path, unreadable);
    if (!changes) return print_errors(unreadable);
    const nvgre::policy::load_result applied = nvgre::policy::apply_change_set_text(*first.validated, *changes, changes_path);
    if (!applied) return print_errors(applied);
    return print(nvgre::policy::format(*applied.validated));
}

/// `policy POLICY` (docs/nvgre-pcap.md): the counts of a valid policy as one JSON line; otherwise every
/// error line of the loader on stderr, exit 1. `policy format|diff|apply ...`: cmd_policy_text.
int cmd_policy(const std::vector<std::string_view>& args) {
    if (!args.empty() && (args[0] == "format" || args[0] == "diff" || args[0] == "apply"))
        return cmd_policy_text(args[0], std::vector<std::string_view>(args.begin() + 1, args.end()));
    if (args.size() != 1) return fail("policy: expected one argument, POLICY (see nvgre-pcap --help)");
    if (args[0].starts_with('-')) return fail("policy: unknown option '" + std::string(args[0]) + "'");
    const nvgre::policy::load_result r = nvgre::policy::load_policy_file(args[0]);
    if (!r) return print_errors(r);
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


// ---- egress / ingress ------------------------------------------------------------------------

namespace datapath = nvgre::datapath;

/// Bytes kept behind each frame: room for a proxy reply longer than the question (a neighbor
/// advertisement answering a neighbor solicitation without a link-layer option).
constexpr std::size_t frame_tailroom = 128;

/// The arguments of `egress` / `ingress`.
struct run_args {
    std::string policy;
    std::string host;
    std::string in;
    std::string out;
    std::size_t underlay_mtu{1500};
    bool gso{false};
    /// egress --port: the VM port every frame comes from (else each frame's source MAC).
    std::optional<nvgre::mac_address> port;
};

/// Parses a decimal 68..65535 (the IPv4 minimum MTU .. the largest IP packet).
std::optional<std::size_t> parse_mtu(std::string_view text) {
    if (text.empty() || text.size() > 5) return std::nullopt;
    std::size_t v = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::size_t>(c - '0');
    }
    if (v < 68 || v > 65535) return std::nullopt;
    return v;
}

/// Parses the options (any order, `--opt VALUE` or `--opt=VALUE`) and the two files. Returns
/// an error message, or nothing when `a` is complete.
std::optional<std::string> parse_run_args(std::string_view command, const std::vector<std::string_view>& args,
                                          run_args& a) {
    const bool egress = command == "egress";
    bool have_policy = false, have_host = false, have_mtu = false;
    std::vector<std::string_view> files;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (!files.empty() || !arg.starts_with("--")) {
            if (arg.starts_with('-') && arg != "-")
                return files.empty() ? "unknown option '" + std::string(arg) + "'"
                                     : "option '" + std::string(arg) + "' after IN.pcap (options come first)";
            files.push_back(arg);
            continue;
        }
        std::string_view name = arg;
        std::optional<std::string_view> value;
        if (const auto eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        }
        const bool takes_value =
            name == "--policy" || name == "--host" || (egress && (name == "--underlay-mtu" || name == "--port"));
        const bool is_flag = egress && name == "--gso";
        if (!takes_value && !is_flag) return "unknown option '" + std::string(name) + "'";
        if (is_flag) {
            if (value) return "option --gso takes no value";
            if (a.gso) return "option --gso given twice";
            a.gso = true;
            continue;
        }
        if (!value) {
            if (i + 1 == args.size()) return "option " + std::string(name) + " needs a value";
            value = args[++i];
        }
        if (name == "--policy") {
            if (have_policy) return "option --policy given twice";
            if (value->empty()) return "option --policy needs a file name";
            have_policy = true;
            a.policy = std::string(*value);
        } else if (name == "--host") {
            if (have_host) return "option --host given twice";
            if (value->empty()) return "option --host needs a host name";
            have_host = true;
            a.host = std::string(*value);
        } else if (name == "--port") {
            if (a.port) return "option --port given twice";
            const auto mac = nvgre::mac_address::parse(*value);
            if (!mac) return "--port must be a MAC address like 00:15:5d:00:00:05, not '" + std::string(*value) + "'";
            a.port = *mac;
        } else {
            if (have_mtu) return "option --underlay-mtu given twice";
            const auto mtu = parse_mtu(*value);
            if (!mtu) return "--underlay-mtu must be a number from 68 to 65535, not '" + std::string(*value) + "'";
            have_mtu = true;
            a.underlay_mtu = *mtu;
        }
    }
    if (!have_policy) return std::string("missing --policy POLICY");
    if (!have_host) return std::string("missing --host NAME");
    if (files.size() != 2)
        return "expected two files, IN.pcap OUT.pcap, after the options (got " + std::to_string(files.size()) + ")";
    if (files[1] == "-") return std::string("OUT.pcap cannot be '-': stdout carries the JSON lines");
    a.in = std::string(files[0]);
    a.out = std::string(files[1]);
    return std::nullopt;
}

/// The replication sink of nvgre-pcap: a copy is a heap buffer (kept until the next input
/// frame), and every frame sent is written to OUT.pcap at once, its index remembered.
class pcap_sink {
public:
    static constexpr std::size_t max_copies_per_frame = 4096;
    pcap_sink(example::pcap_writer& out, std::uint64_t& written) : out_(out), written_(written) {}

    /// A bounded pool, as a switch's would be: past max_copies_per_frame the pipeline gets
    /// nullptr and counts no-buffer. (The tool builds with -fno-exceptions too: an allocation
    /// failure ends it, which is what a tool may do; a switch would use a preallocated pool.)
    datapath::frame* allocate(std::size_t size, std::size_t headroom) noexcept {
        if (frames_.size() >= max_copies_per_frame) return nullptr;
        std::vector<std::byte>& b = buffers_.emplace_back(headroom + size + frame_tailroom);
        return &frames_.emplace_back(std::span<std::byte>(b), headroom, size);
    }
    void send(datapath::frame& f, const datapath::destination&) noexcept { emit(f.bytes()); }
    void discard(datapath::frame&) noexcept {}  // released with the others at the next input frame

    /// Writes one output frame (in-place results too) and remembers its index.
    void emit(std::span<const std::byte> bytes) noexcept {
        if (!out_.write(bytes, ts_)) return;  // the error stays in the writer, reported at the end
        ++written_;
        indices_.push_back(written_);
    }

    /// Starts input frame with timestamp `ts`: the previous frame's copies are released.
    void next_frame(example::pcap_timestamp ts) {
        buffers_.clear();
        frames_.clear();
        indices_.clear();
        ts_ = ts;
    }
    [[nodiscard]] std::span<const std::uint64_t> indices() const noexcept { return indices_; }

private:
    example::pcap_writer& out_;
    std::uint64_t& written_;
    example::pcap_timestamp ts_{};
    std::deque<std::vector<std::byte>> buffers_;
    std::deque<datapath::frame> frames_;
    std::vector<std::uint64_t> indices_;
};
static_assert(datapath::replication_sink<pcap_sink>);

/// True for the verdicts whose output is the input frame, changed in place.
bool in_place_output(const datapath::outcome& o) {
    switch (o.verdict) {
        case datapath::verdict::encap:
        case datapath::verdict::rewrite:
        case datapath::verdict::local:
        case datapath::verdict::reply:
        case datapath::verdict::deliver: return o.copies == 0;
        case datapath::verdict::flood:
        case datapath::verdict::drop: return false;
    }
    return false;
}

/// The JSON line of one input frame (see usage_text for the key rules).
std::string outcome_line(std::uint64_t n, const datapath::outcome& o, std::span<const std::uint64_t> out) {
    example::json_line j;
    j.member("n", n).member("verdict", datapath::to_string(o.verdict));
    // A reply carries the reason of the packet it answers when that went no further.
    if (o.verdict == datapath::verdict::drop || (o.verdict == datapath::verdict::reply && o.reason != datapath::drop_reason::none))
        j.member("reason", datapath::to_string(o.reason));
    if (o.vsid != 0) j.member("vsid", o.vsid);
    if (o.verdict == datapath::verdict::encap || o.verdict == datapath::verdict::rewrite)
        j.member("pa", o.pa.to_string());
    j.member("out", out);
    return j.finish();
}

/// A capture timestamp in nanoseconds: the clock of the rate limit.
std::uint64_t capture_ns(const example::pcap_timestamp& ts) {
    return static_cast<std::uint64_t>(ts.sec) * 1'000'000'000u + std::uint64_t{ts.usec} * 1000u;
}

/// A VM port of the host: its NIC's MAC and its VM's name (the first vm= of its records; may
/// be empty).
struct vm_port {
    nvgre::mac_address mac;
    std::string name;
};

/// The VM ports of the host of `s`, in MAC order: what nvgre-pcap numbers 0, 1, ...
std::vector<vm_port> host_ports(const nvgre::policy::state& s) {
    std::vector<vm_port> ports;
    for (std::uint32_t i = 0; i < s.port_count(); ++i) {
        const nvgre::policy::local_port& p = s.port_at(i);
        if (p.records.empty()) continue;  // a free slot
        vm_port v{p.mac, {}};
        for (const nvgre::policy::record_id id : p.records) {
            if (const std::string_view name = s.vm_name(id); !name.empty()) {
                v.name = std::string(name);
                break;
            }
        }
        ports.push_back(std::move(v));
    }
    std::sort(ports.begin(), ports.end(), [](const vm_port& x, const vm_port& y) { return x.mac < y.mac; });
    return ports;
}

/// `egress` / `ingress` (docs/nvgre-pcap.md).
int cmd_run(std::string_view command, const std::vector<std::string_view>& args) {
    const std::string cmd(command);
    const bool egress = command == "egress";
    run_args a;
    if (auto e = parse_run_args(command, args, a)) return fail(cmd + ": " + *e + " (see nvgre-pcap --help)");

    const nvgre::policy::load_result loaded = nvgre::policy::load_policy_file(a.policy);
    if (!loaded) {
        for (const auto& d : loaded.diagnostics) {
            const std::string line = d.to_string() + "\n";
            std::fwrite(line.data(), 1, line.size(), stderr);
        }
        return 1;
    }
    auto built = nvgre::policy::state::build(*loaded.validated, a.host);
    if (!built)
        return fail(cmd + ": " + a.policy + ": cannot index for host '" + a.host + "': " + nvgre::policy::to_string(*built.error));
    nvgre::policy::state bound = std::move(built).value();
    if (bound.local_pa_indices().empty())
        return fail(cmd + ": host '" + a.host + "' owns no provider address in " + a.policy);
    if (a.port && bound.port(*a.port) == nullptr)
        return fail(cmd + ": --port " + a.port->to_string() + ": host '" + a.host + "' has no VM NIC with that MAC in " + a.policy);
    // The port classifications run as on a switch: every VM port of the host gets a port
    // number (0, 1, ... in MAC order, so the same policy always numbers them alike), which
    // keys its counters and its bandwidth buckets.
    const std::vector<vm_port> vm_ports = host_ports(bound);
    for (std::size_t i = 0; i < vm_ports.size(); ++i)
        if (!bound.bind_port(static_cast<std::uint32_t>(i), vm_ports[i].mac))
            return fail(cmd + ": host '" + a.host + "' has too many VM ports to number");
    const nvgre::policy::state& state = bound;

    example::pcap_reader in(a.in, cmd);  // Ethernet only: the pipelines take frames from VM ports and the fabric
    if (!in.ok()) {
        const std::string& e = in.error();
        return fail(e.starts_with(a.in + ":") ? e : a.in + ": " + e);
    }
    {
        std::error_code ec;
        if (a.in != "-" && std::filesystem::equivalent(a.in, a.out, ec))
            return fail(cmd + ": IN.pcap and OUT.pcap are the same file");
    }
    example::pcap_writer out(a.out);
    if (!out.ok()) {
        const std::string& e = out.error();
        return fail(e.starts_with(a.out + ":") ? e : a.out + ": " + e);
    }

    datapath::pipeline_config cfg;
    cfg.underlay_mtu = a.underlay_mtu;
    cfg.gso = a.gso;
    if (const char* why = cfg.validate()) return fail(cmd + ": " + why);
    // The router's answers are rate-limited per source, and the ports' maximum bandwidth is
    // metered, on the capture's clock (its timestamps), so that a run gives the same answers
    // however fast the tool runs.
    std::uint64_t limiter_clock = 0;
    datapath::context ctx(std::max<std::size_t>(loaded.validated->counts().virtual_subnets, 1), vm_ports.size());
    ctx.use_clock(&limiter_clock);
    ctx.limit_answers();
    datapath::port_meters meters(vm_ports.size());
    ctx.share_meters(&meters);
    std::uint64_t written = 0;
    pcap_sink sink(out, written);

    // The frames run through the burst entry points, up to 32 at a time. The trace hook
    // writes each frame's output and JSON line as soon as it is decided — after the copies it
    // made, before the next frame is decided — so the output is in input order, and moves the
    // clock and the sink on to the next frame's timestamp.
    constexpr std::size_t burst_size = 32;
    std::vector<std::vector<std::byte>> buffers(burst_size);
    std::array<datapath::frame, burst_size> frames{};
    std::array<nvgre::mac_address, burst_size> ports{};
    std::array<example::pcap_timestamp, burst_size> stamps{};
    std::array<datapath::outcome, burst_size> outs{};
    struct run_state {
        pcap_sink* sink;
        std::uint64_t* clock;
        std::span<const example::pcap_timestamp> stamps;
        std::uint64_t first{0};  // the number of the burst's first frame (from 1)
        std::string line;
    } run{&sink, &limiter_clock, {}, 0, {}};
    ctx.trace = datapath::trace_hook{
        [](void* user, std::size_t i, const datapath::frame& fr, const datapath::outcome& o) noexcept {
            auto& r = *static_cast<run_state*>(user);
            if (in_place_output(o)) r.sink->emit(fr.bytes());
            r.line = outcome_line(r.first + i, o, r.sink->indices());
            r.line += '\n';
            std::fwrite(r.line.data(), 1, r.line.size(), stdout);
            if (i + 1 < r.stamps.size()) {
                r.sink->next_frame(r.stamps[i + 1]);
                *r.clock = capture_ns(r.stamps[i + 1]);
            }
        },
        &run};

    // A burst holds frames of one capture timestamp only: its frames arrived together, and a
    // pipeline may read its clock once per burst (the port meters do), so frames of different
    // times go in different bursts.
    example::pcap_frame f;
    std::uint64_t n = 0;
    bool more = in.next(f);  // one frame read ahead: the first of the next burst
    while (more) {
        std::size_t count = 0;
        const std::uint64_t burst_time = capture_ns(f.ts);
        do {
            std::vector<std::byte>& buffer = buffers[count];
            buffer.assign(datapath::recommended_headroom + f.bytes.size() + frame_tailroom, std::byte{0});
            if (!f.bytes.empty()) std::memcpy(buffer.data() + datapath::recommended_headroom, f.bytes.data(), f.bytes.size());
            frames[count] = datapath::frame(std::span<std::byte>(buffer), datapath::recommended_headroom, f.bytes.size());
            // The VM port is --port's, else the one whose NIC has the frame's source MAC; a frame
            // too short to have one is dropped (truncated) before the port matters.
            if (a.port) ports[count] = *a.port;
            else ports[count] = f.bytes.size() >= 12 ? nvgre::mac_address::from_bytes(f.bytes.subspan(6, 6)) : nvgre::mac_address{};
            stamps[count] = f.ts;
            ++count;
            more = in.next(f);
        } while (more && count < burst_size && capture_ns(f.ts) == burst_time);
        run.first = n + 1;
        run.stamps = std::span<const example::pcap_timestamp>(stamps).first(count);
        sink.next_frame(stamps[0]);
        limiter_clock = capture_ns(stamps[0]);
        const auto burst = std::span<datapath::frame>(frames).first(count);
        if (egress)
            datapath::egress_burst(state, burst, std::span<const nvgre::mac_address>(ports).first(count),
                                   std::span<datapath::outcome>(outs).first(count), sink, ctx, cfg);
        else
            datapath::ingress_burst(state, burst, std::span<datapath::outcome>(outs).first(count), sink, ctx, cfg);
        n += count;
        if (!out.ok()) {
            std::fflush(stdout);
            return fail(a.out + ": " + out.error());
        }
    }
    const datapath::counters& count = ctx.count;
    if (!in.error().empty()) {
        std::fflush(stdout);
        return fail(a.in + ": after frame " + std::to_string(n) + ": " + in.error());
    }
    if (!out.close()) {
        std::fflush(stdout);
        return fail(a.out + ": " + out.error());
    }
    if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) return fail("error writing to stdout");

    std::string counters;
    for (std::size_t v = 0; v < datapath::verdict_count; ++v)
        if (count.verdicts[v] != 0)
            counters += "verdict " + std::string(datapath::to_string(static_cast<datapath::verdict>(v))) + " " +
                        std::to_string(count.verdicts[v]) + "\n";
    for (std::size_t r = 0; r < datapath::drop_reason_count; ++r)
        if (count.drops[r] != 0)
            counters += "drop " + std::string(datapath::to_string(static_cast<datapath::drop_reason>(r))) + " " +
                        std::to_string(count.drops[r]) + "\n";
    std::vector<std::string> port_names;
    port_names.reserve(vm_ports.size());
    for (const vm_port& p : vm_ports) port_names.push_back(p.name.empty() ? p.mac.to_string() : p.name + " " + p.mac.to_string());
    counters += example::traffic_text(ctx, port_names);
    std::fwrite(counters.data(), 1, counters.size(), stderr);
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
    if (command == "egress" || command == "ingress") return cmd_run(command, args);
    return fail("unknown command '" + std::string(command) + "' (see nvgre-pcap --help)");
}
