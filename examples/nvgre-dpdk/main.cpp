// nvgre-dpdk: a Hyper-V Network Virtualization switch for one host on DPDK, built on the
// nvgre library: every VM port and the fabric port are DPDK ethdevs, worker lcores poll them
// in bursts and run the pipelines on the rte_mbufs themselves (mbuf_adapter.hpp, switch.hpp).
//
//   nvgre-dpdk [EAL options] -- --policy FILE|--ovsdb REMOTES --host NAME --fabric PORT --vm PORT=VM [--vm ...]
//                               [--underlay-mtu N] [--idle-sleep-us N] [--control SOCKET] [--grace-ms N]
//   nvgre-dpdk [EAL options] -- --bench [--records N] [--seconds S | --milliseconds N] [--repeat K]
//                                                                                  (bench.cpp)
//
//   --ovsdb REMOTES  take the policy from an OVSDB store of nvgre.ovsschema instead of a file
//                    (tcp:IP:PORT or unix:PATH, comma-separated: the members of a cluster): the
//                    host agent (examples/nvgre-ovsdb/agent.hpp) syncs it before the switch starts
//                    (at most 30 s), then runs in a thread of its own and applies each change the
//                    store makes to the live policy; `apply` on the control socket is refused
//                    then (the store is the one source of policy: nvgre-ovsdb apply). The agent's
//                    thread is a plain control-plane thread, not an lcore: no worker runs it
//                    (it inherits the main lcore's CPU set; examples/nvgre-ovsdb/switch_agent.hpp)
//   PORT             an ethdev name, e.g. the name of a --vdev: net_af_packet_fab0,iface=fab0
//   --vm PORT=VM     a VM port, and the MAC (or vm= name) of the VM NIC behind it in the policy;
//                    VM ports are numbered 0, 1, ... in --vm order (state::bind_port)
//   --underlay-mtu N the outer IP MTU (default: the fabric port's MTU)
//   --idle-sleep-us N how long a worker sleeps after 64 rounds without a frame (default 100)
//   --control SOCKET a Unix socket for nvgre-ctl (examples/common/control_socket.hpp), as
//                    nvgre-switch's: change sets (`apply FILE`), VM ports attached and detached
//                    (`attach IFACE=VM`: a net_af_packet port on Linux interface IFACE, hot-
//                    plugged; `detach IFACE`) and `show generation|counters|ports`, while forwarding
//   --grace-ms N     the migration grace window (docs/policy-lifecycle.md; default 10000)
//
// Every lcore but the main one is a worker, and every port gets one rx and one tx queue per
// worker (net_af_packet: qpairs=W). Each worker reads the policy, a live_policy, under one read
// guard per round, and takes the ports from the port table last published (switch.hpp). The
// main lcore serves the control socket and signals (SIGUSR1 prints the counters, SIGINT/SIGTERM
// stop the switch, which prints them once more and exits 0) and closes the migration grace
// windows that are over; what it changes reaches the workers without a lock on their path.
// On this project's 2-CPU machines the demo maps three lcores onto two CPUs:
//   --lcores 0@0,1@0,2@1     main lcore 0 and worker 1 on CPU 0, worker 2 on CPU 1
// Exit 1 with one line on stderr when EAL initialisation, a port or the policy fails.
#include "../common/control_socket.hpp"
#include "../common/switch_commands.hpp"
#include "../common/traffic_text.hpp"
#include "../common/vm_port.hpp"
#include "bench.hpp"
#include "ports.hpp"
#ifdef NVGRE_DPDK_OVSDB
#include "switch_agent.hpp"  // examples/nvgre-ovsdb
#endif

#include <nvgre/mac_address.hpp>
#include <nvgre/policy/live_policy.hpp>
#include <nvgre/policy/loader.hpp>
#include <nvgre/policy/state.hpp>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace nvgre_dpdk;

std::atomic<bool> stop_requested{false};
std::atomic<bool> dump_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

std::atomic<int> wakeup_fd{-1};  // the write end of the main lcore's wake-up pipe
static_assert(std::atomic<int>::is_always_lock_free);

