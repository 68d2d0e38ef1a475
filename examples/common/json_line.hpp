/// @file examples/common/json_line.hpp
/// @brief A tiny builder for one JSON object per line (JSON Lines), for the examples' output.
///
/// Members are written in the order they are added, so the output's key order is the code's:
/// ```
/// example::json_line j;
/// j.member("n", 1).begin_object("nvgre").member("vsid", 5001).end_object().member("vlan", nullptr);
/// std::puts(j.finish().c_str());   // {"n":1,"nvgre":{"vsid":5001},"vlan":null}
/// ```
/// Strings are escaped per RFC 8259 (quote, backslash and control characters); other bytes are
/// copied as they are (the caller hands UTF-8). Nesting is limited to `max_depth` levels.
#pragma once

#include <array>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace example {

class json_line {
public:
    static constexpr std::size_t max_depth = 16;

    /// Starts the line's outer object.
    json_line() { open('{'); }

    /// `"name":"value"`, escaped.
    json_line& member(std::string_view name, std::string_view value) {
        key(name);
        string(value);
        return *this;
    }
    json_line& member(std::string_view name, const char* value) { return member(name, std::string_view(value)); }
    /// `"name":123` for any integer type (bool excluded: see below).
    template <std::integral T>
        requires(!std::same_as<T, bool>)
    json_line& member(std::string_view name, T value) {
        key(name);
        number(value);
        return *this;
    }
    json_line& member(std::string_view name, bool value) {
        key(name);
        out_ += value ? "true" : "false";
        return *this;
    }
    /// `"name":null`.
    json_line& member(std::string_view name, std::nullptr_t) {
        key(name);
        out_ += "null";
        return *this;
    }
    /// `"name":[1,2,3]`.
    template <std::integral T>
        requires(!std::same_as<T, bool>)
    json_line& member(std::string_view name, std::span<const T> values) {
        key(name);
        out_ += '[';
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (i != 0) out_ += ',';
            number(values[i]);
        }
        out_ += ']';
        return *this;
    }

    /// `"name":{` ... closed by end_object().
    json_line& begin_object(std::string_view name) {
        key(name);
        open('{');
        return *this;
    }
    /// Closes the innermost object opened by begin_object(). Does nothing at the outer level
    /// (finish() closes that one).
    json_line& end_object() {
        if (depth_ > 1) close();
        return *this;
    }

    /// Closes every open object and returns the line (without a newline). The builder is
    /// finished afterwards: adding members again starts a new object.
    [[nodiscard]] const std::string& finish() {
        while (depth_ > 0) close();
        return out_;
    }

    /// Empties the builder and starts a new outer object.
    void clear() {
        out_.clear();
        depth_ = 0;
        open('{');
    }

private:
    void open(char c) {
        out_ += c;
        if (depth_ < max_depth) first_[depth_] = true;
        ++depth_;
    }
    void close() {
        out_ += '}';
        --depth_;
    }
    void key(std::string_view name) {
        if (depth_ == 0) open('{');
        const std::size_t level = depth_ - 1;
        if (level < max_depth) {
            if (!first_[level]) out_ += ',';
            first_[level] = false;
        }
        string(name);
        out_ += ':';
    }
    template <std::integral T>
    void number(T value) {
        std::array<char, 24> buf{};
        const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
        static_cast<void>(ec);  // 24 characters hold every 64-bit integer
        out_.append(buf.data(), end);
    }
    void string(std::string_view s) {
        static constexpr char hex[] = "0123456789abcdef";
        out_ += '"';
        for (const char c : s) {
            const auto u = static_cast<unsigned char>(c);
            switch (c) {
                case '"': out_ += "\\\""; break;
                case '\\': out_ += "\\\\"; break;
                case '\b': out_ += "\\b"; break;
                case '\f': out_ += "\\f"; break;
                case '\n': out_ += "\\n"; break;
                case '\r': out_ += "\\r"; break;
                case '\t': out_ += "\\t"; break;
                default:
                    if (u < 0x20) {
                        out_ += "\\u00";
                        out_ += hex[u >> 4];
                        out_ += hex[u & 0xf];
                    } else {
                        out_ += c;
                    }
            }
        }
        out_ += '"';
    }

    std::string out_;
    std::array<bool, max_depth> first_{};
    std::size_t depth_{0};
};

}  // namespace example
