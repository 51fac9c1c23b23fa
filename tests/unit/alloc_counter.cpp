// Under ASan the sanitizer owns malloc, so its allocation hook does the
// counting; otherwise malloc and friends are interposed and forwarded to glibc.
#include "alloc_counter.hpp"

#include <atomic>
#include <cstddef>

namespace {
std::atomic<uint64_t> g_allocations{0};
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};

#if !defined(__SANITIZE_ADDRESS__)
void add_live(int64_t n) {
    int64_t now = g_live.fetch_add(n, std::memory_order_relaxed) + n;
    int64_t peak = g_peak.load(std::memory_order_relaxed);
    while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
}
#endif
}  // namespace

namespace gust_test {
uint64_t allocations() { return g_allocations.load(std::memory_order_relaxed); }
int64_t live_bytes() { return g_live.load(std::memory_order_relaxed); }
int64_t peak_bytes() { return g_peak.load(std::memory_order_relaxed); }
void reset_peak_bytes() { g_peak.store(g_live.load(std::memory_order_relaxed), std::memory_order_relaxed); }
#if defined(__SANITIZE_ADDRESS__)
bool tracks_bytes() { return false; }
#else
bool tracks_bytes() { return true; }
#endif
}  // namespace gust_test

#if defined(__SANITIZE_ADDRESS__)
// Declared here: GCC does not ship <sanitizer/allocator_interface.h>.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, size_t),
                                                         void (*free_hook)(const volatile void*));

namespace {
void on_malloc(const volatile void*, size_t) { g_allocations.fetch_add(1, std::memory_order_relaxed); }
void on_free(const volatile void*) {}
struct InstallHooks {
    InstallHooks() { __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free); }
} g_install_hooks;
}  // namespace

#else

#include <malloc.h>

namespace {
void* counted(void* p) {
    if (p) add_live(int64_t(malloc_usable_size(p)));
    return p;
}
}  // namespace

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);

void* malloc(size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return counted(__libc_malloc(n));
}
void* calloc(size_t n, size_t m) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return counted(__libc_calloc(n, m));
}
void* realloc(void* p, size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    int64_t old = p ? int64_t(malloc_usable_size(p)) : 0;
    void* q = __libc_realloc(p, n);
    if (q || n == 0) add_live(-old);  // on failure the old block stays
    return counted(q);
}
void* aligned_alloc(size_t a, size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return counted(__libc_memalign(a, n));
}
void* memalign(size_t a, size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return counted(__libc_memalign(a, n));
}
int posix_memalign(void** out, size_t a, size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    void* p = counted(__libc_memalign(a, n));
    if (!p) return 12;  // ENOMEM
    *out = p;
    return 0;
}
void free(void* p) {
    if (p) add_live(-int64_t(malloc_usable_size(p)));
    __libc_free(p);
}
}
#endif
