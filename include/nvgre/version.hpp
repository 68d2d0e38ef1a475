/// @file version.hpp
/// @brief The library's version, as macros (for preprocessor checks) and as constants.
#pragma once

#define NVGRE_VERSION_MAJOR 0
#define NVGRE_VERSION_MINOR 1
#define NVGRE_VERSION_PATCH 0

namespace nvgre {
inline constexpr int version_major = NVGRE_VERSION_MAJOR;
inline constexpr int version_minor = NVGRE_VERSION_MINOR;
inline constexpr int version_patch = NVGRE_VERSION_PATCH;
}  // namespace nvgre
