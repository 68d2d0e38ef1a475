#include "nvgre/policy/change_set.hpp"

#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/canonical.hpp"
#include "nvgre/policy/loader.hpp"

#include "support/red_blue_policy.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

using namespace nvgre;
using namespace nvgre::policy;

namespace {

// The red/blue example of docs/policy-format.md: the policy the change sets apply to.
const std::string& example = nvgre::test::red_blue_policy;

const std::string red = "{11111111-1111-1111-1111-111111111111}";
const std::string blue = "{22222222-2222-2222-2222-222222222222}";

model load(std::string_view text) {
    const load_result r = load_policy_text(text, "p.policy");
    for (const auto& l : r.error_lines()) MESSAGE(l);
    REQUIRE(r);
    return *r.validated;
}

const model& base() {
    static const model m = load(example);
    return m;
}

std::string join(const std::vector<std::string>& lines) {
    std::string t;
    for (const auto& l : lines) t += l + "\n";
    return t;
}

/// Applies the change set of `lines` to the example; the result must be refused, with no
/// model, and the example (which apply only reads) unchanged. Its error lines.
std::vector<std::string> errors_of(const std::vector<std::string>& lines) {
    const std::string before = format(base());
    const load_result r = apply_change_set_text(base(), join(lines), "c.txt");
    CHECK_FALSE(r.validated.has_value());
    CHECK_FALSE(r.diagnostics.empty());
    CHECK(format(base()) == before);
    return r.error_lines();
}

/// "c.txt:LINE:COL: error: MESSAGE", COL = the 1-based position of `needle` in `line_text`;
/// a needle "key=" stands for the value after it.
std::string at(int line, std::string_view line_text, std::string_view needle, std::string_view message) {
    std::size_t pos = line_text.find(needle);
    REQUIRE(pos != std::string_view::npos);
    if (needle.size() > 1 && needle.back() == '=') pos += needle.size();
    return "c.txt:" + std::to_string(line) + ":" + std::to_string(pos + 1) + ": error: " + std::string(message);
}

/// The one error of a change set of one line, at `needle` of that line.
void one_error(const std::string& line, std::string_view needle, std::string_view message) {
    CAPTURE(line);
    CHECK(errors_of({line}) == std::vector<std::string>{at(1, line, needle, message)});
}

/// The example with `lines` applied; must succeed.
model applied(const std::vector<std::string>& lines) {
    const load_result r = apply_change_set_text(base(), join(lines), "c.txt");
    for (const auto& l : r.error_lines()) MESSAGE(l);
    REQUIRE(r);
    return *r.validated;
}

}  // namespace

TEST_CASE("policy/change_set: the example of docs/policy-format.md") {
    const std::string changes =
        "# move red-db from hv2 to hv1\n"
        "+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db\n"
        "# a new subnet for red\n"
        "+ virtual-subnet vsid=5003 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.3.1\n"
        "+ customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5003 prefix=10.0.3.0/24 next-hop=0.0.0.0\n"
        "- lookup-record vsid=6001 ca=10.0.0.6\n";
    const change_set_parse parsed = parse_change_set(changes, "c.txt");
    REQUIRE(parsed);
    REQUIRE(parsed.changes.entries.size() == 4);
    CHECK(parsed.changes.file == "c.txt");
    CHECK(parsed.changes.entries[0].op == change_op::add);
    CHECK(parsed.changes.entries[0].line == 2);
    CHECK(parsed.changes.entries[3].op == change_op::remove);
    CHECK(parsed.changes.entries[3].line == 6);

    const load_result r = apply_change_set_text(base(), changes, "c.txt");
    for (const auto& l : r.error_lines()) MESSAGE(l);
    REQUIRE(r);
    const model want = load(
        "provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b\n"
        "provider-address host=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c\n"
        "routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red\n"
        "virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1\n"
        "virtual-subnet vsid=5003 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.3.1\n"
        "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0\n"
        "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5003 prefix=10.0.3.0/24 next-hop=0.0.0.0\n"
        "lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web\n"
        "lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db\n"
        "routing-domain rdid={22222222-2222-2222-2222-222222222222} name=blue\n"
        "virtual-subnet vsid=6001 rdid={22222222-2222-2222-2222-222222222222} gateway=10.0.0.1\n"
        "customer-route rdid={22222222-2222-2222-2222-222222222222} vsid=6001 prefix=10.0.0.0/24 next-hop=0.0.0.0\n"
        "lookup-record vsid=6001 ca=10.0.0.5 mac=00:15:5d:00:01:05 pa=192.168.10.11 vm=blue-web\n");
    CHECK(format(*r.validated) == format(want));
    CHECK(r.validated->counts() == model_counts{2, 2, 0, 2, 3, 3, 3});
    // The same through the parsed change set, and diff finds it back: removals first.
    const load_result again = apply_change_set(base(), parsed.changes);
    REQUIRE(again);
    CHECK(format(*again.validated) == format(want));
    CHECK(format(diff(base(), want)) ==
          "- lookup-record vsid=6001 ca=10.0.0.6\n"
          "+ virtual-subnet vsid=5003 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.3.1\n"
          "+ customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5003 prefix=10.0.3.0/24 next-hop=0.0.0.0\n"
          "+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db\n");
    CHECK(format(diff(want, base())) ==
          "- customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5003 prefix=10.0.3.0/24\n"
          "- virtual-subnet vsid=5003\n"
          "+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.12 vm=red-db\n"
          "+ lookup-record vsid=6001 ca=10.0.0.6 mac=00:15:5d:00:01:06 pa=192.168.10.12 vm=blue-db\n");
}

