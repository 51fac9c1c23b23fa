#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "test_support.hpp"

using namespace gust;
using gust_test::FakeClock;
using gust_test::kPollers;
using gust_test::test_limits;

TEST_CASE("loop: call_later runs timers in deadline order, ties in scheduling order") {
    for (PollerKind k : kPollers) {
        CAPTURE(gust_test::poller_name(k));
        FakeClock clock;
        Loop loop(test_limits(k));
        REQUIRE(loop.status());
        std::vector<int> order;
        order.reserve(8);
        (void)loop.call_later(30ms, [&] { order.push_back(3); });
        (void)loop.call_later(10ms, [&] { order.push_back(1); });
        (void)loop.call_later(20ms, [&] { order.push_back(2); });
        (void)loop.call_later(20ms, [&] { order.push_back(22); });
        TimePoint start = loop.now();
        CHECK(loop.run_until([&] { return order.size() == 4; }, 1s));
        CHECK(order == std::vector<int>{1, 2, 22, 3});
        CHECK(loop.now() - start == 30ms);  // the fake clock jumped, nothing slept
        CHECK(loop.timers_pending() == 0);
    }
}

TEST_CASE("loop: 10 000 timers, half cancelled, the other half fire exactly once in deadline order") {
    FakeClock clock;
    Loop loop(test_limits());
    REQUIRE(loop.status());
    constexpr int kTimers = 10000;
    std::vector<TimerId> ids(kTimers);
    std::vector<int> fired;
    fired.reserve(kTimers);
    // Deadlines in a scrambled order so the heap does real work.
    for (int i = 0; i < kTimers; ++i) {
        int ms = (i * 7919) % kTimers;
        auto id = loop.call_later(std::chrono::milliseconds(ms) + 1ms, [&fired, ms] { fired.push_back(ms); });
        REQUIRE(id);
        ids[i] = *id;
    }
    int cancelled = 0;
    for (int i = 0; i < kTimers; i += 2) cancelled += loop.cancel(ids[i]);
    CHECK(cancelled == kTimers / 2);
    CHECK_FALSE(loop.cancel(ids[0]));  // twice is a no-op
    CHECK(loop.run_until([&] { return loop.timers_pending() == 0; }, 20s));
    REQUIRE(fired.size() == size_t(kTimers / 2));
    std::vector<int> expected;
    for (int i = 1; i < kTimers; i += 2) expected.push_back((i * 7919) % kTimers);
    std::sort(expected.begin(), expected.end());
    CHECK(fired == expected);
}

TEST_CASE("loop: every() repeats until cancelled, even from its own callback") {
    FakeClock clock;
    Loop loop(test_limits());
    int runs = 0;
    TimerId id;
    id = *loop.every(100ms, [&] {
        if (++runs == 5) loop.cancel(id);
    });
    TimePoint start = loop.now();
    loop.run_until([&] { return loop.timers_pending() == 0; }, 10s);
    CHECK(runs == 5);
    CHECK(loop.now() - start == 500ms);
    CHECK_FALSE(loop.every(0ms, [] {}));
}

TEST_CASE("loop: running out of timers or watches is an error value") {
    Limits l = test_limits();
    l.max_timers = 3;
    l.max_watches = 3;  // one is the loop's own wake fd
    Loop loop(l);
    REQUIRE(loop.status());
    for (int i = 0; i < 3; ++i) CHECK(loop.call_later(1s, [] {}));
    auto full = loop.call_later(1s, [] {});
    CHECK(full.error().code == Errc::no_memory);
    int fds[2][2];
    REQUIRE(port::socket_pair(fds[0]));
    REQUIRE(port::socket_pair(fds[1]));
    auto a = loop.add_watch(fds[0][0]);
    auto b = loop.add_watch(fds[0][1]);
    CHECK(a);
    CHECK(b);
    auto c = loop.add_watch(fds[1][0]);
    CHECK(c.error().code == Errc::no_memory);
    loop.remove_watch(*a);
    CHECK(loop.add_watch(fds[1][0]));  // the slot is reusable
    for (auto& p : fds) {
        port::close(p[0]);
        port::close(p[1]);
    }
}

TEST_CASE("loop: fd watches report readability and writability on every poller") {
    for (PollerKind k : kPollers) {
        CAPTURE(gust_test::poller_name(k));
        Loop loop(test_limits(k));
        REQUIRE(loop.status());
        int fds[2];
        REQUIRE(port::socket_pair(fds));
        auto w = loop.add_watch(fds[0]);
        REQUIRE(w);
        int readable = 0, writable = 0;
        char got[16] = {};
        REQUIRE(loop.on_writable(*w, [&] {
            ++writable;
            (void)loop.on_writable(*w, nullptr);  // one report is enough
        }));
        REQUIRE(loop.on_readable(*w, [&] {
            ++readable;
            auto n = port::read(fds[0], std::span<uint8_t>(reinterpret_cast<uint8_t*>(got), sizeof got));
            CHECK(n);
        }));
        loop.run_once(100ms);
        CHECK(writable == 1);
        CHECK(readable == 0);
        const char msg[] = "ping";
        REQUIRE(port::write(fds[1], std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(msg), 4)));
        CHECK(loop.run_until([&] { return readable == 1; }, 2s));
        CHECK(std::strcmp(got, "ping") == 0);
        // After the data is drained nothing fires any more.
        loop.run_once(20ms);
        CHECK(readable == 1);
        CHECK(writable == 1);
        loop.remove_watch(*w);
        port::close(fds[0]);
        port::close(fds[1]);
    }
}

