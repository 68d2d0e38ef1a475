/// @file policy/ca_table.hpp
/// @brief The customer-address table: (32-bit scope, CA) → a small value (in practice the index
/// of a lookup record), looked up once or twice per packet.
///
/// Layout. Two open-addressing tables with linear probing over power-of-two slot arrays:
/// - IPv4: one slot = { u64 key = scope << 32 | address octets (as stored in memory), Value },
///   16 bytes for a Value of up to 8 bytes, 32 for up to 24, 64 for up to 56. A key's home is
///   a group of 64 / slot-size slots = one 64-byte cache line (arrays are 64-byte aligned): 4
///   slots of 16 bytes, 2 of 32, 1 of 64. A probe compares the whole line without branches (a
///   chain of conditional moves) and moves to the next line only if the key is not there and
///   the line is full. This is linear probing with buckets of one cache line: with 4-slot
///   lines at load 0.48, 96% of hits need only the home line, so the hot path has one memory
///   access and one well-predicted branch. A Value as large as the data a lookup is for (e.g.
///   policy::record_ref) saves the second, dependent cache miss of an index-then-record design;
/// - IPv6: one slot = { u32 scope, 16 address octets, Value }, 24 bytes for a 4-byte Value,
///   plain linear probing slot by slot.
/// A slot whose key bytes are all 0xFF is empty. The one real key with that bit pattern
/// (scope 0xFFFFFFFF with 255.255.255.255, or with ffff:…:ffff) lives in a side slot outside
/// the array, so every key — scope 0, 0.0.0.0, :: included — is storable.
///
/// Hash. Two rounds of a seeded multiply (the wyhash "mum" step): the 128-bit product of the
/// seed-whitened key and the seed-whitened key with its halves swapped (IPv6: of the two address
/// words, the scope mixed into the first), then the product of its low and high halves, each
/// whitened again, folded by xor; masked to the capacity. Both factors of both rounds change
/// with every key bit, which matters: one round, or a factor that is constant for a key
/// family, gave 10x longer probes for sequential keys under some seeds. The seed is per table:
/// from the constructor argument, or else the object's address and the steady clock
/// (splitmix64-mixed). It is not cryptographic, but key sets chosen without knowledge of the
/// seed — sequential addresses, one scope, strided scopes, high octets only — probe like random
/// keys (the tests check eight such families at load 3/4 under several seeds; 300 seeds were
/// checked while designing), and no two tables share a seed by accident, so inserting one
/// table's keys in its own order into another cannot build the long clusters a shared hash order
/// causes. A copy (copy constructor/assignment) keeps its source's seed and slot arrays as they are.
///
/// Load and complexity. At most 3/4 of the slots are occupied; inserting past that doubles the
/// array (rehash, O(n), amortised O(1)). Erase uses backward-shift deletion (no tombstones), so a
/// table under any churn probes like a freshly built one. find/insert/erase are expected O(1):
/// for random IPv4 keys a hit reads 1.04 cache lines on average at load 0.48 and 1.27 at 3/4;
/// an IPv6 hit probes (1 + 1/(1-α)) / 2 ≤ 2.5 slots, a miss (1 + 1/(1-α)²) / 2 ≤ 8.5.
///
/// Memory. sizeof(slot) / α bytes per key, α in (3/8, 3/4] after growth: 21–43 bytes per IPv4
/// key (1M keys → 2^21 slots → 32 MiB, 33.5 bytes per key), 32–64 per IPv6 key (1M: 50.3).
/// Arrays of 2 MiB and more are aligned to 2 MiB and allocated through the policy memory hooks
/// (policy/memory.hpp: by default, on Linux, advised for transparent huge pages, MADV_HUGEPAGE;
/// `set_huge_pages(false)` asks for small pages; an embedder can install its own allocator).
///
/// Threads. None inside: the table is a plain single-threaded value. Readers of a table that
/// some writer modifies concurrently need an outside scheme (policy/state.hpp uses left-right
/// copies). `find` and `find_batch` never allocate, never throw, and only read.
#pragma once

