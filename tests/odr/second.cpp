// See first.cpp.
#include "nvgre/nvgre.hpp"

int second_translation_unit() {
    auto mac = nvgre::mac_address::parse("00:15:5d:00:00:05");
    return mac && mac->to_string() == "00:15:5d:00:00:05" ? 0 : 1;
}
