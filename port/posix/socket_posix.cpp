// Non-blocking, close-on-exec TCP and UDP sockets over the BSD socket API.
// Every call retries EINTR itself (except close, see below), so callers only
// ever see a result or Errc::again.
#include <port.hpp>

#include "error_posix.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace gust::port {

using detail::errno_error;

namespace {

#ifdef MSG_NOSIGNAL
constexpr int kNoSignal = MSG_NOSIGNAL;
#else
constexpr int kNoSignal = 0;  // platforms without it use SO_NOSIGPIPE or ignore_sigpipe()
#endif

// Where SOCK_NONBLOCK/SOCK_CLOEXEC exist the flags are set atomically with the
// socket, so a concurrent fork+exec in another thread cannot inherit it.
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
constexpr int kSocketFlags = SOCK_NONBLOCK | SOCK_CLOEXEC;
#else
constexpr int kSocketFlags = 0;
#endif

FaultHook g_fault_hook = nullptr;
void* g_fault_user = nullptr;

// 0: go ahead (with *len perhaps lowered); else the errno the call fails with.
inline int injected_fault(FaultSite site, int fd, size_t* len) {
    if (!g_fault_hook) return 0;
    size_t want = *len;
    int e = g_fault_hook(g_fault_user, site, fd, len);
    if (*len == 0 || *len > want) *len = want;
    return e;
}

Result<void> make_nonblocking_cloexec(int fd) {
    if (kSocketFlags != 0) return ok();
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return errno_error(errno, "fcntl(O_NONBLOCK) failed");
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return errno_error(errno, "fcntl(FD_CLOEXEC) failed");
    return ok();
}

Result<int> open_socket(int family, int type) {
    int fd = ::socket(family, type | kSocketFlags, 0);
    if (fd < 0) return errno_error(errno, "socket() failed");
    if (auto r = make_nonblocking_cloexec(fd); !r) {
        ::close(fd);
        return r.error();
    }
    return fd;
}

const sockaddr* as_sockaddr(const Address& addr) { return reinterpret_cast<const sockaddr*>(addr.storage); }

// Copies a kernel-filled sockaddr into an Address (only IPv4 and IPv6 fit).
Result<Address> to_address(const sockaddr_storage& ss, socklen_t len) {
    if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) return Error(Errc::not_supported, "not an IP socket");
    if (len > sizeof(Address::storage)) return Error(Errc::not_supported, "socket address too long");
    Address addr;
    std::memcpy(addr.storage, &ss, len);
    addr.length = static_cast<uint32_t>(len);
    return addr;
}

Result<void> check_address(const Address& addr) {
    if (addr.length == 0 || addr.length > sizeof(Address::storage)) return Error(Errc::invalid_argument, "no address");
    return ok();
}

}  // namespace

Result<int> tcp_listen(const Address& addr, int backlog) {
    if (auto r = check_address(addr); !r) return r.error();
    int family = addr.is_ipv6() ? AF_INET6 : AF_INET;
    auto fd = open_socket(family, SOCK_STREAM);
    if (!fd) return fd;
    int one = 1;
    // SO_REUSEADDR: a restarted server can bind while old connections sit in TIME_WAIT.
    ::setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // V6ONLY: "[::]:80" and "0.0.0.0:80" are separate listeners on every OS alike.
    if (family == AF_INET6) ::setsockopt(*fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(*fd, as_sockaddr(addr), addr.length) < 0 || ::listen(*fd, backlog) < 0) {
        Error e = errno_error(errno, "bind/listen failed");
        ::close(*fd);
        return e;
    }
    return fd;
}

