#include "nvgre/policy/loader.hpp"

#include "support/red_blue_policy.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace nvgre;
using namespace nvgre::policy;

namespace {

// The example of docs/policy-format.md, verbatim: 14 lines, blank lines 3 and 9.
const std::string& example = nvgre::test::red_blue_policy;
constexpr int example_lines = 14;

const char* const red = "{11111111-1111-1111-1111-111111111111}";
const char* const blue = "{22222222-2222-2222-2222-222222222222}";

std::vector<std::string> errors_of(std::string_view text) {
    const load_result r = load_policy_text(text, "t.policy");
    CHECK(r.validated.has_value() == r.diagnostics.empty());
    return r.error_lines();
}

/// The example followed by `extra` lines (line example_lines + 1 onwards).
std::string with(const std::vector<std::string>& extra) {
    std::string t = example;
    for (const auto& l : extra) t += l + "\n";
    return t;
}

/// "t.policy:LINE:COL: error: MESSAGE", COL = the 1-based position of `needle` in `line_text`
/// (the n-th occurrence when `nth` > 1); a needle "key=" stands for the value after it.
std::string at(int line, std::string_view line_text, std::string_view needle, std::string_view message, int nth = 1) {
    std::size_t pos = std::string_view::npos;
    for (int i = 0; i < nth; ++i) pos = line_text.find(needle, pos == std::string_view::npos ? 0 : pos + 1);
    REQUIRE(pos != std::string_view::npos);
    if (needle.size() > 1 && needle.back() == '=') pos += needle.size();
    return "t.policy:" + std::to_string(line) + ":" + std::to_string(pos + 1) + ": error: " + std::string(message);
}

/// The example plus one line; expects exactly one error, at `needle` of that line.
void one_error(const std::string& line, std::string_view needle, std::string_view message, int nth = 1) {
    CAPTURE(line);
    const auto e = errors_of(with({line}));
    CHECK(e == std::vector<std::string>{at(example_lines + 1, line, needle, message, nth)});
}

}  // namespace

TEST_CASE("loader: the example of docs/policy-format.md loads with the counts of docs/nvgre-pcap.md") {
    const load_result r = load_policy_text(example, "red-blue.policy");
    CAPTURE(r.error_lines());
    REQUIRE(r);
    const model& m = *r.validated;
    CHECK(m.counts() == model_counts{2, 2, 0, 2, 2, 2, 4});
    CHECK(m.hosts() == std::vector<std::string>{"hv1", "hv2"});
    CHECK(m.routing_domains()[1].name == "blue");
    CHECK(m.routing_domains()[1].router_mac == default_router_mac);
    CHECK(m.virtual_subnets()[0].gateway_v4 == ipv4_address::parse("10.0.0.1").value());
    CHECK_FALSE(m.virtual_subnets()[0].gateway_v6);
    CHECK(m.customer_routes()[0].metric == 256);
    CHECK(m.customer_routes()[0].on_link());
    const lookup_record& rec = m.lookup_records()[3];
    CHECK(rec.vm == "blue-db");
    CHECK(rec.rule == rule::encap);
    CHECK(rec.type == record_type::static_record);
    CHECK(rec.pa == ip_address::parse("192.168.10.12").value());
    CHECK(m.provider_addresses()[0].vlan == 0);
    CHECK(m.provider_addresses()[1].mac == mac_address::parse("02:00:c0:a8:0a:0c").value());
}

TEST_CASE("loader: examples/policies/red-blue.policy is the example") {
    const auto path = std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "examples" / "policies" / "red-blue.policy";
    const load_result r = load_policy_file(path.string());
    CAPTURE(r.error_lines());
    REQUIRE(r);
    CHECK(r.validated->counts() == model_counts{2, 2, 0, 2, 2, 2, 4});
    const auto from_text = load_policy_text(example, "x");
    REQUIRE(from_text);
    REQUIRE(r.validated->lookup_records().size() == from_text.validated->lookup_records().size());
    for (std::size_t i = 0; i < from_text.validated->lookup_records().size(); ++i) {
        const auto& x = r.validated->lookup_records()[i];
        const auto& y = from_text.validated->lookup_records()[i];
        CHECK((x.subnet == y.subnet && x.ca == y.ca && x.mac == y.mac && x.pa == y.pa && x.vm == y.vm));
    }
}

TEST_CASE("loader: files") {
    SUBCASE("an unreadable file is one diagnostic") {
        const load_result r = load_policy_file("/nonexistent-dir/p.policy");
        REQUIRE_FALSE(r);
        CHECK(r.error_lines() == std::vector<std::string>{"/nonexistent-dir/p.policy: error: cannot read: No such file or directory"});
        const load_result d = load_policy_file(std::filesystem::temp_directory_path().string());
        REQUIRE(d.diagnostics.size() == 1);
        CHECK(d.diagnostics[0].line == 0);
    }
    SUBCASE("a file's errors carry its path") {
        const auto path = std::filesystem::temp_directory_path() / "nvgre-loader-test.policy";
        std::FILE* f = std::fopen(path.string().c_str(), "wb");
        REQUIRE(f != nullptr);
        const std::string text = example + "routing-domain rdid=" + red + "\n";
        REQUIRE(std::fwrite(text.data(), 1, text.size(), f) == text.size());
        std::fclose(f);
        const load_result r = load_policy_file(path.string());
        std::filesystem::remove(path);
        CHECK(r.error_lines() == std::vector<std::string>{path.string() + ":15:16: error: routing domain " + red +
                                                         " is already declared (see line 4)"});
    }
}

