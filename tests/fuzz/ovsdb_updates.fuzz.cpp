// libFuzzer target: the messages of an OVSDB store (RFC 7047) as the host agent of
// examples/nvgre-ovsdb reads them (docs/distribution.md), without a server: the input's bytes
// go through json_splitter as a connection feeds it, in two pieces (byte 0 picks where the
// rest is cut), each text is parsed by nlohmann-json with exceptions off, and each object is
// given to one agent of host hv1 (agent::take) whose sink is a model_sink. At most 64 texts.
// Asserts:
//   - the splitter gives the same texts, and fails at the same point, whether the stream comes
//     whole or in two pieces; each text starts with { or [ and ends with } or ], and a
//     refusal (a byte outside any text, too deep) says why and gives no text;
//   - line_of_row, on every row and modify diff of every update of a known table (and on each
//     row the agent holds after a modify): one line `KIND key=value ...` of that kind's keys,
//     in the kind's order, each at most once, single blanks between tokens, every value
//     non-empty printable ASCII without `#` (no newline, no blank inside a value); or nullopt
//     with an error that names the table's column (or says the row is not an object);
//   - after each message: the sink's model is a valid policy whose canonical text reloads to
//     itself; agent.applied() is exactly the model's canonical lines, each keyed by its own
//     identity; the sink's generation counts the change sets the agent took
//     (counters().applied), and the model does not change when it took none;
//   - the agent follows the rows (a replica of the rows, by the rules of agent.hpp: a row that
//     cannot be policy text keeps its last good value): every identity that exactly one row
//     names is applied with that row's line unless it is held back; a held-back identity is
//     never one that two rows name, and its change is one the model does not have yet (the
//     line differs, or the object is there when no row names it, or missing when one does);
//     an applied identity that no row names is held back (its removal was refused); nothing is
//     held back before the sink refused a change set, and every held-back identity is one a
//     `- ` line can name;
//   - every object the agent newly applied, written as a store row (row_of_object, the insert
//     and the update form), reads back through line_of_row as the same canonical line.
#include "fuzz_support.hpp"

#include "agent.hpp"
#include "jsonrpc.hpp"
#include "table_rows.hpp"

#include "nvgre/policy/canonical.hpp"
#include "nvgre/policy/change_set.hpp"
#include "nvgre/policy/loader.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace nvgre;
using ovsdb::json;

namespace {

constexpr std::size_t max_input = 16384;  // longer streams only take longer
constexpr std::size_t max_messages = 64;

/// The texts of `stream` fed in two pieces cut at `cut`, at most max_messages; `broken` when
/// the splitter refused the stream (a connection would close there).
struct split_result {
    std::vector<std::string> texts;
    bool broken{false};
};

split_result split(std::string_view stream, std::size_t cut) {
    split_result out;
    ovsdb::json_splitter s;
    const std::size_t pieces[2][2] = {{0, cut}, {cut, stream.size() - cut}};
    for (const auto& [at, n] : pieces) {
        if (out.broken || out.texts.size() >= max_messages) break;
        s.feed(stream.data() + at, n);
        while (out.texts.size() < max_messages) {
            std::string error;
            auto text = s.next(error);
            if (!text) {
                NVGRE_FUZZ_CHECK(error.empty());
                break;
            }
            if (!error.empty()) {
                NVGRE_FUZZ_CHECK(text->empty());
                out.broken = true;
                break;
            }
            NVGRE_FUZZ_CHECK(text->size() >= 2);
            NVGRE_FUZZ_CHECK(text->front() == '{' || text->front() == '[');
            NVGRE_FUZZ_CHECK(text->back() == '}' || text->back() == ']');
            out.texts.push_back(std::move(*text));
        }
    }
    return out;
}

/// line_of_row with the shape of its answer checked.
std::optional<std::string> checked_line_of_row(policy::object_kind kind, const json& row) {
    std::string error;
    auto line = ovsdb::line_of_row(kind, row, error);
    if (!line) {
        NVGRE_FUZZ_CHECK(!error.empty());
        NVGRE_FUZZ_CHECK(error.starts_with(std::string(ovsdb::table_of(kind)) + ".") || error == "a row that is not a JSON object");
        return line;
    }
    const auto& spec = ovsdb::spec_of(kind);
    std::string_view rest(*line);
    NVGRE_FUZZ_CHECK(rest.starts_with(spec.name));
    rest.remove_prefix(spec.name.size());
    std::size_t next_key = 0;  // keys come in the kind's order, each at most once
    while (!rest.empty()) {
        NVGRE_FUZZ_CHECK(rest.front() == ' ');
        rest.remove_prefix(1);
        const std::string_view token = rest.substr(0, rest.find(' '));
        rest.remove_prefix(token.size());
        const auto eq = token.find('=');
        NVGRE_FUZZ_CHECK(eq != std::string_view::npos);
        const std::string_view key = token.substr(0, eq), value = token.substr(eq + 1);
        std::size_t k = next_key;
        while (k < spec.keys.size() && spec.keys[k].name != key) ++k;
        NVGRE_FUZZ_CHECK(k < spec.keys.size());
        next_key = k + 1;
        NVGRE_FUZZ_CHECK(!value.empty());
        for (const char c : value) NVGRE_FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '#');
    }
    return line;
}