Result<int> tcp_accept(int listen_fd, Address* peer) {
    sockaddr_storage ss{};
    for (;;) {
        socklen_t len = sizeof ss;
        size_t unused = 1;
        if (int e = injected_fault(FaultSite::accept, listen_fd, &unused)) {
            errno = e;
            if (errno == EINTR) continue;
            if (errno == ECONNABORTED) return Error(Errc::again, "connection aborted before accept", errno);
            return errno_error(errno, "accept() failed");
        }
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
        int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        int fd = ::accept(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len);
        if (fd >= 0) {
            if (auto r = make_nonblocking_cloexec(fd); !r) {
                ::close(fd);
                return r.error();
            }
        }
#endif
        if (fd >= 0) {
            if (peer) {
                auto a = to_address(ss, len);
                *peer = a ? *a : Address{};
            }
            return fd;
        }
        if (errno == EINTR) continue;
        // The client gave up before we accepted: nothing is pending for us.
        if (errno == ECONNABORTED) return Error(Errc::again, "connection aborted before accept", errno);
        return errno_error(errno, "accept() failed");
    }
}

Result<int> tcp_connect(const Address& addr) {
    if (auto r = check_address(addr); !r) return r.error();
    auto fd = open_socket(addr.is_ipv6() ? AF_INET6 : AF_INET, SOCK_STREAM);
    if (!fd) return fd;
    if (::connect(*fd, as_sockaddr(addr), addr.length) == 0) return fd;
    // EINTR on a non-blocking connect: the connect carries on asynchronously.
    if (errno == EINPROGRESS || errno == EINTR) return fd;
    Error e = errno_error(errno, "connect() failed");
    ::close(*fd);
    return e;
}

Result<void> tcp_connect_result(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno_error(errno, "getsockopt(SO_ERROR) failed");
    if (err != 0) return errno_error(err, "connect failed");
    // No error but no peer either: the connect is still in flight.
    sockaddr_storage ss{};
    socklen_t ss_len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &ss_len) < 0) {
        if (errno == ENOTCONN) return Error(Errc::again, "connect still in progress", errno);
        return errno_error(errno, "getpeername() failed");
    }
    return ok();
}

Result<void> tcp_set_nodelay(int fd, bool on) {
    int value = on ? 1 : 0;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, sizeof value) < 0)
        return errno_error(errno, "setsockopt(TCP_NODELAY) failed");
    return ok();
}

Result<Address> local_address(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return errno_error(errno, "getsockname() failed");
    return to_address(ss, len);
}

Result<Address> peer_address(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return errno_error(errno, "getpeername() failed");
    return to_address(ss, len);
}

Result<size_t> read(int fd, std::span<uint8_t> out) {
    for (;;) {
        size_t len = out.size();
        ssize_t n;
        if (int e = injected_fault(FaultSite::read, fd, &len)) {
            errno = e;
            n = -1;
        } else {
            n = ::read(fd, out.data(), len);
        }
        if (n >= 0) return static_cast<size_t>(n);
        if (errno != EINTR) return errno_error(errno, "read() failed");
    }
}

Result<size_t> write(int fd, std::span<const uint8_t> data) {
    for (;;) {
        size_t len = data.size();
        if (int e = injected_fault(FaultSite::write, fd, &len)) {
            errno = e;
            if (errno != EINTR) return errno_error(errno, "write() failed");
            continue;
        }
        // send(MSG_NOSIGNAL): a closed peer gives EPIPE instead of killing the process.
        ssize_t n = ::send(fd, data.data(), len, kNoSignal);
        if (n < 0 && errno == ENOTSOCK) n = ::write(fd, data.data(), len);  // pipes, eventfd
        if (n >= 0) return static_cast<size_t>(n);
        if (errno != EINTR) return errno_error(errno, "write() failed");
    }
}