TEST_CASE("loader: the syntax of docs/policy-format.md") {
    SUBCASE("comments, blank lines, blanks, CRLF, keys in any order") {
        std::string t = "# a policy\n\n   \t\n";
        t += "provider-address mac=02-00-C0-A8-0A-0B prefix-length=24 pa=192.168.10.11 host=hv1   # hv1's PA\r\n";
        t += "\tprovider-address\thost=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c\r\n";
        t += "routing-domain name=red rdid=11111111-1111-1111-1111-11111111111A#no blank needed\n";
        t += "virtual-subnet rdid={11111111-1111-1111-1111-11111111111a} vsid=5001\n";
        t += "lookup-record vm=x pa=192.168.10.12 type=static rule=encap mac=00:15:5d:00:00:06 ca=10.0.0.6 vsid=5001";
        const load_result r = load_policy_text(t, "t.policy");
        CAPTURE(r.error_lines());
        REQUIRE(r);
        CHECK(r.validated->counts() == model_counts{2, 2, 0, 1, 1, 0, 1});
        CHECK(r.validated->provider_addresses()[0].mac == mac_address::parse("02:00:c0:a8:0a:0b").value());
        CHECK(r.validated->routing_domains()[0].id == rdid::parse("11111111-1111-1111-1111-11111111111a").value());
    }
    SUBCASE("optional keys and their values") {
        const std::string t =
            "provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b vlan=4094\n"
            "provider-route host=hv1 prefix=10.20.0.0/16 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:01\n"
            "provider-route host=hv1 prefix=0.0.0.0/0 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:01 metric=0\n"
            "routing-domain rdid={11111111-1111-1111-1111-111111111111} router-mac=02:00:00:00:00:fe\n"
            "virtual-subnet vsid=4096 rdid={11111111-1111-1111-1111-111111111111} gateway=fd00::1,10.0.0.1\n"
            "virtual-subnet vsid=16777214 rdid={11111111-1111-1111-1111-111111111111} gateway=fd00:1::1\n"
            "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=4096 prefix=10.0.0.0/8 next-hop=10.0.0.9 metric=4294967295\n"
            "lookup-record vsid=4096 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11 rule=nat\n"
            "lookup-record vsid=4096 ca=0.0.0.0 mac=00:15:5d:00:00:0a pa=192.168.10.11 type=gateway-wildcard\n";
        const load_result r = load_policy_text(t, "t.policy");
        CAPTURE(r.error_lines());
        CHECK(r.error_lines() == std::vector<std::string>{
                                     "t.policy:9:58: error: pa 192.168.10.11 is already the pa of a nat record (see line 8)"});
        const load_result ok = load_policy_text(t.substr(0, t.rfind("lookup-record")), "t.policy");
        CAPTURE(ok.error_lines());
        REQUIRE(ok);
        const model& m = *ok.validated;
        CHECK(m.provider_addresses()[0].vlan == 4094);
        CHECK(m.provider_routes()[0].metric == 256);
        CHECK(m.provider_routes()[1].metric == 0);
        CHECK(m.routing_domains()[0].router_mac == mac_address::parse("02:00:00:00:00:fe").value());
        CHECK(m.routing_domains()[0].name.empty());
        CHECK(m.virtual_subnets()[0].gateway_v4 == ipv4_address::parse("10.0.0.1").value());
        CHECK(m.virtual_subnets()[0].gateway_v6 == ipv6_address::parse("fd00::1").value());
        CHECK(m.customer_routes()[0].metric == 4294967295u);
        CHECK_FALSE(m.customer_routes()[0].on_link());
        CHECK(m.lookup_records()[0].rule == rule::nat);
    }
    SUBCASE("forward references: the example upside down") {
        std::string reversed;
        std::string_view rest = example;
        while (!rest.empty()) {
            const auto nl = rest.find('\n');
            reversed.insert(0, std::string(rest.substr(0, nl + 1)));
            rest.remove_prefix(nl + 1);
        }
        const load_result r = load_policy_text(reversed, "t.policy");
        CAPTURE(r.error_lines());
        REQUIRE(r);
        CHECK(r.validated->hosts() == std::vector<std::string>{"hv2", "hv1"});
    }
    SUBCASE("an empty text, only comments") {
        CHECK(load_policy_text("", "t.policy"));
        CHECK(load_policy_text("# nothing\n\n  # more nothing\r\n", "t.policy"));
    }
}

TEST_CASE("loader: unknown kinds and keys, missing and repeated keys") {
    one_error("frobnicate x=1", "frobnicate", "unknown object kind 'frobnicate'");
    one_error("   Routing-Domain rdid={33333333-3333-3333-3333-333333333333}", "Routing", "unknown object kind 'Routing-Domain'");
    one_error("routing-domain rdid={33333333-3333-3333-3333-333333333333} colour=green", "colour",
              "unknown key 'colour' for routing-domain");
    one_error("routing-domain rdid={33333333-3333-3333-3333-333333333333} vsid=5001", "vsid",
              "unknown key 'vsid' for routing-domain");
    one_error("  provider-address host=hv3 pa=192.168.10.13 prefix-length=24", "provider",
              "missing required key 'mac' for provider-address");
    one_error("routing-domain rdid={33333333-3333-3333-3333-333333333333} name=a name=b", "name",
              "key 'name' given twice", 2);
    one_error("routing-domain rdid={33333333-3333-3333-3333-333333333333} name", "name",
              "expected key=value, found 'name'");
    one_error("routing-domain rdid={33333333-3333-3333-3333-333333333333} =green", "=green",
              "expected key=value, found '=green'");
    one_error("routing-domain rdid={33333333-3333-3333-3333-333333333333} name=", " name=", "missing value for name");
    CHECK(errors_of(with({"routing-domain rdid={33333333-3333-3333-3333-333333333333} name="})) ==
          std::vector<std::string>{"t.policy:15:65: error: missing value for name"});

    // Several missing keys: one error each, all at the kind.
    const std::string line = "lookup-record vsid=5001";
    const auto e = errors_of(with({line}));
    CHECK(e == std::vector<std::string>{at(15, line, "lookup", "missing required key 'ca' for lookup-record"),
                                        at(15, line, "lookup", "missing required key 'mac' for lookup-record"),
                                        at(15, line, "lookup", "missing required key 'pa' for lookup-record")});
    CHECK(errors_of("provider-route") ==
          std::vector<std::string>{"t.policy:1:1: error: missing required key 'host' for provider-route",
                                   "t.policy:1:1: error: missing required key 'prefix' for provider-route",
                                   "t.policy:1:1: error: missing required key 'next-hop' for provider-route",
                                   "t.policy:1:1: error: missing required key 'next-hop-mac' for provider-route"});
}

