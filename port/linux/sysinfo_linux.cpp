// System facts for status APIs, read from /proc and /sys. Files are read with
// open/read into stack buffers and directories with getdents64, because
// fopen and opendir allocate from the heap and a status request must not.
#include <port.hpp>

#include "../posix/error_posix.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace gust::port {

using detail::errno_error;

namespace {

// Reads a whole small file into `buf` (NUL-terminated); returns its length.
Result<size_t> read_small_file(const char* path, char* buf, size_t size) {
    int fd;
    do fd = ::open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno_error(errno, "cannot open a /proc or /sys file");
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t n = ::read(fd, buf + len, size - 1 - len);
        if (n > 0) { len += static_cast<size_t>(n); continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return errno_error(err, "cannot read a /proc or /sys file");
        }
        break;
    }
    ::close(fd);
    buf[len] = '\0';
    return len;
}

// Hands out a file's lines one by one through a fixed buffer, so files of any
// length (/proc/net/dev on a router with many VLANs) need no heap. A line
// longer than the buffer is cut at the buffer size.
class LineReader {
public:
    explicit LineReader(const char* path) {
        do fd_ = ::open(path, O_RDONLY | O_CLOEXEC);
        while (fd_ < 0 && errno == EINTR);
        open_errno_ = fd_ < 0 ? errno : 0;
    }
    ~LineReader() { if (fd_ >= 0) ::close(fd_); }
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;

    int open_errno() const { return open_errno_; }

    // The next line without its '\n'; false at end of file.
    bool next(std::string_view* line) {
        for (;;) {
            const char* nl = static_cast<const char*>(std::memchr(buf_ + start_, '\n', end_ - start_));
            if (nl) {
                *line = std::string_view(buf_ + start_, static_cast<size_t>(nl - (buf_ + start_)));
                start_ = static_cast<size_t>(nl - buf_) + 1;
                return true;
            }
            if (start_ > 0) {  // slide the partial line to the front
                std::memmove(buf_, buf_ + start_, end_ - start_);
                end_ -= start_;
                start_ = 0;
            }
            if (end_ == sizeof buf_ || eof_) {  // full buffer or a last line without '\n'
                if (end_ == 0) return false;
                *line = std::string_view(buf_, end_);
                start_ = end_ = 0;
                return true;
            }
            ssize_t n = fd_ < 0 ? 0 : ::read(fd_, buf_ + end_, sizeof buf_ - end_);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) eof_ = true;
            else end_ += static_cast<size_t>(n);
        }
    }

private:
    int fd_ = -1;
    int open_errno_ = 0;
    bool eof_ = false;
    size_t start_ = 0, end_ = 0;
    char buf_[512];
};

void skip_spaces(std::string_view* s) {
    while (!s->empty() && (s->front() == ' ' || s->front() == '\t')) s->remove_prefix(1);
}

// Parses an unsigned decimal at the front of `s`, advancing past it; false if none.
bool take_u64(std::string_view* s, uint64_t* out) {
    skip_spaces(s);
    if (s->empty() || s->front() < '0' || s->front() > '9') return false;
    uint64_t v = 0;
    while (!s->empty() && s->front() >= '0' && s->front() <= '9') {
        v = v * 10 + static_cast<uint64_t>(s->front() - '0');
        s->remove_prefix(1);
    }
    *out = v;
    return true;
}

// Parses "123.45" without strtod, which depends on the process locale.
bool take_decimal(std::string_view* s, double* out) {
    uint64_t whole = 0;
    if (!take_u64(s, &whole)) return false;
    double value = static_cast<double>(whole);
    if (!s->empty() && s->front() == '.') {
        s->remove_prefix(1);
        double scale = 0.1;
        while (!s->empty() && s->front() >= '0' && s->front() <= '9') {
            value += scale * (s->front() - '0');
            scale /= 10;
            s->remove_prefix(1);
        }
    }
    *out = value;
    return true;
}

