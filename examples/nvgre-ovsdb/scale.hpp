/// @file examples/nvgre-ovsdb/scale.hpp
/// @brief `nvgre-ovsdb scale`: many host agents against a real OVSDB cluster (make scale).
///
///   nvgre-ovsdb scale --remote R1,R2,R3 [--hosts 1000] [--domains 200] [--records 100000]
///                     [--changes 120] [--kill-leader CMD] [--seed N]
///
/// 1. Generates a policy: H hosts (one PA and one provider route each), D routing domains of
///    two subnets, R lookup records; the records of a domain live on the H/D hosts assigned to
///    it (so a host serves one domain, until migrations move VMs across); every 50th record
///    names a port classification. The policy is validated, then loaded in transactions of
///    at most 20,000 rows.
/// 2. Starts H agents (agent.hpp, the code a switch runs), each in a thread of its own with its
///    own connection, monitor and condition, spread over the members; each applies to a
///    validated model (the same change-set rules a live policy applies). Waits until all are live.
/// 3. Commits the changes one at a time, each one transaction: migrations (every 5th to a host
///    of another domain, which then receives that whole domain), new VMs and removals. For each,
///    the time from just before the commit until every concerned host (those whose view holds
///    the record before or after) applied it. Halfway, CMD kills the cluster's leader; the next
///    change is committed through the survivors, and the failover time is from the kill until
///    that change reached every concerned host and every agent is live again.
/// 4. Stops the agents and compares each host's applied policy with what the store holds for
///    it (host_view.hpp's view_of over a full read of the store).
/// The last line: `scale: H hosts, R records, change to all concerned hosts p50 A ms p99 B ms;
/// failover: C ms, D hosts behind; E hosts differ`. Exit 0 when no host is behind or differs.
#pragma once

#include "agent.hpp"
#include "host_view.hpp"
#include "store.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

namespace nvgre::ovsdb {

namespace scale_detail {

struct scale_options {
    std::vector<remote> remotes;
    std::size_t hosts{1000}, domains{200}, records{100000}, changes{120};
    std::string kill_leader;  ///< shell command that kills the leader (scripts/ovsdb_cluster.py kill-leader DIR)
    std::uint64_t seed{1};
    bool verbose{false};  ///< every agent's log on stderr (else only refusals and skipped rows)
};

inline std::string host_name(std::size_t h) { return "hv" + std::to_string(h); }
inline std::string pa_of(std::size_t h) {
    const std::size_t n = h + 1;
    return "172." + std::to_string(16 + (n >> 16)) + "." + std::to_string((n >> 8) & 0xff) + "." + std::to_string(n & 0xff);
}
inline std::string hex(std::uint64_t v, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%0*llx", digits, static_cast<unsigned long long>(v));
    return buf;
}
inline std::string rdid_of(std::size_t d) { return "{" + hex(d + 1, 8) + "-0000-4000-8000-" + hex(d + 1, 12) + "}"; }
inline std::string mac_of(std::uint64_t n, std::uint8_t first) {
    return hex(first, 2) + ":15:5d:" + hex((n >> 16) & 0xff, 2) + ":" + hex((n >> 8) & 0xff, 2) + ":" + hex(n & 0xff, 2);
}

/// One VM record as the driver tracks it.
struct vm {
    std::size_t domain{0}, host{0};
    std::uint32_t vsid{0};
    std::string ca, mac, classification;
    bool alive{true};
    [[nodiscard]] std::string line() const {
        return "lookup-record vsid=" + std::to_string(vsid) + " ca=" + ca + " mac=" + mac + " pa=" + pa_of(host) +
               (classification.empty() ? "" : " classification=" + classification);
    }
    [[nodiscard]] std::string identity() const { return "lookup-record vsid=" + std::to_string(vsid) + " ca=" + ca; }
};

/// The generated world, and which hosts serve which domain (how many VMs each has there).
struct world {
    scale_options opt;
    std::vector<vm> vms;
    std::vector<std::vector<std::size_t>> hosts_of_domain;  // assigned at generation
    std::vector<std::map<std::size_t, std::size_t>> vms_on;  // host -> domain -> VMs
    std::vector<std::size_t> next_ca;                        // per domain
    std::uint64_t next_mac{1};

    [[nodiscard]] std::uint32_t vsid_of(std::size_t d, std::size_t s) const { return static_cast<std::uint32_t>(10000 + 2 * d + s); }

