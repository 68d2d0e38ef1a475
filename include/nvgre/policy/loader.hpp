/// @file policy/loader.hpp
/// @brief The policy text format (docs/policy-format.md) on top of policy::builder: one object per
/// line, `kind key=value ...`, `#` comments; every error as `FILE:LINE:COL: error: TEXT`.
///
/// The whole text is read, then validated, so objects may refer to objects on later lines. All
/// errors are reported, sorted by line then column (1-based; columns count bytes, a tab is one
/// column). Any input, however malformed (NUL bytes, CR/LF, non-ASCII, very long lines), yields
/// a model or diagnostics: never a crash, a hang or a read outside the text.
///
/// Control plane: allocates; never throws by itself.
#pragma once

#include "nvgre/ip_address.hpp"
#include "nvgre/mac_address.hpp"
#include "nvgre/policy/builder.hpp"
#include "nvgre/policy/model.hpp"
#include "nvgre/rdid.hpp"
#include "nvgre/vsid.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace nvgre::policy {

/// One error of a policy text.
struct load_diagnostic {
    std::string file;
    std::size_t line{0};    ///< 1-based; 0 for an error about the whole file (unreadable)
    std::size_t column{0};  ///< 1-based byte column; 0 when line is 0
    std::string message;

    /// `FILE:LINE:COL: error: TEXT`, or `FILE: error: TEXT` when line is 0.
    [[nodiscard]] std::string to_string() const {
        if (line == 0) return file + ": error: " + message;
        return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": error: " + message;
    }
    friend bool operator==(const load_diagnostic&, const load_diagnostic&) = default;
};

/// A validated model, or every error of the text.
struct load_result {
    std::optional<model> validated;            ///< set if and only if `diagnostics` is empty
    std::vector<load_diagnostic> diagnostics;  ///< sorted by line, then column
    [[nodiscard]] explicit operator bool() const noexcept { return validated.has_value(); }
    /// Every diagnostic's to_string(), one per element.
    [[nodiscard]] std::vector<std::string> error_lines() const {
        std::vector<std::string> out;
        out.reserve(diagnostics.size());
        for (const auto& d : diagnostics) out.push_back(d.to_string());
        return out;
    }
};

