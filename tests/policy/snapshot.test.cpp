#include "nvgre/policy/snapshot.hpp"

#include "nvgre/policy/loader.hpp"
#include "nvgre/policy/state.hpp"
#include "support/frames.hpp"

#include <doctest/doctest.h>

#include <string_view>
#include <type_traits>

using namespace nvgre;
using namespace nvgre::policy;
using nvgre::test::ip;
using nvgre::test::mac;

namespace {

constexpr std::string_view two_hosts = R"(
provider-address host=hv1 pa=192.168.10.11 prefix-length=24 mac=02:00:c0:a8:0a:0b
provider-address host=hv2 pa=192.168.10.12 prefix-length=24 mac=02:00:c0:a8:0a:0c
provider-address host=hv3 pa=192.168.10.13 prefix-length=24 mac=02:00:c0:a8:0a:0d
provider-address host=hv1 pa=192.168.10.21 prefix-length=24 mac=02:00:c0:a8:0a:15
routing-domain rdid={11111111-1111-1111-1111-111111111111} name=red
virtual-subnet vsid=5001 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.0.1
virtual-subnet vsid=5002 rdid={11111111-1111-1111-1111-111111111111} gateway=10.0.1.1
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.0.0.0/24 next-hop=0.0.0.0
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5002 prefix=10.0.1.0/24 next-hop=0.0.0.0
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5002 prefix=10.9.0.0/16 next-hop=10.0.1.8 metric=10
customer-route rdid={11111111-1111-1111-1111-111111111111} vsid=5001 prefix=10.9.0.0/16 next-hop=10.0.0.6 metric=20
lookup-record vsid=5001 ca=10.0.0.5 mac=00:15:5d:00:00:05 pa=192.168.10.11 vm=web
lookup-record vsid=5001 ca=10.0.0.6 mac=00:15:5d:00:00:06 pa=192.168.10.12 vm=db
lookup-record vsid=5002 ca=10.0.1.8 mac=00:15:5d:00:00:08 pa=192.168.10.12 vm=db2
lookup-record vsid=5002 ca=10.0.1.9 mac=00:15:5d:00:00:09 pa=192.168.10.21 rule=nat vm=nat
)";

state build_hv1() {
    auto loaded = load_policy_text(two_hosts, "snapshot.policy");
    for (const auto& d : loaded.diagnostics) MESSAGE(d.to_string());
    REQUIRE(loaded);
    auto built = state::build(*loaded.validated, "hv1");
    REQUIRE(built);
    return std::move(built).value();
}

nvgre::vsid vs(std::uint32_t v) { return *nvgre::vsid::make(v); }
rdid red() { return *rdid::parse("11111111-1111-1111-1111-111111111111"); }

// What the packet path may hold: a reference. A snapshot on its own cannot be made or copied
// (a copy of a state's base would slice it); the state can.
static_assert(!std::is_default_constructible_v<snapshot>);
static_assert(!std::is_copy_constructible_v<snapshot>);
static_assert(!std::is_move_constructible_v<snapshot>);
static_assert(std::is_copy_constructible_v<state>);
static_assert(std::is_convertible_v<const state&, const snapshot&>);

// The control plane's bookkeeping stays out of the flat arrays the packet path reads.
template <class T>
concept holds_route_candidates = requires(T d) { d.candidates; };
template <class T>
concept holds_a_name = requires(T d) { d.name; };
static_assert(!holds_route_candidates<domain_entry>);
static_assert(!holds_a_name<domain_entry>);

// Every query is const and noexcept.
static_assert(noexcept(std::declval<const snapshot&>().find_ref(0u, std::declval<const ip_address&>())));
static_assert(noexcept(std::declval<const snapshot&>().subnet(0u)));
static_assert(noexcept(std::declval<const snapshot&>().route(0u, std::declval<const ip_address&>())));
static_assert(noexcept(std::declval<const snapshot&>().port(std::declval<const mac_address&>())));
static_assert(noexcept(std::declval<const snapshot&>().port_by_id(0u)));
static_assert(noexcept(std::declval<const snapshot&>().nat_record(std::declval<const ip_address&>())));
static_assert(noexcept(std::declval<const snapshot&>().compiled_path(0u, 0u)));

}  // namespace

