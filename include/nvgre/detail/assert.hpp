/// @file detail/assert.hpp
/// @brief NVGRE_ASSERT(condition): a precondition the library trusts its caller with rather
/// than checking on every packet (an index obtained from the same snapshot, a frame inside its
/// buffer) is checked in debug builds — those without NDEBUG, or any build that defines
/// NVGRE_ASSERTIONS — and compiles to nothing otherwise. A failure prints the condition and
/// where it is, then aborts: never a throw, so it holds under -fno-exceptions too. What a
/// caller may legitimately get wrong (bad bytes, mismatched burst sizes) is checked always
/// and answered with an error value instead.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace nvgre::detail {

[[noreturn, gnu::cold, gnu::noinline]] inline void assertion_failed(const char* condition, const char* file,
                                                                   int line) noexcept {
    std::fprintf(stderr, "nvgre: precondition failed: %s (%s:%d)\n", condition, file, line);
    std::abort();
}

}  // namespace nvgre::detail

#if !defined(NDEBUG) || defined(NVGRE_ASSERTIONS)
#define NVGRE_ASSERT(condition) \
    ((condition) ? static_cast<void>(0) : ::nvgre::detail::assertion_failed(#condition, __FILE__, __LINE__))
#else
#define NVGRE_ASSERT(condition) static_cast<void>(0)
#endif
