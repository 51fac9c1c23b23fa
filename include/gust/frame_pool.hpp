// The pool every coroutine frame comes from: a few size classes, each a
// fixed number of blocks allocated once. One pool per thread (each loop
// thread has its own; frames never cross threads). Exhaustion is a null
// return, which Task turns into Error::no_memory; it never falls back to the heap.
#pragma once

#include <cstddef>
#include <cstdint>

#include <gust/limits.hpp>

namespace gust {

struct FrameClassStats {
    uint32_t block_size = 0;
    uint32_t capacity = 0;
    uint32_t in_use = 0;
    uint32_t high_water = 0;
    uint64_t refused = 0;  // allocations that found this class full
};

class FramePool;

namespace detail {
// What coroutine promises call: this thread's pool in one call, no lookup per use.
void* frame_allocate(size_t size) noexcept;
void frame_release(void* block, size_t size) noexcept;
}  // namespace detail

class FramePool {
public:
    // This thread's pool; configured with the board defaults on first use.
    static FramePool& local();

    // Sizes every class (blocks per class). Refused with Errc::invalid_argument
    // while frames are in use. Memory is reserved once; pages are touched lazily.
    bool configure(const uint32_t (&counts)[kFrameClasses]);
    // A block of at least `size` bytes, or nullptr when its class is exhausted or size > 8192.
    void* allocate(size_t size) noexcept;
    // Returns a block from allocate(); `size` must be the size it was allocated with.
    void release(void* block, size_t size) noexcept;

    // Usage of size class `i`.
    FrameClassStats stats(int i) const;
    // Frames in class `first` and every larger one: how many frames of
    // frame_class_size(first) bytes can be live at once.
    uint32_t capacity_from(int first) const;
    // Frames currently allocated, over all classes.
    uint32_t in_use() const;
    // Total bytes reserved for frames.
    size_t reserved_bytes() const { return bytes_; }

    FramePool() = default;
    ~FramePool();
    FramePool(const FramePool&) = delete;
    FramePool& operator=(const FramePool&) = delete;

private:
    friend void* detail::frame_allocate(size_t size) noexcept;
    friend void detail::frame_release(void* block, size_t size) noexcept;
    static FramePool& first_use();
    struct FreeBlock { FreeBlock* next; };
    struct SizeClass {
        unsigned char* base = nullptr;
        uint32_t block_size = 0;
        uint32_t capacity = 0;
        uint32_t bumped = 0;  // blocks handed out at least once; the rest are untouched
        uint32_t in_use = 0;
        uint32_t high_water = 0;
        uint64_t refused = 0;
        FreeBlock* free = nullptr;
    };
    void reset();

    SizeClass classes_[kFrameClasses];
    unsigned char* memory_ = nullptr;
    size_t bytes_ = 0;
    bool configured_ = false;
};

}  // namespace gust
