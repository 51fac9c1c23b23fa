#include <gust/buffer_pool.hpp>

#include <cstdlib>

namespace gust {

BufferPool::BufferPool(size_t count, size_t size) {
    // Pointer-aligned sizes keep the free-list links aligned.
    size = (size + alignof(void*) - 1) & ~(alignof(void*) - 1);
    size_t total = count * size;
    memory_ = static_cast<uint8_t*>(std::malloc(total ? total : 1));
    if (!memory_) return;
    size_ = size;
    count_ = count;
}

BufferPool::~BufferPool() { std::free(memory_); }

}  // namespace gust