TEST_CASE("loader: malformed values are reported at the value") {
    const std::string pa3 = "provider-address host=hv3 pa=192.168.10.13 prefix-length=24 mac=02:00:c0:a8:0a:0d";
    one_error("provider-address host=hv3 pa=192.168.10.13 prefix-length=24 mac=02:00:c0:a8:0a", "02:",
              "malformed MAC address '02:00:c0:a8:0a' for mac");
    one_error("provider-address host=hv3 pa=192.168.10.13 prefix-length=24 mac=02:00-c0:a8:0a:0d", "02:",
              "malformed MAC address '02:00-c0:a8:0a:0d' for mac");
    one_error("provider-address host=hv3 pa=192.168.10.256 prefix-length=24 mac=02:00:c0:a8:0a:0d", "192",
              "malformed IP address '192.168.10.256' for pa");
    one_error("provider-address host=hv3 pa=2001:db8:::1 prefix-length=24 mac=02:00:c0:a8:0a:0d", "2001",
              "malformed IP address '2001:db8:::1' for pa");
    one_error("provider-address host=hv/3 pa=192.168.10.13 prefix-length=24 mac=02:00:c0:a8:0a:0d", "hv/3",
              "host 'hv/3' is not a valid name (letters, digits, '-', '_', '.')");
    one_error("provider-address host=hv3 pa=192.168.10.13 prefix-length=024 mac=02:00:c0:a8:0a:0d", "024",
              "malformed number '024' for prefix-length");
    one_error("provider-address host=hv3 pa=192.168.10.13 prefix-length=24 mac=02:00:c0:a8:0a:0d vlan=x", "vlan=",
              "malformed number 'x' for vlan");
    one_error("routing-domain rdid={33333333-3333-3333-3333-33333333333} name=green", "{",
              "malformed GUID '{33333333-3333-3333-3333-33333333333}' for rdid");
    one_error("routing-domain rdid=33333333-3333-3333-3333-333333333333} name=green", "3",
              "malformed GUID '33333333-3333-3333-3333-333333333333}' for rdid");
    one_error(std::string("customer-route rdid=") + red + " vsid=5001 prefix=10.1.0.0 next-hop=0.0.0.0", "10.1",
              "malformed prefix '10.1.0.0' for prefix (IP/length)");
    one_error(std::string("customer-route rdid=") + red + " vsid=5001 prefix=10.1.0.0/16 next-hop=0.0.0.0 metric=-1",
              "metric=", "malformed number '-1' for metric (0..4294967295)");
    one_error(std::string("customer-route rdid=") + red + " vsid=5001 prefix=10.1.0.0/16 next-hop=0.0.0.0 metric=4294967296",
              "4294967296", "malformed number '4294967296' for metric (0..4294967295)");
    one_error("lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11 rule=snat", "snat",
              "rule must be encap or nat, not 'snat'");
    one_error("lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11 type=Static", "Static",
              "type must be static or gateway-wildcard, not 'Static'");
    one_error("lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11 vm=red\xc3\xa9", "red",
              "vm 'red\\xc3\\xa9' is not a valid name (letters, digits, '-', '_', '.')");
    one_error("lookup-record vsid=50o1 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11", "50o1",
              "malformed VSID '50o1' for vsid");
    one_error(std::string("virtual-subnet vsid=5002 rdid=") + red + " gateway=10.0.0.1,10.0.1.1", "10.0.0.1",
              "gateway lists two IPv4 addresses (at most one IPv4 and one IPv6)");
    one_error(std::string("virtual-subnet vsid=5002 rdid=") + red + " gateway=fd00::1,fd00::2", "fd00",
              "gateway lists two IPv6 addresses (at most one IPv4 and one IPv6)");
    one_error(std::string("virtual-subnet vsid=5002 rdid=") + red + " gateway=10.0.0.1,fd00::1,fd00::2", "10.0.0.1",
              "gateway lists more than two addresses (at most one IPv4 and one IPv6)");
    one_error(std::string("virtual-subnet vsid=5002 rdid=") + red + " gateway=10.0.0.1,", "10.0.0.1",
              "malformed IP address '' in gateway");
    one_error(std::string("routing-domain rdid=") + "{33333333-3333-3333-3333-333333333333} name==x", "=x",
              "name '=x' is not a valid name (letters, digits, '-', '_', '.')");
    CHECK(errors_of(with({pa3})).empty());
}