TEST_CASE("policy/change_set: an empty change set is the policy itself; diff of a policy with itself is empty") {
    for (const std::string text : {"", "\n", "# nothing to do\n\n   \t\n"}) {
        const load_result r = apply_change_set_text(base(), text, "c.txt");
        REQUIRE(r);
        CHECK(format(*r.validated) == format(base()));
    }
    CHECK(diff(base(), base()).empty());
    CHECK(format(diff(base(), base())).empty());
    CHECK(diff(model{}, model{}).empty());
    // From and to the empty policy: every object, removals in reverse canonical order.
    const change_set all = diff(model{}, base());
    CHECK(all.entries.size() == 12);
    CHECK(std::all_of(all.entries.begin(), all.entries.end(), [](const change_entry& e) { return e.op == change_op::add; }));
    CHECK(format(*apply_change_set(model{}, all).validated) == format(base()));
    const change_set none = diff(base(), model{});
    REQUIRE(none.entries.size() == 12);
    CHECK(format_identity(none.entries.front().value) == "lookup-record vsid=6001 ca=10.0.0.6");
    CHECK(format_identity(none.entries.back().value) == "provider-address host=hv1 pa=192.168.10.11");
    const load_result emptied = apply_change_set_text(base(), format(none), "d");
    REQUIRE(emptied);
    CHECK(format(*emptied.validated).empty());
}

TEST_CASE("policy/change_set: '+' replaces the whole object with its identity") {
    SUBCASE("a record moves to another PA: same identity, one record") {
        const model m = applied({"+ lookup-record vsid=6001 ca=10.0.0.5 mac=00:15:5d:00:01:05 pa=192.168.10.12"});
        CHECK(m.counts() == base().counts());
        CHECK(format(m).find("lookup-record vsid=6001 ca=10.0.0.5 mac=00:15:5d:00:01:05 pa=192.168.10.12\n") != std::string::npos);
        // The vm name is not kept: a replacement is the object of the line, not a merge.
        CHECK(format(m).find("blue-web") == std::string::npos);
    }
    SUBCASE("optional keys left out go back to their defaults") {
        const model m = applied({"+ routing-domain rdid=" + blue + " router-mac=02:00:5e:00:02:02"});
        CHECK(format(m).find("routing-domain rdid=" + blue + " router-mac=02:00:5e:00:02:02\n") != std::string::npos);
        const model n = applied({"+ routing-domain rdid=" + red});
        REQUIRE(n.find_domain(rdid::parse(red).value()) != nullptr);
        CHECK(n.find_domain(rdid::parse(red).value())->name.empty());
        // A domain replaced keeps its subnets: they refer to its identity.
        CHECK(n.counts() == base().counts());
    }
    SUBCASE("a subnet's gateways change; the identity is written in any spelling") {
        const model m = applied({"+ virtual-subnet rdid=11111111-1111-1111-1111-111111111111 vsid=5001 gateway=FD00:0::1"});
        CHECK(format(m).find("virtual-subnet vsid=5001 rdid=" + red + " gateway=fd00::1\n") != std::string::npos);
    }
    SUBCASE("'+' of an object that is not there adds it") {
        const model m = applied({"+ provider-address host=hv3 pa=fd00:f::3 prefix-length=64 mac=02:00:00:00:00:03 vlan=42"});
        CHECK(m.counts().hosts == 3);
        CHECK(format(m).rfind("provider-address host=hv3 pa=fd00:f::3 prefix-length=64 mac=02:00:00:00:00:03 vlan=42\n", 0) ==
              std::string::npos);  // not first: hv1 and hv2 sort before hv3
        CHECK(format(m).find("provider-address host=hv3 pa=fd00:f::3 prefix-length=64 mac=02:00:00:00:00:03 vlan=42\n") !=
              std::string::npos);
    }
    SUBCASE("a provider address moves to another host (a new identity, the old one removed)") {
        const model m = applied({"- provider-address host=hv2 pa=192.168.10.12",
                                 "+ provider-address host=hv3 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c"});
        CHECK(m.host_of_pa(ip_address::parse("192.168.10.12").value()) == "hv3");
        CHECK(m.counts().lookup_records == 4);
        // diff writes that change, and it applies (its records stay with the PA).
        const change_set d = diff(base(), m);
        CHECK(format(d) ==
              "- provider-address host=hv2 pa=192.168.10.12\n"
              "+ provider-address host=hv3 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c\n");
        const load_result r = apply_change_set(base(), d);
        for (const auto& l : r.error_lines()) MESSAGE(l);
        REQUIRE(r);
        CHECK(format(*r.validated) == format(m));
    }
    SUBCASE("removals need only the identity keys; other keys are read and not compared") {
        const model m = applied({"- lookup-record vsid=6001 ca=10.0.0.6 mac=00:15:5d:00:00:99 pa=192.168.10.11",
                                 "- lookup-record ca=10.0.0.5 vsid=6001",
                                 "- customer-route rdid=" + blue + " vsid=6001 prefix=10.0.0.0/24 next-hop=10.0.0.9",
                                 "- virtual-subnet vsid=6001", "- routing-domain rdid=" + blue});
        CHECK(m.counts() == model_counts{2, 2, 0, 1, 1, 1, 2});
    }
    SUBCASE("routes are named with their metric") {
        const model m = applied({"+ customer-route rdid=" + red + " vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0 metric=10"});
        CHECK(m.counts().customer_routes == 3);
        const model n = applied({"- customer-route rdid=" + red + " vsid=5001 prefix=10.0.0.0/24 metric=256"});
        CHECK(n.counts().customer_routes == 1);
        one_error("- customer-route rdid=" + red + " vsid=5001 prefix=10.0.0.0/24 metric=10", "customer-route",
                  "cannot remove customer-route rdid=" + red + " vsid=5001 prefix=10.0.0.0/24 metric=10: the policy has no such object");
    }
}

