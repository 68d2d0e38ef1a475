// nvgre-switch: a small userspace Hyper-V Network Virtualization switch for one host, built
// only on the nvgre library and Linux packet sockets (AF_PACKET). It is the example to read to
// see how to embed the library in a switch:
//
//   nvgre-switch --policy FILE|--ovsdb REMOTES --host NAME --fabric IFACE --vm IFACE=VM [--vm IFACE=VM ...]
//                [--underlay-mtu N] [--control SOCKET] [--grace-ms N]
//
//   --ovsdb REMOTES  take the policy from an OVSDB store of nvgre.ovsschema instead of a file
//                    (tcp:IP:PORT or unix:PATH, comma-separated: the members of a cluster): the
//                    host agent (examples/nvgre-ovsdb/agent.hpp) syncs it before the switch starts
//                    (at most 30 s), then runs in a thread of its own and applies each change the
//                    store makes to the live policy; `apply` on the control socket is refused
//                    then (the store is the one source of policy: nvgre-ovsdb apply)
//   --fabric IFACE   the physical NIC: NVGRE (and IP-rewrite) packets in and out; the switch
//                    answers ARP / neighbor solicitations for its PAs there itself
//   --vm IFACE=VM    a VM port: the interface the VM's NIC is plugged into, and that NIC's MAC
//                    (or its vm= name in the policy). The port is bound to the lookup record
//                    with that MAC, so its VSID and customer addresses come from the policy.
//   --underlay-mtu N the outer IP MTU (default: the fabric interface's MTU)
//   --control SOCKET a Unix socket for nvgre-ctl (examples/common/control_socket.hpp): change
//                    sets (`apply`), VM ports attached and detached (`attach IFACE=VM`,
//                    `detach IFACE`) and `show generation|counters|ports`, while forwarding
//   --grace-ms N     the migration grace window (docs/policy-lifecycle.md; default 10000)
//
// Every frame read from a VM port runs through egress_burst(), every frame read from the
// fabric through ingress_burst(); each output goes where its outcome says. Counters of every
// verdict and drop reason are printed on stderr on SIGUSR1 and on SIGINT/SIGTERM (then exit 0).
// Exit 1 with one line on stderr for a bad argument, a bad policy, a missing interface or
// missing permission (CAP_NET_RAW).
//
// VM ports are opened with PACKET_VNET_HDR: each frame a VM sends comes with the virtio-net
// header its kernel filled, which says whether the TCP/UDP checksum is still partial (checksum
// offload) and whether the frame is one large TCP segment to be cut into `gso_size` pieces
// (TSO). Those become the frame's offload metadata, and the pipeline completes the checksum and
// segments in software, since no NIC can do it inside GRE for us.
//
// The policy is a live_policy: each burst runs under a read guard, and control commands are
// served between bursts by the same thread (a real switch runs one datapath thread per core,
// each with its own reader, and serves the control socket from another thread: the readers
// never wait for it). What it leaves out, on purpose: plain sendmsg() per frame (a real switch
// batches with sendmmsg or an AF_XDP / PACKET_MMAP ring).

#include "../common/control_socket.hpp"
#include "../common/switch_commands.hpp"
#include "../common/traffic_text.hpp"
#include "../common/vm_port.hpp"
#ifdef NVGRE_SWITCH_OVSDB
#include "switch_agent.hpp"  // examples/nvgre-ovsdb
#endif

#include <nvgre/datapath/egress.hpp>
#include <nvgre/datapath/frame.hpp>
#include <nvgre/datapath/ingress.hpp>
#include <nvgre/datapath/pipeline.hpp>
#include <nvgre/datapath/too_big.hpp>
#include <nvgre/datapath/verdict.hpp>
#include <nvgre/mac_address.hpp>
#include <nvgre/policy/live_policy.hpp>
#include <nvgre/policy/loader.hpp>
#include <nvgre/policy/state.hpp>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace dp = nvgre::datapath;

