// A program that uses nvgre the way an embedder does; built by both consumer projects.
#include <nvgre/nvgre.hpp>

#include <cstdio>

int main() {
    auto v = nvgre::vsid::make(5001);
    if (!v) return 1;
    const auto key = nvgre::nvgre_key(*v, nvgre::flow_id{7});
    std::printf("nvgre %d.%d.%d: key 0x%08x\n", NVGRE_VERSION_MAJOR, NVGRE_VERSION_MINOR, NVGRE_VERSION_PATCH, key);
    return key == 0x00138907u ? 0 : 1;
}
