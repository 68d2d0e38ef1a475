// The JSON stream splitter and remote parsing (jsonrpc.hpp); the connection itself is tested
// against real ovsdb-server by tests/interop/ovsdb_agent.py.
#include "jsonrpc.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace nvgre::ovsdb;

TEST_CASE("JSON texts back to back, split anywhere") {
    const std::string stream = R"({"id":1,"result":["a}",{"b":"\"]"}]} [1,[2]]
{"method":"echo","params":[],"id":"echo"})";
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        json_splitter s;
        std::vector<std::string> got;
        std::string error;
        s.feed(stream.data(), cut);
        while (auto t = s.next(error)) got.push_back(*t);
        s.feed(stream.data() + cut, stream.size() - cut);
        while (auto t = s.next(error)) got.push_back(*t);
        CHECK(error.empty());
        REQUIRE(got.size() == 3);
        CHECK(json::parse(got[0])["result"][0] == "a}");
        CHECK(json::parse(got[1]) == json::array({1, json::array({2})}));
        CHECK(json::parse(got[2])["method"] == "echo");
    }
}

TEST_CASE("a broken stream is an error, not a wait or a crash") {
    std::string error;
    json_splitter junk;
    junk.feed("x{}", 3);
    CHECK(junk.next(error) == std::string());
    CHECK(!error.empty());
    error.clear();
    json_splitter deep;
    const std::string nest(json_splitter::max_depth + 1, '[');
    deep.feed(nest.data(), nest.size());
    CHECK(deep.next(error) == std::string());
    CHECK(error.find("deeper") != std::string::npos);
}

TEST_CASE("remotes: tcp:IP:PORT and unix:PATH, and nothing else") {
    const auto list = parse_remotes("tcp:127.0.0.1:6641,unix:/run/db.sock,tcp:[::1]:6642");
    REQUIRE(list);
    REQUIRE(list->size() == 3);
    CHECK((*list)[0].port == 6641);
    CHECK((*list)[1].unix_socket);
    CHECK((*list)[2].address == "::1");
    for (const char* bad : {"", "tcp:127.0.0.1", "tcp:127.0.0.1:0", "tcp:127.0.0.1:65536", "tcp:host:1", "ssl:1.2.3.4:5", "unix:",
                            "tcp:127.0.0.1:1,", "tcp:127.0.0.1:12x"})
        CHECK_MESSAGE(!parse_remotes(bad), std::string(bad));
}