constexpr std::size_t burst_size = 32;
/// VM port numbers the switch counts and meters on their own (--vm ports and attached ones).
constexpr std::size_t max_vm_ports = 256;
/// VSIDs counted on their own (show counters); more are summed in "vsid other".
constexpr std::size_t max_vsids_counted = 4096;
// Room for the largest frame a packet socket can hand over: a VM NIC with TSO on sends TCP
// segments of up to 64 KB (an IP packet of 65535 bytes behind the Ethernet header), which
// egress segments in software (with room to spare for a tag).
constexpr std::size_t max_frame = 65536 + 64;
constexpr std::size_t slot_size = dp::recommended_headroom + max_frame;

// The virtio-net header packet sockets exchange with PACKET_VNET_HDR (linux/virtio_net.h, which
// C++ cannot include: a member is named `class`), in host byte order.
struct virtio_net_hdr {
    std::uint8_t flags;
    std::uint8_t gso_type;
    std::uint16_t hdr_len;
    std::uint16_t gso_size;
    std::uint16_t csum_start;
    std::uint16_t csum_offset;
};
static_assert(sizeof(virtio_net_hdr) == 10);
constexpr std::uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr std::uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
constexpr std::uint8_t VIRTIO_NET_HDR_GSO_TCPV6 = 4;
constexpr std::uint8_t VIRTIO_NET_HDR_GSO_ECN = 0x80;

volatile std::sig_atomic_t stop_requested = 0;
volatile std::sig_atomic_t dump_requested = 0;

void on_signal(int sig) {
    if (sig == SIGUSR1) dump_requested = 1;
    else stop_requested = 1;
}

int fail(const std::string& message) {
    std::fprintf(stderr, "nvgre-switch: %s\n", message.c_str());
    return 1;
}

/// One interface and its packet socket.
struct port {
    std::string name;
    int fd{-1};
    nvgre::mac_address vm_mac{};  ///< the VM NIC on this port (unused for the fabric)
    bool vnet_header{false};      ///< frames in and out start with a virtio_net_hdr (VM ports)
};