void on_signal(int sig) {
    if (sig == SIGUSR1) dump_requested.store(true);
    else stop_requested.store(true);
    const int saved = errno;
    if (const int fd = wakeup_fd.load(); fd >= 0) (void)!write(fd, "", 1);  // full: the main lcore is awake already
    errno = saved;
}

/// The last non-empty line of `text`, without its end of line.
std::string last_line(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    const auto at = text.rfind('\n');
    return std::string(at == std::string_view::npos ? text : text.substr(at + 1));
}

/// DPDK's own log lines go to a buffer until the switch is ready: a failure is one line of
/// ours (with the last thing DPDK said, when that helps), then its messages go to stderr.
struct dpdk_log {
    char* text{nullptr};
    std::size_t size{0};
    FILE* stream{nullptr};

    void capture() {
        stream = open_memstream(&text, &size);
        if (stream != nullptr) rte_openlog_stream(stream);
    }
    std::string last() {
        if (stream != nullptr) std::fflush(stream);
        return last_line(text != nullptr ? std::string_view(text, size) : std::string_view{});
    }
    /// The last line DPDK logged that mentions `what`, or "".
    std::string last_about(const std::string& what) {
        if (stream != nullptr) std::fflush(stream);
        std::string_view all = text != nullptr ? std::string_view(text, size) : std::string_view{};
        std::string found;
        while (!all.empty()) {
            const auto end = all.find('\n');
            const std::string_view line = all.substr(0, end);
            if (line.find(what) != std::string_view::npos) found = std::string(line);
            all = end == std::string_view::npos ? std::string_view{} : all.substr(end + 1);
        }
        return found;
    }
    void to_stderr() {
        if (stream == nullptr) return;
        rte_openlog_stream(stderr);
        std::fclose(stream);
        std::free(text);
        stream = nullptr;
        text = nullptr;
    }
};
dpdk_log eal_log;

/// VM ports --control can attach beyond those given at start, for which the mbuf pool is made
/// bigger (a NIC fills its rx rings from the pool when it starts). Beyond them, an attached
/// port may find the pool short.
constexpr std::size_t attachable_ports = 4;
/// VSIDs each worker counts on their own (show counters); more are summed in "vsid other".
constexpr std::size_t vsids_counted = 4096;

int fail(const std::string& message) {
    std::fprintf(stderr, "nvgre-dpdk: %s\n", message.c_str());
    return 1;
}

struct arguments {
    std::string policy, ovsdb, host, fabric;
    std::vector<std::pair<std::string, std::string>> vms;  // port, MAC or VM name
    std::size_t underlay_mtu{0};
    std::uint32_t idle_sleep_us{100};
    std::string control;  // the control socket's path (none: no control)
    long grace_ms{nvgre::policy::live_policy::default_grace_window.count()};
    bool bench{false};
    bench_arguments b;
};

std::optional<std::string> parse_number(std::string_view option, const std::string& value, std::size_t low,
                                        std::size_t high, std::size_t& out) {
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec != std::errc{} || end != value.data() + value.size() || out < low || out > high)
        return std::string(option) + " wants a number from " + std::to_string(low) + " to " + std::to_string(high) +
               ", not '" + value + "'";
    return std::nullopt;
}