namespace detail::text_format {

enum class value_type : std::uint8_t {
    name, ip, prefix, mac, guid, vsid, prefix_length, vlan, metric, gateway, rule, type,
    on_off, rate, bytes, dscp, dns, seconds,
};

struct key_spec {
    std::string_view name;
    value_type type;
    bool required;
    /// Used by the cross-object checks: when it is broken the object is not handed to the
    /// builder (a broken non-essential value gets its default, the error is already reported).
    bool essential;
};

struct kind_spec {
    std::string_view name;
    object_kind kind;
    std::span<const key_spec> keys;
};

inline constexpr std::size_t max_keys = 8;

inline constexpr key_spec provider_address_keys[] = {
    {"host", value_type::name, true, true},         {"pa", value_type::ip, true, true},
    {"prefix-length", value_type::prefix_length, true, false}, {"mac", value_type::mac, true, false},
    {"vlan", value_type::vlan, false, false},
};
inline constexpr key_spec provider_route_keys[] = {
    {"host", value_type::name, true, true},      {"prefix", value_type::prefix, true, true},
    {"next-hop", value_type::ip, true, false},   {"next-hop-mac", value_type::mac, true, false},
    {"metric", value_type::metric, false, true},
};
inline constexpr key_spec routing_domain_keys[] = {
    {"rdid", value_type::guid, true, true},
    {"name", value_type::name, false, false},
    {"router-mac", value_type::mac, false, false},
};
inline constexpr key_spec virtual_subnet_keys[] = {
    {"vsid", value_type::vsid, true, true},
    {"rdid", value_type::guid, true, true},
    {"gateway", value_type::gateway, false, false},
    {"dhcp", value_type::on_off, false, false},
    {"dns", value_type::dns, false, false},
    {"lease-seconds", value_type::seconds, false, false},
};
inline constexpr key_spec customer_route_keys[] = {
    {"rdid", value_type::guid, true, true},     {"vsid", value_type::vsid, true, true},
    {"prefix", value_type::prefix, true, true}, {"next-hop", value_type::ip, true, false},
    {"metric", value_type::metric, false, true},
};
inline constexpr key_spec lookup_record_keys[] = {
    {"vsid", value_type::vsid, true, true}, {"ca", value_type::ip, true, true},
    {"mac", value_type::mac, true, true},   {"pa", value_type::ip, true, true},
    {"rule", value_type::rule, false, true}, {"type", value_type::type, false, true},
    {"vm", value_type::name, false, false},  {"classification", value_type::name, false, false},
};
inline constexpr key_spec port_classification_keys[] = {
    {"name", value_type::name, true, true},
    {"allow-mac-spoofing", value_type::on_off, false, false},
    {"dhcp-guard", value_type::on_off, false, false},
    {"router-guard", value_type::on_off, false, false},
    {"maximum-bandwidth", value_type::rate, false, false},
    {"maximum-burst", value_type::bytes, false, false},
    {"outer-dscp", value_type::dscp, false, false},
};

/// The keys that name an object of `kind` (docs/policy-lifecycle.md): a `- ` line of a change set
/// needs them and no others. (A lookup record's mac is one too when its ca is 0.0.0.0 / ::;
/// a route's metric is, with its default when absent.)
constexpr bool is_identity_key(object_kind kind, std::string_view key) noexcept {
    switch (kind) {
        case object_kind::provider_address: return key == "host" || key == "pa";
        case object_kind::provider_route: return key == "host" || key == "prefix" || key == "metric";
        case object_kind::routing_domain: return key == "rdid";
        case object_kind::virtual_subnet: return key == "vsid";
        case object_kind::customer_route: return key == "rdid" || key == "vsid" || key == "prefix" || key == "metric";
        case object_kind::lookup_record: return key == "vsid" || key == "ca" || key == "mac";
        case object_kind::port_classification: return key == "name";
    }
    return false;
}

inline constexpr kind_spec kinds[] = {
    {"provider-address", object_kind::provider_address, provider_address_keys},
    {"provider-route", object_kind::provider_route, provider_route_keys},
    {"routing-domain", object_kind::routing_domain, routing_domain_keys},
    {"virtual-subnet", object_kind::virtual_subnet, virtual_subnet_keys},
    {"customer-route", object_kind::customer_route, customer_route_keys},
    {"lookup-record", object_kind::lookup_record, lookup_record_keys},
    {"port-classification", object_kind::port_classification, port_classification_keys},
};

/// A parsed value; only the member of the key's type is meaningful.
struct value {
    std::string_view text;  // for NAME values (points into the text being loaded)
    ip_address ip{};
    ip_prefix prefix{};
    mac_address mac{};
    rdid guid{};
    std::optional<nvgre::vsid> vsid;
    std::uint32_t number{0};
    std::optional<ipv4_address> gateway_v4;
    std::optional<ipv6_address> gateway_v6;
    policy::rule rule{rule::encap};
    record_type type{record_type::static_record};
    bool on{false};                    // on_off
    std::uint64_t big{0};              // rate, bytes, seconds
    std::vector<ipv4_address> dns;     // dns
};

struct key_slot {
    bool present{false};
    bool ok{false};
    std::size_t key_column{0};
    std::size_t value_column{0};
    value v;
};

/// One object line as read: where its kind and keys are, and their values.
struct line_info {
    std::size_t line{0};
    std::size_t kind_column{0};
    const kind_spec* kind{nullptr};
    change_op op{change_op::add};  ///< change sets: what the line's `+ ` / `- ` says
    std::array<key_slot, max_keys> slots{};