TEST_CASE("policy/change_set: lines of a change set") {
    SUBCASE("comments, blank lines, blanks and CRLF; line numbers count every line") {
        const load_result r = apply_change_set_text(
            base(),
            "# header\r\n\r\n  -\tlookup-record vsid=6001 ca=10.0.0.6   # blue-db goes\r\n"
            "\t+ routing-domain rdid=" + blue + " name=navy\r\n- lookup-record vsid=6001 ca=10.0.0.99\r\n",
            "c.txt");
        CHECK(r.error_lines() == std::vector<std::string>{
                                     "c.txt:5:3: error: cannot remove lookup-record vsid=6001 ca=10.0.0.99: the policy has no such object"});
    }
    SUBCASE("a line that starts with neither '+ ' nor '- '") {
        one_error("lookup-record vsid=5001 ca=10.0.0.6", "lookup-record",
                  "a change set line starts with '+ ' (add or replace) or '- ' (remove), not 'lookup-record'");
        one_error("+lookup-record vsid=5001 ca=10.0.0.6", "+",
                  "a change set line starts with '+ ' (add or replace) or '- ' (remove), not '+lookup-record'");
        one_error("  * lookup-record vsid=5001 ca=10.0.0.6", "*",
                  "a change set line starts with '+ ' (add or replace) or '- ' (remove), not '*'");
        one_error("-", "-", "a change set line starts with '+ ' (add or replace) or '- ' (remove), not '-'");
        one_error("+ ", "+", "'+' or '-' without an object");
        one_error("  -   # nothing", "-", "'+' or '-' without an object");
    }
    SUBCASE("the syntax of the policy format, at the value or key") {
        one_error("+ frobnicate x=1", "frobnicate", "unknown object kind 'frobnicate'");
        one_error("+ routing-domain rdid=" + blue + " colour=navy", "colour", "unknown key 'colour' for routing-domain");
        one_error("+ lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:zz pa=192.168.10.11", "mac=",
                  "malformed MAC address '00:15:5d:00:00:zz' for mac");
        one_error("+ lookup-record vsid=4095 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11", "vsid=",
                  "VSID 4095 is outside 4096-16777214");
        one_error("+ customer-route rdid=" + red + " vsid=5001 prefix=10.0.9.1/24 next-hop=0.0.0.0", "prefix=",
                  "host bits set in prefix 10.0.9.1/24 (the prefix is 10.0.9.0/24)");
        // A '+' line is a whole object; a '-' line needs the identity keys.
        one_error("+ lookup-record vsid=5001 ca=10.0.0.9 pa=192.168.10.11", "lookup-record",
                  "missing required key 'mac' for lookup-record");
        one_error("- lookup-record vsid=5001", "lookup-record", "missing required key 'ca' for removing a lookup-record");
        one_error("- provider-address pa=192.168.10.11", "provider-address",
                  "missing required key 'host' for removing a provider-address");
        one_error("- customer-route rdid=" + red + " prefix=10.0.0.0/24", "customer-route",
                  "missing required key 'vsid' for removing a customer-route");
    }
}