TEST_CASE("loader: VSID range, prefix length, host bits") {
    for (const char* v : {"0", "4095", "16777215", "99999999999999999999999"}) {
        one_error(std::string("lookup-record vsid=") + v + " ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11", v,
                  "VSID " + std::string(v) + " is outside 4096-16777214");
    }
    one_error(std::string("customer-route rdid=") + red + " vsid=5001 prefix=10.1.0.0/33 next-hop=0.0.0.0", "10.1",
              "prefix length 33 is too long for IPv4 (at most 32)");
    one_error(std::string("customer-route rdid=") + red + " vsid=5001 prefix=fd00::/129 next-hop=::", "fd00",
              "prefix length 129 is too long for IPv6 (at most 128)");
    one_error(std::string("customer-route rdid=") + red + " vsid=5001 prefix=10.1.0.1/16 next-hop=0.0.0.0", "10.1",
              "host bits set in prefix 10.1.0.1/16 (the prefix is 10.1.0.0/16)");
    one_error("provider-route host=hv1 prefix=fd00::1/64 next-hop=fd00::1 next-hop-mac=02:00:00:00:00:01", "fd00",
              "host bits set in prefix fd00::1/64 (the prefix is fd00::/64)");
    one_error("provider-address host=hv3 pa=192.168.10.13 prefix-length=33 mac=02:00:c0:a8:0a:0d", "33",
              "prefix-length 33 is too long for an IPv4 pa (at most 32)");
    one_error("provider-address host=hv3 pa=192.168.10.13 prefix-length=129 mac=02:00:c0:a8:0a:0d", "129",
              "prefix-length 129 is too long (at most 128)");
    one_error("provider-address host=hv3 pa=192.168.10.13 prefix-length=24 mac=02:00:c0:a8:0a:0d vlan=4095", "4095",
              "vlan 4095 is outside 0..4094");
    one_error("provider-address host=hv3 pa=192.168.10.13 prefix-length=24 mac=02:00:c0:a8:0a:0d vlan=70000", "70000",
              "vlan 70000 is outside 0..4094");
    CHECK(errors_of(with({"provider-address host=hv3 pa=fd00::13 prefix-length=128 mac=02:00:c0:a8:0a:0d vlan=0"})).empty());
}

TEST_CASE("loader: declarations: twice, in two domains, undeclared") {
    one_error(std::string("routing-domain rdid=") + red + " name=red2", "rdid",
              std::string("routing domain ") + red + " is already declared (see line 4)");
    one_error(std::string("routing-domain name=red2 rdid=") + "11111111-1111-1111-1111-111111111111", "rdid",
              std::string("routing domain ") + red + " is already declared (see line 4)");
    one_error(std::string("virtual-subnet vsid=5001 rdid=") + red, "vsid",
              "virtual subnet 5001 is already declared (see line 5)");
    one_error(std::string("virtual-subnet rdid=") + blue + " vsid=5001", "vsid",
              std::string("virtual subnet 5001 is already declared in routing domain ") + red + " (see line 5)");
    one_error("virtual-subnet vsid=7001 rdid={33333333-3333-3333-3333-333333333333}", "rdid",
              "routing domain {33333333-3333-3333-3333-333333333333} is not declared");
    one_error("customer-route rdid={33333333-3333-3333-3333-333333333333} vsid=5001 prefix=10.1.0.0/16 next-hop=0.0.0.0",
              "rdid", "routing domain {33333333-3333-3333-3333-333333333333} is not declared");
    one_error(std::string("customer-route rdid=") + red + " vsid=7001 prefix=10.1.0.0/16 next-hop=0.0.0.0", "vsid",
              "virtual subnet 7001 is not declared");
    one_error(std::string("customer-route rdid=") + red + " vsid=6001 prefix=10.1.0.0/16 next-hop=0.0.0.0", "vsid",
              std::string("virtual subnet 6001 is in routing domain ") + blue + ", not in " + red + " (see line 11)");
    one_error("lookup-record vsid=7001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11", "vsid",
              "virtual subnet 7001 is not declared");
    one_error("provider-address host=hv3 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0d", "pa",
              "provider address 192.168.10.12 is already declared (host hv2) (see line 2)");
    one_error("provider-route host=hv3 prefix=10.20.0.0/16 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:01", "host",
              "host hv3 has no provider address");
    one_error(std::string("customer-route rdid=") + red + " vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0 metric=256",
              "prefix", std::string("routing domain ") + red + " already has a route to 10.0.0.0/24 with metric 256 (see line 6)");
    one_error(std::string("customer-route rdid=") + red + " vsid=5001 prefix=fd00::/64 next-hop=0.0.0.0", "0.0.0.0",
              "next-hop 0.0.0.0 is IPv4 but prefix fd00::/64 is IPv6");
}

