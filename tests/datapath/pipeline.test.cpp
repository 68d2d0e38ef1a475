#include "nvgre/datapath/pipeline.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace nvgre::datapath;

TEST_CASE("datapath/pipeline: defaults and the sink that never replicates") {
    const pipeline_config cfg;
    CHECK(cfg.outer_ttl == 64);
    CHECK(cfg.underlay_mtu == 1500);
    CHECK_FALSE(cfg.outer_ipv4_checksum_by_hardware);
    no_replication_sink sink;
    std::vector<std::byte> bytes(10);
    CHECK(sink.copy(bytes, 0) == nullptr);
    static_assert(replication_sink<no_replication_sink>);
}
