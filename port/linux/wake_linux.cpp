// wake_open() for Linux: an eventfd (one fd, a counter that never fills up)
// when the kernel has it, else a non-blocking pipe (kernels before 2.6.27 or
// built without CONFIG_EVENTFD, which small boards sometimes are). Signalling
// and draining are in port/posix/wake_posix.cpp and handle both kinds.
#include <port.hpp>

#include "../posix/error_posix.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace gust::port {

Result<WakeFd> wake_open() {
    WakeFd w;
    int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd >= 0) {
        w.read_fd = w.write_fd = efd;
        return w;
    }
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return detail::errno_error(errno, "pipe2() failed");
    w.read_fd = fds[0];
    w.write_fd = fds[1];
    return w;
}

}  // namespace gust::port