/// Opens a packet socket bound to interface `name`, non-blocking, promiscuous (a VM port sees
/// frames for any destination MAC), not seeing its own transmissions. On failure, the reason.
std::optional<std::string> open_port(port& p) {
    const unsigned index = if_nametoindex(p.name.c_str());
    if (index == 0) return "no interface '" + p.name + "'";
    // Protocol 0 receives nothing until bind() names ETH_P_ALL on this interface, so no frame
    // of another interface slips in between socket() and bind().
    p.fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p.fd < 0) {
        if (errno == EPERM || errno == EACCES)
            return "opening a packet socket on '" + p.name + "' needs CAP_NET_RAW (run as root)";
        return "socket(AF_PACKET) for '" + p.name + "': " + std::strerror(errno);
    }
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = static_cast<int>(index);
    if (bind(p.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
        return "bind to '" + p.name + "': " + std::strerror(errno);
    packet_mreq promisc{};
    promisc.mr_ifindex = static_cast<int>(index);
    promisc.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(p.fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &promisc, sizeof promisc) != 0)
        return "promiscuous mode on '" + p.name + "': " + std::strerror(errno);
    // Linux 4.20+: our own transmissions are not looped back to us. Older kernels: filtered
    // by sll_pkttype below.
    int one = 1;
    (void)setsockopt(p.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    if (p.vnet_header && setsockopt(p.fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0)
        return "PACKET_VNET_HDR on '" + p.name + "': " + std::strerror(errno);
    return std::nullopt;
}

std::size_t interface_mtu(const std::string& name) {
    ifreq req{};
    std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const bool ok = fd >= 0 && ioctl(fd, SIOCGIFMTU, &req) == 0;
    if (fd >= 0) close(fd);
    return ok && req.ifr_mtu > 0 ? static_cast<std::size_t>(req.ifr_mtu) : 1500;
}

/// The switch: ports, buffers, counters, and where each outcome's frame goes.
class vswitch {
public:
    vswitch(nvgre::policy::live_policy& policy, std::string host, port fabric, std::vector<port> vms,
            dp::pipeline_config cfg, std::optional<example::control_server> control)
        : live_(policy), reader_(policy.make_reader()), host_(std::move(host)), fabric_(std::move(fabric)),
          vms_(std::move(vms)), cfg_(cfg), control_(std::move(control)), slots_(burst_size * slot_size), scratch_(slot_size) {
        // Too-big answers to VMs (path-MTU discovery), at most a burst of 10 and then 10 a
        // second per source; one context, since the switch is one datapath thread.
        ctx_.limit_answers(10, 10);
        // The port classifications' bandwidth: one bucket per port number and direction.
        ctx_.share_meters(&meters_);
    }

    /// Polls every port (and the control socket) until SIGINT/SIGTERM; prints counters on
    /// SIGUSR1 and at the end.
    void run() {
        std::vector<pollfd> fds;
        while (!stop_requested) {
            if (dump_requested) {
                dump_requested = 0;
                print_counters();
            }
            // The set is rebuilt each round: attach and detach change the ports between rounds.
            fds.clear();
            fds.push_back({fabric_.fd, POLLIN, 0});
            for (const port& p : vms_) fds.push_back({p.fd, POLLIN, 0});  // a detached slot's -1 is skipped
            if (control_) fds.push_back({control_->fd(), POLLIN, 0});
            // Wake at least every 100 ms to close migration grace windows that are over.
            if (poll(fds.data(), fds.size(), 100) < 0) continue;  // EINTR: a signal; look at the flags
            if (fds[0].revents & (POLLIN | POLLERR)) receive(fabric_, nullptr);
            // POLLERR too: reading takes the error (e.g. ENETDOWN when the interface left the
            // namespace), else poll() would report it again at once, round after round.
            for (std::size_t i = 0; i < vms_.size(); ++i)
                if (fds[i + 1].revents & (POLLIN | POLLERR)) receive(vms_[i], &vms_[i]);
            if (control_ && (fds.back().revents & POLLIN))
                control_->on_readable([this](const example::control_request& r) {
                    if (policy_from_store && !r.words.empty() && r.words[0] == "apply")
                        return example::control_reply{false, "this switch takes its policy from OVSDB (--ovsdb): commit the change set there (nvgre-ovsdb apply)\n"};
                    return example::run_switch_command(live_, *this, "nvgre-switch " + host_, r);
                });
            live_.end_grace_windows();
        }
        print_counters();
    }

    // The replication sink of the pipelines (flood copies, multicast delivery, software
    // segments and fragments): one scratch buffer is enough because each copy is sent before
    // the next is asked for.
    dp::frame* allocate(std::size_t size, std::size_t headroom) noexcept {
        if (headroom + size > scratch_.size()) return nullptr;
        scratch_frame_ = dp::frame(scratch_, headroom, size);
        return &scratch_frame_;
    }
    void send(dp::frame& f, const dp::destination& d) noexcept { transmit(f, d, nullptr); }
    void discard(dp::frame&) noexcept {}  // the scratch buffer is reused by the next copy

private:
    /// Reads one burst from `from` (a VM port, or the fabric when null) and runs it through
    /// the pipeline of that side.
    void receive(const port& p, const port* vm) {
        std::array<mmsghdr, burst_size> msgs{};
        std::array<std::array<iovec, 2>, burst_size> iov{};
        std::array<virtio_net_hdr, burst_size> vnet{};
        std::array<sockaddr_ll, burst_size> from{};
        const std::size_t skip = p.vnet_header ? 1 : 0;  // VM ports: the virtio-net header first
        for (std::size_t i = 0; i < burst_size; ++i) {
            iov[i][0] = {&vnet[i], sizeof vnet[i]};
            iov[i][1] = {slots_.data() + i * slot_size + dp::recommended_headroom, max_frame};
            msgs[i].msg_hdr.msg_iov = iov[i].data() + (1 - skip);
            msgs[i].msg_hdr.msg_iovlen = 1 + skip;
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        }
        const int n = recvmmsg(p.fd, msgs.data(), burst_size, MSG_DONTWAIT, nullptr);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++port_errors_;
        if (n <= 0) return;

        // Frames with headroom in front, so encap writes the outer headers without a copy.
        std::array<dp::frame, burst_size> frames;
        std::array<std::uint32_t, burst_size> port_ids;  // our VM port numbers (state::bind_port)
        std::size_t count = 0;
        for (int i = 0; i < n; ++i) {
            if (from[i].sll_pkttype == PACKET_OUTGOING) continue;  // our own, on old kernels
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                ++rx_truncated_;
                continue;
            }
            const std::size_t header = skip * sizeof(virtio_net_hdr);
            if (msgs[i].msg_len < header) continue;
            const auto slot = std::span<std::byte>(slots_).subspan(static_cast<std::size_t>(i) * slot_size, slot_size);
            frames[count] = dp::frame(slot, dp::recommended_headroom, msgs[i].msg_len - header);
            if (vm != nullptr) {
                port_ids[count] = static_cast<std::uint32_t>(vm - vms_.data());
                if (p.vnet_header) frames[count].offload = offload_of(vnet[static_cast<std::size_t>(i)]);
            }
            ++count;
        }

        std::array<dp::outcome, burst_size> out;
        const auto burst = std::span(frames).first(count);
        // The policy of this burst: stable until the guard ends, whatever the control plane does.
        const auto guard = reader_.read();
        const nvgre::policy::state& policy = *guard;
        if (vm != nullptr)
            dp::egress_burst(policy, burst, std::span<const std::uint32_t>(port_ids).first(count),
                             std::span(out).first(count), *this, ctx_, cfg_);
        else
            dp::ingress_burst(policy, burst, std::span(out).first(count), *this, ctx_, cfg_);

        for (std::size_t i = 0; i < count; ++i) {
            const dp::outcome& o = out[i];
            // Answers ingress gives on the fabric: ARP / ND for our PAs (no VSID), and ingress
            // rule 6's, through the tunnel (both go back out of the fabric port).
            if (vm == nullptr && o.verdict == dp::verdict::reply) ++(o.vsid == 0 ? fabric_answers_pa_ : fabric_answers_tunnel_);
            // Dropped, or already replicated through the sink (flood, multicast delivery).
            if (o.verdict == dp::verdict::drop || o.verdict == dp::verdict::flood || o.copies > 0) continue;
            transmit(frames[i], o.to, vm);
        }
    }

    /// Sends `f` toward `d`; `sender` is the VM port the frame came from (for replies).
    void transmit(const dp::frame& f, const dp::destination& d, const port* sender) noexcept {
        const port* to = nullptr;
        switch (d.to) {
            case dp::destination::kind::fabric: to = &fabric_; break;
            case dp::destination::kind::sender: to = sender; break;
            case dp::destination::kind::vm:
                // The outcome names our own port number: no search.
                if (d.port < vms_.size() && vms_[d.port].fd >= 0) to = &vms_[d.port];
                break;
        }
        if (to == nullptr || to->fd < 0) {  // a local VM the policy knows but this switch has no port for
            ++tx_no_port_;
            return;
        }
        const auto bytes = f.bytes();
        // VM ports: the virtio-net header says what is left to do (a VM-to-VM frame on this
        // host keeps its sender's partial checksum and segment size; everything else arrives
        // finished). The fabric takes finished frames only: egress completed and segmented them.
        virtio_net_hdr vnet = vnet_of(f);
        std::array<iovec, 2> iov{{{&vnet, sizeof vnet}, {bytes.data(), bytes.size()}}};
        msghdr msg{};
        msg.msg_iov = iov.data() + (to->vnet_header ? 0 : 1);
        msg.msg_iovlen = to->vnet_header ? 2 : 1;
        const std::size_t expected = bytes.size() + (to->vnet_header ? sizeof vnet : 0);
        if (sendmsg(to->fd, &msg, 0) != static_cast<ssize_t>(expected)) ++tx_errors_;
    }

    /// The virtio-net header for a frame delivered to a VM port: its offload metadata.
    static virtio_net_hdr vnet_of(const dp::frame& f) noexcept {
        virtio_net_hdr h{};
        const dp::offload_info& o = f.offload;
        if (!o.checksum_partial) return h;
        h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.csum_start = static_cast<std::uint16_t>(o.checksum_start);
        h.csum_offset = static_cast<std::uint16_t>(o.checksum_offset);
        if (o.segment_size != 0 && f.size() >= 14) {
            const auto b = f.bytes();
            const bool v6 = (std::to_integer<unsigned>(b[12]) << 8 | std::to_integer<unsigned>(b[13])) == 0x86dd;
            h.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
            h.gso_size = static_cast<std::uint16_t>(o.segment_size);
            // The headers end where the TCP header does (its data offset, 4-byte words).
            const std::size_t start = o.checksum_start;
            const std::size_t doff = start + 12 < f.size() ? (std::to_integer<std::size_t>(b[start + 12]) >> 4) * 4 : 20;
            h.hdr_len = static_cast<std::uint16_t>(std::min(f.size(), start + doff));
        }
        return h;
    }

    /// The offload metadata of a frame from a VM: a partial checksum still to be completed,
    /// and the segment size of a TCP segment larger than the MTU (TSO).
    static dp::offload_info offload_of(const virtio_net_hdr& h) noexcept {
        dp::offload_info o;
        if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
            o.checksum_partial = true;
            o.checksum_start = h.csum_start;
            o.checksum_offset = h.csum_offset;
        }
        const auto type = static_cast<std::uint8_t>(h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN);
        if (type == VIRTIO_NET_HDR_GSO_TCPV4 || type == VIRTIO_NET_HDR_GSO_TCPV6) o.segment_size = h.gso_size;
        return o;
    }

public:
    // The switch's part of the control commands (examples/common/switch_commands.hpp).

    /// `attach IFACE=VM`: a packet socket on IFACE, numbered as the first free VM port. VM is a
    /// MAC (its records may come later: the port carries traffic once they do) or a vm= name of
    /// the policy in force.
    example::control_reply attach(const std::string& what) {
        const auto vm = example::split_vm_option(what);
        if (!vm) return {false, "attach wants IFACE=MAC or IFACE=VM-NAME, not '" + what + "'\n"};
        const auto& [iface, who] = *vm;
        for (const port& p : vms_)
            if (p.fd >= 0 && p.name == iface) return {false, "'" + iface + "' is already attached\n"};
        const std::optional<nvgre::mac_address> mac = example::vm_mac_in_policy(live_, who);
        if (!mac) return {false, "no VM '" + who + "' in the policy\n"};
        for (const port& p : vms_)
            if (p.fd >= 0 && p.vm_mac == *mac) return {false, mac->to_string() + " is already attached on '" + p.name + "'\n"};
        port p{iface, -1, *mac, true};
        if (auto e = open_port(p)) {
            if (p.fd >= 0) close(p.fd);
            return {false, *e + "\n"};
        }
        std::size_t slot = 0;
        while (slot < vms_.size() && vms_[slot].fd >= 0) ++slot;
        if (slot >= max_vm_ports || !live_.bind_port(static_cast<std::uint32_t>(slot), *mac)) {
            close(p.fd);
            return {false, "too many VM ports\n"};
        }
        if (slot == vms_.size()) vms_.push_back(std::move(p));
        else vms_[slot] = std::move(p);
        meters_.reset(static_cast<std::uint32_t>(slot));  // a new VM on this number starts with full buckets
        std::fprintf(stderr, "nvgre-switch %s: attached %s (%s) as port %zu\n", host_.c_str(), iface.c_str(),
                     mac->to_string().c_str(), slot);
        return {true, "port " + std::to_string(slot) + " " + iface + " " + mac->to_string() + "\n"};
    }

    /// `detach IFACE`: the port's socket closed, its number unbound (frames for its VM are then
    /// counted tx-no-port until its records move away).
    example::control_reply detach(const std::string& iface) {
        for (std::size_t i = 0; i < vms_.size(); ++i) {
            if (vms_[i].fd < 0 || vms_[i].name != iface) continue;
            live_.unbind_port(static_cast<std::uint32_t>(i));
            close(vms_[i].fd);
            vms_[i] = port{};
            std::fprintf(stderr, "nvgre-switch %s: detached %s (port %zu)\n", host_.c_str(), iface.c_str(), i);
            return {true, "detached " + iface + " (port " + std::to_string(i) + ")\n"};
        }
        return {false, "no attached port '" + iface + "'\n"};
    }

    /// One line per attached VM port: number, interface, MAC, VSID (or why it has none).
    std::string ports_text() {
        std::string text;
        const auto guard = reader_.read();
        for (std::size_t i = 0; i < vms_.size(); ++i) {
            const port& p = vms_[i];
            if (p.fd < 0) continue;
            const auto* lp = guard->port(p.vm_mac);
            text += "port " + std::to_string(i) + " " + p.name + " " + p.vm_mac.to_string() +
                    (lp != nullptr ? " vsid " + std::to_string(lp->vsid) : std::string(" no-records-on-this-host")) + "\n";
        }
        return text;
    }

    bool policy_from_store{false};  // --ovsdb: the agent is the one writer of policy

    void print_counters() const {
        const std::string text = counters_text();
        std::fwrite(text.data(), 1, text.size(), stderr);
        std::fflush(stderr);
    }

    std::string counters_text() const {
        std::string text = "nvgre-switch " + host_ + ": counters\n";
        for (std::size_t v = 0; v < dp::verdict_count; ++v)
            text += "verdict " + std::string(dp::to_string(static_cast<dp::verdict>(v))) + " " +
                    std::to_string(ctx_.count.verdicts[v]) + "\n";
        for (std::size_t r = 1; r < dp::drop_reason_count; ++r)
            text += "drop " + std::string(dp::to_string(static_cast<dp::drop_reason>(r))) + " " +
                    std::to_string(ctx_.count.drops[r]) + "\n";
        text += "fabric-answer pa " + std::to_string(fabric_answers_pa_) + "\n";
        text += "fabric-answer tunnel " + std::to_string(fabric_answers_tunnel_) + "\n";
        text += "rx-truncated " + std::to_string(rx_truncated_) + "\n";
        text += "tx-no-port " + std::to_string(tx_no_port_) + "\n";
        text += "tx-error " + std::to_string(tx_errors_) + "\n";
        text += "port-error " + std::to_string(port_errors_) + "\n";
        text += "unmetered " + std::to_string(ctx_.unmetered) + "\n";
        std::vector<std::string> names(vms_.size());
        for (std::size_t i = 0; i < vms_.size(); ++i)
            if (vms_[i].fd >= 0) names[i] = vms_[i].name + " " + vms_[i].vm_mac.to_string();
        text += example::traffic_text(ctx_, names);
        text += "generation " + std::to_string(live_.generation()) + "\n";
        text += "nvgre-switch " + host_ + ": end of counters\n";
        return text;
    }

private:
    nvgre::policy::live_policy& live_;
    nvgre::policy::live_policy::reader reader_;
    std::string host_;
    port fabric_;
    std::vector<port> vms_;
    dp::pipeline_config cfg_;
    std::optional<example::control_server> control_;
    std::vector<std::byte> slots_;    // burst_size buffers of slot_size, reused every burst
    std::vector<std::byte> scratch_;  // the replication copy
    dp::frame scratch_frame_{};
    dp::context ctx_{max_vsids_counted, max_vm_ports};  // counters, the rate limit of the router's answers, the meters
    dp::port_meters meters_{max_vm_ports};
    std::uint64_t fabric_answers_pa_{0};
    std::uint64_t fabric_answers_tunnel_{0};
    std::uint64_t rx_truncated_{0};
    std::uint64_t tx_no_port_{0};
    std::uint64_t tx_errors_{0};
    std::uint64_t port_errors_{0};  // a port's socket failed (e.g. its interface left the namespace)
};
static_assert(dp::replication_sink<vswitch>);

