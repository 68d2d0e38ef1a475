#include "nvgre/policy/memory.hpp"

#include "nvgre/policy/ca_table.hpp"
#include "nvgre/policy/lpm.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

using namespace nvgre;
using namespace nvgre::policy;

namespace {

// Hooks that count, and check that every array comes back as it went out.
struct ledger {
    std::size_t allocations{0}, deallocations{0}, huge_requests{0};
    std::size_t live_bytes{0};
    std::vector<void*> live;
};

void* counting_allocate(std::size_t bytes, std::size_t alignment, bool huge, void* context) noexcept {
    auto& l = *static_cast<ledger*>(context);
    ++l.allocations;
    l.huge_requests += huge ? 1 : 0;
    l.live_bytes += bytes;
    void* p = ::operator new(bytes, std::align_val_t{alignment}, std::nothrow);
    l.live.push_back(p);
    return p;
}
void counting_deallocate(void* p, std::size_t bytes, std::size_t alignment, void* context) noexcept {
    auto& l = *static_cast<ledger*>(context);
    ++l.deallocations;
    l.live_bytes -= bytes;
    std::erase(l.live, p);
    ::operator delete(p, std::align_val_t{alignment});
}

// Installs hooks for one scope.
struct scoped_hooks {
    memory_hooks old;
    explicit scoped_hooks(const memory_hooks& h) : old(set_large_array_memory(h)) {}
    ~scoped_hooks() { set_large_array_memory(old); }
};

}  // namespace

TEST_CASE("policy/memory: the default hooks, and hooks without both functions are refused") {
    CHECK(large_array_memory() == transparent_huge_page_memory());
    const memory_hooks before = large_array_memory();
    set_large_array_memory(memory_hooks{});
    CHECK(large_array_memory() == before);
    void* p = small_page_memory().allocate(4 << 20, huge_page_bytes, true, nullptr);
    REQUIRE(p != nullptr);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % huge_page_bytes == 0);
    small_page_memory().deallocate(p, 4 << 20, huge_page_bytes, nullptr);
}

TEST_CASE("policy/memory: large CA table arrays go through the hooks and come back through them") {
    ledger l;
    {
        ca_table<std::uint32_t> t;
        {
            scoped_hooks h(memory_hooks{counting_allocate, counting_deallocate, &l});
            t.reserve(200'000);  // 2^18 slots of 16 bytes: 4 MiB
        }
        // Hooks changed back: the array is still freed through the ones that allocated it.
        CHECK(l.allocations == 1);
        CHECK(l.huge_requests == 1);
        CHECK(l.live.size() == 1);
        CHECK(reinterpret_cast<std::uintptr_t>(l.live.front()) % huge_page_bytes == 0);
        for (std::uint32_t i = 0; i < 1000; ++i)
            t.insert_or_assign(ca_key{1, ipv4_address::from_uint(0x0a000000u + i)}, i);
        CHECK(*t.find(ca_key{1, ipv4_address::from_uint(0x0a000005u)}) == 5);
        // A copy allocates with the hooks current now (the defaults), not through the ledger.
        const ca_table<std::uint32_t> copy = t;
        CHECK(l.allocations == 1);
        CHECK(*copy.find(ca_key{1, ipv4_address::from_uint(0x0a000007u)}) == 7);
    }
    CHECK(l.deallocations == 1);
    CHECK(l.live.empty());
    CHECK(l.live_bytes == 0);
}

TEST_CASE("policy/memory: small arrays never reach the hooks; set_huge_pages(false) is passed on") {
    ledger l;
    scoped_hooks h(memory_hooks{counting_allocate, counting_deallocate, &l});
    {
        ca_table<std::uint32_t> small;
        small.reserve(1000);
        CHECK(l.allocations == 0);
        ca_table<std::uint32_t> no_huge;
        no_huge.set_huge_pages(false);
        no_huge.reserve(200'000);
        CHECK(l.allocations == 1);
        CHECK(l.huge_requests == 0);
    }
    CHECK(l.live.empty());
}

TEST_CASE("policy/memory: large_array_allocator routes big vectors through the hooks") {
    ledger l;
    {
        std::vector<std::uint32_t, large_array_allocator<std::uint32_t>> v;
        {
            scoped_hooks h(memory_hooks{counting_allocate, counting_deallocate, &l});
            std::vector<std::uint32_t, large_array_allocator<std::uint32_t>> w;
            w.resize(100);        // 400 bytes: operator new
            CHECK(l.allocations == 0);
            w.resize(1u << 20);   // 4 MiB: the hooks
            CHECK(l.allocations == 1);
            CHECK(l.huge_requests == 1);
            v = std::move(w);     // the allocator (and its hooks) travels with the array
        }
        v[12345] = 7;
        CHECK(v[12345] == 7);
    }
    CHECK(l.deallocations == 1);
    CHECK(l.live.empty());
}

TEST_CASE("policy/memory: an LPM trie built under small-page hooks answers the same") {
    ledger l;
    lpm_table<std::uint32_t> t;
    {
        scoped_hooks h(memory_hooks{counting_allocate, counting_deallocate, &l});
        // One /24 under each of 4000 /16s: a 16-bit root and 4000 blocks of 1 KiB.
        for (std::uint32_t i = 0; i < 4000; ++i)
            t.insert_or_assign(*ip_prefix::containing(ipv4_address::from_uint(i << 16 | 0x0100u), 24), i);
    }
    CHECK(l.allocations >= 1);
    for (std::uint32_t i = 0; i < 4000; i += 97) {
        const std::uint32_t* v = t.lookup(ipv4_address::from_uint(i << 16 | 0x0105u));
        REQUIRE(v != nullptr);
        CHECK(*v == i);
        CHECK(t.lookup(ipv4_address::from_uint(i << 16 | 0x0205u)) == nullptr);
    }
    t.clear();
    CHECK(l.live.empty());
}