TEST_CASE("policy/snapshot: the state's view answers every per-packet question") {
    const state s = build_hv1();
    const snapshot& v = s.view();
    CHECK(&v == static_cast<const snapshot*>(&s));
    const std::uint32_t d = *s.domain_index(red());
    CHECK(v.host() == "hv1");

    const record_ref* web = v.find_ref(d, ip("10.0.0.5"));
    REQUIRE(web != nullptr);
    CHECK(web->vsid == 5001);
    CHECK(web->local);
    CHECK(v.record(web->id).ca == ip("10.0.0.5"));
    CHECK(v.port_at(web->port).mac == mac("00:15:5d:00:00:05"));
    CHECK(v.find_ref(d, ip("10.0.0.99")) == nullptr);

    REQUIRE(v.subnet(5002) != nullptr);
    CHECK(v.subnet(5002)->domain == d);
    CHECK(v.subnet(7777) == nullptr);
    CHECK(v.subnet(0xFFFFFFFFu) == nullptr);

    // The route to 10.9/16 is the lowest metric of its two candidates.
    const route_entry* r = v.route(d, ip("10.9.1.2"));
    REQUIRE(r != nullptr);
    CHECK(r->vsid == 5002);
    CHECK(r->next_hop == ip("10.0.1.8"));

    const record_entry* nat = v.nat_record(ip("192.168.10.21"));
    REQUIRE(nat != nullptr);
    CHECK(nat->ca == ip("10.0.1.9"));
    CHECK(v.nat_record(ip("192.168.10.11")) == nullptr);

    const provider_address* hv2 = v.provider(ip("192.168.10.12"));
    REQUIRE(hv2 != nullptr);
    CHECK(v.is_local_pa(ip("192.168.10.11")));
    CHECK_FALSE(v.is_local_pa(ip("192.168.10.12")));
    CHECK(v.local_pa_indices().size() == 2);
    const std::uint32_t local = web->provider;
    const std::uint32_t remote = v.find_ref(d, ip("10.0.0.6"))->provider;
    const packet::compiled_header* path = v.compiled_path(local, remote);
    REQUIRE(path != nullptr);
    CHECK(path->destination() == ip("192.168.10.12"));
    CHECK(v.compiled_path(remote, local) == nullptr);  // not a PA of this host
    CHECK(v.compiled_path(local, 1000) == nullptr);    // no such PA
}

TEST_CASE("policy/snapshot: the view follows the state's changes, route candidates included") {
    state s = build_hv1();
    const snapshot& v = s;
    const std::uint32_t d = *s.domain_index(red());

    SUBCASE("a VM moves to this host: its record turns local and gains a port") {
        const std::uint32_t before = v.find_ref(d, ip("10.0.0.6"))->provider;
        CHECK(s.apply(set_record{lookup_record{vs(5001), ip("10.0.0.6"), mac("00:15:5d:00:00:06"), ip("192.168.10.11"),
                                               rule::encap, record_type::static_record, "db"}}) == change_status::ok);
        const record_ref* moved = v.find_ref(d, ip("10.0.0.6"));
        REQUIRE(moved != nullptr);
        CHECK(moved->provider != before);
        CHECK(moved->local);
        CHECK(v.port(mac("00:15:5d:00:00:06")) == &v.port_at(moved->port));
    }
    SUBCASE("the winning customer route goes: the next-best candidate, held by the control plane, takes over") {
        CHECK(s.apply(remove_customer_route{red(), *ip_prefix::parse("10.9.0.0/16"), 10}) == change_status::ok);
        const route_entry* r = v.route(d, ip("10.9.1.2"));
        REQUIRE(r != nullptr);
        CHECK(r->vsid == 5001);
        CHECK(r->metric == 20);
        CHECK(s.apply(remove_customer_route{red(), *ip_prefix::parse("10.9.0.0/16"), 20}) == change_status::ok);
        CHECK(v.route(d, ip("10.9.1.2")) == nullptr);
        CHECK(s.apply(remove_customer_route{red(), *ip_prefix::parse("10.9.0.0/16"), 20}) == change_status::not_found);
    }
    SUBCASE("a binding numbers the port in the snapshot; unbinding clears the number") {
        REQUIRE(s.bind_port(3, mac("00:15:5d:00:00:05")));
        const local_port* p = v.port_by_id(3);
        REQUIRE(p != nullptr);
        CHECK(p->mac == mac("00:15:5d:00:00:05"));
        CHECK(v.port_id_at(v.find_ref(d, ip("10.0.0.5"))->port) == 3);
        s.unbind_port(3);
        CHECK(v.port_by_id(3) == nullptr);
        CHECK(v.port_id_at(v.find_ref(d, ip("10.0.0.5"))->port) == no_port);
    }
}