TEST_CASE("loader: lookup records: CA, PA, nat, MAC") {
    one_error("lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:09 pa=192.168.10.12", "ca",
              "ca 10.0.0.5 is already used in virtual subnet 5001 (see line 7)");
    {
        const std::string a = std::string("virtual-subnet vsid=5002 rdid=") + red;
        const std::string b = "lookup-record pa=192.168.10.12 ca=10.0.0.6 mac=00:15:5d:00:02:06 vsid=5002";
        CHECK(errors_of(with({a, b})) ==
              std::vector<std::string>{at(16, b, "ca", std::string("ca 10.0.0.6 is already used in routing domain ") + red +
                                                           " (virtual subnet 5001) (see line 8)")});
    }
    // gateway-wildcard: 0.0.0.0 and :: may repeat; any other ca is a malformed value.
    CHECK(errors_of(with({"lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fe pa=192.168.10.11 type=gateway-wildcard",
                          "lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fd pa=192.168.10.12 type=gateway-wildcard",
                          "lookup-record vsid=5001 ca=:: mac=00:15:5d:00:00:fe pa=192.168.10.11 type=gateway-wildcard"}))
              .empty());
    one_error("lookup-record vsid=5001 ca=10.0.0.1 mac=00:15:5d:00:00:fe pa=192.168.10.11 type=gateway-wildcard", "10.0.0.1",
              "a gateway-wildcard record needs ca 0.0.0.0 or ::, not 10.0.0.1");
    one_error("lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.13", "pa",
              "pa 192.168.10.13 is not a declared provider address");
    {
        const std::string pa = "provider-address host=hv1 pa=192.168.20.9 prefix-length=24 mac=02:00:c0:a8:0a:0b";
        const std::string nat = "lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.20.9 rule=nat";
        const std::string other = "lookup-record vsid=6001 ca=10.0.0.9 mac=00:15:5d:00:01:09 pa=192.168.20.9";
        CHECK(errors_of(with({pa, nat})).empty());
        CHECK(errors_of(with({pa, nat, other})) ==
              std::vector<std::string>{at(17, other, "pa", "pa 192.168.20.9 is already the pa of a nat record (see line 16)")});
        CHECK(errors_of(with({pa, other, nat})) ==
              std::vector<std::string>{at(17, nat, "pa",
                                          "pa 192.168.20.9 of a nat record is already used by another lookup record (see line 16)")});
    }
    one_error("lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11 rule=nat", "pa",
              "pa 192.168.10.11 of a nat record is already used by another lookup record (see line 7)");
    {
        const std::string pa = "provider-address host=hv1 pa=fd00:f::9 prefix-length=64 mac=02:00:c0:a8:0a:0b";
        const std::string nat = "lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=fd00:f::9 rule=nat";
        CHECK(errors_of(with({pa, nat})) ==
              std::vector<std::string>{at(16, nat, "fd00:f::9",
                                          "a nat record needs ca and pa of one IP version (ca 10.0.0.9 is IPv4, pa fd00:f::9 is IPv6)")});
        // The same with rule=encap is fine: an IPv4 CA carried over an IPv6 PA.
        CHECK(errors_of(with({pa, "lookup-record vsid=5001 ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=fd00:f::9"})).empty());
    }
    one_error("lookup-record vsid=6001 ca=10.0.0.9 mac=00:15:5d:00:00:05 pa=192.168.10.11", "mac",
              "mac 00:15:5d:00:00:05 is already in virtual subnet 5001 on host hv1 (see line 7)");
    // Same MAC, other host; same MAC, same VSID (a second CA of the VM): fine.
    CHECK(errors_of(with({"lookup-record vsid=6001 ca=10.0.0.9 mac=00:15:5d:00:00:05 pa=192.168.10.12",
                          "lookup-record vsid=5001 ca=10.0.0.10 mac=00:15:5d:00:00:05 pa=192.168.10.11"}))
              .empty());
}

TEST_CASE("loader: IPv6 everywhere") {
    const std::string t =
        "provider-address host=hv1 pa=2001:db8:f::11 prefix-length=64 mac=02:00:c0:a8:0a:0b vlan=100\n"
        "provider-address host=hv2 pa=2001:DB8:F:0:0:0:0:12 prefix-length=64 mac=02:00:c0:a8:0a:0c\n"
        "provider-route host=hv1 prefix=2001:db8:e::/48 next-hop=2001:db8:f::1 next-hop-mac=02:00:00:00:00:01\n"
        "routing-domain rdid={66666666-6666-6666-6666-666666666666} name=six\n"
        "virtual-subnet vsid=9001 rdid={66666666-6666-6666-6666-666666666666} gateway=fd00:9::1\n"
        "customer-route rdid={66666666-6666-6666-6666-666666666666} vsid=9001 prefix=fd00:9::/64 next-hop=::\n"
        "customer-route rdid={66666666-6666-6666-6666-666666666666} vsid=9001 prefix=::/0 next-hop=fd00:9::ffff metric=10\n"
        "lookup-record vsid=9001 ca=fd00:9::5 mac=00:15:5d:00:09:05 pa=2001:db8:f::11\n"
        "lookup-record vsid=9001 ca=fd00:9::6 mac=00:15:5d:00:09:06 pa=2001:db8:f::12\n"
        "lookup-record vsid=9001 ca=fd00:9::ffff mac=00:15:5d:00:09:07 pa=2001:db8:f::12\n"
        "lookup-record vsid=9001 ca=:: mac=00:15:5d:00:09:fe pa=2001:db8:f::12 type=gateway-wildcard\n"
        "lookup-record vsid=9001 ca=::ffff:10.9.0.5 mac=00:15:5d:00:09:05 pa=2001:db8:f::11\n";
    const load_result r = load_policy_text(t, "t.policy");
    CAPTURE(r.error_lines());
    REQUIRE(r);
    CHECK(r.validated->counts() == model_counts{2, 2, 1, 1, 1, 2, 5});
    CHECK(r.validated->host_of_pa(ip_address::parse("2001:db8:f::12").value()) == "hv2");
    CHECK(r.validated->provider_addresses()[0].vlan == 100);
    // The same CA twice, written two ways.
    const auto e = errors_of(t + "lookup-record vsid=9001 ca=fd00:9:0::5 mac=00:15:5d:00:09:05 pa=2001:db8:f::11\n");
    CHECK(e == std::vector<std::string>{"t.policy:13:25: error: ca fd00:9::5 is already used in virtual subnet 9001 (see line 8)"});
}