#include "nvgre/ip_address.hpp"
#include "nvgre/policy/memory.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

namespace nvgre::policy {

/// A table key: a scope (e.g. a routing-domain index, or a VSID) and a customer address.
/// Any values are valid keys, including scope 0 and the unspecified addresses 0.0.0.0 and ::.
struct ca_key {
    std::uint32_t scope{0};
    ip_address address{};

    friend constexpr bool operator==(const ca_key&, const ca_key&) noexcept = default;
    /// By scope, then address (all IPv4 before all IPv6).
    friend constexpr auto operator<=>(const ca_key&, const ca_key&) noexcept = default;
};

/// Probe-length statistics over every stored key (diagnostics; O(capacity)).
struct ca_table_stats {
    std::size_t v4_keys{0}, v4_slots{0}, v6_keys{0}, v6_slots{0};
    /// Probe groups a successful find reads (1 = the home group: one cache line for IPv4),
    /// mean and max over the stored keys.
    double v4_mean_groups{0}, v6_mean_groups{0};
    std::size_t v4_max_groups{0}, v6_max_groups{0};
};

namespace detail {

#if defined(__GNUC__) || defined(__clang__)
#define NVGRE_CA_TABLE_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define NVGRE_CA_TABLE_PREFETCH(p) ((void)(p))
#endif

/// The full 128-bit product as (low, high).
inline void ca_mul128(std::uint64_t a, std::uint64_t b, std::uint64_t& lo, std::uint64_t& hi) noexcept {
#if defined(__SIZEOF_INT128__)
    __extension__ using u128 = unsigned __int128;
    const u128 p = static_cast<u128>(a) * b;
    lo = static_cast<std::uint64_t>(p);
    hi = static_cast<std::uint64_t>(p >> 64);
#else
    const std::uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    const std::uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    const std::uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    lo = (ll & 0xffffffffu) | (mid << 32);
    hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}

/// High and low halves of the 128-bit product, folded by xor.
[[nodiscard]] inline std::uint64_t ca_mum(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t lo, hi;
    ca_mul128(a, b, lo, hi);
    return lo ^ hi;
}

[[nodiscard]] constexpr std::uint64_t ca_splitmix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// Whitening words derived from one seed.
struct ca_seed {
    std::uint64_t s0{0}, s1{0}, s2{0}, s3{0};
    static constexpr ca_seed from(std::uint64_t seed) noexcept {
        const std::uint64_t a = ca_splitmix64(seed), b = ca_splitmix64(a), c = ca_splitmix64(b);
        return {a, b, c, ca_splitmix64(c)};
    }
};

/// IPv4 key: scope in the high 32 bits, the address octets as one little-/big-endian-agnostic
/// memory word in the low 32 bits (never interpreted, only compared and hashed).
struct ca_v4_traits {
    using key_type = std::uint64_t;
    static constexpr key_type empty = ~std::uint64_t{0};
    static constexpr bool grouped = true;  // probe a cache line of slots at a time

    [[nodiscard]] static key_type make(const ca_key& k) noexcept {
        std::uint32_t a;
        std::memcpy(&a, k.address.octets().data(), 4);
        return (std::uint64_t{k.scope} << 32) | a;
    }
    [[nodiscard]] static ca_key unmake(key_type k) noexcept {
        const auto a = static_cast<std::uint32_t>(k);
        std::array<std::uint8_t, 4> o{};
        std::memcpy(o.data(), &a, 4);
        return ca_key{static_cast<std::uint32_t>(k >> 32), ip_address{ipv4_address{o}}};
    }
    [[nodiscard]] static std::uint64_t hash(key_type k, const ca_seed& s) noexcept {
        // Two rounds, the second multiplying both halves of the first product, so that neither
        // factor of either round is the same for all keys (a one-sided multiply by a constant
        // mixes badly for some seeds).
        std::uint64_t lo, hi;
        ca_mul128(k ^ s.s0, std::rotl(k, 32) ^ s.s1, lo, hi);
        return ca_mum(lo ^ s.s2, hi ^ s.s3);
    }
    [[nodiscard]] static bool equal(key_type a, key_type b) noexcept { return a == b; }
    [[nodiscard]] static bool is_empty(key_type k) noexcept { return k == empty; }
};

/// IPv6 key: scope and the 16 address octets, 20 bytes, 4-byte aligned.
struct ca_v6_key {
    std::uint32_t scope;
    std::uint32_t address[4];
};
static_assert(sizeof(ca_v6_key) == 20 && std::is_trivially_copyable_v<ca_v6_key>);

struct ca_v6_traits {
    using key_type = ca_v6_key;
    static constexpr key_type empty{~0u, {~0u, ~0u, ~0u, ~0u}};
    static constexpr bool grouped = false;

