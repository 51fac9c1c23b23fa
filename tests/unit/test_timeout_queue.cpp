#include <doctest/doctest.h>

#include <vector>

#include <gust/timeout_queue.hpp>

#include "test_support.hpp"

using namespace gust;
using gust_test::FakeClock;
using gust_test::test_limits;

namespace {

struct Item : TimeoutEntry {
    int id = 0;
    TimePoint expired_at{};
};

struct Log {
    explicit Log(Loop& l) : loop(&l) {}
    Loop* loop;
    std::vector<int> expired;
    void (*also)(Item&, Log&) = nullptr;  // extra work inside the expiry (removing or adding others)
    TimeoutQueue* queue = nullptr;
    Item* other = nullptr;
};

void record(TimeoutEntry& e, void* context) {
    Item& item = static_cast<Item&>(e);
    Log& log = *static_cast<Log*>(context);
    item.expired_at = log.loop->now();
    log.expired.push_back(item.id);
    if (log.also) log.also(item, log);
}

}  // namespace

TEST_CASE("timeout queue: entries expire in the order they were added, each its duration after add()") {
    FakeClock clock;
    Loop loop(test_limits());
    REQUIRE(loop.status());
    Log log(loop);
    TimeoutQueue q(loop, std::chrono::milliseconds(100), record, &log);
    Item items[3];
    const TimePoint start = loop.now();
    for (int i = 0; i < 3; ++i) {
        items[i].id = i;
        REQUIRE(q.add(items[i]));
        clock.advance(std::chrono::milliseconds(10));
        loop.run_once(Duration(0));
    }
    CHECK(items[0].queued());
    CHECK(loop.run_until([&] { return log.expired.size() == 3; }, std::chrono::seconds(1)));
    CHECK(log.expired == std::vector<int>{0, 1, 2});
    for (int i = 0; i < 3; ++i) CHECK(items[i].expired_at - start == std::chrono::milliseconds(100 + 10 * i));
    CHECK_FALSE(items[0].queued());
    CHECK(q.empty());
}

TEST_CASE("timeout queue: add() again restarts a timeout, remove() stops it") {
    FakeClock clock;
    Loop loop(test_limits());
    REQUIRE(loop.status());
    Log log(loop);
    TimeoutQueue q(loop, std::chrono::milliseconds(100), record, &log);
    Item a, b, c;
    a.id = 1;
    b.id = 2;
    c.id = 3;
    const TimePoint start = loop.now();
    REQUIRE(q.add(a));
    REQUIRE(q.add(b));
    REQUIRE(q.add(c));
    TimeoutQueue::remove(b);
    TimeoutQueue::remove(b);  // twice is harmless
    clock.advance(std::chrono::milliseconds(60));
    loop.run_once(Duration(0));
    REQUIRE(q.add(a));  // now due at 160 ms, after c
    CHECK(loop.run_until([&] { return log.expired.size() == 2; }, std::chrono::seconds(1)));
    CHECK(log.expired == std::vector<int>{3, 1});
    CHECK(c.expired_at - start == std::chrono::milliseconds(100));
    CHECK(a.expired_at - start == std::chrono::milliseconds(160));
    CHECK_FALSE(b.queued());
}

TEST_CASE("timeout queue: a thousand entries cost one loop timer") {
    FakeClock clock;
    Loop loop(test_limits());
    REQUIRE(loop.status());
    Log log(loop);
    TimeoutQueue q(loop, std::chrono::seconds(5), record, &log);
    CHECK(loop.timers_pending() == 0);  // nothing armed until an entry joins
    std::vector<Item> items(1000);
    for (size_t i = 0; i < items.size(); ++i) {
        items[i].id = int(i);
        REQUIRE(q.add(items[i]));
    }
    CHECK(loop.timers_pending() == 1);
    // Restarting every entry (a keep-alive request each) arms nothing more.
    for (auto& item : items) REQUIRE(q.add(item));
    CHECK(loop.timers_pending() == 1);
    CHECK(loop.run_until([&] { return log.expired.size() == items.size(); }, std::chrono::seconds(10)));
    CHECK(loop.timers_pending() == 0);
}

TEST_CASE("timeout queue: an expiry may remove or add other entries") {
    FakeClock clock;
    Loop loop(test_limits());
    REQUIRE(loop.status());
    Log log(loop);
    TimeoutQueue q(loop, std::chrono::milliseconds(50), record, &log);
    Item first, second, third;
    first.id = 1;
    second.id = 2;
    third.id = 3;
    log.queue = &q;
    log.other = &second;
    // The first expiry takes the second (due at the same moment) out and re-adds itself once.
    log.also = [](Item& item, Log& l) {
        if (item.id != 1) return;
        TimeoutQueue::remove(*l.other);
        l.also = nullptr;
        REQUIRE(l.queue->add(item));
    };
    REQUIRE(q.add(first));
    REQUIRE(q.add(second));
    clock.advance(std::chrono::milliseconds(10));
    loop.run_once(Duration(0));
    REQUIRE(q.add(third));
    CHECK(loop.run_until([&] { return log.expired.size() == 3; }, std::chrono::seconds(1)));
    CHECK(log.expired == std::vector<int>{1, 3, 1});
    CHECK_FALSE(second.queued());
}

TEST_CASE("timeout queue: destroyed with entries waiting, it unlinks them and cancels its timer") {
    FakeClock clock;
    Loop loop(test_limits());
    REQUIRE(loop.status());
    Log log(loop);
    Item a;
    {
        TimeoutQueue q(loop, std::chrono::milliseconds(10), record, &log);
        REQUIRE(q.add(a));
        CHECK(loop.timers_pending() == 1);
    }
    CHECK_FALSE(a.queued());
    CHECK(loop.timers_pending() == 0);
    loop.run_until([] { return false; }, std::chrono::milliseconds(50));
    CHECK(log.expired.empty());
}
