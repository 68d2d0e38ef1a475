// nvgre-dpdk --bench (bench.cpp): throughput per lcore through memory-only ring ports.
#pragma once

#include <cstdint>

namespace nvgre_dpdk {

struct bench_arguments {
    std::uint32_t records{1'000'000};  ///< lookup records of the synthetic policy
    unsigned milliseconds{3000};       ///< timed length of each run (after a warm-up of a quarter, at most 500 ms)
    unsigned repeat{3};                ///< runs of each row (the table shows medians)
};

/// Runs the bench in an initialised EAL; prints the table and the summary line. 0, or 1 with
/// one line on stderr when it cannot run or a counter shows a frame that was not switched.
int run_bench(const bench_arguments& a);

}  // namespace nvgre_dpdk
