// Shared helpers for the libFuzzer harnesses: an invariant check that aborts
// with a message (libFuzzer then saves the input as a crash).
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
                         #cond);                                                      \
            std::abort();                                                             \
        }                                                                             \
    } while (0)

namespace fuzz {

// True when `v` is empty or lies entirely inside [base, base + size).
inline bool inside(std::string_view v, const void* base, size_t size) {
    if (v.empty()) return true;
    const char* b = static_cast<const char*>(base);
    return v.data() >= b && v.data() + v.size() <= b + size;
}

}  // namespace fuzz
