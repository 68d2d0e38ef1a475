// nvgre-ovsdb: HNV policy in an OVSDB store of nvgre.ovsschema (docs/distribution.md).
//
//   nvgre-ovsdb load  --remote R[,R...] POLICY      validate POLICY, make the store hold exactly it (one transaction)
//   nvgre-ovsdb apply --remote R[,R...] CHANGES|-   validate a change set against the store, commit it as one transaction
//   nvgre-ovsdb dump  --remote R[,R...] [--host NAME]
//                                                   the store's policy, or what host NAME receives, as canonical text
//   nvgre-ovsdb agent --remote R[,R...] --host NAME [--out FILE] [--seconds N]
//                                                   the host agent on its own: keeps a policy in step with the store,
//                                                   logs its states and changes, writes the policy to FILE after each one
//   nvgre-ovsdb scale --remote R[,R...] [options]   many agents against a real cluster (scale.hpp; make scale)
//
// R is tcp:IP:PORT or unix:PATH; with several, each is tried in turn until one answers (a
// cluster member forwards a transaction to its leader). Exit 0 on success; 1 with every error
// on stderr (FILE:LINE:COL: error: TEXT for policy errors; nothing was written then); 2 for
// bad usage.
#include "agent.hpp"
#include "scale.hpp"
#include "store.hpp"

#include <nvgre/policy/canonical.hpp>
#include <nvgre/policy/loader.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace {

using namespace nvgre::ovsdb;
namespace policy = nvgre::policy;

int usage(const std::string& why) {
    std::fprintf(stderr, "nvgre-ovsdb: %s\n", why.c_str());
    std::fputs("usage: nvgre-ovsdb load|apply|dump|agent|scale --remote tcp:IP:PORT|unix:PATH[,...] ... (see docs/distribution.md)\n", stderr);
    return 2;
}

int fail(const std::string& why) {
    std::fprintf(stderr, "nvgre-ovsdb: %s\n", why.c_str());
    return 1;
}

/// The first member of `remotes` that accepts a connection.
bool open_any(connection& c, const std::vector<remote>& remotes, std::string& error) {
    std::string all;
    for (const remote& r : remotes) {
        std::string e;
        if (c.open(r, std::chrono::milliseconds(2000), e)) return true;
        all += (all.empty() ? "" : "; ") + e;
    }
    error = "no member of the store answers: " + all;
    return false;
}

bool read_input(const std::string& path, std::string& text, std::string& error) {
    if (path == "-") {
        text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        return true;
    }
    policy::load_diagnostic d;
    auto t = policy::read_text_file(path, d);
    if (!t) {
        error = d.to_string();
        return false;
    }
    text = std::move(*t);
    return true;
}

void print_errors(const std::vector<policy::load_diagnostic>& ds) {
    for (const auto& d : ds) std::fprintf(stderr, "%s\n", d.to_string().c_str());
}

std::atomic<bool> stop_requested{false};
extern "C" void on_signal(int) { stop_requested.store(true); }

/// Writes `text` to `path` whole (a reader never sees half of it).
void write_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f << text;
    }
    std::rename(tmp.c_str(), path.c_str());
}