Result<size_t> writev(int fd, std::span<const std::span<const uint8_t>> parts) {
    // The iovec array lives on the stack; past kMaxParts the write is simply
    // short, which callers handle anyway. 16 is POSIX's minimum IOV_MAX.
    constexpr size_t kMaxParts = 16;
    iovec iov[kMaxParts];
    size_t count = parts.size() < kMaxParts ? parts.size() : kMaxParts;
    size_t total = 0;
    for (size_t i = 0; i < count; ++i) {
        iov[i].iov_base = const_cast<uint8_t*>(parts[i].data());
        iov[i].iov_len = parts[i].size();
        total += parts[i].size();
    }
    size_t allowed = total;
    for (;;) {
        int e = injected_fault(FaultSite::write, fd, &allowed);
        if (e == EINTR) continue;
        if (e) return errno_error(e, "writev() failed");
        break;
    }
    if (allowed < total) {  // a short write: trim the vector to `allowed` bytes
        size_t left = allowed, i = 0;
        for (; i < count && left >= iov[i].iov_len; ++i) left -= iov[i].iov_len;
        if (i < count) iov[i].iov_len = left;
        count = i + (i < count && left > 0 ? 1 : 0);
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<decltype(msg.msg_iovlen)>(count);
    for (;;) {
        ssize_t n = ::sendmsg(fd, &msg, kNoSignal);
        if (n < 0 && errno == ENOTSOCK) n = ::writev(fd, iov, static_cast<int>(count));
        if (n >= 0) return static_cast<size_t>(n);
        if (errno != EINTR) return errno_error(errno, "writev() failed");
    }
}

Result<void> shutdown_write(int fd) {
    if (::shutdown(fd, SHUT_WR) < 0) return errno_error(errno, "shutdown() failed");
    return ok();
}

void close(int fd) {
    // Not retried on EINTR: Linux has already released the fd, and a retry
    // could close a descriptor another thread just received.
    if (fd >= 0) ::close(fd);
}

Result<int> udp_open(const Address& bind_addr) {
    if (auto r = check_address(bind_addr); !r) return r.error();
    auto fd = open_socket(bind_addr.is_ipv6() ? AF_INET6 : AF_INET, SOCK_DGRAM);
    if (!fd) return fd;
    if (::bind(*fd, as_sockaddr(bind_addr), bind_addr.length) < 0) {
        Error e = errno_error(errno, "bind() failed");
        ::close(*fd);
        return e;
    }
    return fd;
}

Result<size_t> udp_send(int fd, std::span<const uint8_t> data, const Address& to) {
    if (auto r = check_address(to); !r) return r.error();
    for (;;) {
        ssize_t n = ::sendto(fd, data.data(), data.size(), kNoSignal, as_sockaddr(to), to.length);
        if (n >= 0) return static_cast<size_t>(n);
        if (errno != EINTR) return errno_error(errno, "sendto() failed");
    }
}

Result<size_t> udp_receive(int fd, std::span<uint8_t> out, Address* from) {
    sockaddr_storage ss{};
    iovec iov{out.data(), out.size()};
    msghdr msg{};
    for (;;) {
        msg = msghdr{};
        msg.msg_name = &ss;
        msg.msg_namelen = sizeof ss;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        ssize_t n = ::recvmsg(fd, &msg, 0);
        if (n >= 0) {
            // A datagram larger than `out` is cut by the kernel; say so rather than hand back half of it.
            if (msg.msg_flags & MSG_TRUNC) return Error(Errc::too_large, "datagram larger than the buffer (dropped)");
            if (from) {
                auto a = to_address(ss, msg.msg_namelen);
                *from = a ? *a : Address{};
            }
            return static_cast<size_t>(n);
        }
        if (errno != EINTR) return errno_error(errno, "recvmsg() failed");
    }
}

Result<void> socket_pair(int fds[2]) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | kSocketFlags, 0, fds) < 0) return errno_error(errno, "socketpair() failed");
    for (int i = 0; i < 2; ++i) {
        if (auto r = make_nonblocking_cloexec(fds[i]); !r) {
            ::close(fds[0]);
            ::close(fds[1]);
            fds[0] = fds[1] = -1;
            return r;
        }
    }
    return ok();
}

int max_open_files() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) < 0) return 1024;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > static_cast<rlim_t>(INT_MAX)) return INT_MAX;
    return static_cast<int>(rl.rlim_cur);
}

void set_fault_hook(FaultHook hook, void* user) {
    g_fault_user = user;
    g_fault_hook = hook;
}

}  // namespace gust::port