TEST_CASE("policy/change_set: the errors of a change set, each at its line") {
    SUBCASE("removing an object that is not there") {
        one_error("- lookup-record vsid=5001 ca=10.0.0.99", "lookup-record",
                  "cannot remove lookup-record vsid=5001 ca=10.0.0.99: the policy has no such object");
        one_error("- virtual-subnet vsid=7001", "virtual-subnet", "cannot remove virtual-subnet vsid=7001: the policy has no such object");
        one_error("- provider-address host=hv2 pa=192.168.10.11", "provider-address",
                  "cannot remove provider-address host=hv2 pa=192.168.10.11: the policy has no such object");
        one_error("- routing-domain rdid={33333333-3333-3333-3333-333333333333}", "routing-domain",
                  "cannot remove routing-domain rdid={33333333-3333-3333-3333-333333333333}: the policy has no such object");
        one_error("- provider-route host=hv1 prefix=10.9.0.0/16", "provider-route",
                  "cannot remove provider-route host=hv1 prefix=10.9.0.0/16: the policy has no such object");
    }
    SUBCASE("naming one identity twice: at the later line") {
        const std::string a = "+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11";
        const std::string b = "- lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06";
        CHECK(errors_of({a, "# between", b}) ==
              std::vector<std::string>{at(3, b, "lookup-record",
                                          "lookup-record vsid=5001 ca=10.0.0.6 is already changed by line 1 of this change "
                                          "set (one line per object)")});
        CHECK(errors_of({a, a}) == std::vector<std::string>{at(2, a, "lookup-record",
                                                               "lookup-record vsid=5001 ca=10.0.0.6 is already changed by line 1 "
                                                               "of this change set (one line per object)")});
        // Spelled differently, still one identity.
        const std::string c = "+ routing-domain rdid=22222222-2222-2222-2222-222222222222 name=navy";
        const std::string d = "+ routing-domain name=azure rdid={22222222-2222-2222-2222-222222222222}";
        CHECK(errors_of({c, d}) == std::vector<std::string>{at(2, d, "routing-domain",
                                                               "routing-domain rdid=" + blue +
                                                                   " is already changed by line 1 of this change set (one "
                                                                   "line per object)")});
    }
    SUBCASE("removing a routing domain that still has subnets") {
        one_error("- routing-domain rdid=" + red, "routing-domain",
                  "cannot remove routing-domain rdid=" + red + ": still used by 2 objects (virtual-subnet vsid=5001)");
        // Not even with its subnet, when the subnet stays for its records: both lines fail.
        const std::string a = "- routing-domain rdid=" + blue;
        const std::string b = "- virtual-subnet vsid=6001";
        CHECK(errors_of({a, b}) ==
              std::vector<std::string>{
                  at(1, a, "routing-domain", "cannot remove routing-domain rdid=" + blue + ": still used by 2 objects (customer-route rdid=" + blue +
                                                              " vsid=6001 prefix=10.0.0.0/24)"),
                  at(2, b, "virtual-subnet",
                     "cannot remove virtual-subnet vsid=6001: still used by 3 objects (customer-route rdid=" + blue +
                         " vsid=6001 prefix=10.0.0.0/24)")});
    }
    SUBCASE("removing a subnet that has records or routes") {
        one_error("- virtual-subnet vsid=5001", "virtual-subnet",
                  "cannot remove virtual-subnet vsid=5001: still used by 3 objects (customer-route rdid=" + red +
                      " vsid=5001 prefix=10.0.0.0/24)");
        const std::string r = "- customer-route rdid=" + red + " vsid=5001 prefix=10.0.0.0/24";
        const std::string s = "- virtual-subnet vsid=5001";
        CHECK(errors_of({r, s}) == std::vector<std::string>{at(2, s, "virtual-subnet",
                                                               "cannot remove virtual-subnet vsid=5001: still used by 2 objects "
                                                               "(lookup-record vsid=5001 ca=10.0.0.5)")});
        // A record the change set adds uses it too.
        const std::string add = "+ lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11";
        CHECK(errors_of({r, "- lookup-record vsid=5001 ca=10.0.0.5", "- lookup-record vsid=5001 ca=10.0.0.6", add, s}) ==
              std::vector<std::string>{at(5, s, "virtual-subnet",
                                          "cannot remove virtual-subnet vsid=5001: still used by 1 object (lookup-record "
                                          "vsid=5001 ca=10.0.0.9)")});
    }
    SUBCASE("removing a provider address that records use") {
        one_error("- provider-address host=hv2 pa=192.168.10.12", "provider-address",
                  "cannot remove provider-address host=hv2 pa=192.168.10.12: still used by 2 objects (lookup-record vsid=5001 "
                  "ca=10.0.0.6)");
    }
    SUBCASE("removing a host's last provider address while it has provider routes") {
        const std::string p = "+ provider-route host=hv2 prefix=10.9.0.0/16 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:fe";
        const model with_route = applied({p});
        const std::string moves = "+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11";
        const std::string goes = "- lookup-record vsid=6001 ca=10.0.0.6";
        const std::string pa = "- provider-address host=hv2 pa=192.168.10.12";
        const load_result r = apply_change_set_text(with_route, join({moves, goes, pa}), "c.txt");
        CHECK_FALSE(r.validated);
        CHECK(r.error_lines() == std::vector<std::string>{at(3, pa, "provider-address",
                                                             "cannot remove provider-address host=hv2 pa=192.168.10.12: still "
                                                             "used by 1 object (provider-route host=hv2 prefix=10.9.0.0/16)")});
        // With the route gone too, the host goes.
        const load_result ok = apply_change_set_text(
            with_route, join({moves, goes, pa, "- provider-route host=hv2 prefix=10.9.0.0/16"}), "c.txt");
        for (const auto& l : ok.error_lines()) MESSAGE(l);
        REQUIRE(ok);
        CHECK(ok.validated->counts().hosts == 1);
    }
    SUBCASE("the rules of a policy, at the line that breaks them") {
        one_error("+ lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.99", "pa",
                  "pa 192.168.10.99 is not a declared provider address");
        one_error("+ lookup-record vsid=7001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.11", "vsid",
                  "virtual subnet 7001 is not declared");
        // A conflict with an object of the policy names that object; one with a line, the line.
        one_error("+ lookup-record vsid=6001 ca=10.0.0.9 mac=00:15:5d:00:00:05 pa=192.168.10.11", "mac",
                  "mac 00:15:5d:00:00:05 is already in virtual subnet 5001 on host hv1 (see lookup-record vsid=5001 ca=10.0.0.5)");
        one_error("+ provider-address host=hv3 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0d", "pa",
                  "provider address 192.168.10.12 is already declared (host hv2) (see provider-address host=hv2 pa=192.168.10.12)");
        const std::string a = "+ lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.11 rule=nat";
        one_error(a, "pa", "pa 192.168.10.11 of a nat record is already used by another lookup record (see lookup-record "
                           "vsid=5001 ca=10.0.0.5)");
        const std::string s1 = "+ virtual-subnet vsid=5002 rdid=" + red;
        const std::string s2 = "+ customer-route rdid=" + blue + " vsid=5002 prefix=10.0.2.0/24 next-hop=0.0.0.0";
        CHECK(errors_of({s1, s2}) == std::vector<std::string>{at(2, s2, "vsid",
                                                                 "virtual subnet 5002 is in routing domain " + red + ", not in " +
                                                                     blue + " (see line 1)")});
        one_error("+ customer-route rdid=" + red + " vsid=5001 prefix=10.0.2.0/24 next-hop=fd00::1", "next-hop=",
                  "next-hop fd00::1 is IPv6 but prefix 10.0.2.0/24 is IPv4");
    }
    SUBCASE("a line that makes an object it does not name invalid") {
        // Subnet 6001 moved into red: blue's route and records of 6001 break, reported at the line.
        const std::string move = "+ virtual-subnet vsid=6001 rdid=" + red;
        CHECK(errors_of({move}) ==
              std::vector<std::string>{
                  at(1, move, "virtual-subnet",
                     "makes customer-route rdid=" + blue + " vsid=6001 prefix=10.0.0.0/24 invalid: virtual subnet 6001 is in "
                     "routing domain " + red + ", not in " + blue + " (see line 1)"),
                  at(1, move, "virtual-subnet",
                     "makes lookup-record vsid=6001 ca=10.0.0.5 invalid: ca 10.0.0.5 is already used in routing domain " + red +
                         " (virtual subnet 5001) (see lookup-record vsid=5001 ca=10.0.0.5)"),
                  at(1, move, "virtual-subnet",
                     "makes lookup-record vsid=6001 ca=10.0.0.6 invalid: ca 10.0.0.6 is already used in routing domain " + red +
                         " (virtual subnet 5001) (see lookup-record vsid=5001 ca=10.0.0.6)")});
    }
}

TEST_CASE("policy/change_set: gateway-wildcard records are named by their mac too") {
    const load_result loaded = load_policy_file(std::string(NVGRE_SOURCE_DIR) + "/examples/policies/two-tenants.policy");
    REQUIRE(loaded);
    const model& two = *loaded.validated;
    const std::size_t records = two.counts().lookup_records;
    const auto apply = [&](const std::string& text) { return apply_change_set_text(two, text, "c.txt"); };

    const std::string no_mac = "- lookup-record vsid=5001 ca=0.0.0.0";
    CHECK(apply(no_mac + "\n").error_lines() ==
          std::vector<std::string>{at(1, no_mac, "lookup-record",
                                      "removing a gateway-wildcard lookup record needs its mac (several NICs may be gateways of "
                                      "the VSID)")});
    const load_result removed = apply("- lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5D:00:00:FE\n");
    REQUIRE(removed);
    CHECK(removed.validated->counts().lookup_records == records - 1);
    CHECK(format(diff(two, *removed.validated)) == "- lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fe\n");

    const std::string other = "- lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fd";
    CHECK(apply(other + "\n").error_lines() ==
          std::vector<std::string>{at(1, other, "lookup-record",
                                      "cannot remove lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fd: the policy has no "
                                      "such object")});
    const std::string v6 = "- lookup-record vsid=5001 ca=:: mac=00:15:5d:00:00:fe";
    CHECK(apply(v6 + "\n").error_lines() ==
          std::vector<std::string>{at(1, v6, "lookup-record",
                                      "cannot remove lookup-record vsid=5001 ca=:: mac=00:15:5d:00:00:fe: the policy has no such "
                                      "object")});

    // '+' with another mac adds a second gateway; with the same mac it replaces the first.
    const load_result second =
        apply("+ lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fd pa=192.168.10.12 type=gateway-wildcard vm=gw2\n");
    REQUIRE(second);
    CHECK(second.validated->counts().lookup_records == records + 1);
    const load_result replaced =
        apply("+ lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fe pa=192.168.10.11 type=gateway-wildcard\n");
    REQUIRE(replaced);
    CHECK(replaced.validated->counts().lookup_records == records);
    CHECK(format(*replaced.validated).find("lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fe pa=192.168.10.11 type=gateway-wildcard\n") !=
          std::string::npos);
    // Two lines for one gateway: one identity named twice.
    const std::string a = "- lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fe";
    const std::string b = "+ lookup-record vsid=5001 ca=0.0.0.0 mac=00-15-5d-00-00-FE pa=192.168.10.11 type=gateway-wildcard";
    CHECK(apply(join({a, b})).error_lines() ==
          std::vector<std::string>{at(2, b, "lookup-record",
                                      "lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fe is already changed by line 1 of "
                                      "this change set (one line per object)")});
}

