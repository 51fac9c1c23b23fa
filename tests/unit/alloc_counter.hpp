// Counts heap allocations made by this test binary (malloc, calloc, realloc,
// aligned allocations and therefore operator new), to prove that steady-state
// code paths allocate nothing.
#pragma once

#include <cstdint>

namespace gust_test {

// Allocations since the program started (all threads).
uint64_t allocations();

// Heap bytes live now, and the most live at once since reset_peak_bytes()
// (malloc_usable_size of each block; 0 under ASan, which owns malloc).
int64_t live_bytes();
int64_t peak_bytes();
void reset_peak_bytes();
// False where live_bytes()/peak_bytes() are not tracked (ASan builds).
bool tracks_bytes();

// Counts allocations made between construction and count().
class AllocationScope {
public:
    AllocationScope() : start_(allocations()) {}
    uint64_t count() const { return allocations() - start_; }

private:
    uint64_t start_;
};

}  // namespace gust_test
