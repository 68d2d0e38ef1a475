// examples/common/control_socket.hpp on real Unix sockets, in one thread: the test plays the
// clients and runs the server's loop itself (poll() on fd() alone, on_readable() when it is
// readable), as a switch does. A server that blocked anywhere would hang this test (and ctest
// would time it out), so every case that passes is also a case where the loop kept going.
#include "../common/control_socket.hpp"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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

using example::control_limits;
using example::control_reply;
using example::control_request;
using example::control_server;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// A socket path of this process and case (short: sun_path holds 107 bytes).
std::string socket_path(std::string_view name) {
    return "/tmp/nvgre-ctl-test." + std::to_string(::getpid()) + "." + std::string(name) + ".sock";
}

control_server open_server(const std::string& path, control_limits limits = {}) {
    std::string error;
    auto server = control_server::open(path, error, limits);
    INFO(error);
    REQUIRE(server.has_value());
    return std::move(*server);
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

/// Every request it is handed, answered ok with its words and body size, or error for `fail`.
struct recorder {
    std::vector<control_request> seen;
    std::string reply_text;  ///< when not empty, the text of every ok answer

    control_reply operator()(const control_request& request) {
        seen.push_back(request);
        std::string command;
        for (const std::string& word : request.words) command += (command.empty() ? "" : " ") + word;
        if (command == "fail") return {false, "refused"};
        if (!reply_text.empty()) return {true, reply_text};
        return {true, command + " / " + std::to_string(request.body.size()) + " bytes"};
    }
};

/// A client on a non-blocking socket: what it queued goes out as the socket takes it, what
/// comes back is collected until the server closes.
class client {
public:
    explicit client(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {
        REQUIRE(fd_ >= 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, path.data(), path.size());
        REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    ~client() { close(); }

    void send(std::string_view bytes) {
        out_ += bytes;
        exchange();
    }
    /// The request is complete: the write side is shut down once everything queued is out.
    void finish() {
        finishing_ = true;
        exchange();
    }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    /// Sends what the socket takes, reads what arrived; whether the server has closed.
    bool exchange() {
        while (fd_ >= 0 && !out_.empty()) {
            const ssize_t n = ::send(fd_, out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n <= 0) break;
            out_.erase(0, static_cast<std::size_t>(n));
        }
        if (fd_ >= 0 && finishing_ && out_.empty() && !shut_) shut_ = ::shutdown(fd_, SHUT_WR) == 0;
        std::array<char, 65536> chunk{};
        while (fd_ >= 0 && !closed_) {
            const ssize_t got = ::recv(fd_, chunk.data(), chunk.size(), MSG_DONTWAIT);
            if (got > 0) reply_.append(chunk.data(), static_cast<std::size_t>(got));
            else if (got == 0 || errno == ECONNRESET) closed_ = true;
            else break;
        }
        return closed_;
    }
    [[nodiscard]] bool closed() const { return closed_; }
    [[nodiscard]] const std::string& reply() const { return reply_; }

private:
    int fd_;
    std::string out_;
    std::string reply_;
    bool finishing_{false};
    bool shut_{false};
    bool closed_{false};
};

/// Runs the server's loop until `done()` holds or `limit` passes; whether it held. The loop polls
/// fd() alone, as a switch's would: a connection's data must make fd() readable by itself.
template <class Handler, class Done>
bool pump(control_server& server, Handler& handler, Done done, std::chrono::milliseconds limit = 3000ms) {
    const auto deadline = clock_type::now() + limit;
    while (!done()) {
        if (clock_type::now() >= deadline) return false;
        pollfd p{server.fd(), POLLIN, 0};
        if (::poll(&p, 1, 10) > 0) server.on_readable(handler);
    }
    return true;
}

}  // namespace

TEST_SUITE("control_socket") {

TEST_CASE("parse_control_request and format_control_reply") {
    const control_request r = example::parse_control_request(" apply\tchanges.cs \r\nline 1\nline 2\n");
    CHECK(r.words == std::vector<std::string>{"apply", "changes.cs"});
    CHECK(r.body == "line 1\nline 2\n");
    CHECK(example::parse_control_request("show ports").words == std::vector<std::string>{"show", "ports"});
    CHECK(example::parse_control_request("show ports").body.empty());
    CHECK(example::parse_control_request("  \n").words.empty());
    const std::string nul_word("de\0tach", 7);
    CHECK(example::parse_control_request(nul_word + " x\n").words == std::vector<std::string>{nul_word, "x"});

    CHECK(example::format_control_reply({true, ""}) == "ok\n");
    CHECK(example::format_control_reply({true, "generation 3"}) == "ok\ngeneration 3\n");
    CHECK(example::format_control_reply({false, "a\nb\n"}) == "error\na\nb\n");
}

TEST_CASE("a request and its reply; an error reply; the socket file's life") {
    const std::string path = socket_path("basic");
    {
        control_server server = open_server(path);
        struct stat st {};
        REQUIRE(::lstat(path.c_str(), &st) == 0);
        CHECK(S_ISSOCK(st.st_mode));
        CHECK((st.st_mode & 0777) == 0600);  // only the switch's user may command it
        recorder handler;

        client a(path);
        a.send("show generation\n");
        a.finish();
        REQUIRE(pump(server, handler, [&] { return a.exchange(); }));
        CHECK(a.reply() == "ok\nshow generation / 0 bytes\n");
        REQUIRE(handler.seen.size() == 1);
        CHECK(handler.seen[0].words == std::vector<std::string>{"show", "generation"});

        client b(path);
        b.send("fail");  // no '\n' at all: all of it is the command line
        b.finish();
        REQUIRE(pump(server, handler, [&] { return b.exchange(); }));
        CHECK(b.reply() == "error\nrefused\n");
        CHECK(server.connections() == 0);
    }
    CHECK_FALSE(exists(path));  // the destructor removed it
}

TEST_CASE("a body with NUL bytes and no final newline arrives byte for byte") {
    const std::string path = socket_path("nul");
    control_server server = open_server(path);
    recorder handler;
    const std::string body("one\0two\n\0\xff\n\nend", 15);
    client c(path);
    c.send("apply changes.cs\n" + body);
    c.finish();
    REQUIRE(pump(server, handler, [&] { return c.exchange(); }));
    CHECK(c.reply() == "ok\napply changes.cs / 15 bytes\n");
    REQUIRE(handler.seen.size() == 1);
    CHECK(handler.seen[0].body == body);

    // NUL bytes and control bytes on the command line reach the handler inside words.
    client d(path);
    d.send(std::string("show\0\x01 ports\n", 13));
    d.finish();
    REQUIRE(pump(server, handler, [&] { return d.exchange(); }));
    REQUIRE(handler.seen.size() == 2);
    CHECK(handler.seen[1].words == std::vector<std::string>{std::string("show\0\x01", 6), "ports"});
}

TEST_CASE("an empty command line is refused without the handler") {
    const std::string path = socket_path("empty");
    control_server server = open_server(path);
    recorder handler;
    client c(path);
    c.send(" \t\nbody");
    c.finish();
    REQUIRE(pump(server, handler, [&] { return c.exchange(); }));
    CHECK(c.reply().starts_with("error\nempty command line"));
    CHECK(handler.seen.empty());
}

TEST_CASE("clients that leave early: before sending, and before reading the reply") {
    const std::string path = socket_path("early");
    control_server server = open_server(path);
    recorder handler;
    {
        client silent(path);
        REQUIRE(pump(server, handler, [&] { return server.connections() == 1; }));
        silent.close();
        REQUIRE(pump(server, handler, [&] { return server.connections() == 0; }));
    }
    {
        // The request arrives whole, then the reply meets a closed socket: EPIPE, not SIGPIPE
        // (which would end this test process).
        client rude(path);
        rude.send("show counters\n");
        rude.finish();
        rude.close();
        REQUIRE(pump(server, handler, [&] { return handler.seen.size() == 1 && server.connections() == 0; }));
    }
    client after(path);  // and the server goes on
    after.send("show ports\n");
    after.finish();
    REQUIRE(pump(server, handler, [&] { return after.exchange(); }));
    CHECK(after.reply() == "ok\nshow ports / 0 bytes\n");
}

TEST_CASE("a request over the limit is refused; one at the limit is served") {
    const std::string path = socket_path("large");
    control_server server = open_server(path, {.max_request = 64});
    recorder handler;

    client at_limit(path);
    at_limit.send("apply x\n" + std::string(64 - 8, 'a'));
    at_limit.finish();
    REQUIRE(pump(server, handler, [&] { return at_limit.exchange(); }));
    CHECK(at_limit.reply() == "ok\napply x / 56 bytes\n");

    client over(path);
    over.send("apply x\n" + std::string(64 - 8 + 1, 'a'));  // never finished: the limit decides
    REQUIRE(pump(server, handler, [&] { return over.exchange(); }));
    CHECK(over.reply() == "error\nrequest too large (more than 64 bytes)\n");

    client huge_line(path);  // one line of 1 MB, no newline
    huge_line.send(std::string(1 << 20, 'x'));
    REQUIRE(pump(server, handler, [&] { return huge_line.exchange(); }));
    CHECK(huge_line.reply().starts_with("error\nrequest too large"));
    CHECK(handler.seen.size() == 1);
}

TEST_CASE("a slow client does not hold up another") {
    const std::string path = socket_path("interleaved");
    control_server server = open_server(path);
    recorder handler;

    client slow(path);
    slow.send("show ");
    REQUIRE(pump(server, handler, [&] { return server.connections() == 1; }));
    pump(server, handler, [] { return false; }, 50ms);  // its first part is read, and it waits

    client quick(path);
    quick.send("show counters\n");
    quick.finish();
    REQUIRE(pump(server, handler, [&] { return quick.exchange(); }));
    CHECK(quick.reply() == "ok\nshow counters / 0 bytes\n");
    CHECK_FALSE(slow.exchange());
    CHECK(server.connections() == 1);

    slow.send("ports\nits body");
    slow.finish();
    REQUIRE(pump(server, handler, [&] { return slow.exchange(); }));
    CHECK(slow.reply() == "ok\nshow ports / 8 bytes\n");
    REQUIRE(handler.seen.size() == 2);
    CHECK(handler.seen[0].words[1] == "counters");
    CHECK(handler.seen[1].words[1] == "ports");
}

TEST_CASE("a large request and a large reply go through in pieces without blocking the loop") {
    const std::string path = socket_path("pieces");
    control_server server = open_server(path);
    recorder handler;
    std::string body(3 << 20, '\0');  // more than the socket buffers hold, and than one call reads
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 131 % 251);
    handler.reply_text = std::string(1 << 20, 'r');

    client c(path);
    c.send("apply big.cs\n" + body);
    c.finish();
    REQUIRE(pump(server, handler, [&] { return c.exchange(); }));
    REQUIRE(handler.seen.size() == 1);
    CHECK(handler.seen[0].body == body);
    CHECK(c.reply() == "ok\n" + handler.reply_text + "\n");
}

TEST_CASE("a connection without progress is dropped after the idle limit") {
    const std::string path = socket_path("idle");
    control_server server = open_server(path, {.idle = 100ms});
    recorder handler;
    client stuck(path);
    stuck.send("show gen");  // and nothing more
    const auto start = clock_type::now();
    REQUIRE(pump(server, handler, [&] { return stuck.exchange(); }));  // only the timer wakes the loop
    const auto waited = clock_type::now() - start;
    CHECK(waited >= 90ms);
    CHECK(waited < 1500ms);
    CHECK(stuck.reply().empty());  // dropped, not answered
    CHECK(handler.seen.empty());
    CHECK(server.connections() == 0);
}

TEST_CASE("more connections than the limit are turned away with an error") {
    const std::string path = socket_path("many");
    control_server server = open_server(path, {.max_connections = 2});
    recorder handler;
    client a(path);
    client b(path);
    REQUIRE(pump(server, handler, [&] { return server.connections() == 2; }));
    client c(path);
    REQUIRE(pump(server, handler, [&] { return c.exchange(); }));
    CHECK(c.reply().starts_with("error\ntoo many control connections"));
    a.send("show ports\n");
    a.finish();
    REQUIRE(pump(server, handler, [&] { return a.exchange(); }));
    CHECK(a.reply() == "ok\nshow ports / 0 bytes\n");
}

TEST_CASE("opening: a stale socket is replaced; a file, a live server and a long path are refused") {
    std::string error;
    const std::string path = socket_path("open");

    // What a switch killed with SIGKILL leaves: a socket file nobody listens on.
    {
        const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, path.data(), path.size());
        REQUIRE(::bind(s, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
        ::close(s);
        REQUIRE(exists(path));
    }
    std::optional<control_server> server = control_server::open(path, error);
    INFO(error);
    REQUIRE(server.has_value());

    // A second server at the same path would take the first one's clients.
    CHECK_FALSE(control_server::open(path, error).has_value());
    CHECK(error == "control socket '" + path + "': another process is listening there (a switch already running?)");
    recorder handler;
    client c(path);  // the probe did not disturb the first one
    c.send("show ports\n");
    c.finish();
    REQUIRE(pump(*server, handler, [&] { return c.exchange(); }));
    CHECK(c.reply() == "ok\nshow ports / 0 bytes\n");

    // Moving keeps the file; the moved-to server removes it, once.
    control_server moved = std::move(*server);
    server.reset();
    CHECK(exists(path));
    moved = open_server(socket_path("open2"));
    CHECK_FALSE(exists(path));  // the old one was closed by the assignment
    CHECK(exists(socket_path("open2")));
    CHECK(moved.path() == socket_path("open2"));

    const std::string file = socket_path("regular");
    std::FILE* f = std::fopen(file.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fclose(f);
    CHECK_FALSE(control_server::open(file, error).has_value());
    CHECK(error == "control socket '" + file + "': exists and is not a socket");
    CHECK(exists(file));  // not removed
    ::unlink(file.c_str());

    CHECK_FALSE(control_server::open("/tmp/" + std::string(200, 'x'), error).has_value());
    CHECK(error.find("a path of 1 to 107 bytes is needed") != std::string::npos);
    CHECK_FALSE(control_server::open("/nonexistent-dir/ctl.sock", error).has_value());
    CHECK(error == "control socket '/nonexistent-dir/ctl.sock': cannot create it: No such file or directory");
}

}  // TEST_SUITE("control_socket")
