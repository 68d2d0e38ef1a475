// With second.cpp: two translation units including every public header, linked into one
// program. A header that defines a non-inline function or variable fails to link here.
#include "nvgre/nvgre.hpp"

int second_translation_unit();

int main() {
    const auto key = nvgre::nvgre_key(*nvgre::vsid::make(5001), nvgre::flow_id{42});
    return (key == ((5001u << 8) | 42u) && second_translation_unit() == 0) ? 0 : 1;
}
