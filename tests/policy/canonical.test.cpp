#include "nvgre/policy/canonical.hpp"

#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/loader.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

using namespace nvgre;
using namespace nvgre::policy;

namespace {

model load(std::string_view text, std::string_view name = "t.policy") {
    const load_result r = load_policy_text(text, name);
    for (const auto& l : r.error_lines()) MESSAGE(l);
    REQUIRE(r);
    return *r.validated;
}

std::size_t lines_of(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

// One policy with every kind and every optional key, in canonical text: kinds in the order of
// docs/policy-format.md's table, each sorted by identity, keys in the table's order, defaults
// left out.
const std::string canonical_text =
    "provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b\n"
    "provider-address host=hv1 pa=2001:db8::1 prefix-length=64 mac=02:00:c0:a8:0a:0b vlan=42\n"
    "provider-address host=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c\n"
    "provider-route host=hv1 prefix=10.9.0.0/16 next-hop=192.168.10.1 next-hop-mac=02:00:00:00:00:fe\n"
    "provider-route host=hv1 prefix=10.9.0.0/16 next-hop=192.168.10.2 next-hop-mac=02:00:00:00:00:fd metric=300\n"
    "routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red\n"
    "routing-domain rdid={abcdefab-cdef-abcd-efab-cdefabcdefab} router-mac=02:00:5e:00:02:02\n"
    "virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1,fd00::1\n"
    "virtual-subnet vsid=5002 rdid={11111111-1111-1111-1111-111111111111}\n"
    "virtual-subnet vsid=6001 rdid={abcdefab-cdef-abcd-efab-cdefabcdefab} gateway=fd00::1\n"
    "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0\n"
    "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=172.16.0.0/16 next-hop=10.0.0.20 metric=10\n"
    "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=fd00::/64 next-hop=::\n"
    "customer-route rdid={abcdefab-cdef-abcd-efab-cdefabcdefab} vsid=6001 prefix=::/0 next-hop=fd00::fe metric=0\n"
    "lookup-record vsid=5001 ca=0.0.0.0 mac=00:15:5d:00:00:fe pa=192.168.10.12 type=gateway-wildcard vm=gw\n"
    "lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web\n"
    "lookup-record vsid=5001 ca=10.0.0.20 mac=00:15:5d:00:00:20 pa=192.168.10.12\n"
    "lookup-record vsid=5001 ca=fd00::5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web\n"
    "lookup-record vsid=6001 ca=:: mac=00:15:5d:00:01:fe pa=192.168.10.12 type=gateway-wildcard\n"
    "lookup-record vsid=6001 ca=fd00::7 mac=00:15:5d:00:01:07 pa=2001:db8::1 rule=nat vm=blue-nat\n";

// The same policy, spelled every other way the format allows: objects in another order (and
// references before declarations), comments, blank lines, CRLF, tabs, keys in another order,
// MACs upper-case or with dashes, GUIDs without braces or upper-case, IPv6 in non-canonical
// forms, and every default written out.
const std::string messy_text =
    "# the same policy, written carelessly\r\n"
    "lookup-record pa=2001:DB8:0:0:0:0:0:1 vm=blue-nat rule=nat ca=FD00:0::7 mac=00-15-5D-00-01-07 vsid=6001\r\n"
    "lookup-record vsid=6001 ca=0:0:0:0:0:0:0:0 mac=00:15:5D:00:01:FE pa=192.168.10.12 type=gateway-wildcard rule=encap\n"
    "\n"
    "customer-route next-hop=FD00::FE vsid=6001 prefix=0::/0 rdid=ABCDEFAB-CDEF-ABCD-EFAB-CDEFABCDEFAB metric=0\n"
    "  virtual-subnet\tgateway=FD00:0:0::1 rdid={ABCDEFAB-CDEF-ABCD-EFAB-CDEFABCDEFAB} vsid=6001   # v6 only\n"
    "routing-domain router-mac=02-00-5E-00-02-02 rdid=abcdefab-cdef-abcd-efab-cdefabcdefab\n"
    "lookup-record vsid=5001 ca=fd00:0000::0005 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web type=static\n"
    "lookup-record vsid=5001 ca=10.0.0.20 mac=00:15:5D:00:00:20 pa=192.168.10.12 rule=encap type=static\n"
    "lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=red-web\n"
    "lookup-record type=gateway-wildcard vm=gw vsid=5001 ca=0.0.0.0 mac=00-15-5d-00-00-fe pa=192.168.10.12\n"
    "customer-route rdid=11111111-1111-1111-1111-111111111111 vsid=5001 prefix=fd00:0::/64 next-hop=0::0 metric=256\n"
    "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=172.16.0.0/16 next-hop=10.0.0.20 metric=10\n"
    "customer-route metric=256 next-hop=0.0.0.0 prefix=10.0.0.0/24 vsid=5001 rdid={11111111-1111-1111-1111-111111111111}\n"
    "virtual-subnet vsid=5002 rdid={11111111-1111-1111-1111-111111111111}\n"
    "virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=FD00::1,10.0.0.1\n"
    "routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red router-mac=02:00:5E:00:01:01\n"
    "provider-route host=hv1 prefix=10.9.0.0/16 next-hop=192.168.10.2 next-hop-mac=02:00:00:00:00:FD metric=300\n"
    "provider-route metric=256 next-hop-mac=02-00-00-00-00-fe next-hop=192.168.10.1 prefix=10.9.0.0/16 host=hv1\n"
    "provider-address host=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:C0:A8:0A:0C vlan=0\n"
    "provider-address vlan=42 mac=02-00-c0-a8-0a-0b prefix-length=64 pa=2001:0db8:0000:0000:0000:0000:0000:0001 host=hv1\n"
    "provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b\n";

std::vector<std::filesystem::path> example_policies() {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(NVGRE_SOURCE_DIR) / "examples" / "policies"))
        if (e.path().extension() == ".policy") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("policy/canonical: the canonical text of a policy already in canonical form is that text") {
    const model m = load(canonical_text);
    CHECK(format(m) == canonical_text);
    CHECK(lines_of(format(m)) == 20);
}

TEST_CASE("policy/canonical: order, spelling and explicit defaults do not change the text") {
    const model messy = load(messy_text, "messy.policy");
    CHECK(format(messy) == canonical_text);
    // Whatever the order of the objects in the file.
    std::vector<std::string> lines;
    for (std::size_t start = 0; start < canonical_text.size();) {
        const std::size_t nl = canonical_text.find('\n', start);
        lines.push_back(canonical_text.substr(start, nl - start + 1));
        start = nl + 1;
    }
    std::reverse(lines.begin(), lines.end());
    std::string reversed;
    for (const auto& l : lines) reversed += l;
    CHECK(format(load(reversed)) == canonical_text);
    std::rotate(lines.begin(), lines.begin() + 7, lines.end());
    std::string rotated;
    for (const auto& l : lines) rotated += l;
    CHECK(format(load(rotated)) == canonical_text);
}

TEST_CASE("policy/canonical: each spelling alone") {
    const std::string head =
        "provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b\n"
        "routing-domain rdid={11111111-1111-1111-1111-111111111111}\n"
        "virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111}\n";
    const auto one = [&](const std::string& line) {
        CAPTURE(line);
        const std::string f = format(load(head + line + "\n"));
        const std::size_t last = f.rfind('\n', f.size() - 2);
        return f.substr(last + 1, f.size() - last - 2);
    };
    const std::string want = "lookup-record vsid=5001 ca=2001:db8::1 mac=00:15:5d:00:00:05 pa=192.168.10.11";
    CHECK(one("lookup-record vsid=5001 ca=2001:db8::1 mac=00:15:5d:00:00:05 pa=192.168.10.11") == want);
    CHECK(one("lookup-record vsid=5001 ca=2001:DB8:0:0:0:0:0:1 mac=00:15:5d:00:00:05 pa=192.168.10.11") == want);
    CHECK(one("lookup-record vsid=5001 ca=2001:0db8::0:1 mac=00-15-5D-00-00-05 pa=192.168.10.11") == want);
    CHECK(one("lookup-record pa=192.168.10.11 mac=00:15:5D:00:00:05 ca=2001:db8:0::1 vsid=5001 rule=encap type=static") == want);
    // RFC 5952: the longest run of zeros is the one shortened, the first of two equal runs; one
    // zero group alone is not shortened.
    CHECK(one("lookup-record vsid=5001 ca=2001:0:0:1:0:0:0:1 mac=00:15:5d:00:00:05 pa=192.168.10.11") ==
          "lookup-record vsid=5001 ca=2001:0:0:1::1 mac=00:15:5d:00:00:05 pa=192.168.10.11");
    CHECK(one("lookup-record vsid=5001 ca=2001:db8:0:0:1:0:0:1 mac=00:15:5d:00:00:05 pa=192.168.10.11") ==
          "lookup-record vsid=5001 ca=2001:db8::1:0:0:1 mac=00:15:5d:00:00:05 pa=192.168.10.11");
    CHECK(one("lookup-record vsid=5001 ca=2001:db8:0:1:1:1:1:1 mac=00:15:5d:00:00:05 pa=192.168.10.11") ==
          "lookup-record vsid=5001 ca=2001:db8:0:1:1:1:1:1 mac=00:15:5d:00:00:05 pa=192.168.10.11");
    // GUIDs: lower case within braces, however they were written.
    const std::string guid_head = "provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b\n";
    CHECK(format(load(guid_head + "routing-domain rdid=ABCDEFAB-CDEF-ABCD-EFAB-CDEFABCDEFAB name=x\n")) ==
          guid_head + "routing-domain rdid={abcdefab-cdef-abcd-efab-cdefabcdefab} name=x\n");
    CHECK(format(load(guid_head + "routing-domain name=x rdid={AbCdEfAb-cdef-ABCD-efab-CDEFABCDEFAB}\n")) ==
          guid_head + "routing-domain rdid={abcdefab-cdef-abcd-efab-cdefabcdefab} name=x\n");
    // Defaults written out are left out; non-defaults kept.
    CHECK(format(load(guid_head + "routing-domain rdid={11111111-1111-1111-1111-111111111111} router-mac=02:00:5E:00:01:01\n")) ==
          guid_head + "routing-domain rdid={11111111-1111-1111-1111-111111111111}\n");
    CHECK(format(load("provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b vlan=0\n")) == guid_head);
    CHECK(format(load("provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b vlan=4094\n")) ==
          "provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b vlan=4094\n");
}

TEST_CASE("policy/canonical: canonical_objects: kinds in table order, each sorted by identity") {
    const model m = load(messy_text);
    const std::vector<object> objects = canonical_objects(m);
    REQUIRE(objects.size() == 20);
    for (std::size_t i = 1; i < objects.size(); ++i) {
        CAPTURE(format_object(objects[i]));
        CHECK(kind_of(objects[i - 1]) <= kind_of(objects[i]));
        CHECK(identity_of(objects[i - 1]) < identity_of(objects[i]));
    }
    CHECK(kind_of(objects.front()) == object_kind::provider_address);
    CHECK(kind_of(objects.back()) == object_kind::lookup_record);
    std::string joined;
    for (const object& o : objects) joined += format_object(o) + "\n";
    CHECK(joined == canonical_text);
}

TEST_CASE("policy/canonical: identities and their text") {
    const rdid red = rdid::parse("{11111111-1111-1111-1111-111111111111}").value();
    const ip_address pa = ip_address::parse("192.168.10.11").value();
    const mac_address mac = mac_address::parse("00:15:5d:00:00:05").value();
    const auto vsid5001 = vsid::make(5001).value();

    const object address = provider_address{"hv1", pa, 24, mac, 7};
    CHECK(format_identity(address) == "provider-address host=hv1 pa=192.168.10.11");
    CHECK(format_object(address) == "provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=00:15:5d:00:00:05 vlan=7");

    // Routes carry their metric in the identity, written only when it is not the default 256
    // (a provider route made in code has metric 0 unless told otherwise: it is written).
    provider_route pr{"hv1", ip_prefix::parse("10.9.0.0/16").value(), pa, mac, 256};
    CHECK(format_identity(pr) == "provider-route host=hv1 prefix=10.9.0.0/16");
    pr.metric = 0;
    CHECK(format_identity(pr) == "provider-route host=hv1 prefix=10.9.0.0/16 metric=0");
    CHECK(format_object(pr) == "provider-route host=hv1 prefix=10.9.0.0/16 next-hop=192.168.10.11 next-hop-mac=00:15:5d:00:00:05 metric=0");
    CHECK(identity_of(pr) != identity_of(provider_route{"hv1", pr.prefix, pa, mac, 256}));
    CHECK(identity_of(pr) == identity_of(provider_route{"hv1", pr.prefix, ip_address::parse("10.0.0.1").value(), {}, 0}));

    const object domain = routing_domain{red, "red", default_router_mac};
    CHECK(format_identity(domain) == "routing-domain rdid={11111111-1111-1111-1111-111111111111}");
    CHECK(format_object(domain) == "routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red");

    const object subnet = virtual_subnet{vsid5001, red, ipv4_address::parse("10.0.0.1").value(), std::nullopt};
    CHECK(format_identity(subnet) == "virtual-subnet vsid=5001");
    CHECK(format_object(subnet) == "virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1");

    customer_route cr{red, vsid5001, ip_prefix::parse("10.0.0.0/24").value(), ip_address::parse("0.0.0.0").value(), 256};
    CHECK(format_identity(cr) == "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24");
    cr.metric = 5;
    CHECK(format_identity(cr) == "customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 metric=5");

    // A static record is named by VSID and CA; a gateway-wildcard record by its MAC too.
    lookup_record r{vsid5001, ip_address::parse("10.0.0.5").value(), mac, pa, rule::encap, record_type::static_record, "web"};
    CHECK(format_identity(r) == "lookup-record vsid=5001 ca=10.0.0.5");
    CHECK_FALSE(identity_of(r).mac.has_value());
    lookup_record moved = r;
    moved.mac = mac_address::parse("00:15:5d:00:00:06").value();
    moved.pa = ip_address::parse("192.168.10.12").value();
    CHECK(identity_of(moved) == identity_of(r));
    lookup_record gw{vsid5001, ip_address::parse("::").value(), mac, pa, rule::encap, record_type::gateway_wildcard, ""};
    CHECK(format_identity(gw) == "lookup-record vsid=5001 ca=:: mac=00:15:5d:00:00:05");
    CHECK(format_object(gw) == "lookup-record vsid=5001 ca=:: mac=00:15:5d:00:00:05 pa=192.168.10.11 type=gateway-wildcard");
    lookup_record gw2 = gw;
    gw2.mac = moved.mac;
    CHECK(identity_of(gw2) != identity_of(gw));
    CHECK(identity_of(gw2).kind == object_kind::lookup_record);
}

TEST_CASE("policy/canonical: the empty policy is the empty text") {
    CHECK(format(model{}).empty());
    CHECK(format(load("# nothing\n\n")).empty());
    CHECK(canonical_objects(model{}).empty());
}

TEST_CASE("policy/canonical: every policy of examples/policies round-trips byte for byte") {
    const auto files = example_policies();
    REQUIRE(files.size() >= 4);
    for (const auto& path : files) {
        CAPTURE(path.string());
        const load_result r = load_policy_file(path.string());
        for (const auto& l : r.error_lines()) MESSAGE(l);
        REQUIRE(r);
        const std::string text = format(*r.validated);
        const model_counts c = r.validated->counts();
        CHECK(lines_of(text) == c.provider_addresses + c.provider_routes + c.routing_domains + c.virtual_subnets +
                                    c.customer_routes + c.lookup_records + c.port_classifications);
        const load_result again = load_policy_text(text, "canonical.policy");
        for (const auto& l : again.error_lines()) MESSAGE(l);
        REQUIRE(again);
        CHECK(format(*again.validated) == text);
        CHECK(again.validated->counts() == c);
        // The canonical text has no comments, blank lines or default values.
        CHECK(text.find('#') == std::string::npos);
        CHECK(text.find("\n\n") == std::string::npos);
        CHECK(text.find("metric=256") == std::string::npos);
        CHECK(text.find("rule=encap") == std::string::npos);
        CHECK(text.find("vlan=0") == std::string::npos);
    }
}
