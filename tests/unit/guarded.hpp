// Test inputs placed so their last byte is the last readable byte before a
// PROT_NONE page: a parser that reads one byte too far faults at once
// (picohttpparser's test trick). Shared by every parser's tests.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

namespace gust_test {

class Guarded {
public:
    // Room for inputs of up to `cap` bytes.
    explicit Guarded(size_t cap = 4096) {
        page_ = size_t(sysconf(_SC_PAGESIZE));
        size_ = (cap + page_ - 1) / page_ * page_ + page_;
        void* m = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED || mprotect(static_cast<char*>(m) + size_ - page_, page_, PROT_NONE) != 0) std::abort();
        mem_ = static_cast<char*>(m);
    }
    ~Guarded() { munmap(mem_, size_); }
    Guarded(const Guarded&) = delete;
    Guarded& operator=(const Guarded&) = delete;

    // Copies `s` against the guard page; the copy lives until the next place().
    std::span<char> place(std::string_view s) {
        char* p = mem_ + size_ - page_ - s.size();
        if (!s.empty()) std::memmove(p, s.data(), s.size());
        return {p, s.size()};
    }
    std::string_view place_view(std::string_view s) {
        std::span<char> p = place(s);
        return {p.data(), p.size()};
    }
    std::span<const uint8_t> place(const uint8_t* data, size_t n) {
        std::span<char> p = place(std::string_view(reinterpret_cast<const char*>(data), n));
        return {reinterpret_cast<const uint8_t*>(p.data()), p.size()};
    }

private:
    char* mem_ = nullptr;
    size_t size_ = 0;
    size_t page_ = 0;
};

}  // namespace gust_test