std::optional<std::string> parse_arguments(int argc, char** argv, arguments& a) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--bench") {
            a.bench = true;
            continue;
        }
        if (i + 1 >= argc) return "option '" + std::string(arg) + "' needs a value";
        const std::string value = argv[++i];
        std::size_t n = 0;
        if (arg == "--policy") a.policy = value;
        else if (arg == "--ovsdb") a.ovsdb = value;
        else if (arg == "--host") a.host = value;
        else if (arg == "--fabric") a.fabric = value;
        else if (arg == "--vm") {
            auto vm = example::split_vm_option(value);
            if (!vm) return "--vm wants PORT=MAC or PORT=VM-NAME, not '" + value + "'";
            a.vms.push_back(std::move(*vm));
        } else if (arg == "--underlay-mtu") {
            if (auto e = parse_number(arg, value, 1280, 65535, a.underlay_mtu)) return e;
        } else if (arg == "--idle-sleep-us") {
            if (auto e = parse_number(arg, value, 1, 100000, n)) return e;
            a.idle_sleep_us = static_cast<std::uint32_t>(n);
        } else if (arg == "--control") {
            a.control = value;
        } else if (arg == "--grace-ms") {
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), a.grace_ms);
            if (ec != std::errc{} || end != value.data() + value.size() || a.grace_ms < 0 || a.grace_ms > 3'600'000)
                return "--grace-ms wants a number of milliseconds from 0 to 3600000, not '" + value + "'";
        } else if (arg == "--records") {
            if (auto e = parse_number(arg, value, 1000, 4000000, n)) return e;
            a.b.records = static_cast<std::uint32_t>(n);
        } else if (arg == "--seconds") {
            if (auto e = parse_number(arg, value, 1, 600, n)) return e;
            a.b.milliseconds = static_cast<unsigned>(n * 1000);
        } else if (arg == "--milliseconds") {
            if (auto e = parse_number(arg, value, 100, 600000, n)) return e;
            a.b.milliseconds = static_cast<unsigned>(n);
        } else if (arg == "--repeat") {
            if (auto e = parse_number(arg, value, 1, 99, n)) return e;
            a.b.repeat = static_cast<unsigned>(n);
        } else {
            return "unknown option '" + std::string(arg) + "'";
        }
    }
    if (a.bench) return std::nullopt;
    if (a.policy.empty() == a.ovsdb.empty()) return "one of --policy FILE and --ovsdb REMOTES is required (or --bench)";
    if (a.host.empty() || a.fabric.empty() || (a.vms.empty() && a.control.empty()))
        return "--host, --fabric and at least one --vm (or --control, to attach VM ports later) are required";
    return std::nullopt;
}

/// Counters of every worker, as SIGUSR1, `show counters` and the end print them: the sum, then
/// per port and per lcore, then the traffic of each VM port number and VSID (as nvgre-switch
/// prints them: examples/common/traffic_text.hpp), then the policy's generation. Each line but
/// the traffic lines ends with its number (the demo reads them).
std::string format_counters(const std::string& host, const port_table& ports, std::span<const unsigned> lcores,
                            std::span<const worker_counters> per_worker, std::uint64_t generation) {
    worker_counters total;
    for (const auto& c : per_worker) total += c;
    std::string text = "nvgre-dpdk " + host + ": counters\n";
    for (std::size_t v = 0; v < dp::verdict_count; ++v)
        text += "verdict " + std::string(dp::to_string(static_cast<dp::verdict>(v))) + " " +
                std::to_string(total.verdicts.verdicts[v]) + "\n";
    for (std::size_t r = 1; r < dp::drop_reason_count; ++r)
        text += "drop " + std::string(dp::to_string(static_cast<dp::drop_reason>(r))) + " " +
                std::to_string(total.verdicts.drops[r]) + "\n";
    for (std::size_t i = 0; i < ports.slots.size(); ++i) {
        const port* p = ports.at(i);
        if (p == nullptr) continue;
        const port_counters& c = total.ports[i];
        text += "port " + p->name + " rx " + std::to_string(c.rx) + "\n";
        text += "port " + p->name + " tx " + std::to_string(c.tx) + "\n";
        text += "port " + p->name + " tx-dropped " + std::to_string(c.tx_dropped) + "\n";
    }
    for (std::size_t w = 0; w < per_worker.size(); ++w) {
        text += "lcore " + std::to_string(lcores[w]) + " rx " + std::to_string(per_worker[w].rx) + "\n";
        text += "lcore " + std::to_string(lcores[w]) + " tx " + std::to_string(per_worker[w].tx) + "\n";
        text += "lcore " + std::to_string(lcores[w]) + " idle-sleeps " + std::to_string(per_worker[w].idle_sleeps) + "\n";
    }
    text += "tx-no-port " + std::to_string(total.tx_no_port) + "\n";
    text += "unmetered " + std::to_string(total.unmetered) + "\n";
    // The VM port numbers named as nvgre-switch names them: the interface (else the ethdev) and
    // the VM's MAC; a number no port holds now is shown without a name.
    std::vector<std::string> names(total.per_port.size());
    for (std::size_t i = 0; i < ports.slots.size(); ++i) {
        const port* p = ports.at(i);
        if (p == nullptr || p->fabric || p->vm >= names.size()) continue;
        names[p->vm] = (p->iface.empty() ? p->name : p->iface) + " " + p->vm_mac.to_string();
    }
    // The ports through traffic_text, from a context that holds the summed port counters; the
    // VSIDs in its format, from the summed VSID counters (a vsid_counters table takes frames,
    // not sums).
    dp::context summed(0, total.per_port.size());
    std::copy(total.per_port.begin(), total.per_port.end(), summed.per_port.begin());
    summed.port_other = total.port_other;
    text += example::traffic_text(summed, names);
    const dp::traffic_counters none{};
    for (const auto& [vsid, t] : total.per_vsid)
        if (!(t == none)) text += "vsid " + std::to_string(vsid) + " " + example::traffic_line(t) + "\n";
    if (!(total.vsid_other == none)) text += "vsid other " + example::traffic_line(total.vsid_other) + "\n";
    text += "generation " + std::to_string(generation) + "\n";
    text += "nvgre-dpdk " + host + ": end of counters\n";
    return text;
}

