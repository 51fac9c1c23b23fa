// gust::Stream: one awaitable byte-stream interface over a socket, with
// timeouts. TcpStream is plain TCP; TLS (issue: TLS) implements the same two
// transport hooks, so the HTTP server and client never know which they have.
//
//   auto n = co_await stream.read(buf, 5s);        // Result<size_t>; 0 = peer closed
//   auto r = co_await stream.write_all(bytes, 5s); // Result<void>, waits while the peer is slow
//
// An operation first tries the socket at once (no suspension when data is
// there) and only then waits for readiness. Destroying the waiting coroutine
// cancels the wait; closing the stream fails pending operations with
// Errc::closed (on the next loop turn). At most one read and one write may be
// pending at a time.
#pragma once

#include <coroutine>
#include <cstdint>
#include <span>

#include <gust/clock.hpp>
#include <gust/loop.hpp>
#include <gust/result.hpp>

namespace gust {

// No deadline for a stream operation.
inline constexpr Duration kNoTimeout = Duration::max();

class Stream;

// The awaiter behind read(), write_some() and write_all().
class [[nodiscard]] IoAwaiter {
public:
    enum class Kind : uint8_t { read, write_some, write_all };
    IoAwaiter(Stream& s, Kind kind, std::span<uint8_t> buf, Duration timeout)
        : stream_(s), buf_(buf), timeout_(timeout), kind_(kind) {}
    IoAwaiter(IoAwaiter&& o) : stream_(o.stream_), buf_(o.buf_), timeout_(o.timeout_), kind_(o.kind_) {}
    ~IoAwaiter();

    bool await_ready();
    bool await_suspend(std::coroutine_handle<> h);
    Result<size_t> await_resume() const { return error_.code == Errc::ok ? Result<size_t>(done_) : Result<size_t>(error_); }

private:
    friend class Stream;
    bool attempt();  // true when finished (done_ or error_ set)
    void abort();    // the stream is closing: fail with Errc::closed on the next turn
    bool arm(uint8_t need);
    void disarm_fd();
    void disarm();
    void on_ready();
    void on_timeout();
    void finish();

    Stream& stream_;
    std::span<uint8_t> buf_;
    Duration timeout_;
    size_t done_ = 0;
    Error error_;
    std::coroutine_handle<> waiter_;
    TimerId timer_;
    ResumeNode resume_;  // for abort(): resumes on the next turn, not inside close()
    uint8_t armed_ = 0;  // port::kReadable or port::kWritable while waiting
    uint8_t need_ = 0;
    Kind kind_;
};

class Stream {
public:
    Stream() = default;
    virtual ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // Takes ownership of a connected non-blocking socket and watches it on `loop`.
    Result<void> attach(Loop& loop, int fd);
    // True between attach() and close().
    bool is_open() const { return fd_ >= 0; }
    int fd() const { return fd_; }
    Loop* loop() const { return loop_; }
    WatchId watch() const { return watch_; }

    // Reads what is available (at least one byte, or 0 at end of stream).
    IoAwaiter read(std::span<uint8_t> out, Duration timeout = kNoTimeout) {
        return IoAwaiter(*this, IoAwaiter::Kind::read, out, timeout);
    }
    // Writes at least one byte; yields how many.
    IoAwaiter write_some(std::span<const uint8_t> data, Duration timeout = kNoTimeout) {
        return IoAwaiter(*this, IoAwaiter::Kind::write_some, as_mutable(data), timeout);
    }
    // Writes everything, waiting while the peer is slow; yields data.size().
    IoAwaiter write_all(std::span<const uint8_t> data, Duration timeout = kNoTimeout) {
        return IoAwaiter(*this, IoAwaiter::Kind::write_all, as_mutable(data), timeout);
    }
    // True when bytes already received sit inside the stream (decrypted TLS
    // records) where a readiness wait on the socket would not see them.
    virtual bool has_buffered() const { return false; }
    // Sends end-of-stream (TCP FIN, or TLS close_notify then FIN); reading stays possible.
    virtual Result<void> shutdown();
    // Stops watching and closes the socket; pending operations must be gone.
    virtual void close();

    // Transport hooks: one non-blocking attempt. On Errc::again, `need` says
    // which readiness to wait for (TLS may need to write in order to read).
    virtual Result<size_t> try_read(std::span<uint8_t> out, uint8_t& need) = 0;
    virtual Result<size_t> try_write(std::span<const uint8_t> data, uint8_t& need) = 0;

protected:
    friend class IoAwaiter;
    void abort_pending();
    static std::span<uint8_t> as_mutable(std::span<const uint8_t> s) {
        return {const_cast<uint8_t*>(s.data()), s.size()};
    }
    Loop* loop_ = nullptr;
    int fd_ = -1;
    WatchId watch_;
    IoAwaiter* pending_[2] = {nullptr, nullptr};  // [0] read, [1] write
};

// Plain TCP.
class TcpStream final : public Stream {
public:
    ~TcpStream() override { close(); }
    Result<size_t> try_read(std::span<uint8_t> out, uint8_t& need) override;
    Result<size_t> try_write(std::span<const uint8_t> data, uint8_t& need) override;
};

}  // namespace gust
