#include "nvgre/datapath/pipeline.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace nvgre::datapath;

TEST_CASE("datapath/pipeline: defaults and the sink that never replicates") {
    const pipeline_config cfg;
    CHECK(cfg.outer_ttl == 64);
    CHECK(cfg.underlay_mtu == 1500);
    CHECK_FALSE(cfg.outer_ipv4_checksum_by_hardware);
    no_replication_sink sink;
    std::vector<std::byte> bytes(10);
    CHECK(sink.allocate(bytes.size(), 0) == nullptr);
    static_assert(replication_sink<no_replication_sink>);
}

TEST_CASE("datapath/pipeline: validate() names what makes a configuration unusable") {
    pipeline_config cfg;
    CHECK(cfg.validate() == nullptr);
    cfg.outer_ttl = 0;
    CHECK(std::string(cfg.validate()) == "outer TTL 0");
    cfg.outer_ttl = 1;
    cfg.underlay_mtu = 67;
    CHECK(std::string(cfg.validate()) == "underlay MTU outside 68..65535");
    cfg.underlay_mtu = 65536;
    CHECK(cfg.validate() != nullptr);
    cfg.underlay_mtu = 68;
    CHECK(cfg.validate() == nullptr);
    const nvgre::ip_address pa{nvgre::ipv4_address{{192, 168, 10, 11}}};
    std::vector<pa_mtu> mtus{{pa, 9000}};
    cfg.underlay_mtus = mtus;
    CHECK(cfg.validate() == nullptr);
    mtus.push_back({pa, 1500});
    cfg.underlay_mtus = mtus;
    CHECK(std::string(cfg.validate()) == "a provider address with two underlay MTUs");
    mtus.pop_back();
    mtus[0].mtu = 40;
    CHECK(std::string(cfg.validate()) == "a provider address's underlay MTU outside 68..65535");
}