    [[nodiscard]] static key_type make(const ca_key& k) noexcept {
        key_type r;
        r.scope = k.scope;
        std::memcpy(r.address, k.address.octets().data(), 16);
        return r;
    }
    [[nodiscard]] static ca_key unmake(const key_type& k) noexcept {
        std::array<std::uint8_t, 16> o{};
        std::memcpy(o.data(), k.address, 16);
        return ca_key{k.scope, ip_address{ipv6_address{o}}};
    }
    static void words(const key_type& k, std::uint64_t& a, std::uint64_t& b) noexcept {
        std::memcpy(&a, &k.address[0], 8);
        std::memcpy(&b, &k.address[2], 8);
    }
    [[nodiscard]] static std::uint64_t hash(const key_type& k, const ca_seed& s) noexcept {
        std::uint64_t a, b;
        words(k, a, b);
        // Two rounds as for IPv4 (see there). The scope enters both: in the first so that keys
        // differing only in scope get unrelated products, in the second so that a scope change
        // cannot cancel an address change of the first.
        std::uint64_t lo, hi;
        ca_mul128(a ^ s.s0 ^ k.scope, b ^ s.s1, lo, hi);
        return ca_mum(lo ^ s.s2, hi ^ s.s3 ^ (std::uint64_t{k.scope} << 32));
    }
    [[nodiscard]] static bool equal(const key_type& x, const key_type& y) noexcept {
        std::uint64_t xa, xb, ya, yb;
        words(x, xa, xb);
        words(y, ya, yb);
        return ((xa ^ ya) | (xb ^ yb) | std::uint64_t{x.scope ^ y.scope}) == 0;
    }
    [[nodiscard]] static bool is_empty(const key_type& k) noexcept {
        std::uint64_t a, b;
        words(k, a, b);
        return (a & b & (std::uint64_t{k.scope} | 0xffffffff00000000ull)) == ~std::uint64_t{0};
    }
};

inline constexpr std::size_t ca_huge_page = huge_page_bytes;

/// One linear-probing table for one key kind. Empty slots hold Traits::empty; the key equal to
/// Traits::empty is kept in a side slot.
template <class Traits, class Value>
class ca_probe_table {
public:
    using key_type = typename Traits::key_type;

    struct slot {
        key_type key;
        alignas(Value) unsigned char value[sizeof(Value)];
    };
    static_assert(std::is_trivially_copyable_v<slot>);

    static constexpr std::size_t min_capacity = 16;

    ca_probe_table() noexcept = default;
    ca_probe_table(const ca_probe_table& o) : seed_(o.seed_), huge_(o.huge_) { copy_from(o); }
    ca_probe_table(ca_probe_table&& o) noexcept { steal(o); }
    ca_probe_table& operator=(const ca_probe_table& o) {
        if (this != &o) {
            ca_probe_table tmp(o);
            release();
            steal(tmp);
        }
        return *this;
    }
    ca_probe_table& operator=(ca_probe_table&& o) noexcept {
        if (this != &o) {
            release();
            steal(o);
        }
        return *this;
    }
    ~ca_probe_table() { release(); }

    void set_seed(const ca_seed& s) noexcept { seed_ = s; }
    void set_huge_pages(bool on) noexcept { huge_ = on; }

