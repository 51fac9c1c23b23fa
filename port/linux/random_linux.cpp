// Random bytes from the kernel: the getrandom syscall (Linux 3.17+) called
// directly, so old libcs without a getrandom() wrapper (uClibc, glibc < 2.25)
// still get it; /dev/urandom where the kernel predates it.
#include <port.hpp>

#include "../posix/error_posix.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace gust::port {

namespace {

// Fills `out` from /dev/urandom; never reads fewer bytes than asked.
Result<void> read_urandom(std::span<uint8_t> out) {
    int fd;
    do fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return detail::errno_error(errno, "cannot open /dev/urandom");
    size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::read(fd, out.data() + done, out.size() - done);
        if (n > 0) {
            done += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            int err = n < 0 ? errno : EIO;
            ::close(fd);
            return detail::errno_error(err, "reading /dev/urandom failed");
        }
    }
    ::close(fd);
    return ok();
}

}  // namespace

Result<void> random_bytes(std::span<uint8_t> out) {
#ifdef SYS_getrandom
    size_t done = 0;
    while (done < out.size()) {
        // flags 0: blocks only until the pool is first seeded, then never.
        long n = ::syscall(SYS_getrandom, out.data() + done, out.size() - done, 0);
        if (n > 0) {
            done += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == ENOSYS || errno == EPERM)) break;  // old kernel or seccomp: use the device
        return detail::errno_error(n < 0 ? errno : EIO, "getrandom() failed");
    }
    if (done == out.size()) return ok();
    return read_urandom(out.subspan(done));
#else
    return read_urandom(out);
#endif
}

}  // namespace gust::port
