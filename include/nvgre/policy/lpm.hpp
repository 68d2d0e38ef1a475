/// @file policy/lpm.hpp
/// @brief Longest-prefix match over IPv4 and IPv6 prefixes (a routing domain's customer
/// routes, a host's provider routes): `lpm_table<Value>`.
///
/// ## Design
/// Each address family has its own structure, chosen by how many prefixes it holds:
/// - **small** (at most `small_max` = 32 prefixes): a vector of (network, mask, slot) sorted by
///   length, longest first; a lookup is a linear scan that stops at the first match. A domain
///   with 3 prefixes costs a few hundred bytes.
/// - **trie** (above that): a leaf-pushed multibit trie (DIR-style, as DPDK's rte_lpm but with
///   blocks allocated on demand) with an 8-bit root (1 KiB) up to `wide_root_min` = 2048
///   prefixes and a 16-bit root (256 KiB) from there on, then 8-bit strides: each block is 256
///   entries of 32 bits, one per value of the next address octet. An entry is either 0 (no
///   route), a route (slot + 1), or a child block tagged with the octet level it consumes.
///   Children are **path compressed**: a block created for a long prefix hangs directly at the
///   prefix's last octet, and the octets it skips are checked against the block's key; on a
///   mismatch the answer is the block's `fallback` (the route its parent entry stood for). So
///   an isolated /128 costs one block, not fourteen, and the number of blocks is at most about
///   twice the number of prefixes longer than the root. IPv4: root 16 → at most 3 dependent
///   loads; IPv6: at most 15, in practice 3-6 (tenant prefixes share their upper octets).
/// Values live in one slot array shared by both families (a lookup returns a pointer into it);
/// an open-addressing index maps each prefix to its slot, for exact(), updates and erase.
///
/// ## Complexity
/// - lookup: small: O(n ≤ 32) compares; trie: O(W/8) loads (W = 32 or 128), no allocation.
/// - insert_or_assign: O(1) expected index work + O(entries under the prefix's span): a /24 in
///   IPv4 touches one entry; a short prefix walks every block below its span to re-push
///   itself (a /0 touches the whole trie). Crossing a size threshold (32, 2048 per family, and
///   back at 16, 1024) rebuilds that family once from the index: O(n) amortised over the
///   ≥ n/2 updates in between.
/// - erase: O(W) index probes (to find the covering route that takes its place) + O(entries
///   under the span) + O(256 · depth) to free blocks that became redundant.
/// - exact, size: O(1) expected.
///
/// ## Memory (measured by bench/lpm.bench.cpp, `bytes_per_prefix`)
/// Per prefix: 4 index bytes (at ≤ 3/4 load) + sizeof(Value) + sizeof(ip_prefix) (18) in the
/// slot arrays; small families add 16 (IPv4) / 40 (IPv6) bytes per prefix; trie families add
/// the root (1 KiB or 256 KiB) and 1,048 bytes per block. Clustered tables need far fewer
/// blocks than prefixes; the worst case (every prefix in its own block, plus one split block)
/// is about 2 KiB per prefix longer than the root. Measured on the bench's clustered sets
/// (everything included): IPv4 ~300 B/prefix at 1K and ~390 B at 100K; IPv6 ~2.2 KiB at 1K,
/// ~1.4 KiB at 100K (mostly 1 KiB blocks that hold a few distinct entries).
///
/// ## Threading and guarantees
/// Single-threaded: concurrency is the caller's (policy/left_right.hpp keeps a copy per side).
/// lookup, exact, size, memory_bytes are noexcept and never allocate. insert_or_assign and
/// erase may throw std::bad_alloc (the library's -fno-exceptions builds abort instead); they
/// reserve everything first, so on a throw the table is unchanged.
#pragma once

#include "nvgre/ip_address.hpp"
#include "nvgre/policy/memory.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace nvgre::policy {

