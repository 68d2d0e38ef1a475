// libFuzzer target: the policy text loader (policy::load_policy_text, docs/policy-format.md) over
// arbitrary text. Asserts:
//   - a model if and only if there is no diagnostic; loading the same text again gives the
//     same diagnostics (nothing depends on memory layout or order of a hash table);
//   - diagnostics sorted by line then column, each on a line of the text and at a column
//     inside it (or just past its end), named after the file, with a message of printable
//     ASCII (a hostile token cannot put a newline or an escape sequence into an error line);
//   - a model indexes for every one of its hosts (policy::state::build), and written back as
//     text (tests/fuzz/policy_text.hpp) loads again into a model that writes the same text.
#include "fuzz_support.hpp"
#include "policy_text.hpp"

#include "nvgre/policy/loader.hpp"
#include "nvgre/policy/state.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace nvgre;

namespace {
constexpr std::size_t max_text = 16384;  // longer texts only take longer, they reach no new code
constexpr std::string_view file_name = "fuzz.policy";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > max_text) return 0;
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto r = policy::load_policy_text(text, file_name);

    NVGRE_FUZZ_CHECK(r.validated.has_value() == r.diagnostics.empty());
    NVGRE_FUZZ_CHECK(static_cast<bool>(r) == r.validated.has_value());
    const auto again = policy::load_policy_text(text, file_name);
    NVGRE_FUZZ_CHECK(again.diagnostics == r.diagnostics);

    // Line lengths, 1-based.
    std::vector<std::size_t> line_len{0};
    for (const char c : text) {
        if (c == '\n') line_len.push_back(0);
        else ++line_len.back();
    }
    for (std::size_t i = 0; i < r.diagnostics.size(); ++i) {
        const auto& d = r.diagnostics[i];
        NVGRE_FUZZ_CHECK(d.file == file_name);
        NVGRE_FUZZ_CHECK(d.line >= 1 && d.line <= line_len.size());
        NVGRE_FUZZ_CHECK(d.column >= 1 && d.column <= line_len[d.line - 1] + 1);
        NVGRE_FUZZ_CHECK(!d.message.empty());
        for (const char c : d.message) NVGRE_FUZZ_CHECK(c >= 0x20 && c <= 0x7e);
        if (i > 0) {
            const auto& p = r.diagnostics[i - 1];
            NVGRE_FUZZ_CHECK(p.line < d.line || (p.line == d.line && p.column <= d.column));
        }
        const std::string line = d.to_string();
        NVGRE_FUZZ_CHECK(line.rfind(std::string(file_name) + ":" + std::to_string(d.line) + ":", 0) == 0);
    }
    if (!r) return 0;

    const policy::model& m = *r.validated;
    for (const auto& host : m.hosts()) {
        const auto s = policy::state::build(m, host).value();
        NVGRE_FUZZ_CHECK(s.host() == host);
        NVGRE_FUZZ_CHECK(s.subnet_count() == m.virtual_subnets().size());
        NVGRE_FUZZ_CHECK(s.domain_count() == m.routing_domains().size());
        NVGRE_FUZZ_CHECK(s.record_count() == m.lookup_records().size());
    }
    const std::string written = test::to_policy_text(m);
    const auto reloaded = policy::load_policy_text(written, "written.policy");
    if (!reloaded) {
        for (const auto& d : reloaded.diagnostics) std::fprintf(stderr, "%s\n", d.to_string().c_str());
        std::fprintf(stderr, "--- written:\n%s", written.c_str());
    }
    NVGRE_FUZZ_CHECK(reloaded.validated.has_value());
    NVGRE_FUZZ_CHECK(reloaded.validated->counts() == m.counts());
    NVGRE_FUZZ_CHECK(test::to_policy_text(*reloaded.validated) == written);
    return 0;
}