int run_agent(const std::vector<remote>& remotes, const std::string& host, const std::string& out, long seconds) {
    model_sink model;
    agent_options o;
    o.remotes = remotes;
    o.host = host;
    agent a(o, [&model](const std::string& text, const std::string& name) { return model(text, name); },
            [](const std::string& line) { std::printf("%s\n", line.c_str()), std::fflush(stdout); });
    a.on_applied([&](const std::vector<std::string>&, steady::time_point) {
        if (!out.empty()) write_atomically(out, policy::format(model.current));
    });
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    if (seconds > 0) {
        const auto deadline = steady::now() + std::chrono::seconds(seconds);
        while (!stop_requested.load() && steady::now() < deadline) a.step(std::chrono::milliseconds(100));
    } else {
        a.run(stop_requested);
    }
    const agent_counters& c = a.counters();
    std::printf("%s: exit in state %s: %llu monitors (%llu resumed), %llu updates, %llu applied, %llu refused, %llu bad rows\n",
                host.c_str(), std::string(to_string(a.state())).c_str(), static_cast<unsigned long long>(c.connects),
                static_cast<unsigned long long>(c.resumed), static_cast<unsigned long long>(c.updates),
                static_cast<unsigned long long>(c.applied), static_cast<unsigned long long>(c.refused),
                static_cast<unsigned long long>(c.bad_rows));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage("no command");
    const std::string command = argv[1];
    if (command == "scale") return run_scale(argc - 1, argv + 1);
    std::string remotes_text, host, out;
    long seconds = 0;
    std::vector<std::string> positional;
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        const auto value = [&](std::string& v) {
            if (i + 1 >= argc) return false;
            v = argv[++i];
            return true;
        };
        std::string v;
        if (arg == "--remote") {
            if (!value(remotes_text)) return usage("--remote needs a value");
        } else if (arg == "--host") {
            if (!value(host)) return usage("--host needs a value");
        } else if (arg == "--out") {
            if (!value(out)) return usage("--out needs a value");
        } else if (arg == "--seconds") {
            if (!value(v) || v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 6) return usage("--seconds needs a number");
            seconds = std::stol(v);
        } else if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
            return usage("unknown option " + arg);
        } else {
            positional.push_back(arg);
        }
    }
    const auto remotes = parse_remotes(remotes_text);
    if (!remotes) return usage(remotes_text.empty() ? "--remote is required" : "--remote " + remotes_text + ": not tcp:IP:PORT or unix:PATH");
    const std::string database = "NVGRE";

    if (command == "agent") {
        if (host.empty() || !positional.empty()) return usage("agent takes --host NAME and no file");
        return run_agent(*remotes, host, out, seconds);
    }

    connection c;
    std::string error;
    if (command == "dump") {
        if (!positional.empty()) return usage("dump takes no file");
        if (!open_any(c, *remotes, error)) return fail(error);
        auto rows = read_store(c, database, error);
        if (!rows) return fail(error);
        const row_set view = host.empty() ? *rows : view_of(*rows, host);
        const policy::load_result m = model_of(view, host.empty() ? "store" : "store(" + host + ")");
        if (!m.validated) {
            print_errors(m.diagnostics);
            return 1;
        }
        std::fputs(policy::format(*m.validated).c_str(), stdout);
        return 0;
    }
    if (command != "load" && command != "apply") return usage("unknown command " + command);
    if (positional.size() != 1 || !host.empty()) return usage(command + " takes one file (or -) and no --host");
    std::string text;
    if (!read_input(positional[0], text, error)) return fail(error);
    const std::string name = positional[0] == "-" ? "<stdin>" : positional[0];

    if (command == "load") {
        const policy::load_result m = policy::load_policy_text(text, name);
        if (!m.validated) {
            print_errors(m.diagnostics);
            return 1;
        }
        if (!open_any(c, *remotes, error)) return fail(error);
        if (!commit(c, database, load_operations(*m.validated), error)) return fail(error);
        std::printf("loaded %zu objects\n", policy::canonical_objects(*m.validated).size());
        return 0;
    }

    // apply: parse, read the store, validate the change set against what it holds, commit.
    const policy::change_set_parse parsed = policy::parse_change_set(text, name);
    if (!parsed) {
        print_errors(parsed.diagnostics);
        return 1;
    }
    if (!open_any(c, *remotes, error)) return fail(error);
    auto rows = read_store(c, database, error);
    if (!rows) return fail(error);
    const policy::load_result base = model_of(*rows, "store");
    if (!base.validated) {
        std::fprintf(stderr, "nvgre-ovsdb: the store does not hold a valid policy now; fix it first (nvgre-ovsdb dump):\n");
        print_errors(base.diagnostics);
        return 1;
    }
    const policy::load_result next = policy::apply_change_set(*base.validated, parsed.changes);
    if (!next.validated) {
        print_errors(next.diagnostics);
        return 1;
    }
    if (!commit(c, database, change_operations(*base.validated, parsed.changes), error)) return fail(error);
    std::printf("applied %zu changes\n", parsed.changes.entries.size());
    return 0;
}
