// Small configuration files: stat for change detection and a bounded read.
#include <port.hpp>

#include "error_posix.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace gust::port {

Result<FileStamp> file_stamp(const char* path) {
    struct stat st {};
    for (;;) {
        if (::stat(path, &st) == 0) break;
        if (errno == EINTR) continue;
        if (errno == ENOENT || errno == ENOTDIR) return Error(Errc::not_found, "file does not exist", errno);
        return detail::errno_error(errno, "stat() failed");
    }
    FileStamp s;
    s.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + int64_t(st.st_mtim.tv_nsec);
    s.size = uint64_t(st.st_size);
    s.inode = uint64_t(st.st_ino);
    s.directory = S_ISDIR(st.st_mode);
    return s;
}

Result<size_t> read_file(const char* path, std::span<uint8_t> out) {
    int fd;
    for (;;) {
        fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) break;
        if (errno == EINTR) continue;
        if (errno == ENOENT || errno == ENOTDIR) return Error(Errc::not_found, "file does not exist", errno);
        return detail::errno_error(errno, "open() failed");
    }
    size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::read(fd, out.data() + done, out.size() - done);
        if (n > 0) {
            done += size_t(n);
            continue;
        }
        if (n == 0) break;
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return detail::errno_error(err, "read() failed");
    }
    ::close(fd);
    return done;
}

Result<size_t> read_file_at(const char* path, uint64_t offset, std::span<uint8_t> out) {
    int fd;
    for (;;) {
        fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) break;
        if (errno == EINTR) continue;
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            return Error(Errc::not_found, "file does not exist", errno);
        return detail::errno_error(errno, "open() failed");
    }
    size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::pread(fd, out.data() + done, out.size() - done, off_t(offset + done));
        if (n > 0) {
            done += size_t(n);
            continue;
        }
        if (n == 0) break;
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return detail::errno_error(err, "read() failed");
    }
    ::close(fd);
    return done;
}

}  // namespace gust::port
