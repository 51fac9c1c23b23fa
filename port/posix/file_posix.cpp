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

namespace {

// Opens `path` read-only, retrying EINTR; a missing file (or, with
// `nofollow`, a symlink) is Errc::not_found.
Result<int> open_for_reading(const char* path, bool nofollow) {
    for (;;) {
        int fd = ::open(path, O_RDONLY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
        if (fd >= 0) return fd;
        if (errno == EINTR) continue;
        if (errno == ENOENT || errno == ENOTDIR || (nofollow && errno == ELOOP))
            return Error(Errc::not_found, "file does not exist", errno);
        return detail::errno_error(errno, "open() failed");
    }
}

// Reads until `out` is full or end of file, then closes fd. With an offset
// it reads with pread (files); without, with read (also /proc and pipes).
Result<size_t> fill_and_close(int fd, std::span<uint8_t> out, const uint64_t* offset) {
    size_t done = 0;
    while (done < out.size()) {
        ssize_t n = offset ? ::pread(fd, out.data() + done, out.size() - done, off_t(*offset + done))
                           : ::read(fd, out.data() + done, out.size() - done);
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

}  // namespace

Result<size_t> read_file(const char* path, std::span<uint8_t> out) {
    auto fd = open_for_reading(path, false);
    if (!fd) return fd.error();
    return fill_and_close(*fd, out, nullptr);
}

Result<size_t> read_file_at(const char* path, uint64_t offset, std::span<uint8_t> out) {
    auto fd = open_for_reading(path, true);
    if (!fd) return fd.error();
    return fill_and_close(*fd, out, &offset);
}

}  // namespace gust::port
