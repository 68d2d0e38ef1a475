/// @file examples/common/control_socket.hpp
/// @brief The control channel of a running switch (nvgre-switch, nvgre-dpdk): a Unix stream
/// socket that takes one command per connection, served from the switch's own poll() loop.
///
/// The protocol (examples/nvgre-ctl is its client):
///  - the client connects, sends one request and shuts down its write side: end of file ends
///    the request;
///  - the request's first line is the command, words separated by blanks (`apply changes.cs`,
///    `attach veth3=00:15:5d:00:00:06`, `detach veth3`, `show generation`, `show counters`,
///    `show ports`); everything after the first '\n' is its body, any bytes (the change-set
///    text of `apply`, whose first word names it for FILE:LINE:COL diagnostics);
///  - the server answers `ok` or `error` on a line of its own, then the reply's text (ending
///    with '\n' whenever there is any), and closes the connection.
/// A request longer than `control_limits::max_request` bytes is answered `error` / `request too
/// large ...` without being read further, and one whose command line has no word is answered
/// `error` without reaching the handler. A connection that closes before sending a byte, or that
/// moves no byte in or out for `control_limits::idle`, is closed without an answer.
///
/// In a switch's loop:
/// ```
/// std::string error;
/// auto control = example::control_server::open("/run/nvgre-hv1.sock", error);
/// if (!control) return fail(error);
/// fds.push_back({control->fd(), POLLIN, 0});
/// ...
/// if (fds[k].revents & POLLIN)
///     control->on_readable([&](const example::control_request& r) { return run_command(r); });
/// ```
/// fd() is an epoll instance holding the listening socket, every open connection and a timer
/// for the idle limit: the one descriptor in the switch's poll() set is readable whenever any
/// of them has something to do, so a client that sends its request in pieces is served piece
/// by piece instead of waiting for the next connection to wake the loop. on_readable() never
/// blocks and does a bounded amount of work per call (a large request is read over several
/// calls), so packets keep moving while a slow or stuck client is connected. The handler runs
/// in the loop's own thread, between bursts: it may change what that loop reads without a lock.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace example {

/// One command sent to the control socket.
struct control_request {
    std::vector<std::string> words;  ///< the first line split at blanks; never empty for a handler
    std::string body;                ///< everything after the first '\n', byte for byte
};

/// The answer to one command: `ok`, or `error` with the reason in `text`.
struct control_reply {
    bool ok{false};
    std::string text;  ///< sent after the status line; a missing final '\n' is added
};

/// What one client may cost the switch.
struct control_limits {
    std::size_t max_request{std::size_t{16} << 20};  ///< bytes of one request, command line and body
    std::chrono::milliseconds idle{2000};            ///< without a byte in or out, a connection is dropped
    std::size_t max_connections{16};                 ///< open at once; more are turned away with an error
};

/// The request in `bytes`: its first line split into words at spaces, tabs, CR, VT and FF (any
/// other byte, NUL included, belongs to a word), the rest its body. Without a '\n', all of it is
/// the command line and the body is empty.
inline control_request parse_control_request(std::string_view bytes) {
    constexpr std::string_view blanks = " \t\r\v\f";
    control_request request;
    const std::size_t end_of_line = bytes.find('\n');
    const std::string_view line = bytes.substr(0, end_of_line);
    if (end_of_line != std::string_view::npos) request.body.assign(bytes.substr(end_of_line + 1));
    std::size_t at = 0;
    while ((at = line.find_first_not_of(blanks, at)) != std::string_view::npos) {
        const std::size_t end = std::min(line.find_first_of(blanks, at), line.size());
        request.words.emplace_back(line.substr(at, end - at));
        at = end;
    }
    return request;
}

/// The bytes that answer a request with `reply`: `ok` or `error`, '\n', the text, and a '\n'
/// after a text that does not end with one.
inline std::string format_control_reply(const control_reply& reply) {
    std::string bytes = reply.ok ? "ok\n" : "error\n";
    bytes += reply.text;
    if (!reply.text.empty() && reply.text.back() != '\n') bytes += '\n';
    return bytes;
}