namespace detail {

// A trie entry: 0 = no route; bit 31 clear = route (slot + 1); bit 31 set = child block, with
// the octet level it consumes in bits 27-30 and the block number in bits 0-26.
inline constexpr std::uint32_t lpm_child = 0x8000'0000u;
inline constexpr unsigned lpm_level_shift = 27;
inline constexpr std::uint32_t lpm_block_mask = (std::uint32_t{1} << lpm_level_shift) - 1;
inline constexpr std::size_t lpm_block_entries = 256;

/// Big-endian word of octets [first, first + sizeof(Word)).
template <class Word>
[[nodiscard]] constexpr Word lpm_load_be(const std::uint8_t* o) noexcept {
    Word w = 0;
    for (std::size_t i = 0; i < sizeof(Word); ++i) w = static_cast<Word>((w << 8) | o[i]);
    return w;
}

/// One address family's structure (Bytes = 4: IPv4, 16: IPv6). It stores slot numbers only;
/// the owning lpm_table keeps prefixes and values. `pfx` arguments are the table's
/// slot-indexed prefix array, used for the lengths of the routes already stored.
template <std::size_t Bytes>
class lpm_family {
    static_assert(Bytes == 4 || Bytes == 16);

public:
    static constexpr unsigned max_len = Bytes * 8;
    static constexpr std::size_t small_max = 32;       ///< small form up to this many prefixes
    static constexpr std::size_t small_min = 16;       ///< a trie shrinks back below this
    static constexpr std::size_t wide_root_min = 2048; ///< 16-bit root from this many prefixes
    static constexpr std::size_t wide_root_keep = 1024;///< ... and back to 8 bits below this

    using octets_t = std::array<std::uint8_t, Bytes>;

    /// The structure (0 = small, 8 or 16 = trie root stride) for `n` prefixes when the current
    /// one is `bits`: thresholds with hysteresis so that an insert/erase pair never rebuilds.
    [[nodiscard]] static constexpr unsigned bits_for(std::size_t n, unsigned bits) noexcept {
        if (bits == 0) return n <= small_max ? 0 : (n < wide_root_min ? 8 : 16);
        if (n < small_min) return 0;
        if (bits == 8) return n >= wide_root_min ? 16 : 8;
        return n < wide_root_keep ? 8 : 16;
    }

    [[nodiscard]] unsigned root_bits() const noexcept { return root_bits_; }
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    [[nodiscard]] std::size_t block_count() const noexcept { return meta_.size() - free_blocks_.size(); }

    /// Longest match for the address `o` (Bytes octets): slot + 1, or 0.
    [[nodiscard]] std::uint32_t find(const std::uint8_t* o) const noexcept {
        return root_bits_ == 0 ? find_small(o) : find_trie(o);
    }

    /// find() for n ≤ 32 addresses at once, walking them level by level so that their
    /// independent loads overlap. `Addr` has octets().
    template <class Addr>
    void find_batch(const Addr* a, std::size_t n, std::uint32_t* out) const noexcept {
        if (root_bits_ == 0) {
            for (std::size_t k = 0; k < n; ++k) out[k] = find_small(a[k].octets().data());
            return;
        }
        std::array<std::uint8_t, 32> pos{};
        std::uint32_t pending = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const std::uint8_t* o = a[k].octets().data();
            out[k] = root_[root_index(o)];
            pos[k] = static_cast<std::uint8_t>(root_bits_ / 8);
            pending |= (out[k] >> 31) << k;
        }
        while (pending != 0) {
            std::uint32_t next = 0;
            for (std::uint32_t m = pending; m != 0; m &= m - 1) {
                const auto k = static_cast<std::size_t>(std::countr_zero(m));
                out[k] = step(a[k].octets().data(), out[k], pos[k]);
                next |= (out[k] >> 31) << k;
            }
            pending = next;
        }
    }

    /// Ensures the next trie_insert() cannot allocate (at most two new blocks).
    void reserve_insert() {
        if (root_bits_ == 0) {
            grow(small_, small_.size() + 1);
            return;
        }
        if (free_blocks_.size() >= 2) return;
        const std::size_t blocks = meta_.size() + 2;
        grow(meta_, blocks);
        grow(entries_, blocks * lpm_block_entries);
        grow(free_blocks_, meta_.capacity());  // so that freeing a block never allocates
    }