TEST_CASE("policy/change_set: every error of a change set together, in line order; nothing applied") {
    const std::vector<std::string> lines = {
        "# several errors",
        "+ lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.11 vm=red-app",
        "- virtual-subnet vsid=7001",
        "bogus line",
        "- routing-domain rdid=" + red,
        "+ lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:08 pa=192.168.10.12",
        "+ lookup-record vsid=5001 ca=10.0.0.8 mac=00:15:5d:00:00:zz pa=192.168.10.99 vm=bad/name",
        "- lookup-record vsid=6001 ca=10.0.0.5",
        "+ lookup-record vsid=6001 ca=10.0.0.9 mac=00:15:5d:00:01:09 pa=192.168.10.99",
    };
    CHECK(errors_of(lines) ==
          std::vector<std::string>{
              at(3, lines[2], "virtual-subnet", "cannot remove virtual-subnet vsid=7001: the policy has no such object"),
              at(4, lines[3], "bogus",
                 "a change set line starts with '+ ' (add or replace) or '- ' (remove), not 'bogus'"),
              at(5, lines[4], "routing-domain",
                 "cannot remove routing-domain rdid=" + red + ": still used by 2 objects (virtual-subnet vsid=5001)"),
              at(6, lines[5], "lookup-record",
                 "lookup-record vsid=5001 ca=10.0.0.7 is already changed by line 2 of this change set (one line per object)"),
              at(7, lines[6], "mac=", "malformed MAC address '00:15:5d:00:00:zz' for mac"),
              at(7, lines[6], "vm=", "vm 'bad/name' is not a valid name (letters, digits, '-', '_', '.')"),
              at(9, lines[8], "pa", "pa 192.168.10.99 is not a declared provider address"),
          });
    // Without the bad lines the same change set applies.
    const model m = applied({lines[0], lines[1], lines[7]});
    CHECK(m.counts().lookup_records == 4);
}

TEST_CASE("policy/change_set: change sets made in code") {
    change_set c;
    c.file = "made-in-code";
    const auto vsid7001 = vsid::make(7001).value();
    c.entries.push_back(change_entry{change_op::remove, virtual_subnet{vsid7001, rdid{}, std::nullopt, std::nullopt}, 0, std::nullopt});
    const load_result r = apply_change_set(base(), c);
    CHECK_FALSE(r.validated);
    CHECK(r.error_lines() ==
          std::vector<std::string>{"made-in-code: error: cannot remove virtual-subnet vsid=7001: the policy has no such object"});
    // The entries of diff() apply; one named twice does not.
    const model target = applied({"- lookup-record vsid=6001 ca=10.0.0.6"});
    change_set d = diff(base(), target);
    REQUIRE(d.entries.size() == 1);
    CHECK(d.entries[0].line == 0);
    CHECK_FALSE(d.entries[0].where.has_value());
    CHECK(apply_change_set(base(), d));
    d.entries.push_back(d.entries[0]);
    const load_result twice = apply_change_set(base(), d);
    CHECK_FALSE(twice);
    REQUIRE(twice.diagnostics.size() == 1);
    CHECK(twice.diagnostics[0].message.find("is already changed by line") != std::string::npos);
}

TEST_CASE("policy/change_set: a parsed change set outlives its text") {
    change_set_parse parsed;
    {
        std::string text = "+ lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=red-db\n";
        parsed = parse_change_set(text, "c.txt");
        text.assign(text.size(), 'x');
    }
    REQUIRE(parsed);
    REQUIRE(parsed.changes.entries.size() == 1);
    const change_entry& e = parsed.changes.entries[0];
    CHECK(std::get<lookup_record>(e.value).vm == "red-db");
    REQUIRE(e.where.has_value());
    CHECK(e.where->kind_column == 3);
    REQUIRE(e.where->get("vm") != nullptr);
    CHECK(e.where->get("vm")->text.empty());  // positions only: the name is in the object
    const load_result r = apply_change_set(base(), parsed.changes);
    REQUIRE(r);
    CHECK(format(*r.validated).find("pa=192.168.10.11 vm=red-db\n") != std::string::npos);
}

// ---- property: random valid policies A and B ---------------------------------------------------

namespace {

/// Random valid policies over a small universe (so that two of them share many identities):
/// 3 hosts, 6 provider addresses (two IPv6, some with a VLAN), provider routes, 3 routing
/// domains with and without names and router MACs, 6 VSIDs with IPv4 / IPv6 gateways, customer
/// routes on-link and through next hops with metrics, static records (encap and nat) and
/// gateway-wildcard records, with and without vm names. Valid by construction; the builder
/// checks that.
class policy_generator {
public:
    explicit policy_generator(std::uint32_t seed) : rng_(seed) {}

