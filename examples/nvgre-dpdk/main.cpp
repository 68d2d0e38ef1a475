// nvgre-dpdk: a Hyper-V Network Virtualization switch for one host on DPDK, built on the
// nvgre library: every VM port and the fabric port are DPDK ethdevs, worker lcores poll them
// in bursts and run the pipelines on the rte_mbufs themselves (mbuf_adapter.hpp, switch.hpp).
//
//   nvgre-dpdk [EAL options] -- --policy FILE --host NAME --fabric PORT --vm PORT=VM [--vm ...]
//                               [--underlay-mtu N] [--idle-sleep-us N]
//   nvgre-dpdk [EAL options] -- --bench [--records N] [--seconds S | --milliseconds N] [--repeat K]
//                                                                                  (bench.cpp)
//
//   PORT             an ethdev name, e.g. the name of a --vdev: net_af_packet_fab0,iface=fab0
//   --vm PORT=VM     a VM port, and the MAC (or vm= name) of the VM NIC behind it in the policy;
//                    VM ports are numbered 0, 1, ... in --vm order (state::bind_port)
//   --underlay-mtu N the outer IP MTU (default: the fabric port's MTU)
//   --idle-sleep-us N how long a worker sleeps after 64 rounds without a frame (default 100)
//
// Every lcore but the main one is a worker, and every port gets one rx and one tx queue per
// worker (net_af_packet: qpairs=W). The main lcore only waits: for signals (SIGUSR1 prints
// the counters, SIGINT/SIGTERM stop the switch, which prints them once more and exits 0).
// On this project's 2-CPU machines the demo maps three lcores onto two CPUs:
//   --lcores 0@0,1@0,2@1     main lcore 0 and worker 1 on CPU 0, worker 2 on CPU 1
// Exit 1 with one line on stderr when EAL initialisation, a port or the policy fails.
#include "../common/vm_port.hpp"
#include "bench.hpp"
#include "ports.hpp"

#include <nvgre/mac_address.hpp>
#include <nvgre/policy/loader.hpp>
#include <nvgre/policy/state.hpp>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include <unistd.h>

#include <algorithm>
#include <charconv>
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