    /// Adds slot `slot` for prefix (o, len). Precondition: reserve_insert() since the last
    /// insert, the prefix is not present, and bits_for(size() + 1, root_bits()) == root_bits().
    void insert(const std::uint8_t* o, unsigned len, std::uint32_t slot, const ip_prefix* pfx) noexcept {
        ++count_;
        if (root_bits_ == 0) small_insert(o, len, slot);
        else trie_insert(o, len, slot + 1, pfx);
    }

    /// Removes slot `slot` of prefix (o, len); `replacement` = slot + 1 of the longest shorter
    /// prefix that covers it, or 0. Precondition: present, and no rebuild due.
    void erase(const std::uint8_t* o, unsigned len, std::uint32_t slot, std::uint32_t replacement) noexcept {
        --count_;
        if (root_bits_ == 0) small_erase(slot);
        else trie_erase(o, len, slot + 1, replacement);
    }

    /// A fresh structure of root stride `bits` (0 = small) holding `slots` (sorted by length,
    /// shortest first, so that each insert pushes over less).
    [[nodiscard]] static lpm_family build(unsigned bits, std::span<const std::uint32_t> slots, const ip_prefix* pfx) {
        lpm_family f;
        f.root_bits_ = bits;
        if (bits != 0) f.root_.assign(std::size_t{1} << bits, 0);
        for (const std::uint32_t s : slots) {
            f.reserve_insert();
            octets_t o{};
            const auto src = pfx[s].address().octets();
            // Element-wise with both bounds: GCC's -Warray-bounds cannot see that a family only
            // holds prefixes of its own address size.
            for (std::size_t i = 0; i < Bytes && i < src.size(); ++i) o[i] = src[i];
            f.insert(o.data(), pfx[s].length(), s, pfx);
        }
        return f;
    }

    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return small_.capacity() * sizeof(small_entry) + root_.capacity() * sizeof(std::uint32_t) +
               entries_.capacity() * sizeof(std::uint32_t) + meta_.capacity() * sizeof(block_meta) +
               free_blocks_.capacity() * sizeof(std::uint32_t);
    }

    void swap(lpm_family& o) noexcept {
        small_.swap(o.small_);
        root_.swap(o.root_);
        entries_.swap(o.entries_);
        meta_.swap(o.meta_);
        free_blocks_.swap(o.free_blocks_);
        std::swap(root_bits_, o.root_bits_);
        std::swap(count_, o.count_);
    }