/// A line's object as the agent reads it: identity and canonical line, or nullopt.
std::optional<std::pair<std::string, std::string>> object_of_line(const std::string& line) {
    const policy::change_set_parse parsed = policy::parse_change_set("+ " + line, "row");
    if (!parsed || parsed.changes.entries.size() != 1) return std::nullopt;
    const policy::object& o = parsed.changes.entries.front().value;
    return std::pair{policy::format_identity(o), policy::format_object(o)};
}

/// The rows the agent was sent, kept by the rules agent.hpp states: the latest value of each
/// row, and the last value of it that was a policy object (a row that cannot be policy text
/// keeps its last good value; a deleted row has none).
struct replica {
    std::map<std::string, json> rows;                                 // "table/uuid" -> row
    std::map<std::string, std::pair<std::string, std::string>> good;  // "table/uuid" -> identity, line

    void put(policy::object_kind kind, const std::string& key, const json& row) {
        json clean = row;
        if (clean.is_object()) clean.erase("_version");
        rows[key] = clean;
        const auto line = checked_line_of_row(kind, clean);
        if (!line) return;
        if (auto o = object_of_line(*line)) good[key] = std::move(*o);
    }

    /// table-updates2 of an update3 notification; also feeds each row and diff to line_of_row.
    void apply(const json& updates) {
        if (!updates.is_object()) return;
        for (auto t = updates.begin(); t != updates.end(); ++t) {
            const auto kind = ovsdb::kind_of_table(t.key());
            if (!kind || !t.value().is_object()) continue;
            for (auto r = t.value().begin(); r != t.value().end(); ++r) {
                const json& u = r.value();
                const std::string key = t.key() + "/" + r.key();
                for (const char* what : {"initial", "insert", "modify"})
                    if (const json* v = ovsdb::json_get::member(u, what)) (void)checked_line_of_row(*kind, *v);
                if (const json* row = ovsdb::json_get::member(u, "initial"); row != nullptr && row->is_object()) put(*kind, key, *row);
                else if (const json* ins = ovsdb::json_get::member(u, "insert"); ins != nullptr && ins->is_object()) put(*kind, key, *ins);
                else if (const json* mod = ovsdb::json_get::member(u, "modify"); mod != nullptr && mod->is_object()) {
                    json held = rows.contains(key) ? rows[key] : json::object();
                    if (held.is_null()) held = json::object();
                    ovsdb::apply_modify(*kind, held, *mod);
                    put(*kind, key, held);
                } else if (u.is_object() && u.contains("delete")) {
                    rows.erase(key);
                    good.erase(key);
                }
            }
        }
    }

    /// Identity -> the lines of the rows that name it.
    [[nodiscard]] std::map<std::string, std::vector<std::string>> desired() const {
        std::map<std::string, std::vector<std::string>> out;
        for (const auto& [key, object] : good) out[object.first].push_back(object.second);
        return out;
    }
};

/// The update3 table-updates of `m`, or nullptr when `m` is no update3 the agent takes.
const json* table_updates(const json& m) {
    const auto method = ovsdb::json_get::string(ovsdb::json_get::member(m, "method"));
    if (!method || *method != "update3") return nullptr;
    const json* params = ovsdb::json_get::member(m, "params");
    if (params == nullptr || !ovsdb::json_get::string(ovsdb::json_get::at(*params, 1))) return nullptr;
    const json* updates = ovsdb::json_get::at(*params, 2);
    return updates != nullptr && updates->is_object() ? updates : nullptr;
}