    [[nodiscard]] std::size_t size() const noexcept { return size_ + (has_side_ ? 1 : 0); }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::size_t memory_bytes() const noexcept { return capacity_ * sizeof(slot); }

    /// Slots per probe group: a probe reads a whole group (for IPv4 one 64-byte cache line:
    /// 4 slots of 16 bytes, 2 of 32, 1 of 64; 1 when the slot size does not divide 64).
    static constexpr std::size_t group =
        Traits::grouped && sizeof(slot) <= 64 && 64 % sizeof(slot) == 0 ? 64 / sizeof(slot) : 1;

    /// The home slot of `k`: the first slot of its home group.
    [[nodiscard]] std::size_t home(const key_type& k) const noexcept {
        return static_cast<std::size_t>(Traits::hash(k, seed_)) & mask_ & ~(group - 1);
    }
    void prefetch(std::size_t i) const noexcept {
        const auto* p = reinterpret_cast<const char*>(slots_ + i);
        NVGRE_CA_TABLE_PREFETCH(p);
        // A group that straddles a cache line (24-byte IPv6 slots) needs its second line too.
        if constexpr (64 % (sizeof(slot) * group) != 0) NVGRE_CA_TABLE_PREFETCH(p + sizeof(slot) * group - 1);
    }

    /// Probes from slot `i` (= home(k)).
    [[nodiscard]] const Value* find_from(const key_type& k, std::size_t i) const noexcept {
        if (Traits::is_empty(k)) [[unlikely]]
            return has_side_ ? value_ptr(side_value_) : nullptr;
        for (;;) {
            const slot* g = slots_ + i;
            if (const Value* p = match_value(g, k); p != nullptr) [[likely]]
                return p;
            if (empty_mask(g) != 0) return nullptr;
            i = (i + group) & mask_;
        }
    }
    [[nodiscard]] const Value* find(const key_type& k) const noexcept { return find_from(k, home(k)); }

    bool insert_or_assign(const key_type& k, const Value& v) {
        if (Traits::is_empty(k)) [[unlikely]] {
            std::memcpy(side_value_, &v, sizeof(Value));
            const bool inserted = !has_side_;
            has_side_ = true;
            return inserted;
        }
        std::size_t i = home(k);
        for (;;) {
            const unsigned match = match_mask(slots_ + i, k);
            if (match != 0) {
                std::memcpy(slots_[i + static_cast<std::size_t>(std::countr_zero(match))].value, &v, sizeof(Value));
                return false;
            }
            if (const unsigned empty = empty_mask(slots_ + i); empty != 0) {
                i += static_cast<std::size_t>(std::countr_zero(empty));
                break;
            }
            i = (i + group) & mask_;
        }
        if ((size_ + 1) * 4 > capacity_ * 3) [[unlikely]] {
            rehash(std::max(min_capacity, capacity_ * 2));
            i = first_empty(slots_, home(k), mask_);
        }
        slots_[i].key = k;
        std::memcpy(slots_[i].value, &v, sizeof(Value));
        ++size_;
        return true;
    }

    bool erase(const key_type& k) noexcept {
        if (Traits::is_empty(k)) [[unlikely]] {
            const bool was = has_side_;
            has_side_ = false;
            return was;
        }
        std::size_t i = home(k);
        for (;;) {
            const unsigned match = match_mask(slots_ + i, k);
            if (match != 0) {
                i += static_cast<std::size_t>(std::countr_zero(match));
                break;
            }
            if (empty_mask(slots_ + i) != 0) return false;
            i = (i + group) & mask_;
        }
        // Backward shift: pull each later member of the run whose home is not cyclically in
        // (i, j] into the hole, so no tombstone is ever left behind. This keeps the linear-probing
        // invariant (every slot from a key's home to the key is occupied) that find relies on.
        std::size_t j = i;
        for (;;) {
            j = (j + 1) & mask_;
            slot& s = slots_[j];
            if (Traits::is_empty(s.key)) break;
            const std::size_t h = home(s.key);
            if (((j - h) & mask_) >= ((j - i) & mask_)) {
                slots_[i] = s;
                i = j;
            }
        }
        slots_[i].key = Traits::empty;
        --size_;
        return true;
    }

