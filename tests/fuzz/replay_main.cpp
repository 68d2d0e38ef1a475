// A main() for a fuzz target outside libFuzzer: calls LLVMFuzzerInitialize when the target
// defines it, then LLVMFuzzerTestOneInput once per file of the paths given (directories are
// read one level deep, files in name order). A target's invariants abort, so any input that
// would be a finding fails the run. Exit status 1 when a path is missing or no input was
// found at all (a replay that replays nothing proves nothing).
//
//   fuzz_replay_<target> DIR_OR_FILE...
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// Weak: most targets need no initialisation.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

bool read_all(const std::filesystem::path& p, std::vector<std::uint8_t>& out) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
    std::size_t inputs = 0;
    std::size_t bytes = 0;
    int status = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path arg(argv[i]);
        std::error_code ec;
        std::vector<std::filesystem::path> files;
        if (std::filesystem::is_directory(arg, ec)) {
            for (const auto& e : std::filesystem::directory_iterator(arg, ec))
                if (e.is_regular_file(ec)) files.push_back(e.path());
            std::sort(files.begin(), files.end());
        } else if (std::filesystem::is_regular_file(arg, ec)) {
            files.push_back(arg);
        } else {
            std::fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
            status = 1;
            continue;
        }
        for (const auto& f : files) {
            std::vector<std::uint8_t> data;
            if (!read_all(f, data)) {
                std::fprintf(stderr, "replay: %s: cannot read\n", f.c_str());
                status = 1;
                continue;
            }
            // An empty vector's data() may be null; libFuzzer passes a valid pointer.
            static const std::uint8_t none = 0;
            LLVMFuzzerTestOneInput(data.empty() ? &none : data.data(), data.size());
            ++inputs;
            bytes += data.size();
        }
    }
    std::printf("replayed %zu inputs (%zu bytes) from %d paths: no invariant broken\n", inputs, bytes, argc - 1);
    if (inputs == 0) {
        std::fprintf(stderr, "replay: no input found\n");
        status = 1;
    }
    return status;
}
