// nvgre-ctl: commands for a running switch (nvgre-switch, nvgre-dpdk) through its control socket
// (examples/common/control_socket.hpp describes the protocol):
//
//   nvgre-ctl --socket PATH apply FILE          the change set in FILE (- reads standard input)
//   nvgre-ctl --socket PATH attach IFACE=MAC    bind interface IFACE to the VM with that MAC
//   nvgre-ctl --socket PATH detach IFACE        unbind interface IFACE
//   nvgre-ctl --socket PATH show generation|counters|ports
//
// The switch's answer goes to stdout when it did what was asked (exit 0), and to stderr when it
// did not (exit 1): for `apply`, its FILE:LINE:COL diagnostics, FILE as given here. No switch at
// PATH, a file that cannot be read, or no answer within 10 s: exit 1 with one line on stderr.
// Bad usage: exit 2 with one line on stderr.

#include "../common/control_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr auto reply_timeout = std::chrono::seconds(10);
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

constexpr std::string_view usage_text =
    "usage: nvgre-ctl --socket PATH COMMAND\n"
    "\n"
    "Sends COMMAND to the switch whose control socket is PATH and prints its answer: on stdout\n"
    "when it did what was asked (exit 0), on stderr when it did not (exit 1).\n"
    "\n"
    "  apply FILE          apply the change set in FILE (- reads standard input); errors are\n"
    "                      reported as FILE:LINE:COL\n"
    "  attach IFACE=MAC    bind interface IFACE to the VM with that MAC\n"
    "  detach IFACE        unbind interface IFACE\n"
    "  show generation     the generation of the policy in use\n"
    "  show counters       the switch's counters\n"
    "  show ports          the VM ports and their VMs\n"
    "\n"
    "No switch at PATH, an unreadable FILE or no answer within 10 s: exit 1; bad usage: exit 2.\n";

int fail(const std::string& message, int code = exit_failed) {
    std::fprintf(stderr, "nvgre-ctl: %s\n", message.c_str());
    return code;
}

int usage_error(const std::string& message) { return fail(message + " (see nvgre-ctl --help)", exit_usage); }

/// Whether `word` would not survive the command line of a request as one word.
bool splits_or_breaks(std::string_view word) {
    return word.empty() || std::any_of(word.begin(), word.end(), [](char c) {
               const auto u = static_cast<unsigned char>(c);
               return u <= ' ' || u == 0x7f;
           });
}

/// The command to send: its first line and, for `apply`, the file whose contents are its body.
struct command {
    std::string line;
    std::optional<std::string> file;
};

/// The command of `words` (what follows --socket PATH); on a usage error, why.
std::optional<std::string> parse_command(const std::vector<std::string>& words, command& out) {
    if (words.empty()) return "no command given";
    const std::string& verb = words[0];
    const auto one_argument = [&](const char* what) -> std::optional<std::string> {
        if (words.size() != 2) return verb + " wants " + what + " (one argument)";
        return std::nullopt;
    };
    if (verb == "apply") {
        if (auto e = one_argument("FILE")) return e;
        out.file = words[1];
        // The name only labels the switch's diagnostics (the contents travel in the body), so a
        // name with blanks or control bytes, which would split or end the command line, is sent
        // with each of them as '?', as ls shows them.
        std::string label = words[1];
        for (char& c : label)
            if (splits_or_breaks(std::string_view(&c, 1))) c = '?';
        out.line = "apply " + label;
        return std::nullopt;
    }
    if (verb == "attach") {
        if (auto e = one_argument("IFACE=MAC")) return e;
        const std::string& value = words[1];
        const auto eq = value.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == value.size() || splits_or_breaks(value))
            return "attach wants IFACE=MAC, not '" + value + "'";
        out.line = "attach " + value;
        return std::nullopt;
    }
    if (verb == "detach") {
        if (auto e = one_argument("IFACE")) return e;
        if (splits_or_breaks(words[1])) return "detach wants an interface name, not '" + words[1] + "'";
        out.line = "detach " + words[1];
        return std::nullopt;
    }
    if (verb == "show") {
        if (words.size() != 2 || (words[1] != "generation" && words[1] != "counters" && words[1] != "ports"))
            return "show wants one of generation, counters, ports";
        out.line = "show " + words[1];
        return std::nullopt;
    }
    return "unknown command '" + verb + "'";
}

/// A descriptor closed when it goes out of scope (unless it is not ours: standard input).
struct fd_guard {
    int fd;
    bool owned;
    explicit fd_guard(int descriptor, bool ours = true) : fd(descriptor), owned(ours) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() {
        if (owned && fd >= 0) ::close(fd);
    }
};

/// All of `path` (standard input for "-"), at most `limit` bytes; nullopt and `error` otherwise.
std::optional<std::string> read_file(const std::string& path, std::size_t limit, std::string& error) {
    const bool from_stdin = path == "-";
    const fd_guard in{from_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC), !from_stdin};
    const std::string name = from_stdin ? std::string("standard input") : "'" + path + "'";
    if (in.fd < 0) {
        error = "cannot read " + name + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::string text;
    std::array<char, 65536> chunk{};
    for (;;) {
        const ssize_t got = ::read(in.fd, chunk.data(), chunk.size());
        if (got == 0) return text;
        if (got < 0) {
            if (errno == EINTR) continue;
            error = "cannot read " + name + ": " + std::strerror(errno);
            return std::nullopt;
        }
        text.append(chunk.data(), static_cast<std::size_t>(got));
        if (text.size() > limit) {
            error = name + " is larger than a control request may be (" + std::to_string(limit) + " bytes)";
            return std::nullopt;
        }
    }
}