    void clear() noexcept {
        for (std::size_t i = 0; i < capacity_; ++i) slots_[i].key = Traits::empty;
        size_ = 0;
        has_side_ = false;
    }

    /// Makes room for `n` keys without a rehash.
    void reserve(std::size_t n) {
        std::size_t cap = min_capacity;
        while (cap * 3 < n * 4) cap *= 2;
        if (cap > capacity_) rehash(cap);
    }

    template <class F>
    void for_each(F& f) const {
        for (std::size_t i = 0; i < capacity_; ++i) {
            const slot& s = slots_[i];
            if (!Traits::is_empty(s.key)) f(Traits::unmake(s.key), *value_ptr(s.value));
        }
        if (has_side_) f(Traits::unmake(Traits::empty), *value_ptr(side_value_));
    }

    void stats(std::size_t& keys, std::size_t& slots, double& mean_groups, std::size_t& max_groups) const noexcept {
        keys = size();
        slots = capacity_;
        std::size_t total = 0;
        max_groups = 0;
        for (std::size_t i = 0; i < capacity_; ++i) {
            const slot& s = slots_[i];
            if (Traits::is_empty(s.key)) continue;
            const std::size_t g = ((i - home(s.key)) & mask_) / group + 1;
            total += g;
            max_groups = std::max(max_groups, g);
        }
        mean_groups = size_ == 0 ? 0.0 : static_cast<double>(total) / static_cast<double>(size_);
    }

private:
    // Bit j set: slot g[j] holds k / is empty. Unrolled and without branches, so where in the
    // group a key sits costs no misprediction.
    [[nodiscard]] static unsigned match_mask(const slot* g, const key_type& k) noexcept {
        return [&]<std::size_t... J>(std::index_sequence<J...>) {
            return ((static_cast<unsigned>(Traits::equal(g[J].key, k)) << J) | ...);
        }(std::make_index_sequence<group>{});
    }
    // The value of the slot of g that holds k, or nullptr: a chain of conditional moves.
    [[nodiscard]] static const Value* match_value(const slot* g, const key_type& k) noexcept {
        const Value* p = nullptr;
        [&]<std::size_t... J>(std::index_sequence<J...>) {
            ((p = Traits::equal(g[group - 1 - J].key, k) ? value_ptr(g[group - 1 - J].value) : p), ...);
        }(std::make_index_sequence<group>{});
        return p;
    }
    [[nodiscard]] static unsigned empty_mask(const slot* g) noexcept {
        return [&]<std::size_t... J>(std::index_sequence<J...>) {
            return ((static_cast<unsigned>(Traits::is_empty(g[J].key)) << J) | ...);
        }(std::make_index_sequence<group>{});
    }
    [[nodiscard]] static std::size_t first_empty(const slot* a, std::size_t i, std::size_t mask) noexcept {
        while (!Traits::is_empty(a[i].key)) i = (i + 1) & mask;
        return i;
    }

    // The array every empty table points at (one group of empty slots), so that find needs no
    // null check.
    static constexpr slot make_empty_slot() noexcept { return slot{Traits::empty, {}}; }
    static_assert(group >= 1 && group <= 4 && (group & (group - 1)) == 0 && group <= min_capacity);
    static inline const slot empty_array[4] = {make_empty_slot(), make_empty_slot(), make_empty_slot(), make_empty_slot()};

    [[nodiscard]] static const Value* value_ptr(const unsigned char* p) noexcept {
        return std::launder(reinterpret_cast<const Value*>(p));
    }

    [[nodiscard]] static std::size_t alignment_for(std::size_t bytes) noexcept {
        return bytes >= ca_huge_page ? ca_huge_page : std::max<std::size_t>(64, alignof(slot));
    }