void print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
}

struct worker_launch {
    worker* w;
    const std::atomic<std::uint64_t>* publish;
};

int worker_main(void* arg) {
    auto* l = static_cast<worker_launch*>(arg);
    l->w->run(stop_requested, *l->publish);
    return 0;
}

/// The main lcore's side of a running switch: the live policy, the published port table, the
/// workers, the control socket. It serves commands and signals while the workers forward, and
/// every change it makes reaches them without a lock on their path: change sets through the
/// live policy, attach and detach through a new port table.
class control_plane {
public:
    control_plane(const arguments& a, nvgre::policy::model m, const nvgre::policy::state& policy,
                  std::vector<std::optional<port>> ports, pools pool, const dp::pipeline_config& cfg,
                  std::vector<unsigned> lcores, std::optional<example::control_server> control)
        : host_(a.host), live_(std::move(m), policy), pool_(pool), cfg_(cfg),
          lcores_(std::move(lcores)), control_(std::move(control)),
          table_(std::make_unique<port_table>(std::move(ports), 1)) {
        live_.set_grace_window(std::chrono::milliseconds(a.grace_ms));
        for (const port* p : attached(*table_)) next_attachment_ = std::max(next_attachment_, p->attachment + 1);
        tables_.store(table_.get(), std::memory_order_release);
        launches_.resize(lcores_.size());
        for (std::size_t w = 0; w < lcores_.size(); ++w) {
            worker::settings s;
            s.queue = static_cast<std::uint16_t>(w);
            s.pool = pool_.standard;
            s.large_pool = pool_.large;
            s.idle_sleep_us = a.idle_sleep_us;
            s.vm_ports = max_ports - 1;  // every VM port number a port can be attached as
            s.vsids = vsids_counted;
            s.meters = &meters_;         // one bucket per VM port number and direction, for every worker
            // Each worker reads the policy through a reader of its own (made here: registering
            // one is a control-plane call).
            workers_.emplace_back(live_.make_reader(), cfg_, tables_, s);
            launches_[w] = {&workers_.back(), &publish_};
        }
    }

    void launch() {
        for (std::size_t w = 0; w < lcores_.size(); ++w) rte_eal_remote_launch(worker_main, &launches_[w], lcores_[w]);
    }

    /// Until SIGINT/SIGTERM: counters on SIGUSR1, commands on the control socket, the
    /// migration grace windows closed when they are over. Then waits for the workers, prints
    /// the counters once more and closes the ports.
    void run(int wakeup) {
        while (!stop_requested.load()) {
            if (dump_requested.exchange(false)) print(counters(published_counters()));
            std::array<pollfd, 2> fds{{{wakeup, POLLIN, 0}, {control_ ? control_->fd() : -1, POLLIN, 0}}};
            // At least every 100 ms: the grace windows end on time.
            if (poll(fds.data(), fds.size(), 100) > 0) {
                if (fds[0].revents & POLLIN) drain(wakeup);
                if (fds[1].revents & POLLIN)
                    control_->on_readable([this](const example::control_request& r) {
                        if (policy_from_store && !r.words.empty() && r.words[0] == "apply")
                            return example::control_reply{false, "this switch takes its policy from OVSDB (--ovsdb): commit the change set there (nvgre-ovsdb apply)\n"};
                        return example::run_switch_command(live_, *this, "nvgre-dpdk " + host_, r);
                    });
            }
            live_.end_grace_windows();
        }
        rte_eal_mp_wait_lcore();
        std::vector<worker_counters> final_counters;
        final_counters.reserve(workers_.size());
        for (const worker& w : workers_) final_counters.push_back(w.live_counters());
        print(counters(final_counters));
        for (const port* p : attached(*table_)) {
            (void)rte_eth_dev_stop(p->id);
            (void)rte_eth_dev_close(p->id);
        }
    }

private:
    /// The ports of `t`, without its empty slots.
    static std::vector<const port*> attached(const port_table& t) {
        std::vector<const port*> out;
        for (std::size_t i = 0; i < t.slots.size(); ++i)
            if (const port* p = t.at(i)) out.push_back(p);
        return out;
    }

