#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "alloc_counter.hpp"
#include "test_support.hpp"

using namespace gust;
using gust_test::FakeClock;
using gust_test::test_limits;

namespace {

Task<int> add(int a, int b) { co_return a + b; }

Task<int> sleepy_value(int v, Duration d) {
    auto r = co_await sleep(d);
    if (!r) co_return r.error();
    co_return v;
}

Task<Result<int>> failing() { co_return Error(Errc::io, "disk on fire"); }

Task<int> deep(int n) {
    if (n == 0) co_return 0;
    auto r = co_await deep(n - 1);
    co_return *r + 1;
}

// Runs `t` on `loop` to completion and returns its result.
template <typename T>
result_of_t<T> run(Loop& loop, Task<T> t, Duration limit = 10s) {
    detail::Slot<result_of_t<T>> out;
    auto r = spawn(loop, std::move(t), [&](result_of_t<T> v) { out.emplace(std::move(v)); });
    if (!r) return r.error();
    loop.run_until([&] { return out.full(); }, limit);
    if (!out.full()) return Error(Errc::timeout, "test: task did not finish");
    return out.take();
}

}  // namespace

TEST_CASE("task: values, errors and nesting") {
    Loop loop(test_limits());
    auto r = run(loop, add(2, 3));
    REQUIRE(r);
    CHECK(*r == 5);
    auto f = run(loop, failing());
    CHECK(f.error().code == Errc::io);
    auto outer = []() -> Task<int> {
        auto a = co_await add(1, 1);
        auto b = co_await failing();
        co_return *a + (b ? 100 : 10);
    };
    CHECK(*run(loop, outer()) == 12);
}

TEST_CASE("task: symmetric transfer keeps deep synchronous chains off the stack") {
#if defined(__SANITIZE_ADDRESS__)
    // ASan's instrumentation stops GCC from turning the transfer into a tail call.
    constexpr int kDepth = 1000;
#else
    constexpr int kDepth = 100000;
#endif
    Limits l = test_limits();
    l.frame_counts[0] = 0;
    l.frame_counts[1] = kDepth + 10;  // one frame per level
    Loop loop(l);
    auto r = run(loop, deep(kDepth));
    REQUIRE(r);
    CHECK(*r == kDepth);
}

TEST_CASE("task: sleep waits on the loop clock and blocks nothing") {
    FakeClock clock;
    Loop loop(test_limits());
    TimePoint start = loop.now();
    std::vector<int> order;
    auto a = [&]() -> Task<> { co_await sleep(30ms); order.push_back(30); };
    auto b = [&]() -> Task<> { co_await sleep(10ms); order.push_back(10); };
    REQUIRE(spawn(loop, a()));
    REQUIRE(spawn(loop, b()));
    loop.run_until([&] { return order.size() == 2; }, 1s);
    CHECK(order == std::vector<int>{10, 30});
    CHECK(loop.now() - start == 30ms);
}

TEST_CASE("task: when_all runs children concurrently and keeps their order") {
    FakeClock clock;
    Loop loop(test_limits());
    TimePoint start = loop.now();
    auto parent = []() -> Task<int> {
        auto [a, b, c] = co_await when_all(sleepy_value(1, 30ms), sleepy_value(2, 10ms), failing());
        CHECK(a);
        CHECK(b);
        CHECK(c.error().code == Errc::io);
        co_return *a * 10 + *b;
    };
    auto r = run(loop, parent());
    REQUIRE(r);
    CHECK(*r == 12);
    CHECK(loop.now() - start == 30ms);  // concurrent: the longest, not the sum
    CHECK(loop.timers_pending() == 0);
}

TEST_CASE("task: when_any yields the first and cancels the rest") {
    FakeClock clock;
    Loop loop(test_limits());
    bool slow_finished = false;
    auto slow = [&]() -> Task<int> {
        co_await sleep(1s);
        slow_finished = true;
        co_return 1;
    };
    auto parent = [&]() -> Task<size_t> {
        auto r = co_await when_any(slow(), sleepy_value(2, 10ms));
        if (r.index() == 1) CHECK(*std::get<1>(r) == 2);
        co_return r.index();
    };
    auto r = run(loop, parent());
    REQUIRE(r);
    CHECK(*r == 1);
    CHECK(loop.timers_pending() == 0);  // the slow child's timer went with it
    loop.run_once(0ms);
    CHECK_FALSE(slow_finished);
}