    // Arrays of ca_huge_page bytes and more go through the memory hooks (remembered, to free
    // them through the same ones), smaller ones through operator new.
    slot* allocate_array(std::size_t bytes, memory_hooks& used) const {
        const std::size_t align = alignment_for(bytes);
        used = bytes >= ca_huge_page ? large_array_memory() : memory_hooks{};
        void* p = used.allocate != nullptr ? used.allocate(bytes, align, huge_, used.context)
                                           : operator_new_aligned(bytes, align);
        if (p == nullptr) throw_bad_alloc();
        return static_cast<slot*>(p);
    }
    [[noreturn]] static void throw_bad_alloc() {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
        throw std::bad_alloc();
#else
        std::abort();
#endif
    }

    void rehash(std::size_t new_cap) {
        const std::size_t bytes = new_cap * sizeof(slot);
        memory_hooks hooks;
        auto* fresh = allocate_array(bytes, hooks);
        const std::size_t new_mask = new_cap - 1;
        for (std::size_t i = 0; i < new_cap; ++i) fresh[i].key = Traits::empty;
        for (std::size_t i = 0; i < capacity_; ++i) {
            const slot& s = slots_[i];
            if (Traits::is_empty(s.key)) continue;
            const std::size_t h = static_cast<std::size_t>(Traits::hash(s.key, seed_)) & new_mask & ~(group - 1);
            fresh[first_empty(fresh, h, new_mask)] = s;
        }
        free_array();
        slots_ = fresh;
        capacity_ = new_cap;
        mask_ = new_mask;
        array_hooks_ = hooks;
    }

    void copy_from(const ca_probe_table& o) {
        size_ = o.size_;
        has_side_ = o.has_side_;
        std::memcpy(side_value_, o.side_value_, sizeof(Value));
        if (o.capacity_ == 0) return;
        const std::size_t bytes = o.capacity_ * sizeof(slot);
        auto* fresh = allocate_array(bytes, array_hooks_);
        std::memcpy(static_cast<void*>(fresh), o.slots_, bytes);
        slots_ = fresh;
        capacity_ = o.capacity_;
        mask_ = o.mask_;
    }

    void steal(ca_probe_table& o) noexcept {
        slots_ = std::exchange(o.slots_, const_cast<slot*>(empty_array));
        capacity_ = std::exchange(o.capacity_, 0);
        mask_ = std::exchange(o.mask_, 0);
        size_ = std::exchange(o.size_, 0);
        has_side_ = std::exchange(o.has_side_, false);
        std::memcpy(side_value_, o.side_value_, sizeof(Value));
        seed_ = o.seed_;
        huge_ = o.huge_;
        array_hooks_ = std::exchange(o.array_hooks_, memory_hooks{});
    }

    void free_array() noexcept {
        if (capacity_ == 0) return;
        const std::size_t bytes = capacity_ * sizeof(slot);
        if (array_hooks_.deallocate != nullptr) array_hooks_.deallocate(slots_, bytes, alignment_for(bytes), array_hooks_.context);
        else ::operator delete(slots_, std::align_val_t{alignment_for(bytes)});
    }
    static void* operator_new_aligned(std::size_t bytes, std::size_t align) noexcept {
        return ::operator new(bytes, std::align_val_t{align}, std::nothrow);
    }
    void release() noexcept {
        free_array();
        slots_ = const_cast<slot*>(empty_array);
        capacity_ = mask_ = size_ = 0;
        has_side_ = false;
        array_hooks_ = memory_hooks{};
    }

    // empty_array is never written: every writer grows the table (capacity_ > 0) first, and
    // erase/clear find nothing to write in it.
    slot* slots_ = const_cast<slot*>(empty_array);
    std::size_t mask_ = 0;
    std::size_t capacity_ = 0;
    std::size_t size_ = 0;  // keys in the array (the side slot not counted)
    ca_seed seed_{};
    bool has_side_ = false;
    bool huge_ = true;
    memory_hooks array_hooks_{};  // what allocated slots_ (none: operator new)
    alignas(Value) unsigned char side_value_[sizeof(Value)]{};
};

}  // namespace detail

/// (scope, customer address) → Value. See the file comment for layout, hash, load and memory.
/// `Value` is stored by bytes (memcpy) and handed out as `const Value*`; a pointer from
/// find/find_batch stays valid until the next insert_or_assign, erase, clear, reserve or
/// assignment to the table.
template <class Value>
    requires std::is_trivially_copyable_v<Value>
class ca_table {
public:
    using value_type = Value;
    /// How many keys find_batch hashes and prefetches ahead of the one it probes.
    static constexpr std::size_t batch_lookahead = 32;