private:
    // ---- small form -------------------------------------------------------------------
    using word = std::conditional_t<Bytes == 4, std::uint32_t, std::uint64_t>;
    static constexpr std::size_t words = Bytes / sizeof(word);
    static constexpr unsigned word_bits = sizeof(word) * 8;

    struct small_entry {
        std::array<word, words> net;
        std::array<word, words> mask;
        std::uint32_t slot;
        std::uint8_t len;
    };

    static std::array<word, words> load_words(const std::uint8_t* o) noexcept {
        std::array<word, words> w{};
        for (std::size_t i = 0; i < words; ++i) w[i] = lpm_load_be<word>(o + i * sizeof(word));
        return w;
    }

    [[nodiscard]] std::uint32_t find_small(const std::uint8_t* o) const noexcept {
        const auto a = load_words(o);
        for (const small_entry& e : small_) {
            bool hit = true;
            for (std::size_t i = 0; i < words; ++i) hit &= (a[i] & e.mask[i]) == e.net[i];
            if (hit) return e.slot + 1;
        }
        return 0;
    }

    void small_insert(const std::uint8_t* o, unsigned len, std::uint32_t slot) noexcept {
        small_entry e{load_words(o), {}, slot, static_cast<std::uint8_t>(len)};
        for (std::size_t i = 0; i < words; ++i) {
            const unsigned lo = static_cast<unsigned>(i) * word_bits;
            if (len >= lo + word_bits) e.mask[i] = ~word{0};
            else if (len > lo) e.mask[i] = static_cast<word>(~word{0} << (word_bits - (len - lo)));
        }
        const auto at = std::find_if(small_.begin(), small_.end(), [&](const small_entry& x) { return x.len < len; });
        small_.insert(at, e);  // capacity reserved: cannot throw
    }

    void small_erase(std::uint32_t slot) noexcept {
        const auto at = std::find_if(small_.begin(), small_.end(), [&](const small_entry& x) { return x.slot == slot; });
        if (at != small_.end()) small_.erase(at);
    }

    // ---- trie -------------------------------------------------------------------------
    struct block_meta {
        octets_t key;           ///< octets of every address under the block (those < its level)
        std::uint32_t fallback; ///< the entry for addresses that miss the skipped octets
    };

    [[nodiscard]] std::size_t root_index(const std::uint8_t* o) const noexcept {
        return root_bits_ == 16 ? (std::size_t{o[0]} << 8) | o[1] : std::size_t{o[0]};
    }
    static constexpr std::uint32_t child_entry(std::uint32_t block, std::size_t level) noexcept {
        return lpm_child | (static_cast<std::uint32_t>(level) << lpm_level_shift) | block;
    }
    static constexpr std::size_t level_of(std::uint32_t e) noexcept { return (e >> lpm_level_shift) & 0xf; }
    static constexpr std::uint32_t block_of(std::uint32_t e) noexcept { return e & lpm_block_mask; }
    std::uint32_t* block_ptr(std::uint32_t b) noexcept { return entries_.data() + std::size_t{b} * lpm_block_entries; }
    const std::uint32_t* block_ptr(std::uint32_t b) const noexcept {
        return entries_.data() + std::size_t{b} * lpm_block_entries;
    }

    // One level down from child entry `e`; `i` is the next octet to consume.
    [[nodiscard]] std::uint32_t step(const std::uint8_t* o, std::uint32_t e, std::uint8_t& i) const noexcept {
        const std::uint32_t b = block_of(e);
        const std::size_t level = level_of(e);
        if (level != i) {
            const block_meta& m = meta_[b];
            for (; i < level; ++i)
                if (o[i] != m.key[i]) return m.fallback;
        }
        return block_ptr(b)[o[i++]];
    }

    [[nodiscard]] std::uint32_t find_trie(const std::uint8_t* o) const noexcept {
        std::uint32_t e = root_[root_index(o)];
        std::uint8_t i = static_cast<std::uint8_t>(root_bits_ / 8);
        while (e & lpm_child) e = step(o, e, i);
        return e;
    }

    // Geometric growth, so that reserving "one more" repeatedly stays amortised O(1).
    template <class Vector>
    static void grow(Vector& v, std::size_t n) {
        if (v.capacity() < n) v.reserve(std::max(n, v.capacity() * 2));
    }

    std::uint32_t new_block(const octets_t& key, std::uint32_t fallback) noexcept {
        std::uint32_t b;
        if (!free_blocks_.empty()) {
            b = free_blocks_.back();
            free_blocks_.pop_back();
            meta_[b] = block_meta{key, fallback};
        } else {
            b = static_cast<std::uint32_t>(meta_.size());
            meta_.push_back(block_meta{key, fallback});           // reserved
            entries_.resize(entries_.size() + lpm_block_entries);  // reserved
        }
        std::fill_n(block_ptr(b), lpm_block_entries, fallback);
        return b;
    }

    bool less_specific(std::uint32_t leaf, unsigned len, const ip_prefix* pfx) const noexcept {
        return leaf == 0 || pfx[leaf - 1].length() < len;
    }

    // Inside the span of a new route: it replaces every less specific route, also below.
    void push_down(std::uint32_t& x, std::uint32_t leaf, unsigned len, const ip_prefix* pfx) noexcept {
        if (x & lpm_child) {
            const std::uint32_t b = block_of(x);
            if (less_specific(meta_[b].fallback, len, pfx)) meta_[b].fallback = leaf;
            std::uint32_t* e = block_ptr(b);
            for (std::size_t k = 0; k < lpm_block_entries; ++k) push_down(e[k], leaf, len, pfx);
        } else if (less_specific(x, len, pfx)) {
            x = leaf;
        }
    }

    // Inside the span of a removed route: its covering route takes its place.
    void pull_up(std::uint32_t& x, std::uint32_t leaf, std::uint32_t replacement) noexcept {
        if (x & lpm_child) {
            const std::uint32_t b = block_of(x);
            if (meta_[b].fallback == leaf) meta_[b].fallback = replacement;
            std::uint32_t* e = block_ptr(b);
            for (std::size_t k = 0; k < lpm_block_entries; ++k) pull_up(e[k], leaf, replacement);
        } else if (x == leaf) {
            x = replacement;
        }
    }

    void trie_insert(const std::uint8_t* p, unsigned len, std::uint32_t leaf, const ip_prefix* pfx) noexcept {
        octets_t key{};
        std::copy_n(p, Bytes, key.begin());
        std::uint32_t* table = root_.data();
        unsigned end = root_bits_;        // bits resolved once `table` is indexed
        std::size_t idx = root_index(p);  // p's entry in `table`
        while (len > end) {
            std::uint32_t& e = table[idx];
            std::size_t t = end / 8;  // the next octet level
            std::uint32_t b;
            if (!(e & lpm_child)) {
                // A new block straight at the prefix's last octet (path compression).
                t = (len - 1) / 8;
                b = new_block(key, e);
            } else {
                const std::uint32_t old = block_of(e);
                const std::size_t level = level_of(e);
                const octets_t& k = meta_[old].key;
                while (t < level && len > 8 * t + 8 && p[t] == k[t]) ++t;
                if (t < level) {
                    // p leaves the child's skipped octets at octet t: split there.
                    b = new_block(k, meta_[old].fallback);
                    block_ptr(b)[k[t]] = e;
                } else {
                    b = old;
                }
            }
            e = child_entry(b, t);
            table = block_ptr(b);
            end = static_cast<unsigned>(8 * t + 8);
            idx = p[t];
        }
        const std::size_t span = std::size_t{1} << (end - len);
        for (std::size_t k = idx; k < idx + span; ++k) push_down(table[k], leaf, len, pfx);
    }

    void trie_erase(const std::uint8_t* p, unsigned len, std::uint32_t leaf, std::uint32_t replacement) noexcept {
        std::array<std::uint32_t*, Bytes> path{};  // the entries that lead to p's table
        std::size_t depth = 0;
        std::uint32_t* table = root_.data();
        unsigned end = root_bits_;
        std::size_t idx = root_index(p);
        while (len > end) {
            std::uint32_t& e = table[idx];
            if (!(e & lpm_child)) return;  // not present (a broken precondition)
            path[depth++] = &e;
            const std::size_t t = level_of(e);
            table = block_ptr(block_of(e));
            end = static_cast<unsigned>(8 * t + 8);
            idx = p[t];
        }
        const std::size_t span = std::size_t{1} << (end - len);
        for (std::size_t k = idx; k < idx + span; ++k) pull_up(table[k], leaf, replacement);
        while (depth != 0) collapse(*path[--depth]);
    }

    // Replaces the child entry `e` by what its block now stands for, when that is simpler: a
    // route (every entry and the fallback equal) or its only child (the rest equal the
    // fallback and so does the child's own fallback).
    void collapse(std::uint32_t& e) noexcept {
        const std::uint32_t b = block_of(e);
        const std::uint32_t fb = meta_[b].fallback;
        const std::uint32_t* x = block_ptr(b);
        std::uint32_t only_child = 0;
        for (std::size_t k = 0; k < lpm_block_entries; ++k) {
            if (x[k] & lpm_child) {
                if (only_child != 0) return;
                only_child = x[k];
            } else if (x[k] != fb) {
                return;
            }
        }
        if (only_child != 0 && meta_[block_of(only_child)].fallback != fb) return;
        e = only_child != 0 ? only_child : fb;
        free_blocks_.push_back(b);  // capacity reserved
    }

    std::vector<small_entry> small_;
    // The per-lookup arrays through the memory hooks (huge pages where the embedder allows).
    std::vector<std::uint32_t, large_array_allocator<std::uint32_t>> root_;
    std::vector<std::uint32_t, large_array_allocator<std::uint32_t>> entries_;  ///< block b: [256 b, 256 b + 256)
    std::vector<block_meta> meta_;
    std::vector<std::uint32_t> free_blocks_;
    unsigned root_bits_{0};
    std::size_t count_{0};
};

}  // namespace detail

