// select(2) backend, for kernels and libcs where poll is missing or broken.
// fd_set is a fixed bitmap of FD_SETSIZE bits: FD_SET on a larger fd writes
// past it, so add() refuses such fds instead of corrupting memory. The fd
// sets are rebuilt from a dense entry array on every wait() (select
// overwrites them anyway), and entries are kept like the poll backend's:
// swap-with-last removal plus a token -> index map, so tokens are < capacity.
#include <port.hpp>

#include "error_posix.hpp"

#include <sys/select.h>

#include <cerrno>
#include <cstdlib>
#include <new>

namespace gust::port {

namespace {

constexpr uint32_t kNoIndex = UINT32_MAX;

struct Entry {
    int fd;
    uint32_t token;
    uint8_t events;  // kReadable | kWritable; 0 means watched but quiet
};

class SelectPoller final : public Poller {
public:
    SelectPoller(size_t capacity, Entry* entries, uint32_t* index_of_token)
        : capacity_(capacity), entries_(entries), index_of_token_(index_of_token) {
        for (size_t i = 0; i < capacity_; ++i) index_of_token_[i] = kNoIndex;
    }
    ~SelectPoller() override { std::free(entries_); }

    Result<void> add(int fd, uint32_t token, uint8_t events) override {
        if (fd < 0 || fd >= FD_SETSIZE)
            return Error(Errc::invalid_argument, "select poller cannot watch an fd >= FD_SETSIZE; use poll or epoll");
        if (count_ == capacity_) return Error(Errc::no_memory, "select poller is full (capacity reached)");
        if (token >= capacity_) return Error(Errc::invalid_argument, "select poller: token must be < capacity");
        if (index_of_token_[token] != kNoIndex) return Error(Errc::invalid_argument, "select poller: token already in use");
        size_t i = count_++;
        index_of_token_[token] = static_cast<uint32_t>(i);
        entries_[i] = Entry{fd, token, static_cast<uint8_t>(events & (kReadable | kWritable))};
        return ok();
    }

    Result<void> modify(int fd, uint32_t token, uint8_t events) override {
        size_t i = find(fd, token);
        if (i == kNoIndex) return Error(Errc::invalid_argument, "select poller: fd/token not watched");
        entries_[i].events = events & (kReadable | kWritable);
        return ok();
    }

    void remove(int fd, uint32_t token) override {
        size_t i = find(fd, token);
        if (i == kNoIndex) return;
        size_t last = --count_;
        if (i != last) {
            entries_[i] = entries_[last];
            index_of_token_[entries_[i].token] = static_cast<uint32_t>(i);
        }
        index_of_token_[token] = kNoIndex;
    }

    Result<size_t> wait(int timeout_ms, std::span<Fired> out) override {
        fd_set readable;
        fd_set writable;
        FD_ZERO(&readable);
        FD_ZERO(&writable);
        int max_fd = -1;
        for (size_t i = 0; i < count_; ++i) {
            const Entry& e = entries_[i];
            if (e.events & kReadable) FD_SET(e.fd, &readable);
            if (e.events & kWritable) FD_SET(e.fd, &writable);
            if (e.events && e.fd > max_fd) max_fd = e.fd;
        }
        timeval tv{};
        timeval* tvp = nullptr;
        if (timeout_ms >= 0) {
            tv.tv_sec = static_cast<decltype(tv.tv_sec)>(timeout_ms / 1000);
            tv.tv_usec = static_cast<decltype(tv.tv_usec)>((timeout_ms % 1000) * 1000);
            tvp = &tv;
        }
        int n = ::select(max_fd + 1, &readable, &writable, nullptr, tvp);
        if (n < 0) {
            if (errno == EINTR) return size_t{0};
            // EBADF here means an fd was closed before remove(): a caller bug.
            return detail::errno_error(errno, "select() failed");
        }
        // select has no error or hang-up bits: both show up as readable (read
        // returns 0 or the error) and, on sockets, writable.
        size_t fired = 0;
        for (size_t i = 0; i < count_ && fired < out.size() && n > 0; ++i) {
            const Entry& e = entries_[i];
            uint8_t ev = 0;
            if ((e.events & kReadable) && FD_ISSET(e.fd, &readable)) ev |= kReadable;
            if ((e.events & kWritable) && FD_ISSET(e.fd, &writable)) ev |= kWritable;
            if (ev == 0) continue;
            --n;
            out[fired++] = Fired{e.token, ev};
        }
        return fired;
    }

    const char* name() const override { return "select"; }

private:
    size_t find(int fd, uint32_t token) const {
        if (token >= capacity_) return kNoIndex;
        uint32_t i = index_of_token_[token];
        if (i == kNoIndex || entries_[i].fd != fd) return kNoIndex;
        return i;
    }

    size_t capacity_;
    size_t count_ = 0;
    Entry* entries_;
    uint32_t* index_of_token_;
};

}  // namespace

Poller* poller_select_create(size_t capacity) {
    if (capacity == 0 || capacity >= kNoIndex) return nullptr;
    void* block = std::malloc(capacity * (sizeof(Entry) + sizeof(uint32_t)));
    if (!block) return nullptr;
    auto* entries = static_cast<Entry*>(block);
    auto* index_of_token = reinterpret_cast<uint32_t*>(entries + capacity);
    auto* p = new (std::nothrow) SelectPoller(capacity, entries, index_of_token);
    if (!p) std::free(block);
    return p;
}

}  // namespace gust::port
