#include <gust/log.hpp>

#include <atomic>
#include <cstdio>
#include <cstring>

#include "port.hpp"

namespace gust {

namespace {
std::atomic<LogLevel> g_level{LogLevel::info};
}

void set_log_level(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }

LogLevel log_level() { return g_level.load(std::memory_order_relaxed); }

bool parse_log_level(const char* text, LogLevel* out) {
    static const char* const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; ++i) {
        if (std::strcmp(text, names[i]) == 0) {
            *out = LogLevel(i);
            return true;
        }
    }
    return false;
}

namespace detail {

void log_emit(LogLevel level, const char* fmt, va_list args) {
    char line[512];
    int n = std::vsnprintf(line, sizeof line, fmt, args);
    if (n < 0) return;
    size_t len = size_t(n) < sizeof line ? size_t(n) : sizeof line - 1;
    port::log_write(port::LogLevel(level), std::string_view(line, len));
}

}  // namespace detail
}  // namespace gust