/// Longest-prefix match table: IPv4 and IPv6 prefixes side by side (they never match each
/// other; an IPv4-mapped IPv6 address is an IPv6 address). Design, complexity and memory: see
/// the file comment. Copyable (a left-right pair keeps two copies); single-threaded.
template <class Value>
    requires std::is_trivially_copyable_v<Value>
class lpm_table {
public:
    lpm_table() = default;

    /// Adds `prefix` → `value`, or replaces the value of `prefix`. Returns true if it was new.
    /// Cost: see the file comment; may allocate.
    bool insert_or_assign(const ip_prefix& prefix, const Value& value) {
        if (const std::uint32_t s = find_slot(prefix); s != npos) {
            assign(values_[s], value);
            return false;
        }
        if (prefix.version() == ip_version::v4) insert_new(v4_, prefix, value);
        else insert_new(v6_, prefix, value);
        return true;
    }

    /// Removes `prefix`. Returns true if it was there. Cost: see the file comment.
    bool erase(const ip_prefix& prefix) {
        const std::uint32_t s = find_slot(prefix);
        if (s == npos) return false;
        if (prefix.version() == ip_version::v4) erase_in(v4_, prefix, s);
        else erase_in(v6_, prefix, s);
        index_erase(s);
        free_slots_.push_back(s);  // capacity reserved by insert
        --size_;
        return true;
    }

