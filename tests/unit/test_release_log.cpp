// Release builds (RELEASE=1, the device boards' default) compile log lines
// below GUST_LOG_COMPILE_LEVEL out of the program: not filtered at run time,
// absent, format strings included, so they cost no flash.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include <gust/log.hpp>

#include "test_support.hpp"

using namespace gust;

namespace {

// Everything the log functions write to stderr while `fn` runs.
template <typename Fn>
std::string captured_stderr(Fn fn) {
    int p[2];
    REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    int saved = ::dup(STDERR_FILENO);
    REQUIRE(saved >= 0);
    ::dup2(p[1], STDERR_FILENO);
    fn();
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    std::string out;
    char buf[1024];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    ::close(p[0]);
    ::close(p[1]);
    return out;
}

// The probe's text for a level, built at run time so the test's own needle
// is not a copy of the string it looks for in the binary.
std::string probe(const char* level) {
    volatile char dash = '-';
    std::string s = "gust.release.probe.";
    for (char& c : s)
        if (c == '.') c = dash;
    return s + level;
}

}  // namespace

TEST_CASE("log: levels below GUST_LOG_COMPILE_LEVEL are compiled out, the rest still print") {
    LogLevel before = log_level();
    set_log_level(LogLevel::debug);
    std::string out = captured_stderr([] {
        log_debug("gust-release-probe-debug");
        log_warn("gust-release-probe-warn");
    });
    set_log_level(before);
    CHECK(out.find(probe("warn")) != std::string::npos);
    bool debug_printed = out.find(probe("debug")) != std::string::npos;
    CHECK(debug_printed == (GUST_LOG_COMPILE_LEVEL == 0));

    // The format string itself: in the binary only when the line is compiled in.
    std::string exe = gust_test::read_file("/proc/self/exe");
    REQUIRE(exe.size() > 100000);
    CHECK(exe.find(probe("warn")) != std::string::npos);
    CHECK((exe.find(probe("debug")) != std::string::npos) == (GUST_LOG_COMPILE_LEVEL == 0));
    MESSAGE("GUST_LOG_COMPILE_LEVEL ", GUST_LOG_COMPILE_LEVEL, ": debug lines ",
            std::string(GUST_LOG_COMPILE_LEVEL == 0 ? "compiled in" : "compiled out"));
}