/// `line` (canonical, of an applied object) as a store row and back, both row forms.
void check_row_round_trip(const std::string& line) {
    const policy::change_set_parse parsed = policy::parse_change_set("+ " + line, "applied");
    NVGRE_FUZZ_CHECK(parsed && parsed.changes.entries.size() == 1);
    const policy::object& o = parsed.changes.entries.front().value;
    for (const bool for_update : {false, true}) {
        const json row = ovsdb::row_of_object(o, for_update);
        const auto back = checked_line_of_row(policy::kind_of(o), row);
        NVGRE_FUZZ_CHECK(back.has_value());
        const auto again = object_of_line(*back);
        NVGRE_FUZZ_CHECK(again && again->second == line);
    }
}

void check_after_message(const ovsdb::agent& a, const ovsdb::model_sink& sink, const replica& rows, std::uint64_t applied_before,
                         const std::string& text_before, const std::map<std::string, std::string>& applied_lines_before,
                         std::string& text) {
    // The sink's generation counts what the agent says it took; no change set taken, no change.
    NVGRE_FUZZ_CHECK(sink.generation == a.counters().applied);
    text = policy::format(sink.current);
    if (a.counters().applied == applied_before) NVGRE_FUZZ_CHECK(text == text_before);
    if (text != text_before) {
        const auto reloaded = policy::load_policy_text(text, "model");
        NVGRE_FUZZ_CHECK(reloaded && policy::format(*reloaded.validated) == text);
    }

    // applied() is the model, line for line, each line under its own identity.
    std::set<std::string> model_lines;
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = text.find('\n', at);
        NVGRE_FUZZ_CHECK(end != std::string::npos);
        model_lines.emplace(text, at, end - at);
        at = end + 1;
    }
    std::set<std::string> applied_lines;
    for (const auto& [id, line] : a.applied()) {
        applied_lines.insert(line);
        const auto it = applied_lines_before.find(id);
        if (it != applied_lines_before.end() && it->second == line) continue;
        const auto o = object_of_line(line);
        NVGRE_FUZZ_CHECK(o && o->first == id && o->second == line);
        check_row_round_trip(line);
    }
    NVGRE_FUZZ_CHECK(applied_lines.size() == a.applied().size());
    NVGRE_FUZZ_CHECK(applied_lines == model_lines);

    // The agent follows the rows, but for what it holds back.
    const auto& held = a.held_back();
    if (a.counters().refused == 0) NVGRE_FUZZ_CHECK(held.empty());
    const auto desired = rows.desired();
    for (const std::string& id : held) {
        const policy::change_set_parse removal = policy::parse_change_set("- " + id, "held");
        NVGRE_FUZZ_CHECK(removal && removal.changes.entries.size() == 1 &&
                         policy::format_identity(removal.changes.entries.front().value) == id);
        const auto want = desired.find(id);
        const auto have = a.applied().find(id);
        if (want == desired.end()) {
            NVGRE_FUZZ_CHECK(have != a.applied().end());
        } else {
            NVGRE_FUZZ_CHECK(want->second.size() == 1);
            NVGRE_FUZZ_CHECK(have == a.applied().end() || have->second != want->second.front());
        }
    }
    for (const auto& [id, lines] : desired) {
        if (lines.size() != 1 || held.contains(id)) continue;
        const auto have = a.applied().find(id);
        NVGRE_FUZZ_CHECK(have != a.applied().end() && have->second == lines.front());
    }
    for (const auto& [id, line] : a.applied())
        if (!desired.contains(id)) NVGRE_FUZZ_CHECK(held.contains(id));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0 || size > max_input) return 0;
    const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::size_t cut = stream.size() * data[0] / 255;

    const split_result pieces = split(stream, cut);
    const split_result whole = split(stream, stream.size());
    NVGRE_FUZZ_CHECK(pieces.texts == whole.texts);
    NVGRE_FUZZ_CHECK(pieces.broken == whole.broken);

    ovsdb::model_sink sink;
    ovsdb::agent_options options;
    options.host = "hv1";
    ovsdb::agent a(options, std::ref(sink));
    replica rows;
    std::string text;
    for (const std::string& t : pieces.texts) {
        json m = json::parse(t, nullptr, false);
        if (m.is_discarded() || !m.is_object()) continue;
        // The replica takes the same message first: it is compared with the agent after it.
        if (const json* updates = table_updates(m)) rows.apply(*updates);
        const std::uint64_t applied_before = a.counters().applied;
        const std::string text_before = text;
        const std::map<std::string, std::string> applied_lines_before = a.applied();
        a.take(m);
        check_after_message(a, sink, rows, applied_before, text_before, applied_lines_before, text);
    }
    return 0;
}