TEST_CASE("loop: a callback removing another ready watch stops its pending event") {
    for (PollerKind k : kPollers) {
        CAPTURE(gust_test::poller_name(k));
        Loop loop(test_limits(k));
        int a[2], b[2];
        REQUIRE(port::socket_pair(a));
        REQUIRE(port::socket_pair(b));
        WatchId wa = *loop.add_watch(a[0]);
        WatchId wb = *loop.add_watch(b[0]);
        int calls = 0;
        // Whichever runs first removes the other; the other must not run.
        REQUIRE(loop.on_writable(wa, [&] { ++calls; loop.remove_watch(wb); loop.remove_watch(wa); }));
        REQUIRE(loop.on_writable(wb, [&] { ++calls; loop.remove_watch(wa); loop.remove_watch(wb); }));
        loop.run_once(100ms);
        CHECK(calls == 1);
        for (int fd : {a[0], a[1], b[0], b[1]}) port::close(fd);
    }
}

TEST_CASE("loop: wait_readable resumes a coroutine and is cancelled by destroying it") {
    Loop loop(test_limits());
    int fds[2];
    REQUIRE(port::socket_pair(fds));
    WatchId w = *loop.add_watch(fds[0]);
    int stage = 0;
    auto reader = [&]() -> Task<> {
        stage = 1;
        auto r = co_await wait_readable(w);
        CHECK(r);
        uint8_t got;
        CHECK(port::read(fds[0], std::span<uint8_t>(&got, 1)));
        stage = 2;
    };
    Task<> t = reader();
    REQUIRE(spawn(loop, std::move(t)));
    loop.run_once(10ms);
    CHECK(stage == 1);
    uint8_t byte = 'x';
    REQUIRE(port::write(fds[1], std::span<const uint8_t>(&byte, 1)));
    CHECK(loop.run_until([&] { return stage == 2; }, 2s));

    // A waiter destroyed before the fd is ready leaves no callback behind.
    {
        bool timed_out = false;
        auto waiter = [&]() -> Task<> { (void)co_await wait_readable(w); stage = 99; };
        auto outer = [&](Task<> inner) -> Task<> {
            auto r = co_await with_timeout(10ms, std::move(inner));
            timed_out = r.error().code == Errc::timeout;
        };
        REQUIRE(spawn(loop, outer(waiter())));
        CHECK(loop.run_until([&] { return timed_out; }, 2s));
    }
    CHECK(stage == 2);  // timed out without data
    REQUIRE(port::write(fds[1], std::span<const uint8_t>(&byte, 1)));
    loop.run_once(20ms);  // readable now, but the waiter is gone: nobody may be resumed
    CHECK(stage == 2);
    loop.remove_watch(w);
    port::close(fds[0]);
    port::close(fds[1]);
}

TEST_CASE("loop: 100 000 callbacks posted from 4 threads run once each, in order per thread") {
    for (PollerKind k : kPollers) {
        CAPTURE(gust_test::poller_name(k));
        Limits l = test_limits(k);
        l.post_queue = 256;  // small, so posters must wait for room
        Loop loop(l);
        REQUIRE(loop.status());
        constexpr int kThreads = 4, kEach = 25000;
        std::vector<int> next(kThreads, 0);
        std::atomic<int> errors{0};
        int ran = 0;
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < kEach; ++i) {
                    auto r = loop.post([&, t, i] {
                        if (next[t] != i) ++errors;
                        next[t] = i + 1;
                        ++ran;
                    });
                    if (!r) ++errors;
                }
            });
        }
        bool done = loop.run_until([&] { return ran == kThreads * kEach; }, 60s);
        for (auto& th : threads) th.join();
        CHECK(done);
        CHECK(ran == kThreads * kEach);
        CHECK(errors.load() == 0);
    }
}

TEST_CASE("loop: post() on the loop thread with a full queue is an error, not a wait") {
    Limits l = test_limits();
    l.post_queue = 2;
    Loop loop(l);
    int ran = 0;
    CHECK(loop.post([&] { ++ran; }));
    CHECK(loop.post([&] { ++ran; }));
    CHECK(loop.post([&] { ++ran; }).error().code == Errc::no_memory);
    loop.run_once(0ms);
    CHECK(ran == 2);
}

TEST_CASE("loop: stop() from another thread ends run()") {
    Loop loop(test_limits());
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        loop.stop();
    });
    CHECK(loop.run() == 0);
    stopper.join();
}

TEST_CASE("loop: SIGTERM calls the stop-signal handler, which may drain before stopping") {
    Loop loop(test_limits());
    int handled = 0;
    loop.on_stop_signal([&] {
        ++handled;
        (void)loop.call_later(5ms, [&] { loop.stop(); });  // a graceful drain
    });
    (void)loop.call_soon([] { std::raise(SIGTERM); });
    CHECK(loop.run() == 0);
    CHECK(handled == 1);
    // Default handlers are back once run() returns.
    struct sigaction sa;
    sigaction(SIGTERM, nullptr, &sa);
    CHECK(bool(sa.sa_handler == SIG_DFL));
}

TEST_CASE("loop: reports the poller it was built with") {
    for (PollerKind k : kPollers) {
        Loop loop(test_limits(k));
        CHECK(loop.status());
        CHECK(std::strcmp(loop.poller_name(), gust_test::poller_name(k)) == 0);
    }
}