    static void drain(int fd) {
        std::array<char, 64> bytes{};
        while (read(fd, bytes.data(), bytes.size()) > 0) {}
    }

    std::string counters(std::span<const worker_counters> per_worker) const {
        return format_counters(host_, *table_, lcores_, per_worker, live_.generation());
    }

    /// Every worker's counters as of now: each publishes its own between two rounds.
    std::vector<worker_counters> published_counters() {
        const std::uint64_t want = publish_.fetch_add(1) + 1;
        std::vector<worker_counters> c;
        c.reserve(workers_.size());
        for (worker& w : workers_) {
            for (int tries = 0; w.published() != want && tries < 2000; ++tries)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            c.push_back(w.counters());
        }
        return c;
    }

    /// Publishes the ports in `slots` and returns when every worker runs its rounds with them:
    /// from then on no worker touches a port that is not among them, and the table before is
    /// freed.
    void publish(std::vector<std::optional<port>> slots) {
        auto next = std::make_unique<port_table>(std::move(slots), table_->generation + 1);
        tables_.store(next.get(), std::memory_order_release);
        // A worker reaches the new table at the top of its next round, when the round before
        // (the old table's, and what it queued) is over: a round, or an idle sleep, away.
        for (const worker& w : workers_)
            while (w.reached() < next->generation) std::this_thread::sleep_for(std::chrono::microseconds(20));
        table_ = std::move(next);
    }

public:
    bool policy_from_store{false};  // --ovsdb: the agent is the one writer of policy

    /// The live policy, for the agent's thread (--ovsdb): its writers are serialised by it.
    nvgre::policy::live_policy& live() { return live_; }

    // The switch's part of the control commands (examples/common/switch_commands.hpp).

    std::string counters_text() { return counters(published_counters()); }

    /// `attach IFACE=VM`: a net_af_packet port on Linux interface IFACE, set up as the ports
    /// given at start are and numbered as the first free VM port. VM is a MAC (its records may
    /// come later: the port carries traffic once they do) or a vm= name of the policy in force.
    example::control_reply attach(const std::string& what) {
        const auto vm = example::split_vm_option(what);
        if (!vm) return {false, "attach wants IFACE=MAC or IFACE=VM-NAME, not '" + what + "'\n"};
        const auto& [iface, who] = *vm;
        for (const port* p : attached(*table_))
            if (p->iface == iface || p->name == af_packet_name(iface)) return {false, "'" + iface + "' is already attached\n"};
        const std::optional<nvgre::mac_address> mac = example::vm_mac_in_policy(live_, who);
        if (!mac) return {false, "no VM '" + who + "' in the policy\n"};
        for (const port* p : attached(*table_))
            if (!p->fabric && p->vm_mac == *mac) return {false, mac->to_string() + " is already attached on '" + shown_name(*p) + "'\n"};
        // VM port n lives in slot n + 1 (the fabric has slot 0), as the ports given at start do.
        std::size_t slot = 1;
        while (table_->at(slot) != nullptr) ++slot;
        if (slot >= max_ports) return {false, "too many VM ports (" + std::to_string(max_ports - 1) + ")\n"};
        const auto number = static_cast<std::uint32_t>(slot - 1);

        port p;
        if (auto e = probe_af_packet(iface, static_cast<std::uint16_t>(workers_.size()), p.id)) return {false, *e + "\n"};
        p.name = af_packet_name(iface);
        p.iface = iface;
        p.vm = number;
        p.vm_mac = *mac;
        p.attachment = next_attachment_++;
        if (auto e = setup_port(p, static_cast<std::uint16_t>(workers_.size()), pool_.standard)) {
            remove_port(p.id);
            return {false, *e + "\n"};
        }
        // A VM new on this number starts with full buckets (before it is bound: from then on
        // the workers meter what goes to it).
        meters_.reset(number);
        if (!live_.bind_port(number, *mac)) {
            remove_port(p.id);
            return {false, "cannot bind VM port " + std::to_string(number) + "\n"};
        }
        auto slots = table_->slots;
        if (slots.size() <= slot) slots.resize(slot + 1);
        slots[slot] = p;
        publish(std::move(slots));
        std::fprintf(stderr, "nvgre-dpdk %s: attached %s (%s) as port %u\n", host_.c_str(), iface.c_str(),
                     mac->to_string().c_str(), number);
        return {true, "port " + std::to_string(number) + " " + iface + " " + mac->to_string() + "\n"};
    }

