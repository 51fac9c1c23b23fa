#include <gust/frame_pool.hpp>

#include <cstdlib>

#include <gust/log.hpp>

namespace gust {

namespace {
// Every coroutine frame goes through this pointer: a plain thread_local
// pointer reads in one instruction, where the pool object itself (it has a
// destructor) would be checked for initialisation on every use.
thread_local FramePool* t_pool = nullptr;
}  // namespace

FramePool& FramePool::first_use() {
    static thread_local FramePool pool;
    if (!pool.configured_) {
        Limits defaults;
        pool.configure(defaults.frame_counts);
    }
    t_pool = &pool;
    return pool;
}

FramePool& FramePool::local() {
    FramePool* p = t_pool;
    return p ? *p : first_use();
}

void* detail::frame_allocate(size_t size) noexcept {
    FramePool* p = t_pool;
    return (p ? *p : FramePool::first_use()).allocate(size);
}

void detail::frame_release(void* block, size_t size) noexcept {
    FramePool* p = t_pool;
    (p ? *p : FramePool::first_use()).release(block, size);
}

FramePool::~FramePool() { reset(); }

void FramePool::reset() {
    std::free(memory_);
    memory_ = nullptr;
    bytes_ = 0;
    for (auto& c : classes_) c = SizeClass{};
    configured_ = false;
}

bool FramePool::configure(const uint32_t (&counts)[kFrameClasses]) {
    if (in_use() != 0) {
        log_error("frame pool: cannot resize while %u frames are in use", unsigned(in_use()));
        return false;
    }
    size_t total = 0;
    for (int i = 0; i < kFrameClasses; ++i) total += size_t(counts[i]) * frame_class_size(i);
    if (configured_ && total == bytes_) {
        bool same = true;
        for (int i = 0; i < kFrameClasses; ++i) same = same && classes_[i].capacity == counts[i];
        if (same) return true;
    }
    reset();
    // One reservation at start-up; untouched blocks cost no resident memory.
    memory_ = static_cast<unsigned char*>(std::malloc(total ? total : 1));
    if (!memory_) return false;
    bytes_ = total;
    unsigned char* p = memory_;
    for (int i = 0; i < kFrameClasses; ++i) {
        classes_[i].base = p;
        classes_[i].block_size = frame_class_size(i);
        classes_[i].capacity = counts[i];
        p += size_t(counts[i]) * frame_class_size(i);
    }
    configured_ = true;
    return true;
}

// The smallest class that holds `size` bytes (classes double from 128), or -1.
static int class_for(size_t size) {
    if (size <= frame_class_size(0)) return 0;
    int i = int(sizeof(unsigned long long) * 8) - __builtin_clzll(static_cast<unsigned long long>(size - 1)) - 7;
    return i < kFrameClasses ? i : -1;
}

void* FramePool::allocate(size_t size) noexcept {
    int i = class_for(size);
    if (i < 0) {
        log_error("frame pool: a coroutine frame of %zu bytes is larger than the largest class (%u)",
                  size, unsigned(frame_class_size(kFrameClasses - 1)));
        return nullptr;
    }
    // A full class spills into the next larger one before giving up.
    for (; i < kFrameClasses; ++i) {
        SizeClass& c = classes_[i];
        void* block = nullptr;
        if (c.free) {
            block = c.free;
            c.free = c.free->next;
        } else if (c.bumped < c.capacity) {
            block = c.base + size_t(c.bumped++) * c.block_size;
        } else {
            ++c.refused;
            continue;
        }
        if (++c.in_use > c.high_water) c.high_water = c.in_use;
        return block;
    }
    return nullptr;
}

void FramePool::release(void* block, size_t size) noexcept {
    if (!block) return;
    auto* p = static_cast<unsigned char*>(block);
    auto holds = [p](const SizeClass& c) { return p >= c.base && p < c.base + size_t(c.capacity) * c.block_size; };
    // The block's address tells its class. Its size names the likely one
    // (unless it spilled upwards): try that before searching.
    int i = class_for(size);
    if (i < 0 || !holds(classes_[i])) {
        for (i = 0; i < kFrameClasses && !holds(classes_[i]); ++i) {
        }
        if (i == kFrameClasses) return;
    }
    SizeClass& c = classes_[i];
    auto* f = static_cast<FreeBlock*>(block);
    f->next = c.free;
    c.free = f;
    --c.in_use;
}

FrameClassStats FramePool::stats(int i) const {
    const SizeClass& c = classes_[i];
    return {c.block_size, c.capacity, c.in_use, c.high_water, c.refused};
}

uint32_t FramePool::capacity_from(int first) const {
    uint32_t n = 0;
    for (int i = first; i < kFrameClasses; ++i) n += classes_[i].capacity;
    return n;
}

uint32_t FramePool::in_use() const {
    uint32_t n = 0;
    for (auto& c : classes_) n += c.in_use;
    return n;
}

}  // namespace gust