    /// The value of the longest prefix that contains `a` (of a's version), or nullptr.
    /// Never allocates; IPv4 ≤ 3 dependent loads once the table is a trie.
    [[nodiscard]] const Value* lookup(const ipv4_address& a) const noexcept {
        return to_value(v4_.find(a.octets().data()));
    }
    [[nodiscard]] const Value* lookup(const ipv6_address& a) const noexcept {
        return to_value(v6_.find(a.octets().data()));
    }
    [[nodiscard]] const Value* lookup(const ip_address& a) const noexcept {
        return a.is_v4() ? to_value(v4_.find(a.octets().data())) : to_value(v6_.find(a.octets().data()));
    }

    /// lookup() of each address into `out`, interleaving the addresses' memory accesses.
    /// Precondition: out.size() >= in.size().
    void lookup_batch(std::span<const ipv4_address> in, std::span<const Value*> out) const noexcept {
        batch(v4_, in, out);
    }
    void lookup_batch(std::span<const ipv6_address> in, std::span<const Value*> out) const noexcept {
        batch(v6_, in, out);
    }

    /// The value stored for exactly `prefix` (no longest match), or nullptr. O(1) expected.
    [[nodiscard]] const Value* exact(const ip_prefix& prefix) const noexcept {
        const std::uint32_t s = find_slot(prefix);
        return s == npos ? nullptr : &values_[s];
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    /// Prefixes per family.
    [[nodiscard]] std::size_t size_v4() const noexcept { return v4_.size(); }
    [[nodiscard]] std::size_t size_v6() const noexcept { return v6_.size(); }

    /// Removes every prefix and releases the memory.
    void clear() noexcept { lpm_table{}.swap_with(*this); }

    /// Heap bytes held (capacities) plus the object itself.
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return sizeof(*this) + values_.capacity() * sizeof(Value) + prefixes_.capacity() * sizeof(ip_prefix) +
               free_slots_.capacity() * sizeof(std::uint32_t) + index_.capacity() * sizeof(std::uint32_t) +
               v4_.memory_bytes() + v6_.memory_bytes();
    }

    /// Calls f(const ip_prefix&, const Value&) for every prefix, in unspecified order.
    /// f must not modify the table.
    template <class F>
    void for_each(F&& f) const {
        for (const std::uint32_t c : index_)
            if (c != 0) f(prefixes_[c - 1], values_[c - 1]);
    }

    /// Which structure a family uses now: 0 = small (linear), 8 or 16 = trie root stride.
    /// For tests and tuning.
    [[nodiscard]] unsigned structure(ip_version v) const noexcept {
        return v == ip_version::v4 ? v4_.root_bits() : v6_.root_bits();
    }

private:
    static constexpr std::uint32_t npos = ~std::uint32_t{0};

    static void assign(Value& dst, const Value& src) noexcept {
        if constexpr (std::is_copy_assignable_v<Value>) dst = src;
        else std::construct_at(&dst, src);  // trivially copyable, e.g. a struct with const members
    }

    template <class Vector>
    static void grow(Vector& v, std::size_t n) {
        if (v.capacity() < n) v.reserve(std::max(n, v.capacity() * 2));
    }

