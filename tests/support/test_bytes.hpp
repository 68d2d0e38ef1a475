// Helpers shared by the doctest suites: hex golden bytes, pre-filled buffers, corpus paths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace nvgre::test {

/// Bytes from hex text; spaces, newlines and ':' are skipped. Aborts on a malformed string
/// (golden data in a test is a programming error, not input).
inline std::vector<std::byte> from_hex(std::string_view hex) {
    std::vector<std::byte> out;
    int hi = -1;
    for (char c : hex) {
        int v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else if (c == ' ' || c == '\n' || c == ':' || c == '\t') continue;
        else std::abort();
        if (hi < 0) hi = v;
        else {
            out.push_back(static_cast<std::byte>(hi * 16 + v));
            hi = -1;
        }
    }
    if (hi >= 0) std::abort();
    return out;
}

inline std::string to_hex(const std::vector<std::byte>& bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (auto b : bytes) {
        const auto v = std::to_integer<unsigned>(b);
        s += digits[v >> 4];
        s += digits[v & 0xf];
    }
    return s;
}

/// A buffer of `n` bytes all 0xa5, so that any byte an emitter forgets to write shows.
inline std::vector<std::byte> prefilled(std::size_t n) { return std::vector<std::byte>(n, std::byte{0xa5}); }

/// ../shared/corpus relative to the source tree, if present (NVGRE_CORPUS_DIR is set by CMake).
inline std::filesystem::path corpus_dir() {
#ifdef NVGRE_CORPUS_DIR
    return std::filesystem::path(NVGRE_CORPUS_DIR);
#else
    return {};
#endif
}

/// Reads a whole file; empty when it does not exist.
inline std::vector<std::byte> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return {};
    std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) out[i] = static_cast<std::byte>(raw[i]);
    return out;
}

}  // namespace nvgre::test