struct arguments {
    std::string policy, ovsdb, host, fabric;
    std::vector<std::pair<std::string, std::string>> vms;  // interface, MAC or VM name
    std::size_t underlay_mtu{0};
    std::string control;               // the control socket's path (none: no control)
    long grace_ms{nvgre::policy::live_policy::default_grace_window.count()};
};

std::optional<std::string> parse_arguments(int argc, char** argv, arguments& a) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 >= argc) return "option '" + std::string(arg) + "' needs a value";
        const std::string value = argv[++i];
        if (arg == "--policy") a.policy = value;
        else if (arg == "--ovsdb") a.ovsdb = value;
        else if (arg == "--host") a.host = value;
        else if (arg == "--fabric") a.fabric = value;
        else if (arg == "--vm") {
            auto vm = example::split_vm_option(value);
            if (!vm) return "--vm wants IFACE=MAC or IFACE=VM-NAME, not '" + value + "'";
            a.vms.push_back(std::move(*vm));
        } else if (arg == "--underlay-mtu") {
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), a.underlay_mtu);
            if (ec != std::errc{} || end != value.data() + value.size() || a.underlay_mtu < 1280 || a.underlay_mtu > 65535)
                return "--underlay-mtu wants a number from 1280 to 65535, not '" + value + "'";
        } else if (arg == "--control") {
            a.control = value;
        } else if (arg == "--grace-ms") {
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), a.grace_ms);
            if (ec != std::errc{} || end != value.data() + value.size() || a.grace_ms < 0 || a.grace_ms > 3'600'000)
                return "--grace-ms wants a number of milliseconds from 0 to 3600000, not '" + value + "'";
        } else {
            return "unknown option '" + std::string(arg) + "'";
        }
    }
    if (a.policy.empty() == a.ovsdb.empty()) return "one of --policy FILE and --ovsdb REMOTES is required";
    if (a.host.empty() || a.fabric.empty() || (a.vms.empty() && a.control.empty()))
        return "--host, --fabric and at least one --vm (or --control, to attach VM ports later) are required";
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
        std::fputs("usage: nvgre-switch --policy FILE|--ovsdb REMOTES --host NAME --fabric IFACE --vm IFACE=MAC|VM-NAME [--vm ...]\n"
                   "                    [--underlay-mtu N] [--control SOCKET] [--grace-ms N]\n",
                   stdout);
        return 0;
    }
    arguments a;
    if (auto e = parse_arguments(argc, argv, a)) return fail(*e + " (see nvgre-switch --help)");

    // The control path: load and validate the policy (from its file, or the store's first
    // sync), index it for this host.
    nvgre::policy::load_result loaded;