    [[nodiscard]] const Value* to_value(std::uint32_t leaf) const noexcept {
        return leaf == 0 ? nullptr : values_.data() + (leaf - 1);
    }

    template <class Family, class Addr>
    void batch(const Family& fam, std::span<const Addr> in, std::span<const Value*> out) const noexcept {
        std::array<std::uint32_t, 32> leaves{};
        for (std::size_t i = 0; i < in.size(); i += leaves.size()) {
            const std::size_t n = std::min(leaves.size(), in.size() - i);
            fam.find_batch(in.data() + i, n, leaves.data());
            for (std::size_t k = 0; k < n; ++k) out[i + k] = to_value(leaves[k]);
        }
    }

    // Inserts a prefix known to be absent. Everything that may allocate happens before the
    // first change (strong guarantee): the index, the slot arrays, and either room for one more
    // prefix in `fam` or, at a size threshold, its rebuilt replacement.
    template <std::size_t Bytes>
    void insert_new(detail::lpm_family<Bytes>& fam, const ip_prefix& prefix, const Value& value) {
        grow_index(size_ + 1);
        const bool reuse = !free_slots_.empty();
        if (!reuse) {
            grow(values_, values_.size() + 1);
            grow(prefixes_, prefixes_.size() + 1);
            grow(free_slots_, values_.capacity());  // so that erase never allocates
        }
        const std::uint32_t s = reuse ? free_slots_.back() : static_cast<std::uint32_t>(values_.size());
        std::optional<detail::lpm_family<Bytes>> rebuilt;
        const unsigned bits = detail::lpm_family<Bytes>::bits_for(fam.size() + 1, fam.root_bits());
        if (bits == fam.root_bits()) {
            fam.reserve_insert();
        } else {
            auto slots = family_slots(prefix.version(), npos);
            slots.push_back(s);
            // The new prefix is not stored yet: build against a copy of the prefix array.
            std::vector<ip_prefix> pfx(prefixes_.begin(), prefixes_.end());
            if (s == pfx.size()) pfx.push_back(prefix);
            else pfx[s] = prefix;
            sort_by_length(slots, pfx.data());
            rebuilt.emplace(detail::lpm_family<Bytes>::build(bits, slots, pfx.data()));
        }
        // Commit: nothing below allocates.
        if (reuse) {
            free_slots_.pop_back();
            prefixes_[s] = prefix;
            assign(values_[s], value);
        } else {
            prefixes_.push_back(prefix);
            values_.push_back(value);
        }
        if (rebuilt) fam.swap(*rebuilt);
        else fam.insert(prefix.address().octets().data(), prefix.length(), s, prefixes_.data());
        index_insert(s);
        ++size_;
    }

    template <std::size_t Bytes>
    void erase_in(detail::lpm_family<Bytes>& fam, const ip_prefix& prefix, std::uint32_t s) {
        const unsigned bits = detail::lpm_family<Bytes>::bits_for(fam.size() - 1, fam.root_bits());
        if (bits != fam.root_bits()) {
            auto slots = family_slots(prefix.version(), s);
            sort_by_length(slots, prefixes_.data());
            auto built = detail::lpm_family<Bytes>::build(bits, slots, prefixes_.data());
            fam.swap(built);
            return;
        }
        std::uint32_t replacement = 0;
        if (fam.root_bits() != 0) {
            for (unsigned l = prefix.length(); l-- > 0;) {
                const std::uint32_t r = find_slot(ip_prefix::containing(prefix.address(), l).value());
                if (r != npos) {
                    replacement = r + 1;
                    break;
                }
            }
        }
        fam.erase(prefix.address().octets().data(), prefix.length(), s, replacement);
    }

    [[nodiscard]] std::vector<std::uint32_t> family_slots(ip_version v, std::uint32_t except) const {
        std::vector<std::uint32_t> slots;
        slots.reserve(v == ip_version::v4 ? v4_.size() + 1 : v6_.size() + 1);
        for (const std::uint32_t c : index_)
            if (c != 0 && c - 1 != except && prefixes_[c - 1].version() == v) slots.push_back(c - 1);
        return slots;
    }