    /// `detach IFACE` (the Linux interface, or the ethdev name): the workers stop polling the
    /// port, and once none is inside a round that could use it, it is stopped, closed and
    /// removed, and its number unbound (frames for its VM are then counted tx-no-port until
    /// its records move away).
    example::control_reply detach(const std::string& iface) {
        for (std::size_t i = 0; i < table_->slots.size(); ++i) {
            const port* found = table_->at(i);
            if (found == nullptr || found->fabric || (found->iface != iface && found->name != iface)) continue;
            const port p = *found;
            auto slots = table_->slots;
            slots[i].reset();
            publish(std::move(slots));
            remove_port(p.id);
            live_.unbind_port(p.vm);
            std::fprintf(stderr, "nvgre-dpdk %s: detached %s (port %u)\n", host_.c_str(), iface.c_str(), p.vm);
            return {true, "detached " + iface + " (port " + std::to_string(p.vm) + ")\n"};
        }
        return {false, "no attached port '" + iface + "'\n"};
    }

    /// What `show ports` calls a port: its Linux interface, like nvgre-switch, or its ethdev name.
    static const std::string& shown_name(const port& p) { return p.iface.empty() ? p.name : p.iface; }

    /// One line per VM port: number, interface, MAC, VSID (or why it has none).
    std::string ports_text() const {
        return live_.inspect([this](const nvgre::policy::state& s) {
            std::string text;
            for (const port* p : attached(*table_)) {
                if (p->fabric) continue;
                const auto* lp = s.port(p->vm_mac);
                text += "port " + std::to_string(p->vm) + " " + shown_name(*p) + " " + p->vm_mac.to_string() +
                        (lp != nullptr ? " vsid " + std::to_string(lp->vsid) : std::string(" no-records-on-this-host")) + "\n";
            }
            return text;
        });
    }

private:
    std::string host_;
    // Declared before the workers: their readers must go first.
    nvgre::policy::live_policy live_;
    pools pool_;
    dp::pipeline_config cfg_;
    std::vector<unsigned> lcores_;
    std::optional<example::control_server> control_;
    std::unique_ptr<port_table> table_;               // the table in force (the workers' once publish() returns)
    std::atomic<const port_table*> tables_{nullptr};  // where the workers find it
    std::uint64_t next_attachment_{1};
    std::atomic<std::uint64_t> publish_{0};           // counters requests (worker::run)
    dp::port_meters meters_{max_ports - 1};           // the VM ports' bandwidth, shared by the workers
    std::deque<worker> workers_;
    std::vector<worker_launch> launches_;
};

