/// @file policy/memory.hpp
/// @brief Where the policy's large per-packet arrays get their memory: the CA tables' slot
/// arrays, the record array of policy::state, the LPM tries' blocks. An allocator hook, so an
/// embedder that owns huge pages (hugetlbfs, DPDK's rte_malloc) can put them there.
///
/// At 1M records these arrays are 32-64 MiB each and every lookup lands on a random page of
/// them: with 4 KiB pages, a TLB miss per lookup (a page walk, nested under a hypervisor); with
/// 2 MiB pages the 100-200 MiB of a 1M-record policy need ~100 TLB entries. bench/ measures both
/// (.../no_huge_pages), see README "Performance".
///
/// The default hooks allocate with aligned operator new and, on Linux, advise the kernel to
/// back arrays of 2 MiB and more with transparent huge pages (madvise MADV_HUGEPAGE; effective
/// where /sys/kernel/mm/transparent_hugepage/enabled is "madvise" or "always"); arrays whose
/// owner opted out (ca_table::set_huge_pages(false), or small_page_memory()) get
/// MADV_NOHUGEPAGE instead. Every array remembers the hooks that allocated it and is freed
/// through them, so the hooks may be changed at any time; arrays allocated afterwards use the
/// new ones. Control plane only: nothing here runs per packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace nvgre::policy {

/// Arrays of at least this many bytes are huge-page candidates (one 2 MiB x86-64 huge page).
inline constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

/// An allocator for large arrays. `allocate(bytes, alignment, huge, context)` returns `bytes`
/// bytes aligned to `alignment` (a power of two, at least 64) or nullptr when out of memory;
/// `huge` says whether the array's owner wants huge pages for it. `deallocate` gets back exactly
/// what `allocate` returned, with the same size and alignment. Both are called from control-plane
/// code only (table growth, copies, policy changes), never while a reader looks up.
struct memory_hooks {
    void* (*allocate)(std::size_t bytes, std::size_t alignment, bool huge, void* context) noexcept = nullptr;
    void (*deallocate)(void* p, std::size_t bytes, std::size_t alignment, void* context) noexcept = nullptr;
    void* context = nullptr;

    friend bool operator==(const memory_hooks&, const memory_hooks&) noexcept = default;
};

namespace detail {

inline void* operator_new_aligned(std::size_t bytes, std::size_t alignment) noexcept {
    return ::operator new(bytes, std::align_val_t{alignment}, std::nothrow);
}
inline void operator_delete_aligned(void* p, std::size_t, std::size_t alignment, void*) noexcept {
    ::operator delete(p, std::align_val_t{alignment});
}
/// madvise(2) for an array of `bytes` at `p` when it spans whole huge pages.
inline void advise_huge(void* p, std::size_t bytes, bool huge) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
    if (p != nullptr && bytes >= huge_page_bytes) (void)::madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
#else
    (void)p;
    (void)bytes;
    (void)huge;
#endif
}
/// Arrays of 2 MiB and more are aligned to 2 MiB, so that they start on a huge page.
inline std::size_t large_alignment(std::size_t bytes, std::size_t alignment) noexcept {
    return bytes >= huge_page_bytes && alignment < huge_page_bytes ? huge_page_bytes : alignment;
}
inline void* thp_allocate(std::size_t bytes, std::size_t alignment, bool huge, void*) noexcept {
    void* p = operator_new_aligned(bytes, alignment);
    advise_huge(p, bytes, huge);
    return p;
}
inline void* small_page_allocate(std::size_t bytes, std::size_t alignment, bool, void*) noexcept {
    void* p = operator_new_aligned(bytes, alignment);
    advise_huge(p, bytes, false);
    return p;
}

}  // namespace detail

/// The default hooks: aligned operator new, transparent huge pages advised for arrays of
/// 2 MiB and more whose owner wants them (see the file comment).
[[nodiscard]] inline memory_hooks transparent_huge_page_memory() noexcept {
    return memory_hooks{detail::thp_allocate, detail::operator_delete_aligned, nullptr};
}
/// Hooks that never use huge pages (MADV_NOHUGEPAGE on arrays of 2 MiB and more, so that a
/// system whose transparent huge pages are "always" does not use them either): for measuring
/// what huge pages bring, or for systems where they hurt.
[[nodiscard]] inline memory_hooks small_page_memory() noexcept {
    return memory_hooks{detail::small_page_allocate, detail::operator_delete_aligned, nullptr};
}

namespace detail {
inline memory_hooks& current_memory_hooks() noexcept {
    static memory_hooks hooks = transparent_huge_page_memory();
    return hooks;
}
}  // namespace detail

/// The hooks new large arrays are allocated with. Not synchronised: set them before building
/// policy state on other threads.
[[nodiscard]] inline memory_hooks large_array_memory() noexcept { return detail::current_memory_hooks(); }
/// Installs `hooks` (both functions set) for large arrays allocated from now on; arrays
/// allocated before are still freed through the hooks that allocated them. Not synchronised
/// (see large_array_memory). Returns the hooks it replaced.
inline memory_hooks set_large_array_memory(const memory_hooks& hooks) noexcept {
    memory_hooks old = detail::current_memory_hooks();
    if (hooks.allocate != nullptr && hooks.deallocate != nullptr) detail::current_memory_hooks() = hooks;
    return old;
}

/// A std allocator for the large arrays of policy containers (std::vector<T, ...>): requests of
/// 2 MiB and more go through the memory hooks captured when the allocator was made (huge pages
/// wanted), smaller ones through plain operator new. Copies keep the hooks (a copied policy
/// frees its arrays through the hooks that allocated them).
template <class T>
class large_array_allocator {
public:
    using value_type = T;

    large_array_allocator() noexcept : hooks_(large_array_memory()) {}
    template <class U>
    large_array_allocator(const large_array_allocator<U>& o) noexcept : hooks_(o.hooks()) {}  // NOLINT: rebind

    [[nodiscard]] T* allocate(std::size_t n) {
        const std::size_t bytes = n * sizeof(T);
        void* p = bytes >= huge_page_bytes ? hooks_.allocate(bytes, alignment(bytes), true, hooks_.context)
                                           : detail::operator_new_aligned(bytes, alignment(bytes));
        if (p == nullptr) throw_bad_alloc();
        return static_cast<T*>(p);
    }
    void deallocate(T* p, std::size_t n) noexcept {
        const std::size_t bytes = n * sizeof(T);
        if (bytes >= huge_page_bytes) hooks_.deallocate(p, bytes, alignment(bytes), hooks_.context);
        else detail::operator_delete_aligned(p, bytes, alignment(bytes), nullptr);
    }

    [[nodiscard]] const memory_hooks& hooks() const noexcept { return hooks_; }
    template <class U>
    friend bool operator==(const large_array_allocator& a, const large_array_allocator<U>& b) noexcept {
        return a.hooks() == b.hooks();
    }

    using propagate_on_container_copy_assignment = std::true_type;
    using propagate_on_container_move_assignment = std::true_type;
    using propagate_on_container_swap = std::true_type;

private:
    static std::size_t alignment(std::size_t bytes) noexcept {
        return detail::large_alignment(bytes, alignof(T) > 64 ? alignof(T) : 64);
    }
    [[noreturn]] static void throw_bad_alloc() {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
        throw std::bad_alloc();
#else
        std::abort();
#endif
    }

    memory_hooks hooks_;
};

}  // namespace nvgre::policy