TEST_CASE("task: with_timeout gives timeout and never resumes the abandoned work") {
    FakeClock clock;
    Loop loop(test_limits());
    int resumed = 0;
    auto slow = [&]() -> Task<int> {
        co_await sleep(1s);
        ++resumed;
        co_return 1;
    };
    auto late = run(loop, [&]() -> Task<Result<int>> { co_return co_await with_timeout(50ms, slow()); }());
    CHECK(late.error().code == Errc::timeout);
    auto fast = run(loop, [&]() -> Task<Result<int>> { co_return co_await with_timeout(50ms, sleepy_value(7, 5ms)); }());
    REQUIRE(fast);
    CHECK(*fast == 7);
    loop.run_until([] { return false; }, 2s);  // let any stray timer fire
    CHECK(resumed == 0);
    CHECK(loop.timers_pending() == 0);
}

TEST_CASE("future: await, then(), errors and broken promises") {
    Loop loop(test_limits());
    SUBCASE("set after await") {
        Future<int> f;
        Promise<int> p = f.promise();
        (void)loop.call_later(1ms, [&] { p.set(41); });
        auto r = run(loop, [&]() -> Task<Result<int>> { co_return co_await f; }());
        REQUIRE(r);
        CHECK(*r == 41);
    }
    SUBCASE("set before await") {
        Future<int> f;
        f.promise().set(3);
        CHECK(f.ready());
        auto r = run(loop, [&]() -> Task<Result<int>> { co_return co_await f; }());
        CHECK(*r == 3);
    }
    SUBCASE("then() runs on a later turn, not inside set()") {
        Future<int> f;
        Promise<int> p = f.promise();
        int seen = 0;
        f.then([&](Result<int> r) { seen = *r; });
        p.set(9);
        CHECK(seen == 0);
        loop.run_once(0ms);
        CHECK(seen == 9);
    }
    SUBCASE("a promise dropped without a value breaks the future") {
        Future<void> f;
        { Promise<void> p = f.promise(); }
        auto r = run(loop, [&]() -> Task<Result<void>> { co_return co_await f; }());
        CHECK(r.error().code == Errc::broken_promise);
    }
    SUBCASE("fail() and moving both sides") {
        Future<int> f;
        Promise<int> p = f.promise();
        Future<int> g = std::move(f);
        Promise<int> q = std::move(p);
        q.fail(Error(Errc::refused, "no"));
        CHECK(g.ready());
        auto r = run(loop, [&]() -> Task<Result<int>> { co_return co_await g; }());
        CHECK(r.error().code == Errc::refused);
    }
    SUBCASE("setting a promise whose future is gone does nothing") {
        Promise<int> p;
        {
            Future<int> f;
            p = f.promise();
        }
        CHECK_FALSE(p.pending());
        p.set(1);
    }
}

TEST_CASE("task: then() delivers the result to a callback") {
    Loop loop(test_limits());
    int got = 0;
    REQUIRE(add(20, 22).then([&](Result<int> r) { got = *r; }));
    loop.run_until([&] { return got != 0; }, 1s);
    CHECK(got == 42);
}

TEST_CASE("frame pool: exhaustion refuses the next task with no_memory; earlier tasks complete") {
    FakeClock clock;
    Limits l = test_limits();
    for (auto& c : l.frame_counts) c = 0;
    l.frame_counts[kFrameClasses - 1] = 8;  // 8 frames of the largest class, nothing else
    Loop loop(l);
    int finished = 0;
    auto worker = [&]() -> Task<> {
        co_await sleep(10ms);
        ++finished;
    };
    // Each spawned task takes two frames: its own and the detached root.
    int started = 0;
    for (int i = 0; i < 4; ++i) started += bool(spawn(loop, worker()));
    CHECK(started == 4);
    CHECK(FramePool::local().in_use() == 8);
    auto refused = spawn(loop, worker());
    CHECK(refused.error().code == Errc::no_memory);
    Task<> orphan = worker();
    CHECK_FALSE(orphan);
    auto r = run(loop, add(1, 2));  // no frame for the runner either
    CHECK(r.error().code == Errc::no_memory);
    loop.run_until([&] { return finished == 4; }, 1s);
    CHECK(finished == 4);
    CHECK(FramePool::local().in_use() == 0);
    CHECK(FramePool::local().stats(kFrameClasses - 1).high_water == 8);
    CHECK(spawn(loop, worker()));  // and the pool recovers
    loop.run_until([&] { return finished == 5; }, 1s);
}