    std::vector<object> objects() {
        std::vector<object> out;
        // Provider addresses.
        std::vector<provider_address> pas;
        for (const char* pa : {"192.168.10.11", "192.168.10.12", "192.168.10.13", "192.168.20.14", "fd00:f::1", "fd00:f::2"}) {
            if (!chance(65)) continue;
            const ip_address a = ip(pa);
            provider_address p{pick(hosts_), a, static_cast<std::uint8_t>(a.is_v4() ? 24 : 64),
                               mac(0x02, static_cast<std::uint8_t>(rng_() % 4)), 0};
            if (chance(25)) p.vlan = pick(std::vector<std::uint16_t>{7, 42, 4094});
            pas.push_back(p);
            out.emplace_back(p);
        }
        // Provider routes of the hosts that have provider addresses.
        std::set<std::tuple<std::string, std::string, std::uint32_t>> route_ids;
        for (const auto& p : pas) {
            for (int n = static_cast<int>(rng_() % 3); n > 0; --n) {
                const std::string prefix = pick(std::vector<std::string>{"10.9.0.0/16", "192.168.20.0/24", "fd00:9::/48"});
                const std::uint32_t metric = pick(std::vector<std::uint32_t>{256, 10, 0});
                if (!route_ids.emplace(p.host, prefix, metric).second) continue;
                const ip_prefix pr = ip_prefix::parse(prefix).value();
                out.emplace_back(provider_route{p.host, pr, ip(pr.address().is_v4() ? "192.168.10.1" : "fd00:f::fe"),
                                                mac(0x02, static_cast<std::uint8_t>(0xf0 + rng_() % 3)), metric});
            }
        }
        // Routing domains.
        std::vector<rdid> domains;
        for (const char* id : {"{11111111-1111-1111-1111-111111111111}", "{22222222-2222-2222-2222-222222222222}",
                               "{abcdefab-cdef-abcd-efab-cdefabcdefab}"}) {
            if (!chance(75)) continue;
            routing_domain d{rdid::parse(id).value(), pick(std::vector<std::string>{"", "red", "blue", "green"}), default_router_mac};
            if (chance(30)) d.router_mac = mac(0x02, static_cast<std::uint8_t>(0x20 + rng_() % 2));
            domains.push_back(d.id);
            out.emplace_back(d);
        }
        if (domains.empty()) return out;
        // Virtual subnets.
        std::vector<virtual_subnet> subnets;
        for (const std::uint32_t v : {5001u, 5002u, 5003u, 6001u, 6002u, 7001u}) {
            if (!chance(60)) continue;
            virtual_subnet s{vsid::make(v).value(), pick(domains), std::nullopt, std::nullopt};
            if (chance(60)) s.gateway_v4 = ipv4_address::parse(chance(50) ? "10.0.0.1" : "10.0.1.1").value();
            if (chance(40)) s.gateway_v6 = ipv6_address::parse("fd00::1").value();
            subnets.push_back(s);
            out.emplace_back(s);
        }
        // Customer routes: one (domain, prefix, metric) each.
        std::set<std::tuple<rdid, ip_prefix, std::uint32_t>> croute_ids;
        for (const auto& s : subnets) {
            for (int n = static_cast<int>(rng_() % 4); n > 0; --n) {
                const ip_prefix prefix = ip_prefix::parse(pick(std::vector<std::string>{
                                                              "10.0.0.0/24", "10.0.1.0/24", "0.0.0.0/0", "172.16.0.0/16",
                                                              "fd00::/64", "::/0"}))
                                             .value();
                const std::uint32_t metric = pick(std::vector<std::uint32_t>{256, 256, 100, 0});
                if (!croute_ids.emplace(s.domain, prefix, metric).second) continue;
                const bool v4 = prefix.address().is_v4();
                ip_address next_hop = ip(v4 ? "0.0.0.0" : "::");
                if (chance(40)) next_hop = ip(v4 ? pick(cas_v4_) : pick(cas_v6_));
                out.emplace_back(customer_route{s.domain, s.id, prefix, next_hop, metric});
            }
        }
        // Port classifications, named by some NICs' records (every record of a NIC alike).
        std::vector<std::string> classifications{""};
        for (const char* name : {"gold", "guarded"}) {
            if (!chance(50)) continue;
            port_classification c;
            c.name = name;
            c.dhcp_guard = chance(50);
            c.allow_mac_spoofing = chance(30);
            if (chance(50)) c.maximum_bandwidth = 20'000'000;
            out.emplace_back(c);
            classifications.push_back(name);
        }
        std::map<std::pair<std::string, mac_address>, std::string> nic_class;  // (host, mac) -> classification
        // Lookup records.
        if (pas.empty()) return out;
        std::set<std::pair<rdid, ip_address>> cas;                                  // static CAs per domain
        std::set<std::tuple<std::uint32_t, bool, mac_address>> gateways;             // (vsid, v6, mac)
        std::map<std::pair<std::string, mac_address>, std::uint32_t> mac_vsid;       // (host, mac) -> vsid
        std::map<ip_address, int> pa_records;                                        // records per PA
        std::set<ip_address> nat_pas;
        for (const auto& s : subnets) {
            for (int n = static_cast<int>(rng_() % 5); n > 0; --n) {
                const provider_address& p = pas[rng_() % pas.size()];
                lookup_record r{s.id, {}, mac(0x00, static_cast<std::uint8_t>(rng_() % 8)), p.pa, rule::encap,
                                record_type::static_record, pick(std::vector<std::string>{"", "", "web", "db", "gw-1", "app.2"})};
                if (chance(15)) {
                    r.type = record_type::gateway_wildcard;
                    r.ca = ip(chance(50) ? "0.0.0.0" : "::");
                    if (!gateways.emplace(s.id.value(), r.ca.is_v6(), r.mac).second) continue;
                } else {
                    r.ca = chance(70) ? ip(pick(cas_v4_)) : ip(pick(cas_v6_));
                    if (cas.count({s.domain, r.ca}) != 0) continue;
                    if (chance(20) && r.ca.version() == p.pa.version() && pa_records[p.pa] == 0) r.rule = rule::nat;
                }
                if (nat_pas.count(p.pa) != 0) {  // a nat PA is its record's alone
                    if (r.type == record_type::gateway_wildcard) gateways.erase({s.id.value(), r.ca.is_v6(), r.mac});
                    continue;
                }
                const auto [m, fresh] = mac_vsid.try_emplace({p.host, r.mac}, s.id.value());
                if (!fresh && m->second != s.id.value()) {
                    if (r.type == record_type::gateway_wildcard) gateways.erase({s.id.value(), r.ca.is_v6(), r.mac});
                    continue;
                }
                if (r.type == record_type::static_record) cas.emplace(s.domain, r.ca);
                r.classification = nic_class.try_emplace({p.host, r.mac}, pick(classifications)).first->second;
                ++pa_records[p.pa];
                if (r.rule == rule::nat) nat_pas.insert(p.pa);
                out.emplace_back(r);
            }
        }
        return out;
    }

