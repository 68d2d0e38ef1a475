/// @file examples/nvgre-ovsdb/jsonrpc.hpp
/// @brief An OVSDB JSON-RPC connection (RFC 7047 §4): JSON texts back to back over TCP or a
/// Unix socket, read by nlohmann-json, with the request/reply bookkeeping a client needs.
///
/// RFC 7047 puts no delimiter between messages, so `json_splitter` finds where each JSON text
/// ends (braces outside strings) before nlohmann-json parses it. Every bound is explicit: a
/// message larger than `max_message` bytes or nested deeper than `max_depth` closes the
/// connection with an error instead of growing without limit; so does a text that is not JSON.
/// Nothing here throws: nlohmann-json is called with exceptions off (`parse(..., false)`), and
/// values are read through `json_get`, which checks types.
#pragma once

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nvgre::ovsdb {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;

/// Where a server listens: `tcp:IP:PORT` or `unix:PATH` (ovsdb-server's --remote spelling).
struct remote {
    bool unix_socket{false};
    std::string address;  ///< IPv4 / IPv6 address, or the socket path
    std::uint16_t port{0};
    std::string text;     ///< as given, for messages
};

/// `tcp:IP:PORT` / `unix:PATH`; nullopt when malformed.
inline std::optional<remote> parse_remote(std::string_view s) {
    remote r;
    r.text = std::string(s);
    if (s.starts_with("unix:")) {
        r.unix_socket = true;
        r.address = std::string(s.substr(5));
        if (r.address.empty() || r.address.size() >= sizeof(sockaddr_un::sun_path)) return std::nullopt;
        return r;
    }
    if (!s.starts_with("tcp:")) return std::nullopt;
    s.remove_prefix(4);
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return std::nullopt;
    std::string_view host = s.substr(0, colon), port = s.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned long p = 0;
    for (char c : port) {
        if (c < '0' || c > '9' || p > 65535) return std::nullopt;
        p = p * 10 + static_cast<unsigned long>(c - '0');
    }
    if (p == 0 || p > 65535) return std::nullopt;
    r.address = std::string(host);
    r.port = static_cast<std::uint16_t>(p);
    in6_addr a6{};
    in_addr a4{};
    if (inet_pton(AF_INET, r.address.c_str(), &a4) != 1 && inet_pton(AF_INET6, r.address.c_str(), &a6) != 1) return std::nullopt;
    return r;
}

/// A comma-separated list of remotes (`tcp:127.0.0.1:6641,tcp:127.0.0.1:6642`); nullopt when
/// any is malformed or the list is empty.
inline std::optional<std::vector<remote>> parse_remotes(std::string_view list) {
    std::vector<remote> out;
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto r = parse_remote(list.substr(0, comma));
        if (!r) return std::nullopt;
        out.push_back(*r);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
        if (list.empty()) return std::nullopt;  // a trailing comma
    }
    if (out.empty()) return std::nullopt;
    return out;
}

/// Reads type-checked values out of a json without exceptions.
struct json_get {
    static const json* member(const json& j, std::string_view key) {
        if (!j.is_object()) return nullptr;
        const auto it = j.find(std::string(key));
        return it == j.end() ? nullptr : &*it;
    }
    static const json* at(const json& j, std::size_t i) { return j.is_array() && i < j.size() ? &j[i] : nullptr; }
    static std::optional<std::string> string(const json* j) {
        if (j == nullptr || !j->is_string()) return std::nullopt;
        return j->get_ref<const std::string&>();
    }
};

/// Splits a byte stream into JSON texts (objects or arrays at the top level) without parsing
/// them: it tracks nesting and strings, nothing else, so a text is handed whole to the parser.
class json_splitter {
public:
    static constexpr std::size_t max_message = 256u << 20;  ///< a whole initial sync fits
    static constexpr int max_depth = 64;                    ///< OVSDB values nest 4 or 5 deep

    void feed(const char* data, std::size_t n) { buf_.append(data, n); }