/// The switch proper: ports, policy, workers, until a signal stops it.
int run_switch(const arguments& a) {
    const unsigned workers = rte_lcore_count() - 1;
    if (workers == 0) return fail("no worker lcore: give EAL at least two lcores (e.g. --lcores 0@0,1@1)");

    // The control path: load and validate the policy (from its file, or the store's first
    // sync), index it for this host.
    nvgre::policy::load_result loaded;
    std::string source = a.policy;  // where the policy came from, as the messages name it
#ifdef NVGRE_DPDK_OVSDB
    example::switch_agent store;
    if (!a.ovsdb.empty()) {
        std::string error;
        auto synced = store.sync(a.ovsdb, a.host, "nvgre-dpdk", std::chrono::seconds(30), error);
        if (!synced) return fail(error);
        loaded.validated = std::move(*synced);
        source = "the store";
    }
#else
    if (!a.ovsdb.empty()) return fail("--ovsdb: this nvgre-dpdk was built without nlohmann-json (Debian nlohmann-json3-dev)");
#endif
    if (a.ovsdb.empty()) loaded = nvgre::policy::load_policy_file(a.policy);
    if (!loaded) {
        // The first diagnostic names the file, line and column itself.
        return fail(loaded.diagnostics.empty() ? source + ": invalid" : loaded.diagnostics.front().to_string());
    }
    auto built = nvgre::policy::state::build(*loaded.validated, a.host);
    if (!built) return fail(source + ": cannot index for host '" + a.host + "': " + nvgre::policy::to_string(*built.error));
    nvgre::policy::state policy = std::move(built).value();
    if (policy.local_pa_indices().empty()) return fail("host '" + a.host + "' owns no provider address in " + source);

    // Slot 0 the fabric, slot n + 1 VM port n (the --vm order): the workers' port table.
    std::vector<std::optional<port>> ports;
    auto add_port = [&](const std::string& name, bool fabric, std::uint32_t vm, nvgre::mac_address mac) -> std::optional<std::string> {
        std::uint16_t id = 0;
        if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
            const std::string said = eal_log.last_about(name);
            return "no DPDK port '" + name + "' (" +
                   (said.empty() ? "give it with --vdev, e.g. --vdev " + name + ",iface=IFACE" : said) + ")";
        }
        for (const auto& p : ports)
            if (p->id == id) return "port '" + name + "' given twice";
        if (ports.size() == max_ports) return "more than " + std::to_string(max_ports) + " ports";
        port p;
        p.id = id;
        p.name = name;
        p.iface = interface_of(id);
        p.fabric = fabric;
        p.vm = vm;
        p.vm_mac = mac;
        p.attachment = ports.size() + 1;
        ports.emplace_back(std::move(p));
        return std::nullopt;
    };
    if (auto e = add_port(a.fabric, true, no_port, {})) return fail("--fabric: " + *e);
    for (const auto& [name, what] : a.vms) {
        const auto mac = example::vm_mac_of(*loaded.validated, policy, what);
        if (!mac) return fail("--vm " + name + "=" + what + ": no VM of host '" + a.host + "' in " + source);
        const auto number = static_cast<std::uint32_t>(ports.size() - 1);
        if (auto e = add_port(name, false, number, *mac)) return fail("--vm " + name + ": " + *e);
        if (!policy.bind_port(number, *mac)) return fail("--vm " + name + ": cannot bind VM port " + std::to_string(number));
    }

    pools pool;
    // With --control, mbufs for the rings of ports attached later too.
    const std::size_t room = a.control.empty() ? ports.size() : std::min(max_ports, ports.size() + attachable_ports);
    if (auto e = pool.create(room, workers, a.underlay_mtu)) return fail(*e);
    for (auto& p : ports)
        if (auto e = setup_port(*p, static_cast<std::uint16_t>(workers), pool.standard)) return fail(*e);

    dp::pipeline_config cfg;
    const port& fabric = *ports[0];
    std::uint16_t fabric_mtu = 1500;
    (void)rte_eth_dev_get_mtu(fabric.id, &fabric_mtu);
    cfg.underlay_mtu = a.underlay_mtu != 0 ? a.underlay_mtu : fabric_mtu;
    offloads_into(cfg, fabric);
    if (const char* why = cfg.validate()) return fail(std::string("--underlay-mtu: ") + why);

    std::vector<unsigned> lcores;
    unsigned lcore = 0;
    RTE_LCORE_FOREACH_WORKER(lcore) lcores.push_back(lcore);

    std::string ready = "nvgre-dpdk " + a.host + ": ready: " + std::to_string(workers) + " worker lcores (";
    for (std::size_t w = 0; w < lcores.size(); ++w)
        ready += (w ? ", " : "") + std::to_string(lcores[w]) + " on CPU " + std::to_string(rte_lcore_to_cpu_id(static_cast<int>(lcores[w])));
    ready += "), fabric " + fabric.name + " (underlay MTU " + std::to_string(cfg.underlay_mtu) + ", offloads: " +
             offload_summary(cfg, fabric) + ")";
    for (std::size_t i = 1; i < ports.size(); ++i) {
        const auto* lp = policy.port(ports[i]->vm_mac);
        ready += ", " + ports[i]->name + " (" + lp->mac.to_string() + ", VSID " + std::to_string(lp->vsid) + ")";
    }

    std::optional<example::control_server> control;
    if (!a.control.empty()) {
        std::string error;
        control = example::control_server::open(a.control, error);
        if (!control) return fail("--control " + a.control + ": " + error);
        ready += ", control " + a.control;
    }
    // A signal wakes the main lcore's poll() through this pipe, whichever thread it lands on
    // (EAL's threads take signals too).
    std::array<int, 2> wakeup{-1, -1};
    if (pipe2(wakeup.data(), O_NONBLOCK | O_CLOEXEC) != 0) return fail(std::string("pipe: ") + std::strerror(errno));
    wakeup_fd.store(wakeup[1]);

    // Two copies of the policy (left-right): the workers never wait for a change.
    control_plane main_lcore(a, *loaded.validated, policy, std::move(ports), pool, cfg, std::move(lcores), std::move(control));

    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaction(sig, &sa, nullptr);

    eal_log.to_stderr();
    std::fprintf(stderr, "%s\n", ready.c_str());
    std::fflush(stderr);

    main_lcore.launch();