// Copies `s` into a fixed char array, cut to fit and NUL-terminated.
template <size_t N>
void copy_name(char (&dst)[N], std::string_view s) {
    size_t n = s.size() < N - 1 ? s.size() : N - 1;
    std::memcpy(dst, s.data(), n);
    dst[n] = '\0';
}

// Calls fn(name) for every entry of a directory, via getdents64 (no heap).
template <typename Fn>
Result<void> for_each_dir_entry(const char* path, Fn&& fn) {
    int fd;
    do fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno_error(errno, "cannot open directory");
    alignas(8) char buf[1024];
    for (;;) {
        long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return errno_error(err, "getdents64() failed");
        }
        if (n == 0) break;
        for (long pos = 0; pos < n;) {
            // struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[]
            unsigned short reclen;
            std::memcpy(&reclen, buf + pos + 16, sizeof reclen);
            const char* name = buf + pos + 19;
            if (std::strcmp(name, ".") != 0 && std::strcmp(name, "..") != 0) fn(std::string_view(name));
            pos += reclen;
        }
    }
    ::close(fd);
    return ok();
}

}  // namespace

Result<double> uptime_s() {
    char buf[128];
    auto len = read_small_file("/proc/uptime", buf, sizeof buf);
    if (!len) return len.error();
    std::string_view s(buf, *len);
    double up = 0;
    if (!take_decimal(&s, &up)) return Error(Errc::protocol, "cannot parse /proc/uptime");
    return up;
}

Result<LoadAvg> load_average() {
    char buf[128];
    auto len = read_small_file("/proc/loadavg", buf, sizeof buf);
    if (!len) return len.error();
    std::string_view s(buf, *len);
    LoadAvg avg;
    if (!take_decimal(&s, &avg.one) || !take_decimal(&s, &avg.five) || !take_decimal(&s, &avg.fifteen))
        return Error(Errc::protocol, "cannot parse /proc/loadavg");
    return avg;
}

Result<Memory> memory() {
    LineReader reader("/proc/meminfo");
    if (reader.open_errno()) return errno_error(reader.open_errno(), "cannot open /proc/meminfo");
    uint64_t total = 0, available = 0, free_kb = 0, buffers = 0, cached = 0;
    bool have_available = false;
    std::string_view line;
    while (reader.next(&line)) {
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view key = line.substr(0, colon);
        std::string_view rest = line.substr(colon + 1);
        uint64_t kb = 0;
        if (!take_u64(&rest, &kb)) continue;
        if (key == "MemTotal") total = kb;
        else if (key == "MemAvailable") { available = kb; have_available = true; }
        else if (key == "MemFree") free_kb = kb;
        else if (key == "Buffers") buffers = kb;
        else if (key == "Cached") cached = kb;
    }
    if (total == 0) return Error(Errc::protocol, "no MemTotal in /proc/meminfo");
    // MemAvailable appeared in Linux 3.14; older kernels get the classic estimate.
    if (!have_available) available = free_kb + buffers + cached;
    Memory m;
    m.total_bytes = total * 1024;
    m.available_bytes = available * 1024;
    return m;
}

Result<size_t> hostname(std::span<char> out) {
    if (out.empty()) return Error(Errc::too_large, "no room for the host name");
    if (::gethostname(out.data(), out.size()) < 0) {
        if (errno == ENAMETOOLONG) return Error(Errc::too_large, "host name longer than the buffer", errno);
        return errno_error(errno, "gethostname() failed");
    }
    // POSIX leaves truncation unterminated; a full buffer counts as too small.
    const void* nul = std::memchr(out.data(), '\0', out.size());
    if (!nul) return Error(Errc::too_large, "host name longer than the buffer");
    return static_cast<size_t>(static_cast<const char*>(nul) - out.data());
}