/// Sends `request` to the server at `path`, ends it (shutdown of our write side) and reads the
/// whole answer, all within `reply_timeout`; nullopt and `error` when that fails.
std::optional<std::string> exchange(const std::string& path, const std::string& request, std::string& error) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + reply_timeout;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof address.sun_path) {
        error = "socket path '" + path + "': a path of 1 to " + std::to_string(sizeof address.sun_path - 1) + " bytes is needed";
        return std::nullopt;
    }
    std::memcpy(address.sun_path, path.data(), path.size());
    const fd_guard s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (s.fd < 0) {
        error = std::string("socket(): ") + std::strerror(errno);
        return std::nullopt;
    }
    // connect() to a Unix socket waits while the server's backlog is full; SO_SNDTIMEO bounds that.
    const timeval connect_limit{static_cast<time_t>(reply_timeout.count()), 0};
    (void)::setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &connect_limit, sizeof connect_limit);
    if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        const int e = errno;
        error = "cannot connect to '" + path + "': " + std::strerror(e);
        if (e == ENOENT || e == ECONNREFUSED) error += " (no switch is listening there)";
        return std::nullopt;
    }
    (void)::fcntl(s.fd, F_SETFL, ::fcntl(s.fd, F_GETFL) | O_NONBLOCK);

    // Sending and reading in one loop: a server that refuses a request (too large) answers and
    // closes before reading all of it; its answer is still there to read after EPIPE.
    std::size_t sent = 0;
    bool sending = true;
    std::string reply;
    std::array<char, 65536> chunk{};
    for (;;) {
        if (sending && sent == request.size()) {
            (void)::shutdown(s.fd, SHUT_WR);  // end of the request
            sending = false;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
        pollfd p{s.fd, static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
        const int ready = left > 0 ? ::poll(&p, 1, static_cast<int>(left)) : 0;
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            error = ready == 0 ? "no answer from '" + path + "' within " + std::to_string(reply_timeout.count()) + " s"
                               : std::string("poll(): ") + std::strerror(errno);
            return std::nullopt;
        }
        if (sending && (p.revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
            const ssize_t n = ::send(s.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n >= 0) sent += static_cast<std::size_t>(n);
            else if (errno == EPIPE || errno == ECONNRESET) sending = false;  // its answer says why
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                error = "sending to '" + path + "': " + std::strerror(errno);
                return std::nullopt;
            }
        }
        if ((p.revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
            const ssize_t got = ::recv(s.fd, chunk.data(), chunk.size(), 0);
            if (got > 0) reply.append(chunk.data(), static_cast<std::size_t>(got));
            // ECONNRESET: the server closed with some of our request unread, after its answer.
            else if (got == 0 || errno == ECONNRESET) return reply;
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                error = "reading the answer of '" + path + "': " + std::strerror(errno);
                return std::nullopt;
            }
        }
    }
}

void write_all(std::FILE* to, std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), to);
    std::fflush(to);
}

}  // namespace

int main(int argc, char** argv) {
    std::string socket_path;
    std::vector<std::string> words;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        // Options come before the command; after it, everything is the command's (apply -).
        const bool option = words.empty() && arg.starts_with("-") && arg != "-";
        if (!option) words.emplace_back(arg);
        else if (arg == "--help" || arg == "-h") {
            write_all(stdout, usage_text);
            return 0;
        } else if (arg == "--socket") {
            if (i + 1 >= argc) return usage_error("option '--socket' needs a value");
            socket_path = argv[++i];
        } else {
            return usage_error("unknown option '" + std::string(arg) + "'");
        }
    }
    if (socket_path.empty()) return usage_error("--socket PATH is required");
    command cmd;
    if (auto e = parse_command(words, cmd)) return usage_error(*e);

    std::string request = cmd.line + "\n";
    std::string error;
    if (cmd.file) {
        const std::size_t room = example::control_limits{}.max_request - request.size();
        const auto contents = read_file(*cmd.file, room, error);
        if (!contents) return fail(error);
        request += *contents;
    }
    const auto reply = exchange(socket_path, request, error);
    if (!reply) return fail(error);

    if (reply->empty()) return fail("'" + socket_path + "' closed the connection without an answer");
    const auto end_of_status = reply->find('\n');
    const std::string_view status = std::string_view(*reply).substr(0, end_of_status);
    const std::string_view text =
        end_of_status == std::string::npos ? std::string_view() : std::string_view(*reply).substr(end_of_status + 1);
    if (status == "ok") {
        write_all(stdout, text);
        return 0;
    }
    if (status == "error") {
        if (text.empty()) return fail("the switch refused '" + cmd.line + "' without saying why");
        write_all(stderr, text);
        return exit_failed;
    }
    return fail("'" + socket_path + "' is not a switch's control socket (its answer starts with neither ok nor error)");
}