TEST_CASE("loader: every error of a file, in line order; conflicts at the later line") {
    const std::string t =
        "lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web\n"   // 1
        "routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red\n"                      // 2
        "bogus\n"                                                                                    // 3
        "lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:06 pa=192.168.10.11 vm=again\n"     // 4
        "virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111}\n"                     // 5
        "provider-address host=hv1 pa=192.168.10.11 prefix-length=99 mac=02:00:c0:a8:0a:0b vlan=5000 colour=red\n"  // 6
        "routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red\n";                     // 7
    CHECK(errors_of(t) == std::vector<std::string>{
                              "t.policy:3:1: error: unknown object kind 'bogus'",
                              "t.policy:4:25: error: ca 10.0.0.5 is already used in virtual subnet 5001 (see line 1)",
                              "t.policy:6:58: error: prefix-length 99 is too long for an IPv4 pa (at most 32)",
                              "t.policy:6:88: error: vlan 5000 is outside 0..4094",
                              "t.policy:6:93: error: unknown key 'colour' for provider-address",
                              "t.policy:7:16: error: routing domain {11111111-1111-1111-1111-111111111111} is already "
                              "declared (see line 2)",
                          });
}

TEST_CASE("loader: a line with a broken value does not cascade into undeclared references") {
    // The domain's name and the subnet's gateway are broken: the objects still count as declared.
    const std::string t =
        "routing-domain rdid={11111111-1111-1111-1111-111111111111} name=r@d\n"
        "virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1,10.0.0.2\n"
        "provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a\n"
        "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0\n"
        "lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11\n";
    CHECK(errors_of(t) == std::vector<std::string>{
                              "t.policy:1:65: error: name 'r@d' is not a valid name (letters, digits, '-', '_', '.')",
                              "t.policy:2:78: error: gateway lists two IPv4 addresses (at most one IPv4 and one IPv6)",
                              "t.policy:3:65: error: malformed MAC address '02:00:c0:a8:0a' for mac",
                          });
    // An id that does not parse: the declaration is lost, its references are reported.
    const std::string u =
        "routing-domain rdid={11111111-1111-1111-1111-11111111111} name=red\n"
        "virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111}\n";
    CHECK(errors_of(u) == std::vector<std::string>{
                              "t.policy:1:21: error: malformed GUID '{11111111-1111-1111-1111-11111111111}' for rdid",
                              "t.policy:2:26: error: routing domain {11111111-1111-1111-1111-111111111111} is not declared",
                          });
    // A lookup record with a broken essential value is not checked further.
    CHECK(errors_of(with({"lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:zz pa=192.168.10.11"})) ==
          std::vector<std::string>{"t.policy:15:41: error: malformed MAC address '00:15:5d:00:00:zz' for mac"});
}

TEST_CASE("loader: hostile text: NUL, CR, non-ASCII, long lines, stray '='") {
    SUBCASE("NUL bytes") {
        const char raw[] = "routing-domain\0 rdid=x\n\0\nrouting-domain rdid={11111111-1111-1111-1111-111111111111} name=a\0b\n";
        const std::string t(raw, sizeof raw - 1);
        CHECK(errors_of(t) == std::vector<std::string>{
                                  "t.policy:1:1: error: unknown object kind 'routing-domain\\x00'",
                                  "t.policy:2:1: error: unknown object kind '\\x00'",
                                  "t.policy:3:65: error: name 'a\\x00b' is not a valid name (letters, digits, '-', '_', '.')",
                              });
    }
    SUBCASE("CR alone, CRLF, a final line without newline") {
        CHECK(errors_of("\r\r\n\rbogus\r\n  x") == std::vector<std::string>{"t.policy:2:2: error: unknown object kind 'bogus'",
                                                                           "t.policy:3:3: error: unknown object kind 'x'"});
    }
    SUBCASE("stray '='") {
        CHECK(errors_of("= = ==\nrouting-domain = == =x x= ==x\n") ==
              std::vector<std::string>{
                  "t.policy:1:1: error: unknown object kind '='",
                  "t.policy:2:1: error: missing required key 'rdid' for routing-domain",
                  "t.policy:2:16: error: expected key=value, found '='",
                  "t.policy:2:18: error: expected key=value, found '=='",
                  "t.policy:2:21: error: expected key=value, found '=x'",
                  "t.policy:2:24: error: unknown key 'x' for routing-domain",
                  "t.policy:2:27: error: expected key=value, found '==x'",
              });
        one_error("routing-domain rdid=={33333333-3333-3333-3333-333333333333}", "={",
                  "malformed GUID '={33333333-3333-3333-3333-333333333333}' for rdid");
    }
    SUBCASE("non-ASCII and escapes in messages") {
        CHECK(errors_of("r\xc3\xa9seau x=1\n") == std::vector<std::string>{"t.policy:1:1: error: unknown object kind 'r\\xc3\\xa9seau'"});
        CHECK(errors_of("a\\b\n") == std::vector<std::string>{"t.policy:1:1: error: unknown object kind 'a\\x5cb'"});
    }
    SUBCASE("very long lines and tokens: messages stay short") {
        const std::string big(1 << 20, 'a');
        const auto e = errors_of("routing-domain rdid=" + big + " " + big + "=1 name=" + big + "\n" + big);
        REQUIRE(e.size() == 3);
        CHECK(e[0] == "t.policy:1:21: error: malformed GUID '" + std::string(64, 'a') + "...' for rdid");
        CHECK(e[1] == "t.policy:1:" + std::to_string(22 + big.size()) + ": error: unknown key '" + std::string(64, 'a') +
                          "...' for routing-domain");
        CHECK(e[2] == "t.policy:2:1: error: unknown object kind '" + std::string(64, 'a') + "...'");
        for (const auto& line : e) CHECK(line.size() < 200);
        one_error("lookup-record vsid=" + std::string(100, '9') + " ca=10.0.0.9 mac=00:15:5d:00:00:09 pa=192.168.10.11",
                  "999", "VSID " + std::string(64, '9') + "... is outside 4096-16777214");
    }
    SUBCASE("many lines") {
        std::string t;
        for (int i = 0; i < 20000; ++i) t += "# comment\nbogus\n";
        const auto r = load_policy_text(t, "t.policy");
        REQUIRE(r.diagnostics.size() == 20000);
        CHECK(r.diagnostics.back().line == 40000);
    }
}

