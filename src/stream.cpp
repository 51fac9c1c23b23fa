#include <gust/stream.hpp>

#include "port.hpp"

namespace gust {

Stream::~Stream() = default;

Result<void> Stream::attach(Loop& loop, int fd) {
    auto w = loop.add_watch(fd);
    if (!w) return w.error();
    loop_ = &loop;
    fd_ = fd;
    watch_ = *w;
    return {};
}

Result<void> Stream::shutdown() {
    if (fd_ < 0) return Error(Errc::closed, "stream: not open");
    return port::shutdown_write(fd_);
}

void Stream::abort_pending() {
    for (IoAwaiter*& p : pending_) {
        if (p) {
            IoAwaiter* a = p;
            p = nullptr;
            a->abort();
        }
    }
}

void Stream::close() {
    if (fd_ < 0) return;
    abort_pending();
    if (loop_) loop_->remove_watch(watch_);
    port::close(fd_);
    fd_ = -1;
    watch_ = WatchId();
}

Result<size_t> TcpStream::try_read(std::span<uint8_t> out, uint8_t& need) {
    need = port::kReadable;
    return port::read(fd_, out);
}

Result<size_t> TcpStream::try_write(std::span<const uint8_t> data, uint8_t& need) {
    need = port::kWritable;
    return port::write(fd_, data);
}

// ---- IoAwaiter -------------------------------------------------------------------

IoAwaiter::~IoAwaiter() {
    disarm();
    IoAwaiter*& slot = stream_.pending_[kind_ == Kind::read ? 0 : 1];
    if (slot == this) slot = nullptr;
}

void IoAwaiter::abort() {
    disarm();
    error_ = Error(Errc::closed, "stream: closed while waiting");
    resume_.handle = waiter_;
    stream_.loop()->schedule(resume_);
}

bool IoAwaiter::attempt() {
    if (!stream_.is_open()) {
        error_ = Error(Errc::closed, "stream: closed");
        return true;
    }
    for (;;) {
        auto rest = buf_.subspan(done_);
        Result<size_t> r = kind_ == Kind::read ? stream_.try_read(rest, need_) : stream_.try_write(rest, need_);
        if (!r) {
            if (r.error().code == Errc::again) return false;
            error_ = r.error();
            return true;
        }
        done_ += *r;
        if (kind_ != Kind::write_all || done_ == buf_.size() || *r == 0) return true;
    }
}

bool IoAwaiter::await_ready() {
    if (buf_.empty() && kind_ != Kind::read) return true;
    return attempt();
}

bool IoAwaiter::await_suspend(std::coroutine_handle<> h) {
    waiter_ = h;
    if (!arm(need_)) return false;
    stream_.pending_[kind_ == Kind::read ? 0 : 1] = this;
    if (timeout_ != kNoTimeout) {
        auto t = stream_.loop()->call_later(timeout_, [this] { on_timeout(); });
        if (!t) {
            disarm();
            error_ = t.error();
            return false;
        }
        timer_ = *t;
    }
    return true;
}

bool IoAwaiter::arm(uint8_t need) {
    Loop* loop = stream_.loop();
    auto cb = [this] { on_ready(); };
    auto r = need == port::kReadable ? loop->on_readable(stream_.watch(), cb) : loop->on_writable(stream_.watch(), cb);
    if (!r) {
        error_ = r.error();
        return false;
    }
    armed_ = need;
    return true;
}

void IoAwaiter::disarm_fd() {
    Loop* loop = stream_.loop();
    if (armed_ && stream_.is_open()) {
        if (armed_ == port::kReadable) (void)loop->on_readable(stream_.watch(), nullptr);
        else (void)loop->on_writable(stream_.watch(), nullptr);
    }
    armed_ = 0;
}

void IoAwaiter::disarm() {
    disarm_fd();
    Loop* loop = stream_.loop();
    if (timer_) {
        loop->cancel(timer_);
        timer_ = TimerId();
    }
}

void IoAwaiter::on_ready() {
    // Runs inside the watch callback that disarm() may destroy: use only `this`.
    IoAwaiter* self = this;
    if (!self->attempt()) {
        if (self->need_ != self->armed_) {  // TLS changed its mind about what it needs
            uint8_t need = self->need_;
            self->disarm_fd();
            if (!self->arm(need)) self->finish();
        }
        return;
    }
    self->finish();
}

void IoAwaiter::finish() {
    disarm();
    IoAwaiter*& slot = stream_.pending_[kind_ == Kind::read ? 0 : 1];
    if (slot == this) slot = nullptr;
    waiter_.resume();
}

void IoAwaiter::on_timeout() {
    timer_ = TimerId();  // the timer is firing; nothing to cancel
    disarm();
    IoAwaiter*& slot = stream_.pending_[kind_ == Kind::read ? 0 : 1];
    if (slot == this) slot = nullptr;
    error_ = Error(Errc::timeout, kind_ == Kind::read ? "stream: read timed out" : "stream: write timed out");
    waiter_.resume();
}

}  // namespace gust
