// libFuzzer target: the pcapng reader of nvgre-pcap (examples/common/pcapng_reader.hpp), the
// parser that reads capture files libpcap refuses, over arbitrary bytes as a file. Asserts:
//   - reading ends (end of file or one error), after at most one call per 12 bytes of input;
//   - an error is one line of text; a clean end comes only after a section header;
//   - every packet lies inside the block that held it, names an interface the section
//     described, carries that interface's link type, and has microseconds below 10^6;
//   - the pre-scan (packet blocks stepped over) sees the interfaces the full read sees, in
//     order, and perhaps more (the read stops at a bad packet block the scan steps over).
#include "fuzz_support.hpp"

#include "common/pcapng_reader.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace {

/// The input as a read-only FILE (the reader takes one), or nullptr when there is none to open.
std::FILE* open_bytes(std::vector<std::byte>& bytes) {
    if (bytes.empty()) return std::fopen("/dev/null", "rb");
    return fmemopen(bytes.data(), bytes.size(), "rb");
}

bool same(const example::pcapng::interface_info& a, const example::pcapng::interface_info& b) {
    return a.link_type == b.link_type && a.snaplen == b.snaplen && a.units_per_second == b.units_per_second &&
           a.ts_offset == b.ts_offset;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace pn = example::pcapng;
    std::vector<std::byte> bytes = nvgre::fuzz::bytes_of(data, size);

    std::FILE* f = open_bytes(bytes);
    NVGRE_FUZZ_CHECK(f != nullptr);
    pn::block_reader reader(f);
    pn::packet p;
    std::size_t calls = 0;
    pn::block_reader::step s;
    while ((s = reader.next(p)) == pn::block_reader::step::packet) {
        ++calls;
        NVGRE_FUZZ_CHECK(calls <= size / 12 + 1);
        const auto& interfaces = reader.all_interfaces();
        NVGRE_FUZZ_CHECK(!interfaces.empty());
        NVGRE_FUZZ_CHECK(p.bytes.size() <= size);
        NVGRE_FUZZ_CHECK(p.usec < 1'000'000u);
        // The packet's bytes are inside the reader's block buffer: touching each must be clean.
        std::uint32_t sum = 0;
        for (const std::byte b : p.bytes) sum += std::to_integer<std::uint32_t>(b);
        static_cast<void>(sum);
        // Its interface is one of the current section, and gives it its link type.
        const auto& section = reader.section_interfaces();
        NVGRE_FUZZ_CHECK(p.interface_id < section.size());
        NVGRE_FUZZ_CHECK(section.size() <= interfaces.size());
        NVGRE_FUZZ_CHECK(p.link_type == section[p.interface_id].link_type);
    }
    if (s == pn::block_reader::step::error) {
        NVGRE_FUZZ_CHECK(!reader.error().empty());
        NVGRE_FUZZ_CHECK(reader.error().find('\n') == std::string::npos);
    } else {
        NVGRE_FUZZ_CHECK(size >= 28);  // a clean end needs at least one whole section header
    }
    const std::vector<pn::interface_info> read_interfaces = reader.all_interfaces();
    std::fclose(f);

    f = open_bytes(bytes);
    NVGRE_FUZZ_CHECK(f != nullptr);
    const pn::scan_result scanned = pn::scan(f);
    std::fclose(f);
    NVGRE_FUZZ_CHECK(scanned.interfaces.size() >= read_interfaces.size());
    for (std::size_t i = 0; i < read_interfaces.size(); ++i)
        NVGRE_FUZZ_CHECK(same(scanned.interfaces[i], read_interfaces[i]));
    return 0;
}