    /// `objects` changed a little: some dropped, some with other non-identity values, some
    /// provider addresses on another host. May be invalid.
    std::vector<object> mutate(std::vector<object> objects) {
        std::vector<object> out;
        for (auto& o : objects) {
            if (chance(8)) continue;
            if (chance(20)) {
                std::visit(
                    [&](auto& v) {
                        using T = std::decay_t<decltype(v)>;
                        if constexpr (std::is_same_v<T, provider_address>) {
                            if (chance(50)) v.host = pick(hosts_);
                            else v.vlan = v.vlan == 0 ? 42 : 0;
                        } else if constexpr (std::is_same_v<T, provider_route>) {
                            v.next_hop_mac = mac(0x02, 0xee);
                        } else if constexpr (std::is_same_v<T, routing_domain>) {
                            if (chance(50)) v.name = v.name.empty() ? "renamed" : "";
                            else v.router_mac = v.router_mac == default_router_mac ? mac(0x02, 0x33) : default_router_mac;
                        } else if constexpr (std::is_same_v<T, virtual_subnet>) {
                            if (v.gateway_v6) v.gateway_v6.reset();
                            else v.gateway_v6 = ipv6_address::parse("fd00::1").value();
                        } else if constexpr (std::is_same_v<T, customer_route>) {
                            v.next_hop = v.next_hop.is_unspecified() ? ip(v.prefix.address().is_v4() ? pick(cas_v4_) : pick(cas_v6_))
                                                                     : ip(v.prefix.address().is_v4() ? "0.0.0.0" : "::");
                        } else if constexpr (std::is_same_v<T, port_classification>) {
                            if (chance(50)) v.dhcp_guard = !v.dhcp_guard;
                            else v.outer_dscp = v.outer_dscp ? std::nullopt : std::optional<std::uint8_t>(46);
                        } else {
                            if (chance(40)) v.vm = v.vm == "moved" ? "" : "moved";
                            else if (chance(30)) v.classification = v.classification.empty() ? "gold" : "";
                            else v.mac = mac(0x00, static_cast<std::uint8_t>(rng_() % 8));
                        }
                    },
                    o);
            }
            out.push_back(std::move(o));
        }
        return out;
    }

    bool chance(unsigned percent) { return rng_() % 100 < percent; }
    std::mt19937& rng() { return rng_; }

private:
    template <class T>
    T pick(const std::vector<T>& v) {
        return v[rng_() % v.size()];
    }
    static ip_address ip(std::string_view text) { return ip_address::parse(text).value(); }
    static mac_address mac(std::uint8_t first, std::uint8_t last) { return mac_address{{first, 0x15, 0x5d, 0x00, 0x00, last}}; }