    vm make_vm(std::size_t d, std::size_t h) {
        const std::size_t k = next_ca[d]++;
        vm v;
        v.domain = d;
        v.host = h;
        const std::size_t subnet = k % 2;
        v.vsid = vsid_of(d, subnet);
        v.ca = "10." + std::to_string(subnet) + "." + std::to_string((k / 2) / 250) + "." + std::to_string((k / 2) % 250 + 2);
        v.mac = mac_of(next_mac++, 0x00);
        if (k % 50 == 0) v.classification = "gold";
        return v;
    }

    std::string policy_text() {
        std::string t = "port-classification name=gold maximum-bandwidth=1G outer-dscp=34\n";
        for (std::size_t h = 0; h < opt.hosts; ++h) {
            t += "provider-address host=" + host_name(h) + " pa=" + pa_of(h) + " prefix-length=12 mac=" + mac_of(h, 0x02) + "\n";
            t += "provider-route host=" + host_name(h) + " prefix=192.168.0.0/16 next-hop=172.31.255.254 next-hop-mac=02:00:00:00:00:fe\n";
        }
        hosts_of_domain.assign(opt.domains, {});
        for (std::size_t h = 0; h < opt.hosts; ++h) hosts_of_domain[h % opt.domains].push_back(h);
        vms_on.assign(opt.hosts, {});
        next_ca.assign(opt.domains, 0);
        for (std::size_t d = 0; d < opt.domains; ++d) {
            const std::string rdid = rdid_of(d);
            t += "routing-domain rdid=" + rdid + " name=tenant" + std::to_string(d) + "\n";
            for (std::size_t s = 0; s < 2; ++s) {
                const std::string net = "10." + std::to_string(s);
                t += "virtual-subnet vsid=" + std::to_string(vsid_of(d, s)) + " rdid=" + rdid + " gateway=" + net + ".0.1\n";
                t += "customer-route rdid=" + rdid + " vsid=" + std::to_string(vsid_of(d, s)) + " prefix=" + net + ".0.0/16 next-hop=0.0.0.0\n";
            }
        }
        for (std::size_t i = 0; i < opt.records; ++i) {
            const std::size_t d = i % opt.domains;
            const auto& hs = hosts_of_domain[d];
            const std::size_t h = hs[(i / opt.domains) % hs.size()];
            vms.push_back(make_vm(d, h));
            ++vms_on[h][d];
            t += vms.back().line() + "\n";
        }
        return t;
    }

    [[nodiscard]] std::set<std::size_t> serving(std::size_t d) const {
        std::set<std::size_t> out;
        for (std::size_t h = 0; h < vms_on.size(); ++h)
            if (const auto it = vms_on[h].find(d); it != vms_on[h].end() && it->second > 0) out.insert(h);
        return out;
    }
};

/// A host in the test: its agent, the model it applies to, and when it applied which lines.
struct host_agent {
    model_sink model;
    std::unique_ptr<agent> a;
    std::thread thread;
    std::mutex log_mutex;
    std::vector<std::pair<steady::time_point, std::vector<std::string>>> log;  // guarded by log_mutex

