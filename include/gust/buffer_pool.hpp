// Fixed-size I/O buffers, reserved once. A connection borrows a buffer while
// bytes are in flight and gives it back when it goes idle, so an idle
// keep-alive connection holds no buffer at all. Exhaustion is an empty
// Buffer, never a heap allocation. Loop-thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace gust {

class BufferPool;

// A borrowed buffer; returns itself to its pool when destroyed or reset.
class Buffer {
public:
    Buffer() = default;
    Buffer(Buffer&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), data_(std::exchange(o.data_, nullptr)) {}
    Buffer& operator=(Buffer&& o) noexcept {
        if (this != &o) {
            reset();
            pool_ = std::exchange(o.pool_, nullptr);
            data_ = std::exchange(o.data_, nullptr);
        }
        return *this;
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { reset(); }

    // False when the pool was exhausted.
    explicit operator bool() const { return data_ != nullptr; }
    uint8_t* data() const { return data_; }
    char* chars() const { return reinterpret_cast<char*>(data_); }
    size_t size() const;
    std::span<uint8_t> span() const { return {data_, size()}; }
    // Gives the buffer back to its pool now.
    void reset();

private:
    friend class BufferPool;
    Buffer(BufferPool* pool, uint8_t* data) : pool_(pool), data_(data) {}
    BufferPool* pool_ = nullptr;
    uint8_t* data_ = nullptr;
};

class BufferPool {
public:
    // Reserves `count` buffers of `size` bytes (start-up only). Check capacity() for failure.
    BufferPool(size_t count, size_t size);
    ~BufferPool();
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    // A free buffer, or an empty Buffer when all are borrowed.
    Buffer acquire();
    size_t buffer_size() const { return size_; }
    size_t capacity() const { return count_; }
    size_t in_use() const { return in_use_; }
    size_t high_water() const { return high_water_; }
    uint64_t refused() const { return refused_; }

private:
    friend class Buffer;
    void release(uint8_t* data);
    struct FreeBuffer { FreeBuffer* next; };

    uint8_t* memory_ = nullptr;
    size_t size_ = 0;
    size_t count_ = 0;
    size_t bumped_ = 0;  // buffers handed out at least once; the rest are untouched pages
    FreeBuffer* free_ = nullptr;
    size_t in_use_ = 0;
    size_t high_water_ = 0;
    uint64_t refused_ = 0;
};

inline size_t Buffer::size() const { return pool_ ? pool_->buffer_size() : 0; }
// Inline: a request borrows and returns two buffers.
inline Buffer BufferPool::acquire() {
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
inline void BufferPool::release(uint8_t* data) {
    auto* f = reinterpret_cast<FreeBuffer*>(data);
    f->next = free_;
    free_ = f;
    --in_use_;
}
inline void Buffer::reset() {
    if (data_) pool_->release(data_);
    data_ = nullptr;
    pool_ = nullptr;
}

}  // namespace gust
