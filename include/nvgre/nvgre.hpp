/// @file nvgre.hpp
/// @brief Umbrella header: includes every public header of the library.
#pragma once

#include "nvgre/version.hpp"
#include "nvgre/error.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/vsid.hpp"
#include "nvgre/rdid.hpp"

#include "nvgre/wire/ethernet.hpp"