void on_signal(int sig) {
    if (sig == SIGUSR1) dump_requested.store(true);
    else stop_requested.store(true);
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

int fail(const std::string& message) {
    std::fprintf(stderr, "nvgre-dpdk: %s\n", message.c_str());
    return 1;
}

struct arguments {
    std::string policy, host, fabric;
    std::vector<std::pair<std::string, std::string>> vms;  // port, MAC or VM name
    std::size_t underlay_mtu{0};
    std::uint32_t idle_sleep_us{100};
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
    if (!a.bench && (a.policy.empty() || a.host.empty() || a.fabric.empty() || a.vms.empty()))
        return "--policy, --host, --fabric and at least one --vm are required (or --bench)";
    return std::nullopt;
}

/// Counters of every worker, as SIGUSR1 and the end print them: the sum, then per port and
/// per lcore. Each line ends with its number (the demo reads them).
void print_counters(const std::string& host, std::span<const port> ports, std::span<const unsigned> lcores,
                    std::span<const worker_counters> per_worker) {
    worker_counters total;
    for (const auto& c : per_worker) total += c;
    std::string text = "nvgre-dpdk " + host + ": counters\n";
    for (std::size_t v = 0; v < dp::verdict_count; ++v)
        text += "verdict " + std::string(dp::to_string(static_cast<dp::verdict>(v))) + " " +
                std::to_string(total.verdicts.verdicts[v]) + "\n";
    for (std::size_t r = 1; r < dp::drop_reason_count; ++r)
        text += "drop " + std::string(dp::to_string(static_cast<dp::drop_reason>(r))) + " " +
                std::to_string(total.verdicts.drops[r]) + "\n";
    for (std::size_t i = 0; i < ports.size(); ++i) {
        const port_counters& p = total.ports[i];
        text += "port " + ports[i].name + " rx " + std::to_string(p.rx) + "\n";
        text += "port " + ports[i].name + " tx " + std::to_string(p.tx) + "\n";
        text += "port " + ports[i].name + " tx-dropped " + std::to_string(p.tx_dropped) + "\n";
    }
    for (std::size_t w = 0; w < per_worker.size(); ++w) {
        text += "lcore " + std::to_string(lcores[w]) + " rx " + std::to_string(per_worker[w].rx) + "\n";
        text += "lcore " + std::to_string(lcores[w]) + " tx " + std::to_string(per_worker[w].tx) + "\n";
        text += "lcore " + std::to_string(lcores[w]) + " idle-sleeps " + std::to_string(per_worker[w].idle_sleeps) + "\n";
    }
    text += "tx-no-port " + std::to_string(total.tx_no_port) + "\n";
    text += "nvgre-dpdk " + host + ": end of counters\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
}

struct launch {
    worker* w;
    const std::atomic<std::uint64_t>* publish;
};

int worker_main(void* arg) {
    auto* l = static_cast<launch*>(arg);
    l->w->run(stop_requested, *l->publish);
    return 0;
}

/// The switch proper: ports, policy, workers, until a signal stops it.
int run_switch(const arguments& a) {
    const unsigned workers = rte_lcore_count() - 1;
    if (workers == 0) return fail("no worker lcore: give EAL at least two lcores (e.g. --lcores 0@0,1@1)");

    const nvgre::policy::load_result loaded = nvgre::policy::load_policy_file(a.policy);
    if (!loaded) {
        // The first diagnostic names the file, line and column itself.
        return fail(loaded.diagnostics.empty() ? a.policy + ": invalid" : loaded.diagnostics.front().to_string());
    }
    auto built = nvgre::policy::state::build(*loaded.validated, a.host);
    if (!built) return fail(a.policy + ": cannot index for host '" + a.host + "': " + nvgre::policy::to_string(*built.error));
    nvgre::policy::state policy = std::move(built).value();
    if (policy.local_pa_indices().empty()) return fail("host '" + a.host + "' owns no provider address in " + a.policy);

    std::vector<port> ports;
    auto add_port = [&](const std::string& name, bool fabric, std::uint32_t vm) -> std::optional<std::string> {
        std::uint16_t id = 0;
        if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
            const std::string said = eal_log.last_about(name);
            return "no DPDK port '" + name + "' (" +
                   (said.empty() ? "give it with --vdev, e.g. --vdev " + name + ",iface=IFACE" : said) + ")";
        }
        for (const port& p : ports)
            if (p.id == id) return "port '" + name + "' given twice";
        if (ports.size() == max_ports) return "more than " + std::to_string(max_ports) + " ports";
        port p;
        p.id = id;
        p.name = name;
        p.fabric = fabric;
        p.vm = vm;
        ports.push_back(p);
        return std::nullopt;
    };
    if (auto e = add_port(a.fabric, true, no_port)) return fail("--fabric: " + *e);
    for (const auto& [name, what] : a.vms) {
        const auto mac = example::vm_mac_of(*loaded.validated, policy, what);
        if (!mac) return fail("--vm " + name + "=" + what + ": no VM of host '" + a.host + "' in " + a.policy);
        const auto number = static_cast<std::uint32_t>(ports.size() - 1);
        if (auto e = add_port(name, false, number)) return fail("--vm " + name + ": " + *e);
        if (!policy.bind_port(number, *mac)) return fail("--vm " + name + ": cannot bind VM port " + std::to_string(number));
    }

    pools pool;
    if (auto e = pool.create(ports.size(), workers, a.underlay_mtu)) return fail(*e);
    for (port& p : ports)
        if (auto e = setup_port(p, static_cast<std::uint16_t>(workers), pool.standard)) return fail(*e);

    dp::pipeline_config cfg;
    std::uint16_t fabric_mtu = 1500;
    (void)rte_eth_dev_get_mtu(ports[0].id, &fabric_mtu);
    cfg.underlay_mtu = a.underlay_mtu != 0 ? a.underlay_mtu : fabric_mtu;
    offloads_into(cfg, ports[0]);
    if (const char* why = cfg.validate()) return fail(std::string("--underlay-mtu: ") + why);

    std::vector<unsigned> lcores;
    unsigned lcore = 0;
    RTE_LCORE_FOREACH_WORKER(lcore) lcores.push_back(lcore);
    std::deque<worker> ws;
    std::atomic<std::uint64_t> publish{0};
    std::vector<launch> launches(workers);
    for (unsigned w = 0; w < workers; ++w) {
        worker::settings s;
        s.queue = static_cast<std::uint16_t>(w);
        s.pool = pool.standard;
        s.large_pool = pool.large;
        s.idle_sleep_us = a.idle_sleep_us;
        s.vm_ports = a.vms.size();
        ws.emplace_back(policy, cfg, ports, s);
        launches[w] = {&ws.back(), &publish};
    }

    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaction(sig, &sa, nullptr);

    std::string ready = "nvgre-dpdk " + a.host + ": ready: " + std::to_string(workers) + " worker lcores (";
    for (std::size_t w = 0; w < lcores.size(); ++w)
        ready += (w ? ", " : "") + std::to_string(lcores[w]) + " on CPU " + std::to_string(rte_lcore_to_cpu_id(static_cast<int>(lcores[w])));
    ready += "), fabric " + ports[0].name + " (underlay MTU " + std::to_string(cfg.underlay_mtu) + ", offloads: " +
             offload_summary(cfg, ports[0]) + ")";
    for (std::size_t i = 1; i < ports.size(); ++i) {
        const auto* lp = policy.port(*example::vm_mac_of(*loaded.validated, policy, a.vms[i - 1].second));
        ready += ", " + ports[i].name + " (" + lp->mac.to_string() + ", VSID " + std::to_string(lp->vsid) + ")";
    }
    eal_log.to_stderr();
    std::fprintf(stderr, "%s\n", ready.c_str());
    std::fflush(stderr);

    for (unsigned w = 0; w < workers; ++w)
        rte_eal_remote_launch(worker_main, &launches[w], lcores[w]);

    auto published_counters = [&] {
        const std::uint64_t want = publish.fetch_add(1) + 1;
        std::vector<worker_counters> c;
        c.reserve(ws.size());
        for (worker& w : ws) {
            for (int tries = 0; w.published() != want && tries < 2000; ++tries)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            c.push_back(w.counters());
        }
        return c;
    };
    // The main lcore waits (rte_eal_mp_wait_lcore would spin on its CPU meanwhile).
    while (!stop_requested.load()) {
        if (dump_requested.exchange(false)) print_counters(a.host, ports, lcores, published_counters());
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    rte_eal_mp_wait_lcore();
    std::vector<worker_counters> final_counters;
    final_counters.reserve(ws.size());
    for (const worker& w : ws) final_counters.push_back(w.live_counters());
    print_counters(a.host, ports, lcores, final_counters);
    for (const port& p : ports) {
        (void)rte_eth_dev_stop(p.id);
        (void)rte_eth_dev_close(p.id);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
        std::fputs("usage: nvgre-dpdk [EAL options] -- --policy FILE --host NAME --fabric PORT --vm PORT=MAC|VM-NAME [--vm ...]\n"
                   "                                  [--underlay-mtu N] [--idle-sleep-us N]\n"
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
