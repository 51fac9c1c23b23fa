// epoll(7) backend: the kernel keeps the interest list, so wait() costs
// O(ready) rather than O(watched). Level-triggered, like poll and select, so
// the three backends are interchangeable under the loop.
//
// epoll always reports EPOLLERR/EPOLLHUP, even for an empty event mask. To
// make events == 0 really quiet, such an fd is taken out of the kernel's
// interest list (EPOLL_CTL_DEL) and put back by the next non-zero modify();
// a per-token state byte (tokens < capacity) remembers the watched events.
#include <port.hpp>

#include "../posix/error_posix.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <new>

namespace gust::port {

namespace {

// state_[token]: 0 when free, else kInUse | the watched kReadable/kWritable bits.
constexpr uint8_t kInUse = 0x80;
constexpr uint8_t kDirections = kReadable | kWritable;

class EpollPoller final : public Poller {
public:
    EpollPoller(int epfd, size_t capacity, epoll_event* ready, uint8_t* state)
        : epfd_(epfd), capacity_(capacity), ready_(ready), state_(state) {
        for (size_t i = 0; i < capacity_; ++i) state_[i] = 0;
    }
    ~EpollPoller() override {
        ::close(epfd_);
        std::free(ready_);
    }

    Result<void> add(int fd, uint32_t token, uint8_t events) override {
        if (count_ == capacity_) return Error(Errc::no_memory, "epoll poller is full (capacity reached)");
        if (fd < 0) return Error(Errc::invalid_argument, "epoll poller: negative fd");
        if (token >= capacity_) return Error(Errc::invalid_argument, "epoll poller: token must be < capacity");
        if (state_[token] != 0) return Error(Errc::invalid_argument, "epoll poller: token already in use");
        events &= kDirections;
        if (events != 0) {
            if (auto r = control(EPOLL_CTL_ADD, fd, token, events); !r) return r;
        }
        state_[token] = kInUse | events;
        ++count_;
        return ok();
    }

    Result<void> modify(int fd, uint32_t token, uint8_t events) override {
        if (token >= capacity_ || state_[token] == 0)
            return Error(Errc::invalid_argument, "epoll poller: token not watched");
        events &= kDirections;
        bool armed = (state_[token] & kDirections) != 0;
        Result<void> r;
        if (armed && events != 0) r = control(EPOLL_CTL_MOD, fd, token, events);
        else if (armed) r = control(EPOLL_CTL_DEL, fd, token, 0);
        else if (events != 0) r = control(EPOLL_CTL_ADD, fd, token, events);
        if (!r) return r;
        state_[token] = kInUse | events;
        return ok();
    }

    void remove(int fd, uint32_t token) override {
        if (token >= capacity_ || state_[token] == 0) return;
        if (state_[token] & kDirections) (void)control(EPOLL_CTL_DEL, fd, token, 0);
        state_[token] = 0;
        --count_;
    }

    Result<size_t> wait(int timeout_ms, std::span<Fired> out) override {
        // Level-triggered: whatever does not fit in `out` is reported again next time.
        size_t room = out.size() < capacity_ ? out.size() : capacity_;
        if (room == 0) room = 1;  // epoll_wait rejects maxevents 0; the extra report is simply dropped
        int n = ::epoll_wait(epfd_, ready_, static_cast<int>(room), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) return size_t{0};
            return detail::errno_error(errno, "epoll_wait() failed");
        }
        size_t fired = 0;
        for (int i = 0; i < n && fired < out.size(); ++i) {
            uint32_t re = ready_[i].events;
            uint32_t token = ready_[i].data.u32;
            if (token >= capacity_) continue;  // cannot happen: add() checked it
            uint8_t ev = 0;
            if (re & EPOLLIN) ev |= kReadable;
            if (re & EPOLLOUT) ev |= kWritable;
            // Errors and hang-ups wake every watched direction so readers see EOF and writers the error.
            if (re & (EPOLLERR | EPOLLHUP)) ev |= kError | (state_[token] & kDirections);
            out[fired++] = Fired{token, ev};
        }
        return fired;
    }

    const char* name() const override { return "epoll"; }

private:
    Result<void> control(int op, int fd, uint32_t token, uint8_t events) {
        epoll_event ev{};
        if (events & kReadable) ev.events |= EPOLLIN;
        if (events & kWritable) ev.events |= EPOLLOUT;
        ev.data.u32 = token;
        if (::epoll_ctl(epfd_, op, fd, &ev) < 0) return detail::errno_error(errno, "epoll_ctl() failed");
        return ok();
    }

    int epfd_;
    size_t capacity_;
    size_t count_ = 0;
    epoll_event* ready_;
    uint8_t* state_;
};

}  // namespace

Poller* poller_epoll_create(size_t capacity) {
    if (capacity == 0 || capacity > static_cast<size_t>(INT32_MAX)) return nullptr;
    int epfd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) return nullptr;
    void* block = std::malloc(capacity * (sizeof(epoll_event) + sizeof(uint8_t)));
    if (!block) {
        ::close(epfd);
        return nullptr;
    }
    auto* ready = static_cast<epoll_event*>(block);
    auto* state = reinterpret_cast<uint8_t*>(ready + capacity);
    auto* p = new (std::nothrow) EpollPoller(epfd, capacity, ready, state);
    if (!p) {
        ::close(epfd);
        std::free(block);
    }
    return p;
}

}  // namespace gust::port