    std::mt19937 rng_;
    const std::vector<std::string> hosts_{"hv1", "hv2", "hv3"};
    const std::vector<std::string> cas_v4_{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.1.6", "10.0.1.7"};
    const std::vector<std::string> cas_v6_{"fd00::2", "fd00::3", "fd00::4"};
};

build_result build(const std::vector<object>& objects) {
    builder b;
    for (const auto& o : objects) std::visit([&](const auto& v) { b.add(v); }, o);
    return b.build();
}

/// Lines of `text` (each without its newline).
std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    for (std::size_t start = 0; start < text.size();) {
        const std::size_t nl = text.find('\n', start);
        out.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return out;
}

/// A broken change set is refused as a whole: no model, every diagnostic a line of the text,
/// in order, and one of them at `line` containing `message`.
void check_refused(const model& a, const std::vector<std::string>& lines, std::size_t line, std::string_view message) {
    const std::string text = join(lines);
    CAPTURE(text);
    const load_result r = apply_change_set_text(a, text, "d");
    CAPTURE(r.error_lines());
    CHECK_FALSE(r.validated.has_value());
    REQUIRE_FALSE(r.diagnostics.empty());
    bool found = false;
    std::size_t prev_line = 0, prev_col = 0;
    for (const auto& d : r.diagnostics) {
        CHECK(d.file == "d");
        CHECK(d.line >= 1);
        CHECK(d.line <= lines.size());
        CHECK(d.column >= 1);
        CHECK((d.line > prev_line || (d.line == prev_line && d.column >= prev_col)));
        prev_line = d.line;
        prev_col = d.column;
        found = found || (d.line == line && d.message.find(message) != std::string::npos);
    }
    CHECK(found);
}

}  // namespace

TEST_CASE("policy/change_set: property: apply(A, diff(A, B)) is B, for random valid A and B") {
    policy_generator gen(20240611u);  // fixed seed: a failure reproduces
    const auto valid_policy = [&](std::vector<object> objects) {
        const build_result r = build(objects);
        for (const auto& d : r.diagnostics) MESSAGE(to_string(d));
        REQUIRE(r);  // valid by construction
        return *r.validated;
    };
    int pairs = 0, mutated = 0, replaced = 0, removed = 0, added = 0, moved_pas = 0, refused = 0;
    for (int round = 0; round < 300; ++round) {
        CAPTURE(round);
        const std::vector<object> a_objects = gen.objects();
        const model a = valid_policy(a_objects);
        model b;
        bool from_a = false;
        if (round % 2 == 1) {  // B a small change of A (when the change is a valid policy)
            for (int attempt = 0; attempt < 20 && !from_a; ++attempt) {
                std::vector<object> objects = gen.mutate(a_objects);
                const std::vector<object> extra = gen.objects();  // and a few more objects
                for (const auto& o : extra)
                    if (gen.chance(10)) objects.push_back(o);
                build_result r = build(objects);
                if (r) {
                    b = std::move(*r.validated);
                    from_a = true;
                }
            }
        }
        if (!from_a) b = valid_policy(gen.objects());
        mutated += from_a;
        ++pairs;

        const std::string want = format(b);
        // Canonical text round trip of both.
        for (const model* m : {&a, static_cast<const model*>(&b)}) {
            const load_result again = load_policy_text(format(*m), "canonical");
            CAPTURE(format(*m));
            for (const auto& l : again.error_lines()) MESSAGE(l);
            REQUIRE(again);
            CHECK(format(*again.validated) == format(*m));
        }
        // diff(A, A) is empty; diff(A, B) applied to A is B, as entries and as text.
        CHECK(diff(a, a).empty());
        CHECK(diff(b, b).empty());
        const change_set d = diff(a, b);
        for (const auto& e : d.entries) {
            if (e.op == change_op::remove) ++removed;
        }
        const load_result r = apply_change_set(a, d);
        CAPTURE(format(a));
        CAPTURE(format(d));
        for (const auto& l : r.error_lines()) MESSAGE(l);
        REQUIRE(r);
        CHECK(format(*r.validated) == want);
        const std::string text = format(d);
        const load_result t = apply_change_set_text(a, text, "d");
        for (const auto& l : t.error_lines()) MESSAGE(l);
        REQUIRE(t);
        CHECK(format(*t.validated) == want);
        // The text of a diff reads back as the same change set.
        const change_set_parse parsed = parse_change_set(text, "d");
        CHECK(parsed.diagnostics.empty());
        CHECK(format(parsed.changes) == text);
        // And back again.
        const load_result back = apply_change_set_text(b, format(diff(b, a)), "d");
        REQUIRE(back);
        CHECK(format(*back.validated) == format(a));
        CHECK(d.empty() == (format(a) == want));

        // What kinds of change the pairs had (checked in total below).
        std::set<object_identity> in_a;
        for (const auto& o : canonical_objects(a)) in_a.insert(identity_of(o));
        for (const auto& e : d.entries) {
            if (e.op != change_op::add) continue;
            (in_a.count(identity_of(e.value)) != 0 ? replaced : added) += 1;
        }
        for (const auto& pa : b.provider_addresses()) {
            const provider_address* before = a.find_provider_address(pa.pa);
            moved_pas += before != nullptr && before->host != pa.host;
        }

        // Broken change sets: refused whole, each error at its line.
        std::vector<std::string> lines = split_lines(text);
        if (lines.empty()) continue;
        std::mt19937& rng = gen.rng();
        switch (round % 5) {
            case 0: {  // one line twice: the later one is the error
                const std::size_t i = rng() % lines.size();
                const std::size_t j = i + 1 + rng() % (lines.size() - i);
                lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(j), lines[i]);
                check_refused(a, lines, j + 1, "is already changed by line " + std::to_string(i + 1));
                break;
            }
            case 1: {  // removing an object that is not there
                const std::size_t j = rng() % (lines.size() + 1);
                lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(j), "- virtual-subnet vsid=9999");
                check_refused(a, lines, j + 1, "the policy has no such object");
                break;
            }
            case 2: {  // a line without '+ ' or '- '
                const std::size_t i = rng() % lines.size();
                lines[i][0] = '*';
                check_refused(a, lines, i + 1, "a change set line starts with '+ ' (add or replace) or '- ' (remove)");
                break;
            }
            default: {  // removing a routing domain or subnet that B still uses, which d does not name
                std::set<object_identity> named;
                for (const auto& e : d.entries) named.insert(identity_of(e.value));
                std::optional<std::string> victim;
                for (const auto& s : b.virtual_subnets()) {
                    const object domain = *b.find_domain(s.domain);
                    const object subnet = s;
                    const bool subnet_used = std::any_of(b.lookup_records().begin(), b.lookup_records().end(),
                                                         [&](const lookup_record& l) { return l.subnet == s.id; });
                    if (round % 5 == 3 && named.count(identity_of(domain)) == 0 && a.find_domain(s.domain) != nullptr)
                        victim = "- " + format_identity(domain);
                    else if (round % 5 == 4 && subnet_used && named.count(identity_of(subnet)) == 0 && a.find_subnet(s.id) != nullptr)
                        victim = "- " + format_identity(subnet);
                    if (victim) break;
                }
                if (!victim) continue;
                const std::size_t j = rng() % (lines.size() + 1);
                lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(j), *victim);
                check_refused(a, lines, j + 1, "still used by");
                break;
            }
        }
        ++refused;
    }
    MESSAGE("pairs ", pairs, " (", mutated, " B from A), replaced ", replaced, ", removed ", removed, ", added ", added,
            ", PAs moved ", moved_pas, ", broken change sets ", refused);
    CHECK(pairs == 300);
    CHECK(mutated > 100);
    CHECK(replaced > 100);
    CHECK(removed > 100);
    CHECK(added > 100);
    CHECK(moved_pas > 10);
    CHECK(refused > 150);
}

TEST_CASE("policy/change_set: port classifications are changed by name; one still named cannot go") {
    const model with_gold = applied({"+ port-classification name=gold dhcp-guard=on",
                                     "+ lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.11 classification=gold"});
    REQUIRE(with_gold.find_classification("gold") != nullptr);
    // Canonical text: defaults left out, the rate with its largest exact suffix.
    const load_result replaced = apply_change_set_text(with_gold, "+ port-classification name=gold maximum-bandwidth=20000000\n", "c.txt");
    REQUIRE(replaced);
    CHECK(format(*replaced.validated).find("port-classification name=gold maximum-bandwidth=20M\n") != std::string::npos);
    // Removal while a record names it: an error at the removal, not a cascade.
    const load_result refused = apply_change_set_text(with_gold, "- port-classification name=gold\n", "c.txt");
    CHECK_FALSE(refused);
    CHECK(refused.error_lines() ==
          std::vector<std::string>{"c.txt:1:3: error: cannot remove port-classification name=gold: still used by 1 object "
                                   "(lookup-record vsid=5001 ca=10.0.0.7)"});
    // Removed together with its record: fine; diff and format agree.
    const load_result both = apply_change_set_text(
        with_gold, "- port-classification name=gold\n- lookup-record vsid=5001 ca=10.0.0.7\n", "c.txt");
    REQUIRE(both);
    CHECK(format(*both.validated) == format(base()));
    CHECK(format(diff(base(), with_gold)) ==
          "+ lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.11 classification=gold\n"
          "+ port-classification name=gold dhcp-guard=on\n");
    const load_result back = apply_change_set(base(), diff(base(), with_gold));
    REQUIRE(back);
    CHECK(format(*back.validated) == format(with_gold));
}
