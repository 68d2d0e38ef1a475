#include "nvgre/detail/assert.hpp"

#include "nvgre/datapath/frame.hpp"

#include <doctest/doctest.h>

#include <array>
#include <csignal>
#include <cstddef>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace {

/// Runs `body` in a child process; returns what it wrote on stderr and whether it was
/// killed by SIGABRT.
template <class F>
std::pair<std::string, bool> in_child(F body) {
    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // The child dies by the abort itself, not through the test framework's crash handler
        // (which would report the parent's test as crashed on the shared stdout).
        std::signal(SIGABRT, SIG_DFL);
        dup2(pipe_fds[1], STDERR_FILENO);
        close(pipe_fds[0]);
        body();
        _exit(0);
    }
    close(pipe_fds[1]);
    std::string err;
    char buf[256];
    for (ssize_t n; (n = read(pipe_fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<std::size_t>(n));
    close(pipe_fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return {err, WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT};
}

}  // namespace

TEST_CASE("detail/assert: a broken precondition aborts with its condition in debug builds, and costs nothing else") {
    // This suite is built without NDEBUG (the Debug presets), or with NVGRE_ASSERTIONS.
#if !defined(NDEBUG) || defined(NVGRE_ASSERTIONS)
    const auto [err, aborted] = in_child([] {
        std::array<std::byte, 16> buffer{};
        // An offset past the end of the buffer: the frame's constructor says so.
        const nvgre::datapath::frame f(buffer, 12, 8);
        static_cast<void>(f);
    });
    CHECK(aborted);
    CHECK(err.find("nvgre: precondition failed") != std::string::npos);
    CHECK(err.find("frame.hpp") != std::string::npos);
    const auto [quiet, held] = in_child([] {
        std::array<std::byte, 16> buffer{};
        const nvgre::datapath::frame f(buffer, 8, 8);  // fits exactly
        NVGRE_ASSERT(f.size() == 8);
    });
    CHECK_FALSE(held);
    CHECK(quiet.empty());
#else
    MESSAGE("NDEBUG without NVGRE_ASSERTIONS: NVGRE_ASSERT compiles to nothing here");
    NVGRE_ASSERT(false);  // must compile away
#endif
}
