// A control server with nothing behind it, for tests/interop/ctl_cli.py: the real nvgre-ctl
// against a real control_server without a switch (which needs root and interfaces). It answers
// every request with its words and body, and refuses one that holds the word `fail`:
//
//   nvgre_ctl_echo_server SOCKET
//
//   ok                                   error
//   command: WORD WORD ...               echo server: refused 'WORD WORD ...' as asked
//   body: N bytes
//   BODY
//
// Prints "ready" on stdout once it listens. SIGINT or SIGTERM ends it (exit 0), which removes
// SOCKET. Exit 1 with one line on stderr when it cannot listen there.

#include "../common/control_socket.hpp"

#include <poll.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <string>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) { stop_requested = 1; }

example::control_reply echo(const example::control_request& request) {
    std::string command;
    for (const std::string& word : request.words) command += (command.empty() ? "" : " ") + word;
    if (std::find(request.words.begin(), request.words.end(), "fail") != request.words.end())
        return {false, "echo server: refused '" + command + "' as asked"};
    return {true, "command: " + command + "\nbody: " + std::to_string(request.body.size()) + " bytes\n" + request.body};
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fputs("usage: nvgre_ctl_echo_server SOCKET\n", stderr);
        return 1;
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;  // no SA_RESTART: poll() returns EINTR and the loop looks at the flag
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM}) sigaction(sig, &sa, nullptr);

    std::string error;
    auto server = example::control_server::open(argv[1], error);
    if (!server) {
        std::fprintf(stderr, "nvgre_ctl_echo_server: %s\n", error.c_str());
        return 1;
    }
    std::puts("ready");
    std::fflush(stdout);
    pollfd control{server->fd(), POLLIN, 0};
    while (!stop_requested) {
        if (poll(&control, 1, -1) <= 0) continue;  // EINTR: a signal; look at the flag
        server->on_readable(echo);
    }
    return 0;
}