    /// The next complete text, if there is one; "" with `error` set when the stream is broken
    /// (too large, too deep, bytes outside a text that are not blanks).
    std::optional<std::string> next(std::string& error) {
        while (scan_ < buf_.size()) {
            const char c = buf_[scan_];
            if (depth_ == 0) {
                if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                    ++scan_;
                    start_ = scan_;
                    continue;
                }
                if (c != '{' && c != '[') {
                    error = "a byte outside any JSON text (" + std::to_string(static_cast<unsigned char>(c)) + ")";
                    return std::string();
                }
            }
            ++scan_;
            if (in_string_) {
                if (escape_) escape_ = false;
                else if (c == '\\') escape_ = true;
                else if (c == '"') in_string_ = false;
                continue;
            }
            if (c == '"') in_string_ = true;
            else if (c == '{' || c == '[') {
                if (++depth_ > max_depth) {
                    error = "JSON nested deeper than " + std::to_string(max_depth);
                    return std::string();
                }
            } else if (c == '}' || c == ']') {
                if (--depth_ == 0) {
                    std::string text = buf_.substr(start_, scan_ - start_);
                    buf_.erase(0, scan_);
                    scan_ = start_ = 0;
                    return text;
                }
            }
        }
        if (buf_.size() - start_ > max_message) {
            error = "a JSON text larger than " + std::to_string(max_message) + " bytes";
            return std::string();
        }
        return std::nullopt;
    }

private:
    std::string buf_;
    std::size_t scan_{0}, start_{0};
    int depth_{0};
    bool in_string_{false}, escape_{false};
};

/// One JSON-RPC connection to an OVSDB server. Blocking calls with deadlines; single-threaded.
class connection {
public:
    enum class status { message, timeout, closed };

    connection() = default;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() { close(); }

