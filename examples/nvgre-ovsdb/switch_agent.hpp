/// @file examples/nvgre-ovsdb/switch_agent.hpp
/// @brief The host agent as a switch runs it (nvgre-switch --ovsdb, nvgre-dpdk --ovsdb): the
/// policy of the first sync before the switch starts, then every change of the store applied
/// to the switch's live policy from a thread of its own.
///
/// ```
/// example::switch_agent store;
/// auto m = store.sync("tcp:127.0.0.1:6641,tcp:127.0.0.1:6642", "hv1", "nvgre-switch", std::chrono::seconds(30), error);
/// // ... build the state from *m, bind ports, make the live policy ...
/// store.follow(live);   // the agent thread (all signals blocked: they are the switch's)
/// run_the_switch();
/// store.stop();         // or the destructor
/// ```
/// The live policy is the one writer's: the switch should refuse change sets from elsewhere
/// (its control socket), or the agent's idea of what the host holds drifts from the truth.
#pragma once

#include "agent.hpp"

#include <nvgre/policy/live_policy.hpp>

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

namespace example {

class switch_agent {
public:
    switch_agent() = default;
    switch_agent(const switch_agent&) = delete;
    switch_agent& operator=(const switch_agent&) = delete;
    ~switch_agent() { stop(); }

    /// Connects to the store and syncs the host's view within `timeout`: the validated model,
    /// or nullopt with `error` set. Log lines go to stderr, after `name`.
    std::optional<nvgre::policy::model> sync(const std::string& remotes_text, const std::string& host, const std::string& name,
                                             std::chrono::seconds timeout, std::string& error) {
        const auto remotes = nvgre::ovsdb::parse_remotes(remotes_text);
        if (!remotes) {
            error = "--ovsdb " + remotes_text + ": not tcp:IP:PORT or unix:PATH (comma-separated)";
            return std::nullopt;
        }
        nvgre::ovsdb::agent_options o;
        o.remotes = *remotes;
        o.host = host;
        agent_.emplace(o, std::ref(first_sync_), [name](const std::string& line) {
            std::fprintf(stderr, "%s agent %s\n", name.c_str(), line.c_str());
            std::fflush(stderr);
        });
        if (!agent_->run_until_live(timeout)) {
            error = "--ovsdb " + remotes_text + ": no policy from the store within " + std::to_string(timeout.count()) + " s (state " +
                    std::string(nvgre::ovsdb::to_string(agent_->state())) + ")";
            return std::nullopt;
        }
        return first_sync_.current;
    }

    /// From now on the agent applies the store's changes to `live`, in a thread of its own.
    void follow(nvgre::policy::live_policy& live) {
        agent_->set_sink([&live](const std::string& text, const std::string& file) {
            const auto applied = live.apply_change_set(text, file);
            nvgre::ovsdb::sink_result r;
            r.ok = static_cast<bool>(applied);
            r.generation = applied.generation;
            for (const auto& d : applied.diagnostics) r.errors.push_back(d.to_string());
            return r;
        });
        thread_ = std::thread([this] {
            sigset_t all;  // signals are the switch's: its own loop must see them
            sigfillset(&all);
            pthread_sigmask(SIG_BLOCK, &all, nullptr);
            agent_->run(stop_);
        });
    }

    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }

private:
    nvgre::ovsdb::model_sink first_sync_;
    std::optional<nvgre::ovsdb::agent> agent_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace example