    [[nodiscard]] std::optional<std::size_t> key_index(std::string_view key) const noexcept {
        for (std::size_t i = 0; i < kind->keys.size(); ++i)
            if (kind->keys[i].name == key) return i;
        return std::nullopt;
    }
    /// Present and well-formed.
    [[nodiscard]] const value* get(std::string_view key) const noexcept {
        const auto i = key_index(key);
        return i && slots[*i].present && slots[*i].ok ? &slots[*i].v : nullptr;
    }
    /// Whether key `i` must be given: a removal needs only the identity keys (a lookup
    /// record's mac only for a wildcard, which the change set's applier checks).
    [[nodiscard]] bool required(std::size_t i) const noexcept {
        const key_spec& k = kind->keys[i];
        if (op == change_op::remove) return k.required && is_identity_key(kind->kind, k.name) && k.name != "mac";
        return k.required;
    }
    /// Essential keys all usable: present (or optional and absent) and well-formed. For a
    /// removal, the identity keys.
    [[nodiscard]] bool essentials_ok() const noexcept {
        for (std::size_t i = 0; i < kind->keys.size(); ++i) {
            const key_spec& k = kind->keys[i];
            if (op == change_op::remove ? !is_identity_key(kind->kind, k.name) : !k.essential) continue;
            if (slots[i].present ? !slots[i].ok : required(i)) return false;
        }
        return true;
    }
};

/// Blanks between tokens. A CR counts as one, so CRLF line ends need nothing special.
constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/// Decimal without sign; no leading zeros except "0". nullopt when malformed or above `max`.
constexpr std::optional<std::uint64_t> parse_decimal(std::string_view s, std::uint64_t max) noexcept {
    if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    std::uint64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
        if (v > max) return std::nullopt;
    }
    return v;
}

