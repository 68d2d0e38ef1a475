#include "nvgre/datapath/router.hpp"

#include "support/frames.hpp"
#include "support/gateway_policy.hpp"

#include <doctest/doctest.h>

using namespace nvgre;
using namespace nvgre::datapath;
using namespace nvgre::test;
using namespace nvgre::test::gw_vm;

TEST_CASE("datapath/router: gateway addresses of the sender's subnet and of the routed subnet") {
    const policy::state& s = gateway_state("hv1");
    const policy::local_port* web = s.port(red_web);
    const policy::local_port* lab = s.port(red_lab);
    REQUIRE(web != nullptr);
    REQUIRE(lab != nullptr);
    const auto& web_subnet = s.subnet_at(web->subnet);
    CHECK(nvgre::datapath::detail::router_steps::is_router_address(s, web_subnet, nullptr, ip("10.0.0.1")));
    CHECK(nvgre::datapath::detail::router_steps::is_router_address(s, web_subnet, nullptr, ip("fd00::1")));
    CHECK_FALSE(nvgre::datapath::detail::router_steps::is_router_address(s, web_subnet, nullptr, ip("10.0.0.2")));
    // From 5003 (no gateway address), 10.0.0.1 is reached along the route to 5001.
    const auto& lab_subnet = s.subnet_at(lab->subnet);
    CHECK_FALSE(nvgre::datapath::detail::router_steps::is_router_address(s, lab_subnet, nullptr, ip("10.0.0.1")));
    CHECK(nvgre::datapath::detail::router_steps::is_router_address(s, lab_subnet, s.route(lab->domain, ip("10.0.0.1")), ip("10.0.0.1")));
}

TEST_CASE("datapath/router: a subnet without a gateway address answers only too big, from the destination") {
    const policy::state& s = gateway_state("hv1");
    const policy::local_port* lab = s.port(red_lab);
    REQUIRE(lab != nullptr);
    buffer big(udp_frame(red_lab, red_router, ip("10.0.3.5"), ip("203.0.113.10"), 1400));
    const auto o = nvgre::datapath::detail::router_steps::answer_error(s, *lab, big.f, router_error::too_big, drop_reason::too_big, {}, 1300);
    REQUIRE(o.verdict == verdict::reply);
    CHECK(o.reason == drop_reason::too_big);
    const auto out = big.bytes();
    CHECK(ip_address{wire::ipv4_view::unchecked(std::span<const std::byte>(out).subspan(14)).source()} == ip("203.0.113.10"));
    CHECK(nvgre::detail::load_be16(out.data() + 34 + 6) == 1300);
    buffer lost(udp_frame(red_lab, red_router, ip("10.0.3.5"), ip("203.0.113.10")));
    const auto n = nvgre::datapath::detail::router_steps::answer_error(s, *lab, lost.f, router_error::net_unreachable, drop_reason::no_route, {});
    CHECK(n.verdict == verdict::drop);
    CHECK(n.reason == drop_reason::no_route);
}
