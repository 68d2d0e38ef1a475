#include "nvgre/datapath/verdict.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace nvgre;
using namespace nvgre::datapath;

TEST_CASE("datapath/verdict: stable, distinct kebab-case names (docs/nvgre-pcap.md)") {
    CHECK(to_string(verdict::encap) == "encap");
    CHECK(to_string(verdict::deliver) == "deliver");
    CHECK(to_string(drop_reason::spoofed_source) == "spoofed-source");
    CHECK(to_string(drop_reason::no_route) == "no-route");
    CHECK(to_string(drop_reason::cross_domain) == "cross-domain");
    CHECK(to_string(drop_reason::unknown_vsid) == "unknown-vsid");
    CHECK(to_string(drop_reason::inner_vlan) == "inner-vlan");
    CHECK(to_string(drop_reason::bad_gre_flags) == "bad-gre-flags");
    CHECK(to_string(drop_reason::truncated) == "truncated");
    CHECK(to_string(drop_reason::nat_unsupported) == "nat-unsupported");
    CHECK(to_string(drop_reason::nat_mismatch) == "nat-mismatch");
    CHECK(to_string(verdict::rewrite) == "rewrite");
    std::set<std::string> names;
    for (std::size_t r = 0; r < drop_reason_count; ++r) {
        const auto n = std::string(to_string(static_cast<drop_reason>(r)));
        CHECK(n != "unknown");
        for (char c : n) CHECK(((c >= 'a' && c <= 'z') || c == '-'));
        names.insert(n);
    }
    CHECK(names.size() == drop_reason_count);
}

TEST_CASE("datapath/verdict: every wire error has its drop reason") {
    CHECK(drop_reason_of(errc::bad_gre_flags) == drop_reason::bad_gre_flags);
    CHECK(drop_reason_of(errc::reserved_vsid) == drop_reason::reserved_vsid);
    CHECK(drop_reason_of(errc::inner_vlan) == drop_reason::inner_vlan);
    CHECK(drop_reason_of(errc::fragmented) == drop_reason::fragmented);
    CHECK(drop_reason_of(errc::ecn_drop) == drop_reason::ecn_drop);
    CHECK(drop_reason_of(errc::no_headroom) == drop_reason::no_headroom);
    for (int e = 1; e <= static_cast<int>(errc::ecn_drop); ++e) {
        const auto r = drop_reason_of(static_cast<errc>(e));
        CHECK(r != drop_reason::none);
        // A parse error's reason keeps its name where the two coincide.
        if (r != drop_reason::unsupported) CHECK(to_string(r) == to_string(static_cast<errc>(e)));
    }
}

TEST_CASE("datapath/verdict: counters") {
    counters a, b;
    a.count(outcome{verdict::encap});
    a.count(outcome::dropped(drop_reason::no_route));
    a.count(outcome::dropped(drop_reason::no_route));
    b.count(outcome::dropped(drop_reason::spoofed_source));
    a += b;
    CHECK(a.of(verdict::encap) == 1);
    CHECK(a.of(verdict::drop) == 3);
    CHECK(a.of(drop_reason::no_route) == 2);
    CHECK(a.of(drop_reason::spoofed_source) == 1);
}