TEST_CASE("loader: fuzz: mutated valid texts never crash, and the result is consistent") {
    std::mt19937 rng(20240607u);  // fixed seed: a failure reproduces
    const char raw_alphabet[] = "=# \t\r\n\0,:-/{}.0123456789abcdefxyz\xff\xc3";
    const std::string alphabet(raw_alphabet, sizeof raw_alphabet - 1);
    const std::string ipv6_lines =
        "provider-address host=hv3 pa=fd00::3 prefix-length=64 mac=02:00:00:00:00:03 vlan=7\n"
        "provider-route host=hv3 prefix=fd01::/48 next-hop=fd00::1 next-hop-mac=02:00:00:00:00:01 metric=9\n"
        "lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fe pa=fd00::3 rule=encap type=gateway-wildcard vm=gw\n";
    const std::string base = example + ipv6_lines;
    REQUIRE(load_policy_text(base, "f"));
    std::size_t valid = 0;
    for (int round = 0; round < 3000; ++round) {
        std::string t = base;
        const int edits = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < edits; ++i) {
            const std::size_t pos = t.empty() ? 0 : rng() % t.size();
            switch (rng() % 6) {
                case 0: if (!t.empty()) t[pos] = alphabet[rng() % alphabet.size()]; break;
                case 1: t.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
                case 2: t.erase(pos, 1 + rng() % 12); break;
                case 3: {  // copy a slice elsewhere: duplicates keys, lines, values
                    const std::size_t from = rng() % (t.size() + 1);
                    t.insert(pos, t.substr(from, rng() % 40));
                    break;
                }
                case 4: t.insert(pos, std::string(1, static_cast<char>(rng() % 256))); break;
                case 5: t = t.substr(0, pos); break;
            }
        }
        const load_result r = load_policy_text(t, "f");
        CHECK(r.validated.has_value() == r.diagnostics.empty());
        valid += r.validated.has_value();
        std::size_t prev_line = 0, prev_col = 0;
        for (const auto& d : r.diagnostics) {
            CHECK(d.line >= 1);
            CHECK(d.column >= 1);
            CHECK((d.line > prev_line || (d.line == prev_line && d.column >= prev_col)));
            prev_line = d.line;
            prev_col = d.column;
        }
    }
    CHECK(valid > 0);  // some mutations (in comments, values that stay valid) keep the text valid
    CHECK(valid < 3000);
}