    static void sort_by_length(std::vector<std::uint32_t>& slots, const ip_prefix* pfx) {
        std::sort(slots.begin(), slots.end(), [pfx](std::uint32_t a, std::uint32_t b) {
            return pfx[a].length() < pfx[b].length() || (pfx[a].length() == pfx[b].length() && a < b);
        });
    }

    // ---- prefix → slot index: open addressing, linear probing, cells hold slot + 1 -----------
    [[nodiscard]] static std::uint64_t hash(const ip_prefix& p) noexcept {
        const auto o = p.address().octets();
        std::uint64_t hi = 0, lo = 0;
        if (o.size() == 4) {
            hi = detail::lpm_load_be<std::uint32_t>(o.data());
        } else {
            hi = detail::lpm_load_be<std::uint64_t>(o.data());
            lo = detail::lpm_load_be<std::uint64_t>(o.data() + 8);
        }
        std::uint64_t h = (hi * 0x9e3779b97f4a7c15u) ^ ((lo + 0x632be59bd9b4e019u) * 0xc2b2ae3d27d4eb4fu) ^
                          ((std::uint64_t{p.length()} << 1) | (o.size() == 16 ? 1u : 0u));
        h ^= h >> 33;  // murmur3 fmix64
        h *= 0xff51afd7ed558ccdu;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53u;
        h ^= h >> 33;
        return h;
    }

    [[nodiscard]] std::uint32_t find_slot(const ip_prefix& p) const noexcept {
        if (index_.empty()) return npos;
        const std::size_t mask = index_.size() - 1;
        for (std::size_t i = hash(p) & mask;; i = (i + 1) & mask) {
            const std::uint32_t c = index_[i];
            if (c == 0) return npos;
            if (prefixes_[c - 1] == p) return c - 1;
        }
    }

    // Keeps the load factor ≤ 3/4 for `n` prefixes (rehashing into a new vector: strong).
    void grow_index(std::size_t n) {
        if (n * 4 <= index_.size() * 3) return;
        std::vector<std::uint32_t> cells(std::max<std::size_t>(8, index_.size() * 2), 0);
        const std::size_t mask = cells.size() - 1;
        for (const std::uint32_t c : index_) {
            if (c == 0) continue;
            std::size_t i = hash(prefixes_[c - 1]) & mask;
            while (cells[i] != 0) i = (i + 1) & mask;
            cells[i] = c;
        }
        index_.swap(cells);
    }

    void index_insert(std::uint32_t s) noexcept {
        const std::size_t mask = index_.size() - 1;
        std::size_t i = hash(prefixes_[s]) & mask;
        while (index_[i] != 0) i = (i + 1) & mask;
        index_[i] = s + 1;
    }

    // Backward-shift deletion: no tombstones, so probe lengths do not decay under churn.
    void index_erase(std::uint32_t s) noexcept {
        const std::size_t mask = index_.size() - 1;
        std::size_t i = hash(prefixes_[s]) & mask;
        while (index_[i] != s + 1) i = (i + 1) & mask;
        for (std::size_t j = (i + 1) & mask; index_[j] != 0; j = (j + 1) & mask) {
            const std::size_t home = hash(prefixes_[index_[j] - 1]) & mask;
            // Move j into the hole at i unless j's home lies cyclically in (i, j].
            if (((j - home) & mask) >= ((j - i) & mask)) {
                index_[i] = index_[j];
                i = j;
            }
        }
        index_[i] = 0;
    }

    void swap_with(lpm_table& o) noexcept {
        values_.swap(o.values_);
        prefixes_.swap(o.prefixes_);
        free_slots_.swap(o.free_slots_);
        index_.swap(o.index_);
        std::swap(size_, o.size_);
        v4_.swap(o.v4_);
        v6_.swap(o.v6_);
    }

    std::vector<Value> values_;           ///< by slot; lookup returns pointers into it
    std::vector<ip_prefix> prefixes_;     ///< by slot
    std::vector<std::uint32_t> free_slots_;
    std::vector<std::uint32_t> index_;    ///< power-of-two cells: 0 or slot + 1
    std::size_t size_{0};
    detail::lpm_family<4> v4_;
    detail::lpm_family<16> v6_;
};

}  // namespace nvgre::policy
