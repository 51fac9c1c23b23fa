// poll(2) backend. Watched fds live in a dense pollfd array, so wait() hands
// the kernel exactly the live entries; removal swaps the last entry into the
// hole (O(1)) and a token -> index map finds an entry without a search. That
// map is why tokens must be < capacity (the loop uses its slot index).
#include <port.hpp>

#include "error_posix.hpp"

#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <new>

namespace gust::port {

namespace {

constexpr uint32_t kNoIndex = UINT32_MAX;

class PollPoller final : public Poller {
public:
    // All arrays come from one allocation made by create(); see poller_poll_create.
    PollPoller(size_t capacity, pollfd* fds, uint32_t* index_of_token, uint32_t* token_of_index, uint8_t* events)
        : capacity_(capacity), fds_(fds), index_of_token_(index_of_token), token_of_index_(token_of_index),
          events_(events) {
        for (size_t i = 0; i < capacity_; ++i) index_of_token_[i] = kNoIndex;
    }
    ~PollPoller() override { std::free(fds_); }

    Result<void> add(int fd, uint32_t token, uint8_t events) override {
        if (count_ == capacity_) return Error(Errc::no_memory, "poll poller is full (capacity reached)");
        if (fd < 0) return Error(Errc::invalid_argument, "poll poller: negative fd");
        if (token >= capacity_) return Error(Errc::invalid_argument, "poll poller: token must be < capacity");
        if (index_of_token_[token] != kNoIndex) return Error(Errc::invalid_argument, "poll poller: token already in use");
        size_t i = count_++;
        index_of_token_[token] = static_cast<uint32_t>(i);
        token_of_index_[i] = token;
        fds_[i].fd = fd;
        set_events(i, events);
        return ok();
    }

    Result<void> modify(int fd, uint32_t token, uint8_t events) override {
        size_t i = find(fd, token);
        if (i == kNoIndex) return Error(Errc::invalid_argument, "poll poller: fd/token not watched");
        set_events(i, events);
        return ok();
    }

    void remove(int fd, uint32_t token) override {
        size_t i = find(fd, token);
        if (i == kNoIndex) return;
        size_t last = --count_;
        if (i != last) {
            fds_[i] = fds_[last];
            events_[i] = events_[last];
            token_of_index_[i] = token_of_index_[last];
            index_of_token_[token_of_index_[i]] = static_cast<uint32_t>(i);
        }
        index_of_token_[token] = kNoIndex;
    }

    Result<size_t> wait(int timeout_ms, std::span<Fired> out) override {
        int n = ::poll(fds_, static_cast<nfds_t>(count_), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) return size_t{0};
            return detail::errno_error(errno, "poll() failed");
        }
        size_t fired = 0;
        for (size_t i = 0; i < count_ && fired < out.size() && n > 0; ++i) {
            short re = fds_[i].revents;
            if (re == 0) continue;
            --n;
            uint8_t ev = 0;
            if (re & POLLIN) ev |= kReadable;
            if (re & POLLOUT) ev |= kWritable;
            // Errors and hang-ups wake every watched direction, so a reader sees EOF and a writer the error.
            if (re & (POLLERR | POLLHUP | POLLNVAL)) ev |= kError | events_[i];
            out[fired++] = Fired{token_of_index_[i], ev};
        }
        return fired;
    }

    const char* name() const override { return "poll"; }

private:
    // The index of the entry for (fd, token), or kNoIndex.
    size_t find(int fd, uint32_t token) const {
        if (token >= capacity_) return kNoIndex;
        uint32_t i = index_of_token_[token];
        if (i == kNoIndex || real_fd(i) != fd) return kNoIndex;
        return i;
    }

    int real_fd(size_t i) const { return fds_[i].fd < 0 ? ~fds_[i].fd : fds_[i].fd; }

    void set_events(size_t i, uint8_t events) {
        int fd = real_fd(i);
        events_[i] = events & (kReadable | kWritable);
        short pe = 0;
        if (events & kReadable) pe |= POLLIN;
        if (events & kWritable) pe |= POLLOUT;
        fds_[i].events = pe;
        // poll() reports POLLHUP/POLLERR even for events == 0, which would
        // spin a loop that asked for quiet; a negative fd is skipped entirely,
        // and ~fd keeps the real fd recoverable (fd 0 becomes -1).
        fds_[i].fd = events_[i] == 0 ? ~fd : fd;
        fds_[i].revents = 0;
    }

    size_t capacity_;
    size_t count_ = 0;
    pollfd* fds_;
    uint32_t* index_of_token_;
    uint32_t* token_of_index_;
    uint8_t* events_;
};

}  // namespace

Poller* poller_poll_create(size_t capacity) {
    if (capacity == 0 || capacity >= kNoIndex) return nullptr;
    size_t bytes = capacity * (sizeof(pollfd) + 2 * sizeof(uint32_t) + sizeof(uint8_t));
    void* block = std::malloc(bytes);
    if (!block) return nullptr;
    auto* fds = static_cast<pollfd*>(block);
    auto* index_of_token = reinterpret_cast<uint32_t*>(fds + capacity);
    auto* token_of_index = index_of_token + capacity;
    auto* events = reinterpret_cast<uint8_t*>(token_of_index + capacity);
    auto* p = new (std::nothrow) PollPoller(capacity, fds, index_of_token, token_of_index, events);
    if (!p) std::free(block);
    return p;
}

}  // namespace gust::port
