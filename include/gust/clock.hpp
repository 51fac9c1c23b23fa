// gust's monotonic clock: std::chrono-compatible, read through the port layer
// so tests can swap in the fake clock (port::fake_clock_enable).
#pragma once

#include <chrono>
#include <cstdint>

namespace gust {

namespace port { int64_t monotonic_ns(); }

struct Clock {
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<Clock, duration>;
    static constexpr bool is_steady = true;
    // Now, on the monotonic (or fake) clock.
    static time_point now() noexcept { return time_point(duration(port::monotonic_ns())); }
};

using Duration = Clock::duration;
using TimePoint = Clock::time_point;

using namespace std::chrono_literals;

}  // namespace gust
