#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <gust/loop.hpp>

#include "test_support.hpp"

using namespace gust;
using namespace std::chrono_literals;

namespace {

// Resident bytes of this process (/proc/self/statm, second field), or -1.
long resident_bytes() {
    std::string s = gust_test::read_file("/proc/self/statm");
    long size = 0, resident = 0;
    if (std::sscanf(s.c_str(), "%ld %ld", &size, &resident) != 2) return -1;
    return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace

TEST_CASE("loop: timer and watch slots cost resident memory only once used") {
    Limits l = gust_test::test_limits(PollerKind::epoll);
    l.max_timers = 1u << 18;   // 28 MiB of timer slots
    l.max_watches = 1u << 16;  // 10 MiB of watch slots
    long before = resident_bytes();
    REQUIRE(before > 0);
    Loop loop(l);
    REQUIRE(loop.status());
    // Built all at once, the slots alone would be 38 MiB.
    CHECK(resident_bytes() - before < (16L << 20));
}

TEST_CASE("loop: slots built on first use still run out, and freed ones come back") {
    Limits l = gust_test::test_limits(PollerKind::poll);
    l.max_timers = 3;
    l.max_watches = 2;  // the loop's wake fd holds one
    Loop loop(l);
    REQUIRE(loop.status());

    TimerId ids[3];
    for (auto& id : ids) {
        auto r = loop.call_later(1h, [] {});
        REQUIRE(r);
        id = *r;
    }
    auto full = loop.call_later(1h, [] {});
    REQUIRE(!full);
    CHECK(full.error().code == Errc::no_memory);
    CHECK(loop.cancel(ids[1]));
    CHECK(!loop.cancel(ids[1]));
    auto again = loop.call_later(1h, [] {});
    REQUIRE(again);
    CHECK(again->slot == ids[1].slot);
    CHECK(!loop.cancel(TimerId{7, 1}));  // never built: refused, not read

    int fds[2];
    REQUIRE(pipe(fds) == 0);
    auto w = loop.add_watch(fds[0]);
    REQUIRE(w);
    auto none = loop.add_watch(fds[1]);
    REQUIRE(!none);
    CHECK(none.error().code == Errc::no_memory);
    loop.remove_watch(*w);
    auto w2 = loop.add_watch(fds[1]);
    REQUIRE(w2);
    CHECK(w2->slot == w->slot);
    loop.remove_watch(*w2);
    for (auto& id : ids) loop.cancel(id);
    loop.cancel(*again);
    close(fds[0]);
    close(fds[1]);
}
