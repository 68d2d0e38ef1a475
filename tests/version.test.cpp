#include "nvgre/version.hpp"

#include <doctest/doctest.h>

TEST_CASE("version: macros and constants agree") {
    CHECK(nvgre::version_major == NVGRE_VERSION_MAJOR);
    CHECK(nvgre::version_minor == NVGRE_VERSION_MINOR);
    CHECK(nvgre::version_patch == NVGRE_VERSION_PATCH);
}