/// A switch's control socket: listens at a path, reads each connection's request without
/// blocking, runs it through the caller's handler and sends the reply.
class control_server {
public:
    /// Listens at `path` (mode 0600: a command can reprogram the switch, so only its own user
    /// may connect). A socket file left there by a switch that died is replaced; a path that is
    /// not a socket, or where a running server still answers, is refused. On failure, nullopt
    /// and one line in `error` that names the path.
    static std::optional<control_server> open(const std::string& path, std::string& error,
                                              control_limits limits = {}) {
        const auto fail = [&](const std::string& why) {
            error = "control socket '" + path + "': " + why;
            return std::nullopt;
        };
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        if (path.empty() || path.size() >= sizeof address.sun_path || path.find('\0') != std::string::npos)
            return fail("a path of 1 to " + std::to_string(sizeof address.sun_path - 1) + " bytes is needed");
        std::memcpy(address.sun_path, path.data(), path.size());

        struct stat existing {};
        if (::lstat(path.c_str(), &existing) == 0) {
            if (!S_ISSOCK(existing.st_mode)) return fail("exists and is not a socket");
            // ECONNREFUSED: nobody listens (a switch that died left it): replaced. Any other
            // failure but a vanished file (EACCES: another user's socket) may hide a live
            // server: left alone.
            const int probe = connect_error(address);
            if (probe == 0 || probe == EAGAIN) return fail("another process is listening there (a switch already running?)");
            if (probe != ECONNREFUSED && probe != ENOENT)
                return fail(std::string("exists, and whether a server listens there is unknown: ") + std::strerror(probe));
            if (::unlink(path.c_str()) != 0 && errno != ENOENT)
                return fail(std::string("cannot remove the stale socket: ") + std::strerror(errno));
        }
        owned_fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!listener.valid()) return fail(std::string("socket(): ") + std::strerror(errno));
        if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
            return fail(std::string("cannot create it: ") + std::strerror(errno));

        // From here on the file is ours: the server's destructor removes it on any failure below.
        // Nobody can connect before listen(), so the mode is set before anyone could use it.
        control_server server(path, std::move(listener), limits);
        struct stat made {};
        if (::lstat(path.c_str(), &made) == 0) {
            server.socket_device_ = made.st_dev;
            server.socket_inode_ = made.st_ino;
        }
        if (::chmod(path.c_str(), S_IRUSR | S_IWUSR) != 0)
            return fail(std::string("chmod 0600: ") + std::strerror(errno));
        if (::listen(server.listener_.get(), 8) != 0) return fail(std::string("listen(): ") + std::strerror(errno));
        server.epoll_ = owned_fd(::epoll_create1(EPOLL_CLOEXEC));
        server.timer_ = owned_fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
        if (!server.epoll_.valid() || !server.timer_.valid() || !server.watch(server.listener_.get(), EPOLLIN, EPOLL_CTL_ADD) ||
            !server.watch(server.timer_.get(), EPOLLIN, EPOLL_CTL_ADD))
            return fail(std::string("epoll: ") + std::strerror(errno));
        return server;
    }

    control_server(control_server&&) noexcept = default;
    control_server& operator=(control_server&& other) noexcept {
        if (this != &other) {
            close_and_remove();
            limits_ = other.limits_;
            path_ = std::move(other.path_);
            socket_device_ = other.socket_device_;
            socket_inode_ = other.socket_inode_;
            listener_ = std::move(other.listener_);
            epoll_ = std::move(other.epoll_);
            timer_ = std::move(other.timer_);
            connections_ = std::move(other.connections_);
        }
        return *this;
    }
    control_server(const control_server&) = delete;
    control_server& operator=(const control_server&) = delete;
    /// Closes every connection and removes the socket file (when it is still the one it made).
    ~control_server() { close_and_remove(); }

    /// For poll(): readable when on_readable() has something to do.
    [[nodiscard]] int fd() const noexcept { return epoll_.get(); }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    /// Connections being read or answered.
    [[nodiscard]] std::size_t connections() const noexcept { return connections_.size(); }

    /// Accepts new connections, reads what arrived, answers each complete request with
    /// `handler(const control_request&) -> control_reply`, sends replies as far as the sockets
    /// take them and drops idle connections. Never blocks; may be called when fd() is not
    /// readable (then it does nothing, or only the idle check).
    template <class Handler>
        requires std::invocable<Handler&, const control_request&> &&
                 std::convertible_to<std::invoke_result_t<Handler&, const control_request&>, control_reply>
    void on_readable(Handler&& handler) {
        std::array<epoll_event, 16> ready{};
        const int count = ::epoll_wait(epoll_.get(), ready.data(), static_cast<int>(ready.size()), 0);
        for (int i = 0; i < count; ++i) {
            const int fd = ready[static_cast<std::size_t>(i)].data.fd;
            if (fd == listener_.get()) accept_pending();
            else if (fd == timer_.get()) drain_timer();
            else if (connection* c = find(fd)) serve(*c, handler);
        }
        const auto now = clock::now();
        for (connection& c : connections_)
            if (now - c.last_progress >= limits_.idle) c.finished = true;
        // Closed only now, so no descriptor number is reused by an accept() within this round.
        std::erase_if(connections_, [](const connection& c) { return c.finished; });
        arm_timer();
    }