#ifdef NVGRE_DPDK_OVSDB
    // From here the agent writes to the live policy, from a thread of its own: a control-plane
    // thread beside the main lcore (a std::thread, not an lcore: it takes no worker's lcore and
    // runs on the main lcore's CPU set), with every signal blocked (they are the main lcore's).
    // The workers never wait for it, and it never waits for them longer than one round.
    if (!a.ovsdb.empty()) {
        main_lcore.policy_from_store = true;
        store.follow(main_lcore.live());
    }
    main_lcore.run(wakeup[0]);
    store.stop();
#else
    main_lcore.run(wakeup[0]);
#endif
    wakeup_fd.store(-1);
    close(wakeup[0]);
    close(wakeup[1]);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
        std::fputs("usage: nvgre-dpdk [EAL options] -- --policy FILE|--ovsdb REMOTES --host NAME --fabric PORT --vm PORT=MAC|VM-NAME [--vm ...]\n"
                   "                                  [--underlay-mtu N] [--idle-sleep-us N] [--control SOCKET] [--grace-ms N]\n"
                   "       nvgre-dpdk [EAL options] -- --bench [--records N] [--seconds S | --milliseconds N] [--repeat K]\n",
                   stdout);
        return 0;
    }
    eal_log.capture();
    rte_log_set_global_level(RTE_LOG_WARNING);
    // EAL also writes to stderr itself (getopt's complaints, "EAL: FATAL: ..."): into the
    // buffer's file for the duration.
    std::fflush(stderr);
    const int saved_stderr = dup(STDERR_FILENO);
    FILE* init_errors = std::tmpfile();
    if (init_errors != nullptr) dup2(fileno(init_errors), STDERR_FILENO);
    const int used = rte_eal_init(argc, argv);
    std::fflush(stderr);
    if (saved_stderr >= 0) {
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
    }
    if (init_errors != nullptr) std::fclose(init_errors);
    if (used < 0) {
        const std::string said = eal_log.last();
        return fail(std::string("EAL initialisation failed: ") + rte_strerror(rte_errno) + (said.empty() ? "" : " (" + said + ")"));
    }
    argc -= used;
    argv += used;

    arguments a;
    int status = 0;
    if (auto e = parse_arguments(argc, argv, a)) status = fail(*e + " (see nvgre-dpdk --help)");
    else if (a.bench) {
        eal_log.to_stderr();
        status = run_bench(a.b);
    } else {
        status = run_switch(a);
    }
    eal_log.to_stderr();
    rte_eal_cleanup();
    return status;
}