TEST_CASE("loader: port classifications, the classification of records, and DHCP keys of subnets") {
    const std::string red_subnet = std::string("virtual-subnet vsid=5001 rdid=") + red + " gateway=10.0.0.1";
    SUBCASE("every key, with its value") {
        std::string t = example;
        // Replace the red subnet's line with one that has DHCP.
        const auto at_line = t.find(red_subnet);
        REQUIRE(at_line != std::string::npos);
        t.replace(at_line, red_subnet.size(), red_subnet + " dhcp=on dns=10.0.0.53,8.8.8.8 lease-seconds=3600");
        t += "port-classification name=guarded allow-mac-spoofing=on dhcp-guard=on router-guard=on "
             "maximum-bandwidth=20M maximum-burst=250000 outer-dscp=46\n";
        t += "port-classification name=plain\n";
        t += "lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.11 classification=guarded\n";
        const load_result r = load_policy_text(t, "t.policy");
        for (const auto& l : r.error_lines()) MESSAGE(l);
        REQUIRE(r);
        const model& m = *r.validated;
        REQUIRE(m.port_classifications().size() == 2);
        const port_classification* g = m.find_classification("guarded");
        REQUIRE(g != nullptr);
        CHECK(g->allow_mac_spoofing);
        CHECK(g->dhcp_guard);
        CHECK(g->router_guard);
        CHECK(g->maximum_bandwidth == 20'000'000);
        CHECK(g->maximum_burst == 250'000);
        CHECK(g->burst_bytes() == 250'000);
        CHECK(g->outer_dscp == std::optional<std::uint8_t>(46));
        const port_classification* p = m.find_classification("plain");
        REQUIRE(p != nullptr);
        CHECK(*p == port_classification{"plain"});
        CHECK(m.counts().port_classifications == 2);
        const virtual_subnet* s = m.find_subnet(vsid::make(5001).value());
        REQUIRE(s != nullptr);
        CHECK(s->dhcp);
        CHECK(s->dns == std::vector<ipv4_address>{ipv4_address::parse("10.0.0.53").value(), ipv4_address::parse("8.8.8.8").value()});
        CHECK(s->lease_seconds == 3600);
        CHECK(m.lookup_records().back().classification == "guarded");
        CHECK(m.find_subnet(vsid::make(6001).value())->lease_seconds == default_lease_seconds);
    }
    SUBCASE("the default burst is 1/8 s of the rate") {
        port_classification c{"x"};
        c.maximum_bandwidth = 20'000'000;
        CHECK(c.burst_bytes() == 312'500);
    }
    SUBCASE("rates: K, M, G are powers of 1000") {
        for (const auto& rate : std::vector<std::pair<std::string, std::uint64_t>>{
                 {"100000", 100'000}, {"100K", 100'000}, {"20M", 20'000'000}, {"1G", 1'000'000'000}, {"1000G", 1'000'000'000'000}}) {
            // (No structured binding: clang 14 cannot capture one in CAPTURE's lambda.)
            const std::string& text = rate.first;
            const std::uint64_t bits = rate.second;
            CAPTURE(text);
            const load_result r = load_policy_text(with({"port-classification name=c maximum-bandwidth=" + text}), "t.policy");
            REQUIRE(r);
            CHECK(r.validated->port_classifications().front().maximum_bandwidth == bits);
        }
    }
    SUBCASE("malformed and out-of-range values") {
        one_error("port-classification name=c dhcp-guard=yes", "dhcp-guard=", "dhcp-guard must be on or off, not 'yes'");
        one_error("port-classification name=c maximum-bandwidth=20Mb", "maximum-bandwidth=",
                  "malformed rate '20Mb' for maximum-bandwidth (bit/s, e.g. 100M; K, M, G are powers of 1000)");
        one_error("port-classification name=c maximum-bandwidth=99K", "maximum-bandwidth=",
                  "maximum-bandwidth 99000 bit/s is outside 100K..1000G");
        one_error("port-classification name=c maximum-bandwidth=1001G", "maximum-bandwidth=",
                  "maximum-bandwidth 1001000000000 bit/s is outside 100K..1000G");
        one_error("port-classification name=c maximum-bandwidth=1M maximum-burst=1000", "maximum-burst=",
                  "maximum-burst 1000 is outside 1518..4294967295 bytes");
        one_error("port-classification name=c maximum-burst=100000", "maximum-burst=", "maximum-burst needs maximum-bandwidth");
        one_error("port-classification name=c outer-dscp=64", "outer-dscp=", "outer-dscp '64' is not a DSCP (0..63)");
        one_error("port-classification dhcp-guard=on", "port-classification", "missing required key 'name' for port-classification");
        one_error(std::string("virtual-subnet vsid=7001 rdid=") + red + " dns=fd00::53", "dns=",
                  "dns lists IPv4 addresses (DHCPv4 hands them out), not 'fd00::53'");
        one_error(std::string("virtual-subnet vsid=7001 rdid=") + red + " dns=1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5", "dns=",
                  "dns lists more than 4 servers");
        one_error(std::string("virtual-subnet vsid=7001 rdid=") + red + " lease-seconds=59", "lease-seconds=",
                  "lease-seconds 59 is below 60");
        one_error(std::string("virtual-subnet vsid=7001 rdid=") + red + " dhcp=1", "dhcp=", "dhcp must be on or off, not '1'");
    }
    SUBCASE("references and conflicts") {
        const std::string rec = "lookup-record vsid=5001 ca=10.0.0.7 mac=00:15:5d:00:00:07 pa=192.168.10.11 classification=gold";
        one_error(rec, "classification", "port classification 'gold' is not declared");
        // Declared twice: at the later line.
        const auto twice = errors_of(with({"port-classification name=gold", "port-classification name=gold dhcp-guard=on"}));
        CHECK(twice == std::vector<std::string>{at(example_lines + 2, "port-classification name=gold dhcp-guard=on", "name",
                                                   "port classification 'gold' is already declared (see line " +
                                                       std::to_string(example_lines + 1) + ")")});
        // One NIC, two classifications (or one and none): at the later record.
        const std::string second = "lookup-record vsid=5001 ca=10.0.0.8 mac=00:15:5d:00:00:07 pa=192.168.10.11";
        const auto mixed = errors_of(with({"port-classification name=gold", rec, second}));
        CHECK(mixed == std::vector<std::string>{at(example_lines + 3, second, "mac",
                                                   "mac 00:15:5d:00:00:07 on host hv1 has classification 'gold' on another "
                                                   "record, not none (every record of a NIC names the same one) (see line " +
                                                       std::to_string(example_lines + 2) + ")")});
        // The same MAC on another host is another NIC.
        CHECK(errors_of(with({"port-classification name=gold", rec,
                              "lookup-record vsid=5001 ca=10.0.0.8 mac=00:15:5d:00:00:07 pa=192.168.10.12"}))
                  .empty());
    }
    SUBCASE("dhcp=on needs an IPv4 gateway, an IPv4 on-link route, and no nat record") {
        const std::string no_gw = std::string("virtual-subnet vsid=7001 rdid=") + red + " dhcp=on";
        const auto e = errors_of(with({no_gw}));
        CHECK(e == std::vector<std::string>{
                       at(example_lines + 1, no_gw, "dhcp", "dhcp=on needs an IPv4 gateway address (the DHCP server and router)"),
                       at(example_lines + 1, no_gw, "dhcp",
                          "dhcp=on needs an IPv4 on-link customer route in virtual subnet 7001 (the mask it hands out)")});
        const std::string ok = std::string("virtual-subnet vsid=7001 rdid=") + red + " gateway=10.0.7.1 dhcp=on";
        const std::string route = std::string("customer-route rdid=") + red + " vsid=7001 prefix=10.0.7.0/24 next-hop=0.0.0.0";
        CHECK(errors_of(with({ok, route})).empty());
        // (A PA of its own: a nat record's PA is its alone.)
        const std::string pa = "provider-address host=hv1 pa=192.168.10.21 prefix-length=24 mac=02:00:c0:a8:0a:0b";
        const std::string nat = "lookup-record vsid=7001 ca=10.0.7.5 mac=00:15:5d:00:07:05 pa=192.168.10.21 rule=nat";
        CHECK(errors_of(with({ok, route, pa, nat})) ==
              std::vector<std::string>{at(example_lines + 4, nat, "rule",
                                          "virtual subnet 7001 has dhcp=on, which IP rewrite cannot serve (see line " +
                                              std::to_string(example_lines + 1) + ")")});
    }
}
