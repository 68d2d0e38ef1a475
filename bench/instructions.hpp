// The measured sections of `make instructions` (scripts/instructions.py): the pipelines'
// timed calls, and nothing else of a benchmark loop (not the per-burst reset, not Google
// Benchmark's own bookkeeping), switched on and off for valgrind's callgrind with client
// requests, and the packets they handled counted so that the instructions callgrind collects
// can be divided by them. Outside valgrind a client request is a few register rotations: about
// a nanosecond per burst of 32 packets, under the run-to-run spread of every row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define NVGRE_BENCH_HAVE_CALLGRIND 1
#else
#define NVGRE_BENCH_HAVE_CALLGRIND 0
#endif

namespace nvgre::bench {

/// Packets handled inside measured sections so far (reported at exit under valgrind).
inline std::uint64_t measured_packets = 0;

/// Prints the count at exit when running under valgrind, for scripts/instructions.py.
struct measured_report {
    ~measured_report() {
#if NVGRE_BENCH_HAVE_CALLGRIND
        if (RUNNING_ON_VALGRIND) std::fprintf(stderr, "nvgre-bench: measured packets: %llu\n",
                                              static_cast<unsigned long long>(measured_packets));
#endif
    }
};
inline measured_report report_at_exit;

/// Collects instructions while it lives; counts `packets` as measured.
class measured_section {
public:
    explicit measured_section(std::size_t packets) noexcept {
        measured_packets += packets;
#if NVGRE_BENCH_HAVE_CALLGRIND
        CALLGRIND_TOGGLE_COLLECT;
#endif
    }
    ~measured_section() {
#if NVGRE_BENCH_HAVE_CALLGRIND
        CALLGRIND_TOGGLE_COLLECT;
#endif
    }
    measured_section(const measured_section&) = delete;
    measured_section& operator=(const measured_section&) = delete;
};

}  // namespace nvgre::bench
