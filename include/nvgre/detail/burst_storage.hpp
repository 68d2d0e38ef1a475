/// @file detail/burst_storage.hpp
/// @brief Room for a burst's per-frame state, on the stack, without constructing it.
///
/// The burst entry points keep a few arrays of per-frame structures (plans, layouts, lookup
/// keys) for up to 32 frames. A plain array of a type with default member initializers is
/// initialised on every call — a few hundred stores per burst, for objects that the first
/// stage then builds anew. burst_storage is raw, suitably aligned room; each element is
/// constructed (std::construct_at or placement new of a prvalue) before it is read, and
/// the types held are trivially destructible, so nothing needs destroying.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>

namespace nvgre::detail {

template <class T, std::size_t N>
class burst_storage {
    static_assert(std::is_trivially_destructible_v<T>, "elements are never destroyed");

public:
    /// Element `i`'s room (its object once constructed). Precondition: i < N.
    [[nodiscard]] T* at(std::size_t i) noexcept { return std::launder(reinterpret_cast<T*>(raw_ + i * sizeof(T))); }
    /// Element `i`, which must have been constructed.
    [[nodiscard]] T& operator[](std::size_t i) noexcept { return *at(i); }
    /// The first `n` elements as an array, all of which must have been constructed.
    [[nodiscard]] T* data() noexcept { return at(0); }
    static constexpr std::size_t size() noexcept { return N; }

private:
    alignas(T) std::byte raw_[N * sizeof(T)];
};

}  // namespace nvgre::detail
