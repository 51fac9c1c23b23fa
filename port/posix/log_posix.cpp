// The log sink: one line, one write(2), so lines from several threads never
// interleave; or syslog(3) on devices that collect logs that way.
#include <port.hpp>

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace gust::port {

namespace {

std::atomic<bool> use_syslog{false};

// Longer lines are cut and marked; a log line must not need the heap.
constexpr size_t kMaxLine = 1024;

const char* level_name(LogLevel level) {
    switch (level) {
    case LogLevel::debug: return "DEBUG";
    case LogLevel::info: return "INFO";
    case LogLevel::warn: return "WARN";
    case LogLevel::error: return "ERROR";
    case LogLevel::off: break;
    }
    return "";
}

int syslog_priority(LogLevel level) {
    switch (level) {
    case LogLevel::debug: return LOG_DEBUG;
    case LogLevel::info: return LOG_INFO;
    case LogLevel::warn: return LOG_WARNING;
    default: return LOG_ERR;
    }
}

}  // namespace

void log_write(LogLevel level, std::string_view line) {
    if (level == LogLevel::off) return;
    if (use_syslog.load(std::memory_order_acquire)) {
        int len = line.size() > kMaxLine ? static_cast<int>(kMaxLine) : static_cast<int>(line.size());
        ::syslog(syslog_priority(level), "%.*s", len, line.data());
        return;
    }
    static constexpr char kCut[] = "...";
    char buf[kMaxLine + 16];
    const char* name = level_name(level);
    size_t n = std::strlen(name);
    std::memcpy(buf, name, n);
    buf[n++] = ' ';
    size_t room = sizeof buf - n - 1;  // keep one byte for '\n'
    if (line.size() <= room) {
        std::memcpy(buf + n, line.data(), line.size());
        n += line.size();
    } else {
        size_t keep = room - (sizeof kCut - 1);
        std::memcpy(buf + n, line.data(), keep);
        n += keep;
        std::memcpy(buf + n, kCut, sizeof kCut - 1);
        n += sizeof kCut - 1;
    }
    buf[n++] = '\n';
    int saved_errno = errno;  // logging must not disturb the caller's errno
    ssize_t w;
    do w = ::write(STDERR_FILENO, buf, n);
    while (w < 0 && errno == EINTR);
    errno = saved_errno;
}

void log_use_syslog(bool on, const char* ident) {
    if (on) {
        // openlog keeps the pointer: `ident` must be a literal or otherwise live forever.
        ::openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
        use_syslog.store(true, std::memory_order_release);
    } else {
        use_syslog.store(false, std::memory_order_release);
        ::closelog();
    }
}

}  // namespace gust::port
