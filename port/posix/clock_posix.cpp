// Monotonic and wall clocks, plus the fake clock that tests and the loop's
// deterministic mode use instead of the monotonic one.
#include <port.hpp>

#include <atomic>
#include <ctime>

namespace gust::port {

namespace {

// The fake clock is process-global. The enabled flag is read on every
// monotonic_ns() call, so it is a lock-free atomic<bool>; the 64-bit value sits
// behind a tiny spinlock instead of atomic<int64_t>, which is not lock-free on
// 32-bit MIPS and would need libatomic there.
std::atomic<bool> fake_enabled{false};
std::atomic_flag fake_lock = ATOMIC_FLAG_INIT;
int64_t fake_now_ns = 0;

struct FakeGuard {
    FakeGuard() { while (fake_lock.test_and_set(std::memory_order_acquire)) {} }
    ~FakeGuard() { fake_lock.clear(std::memory_order_release); }
};

int64_t to_ns(const timespec& ts) {
    // Widen before multiplying: time_t and long are 32 bits on armhf.
    return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + static_cast<int64_t>(ts.tv_nsec);
}

}  // namespace

int64_t monotonic_ns() {
    if (fake_enabled.load(std::memory_order_acquire)) {
        FakeGuard guard;
        return fake_now_ns;
    }
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return to_ns(ts);
}

int64_t wall_clock_s() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec);
}

int64_t wall_clock_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return to_ns(ts);
}

void fake_clock_enable(int64_t start_ns) {
    {
        FakeGuard guard;
        fake_now_ns = start_ns;
    }
    fake_enabled.store(true, std::memory_order_release);
}

void fake_clock_disable() { fake_enabled.store(false, std::memory_order_release); }

bool fake_clock_enabled() { return fake_enabled.load(std::memory_order_acquire); }

void fake_clock_advance(int64_t ns) {
    if (ns <= 0 || !fake_clock_enabled()) return;
    FakeGuard guard;
    fake_now_ns += ns;
}

}  // namespace gust::port