constexpr bool all_digits(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (const char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

/// One line of a change set as read: its object (a removal: the identity keys, the other
/// fields at their defaults) and where its keys are.
struct change_line {
    object value;
    line_info where;
};

class loader {
public:
    /// `change_set`: every object line starts with `+ ` or `- ` and becomes a change_line
    /// (changes()), nothing is validated across lines; otherwise a policy (run()).
    loader(std::string_view text, std::string_view file, bool change_set = false)
        : text_(text), file_(file), change_set_(change_set) {}

    load_result run() {
        read_all();
        build_result built = builder_.build();
        for (const diagnostic& d : built.diagnostics) add_builder_diagnostic(d);

        load_result out;
        std::stable_sort(diags_.begin(), diags_.end(), [](const load_diagnostic& a, const load_diagnostic& b) {
            return a.line != b.line ? a.line < b.line : a.column < b.column;
        });
        out.diagnostics = std::move(diags_);
        if (out.diagnostics.empty()) out.validated = std::move(built.validated);
        return out;
    }

    /// Change sets: reads every line; the diagnostics of the text itself (sorted by line, then
    /// column) and the lines that can be applied.
    std::vector<load_diagnostic> read_changes(std::vector<change_line>& out) {
        read_all();
        out = std::move(changes_);
        std::stable_sort(diags_.begin(), diags_.end(), [](const load_diagnostic& a, const load_diagnostic& b) {
            return a.line != b.line ? a.line < b.line : a.column < b.column;
        });
        return std::move(diags_);
    }

private:
    void read_all() {
        std::size_t line_no = 0;
        std::size_t start = 0;
        while (start <= text_.size()) {
            const std::size_t nl = text_.find('\n', start);
            const std::size_t end = nl == std::string_view::npos ? text_.size() : nl;
            ++line_no;
            read_line(text_.substr(start, end - start), line_no);
            if (nl == std::string_view::npos) break;
            start = nl + 1;
        }
    }

    void error(std::size_t line, std::size_t column, std::string message) {
        diags_.push_back(load_diagnostic{std::string(file_), line, column, std::move(message)});
    }

    void read_line(std::string_view line, std::size_t line_no) {
        if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);

        // A change set's object lines start with `+ ` or `- ` (after any blanks).
        std::size_t from = 0;
        change_op op = change_op::add;
        if (change_set_) {
            while (from < line.size() && is_blank(line[from])) ++from;
            if (from == line.size()) return;
            if ((line[from] != '+' && line[from] != '-') || from + 1 >= line.size() || !is_blank(line[from + 1])) {
                std::size_t end = from;
                while (end < line.size() && !is_blank(line[end])) ++end;
                error(line_no, from + 1,
                      "a change set line starts with '+ ' (add or replace) or '- ' (remove), not " +
                          detail::quoted(line.substr(from, end - from)));
                return;
            }
            op = line[from] == '+' ? change_op::add : change_op::remove;
            from += 2;
        }

        // Tokens: maximal runs of non-blanks, with their 1-based columns.
        std::vector<std::pair<std::size_t, std::string_view>> tokens;
        for (std::size_t i = from; i < line.size();) {
            if (is_blank(line[i])) {
                ++i;
                continue;
            }
            const std::size_t b = i;
            while (i < line.size() && !is_blank(line[i])) ++i;
            tokens.emplace_back(b + 1, line.substr(b, i - b));
        }
        if (tokens.empty()) {
            if (change_set_) error(line_no, from - 1, "'+' or '-' without an object");
            return;
        }

        const kind_spec* kind = nullptr;
        for (const kind_spec& k : kinds)
            if (k.name == tokens[0].second) kind = &k;
        if (kind == nullptr) {
            error(line_no, tokens[0].first, "unknown object kind " + detail::quoted(tokens[0].second));
            return;
        }

        line_info info;
        info.line = line_no;
        info.kind_column = tokens[0].first;
        info.kind = kind;
        info.op = op;
        for (std::size_t t = 1; t < tokens.size(); ++t) {
            const auto [column, token] = tokens[t];
            const std::size_t eq = token.find('=');
            if (eq == std::string_view::npos || eq == 0) {
                error(line_no, column, "expected key=value, found " + detail::quoted(token));
                continue;
            }
            const std::string_view key = token.substr(0, eq);
            const std::string_view text = token.substr(eq + 1);
            const auto index = info.key_index(key);
            if (!index) {
                error(line_no, column,
                      "unknown key " + detail::quoted(key) + " for " + std::string(kind->name));
                continue;
            }
            key_slot& slot = info.slots[*index];
            if (slot.present) {
                error(line_no, column, "key " + detail::quoted(key) + " given twice");
                continue;
            }
            slot.present = true;
            slot.key_column = column;
            slot.value_column = column + eq + 1;
            slot.ok = parse_value(kind->keys[*index], text, slot, line_no);
        }
        for (std::size_t i = 0; i < kind->keys.size(); ++i) {
            if (info.required(i) && !info.slots[i].present) {
                error(line_no, info.kind_column,
                      "missing required key " + detail::quoted(kind->keys[i].name) + " for " +
                          (op == change_op::remove ? "removing a " : "") + std::string(kind->name));
            }
        }
        if (change_set_) {
            if (info.essentials_ok()) changes_.push_back(change_line{make_object(info), info});
            return;
        }
        add_object(info);
    }

    /// Parses `text` as the value of `key` into `slot`; reports and returns false when malformed.
    bool parse_value(const key_spec& key, std::string_view text, key_slot& slot, std::size_t line_no) {
        const std::size_t col = slot.value_column;
        value& v = slot.v;
        const auto malformed = [&](std::string_view what) {
            if (text.empty()) error(line_no, col, "missing value for " + std::string(key.name));
            else error(line_no, col, "malformed " + std::string(what) + " " + detail::quoted(text) + " for " + std::string(key.name));
            return false;
        };
        switch (key.type) {
            case value_type::name:
                if (!is_valid_name(text)) {
                    if (text.empty()) return malformed("name");
                    error(line_no, col, detail::bad_name_message(key.name, text));
                    return false;
                }
                v.text = text;
                return true;
            case value_type::ip: {
                const auto a = ip_address::parse(text);
                if (!a) return malformed("IP address");
                v.ip = *a;
                return true;
            }
            case value_type::prefix: return parse_prefix(key, text, slot, line_no);
            case value_type::mac: {
                const auto m = mac_address::parse(text);
                if (!m) return malformed("MAC address");
                v.mac = *m;
                return true;
            }
            case value_type::guid: {
                const auto g = rdid::parse(text);
                if (!g) return malformed("GUID");
                v.guid = *g;
                return true;
            }
            case value_type::vsid: {
                if (all_digits(text) && (text.size() == 1 || text[0] != '0')) {
                    const auto n = parse_decimal(text, vsid::max_tenant);
                    if (!n || !vsid::is_tenant(static_cast<std::uint32_t>(*n))) {
                        error(line_no, col,
                              "VSID " + std::string(text.substr(0, 64)) + (text.size() > 64 ? "..." : "") +
                                  " is outside " + std::to_string(vsid::min_tenant) + "-" +
                                  std::to_string(vsid::max_tenant));
                        return false;
                    }
                    v.vsid = vsid::make(static_cast<std::uint32_t>(*n)).value();
                    return true;
                }
                return malformed("VSID");
            }
            case value_type::prefix_length: {
                if (all_digits(text) && (text.size() == 1 || text[0] != '0')) {
                    const auto n = parse_decimal(text, 128);
                    if (!n) {
                        error(line_no, col,
                              "prefix-length " + std::string(text.substr(0, 64)) + (text.size() > 64 ? "..." : "") +
                                  " is too long (at most 128)");
                        return false;
                    }
                    v.number = static_cast<std::uint32_t>(*n);
                    return true;
                }
                return malformed("number");
            }
            case value_type::vlan: {
                if (all_digits(text) && (text.size() == 1 || text[0] != '0')) {
                    const auto n = parse_decimal(text, max_vlan);
                    if (!n) {
                        const auto big = parse_decimal(text, 0xffffffffffffull);
                        if (big) error(line_no, col, detail::vlan_range_message(*big));
                        else error(line_no, col, "vlan " + std::string(text.substr(0, 64)) + (text.size() > 64 ? "..." : "") +
                                                     " is outside 0.." + std::to_string(max_vlan));
                        return false;
                    }
                    v.number = static_cast<std::uint32_t>(*n);
                    return true;
                }
                return malformed("number");
            }
            case value_type::metric: {
                const auto n = parse_decimal(text, 0xffffffffu);
                if (!n) {
                    if (text.empty()) return malformed("number");
                    error(line_no, col, "malformed number " + detail::quoted(text) + " for metric (0..4294967295)");
                    return false;
                }
                v.number = static_cast<std::uint32_t>(*n);
                return true;
            }
            case value_type::gateway: return parse_gateway(text, slot, line_no);
            case value_type::rule:
                if (text == "encap") v.rule = rule::encap;
                else if (text == "nat") v.rule = rule::nat;
                else {
                    if (text.empty()) return malformed("rule");
                    error(line_no, col, "rule must be encap or nat, not " + detail::quoted(text));
                    return false;
                }
                return true;
            case value_type::on_off:
                if (text == "on") v.on = true;
                else if (text == "off") v.on = false;
                else {
                    if (text.empty()) return malformed("value");
                    error(line_no, col, std::string(key.name) + " must be on or off, not " + detail::quoted(text));
                    return false;
                }
                return true;
            case value_type::rate: {
                // bit/s with an optional K, M or G (powers of 1000); the range is the builder's.
                std::uint64_t unit = 1;
                std::string_view digits = text;
                if (!digits.empty()) {
                    const char last = digits.back();
                    unit = last == 'K' ? 1'000 : last == 'M' ? 1'000'000 : last == 'G' ? 1'000'000'000 : 1;
                    if (unit != 1) digits.remove_suffix(1);
                }
                const auto n = parse_decimal(digits, 0xffffffffffffull);
                if (!n || *n == 0) {
                    if (text.empty()) return malformed("rate");
                    error(line_no, col, "malformed rate " + detail::quoted(text) + " for " + std::string(key.name) +
                                            " (bit/s, e.g. 100M; K, M, G are powers of 1000)");
                    return false;
                }
                v.big = *n * unit;
                return true;
            }
            case value_type::bytes:
            case value_type::seconds: {
                const auto n = parse_decimal(text, 0xffffffffu);
                if (!n || *n == 0) {
                    if (text.empty()) return malformed("number");
                    error(line_no, col, "malformed number " + detail::quoted(text) + " for " + std::string(key.name) +
                                            " (1..4294967295)");
                    return false;
                }
                v.big = *n;
                return true;
            }
            case value_type::dscp: {
                const auto n = parse_decimal(text, 0xffff);
                if (!n || *n > 63) {
                    if (text.empty()) return malformed("number");
                    error(line_no, col, "outer-dscp " + detail::quoted(text) + " is not a DSCP (0..63)");
                    return false;
                }
                v.number = static_cast<std::uint32_t>(*n);
                return true;
            }
            case value_type::dns: return parse_dns(text, slot, line_no);
            case value_type::type:
                if (text == "static") v.type = record_type::static_record;
                else if (text == "gateway-wildcard") v.type = record_type::gateway_wildcard;
                else {
                    if (text.empty()) return malformed("type");
                    error(line_no, col, "type must be static or gateway-wildcard, not " + detail::quoted(text));
                    return false;
                }
                return true;
        }
        return false;
    }

    bool parse_prefix(const key_spec& key, std::string_view text, key_slot& slot, std::size_t line_no) {
        const std::size_t col = slot.value_column;
        if (text.empty()) {
            error(line_no, col, "missing value for " + std::string(key.name));
            return false;
        }
        const auto bad = [&] {
            error(line_no, col, "malformed prefix " + detail::quoted(text) + " for " + std::string(key.name) + " (IP/length)");
            return false;
        };
        const std::size_t slash = text.find('/');
        if (slash == std::string_view::npos) return bad();
        const auto address = ip_address::parse(text.substr(0, slash));
        const std::string_view len_text = text.substr(slash + 1);
        if (!address || !all_digits(len_text) || (len_text.size() > 1 && len_text[0] == '0')) return bad();
        const unsigned max = address->is_v4() ? 32u : 128u;
        const auto len = parse_decimal(len_text, max);
        if (!len) {
            error(line_no, col,
                  "prefix length " + std::string(len_text.substr(0, 64)) + (len_text.size() > 64 ? "..." : "") +
                      " is too long for " + std::string(detail::version_name(*address)) + " (at most " +
                      std::to_string(max) + ")");
            return false;
        }
        const auto p = ip_prefix::make(*address, static_cast<unsigned>(*len));
        if (!p) {
            const ip_prefix fixed = ip_prefix::containing(*address, static_cast<unsigned>(*len)).value();
            error(line_no, col,
                  "host bits set in prefix " + std::string(text) + " (the prefix is " + fixed.to_string() + ")");
            return false;
        }
        slot.v.prefix = *p;
        return true;
    }

    /// `dns=IP[,IP...]`: IPv4 addresses (a DHCPv4 answer carries them), at most max_dns_servers.
    bool parse_dns(std::string_view text, key_slot& slot, std::size_t line_no) {
        const std::size_t col = slot.value_column;
        if (text.empty()) {
            error(line_no, col, "missing value for dns");
            return false;
        }
        std::size_t start = 0;
        while (true) {
            const std::size_t comma = text.find(',', start);
            const std::string_view part = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
            const auto a = ip_address::parse(part);
            if (!a || !a->is_v4()) {
                error(line_no, col, (a ? "dns lists IPv4 addresses (DHCPv4 hands them out), not " : "malformed IP address ") +
                                        detail::quoted(part) + (a ? "" : " in dns"));
                return false;
            }
            if (slot.v.dns.size() == max_dns_servers) {
                error(line_no, col, "dns lists more than " + std::to_string(max_dns_servers) + " servers");
                return false;
            }
            slot.v.dns.push_back(a->v4());
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
        return true;
    }

    bool parse_gateway(std::string_view text, key_slot& slot, std::size_t line_no) {
        const std::size_t col = slot.value_column;
        if (text.empty()) {
            error(line_no, col, "missing value for gateway");
            return false;
        }
        std::size_t parts = 0;
        std::size_t start = 0;
        while (true) {
            const std::size_t comma = text.find(',', start);
            const std::string_view part = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
            if (++parts > 2) {
                error(line_no, col, "gateway lists more than two addresses (at most one IPv4 and one IPv6)");
                return false;
            }
            const auto a = ip_address::parse(part);
            if (!a) {
                error(line_no, col, "malformed IP address " + detail::quoted(part) + " in gateway");
                return false;
            }
            if (a->is_v4() ? slot.v.gateway_v4.has_value() : slot.v.gateway_v6.has_value()) {
                error(line_no, col,
                      "gateway lists two " + std::string(detail::version_name(*a)) +
                          " addresses (at most one IPv4 and one IPv6)");
                return false;
            }
            if (a->is_v4()) slot.v.gateway_v4 = a->v4();
            else slot.v.gateway_v6 = a->v6();
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
        return true;
    }

    /// Hands the object of a line to the builder when every essential value is usable; otherwise
    /// tells the builder which ids the line declared, so that references to them stay quiet.
    void add_object(const line_info& info) {
        if (!info.essentials_ok()) {
            if (info.kind->kind == object_kind::routing_domain) {
                if (const value* v = info.get("rdid")) builder_.assume_declared(v->guid);
            } else if (info.kind->kind == object_kind::virtual_subnet) {
                if (const value* v = info.get("vsid")) builder_.assume_declared(*v->vsid);
            } else if (info.kind->kind == object_kind::provider_address) {
                if (const value* v = info.get("pa")) builder_.assume_declared(v->ip);
            }
            return;
        }
        lines_.emplace(info.line, info);
        object o = make_object(info);
        std::visit([&](auto& v) { builder_.add(std::move(v), info.line); }, o);
    }

    /// The object a line describes; keys that are absent or malformed get their defaults (the
    /// callers hand it on only when its essential keys are usable).
    static object make_object(const line_info& info) {
        const auto get = [&](std::string_view key) { return info.get(key); };
        const auto ip_or_zero = [&](std::string_view key, bool v6) {
            if (const value* v = get(key)) return v->ip;
            return v6 ? ip_address{ipv6_address{}} : ip_address{ipv4_address{}};
        };
        const auto vsid_of = [&]() {
            const value* v = get("vsid");
            return v != nullptr && v->vsid ? *v->vsid : vsid::make(vsid::min_tenant).value();
        };
        const auto guid_of = [&]() {
            const value* v = get("rdid");
            return v != nullptr ? v->guid : rdid{};
        };
        const auto prefix_of = [&]() {
            const value* v = get("prefix");
            return v != nullptr ? v->prefix : ip_prefix{};
        };
        switch (info.kind->kind) {
            case object_kind::provider_address: {
                provider_address o;
                if (const value* v = get("host")) o.host = std::string(v->text);
                o.pa = ip_or_zero("pa", false);
                if (const value* v = get("prefix-length")) o.prefix_length = static_cast<std::uint8_t>(v->number);
                if (const value* v = get("mac")) o.mac = v->mac;
                if (const value* v = get("vlan")) o.vlan = static_cast<std::uint16_t>(v->number);
                return o;
            }
            case object_kind::provider_route: {
                provider_route o;
                if (const value* v = get("host")) o.host = std::string(v->text);
                o.prefix = prefix_of();
                o.next_hop = ip_or_zero("next-hop", o.prefix.address().is_v6());
                if (const value* v = get("next-hop-mac")) o.next_hop_mac = v->mac;
                o.metric = default_customer_route_metric;
                if (const value* v = get("metric")) o.metric = v->number;
                return o;
            }
            case object_kind::routing_domain: {
                routing_domain o;
                o.id = guid_of();
                if (const value* v = get("name")) o.name = std::string(v->text);
                if (const value* v = get("router-mac")) o.router_mac = v->mac;
                return o;
            }
            case object_kind::virtual_subnet: {
                virtual_subnet o{vsid_of(), guid_of(), std::nullopt, std::nullopt};
                if (const value* v = get("gateway")) {
                    o.gateway_v4 = v->gateway_v4;
                    o.gateway_v6 = v->gateway_v6;
                }
                if (const value* v = get("dhcp")) o.dhcp = v->on;
                if (const value* v = get("dns")) o.dns = v->dns;
                if (const value* v = get("lease-seconds")) o.lease_seconds = static_cast<std::uint32_t>(v->big);
                return o;
            }
            case object_kind::customer_route: {
                const ip_prefix prefix = prefix_of();
                customer_route o{guid_of(), vsid_of(), prefix, ip_or_zero("next-hop", prefix.address().is_v6()),
                                 default_customer_route_metric};
                if (const value* v = get("metric")) o.metric = v->number;
                return o;
            }
            case object_kind::port_classification: {
                port_classification o;
                if (const value* v = get("name")) o.name = std::string(v->text);
                if (const value* v = get("allow-mac-spoofing")) o.allow_mac_spoofing = v->on;
                if (const value* v = get("dhcp-guard")) o.dhcp_guard = v->on;
                if (const value* v = get("router-guard")) o.router_guard = v->on;
                if (const value* v = get("maximum-bandwidth")) o.maximum_bandwidth = v->big;
                if (const value* v = get("maximum-burst")) o.maximum_burst = v->big;
                if (const value* v = get("outer-dscp")) o.outer_dscp = static_cast<std::uint8_t>(v->number);
                return o;
            }
            case object_kind::lookup_record: break;
        }
        lookup_record o{vsid_of(), ip_or_zero("ca", false), {}, ip_or_zero("pa", false), rule::encap,
                        record_type::static_record, {}, {}};
        if (const value* v = get("mac")) o.mac = v->mac;
        if (const value* v = get("rule")) o.rule = v->rule;
        if (const value* v = get("type")) o.type = v->type;
        if (const value* v = get("vm")) o.vm = std::string(v->text);
        if (const value* v = get("classification")) o.classification = std::string(v->text);
        return o;
    }

    /// Places a builder diagnostic on its line: at the key of a conflict or reference, at the
    /// value of a bad value, at the kind when the key is not on the line (a default value).
    void add_builder_diagnostic(const diagnostic& d) {
        const auto it = lines_.find(d.object.tag);
        if (it == lines_.end()) {  // not an object of this text: cannot happen, but never lose an error
            error(d.object.tag, 1, d.message);
            return;
        }
        const line_info& info = it->second;
        std::size_t column = info.kind_column;
        if (const auto i = info.key_index(d.field); i && info.slots[*i].present)
            column = d.cross_object ? info.slots[*i].key_column : info.slots[*i].value_column;
        std::string message = d.message;
        if (d.related) message += " (see line " + std::to_string(d.related->tag) + ")";
        error(info.line, column, std::move(message));
    }

    std::string_view text_;
    std::string_view file_;
    bool change_set_{false};
    std::vector<change_line> changes_;
    builder builder_;
    std::map<std::size_t, line_info> lines_;  ///< by line number = builder tag
    std::vector<load_diagnostic> diags_;
};

}  // namespace detail::text_format

/// Reads and validates a policy text (docs/policy-format.md). `file_name` is only used in the
/// diagnostics. O(n log n) in the size of the text.
[[nodiscard]] inline load_result load_policy_text(std::string_view text, std::string_view file_name) {
    return detail::text_format::loader(text, file_name).run();
}

/// The bytes of the file at `path` (any readable path: a pipe, /dev/stdin); nullopt when it
/// cannot be read, with `error` set to `PATH: error: cannot read: REASON`.
[[nodiscard]] inline std::optional<std::string> read_text_file(std::string_view path, load_diagnostic& error) {
    const std::string p(path);
    const auto fail = [&](int err) {
        error = load_diagnostic{p, 0, 0, std::string("cannot read: ") + std::strerror(err)};
        return std::nullopt;
    };
    errno = 0;
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (f == nullptr) return fail(errno != 0 ? errno : EIO);
    std::string text;
    std::array<char, 65536> buf{};
    while (true) {
        const std::size_t n = std::fread(buf.data(), 1, buf.size(), f);
        text.append(buf.data(), n);
        if (n < buf.size()) break;
    }
    const int err = std::ferror(f) != 0 ? (errno != 0 ? errno : EIO) : 0;
    std::fclose(f);
    if (err != 0) return fail(err);
    return text;
}

/// Reads the file at `path` and validates it; an unreadable file gives one diagnostic
/// (`PATH: error: cannot read: <reason>`).
[[nodiscard]] inline load_result load_policy_file(std::string_view path) {
    load_result r;
    load_diagnostic error;
    const std::optional<std::string> text = read_text_file(path, error);
    if (!text) {
        r.diagnostics.push_back(std::move(error));
        return r;
    }
    return load_policy_text(*text, path);
}

}  // namespace nvgre::policy