    /// Connects within `timeout`; false with `error` set otherwise.
    bool open(const remote& r, std::chrono::milliseconds timeout, std::string& error) {
        close();
        sockaddr_storage addr{};
        socklen_t len = 0;
        int family = AF_UNIX;
        if (r.unix_socket) {
            auto* un = reinterpret_cast<sockaddr_un*>(&addr);
            un->sun_family = AF_UNIX;
            std::memcpy(un->sun_path, r.address.c_str(), r.address.size() + 1);
            len = sizeof(sockaddr_un);
        } else {
            auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
            auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
            if (inet_pton(AF_INET, r.address.c_str(), &in4->sin_addr) == 1) {
                family = in4->sin_family = AF_INET;
                in4->sin_port = htons(r.port);
                len = sizeof(sockaddr_in);
            } else if (inet_pton(AF_INET6, r.address.c_str(), &in6->sin6_addr) == 1) {
                family = in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(r.port);
                len = sizeof(sockaddr_in6);
            } else {
                error = r.text + ": not an address";
                return false;
            }
        }
        fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd_ < 0) {
            error = r.text + ": socket: " + std::strerror(errno);
            return false;
        }
        if (!r.unix_socket) {
            const int one = 1;
            (void)::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
            if (errno != EINPROGRESS && errno != EAGAIN) {
                error = r.text + ": " + std::strerror(errno);
                close();
                return false;
            }
            pollfd p{fd_, POLLOUT, 0};
            const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
            int err = 0;
            socklen_t el = sizeof err;
            if (n <= 0 || ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
                error = r.text + ": " + (n == 0 ? std::string("connect timed out") : std::string(std::strerror(err != 0 ? err : errno)));
                close();
                return false;
            }
        }
        peer_ = r.text;
        return true;
    }

    [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] const std::string& peer() const noexcept { return peer_; }

    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        splitter_ = json_splitter{};
    }

    /// Sends one message whole (waits for the socket, at most `timeout` in all).
    bool send(const json& message, std::string& error, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        if (fd_ < 0) {
            error = "not connected";
            return false;
        }
        const std::string text = message.dump(-1, ' ', false, json::error_handler_t::replace);
        std::size_t off = 0;
        const auto deadline = steady::now() + timeout;
        while (off < text.size()) {
            const ssize_t n = ::send(fd_, text.data() + off, text.size() - off, MSG_NOSIGNAL);
            if (n > 0) {
                off += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
                pollfd p{fd_, POLLOUT, 0};
                if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
                    error = peer_ + ": send timed out";
                    return false;
                }
                continue;
            }
            error = peer_ + ": send: " + std::strerror(errno);
            return false;
        }
        return true;
    }

    /// Waits up to `timeout` for the next message. `closed` with `error` set when the peer
    /// went away or sent something that is not JSON-RPC (the connection is closed then).
    status receive(json& out, std::chrono::milliseconds timeout, std::string& error) {
        const auto deadline = steady::now() + timeout;
        for (;;) {
            if (fd_ < 0) {
                error = "not connected";
                return status::closed;
            }
            std::string why;
            if (auto text = splitter_.next(why)) {
                if (!why.empty()) return fail(peer_ + ": " + why, error);
                json j = json::parse(*text, nullptr, false);
                if (j.is_discarded() || !j.is_object()) return fail(peer_ + ": a message that is not a JSON object", error);
                out = std::move(j);
                return status::message;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
            pollfd p{fd_, POLLIN, 0};
            const int n = ::poll(&p, 1, left > 0 ? static_cast<int>(left) : 0);
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) return status::timeout;
            char buf[65536];
            const ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
            if (got > 0) {
                splitter_.feed(buf, static_cast<std::size_t>(got));
                continue;
            }
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            return fail(peer_ + (got == 0 ? std::string(": connection closed by the server") : ": recv: " + std::string(std::strerror(errno))), error);
        }
    }

    /// Sends request `method(params)` and waits for its reply; other messages that arrive
    /// first go to `on_other` (notifications, echo requests) in order. The reply's `result`,
    /// or nullopt with `error` set (an error reply, a timeout, a lost connection).
    std::optional<json> call(std::string_view method, json params, std::chrono::milliseconds timeout, std::string& error,
                             const std::function<void(json&)>& on_other = {}) {
        const std::uint64_t id = ++next_id_;
        if (!send(json{{"method", method}, {"params", std::move(params)}, {"id", id}}, error)) {
            close();
            return std::nullopt;
        }
        const auto deadline = steady::now() + timeout;
        for (;;) {
            json m;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            if (left.count() <= 0) {
                error = peer_ + ": no reply to " + std::string(method) + " within " + std::to_string(timeout.count()) + " ms";
                close();
                return std::nullopt;
            }
            const status st = receive(m, left, error);
            if (st == status::closed) return std::nullopt;
            if (st == status::timeout) continue;
            const json* mid = json_get::member(m, "id");
            if (mid != nullptr && mid->is_number_unsigned() && mid->get<std::uint64_t>() == id && json_get::member(m, "method") == nullptr) {
                const json* err = json_get::member(m, "error");
                if (err != nullptr && !err->is_null()) {
                    error = std::string(method) + ": " + err->dump();
                    return std::nullopt;
                }
                const json* result = json_get::member(m, "result");
                if (result == nullptr) {
                    error = std::string(method) + ": a reply without a result";
                    return std::nullopt;
                }
                return *result;
            }
            if (!answer_echo(m, error)) return std::nullopt;
            if (on_other) on_other(m);
        }
    }

    /// Answers the server's `echo` request (its inactivity probe); true for any other message.
    bool answer_echo(const json& m, std::string& error) {
        const auto method = json_get::string(json_get::member(m, "method"));
        const json* id = json_get::member(m, "id");
        if (method && *method == "echo" && id != nullptr && !id->is_null()) {
            const json* params = json_get::member(m, "params");
            if (!send(json{{"result", params != nullptr ? *params : json::array()}, {"error", nullptr}, {"id", *id}}, error)) {
                close();
                return false;
            }
        }
        return true;
    }

private:
    status fail(std::string why, std::string& error) {
        error = std::move(why);
        close();
        return status::closed;
    }

    int fd_{-1};
    std::string peer_;
    json_splitter splitter_;
    std::uint64_t next_id_{0};
};

}  // namespace nvgre::ovsdb