    /// Empty; allocates nothing until the first insert. Seeded from the object's address and
    /// the steady clock.
    ca_table() noexcept { seed(default_seed()); }
    /// Reserves room for `expected` IPv4 keys (see reserve).
    explicit ca_table(std::size_t expected) : ca_table() { reserve(expected); }
    /// Reserves room for `expected` IPv4 keys, with a fixed hash seed (reproducible layout).
    ca_table(std::size_t expected, std::uint64_t hash_seed) {
        seed(hash_seed);
        reserve(expected);
    }

    ca_table(const ca_table&) = default;
    ca_table(ca_table&&) noexcept = default;
    ca_table& operator=(const ca_table&) = default;
    ca_table& operator=(ca_table&&) noexcept = default;
    ~ca_table() = default;

    /// Sets `v` for `k`. True if `k` was new, false if an existing value was replaced.
    /// Expected O(1); amortised O(1) with the doubling rehash (O(n) when it happens).
    /// Invalidates pointers returned by find.
    bool insert_or_assign(const ca_key& k, const Value& v) {
        return k.address.is_v4() ? v4_.insert_or_assign(detail::ca_v4_traits::make(k), v)
                                 : v6_.insert_or_assign(detail::ca_v6_traits::make(k), v);
    }

    /// Removes `k`. True if it was there. Expected O(1) (backward shift over the rest of its
    /// cluster); never shrinks the array. Invalidates pointers returned by find.
    bool erase(const ca_key& k) noexcept {
        return k.address.is_v4() ? v4_.erase(detail::ca_v4_traits::make(k))
                                 : v6_.erase(detail::ca_v6_traits::make(k));
    }

    /// The value of `k`, or nullptr. Expected O(1): one hash, one cache line on most IPv4 hits.
    [[nodiscard]] const Value* find(const ca_key& k) const noexcept {
        return k.address.is_v4() ? v4_.find(detail::ca_v4_traits::make(k))
                                 : v6_.find(detail::ca_v6_traits::make(k));
    }

    /// As find, for updating a value in place (no rehash, no reordering).
    [[nodiscard]] Value* find(const ca_key& k) noexcept {
        return const_cast<Value*>(std::as_const(*this).find(k));
    }

    /// out[i] = find(keys[i]) for every i. Precondition: `out.size() >= keys.size()`.
    /// Hashes and prefetches `batch_lookahead` keys ahead of the one it probes, so up to that
    /// many cache misses are in flight at once. Any count, any IPv4/IPv6 mix.
    void find_batch(std::span<const ca_key> keys, std::span<const Value*> out) const noexcept {
        constexpr std::size_t L = batch_lookahead;
        const std::size_t n = keys.size();
        pending ring[L];
        const std::size_t first = std::min(n, L);
        for (std::size_t i = 0; i < first; ++i) ring[i] = locate(keys[i]);
        for (std::size_t i = 0; i < n; ++i) {
            const pending cur = ring[i % L];
            if (i + L < n) ring[i % L] = locate(keys[i + L]);
            out[i] = cur.v4 ? v4_.find_from(cur.key, cur.home) : v6_.find_from(detail::ca_v6_traits::make(keys[i]), cur.home);
        }
    }

    /// Hashes `k` and prefetches its home group, so that a find, insert_or_assign or erase of
    /// `k` issued a few hundred nanoseconds later finds it in cache. For pipelines that handle
    /// one burst while the next is on its way, and for control-plane loops over many changes.
    void prefetch(const ca_key& k) const noexcept { (void)locate(k); }
    /// prefetch(k) for every key.
    void prefetch(std::span<const ca_key> keys) const noexcept {
        for (const ca_key& k : keys) (void)locate(k);
    }

