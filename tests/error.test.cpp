#include "nvgre/error.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace nvgre;

namespace {
result<int> half(int v) {
    if (v % 2 != 0) return make_error(errc::bad_value, layer::text, 3);
    return v / 2;
}
// A non-trivial T: the union storage must construct and destroy it correctly.
result<std::string> greet(bool ok) {
    if (!ok) return make_error(errc::syntax, layer::text, 0);
    return std::string("hello, a string long enough to live on the heap");
}
}  // namespace

TEST_CASE("error: result<T> holds a value or an error") {
    auto ok = half(8);
    REQUIRE(ok);
    CHECK(ok.has_value());
    CHECK(*ok == 4);
    CHECK(ok.value_or(-1) == 4);
    auto bad = half(7);
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == error{errc::bad_value, layer::text, 3, 0});
    CHECK(bad.value_or(-1) == -1);
}

TEST_CASE("error: result<T> with a non-trivial T copies, moves and destroys") {
    auto a = greet(true);
    REQUIRE(a);
    auto b = a;
    CHECK(*b == *a);
    auto c = std::move(b);
    CHECK(c->size() == a->size());
    c = greet(false);
    CHECK_FALSE(c);
    c = a;
    CHECK(*c == *a);
}

TEST_CASE("error: result<void>") {
    result<void> ok;
    CHECK(ok);
    result<void> bad = make_error(errc::truncated, layer::gre, 4, 8);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().needed == 8);
}

TEST_CASE("error: rebased and in_layer move an error into a larger frame") {
    const auto e = make_error(errc::truncated, layer::ipv4, 2, 20);
    CHECK(e.rebased(14) == error{errc::truncated, layer::ipv4, 16, 20});
    CHECK(e.in_layer(layer::inner_ipv4).where == layer::inner_ipv4);
}

TEST_CASE("error: every code and layer has a stable kebab-case name") {
    CHECK(to_string(errc::bad_gre_flags) == "bad-gre-flags");
    CHECK(to_string(errc::reserved_vsid) == "reserved-vsid");
    CHECK(to_string(errc::inner_vlan) == "inner-vlan");
    CHECK(to_string(errc::truncated) == "truncated");
    CHECK(to_string(layer::inner_ipv6_extension) == "inner-ipv6-extension");
    for (int c = 1; c <= static_cast<int>(errc::ecn_drop); ++c) {
        const auto name = to_string(static_cast<errc>(c));
        CHECK(name != "unknown");
        for (char ch : name) CHECK(((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'));
    }
    for (int l = 0; l <= static_cast<int>(layer::dhcp); ++l) CHECK(to_string(static_cast<layer>(l)) != "unknown");
}
