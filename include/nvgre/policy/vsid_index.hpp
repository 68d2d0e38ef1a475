/// @file policy/vsid_index.hpp
/// @brief VSID -> 32-bit index (a snapshot's virtual subnets), for the per-packet path: every
/// encapsulated or received frame looks its VSID up once.
///
/// Open addressing over a power-of-two table kept at most half full; a VSID is hashed by one
/// multiplication (Fibonacci hashing: the top bits of vsid * 2^32/phi) and probed linearly. A
/// lookup is ~10 instructions and one cache line almost always — the general CA table
/// (policy/ca_table.hpp) hashes a 21-byte key to answer the same question in ~55. Built on the
/// control plane (insert allocates); lookups are const, noexcept and allocation-free.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nvgre::policy {

class vsid_index {
public:
    vsid_index() = default;

    /// Maps `vsid` (24 bits: at most 0xFFFFFF) to `value`, replacing an earlier value.
    /// Control plane: may allocate (the table doubles when half full). A VSID wider than 24
    /// bits is not stored (find() never finds one). Amortised O(1).
    void insert_or_assign(std::uint32_t vsid, std::uint32_t value) {
        if (vsid > max_key) return;
        if (2 * (size_ + 1) > slots_.size()) grow();
        slot& s = slots_[slot_of(vsid)];
        if (s.key == empty) ++size_;
        s = slot{vsid, value};
    }

    /// The value of `vsid`, or nullptr. Any 32-bit input is fine. Expected O(1).
    [[nodiscard]] const std::uint32_t* find(std::uint32_t vsid) const noexcept {
        if (size_ == 0 || vsid > max_key) return nullptr;
        const slot& s = slots_[slot_of(vsid)];
        return s.key == vsid ? &s.value : nullptr;
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t memory_bytes() const noexcept { return slots_.capacity() * sizeof(slot); }

private:
    static constexpr std::uint32_t max_key = 0xffffffu;  // VSIDs are 24 bits
    static constexpr std::uint32_t empty = 0xffffffffu;  // no VSID: marks a free slot
    struct slot {
        std::uint32_t key{empty};
        std::uint32_t value{0};
    };

    /// The slot holding `vsid`, or the free slot where it would go: from its home slot (the
    /// top bits of vsid * 2^32/phi) on. Precondition: a non-empty table, which is at most half
    /// full, so the walk always reaches one.
    [[nodiscard]] std::size_t slot_of(std::uint32_t vsid) const noexcept {
        const std::size_t mask = slots_.size() - 1;
        auto i = static_cast<std::size_t>((vsid * 0x9e3779b9u) >> shift_);
        while (slots_[i].key != vsid && slots_[i].key != empty) i = (i + 1) & mask;
        return i;
    }
    void grow() {
        std::vector<slot> old = std::move(slots_);
        const std::size_t capacity = old.empty() ? 16 : 2 * old.size();
        slots_.assign(capacity, slot{});
        shift_ = 32u - static_cast<unsigned>(std::countr_zero(capacity));
        for (const slot& s : old)
            if (s.key != empty) slots_[slot_of(s.key)] = s;
    }

    std::vector<slot> slots_;
    unsigned shift_{32};
    std::size_t size_{0};
};

}  // namespace nvgre::policy