    /// When a change set holding `line` was applied at or after `since` (nullopt: not yet).
    std::optional<steady::time_point> applied(const std::string& line, steady::time_point since) {
        std::scoped_lock lock(log_mutex);
        for (const auto& [at, lines] : log)
            if (at >= since && std::find(lines.begin(), lines.end(), line) != lines.end()) return at;
        return std::nullopt;
    }
};

inline double ms(steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

inline double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(std::lround(p / 100.0 * static_cast<double>(v.size() - 1))));
    return v[i];
}

/// Commits `ops` on any member that takes it (a member that is gone or has no leader yet is
/// skipped), within `timeout`.
inline bool commit_anywhere(connection& c, const std::vector<remote>& remotes, std::size_t& member, const json& ops,
                            std::string& error, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = steady::now() + timeout;
    while (steady::now() < deadline) {
        if (!c.is_open() && !c.open(remotes[member % remotes.size()], std::chrono::milliseconds(1000), error)) {
            ++member;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
        }
        if (commit(c, "NVGRE", ops, error, std::chrono::seconds(10))) return true;
        c.close();
        ++member;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

}  // namespace scale_detail

inline int run_scale(int argc, char** argv) {
    using namespace scale_detail;
    scale_options o;
    std::string remotes_text;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr, "nvgre-ovsdb scale: %s needs a value\n", arg.c_str());
            return 2;
        }
        const std::string v = argv[++i];
        const auto number = [&](std::size_t& n) {
            if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) return false;
            n = std::stoul(v);
            return n > 0;
        };
        bool ok = true;
        if (arg == "--remote") remotes_text = v;
        else if (arg == "--hosts") ok = number(o.hosts);
        else if (arg == "--domains") ok = number(o.domains);
        else if (arg == "--records") ok = number(o.records);
        else if (arg == "--changes") ok = number(o.changes);
        else if (arg == "--kill-leader") o.kill_leader = v;
        else if (arg == "--verbose") o.verbose = v == "1";
        else if (arg == "--seed") {
            std::size_t s = 0;
            ok = number(s);
            o.seed = s;
        } else ok = false;
        if (!ok) {
            std::fprintf(stderr, "nvgre-ovsdb scale: bad option %s %s\n", arg.c_str(), v.c_str());
            return 2;
        }
    }
    const auto remotes = parse_remotes(remotes_text);
    if (!remotes || o.domains > o.hosts || o.records < o.domains) {
        std::fprintf(stderr, "nvgre-ovsdb scale: needs --remote, and domains <= hosts, records >= domains\n");
        return 2;
    }
    o.remotes = *remotes;
    // One socket per agent, plus the driver's.
    rlimit nofile{};
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &nofile);
    }

    // 1. The policy, validated, then loaded.
    world w;
    w.opt = o;
    const auto t_gen = steady::now();
    const std::string text = w.policy_text();
    const policy::load_result loaded = policy::load_policy_text(text, "scale");
    if (!loaded.validated) {
        for (std::size_t i = 0; i < loaded.diagnostics.size() && i < 5; ++i) std::fprintf(stderr, "%s\n", loaded.diagnostics[i].to_string().c_str());
        return 1;
    }
    const json all_ops = load_operations(*loaded.validated);
    connection driver;
    std::size_t member = 0;
    std::string error;
    const auto t_load = steady::now();
    for (std::size_t at = 0; at < all_ops.size(); at += 20000) {
        json batch = json::array();
        for (std::size_t i = at; i < std::min(all_ops.size(), at + 20000); ++i) batch.push_back(all_ops[i]);
        if (!commit_anywhere(driver, o.remotes, member, batch, error, std::chrono::seconds(120))) {
            std::fprintf(stderr, "nvgre-ovsdb scale: loading the store: %s\n", error.c_str());
            return 1;
        }
    }
    std::printf("scale: generated and validated %zu objects in %.0f ms, loaded in %.0f ms\n", all_ops.size() - table_names.size(),
                ms(t_load - t_gen), ms(steady::now() - t_load));
    std::fflush(stdout);

    // 2. The agents.
    std::vector<std::unique_ptr<host_agent>> hosts;
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> log_lines{0};
    const auto t_sync = steady::now();
    for (std::size_t h = 0; h < o.hosts; ++h) {
        auto ha = std::make_unique<host_agent>();
        agent_options ao;
        ao.remotes = o.remotes;
        ao.host = host_name(h);
        ao.first_remote = h % o.remotes.size();
        host_agent* raw = ha.get();
        ha->a = std::make_unique<agent>(ao, [raw](const std::string& t, const std::string& n) { return raw->model(t, n); },
                                        [&log_lines, verbose = o.verbose](const std::string& line) {
                                            const auto since = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now().time_since_epoch()).count();
                                            if (verbose) std::fprintf(stderr, "%lld %s\n", static_cast<long long>(since), line.c_str());
                                            // Only what goes wrong, and not more than a page of it.
                                            else if ((line.find("refused") != std::string::npos || line.find("skipped") != std::string::npos) &&
                                                log_lines.fetch_add(1) < 20)
                                                std::fprintf(stderr, "%s\n", line.c_str());
                                        });
        ha->a->on_applied([raw](const std::vector<std::string>& lines, steady::time_point at) {
            std::scoped_lock lock(raw->log_mutex);
            raw->log.emplace_back(at, lines);
        });
        hosts.push_back(std::move(ha));
    }
    for (auto& ha : hosts) {
        agent* a = ha->a.get();
        ha->thread = std::thread([a, &stop] { a->run(stop); });
    }
    const auto all_live = [&] {
        return std::all_of(hosts.begin(), hosts.end(), [](const auto& ha) { return ha->a->state() == agent_state::live; });
    };
    while (!all_live()) {
        if (steady::now() - t_sync > std::chrono::minutes(10)) {
            std::fprintf(stderr, "nvgre-ovsdb scale: the agents did not all sync within 10 minutes\n");
            stop = true;
            for (auto& ha : hosts) ha->thread.join();
            return 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const double sync_ms = ms(steady::now() - t_sync);
    for (auto& ha : hosts) {
        std::scoped_lock lock(ha->log_mutex);
        ha->log.clear();
        ha->log.shrink_to_fit();
    }
    std::printf("scale: %zu agents synced their views from the cluster in %.0f ms\n", o.hosts, sync_ms);
    std::fflush(stdout);

    // 3. The changes.
    std::mt19937_64 rng(o.seed);
    const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    std::vector<double> latencies;
    double failover_ms = -1;
    std::size_t behind = 0;
    std::size_t migrations = 0, additions = 0, removals = 0, cross = 0;
    const std::size_t kill_at = o.kill_leader.empty() ? o.changes + 1 : o.changes / 2;
    for (std::size_t k = 0; k < o.changes; ++k) {
        // What changes, the rows before and after, and who is concerned.
        std::size_t idx = 0;
        do idx = pick(w.vms.size());
        while (!w.vms[idx].alive);
        vm before = w.vms[idx];
        std::optional<vm> after;
        json ops = json::array();
        const std::size_t kind = k % 3;
        if (kind == 0) {  // a migration
            const auto& own = w.hosts_of_domain[before.domain];
            std::size_t to = before.host;
            if (k % 5 == 0 || own.size() == 1) {  // to a host that does not serve this domain yet
                do to = pick(o.hosts);
                while (w.vms_on[to].contains(before.domain) && w.vms_on[to][before.domain] > 0);
                ++cross;
            } else {
                while (to == before.host) to = own[pick(own.size())];
            }
            after = before;
            after->host = to;
            ++migrations;
        } else if (kind == 1) {  // a new VM in the domain of a random one
            const auto& own = w.hosts_of_domain[before.domain];
            after = w.make_vm(before.domain, own[pick(own.size())]);
            before.alive = false;
            ++additions;
        } else {  // a removal
            ++removals;
        }
        const std::size_t d = before.domain;
        const std::set<std::size_t> serving_before = w.serving(d);
        // Apply to the driver's picture, and make the transaction.
        const policy::change_set_parse cs = policy::parse_change_set(
            after ? "+ " + after->line() + "\n" : "- " + before.identity() + "\n", "scale-change");
        if (!cs || cs.changes.entries.size() != 1) {
            std::fprintf(stderr, "nvgre-ovsdb scale: a change that does not parse: %s\n",
                         cs.diagnostics.empty() ? "?" : cs.diagnostics.front().to_string().c_str());
            break;
        }
        const policy::object& obj = cs.changes.entries.front().value;
        if (kind == 0) {
            ops.push_back(json{{"op", "update"}, {"table", "Lookup_Record"}, {"where", identity_where(obj)}, {"row", row_of_object(obj, true)}});
            --w.vms_on[before.host][d];
            ++w.vms_on[after->host][d];
            w.vms[idx] = *after;
        } else if (kind == 1) {
            ops.push_back(json{{"op", "insert"}, {"table", "Lookup_Record"}, {"row", row_of_object(obj, false)}});
            ++w.vms_on[after->host][d];
            w.vms.push_back(*after);
        } else {
            ops.push_back(json{{"op", "delete"}, {"table", "Lookup_Record"}, {"where", identity_where(obj)}});
            --w.vms_on[before.host][d];
            w.vms[idx].alive = false;
        }
        const std::set<std::size_t> serving_after = w.serving(d);
        // The line each concerned host must apply: the new record, or the old one's removal.
        std::vector<std::pair<std::size_t, std::string>> expect;
        for (std::size_t h : serving_before)
            if (!serving_after.contains(h) || !after) expect.emplace_back(h, "- " + before.identity());
        for (std::size_t h : serving_after)
            if (after) expect.emplace_back(h, "+ " + policy::format_object(obj));

        steady::time_point t0 = steady::now();
        const bool failover = k == kill_at;
        int killed = -1;
        if (failover) {
            std::map<int, std::size_t> on;
            for (const auto& ha : hosts) ++on[ha->a->member()];
            std::string spread;
            for (const auto& [m, n] : on) spread += " " + (m < 0 ? std::string("none") : "member " + std::to_string(m + 1)) + ": " + std::to_string(n);
            std::printf("scale: killing the leader (%s); agents on%s\n", o.kill_leader.c_str(), spread.c_str());
            std::fflush(stdout);
            // The command prints the number (1..) of the member it killed: its agents must move.
            killed = -1;
            if (FILE* p = ::popen(o.kill_leader.c_str(), "r")) {
                int n = 0;
                if (std::fscanf(p, "%d", &n) == 1) killed = n - 1;
                if (::pclose(p) != 0) killed = -1;
            }
            t0 = steady::now();
            std::printf("scale: member %d killed\n", killed + 1);
            if (killed < 0) std::fprintf(stderr, "nvgre-ovsdb scale: %s did not name the member it killed\n", o.kill_leader.c_str());
            driver.close();  // it may have been the leader's: the commit finds a member that takes it
        }
        if (!commit_anywhere(driver, o.remotes, member, ops, error)) {
            std::fprintf(stderr, "nvgre-ovsdb scale: change %zu: %s\n", k, error.c_str());
            break;
        }
        const steady::time_point committed = steady::now();
        const auto limit = t0 + (failover ? std::chrono::seconds(30) : std::chrono::seconds(10));
        std::vector<bool> done(expect.size(), false);
        steady::time_point last = t0;
        std::size_t left = expect.size();
        while (left > 0 && steady::now() < limit) {
            for (std::size_t i = 0; i < expect.size(); ++i) {
                if (done[i]) continue;
                if (const auto at = hosts[expect[i].first]->applied(expect[i].second, t0)) {
                    done[i] = true;
                    --left;
                    last = std::max(last, *at);
                }
            }
            if (left > 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        if (failover) {
            // Every agent live on a member that is alive (those of the dead one moved).
            const auto moved = [&](const auto& ha) { return ha->a->state() == agent_state::live && ha->a->member() >= 0 && ha->a->member() != killed; };
            while (!std::all_of(hosts.begin(), hosts.end(), moved) && steady::now() < limit) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            const steady::time_point live_again = steady::now();
            behind = left;
            for (const auto& ha : hosts) behind += !moved(ha);
            failover_ms = ms(std::max(last, live_again) - t0);
            std::printf("scale: failover: %.0f ms from the kill until the next change reached its %zu hosts and every agent was live again "
                        "(committed by the new leader after %.0f ms, reached its hosts after %.0f ms, every agent live after %.0f ms)\n",
                        failover_ms, expect.size(), ms(committed - t0), ms(last - t0), ms(live_again - t0));
            std::fflush(stdout);
        } else if (left > 0) {
            ++behind;
            std::fprintf(stderr, "nvgre-ovsdb scale: change %zu reached %zu of %zu concerned hosts within 10 s\n", k, expect.size() - left, expect.size());
        } else {
            latencies.push_back(ms(last - t0));
        }
    }

    // 4. Stop, then compare each host with the store.
    stop = true;
    for (auto& ha : hosts) ha->thread.join();
    std::size_t differ = 0;
    driver.close();  // any member that answers (an empty transaction finds one)
    const bool reachable = commit_anywhere(driver, o.remotes, member, json::array(), error);
    const auto rows = reachable ? read_store(driver, "NVGRE", error) : std::nullopt;
    if (!rows) {
        std::fprintf(stderr, "nvgre-ovsdb scale: reading the store: %s\n", error.c_str());
        differ = o.hosts;
    } else {
        const store_index index(*rows);
        for (std::size_t h = 0; h < o.hosts; ++h) {
            const policy::load_result want = model_of(view_of(index, host_name(h)), "store");
            const bool same = want.validated && policy::format(*want.validated) == policy::format(hosts[h]->model.current);
            if (!same && differ++ < 3) std::fprintf(stderr, "nvgre-ovsdb scale: %s differs from the store\n", host_name(h).c_str());
        }
    }
    std::size_t records = 0;
    for (const vm& v : w.vms) records += v.alive;
    agent_counters sum;
    for (const auto& ha : hosts) {
        const agent_counters& c = ha->a->counters();
        sum.connects += c.connects;
        sum.resumed += c.resumed;
        sum.full_resyncs += c.full_resyncs;
        sum.condition_changes += c.condition_changes;
        sum.refused += c.refused;
    }
    std::printf("scale: agents: %llu monitors (%llu resumed from their last transaction id, %llu sent whole again), %llu condition changes, %llu change sets refused\n",
                static_cast<unsigned long long>(sum.connects), static_cast<unsigned long long>(sum.resumed),
                static_cast<unsigned long long>(sum.full_resyncs), static_cast<unsigned long long>(sum.condition_changes),
                static_cast<unsigned long long>(sum.refused));
    std::printf("scale: %zu changes (%zu migrations, %zu of them to a host new to the domain; %zu new VMs; %zu removals), %zu timed\n",
                migrations + additions + removals, migrations, cross, additions, removals, latencies.size());
    std::printf("scale: %zu hosts, %zu records, change to all concerned hosts p50 %.0f ms p99 %.0f ms; failover: %.0f ms, %zu hosts behind; %zu hosts differ\n",
                o.hosts, records, percentile(latencies, 50), percentile(latencies, 99), failover_ms < 0 ? 0.0 : failover_ms, behind, differ);
    return behind == 0 && differ == 0 && latencies.size() + (o.kill_leader.empty() ? 0 : 1) == o.changes ? 0 : 1;
}

}  // namespace nvgre::ovsdb
