// libFuzzer target: parse_packet_layout over arbitrary bytes. ASan catches any read outside
// the frame; the checks below catch a layout that claims offsets outside it.
#include "nvgre/wire/packet_layout.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Copy into an exact-size heap buffer so that any over-read hits ASan's redzone.
    std::vector<std::byte> frame(size);
    for (std::size_t i = 0; i < size; ++i) frame[i] = std::byte{data[i]};
    const auto l = nvgre::wire::parse_packet_layout(frame);
    using nvgre::wire::frame_kind;
    if (l.kind == frame_kind::error && l.error.offset > size) std::abort();
    if (l.kind == frame_kind::nvgre) {
        if (l.outer_l3_end > size || l.inner_l2_offset + l.inner_l2_len > size || l.inner_l3_end > size) std::abort();
        if (l.vsid_bits() < 4096 || l.vsid_bits() == 0xffffff) std::abort();
    }
    return 0;
}
