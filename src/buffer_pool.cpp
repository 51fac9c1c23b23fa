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

Buffer BufferPool::acquire() {
    uint8_t* data = nullptr;
    if (free_) {
        data = reinterpret_cast<uint8_t*>(free_);
        free_ = free_->next;
    } else if (bumped_ < count_) {
        data = memory_ + bumped_++ * size_;
    } else {
        ++refused_;
        return Buffer();
    }
    if (++in_use_ > high_water_) high_water_ = in_use_;
    return Buffer(this, data);
}

void BufferPool::release(uint8_t* data) {
    auto* f = reinterpret_cast<FreeBuffer*>(data);
    f->next = free_;
    free_ = f;
    --in_use_;
}

}  // namespace gust