Result<size_t> temperatures(std::span<Temperature> out, const char* thermal_dir) {
    // Zones are reported in number order, not directory order, so that the
    // same zone keeps its place in a status page across requests.
    constexpr size_t kMaxZones = 64;
    uint32_t zones[kMaxZones];
    size_t zone_count = 0;
    constexpr std::string_view kPrefix = "thermal_zone";
    auto listed = for_each_dir_entry(thermal_dir, [&](std::string_view name) {
        if (name.substr(0, kPrefix.size()) != kPrefix || zone_count == kMaxZones) return;
        std::string_view digits = name.substr(kPrefix.size());
        uint64_t index = 0;
        if (!take_u64(&digits, &index) || !digits.empty() || index > UINT32_MAX) return;
        size_t i = zone_count++;
        while (i > 0 && zones[i - 1] > index) { zones[i] = zones[i - 1]; --i; }  // insertion sort
        zones[i] = static_cast<uint32_t>(index);
    });
    if (!listed) return listed.error();

    size_t count = 0;
    for (size_t z = 0; z < zone_count && count < out.size(); ++z) {
        char path[256];
        char text[64];
        std::snprintf(path, sizeof path, "%s/thermal_zone%u/temp", thermal_dir, static_cast<unsigned>(zones[z]));
        auto len = read_small_file(path, text, sizeof text);
        if (!len) continue;  // a zone whose sensor is off reads as an error: skip it
        std::string_view s(text, *len);
        bool negative = !s.empty() && s.front() == '-';
        if (negative) s.remove_prefix(1);
        uint64_t milli = 0;
        if (!take_u64(&s, &milli) || milli > INT32_MAX) continue;
        Temperature& t = out[count];
        t.millicelsius = negative ? -static_cast<int32_t>(milli) : static_cast<int32_t>(milli);
        std::snprintf(path, sizeof path, "%s/thermal_zone%u/type", thermal_dir, static_cast<unsigned>(zones[z]));
        auto type_len = read_small_file(path, text, sizeof text);
        std::string_view type = type_len ? std::string_view(text, *type_len) : std::string_view("unknown");
        while (!type.empty() && (type.back() == '\n' || type.back() == ' ')) type.remove_suffix(1);
        copy_name(t.name, type);
        ++count;
    }
    return count;
}

Result<size_t> interfaces(std::span<Interface> out) {
    LineReader reader("/proc/net/dev");
    if (reader.open_errno()) return errno_error(reader.open_errno(), "cannot open /proc/net/dev");
    size_t count = 0;
    std::string_view line;
    // Two header lines, then "  eth0: rx_bytes rx_packets errs drop fifo frame
    // compressed multicast tx_bytes tx_packets ...".
    while (count < out.size() && reader.next(&line)) {
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;  // a header line
        std::string_view name = line.substr(0, colon);
        skip_spaces(&name);
        std::string_view rest = line.substr(colon + 1);
        uint64_t field[10];
        bool good = true;
        for (uint64_t& f : field) good = good && take_u64(&rest, &f);
        if (!good || name.empty()) continue;
        Interface& itf = out[count++];
        itf = Interface{};
        copy_name(itf.name, name);
        itf.rx_bytes = field[0];
        itf.rx_packets = field[1];
        itf.tx_bytes = field[8];
        itf.tx_packets = field[9];
    }
    return count;
}

Result<uint64_t> process_rss() {
    char buf[128];
    auto len = read_small_file("/proc/self/statm", buf, sizeof buf);
    if (!len) return len.error();
    std::string_view s(buf, *len);
    uint64_t size_pages = 0, resident_pages = 0;
    if (!take_u64(&s, &size_pages) || !take_u64(&s, &resident_pages))
        return Error(Errc::protocol, "cannot parse /proc/self/statm");
    long page = ::sysconf(_SC_PAGESIZE);
    return resident_pages * static_cast<uint64_t>(page > 0 ? page : 4096);
}

Result<size_t> process_open_fds() {
    size_t count = 0;
    auto listed = for_each_dir_entry("/proc/self/fd", [&](std::string_view) { ++count; });
    if (!listed) return listed.error();
    // The directory fd used for the listing was open too; it is not the caller's.
    return count > 0 ? count - 1 : 0;
}

}  // namespace gust::port
