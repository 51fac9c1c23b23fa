// errno -> gust::Error. Messages are string literals rather than strerror():
// strerror's buffer is not static on every libc and is not thread-safe.
#include "error_posix.hpp"

#include <cerrno>

namespace gust::port::detail {

namespace {

Errc errc_for(int err) {
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return Errc::again;
    case ECONNREFUSED: return Errc::refused;
    case ECONNRESET:
    case EPIPE: return Errc::reset;
    case ETIMEDOUT: return Errc::timeout;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS: return Errc::no_memory;
    default: return Errc::io;
    }
}

const char* message_for(int err) {
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return "operation would block";
    case ECONNREFUSED: return "connection refused";
    case ECONNRESET: return "connection reset by peer";
    case EPIPE: return "broken pipe (peer closed)";
    case ETIMEDOUT: return "connection timed out";
    case EMFILE: return "too many open files in this process";
    case ENFILE: return "too many open files in the system";
    case ENOMEM: return "out of kernel memory";
    case ENOBUFS: return "no kernel buffer space";
    case EADDRINUSE: return "address already in use";
    case EADDRNOTAVAIL: return "address not available on this host";
    case EAFNOSUPPORT: return "address family not supported";
    case EACCES: return "permission denied";
    case EPERM: return "operation not permitted";
    case ENETUNREACH: return "network unreachable";
    case EHOSTUNREACH: return "host unreachable";
    case ENETDOWN: return "network is down";
    case ENOTCONN: return "socket not connected";
    case EBADF: return "bad file descriptor";
    case EINVAL: return "invalid argument";
    case ENOENT: return "no such file or directory";
    case EMSGSIZE: return "message too long";
    case ECONNABORTED: return "connection aborted";
    case EINPROGRESS: return "operation in progress";
    default: return nullptr;
    }
}

}  // namespace

Error errno_error(int err, const char* fallback) {
    const char* msg = message_for(err);
    return Error(errc_for(err), msg ? msg : fallback, err);
}

}  // namespace gust::port::detail
