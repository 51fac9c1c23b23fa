// The portable half of the wake fd: signalling, draining and closing work for
// both an eventfd (read_fd == write_fd, 8-byte counter) and a pipe (one byte
// per wake-up). wake_open() lives in the OS folder (port/linux tries eventfd
// first) because only it knows which kind the OS offers.
#include <port.hpp>

#include <unistd.h>

#include <cerrno>

namespace gust::port {

void wake_signal(const WakeFd& w) {
    // Called from signal handlers: only write(2), and errno is put back.
    int saved_errno = errno;
    if (w.write_fd >= 0) {
        ssize_t n;
        if (w.write_fd == w.read_fd) {
            uint64_t one = 1;  // eventfd adds it to its counter
            do n = ::write(w.write_fd, &one, sizeof one);
            while (n < 0 && errno == EINTR);
        } else {
            char byte = 1;
            do n = ::write(w.write_fd, &byte, 1);
            while (n < 0 && errno == EINTR);
        }
        // EAGAIN means the pipe or counter is full: a wake-up is pending already.
        (void)n;
    }
    errno = saved_errno;
}

void wake_drain(const WakeFd& w) {
    if (w.read_fd < 0) return;
    if (w.read_fd == w.write_fd) {
        uint64_t count;  // one read resets an eventfd counter to zero
        ssize_t n;
        do n = ::read(w.read_fd, &count, sizeof count);
        while (n < 0 && errno == EINTR);
        return;
    }
    char buf[64];
    for (;;) {
        ssize_t n = ::read(w.read_fd, buf, sizeof buf);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        break;  // empty (EAGAIN), closed, or an error: nothing more to consume
    }
}

void wake_close(WakeFd& w) {
    if (w.read_fd >= 0) ::close(w.read_fd);
    if (w.write_fd >= 0 && w.write_fd != w.read_fd) ::close(w.write_fd);
    w.read_fd = w.write_fd = -1;
}

}  // namespace gust::port
