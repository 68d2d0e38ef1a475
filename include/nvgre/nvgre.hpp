/// @file nvgre.hpp
/// @brief Umbrella header: includes every public header of the library.
#pragma once

#include "nvgre/version.hpp"
#include "nvgre/error.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/ip_address.hpp"
#include "nvgre/vsid.hpp"
#include "nvgre/rdid.hpp"

#include "nvgre/checksum/ones_complement.hpp"
#include "nvgre/checksum/ones_complement_simd.hpp"
#include "nvgre/checksum/incremental.hpp"
#include "nvgre/checksum/pseudo_header.hpp"

#include "nvgre/wire/ip_protocol.hpp"
#include "nvgre/wire/ethernet.hpp"
#include "nvgre/wire/arp.hpp"
#include "nvgre/wire/ipv4.hpp"
#include "nvgre/wire/ipv6.hpp"
#include "nvgre/wire/gre.hpp"
#include "nvgre/wire/nvgre.hpp"
#include "nvgre/wire/udp.hpp"
#include "nvgre/wire/tcp.hpp"
#include "nvgre/wire/icmp.hpp"
#include "nvgre/wire/icmpv6.hpp"
#include "nvgre/wire/packet_layout.hpp"

#include "nvgre/policy/model.hpp"
#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/loader.hpp"
#include "nvgre/policy/ca_table.hpp"
#include "nvgre/policy/lpm.hpp"
#include "nvgre/policy/left_right.hpp"
#include "nvgre/policy/state.hpp"
#include "nvgre/policy/live_policy.hpp"