private:
    using clock = std::chrono::steady_clock;

    /// Bytes read from one connection per call: a 16 MiB change set takes 16 rounds of the
    /// switch's loop, with bursts of packets in between, instead of stalling it once.
    static constexpr std::size_t read_budget = std::size_t{1} << 20;
    static constexpr std::size_t read_chunk = std::size_t{64} << 10;
    /// Connections accepted per call; the listener stays readable for the rest.
    static constexpr int accept_budget = 16;

    class owned_fd {
    public:
        owned_fd() = default;
        explicit owned_fd(int fd) noexcept : fd_(fd) {}
        owned_fd(owned_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
        owned_fd& operator=(owned_fd&& other) noexcept {
            if (this != &other) {
                reset();
                fd_ = std::exchange(other.fd_, -1);
            }
            return *this;
        }
        owned_fd(const owned_fd&) = delete;
        owned_fd& operator=(const owned_fd&) = delete;
        ~owned_fd() { reset(); }
        [[nodiscard]] int get() const noexcept { return fd_; }
        [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
        void reset() noexcept {
            if (fd_ >= 0) ::close(fd_);
            fd_ = -1;
        }

    private:
        int fd_{-1};
    };

    struct connection {
        owned_fd socket;
        clock::time_point last_progress;
        std::string request;     ///< the bytes so far
        std::string reply;       ///< once answered: the bytes to send, from `sent` on
        std::size_t sent{0};
        bool answering{false};   ///< the request is complete (or refused): only the reply is left
        bool finished{false};    ///< closed at the end of this round
    };

    enum class read_state { waiting, complete, too_large, gone };

    control_server(std::string path, owned_fd listener, control_limits limits)
        : limits_(limits), path_(std::move(path)), listener_(std::move(listener)) {}

    /// What connecting to `address` gives: 0 when a server accepts, EAGAIN when its backlog is
    /// full, ECONNREFUSED when nobody listens, or another errno.
    static int connect_error(const sockaddr_un& address) {
        const owned_fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!probe.valid()) return errno;
        return ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 ? 0 : errno;
    }

    bool watch(int fd, std::uint32_t events, int operation) noexcept {
        epoll_event event{};
        event.events = events;
        event.data.fd = fd;
        return ::epoll_ctl(epoll_.get(), operation, fd, &event) == 0;
    }

    connection* find(int fd) noexcept {
        for (connection& c : connections_)
            if (c.socket.get() == fd) return &c;
        return nullptr;
    }

    void accept_pending() {
        for (int i = 0; i < accept_budget; ++i) {
            owned_fd socket(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
            if (!socket.valid()) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                return;  // EAGAIN: no one else waiting; EMFILE and the like: again on the next call
            }
            if (connections_.size() >= limits_.max_connections) {
                // A few bytes into an empty socket buffer: this send cannot block or fall short.
                const std::string busy = format_control_reply(
                    {false, "too many control connections at once (" + std::to_string(limits_.max_connections) + "); try again"});
                (void)::send(socket.get(), busy.data(), busy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
                continue;
            }
            if (!watch(socket.get(), EPOLLIN, EPOLL_CTL_ADD)) continue;
            connections_.push_back({std::move(socket), clock::now(), {}, {}, 0, false, false});
        }
    }

    void drain_timer() const noexcept {
        std::uint64_t expirations = 0;
        (void)!::read(timer_.get(), &expirations, sizeof expirations);
    }

    /// The timer fires when the connection that has waited longest reaches the idle limit.
    void arm_timer() noexcept {
        itimerspec when{};  // all zero: disarmed
        if (!connections_.empty()) {
            clock::time_point oldest = connections_.front().last_progress;
            for (const connection& c : connections_) oldest = std::min(oldest, c.last_progress);
            const auto wait = std::max<clock::duration>(oldest + limits_.idle - clock::now(), std::chrono::milliseconds(1));
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
            when.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
            when.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
        }
        (void)::timerfd_settime(timer_.get(), 0, &when, nullptr);
    }

    template <class Handler>
    void serve(connection& c, Handler& handler) {
        if (!c.answering) {
            switch (read_request(c)) {
                case read_state::waiting: return;
                case read_state::gone: c.finished = true; return;
                case read_state::too_large:
                    start_reply(c, {false, "request too large (more than " + std::to_string(limits_.max_request) + " bytes)"});
                    break;
                case read_state::complete: {
                    if (c.request.empty()) {  // connected and left: nobody to answer
                        c.finished = true;
                        return;
                    }
                    // Answering before the handler runs: if it throws, the connection is only
                    // closed, not handed the same request again on the next call.
                    c.answering = true;
                    const control_request request = parse_control_request(c.request);
                    if (request.words.empty()) start_reply(c, {false, "empty command line: the first line names the command"});
                    else start_reply(c, control_reply(handler(request)));
                    break;
                }
            }
        }
        send_reply(c);
    }

    read_state read_request(connection& c) {
        std::size_t budget = read_budget;
        while (budget > 0) {
            // Room for one byte over the limit: reading it is how a request is found too large.
            const std::size_t room = limits_.max_request + 1 - c.request.size();
            const std::size_t chunk = std::min({room, budget, read_chunk});
            const std::size_t before = c.request.size();
            c.request.resize(before + chunk);
            const ssize_t got = ::recv(c.socket.get(), c.request.data() + before, chunk, MSG_DONTWAIT);
            c.request.resize(before + (got > 0 ? static_cast<std::size_t>(got) : 0));
            if (got == 0) return read_state::complete;
            if (got < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return read_state::waiting;
                return read_state::gone;  // ECONNRESET and the like
            }
            c.last_progress = clock::now();
            if (c.request.size() > limits_.max_request) return read_state::too_large;
            budget -= static_cast<std::size_t>(got);
        }
        return read_state::waiting;
    }

    // The reply is queued rather than sent with a blocking send() under SO_SNDTIMEO: a client
    // that does not read would stall the switch's packets for that timeout, once per client. A
    // reply usually fits the socket buffer and goes out at once; the rest waits for EPOLLOUT,
    // under the same idle limit as the request.
    void start_reply(connection& c, const control_reply& reply) {
        c.answering = true;
        c.request = std::string();  // up to max_request bytes, no longer needed
        c.reply = format_control_reply(reply);
        c.sent = 0;
        // No more reading (the rest of a refused request stays unread): wait for room to write.
        if (!watch(c.socket.get(), EPOLLOUT, EPOLL_CTL_MOD)) c.finished = true;
    }

    void send_reply(connection& c) {
        while (c.sent < c.reply.size()) {
            const ssize_t n = ::send(c.socket.get(), c.reply.data() + c.sent, c.reply.size() - c.sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // the rest when the socket drains
                break;  // EPIPE, ECONNRESET: the client is gone
            }
            c.sent += static_cast<std::size_t>(n);
            c.last_progress = clock::now();
        }
        c.finished = true;
    }

    void close_and_remove() noexcept {
        if (!listener_.valid()) return;  // moved from
        connections_.clear();
        listener_.reset();
        // Only the file this server made: another may have taken the path over since.
        struct stat now {};
        if (::lstat(path_.c_str(), &now) == 0 && now.st_dev == socket_device_ && now.st_ino == socket_inode_)
            ::unlink(path_.c_str());
    }

    control_limits limits_;
    std::string path_;
    dev_t socket_device_{};
    ino_t socket_inode_{};
    owned_fd listener_;
    owned_fd epoll_;
    owned_fd timer_;
    std::vector<connection> connections_;
};

}  // namespace example