#ifdef NVGRE_SWITCH_OVSDB
    example::switch_agent store;
    if (!a.ovsdb.empty()) {
        std::string error;
        auto synced = store.sync(a.ovsdb, a.host, "nvgre-switch", std::chrono::seconds(30), error);
        if (!synced) return fail(error);
        loaded.validated = std::move(*synced);
        a.policy = "the store";
    }
#else
    if (!a.ovsdb.empty()) return fail("--ovsdb: this nvgre-switch was built without nlohmann-json (Debian nlohmann-json3-dev)");
#endif
    if (a.ovsdb.empty()) loaded = nvgre::policy::load_policy_file(a.policy);
    if (!loaded) {
        for (const auto& d : loaded.diagnostics) std::fprintf(stderr, "%s\n", d.to_string().c_str());
        return 1;
    }
    auto built = nvgre::policy::state::build(*loaded.validated, a.host);
    if (!built) return fail(a.policy + ": cannot index for host '" + a.host + "': " + nvgre::policy::to_string(*built.error));
    nvgre::policy::state policy = std::move(built).value();
    if (policy.local_pa_indices().empty()) return fail("host '" + a.host + "' owns no provider address in " + a.policy);

    port fabric{a.fabric};
    if (auto e = open_port(fabric)) return fail(*e);
    std::vector<port> vms;
    for (const auto& [iface, what] : a.vms) {
        const auto mac = example::vm_mac_of(*loaded.validated, policy, what);
        if (!mac) return fail("--vm " + iface + "=" + what + ": no VM of host '" + a.host + "' in " + a.policy);
        // The switch numbers its VM ports 0, 1, ... in --vm order: egress takes frames by that
        // number and outcomes name their output port by it.
        if (vms.size() >= max_vm_ports || !policy.bind_port(static_cast<std::uint32_t>(vms.size()), *mac))
            return fail("--vm " + iface + ": too many VM ports (at most " + std::to_string(max_vm_ports) + ")");
        port p{iface, -1, *mac, true};
        if (auto e = open_port(p)) return fail(*e);
        vms.push_back(std::move(p));
    }

    struct sigaction sa{};
    sa.sa_handler = on_signal;  // no SA_RESTART: poll() returns EINTR and the loop looks at the flags
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaction(sig, &sa, nullptr);

    dp::pipeline_config cfg;
    // (An interface MTU above the largest IP packet — loopback's 65536 — is that packet's.)
    cfg.underlay_mtu = a.underlay_mtu != 0 ? a.underlay_mtu : std::min<std::size_t>(interface_mtu(a.fabric), 65535);
    if (const char* why = cfg.validate()) return fail(std::string("--underlay-mtu: ") + why);
    std::string ready = "nvgre-switch " + a.host + ": ready: fabric " + a.fabric + " (underlay MTU " +
                        std::to_string(cfg.underlay_mtu) + ")";
    for (const port& p : vms) {
        const auto* lp = policy.port(p.vm_mac);
        ready += ", " + p.name + " (" + p.vm_mac.to_string() + ", VSID " + std::to_string(lp->vsid) + ")";
    }
    std::optional<example::control_server> control;
    if (!a.control.empty()) {
        std::string error;
        control = example::control_server::open(a.control, error);
        if (!control) return fail("--control " + a.control + ": " + error);
        ready += ", control " + a.control;
    }
    // Two copies of the policy (left-right): readers never wait for a change.
    nvgre::policy::live_policy live(*loaded.validated, policy);
    live.set_grace_window(std::chrono::milliseconds(a.grace_ms));
    std::fprintf(stderr, "%s\n", ready.c_str());
    std::fflush(stderr);

    vswitch sw(live, a.host, std::move(fabric), std::move(vms), cfg, std::move(control));
#ifdef NVGRE_SWITCH_OVSDB
    // From here the agent writes to the live policy, from a thread of its own: readers never
    // wait for it, and it never waits for them longer than one burst.
    if (!a.ovsdb.empty()) {
        sw.policy_from_store = true;
        store.follow(live);
    }
    sw.run();
    store.stop();
#else
    sw.run();
#endif
    return 0;
}
