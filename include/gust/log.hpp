// Logging: printf-style lines to the port's log sink (stderr or syslog).
// Formatting happens in a fixed stack buffer (long lines are cut), never on
// the heap. Levels below GUST_LOG_COMPILE_LEVEL are compiled out; the rest
// are filtered at run time by set_log_level().
#pragma once

#include <cstdarg>

#include <gust/config.hpp>

namespace gust {

enum class LogLevel : unsigned char { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

// Drops messages below `level` from now on (default: info).
void set_log_level(LogLevel level);
// The current run-time level.
LogLevel log_level();
// Parses "debug", "info", "warn", "error" or "off"; returns false for anything else.
bool parse_log_level(const char* text, LogLevel* out);

namespace detail {
// A plain int parameter keeps -Wtype-limits quiet when the level is 0.
constexpr bool log_compiled_in(int level) { return level >= GUST_LOG_COMPILE_LEVEL; }
void log_emit(LogLevel level, const char* fmt, va_list args);
inline bool log_enabled(LogLevel level) { return level >= log_level(); }
}  // namespace detail

#define GUST_LOG_FN(name, lvl)                                                     \
    __attribute__((format(printf, 1, 2))) inline void name(const char* fmt, ...) { \
        if constexpr (detail::log_compiled_in(int(lvl))) {                         \
            if (!detail::log_enabled(lvl)) return;                                 \
            va_list args;                                                          \
            va_start(args, fmt);                                                   \
            detail::log_emit(lvl, fmt, args);                                      \
            va_end(args);                                                          \
        } else {                                                                   \
            (void)fmt;                                                             \
        }                                                                          \
    }
// Writes one line at that level: log_info("listening on %s", addr).
GUST_LOG_FN(log_debug, LogLevel::debug)
GUST_LOG_FN(log_info, LogLevel::info)
GUST_LOG_FN(log_warn, LogLevel::warn)
GUST_LOG_FN(log_error, LogLevel::error)
#undef GUST_LOG_FN

}  // namespace gust