    /// Keys stored (IPv4 and IPv6).
    [[nodiscard]] std::size_t size() const noexcept { return v4_.size() + v6_.size(); }
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }
    /// Removes every key; keeps the arrays (memory_bytes is unchanged). O(capacity).
    void clear() noexcept {
        v4_.clear();
        v6_.clear();
    }
    /// Makes room for `ipv4_keys` IPv4 keys without a rehash. Never shrinks.
    void reserve(std::size_t ipv4_keys) { v4_.reserve(ipv4_keys); }
    /// Makes room for `ipv4_keys` IPv4 and `ipv6_keys` IPv6 keys without a rehash.
    void reserve(std::size_t ipv4_keys, std::size_t ipv6_keys) {
        v4_.reserve(ipv4_keys);
        v6_.reserve(ipv6_keys);
    }

    /// Heap bytes held by the slot arrays.
    [[nodiscard]] std::size_t memory_bytes() const noexcept { return v4_.memory_bytes() + v6_.memory_bytes(); }
    /// Slots allocated (IPv4 + IPv6).
    [[nodiscard]] std::size_t capacity() const noexcept { return v4_.capacity() + v6_.capacity(); }
    /// Bytes of one IPv4 / IPv6 slot.
    static constexpr std::size_t ipv4_slot_bytes = sizeof(typename detail::ca_probe_table<detail::ca_v4_traits, Value>::slot);
    static constexpr std::size_t ipv6_slot_bytes = sizeof(typename detail::ca_probe_table<detail::ca_v6_traits, Value>::slot);

    /// Calls f(const ca_key&, const Value&) for every entry, in no particular order.
    /// f must not modify the table.
    template <class F>
    void for_each(F&& f) const {
        v4_.for_each(f);
        v6_.for_each(f);
    }

    /// Whether arrays of 2 MiB or more are advised for transparent huge pages (default on).
    /// Applies to arrays allocated afterwards.
    void set_huge_pages(bool on) noexcept {
        v4_.set_huge_pages(on);
        v6_.set_huge_pages(on);
    }

    /// Probe-length statistics. O(capacity); for tests and diagnostics.
    [[nodiscard]] ca_table_stats stats() const noexcept {
        ca_table_stats s;
        v4_.stats(s.v4_keys, s.v4_slots, s.v4_mean_groups, s.v4_max_groups);
        v6_.stats(s.v6_keys, s.v6_slots, s.v6_mean_groups, s.v6_max_groups);
        return s;
    }

private:
    using v4_table = detail::ca_probe_table<detail::ca_v4_traits, Value>;
    using v6_table = detail::ca_probe_table<detail::ca_v6_traits, Value>;

    [[nodiscard]] std::uint64_t default_seed() const noexcept {
        const auto t = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        return detail::ca_splitmix64(reinterpret_cast<std::uintptr_t>(this) ^ detail::ca_splitmix64(t));
    }
    void seed(std::uint64_t s) noexcept {
        v4_.set_seed(detail::ca_seed::from(s));
        v6_.set_seed(detail::ca_seed::from(~s));
    }

    // A key between its prefetch and its probe: its home slot and, for IPv4, its packed key.
    struct pending {
        std::size_t home;
        std::uint64_t key;
        bool v4;
    };
    // Hashes a key and prefetches its home group.
    [[nodiscard]] pending locate(const ca_key& k) const noexcept {
        if (k.address.is_v4()) [[likely]] {
            const std::uint64_t key = detail::ca_v4_traits::make(k);
            const std::size_t h = v4_.home(key);
            v4_.prefetch(h);
            return {h, key, true};
        }
        const std::size_t h = v6_.home(detail::ca_v6_traits::make(k));
        v6_.prefetch(h);
        return {h, 0, false};
    }

    v4_table v4_;
    v6_table v6_;
};

}  // namespace nvgre::policy
