// libFuzzer target: change sets (policy::parse_change_set, docs/policy-lifecycle.md) over
// arbitrary text, applied to examples/policies/two-tenants.policy three ways. Asserts:
//   - apply_change_set_text gives a model if and only if there is no diagnostic; each
//     diagnostic is on a line of the text (or line 0 for the whole set), named after the file,
//     in printable ASCII, sorted by line then column;
//   - live_policy::apply_change_set (record by record when it can, else the whole validation)
//     accepts exactly what apply_change_set_text accepts, with the same diagnostics, and then
//     holds the same policy (canonical text) at the next generation; when it refuses, the
//     generation and the policy stay as they were;
//   - an accepted result's canonical text loads back to itself, and diff(base, result)
//     applied to the base gives the result again.
#include "fuzz_support.hpp"

#include "nvgre/policy/canonical.hpp"
#include "nvgre/policy/change_set.hpp"
#include "nvgre/policy/live_policy.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace nvgre;

namespace {
constexpr std::size_t max_text = 8192;
constexpr std::string_view file_name = "fuzz.cs";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > max_text) return 0;
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto& h = fuzz::hnv::get();
    const policy::load_result r = policy::apply_change_set_text(h.model, text, file_name);
    NVGRE_FUZZ_CHECK(r.validated.has_value() == r.diagnostics.empty());

    std::size_t lines = 1;
    for (const char c : text) lines += c == '\n' ? 1 : 0;
    for (std::size_t i = 0; i < r.diagnostics.size(); ++i) {
        const auto& d = r.diagnostics[i];
        NVGRE_FUZZ_CHECK(d.file == file_name);
        NVGRE_FUZZ_CHECK(d.line <= lines);
        NVGRE_FUZZ_CHECK(!d.message.empty());
        for (const char c : d.message) NVGRE_FUZZ_CHECK(c >= 0x20 && c <= 0x7e);
        if (i > 0) {
            const auto& p = r.diagnostics[i - 1];
            NVGRE_FUZZ_CHECK(p.line < d.line || (p.line == d.line && p.column <= d.column));
        }
    }

    // The live policy of hv1 (records and routes change record by record there).
    policy::live_policy live(h.model, h.hosts[0]);
    const std::string before = policy::format(h.model);
    const auto applied = live.apply_change_set(text, file_name);
    NVGRE_FUZZ_CHECK(static_cast<bool>(applied) == static_cast<bool>(r));
    if (!r) {
        NVGRE_FUZZ_CHECK(applied.diagnostics == r.diagnostics);
        NVGRE_FUZZ_CHECK(applied.generation == 1);
        NVGRE_FUZZ_CHECK(live.generation() == 1);
        NVGRE_FUZZ_CHECK(policy::format(*live.current_model()) == before);
        return 0;
    }
    const std::string after = policy::format(*r.validated);
    NVGRE_FUZZ_CHECK(applied.generation == 2);
    NVGRE_FUZZ_CHECK(policy::format(*live.current_model()) == after);
    const auto reloaded = policy::load_policy_text(after, "formatted");
    NVGRE_FUZZ_CHECK(reloaded && policy::format(*reloaded.validated) == after);
    const auto again = policy::apply_change_set(h.model, policy::diff(h.model, *r.validated));
    NVGRE_FUZZ_CHECK(again && policy::format(*again.validated) == after);
    return 0;
}