TEST_CASE("loop: destroying the loop destroys detached tasks still suspended") {
    int destroyed = 0;
    {
        FakeClock clock;
        Loop loop(test_limits());
        struct Guard {
            int* n;
            ~Guard() { ++*n; }
        };
        auto forever = [](int* n) -> Task<> {
            Guard g{n};
            co_await sleep(1h);
        };
        REQUIRE(spawn(loop, forever(&destroyed)));
        REQUIRE(spawn(loop, forever(&destroyed)));
        loop.run_once(0ms);
        CHECK(loop.timers_pending() == 2);
    }
    CHECK(destroyed == 2);
    CHECK(FramePool::local().in_use() == 0);
}

TEST_CASE("executor: run_blocking runs on a worker and resumes on the loop thread") {
    Loop loop(test_limits());
    Executor exec(loop, 2, 8);
    REQUIRE(exec.status());
    std::thread::id loop_thread = std::this_thread::get_id();
    auto job = [&]() -> Task<int> {
        std::thread::id worker_thread;
        auto r = co_await run_blocking([&] {
            worker_thread = std::this_thread::get_id();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            return 6 * 7;
        });
        CHECK(worker_thread != loop_thread);
        CHECK(std::this_thread::get_id() == loop_thread);
        co_return *r;
    };
    auto r = run(loop, job());
    REQUIRE(r);
    CHECK(*r == 42);
    auto v = run(loop, []() -> Task<Result<void>> { co_return co_await run_blocking([] {}); }());
    CHECK(v);
}

TEST_CASE("executor: a full job table is an error; an abandoned job is never resumed") {
    Loop loop(test_limits());
    Executor exec(loop, 1, 1);
    std::atomic<bool> release{false};
    int resumed = 0;
    auto blocker = [&]() -> Task<Result<int>> {
        auto r = co_await run_blocking([&] {
            while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            return 1;
        });
        ++resumed;
        co_return r;
    };
    auto parent = [&]() -> Task<Result<int>> {
        auto second = [&]() -> Task<Result<int>> { co_return co_await run_blocking([] { return 2; }); };
        auto [a, b] = co_await when_all(with_timeout(20ms, blocker()), second());
        CHECK(a.error().code == Errc::timeout);
        CHECK(b.error().code == Errc::no_memory);  // the only slot is busy
        co_return 0;
    };
    auto r = run(loop, parent());
    CHECK(r);
    release = true;
    // The worker finishes and hands the job back; nobody is resumed.
    loop.run_until([] { return false; }, 100ms);
    CHECK(resumed == 0);
    auto again = run(loop, []() -> Task<Result<int>> { co_return co_await run_blocking([] { return 3; }); }());
    CHECK(*again == 3);  // the slot came back
}

TEST_CASE("memory: 10 000 spawn/await/complete cycles with sleep, when_all and futures allocate nothing") {
    FakeClock clock;
    Loop loop(test_limits());
    int completed = 0;
    auto cycle = [&](int i) -> Task<> {
        Future<int> f;
        Promise<int> p = f.promise();
        (void)loop.call_later(1ms, [&p, i] { p.set(i); });
        auto [a, b, c] = co_await when_all(sleepy_value(i, 2ms), add(i, 1), f);
        if (a && b && c && *a == i && *b == i + 1 && *c == i) ++completed;
    };
    auto batch = [&](int from, int to) {
        for (int i = from; i < to; ++i) (void)spawn(loop, cycle(i));
        loop.run_until([&] { return completed == to; }, 100s);
    };
    batch(0, 100);  // warm-up
    gust_test::AllocationScope scope;
    for (int i = 100; i < 10100; i += 100) batch(i, i + 100);
    uint64_t allocations = scope.count();
    CHECK(completed == 10100);
    CHECK(allocations == 0);
}
