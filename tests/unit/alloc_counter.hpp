// Counts heap allocations made by this test binary (malloc, calloc, realloc,
// aligned allocations and therefore operator new), to prove that steady-state
// code paths allocate nothing.
#pragma once

#include <cstdint>

namespace gust_test {

// Allocations since the program started (all threads).
uint64_t allocations();

// Counts allocations made between construction and count().
class AllocationScope {
public:
    AllocationScope() : start_(allocations()) {}
    uint64_t count() const { return allocations() - start_; }

private:
    uint64_t start_;
};

}  // namespace gust_test
